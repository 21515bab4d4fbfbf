"""The soak test, short (issue 11): a devnet under a store storm while nodes are SIGKILLed and
restarted at random; every acknowledged store must be retrievable afterwards from every live
member of its swarm.  The long run is ``session-core devnet soak --minutes N --kills K``."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_core.bench.soak import SoakOptions, run_soak
from session_core.errors import InvalidInputError

pytestmark = pytest.mark.slow


def test_acknowledged_stores_survive_kills_and_restarts(tmp_path: Path) -> None:
    report = run_soak(SoakOptions(
        tmp_path / "soak", nodes=5, minutes=1.0, kills=6, max_down=2, kill_interval=0.2, downtime=0.3,
        writers=2, owners=8, store_pause=0.02, block_interval=0.5, settle=30, seed=1,
    ))
    print("\n".join(report.lines()))
    assert report.events >= 3, report.lines()  # the kills happened and the nodes came back
    assert report.acked >= 100, report.lines()
    assert (report.lost, report.duplicated, report.under_replicated) == (0, 0, 0), report.lost_hashes


def test_soak_notices_a_node_that_acks_and_keeps_nothing(tmp_path: Path) -> None:
    # Without kills, one node that acknowledges stores and throws them away: the soak must count
    # what only that node acknowledged as lost (so 0 lost above means something).
    report = run_soak(SoakOptions(
        tmp_path / "soak", nodes=3, minutes=0.1, kills=0, max_down=1, writers=2, owners=4,
        store_pause=0.02, block_interval=0.5, settle=3, seed=2, misbehave={0: "drop"},
    ))
    assert report.events == 0 and report.acked > 0
    assert report.lost > 0, report.lines()


@pytest.mark.parametrize("changes", [{"nodes": 1}, {"max_down": 0}, {"max_down": 5}, {"kills": -1}, {"minutes": 0}])
def test_bad_options_are_refused_before_anything_starts(tmp_path: Path, changes: dict[str, float]) -> None:
    opt = SoakOptions(tmp_path / "soak", nodes=5)
    for k, v in changes.items():
        setattr(opt, k, v)
    with pytest.raises(InvalidInputError):
        run_soak(opt)
    assert not (tmp_path / "soak").exists()


def test_cli_refuses_bad_options_and_a_used_directory(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from session_core.cli import cli

    res = CliRunner().invoke(cli, ["devnet", "soak", "--dir", str(tmp_path / "s"), "--nodes", "3", "--max-down", "3"])
    assert res.exit_code == 2 and "max_down" in res.output
    assert not (tmp_path / "s").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "chain.db").write_bytes(b"")
    res = CliRunner().invoke(cli, ["devnet", "soak", "--dir", str(tmp_path / "used")])
    assert res.exit_code == 2 and "not empty" in res.output
