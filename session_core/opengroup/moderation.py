"""Moderation endpoints: bans (room or global, timed or permanent), moderators and admins,
whitelist membership, and the list of bans.

A target may be named by blinded ID ("15…") or by Session ID ("05…"); a Session ID stands for
both blinded IDs it may have here (:func:`users.resolve_ids`), and the change applies to both.
"""

from __future__ import annotations

from typing import Any

from session_core.opengroup import bans, rooms, users
from session_core.opengroup.context import Ctx, json_object
from session_core.opengroup.http import Refused, Response, json_response

__all__ = ["ban", "list_bans", "set_allowed", "set_moderator", "unban"]


def _scope(ctx: Ctx, req: dict[str, Any], *, admin: bool) -> list[int]:
    """Room IDs (or ``[GLOBAL]``) the request applies to, checked against the caller's rights."""
    user = ctx.need_user()
    tokens, is_global = req.get("rooms"), req.get("global", False)
    if not isinstance(is_global, bool):
        raise Refused(400, "'global' must be true or false")
    if bool(tokens) == is_global:
        raise Refused(400, "give exactly one of 'rooms' (a list of room tokens) and 'global': true")
    if is_global:
        mod, adm = users.mod_level(ctx.db, user.id, users.GLOBAL)
        if not (adm if admin else mod):
            raise Refused(403, f"this needs global {'admin' if admin else 'moderator'} rights")
        return [users.GLOBAL]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens) or len(tokens) > 100:
        raise Refused(400, "'rooms' must be a list of at most 100 room tokens")
    ids = []
    for token in tokens:
        room = rooms.get(ctx.db, token)
        acc = ctx.access(room)
        if not (acc.admin if admin else acc.moderator):
            raise Refused(403, f"this needs {'admin' if admin else 'moderator'} rights in {room.token}")
        ids.append(room.id)
    return ids


def _target_ids(ctx: Ctx) -> list[str]:
    ids = users.resolve_ids(ctx.params["sid"], ctx.app.server_pk)
    if ctx.need_user().session_id in ids:
        raise Refused(400, "moderators cannot target themselves")
    return ids


def _targets(ctx: Ctx, ids: list[str]) -> list[int]:
    """User rows for the targets (created: one may ban or promote someone not seen yet)."""
    return [users.get_or_create(ctx.db, sid, ctx.now) for sid in ids]


def ban(ctx: Ctx) -> Response:
    req = json_object(ctx)
    scope = _scope(ctx, req, admin=False)
    timeout = req.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout <= 100 * 365 * 86400):
        raise Refused(400, "'timeout' is a number of seconds (> 0), or null for a permanent ban")
    me = ctx.need_user()
    ids = _target_ids(ctx)
    for uid in filter(None, (users.lookup(ctx.db, sid) for sid in ids)):
        for room in scope:
            if users.mod_level(ctx.db, uid, room)[0] and not users.mod_level(ctx.db, me.id, users.GLOBAL)[1]:
                raise Refused(403, "only a global admin may ban a moderator")
    ctx.db.execute("BEGIN IMMEDIATE")
    try:
        for uid in _targets(ctx, ids):
            for room in scope:
                bans.ban(ctx.db, uid, room, me.id, ctx.now, None if timeout is None else float(timeout))
        ctx.db.execute("COMMIT")
    except BaseException:
        ctx.db.execute("ROLLBACK")
        raise
    return json_response({})


def unban(ctx: Ctx) -> Response:
    scope = _scope(ctx, json_object(ctx), admin=False)
    for sid in users.resolve_ids(ctx.params["sid"], ctx.app.server_pk):
        uid = users.lookup(ctx.db, sid)
        for room in scope if uid is not None else []:
            assert uid is not None
            bans.unban(ctx.db, uid, room)
    return json_response({})


def set_moderator(ctx: Ctx) -> Response:
    req = json_object(ctx)
    scope = _scope(ctx, req, admin=True)
    mod, admin, visible = req.get("moderator"), req.get("admin"), req.get("visible")
    if any(v is not None and not isinstance(v, bool) for v in (mod, admin, visible)):
        raise Refused(400, "'moderator', 'admin' and 'visible' are true, false or null")
    if mod is None and admin is None:
        raise Refused(400, "give 'moderator' and/or 'admin'")
    if admin is True and mod is False:
        raise Refused(400, "an admin is always a moderator: admin=true with moderator=false is impossible")
    shown = visible if visible is not None else scope != [users.GLOBAL]
    for uid in _targets(ctx, _target_ids(ctx)):
        for room in scope:
            if admin is True:
                users.set_moderator(ctx.db, uid, room, admin=True, visible=shown)
            elif mod is False:
                users.remove_moderator(ctx.db, uid, room)
            elif mod is True:
                users.set_moderator(ctx.db, uid, room, admin=False, visible=shown)
            else:  # admin=False alone: demote an admin, leave others alone
                users.remove_moderator(ctx.db, uid, room, admin_only=True)
    return json_response({})


def set_allowed(ctx: Ctx) -> Response:
    """Whitelist membership (ours; pysogs does this with per-user permission overrides)."""
    req = json_object(ctx)
    allow = req.get("allow")
    if not isinstance(allow, bool):
        raise Refused(400, "'allow' must be true or false")
    if req.get("global"):
        raise Refused(400, "membership is per room: give 'rooms'")
    scope = _scope(ctx, req, admin=False)
    targets = _targets(ctx, _target_ids(ctx))
    for room_id in scope:
        room = next(r for r in rooms.all_rooms(ctx.db) if r.id == room_id)
        for uid in targets:
            rooms.set_allowed(ctx.db, room, uid, allow)
    return json_response({})


def list_bans(ctx: Ctx) -> Response:
    user = ctx.need_user()
    if users.mod_level(ctx.db, user.id, users.GLOBAL)[0]:
        return json_response(bans.list_bans(ctx.db, None, ctx.now))
    mine = [r.id for r in rooms.all_rooms(ctx.db) if users.mod_level(ctx.db, user.id, r.id)[0]]
    if not mine:
        raise Refused(403, "only moderators may list bans")
    return json_response(bans.list_bans(ctx.db, mine, ctx.now))
