"""Cost of a 1:1 send as the sender's account has 1, 2 or 5 devices (docs/devices.md).

    python benches/bench_devices.py [--sends 40] [--rounds 3]

On the in-memory network (real onion routing, storage RPC and PoW at difficulty 1; no sockets),
Alice's device 1 sends texts to Bob.  Configurations, measured interleaved in one run:

* ``single``    -- a client without multi-device (one store: Bob's swarm): the baseline;
* ``multi xN``  -- multi-device with N devices of the account: Bob's swarm + one sync copy in
  the own swarm, whatever N is (the other devices poll the same swarm);
* ``fan-out xN`` -- an emulation of the 2020 design (whitepaper 5.2.3): a copy per other device,
  i.e. N-1 extra stores, for comparison.

Prints per configuration the median send time and the stores per send, and ratios to ``multi x1``
measured in the same run.  After the run every other device polls and must have received every
sent message once (checked, so the numbers are for sends that really reached them).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.client import Client, ClientConfig  # noqa: E402
from session_core.identity import Identity  # noqa: E402
from session_core.protocol.sent_sync import sync_copy  # noqa: E402
from session_core.testing.memnet import MemNetwork, MemTransport  # noqa: E402


def client(net: MemNetwork, home: Path, name: str, identity: Identity, multi: bool) -> Client:
    cfg = ClientConfig([net.seed_url], home / name, sync=False, multi_device=multi, request_timeout=5.0)
    return Client(identity, name, cfg, transport=MemTransport(net), rng=random.Random(7))


class Setup:
    def __init__(self, label: str, devices: list[Client], fan_out: int = 0) -> None:
        self.label, self.devices, self.fan_out = label, devices, fan_out
        self.times: list[float] = []
        self.store_times: list[float] = []  # the part spent in stores (onions, PoW, nodes)
        self.stores = 0
        self.sent = 0

    async def send(self, bob: str, text: str) -> None:
        sender = self.devices[0]
        calls = 0
        in_store = 0.0
        real_store = sender.router.store

        async def counting(*args: object, **kw: object) -> object:
            nonlocal calls, in_store
            calls += 1
            t = time.perf_counter()
            try:
                return await real_store(*args, **kw)  # type: ignore[arg-type]
            finally:
                in_store += time.perf_counter() - t

        sender.router.store = counting  # type: ignore[method-assign]
        t0 = time.perf_counter()
        await sender.send_text(bob, text)
        for _ in range(self.fan_out):  # the 2020 way: one more copy per other device
            copy = sync_copy(sender.identity, bob, text, sent_ms=sender.clock.now_ms())
            await sender.router.store(sender.session_id, copy.data, copy.ttl_ms)
        self.times.append(time.perf_counter() - t0)
        self.store_times.append(in_store)
        sender.router.store = real_store  # type: ignore[method-assign]
        self.stores += calls
        self.sent += 1


async def befriend(a: Client, bob: Client) -> None:
    await a.send_friend_request(bob.session_id, "hi")
    await bob.poll_swarm()
    await bob.accept(a.session_id)
    await a.poll_swarm()


async def run(sends: int, rounds: int) -> None:
    net = MemNetwork(12)
    home = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    bob = client(net, home, "bob", Identity.generate(), False)
    await bob.start(loops=False)
    setups: list[Setup] = []
    for label, n, multi, fan in [("single", 1, False, 0), ("multi x1", 1, True, 0), ("multi x2", 2, True, 0),
                                 ("multi x5", 5, True, 0), ("fan-out x2", 2, True, 1), ("fan-out x5", 5, True, 4)]:
        ident = Identity.generate()
        devs = [client(net, home, f"{label}-{i}".replace(" ", ""), ident, multi) for i in range(n)]
        for d in devs:
            await d.start(loops=False)
        await befriend(devs[0], bob)
        for d in devs[1:]:
            await d.poll_swarm()  # learn the contact from the config
        setups.append(Setup(label, devs, fan))
    for _ in range(3):  # warm-up: paths, swarm caches
        for s in setups:
            await s.send(bob.session_id, "warm-up")
    for s in setups:
        s.times.clear()
        s.store_times.clear()
        s.stores = s.sent = 0
    order = list(setups)
    for r in range(rounds):
        for i in range(sends):
            random.Random(r * 1000 + i).shuffle(order)  # interleave, so drift hits all alike
            for s in order:
                await s.send(bob.session_id, f"message {r}/{i}")

    # Every other device got every send (plus the warm-ups), once.
    for s in setups:
        if s.label == "single":
            continue
        for d in s.devices[1:]:
            got = []
            while batch := await d.poll_swarm():  # one poll reads at most 10 pages per node
                got += [e for e in batch if e.kind == "sent"]
            want = 3 + rounds * sends
            if s.fan_out:
                want *= 1 + s.fan_out  # the emulated copies are distinct messages: shown again
            assert len(got) == want, (s.label, len(got), want)

    base = next(s for s in setups if s.label == "multi x1")
    base_med, base_store = statistics.median(base.times), statistics.median(base.store_times)
    print(f"{rounds * sends} sends per configuration, in-memory network (12 nodes, PoW difficulty 1)")
    print(f"{'configuration':<14} {'send ms':>8} {'in stores ms':>13} {'stores/send':>12} "
          f"{'send vs multi x1':>17} {'stores vs multi x1':>19}")
    for s in setups:
        med, st = statistics.median(s.times), statistics.median(s.store_times)
        print(f"{s.label:<14} {med * 1000:>8.2f} {st * 1000:>13.2f} {s.stores / s.sent:>12.2f} "
              f"{med / base_med:>16.2f}x {st / base_store:>18.2f}x")
    print("send ms = the whole send_text call (encryption, local database writes, stores); "
          "in stores ms = the part spent storing (PoW, onions, nodes)")
    for c in [bob] + [d for s in setups for d in s.devices]:
        await c.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sends", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    asyncio.run(run(a.sends, a.rounds))


if __name__ == "__main__":
    main()
