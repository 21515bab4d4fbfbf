"""Right PIN vs duress PIN: is the time to the answer the same?

    python benches/bench_pin_timing.py [--trials 1000] [--opslimit 2] [--memlimit-mib 8]

Each trial unlocks a fresh profile (identity.json, pin.json, a 256 KiB client.db, nodes.json)
with the right PIN, the duress PIN or a wrong PIN, in an interleaved random order, timing
``PinLock.decide`` (the constant-work part: one Argon2id, both slots tried) and the whole
``PinLock.unlock`` (the right PIN: the identity; the duress PIN: that plus the wipe of the
profile: a rename, then overwriting in a background thread).  Profile setup is outside the timings.  Prints medians and the right-minus-duress
differences; the design goal (issue 18) is medians within 5 ms.  The Argon2id cost is lower than
the profile default (interactive: ~0.25 s) so 3 000 trials finish in a couple of minutes; the
work is the same on every path, so the cost scales both sides equally.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.client.pin import PinLock  # noqa: E402
from session_core.errors import ProfileNotFoundError, WrongPinError  # noqa: E402
from session_core.identity import Identity  # noqa: E402
from session_core.identity_store import ProfileStore  # noqa: E402


def make_profile(home: Path, name: str, ident: Identity, ops: int, mem: int) -> PinLock:
    store = ProfileStore(home, opslimit=ops, memlimit=mem)
    store.create(name, ident, "passphrase")
    d = store.profile_dir(name)
    (d / "client.db").write_bytes(os.urandom(256 * 1024))
    (d / "nodes.json").write_bytes(os.urandom(8 * 1024))
    lock = PinLock(d)
    lock.set(ident, "2580", "1397", opslimit=ops, memlimit=mem)
    return lock


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--opslimit", type=int, default=2)
    ap.add_argument("--memlimit-mib", type=int, default=8)
    args = ap.parse_args()
    ops, mem = args.opslimit, args.memlimit_mib * 1024 * 1024
    ident = Identity.generate()
    decide: dict[str, list[float]] = {"right": [], "duress": [], "wrong": []}
    whole: dict[str, list[float]] = {"right": [], "duress": [], "wrong": []}
    pins = {"right": "2580", "duress": "1397", "wrong": "0000"}
    order = [k for k in pins for _ in range(args.trials)]
    random.shuffle(order)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        home = Path(tmp)
        for i, kind in enumerate(order):
            lock = make_profile(home, f"p{i}", ident, ops, mem)
            t0 = time.perf_counter()
            lock.decide(pins[kind])
            decide[kind].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            try:
                lock.unlock(pins[kind])
            except (ProfileNotFoundError, WrongPinError):
                pass
            whole[kind].append(time.perf_counter() - t0)
            lock.wait_wiped()  # the background wipe must not overlap the next trial
            if lock.profile_dir.exists():
                import shutil

                shutil.rmtree(lock.profile_dir)
    print(f"CPU: {platform.processor() or platform.machine()}; Argon2id opslimit={ops} memlimit={args.memlimit_mib} MiB; "
          f"{args.trials} trials per PIN, interleaved at random; temp dir {os.environ.get('BENCH_TMP') or tempfile.gettempdir()}")
    for label, data in (("decide (one Argon2id, both slots)", decide), ("unlock (duress includes the wipe)", whole)):
        med = {k: statistics.median(v) * 1000 for k, v in data.items()}
        # A/A control: the right-PIN trials split in two at random; the gap between their medians
        # is what noise alone does on this (shared) machine.
        aa = data["right"][:]
        random.shuffle(aa)
        noise = (statistics.median(aa[: len(aa) // 2]) - statistics.median(aa[len(aa) // 2:])) * 1000
        print(f"{label}: median right {med['right']:.3f} ms, duress {med['duress']:.3f} ms, wrong {med['wrong']:.3f} ms;"
              f" right-duress {med['right'] - med['duress']:+.3f} ms, right/duress {med['right'] / med['duress']:.4f};"
              f" A/A noise (right vs right) {noise:+.3f} ms")


if __name__ == "__main__":
    main()
