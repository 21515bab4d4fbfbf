"""The client's only direct network contact: HTTP POSTs to a path's guard (and, to bootstrap,
to a seed). Everything else goes through :class:`~session_core.client.onion_client.OnionClient`.
Tests swap in the in-memory transport of :mod:`session_core.testing.memnet`.

Every answer is read with a size cap (:data:`MAX_ANSWER_BYTES`): a guard or seed is a stranger,
and one that answers with hundreds of megabytes must cost the client a refused request, not
its memory.  A declared ``Content-Length`` over the cap is refused before reading; a body with
no length (or a false one) is read in chunks and dropped as soon as it passes the cap.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from session_core.errors import AnswerTooLargeError, NodeUnreachableError

__all__ = ["MAX_ANSWER_BYTES", "HttpResult", "Transport", "HttpTransport", "read_capped"]

#: The largest answer a client reads.  An honest node's biggest answer is an onion exit's
#: (at most 16 MiB, node/exit_http.py), JSON-wrapped then base64-encoded in the onion reply:
#: about 22 MiB.  32 MiB leaves room for that and bounds what a hostile guard can make us hold.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    body: bytes


class Transport(Protocol):
    async def post(self, url: str, body: bytes, timeout: float) -> HttpResult:
        """POST ``body``; raises :class:`NodeUnreachableError` on connection failure or timeout,
        :class:`AnswerTooLargeError` if the answer is longer than the transport reads."""
        ...

    async def close(self) -> None: ...


async def read_capped(resp: aiohttp.ClientResponse, max_bytes: int, url: str) -> bytes:
    """The body of *resp*, or :class:`AnswerTooLargeError` once it passes *max_bytes*."""
    declared = resp.content_length
    if declared is not None:
        if declared > max_bytes:
            raise AnswerTooLargeError(f"{url}: answer of {declared} bytes is over the {max_bytes}-byte cap")
        # aiohttp stops at the declared length: read it whole (one join of the received
        # pieces, no re-slicing into chunks first: a 4 MiB answer costs one copy less).
        return await resp.read()
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLargeError(f"{url}: answer passed the {max_bytes}-byte cap")
        parts.append(chunk)
    return b"".join(parts)


class HttpTransport:
    def __init__(self, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.max_answer_bytes = max_answer_bytes

    async def post(self, url: str, body: bytes, timeout: float) -> HttpResult:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(url, data=body, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                # Leaving the block early (too large) closes the connection instead of draining it.
                return HttpResult(resp.status, await read_capped(resp, self.max_answer_bytes, url))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise NodeUnreachableError(f"{url}: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
