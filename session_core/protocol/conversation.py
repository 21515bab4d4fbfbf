"""The sans-IO conversation state machine of one identity.

Theory of operation.  A :class:`Messenger` holds one identity's prekeys and, per peer, a
:class:`Contact` whose state is one of:

    (none) --send_friend_request--> OUTGOING --peer's first Signal message--> ESTABLISHED
    (none) --request received-----> INCOMING --accept()--> ESTABLISHED   (--ignore()--> (none))

* The requester (A) sends its prekey bundle in the friend request.  The recipient (B) runs X3DH
  *actively* on that bundle when it accepts, and its first Signal message (carrying B's display
  name and an optional text) is the acceptance.  A runs X3DH passively on that message; from then
  on both hold one Double Ratchet session.  B repeats the X3DH header until A's first reply.
* Crossed requests (both sent one before seeing the other's): the side with the smaller Session
  ID accepts automatically, the other waits for that acceptance, so exactly one session results.
* Replayed or duplicated friend requests are recognised by their signature fingerprint and emit
  nothing; a replayed Signal message raises :class:`DuplicateMessageError` (drivers dedupe by
  message hash first; this is the cryptographic backstop).
* Every public method either completes or raises and leaves the state as it was.  The only
  exception is an *authenticated* Signal message whose decrypted Content does not parse: the
  ratchet has advanced (the peer really sent it), and MalformedMessageError is raised.

No I/O, no clock: callers pass ``now_ms`` and deliver the :class:`Outgoing` events.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]

from session_core.errors import (
    DecryptionError,
    FriendRequestError,
    InvalidInputError,
    InvalidSessionIdError,
    MalformedMessageError,
    NoSessionError,
    StateDecryptionError,
    UnknownPeerError,
)
from session_core.identity import Identity, canonical_session_id, parse_session_id
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.at_rest import StateKey
from session_core.protocol.events import (
    TTL_MS,
    Event,
    FriendRequestAccepted,
    FriendRequestReceived,
    MessageReceived,
    OnlineStatusReceived,
    Outgoing,
    ReceiptReceived,
    TypingReceived,
)
from session_core.protocol.friend_request import (
    FriendRequest,
    check_text,
    make_friend_request,
    read_friend_request,
)
from session_core.protocol.prekeys import PreKeyBundle, PreKeyStore
from session_core.protocol.ratchet import RatchetSession, parse_signal_message
from session_core.protocol.sealed import build_envelope, open_envelope

__all__ = ["ContactState", "Contact", "Messenger"]

_MAX_SEEN_REQUESTS = 1024
_STATE_LABEL = b"messenger"


class ContactState(enum.Enum):
    OUTGOING = "outgoing"  # we sent a friend request, no answer yet
    INCOMING = "incoming"  # they sent one, waiting for accept/ignore
    ESTABLISHED = "established"  # a Signal session exists


@dataclass
class Contact:
    session_id: str
    state: ContactState
    display_name: str = ""
    request: FriendRequest | None = None  # INCOMING: the request to accept
    session: RatchetSession | None = None  # ESTABLISHED
    crossed: bool = False  # OUTGOING and their request arrived too; they will accept ours
    # When they accepted our request (their clock, from the accept message).  A request of
    # theirs stamped no later than this crossed ours in flight and is already resolved.
    peer_accepted_ms: int = 0


@dataclass
class Messenger:
    identity: Identity
    display_name: str = ""
    prekeys: PreKeyStore = field(default=None)  # type: ignore[assignment]
    contacts: dict[str, Contact] = field(default_factory=dict)
    _seen_requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_text("", self.display_name)
        if self.prekeys is None:
            self.prekeys = PreKeyStore.create(self.identity)

    @property
    def session_id(self) -> str:
        return self.identity.session_id

    # -- commands -----------------------------------------------------------------------------

    def send_friend_request(self, peer: str, intro: str, *, now_ms: int) -> Outgoing:
        """Start contact with ``peer``: a friend request carrying a fresh prekey bundle."""
        peer = canonical_session_id(peer)
        peer_key = self._peer_key(peer)
        contact = self.contacts.get(peer)
        if contact is not None and contact.state is ContactState.ESTABLISHED:
            raise FriendRequestError(f"already in a session with {peer}")
        if contact is not None and contact.state is ContactState.INCOMING:
            raise FriendRequestError(f"{peer} already sent you a request: accept it instead")
        check_text(intro, self.display_name)
        bundle = self.prekeys.issue_bundle()
        sealed = make_friend_request(
            self.identity, peer, bundle, intro=intro, display_name=self.display_name,
            timestamp_ms=now_ms,
        )
        data = build_envelope(peer_key, sealed, now_ms)
        if contact is None:
            self.contacts[peer] = Contact(peer, ContactState.OUTGOING)
        return Outgoing(peer, data, TTL_MS["friend_request"], "friend_request", now_ms)

    def accept(self, peer: str, *, now_ms: int, text: str = "") -> Outgoing:
        """Accept ``peer``'s pending request: X3DH on their bundle, and the first message."""
        peer = canonical_session_id(peer)
        contact = self.contacts.get(peer)
        if contact is None or contact.request is None:
            raise UnknownPeerError(f"no pending friend request from {peer}")
        return self._accept(contact, contact.request.bundle, now_ms, text)

    def ignore(self, peer: str) -> None:
        """Drop ``peer``'s pending request (a replay of it stays ignored)."""
        peer = canonical_session_id(peer)
        contact = self.contacts.get(peer)
        if contact is None or contact.state is not ContactState.INCOMING:
            raise UnknownPeerError(f"no pending friend request from {peer}")
        del self.contacts[peer]

    def send_text(self, peer: str, text: str, *, now_ms: int) -> Outgoing:
        peer = canonical_session_id(peer)
        content = pb.Content()
        content.dataMessage.body = text
        content.dataMessage.timestamp = now_ms
        if self.display_name:
            content.dataMessage.profile.displayName = self.display_name
        return self.send_content(peer, content, kind="regular", now_ms=now_ms)

    def send_receipt(
        self, peer: str, timestamps_ms: list[int], *, read: bool, now_ms: int
    ) -> Outgoing:
        content = pb.Content()
        content.receiptMessage.type = pb.ReceiptMessage.READ if read else pb.ReceiptMessage.DELIVERY
        content.receiptMessage.timestamp.extend(timestamps_ms)
        return self.send_content(peer, content, kind="regular", now_ms=now_ms)

    def send_online_status(
        self, peer: str, address: str, port: int, *, reachable: bool, now_ms: int
    ) -> Outgoing:
        """Tell ``peer`` we are online and listening at ``address:port`` (whitepaper 4.6.2)."""
        if not (0 <= port <= 65535):
            raise InvalidInputError(f"port out of range: {port}")
        content = pb.Content()
        msg = content.lokiAddressMessage
        msg.p2pAddress = address
        msg.p2pPort = port
        msg.type = (
            pb.LokiAddressMessage.HOST_REACHABLE if reachable
            else pb.LokiAddressMessage.HOST_UNREACHABLE
        )
        return self.send_content(peer, content, kind="online_status", now_ms=now_ms)

    def send_content(self, peer: str, content: pb.Content, *, kind: str, now_ms: int) -> Outgoing:
        """Encrypt any Content in the session with ``peer``."""
        peer = canonical_session_id(peer)
        if kind not in TTL_MS:
            raise InvalidInputError(f"unknown message kind {kind!r}; one of {sorted(TTL_MS)}")
        peer_key = self._peer_key(peer)
        contact = self.contacts.get(peer)
        if contact is None or contact.session is None:
            raise NoSessionError(f"no session with {peer}: send a friend request first")
        wire = contact.session.encrypt(content.SerializeToString())
        return self._signal_outgoing(peer, peer_key, wire, kind, now_ms)

    # -- input --------------------------------------------------------------------------------

    def receive(self, data: bytes, *, now_ms: int = 0) -> list[Event]:
        """Process one received Envelope; returns events (possibly an :class:`Outgoing`)."""
        _, sealed = open_envelope(self.identity, data)
        try:
            self._peer_key(sealed.source)
        except InvalidSessionIdError as exc:
            raise MalformedMessageError(f"sealed message: bad source: {exc}") from None
        if sealed.kind == pb.SealedMessage.FRIEND_REQUEST:
            return self._receive_request(read_friend_request(self.identity, sealed), now_ms)
        if sealed.kind == pb.SealedMessage.SIGNAL:
            return self._receive_signal(sealed.source, sealed.payload)
        raise MalformedMessageError(f"unknown sealed message kind {sealed.kind}")

    def _receive_request(self, request: FriendRequest, now_ms: int) -> list[Event]:
        if request.fingerprint in self._seen_requests:
            return []  # duplicate or replay of a request already handled
        peer = request.sender
        contact = self.contacts.get(peer)
        event = FriendRequestReceived(peer, request.display_name, request.intro,
                                      request.timestamp_ms)
        if contact is not None and contact.state is ContactState.OUTGOING:
            # Crossed requests: the smaller Session ID accepts, so exactly one session results.
            if self.session_id < peer:
                outgoing = self._accept(contact, request.bundle, now_ms or request.timestamp_ms, "")
                self._remember(request.fingerprint)
                contact.display_name = request.display_name
                return [FriendRequestReceived(peer, request.display_name, request.intro,
                                              request.timestamp_ms, auto_accepted=True), outgoing]
            contact.crossed = True
            contact.display_name = request.display_name
            self._remember(request.fingerprint)
            return []
        if contact is None:
            contact = Contact(peer, ContactState.INCOMING)
            self.contacts[peer] = contact
        elif contact.state is ContactState.ESTABLISHED:
            if request.timestamp_ms <= contact.peer_accepted_ms:
                # Crossed requests, other order: they accepted ours before theirs reached us.
                self._remember(request.fingerprint)
                return []
            # The peer lost its session (e.g. restored on a new device) and asks again; the
            # old session keeps working until this one is accepted.
        contact.request = request
        contact.display_name = request.display_name
        self._remember(request.fingerprint)
        return [event]

    def _receive_signal(self, peer: str, payload: bytes) -> list[Event]:
        header, encrypted = parse_signal_message(payload)
        contact = self.contacts.get(peer)
        session = contact.session if contact is not None else None
        events: list[Event] = []
        if session is not None and (header is None or header.ephemeral_key == session.ephemeral_key):
            plaintext = session.decrypt_parsed(encrypted)
        elif header is not None:
            # A new session from a bundle we issued in a friend request.  respond() checks the
            # header's identity key against the sender and leaves the prekeys alone on failure.
            session, plaintext = RatchetSession.respond(
                self.prekeys, payload, self._peer_key(peer)
            )
            if contact is None:
                contact = Contact(peer, ContactState.ESTABLISHED)
                self.contacts[peer] = contact
            was_waiting = contact.state is ContactState.OUTGOING
            contact.session, contact.state, contact.request = session, ContactState.ESTABLISHED, None
            contact.crossed = False
            if was_waiting:
                contact.peer_accepted_ms = _content_timestamp(plaintext)
                events.append(FriendRequestAccepted(peer, contact.display_name))
        else:
            raise DecryptionError(f"no session with {peer} for this message")
        assert contact is not None
        events.extend(self._content_events(contact, plaintext))
        if events and isinstance(events[0], FriendRequestAccepted):
            events[0] = FriendRequestAccepted(peer, contact.display_name)
        return events

    def _content_events(self, contact: Contact, plaintext: bytes) -> list[Event]:
        content = pb.Content()
        try:
            content.ParseFromString(plaintext)
        except DecodeError as exc:
            raise MalformedMessageError(f"decrypted message is not a Content: {exc}") from None
        peer = contact.session_id
        events: list[Event] = []
        if content.HasField("dataMessage"):
            data = content.dataMessage
            if data.profile.displayName:
                contact.display_name = data.profile.displayName[:64]
            if data.body:
                events.append(MessageReceived(peer, data.body, data.timestamp, contact.display_name))
        if content.HasField("receiptMessage"):
            receipt = content.receiptMessage
            events.append(ReceiptReceived(peer, receipt.type == pb.ReceiptMessage.READ,
                                          tuple(receipt.timestamp)))
        if content.HasField("lokiAddressMessage"):
            msg = content.lokiAddressMessage
            events.append(OnlineStatusReceived(
                peer, msg.p2pAddress, msg.p2pPort, msg.type == pb.LokiAddressMessage.HOST_REACHABLE
            ))
        if content.HasField("typingMessage"):
            typing = content.typingMessage
            events.append(TypingReceived(peer, typing.action == pb.TypingMessage.STARTED,
                                         typing.timestamp))
        return events

    # -- helpers ------------------------------------------------------------------------------

    def _accept(self, contact: Contact, bundle: PreKeyBundle, now_ms: int, text: str) -> Outgoing:
        content = pb.Content()
        content.dataMessage.timestamp = now_ms
        if text:
            content.dataMessage.body = text
        if self.display_name:
            content.dataMessage.profile.displayName = self.display_name
        session, wire = RatchetSession.initiate(self.prekeys, bundle, content.SerializeToString())
        # Commit only after X3DH and encryption succeeded.
        contact.session, contact.state, contact.request = session, ContactState.ESTABLISHED, None
        peer_key = self._peer_key(contact.session_id)
        return self._signal_outgoing(contact.session_id, peer_key, wire, "session_established",
                                     now_ms)

    def _signal_outgoing(self, peer: str, peer_key: bytes, wire: bytes, kind: str,
                         now_ms: int) -> Outgoing:
        sealed = pb.SealedMessage(kind=pb.SealedMessage.SIGNAL, source=self.session_id,
                                  payload=wire, timestamp=now_ms)
        return Outgoing(peer, build_envelope(peer_key, sealed, now_ms), TTL_MS[kind], kind, now_ms)

    def _peer_key(self, peer: str) -> bytes:
        key = parse_session_id(peer)
        if peer == self.session_id:
            raise InvalidInputError("that is your own Session ID")
        return key

    def _remember(self, fingerprint: str) -> None:
        self._seen_requests.append(fingerprint)
        del self._seen_requests[:-_MAX_SEEN_REQUESTS]

    # -- persistence (encrypted at rest) ------------------------------------------------------

    def to_bytes(self) -> bytes:
        """All state (prekeys, contacts, sessions) encrypted with the identity's state key."""
        contacts = {}
        for sid, c in self.contacts.items():
            r = c.request
            contacts[sid] = {
                "state": c.state.value,
                "name": c.display_name,
                "crossed": c.crossed,
                "accepted_ms": c.peer_accepted_ms,
                "session": None if c.session is None else c.session.to_json(),
                "request": None if r is None else {
                    "name": r.display_name, "intro": r.intro, "ts": r.timestamp_ms,
                    "fp": r.fingerprint,
                    "bundle": [r.bundle.identity_key.hex(), r.bundle.signed_pre_key.hex(),
                               r.bundle.signed_pre_key_signature.hex(), r.bundle.pre_key.hex()],
                },
            }
        document = {"v": 1, "name": self.display_name, "prekeys": self.prekeys.to_json(),
                    "contacts": contacts, "seen": self._seen_requests}
        key = StateKey.for_identity(self.identity, _STATE_LABEL)
        return key.seal(json.dumps(document, separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, identity: Identity, blob: bytes) -> Messenger:
        key = StateKey.for_identity(identity, _STATE_LABEL)
        raw = key.open(blob)
        try:
            doc: dict[str, Any] = json.loads(raw)
            contacts: dict[str, Contact] = {}
            for sid, c in doc["contacts"].items():
                r = c["request"]
                request = None if r is None else FriendRequest(
                    sender=sid, display_name=r["name"], intro=r["intro"], timestamp_ms=r["ts"],
                    fingerprint=r["fp"],
                    bundle=PreKeyBundle(*(bytes.fromhex(k) for k in r["bundle"])),
                )
                session = None if c["session"] is None else RatchetSession.from_json(c["session"])
                contacts[sid] = Contact(sid, ContactState(c["state"]), c["name"], request,
                                        session, bool(c["crossed"]), int(c.get("accepted_ms", 0)))
            return cls(identity, str(doc["name"]), PreKeyStore.from_json(doc["prekeys"], identity),
                       contacts, [str(f) for f in doc["seen"]])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, StateDecryptionError):
                raise
            raise StateDecryptionError(f"saved messenger state is malformed: {exc}") from None


def _content_timestamp(plaintext: bytes) -> int:
    """The sender's timestamp in a Content's data message (0 if there is none)."""
    content = pb.Content()
    try:
        content.ParseFromString(plaintext)
    except DecodeError:
        return 0
    return int(content.dataMessage.timestamp)
