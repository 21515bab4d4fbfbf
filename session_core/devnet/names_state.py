"""The devnet chain's name service: records, pending operations, burned fees and the block
headers that commit to the live names.

Theory of operation
-------------------
Signed operations (:mod:`session_core.names.ops`) are checked when submitted against the state
of the chain's tip, queued, and applied when the next block is made -- like registrations of
nodes.  One operation per name may wait for a block (so a queued operation cannot be
invalidated by another before it applies).  The header of block H carries the Merkle root of
the records live at H (``expiration_height > H``), ordered by name hash; the answer to
``ons_resolve`` always comes from the tip's state with a proof against the tip's root, so what
a node forwards can be checked against a header.

A registration lasts ``lease_blocks`` blocks and costs at least ``fee``; a renewal adds
``lease_blocks`` to the expiry for the same fee.  What is paid is recorded as burned (the
devnet has no balances).  An expired name may be registered again by anyone.

Nothing here does I/O beyond the chain's own SQLite connection; every write happens in the
caller's transaction (the chain's block) or in one of its own.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import asdict
from typing import Any

from session_core.errors import ChainRequestError, NameOperationError
from session_core.names.absence import absence_proof
from session_core.names.merkle import MerkleTree
from session_core.names.name import parse_name_hash_b64
from session_core.names.ops import NameOp
from session_core.names.records import GENESIS_PREV, BlockHeader, NameRecord

__all__ = ["NameRegistry", "SCHEMA", "MAX_HEADERS_PER_CALL"]

MAX_HEADERS_PER_CALL = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS names (
    name_hash BLOB PRIMARY KEY, owner BLOB NOT NULL, encrypted_value BLOB NOT NULL, nonce BLOB NOT NULL,
    expiration_height INTEGER NOT NULL, seq INTEGER NOT NULL, registered_height INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS name_pending (
    name_hash BLOB PRIMARY KEY, submitted INTEGER NOT NULL, op TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS name_burns (
    height INTEGER NOT NULL, name_hash BLOB NOT NULL, payer TEXT NOT NULL, amount INTEGER NOT NULL, kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS headers (
    height INTEGER PRIMARY KEY, block_hash BLOB NOT NULL, prev_header_hash BLOB NOT NULL, names_root BLOB NOT NULL
);
"""


class NameRegistry:
    def __init__(self, db: sqlite3.Connection, *, fee: int, lease_blocks: int) -> None:
        if fee < 0 or lease_blocks < 1:
            raise ChainRequestError("the name fee must be >= 0 and the lease at least one block")
        self._db = db
        self.fee = fee
        self.lease_blocks = lease_blocks
        self._tree: tuple[int, MerkleTree, list[NameRecord], dict[bytes, tuple[int, NameRecord]]] | None = None

    # -- reading ------------------------------------------------------------------------------

    def record(self, nh: bytes) -> tuple[NameRecord, int] | None:
        """The stored record of *nh* (live or expired) and its sequence number."""
        r = self._db.execute(
            "SELECT owner, expiration_height, encrypted_value, nonce, seq FROM names WHERE name_hash = ?", (nh,)
        ).fetchone()
        if r is None:
            return None
        return NameRecord(nh, bytes(r[0]), int(r[1]), bytes(r[2]), bytes(r[3])), int(r[4])

    def live(self, height: int) -> list[NameRecord]:
        rows = self._db.execute(
            "SELECT name_hash, owner, expiration_height, encrypted_value, nonce FROM names"
            " WHERE expiration_height > ? ORDER BY name_hash", (height,),
        ).fetchall()
        return [NameRecord(bytes(r[0]), bytes(r[1]), int(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]

    def tree(self, height: int) -> tuple[MerkleTree, list[NameRecord], dict[bytes, tuple[int, NameRecord]]]:
        """The tree of the records live at *height* (the tip: older states are not kept), its
        leaves' records (sorted by name hash) and an index by name hash."""
        if self._tree is None or self._tree[0] != height:
            records = self.live(height)
            self._tree = (height, MerkleTree([r.leaf() for r in records]), records,
                          {r.name_hash: (i, r) for i, r in enumerate(records)})
        return self._tree[1], self._tree[2], self._tree[3]

    def header(self, height: int) -> BlockHeader | None:
        r = self._db.execute(
            "SELECT height, block_hash, prev_header_hash, names_root FROM headers WHERE height = ?", (height,)
        ).fetchone()
        return None if r is None else BlockHeader(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]))

    def headers(self, start: int, end: int) -> list[BlockHeader]:
        rows = self._db.execute(
            "SELECT height, block_hash, prev_header_hash, names_root FROM headers WHERE height BETWEEN ? AND ?"
            " ORDER BY height", (start, end),
        ).fetchall()
        return [BlockHeader(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in rows]

    def burned(self) -> int:
        (total,) = self._db.execute("SELECT COALESCE(SUM(amount), 0) FROM name_burns").fetchone()
        return int(total)

    def resolve(self, nh: bytes, tip: int) -> dict[str, Any]:
        """oxend's ``ons_resolve`` result at the tip: the record with its proof, or {}."""
        tree, records, index = self.tree(tip)
        hit = index.get(nh)
        if hit is None:  # oxend answers {}; ours also proves it (session_core.names.absence)
            return {"absence": absence_proof(tree, records, nh, tip)}
        i, rec = hit
        return {**rec.answer_fields(), "proof": base64.b64encode(tree.proof(i, tip).to_bytes()).decode("ascii")}

    def info(self, nh: bytes, tip: int) -> dict[str, Any]:
        """What someone about to sign an operation on *nh* needs (devnet's own ``ons_record``)."""
        got = self.record(nh)
        pending = self._db.execute("SELECT op FROM name_pending WHERE name_hash = ?", (nh,)).fetchone()
        out: dict[str, Any] = {"height": tip, "fee": self.fee, "lease_blocks": self.lease_blocks,
                               "pending": json.loads(pending[0])["kind"] if pending else None}
        if got is None:
            return {**out, "registered": False, "seq": 0}
        rec, seq = got
        return {**out, "registered": rec.live_at(tip + 1), "seq": seq, "owner": rec.owner.hex(),
                "expiration_height": rec.expiration_height}

    # -- operations ---------------------------------------------------------------------------

    def _check(self, op: NameOp, height: int) -> None:
        """Raise :class:`NameOperationError` unless *op* may apply in block *height*."""
        nh = parse_name_hash_b64(op.name_hash)
        got = self.record(nh)
        rec, seq = got if got is not None else (None, 0)
        if op.seq != seq:
            raise NameOperationError(
                f"stale or replayed {op.kind}: the name is at version {seq}, the operation was signed for {op.seq}"
            )
        live = rec is not None and rec.live_at(height)
        if op.kind == "register":
            if rec is not None and live:
                who = "you already own it (renew it instead)" if rec.owner.hex() == op.signer else "someone else owns it"
                raise NameOperationError(f"the name is taken until block {rec.expiration_height}: {who}")
        else:
            if rec is None:
                raise NameOperationError("the name is not registered")
            if not live:
                raise NameOperationError(
                    f"the name expired at block {rec.expiration_height}; register it again to use it"
                )
            if rec.owner.hex() != op.signer:
                raise NameOperationError(f"you are not the owner of this name (cannot {op.kind} another's name)")
        if op.kind in ("register", "renew") and op.fee < self.fee:
            raise NameOperationError(f"the fee is {self.fee}, the operation burns only {op.fee}")

    def submit(self, op: NameOp, tip: int) -> dict[str, Any]:
        """Check *op* against the tip and queue it for the next block."""
        nh = parse_name_hash_b64(op.name_hash)
        if self._db.execute("SELECT 1 FROM name_pending WHERE name_hash = ?", (nh,)).fetchone():
            raise NameOperationError("another operation on this name is waiting for the next block")
        self._check(op, tip + 1)
        self._db.execute("INSERT INTO name_pending VALUES (?, ?, ?)", (nh, tip, json.dumps(asdict(op))))
        return {"status": "OK", "applies_at": tip + 1}

    def _apply(self, op: NameOp, height: int) -> None:
        nh = parse_name_hash_b64(op.name_hash)
        got = self.record(nh)
        if op.kind == "register":
            self._db.execute(
                "INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?, ?, ?, ?)",
                (nh, bytes.fromhex(op.signer), bytes.fromhex(op.encrypted_value), bytes.fromhex(op.nonce),
                 height + self.lease_blocks, op.seq + 1, height),
            )
        else:
            assert got is not None  # _check passed
            rec, _ = got
            if op.kind == "renew":
                exp, owner, value, nonce = rec.expiration_height + self.lease_blocks, rec.owner, rec.encrypted_value, rec.nonce
            else:
                exp = rec.expiration_height
                owner = bytes.fromhex(op.new_owner) if op.new_owner else rec.owner
                value, nonce = (bytes.fromhex(op.encrypted_value), bytes.fromhex(op.nonce)) if op.encrypted_value else (rec.encrypted_value, rec.nonce)
            self._db.execute(
                "UPDATE names SET owner = ?, encrypted_value = ?, nonce = ?, expiration_height = ?, seq = ?"
                " WHERE name_hash = ?", (owner, value, nonce, exp, op.seq + 1, nh),
            )
        if op.kind in ("register", "renew"):
            self._db.execute("INSERT INTO name_burns VALUES (?, ?, ?, ?, ?)", (height, nh, op.signer, op.fee, op.kind))

    def on_block(self, height: int, block_hash: bytes) -> BlockHeader:
        """Apply what waits for block *height* and write its header (inside the block's transaction)."""
        self._tree = None  # a block that was rolled back may have left its tree here
        rows = self._db.execute("SELECT op FROM name_pending ORDER BY submitted, name_hash").fetchall()
        for (text,) in rows:
            op = NameOp(**json.loads(text))
            try:
                self._check(op, height)
            except NameOperationError:
                continue  # cannot happen with one op per name; dropped rather than half-applied
            self._apply(op, height)
        self._db.execute("DELETE FROM name_pending")
        return self._write_header(height, block_hash)

    def _write_header(self, height: int, block_hash: bytes) -> BlockHeader:
        prev = self.header(height - 1) if height > 0 else None
        tree, _, _ = self.tree(height)
        h = BlockHeader(height, block_hash, prev.header_hash() if prev else GENESIS_PREV, tree.root)
        self._db.execute("INSERT OR REPLACE INTO headers VALUES (?, ?, ?, ?)",
                         (h.height, h.block_hash, h.prev_header_hash, h.names_root))
        return h

    def backfill_headers(self, blocks: list[tuple[int, bytes]]) -> None:
        """Headers for blocks made before the chain kept them (an older devnet database)."""
        for height, bh in blocks:
            if self.header(height) is None:
                self._write_header(height, bh)
