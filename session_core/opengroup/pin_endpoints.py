"""Pin endpoints (pysogs' shapes): ``POST /room/T/pin/ID`` → ``{info_updates}``,
``POST /room/T/unpin/ID`` → ``{unpinned: bool, info_updates}``, ``POST /room/T/unpin/all`` →
``{unpinned: count, info_updates}``.  Room admins only (moderators are not enough: 403).  The
body is empty or a JSON object (pysogs reads nothing from it yet)."""

from __future__ import annotations

from session_core.opengroup import pins, rooms
from session_core.opengroup.context import Ctx, json_object
from session_core.opengroup.http import Refused, Response, json_response

__all__ = ["pin", "unpin", "unpin_all"]


def _admin_room(ctx: Ctx) -> tuple[rooms.Room, int]:
    user = ctx.need_user()
    room = ctx.room()
    if ctx.body:
        json_object(ctx)  # checked for shape; nothing in it is used yet
    if not ctx.access(room).admin:
        raise Refused(403, f"only admins of {room.token} may pin or unpin messages (moderators may not)")
    return room, user.id


def pin(ctx: Ctx) -> Response:
    room, admin = _admin_room(ctx)
    return json_response({"info_updates": pins.pin(ctx.db, room.id, int(ctx.params["msg_id"]), admin, ctx.now)})


def unpin(ctx: Ctx) -> Response:
    room, _ = _admin_room(ctx)
    done, info_updates = pins.unpin(ctx.db, room.id, int(ctx.params["msg_id"]), ctx.app.cfg.file_ttl)
    return json_response({"unpinned": done, "info_updates": info_updates})


def unpin_all(ctx: Ctx) -> Response:
    room, _ = _admin_room(ctx)
    count, info_updates = pins.unpin_all(ctx.db, room.id, ctx.app.cfg.file_ttl)
    return json_response({"unpinned": count, "info_updates": info_updates})
