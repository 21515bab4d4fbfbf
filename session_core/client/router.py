"""Asynchronous routing (whitepaper §4.6.1): store into the recipient's swarm, poll our own.

store(recipient, data, ttl)
    The recipient's swarm comes from a cache, else ``get_snodes_for_pubkey`` asked of a random
    node through an onion. The proof of work is solved off the event loop
    (``pow.solve_async``) at the difficulty last seen, and the store goes to 3 members at once,
    each through its own onion. One 200 is enough (members replicate); otherwise the round's
    answers decide the next: 421 -> take the swarm in the body; 432 -> the difficulty in the
    body, new timestamp and nonce; 406 -> re-estimate the clock offset, new timestamp and nonce;
    timeout/unreadable -> other members, other paths. Rounds are bounded.

poll()
    ``retrieve`` from up to 3 members of our swarm, each with its own lastHash (a node that lost
    or hides messages cannot make us skip others' copies). Messages come back with their hash;
    deduplication and decryption are the caller's.

poll_member(pubkey, node, wait_ms)
    One member, as a long-poll: the first ``retrieve`` carries ``wait`` and the node holds it
    until a message for us is stored there (by a sender or by replication) or the wait ends.
    The client runs one such loop per member it listens to, so whichever copy lands first is
    delivered at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from session_core import pow as _pow
from session_core.client.clock import NetworkClock
from session_core.client.onion_client import OnionClient, RpcResult
from session_core.client.snode import Snode
from session_core.errors import ClientError, DeliveryError, NodeListError, OnionRequestFailedError, StoreRefusedError
from session_core.identity import Identity
from session_core.protocol import storage_auth

__all__ = ["SwarmRouter", "StoreReport", "Retrieved", "poll_order"]

STORE_COPIES = 3  # docs/interop.md §4.2: the desktop sends every store to 3 members
MIN_TTL_MS = 10_000  # the shortest TTL a node accepts (docs/interop.md §1.6)
MAX_ROUNDS = 5


@dataclass
class StoreReport:
    recipient: str
    stored_on: list[Snode] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    rounds: int = 0
    difficulty: int = 0
    pow_s: float = 0.0
    events: list[str] = field(default_factory=list)  # 421/432/406/timeouts seen, for display
    message_hash: str = ""  # the nodes' hash of what was stored (what ``expire`` names)

    def describe(self) -> str:
        nodes = ",".join(n.short() for n in self.stored_on)
        extra = f" [{'; '.join(self.events)}]" if self.events else ""
        return f"swarm of {self.recipient[:10]}… stored on {nodes} via {self.paths[0] if self.paths else '?'}" + extra


@dataclass(frozen=True)
class Retrieved:
    hash: str
    data: bytes
    node: Snode


class SwarmRouter:
    def __init__(self, oc: OnionClient, clock: NetworkClock, nodes: Any, *, rng: random.Random | None = None,
                 pow_threads: int | None = 1) -> None:
        self.oc = oc
        self.clock = clock
        self._nodes = nodes  # callable -> current node list
        self.rng = rng or random.Random()
        self.swarms: dict[str, list[Snode]] = {}
        self.difficulty = 1
        self.last_hash: dict[str, str] = {}  # node ed25519 -> last hash we retrieved from it
        self.pow_threads = pow_threads

    # -- swarms -------------------------------------------------------------------------------

    async def swarm_of(self, pubkey: str, *, refresh: bool = False) -> list[Snode]:
        if not refresh and self.swarms.get(pubkey):
            return self.swarms[pubkey]
        nodes = list(self._nodes())
        if not nodes:
            raise NodeListError("no service nodes known")
        last = ""
        for dest in self.rng.sample(nodes, min(3, len(nodes))):
            try:
                r = await self.oc.request(dest, "get_snodes_for_pubkey", {"pubKey": pubkey})
            except OnionRequestFailedError as exc:
                last = str(exc)
                continue
            if r.status == 200:
                self._set_swarm(pubkey, r.body)
                if self.swarms.get(pubkey):
                    return self.swarms[pubkey]
            last = f"status {r.status}"
        raise DeliveryError(f"cannot find the swarm of {pubkey[:12]}…: {last}")

    def _set_swarm(self, pubkey: str, body: str) -> None:
        try:
            snodes = json.loads(body)["snodes"]
            members = [Snode.from_swarm_json(s) for s in snodes]
        except (ValueError, KeyError, TypeError, ClientError):
            return
        if members:
            self.swarms[pubkey] = members

    # -- store --------------------------------------------------------------------------------

    async def store(self, recipient: str, data: bytes, ttl_ms: int, *, expires_at_ms: int | None = None) -> StoreReport:
        """Store *data* for *recipient*; *expires_at_ms* (a disappearing message): the node's copy
        lives until then (but at least the nodes' minimum TTL), not the full *ttl_ms*."""
        rep = StoreReport(recipient)
        full_ttl = ttl_ms
        data_b64 = base64.b64encode(data).decode("ascii")
        bad: set[str] = set()
        refresh = False
        for rnd in range(MAX_ROUNDS):
            rep.rounds = rnd + 1
            swarm = await self.swarm_of(recipient, refresh=refresh)
            refresh = False
            strikes = self.oc.pool.failures
            members = [m for m in swarm if m.ed25519 not in bad and strikes.get(m.ed25519, 0) < self.oc.pool.max_failures]
            members = members or [m for m in swarm if m.ed25519 not in bad] or list(swarm)
            # One copy on the member the recipient long-polls first (poll_order), so it wakes
            # a held request at once instead of at the swarm's next replication round.
            ordered = poll_order(recipient, members)
            targets = ordered[:1] + self.rng.sample(ordered[1:], max(0, min(STORE_COPIES, len(members)) - 1))
            ts = self.clock.now_ms()
            if expires_at_ms is not None:
                ttl_ms = min(full_ttl, max(MIN_TTL_MS, expires_at_ms - ts))
            t0 = time.perf_counter()
            nonce = await _pow.solve_async(ts, ttl_ms, recipient, data_b64, self.difficulty, threads=self.pow_threads)
            rep.pow_s += time.perf_counter() - t0
            rep.difficulty = self.difficulty
            params = {"pubKey": recipient, "ttl": str(ttl_ms), "nonce": nonce, "timestamp": str(ts), "data": data_b64}
            answers = await asyncio.gather(*(self._try(t, params) for t in targets))
            refusals = [a.body.strip() for a in answers if not isinstance(a, str) and a.status == 401]
            if len(refusals) == len(targets):  # a verdict on the data, the same from every member
                raise StoreRefusedError(f"the swarm of {recipient[:12]}… refuses this message: {refusals[0][:200]}")
            clock_off = False
            for target, ans in zip(targets, answers):
                if isinstance(ans, str):
                    bad.add(target.ed25519)
                    rep.events.append(f"{target.short()}: {ans}")
                    continue
                if ans.status == 200:
                    rep.stored_on.append(target)
                    rep.paths.append(ans.path.describe())
                    self._note_difficulty(ans.body)
                elif ans.status == 421:
                    rep.events.append(f"421 new swarm from {target.short()}")
                    self._set_swarm(recipient, ans.body)
                elif ans.status == 432:
                    self._note_difficulty(ans.body)
                    rep.events.append(f"432 difficulty {self.difficulty}")
                elif ans.status == 406:
                    clock_off = True
                else:
                    bad.add(target.ed25519)
                    rep.events.append(f"{target.short()}: {ans.status} {ans.body.strip()[:60]}")
            if rep.stored_on:
                rep.message_hash = _pow.message_hash(nonce, ts, ttl_ms, recipient, data_b64)
                return rep
            if clock_off:
                off = await self.clock.sync(self.oc, self.rng.sample(swarm, len(swarm)))
                rep.events.append(f"406: clock offset now {off} ms")
            if len(bad) >= len(swarm):
                bad.clear()
                refresh = True
        raise DeliveryError(f"could not store for {recipient[:12]}… after {rep.rounds} rounds: {'; '.join(rep.events[-4:])}")

    async def _try(self, dest: Snode, params: dict[str, Any], method: str = "store") -> RpcResult | str:
        try:
            return await self.oc.request(dest, method, params)
        except OnionRequestFailedError as exc:
            return str(exc)

    def _note_difficulty(self, body: str) -> None:
        try:
            d = int(json.loads(body)["difficulty"])
        except (ValueError, KeyError, TypeError):
            return
        if 0 < d < 1_000_000:
            self.difficulty = d

    # -- expire --------------------------------------------------------------------------------

    async def expire(self, identity: Identity, due: list[tuple[str, int]]) -> int:
        """Bring forward the expiry of our swarm's copies: (hash, time) pairs, one signed
        ``expire`` per distinct time, sent to *every* member (each member also forwards it to the
        others, as upstream's do; asking all of them covers one that would not).  Returns how
        many members answered with a valid signature of theirs over what they did."""
        if not due:
            return 0
        swarm = await self.swarm_of(identity.session_id)
        by_time: dict[int, list[str]] = {}
        for h, at in due:
            by_time.setdefault(at, []).append(h)
        calls = [(node, sorted(hashes), at) for at, hashes in sorted(by_time.items()) for node in swarm]
        answers = await asyncio.gather(*(self._try(node, storage_auth.expire_params(identity, hashes, at), "expire")
                                         for node, hashes, at in calls))
        return sum(1 for (node, hashes, at), ans in zip(calls, answers)
                   if not isinstance(ans, str) and ans.status == 200 and _signed_expiry(identity.session_id, node,
                                                                                       hashes, at, ans.body))

    # -- poll ---------------------------------------------------------------------------------

    async def poll(self, pubkey: str, *, copies: int = 3) -> list[Retrieved]:
        swarm = await self.swarm_of(pubkey)
        alive = [n for n in swarm if self.oc.pool.failures.get(n.ed25519, 0) < self.oc.pool.max_failures] or swarm
        targets = self.rng.sample(alive, min(copies, len(alive)))
        got = await asyncio.gather(*(self._retrieve_all(pubkey, t) for t in targets))
        return [m for part in got for m in part]

    def members_to_poll(self, pubkey: str, copies: int = 3) -> list[Snode]:
        """Up to *copies* members of the (cached) swarm of *pubkey*, the healthy ones first, in
        a fixed order so that long-poll loops keep their member while it works."""
        swarm = self.swarms.get(pubkey, [])
        limit = self.oc.pool.max_failures
        ranked = sorted(poll_order(pubkey, swarm), key=lambda n: self.oc.pool.failures.get(n.ed25519, 0) >= limit)
        return ranked[:copies]

    async def poll_member(self, pubkey: str, node: Snode, wait_ms: int) -> list[Retrieved]:
        """New messages on one member, waiting up to *wait_ms* there for the first (long-poll)."""
        return await self._retrieve_all(pubkey, node, wait_ms=wait_ms)

    async def _retrieve_all(self, pubkey: str, node: Snode, pages: int = 10, wait_ms: int = 0) -> list[Retrieved]:
        out: list[Retrieved] = []
        for _ in range(pages):
            params: dict[str, Any] = {"pubKey": pubkey, "lastHash": self.last_hash.get(node.ed25519, "")}
            if wait_ms and not out:
                params["wait"] = wait_ms
            try:
                r = await self.oc.request(node, "retrieve", params, attempts=1 if "wait" in params else 2,
                                          timeout=self.oc.timeout + (wait_ms / 1000 if "wait" in params else 0))
            except OnionRequestFailedError:
                return out
            if r.status == 421:
                self._set_swarm(pubkey, r.body)
                return out
            if r.status != 200:
                return out
            try:
                msgs = json.loads(r.body)["messages"]
                page = [Retrieved(str(m["hash"]), base64.b64decode(m["data"]), node) for m in msgs]
            except (ValueError, KeyError, TypeError):
                return out  # a node answering garbage gets nothing from us; other members answer
            out.extend(page)
            if page:
                self.last_hash[node.ed25519] = page[-1].hash
            if len(page) < 10:
                return out
        return out


def _signed_expiry(pubkey: str, node: Snode, requested: list[str], expiry: int, body: str) -> bool:
    """True if *node* answered an ``expire`` with its own signature over what it did."""
    try:
        mine = json.loads(body)["swarm"][node.ed25519]
        updated = [str(h) for h in mine["updated"]]
        unchanged = {str(h): int(e) for h, e in mine.get("unchanged", {}).items()}
        message = storage_auth.expire_reply_message(pubkey, int(mine["expiry"]), requested, updated, unchanged)
        return storage_auth.verify_node(node.ed25519, str(mine["signature"]), message)
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def poll_order(pubkey: str, swarm: list[Snode]) -> list[Snode]:
    """*pubkey*'s swarm in the order its owner long-polls it (healthy members first, then this
    order).  Senders store one copy on the first member, so a message wakes a held request at
    once; keyed by *pubkey*, so the accounts of a swarm spread over its members instead of all
    holding requests on, and sending to, the same one."""
    return sorted(swarm, key=lambda n: hashlib.blake2b((pubkey + n.ed25519).encode(), digest_size=8).digest())
