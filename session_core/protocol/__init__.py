"""Sans-IO messaging protocol: protobuf messages, Signal sessions, friend requests.

Modules: ``messages_pb2`` (generated protobuf), ``padding`` (docs/interop.md §6.2), ``at_rest`` (state
encryption), ``prekeys`` (X3DH), ``ratchet`` (Double Ratchet adapter), ``session_protocol``
(Session's production 1:1 encryption), ``modes`` (which of the two a conversation uses),
``store_data`` (the WebSocketMessage wrapper real clients store), ``sealed`` (Envelope and sealed
box), ``friend_request``, ``events`` and ``conversation`` (the state machine); for several devices
of one account (docs/devices.md): ``config`` (synced settings), ``link`` (link codes) and
``sent_sync`` (copies of sent messages).
"""

from session_core.protocol.conversation import Contact, ContactState, Messenger
from session_core.protocol.modes import ConversationMode
from session_core.protocol.expiration import Expiration
from session_core.protocol.events import (
    TTL_MS,
    Event,
    ExpirationTimerChanged,
    GroupInviteReceived,
    FriendRequestAccepted,
    FriendRequestDropped,
    FriendRequestReceived,
    MessageReceived,
    OnlineStatusReceived,
    Outgoing,
    ReceiptReceived,
    SentMessageSynced,
    TypingReceived,
)
from session_core.protocol.prekeys import PreKeyBundle, PreKeyStore
from session_core.protocol.ratchet import RatchetSession

__all__ = [
    "TTL_MS",
    "Contact",
    "ContactState",
    "ConversationMode",
    "Event",
    "ExpirationTimerChanged",
    "GroupInviteReceived",
    "Expiration",
    "FriendRequestAccepted",
    "FriendRequestDropped",
    "FriendRequestReceived",
    "MessageReceived",
    "Messenger",
    "OnlineStatusReceived",
    "Outgoing",
    "PreKeyBundle",
    "PreKeyStore",
    "RatchetSession",
    "ReceiptReceived",
    "SentMessageSynced",
    "TypingReceived",
]
