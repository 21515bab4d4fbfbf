# cython: language_level=3
"""Thin binding of csrc/swarm.c: buffer checks, GIL release, errors.

Inputs are validated by session_core.swarm; this layer still checks shapes and
dtypes so a wrong buffer can never reach C.
"""

import numpy as np

from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef extern from "swarm.h" nogil:
    enum: SC_SWARM_SCAN
    enum: SC_SWARM_MAX_BITS
    ctypedef struct sc_swarm_index:
        const uint64_t *ids
        size_t n
        const uint32_t *table
        unsigned bits
    unsigned sc_swarm_default_bits(size_t n)
    int sc_swarm_index_init(sc_swarm_index *idx, const uint64_t *padded_ids, size_t n,
                            uint32_t *table, unsigned bits)
    uint64_t sc_swarm_lookup(const sc_swarm_index *idx, uint64_t space)
    void sc_swarm_lookup_spaces(const sc_swarm_index *idx, const uint64_t *spaces,
                                uint64_t *out, size_t count)
    void sc_swarm_lookup_keys(const sc_swarm_index *idx, const uint8_t *keys, uint64_t *out,
                              size_t count)
    void sc_swarm_baseline_bsearch(const uint64_t *ids, size_t n, const uint64_t *spaces,
                                   uint64_t *out, size_t count)
    void sc_swarm_baseline_linear2020(const uint64_t *ids, size_t n, const uint64_t *spaces,
                                      uint64_t *out, size_t count)


IMPLEMENTATION = "c"
KERNEL = "radix-table"
MAX_BITS = SC_SWARM_MAX_BITS


def default_bits(size_t n):
    return sc_swarm_default_bits(n)


cdef _check_spaces(object spaces):
    if not isinstance(spaces, np.ndarray) or spaces.dtype != np.uint64 or spaces.ndim != 1:
        raise ValueError("spaces must be a 1-D uint64 numpy array")
    return np.ascontiguousarray(spaces)


cdef class Index:
    """Nearest-swarm queries over a sorted, non-empty uint64 array of unique swarm ids."""

    cdef sc_swarm_index _idx
    cdef object _ids        # padded copy owned here: the C index points into it
    cdef object _table
    cdef readonly unsigned bits

    def __cinit__(self, ids, bits=None):
        if not isinstance(ids, np.ndarray) or ids.dtype != np.uint64 or ids.ndim != 1:
            raise ValueError("ids must be a 1-D uint64 numpy array")
        cdef size_t n = ids.shape[0]
        if n == 0 or n >= (1 << 32):
            raise ValueError("an index needs between 1 and 2^32-1 swarm ids")
        if bits is None:
            bits = sc_swarm_default_bits(n)
        if not 1 <= bits <= SC_SWARM_MAX_BITS:
            raise ValueError(f"table bits must be in [1, {SC_SWARM_MAX_BITS}]")
        padded = np.full(n + SC_SWARM_SCAN, np.iinfo(np.uint64).max, dtype=np.uint64)
        padded[:n] = ids
        if n > 1 and not bool(np.all(padded[1:n] > padded[:n - 1])):
            raise ValueError("ids must be sorted ascending and unique")
        table = np.empty((1 << bits) + 1, dtype=np.uint32)
        cdef const uint64_t[::1] ids_v = padded
        cdef uint32_t[::1] table_v = table
        cdef unsigned b = bits
        cdef int rc
        with nogil:
            rc = sc_swarm_index_init(&self._idx, &ids_v[0], n, &table_v[0], b)
        if rc != 0:
            raise ValueError("could not build the swarm index")
        self._ids = padded
        self._table = table
        self.bits = b

    def lookup_one(self, uint64_t space):
        return sc_swarm_lookup(&self._idx, space)

    def lookup_spaces(self, spaces):
        spaces = _check_spaces(spaces)
        cdef size_t count = spaces.shape[0]
        out = np.empty(count, dtype=np.uint64)
        if count == 0:
            return out
        cdef const uint64_t[::1] s_v = spaces
        cdef uint64_t[::1] o_v = out
        with nogil:
            sc_swarm_lookup_spaces(&self._idx, &s_v[0], &o_v[0], count)
        return out

    def lookup_keys(self, keys):
        if (not isinstance(keys, np.ndarray) or keys.dtype != np.uint8 or keys.ndim != 2
                or keys.shape[1] != 32):
            raise ValueError("keys must be an (n, 32) uint8 numpy array")
        keys = np.ascontiguousarray(keys)
        cdef size_t count = keys.shape[0]
        out = np.empty(count, dtype=np.uint64)
        if count == 0:
            return out
        cdef const uint8_t[:, ::1] k_v = keys
        cdef uint64_t[::1] o_v = out
        with nogil:
            sc_swarm_lookup_keys(&self._idx, &k_v[0, 0], &o_v[0], count)
        return out


ctypedef void (*baseline_fn)(const uint64_t *ids, size_t n, const uint64_t *spaces,
                             uint64_t *out, size_t count) noexcept nogil


cdef _run_baseline(baseline_fn fn, ids, spaces):
    spaces = _check_spaces(spaces)
    ids = _check_spaces(ids)
    cdef size_t n = ids.shape[0]
    cdef size_t count = spaces.shape[0]
    if n == 0:
        raise ValueError("no swarm ids")
    out = np.empty(count, dtype=np.uint64)
    if count == 0:
        return out
    cdef const uint64_t[::1] i_v = ids
    cdef const uint64_t[::1] s_v = spaces
    cdef uint64_t[::1] o_v = out
    with nogil:
        fn(&i_v[0], n, &s_v[0], &o_v[0], count)
    return out


def baseline_bsearch(ids, spaces):
    """Plain branchy C binary search + the same tie rule (benchmark baseline)."""
    return _run_baseline(sc_swarm_baseline_bsearch, ids, spaces)


def baseline_linear2020(ids, spaces):
    """The 2020 storage server's linear scan, docs/interop.md §2.3 (a) (benchmark baseline)."""
    return _run_baseline(sc_swarm_baseline_linear2020, ids, spaces)
