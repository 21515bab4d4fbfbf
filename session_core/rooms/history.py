"""Reading a room's history backwards and polling its info, sans-IO: the request paths of
``messages/before/ID`` and ``pollInfo/N`` (checked before anything is sent), and a check of a
history page a server returned.

A page is trusted only as far as it is consistent: every message older than the one asked
about, newest first, no id twice, at most the limit.  A server that breaks this (a bug, or an
attempt to make a client show messages out of place) gets a clear error instead of a
garbled history.
"""

from __future__ import annotations

from typing import Any

from session_core.errors import RoomInputError
from session_core.rooms.url import check_token

__all__ = ["MAX_PAGE", "before_path", "check_history_page", "poll_info_path"]

#: The most messages a server returns in one page (pysogs' limit, and ours).
MAX_PAGE = 256


def _whole(value: int, what: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value < 10**18:
        raise RoomInputError(f"{what} is a whole number from {lo} below 10^18, not {str(value)[:40]!r}")
    return value


def before_path(token: str, msg_id: int, limit: int = 100) -> str:
    """``/room/T/messages/before/ID?limit=N``: up to *limit* messages older than *msg_id*."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise RoomInputError(f"a page holds 1 to {MAX_PAGE} messages, not {str(limit)[:40]!r}")
    return f"/room/{check_token(token)}/messages/before/{_whole(msg_id, 'a message ID', 1)}?limit={limit}"


def poll_info_path(token: str, info_updates: int = 0) -> str:
    """``/room/T/pollInfo/N``; *info_updates* is the counter of the details the client holds
    (0 when it holds none: the details come whenever the room's counter is not 0)."""
    return f"/room/{check_token(token)}/pollInfo/{_whole(info_updates, 'info_updates', 0)}"


def check_history_page(answer: Any, msg_id: int, limit: int) -> list[dict[str, Any]]:
    """The messages of a ``messages/before/msg_id`` answer, after checking that the page is
    what was asked for (see the module's notes)."""
    if not isinstance(answer, list) or len(answer) > limit:
        raise RoomInputError(f"a history page is a list of at most {limit} messages")
    last = msg_id
    for m in answer:
        if not isinstance(m, dict) or isinstance(m.get("id"), bool) or not isinstance(m.get("id"), int):
            raise RoomInputError("each message of a history page is an object with an integer id")
        if not 0 < m["id"] < last:
            raise RoomInputError(f"a history page before #{msg_id} is newest first and older than it: "
                                 f"#{m['id']} is out of place")
        last = m["id"]
    return answer
