"""A real devnet on loopback: a chain process and node processes started by the launcher.

Kept to one small devnet per module (6 nodes, fast blocks); every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_core import onion
from session_core.devnet.launcher import Devnet, DevnetOptions, http_json, rpc_call
from session_core.bench.loadgen import random_pubkey, rpc, rpc_bytes, store_params

pytestmark = pytest.mark.slow
NODES = 6


def post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    d = tmp_path_factory.mktemp("devnet")
    net = Devnet(d)
    net.up(DevnetOptions(d, nodes=NODES, block_interval=0.5, timeout=60))
    try:
        yield net
    finally:
        net.down()
        assert not any(p.poll() is None for p in net.procs.values())


def retrieve(node: dict[str, Any], pk: str, last: str = "") -> list[dict[str, Any]]:
    status, body = post(node["http"] + "/storage_rpc/v1", rpc_bytes("retrieve", {"pubKey": pk, "lastHash": last}))
    assert status == 200, body
    msgs: list[dict[str, Any]] = json.loads(body)["messages"]
    return msgs


def wait_for(pred: Any, timeout: float = 15.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def onion_node(n: dict[str, Any]) -> onion.Node:
    return onion.Node(n["x25519"], n["ed25519"], n["http"])


def test_status_json_describes_every_node(devnet: Devnet) -> None:
    st = devnet.status()
    assert st["chain_rpc"] == devnet.chain_url
    assert len(st["nodes"]) == NODES
    for n in st["nodes"]:
        assert n["state"] == "active" and isinstance(n["swarm_id"], int)
        assert len(n["ed25519"]) == 64 and len(n["x25519"]) == 64 and n["http"].startswith("http://127.0.0.1:")


def test_store_through_3_hop_onion_then_retrieve_elsewhere(devnet: Devnet) -> None:
    nodes = devnet.nodes
    pk = random_pubkey()
    snodes = json.loads(post(nodes[0]["http"] + "/storage_rpc/v1", rpc_bytes("get_snodes_for_pubkey", {"pubKey": pk}))[1])
    swarm_keys = {s["pubkey_ed25519"] for s in snodes["snodes"]}
    dest = next(n for n in nodes if n["ed25519"] in swarm_keys)
    path = [n for n in nodes if n is not dest][:3]
    params = store_params(pk, os.urandom(64), 60_000, int(time.time() * 1000), 1)
    body, ctx = onion.build(json.dumps(rpc("store", params)).encode(), [onion_node(n) for n in path], onion_node(dest))
    status, reply = post(path[0]["http"] + "/onion_req/v2", body)
    assert status == 200
    answer = json.loads(ctx.decrypt_reply(reply))
    assert answer["status"] == 200 and json.loads(answer["body"]) == {"difficulty": 1}
    other = next(n for n in nodes if n["ed25519"] in swarm_keys and n is not dest)
    assert wait_for(lambda: len(retrieve(other, pk)) == 1)
    assert retrieve(other, pk)[0]["data"] == params["data"]


def test_replication_reaches_every_member(devnet: Devnet) -> None:
    nodes = devnet.nodes
    pk = random_pubkey()
    sent = []
    for i in range(5):
        p = store_params(pk, os.urandom(20), 60_000, int(time.time() * 1000), 1)
        status, _ = post(nodes[i % len(nodes)]["http"] + "/storage_rpc/v1", rpc_bytes("store", p))
        if status == 421:  # not that node's swarm: ask the right one
            snodes = json.loads(_)["snodes"]
            target = next(n for n in nodes if n["ed25519"] == snodes[0]["pubkey_ed25519"])
            status, _ = post(target["http"] + "/storage_rpc/v1", rpc_bytes("store", p))
        assert status == 200
        sent.append(p["data"])
    members = [n for n in nodes if post(n["http"] + "/storage_rpc/v1", rpc_bytes("retrieve", {"pubKey": pk, "lastHash": ""}))[0] == 200]
    assert members
    assert wait_for(lambda: all(sorted(m["data"] for m in retrieve(n, pk)) == sorted(sent) for n in members))


def test_bad_requests_over_http_change_nothing(devnet: Devnet) -> None:
    node = devnet.nodes[0]
    before = http_json(node["http"] + "/status")["messages"]
    cases = [
        (b"{not json", 400, b"invalid json\n"),
        (b'{"method":"store","params":{"pubKey":5}}', 400, b"invalid json: `pubKey` must be a string\n"),
        (b'{"method":"store","params":{"data":"' + b"A" * 300_000 + b'"}}', 413, None),
        (b'{"method":"retrieve","params":{"pubKey":"05","lastHash":""}}', 400, b"Pubkey must be 66 characters long\n"),
    ]
    for body, status, text in cases:
        got_status, got = post(node["http"] + "/storage_rpc/v1", body)
        assert got_status == status
        if text is not None:
            assert got == text
    # A bad onion: garbage, then a layer for somebody else.
    assert post(node["http"] + "/onion_req/v2", b"\x01\x02") [0] == 400
    other = devnet.nodes[1]
    layer, _ = onion.build(b"{}", [], onion_node(other))
    assert post(node["http"] + "/onion_req/v2", layer) == (400, b"Invalid ciphertext")
    assert http_json(node["http"] + "/status")["messages"] == before


def test_killed_node_catches_up_after_restart(devnet: Devnet) -> None:
    nodes = devnet.nodes
    victim_i = NODES - 1
    victim = nodes[victim_i]
    peer = next(n for n in nodes if n is not victim)
    # Keys in the victim's swarm: in a 6-node devnet every node is in the one swarm.
    proc = devnet.procs[victim["name"]]
    pk = random_pubkey()
    stored = []
    for i in range(12):
        p = store_params(pk, os.urandom(16), 120_000, int(time.time() * 1000), 1)
        assert post(peer["http"] + "/storage_rpc/v1", rpc_bytes("store", p))[0] == 200
        stored.append(p["data"])
        if i == 5:
            os.kill(proc.pid, signal.SIGKILL)  # mid-replication
            proc.wait(10)
    restarted = devnet.start_node(victim_i, DevnetOptions(devnet.directory, nodes=NODES, block_interval=0.5))
    assert restarted["ed25519"] == victim["ed25519"]  # same key, new ports
    devnet.nodes[victim_i] = restarted

    def all_there() -> bool:
        got: list[dict[str, Any]] = []
        last = ""
        for _ in range(3):
            status, body = post(restarted["http"] + "/storage_rpc/v1",
                                rpc_bytes("retrieve", {"pubKey": pk, "lastHash": last}))
            if status == 503:  # documented: "Service node is initializing" until it sees the chain
                return False
            assert status == 200, body
            page = json.loads(body)["messages"]
            if not page:
                break
            got += page
            last = page[-1]["hash"]
        return sorted(m["data"] for m in got) == sorted(stored)

    assert wait_for(all_there, timeout=20)
    res = rpc_call(devnet.chain_url, "get_n_service_nodes", {"active_only": True})
    entry = next(s for s in res["service_node_states"] if s["pubkey_ed25519"] == victim["ed25519"])
    assert entry["storage_port"] == restarted["http_port"]


def test_cli_status_json(devnet: Devnet) -> None:
    from click.testing import CliRunner

    from session_core.cli import cli

    res = CliRunner().invoke(cli, ["devnet", "status", "--json", "--dir", str(devnet.directory)])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["chain_rpc"] == devnet.chain_url
    assert {n["ed25519"] for n in st["nodes"]} == {n["ed25519"] for n in devnet.nodes}


def test_cli_up_detach_then_down(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from session_core.cli import cli

    d = tmp_path / "net"
    runner = CliRunner()
    res = runner.invoke(cli, ["devnet", "up", "--nodes", "1", "--block-interval", "0.3", "--detach", "--dir", str(d)])
    assert res.exit_code == 0, res.output
    state = json.loads((d / "devnet.json").read_text())
    pids = list(state["pids"].values())
    assert "1 swarms" in res.output
    again = runner.invoke(cli, ["devnet", "up", "--nodes", "1", "--detach", "--dir", str(d)])
    assert again.exit_code != 0 and "already running" in again.output
    res = runner.invoke(cli, ["devnet", "down", "--dir", str(d)])
    assert res.exit_code == 0 and "stopped 2 processes" in res.output

    from session_core.devnet.launcher import _alive  # zombies of our own children count as stopped

    assert wait_for(lambda: not any(_alive(p) for p in pids), timeout=10)
    assert not (d / "devnet.json").exists()
    missing = runner.invoke(cli, ["devnet", "status", "--dir", str(d)])
    assert missing.exit_code != 0 and "no devnet is running" in missing.output
