"""Property test of whispers: after any sequence of posts (ordinary or whispered, by moderators
or not), edits and deletions, every member's polls, recent list and single-message reads show
exactly the messages pysogs' rule lets them see — compared with a small model of that rule."""

from __future__ import annotations

import base64
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_core import blinding
from session_core.opengroup import OpenGroupConfig, RoomServerApp, users
from session_core.opengroup import db as schema
from session_core.rooms.auth import sign_request

NOW = 1_800_000_000.0
PEOPLE = 4


@dataclass
class Msg:
    id: int
    author: int
    to: int | None
    mods: bool
    deleted: bool = False


class Member:
    def __init__(self, app: RoomServerApp) -> None:
        self.keys = blinding.blind15_key_pair(os.urandom(32), app.server_pk)
        self.app = app

    def __call__(self, method: str, path: str, obj: Any = None) -> Any:
        body = None if obj is None else __import__("json").dumps(obj).encode()
        headers = sign_request(self.keys, self.app.server_pk, method, path, body, timestamp=int(NOW))
        return self.app.handle(method, path, headers, body)

    def signed(self, text: bytes, **extra: Any) -> dict[str, Any]:
        return {"data": base64.b64encode(text).decode(), "signature": base64.b64encode(self.keys.sign(text)).decode(),
                **extra}


def sees(m: Msg, viewer: int, mods: list[bool]) -> bool:
    public = m.to is None and not m.mods
    return public or m.to == viewer or m.author == viewer or (mods[viewer] and m.mods)


ops = st.lists(st.one_of(
    st.tuples(st.just("post"), st.integers(0, PEOPLE - 1), st.one_of(st.none(), st.integers(0, PEOPLE - 1)),
              st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, PEOPLE - 1), st.integers(0, 12), st.booleans()),
    st.tuples(st.just("edit"), st.integers(0, PEOPLE - 1), st.integers(0, 12), st.booleans()),
), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mods=st.lists(st.booleans(), min_size=PEOPLE, max_size=PEOPLE), script=ops)
def test_every_member_reads_exactly_what_the_whisper_rule_allows(mods: list[bool], script: list[Any]) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(schema.SCHEMA)
    app = RoomServerApp(OpenGroupConfig(Path("unused"), post_rate_count=100), os.urandom(32), db=db, clock=lambda: NOW)
    try:
        db.execute("INSERT INTO rooms (token, name, created) VALUES ('lobby', 'Lobby', 0)")
        people = [Member(app) for _ in range(PEOPLE)]
        for i, p in enumerate(people):
            uid = users.get_or_create(db, p.keys.blinded_id, NOW)
            if mods[i]:
                users.set_moderator(db, uid, 1, admin=False, visible=True)
        app.perms.invalidate()
        model: list[Msg] = []
        for op, who, arg, flag in script:
            me = people[who]
            if op == "post":
                extra = {"whisper_to": None if arg is None else people[arg].keys.blinded_id, "whisper_mods": flag}
                r = me("POST", "/room/lobby/message", me.signed(b"m%d" % len(model), **extra))
                whisper = arg is not None or flag
                assert r.code == (403 if whisper and not mods[who] else 201), r.body
                if r.code == 201:
                    model.append(Msg(r.json()["id"], who, arg, flag))
                continue
            if not model:
                continue
            m = model[arg % len(model)]
            visible = not m.deleted and sees(m, who, mods)
            if op == "delete":
                r = me("DELETE", f"/room/lobby/message/{m.id}")
                want = 404 if not visible else 200 if (m.author == who or mods[who]) else 403
                assert r.code == want, (r.code, r.body)
                m.deleted = m.deleted or r.code == 200
            else:
                r = me("PUT", f"/room/lobby/message/{m.id}", me.signed(b"edited"))
                assert r.code == (404 if not visible else 200 if m.author == who else 403), (r.code, r.body)
        for viewer, p in enumerate(people):
            expect = [m for m in model if sees(m, viewer, mods)]
            polled = p("GET", "/room/lobby/messages/since/0?t=r").json()
            assert {x["id"] for x in polled} == {m.id for m in expect}
            for x in polled:
                m = next(m for m in model if m.id == x["id"])
                assert x.get("deleted", False) == m.deleted
                assert x.get("whisper", False) == (m.to is not None or m.mods)
                assert x.get("whisper_to") == (None if m.to is None else people[m.to].keys.blinded_id)
            recent = p("GET", "/room/lobby/messages/recent").json()
            assert [x["id"] for x in recent] == [m.id for m in reversed(expect) if not m.deleted]
            for m in model:
                code = p("GET", f"/room/lobby/message/{m.id}").code
                assert code == (200 if m in expect and not m.deleted else 404)
    finally:
        app.close()
