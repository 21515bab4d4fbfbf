"""One peer of a :class:`~session_core.protocol.conversation.Messenger`, and its saved form.

A contact is saved on its own (a *row*), sealed at rest under the identity's key with the label
``messenger-contact``, so a message re-encrypts only the row of the contact it concerns, however
many contacts and pending requests the identity has (issue 11).  The Session ID is inside the
sealed document: a row is self-describing and a row moved to another index means nothing.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from session_core.errors import StateDecryptionError
from session_core.protocol.at_rest import StateKey
from session_core.protocol.friend_request import FriendRequest
from session_core.protocol.modes import ConversationMode
from session_core.protocol.prekeys import PreKeyBundle
from session_core.protocol.ratchet import RatchetSession

__all__ = ["ContactState", "Contact", "contact_to_json", "contact_from_json", "seal_contact", "open_contact",
           "CONTACT_LABEL", "MAX_SEEN_PER_CONTACT"]

CONTACT_LABEL = b"messenger-contact"
#: Session-protocol message fingerprints remembered per contact (the client's own dedup by
#: message hash is the first line; this catches a re-wrapped replay of a recent message).
MAX_SEEN_PER_CONTACT = 256


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
    mode: ConversationMode = ConversationMode.RATCHET
    last_ratchet_ms: int = 0  # envelope time of their latest ratchet message
    # The newest friend request of theirs we handled (their signed timestamp).  A request
    # stamped no later than this is a duplicate or a replay, however long ago it was seen:
    # this never ages out, unlike a bounded cache of fingerprints.
    request_ms: int = 0
    # When their pending request reached us (our clock): the oldest pending is dropped first.
    received_ms: int = 0
    # Recent Session-protocol message fingerprints from them (bounded, newest last).
    seen: list[str] = field(default_factory=list)

    def remember(self, fingerprint: str) -> None:
        self.seen.append(fingerprint)
        del self.seen[:-MAX_SEEN_PER_CONTACT]


def contact_to_json(c: Contact) -> dict[str, Any]:
    r = c.request
    return {
        "sid": c.session_id,
        "state": c.state.value,
        "name": c.display_name,
        "crossed": c.crossed,
        "accepted_ms": c.peer_accepted_ms,
        "mode": c.mode.value,
        "ratchet_ms": c.last_ratchet_ms,
        "request_ms": c.request_ms,
        "received_ms": c.received_ms,
        "seen": c.seen,
        "session": None if c.session is None else c.session.to_json(),
        "request": None if r is None else {
            "name": r.display_name, "intro": r.intro, "ts": r.timestamp_ms,
            "fp": r.fingerprint, "modes": list(r.modes),
            "bundle": [r.bundle.identity_key.hex(), r.bundle.signed_pre_key.hex(),
                       r.bundle.signed_pre_key_signature.hex(), r.bundle.pre_key.hex()],
        },
    }


def contact_from_json(sid: str, c: dict[str, Any]) -> Contact:
    """A contact from its document; KeyError/TypeError/ValueError when malformed.  Documents
    saved before a field existed load with its default (and a pending request's own
    timestamp as the replay bound)."""
    r = c["request"]
    request = None if r is None else FriendRequest(
        sender=sid, display_name=r["name"], intro=r["intro"], timestamp_ms=r["ts"],
        fingerprint=r["fp"],
        bundle=PreKeyBundle(*(bytes.fromhex(k) for k in r["bundle"])),
        modes=tuple(int(m) for m in r.get("modes", ())),
    )
    session = None if c["session"] is None else RatchetSession.from_json(c["session"])
    request_ms = int(c.get("request_ms", request.timestamp_ms if request is not None else 0))
    return Contact(sid, ContactState(c["state"]), str(c["name"]), request, session, bool(c["crossed"]),
                   int(c.get("accepted_ms", 0)), ConversationMode(c.get("mode", "ratchet")),
                   int(c.get("ratchet_ms", 0)), request_ms, int(c.get("received_ms", 0)),
                   [str(f) for f in c.get("seen", [])][-MAX_SEEN_PER_CONTACT:])


def seal_contact(key: StateKey, c: Contact) -> bytes:
    return key.seal(json.dumps(contact_to_json(c), separators=(",", ":")).encode())


def open_contact(key: StateKey, blob: bytes) -> Contact:
    raw = key.open(blob)
    try:
        doc = json.loads(raw)
        return contact_from_json(str(doc["sid"]), doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, StateDecryptionError):
            raise
        raise StateDecryptionError(f"saved contact is malformed: {exc}") from None
