"""The asyncio messaging client: a Messenger (sans-IO protocol) driven over the network.

Theory of operation
-------------------
``start()`` loads the node list (seed, else cache), opens the encrypted database and restores
the Messenger, finds our swarm, picks a listening node in it and starts two loops: poll the swarm
every ``poll_interval`` and the listening mailbox every ``listen_interval``. Everything received
(swarm or mailbox) goes through ``_ingest``: deduplicated by the SHA-256 of the envelope (so a
message that arrives from 3 swarm members, from the mailbox and the swarm, or replayed, is shown
once), decrypted by the Messenger, persisted, turned into :class:`ClientEvent` s.

Sending: if the peer advertised a listening route we send there (no PoW) and wait ``ack_timeout``
for their delivery receipt; without an ack the very same envelope is stored in their swarm (the
receiver's dedup keeps it from showing twice). Otherwise the message goes to the swarm, carrying
our own route so the peer can switch to synchronous routing.

Disappearing messages (docs/protections.md): a conversation's timer (:meth:`set_disappearing`)
rides on every text.  After send: every copy dies at the sender's timestamp + timer -- the swarm
copy is stored with that TTL and the recipient also shortens it with a signed ``expire``; after
read: the recipient's timer starts at :meth:`mark_read`, which shortens the swarm copy the same
way.  Local copies are deleted by :meth:`sweep_expired`, run at every poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_core.client.backup import create_backup
from session_core.client.clock import NetworkClock
from session_core.client.db import ClientDB
from session_core.client.nodelist import NodeList
from session_core.client.onion_client import OnionClient
from session_core.client.paths import PathPool
from session_core.client.router import StoreReport, SwarmRouter
from session_core.client.snode import Snode
from session_core.client.sync import Listener, PeerRoute, deliver, parse_route
from session_core.client.transport import HttpTransport, Transport
from session_core.client.remote_wipe import Arming, find_trigger, make_secret, secret_hash
from session_core.client.wipe import WipeReport, wipe_directory
from session_core.errors import (
    ClientError, DecryptionError, DuplicateMessageError, ProtocolError, RemoteWipeSetupError, WipedError,
)
from session_core.identity import Identity, canonical_session_id
from session_core.protocol import (
    ContactState, ConversationMode, ExpirationTimerChanged, FriendRequestAccepted, FriendRequestDropped,
    FriendRequestReceived, MessageReceived, OnlineStatusReceived, Outgoing, ReceiptReceived,
)
from session_core.protocol.expiration import AFTER_SEND, Expiration

__all__ = ["Client", "ClientConfig", "ClientEvent", "SendReport"]

log = logging.getLogger("session_core.client")


@dataclass
class ClientConfig:
    seeds: Sequence[str]
    home: Path  # the profile directory: client.db and nodes.json live here
    poll_interval: float = 1.0
    listen_interval: float = 0.25
    ack_timeout: float = 3.0
    refresh_interval: float = 60.0
    sync: bool = True  # advertise a listening node and use peers'
    request_timeout: float = 10.0
    pow_threads: int | None = 1


@dataclass(frozen=True)
class ClientEvent:
    kind: str  # "request", "request_dropped", "accepted", "message", "status", "timer", "wiped"
    peer: str
    text: str = ""
    name: str = ""
    via: str = ""  # "swarm" or "sync"
    timestamp_ms: int = 0


@dataclass
class SendReport:
    peer: str
    kind: str
    route: str  # "async" or "sync" (or "sync->async" after a missing ack)
    detail: str
    elapsed_s: float
    timestamp_ms: int
    store: StoreReport | None = None


@dataclass
class _Peer:
    route: PeerRoute | None = None
    advertised: str = ""  # the route address we last told them


@dataclass
class _Stats:
    received: int = 0
    duplicates: int = 0
    undecryptable: int = 0
    sync_sent: int = 0
    async_sent: int = 0
    fallbacks: int = 0


class Client:
    def __init__(self, identity: Identity, display_name: str, config: ClientConfig, *,
                 transport: Transport | None = None, clock: NetworkClock | None = None,
                 rng: random.Random | None = None) -> None:
        self.identity = identity
        self.cfg = config
        self.rng = rng or random.Random()
        self.transport: Transport = transport or HttpTransport()
        self.clock = clock or NetworkClock()
        config.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.nodelist = NodeList(config.seeds, config.home / "nodes.json", rng=self.rng)
        self.pool = PathPool(self.rng)
        self.oc = OnionClient(self.transport, self.pool, timeout=config.request_timeout)
        self.router = SwarmRouter(self.oc, self.clock, lambda: self.pool.usable() or self.nodelist.nodes,
                                  rng=self.rng, pow_threads=config.pow_threads)
        self.db = ClientDB(config.home / "client.db", identity)
        self.messenger = self.db.load_messenger(identity, display_name)
        saved_hashes = self.db.get("last_hashes")
        if isinstance(saved_hashes, dict):
            self.router.last_hash.update(saved_hashes)
        self.listener: Listener | None = None
        self.peers: dict[str, _Peer] = {}
        self.stats = _Stats()
        self.on_event: Callable[[ClientEvent], None] | None = None
        self.events: asyncio.Queue[ClientEvent] = asyncio.Queue()
        self._acks: dict[int, asyncio.Future[bool]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self._lock = asyncio.Lock()  # one ingest/send at a time: the Messenger is not reentrant
        self.wiped = False

    @property
    def session_id(self) -> str:
        return self.identity.session_id

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, *, loops: bool = True) -> None:
        await self.nodelist.bootstrap(self.transport)
        self.pool.set_nodes(self.nodelist.nodes)
        swarm = await self.router.swarm_of(self.session_id)
        if self.cfg.sync:
            self.listener = Listener(self.rng.choice(swarm))
            with contextlib.suppress(ClientError):
                await self.listener.fetch(self.oc)  # registers the mailbox at once
        if loops:
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._every(self.cfg.poll_interval, self.poll_swarm)))
            if self.listener is not None:
                self._tasks.append(loop.create_task(self._every(self.cfg.listen_interval, self.poll_mailbox)))
            self._tasks.append(loop.create_task(self._every(self.cfg.refresh_interval, self.refresh_nodes)))

    async def stop(self) -> None:
        if self.wiped:
            return
        if self.listener is not None:
            # Tell peers we are going offline so they use the swarm at once (best effort).
            for peer, st in list(self.peers.items()):
                if st.route is not None and st.advertised:
                    with contextlib.suppress(ClientError, ProtocolError, asyncio.TimeoutError):
                        out = self.messenger.send_online_status(peer, self.listener.address, self.listener.node.port,
                                                                reachable=False, now_ms=self.clock.now_ms())
                        await asyncio.wait_for(self._deliver_sync(peer, st.route, out.data), 2.0)
        await self.stop_loops()
        self._save()
        await self.transport.close()
        self.db.close()

    async def stop_loops(self) -> None:
        """Stop polling (the client looks offline to the network) without closing anything."""
        self._closing = True
        pending = set(self._tasks) - {asyncio.current_task()}  # a loop may be what stops us (wipe)
        while pending:
            # asyncio.wait_for in 3.11 can swallow a cancellation that races with its inner
            # future finishing; so cancel again until every loop has really ended.
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        self._tasks.clear()

    async def _every(self, interval: float, fn: Callable[[], Any]) -> None:
        while not self._closing:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a loop must survive anything one round throws
                log.info("%s failed: %s", getattr(fn, "__name__", fn), exc)
            await asyncio.sleep(interval)

    async def refresh_nodes(self) -> bool:
        changed = await self.nodelist.refresh(self.oc)
        if changed:
            self.pool.set_nodes(self.nodelist.nodes)
        return changed

    def _save(self) -> None:
        self.db.save_messenger(self.messenger)
        self.db.put("last_hashes", self.router.last_hash)

    # -- sending ------------------------------------------------------------------------------

    async def send_friend_request(self, peer: str, intro: str) -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.send_friend_request(peer, intro, now_ms=self.clock.now_ms())
            self._save()
        return await self._send_async(out, "friend request")

    async def accept(self, peer: str, text: str = "") -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.accept(peer, now_ms=self.clock.now_ms(), text=text)
            self._save()
            if text:
                self._record(peer, "out", text, out.timestamp_ms, "swarm")
        return await self._send_async(out, "accept")

    def pending_requests(self) -> list[str]:
        return [c.session_id for c in self.messenger.contacts.values() if c.state is ContactState.INCOMING]

    async def send_text(self, peer: str, text: str) -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        st = self.peers.setdefault(peer, _Peer())
        expire = self.disappearing(peer)
        async with self._lock:
            ts = self.clock.now_ms()
            listening = None
            if (self.listener is not None and st.route is None
                    and self.messenger.mode_of(peer) is ConversationMode.RATCHET):
                listening = (self.listener.address, self.listener.node.port)  # where we listen (§4.6.2)
            out = self.messenger.send_text(peer, text, now_ms=ts, listening=listening, expire=expire)
            if listening is not None:
                st.advertised = listening[0]
            self._save()
        # The swarm copy of an after-send message dies with every other copy.
        dies_at = ts + expire.ms if expire is not None and expire.mode == AFTER_SEND else None
        rep = await self._deliver_text(peer, st, out, dies_at)
        msg_id = self._record(peer, "out", text, ts, rep.route)
        if expire is not None:  # our own copy: we have read it, so both modes count from now
            self.db.set_expiry(msg_id, ts + expire.ms, expire.ms)
        return rep

    async def _deliver_text(self, peer: str, st: _Peer, out: Outgoing, dies_at: int | None = None) -> SendReport:
        ts = out.timestamp_ms
        if st.route is not None and self.cfg.sync:
            t0 = time.perf_counter()
            acked = await self._send_sync(peer, st.route, out)
            if acked:
                return SendReport(peer, "text", "sync", f"listening node {st.route.node_ed25519[:8]} (acked)",
                                  time.perf_counter() - t0, ts)
            st.route = None
            self.stats.fallbacks += 1
            rep = await self._send_async(out, "text", started=t0, dies_at=dies_at)
            rep.route = "sync->async"
            return rep
        return await self._send_async(out, "text", dies_at=dies_at)

    async def _send_async(self, out: Outgoing, kind: str, started: float | None = None,
                          dies_at: int | None = None) -> SendReport:
        t0 = started or time.perf_counter()
        rep = await self.router.store(out.recipient, out.data, out.ttl_ms, expires_at_ms=dies_at)
        self.stats.async_sent += 1
        return SendReport(out.recipient, kind, "async", rep.describe(), time.perf_counter() - t0, out.timestamp_ms, rep)

    async def _send_sync(self, peer: str, route: PeerRoute, out: Outgoing) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks[out.timestamp_ms] = fut
        try:
            if not await self._deliver_sync(peer, route, out.data):
                return False
            self.stats.sync_sent += 1
            return await asyncio.wait_for(fut, self.cfg.ack_timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self._acks.pop(out.timestamp_ms, None)

    async def _deliver_sync(self, peer: str, route: PeerRoute, data: bytes) -> bool:
        node = self._node(route.node_ed25519)
        if node is None:
            return False
        try:
            r = await deliver(self.oc, node, route, data)
        except ClientError:
            return False
        return r.status == 200

    def _node(self, ed25519: str) -> Snode | None:
        for n in self.nodelist.nodes:
            if n.ed25519 == ed25519:
                return n
        return None

    # -- receiving ----------------------------------------------------------------------------

    async def poll_swarm(self) -> list[ClientEvent]:
        if self.wiped:
            return []
        self.sweep_expired()
        got = await self.router.poll(self.session_id)
        events = []
        for item in got:
            events += await self._ingest(item.data, "swarm", item.hash)
            if self.wiped:
                return events
        self.db.put("last_hashes", self.router.last_hash)
        return events

    async def poll_mailbox(self) -> list[ClientEvent]:
        if self.listener is None or self.wiped:
            return []
        events = []
        for data in await self.listener.fetch(self.oc):
            events += await self._ingest(data, "sync")
        return events

    async def next_event(self, pred: Callable[[ClientEvent], bool], timeout: float) -> ClientEvent:
        """The next queued event matching ``pred`` (others are consumed); TimeoutError after ``timeout`` s."""
        async def loop() -> ClientEvent:
            while True:
                ev = await self.events.get()
                if pred(ev):
                    return ev
        return await asyncio.wait_for(loop(), timeout)

    async def poll_once(self) -> list[ClientEvent]:
        return await self.poll_swarm() + await self.poll_mailbox()

    async def _ingest(self, data: bytes, via: str, node_hash: str = "") -> list[ClientEvent]:
        if self.wiped:
            return []
        digest = hashlib.sha256(data).hexdigest()
        replies: list[tuple[str, PeerRoute]] = []
        acks: list[tuple[str, int]] = []
        shorten: list[tuple[str, int]] = []  # (node hash, time of death) of our swarm's copies
        wipe = False
        async with self._lock:
            if self.db.seen(digest):
                self.stats.duplicates += 1
                return []
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
                return []
            except (ProtocolError, ValueError) as exc:
                self.stats.undecryptable += 1
                log.info("dropped an undecodable message: %s", exc)
                return []
            self.db.mark_seen(digest, self.clock.now_ms())
            self.stats.received += 1
            events: list[ClientEvent] = []
            for ev in raw_events:
                if isinstance(ev, FriendRequestReceived):
                    events.append(ClientEvent("request", ev.sender, ev.intro, ev.display_name, via, ev.timestamp_ms))
                elif isinstance(ev, FriendRequestDropped):
                    log.warning("dropped the pending friend request of %s: %s", ev.sender, ev.reason)
                    events.append(ClientEvent("request_dropped", ev.sender, ev.reason, "", via))
                elif isinstance(ev, FriendRequestAccepted):
                    events.append(ClientEvent("accepted", ev.peer, "", ev.display_name, via))
                elif isinstance(ev, MessageReceived):
                    verdict = find_trigger(self.remote_wipe_armings(), ev.sender, ev.body, ev.timestamp_ms)
                    if verdict == "wipe":
                        wipe = True  # a trusted friend revealed the secret: nothing else matters
                        break
                    if verdict == "spent":  # an old revelation (restored profile): burn, do not show
                        log.warning("an old remote-wipe message of %s: that arming is spent, arm again", ev.sender)
                        self.disarm_remote_wipe(ev.sender)
                        continue
                    if not self._keep_disappearing(ev, via, node_hash, shorten):
                        continue
                    events.append(ClientEvent("message", ev.sender, ev.body, ev.display_name, via, ev.timestamp_ms))
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
                elif isinstance(ev, OnlineStatusReceived):
                    self._on_status(ev, replies)
                    events.append(ClientEvent("status", ev.sender, "online" if ev.reachable else "offline", "", via))
            self._save()
        if wipe:
            log.warning("a trusted friend revealed the remote-wipe secret: wiping this profile")
            await self.wipe()
            return []
        if shorten:
            with contextlib.suppress(ClientError):  # the next poll's sweep still deletes ours
                await self.router.expire(self.identity, shorten)
        for peer, ts in acks:
            await self._ack(peer, ts)
        for peer, route in replies:
            await self._advertise(peer, route)
        for e in events:
            self.events.put_nowait(e)
            if self.on_event is not None:
                self.on_event(e)
        return events

    def _on_status(self, ev: OnlineStatusReceived, replies: list[tuple[str, PeerRoute]]) -> None:
        st = self.peers.setdefault(ev.sender, _Peer())
        route = parse_route(ev.address)
        if not ev.reachable or route is None or not self.cfg.sync:
            st.route = None
            return
        changed = st.route != route
        st.route = route
        if changed and self.listener is not None and st.advertised != self.listener.address + "@" + route.mailbox:
            replies.append((ev.sender, route))

    async def _advertise(self, peer: str, route: PeerRoute) -> None:
        """Answer a peer's online status with ours, straight to their listening node."""
        assert self.listener is not None
        async with self._lock:
            out = self.messenger.send_online_status(peer, self.listener.address, self.listener.node.port,
                                                    reachable=True, now_ms=self.clock.now_ms())
            self._save()
        self.peers[peer].advertised = self.listener.address + "@" + route.mailbox
        await self._deliver_sync(peer, route, out.data)

    async def _ack(self, peer: str, ts: int) -> None:
        st = self.peers.get(peer)
        if st is None or st.route is None:
            return
        async with self._lock:
            out = self.messenger.send_receipt(peer, [ts], read=False, now_ms=self.clock.now_ms())
            self._save()
        await self._deliver_sync(peer, st.route, out.data)

    def _record(self, peer: str, direction: str, body: str, ts: int, via: str, name: str = "") -> int:
        return self.db.add_message(
            peer, {"peer": peer, "dir": direction, "body": body, "ts": ts, "via": via, "name": name},
            self.clock.now_ms())

    def history(self, peer: str | None = None, after_id: int = 0) -> list[dict[str, Any]]:
        self._alive()
        self.sweep_expired()  # what is due is never shown, even between polls
        if peer is not None:
            peer = canonical_session_id(peer)
        return self.db.messages(peer, after_id)

    def _alive(self) -> None:
        if self.wiped:
            raise WipedError("this profile was wiped: restore it from the recovery phrase or a backup")

    # -- wipe ---------------------------------------------------------------------------------

    async def wipe(self) -> WipeReport:
        """Erase this profile: stop, scrub the database, overwrite and delete every file of the
        profile directory (identity included; see session_core.client.wipe).  The client is
        unusable afterwards; the recovery phrase (or a backup) is the only way back."""
        if self.wiped:
            raise WipedError("this profile was already wiped")
        await self.stop_loops()
        self.db.scrub_and_close()
        report = wipe_directory(self.cfg.home)
        self.wiped = True
        with contextlib.suppress(Exception):  # nothing may stop a wipe that has happened
            await self.transport.close()
        ev = ClientEvent("wiped", self.session_id, f"{report.files} files, {report.bytes} bytes overwritten")
        self.events.put_nowait(ev)
        if self.on_event is not None:
            self.on_event(ev)
        return report

    # -- backup -------------------------------------------------------------------------------

    def backup(self) -> bytes:
        """This profile's state, encrypted under a key derived from the seed (see
        session_core.client.backup; restore with restore_backup and the recovery phrase)."""
        self._alive()
        self._save()  # first, so the backup holds the current sessions
        return create_backup(self.db, self.messenger, self.identity, self.clock.now_ms())

    # -- remote wipe by a trusted friend ------------------------------------------------------

    def remote_wipe_armings(self) -> list[Arming]:
        self._alive()
        saved = self.db.get("remote_wipe")
        return [Arming.from_json(d) for d in saved] if isinstance(saved, list) else []

    def arm_remote_wipe(self, friend: str) -> str:
        """Let *friend* (an established contact) wipe this account by sending the returned
        secret in a message.  Show the secret once, hand it over in person; only its hash is
        kept.  Arming the same friend again replaces the old secret."""
        self._alive()
        friend = canonical_session_id(friend)
        contact = self.messenger.contacts.get(friend)
        if contact is None or contact.state is not ContactState.ESTABLISHED:
            raise RemoteWipeSetupError(f"{friend[:12]}… is not an established contact: only a friend can be trusted")
        secret = make_secret()
        keep = [a for a in self.remote_wipe_armings() if a.friend != friend]
        keep.append(Arming(friend, secret_hash(friend, secret), self.clock.now_ms()))
        self.db.put("remote_wipe", [a.to_json() for a in keep])
        return secret

    def disarm_remote_wipe(self, friend: str) -> bool:
        self._alive()
        friend = canonical_session_id(friend)
        armings = self.remote_wipe_armings()
        keep = [a for a in armings if a.friend != friend]
        self.db.put("remote_wipe", [a.to_json() for a in keep])
        return len(keep) != len(armings)

    # -- disappearing messages ----------------------------------------------------------------

    def disappearing(self, peer: str) -> Expiration | None:
        """The conversation's disappearing-message setting (None: messages stay)."""
        self._alive()
        saved = self.db.get("expire:" + self.db.tag(canonical_session_id(peer)))
        return Expiration.parse(saved) if isinstance(saved, str) else None

    def _put_timer(self, peer: str, expire: Expiration | None) -> None:
        self.db.put("expire:" + self.db.tag(peer), str(expire) if expire is not None else "off")

    async def set_disappearing(self, peer: str, expire: Expiration | None) -> SendReport:
        """Set the conversation's timer (None: off) and tell the peer, as Session does."""
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.send_expiration_timer(peer, expire, now_ms=self.clock.now_ms())
            self._put_timer(peer, expire)
            self._save()
        return await self._send_async(out, "timer")

    def _keep_disappearing(self, ev: MessageReceived, via: str, node_hash: str,
                           shorten: list[tuple[str, int]]) -> bool:
        """Record a received message with its time of death; False if it is already dead."""
        if not ev.expire_mode:
            self._record(ev.sender, "in", ev.body, ev.timestamp_ms, via, ev.display_name)
            return True
        timer_ms = ev.expire_after_s * 1000
        dies_at = ev.timestamp_ms + timer_ms if ev.expire_mode == AFTER_SEND else 0
        if dies_at and dies_at <= self.clock.now_ms():
            if node_hash:
                shorten.append((node_hash, self.clock.now_ms()))
            return False  # arrived after its time: never shown, never stored
        msg_id = self._record(ev.sender, "in", ev.body, ev.timestamp_ms, via, ev.display_name)
        self.db.set_expiry(msg_id, dies_at, timer_ms, node_hash)
        if dies_at and node_hash:
            shorten.append((node_hash, dies_at))
        return True

    async def mark_read(self, peer: str | None = None) -> int:
        """The user saw the conversation (or all): after-read timers start now.  Returns how
        many started; our swarm's copies are shortened to the same time."""
        self._alive()
        if peer is not None:
            peer = canonical_session_id(peer)
        async with self._lock:
            due = self.db.start_read_timers(peer, self.clock.now_ms())
        with contextlib.suppress(ClientError):
            await self.router.expire(self.identity, [(h, at) for h, at in due if h])
        return len(due)

    def sweep_expired(self) -> int:
        """Delete the local messages whose time has come (and their bytes, see ClientDB)."""
        if self.wiped:
            return 0
        return self.db.delete_due(self.clock.now_ms())
