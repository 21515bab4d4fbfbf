"""session_core.chain.service_nodes: the one parser and writer of a service-node list entry."""

from __future__ import annotations

from typing import Any

import pytest

from session_core.chain.service_nodes import SnodeInfo, parse_service_nodes_result, service_nodes_result
from session_core.client.snode import Snode
from session_core.errors import NodeListError, ServiceNodeEntryError
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

ENTRY: dict[str, Any] = {
    "pubkey_ed25519": "ab" * 32, "pubkey_x25519": "cd" * 32, "public_ip": "10.1.2.3",
    "storage_port": 22021, "storage_lmq_port": 22020, "swarm_id": 7,
}


def test_round_trip_and_extra_fields_ignored() -> None:
    info = SnodeInfo.from_chain_json({**ENTRY, "state": "active", "service_node_pubkey": "ab" * 32})
    assert info == SnodeInfo("ab" * 32, "cd" * 32, "10.1.2.3", 22021, 22020, 7)
    assert info.to_chain_json() == ENTRY
    result = service_nodes_result(5, "ee" * 32, [info.to_chain_json()])
    assert parse_service_nodes_result(result) == (5, "ee" * 32, (info,))


def test_partial_entries_of_a_client_cache() -> None:
    cached = {k: v for k, v in ENTRY.items() if k not in ("storage_lmq_port", "swarm_id")}
    with pytest.raises(ServiceNodeEntryError, match="storage_lmq_port"):
        SnodeInfo.from_chain_json(cached)  # a node needs the ZMQ port
    info = SnodeInfo.from_chain_json(cached, partial=True)
    assert (info.zmq_port, info.swarm_id) == (0, UNASSIGNED_SWARM_ID)
    assert "storage_lmq_port" not in info.to_chain_json()  # an unknown port is not written
    snode = Snode.from_chain_json(cached)
    assert Snode.from_chain_json(snode.to_json()) == snode


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pubkey_ed25519": "ab" * 31}, "pubkey_ed25519"),
        ({"pubkey_x25519": "zz" * 32}, "pubkey_x25519"),
        ({"pubkey_x25519": None}, "pubkey_x25519"),
        ({"public_ip": "10.1.2"}, "public_ip"),
        ({"public_ip": 167838211}, "public_ip"),
        ({"storage_port": 0}, "storage_port"),
        ({"storage_port": 70000}, "storage_port"),
        ({"storage_port": True}, "storage_port"),
        ({"storage_lmq_port": "x"}, "storage_lmq_port"),
        ({"swarm_id": 2**64}, "swarm_id"),
        ({"swarm_id": -1}, "swarm_id"),
        ({"swarm_id": 1.5}, "swarm_id"),
    ],
)
def test_malformed_entries_are_refused(change: dict[str, Any], field: str) -> None:
    bad = {**ENTRY, **change}
    with pytest.raises(ServiceNodeEntryError, match=field) as err:
        SnodeInfo.from_chain_json(bad)
    assert isinstance(err.value, ValueError)
    with pytest.raises(NodeListError):  # the client's error for the same entry
        Snode.from_chain_json(bad)


@pytest.mark.parametrize(
    "result",
    [None, [], {"height": "5", "block_hash": "", "service_node_states": []},
     {"height": 5, "block_hash": 3, "service_node_states": []},
     {"height": 5, "block_hash": "", "service_node_states": {}},
     {"height": 5, "block_hash": "", "service_node_states": ["not an object"]}],
)
def test_malformed_lists_are_refused(result: Any) -> None:
    with pytest.raises(ServiceNodeEntryError):
        parse_service_nodes_result(result)
