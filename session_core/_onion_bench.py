"""Onion build/peel benchmark: ours (C on libsodium) vs the sum of the libsodium primitive
costs it uses and vs the PyNaCl/cryptography reference, all measured in the same run.

Used by ``session-core onion bench`` and ``benches/bench_onion.py``.

Noise on a shared machine: single-thread figures are thread CPU time (Python's
time.thread_time and C's CLOCK_THREAD_CPUTIME_ID, one clock for both sides of every
ratio), each the minimum over several rounds of the mean of a batch, with the rounds of
all contenders interleaved.  Thread scaling is wall-clock time, the only honest clock for
it, again best of alternating rounds.  The primitive sum is what the work costs in libsodium with no framing,
JSON, Python or allocation at all: the speed of light for this design.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import nacl.bindings


from session_core import _onion_py, onion

PRIM_KEYGEN, PRIM_X25519, PRIM_KDF, PRIM_NONCE, PRIM_ENCRYPT, PRIM_DECRYPT = range(6)
SIZES = (100, 1024, 65536)


def _per_call(fn: Callable[[], object], n: int) -> float:
    """Seconds of this thread's CPU time per call: the clock the C primitive timings read
    (CLOCK_THREAD_CPUTIME_ID), so both sides of a ratio use one clock, and time the
    machine spends on other processes is not charged to either."""
    t0 = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - t0) / n


def _wall(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock seconds of one call, and the process CPU seconds it used (all threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _layer_sizes(body: bytes, secrets: list[bytes], payload_len: int) -> list[int]:
    """Plaintext length of every layer, guard first, by peeling one onion."""
    sizes, hop = [], 0
    for sk in secrets:
        step = onion.peel(body, sk, hop=hop)
        if isinstance(step, onion.Relay):
            sizes.append(len(step.body))
            body, hop = step.body, step.hop
        else:
            sizes.append(4 + payload_len + len(b'{"headers":""}'))
    return sizes


def run(quick: bool = False, hops: int = 3, sodium: str | None = None) -> dict[str, Any]:
    c = onion._c
    if c is None:
        raise SystemExit("the C extension is not built: python setup.py build_ext --inplace")
    lib = c.default if sodium is None else c.load(sodium)
    c_backend, py_backend = onion._Backend(lib), onion._Backend(_onion_py)
    rounds = 3 if quick else 7
    keys = [nacl.bindings.crypto_box_keypair() for _ in range(hops + 1)]
    nodes = [onion.Node(pk.hex(), pk.hex()) for pk, _ in keys]
    secrets = [sk for _, sk in keys]
    saved = onion._backend
    rows = []
    try:
        for enc_type in ("aes-gcm", "xchacha20"):
            enc = 0 if enc_type == "aes-gcm" else 1
            for size in SIZES:
                n = max(3, (60 if quick else 200) * 100 // max(100, size // 64))
                payload = os.urandom(size)
                onion._backend = c_backend
                body, _ = onion.build(payload, nodes[:-1], nodes[-1], enc_type=enc_type)
                layer_pt = _layer_sizes(body, secrets, size)  # guard first
                guard_blob = int.from_bytes(body[:4], "little")
                best: dict[str, float] = {}

                def keep(name: str, value: float) -> None:
                    best[name] = min(best.get(name, float("inf")), value)

                for _ in range(rounds):
                    onion._backend = c_backend
                    keep("build_c", _per_call(lambda: onion.build(payload, nodes[:-1], nodes[-1], enc_type=enc_type), n))
                    keep("peel_c", _per_call(lambda: onion.peel(body, secrets[0]), n))
                    onion._backend = py_backend
                    keep("build_py", _per_call(lambda: onion.build(payload, nodes[:-1], nodes[-1], enc_type=enc_type), n))
                    keep("peel_py", _per_call(lambda: onion.peel(body, secrets[0]), n))
                    m = 4 * n
                    for prim in (PRIM_KEYGEN, PRIM_X25519, PRIM_KDF, PRIM_NONCE):
                        keep(f"p{prim}", lib.bench_primitive(prim, enc, 0, m) / m / 1e9)
                    for i, pt in enumerate(layer_pt):
                        keep(f"enc{i}", lib.bench_primitive(PRIM_ENCRYPT, enc, pt, n) / n / 1e9)
                    keep("dec", lib.bench_primitive(PRIM_DECRYPT, enc, guard_blob - (12 if enc == 0 else 24) - 16, n) / n / 1e9)
                per_layer = best["p0"] + best["p1"] + best["p2"] + best["p3"]
                prim_build = per_layer * len(layer_pt) + sum(best[f"enc{i}"] for i in range(len(layer_pt)))
                prim_peel = best["p1"] + best["p2"] + best["dec"]
                rows.append(
                    {
                        "enc_type": enc_type,
                        "payload": size,
                        "hops": hops,
                        "build_c_us": best["build_c"] * 1e6,
                        "build_prims_us": prim_build * 1e6,
                        "build_py_us": best["build_py"] * 1e6,
                        "peel_c_us": best["peel_c"] * 1e6,
                        "peel_prims_us": prim_peel * 1e6,
                        "peel_py_us": best["peel_py"] * 1e6,
                        "x25519_us": best["p1"] * 1e6,
                    }
                )
        onion._backend = c_backend
        scaling = _peel_many_scaling(nodes, secrets, rounds)
    finally:
        onion._backend = saved
    return {"libsodium": lib.info()["libsodium"], "rows": rows, "peel_many": scaling}


def _peel_many_scaling(nodes: list[onion.Node], secrets: list[bytes], rounds: int) -> dict[str, float]:
    """peel_many on 1 vs 2 threads in wall-clock time, rounds alternating, best of each.

    Also reports the process CPU time per wall second of the best 2-thread round (2.0 =
    both cores busy with this batch) and the load average: on a shared machine a speedup
    below 2 with a CPU/wall well below 2 means the second core was not ours to use.
    """
    batch = [onion.build(os.urandom(100), nodes[:-1], nodes[-1])[0] for _ in range(800)]
    onion.peel_many(batch[:8], secrets[0], threads=2)  # start the pool outside the timing
    one = two = two_cpu = float("inf")
    for _ in range(max(rounds, 5)):
        one = min(one, _wall(lambda: onion.peel_many(batch, secrets[0], threads=1))[0])
        wall, cpu = _wall(lambda: onion.peel_many(batch, secrets[0], threads=2))
        if wall < two:
            two, two_cpu = wall, cpu
    return {
        "batch": len(batch),
        "one_thread_per_s": len(batch) / one,
        "two_threads_per_s": len(batch) / two,
        "speedup": one / two,
        "two_threads_cpu_per_wall": two_cpu / two,
        "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0,
        "cpus": os.cpu_count() or 1,
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"onion, {result['rows'][0]['hops']} hops + destination; C on libsodium = {result['libsodium']}",
        "µs of thread CPU time per call (min over interleaved rounds); 'prims' = sum of the libsodium primitive costs",
        f"{'enc':9} {'payload':>7} | {'build C':>8} {'prims':>8} {'C/prims':>7} {'py':>8} {'py/C':>5} | "
        f"{'peel C':>7} {'prims':>7} {'C/prims':>7} {'py':>7} {'py/C':>5}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['enc_type']:9} {r['payload']:>7} | {r['build_c_us']:8.1f} {r['build_prims_us']:8.1f} "
            f"{r['build_c_us'] / r['build_prims_us']:7.2f} {r['build_py_us']:8.1f} {r['build_py_us'] / r['build_c_us']:5.2f} | "
            f"{r['peel_c_us']:7.1f} {r['peel_prims_us']:7.1f} {r['peel_c_us'] / r['peel_prims_us']:7.2f} "
            f"{r['peel_py_us']:7.1f} {r['peel_py_us'] / r['peel_c_us']:5.2f}"
        )
    s = result["peel_many"]
    lines.append(
        f"peel_many ({s['batch']} guard layers, 100 B, aes-gcm): 1 thread {s['one_thread_per_s']:.0f}/s, "
        f"2 threads {s['two_threads_per_s']:.0f}/s, speedup {s['speedup']:.2f}x (wall clock) on {s['cpus']} CPUs; "
        f"2-thread CPU/wall {s['two_threads_cpu_per_wall']:.2f}, load average {s['loadavg_1min']:.1f}"
    )
    return "\n".join(lines)
