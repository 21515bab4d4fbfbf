"""Onion build/peel vs the libsodium primitive sum and the PyNaCl baseline, same run.

    python benches/bench_onion.py [--quick] [--rounds N] [--only table|scaling]
                                  [--sodium pynacl|system|PATH] [--json]

(the same as ``session-core onion bench``; the code is in session_core/bench/onion_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

if __package__ in (None, ""):  # run as a script from a checkout: import the tree's package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from session_core.bench.onion_bench import format_table, run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="onion build/peel benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (rough figures)")
    parser.add_argument("--sodium", help="pynacl | system | path (default: what onion uses)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds, best kept (default 50; --quick 10)")
    parser.add_argument("--only", choices=("table", "scaling"), help="run one part only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, sodium=args.sodium, only=args.only, rounds=args.rounds)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main(sys.argv[1:])
