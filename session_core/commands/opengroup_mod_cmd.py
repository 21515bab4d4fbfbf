"""``session-core opengroup delete-all`` and ``unban``: moderators clean up after a user.

A user is named by blinded ID (``15…``, as ``opengroup read --ids`` shows) or by Session ID
(``05…``): the server then acts on both blinded IDs that Session ID may have there.
"""

from __future__ import annotations

from pathlib import Path

import click

from session_core.commands.opengroup_session import client_options, open_session, run_main

__all__ = ["delete_all_command", "unban_command"]


def _user_id(text: str, hint: str) -> str:
    t = text.lower()
    if len(t) != 66 or t[:2] not in ("05", "15") or any(c not in "0123456789abcdef" for c in t):
        raise click.BadParameter(f"{text[:80]!r} is not a blinded (15…) or Session (05…) ID of 66 hex digits "
                                 "(hint: `session-core opengroup read --ids` shows posters' IDs)", param_hint=hint)
    return t


@click.command("delete-all")
@client_options
@click.option("--room", "rooms", multiple=True, required=True, help="A joined room (token or URL); repeatable.")
@click.option("--user", "user", required=True, help="Whose messages: a blinded (15…) or Session (05…) ID.")
def delete_all_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                       direct: bool, rooms: tuple[str, ...], user: str) -> None:
    """Delete every message USER posted in the rooms (moderators of those rooms)."""
    target = _user_id(user, "--user")

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            refs = [s.joined.find(r) for r in rooms]
            for ref in refs:
                n = await s.client_for(ref).delete_all(ref.token, target)
                click.echo(f"deleted {n} message{'' if n == 1 else 's'} of {target[:12]}… in {ref.token}")

    run_main(main)


@click.command("unban")
@client_options
@click.option("--room", "rooms", multiple=True, help="A joined room (token or URL) to lift the ban in (repeatable).")
@click.option("--global", "is_global", is_flag=True, help="Lift a server-wide ban (global moderators).")
@click.argument("user")
def unban_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                  rooms: tuple[str, ...], is_global: bool, user: str) -> None:
    """Lift USER's ban (a blinded 15… or Session 05… ID) in rooms or on the whole server."""
    if bool(rooms) == is_global:
        raise click.UsageError("give --room (one or more) or --global")
    target = _user_id(user, "USER")

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            refs = [s.joined.find(r) for r in rooms] if rooms else s.joined.refs()[:1]
            if not refs:
                raise click.ClickException("join a room of that server first (`session-core opengroup join URL`)")
            if len({r.base_url for r in refs}) > 1:
                raise click.ClickException("those rooms are on different servers: unban on one server at a time")
            tokens = [] if is_global else [r.token for r in refs]  # --global: refs[0] only names the server
            await s.client_for(refs[0]).unban(target, rooms=tokens, is_global=is_global)
            click.echo(f"unbanned {target[:12]}… in {'the server' if is_global else ', '.join(tokens)}")

    run_main(main)
