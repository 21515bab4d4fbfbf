"""Pinned messages on the room server, in memory: pysogs' endpoints and answers
(``POST /room/T/pin/ID`` → ``{info_updates}``, ``/unpin/ID`` → ``{unpinned, info_updates}``,
``/unpin/all`` → ``{unpinned: n, info_updates}``), ``pinned_messages`` in room info (oldest pin
first, omitted when empty), admins only, and through ``/batch`` and ``/sequence``.  Refusals
(moderators, members, unknown/deleted/whispered messages, bad bodies) change no table."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_core.opengroup import RoomServerApp
from tests.test_opengroup import Clock, User, _state_without_nonces, running_app, admin_of


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[RoomServerApp]:
    with running_app(tmp_path, clock, post_rate_count=50, max_file_bytes=5000) as a:
        yield a


class Cast:
    """A global admin, an admin and a moderator of lobby (not of dev), and a member."""

    def __init__(self, app: RoomServerApp, clock: Clock) -> None:
        self.owner = admin_of(app, clock)
        self.admin, self.mod, self.member = User(app, clock), User(app, clock), User(app, clock)
        for who, body in ((self.admin, {"rooms": ["lobby"], "admin": True}),
                          (self.mod, {"rooms": ["lobby"], "moderator": True})):
            assert self.owner("POST", f"/user/{who.id}/moderator", body).code == 200


@pytest.fixture
def cast(app: RoomServerApp, clock: Clock) -> Cast:
    return Cast(app, clock)


def info(u: User, token: str = "lobby") -> dict[str, Any]:
    r = u("GET", f"/room/{token}")
    assert r.code == 200, r.body
    return dict(r.json())


def test_pins_show_in_room_info_oldest_first_and_a_repin_moves_to_the_end(app: RoomServerApp, clock: Clock,
                                                                           cast: Cast) -> None:
    ids = [cast.member.post("lobby", b"m%d" % i).json()["id"] for i in range(3)]
    start = info(cast.member)
    assert "pinned_messages" not in start  # omitted when empty, as pysogs
    t0 = clock.t
    r = cast.admin("POST", f"/room/lobby/pin/{ids[0]}", {})
    assert r.code == 200 and r.json() == {"info_updates": start["info_updates"] + 1}
    clock.t += 5
    assert cast.admin("POST", f"/room/lobby/pin/{ids[2]}").json() == {"info_updates": start["info_updates"] + 2}
    seen = info(cast.member)
    assert seen["info_updates"] == start["info_updates"] + 2
    assert seen["pinned_messages"] == [{"id": ids[0], "pinned_at": t0, "pinned_by": cast.admin.id},
                                       {"id": ids[2], "pinned_at": t0 + 5, "pinned_by": cast.admin.id}]
    assert seen["message_sequence"] == start["message_sequence"]  # pins are not message changes
    # a re-pin by another admin: new time and admin, moved to the end, info_updates moves on
    clock.t += 5
    assert cast.owner("POST", f"/room/lobby/pin/{ids[0]}").json() == {"info_updates": start["info_updates"] + 3}
    assert info(cast.member)["pinned_messages"] == [
        {"id": ids[2], "pinned_at": t0 + 5, "pinned_by": cast.admin.id},
        {"id": ids[0], "pinned_at": t0 + 10, "pinned_by": cast.owner.id}]
    # at the same clock reading, the later pin still sorts last
    cast.admin("POST", f"/room/lobby/pin/{ids[1]}")
    cast.admin("POST", f"/room/lobby/pin/{ids[0]}")
    assert [p["id"] for p in info(cast.member)["pinned_messages"]] == [ids[2], ids[1], ids[0]]
    # the room list carries them too; another room has none
    listed = {r["token"]: r for r in cast.member("GET", "/rooms").json()}
    assert [p["id"] for p in listed["lobby"]["pinned_messages"]] == [ids[2], ids[1], ids[0]]
    assert "pinned_messages" not in listed["dev"]


def test_unpin_and_unpin_all_answer_as_pysogs(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    ids = [cast.member.post("lobby", b"m%d" % i).json()["id"] for i in range(3)]
    for i in ids:
        cast.admin("POST", f"/room/lobby/pin/{i}")
    n = info(cast.member)["info_updates"]
    assert cast.admin("POST", f"/room/lobby/unpin/{ids[1]}", {}).json() == {"unpinned": True, "info_updates": n + 1}
    before = _state_without_nonces(app)
    # not pinned (any more): nothing changes, info_updates stays
    assert cast.admin("POST", f"/room/lobby/unpin/{ids[1]}").json() == {"unpinned": False, "info_updates": n + 1}
    assert cast.admin("POST", "/room/lobby/unpin/999").json() == {"unpinned": False, "info_updates": n + 1}
    assert _state_without_nonces(app) == before
    assert [p["id"] for p in info(cast.member)["pinned_messages"]] == [ids[0], ids[2]]
    # unpin/all counts what it removed; info_updates moves by one per pin, as pysogs' row trigger
    assert cast.admin("POST", "/room/lobby/unpin/all", {}).json() == {"unpinned": 2, "info_updates": n + 3}
    assert "pinned_messages" not in info(cast.member)
    before = _state_without_nonces(app)
    assert cast.admin("POST", "/room/lobby/unpin/all").json() == {"unpinned": 0, "info_updates": n + 3}
    assert _state_without_nonces(app) == before


def test_only_admins_pin_and_refusals_change_nothing(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    msg = cast.member.post("lobby", b"pin me").json()["id"]
    other_room = cast.member.post("dev", b"elsewhere").json()["id"]
    gone = cast.member.post("lobby", b"deleted").json()["id"]
    assert cast.member("DELETE", f"/room/lobby/message/{gone}").code == 200
    whisper = cast.mod("POST", "/room/lobby/message", {**signed(cast.mod, b"psst"), "whisper_mods": True}).json()["id"]
    cast.admin("POST", f"/room/lobby/pin/{msg}")
    before = _state_without_nonces(app)
    for who in (cast.mod, cast.member):  # a moderator is not enough
        for path in (f"/room/lobby/pin/{msg}", f"/room/lobby/unpin/{msg}", "/room/lobby/unpin/all",
                     "/room/lobby/pin/999"):
            r = who("POST", path, {})
            assert r.code == 403 and b"admin" in r.body, (path, r.body)
    assert cast.admin("POST", f"/room/dev/pin/{other_room}").code == 403  # admin of lobby only
    for bad in (999, other_room, gone, whisper):  # not a message of this room, deleted, a whisper
        r = cast.admin("POST", f"/room/lobby/pin/{bad}")
        assert r.code == 404 and b"no such message" in r.body, bad
    assert cast.admin("POST", "/room/nope/pin/1").code == 404
    for body in (b"[]", b"not json", b"5", b'"x"'):
        assert cast.admin.raw("POST", f"/room/lobby/pin/{msg}", body).code == 400, body
    assert cast.admin("GET", f"/room/lobby/pin/{msg}").code == 405
    for path in ("/room/lobby/pin/-1", "/room/lobby/pin/abc", "/room/lobby/unpin/some", "/room/lobby/pin/1e3",
                 "/room/lobby/pin/" + "9" * 19):
        assert cast.admin("POST", path).code == 404, path
    assert app.handle("POST", f"/room/lobby/pin/{msg}", {}, None).code == 401  # unsigned
    assert _state_without_nonces(app) == before
    assert cast.owner("POST", f"/room/dev/pin/{other_room}").code == 200  # a global admin may


def signed(u: User, data: bytes) -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "signature": base64.b64encode(u.keys.sign(data)).decode()}


def test_deleting_a_pinned_message_unpins_it(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    a, b, c = (cast.member.post("lobby", b"m%d" % i).json()["id"] for i in range(3))
    for i in (a, b, c):
        cast.admin("POST", f"/room/lobby/pin/{i}")
    n = info(cast.member)["info_updates"]
    assert cast.member("DELETE", f"/room/lobby/message/{a}").code == 200
    got = info(cast.member)
    assert [p["id"] for p in got["pinned_messages"]] == [b, c] and got["info_updates"] == n + 1
    assert cast.mod("DELETE", f"/room/lobby/all/{cast.member.id}").json() == {"deleted": 2}
    got = info(cast.member)
    assert "pinned_messages" not in got and got["info_updates"] == n + 3


def test_a_pinned_posts_files_stay_until_unpinned(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    fid = cast.member.raw("POST", "/room/lobby/file", b"attached").json()["id"]
    body = {**signed(cast.member, b"with file"), "files": [fid]}
    msg = cast.member("POST", "/room/lobby/message", body).json()["id"]
    uploaded = clock.t
    cast.admin("POST", f"/room/lobby/pin/{msg}")
    clock.t += app.cfg.file_ttl + 86400  # past the attached file's lifetime
    app.purge()
    assert cast.member("GET", f"/room/lobby/file/{fid}").code == 200
    cast.admin("POST", f"/room/lobby/unpin/{msg}")
    # unpinned: kept file_ttl from the upload (pysogs: 15 days from upload), so already due
    assert app.db.execute("SELECT expires FROM files WHERE id = ?", (fid,)).fetchone()[0] == uploaded + app.cfg.file_ttl
    app.purge()
    assert cast.member("GET", f"/room/lobby/file/{fid}").code == 404


def test_pins_through_batch_and_sequence(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    ids = [cast.member.post("lobby", b"m%d" % i).json()["id"] for i in range(3)]
    n = info(cast.member)["info_updates"]
    out = cast.admin("POST", "/batch", [{"method": "POST", "path": f"/room/lobby/pin/{ids[0]}", "json": {}},
                                        {"method": "POST", "path": f"/room/lobby/pin/{ids[1]}", "json": {}},
                                        {"method": "GET", "path": "/room/lobby"}]).json()
    assert [o["code"] for o in out] == [200, 200, 200]
    assert [o["body"] for o in out[:2]] == [{"info_updates": n + 1}, {"info_updates": n + 2}]
    assert [p["id"] for p in out[2]["body"]["pinned_messages"]] == ids[:2]
    # replace the pins in one go, as pysogs suggests: unpin/all then pin
    seq = cast.admin("POST", "/sequence", [{"method": "POST", "path": "/room/lobby/unpin/all", "json": {}},
                                           {"method": "POST", "path": f"/room/lobby/pin/{ids[2]}", "json": {}},
                                           {"method": "POST", "path": "/room/lobby/pin/999", "json": {}},
                                           {"method": "POST", "path": f"/room/lobby/pin/{ids[0]}", "json": {}}]).json()
    assert [o["code"] for o in seq] == [200, 200, 404]  # a sequence stops at the first failure
    assert seq[0]["body"] == {"unpinned": 2, "info_updates": n + 4}
    assert [p["id"] for p in info(cast.member)["pinned_messages"]] == [ids[2]]
    # a moderator's batch: every pin refused, nothing pinned
    before = _state_without_nonces(app)
    out = cast.mod("POST", "/batch", [{"method": "POST", "path": "/room/lobby/unpin/all", "json": {}},
                                      {"method": "POST", "path": f"/room/lobby/pin/{ids[0]}", "json": {}}]).json()
    assert [o["code"] for o in out] == [403, 403]
    assert _state_without_nonces(app) == before
