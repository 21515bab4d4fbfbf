"""Whispers on the room server, in memory: only moderators whisper (``whisper_to`` a user,
``whisper_mods``, or both), messages carry pysogs' ``whisper``/``whisper_mods``/``whisper_to``
fields, and a whisper reaches only those pysogs' rule names — checked over every read path
(polls with and without reaction updates, recent, single message, batches, deletions, edits,
reactions, pins).  Bad whisper requests get a clear 4xx and change no table."""

from __future__ import annotations

import base64
from collections.abc import Iterator
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from session_core.opengroup import OpenGroupConfig, RoomServerApp, RoomSpec
from tests.test_opengroup import Clock, User, _state_without_nonces, running_app, admin_of


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[RoomServerApp]:
    with running_app(tmp_path, clock, post_rate_count=50) as a:
        yield a


def signed(u: User, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"data": base64.b64encode(data).decode(), "signature": base64.b64encode(u.keys.sign(data)).decode(),
            **extra}


def texts(msgs: list[dict[str, Any]]) -> list[bytes | None]:
    return [None if m.get("data") is None else base64.b64decode(m["data"]) for m in msgs if "data" in m]


class Room:
    """lobby with an author moderator, a second moderator, a whisper's target and a bystander;
    one public message and three whispers by the author."""

    def __init__(self, app: RoomServerApp, clock: Clock) -> None:
        owner = admin_of(app, clock)
        self.author, self.mod2, self.target, self.bystander = (User(app, clock) for _ in range(4))
        for m in (self.author, self.mod2):
            assert owner("POST", f"/user/{m.id}/moderator", {"rooms": ["lobby"], "moderator": True}).code == 200
        for u in (self.target, self.bystander):
            assert u("GET", "/room/lobby").code == 200  # seen by the server
        self.public = self.post(b"public")
        self.to_target = self.post(b"to target", whisper_to=self.target.id)
        self.to_mods = self.post(b"to mods", whisper_mods=True)
        self.to_both = self.post(b"to target and mods", whisper_to=self.target.id, whisper_mods=True)

    def post(self, text: bytes, **whisper: Any) -> dict[str, Any]:
        r = self.author("POST", "/room/lobby/message", signed(self.author, text, **whisper))
        assert r.code == 201, r.body
        return dict(r.json())

    def sees(self) -> dict[str, list[bytes]]:
        """Who should see which message, by pysogs' rule."""
        all4 = [b"public", b"to target", b"to mods", b"to target and mods"]
        return {"author": all4, "mod2": [b"public", b"to mods", b"to target and mods"],
                "target": [b"public", b"to target", b"to target and mods"], "bystander": [b"public"]}

    def users(self) -> dict[str, User]:
        return {"author": self.author, "mod2": self.mod2, "target": self.target, "bystander": self.bystander}


@pytest.fixture
def room(app: RoomServerApp, clock: Clock) -> Room:
    return Room(app, clock)


def test_a_whisper_carries_pysogs_fields(room: Room) -> None:
    assert not {"whisper", "whisper_mods", "whisper_to"} & set(room.public)
    assert (room.to_target["whisper"], room.to_target["whisper_mods"], room.to_target["whisper_to"]) == \
        (True, False, room.target.id)
    assert room.to_mods["whisper"] is True and room.to_mods["whisper_mods"] is True and "whisper_to" not in room.to_mods
    assert (room.to_both["whisper_mods"], room.to_both["whisper_to"]) == (True, room.target.id)
    # what a poll returns carries the same fields
    polled = {m["id"]: m for m in room.target("GET", "/room/lobby/messages/since/0").json()}
    assert {k: polled[room.to_both["id"]].get(k) for k in ("whisper", "whisper_mods", "whisper_to")} == \
        {"whisper": True, "whisper_mods": True, "whisper_to": room.target.id}
    assert "whisper" not in polled[room.public["id"]]


def test_whispers_reach_only_whom_they_are_for_on_every_read_path(app: RoomServerApp, room: Room) -> None:
    ids = {m["data"]: m["id"] for m in (room.public, room.to_target, room.to_mods, room.to_both)}
    by_text = {base64.b64decode(k): v for k, v in ids.items()}
    everyone = room.users()
    # the bystander asks first, so a shared (cached) answer would show up as a leak or a loss
    for name in ("bystander", "target", "mod2", "author"):
        u, want = everyone[name], room.sees()[name]
        assert texts(u("GET", "/room/lobby/messages/since/0").json()) == want, name
        assert texts(u("GET", "/room/lobby/messages/since/0?t=r").json()) == want, name
        assert texts(u("GET", "/room/lobby/messages/recent").json()) == want[::-1], name
        assert texts(u("GET", "/room/lobby/messages/since/0?limit=1").json()) == want[:1], name
        for text, msg_id in by_text.items():
            r = u("GET", f"/room/lobby/message/{msg_id}")
            assert (r.code == 200) == (text in want), (name, text)
            if r.code == 200:
                assert base64.b64decode(r.json()["data"]) == text
            else:
                assert r.code == 404  # the same answer as for a message that does not exist
        batch = u("POST", "/batch", [{"method": "GET", "path": "/room/lobby/messages/since/0"},
                                     {"method": "GET", "path": f"/room/lobby/message/{ids[room.to_target['data']]}"}])
        out = batch.json()
        assert texts(out[0]["body"]) == want and out[1]["code"] == (200 if b"to target" in want else 404), name
        seq = u("POST", "/sequence", [{"method": "GET", "path": "/room/lobby/messages/recent"}]).json()
        assert texts(seq[0]["body"]) == want[::-1], name


def test_reactions_and_pins_refuse_whispers_like_missing_messages(app: RoomServerApp, clock: Clock, room: Room) -> None:
    owner = admin_of(app, clock)
    before = _state_without_nonces(app)
    for w in (room.to_target, room.to_mods, room.to_both):
        for u in (room.target, room.author, room.bystander):
            path = f"/room/lobby/reaction/{w['id']}/{urllib.parse.quote('ok')}"
            assert u("PUT", path, {}).code == 404
            assert u("DELETE", path).code == 404
        assert owner("POST", f"/room/lobby/pin/{w['id']}").code == 404
    assert _state_without_nonces(app) == before
    # and the public message can be reacted to and pinned: no whisper shows up in either
    assert room.bystander("PUT", f"/room/lobby/reaction/{room.public['id']}/ok", {}).code == 200
    assert owner("POST", f"/room/lobby/pin/{room.public['id']}").code == 200
    assert [p["id"] for p in room.bystander("GET", "/room/lobby").json()["pinned_messages"]] == [room.public["id"]]
    ups = room.bystander("GET", f"/room/lobby/messages/since/{room.to_both['seqno']}?t=r").json()
    assert [u["id"] for u in ups] == [room.public["id"]]


def test_edits_and_deletions_of_whispers_reach_only_their_readers(app: RoomServerApp, clock: Clock, room: Room) -> None:
    head = room.to_both["seqno"]
    edit = signed(room.author, b"to target, edited")
    assert room.author("PUT", f"/room/lobby/message/{room.to_target['id']}", edit).code == 200
    # the edit keeps the recipients; an edit that restates them may not change them
    before = _state_without_nonces(app)
    for change in ({"whisper_to": room.bystander.id}, {"whisper_mods": True}, {"whisper_to": None},
                   {"whisper_to": "nope"}, {"whisper_mods": "yes"}):
        r = room.author("PUT", f"/room/lobby/message/{room.to_target['id']}", {**signed(room.author, b"x"), **change})
        assert r.code == 400, (change, r.body)
    assert _state_without_nonces(app) == before
    same = signed(room.author, b"to target, again", whisper_to=room.target.session_id, whisper_mods=False)
    assert room.author("PUT", f"/room/lobby/message/{room.to_target['id']}", same).code == 200
    assert room.author("DELETE", f"/room/lobby/message/{room.to_mods['id']}").code == 200
    got = {name: room.users()[name]("GET", f"/room/lobby/messages/since/{head}").json() for name in room.users()}
    assert texts(got["target"]) == [b"to target, again"] and got["target"][0]["whisper_to"] == room.target.id
    assert texts(got["mod2"]) == [None] and got["mod2"][0]["id"] == room.to_mods["id"]  # the deletion
    assert got["mod2"][0]["whisper_mods"] is True
    assert got["bystander"] == []
    assert texts(got["author"]) == [b"to target, again", None]
    # those who cannot see a whisper cannot touch it either: 404, not 403
    before = _state_without_nonces(app)
    for u in (room.bystander, room.mod2):
        assert u("PUT", f"/room/lobby/message/{room.to_target['id']}", signed(u, b"mine now")).code == 404
    assert room.bystander("DELETE", f"/room/lobby/message/{room.to_both['id']}").code == 404
    # the target sees it but did not write it
    assert room.target("PUT", f"/room/lobby/message/{room.to_target['id']}", signed(room.target, b"x")).code == 403
    assert room.target("DELETE", f"/room/lobby/message/{room.to_target['id']}").code == 403
    assert _state_without_nonces(app) == before
    # a moderator deletes a whisper to moderators
    assert room.mod2("DELETE", f"/room/lobby/message/{room.to_both['id']}").code == 200


def test_a_whispers_files_are_as_private_as_the_whisper(app: RoomServerApp, room: Room) -> None:
    fid = room.author.raw("POST", "/room/lobby/file", b"secret attachment").json()["id"]
    assert room.bystander("GET", f"/room/lobby/file/{fid}").code == 200  # not attached yet: any reader (pysogs)
    room.post(b"see attached", whisper_to=room.target.id, files=[fid])
    for u, code in ((room.target, 200), (room.author, 200), (room.bystander, 404), (room.mod2, 404)):
        r = u("GET", f"/room/lobby/file/{fid}")
        assert r.code == code and (code != 200 or r.body == b"secret attachment")
    shared = room.author.raw("POST", "/room/lobby/file", b"public attachment").json()["id"]
    room.post(b"for all", files=[shared])
    assert app.db.execute("SELECT message FROM files WHERE id = ?", (shared,)).fetchone()[0] is not None
    assert room.bystander("GET", f"/room/lobby/file/{shared}").code == 200


def test_a_cached_poll_answer_is_never_shared_across_a_whisper(app: RoomServerApp, clock: Clock) -> None:
    owner, mod, target, bystander = admin_of(app, clock), User(app, clock), User(app, clock), User(app, clock)
    assert owner("POST", f"/user/{mod.id}/moderator", {"rooms": ["lobby"], "moderator": True}).code == 200
    target("GET", "/room/lobby")
    head = mod.post("lobby", b"public").json()["seqno"]
    assert bystander("GET", f"/room/lobby/messages/since/{head}").json() == []  # kept as the head answer
    w = mod("POST", "/room/lobby/message", signed(mod, b"w", whisper_to=target.id)).json()
    for _ in range(2):  # asked twice: the second would come from the cache
        assert bystander("GET", f"/room/lobby/messages/since/{head}").json() == []
        assert [m["id"] for m in target("GET", f"/room/lobby/messages/since/{head}").json()] == [w["id"]]
        # a full answer that ends before the whisper is the same for everyone (and may be shared)
        assert texts(bystander("GET", "/room/lobby/messages/since/0?limit=1").json()) == [b"public"]
        assert texts(target("GET", "/room/lobby/messages/since/0?limit=1").json()) == [b"public"]
        assert texts(bystander("GET", "/room/lobby/messages/since/0?limit=2").json()) == [b"public"]
        assert texts(target("GET", "/room/lobby/messages/since/0?limit=2").json()) == [b"public", b"w"]


def test_whisper_to_by_session_id_means_the_blinded_user_seen_here(app: RoomServerApp, clock: Clock,
                                                                   room: Room) -> None:
    w = room.post(b"by session id", whisper_to=room.target.session_id)
    assert w["whisper_to"] == room.target.id
    assert b"by session id" in texts(room.target("GET", "/room/lobby/messages/recent").json())


def test_only_moderators_whisper_and_bad_whispers_change_nothing(app: RoomServerApp, clock: Clock,
                                                                 room: Room) -> None:
    unseen = User(app, clock)  # a valid blinded ID this server never saw
    before = _state_without_nonces(app)
    for extra in ({"whisper_to": room.target.id}, {"whisper_mods": True},
                  {"whisper_to": room.author.id, "whisper_mods": True}):
        r = room.bystander("POST", "/room/lobby/message", signed(room.bystander, b"sneaky", **extra))
        assert r.code == 403 and b"moderators" in r.body, extra
    assert room.author("POST", "/room/dev/message", signed(room.author, b"x", whisper_mods=True)).code == 403
    bad: list[tuple[dict[str, Any], int]] = [
        ({"whisper_to": 5}, 400), ({"whisper_to": ""}, 400), ({"whisper_to": "15" + "zz" * 32}, 400),
        ({"whisper_to": "06" + "00" * 32}, 400), ({"whisper_to": room.target.id[:-2]}, 400),
        ({"whisper_to": [room.target.id]}, 400), ({"whisper_mods": "yes"}, 400), ({"whisper_mods": 1}, 400),
        ({"whisper_to": "15" + "ff" * 32}, 400),  # not a point of the curve
        ({"whisper_to": unseen.id}, 404), ({"whisper_to": unseen.session_id}, 404),
    ]
    for extra, code in bad:
        r = room.author("POST", "/room/lobby/message", signed(room.author, b"x", **extra))
        assert r.code == code and r.content_type == "text/plain" and r.body, (extra, r.code, r.body)
    assert _state_without_nonces(app) == before
    # null and false mean an ordinary post
    r = room.bystander("POST", "/room/lobby/message", signed(room.bystander, b"ok", whisper_to=None, whisper_mods=False))
    assert r.code == 201 and "whisper" not in r.json()


async def test_pins_and_whispers_through_an_onion_and_over_http(tmp_path: Path) -> None:
    """The client's calls (``RoomClient.post(whisper_to=...)``, ``pin``, ``unpin``, ...) answer the
    same over direct HTTP and inside a v4 onion layer (as an exit node posts it)."""
    import os

    import aiohttp
    from nacl.signing import SigningKey

    from session_core import blinding
    from session_core.client.opengroup import RoomClient
    from session_core.client.server_link import DirectLink
    from session_core.errors import RoomServerError
    from session_core.opengroup import RoomServer
    from session_core.rooms import RoomRef
    from tests.test_opengroup_server import ExitLink

    admin_seed = os.urandom(32)
    admin_sid = blinding.session_id_of(bytes(SigningKey(admin_seed).verify_key))
    server = RoomServer(OpenGroupConfig(tmp_path, rooms=[RoomSpec("lobby", "Lobby")], admins=[admin_sid]))
    await server.start()
    ref = RoomRef.parse(server.room_url("lobby"))
    direct = DirectLink(ref)
    try:
        async with aiohttp.ClientSession() as http:
            admin = RoomClient(admin_seed, ref.server_pk, ExitLink(server, http))  # through the onion
            member = RoomClient(os.urandom(32), ref.server_pk, direct)
            other = RoomClient(os.urandom(32), ref.server_pk, ExitLink(server, http))
            await member.room("lobby")
            await other.room("lobby")
            post = await member.post("lobby", b"pin me")
            w = await admin.post("lobby", b"just for you", whisper_to=member.blinded_id)
            assert (w["whisper"], w["whisper_mods"], w["whisper_to"]) == (True, False, member.blinded_id)
            assert [m["id"] for m in await member.since("lobby", 0)] == [post["id"], w["id"]]
            assert [m["id"] for m in await other.since("lobby", 0)] == [post["id"]]
            with pytest.raises(RoomServerError) as exc:
                await other.message("lobby", w["id"])
            assert exc.value.status == 404
            n = await admin.pin("lobby", post["id"])
            assert [p["id"] for p in await other.pinned("lobby")] == [post["id"]]
            assert (await member.room("lobby"))["info_updates"] == n
            with pytest.raises(RoomServerError) as exc:
                await admin.pin("lobby", w["id"])
            assert exc.value.status == 404
            with pytest.raises(RoomServerError) as exc:
                await member.pin("lobby", post["id"])
            assert exc.value.status == 403
            with pytest.raises(RoomServerError) as exc:
                await member.post("lobby", b"x", whisper_mods=True)
            assert exc.value.status == 403
            assert await admin.unpin("lobby", post["id"]) is True
            assert await admin.unpin_all("lobby") == 0
            assert await other.pinned("lobby") == []
    finally:
        await direct.close()
        await server.stop()


async def test_the_client_refuses_bad_whisper_and_message_ids_before_sending() -> None:
    import os

    from session_core.client.opengroup import RoomClient
    from session_core.errors import RoomInputError

    class NoLink:
        async def call(self, *args: Any) -> tuple[int, bytes]:
            raise AssertionError("nothing should be sent")

    c = RoomClient(os.urandom(32), os.urandom(32), NoLink())  # type: ignore[arg-type]
    for bad in ("15abc", "06" + "00" * 32, "15" + "zz" * 32, 5):
        with pytest.raises(RoomInputError):
            await c.post("lobby", b"x", whisper_to=bad)  # type: ignore[arg-type]
    for msg_id in (0, -1, 10**18, True, "3"):
        with pytest.raises(RoomInputError):
            await c.pin("lobby", msg_id)  # type: ignore[arg-type]
        with pytest.raises(RoomInputError):
            await c.unpin("lobby", msg_id)  # type: ignore[arg-type]
