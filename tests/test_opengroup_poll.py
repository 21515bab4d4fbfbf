"""Room polling as Session clients do it, in memory: ``GET /room/T/pollInfo/N`` and
``GET /room/T/messages/before/ID``, alone and inside ``/batch`` and ``/sequence``.

The expected shapes come from pysogs (tests/data/pysogs_room_poll.json names the source lines):
pollInfo always answers token, active users and the caller's rights (plus moderator, admin and
global flags, and the room's defaults for moderators), and the full details only when the
room's ``info_updates`` differs from the one given; ``messages/before`` pages back through live
messages newest first, limit 100 by default and 1..256.  The same whisper rule as every other
read path decides what each reader gets; bad input is a 4xx that changes no table."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_core.opengroup import RoomServerApp, RoomSpec
from tests.test_opengroup import Clock, User, _state_without_nonces, admin_of, running_app

PYSOGS = json.loads((Path(__file__).parent / "data" / "pysogs_room_poll.json").read_text())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[RoomServerApp]:
    with running_app(tmp_path, clock, [RoomSpec("vip", "VIP", whitelist=True)], post_rate_count=1000) as a:
        yield a


def signed(u: User, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"data": base64.b64encode(data).decode(), "signature": base64.b64encode(u.keys.sign(data)).decode(),
            **extra}


def ok(u: User, method: str, path: str, obj: Any = None) -> Any:
    r = u(method, path, obj)
    assert 200 <= r.code < 300, (r.code, r.body)
    return r.json()


def ids(msgs: list[dict[str, Any]]) -> list[int]:
    return [m["id"] for m in msgs]


def info_updates(app: RoomServerApp, token: str) -> int:
    return int(app.db.execute("SELECT info_updates FROM rooms WHERE token = ?", (token,)).fetchone()[0])


class Cast:
    """A global admin (hidden, as ``--admin`` makes one), an admin and a moderator of lobby,
    two members who have used the room."""

    def __init__(self, app: RoomServerApp, clock: Clock) -> None:
        self.owner = admin_of(app, clock)
        self.admin, self.mod, self.member, self.other = (User(app, clock) for _ in range(4))
        ok(self.owner, "POST", f"/user/{self.admin.id}/moderator", {"rooms": ["lobby"], "admin": True})
        ok(self.owner, "POST", f"/user/{self.mod.id}/moderator", {"rooms": ["lobby"], "moderator": True})
        for u in (self.member, self.other):
            ok(u, "GET", "/room/lobby")


@pytest.fixture
def cast(app: RoomServerApp, clock: Clock) -> Cast:
    return Cast(app, clock)


# -- pollInfo ------------------------------------------------------------------------------------


def test_poll_info_of_a_member_is_pysogs_basic_shape_and_details_only_when_info_updates_differ(
        app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    n = info_updates(app, "lobby")
    # activity is written in batches; after a flush both members and the two who set up count
    app.flush()
    basic = {"token": "lobby", "active_users": 2, "read": True, "write": True, "upload": True}
    assert set(basic) == set(PYSOGS["poll_keys_always"])
    assert ok(cast.member, "GET", f"/room/lobby/pollInfo/{n}") == basic
    # any other value (older, or ahead after a restore) brings the details, built as pysogs'
    # get_room_info: the public moderator list (the hidden global admin is not in it)
    created = app.db.execute("SELECT created FROM rooms WHERE token = 'lobby'").fetchone()[0]
    details = {"token": "lobby", "name": "Lobby", "description": "", "created": created, "info_updates": n,
               "message_sequence": 0, "active_users": 2, "active_users_cutoff": PYSOGS["active_users_cutoff_default"],
               "moderators": [cast.mod.id], "admins": [cast.admin.id], "read": True, "write": True,
               "upload": True, "whitelist": False}
    assert set(details) == set(PYSOGS["details_keys_always"]) | {"description"} | set(PYSOGS["ours"]["details_extra_keys"])
    for seen in (0, n - 1, n + 1, 10**17):
        assert ok(cast.member, "GET", f"/room/lobby/pollInfo/{seen}") == {**basic, "details": details}, seen
    # the details are what GET /room/T answers the same caller
    assert ok(cast.member, "GET", "/room/lobby/pollInfo/0")["details"] == ok(cast.member, "GET", "/room/lobby")


def test_poll_info_flags_of_moderators_admins_and_global_admins(app: RoomServerApp, clock: Clock,
                                                                 cast: Cast) -> None:
    n = info_updates(app, "lobby")
    defaults_open = {k: True for k in PYSOGS["poll_keys_moderator"]}
    mod_view = ok(cast.mod, "GET", f"/room/lobby/pollInfo/{n}")
    assert mod_view == {"token": "lobby", "active_users": mod_view["active_users"], "read": True, "write": True,
                        "upload": True, **defaults_open}
    admin_view = ok(cast.admin, "GET", f"/room/lobby/pollInfo/{n}")
    assert {k for k in admin_view if admin_view[k] is True} == {"read", "write", "upload", PYSOGS["poll_key_admin"],
                                                                *PYSOGS["poll_keys_moderator"]}
    owner_view = ok(cast.owner, "GET", f"/room/lobby/pollInfo/{n}")
    assert all(owner_view[k] is True for k in (*PYSOGS["poll_keys_global"], "admin", "moderator"))
    # a room moderator is not a global one; a member has none of the flags
    assert not set(PYSOGS["poll_keys_global"]) & set(admin_view)
    member_view = ok(cast.member, "GET", f"/room/lobby/pollInfo/{n}")
    assert set(member_view) == set(PYSOGS["poll_keys_always"])
    # the flags come in the details too, and moderators see the hidden global admin there
    det = ok(cast.mod, "GET", "/room/lobby/pollInfo/0")["details"]
    assert det["moderator"] is True and det["default_write"] is True and cast.owner.id in det["admins"]
    # in a whitelist room nobody reads by default: the defaults say so
    vip = ok(cast.owner, "GET", f"/room/vip/pollInfo/{info_updates(app, 'vip')}")
    assert [vip[k] for k in PYSOGS["poll_keys_moderator"]] == [True, False, False, False, False]


def test_info_updates_move_with_pins_and_moderators_but_not_with_posts(app: RoomServerApp, clock: Clock,
                                                                       cast: Cast) -> None:
    def poll(u: User, seen: int, token: str = "lobby") -> dict[str, Any]:
        return dict(ok(u, "GET", f"/room/{token}/pollInfo/{seen}"))

    n = info_updates(app, "lobby")
    # posts, edits and reactions move message_sequence only (pysogs' test_polling)
    msg = ok(cast.member, "POST", "/room/lobby/message", signed(cast.member, b"hello"))
    ok(cast.member, "PUT", f"/room/lobby/message/{msg['id']}", signed(cast.member, b"hello again"))
    ok(cast.other, "PUT", f"/room/lobby/reaction/{msg['id']}/x")
    assert "details" not in poll(cast.member, n)
    # a pin moves it: the old value brings details with the pin, the new one none
    ok(cast.admin, "POST", f"/room/lobby/pin/{msg['id']}")
    got = poll(cast.member, n)
    assert got["details"]["info_updates"] == n + 1 and got["details"]["message_sequence"] == 3
    assert [p["id"] for p in got["details"]["pinned_messages"]] == [msg["id"]]
    assert "details" not in poll(cast.member, n + 1)
    # a new moderator of lobby moves lobby's counter, not dev's
    dev = info_updates(app, "dev")
    ok(cast.owner, "POST", f"/user/{cast.other.id}/moderator", {"rooms": ["lobby"], "moderator": True})
    got = poll(cast.member, n + 1)
    assert got["details"]["info_updates"] == n + 2 and cast.other.id in got["details"]["moderators"]
    assert "details" not in poll(cast.member, dev, "dev")
    # the same grant again changes nothing, so nothing moves
    ok(cast.owner, "POST", f"/user/{cast.other.id}/moderator", {"rooms": ["lobby"], "moderator": True})
    assert "details" not in poll(cast.member, n + 2)
    # removing it moves it again
    ok(cast.owner, "POST", f"/user/{cast.other.id}/moderator", {"rooms": ["lobby"], "moderator": False})
    got = poll(cast.member, n + 2)
    assert got["details"]["info_updates"] == n + 3 and cast.other.id not in got["details"]["moderators"]
    # a global moderator changes every room's details (pysogs' global triggers)
    ok(cast.owner, "POST", f"/user/{cast.other.id}/moderator", {"global": True, "moderator": True, "visible": True})
    assert poll(cast.member, dev, "dev")["details"]["moderators"] == [cast.other.id]
    assert poll(cast.member, n + 3)["details"]["info_updates"] == n + 4


def test_poll_info_refusals(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    n = info_updates(app, "lobby")
    before = _state_without_nonces(app)
    # unsigned: every endpoint but /capabilities needs authentication
    assert app.handle("GET", f"/room/lobby/pollInfo/{n}", {}, None).code == 401
    assert cast.member("GET", "/room/nosuch/pollInfo/0").code == 404
    assert cast.member("GET", "/room/vip/pollInfo/0").code == 403  # not a member of the whitelist room
    for bad in ("abc", "-1", "1.5", "1" * 19, "+1"):
        r = cast.member("GET", f"/room/lobby/pollInfo/{bad}")
        assert r.code == 400 and b"info_updates" in r.body, (bad, r.code, r.body)
    assert cast.member("POST", f"/room/lobby/pollInfo/{n}", {}).code == 405
    assert cast.member("GET", "/room/lobby/pollInfo/").code == 404
    assert _state_without_nonces(app) == before
    # a room ban refuses it (pysogs: read_required), a global one refuses every request
    ok(cast.mod, "POST", f"/user/{cast.member.id}/ban", {"rooms": ["lobby"]})
    r = cast.member("GET", f"/room/lobby/pollInfo/{n}")
    assert r.code == 403 and b"banned" in r.body
    assert cast.member("GET", f"/room/dev/pollInfo/{info_updates(app, 'dev')}").code == 200
    ok(cast.owner, "POST", f"/user/{cast.other.id}/ban", {"global": True})
    assert cast.other("GET", "/room/dev/pollInfo/0").code == 403


# -- messages/before -----------------------------------------------------------------------------


def test_messages_before_pages_back_newest_first_like_pysogs(app: RoomServerApp, clock: Clock) -> None:
    u = User(app, clock)
    posted = [ok(u, "POST", "/room/lobby/message", signed(u, b"m%d" % i))["id"] for i in range(300)]
    assert posted == list(range(1, 301))
    recent = ok(u, "GET", "/room/lobby/messages/recent")
    assert ids(recent) == list(range(300, 200, -1))
    # pysogs' test_fetch_before: recent(100) + before(last, 101) == recent(201)
    more = ok(u, "GET", f"/room/lobby/messages/before/{recent[-1]['id']}?limit=101")
    assert recent + more == ok(u, "GET", "/room/lobby/messages/recent?limit=201")
    # the same message objects as the single-message endpoint
    assert more[0] == ok(u, "GET", f"/room/lobby/message/{more[0]['id']}")
    assert base64.b64decode(more[0]["data"]) == b"m199" and set(more[0]) == {
        "id", "session_id", "posted", "seqno", "data", "signature", "reactions"}
    # default 100; limits outside 1..256 are truncated, as pysogs' get_int_param(truncate=True)
    assert len(ok(u, "GET", "/room/lobby/messages/before/300")) == PYSOGS["before_limit_default"]
    assert len(ok(u, "GET", "/room/lobby/messages/before/300?limit=1000")) == PYSOGS["before_limit_max"]
    assert ids(ok(u, "GET", "/room/lobby/messages/before/300?limit=0")) == [299]
    # walking back to the start with pysogs' page sizes ends with an empty page
    before, expect = 300, 299
    for limit in (45, None, 98, 1, 55):  # 299 in all: the last page ends at id 1
        got = ok(u, "GET", f"/room/lobby/messages/before/{before}" + ("" if limit is None else f"?limit={limit}"))
        size = limit or 100
        assert ids(got) == list(range(expect, expect - size, -1)), limit
        expect -= size
        before = got[-1]["id"]
    assert before == 1 and ok(u, "GET", "/room/lobby/messages/before/1") == []
    assert ok(u, "GET", "/room/lobby/messages/before/0") == []
    # a message of another room is not counted
    ok(u, "POST", "/room/dev/message", signed(u, b"elsewhere"))
    assert ok(u, "GET", "/room/dev/messages/before/1000")[0]["id"] == 301
    assert ids(ok(u, "GET", "/room/lobby/messages/before/1000?limit=1")) == [300]


def test_messages_before_leaves_out_deleted_and_shows_reactions_and_edits(app: RoomServerApp, clock: Clock,
                                                                          cast: Cast) -> None:
    m = [ok(cast.member, "POST", "/room/lobby/message", signed(cast.member, b"p%d" % i))["id"] for i in range(5)]
    ok(cast.member, "DELETE", f"/room/lobby/message/{m[3]}")
    ok(cast.mod, "DELETE", f"/room/lobby/message/{m[1]}")
    ok(cast.member, "PUT", f"/room/lobby/message/{m[2]}", signed(cast.member, b"p2 edited"))
    ok(cast.other, "PUT", f"/room/lobby/reaction/{m[2]}/ok")
    got = ok(cast.other, "GET", f"/room/lobby/messages/before/{m[4] + 1}")
    assert ids(got) == [m[4], m[2], m[0]]
    edited = got[1]
    assert base64.b64decode(edited["data"]) == b"p2 edited" and "edited" in edited
    assert edited["reactions"] == {"ok": {"index": 0, "count": 1, "reactors": [cast.other.id], "you": True}}
    # reactors=0 leaves the reactor list out, as on the other read paths
    assert ok(cast.member, "GET", f"/room/lobby/messages/before/{m[4]}?reactors=0")[0]["reactions"] == {
        "ok": {"index": 0, "count": 1}}


def test_messages_before_shows_whispers_by_the_one_rule(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    public = ok(cast.member, "POST", "/room/lobby/message", signed(cast.member, b"public"))["id"]
    post = lambda text, **w: ok(cast.mod, "POST", "/room/lobby/message", signed(cast.mod, text, **w))["id"]  # noqa: E731
    to_member = post(b"to member", whisper_to=cast.member.id)
    to_mods = post(b"to mods", whisper_mods=True)
    to_both = post(b"to member and mods", whisper_to=cast.member.id, whisper_mods=True)
    top = to_both + 1
    expected = {  # pysogs' rule (whispers.py): the named user, moderators for whisper_mods, the author
        "member": [to_both, to_member, public],
        "other": [public],
        "mod": [to_both, to_mods, to_member, public],
        "admin": [to_both, to_mods, public],
        "owner": [to_both, to_mods, public],
    }
    readers = {"member": cast.member, "other": cast.other, "mod": cast.mod, "admin": cast.admin, "owner": cast.owner}
    for name, reader in readers.items():
        got = ok(reader, "GET", f"/room/lobby/messages/before/{top}")
        assert ids(got) == expected[name], name
        # the same set as the other read paths give this reader
        since = ok(reader, "GET", "/room/lobby/messages/since/0")
        assert sorted(ids(got)) == sorted(ids(since)), name
        assert ids(got) == ids(ok(reader, "GET", "/room/lobby/messages/recent")), name
    whisper = ok(cast.member, "GET", f"/room/lobby/messages/before/{top}")[0]
    assert whisper["whisper"] is True and whisper["whisper_mods"] is True and whisper["whisper_to"] == cast.member.id
    # a page boundary inside the whispers does not reveal them to others either
    assert ids(ok(cast.other, "GET", f"/room/lobby/messages/before/{top}?limit=1")) == [public]


def test_messages_before_refusals_change_nothing(app: RoomServerApp, clock: Clock, cast: Cast) -> None:
    ok(cast.member, "POST", "/room/lobby/message", signed(cast.member, b"x"))
    before = _state_without_nonces(app)
    assert app.handle("GET", "/room/lobby/messages/before/5", {}, None).code == 401
    assert cast.member("GET", "/room/nosuch/messages/before/5").code == 404
    assert cast.member("GET", "/room/vip/messages/before/5").code == 403
    for bad in ("abc", "-1", "1e3", "1" * 19, "0x10"):
        r = cast.member("GET", f"/room/lobby/messages/before/{bad}")
        assert r.code == 400 and b"message id" in r.body, (bad, r.code, r.body)
    for bad in ("abc", "-5", "1.5", "", "9" * 12):
        r = cast.member("GET", f"/room/lobby/messages/before/5?limit={bad}")
        if bad == "":  # an empty value is no value (parse_qs drops it): the default applies
            assert r.code == 200
            continue
        assert r.code == 400 and b"limit" in r.body, (bad, r.code, r.body)
    assert cast.member("GET", "/room/lobby/messages/before/5?reactors=x").code == 400
    assert cast.member("DELETE", "/room/lobby/messages/before/5").code == 405
    assert _state_without_nonces(app) == before
    ok(cast.mod, "POST", f"/user/{cast.member.id}/ban", {"rooms": ["lobby"], "timeout": 60})
    r = cast.member("GET", "/room/lobby/messages/before/5")
    assert r.code == 403 and b"banned" in r.body
    clock.t += 61  # a timed ban ends on time
    assert ids(ok(cast.member, "GET", "/room/lobby/messages/before/5")) == [1]


# -- inside batches ------------------------------------------------------------------------------


def test_both_work_inside_batch_and_sequence_as_session_desktop_polls(app: RoomServerApp, clock: Clock,
                                                                      cast: Cast) -> None:
    for i in range(3):
        ok(cast.member, "POST", "/room/lobby/message", signed(cast.member, b"b%d" % i))
    n = info_updates(app, "lobby")
    # session-desktop's poll: capabilities, then per room pollInfo with infoUpdated 0 and messages
    subs = [{"method": "GET", "path": "/capabilities"},
            {"method": "GET", "path": "/room/lobby/pollInfo/0"},
            {"method": "GET", "path": f"/room/lobby/pollInfo/{n}"},
            {"method": "GET", "path": "/room/lobby/messages/before/3?limit=5"},
            {"method": "GET", "path": "/room/lobby/messages/since/0"}]
    out = ok(cast.other, "POST", "/batch", subs)
    assert [o["code"] for o in out] == [200] * 5
    assert out[1]["body"] == ok(cast.other, "GET", "/room/lobby/pollInfo/0")
    assert "details" in out[1]["body"] and "details" not in out[2]["body"]
    assert ids(out[3]["body"]) == [2, 1]
    # /sequence stops at the first failure: an unknown room, a bad id
    seq = ok(cast.other, "POST", "/sequence", [{"method": "GET", "path": f"/room/lobby/pollInfo/{n}"},
                                               {"method": "GET", "path": "/room/lobby/messages/before/x"},
                                               {"method": "GET", "path": "/room/lobby/pollInfo/0"}])
    assert [o["code"] for o in seq] == [200, 400]
    batch = ok(cast.other, "POST", "/batch", [{"method": "GET", "path": "/room/nosuch/pollInfo/0"},
                                              {"method": "GET", "path": "/room/vip/messages/before/9"}])
    assert [o["code"] for o in batch] == [404, 403]


def test_a_restart_moves_info_updates_only_when_the_rooms_settings_changed(tmp_path: Path, clock: Clock) -> None:
    with running_app(tmp_path, clock) as app:
        u = User(app, clock)
        n = info_updates(app, "lobby")
        assert "details" not in ok(u, "GET", f"/room/lobby/pollInfo/{n}")
    with running_app(tmp_path, clock) as app:  # same settings: pollers keep their copy
        u = User(app, clock)
        assert info_updates(app, "lobby") == n and "details" not in ok(u, "GET", f"/room/lobby/pollInfo/{n}")
    from session_core.opengroup import OpenGroupConfig
    from session_core.server_keys import ServerKeys
    keys = ServerKeys.load_or_create(tmp_path, "k")
    cfg = OpenGroupConfig(tmp_path, rooms=[RoomSpec("lobby", "The Lobby"), RoomSpec("dev", "Dev")])
    app = RoomServerApp(cfg, keys.x25519_public, clock=clock)
    try:
        u = User(app, clock)
        got = ok(u, "GET", f"/room/lobby/pollInfo/{n}")
        assert got["details"]["name"] == "The Lobby" and got["details"]["info_updates"] == n + 1
        assert "details" not in ok(u, "GET", f"/room/dev/pollInfo/{info_updates(app, 'dev')}")
    finally:
        app.close()
