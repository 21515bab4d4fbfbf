"""The rooms a profile joined and how far it has read each one (``<profile>/rooms.json``).

A room is keyed by its full URL (server, token and key), so two servers' rooms with the same
token stay apart.  DMs (``/inbox``) are per server: how far they were read is kept per server
(its base URL and key).  Written whole to a temporary file and renamed, mode 0600.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from session_core.errors import ClientStateError, RoomInputError
from session_core.private_files import create_private
from session_core.rooms.url import RoomRef

__all__ = ["JoinedRooms"]


class JoinedRooms:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seqnos: dict[str, int] = {}
        self.inbox_ids: dict[str, int] = {}
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                self.seqnos = {str(RoomRef.parse(url)): int(n) for url, n in raw["rooms"].items()}
                self.inbox_ids = {str(k): int(n) for k, n in raw.get("inbox", {}).items()}
            except (ValueError, KeyError, TypeError, AttributeError, RoomInputError) as exc:
                raise ClientStateError(f"{path} is damaged ({exc}); remove it and join the rooms again") from None

    def refs(self) -> list[RoomRef]:
        return [RoomRef.parse(url) for url in self.seqnos]

    def find(self, given: str) -> RoomRef:
        """A joined room by its URL or, when unambiguous, its token."""
        if "://" in given:
            ref = RoomRef.parse(given)
            if str(ref) not in self.seqnos:
                raise RoomInputError(f"not joined: {given[:120]} (join it first)")
            return ref
        hits = [r for r in self.refs() if r.token == given]
        if len(hits) != 1:
            raise RoomInputError(f"{'no' if not hits else 'more than one'} joined room is called {given[:64]!r}; "
                                 "give its URL")
        return hits[0]

    def add(self, ref: RoomRef) -> bool:
        if str(ref) in self.seqnos:
            return False
        self.seqnos[str(ref)] = 0
        self.save()
        return True

    def seen(self, ref: RoomRef, seqno: int) -> None:
        self.seqnos[str(ref)] = max(self.seqnos.get(str(ref), 0), seqno)
        self.save()

    def servers(self) -> list[RoomRef]:
        """One joined room per server (any of them reaches the server's ``/inbox``)."""
        seen: dict[str, RoomRef] = {}
        for ref in self.refs():
            seen.setdefault(_server_key(ref), ref)
        return list(seen.values())

    def inbox_seen(self, ref: RoomRef) -> int:
        """The last DM id read on *ref*'s server."""
        return self.inbox_ids.get(_server_key(ref), 0)

    def inbox_read(self, ref: RoomRef, last_id: int) -> None:
        key = _server_key(ref)
        self.inbox_ids[key] = max(self.inbox_ids.get(key, 0), last_id)
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        create_private(tmp)
        tmp.write_text(json.dumps({"rooms": self.seqnos, "inbox": self.inbox_ids}, indent=1))
        os.replace(tmp, self.path)


def _server_key(ref: RoomRef) -> str:
    return f"{ref.base_url}?public_key={ref.public_key}"
