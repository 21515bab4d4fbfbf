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

Several devices of one account (``multi_device``, docs/devices.md): each poll of the own swarm
reads the config messages first (:mod:`session_core.client.devices`), applies them to the
Messenger, then reads the conversation messages, then publishes what needs publishing.  Every
sent text is followed by one copy stored in the own swarm, which all the other devices poll.
Copies and config pushes go through the durable outbox (:mod:`session_core.client.outbox`),
which the poll loop retries until the own swarm takes them.

Disappearing messages (docs/protections.md): a conversation's timer (:meth:`set_disappearing`)
rides on every text.  After send: every copy dies at the sender's timestamp + timer -- the swarm
copy is stored with that TTL and the recipient also shortens it with a signed ``expire``; after
read: the recipient's timer starts at :meth:`mark_read`, which shortens the swarm copy the same
way.  Local copies are deleted by :meth:`sweep_expired`, run at every poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_core.client.backup import create_backup
from session_core.client.clock import NetworkClock
from session_core.client.devices import CONFIG_KIND, DeviceSync
from session_core.client.db import ClientDB
from session_core.client.durable import WalSync
from session_core.client.files import FileTransfer, OnionLink
from session_core.client.nodelist import NodeList
from session_core.client.outbox import Outbox
from session_core.client.onion_client import OnionClient
from session_core.client.paths import PathPool
from session_core.client import poll_loops
from session_core.client.router import Retrieved, StoreReport, SwarmRouter
from session_core.client.snode import Snode
from session_core.client.sync import Listener, PeerRoute, deliver, parse_route
from session_core.client.transport import HttpTransport, Transport
from session_core.client.remote_wipe import Arming, find_trigger, make_secret, secret_hash
from session_core.client.wipe import WipeReport, wipe_directory
from session_core.attachments import FileServerRef, Pointer
from session_core.errors import (
    AttachmentError, ClientError, ClientStateError, DecryptionError, DuplicateMessageError, ProtocolError,
    RemoteWipeSetupError, WipedError,
)
from session_core.identity import Identity, canonical_session_id
from session_core.protocol import (
    ContactState, ConversationMode, ExpirationTimerChanged, FriendRequestAccepted, FriendRequestDropped,
    FriendRequestReceived, MessageReceived, OnlineStatusReceived, Outgoing, ReceiptReceived,
)
from session_core.protocol.config import Conversations, is_config
from session_core.protocol.events import SentMessageSynced
from session_core.protocol.friend_request import check_text
from session_core.protocol.link import is_link_ack, is_link_record
from session_core.protocol.sent_sync import sync_copy
from session_core.protocol.expiration import AFTER_SEND, Expiration

__all__ = ["Client", "ClientConfig", "ClientEvent", "SendReport"]

log = logging.getLogger("session_core.client")

_SYNC_COPY = "sync_copy"  # outbox items: copies of sent messages for the other devices


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
    # This account may run on several devices (docs/devices.md): sync configs and sent messages
    # through the own swarm, and speak the Session protocol (a ratchet's state cannot be shared).
    multi_device: bool = False
    #: Retry delays of the outbox (sync copies, config pushes not stored yet): first, and cap (s).
    outbox_backoff_s: tuple[float, float] = (1.0, 300.0)


@dataclass(frozen=True)
class ClientEvent:
    kind: str  # "request", "request_dropped", "accepted", "message", "sent" (by another device), "status",
    #          "file" (text: where it was saved), "file_error", "timer", "wiped"
    peer: str
    text: str = ""
    name: str = ""
    via: str = ""  # "swarm" or "sync"
    timestamp_ms: int = 0
    muted: bool = False  # a "message" in a conversation muted now (synced across devices): no notification


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
    sync_copies: int = 0  # sent-message copies stored in the own swarm (multi-device)
    config_pushes: int = 0


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
        self.disk = WalSync(self.db.path)  # durable commits off the event loop (client/durable.py)
        self.messenger = self.db.load_messenger(identity, display_name)
        self.outbox = Outbox(self.db, base_ms=int(config.outbox_backoff_s[0] * 1000),
                             max_ms=int(config.outbox_backoff_s[1] * 1000), rng=self.rng)
        self.devices: DeviceSync | None = None
        if config.multi_device:
            self.devices = DeviceSync(identity, self.db)
            self.messenger.modes = (ConversationMode.SESSION,)
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
        self.wiped = False
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
                # What a poll round also does, now that no round is polled: expiry, the outbox, configs.
                self._tasks.append(loop.create_task(self._every(self.cfg.poll_interval, self._housekeeping)))
            else:
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
        pending = set(self._tasks) - {asyncio.current_task()}  # a loop may be what stops us (wipe)
        while pending:
            # asyncio.wait_for in 3.11 can swallow a cancellation that races with its inner
            # future finishing; so cancel again until every loop has really ended.
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        self._tasks.clear()

    async def _every(self, interval: float, fn: Callable[[], Any]) -> None:
        await poll_loops.every(interval, fn, lambda: not self._closing)

    async def _long_poll(self, interval: float, fetch: Callable[[int], Awaitable[int]]) -> None:
        await poll_loops.long_poll(self.cfg.long_poll_ms, interval, fetch, lambda: not self._closing)

    async def _poll_member(self, slot: int, wait_ms: int) -> int:
        """One long-poll on the *slot*-th member of our swarm; returns the messages it brought."""
        await self.router.swarm_of(self.session_id)
        members = self.router.members_to_poll(self.session_id, self.cfg.poll_copies)
        if slot >= len(members):
            return 0  # a swarm smaller than our slots: this loop idles at poll_interval
        got = await self.router.poll_member(self.session_id, members[slot], wait_ms)
        if got:
            self._in_background(self._take_from_swarm(got))
        return len(got)

    async def _fetch_mailbox(self, wait_ms: int) -> int:
        if self.listener is None:
            return 0
        got = await self.listener.fetch(self.oc, wait_ms)
        if got:
            self._ingest_later(got, "sync")
            # Let the ingest show the first envelope before we ask again: it runs until its
            # receipt's fsync (client/durable.py), and the deposit waits in the node meanwhile.
            await asyncio.sleep(0)
        return len(got)

    def _ingest_later(self, items: list[bytes], via: str) -> None:
        """Ingest envelopes from our listening mailbox in the background (see _in_background)."""
        async def run() -> None:
            for data in items:
                await self._ingest(data, via)

        self._in_background(run())

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run *work* (ingesting what a long-poll brought) in the background so the long-poll
        is asked again at once (receipts sent while ingesting cost a round trip).  The lock is
        first come, first served, so envelopes are still ingested in the order they arrived."""
        async def run() -> None:
            try:
                await work
            except Exception as exc:  # as the polling loops: one bad round must not go unseen
                log.info("ingest failed: %s", exc)

        task = asyncio.ensure_future(run())
        self._ingesting.add(task)
        task.add_done_callback(self._ingesting.discard)

    async def _housekeeping(self) -> None:
        """With long-polls: what each poll round does besides reading (expiry, outbox, configs)."""
        if self.wiped:
            return
        self.sweep_expired()
        await self.flush_outbox()
        if self.devices is not None:
            await self.push_config()

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
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.send_friend_request(peer, intro, now_ms=self.clock.now_ms())
            self._save()
        rep = await self._send_async(out, "friend request")
        await self._note_contact(peer, approved=True)
        return rep

    async def accept(self, peer: str, text: str = "") -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.accept(peer, now_ms=self.clock.now_ms(), text=text)
            self._save()
            if text:
                self._record(peer, "out", text, out.timestamp_ms, "swarm")
        rep = await self._send_async(out, "accept")
        await self._note_contact(peer, approved=True, approved_me=True)
        if text:
            await self._store_sync_copy(peer, text, out.timestamp_ms, ())
        return rep

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
            out = self.messenger.send_text(peer, text, now_ms=ts, listening=listening, attachments=attachments,
                                           expire=expire)
            if listening is not None:
                st.advertised = listening[0]
            self._save(sending=False)
        await self.disk.flush()  # the ratchet step is on disk before the envelope leaves
        # The swarm copy of an after-send message dies with every other copy.
        dies_at = ts + expire.ms if expire is not None and expire.mode == AFTER_SEND else None
        rep = await self._deliver_text(peer, st, out, dies_at)
        line = _with_files(text, attachments)
        msg_id = self._record(peer, "out", line, ts, rep.route)
        if expire is not None:  # our own copy: we have read it, so both modes count from now
            self.db.set_expiry(msg_id, ts + expire.ms, expire.ms)
        else:
            # With the pointers: files show on every device.  A disappearing message is not
            # copied: the copy would outlive its timer on the other devices (timers do not sync yet).
            await self._store_sync_copy(peer, text, ts, attachments)
        return rep

    # -- multi-device -------------------------------------------------------------------------

    async def _store_sync_copy(self, peer: str, text: str, ts: int, attachments: Sequence[Pointer]) -> None:
        """One copy in the own swarm, which every other device of the account polls.  It goes
        through the outbox: if the own swarm does not take it now, it is retried until it does
        (the send itself succeeded, so the copy must not be lost)."""
        if self.devices is None:
            return
        copy = sync_copy(self.identity, peer, text, sent_ms=ts, attachments=attachments)
        self.db.mark_seen(hashlib.sha256(copy.data).hexdigest(), self.clock.now_ms())  # ours: not shown twice
        self.outbox.add(_SYNC_COPY, self.session_id, copy.data, copy.ttl_ms, self.clock.now_ms())
        await self.flush_outbox()

    async def flush_outbox(self) -> int:
        """Store what the outbox holds and is due (the poll loop calls this); returns how many
        were stored.  What fails stays, retried later with backoff."""
        now = self.clock.now_ms()
        stored = await self.outbox.flush(self.router.store, now)
        for item in stored:
            if item.kind == _SYNC_COPY:
                self.stats.sync_copies += 1
            elif item.kind == CONFIG_KIND and self.devices is not None:
                self.devices.stored(now)
        return len(stored)

    async def _note_contact(self, peer: str, **flags: bool) -> None:
        if self.devices is None:
            return
        self.devices.config.contacts.set(peer, **flags)
        await self.push_config()

    async def push_config(self) -> int:
        """Publish config edits (and merges of other devices' concurrent edits) to the own swarm."""
        if self.devices is None:
            return 0
        n = self.devices.push(self.outbox, self.clock.now_ms())
        self.stats.config_pushes += n
        if n:
            await self.flush_outbox()
        return n

    def set_read_mark(self, peer: str, up_to_ms: int | None = None) -> bool:
        """Move the synced read mark of the conversation with ``peer`` to ``up_to_ms`` (default:
        their newest message); other devices learn it from the conversations config at their
        next poll after :meth:`push_config` (which the poll loop does).  False if it did not
        move (single device, nothing received, or the mark was already there or later)."""
        if self.devices is None:
            return False
        peer = canonical_session_id(peer)
        if up_to_ms is None:
            incoming = [m["ts"] for m in self.history(peer) if m["dir"] == "in"]
            if not incoming:
                return False
            up_to_ms = max(incoming)
        moved = self.devices.config.conversations.mark_read(peer, up_to_ms)
        self.devices.save()
        return moved

    def _blocked(self, peer: str) -> bool:
        if self.devices is None:
            return False
        contact = self.devices.config.contacts.get(peer)
        return contact is not None and contact.blocked

    def block(self, peer: str, blocked: bool = True) -> None:
        """Hide ``peer``'s requests and messages on every device of the account (synced at the
        next :meth:`push_config`)."""
        if self.devices is None:
            raise ClientStateError("blocking is kept in the account's configs: a multi_device client only")
        self.devices.config.contacts.set(peer, blocked=blocked)
        self.devices.save()

    def mute(self, peer: str, until_ms: int | None) -> None:
        """No notifications from ``peer`` until ``until_ms`` (epoch ms; ``None`` or 0 unmutes,
        :data:`~session_core.protocol.config.MUTED_FOREVER` never ends), on every device of the
        account (synced at the next :meth:`push_config`).  Messages still arrive: their events
        carry ``muted=True``."""
        self._conversations("muting").mute(canonical_session_id(peer), until_ms or None)
        self._devices().save()

    def muted(self, peer: str) -> bool:
        """Whether the conversation with ``peer`` is muted now."""
        return self.devices is not None and self.devices.config.conversations.muted(peer, self.clock.now_ms())

    def pin(self, peer: str, pinned: bool = True) -> None:
        """Pin (or unpin) the conversation with ``peer`` on every device of the account."""
        self._conversations("pinning").set(canonical_session_id(peer), pinned=pinned)
        self._devices().save()

    def pinned(self) -> list[str]:
        """The pinned conversations (synced across devices), sorted."""
        return [] if self.devices is None else self.devices.config.conversations.pinned()

    def _conversations(self, what: str) -> Conversations:
        return self._devices(what).config.conversations

    def _devices(self, what: str = "this") -> DeviceSync:
        if self.devices is None:
            raise ClientStateError(f"{what} is kept in the account's configs: a multi_device client only")
        return self.devices

    def set_display_name(self, name: str) -> None:
        """Our display name, on every device of the account (multi-device: through the profile config)."""
        check_text("", name)
        self.messenger.display_name = name
        if self.devices is not None:
            self.devices.config.profile.name = name
            self.devices.save()
        self._save()

    def read_up_to(self, peer: str) -> int:
        """The read mark of the conversation with ``peer`` (synced across devices), 0 if none."""
        return 0 if self.devices is None else self.devices.config.conversations.read_up_to(peer)

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
            if sender and isinstance(ev, (FriendRequestReceived, MessageReceived)) and self._blocked(sender):
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
                line = _with_files(ev.body, ev.attachments)
                self._record(ev.peer, "out", line, ev.timestamp_ms, via)
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
                body = _with_files(ev.body, ev.attachments)
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
            elif isinstance(ev, OnlineStatusReceived):
                self._on_status(ev, replies)
                events.append(ClientEvent("status", ev.sender, "online" if ev.reachable else "offline", "", via))
        self._save(sending=False)  # inside _ingest's transaction; an ack, if any, saves durably
        return events, wipe

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
            self._save(sending=False)
        await self.disk.flush()  # on disk before it leaves
        self.peers[peer].advertised = self.listener.address + "@" + route.mailbox
        await self._deliver_sync(peer, route, out.data)

    async def _ack(self, peer: str, ts: int) -> None:
        st = self.peers.get(peer)
        if st is None or st.route is None:
            return
        async with self._lock:
            out = self.messenger.send_receipt(peer, [ts], read=False, now_ms=self.clock.now_ms())
            self._save(sending=False)
        await self.disk.flush()  # on disk before the receipt leaves
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

    def _keep_disappearing(self, ev: MessageReceived, body: str, via: str, node_hash: str,
                           shorten: list[tuple[str, int]]) -> bool:
        """Record a received message (its history line: *body*) with its time of death; False
        if it is already dead."""
        if not ev.expire_mode:
            self._record(ev.sender, "in", body, ev.timestamp_ms, via, ev.display_name)
            return True
        timer_ms = ev.expire_after_s * 1000
        dies_at = ev.timestamp_ms + timer_ms if ev.expire_mode == AFTER_SEND else 0
        if dies_at and dies_at <= self.clock.now_ms():
            if node_hash:
                shorten.append((node_hash, self.clock.now_ms()))
            return False  # arrived after its time: never shown, never stored
        msg_id = self._record(ev.sender, "in", body, ev.timestamp_ms, via, ev.display_name)
        self.db.set_expiry(msg_id, dies_at, timer_ms, node_hash)
        if dies_at and node_hash:
            shorten.append((node_hash, dies_at))
        return True

    async def mark_read(self, peer: str | None = None, up_to_ms: int | None = None) -> int:
        """The user saw the conversation with ``peer`` (or all of them): after-read timers start
        now and our swarm's copies are shortened to the same time; with several devices the
        read mark moves too (:meth:`set_read_mark`, up to ``up_to_ms``).  Returns how many
        after-read timers started."""
        self._alive()
        if peer is not None:
            peer = canonical_session_id(peer)
        async with self._lock:
            due = self.db.start_read_timers(peer, self.clock.now_ms())
        with contextlib.suppress(ClientError):
            await self.router.expire(self.identity, [(h, at) for h, at in due if h])
        if self.devices is not None:
            for who in [peer] if peer is not None else list(self.messenger.contacts):
                self.set_read_mark(who, up_to_ms)
        return len(due)

    def sweep_expired(self) -> int:
        """Delete the local messages whose time has come (and their bytes, see ClientDB)."""
        if self.wiped:
            return 0
        return self.db.delete_due(self.clock.now_ms())


def _with_files(text: str, attachments: Sequence[Pointer]) -> str:
    """The history line of a message: its text, then one ``[file: name (size)]`` per attachment."""
    tags = [f"[file: {p.file_name or 'attachment'} ({p.size} bytes)]" for p in attachments]
    return " ".join([text] + tags if text else tags)
