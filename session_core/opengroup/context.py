"""What a handler gets (:class:`Ctx`) and the small input checks every handler shares."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol

from session_core.opengroup import rooms
from session_core.opengroup.auth import User
from session_core.opengroup.config import OpenGroupConfig
from session_core.opengroup.http import Refused, Response
from session_core.opengroup.permissions import Permissions
from session_core.opengroup.ratelimit import PostRateLimit

__all__ = ["Ctx", "ServerState", "b64_field", "int_param", "json_body", "path_int"]


class ServerState(Protocol):
    """What handlers use of the server (:class:`~session_core.opengroup.app.RoomServerApp`)."""

    db: sqlite3.Connection
    cfg: OpenGroupConfig
    server_pk: bytes
    perms: Permissions
    rate_limit: PostRateLimit
    reaction_rate_limit: PostRateLimit

    def room(self, token: str) -> rooms.Room: ...
    def touch(self, room: int, user: int, now: float) -> None: ...
    def flush_activity(self) -> None: ...
    def cached_since(self, room: int, key: tuple[int, ...]) -> Response | None: ...
    def remember_since(self, room: int, key: tuple[int, ...], answer: Response) -> None: ...
    def room_changed(self, room: int) -> None: ...


@dataclass
class Ctx:
    app: ServerState
    method: str
    path: str
    query: dict[str, list[str]]
    params: dict[str, str]
    body: bytes | None
    user: User | None
    now: float
    depth: int = 0

    @property
    def db(self) -> sqlite3.Connection:
        return self.app.db

    def need_user(self) -> User:
        if self.user is None:
            raise Refused(401, "this endpoint needs X-SOGS-* request authentication")
        return self.user

    def room(self) -> rooms.Room:
        """The room named in the path (from the app's cache: its message_sequence may be stale)."""
        return self.app.room(self.params["token"])

    def access(self, room: rooms.Room) -> rooms.Access:
        return rooms.access(self.app.perms, room, self.user.id if self.user else None, self.now)

    def readable_room(self) -> tuple[rooms.Room, rooms.Access]:
        room = self.room()
        acc = self.access(room)
        if not acc.read:
            raise Refused(403, _why_not(acc, room, "read"))
        if self.user is not None:
            self.app.touch(room.id, self.user.id, self.now)
        return room, acc


def _why_not(acc: rooms.Access, room: rooms.Room, what: str) -> str:
    if acc.banned:
        return f"banned from room {room.token}"
    if room.whitelist:
        return f"room {room.token} is invite-only (whitelist): you may not {what} it"
    return f"you may not {what} room {room.token}"


def require(acc: rooms.Access, room: rooms.Room, what: str) -> None:
    if not getattr(acc, what):
        raise Refused(403, _why_not(acc, room, what))


def json_body(ctx: Ctx) -> Any:
    if not ctx.body:
        raise Refused(400, "this endpoint takes a JSON body")
    try:
        return json.loads(ctx.body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "the body is not valid JSON") from None


def json_object(ctx: Ctx) -> dict[str, Any]:
    obj = json_body(ctx)
    if not isinstance(obj, dict):
        raise Refused(400, "the body must be a JSON object")
    return obj


def b64_field(obj: dict[str, Any], key: str, *, size: int | None = None, limit: int | None = None) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str):
        raise Refused(400, f"{key!r} must be a base64 string")
    if limit is not None and len(value) > (limit + 2) // 3 * 4 + 4:
        raise Refused(413, f"{key!r} is larger than the limit of {limit} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, f"{key!r} is not valid base64") from None
    if size is not None and len(raw) != size:
        raise Refused(400, f"{key!r} must be {size} bytes")
    if limit is not None and len(raw) > limit:
        raise Refused(413, f"{key!r} is larger than the limit of {limit} bytes")
    return raw


def int_param(ctx: Ctx, name: str, default: int, lo: int, hi: int) -> int:
    values = ctx.query.get(name)
    if not values:
        return default
    text = values[-1]
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise Refused(400, f"query parameter {name} must be a whole number")
    return max(lo, min(hi, int(text)))


def path_int(ctx: Ctx, name: str, what: str) -> int:
    """A whole number from the path.  Its route takes any segment there, so that a malformed
    one gets this 400 naming the problem rather than a bare "no endpoint" 404."""
    text = ctx.params[name]
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise Refused(400, f"{what} in the path must be a whole number of at most 18 digits, not {text[:40]!r}")
    return int(text)
