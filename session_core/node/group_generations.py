"""The newest generation of each closed group, as its swarm node sees it, so the node can refuse
messages from a member removed since (docs/groups.md).

Every membership change starts a generation whose key message (admin-signed, checked by
:func:`session_core.protocol.groups.wire.node_refusal` before it is stored) names its number.  A
member message names the generation whose store key certified it; one older than the newest key
message this node holds comes from someone who has not got the new key: a member kicked since,
or a member who has not read the rekey yet.  The node refuses it (401); a member still in the
group reads the new key and sends again (``client.groups``), a kicked one cannot.

The newest generation per group is kept in memory, filled on first use from the key messages the
node stores (so a restart loses nothing) and raised by every key message the node accepts, by
storage RPC or replication.  Only client stores are refused: a copy a swarm peer accepted
before it saw the rekey is still taken by replication (the swarm stays consistent; an
acknowledged store is never lost on some members only).  A node that has not seen a rekey yet
(offline, replication lag) accepts old-generation messages as before: it fails open, and
members refuse them anyway.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict

from session_core.node.message import Message
from session_core.node.store import MessageStore
from session_core.protocol.groups.wire import KIND_KEYS, generation_of

__all__ = ["GroupGenerations"]

#: Groups whose newest generation is kept in memory (least recently used dropped; re-read from
#: the store when asked again).
MAX_GROUPS = 100_000
_SCAN_PAGE = 500
_NONE = -1  # cached "no key message here" (generations are u32, never negative)


class GroupGenerations:
    def __init__(self, store: MessageStore) -> None:
        self._store = store
        self._newest: OrderedDict[str, int] = OrderedDict()

    def refusal(self, pubkey: str, data_b64: str, now_ms: int) -> str | None:
        """Why a member message for group ``pubkey`` must be refused (None: store it)."""
        if not pubkey.startswith("03"):
            return None
        generation = _generation(data_b64)
        if generation is None or _kind(data_b64) == KIND_KEYS:
            return None
        newest = self.newest(pubkey, now_ms)
        if newest is not None and generation < newest:
            return (f"group message of generation {generation} refused: the group is at generation {newest} "
                    "(read the new key and send again; a member removed since cannot post)")
        return None

    def noted(self, msg: Message) -> None:
        """``msg`` was accepted for storage: a key message raises its group's newest generation."""
        if msg.pubkey.startswith("03") and _kind(msg.data) == KIND_KEYS:
            generation = _generation(msg.data)
            if generation is not None and msg.pubkey in self._newest:
                self._raise(msg.pubkey, generation)
            # Not cached: the next newest() reads the store, which then holds this record.

    def newest(self, group: str, now_ms: int) -> int | None:
        """The newest generation of a key message this node holds for ``group`` (None: none)."""
        if group in self._newest:
            self._newest.move_to_end(group)
            known = self._newest[group]
            return None if known == _NONE else known
        newest = _NONE  # cached too: stores for a group without key messages must not rescan
        last = ""
        while True:
            page = self._store.retrieve(group, last, _SCAN_PAGE, now_ms)
            for m in page:
                if _kind(m.data) == KIND_KEYS:
                    g = _generation(m.data)
                    if g is not None and g > newest:
                        newest = g
            if len(page) < _SCAN_PAGE:
                break
            last = page[-1].hash
        self._raise(group, newest)
        return None if newest == _NONE else newest

    def _raise(self, group: str, generation: int) -> None:
        self._newest[group] = max(generation, self._newest.get(group, generation))
        self._newest.move_to_end(group)
        while len(self._newest) > MAX_GROUPS:
            self._newest.popitem(last=False)


def _kind(data_b64: str) -> int | None:
    try:
        head = base64.b64decode(data_b64[:4], validate=True)
    except (binascii.Error, ValueError):
        return None
    return head[0] if head else None


def _generation(data_b64: str) -> int | None:
    try:
        head = base64.b64decode(data_b64[:12], validate=True)  # 9 bytes: enough for kind + generation
    except (binascii.Error, ValueError):
        return None
    return generation_of(head)
