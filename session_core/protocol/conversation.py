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
* Replayed or duplicated friend requests emit nothing: a contact keeps the signed timestamp of
  the newest request of theirs we handled (``Contact.request_ms``, never aged out), and a request
  not newer than that is a replay; requests the user ignored are remembered by fingerprint.  A
  replayed Signal message raises :class:`DuplicateMessageError` (drivers dedupe by message hash
  first; this is the cryptographic backstop).
* At most :data:`MAX_PENDING_REQUESTS` requests wait for an answer; past that the one that
  arrived first is dropped, with a :class:`FriendRequestDropped` event.
* Every public method either completes or raises and leaves the state as it was.  The only
  exception is an *authenticated* Signal message whose decrypted Content does not parse: the
  ratchet has advanced (the peer really sent it), and MalformedMessageError is raised.

Conversation modes (:mod:`session_core.protocol.modes`).  The above is the RATCHET mode.  A
contact can instead be in the SESSION mode, Session's production encryption, for a peer running a
Session app: the first Session-protocol message from a stranger is their request (INCOMING),
``accept()`` answers with a MessageRequestResponse, and a Session-protocol message from a peer
we wrote to (OUTGOING) is their acceptance.  ``send_friend_request(mode=SESSION)`` starts such a
conversation.  A ratchet-mode friend request lists the modes we speak (``self.modes``) and the
acceptor answers in the first one both speak.  An ESTABLISHED ratchet contact that sends a
Session-protocol message newer than its last ratchet message has moved to a Session app (its
ratchet state is gone): we answer in the Session protocol from then on, and go back to the
ratchet if a new ratchet message arrives.  Session-protocol messages are deduplicated by a hash
of their signed content (the Session protocol has no replay protection of its own).

No I/O, no clock: callers pass ``now_ms`` and deliver the :class:`Outgoing` events.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]

from session_core.attachments import Pointer
from session_core.errors import (
    DecryptionError,
    DuplicateMessageError,
    FriendRequestError,
    GroupInviteError,
    InvalidInputError,
    InvalidSessionIdError,
    MalformedMessageError,
    NoSessionError,
    StateDecryptionError,
    UnknownPeerError,
)
from session_core.identity import Identity, canonical_session_id, parse_session_id
from session_core.protocol import attachment_pointer
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.at_rest import StateKey
from session_core.protocol.contact import (
    CONTACT_LABEL,
    Contact,
    ContactState,
    contact_from_json,
    contact_to_json,
    open_contact,
    seal_contact,
)
from session_core.protocol.events import (
    TTL_MS,
    Event,
    ExpirationTimerChanged,
    FriendRequestAccepted,
    FriendRequestDropped,
    FriendRequestReceived,
    GroupInviteReceived,
    MessageReceived,
    OnlineStatusReceived,
    Outgoing,
    ReceiptReceived,
    TypingReceived,
)
from session_core.protocol.expiration import Expiration, read_expiration
from session_core.protocol.groups.invite import GroupInvite, check_invite
from session_core.protocol.friend_request import (
    FriendRequest,
    check_text,
    make_friend_request,
    read_friend_request,
)
from session_core.protocol.modes import DEFAULT_MODES, ConversationMode, from_wire, to_wire
from session_core.protocol.padding import pad, unpad
from session_core.protocol.prekeys import PreKeyBundle, PreKeyStore
from session_core.protocol.ratchet import RatchetSession, parse_signal_message
from session_core.protocol.sealed import (
    build_envelope,
    envelope_store_data,
    open_box,
    parse_sealed,
    read_envelope,
)
from session_core.protocol.sent_sync import synced_events
from session_core.protocol.session_protocol import (
    encrypt_for_recipient,
    open_signed,
    sender_session_id,
)

log = logging.getLogger("session_core.protocol")

__all__ = ["ContactState", "Contact", "Messenger", "StateChanges", "MAX_PENDING_REQUESTS"]

_MAX_SEEN_REQUESTS = 1024
_STATE_LABEL = b"messenger"
#: Friend requests waiting for accept/ignore.  Past this, the one that arrived first is dropped
#: (a :class:`FriendRequestDropped` event says so): strangers' requests cost nothing to send,
#: and each pending one is state the user keeps.
MAX_PENDING_REQUESTS = 256


@dataclass(frozen=True)
class StateChanges:
    """What changed since the last :meth:`Messenger.take_changes`, sealed for storage: the core
    (prekeys, name, modes, the ignored-requests cache) when it changed, the rows of the contacts
    that changed, and the Session IDs of contacts that are gone."""

    core: bytes | None
    contacts: dict[str, bytes]
    removed: frozenset[str]


@dataclass
class Messenger:
    identity: Identity
    display_name: str = ""
    prekeys: PreKeyStore = field(default=None)  # type: ignore[assignment]
    contacts: dict[str, Contact] = field(default_factory=dict)
    # Fingerprints of requests the user ignored (so a replay stays ignored), bounded.  Replays
    # on live contacts are refused by the contact's own ``request_ms``, which never ages out.
    _seen_requests: list[str] = field(default_factory=list)
    modes: tuple[ConversationMode, ...] = DEFAULT_MODES  # what we speak, preferred first

    def __post_init__(self) -> None:
        check_text("", self.display_name)
        if not self.modes or len(set(self.modes)) != len(self.modes):
            raise InvalidInputError("modes lists each conversation mode we speak once")
        if self.prekeys is None:
            self.prekeys = PreKeyStore.create(self.identity)
        self._state_key = StateKey.for_identity(self.identity, _STATE_LABEL)
        self._contact_key = StateKey.for_identity(self.identity, CONTACT_LABEL)
        # Nothing of a new messenger is saved yet: everything is a change.
        self._dirty: set[str] = set(self.contacts)
        self._core_dirty = True
        self._saved_core: tuple[str, tuple[ConversationMode, ...]] = (self.display_name, self.modes)

    @property
    def session_id(self) -> str:
        return self.identity.session_id

    # -- commands -----------------------------------------------------------------------------

    def send_friend_request(
        self, peer: str, intro: str, *, now_ms: int, mode: ConversationMode | None = None
    ) -> Outgoing:
        """Start contact with ``peer``.

        In the RATCHET mode (our default): a friend request carrying a fresh prekey bundle and
        the modes we speak.  In the SESSION mode (to reach someone on a Session app): a
        Session-protocol message with ``intro`` as its text, which their app shows as a message
        request.
        """
        peer = canonical_session_id(peer)
        peer_key = self._peer_key(peer)
        mode = self.modes[0] if mode is None else mode
        if mode not in self.modes:
            raise InvalidInputError(f"this messenger does not speak the {mode.value} mode")
        contact = self.contacts.get(peer)
        if contact is not None and contact.state is ContactState.ESTABLISHED:
            raise FriendRequestError(f"already in a session with {peer}")
        if contact is not None and contact.state is ContactState.INCOMING:
            raise FriendRequestError(f"{peer} already sent you a request: accept it instead")
        check_text(intro, self.display_name)
        if mode is ConversationMode.SESSION:
            content = self._text_content(intro, mode, now_ms)
            out = self._session_outgoing(peer, peer_key, content, "friend_request", now_ms)
        else:
            bundle = self.prekeys.issue_bundle()
            sealed = make_friend_request(
                self.identity, peer, bundle, intro=intro, display_name=self.display_name,
                timestamp_ms=now_ms, modes=to_wire(self.modes),
            )
            data = build_envelope(peer_key, sealed, now_ms)
            out = Outgoing(peer, data, TTL_MS["friend_request"], "friend_request", now_ms)
        if contact is None:
            self.contacts[peer] = Contact(peer, ContactState.OUTGOING, mode=mode)
        else:
            contact.mode = mode
        self._touch(peer, core=True)  # a bundle was issued from our prekeys
        return out

    def accept(self, peer: str, *, now_ms: int, text: str = "") -> Outgoing:
        """Accept ``peer``'s pending request: X3DH on their bundle, and the first message."""
        peer = canonical_session_id(peer)
        contact = self.contacts.get(peer)
        if contact is not None and contact.request is not None:
            out = self._accept(contact, contact.request, now_ms, text)
        elif (contact is not None and contact.state is ContactState.INCOMING
                and contact.mode is ConversationMode.SESSION):
            out = self._accept_session(contact, now_ms, text)
        else:
            raise UnknownPeerError(f"no pending friend request from {peer}")
        self._touch(peer, core=True)
        return out

    def ignore(self, peer: str) -> None:
        """Drop ``peer``'s pending request (a replay of it stays ignored)."""
        peer = canonical_session_id(peer)
        contact = self.contacts.get(peer)
        if contact is None or contact.state is not ContactState.INCOMING:
            raise UnknownPeerError(f"no pending friend request from {peer}")
        # A replay of what they sent must stay ignored once the contact (and its own replay
        # guard) is gone.
        for fingerprint in ([contact.request.fingerprint] if contact.request else []) + contact.seen:
            self._remember(fingerprint)
        del self.contacts[peer]
        self._touch(peer, core=True)

    def apply_synced_contact(self, peer: str, *, approved: bool, approved_me: bool) -> bool:
        """Adopt the friend-request state another device of this account recorded in the
        contacts config (:mod:`session_core.protocol.config`): ``approved`` = we accepted or
        wrote to them, ``approved_me`` = they accepted or wrote to us.  Only moves forward
        (none -> OUTGOING -> ESTABLISHED, INCOMING -> ESTABLISHED), in the Session protocol
        (the one every device of an account can speak: it has no per-device ratchet state).
        True if the contact changed."""
        peer = canonical_session_id(peer)
        self._peer_key(peer)
        contact = self.contacts.get(peer)
        if contact is None:
            if not approved:
                return False
            state = ContactState.ESTABLISHED if approved_me else ContactState.OUTGOING
            self.contacts[peer] = Contact(peer, state, mode=ConversationMode.SESSION)
        elif contact.state is ContactState.INCOMING and approved and contact.mode is ConversationMode.SESSION:
            contact.state, contact.request = ContactState.ESTABLISHED, None
        elif contact.state is ContactState.OUTGOING and approved_me and contact.mode is ConversationMode.SESSION:
            contact.state, contact.crossed = ContactState.ESTABLISHED, False
        else:
            return False
        self._touch(peer)
        return True

    def mode_of(self, peer: str) -> ConversationMode | None:
        """The mode of our conversation with ``peer`` (None: no contact)."""
        contact = self.contacts.get(canonical_session_id(peer))
        return None if contact is None else contact.mode

    def send_text(
        self, peer: str, text: str, *, now_ms: int, listening: tuple[str, int] | None = None,
        attachments: Sequence[Pointer] = (), expire: Expiration | None = None,
    ) -> Outgoing:
        """A text message; ``listening`` = our listening node (address, port), told to ratchet
        peers only (Session apps have no synchronous routing); ``attachments`` = files already
        uploaded, carried as AttachmentPointers; ``expire``: it disappears."""
        peer = canonical_session_id(peer)
        mode = self.mode_of(peer) or ConversationMode.RATCHET
        content = self._text_content(text, mode, now_ms)
        for pointer in attachments:
            pointer.check()
            attachment_pointer.to_pb(pointer, content.dataMessage.attachments.add())
        if expire is not None:
            expire.apply(content)
        if listening is not None and mode is ConversationMode.RATCHET:
            _set_status(content, listening[0], listening[1], reachable=True)
        return self.send_content(peer, content, kind="regular", now_ms=now_ms)

    def send_expiration_timer(self, peer: str, expire: Expiration | None, *, now_ms: int) -> Outgoing:
        """Tell ``peer`` the conversation's disappearing-message setting (None: off), the way
        Session does: a DataMessage flagged EXPIRATION_TIMER_UPDATE with the Content's timer."""
        content = pb.Content()
        content.dataMessage.flags = pb.DataMessage.EXPIRATION_TIMER_UPDATE
        if self.mode_of(peer) is not ConversationMode.SESSION:
            content.dataMessage.timestamp = now_ms
        if expire is not None:
            expire.apply(content)
        return self.send_content(peer, content, kind="regular", now_ms=now_ms)

    def send_group_invite(self, peer: str, invite: GroupInvite) -> Outgoing:
        """Invite ``peer`` into a closed group we run (``invite`` from
        :func:`~session_core.protocol.groups.invite.sign_invite` for ``peer``; the message is sent
        at the time it signs)."""
        content = pb.Content()
        msg = content.dataMessage.groupUpdateMessage.inviteMessage
        msg.groupSessionId, msg.name = invite.group_id, invite.name
        msg.memberAuthData, msg.adminSignature = b"", invite.admin_signature
        if self.mode_of(peer) is not ConversationMode.SESSION:
            content.dataMessage.timestamp = invite.sent_ms
        return self.send_content(peer, content, kind="regular", now_ms=invite.sent_ms)

    def send_receipt(
        self, peer: str, timestamps_ms: list[int], *, read: bool, now_ms: int
    ) -> Outgoing:
        """A read receipt, or (ratchet mode only: Session apps have none) a delivery receipt."""
        content = pb.Content()
        content.receiptMessage.type = pb.ReceiptMessage.READ if read else pb.ReceiptMessage.DELIVERY
        content.receiptMessage.timestamp.extend(timestamps_ms)
        return self.send_content(peer, content, kind="regular", now_ms=now_ms)

    def send_typing(self, peer: str, *, started: bool, now_ms: int) -> Outgoing:
        content = pb.Content()
        content.typingMessage.timestamp = now_ms
        content.typingMessage.action = (
            pb.TypingMessage.STARTED if started else pb.TypingMessage.STOPPED
        )
        return self.send_content(peer, content, kind="typing", now_ms=now_ms)

    def send_online_status(
        self, peer: str, address: str, port: int, *, reachable: bool, now_ms: int
    ) -> Outgoing:
        """Tell ``peer`` we are online and listening at ``address:port`` (whitepaper 4.6.2)."""
        if not (0 <= port <= 65535):
            raise InvalidInputError(f"port out of range: {port}")
        content = pb.Content()
        _set_status(content, address, port, reachable=reachable)
        return self.send_content(peer, content, kind="online_status", now_ms=now_ms)

    def send_content(self, peer: str, content: pb.Content, *, kind: str, now_ms: int) -> Outgoing:
        """Encrypt any Content in the session with ``peer``."""
        peer = canonical_session_id(peer)
        if kind not in TTL_MS:
            raise InvalidInputError(f"unknown message kind {kind!r}; one of {sorted(TTL_MS)}")
        peer_key = self._peer_key(peer)
        contact = self.contacts.get(peer)
        if contact is not None and contact.mode is ConversationMode.SESSION:
            if contact.state is ContactState.INCOMING:
                raise NoSessionError(f"{peer} sent you a request: accept it first")
            _check_session_content(content)
            return self._session_outgoing(peer, peer_key, content, kind, now_ms)
        if contact is None or contact.session is None:
            raise NoSessionError(f"no session with {peer}: send a friend request first")
        wire = contact.session.encrypt(content.SerializeToString())
        self._touch(peer)  # the sending chain moved
        return self._signal_outgoing(peer, peer_key, wire, kind, now_ms)

    # -- input --------------------------------------------------------------------------------

    def receive(self, data: bytes, *, now_ms: int = 0) -> list[Event]:
        """Process one received message (store data: wrapped or bare Envelope).

        Returns events (possibly an :class:`Outgoing`).
        """
        envelope = read_envelope(data)
        inner = open_box(self.identity, envelope)
        try:
            # A Session-protocol box ends with a signature over its content and our key; our
            # own SealedMessage never does (a forgery of that needs the sender's key anyway).
            message, sender_ed = open_signed(inner, self.identity.x25519_public_key)
        except DecryptionError:
            pass
        else:
            return self._receive_session(inner, message, sender_ed, envelope.timestamp, now_ms)
        sealed = parse_sealed(inner)
        try:
            self._peer_key(sealed.source)
        except InvalidSessionIdError as exc:
            raise MalformedMessageError(f"sealed message: bad source: {exc}") from None
        if sealed.kind == pb.SealedMessage.FRIEND_REQUEST:
            return self._receive_request(read_friend_request(self.identity, sealed), now_ms)
        if sealed.kind == pb.SealedMessage.SIGNAL:
            return self._receive_signal(sealed.source, sealed.payload, envelope.timestamp)
        raise MalformedMessageError(f"unknown sealed message kind {sealed.kind}")

    def _receive_request(self, request: FriendRequest, now_ms: int) -> list[Event]:
        if request.fingerprint in self._seen_requests:
            return []  # a replay of a request the user ignored
        peer = request.sender
        contact = self.contacts.get(peer)
        if contact is not None and request.timestamp_ms <= contact.request_ms:
            # A duplicate or a replay of a request we already handled, however many requests
            # came in since: a real new request from them is signed with a later time.
            return []
        event = FriendRequestReceived(peer, request.display_name, request.intro,
                                      request.timestamp_ms)
        if contact is not None and contact.state is ContactState.OUTGOING:
            # Crossed requests: the smaller Session ID accepts, so exactly one session results.
            if self.session_id < peer:
                outgoing = self._accept(contact, request, now_ms or request.timestamp_ms, "")
                contact.request_ms = request.timestamp_ms
                contact.display_name = request.display_name
                self._touch(peer, core=True)
                return [FriendRequestReceived(peer, request.display_name, request.intro,
                                              request.timestamp_ms, auto_accepted=True), outgoing]
            contact.crossed = True
            contact.display_name = request.display_name
            contact.request_ms = request.timestamp_ms
            self._touch(peer)
            return []
        events: list[Event] = []
        if contact is None:
            contact = Contact(peer, ContactState.INCOMING, received_ms=now_ms or request.timestamp_ms)
            self.contacts[peer] = contact
            events.extend(self._drop_excess_requests(keep=peer))
        elif contact.state is ContactState.ESTABLISHED:
            if request.timestamp_ms <= contact.peer_accepted_ms:
                # Crossed requests, other order: they accepted ours before theirs reached us.
                contact.request_ms = request.timestamp_ms
                self._touch(peer)
                return []
            # The peer lost its session (e.g. restored on a new device) and asks again; the
            # old session keeps working until this one is accepted.
        contact.request = request
        contact.request_ms = request.timestamp_ms
        contact.display_name = request.display_name
        self._touch(peer)
        return [event, *events]

    def _drop_excess_requests(self, keep: str) -> list[Event]:
        """Keep at most MAX_PENDING_REQUESTS pending: drop the ones that arrived first."""
        pending = [c for c in self.contacts.values() if c.state is ContactState.INCOMING]
        excess = len(pending) - MAX_PENDING_REQUESTS
        if excess <= 0:
            return []
        pending.sort(key=lambda c: c.received_ms)  # stable: same time -> arrival order
        dropped: list[Event] = []
        for c in [c for c in pending if c.session_id != keep][:excess]:
            del self.contacts[c.session_id]
            self._touch(c.session_id)
            dropped.append(FriendRequestDropped(
                c.session_id, f"more than {MAX_PENDING_REQUESTS} pending friend requests: the oldest is dropped"))
        return dropped

    def _receive_signal(self, peer: str, payload: bytes, sent_ms: int) -> list[Event]:
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
            self._core_dirty = True  # a one-time prekey was used up
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
        # They hold ratchet state: speak the ratchet with them (again).
        contact.mode = ConversationMode.RATCHET
        contact.last_ratchet_ms = max(contact.last_ratchet_ms, sent_ms)
        self._touch(peer)  # the receiving chain moved, even if the content turns out malformed
        events.extend(self._content_events(contact, _parse_content(plaintext), sent_ms))
        if events and isinstance(events[0], FriendRequestAccepted):
            events[0] = FriendRequestAccepted(peer, contact.display_name)
        return events

    def _content_events(self, contact: Contact, content: pb.Content, sent_ms: int) -> list[Event]:
        peer = contact.session_id
        events: list[Event] = []
        if content.messageRequestResponse.profile.displayName:
            contact.display_name = content.messageRequestResponse.profile.displayName[:64]
        if content.HasField("dataMessage"):
            data = content.dataMessage
            if data.profile.displayName:
                contact.display_name = data.profile.displayName[:64]
            files = tuple(p for p in map(attachment_pointer.from_pb, data.attachments) if p is not None)
            expiration = read_expiration(content)
            if data.flags & pb.DataMessage.EXPIRATION_TIMER_UPDATE:
                events.append(ExpirationTimerChanged(peer, expiration, data.timestamp or sent_ms))
            if data.groupUpdateMessage.HasField("inviteMessage"):
                events += self._invite_events(peer, data.groupUpdateMessage.inviteMessage, data.timestamp or sent_ms)
            if data.body or files:
                # Current clients leave DataMessage.timestamp unset: the envelope's is the one.
                events.append(MessageReceived(
                    peer, data.body, data.timestamp or sent_ms, contact.display_name,
                    expiration.seconds if expiration else 0, expiration.mode if expiration else "",
                    attachments=files,
                ))
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

    def _invite_events(self, peer: str, msg: pb.GroupUpdateInviteMessage, sent_ms: int) -> list[Event]:
        try:
            invite = check_invite(msg.groupSessionId, msg.name, msg.adminSignature,
                                  invitee=self.identity.session_id, sent_ms=sent_ms)
        except GroupInviteError as exc:  # forged, or meant for someone else: the rest still counts
            log.info("dropped a group invitation from %s: %s", peer[:12], exc)
            return []
        return [GroupInviteReceived(peer, invite.group_id, invite.name, sent_ms)]

    def _accept(self, contact: Contact, request: FriendRequest, now_ms: int, text: str) -> Outgoing:
        theirs = from_wire(request.modes)
        common = [m for m in theirs if m in self.modes]
        if not common:
            raise FriendRequestError(
                f"{contact.session_id} speaks only {', '.join(m.value for m in theirs)}, "
                f"which this messenger does not"
            )
        if common[0] is ConversationMode.SESSION:
            return self._accept_session(contact, now_ms, text)
        return self._accept_ratchet(contact, request.bundle, now_ms, text)

    def _accept_ratchet(self, contact: Contact, bundle: PreKeyBundle, now_ms: int,
                        text: str) -> Outgoing:
        content = pb.Content()
        content.dataMessage.timestamp = now_ms
        if text:
            content.dataMessage.body = text
        if self.display_name:
            content.dataMessage.profile.displayName = self.display_name
        session, wire = RatchetSession.initiate(self.prekeys, bundle, content.SerializeToString())
        # Commit only after X3DH and encryption succeeded.
        contact.session, contact.state, contact.request = session, ContactState.ESTABLISHED, None
        contact.mode = ConversationMode.RATCHET
        peer_key = self._peer_key(contact.session_id)
        return self._signal_outgoing(contact.session_id, peer_key, wire, "session_established",
                                     now_ms)

    def _accept_session(self, contact: Contact, now_ms: int, text: str) -> Outgoing:
        """Approve a Session-protocol request: a reply if there is text, else what a Session app
        sends when you tap accept (MessageRequestResponse with our profile)."""
        if text:
            content = self._text_content(text, ConversationMode.SESSION, now_ms)
        else:
            content = pb.Content()
            response = content.messageRequestResponse
            response.isApproved = True
            if self.display_name:
                response.profile.displayName = self.display_name
        peer = contact.session_id
        out = self._session_outgoing(peer, self._peer_key(peer), content, "session_established",
                                     now_ms)
        contact.state, contact.request = ContactState.ESTABLISHED, None
        contact.mode = ConversationMode.SESSION
        return out

    def _text_content(self, text: str, mode: ConversationMode, now_ms: int) -> pb.Content:
        content = pb.Content()
        content.dataMessage.body = text
        if mode is ConversationMode.RATCHET:
            content.dataMessage.timestamp = now_ms  # 2020 field; current clients use the envelope's
        if self.display_name:
            content.dataMessage.profile.displayName = self.display_name
        return content

    def _session_outgoing(self, peer: str, peer_key: bytes, content: pb.Content, kind: str,
                          now_ms: int) -> Outgoing:
        if ConversationMode.SESSION not in self.modes:
            raise InvalidInputError("this messenger does not speak the Session protocol")
        content.sigTimestamp = now_ms  # current clients check it equals the envelope's
        boxed = encrypt_for_recipient(self.identity, peer_key, pad(content.SerializeToString()))
        return Outgoing(peer, envelope_store_data(boxed, now_ms), TTL_MS[kind], kind, now_ms)

    def _receive_session(self, inner: bytes, message: bytes, sender_ed: bytes,
                         sent_ms: int, now_ms: int) -> list[Event]:
        if ConversationMode.SESSION not in self.modes:
            raise DecryptionError("a Session-protocol message, and this messenger does not speak it")
        peer = sender_session_id(sender_ed)
        if peer == self.session_id:
            # From another device of this account: a copy of a message it sent (multi-device).
            return list(synced_events(_parse_content(_unpad_lenient(message)), sent_ms))
        fingerprint = "sp:" + hashlib.sha256(inner).hexdigest()
        contact = self.contacts.get(peer)
        if fingerprint in self._seen_requests or (contact is not None and fingerprint in contact.seen):
            raise DuplicateMessageError("duplicate or replayed Session-protocol message")
        content = _parse_content(_unpad_lenient(message))
        events: list[Event] = []
        if contact is None:
            body = content.dataMessage.body
            if not body:
                return []  # typing, receipts, ... from a stranger: nothing to show yet
            contact = Contact(peer, ContactState.INCOMING, mode=ConversationMode.SESSION,
                              received_ms=now_ms or sent_ms)
            contact.display_name = content.dataMessage.profile.displayName[:64]
            contact.remember(fingerprint)
            self.contacts[peer] = contact
            self._touch(peer)
            return [FriendRequestReceived(peer, contact.display_name, body, sent_ms),
                    *self._drop_excess_requests(keep=peer)]
        if contact.state is ContactState.OUTGOING:
            # We wrote to them; any answer in the Session protocol means they accepted.
            contact.state, contact.mode, contact.crossed = (
                ContactState.ESTABLISHED, ConversationMode.SESSION, False)
            contact.peer_accepted_ms = sent_ms
            events.append(FriendRequestAccepted(peer, contact.display_name))
        elif (contact.state is ContactState.ESTABLISHED
              and contact.mode is ConversationMode.RATCHET and sent_ms > contact.last_ratchet_ms):
            contact.mode = ConversationMode.SESSION  # they moved to a Session app
        contact.remember(fingerprint)
        self._touch(peer)
        events.extend(self._content_events(contact, content, sent_ms))
        if events and isinstance(events[0], FriendRequestAccepted):
            events[0] = FriendRequestAccepted(peer, contact.display_name)
        return events

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
        self._core_dirty = True

    def _touch(self, peer: str, *, core: bool = False) -> None:
        """Mark ``peer``'s contact (changed or removed) for the next :meth:`take_changes`."""
        self._dirty.add(peer)
        if core:
            self._core_dirty = True

    # -- persistence (encrypted at rest) ------------------------------------------------------
    #
    # Two forms.  Rows (take_changes / from_rows): the core and one sealed row per contact,
    # so saving after a message re-encrypts one small row, not every contact.  One blob
    # (to_bytes / from_bytes): everything in one document, the form saved before rows existed
    # (read to migrate) and handy to copy a whole state.

    def take_changes(self) -> StateChanges:
        """The sealed core and contact rows that changed since the last call (all of them for a
        messenger that was never saved).  Hand them back with :meth:`put_back` if saving fails."""
        core = None
        if self._core_dirty or (self.display_name, self.modes) != self._saved_core:
            core = self._state_key.seal(json.dumps(self._core_document(), separators=(",", ":")).encode())
        rows = {sid: seal_contact(self._contact_key, self.contacts[sid]) for sid in self._dirty if sid in self.contacts}
        removed = frozenset(sid for sid in self._dirty if sid not in self.contacts)
        self._dirty, self._core_dirty = set(), False
        self._saved_core = (self.display_name, self.modes)
        return StateChanges(core, rows, removed)

    def put_back(self, changes: StateChanges) -> None:
        """Changes that were not saved: they are changes again."""
        self._dirty |= set(changes.contacts) | changes.removed
        self._core_dirty = self._core_dirty or changes.core is not None

    def _core_document(self) -> dict[str, Any]:
        return {"v": 2, "name": self.display_name, "prekeys": self.prekeys.to_json(),
                "seen": self._seen_requests, "modes": [m.value for m in self.modes]}

    @classmethod
    def from_rows(cls, identity: Identity, core: bytes, rows: Iterable[bytes]) -> Messenger:
        """The messenger saved as a core and contact rows (:meth:`take_changes`)."""
        doc = _open_document(StateKey.for_identity(identity, _STATE_LABEL), core)
        contact_key = StateKey.for_identity(identity, CONTACT_LABEL)
        contacts = {}
        for blob in rows:
            c = open_contact(contact_key, blob)
            contacts[c.session_id] = c
        messenger = cls._from_document(identity, doc, contacts)
        messenger._dirty, messenger._core_dirty = set(), False  # exactly what is saved
        return messenger

    def to_document(self) -> dict[str, Any]:
        """All state as one plain document (holds private keys: never store it unsealed)."""
        return {**self._core_document(), "v": 1,
                "contacts": {sid: contact_to_json(c) for sid, c in self.contacts.items()}}

    def to_bytes(self) -> bytes:
        """All state (prekeys, contacts, sessions) in one blob, encrypted with the identity's
        state key."""
        return self._state_key.seal(json.dumps(self.to_document(), separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, identity: Identity, blob: bytes) -> Messenger:
        """A messenger from :meth:`to_bytes` (all of it counts as unsaved in rows)."""
        doc = _open_document(StateKey.for_identity(identity, _STATE_LABEL), blob)
        try:
            contacts = {sid: contact_from_json(sid, c) for sid, c in doc["contacts"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, StateDecryptionError):
                raise
            raise StateDecryptionError(f"saved messenger state is malformed: {exc}") from None
        return cls._from_document(identity, doc, contacts)

    @classmethod
    def _from_document(cls, identity: Identity, doc: dict[str, Any], contacts: dict[str, Contact]) -> Messenger:
        try:
            modes = tuple(ConversationMode(m) for m in doc.get("modes", [m.value for m in DEFAULT_MODES]))
            return cls(identity, str(doc["name"]), PreKeyStore.from_json(doc["prekeys"], identity),
                       contacts, [str(f) for f in doc["seen"]], modes)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, StateDecryptionError):
                raise
            raise StateDecryptionError(f"saved messenger state is malformed: {exc}") from None


def _open_document(key: StateKey, blob: bytes) -> dict[str, Any]:
    raw = key.open(blob)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise StateDecryptionError(f"saved messenger state is malformed: {exc}") from None
    if not isinstance(doc, dict):
        raise StateDecryptionError("saved messenger state is malformed: not an object")
    return doc


def _set_status(content: pb.Content, address: str, port: int, *, reachable: bool) -> None:
    msg = content.lokiAddressMessage
    msg.p2pAddress = address
    msg.p2pPort = port
    msg.type = (
        pb.LokiAddressMessage.HOST_REACHABLE if reachable
        else pb.LokiAddressMessage.HOST_UNREACHABLE
    )


def _check_session_content(content: pb.Content) -> None:
    """Refuse what a Session app cannot use, rather than send it to them."""
    if content.HasField("lokiAddressMessage") or content.HasField("preKeyBundleMessage"):
        raise InvalidInputError(
            "online status and prekey bundles are session_core-only: not sent to a Session app"
        )
    if content.HasField("receiptMessage") and content.receiptMessage.type != pb.ReceiptMessage.READ:
        raise InvalidInputError("Session apps know read receipts only, not delivery receipts")


def _parse_content(plaintext: bytes) -> pb.Content:
    content = pb.Content()
    try:
        content.ParseFromString(plaintext)
    except DecodeError as exc:
        raise MalformedMessageError(f"decrypted message is not a Content: {exc}") from None
    return content


def _unpad_lenient(message: bytes) -> bytes:
    # Session apps pad (0x80 then zeros) but their reader also takes an unpadded Content.
    try:
        return unpad(message)
    except MalformedMessageError:
        return message


def _content_timestamp(plaintext: bytes) -> int:
    """The sender's timestamp in a Content's data message (0 if there is none)."""
    content = pb.Content()
    try:
        content.ParseFromString(plaintext)
    except DecodeError:
        return 0
    return int(content.dataMessage.timestamp)
