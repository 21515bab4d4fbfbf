"""The server half of X-SOGS-* authentication (the format is :mod:`session_core.rooms.auth`).

Order matters for "bad input changes nothing": parse (400), timestamp window (425), signature
(401), global ban (403), and only then is anything written — the user row on first sight and
the nonce, whose reuse within the window is refused (425).  pysogs records the nonce before
checking the signature, so a forged request can burn a nonce there; not here.

Nonces are kept ``2 × window`` (a request older than the window is refused anyway).  A commit
per request cost as much as the rest of a poll, so new nonces wait in memory (checked there
too) and are written in batches: at 256 pending, and by the server every second
(:meth:`Authenticator.flush`).  The price: if the process dies, a replay of a request from
its last second would be accepted once after the restart.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from session_core.errors import RoomAuthError
from session_core.opengroup import users
from session_core.opengroup.http import Refused
from session_core.opengroup.permissions import Permissions
from session_core.rooms.auth import parse_auth_headers

__all__ = ["Authenticator", "User"]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    session_id: str


class Authenticator:
    def __init__(self, db: sqlite3.Connection, perms: Permissions, server_pk: bytes, window: float) -> None:
        self.db = db
        self.perms = perms
        self.server_pk = server_pk
        self.window = window
        self._pending: dict[tuple[int, bytes], float] = {}

    def authenticate(self, method: str, path: str, headers: Mapping[str, Any], body: bytes | None,
                     now: float) -> User | None:
        """The user a request comes from (``None`` if it is unsigned); raises :class:`Refused`."""
        try:
            auth = parse_auth_headers(headers)
        except RoomAuthError as exc:
            raise Refused(400, f"invalid authentication: {exc}") from None
        if auth is None:
            return None
        if abs(auth.timestamp - now) > self.window:
            raise Refused(425, "invalid authentication: X-SOGS-Timestamp is too far from the server's time "
                               f"(server: {int(now)}); check your clock")
        if not auth.verify(self.server_pk, method, signed_path(path), body):
            raise Refused(401, "invalid authentication: X-SOGS-Signature does not verify")
        uid = users.lookup(self.db, auth.blinded_id)
        if uid is not None and self.perms.globally_banned(uid, now):
            raise Refused(403, "banned from this server")
        if uid is None:
            uid = users.get_or_create(self.db, auth.blinded_id, now)
        key = (uid, auth.nonce)
        if key in self._pending or self.db.execute("SELECT 1 FROM nonces WHERE user = ? AND nonce = ?", key).fetchone():
            raise Refused(425, "invalid authentication: X-SOGS-Nonce was already used")
        self._pending[key] = now + 2 * self.window
        if len(self._pending) >= 256:
            self.flush()
        return User(uid, auth.blinded_id)

    def flush(self) -> None:
        """Write the nonces seen since the last flush (one transaction)."""
        if not self._pending:
            return
        rows = [(user, nonce, exp) for (user, nonce), exp in self._pending.items()]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO nonces (user, nonce, expires) VALUES (?, ?, ?)", rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def purge(self, now: float) -> int:
        self.flush()
        return self.db.execute("DELETE FROM nonces WHERE expires <= ?", (now,)).rowcount


def signed_path(path: str) -> str:
    """The path as X-SOGS-Signature covers it (pysogs): percent-escapes of the path decoded (URL
    encodings are not unique and may change in transit), the query string as sent."""
    route, sep, query = path.partition("?")
    if "%" in route:
        try:
            route = urllib.parse.unquote(route, errors="strict")
        except UnicodeDecodeError:
            raise Refused(400, "the path's percent-escapes are not UTF-8") from None
    return route + sep + query
