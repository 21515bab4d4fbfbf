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

Reuse policy (issue 19; the figures are in docs/performance.md): a path is kept and reused until
it fails, one of its nodes is struck out or leaves the node list, or it is ``max_age`` seconds
old.  Requests avoid paths that contain their destination; when no kept path does, the path
built around the destination is kept too (up to ``max_paths``), so the next request to that
destination reuses it instead of building yet another one.  Every build is counted by its
reason in :attr:`PathPool.built` (``initial``, ``failed``, ``struck_out``, ``left``, ``aged``,
``detour``): on a healthy network only ``initial`` and ``detour`` should grow, and both stop.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from session_core.client.snode import Snode, subnet24
from session_core.errors import PathError

__all__ = ["Path", "PathPool"]

_ids = itertools.count(1)


@dataclass(frozen=True)
class Path:
    hops: tuple[Snode, ...]
    id: int
    built_at: float = field(default=0.0, compare=False)

    @property
    def guard(self) -> Snode:
        return self.hops[0]

    def describe(self) -> str:
        return " -> ".join(h.short() for h in self.hops)


class PathPool:
    def __init__(self, rng: random.Random | None = None, *, hops: int = 3, size: int = 2, max_failures: int = 3,
                 max_paths: int = 6, max_age: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rng = rng or random.Random()
        self.hops = hops
        self.size = size  # paths kept ready for requests that avoid nothing in particular
        self.max_paths = max(size, max_paths)  # kept in all, detours around destinations included
        self.max_age = max_age
        self.max_failures = max_failures
        self._clock = clock
        self.failures: dict[str, int] = {}
        self._nodes: dict[str, Snode] = {}
        self._general: list[Path] = []  # up to `size`, for any destination they do not contain
        self._detours: list[Path] = []  # built around a destination no general path avoided
        # Why kept paths were dropped: the reasons of the builds that replace them.
        self._owed: list[str] = []
        self._owed_detours: list[str] = []
        self.built: Counter[str] = Counter()
        self.rebuilds = 0
        self.forgiven = 0

    # -- node list ----------------------------------------------------------------------------

    def set_nodes(self, nodes: Iterable[Snode]) -> None:
        """A new node list: paths through nodes that left it are dropped; counts start over."""
        self._nodes = {n.ed25519: n for n in nodes}
        self.failures = {k: v for k, v in self.failures.items() if k in self._nodes and v < self.max_failures}
        self._drop(lambda p: not all(h.ed25519 in self._nodes for h in p.hops), "left")

    def usable(self) -> list[Snode]:
        return [n for k, n in self._nodes.items() if self.failures.get(k, 0) < self.max_failures]

    @property
    def paths(self) -> list[Path]:
        """Every kept path: the general ones, then the detours."""
        return self._general + self._detours

    @property
    def general(self) -> list[Path]:
        """The kept paths requests go through unless they contain the destination."""
        return list(self._general)

    # -- choosing -----------------------------------------------------------------------------

    def pick(self, avoid: Iterable[str] = ()) -> Path:
        """A path none of whose hops is in ``avoid`` (Ed25519 keys, e.g. the destination)."""
        avoid = set(avoid)
        now = self._clock()
        self._drop(lambda p: now - p.built_at >= self.max_age, "aged")
        while len(self._general) < self.size:
            self._general.append(self._build(set(), self._owed.pop(0) if self._owed else "initial"))
        good = [p for p in self.paths if not avoid.intersection(h.ed25519 for h in p.hops)]
        if good:
            return self.rng.choice(good)
        # No kept path avoids the destination: build one around it and keep it for next time.
        path = self._build(avoid, self._owed_detours.pop(0) if self._owed_detours else "detour")
        while self._detours and len(self._detours) >= max(1, self.max_paths - self.size):
            del self._detours[0]  # the oldest detour
        self._detours.append(path)
        return path

    def _drop(self, doomed: Callable[[Path], bool], reason: str) -> None:
        """Drop the kept paths *doomed* says; the builds that replace them count as *reason*."""
        for kept, owed in ((self._general, self._owed), (self._detours, self._owed_detours)):
            left = [p for p in kept if not doomed(p)]
            owed += [reason] * (len(kept) - len(left))
            del owed[self.max_paths:]
            kept[:] = left

    def _build(self, avoid: set[str], reason: str = "detour") -> Path:
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
        self.built[reason] += 1
        return Path(tuple(hops), next(_ids), self._clock())

    # -- outcomes -----------------------------------------------------------------------------

    def success(self, path: Path) -> None:
        for h in path.hops:
            self.failures.pop(h.ed25519, None)

    def blame(self, node: Snode | str, weight: int = 1) -> None:
        key = node if isinstance(node, str) else node.ed25519
        self.failures[key] = self.failures.get(key, 0) + weight
        if self.failures[key] >= self.max_failures:
            self._drop(lambda p: key in (h.ed25519 for h in p.hops), "struck_out")

    def guard_unreachable(self, path: Path) -> None:
        """The guard refused or dropped the connection: it alone is at fault."""
        self.blame(path.guard, self.max_failures)
        self.retire(path)

    def path_failed(self, path: Path, culprits: Sequence[str] = ()) -> None:
        """Something after the guard failed: blame the named culprits, else every hop."""
        for key in culprits or [h.ed25519 for h in path.hops]:
            self.blame(key)
        self.retire(path)

    def retire(self, path: Path, reason: str = "failed") -> None:
        self._drop(lambda p: p.id == path.id, reason)
