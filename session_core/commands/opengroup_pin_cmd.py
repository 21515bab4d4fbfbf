"""``session-core opengroup pin`` and ``unpin``: room admins pin messages (shown by ``rooms`` and
``read --pinned``).  Pinning a pinned message again moves it to the end of the list."""

from __future__ import annotations

from pathlib import Path

import click

from session_core.commands.opengroup_session import client_options, open_session, run_main

__all__ = ["pin_command", "unpin_command"]

_MSG_ID = click.IntRange(1, 10**18 - 1)


@click.command("pin")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.argument("msg_id", type=_MSG_ID)
def pin_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                room: str, msg_id: int) -> None:
    """Pin message MSG_ID (as `read` numbers them) in a room you are an admin of."""

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            ref = s.joined.find(room)
            client = s.client_for(ref)
            await client.pin(ref.token, msg_id)
            order = " ".join(f"#{p['id']}" for p in await client.pinned(ref.token))
            click.echo(f"pinned #{msg_id} in {ref.token} (pins, oldest first: {order})")

    run_main(main)


@click.command("unpin")
@client_options
@click.option("--room", required=True, help="A joined room: its token or URL.")
@click.option("--all", "unpin_all", is_flag=True, help="Unpin every pinned message of the room.")
@click.argument("msg_id", type=_MSG_ID, required=False)
def unpin_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                  room: str, unpin_all: bool, msg_id: int | None) -> None:
    """Unpin message MSG_ID (or --all) in a room you are an admin of."""
    if (msg_id is None) != unpin_all:
        raise click.UsageError("give a MSG_ID or --all")

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            ref = s.joined.find(room)
            client = s.client_for(ref)
            if msg_id is None:
                n = await client.unpin_all(ref.token)
                click.echo(f"unpinned {n} message{'' if n == 1 else 's'} in {ref.token}")
            elif await client.unpin(ref.token, msg_id):
                click.echo(f"unpinned #{msg_id} in {ref.token}")
            else:
                click.echo(f"#{msg_id} was not pinned in {ref.token}")

    run_main(main)
