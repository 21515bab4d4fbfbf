"""The client's only direct network contact: HTTP POSTs to a path's guard (and, to bootstrap,
to a seed). Everything else goes through :class:`~session_core.client.onion_client.OnionClient`.
Tests swap in the in-memory transport of :mod:`session_core.testing.memnet`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from session_core.errors import NodeUnreachableError

__all__ = ["HttpResult", "Transport", "HttpTransport"]


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    body: bytes


class Transport(Protocol):
    async def post(self, url: str, body: bytes, timeout: float) -> HttpResult:
        """POST ``body``; raises :class:`NodeUnreachableError` on connection failure or timeout."""
        ...

    async def close(self) -> None: ...


class HttpTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, timeout: float) -> HttpResult:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(url, data=body, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                return HttpResult(resp.status, await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise NodeUnreachableError(f"{url}: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
