"""Requests to service nodes, always through a 3-hop onion path (never direct).

``request(dest, method, params)`` wraps the storage-RPC call for ``dest`` in an onion for a path
from the :class:`PathPool`, posts it to the guard and opens the destination's encrypted answer.
Outcomes feed the pool: success clears the hops' failure counts, a dead guard is blamed alone,
an error anywhere after it (a hop's 5xx, a timeout, an answer that does not decrypt) counts
against the path's hops and the destination and retires the path. One call tries up to
``attempts`` different paths before giving up with :class:`OnionRequestFailedError`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session_core import onion
from session_core.client.paths import Path, PathPool
from session_core.client.snode import Snode
from session_core.client.transport import Transport
from session_core.errors import AnswerTooLargeError, NodeUnreachableError, OnionError, OnionRequestFailedError, PathError

__all__ = ["OnionClient", "RpcResult"]

_NEXT_NOT_FOUND = "Next node not found: "


@dataclass(frozen=True)
class RpcResult:
    status: int
    body: str
    path: Path
    dest: Snode

    def json(self) -> Any:
        return json.loads(self.body)


class OnionClient:
    def __init__(self, transport: Transport, pool: PathPool, *, timeout: float = 10.0,
                 on_request: Callable[[Path, Snode, str], None] | None = None) -> None:
        self.transport = transport
        self.pool = pool
        self.timeout = timeout
        self.on_request = on_request  # observer (route display, tests)
        self.sent = 0

    async def request(self, dest: Snode, method: str, params: dict[str, Any], *, attempts: int = 2,
                      timeout: float | None = None) -> RpcResult:
        payload = json.dumps({"method": method, "params": params}, separators=(",", ":")).encode()
        last = "no attempt"
        for _ in range(attempts):
            try:
                path = self.pool.pick(avoid=[dest.ed25519])
            except PathError as exc:
                raise OnionRequestFailedError(str(exc)) from None
            try:
                return await self._once(path, dest, payload, method, timeout or self.timeout)
            except OnionRequestFailedError as exc:
                last = str(exc)
        raise OnionRequestFailedError(f"{method} to {dest.short()}: {last}")

    async def _once(self, path: Path, dest: Snode, payload: bytes, method: str, timeout: float) -> RpcResult:
        body, ctx = onion.build(payload, [h.onion_node for h in path.hops], dest.onion_node)
        if self.on_request is not None:
            self.on_request(path, dest, method)
        self.sent += 1
        try:
            res = await asyncio.wait_for(self.transport.post(path.guard.url + "/onion_req/v2", body, timeout), timeout)
        except (NodeUnreachableError, asyncio.TimeoutError) as exc:
            if isinstance(exc, NodeUnreachableError) and "Timeout" not in str(exc):
                self.pool.guard_unreachable(path)
            else:
                self._path_failed(path, dest)
            raise OnionRequestFailedError(f"guard {path.guard.short()}: {exc or 'timeout'}") from None
        except AnswerTooLargeError as exc:
            # The transport stopped reading: someone on the path (or the destination) floods us.
            self._path_failed(path, dest)
            raise OnionRequestFailedError(f"path {path.describe()}: {exc}") from None
        if res.status != 200:
            text = res.body[:200].decode("utf-8", "replace")
            culprit = text[len(_NEXT_NOT_FOUND):].strip() if text.startswith(_NEXT_NOT_FOUND) else ""
            self._path_failed(path, dest, [culprit] if culprit else [])
            raise OnionRequestFailedError(f"path {path.describe()} answered {res.status} {text.strip()}")
        try:
            answer = json.loads(ctx.decrypt_reply(res.body))
            status, text = int(answer["status"]), answer["body"]
            if not isinstance(text, str):
                text = json.dumps(text)
        except (OnionError, ValueError, KeyError, TypeError) as exc:
            # Tampered or garbage: some hop (or the destination) misbehaved.
            self._path_failed(path, dest)
            raise OnionRequestFailedError(f"unreadable answer via {path.describe()}: {type(exc).__name__}") from None
        self.pool.success(path)
        self.pool.failures.pop(dest.ed25519, None)
        return RpcResult(status, text, path, dest)

    async def server_request(self, target: onion.ServerTarget, payload: bytes, *, attempts: int = 2,
                             timeout: float | None = None) -> bytes:
        """Send ``payload`` to a server (file server, ...) through a 3-hop path whose last hop exits
        to it; returns the server's decrypted answer.  The server's own errors are inside that
        answer; a failure on the way (a hop, the exit, a garbled reply) retires the path and
        tries another, up to ``attempts``."""
        last = "no attempt"
        for _ in range(attempts):
            try:
                path = self.pool.pick()
            except PathError as exc:
                raise OnionRequestFailedError(str(exc)) from None
            body, ctx = onion.build(payload, [h.onion_node for h in path.hops], target)
            self.sent += 1
            wait = timeout or self.timeout
            try:
                res = await asyncio.wait_for(self.transport.post(path.guard.url + "/onion_req/v2", body, wait), wait)
            except (NodeUnreachableError, asyncio.TimeoutError) as exc:
                if isinstance(exc, NodeUnreachableError) and "Timeout" not in str(exc):
                    self.pool.guard_unreachable(path)
                else:
                    self.pool.path_failed(path)
                last = f"guard {path.guard.short()}: {exc or 'timeout'}"
                continue
            del body
            if res.status != 200:
                # A hop, or the exit (server unreachable: 502/504, refused: 403), answered.
                self.pool.path_failed(path)
                last = f"path {path.describe()} answered {res.status} {res.body[:200].decode('utf-8', 'replace').strip()}"
                continue
            try:
                answer = ctx.decrypt_reply(res.body)
            except OnionError:
                self.pool.path_failed(path)
                last = f"unreadable answer via {path.describe()}"
                continue
            self.pool.success(path)
            return answer
        raise OnionRequestFailedError(f"request to {target.host}:{target.port}: {last}")

    def _path_failed(self, path: Path, dest: Snode, culprits: list[str] | None = None) -> None:
        if not culprits and self.pool.failures.get(dest.ed25519, 0) > 0:
            # The destination already failed through another path: it is the likely culprit,
            # so do not let a dead destination use up the strikes of healthy hops.
            culprits = [dest.ed25519]
        self.pool.path_failed(path, culprits or [])
        if not culprits:
            self.pool.blame(dest)
