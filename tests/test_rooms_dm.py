"""Blinded DMs (libsession-util's encrypt_for_blinded_recipient format): round trips with the
keys of libsession's own test (tests/test_session_encrypt.cpp, 'Session blinding protocol
encryption': seeds, server key and the sender's Session ID), and every tampering refused."""

from __future__ import annotations

import os

import pytest

from session_core.blinding import blind15_key_pair
from session_core.errors import InvalidInputError, RoomInputError
from session_core.rooms.dm import decrypt_from_blinded, encrypt_for_blinded

# From libsession-util tests/test_session_encrypt.cpp (commit 01f1c670636fc1caf7b8b2612e34f68c815acdea).
SEED_A = bytes.fromhex("0123456789abcdef0123456789abcdef00000000000000000000000000000000")
SEED_B = bytes.fromhex("00112233445566778899aabbccddeeff00000000000000000000000000000000")
SERVER = bytes.fromhex("1d7e7f92b1ed3643855c98ecac02fc7274033a3467653f047d6e433540c03f17")
SID_A = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"

A = blind15_key_pair(SEED_A, SERVER).blinded_id
B = blind15_key_pair(SEED_B, SERVER).blinded_id


@pytest.mark.parametrize("text", [b"hello", b"Lorem ipsum dolor sit amet, " * 20, b""])
def test_recipient_reads_and_learns_the_session_id(text: bytes) -> None:
    enc = encrypt_for_blinded(SEED_A, SERVER, B, text)
    assert enc[0] == 0 and len(enc) == 1 + len(text) + 32 + 16 + 24
    assert text not in enc or not text
    assert decrypt_from_blinded(SEED_B, SERVER, A, enc) == (text, SID_A)


def test_tampering_and_wrong_parties_are_refused() -> None:
    enc = encrypt_for_blinded(SEED_A, SERVER, B, b"hello")
    for i in (0, 1, 22, len(enc) - 1):  # version, ciphertext, tag, nonce
        broken = bytearray(enc)
        broken[i] ^= 0x80 if i else 0x01
        with pytest.raises(RoomInputError):
            decrypt_from_blinded(SEED_B, SERVER, A, bytes(broken))
    other = os.urandom(32)
    with pytest.raises(RoomInputError):  # not for them
        decrypt_from_blinded(other, SERVER, A, enc)
    with pytest.raises(RoomInputError):  # claimed to come from someone else
        decrypt_from_blinded(SEED_B, SERVER, blind15_key_pair(other, SERVER).blinded_id, enc)
    with pytest.raises(RoomInputError):
        decrypt_from_blinded(SEED_B, os.urandom(32), A, enc)  # another server's keys
    with pytest.raises(InvalidInputError):
        decrypt_from_blinded(SEED_B, SERVER, A, enc[:40])


def test_an_impostor_cannot_write_in_someones_name() -> None:
    # M encrypts for B but claims (to the server) to be A: B derives a key with A's blinded key,
    # which is not the one M used, and even a matching key would carry M's own inner key.
    mallory = os.urandom(32)
    enc = encrypt_for_blinded(mallory, SERVER, B, b"it's me, A")
    with pytest.raises(RoomInputError):
        decrypt_from_blinded(SEED_B, SERVER, A, enc)
