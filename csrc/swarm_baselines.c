/* swarm_baselines.c: the two lookups our kernel is measured against, in plain C.
 * They exist only for benches/bench_swarm.py (and a test that they agree with
 * the Python references), so they are deliberately the straightforward code. */
#include "swarm.h"

void sc_swarm_baseline_bsearch(const uint64_t *ids, size_t n, const uint64_t *spaces,
                               uint64_t *out, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const uint64_t key = spaces[i];
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ids[mid] < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t right = lo == n ? 0 : lo;
        size_t left = right == 0 ? n - 1 : right - 1;
        if (ids[right] - key < key - ids[left])
            out[i] = ids[right];
        else
            out[i] = ids[left];
    }
}

void sc_swarm_baseline_linear2020(const uint64_t *ids, size_t n, const uint64_t *spaces,
                                  uint64_t *out, size_t count)
{
    const uint64_t max_id = UINT64_MAX - 1;
    for (size_t i = 0; i < count; i++) {
        const uint64_t res = spaces[i];
        uint64_t best = UINT64_MAX, cur_min = UINT64_MAX;
        uint64_t leftmost = UINT64_MAX, rightmost = 0;
        for (size_t j = 0; j < n; j++) {
            const uint64_t id = ids[j];
            const uint64_t dist = id > res ? id - res : res - id;
            if (dist < cur_min) {
                best = id;
                cur_min = dist;
            }
            if (id < leftmost)
                leftmost = id;
            if (id > rightmost)
                rightmost = id;
        }
        if (res > rightmost) {
            if ((max_id - res) + leftmost < cur_min)
                best = leftmost;
        } else if (res < leftmost) {
            if (res + (max_id - rightmost) < cur_min)
                best = rightmost;
        }
        out[i] = best;
    }
}
