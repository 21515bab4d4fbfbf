"""The Session protocol (production 1:1 encryption) against libsession-util's vector, and the
store.data wrapper against the storage server's 2019 test data."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from nacl.bindings import crypto_box_seal_open

from session_core.errors import DecryptionError, MalformedMessageError
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.sealed import read_envelope
from session_core.protocol.session_protocol import (
    _seal_with_seed,
    decrypt_incoming,
    encrypt_for_recipient,
    encrypt_for_recipient_deterministic,
    sender_session_id,
    sign_for_recipient,
)
from session_core.protocol.store_data import STORE_PATH, unwrap_store_data, wrap_envelope

DATA = Path(__file__).parent / "data"
VECTOR = json.loads((DATA / "session_protocol_vectors.json").read_text())["deterministic"]
POW = json.loads((DATA / "pow_vectors.json").read_text())


@pytest.fixture
def pair() -> tuple[Identity, Identity]:
    sender = Identity.from_seed(bytes.fromhex(VECTOR["sender_seed16"]))
    recipient = Identity.from_seed(bytes.fromhex(VECTOR["recipient_seed16"]))
    assert sender.ed25519_public_key.hex() == VECTOR["sender_ed25519"]
    assert recipient.ed25519_public_key.hex() == VECTOR["recipient_ed25519"]
    assert recipient.session_id == VECTOR["recipient_session_id"]
    return sender, recipient


def test_upstream_vector_decrypts_to_text_and_sender(pair: tuple[Identity, Identity]) -> None:
    sender, recipient = pair
    message, sender_ed = decrypt_incoming(recipient, bytes.fromhex(VECTOR["ciphertext"]))
    assert message == VECTOR["plaintext"].encode()
    assert sender_ed == sender.ed25519_public_key
    assert sender_session_id(sender_ed) == VECTOR["sender_session_id"] == sender.session_id


def test_upstream_vector_reencrypts_byte_exact(pair: tuple[Identity, Identity]) -> None:
    sender, recipient = pair
    again = encrypt_for_recipient_deterministic(
        sender, recipient.x25519_public_key, VECTOR["plaintext"].encode()
    )
    assert again.hex() == VECTOR["ciphertext"]


def test_seal_with_seed_is_a_libsodium_sealed_box(pair: tuple[Identity, Identity]) -> None:
    _, recipient = pair
    for seed in (bytes(32), bytes(range(32)), b"\xff" * 32):
        boxed = _seal_with_seed(b"payload", recipient.x25519_public_key, seed)
        assert crypto_box_seal_open(
            boxed, recipient.x25519_public_key, recipient.x25519_private_key
        ) == b"payload"


def test_random_encryption_round_trips_and_differs(pair: tuple[Identity, Identity]) -> None:
    sender, recipient = pair
    one = encrypt_for_recipient(sender, recipient.x25519_public_key, b"hello")
    two = encrypt_for_recipient(sender, recipient.x25519_public_key, b"hello")
    assert one != two and len(one) == len(two) == 5 + 96 + 48
    assert decrypt_incoming(recipient, one) == (b"hello", sender.ed25519_public_key)
    with pytest.raises(DecryptionError, match="not for this identity"):
        decrypt_incoming(sender, one)


@pytest.mark.parametrize("index", [0, 40, 100, -1])
def test_tampered_ciphertext_is_rejected(pair: tuple[Identity, Identity], index: int) -> None:
    _, recipient = pair
    broken = bytearray.fromhex(VECTOR["ciphertext"])
    broken[index] ^= 0x02
    with pytest.raises(DecryptionError):
        decrypt_incoming(recipient, bytes(broken))


def test_signature_binds_the_recipient(pair: tuple[Identity, Identity]) -> None:
    # The recipient re-seals the signed inner message to a third party: the signature was over
    # the original recipient's key, so the third party rejects it.
    sender, recipient = pair
    third = Identity.generate()
    signed = sign_for_recipient(sender, recipient.x25519_public_key, b"for you only")
    from nacl.bindings import crypto_box_seal

    forwarded = bytes(crypto_box_seal(signed, third.x25519_public_key))
    with pytest.raises(DecryptionError, match="signature"):
        decrypt_incoming(third, forwarded)


@pytest.mark.parametrize("size", [0, 10, 48 + 95])
def test_truncated_ciphertext_is_rejected(pair: tuple[Identity, Identity], size: int) -> None:
    with pytest.raises(DecryptionError, match="too short"):
        decrypt_incoming(pair[1], bytes.fromhex(VECTOR["ciphertext"])[:size])


def test_bad_recipient_key_is_rejected(pair: tuple[Identity, Identity]) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_for_recipient(pair[0], b"\x05" + bytes(32), b"x")


# ---- store.data ---------------------------------------------------------------------------------

def test_storage_server_data_unwraps_to_its_envelope() -> None:
    data = base64.b64decode(POW["valid"]["data"])
    outer = pb.WebSocketMessage()
    outer.ParseFromString(data)
    assert outer.type == pb.WebSocketMessage.REQUEST and outer.request.path == STORE_PATH
    envelope = pb.Envelope()
    envelope.ParseFromString(unwrap_store_data(data))
    assert envelope.type == pb.Envelope.FRIEND_REQUEST and envelope.timestamp == 1554859211264
    assert envelope.source.startswith("054368") and len(envelope.content) == 336
    # A 2020 fallback-encrypted friend request: recognised, and refused with a clear reason.
    with pytest.raises(MalformedMessageError, match="type 101"):
        read_envelope(data)


def test_wrap_is_what_real_clients_store() -> None:
    envelope = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=5, content=b"c")
    wrapped = wrap_envelope(envelope.SerializeToString())
    outer = pb.WebSocketMessage()
    outer.ParseFromString(wrapped)
    assert outer.type == pb.WebSocketMessage.REQUEST
    assert (outer.request.verb, outer.request.path, outer.request.id) == ("PUT", STORE_PATH, 0)
    assert outer.request.body == envelope.SerializeToString()


@pytest.mark.parametrize("source", ["", "05" + "ab" * 32])
def test_bare_and_wrapped_envelopes_both_read(source: str) -> None:
    envelope = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=7, content=b"box", source=source)
    bare = envelope.SerializeToString()
    assert unwrap_store_data(bare) == bare
    assert read_envelope(bare) == read_envelope(wrap_envelope(bare)) == envelope


@pytest.mark.parametrize("junk", [b"", b"\xff\xff", b"\x0a\x05hello"])
def test_junk_store_data_is_a_clear_error(junk: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        read_envelope(junk)
