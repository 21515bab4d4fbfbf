/* sodium_loader.h: libsodium bound at run time through function pointers.
 *
 * Why not link libsodium: the fastest libsodium on a typical machine is the 1.0.20 that
 * PyNaCl's wheel carries inside nacl/_sodium*.so (Debian's libsodium 1.0.18 takes twice as
 * long for X25519 key generation), and that module exports every crypto_* symbol.  Binding
 * it with dlopen/dlsym of the already-loaded file gives users the fastest libsodium with
 * no set-up: nothing to install to build (no sodium.h needed: the few prototypes are
 * declared below) and nothing to install to run (PyNaCl is a dependency anyway).  A system
 * libsodium is the fallback, then the pure-Python backend.  A table per library keeps the
 * code reentrant and lets the benchmark compare two libsodiums in one process.
 */
#ifndef SC_SODIUM_LOADER_H
#define SC_SODIUM_LOADER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*sc_aead_enc_detached_fn)(unsigned char *c, unsigned char *mac,
                                       unsigned long long *maclen_p, const unsigned char *m,
                                       unsigned long long mlen, const unsigned char *ad,
                                       unsigned long long adlen, const unsigned char *nsec,
                                       const unsigned char *npub, const unsigned char *k);
typedef int (*sc_aead_dec_detached_fn)(unsigned char *m, unsigned char *nsec,
                                       const unsigned char *c, unsigned long long clen,
                                       const unsigned char *mac, const unsigned char *ad,
                                       unsigned long long adlen, const unsigned char *npub,
                                       const unsigned char *k);

typedef struct sc_sodium {
    int (*sodium_init)(void);
    const char *(*version_string)(void); /* optional: PyNaCl's module does not export it */
    void (*randombytes_buf)(void *buf, size_t size);
    void (*memzero)(void *pnt, size_t len);
    int (*scalarmult)(unsigned char *q, const unsigned char *n, const unsigned char *p);
    int (*scalarmult_base)(unsigned char *q, const unsigned char *n);
    int (*hmacsha256)(unsigned char *out, const unsigned char *in, unsigned long long inlen,
                      const unsigned char *k);
    int (*blake2b)(unsigned char *out, size_t outlen, const unsigned char *in,
                   unsigned long long inlen, const unsigned char *key, size_t keylen);
    sc_aead_enc_detached_fn xchacha_encrypt;
    sc_aead_dec_detached_fn xchacha_decrypt;
    sc_aead_enc_detached_fn aesgcm_encrypt;
    sc_aead_dec_detached_fn aesgcm_decrypt;
    int (*aesgcm_is_available)(void);
    int aesgcm_ok;   /* libsodium's AES-GCM runs on this CPU (AES-NI + PCLMUL / ARM crypto) */
    void *handle;
} sc_sodium;

/* Bind libsodium from the shared object at `path` (already loaded or not).
 * Returns 0, or -1 with *missing naming the first absent symbol (or "dlopen"). */
int sc_sodium_load(sc_sodium *lib, const char *path, const char **missing);

#ifdef __cplusplus
}
#endif
#endif /* SC_SODIUM_LOADER_H */
