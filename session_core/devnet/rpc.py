"""JSON-RPC for the devnet chain, shaped like oxend's ``POST /json_rpc``.

Methods: ``get_info``, ``get_block_hash``, ``get_n_service_nodes`` (oxend names
and fields), the name service's (:mod:`session_core.devnet.names_rpc`), plus the devnet's own ``register_service_node``,
``report_storage_test`` and ``produce_blocks`` (advance the chain now; for
tests and impatient people).  Errors come back as JSON-RPC error objects with
HTTP 200, as oxend does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from session_core.chain.registration import parse_signed
from session_core.chain.reports import parse_signed_report
from session_core.chain.service_nodes import service_nodes_result as _result
from session_core.devnet import names_rpc
from session_core.devnet.chain import BlockEvents, Chain
from session_core.errors import ChainRequestError

log = logging.getLogger("session_core.devnet")


def service_nodes_result(chain: Chain, active_only: bool = False) -> dict[str, Any]:
    h = chain.height
    nodes = chain.nodes(("active",) if active_only else ("active", "decommissioned", "pending"))
    return {**_result(h, chain.block_hash(h), (n.to_json() for n in nodes)), "status": "OK"}


class ChainRPC:
    """Dispatches JSON-RPC calls to a :class:`Chain` (no I/O; the aiohttp app wraps it)."""

    def __init__(self, chain: Chain, on_block: Callable[[BlockEvents], None] | None = None) -> None:
        self.chain = chain
        self._on_block = on_block

    def produce_block(self) -> BlockEvents:
        ev = self.chain.produce_block()
        if self._on_block is not None:
            self._on_block(ev)
        return ev

    def call(self, method: str, params: Any) -> Any:
        c = self.chain
        if method in names_rpc.NAME_METHODS:
            return names_rpc.call(c, method, params)
        if method == "get_info":
            return {"height": c.height + 1, "top_block_hash": c.block_hash(c.height), "status": "OK", "nettype": "devnet",
                    "ons_fee": c.names.fee, "ons_lease_blocks": c.names.lease_blocks, "ons_burned": c.names.burned()}
        if method == "get_block_hash":
            heights = params if isinstance(params, list) else [params.get("height") if isinstance(params, dict) else params]
            if len(heights) != 1 or not isinstance(heights[0], int) or isinstance(heights[0], bool):
                raise ChainRequestError("get_block_hash takes one integer height")
            return c.block_hash(heights[0])
        if method in ("get_n_service_nodes", "get_service_nodes"):
            active_only = bool(params.get("active_only", False)) if isinstance(params, dict) else False
            return service_nodes_result(c, active_only)
        if method == "register_service_node":
            return {"state": c.register(parse_signed(params)), "height": c.height}
        if method == "report_storage_test":
            reporter, testee, height, passed = parse_signed_report(params)
            c.report(reporter, testee, height, passed)
            return {"status": "OK"}
        if method == "produce_blocks":
            n = params.get("count", 1) if isinstance(params, dict) else 1
            if not isinstance(n, int) or not 1 <= n <= 100:
                raise ChainRequestError("`count` must be an integer in 1..100")
            for _ in range(n):
                self.produce_block()
            return {"height": c.height}
        raise ChainRequestError(f"Method not found: {method}")


def make_app(rpc: ChainRPC) -> web.Application:
    async def json_rpc(request: web.Request) -> web.Response:
        req_id: Any = None
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict) or not isinstance(body.get("method"), str):
                raise ChainRequestError("a JSON-RPC request is an object with a string `method`")
            req_id = body.get("id")
            result = rpc.call(body["method"], body.get("params", {}))
            return web.json_response({"jsonrpc": "2.0", "id": req_id, "result": result})
        except (ChainRequestError, ValueError) as exc:
            code = -32601 if str(exc).startswith("Method not found") else -32602
            return web.json_response({"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": str(exc)}})

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/json_rpc", json_rpc)
    return app


async def produce_blocks_forever(rpc: ChainRPC, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        ev = rpc.produce_block()
        if ev.activated or ev.decommissioned or ev.deregistered:
            log.info(
                "block %d: %d activated, %d decommissioned, %d deregistered",
                ev.height, len(ev.activated), len(ev.decommissioned), len(ev.deregistered),
            )
