"""Service-node keys as the swarm functions take them.

A node is named by its 32-byte (legacy) service-node public key, either as the
raw ``bytes`` or as 64 lowercase hex chars (the form oxend's JSON prints).
oxend orders nodes by ``memcmp`` of the raw bytes; for lowercase hex the string
order is the same, which is why uppercase hex is refused rather than silently
sorted differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from session_core.errors import InvalidSwarmKeyError, SwarmMembershipError

NodeKey = TypeVar("NodeKey", str, bytes)
"""A node's 32-byte public key: raw bytes or 64 lowercase hex chars (one kind per call)."""

_LOWER_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_node_key(node: object, kind: type | None) -> type:
    """Validate one node key; *kind* is the type the other keys of the call have (or None)."""
    if isinstance(node, bytes):
        if len(node) != 32:
            raise InvalidSwarmKeyError(f"a raw node key must be 32 bytes, got {len(node)}")
    elif isinstance(node, str):
        if _LOWER_HEX64.fullmatch(node) is None:
            raise InvalidSwarmKeyError(
                f"a hex node key must be 64 lowercase hex chars, got {node[:70]!r}"
            )
    else:
        raise InvalidSwarmKeyError(f"a node key must be bytes or str, got {type(node).__name__}")
    if kind is not None and type(node) is not kind:
        raise InvalidSwarmKeyError("node keys must all be bytes or all be hex str, not a mix")
    return type(node)


def check_unique_nodes(nodes: Iterable[NodeKey], what: str, kind: type | None) -> tuple[list[NodeKey], type | None]:
    """Validate keys, refuse duplicates; returns the list and the key kind seen."""
    out: list[NodeKey] = []
    seen: set[NodeKey] = set()
    for node in nodes:
        kind = check_node_key(node, kind)
        if node in seen:
            raise SwarmMembershipError(f"node {_short(node)} appears twice in {what}")
        seen.add(node)
        out.append(node)
    return out, kind


def _short(node: str | bytes) -> str:
    text = node if isinstance(node, str) else node.hex()
    return text[:16] + "…"


short = _short
