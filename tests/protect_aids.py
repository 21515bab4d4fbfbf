"""Shared aids of the client-protection tests: in-memory clients on nodes with real SQLite
files, a network clock tests can move forward, and a scanner of every byte on disk."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path

from session_core.client import Client, ClientConfig, ClientEvent
from session_core.client.clock import NetworkClock
from session_core.identity import Identity
from session_core.node.store import SqliteStore
from session_core.testing.memnet import MemNetwork, MemTransport


def sqlite_net(tmp: Path, n: int = 8, swarm_size: int = 4) -> MemNetwork:
    """A memnet whose nodes keep messages in SQLite files under tmp/nodes (scannable)."""
    net = MemNetwork(n, swarm_size=swarm_size)
    (tmp / "nodes").mkdir(parents=True, exist_ok=True)
    for i, node in enumerate(net.nodes):
        node.store = node.rpc.store = SqliteStore(tmp / "nodes" / f"node{i}.db")  # type: ignore[assignment]
    return net


def make_client(net: MemNetwork, home: Path, name: str, identity: Identity | None = None) -> Client:
    cfg = ClientConfig([net.seed_url], home, poll_interval=0.05, listen_interval=0.03, ack_timeout=1.0,
                       request_timeout=2.0, sync=False)
    # The client's clock is the network's: moving net.offset_ms moves both.
    return Client(identity or Identity.generate(), name, cfg, transport=MemTransport(net),
                  clock=NetworkClock(local=net.now_ms), rng=random.Random())


async def wait_event(c: Client, pred: Callable[[ClientEvent], bool], timeout: float = 5.0) -> ClientEvent:
    return await c.next_event(pred, timeout)


async def befriend(a: Client, b: Client) -> None:
    await a.send_friend_request(b.session_id, "hi")
    await wait_event(b, lambda e: e.kind == "request")
    await b.accept(a.session_id, "welcome")
    await wait_event(a, lambda e: e.kind == "accepted")


def files_under(*roots: Path) -> list[Path]:
    return [p for r in roots if r.exists() for p in sorted(r.rglob("*")) if p.is_file()]


def scan(roots: Iterable[Path], needles: Iterable[bytes]) -> list[tuple[Path, bytes]]:
    """Every (file, needle) such that the needle's bytes occur in the file (WAL, journal and
    shared-memory files included: everything under the roots)."""
    found = []
    wanted = [n for n in needles if n]
    for path in files_under(*roots):
        raw = path.read_bytes()
        found += [(path, n) for n in wanted if n in raw]
    return found


def profile_client(net: MemNetwork, home: Path, name: str, display: str, identity: Identity | None = None,
                   passphrase: str = "correct horse") -> Client:
    """A client whose directory is a real profile (identity.json beside client.db)."""
    import nacl.pwhash.argon2id as argon2id

    from session_core.identity_store import ProfileStore

    store = ProfileStore(home, opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)
    identity = identity or Identity.generate()
    store.create(name, identity, passphrase, display_name=display)
    return make_client(net, store.profile_dir(name), display, identity)


def link_all(src: Path, dst: Path) -> list[Path]:
    """Hard links (same inodes) to every file under *src*: after a wipe they show whether the
    blocks were overwritten or merely unlinked."""
    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for i, p in enumerate(files_under(src)):
        q = dst / f"{i}-{p.name}"
        os.link(p, q)
        out.append(q)
    return out
