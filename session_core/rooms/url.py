"""Room URLs as Session shares them: ``http://host:port/<token>?public_key=<64 hex>``.

The key is the server's X25519 public key: onion requests are encrypted for it, and it is the
``server_pk`` of 15-blinding.  A token is 1-64 characters of ``[A-Za-z0-9_-]`` (pysogs' rule).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from session_core.errors import RoomInputError
from session_core.server_url import HttpServerAddress, check_base_url

__all__ = ["RoomRef", "check_token"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_token(token: str) -> str:
    if not isinstance(token, str) or _TOKEN.fullmatch(token) is None:
        raise RoomInputError(f"a room token is 1-64 letters, digits, _ or -: {str(token)[:80]!r}")
    return token


@dataclass(frozen=True)
class RoomRef(HttpServerAddress):
    """A room on a server: base URL, room token and the server's X25519 key (hex)."""

    base_url: str
    token: str
    public_key: str

    def __post_init__(self) -> None:
        base = check_base_url(self.base_url, "room server", RoomInputError)
        check_token(self.token)
        key = self.public_key.lower() if isinstance(self.public_key, str) else ""
        if _HEX64.fullmatch(key) is None:
            raise RoomInputError("a room server key is 64 hex characters (its X25519 public key)")
        object.__setattr__(self, "public_key", key)
        object.__setattr__(self, "base_url", base)

    @classmethod
    def parse(cls, url: str) -> RoomRef:
        if not isinstance(url, str) or len(url) > 2048:
            raise RoomInputError("a room URL is a string of at most 2048 characters")
        parts = urllib.parse.urlsplit(url.strip())
        keys = urllib.parse.parse_qs(parts.query).get("public_key", [])
        if len(keys) != 1:
            raise RoomInputError(f"no server key (?public_key=<64 hex>) in {url[:120]!r}")
        token = parts.path.strip("/")
        if not token or "/" in token:
            raise RoomInputError(f"a room URL names one room after the host: {url[:120]!r}")
        return cls(urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", "")), token, keys[0])

    @property
    def server_pk(self) -> bytes:
        return bytes.fromhex(self.public_key)

    def x25519(self) -> str:
        return self.public_key

    def __str__(self) -> str:
        return f"{self.base_url}/{self.token}?public_key={self.public_key}"
