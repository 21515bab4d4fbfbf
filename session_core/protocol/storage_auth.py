"""Owner-signed storage requests: the byte strings signed and how a node checks them.

``expire`` (oxen-storage-server ``oxenss/rpc/client_rpc_endpoints.h``, ``expire_msgs``): the
owner of a mailbox signs, with the Ed25519 key behind its Session ID,

    "expire" || ShortenOrExtend || expiry || messages[0] || ... || messages[N]

where ``expiry`` is the decimal text of the new expiry (ms) and ``ShortenOrExtend`` is
``"shorten"``, ``"extend"`` or empty.  The request carries ``pubkey`` (the 05 Session ID),
``pubkey_ed25519`` (hex) and the base64 signature; a node accepts it only if that Ed25519 key
converts to the Session ID's X25519 key and the signature verifies.  Same bytes as Session's
clients, so either side can talk to the other.

Each node signs its answer with its own Ed25519 key, over

    PUBKEY_HEX || EXPIRY || RMSG[0] || ... || UMSG[0] || ... || (HASH || EXPIRY) of each unchanged

(requested hashes in request order, updated hashes sorted, unchanged ones sorted by hash), so a
client can tell which members really shortened its messages.
"""

from __future__ import annotations

import base64
import binascii

import nacl.bindings
import nacl.exceptions

from session_core.errors import InvalidInputError
from session_core.identity import Identity

__all__ = ["expire_message", "expire_params", "expire_reply_message", "verify_node", "verify_owner"]


def expire_message(expiry_ms: int, hashes: list[str], *, shorten: bool = False, extend: bool = False) -> bytes:
    flag = "shorten" if shorten else "extend" if extend else ""
    return ("expire" + flag + str(int(expiry_ms)) + "".join(hashes)).encode("utf-8")


def expire_params(identity: Identity, hashes: list[str], expiry_ms: int, *, shorten: bool = True) -> dict[str, object]:
    """The ``params`` of an ``expire`` request for our own mailbox."""
    sig = identity.sign(expire_message(expiry_ms, hashes, shorten=shorten))
    params: dict[str, object] = {
        "pubkey": identity.session_id, "pubkey_ed25519": identity.ed25519_public_key.hex(),
        "messages": list(hashes), "expiry": int(expiry_ms), "signature": base64.b64encode(sig).decode("ascii"),
    }
    if shorten:
        params["shorten"] = True
    return params


def verify_owner(pubkey: str, pubkey_ed25519: str, signature_b64: str, message: bytes) -> bool:
    """True if the Ed25519 key is the one behind the 05 Session ID *pubkey* and signed *message*."""
    try:
        ed = bytes.fromhex(pubkey_ed25519)
        x = bytes.fromhex(pubkey[2:])
        sig = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if len(ed) != 32 or len(x) != 32 or len(sig) != 64 or not pubkey.startswith("05"):
        return False
    try:
        if nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(ed) != x:
            return False
        nacl.bindings.crypto_sign_open(sig + message, ed)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, InvalidInputError):
        return False
    return True


def expire_reply_message(pubkey: str, expiry_ms: int, requested: list[str], updated: list[str],
                         unchanged: dict[str, int]) -> bytes:
    return (pubkey + str(int(expiry_ms)) + "".join(requested) + "".join(updated)
            + "".join(h + str(int(unchanged[h])) for h in sorted(unchanged))).encode("utf-8")


def verify_node(node_ed25519_hex: str, signature_b64: str, message: bytes) -> bool:
    """True if the node whose Ed25519 key is given signed *message*."""
    try:
        ed = bytes.fromhex(node_ed25519_hex)
        sig = base64.b64decode(signature_b64, validate=True)
        if len(ed) != 32 or len(sig) != 64:
            return False
        nacl.bindings.crypto_sign_open(sig + message, ed)
    except (ValueError, binascii.Error, nacl.exceptions.CryptoError, nacl.exceptions.ValueError):
        return False
    return True
