"""The random numbers oxend and the storage server draw: ``std::mt19937_64`` and
``uniform_distribution_portable`` (docs/interop.md §2.4, §4.5).

Both swarm assignment and storage-test pairing must draw *exactly* the numbers
the C++ code draws, so this is a bit-exact MT19937-64 (the standard's
parameters, checked against the standard's own 10000th-output requirement) and
the same rejection sampler, not Python's ``random``.
"""

from __future__ import annotations

from session_core.errors import InvalidInputError

_MASK64 = (1 << 64) - 1
_N = 312
_M = 156
_MATRIX_A = 0xB5026F5AA96619E9
_UPPER = 0xFFFFFFFF80000000
_LOWER = 0x000000007FFFFFFF
_INIT_MULT = 6364136223846793005

MT_MAX = _MASK64
"""``std::mt19937_64::max()``."""


class MT19937_64:
    """``std::mt19937_64`` with a single-integer seed (``std::mt19937_64 rng(seed)``).

    Deterministic by design: never use it for secrets.
    """

    __slots__ = ("_mt", "_index")

    def __init__(self, seed: int = 5489) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= _MASK64:
            raise InvalidInputError(f"mt19937_64 seed must be an integer in [0, 2^64), got {seed!r}")
        mt = [0] * _N
        mt[0] = seed
        for i in range(1, _N):
            prev = mt[i - 1]
            mt[i] = (_INIT_MULT * (prev ^ (prev >> 62)) + i) & _MASK64
        self._mt = mt
        self._index = _N

    def _twist(self) -> None:
        mt = self._mt
        for i in range(_N):
            x = (mt[i] & _UPPER) | (mt[(i + 1) % _N] & _LOWER)
            xa = x >> 1
            if x & 1:
                xa ^= _MATRIX_A
            mt[i] = mt[(i + _M) % _N] ^ xa
        self._index = 0

    def __call__(self) -> int:
        """The next 64-bit output."""
        if self._index >= _N:
            self._twist()
        y = self._mt[self._index]
        self._index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y


def uniform_distribution_portable(rng: MT19937_64, n: int) -> int:
    """A number in ``[0, n)`` drawn the way oxend's ``tools::uniform_distribution_portable`` does.

    Rejection sampling on the raw 64-bit output followed by a division (not a
    modulo), so the consumed outputs and the result match C++ on every platform.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= _MASK64:
        raise InvalidInputError(f"uniform_distribution_portable needs 1 <= n < 2^64, got {n!r}")
    secure_max = MT_MAX - MT_MAX % n
    x = rng()
    while x >= secure_max:
        x = rng()
    return x // (secure_max // n)
