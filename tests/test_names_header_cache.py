"""The block-header cache of name resolving: only newer headers are fetched next time, and a
cache that does not hold together, is of another chain, or is not continued by the chain is
dropped (never believed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from session_core.client.names import HeaderSync, NameRegistrar
from session_core.devnet.chain import Chain
from session_core.devnet.rpc import ChainRPC
from session_core.identity import Identity


class Counted:
    """A chain RPC that records which header ranges were asked for."""

    def __init__(self, rpc: ChainRPC) -> None:
        self.rpc = rpc
        self.ranges: list[tuple[int, int]] = []

    async def __call__(self, method: str, params: Any) -> Any:
        if method == "get_block_headers_range":
            self.ranges.append((params["start_height"], params["end_height"]))
        return self.rpc.call(method, params)


def chain(tmp: Path, name: str, blocks: int) -> ChainRPC:
    rpc = ChainRPC(Chain(tmp / f"{name}.db", name_fee=5, name_lease_blocks=6))
    for _ in range(blocks):
        rpc.produce_block()
    return rpc


async def test_the_second_sync_fetches_only_new_headers(tmp_path: Path) -> None:
    rpc, cache = chain(tmp_path, "a", 30), tmp_path / "h" / "cache.json"
    first = Counted(rpc)
    tip = await HeaderSync(first, cache).sync()
    assert tip.height == rpc.chain.height and cache.exists()
    for _ in range(5):
        rpc.produce_block()
    again = Counted(rpc)
    sync = HeaderSync(again, cache)
    assert (await sync.sync()).height == rpc.chain.height
    assert again.ranges == [(30, 30), (31, 35)]  # the cached tip checked, then only the new blocks
    fresh = HeaderSync(Counted(rpc))
    await fresh.sync()
    assert [h.header_hash() for h in sync.headers] == [h.header_hash() for h in fresh.headers]


@pytest.mark.parametrize("spoil", ["tamper", "other chain", "truncated json", "not continued"])
async def test_a_bad_cache_is_dropped_and_the_sync_starts_over(tmp_path: Path, spoil: str) -> None:
    rpc, cache = chain(tmp_path, "a", 12), tmp_path / "cache.json"
    await HeaderSync(Counted(rpc), cache).sync()
    if spoil == "tamper":
        doc = json.loads(cache.read_text())
        doc[5]["names_root"] = "00" * 32
        doc[5].pop("header_hash", None)
        cache.write_text(json.dumps(doc))
    elif spoil == "other chain":  # the devnet's blocks are deterministic: a name makes it differ
        other = chain(tmp_path, "b", 0)
        await NameRegistrar(Counted(other), Identity.generate()).register("different")
        for _ in range(12):
            other.produce_block()
        await HeaderSync(Counted(other), cache).sync()
    elif spoil == "truncated json":
        cache.write_text(cache.read_text()[:100])
    else:  # a new devnet under the same URL: the chain has another genesis, fewer blocks
        rpc = chain(tmp_path, "c", 3)
    counted = Counted(rpc)
    sync = HeaderSync(counted, cache)
    tip = await sync.sync()
    assert tip.height == rpc.chain.height and len(sync.headers) == rpc.chain.height + 1
    assert (0, min(rpc.chain.height, 999)) in counted.ranges  # fetched from genesis again
    fresh = await HeaderSync(Counted(rpc)).sync()
    assert tip.header_hash() == fresh.header_hash()
