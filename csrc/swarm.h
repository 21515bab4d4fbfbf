/* swarm.h: pubkey -> swarm kernels of session_core (docs/interop.md §2.1, §2.3 (b)).
 *
 * Plain C11, no Python, no allocation: the caller owns every buffer.  All
 * functions are reentrant; a built sc_swarm_index is read-only and may be
 * shared by any number of threads.
 *
 * Theory of operation.  Swarm ids are points on the 64-bit circle; a key's
 * swarm is the nearest id (mod 2^64), exact ties going to the lower/left id,
 * also across the wrap.  Finding it is a lower_bound followed by one
 * comparison of two distances.  Instead of a ~14-step binary search with a
 * hard-to-predict branch per step, the index keeps a radix table over the top
 * `bits` bits of the key: table[k] = lower_bound(ids, k << (64 - bits)).
 * The answer then lies in [table[k], table[k+1]], a range that is almost
 * always 0-3 ids long when ids are spread over the circle (oxend places them
 * at the middle of the largest gap), so it is resolved by a fixed, branch-free
 * count over SC_SWARM_SCAN ids.  Clustered ids just fall back to a binary
 * search inside the bucket, so any id set is answered correctly.
 */
#ifndef SC_SWARM_H
#define SC_SWARM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ids compared per bucket without branching; the ids array carries this many
 * UINT64_MAX sentinels after the last id so the count never reads past it. */
#define SC_SWARM_SCAN 4
/* Largest accepted table size (2^24 buckets = 64 MiB of uint32). */
#define SC_SWARM_MAX_BITS 24

typedef struct sc_swarm_index {
    const uint64_t *ids;    /* n sorted unique ids, then SC_SWARM_SCAN x UINT64_MAX */
    size_t n;               /* >= 1 and < 2^32 */
    const uint32_t *table;  /* (1 << bits) + 1 entries */
    unsigned bits;          /* 1 .. SC_SWARM_MAX_BITS */
} sc_swarm_index;

/* The table size the index would pick by default for n ids (about 2 buckets per id). */
unsigned sc_swarm_default_bits(size_t n);

/* Fill `table` ((1 << bits) + 1 uint32 entries) for the padded ids array and set up
 * *idx.  Returns 0, or -1 when n == 0, n >= 2^32 or bits is out of range. */
int sc_swarm_index_init(sc_swarm_index *idx, const uint64_t *padded_ids, size_t n,
                        uint32_t *table, unsigned bits);

/* XOR of the four big-endian 64-bit words of a raw 32-byte key. */
uint64_t sc_swarm_space32(const uint8_t key[32]);

/* Nearest swarm id for one space value. */
uint64_t sc_swarm_lookup(const sc_swarm_index *idx, uint64_t space);

/* out[i] = nearest swarm id of spaces[i] (or of the 32-byte key keys[32*i ..]). */
void sc_swarm_lookup_spaces(const sc_swarm_index *idx, const uint64_t *spaces, uint64_t *out,
                            size_t count);
void sc_swarm_lookup_keys(const sc_swarm_index *idx, const uint8_t *keys, uint64_t *out,
                          size_t count);

/* ---- Baselines for benches/bench_swarm.py (same answers where noted) ----
 * A plain branchy binary search (lower_bound) + the same tie rule: same answers.
 * The 2020 storage server's linear scan (docs/interop.md §2.3 (a)) over ids in the given
 * order: different answers near the wrap, by design of that old code. */
void sc_swarm_baseline_bsearch(const uint64_t *ids, size_t n, const uint64_t *spaces,
                               uint64_t *out, size_t count);
void sc_swarm_baseline_linear2020(const uint64_t *ids, size_t n, const uint64_t *spaces,
                                  uint64_t *out, size_t count);

#ifdef __cplusplus
}
#endif
#endif /* SC_SWARM_H */
