"""The node's view of the service-node list at one block (what the chain's
``get_n_service_nodes`` returns), and the questions the node asks of it.

Which swarm a user's pubkey belongs to is answered by :mod:`session_core.swarm`;
this module only keeps the list and indexes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from session_core.chain.service_nodes import SnodeInfo, parse_service_nodes_result
from session_core.node import swarmmap
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

__all__ = ["NetworkView", "SnodeInfo", "base32z", "client_json"]

_Z32 = "ybndrfg8ejkmcpqxot1uwisza345h769"


def base32z(raw: bytes) -> str:
    """z-base-32 text of *raw* (how the 2020 network wrote ``<key>.snode`` addresses)."""
    bits = int.from_bytes(raw, "big")
    nbits = len(raw) * 8
    pad = (-nbits) % 5
    bits <<= pad
    nbits += pad
    return "".join(_Z32[(bits >> (nbits - 5 * (i + 1))) & 31] for i in range(nbits // 5))


def client_json(node: SnodeInfo) -> dict[str, str]:
    """One entry of ``get_snodes_for_pubkey`` / a 421 body (docs/interop.md §4.2)."""
    return {
        "address": base32z(bytes.fromhex(node.ed25519)) + ".snode",
        "pubkey_x25519": node.x25519,
        "pubkey_ed25519": node.ed25519,
        "port": str(node.http_port),
        "ip": node.ip,
    }


@dataclass(frozen=True)
class NetworkView:
    """The active service nodes at ``height`` / ``block_hash`` (hex)."""

    height: int
    block_hash: str
    nodes: tuple[SnodeInfo, ...]
    _by_ed: dict[str, SnodeInfo] = field(init=False, repr=False, compare=False)
    _by_x: dict[str, SnodeInfo] = field(init=False, repr=False, compare=False)
    _swarms: dict[int, tuple[SnodeInfo, ...]] = field(init=False, repr=False, compare=False)
    _ids: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_ed = {n.ed25519: n for n in self.nodes}
        swarms: dict[int, list[SnodeInfo]] = {}
        for n in self.nodes:
            if n.swarm_id != UNASSIGNED_SWARM_ID:
                swarms.setdefault(n.swarm_id, []).append(n)
        object.__setattr__(self, "_by_ed", by_ed)
        object.__setattr__(self, "_by_x", {n.x25519: n for n in self.nodes})
        object.__setattr__(self, "_swarms", {k: tuple(v) for k, v in swarms.items()})
        object.__setattr__(self, "_ids", tuple(sorted(swarms)))

    @property
    def swarm_ids(self) -> tuple[int, ...]:
        return self._ids

    def node(self, ed25519: str) -> SnodeInfo | None:
        return self._by_ed.get(ed25519)

    def node_by_x25519(self, x25519: str) -> SnodeInfo | None:
        return self._by_x.get(x25519)

    def swarms(self) -> dict[int, list[str]]:
        """swarm id -> member Ed25519 keys (the shape :mod:`session_core.swarm` works on)."""
        return {sid: [n.ed25519 for n in members] for sid, members in self._swarms.items()}

    def members(self, swarm_id: int) -> tuple[SnodeInfo, ...]:
        return self._swarms.get(swarm_id, ())

    def swarm_for_pubkey(self, pubkey_hex: str) -> int | None:
        """The swarm responsible for a user pubkey (66 hex), or None if there is none yet."""
        if not self._ids:
            return None
        return swarmmap.swarm_for_pubkey(pubkey_hex, self._ids)

    def snodes_json(self, swarm_id: int) -> dict[str, Any]:
        return {"snodes": [client_json(n) for n in self.members(swarm_id)]}

    @classmethod
    def from_chain_result(cls, result: Mapping[str, Any]) -> NetworkView:
        """The view a ``get_n_service_nodes`` result describes; raises
        :class:`~session_core.errors.ServiceNodeEntryError` (a ValueError) when malformed."""
        height, block_hash, nodes = parse_service_nodes_result(result)
        return cls(height, block_hash, nodes)
