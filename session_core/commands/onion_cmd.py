"""``session-core onion``: benchmark and inspect onion requests."""

from __future__ import annotations

import json

import click


@click.group("onion")
def onion_group() -> None:
    """Onion requests (Session v2 format): benchmark and backend report."""


@onion_group.command("bench")
@click.option("--quick", is_flag=True, help="Fewer rounds: rough figures in a few seconds.")
@click.option("--sodium", default=None, help="libsodium to time: pynacl, system or a path.")
@click.option("--rounds", type=int, default=None, help="Interleaved rounds, best kept (default 50).")
@click.option("--only", type=click.Choice(["table", "scaling"]), default=None, help="Run one part only.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw figures as JSON.")
def bench_command(quick: bool, sodium: str | None, rounds: int | None, only: str | None, as_json: bool) -> None:
    """Build/peel times vs the libsodium primitive sum and the PyNaCl baseline, same run;
    peel_many on 1 vs 2 threads (wall clock)."""
    from session_core.bench.onion_bench import format_table, run

    result = run(quick=quick, sodium=sodium, only=only, rounds=rounds)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))


@onion_group.command("info")
def info_command() -> None:
    """Which implementation and which libsodium session_core.onion uses."""
    from session_core import onion

    click.echo(json.dumps(onion.backend_info(), indent=2))
