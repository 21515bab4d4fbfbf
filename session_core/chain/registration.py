"""Service-node registrations for the devnet chain: what a node sends, and how it is checked.

A registration names the node's Ed25519 identity, its X25519 twin and where to
reach it, and is signed with the Ed25519 key, so nobody can register (or move)
someone else's node.  The X25519 key must be the birational twin of the Ed25519
key (the same conversion libsodium does), because clients encrypt onion layers
to it and nodes use it as their ZMQ CURVE key.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass
from typing import Any

from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from session_core.errors import ChainRequestError

_DOMAIN = b"session-core devnet register v1:"


@dataclass(frozen=True, slots=True)
class Registration:
    ed25519: str
    x25519: str
    ip: str
    http_port: int
    zmq_port: int
    stake: int = 15_000

    def signing_bytes(self) -> bytes:
        return _DOMAIN + json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    def sign(self, key: SigningKey) -> dict[str, Any]:
        """The JSON-RPC params of ``register_service_node``."""
        return {**asdict(self), "signature": key.sign(self.signing_bytes()).signature.hex()}

    @classmethod
    def for_key(cls, key: SigningKey, ip: str, http_port: int, zmq_port: int) -> Registration:
        ed = bytes(key.verify_key)
        return cls(ed.hex(), crypto_sign_ed25519_pk_to_curve25519(ed).hex(), ip, http_port, zmq_port)


def _hex32(params: dict[str, Any], name: str) -> str:
    v = params.get(name)
    if not isinstance(v, str) or len(v) != 64:
        raise ChainRequestError(f"`{name}` must be 64 hex characters")
    try:
        bytes.fromhex(v)
    except ValueError:
        raise ChainRequestError(f"`{name}` must be 64 hex characters") from None
    return v.lower()


def _port(params: dict[str, Any], name: str) -> int:
    v = params.get(name)
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 65535:
        raise ChainRequestError(f"`{name}` must be a port number")
    return v


def parse_signed(params: Any) -> Registration:
    """Validate ``register_service_node`` params; raises :class:`ChainRequestError`."""
    if not isinstance(params, dict):
        raise ChainRequestError("params must be an object")
    ip = params.get("ip")
    try:
        ipaddress.IPv4Address(ip)
    except (ValueError, TypeError):
        raise ChainRequestError("`ip` must be a dotted IPv4 address") from None
    stake = params.get("stake", 15_000)
    if not isinstance(stake, int) or isinstance(stake, bool) or stake <= 0:
        raise ChainRequestError("`stake` must be a positive integer")
    reg = Registration(
        ed25519=_hex32(params, "ed25519"),
        x25519=_hex32(params, "x25519"),
        ip=str(ip),
        http_port=_port(params, "http_port"),
        zmq_port=_port(params, "zmq_port"),
        stake=stake,
    )
    try:
        twin = crypto_sign_ed25519_pk_to_curve25519(bytes.fromhex(reg.ed25519)).hex()
    except Exception:
        raise ChainRequestError("`ed25519` is not a valid Ed25519 public key") from None
    if twin != reg.x25519:
        raise ChainRequestError("`x25519` is not the X25519 twin of `ed25519`")
    sig = params.get("signature")
    try:
        VerifyKey(bytes.fromhex(reg.ed25519)).verify(reg.signing_bytes(), bytes.fromhex(str(sig)))
    except (BadSignatureError, ValueError, TypeError):
        raise ChainRequestError("bad registration signature") from None
    return reg
