"""``session-core chat`` (interactive), ``send`` and ``inbox`` (scriptable) for a profile.

The network comes from ``--seed URL`` (a chain JSON-RPC URL or a node's ``/storage_rpc/v1``,
repeatable) or ``--devnet DIR`` (a devnet started with ``session-core devnet up``); with
neither, the node list cached in the profile from an earlier run is used. The passphrase is
asked for, or taken from ``SESSION_CORE_PASSPHRASE``.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


_SEED_HINT = ("--devnet DIR (a devnet started with `session-core devnet up`) or --seed URL "
              "(a chain's http://HOST:PORT/json_rpc or a node's http://HOST:PORT/storage_rpc/v1)")

# What aiohttp's exception names mean to someone who typed a URL.
_PLAIN_REASONS = {"ClientConnectorError": "cannot connect", "InvalidUrlClientError": "not a valid URL",
                  "TimeoutError": "timed out", "ServerDisconnectedError": "disconnected",
                  "ClientOSError": "connection failed"}


def _seed_urls(seeds: tuple[str, ...], devnet_dir: Path | None) -> list[str]:
    urls = []
    for seed in seeds:
        parts = urlsplit(seed)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            click.echo(f"warning: --seed {seed!r} is not an http(s) URL (e.g. http://127.0.0.1:PORT/json_rpc); "
                       "ignored", err=True)
            continue
        urls.append(seed)
    if devnet_dir is not None:
        state_file = devnet_dir / "devnet.json"
        if not state_file.exists():
            raise click.ClickException(
                f"no devnet in {devnet_dir}: start one with `session-core devnet up --detach --dir {devnet_dir}`")
        try:
            urls.append(str(json.loads(state_file.read_text())["chain_rpc"]))
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(
                f"cannot read {state_file} ({exc}): restart the devnet with "
                f"`session-core devnet down --dir {devnet_dir} && session-core devnet up --detach --dir {devnet_dir}`"
            ) from None
    return urls


def _devnet_file_server(devnet_dir: Path | None) -> str | None:
    """The file server a devnet started with ``--fileserver`` runs (its client URL), if any."""
    if devnet_dir is None:
        return None
    state = json.loads((devnet_dir / "devnet.json").read_text())  # _seed_urls checked it reads
    server = state.get("fileserver", {}).get("client_url")
    return str(server) if server else None


def _last_failure(message: str) -> str:
    """'... guard X: http://127.0.0.1:4093/onion_req/v2: ClientConnectorError' -> 'last: 127.0.0.1:4093
    cannot connect'; the router's full chain of hops is for logs, not for this line."""
    host = re.search(r"https?://([^/\s]+)", message)
    reason = message.rsplit(": ", 1)[-1]
    return f"last: {host.group(1) + ' ' if host else ''}{_PLAIN_REASONS.get(reason, reason)}"


def _plain(reason: str, url: str) -> str:
    reason = reason.removeprefix(f"{url}: ")
    return _PLAIN_REASONS.get(reason, reason)


def _client(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, *, sync: bool) -> Any:
    from session_core.client import Client, ClientConfig
    from session_core.identity_store import ProfileStore

    urls = _seed_urls(seeds, devnet_dir)
    store = ProfileStore(home)
    try:
        info = store.info(profile)
    except SessionCoreError as exc:
        from session_core.commands.unlock import missing_profile

        raise click.ClickException(missing_profile(exc, profile)) from None
    if not urls and not (store.profile_dir(profile) / "nodes.json").exists():
        raise click.ClickException(f"no network to use: {profile} has no cached node list yet; give {_SEED_HINT}")
    from session_core.commands.unlock import unlock_identity

    identity = unlock_identity(store, profile)  # the PIN when one is set, else the passphrase
    cfg = ClientConfig(urls, store.profile_dir(profile), sync=sync, poll_interval=0.5, listen_interval=0.2,
                       file_server=_devnet_file_server(devnet_dir),
                       multi_device=(store.profile_dir(profile) / "multi_device").exists())  # `id link`/`id join`
    return Client(identity, info.display_name, cfg)


async def _start(c: Any, *, loops: bool, recipient: str | None = None) -> None:
    """Start the client; on failure stop it (no unclosed sessions) and say what to do."""
    from session_core.errors import DeliveryError, NodeListError

    try:
        await c.start(loops=loops)
    except (NodeListError, DeliveryError) as exc:
        await _stop(c)
        failed = getattr(c.nodelist, "unanswered", {})
        if isinstance(exc, NodeListError) and failed:
            tried = "; ".join(f"{url}: {_plain(why, url)}" for url, why in failed.items())
            raise click.ClickException(
                f"no seed answered ({tried}) and {c.messenger.display_name or 'this profile'} has no cached "
                "node list: is the devnet or node running? (`session-core devnet status`)") from None
        if isinstance(exc, NodeListError):
            raise click.ClickException(f"{exc}: give {_SEED_HINT}") from None
        about = f"to send to {recipient[:12]}…" if recipient else "to find your swarm"
        raise click.ClickException(
            f"cannot reach the network {about}: no known node answered ({_last_failure(str(exc))}); "
            "are the nodes running? (`session-core devnet status`), or give a live --devnet DIR / --seed URL"
        ) from None
    except BaseException:
        await _stop(c)
        raise
    failed = getattr(c.nodelist, "unanswered", {})
    if failed and getattr(c.nodelist, "from_cache", False):
        tried = "; ".join(f"{url}: {_plain(why, url)}" for url, why in failed.items())
        click.echo(f"warning: no seed answered ({tried}); using the node list cached from an earlier run", err=True)


async def _stop(c: Any) -> None:
    try:
        await c.stop()
    except Exception as exc:  # stopping must not hide the error that brought us here
        click.echo(f"warning: stopping the client failed: {exc}", err=True)


def _is_session_id(text: str) -> bool:
    return len(text) == 66 and text.startswith("05") and all(ch in string.hexdigits for ch in text)


def _name(c: Any, peer: str, given: str = "") -> str:
    """The name to show for *peer*: the one in the event, the contact's, else a short ID."""
    contact = c.messenger.contacts.get(peer)
    return given or (contact.display_name if contact is not None and contact.display_name else "") or peer[:12] + "…"


def _settings(c: Any, peer: str, cmd: str, arg: str) -> None:
    """/mute [MINUTES] (no MINUTES: until unmuted), /unmute, /pin, /unpin."""
    from session_core.errors import InvalidInputError
    from session_core.protocol.config import MUTED_FOREVER

    if cmd == "/mute":
        if arg and not arg.isdigit():
            raise InvalidInputError(f"/mute takes a number of minutes, not {arg[:20]!r}")
        c.mute(peer, c.clock.now_ms() + int(arg) * 60_000 if arg else MUTED_FOREVER)
    elif cmd == "/unmute":
        c.mute(peer, None)
    else:
        c.pin(peer, cmd == "/pin")


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a command's coroutine; our errors become a one-line message, not a traceback."""
    try:
        asyncio.run(main())
    except SessionCoreError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(130) from None


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
        if not _is_session_id(peer):
            raise click.BadParameter(f"{peer[:80]!r} is not a Session ID (66 hex digits starting with 05)",
                                     param_hint="--to")
        c = _client(profile, home, seeds, devnet_dir, sync=False)
        await _start(c, loops=False, recipient=peer)
        try:
            if file_path is not None:
                rep = await c.send_file(peer, file_path, text, server=file_server)
            else:
                rep = await (c.send_friend_request(peer, text) if as_request else c.send_text(peer, text))
            click.echo(f"{rep.kind} sent {rep.route} in {rep.elapsed_s * 1000:.0f} ms: {rep.detail}")
        finally:
            await _stop(c)

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
        await _start(c, loops=False)
        try:
            before = max([m["id"] for m in c.history()] or [0])
            deadline = time.monotonic() + wait
            events = []
            while True:
                got = await c.poll_swarm()
                events += got
                if got or c.wiped or time.monotonic() >= deadline:  # --wait: until something arrives
                    break
                await asyncio.sleep(0.5)
            if c.wiped:
                click.echo("this profile was wiped: a trusted friend sent the remote-wipe secret")
                return
            for ev in events:
                if ev.kind == "timer":
                    click.echo(f"{_name(c, ev.peer)} set disappearing messages: {ev.text}")
                if ev.kind == "group_invite" and not as_json:
                    click.echo(f"{_name(c, ev.peer)} invited you to the group {ev.name or ev.text[:12] + '…'}: "
                               f"`session-core group accept {ev.text}` (or decline)")
                if ev.kind == "accepted":
                    if as_json:
                        click.echo(json.dumps({"event": "accepted", "peer": ev.peer, "name": ev.name}))
                    else:
                        click.echo(f"{_name(c, ev.peer, ev.name)} ({ev.peer[:10]}…) accepted your friend request: "
                                   f"send with `session-core send --profile {profile} --to {ev.peer} TEXT`")
            await c.wait_downloads()  # attachments are saved under the profile's attachments/
            for peer in accept:
                rep = await c.accept(peer)
                click.echo(f"accepted {peer}: {rep.detail}")
            pinned = set(c.pinned())  # pinned conversations first, then arrival order
            for m in sorted(c.history(after_id=before), key=lambda m: m["peer"] not in pinned):
                muted = c.muted(m["peer"])  # muted (on any device of the account): a marker, not a notification
                if as_json:
                    click.echo(json.dumps({**m, "muted": muted, "pinned": m["peer"] in pinned}))
                elif m["dir"] == "in":
                    click.echo(f"{'(muted) ' if muted else ''}{_name(c, m['peer'], m['name'])} "
                               f"({m['peer'][:10]}…, {m['via']}): {m['body']}")
            await c.mark_read()  # shown: after-read timers start now
            for peer in c.pending_requests():
                req = c.messenger.contacts[peer].request
                click.echo(f"friend request from {peer} ({req.display_name if req else ''}): "
                           f"{req.intro if req else ''}  -> accept with --accept {peer}")
        finally:
            await _stop(c)

    _run(run)


_HELP = """commands: /add SESSION_ID [intro]  /accept SESSION_ID  /to SESSION_ID|@NAME  /file PATH  /contacts
/group [03…|new]  /quit
/mute [MINUTES]  /unmute  /pin  /unpin (the current contact; synced to the account's other devices)
protections: /disappear after_send:SECONDS|after_read:SECONDS|off  /arm (remote wipe for the current
contact)  /disarm  /backup FILE  /wipe yes
anything else is sent to the current contact (or group)"""


@click.command("chat")
@_options
def chat_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None) -> None:
    """Interactive chat: add contacts, accept requests, send, see messages live."""

    async def run() -> None:
        from session_core.client import ClientEvent

        c = _client(profile, home, seeds, devnet_dir, sync=True)
        current: list[str] = []

        def show(ev: ClientEvent) -> None:
            who = _name(c, ev.peer, ev.name)
            if ev.kind == "message" and ev.muted:
                # Muted: no notification; shown (marked) only in the conversation on screen.
                if current and current[0] == ev.peer:
                    click.echo(f"\r[{who} via {ev.via}, muted] {ev.text}")
                    asyncio.get_running_loop().create_task(c.mark_read(ev.peer))  # shown = read
            elif ev.kind == "message":
                click.echo(f"\r[{who} via {ev.via}] {ev.text}")
                asyncio.get_running_loop().create_task(c.mark_read(ev.peer))  # shown = read
            elif ev.kind == "timer":
                click.echo(f"\r[{who} set disappearing messages: {ev.text}]")
            elif ev.kind == "wiped":
                click.echo("\r[this profile was wiped by a trusted friend: press Enter to quit]")
            elif ev.kind == "request":
                click.echo(f"\r[friend request from {ev.peer} ({ev.name})] {ev.text}  -> /accept {ev.peer}")
            elif ev.kind == "accepted":
                click.echo(f"\r[{who} accepted your request]")
                current[:] = [ev.peer]
            elif ev.kind == "status":
                click.echo(f"\r[{who} is {ev.text}]")
            elif ev.kind == "group_invite":
                click.echo(f"\r[{who} invited you to the group {ev.name or ev.text[:12] + '…'}] -> /group {ev.text}")
            elif ev.kind in ("file", "file_error"):
                click.echo(f"\r[{who}'s file " + (f"saved to {ev.text}]" if ev.kind == "file" else f"failed: {ev.text}]"))

        c.on_event = show
        await _start(c, loops=True)
        try:
            swarm = await c.router.swarm_of(c.session_id)
        except SessionCoreError:
            await _stop(c)
            raise
        click.echo(f"you are {c.session_id}\nswarm: {', '.join(n.short() for n in swarm)}; "
                   f"listening on {c.listener.node.short() if c.listener else '-'}\n{_HELP}")
        loop = asyncio.get_running_loop()
        from session_core.commands.group_chat import ChatGroups  # /group: closed groups (docs/groups.md)

        groups = ChatGroups(c)
        group_poll = loop.create_task(groups.poll_forever())
        try:
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line or c.wiped:
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    if line in ("/quit", "/exit"):
                        break
                    cmd, _, rest = line.partition(" ")
                    if cmd in ("/add", "/accept") and not _is_session_id(rest.strip().partition(" ")[0]):
                        click.echo(f"not a Session ID: {rest.strip().partition(' ')[0]!r} (66 hex digits starting with 05)")
                        continue
                    if cmd == "/add":
                        peer, _, intro = rest.strip().partition(" ")
                        rep = await c.send_friend_request(peer, intro or "Hi!")
                        current[:] = [peer]
                    elif cmd == "/accept":
                        rep = await c.accept(rest.strip())
                        current[:] = [rest.strip()]
                    elif cmd == "/group":
                        await groups.command(rest)
                        continue
                    elif groups.current is not None and not line.startswith("/"):
                        await groups.send(line)
                        continue
                    elif cmd == "/to":
                        groups.current = None
                        peer = rest.strip()
                        if peer.startswith("@"):  # a name: resolved through 3 nodes, proofs checked
                            from session_core.commands.name_cmd import resolve_for_client

                            peer = await resolve_for_client(c, peer[1:])
                            click.echo(f"  {rest.strip()} is {peer}")
                        if not _is_session_id(peer):
                            click.echo(f"not a Session ID: {peer!r} (66 hex digits starting with 05, or @name)")
                        elif peer not in c.messenger.contacts:
                            click.echo(f"{peer[:12]}… is not a contact yet: /add {peer} [intro]")
                        else:
                            current[:] = [peer]
                            click.echo(f"now talking to {_name(c, peer)}")
                        continue
                    elif cmd in ("/disappear", "/arm", "/disarm", "/backup", "/wipe"):
                        if await _protect_command(c, cmd, rest.strip(), current):
                            break
                        continue
                    elif cmd == "/contacts":
                        pinned = c.pinned()
                        for sid, contact in sorted(c.messenger.contacts.items(), key=lambda kv: kv[0] not in pinned):
                            marks = ("pinned " if sid in pinned else "") + ("muted" if c.muted(sid) else "")
                            click.echo(f"{sid} {contact.display_name:16} {contact.state.value} {marks}".rstrip())
                        continue
                    elif cmd in ("/mute", "/unmute", "/pin", "/unpin") and current:
                        _settings(c, current[0], cmd, rest.strip())
                        await c.push_config()
                        click.echo(f"  {cmd[1:]}d {_name(c, current[0])}" if cmd.endswith("e") else
                                   f"  {cmd[1:]}ned {_name(c, current[0])}")
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
            group_poll.cancel()
            await _stop(c)

    _run(run)


async def _protect_command(c: Any, cmd: str, arg: str, current: list[str]) -> bool:
    """The chat's protection commands (docs/protections.md); True when the chat must end."""
    from session_core.protocol.expiration import Expiration

    if cmd == "/wipe":
        if arg != "yes":
            click.echo("this erases the profile for good (identity, contacts, history): type /wipe yes")
            return False
        report = await c.wipe()
        click.echo(f"wiped: {report.files} files, {report.bytes} bytes overwritten and deleted")
        return True
    if cmd == "/backup":
        if not arg:
            click.echo("usage: /backup FILE")
            return False
        out = Path(arg).expanduser()
        if out.exists():
            click.echo(f"{out} exists: choose another name")
            return False
        from session_core.private_files import create_private

        blob = c.backup()
        create_private(out)
        out.write_bytes(blob)
        click.echo(f"backup written: {out} ({len(blob)} bytes); restore with `session-core backup restore`")
        return False
    if not current:
        click.echo("no contact selected: /to SESSION_ID first")
        return False
    if cmd == "/disappear":
        rep = await c.set_disappearing(current[0], Expiration.parse(arg))
        click.echo(f"  disappearing messages: {arg} ({rep.detail})")
    elif cmd == "/arm":
        secret = c.arm_remote_wipe(current[0])
        click.echo(f"  remote-wipe secret for {_name(c, current[0])}: {secret}\n"
                   "  give it to them in person; if they send it to you, this profile is wiped")
    elif cmd == "/disarm":
        click.echo("  disarmed" if c.disarm_remote_wipe(current[0]) else "  they were not armed")
    return False
