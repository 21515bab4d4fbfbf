"""Remote wipe by a trusted friend (whitepaper 5.4): the pure part.

The user arms a friend: a random secret is made and shown once (to hand over in person), and
only ``BLAKE2b(key=label, friend's Session ID || secret)`` is kept, with the time it was armed.
The friend later types the secret into an ordinary message.  A received message wipes the
account when (a) its sender is an armed friend, (b) it was sent after that arming, and (c) a
token in its text hashes to that friend's stored value.  Anything else -- another sender, a
wrong secret, a replay of an older message (envelope dedup first, then the arming time: a
message sent before the current arming never counts) -- does nothing.  A replayed revelation
burns the arming instead (the secret is known), and the user arms the friend again.  The secret is bound to
the friend: the same words from anyone else are just text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from session_core.errors import RemoteWipeSetupError

__all__ = ["Arming", "find_trigger", "make_secret", "secret_hash"]

_LABEL = b"session_core/remote-wipe/v1"
_TOKEN = re.compile(r"\bwipe-[a-z2-7]{26}\b")


def make_secret() -> str:
    """A 128-bit secret in a form a person can type: ``wipe-`` + 26 base32 letters."""
    return "wipe-" + base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def secret_hash(friend: str, secret: str) -> str:
    if not _TOKEN.fullmatch(secret):
        raise RemoteWipeSetupError("a remote-wipe secret is 'wipe-' followed by 26 letters a-z and digits 2-7")
    return hashlib.blake2b(friend.encode() + b"\0" + secret.encode(), key=_LABEL, digest_size=32).hexdigest()


@dataclass(frozen=True)
class Arming:
    friend: str
    hash: str
    armed_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"friend": self.friend, "hash": self.hash, "armed_ms": self.armed_ms}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Arming:
        return cls(str(d["friend"]), str(d["hash"]), int(d["armed_ms"]))


def find_trigger(armings: list[Arming], sender: str, text: str, sent_ms: int) -> str:
    """What this message from *sender* means for the armings: ``"wipe"`` (it reveals the
    secret of a current arming), ``"spent"`` (it reveals the secret but was sent before the
    arming: a replay; the secret is public now, so the arming must go) or ``""`` (nothing)."""
    mine = [a for a in armings if a.friend == sender]
    if not mine:
        return ""
    verdict = ""
    for token in _TOKEN.findall(text)[:8]:  # a message stuffed with tokens buys no more tries
        h = secret_hash(sender, token)
        for a in mine:
            if hmac.compare_digest(h, a.hash):
                verdict = "wipe" if sent_ms > a.armed_ms else verdict or "spent"
    return verdict
