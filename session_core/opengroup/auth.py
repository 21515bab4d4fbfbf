"""The server half of X-SOGS-* authentication (the format is :mod:`session_core.rooms.auth`).

Order matters for "bad input changes nothing": parse (400), timestamp window (425), signature
(401), global ban (403), and only then is anything written — the user row on first sight and
the nonce, whose reuse within the window is refused (425).  pysogs records the nonce before
checking the signature, so a forged request can burn a nonce there; not here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from session_core.errors import RoomAuthError
from session_core.opengroup import bans, users
from session_core.opengroup.http import Refused
from session_core.rooms.auth import parse_auth_headers

__all__ = ["Authenticator", "User"]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    session_id: str


class Authenticator:
    def __init__(self, db: sqlite3.Connection, server_pk: bytes, window: float) -> None:
        self.db = db
        self.server_pk = server_pk
        self.window = window

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
        if not auth.verify(self.server_pk, method, path, body):
            raise Refused(401, "invalid authentication: X-SOGS-Signature does not verify")
        uid = users.lookup(self.db, auth.blinded_id)
        if uid is not None and bans.globally_banned(self.db, uid, now):
            raise Refused(403, "banned from this server")
        if uid is None:
            uid = users.get_or_create(self.db, auth.blinded_id, now)
        try:
            self.db.execute("INSERT INTO nonces (user, nonce, expires) VALUES (?, ?, ?)",
                            (uid, auth.nonce, now + 2 * self.window))
        except sqlite3.IntegrityError:
            raise Refused(425, "invalid authentication: X-SOGS-Nonce was already used") from None
        return User(uid, auth.blinded_id)

    def purge(self, now: float) -> int:
        return self.db.execute("DELETE FROM nonces WHERE expires <= ?", (now,)).rowcount
