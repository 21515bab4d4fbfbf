"""Pure-Python crypto backend of session_core.onion: the reference and test oracle.

X25519 and XChaCha20-Poly1305 go through PyNaCl (libsodium), AES-256-GCM through
``cryptography`` (OpenSSL), which runs on every CPU, unlike libsodium's AES-GCM that needs
AES-NI + PCLMUL.  Key derivation uses the standard library (docs/interop.md §3.1):
aes-gcm ``HMAC-SHA256(key=b"LOKI", msg=aB)``, xchacha20 ``BLAKE2b-256(aB ‖ A ‖ B)``.

Deliberately written the obvious way (one allocation per layer), so it is an independent
check of the in-place C layout.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any, Sequence

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from session_core.onion.types import ENC_AES_GCM, NONCE_BYTES, TAG_BYTES
from session_core.errors import OnionArgumentError, OnionDecryptError


def info() -> dict[str, Any]:
    import cryptography
    import nacl

    return {
        "implementation": "python",
        "x25519_xchacha20": f"PyNaCl {nacl.__version__}",
        "aes_gcm": f"cryptography {cryptography.__version__}",
    }


def public_key(secret: bytes) -> bytes:
    return bytes(sodium.crypto_scalarmult_base(secret))


def keypairs(n: int) -> tuple[bytes, bytes]:
    sks, pks = [], []
    for _ in range(n):
        pk, sk = sodium.crypto_box_keypair()
        sks.append(sk)
        pks.append(pk)
    return b"".join(sks), b"".join(pks)


def derive_key(enc: int, shared: bytes, client_pub: bytes, server_pub: bytes) -> bytes:
    if enc == ENC_AES_GCM:
        return hmac.new(b"LOKI", shared, hashlib.sha256).digest()
    return hashlib.blake2b(shared + client_pub + server_pub, digest_size=32).digest()


def _ecdh(secret: bytes, public: bytes) -> bytes:
    try:
        return bytes(sodium.crypto_scalarmult(secret, public))
    except nacl.exceptions.CryptoError:  # low-order point: all-zero shared secret
        raise OnionDecryptError() from None


def encrypt(key: bytes, enc: int, data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES[enc])
    if enc == ENC_AES_GCM:
        return nonce + AESGCM(key).encrypt(nonce, data, None)
    return nonce + bytes(sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(data, None, nonce, key))


def decrypt(key: bytes, enc: int, data: bytes) -> bytes:
    nb = NONCE_BYTES[enc]
    if len(data) < nb + TAG_BYTES:
        raise OnionDecryptError()
    nonce, ct = data[:nb], data[nb:]
    try:
        if enc == ENC_AES_GCM:
            return AESGCM(key).decrypt(nonce, ct, None)
        return bytes(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, None, nonce, key))
    except (InvalidTag, nacl.exceptions.CryptoError):
        raise OnionDecryptError() from None


def seal(
    payload: bytes,
    framed: bool,
    final_json: bytes,
    recipients: bytes,
    eph_secrets: bytes,
    eph_publics: bytes,
    jsons: Sequence[bytes],
    enc: int,
) -> tuple[bytes, bytes]:
    """Encrypt layer 0 (destination) … L-1 (guard); return the guard frame and layer 0's key."""
    layers = len(recipients) // 32
    plaintext = len(payload).to_bytes(4, "little") + payload + final_json if framed else payload
    key0 = b""
    blob = b""
    for k in range(layers):
        sk, pk = eph_secrets[32 * k : 32 * k + 32], eph_publics[32 * k : 32 * k + 32]
        peer = recipients[32 * k : 32 * k + 32]
        key = derive_key(enc, _ecdh(sk, peer), pk, peer)
        if k == 0:
            key0 = key
        blob = encrypt(key, enc, plaintext)
        plaintext = len(blob).to_bytes(4, "little") + blob + jsons[k]
    return plaintext, key0


def open_blob(
    buf: bytes, offset: int, length: int, secret: bytes, public: bytes, eph_public: bytes, enc: int
) -> tuple[bytes, bytes]:
    """Decrypt ``buf[offset:offset+length]`` sent to (secret, public) by ``eph_public``."""
    if offset < 0 or length < 0 or offset > len(buf) or length > len(buf) - offset:
        raise OnionArgumentError("blob outside the buffer")  # as the C backend: no silent short slice
    key = derive_key(enc, _ecdh(secret, eph_public), eph_public, public)
    return decrypt(key, enc, buf[offset : offset + length]), key
