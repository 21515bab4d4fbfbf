"""The client's shared state: its configuration, what it reports, and what every part of
:class:`~session_core.client.client.Client` stands on (the Messenger, the database, the
network parts, the peers' routes).  The client is built in layers, one concern each, every
layer a subclass of the one below (so each may use everything under it):

    ClientState (this) -> AccountSync (account.py: devices, settings) -> Sender (sending.py)
    -> Protections (protections.py) -> Receiver (intake.py) -> Client (client.py: life cycle)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_core.attachments import Pointer
from session_core.client.clock import NetworkClock
from session_core.client.db import ClientDB
from session_core.client.devices import DeviceSync
from session_core.client.durable import WalSync
from session_core.client.files import FileTransfer, OnionLink
from session_core.client.nodelist import NodeList
from session_core.client.onion_client import OnionClient
from session_core.client.outbox import Outbox
from session_core.client.paths import PathPool
from session_core.client.router import StoreReport, SwarmRouter
from session_core.client.snode import Snode
from session_core.client.sync import Listener, PeerRoute
from session_core.client.transport import HttpTransport, Transport
from session_core.errors import WipedError
from session_core.identity import Identity, canonical_session_id
from session_core.protocol import ConversationMode

__all__ = ["ClientConfig", "ClientEvent", "ClientState", "ClientStats", "PeerState", "SendReport", "history_line"]


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
    #          "file" (text: where it was saved), "file_error", "timer", "wiped",
    #          "group_invite" (text: the group ID, name: the group's name; see client.groups)
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
class PeerState:
    route: PeerRoute | None = None
    advertised: str = ""  # the route address we last told them


@dataclass
class ClientStats:
    received: int = 0
    duplicates: int = 0
    undecryptable: int = 0
    sync_sent: int = 0
    async_sent: int = 0
    fallbacks: int = 0
    sync_copies: int = 0  # sent-message copies stored in the own swarm (multi-device)
    config_pushes: int = 0


class ClientState:
    """What every layer of the client shares; see the module doc."""

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
        self.peers: dict[str, PeerState] = {}
        self.stats = ClientStats()
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

    def _save(self, *, sending: bool = True) -> None:
        """Persist the Messenger; *sending* (an envelope leaves next) waits for the disk."""
        with self.db.transaction(durable=sending):
            self.db.save_messenger(self.messenger)
            self.db.put("last_hashes", self.router.last_hash)

    def _alive(self) -> None:
        if self.wiped:
            raise WipedError("this profile was wiped: restore it from the recovery phrase or a backup")

    def _record(self, peer: str, direction: str, body: str, ts: int, via: str, name: str = "") -> int:
        return self.db.add_message(
            peer, {"peer": peer, "dir": direction, "body": body, "ts": ts, "via": via, "name": name},
            self.clock.now_ms())

    def _emit(self, e: ClientEvent) -> None:
        self.events.put_nowait(e)
        if self.on_event is not None:
            self.on_event(e)

    def _node(self, ed25519: str) -> Snode | None:
        for n in self.nodelist.nodes:
            if n.ed25519 == ed25519:
                return n
        return None

    def history(self, peer: str | None = None, after_id: int = 0) -> list[dict[str, Any]]:
        self._alive()
        self.sweep_expired()  # what is due is never shown, even between polls
        if peer is not None:
            peer = canonical_session_id(peer)
        return self.db.messages(peer, after_id)

    async def refresh_nodes(self) -> bool:
        changed = await self.nodelist.refresh(self.oc)
        if changed:
            self.pool.set_nodes(self.nodelist.nodes)
        return changed

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

    def sweep_expired(self) -> int:
        """Delete the local messages whose time has come (and their bytes, see ClientDB)."""
        if self.wiped:
            return 0
        return self.db.delete_due(self.clock.now_ms())


def history_line(text: str, attachments: Sequence[Pointer]) -> str:
    """The history line of a message: its text, then one ``[file: name (size)]`` per attachment."""
    tags = [f"[file: {p.file_name or 'attachment'} ({p.size} bytes)]" for p in attachments]
    return " ".join([text] + tags if text else tags)
