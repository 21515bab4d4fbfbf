"""Side-by-side speed of pubkey -> swarm lookups and of one assignment step.

Everything is measured in the same process and run, so the ratios are what
counts (noise on a shared machine hits all rows alike):

- ours: :meth:`SwarmMap.lookup_many` (C radix-table kernel) on precomputed
  spaces, and on raw (n, 32) keys including the XOR reduction;
- numpy ``searchsorted`` on precomputed spaces (only the search, no tie rule:
  generous to the baseline);
- a plain branchy C binary search (+ the same tie rule);
- the C linear scan of the 2020 storage server (on a subset: it is slow);
- one :func:`assign_swarms` step on a network of N nodes (a few joins/leaves).

Every baseline's answers are checked against ours before timing.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from session_core import swarm
from session_core.swarm import lookup as swarm_lookup
from session_core.swarm.ids import MAX_ID


@dataclass(frozen=True)
class Row:
    name: str
    keys_per_s: float


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _pin_one_core() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to cpu {cpus[-1]}"
    except (AttributeError, OSError):
        return "not pinned"


def bench_lookup(swarms: int = 10_000, keys: int = 1_000_000, repeat: int = 5, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ids = np.unique(rng.integers(0, MAX_ID, swarms, dtype=np.uint64, endpoint=True))
    spaces = rng.integers(0, np.iinfo(np.uint64).max, keys, dtype=np.uint64, endpoint=True)
    raw = rng.integers(0, 256, (keys, 32), dtype=np.uint8)
    smap = swarm.SwarmMap(ids)
    if smap.implementation != "c":
        raise RuntimeError("the swarm C extension is not built: nothing to benchmark against")
    c = swarm_lookup._c
    assert c is not None
    # Same answers before any timing.
    ours = smap.lookup_many(spaces)
    assert np.array_equal(ours, c.baseline_bsearch(ids, spaces)), "C binary search disagrees"
    py = swarm.SwarmMap(ids, backend="python")
    assert np.array_equal(ours, py.lookup_many(spaces)), "numpy reference disagrees"
    assert np.array_equal(smap.lookup_many(raw), py.lookup_many(raw)), "raw-key path disagrees"
    linear_n = max(1, min(keys, 20_000))
    sub = spaces[:linear_n]
    legacy = c.baseline_linear2020(ids, sub)
    agree = float(np.mean(legacy == ours[:linear_n]))

    rows = [
        Row("ours: lookup_many(spaces)", keys / _best(lambda: smap.lookup_many(spaces), repeat)),
        Row("ours: lookup_many(raw 32-byte keys)", keys / _best(lambda: smap.lookup_many(raw), repeat)),
        Row("numpy searchsorted (spaces)", keys / _best(lambda: np.searchsorted(ids, spaces), repeat)),
        Row("numpy reference incl. tie rule", keys / _best(lambda: py.lookup_many(spaces), repeat)),
        Row("plain C binary search", keys / _best(lambda: c.baseline_bsearch(ids, spaces), repeat)),
        Row("C linear scan (2020 server)", linear_n / _best(lambda: c.baseline_linear2020(ids, sub), max(1, repeat // 2))),
    ]
    rate = {r.name: r.keys_per_s for r in rows}
    ratios = {
        "spaces vs C binary search (target >= 2.5)": rate[rows[0].name] / rate[rows[4].name],
        "spaces vs numpy searchsorted (target >= 3)": rate[rows[0].name] / rate[rows[2].name],
        "raw keys vs numpy searchsorted on spaces (target >= 1.5)": rate[rows[1].name] / rate[rows[2].name],
        "spaces vs C linear scan": rate[rows[0].name] / rate[rows[5].name],
    }
    return {"swarms": int(ids.size), "keys": keys, "rows": rows, "ratios": ratios,
            "legacy_agreement": agree, "table_bits": int(c.default_bits(ids.size))}


def bench_assign(nodes: int = 10_000, steps: int = 5, churn: int = 5, seed: int = 1) -> dict[str, float]:
    """Time one assign_swarms step on an N-node network with *churn* joins and leaves."""
    def key(i: int) -> bytes:
        return hashlib.sha256(b"bench node %d %d" % (seed, i)).digest()

    t0 = time.perf_counter()
    layout = swarm.assign_swarms({}, [key(i) for i in range(nodes)], [], hashlib.sha256(b"0").digest()).swarms
    bootstrap = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    next_key = nodes
    times = []
    for step in range(steps):
        active = sorted(n for m in layout.values() for n in m)
        gone = [active[i] for i in rng.permutation(len(active))[:churn]]
        new = [key(next_key + i) for i in range(churn)]
        next_key += churn
        block = hashlib.sha256(b"block %d" % step).digest()
        t0 = time.perf_counter()
        layout = swarm.assign_swarms(layout, new, gone, block).swarms
        times.append(time.perf_counter() - t0)
    return {"nodes": nodes, "swarms": len(layout), "step_median_ms": statistics.median(times) * 1e3,
            "step_max_ms": max(times) * 1e3, "bootstrap_s": bootstrap}


def run(swarms: int = 10_000, keys: int = 1_000_000, repeat: int = 5, nodes: int = 10_000,
        echo: Callable[[str], None] = print) -> dict[str, Any]:
    pin = _pin_one_core()
    look = bench_lookup(swarms, keys, repeat)
    echo(f"pubkey -> swarm, {look['swarms']} swarms (uniform random ids), {keys} keys, best of {repeat}, "
         f"one core ({pin}), radix table 2^{look['table_bits']} buckets")
    for row in look["rows"]:
        echo(f"  {row.name:40} {row.keys_per_s / 1e6:9.2f} M keys/s")
    echo("ratios (same run):")
    for name, value in look["ratios"].items():
        echo(f"  {name:58} {value:8.2f}x")
    echo(f"  (2020 linear scan agrees with the current rule on {look['legacy_agreement'] * 100:.3f}% of keys)")
    assign = bench_assign(nodes)
    echo(f"assign_swarms on {assign['nodes']} nodes / {assign['swarms']} swarms, 5 joins + 5 leaves: "
         f"median {assign['step_median_ms']:.1f} ms, max {assign['step_max_ms']:.1f} ms (target < 50 ms); "
         f"bootstrap of all {assign['nodes']} nodes in one block: {assign['bootstrap_s']:.2f} s")
    return {"lookup": look, "assign": assign}
