"""Onion paths (whitepaper §4.4, docs/interop.md §3): choosing, blaming and rebuilding. Sans-IO.

Every client request goes guard -> relay -> relay -> destination. A path is 3 distinct nodes
drawn at random from the node list; when the list spans at least 3 different /24 subnets (IPv6:
/48) no two hops share one, so one operator network cannot hold two hops. On a loopback devnet
every node is 127.0.0.1, so the rule falls back to "distinct nodes" there; tests exercise the
subnet rule with made-up addresses.

Each node has a failure count. A request that failed somewhere along a path counts against
every hop of it and the path is retired (it is rebuilt on next use); a guard that refused the
connection is blamed alone, and more heavily. A node reaching ``max_failures`` is left out of
new paths until the node list is refreshed; a success through a path clears its hops' counts.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from session_core.client.snode import Snode, subnet24
from session_core.errors import PathError

__all__ = ["Path", "PathPool"]

_ids = itertools.count(1)


@dataclass(frozen=True)
class Path:
    hops: tuple[Snode, ...]
    id: int

    @property
    def guard(self) -> Snode:
        return self.hops[0]

    def describe(self) -> str:
        return " -> ".join(h.short() for h in self.hops)


class PathPool:
    def __init__(self, rng: random.Random | None = None, *, hops: int = 3, size: int = 2, max_failures: int = 3) -> None:
        self.rng = rng or random.Random()
        self.hops = hops
        self.size = size
        self.max_failures = max_failures
        self.failures: dict[str, int] = {}
        self._nodes: dict[str, Snode] = {}
        self._paths: list[Path] = []
        self.rebuilds = 0
        self.forgiven = 0

    # -- node list ----------------------------------------------------------------------------

    def set_nodes(self, nodes: Iterable[Snode]) -> None:
        """A new node list: paths through nodes that left it are dropped; counts start over."""
        self._nodes = {n.ed25519: n for n in nodes}
        self.failures = {k: v for k, v in self.failures.items() if k in self._nodes and v < self.max_failures}
        self._paths = [p for p in self._paths if all(h.ed25519 in self._nodes for h in p.hops)]

    def usable(self) -> list[Snode]:
        return [n for k, n in self._nodes.items() if self.failures.get(k, 0) < self.max_failures]

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    # -- choosing -----------------------------------------------------------------------------

    def pick(self, avoid: Iterable[str] = ()) -> Path:
        """A path none of whose hops is in ``avoid`` (Ed25519 keys, e.g. the destination)."""
        avoid = set(avoid)
        while len(self._paths) < self.size:
            self._paths.append(self._build(set()))
        good = [p for p in self._paths if not avoid.intersection(h.ed25519 for h in p.hops)]
        if good:
            return self.rng.choice(good)
        return self._build(avoid)  # a one-off path around the destination; not kept

    def _build(self, avoid: set[str]) -> Path:
        cands = [n for n in self.usable() if n.ed25519 not in avoid]
        if len(cands) < self.hops and self.failures:
            # Strikes can land on healthy nodes (a path is blamed as a whole); on a small network
            # that can leave too few to build any path. Forgive everyone once: dead nodes are
            # found again within a request or two.
            self.forgiven += 1
            self.failures.clear()
            cands = [n for n in self.usable() if n.ed25519 not in avoid]
        if len(cands) < self.hops:
            raise PathError(f"need {self.hops} usable service nodes for a path, have {len(cands)}")
        self.rng.shuffle(cands)
        hops: list[Snode] = []
        if len({subnet24(n.ip) for n in cands}) >= self.hops:
            used: set[str] = set()
            for n in cands:
                net = subnet24(n.ip)
                if net not in used:
                    hops.append(n)
                    used.add(net)
                if len(hops) == self.hops:
                    break
        else:
            hops = cands[: self.hops]
        self.rebuilds += 1
        return Path(tuple(hops), next(_ids))

    # -- outcomes -----------------------------------------------------------------------------

    def success(self, path: Path) -> None:
        for h in path.hops:
            self.failures.pop(h.ed25519, None)

    def blame(self, node: Snode | str, weight: int = 1) -> None:
        key = node if isinstance(node, str) else node.ed25519
        self.failures[key] = self.failures.get(key, 0) + weight
        if self.failures[key] >= self.max_failures:
            self._paths = [p for p in self._paths if key not in (h.ed25519 for h in p.hops)]

    def guard_unreachable(self, path: Path) -> None:
        """The guard refused or dropped the connection: it alone is at fault."""
        self.blame(path.guard, self.max_failures)
        self.retire(path)

    def path_failed(self, path: Path, culprits: Sequence[str] = ()) -> None:
        """Something after the guard failed: blame the named culprits, else every hop."""
        for key in culprits or [h.ed25519 for h in path.hops]:
            self.blame(key)
        self.retire(path)

    def retire(self, path: Path) -> None:
        self._paths = [p for p in self._paths if p.id != path.id]
