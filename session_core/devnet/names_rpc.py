"""The chain's JSON-RPC methods for names.

- ``ons_resolve {type: 0, name_hash}``: oxend's shape -- ``{encrypted_value, nonce}`` (hex), or
  ``{}`` when the name is not registered -- plus ``expiration_height``, ``owner`` and ``proof``
  (base64 Merkle inclusion proof against the tip's header).  Only type 0 (Session) exists here.
- ``get_block_headers_range {start_height, end_height}``: oxend's method name; each header
  carries ``names_root`` and ``prev_header_hash``.  At most 1000 per call.
- the devnet's own ``ons_register``, ``ons_renew``, ``ons_update`` (signed operations, applied
  in the next block) and ``ons_record {name_hash}`` (owner, version and expiry, for signing).
"""

from __future__ import annotations

from typing import Any

from session_core.devnet.chain import Chain
from session_core.devnet.names_state import MAX_HEADERS_PER_CALL
from session_core.errors import ChainRequestError
from session_core.names.name import parse_name_hash_b64
from session_core.names.ops import parse_signed_op

__all__ = ["NAME_METHODS", "call"]

NAME_METHODS = frozenset({
    "ons_resolve", "get_block_headers_range", "ons_register", "ons_renew", "ons_update", "ons_record",
})


def _object(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise ChainRequestError("params must be an object")
    return params


def _height(params: dict[str, Any], key: str) -> int:
    v = params.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ChainRequestError(f"`{key}` must be a non-negative integer")
    return v


def call(chain: Chain, method: str, params: Any) -> Any:
    p = _object(params)
    tip = chain.height
    if method == "ons_resolve":
        if p.get("type", 0) != 0:
            raise ChainRequestError("only type 0 (Session) names exist on this chain")
        return chain.names.resolve(parse_name_hash_b64(p.get("name_hash")), tip)
    if method == "ons_record":
        return chain.names.info(parse_name_hash_b64(p.get("name_hash")), tip)
    if method == "get_block_headers_range":
        start, end = _height(p, "start_height"), _height(p, "end_height")
        if end < start:
            raise ChainRequestError("`end_height` is below `start_height`")
        if end - start >= MAX_HEADERS_PER_CALL:
            raise ChainRequestError(f"at most {MAX_HEADERS_PER_CALL} headers per call")
        if start > tip:
            raise ChainRequestError(f"no block at height {start} (the chain is at {tip})")
        return {"headers": [h.to_json() for h in chain.names.headers(start, end)], "status": "OK"}
    kind = method.removeprefix("ons_")
    op = parse_signed_op(p, kind)
    return chain.submit_name_op(op)
