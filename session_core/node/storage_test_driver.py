"""Running and answering storage tests on a live node (the rules are in
:mod:`session_core.node.storage_test`, which does no I/O).

For each new block, ``TEST_BLOCKS_BUFFER`` blocks back, the pair the block hash picks in our
swarm is tested: if we are the tester, we ask the testee for a record of ours by hash and
report the verdict, signed, to the chain.  As a testee we answer once the request checks
out, waiting up to ``retry_period`` for a record that may still be propagating.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from nacl.signing import SigningKey

from session_core.chain.client import ChainClient
from session_core.chain.reports import sign_report
from session_core.errors import ChainError, PeerRequestError
from session_core.node import storage_test
from session_core.node.clock import now_ms
from session_core.node.message import Message
from session_core.node.network import NetworkView
from session_core.node.peer import PeerClient
from session_core.node.stats import NodeStats
from session_core.node.store import MessageStore

log = logging.getLogger("session_core.node")

HASH_CACHE_BLOCKS = 64  # block hashes (and tested heights) remembered


class StorageTestDriver:
    def __init__(
        self,
        me: str,
        signing: SigningKey,
        store: MessageStore,
        peers: PeerClient,
        chain: ChainClient,
        view: Callable[[], NetworkView | None],
        stats: NodeStats,
        retry_period: float = storage_test.RETRY_PERIOD,
    ) -> None:
        self.me = me
        self._signing = signing
        self.store = store
        self.peers = peers
        self.chain = chain
        self._view = view
        self.stats = stats
        self.retry_period = retry_period
        self._hashes: dict[int, str] = {}
        self._tested_heights: set[int] = set()
        self._rng = random.Random()

    def remember(self, view: NetworkView) -> None:
        """Keep the block hash of a new view; tests only look a few blocks back, so the
        caches stay small on long runs."""
        self._hashes[view.height] = view.block_hash
        for h in [h for h in self._hashes if h < view.height - HASH_CACHE_BLOCKS]:
            del self._hashes[h]
        self._tested_heights = {h for h in self._tested_heights if h >= view.height - HASH_CACHE_BLOCKS}

    async def _block_hash(self, height: int) -> str | None:
        h = self._hashes.get(height)
        if h is None:
            try:
                h = str(await self.chain.call("get_block_hash", [height]))
            except ChainError:
                return None
            self._hashes[height] = h
        return h

    # -- as the tester ------------------------------------------------------------------------

    async def maybe_test(self, view: NetworkView) -> None:
        height = view.height - storage_test.TEST_BLOCKS_BUFFER
        me = view.node(self.me)
        if height < 1 or me is None or height in self._tested_heights:
            return
        self._tested_heights.add(height)
        bh = await self._block_hash(height)
        pair = storage_test.pair_for(view, me.swarm_id, bh) if bh else None
        if pair is None or pair[0] != self.me:
            return
        testee = view.node(pair[1])
        msg = self._pick_record(view, me.swarm_id)
        if testee is None or msg is None:
            return
        try:
            parts = await self.peers.request(
                testee.x25519, testee.ip, testee.zmq_port, b"storage_test",
                [str(height).encode(), msg.hash.encode()], self.retry_period + 3.0,
            )
        except PeerRequestError:
            parts = []
        passed = storage_test.judge_answer(parts, msg.data)
        if passed:
            self.stats.tests_passed += 1
        else:
            self.stats.tests_failed += 1
        log.info("storage test of %s… at height %d: %s", testee.ed25519[:12], height, "passed" if passed else "FAILED")
        try:
            await self.chain.call("report_storage_test", sign_report(self._signing, testee.ed25519, height, passed))
        except ChainError as exc:
            log.warning("could not report a storage test: %s", exc)

    def _pick_record(self, view: NetworkView, swarm_id: int) -> Message | None:
        for _ in range(5):  # only records that belong to our swarm test anything
            msg = self.store.random_message(now_ms(), self._rng)
            if msg is None:
                return None
            if view.swarm_for_pubkey(msg.pubkey) == swarm_id:
                return msg
        return None

    # -- as the testee ------------------------------------------------------------------------

    async def answer(self, args: list[bytes], peer_x25519: str) -> list[bytes]:
        if len(args) != 2:
            return [b"wrong request"]
        try:
            height, msg_hash = int(args[0]), args[1].decode("ascii")
        except (ValueError, UnicodeDecodeError):
            return [b"wrong request"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_period
        self.stats.tests_answered += 1
        while True:
            view = self._view()
            tester = view.node_by_x25519(peer_x25519) if view else None
            if view is None or tester is None:
                return [b"wrong request"]
            bh = await self._block_hash(height) if height <= view.height else None
            msg = self.store.get(msg_hash, now_ms())
            verdict = storage_test.judge_request(view, self.me, tester.ed25519, height, bh, msg is not None)
            if verdict is storage_test.Verdict.SUCCESS and msg is not None:
                return [b"OK", msg.data.encode()]
            if verdict is storage_test.Verdict.WRONG_REQUEST:
                return [b"wrong request"]
            if loop.time() >= deadline:
                return [b"other"]
            await asyncio.sleep(storage_test.RETRY_INTERVAL)
