"""``session-core opengroup``: run a room server (``run``), and use rooms from a profile
(``join``, ``rooms``, ``post``, ``read``) through onion paths (``--direct`` for plain HTTP)."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from session_core.errors import SessionCoreError


@click.group("opengroup")
def opengroup_group() -> None:
    """Open groups (whitepaper 5.1): a room server, and rooms used through onion requests."""


def _room_spec(text: str, whitelist: bool) -> Any:
    from session_core.opengroup import RoomSpec

    token, _, name = text.partition(":")
    return RoomSpec(token, name or token, whitelist=whitelist)


@opengroup_group.command("run")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True, help="Key and database (created if missing).")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, help="HTTP port (0: any free port).")
@click.option("--room", "open_rooms", multiple=True, help="Create/update an open room: TOKEN[:NAME] (repeatable).")
@click.option("--whitelist-room", "wl_rooms", multiple=True, help="Create/update an invite-only room: TOKEN[:NAME].")
@click.option("--admin", "admins", multiple=True, help="Make this blinded (15…) or Session (05…) ID a global admin.")
@click.option("--rate", default="5/16", show_default=True, help="Post rate limit per user and room: COUNT/SECONDS.")
@click.option("--auth-window", default=3600.0, show_default=True, help="Accepted clock skew of signed requests (s).")
@click.option("--ready-file", type=click.Path(path_type=Path), default=None, help="Write URL, key and room URLs here once serving.")
@click.option("--no-answer-cache", is_flag=True, help="Do not keep poll answers between changes (benchmarks).")
@click.option("--log-level", default="INFO", show_default=True)
def run_command(data_dir: Path, ip: str, port: int, open_rooms: tuple[str, ...], wl_rooms: tuple[str, ...],
                admins: tuple[str, ...], rate: str, auth_window: float, ready_file: Path | None, no_answer_cache: bool,
                log_level: str) -> None:
    """Serve the room API directly and through /oxen/v4/lsrpc until Ctrl-C."""
    from session_core.devnet.process import run_until_signal
    from session_core.opengroup import OpenGroupConfig, run

    count, _, seconds = rate.partition("/")
    try:
        rate_count, rate_seconds = int(count), float(seconds)
    except ValueError:
        raise click.BadParameter("COUNT/SECONDS, e.g. 5/16", param_hint="--rate") from None
    if rate_count < 1 or rate_seconds <= 0 or auth_window <= 0:
        raise click.BadParameter("the rate limit and the auth window must be positive")
    try:
        specs = [_room_spec(t, False) for t in open_rooms] + [_room_spec(t, True) for t in wl_rooms]
        cfg = OpenGroupConfig(data_dir, ip=ip, port=port, rooms=specs, admins=list(admins), auth_window=auth_window,
                              post_rate_count=rate_count, post_rate_interval=rate_seconds, ready_file=ready_file,
                              answer_cache=not no_answer_cache)
        run_until_signal(functools.partial(run, cfg), log_level)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None


# -- client commands ---------------------------------------------------------------------------


def _client_options(f: Any) -> Any:
    """The chat commands' --profile/--home/--seed/--devnet, and --direct."""
    from session_core.commands.chat_cmd import _options

    f = click.option("--direct", is_flag=True, help="Plain HTTP to the server instead of onion paths (it sees your IP).")(f)
    return _options(f)


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None


@asynccontextmanager
async def _session(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                   direct: bool) -> AsyncIterator[tuple[Any, Callable[[Any], Any]]]:
    """(joined rooms, ref -> RoomClient) for a profile; links close on exit."""
    from session_core.client.joined_rooms import JoinedRooms
    from session_core.client.opengroup import RoomClient
    from session_core.client.server_link import DirectLink, OnionLink
    from session_core.commands.chat_cmd import _seed_urls
    from session_core.commands.id_cmd import hidden_prompt
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    try:
        store.info(profile)
    except SessionCoreError as exc:
        raise click.ClickException(f"{exc} (create it with `session-core id new --profile {profile}`)") from None
    passphrase = os.environ.get("SESSION_CORE_PASSPHRASE") or hidden_prompt(f"Passphrase for {profile}")
    identity = store.load(profile, passphrase)
    joined = JoinedRooms(store.profile_dir(profile) / "rooms.json")
    closers: list[Any] = []
    make_link: Callable[[Any], Any]
    if direct:
        def make_link(ref: Any) -> Any:
            link = DirectLink(ref, timeout=30)
            closers.append(link)
            return link
    else:
        from session_core.client.nodelist import NodeList
        from session_core.client.onion_client import OnionClient
        from session_core.client.paths import PathPool
        from session_core.client.transport import HttpTransport

        urls = _seed_urls(seeds, devnet_dir)
        rng = random.Random()
        nodelist = NodeList(urls, store.profile_dir(profile) / "nodes.json", rng=rng)
        transport = HttpTransport()
        closers.append(transport)
        await nodelist.bootstrap(transport)
        pool = PathPool(rng)
        pool.set_nodes(nodelist.nodes)
        oc = OnionClient(transport, pool, timeout=30)

        def make_link(ref: Any) -> Any:
            return OnionLink(oc, ref, timeout=30)
    try:
        yield joined, lambda ref: RoomClient(identity.ed25519_seed, ref.server_pk, make_link(ref))
    finally:
        for c in closers:
            await c.close()


@opengroup_group.command("join")
@_client_options
@click.argument("url")
def join_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 url: str) -> None:
    """Join the room at URL (http://host:port/TOKEN?public_key=HEX)."""
    from session_core.rooms import RoomRef

    async def main() -> None:
        ref = RoomRef.parse(url)
        async with _session(profile, home, seeds, devnet_dir, direct) as (joined, client_for):
            client = client_for(ref)
            info = await client.room(ref.token)
            new = joined.add(ref)
            click.echo(f"{'joined' if new else 'already in'} {info['name']} ({ref.token}) on {ref.base_url}: "
                       f"{info['message_sequence']} updates so far; you appear there as {client.blinded_id}")

    _run(main)


@opengroup_group.command("rooms")
@_client_options
def rooms_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                  direct: bool) -> None:
    """List the joined rooms with their state on the server."""

    async def main() -> None:
        async with _session(profile, home, seeds, devnet_dir, direct) as (joined, client_for):
            if not joined.refs():
                click.echo("no rooms joined yet (`session-core opengroup join URL`)")
            for ref in joined.refs():
                try:
                    info = await client_for(ref).room(ref.token)
                except SessionCoreError as exc:
                    click.echo(f"{ref.token:16} {ref.base_url}: unreachable ({exc})")
                    continue
                unread = info["message_sequence"] - joined.seqnos[str(ref)]
                rights = "".join(k[0] for k in ("read", "write", "upload") if info.get(k)) or "-"
                click.echo(f"{ref.token:16} {info['name'][:30]:30} {rights:4} {unread:5} new  {ref}")

    _run(main)


@opengroup_group.command("post")
@_client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.argument("text")
def post_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str, text: str) -> None:
    """Post TEXT to a joined room."""

    async def main() -> None:
        async with _session(profile, home, seeds, devnet_dir, direct) as (joined, client_for):
            ref = joined.find(room)
            msg = await client_for(ref).post(ref.token, text.encode())
            click.echo(f"posted #{msg['id']} (seqno {msg['seqno']}) to {ref.token}")

    _run(main)


@opengroup_group.command("read")
@_client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.option("--all", "from_start", is_flag=True, help="From the beginning, not since the last read.")
def read_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str, from_start: bool) -> None:
    """Print the room's new, edited and deleted messages since the last read."""
    from session_core.client.opengroup import decode_post

    async def main() -> None:
        async with _session(profile, home, seeds, devnet_dir, direct) as (joined, client_for):
            ref = joined.find(room)
            client = client_for(ref)
            seqno = 0 if from_start else joined.seqnos[str(ref)]
            while True:
                batch = await client.since(ref.token, seqno, 256)
                for m in batch:
                    when = time.strftime("%H:%M:%S", time.localtime(m["posted"]))
                    who = "you" if m["session_id"] == client.blinded_id else m["session_id"][:10] + "…"
                    data = decode_post(m)
                    text = "(deleted)" if data is None else data.decode("utf-8", "replace")
                    click.echo(f"#{m['id']:<5} {when} {who:12} {'(edited) ' if m.get('edited') else ''}{text}")
                    seqno = max(seqno, m["seqno"])
                if len(batch) < 256:
                    break
            joined.seen(ref, seqno)

    _run(main)


@opengroup_group.command("ban")
@_client_options
@click.option("--room", "rooms", multiple=True, help="A joined room (token or URL) to ban from (repeatable).")
@click.option("--global", "is_global", is_flag=True, help="Ban from the whole server (global moderators).")
@click.option("--timeout", type=float, default=None, help="Seconds until the ban ends (default: permanent).")
@click.option("--unban", is_flag=True, help="Lift the ban instead.")
@click.argument("user")
def ban_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                rooms: tuple[str, ...], is_global: bool, timeout: float | None, unban: bool, user: str) -> None:
    """Ban USER (a blinded 15… or Session 05… ID) from rooms or the server: no reading, posting,
    uploading or DMs there.  Needs moderator rights."""
    if bool(rooms) == is_global:
        raise click.UsageError("give --room (one or more) or --global")

    async def main() -> None:
        async with _session(profile, home, seeds, devnet_dir, direct) as (joined, client_for):
            refs = [joined.find(r) for r in rooms] if rooms else joined.refs()[:1]
            if not refs:
                raise click.ClickException("join a room of that server first")
            client = client_for(refs[0])
            tokens = [r.token for r in refs]
            if unban:
                await client.unban(user, rooms=tokens, is_global=is_global)
            else:
                await client.ban(user, rooms=tokens, is_global=is_global, timeout=timeout)
            where = "the server" if is_global else ", ".join(tokens)
            until = "" if unban or timeout is None else f" for {timeout:g} s"
            click.echo(f"{'unbanned' if unban else 'banned'} {user[:12]}… {'from' if not unban else 'in'} {where}{until}")

    _run(main)


@opengroup_group.command("bans")
@_client_options
@click.option("--room", required=True, help="A joined room (token or URL) of the server to ask.")
def bans_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str) -> None:
    """List the active bans a moderator may see on that server."""

    async def main() -> None:
        async with _session(profile, home, seeds, devnet_dir, direct) as (joined, client_for):
            ref = joined.find(room)
            for b in await client_for(ref).bans():
                until = "permanent" if b["until"] is None else time.strftime("until %Y-%m-%d %H:%M:%S",
                                                                              time.localtime(b["until"]))
                click.echo(f"{b['session_id']}  {'(global)' if b['global'] else b['room']:12}  {until}")

    _run(main)
