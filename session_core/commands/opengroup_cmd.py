"""``session-core opengroup``: run a room server (``run``), and use rooms from a profile
(``join``, ``rooms``, ``post``, ``read``) through onion paths (``--direct`` for plain HTTP)."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import click

from session_core.commands.opengroup_session import client_options, open_session, run_main
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

@opengroup_group.command("join")
@client_options
@click.argument("url")
def join_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 url: str) -> None:
    """Join the room at URL (http://host:port/TOKEN?public_key=HEX)."""
    from session_core.rooms import RoomRef

    async def main() -> None:
        ref = RoomRef.parse(url)
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined, client_for = s.joined, s.client_for
            client = client_for(ref)
            info = await client.room(ref.token)
            new = joined.add(ref)
            click.echo(f"{'joined' if new else 'already in'} {info['name']} ({ref.token}) on {ref.base_url}: "
                       f"{info['message_sequence']} updates so far; you appear there as {client.blinded_id}")

    run_main(main)


@opengroup_group.command("rooms")
@client_options
def rooms_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                  direct: bool) -> None:
    """List the joined rooms with their state on the server."""

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined, client_for = s.joined, s.client_for
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

    run_main(main)


@opengroup_group.command("post")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.argument("text")
def post_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str, text: str) -> None:
    """Post TEXT to a joined room."""

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined, client_for = s.joined, s.client_for
            ref = joined.find(room)
            msg = await client_for(ref).post(ref.token, text.encode())
            click.echo(f"posted #{msg['id']} (seqno {msg['seqno']}) to {ref.token}")

    run_main(main)


@opengroup_group.command("read")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.option("--all", "from_start", is_flag=True, help="From the beginning, not since the last read.")
def read_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str, from_start: bool) -> None:
    """Print the room's new, edited and deleted messages since the last read."""
    from session_core.client.opengroup import decode_post

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined, client_for = s.joined, s.client_for
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

    run_main(main)


@opengroup_group.command("ban")
@client_options
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
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined, client_for = s.joined, s.client_for
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

    run_main(main)


@opengroup_group.command("bans")
@client_options
@click.option("--room", required=True, help="A joined room (token or URL) of the server to ask.")
def bans_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str) -> None:
    """List the active bans a moderator may see on that server."""

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined, client_for = s.joined, s.client_for
            ref = joined.find(room)
            for b in await client_for(ref).bans():
                until = "permanent" if b["until"] is None else time.strftime("until %Y-%m-%d %H:%M:%S",
                                                                              time.localtime(b["until"]))
                click.echo(f"{b['session_id']}  {'(global)' if b['global'] else b['room']:12}  {until}")

    run_main(main)


def _add_commands() -> None:
    from session_core.commands.opengroup_dm_cmd import dm_command, inbox_command

    for command in (dm_command, inbox_command):
        opengroup_group.add_command(command)


_add_commands()
