"""``/group`` inside ``session-core chat`` and the one way group events are printed (shared with
``session-core group``; kept apart from both command modules so neither imports the other)."""

from __future__ import annotations

import json
from typing import Any

import click


def show_group_events(events: list[Any], as_json: bool) -> None:
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


def show_invites(outcome: dict[str, str]) -> None:
    """How each member's invitation went (``Groups.invite``); who was not invited joins by ID."""
    for member, how in outcome.items():
        click.echo(f"  {member[:12]}…: " + (f"invited ({how})" if not how.startswith("not invited") else
                                            f"{how}; they can still run `group join` with the ID"), err=True)


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
            click.echo(f"created {gid}: you are its admin")
            show_invites(await self.groups.invite(gid, args[1:]))
        elif args[0] == "off":
            self.current = None
        elif args[0] in ("add", "kick") and self.current:
            await getattr(self.groups, args[0])(self.current, args[1:])
            g = self.groups.get(self.current)
            click.echo(f"generation {g.generation}: {len(g.members())} members")
            if args[0] == "add":
                show_invites(await self.groups.invite(self.current, args[1:]))
        elif args[0] == "leave" and self.current:
            await self.groups.leave(self.current)
            click.echo(f"left {self.current[:12]}…")
            self.current = None
        elif args[0].startswith("03"):
            if any(p.group_id == args[0].lower() for p in self.groups.invites()):
                self.groups.accept_invite(args[0])  # joining answers the invitation
            else:
                self.groups.join(args[0])
            self.current = args[0].lower()
            show_group_events(await self.groups.poll(self.current), as_json=False)
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

    async def poll_forever(self) -> None:
        """Show what the groups' receiving loops bring (long-polls, or rounds every
        ``poll_interval`` with ``long_poll_ms=0``), until cancelled."""
        self.groups.start()
        try:
            while True:
                show_group_events([await self.groups.events.get()], as_json=False)
        finally:
            await self.groups.stop()
