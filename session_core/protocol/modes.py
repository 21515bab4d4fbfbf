"""The two ways a conversation can be encrypted, and how they are named on the wire.

* ``RATCHET`` -- X3DH + Double Ratchet inside session_core's sealed framing: forward secrecy and
  break-in recovery; only session_core speaks it.  The default between session_core peers.
* ``SESSION`` -- Session's production 1:1 encryption (:mod:`session_core.protocol.session_protocol`):
  every message signed by, and sealed to, the long-term identity keys.  What Session apps speak.

Negotiation: a ratchet-mode friend request lists the modes its sender speaks, in order of
preference (``SealedMessage.modes``; absent = ratchet only); the acceptor answers in the first of
them it speaks too.  A Session-protocol message from a client that cannot read our framing is
understood as it is, and answered in the Session protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from session_core.protocol import messages_pb2 as pb

__all__ = ["ConversationMode", "DEFAULT_MODES", "from_wire", "to_wire"]


class ConversationMode(enum.Enum):
    RATCHET = "ratchet"
    SESSION = "session-protocol"


DEFAULT_MODES = (ConversationMode.RATCHET, ConversationMode.SESSION)

_WIRE = {
    ConversationMode.RATCHET: pb.SealedMessage.MODE_RATCHET,
    ConversationMode.SESSION: pb.SealedMessage.MODE_SESSION_PROTOCOL,
}
_FROM_WIRE = {v: k for k, v in _WIRE.items()}


def to_wire(modes: Iterable[ConversationMode]) -> list[pb.SealedMessage.Mode]:
    return [_WIRE[m] for m in modes]


def from_wire(values: Iterable[int]) -> tuple[ConversationMode, ...]:
    """The modes a request advertises (unknown ones skipped; none advertised = ratchet only)."""
    modes = tuple(_FROM_WIRE[v] for v in values if v in _FROM_WIRE)  # type: ignore[index]
    return modes or (ConversationMode.RATCHET,)
