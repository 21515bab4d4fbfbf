"""The room server on loopback: the client API directly and through the onion endpoint (the
last onion layer, as an exit node posts it), and the onion endpoint's own hostile input."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from session_core import onion
from session_core.client.opengroup import RoomClient, decode_post
from session_core.client.server_link import DirectLink
from session_core.errors import RoomServerError
from session_core.onion import v4
from session_core.opengroup import OpenGroupConfig, RoomServer, RoomSpec
from session_core.rooms import RoomRef


class ExitLink:
    """What a 3-hop path delivers: the request in the server's onion layer, posted by the exit."""

    def __init__(self, server: RoomServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.target = onion.ServerTarget("127.0.0.1", server.public_key, target="/oxen/v4/lsrpc", port=server.port,
                                         protocol="http")

    async def call(self, method: str, endpoint: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        blob, ctx = onion.build(v4.encode_request(method, endpoint, body, headers), [], self.target)
        async with self.http.post(self.server.url + "/oxen/v4/lsrpc", data=blob) as r:
            assert r.status == 200
            code, _, answer = v4.decode_response(ctx.decrypt_reply(await r.read()))
        return code, answer


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RoomServer]:
    cfg = OpenGroupConfig(tmp_path, rooms=[RoomSpec("lobby", "Lobby")], ready_file=tmp_path / "ready.json")
    s = RoomServer(cfg)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_room_url_from_the_server_parses(server: RoomServer) -> None:
    ref = RoomRef.parse(server.room_url("lobby"))
    assert (ref.base_url, ref.token, ref.public_key) == (server.url, "lobby", server.public_key)
    assert str(ref) == server.room_url("lobby")


async def test_client_direct_and_through_onion_see_the_same_room(server: RoomServer,
                                                                http: aiohttp.ClientSession) -> None:
    ref = RoomRef.parse(server.room_url("lobby"))
    direct = DirectLink(ref)
    try:
        alice = RoomClient(os.urandom(32), ref.server_pk, direct)
        bob = RoomClient(os.urandom(32), ref.server_pk, ExitLink(server, http))
        assert "blind" in await bob.capabilities()
        posted = await alice.post("lobby", b"over plain HTTP")
        await bob.post("lobby", b"through the onion endpoint")
        seen = await bob.poll({"lobby": 0})
        assert [decode_post(m) for m in seen["lobby"]] == [b"over plain HTTP", b"through the onion endpoint"]
        assert seen["lobby"][0]["session_id"] == alice.blinded_id != bob.blinded_id
        await alice.delete("lobby", posted["id"])
        assert decode_post((await bob.since("lobby", 2))[0]) is None
        file_id = await bob.upload("lobby", b"\0\1\2")
        assert await alice.download("lobby", file_id) == b"\0\1\2"
        with pytest.raises(RoomServerError) as exc:
            await bob.room("nope")
        assert exc.value.status == 404
    finally:
        await direct.close()


async def test_onion_endpoint_hostile_input(server: RoomServer, http: aiohttp.ClientSession) -> None:
    link = ExitLink(server, http)
    # a v4 payload that is not a v4 request: answered (encrypted) 400
    blob, ctx = onion.build(b"l2:{}", [], link.target)
    async with http.post(server.url + "/oxen/v4/lsrpc", data=blob) as r:
        assert r.status == 200
        assert v4.decode_response(ctx.decrypt_reply(await r.read()))[0] == 400
    # a layer for another key, and garbage: refused in clear, nothing stored
    other = onion.ServerTarget("127.0.0.1", "11" * 32, target="/oxen/v4/lsrpc", port=server.port, protocol="http")
    blob, _ = onion.build(v4.encode_request("GET", "/rooms"), [], other)
    for bad in (blob, b"", b"\0" * 100, os.urandom(5000)):
        async with http.post(server.url + "/oxen/v4/lsrpc", data=bad) as r:
            assert 400 <= r.status < 500
    assert server.app.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
    # unsigned through the onion: 401 inside the encrypted answer
    assert (await link.call("GET", "/rooms"))[0] == 401


async def test_blinded_dm_through_the_server(server: RoomServer, http: aiohttp.ClientSession) -> None:
    from nacl.signing import SigningKey

    from session_core.blinding import session_id_of

    ref = RoomRef.parse(server.room_url("lobby"))
    seeds = os.urandom(32), os.urandom(32)
    alice, bob = (RoomClient(s, ref.server_pk, ExitLink(server, http)) for s in seeds)
    await alice.post("lobby", b"hi")
    await bob.since("lobby", 0)
    await alice.send_private(bob.blinded_id, b"a secret for bob")
    got = await bob.read_private()
    assert [(sender, text) for _, sender, text in got] == [(session_id_of(bytes(SigningKey(seeds[0]).verify_key)),
                                                            b"a secret for bob")]
    stored = server.app.db.execute("SELECT body FROM inbox").fetchall()
    assert len(stored) == 1 and b"secret" not in stored[0][0]
    assert await alice.read_private() == []  # nothing for alice


async def test_reactions_and_attached_files_direct_and_through_onion(server: RoomServer,
                                                                    http: aiohttp.ClientSession) -> None:
    """The reaction path carries UTF-8 (percent-encoded by the client); the signature covers the
    decoded path, so the same request verifies over HTTP and inside an onion."""
    ref = RoomRef.parse(server.room_url("lobby"))
    direct = DirectLink(ref)
    try:
        alice = RoomClient(os.urandom(32), ref.server_pk, direct)
        bob = RoomClient(os.urandom(32), ref.server_pk, ExitLink(server, http))
        file_id = await alice.upload("lobby", b"attached")
        msg = await alice.post("lobby", b"with a file", files=[file_id])
        assert server.app.db.execute("SELECT message FROM files WHERE id = ?", (file_id,)).fetchone()[0] == msg["id"]
        assert (await bob.react("lobby", msg["id"], "\N{PARTY POPPER}"))["added"] is True
        assert (await alice.react("lobby", msg["id"], "\N{PARTY POPPER}"))["added"] is True
        assert (await alice.react("lobby", msg["id"], "ok"))["added"] is True
        ups = await bob.since("lobby", msg["seqno"], reactions=True)
        assert [u["id"] for u in ups] == [msg["id"]] and "data" not in ups[0]
        assert ups[0]["reactions"]["\N{PARTY POPPER}"] == {"index": 0, "count": 2, "you": True,
                                                          "reactors": [bob.blinded_id, alice.blinded_id]}
        assert (await bob.react("lobby", msg["id"], "\N{PARTY POPPER}", remove=True))["removed"] is True
        assert await bob.since("lobby", msg["seqno"]) == []  # without t=r: no reaction-only updates
        with pytest.raises(RoomServerError) as exc:
            await bob.react("lobby", 999, "ok")
        assert exc.value.status == 404
    finally:
        await direct.close()
