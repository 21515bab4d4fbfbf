"""Soak test: a devnet under a store storm while nodes are SIGKILLed and restarted at random.

Theory of operation
-------------------
:func:`run_soak` starts a devnet (:class:`~session_core.devnet.launcher.Devnet`) and runs three
kinds of threads until the time is up or enough kill/restart events happened:

- *writers* build PoW'd ``store`` requests for a fixed set of owners and POST them straight to
  a node over HTTP (no onion: the soak tests the nodes' durability, not the onion path).  A
  421 names the right swarm, which is then asked.  Only an HTTP 200 counts as an
  acknowledgement; every acknowledged message is remembered with the member that took it.
- *killers* (``max_down`` of them, so at most that many nodes are down at once) each pick a
  running node, SIGKILL it, leave it down for a random moment, then restart it on the same data
  dir and ports and wait until it serves again: one *event*.  A killed node loses whatever it
  had not written to SQLite, nothing else.
- the main thread watches the clock.

Afterwards every node is brought back (killed ones restarted; ones the chain decommissioned
while they were down re-register by restarting, as an operator would), replication gets
``settle`` seconds, and each owner's messages are walked with ``retrieve`` (``lastHash``
paging) on every active member of its swarm.  An acknowledged message found on no member is
*lost*; found on some but not all is *under-replicated*; a hash that comes back twice in one
walk is a *duplicate*.  The goal (issue 11): 0 lost over >= 1 000 events.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from session_core import pow as _pow
from session_core.bench.loadgen import random_pubkey, rpc_bytes, store_params
from session_core.devnet.launcher import Devnet, DevnetOptions, rpc_call
from session_core.errors import DevnetError, InvalidInputError
from session_core.node.network import NetworkView

log = logging.getLogger("session_core.soak")

STORE_TTL_MS = 6 * 3600 * 1000  # nothing may expire during a soak
HTTP_TIMEOUT = 5.0
RETRIEVE_PAGE = 10  # the node's RETRIEVE_LIMIT: a shorter page is the last one


@dataclass
class SoakOptions:
    directory: Path
    nodes: int = 5
    minutes: float = 1.0
    #: Stop after this many kill/restart events (or when the minutes are up).
    kills: int = 1000
    #: Most nodes down at the same time (one killer thread each); keep it below ``nodes``.
    max_down: int = 2
    #: Seconds a killer waits before its next kill (uniform in [0, 2 x this]).
    kill_interval: float = 0.3
    #: Longest a killed node stays down before its restart (uniform in [0, this]).
    downtime: float = 0.5
    writers: int = 3
    owners: int = 16
    #: Seconds the writers pause between stores (0: as fast as they can).
    store_pause: float = 0.0
    block_interval: float = 1.0
    #: Seconds given to replication after the storm before anything counts as missing.
    settle: float = 60.0
    seed: int | None = None
    #: Extra ``node run`` options for every node.
    node_args: tuple[str, ...] = ()
    #: Test aid: node index -> "drop" | "tamper" (a soak must notice a node that loses data).
    misbehave: dict[int, str] = field(default_factory=dict)


@dataclass
class SoakReport:
    events: int = 0  # kill/restart events the devnet survived (the node came back)
    restart_failures: int = 0
    attempted: int = 0
    acked: int = 0
    lost: int = 0  # acknowledged, then found on no active member of its swarm
    under_replicated: int = 0  # acknowledged, found on some active members of its swarm but not all
    duplicated: int = 0  # hashes returned more than once in one retrieve walk
    unacked_stored: int = 0  # not acknowledged (timeout, kill) but stored all the same: harmless
    refused: dict[str, int] = field(default_factory=dict)  # store replies other than 200, by status
    seconds: float = 0.0
    lost_hashes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        refused = ", ".join(f"{k}: {v}" for k, v in sorted(self.refused.items())) or "none"
        return [
            f"events survived      {self.events} kill/restart ({self.restart_failures} restarts failed)",
            f"stores attempted     {self.attempted}",
            f"acked                {self.acked}",
            f"lost                 {self.lost}",
            f"duplicated           {self.duplicated}",
            f"under-replicated     {self.under_replicated} (on some live members of the swarm, not all)",
            f"stored, not acked    {self.unacked_stored}",
            f"not acked, by reply  {refused}",
            f"duration             {self.seconds:.0f} s",
        ]


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@dataclass(frozen=True, slots=True)
class _Acked:
    owner: str
    hash: str
    node: str  # the member that acknowledged it


class _Soak:
    def __init__(self, opt: SoakOptions) -> None:
        self.opt = opt
        self.rng = random.Random(opt.seed)
        self.net = Devnet(opt.directory)
        self.devnet_opt = DevnetOptions(
            opt.directory, nodes=opt.nodes, block_interval=opt.block_interval, timeout=90.0,
            # A node killed during its storage test is decommissioned by the chain, and comes
            # back when it restarts (re-registers); it must not be deregistered for good first.
            deregister_after_blocks=10**9, node_args=opt.node_args, misbehave=dict(opt.misbehave),
        )
        self.owners = [random_pubkey() for _ in range(opt.owners)]
        self.report = SoakReport()
        self.acked: list[_Acked] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.down: set[int] = set()
        self.difficulty = 1

    # -- the storm ----------------------------------------------------------------------------

    def _urls(self) -> list[str]:
        return [str(n["http"]) for n in self.net.nodes]

    def writer(self, seed: int) -> None:
        rng = random.Random(seed)
        counter = 0
        while not self.stop.is_set():
            owner = rng.choice(self.owners)
            counter += 1
            data = f"{seed}:{counter}:".encode() + os.urandom(24)
            params = store_params(owner, data, STORE_TTL_MS, int(time.time() * 1000), self.difficulty)
            url = rng.choice(self._urls())
            for _hop in range(3):  # follow a 421 to the right swarm
                status, body = self._store(url, params)
                if status != 421:
                    break
                members = json.loads(body).get("snodes", [])
                if not members:
                    break
                m = rng.choice(members)
                url = f"http://{m['ip']}:{m['port']}"
            if status == 200:
                h = _pow.message_hash(params["nonce"], int(params["timestamp"]), STORE_TTL_MS, owner, params["data"])
                with self.lock:
                    self.acked.append(_Acked(owner, str(h), url))
            if self.opt.store_pause:
                time.sleep(self.opt.store_pause)

    def _store(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        try:
            status, body = _post(url + "/storage_rpc/v1", rpc_bytes("store", params))
        except (OSError, http.client.HTTPException):
            status, body = 0, b""  # refused, reset, cut short or timed out: the node is (being) killed
        with self.lock:
            self.report.attempted += 1
            if status == 432:  # the node's difficulty rose under our load: meet it next time
                self.difficulty = max(self.difficulty, int(json.loads(body).get("difficulty", 1)))
            if status != 200:
                key = "no answer" if status == 0 else str(status)
                self.report.refused[key] = self.report.refused.get(key, 0) + 1
        return status, body

    # -- the killers --------------------------------------------------------------------------

    def killer(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.wait(rng.uniform(0, 2 * self.opt.kill_interval)):
            with self.lock:
                if self.report.events + len(self.down) >= self.opt.kills:
                    return
                up = [i for i in range(self.opt.nodes) if i not in self.down]
                if len(up) <= 1:
                    continue
                victim = rng.choice(up)
                self.down.add(victim)
            self.net.kill_node(victim)
            time.sleep(rng.uniform(0, self.opt.downtime))
            ok = self._restart(victim)
            with self.lock:
                self.down.discard(victim)
                if ok:
                    self.report.events += 1
                else:
                    self.report.restart_failures += 1

    def _restart(self, i: int) -> bool:
        for attempt in range(5):  # the port may still be held for a moment after the kill
            try:
                self.net.restart_node(i, self.devnet_opt)
                return True
            except DevnetError as exc:
                log.warning("restart of node %d failed (attempt %d): %s", i, attempt + 1, exc)
                self.net.kill_node(i)
                time.sleep(0.5)
        return False

    # -- after the storm ----------------------------------------------------------------------

    def recover(self) -> NetworkView:
        """Every node running and active again; returns the chain's final view."""
        for i in range(self.opt.nodes):
            p = self.net.procs.get(f"node-{i:02d}")
            if p is None or p.poll() is not None:
                self._restart(i)
        deadline = time.monotonic() + 60
        keys = {n["ed25519"] for n in self.net.nodes}
        while True:
            res = rpc_call(self.net.chain_url, "get_n_service_nodes", {})
            states = {s["pubkey_ed25519"]: s["state"] for s in res["service_node_states"]}
            idle = [i for i, n in enumerate(self.net.nodes) if states.get(n["ed25519"]) == "decommissioned"]
            for i in idle:  # decommissioned while down; a restart re-registers it
                self.net.kill_node(i)
                self._restart(i)
            if all(states.get(k) == "active" for k in keys) or time.monotonic() > deadline:
                break
            time.sleep(self.opt.block_interval)
        res = rpc_call(self.net.chain_url, "get_n_service_nodes", {"active_only": True})
        view = NetworkView.from_chain_result(res)
        self.net.wait_nodes_follow(view.height, 60)
        return view

    def walk(self, url: str, owner: str, limit_pages: int) -> list[str] | None:
        """Every hash a member returns for *owner*, in order (None if it cannot answer)."""
        out: list[str] = []
        last = ""
        for _ in range(limit_pages):
            try:
                status, body = _post(url + "/storage_rpc/v1", rpc_bytes("retrieve", {"pubKey": owner, "lastHash": last}))
            except (OSError, http.client.HTTPException):
                return None
            if status != 200:
                return None
            page = [str(m["hash"]) for m in json.loads(body)["messages"]]
            out += page
            if len(page) < RETRIEVE_PAGE:
                break
            last = page[-1]
        return out

    def holdings(self, view: NetworkView) -> tuple[dict[str, list[set[str]]], int]:
        """owner -> the hash sets of each active member of its swarm; and duplicates seen."""
        by_owner: Counter[str] = Counter(a.owner for a in self.acked)
        out: dict[str, list[set[str]]] = {}
        dup = 0
        for owner in self.owners:
            sid = view.swarm_for_pubkey(owner)
            members = view.members(sid) if sid is not None else ()
            sets = []
            for m in members:
                # Generous page limit: every stored copy plus unacked ones, twice over.
                got = self.walk(f"http://{m.ip}:{m.http_port}", owner, 2 * by_owner[owner] // RETRIEVE_PAGE + 100)
                if got is None:
                    continue
                dup += len(got) - len(set(got))
                sets.append(set(got))
            out[owner] = sets
        return out, dup

    def check(self, view: NetworkView) -> None:
        deadline = time.monotonic() + self.opt.settle
        while True:
            held, dup = self.holdings(view)
            missing_somewhere = [a for a in self.acked if not all(a.hash in s for s in held[a.owner]) or not held[a.owner]]
            if not missing_somewhere or time.monotonic() > deadline:
                break
            time.sleep(2.0)
        r = self.report
        r.duplicated = dup
        lost = [a for a in self.acked if not any(a.hash in s for s in held[a.owner])]
        r.lost = len(lost)
        r.lost_hashes = [a.hash for a in lost[:20]]
        r.under_replicated = len(missing_somewhere) - len(lost)
        acked = {a.hash for a in self.acked}
        r.unacked_stored = len(set().union(*(s for sets in held.values() for s in sets)) - acked)
        for a in lost[:20]:
            log.error("lost: owner %s… hash %s… acked by %s", a.owner[:12], a.hash[:16], a.node)

    # -- the whole run ------------------------------------------------------------------------

    def run(self) -> SoakReport:
        t0 = time.monotonic()
        self.net.up(self.devnet_opt)
        try:
            threads = [threading.Thread(target=self.writer, args=(self.rng.randrange(2**32),), daemon=True)
                       for _ in range(self.opt.writers)]
            threads += [threading.Thread(target=self.killer, args=(self.rng.randrange(2**32),), daemon=True)
                        for _ in range(self.opt.max_down)]
            for t in threads:
                t.start()
            end = time.monotonic() + self.opt.minutes * 60
            while time.monotonic() < end and (self.opt.kills == 0 or self.report.events < self.opt.kills):
                time.sleep(0.2)
            self.stop.set()
            for t in threads:
                t.join()
            self.report.acked = len(self.acked)
            self.check(self.recover())
        finally:
            self.net.down()
        self.report.seconds = time.monotonic() - t0
        return self.report


def run_soak(opt: SoakOptions) -> SoakReport:
    """Run one soak (see the module doc); the devnet is stopped afterwards."""
    if opt.nodes < 2:
        raise InvalidInputError("a soak needs at least 2 nodes")
    if not 1 <= opt.max_down < opt.nodes:
        raise InvalidInputError("max_down must be at least 1 and leave a node running")
    if opt.kills < 0 or opt.minutes <= 0:
        raise InvalidInputError("kills must be >= 0 and minutes > 0")
    return _Soak(opt).run()

