"""One request to a server reached through onions (file server, room server): ``call`` returns
``(code, body)``.

:class:`OnionLink` is what clients use: a 3-hop onion path whose last hop exits to the server,
v4 payloads.  :class:`DirectLink` is plain HTTP: the server sees who asks, so it is for
operators, tests and the benchmarks' same-run baseline.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp

from session_core import onion
from session_core.client.onion_client import OnionClient
from session_core.errors import ServerPayloadError, UnreadableAnswerError
from session_core.onion import v4

__all__ = ["DirectLink", "OnionLink", "ServerAddress", "ServerLink", "UnreadableAnswerError", "ONION_TARGET"]

ONION_TARGET = "/oxen/v4/lsrpc"


class ServerAddress(Protocol):
    """Where a server is and the X25519 key its onion requests are encrypted for."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def protocol(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    def x25519(self) -> str: ...


class ServerLink(Protocol):
    async def call(self, method: str, endpoint: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]: ...


class OnionLink:
    """Requests to one server through onion paths (the client's only way to reach one)."""

    def __init__(self, oc: OnionClient, server: ServerAddress, *, timeout: float = 60.0) -> None:
        self.oc = oc
        self.timeout = timeout
        self.target = onion.ServerTarget(server.host, server.x25519(), target=ONION_TARGET, port=server.port,
                                         protocol=server.protocol)

    async def call(self, method: str, endpoint: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        payload = v4.encode_request(method, endpoint, body, headers)
        del body
        answer = await self.oc.server_request(self.target, payload, timeout=self.timeout)
        try:
            code, _, data = v4.decode_response(answer)
        except ServerPayloadError as exc:
            raise UnreadableAnswerError(f"unreadable answer from the server: {exc}") from None
        return code, data


class DirectLink:
    """Plain HTTP to a server: no onion."""

    def __init__(self, server: ServerAddress, *, timeout: float = 60.0) -> None:
        self.base = server.base_url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, endpoint: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, self.base + endpoint, data=body, headers=headers,
                                         timeout=self.timeout) as resp:
            return resp.status, await resp.read()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
