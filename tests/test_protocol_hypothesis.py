"""Property tests: padding, arbitrary delivery orders, mutated envelopes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_core.errors import SessionCoreError
from session_core.identity import Identity
from session_core.protocol.conversation import Messenger
from session_core.protocol.padding import pad, unpad
from session_core.protocol.prekeys import PreKeyStore
from session_core.protocol.ratchet import RatchetSession


@given(st.binary(max_size=2000))
def test_padding_roundtrip(message: bytes) -> None:
    padded = pad(message)
    assert unpad(padded) == message
    assert (len(padded) + 1) % 160 == 0 and len(padded) > len(message)


def _pair() -> tuple[RatchetSession, RatchetSession]:
    a, b = Identity.generate(), Identity.generate()
    pa, pb_ = PreKeyStore.create(a), PreKeyStore.create(b)
    sb, first = RatchetSession.initiate(pb_, pa.issue_bundle(), b"first")
    sa, _ = RatchetSession.respond(pa, first, b.x25519_public_key)
    return sb, sa


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_any_delivery_order_with_losses(data: st.DataObject) -> None:
    sender, receiver = _pair()
    n = data.draw(st.integers(1, 12), label="n")
    # Interleave: some messages, a reply (forces a DH step), more messages.
    wires = []
    for i in range(n):
        wires.append((b"m%d" % i, sender.encrypt(b"m%d" % i)))
        if data.draw(st.booleans(), label="reply?"):
            sender.decrypt(receiver.encrypt(b"ack"))
    order = data.draw(st.permutations(range(n)), label="order")
    kept = data.draw(st.sets(st.sampled_from(range(n))), label="delivered") if n else set()
    for i in order:
        if i in kept:
            plaintext, wire = wires[i]
            assert receiver.decrypt(wire) == plaintext


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_envelopes_fail_cleanly(data: st.DataObject) -> None:
    a, b = Messenger(Identity.generate(), "A"), Messenger(Identity.generate(), "B")
    b.receive(a.send_friend_request(b.session_id, "hi", now_ms=1).data)
    a.receive(b.accept(a.session_id, now_ms=2).data)
    wire = bytearray(a.send_text(b.session_id, "payload", now_ms=3).data)
    position = data.draw(st.integers(0, len(wire) - 1), label="position")
    wire[position] ^= data.draw(st.integers(1, 255), label="xor")
    before = json.dumps(b.contacts[a.session_id].session.to_json(), sort_keys=True)  # type: ignore[union-attr]
    try:
        events = b.receive(bytes(wire))
    except SessionCoreError:
        after = json.dumps(b.contacts[a.session_id].session.to_json(), sort_keys=True)  # type: ignore[union-attr]
        assert after == before
    else:
        # Only bytes outside the authenticated payload may change (e.g. the envelope timestamp).
        assert [getattr(e, "body", None) for e in events] == ["payload"]
