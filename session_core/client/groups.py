"""Closed groups for the client: the sans-IO :class:`~session_core.protocol.groups.Group`
driven over the network.

Theory of operation
-------------------
Every record a group makes (key message, roster, member message) is stored ONCE, in the group's
own swarm (the ``03…`` group ID maps to a swarm like any Session ID), through the client's
:class:`~session_core.client.router.SwarmRouter` (onion paths, PoW, 3 copies, retries).
Members receive from that swarm through onion paths exactly like their own inbox:
:meth:`Groups.start` runs the client's loops (:mod:`session_core.client.poll_loops`), one held
``retrieve`` per polled member of the group's swarm, which the node answers as soon as a group
record is stored there (long-poll), or one round every ``poll_interval`` with ``long_poll_ms=0``;
:meth:`Groups.poll` is one round on demand.  Each group has its own router so its per-node
``lastHash`` cursor is its own.  Everything received is deduplicated by SHA-256 (the client's
``seen`` table), then fed to the group's state machine; records it refuses (forged kicks,
non-members, replays) are dropped and counted, they change nothing.

The admin's client answers leave requests with a rekey and calls :meth:`Group.refresh` after every
poll (and every ``poll_interval`` while long-polls are held), so the key message and the roster
stay in the swarm beyond their TTL.  Group states are saved sealed in the client database under
keyed tags (the file does not show group IDs).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from session_core.client import group_invites, poll_loops
from session_core.client.client import Client
from session_core.client.group_invites import PendingInvite
from session_core.client.router import Retrieved, StoreReport, SwarmRouter
from session_core.errors import (
    ClientError, ClientStateError, DuplicateMessageError, GroupOperationError, InvalidInputError, NotGroupAdminError, NotGroupMemberError,
    ProtocolError, StoreRefusedError,
)
from session_core.protocol.events import Event
from session_core.protocol.groups import (
    Group,
    GroupLeaveRequested,
    GroupMembersChanged,
    GroupMessageReceived,
    GroupOutgoing,
    GroupRemoved,
    parse_group_id,
)
from session_core.protocol.groups.invite import check_name

__all__ = ["GroupEvent", "GroupStats", "Groups"]

log = logging.getLogger("session_core.client.groups")
_INDEX = "groups"


@dataclass(frozen=True)
class GroupEvent:
    kind: str  # "message", "members", "leave_request", "removed"
    group_id: str
    sender: str = ""
    text: str = ""
    generation: int = 0
    sent_ms: int = 0


@dataclass
class GroupStats:
    received: int = 0
    duplicates: int = 0
    refused: int = 0
    refused_kinds: dict[str, int] = field(default_factory=dict)
    stored: int = 0


class Groups:
    """The groups of one :class:`~session_core.client.client.Client`."""

    def __init__(self, client: Client) -> None:
        self.c = client
        self.groups: dict[str, Group] = {}
        self.routers: dict[str, SwarmRouter] = {}
        self.stats = GroupStats()
        self._lock = asyncio.Lock()
        #: What the background loops (:meth:`start`) received.
        self.events: asyncio.Queue[GroupEvent] = asyncio.Queue()
        self._running = False
        self._loops: dict[str, list[asyncio.Task[None]]] = {}
        for gid in client.db.get(_INDEX) or []:
            saved = client.db.get(self._row(gid))
            if isinstance(saved, dict):
                self.groups[gid] = Group.from_json(client.identity, saved, chain=self._chain_loader(gid))
                cursor = client.db.get(self._row(gid, "cursor"))
                if isinstance(cursor, dict):
                    self._router(gid).last_hash.update(cursor)

    def _row(self, gid: str, part: str = "group") -> str:
        return f"{part}:" + self.c.db.tag(gid)

    def _router(self, gid: str) -> SwarmRouter:
        r = self.routers.get(gid)
        if r is None:
            c = self.c
            r = SwarmRouter(c.oc, c.clock, lambda: c.pool.usable() or c.nodelist.nodes, rng=c.rng,
                            pow_threads=c.cfg.pow_threads)
            self.routers[gid] = r
        return r

    def _chain_loader(self, gid: str) -> Callable[[int, int], dict[str, Any] | None]:
        def load(generation: int, index: int) -> dict[str, Any] | None:
            row = self.c.db.get(self._chain_row(gid, generation, index))
            return row if isinstance(row, dict) else None
        return load

    def _chain_row(self, gid: str, generation: int, index: int) -> str:
        return "gchain:" + self.c.db.tag(f"{gid}/{generation}/{index}")

    def _save(self, gid: str) -> None:
        """Write what changed: the core (roster, keys, flags) when it did, and only the sender
        chains that moved -- one row per message received, whatever the group size."""
        g = self.groups[gid]
        changes = g.take_changes()
        core, chains, gone = changes
        puts: dict[str, Any] = {self._chain_row(gid, gen, i): g.chain_json(gen, i) for gen, i in chains}
        if core:
            puts[self._row(gid)] = g.to_json(chains=False)
            puts[_INDEX] = sorted(self.groups)
        puts[self._row(gid, "cursor")] = self._router(gid).last_hash
        try:
            self.c.db.write_rows(puts, [self._chain_row(gid, gen, i) for gen, i in gone])
        except BaseException:
            g.put_back(changes)
            raise

    def get(self, gid: str) -> Group:
        g = self.groups.get(gid.lower())
        if g is None:
            raise NotGroupMemberError(f"no group {gid[:12]}… in this profile (create or join it first)")
        return g

    # -- operations ---------------------------------------------------------------------------

    def _one_device_only(self) -> None:
        """Refuse to make a device of a multi-device account a group member: each device would
        derive the same send chain (one per member), so the members would drop one device's
        messages as repeats of the other's.  Per-device chains are not done yet (docs/groups.md)."""
        if self.c.devices is not None:
            raise ClientStateError("closed groups work on one device per account for now, and this profile "
                                   "is one of several devices (id link/join): use a single-device profile")

    async def create(self, members: Sequence[str] = (), *, name: str = "") -> tuple[str, list[StoreReport]]:
        """A new group we run, with ``members``; ``name`` (ours to show, and what invitations
        carry) is kept in this profile.  Members learn of it by :meth:`invite` or by hand."""
        check_name(name)
        self._one_device_only()
        async with self._lock:
            g, outs = Group.create(self.c.identity, self.c.clock.now_ms(), members)
            self.groups[g.group_id] = g
            self._save(g.group_id)
            if name:
                self.c.db.put(self._row(g.group_id, "name"), name)
        self._start_group(g.group_id)
        return g.group_id, await self._store(outs)

    def join(self, gid: str) -> Group:
        """Follow a group we were told about (its ID); keys come from its swarm once added."""
        parse_group_id(gid)
        gid = gid.lower()
        if gid not in self.groups:
            self._one_device_only()
            self.groups[gid] = Group.join(self.c.identity, gid)
            self._save(gid)
        self._start_group(gid)
        return self.groups[gid]

    async def add(self, gid: str, members: Sequence[str]) -> list[StoreReport]:
        return await self._admin(gid, lambda g, now: g.add(members, now))

    async def kick(self, gid: str, members: Sequence[str]) -> list[StoreReport]:
        return await self._admin(gid, lambda g, now: g.kick(members, now))

    async def _admin(self, gid: str, op: Any) -> list[StoreReport]:
        async with self._lock:
            g = self.get(gid)
            outs: list[GroupOutgoing] = op(g, self.c.clock.now_ms())
            self._save(g.group_id)
        try:
            return await self._store(outs)
        except ClientError:
            async with self._lock:
                g.store_failed()  # the next poll stores them again
                self._save(g.group_id)
            raise

    async def send(self, gid: str, text: str) -> StoreReport:
        rep, now = await self._member_store(gid, lambda g, now: g.send_text(text, now))
        self.c.db.add_message(gid.lower(), {"peer": gid.lower(), "group": gid.lower(), "dir": "out", "sender":
                                            self.c.session_id, "body": text, "ts": now, "via": "group"}, now)
        return rep

    async def leave(self, gid: str) -> StoreReport:
        rep, _ = await self._member_store(gid, lambda g, now: g.leave(now))
        return rep

    async def _member_store(self, gid: str, make: Callable[[Group, int], GroupOutgoing]) -> tuple[StoreReport, int]:
        """Make one member record and store it.  The swarm refuses a record of a generation older
        than the group's newest (``node/group_generations.py``): then the group is read (the
        rekey we missed) and the record made again under the newest key -- or, if we were
        removed, making it fails with the reason."""
        async def attempt() -> tuple[StoreReport, int]:
            async with self._lock:
                g = self.get(gid)
                now = self.c.clock.now_ms()
                out = make(g, now)
                self._save(g.group_id)
            (rep,) = await self._store([out])
            return rep, now

        try:
            return await attempt()
        except StoreRefusedError:
            before = self.get(gid).generation
            await self.poll(gid)
            g = self.get(gid)
            if g.removed_at is not None:
                raise NotGroupMemberError(f"removed from the group at generation {g.removed_at}: "
                                          "its swarm takes nothing from us any more") from None
            if g.generation == before:
                raise  # not a generation we missed: the refusal stands
        return await attempt()

    async def _store(self, outs: Sequence[GroupOutgoing]) -> list[StoreReport]:
        reps = []
        for o in outs:  # in order: a key message lands before what it opens
            reps.append(await self._router(o.group_id).store(o.group_id, o.data, o.ttl_ms))
            self.stats.stored += 1
        return reps

    # -- invitations through 1:1 conversations ------------------------------------------------

    def name(self, gid: str) -> str:
        """The group's name in this profile ("" if none was given)."""
        saved = self.c.db.get(self._row(gid.lower(), "name"))
        return saved if isinstance(saved, str) else ""

    async def invite(self, gid: str, members: Sequence[str]) -> dict[str, str]:
        """Admin: tell ``members`` (already added) about the group in each one's 1:1 conversation,
        signed by the group key.  Returns per member the route it took, or why it was not sent
        (a member who is not an established contact: tell them the ID, they ``join`` it)."""
        g = self.get(gid)
        if g.signer is None:
            raise NotGroupAdminError("only the admin can invite: the invitation is signed by the group key")
        outcome: dict[str, str] = {}
        for member in members:
            try:
                outcome[member] = (await self.c.send_group_invite(member, g.signer, self.name(gid))).route
            except (ClientError, ProtocolError, InvalidInputError) as exc:
                outcome[member] = f"not invited: {exc}"
        return outcome

    def invites(self) -> list[PendingInvite]:
        """Invitations received and not answered yet (the client keeps them as they arrive)."""
        return group_invites.pending(self.c.db)

    def accept_invite(self, gid: str) -> Group:
        """Join the group of a pending invitation (its keys come from the group's swarm)."""
        if gid.lower() not in self.groups:
            self._one_device_only()  # before the invitation is used up
        invite = group_invites.forget(self.c.db, gid)
        if invite is None:
            raise GroupOperationError(f"no pending invitation to {gid[:12]}… (see `group invites`)")
        g = self.join(invite.group_id)
        if invite.name and not self.name(invite.group_id):
            self.c.db.put(self._row(invite.group_id, "name"), invite.name)
        return g

    def decline_invite(self, gid: str) -> bool:
        """Forget a pending invitation; False if there was none."""
        return group_invites.forget(self.c.db, gid) is not None

    # -- polling ------------------------------------------------------------------------------

    async def poll(self, gid: str | None = None) -> list[GroupEvent]:
        """Poll one group's swarm (or every group's) and apply what came."""
        events: list[GroupEvent] = []
        for g_id in [gid.lower()] if gid else sorted(self.groups):
            g = self.get(g_id)
            if g.left:
                continue
            events += await self._take(g, await self._router(g_id).poll(g_id))
        return events

    async def _take(self, g: Group, got: Sequence[Retrieved]) -> list[GroupEvent]:
        """Apply what one poll (a round or a long-poll) brought, in the order each node had it;
        then the admin's follow-up: rekey for leavers, refresh the key message and roster."""
        mine: list[GroupEvent] = []
        for item in got:
            mine += await self._ingest(g, item.data)
        follow: list[GroupOutgoing] = []
        async with self._lock:
            if g.is_admin:
                leavers = [e.sender for e in mine if e.kind == "leave_request"
                           and g.current is not None and e.sender in g.members()]
                if leavers:
                    follow += g.kick(leavers, self.c.clock.now_ms())
                follow += g.refresh(self.c.clock.now_ms())
            if got or follow:
                self._save(g.group_id)
        await self._store(follow)
        return mine

    # -- receiving loops ------------------------------------------------------------------------

    def start(self) -> None:
        """Receive every group of the profile in the background, into :attr:`events`.

        With the client's ``long_poll_ms`` (the default), as the client's own swarm: one held
        ``retrieve`` per polled member of the group's swarm (``poll_copies`` of them), which the
        node answers as soon as a record for the group is stored there, then asks again; the
        admin's refresh runs every ``poll_interval``.  With ``long_poll_ms=0``: one
        :meth:`poll` round per group every ``poll_interval``.  Groups joined or created later
        get their loops at once."""
        self._running = True
        for gid in sorted(self.groups):
            self._start_group(gid)

    async def stop(self) -> None:
        self._running = False
        tasks = [t for ts in self._loops.values() for t in ts]
        self._loops.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start_group(self, gid: str) -> None:
        if not self._running or gid in self._loops:
            return
        cfg, loop = self.c.cfg, asyncio.get_running_loop()
        # The loops end with stop(), and with the client's own loops (it is closing).
        running = lambda: self._running and not self.c._closing  # noqa: E731
        if cfg.long_poll_ms > 0:
            tasks = [loop.create_task(poll_loops.long_poll(
                cfg.long_poll_ms, cfg.poll_interval, functools.partial(self._poll_member, gid, slot), running))
                for slot in range(cfg.poll_copies)]
            tasks.append(loop.create_task(poll_loops.every(
                cfg.poll_interval, functools.partial(self._housekeeping, gid), running)))
        else:
            tasks = [loop.create_task(poll_loops.every(cfg.poll_interval, functools.partial(self._poll_round, gid),
                                                       running))]
        self._loops[gid] = tasks

    async def _poll_member(self, gid: str, slot: int, wait_ms: int) -> int:
        """One long-poll on the *slot*-th member of the group's swarm; returns the records it
        brought.  Applied here, before asking again, so each member's records keep their order
        (a key message before the messages it opens)."""
        g = self.get(gid)
        if g.left:
            return 0  # this loop idles at poll_interval
        router = self._router(gid)
        await router.swarm_of(gid)
        members = router.members_to_poll(gid, self.c.cfg.poll_copies)
        if slot >= len(members):
            return 0
        got = await router.poll_member(gid, members[slot], wait_ms)
        self._emit(await self._take(g, got))
        return len(got)

    async def _poll_round(self, gid: str) -> None:
        self._emit(await self.poll(gid))

    async def _housekeeping(self, gid: str) -> None:
        """With long-polls, what a poll round does besides reading: the admin's refresh."""
        g = self.get(gid)
        if g.is_admin and not g.left:
            await self._take(g, [])

    def _emit(self, events: list[GroupEvent]) -> None:
        for e in events:
            self.events.put_nowait(e)

    async def _ingest(self, g: Group, data: bytes) -> list[GroupEvent]:
        digest = hashlib.sha256(data).hexdigest()
        async with self._lock:
            if self.c.db.seen(digest):
                self.stats.duplicates += 1
                return []
            now = self.c.clock.now_ms()
            try:
                raw = g.receive(data, now)
            except (ProtocolError, ValueError) as exc:
                # Forged, replayed, or simply not for us (our own message, a key message before we
                # were added): nothing changed.  Marked seen so a re-poll does not retry it.
                self.c.db.mark_seen(digest, now)
                if isinstance(exc, DuplicateMessageError):  # replays, our own messages coming back
                    self.stats.duplicates += 1
                    return []
                name = type(exc).__name__
                self.stats.refused += 1
                self.stats.refused_kinds[name] = self.stats.refused_kinds.get(name, 0) + 1
                log.info("group %s… refused a record: %s: %s", g.group_id[:10], name, exc)
                return []
            # State first, then "seen": a crash in between replays the record, which the
            # ratchet then refuses as a duplicate; the other order could lose it.
            self._save(g.group_id)
            out = [self._event(g, e, now) for e in raw]  # (history rows)
            self.c.db.mark_seen(digest, now)
            self.stats.received += 1
            return [e for e in out if e is not None]

    def _event(self, g: Group, e: Event, now: int) -> GroupEvent | None:
        if isinstance(e, GroupMessageReceived):
            self.c.db.add_message(g.group_id, {"peer": g.group_id, "group": g.group_id, "dir": "in", "sender": e.sender,
                                               "body": e.text, "ts": e.sent_ms, "via": "group"}, now)
            return GroupEvent("message", g.group_id, e.sender, e.text, e.generation, e.sent_ms)
        if isinstance(e, GroupMembersChanged):
            text = f"+{len(e.added)} -{len(e.removed)}"
            return GroupEvent("members", g.group_id, "", text, e.generation)
        if isinstance(e, GroupLeaveRequested):
            return GroupEvent("leave_request", g.group_id, e.member)
        if isinstance(e, GroupRemoved):
            return GroupEvent("removed", g.group_id, "", "", e.generation)
        return None

    def history(self, gid: str) -> list[dict[str, Any]]:
        return self.c.db.messages(gid.lower())
