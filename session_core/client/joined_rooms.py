"""The rooms a profile joined and how far it has read each one (``<profile>/rooms.json``).

A room is keyed by its full URL (server, token and key), so two servers' rooms with the same
token stay apart.  Written whole to a temporary file and renamed, mode 0600.
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
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                self.seqnos = {str(RoomRef.parse(url)): int(n) for url, n in raw["rooms"].items()}
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

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        create_private(tmp)
        tmp.write_text(json.dumps({"rooms": self.seqnos}, indent=1))
        os.replace(tmp, self.path)
