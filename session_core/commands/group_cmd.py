"""``session-core group``: closed groups (create, join, add, kick, leave, send, read, list; invitations
through 1:1 conversations: invites, accept, decline).

Each command opens the profile's client (same options as ``send``/``inbox``), does one thing in
the group's swarm and stops.  The admin's ``read`` also answers leave requests with a rekey and
re-stores the group's keys when due, so an admin should read now and then.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from session_core.commands.chat_cmd import _client, _options, _run, _start, _stop
from session_core.commands.group_chat import show_group_events as _show
from session_core.commands.group_chat import show_invites


@asynccontextmanager
async def _groups(profile: str, home: Path | None, seeds: tuple[str, ...],
                  devnet_dir: Path | None) -> AsyncIterator[tuple[Any, Any]]:
    """The profile's client, started without loops, and its groups; stopped on the way out."""
    from session_core.client.groups import Groups

    c = _client(profile, home, seeds, devnet_dir, sync=False)
    await _start(c, loops=False)
    try:
        yield c, Groups(c)
    finally:
        await _stop(c)


@click.group("group")
def group_group() -> None:
    """Closed groups: one key per generation wrapped for each member, per-sender ratchets."""


@group_group.command("create")
@_options
@click.option("--member", "members", multiple=True, help="Session ID to add at once (repeatable).")
@click.option("--name", default="", help="The group's name (shown to invited members).")
def create_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                   members: tuple[str, ...], name: str) -> None:
    """Create a group (you are its admin), print its ID (03…) and invite the members who are
    your contacts through your 1:1 conversation with each."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            gid, reps = await groups.create(list(members), name=name)
            click.echo(gid)
            click.echo(f"{1 + len(members)} members, generation 0; {len(reps)} records stored in the group swarm",
                       err=True)
            show_invites(await groups.invite(gid, list(members)))
    _run(run)


@group_group.command("join")
@_options
@click.argument("group_id")
def join_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str) -> None:
    """Follow a group you were added to (its keys come from its swarm)."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            groups.join(group_id)
            events = await groups.poll(group_id)
            g = groups.get(group_id)
            if g.generation is None:
                seen = groups.stats.received + groups.stats.refused
                click.echo(f"joined; no key for you among the {seen} records of the group swarm yet "
                           f"(ask the admin to add you){_refusals(groups.stats)}")
            else:
                click.echo(f"joined: generation {g.generation}, {len(g.members())} members")
            _show(events, as_json=False)
    _run(run)


def _admin_command(name: str, doc: str) -> None:
    @group_group.command(name, help=doc)
    @_options
    @click.argument("group_id")
    @click.argument("members", nargs=-1, required=True)
    def command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str,
                members: tuple[str, ...]) -> None:
        async def run() -> None:
            async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
                await groups.poll(group_id)  # be current before changing anything
                t0 = time.perf_counter()
                reps = await getattr(groups, name)(group_id, list(members))
                g = groups.get(group_id)
                click.echo(f"generation {g.generation}: {len(g.members())} members; {len(reps)} record(s) stored "
                           f"in {time.perf_counter() - t0:.2f} s")
                if name == "add":
                    show_invites(await groups.invite(group_id, list(members)))
        _run(run)


_admin_command("add", "Admin: add members (they read nothing sent before) and invite the contacts among them.")
_admin_command("kick", "Admin: remove members and rekey in one message (they read nothing after).")


@group_group.command("leave")
@_options
@click.argument("group_id")
def leave_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str) -> None:
    """Ask the admin to remove you and forget the group's keys."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            await groups.leave(group_id)
            click.echo("left: the group's keys are forgotten; the admin rekeys without you")
    _run(run)


@group_group.command("send")
@_options
@click.argument("group_id")
@click.argument("text")
def send_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str,
                 text: str) -> None:
    """Send TEXT to the group: one store in its swarm."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            await groups.poll(group_id)  # a rekey we missed would make our message unreadable to others
            rep = await groups.send(group_id, text)
            click.echo(f"sent: {rep.describe()}")
    _run(run)


@group_group.command("read")
@_options
@click.argument("group_id")
@click.option("--wait", default=0.0, show_default=True, help="Keep polling up to this many seconds until something arrives.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def read_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str,
                 wait: float, as_json: bool) -> None:
    """Poll the group swarm and print what arrived (messages, member changes)."""
    async def run() -> None:
        import asyncio

        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            deadline = time.monotonic() + wait
            while True:
                events = await groups.poll(group_id)
                if events or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.5)
            _show(events, as_json)
    _run(run)


@group_group.command("list")
@_options
def list_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None) -> None:
    """The groups of this profile."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            for gid, g in sorted(groups.groups.items()):
                role = "admin" if g.is_admin else "left" if g.left else "removed" if g.removed_at is not None else "member"
                gen = "-" if g.generation is None else str(g.generation)
                click.echo(f"{gid}  {role:7}  generation {gen:>3}  {len(g.members())} members  {groups.name(gid)}".rstrip())
    _run(run)


@group_group.command("invites")
@_options
def invites_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None) -> None:
    """Group invitations received (fetches the 1:1 inbox first) and not answered yet."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            await c.poll_swarm()  # new invitations arrive in the 1:1 conversations
            pending = groups.invites()
            for p in pending:
                click.echo(f"{p.group_id}  {p.name or '(no name)'}  from {p.sender}")
            if not pending:
                click.echo("no pending group invitations", err=True)
    _run(run)


@group_group.command("accept")
@_options
@click.argument("group_id")
def accept_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                   group_id: str) -> None:
    """Accept a group invitation: join the group and read it."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            g = groups.accept_invite(group_id)
            _show(await groups.poll(g.group_id), as_json=False)
            click.echo(f"joined {groups.name(g.group_id) or g.group_id}: " +
                       (f"generation {g.generation}, {len(g.members())} members" if g.generation is not None
                        else "no key for you in the group swarm yet"))
    _run(run)


@group_group.command("decline")
@_options
@click.argument("group_id")
def decline_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                    group_id: str) -> None:
    """Forget a group invitation without joining."""
    async def run() -> None:
        async with _groups(profile, home, seeds, devnet_dir) as (c, groups):
            if not groups.decline_invite(group_id):
                raise click.ClickException(f"no pending invitation to {group_id[:12]}… (see `group invites`)")
            click.echo("declined")
    _run(run)


def _refusals(stats: Any) -> str:
    kinds = ", ".join(f"{n} x{k}" for n, k in sorted(stats.refused_kinds.items()))
    return f"; refused: {kinds}" if kinds else ""
