"""Pure-Python proof-of-work backend: the reference the C kernels are tested against.

Same interface as the compiled ``session_core.pow._pow_c``.  Correct on every
platform and slow (hashlib runs about 2 M trials/s and holds the GIL for
72-byte inputs, so extra threads do not help here).
"""

from __future__ import annotations

import hashlib
import threading

from session_core.errors import ExtensionUnavailableError, InvalidInputError

_U64 = (1 << 64) - 1
_NO_HIT = _U64


def kernels() -> list[tuple[str, int, bool]]:
    return [("python", 1, True)]


def supported_kernels() -> list[str]:
    return ["python"]


def best_kernel() -> str:
    return "python"


def _check_kernel(kernel: str | None) -> None:
    if kernel not in (None, "python"):
        raise ExtensionUnavailableError(
            f"PoW kernel {kernel!r} is not available in the pure-Python backend"
        )


def _check_h1(h1: bytes) -> None:
    if len(h1) != 64:
        raise InvalidInputError(f"h1 must be 64 bytes (a SHA-512 digest), got {len(h1)}")


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def trial_hash(h1: bytes, nonce: int) -> bytes:
    """H = SHA512(nonce_be8 || h1), all 64 bytes."""
    _check_h1(h1)
    return hashlib.sha512((nonce & _U64).to_bytes(8, "big") + h1).digest()


def payload_trial_value(payload: bytes, nonce: int) -> int:
    """First 8 bytes of SHA512(nonce || SHA512(payload)) as an integer."""
    h1 = hashlib.sha512(payload).digest()
    return int.from_bytes(hashlib.sha512(nonce.to_bytes(8, "big") + h1).digest()[:8], "big")


def payload_trial_hash(payload: bytes, nonce: int) -> bytes:
    """H = SHA512(nonce_be8 || SHA512(payload)), all 64 bytes (verify and hash in one pass)."""
    return hashlib.sha512((nonce & _U64).to_bytes(8, "big") + hashlib.sha512(payload).digest()).digest()


def scan(h1: bytes, target: int, first: int, count: int, kernel: str | None = None) -> int | None:
    """Offset of the first hit among nonces first..first+count-1 (mod 2^64), or None."""
    _check_kernel(kernel)
    _check_h1(h1)
    sha = hashlib.sha512
    for offset in range(count):
        nonce = (first + offset) & _U64
        if int.from_bytes(sha(nonce.to_bytes(8, "big") + h1).digest()[:8], "big") < target:
            return offset
    return None


class Search:
    """A search shared by threads, answering the first valid nonce from *start*.

    Mirrors csrc/pow_search.c: workers claim blocks in increasing order and a
    hit stops claims beyond it, so the answer never depends on the thread count.
    """

    def __init__(
        self,
        h1: bytes,
        target: int,
        start: int = 0,
        span: int = 0,
        block: int = 1024,
        kernel: str | None = None,
    ) -> None:
        _check_kernel(kernel)
        _check_h1(h1)
        self.kernel = "python"
        self._h1 = bytes(h1)
        self._target = target
        self._start = start
        self._span = span or (1 << 64)
        self._block = block or 1024
        self._lock = threading.Lock()
        self._next = 0
        self._found = _NO_HIT
        self._trials = 0
        self._stop = False

    def work(self, max_blocks: int = 0) -> None:
        claimed = 0
        while not self._stop and (not max_blocks or claimed < max_blocks):
            claimed += 1
            with self._lock:
                offset = self._next
                self._next += self._block
                if offset >= self._span or offset >= self._found:
                    return
            count = min(self._block, self._span - offset)
            hit = scan(self._h1, self._target, self._start + offset, count)
            with self._lock:
                self._trials += count if hit is None else hit + 1
                if hit is not None:
                    self._found = min(self._found, offset + hit)
                    return

    @property
    def exhausted(self) -> bool:
        return self._next >= self._span

    def cancel(self) -> None:
        self._stop = True

    def result(self) -> tuple[int, int | None]:
        if self._found != _NO_HIT:
            return 1, (self._start + self._found) & _U64
        return (-1, None) if self._stop else (0, None)

    @property
    def trials(self) -> int:
        return self._trials
