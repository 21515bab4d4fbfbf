"""Copies of sent messages for the account's other devices (whitepaper 5.2.3, production's
"sync messages").

Every device of an account polls the same swarm (they share the Session ID), so one copy stored
there reaches all of them, however many there are: the cost of a send does not grow with the
number of devices.  The copy is a Session-protocol message from the account to itself whose
``DataMessage.syncTarget`` names the conversation, as production Session clients send it.
"""

from __future__ import annotations

from session_core.identity import Identity, canonical_session_id
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.events import TTL_MS, Outgoing, SentMessageSynced
from session_core.protocol.padding import pad
from session_core.protocol.sealed import envelope_store_data
from session_core.protocol.session_protocol import encrypt_for_recipient

__all__ = ["sync_copy", "synced_events"]


def sync_copy(identity: Identity, peer: str, body: str, *, sent_ms: int) -> Outgoing:
    """The copy of a text sent to ``peer`` at ``sent_ms``, to store in our own swarm."""
    content = pb.Content()
    content.dataMessage.body = body
    content.dataMessage.syncTarget = canonical_session_id(peer)
    content.sigTimestamp = sent_ms
    boxed = encrypt_for_recipient(identity, identity.x25519_public_key, pad(content.SerializeToString()))
    return Outgoing(identity.session_id, envelope_store_data(boxed, sent_ms), TTL_MS["regular"], "regular", sent_ms)


def synced_events(content: pb.Content, sent_ms: int) -> list[SentMessageSynced]:
    """What a Content from our own account means: a sent-message copy, or nothing we show."""
    target = content.dataMessage.syncTarget
    if not target or not content.dataMessage.body:
        return []
    try:
        peer = canonical_session_id(target)
    except ValueError:
        return []  # a copy naming no valid conversation: nothing to file it under
    return [SentMessageSynced(peer, content.dataMessage.body, sent_ms)]
