"""The X3DH + Double Ratchet adapter: spec settings, bad messages leave state unchanged."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from doubleratchet import KDFChain

from session_core.errors import (
    DecryptionError,
    DuplicateMessageError,
    KeyAgreementError,
    MalformedMessageError,
    StateDecryptionError,
    TooManySkippedMessagesError,
)
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol import ratchet as ratchet_mod
from session_core.protocol.at_rest import StateKey
from session_core.protocol.prekeys import PreKeyStore, run_sync
from session_core.protocol.ratchet import (
    DOS_THRESHOLD,
    MESSAGE_CHAIN_CONSTANT,
    RatchetSession,
    _ChainKDF,
)


@pytest.fixture
def pair() -> tuple[RatchetSession, RatchetSession]:
    """(initiator B, responder A) after B's first message reached A."""
    a, b = Identity.generate(), Identity.generate()
    prekeys_a, prekeys_b = PreKeyStore.create(a), PreKeyStore.create(b)
    session_b, first = RatchetSession.initiate(prekeys_b, prekeys_a.issue_bundle(), b"first")
    session_a, text = RatchetSession.respond(prekeys_a, first, b.x25519_public_key)
    assert text == b"first"
    return session_b, session_a


def snapshot(session: RatchetSession) -> str:
    return json.dumps(session.to_json(), sort_keys=True)


def test_chain_step_is_spec_mk_01_ck_02() -> None:
    ck = hashlib.sha256(b"chain key").digest()
    chain = KDFChain.create(_ChainKDF, ck)
    message_key = run_sync(chain.step(MESSAGE_CHAIN_CONSTANT, 32))
    assert message_key == hmac.new(ck, b"\x01", hashlib.sha256).digest()
    next_ck = hmac.new(ck, b"\x02", hashlib.sha256).digest()
    assert run_sync(chain.step(MESSAGE_CHAIN_CONSTANT, 32)) == hmac.new(
        next_ck, b"\x01", hashlib.sha256
    ).digest()


def test_tag_compared_in_constant_time(
    pair: tuple[RatchetSession, RatchetSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = hmac.compare_digest

    def spy(x: bytes, y: bytes) -> bool:
        calls.append((len(x), len(y)))
        return real(x, y)

    monkeypatch.setattr(ratchet_mod.hmac, "compare_digest", spy)
    b, a = pair
    assert a.decrypt(b.encrypt(b"x")) == b"x"
    assert (32, 32) in calls


def test_both_directions_and_dh_steps(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    for i in range(4):
        assert a.decrypt(b.encrypt(b"b%d" % i)) == b"b%d" % i
        assert b.decrypt(a.encrypt(b"a%d" % i)) == b"a%d" % i


def test_ciphertext_is_padded_to_160_byte_buckets(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, _ = pair
    sizes = set()
    for n in (0, 10, 100, 157):
        msg = pb.SignalMessage()
        msg.ParseFromString(b.encrypt(b"x" * n))
        sizes.add(len(msg.ciphertext))
    assert sizes == {160 + 32}  # 159 padded + 1 PKCS7 byte, then the 32-byte tag


def test_initiator_repeats_x3dh_header_until_reply(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    msg = pb.SignalMessage()
    msg.ParseFromString(b.encrypt(b"again"))
    assert msg.HasField("x3dh") and b.awaiting_reply
    b.decrypt(a.encrypt(b"reply"))
    msg.ParseFromString(b.encrypt(b"later"))
    assert not msg.HasField("x3dh") and not b.awaiting_reply


def test_out_of_order(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    wires = [b.encrypt(b"m%d" % i) for i in range(5)]
    for i in (3, 0, 4, 2, 1):
        assert a.decrypt(wires[i]) == b"m%d" % i


def test_out_of_order_across_dh_ratchet(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    late = b.encrypt(b"late")
    b.decrypt(a.encrypt(b"turn"))  # B ratchets: its next message uses a new DH key
    newer = b.encrypt(b"newer")
    assert a.decrypt(newer) == b"newer"
    assert a.decrypt(late) == b"late"


def test_duplicate_and_replay_rejected_state_unchanged(
    pair: tuple[RatchetSession, RatchetSession],
) -> None:
    b, a = pair
    w0, w1 = b.encrypt(b"0"), b.encrypt(b"1")
    a.decrypt(w1)
    a.decrypt(w0)  # from the skipped keys
    before = snapshot(a)
    for replay in (w0, w1):
        with pytest.raises(DuplicateMessageError):
            a.decrypt(replay)
        assert snapshot(a) == before


def _tampered(wire: bytes, field: str, index: int) -> bytes:
    msg = pb.SignalMessage()
    msg.ParseFromString(wire)
    value = getattr(msg, field)
    if isinstance(value, int):
        setattr(msg, field, value + 1)
    else:
        flipped = bytearray(value)
        flipped[index % len(flipped)] ^= 0x01
        setattr(msg, field, bytes(flipped))
    return msg.SerializeToString()


@pytest.mark.parametrize(
    "field,index",
    [("ciphertext", 0), ("ciphertext", 100), ("ciphertext", -1), ("ratchetKey", 5),
     ("counter", 0), ("previousCounter", 0)],
)
def test_tampered_message_fails_cleanly(
    pair: tuple[RatchetSession, RatchetSession], field: str, index: int
) -> None:
    b, a = pair
    b.decrypt(a.encrypt(b"so B has no pending header"))
    wire = b.encrypt(b"secret")
    before = snapshot(a)
    with pytest.raises(DecryptionError):
        a.decrypt(_tampered(wire, field, index))
    assert snapshot(a) == before
    assert a.decrypt(wire) == b"secret"  # the genuine message still works afterwards


@pytest.mark.parametrize(
    "bad",
    [b"", b"\xff\xff\xff", pb.SignalMessage(ratchetKey=b"x" * 31, counter=0, previousCounter=0,
                                              ciphertext=b"c" * 48).SerializeToString(),
     pb.SignalMessage(counter=0).SerializeToString()],
    ids=["empty", "garbage", "short-key", "missing-fields"],
)
def test_malformed_bytes(pair: tuple[RatchetSession, RatchetSession], bad: bytes) -> None:
    _, a = pair
    before = snapshot(a)
    with pytest.raises(MalformedMessageError):
        a.decrypt(bad)
    assert snapshot(a) == before


def test_truncated_ciphertext(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    msg = pb.SignalMessage()
    msg.ParseFromString(b.encrypt(b"x"))
    before = snapshot(a)
    for cut in (0, 10, 47, 49):
        msg.ciphertext = msg.ciphertext[:cut]
        with pytest.raises(DecryptionError):
            a.decrypt(msg.SerializeToString())
    assert snapshot(a) == before


def test_too_many_skipped(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    msg = pb.SignalMessage()
    msg.ParseFromString(b.encrypt(b"x"))
    msg.counter = DOS_THRESHOLD + 10
    before = snapshot(a)
    with pytest.raises(TooManySkippedMessagesError):
        a.decrypt(msg.SerializeToString())
    assert snapshot(a) == before


def test_initial_message_replay_and_tamper_leave_prekeys_unchanged() -> None:
    a, b = Identity.generate(), Identity.generate()
    prekeys_a, prekeys_b = PreKeyStore.create(a), PreKeyStore.create(b)
    bundle = prekeys_a.issue_bundle()
    _, first = RatchetSession.initiate(prekeys_b, bundle, b"hello")
    tampered = _tampered(first, "ciphertext", 3)
    state_before = json.dumps(prekeys_a.to_json(), sort_keys=True)
    with pytest.raises(DecryptionError):
        RatchetSession.respond(prekeys_a, tampered, b.x25519_public_key)
    assert json.dumps(prekeys_a.to_json(), sort_keys=True) == state_before  # prekey not consumed
    with pytest.raises(KeyAgreementError, match="not the sender"):
        RatchetSession.respond(prekeys_a, first, Identity.generate().x25519_public_key)
    _, text = RatchetSession.respond(prekeys_a, first, b.x25519_public_key)
    assert text == b"hello" and prekeys_a.outstanding_pre_keys == 0
    with pytest.raises(KeyAgreementError, match="pre key"):  # replay: the prekey is gone
        RatchetSession.respond(prekeys_a, first, b.x25519_public_key)


def test_forged_bundle_signature_rejected() -> None:
    a, b = Identity.generate(), Identity.generate()
    bundle = PreKeyStore.create(a).issue_bundle()
    from dataclasses import replace

    forged = replace(bundle, signed_pre_key=PreKeyStore.create(b).issue_bundle().signed_pre_key)
    with pytest.raises(KeyAgreementError, match="signature"):
        RatchetSession.initiate(PreKeyStore.create(b), forged, b"x")


def test_state_encrypted_at_rest_roundtrip(pair: tuple[RatchetSession, RatchetSession]) -> None:
    b, a = pair
    ident = Identity.generate()
    key = StateKey.for_identity(ident, b"session")
    blob = a.to_bytes(key)
    # Nothing of the plain state shows through: not the AD (identity keys), not the field names.
    assert b"ratchet" not in blob and a._ad.hex().encode() not in blob and a._ad not in blob
    restored = RatchetSession.from_bytes(key, blob)
    assert restored.decrypt(b.encrypt(b"after restore")) == b"after restore"
    with pytest.raises(StateDecryptionError):
        RatchetSession.from_bytes(StateKey.for_identity(Identity.generate(), b"session"), blob)
    with pytest.raises(StateDecryptionError):
        RatchetSession.from_bytes(StateKey.for_identity(ident, b"other-label"), blob)
    with pytest.raises(StateDecryptionError):
        RatchetSession.from_bytes(key, blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(StateDecryptionError):
        RatchetSession.from_bytes(key, b"SCS1")


def test_prekey_pool_is_capped() -> None:
    from session_core.protocol.prekeys import MAX_OUTSTANDING_PRE_KEYS

    store = PreKeyStore.create(Identity.generate())
    for _ in range(MAX_OUTSTANDING_PRE_KEYS + 3):
        store.issue_bundle()
    assert store.outstanding_pre_keys == MAX_OUTSTANDING_PRE_KEYS


def test_run_sync_refuses_a_suspending_coroutine() -> None:
    import asyncio

    async def suspends() -> int:
        await asyncio.sleep(0)
        return 1

    async def finishes() -> int:
        return 2

    assert run_sync(finishes()) == 2
    with pytest.raises(RuntimeError, match="suspended"):
        run_sync(suspends())
