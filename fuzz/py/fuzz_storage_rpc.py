"""Fuzz target: the client storage RPC (node/storage_rpc.py) on raw request bodies, against
an in-memory store.  Every body must get an HTTP answer (never an exception), a 5xx only
for "initializing", and a refused request must leave the store unchanged."""

from __future__ import annotations

from harness import atheris, main

with atheris.instrument_imports():
    from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
    from session_core.node.network import NetworkView, SnodeInfo
    from session_core.node.storage_rpc import StorageRPC
    from session_core.node.store import MemoryStore

NOW = 1_700_000_000_000
NODES = tuple(
    SnodeInfo(ed25519=f"{i:02x}" * 32, x25519=f"{i + 100:02x}" * 32, ip="127.0.0.1", http_port=20000 + i,
              zmq_port=30000 + i, swarm_id=(0, 2**63)[i % 2])
    for i in range(4)
)
VIEW = NetworkView(height=10, block_hash="ab" * 32, nodes=NODES)
STORE = MemoryStore()
RPC = StorageRPC(STORE, lambda: VIEW, NODES[0].ed25519, DifficultyTracker(DifficultyPolicy(base=1)), lambda: NOW)


def test_one(data: bytes) -> None:
    before = len(list(STORE.messages(0)))
    out = RPC.handle(data)
    assert 200 <= out.reply.status < 600 and isinstance(out.reply.body, str), out
    if out.reply.status >= 500:
        assert out.reply.status == 503, out.reply
    if out.reply.status != 200:
        assert len(list(STORE.messages(0))) == before, "a refused request changed the store"


if __name__ == "__main__":
    main(test_one)
