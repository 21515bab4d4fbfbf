"""Hostile input to the onion layer (issue 11): bounds that must not overflow, hop fields that
must not raise outside the error hierarchy, nested and garbage JSON inside a decrypted layer.
Each case found by hand or by the fuzz harness (fuzz/), on both backends."""

from __future__ import annotations

import json
import struct

import nacl.bindings
import pytest

from session_core import onion
from session_core.errors import (
    OnionArgumentError,
    OnionDecryptError,
    OnionFrameError,
    OnionHopError,
    OnionJsonError,
    OnionPathTooLongError,
)
from session_core.onion import _onion_py
from session_core.onion import api as onion_api
from session_core.onion.types import ENC_AES_GCM, ENC_XCHACHA20
from c_required import require_c

SECRET = bytes(range(32))
PUBLIC = nacl.bindings.crypto_scalarmult_base(SECRET)


def layer(plaintext: bytes, enc: int = ENC_XCHACHA20) -> bytes:
    """A frame whose blob is *plaintext* encrypted for SECRET: what a client would send."""
    eph_pk, eph_sk = nacl.bindings.crypto_box_keypair()
    shared = nacl.bindings.crypto_scalarmult(eph_sk, PUBLIC)
    key = _onion_py.derive_key(enc, shared, eph_pk, PUBLIC)
    blob = _onion_py.encrypt(key, enc, plaintext)
    outer = {"ephemeral_key": eph_pk.hex(), "enc_type": "xchacha20" if enc else "aes-gcm"}
    return struct.pack("<I", len(blob)) + blob + json.dumps(outer).encode()


def crypto_modules() -> list[object]:
    mods: list[object] = [_onion_py]
    if onion_api._c is not None:
        mods.append(onion_api._c)
    return mods


# ---- item 13: open_blob's bounds check must not overflow --------------------------------------


@pytest.mark.parametrize(
    "offset,length",
    [(2**63 - 10, 20), (2**63 - 1, 1), (10, 2**63 - 5), (2**62, 2**62), (-1, 10), (0, -1), (0, 101), (101, 0)],
)
def test_open_blob_refuses_a_blob_outside_the_buffer_without_overflow(offset: int, length: int) -> None:
    require_c(onion_api._c, "onion")
    buf = b"\x00" * 100
    for crypto in crypto_modules():
        with pytest.raises(OnionArgumentError):
            crypto.open_blob(buf, offset, length, SECRET, PUBLIC, PUBLIC, ENC_AES_GCM)  # type: ignore[attr-defined]


def test_open_blob_at_the_very_end_of_the_buffer_is_in_bounds() -> None:
    for crypto in crypto_modules():
        with pytest.raises(OnionDecryptError):  # in bounds, just not a valid ciphertext
            crypto.open_blob(b"\x00" * 100, 60, 40, SECRET, PUBLIC, PUBLIC, ENC_XCHACHA20)  # type: ignore[attr-defined]


# ---- item 6: the hop field of a node-to-node onion request ------------------------------------


@pytest.mark.parametrize("raw,hop", [(b"0", 0), (b"7", 7), (b"15", 15), (b"015", 15), (b"0" * 5000, 0),
                                     (b"0" * 5000 + b"3", 3)])
def test_parse_hop_accepts_decimal(raw: bytes, hop: int) -> None:
    assert onion.parse_hop(raw) == hop


@pytest.mark.parametrize("raw", [b"16", b"99", b"100", b"9" * 5000, b"1" + b"0" * 4999])
def test_parse_hop_too_far(raw: bytes) -> None:
    with pytest.raises(OnionPathTooLongError):
        onion.parse_hop(raw)


@pytest.mark.parametrize("raw", [b"", b"-1", b"+1", b" 1", b"1 ", b"1x", b"\xd9\xa3", "1", None, b"1_0"])
def test_parse_hop_refuses_what_is_not_digits(raw: object) -> None:
    with pytest.raises(OnionHopError) as info:
        onion.parse_hop(raw)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError) and info.value.status == 400


# ---- item 9: nested and garbage JSON give the clear error, never RecursionError ----------------


@pytest.mark.parametrize(
    "inner",
    [
        b"[" * 100_000,
        b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000,
        b"{\"x\":" + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"\xff\xfe\x00garbage",
        b"{\"destination\":" + b"9" * 5000 + b"}",  # a number beyond int()'s digit limit
        b"{\"headers\":\"\"" + b" " * 10 + b"",  # truncated
    ],
)
@pytest.mark.parametrize("enc", [ENC_AES_GCM, ENC_XCHACHA20])
def test_hostile_json_inside_a_decrypted_layer(backend: str, inner: bytes, enc: int) -> None:
    body = layer(struct.pack("<I", 0) + inner, enc)
    with pytest.raises(OnionJsonError) as info:
        onion.peel(body, SECRET)
    assert info.value.reply is not None  # answered encrypted, as upstream
    [res] = onion.peel_many([body], SECRET, threads=1)
    assert isinstance(res, OnionJsonError)
    with pytest.raises(OnionJsonError):
        onion.peel(layer(struct.pack("<I", 0) + inner, enc), SECRET)


@pytest.mark.parametrize("outer", [b"[" * 100_000, b"{\"ephemeral_key\":" + b"1" * 5000 + b"}",
                                   b"{\"a\":" * 50_000])
def test_hostile_outer_json(backend: str, outer: bytes) -> None:
    body = struct.pack("<I", 0) + outer
    for call in (lambda: onion.peel(body, SECRET), lambda: onion.open_request(body, SECRET)):
        with pytest.raises(OnionFrameError):
            call()
    [res] = onion.peel_many([body], SECRET, threads=1)
    assert isinstance(res, OnionFrameError)
