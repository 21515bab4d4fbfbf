"""The closed-group state machine (whitepaper 5.1), sans-IO.

Theory of operation
-------------------
A group is named by its Ed25519 key (:mod:`.group_key`); the creator holds the secret half and
is the admin.  Membership moves in *generations*.  Each generation has a random 32-byte key
``K`` and a member list (:class:`~.roster.Roster`); the admin publishes both in ONE signed
key message (:mod:`.key_message`): ``K`` wrapped once per member (:mod:`.key_agreement`) and
the roster change sealed under a key derived from ``K``.  Create, add, kick and leave all
start a new generation, so

* a member who joins reads nothing from before (they only ever get the new ``K``);
* a member who is kicked or leaves reads nothing after (the new ``K`` is not wrapped for them);
* a kick by anyone but the admin is impossible: members check the group signature
  (:class:`~session_core.errors.AdminSignatureError`), and so do the swarm's nodes.

Messages use per-sender hash ratchets (:mod:`.sender_keys`) whose starts derive from ``K``:
on installing a generation a member derives every sender's chain and drops ``K``, so later
compromise of its state reveals no earlier message.  In-flight messages of the previous
generation from senders who are still members are still accepted (one generation back);
those of removed members are not.

Inputs are records (bytes) from the group swarm and calls; outputs are events, among them
:class:`~.events.GroupOutgoing` records for the driver to store in the group's swarm.  Every
input either fully applies or raises a :class:`~session_core.errors.GroupError` (or
``DecryptionError`` / ``DuplicateMessageError``) and changes nothing: all work is done on
new values that are committed at the end.

The admin re-stores the current key message and a full roster snapshot (:meth:`Group.refresh`)
before they expire, so a member away longer than the TTL finds the current key on return.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import nacl.bindings
import nacl.exceptions

from session_core.errors import (
    DecryptionError,
    DuplicateMessageError,
    GroupFormatError,
    GroupKeyUnavailableError,
    GroupOperationError,
    NotGroupAdminError,
    NotGroupMemberError,
    ProtocolError,
    StaleGenerationError,
    StateDecryptionError,
)
from session_core.identity import Identity, parse_session_id, session_id_from_x25519
from session_core.protocol.events import Event
from session_core.protocol.groups import messages as gm
from session_core.protocol.groups.events import (
    GroupLeaveRequested,
    GroupMembersChanged,
    GroupMessageReceived,
    GroupOutgoing,
    GroupRemoved,
)
from session_core.protocol.groups.group_key import GroupSigner, group_id_of, parse_group_id
from session_core.protocol.groups.key_agreement import KeyAgreement, PerMemberWrap
from session_core.protocol.groups.key_message import GenerationSecrets, KeyMessage, RosterSnapshot, agreement_context
from session_core.protocol.groups.generation import Generation, Pending
from session_core.protocol.groups.roster import NO_GENERATION, Roster, RosterChange
from session_core.protocol.groups.wire import (
    KIND_KEYS,
    KIND_ROSTER,
    certify_store_key,
    open_control,
    open_member_auth,
    record_kind,
    seal_control,
    seal_member_auth,
    store_cert_valid,
)

__all__ = ["KEYS_TTL_MS", "MESSAGE_TTL_MS", "REFRESH_MS", "Group"]

_HOUR = 3_600_000
MESSAGE_TTL_MS = 48 * _HOUR  # as 1:1 regular messages
KEYS_TTL_MS = 96 * _HOUR  # the node's longest TTL: keys outlive the messages they open
REFRESH_MS = 24 * _HOUR  # re-store keys and roster this often (well inside KEYS_TTL_MS)
MAX_DEFERRED = 256  # records held while their generation's key message is on its way
MAX_PENDING = 8  # key messages held while waiting for the generation before them
#: Members a key message may name as come or gone (32 bytes each); a larger change is sent as a
#: full roster snapshot next to the key message, so the record stays within a node's store limit.
MAX_CHANGE = 64


def _sid(x25519: bytes) -> str:
    return session_id_from_x25519(x25519)


class Group:
    """One closed group as seen by one member (``me``); the admin also holds ``signer``."""

    def __init__(self, me: Identity, group_pk: bytes, signer: GroupSigner | None = None,
                 agreement: KeyAgreement | None = None) -> None:
        if signer is not None and signer.public_key != group_pk:
            raise NotGroupAdminError("this group key does not belong to the group")
        self.me = me
        self.group_pk = group_pk
        self.signer = signer
        self.agreement: KeyAgreement = agreement or PerMemberWrap()
        self.current: Generation | None = None
        self.previous: Generation | None = None
        self.pending: dict[int, Pending] = {}  # generation -> waiting key message
        self._installs = 0  # counts progress (generations installed or waiting): receive() then settles held records
        # What changed since take_changes(): a driver saves the core only when it changed and
        # only the chains that moved, so a message costs O(1) to persist whatever the group size.
        self._core_dirty = True
        self._chains_dirty: set[tuple[int, int]] = set()
        self._chains_dropped: set[tuple[int, int]] = set()
        self.removed_at: int | None = None  # the generation we were left out of
        self.left = False
        self.last_keys: bytes = b""  # the latest key record (the admin re-stores it; replays compare)
        self.last_roster: bytes = b""
        self.snapshot_due = False  # admin: the current generation's roster snapshot is not stored yet
        self.stored_ms = 0  # admin: when keys and roster were last stored
        self.deferred: list[bytes] = []

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def create(cls, me: Identity, now_ms: int, members: Sequence[str] = (), *, signer: GroupSigner | None = None,
               agreement: KeyAgreement | None = None) -> tuple[Group, list[GroupOutgoing]]:
        """A new group with ``me`` as admin (and ``members``); the records to store.  ``signer``
        (the group key) is drawn fresh unless given (tests and fuzz seeds pin it)."""
        signer = signer or GroupSigner.generate()
        g = cls(me, signer.public_key, signer, agreement)
        mine = me.x25519_public_key
        others = g._parse_members(members)
        if mine in others:
            raise GroupOperationError("the creator is a member already")
        roster = Roster.of(0, mine, {mine} | others)
        return g, g._commit(roster, now_ms, snapshot=True)

    @classmethod
    def join(cls, me: Identity, group_id: str) -> Group:
        """A group we were (or will be) added to: it holds nothing until its key message arrives."""
        return cls(me, parse_group_id(group_id))

    # -- properties ---------------------------------------------------------------------------

    @property
    def group_id(self) -> str:
        return group_id_of(self.group_pk)

    @property
    def is_admin(self) -> bool:
        return self.signer is not None

    @property
    def generation(self) -> int | None:
        return self.current.number if self.current else None

    def members(self) -> list[str]:
        return [_sid(m) for m in self.current.roster.members] if self.current else []

    @property
    def admin(self) -> str | None:
        return _sid(self.current.roster.admin) if self.current else None

    # -- admin operations ---------------------------------------------------------------------

    def add(self, members: Sequence[str], now_ms: int) -> list[GroupOutgoing]:
        """Start a generation with ``members`` added: key message + roster (the newcomers need
        the whole list).  Newcomers get only the new key: no earlier history."""
        cur = self._admin_current()
        roster = cur.roster.changed(cur.number + 1, add=self._parse_members(members))
        return self._commit(roster, now_ms, snapshot=True)

    def kick(self, members: Sequence[str], now_ms: int) -> list[GroupOutgoing]:
        """Start a generation without ``members``: ONE key message (the roster snapshot for
        late catch-up follows with :meth:`refresh`)."""
        cur = self._admin_current()
        roster = cur.roster.changed(cur.number + 1, remove=self._parse_members(members))
        return self._commit(roster, now_ms, snapshot=False)

    def refresh(self, now_ms: int) -> list[GroupOutgoing]:
        """Admin: the records to (re)store now so members away longer than a TTL catch up."""
        if self.signer is None or self.current is None:
            return []
        out: list[GroupOutgoing] = []
        if now_ms - self.stored_ms >= REFRESH_MS:
            out.append(self._out(self.last_keys, KEYS_TTL_MS, "keys", now_ms))
            self.snapshot_due = True
            self.stored_ms = now_ms
        if self.snapshot_due:
            out.append(self._out(self.last_roster, KEYS_TTL_MS, "roster", now_ms))
            self.snapshot_due = False
        self._core_dirty |= bool(out)
        return out

    def store_failed(self) -> None:
        """The driver could not store the admin's records: offer them again at the next
        :meth:`refresh` (until then members stay on the generation before)."""
        self.stored_ms = 0
        self._core_dirty = True

    def _admin_current(self) -> Generation:
        if self.signer is None:
            raise NotGroupAdminError("only the group's admin can change its members")
        if self.current is None:
            raise GroupOperationError("the group has no generation yet")
        return self.current

    def _parse_members(self, members: Iterable[str]) -> set[bytes]:
        keys = [parse_session_id(m) for m in members]
        if len(set(keys)) != len(keys):
            raise GroupOperationError("a member is named twice")
        return set(keys)

    def _commit(self, roster: Roster, now_ms: int, *, snapshot: bool) -> list[GroupOutgoing]:
        assert self.signer is not None
        key = secrets.token_bytes(32)
        sec = GenerationSecrets.derive(roster.generation, key)
        blob = self.agreement.wrap(key, agreement_context(self.group_pk, roster.generation), roster.members)
        change = RosterChange.between(self.current.roster if self.current else None, roster)
        if len(change.added) + len(change.removed) > MAX_CHANGE:
            # Too long to ride in the key message (the store limit): everyone reads the snapshot.
            change = RosterChange(NO_GENERATION, roster.generation, (), (), change.digest)
            snapshot = True
        cert = certify_store_key(self.signer, roster.generation, sec.store_public_key)
        km = KeyMessage.build(roster.generation, now_ms, cert, blob, sec, change)
        keys_record = seal_control(self.signer, KIND_KEYS, km.encode())
        roster_record = seal_control(self.signer, KIND_ROSTER, RosterSnapshot.build(roster, sec).encode())
        self._install(sec, roster, cert)
        self.last_keys, self.last_roster = keys_record, roster_record
        self.stored_ms = now_ms
        self.snapshot_due = not snapshot
        out = [self._out(keys_record, KEYS_TTL_MS, "keys", now_ms)]
        if snapshot:
            out.append(self._out(roster_record, KEYS_TTL_MS, "roster", now_ms))
        return out

    # -- member operations --------------------------------------------------------------------

    def send_text(self, text: str, now_ms: int) -> GroupOutgoing:
        return self._send(gm.TYPE_TEXT, text, now_ms)

    def leave(self, now_ms: int) -> GroupOutgoing:
        """Ask the admin to drop us, then forget the group's keys (we read nothing more)."""
        if self.is_admin:
            raise GroupOperationError("the admin cannot leave the group it holds the key of")
        out = self._send(gm.TYPE_LEAVE, "", now_ms)
        self._forget()
        self.left = True
        return out

    def _send(self, type_: int, text: str, now_ms: int) -> GroupOutgoing:
        cur = self.current
        if cur is None or cur.send is None or self.removed_at is not None or self.left:
            raise NotGroupMemberError("we hold no key of this group (not added yet, kicked, or left)")
        counter, mk, nxt = cur.send.step()
        body = text.encode()
        sig = self.me.sign(gm.signed_bytes(self.group_pk, cur.number, counter, type_, now_ms, body))
        header = gm.MessageHeader(cur.number, cur.my_index, counter)
        inner = gm.seal_message(cur.secrets.header_key, mk, header,
                                gm.GroupPlaintext(type_, now_ms, self.me.ed25519_public_key, sig, text))
        data = seal_member_auth(self.group_pk, inner, cur.secrets.store_seed, cur.store_cert)
        cur.send = nxt  # committed only once the record exists
        self._chains_dirty.add((cur.number, cur.my_index))
        return self._out(data, MESSAGE_TTL_MS, "message", now_ms)

    # -- receiving ----------------------------------------------------------------------------

    def receive(self, data: bytes, now_ms: int) -> list[Event]:
        """Apply one record from the group's swarm; raises (changing nothing) when it is bad.

        Records may come out of order (the swarm's nodes replicate with some lag): a roster or a
        message of a generation whose key message has not come yet is held (at most
        :data:`MAX_DEFERRED`) and applied once it has; a key message that cannot yet be applied
        to the list we hold waits for the one before it or for the generation's roster."""
        kind = record_kind(data)
        installs = self._installs
        if kind == KIND_KEYS:
            events = self._on_keys(data)
            self._core_dirty = True
        elif kind == KIND_ROSTER:
            events = self._on_roster(data)
            self._core_dirty = True
        else:
            events = self._on_message(data)
        if self._installs != installs:
            events += self._settle()
        return events

    def _floor(self) -> int:
        """The newest generation we hold or were left out of (-1: none)."""
        return max((g for g in (self.generation, self.removed_at) if g is not None), default=-1)

    def _on_keys(self, data: bytes) -> list[Event]:
        _, body = open_control(self.group_pk, data)
        km = KeyMessage.decode(body)
        floor = self._floor()
        if km.generation <= floor or km.generation in self.pending:
            held = self.pending.get(km.generation)
            if data == self.last_keys or (held is not None and held.record == data):
                raise DuplicateMessageError("this key message was already applied")
            raise StaleGenerationError(f"key message of generation {km.generation}: we are at {floor}")
        me = self.me.x25519_public_key
        key = self.agreement.unwrap(km.blob, agreement_context(self.group_pk, km.generation),
                                    self.me.x25519_private_key, me)
        if key is None:
            if self.current is not None and me in self.current.roster:
                self._forget()
                self.removed_at = km.generation
                self.last_keys = data
                return [GroupRemoved(self.group_id, km.generation)]
            raise GroupKeyUnavailableError(f"generation {km.generation} holds no key for us (not added)")
        sec = GenerationSecrets.derive(km.generation, key)
        if km.store_pk != sec.store_public_key or not store_cert_valid(self.group_pk, km.generation, km.store_pk,
                                                                         km.store_cert):
            raise GroupFormatError("the key message's store key is not this generation's, or not certified")
        change = km.open_change(sec)
        if self.current is not None and change.prev_generation == self.current.number:
            roster = change.apply(self.current.roster)
            if me not in roster:
                raise GroupFormatError("the key message wraps a key for us but does not list us")
            self._install(sec, roster, km.store_cert)
            self.last_keys = data
            return [GroupMembersChanged(self.group_id, km.generation, tuple(map(_sid, change.added)),
                                        tuple(map(_sid, change.removed)))]
        # Not applicable to the list we hold: wait for the generation before it, or for its roster.
        pending = dict(self.pending)
        pending[km.generation] = Pending(sec, change, data, km.store_cert)
        while len(pending) > MAX_PENDING:
            del pending[min(pending)]
        self.pending = pending
        self._installs += 1  # progress: a held roster of this generation can apply now
        if self.removed_at is not None:  # added again
            self.removed_at = None
        self.left = False
        return []

    def _on_roster(self, data: bytes) -> list[Event]:
        _, body = open_control(self.group_pk, data)
        snap = RosterSnapshot.decode(body)
        held = self.pending.get(snap.generation)
        if held is not None:
            roster = snap.open(held.secrets)
            if roster.digest() != held.change.digest:
                raise GroupFormatError("the roster snapshot is not the list the key message committed to")
            if self.me.x25519_public_key not in roster:
                raise GroupFormatError("the roster snapshot does not list us")
            before = set(self.current.roster.members) if self.current else set()
            self._install(held.secrets, roster, held.store_cert)
            self.last_keys, self.last_roster = held.record, data
            return [GroupMembersChanged(self.group_id, roster.generation,
                                        tuple(_sid(m) for m in roster.members if m not in before),
                                        tuple(_sid(m) for m in sorted(before - set(roster.members))))]
        if self.current is not None and snap.generation == self.current.number:
            # The normal case for members who applied the change: it must agree, then it is news to nobody.
            if snap.open(self.current.secrets).digest() != self.current.roster.digest():
                raise GroupFormatError("the roster snapshot disagrees with the list we hold")
            return []
        if snap.generation <= self._floor():
            raise StaleGenerationError(f"roster of generation {snap.generation}: we are at {self._floor()}")
        self._defer(data)  # admin-signed, of a generation whose key message has not come yet
        return []

    def _on_message(self, record: bytes) -> list[Event]:
        # The swarm checked the store proof; members need not (the AEAD and the sender's
        # signature decide), so it is only cut off here.
        data = open_member_auth(self.group_pk, record, verify=False)
        gen = gm.peek_generation(data)
        if self.left or self.removed_at is not None:
            raise GroupKeyUnavailableError("we are no longer a member of this group")
        g = next((x for x in (self.current, self.previous) if x is not None and x.number == gen), None)
        if g is None:
            if gen > self._floor():
                self._defer(record)  # its key message may still be on its way
                return []
            raise GroupKeyUnavailableError(f"no key for generation {gen}")
        header = gm.open_header(g.secrets.header_key, data)
        if header.sender_index >= len(g.roster.members):
            raise NotGroupMemberError("the sender index is outside the member list")
        sender = g.roster.members[header.sender_index]
        if sender == self.me.x25519_public_key:
            raise DuplicateMessageError("our own group message")
        chain = g.recv.get(header.sender_index)
        if chain is None:
            raise NotGroupMemberError("the sender is no longer a member")
        mk, advanced = chain.key_for(header.counter)
        plain = gm.open_body(mk, data)
        if g.checked_ed.get(header.sender_index) != plain.sender_ed25519:
            try:
                as_x = bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(plain.sender_ed25519))
            except (nacl.exceptions.RuntimeError, ValueError):
                as_x = b""
            if as_x != sender:
                raise NotGroupMemberError("the message is signed by a key that is not the sender's")
        signed = gm.signed_bytes(self.group_pk, gen, header.counter, plain.type, plain.sent_ms, plain.text.encode())
        try:
            nacl.bindings.crypto_sign_open(plain.signature + signed, plain.sender_ed25519)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise DecryptionError("the group message signature does not verify") from None
        g.recv[header.sender_index] = advanced
        g.checked_ed[header.sender_index] = plain.sender_ed25519
        self._chains_dirty.add((gen, header.sender_index))
        if plain.type == gm.TYPE_LEAVE:
            return [GroupLeaveRequested(self.group_id, _sid(sender))]
        return [GroupMessageReceived(self.group_id, _sid(sender), plain.text, plain.sent_ms, gen)]

    def _defer(self, data: bytes) -> None:
        self._core_dirty = True
        self.deferred.append(data)
        del self.deferred[:-MAX_DEFERRED]  # the oldest go first: held records are a bounded buffer

    def _settle(self) -> list[Event]:
        """After a generation was installed: apply waiting key messages that now follow on, then
        the held rosters and messages, until nothing more moves."""
        out: list[Event] = []
        while True:
            installs = self._installs
            self.pending = {g: p for g, p in self.pending.items() if g > self._floor()}
            cur = self.current
            nxt = next((p for g, p in sorted(self.pending.items())
                        if cur is not None and p.change.prev_generation == cur.number), None)
            if nxt is not None and cur is not None:
                del self.pending[nxt.secrets.generation]
                try:
                    roster = nxt.change.apply(cur.roster)
                except GroupFormatError:
                    continue
                if self.me.x25519_public_key in roster:
                    self._install(nxt.secrets, roster, nxt.store_cert)
                    self.last_keys = nxt.record
                    out.append(GroupMembersChanged(self.group_id, roster.generation,
                                                   tuple(map(_sid, nxt.change.added)),
                                                   tuple(map(_sid, nxt.change.removed))))
            waiting, self.deferred = self.deferred, []
            for data in waiting:
                try:
                    out += self._on_roster(data) if data[0] == KIND_ROSTER else self._on_message(data)
                except (ProtocolError, ValueError):
                    continue  # bad after all; it would have been refused had its key been there
            if self._installs == installs:
                return out

    # -- internals ----------------------------------------------------------------------------

    def _install(self, sec: GenerationSecrets, roster: Roster, store_cert: bytes) -> None:
        new = Generation.start(sec, roster, self.me.x25519_public_key, store_cert)
        old = self.current
        self._drop_chains(self.previous)
        if old is not None:
            # In-flight messages of the last generation stay readable, from remaining members only.
            before = set(old.chain_keys())
            old.recv = {i: c for i, c in old.recv.items() if old.roster.members[i] in roster}
            old.send = None
            self._chains_dropped |= {(old.number, i) for i in before - set(old.chain_keys())}
        self._chains_dirty |= {(new.number, i) for i in new.chain_keys()}
        self._core_dirty = True
        self.previous, self.current = old, new
        self.pending = {g: p for g, p in self.pending.items() if g > roster.generation}
        self.removed_at = None
        self.left = False
        self._installs += 1

    def _drop_chains(self, g: Generation | None) -> None:
        if g is not None:
            self._chains_dropped |= {(g.number, i) for i in g.chain_keys()}
            self._chains_dirty -= self._chains_dropped

    def _forget(self) -> None:
        self._drop_chains(self.current)
        self._drop_chains(self.previous)
        self._core_dirty = True
        self.current = self.previous = None
        self.pending = {}
        self.deferred = []

    def _out(self, data: bytes, ttl_ms: int, kind: str, now_ms: int) -> GroupOutgoing:
        return GroupOutgoing(self.group_id, data, ttl_ms, kind, now_ms)

    # -- persistence --------------------------------------------------------------------------

    def take_changes(self) -> tuple[bool, list[tuple[int, int]], list[tuple[int, int]]]:
        """``(core changed, chains changed, chains gone)`` since the last call, chains named by
        ``(generation, index)``: save ``to_json(chains=False)`` when the core changed, each
        changed :meth:`chain_json`, and delete the gone ones (their keys must not linger)."""
        out = (self._core_dirty, sorted(self._chains_dirty - self._chains_dropped), sorted(self._chains_dropped))
        self._core_dirty = False
        self._chains_dirty, self._chains_dropped = set(), set()
        return out

    def put_back(self, changes: tuple[bool, list[tuple[int, int]], list[tuple[int, int]]]) -> None:
        """Undo :meth:`take_changes` when saving them failed (they are saved next time)."""
        self._core_dirty |= changes[0]
        self._chains_dirty |= set(changes[1])
        self._chains_dropped |= set(changes[2])

    def chain_json(self, generation: int, index: int) -> dict[str, Any]:
        g = next(x for x in (self.current, self.previous) if x is not None and x.number == generation)
        return g.chain_json(index)

    def to_json(self, chains: bool = True) -> dict[str, Any]:
        """Everything to restore the group (without the per-sender chains if ``chains`` is False:
        then :meth:`from_json` needs a ``chain`` loader).  It holds secrets: store it sealed."""
        return {
            "group_pk": self.group_pk.hex(), "signer": self.signer.seed.hex() if self.signer else None,
            "current": self.current.to_json(chains) if self.current else None,
            "previous": self.previous.to_json(chains) if self.previous else None,
            "pending": [{"gen": p.secrets.generation, "header_key": p.secrets.header_key.hex(),
                         "roster_key": p.secrets.roster_key.hex(), "chain_seed": p.secrets.chain_seed.hex(),
                         "store_seed": p.secrets.store_seed.hex(), "store_cert": p.store_cert.hex(),
                         "change": p.change.encode().hex(), "record": p.record.hex()} for p in self.pending.values()],
            "removed_at": self.removed_at, "left": self.left, "last_keys": self.last_keys.hex(),
            "last_roster": self.last_roster.hex(), "snapshot_due": self.snapshot_due, "stored_ms": self.stored_ms,
            "deferred": [d.hex() for d in self.deferred],
        }

    @classmethod
    def from_json(cls, me: Identity, d: dict[str, Any], agreement: KeyAgreement | None = None,
                  chain: Callable[[int, int], dict[str, Any] | None] | None = None) -> Group:
        """The group :meth:`to_json` saved; ``chain(generation, index)`` loads the chains it
        saved apart (``to_json(chains=False)``)."""
        signer = GroupSigner(bytes.fromhex(d["signer"])) if d["signer"] else None
        g = cls(me, bytes.fromhex(d["group_pk"]), signer, agreement)

        def generation(gd: dict[str, Any]) -> Generation:
            inline = gd.get("chains")
            if inline is not None:
                return Generation.from_json(gd, lambda i: inline.get(str(i)))
            if chain is None:
                raise StateDecryptionError("saved group state has its chains apart: give a chain loader")
            number = Roster.decode(bytes.fromhex(gd["roster"])).generation
            return Generation.from_json(gd, lambda i: chain(number, i))

        g.current = generation(d["current"]) if d["current"] else None
        g.previous = generation(d["previous"]) if d["previous"] else None
        for p in d["pending"]:
            g.pending[int(p["gen"])] = Pending(
                GenerationSecrets(int(p["gen"]), bytes.fromhex(p["header_key"]), bytes.fromhex(p["roster_key"]),
                                  bytes.fromhex(p["chain_seed"]), bytes.fromhex(p["store_seed"])),
                RosterChange.decode(bytes.fromhex(p["change"])), bytes.fromhex(p["record"]),
                bytes.fromhex(p["store_cert"]))
        g.removed_at = d["removed_at"]
        g.left = bool(d["left"])
        g.last_keys, g.last_roster = bytes.fromhex(d["last_keys"]), bytes.fromhex(d["last_roster"])
        g.snapshot_due, g.stored_ms = bool(d["snapshot_due"]), int(d["stored_ms"])
        g.deferred = [bytes.fromhex(x) for x in d["deferred"]]
        g._core_dirty = False
        return g
