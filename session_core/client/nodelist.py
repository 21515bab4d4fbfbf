"""The service-node list (whitepaper §4.5): bootstrap from a seed, refresh by consensus, cache.

- *Bootstrap*: on first use the list comes over the clearnet from a seed: the devnet chain's
  JSON-RPC (``get_n_service_nodes``, as Session's seeds answer) or a node's
  ``/storage_rpc/v1`` (``oxend_request``/``get_service_nodes``). This, and posting to guards,
  are the only direct contacts a client makes.
- *Refresh*: ask ``quorum`` random nodes of the current list, each through an onion, and take
  the new list only when every one of them answered and all answers are the same list at the same
  block; anything less keeps the old list (a partitioning attacker must control every node asked).
- *Cache*: the last accepted list is saved to disk and used when no seed answers.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_core.client.onion_client import OnionClient
from session_core.client.snode import Snode
from session_core.client.transport import Transport
from session_core.chain.service_nodes import parse_service_nodes_result, service_nodes_result
from session_core.errors import ClientError, NodeListError, ServiceNodeEntryError

__all__ = ["NodeList", "Snapshot", "agree"]


@dataclass(frozen=True)
class Snapshot:
    height: int
    block_hash: str
    nodes: tuple[Snode, ...]

    def key(self) -> tuple[str, frozenset[Snode]]:
        return self.block_hash, frozenset(self.nodes)

    def to_json(self) -> dict[str, Any]:
        return service_nodes_result(self.height, self.block_hash, (n.to_json() for n in self.nodes))

    @classmethod
    def from_json(cls, obj: Any) -> Snapshot:
        if isinstance(obj, dict) and "result" in obj and isinstance(obj["result"], dict):
            obj = obj["result"]  # a JSON-RPC envelope
        try:
            height, block, infos = parse_service_nodes_result(obj, partial=True)
        except ServiceNodeEntryError as exc:
            raise NodeListError(f"malformed node list: {exc}") from None
        nodes = tuple(Snode.from_info(i) for i in infos)
        if not nodes:
            raise NodeListError("node list is empty")
        return cls(height, block, nodes)


def agree(answers: Sequence[Snapshot | None], quorum: int) -> Snapshot | None:
    """The list every one of ``quorum`` answers agrees on, else None."""
    got = [a for a in answers if a is not None]
    if len(got) < quorum or len({a.key() for a in got}) != 1:
        return None
    return got[0]


_CHAIN_QUERY = {"jsonrpc": "2.0", "id": "0", "method": "get_n_service_nodes",
                "params": {"active_only": True}}
_NODE_QUERY = {"method": "oxend_request", "params": {"endpoint": "get_service_nodes"}}


class NodeList:
    def __init__(self, seeds: Sequence[str], cache: Path | None, *, quorum: int = 3,
                 rng: random.Random | None = None) -> None:
        self.seeds = list(seeds)
        self.cache = cache
        self.quorum = quorum
        self.rng = rng or random.Random()
        self.current: Snapshot | None = None
        self.refreshes = 0
        self.rejected = 0
        # The last bootstrap's seeds that did not answer (url -> reason) and whether it fell back
        # on the cache: the CLI warns about a dead or mistyped seed instead of staying silent.
        self.unanswered: dict[str, str] = {}
        self.from_cache = False

    @property
    def nodes(self) -> tuple[Snode, ...]:
        return self.current.nodes if self.current else ()

    async def bootstrap(self, transport: Transport, timeout: float = 5.0) -> Snapshot:
        """From the first seed that answers, else from the cache."""
        errors = []
        self.unanswered, self.from_cache = {}, False
        for seed in self.rng.sample(self.seeds, len(self.seeds)):
            query = _NODE_QUERY if seed.rstrip("/").endswith("/storage_rpc/v1") else _CHAIN_QUERY
            try:
                res = await transport.post(seed, json.dumps(query).encode(), timeout)
                if res.status != 200:
                    raise NodeListError(f"status {res.status}")
                snap = Snapshot.from_json(json.loads(res.body))
            except (ClientError, ValueError) as exc:
                errors.append(f"{seed}: {exc}")
                self.unanswered[seed] = str(exc)
                continue
            self._accept(snap)
            return snap
        cached = self.load_cache()
        if cached is None:
            if not errors:
                raise NodeListError("no seed to ask and no cached node list: give a network "
                                    "(--devnet DIR, or --seed URL of a chain or a node)")
            raise NodeListError("no seed answered and there is no cached node list: " + "; ".join(errors))
        self.current, self.from_cache = cached, True
        return cached

    async def refresh(self, oc: OnionClient) -> bool:
        """Ask ``quorum`` nodes through onions; True when a new agreed list was taken."""
        nodes = oc.pool.usable() or list(self.nodes)
        if len(nodes) < self.quorum:
            return False
        asked = self.rng.sample(nodes, self.quorum)

        async def ask(n: Snode) -> Snapshot | None:
            try:
                r = await oc.request(n, "oxend_request", {"endpoint": "get_service_nodes"}, attempts=1)
                return Snapshot.from_json(r.json()) if r.status == 200 else None
            except (ClientError, ValueError):
                return None

        snap = agree(await asyncio.gather(*(ask(n) for n in asked)), self.quorum)
        if snap is None:
            self.rejected += 1
            return False
        if self.current is not None and snap.key() == self.current.key():
            return False
        self._accept(snap)
        self.refreshes += 1
        return True

    def _accept(self, snap: Snapshot) -> None:
        self.current = snap
        if self.cache is not None:
            tmp = self.cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(snap.to_json()))
            tmp.replace(self.cache)

    def load_cache(self) -> Snapshot | None:
        if self.cache is None or not self.cache.exists():
            return None
        try:
            return Snapshot.from_json(json.loads(self.cache.read_text()))
        except (ValueError, ClientError):
            return None
