"""Ratchet cost per message: our adapter vs the raw doubleratchet calls, same run.

    python benches/bench_ratchet.py [--messages N] [--rounds R]

Baseline ("raw"): ``doubleratchet`` 1.3.0 used directly as its docs show -- the recommended
AES-CBC+HMAC AEAD, HKDF root chain, separate-HMAC message chain with the same constant,
``await`` inside one asyncio event loop, EncryptedMessage tuples passed in memory.

Ours ("adapter"): ``RatchetSession.encrypt``/``decrypt``: bytes in, SignalMessage protobuf bytes
out, constant-time tag check, docs/interop.md §6.2 padding, driven without an event loop.

Two shapes: one chain (the sender sends N messages in a row) and ping-pong (every message
answers the previous one, so each carries a DH ratchet step).  Rounds alternate raw/adapter and
the best round counts, so noise from the shared machine cancels out.  Target: ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doubleratchet.recommended import HashFunction, aead_aes_hmac  # noqa: E402
from doubleratchet.recommended.diffie_hellman_ratchet_curve25519 import (  # noqa: E402
    DiffieHellmanRatchet,
)

from session_core.identity import Identity  # noqa: E402
from session_core.protocol.prekeys import PreKeyStore  # noqa: E402
from session_core.protocol.ratchet import _CONFIG, RatchetSession  # noqa: E402
from session_core.protocol.ratchet import _DoubleRatchet as RawRatchet  # noqa: E402

PLAINTEXT = b"x" * 100  # a typical short chat message as protobuf


class RawAEAD(aead_aes_hmac.AEAD):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return b"bench message keys"


# The same ratchet and KDFs as ours; only the AEAD is the library's recommended one.
RAW_CONFIG: dict[str, Any] = {**_CONFIG, "aead": RawAEAD}
AD = os.urandom(66)


async def raw_pair() -> tuple[RawRatchet, RawRatchet]:
    shared = os.urandom(32)
    bob_priv = DiffieHellmanRatchet._generate_priv()
    bob_pub = DiffieHellmanRatchet._derive_pub(bob_priv)
    alice, first = await RawRatchet.encrypt_initial_message(
        shared_secret=shared, recipient_ratchet_pub=bob_pub, message=b"hi",
        associated_data=AD, **RAW_CONFIG,
    )
    bob, _ = await RawRatchet.decrypt_initial_message(
        shared_secret=shared, own_ratchet_priv=bob_priv, message=first,
        associated_data=AD, **RAW_CONFIG,
    )
    return alice, bob


def adapter_pair() -> tuple[RatchetSession, RatchetSession]:
    a, b = Identity.generate(), Identity.generate()
    pa, pb = PreKeyStore.create(a), PreKeyStore.create(b)
    sb, first = RatchetSession.initiate(pb, pa.issue_bundle(), b"hi")
    sa, _ = RatchetSession.respond(pa, first, b.x25519_public_key)
    sa.decrypt(sb.encrypt(b"x"))
    sb.decrypt(sa.encrypt(b"y"))  # past the X3DH-header phase, like the raw pair
    return sb, sa


def raw_chain(n: int) -> tuple[float, float]:
    async def run() -> tuple[float, float]:
        alice, bob = await raw_pair()
        t0 = time.perf_counter()
        msgs = [await alice.encrypt_message(PLAINTEXT, AD) for _ in range(n)]
        t1 = time.perf_counter()
        for m in msgs:
            await bob.decrypt_message(m, AD)
        t2 = time.perf_counter()
        return (t1 - t0) / n, (t2 - t1) / n

    return asyncio.run(run())


def adapter_chain(n: int) -> tuple[float, float]:
    alice, bob = adapter_pair()
    t0 = time.perf_counter()
    wires = [alice.encrypt(PLAINTEXT) for _ in range(n)]
    t1 = time.perf_counter()
    for w in wires:
        bob.decrypt(w)
    t2 = time.perf_counter()
    return (t1 - t0) / n, (t2 - t1) / n


def raw_pingpong(n: int) -> tuple[float, float]:
    async def run() -> tuple[float, float]:
        x, y = await raw_pair()
        enc = dec = 0.0
        for _ in range(n):
            t0 = time.perf_counter()
            m = await x.encrypt_message(PLAINTEXT, AD)
            t1 = time.perf_counter()
            await y.decrypt_message(m, AD)
            t2 = time.perf_counter()
            enc, dec = enc + t1 - t0, dec + t2 - t1
            x, y = y, x
        return enc / n, dec / n

    return asyncio.run(run())


def adapter_pingpong(n: int) -> tuple[float, float]:
    x, y = adapter_pair()
    enc = dec = 0.0
    for _ in range(n):
        t0 = time.perf_counter()
        w = x.encrypt(PLAINTEXT)
        t1 = time.perf_counter()
        y.decrypt(w)
        t2 = time.perf_counter()
        enc, dec = enc + t1 - t0, dec + t2 - t1
        x, y = y, x
    return enc / n, dec / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"ratchet cost per message, {args.messages} messages x {args.rounds} rounds (best round)")
    print(f"{'shape':10} {'op':8} {'raw us':>8} {'adapter us':>11} {'ratio':>6}")
    worst = 0.0
    for shape, raw_fn, ours_fn in (
        ("chain", raw_chain, adapter_chain),
        ("ping-pong", raw_pingpong, adapter_pingpong),
    ):
        raw: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(args.rounds):  # alternate so both see the same machine load
            raw.append(raw_fn(args.messages))
            ours.append(ours_fn(args.messages))
        for index, op in enumerate(("encrypt", "decrypt")):
            r = min(x[index] for x in raw) * 1e6
            o = min(x[index] for x in ours) * 1e6
            spread = statistics.pstdev(x[index] for x in ours) * 1e6
            worst = max(worst, o / r)
            print(f"{shape:10} {op:8} {r:8.1f} {o:11.1f} {o / r:6.2f}   (adapter spread {spread:.1f} us)")
    print(f"worst adapter/raw ratio: {worst:.2f} (target <= 1.20)")


if __name__ == "__main__":
    main()
