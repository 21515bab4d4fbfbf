"""Attachment transfer through 3-hop onion paths vs direct HTTP to the same file server, and the
sender's memory while a 100 MB file goes out; on a loopback devnet (nodes, file server and this
client share the machine's cores).

    python benches/bench_attachments.py [--nodes 6] [--mb 50] [--big-mb 100] [--concurrency 2]
                                        [--rounds 3] [--default-malloc]

The devnet's processes keep large malloc blocks for reuse (``keep_large_buffers``, as every
``run`` command does); so does this client process unless ``--default-malloc``.

Prints, all measured in this run:
  * direct: upload + download of the file by plain HTTP to the file server (the baseline);
  * onion: the same through 3-hop onion paths (guard -> relay -> exit -> server), and the ratio;
  * where the CPU went: CPU-milliseconds per MB of file, per process (client, the nodes together, the
    file server), read from /proc/PID/stat around each upload and download.  On a shared,
    loaded machine this is a steadier figure than MB/s, and it says which process to make
    cheaper;
  * the peak of Python allocations (tracemalloc) and of RSS above the baseline while sending
    a --big-mb file through the onion (targets: >= 5 MB/s, ratio >= 50 %, < 64 MB over baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.attachments import FileServerRef  # noqa: E402
from session_core.client.files import DirectLink, FileTransfer, OnionLink  # noqa: E402
from session_core.client.onion_client import OnionClient  # noqa: E402
from session_core.client.paths import PathPool  # noqa: E402
from session_core.client.snode import Snode  # noqa: E402
from session_core.client.transport import HttpTransport  # noqa: E402
from session_core.devnet.launcher import Devnet, DevnetOptions  # noqa: E402
from session_core.devnet.process import keep_large_buffers  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssPeak:
    """Samples this process's RSS every 5 ms in a thread; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssPeak:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


class CpuMeter:
    """CPU time of named groups of processes; ``take()`` snapshots, ``diff`` subtracts."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def take(self) -> dict[str, float]:
        return {g: sum(cpu_seconds(p) for p in pids) for g, pids in self.groups.items()}

    @staticmethod
    def diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        return {g: b[g] - a[g] for g in a}


async def round_trip(ft: FileTransfer, server: FileServerRef, src: Path, dest: Path,
                     meter: CpuMeter) -> tuple[float, float, dict[str, float], dict[str, float]]:
    c0 = meter.take()
    t0 = time.perf_counter()
    pointer = await ft.upload_file(src, server)
    t1 = time.perf_counter()
    c1 = meter.take()
    saved = await ft.download(pointer, dest)
    t2 = time.perf_counter()
    c2 = meter.take()
    assert saved.stat().st_size == src.stat().st_size
    with open(saved, "rb") as a, open(src, "rb") as b:
        while True:
            x, y = a.read(1 << 22), b.read(1 << 22)
            assert x == y, "downloaded file differs"
            if not x:
                break
    saved.unlink()
    return t1 - t0, t2 - t1, CpuMeter.diff(c0, c1), CpuMeter.diff(c1, c2)


def cpu_line(cpu: dict[str, float], mb: float) -> str:
    return "  ".join(f"{g} {cpu[g] / mb * 1000:5.1f}" for g in cpu) + f"  | all {sum(cpu.values()) / mb * 1000:5.1f}"


def make_file(path: Path, mb: int) -> None:
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1_000_000))


async def run(nodes: int, mb: int, big_mb: int, concurrency: int, rounds: int, kept: bool) -> None:
    d = Path(tempfile.mkdtemp(prefix="bench-attach-"))
    net = Devnet(d / "devnet")
    await asyncio.to_thread(net.up, DevnetOptions(d / "devnet", nodes=nodes, difficulty=1, block_interval=1.0,
                                                  fileserver=True))
    transport = HttpTransport()
    direct: DirectLink | None = None
    try:
        assert net.fileserver is not None
        server = FileServerRef.parse(net.fileserver["client_url"])
        pool = PathPool(random.Random(1))
        pool.set_nodes(Snode(n["ed25519"], n["x25519"], n["ip"], n["http_port"]) for n in net.nodes)
        oc = OnionClient(transport, pool, timeout=60)
        direct = DirectLink(server)
        onion_ft = FileTransfer(lambda s: OnionLink(oc, s), concurrency=concurrency)
        direct_ft = FileTransfer(lambda s: direct, concurrency=concurrency)  # type: ignore[arg-type,return-value]
        # Memory first, while this process has moved no data yet: once malloc keeps freed
        # buffers for reuse, a baseline taken after the throughput rounds would hide them.
        big = d / "big.bin"
        make_file(big, big_mb)
        base_rss = rss_bytes()
        with RssPeak() as peak:
            t0 = time.perf_counter()
            await onion_ft.upload_file(big, server)
            t_rss = time.perf_counter() - t0
        tracemalloc.start()
        base_py = tracemalloc.get_traced_memory()[0]
        await onion_ft.upload_file(big, server)
        py_peak = tracemalloc.get_traced_memory()[1] - base_py
        tracemalloc.stop()
        big.unlink()
        src = d / "file.bin"
        make_file(src, mb)
        size = src.stat().st_size
        print(f"{nodes} nodes + file server on loopback, {mb} MB file, {concurrency} chunks in flight, "
              f"{os.cpu_count()} CPUs; malloc keeps large buffers: {kept} (nodes and file server: as `run` sets)")
        meter = CpuMeter({
            "client": [os.getpid()],
            "nodes": [p.pid for name, p in net.procs.items() if name.startswith("node-")],
            "fileserver": [net.procs["fileserver"].pid],
        })
        results: dict[str, list[float]] = {"direct": [], "onion": []}
        # CPU-ms per MB moved, per process group: the lowest of the rounds (least disturbed).
        cpu: dict[tuple[str, str], dict[str, float]] = {}
        for r in range(rounds):  # interleaved, so drift hits both alike
            for label, ft in (("direct", direct_ft), ("onion", onion_ft)):
                up, down, cpu_up, cpu_down = await round_trip(ft, server, src, d / "got", meter)
                results[label].append(up + down)
                for way, c in (("upload", cpu_up), ("download", cpu_down)):
                    prev = cpu.get((label, way))
                    if prev is None or sum(c.values()) < sum(prev.values()):
                        cpu[(label, way)] = c
                print(f"  round {r + 1} {label:6}: upload {size / up / 1e6:6.1f} MB/s, download {size / down / 1e6:6.1f} MB/s,"
                      f" both {2 * size / (up + down) / 1e6:6.1f} MB/s")
        best = {k: min(v) for k, v in results.items()}
        rate = {k: 2 * size / t / 1e6 for k, t in best.items()}
        print(f"best of {rounds}: direct {rate['direct']:.1f} MB/s, onion (3 hops) {rate['onion']:.1f} MB/s "
              f"(upload+download of {mb} MB); onion/direct = {rate['onion'] / rate['direct'] * 100:.0f} %"
              f"  [targets: onion >= 5 MB/s, >= 50 %]")
        print(f"CPU-ms per MB of file, per process group (lowest of {rounds} rounds; nodes = all {nodes} together):")
        for (label, way), c in sorted(cpu.items()):
            print(f"  {label:6} {way:8}: {cpu_line(c, size / 1e6)}")
        onion_all = sum(sum(cpu[("onion", w)].values()) for w in ("upload", "download"))
        direct_all = sum(sum(cpu[("direct", w)].values()) for w in ("upload", "download"))
        print(f"  onion/direct CPU per MB (upload+download): {onion_all / direct_all:.2f}x")
        print(f"sending {big_mb} MB through the onion ({big_mb * 1e6 / t_rss / 1e6:.1f} MB/s): peak RSS "
              f"{(peak.peak - base_rss) / 2**20:.1f} MiB over the baseline of {base_rss / 2**20:.0f} MiB; "
              f"peak Python allocations {py_peak / 2**20:.1f} MiB  [target < 64 MB]")
        src.unlink()
    finally:
        if direct is not None:
            await direct.close()
        await transport.close()
        await asyncio.to_thread(net.down)
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave this (client) process's malloc as it is instead of keep_large_buffers()")
    ap.add_argument("--nodes", type=int, default=6)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    kept = False if a.default_malloc else keep_large_buffers()
    asyncio.run(run(a.nodes, a.mb, a.big_mb, a.concurrency, a.rounds, kept))


if __name__ == "__main__":
    main()
