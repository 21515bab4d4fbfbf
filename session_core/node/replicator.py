"""Moving records between nodes: replication to the swarm, pushes, accepting peers' batches.

Theory of operation
-------------------
Every message a client stored here is queued (:meth:`Replicator.on_stored`); every
``REPLICATE_INTERVAL`` the queue goes to each other member of our swarm, one batch per peer.
A peer that did not take its batch keeps it as a backlog (at most ``MAX_BACKLOG`` messages)
for the next round; a peer that left our swarm loses its backlog, since the membership pushes
(:mod:`session_core.node.membership`) cover its records.  :meth:`Replicator.push` is the one
way records go to another node; :meth:`Replicator.accept` the one way records from another
node are checked and stored.

Who may hand us records (issue 11: any registered node could push ``data`` for any swarm).
A record for user *P* is taken from node *S* only if our swarm owns *P* in our current view,
and *S* is a current member of our swarm, or *S* was in the swarm that owned *P* in one of the
last :data:`RECENT_VIEWS` views (the hand-over when swarms split, a node joins or a swarm
dissolves).  A batch with nothing we may take is answered ``421``; the sender tries again
shortly (our view may be a block behind its own) and then gives up.  Catch-up answers
(:mod:`session_core.node.catchup`) go through the same check.

The queue and the backlogs live in RAM, so the store also keeps a durable *outbox* of client
stores (written in the transaction that saved them, before the client's ack): a message
leaves it once no backlog holds it any more, and :meth:`Replicator.restore` queues what is
left when the node starts.  Without it, a node killed between an ack and the next round kept
the message on its own disk only (the soak test found hundreds of such messages).

Expiries (:mod:`session_core.node.expiry_proofs`).  A client's signed ``expire`` accepted here
is queued like a stored message (:meth:`Replicator.on_expired`) and goes to every other member
in the same round, after the messages of that round (so a peer has the message before the
proof that shortens it), with the same per-peer backlog.  Peers check the owner's signature
themselves (:meth:`Replicator.accept_expiries`) and never forward it again.  A member that
was down asks each peer for the proofs they keep (``catchup_expiries``,
:meth:`Replicator.expiry_catchup_reply`) after catching up on the messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from session_core.errors import PeerRequestError
from session_core.node.group_generations import GroupGenerations

from session_core.node import catchup, expiry_proofs, replication
from session_core.node.clock import now_ms
from session_core.node.difficulty import DifficultyTracker
from session_core.node.expiry_proofs import ExpiryProof, ExpiryProofError, PendingExpiries
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.peer import PeerClient, describe, ok
from session_core.node.stats import NodeStats
from session_core.node.store import MessageStore
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

log = logging.getLogger("session_core.node")

REPLICATE_INTERVAL = 0.35  # upstream RELAY_INTERVAL
PUSH_TIMEOUT = 10.0
REPLICATE_TIMEOUT = 3.0  # a peer that cannot take a batch in this time gets it next round
MAX_BACKLOG = 100_000  # messages kept per unreachable peer
RECENT_VIEWS = 4  # views whose swarm owners may still hand records over to us
PUSH_RETRY_DELAY = 0.5  # a push refused with 421 is sent again after this (views converge)
EXPIRE_FRAME_BYTES = 500_000  # proofs per `expire` request: about one replication batch
PROOFS_PER_PAGE = 500  # kept proofs looked at per `catchup_expiries` page


@dataclass(frozen=True)
class Accepted:
    """What :meth:`Replicator.accept` did with a batch: *new* records stored, *taken* records
    we were entitled to (new or not, valid or not), *refused* records we were not."""

    new: int
    taken: int
    refused: int
    #: Recipients of the records stored (held retrieves of theirs are woken).
    pubkeys: frozenset[str] = frozenset()


class Outbox(Protocol):
    """Client stores not yet taken by every peer, kept across restarts (SqliteStore has one)."""

    def outbox_messages(self, now_ms: int) -> list[Message]: ...
    def outbox_remove(self, hashes: Iterable[str]) -> None: ...


class Replicator:
    def __init__(
        self,
        me: str,
        store: MessageStore,
        difficulty: DifficultyTracker,
        peers: PeerClient,
        view: Callable[[], NetworkView | None],
        stats: NodeStats,
        max_ttl_ms: int,
        outbox: Outbox | None = None,
        generations: GroupGenerations | None = None,
    ) -> None:
        self.me = me
        self.generations = generations
        self.store = store
        self.difficulty = difficulty
        self.peers = peers
        self._view = view
        self.stats = stats
        self.max_ttl_ms = max_ttl_ms
        self._fresh: list[Message] = []
        self._backlog: dict[str, list[Message]] = {}
        self._recent: deque[NetworkView] = deque(maxlen=RECENT_VIEWS)
        self._pages = catchup.PageLimiter()
        self._outbox = outbox
        self._unsent: set[str] = set()  # outbox entries queued or backlogged in this process
        self._fresh_proofs: list[ExpiryProof] = []
        self._proof_backlog: dict[str, list[ExpiryProof]] = {}
        #: Verified proofs naming messages not held here yet (applied when they arrive).
        self.pending = PendingExpiries()

    def on_view(self, view: NetworkView) -> None:
        """Remember *view*: its swarm owners may hand records over for a few blocks."""
        self._recent.append(view)

    def swarm_peers(self, view: NetworkView, swarm_id: int) -> list[SnodeInfo]:
        """The members of a swarm other than this node."""
        return [n for n in view.members(swarm_id) if n.ed25519 != self.me]

    # -- replication to our swarm -------------------------------------------------------------

    def on_stored(self, msg: Message) -> None:
        self.stats.stored += 1
        self._fresh.append(msg)
        if self._outbox is not None:
            self._unsent.add(msg.hash)

    def on_expired(self, proof: ExpiryProof, missing: Iterable[str] = ()) -> None:
        """A client's ``expire`` was accepted (and applied) here: send the proof to the swarm;
        apply it to the *missing* messages if they arrive from another member."""
        self._fresh_proofs.append(proof)
        missing = list(missing)
        if missing:
            self.pending.remember(proof, missing)

    def restore(self) -> int:
        """Queue the outbox a previous run of this node left (acked, maybe never replicated)."""
        if self._outbox is None:
            return 0
        msgs = [m for m in self._outbox.outbox_messages(now_ms()) if m.hash not in self._unsent]
        self._fresh[:0] = msgs
        self._unsent.update(m.hash for m in msgs)
        if msgs:
            log.info("re-queued %d stored messages not yet replicated before the restart", len(msgs))
        return len(msgs)

    async def run_forever(self) -> None:
        self.restore()
        while True:
            await asyncio.sleep(REPLICATE_INTERVAL)
            await self.replicate_once()

    async def replicate_once(self) -> None:
        fresh, self._fresh = self._fresh, []
        proofs, self._fresh_proofs = self._fresh_proofs, []
        view = self._view()
        me = view.node(self.me) if view else None
        if view is None or me is None:
            self._fresh = fresh + self._fresh
            self._fresh_proofs = proofs + self._fresh_proofs
            return
        peers = self.swarm_peers(view, me.swarm_id)
        members = {p.ed25519 for p in peers}
        for gone in [k for k in self._backlog if k not in members]:
            del self._backlog[gone]  # it left our swarm; membership pushes cover its records
        for gone in [k for k in self._proof_backlog if k not in members]:
            del self._proof_backlog[gone]
        jobs = []
        for p in peers:
            todo = self._backlog.pop(p.ed25519, []) + fresh
            todo_proofs = self._proof_backlog.pop(p.ed25519, []) + proofs
            if todo or todo_proofs:
                jobs.append(self._replicate_to(p, todo, todo_proofs))
        await asyncio.gather(*jobs)
        self._settle_outbox()

    def _settle_outbox(self) -> None:
        """Drop from the outbox what every current peer took (no backlog holds it, not queued)."""
        if self._outbox is None or not self._unsent:
            return
        waiting = {m.hash for m in self._fresh}
        for msgs in self._backlog.values():
            waiting.update(m.hash for m in msgs)
        done = self._unsent - waiting
        if done:
            self._outbox.outbox_remove(done)
            self._unsent -= done

    async def _replicate_to(self, peer: SnodeInfo, msgs: list[Message], proofs: list[ExpiryProof]) -> None:
        # Messages first: a proof that reached a peer before its message would wait there.
        if msgs and not await self.push(peer, msgs, REPLICATE_TIMEOUT):
            self._backlog[peer.ed25519] = (self._backlog.get(peer.ed25519, []) + msgs)[-MAX_BACKLOG:]
            if proofs:
                self._keep_proofs(peer, proofs)
            return
        if proofs and not await self.push_expiries(peer, proofs, REPLICATE_TIMEOUT):
            self._keep_proofs(peer, proofs)

    def _keep_proofs(self, peer: SnodeInfo, proofs: list[ExpiryProof]) -> None:
        self._proof_backlog[peer.ed25519] = (self._proof_backlog.get(peer.ed25519, []) + proofs)[-MAX_BACKLOG:]

    async def push_expiries(self, node: SnodeInfo, proofs: list[ExpiryProof], timeout: float = PUSH_TIMEOUT) -> bool:
        """Send owner-signed expiry proofs to *node* (``expire``, one proof per frame); False
        if a request was not taken."""
        for frames in _chunks([p.encode() for p in proofs], EXPIRE_FRAME_BYTES):
            try:
                parts = await self.peers.request(node.x25519, node.ip, node.zmq_port, b"expire", frames, timeout)
            except PeerRequestError as exc:
                log.info("expiry push to a peer failed: %s", exc)
                return False
            if not ok(parts):
                log.info("peer refused expiry proofs: %s", describe(parts))
                return False
        return True

    # -- records between nodes ----------------------------------------------------------------

    async def push(self, node: SnodeInfo, msgs: list[Message], timeout: float = PUSH_TIMEOUT,
                   attempts: int = 1) -> bool:
        """Send *msgs* to *node* (``data`` batches); False if any batch was not taken.  A batch
        refused with 421 (the receiver's view does not make it responsible yet) is sent again,
        up to *attempts* times in all."""
        for blob in replication.serialize_batches(msgs):
            for attempt in range(attempts):
                try:
                    parts = await self.peers.request(node.x25519, node.ip, node.zmq_port, b"data", [blob], timeout)
                except PeerRequestError as exc:
                    log.info("push to a peer failed: %s", exc)
                    return False
                if ok(parts):
                    break
                if parts[:1] != [b"421"] or attempt + 1 == attempts:
                    log.info("peer refused a batch: %s", describe(parts))
                    return False
                await asyncio.sleep(PUSH_RETRY_DELAY)
        return True

    def accept(self, blobs: Iterable[bytes], sender_x25519: str) -> Accepted:
        """Verify and store the records *sender* may hand us (see the module doc)."""
        now = now_ms()
        may_take = self._entitlement(sender_x25519)
        good = []
        taken = refused = 0
        for blob in blobs:
            for m in replication.parse_batch(blob):
                if not may_take(m.pubkey):
                    refused += 1
                    continue
                taken += 1
                # Quotas apply to copies too; replicated messages are not client load
                # (they never raise the difficulty clients must meet).
                if replication.verify(m, now, self.difficulty, self.max_ttl_ms) and self.store.refusal(m, now) is None:
                    good.append(m)
        n = self.store.save_many(good)
        if self.generations is not None:
            for m in good:
                self.generations.noted(m)  # a rekey learnt from a peer counts as one stored here
        if n:
            self.stats.replicated_in += n
            expiry_proofs.apply_pending(self.store, good, now, self.pending)
        if refused:
            log.info("refused %d records a peer is not responsible for", refused)
        return Accepted(n, taken, refused, frozenset(m.pubkey for m in good) if n else frozenset())

    def accept_expiries(self, frames: Iterable[bytes], sender_x25519: str) -> Accepted:
        """Verify and apply the expiry proofs *sender* may hand us (``expire``): only proofs
        for owners it may hand records of, only with the owner's valid signature, only ever
        shortening.  ``new``: messages whose expiry moved; ``taken``: valid proofs; ``refused``:
        proofs of owners not ours from that sender or with a bad signature.  A frame that is
        not a proof at all raises :class:`ExpiryProofError` (nothing applied)."""
        proofs = [ExpiryProof.decode(f) for f in frames]
        now = now_ms()
        may_take = self._entitlement(sender_x25519)
        moved = taken = refused = 0
        touched: set[str] = set()
        for proof in proofs:
            if not may_take(proof.pubkey) or not proof.verify():
                refused += 1
                continue
            taken += 1
            updated = expiry_proofs.apply(self.store, proof, now, self.pending)
            moved += len(updated)
            if updated:
                touched.add(proof.pubkey)
        if refused:
            log.info("refused %d expiry proofs (not ours from this peer, or not signed by the owner)", refused)
        return Accepted(moved, taken, refused, frozenset(touched))

    def kept_proofs(self) -> list[ExpiryProof]:
        """Every expiry proof the store keeps (for hand-overs when swarms change)."""
        out: list[ExpiryProof] = []
        after = 0
        while True:
            rows = self.store.expiry_proofs_after(after, PROOFS_PER_PAGE, now_ms())
            for _, _, blob in rows:
                try:
                    out.append(ExpiryProof.decode(blob))
                except ExpiryProofError:
                    continue  # written by us, so never; a damaged row is not worth a failed push
            if len(rows) < PROOFS_PER_PAGE:
                return out
            after = rows[-1][0]

    def expiry_catchup_reply(self, peer_x25519: str, args: list[bytes]) -> list[bytes]:
        """Answer a ``catchup_expiries [cursor]``: the proofs we keep for the asker's swarm, a
        page at a time (``OK, next_cursor, proof...``; an empty cursor at the end)."""
        gate = self._catchup_gate(peer_x25519, args, "catchup_expiries")
        if isinstance(gate, list):
            return gate
        view, me, cursor = gate
        rows = self.store.expiry_proofs_after(cursor, PROOFS_PER_PAGE, now_ms())
        chosen = [blob for _, owner, blob in rows if view.swarm_for_pubkey(owner) == me.swarm_id]
        following = b"" if len(rows) < PROOFS_PER_PAGE else str(rows[-1][0]).encode()
        return [b"OK", following, *chosen]

    def _entitlement(self, sender_x25519: str) -> Callable[[str], bool]:
        """Which user pubkeys *sender* may hand us records of, now."""
        view = self._view()
        me = view.node(self.me) if view else None
        if view is None or me is None:
            return lambda pubkey: False
        sender = view.node_by_x25519(sender_x25519)
        ours = me.swarm_id
        if sender is not None and sender.ed25519 != self.me and sender.swarm_id == ours:
            return lambda pubkey: view.swarm_for_pubkey(pubkey) == ours
        # Not one of ours now: a hand-over from the swarm that owned the records before.
        past = [(v, n.swarm_id) for v in (*self._recent, view) if (n := v.node_by_x25519(sender_x25519)) is not None]
        if not past:
            return lambda pubkey: False

        def handed_over(pubkey: str) -> bool:
            return view.swarm_for_pubkey(pubkey) == ours and any(v.swarm_for_pubkey(pubkey) == sid for v, sid in past)

        return handed_over

    def catchup_reply(self, peer_x25519: str, args: list[bytes]) -> list[bytes]:
        """Answer a ``catchup [cursor]``: one page of our records for the asker's swarm, if the
        asker is a member of ours (:mod:`session_core.node.catchup`)."""
        gate = self._catchup_gate(peer_x25519, args, "catchup")
        if isinstance(gate, list):
            return gate
        view, me, cursor = gate
        return catchup.serve_page(self.store, view, me.swarm_id, cursor, now_ms())

    def _catchup_gate(self, peer_x25519: str, args: list[bytes],
                      command: str) -> tuple[NetworkView, SnodeInfo, int] | list[bytes]:
        """For a catch-up ``command`` (of messages or of expiry proofs): the view, our entry in
        it and the cursor asked for, or the refusal to answer with -- only current members of
        our swarm, one decimal cursor, paced per member."""
        view = self._view()
        me = view.node(self.me) if view else None
        if view is None or me is None:
            return [b"503", b"not ready"]
        peer = view.node_by_x25519(peer_x25519)
        if peer is None or peer.ed25519 == self.me or peer.swarm_id != me.swarm_id or me.swarm_id == UNASSIGNED_SWARM_ID:
            return [b"421", b"catch-up is for members of this swarm"]
        cursor = catchup.parse_cursor(args)
        if cursor is None:
            return [b"400", f"{command} takes one argument: a decimal cursor".encode()]
        if not self._pages.allow(peer_x25519):
            return [b"429", b"catch-up pages too fast"]
        return view, me, cursor


def _chunks(frames: list[bytes], max_bytes: int) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    cur: list[bytes] = []
    size = 0
    for f in frames:
        if cur and size + len(f) > max_bytes:
            out.append(cur)
            cur, size = [], 0
        cur.append(f)
        size += len(f)
    if cur:
        out.append(cur)
    return out
