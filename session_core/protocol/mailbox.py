"""Listening-node mailbox names (synchronous routing, whitepaper §4.6.2), shared by the
client that draws a mailbox read key and the node that keeps the mailbox."""

from __future__ import annotations

import hashlib

__all__ = ["mailbox_id"]


def mailbox_id(key: bytes) -> str:
    """The public name of a mailbox whose read key is ``key``."""
    return hashlib.sha256(b"session_core listening mailbox\0" + key).hexdigest()
