"""The path reuse policy (issue 19): a path is reused until it fails, a node on it is struck out
or leaves the list, or it ages out; a path built around a destination is kept for the next
request to it; every build is counted by its reason.  Sans-IO, with a fake clock."""

from __future__ import annotations

import random

from session_core.client import PathPool
from tests.test_client import nodes_at


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pool_of(n: int, **kw: object) -> tuple[PathPool, FakeClock]:
    clock = FakeClock()
    pool = PathPool(random.Random(7), clock=clock, **kw)  # type: ignore[arg-type]
    pool.set_nodes(nodes_at(["127.0.0.1"] * n))
    return pool, clock


def test_a_healthy_network_reuses_its_paths() -> None:
    pool, _ = pool_of(12)
    dests = [n.ed25519 for n in pool.usable()]
    for i in range(500):
        p = pool.pick(avoid=[dests[i % len(dests)]])
        assert dests[i % len(dests)] not in (h.ed25519 for h in p.hops)
    # Only the first fill and, at most, one detour per destination the general paths cover.
    assert set(pool.built) <= {"initial", "detour"} and pool.built["initial"] == 2
    assert pool.built["detour"] <= len(dests) and pool.rebuilds == sum(pool.built.values())
    settled = pool.rebuilds
    for i in range(500):
        pool.pick(avoid=[dests[i % len(dests)]])
    assert pool.rebuilds - settled <= len(dests)  # detours evicted from the bounded pool, at most


def test_a_detour_is_kept_and_reused() -> None:
    pool, _ = pool_of(6, size=1)  # one general path: each of its hops needs a detour
    dest = pool.pick().hops[1].ed25519
    assert pool.built == {"initial": 1}
    first = pool.pick(avoid=[dest])
    assert pool.built == {"initial": 1, "detour": 1} and first in pool.paths
    for _ in range(20):
        again = pool.pick(avoid=[dest])
        assert dest not in (h.ed25519 for h in again.hops)
    assert pool.rebuilds == 2  # reused, not built again per request as before


def test_each_rebuild_says_why() -> None:
    pool, clock = pool_of(12, max_age=600.0)
    p = pool.pick()
    assert pool.built == {"initial": 2}
    pool.path_failed(p)
    pool.pick()
    assert pool.built["failed"] == 1
    clock.now += 600.0  # both general paths age out together
    pool.pick()
    assert pool.built["aged"] == 2
    q = pool.general[0]
    pool.guard_unreachable(q)  # the guard is struck out: the path goes, counted as failed or struck
    pool.pick()
    assert pool.built["failed"] + pool.built["struck_out"] == 2
    r = pool.general[0]
    pool.set_nodes([n for n in pool.usable() if n.ed25519 != r.hops[2].ed25519])
    pool.pick()
    assert pool.built["left"] >= 1
    assert pool.rebuilds == sum(pool.built.values())
