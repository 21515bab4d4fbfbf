/* pow_search.c: a PoW search shared by any number of threads.
 * See session_core.h for why the answer does not depend on the thread count. */
#include "sc_internal.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

void sc_pow_search_init(sc_pow_search *s, const sc_pow_ctx *ctx, const sc_pow_kernel *k,
                        uint64_t start, uint64_t span, uint64_t block)
{
    s->ctx = ctx;
    s->kernel = k;
    s->start = start;
    s->span = span;
    s->block = block ? block : 1024;
    s->next = 0;
    s->found = UINT64_MAX;
    s->trials = 0;
    s->stop = 0;
}

static void lower_found(sc_pow_search *s, uint64_t offset)
{
    uint64_t cur = LOAD(&s->found);
    while (offset < cur &&
           !__atomic_compare_exchange_n(&s->found, &cur, offset, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
    }
}

void sc_pow_search_work(sc_pow_search *s, uint64_t max_blocks)
{
    for (uint64_t claimed = 0; !max_blocks || claimed < max_blocks; claimed++) {
        if (LOAD(&s->stop))
            return;
        uint64_t off = __atomic_fetch_add(&s->next, s->block, __ATOMIC_ACQ_REL);
        /* off wraps only after 2^64 nonces in an unbounded search: then the space is exhausted. */
        if (s->span && off >= s->span)
            return;
        if (!s->span && off > UINT64_MAX - s->block)
            return;
        if (off >= LOAD(&s->found))
            return;
        uint64_t n = s->block;
        if (s->span && n > s->span - off)
            n = s->span - off;
        uint64_t hit;
        int got = s->kernel->scan(s->ctx, s->start + off, n, &hit);
        __atomic_fetch_add(&s->trials, got ? hit + 1 : n, __ATOMIC_RELAXED);
        if (got) {
            lower_found(s, off + hit);
            return; /* any later block of ours would start beyond this hit */
        }
    }
}

int sc_pow_search_exhausted(sc_pow_search *s)
{
    uint64_t next = LOAD(&s->next);
    return s->span ? next >= s->span : next > UINT64_MAX - s->block;
}

void sc_pow_search_cancel(sc_pow_search *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
}

int sc_pow_search_result(sc_pow_search *s, uint64_t *nonce)
{
    uint64_t found = LOAD(&s->found);
    if (found != UINT64_MAX) {
        *nonce = s->start + found;
        return 1;
    }
    return LOAD(&s->stop) ? -1 : 0;
}

uint64_t sc_pow_search_trials(sc_pow_search *s)
{
    return __atomic_load_n(&s->trials, __ATOMIC_RELAXED);
}
