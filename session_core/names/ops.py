"""Signed name operations for the devnet chain: register, renew, update (change the value
and/or transfer to a new owner).

Each is signed with the Ed25519 key of the one who acts (the new owner for ``register``, the
current owner otherwise) over a domain tag and the canonical JSON of every field, so nothing
can be altered in transit.  ``seq`` is the record's version on the chain (0 for a name never
registered; each applied operation adds one, and an expired name keeps its count), so a
signed operation applies at most once: replaying it later fails the sequence check.

The chain sees the name hash, never the name; it cannot check that the value is a Session ID,
only that it has the size of one (33 bytes + 16-byte tag).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from session_core.errors import InvalidNameError, NameOperationError
from session_core.names.name import parse_name_hash_b64

__all__ = ["NameOp", "parse_signed_op", "KINDS"]

_DOMAIN = b"session-core devnet name op v1:"
KINDS = ("register", "renew", "update")
_VALUE_CT_BYTES = 49


@dataclass(frozen=True, slots=True)
class NameOp:
    kind: str
    name_hash: str  # base64, as ons_resolve spells it
    signer: str  # hex Ed25519 key that signs (the owner after register; the current owner otherwise)
    seq: int
    fee: int = 0  # register and renew: what the signer burns
    encrypted_value: str = ""  # hex; register and update
    nonce: str = ""  # hex; "" = legacy form
    new_owner: str = ""  # hex; update only ("" keeps the owner)

    def signing_bytes(self) -> bytes:
        return _DOMAIN + json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    def sign(self, key: SigningKey) -> dict[str, Any]:
        """The JSON-RPC params that carry this operation."""
        if bytes(key.verify_key).hex() != self.signer:
            raise NameOperationError("the signing key is not the operation's signer")
        return {**asdict(self), "signature": key.sign(self.signing_bytes()).signature.hex()}

    @property
    def name_hash_bytes(self) -> bytes:
        return base64.b64decode(self.name_hash)


def _hex(params: dict[str, Any], key: str, sizes: tuple[int, ...]) -> str:
    v = params.get(key, "")
    try:
        if not isinstance(v, str):
            raise ValueError(v)
        raw = bytes.fromhex(v)
    except ValueError:
        raise NameOperationError(f"`{key}` must be hex") from None
    if len(raw) not in sizes:
        raise NameOperationError(f"`{key}` must be {' or '.join(str(s) for s in sizes)} bytes, got {len(raw)}")
    return v.lower()


def _int(params: dict[str, Any], key: str, default: int | None = None) -> int:
    v = params.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**62:
        raise NameOperationError(f"`{key}` must be a non-negative integer")
    return v


def parse_signed_op(params: Any, kind: str) -> NameOp:
    """Check the form and signature of a *kind* operation; raises :class:`NameOperationError`."""
    if not isinstance(params, dict):
        raise NameOperationError("params must be an object")
    if params.get("kind", kind) != kind:
        raise NameOperationError(f"this is a {params.get('kind')!r} operation, not {kind!r}")
    try:
        parse_name_hash_b64(params.get("name_hash"))
    except InvalidNameError as exc:
        raise NameOperationError(str(exc)) from None
    value = _hex(params, "encrypted_value", (_VALUE_CT_BYTES,) if kind == "register" else (0, _VALUE_CT_BYTES))
    nonce = _hex(params, "nonce", (0, 24))
    if kind == "renew" and value:
        raise NameOperationError("a renewal cannot change the value (use update)")
    if nonce and not value:
        raise NameOperationError("a nonce without an encrypted value")
    op = NameOp(
        kind=kind,
        name_hash=str(params["name_hash"]),
        signer=_hex(params, "signer", (32,)),
        seq=_int(params, "seq"),
        fee=_int(params, "fee", 0),
        encrypted_value=value,
        nonce=nonce,
        new_owner=_hex(params, "new_owner", (0, 32)) if kind == "update" else "",
    )
    if kind == "update" and not op.encrypted_value and not op.new_owner:
        raise NameOperationError("an update changes the value, the owner or both")
    if kind != "update" and params.get("new_owner"):
        raise NameOperationError(f"a {kind} operation cannot transfer the name (use update)")
    try:
        VerifyKey(bytes.fromhex(op.signer)).verify(op.signing_bytes(), bytes.fromhex(str(params.get("signature"))))
    except (BadSignatureError, ValueError, TypeError):
        raise NameOperationError("bad signature on the name operation") from None
    return op
