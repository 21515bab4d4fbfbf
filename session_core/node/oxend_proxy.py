"""``oxend_request``: a storage-RPC method that forwards a whitelisted call to the node's chain
daemon, as oxen-storage-server does (docs/interop.md §4.1), so clients reach the chain only through
onion requests and never reveal their address to it.

Upstream whitelists ``get_service_nodes`` and ``ons_resolve``.  ``get_service_nodes`` is
answered from the node's own view by :mod:`session_core.node.listening`; this module forwards
``ons_resolve`` and refuses every other endpoint.  Answers keep upstream's shape: 200
``{"result": <the chain's result>}``; the chain's error text with 400; 502 when the chain
cannot be reached; 503 when too many forwards are already waiting (a client cannot make a
node flood its chain).

:func:`handle` is sans-IO apart from the *call* coroutine it is given (the node's
``ChainClient.call``; a test's fake chain).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from session_core.errors import ChainError, ChainRequestError
from session_core.node.storage_rpc import MAX_REQUEST_BYTES, Reply

__all__ = ["FORWARDED", "MAX_IN_FLIGHT", "handle"]

#: Endpoints forwarded to the chain (``get_service_nodes`` is answered locally).
FORWARDED = frozenset({"ons_resolve"})
MAX_IN_FLIGHT = 32

ChainCall = Callable[[str, Any], Awaitable[Any]]
_in_flight = 0


def _text(status: int, text: str) -> Reply:
    return Reply(status, text + "\n", "text/plain")


async def handle(call: ChainCall, payload: bytes) -> Reply | None:
    """Answer an ``oxend_request`` for a forwarded endpoint; None for anything else (the
    storage RPC, or listening.py for ``get_service_nodes``)."""
    global _in_flight
    if b"oxend_request" not in payload or len(payload) > MAX_REQUEST_BYTES:
        return None  # the storage RPC answers it (413 for an oversized body)
    try:
        req = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # the storage RPC answers it (400)
    if not isinstance(req, dict) or req.get("method") != "oxend_request":
        return None
    params = req.get("params")
    if not isinstance(params, dict):
        return _text(400, "invalid json: `params` must be an object")
    endpoint = params.get("endpoint")
    if endpoint == "get_service_nodes":
        return None
    if endpoint not in FORWARDED:
        return _text(400, f"Invalid oxend endpoint '{endpoint}'")
    inner = params.get("params")
    if inner is not None and not isinstance(inner, dict):
        return _text(400, "invalid json: oxend_request `params` must be an object")
    if _in_flight >= MAX_IN_FLIGHT:
        return _text(503, "Too many oxend requests in flight")
    _in_flight += 1
    try:
        result = await call(str(endpoint), inner or {})
    except ChainRequestError as exc:
        return _text(400, str(exc))
    except ChainError as exc:  # unreachable, timed out, garbage
        return _text(502, f"oxend request failed: {exc}")
    finally:
        _in_flight -= 1
    return Reply.json(200, {"result": result})
