"""Client send->receive latency (async via the swarm with PoW, sync via listening nodes) and the
sustained async send rate, on a loopback devnet at difficulty 1 (default 12 nodes).

    python benches/bench_client.py [--nodes 12] [--messages 30] [--long-poll-ms 15000] [--trace]

Prints p50/p99 per route and, as a same-run baseline, the p50 of one bare onion round trip
(`info` through a 3-hop path) so the ratios say how much the messaging layers add on top.
The async row is also given without the sender's proof-of-work time (issue 19 targets:
sync p50 <= 4x, async without PoW p50 <= 6x the baseline).  ``--long-poll-ms 0`` measures
plain polling (retrieve every 100 ms, mailbox every 50 ms) instead of long-polls.
Everything runs on this machine (nodes and both clients share its cores).
``--trace`` also prints where the time of a sync message goes, phase by phase
(session_core/bench/sync_trace.py: timestamps from wrappers on the two client instances).
"""

from __future__ import annotations

import argparse
import shutil
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.bench.sync_trace import Tracer, breakdown, instrument
from session_core.client import Client, ClientConfig
from session_core.devnet.launcher import Devnet, DevnetOptions
from session_core.identity import Identity


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def run(nodes: int, n: int, long_poll_ms: int, trace: bool = False) -> None:
    d = Path(tempfile.mkdtemp(prefix="bench-client-"))
    net = Devnet(d / "devnet")
    await asyncio.to_thread(net.up, DevnetOptions(d / "devnet", nodes=nodes, difficulty=1, block_interval=1.0))
    clients: list[Client] = []
    try:
        def mk(name: str, sync: bool) -> Client:
            c = Client(Identity.generate(), name, ClientConfig([net.chain_url], d / name, poll_interval=0.1,
                                                               listen_interval=0.05, sync=sync,
                                                               long_poll_ms=long_poll_ms))
            clients.append(c)
            return c

        async def pair(sync: bool) -> tuple[Client, Client]:
            a, b = mk(f"a-{sync}", sync), mk(f"b-{sync}", sync)
            await asyncio.gather(a.start(), b.start())
            await a.send_friend_request(b.session_id, "hi")
            await b.next_event(lambda e: e.kind == "request", 30)
            await b.accept(a.session_id)
            await a.next_event(lambda e: e.kind == "accepted", 30)
            return a, b

        async def bare(c: Client) -> float:
            dest = c.rng.choice(c.nodelist.nodes)
            t0 = time.perf_counter()
            await c.oc.request(dest, "info", {})
            return time.perf_counter() - t0

        async def latency(a: Client, b: Client, label: str, want: str,
                          tr: Tracer | None = None) -> dict[str, list[float]]:
            # "done": until the receiver shows it and send_text returned (on the sync route that is
            # after the receiver's ack came back); "shown": until the receiver emits it (its
            # on_event callback, where an app shows it); "queued": until a task awaiting the
            # receiver's event queue has it (later by whatever the event loop runs first); "no_pow":
            # "done" less the sender's proof-of-work time; "base": a bare onion round trip measured
            # just before each sample (the machine's load changes during a run)
            out: dict[str, list[float]] = {"done": [], "shown": [], "queued": [], "no_pow": [], "base": []}
            emitted: dict[str, float] = {}
            b.on_event = lambda e: emitted.setdefault(e.text, time.perf_counter())
            for i in range(n):
                out["base"].append(await bare(a))
                t0 = time.perf_counter()

                async def shown(i: int = i) -> float:
                    await b.next_event(lambda e: e.text == f"{label} {i}", 30)
                    return time.perf_counter()

                if tr is not None:
                    tr.start()
                sent, t_shown = await asyncio.gather(a.send_text(b.session_id, f"{label} {i}"), shown())
                if tr is not None:
                    tr.finish()
                if sent.route == want:
                    dt = time.perf_counter() - t0
                    out["done"].append(dt)
                    out["shown"].append(emitted[f"{label} {i}"] - t0)
                    out["queued"].append(t_shown - t0)
                    out["no_pow"].append(dt - (sent.store.pow_s if sent.store is not None else 0.0))
            return out

        a, b = await pair(sync=False)
        lat_async = await latency(a, b, "async", "async")
        t0 = time.perf_counter()
        reps = await asyncio.gather(*(a.send_text(b.session_id, f"burst {i}") for i in range(n)))
        rate = len(reps) / (time.perf_counter() - t0)
        await asyncio.gather(a.stop(), b.stop())
        clients.clear()
        a, b = await pair(sync=True)
        await a.send_text(b.session_id, "hello")
        await a.next_event(lambda e: e.kind == "status", 30)
        tracer = Tracer() if trace else None
        if tracer is not None:
            instrument(tracer, a, b)
        lat_sync = await latency(a, b, "sync", "sync", tracer)
        how = f"long-poll {long_poll_ms} ms" if long_poll_ms else "poll interval 100 ms, mailbox 50 ms"
        print(f"devnet: {nodes} nodes, difficulty 1, {n} messages per row ({how})")
        print("each row's ratio is to the p50 of bare 3-hop onion round trips (info) interleaved with its samples")
        base_async, base_sync = lat_async["base"], lat_sync["base"]
        rows = (("async send->receive (swarm, PoW)", lat_async["done"], base_async),
                ("async send->receive less PoW", lat_async["no_pow"], base_async),
                ("async send->shown to receiver", lat_async["shown"], base_async),
                ("sync send->shown to receiver", lat_sync["shown"], base_sync),
                ("sync send->receiver's queue consumer", lat_sync["queued"], base_sync),
                ("sync send->receive + ack at sender", lat_sync["done"], base_sync))
        for label, base in (("baseline during async rows", base_async), ("baseline during sync rows", base_sync)):
            print(f"{label:38} p50 {pct(base, 50) * 1000:7.1f} ms  p99 {pct(base, 99) * 1000:7.1f} ms")
        for label, xs, base in rows:
            b0 = statistics.median(base)
            if xs:
                print(f"{label:38} p50 {pct(xs, 50) * 1000:7.1f} ms  p99 {pct(xs, 99) * 1000:7.1f} ms  "
                      f"= {pct(xs, 50) / b0:5.1f}x baseline (p99 {pct(xs, 99) / b0:5.1f}x)  (n={len(xs)})")
            else:
                print(f"{label:38} no sample took this route")
        print(f"sustained async send rate (concurrent sends, one client): {rate:.1f} msg/s")
        if tracer is not None:
            print(f"where a sync message's time goes (median / p90 of {len(tracer.done)} traced messages):")
            for phase, med, p90, k in breakdown(tracer.done):
                print(f"  {phase:40} {med:6.2f} ms  p90 {p90:6.2f} ms  (n={k})")
    finally:
        for c in clients:
            await c.stop()
        await asyncio.to_thread(net.down)
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--messages", type=int, default=30)
    ap.add_argument("--long-poll-ms", type=int, default=15_000)
    ap.add_argument("--trace", action="store_true", help="print where a sync message's time goes")
    args = ap.parse_args()
    asyncio.run(run(args.nodes, args.messages, args.long_poll_ms, args.trace))


if __name__ == "__main__":
    main()
