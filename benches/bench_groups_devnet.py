"""Closed groups on a loopback devnet: send-to-all-received latency against a 1:1 async message,
and a kick + rekey of a large group through the real store path.

    python benches/bench_groups_devnet.py [--nodes 12] [--size 1000] [--live 10] [--messages 20]
                                          [--long-poll-ms 15000]

The admin creates a group of ``--size`` members (identities generated here); ``--live`` of them
run as in-process clients receiving the group swarm through onion paths with the client's
receiving loops (:meth:`Groups.start`): held ``retrieve`` requests (long-poll, ``--long-poll-ms``)
woken by the group store, or with ``--long-poll-ms 0`` a poll round every 100 ms.  Rows:

* 1:1 async send->receive (baseline, same run): a text stored in the recipient's swarm with
  PoW, the recipient receiving with the same ``--long-poll-ms`` (poll interval 100 ms).
* group send -> received by ALL live members: one store into the group swarm.  Samples
  alternate with the baseline's so drift hits both.
  Target (issue 14): p50 within 1.5x the 1:1 p50.
* kick + rekey at ``--size`` members: the admin's kick (one record) through onion + PoW + store,
  then the time until every remaining live member applied the new generation.

Everything (nodes and clients) shares this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.client import Client, ClientConfig  # noqa: E402
from session_core.client.groups import GroupEvent, Groups  # noqa: E402
from session_core.devnet.launcher import Devnet, DevnetOptions  # noqa: E402
from session_core.identity import Identity  # noqa: E402

POLL = 0.1


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class LiveMember:
    """A client receiving one group with its background loops, noting when each text arrived."""

    def __init__(self, client: Client, gid: str) -> None:
        self.client, self.gid = client, gid
        self.groups = Groups(client)
        self.groups.join(gid)
        self.arrived: dict[str, float] = {}
        self.generations: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None

    async def loop(self) -> None:
        self.groups.start()
        try:
            while True:
                self._note(await self.groups.events.get())
        finally:
            await self.groups.stop()

    def _note(self, e: GroupEvent) -> None:
        now = time.perf_counter()
        if e.kind == "message":
            self.arrived.setdefault(e.text, now)
        elif e.kind == "members":
            self.generations.setdefault(e.generation, now)


async def wait_for(pred, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > deadline:
            raise TimeoutError("timed out")
        await asyncio.sleep(0.005)


async def run(nodes: int, size: int, live: int, n: int, long_poll_ms: int) -> None:
    d = Path(tempfile.mkdtemp(prefix="bench-groups-"))
    net = Devnet(d / "devnet")
    await asyncio.to_thread(net.up, DevnetOptions(d / "devnet", nodes=nodes, difficulty=1, block_interval=1.0))
    clients: list[Client] = []
    members: list[LiveMember] = []
    try:
        def mk(name: str, identity: Identity | None = None, loops_poll: float = POLL) -> Client:
            c = Client(identity or Identity.generate(), name,
                       ClientConfig([net.chain_url], d / name, poll_interval=loops_poll, sync=False,
                                    long_poll_ms=long_poll_ms))
            clients.append(c)
            return c

        # 1:1 baseline pair (its own poll loop at the same interval).
        a, b = mk("a"), mk("b")
        await asyncio.gather(a.start(), b.start())
        await a.send_friend_request(b.session_id, "hi")
        await b.next_event(lambda e: e.kind == "request", 30)
        await b.accept(a.session_id)
        await a.next_event(lambda e: e.kind == "accepted", 30)

        # The group: admin + `size - 1` members, of whom `live` run as clients.
        admin = mk("admin")
        await admin.start(loops=False)
        ga = Groups(admin)
        live_ids = [Identity.generate() for _ in range(live)]
        others = [Identity.generate().session_id for _ in range(size - 1 - live)]
        t0 = time.perf_counter()
        gid, reps = await ga.create([i.session_id for i in live_ids] + others)
        create_s = time.perf_counter() - t0
        for i, ident in enumerate(live_ids):
            c = mk(f"m{i}", ident)
            await c.start(loops=False)
            members.append(LiveMember(c, gid))
        for m in members:
            m.task = asyncio.get_running_loop().create_task(m.loop())
        await wait_for(lambda: all(0 in m.generations for m in members))

        one, grp, one_store, grp_store, first, each = [], [], [], [], [], []
        for i in range(n):
            t0 = time.perf_counter()
            await a.send_text(b.session_id, f"one {i}")
            one_store.append(time.perf_counter() - t0)
            await b.next_event(lambda e, i=i: e.text == f"one {i}", 30)  # type: ignore[misc]
            one.append(time.perf_counter() - t0)
            text = f"group {i}"
            t0 = time.perf_counter()
            await ga.send(gid, text)
            grp_store.append(time.perf_counter() - t0)
            await wait_for(lambda: all(text in m.arrived for m in members))
            grp.append(max(m.arrived[text] for m in members) - t0)
            first.append(min(m.arrived[text] for m in members) - t0)
            each += [m.arrived[text] - t0 for m in members]  # every member's own latency

        victim = live_ids[-1].session_id
        t0 = time.perf_counter()
        (rep,) = await ga.kick(gid, [victim])
        kick_store = time.perf_counter() - t0
        stay = members[:-1]
        await wait_for(lambda: all(1 in m.generations for m in stay))
        kick_all = max(m.generations[1] for m in stay) - t0
        g = ga.get(gid)
        for i in range(3):  # the kicked member keeps polling the same swarm meanwhile
            await ga.send(gid, f"after {i}")
        await wait_for(lambda: all(f"after {i}" in m.arrived for m in stay for i in range(3)))
        await asyncio.sleep(3 * POLL)

        print(f"devnet: {nodes} nodes, difficulty 1; group of {size} members, {live} live in-process; "
              + (f"long-poll (wait {long_poll_ms} ms)" if long_poll_ms else f"poll every {POLL * 1000:.0f} ms")
              + f"; {n} samples per row")
        print(f"create: {create_s:.2f} s for the key message + roster of {size} through onion + PoW + store")
        b50 = pct(one, 50)
        print(f"1:1 async send->receive (baseline)        p50 {b50 * 1000:7.1f} ms  p99 {pct(one, 99) * 1000:7.1f} ms")
        g50 = pct(grp, 50)
        print(f"group send->received by all {live:3} live     p50 {g50 * 1000:7.1f} ms  p99 {pct(grp, 99) * 1000:7.1f} ms"
              f"  = {g50 / b50:.2f}x baseline (target <= 1.5x)")
        print(f"  of which the store: 1:1 p50 {pct(one_store, 50) * 1000:.1f} ms, group p50 {pct(grp_store, 50) * 1000:.1f} ms; "
              f"group received by the first live member p50 {pct(first, 50) * 1000:.1f} ms, "
              f"by a live member (all members' samples) p50 {pct(each, 50) * 1000:.1f} ms")
        print(f"kick + rekey at {size}: record stored in {kick_store * 1000:.0f} ms (stored on {len(rep.stored_on)} nodes), "
              f"all {len(stay)} remaining live members on generation {g.generation} after {kick_all * 1000:.0f} ms")
        kicked = members[-1].groups
        print(f"the kicked live member (still polling): {'removed' if kicked.get(gid).removed_at is not None else 'not told'}; "
              f"messages it read after the kick: {sum(1 for t in members[-1].arrived if t.startswith('after'))} of 3; "
              f"records it refused: {kicked.stats.refused_kinds}")
        print(f"median group sample {statistics.median(grp) * 1000:.1f} ms, median 1:1 sample {statistics.median(one) * 1000:.1f} ms")
    finally:
        for m in members:
            if m.task is not None:
                m.task.cancel()
        for c in clients:
            await c.stop()
        await asyncio.to_thread(net.down)
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--live", type=int, default=10)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--long-poll-ms", type=int, default=ClientConfig.long_poll_ms,
                    help="how long nodes may hold a retrieve; 0: poll rounds every 100 ms")
    a = ap.parse_args()
    asyncio.run(run(a.nodes, a.size, a.live, a.messages, a.long_poll_ms))


if __name__ == "__main__":
    main()
