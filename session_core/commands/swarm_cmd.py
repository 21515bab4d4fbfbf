"""``session-core swarm``: map keys to swarms, simulate swarm churn, benchmark lookups."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from session_core.errors import SessionCoreError


@click.group("swarm")
def swarm_group() -> None:
    """Swarm space: key -> swarm mapping, oxend's assignment simulator, benchmarks."""


@swarm_group.command("space")
@click.argument("pubkey")
def space_command(pubkey: str) -> None:
    """Print the 64-bit swarm-space value of a 66-hex Session ID."""
    from session_core.swarm import swarm_space

    try:
        click.echo(str(swarm_space(pubkey)))
    except SessionCoreError as exc:
        raise click.BadParameter(str(exc), param_hint="PUBKEY") from exc


@swarm_group.command("simulate")
@click.option("--nodes", default=1000, show_default=True, help="Nodes registered at block 0.")
@click.option("--blocks", default=100, show_default=True, help="Blocks to simulate after block 0.")
@click.option("--join-rate", default=1.0, show_default=True, help="Registrations per block (Poisson mean).")
@click.option("--leave-rate", default=1.0, show_default=True, help="Deregistrations per block (Poisson mean).")
@click.option("--decommission-rate", default=0.2, show_default=True, help="Decommissions per block (Poisson mean).")
@click.option("--recommission-after", default=10, show_default=True, help="Blocks until a decommissioned node returns.")
@click.option("--burst-every", default=0, show_default=True, help="Every N blocks a burst (alternating joins/leaves); 0 = none.")
@click.option("--burst-size", default=50, show_default=True, help="Nodes in a burst.")
@click.option("--records", default=100_000, show_default=True, help="Stored records whose pushes are counted.")
@click.option("--seed", default=1, show_default=True, help="Seed: same seed, same run.")
@click.option("--every", default=10, show_default=True, help="Print one line every N blocks (0 = summary only).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw sizes and counts over time into this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print every block's statistics as JSON.")
def simulate_command(nodes: int, blocks: int, join_rate: float, leave_rate: float, decommission_rate: float,
                     recommission_after: int, burst_every: int, burst_size: int, records: int, seed: int,
                     every: int, plot_path: str | None, as_json: bool) -> None:
    """Run oxend's swarm assignment over time and report sizes, moves, pushes and invariants."""
    from session_core.bench.swarm_sim import BlockStats, SimConfig, plot, require_matplotlib, simulate

    config = SimConfig(nodes, blocks, join_rate, leave_rate, decommission_rate, recommission_after,
                       burst_every, burst_size, records, seed)
    try:
        config.check()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if plot_path:
        try:
            require_matplotlib()  # before the simulation, which can take minutes
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None

    # A row stands for every block since the previous row: its joins, leaves, moves, new and
    # dissolved swarms and pushes are totals over those blocks, so the rows add up to the summary.
    since: list[BlockStats] = []

    def dist(b: BlockStats) -> str:
        return " ".join(f"{size}:{count}" for size, count in b.size_counts.items())

    def line(b: BlockStats) -> None:
        since.append(b)
        if as_json or not every or (b.height % every and b.height != blocks and not b.violations):
            return

        def total(field: str) -> int:
            return sum(getattr(x, field) for x in since)

        click.echo(f"{b.height:6} {b.active:7} {b.swarms:6} {b.min_size:4} {b.mean_size:6.2f} {b.max_size:4} "
                   f"{total('joined'):5} {total('left'):5} {total('nodes_moved'):5} {total('swarms_created'):4} "
                   f"{total('swarms_dissolved'):4} {total('records_pushed'):9}  {dist(b)}"
                   f"{'  BROKEN: ' + '; '.join(b.violations) if b.violations else ''}")
        since.clear()

    if not as_json and every:
        click.echo("        ---- at this block ----------  -- since the previous row ------------")
        click.echo(" block  active swarms  min   mean  max joins  left moved  new diss    pushed  sizes (size:swarms)")
    result = simulate(config, line)
    if as_json:
        click.echo(json.dumps({"config": asdict(config), "blocks": [asdict(b) for b in result.blocks]}))
    else:
        after = result.blocks[1:] or result.blocks
        click.echo(f"summary: {len(result.blocks) - 1} blocks, final {result.blocks[-1].active} nodes in "
                   f"{result.blocks[-1].swarms} swarms; swarm size min {min(b.min_size for b in after)} "
                   f"max {max(b.max_size for b in after)}; blocks 1..{len(result.blocks) - 1}: "
                   f"nodes moved {sum(b.nodes_moved for b in after)}; "
                   f"records pushed after block 0: {sum(b.records_pushed for b in after)}; "
                   f"final size distribution {result.blocks[-1].size_counts}")
        click.echo(f"invariants: {'all held' if not result.violations else str(len(result.violations)) + ' broken'}")
    if plot_path:
        try:
            plot(result, plot_path)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        if not as_json:
            click.echo(f"plot written to {plot_path}")
    if result.violations:
        raise SystemExit(1)


@swarm_group.command("bench")
@click.option("--swarms", default=10_000, show_default=True)
@click.option("--keys", default=1_000_000, show_default=True)
@click.option("--repeat", default=5, show_default=True)
@click.option("--nodes", default=10_000, show_default=True, help="Network size for the assignment step.")
def bench_command(swarms: int, keys: int, repeat: int, nodes: int) -> None:
    """Lookup throughput and ratios vs numpy / C binary search / C linear scan, all in this run."""
    from session_core.bench.swarm_bench import run

    try:
        run(swarms, keys, repeat, nodes, echo=click.echo)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
