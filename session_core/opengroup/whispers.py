"""Whispers: room messages only some members see (pysogs' ``whisper_to`` / ``whisper_mods``).

Only moderators may whisper.  A whisper names one user (``whisper_to``), or the room's
moderators (``whisper_mods``), or both (a warning the user and the other moderators see).
Who sees a message, as pysogs decides it:

* everyone who may read the room sees ordinary messages;
* the user a whisper names sees it;
* moderators also see every ``whisper_mods`` whisper, and the whispers they wrote;
* ours: an author always sees their own whispers, also after losing moderator rights.

The rule is one SQL condition (:func:`visible_clause`) that every read path adds to its query
(polls, recent, single message, reactions, pins, edits and deletions), so a whisper cannot leak
through one path the others close.  A whisper keeps its recipients through edits; reactions and
pins are for ordinary messages only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from session_core.opengroup import users
from session_core.opengroup.http import Refused

__all__ = ["PUBLIC", "Whisper", "decorate", "parse", "resolve", "visible_clause"]

#: The condition for an ordinary (not whispered) message, on the ``messages`` alias ``m``.
PUBLIC = "(m.whisper_to IS NULL AND m.whisper_mods = 0)"


@dataclass(frozen=True, slots=True)
class Whisper:
    """Who a post is whispered to, as the request gave it (``to`` still a textual ID)."""

    to: str | None = None
    mods: bool = False

    @property
    def is_whisper(self) -> bool:
        return self.to is not None or self.mods


def parse(req: dict[str, Any]) -> Whisper:
    """``whisper_to`` (a 15… or 05… ID, or null) and ``whisper_mods`` (true, false or null) of a
    post's JSON body, checked for shape only (:func:`resolve` finds the user)."""
    to, mods = req.get("whisper_to"), req.get("whisper_mods")
    if mods is not None and not isinstance(mods, bool):
        raise Refused(400, "'whisper_mods' must be true, false or null")
    if to is not None and (not isinstance(to, str) or len(to) != 66 or to[:2] not in ("05", "15")
                           or any(c not in "0123456789abcdefABCDEF" for c in to)):
        raise Refused(400, "'whisper_to' must be a blinded (15…) or Session (05…) ID of 66 hex digits")
    return Whisper(None if to is None else to.lower(), bool(mods))


def resolve(db: sqlite3.Connection, whisper: Whisper, server_pk: bytes) -> int | None:
    """The user row a whisper is for (None for a whisper to moderators only, or no whisper).

    The user must have used this server: a whisper is for someone a moderator saw here.  A
    Session ID (05…) stands for either of its two possible blinded IDs; the one this server
    knows is meant."""
    if whisper.to is None:
        return None
    found = {uid for uid in (users.lookup(db, sid) for sid in users.resolve_ids(whisper.to, server_pk))
             if uid is not None}
    if not found:
        raise Refused(404, "no user with that whisper_to ID has used this server")
    if len(found) > 1:  # both signs of a Session ID seen: cannot tell which person is meant
        raise Refused(400, "that Session ID matches two users here: give the blinded (15…) ID")
    return found.pop()


def visible_clause(viewer: int | None, moderator: bool) -> tuple[str, tuple[Any, ...]]:
    """SQL condition (on alias ``m``) and its arguments: messages *viewer* may see."""
    if viewer is None:
        return PUBLIC, ()
    if moderator:
        return f"({PUBLIC} OR m.whisper_mods = 1 OR m.whisper_to = ? OR m.user = ?)", (viewer, viewer)
    return f"({PUBLIC} OR m.whisper_to = ? OR m.user = ?)", (viewer, viewer)


def decorate(msg: dict[str, Any], whisper_to: str | None, whisper_mods: bool) -> dict[str, Any]:
    """Add pysogs' whisper fields to *msg* (none for an ordinary message)."""
    if whisper_to is not None or whisper_mods:
        msg["whisper"] = True
        msg["whisper_mods"] = whisper_mods
        if whisper_to is not None:
            msg["whisper_to"] = whisper_to
    return msg
