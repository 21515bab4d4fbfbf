/* sodium_loader.c: fill an sc_sodium table from a shared object (see sodium_loader.h). */
#define _POSIX_C_SOURCE 200809L /* dlopen under -std=c11 */
#include "sodium_loader.h"

#include "sc_dlbind.h"

int sc_sodium_load(sc_sodium *lib, const char *path, const char **missing)
{
    memset(lib, 0, sizeof *lib);
    void *h = sc_dlopen(path);
    if (!h) {
        *missing = "dlopen";
        return -1;
    }
    lib->handle = h;
    SC_BIND(sodium_init, "sodium_init");
    SC_BIND(randombytes_buf, "randombytes_buf");
    SC_BIND(memzero, "sodium_memzero");
    SC_BIND(scalarmult, "crypto_scalarmult_curve25519");
    SC_BIND(scalarmult_base, "crypto_scalarmult_curve25519_base");
    SC_BIND(hmacsha256, "crypto_auth_hmacsha256");
    SC_BIND(blake2b, "crypto_generichash_blake2b");
    SC_BIND(xchacha_encrypt, "crypto_aead_xchacha20poly1305_ietf_encrypt_detached");
    SC_BIND(xchacha_decrypt, "crypto_aead_xchacha20poly1305_ietf_decrypt_detached");
    SC_BIND(aesgcm_encrypt, "crypto_aead_aes256gcm_encrypt_detached");
    SC_BIND(aesgcm_decrypt, "crypto_aead_aes256gcm_decrypt_detached");
    SC_BIND(aesgcm_is_available, "crypto_aead_aes256gcm_is_available");
    {
        void *v = sc_dlsym(h, "sodium_version_string");
        if (v)
            memcpy(&lib->version_string, &v, sizeof v);
    }
    /* sodium_init is idempotent and thread-safe; it also runs the CPU probe that
     * crypto_aead_aes256gcm_is_available reports (0 before it). */
    if (lib->sodium_init() < 0) {
        *missing = "sodium_init";
        return -1;
    }
    lib->aesgcm_ok = lib->aesgcm_is_available() == 1;
    return 0;
}
