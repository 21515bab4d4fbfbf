"""Onion request v2 framing and routing (docs/interop.md §3.3), independent of the crypto backend.

Theory of operation
-------------------
Every layer is the frame ``[u32 LE N][N-byte blob][UTF-8 JSON object]``.  The client
(:func:`build`) makes one X25519 ephemeral key pair per layer; layer 0 is for the
destination, layer L-1 for the guard.  The JSON beside blob k names blob k's ephemeral
key and enc_type, plus where the holder of the enclosing layer sends it
(``destination`` = next node's Ed25519 key, or ``host``/``target``/… for a server exit).
The crypto backend lays the whole onion out in one buffer and encrypts it in place,
innermost first.

A hop (:func:`peel`) decrypts the blob of the frame it receives with its X25519 secret and
the frame's ``ephemeral_key``; the plaintext is again a frame, and its JSON decides, in
upstream's order: ``headers`` → final destination, ``host`` → server exit, otherwise relay.

Errors: everything before decryption is an :class:`OnionFrameError` (§3.4 "Error parsing
outer JSON…"); any decryption failure is one :class:`OnionDecryptError` ("Invalid
ciphertext"), whatever the cause; problems inside a decrypted layer are
:class:`OnionJsonError`/:class:`OnionUrlError`, carrying the layer's ``Reply`` because
upstream answers those encrypted.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Sequence

from session_core.onion.types import (
    ENC_NAMES,
    MAX_BODY_SIZE,
    MAX_ONION_HOPS,
    BuildContext,
    Crypto,
    Exit,
    Final,
    Node,
    Relay,
    Reply,
    ServerTarget,
    check_exit,
    check_secret,
    enc_code,
    is_hex_key,
)
from session_core.errors import (
    OnionEncTypeError,
    OnionFrameError,
    OnionJsonError,
    OnionArgumentError,
    OnionPathTooLongError,
    OnionTooLargeError,
    OnionUrlError,
)

_FINAL_JSON = b'{"headers":""}'


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def split_frame(buf: bytes, error: type[OnionFrameError] | type[OnionJsonError], reply: Reply | None = None) -> tuple[int, dict[str, Any]]:
    """Parse ``[u32 LE N][blob][JSON]``: return N and the JSON object (blob starts at 4)."""

    def fail(what: str) -> OnionFrameError | OnionJsonError:
        return OnionFrameError(what, reply=reply) if error is OnionFrameError else OnionJsonError(reply=reply)

    if len(buf) < 4:
        raise fail("truncated header")
    n = int.from_bytes(buf[:4], "little")
    if n > len(buf) - 4:
        raise fail("blob length exceeds the request")
    try:
        obj = json.loads(buf[4 + n :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise fail("invalid JSON") from None
    if not isinstance(obj, dict):
        raise fail("JSON is not an object")
    return n, obj


def _outer(body: bytes, hop: int) -> tuple[bytes, int, dict[str, Any], bytes, int]:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise OnionArgumentError("body must be bytes")
    buf = bytes(body)
    if len(buf) > MAX_BODY_SIZE:
        raise OnionTooLargeError("request too large")
    if type(hop) is not int or hop < 0:
        raise OnionArgumentError("hop must be a non-negative int")
    if hop > MAX_ONION_HOPS:
        raise OnionPathTooLongError()
    n, outer = split_frame(buf, OnionFrameError)
    eph = outer.get("ephemeral_key")
    if not is_hex_key(eph):
        raise OnionFrameError("missing or invalid ephemeral_key")
    assert isinstance(eph, str)
    enc = enc_code(outer.get("enc_type"))
    return buf, n, outer, bytes.fromhex(eph), enc


_publics: dict[bytes, bytes] = {}


def _public_of(crypto: Crypto, secret: bytes) -> bytes:
    # xchacha20 hashes our own public key into the layer key; a node peels with the same
    # secret all day, so derive it once instead of one extra X25519 base-point mult per
    # layer.  Bounded: cleared when full (dict operations are atomic under the GIL).
    public = _publics.get(secret)
    if public is None:
        if len(_publics) >= 64:
            _publics.clear()
        public = _publics[secret] = crypto.public_key(secret)
    return public


def open_request(crypto: Crypto, body: bytes, x25519_secret: bytes) -> Final:
    secret = check_secret(x25519_secret)
    buf, n, outer, eph, enc = _outer(body, 0)
    plaintext, key = crypto.open_blob(buf, 4, n, secret, _public_of(crypto, secret), eph, enc)
    return Final(payload=plaintext, reply=Reply(key, enc, crypto), meta=outer)


def peel(crypto: Crypto, body: bytes, x25519_secret: bytes, hop: int = 0) -> Relay | Final | Exit:
    fast = getattr(crypto, "peel_one", None)
    if fast is not None:
        # The C backend parses the common case itself; it answers None when unsure, and
        # then the reference runs from the start.
        done = fast(body, x25519_secret, hop, Relay)
        if done is not None:
            return finish_fast(crypto, done, hop)
    return peel_reference(crypto, body, x25519_secret, hop)


def finish_fast(crypto: Crypto, done: Any, hop: int) -> Relay | Final | Exit:
    """A C fast-path answer: the Relay itself, or a decrypted layer the reference reads."""
    if type(done) is tuple:
        return _inner(crypto, done[0], done[1], done[2], hop)
    assert isinstance(done, Relay)
    return done


def peel_reference(crypto: Crypto, body: bytes, x25519_secret: bytes, hop: int = 0) -> Relay | Final | Exit:
    """peel with every check in Python: the oracle, and where every error is decided."""
    secret = check_secret(x25519_secret)
    buf, n, _, eph, enc = _outer(body, hop)
    plaintext, key = crypto.open_blob(buf, 4, n, secret, _public_of(crypto, secret), eph, enc)
    return _inner(crypto, plaintext, key, enc, hop)


def _inner(crypto: Crypto, plaintext: bytes, key: bytes, enc: int, hop: int) -> Relay | Final | Exit:
    """What a decrypted layer asks for, in upstream's order: headers, host, destination."""
    reply = Reply(key, enc, crypto)
    m, inner = split_frame(plaintext, OnionJsonError, reply)
    if "headers" in inner:
        return Final(payload=plaintext[4 : 4 + m], reply=reply, meta=inner)
    if "host" in inner:
        if "target" not in inner:
            raise OnionJsonError(reply=reply)
        port = inner.get("port", 443)
        protocol = inner.get("protocol", "https")
        method = inner.get("method", "POST")
        try:
            check_exit(inner["host"], inner["target"], port, protocol, method)
        except OnionUrlError:
            raise OnionUrlError(reply=reply) from None
        return Exit(inner["host"], inner["target"], port, protocol, method, plaintext)
    dest = inner.get("destination")
    if not is_hex_key(dest) or not is_hex_key(inner.get("ephemeral_key")):
        raise OnionJsonError(reply=reply)
    try:
        enc_code(inner.get("enc_type"))
    except OnionEncTypeError:
        raise OnionJsonError(reply=reply) from None
    if hop + 1 > MAX_ONION_HOPS:
        raise OnionPathTooLongError()
    assert isinstance(dest, str)
    return Relay(next_ed25519=dest.lower(), body=plaintext, hop=hop + 1)


@functools.lru_cache(maxsize=64)
def _server_json(target: ServerTarget) -> bytes:
    """The exit layer's JSON members before ``ephemeral_key``, up to a trailing comma
    (both build paths append the ``ephemeral_key``/``enc_type`` members)."""
    members = {
        "host": target.host,
        "target": target.target,
        "method": target.method,
        "protocol": target.protocol,
        "port": target.port,
    }
    return _dumps(members)[:-1] + b","


def build(
    crypto: Crypto,
    payload: bytes,
    path: Sequence[Node],
    destination: Node | ServerTarget,
    enc_type: str,
) -> tuple[bytes, BuildContext]:
    enc = enc_code(enc_type)
    if type(payload) is not bytes:
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise OnionArgumentError("payload must be bytes")
        payload = bytes(payload)
    path = list(path)
    if len(path) > MAX_ONION_HOPS:
        raise OnionPathTooLongError()
    for p in path:
        if not isinstance(p, Node):
            raise OnionArgumentError("path must hold Node and destination be a Node or ServerTarget")
    if not isinstance(destination, (Node, ServerTarget)):
        raise OnionArgumentError("path must hold Node and destination be a Node or ServerTarget")
    layers = len(path) + 1
    # Rough bound first so a huge payload fails before any work is done.
    if len(payload) + layers * 512 > MAX_BODY_SIZE:
        raise OnionTooLargeError("payload too large")
    route = getattr(crypto, "build_route", None)
    if route is not None:
        # C does everything per layer (keys, JSON, hex, crypto) in one GIL-free call; here
        # only the node keys, already validated lowercase hex, are strung together.
        # eds: the Ed25519 key named beside blob k for k = 0..L-2 (the guard's JSON names
        # none); beside blob 0 that is the destination, or a placeholder for a server.
        rev = path[::-1]  # layer 1 = the last hop ... layer L-1 = the guard
        xs = destination.x25519_pubkey + "".join([p.x25519_pubkey for p in rev])
        if isinstance(destination, Node):
            server_json = None
            first = destination.ed25519_pubkey
        else:
            server_json = _server_json(destination)
            first = "0" * 64
        eds = first + "".join([p.ed25519_pubkey for p in rev[:-1]]) if path else ""
        body, key = route(payload, server_json, xs, eds, enc)
        return body, BuildContext(key, enc, crypto, len(path))
    recipients_list = [destination] + path[::-1]  # layer 0 = destination, last = guard
    sks, pks = crypto.keypairs(layers)
    name = ENC_NAMES[enc]
    jsons: list[bytes] = []
    for k in range(layers):
        eph_hex = pks[32 * k : 32 * k + 32].hex()
        # Formatted directly (json.dumps costs µs per layer): every value is lowercase
        # hex or one of ENC_NAMES, so nothing needs escaping.
        tail = f'"ephemeral_key":"{eph_hex}","enc_type":"{name}"}}'.encode()
        if k == 0 and isinstance(destination, ServerTarget):
            jsons.append(_server_json(destination) + tail)
        elif k == layers - 1:
            jsons.append(b"{" + tail)
        else:
            target = recipients_list[k]
            assert isinstance(target, Node)
            jsons.append(f'{{"destination":"{target.ed25519_pubkey}",'.encode() + tail)
    recipients = b"".join(bytes.fromhex(r.x25519_pubkey) for r in recipients_list)
    framed = isinstance(destination, Node)
    body, key = crypto.seal(payload, framed, _FINAL_JSON, recipients, sks, pks, jsons, enc)
    if len(body) > MAX_BODY_SIZE:
        raise OnionTooLargeError("payload too large")
    return body, BuildContext(key, enc, crypto, len(path))
