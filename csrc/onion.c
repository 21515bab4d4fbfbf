/* onion.c: onion layer crypto and the in-place onion builder (see onion.h).
 *
 * Layout of a built onion with L layers, nb = nonce bytes, all lengths known in advance:
 *
 *   [u32 N_{L-1}] [nonce | pt_{L-1} | tag] [json_{L-1}]          the guard's frame
 *   pt_k   = [u32 N_{k-1}] [nonce | pt_{k-1} | tag] [json_{k-1}]  for k >= 1
 *   pt_0   = [u32 len P] [P] [final_json]   or just  P
 *
 * A stream AEAD's ciphertext sits exactly where its plaintext was, so the finished onion
 * is every header, JSON and the payload written once at their final offsets, then each
 * layer encrypted in place from the innermost out.  No buffer but the output is touched.
 */
/* clock_gettime under -std=c11 */
#define _POSIX_C_SOURCE 200809L
#include "onion.h"

#include <string.h>
#include <time.h>

static void sc_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

size_t sc_onion_nonce_bytes(int enc) { return enc == SC_ONION_AES_GCM ? 12 : 24; }

void sc_onion_kdf(const sc_sodium *lib, int enc, const uint8_t shared[32],
                  const uint8_t client_pub[32], const uint8_t server_pub[32], uint8_t key[32])
{
    if (enc == SC_ONION_AES_GCM) {
        /* HMAC zero-pads a key shorter than the block, so the 4-byte key "LOKI" equals
         * "LOKI" + 28 zero bytes: the fixed 32-byte key crypto_auth_hmacsha256 takes. */
        static const uint8_t loki[32] = {'L', 'O', 'K', 'I'};
        lib->hmacsha256(key, shared, 32, loki);
    } else {
        uint8_t in[96];
        memcpy(in, shared, 32);
        memcpy(in + 32, client_pub, 32);
        memcpy(in + 64, server_pub, 32);
        lib->blake2b(key, 32, in, sizeof in, NULL, 0);
        lib->memzero(in, sizeof in);
    }
}

/* In place allowed: c == m.  mac follows the ciphertext. */
static int sc_aead_encrypt(const sc_sodium *lib, int enc, const uint8_t key[32],
                           const uint8_t *nonce, const uint8_t *m, size_t len, uint8_t *c)
{
    sc_aead_enc_detached_fn f = enc == SC_ONION_AES_GCM ? lib->aesgcm_encrypt : lib->xchacha_encrypt;
    if (enc == SC_ONION_AES_GCM && !lib->aesgcm_ok)
        return -1;
    return f(c, c + len, NULL, m, (unsigned long long)len, NULL, 0, NULL, nonce, key) == 0 ? 0 : -1;
}

int sc_onion_encrypt(const sc_sodium *lib, int enc, const uint8_t key[32], const uint8_t *msg,
                     size_t len, uint8_t *out)
{
    size_t nb = sc_onion_nonce_bytes(enc);
    lib->randombytes_buf(out, nb);
    return sc_aead_encrypt(lib, enc, key, out, msg, len, out + nb);
}

int sc_onion_decrypt(const sc_sodium *lib, int enc, const uint8_t key[32], const uint8_t *in,
                     size_t len, uint8_t *out)
{
    size_t nb = sc_onion_nonce_bytes(enc);
    if (len < nb + SC_ONION_TAG_BYTES)
        return -1;
    if (enc == SC_ONION_AES_GCM && !lib->aesgcm_ok)
        return -1;
    size_t clen = len - nb - SC_ONION_TAG_BYTES;
    sc_aead_dec_detached_fn f = enc == SC_ONION_AES_GCM ? lib->aesgcm_decrypt : lib->xchacha_decrypt;
    return f(out, NULL, in + nb, (unsigned long long)clen, in + nb + clen, NULL, 0, in, key) == 0 ? 0 : -1;
}

int sc_onion_open(const sc_sodium *lib, int enc, const uint8_t secret[32],
                  const uint8_t public_key[32], const uint8_t eph_pub[32], const uint8_t *blob,
                  size_t blob_len, uint8_t *out, uint8_t key_out[32])
{
    uint8_t shared[32];
    if (blob_len < sc_onion_nonce_bytes(enc) + SC_ONION_TAG_BYTES)
        return -1; /* before the X25519: nothing to open */
    /* libsodium returns -1 when the result is all zero (a low-order point). */
    if (lib->scalarmult(shared, secret, eph_pub) != 0) {
        lib->memzero(shared, sizeof shared);
        return -1;
    }
    sc_onion_kdf(lib, enc, shared, eph_pub, public_key, key_out);
    lib->memzero(shared, sizeof shared);
    return sc_onion_decrypt(lib, enc, key_out, blob, blob_len, out);
}

int sc_onion_keypairs(const sc_sodium *lib, size_t n, uint8_t *secrets, uint8_t *publics)
{
    lib->randombytes_buf(secrets, 32 * n);
    for (size_t i = 0; i < n; i++)
        if (lib->scalarmult_base(publics + 32 * i, secrets + 32 * i) != 0)
            return -1;
    return 0;
}

static size_t sc_json_len(const sc_onion_spec *s, size_t k)
{
    return s->json_head_lens[k] + s->json_lens[k];
}

/* Write JSON k (head ‖ body) at p. */
static void sc_put_json(const sc_onion_spec *s, size_t k, uint8_t *p)
{
    if (s->json_head_lens[k])
        memcpy(p, s->json_heads[k], s->json_head_lens[k]);
    memcpy(p + s->json_head_lens[k], s->jsons[k], s->json_lens[k]);
}

/* blob lengths per layer; 0 if invalid or larger than a u32 can frame. */
static int sc_onion_blob_lens(const sc_onion_spec *s, size_t lens[SC_ONION_MAX_LAYERS])
{
    const size_t limit = 0xFFFFFFFFu;
    size_t over = sc_onion_nonce_bytes(s->enc) + SC_ONION_TAG_BYTES;
    if (s->layers < 1 || s->layers > SC_ONION_MAX_LAYERS || s->payload_len > limit ||
        s->final_json_len > limit)
        return -1;
    for (size_t k = 0; k < s->layers; k++)
        if (s->json_lens[k] > limit / 2 || s->json_head_lens[k] > limit / 2)
            return -1;
    if (s->framed && (s->final_json_len > limit - 4 || s->payload_len > limit - 4 - s->final_json_len))
        return -1;
    size_t pt = s->framed ? 4 + s->payload_len + s->final_json_len : s->payload_len;
    for (size_t k = 0; k < s->layers; k++) {
        if (k > 0) {
            size_t json = sc_json_len(s, k - 1);
            if (json > limit - 4 || lens[k - 1] > limit - 4 - json)
                return -1;
            pt = 4 + lens[k - 1] + json;
        }
        if (pt > limit - over)
            return -1;
        lens[k] = pt + over;
    }
    return 0;
}

size_t sc_onion_sealed_size(const sc_onion_spec *s)
{
    size_t lens[SC_ONION_MAX_LAYERS];
    if (sc_onion_blob_lens(s, lens) != 0)
        return 0;
    size_t last = lens[s->layers - 1], json = sc_json_len(s, s->layers - 1);
    if (last + json > 0xFFFFFFFFu - 4)
        return 0;
    return 4 + last + json;
}

int sc_onion_seal(const sc_sodium *lib, const sc_onion_spec *s, uint8_t *out, size_t out_len,
                  uint8_t key0[32])
{
    size_t lens[SC_ONION_MAX_LAYERS], start[SC_ONION_MAX_LAYERS];
    size_t nb = sc_onion_nonce_bytes(s->enc), L = s->layers;
    if (sc_onion_sealed_size(s) != out_len || sc_onion_blob_lens(s, lens) != 0)
        return -1;
    if (s->enc == SC_ONION_AES_GCM && !lib->aesgcm_ok)
        return -1;

    /* 1. Every header and JSON at its final offset (start[k] = offset of blob k). */
    sc_put_le32(out, (uint32_t)lens[L - 1]);
    sc_put_json(s, L - 1, out + 4 + lens[L - 1]);
    start[L - 1] = 4;
    for (size_t k = L - 1; k > 0; k--) {
        uint8_t *pt = out + start[k] + nb;
        sc_put_le32(pt, (uint32_t)lens[k - 1]);
        sc_put_json(s, k - 1, pt + 4 + lens[k - 1]);
        start[k - 1] = start[k] + nb + 4;
    }
    uint8_t *pt0 = out + start[0] + nb;
    if (s->framed) {
        sc_put_le32(pt0, (uint32_t)s->payload_len);
        memcpy(pt0 + 4, s->payload, s->payload_len);
        memcpy(pt0 + 4 + s->payload_len, s->final_json, s->final_json_len);
    } else {
        memcpy(pt0, s->payload, s->payload_len);
    }

    /* 2. Encrypt in place, innermost first, so each layer covers finished inner bytes. */
    uint8_t shared[32], key[32];
    int rc = 0;
    for (size_t k = 0; k < L && rc == 0; k++) {
        const uint8_t *peer = s->recipients + 32 * k;
        uint8_t *blob = out + start[k];
        if (lib->scalarmult(shared, s->eph_secrets + 32 * k, peer) != 0) {
            rc = -1;
            break;
        }
        sc_onion_kdf(lib, s->enc, shared, s->eph_publics + 32 * k, peer, key);
        if (k == 0)
            memcpy(key0, key, 32);
        lib->randombytes_buf(blob, nb);
        size_t len = lens[k] - nb - SC_ONION_TAG_BYTES;
        rc = sc_aead_encrypt(lib, s->enc, key, blob, blob + nb, len, blob + nb);
    }
    lib->memzero(shared, sizeof shared);
    lib->memzero(key, sizeof key);
    return rc;
}

/* ---- the client build in one call (see sc_onion_route in onion.h) ---------------------- */

static const char sc_hexdigits[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                      '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

static const char *sc_enc_name(int enc) { return enc == SC_ONION_AES_GCM ? "aes-gcm" : "xchacha20"; }

#define SC_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* '"ephemeral_key":"<64 hex>","enc_type":"<name>"}' at p; returns the end. */
static uint8_t *sc_put_eph_tail(uint8_t *p, const uint8_t pub[32], int enc)
{
    const char *name = sc_enc_name(enc);
    size_t nlen = strlen(name);
    p = SC_LIT(p, "\"ephemeral_key\":\"");
    for (size_t i = 0; i < 32; i++) {
        *p++ = (uint8_t)sc_hexdigits[pub[i] >> 4];
        *p++ = (uint8_t)sc_hexdigits[pub[i] & 15];
    }
    p = SC_LIT(p, "\",\"enc_type\":\"");
    memcpy(p, name, nlen);
    p += nlen;
    return SC_LIT(p, "\"}");
}

/* The longest generated JSON: '{"destination":"<64>",' + the tail with "xchacha20". */
#define SC_ROUTE_JSON_MAX 192

static size_t sc_route_json_len(const sc_onion_route *r, size_t k)
{
    size_t tail = sizeof("\"ephemeral_key\":\"\",\"enc_type\":\"\"}") - 1 + 64 + strlen(sc_enc_name(r->enc));
    if (k == 0 && r->server_json)
        return tail; /* the head is server_json */
    if (k == r->layers - 1)
        return 1 + tail;
    return sizeof("{\"destination\":\"\",") - 1 + 64 + tail;
}

/* The spec for a route; ephemeral publics may still be unset (only lengths are read). */
static int sc_route_spec(const sc_onion_route *r, sc_onion_spec *s, uint8_t *recipients,
                         uint8_t *eph_secrets, uint8_t *eph_publics,
                         uint8_t json_buf[SC_ONION_MAX_LAYERS][SC_ROUTE_JSON_MAX])
{
    static const uint8_t final_json[] = "{\"headers\":\"\"}";
    if (r->layers < 1 || r->layers > SC_ONION_MAX_LAYERS ||
        (r->enc != SC_ONION_AES_GCM && r->enc != SC_ONION_XCHACHA20))
        return -1;
    memset(s, 0, sizeof *s);
    s->enc = r->enc;
    s->framed = r->server_json == NULL;
    s->payload = r->payload;
    s->payload_len = r->payload_len;
    s->final_json = final_json;
    s->final_json_len = s->framed ? sizeof final_json - 1 : 0;
    s->layers = r->layers;
    s->recipients = recipients;
    s->eph_secrets = eph_secrets;
    s->eph_publics = eph_publics;
    for (size_t k = 0; k < r->layers; k++) {
        s->jsons[k] = json_buf ? json_buf[k] : NULL;
        s->json_lens[k] = sc_route_json_len(r, k);
    }
    if (r->server_json) {
        s->json_heads[0] = r->server_json;
        s->json_head_lens[0] = r->server_json_len;
    }
    return 0;
}

size_t sc_onion_route_size(const sc_onion_route *r)
{
    sc_onion_spec s;
    if (sc_route_spec(r, &s, NULL, NULL, NULL, NULL) != 0)
        return 0;
    return sc_onion_sealed_size(&s);
}

int sc_onion_build(const sc_sodium *lib, const sc_onion_route *r, uint8_t *out, size_t out_len,
                   uint8_t key0[32])
{
    uint8_t recipients[32 * SC_ONION_MAX_LAYERS], sks[32 * SC_ONION_MAX_LAYERS],
        pks[32 * SC_ONION_MAX_LAYERS];
    uint8_t json_buf[SC_ONION_MAX_LAYERS][SC_ROUTE_JSON_MAX];
    sc_onion_spec s;
    size_t L = r->layers;
    if (sc_route_spec(r, &s, recipients, sks, pks, json_buf) != 0)
        return -1;
    if (!sc_onion_unhex((const uint8_t *)r->x25519_hex, 64 * L, recipients))
        return -1;
    for (size_t k = 0; k + 1 < L; k++)
        if (!(k == 0 && r->server_json) &&
            !sc_onion_unhex((const uint8_t *)r->ed25519_hex + 64 * k, 64, NULL))
            return -1;
    if (sc_onion_keypairs(lib, L, sks, pks) != 0) {
        lib->memzero(sks, sizeof sks);
        return -1;
    }
    for (size_t k = 0; k < L; k++) {
        uint8_t *p = json_buf[k];
        if (!(k == 0 && r->server_json)) {
            *p++ = '{';
            if (k + 1 < L) {
                p = SC_LIT(p, "\"destination\":\"");
                memcpy(p, r->ed25519_hex + 64 * k, 64);
                p += 64;
                p = SC_LIT(p, "\",");
            }
        }
        sc_put_eph_tail(p, pks + 32 * k, r->enc);
    }
    int rc = sc_onion_seal(lib, &s, out, out_len, key0);
    lib->memzero(sks, sizeof sks);
    return rc;
}

int64_t sc_onion_thread_ns(void)
{
    struct timespec ts;
#ifdef CLOCK_THREAD_CPUTIME_ID
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* scratch must hold 2 * size + 128 bytes. */
int64_t sc_onion_bench_primitive(const sc_sodium *lib, int prim, int enc, size_t size,
                                 uint64_t iters, uint8_t *scratch)
{
    uint8_t a[32], b[32], c[32], d[32];
    size_t nb = sc_onion_nonce_bytes(enc);
    lib->randombytes_buf(a, 32);
    lib->randombytes_buf(b, 32);
    lib->scalarmult_base(c, b);
    memset(scratch, 0x5a, 2 * size + 128);
    if (prim == SC_PRIM_DECRYPT) {
        sc_onion_encrypt(lib, enc, a, scratch, size, scratch);
    }
    int64_t t0 = sc_onion_thread_ns();
    for (uint64_t i = 0; i < iters; i++) {
        switch (prim) {
        case SC_PRIM_KEYGEN:
            lib->randombytes_buf(a, 32);
            lib->scalarmult_base(d, a);
            break;
        case SC_PRIM_X25519:
            lib->scalarmult(d, a, c);
            break;
        case SC_PRIM_KDF:
            sc_onion_kdf(lib, enc, a, c, b, d);
            break;
        case SC_PRIM_NONCE:
            lib->randombytes_buf(scratch, nb);
            break;
        case SC_PRIM_ENCRYPT:
            sc_aead_encrypt(lib, enc, a, scratch, scratch + nb, size, scratch + nb);
            break;
        case SC_PRIM_DECRYPT:
            /* into a separate area, as peel does; the ciphertext is valid, so the
             * whole tag check and decryption run */
            (void)sc_onion_decrypt(lib, enc, a, scratch, size + nb + SC_ONION_TAG_BYTES,
                                   scratch + size + 64);
            break;
        default:
            return -1;
        }
    }
    return sc_onion_thread_ns() - t0;
}

int64_t sc_onion_bench_sequence(const sc_sodium *lib, int enc, const size_t *sizes, size_t layers,
                                int peel, uint64_t iters, uint8_t *scratch)
{
    uint8_t a[32], b[32], c[32], d[32], shared[32], key[32];
    size_t nb = sc_onion_nonce_bytes(enc);
    if (layers < 1 || layers > SC_ONION_MAX_LAYERS || (peel && layers != 1))
        return -1;
    lib->randombytes_buf(a, 32);
    lib->randombytes_buf(b, 32);
    lib->scalarmult_base(c, b);
    size_t max = 0;
    for (size_t k = 0; k < layers; k++)
        max = sizes[k] > max ? sizes[k] : max;
    memset(scratch, 0x5a, 2 * max + 128);
    if (peel) {
        /* a ciphertext under the key the loop derives, so every decrypt runs in full */
        lib->scalarmult(shared, a, c);
        sc_onion_kdf(lib, enc, shared, c, b, key);
        sc_onion_encrypt(lib, enc, key, scratch, sizes[0], scratch);
    }
    int64_t t0 = sc_onion_thread_ns();
    for (uint64_t i = 0; i < iters; i++) {
        if (peel) {
            lib->scalarmult(shared, a, c);
            sc_onion_kdf(lib, enc, shared, c, b, key);
            /* into a separate area, as peel does */
            if (sc_onion_decrypt(lib, enc, key, scratch, sizes[0] + nb + SC_ONION_TAG_BYTES,
                                 scratch + sizes[0] + 64) != 0)
                return -1;
            continue;
        }
        for (size_t k = 0; k < layers; k++) {
            lib->randombytes_buf(a, 32);
            lib->scalarmult_base(d, a);
            lib->scalarmult(shared, a, c);
            sc_onion_kdf(lib, enc, shared, d, c, key);
            lib->randombytes_buf(scratch, nb);
            sc_aead_encrypt(lib, enc, key, scratch, scratch + nb, sizes[k], scratch + nb);
        }
    }
    return sc_onion_thread_ns() - t0;
}

void sc_onion_peel_batch(const sc_sodium *lib, const uint8_t secret[32],
                         const uint8_t public_key[32], sc_onion_peel_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sc_onion_peel_item *it = &items[i];
        size_t over;
        if (it->status != SC_PEEL_PENDING)
            continue;
        over = sc_onion_nonce_bytes(it->enc) + SC_ONION_TAG_BYTES;
        if (it->blob_len < over ||
            sc_onion_open(lib, it->enc, secret, public_key, it->eph, it->body + 4, it->blob_len,
                          it->out, it->key) != 0) {
            it->status = SC_PEEL_BAD;
            continue;
        }
        it->status = sc_onion_fast_relay(it->out, it->blob_len - over, &it->dest_hex)
                         ? SC_PEEL_RELAY
                         : SC_PEEL_OPENED;
    }
}
