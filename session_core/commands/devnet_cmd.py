"""``session-core devnet``: a local network (chain + N nodes) on loopback."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import click

_DEFAULT_DIR = "devnet-data"


def _dir_option(f: Any) -> Any:
    return click.option(
        "--dir", "directory", type=click.Path(path_type=Path), default=_DEFAULT_DIR, show_default=True,
        help="Where the devnet keeps its chain, node data, logs and state.",
    )(f)


# Words a user may reach for, and the command that does it (click would suggest `status`).
_ALIASES = {"start": "up", "run": "up", "stop": "down", "kill": "down", "show": "status", "ls": "status"}


class _DevnetGroup(click.Group):
    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        if args and args[0] in _ALIASES and args[0] not in self.commands:
            raise click.UsageError(f"no command {args[0]!r}: did you mean `session-core devnet {_ALIASES[args[0]]}`?",
                                   ctx)
        return super().resolve_command(ctx, args)


@click.group("devnet", cls=_DevnetGroup)
def devnet_group() -> None:
    """Start, inspect and stop a local devnet."""


def _table(status: dict[str, Any]) -> str:
    lines = [f"chain {status['chain_rpc']}  height {status['height']}  block {status['block_hash'][:16]}…"]
    lines.append(f"{'node':8} {'http':24} {'ed25519':18} {'swarm':>20} {'state':14} {'msgs':>6}")
    for n in sorted(status["nodes"], key=lambda n: (str(n["swarm_id"]), n["name"])):
        lines.append(
            f"{n['name']:8} {n['http']:24} {n['ed25519'][:16]}… {str(n['swarm_id']):>20} {n['state']:14} "
            f"{str(n.get('messages')):>6}"
        )
    swarms: dict[Any, int] = {}
    for n in status["nodes"]:
        swarms[n["swarm_id"]] = swarms.get(n["swarm_id"], 0) + 1
    lines.append(f"{len(swarms)} swarms: " + ", ".join(f"{sid}: {c} nodes" for sid, c in sorted(swarms.items(), key=str)))
    if "fileserver" in status:
        lines.append(f"file server {status['fileserver']['client_url']}")
    for token, url in status.get("opengroup", {}).get("rooms", {}).items():
        lines.append(f"room {token}: {url}")
    return "\n".join(lines)


@devnet_group.command("up")
@_dir_option
@click.option("--nodes", default=12, show_default=True, help="How many service nodes.")
@click.option("--difficulty", default=1, show_default=True, help="Base proof-of-work difficulty (low for local use).")
@click.option("--block-interval", default=2.0, show_default=True, help="Seconds between blocks.")
@click.option("--seed", default="devnet", show_default=True, help="Block hashes are derived from this.")
@click.option("--detach", is_flag=True, help="Return once the devnet is up (stop it with `devnet down`).")
@click.option("--fileserver", is_flag=True, help="Also run a file server for attachments (its key is in the status).")
@click.option("--opengroup", is_flag=True, help="Also run a room server with rooms lobby and dev (URLs in the status).")
def up_command(directory: Path, nodes: int, difficulty: int, block_interval: float, seed: str, detach: bool,
               fileserver: bool, opengroup: bool) -> None:
    """Start a chain and NODES nodes on loopback; Ctrl-C stops everything."""
    from session_core.devnet.launcher import Devnet, DevnetOptions
    from session_core.errors import DevnetError

    if nodes < 1:
        raise click.BadParameter("need at least one node", param_hint="--nodes")
    net = Devnet(directory)
    opts = DevnetOptions(directory, nodes=nodes, difficulty=difficulty, block_interval=block_interval, seed=seed,
                         fileserver=fileserver, opengroup=opengroup)
    click.echo(f"starting a chain and {nodes} nodes in {directory} …")
    try:
        net.up(opts)
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_table(net.status()))
    if detach:
        click.echo(f"running in the background; `session-core devnet down --dir {directory}` stops it")
        return
    click.echo("devnet is up; Ctrl-C to stop")
    try:
        while all(p.poll() is None for p in net.procs.values()):
            time.sleep(0.5)
        click.echo("a devnet process exited; stopping the rest", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping …")
    finally:
        net.down()
    click.echo("devnet stopped")


@devnet_group.command("status")
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: chain RPC URL and every node's address and keys.")
def status_command(directory: Path, as_json: bool) -> None:
    """Heights, swarms and message counts of a running devnet."""
    from session_core.devnet.launcher import Devnet
    from session_core.errors import DevnetError

    try:
        net, _ = Devnet.load(directory)
        status = net.status()
    except (DevnetError, OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot read the devnet in {directory}: {exc} "
                                   f"(start one with `session-core devnet up --detach --dir {directory}`)") from None
    click.echo(json.dumps(status, indent=2) if as_json else _table(status))


@devnet_group.command("down")
@_dir_option
def down_command(directory: Path) -> None:
    """Stop a devnet started with `up --detach` (or left behind)."""
    from session_core.devnet.launcher import STATE_FILE, down_from_state
    from session_core.errors import DevnetError

    if not (directory / STATE_FILE).exists():
        # Already down (a second `down`, or never up): the goal is reached, so exit 0.
        click.echo(f"no devnet running from {directory}: nothing to stop")
        return
    try:
        n = down_from_state(directory)
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stopped {n} processes")


@devnet_group.command("chain", hidden=True)
@click.option("--db", type=click.Path(path_type=Path), required=True)
@click.option("--seed", default="devnet")
@click.option("--ip", default="127.0.0.1")
@click.option("--port", default=0)
@click.option("--block-interval", default=2.0)
@click.option("--ready-file", type=click.Path(path_type=Path), default=None)
@click.option("--decommission-after", default=2)
@click.option("--deregister-after-blocks", default=10)
@click.option("--log-level", default="INFO")
def chain_command(
    db: Path, seed: str, ip: str, port: int, block_interval: float, ready_file: Path | None,
    decommission_after: int, deregister_after_blocks: int, log_level: str,
) -> None:
    """Run the devnet chain process (started by `devnet up`)."""
    from session_core.devnet.chain_server import serve_chain
    from session_core.commands.serve import serve_until_signal

    serve_until_signal(
        functools.partial(
            serve_chain, db, seed, ip, port, block_interval,
            ready_file=ready_file, decommission_after=decommission_after,
            deregister_after_blocks=deregister_after_blocks,
        ),
        log_level,
        "devnet chain",
    )


@devnet_group.command("soak")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default="devnet-soak", show_default=True,
              help="A fresh directory for the soak's devnet (chain, node data, logs).")
@click.option("--minutes", default=10.0, show_default=True, help="Stop the storm after this long ...")
@click.option("--kills", default=1000, show_default=True, help="... or after this many kill/restart events.")
@click.option("--nodes", default=5, show_default=True, help="Service nodes in the devnet.")
@click.option("--max-down", default=2, show_default=True, help="Most nodes killed at the same time.")
@click.option("--kill-interval", default=0.3, show_default=True, help="Mean seconds between one killer's kills.")
@click.option("--downtime", default=0.5, show_default=True, help="Longest a killed node stays down (seconds).")
@click.option("--writers", default=3, show_default=True, help="Threads storing messages.")
@click.option("--owners", default=16, show_default=True, help="Session IDs the messages are stored for.")
@click.option("--store-pause", default=0.0, show_default=True, help="Seconds each writer waits between stores.")
@click.option("--settle", default=60.0, show_default=True, help="Seconds given to replication after the storm.")
@click.option("--seed", default=None, type=int, help="Seed the random choices (kills, owners) for a rerun.")
def soak_command(
    directory: Path, minutes: float, kills: int, nodes: int, max_down: int, kill_interval: float,
    downtime: float, writers: int, owners: int, store_pause: float, settle: float, seed: int | None,
) -> None:
    """Store storm while nodes are SIGKILLed and restarted; every acked message must survive.

    Prints kill/restart events survived and messages acked, lost (on no member of their swarm
    afterwards) and duplicated; exits 1 if any acknowledged message was lost."""
    import logging

    from session_core.bench.soak import SoakOptions, run_soak
    from session_core.errors import DevnetError, InvalidInputError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if directory.exists() and any(directory.iterdir()):
        raise click.BadParameter(f"{directory} is not empty; a soak starts from a fresh devnet", param_hint="--dir")
    opts = SoakOptions(
        directory, nodes=nodes, minutes=minutes, kills=kills, max_down=max_down, kill_interval=kill_interval,
        downtime=downtime, writers=writers, owners=owners, store_pause=store_pause, settle=settle, seed=seed,
    )
    click.echo(f"soak: {nodes} nodes, up to {max_down} down at once, for {minutes:g} min or {kills} kills …")
    try:
        report = run_soak(opts)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc)) from None
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    if report.lost:
        raise SystemExit(1)
