"""Node throughput and latency vs a trivial aiohttp endpoint, in one run (ratios).

Same as ``session-core node bench``; see ``session_core/bench/node_bench.py`` for what is measured.
Usage: python benches/bench_node.py [requests] [concurrency] [nodes]
"""

from __future__ import annotations

import sys

from session_core.bench.node_bench import main

if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    main(*args)
