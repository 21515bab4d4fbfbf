"""The relay bench's denominator: each row's raw peel is of the layer that row's node peels."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from session_core import onion
from session_core.bench.relay_bench import MODES, measured_layer
from session_core.bench.zmq_load import RequestStream, destination_reader
from session_core.node.service import ServiceNode
from tests.test_node_cluster import start_cluster, stop_cluster


@pytest.mark.parametrize("mode", MODES)
def test_measured_layer_is_the_layer_the_node_peels(mode: str) -> None:
    body, secret, hop = measured_layer(mode)
    step = onion.peel(body, secret, hop=hop)
    assert hop == {"guard": 0, "relay": 1, "final": 2}[mode]
    if mode == "final":
        assert isinstance(step, onion.Final)
        assert json.loads(step.payload)["method"] == "retrieve"
    else:
        assert isinstance(step, onion.Relay)
        assert step.hop == hop + 1


def as_onion(n: ServiceNode) -> onion.Node:
    return onion.Node(n.keys.x25519_public.hex(), n.me)


async def test_loader_wire_path_through_a_real_relay(tmp_path: Path) -> None:
    """The loaders' lean ZMQ side (bench/zmq_load.py): every request is answered once with
    its own payload through a node running the C engine, a reply to the wrong request is
    seen, and the loader still answers the node's other requests through its handlers."""
    c = await start_cluster(tmp_path, 2)
    try:
        relay, me = c.nodes
        me.peer_server.use_reader(destination_reader(me.peer_server, me.keys.x25519_secret))
        key = relay.keys.x25519_public.hex()
        await me.peers.request(key, "127.0.0.1", relay.zmq_port, b"ping", [], 5.0)
        payloads = [b"payload %d" % i for i in range(40)]
        bodies = [onion.build(p, [as_onion(relay)], as_onion(me))[0] for p in payloads]
        swapped = {7}  # the judge expects another request's payload here: must count as mismatched

        def judge(i: int, status: bytes, body: bytes) -> str:
            want = payloads[(i + 1) % 40] if i % 40 in swapped else payloads[i % 40]
            return "bad_status" if status != b"200" else "ok" if body == want else "mismatched"

        counts = {"sent": 0, "ok": 0, "bad_status": 0, "mismatched": 0, "errors": 0, "duplicates": 0}
        conn = me.peers.connection(key, "127.0.0.1", relay.zmq_port)
        assert conn is not None
        stream = RequestStream(conn, bodies, judge, counts)
        stream.start(8)
        deadline = time.monotonic() + 20
        while counts["ok"] < 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await stream.stop(10)
        answered = counts["ok"] + counts["mismatched"]
        assert counts["ok"] >= 200 and answered == counts["sent"]
        assert counts["mismatched"] == sum(1 for i in range(counts["sent"]) if i % 40 in swapped)
        assert counts["bad_status"] == counts["errors"] == counts["duplicates"] == 0
        stats = relay.fast_relay.stats() if relay.fast_relay is not None else {}
        assert stats.get("relayed", 0) >= counts["sent"] - 8  # the engine carried them (once learnt)
        # Not the bench's traffic: the node's ping to the loader is answered by its handler.
        assert await relay.peers.request(me.keys.x25519_public.hex(), "127.0.0.1", me.zmq_port, b"ping", [], 5.0)
    finally:
        await stop_cluster(c)
