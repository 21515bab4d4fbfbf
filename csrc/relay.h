/* relay.h: the onion relay's hot path in C, on the sockets pyzmq created.
 *
 * Why: a middle hop's work is receive, peel, forward, receive the reply, return it.  In
 * Python, with pyzmq, the bookkeeping around the peel (message objects, frame codec,
 * callbacks, dict lookups) cost as much CPU as the X25519 + AEAD of the peel itself.  Here
 * a relayed hop costs libzmq's own calls plus the peel and creates no Python object.
 *
 * Split of work with Python (session_core/node/fast_relay.py): this engine takes only the
 * common case whole: an `onion` request in our one-frame wire format (node/wire.py) whose
 * layer the C peel reads as a relay to a node we hold a live connection ("route") to.
 * Everything else is handed back as a leftover record, unpeeled (the Python code then
 * decides exactly as it always did, error texts included) or peeled (so no layer is
 * decrypted twice).  Replies to the requests it forwarded (request ids with bit 63 set;
 * Python's own ids count up from 1) are returned to the asker by the engine, which also
 * answers them 504 at their deadline.  All calls come from one thread (the node's event
 * loop); no call touches Python, so the binding releases the GIL around them.
 */
#ifndef SC_RELAY_H
#define SC_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "onion.h"
#include "zmq_loader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_RELAY_IDENT_MAX 32      /* ROUTER routing ids we keep inline (libzmq makes 5-byte ones) */
#define SC_RELAY_MAX_ROUTES 4096   /* next hops with a live connection */
#define SC_RELAY_OWN_BIT (UINT64_C(1) << 63)
#define SC_RELAY_MAX_HOPS 15       /* MAX_ONION_HOPS */
#define SC_RELAY_MAX_BODY (16u * 1024u * 1024u) /* MAX_BODY_SIZE */
#define SC_RELAY_STATUS_DIGITS 18 /* longest status a next hop may answer (onion_relay.py) */
#define SC_RELAY_PEER_MAX 64       /* a User-Id is a 64-char hex key */

/* Wire format of node/wire.py (little-endian): version 1, kind, u64 request id, u16 part
 * count, u32 per part, the parts.  Parsed with exactly the checks wire.decode makes. */
#define SC_WIRE_HEADER 12
#define SC_WIRE_MAX_PARTS 4096
#define SC_WIRE_MAX_FRAME (512u * 1024u * 1024u)
enum { SC_WIRE_REQUEST = 0, SC_WIRE_REPLY = 1, SC_WIRE_ERROR = 2, SC_WIRE_BATCH = 3 };
/* A batch (wire.py): kind 3, request id 0, 2..SC_WIRE_MAX_BATCH parts, each a whole frame
 * that is not itself a batch.  The engine reads the frames of a batch as if each came alone
 * and sends what it has for one peer in one pass as a batch (why: wire.py). */
#define SC_WIRE_MAX_BATCH 256
typedef struct sc_wire {
    int kind;
    uint64_t req_id;
    size_t n;
    const uint8_t *part[3]; /* the first three parts */
    size_t len[3];
} sc_wire;
/* 0: a frame wire.decode accepts (parts beyond the third are not recorded); -1: it refuses. */
int sc_wire_parse(const uint8_t *frame, size_t size, sc_wire *w);
/* The number of frames in a batch wire.unbatch accepts, 0 if `frame` is not one. */
size_t sc_wire_batch(const uint8_t *frame, size_t size);

typedef struct sc_relay_route {
    uint8_t key[32]; /* the next node's Ed25519 public key */
    void *dealer;    /* NULL: a free slot */
    uint32_t gen;    /* bumped when the slot is reused */
    uint64_t received; /* frames read from this dealer through the engine */
    int batches;       /* the next node reads batches (its handshake said so) */
    int touched;     /* listed in sc_relay.touched */
} sc_relay_route;

typedef struct sc_relay_pending {
    uint64_t id; /* 0: an empty slot */
    uint64_t orig_id;
    int64_t deadline_ns;
    uint64_t received_before;
    uint32_t route, gen;
    uint8_t ident_len;
    uint8_t batch_ok; /* the asker reads batches */
    uint8_t ident[SC_RELAY_IDENT_MAX];
} sc_relay_pending;

/* A leftover record for the binding: it owns every sc_zmq_msg flagged present. */
enum {
    SC_OUT_HANDLED = 0, /* nothing for Python (internal) */
    SC_OUT_REQUEST,     /* a ROUTER message, untouched: ident, frame (or none: multipart), peer */
    SC_OUT_PEELED,      /* an onion request peeled here: + status, hop, out (plaintext) */
    SC_OUT_REPLY,       /* a DEALER frame that is not ours */
    SC_OUT_QUEUE        /* a reply the ROUTER could not take now (its peer's queue is full) */
};
typedef struct sc_relay_out {
    int kind;
    int has_frame, has_out, multipart;
    sc_zmq_msg ident, frame, out;
    const char *peer; /* ZAP's User-Id of the frame (hex key), or NULL; lives with frame */
    /* PEELED */
    int status; /* SC_PEEL_RELAY / SC_PEEL_OPENED / SC_PEEL_BAD */
    int hop;    /* the hop the request arrived with */
    size_t body_off, body_len; /* the onion layer inside frame */
    size_t pt_len;              /* plaintext at out + SC_RELAY_PT_OFF */
    const uint8_t *dest_hex;    /* RELAY: 64 hex chars inside out */
    uint8_t key[32];
    int enc;
    /* QUEUE */
    uint8_t ident_len;
    uint8_t ident_bytes[SC_RELAY_IDENT_MAX];
    /* internal: a frame taken out of a batch keeps its own copy of the batch's User-Id */
    char peer_copy[SC_RELAY_PEER_MAX + 1];
    int batch_ok;    /* the asker reads batches (metadata X-SC-Batch, or it sent one) */
    int route;       /* the route a prepared forward goes to */
    uint64_t fwd_id; /* and its request id */
} sc_relay_out;

/* Records an `outs` array must hold for an engine made with `batch` (a batch read in one
 * call expands into one record per frame). */
#define SC_RELAY_RECORDS(batch) ((batch) + SC_WIRE_MAX_BATCH + 1)

/* Where the plaintext of a peeled layer sits in the outgoing request frame: header, three
 * lengths, "onion"; the new hop's digits follow the plaintext. */
#define SC_RELAY_PT_OFF (SC_WIRE_HEADER + 12 + 5)

typedef struct sc_relay {
    const sc_sodium *sodium;
    const sc_zmq *zmq;
    uint8_t secret[32], public_key[32];
    void *router;
    int64_t timeout_ns;
    sc_relay_route routes[SC_RELAY_MAX_ROUTES];
    uint32_t order[SC_RELAY_MAX_ROUTES]; /* live route slots sorted by key */
    size_t n_routes;
    int touched[SC_RELAY_MAX_ROUTES]; /* slots sent on since the binding last looked */
    size_t n_touched;
    sc_relay_pending *pend; /* open addressing, linear probing, power-of-two size */
    size_t pend_cap, pend_count;
    uint64_t next_id;
    int router_touched;
    /* counters (read by /status and the tests) */
    uint64_t relayed, answered, timed_out, invalid_replies, queued;
    /* scratch of one read_router call */
    sc_onion_peel_item *items;
    size_t *item_rec;
    size_t scratch_cap; /* SC_RELAY_RECORDS(batch) */
    size_t batch;
    size_t *fwd;        /* records of prepared forwards */
    struct sc_relay_send *rsend; /* replies of one read_dealer call, sent per asker at its end */
    struct sc_reply_key *rkeys;  /* and their order */
} sc_relay;

/* 0, or -1 (out of memory, or a timeout not in (0, 1e6] s, or batch 0).  `batch` bounds the
 * records of one call. */
int sc_relay_init(sc_relay *r, const sc_sodium *sodium, const sc_zmq *zmq, const uint8_t secret[32],
                  void *router, double timeout_s, size_t batch);
void sc_relay_free(sc_relay *r);

/* A route to `key` over `dealer` (`batches`: the next node reads batches): its slot, or -1
 * if the table is full or key is taken. */
int sc_relay_add_route(sc_relay *r, const uint8_t key[32], void *dealer, int batches);
/* The ZMTP metadata property by which a peer says it reads batches (value "1"). */
#define SC_RELAY_BATCH_PROPERTY "X-SC-Batch"
/* Forget a slot: requests in flight on it stay pending until their deadline (504). */
void sc_relay_remove_route(sc_relay *r, int slot);

/* Read up to `max` ROUTER messages (at most the init batch) and relay what the engine can.
 * outs (SC_RELAY_RECORDS(batch) long) gets a record per message, and one per frame of a
 * batch (the batch's own record is then HANDLED); SC_OUT_HANDLED for the ones relayed.
 * Forwards to one route in one call go as one batch.  Returns the number of records,
 * *more = 1 if it stopped before EAGAIN, -1 if the socket failed (closed).
 * touched[0..n_touched) lists the route slots sent on (the binding resets it). */
long sc_relay_read_router(sc_relay *r, size_t max, sc_relay_out *outs, int *more);
/* Read up to `max` messages of the route's dealer (a batch counts its frames): replies to
 * our requests go back to their askers, one batch per asker at the end of the call; other
 * frames become REPLY records.  *consumed = frames the engine used itself. */
long sc_relay_read_dealer(sc_relay *r, int slot, size_t max, sc_relay_out *outs, int *more,
                          size_t *consumed);
/* Answer 504 to at most `max` requests past their deadline at `now_ns` (CLOCK_MONOTONIC).
 * silent[] gets (deduplicated, at most max) the route slots that sent nothing back since
 * such a request went out.  Returns records (QUEUE), *more = 1 if more may be expired. */
long sc_relay_expire(sc_relay *r, int64_t now_ns, size_t max, sc_relay_out *outs, int *more,
                     int *silent, size_t *n_silent);
int64_t sc_relay_now_ns(void);

/* Close the messages a record owns (the binding calls it after copying what it needs). */
void sc_relay_out_close(const sc_relay *r, sc_relay_out *o);

#ifdef __cplusplus
}
#endif
#endif /* SC_RELAY_H */
