"""The devnet chain: a stand-in for the blockchain the service-node list comes from.

Theory of operation
-------------------
State lives in SQLite (so a restarted chain continues where it stopped):
nodes with their keys, address, stake, state and swarm; one row per block
(height, hash); storage-test reports.

- Block hashes are ``sha256(seed || height_be64)``: reproducible from the seed
  and unpredictable without it, which is all storage tests and swarm
  assignment need from them.
- A registration is recorded at once and takes effect in the next block
  (state ``pending`` -> ``active``); re-registering an active node only updates
  its address (a restarted node may have new ports).
- Every block that changes the active set runs the swarm assignment of
  :func:`session_core.swarm.assign_swarms` seeded by that block's hash.
- Names (:mod:`session_core.devnet.names_state`): signed name operations wait for the next
  block like registrations; every block's header commits to the live names (``names_root``).
- Failed storage tests: once ``decommission_after`` failures from at least two
  different reporters (or all of them, in a two-node swarm) are on record for
  a node within ``report_window`` blocks, the next block decommissions it (it
  leaves its swarm).  A decommissioned node that has not re-registered within
  ``deregister_after_blocks`` blocks is deregistered for good.

Nothing here does network I/O; :mod:`session_core.devnet.rpc` serves it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_core.chain.registration import Registration
from session_core.chain.service_nodes import SnodeInfo
from session_core.devnet.names_state import SCHEMA as _NAMES_SCHEMA
from session_core.devnet.names_state import NameRegistry
from session_core.errors import ChainRequestError
from session_core.names.ops import NameOp
from session_core.swarm import assign_swarms
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    ed25519 TEXT PRIMARY KEY, x25519 TEXT NOT NULL, ip TEXT NOT NULL,
    http_port INTEGER NOT NULL, zmq_port INTEGER NOT NULL, stake INTEGER NOT NULL,
    state TEXT NOT NULL, swarm_id TEXT NOT NULL, registered_height INTEGER NOT NULL,
    state_height INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    height INTEGER NOT NULL, reporter TEXT NOT NULL, testee TEXT NOT NULL, passed INTEGER NOT NULL,
    PRIMARY KEY (height, reporter, testee)
);
"""


@dataclass(frozen=True, slots=True)
class NodeRecord:
    ed25519: str
    x25519: str
    ip: str
    http_port: int
    zmq_port: int
    stake: int
    state: str  # pending | active | decommissioned | deregistered
    swarm_id: int
    registered_height: int
    state_height: int

    def to_json(self) -> dict[str, Any]:
        """One ``service_node_states`` entry, with oxend's field names."""
        entry = SnodeInfo(self.ed25519, self.x25519, self.ip, self.http_port, self.zmq_port, self.swarm_id)
        return {
            "service_node_pubkey": self.ed25519,
            **entry.to_chain_json(),
            "active": self.state == "active",
            "state": self.state,
            "registration_height": self.registered_height,
            "last_state_change_height": self.state_height,
            "staking_requirement": 15_000,
            "total_contributed": self.stake,
        }


@dataclass(frozen=True, slots=True)
class BlockEvents:
    height: int
    block_hash: str
    activated: tuple[str, ...]
    decommissioned: tuple[str, ...]
    deregistered: tuple[str, ...]
    swarms_changed: bool


def block_hash(seed: str, height: int) -> str:
    return hashlib.sha256(seed.encode() + height.to_bytes(8, "big")).hexdigest()


class Chain:
    def __init__(
        self,
        path: str | Path,
        seed: str = "devnet",
        *,
        decommission_after: int = 2,
        report_window: int = 20,
        deregister_after_blocks: int = 10,
        name_fee: int = 20,
        name_lease_blocks: int = 1000,
    ) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA + _NAMES_SCHEMA)
        self.names = NameRegistry(self._db, fee=name_fee, lease_blocks=name_lease_blocks)
        stored = self._meta("seed")
        if stored is None:
            with self._tx():
                self._db.execute("INSERT INTO meta VALUES ('seed', ?)", (seed,))
                self._db.execute("INSERT INTO blocks VALUES (0, ?)", (block_hash(seed, 0),))
            stored = seed
        elif stored != seed:
            raise ChainRequestError(f"this chain database was made with seed {stored!r}, not {seed!r}")
        self.seed = stored
        (n_blocks,), (n_headers,) = (self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone() for t in ("blocks", "headers"))
        if n_headers < n_blocks:  # a database from before the chain kept headers
            with self._tx():
                blocks = self._db.execute("SELECT height, hash FROM blocks ORDER BY height").fetchall()
                self.names.backfill_headers([(int(h), bytes.fromhex(str(x))) for h, x in blocks])
        self.decommission_after = decommission_after
        self.report_window = report_window
        self.deregister_after_blocks = deregister_after_blocks

    # -- plumbing -----------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        r = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if r is None else str(r[0])

    def _tx(self) -> _Tx:
        return _Tx(self._db)

    def close(self) -> None:
        self._db.close()

    # -- reading ------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        (h,) = self._db.execute("SELECT MAX(height) FROM blocks").fetchone()
        return int(h)

    def block_hash(self, height: int) -> str:
        r = self._db.execute("SELECT hash FROM blocks WHERE height = ?", (height,)).fetchone()
        if r is None:
            raise ChainRequestError(f"no block at height {height}")
        return str(r[0])

    def nodes(self, states: tuple[str, ...] | None = None) -> list[NodeRecord]:
        rows = self._db.execute(
            "SELECT ed25519, x25519, ip, http_port, zmq_port, stake, state, swarm_id, registered_height,"
            " state_height FROM nodes ORDER BY ed25519"
        ).fetchall()
        out = [
            NodeRecord(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5]), str(r[6]), int(r[7]), int(r[8]), int(r[9]))
            for r in rows
        ]
        return [n for n in out if states is None or n.state in states]

    def node(self, ed25519: str) -> NodeRecord | None:
        for n in self.nodes():
            if n.ed25519 == ed25519:
                return n
        return None

    def swarms(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for n in self.nodes(("active",)):
            out.setdefault(n.swarm_id, []).append(n.ed25519)
        return out

    # -- writing ------------------------------------------------------------------------------

    def register(self, reg: Registration) -> str:
        """Record a (verified) registration; returns the node's state afterwards."""
        cur = self.node(reg.ed25519)
        with self._tx():
            if cur is None or cur.state == "decommissioned":
                (seq,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM nodes").fetchone()
                self._db.execute(
                    "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                    (reg.ed25519, reg.x25519, reg.ip, reg.http_port, reg.zmq_port, reg.stake,
                     str(cur.swarm_id if cur else UNASSIGNED_SWARM_ID), self.height, self.height, seq),
                )
                # A recommissioned node starts with a clean record.
                self._db.execute("DELETE FROM reports WHERE testee = ?", (reg.ed25519,))
                return "pending"
            if cur.state == "deregistered":
                raise ChainRequestError("this service node was deregistered and cannot register again")
            self._db.execute(
                "UPDATE nodes SET ip = ?, http_port = ?, zmq_port = ?, stake = ? WHERE ed25519 = ?",
                (reg.ip, reg.http_port, reg.zmq_port, reg.stake, reg.ed25519),
            )
            return cur.state

    def submit_name_op(self, op: NameOp) -> dict[str, Any]:
        """Queue a (verified) name operation for the next block; raises NameOperationError."""
        with self._tx():
            return self.names.submit(op, self.height)

    def report(self, reporter: str, testee: str, height: int, passed: bool) -> None:
        """Record a storage-test result; raises ChainRequestError on a report that cannot be true."""
        r, t = self.node(reporter), self.node(testee)
        if r is None or r.state != "active":
            raise ChainRequestError("reporter is not an active service node")
        if t is None or t.state != "active":
            raise ChainRequestError("testee is not an active service node")
        if reporter == testee:
            raise ChainRequestError("a node cannot test itself")
        if r.swarm_id != t.swarm_id:
            raise ChainRequestError("reporter and testee are not in the same swarm")
        if not 0 <= height <= self.height:
            raise ChainRequestError(f"height {height} is not on the chain")
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?)", (height, reporter, testee, int(passed)))

    def _failing(self) -> list[str]:
        since = self.height - self.report_window
        out = []
        for n in self.nodes(("active",)):
            rows = self._db.execute(
                "SELECT reporter FROM reports WHERE testee = ? AND passed = 0 AND height > ?", (n.ed25519, since)
            ).fetchall()
            reporters = {r[0] for r in rows}
            swarm_size = len(self.swarms().get(n.swarm_id, []))
            if len(rows) >= self.decommission_after and len(reporters) >= min(2, swarm_size - 1):
                out.append(n.ed25519)
        return out

    def produce_block(self) -> BlockEvents:
        """Append one block and apply everything that was waiting for it."""
        height = self.height + 1
        h = block_hash(self.seed, height)
        pending = [n.ed25519 for n in self.nodes(("pending",))]
        failing = self._failing()
        stale = [
            n.ed25519
            for n in self.nodes(("decommissioned",))
            if height - n.state_height >= self.deregister_after_blocks
        ]
        swarms = self.swarms()
        changed = bool(pending or failing)
        new_ids: dict[str, int] = {}
        if changed:
            for sid, members in assign_swarms(swarms, pending, failing, h).swarms.items():
                for ed in members:
                    new_ids[ed] = sid
        with self._tx():
            self._db.execute("INSERT INTO blocks VALUES (?, ?)", (height, h))
            self.names.on_block(height, bytes.fromhex(h))
            for ed in pending:
                self._db.execute("UPDATE nodes SET state = 'active', state_height = ? WHERE ed25519 = ?", (height, ed))
            for ed in failing:
                self._db.execute(
                    "UPDATE nodes SET state = 'decommissioned', state_height = ?, swarm_id = ? WHERE ed25519 = ?",
                    (height, str(UNASSIGNED_SWARM_ID), ed),
                )
            for ed in stale:
                self._db.execute("UPDATE nodes SET state = 'deregistered', state_height = ? WHERE ed25519 = ?", (height, ed))
            for ed, sid in new_ids.items():
                self._db.execute("UPDATE nodes SET swarm_id = ? WHERE ed25519 = ?", (str(sid), ed))
        return BlockEvents(height, h, tuple(pending), tuple(failing), tuple(stale), changed)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
