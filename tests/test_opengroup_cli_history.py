"""Reading older room history: the sans-IO request paths and page check
(``session_core.rooms.history``), and ``opengroup read --before ID [--limit N]`` against a room
server process over plain HTTP (whispers stay with their readers, the read mark stays put,
bad input is one ``Error:`` line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from session_core.errors import RoomInputError
from session_core.rooms.history import MAX_PAGE, before_path, check_history_page, poll_info_path
from tests.test_opengroup_cli_more import Og, og, one_line_error, people, server  # noqa: F401 (fixtures)


def test_paths_are_checked_before_anything_is_sent() -> None:
    assert before_path("lobby", 42) == "/room/lobby/messages/before/42?limit=100"
    assert before_path("lobby", 42, MAX_PAGE) == "/room/lobby/messages/before/42?limit=256"
    assert poll_info_path("lobby") == "/room/lobby/pollInfo/0"
    assert poll_info_path("dev", 7) == "/room/dev/pollInfo/7"
    bad: list[tuple[Any, ...]] = [("lobby", 0), ("lobby", -1), ("lobby", True), ("lobby", "5"), ("lobby", 10**18),
                                  ("lobby", 5, 0), ("lobby", 5, 257), ("lobby", 5, True), ("lob/by", 5)]
    for args in bad:
        with pytest.raises(RoomInputError):
            before_path(*args)
    for args in [("lobby", -1), ("lobby", False), ("lobby", 1.0), ("../x", 0)]:
        with pytest.raises(RoomInputError):
            poll_info_path(*args)


def test_a_history_page_must_be_what_was_asked_for() -> None:
    page = [{"id": 9}, {"id": 4}, {"id": 1}]
    assert check_history_page(page, 10, 3) == page
    assert check_history_page([], 10, 3) == []
    for bad in ([{"id": 10}], [{"id": 4}, {"id": 9}], [{"id": 4}, {"id": 4}], [{"id": 0}], [{"id": True}],
                [{"id": "3"}], [3], {"id": 3}, [{"id": 3}, {"id": 2}, {"id": 1}, {"id": 0}]):
        with pytest.raises(RoomInputError):
            check_history_page(bad, 10, 3)


def _id_of(output: str) -> int:
    return int(next(w for w in output.split() if w.startswith("#")).lstrip("#"))


def test_read_before_pages_back_through_history(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    ids = people(tmp_path, server, og, "mod", "ann", "ben", "cat")
    posted = [_id_of(og("ann", "post", "--room", "lobby", f"old {i}").output) for i in range(5)]
    whisper = _id_of(og("mod", "post", "--room", "lobby", "--whisper-to", ids["ben"], "for ben only").output)

    def texts(output: str) -> list[str]:
        return [line.split(maxsplit=3)[3] for line in output.splitlines() if line.startswith("#")]

    out = og("cat", "read", "--room", "lobby", "--before", str(whisper + 1), "--limit", "3").output
    assert texts(out) == ["old 2", "old 3", "old 4"]  # oldest first; the whisper is not cat's
    assert f"(more: read --before {posted[2]})" in out
    assert texts(og("ben", "read", "--room", "lobby", "--before", str(whisper + 1), "--limit", "3").output) == [
        "old 3", "old 4", "(whisper to you) for ben only"]
    out = og("cat", "read", "--room", "lobby", "--before", str(posted[2]), "--limit", "3").output
    assert texts(out) == ["old 0", "old 1"] and "(more" not in out
    assert f"nothing before #{posted[0]}" in og("cat", "read", "--room", "lobby", "--before", str(posted[0])).output
    # the read mark did not move: a plain read still shows everything from the start
    assert texts(og("cat", "read", "--room", "lobby").output) == [f"old {i}" for i in range(5)]
    # bad input: one line each
    one_line_error(og("cat", "read", "--room", "lobby", "--before", "0", ok=False), "--before")
    one_line_error(og("cat", "read", "--room", "lobby", "--before", "x", ok=False), "--before")
    one_line_error(og("cat", "read", "--room", "lobby", "--before", "5", "--limit", "257", ok=False), "--limit")
    one_line_error(og("cat", "read", "--room", "lobby", "--before", "5", "--all", ok=False), "at most one")
    one_line_error(og("cat", "read", "--room", "nowhere", "--before", "5", ok=False), "no joined room")
