/* swarm.c: radix-table nearest-swarm lookup (see swarm.h for the theory). */
#include "swarm.h"

#include "sc_internal.h" /* sc_load_be64 */

unsigned sc_swarm_default_bits(size_t n)
{
    /* ceil(log2(n)) + 1: about two buckets per id keeps a bucket at <= 3 ids with
     * overwhelming probability for spread-out ids, while the table (4 bytes per
     * bucket) stays about as large as the ids themselves and cache resident. */
    unsigned bits = 1;
    while (bits < SC_SWARM_MAX_BITS && ((size_t)1 << bits) < n)
        bits++;
    if (bits < SC_SWARM_MAX_BITS)
        bits++;
    return bits;
}

/* First index i in [lo, hi) with ids[i] >= key, or hi. */
static size_t lower_bound_range(const uint64_t *ids, size_t lo, size_t hi, uint64_t key)
{
    size_t len = hi - lo;
    while (len > 0) {
        size_t half = len / 2;
        if (ids[lo + half] < key) {
            lo += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    return lo;
}

int sc_swarm_index_init(sc_swarm_index *idx, const uint64_t *padded_ids, size_t n,
                        uint32_t *table, unsigned bits)
{
    if (n == 0 || (uint64_t)n >= ((uint64_t)1 << 32) || bits < 1 || bits > SC_SWARM_MAX_BITS)
        return -1;
    const unsigned shift = 64 - bits;
    const size_t buckets = (size_t)1 << bits;
    size_t pos = 0;
    /* One merge pass: table[k] = number of ids below k << shift. */
    for (size_t k = 0; k < buckets; k++) {
        const uint64_t start = (uint64_t)k << shift;
        while (pos < n && padded_ids[pos] < start)
            pos++;
        table[k] = (uint32_t)pos;
    }
    table[buckets] = (uint32_t)n;
    idx->ids = padded_ids;
    idx->n = n;
    idx->table = table;
    idx->bits = bits;
    return 0;
}

uint64_t sc_swarm_space32(const uint8_t key[32])
{
    return sc_load_be64(key) ^ sc_load_be64(key + 8) ^ sc_load_be64(key + 16) ^ sc_load_be64(key + 24);
}

/* The hot path: table probe, branch-free count, then the tie rule with selects.
 * ix is passed by value: the batch loops' stores to out[] cannot alias it, so
 * the compiler keeps its fields in registers. */
static inline uint64_t lookup(const sc_swarm_index ix, uint64_t key)
{
    const uint64_t *ids = ix.ids;
    const size_t n = ix.n;
    const size_t k = (size_t)(key >> (64 - ix.bits));
    size_t lo = ix.table[k];
    const size_t hi = ix.table[k + 1];
    size_t r;
    if (hi - lo < SC_SWARM_SCAN) {
        /* ids[hi] >= key (next bucket or a sentinel), so counting the ids below key
         * in a fixed window gives exactly lower_bound - lo. */
        r = lo;
        for (int j = 0; j < SC_SWARM_SCAN; j++)
            r += ids[lo + j] < key;
    } else {
        r = lower_bound_range(ids, lo, hi, key);
    }
    const size_t right = r == n ? 0 : r;
    const size_t left = (right == 0 ? n : right) - 1;
    const uint64_t id_r = ids[right], id_l = ids[left];
    /* Unsigned wrap-around is the circle distance; the right side must be strictly closer. */
    return (id_r - key) < (key - id_l) ? id_r : id_l;
}

uint64_t sc_swarm_lookup(const sc_swarm_index *idx, uint64_t space)
{
    return lookup(*idx, space);
}

void sc_swarm_lookup_spaces(const sc_swarm_index *idx, const uint64_t *spaces, uint64_t *out,
                            size_t count)
{
    const sc_swarm_index ix = *idx;
    for (size_t i = 0; i < count; i++)
        out[i] = lookup(ix, spaces[i]);
}

void sc_swarm_lookup_keys(const sc_swarm_index *idx, const uint8_t *keys, uint64_t *out,
                          size_t count)
{
    const sc_swarm_index ix = *idx;
    for (size_t i = 0; i < count; i++)
        out[i] = lookup(ix, sc_swarm_space32(keys + 32 * i));
}
