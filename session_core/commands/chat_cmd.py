"""``session-core chat`` (interactive), ``send`` and ``inbox`` (scriptable) for a profile.

The network comes from ``--seed URL`` (a chain JSON-RPC URL or a node's ``/storage_rpc/v1``,
repeatable) or ``--devnet DIR`` (a devnet started with ``session-core devnet up``); with
neither, the node list cached in the profile from an earlier run is used. The passphrase is
asked for, or taken from ``SESSION_CORE_PASSPHRASE``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from session_core.errors import SessionCoreError


def _options(f: Any) -> Any:
    f = click.option("--profile", required=True, help="Profile name (see `session-core id list`).")(f)
    f = click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="session_core home directory.")(f)
    f = click.option("--seed", "seeds", multiple=True, help="Seed URL (chain JSON-RPC or a node's /storage_rpc/v1).")(f)
    f = click.option("--devnet", "devnet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Use the devnet running from this directory.")(f)
    return f


def _client(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, *, sync: bool) -> Any:
    from session_core.client import Client, ClientConfig
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    info = store.info(profile)
    passphrase = os.environ.get("SESSION_CORE_PASSPHRASE") or click.prompt(f"Passphrase for {profile}", hide_input=True)
    identity = store.load(profile, passphrase)
    urls = list(seeds)
    file_server = None
    if devnet_dir is not None:
        state = json.loads((devnet_dir / "devnet.json").read_text())
        urls.append(state["chain_rpc"])
        file_server = state.get("fileserver", {}).get("client_url")
    cfg = ClientConfig(urls, store.profile_dir(profile), sync=sync, poll_interval=0.5, listen_interval=0.2,
                       file_server=file_server)
    return Client(identity, info.display_name, cfg)


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a command's coroutine; our errors become a one-line message, not a traceback."""
    try:
        asyncio.run(main())
    except SessionCoreError as exc:
        _fail(exc)


@click.command("send")
@_options
@click.option("--to", "peer", required=True, help="Recipient Session ID.")
@click.option("--request", "as_request", is_flag=True, help="Send TEXT as a friend request (first contact).")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Attach this file (uploaded to the file server through an onion path).")
@click.option("--file-server", default=None, help="File server as http://host:port#p=<ed25519 hex> (default: the devnet's).")
@click.argument("text", default="")
def send_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, peer: str,
                 as_request: bool, file_path: Path | None, file_server: str | None, text: str) -> None:
    """Send TEXT (and/or a --file) to a contact through the swarm (one-shot; prints the route)."""
    if not text and file_path is None:
        raise click.UsageError("give a TEXT, a --file, or both")

    async def run() -> None:
        c = _client(profile, home, seeds, devnet_dir, sync=False)
        try:
            await c.start(loops=False)
            if file_path is not None:
                rep = await c.send_file(peer, file_path, text, server=file_server)
            else:
                rep = await (c.send_friend_request(peer, text) if as_request else c.send_text(peer, text))
            click.echo(f"{rep.kind} sent {rep.route} in {rep.elapsed_s * 1000:.0f} ms: {rep.detail}")
        finally:
            await c.stop()

    _run(run)


@click.command("inbox")
@_options
@click.option("--accept", "accept", multiple=True, help="Accept the friend request of this Session ID.")
@click.option("--wait", default=0.0, show_default=True, help="Keep polling up to this many seconds until something arrives.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def inbox_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                  accept: tuple[str, ...], wait: float, as_json: bool) -> None:
    """Fetch new messages from the swarm, print them, list pending friend requests."""

    async def run() -> None:
        c = _client(profile, home, seeds, devnet_dir, sync=False)
        try:
            await c.start(loops=False)
            before = max([m["id"] for m in c.history()] or [0])
            deadline = time.monotonic() + wait
            while True:
                got = await c.poll_swarm()
                if got or time.monotonic() >= deadline:  # --wait: until something arrives
                    break
                await asyncio.sleep(0.5)
            await c.wait_downloads()  # attachments are saved under the profile's attachments/
            for peer in accept:
                rep = await c.accept(peer)
                click.echo(f"accepted {peer}: {rep.detail}")
            for m in c.history(after_id=before):
                if as_json:
                    click.echo(json.dumps(m))
                elif m["dir"] == "in":
                    click.echo(f"{m['name'] or m['peer'][:12]} ({m['peer'][:10]}…, {m['via']}): {m['body']}")
            for peer in c.pending_requests():
                req = c.messenger.contacts[peer].request
                click.echo(f"friend request from {peer} ({req.display_name if req else ''}): "
                           f"{req.intro if req else ''}  -> accept with --accept {peer}")
        finally:
            await c.stop()

    _run(run)


_HELP = """commands: /add SESSION_ID [intro]  /accept SESSION_ID  /to SESSION_ID  /file PATH  /contacts  /quit
anything else is sent to the current contact"""


@click.command("chat")
@_options
def chat_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None) -> None:
    """Interactive chat: add contacts, accept requests, send, see messages live."""

    async def run() -> None:
        from session_core.client import ClientEvent

        c = _client(profile, home, seeds, devnet_dir, sync=True)
        current: list[str] = []

        def show(ev: ClientEvent) -> None:
            who = ev.name or ev.peer[:12]
            if ev.kind == "message":
                click.echo(f"\r[{who} via {ev.via}] {ev.text}")
            elif ev.kind == "request":
                click.echo(f"\r[friend request from {ev.peer} ({ev.name})] {ev.text}  -> /accept {ev.peer}")
            elif ev.kind == "accepted":
                click.echo(f"\r[{who} accepted your request]")
                current[:] = [ev.peer]
            elif ev.kind == "status":
                click.echo(f"\r[{who} is {ev.text}]")
            elif ev.kind in ("file", "file_error"):
                click.echo(f"\r[{who}'s file " + (f"saved to {ev.text}]" if ev.kind == "file" else f"failed: {ev.text}]"))

        c.on_event = show
        await c.start()
        swarm = await c.router.swarm_of(c.session_id)
        click.echo(f"you are {c.session_id}\nswarm: {', '.join(n.short() for n in swarm)}; "
                   f"listening on {c.listener.node.short() if c.listener else '-'}\n{_HELP}")
        loop = asyncio.get_running_loop()
        try:
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    if line in ("/quit", "/exit"):
                        break
                    cmd, _, rest = line.partition(" ")
                    if cmd == "/add":
                        peer, _, intro = rest.strip().partition(" ")
                        rep = await c.send_friend_request(peer, intro or "Hi!")
                        current[:] = [peer]
                    elif cmd == "/accept":
                        rep = await c.accept(rest.strip())
                        current[:] = [rest.strip()]
                    elif cmd == "/to":
                        current[:] = [rest.strip()]
                        continue
                    elif cmd == "/contacts":
                        for sid, contact in c.messenger.contacts.items():
                            click.echo(f"{sid} {contact.display_name:16} {contact.state.value}")
                        continue
                    elif cmd == "/file" and current:
                        rep = await c.send_file(current[0], Path(rest.strip()).expanduser())
                    elif line.startswith("/"):
                        click.echo(_HELP)
                        continue
                    elif not current:
                        click.echo("no contact selected: /to SESSION_ID or /add SESSION_ID")
                        continue
                    else:
                        rep = await c.send_text(current[0], line)
                    click.echo(f"  ({rep.route}, {rep.elapsed_s * 1000:.0f} ms: {rep.detail})")
                except (SessionCoreError, OSError) as exc:  # OSError: a /file PATH that cannot be read
                    click.echo(f"error: {exc}")
        finally:
            await c.stop()

    _run(run)
