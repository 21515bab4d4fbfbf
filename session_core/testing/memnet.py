"""An in-memory service-node network for client tests and simulations (no sockets).

Each :class:`MemNode` runs the real node logic (``OnionRouter``, ``StorageRPC`` on a
``MemoryStore``, the listening mailboxes) with the transport replaced by direct calls; stores and
the owner-signed proofs of accepted ``expire`` requests are replicated to the swarm at once
(each member checks the proof's signature itself). :class:`MemTransport` is what a client posts through. Faults:
``down`` (refuses everything), ``refuse_stores`` (answers retrieves, refuses stores with a 507, as
a node whose storage is full), ``drop`` (acknowledges stores, keeps nothing), ``tamper`` (flips
bytes in the messages it returns), ``clock_skew_ms``. ``seen`` records, per node, who handed it
each request (the client's address or a node) and every plaintext it decrypted, for metadata
tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
import nacl.public

from session_core import onion
from session_core.chain.service_nodes import service_nodes_result
from session_core.client.snode import Snode
from session_core.client.transport import HttpResult
from session_core.errors import NodeUnreachableError, PeerTimeoutError
from session_core.node.group_generations import GroupGenerations

from session_core.node import expiry_proofs, listening, oxend_proxy
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.onion_relay import OnionRouter
from session_core.node.long_poll import wait_held
from session_core.node.storage_rpc import Reply, StorageRPC
from session_core.node.waiters import Waiters, pubkey_key
from session_core.node.store import MemoryStore

__all__ = ["MemNetwork", "MemNode", "MemTransport"]


@dataclass
class Seen:
    source: str  # "client:<addr>" or "node:<ed25519>"
    flow: int  # one client request (all the hops it crossed share it)
    plaintext: bytes  # what this node could read after peeling its layer


class MemNode:
    def __init__(self, net: MemNetwork, index: int, ip: str, swarm_id: int, difficulty: int) -> None:
        sk = nacl.public.PrivateKey.generate()
        ed_pk, ed_sk = nacl.bindings.crypto_sign_keypair()
        self.net = net
        self.secret = bytes(sk)
        self.info = SnodeInfo(ed_pk.hex(), bytes(sk.public_key).hex(), ip, 20000 + index, 30000 + index, swarm_id)
        self.store = MemoryStore()
        self.pending = expiry_proofs.PendingExpiries()  # proofs for messages not held yet
        self.difficulty = DifficultyTracker(DifficultyPolicy(base=difficulty))
        self.clock_skew_ms = 0  # before the RPC: its mailboxes read the clock when made
        waiters = Waiters()
        self.rpc = StorageRPC(self.store, lambda: self.view, self.info.ed25519, self.difficulty, self.clock,
                              methods=listening.ListeningMethods(lambda: self.view, self.clock, waiters=waiters).table(),
                              waiters=waiters, sign=lambda m: bytes(nacl.bindings.crypto_sign(m, ed_sk)[:64]))
        self.router = OnionRouter(self.secret, lambda: self.view, self._forward, self._storage, self._exit)
        self.down = False
        self.refuse_stores = False
        self.drop = False
        self.tamper = False
        self.seen: list[Seen] = []
        self.requests = 0
        #: The chain this node forwards ``oxend_request`` to (None: it has none; tests may give
        #: a dishonest one).
        self.chain_call: oxend_proxy.ChainCall | None = None

    @property
    def view(self) -> NetworkView:
        return self.net.view

    @property
    def snode(self) -> Snode:
        i = self.info
        return Snode(i.ed25519, i.x25519, i.ip, i.http_port, i.swarm_id)

    def clock(self) -> int:
        return self.net.now_ms() + self.clock_skew_ms

    async def handle_onion(self, body: bytes, hop: int, source: str, flow: int) -> tuple[int, bytes]:
        if self.down:
            raise PeerTimeoutError("node is down")
        self.requests += 1
        # The router calls back into us synchronously before any await, so these are this request's.
        self._source, self._flow = source, flow
        return await self.router.handle(body, hop)

    async def _forward(self, nxt: SnodeInfo, body: bytes, hop: int) -> tuple[int, bytes]:
        self.seen.append(Seen(self._source, self._flow, body))  # the decrypted layer: routing info + next blob
        return await self.net.by_ed[nxt.ed25519].handle_onion(body, hop, f"node:{self.info.ed25519}", self._flow)

    async def _storage(self, payload: bytes) -> Reply:
        self.seen.append(Seen(self._source, self._flow, payload))
        if self.chain_call is not None and (chain_reply := await oxend_proxy.handle(self.chain_call, payload)) is not None:
            return chain_reply
        if self.refuse_stores and self.rpc.check(payload).stored is not None:
            return Reply.json(507, {"error": "storage full (memnet refuse_stores)"})
        out = self.rpc.handle(payload)
        if out.stored is not None and self.drop:
            self.store = self.rpc.store = MemoryStore()  # acknowledged, then forgotten
            self.rpc.generations = GroupGenerations(self.store)
        elif out.stored is not None:
            for peer in self.net.view.members(self.info.swarm_id):
                other = self.net.by_ed[peer.ed25519]
                if other is not self and not other.down and not other.drop:
                    other.rpc.generations.noted(out.stored)  # as the replicator does
                    if other.store.save_if_new(out.stored):
                        expiry_proofs.apply_pending(other.store, [out.stored], other.clock(), other.pending)
                        other.rpc.waiters.notify(pubkey_key(out.stored.pubkey))
        if out.expired is not None:
            if out.expired_missing:
                self.pending.remember(out.expired, out.expired_missing)
            self.replicate_expiry(out.expired.encode())
        # A long-poll (listen_get/retrieve with wait) that found nothing waits here.
        reply = out.reply if out.held is None else await wait_held(out.held)
        # Retrieved messages only ('"expiration"' is in no mailbox reply: its items are base64).
        if self.tamper and reply.status == 200 and '"expiration"' in reply.body:
            doc = json.loads(reply.body)
            for m in doc["messages"]:
                raw = bytearray(base64.b64decode(m["data"]))
                raw[len(raw) // 2] ^= 0x55
                m["data"] = base64.b64encode(bytes(raw)).decode()
            reply = Reply.json(200, doc)
        return reply

    def replicate_expiry(self, blob: bytes) -> None:
        """Hand an expiry proof to the other live members, each checking it as a node does."""
        for peer in self.net.view.members(self.info.swarm_id):
            other = self.net.by_ed[peer.ed25519]
            if other is not self and not other.down and not other.drop:
                other.accept_expiry(blob)

    def accept_expiry(self, blob: bytes) -> list[str]:
        """One proof from a swarm peer: applied only if the owner signed it (the hashes moved)."""
        proof = expiry_proofs.ExpiryProof.decode(blob)
        if not proof.verify():
            return []
        return expiry_proofs.apply(self.store, proof, self.clock(), self.pending)

    async def _exit(self, step: onion.Exit) -> tuple[int, bytes]:
        if self.net.exit_post is not None:  # e.g. a real file server on loopback
            return await self.net.exit_post(step)
        return 502, b"no exits in memnet"


class MemNetwork:
    def __init__(self, n: int = 12, *, swarm_size: int = 4, difficulty: int = 1, ips: Sequence[str] | None = None) -> None:
        import time

        self._time = time
        self.offset_ms = 0
        nswarms = max(1, n // swarm_size)
        ids = [(2**64 // nswarms) * k + 12345 for k in range(nswarms)]
        self.nodes = [MemNode(self, i, ips[i] if ips else f"10.{i}.0.1", ids[i % nswarms], difficulty) for i in range(n)]
        self.by_ed = {m.info.ed25519: m for m in self.nodes}
        self.by_port = {m.info.http_port: m for m in self.nodes}
        self.view = NetworkView(1, "00" * 32, tuple(m.info for m in self.nodes))
        self.seed_url = "mem://seed/json_rpc"
        self.flows = 0
        #: What an exit node does with a server exit (None: answers 502); tests plug in e.g.
        #: ``session_core.node.exit_http.ExitClient(allow_loopback=True)`` to reach a real server.
        self.exit_post: Callable[[onion.Exit], Awaitable[tuple[int, bytes]]] | None = None

    def now_ms(self) -> int:
        return int(self._time.time() * 1000) + self.offset_ms

    def chain_json(self) -> dict[str, Any]:
        v = self.view
        return {"result": service_nodes_result(v.height, v.block_hash, (i.to_chain_json() for i in v.nodes))}

    def swarm_nodes(self, pubkey: str) -> list[MemNode]:
        sid = self.view.swarm_for_pubkey(pubkey)
        return [m for m in self.nodes if m.info.swarm_id == sid]


@dataclass
class MemTransport:
    net: MemNetwork
    address: str = "192.0.2.1"  # the client's own address, as a guard would see it
    seed_down: bool = False
    posts: list[tuple[str, int]] = field(default_factory=list)  # (url, size) of every direct post

    async def post(self, url: str, body: bytes, timeout: float) -> HttpResult:
        self.posts.append((url, len(body)))
        if url == self.net.seed_url:
            if self.seed_down:
                raise NodeUnreachableError("seed is down")
            return HttpResult(200, json.dumps(self.net.chain_json()).encode())
        port = int(url.split(":")[2].split("/")[0])
        node = self.net.by_port.get(port)
        if node is None or node.down:
            raise NodeUnreachableError(f"{url}: connection refused")
        if not url.endswith("/onion_req/v2"):
            raise NodeUnreachableError(f"{url}: a client must only post onions")
        self.net.flows += 1
        status, reply = await node.handle_onion(body, 0, f"client:{self.address}", self.net.flows)
        return HttpResult(status, reply)

    async def close(self) -> None:
        return None
