"""The node's JSON-RPC client for the chain (the devnet chain or anything oxend-shaped)."""

from __future__ import annotations

from typing import Any

import aiohttp

from session_core.errors import ChainError, ChainRequestError


class ChainClient:
    def __init__(self, url: str, session: aiohttp.ClientSession, timeout: float = 5.0) -> None:
        self.url = url
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, method: str, params: Any = None) -> Any:
        body = {"jsonrpc": "2.0", "id": "0", "method": method, "params": params if params is not None else {}}
        try:
            async with self._session.post(self.url, json=body, timeout=self._timeout) as resp:
                reply = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChainError(f"chain RPC {method} at {self.url} failed: {exc!r}") from None
        if not isinstance(reply, dict):
            raise ChainError(f"chain RPC {method}: malformed reply")
        if "error" in reply:
            # The chain answered and refused: the request's fault, not the connection's.
            raise ChainRequestError(f"chain RPC {method}: {reply['error'].get('message')}")
        return reply.get("result")
