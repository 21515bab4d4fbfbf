"""The payload of a v4 onion request to a server (``/oxen/v4/lsrpc``, INTEROP §3.5, pysogs).

Request: a bencoded list ``l<n>:<json meta><n>:<body>e`` (the body is optional), meta =
``{"method", "endpoint", "headers"}``.  Answer: the same shape with meta ``{"code",
"headers"}``, encrypted raw (not base64) for the client.  Binary bodies travel as they are, so a
4 MiB attachment chunk costs no base64 and no JSON escaping.
"""

from __future__ import annotations

import json
from typing import Any

from session_core.errors import ServerPayloadError

__all__ = ["encode_request", "decode_request", "decode_request_view", "encode_response", "decode_response",
           "response_head"]

_MAX_DIGITS = 10


def _frame(meta: dict[str, Any], body: bytes | None) -> bytes:
    m = json.dumps(meta, separators=(",", ":")).encode()
    parts = [b"l", str(len(m)).encode(), b":", m]
    if body is not None:
        parts += [str(len(body)).encode(), b":", body]
    parts.append(b"e")
    return b"".join(parts)


def _string(buf: memoryview, pos: int) -> tuple[memoryview, int]:
    colon = bytes(buf[pos : pos + _MAX_DIGITS + 1]).find(b":")
    digits = bytes(buf[pos : pos + colon]) if colon > 0 else b""
    if not digits.isdigit() or (len(digits) > 1 and digits[0:1] == b"0"):
        raise ServerPayloadError("bad string length in a v4 onion payload")
    start = pos + colon + 1
    end = start + int(digits)
    if end > buf.nbytes:
        raise ServerPayloadError("a v4 onion payload is truncated")
    return buf[start:end], end


def _split(data: bytes) -> tuple[dict[str, Any], memoryview | None]:
    """The meta object and a view of the body (inside *data*: no copy)."""
    buf = memoryview(data)
    if buf.nbytes < 2 or buf[0] != ord("l"):
        raise ServerPayloadError("a v4 onion payload is a bencoded list")
    meta_raw, pos = _string(buf, 1)
    body: memoryview | None = None
    if pos >= buf.nbytes or buf[pos] != ord("e"):
        body, pos = _string(buf, pos)
    if pos != buf.nbytes - 1 or buf[pos] != ord("e"):
        raise ServerPayloadError("a v4 onion payload has trailing data or no end")
    try:
        meta = json.loads(bytes(meta_raw))
    except (ValueError, UnicodeDecodeError):
        raise ServerPayloadError("the meta of a v4 onion payload is not JSON") from None
    if not isinstance(meta, dict):
        raise ServerPayloadError("the meta of a v4 onion payload is not a JSON object")
    return meta, body


def encode_request(method: str, endpoint: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    return _frame({"method": method, "endpoint": endpoint, "headers": headers or {}}, body)


def decode_request(data: bytes) -> tuple[str, str, dict[str, Any], bytes | None]:
    """(method, endpoint, headers, body) of a request."""
    method, endpoint, headers, body = decode_request_view(data)
    return method, endpoint, headers, None if body is None else bytes(body)


def decode_request_view(data: bytes) -> tuple[str, str, dict[str, Any], memoryview | None]:
    """As :func:`decode_request`, with the body a view into *data* (a 4 MiB upload is not
    copied; the view keeps *data* alive)."""
    meta, body = _split(data)
    method, endpoint, headers = meta.get("method"), meta.get("endpoint"), meta.get("headers", {})
    if not isinstance(method, str) or not method.isalpha() or not isinstance(endpoint, str) \
            or not endpoint.startswith("/") or not isinstance(headers, dict):
        raise ServerPayloadError("a v4 request names a method, an endpoint starting with / and headers")
    return method.upper(), endpoint, headers, body


def encode_response(code: int, body: bytes, content_type: str = "application/octet-stream") -> bytes:
    return _frame({"code": code, "headers": {"content-type": content_type}}, body)


def response_head(code: int, body_size: int, content_type: str = "application/octet-stream") -> bytes:
    """What :func:`encode_response` puts before a body of *body_size* bytes (a single ``e``
    follows the body): for answers built in place, e.g. a file read straight after it."""
    m = json.dumps({"code": code, "headers": {"content-type": content_type}}, separators=(",", ":")).encode()
    return b"l" + str(len(m)).encode() + b":" + m + str(body_size).encode() + b":"


def decode_response(data: bytes) -> tuple[int, dict[str, Any], bytes]:
    """(code, headers, body) of an answer."""
    meta, body = _split(data)
    code, headers = meta.get("code"), meta.get("headers", {})
    if type(code) is not int or not isinstance(headers, dict):
        raise ServerPayloadError("a v4 answer has an integer code and headers")
    return code, headers, b"" if body is None else bytes(body)
