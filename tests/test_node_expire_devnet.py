"""On a real loopback devnet (node processes, SQLite, ZMQ): one `expire` sent to ONE member
reaches every member of the swarm, each reports the new expiry in `retrieve` and stops serving
the message after it; a member that was killed during the `expire` learns it by catch-up when
it comes back."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from session_core.bench.loadgen import rpc_bytes, store_params
from session_core.devnet.launcher import Devnet, DevnetOptions
from session_core.identity import Identity
from session_core.protocol import storage_auth

pytestmark = pytest.mark.slow
NODES = 4


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Devnet, DevnetOptions]]:
    d = tmp_path_factory.mktemp("expire-devnet")
    net = Devnet(d)
    opt = DevnetOptions(d, nodes=NODES, block_interval=0.5, timeout=60)
    net.up(opt)
    try:
        yield net, opt
    finally:
        net.down(grace=2.0)


def call(node: dict[str, Any], method: str, params: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(node["http"] + "/storage_rpc/v1", data=rpc_bytes(method, params), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def served(node: dict[str, Any], owner: str) -> dict[str, int]:
    status, doc = call(node, "retrieve", {"pubKey": owner, "lastHash": ""})
    assert status == 200, doc
    return {m["hash"]: m["expiration"] for m in doc["messages"]}


def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except (OSError, AssertionError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


def test_one_expire_reaches_every_member_even_one_that_was_down(devnet: tuple[Devnet, DevnetOptions]) -> None:
    net, opt = devnet
    owner = Identity.generate()
    status, swarm = call(net.nodes[0], "get_snodes_for_pubkey", {"pubKey": owner.session_id})
    assert status == 200
    in_swarm = {s["pubkey_ed25519"] for s in swarm["snodes"]}
    members = [i for i, n in enumerate(net.nodes) if n["ed25519"] in in_swarm]
    assert len(members) >= 3, members
    entry, away, rest = members[0], members[-1], members[1:-1]
    ts = int(time.time() * 1000)
    params = store_params(owner.session_id, os.urandom(64), 3_600_000, ts, opt.difficulty)
    status, body = call(net.nodes[entry], "store", params)
    assert status == 200, body
    status, doc = call(net.nodes[entry], "retrieve", {"pubKey": owner.session_id, "lastHash": ""})
    (h,) = [m["hash"] for m in doc["messages"]]
    until(lambda: all(served(net.nodes[i], owner.session_id).get(h) == ts + 3_600_000 for i in members),
          20, "the message replicated to every member")

    net.kill_node(away)  # down while the expire happens
    new_expiry = int(time.time() * 1000) + 30_000
    status, doc = call(net.nodes[entry], "expire", storage_auth.expire_params(owner, [h], new_expiry))
    assert status == 200 and doc["swarm"][net.nodes[entry]["ed25519"]]["updated"] == [h], doc
    assert served(net.nodes[entry], owner.session_id) == {h: new_expiry}
    # Only the entry was asked; the other live members follow within a replication round.
    until(lambda: all(served(net.nodes[i], owner.session_id) == {h: new_expiry} for i in rest),
          10, "the expire forwarded to the live members")

    net.restart_node(away, opt)  # its database still holds the message with the old expiry
    until(lambda: served(net.nodes[away], owner.session_id) == {h: new_expiry},
          20, "the member that was down caught up on the expire")

    wait = new_expiry - int(time.time() * 1000) + 200
    assert wait > 0, "the test machine was too slow to see the message before its new expiry"
    time.sleep(wait / 1000)
    for i in members:
        assert h not in served(net.nodes[i], owner.session_id), i
