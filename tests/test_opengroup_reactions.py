"""Reactions and files linked from posts on the room server, in memory: pysogs' shapes
(``PUT``/``DELETE /room/T/reaction/ID/EMOJI``, ``reactions`` in messages, ``files`` in posts),
and bad input — unknown messages, banned users, too-long reactions, the rate limit — that gets
a clear error and changes nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
import sqlite3
import urllib.parse
from pathlib import Path

import pytest

from session_core.opengroup import RoomServerApp
from session_core.opengroup import db as schema
from session_core.opengroup.http import Response
from tests.test_opengroup import Clock, User, _state_without_nonces, running_app
from tests.test_opengroup import admin_of as _admin_of

THUMBS = "\N{THUMBS UP SIGN}"
FAMILY = "\N{MAN}\u200d\N{WOMAN}\u200d\N{GIRL}\u200d\N{BOY}"  # 7 code points, one emoji


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[RoomServerApp]:
    with running_app(tmp_path, clock, reaction_rate_count=4, reaction_rate_interval=10.0, max_file_bytes=5000) as a:
        yield a


def reaction_path(token: str, msg_id: int, reaction: str, *, encode: bool = True) -> str:
    return f"/room/{token}/reaction/{msg_id}/{urllib.parse.quote(reaction, safe='') if encode else reaction}"


class Reactor(User):
    """Signs the path with its percent-escapes decoded, as pysogs wants (and RoomClient does)."""

    def raw(self, method: str, path: str, body: bytes | None = None) -> Response:
        route, sep, query = path.partition("?")
        signed = urllib.parse.unquote(route, errors="replace") + sep + query
        return self.app.handle(method, path, self.headers(method, signed, body), body)


def test_react_unreact_and_reactions_in_messages(app: RoomServerApp, clock: Clock) -> None:
    a, b, c = Reactor(app, clock), Reactor(app, clock), Reactor(app, clock)
    msg = a.post("lobby", b"react to me").json()
    r = b("PUT", reaction_path("lobby", msg["id"], THUMBS), {})
    assert r.code == 200 and r.json() == {"added": True, "seqno": msg["seqno"] + 1}
    assert b("PUT", reaction_path("lobby", msg["id"], THUMBS), {}).json() == {"added": False, "seqno": msg["seqno"] + 1}
    clock.t += 1
    # raw UTF-8 in the path works too (onion requests may send it unencoded)
    assert c("PUT", reaction_path("lobby", msg["id"], FAMILY, encode=False), {}).json()["added"] is True
    clock.t += 1
    assert c("PUT", reaction_path("lobby", msg["id"], THUMBS), {}).json()["added"] is True
    got = b("GET", f"/room/lobby/message/{msg['id']}").json()["reactions"]
    assert got[THUMBS] == {"index": 0, "count": 2, "reactors": [b.id, c.id], "you": True}
    assert got[FAMILY] == {"index": 1, "count": 1, "reactors": [c.id]}
    assert "reactors" not in a("GET", f"/room/lobby/message/{msg['id']}?reactors=0").json()["reactions"][THUMBS]
    # polls: reaction-only updates only with t=r, as {id, seqno, reactions}
    assert a("GET", f"/room/lobby/messages/since/{msg['seqno']}").json() == []
    upd = a("GET", f"/room/lobby/messages/since/{msg['seqno']}?t=r").json()
    assert upd == [{"id": msg["id"], "seqno": msg["seqno"] + 3, "reactions": a("GET", f"/room/lobby/message/{msg['id']}").json()["reactions"]}]
    assert b64(a("GET", "/room/lobby/messages/since/0").json()[0]["data"]) == b"react to me"
    # removing: only one's own
    r = b("DELETE", reaction_path("lobby", msg["id"], THUMBS))
    assert r.json() == {"removed": True, "seqno": msg["seqno"] + 4}
    assert b("DELETE", reaction_path("lobby", msg["id"], THUMBS)).json()["removed"] is False
    assert a("DELETE", reaction_path("lobby", msg["id"], FAMILY)).json()["removed"] is False  # c's stays
    got = a("GET", f"/room/lobby/message/{msg['id']}").json()["reactions"]
    assert {k: v["count"] for k, v in got.items()} == {THUMBS: 1, FAMILY: 1}
    # a deleted message drops its reactions
    assert a("DELETE", f"/room/lobby/message/{msg['id']}").code == 200
    assert app.db.execute("SELECT COUNT(*) FROM reactions").fetchone()[0] == 0
    assert b("PUT", reaction_path("lobby", msg["id"], THUMBS), {}).code == 404


def admin_of(app: RoomServerApp, clock: Clock) -> Reactor:
    admin = _admin_of(app, clock)
    admin.__class__ = Reactor
    return admin  # type: ignore[return-value]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_poll_answers_with_reactions_say_you_per_user(app: RoomServerApp, clock: Clock) -> None:
    """The since-cache must not hand one user's "you" to another."""
    a, b = Reactor(app, clock), Reactor(app, clock)
    msg = a.post("lobby", b"x").json()
    assert b("PUT", reaction_path("lobby", msg["id"], THUMBS), {}).code == 200
    assert b("GET", "/room/lobby/messages/since/0").json()[0]["reactions"][THUMBS]["you"] is True
    assert "you" not in a("GET", "/room/lobby/messages/since/0").json()[0]["reactions"][THUMBS]


@pytest.mark.parametrize("reaction", ["", "x" * 13, "%ff%fe", "a%0ab", "%00", "%F0%9F%91"])
def test_bad_reactions_are_400_and_change_nothing(app: RoomServerApp, clock: Clock, reaction: str) -> None:
    a = Reactor(app, clock)
    msg = a.post("lobby", b"x").json()
    before = _state_without_nonces(app)
    r = a("PUT", reaction_path("lobby", msg["id"], reaction, encode=False), {})
    assert r.code in (400, 404, 405), r.body  # the empty one matches no endpoint
    if reaction:
        assert r.code == 400 and r.content_type == "text/plain"
    assert _state_without_nonces(app) == before


def test_reactions_refused_for_unknown_messages_banned_users_and_too_fast(app: RoomServerApp, clock: Clock) -> None:
    mod, a, bad = admin_of(app, clock), Reactor(app, clock), Reactor(app, clock)
    msg = a.post("lobby", b"x").json()
    other_room = a.post("dev", b"y").json()
    assert mod("POST", f"/user/{bad.id}/ban", {"rooms": ["lobby"]}).code == 200
    before = _state_without_nonces(app)
    assert a("PUT", reaction_path("lobby", 999, THUMBS), {}).code == 404
    assert a("PUT", reaction_path("lobby", other_room["id"], THUMBS), {}).code == 404  # not in this room
    assert a("PUT", reaction_path("nope", msg["id"], THUMBS), {}).code == 404
    r = bad("PUT", reaction_path("lobby", msg["id"], THUMBS), {})
    assert r.code == 403 and b"banned" in r.body
    assert bad("DELETE", reaction_path("lobby", msg["id"], THUMBS)).code == 403
    assert app.handle("PUT", reaction_path("lobby", msg["id"], THUMBS), {}, b"{}").code == 401  # unsigned
    assert _state_without_nonces(app) == before
    # rate limit: 4 changes per 10 s per room; refused ones are not counted; moderators exempt
    codes = [a("PUT" if i % 2 == 0 else "DELETE", reaction_path("lobby", msg["id"], THUMBS), {} if i % 2 == 0 else None).code
             for i in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    before = _state_without_nonces(app)
    r = a("PUT", reaction_path("lobby", msg["id"], FAMILY), {})
    assert r.code == 429 and b"too fast" in r.body
    assert _state_without_nonces(app) == before
    assert a("PUT", reaction_path("dev", other_room["id"], THUMBS), {}).code == 200  # per room
    assert [mod("PUT", reaction_path("lobby", msg["id"], str(i)), {}).code for i in range(6)] == [200] * 6
    clock.t += 10.5
    assert a("PUT", reaction_path("lobby", msg["id"], FAMILY), {}).code == 200


def test_files_attached_to_posts_are_kept_unattached_ones_expire(app: RoomServerApp, clock: Clock) -> None:
    a, b = Reactor(app, clock), Reactor(app, clock)
    kept = a.raw("POST", "/room/lobby/file", b"attached bytes").json()["id"]
    loose = a.raw("POST", "/room/lobby/file", b"never posted").json()["id"]
    theirs = b.raw("POST", "/room/lobby/file", b"b's file").json()["id"]
    r = a("POST", "/room/lobby/message", {**signed(a, b"see file"), "files": [kept, theirs, 424242]})
    assert r.code == 201
    rows = dict(app.db.execute("SELECT id, message FROM files").fetchall())
    assert rows == {kept: r.json()["id"], loose: None, theirs: None}  # only one's own uploads attach
    clock.t += 3601
    app.purge()
    assert b("GET", f"/room/lobby/file/{kept}").body == b"attached bytes"
    assert b("GET", f"/room/lobby/file/{loose}").code == 404
    assert b("GET", f"/room/dev/file/{kept}").code == 404  # files belong to their room
    clock.t += 15 * 86400
    assert b("GET", f"/room/lobby/file/{kept}").code == 404


@pytest.mark.parametrize("files", ["1", [True], [-1], [1.5], list(range(1, 18)), [2**63]])
def test_bad_files_lists_are_400_and_change_nothing(app: RoomServerApp, clock: Clock, files: object) -> None:
    a = Reactor(app, clock)
    a("GET", "/rooms")
    before = _state_without_nonces(app)
    r = a("POST", "/room/lobby/message", {**signed(a, b"x"), "files": files})
    assert r.code == 400 and b"files" in r.body
    assert _state_without_nonces(app) == before


def signed(u: Reactor, data: bytes) -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "signature": base64.b64encode(u.keys.sign(data)).decode()}


def test_a_database_of_the_first_version_is_brought_up_to_date(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "old.db")
    first = schema.SCHEMA.replace("    signature BLOB,\n    seqno_data INTEGER,\n    whisper_to INTEGER REFERENCES users(id),\n"
                                  "    whisper_mods INTEGER NOT NULL DEFAULT 0\n", "    signature BLOB\n")
    assert first != schema.SCHEMA
    old.executescript(first
                      .replace(",\n    message INTEGER REFERENCES messages(id)\n", "\n"))
    old.execute("INSERT INTO users (id, session_id, created, last_active) VALUES (1, 'x', 0, 0)")
    old.execute("INSERT INTO rooms (id, token, name, created) VALUES (1, 't', 'T', 0)")
    old.execute("INSERT INTO messages (room, user, seqno, posted, data, signature) VALUES (1, 1, 7, 0, x'00', x'00')")
    old.commit()
    old.close()
    db = schema.connect(tmp_path / "old.db")
    assert db.execute("SELECT seqno, seqno_data FROM messages").fetchall() == [(7, 7)]
    assert "message" in [r[1] for r in db.execute("PRAGMA table_info(files)")]
    assert db.execute("SELECT whisper_to, whisper_mods FROM messages").fetchall() == [(None, 0)]
    assert db.execute("SELECT COUNT(*) FROM pinned_messages").fetchone() == (0,)
