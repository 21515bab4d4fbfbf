/* relay.c: the onion relay engine (see relay.h for what it takes and what it leaves). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A reply waiting for the end of its read_dealer call (sent then, one batch per asker). */
struct sc_relay_send {
    uint8_t ident_len;
    uint8_t batch_ok;
    uint8_t ident[SC_RELAY_IDENT_MAX];
    sc_zmq_msg m;
};

/* Sort key of a held reply: its asker, then its place. */
typedef struct sc_reply_key {
    uint8_t len;
    uint8_t ident[SC_RELAY_IDENT_MAX];
    uint32_t idx;
} sc_reply_key;


static uint16_t sc_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t sc_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t sc_le64(const uint8_t *p) { return (uint64_t)sc_le32(p) | (uint64_t)sc_le32(p + 4) << 32; }
static void sc_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void sc_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void sc_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int64_t sc_relay_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- wire format (the checks of node/wire.py's decode, in its order) -------------------- */

int sc_wire_parse(const uint8_t *f, size_t size, sc_wire *w)
{
    if (size < SC_WIRE_HEADER || f[0] != 1 || f[1] > SC_WIRE_ERROR || size > SC_WIRE_MAX_FRAME)
        return -1;
    w->kind = f[1];
    w->req_id = sc_le64(f + 2);
    w->n = sc_le16(f + 10);
    if (w->n > SC_WIRE_MAX_PARTS || size < SC_WIRE_HEADER + 4 * w->n)
        return -1;
    size_t off = SC_WIRE_HEADER + 4 * w->n;
    for (size_t i = 0; i < w->n; i++) {
        size_t len = sc_le32(f + SC_WIRE_HEADER + 4 * i);
        if (len > size - off)
            return -1;
        if (i < 3) {
            w->part[i] = f + off;
            w->len[i] = len;
        }
        off += len;
    }
    if (off != size)
        return -1;
    if ((w->n == 0 && w->kind == SC_WIRE_REQUEST) || (w->n != 1 && w->kind == SC_WIRE_ERROR))
        return -1;
    return 0;
}

size_t sc_wire_batch(const uint8_t *f, size_t size)
{
    if (size < SC_WIRE_HEADER || f[0] != 1 || f[1] != SC_WIRE_BATCH || size > SC_WIRE_MAX_FRAME ||
        sc_le64(f + 2) != 0)
        return 0;
    size_t n = sc_le16(f + 10);
    if (n < 2 || n > SC_WIRE_MAX_BATCH || size < SC_WIRE_HEADER + 4 * n)
        return 0;
    size_t off = SC_WIRE_HEADER + 4 * n;
    for (size_t i = 0; i < n; i++) {
        size_t len = sc_le32(f + SC_WIRE_HEADER + 4 * i);
        if (len > size - off)
            return 0;
        if (len > 1 && f[off] == 1 && f[off + 1] == SC_WIRE_BATCH)
            return 0; /* batches do not nest */
        off += len;
    }
    return off == size ? n : 0;
}

/* Frame i of a batch sc_wire_batch accepted (n frames): start and length; *off walks the
 * frames in order (start it at 0). */
static const uint8_t *sc_batch_frame(const uint8_t *f, size_t n, size_t i, size_t *off, size_t *len)
{
    if (*off == 0)
        *off = SC_WIRE_HEADER + 4 * n;
    *len = sc_le32(f + SC_WIRE_HEADER + 4 * i);
    const uint8_t *p = f + *off;
    *off += *len;
    return p;
}

/* One batch message holding copies of the k frames in msgs[]; -1 if there is no memory. */
static int sc_batch_msg(const sc_relay *r, sc_zmq_msg *out, sc_zmq_msg *const *msgs, size_t k)
{
    const sc_zmq *z = r->zmq;
    size_t total = SC_WIRE_HEADER + 4 * k;
    for (size_t i = 0; i < k; i++)
        total += z->msg_size(msgs[i]);
    if (z->msg_init_size(out, total) != 0)
        return -1;
    uint8_t *p = z->msg_data(out);
    p[0] = 1;
    p[1] = SC_WIRE_BATCH;
    sc_put64(p + 2, 0);
    sc_put16(p + 10, (uint16_t)k);
    size_t off = SC_WIRE_HEADER + 4 * k;
    for (size_t i = 0; i < k; i++) {
        size_t len = z->msg_size(msgs[i]);
        sc_put32(p + SC_WIRE_HEADER + 4 * i, (uint32_t)len);
        memcpy(p + off, z->msg_data(msgs[i]), len);
        off += len;
    }
    return 0;
}

/* A fresh message holding a copy of `len` bytes; -1 without memory. */
static int sc_msg_copy(const sc_relay *r, sc_zmq_msg *m, const uint8_t *data, size_t len)
{
    if (r->zmq->msg_init_size(m, len) != 0)
        return -1;
    memcpy(r->zmq->msg_data(m), data, len);
    return 0;
}

/* A 2-part REPLY frame [status, body] for request `id` in a fresh message. */
static int sc_reply_frame(const sc_relay *r, sc_zmq_msg *m, uint64_t id, const uint8_t *status,
                          size_t slen, const uint8_t *body, size_t blen)
{
    if (r->zmq->msg_init_size(m, SC_WIRE_HEADER + 8 + slen + blen) != 0)
        return -1;
    uint8_t *p = r->zmq->msg_data(m);
    p[0] = 1;
    p[1] = SC_WIRE_REPLY;
    sc_put64(p + 2, id);
    sc_put16(p + 10, 2);
    sc_put32(p + 12, (uint32_t)slen);
    sc_put32(p + 16, (uint32_t)blen);
    memcpy(p + 20, status, slen);
    memcpy(p + 20 + slen, body, blen);
    return 0;
}

/* ---- tables ------------------------------------------------------------------------------ */

static size_t sc_pend_home(const sc_relay *r, uint64_t id)
{
    return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (r->pend_cap - 1);
}

#define SC_PEND_MIN 1024

/* Rehash into `cap` slots (a power of two above twice the count); 0, or -1 out of memory. */
static int sc_pend_resize(sc_relay *r, size_t cap)
{
    sc_relay_pending *old = r->pend, *t = calloc(cap, sizeof *t);
    size_t old_cap = r->pend_cap;
    if (!t)
        return -1;
    r->pend = t;
    r->pend_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].id)
            continue;
        size_t j = sc_pend_home(r, old[i].id);
        while (t[j].id)
            j = (j + 1) & (cap - 1);
        t[j] = old[i];
    }
    free(old);
    return 0;
}

static int sc_pend_grow(sc_relay *r) { return sc_pend_resize(r, r->pend_cap ? r->pend_cap * 2 : SC_PEND_MIN); }

/* Make room for one more entry (load factor <= 1/2); 0, or -1 out of memory. */
static int sc_pend_reserve(sc_relay *r)
{
    return (r->pend_count + 1) * 2 > r->pend_cap ? sc_pend_grow(r) : 0;
}

/* Add `id` (sc_pend_reserve succeeded just before). */
static sc_relay_pending *sc_pend_add(sc_relay *r, uint64_t id)
{
    size_t j = sc_pend_home(r, id);
    while (r->pend[j].id)
        j = (j + 1) & (r->pend_cap - 1);
    r->pend_count++;
    r->pend[j].id = id;
    return &r->pend[j];
}

static size_t sc_pend_find(const sc_relay *r, uint64_t id)
{
    if (!r->pend_cap)
        return SIZE_MAX;
    for (size_t j = sc_pend_home(r, id); r->pend[j].id; j = (j + 1) & (r->pend_cap - 1))
        if (r->pend[j].id == id)
            return j;
    return SIZE_MAX;
}

/* Remove slot j, shifting back the entries whose probe sequence crossed it (no tombstones). */
static void sc_pend_del(sc_relay *r, size_t j)
{
    size_t mask = r->pend_cap - 1, i = j;
    r->pend_count--;
    for (;;) {
        r->pend[i].id = 0;
        size_t k = i;
        for (;;) {
            k = (k + 1) & mask;
            if (!r->pend[k].id)
                return;
            size_t home = sc_pend_home(r, r->pend[k].id);
            /* k's entry may move to i unless its home lies cyclically in (i, k]. */
            if (i <= k ? (home <= i || home > k) : (home <= i && home > k))
                break;
        }
        r->pend[i] = r->pend[k];
        i = k;
    }
}

static long sc_route_find(const sc_relay *r, const uint8_t key[32], size_t *pos)
{
    size_t lo = 0, hi = r->n_routes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(r->routes[r->order[mid]].key, key, 32);
        if (c == 0) {
            *pos = mid;
            return r->order[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return -1;
}

int sc_relay_add_route(sc_relay *r, const uint8_t key[32], void *dealer, int batches)
{
    size_t pos;
    if (!dealer || r->n_routes == SC_RELAY_MAX_ROUTES || sc_route_find(r, key, &pos) >= 0)
        return -1;
    int slot = 0;
    while (r->routes[slot].dealer)
        slot++;
    sc_relay_route *rt = &r->routes[slot];
    memcpy(rt->key, key, 32);
    rt->dealer = dealer;
    rt->gen++;
    rt->received = 0;
    rt->touched = 0;
    rt->batches = batches != 0;
    memmove(&r->order[pos + 1], &r->order[pos], (r->n_routes - pos) * sizeof r->order[0]);
    r->order[pos] = (uint32_t)slot;
    r->n_routes++;
    return slot;
}

void sc_relay_remove_route(sc_relay *r, int slot)
{
    size_t pos;
    if (slot < 0 || slot >= SC_RELAY_MAX_ROUTES || !r->routes[slot].dealer)
        return;
    if (sc_route_find(r, r->routes[slot].key, &pos) == slot) {
        memmove(&r->order[pos], &r->order[pos + 1], (r->n_routes - pos - 1) * sizeof r->order[0]);
        r->n_routes--;
    }
    r->routes[slot].dealer = NULL;
    r->routes[slot].gen++;
}

int sc_relay_init(sc_relay *r, const sc_sodium *sodium, const sc_zmq *zmq, const uint8_t secret[32],
                  void *router, double timeout_s, size_t batch)
{
    memset(r, 0, sizeof *r);
    if (!(timeout_s > 0 && timeout_s <= 1e6) || batch == 0)
        return -1;
    r->sodium = sodium;
    r->zmq = zmq;
    memcpy(r->secret, secret, 32);
    sodium->scalarmult_base(r->public_key, secret);
    r->router = router;
    r->timeout_ns = (int64_t)(timeout_s * 1e9);
    r->next_id = 1;
    r->batch = batch;
    r->scratch_cap = SC_RELAY_RECORDS(batch);
    r->items = calloc(r->scratch_cap, sizeof *r->items);
    r->item_rec = calloc(r->scratch_cap, sizeof *r->item_rec);
    r->fwd = calloc(r->scratch_cap, sizeof *r->fwd);
    r->rsend = calloc(r->scratch_cap, sizeof *r->rsend);
    r->rkeys = calloc(r->scratch_cap, sizeof *r->rkeys);
    if (!r->items || !r->item_rec || !r->fwd || !r->rsend || !r->rkeys || sc_pend_grow(r) != 0) {
        sc_relay_free(r);
        return -1;
    }
    return 0;
}

void sc_relay_free(sc_relay *r)
{
    if (r->sodium)
        r->sodium->memzero(r->secret, 32);
    free(r->items);
    free(r->item_rec);
    free(r->fwd);
    free(r->rsend);
    free(r->rkeys);
    free(r->pend);
    r->items = NULL;
    r->item_rec = NULL;
    r->fwd = NULL;
    r->rsend = NULL;
    r->rkeys = NULL;
    r->pend = NULL;
    r->pend_cap = r->pend_count = 0;
}

void sc_relay_out_close(const sc_relay *r, sc_relay_out *o)
{
    if (o->kind == SC_OUT_REQUEST || o->kind == SC_OUT_PEELED)
        r->zmq->msg_close(&o->ident);
    if (o->has_frame)
        r->zmq->msg_close(&o->frame);
    if (o->has_out)
        r->zmq->msg_close(&o->out);
    o->has_frame = o->has_out = 0;
    o->kind = SC_OUT_HANDLED;
}

/* ---- replies ----------------------------------------------------------------------------- */

/* Send `m` to the asker behind `ident`; takes `m`.  A full queue makes a QUEUE record (the
 * binding puts it in Python's outbox, retried in order); a vanished peer drops the reply, as
 * Python's path does.  A reply sent here may overtake replies waiting in that outbox: they
 * answer other requests and the asker matches each by its request id. */
static void sc_reply(sc_relay *r, const uint8_t *ident, size_t ident_len, sc_zmq_msg *m,
                     sc_relay_out *outs, long *n)
{
    const sc_zmq *z = r->zmq;
    r->router_touched = 1;
    if (z->send(r->router, ident, ident_len, SC_ZMQ_DONTWAIT | SC_ZMQ_SNDMORE) < 0) {
        if (z->errno_() == EAGAIN && outs) {
            sc_relay_out *o = &outs[(*n)++];
            memset(o, 0, sizeof *o);
            o->kind = SC_OUT_QUEUE;
            r->queued++;
            o->ident_len = (uint8_t)ident_len;
            memcpy(o->ident_bytes, ident, ident_len);
            z->msg_init(&o->frame);
            z->msg_move(&o->frame, m); /* the record takes the message */
            o->has_frame = 1;
            return;
        }
        z->msg_close(m);
        return;
    }
    if (z->msg_send(m, r->router, SC_ZMQ_DONTWAIT) < 0)
        z->msg_close(m);
}

static void sc_reply_text(sc_relay *r, const sc_relay_pending *p, const char *status, const char *body,
                          sc_relay_out *outs, long *n)
{
    sc_zmq_msg m;
    if (sc_reply_frame(r, &m, p->orig_id, (const uint8_t *)status, strlen(status),
                       (const uint8_t *)body, strlen(body)) == 0)
        sc_reply(r, p->ident, p->ident_len, &m, outs, n);
}

/* ---- the ROUTER side ----------------------------------------------------------------------- */

/* 1 and *hop if `p` is 1-3 ASCII digits worth at most SC_RELAY_MAX_HOPS (else Python decides). */
static int sc_parse_hop(const uint8_t *p, size_t len, int *hop)
{
    int v = 0;
    if (len < 1 || len > 3)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    if (v > SC_RELAY_MAX_HOPS)
        return 0;
    *hop = v;
    return 1;
}

static size_t sc_digits(int hop) { return hop >= 10 ? 2 : 1; }

/* Prepare an onion request for the batch peel: 1 with the item set and o->out holding room
 * for the next request, 0 if Python must see the message as it came. */
static int sc_candidate(sc_relay *r, sc_relay_out *o, sc_onion_peel_item *it)
{
    const sc_zmq *z = r->zmq;
    sc_wire w;
    const uint8_t *f = z->msg_data(&o->frame);
    size_t size = z->msg_size(&o->frame);
    if (!o->peer || z->msg_size(&o->ident) > SC_RELAY_IDENT_MAX || sc_wire_parse(f, size, &w) != 0 ||
        w.kind != SC_WIRE_REQUEST || w.n != 3 || w.len[0] != 5 || memcmp(w.part[0], "onion", 5) != 0 ||
        !sc_parse_hop(w.part[2], w.len[2], &o->hop) || w.len[1] > SC_RELAY_MAX_BODY)
        return 0;
    memset(it, 0, sizeof *it);
    it->body = w.part[1];
    if (!sc_onion_fast_outer(it->body, w.len[1], &it->blob_len, it->eph, &it->enc))
        return 0;
    if (it->enc == SC_ONION_AES_GCM && !r->sodium->aesgcm_ok)
        return 0;
    size_t over = sc_onion_nonce_bytes(it->enc) + SC_ONION_TAG_BYTES;
    if (it->blob_len < over)
        return 0; /* Python answers the decrypt error */
    o->pt_len = it->blob_len - over;
    /* Room for the next hop's request around the plaintext: the peel writes in place. */
    if (z->msg_init_size(&o->out, SC_RELAY_PT_OFF + o->pt_len + sc_digits(o->hop + 1)) != 0)
        return 0;
    o->has_out = 1;
    o->body_off = (size_t)(w.part[1] - f);
    o->body_len = w.len[1];
    it->out = (uint8_t *)z->msg_data(&o->out) + SC_RELAY_PT_OFF;
    it->status = SC_PEEL_PENDING;
    return 1;
}

/* Make a peeled relay layer ready to go to its route: the request frame written around the
 * plaintext, the request remembered as pending (the binding cannot see it from here on);
 * 1 if ready, 0 if Python must take it (no route, no memory, too many hops). */
static int sc_forward_prepare(sc_relay *r, sc_relay_out *o)
{
    const sc_zmq *z = r->zmq;
    uint8_t key[32];
    size_t pos;
    int hop = o->hop + 1;
    if (hop > SC_RELAY_MAX_HOPS || !sc_onion_unhex(o->dest_hex, 64, key))
        return 0;
    long slot = sc_route_find(r, key, &pos);
    if (slot < 0)
        return 0;
    sc_relay_route *rt = &r->routes[slot];
    uint64_t id = SC_RELAY_OWN_BIT | r->next_id;
    uint8_t *p = z->msg_data(&o->out);
    size_t digits = sc_digits(hop);
    p[0] = 1;
    p[1] = SC_WIRE_REQUEST;
    sc_put64(p + 2, id);
    sc_put16(p + 10, 3);
    sc_put32(p + 12, 5);
    sc_put32(p + 16, (uint32_t)o->pt_len);
    sc_put32(p + 20, (uint32_t)digits);
    memcpy(p + 24, "onion", 5);
    uint8_t *d = p + SC_RELAY_PT_OFF + o->pt_len;
    if (digits == 2)
        *d++ = (uint8_t)('0' + hop / 10);
    *d = (uint8_t)('0' + hop % 10);
    /* Remembered before it is sent: a request sent but not tracked would never be answered. */
    if (sc_pend_reserve(r) != 0)
        return 0;
    r->next_id++;
    sc_relay_pending *pe = sc_pend_add(r, id);
    size_t ident_len = z->msg_size(&o->ident);
    pe->orig_id = sc_le64((const uint8_t *)z->msg_data(&o->frame) + 2);
    pe->deadline_ns = sc_relay_now_ns() + r->timeout_ns;
    pe->received_before = rt->received;
    pe->route = (uint32_t)slot;
    pe->gen = rt->gen;
    pe->ident_len = (uint8_t)ident_len;
    pe->batch_ok = (uint8_t)o->batch_ok;
    memcpy(pe->ident, z->msg_data(&o->ident), ident_len);
    o->route = (int)slot;
    o->fwd_id = id;
    return 1;
}

/* A prepared forward that could not be sent: forget its pending entry (Python's path takes
 * the record, whose plaintext is untouched). */
static void sc_forward_undo(sc_relay *r, const sc_relay_out *o)
{
    size_t j = sc_pend_find(r, o->fwd_id);
    if (j != SIZE_MAX)
        sc_pend_del(r, j);
}

/* A forward went out: `took` if libzmq took the record's own message (else its bytes went
 * in a batch and the record still owns them). */
static void sc_forward_sent(sc_relay *r, sc_relay_out *o, int took)
{
    sc_relay_route *rt = &r->routes[o->route];
    if (!rt->touched) {
        rt->touched = 1;
        r->touched[r->n_touched++] = o->route;
    }
    r->relayed++;
    if (took)
        o->has_out = 0;
    sc_relay_out_close(r, o);
}

/* Send the prepared forwards r->fwd[0..nf): to a route that reads batches, one message per
 * up to SC_WIRE_MAX_BATCH of them (a batch when there are several); to others, one each. */
static void sc_send_forwards(sc_relay *r, sc_relay_out *outs, size_t nf)
{
    const sc_zmq *z = r->zmq;
    /* Group by route, keeping the order within a route (insertion sort: stable, and nf is a
     * few hundred at most, mostly for one or two routes). */
    for (size_t i = 1; i < nf; i++) {
        size_t v = r->fwd[i], j = i;
        while (j > 0 && outs[r->fwd[j - 1]].route > outs[v].route) {
            r->fwd[j] = r->fwd[j - 1];
            j--;
        }
        r->fwd[j] = v;
    }
    sc_zmq_msg *parts[SC_WIRE_MAX_BATCH];
    for (size_t i = 0; i < nf;) {
        int route = outs[r->fwd[i]].route;
        size_t k = 1;
        while (r->routes[route].batches && i + k < nf && k < SC_WIRE_MAX_BATCH && outs[r->fwd[i + k]].route == route)
            k++;
        void *dealer = r->routes[route].dealer;
        int sent = 0;
        if (k == 1) {
            sent = z->msg_send(&outs[r->fwd[i]].out, dealer, SC_ZMQ_DONTWAIT) >= 0;
        } else {
            sc_zmq_msg batch;
            for (size_t c = 0; c < k; c++)
                parts[c] = &outs[r->fwd[i + c]].out;
            if (sc_batch_msg(r, &batch, parts, k) == 0) {
                sent = z->msg_send(&batch, dealer, SC_ZMQ_DONTWAIT) >= 0;
                if (!sent)
                    z->msg_close(&batch);
            }
        }
        for (size_t c = 0; c < k; c++) {
            sc_relay_out *o = &outs[r->fwd[i + c]];
            if (sent)
                sc_forward_sent(r, o, k == 1);
            else
                sc_forward_undo(r, o); /* no pipe yet or a full queue: Python's path waits */
        }
        i += k;
    }
}

/* Expand the batch in record `b` (sc_wire_batch said it holds k frames) into records
 * outs[b + 1 .. b + k], each as if its frame had come alone; the batch's record is closed
 * (HANDLED).  0, or -1 without memory (then nothing is expanded: Python reads the batch). */
static int sc_expand_batch(sc_relay *r, sc_relay_out *outs, size_t b, size_t k)
{
    const sc_zmq *z = r->zmq;
    sc_relay_out *o = &outs[b];
    const uint8_t *f = z->msg_data(&o->frame);
    const uint8_t *ident = z->msg_data(&o->ident);
    size_t ident_len = z->msg_size(&o->ident), off = 0;
    for (size_t i = 0; i < k; i++) {
        sc_relay_out *e = &outs[b + 1 + i];
        size_t len;
        const uint8_t *p = sc_batch_frame(f, k, i, &off, &len);
        memset(e, 0, offsetof(sc_relay_out, ident));
        e->peer = NULL;
        if (sc_msg_copy(r, &e->ident, ident, ident_len) != 0) {
            e->kind = SC_OUT_HANDLED;
            k = i; /* undo the ones made */
            for (size_t c = 0; c < k; c++)
                sc_relay_out_close(r, &outs[b + 1 + c]);
            return -1;
        }
        e->kind = SC_OUT_REQUEST;
        if (sc_msg_copy(r, &e->frame, p, len) != 0) {
            z->msg_close(&e->ident);
            e->kind = SC_OUT_HANDLED;
            for (size_t c = 0; c < i; c++)
                sc_relay_out_close(r, &outs[b + 1 + c]);
            return -1;
        }
        e->has_frame = 1;
        e->batch_ok = 1; /* it sent a batch: it reads them */
        if (o->peer) {
            size_t pl = strlen(o->peer);
            if (pl > SC_RELAY_PEER_MAX)
                pl = SC_RELAY_PEER_MAX;
            memcpy(e->peer_copy, o->peer, pl);
            e->peer_copy[pl] = 0;
            e->peer = e->peer_copy;
        }
    }
    sc_relay_out_close(r, o);
    return 0;
}

long sc_relay_read_router(sc_relay *r, size_t max, sc_relay_out *outs, int *more)
{
    const sc_zmq *z = r->zmq;
    size_t n = 0, cands = 0, msgs = 0, nf = 0;
    int failed = 0, drained = 0;
    *more = 0;
    if (max > r->batch)
        max = r->batch;
    /* Room for one more message's records, a batch's included. */
    while (msgs < max && n + 1 + SC_WIRE_MAX_BATCH <= r->scratch_cap) {
        sc_relay_out *o = &outs[n];
        memset(o, 0, offsetof(sc_relay_out, ident));
        o->peer = NULL;
        o->batch_ok = 0;
        z->msg_init(&o->ident);
        if (z->msg_recv(&o->ident, r->router, SC_ZMQ_DONTWAIT) < 0) {
            failed = z->errno_() != EAGAIN;
            z->msg_close(&o->ident);
            drained = 1;
            break;
        }
        msgs++;
        n++;
        o->kind = SC_OUT_REQUEST;
        z->msg_init(&o->frame);
        o->has_frame = 1;
        /* A ROUTER delivers the routing id and then at least one part. */
        if (z->msg_recv(&o->frame, r->router, SC_ZMQ_DONTWAIT) < 0) {
            o->multipart = 1; /* (cannot happen) shown to Python as "not one frame" */
            continue;
        }
        o->peer = z->msg_gets(&o->frame, "User-Id");
        const char *batches = z->msg_gets(&o->frame, SC_RELAY_BATCH_PROPERTY);
        o->batch_ok = batches && batches[0] == '1' && batches[1] == 0;
        if (z->msg_more(&o->frame)) {
            o->multipart = 1;
            sc_zmq_msg rest;
            int again = 1;
            while (again) {
                z->msg_init(&rest);
                again = z->msg_recv(&rest, r->router, SC_ZMQ_DONTWAIT) >= 0 && z->msg_more(&rest);
                z->msg_close(&rest);
            }
            continue;
        }
        size_t k = sc_wire_batch(z->msg_data(&o->frame), z->msg_size(&o->frame));
        if (k && sc_expand_batch(r, outs, n - 1, k) == 0) {
            for (size_t i = 0; i < k; i++, n++)
                if (sc_candidate(r, &outs[n], &r->items[cands]))
                    r->item_rec[cands++] = n;
            continue;
        }
        if (sc_candidate(r, o, &r->items[cands]))
            r->item_rec[cands++] = n - 1;
    }
    if (!drained)
        *more = 1;
    sc_onion_peel_batch(r->sodium, r->secret, r->public_key, r->items, cands);
    for (size_t c = 0; c < cands; c++) {
        sc_relay_out *o = &outs[r->item_rec[c]];
        sc_onion_peel_item *it = &r->items[c];
        o->kind = SC_OUT_PEELED;
        o->status = it->status;
        o->dest_hex = it->dest_hex;
        o->enc = it->enc;
        memcpy(o->key, it->key, 32);
        if (it->status == SC_PEEL_RELAY && sc_forward_prepare(r, o))
            r->fwd[nf++] = r->item_rec[c];
    }
    sc_send_forwards(r, outs, nf);
    if (failed && n == 0)
        return -1;
    return (long)n; /* HANDLED records included: the binding skips them */
}

/* ---- the DEALER side --------------------------------------------------------------------- */

/* Status digits as Python's int() -> str() round trip writes them: leading zeros dropped.
 * At most SC_RELAY_STATUS_DIGITS digits, the Python path's limit too (onion_relay.py). */
static int sc_canonical_status(const uint8_t *p, size_t len, size_t *skip)
{
    if (len == 0 || len > SC_RELAY_STATUS_DIGITS)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    size_t s = 0;
    while (s + 1 < len && p[s] == '0')
        s++;
    *skip = s;
    return 1;
}

/* Keep a reply for the asker behind `ident` until the end of the read_dealer call; takes m. */
static void sc_hold_reply(sc_relay *r, size_t *ns, const sc_relay_pending *p, sc_zmq_msg *m)
{
    const uint8_t *ident = p->ident;
    size_t ident_len = p->ident_len;
    struct sc_relay_send *q = &r->rsend[(*ns)++];
    q->batch_ok = p->batch_ok;
    q->ident_len = (uint8_t)ident_len;
    memcpy(q->ident, ident, ident_len);
    r->zmq->msg_init(&q->m);
    r->zmq->msg_move(&q->m, m);
}

static int sc_by_ident(const void *a_, const void *b_)
{
    const sc_reply_key *a = a_, *b = b_;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    int c = memcmp(a->ident, b->ident, a->len);
    if (c)
        return c;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Send the held replies: to an asker that reads batches, one message for up to
 * SC_WIRE_MAX_BATCH of them (a batch when it has several); to others, one each. */
static void sc_send_replies(sc_relay *r, size_t ns, sc_relay_out *outs, long *n)
{
    const sc_zmq *z = r->zmq;
    sc_reply_key *keys = r->rkeys;
    for (size_t i = 0; i < ns; i++) {
        keys[i].len = r->rsend[i].ident_len;
        memcpy(keys[i].ident, r->rsend[i].ident, keys[i].len);
        keys[i].idx = (uint32_t)i;
    }
    if (ns > 1)
        qsort(keys, ns, sizeof *keys, sc_by_ident);
    sc_zmq_msg *parts[SC_WIRE_MAX_BATCH];
    for (size_t i = 0; i < ns;) {
        size_t k = 1;
        struct sc_relay_send *first = &r->rsend[keys[i].idx];
        while (first->batch_ok && i + k < ns && k < SC_WIRE_MAX_BATCH && keys[i + k].len == keys[i].len &&
               !memcmp(keys[i + k].ident, keys[i].ident, keys[i].len))
            k++;
        sc_zmq_msg batch;
        for (size_t c = 0; c < k; c++)
            parts[c] = &r->rsend[keys[i + c].idx].m;
        if (k > 1 && sc_batch_msg(r, &batch, parts, k) == 0) {
            for (size_t c = 0; c < k; c++)
                z->msg_close(parts[c]);
            sc_reply(r, first->ident, first->ident_len, &batch, outs, n);
        } else {
            for (size_t c = 0; c < k; c++)
                sc_reply(r, first->ident, first->ident_len, parts[c], outs, n);
        }
        i += k;
    }
}

/* One frame read from a route's dealer (the whole message `m`, or a frame inside a batch
 * when m is NULL): a reply to our request is held for its asker, anything else becomes a
 * REPLY record for Python. */
static void sc_dealer_frame(sc_relay *r, int slot, const uint8_t *f, size_t size, sc_zmq_msg *m,
                            sc_relay_out *outs, long *n, size_t *ns, size_t *consumed)
{
    const sc_zmq *z = r->zmq;
    sc_relay_route *rt = &r->routes[slot];
    uint64_t id = size >= SC_WIRE_HEADER && f[0] == 1 ? sc_le64(f + 2) : 0;
    if (!(id & SC_RELAY_OWN_BIT)) {
        sc_relay_out *o = &outs[*n];
        memset(o, 0, offsetof(sc_relay_out, ident));
        o->kind = SC_OUT_REPLY;
        z->msg_init(&o->frame);
        if (m)
            z->msg_move(&o->frame, m);
        else if (sc_msg_copy(r, &o->frame, f, size) != 0)
            return; /* no memory: dropped, as a lost reply (its request times out) */
        o->has_frame = 1;
        (*n)++;
        return;
    }
    (*consumed)++;
    size_t j = sc_pend_find(r, id);
    /* Only the connection a request went out on may answer it (as Python's per-connection
     * pending tables): another next hop naming our id is dropped like a late reply. */
    if (j == SIZE_MAX || r->pend[j].route != (uint32_t)slot || r->pend[j].gen != rt->gen) {
        if (m)
            z->msg_close(m);
        return;
    }
    sc_relay_pending p = r->pend[j];
    sc_pend_del(r, j);
    sc_wire w;
    size_t skip = 0;
    sc_zmq_msg c;
    if (sc_wire_parse(f, size, &w) != 0 || w.kind != SC_WIRE_REPLY || w.n != 2 ||
        !sc_canonical_status(w.part[0], w.len[0], &skip)) {
        if (m)
            z->msg_close(m);
        r->invalid_replies++;
        const char *status = "500", *body = "Invalid response from snode";
        if (sc_reply_frame(r, &c, p.orig_id, (const uint8_t *)status, strlen(status), (const uint8_t *)body,
                           strlen(body)) == 0)
            sc_hold_reply(r, ns, &p, &c);
        return;
    }
    r->answered++;
    if (skip == 0 && m) {
        /* The common case: only the request id changes, in place.  The message is ours:
         * received over TCP (CURVE decrypted it into a fresh buffer), never a sender's
         * zero-copy buffer as an inproc message could be. */
        sc_put64((uint8_t *)z->msg_data(m) + 2, p.orig_id);
        sc_hold_reply(r, ns, &p, m);
        return;
    }
    int ok = skip == 0 ? sc_msg_copy(r, &c, f, size) == 0
                       : sc_reply_frame(r, &c, p.orig_id, w.part[0] + skip, w.len[0] - skip, w.part[1],
                                        w.len[1]) == 0;
    if (m)
        z->msg_close(m);
    if (!ok)
        return;
    if (skip == 0)
        sc_put64((uint8_t *)z->msg_data(&c) + 2, p.orig_id);
    sc_hold_reply(r, ns, &p, &c);
}

long sc_relay_read_dealer(sc_relay *r, int slot, size_t max, sc_relay_out *outs, int *more,
                          size_t *consumed)
{
    const sc_zmq *z = r->zmq;
    long n = 0;
    size_t msgs = 0, frames = 0, ns = 0;
    int drained = 0;
    *more = 0;
    *consumed = 0;
    if (slot < 0 || slot >= SC_RELAY_MAX_ROUTES || !r->routes[slot].dealer)
        return -1;
    if (max > r->batch)
        max = r->batch;
    sc_relay_route *rt = &r->routes[slot];
    /* Each frame makes at most one record and holds at most one reply (which may make one
     * QUEUE record when sent): room for one more message's frames, a batch's included. */
    while (msgs < max && frames + SC_WIRE_MAX_BATCH <= r->scratch_cap) {
        sc_zmq_msg m;
        z->msg_init(&m);
        if (z->msg_recv(&m, rt->dealer, SC_ZMQ_DONTWAIT) < 0) {
            z->msg_close(&m);
            if (z->errno_() != EAGAIN && msgs == 0)
                return -1;
            drained = 1;
            break;
        }
        msgs++;
        rt->received++;
        uint8_t *f = z->msg_data(&m);
        size_t size = z->msg_size(&m);
        size_t k = sc_wire_batch(f, size);
        if (!k) {
            frames++;
            sc_dealer_frame(r, slot, f, size, &m, outs, &n, &ns, consumed);
            continue;
        }
        size_t off = 0, len;
        for (size_t i = 0; i < k; i++, frames++) {
            const uint8_t *p = sc_batch_frame(f, k, i, &off, &len);
            sc_dealer_frame(r, slot, p, len, NULL, outs, &n, &ns, consumed);
        }
        z->msg_close(&m);
    }
    if (!drained)
        *more = 1;
    sc_send_replies(r, ns, outs, &n);
    return n;
}

long sc_relay_expire(sc_relay *r, int64_t now_ns, size_t max, sc_relay_out *outs, int *more,
                     int *silent, size_t *n_silent)
{
    long n = 0;
    *more = 0;
    *n_silent = 0;
    for (size_t j = 0; j < r->pend_cap;) {
        sc_relay_pending *pe = &r->pend[j];
        if (!pe->id || pe->deadline_ns > now_ns) {
            j++;
            continue;
        }
        if ((size_t)n == max) {
            *more = 1;
            break;
        }
        sc_relay_pending p = *pe;
        sc_pend_del(r, j); /* may shift a later entry into j: look at j again */
        r->timed_out++;
        sc_relay_route *rt = &r->routes[p.route];
        if (rt->dealer && rt->gen == p.gen && rt->received == p.received_before) {
            size_t k = 0;
            while (k < *n_silent && silent[k] != (int)p.route)
                k++;
            if (k == *n_silent)
                silent[(*n_silent)++] = (int)p.route;
        }
        sc_reply_text(r, &p, "504", "Request time out", outs, &n);
    }
    /* After a burst, give the table back (the sweep scans all of it several times a second). */
    if (!*more && r->pend_cap > SC_PEND_MIN && r->pend_count * 8 < r->pend_cap)
        sc_pend_resize(r, r->pend_cap / 2); /* on failure the old table simply stays */
    return n;
}
