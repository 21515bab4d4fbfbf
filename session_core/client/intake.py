"""The client's receiving layer: what the swarm and the listening mailbox hand us, deduplicated
by the SHA-256 of the envelope (a message from 3 swarm members, from the mailbox and the swarm,
or replayed, is shown once), decrypted by the Messenger, persisted in one transaction, turned
into :class:`~session_core.client.state.ClientEvent` s; then the receipts, routes and downloads
it calls for."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from session_core.attachments import Pointer
from session_core.client import group_invites, timers
from session_core.client.protections import Protections
from session_core.client.remote_wipe import find_trigger
from session_core.client.router import Retrieved
from session_core.client.state import ClientEvent, PeerState, history_line
from session_core.client.sync import PeerRoute, parse_route
from session_core.errors import AttachmentError, ClientError, DecryptionError, DuplicateMessageError, ProtocolError
from session_core.protocol import (
    ExpirationTimerChanged, FriendRequestAccepted, FriendRequestDropped, FriendRequestReceived, GroupInviteReceived,
    MessageReceived,
    OnlineStatusReceived, ReceiptReceived,
)
from session_core.protocol.config import is_config
from session_core.protocol.events import SentMessageSynced
from session_core.protocol.link import is_link_ack, is_link_record

__all__ = ["Receiver"]

log = logging.getLogger("session_core.client")

#: What a blocked contact sends that is not shown (the contacts config's block list).
_HIDDEN_WHEN_BLOCKED = (FriendRequestReceived, MessageReceived, GroupInviteReceived)


class Receiver(Protections):
    """Everything that arrives; see the module doc."""

    async def poll_swarm(self) -> list[ClientEvent]:
        if self.wiped:
            return []
        self.sweep_expired()
        await self.flush_outbox()  # first: even if the poll fails, what we owe is retried
        return await self._take_from_swarm(await self.router.poll(self.session_id))

    async def _take_from_swarm(self, got: list[Retrieved]) -> list[ClientEvent]:
        """What our swarm handed us (a poll round or a long-poll): configs first, then the
        conversation messages with their node hashes (disappearing messages shorten them)."""
        if self.wiped:
            return []
        events: list[ClientEvent] = []
        if self.devices is not None:
            # Configs first: a friend request accepted on another device must count before the
            # messages of that conversation in the same poll are read.
            if self._ingest_configs([item.data for item in got if is_config(item.data)]):
                async with self._lock:
                    self.devices.apply(self.messenger)
                    timers.follow_read_marks(self.db, self.devices, self.clock.now_ms())  # read elsewhere
                    self._save()
        for item in got:
            if is_config(item.data) or is_link_record(item.data) or is_link_ack(item.data):
                continue  # not conversation messages
            events += await self._ingest(item.data, "swarm", item.hash)
            if self.wiped:
                return events
        self.db.put("last_hashes", self.router.last_hash)
        if self.devices is not None:
            await self.push_config()
        return events

    def _ingest_configs(self, blobs: list[bytes]) -> bool:
        assert self.devices is not None
        changed = False
        for data in blobs:
            digest = hashlib.sha256(data).hexdigest()
            if self.db.seen(digest):
                continue  # the same message from another swarm member
            self.db.mark_seen(digest, self.clock.now_ms())
            changed |= self.devices.ingest(data, self.clock.now_ms()).changed
        self.devices.save()
        return changed

    async def poll_mailbox(self) -> list[ClientEvent]:
        if self.listener is None or self.wiped:
            return []
        events = []
        for data in await self.listener.fetch(self.oc):
            events += await self._ingest(data, "sync")
        return events

    async def poll_once(self) -> list[ClientEvent]:
        return await self.poll_swarm() + await self.poll_mailbox()

    async def next_event(self, pred: Callable[[ClientEvent], bool], timeout: float) -> ClientEvent:
        """The next queued event matching ``pred`` (others are consumed); TimeoutError after ``timeout`` s."""
        async def loop() -> ClientEvent:
            while True:
                ev = await self.events.get()
                if pred(ev):
                    return ev
        return await asyncio.wait_for(loop(), timeout)

    async def _ingest(self, data: bytes, via: str, node_hash: str = "") -> list[ClientEvent]:
        if self.wiped:
            return []
        digest = hashlib.sha256(data).hexdigest()
        replies: list[tuple[str, PeerRoute]] = []
        acks: list[tuple[str, int]] = []
        files: list[tuple[str, Pointer]] = []
        shorten: list[tuple[str, int]] = []  # (node hash, time of death) of our swarm's copies
        async with self._lock:
            with self.db.transaction():  # one disk sync for the whole receipt of a message
                events, wipe = self._receive(data, digest, via, node_hash, acks, replies, files, shorten)
        if wipe:
            log.warning("a trusted friend revealed the remote-wipe secret: wiping this profile")
            await self.wipe()
            return []
        if events is None:
            return []
        for e in events:  # shown first: the receipts below cost a round trip each
            self._emit(e)
        if shorten:
            with contextlib.suppress(ClientError):  # the next poll's sweep still deletes ours
                await self.router.expire(self.identity, shorten)
        for peer, ts in acks:
            await self._ack(peer, ts)
        for peer, route in replies:
            await self._advertise(peer, route)
        if self.cfg.auto_download:
            for sender, pointer in files:
                task = asyncio.ensure_future(self._fetch(sender, pointer))
                self._downloads.add(task)
                task.add_done_callback(self._downloads.discard)
        return events

    def _receive(self, data: bytes, digest: str, via: str, node_hash: str, acks: list[tuple[str, int]],
                 replies: list[tuple[str, PeerRoute]], files: list[tuple[str, Pointer]],
                 shorten: list[tuple[str, int]]) -> tuple[list[ClientEvent] | None, bool]:
        """Decrypt, dedup and persist one envelope (under the lock, in one transaction).  Returns
        its events (None when it brought nothing: a duplicate, undecryptable) and whether a
        trusted friend's remote-wipe secret arrived."""
        if self.db.seen(digest):
            self.stats.duplicates += 1
            return None, False
        try:
            raw_events = self.messenger.receive(data, now_ms=self.clock.now_ms())
        except DecryptionError as exc:
            # Duplicates the ratchet recognises, tampered copies, messages not for us: a
            # tampered copy must not hide the good one, so only a duplicate is marked seen.
            if isinstance(exc, DuplicateMessageError):
                self.db.mark_seen(digest, self.clock.now_ms())
                self.stats.duplicates += 1
            else:
                self.stats.undecryptable += 1
            return None, False
        except (ProtocolError, ValueError) as exc:
            self.stats.undecryptable += 1
            log.info("dropped an undecodable message: %s", exc)
            return None, False
        self.db.mark_seen(digest, self.clock.now_ms())
        self.stats.received += 1
        events: list[ClientEvent] = []
        wipe = False
        for ev in raw_events:
            sender = getattr(ev, "sender", "")
            if sender and isinstance(ev, _HIDDEN_WHEN_BLOCKED) and self._blocked(sender):
                log.info("hid a %s from %s: blocked (contacts config)", type(ev).__name__, sender[:12])
                continue
            if isinstance(ev, FriendRequestReceived):
                events.append(ClientEvent("request", ev.sender, ev.intro, ev.display_name, via, ev.timestamp_ms))
            elif isinstance(ev, FriendRequestDropped):
                log.warning("dropped the pending friend request of %s: %s", ev.sender, ev.reason)
                events.append(ClientEvent("request_dropped", ev.sender, ev.reason, "", via))
            elif isinstance(ev, FriendRequestAccepted):
                events.append(ClientEvent("accepted", ev.peer, "", ev.display_name, via))
                if self.devices is not None:
                    self.devices.config.contacts.set(ev.peer, approved=True, approved_me=True)
                    self.devices.save()
            elif isinstance(ev, SentMessageSynced):
                line = history_line(ev.body, ev.attachments)
                dies_at = ev.timestamp_ms + ev.expiration.ms if ev.expiration is not None else 0
                if dies_at and dies_at <= self.clock.now_ms():
                    continue  # it already disappeared on the device that sent it
                msg_id = self._record(ev.peer, "out", line, ev.timestamp_ms, via)
                if ev.expiration is not None:
                    self.db.set_expiry(msg_id, dies_at, ev.expiration.ms, node_hash)
                    if node_hash:  # the swarm's copy too, below the nodes' 10 s minimum TTL
                        shorten.append((node_hash, dies_at))
                events.append(ClientEvent("sent", ev.peer, line, "", via, ev.timestamp_ms))
                files += [(ev.peer, p) for p in ev.attachments]  # what we sent from another device
            elif isinstance(ev, MessageReceived):
                verdict = find_trigger(self.remote_wipe_armings(), ev.sender, ev.body, ev.timestamp_ms)
                if verdict == "wipe":
                    wipe = True  # a trusted friend revealed the secret: nothing else matters
                    break
                if verdict == "spent":  # an old revelation (restored profile): burn, do not show
                    log.warning("an old remote-wipe message of %s: that arming is spent, arm again", ev.sender)
                    self.disarm_remote_wipe(ev.sender)
                    continue
                body = history_line(ev.body, ev.attachments)
                if not self._keep_disappearing(ev, body, via, node_hash, shorten):
                    continue
                events.append(ClientEvent("message", ev.sender, body, ev.display_name, via, ev.timestamp_ms,
                                          self.muted(ev.sender)))
                files += [(ev.sender, p) for p in ev.attachments]
                st = self.peers.get(ev.sender)
                if via == "sync" and st is not None and st.route is not None:
                    acks.append((ev.sender, ev.timestamp_ms))
            elif isinstance(ev, ReceiptReceived):
                for ts in ev.timestamps_ms:
                    fut = self._acks.get(ts)
                    if fut is not None and not fut.done():
                        fut.set_result(True)
            elif isinstance(ev, ExpirationTimerChanged):
                self._put_timer(ev.sender, ev.expiration)
                events.append(ClientEvent("timer", ev.sender, str(ev.expiration or "off"), "", via, ev.timestamp_ms))
            elif isinstance(ev, GroupInviteReceived):
                group_invites.remember(self.db, ev)  # until accepted or declined (client.groups)
                events.append(ClientEvent("group_invite", ev.sender, ev.group_id, ev.name, via, ev.timestamp_ms))
            elif isinstance(ev, OnlineStatusReceived):
                self._on_status(ev, replies)
                events.append(ClientEvent("status", ev.sender, "online" if ev.reachable else "offline", "", via))
        self._save(sending=False)  # inside _ingest's transaction; an ack, if any, saves durably
        return events, wipe

    def _on_status(self, ev: OnlineStatusReceived, replies: list[tuple[str, PeerRoute]]) -> None:
        st = self.peers.setdefault(ev.sender, PeerState())
        route = parse_route(ev.address)
        if not ev.reachable or route is None or not self.cfg.sync:
            st.route = None
            return
        changed = st.route != route
        st.route = route
        if changed and self.listener is not None and st.advertised != self.listener.address + "@" + route.mailbox:
            replies.append((ev.sender, route))

    async def _fetch(self, sender: str, pointer: Pointer) -> None:
        try:
            saved = await self.download(pointer)
        except (AttachmentError, ClientError, OSError) as exc:
            self._emit(ClientEvent("file_error", sender, f"{pointer.file_name or 'attachment'}: {exc}", via="file"))
            return
        self._emit(ClientEvent("file", sender, str(saved), pointer.file_name, "file"))

    async def download(self, pointer: Pointer) -> Path:
        """Fetch a received attachment into ``<home>/attachments``; returns where it is saved."""
        return await self.files.download(pointer, self.cfg.home / "attachments")

    async def wait_downloads(self) -> None:
        """Wait for the automatic downloads started so far (each reports a "file" event)."""
        while self._downloads:
            await asyncio.gather(*list(self._downloads), return_exceptions=True)
