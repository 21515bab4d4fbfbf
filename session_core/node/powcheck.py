"""The node's one door to proof of work: verification and the message hash.

Everything PoW-related the node does goes through here, so the node always
uses the same implementation (C when built) as the rest of the package.
"""

from __future__ import annotations

from session_core import pow as _pow
from session_core.pow.api import verified_message_hash


def check(nonce: str, timestamp: str, ttl: str, pubkey: str, data: str, difficulty: int) -> str | None:
    """Return the message hash if the nonce meets *difficulty*, else None.

    The arguments are the exact strings of the ``store`` request (docs/interop.md §1.1),
    hashed as sent and once (the hash that decides validity is the one returned);
    ``timestamp`` and ``ttl`` must already be known to be decimal integers.
    A nonce that is not 8 bytes of padded base64 is simply an invalid proof
    (upstream behaviour: 432, not 400).
    """
    try:
        return verified_message_hash(nonce, timestamp, ttl, pubkey, data, difficulty)
    except ValueError:
        return None


def message_hash(nonce: str, timestamp: int, ttl: int, pubkey: str, data: str) -> str | None:
    """The PoW hash of a message, or None if the nonce is malformed."""
    try:
        return str(_pow.message_hash(nonce, timestamp, ttl, pubkey, data))
    except ValueError:
        return None
