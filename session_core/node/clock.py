"""The node's wall clock, in the milliseconds every message field uses."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
