"""What the sans-IO :class:`~session_core.protocol.conversation.Messenger` emits.

Inputs are bytes (received envelopes) and calls (send, accept, ignore); outputs are these
events.  :class:`Outgoing` is the one event that asks the driver to do something: deliver
``data`` (an Envelope) to ``recipient``'s swarm (or listening node) with ``ttl_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from session_core.attachments import Pointer
from session_core.protocol.expiration import Expiration

__all__ = [
    "TTL_MS",
    "Event",
    "Outgoing",
    "FriendRequestReceived",
    "FriendRequestAccepted",
    "FriendRequestDropped",
    "MessageReceived",
    "ReceiptReceived",
    "OnlineStatusReceived",
    "TypingReceived",
    "SentMessageSynced",
    "ExpirationTimerChanged",
    "GroupInviteReceived",
]

_MIN, _DAY = 60_000, 86_400_000

# Desktop TTLs per message kind (docs/interop.md §1.6, desk-1.4.4 ts/session/constants.ts TTL_DEFAULT).
TTL_MS: dict[str, int] = {
    "friend_request": 4 * _DAY,  # SESSION_REQUEST
    "session_established": 2 * _DAY,  # the accept message: SESSION_ESTABLISHED
    "regular": 2 * _DAY,  # REGULAR_MESSAGE (texts, receipts)
    "online_status": 1 * _MIN,  # ONLINE_BROADCAST
    "typing": 1 * _MIN,  # TYPING_MESSAGE
}


@dataclass(frozen=True)
class Event:
    """Base class of everything the Messenger emits."""


@dataclass(frozen=True)
class Outgoing(Event):
    """Envelope bytes for the driver to send."""

    recipient: str  # Session ID whose swarm stores it
    data: bytes  # what goes in store.data (before base64): the wrapped Envelope
    ttl_ms: int
    kind: str  # a key of TTL_MS
    timestamp_ms: int


@dataclass(frozen=True)
class FriendRequestReceived(Event):
    sender: str
    display_name: str
    intro: str
    timestamp_ms: int
    auto_accepted: bool = False  # crossed requests: we accepted theirs (see Messenger)


@dataclass(frozen=True)
class FriendRequestAccepted(Event):
    """Our request was accepted: the peer's first message arrived and the session is up."""

    peer: str
    display_name: str


@dataclass(frozen=True)
class FriendRequestDropped(Event):
    """A pending request was dropped unanswered (too many pending: the oldest goes first)."""

    sender: str
    reason: str


@dataclass(frozen=True)
class MessageReceived(Event):
    sender: str
    body: str
    timestamp_ms: int  # the sender's sent time (what receipts and quotes refer to)
    display_name: str
    expire_after_s: int = 0  # disappearing message: seconds, counted as below
    expire_mode: str = ""  # "after_read" or "after_send" ("" = does not disappear)
    attachments: tuple[Pointer, ...] = ()  # files to fetch from their file servers


@dataclass(frozen=True)
class ReceiptReceived(Event):
    sender: str
    read: bool  # False: delivery receipt
    timestamps_ms: tuple[int, ...]


@dataclass(frozen=True)
class OnlineStatusReceived(Event):
    """The peer is online and listens on ``address:port`` (whitepaper 4.6.2), or went offline."""

    sender: str
    address: str
    port: int
    reachable: bool


@dataclass(frozen=True)
class TypingReceived(Event):
    sender: str
    started: bool
    timestamp_ms: int


@dataclass(frozen=True)
class SentMessageSynced(Event):
    """A message another device of this account sent to ``peer`` (its copy in the own swarm)."""

    peer: str
    body: str
    timestamp_ms: int
    attachments: tuple[Pointer, ...] = ()  # the files it carried, to show and fetch here too
    #: The conversation's disappearing setting the message was sent under (None: it stays);
    #: the copy dies here when it died on the sending device: ``timestamp_ms + seconds``.
    expiration: Expiration | None = None


@dataclass(frozen=True)
class ExpirationTimerChanged(Event):
    """The peer set the conversation's disappearing-message timer (None: turned off)."""

    sender: str
    expiration: Expiration | None
    timestamp_ms: int


@dataclass(frozen=True)
class GroupInviteReceived(Event):
    """The admin of a closed group invited us (checked: signed by the group's key for us and
    this message); joining it is up to the user."""

    sender: str
    group_id: str
    name: str
    timestamp_ms: int
