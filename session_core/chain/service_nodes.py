"""The service-node list as the chain publishes it (oxend's ``get_n_service_nodes``): one
entry type, its one parser and its one writer, shared by the chain, the node and the client.

An entry names a node's Ed25519 identity, its X25519 key (onion layers, ZMQ CURVE), its
address, its two ports (``storage_port`` for clients over HTTP, ``storage_lmq_port`` for
other nodes over ZMQ) and its swarm (``UNASSIGNED_SWARM_ID`` while it has none).  The chain
adds fields of its own (state, stake, heights) around these; readers ignore them.

A client's cached copy of the list carries no ZMQ port and may lack swarms: parse it with
``partial=True`` (a missing ZMQ port reads as 0 and is left out again when written).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from session_core.errors import ServiceNodeEntryError
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

__all__ = ["SnodeInfo", "service_nodes_result", "parse_service_nodes_result"]


@dataclass(frozen=True, slots=True)
class SnodeInfo:
    ed25519: str  # hex; the node's identity (onion "destination")
    x25519: str  # hex; onion layer key and ZMQ CURVE key
    ip: str
    http_port: int
    zmq_port: int  # 0: not known (a client's cached list)
    swarm_id: int = UNASSIGNED_SWARM_ID

    @classmethod
    def from_chain_json(cls, obj: Any, *, partial: bool = False) -> SnodeInfo:
        """Parse one ``service_node_states`` entry; raises :class:`ServiceNodeEntryError`."""
        if not isinstance(obj, Mapping):
            raise ServiceNodeEntryError("a service node entry must be an object")
        zmq_port = _port(obj, "storage_lmq_port", optional=partial)
        if "swarm_id" in obj or not partial:
            swarm_id = obj.get("swarm_id")
            if isinstance(swarm_id, str) and swarm_id.isdigit():
                swarm_id = int(swarm_id)
            if not isinstance(swarm_id, int) or isinstance(swarm_id, bool) or not 0 <= swarm_id <= UNASSIGNED_SWARM_ID:
                raise ServiceNodeEntryError(f"service node `swarm_id` must be a 64-bit integer: {swarm_id!r:.70}")
        else:
            swarm_id = UNASSIGNED_SWARM_ID
        return cls(
            ed25519=_key(obj, "pubkey_ed25519"),
            x25519=_key(obj, "pubkey_x25519"),
            ip=_ip(obj),
            http_port=_port(obj, "storage_port"),
            zmq_port=zmq_port,
            swarm_id=swarm_id,
        )

    def to_chain_json(self) -> dict[str, Any]:
        """This node as a ``service_node_states`` entry (oxend's field names)."""
        out: dict[str, Any] = {
            "pubkey_ed25519": self.ed25519,
            "pubkey_x25519": self.x25519,
            "public_ip": self.ip,
            "storage_port": self.http_port,
        }
        if self.zmq_port:
            out["storage_lmq_port"] = self.zmq_port
        out["swarm_id"] = self.swarm_id
        return out


def service_nodes_result(height: int, block_hash: str, states: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``get_n_service_nodes`` result for the list *states* (entries as written by
    :meth:`SnodeInfo.to_chain_json`, possibly with the chain's own fields added)."""
    return {"height": height, "block_hash": block_hash, "service_node_states": list(states)}


def parse_service_nodes_result(result: Any, *, partial: bool = False) -> tuple[int, str, tuple[SnodeInfo, ...]]:
    """``(height, block hash, entries)`` of a ``get_n_service_nodes`` result."""
    if not isinstance(result, Mapping):
        raise ServiceNodeEntryError("a service node list must be an object")
    height, block_hash, states = result.get("height"), result.get("block_hash"), result.get("service_node_states")
    if not isinstance(height, int) or isinstance(height, bool) or height < 0:
        raise ServiceNodeEntryError(f"service node list `height` must be a non-negative integer: {height!r:.70}")
    if not isinstance(block_hash, str):
        raise ServiceNodeEntryError("service node list `block_hash` must be a string")
    if not isinstance(states, list):
        raise ServiceNodeEntryError("service node list `service_node_states` must be a list")
    return height, block_hash, tuple(SnodeInfo.from_chain_json(s, partial=partial) for s in states)


def _key(obj: Mapping[str, Any], name: str) -> str:
    v = obj.get(name)
    try:
        if not isinstance(v, str) or len(bytes.fromhex(v)) != 32:
            raise ValueError(v)
    except ValueError:
        raise ServiceNodeEntryError(f"service node `{name}` is not 64 hex characters: {v!r:.70}") from None
    return v


def _port(obj: Mapping[str, Any], name: str, *, optional: bool = False) -> int:
    v = obj.get(name)
    if v is None and optional:
        return 0
    if isinstance(v, str) and v.isdigit():  # oxend-shaped lists sometimes quote numbers
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 < v < 65536:
        raise ServiceNodeEntryError(f"service node `{name}` is not a port number: {v!r:.70}")
    return v


def _ip(obj: Mapping[str, Any]) -> str:
    v = obj.get("public_ip")
    try:
        if not isinstance(v, str):
            raise ValueError(v)
        ipaddress.ip_address(v)
    except ValueError:
        raise ServiceNodeEntryError(f"service node `public_ip` is not an IP address: {v!r:.70}") from None
    return v
