"""Proof-of-work benchmark (same as `session-core pow bench`).

    python benches/bench_pow.py [--quick] [--json]

Prints trials/s of every kernel this CPU runs next to baselines measured in the
same run (hashlib loop, C loops over OpenSSL and libsodium SHA-512), thread
scaling, verify() cost, and the ratios the project aims for.
"""

import json
import sys
from dataclasses import asdict

from session_core.bench.pow_bench import format_report, run

if __name__ == "__main__":
    report = run(quick="--quick" in sys.argv, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(asdict(report), indent=2) if "--json" in sys.argv else format_report(report))
