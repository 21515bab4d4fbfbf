"""An in-memory copy of who may do what (moderators, bans, whitelist members), read on every
request and reloaded from SQLite whenever the server changes any of them.

The tables are small (people moderators acted on), while a poll needs three answers per room;
asking SQLite each time was most of a poll's cost.  :meth:`RoomServerApp._route
<session_core.opengroup.app.RoomServerApp>` calls :meth:`invalidate` after every request to a
moderation endpoint (whatever it answered), and after purges; timed bans are compared with the
clock on each check, so they end on time without a reload.
"""

from __future__ import annotations

import sqlite3

__all__ = ["Permissions"]

GLOBAL = 0


class Permissions:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._loaded = False
        self._mods: dict[tuple[int, int], bool] = {}
        self._bans: dict[int, dict[int, float | None]] = {}
        self._allowed: set[tuple[int, int]] = set()

    def invalidate(self) -> None:
        self._loaded = False

    def _load(self) -> None:
        self._mods = {(room, user): bool(admin) for room, user, admin in
                      self.db.execute("SELECT room, user, admin FROM moderators")}
        self._bans = {}
        for user, room, until in self.db.execute("SELECT user, room, until FROM bans"):
            self._bans.setdefault(user, {})[room] = until
        self._allowed = {(room, user) for room, user in self.db.execute("SELECT room, user FROM allowed")}
        self._loaded = True

    def mod_level(self, user: int | None, room: int) -> tuple[bool, bool]:
        """(moderator, admin) in *room*, counting global grants."""
        if user is None:
            return False, False
        if not self._loaded:
            self._load()
        here, everywhere = self._mods.get((room, user)), self._mods.get((GLOBAL, user))
        if here is None and everywhere is None:
            return False, False
        return True, bool(here) or bool(everywhere)

    def is_banned(self, user: int, room: int, now: float) -> bool:
        """Banned from *room* (or globally) at *now*."""
        if not self._loaded:
            self._load()
        for r, until in self._bans.get(user, {}).items():
            if r in (GLOBAL, room) and (until is None or until > now):
                return True
        return False

    def globally_banned(self, user: int, now: float) -> bool:
        return self.is_banned(user, GLOBAL, now)

    def allowed(self, room: int, user: int) -> bool:
        if not self._loaded:
            self._load()
        return (room, user) in self._allowed
