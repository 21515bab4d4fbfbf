/* libFuzzer target: the node's onion relay engine (csrc/relay.c) on fuzzed ZMQ traffic.
 *
 * libzmq is replaced by an in-memory table (the engine reaches libzmq only through the
 * sc_zmq function table), so the fuzzer plays both the peers that send requests to our
 * ROUTER and the next hops that answer on our DEALERs.  Input: a list of operations
 *   0 [u16 len][frame]              a request frame on the ROUTER, as bytes
 *   1 [u8 hop][u16 len][plaintext]  an `onion` request whose layer is <plaintext> encrypted
 *                                   for the engine's key (so the relay path runs)
 *   2 [u8 route][u8 k][u16 len][f]  a frame on route's DEALER; if k is odd its request id is
 *                                   replaced by the engine's own id number k/2 + 1
 *   3 [u8 max] read_router  4 [u8 route] read_dealer  5 expire (now)  6 expire (far future)
 *   7 [u8 flags]  make the ROUTER (bit 0) / DEALERs (bit 1) refuse sends (a full queue);
 *                 bit 2: the askers on the ROUTER say they read batches
 *   8 [u16 len][frame]              a multipart message on the ROUTER
 *   9 [u8 k][u8 where] k items      one batch message (wire.py) of k frames, each item
 *                                   [u8 t] then as op 0 (t even) or op 1 (t odd, onion
 *                                   request); on the ROUTER, or (where bit 0) on the DEALER
 *                                   of route (where >> 1) & 1 with ids made ours as op 2's
 * then everything is drained as the binding would, and the engine freed.  ASan/UBSan watch
 * every buffer; the checks below are the record contract of relay.h. */
#include <errno.h>

#include "fuzz_common.h"
#include "relay.h"

typedef struct fmsg {
    uint8_t *data;
    size_t size;
    int more;
} fmsg;
_Static_assert(sizeof(fmsg) <= sizeof(sc_zmq_msg), "fake message must fit zmq_msg_t");

#define QMAX 64
typedef struct fsock {
    fmsg q[QMAX];
    size_t head, n;
    int refuse;
    int has_peer;
    int batches; /* the ROUTER's askers say they read batches */
} fsock;

static int f_errno;
static fsock f_router, f_dealer[2];

static fmsg *M(sc_zmq_msg *m) { return (fmsg *)(void *)m->opaque; }
static const fmsg *CM(const sc_zmq_msg *m) { return (const fmsg *)(const void *)m->opaque; }

static void f_version(int *a, int *b, int *c) { *a = 4, *b = 3, *c = 5; }
static int f_errno_(void) { return f_errno; }
static int f_init(sc_zmq_msg *m) { memset(m, 0, sizeof *m); return 0; }
static int f_init_size(sc_zmq_msg *m, size_t size)
{
    memset(m, 0, sizeof *m);
    M(m)->data = malloc(size ? size : 1);
    M(m)->size = size;
    return M(m)->data ? 0 : -1;
}
static int f_close(sc_zmq_msg *m) { free(M(m)->data); memset(m, 0, sizeof *m); return 0; }
static int f_move(sc_zmq_msg *d, sc_zmq_msg *s) { f_close(d); *M(d) = *M(s); memset(s, 0, sizeof *s); return 0; }
static void *f_data(sc_zmq_msg *m) { return M(m)->data; }
static size_t f_size(const sc_zmq_msg *m) { return CM(m)->size; }
static int f_more(const sc_zmq_msg *m) { return CM(m)->more; }
static int f_recv(sc_zmq_msg *m, void *sock, int flags)
{
    fsock *s = sock;
    (void)flags;
    if (!s->n) {
        f_errno = EAGAIN;
        return -1;
    }
    f_close(m);
    *M(m) = s->q[s->head];
    memset(&s->q[s->head], 0, sizeof s->q[0]);
    s->head = (s->head + 1) % QMAX;
    s->n--;
    return (int)M(m)->size;
}
static int f_msg_send(sc_zmq_msg *m, void *sock, int flags)
{
    fsock *s = sock;
    (void)flags;
    if (s->refuse) {
        f_errno = EAGAIN;
        return -1;
    }
    int n = (int)M(m)->size;
    f_close(m); /* libzmq takes it */
    return n;
}
static const char *f_gets(const sc_zmq_msg *m, const char *prop)
{
    (void)m;
    if (strcmp(prop, SC_RELAY_BATCH_PROPERTY) == 0)
        return f_router.batches ? "1" : NULL;
    return strcmp(prop, "User-Id") == 0 && f_router.has_peer
               ? "abababababababababababababababababababababababababababababababab"
               : NULL;
}
static int f_send(void *sock, const void *buf, size_t len, int flags)
{
    fsock *s = sock;
    (void)buf, (void)flags;
    if (s->refuse) {
        f_errno = EAGAIN;
        return -1;
    }
    return (int)len;
}

static const sc_zmq f_zmq = {f_version, f_errno_, f_init, f_init_size, f_close, f_move, f_data,
                             f_size, f_more, f_recv, f_msg_send, f_gets, f_send, NULL};

static void push(fsock *s, const uint8_t *p, size_t len, int more)
{
    if (s->n == QMAX)
        return;
    fmsg *m = &s->q[(s->head + s->n) % QMAX];
    m->data = malloc(len ? len : 1);
    memcpy(m->data, p, len);
    m->size = len;
    m->more = more;
    s->n++;
}

static void push_request(const uint8_t *frame, size_t len, int multipart)
{
    if (f_router.n + 3 > QMAX)
        return;
    push(&f_router, (const uint8_t *)"ident", 5, 1);
    push(&f_router, frame, len, multipart);
    if (multipart)
        push(&f_router, frame, len > 8 ? 8 : len, 0);
}

static void clear(fsock *s)
{
    while (s->n) {
        free(s->q[s->head].data);
        s->head = (s->head + 1) % QMAX;
        s->n--;
    }
    s->head = 0;
    s->refuse = 0;
}

#define BATCH 8
#define RECORDS SC_RELAY_RECORDS(BATCH)
static sc_relay_out outs[RECORDS];

static void check_records(sc_relay *r, long n)
{
    FUZZ_CHECK(n <= (long)RECORDS);
    for (long i = 0; i < n; i++) {
        sc_relay_out *o = &outs[i];
        if (o->kind == SC_OUT_PEELED && o->status == SC_PEEL_RELAY) {
            const uint8_t *pt = (const uint8_t *)f_data(&o->out) + SC_RELAY_PT_OFF;
            FUZZ_CHECK(o->has_out && o->dest_hex >= pt && o->dest_hex + 64 <= pt + o->pt_len);
        }
        if (o->kind == SC_OUT_PEELED)
            FUZZ_CHECK(o->body_off + o->body_len <= f_size(&o->frame));
        sc_relay_out_close(r, o);
    }
    for (size_t i = 0; i < r->n_touched; i++)
        r->routes[r->touched[i]].touched = 0;
    r->n_touched = 0;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* An `onion` request frame whose layer is `pt` encrypted for the engine (malloc'd; NULL if
 * the plaintext cannot be wrapped). */
static uint8_t *onion_frame(uint8_t hop, const uint8_t *pt, size_t len, size_t *out_size)
{
    size_t body_len;
    uint8_t *body = fuzz_wrap(pt, len, (hop & 0x80) ? SC_ONION_AES_GCM : SC_ONION_XCHACHA20, hop, &body_len);
    if (!body)
        return NULL;
    char digits[4];
    size_t dl = (size_t)snprintf(digits, sizeof digits, "%u", (unsigned)(hop & 0x1f));
    size_t size = SC_WIRE_HEADER + 12 + 5 + body_len + dl;
    uint8_t *f = malloc(size);
    uint32_t lens[3] = {5, (uint32_t)body_len, (uint32_t)dl};
    f[0] = 1, f[1] = SC_WIRE_REQUEST;
    for (int i = 0; i < 8; i++)
        f[2 + i] = (uint8_t)(0x40 + i);
    f[10] = 3, f[11] = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++)
            f[12 + 4 * k + i] = (uint8_t)(lens[k] >> (8 * i));
    memcpy(f + 24, "onion", 5);
    memcpy(f + 29, body, body_len);
    memcpy(f + 29 + body_len, digits, dl);
    free(body);
    *out_size = size;
    return f;
}

static void onion_request(uint8_t hop, const uint8_t *pt, size_t len)
{
    size_t size;
    uint8_t *f = onion_frame(hop, pt, len, &size);
    if (f)
        push_request(f, size, 0);
    free(f);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int b = 0; b < 4; b++)
        p[b] = (uint8_t)(v >> (8 * b));
}

/* Op 9: parse k items at data[*i..), push them as one batch; 0 if the input ran out. */
static int batch_op(const uint8_t *data, size_t size, size_t *i)
{
    if (size - *i < 2)
        return 0;
    size_t k = data[*i] % (SC_WIRE_MAX_BATCH + 2), where = data[*i + 1];
    *i += 2;
    uint8_t *frames[SC_WIRE_MAX_BATCH + 1];
    size_t lens[SC_WIRE_MAX_BATCH + 1], got = 0, total = SC_WIRE_HEADER;
    int ok = 1;
    while (got < k) {
        if (size - *i < 1) {
            ok = 0;
            break;
        }
        uint8_t t = data[(*i)++];
        size_t hdr = (t & 1) ? 3 : 2;
        if (size - *i < hdr) {
            ok = 0;
            break;
        }
        size_t len = le16(data + *i + hdr - 2);
        const uint8_t *p = data + *i + hdr;
        *i += hdr;
        len = len > size - *i ? size - *i : len;
        *i += len;
        uint8_t *f;
        if (t & 1) {
            f = onion_frame(data[*i - len - 3], p, len, &len);
            if (!f)
                continue; /* k counts only frames made */
        } else {
            f = malloc(len ? len : 1);
            memcpy(f, p, len);
        }
        if ((where & 1) && (t & 2) && len >= SC_WIRE_HEADER) {
            uint64_t id = SC_RELAY_OWN_BIT | (uint64_t)(t / 4 + 1);
            for (int b = 0; b < 8; b++)
                f[2 + b] = (uint8_t)(id >> (8 * b));
        }
        frames[got] = f;
        lens[got++] = len;
        total += 4 + len;
    }
    uint8_t *m = malloc(total);
    m[0] = 1, m[1] = SC_WIRE_BATCH;
    memset(m + 2, 0, 8);
    m[10] = (uint8_t)got, m[11] = (uint8_t)(got >> 8);
    size_t off = SC_WIRE_HEADER + 4 * got;
    for (size_t c = 0; c < got; c++) {
        put32(m + SC_WIRE_HEADER + 4 * c, (uint32_t)lens[c]);
        memcpy(m + off, frames[c], lens[c]);
        off += lens[c];
        free(frames[c]);
    }
    if (where & 1)
        push(&f_dealer[(where >> 1) & 1], m, total, 0);
    else
        push_request(m, total, 0);
    free(m);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const sc_sodium *lib = fuzz_lib();
    static sc_relay r; /* large (the route table): not on the stack */
    int dealers[2];
    int more, silent[BATCH];
    size_t consumed, n_silent;
    long n;
    f_router.has_peer = 1;
    if (sc_relay_init(&r, lib, &f_zmq, fuzz_secret, &f_router, 1.0, BATCH) != 0)
        return 0;
    uint8_t key[32];
    memset(key, 0x11, 32);
    dealers[0] = sc_relay_add_route(&r, key, &f_dealer[0], 1);
    memset(key, 0x22, 32);
    dealers[1] = sc_relay_add_route(&r, key, &f_dealer[1], 0); /* an older next node */
    FUZZ_CHECK(dealers[0] >= 0 && dealers[1] >= 0);
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        size_t len;
        switch (op % 10) {
        case 0:
        case 8:
            if (size - i < 2)
                goto drain;
            len = le16(data + i), i += 2;
            len = len > size - i ? size - i : len;
            push_request(data + i, len, op % 10 == 8);
            i += len;
            break;
        case 1:
            if (size - i < 3)
                goto drain;
            {
                uint8_t hop = data[i];
                len = le16(data + i + 1), i += 3;
                len = len > size - i ? size - i : len;
                onion_request(hop, data + i, len);
                i += len;
            }
            break;
        case 2:
            if (size - i < 4)
                goto drain;
            {
                fsock *d = &f_dealer[data[i] & 1];
                uint8_t k = data[i + 1];
                len = le16(data + i + 2), i += 4;
                len = len > size - i ? size - i : len;
                uint8_t *f = malloc(len ? len : 1);
                memcpy(f, data + i, len);
                if ((k & 1) && len >= SC_WIRE_HEADER) {
                    uint64_t id = SC_RELAY_OWN_BIT | (uint64_t)(k / 2 + 1);
                    for (int b = 0; b < 8; b++)
                        f[2 + b] = (uint8_t)(id >> (8 * b));
                }
                push(d, f, len, 0);
                free(f);
                i += len;
            }
            break;
        case 3:
            if (size - i < 1)
                goto drain;
            n = sc_relay_read_router(&r, (size_t)data[i++] % (BATCH + 2), outs, &more);
            if (n > 0)
                check_records(&r, n);
            break;
        case 4:
            if (size - i < 1)
                goto drain;
            n = sc_relay_read_dealer(&r, dealers[data[i++] & 1], BATCH, outs, &more, &consumed);
            if (n > 0)
                check_records(&r, n);
            break;
        case 5:
        case 6:
            n = sc_relay_expire(&r, op % 10 == 5 ? sc_relay_now_ns() : INT64_MAX, BATCH, outs, &more,
                                silent, &n_silent);
            FUZZ_CHECK(n_silent <= BATCH);
            check_records(&r, n);
            break;
        case 7:
            if (size - i < 1)
                goto drain;
            f_router.refuse = data[i] & 1;
            f_dealer[0].refuse = f_dealer[1].refuse = (data[i] >> 1) & 1;
            f_router.batches = (data[i] >> 2) & 1;
            i++;
            break;
        case 9:
            if (!batch_op(data, size, &i))
                goto drain;
            break;
        }
    }
drain:
    f_router.refuse = f_dealer[0].refuse = f_dealer[1].refuse = 0;
    for (int guard = 0; guard < 64 && (f_router.n || f_dealer[0].n || f_dealer[1].n); guard++) {
        n = sc_relay_read_router(&r, BATCH, outs, &more);
        if (n > 0)
            check_records(&r, n);
        for (int d = 0; d < 2; d++) {
            n = sc_relay_read_dealer(&r, dealers[d], BATCH, outs, &more, &consumed);
            if (n > 0)
                check_records(&r, n);
        }
    }
    do {
        n = sc_relay_expire(&r, INT64_MAX, BATCH, outs, &more, silent, &n_silent);
        check_records(&r, n);
    } while (more);
    FUZZ_CHECK(r.pend_count == 0);
    if (getenv("SC_FUZZ_VERBOSE")) /* to see what a seed reaches */
        fprintf(stderr, "relayed %llu answered %llu timed out %llu invalid replies %llu queued %llu\n",
                (unsigned long long)r.relayed, (unsigned long long)r.answered,
                (unsigned long long)r.timed_out, (unsigned long long)r.invalid_replies,
                (unsigned long long)r.queued);
    sc_relay_free(&r);
    clear(&f_router);
    clear(&f_dealer[0]);
    clear(&f_dealer[1]);
    return 0;
}
