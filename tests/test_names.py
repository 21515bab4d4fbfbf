"""The sans-IO name service: names and hashes, the encrypted value (upstream vector, both
forms), the Merkle tree and its proofs (sizes, tampering), headers, signed operations."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import random
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from session_core.errors import InvalidNameError, NameOperationError, NameProofError, NameValueError
from session_core.identity import Identity
from session_core.names import (
    EMPTY_ROOT, BlockHeader, InclusionProof, MerkleTree, NameOp, check_header_chain, decrypt_value, encrypt_value,
    encrypt_value_legacy, merkle_root, name_hash, name_hash_b64, normalize_name, parse_signed_op, verify_inclusion,
)
from session_core.names.records import GENESIS_PREV

VECTORS = json.loads((Path(__file__).parent / "data" / "ons_vectors.json").read_text())


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, name", [
    ("test", "test"), ("KeeJef", "keejef"), ("a", "a"), ("_", "_"), ("a-b_c", "a-b_c"), ("0x", "0x"),
    ("a" * 64, "a" * 64), ("-_", None), ("_-_", "_-_"),
])
def test_valid_names_are_lowercased(text: str, name: str | None) -> None:
    if name is None:
        with pytest.raises(InvalidNameError, match="start or end with '-'"):
            normalize_name(text)
    else:
        assert normalize_name(text) == name


@pytest.mark.parametrize("text, why", [
    ("", "empty"), ("a" * 65, "at most 64"), ("-abc", "start or end"), ("abc-", "start or end"),
    ("a b", "not ' '"), ("a.b", "not '.'"), ("caf\u00e9", "not"), ("\u0430bc", "not"), ("a/b", "not '/'"),
])
def test_invalid_names_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(InvalidNameError, match=why) as e:
        normalize_name(text)
    assert isinstance(e.value, ValueError)


def test_name_hash_is_unkeyed_blake2b_of_the_lowercase_name() -> None:
    assert name_hash("Test") == hashlib.blake2b(b"test", digest_size=32).digest()
    assert base64.b64decode(name_hash_b64("test")) == name_hash("test")


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize("v", VECTORS["xchacha"])
def test_libsession_util_ons_vector_decrypts(v: dict[str, str]) -> None:
    assert decrypt_value(v["name"], bytes.fromhex(v["ciphertext"]), bytes.fromhex(v["nonce"])) == v["session_id"]
    # ... and our encryption with the same nonce is the same ciphertext (XChaCha20 is deterministic given it).
    ct, nonce = encrypt_value(v["name"], v["session_id"], bytes.fromhex(v["nonce"]))
    assert ct.hex() == v["ciphertext"] and nonce.hex() == v["nonce"]
    with pytest.raises(NameValueError):
        decrypt_value(v["name"], b"invalid", bytes.fromhex(v["nonce"]))
    with pytest.raises(NameValueError):
        decrypt_value(v["name"], bytes.fromhex(v["ciphertext"]), b"invalid")


def test_value_round_trip_fresh_nonce_and_wrong_name_or_tamper_fail() -> None:
    sid = Identity.generate().session_id
    ct1, n1 = encrypt_value("alice", sid)
    ct2, n2 = encrypt_value("ALICE", sid)
    assert n1 != n2 and ct1 != ct2 and len(ct1) == 49 and len(n1) == 24
    assert decrypt_value("Alice", ct1, n1) == sid
    with pytest.raises(NameValueError, match="does not decrypt"):
        decrypt_value("alicf", ct1, n1)
    bad = bytearray(ct1)
    bad[5] ^= 1
    with pytest.raises(NameValueError, match="does not decrypt"):
        decrypt_value("alice", bytes(bad), n1)


def test_legacy_argon2_secretbox_form_round_trip() -> None:
    sid = Identity.generate().session_id
    ct = encrypt_value_legacy("old-name", sid)
    assert len(ct) == 49
    assert decrypt_value("old-name", ct, None) == sid
    with pytest.raises(NameValueError, match="legacy"):
        decrypt_value("old-namf", ct, None)


# -- Merkle tree --------------------------------------------------------------------------------


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH straight from its recursive definition (independent of MerkleTree)."""
    h = lambda b: hashlib.blake2b(b, digest_size=32).digest()  # noqa: E731
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:]))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100])
def test_root_matches_rfc9162_and_every_proof_verifies(n: int) -> None:
    rng = random.Random(n)
    leaves = [rng.randbytes(rng.randrange(1, 120)) for _ in range(n)]
    tree = MerkleTree(leaves)
    assert tree.root == _reference_root(leaves) == merkle_root(leaves)
    if n == 0:
        assert tree.root == EMPTY_ROOT
    for i, leaf in enumerate(leaves):
        proof = InclusionProof.from_bytes(tree.proof(i, 42).to_bytes())
        assert proof.height == 42 and proof.index == i and proof.size == n
        verify_inclusion(leaf, proof, tree.root)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64, 65, 1000, 1025])
def test_proof_size_is_within_32_log2_n_plus_100(n: int) -> None:
    tree = MerkleTree([i.to_bytes(4, "big") for i in range(n)])
    bound = 32 * math.ceil(math.log2(n)) + 100
    worst = max(len(tree.proof(i, 10**6).to_bytes()) for i in range(n))
    assert worst <= bound
    assert worst == 16 + 32 * math.ceil(math.log2(n))  # no padding either


def test_tampered_leaf_path_index_or_size_is_rejected() -> None:
    leaves = [bytes([i]) * 10 for i in range(13)]
    tree = MerkleTree(leaves)
    p = tree.proof(6, 1)
    with pytest.raises(NameProofError, match="root mismatch"):
        verify_inclusion(leaves[7], p, tree.root)
    for j in range(len(p.path)):
        path = list(p.path)
        path[j] = bytes(32)
        with pytest.raises(NameProofError):
            verify_inclusion(leaves[6], InclusionProof(1, 6, 13, tuple(path)), tree.root)
    for idx, size in ((7, 13), (4, 13), (13, 13), (6, 0)):
        with pytest.raises(NameProofError):
            verify_inclusion(leaves[6], InclusionProof(1, idx, size, p.path), tree.root)
    # A size that gives the same path shape still proves the same leaf under the same root: the
    # root authenticates the leaf, index and size only steer the walk (RFC 9162 behaves alike).
    verify_inclusion(leaves[6], InclusionProof(1, 6, 14, p.path), tree.root)
    with pytest.raises(NameProofError, match="shorter"):
        verify_inclusion(leaves[6], InclusionProof(1, 6, 13, p.path[:-1]), tree.root)
    with pytest.raises(NameProofError, match="longer"):
        verify_inclusion(leaves[6], InclusionProof(1, 6, 13, p.path + (bytes(32),)), tree.root)


@pytest.mark.parametrize("raw", [b"", b"\x00" * 15, b"\x00" * 17, b"\x00" * (16 + 32 * 33)])
def test_malformed_proof_bytes(raw: bytes) -> None:
    with pytest.raises(NameProofError):
        InclusionProof.from_bytes(raw)


# -- headers ------------------------------------------------------------------------------------


def _chain(n: int) -> list[BlockHeader]:
    out: list[BlockHeader] = []
    for h in range(n):
        prev = out[-1].header_hash() if out else GENESIS_PREV
        out.append(BlockHeader(h, os.urandom(32), prev, os.urandom(32)))
    return out


def test_header_chain_links_and_json_round_trip() -> None:
    hs = _chain(5)
    check_header_chain(None, hs)
    check_header_chain(hs[1], hs[2:])
    assert [BlockHeader.from_json(h.to_json()) for h in hs] == hs
    forged = BlockHeader(3, hs[3].block_hash, hs[3].prev_header_hash, os.urandom(32))  # another root
    with pytest.raises(NameProofError, match="does not link"):
        check_header_chain(None, hs[:3] + [forged] + hs[4:])
    with pytest.raises(NameProofError, match="does not follow"):
        check_header_chain(hs[0], hs[2:])
    with pytest.raises(NameProofError, match="start the chain"):
        check_header_chain(None, hs[1:])
    doc = hs[2].to_json()
    doc["names_root"] = "00" * 32
    with pytest.raises(NameProofError, match="header_hash"):
        BlockHeader.from_json(doc)


# -- signed operations --------------------------------------------------------------------------


def test_signed_operation_round_trip_and_tampering() -> None:
    key = SigningKey.generate()
    me = bytes(key.verify_key).hex()
    ct, nonce = encrypt_value("bob", Identity.generate().session_id)
    op = NameOp("register", name_hash_b64("bob"), me, 0, 20, ct.hex(), nonce.hex())
    params = op.sign(key)
    assert parse_signed_op(params, "register") == op
    for field, value in (("fee", 21), ("seq", 1), ("encrypted_value", "00" * 49), ("name_hash", name_hash_b64("bib"))):
        with pytest.raises(NameOperationError, match="bad signature"):
            parse_signed_op({**params, field: value}, "register")
    with pytest.raises(NameOperationError, match="not 'renew'"):
        parse_signed_op(params, "renew")
    with pytest.raises(NameOperationError, match="signer"):
        op.sign(SigningKey.generate())
    with pytest.raises(NameOperationError, match="49"):
        parse_signed_op({**params, "encrypted_value": "00"}, "register")
    with pytest.raises(NameOperationError, match="32 bytes"):
        parse_signed_op({**params, "name_hash": base64.b64encode(b"x" * 31).decode()}, "register")
    with pytest.raises(NameOperationError, match="object"):
        parse_signed_op([], "register")
    upd = NameOp("update", name_hash_b64("bob"), me, 1)
    with pytest.raises(NameOperationError, match="changes the value, the owner"):
        parse_signed_op(upd.sign(key), "update")
