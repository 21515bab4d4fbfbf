"""``session-core opengroup``: run a room server (``run``), and use rooms from a profile
(``join``, ``rooms``, ``post``, ``read``) through onion paths (``--direct`` for plain HTTP)."""

from __future__ import annotations

import functools
import mimetypes
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
@click.option("--reaction-rate", default="20/16", show_default=True,
              help="Reactions added or removed per user and room: COUNT/SECONDS.")
@click.option("--auth-window", default=3600.0, show_default=True, help="Accepted clock skew of signed requests (s).")
@click.option("--ready-file", type=click.Path(path_type=Path), default=None, help="Write URL, key and room URLs here once serving.")
@click.option("--no-answer-cache", is_flag=True, help="Do not keep poll answers between changes (benchmarks).")
@click.option("--log-level", default="INFO", show_default=True)
def run_command(data_dir: Path, ip: str, port: int, open_rooms: tuple[str, ...], wl_rooms: tuple[str, ...],
                admins: tuple[str, ...], rate: str, reaction_rate: str, auth_window: float, ready_file: Path | None, no_answer_cache: bool,
                log_level: str) -> None:
    """Serve the room API directly and through /oxen/v4/lsrpc until Ctrl-C."""
    from session_core.commands.serve import serve_until_signal
    from session_core.opengroup import OpenGroupConfig, run

    rate_count, rate_seconds = _rate(rate, "--rate")
    react_count, react_seconds = _rate(reaction_rate, "--reaction-rate")
    if auth_window <= 0:
        raise click.BadParameter("the auth window must be positive", param_hint="--auth-window")
    try:
        specs = [_room_spec(t, False) for t in open_rooms] + [_room_spec(t, True) for t in wl_rooms]
        cfg = OpenGroupConfig(data_dir, ip=ip, port=port, rooms=specs, admins=list(admins), auth_window=auth_window,
                              post_rate_count=rate_count, post_rate_interval=rate_seconds, ready_file=ready_file,
                              reaction_rate_count=react_count, reaction_rate_interval=react_seconds,
                              answer_cache=not no_answer_cache)
        serve_until_signal(functools.partial(run, cfg), log_level, "room server")
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None


def _rate(text: str, option: str) -> tuple[int, float]:
    count, _, seconds = text.partition("/")
    try:
        n, interval = int(count), float(seconds)
    except ValueError:
        raise click.BadParameter("COUNT/SECONDS, e.g. 5/16", param_hint=option) from None
    if n < 1 or not interval > 0:
        raise click.BadParameter("a rate limit's COUNT and SECONDS must be positive", param_hint=option)
    return n, interval


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
                pins = " ".join(f"#{p['id']}" for p in info.get("pinned_messages", []))
                click.echo(f"{ref.token:16} {info['name'][:30]:30} {rights:4} {unread:5} new  {ref}"
                           + (f"  pinned {pins}" if pins else ""))

    run_main(main)


@opengroup_group.command("post")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Upload this file to the room and link it from the post.")
@click.option("--whisper-to", default=None, metavar="ID",
              help="Moderators: only this user (15… blinded ID, or 05… Session ID) sees the post.")
@click.option("--whisper-mods", is_flag=True, help="Moderators: the room's moderators see the post (with "
              "--whisper-to: that user and the moderators).")
@click.argument("text", default="")
def post_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str, file_path: Path | None, whisper_to: str | None, whisper_mods: bool, text: str) -> None:
    """Post TEXT (and/or a --file) to a joined room; moderators may whisper it."""
    from session_core.commands.opengroup_mod_cmd import _user_id

    if not text and file_path is None:
        raise click.UsageError("give a TEXT, a --file, or both")
    target = None if whisper_to is None else _user_id(whisper_to, "--whisper-to")

    async def main() -> None:
        from session_core.rooms.post import RoomFile, RoomPost, file_url

        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            ref = s.joined.find(room)
            client = s.client_for(ref)
            files, ids, note = [], [], ""
            if file_path is not None:
                data = _read_upload(file_path)
                file_id = await client.upload(ref.token, data)
                files.append(RoomFile(file_url(ref, file_id), file_path.name, len(data),
                                      mimetypes.guess_type(file_path.name)[0] or "application/octet-stream"))
                ids.append(file_id)
                note = f" with file #{file_id} ({file_path.name}, {len(data)} bytes)"
            msg = await client.post(ref.token, RoomPost(text, files).to_bytes(), files=ids, whisper_to=target,
                                    whisper_mods=whisper_mods)
            click.echo(f"{_whisper_note(msg) or 'posted'} #{msg['id']} (seqno {msg['seqno']}) to {ref.token}{note}")

    run_main(main)


_UPLOAD_LIMIT = 6 * 1024 * 1024  # the room server's default; it answers 413 above its own


def _read_upload(path: Path) -> bytes:
    size = path.stat().st_size
    if size == 0:
        raise click.ClickException(f"{path} is empty: nothing to upload")
    if size > _UPLOAD_LIMIT:
        raise click.ClickException(f"{path} is {size} bytes; room servers take files up to {_UPLOAD_LIMIT} bytes "
                                   "(hint: share a larger file with `session-core send --file`)")
    return path.read_bytes()


@opengroup_group.command("read")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.option("--all", "from_start", is_flag=True, help="From the beginning, not since the last read.")
@click.option("--ids", "full_ids", is_flag=True, help="Show posters' whole blinded IDs (to DM or moderate them).")
@click.option("--save", is_flag=True, help="Download the files these posts link into the profile's attachments/.")
@click.option("--pinned", "only_pinned", is_flag=True, help="Only the room's pinned messages, oldest pin first "
              "(does not move the read mark).")
@click.option("--before", "before_id", type=click.IntRange(1, 10**18 - 1), default=None,
              help="Older history instead: the messages before message ID, oldest of them first "
              "(does not move the read mark).")
@click.option("--limit", type=click.IntRange(1, 256), default=50, show_default=True,
              help="With --before: how many messages at most.")
def read_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                 room: str, from_start: bool, full_ids: bool, save: bool, only_pinned: bool, before_id: int | None,
                 limit: int) -> None:
    """Print the room's new, edited and deleted messages since the last read (pinned ones and
    whispers marked)."""
    if sum((from_start, only_pinned, before_id is not None)) > 1:
        raise click.UsageError("give at most one of --all, --pinned and --before")

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            joined = s.joined
            ref = joined.find(room)
            client = s.client_for(ref)
            pinned = {p["id"]: p for p in await client.pinned(ref.token)}
            save_to = s.profile_dir / "attachments" if save else None
            if only_pinned:
                await _show_pinned(client, ref, list(pinned.values()), full_ids)
                return
            if before_id is not None:
                await _show_history(client, ref, before_id, limit, pinned, full_ids, save_to)
                return
            seqno = 0 if from_start else joined.seqnos[str(ref)]
            while True:
                # with reaction-only updates, so that the seqno read up to reaches the room's
                # (`rooms` counts what is new from it); they are not shown on their own
                batch = await client.since(ref.token, seqno, 256, reactions=True)
                for m in batch:
                    seqno = max(seqno, m["seqno"])
                    if "data" in m:
                        await _show_message(client, ref, m, pinned, full_ids, save_to)
                if len(batch) < 256:
                    break
            joined.seen(ref, seqno)

    run_main(main)


async def _show_history(client: Any, ref: Any, before_id: int, limit: int, pinned: dict[int, Any], full_ids: bool,
                        save_to: Path | None) -> None:
    """One page of older messages, printed oldest first like the rest of ``read`` (the server
    sends them newest first); the id to page on from is the oldest one shown."""
    from session_core.rooms.history import before_path, check_history_page

    page = check_history_page(await client.request("GET", before_path(ref.token, before_id, limit)), before_id, limit)
    if not page:
        click.echo(f"nothing before #{before_id} in {ref.token}")
        return
    for m in reversed(page):
        await _show_message(client, ref, m, pinned, full_ids, save_to)
    if len(page) == limit:
        click.echo(f"(more: read --before {page[-1]['id']})")


async def _show_message(client: Any, ref: Any, m: dict[str, Any], pinned: dict[int, Any], full_ids: bool,
                        save_to: Path | None) -> None:
    """One line for a message (and one per linked file, saved to *save_to* if given)."""
    from session_core.client.opengroup import decode_post
    from session_core.rooms.post import parse_post

    when = time.strftime("%H:%M:%S", time.localtime(m["posted"]))
    sid = m["session_id"]
    who = "you" if sid == client.blinded_id and not full_ids else sid if full_ids else sid[:10] + "…"
    data = decode_post(m)
    post = None if data is None else parse_post(data)
    text = "(deleted)" if post is None else post.text
    reacts = "".join(f"  {r}×{v['count']}" for r, v in (m.get("reactions") or {}).items())
    marks = "".join(f"({w}) " for w in ("pinned" if m["id"] in pinned else "", _whisper_note(m, client),
                                          "edited" if m.get("edited") else "") if w)
    click.echo(f"#{m['id']:<5} {when} {who:12} {marks}{text}{reacts}")
    for f in [] if post is None else post.files:
        await _show_file(client, ref, f, save_to)


def _whisper_note(m: dict[str, Any], client: Any = None) -> str:
    """"whisper to 15ab…", "whisper to the moderators", ... for a whisper; "" for a post."""
    if not m.get("whisper"):
        return ""
    to = m.get("whisper_to")
    who = None if to is None else "you" if client is not None and to == client.blinded_id else to[:12] + "…"
    if who and m.get("whisper_mods"):
        return f"whisper to {who} and the moderators"
    return f"whisper to {who}" if who else "whisper to the moderators"


async def _show_pinned(client: Any, ref: Any, pins: list[dict[str, Any]], full_ids: bool) -> None:
    from session_core.client.opengroup import decode_post
    from session_core.rooms.post import parse_post

    if not pins:
        click.echo(f"nothing is pinned in {ref.token}")
    for p in pins:
        try:
            m = await client.message(ref.token, p["id"])
        except SessionCoreError as exc:  # deleted since the room info was read
            click.echo(f"#{p['id']:<5} (not readable: {' '.join(str(exc).split())[:120]})")
            continue
        data = decode_post(m)
        post = None if data is None else parse_post(data)
        sid = m["session_id"]
        who = sid if full_ids else "you" if sid == client.blinded_id else sid[:10] + "…"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(p["pinned_at"]))
        by = p["pinned_by"] if full_ids else p["pinned_by"][:10] + "…"
        click.echo(f"#{p['id']:<5} {who:12} {'(deleted)' if post is None else post.text}   (pinned {when} by {by})")


async def _show_file(client: Any, ref: Any, f: Any, save_to: Path | None) -> None:
    """One line for a linked file; with *save_to*, fetch it from this room (never elsewhere) and
    save it there under a safe, new name."""
    from session_core.client.files import _save_new
    from session_core.errors import RoomInputError
    from session_core.rooms.post import room_file_id

    try:
        file_id = room_file_id(ref, f.url)
    except RoomInputError as exc:
        click.echo(f"        file {f.name[:60]!r}: {exc}")
        return
    line = f"        file #{file_id} {f.name[:80]!r} ({f.size} bytes)"
    if save_to is None:
        click.echo(line)
        return
    try:
        data = await client.download(ref.token, file_id)
    except SessionCoreError as exc:
        click.echo(f"{line}: not saved ({' '.join(str(exc).split())})")
        return
    save_to.mkdir(mode=0o700, exist_ok=True)
    where = _save_new(save_to, f.name, data)
    click.echo(f"{line} saved to {where}")


@opengroup_group.command("react")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.option("--remove", is_flag=True, help="Take your reaction back instead.")
@click.argument("msg_id", type=click.IntRange(1, 2**63 - 1))
@click.argument("reaction")
def react_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                  room: str, remove: bool, msg_id: int, reaction: str) -> None:
    """React to message MSG_ID (as `read` numbers them) with REACTION, e.g. an emoji (1-12 characters)."""
    if not 1 <= len(reaction) <= 12:
        raise click.BadParameter(f"a reaction is 1 to 12 characters, not {len(reaction)} (hint: one emoji)",
                                 param_hint="REACTION")

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            ref = s.joined.find(room)
            out = await s.client_for(ref).react(ref.token, msg_id, reaction, remove=remove)
            done = out.get("removed") if remove else out.get("added")
            what = ("removed" if done else "had not reacted") if remove else ("reacted" if done else "already reacted")
            click.echo(f"{what} {reaction} to #{msg_id} in {ref.token}")

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
            tokens = [] if is_global else [r.token for r in refs]  # --global: refs[0] only names the server
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
    from session_core.commands.opengroup_mod_cmd import delete_all_command, unban_command
    from session_core.commands.opengroup_pin_cmd import pin_command, unpin_command

    for command in (dm_command, inbox_command, delete_all_command, unban_command, pin_command, unpin_command):
        opengroup_group.add_command(command)


_add_commands()
