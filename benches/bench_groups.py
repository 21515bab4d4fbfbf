"""Closed groups: what a kick costs the admin and the swarm, what a message costs a member.

    python benches/bench_groups.py [--members 1000] [--rounds 5] [--messages 200]

1. Kick + rekey at N members (default 1 000): the ONE record the admin stores (raw bytes and
   the base64 the store request carries) against production's size, which we compute from its
   format (libsession-util ``keys.cpp``: bencoded ``48:``+48-byte entries padded to a multiple
   of 75, plus nonce, generation, admin key and signature, ~54 KB at 1 000), and the admin's CPU
   time (``time.process_time``), best of ``--rounds``.  Same-run baseline: the bare primitives
   the scheme cannot avoid (N X25519 + N XChaCha20-Poly1305 seals through PyNaCl) -- the ratio
   says what our Python around them costs.
2. What a remaining member pays to apply that kick (find its entry by trial, derive every
   sender's chain start): once per generation, not per message.
3. A member's receive cost per message at 10 / 100 / 1 000 members (messages from rotating
   senders; the median of ``--messages``), as a ratio to the 10-member group: the per-message
   work (header open, one ratchet step, body open, one Ed25519 check) does not depend on N.

Targets (issue 14): kick record <= 52 KB, admin CPU <= 100 ms at 1 000 members; receive ratio ~1.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nacl  # noqa: E402
import nacl.bindings  # noqa: E402

from session_core.identity import Identity  # noqa: E402
from session_core.protocol.groups import Group  # noqa: E402
from session_core.protocol.groups.key_agreement import ENTRY_BYTES, PAD_MULTIPLE  # noqa: E402

NOW = 1_800_000_000_000


def production_key_message_bytes(members: int) -> int:
    """Size of a libsession-util groups v2 key message for ``members`` non-admin members
    (keys.cpp ``rekey``: d 1:# 24:nonce 1:G iGe 1:K 48:.. 1:k l 48:.. x padded e 1:~ 64:sig e)."""
    entries = -(-members // PAD_MULTIPLE) * PAD_MULTIPLE
    gen = len(f"i{1}e")
    return (2 + (3 + 3 + 24) + (3 + gen) + (3 + 3 + 48) + (3 + 2 + entries * (3 + ENTRY_BYTES))
            + (3 + 3 + 64))


def make_group(n: int) -> tuple[Group, list[Identity], list[bytes]]:
    admin = Identity.generate()
    people = [Identity.generate() for _ in range(n - 1)]
    g, outs = Group.create(admin, NOW, [p.session_id for p in people])
    return g, people, [o.data for o in outs]


def primitives_floor(n: int, rounds: int) -> float:
    """N X25519 + N XChaCha20-Poly1305 seals of 32 bytes: the scheme's unavoidable work."""
    pks = [os.urandom(32) for _ in range(n)]
    key, ad, nonce = os.urandom(32), os.urandom(44), bytes(24)
    best = float("inf")
    for _ in range(rounds):
        e = os.urandom(32)
        t0 = time.process_time()
        for pk in pks:
            k = nacl.bindings.crypto_scalarmult(e, pk)
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(key, ad, nonce, k)
        best = min(best, time.process_time() - t0)
    return best


def bench_kick(n: int, rounds: int) -> None:
    g, people, creation = make_group(n)
    watcher = Group.join(people[-1], g.group_id)
    for data in creation:
        watcher.receive(data, NOW)
    cpu, apply_s, sizes = [], [], []
    for r in range(rounds):
        # Kick one member, then add one back, so every kick is at N members.
        victim = people[r]
        t0 = time.process_time()
        (rec,) = g.kick([victim.session_id], NOW)
        cpu.append(time.process_time() - t0)
        sizes.append(len(rec.data))
        t0 = time.perf_counter()
        watcher.receive(rec.data, NOW)
        apply_s.append(time.perf_counter() - t0)
        for o in g.add([victim.session_id], NOW):
            watcher.receive(o.data, NOW)
    floor = primitives_floor(n, rounds)
    raw = max(sizes)
    b64 = len(base64.b64encode(b"\x00" * raw))
    prod = production_key_message_bytes(n - 1)
    print(f"kick + rekey at {n} members (one record, best of {rounds}):")
    print(f"  record size       {raw:>8,} B raw, {b64:,} B as base64 in the store request")
    print(f"  production format {prod:>8,} B (computed from keys.cpp)   ratio ours/production {raw / prod:.3f}")
    print(f"  target            {52_000:>8,} B                         {'OK' if raw <= 52_000 else 'OVER'}")
    print(f"  admin CPU         {min(cpu) * 1e3:8.1f} ms (median {statistics.median(cpu) * 1e3:.1f})   "
          f"target 100 ms {'OK' if min(cpu) <= 0.1 else 'OVER'}")
    print(f"  primitives floor  {floor * 1e3:8.1f} ms (N X25519 + N seals)   ratio ours/floor {min(cpu) / floor:.2f}")
    print(f"  member applies it {min(apply_s) * 1e3:8.1f} ms (trial unwrap + {n} chain starts; once per generation)")


def bench_receive(sizes: list[int], messages: int) -> None:
    """Groups of every size are built first, then their receives are interleaved (one message
    per size in turn), so drift on a shared machine hits every size alike."""
    print(f"member receive cost per message (median of {messages}, senders rotating, sizes interleaved):")
    readers, outs = [], []
    for n in sizes:
        g, people, creation = make_group(n)
        senders = [Group.join(p, g.group_id) for p in people[: min(20, n - 2)]]
        reader = Group.join(people[-1], g.group_id)
        for s in senders + [reader]:
            for data in creation:
                s.receive(data, NOW)
        readers.append(reader)
        outs.append([senders[i % len(senders)].send_text(f"message {i} " + "x" * 60, NOW).data for i in range(messages)])
    times: list[list[float]] = [[] for _ in sizes]
    for i in range(messages):
        for k, reader in enumerate(readers):
            t0 = time.perf_counter()
            reader.receive(outs[k][i], NOW)
            times[k].append(time.perf_counter() - t0)
    base = statistics.median(times[0])
    for n, t in zip(sizes, times):
        med = statistics.median(t)
        print(f"  {n:>5} members  {med * 1e6:8.1f} us   ratio to {sizes[0]} members {med / base:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--messages", type=int, default=200)
    a = ap.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, PyNaCl {nacl.__version__} (its libsodium)")
    bench_kick(a.members, a.rounds)
    bench_receive([10, 100, a.members], a.messages)


if __name__ == "__main__":
    main()
