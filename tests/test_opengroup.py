"""The room server's core in memory (no sockets): rooms, posts with seqno paging, edits and
deletes, moderators, whitelist rooms, bans (room/global, timed/permanent) covering posts,
uploads and DMs, rate limits, batches — and hostile input, which must change nothing."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from session_core import blinding
from session_core.blinding import BlindedKeyPair
from session_core.opengroup import OpenGroupConfig, RoomServerApp, RoomSpec
from session_core.opengroup.http import Response
from session_core.rooms.auth import sign_request

SERVER_SEED = bytes(range(32))


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


class User:
    def __init__(self, app: RoomServerApp, clock: Clock) -> None:
        self.seed = os.urandom(32)
        self.keys: BlindedKeyPair = blinding.blind15_key_pair(self.seed, app.server_pk)
        self.app = app
        self.clock = clock

    @property
    def id(self) -> str:
        return self.keys.blinded_id

    @property
    def session_id(self) -> str:
        from nacl.signing import SigningKey

        return blinding.session_id_of(bytes(SigningKey(self.seed).verify_key))

    def headers(self, method: str, path: str, body: bytes | None, **kw: Any) -> dict[str, str]:
        return sign_request(self.keys, self.app.server_pk, method, path, body, timestamp=int(self.clock()), **kw)

    def raw(self, method: str, path: str, body: bytes | None = None) -> Response:
        return self.app.handle(method, path, self.headers(method, path, body), body)

    def __call__(self, method: str, path: str, obj: Any = None) -> Response:
        return self.raw(method, path, None if obj is None else json.dumps(obj).encode())

    def post(self, token: str, text: bytes) -> Response:
        return self("POST", f"/room/{token}/message", {"data": base64.b64encode(text).decode(),
                                                       "signature": base64.b64encode(self.keys.sign(text)).decode()})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[RoomServerApp]:
    with running_app(tmp_path, clock, [RoomSpec("vip", "VIP", whitelist=True)], post_rate_count=3,
                     post_rate_interval=10.0, max_post_bytes=1000, max_file_bytes=5000) as a:
        yield a


@contextlib.contextmanager
def running_app(tmp_path: Path, clock: Clock, more_rooms: Sequence[RoomSpec] = (), **settings: Any) -> Iterator[RoomServerApp]:
    """A room server app on *clock* with the rooms lobby and dev (and *more_rooms*), the
    OpenGroupConfig *settings* given, closed afterwards (the tests' `app` fixtures)."""
    from session_core.server_keys import ServerKeys

    keys = ServerKeys.load_or_create(tmp_path, "k")
    cfg = OpenGroupConfig(tmp_path, rooms=[RoomSpec("lobby", "Lobby"), RoomSpec("dev", "Dev"), *more_rooms], **settings)
    a = RoomServerApp(cfg, keys.x25519_public, clock=clock)
    try:
        yield a
    finally:
        a.close()


def admin_of(app: RoomServerApp, clock: Clock) -> User:
    """A user made global admin the way an operator does (``--admin`` at start)."""
    u = User(app, clock)
    from session_core.opengroup import users

    users.set_moderator(app.db, users.get_or_create(app.db, u.id, clock()), users.GLOBAL, admin=True, visible=False)
    app.perms.invalidate()
    return u


def snapshot(db: sqlite3.Connection) -> dict[str, list[Any]]:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}


def test_post_poll_edit_delete_with_seqnos(app: RoomServerApp, clock: Clock) -> None:
    alice, bob = User(app, clock), User(app, clock)
    r = alice.post("lobby", b"hello")
    assert r.code == 201, r.body
    first = r.json()
    assert first["session_id"] == alice.id and first["seqno"] == 1
    assert bob.post("lobby", b"hi alice").code == 201
    msgs = bob("GET", "/room/lobby/messages/since/0").json()
    assert [base64.b64decode(m["data"]) for m in msgs] == [b"hello", b"hi alice"]
    assert all(blinding.verify_blinded(m["session_id"], base64.b64decode(m["data"]), base64.b64decode(m["signature"]))
               for m in msgs)
    # paging
    assert [m["seqno"] for m in bob("GET", "/room/lobby/messages/since/0?limit=1").json()] == [1]
    assert bob("GET", "/room/lobby/messages/since/2").json() == []
    # an edit and a deletion come back as updates with new seqnos
    text = b"hello, edited"
    assert alice("PUT", f"/room/lobby/message/{first['id']}",
                 {"data": base64.b64encode(text).decode(), "signature": base64.b64encode(alice.keys.sign(text)).decode()}).code == 200
    assert bob("PUT", f"/room/lobby/message/{first['id']}",
               {"data": base64.b64encode(b"x").decode(), "signature": base64.b64encode(bob.keys.sign(b"x")).decode()}).code == 403
    upd = bob("GET", "/room/lobby/messages/since/2").json()
    assert len(upd) == 1 and upd[0]["seqno"] == 3 and upd[0]["edited"] and base64.b64decode(upd[0]["data"]) == text
    assert bob("DELETE", f"/room/lobby/message/{first['id']}").code == 403  # not bob's
    assert alice("DELETE", f"/room/lobby/message/{first['id']}").code == 200
    upd = bob("GET", "/room/lobby/messages/since/3").json()
    assert upd[0]["data"] is None and upd[0]["deleted"] and "signature" not in upd[0]
    assert [m["id"] for m in bob("GET", "/room/lobby/messages/recent").json()] == [2]
    assert bob("GET", "/room/lobby").json()["message_sequence"] == 4


def test_rooms_list_info_and_capabilities(app: RoomServerApp, clock: Clock) -> None:
    u = User(app, clock)
    caps = app.handle("GET", "/capabilities", {}, None)
    assert caps.code == 200 and "blind" in caps.json()["capabilities"]
    assert app.handle("GET", "/capabilities?required=blind,xyz", {}, None).json()["missing"] == ["xyz"]
    tokens = [r["token"] for r in u("GET", "/rooms").json()]
    assert tokens == ["dev", "lobby"]  # the whitelist room is not listed for outsiders
    info = u("GET", "/room/lobby").json()
    assert info["name"] == "Lobby" and info["read"] and info["write"] and not info.get("moderator")
    assert u("GET", "/room/nope").code == 404


def test_moderator_delete_and_delete_all(app: RoomServerApp, clock: Clock) -> None:
    admin, mod, spammer = admin_of(app, clock), User(app, clock), User(app, clock)
    assert admin("POST", f"/user/{mod.id}/moderator", {"rooms": ["lobby"], "moderator": True}).code == 200
    assert mod("GET", "/room/lobby").json()["moderator"] is True
    assert mod.id in admin("GET", "/room/lobby").json()["moderators"]
    assert mod("POST", f"/user/{spammer.id}/moderator", {"rooms": ["lobby"], "moderator": True}).code == 403
    ids = [spammer.post("lobby", f"spam {i}".encode()).json()["id"] for i in range(3)]
    assert mod("DELETE", f"/room/lobby/message/{ids[0]}").code == 200
    assert mod("DELETE", f"/room/dev/all/{spammer.id}").code == 403  # not a moderator of dev
    assert mod("DELETE", f"/room/lobby/all/{spammer.id}").json() == {"deleted": 2}
    assert mod("GET", "/room/lobby/messages/recent").json() == []


def test_room_ban_covers_posts_reads_uploads_and_dms_and_expires(app: RoomServerApp, clock: Clock) -> None:
    mod, bad, friend = admin_of(app, clock), User(app, clock), User(app, clock)
    assert bad.post("lobby", b"first").code == 201
    assert friend.post("lobby", b"hi").code == 201
    assert bad("POST", f"/user/{friend.id}/ban", {"rooms": ["lobby"]}).code == 403  # not a mod
    assert mod("POST", f"/user/{bad.id}/ban", {"rooms": ["lobby"], "timeout": 60}).code == 200
    assert bad.post("lobby", b"again").code == 403
    assert b"banned" in bad("GET", "/room/lobby/messages/since/0").body
    assert bad.raw("POST", "/room/lobby/file", b"data").code == 403
    assert bad("POST", f"/inbox/{friend.id}", {"message": base64.b64encode(b"psst").decode()}).code == 404
    assert bad.post("dev", b"elsewhere is fine").code == 201  # a room ban is for that room
    bans = mod("GET", "/bans").json()
    assert [(b["session_id"], b["room"], b["global"]) for b in bans] == [(bad.id, "lobby", False)]
    assert bans[0]["until"] == pytest.approx(clock() + 60)
    clock.t += 61
    assert bad.post("lobby", b"back").code == 201
    assert mod("GET", "/bans").json() == []


def test_global_ban_by_session_id_refuses_everything_until_unbanned(app: RoomServerApp, clock: Clock) -> None:
    mod, bad = admin_of(app, clock), User(app, clock)
    assert bad.post("lobby", b"x").code == 201
    # a moderator who knows the Session ID (not the blinded one) bans it: both candidates banned
    assert mod("POST", f"/user/{bad.session_id}/ban", {"global": True}).code == 200
    for r in (bad("GET", "/rooms"), bad.post("dev", b"y"), bad("GET", "/inbox")):
        assert r.code == 403 and b"banned" in r.body
    listed = {b["session_id"] for b in mod("GET", "/bans").json()}
    assert bad.id in listed and len(listed) == 2
    clock.t += 10 * 365 * 86400  # permanent
    assert bad("GET", "/rooms").code == 403
    assert mod("POST", f"/user/{bad.id}/unban", {"global": True}).code == 200
    assert bad("GET", "/rooms").code == 200


def test_only_global_admins_ban_moderators(app: RoomServerApp, clock: Clock) -> None:
    admin, mod1, mod2 = admin_of(app, clock), User(app, clock), User(app, clock)
    for m in (mod1, mod2):
        assert admin("POST", f"/user/{m.id}/moderator", {"rooms": ["lobby"], "moderator": True}).code == 200
    before = _state_without_nonces(app)
    assert mod1("POST", f"/user/{mod2.id}/ban", {"rooms": ["lobby"]}).code == 403
    assert mod1("POST", f"/user/{mod2.id}/ban", {"global": True}).code == 403
    assert _state_without_nonces(app) == before


def test_whitelist_room(app: RoomServerApp, clock: Clock) -> None:
    admin, member, outsider = admin_of(app, clock), User(app, clock), User(app, clock)
    assert outsider.post("vip", b"let me in").code == 403
    assert b"whitelist" in outsider("GET", "/room/vip/messages/since/0").body
    assert admin("POST", f"/user/{member.id}/allow", {"rooms": ["vip"], "allow": True}).code == 200
    assert member.post("vip", b"inside").code == 201
    assert "vip" in [r["token"] for r in member("GET", "/rooms").json()]
    assert admin("POST", f"/user/{member.id}/allow", {"rooms": ["vip"], "allow": False}).code == 200
    assert member("GET", "/room/vip/messages/since/0").code == 403


def test_rate_limit_counts_only_accepted_posts(app: RoomServerApp, clock: Clock) -> None:
    u = User(app, clock)
    assert [u.post("lobby", b"m%d" % i).code for i in range(4)] == [201, 201, 201, 429]
    assert u.post("dev", b"other room").code == 201  # per room
    clock.t += 10.5
    assert u.post("lobby", b"later").code == 201
    mod = admin_of(app, clock)
    assert [mod.post("lobby", b"mod %d" % i).code for i in range(5)] == [201] * 5  # moderators are not limited


def test_blinded_dms_between_room_members(app: RoomServerApp, clock: Clock) -> None:
    a, b, stranger = User(app, clock), User(app, clock), User(app, clock)
    a.post("lobby", b"x")
    b("GET", "/room/lobby/messages/since/0")
    stranger("GET", "/room/dev/messages/since/0")
    r = a("POST", f"/inbox/{b.id}", {"message": base64.b64encode(b"sealed box").decode()})
    assert r.code == 201 and r.json()["recipient"] == b.id
    got = b("GET", "/inbox").json()
    assert [(m["sender"], base64.b64decode(m["message"])) for m in got] == [(a.id, b"sealed box")]
    assert b("GET", f"/inbox/since/{got[0]['id']}").json() == []
    assert a("GET", "/outbox").json()[0]["recipient"] == b.id
    assert stranger("POST", f"/inbox/{b.id}", {"message": "eA=="}).code == 404  # no shared room
    assert a("POST", f"/inbox/{'15' + '00' * 32}", {"message": "eA=="}).code == 404


def test_uploads(app: RoomServerApp, clock: Clock) -> None:
    u = User(app, clock)
    r = u.raw("POST", "/room/lobby/file", b"\x00file bytes")
    assert r.code == 201
    got = u("GET", f"/room/lobby/file/{r.json()['id']}")
    assert got.code == 200 and got.body == b"\x00file bytes"
    before = snapshot(app.db)
    assert u.raw("POST", "/room/lobby/file", b"z" * 5001).code == 413
    assert snapshot(app.db)["files"] == before["files"]


def test_batch_and_sequence(app: RoomServerApp, clock: Clock) -> None:
    u = User(app, clock)
    u.post("lobby", b"a")
    u.post("dev", b"b")
    res = u("POST", "/batch", [{"method": "GET", "path": "/room/lobby/messages/since/0"},
                               {"method": "GET", "path": "/room/dev/messages/since/0"},
                               {"method": "GET", "path": "/room/nope/messages/since/0"},
                               {"method": "POST", "path": "/room/dev/message",
                                "json": {"data": "eQ==", "signature": base64.b64encode(u.keys.sign(b"y")).decode()}}])
    assert res.code == 200
    out = res.json()
    assert [o["code"] for o in out] == [200, 200, 404, 201]
    assert base64.b64decode(out[0]["body"][0]["data"]) == b"a"
    seq = u("POST", "/sequence", [{"method": "GET", "path": "/room/nope"}, {"method": "GET", "path": "/rooms"}])
    assert [o["code"] for o in seq.json()] == [404]
    assert u("POST", "/batch", [{"method": "POST", "path": "/batch", "json": []}]).json()[0]["code"] == 400


# -- hostile input: a clear error and no state change ---------------------------------------------


def _state_without_nonces(app: RoomServerApp) -> dict[str, list[Any]]:
    app.flush()  # what waits in memory counts too
    return {k: v for k, v in snapshot(app.db).items() if k != "nonces"}


def test_unsigned_forged_stale_and_replayed_requests(app: RoomServerApp, clock: Clock) -> None:
    u, other = User(app, clock), User(app, clock)
    assert u.post("lobby", b"seed").code == 201
    data = b"forged"
    body = json.dumps({"data": base64.b64encode(data).decode(), "signature": base64.b64encode(u.keys.sign(data)).decode()}).encode()
    path = "/room/lobby/message"
    app.flush()
    before = snapshot(app.db)
    # unsigned
    r = app.handle("POST", path, {}, body)
    assert r.code == 401 and b"authentication" in r.body
    # some headers only
    h = u.headers("POST", path, body)
    r = app.handle("POST", path, {"X-SOGS-Pubkey": h["X-SOGS-Pubkey"]}, body)
    assert r.code == 400 and b"missing 3" in r.body
    # signed by another key, claiming u's ID
    forged = other.headers("POST", path, body)
    forged["X-SOGS-Pubkey"] = u.id
    assert app.handle("POST", path, forged, body).code == 401
    # body swapped after signing
    assert app.handle("POST", path, h, body.replace(b"}", b' }')).code == 401
    # path swapped after signing
    assert app.handle("POST", "/room/dev/message", h, body).code == 401
    # stale and future timestamps
    old = u.headers("POST", path, body)
    clock.t += 3601
    r = app.handle("POST", path, old, body)
    assert r.code == 425 and b"clock" in r.body
    clock.t -= 3601
    # unblinded key, garbage encodings
    for k, v in (("X-SOGS-Pubkey", "00" + u.id[2:]), ("X-SOGS-Pubkey", "15" + "zz" * 32), ("X-SOGS-Nonce", "short"),
                 ("X-SOGS-Timestamp", "12e9"), ("X-SOGS-Signature", "@@@@"), ("X-SOGS-Timestamp", "-5")):
        bad = dict(h)
        bad[k] = v
        assert app.handle("POST", path, bad, body).code == 400, (k, v)
    app.flush()
    assert snapshot(app.db) == before  # not even a nonce was recorded
    # the genuine request once, then its replay (before and after its nonce reaches the disk)
    assert app.handle("POST", path, h, body).code == 201
    after = _state_without_nonces(app)
    r = app.handle("POST", path, h, body)
    assert r.code == 425 and b"Nonce" in r.body
    app.flush()
    assert app.handle("POST", path, h, body).code == 425
    assert _state_without_nonces(app) == after


@pytest.mark.parametrize("body", [
    b"not json", b"\xff\xfe", b"[]", b"null", b'{"data": 5, "signature": "x"}',
    b'{"data": "aGVsbG8=", "signature": "not base64!"}', b'{"data": "aGVsbG8=", "signature": "AAAA"}',
    b'{"data": "aGVsbG8=", "signature": "' + base64.b64encode(b"\0" * 64) + b'"}',
    b'{"data": "\'; DROP TABLE messages; --", "signature": "x"}',
    json.dumps({"data": base64.b64encode(b"x" * 1001).decode(), "signature": base64.b64encode(b"\0" * 64).decode()}).encode(),
])
def test_garbage_posts_change_nothing(app: RoomServerApp, clock: Clock, body: bytes) -> None:
    u = User(app, clock)
    u("GET", "/rooms")
    before = _state_without_nonces(app)
    r = u.raw("POST", "/room/lobby/message", body)
    assert r.code in (400, 413), r.body
    assert r.content_type == "text/plain" and r.body
    assert _state_without_nonces(app) == before


def test_oversized_post_is_413(app: RoomServerApp, clock: Clock) -> None:
    u = User(app, clock)
    big = b"x" * 1001
    r = u("POST", "/room/lobby/message", {"data": base64.b64encode(big).decode(),
                                         "signature": base64.b64encode(u.keys.sign(big)).decode()})
    assert r.code == 413 and b"1000" in r.body


@pytest.mark.parametrize("path", [
    "/room/lobby'--/messages/since/0", "/room/lobby/messages/since/-1", "/room/lobby/messages/since/1e9",
    "/room/lobby/messages/since/99999999999999999999999", "/room/" + "a" * 65, "/room/../../etc/passwd",
    "/room/lobby/messages/since/0?limit=abc", "/user/15xyz/ban", "/nothing",
])
def test_hostile_paths(app: RoomServerApp, clock: Clock, path: str) -> None:
    u = User(app, clock)
    u("GET", "/rooms")
    before = _state_without_nonces(app)
    r = u("GET", path)
    assert r.code in (400, 404, 405), (path, r.code)
    assert _state_without_nonces(app) == before


@pytest.mark.parametrize("batch", [
    b"{}", b"[]", b"[1]", b'[{"method": "PATCH", "path": "/rooms"}]', b'[{"method": "GET", "path": "rooms"}]',
    b'[{"method": "GET", "path": "/rooms", "json": {}}]', b'[{"method": "POST", "path": "/room/lobby/message"}]',
    b'[{"method": "POST", "path": "/room/lobby/file", "b64": "!!"}]',
    json.dumps([{"method": "GET", "path": "/rooms"}] * 65).encode(),
])
def test_garbage_batches_are_400_and_run_nothing(app: RoomServerApp, clock: Clock, batch: bytes) -> None:
    u = User(app, clock)
    u("GET", "/rooms")
    before = _state_without_nonces(app)
    r = u.raw("POST", "/batch", batch)
    assert r.code == 400
    assert _state_without_nonces(app) == before


def test_bad_moderation_requests(app: RoomServerApp, clock: Clock) -> None:
    admin, u = admin_of(app, clock), User(app, clock)
    u("GET", "/rooms")
    before = _state_without_nonces(app)
    for body in ({}, {"rooms": ["lobby"], "global": True}, {"rooms": "lobby"}, {"rooms": ["lobby"], "timeout": "soon"},
                 {"rooms": ["lobby"], "timeout": -1}, {"global": "yes"}):
        assert admin("POST", f"/user/{u.id}/ban", body).code == 400, body
    assert admin("POST", f"/user/{u.id}/ban", {"rooms": ["nope"]}).code == 404
    assert admin("POST", f"/user/{admin.id}/ban", {"global": True}).code == 400
    assert admin("POST", f"/user/{u.id}/moderator", {"rooms": ["lobby"], "admin": True, "moderator": False}).code == 400
    assert admin("POST", f"/user/{u.id}/moderator", {"rooms": ["lobby"]}).code == 400
    assert u("GET", "/bans").code == 403
    assert _state_without_nonces(app) == before
