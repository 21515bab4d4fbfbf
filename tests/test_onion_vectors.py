"""Upstream vectors (docs/interop.md §3.1; tests/data/onion_vectors.json names their origin),
checked through the public API on both backends and on every libsodium we can bind."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_onion import Keyed, make_nodes, walk

from session_core import onion
from session_core.onion import api as onion_api
from session_core.onion import _onion_py
from session_core.errors import OnionDecryptError
from c_required import require_c

V = json.loads((Path(__file__).parent / "data" / "onion_vectors.json").read_text())
h = bytes.fromhex
ENC = {"aes_gcm": "aes-gcm", "xchacha20": "xchacha20"}


def as_frame(blob: bytes, eph: str, enc_type: str) -> bytes:
    tail = json.dumps({"ephemeral_key": eph, "enc_type": enc_type}).encode()
    return struct.pack("<I", len(blob)) + blob + tail


@pytest.mark.parametrize("name", ["aes_gcm", "xchacha20"])
def test_libsession_ciphertexts_decrypt(backend: str, name: str) -> None:
    e = V["encryption"]
    body = as_frame(h(e[name]["ciphertext"]), e["client_pub"], ENC[name])
    final = onion.open_request(body, h(e["server_sec"]))
    assert final.payload == e["plaintext"].encode()
    assert final.reply.key.hex() == e[name]["key"]


@pytest.mark.parametrize("name", ["aes_gcm", "xchacha20"])
def test_libsession_tampered_ciphertexts_fail(backend: str, name: str) -> None:
    e = V["encryption"]
    for bad in e[name]["tampered"]:
        with pytest.raises(OnionDecryptError):
            onion.open_request(as_frame(h(bad), e["client_pub"], ENC[name]), h(e["server_sec"]))


def test_libsession_parser_blob(backend: str) -> None:
    p = V["parser"]
    raw = h(p["aes_gcm_request"])
    assert struct.unpack("<I", raw[:4])[0] == p["blob_length"]
    final = onion.open_request(raw, h(p["server_sec"]))
    assert final.payload == p["payload"].encode()
    assert final.meta["ephemeral_key"] == p["client_pub"]
    assert final.reply.key.hex() == p["key"]
    reply = final.reply.encrypt(p["reply_plaintext"].encode())
    assert len(reply) == p["reply_size"]
    # the client side opens it with the key it derives from its own secret
    shared = _onion_py._ecdh(h(p["client_sec"]), h(p["server_pub"]))
    client_key = _onion_py.derive_key(0, shared, h(p["client_pub"]), h(p["server_pub"]))
    assert _onion_py.decrypt(client_key, 0, reply) == p["reply_plaintext"].encode()


@pytest.mark.parametrize("enc", [0, 1])
def test_storage_server_channel_keys(backend: str, enc: int) -> None:
    """SS-HEAD encrypt.cpp keys: a blob sealed with the upstream-derived key opens with Bob's
    secret; one sealed with the wrong-role key H(aB‖B‖A) does not; sizes are +28 / +40."""
    c = V["channel_encryption"]
    key = c["gcm_key"] if enc == 0 else c["xchacha_key_client_to_server"]
    blob = _onion_py.encrypt(h(key), enc, c["plaintext"].encode())
    assert len(blob) - len(c["plaintext"]) == (c["gcm_overhead"] if enc == 0 else c["xchacha_overhead"])
    enc_type = ["aes-gcm", "xchacha20"][enc]
    final = onion.open_request(as_frame(blob, c["alice_pub"], enc_type), h(c["bob_sec"]))
    assert final.payload == c["plaintext"].encode()
    if enc == 1:
        wrong = _onion_py.encrypt(h(c["xchacha_key_wrong_role"]), 1, c["plaintext"].encode())
        with pytest.raises(OnionDecryptError):
            onion.open_request(as_frame(wrong, c["alice_pub"], enc_type), h(c["bob_sec"]))


def sodiums() -> list[Any]:
    if onion_api._c is None:
        return []
    found = []
    for which in ("pynacl", "system"):
        try:
            found.append(pytest.param(onion_api._c.load(which), id=which))
        except ImportError:
            pass
    return found


@pytest.mark.parametrize("lib", sodiums())
@pytest.mark.parametrize("enc_type", ["aes-gcm", "xchacha20"])
def test_every_bindable_libsodium(lib: Any, enc_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyNaCl's bundled libsodium and a system one (if present) both interoperate."""
    monkeypatch.setattr(onion_api, "_active", onion_api._Backend(lib))  # type: ignore[arg-type]
    nodes = make_nodes(4)
    body, ctx = onion.build(b"vector", [k.node for k in nodes[:3]], nodes[3].node, enc_type=enc_type)
    final, _ = walk(body, nodes)
    assert final.payload == b"vector"
    assert ctx.decrypt_reply(final.reply.encrypt(b"r")) == b"r"
    e = V["encryption"]
    name = "aes_gcm" if enc_type == "aes-gcm" else "xchacha20"
    got = onion.open_request(as_frame(h(e[name]["ciphertext"]), e["client_pub"], enc_type), h(e["server_sec"]))
    assert got.payload == b"Hello world"


def test_pynacl_libsodium_preferred() -> None:
    require_c(onion_api._c, "onion")
    assert onion_api._c.default.origin in ("pynacl", "system", "path")
    if onion_api._c.pynacl_path() is not None and not __import__("os").environ.get("SESSION_CORE_SODIUM"):
        assert onion.backend_info()["libsodium"].startswith("pynacl ")


def test_aes_gcm_falls_back_without_cpu_support(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where libsodium has no AES-GCM (no AES-NI/PCLMUL), aes-gcm goes through `cryptography`
    and xchacha20 stays in C; backend_info says so."""
    require_c(onion_api._c, "onion")
    c = onion_api._c
    fake = SimpleNamespace(**{n: getattr(c, n) for n in ("keypairs", "seal", "open_blob", "encrypt", "decrypt", "public_key")})
    fake.aes_gcm_available = lambda: False
    fake.info = c.info
    b = onion_api._Backend(fake)  # type: ignore[arg-type]
    assert b.aes_gcm is _onion_py and b.xchacha is fake
    monkeypatch.setattr(onion_api, "_active", b)
    assert "cryptography" in onion.backend_info()["aes_gcm"]
    nodes = make_nodes(3)
    for enc_type in ("aes-gcm", "xchacha20"):
        body, ctx = onion.build(b"fallback", [k.node for k in nodes[:2]], nodes[2].node, enc_type=enc_type)
        final, _ = walk(body, nodes)
        assert final.payload == b"fallback"
        assert final.reply.crypto is (_onion_py if enc_type == "aes-gcm" else fake)


def test_c_paths_without_aes_gcm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real C module on a CPU without libsodium AES-GCM: peel, peel_many and build hand
    aes-gcm to `cryptography` and keep xchacha20 in C, with the same results."""
    require_c(onion_api._c, "onion")
    from test_onion import mixed_batch, same_outcome

    lib = onion_api._c.default.without_aes_gcm()
    assert not lib.aes_gcm_available()
    b = onion_api._Backend(lib)  # type: ignore[arg-type]
    assert b.aes_gcm is _onion_py and b.xchacha is lib and b.peel_one is not None
    monkeypatch.setattr(onion_api, "_active", b)
    nodes = make_nodes(2)
    batch = mixed_batch(nodes)
    for threads in (1, 2):
        for body, got in zip(batch, onion.peel_many(batch, nodes[0].secret, threads=threads)):
            same_outcome(got, body, nodes[0].secret, 0)
    for enc_type in ("aes-gcm", "xchacha20"):
        body, ctx = onion.build(b"no-ni", [nodes[0].node], nodes[1].node, enc_type=enc_type)
        final, _ = walk(body, nodes)
        assert final.payload == b"no-ni"
        assert final.reply.crypto is (_onion_py if enc_type == "aes-gcm" else lib)
        assert ctx.decrypt_reply(final.reply.encrypt(b"r")) == b"r"
