/* onion_json.c: the fast path of peel: the routing JSON of onion layers.
 *
 * A scanner for a strict subset of JSON: one flat object whose keys and string values are
 * printable ASCII without escapes, and whose other values are integers, true/false/null,
 * {} or [].  Everything Session clients send fits.  It answers "parsed" only for text that
 * is valid JSON with exactly the meaning Python's json module gives it (duplicate keys: the
 * last wins); anything else is "not sure", and the caller falls back to the Python parser,
 * which is the reference and the only place errors are decided.
 */
#include "onion_json.h"

#include <string.h>

enum { SC_J_ABSENT = 0, SC_J_STR, SC_J_INT, SC_J_OTHER };

typedef struct sc_jval {
    int type;
    const uint8_t *s; /* SC_J_STR: the characters, without quotes */
    size_t len;
} sc_jval;

enum { K_EPH = 0, K_ENC, K_DEST, K_HEADERS, K_HOST, K_COUNT };

/* Which of the keys we read this is, or -1.  Their lengths differ, so one memcmp. */
static int sc_key_index(const uint8_t *k, size_t len)
{
#define SC_KEY(lit, idx) return memcmp(k, lit, sizeof(lit) - 1) ? -1 : (idx)
    switch (len) {
    case 13: SC_KEY("ephemeral_key", K_EPH);
    case 8: SC_KEY("enc_type", K_ENC);
    case 11: SC_KEY("destination", K_DEST);
    case 7: SC_KEY("headers", K_HEADERS);
    case 4: SC_KEY("host", K_HOST);
    default: return -1;
    }
#undef SC_KEY
}

static size_t sc_ws(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* A plain string at p[i] == '"'; returns the index after the closing quote, or 0. */
static size_t sc_str(const uint8_t *p, size_t i, size_t n, const uint8_t **s, size_t *len)
{
    const uint8_t *end = i + 1 < n ? memchr(p + i + 1, '"', n - i - 1) : NULL;
    if (!end)
        return 0;
    size_t j = (size_t)(end - p);
    unsigned bad = 0;
    for (size_t k = i + 1; k < j; k++) /* branch-free, so the compiler vectorises it */
        bad |= (p[k] < 0x20) | (p[k] > 0x7e) | (p[k] == '\\');
    if (bad)
        return 0;
    *s = p + i + 1;
    *len = j - i - 1;
    return j + 1;
}

/* 1 and vals filled when the whole buffer is a flat object in the subset; 0 otherwise. */
static int sc_scan(const uint8_t *p, size_t n, sc_jval vals[K_COUNT])
{
    memset(vals, 0, sizeof(sc_jval) * K_COUNT);
    size_t i = sc_ws(p, 0, n);
    if (i >= n || p[i] != '{')
        return 0;
    i = sc_ws(p, i + 1, n);
    if (i < n && p[i] == '}')
        return sc_ws(p, i + 1, n) == n;
    for (;;) {
        const uint8_t *key;
        size_t klen;
        sc_jval v = {SC_J_OTHER, NULL, 0};
        if (i >= n || p[i] != '"' || !(i = sc_str(p, i, n, &key, &klen)))
            return 0;
        i = sc_ws(p, i, n);
        if (i >= n || p[i] != ':')
            return 0;
        i = sc_ws(p, i + 1, n);
        if (i >= n)
            return 0;
        if (p[i] == '"') {
            v.type = SC_J_STR;
            if (!(i = sc_str(p, i, n, &v.s, &v.len)))
                return 0;
        } else if (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) {
            size_t j = i + (p[i] == '-');
            size_t d = j;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                j++;
            if (j == d || j - d > 18 || (p[d] == '0' && j - d > 1))
                return 0;
            if (j < n && (p[j] == '.' || p[j] == 'e' || p[j] == 'E'))
                return 0;
            v.type = SC_J_INT;
            i = j;
        } else if (n - i >= 4 && !memcmp(p + i, "true", 4)) {
            i += 4;
        } else if (n - i >= 5 && !memcmp(p + i, "false", 5)) {
            i += 5;
        } else if (n - i >= 4 && !memcmp(p + i, "null", 4)) {
            i += 4;
        } else if (p[i] == '{' || p[i] == '[') {
            uint8_t close = p[i] == '{' ? '}' : ']';
            i = sc_ws(p, i + 1, n);
            if (i >= n || p[i] != close)
                return 0;
            i++;
        } else {
            return 0;
        }
        int k = sc_key_index(key, klen);
        if (k >= 0)
            vals[k] = v; /* a later duplicate wins, as in Python */
        i = sc_ws(p, i, n);
        if (i < n && p[i] == ',') {
            i = sc_ws(p, i + 1, n);
            continue;
        }
        if (i < n && p[i] == '}')
            return sc_ws(p, i + 1, n) == n;
        return 0;
    }
}

/* hex digit -> value + 1; 0 for anything else.  A table, because every peel decodes or
 * checks 128 hex characters and the branchy version cost more than the rest of the scan. */
static const uint8_t sc_hex_tab[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,
    ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16,
};

int sc_onion_unhex(const uint8_t *hex, size_t n, uint8_t *out)
{
    unsigned bad = 0;
    if (n % 2)
        return 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned hi = sc_hex_tab[hex[2 * i]], lo = sc_hex_tab[hex[2 * i + 1]];
        bad |= (hi == 0) | (lo == 0);
        if (out)
            out[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 15));
    }
    return !bad;
}

static int sc_hex32(const sc_jval *v, uint8_t out[32])
{
    return v->type == SC_J_STR && v->len == 64 && sc_onion_unhex(v->s, 64, out);
}

static int sc_enc(const sc_jval *v, int *enc)
{
#define SC_IS(lit) (v->len == sizeof(lit) - 1 && !memcmp(v->s, lit, sizeof(lit) - 1))
    if (v->type == SC_J_ABSENT) {
        *enc = SC_ONION_AES_GCM;
        return 1;
    }
    if (v->type != SC_J_STR)
        return 0;
    if (SC_IS("aes-gcm") || SC_IS("gcm"))
        *enc = SC_ONION_AES_GCM;
    else if (SC_IS("xchacha20") || SC_IS("xchacha20-poly1305"))
        *enc = SC_ONION_XCHACHA20;
    else
        return 0;
    return 1;
#undef SC_IS
}

static uint32_t sc_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int sc_onion_fast_outer(const uint8_t *body, size_t len, size_t *blob_len, uint8_t eph[32],
                        int *enc)
{
    sc_jval v[K_COUNT];
    if (len < 4)
        return 0;
    size_t n = sc_le32(body);
    if (n > len - 4 || !sc_scan(body + 4 + n, len - 4 - n, v))
        return 0;
    if (!sc_hex32(&v[K_EPH], eph) || !sc_enc(&v[K_ENC], enc))
        return 0;
    *blob_len = n;
    return 1;
}

int sc_onion_fast_relay(const uint8_t *pt, size_t len, const uint8_t **dest_hex)
{
    sc_jval v[K_COUNT];
    int enc;
    if (len < 4)
        return 0;
    size_t n = sc_le32(pt);
    if (n > len - 4 || !sc_scan(pt + 4 + n, len - 4 - n, v))
        return 0;
    if (v[K_HEADERS].type != SC_J_ABSENT || v[K_HOST].type != SC_J_ABSENT)
        return 0;
    if (!sc_hex32(&v[K_DEST], NULL) || !sc_hex32(&v[K_EPH], NULL) || !sc_enc(&v[K_ENC], &enc))
        return 0;
    *dest_hex = v[K_DEST].s;
    return 1;
}
