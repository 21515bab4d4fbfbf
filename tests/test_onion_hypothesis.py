"""Fuzzing peel/open_request: hostile input never crashes and raises only OnionError
subclasses that map to a §3.4 answer; valid input always round-trips."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_onion import Keyed, make_nodes, same_outcome

from session_core import onion
from session_core.onion import api as onion_api
from c_required import require_c
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


# ---- the C fast path agrees with the reference parser ------------------------------------

GUARD = Keyed()
NEXT = Keyed()
json_atoms = st.sampled_from(
    ['"aes-gcm"', '"gcm"', '"xchacha20"', '"xchacha20-poly1305"', '"AES-GCM"', "1", "-0", "01", "1.5",
     "true", "null", "{}", "[]", "[1]", '""', '"\\u0041"', '"é"', "{ }", "1e3",
     '"a\tb"', '"\x7f"', '"a\\"b"', '"' + "ab" * 40 + '"']
)


@st.composite
def outer_json(draw: st.DrawFn, eph: str) -> bytes:
    members = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(["ephemeral_key", "enc_type", "headers", "x", "ephemeral_key "]))
        value = draw(st.sampled_from([f'"{eph}"', f'"{eph.upper()}"', f'"{eph[:-1]}"']) | json_atoms)
        members.append((key, value))
    ws = draw(st.sampled_from(["", " ", "\n\t", "\r "]))
    sep = draw(st.sampled_from([",", " ,", ", "]))
    text = "{" + ws + sep.join(f'"{k}"{ws}:{ws}{v}' for k, v in members) + ws + "}"
    return draw(st.sampled_from([text, ws + text + ws, text + ",", text[:-1], "[" + text + "]"])).encode()


@settings(max_examples=250, deadline=None)
@given(data=st.data(), enc_type=st.sampled_from(["aes-gcm", "xchacha20"]))
def test_fast_path_matches_reference(data: st.DataObject, enc_type: str) -> None:
    require_c(onion_api._c, "onion")
    body, _ = onion.build(b"p", [GUARD.node], NEXT.node, enc_type=enc_type)
    n = struct.unpack("<I", body[:4])[0]
    eph = json.loads(body[4 + n :])["ephemeral_key"]
    mutated = body[: 4 + n] + data.draw(outer_json(eph))
    outcomes = []
    for module in (onion_api._c, onion_api._onion_py):
        try:
            step = onion_api._onion_proto.peel(module, mutated, GUARD.secret, 0)
            outcomes.append((type(step).__name__, getattr(step, "next_ed25519", None), getattr(step, "body", None)))
        except OnionError as exc:
            outcomes.append((type(exc).__name__, exc.body, None))
    assert outcomes[0] == outcomes[1]


def test_fast_path_taken_for_common_frames() -> None:
    """Guards against a fast path that silently always defers to Python."""
    require_c(onion_api._c, "onion")
    for enc_type in ("aes-gcm", "xchacha20"):
        body, _ = onion.build(b"p", [GUARD.node], NEXT.node, enc_type=enc_type)
        relay = onion_api._c.peel_one(body, GUARD.secret, 0, onion.Relay)
        assert type(relay) is onion.Relay and relay.next_ed25519 == NEXT.node.ed25519_pubkey
        final = onion_api._c.peel_one(relay.body, NEXT.secret, 1, onion.Relay)
        assert type(final) is tuple and len(final) == 3  # decrypted in C, inner left to the reference


BATCH_BASE = [onion.build(b"m%d" % i, [GUARD.node], NEXT.node, enc_type=("aes-gcm", "xchacha20")[i % 2])[0] for i in range(6)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
    cuts=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 400)), max_size=2),
    threads=st.sampled_from([1, 2]),
)
def test_peel_many_matches_reference(backend: str, edits: list[tuple[int, int, int]], cuts: list[tuple[int, int]], threads: int) -> None:
    """Corrupted batches: every entry is what the pure-Python reference peel gives."""
    batch = [bytearray(b) for b in BATCH_BASE]
    for which, pos, bit in edits:
        batch[which][pos % len(batch[which])] ^= bit
    bodies = [bytes(b) for b in batch]
    for which, cut in cuts:
        bodies[which] = bodies[which][: max(0, len(bodies[which]) - cut)]
    out = onion.peel_many(bodies, GUARD.secret, threads=threads)
    for body, got in zip(bodies, out):
        same_outcome(got, body, GUARD.secret, 0)


@st.composite
def inner_json(draw: st.DrawFn, eph: str, dest: str) -> bytes:
    members = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(["destination", "ephemeral_key", "enc_type", "headers", "host", "x"]))
        value = draw(st.sampled_from([f'"{dest}"', f'"{dest.upper()}"', f'"{eph}"', f'"{dest[:-2]}"']) | json_atoms)
        members.append((key, value))
    ws = draw(st.sampled_from(["", " ", "\n"]))
    return ("{" + ws + ",".join(f'"{k}":{ws}{v}' for k, v in members) + "}").encode()


@settings(max_examples=200, deadline=None)
@given(data=st.data(), enc=st.sampled_from([0, 1]))
def test_fast_relay_matches_reference(data: st.DataObject, enc: int) -> None:
    """The C scanner of a decrypted layer's routing JSON agrees with the reference."""
    require_c(onion_api._c, "onion")
    from test_onion import frame, inner_layer

    text = data.draw(inner_json(NEXT.node.x25519_pubkey, NEXT.node.ed25519_pubkey))
    body, _ = inner_layer(GUARD, frame(b"blob", text), enc)
    outcomes = []
    for module in (onion_api._c, onion_api._onion_py):
        try:
            step = onion_api._onion_proto.peel(module, body, GUARD.secret, 0)
            outcomes.append((type(step).__name__, getattr(step, "next_ed25519", None), getattr(step, "body", None)))
        except OnionError as exc:
            outcomes.append((type(exc).__name__, exc.body, None))
    assert outcomes[0] == outcomes[1]
