"""Building valid client requests (with proof of work): for tests, benches and tools.

A real client lives in ``session_core.client``; this is the minimum a load
generator needs, kept here so tests and the bench build requests one way.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from session_core import pow as _pow


def random_pubkey() -> str:
    return "05" + os.urandom(32).hex()


def store_params(pubkey: str, data: bytes | str, ttl_ms: int, timestamp_ms: int, difficulty: int) -> dict[str, str]:
    data_b64 = data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
    nonce = _pow.solve(timestamp_ms, ttl_ms, pubkey, data_b64, difficulty, threads=1)
    return {"pubKey": pubkey, "ttl": str(ttl_ms), "nonce": nonce, "timestamp": str(timestamp_ms), "data": data_b64}


def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": "0", "method": method, "params": params}


def rpc_bytes(method: str, params: dict[str, Any]) -> bytes:
    return json.dumps(rpc(method, params)).encode()
