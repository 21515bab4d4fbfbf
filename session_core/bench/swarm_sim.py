"""A swarm simulator: oxend's assignment run block after block under churn.

Sans-IO and deterministic for a given seed: node keys, block hashes, churn and
record keys all come from one seeded generator.  Each block it applies the
registrations, deregistrations, decommissions and recommissions of that block
through :func:`session_core.swarm.assign_swarms` (a burst every few blocks if
asked), then measures the swarm sizes, the nodes moved between swarms, the
record copies storage nodes would push (docs/interop.md §2.5) and checks invariants:

- every active node is in exactly one swarm;
- no swarm has fewer than 5 nodes while the network has at least 5 nodes;
- every key maps to an existing swarm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from session_core.swarm import SwarmMap, assign_swarms
from session_core.swarm.assign import SwarmChanges
from session_core.swarm.assign import MIN_SWARM_SIZE
from session_core.swarm.events import MembershipEvent, NodeJoined, SwarmCreated, SwarmDissolved

Layout = dict[int, list[bytes]]


@dataclass(frozen=True)
class SimConfig:
    """Churn model.  Rates are expected events per block (Poisson means)."""

    nodes: int = 1000
    blocks: int = 100
    join_rate: float = 1.0
    leave_rate: float = 1.0
    decommission_rate: float = 0.2
    recommission_after: int = 10
    burst_every: int = 0
    burst_size: int = 50
    records: int = 100_000
    seed: int = 1

    def check(self) -> None:
        if self.nodes < 0 or self.blocks < 0 or self.records < 0 or self.burst_size < 0:
            raise ValueError("nodes, blocks, records and burst size must be >= 0")
        for name in ("join_rate", "leave_rate", "decommission_rate"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")
        if self.recommission_after < 1 or self.burst_every < 0:
            raise ValueError("recommission_after must be >= 1 and burst_every >= 0")


@dataclass
class BlockStats:
    height: int
    active: int
    swarms: int
    min_size: int
    max_size: int
    mean_size: float
    size_counts: dict[int, int]
    joined: int
    left: int
    nodes_moved: int
    swarms_created: int
    swarms_dissolved: int
    records_pushed: int
    violations: list[str] = field(default_factory=list)


@dataclass
class SimResult:
    config: SimConfig
    blocks: list[BlockStats]

    @property
    def violations(self) -> list[str]:
        return [f"block {b.height}: {v}" for b in self.blocks for v in b.violations]


def _block_hash(seed: int, height: int) -> bytes:
    return hashlib.sha256(b"session_core swarm sim %d %d" % (seed, height)).digest()


def _check(layout: Layout, active: set[bytes], assigned: npt.NDArray[np.uint64]) -> list[str]:
    problems = []
    placed = [n for members in layout.values() for n in members]
    if len(placed) != len(set(placed)):
        problems.append("a node is in more than one swarm")
    if set(placed) != active:
        problems.append(f"{len(active ^ set(placed))} active nodes are not in exactly one swarm")
    sizes = [len(m) for m in layout.values()]
    if len(active) >= MIN_SWARM_SIZE and sizes and min(sizes) < MIN_SWARM_SIZE:
        problems.append(f"a swarm has {min(sizes)} < {MIN_SWARM_SIZE} nodes")
    if assigned.size and not np.isin(assigned, np.fromiter(layout, dtype=np.uint64)).all():
        problems.append("a key maps to a swarm that does not exist")
    return problems


def simulate(config: SimConfig, progress: Callable[[BlockStats], None] | None = None) -> SimResult:
    """Run the model; *progress* is called with each block's statistics."""
    config.check()
    rng = np.random.default_rng(config.seed)
    counter = 0

    def fresh(n: int) -> list[bytes]:
        nonlocal counter
        keys = [hashlib.sha256(b"node %d %d" % (config.seed, counter + i)).digest() for i in range(n)]
        counter += n
        return keys

    spaces = rng.integers(0, np.iinfo(np.uint64).max, config.records, dtype=np.uint64, endpoint=True)
    layout: Layout = {}
    active: set[bytes] = set()
    away: list[tuple[int, bytes]] = []  # (recommission height, node)
    assigned = np.empty(0, dtype=np.uint64)
    stats: list[BlockStats] = []

    for height in range(config.blocks + 1):
        if height == 0:
            new, gone = fresh(config.nodes), []
        else:
            joins = int(rng.poisson(config.join_rate))
            leaves = int(rng.poisson(config.leave_rate))
            decomms = int(rng.poisson(config.decommission_rate))
            if config.burst_every and height % config.burst_every == 0:
                # alternate join and leave bursts
                if (height // config.burst_every) % 2:
                    joins += config.burst_size
                else:
                    leaves += config.burst_size
            back = [n for h, n in away if h <= height]
            away = [(h, n) for h, n in away if h > height]
            pool = sorted(active)
            chosen = rng.permutation(len(pool))[: min(len(pool), leaves + decomms)]
            gone = [pool[i] for i in chosen]
            away += [(height + config.recommission_after, n) for n in gone[leaves:]]
            new = fresh(joins) + back
        if not new and not gone and height:
            # oxend only reassigns on blocks that change the active set
            stats.append(_stats(height, layout, [], 0, 0, 0, assigned, active))
            if progress:
                progress(stats[-1])
            continue
        changes = assign_swarms(layout, new, gone, _block_hash(config.seed, height))
        active = (active - set(gone)) | set(new)
        new_map = SwarmMap(changes.swarms)
        new_assigned = new_map.lookup_many(spaces) if len(new_map) else np.empty(0, dtype=np.uint64)
        pushed = _records_pushed(changes, assigned, new_assigned)
        old_of = {n: s for s, m in layout.items() for n in m}
        moved = sum(1 for s, m in changes.swarms.items() for n in m if n in old_of and old_of[n] != s)
        block = _stats(height, changes.swarms, changes.events, len(new), len(gone), moved,
                       new_assigned, active, pushed)
        layout, assigned = changes.swarms, new_assigned
        stats.append(block)
        if progress:
            progress(block)
    return SimResult(config, stats)


def _records_pushed(
    changes: SwarmChanges[bytes], old_assigned: npt.NDArray[np.uint64], new_assigned: npt.NDArray[np.uint64]
) -> int:
    """(record, destination node) copies implied by the events of one block."""
    if not new_assigned.size:
        return 0
    ids, counts = np.unique(new_assigned, return_counts=True)
    per_swarm = dict(zip(ids.tolist(), counts.tolist()))
    total = 0
    for event in changes.events:
        if isinstance(event, NodeJoined):
            total += per_swarm.get(event.swarm_id, 0)
        elif isinstance(event, SwarmCreated):
            total += per_swarm.get(event.swarm_id, 0) * len(event.members)
    dissolved = [e.swarm_id for e in changes.events if isinstance(e, SwarmDissolved)]
    if dissolved and old_assigned.size:
        salvaged = new_assigned[np.isin(old_assigned, np.array(dissolved, dtype=np.uint64))]
        sizes = {sid: len(m) for sid, m in changes.swarms.items()}
        total += sum(sizes[int(s)] for s in salvaged)
    return total


def _stats(
    height: int,
    after: Layout,
    events: list[MembershipEvent[bytes]],
    joined: int,
    left: int,
    moved: int,
    assigned: npt.NDArray[np.uint64],
    active: set[bytes],
    pushed: int = 0,
) -> BlockStats:
    sizes = [len(m) for m in after.values()]
    counts: dict[int, int] = {}
    for s in sizes:
        counts[s] = counts.get(s, 0) + 1
    return BlockStats(
        height=height,
        active=len(active),
        swarms=len(after),
        min_size=min(sizes, default=0),
        max_size=max(sizes, default=0),
        mean_size=(sum(sizes) / len(sizes)) if sizes else 0.0,
        size_counts=dict(sorted(counts.items())),
        joined=joined,
        left=left,
        nodes_moved=moved,
        swarms_created=sum(isinstance(e, SwarmCreated) for e in events),
        swarms_dissolved=sum(isinstance(e, SwarmDissolved) for e in events),
        records_pushed=pushed,
        violations=_check(after, active, assigned),
    )


def require_matplotlib() -> None:
    """Raise RuntimeError with the install hint when matplotlib is missing (check it before a
    long simulation, not after)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:  # optional extra
        raise RuntimeError("plotting needs matplotlib: pip install 'session-core[plot]'") from exc


def plot(result: SimResult, path: str) -> None:
    """Draw, per block, swarm sizes, swarm count, nodes moved and records pushed into *path*.

    One panel per quantity so each has its own scale and legend (needs matplotlib)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    blocks = result.blocks
    heights = [b.height for b in blocks]
    fig, (sizes, count, moved, pushed) = plt.subplots(
        4, 1, sharex=True, figsize=(9, 10), gridspec_kw={"height_ratios": [3, 2, 2, 2]})
    sizes.fill_between(heights, [b.min_size for b in blocks], [b.max_size for b in blocks],
                       alpha=0.3, step="mid", label="smallest .. largest swarm")
    sizes.plot(heights, [b.mean_size for b in blocks], label="mean swarm size")
    sizes.axhline(MIN_SWARM_SIZE, color="red", linestyle=":", label=f"minimum ({MIN_SWARM_SIZE})")
    sizes.set_ylabel("nodes per swarm")
    count.step(heights, [b.swarms for b in blocks], where="mid", color="tab:green", label="swarms")
    count.set_ylabel("swarms")
    # Block 0 registers the whole network at once; drawn with the rest it would flatten the
    # churn of later blocks, so the bars start at block 1 and the title gives block 0's size.
    later = blocks[1:]
    moved.bar([b.height for b in later], [b.nodes_moved for b in later], width=0.8,
              color="tab:orange", label="nodes moved to another swarm")
    moved.set_ylabel("nodes moved")
    pushed.bar([b.height for b in later], [b.records_pushed for b in later], width=0.8,
               color="tab:purple", label="record copies pushed")
    pushed.set_ylabel("records pushed")
    pushed.set_xlabel("block")
    for ax in (sizes, count, moved, pushed):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax is not count:  # the swarm count is read for its changes, not from zero
            ax.set_ylim(0, ax.get_ylim()[1] * 1.25)  # room for the legend above the bars
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize="small", ncol=3)
    c = result.config
    fig.suptitle(f"swarm simulation: {c.nodes} nodes at block 0, {c.blocks} blocks, "
                 f"{c.join_rate} joins / {c.leave_rate} leaves / {c.decommission_rate} decommissions "
                 f"per block, seed {c.seed}", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
