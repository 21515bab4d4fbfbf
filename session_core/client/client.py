"""The asyncio messaging client: a Messenger (sans-IO protocol) driven over the network.

Theory of operation
-------------------
``start()`` loads the node list (seed, else cache), opens the encrypted database and restores
the Messenger, finds our swarm, picks a listening node in it and starts the receiving loops.
With ``long_poll_ms`` (the default) they are long-polls: one loop per swarm member we listen to
(``retrieve`` with ``wait``) and one on the listening mailbox (``listen_get`` with ``wait``);
each node holds the request until something arrives for us or the wait ends, and the loop asks
again at once, so delivery is event-driven and an idle client sends one request per member per
``long_poll_ms``.  A request the node did not hold (an error, an older node, a node holding all
it may) makes that loop wait ``poll_interval`` / ``listen_interval`` before asking again, which
is also the whole behaviour with ``long_poll_ms=0`` (plain polling). Everything received
(swarm or mailbox) goes through ``_ingest``: deduplicated by the SHA-256 of the envelope (so a
message that arrives from 3 swarm members, from the mailbox and the swarm, or replayed, is shown
once), decrypted by the Messenger, persisted, turned into :class:`ClientEvent` s.

Sending: if the peer advertised a listening route we send there (no PoW) and wait ``ack_timeout``
for their delivery receipt; without an ack the very same envelope is stored in their swarm (the
receiver's dedup keeps it from showing twice). Otherwise the message goes to the swarm, carrying
our own route so the peer can switch to synchronous routing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_core.client.clock import NetworkClock
from session_core.client.db import ClientDB
from session_core.client.files import FileTransfer, OnionLink
from session_core.client.nodelist import NodeList
from session_core.client.onion_client import OnionClient
from session_core.client.paths import PathPool
from session_core.client.router import StoreReport, SwarmRouter
from session_core.client.snode import Snode
from session_core.client.sync import Listener, PeerRoute, deliver, parse_route
from session_core.client.transport import HttpTransport, Transport
from session_core.attachments import FileServerRef, Pointer
from session_core.errors import (
    AttachmentError, ClientError, DecryptionError, DuplicateMessageError, ProtocolError,
)
from session_core.identity import Identity, canonical_session_id
from session_core.protocol import (
    ContactState, ConversationMode, FriendRequestAccepted, FriendRequestDropped, FriendRequestReceived,
    MessageReceived, OnlineStatusReceived, Outgoing, ReceiptReceived,
)

__all__ = ["Client", "ClientConfig", "ClientEvent", "SendReport"]

log = logging.getLogger("session_core.client")

#: Most requests a long-poll loop sends in a second before it backs off (see ``_long_poll``).
LONG_POLL_MAX_RATE = 20


@dataclass
class ClientConfig:
    seeds: Sequence[str]
    home: Path  # the profile directory: client.db and nodes.json live here
    poll_interval: float = 1.0
    listen_interval: float = 0.25
    #: How long a node may hold our retrieve / listen_get (long-poll); 0: poll on the intervals.
    long_poll_ms: int = 15_000
    #: Swarm members we listen to at once (each copy of a message is stored on up to 3).
    poll_copies: int = 3
    ack_timeout: float = 3.0
    refresh_interval: float = 60.0
    sync: bool = True  # advertise a listening node and use peers'
    request_timeout: float = 10.0
    pow_threads: int | None = 1
    #: Where our attachments go: ``http://host:port#p=<ed25519 hex>`` (the devnet publishes it).
    file_server: str | None = None
    #: Fetch received files at once, into ``<home>/attachments`` (else call ``download``).
    auto_download: bool = True
    #: Attachment chunks in flight per transfer.
    file_concurrency: int = 2


@dataclass(frozen=True)
class ClientEvent:
    kind: str  # "request", "request_dropped", "accepted", "message", "status", "file" (text: where it was saved), "file_error"
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
        self.files = FileTransfer(lambda server: OnionLink(self.oc, server, timeout=max(60.0, config.request_timeout)),
                                  concurrency=config.file_concurrency)
        self._downloads: set[asyncio.Task[Any]] = set()
        self._ingesting: set[asyncio.Task[Any]] = set()

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
            if self.cfg.long_poll_ms > 0:
                for slot in range(self.cfg.poll_copies):
                    self._tasks.append(loop.create_task(self._long_poll(
                        self.cfg.poll_interval, functools.partial(self._poll_member, slot))))
                if self.listener is not None:
                    self._tasks.append(loop.create_task(self._long_poll(self.cfg.listen_interval, self._fetch_mailbox)))
            else:
                self._tasks.append(loop.create_task(self._every(self.cfg.poll_interval, self.poll_swarm)))
                if self.listener is not None:
                    self._tasks.append(loop.create_task(self._every(self.cfg.listen_interval, self.poll_mailbox)))
            self._tasks.append(loop.create_task(self._every(self.cfg.refresh_interval, self.refresh_nodes)))

    async def stop(self) -> None:
        if self.listener is not None:
            # Tell peers we are going offline so they use the swarm at once (best effort).
            for peer, st in list(self.peers.items()):
                if st.route is not None and st.advertised:
                    with contextlib.suppress(ClientError, ProtocolError, asyncio.TimeoutError):
                        out = self.messenger.send_online_status(peer, self.listener.address, self.listener.node.port,
                                                                reachable=False, now_ms=self.clock.now_ms())
                        await asyncio.wait_for(self._deliver_sync(peer, st.route, out.data), 2.0)
        await self.stop_loops()
        if self._ingesting:  # envelopes already taken from the network: let them be stored
            await asyncio.wait(list(self._ingesting), timeout=2.0)
        for t in list(self._downloads) + list(self._ingesting):
            t.cancel()
        await asyncio.gather(*self._downloads, *self._ingesting, return_exceptions=True)
        self._save()
        await self.transport.close()
        self.db.close()

    async def stop_loops(self) -> None:
        """Stop polling (the client looks offline to the network) without closing anything."""
        self._closing = True
        pending = set(self._tasks)
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

    async def _long_poll(self, interval: float, fetch: Callable[[int], Awaitable[int]]) -> None:
        """Ask again as soon as an answer comes; back off *interval* when the request was not
        held (it failed, or came back empty well before its wait), and when answers come faster
        than :data:`LONG_POLL_MAX_RATE` a second (a node that never stops "having" messages must
        not make us spin; an honest burst is drained in batches anyway)."""
        wait = self.cfg.long_poll_ms
        recent: collections.deque[float] = collections.deque(maxlen=LONG_POLL_MAX_RATE)
        while not self._closing:
            t0 = time.monotonic()
            recent.append(t0)
            got = 0
            try:
                got = await fetch(wait)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a loop must survive anything one round throws
                log.info("long-poll failed: %s", exc)
            if not got and time.monotonic() - t0 < wait / 2000:
                await asyncio.sleep(interval)
            elif len(recent) == recent.maxlen and time.monotonic() - recent[0] < 1.0:
                await asyncio.sleep(interval)

    async def _poll_member(self, slot: int, wait_ms: int) -> int:
        """One long-poll on the *slot*-th member of our swarm; returns the messages it brought."""
        await self.router.swarm_of(self.session_id)
        members = self.router.members_to_poll(self.session_id, self.cfg.poll_copies)
        if slot >= len(members):
            return 0  # a swarm smaller than our slots: this loop idles at poll_interval
        got = await self.router.poll_member(self.session_id, members[slot], wait_ms)
        if got:
            self._ingest_later([item.data for item in got], "swarm")
        return len(got)

    async def _fetch_mailbox(self, wait_ms: int) -> int:
        if self.listener is None:
            return 0
        got = await self.listener.fetch(self.oc, wait_ms)
        if got:
            self._ingest_later(got, "sync")
        return len(got)

    def _ingest_later(self, items: list[bytes], via: str) -> None:
        """Ingest in the background so the long-poll is asked again at once (receipts sent
        while ingesting cost a round trip).  The lock is first come, first served, so
        envelopes are still ingested in the order they arrived."""
        async def run() -> None:
            try:
                for data in items:
                    await self._ingest(data, via)
                if via == "swarm":
                    self.db.put("last_hashes", self.router.last_hash)
            except Exception as exc:  # as the polling loops: one bad round must not go unseen
                log.info("ingest failed: %s", exc)

        task = asyncio.ensure_future(run())
        self._ingesting.add(task)
        task.add_done_callback(self._ingesting.discard)

    async def refresh_nodes(self) -> bool:
        changed = await self.nodelist.refresh(self.oc)
        if changed:
            self.pool.set_nodes(self.nodelist.nodes)
        return changed

    def _save(self, *, sending: bool = True) -> None:
        """Persist the Messenger; *sending* (an envelope leaves next) waits for the disk."""
        with self.db.transaction(durable=sending):
            self.db.save_messenger(self.messenger)
            self.db.put("last_hashes", self.router.last_hash)

    # -- sending ------------------------------------------------------------------------------

    async def send_friend_request(self, peer: str, intro: str) -> SendReport:
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.send_friend_request(peer, intro, now_ms=self.clock.now_ms())
            self._save()
        return await self._send_async(out, "friend request")

    async def accept(self, peer: str, text: str = "") -> SendReport:
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.accept(peer, now_ms=self.clock.now_ms(), text=text)
            self._save()
            if text:
                self._record(peer, "out", text, out.timestamp_ms, "swarm")
        return await self._send_async(out, "accept")

    def pending_requests(self) -> list[str]:
        return [c.session_id for c in self.messenger.contacts.values() if c.state is ContactState.INCOMING]

    async def send_file(self, peer: str, path: Path, text: str = "", *, server: str | None = None) -> SendReport:
        """Upload ``path`` (padded, encrypted, chunked when large) to the file server through an
        onion path, then send its pointer (with ``text``) like a text message.  An interrupted
        upload of a large file resumes on the next call for the same unchanged file."""
        where = server or self.cfg.file_server
        if not where:
            raise ClientError("no file server configured (ClientConfig.file_server, or --file-server)")
        peer = canonical_session_id(peer)
        pointer = await self.files.upload_file(Path(path), FileServerRef.parse(where),
                                               state_dir=self.cfg.home / "uploads")
        return await self.send_text(peer, text, attachments=(pointer,))

    async def download(self, pointer: Pointer) -> Path:
        """Fetch a received attachment into ``<home>/attachments``; returns where it is saved."""
        return await self.files.download(pointer, self.cfg.home / "attachments")

    async def wait_downloads(self) -> None:
        """Wait for the automatic downloads started so far (each reports a "file" event)."""
        while self._downloads:
            await asyncio.gather(*list(self._downloads), return_exceptions=True)

    async def send_text(self, peer: str, text: str, *, attachments: Sequence[Pointer] = ()) -> SendReport:
        peer = canonical_session_id(peer)
        st = self.peers.setdefault(peer, _Peer())
        async with self._lock:
            ts = self.clock.now_ms()
            listening = None
            if (self.listener is not None and st.route is None
                    and self.messenger.mode_of(peer) is ConversationMode.RATCHET):
                listening = (self.listener.address, self.listener.node.port)  # where we listen (§4.6.2)
            out = self.messenger.send_text(peer, text, now_ms=ts, listening=listening, attachments=attachments)
            if listening is not None:
                st.advertised = listening[0]
            self._save()
        rep = await self._deliver_text(peer, st, out)
        self._record(peer, "out", _with_files(text, attachments), ts, rep.route)
        return rep

    async def _deliver_text(self, peer: str, st: _Peer, out: Outgoing) -> SendReport:
        ts = out.timestamp_ms
        if st.route is not None and self.cfg.sync:
            t0 = time.perf_counter()
            acked = await self._send_sync(peer, st.route, out)
            if acked:
                return SendReport(peer, "text", "sync", f"listening node {st.route.node_ed25519[:8]} (acked)",
                                  time.perf_counter() - t0, ts)
            st.route = None
            self.stats.fallbacks += 1
            rep = await self._send_async(out, "text", started=t0)
            rep.route = "sync->async"
            return rep
        return await self._send_async(out, "text")

    async def _send_async(self, out: Outgoing, kind: str, started: float | None = None) -> SendReport:
        t0 = started or time.perf_counter()
        rep = await self.router.store(out.recipient, out.data, out.ttl_ms)
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
        got = await self.router.poll(self.session_id)
        events = []
        for item in got:
            events += await self._ingest(item.data, "swarm")
        self.db.put("last_hashes", self.router.last_hash)
        return events

    async def poll_mailbox(self) -> list[ClientEvent]:
        if self.listener is None:
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

    async def _ingest(self, data: bytes, via: str) -> list[ClientEvent]:
        digest = hashlib.sha256(data).hexdigest()
        replies: list[tuple[str, PeerRoute]] = []
        acks: list[tuple[str, int]] = []
        files: list[tuple[str, Pointer]] = []
        async with self._lock:
            with self.db.transaction():  # one disk sync for the whole receipt of a message
                events = self._receive(data, digest, via, acks, replies, files)
        if events is None:
            return []
        for e in events:  # shown first: the receipts below cost a round trip each
            self._emit(e)
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

    def _receive(self, data: bytes, digest: str, via: str, acks: list[tuple[str, int]],
                 replies: list[tuple[str, PeerRoute]], files: list[tuple[str, Pointer]]) -> list[ClientEvent] | None:
        """Decrypt, dedup and persist one envelope (under the lock, in one transaction); None
        when it brought nothing (a duplicate, undecryptable)."""
        if self.db.seen(digest):
            self.stats.duplicates += 1
            return None
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
            return None
        except (ProtocolError, ValueError) as exc:
            self.stats.undecryptable += 1
            log.info("dropped an undecodable message: %s", exc)
            return None
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
                body = _with_files(ev.body, ev.attachments)
                self._record(ev.sender, "in", body, ev.timestamp_ms, via, ev.display_name)
                events.append(ClientEvent("message", ev.sender, body, ev.display_name, via, ev.timestamp_ms))
                files += [(ev.sender, p) for p in ev.attachments]
                st = self.peers.get(ev.sender)
                if via == "sync" and st is not None and st.route is not None:
                    acks.append((ev.sender, ev.timestamp_ms))
            elif isinstance(ev, ReceiptReceived):
                for ts in ev.timestamps_ms:
                    fut = self._acks.get(ts)
                    if fut is not None and not fut.done():
                        fut.set_result(True)
            elif isinstance(ev, OnlineStatusReceived):
                self._on_status(ev, replies)
                events.append(ClientEvent("status", ev.sender, "online" if ev.reachable else "offline", "", via))
        self._save(sending=False)  # inside _ingest's transaction; an ack, if any, saves durably
        return events

    def _emit(self, e: ClientEvent) -> None:
        self.events.put_nowait(e)
        if self.on_event is not None:
            self.on_event(e)

    async def _fetch(self, sender: str, pointer: Pointer) -> None:
        try:
            saved = await self.download(pointer)
        except (AttachmentError, ClientError, OSError) as exc:
            self._emit(ClientEvent("file_error", sender, f"{pointer.file_name or 'attachment'}: {exc}", via="file"))
            return
        self._emit(ClientEvent("file", sender, str(saved), pointer.file_name, "file"))

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

    def _record(self, peer: str, direction: str, body: str, ts: int, via: str, name: str = "") -> None:
        self.db.add_message(peer, {"peer": peer, "dir": direction, "body": body, "ts": ts, "via": via, "name": name},
                            self.clock.now_ms())

    def history(self, peer: str | None = None, after_id: int = 0) -> list[dict[str, Any]]:
        if peer is not None:
            peer = canonical_session_id(peer)
        return self.db.messages(peer, after_id)


def _with_files(text: str, attachments: Sequence[Pointer]) -> str:
    """The history line of a message: its text, then one ``[file: name (size)]`` per attachment."""
    tags = [f"[file: {p.file_name or 'attachment'} ({p.size} bytes)]" for p in attachments]
    return " ".join([text] + tags if text else tags)
