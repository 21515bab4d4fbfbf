"""session_core.onion: round trips, routing, malformed input, on both backends."""

from __future__ import annotations

import json
import struct
from typing import Any

import nacl.bindings
import pytest

from session_core import _backend, onion
from session_core.onion import api as onion_api
from session_core.onion import proto as _onion_proto
from session_core.onion import _onion_py
from session_core.onion.types import ENC_AES_GCM, ENC_XCHACHA20
from session_core.errors import (
    InvalidInputError,
    OnionDecryptError,
    OnionEncTypeError,
    OnionError,
    OnionFrameError,
    OnionJsonError,
    OnionArgumentError,
    OnionPathTooLongError,
    OnionTooLargeError,
    OnionUrlError,
    SessionCoreError,
)
from c_required import require_c

ENC_TYPES = ["aes-gcm", "xchacha20"]


class Keyed:
    """A node with its secret, for tests."""

    def __init__(self, i: int = 0) -> None:
        pk, sk = nacl.bindings.crypto_box_keypair()
        ed_pk, _ = nacl.bindings.crypto_sign_keypair()
        self.secret = sk
        self.node = onion.Node(pk.hex(), ed_pk.hex(), f"127.0.0.{i + 1}:22021")


def make_nodes(n: int) -> list[Keyed]:
    return [Keyed(i) for i in range(n)]


def walk(body: bytes, hops: list[Keyed]) -> tuple[Any, int]:
    """Peel through *hops* in order as the network would; return the last step and hop."""
    hop = 0
    step: Any = None
    for i, k in enumerate(hops):
        step = onion.peel(body, k.secret, hop=hop)
        if i < len(hops) - 1:
            assert isinstance(step, onion.Relay)
            assert step.next_ed25519 == hops[i + 1].node.ed25519_pubkey
            assert step.hop == hop + 1
            body, hop = step.body, step.hop
    return step, hop


def frame(blob: bytes, obj: Any) -> bytes:
    tail = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack("<I", len(blob)) + blob + tail


# ---- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("enc_type", ENC_TYPES)
@pytest.mark.parametrize("hops", range(0, 16))
def test_round_trip_to_node(backend: str, enc_type: str, hops: int) -> None:
    nodes = make_nodes(hops + 1)
    payload = bytes(range(256)) * 3 + b"x" * hops
    body, ctx = onion.build(payload, [k.node for k in nodes[:-1]], nodes[-1].node, enc_type=enc_type)
    final, _ = walk(body, nodes)
    assert isinstance(final, onion.Final)
    assert final.payload == payload
    assert final.reply.enc_type == enc_type == ctx.enc_type
    answer = json.dumps({"status": 200, "body": "ok"}).encode()
    assert ctx.decrypt_reply(final.reply.encrypt(answer)) == answer
    assert ctx.decrypt_reply(final.reply.encrypt_b64(answer)) == answer


@pytest.mark.parametrize("enc_type", ENC_TYPES)
@pytest.mark.parametrize("hops", [0, 1, 3, 15])
def test_round_trip_to_server(backend: str, enc_type: str, hops: int) -> None:
    nodes = make_nodes(hops)
    server = Keyed()
    target = onion.ServerTarget("files.example.org", server.node.x25519_pubkey, "/oxen/v4/lsrpc", 8443, "http")
    payload = b'{"endpoint": "/room/x", "method": "GET"}'
    body, ctx = onion.build(payload, [k.node for k in nodes], target, enc_type=enc_type)
    if hops:
        exit_step, _ = walk(body, nodes)
        assert isinstance(exit_step, onion.Exit)
        assert (exit_step.host, exit_step.target, exit_step.port, exit_step.protocol, exit_step.method) == (
            "files.example.org",
            "/oxen/v4/lsrpc",
            8443,
            "http",
            "POST",
        )
        assert exit_step.url == "http://files.example.org:8443/oxen/v4/lsrpc"
        body = exit_step.body
    final = onion.open_request(body, server.secret)
    assert final.payload == payload
    assert final.meta["host"] == "files.example.org"
    assert ctx.decrypt_reply(final.reply.encrypt(b"l2:{}e")) == b"l2:{}e"


@pytest.mark.parametrize("enc_type", ENC_TYPES)
@pytest.mark.parametrize("size", [0, 1, 1000, 65536, 1 << 20])
def test_payload_sizes(backend: str, enc_type: str, size: int) -> None:
    nodes = make_nodes(4)
    payload = bytes((i * 7) & 0xFF for i in range(size))
    body, ctx = onion.build(payload, [k.node for k in nodes[:3]], nodes[3].node, enc_type=enc_type)
    final, _ = walk(body, nodes)
    assert final.payload == payload


@pytest.mark.parametrize("enc_type", ENC_TYPES)
@pytest.mark.parametrize("direction", ["c-builds", "py-builds"])
def test_backends_interoperate(enc_type: str, direction: str) -> None:
    if _backend.NO_EXTENSIONS:
        pytest.skip("SESSION_CORE_NO_EXTENSIONS=1: pure Python only")
    builder, peeler = ("c", "python") if direction == "c-builds" else ("python", "c")
    nodes = make_nodes(4)
    with _backend.use(builder, "onion"):
        body, ctx = onion.build(b"interop", [k.node for k in nodes[:3]], nodes[3].node, enc_type=enc_type)
    with _backend.use(peeler, "onion"):
        final, _ = walk(body, nodes)
    assert final.payload == b"interop"
    reply = final.reply.encrypt(b"back")
    with _backend.use(builder, "onion"):
        assert ctx.decrypt_reply(reply) == b"back"


def test_layers_use_fresh_keys(backend: str) -> None:
    nodes = make_nodes(3)
    seen = set()
    for _ in range(2):
        body, _ = onion.build(b"p", [k.node for k in nodes[:2]], nodes[2].node)
        _, outer = body[: 4 + struct.unpack("<I", body[:4])[0]], json.loads(body[4 + struct.unpack("<I", body[:4])[0] :])
        seen.add(outer["ephemeral_key"])
        relay = onion.peel(body, nodes[0].secret)
        assert isinstance(relay, onion.Relay)
        inner = json.loads(relay.body[4 + struct.unpack("<I", relay.body[:4])[0] :])
        assert inner["ephemeral_key"] != outer["ephemeral_key"]
        seen.add(inner["ephemeral_key"])
    assert len(seen) == 4


def test_guard_frame_is_upstream_shape(backend: str) -> None:
    nodes = make_nodes(2)
    body, _ = onion.build(b"p", [nodes[0].node], nodes[1].node, enc_type="xchacha20")
    n = struct.unpack("<I", body[:4])[0]
    assert len(body) > 4 + n
    assert json.loads(body[4 + n :]) == {"ephemeral_key": json.loads(body[4 + n :])["ephemeral_key"], "enc_type": "xchacha20"}


def test_enc_type_aliases_and_default(backend: str) -> None:
    """§3.1: gcm / xchacha20-poly1305 are aliases; an absent enc_type means aes-gcm."""
    k = Keyed()
    for alias, enc in [("gcm", ENC_AES_GCM), ("xchacha20-poly1305", ENC_XCHACHA20), (None, ENC_AES_GCM)]:
        eph_pk, eph_sk = nacl.bindings.crypto_box_keypair()
        shared = nacl.bindings.crypto_scalarmult(eph_sk, bytes.fromhex(k.node.x25519_pubkey))
        key = _onion_py.derive_key(enc, shared, eph_pk, bytes.fromhex(k.node.x25519_pubkey))
        outer: dict[str, Any] = {"ephemeral_key": eph_pk.hex()}
        if alias is not None:
            outer["enc_type"] = alias
        inner = frame(b"req", {"headers": {}})
        final = onion.peel(frame(_onion_py.encrypt(key, enc, inner), outer), k.secret)
        assert isinstance(final, onion.Final) and final.payload == b"req"


def same_outcome(got: Any, body: Any, secret: Any, hop: int) -> None:
    """*got* (one peel_many entry) is exactly what peel(body) returns or raises, with the
    pure-Python reference as the oracle whatever the backend."""
    try:
        expected: Any = _onion_proto.peel_reference(_onion_py, body, secret, hop)
    except OnionError as exc:
        assert type(got) is type(exc), (got, exc)
        assert (got.status, got.body, got.encrypted) == (exc.status, exc.body, exc.encrypted)
        if exc.reply is not None:  # same layer key: the node can answer the error encrypted
            assert got.reply is not None and got.reply.key == exc.reply.key
        return
    assert type(got) is type(expected)
    if isinstance(expected, onion.Final):
        assert (got.payload, dict(got.meta), got.reply.key, got.reply.enc) == (
            expected.payload, dict(expected.meta), expected.reply.key, expected.reply.enc)
    else:
        assert got == expected  # Relay / Exit: every field, body included


def mixed_batch(nodes: list[Keyed]) -> list[Any]:
    """Every kind of outcome peel has, for nodes[0] as the peeling node."""
    me, nxt = nodes[0], nodes[1]
    server = onion.ServerTarget("files.example.org", nxt.node.x25519_pubkey)
    relays = [
        onion.build(bytes([i]) * 50, [me.node], nxt.node, enc_type=ENC_TYPES[i % 2])[0] for i in range(50)
    ]
    finals = [onion.build(b"final %d" % i, [], me.node, enc_type=e)[0] for i, e in enumerate(ENC_TYPES)]
    exits = [onion.build(b"exit", [me.node], server, enc_type=e)[0] for e in ENC_TYPES]
    bad_inner = [inner_layer(me, frame(b"blob", {"destination": "ab" * 31}))[0],
                 inner_layer(me, frame(b"blob", {"host": "example.org", "target": "/x"}))[0]]
    n = struct.unpack("<I", relays[0][:4])[0]
    eph = json.loads(relays[0][4 + n:])["ephemeral_key"]
    unsure = [  # valid frames outside the C scanner's JSON subset: the reference decides
        relays[0][: 4 + n] + json.dumps({"ephemeral_key": eph, "enc_type": "aes-gcm", "x": "\u00e9"}).encode(),
        relays[0][: 4 + n] + b'{"ephemeral_key": "' + eph.encode() + b'", "x": 1.5}',
    ]
    tampered = bytearray(relays[1])
    tampered[10] ^= 1
    bad = [b"", b"\x01\x00\x00\x00", relays[2][:-1], bytes(tampered), relays[3] + b"{",
           frame(b"\x00" * 10, {"ephemeral_key": eph}), "not bytes", bytearray(relays[4]),
           memoryview(relays[5]), onion.build(b"x", [nxt.node], me.node)[0]]  # last: wrong key
    batch: list[Any] = relays[:20] + finals + bad[:5] + exits + bad_inner + unsure + bad[5:] + relays[20:]
    return batch


@pytest.mark.parametrize("threads", [1, 2, 3, None])
def test_peel_many_matches_peel(backend: str, threads: int | None) -> None:
    """Batch results are identical to one-by-one peel, errors in place, order kept; the
    batch crosses the C slice size (32) so several GIL releases per share are covered."""
    nodes = make_nodes(2)
    batch = mixed_batch(nodes)
    assert len(batch) > 64
    out = onion.peel_many(batch, nodes[0].secret, threads=threads)
    assert len(out) == len(batch)
    for body, got in zip(batch, out):
        same_outcome(got, body, nodes[0].secret, 0)
    kinds = {type(r).__name__ for r in out}
    assert {"Relay", "Final", "Exit", "OnionDecryptError", "OnionFrameError", "OnionJsonError",
            "OnionUrlError", "OnionArgumentError"} <= kinds
    assert onion.peel_many([], nodes[0].secret, threads=threads) == []


@pytest.mark.parametrize("hop", [14, 15, 16, -1, "1", True])
def test_peel_many_hop_rules(backend: str, hop: Any) -> None:
    nodes = make_nodes(2)
    batch = [onion.build(b"h", [nodes[0].node], nodes[1].node)[0] for _ in range(3)]
    batch.append(onion.build(b"f", [], nodes[0].node)[0])
    out = onion.peel_many(batch, nodes[0].secret, hop=hop, threads=2)
    for body, got in zip(batch, out):
        same_outcome(got, body, nodes[0].secret, hop)


def test_peel_many_bad_secret(backend: str) -> None:
    body, nodes = good_onion()
    for secret in (b"\x00" * 31, "ab" * 32, None):
        out = onion.peel_many([body, body], secret)  # type: ignore[arg-type]
        assert [type(r) for r in out] == [OnionArgumentError, OnionArgumentError]


def test_peel_many_c_batch_does_the_work() -> None:
    """Guards against a batch path that silently hands everything to Python."""
    require_c(onion_api._c, "onion")
    nodes = make_nodes(2)
    batch = [onion.build(b"b", [nodes[0].node], nodes[1].node, enc_type=e)[0] for e in ENC_TYPES * 40]
    raw = onion_api._c.peel_batch(batch, 0, len(batch), nodes[0].secret, 0, onion.Relay)
    assert len(raw) == len(batch) and all(type(r) is onion.Relay for r in raw)
    assert [r.next_ed25519 for r in raw] == [nodes[1].node.ed25519_pubkey] * len(batch)
    final = onion_api._c.peel_batch([raw[0].body], 0, 1, nodes[1].secret, 1, onion.Relay)[0]
    assert type(final) is tuple and len(final) == 3  # decrypted in C, inner left to the reference
    for lo, hi in ((-1, 1), (0, len(batch) + 1), (2, 1)):
        with pytest.raises(OnionArgumentError):
            onion_api._c.peel_batch(batch, lo, hi, nodes[0].secret, 0, onion.Relay)


def test_peel_concurrently_with_different_secrets(backend: str) -> None:
    """Two nodes' secrets peeled at once from several threads (the C binding caches the
    public key per secret; xchacha20 hashes it into the key, so a mix-up would show)."""
    from concurrent.futures import ThreadPoolExecutor

    a, b, dest = make_nodes(3)
    work = {
        k: [onion.build(b"c%d" % i, [k.node], dest.node, enc_type="xchacha20")[0] for i in range(40)]
        for k in (a, b)
    }

    def run(k: Keyed) -> bool:
        ok = all(type(r) is onion.Relay for r in onion.peel_many(work[k], k.secret, threads=2))
        return ok and all(type(onion.peel(body, k.secret)) is onion.Relay for body in work[k][:10])

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, [a, b, a, b, a, b]))


def test_c_made_relay_is_a_normal_relay() -> None:
    """The binding stores Relay's fields directly; the object must be indistinguishable
    from Relay(...), still frozen, and any other class must be called normally."""
    import dataclasses

    require_c(onion_api._c, "onion")
    nodes = make_nodes(2)
    body = onion.build(b"r", [nodes[0].node], nodes[1].node)[0]
    got = onion_api._c.peel_one(body, nodes[0].secret, 0, onion.Relay)
    assert type(got) is onion.Relay
    assert got == onion.Relay(got.next_ed25519, got.body, 1) and hash(got) == hash(onion.Relay(got.next_ed25519, got.body, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.hop = 5  # type: ignore[misc]
    seen = []

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked(onion.Relay):
        def __post_init__(self) -> None:
            seen.append(self.next_ed25519)

    other = onion_api._c.peel_one(body, nodes[0].secret, 0, Checked)
    assert type(other) is Checked and seen == [other.next_ed25519]
    assert onion_api._c.peel_one(body, nodes[0].secret, 0, lambda *a: a)[2] == 1


def layer_jsons(body: bytes, peelers: list[Keyed]) -> list[str]:
    """The routing JSON text beside every blob, guard first, ephemeral keys masked."""
    texts, hop = [], 0
    for k in [*peelers, None]:
        n = struct.unpack("<I", body[:4])[0]
        text = body[4 + n :].decode()
        eph = json.loads(text)["ephemeral_key"]
        assert eph == eph.lower()
        texts.append(text.replace(eph, "<eph>"))
        if k is None:
            break
        step = onion.peel(body, k.secret, hop=hop)
        if isinstance(step, onion.Final):
            break
        assert isinstance(step, (onion.Relay, onion.Exit))
        body, hop = step.body, hop + 1
    return texts


@pytest.mark.parametrize("enc_type", ENC_TYPES)
@pytest.mark.parametrize("to_server", [False, True])
@pytest.mark.parametrize("hops", [0, 1, 3])
def test_build_json_same_on_both_backends(enc_type: str, to_server: bool, hops: int) -> None:
    """The C builder writes every routing JSON byte for byte as the reference does."""
    require_c(onion_api._c, "onion")
    nodes = make_nodes(hops + 1)
    dest: Any = nodes[-1].node
    peelers = nodes
    if to_server:  # a name that needs JSON escapes, and every exit field non-default
        dest = onion.ServerTarget("h\u00e9\"x.org", nodes[-1].node.x25519_pubkey, "/oxen/v4/lsrpc", 8443, "http")
        peelers = nodes[:-1]
    texts = []
    for implementation in ("c", "python"):
        with _backend.use(implementation, "onion"):
            body, _ = onion.build(b"same", [k.node for k in nodes[:-1]], dest, enc_type=enc_type)
        texts.append(layer_jsons(body, peelers))
    assert texts[0] == texts[1]
    assert len(texts[0]) == hops + 1


def test_build_route_rejects_bad_arguments() -> None:
    require_c(onion_api._c, "onion")
    k = Keyed()
    x, e = k.node.x25519_pubkey, k.node.ed25519_pubkey
    for args in [(x + x, ""), (x, e), (x[:-1], ""), (x + x, e[:-1]), ("", ""), ("zz" * 32, ""),
                 (x + "zz" * 32, e), (x + x, "zz" * 32), (x * 17, e * 16)]:
        with pytest.raises(OnionArgumentError):
            onion_api._c.build_route(b"p", None, args[0], args[1], 0)
    with pytest.raises(OnionArgumentError):
        onion_api._c.build_route(b"p", "not bytes", x, "", 0)
    with pytest.raises(OnionArgumentError):
        onion_api._c.build_route(b"p", None, "00" * 32, "", 0)  # low-order recipient key
    with pytest.raises(OnionArgumentError):
        onion_api._c.build_route(b"p", None, x, "", 2)
    assert onion_api._c.build_route(b"p", None, x, "", 1)[0]  # the same call, valid


# ---- backend selection -------------------------------------------------------------------


def test_c_backend_chosen_when_built() -> None:
    info = onion.backend_info()
    if _backend.NO_EXTENSIONS:
        assert info["implementation"] == "python"
        return
    assert onion_api._c is not None, _backend.load_error("onion")
    assert info["implementation"] == "c"
    assert info["libsodium"].split()[0] in ("pynacl", "system")
    assert onion_api._active.module is onion_api._c


# ---- malformed input ---------------------------------------------------------------------

def expect(exc_type: type[OnionError], fn: Any, *args: Any, **kw: Any) -> OnionError:
    with pytest.raises(exc_type) as info:
        fn(*args, **kw)
    err = info.value
    assert isinstance(err, SessionCoreError) and isinstance(err, ValueError)
    assert isinstance(err, InvalidInputError)
    assert str(err).startswith(err.body)
    return err


def good_onion(enc_type: str = "aes-gcm", hops: int = 2) -> tuple[bytes, list[Keyed]]:
    nodes = make_nodes(hops + 1)
    body, _ = onion.build(b"payload", [k.node for k in nodes[:-1]], nodes[-1].node, enc_type=enc_type)
    return body, nodes


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x00\x00", b"\x05\x00\x00"])
def test_truncated_header(backend: str, body: bytes) -> None:
    err = expect(OnionFrameError, onion.peel, body, Keyed().secret)
    assert (err.status, err.body) == (400, "Error parsing outer JSON in onion request: truncated header")


@pytest.mark.parametrize("n", [8, 2**31, 2**32 - 1])
def test_blob_length_beyond_buffer(backend: str, n: int) -> None:
    err = expect(OnionFrameError, onion.peel, struct.pack("<I", n) + b"1234567", Keyed().secret)
    assert err.status == 400 and "exceeds" in err.body


@pytest.mark.parametrize(
    "tail",
    [b"", b"{", b"[]", b'"x"', b"null", b"{\"ephemeral_key\": 1}", b"\xff\xfe{}", b"[" * 100000, b"{}"],
)
def test_bad_outer_json(backend: str, tail: bytes) -> None:
    err = expect(OnionFrameError, onion.peel, frame(b"\x00" * 40, tail), Keyed().secret)
    assert err.status == 400 and err.body.startswith("Error parsing outer JSON in onion request: ")
    assert err.reply is None


@pytest.mark.parametrize("key", ["ab" * 31, "ab" * 33, "zz" * 32, " " + "ab" * 31 + "a", "ab" * 16 + " " + "ab" * 15 + "a", 7])
def test_bad_ephemeral_key(backend: str, key: Any) -> None:
    expect(OnionFrameError, onion.peel, frame(b"\x00" * 40, {"ephemeral_key": key}), Keyed().secret)


@pytest.mark.parametrize("enc_type", ["aes-cbc", "cbc", "AES-GCM", "", 1, None.__class__.__name__, ["aes-gcm"]])
def test_unknown_enc_type(backend: str, enc_type: Any) -> None:
    body = frame(b"\x00" * 40, {"ephemeral_key": "ab" * 32, "enc_type": enc_type})
    err = expect(OnionEncTypeError, onion.peel, body, Keyed().secret)
    assert isinstance(err, OnionFrameError) and err.status == 400
    with pytest.raises(OnionEncTypeError):
        onion.build(b"x", [], Keyed().node, enc_type=enc_type)


@pytest.mark.parametrize("enc_type", ENC_TYPES)
def test_wrong_key(backend: str, enc_type: str) -> None:
    body, nodes = good_onion(enc_type)
    err = expect(OnionDecryptError, onion.peel, body, nodes[1].secret)
    assert (err.status, err.body, err.reply) == (400, "Invalid ciphertext", None)


@pytest.mark.parametrize("enc_type", ENC_TYPES)
def test_tampered_nonce_ciphertext_tag(backend: str, enc_type: str) -> None:
    body, nodes = good_onion(enc_type)
    n = struct.unpack("<I", body[:4])[0]
    nb = 12 if enc_type == "aes-gcm" else 24
    # first and last nonce byte, ciphertext start/middle/end, first and last tag byte
    for pos in [4, 4 + nb - 1, 4 + nb, 4 + n // 2, 4 + n - 17, 4 + n - 16, 4 + n - 1]:
        for bit in (0x01, 0x80):
            bad = bytearray(body)
            bad[pos] ^= bit
            snapshot = bytes(bad)
            err = expect(OnionDecryptError, onion.peel, bad, nodes[0].secret)
            assert err.body == "Invalid ciphertext"
            assert bytes(bad) == snapshot  # the input is not modified


@pytest.mark.parametrize("enc_type", ENC_TYPES)
def test_blob_shorter_than_overhead(backend: str, enc_type: str) -> None:
    for size in (0, 1, 15, 27, 39):
        body = frame(b"\x11" * size, {"ephemeral_key": Keyed().node.x25519_pubkey, "enc_type": enc_type})
        expect(OnionDecryptError, onion.peel, body, Keyed().secret)


@pytest.mark.parametrize("point", ["00" * 32, "01" + "00" * 31, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"])
def test_low_order_ephemeral_key(backend: str, point: str) -> None:
    """X25519 with a low-order point gives an all-zero secret; refuse it like a bad ciphertext."""
    for enc_type in ENC_TYPES:
        body = frame(b"\x00" * 60, {"ephemeral_key": point, "enc_type": enc_type})
        expect(OnionDecryptError, onion.peel, body, Keyed().secret)


def test_oversized(backend: str) -> None:
    k = Keyed()
    big = frame(b"\x00" * (onion.MAX_BODY_SIZE), {"ephemeral_key": k.node.x25519_pubkey})
    err = expect(OnionTooLargeError, onion.peel, big, k.secret)
    assert isinstance(err, OnionFrameError) and err.status == 400
    with pytest.raises(OnionTooLargeError):
        onion.build(b"\x00" * onion.MAX_BODY_SIZE, [k.node], k.node)


def test_too_many_hops(backend: str) -> None:
    nodes = make_nodes(17)
    with pytest.raises(OnionPathTooLongError) as info:
        onion.build(b"x", [k.node for k in nodes[:16]], nodes[16].node)
    assert (info.value.status, info.value.body) == (400, "onion request max path length exceeded")
    body, _ = onion.build(b"x", [nodes[0].node], nodes[1].node)
    expect(OnionPathTooLongError, onion.peel, body, nodes[0].secret, hop=16)
    # a relay that would hand the request to a 16th node refuses
    expect(OnionPathTooLongError, onion.peel, body, nodes[0].secret, hop=15)
    assert isinstance(onion.peel(body, nodes[0].secret, hop=14), onion.Relay)


def inner_layer(k: Keyed, inner: bytes, enc: int = ENC_AES_GCM) -> tuple[bytes, bytes]:
    """A one-layer frame for *k* whose decrypted content is *inner*; returns it and the key."""
    eph_pk, eph_sk = nacl.bindings.crypto_box_keypair()
    shared = nacl.bindings.crypto_scalarmult(eph_sk, bytes.fromhex(k.node.x25519_pubkey))
    key = _onion_py.derive_key(enc, shared, eph_pk, bytes.fromhex(k.node.x25519_pubkey))
    return frame(_onion_py.encrypt(key, enc, inner), {"ephemeral_key": eph_pk.hex(), "enc_type": ["aes-gcm", "xchacha20"][enc]}), key


@pytest.mark.parametrize(
    "inner",
    [
        b"",
        b"\x01\x00",
        struct.pack("<I", 100) + b"short",
        frame(b"blob", b"not json"),
        frame(b"blob", b"[1]"),
        frame(b"blob", {}),
        frame(b"blob", {"destination": "ab" * 32}),
        frame(b"blob", {"destination": "ab" * 31, "ephemeral_key": "cd" * 32}),
        frame(b"blob", {"destination": "ab" * 32, "ephemeral_key": "cd" * 32, "enc_type": "rot13"}),
        frame(b"blob", {"host": "example.org"}),
    ],
)
def test_bad_inner_layer(backend: str, inner: bytes) -> None:
    k = Keyed()
    body, key = inner_layer(k, inner)
    err = expect(OnionJsonError, onion.peel, body, k.secret)
    assert (err.status, err.body, err.encrypted) == (400, "Invalid json", True)
    # the error carries the layer's Reply, so the node can answer it encrypted (§3.4)
    assert isinstance(err.reply, onion.Reply)
    assert _onion_py.decrypt(key, ENC_AES_GCM, err.reply.encrypt(b"Invalid json")) == b"Invalid json"


@pytest.mark.parametrize(
    "fields",
    [
        {"target": "/not_loki/v3/lsrpc"},
        {"target": "/loki/v3"},
        {"target": "/loki/v3/lsrpc?foo=bar"},
        {"target": "/loki/v3/lsrpc", "port": 0},
        {"target": "/loki/v3/lsrpc", "port": "443"},
        {"target": "/loki/v3/lsrpc", "port": True},
        {"target": "/loki/v3/lsrpc", "protocol": "ftp"},
        {"target": "/loki/v3/lsrpc", "host": "evil.org/x?"},
        {"target": "/loki/v3/lsrpc", "host": ""},
    ],
)
def test_bad_exit_url(backend: str, fields: dict[str, Any]) -> None:
    k = Keyed()
    body, _ = inner_layer(k, frame(b"blob", {"host": "example.org", **fields}))
    err = expect(OnionUrlError, onion.peel, body, k.secret)
    assert (err.status, err.body, err.encrypted) == (400, "Invalid url", True)
    assert isinstance(err.reply, onion.Reply)


@pytest.mark.parametrize("target", ["/loki/v3/lsrpc", "/loki/oxen/v4/lsrpc", "/oxen/v3/lsrpc"])
def test_allowed_exit_targets(backend: str, target: str) -> None:
    k = Keyed()
    body, _ = inner_layer(k, frame(b"blob", {"host": "example.org", "target": target}))
    step = onion.peel(body, k.secret)
    assert isinstance(step, onion.Exit)
    assert (step.target, step.port, step.protocol, step.method) == (target, 443, "https", "POST")


def test_headers_wins_over_host_and_destination(backend: str) -> None:
    """§3.3: 'headers' is checked first, then 'host', then relay."""
    k = Keyed()
    body, _ = inner_layer(k, frame(b"req", {"headers": "", "host": "x.org", "destination": "ab" * 32}))
    assert isinstance(onion.peel(body, k.secret), onion.Final)
    body, _ = inner_layer(k, frame(b"req", {"host": "x.org", "target": "/loki/v3/lsrpc", "destination": "ab" * 32}))
    assert isinstance(onion.peel(body, k.secret), onion.Exit)


def test_bad_caller_arguments(backend: str) -> None:
    body, nodes = good_onion()
    for secret in (b"", b"\x00" * 31, b"\x00" * 33, "ab" * 32):
        with pytest.raises(OnionArgumentError):
            onion.peel(body, secret)  # type: ignore[arg-type]
    with pytest.raises(OnionArgumentError):
        onion.peel("text", nodes[0].secret)  # type: ignore[arg-type]
    with pytest.raises(OnionArgumentError):
        onion.Node("ab" * 31, "cd" * 32)
    with pytest.raises(OnionUrlError):
        onion.ServerTarget("example.org", "ab" * 32, "/not/allowed")
    with pytest.raises(OnionArgumentError):
        onion.build("text", [], nodes[0].node)  # type: ignore[arg-type]
    with pytest.raises(OnionArgumentError):
        onion.peel(body, nodes[0].secret, hop=-1)


@pytest.mark.parametrize("enc_type", ENC_TYPES)
def test_decrypt_reply_rejects_forgeries(backend: str, enc_type: str) -> None:
    nodes = make_nodes(2)
    body, ctx = onion.build(b"q", [nodes[0].node], nodes[1].node, enc_type=enc_type)
    final, _ = walk(body, nodes)
    good = final.reply.encrypt(b"answer")
    for bad in (b"", good[:-1], good[:-1] + bytes([good[-1] ^ 1]), b"!!notbase64!!", b"AAAA"):
        with pytest.raises(OnionDecryptError):
            ctx.decrypt_reply(bad)
    other, _ = onion.build(b"q", [nodes[0].node], nodes[1].node, enc_type=enc_type)
    final2, _ = walk(other, nodes)
    with pytest.raises(OnionDecryptError):
        ctx.decrypt_reply(final2.reply.encrypt(b"answer"))
