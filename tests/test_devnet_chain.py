"""The devnet chain in memory: registrations, blocks, swarms, reports, restart, RPC shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from session_core.chain.registration import Registration, parse_signed
from session_core.chain.reports import sign_report
from session_core.devnet.chain import Chain, block_hash
from session_core.swarm.ids import UNASSIGNED_SWARM_ID as UNASSIGNED
from session_core.devnet.rpc import ChainRPC
from session_core.errors import ChainRequestError


def keys(n: int) -> list[SigningKey]:
    return [SigningKey(bytes([i + 1]) * 32) for i in range(n)]


def register_all(rpc: ChainRPC, ks: list[SigningKey]) -> None:
    for i, k in enumerate(ks):
        rpc.call("register_service_node", Registration.for_key(k, "127.0.0.1", 20000 + i, 30000 + i).sign(k))


def test_blocks_are_reproducible_from_the_seed(tmp_path: Path) -> None:
    a, b = Chain(tmp_path / "a.db", "s1"), Chain(tmp_path / "b.db", "s1")
    for _ in range(3):
        a.produce_block()
        b.produce_block()
    assert a.block_hash(3) == b.block_hash(3) == block_hash("s1", 3)
    assert Chain(tmp_path / "c.db", "s2").block_hash(0) != a.block_hash(0)


def test_registration_activates_next_block_and_forms_swarms(tmp_path: Path) -> None:
    rpc = ChainRPC(Chain(tmp_path / "c.db", "seed"))
    ks = keys(12)
    register_all(rpc, ks)
    res = rpc.call("get_n_service_nodes", {})
    assert all(not s["active"] and s["swarm_id"] == UNASSIGNED for s in res["service_node_states"])
    rpc.call("produce_blocks", {"count": 1})
    res = rpc.call("get_n_service_nodes", {"active_only": True})
    states = res["service_node_states"]
    assert len(states) == 12 and res["height"] == 1 and res["block_hash"] == block_hash("seed", 1)
    swarms: dict[int, int] = {}
    for s in states:
        assert set(s) >= {"pubkey_ed25519", "pubkey_x25519", "public_ip", "storage_port", "storage_lmq_port", "swarm_id"}
        swarms[s["swarm_id"]] = swarms.get(s["swarm_id"], 0) + 1
    assert UNASSIGNED not in swarms
    assert len(swarms) == 1 + (12 - 7) // 7  # docs/interop.md §2.4: 1 + max(0, N-7)//7 swarms
    assert rpc.call("get_block_hash", [1]) == block_hash("seed", 1)


@pytest.mark.parametrize(
    "change,error",
    [
        ({"signature": "00" * 64}, "bad registration signature"),
        ({"x25519": "11" * 32}, "twin"),
        ({"ip": "localhost"}, "IPv4"),
        ({"http_port": 70000}, "port"),
        ({"ed25519": "zz"}, "64 hex"),
    ],
)
def test_bad_registrations_are_refused_and_change_nothing(tmp_path: Path, change: dict[str, Any], error: str) -> None:
    chain = Chain(tmp_path / "c.db")
    k = keys(1)[0]
    params = {**Registration.for_key(k, "127.0.0.1", 1, 2).sign(k), **change}
    with pytest.raises(ChainRequestError, match=error):
        ChainRPC(chain).call("register_service_node", params)
    assert chain.nodes() == []


def test_failed_tests_decommission_then_deregister(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "c.db", decommission_after=2, deregister_after_blocks=3)
    rpc = ChainRPC(chain)
    ks = keys(6)
    register_all(rpc, ks)
    chain.produce_block()
    bad = bytes(ks[0].verify_key).hex()
    rpc.call("report_storage_test", sign_report(ks[1], bad, 1, False))
    chain.produce_block()
    assert chain.node(bad).state == "active"  # type: ignore[union-attr]  # one reporter is not enough
    rpc.call("report_storage_test", sign_report(ks[2], bad, 2, False))
    ev = chain.produce_block()
    assert ev.decommissioned == (bad,)
    node = chain.node(bad)
    assert node is not None and node.state == "decommissioned" and node.swarm_id == UNASSIGNED
    assert bad not in {n for members in chain.swarms().values() for n in members}
    for _ in range(3):
        chain.produce_block()
    assert chain.node(bad).state == "deregistered"  # type: ignore[union-attr]
    with pytest.raises(ChainRequestError, match="deregistered"):
        rpc.call("register_service_node", Registration.for_key(ks[0], "127.0.0.1", 1, 2).sign(ks[0]))


def test_bad_reports_are_refused(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "c.db")
    rpc = ChainRPC(chain)
    ks = keys(3)
    register_all(rpc, ks)
    chain.produce_block()
    a, b = (bytes(k.verify_key).hex() for k in ks[:2])
    forged = {**sign_report(ks[1], a, 1, False), "reporter": bytes(ks[2].verify_key).hex()}
    with pytest.raises(ChainRequestError, match="signature"):
        rpc.call("report_storage_test", forged)
    with pytest.raises(ChainRequestError, match="itself"):
        rpc.call("report_storage_test", sign_report(ks[0], a, 1, False))
    with pytest.raises(ChainRequestError, match="not on the chain"):
        rpc.call("report_storage_test", sign_report(ks[1], a, 99, False))
    with pytest.raises(ChainRequestError, match="not an active"):
        rpc.call("report_storage_test", sign_report(ks[1], "ab" * 32, 1, False))
    assert chain.produce_block().decommissioned == ()
    assert b


def test_state_survives_restart(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "c.db", "x")
    rpc = ChainRPC(chain)
    register_all(rpc, keys(5))
    chain.produce_block()
    chain.produce_block()
    before = (chain.height, chain.nodes(), chain.swarms())
    chain.close()
    again = Chain(tmp_path / "c.db", "x")
    assert (again.height, again.nodes(), again.swarms()) == before
    with pytest.raises(ChainRequestError, match="seed"):
        Chain(tmp_path / "c.db", "other")


def test_unknown_method_and_bad_params(tmp_path: Path) -> None:
    rpc = ChainRPC(Chain(tmp_path / "c.db"))
    with pytest.raises(ChainRequestError, match="Method not found"):
        rpc.call("nope", {})
    with pytest.raises(ChainRequestError):
        rpc.call("get_block_hash", ["1"])
    with pytest.raises(ChainRequestError):
        rpc.call("get_block_hash", [5])
    with pytest.raises(ChainRequestError):
        parse_signed([])
