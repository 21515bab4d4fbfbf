"""Swarm lookup and assignment benchmark: prints keys/s and ratios vs baselines of the same run.

Usage: python benches/bench_swarm.py [--swarms 10000] [--keys 1000000] [--repeat 5] [--nodes 10000]
(the same as `session-core swarm bench`).
"""

from __future__ import annotations

import argparse

from session_core.bench.swarm_bench import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--swarms", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    run(args.swarms, args.keys, args.repeat, args.nodes)


if __name__ == "__main__":
    main()
