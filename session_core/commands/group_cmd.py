"""``session-core group``: closed groups (create, join, add, kick, leave, send, read, list).

Each command opens the profile's client (same options as ``send``/``inbox``), does one thing in
the group's swarm and stops.  The admin's ``read`` also answers leave requests with a rekey and
re-stores the group's keys when due, so an admin should read now and then.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from session_core.commands.chat_cmd import _client, _options, _run, _start, _stop


async def _groups(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None) -> tuple[Any, Any]:
    from session_core.client.groups import Groups

    c = _client(profile, home, seeds, devnet_dir, sync=False)
    await _start(c, loops=False)
    return c, Groups(c)


@click.group("group")
def group_group() -> None:
    """Closed groups: one key per generation wrapped for each member, per-sender ratchets."""


@group_group.command("create")
@_options
@click.option("--member", "members", multiple=True, help="Session ID to add at once (repeatable).")
def create_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                   members: tuple[str, ...]) -> None:
    """Create a group (you are its admin) and print its ID (03…)."""
    async def run() -> None:
        c, groups = await _groups(profile, home, seeds, devnet_dir)
        try:
            gid, reps = await groups.create(list(members))
            click.echo(gid)
            click.echo(f"{1 + len(members)} members, generation 0; {len(reps)} records stored in the group swarm",
                       err=True)
            if members:
                click.echo("tell each member the group ID: they run `session-core group join ID`", err=True)
        finally:
            await _stop(c)
    _run(run)


@group_group.command("join")
@_options
@click.argument("group_id")
def join_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str) -> None:
    """Follow a group you were added to (its keys come from its swarm)."""
    async def run() -> None:
        c, groups = await _groups(profile, home, seeds, devnet_dir)
        try:
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
        finally:
            await _stop(c)
    _run(run)


def _admin_command(name: str, doc: str) -> None:
    @group_group.command(name, help=doc)
    @_options
    @click.argument("group_id")
    @click.argument("members", nargs=-1, required=True)
    def command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str,
                members: tuple[str, ...]) -> None:
        async def run() -> None:
            c, groups = await _groups(profile, home, seeds, devnet_dir)
            try:
                await groups.poll(group_id)  # be current before changing anything
                t0 = time.perf_counter()
                reps = await getattr(groups, name)(group_id, list(members))
                g = groups.get(group_id)
                click.echo(f"generation {g.generation}: {len(g.members())} members; {len(reps)} record(s) stored "
                           f"in {time.perf_counter() - t0:.2f} s")
            finally:
                await _stop(c)
        _run(run)


_admin_command("add", "Admin: add members (they read nothing sent before).")
_admin_command("kick", "Admin: remove members and rekey in one message (they read nothing after).")


@group_group.command("leave")
@_options
@click.argument("group_id")
def leave_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str) -> None:
    """Ask the admin to remove you and forget the group's keys."""
    async def run() -> None:
        c, groups = await _groups(profile, home, seeds, devnet_dir)
        try:
            await groups.leave(group_id)
            click.echo("left: the group's keys are forgotten; the admin rekeys without you")
        finally:
            await _stop(c)
    _run(run)


@group_group.command("send")
@_options
@click.argument("group_id")
@click.argument("text")
def send_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, group_id: str,
                 text: str) -> None:
    """Send TEXT to the group: one store in its swarm."""
    async def run() -> None:
        c, groups = await _groups(profile, home, seeds, devnet_dir)
        try:
            await groups.poll(group_id)  # a rekey we missed would make our message unreadable to others
            rep = await groups.send(group_id, text)
            click.echo(f"sent: {rep.describe()}")
        finally:
            await _stop(c)
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

        c, groups = await _groups(profile, home, seeds, devnet_dir)
        try:
            deadline = time.monotonic() + wait
            while True:
                events = await groups.poll(group_id)
                if events or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.5)
            _show(events, as_json)
        finally:
            await _stop(c)
    _run(run)


@group_group.command("list")
@_options
def list_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None) -> None:
    """The groups of this profile."""
    async def run() -> None:
        c, groups = await _groups(profile, home, seeds, devnet_dir)
        try:
            for gid, g in sorted(groups.groups.items()):
                role = "admin" if g.is_admin else "left" if g.left else "removed" if g.removed_at is not None else "member"
                gen = "-" if g.generation is None else str(g.generation)
                click.echo(f"{gid}  {role:7}  generation {gen:>3}  {len(g.members())} members")
        finally:
            await _stop(c)
    _run(run)


def _refusals(stats: Any) -> str:
    kinds = ", ".join(f"{n} x{k}" for n, k in sorted(stats.refused_kinds.items()))
    return f"; refused: {kinds}" if kinds else ""


def _show(events: list[Any], as_json: bool) -> None:
    for e in events:
        if as_json:
            click.echo(json.dumps({"kind": e.kind, "group": e.group_id, "sender": e.sender, "text": e.text,
                                   "generation": e.generation, "sent_ms": e.sent_ms}))
        elif e.kind == "message":
            click.echo(f"[{e.sender[:12]}…] {e.text}")
        elif e.kind == "members":
            click.echo(f"* generation {e.generation}: members {e.text}")
        elif e.kind == "leave_request":
            click.echo(f"* {e.sender[:12]}… asked to leave")
        elif e.kind == "removed":
            click.echo(f"* you are not in generation {e.generation}: removed from the group")


CHAT_HELP = ("/group 03…  talk in a group (joins it)   /group new [05…]  create one   /group add|kick 05…  (admin)\n"
             "/group leave   /group list   /group off  back to 1:1")


class ChatGroups:
    """``/group`` inside ``session-core chat``: the current group (if any) takes what is typed,
    and :meth:`poll_forever` shows what arrives in every group of the profile."""

    def __init__(self, client: Any) -> None:
        from session_core.client.groups import Groups

        self.groups = Groups(client)
        self.current: str | None = None

    async def command(self, rest: str) -> None:
        args = rest.split()
        if not args or args[0] == "list":
            for gid, g in sorted(self.groups.groups.items()):
                mark = "*" if gid == self.current else " "
                click.echo(f"{mark} {gid}  generation {g.generation}  {len(g.members())} members"
                           f"{'  (admin)' if g.is_admin else ''}")
            click.echo(CHAT_HELP)
        elif args[0] == "new":
            gid, _ = await self.groups.create(args[1:])
            self.current = gid
            click.echo(f"created {gid}: you are its admin; members run /group {gid}")
        elif args[0] == "off":
            self.current = None
        elif args[0] in ("add", "kick") and self.current:
            await getattr(self.groups, args[0])(self.current, args[1:])
            g = self.groups.get(self.current)
            click.echo(f"generation {g.generation}: {len(g.members())} members")
        elif args[0] == "leave" and self.current:
            await self.groups.leave(self.current)
            click.echo(f"left {self.current[:12]}…")
            self.current = None
        elif args[0].startswith("03"):
            self.groups.join(args[0])
            self.current = args[0].lower()
            _show(await self.groups.poll(self.current), as_json=False)
            g = self.groups.get(self.current)
            click.echo(f"now in group {self.current[:12]}…: " + (f"generation {g.generation}, {len(g.members())} members"
                                                                 if g.generation is not None else "no key for you yet"))
        else:
            click.echo(CHAT_HELP)

    async def send(self, text: str) -> None:
        assert self.current is not None
        await self.groups.poll(self.current)  # a missed rekey would make the message unreadable
        rep = await self.groups.send(self.current, text)
        click.echo(f"  (group, {rep.describe()})")

    async def poll_forever(self, interval: float) -> None:
        import asyncio
        import logging

        while True:
            try:
                _show(await self.groups.poll(), as_json=False)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop outlives a bad round, as the client's do
                logging.getLogger("session_core.chat").info("group poll failed: %s", exc)
            await asyncio.sleep(interval)
