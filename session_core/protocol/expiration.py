"""Disappearing messages: the timer carried in a Content (upstream ``expirationType`` = 12,
``expirationTimer`` = 13, seconds; field numbers checked against tests/data/signalservice_fields.json).

Two modes, as in Session: *after send* counts from the sender's timestamp (the Envelope's), so
every copy -- sender's, recipient's, the swarm's -- is gone at ``sent_ms + seconds``; *after read*
counts from the moment the recipient reads it (the sender's own copy counts from sending: the
sender has read it).  A conversation's setting travels as a DataMessage with the
``EXPIRATION_TIMER_UPDATE`` flag carrying the same two fields; every text sent under a setting
carries it too, so a copy that arrives before the update still disappears.
"""

from __future__ import annotations

from dataclasses import dataclass

from session_core.errors import InvalidExpirationError
from session_core.protocol import messages_pb2 as pb

__all__ = ["AFTER_READ", "AFTER_SEND", "MAX_TIMER_S", "MIN_TIMER_S", "Expiration", "read_expiration"]

AFTER_READ = "after_read"
AFTER_SEND = "after_send"
MIN_TIMER_S = 5
#: Four weeks: longer than any node keeps a message (4 days), so the node TTL is what bounds it.
MAX_TIMER_S = 28 * 86_400

_TO_WIRE = {AFTER_READ: pb.Content.DELETE_AFTER_READ, AFTER_SEND: pb.Content.DELETE_AFTER_SEND}
_FROM_WIRE = {v: k for k, v in _TO_WIRE.items()}


@dataclass(frozen=True)
class Expiration:
    mode: str  # AFTER_READ or AFTER_SEND
    seconds: int

    def __post_init__(self) -> None:
        if self.mode not in _TO_WIRE:
            raise InvalidExpirationError(f"disappearing mode is {AFTER_SEND!r} or {AFTER_READ!r}, not {self.mode!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int) or not (
                MIN_TIMER_S <= self.seconds <= MAX_TIMER_S):
            raise InvalidExpirationError(
                f"disappearing timer is {MIN_TIMER_S}..{MAX_TIMER_S} seconds, not {self.seconds!r}")

    @property
    def ms(self) -> int:
        return self.seconds * 1000

    def apply(self, content: pb.Content) -> None:
        content.expirationType = _TO_WIRE[self.mode]
        content.expirationTimer = self.seconds

    @classmethod
    def parse(cls, text: str) -> Expiration | None:
        """``"after_send:30"``, ``"after_read:3600"`` or ``"off"`` (None), as typed in commands."""
        text = text.strip()
        if text == "off":
            return None
        mode, sep, secs = text.partition(":")
        if not sep or not secs.isdigit() or len(secs) > 9:
            raise InvalidExpirationError(
                f"give MODE:SECONDS (e.g. after_send:30, after_read:3600) or off, not {text[:40]!r}")
        return cls(mode, int(secs))

    def __str__(self) -> str:
        return f"{self.mode}:{self.seconds}"


def read_expiration(content: pb.Content) -> Expiration | None:
    """The timer a received Content carries (None: it does not disappear).  A peer's timer out of
    our range is clamped into it rather than dropped: the message must still disappear."""
    mode = _FROM_WIRE.get(content.expirationType)
    if mode is None or not content.expirationTimer:
        return None
    return Expiration(mode, min(max(int(content.expirationTimer), MIN_TIMER_S), MAX_TIMER_S))
