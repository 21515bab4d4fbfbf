"""Room, message, file and DM endpoints (pysogs' shapes; see docs/opengroup.md)."""

from __future__ import annotations

from typing import Any

from session_core.opengroup import inbox, posts, reactions, room_info as info, rooms, users, whispers
from session_core.opengroup.context import Ctx, b64_field, int_param, json_object, path_int, require
from session_core.opengroup.http import Refused, Response, json_response

__all__ = ["CAPABILITIES"]

CAPABILITIES = ["blind", "sogs"]


def capabilities(ctx: Ctx) -> Response:
    res: dict[str, Any] = {"capabilities": CAPABILITIES}
    needed = ctx.query.get("required")
    if needed:
        missing = [c for c in needed[-1].split(",") if c not in CAPABILITIES]
        if missing:
            res["missing"] = missing
            return json_response(res, 412)
    return json_response(res)


def room_list(ctx: Ctx) -> Response:
    out = []
    for room in rooms.all_rooms(ctx.db):
        acc = ctx.access(room)
        if acc.read:
            out.append(info.details(ctx, room, acc))
    return json_response(out)


def room_info(ctx: Ctx) -> Response:
    room, acc = ctx.readable_room()
    return json_response(info.details(ctx, rooms.get(ctx.db, room.token), acc))


def poll_info(ctx: Ctx) -> Response:
    """``GET /room/T/pollInfo/N``: needs read access, as pysogs (a banned user gets 403)."""
    seen = path_int(ctx, "info_updates", "the info_updates a client saw")
    room, acc = ctx.readable_room()
    # the app's cached room may predate pins and moderator changes: its counter must be current
    return json_response(info.poll_info(ctx, rooms.get(ctx.db, room.token), acc, seen))


def _reactors(ctx: Ctx) -> int:
    return int_param(ctx, "reactors", 4, 0, 20)


def _viewer(ctx: Ctx, acc: rooms.Access) -> posts.Viewer:
    return (ctx.user.id if ctx.user else None, acc.moderator)


def messages_since(ctx: Ctx) -> Response:
    limit = int_param(ctx, "limit", 100, 1, 256)
    reactors = _reactors(ctx)
    with_updates = "r" in (ctx.query.get("t") or [""])[-1]  # pysogs' flag: reaction-only updates too
    room, acc = ctx.readable_room()
    seqno = int(ctx.params["seqno"])
    key = (seqno, limit, reactors, int(with_updates))
    cached = ctx.app.cached_since(room.id, key)
    if cached is None:
        msgs = posts.with_reactions(ctx.db, posts.since(ctx.db, room.id, seqno, limit, _viewer(ctx, acc),
                                                        reaction_updates=with_updates),
                                    ctx.user.id if ctx.user else None, reactors)
        cached = json_response(msgs)
        # shared with every poller only when it is the same for everyone: no "you" in reactions,
        # no whisper among the changes (who sees those depends on who asks)
        upto = msgs[-1]["seqno"] if len(msgs) == limit else None
        if not any(m.get("reactions") for m in msgs) and not posts.whispers_after(ctx.db, room.id, seqno, upto):
            ctx.app.remember_since(room.id, key, cached)
    return cached


def messages_recent(ctx: Ctx) -> Response:
    limit = int_param(ctx, "limit", 100, 1, 256)
    reactors = _reactors(ctx)
    room, acc = ctx.readable_room()
    return json_response(posts.with_reactions(ctx.db, posts.recent(ctx.db, room.id, limit, _viewer(ctx, acc)),
                                              ctx.user.id if ctx.user else None, reactors))


def messages_before(ctx: Ctx) -> Response:
    """``GET /room/T/messages/before/ID``: older history, newest first (pysogs' limits)."""
    before = path_int(ctx, "before", "a message id")
    limit = int_param(ctx, "limit", 100, 1, 256)
    reactors = _reactors(ctx)
    room, acc = ctx.readable_room()
    return json_response(posts.with_reactions(ctx.db, posts.before(ctx.db, room.id, before, limit, _viewer(ctx, acc)),
                                              ctx.user.id if ctx.user else None, reactors))


def message_single(ctx: Ctx) -> Response:
    reactors = _reactors(ctx)
    room, acc = ctx.readable_room()
    msg = posts.single(ctx.db, room.id, int(ctx.params["msg_id"]), _viewer(ctx, acc))
    return json_response(posts.with_reactions(ctx.db, [msg], ctx.user.id if ctx.user else None, reactors)[0])


def _writable(ctx: Ctx, what: str = "write") -> tuple[rooms.Room, rooms.Access]:
    ctx.need_user()
    room = ctx.room()
    acc = ctx.access(room)
    require(acc, room, what)
    return room, acc


def _signed_post(ctx: Ctx, req: dict[str, Any]) -> tuple[bytes, bytes, list[int]]:
    """``data``, ``signature`` and ``files`` of a post or edit (the signature is checked by :mod:`posts`)."""
    data, sig = b64_field(req, "data", limit=ctx.app.cfg.max_post_bytes), b64_field(req, "signature", size=64)
    files = req.get("files", [])
    most = ctx.app.cfg.max_post_files
    if not isinstance(files, list) or len(files) > most or not all(
            isinstance(f, int) and not isinstance(f, bool) and 0 < f < 2**63 for f in files):
        raise Refused(400, f"'files' is a list of at most {most} file ids (positive whole numbers)")
    return data, sig, files


def post_message(ctx: Ctx) -> Response:
    user = ctx.need_user()
    room, acc = _writable(ctx)
    req = json_object(ctx)
    data, sig, files = _signed_post(ctx, req)
    whisper = whispers.parse(req)
    if whisper.is_whisper and not acc.moderator:
        raise Refused(403, f"only moderators of {room.token} may whisper (whisper_to, whisper_mods)")
    target = whispers.resolve(ctx.db, whisper, ctx.app.server_pk)
    limiter = ctx.app.rate_limit
    if not acc.moderator and not limiter.check(room.id, user.id, ctx.now):
        raise Refused(429, f"posting too fast: at most {limiter.count} posts in {limiter.interval:g} s per room")
    msg = posts.add(ctx.db, room.id, user.id, user.session_id, data, sig, ctx.now, files, ctx.app.cfg.file_ttl,
                    whisper_to=None if target is None else (target, _session_id_of(ctx, target)),
                    whisper_mods=whisper.mods)
    ctx.app.room_changed(room.id)
    limiter.record(room.id, user.id, ctx.now)
    ctx.app.touch(room.id, user.id, ctx.now)
    return json_response(msg, 201)


def _session_id_of(ctx: Ctx, user: int) -> str:
    return str(ctx.db.execute("SELECT session_id FROM users WHERE id = ?", (user,)).fetchone()[0])


def edit_message(ctx: Ctx) -> Response:
    user = ctx.need_user()
    room, acc = _writable(ctx)
    req = json_object(ctx)
    data, sig, files = _signed_post(ctx, req)
    restated = None
    if "whisper_to" in req or "whisper_mods" in req:  # pysogs ignores them; we refuse a change
        w = whispers.parse(req)
        restated = (whispers.resolve(ctx.db, w, ctx.app.server_pk), w.mods)
    posts.edit(ctx.db, room.id, user.id, user.session_id, int(ctx.params["msg_id"]), data, sig, ctx.now,
               files, ctx.app.cfg.file_ttl, moderator=acc.moderator, whisper=restated)
    ctx.app.room_changed(room.id)
    return json_response({})


def delete_message(ctx: Ctx) -> Response:
    user = ctx.need_user()
    room = ctx.room()
    acc = ctx.access(room)
    if not acc.moderator:
        require(acc, room, "write")
    posts.delete(ctx.db, room.id, int(ctx.params["msg_id"]), user.id, moderator=acc.moderator,
                 keep_files=ctx.app.cfg.file_ttl)
    ctx.app.room_changed(room.id)
    return json_response({})


def delete_all(ctx: Ctx) -> Response:
    """A moderator deletes every message a user posted in the room."""
    ctx.need_user()
    room = ctx.room()
    if not ctx.access(room).moderator:
        raise Refused(403, f"only moderators of {room.token} may delete a user's messages")
    deleted = 0
    for sid in users.resolve_ids(ctx.params["sid"], ctx.app.server_pk):
        uid = users.lookup(ctx.db, sid)
        if uid is not None:
            deleted += posts.delete_all_of(ctx.db, room.id, uid, ctx.app.cfg.file_ttl)
    ctx.app.room_changed(room.id)
    return json_response({"deleted": deleted})


def upload_file(ctx: Ctx) -> Response:
    user = ctx.need_user()
    room, _ = _writable(ctx, "upload")
    data = ctx.body or b""
    if not data:
        raise Refused(400, "an upload must not be empty")
    if len(data) > ctx.app.cfg.max_file_bytes:
        raise Refused(413, f"file too large (limit {ctx.app.cfg.max_file_bytes} bytes)")
    cur = ctx.db.execute("INSERT INTO files (room, uploader, uploaded, expires, data) VALUES (?, ?, ?, ?, ?)",
                         (room.id, user.id, ctx.now, ctx.now + min(ctx.app.cfg.unattached_file_ttl,
                                                                   ctx.app.cfg.file_ttl), data))
    return json_response({"id": cur.lastrowid}, 201)


def download_file(ctx: Ctx) -> Response:
    room, acc = ctx.readable_room()
    # a whisper's files are as private as the whisper (file ids are sequential, so guessable)
    clause, who = whispers.visible_clause(*_viewer(ctx, acc))
    row = ctx.db.execute("SELECT f.data FROM files f LEFT JOIN messages m ON m.id = f.message "
                         f"WHERE f.id = ? AND f.room = ? AND f.expires > ? AND (f.message IS NULL OR {clause})",
                         (int(ctx.params["file_id"]), room.id, ctx.now, *who)).fetchone()
    if row is None:
        raise Refused(404, "no such file")
    return Response(200, bytes(row[0]), "application/octet-stream")


def _reaction_request(ctx: Ctx) -> tuple[rooms.Room, int, str]:
    """Checks shared by adding and removing a reaction: who, where, what; and the rate limit."""
    user = ctx.need_user()
    reaction = reactions.check(ctx.params["reaction"])
    room = ctx.room()
    acc = ctx.access(room)
    require(acc, room, "read")  # (not readable_room: a refused reaction must not count as activity)
    limiter = ctx.app.reaction_rate_limit
    if not acc.moderator and not limiter.check(room.id, user.id, ctx.now):
        raise Refused(429, f"reacting too fast: at most {limiter.count} reactions in {limiter.interval:g} s per room")
    return room, user.id, reaction


def _reacted(ctx: Ctx, room: rooms.Room, user: int, changed: bool) -> None:
    ctx.app.touch(room.id, user, ctx.now)
    if changed:
        ctx.app.room_changed(room.id)
        ctx.app.reaction_rate_limit.record(room.id, user, ctx.now)


def react(ctx: Ctx) -> Response:
    room, user, reaction = _reaction_request(ctx)
    added, seqno = reactions.add(ctx.db, room.id, int(ctx.params["msg_id"]), user, reaction, ctx.now)
    _reacted(ctx, room, user, added)
    return json_response({"added": added, "seqno": seqno})


def unreact(ctx: Ctx) -> Response:
    room, user, reaction = _reaction_request(ctx)
    removed, seqno = reactions.remove(ctx.db, room.id, int(ctx.params["msg_id"]), user, reaction)
    _reacted(ctx, room, user, removed)
    return json_response({"removed": removed, "seqno": seqno})


def dm_send(ctx: Ctx) -> Response:
    user = ctx.need_user()
    req = json_object(ctx)
    body = b64_field(req, "message", limit=ctx.app.cfg.max_dm_bytes)
    if not body:
        raise Refused(400, "a message must not be empty")
    ctx.app.flush_activity()
    recipient = users.lookup(ctx.db, ctx.params["sid"].lower())
    if recipient is None or not inbox.shares_a_room(ctx.db, user.id, recipient, ctx.now):
        raise Refused(404, "no such recipient among the members of the rooms you may use")
    out = inbox.send(ctx.db, user.id, recipient, body, ctx.now, ctx.app.cfg.dm_ttl)
    out.update(sender=user.session_id, recipient=ctx.params["sid"].lower())
    return json_response(out, 201)


def _box(ctx: Ctx, outbox: bool) -> Response:
    user = ctx.need_user()
    since = int(ctx.params.get("msg_id", "0"))
    limit = int_param(ctx, "limit", 100, 1, 256)
    return json_response(inbox.fetch(ctx.db, user.id, since, limit, ctx.now, outbox=outbox))


def inbox_get(ctx: Ctx) -> Response:
    return _box(ctx, False)


def outbox_get(ctx: Ctx) -> Response:
    return _box(ctx, True)
