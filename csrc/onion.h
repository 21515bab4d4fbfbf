/* onion.h: Session v2 onion-request layer crypto (docs/interop.md §3.1, §3.3) on libsodium.
 *
 * Plain C, no Python, no global state: every call takes the libsodium table to use.
 * Layer ciphertext = nonce ‖ AEAD(plaintext) ‖ tag(16), no associated data:
 *   SC_ONION_AES_GCM    nonce 12, key = HMAC-SHA256(key "LOKI", X25519(a, B))
 *   SC_ONION_XCHACHA20  nonce 24, key = BLAKE2b-256(X25519(a, B) ‖ A ‖ B)
 * where (a, A) is the client's ephemeral pair and B the hop's public key.
 * Return values: 0 success, -1 failure (never says why: see OnionDecryptError).
 */
#ifndef SC_ONION_H
#define SC_ONION_H

#include <stddef.h>
#include <stdint.h>

#include "onion_json.h"
#include "sodium_loader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_ONION_TAG_BYTES 16
#define SC_ONION_MAX_LAYERS 16 /* 15 hops + the destination */

size_t sc_onion_nonce_bytes(int enc);

/* key = KDF of the shared secret (see above); client_pub = A, server_pub = B. */
void sc_onion_kdf(const sc_sodium *lib, int enc, const uint8_t shared[32],
                  const uint8_t client_pub[32], const uint8_t server_pub[32], uint8_t key[32]);

/* out (len + nonce + 16 bytes) = nonce ‖ ct ‖ tag, fresh random nonce. */
int sc_onion_encrypt(const sc_sodium *lib, int enc, const uint8_t key[32], const uint8_t *msg,
                     size_t len, uint8_t *out);
/* out (len - nonce - 16 bytes) = plaintext of nonce ‖ ct ‖ tag. */
int sc_onion_decrypt(const sc_sodium *lib, int enc, const uint8_t key[32], const uint8_t *in,
                     size_t len, uint8_t *out);

/* A hop opens a blob: ECDH(secret, eph_pub), KDF, decrypt into out; key_out gets the layer
 * key (for the reply).  public_key is the hop's own public key (xchacha20 KDF input). */
int sc_onion_open(const sc_sodium *lib, int enc, const uint8_t secret[32],
                  const uint8_t public_key[32], const uint8_t eph_pub[32], const uint8_t *blob,
                  size_t blob_len, uint8_t *out, uint8_t key_out[32]);

/* n fresh X25519 key pairs, 32 bytes each, concatenated. */
int sc_onion_keypairs(const sc_sodium *lib, size_t n, uint8_t *secrets, uint8_t *publics);

/* The whole onion in one buffer (layout in onion.c).  Layer 0 is the destination, layer
 * layers-1 the guard; jsons[k] is the JSON that follows blob k.  framed: layer 0's
 * plaintext is [u32 len][payload][final_json] (node destination) instead of the payload
 * alone (server destination). */
typedef struct sc_onion_spec {
    int enc;
    int framed;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *final_json;
    size_t final_json_len;
    size_t layers;
    const uint8_t *recipients;  /* 32 * layers */
    const uint8_t *eph_secrets; /* 32 * layers */
    const uint8_t *eph_publics; /* 32 * layers */
    /* JSON k = json_heads[k] ‖ jsons[k]; a head may be NULL with length 0. */
    const uint8_t *json_heads[SC_ONION_MAX_LAYERS];
    size_t json_head_lens[SC_ONION_MAX_LAYERS];
    const uint8_t *jsons[SC_ONION_MAX_LAYERS];
    size_t json_lens[SC_ONION_MAX_LAYERS];
} sc_onion_spec;

/* Bytes of the finished onion, or 0 if the spec is invalid or the size overflows 2^32. */
size_t sc_onion_sealed_size(const sc_onion_spec *spec);
/* Build into out (exactly sc_onion_sealed_size bytes); key0 = the destination layer's key.
 * -1 if a recipient key is a low-order point. */
int sc_onion_seal(const sc_sodium *lib, const sc_onion_spec *spec, uint8_t *out, size_t out_len,
                  uint8_t key0[32]);

/* The whole client build in C (onion.c): fresh ephemeral keys, every routing JSON and the
 * hex in it, then sc_onion_seal.  Keys arrive as the hex strings Node holds, so the caller
 * does no per-layer work at all.  Layer k's JSON (the one beside blob k) is
 *   k = layers-1 (guard)          {"ephemeral_key":"<hex>","enc_type":"<name>"}
 *   k = 0, server destination     server_json ‖ "ephemeral_key":"<hex>","enc_type":"<name>"}
 *   otherwise                     {"destination":"<ed25519 k>","ephemeral_key":...}
 * with server_json = the exit members up to a trailing comma ('{"host":"h",...,"port":443,'). */
typedef struct sc_onion_route {
    int enc;
    size_t layers;           /* 1..SC_ONION_MAX_LAYERS: hops + the destination */
    const uint8_t *payload;
    size_t payload_len;
    const char *x25519_hex;  /* 64 * layers: layer 0 = destination, layers-1 = guard */
    const char *ed25519_hex; /* 64 * (layers-1): Ed25519 key named beside blob k; for a server
                                destination entry 0 is not read */
    const uint8_t *server_json; /* NULL: a node destination (framed payload) */
    size_t server_json_len;
} sc_onion_route;

/* Bytes sc_onion_build writes, or 0 if the route is invalid / too large to frame. */
size_t sc_onion_route_size(const sc_onion_route *route);
/* -1: bad hex (nothing written that matters) or a low-order recipient key. */
int sc_onion_build(const sc_sodium *lib, const sc_onion_route *route, uint8_t *out,
                   size_t out_len, uint8_t key0[32]);

/* Batch peel (onion.c).  The caller ran sc_onion_fast_outer on each body and set its
 * status: SC_PEEL_PENDING (to be opened here: blob_len, eph, enc set and out holding
 * blob_len - nonce - 16 bytes) or SC_PEEL_PYTHON (left to the Python reference peel: the
 * C scanner is unsure, or aes-gcm without libsodium AES-GCM).  sc_onion_peel_batch opens
 * every PENDING item with one secret and sets its status: SC_PEEL_RELAY (a valid relay
 * layer; dest_hex points at 64 hex chars inside out), SC_PEEL_OPENED (decrypted, key set;
 * the reference decides what the layer is) or SC_PEEL_BAD (does not decrypt:
 * OnionDecryptError); other items are left as they are.  No allocation, no shared state:
 * threads may run disjoint slices of one array at the same time. */
enum { SC_PEEL_PYTHON = 0, SC_PEEL_PENDING, SC_PEEL_RELAY, SC_PEEL_OPENED, SC_PEEL_BAD };
typedef struct sc_onion_peel_item {
    const uint8_t *body;
    size_t blob_len;
    uint8_t *out;
    const uint8_t *dest_hex;
    uint8_t eph[32];
    uint8_t key[32];
    int enc;
    int status;
} sc_onion_peel_item;
void sc_onion_peel_batch(const sc_sodium *lib, const uint8_t secret[32],
                         const uint8_t public_key[32], sc_onion_peel_item *items, size_t n);

/* Benchmark support: nanoseconds for `iters` runs of one primitive, same library. */
enum {
    SC_PRIM_KEYGEN = 0,  /* randombytes(32) + X25519 base point */
    SC_PRIM_X25519 = 1,
    SC_PRIM_KDF = 2,     /* of `enc` */
    SC_PRIM_NONCE = 3,   /* randombytes(nonce bytes of `enc`) */
    SC_PRIM_ENCRYPT = 4, /* AEAD of `enc` over `size` bytes, detached */
    SC_PRIM_DECRYPT = 5
};
int64_t sc_onion_bench_primitive(const sc_sodium *lib, int prim, int enc, size_t size,
                                 uint64_t iters, uint8_t *scratch /* 2 * size + 128 bytes */);
/* Benchmark support: nanoseconds for `iters` runs of the primitive sequence that a build
 * (peel = 0: per layer k keygen, X25519, KDF, nonce, AEAD encrypt of sizes[k] bytes) or a
 * peel (peel = 1: X25519, KDF, AEAD decrypt of sizes[0] bytes, a valid ciphertext) costs,
 * with no framing, JSON, allocation or Python: the speed of light, timed as one loop so it
 * compares like with like against one timed build/peel.  scratch: 2 * max(sizes) + 128. */
int64_t sc_onion_bench_sequence(const sc_sodium *lib, int enc, const size_t *sizes, size_t layers,
                                int peel, uint64_t iters, uint8_t *scratch);
/* The clock sc_onion_bench_primitive reads, in ns: this thread's CPU time (what the
 * benchmark's Python side reads with time.thread_time, so the ratio compares like with
 * like and a busy neighbour on a shared machine does not count). */
int64_t sc_onion_thread_ns(void);

#ifdef __cplusplus
}
#endif
#endif /* SC_ONION_H */
