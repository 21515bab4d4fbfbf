"""The room server's core, sans-IO: ``handle(method, path, headers, body) -> Response``.

Direct HTTP and onion requests (:mod:`session_core.opengroup.server`) both end here, so they
behave the same.  A request is authenticated once (:mod:`~session_core.opengroup.auth`); a
``/batch`` or ``/sequence`` runs its subrequests as the same user (their own X-SOGS-* headers
are ignored, as upstream), at most ``max_batch`` of them, never nested.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from session_core.errors import RoomInputError
from session_core.opengroup import bans, db as schema, handlers as h, inbox, moderation as m, pin_endpoints as pin, \
    rooms, users
from session_core.opengroup.auth import Authenticator, User
from session_core.opengroup.config import OpenGroupConfig
from session_core.opengroup.context import Ctx, json_body
from session_core.opengroup.http import Refused, Response, text_response
from session_core.opengroup.permissions import Permissions
from session_core.opengroup.ratelimit import PostRateLimit

__all__ = ["RoomServerApp"]

_T = r"(?P<token>[A-Za-z0-9_-]{1,64})"
_ID = r"(?P<msg_id>\d{1,18})"
_SID = r"(?P<sid>(?:05|15)[0-9a-fA-F]{64})"
_REACTION = r"(?P<reaction>[^/?]{1,200})"  # percent-encoded or raw UTF-8; checked by reactions.check
Handler = Callable[[Ctx], Response]
_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/capabilities", h.capabilities),
    ("GET", "/rooms", h.room_list),
    ("GET", f"/room/{_T}", h.room_info),
    ("GET", rf"/room/{_T}/messages/since/(?P<seqno>\d{{1,18}})", h.messages_since),
    ("GET", f"/room/{_T}/messages/recent", h.messages_recent),
    ("GET", rf"/room/{_T}/messages/before/(?P<before>[^/]+)", h.messages_before),
    ("GET", rf"/room/{_T}/pollInfo/(?P<info_updates>[^/]+)", h.poll_info),
    ("GET", f"/room/{_T}/message/{_ID}", h.message_single),
    ("POST", f"/room/{_T}/message", h.post_message),
    ("PUT", f"/room/{_T}/message/{_ID}", h.edit_message),
    ("DELETE", f"/room/{_T}/message/{_ID}", h.delete_message),
    ("PUT", f"/room/{_T}/reaction/{_ID}/{_REACTION}", h.react),
    ("DELETE", f"/room/{_T}/reaction/{_ID}/{_REACTION}", h.unreact),
    ("DELETE", f"/room/{_T}/all/{_SID}", h.delete_all),
    ("POST", f"/room/{_T}/pin/{_ID}", pin.pin),
    ("POST", f"/room/{_T}/unpin/{_ID}", pin.unpin),
    ("POST", f"/room/{_T}/unpin/all", pin.unpin_all),
    ("POST", f"/room/{_T}/file", h.upload_file),
    ("GET", rf"/room/{_T}/file/(?P<file_id>\d{{1,18}})", h.download_file),
    ("POST", f"/user/{_SID}/ban", m.ban),
    ("POST", f"/user/{_SID}/unban", m.unban),
    ("POST", f"/user/{_SID}/moderator", m.set_moderator),
    ("POST", f"/user/{_SID}/allow", m.set_allowed),
    ("GET", "/bans", m.list_bans),
    ("POST", r"/inbox/(?P<sid>15[0-9a-fA-F]{64})", h.dm_send),
    ("GET", "/inbox", h.inbox_get),
    ("GET", f"/inbox/since/{_ID}", h.inbox_get),
    ("GET", "/outbox", h.outbox_get),
    ("GET", f"/outbox/since/{_ID}", h.outbox_get),
]
_COMPILED = [(meth, re.compile(pattern), fn) for meth, pattern, fn in _ROUTES]
_TOUCH_EVERY = 60.0
_SINCE_CACHE_MAX = 20_000


class RoomServerApp:
    def __init__(self, cfg: OpenGroupConfig, server_pk: bytes, *, db: sqlite3.Connection | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.server_pk = server_pk
        self.db = db if db is not None else schema.connect(Path(cfg.data_dir) / "opengroup.db")
        self.clock = clock
        self.perms = Permissions(self.db)
        self.auth = Authenticator(self.db, self.perms, server_pk, cfg.auth_window)
        self.rate_limit = PostRateLimit(cfg.post_rate_count, cfg.post_rate_interval)
        self.reaction_rate_limit = PostRateLimit(cfg.reaction_rate_count, cfg.reaction_rate_interval)
        self._touched: dict[tuple[int, int], float] = {}
        self._activity: dict[tuple[int, int], float] = {}  # not yet written to room_users
        self._rooms: dict[str, rooms.Room] = {}
        #: Answers of ``messages/since`` by room and (seqno, limit, options): most pollers are at
        #: the head of a room and ask the same question; a room's entries go when anything in it
        #: changes.  Answers that hold reactions are not kept (their "you" differs per user).
        self.since_cache: dict[int, dict[tuple[int, ...], Response]] = {}
        self._since_entries = 0
        now = clock()
        for spec in cfg.rooms:
            rooms.create(self.db, spec.token, spec.name, now, description=spec.description, whitelist=spec.whitelist)
        for given in cfg.admins:
            for sid in users.resolve_ids(given, server_pk):
                users.set_moderator(self.db, users.get_or_create(self.db, sid, now), users.GLOBAL, admin=True,
                                    visible=False)

    # -- entry point ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, Any], body: bytes | None) -> Response:
        now = self.clock()
        try:
            user = self.auth.authenticate(method, path, headers, body, now)
            return self._route(method, path, body, user, now, 0)
        except Refused as exc:
            return text_response(exc.status, str(exc))

    def _route(self, method: str, path: str, body: bytes | None, user: User | None, now: float, depth: int) -> Response:
        parts = urllib.parse.urlsplit(path)
        route = parts.path
        if route in ("/batch", "/sequence"):
            if method != "POST":
                return text_response(405, f"{route} takes POST")
            if depth:
                return text_response(400, "batches cannot be nested")
            return self._batch(body, user, now, sequential=route == "/sequence")
        if route != "/capabilities" and user is None:
            return text_response(401, "this server needs X-SOGS-* request authentication (blinded, signed)")
        wrong_method = False
        for meth, pattern, fn in _COMPILED:
            match = pattern.fullmatch(route)
            if match is None:
                continue
            if meth != method:
                wrong_method = True
                continue
            ctx = Ctx(self, method, route, urllib.parse.parse_qs(parts.query), match.groupdict(), body, user, now, depth)
            try:
                return fn(ctx)
            except Refused as exc:
                return text_response(exc.status, str(exc))
            except RoomInputError as exc:
                return text_response(400, str(exc))
            finally:
                if route.startswith("/user/"):  # moderation: bans, moderators, members changed
                    self.perms.invalidate()
        return text_response(405 if wrong_method else 404, f"no endpoint {method} {route[:100]}")

    # -- batches --------------------------------------------------------------------------------

    def _batch(self, body: bytes | None, user: User | None, now: float, *, sequential: bool) -> Response:
        if user is None:
            return text_response(401, "this server needs X-SOGS-* request authentication (blinded, signed)")
        ctx = Ctx(self, "POST", "/batch", {}, {}, body, user, now)
        try:
            subs = [_subrequest(r) for r in _batch_list(json_body(ctx), self.cfg.max_batch)]
        except Refused as exc:
            return text_response(exc.status, str(exc))
        # The answers' JSON bodies are spliced in as they are (no decoding and encoding again).
        out = []
        for method, path, sub_body in subs:
            res = self._route(method, path, sub_body, user, now, 1)
            if res.content_type == "application/json":
                answer = res.body
            else:
                text = base64.b64encode(res.body).decode() if res.code < 400 else res.body.decode("utf-8", "replace")
                answer = json.dumps(text).encode()
            out.append(b'{"code":%d,"headers":{"content-type":%s},"body":%s}'
                       % (res.code, json.dumps(res.content_type).encode(), answer))
            if sequential and not 200 <= res.code < 300:
                break
        return Response(200, b"[" + b",".join(out) + b"]", "application/json")

    # -- upkeep ---------------------------------------------------------------------------------

    def room(self, token: str) -> rooms.Room:
        """A room by token, cached (rooms change only at start and through :meth:`reload_rooms`)."""
        room = self._rooms.get(token)
        if room is None:
            room = self._rooms[token] = rooms.get(self.db, token)
        return room

    def reload_rooms(self) -> None:
        self._rooms.clear()

    def cached_since(self, room: int, key: tuple[int, ...]) -> Response | None:
        """A kept answer of ``messages/since`` in *room*; *key* is (seqno, limit, and the options)."""
        return self.since_cache.get(room, {}).get(key)

    def remember_since(self, room: int, key: tuple[int, ...], answer: Response) -> None:
        if not self.cfg.answer_cache:
            return
        if self._since_entries >= _SINCE_CACHE_MAX:
            self.since_cache.clear()
            self._since_entries = 0
        self.since_cache.setdefault(room, {})[key] = answer
        self._since_entries += 1

    def room_changed(self, room: int) -> None:
        self._since_entries -= len(self.since_cache.pop(room, {}))

    def touch(self, room: int, user: int, now: float) -> None:
        """Note that *user* takes part in *room* (active users, who may DM whom): at most once a
        minute per pair, written in batches (:meth:`flush_activity`), so polling does not write."""
        key = (room, user)
        if now - self._touched.get(key, 0.0) < _TOUCH_EVERY:
            return
        self._touched[key] = self._activity[key] = now
        if len(self._activity) >= 1000:
            self.flush_activity()

    def flush(self) -> None:
        """Write what waits in memory (nonces, room activity); the server calls this every second."""
        self.auth.flush()
        self.flush_activity()

    def flush_activity(self) -> None:
        if not self._activity:
            return
        rows = [(room, user, t) for (room, user), t in self._activity.items()]
        self._activity.clear()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT INTO room_users (room, user, last_active) VALUES (?, ?, ?) ON CONFLICT "
                                "(room, user) DO UPDATE SET last_active = excluded.last_active", rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def purge(self) -> dict[str, int]:
        now = self.clock()
        self.flush_activity()
        self.perms.invalidate()
        self.rate_limit.forget_idle(now)
        self.reaction_rate_limit.forget_idle(now)
        self._touched = {k: t for k, t in self._touched.items() if now - t < _TOUCH_EVERY}
        return {"nonces": self.auth.purge(now), "bans": bans.purge(self.db, now), "dms": inbox.purge(self.db, now),
                "files": self.db.execute("DELETE FROM files WHERE expires <= ?", (now,)).rowcount}

    def close(self) -> None:
        self.flush()
        self.db.close()


def _batch_list(obj: Any, limit: int) -> list[Any]:
    if not isinstance(obj, list) or not obj:
        raise Refused(400, "a batch is a non-empty JSON list of requests")
    if len(obj) > limit:
        raise Refused(400, f"a batch holds at most {limit} requests")
    return obj


def _subrequest(req: Any) -> tuple[str, str, bytes | None]:
    if not isinstance(req, dict):
        raise Refused(400, "each batch request is a JSON object")
    method, path = req.get("method"), req.get("path")
    if method not in ("GET", "POST", "PUT", "DELETE"):
        raise Refused(400, "a batch request's method is GET, POST, PUT or DELETE")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 1024:
        raise Refused(400, "a batch request's path is a string starting with /")
    bodies = [k for k in ("json", "b64", "bytes") if k in req]
    if method in ("GET", "DELETE"):
        if bodies:
            raise Refused(400, f"a batched {method} has no body")
        return method, path, None
    if len(bodies) != 1:
        raise Refused(400, f"a batched {method} has exactly one of json, b64 or bytes")
    kind = bodies[0]
    if kind == "json":
        return method, path, json.dumps(req["json"]).encode()
    value = req[kind]
    if not isinstance(value, str):
        raise Refused(400, f"a batch request's {kind} is a string")
    if kind == "bytes":
        return method, path, value.encode()
    try:
        return method, path, base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, "a batch request's b64 is not valid base64") from None
