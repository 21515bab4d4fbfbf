"""A node under a slowloris flood, vs the same node idle, in one run (issue 11 item 2).

See ``session_core/bench/slow_clients.py``.  Usage: python benches/bench_slow_clients.py [connections] [rounds]
"""

from __future__ import annotations

import sys

from session_core.bench.slow_clients import main

if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:3]])
