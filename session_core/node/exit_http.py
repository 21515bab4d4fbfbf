"""The onion exit: a node posting an anonymous client's request to a server, safely.

Anyone can make a node the last hop of an onion request to an arbitrary host, so the
exit is a server-side request forgery vector (issue 11, item 8) and a memory one:

- **Where it may go.** Only public addresses.  The host is resolved first and every
  address is checked; loopback, private (RFC 1918, ULA), link-local, multicast,
  reserved, unspecified and carrier-grade-NAT addresses are refused (a devnet may allow
  loopback, where its file and room servers run).  The connection then goes to exactly
  the checked addresses (aiohttp asks our resolver), so a DNS answer that changes
  between the check and the connect (rebinding) cannot slip through.  IP literals are
  checked directly, since aiohttp does not resolve them.
- **How much comes back.** The answer is read in chunks and given up on past
  ``max_answer_bytes`` (502), so a 1 GiB answer costs at most the cap in memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

# Big enough for any answer the client can take in one onion reply (10 MB attachments,
# base64 and JSON around them), small enough that a hostile server costs little.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class ExitRefusedError(Exception):
    """The exit target is not a public address (never leaves this module as such)."""


def address_refusal(address: str, *, allow_loopback: bool) -> str | None:
    """Why the exit may not connect to *address* (an IP literal), or None if it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (carrier-grade NAT) address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "private or reserved address"
    return None


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default, then keeps only addresses the exit may use."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for r in results:
            why = address_refusal(r["host"], allow_loopback=self._allow_loopback)
            if why is not None:
                # One bad address refuses the whole name: a name that mixes public and
                # private answers is a rebinding attempt, not a server.
                raise ExitRefusedError(f"{host} resolves to a {why}")
        return results

    async def close(self) -> None:
        await self._inner.close()


class ExitClient:
    """Posts onion exits; one per node (it owns an aiohttp session with our resolver)."""

    def __init__(
        self, *, allow_loopback: bool = False, timeout: float = 10.0, max_answer_bytes: int = MAX_ANSWER_BYTES
    ) -> None:
        self.allow_loopback = allow_loopback
        self._timeout = timeout
        self._max = max_answer_bytes
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(allow_loopback=self.allow_loopback))
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def post(self, method: str, url: str, host: str, body: bytes) -> tuple[int, bytes]:
        """Send the request; returns (status, body) to put in the onion reply."""
        literal = _ip_literal(host)
        if literal is not None:
            why = address_refusal(literal, allow_loopback=self.allow_loopback)
            if why is not None:
                return 403, f"Exit refused: {host} is a {why}".encode()
        try:
            async with self._http().request(
                method, url, data=body, timeout=aiohttp.ClientTimeout(total=self._timeout), allow_redirects=False
            ) as resp:
                if resp.content_length is not None:
                    if resp.content_length > self._max:
                        return 502, b"Server error: answer too large"
                    # A declared length bounds what aiohttp reads: take the body whole, which
                    # joins the received pieces once instead of re-slicing them first.
                    return resp.status, await resp.read()
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max:
                        return 502, b"Server error: answer too large"
                    chunks.append(chunk)
                return resp.status, b"".join(chunks)
        except ExitRefusedError as exc:
            return 403, f"Exit refused: {exc}".encode()
        except aiohttp.ClientConnectorError as exc:
            # aiohttp wraps what the resolver raised.
            cause: Any = exc.__cause__ or getattr(exc, "os_error", None)
            if isinstance(cause, ExitRefusedError):
                return 403, f"Exit refused: {cause}".encode()
            return 502, f"Server error: {type(exc).__name__}".encode()
        except asyncio.TimeoutError:
            return 504, b"Request time out"
        except aiohttp.ClientError as exc:
            return 502, f"Server error: {type(exc).__name__}".encode()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _ip_literal(host: str) -> str | None:
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        return None
    return h
