"""Fuzzing peel/open_request: hostile input never crashes and raises only OnionError
subclasses that map to a §3.4 answer; valid input always round-trips."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_onion import Keyed, backend, make_nodes  # noqa: F401  (fixture)

from session_core import onion
from session_core.errors import OnionError, OnionInputError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NODE = Keyed()
PATH = make_nodes(3)

ANSWERS = {
    400: {"Invalid ciphertext", "Invalid json", "Invalid url", "onion request max path length exceeded"},
}


def check_error(exc: OnionError) -> None:
    assert isinstance(exc, OnionInputError) and isinstance(exc, ValueError)
    assert exc.status == 400
    assert exc.body in ANSWERS[400] or exc.body.startswith("Error parsing outer JSON in onion request: ")
    if exc.encrypted:
        assert isinstance(exc.reply, onion.Reply)


def peel_safely(body: bytes, secret: bytes, hop: int = 0) -> object:
    try:
        return onion.peel(body, secret, hop=hop)
    except OnionError as exc:
        check_error(exc)
        return exc


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(backend: str, data: bytes) -> None:
    result = peel_safely(data, NODE.secret)
    assert isinstance(result, OnionError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=15), inner, max_size=4),
    max_leaves=8,
)


@SETTINGS
@given(
    blob=st.binary(max_size=200),
    outer=st.dictionaries(
        st.sampled_from(["ephemeral_key", "enc_type", "destination", "headers", "host"]),
        json_values | st.sampled_from(["aes-gcm", "xchacha20", "gcm", NODE.node.x25519_pubkey]),
        max_size=4,
    ),
    n_delta=st.integers(-8, 8),
)
def test_structured_garbage(backend: str, blob: bytes, outer: dict[str, object], n_delta: int) -> None:
    n = max(0, len(blob) + n_delta)
    body = struct.pack("<I", n) + blob + json.dumps(outer).encode()
    assert isinstance(peel_safely(body, NODE.secret), OnionError)


@SETTINGS
@given(
    enc_type=st.sampled_from(["aes-gcm", "xchacha20"]),
    payload=st.binary(max_size=300),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 8),
)
def test_mutated_onion(backend: str, enc_type: str, payload: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    body, _ = onion.build(payload, [k.node for k in PATH[:2]], PATH[2].node, enc_type=enc_type)
    assert isinstance(onion.peel(body, PATH[0].secret), onion.Relay)
    bad = bytearray(body[: len(body) - cut] if cut else body)
    for pos, xor in edits:
        bad[pos % len(bad)] ^= xor
    result = peel_safely(bytes(bad), PATH[0].secret)
    if bytes(bad) == body:  # the edits cancelled out
        assert isinstance(result, onion.Relay)
    elif isinstance(result, onion.Relay):
        # only the outer JSON changed in a harmless way (e.g. whitespace/case in the key)
        n = struct.unpack("<I", bad[:4])[0]
        assert bytes(bad[: 4 + n]) == body[: 4 + n]


@SETTINGS
@given(
    enc_type=st.sampled_from(["aes-gcm", "xchacha20"]),
    payload=st.binary(max_size=2000),
    hops=st.integers(0, 4),
)
def test_round_trip_any_payload(backend: str, enc_type: str, payload: bytes, hops: int) -> None:
    nodes = make_nodes(hops + 1)
    body, ctx = onion.build(payload, [k.node for k in nodes[:-1]], nodes[-1].node, enc_type=enc_type)
    hop = 0
    for k in nodes[:-1]:
        step = onion.peel(body, k.secret, hop=hop)
        assert isinstance(step, onion.Relay)
        body, hop = step.body, step.hop
    final = onion.peel(body, nodes[-1].secret, hop=hop)
    assert isinstance(final, onion.Final) and final.payload == payload
    assert ctx.decrypt_reply(final.reply.encrypt(payload)) == payload


@SETTINGS
@given(st.binary(max_size=400))
def test_open_request_random(backend: str, data: bytes) -> None:
    with pytest.raises(OnionError) as info:
        onion.open_request(data, NODE.secret)
    check_error(info.value)
