"""``session-core node``: run a service node, or benchmark one."""

from __future__ import annotations

import functools
from pathlib import Path

import click


@click.group("node")
def node_group() -> None:
    """Run or benchmark a service node."""


@node_group.command("run")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True, help="Key, database (created if missing).")
@click.option("--chain", "chain_url", required=True, help="Chain JSON-RPC URL, e.g. http://127.0.0.1:22023/json_rpc.")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address to bind and announce.")
@click.option("--http-port", default=0, show_default=True, help="Client API port (0: any free port).")
@click.option("--zmq-port", default=0, show_default=True, help="Node-to-node port (0: any free port).")
@click.option("--difficulty", default=1, show_default=True, help="Base proof-of-work difficulty.")
@click.option("--ready-file", type=click.Path(path_type=Path), default=None, help="Write ports/keys here once serving.")
@click.option("--drop-stores", is_flag=True, hidden=True, help="Fault injection: keep no records.")
@click.option("--misbehave", type=click.Choice(["drop", "tamper"]), default=None, hidden=True,
              help="TEST AID (devnet only): drop = ack stores, keep nothing; tamper = corrupt retrieved messages.")
@click.option("--observe", type=click.Path(path_type=Path), default=None, hidden=True,
              help="TEST AID: append one JSON line per request handled (source, bodies) to this file.")
@click.option("--max-mailbox-mb", default=50.0, show_default=True, help="Bytes of messages kept per Session ID.")
@click.option("--max-mailbox-messages", default=20_000, show_default=True, help="Messages kept per Session ID.")
@click.option("--max-storage-mb", default=2048.0, show_default=True, help="Bytes of messages this node keeps in all.")
@click.option("--exit-allow-loopback", is_flag=True,
              help="Let onion exits reach servers on loopback (a devnet's servers); never on a public node.")
@click.option("--python-relay", is_flag=True,
              help="Relay onion requests in Python only, not with the C relay engine (for comparisons).")
@click.option("--log-level", default="INFO", show_default=True)
def run_command(
    data_dir: Path, chain_url: str, ip: str, http_port: int, zmq_port: int, difficulty: int,
    ready_file: Path | None, drop_stores: bool, misbehave: str | None, observe: Path | None,
    max_mailbox_mb: float, max_mailbox_messages: int, max_storage_mb: float, exit_allow_loopback: bool,
    python_relay: bool, log_level: str,
) -> None:
    """Run one service node until Ctrl-C."""
    from session_core.commands.serve import serve_until_signal
    from session_core.node.service import NodeConfig, run
    from session_core.node.store import StorageLimits

    try:
        limits = StorageLimits(
            max_bytes_per_pubkey=int(max_mailbox_mb * 2**20), max_messages_per_pubkey=max_mailbox_messages,
            max_total_bytes=int(max_storage_mb * 2**20),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None

    cfg = NodeConfig(
        data_dir=data_dir, chain_url=chain_url, ip=ip, http_port=http_port, zmq_port=zmq_port,
        difficulty=difficulty, ready_file=ready_file, relay_engine=not python_relay, limits=limits,
        exit_allow_loopback=exit_allow_loopback,
    )
    if not (drop_stores or misbehave or observe):
        serve_until_signal(functools.partial(run, cfg), log_level, "node")
        return
    # Test aids (devnet only), handed to the node as wrappers of its parts.
    from session_core.node.keys import NodeKeys
    from session_core.testing import Observer, node_wrappers

    observer = None
    if observe is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        observer = Observer(NodeKeys.load_or_create(data_dir).ed25519.hex(), observe)
    wrappers = node_wrappers(drop_stores=drop_stores, misbehave=misbehave, observer=observer)
    try:
        serve_until_signal(functools.partial(run, cfg, wrappers=wrappers), log_level, "node")
    finally:
        if observer is not None:
            observer.close()


@node_group.command("bench")
@click.option("--requests", "n", default=2000, show_default=True, help="Requests per measurement.")
@click.option("--concurrency", default=16, show_default=True)
@click.option("--nodes", default=2, show_default=True, help="Devnet size (12 for the 3-hop latency goal).")
def bench_command(n: int, concurrency: int, nodes: int) -> None:
    """Store/retrieve throughput of a node vs a trivial aiohttp endpoint (same run)."""
    from session_core.bench.node_bench import main

    main(n, concurrency, nodes)
