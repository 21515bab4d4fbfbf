"""The node's onion decisions in memory (docs/interop.md §3.3-3.5): relay, final, exit, and errors."""

from __future__ import annotations

import json

from nacl.public import PrivateKey

from session_core import onion
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.onion_relay import OnionRouter
from session_core.node.storage_rpc import Reply


def make_node(i: int) -> tuple[SnodeInfo, bytes]:
    k = PrivateKey.generate()
    info = SnodeInfo(ed25519=f"{i + 1:02x}" * 32, x25519=bytes(k.public_key).hex(), ip="127.0.0.1",
                     http_port=1000 + i, zmq_port=2000 + i, swarm_id=0)
    return info, bytes(k)


NODES = [make_node(i) for i in range(3)]
VIEW = NetworkView(height=1, block_hash="00" * 32, nodes=tuple(n for n, _ in NODES))


def as_onion(info: SnodeInfo) -> onion.Node:
    return onion.Node(info.x25519, info.ed25519)


class Recorder:
    def __init__(self) -> None:
        self.forwarded: list[tuple[str, int]] = []
        self.stored: list[bytes] = []
        self.exits: list[onion.Exit] = []

    async def forward(self, node: SnodeInfo, body: bytes, hop: int) -> tuple[int, bytes]:
        self.forwarded.append((node.ed25519, hop))
        return 200, b"from-next-hop"

    async def storage(self, payload: bytes) -> Reply:
        self.stored.append(payload)
        return Reply.json(200, {"difficulty": 1})

    async def exit_post(self, step: onion.Exit) -> tuple[int, bytes]:
        self.exits.append(step)
        return 200, b"from-server"


def router(i: int, rec: Recorder, view: NetworkView | None = VIEW) -> OnionRouter:
    return OnionRouter(NODES[i][1], lambda: view, rec.forward, rec.storage, rec.exit_post)


async def test_relay_forwards_to_the_next_node_and_returns_its_answer_unchanged() -> None:
    rec = Recorder()
    body, _ = onion.build(b"{}", [as_onion(NODES[0][0]), as_onion(NODES[1][0])], as_onion(NODES[2][0]))
    assert await router(0, rec).handle(body) == (200, b"from-next-hop")
    assert rec.forwarded == [(NODES[1][0].ed25519, 1)] and rec.stored == []


async def test_final_destination_runs_the_storage_rpc_and_encrypts_the_reply() -> None:
    rec = Recorder()
    body, ctx = onion.build(b'{"method":"retrieve"}', [], as_onion(NODES[2][0]))
    status, reply = await router(2, rec).handle(body)
    assert status == 200
    assert json.loads(ctx.decrypt_reply(reply)) == {"status": 200, "body": '{"difficulty":1}'}
    assert rec.stored == [b'{"method":"retrieve"}']


async def test_exit_posts_to_the_server() -> None:
    rec = Recorder()
    server = PrivateKey.generate()
    target = onion.ServerTarget("127.0.0.1", bytes(server.public_key).hex(), port=8080, protocol="http")
    body, _ = onion.build(b"hi", [as_onion(NODES[0][0])], target)
    assert await router(0, rec).handle(body) == (200, b"from-server")
    assert rec.exits[0].url == "http://127.0.0.1:8080/loki/v3/lsrpc"


async def test_errors_have_the_documented_codes() -> None:
    rec = Recorder()
    # A layer for another node does not decrypt: 400, in clear.
    body, _ = onion.build(b"{}", [], as_onion(NODES[1][0]))
    assert await router(0, rec).handle(body) == (400, b"Invalid ciphertext")
    assert await router(0, rec).handle(b"\x00") == (400, b"Error parsing outer JSON in onion request: truncated header")
    # The next hop is not a known node: 502 naming it.
    stranger = onion.Node(NODES[2][0].x25519, "ab" * 32)
    body, _ = onion.build(b"{}", [as_onion(NODES[0][0])], stranger)
    assert await router(0, rec).handle(body) == (502, f"Next node not found: {'ab' * 32}".encode())
    # Without a network view yet: 503.
    body, _ = onion.build(b"{}", [as_onion(NODES[0][0])], as_onion(NODES[1][0]))
    assert await router(0, rec, view=None).handle(body) == (503, b"Snode not ready")
    assert rec.forwarded == [] and rec.stored == [] and rec.exits == []


async def test_relay_failures_map_to_504_and_500() -> None:
    from session_core.errors import PeerRequestError, PeerTimeoutError

    body, _ = onion.build(b"{}", [as_onion(NODES[0][0])], as_onion(NODES[1][0]))
    for exc, expected in ((PeerTimeoutError("t"), (504, b"Request time out")),
                          (PeerRequestError("x"), (500, b"Invalid response from snode"))):
        async def failing(node: SnodeInfo, b: bytes, hop: int, exc: Exception = exc) -> tuple[int, bytes]:
            raise exc

        rec = Recorder()
        r = OnionRouter(NODES[0][1], lambda: VIEW, failing, rec.storage, rec.exit_post)
        assert await r.handle(body) == expected
