"""One config domain on one device: local edits, pushes, and the merge of what others pushed.

Theory of operation.  The state is a map of last-writer-wins registers (see
:mod:`~session_core.protocol.config.message`).  Merging a received message takes, key by key,
the entry with the higher stamp ``(seqno, content hash)``.  That merge is commutative,
associative and idempotent, so devices that have received the same set of messages hold the
same state whatever the order they arrived in, and concurrent edits of *different* keys all
survive; of concurrent edits of the *same* key, every device keeps the same one.

Local edits wait in ``pending`` (already visible through :meth:`get`) until :meth:`push`, which
stamps them with ``seqno + 1`` -- one more than the highest seqno this device has seen, so an
edit made after seeing another one wins over it -- and returns a message with the whole state.

After merging, a device whose state is not exactly the state of the highest-ranked message it
knows (highest ``(seqno, message hash)``; two devices pushed concurrently, say) has
:attr:`needs_push` set: it pushes the merged state with a new seqno, as libsession-util's
conflict rule asks, so the newest message alone holds everything (a device linked later reads
that one).  Devices that merged the same messages push
byte-identical merges (deterministic encoding, signature and nonce): one message, not several.

Some keys are *max-registers* (``max_keys``; a conversation's read mark): there the entry with
the larger int value wins, the stamp deciding only between equal values (and among non-int
values, which any int beats).  That is still a total order on the entries of a key, so the merge
stays a join; it is applied when merging and when stamping a pending edit, so a local mark
below one already merged changes nothing.

Deletions are tombstones (a value of ``None`` with its stamp) and are kept, so a replayed old
message cannot bring a deleted value back.  A message already merged, or one older than our
seqno that brings nothing new, is refused with :class:`ConfigReplayError` (merging it would
change nothing anyway; the error says why it was ignored).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from session_core.errors import ConfigFormatError, ConfigReplayError
from session_core.identity import Identity
from session_core.protocol.config import bencode
from session_core.protocol.config.message import (
    ConfigMessage,
    Entry,
    Key,
    Scalar,
    check_key,
    check_value,
    decode_entries,
    edit_tag,
    encode_entries,
)

__all__ = ["ConfigState"]

_REMEMBERED = 4096  # message hashes kept to recognise duplicates (older ones fall to the seqno rule)


def _no_max_keys(key: Key) -> bool:
    return False


class ConfigState:
    def __init__(self, domain: bytes, max_keys: Callable[[Key], bool] = _no_max_keys) -> None:
        self.domain = domain
        self.max_keys = max_keys
        self.seqno = 0
        self.entries: dict[Key, Entry] = {}
        self.pending: dict[Key, Scalar | None] = {}
        self._merged: OrderedDict[bytes, None] = OrderedDict()  # hashes of messages merged or pushed
        # The highest-ranked message known, (seqno, hash, digest of its entries): the one a
        # device reading only the newest message would take.
        self._best: tuple[int, bytes, bytes] = (0, b"", _digest({}))

    # -- reading ------------------------------------------------------------------------------

    def get(self, key: Key) -> Scalar | None:
        entry = self.entries.get(key)
        if key in self.pending:
            value = self.pending[key]
            if entry is not None and self.max_keys(key) and self._rank(key, entry) > self._rank(key, Entry(0, b"", value)):
                return entry.value  # a larger value merged since the edit: the edit will lose
            return value
        return None if entry is None else entry.value

    def items(self, prefix: Key = ()) -> Iterator[tuple[Key, Scalar]]:
        """Live (key, value) pairs under ``prefix``, pending edits included, sorted by key."""
        keys = sorted(set(self.entries) | set(self.pending))
        for key in keys:
            if key[: len(prefix)] == prefix:
                value = self.get(key)
                if value is not None:
                    yield key, value

    def view(self) -> dict[Key, Scalar]:
        return dict(self.items())

    # -- local edits --------------------------------------------------------------------------

    def set(self, key: Key, value: Scalar | None) -> None:
        """Set (or with ``None`` delete) ``key``; published at the next :meth:`push`.  On a
        max-register only a larger int counts (a smaller one, a deletion, a string: no change)."""
        check_key(key)
        check_value(value)
        if self.max_keys(key) and _max_rank(value) <= _max_rank(self.get(key)):
            return  # a max-register never goes down (and holds ints only)
        if key not in self.pending and self.get(key) == value:
            return  # no change: nothing to push
        self.pending[key] = value

    def delete(self, key: Key) -> None:
        if self.get(check_key(key)) is not None:
            self.pending[key] = None

    @property
    def needs_push(self) -> bool:
        return bool(self.pending) or self._digest() != self._best[2]

    def push(self, identity: Identity) -> ConfigMessage:
        """Stamp the pending edits and sign the whole state as message ``seqno + 1``."""
        seqno = self.seqno + 1
        entries = dict(self.entries)
        for key, value in self.pending.items():
            entry = Entry(seqno, edit_tag(key, seqno, value), value)
            if key not in entries or self._rank(key, entry) > self._rank(key, entries[key]):
                entries[key] = entry
        message = ConfigMessage.sign(identity, self.domain, seqno, entries)
        # Commit only once signing worked.
        self.entries, self.pending, self.seqno = entries, {}, seqno
        self._remember(message.hash)
        self._note(message)
        return message

    # -- merging ------------------------------------------------------------------------------

    def merge(self, message: ConfigMessage) -> bool:
        """Merge a verified message; True if our state changed.

        :class:`ConfigReplayError` (state unchanged) for a message merged before, or older than
        our seqno with nothing newer than what we hold.
        """
        if message.hash in self._merged:
            raise ConfigReplayError(f"config message seqno {message.seqno} already merged")
        newer = {k: e for k, e in message.entries.items()
                 if k not in self.entries or self._rank(k, e) > self._rank(k, self.entries[k])}
        if not newer and message.seqno < self.seqno:
            raise ConfigReplayError(
                f"config message seqno {message.seqno} is older than ours ({self.seqno}) and brings nothing new")
        self.entries.update(newer)
        self.seqno = max(self.seqno, message.seqno)
        self._remember(message.hash)
        self._note(message)
        return bool(newer)

    def _rank(self, key: Key, entry: Entry) -> tuple[Any, ...]:
        """The order entries of ``key`` merge by: the higher rank wins."""
        if self.max_keys(key):
            return (1, entry.value, entry.stamp) if isinstance(entry.value, int) else (0, 0, entry.stamp)
        return (0, 0, entry.stamp)

    def _note(self, message: ConfigMessage) -> None:
        if (message.seqno, message.hash) > self._best[:2]:
            self._best = (message.seqno, message.hash, _digest(message.entries))

    def _remember(self, h: bytes) -> None:
        self._merged[h] = None
        while len(self._merged) > _REMEMBERED:
            self._merged.popitem(last=False)

    def _digest(self) -> bytes:
        return _digest(self.entries)

    # -- persistence (sealing is the caller's: this holds the account's settings) ---------------

    def to_bytes(self) -> bytes:
        pending: list[bencode.Value] = [
            [[p.encode() for p in k], [] if v is None else (v if isinstance(v, int) else v.encode())]
            for k, v in sorted(self.pending.items())
        ]
        return bencode.encode({b"#": self.seqno, b"&": encode_entries(self.entries), b"p": pending,
                               b"m": list(self._merged), b"b": list(self._best)})

    @classmethod
    def from_bytes(cls, domain: bytes, blob: bytes, max_keys: Callable[[Key], bool] = _no_max_keys) -> ConfigState:
        doc = bencode.decode(blob)
        if not isinstance(doc, dict) or set(doc) != {b"#", b"&", b"p", b"m", b"b"}:
            raise ConfigFormatError("saved config state is malformed")
        seqno, pending, merged, best = doc[b"#"], doc[b"p"], doc[b"m"], doc[b"b"]
        if not (isinstance(seqno, int) and isinstance(pending, list) and isinstance(merged, list)
                and isinstance(best, list) and len(best) == 3 and isinstance(best[0], int)
                and isinstance(best[1], bytes) and isinstance(best[2], bytes)):
            raise ConfigFormatError("saved config state is malformed")
        state = cls(domain, max_keys)
        state.seqno = seqno
        state.entries = decode_entries(doc[b"&"], max(seqno, 1))
        for item in pending:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)):
                raise ConfigFormatError("saved pending config edit is malformed")
            key = check_key(tuple(p.decode() for p in item[0] if isinstance(p, bytes)))
            raw = item[1]
            if isinstance(raw, dict):
                raise ConfigFormatError("saved pending config edit is malformed")
            state.pending[key] = None if isinstance(raw, list) else raw if isinstance(raw, int) else raw.decode()
        for h in merged:
            if isinstance(h, bytes):
                state._remember(h)
        state._best = (best[0], best[1], best[2])
        return state


def _max_rank(value: Scalar | None) -> tuple[int, int]:
    return (1, value) if isinstance(value, int) else (0, 0)


def _digest(entries: dict[Key, Entry]) -> bytes:
    return hashlib.blake2b(bencode.encode(encode_entries(entries)), digest_size=32).digest()

