"""Canonical bt-encoding (bencode), the serialisation libsession-util's config messages use.

Only the subset config messages need: integers, byte strings, lists and dicts with byte-string
keys.  Decoding is strict -- sorted unique dict keys, no leading zeros, no ``-0``, nothing left
over -- so every value has exactly one encoding.  That matters because a config message is
identified (and ties are broken) by a hash of its encoding: two devices must never disagree on
the bytes of the same message.
"""

from __future__ import annotations

from typing import Union

from session_core.errors import ConfigFormatError

__all__ = ["Value", "decode", "encode"]

Value = Union[int, bytes, list["Value"], dict[bytes, "Value"]]

_MAX_DEPTH = 16  # config messages nest 4 deep; bound the recursion against hostile input


def encode(value: Value) -> bytes:
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Value, out: list[bytes]) -> None:
    if isinstance(value, bool):  # bool is an int in Python: refuse it rather than guess
        raise ConfigFormatError("bt-encoding has no booleans (use 0/1)")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, (bytes, bytearray)):
        out.append(b"%d:" % len(value))
        out.append(bytes(value))
    elif isinstance(value, list):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        out.append(b"d")
        for key in sorted(value):
            if not isinstance(key, bytes):
                raise ConfigFormatError(f"bt dict keys are bytes, got {type(key).__name__}")
            out.append(b"%d:" % len(key))
            out.append(key)
            _encode(value[key], out)
        out.append(b"e")
    else:
        raise ConfigFormatError(f"cannot bt-encode a {type(value).__name__}")


def decode(data: bytes) -> Value:
    """The one value ``data`` encodes; :class:`ConfigFormatError` if it is not canonical."""
    value, end = _decode(bytes(data), 0, 0)
    if end != len(data):
        raise ConfigFormatError(f"{len(data) - end} bytes after the bt-encoded value")
    return value


def _decode(data: bytes, pos: int, depth: int) -> tuple[Value, int]:
    if depth > _MAX_DEPTH:
        raise ConfigFormatError("bt value nested too deep")
    if pos >= len(data):
        raise ConfigFormatError("truncated bt value")
    head = data[pos:pos + 1]
    if head == b"i":
        end = data.find(b"e", pos)
        if end < 0:
            raise ConfigFormatError("truncated bt integer")
        digits = data[pos + 1:end]
        if not _canonical_int(digits):
            raise ConfigFormatError(f"non-canonical bt integer {digits[:24]!r}")
        return int(digits), end + 1
    if head == b"l":
        items: list[Value] = []
        pos += 1
        while data[pos:pos + 1] != b"e":
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return items, pos + 1
    if head == b"d":
        out: dict[bytes, Value] = {}
        last: bytes | None = None
        pos += 1
        while data[pos:pos + 1] != b"e":
            key, pos = _decode(data, pos, depth + 1)
            if not isinstance(key, bytes):
                raise ConfigFormatError("bt dict key is not a string")
            if last is not None and key <= last:
                raise ConfigFormatError("bt dict keys not sorted and unique")
            out[key], pos = _decode(data, pos, depth + 1)
            last = key
        return out, pos + 1
    if head.isdigit():
        colon = data.find(b":", pos)
        if colon < 0 or not _canonical_int(data[pos:colon]) or data[pos:pos + 1] == b"-":
            raise ConfigFormatError("malformed bt string length")
        length = int(data[pos:colon])
        end = colon + 1 + length
        if end > len(data):
            raise ConfigFormatError("truncated bt string")
        return data[colon + 1:end], end
    raise ConfigFormatError(f"unexpected byte {head!r} in bt value")


def _canonical_int(digits: bytes) -> bool:
    body = digits[1:] if digits.startswith(b"-") else digits
    if not body or not body.isdigit() or len(body) > 19:
        return False
    if body.startswith(b"0") and (len(body) > 1 or digits.startswith(b"-")):
        return False  # leading zeros and -0 have another spelling
    return True
