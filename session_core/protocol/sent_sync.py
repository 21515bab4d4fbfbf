"""Copies of sent messages for the account's other devices (whitepaper 5.2.3, production's
"sync messages").

Every device of an account polls the same swarm (they share the Session ID), so one copy stored
there reaches all of them, however many there are: the cost of a send does not grow with the
number of devices.  The copy is a Session-protocol message from the account to itself whose
``DataMessage.syncTarget`` names the conversation, as production Session clients send it.
"""

from __future__ import annotations

from collections.abc import Sequence

from session_core.attachments import Pointer
from session_core.identity import Identity, canonical_session_id
from session_core.protocol import attachment_pointer
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.events import TTL_MS, Outgoing, SentMessageSynced
from session_core.protocol.expiration import Expiration, read_expiration
from session_core.protocol.padding import pad
from session_core.protocol.sealed import envelope_store_data
from session_core.protocol.session_protocol import encrypt_for_recipient

__all__ = ["sync_copy", "synced_events"]


#: The nodes' shortest TTL (storage_rpc.MIN_TTL_MS): a copy with a shorter timer is stored for
#: this long, and the receiving device deletes it at its own time.
_MIN_TTL_MS = 10_000


def sync_copy(identity: Identity, peer: str, body: str, *, sent_ms: int,
              attachments: Sequence[Pointer] = (), expire: Expiration | None = None) -> Outgoing:
    """The copy of a text sent to ``peer`` at ``sent_ms``, to store in our own swarm.

    ``attachments`` are the pointers the message carried (URL, key, digest): with them the other
    devices can show and download the files, as the peer does.  ``expire``: the conversation's
    disappearing setting; the copy carries it (``expirationType``/``expirationTimer``, as the
    message itself) and the swarm keeps it only until ``sent_ms + timer`` -- the sender has read
    what it sent, so in both modes its copies count from sending.
    """
    content = pb.Content()
    ttl = TTL_MS["regular"]
    if expire is not None:
        expire.apply(content)
        ttl = min(max(expire.ms, _MIN_TTL_MS), ttl)
    if body:
        content.dataMessage.body = body
    for pointer in attachments:
        attachment_pointer.to_pb(pointer, content.dataMessage.attachments.add())
    content.dataMessage.syncTarget = canonical_session_id(peer)
    content.sigTimestamp = sent_ms
    boxed = encrypt_for_recipient(identity, identity.x25519_public_key, pad(content.SerializeToString()))
    return Outgoing(identity.session_id, envelope_store_data(boxed, sent_ms), ttl, "regular", sent_ms)


def synced_events(content: pb.Content, sent_ms: int) -> list[SentMessageSynced]:
    """What a Content from our own account means: a sent-message copy, or nothing we show."""
    data = content.dataMessage
    # Pointers no download could use are dropped, as for a received message.
    files = tuple(p for p in map(attachment_pointer.from_pb, data.attachments) if p is not None)
    if not data.syncTarget or not (data.body or files):
        return []
    try:
        peer = canonical_session_id(data.syncTarget)
    except ValueError:
        return []  # a copy naming no valid conversation: nothing to file it under
    return [SentMessageSynced(peer, data.body, sent_ms, files, read_expiration(content))]
