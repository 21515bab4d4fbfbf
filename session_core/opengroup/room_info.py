"""What a room looks like to the one asking: its details (``GET /room/T``, each of ``GET /rooms``)
and the cheap per-poll view of it (``GET /room/T/pollInfo/N``), in pysogs' shapes.

A client polls ``pollInfo`` with the ``info_updates`` it last saw.  The answer always carries
what changes without moving that counter (active users, the caller's own read/write/upload
rights and moderator flags); the full details come along only when the counter moved, so
a client at the head of a room downloads its moderator list and pins only after a change.
Every change that alters the details moves ``info_updates`` (name and description at start,
pins: :mod:`pins`; moderators and admins: :mod:`users`), else a client would miss it.

Our rooms have no per-user permission overrides: the ``default_*`` flags moderators see follow
from the room's kind (open: everyone reads, writes and uploads; whitelist: nobody who was not
allowed, and the room is then not even listed to them).
"""

from __future__ import annotations

from typing import Any

from session_core.opengroup import pins, rooms, users
from session_core.opengroup.context import Ctx

__all__ = ["ACTIVE_CUTOFF", "caller_flags", "details", "poll_info"]

#: Users count as active in a room for a week after they last used it (pysogs' default).
ACTIVE_CUTOFF = 7 * 86400


def active_users(ctx: Ctx, room: rooms.Room) -> int:
    return int(ctx.db.execute("SELECT COUNT(*) FROM room_users WHERE room = ? AND last_active > ?",
                              (room.id, ctx.now - ACTIVE_CUTOFF)).fetchone()[0])


def caller_flags(ctx: Ctx, room: rooms.Room, acc: rooms.Access) -> dict[str, Any]:
    """The caller's moderator flags, present only when true (pysogs omits false ones), and the
    room's default rights, which pysogs shows to moderators only."""
    flags: dict[str, Any] = {}
    if acc.moderator:
        flags["moderator"] = True
        open_room = not room.whitelist
        flags.update(default_read=open_room, default_accessible=open_room, default_write=open_room,
                     default_upload=open_room)
    if acc.admin:
        flags["admin"] = True
    global_mod, global_admin = ctx.app.perms.mod_level(ctx.user.id if ctx.user else None, users.GLOBAL)
    if global_mod:
        flags["global_moderator"] = True
    if global_admin:
        flags["global_admin"] = True
    return flags


def details(ctx: Ctx, room: rooms.Room, acc: rooms.Access) -> dict[str, Any]:
    """The full room details as *ctx*'s caller may see them."""
    mods, admins = users.visible_mods(ctx.db, room.id, include_hidden=acc.moderator)
    info: dict[str, Any] = {
        "token": room.token, "name": room.name, "description": room.description, "created": room.created,
        "info_updates": room.info_updates, "message_sequence": room.message_sequence,
        "active_users": active_users(ctx, room), "active_users_cutoff": ACTIVE_CUTOFF, "moderators": mods,
        "admins": admins, "read": acc.read, "write": acc.write, "upload": acc.upload, "whitelist": room.whitelist,
    }
    pinned = pins.of_room(ctx.db, room.id)
    if pinned:  # omitted when there are none, as pysogs
        info["pinned_messages"] = pinned
    info.update(caller_flags(ctx, room, acc))
    return info


def poll_info(ctx: Ctx, room: rooms.Room, acc: rooms.Access, seen_updates: int) -> dict[str, Any]:
    """pysogs' poll answer: token, active users, the caller's rights and flags, and ``details``
    only when the room's ``info_updates`` is not *seen_updates* (any difference, also a
    client ahead of the server after a restore, means its copy is not the current one)."""
    out: dict[str, Any] = {"token": room.token, "active_users": active_users(ctx, room),
                           "read": acc.read, "write": acc.write, "upload": acc.upload}
    if room.info_updates != seen_updates:
        out["details"] = details(ctx, room, acc)
    out.update(caller_flags(ctx, room, acc))
    return out
