"""Node throughput and latency vs a trivial aiohttp endpoint, in one run (ratios).

Same as ``session-core node bench``; see ``session_core/node/bench.py`` for what is measured.
Usage: python benches/bench_node.py [requests] [concurrency]
"""

from __future__ import annotations

import sys

from session_core.node.bench import main

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, int(sys.argv[2]) if len(sys.argv) > 2 else 16)
