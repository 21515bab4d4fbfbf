"""The base URL of a server clients reach through onions (file server, room server):
``http(s)://host[:port]`` and nothing else, and the parts an onion exit needs."""

from __future__ import annotations

import urllib.parse

__all__ = ["HttpServerAddress", "check_base_url"]


def check_base_url(url: str, what: str, error: type[Exception]) -> str:
    """*url* without a trailing slash, or *error* if it is more or less than a server's base URL."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise error(f"a {what} URL is http(s)://host[:port]: {str(url)[:120]!r}")
    return url.rstrip("/")


class HttpServerAddress:
    """Host, port and scheme of ``self.base_url`` (for dataclasses that hold one)."""

    base_url: str

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        parts = urllib.parse.urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def protocol(self) -> str:
        return urllib.parse.urlsplit(self.base_url).scheme
