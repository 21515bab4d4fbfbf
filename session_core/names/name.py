"""Names as oxen-core's name service (ONS) spells and hashes them.

A Session name is lowercase, 1 to 64 characters of ``[a-z0-9_-]``, neither starting nor ending
with a hyphen.  Clients lowercase what the user typed before checking, as Session's apps do.
The chain never sees the name itself, only ``name_hash = BLAKE2b-256(name)`` (unkeyed), sent
base64 in ``ons_resolve``: whoever knows the name can look it up and decrypt its value, and
nobody can list the names from the chain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from session_core.errors import InvalidNameError

__all__ = ["MAX_NAME_LENGTH", "normalize_name", "name_hash", "name_hash_b64", "parse_name_hash_b64"]

MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


def normalize_name(text: str) -> str:
    """The name *text* stands for (lowercased), or :class:`InvalidNameError` saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidNameError(f"a name is a str, got {type(text).__name__}")
    name = text.lower()
    if not name:
        raise InvalidNameError("a name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"a name has at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    if not name.isascii() or not _NAME.fullmatch(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_-"))})
        if bad:
            raise InvalidNameError(f"a name may only use a-z, 0-9, '_' and '-', not {''.join(bad)!r}")
        raise InvalidNameError("a name cannot start or end with '-'")
    return name


def name_hash(name: str) -> bytes:
    """BLAKE2b-256 of the (normalized) name, the key the chain stores it under."""
    return hashlib.blake2b(normalize_name(name).encode("ascii"), digest_size=32).digest()


def name_hash_b64(name: str) -> str:
    return base64.b64encode(name_hash(name)).decode("ascii")


def parse_name_hash_b64(value: object) -> bytes:
    """The 32 bytes of a base64 ``name_hash`` from the wire, or :class:`InvalidNameError`."""
    if not isinstance(value, str):
        raise InvalidNameError("`name_hash` must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidNameError("`name_hash` is not valid base64") from None
    if len(raw) != 32:
        raise InvalidNameError(f"`name_hash` must be 32 bytes, got {len(raw)}")
    return raw
