"""Running one process until SIGINT/SIGTERM, shared by the chain, node and server commands."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

# glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Blocks up to this size come from the heap, not from a fresh mmap each time (glibc's own
#: ceiling for the setting: 32 MiB on 64-bit, above the largest onion request).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of the heap beyond this goes back to the kernel.
TRIM_THRESHOLD = 64 * 1024 * 1024


def keep_large_buffers() -> bool:
    """Make glibc's malloc reuse freed large blocks instead of handing them back to the kernel.

    Every 4 MiB attachment chunk crosses a process as several fresh buffers (the HTTP body,
    each decrypted layer, the ZMQ frame, ...).  By default glibc serves blocks of that size
    with mmap and unmaps them on free, so each one costs ~1000 page faults and the zeroing of
    its pages: on the onion path that was a third of the CPU per MB (docs/attachments.md).
    With a fixed mmap threshold the blocks come from the heap and are reused; the trim
    threshold bounds what an idle process keeps; one arena for every thread means a block
    freed on the event loop is reused by a worker thread and the other way round, and only
    one heap holds spare blocks (with an arena per thread, the peak RSS of a client sending
    100 MB rose from ~50 to ~61 MiB; with one, ~40 MiB).  Call it before starting threads.
    Returns False (and changes nothing) where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all([mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1, mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1,
                mallopt(_M_ARENA_MAX, 1) == 1])


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]], log_level: str = "INFO") -> None:
    """Run ``main(stop)`` in a fresh event loop; SIGINT/SIGTERM set *stop* for a clean shutdown."""
    keep_large_buffers()
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
