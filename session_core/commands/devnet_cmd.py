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
    from session_core.devnet.process import run_until_signal

    run_until_signal(
        functools.partial(
            serve_chain, db, seed, ip, port, block_interval,
            ready_file=ready_file, decommission_after=decommission_after,
            deregister_after_blocks=deregister_after_blocks,
        ),
        log_level,
    )
