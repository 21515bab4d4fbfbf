"""Swarm simulator, `session-core swarm` CLI and the benchmark harness (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from session_core import swarm
from session_core.swarm import lookup as swarm_lookup
from session_core.commands.swarm_cmd import swarm_group
from session_core.bench.swarm_sim import SimConfig, _check, simulate

SMALL = SimConfig(nodes=120, blocks=12, join_rate=2, leave_rate=2, decommission_rate=1,
                  recommission_after=3, burst_every=5, burst_size=30, records=3000, seed=5)


def test_simulation_is_deterministic_and_keeps_invariants() -> None:
    a = simulate(SMALL)
    assert a.blocks == simulate(SMALL).blocks
    assert a.blocks != simulate(SimConfig(**{**SMALL.__dict__, "seed": 6})).blocks
    assert a.violations == []
    assert len(a.blocks) == SMALL.blocks + 1
    assert any(b.joined >= SMALL.burst_size for b in a.blocks[1:])
    assert any(b.left >= SMALL.burst_size for b in a.blocks[1:])
    for b in a.blocks:
        assert sum(s * c for s, c in b.size_counts.items()) == b.active
        assert b.swarms == sum(b.size_counts.values())


def test_block_zero_pushes_every_record_to_its_whole_swarm() -> None:
    result = simulate(SimConfig(nodes=70, blocks=0, records=500, seed=2))
    block = result.blocks[0]
    assert block.swarms_created == block.swarms
    # Recompute independently: every record goes to each member of its swarm.
    rng = np.random.default_rng(2)
    spaces = rng.integers(0, np.iinfo(np.uint64).max, 500, dtype=np.uint64, endpoint=True)
    from session_core.bench.swarm_sim import _block_hash
    import hashlib

    nodes = [hashlib.sha256(b"node %d %d" % (2, i)).digest() for i in range(70)]
    layout = swarm.assign_swarms({}, nodes, [], _block_hash(2, 0)).swarms
    owners = swarm.SwarmMap(layout).lookup_many(spaces)
    assert block.records_pushed == sum(len(layout[int(o)]) for o in owners)


def test_invariant_checker_reports_breakage() -> None:
    a, b, c = (bytes([i]) * 32 for i in range(3))
    spaces = np.array([1, 2], dtype=np.uint64)
    assert _check({10: [a, b, c, a, b]}, {a, b, c}, spaces[:0]) != []  # node twice
    assert any("not in exactly one" in p for p in _check({10: [a, b]}, {a, b, c}, spaces[:0]))
    many = {bytes([i]) * 32 for i in range(10)}
    ordered = sorted(many)
    assert any("< 5" in p for p in _check({1: ordered[:3], 2: ordered[3:]}, many, spaces[:0]))
    assert any("does not exist" in p for p in _check({1: ordered}, many, np.array([2], dtype=np.uint64)))
    assert _check({1: ordered}, many, np.array([1], dtype=np.uint64)) == []


@pytest.mark.parametrize("field,value", [("nodes", -1), ("join_rate", -0.5), ("recommission_after", 0),
                                         ("leave_rate", float("nan"))])
def test_bad_config(field: str, value: float) -> None:
    with pytest.raises(ValueError):
        SimConfig(**{**SMALL.__dict__, field: value}).check()


def test_cli_simulate_text_json_and_plot(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["simulate", "--nodes", "60", "--blocks", "6", "--join-rate", "2", "--leave-rate", "1",
            "--records", "500", "--seed", "3", "--every", "2"]
    out = runner.invoke(swarm_group, args)
    assert out.exit_code == 0, out.output
    assert "invariants: all held" in out.output and "summary: 6 blocks" in out.output
    png = tmp_path / "sim.png"
    out = runner.invoke(swarm_group, [*args, "--json", "--plot", str(png)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert len(data["blocks"]) == 7 and data["config"]["seed"] == 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_rows_add_up_to_the_summary() -> None:
    # Rows every 4 blocks: each row's joins/leaves/moves/pushes are totals since the previous
    # row, so together (block 0 aside) they equal the summary's figures.
    args = ["simulate", "--nodes", "120", "--blocks", "12", "--join-rate", "2", "--leave-rate", "2",
            "--decommission-rate", "1", "--recommission-after", "3", "--burst-every", "5",
            "--burst-size", "30", "--records", "3000", "--seed", "5", "--every", "4"]
    out = CliRunner().invoke(swarm_group, args)
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.output.splitlines() if line[:6].strip().isdigit()]
    assert [int(r[0]) for r in rows] == [0, 4, 8, 12]
    moved = sum(int(r[8]) for r in rows[1:])
    pushed = sum(int(r[11]) for r in rows[1:])
    result = simulate(SMALL)
    assert moved == sum(b.nodes_moved for b in result.blocks[1:]) > 0
    assert f"nodes moved {moved};" in out.output
    assert f"records pushed after block 0: {pushed};" in out.output


def test_cli_plot_without_matplotlib_fails_before_simulating(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    import sys

    import session_core.bench.swarm_sim as sim

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    ran = []
    monkeypatch.setattr(sim, "simulate", lambda *a, **k: ran.append(1))
    out = CliRunner().invoke(swarm_group, ["simulate", "--plot", str(tmp_path / "x.png")])
    assert out.exit_code == 1 and "pip install 'session-core[plot]'" in out.output
    assert not ran and not (tmp_path / "x.png").exists()


def test_cli_rejects_bad_options() -> None:
    out = CliRunner().invoke(swarm_group, ["simulate", "--nodes", "-5"])
    assert out.exit_code != 0 and "must be >= 0" in out.output


def test_cli_space() -> None:
    runner = CliRunner()
    out = runner.invoke(swarm_group, ["space", "050123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])
    assert out.exit_code == 0 and out.output.strip() == "0"
    out = runner.invoke(swarm_group, ["space", "05zz"])
    assert out.exit_code != 0 and "66 chars" in out.output


def test_bench_harness_runs_and_cross_checks() -> None:
    if swarm_lookup._c is None:
        pytest.skip("C extension not built: the benchmark needs it")
    from session_core.bench.swarm_bench import bench_assign, bench_lookup

    look = bench_lookup(swarms=300, keys=3000, repeat=1)
    assert [r.name for r in look["rows"]][0].startswith("ours") and all(r.keys_per_s > 0 for r in look["rows"])
    assert set(look["ratios"]) and look["swarms"] <= 300
    assign = bench_assign(nodes=100, steps=2, churn=3)
    assert assign["nodes"] == 100 and assign["swarms"] >= 1
