"""The devnet chain's name service through its JSON-RPC (no sockets): registration, fees,
renewal, expiry, transfer, headers with names_root, ons_resolve with proofs; bad operations
get clear errors and change nothing."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from session_core.devnet.chain import Chain
from session_core.devnet.rpc import ChainRPC
from session_core.errors import ChainRequestError, InvalidNameError, NameOperationError
from session_core.identity import Identity
from session_core.names import (
    BlockHeader, InclusionProof, NameOp, NameRecord, check_header_chain, decrypt_value, encrypt_value, name_hash,
    name_hash_b64, verify_absence, verify_inclusion,
)

FEE, LEASE = 20, 5


@pytest.fixture
def rpc(tmp_path: Path) -> ChainRPC:
    return ChainRPC(Chain(tmp_path / "chain.db", name_fee=FEE, name_lease_blocks=LEASE))


class Owner:
    def __init__(self) -> None:
        self.identity = Identity.generate()
        self.key = SigningKey(self.identity.ed25519_seed)
        self.ed = bytes(self.key.verify_key).hex()

    def op(self, rpc: ChainRPC, kind: str, name: str, *, fee: int = FEE, sid: str | None = None,
           new_owner: str = "", seq: int | None = None) -> dict[str, Any]:
        rec = rpc.call("ons_record", {"name_hash": name_hash_b64(name)})
        ct, nonce = encrypt_value(name, sid or self.identity.session_id) if (kind == "register" or sid) else (b"", b"")
        op = NameOp(kind, name_hash_b64(name), self.ed, rec["seq"] if seq is None else seq,
                    fee if kind != "update" else 0, ct.hex(), nonce.hex(), new_owner)
        return op.sign(self.key)


def resolve(rpc: ChainRPC, name: str) -> dict[str, Any]:
    res = rpc.call("ons_resolve", {"type": 0, "name_hash": name_hash_b64(name)})
    assert isinstance(res, dict)
    return res


def proven_absent(rpc: ChainRPC, name: str) -> bool:
    """The chain says *name* is not registered, with an absence proof that checks out."""
    res = resolve(rpc, name)
    return "encrypted_value" not in res and verify_absence(name_hash(name), res["absence"],
                                                           lambda h: header(rpc, h), 0) == rpc.chain.height


def header(rpc: ChainRPC, h: int) -> BlockHeader:
    (doc,) = rpc.call("get_block_headers_range", {"start_height": h, "end_height": h})["headers"]
    return BlockHeader.from_json(doc)


def check_answer(rpc: ChainRPC, name: str, res: dict[str, Any]) -> str:
    proof = InclusionProof.from_bytes(base64.b64decode(res["proof"]))
    rec = NameRecord(name_hash(name), bytes.fromhex(res["owner"]), res["expiration_height"],
                     bytes.fromhex(res["encrypted_value"]), bytes.fromhex(res["nonce"]))
    verify_inclusion(rec.leaf(), proof, header(rpc, proof.height).names_root)
    return decrypt_value(name, rec.encrypted_value, rec.nonce)


def test_register_applies_next_block_with_proof_and_burns_fee(rpc: ChainRPC) -> None:
    alice = Owner()
    assert rpc.call("get_info", {})["ons_burned"] == 0
    res = rpc.call("ons_register", alice.op(rpc, "register", "Alice"))
    assert res == {"status": "OK", "applies_at": 1}
    assert proven_absent(rpc, "alice")  # not before its block
    rpc.produce_block()
    ans = resolve(rpc, "alice")
    assert set(ans) == {"encrypted_value", "nonce", "expiration_height", "owner", "proof"}
    assert ans["owner"] == alice.ed and ans["expiration_height"] == 1 + LEASE
    assert check_answer(rpc, "alice", ans) == alice.identity.session_id
    assert rpc.call("get_info", {})["ons_burned"] == FEE


def test_taken_name_wrong_fee_pending_and_replay_are_refused_without_change(rpc: ChainRPC) -> None:
    alice, mallory = Owner(), Owner()
    first = alice.op(rpc, "register", "alice")
    rpc.call("ons_register", first)
    with pytest.raises(NameOperationError, match="waiting for the next block"):
        rpc.call("ons_register", mallory.op(rpc, "register", "alice"))
    rpc.produce_block()
    before = resolve(rpc, "alice")
    with pytest.raises(NameOperationError, match="taken until block 6: someone else owns it"):
        rpc.call("ons_register", mallory.op(rpc, "register", "alice"))
    with pytest.raises(NameOperationError, match="renew it instead"):
        rpc.call("ons_register", alice.op(rpc, "register", "alice"))
    with pytest.raises(NameOperationError, match="stale or replayed"):
        rpc.call("ons_register", first)
    with pytest.raises(NameOperationError, match="the fee is 20"):
        rpc.call("ons_register", alice.op(rpc, "register", "bob", fee=FEE - 1))
    rpc.produce_block()
    after = resolve(rpc, "alice")
    assert after.pop("proof") != before.pop("proof")  # proven at the new block...
    assert after == before and proven_absent(rpc, "bob")  # ...to be the very same record
    assert rpc.call("get_info", {})["ons_burned"] == FEE


def test_others_cannot_renew_or_transfer_owner_can_and_new_owner_takes_over(rpc: ChainRPC) -> None:
    alice, bob, mallory = Owner(), Owner(), Owner()
    rpc.call("ons_register", alice.op(rpc, "register", "alice"))
    rpc.produce_block()
    for kind, kw in (("renew", {}), ("update", {"new_owner": mallory.ed}), ("update", {"sid": mallory.identity.session_id})):
        with pytest.raises(NameOperationError, match="not the owner"):
            rpc.call(f"ons_{kind}", mallory.op(rpc, kind, "alice", **kw))
    rpc.call("ons_renew", alice.op(rpc, "renew", "alice"))
    rpc.produce_block()
    assert resolve(rpc, "alice")["expiration_height"] == 1 + 2 * LEASE
    rpc.call("ons_update", alice.op(rpc, "update", "alice", sid=bob.identity.session_id, new_owner=bob.ed))
    rpc.produce_block()
    ans = resolve(rpc, "alice")
    assert ans["owner"] == bob.ed and check_answer(rpc, "alice", ans) == bob.identity.session_id
    with pytest.raises(NameOperationError, match="not the owner"):
        rpc.call("ons_renew", alice.op(rpc, "renew", "alice"))
    rpc.call("ons_renew", bob.op(rpc, "renew", "alice"))
    rpc.produce_block()
    assert rpc.call("get_info", {})["ons_burned"] == 3 * FEE


def test_expiry_then_anyone_may_register_again(rpc: ChainRPC) -> None:
    alice, bob = Owner(), Owner()
    rpc.call("ons_register", alice.op(rpc, "register", "alice"))
    for _ in range(LEASE):
        rpc.produce_block()
    assert resolve(rpc, "alice")["expiration_height"] == 6  # live at block 5
    rpc.produce_block()
    assert rpc.chain.height == 6 and proven_absent(rpc, "alice")
    assert header(rpc, 6).names_root != header(rpc, 5).names_root
    with pytest.raises(NameOperationError, match="expired at block 6; register it again"):
        rpc.call("ons_renew", alice.op(rpc, "renew", "alice"))
    with pytest.raises(NameOperationError, match="expired"):
        rpc.call("ons_update", alice.op(rpc, "update", "alice", new_owner=bob.ed))
    rpc.call("ons_register", bob.op(rpc, "register", "alice"))
    rpc.produce_block()
    ans = resolve(rpc, "alice")
    assert ans["owner"] == bob.ed and check_answer(rpc, "alice", ans) == bob.identity.session_id


def test_headers_link_and_commit_every_live_name(rpc: ChainRPC) -> None:
    people = [Owner() for _ in range(9)]
    for i, p in enumerate(people):
        rpc.call("ons_register", p.op(rpc, "register", f"n{i}"))
        rpc.produce_block()
    hs = [BlockHeader.from_json(h) for h in rpc.call("get_block_headers_range", {"start_height": 0, "end_height": 20})["headers"]]
    assert [h.height for h in hs] == list(range(10))
    check_header_chain(None, hs)
    assert [h.block_hash.hex() for h in hs] == [rpc.chain.block_hash(h) for h in range(10)]
    for i, p in enumerate(people):  # n0..n3 expired at block 6..9; the rest are proven at the tip
        ans = resolve(rpc, f"n{i}")
        if i + 1 + LEASE <= 9:
            assert "encrypted_value" not in ans and proven_absent(rpc, f"n{i}")
        else:
            assert check_answer(rpc, f"n{i}", ans) == p.identity.session_id


@pytest.mark.parametrize("method, params, err, match", [
    ("ons_resolve", {"type": 1, "name_hash": name_hash_b64("a")}, ChainRequestError, "only type 0"),
    ("ons_resolve", {"type": 0, "name_hash": "!!"}, InvalidNameError, "base64"),
    ("ons_resolve", {"type": 0}, InvalidNameError, "base64"),
    ("ons_resolve", [], ChainRequestError, "object"),
    ("get_block_headers_range", {"start_height": 0, "end_height": 1000}, ChainRequestError, "at most 1000"),
    ("get_block_headers_range", {"start_height": 3, "end_height": 2}, ChainRequestError, "below"),
    ("get_block_headers_range", {"start_height": 5, "end_height": 6}, ChainRequestError, "no block at height 5"),
    ("get_block_headers_range", {"start_height": -1, "end_height": 6}, ChainRequestError, "non-negative"),
    ("ons_renew", {"name_hash": name_hash_b64("a")}, NameOperationError, "must be"),
])
def test_bad_rpc_params(rpc: ChainRPC, method: str, params: Any, err: type[Exception], match: str) -> None:
    with pytest.raises(err, match=match):
        rpc.call(method, params)


def test_state_survives_restart_and_old_databases_get_headers(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "c.db", name_fee=FEE, name_lease_blocks=LEASE)
    alice = Owner()
    rpc = ChainRPC(chain)
    rpc.call("ons_register", alice.op(rpc, "register", "alice"))
    rpc.produce_block()
    chain._db.execute("DELETE FROM headers WHERE height = 0")  # as a database made before headers
    chain.close()
    rpc2 = ChainRPC(Chain(tmp_path / "c.db", name_fee=FEE, name_lease_blocks=LEASE))
    assert header(rpc2, 0).height == 0
    assert check_answer(rpc2, "alice", resolve(rpc2, "alice")) == alice.identity.session_id
