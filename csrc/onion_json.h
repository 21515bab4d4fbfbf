/* onion_json.h: the routing-JSON scanner of onion layers (onion_json.c), shared by the
 * layer crypto (onion.c) and the relay engine.  It knows JSON and hex only, no crypto, so
 * onion_json.c needs nothing from onion.c.
 */
#ifndef SC_ONION_JSON_H
#define SC_ONION_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* enc_type codes, as the JSON names them ("aes-gcm", "xchacha20"). */
#define SC_ONION_AES_GCM 0
#define SC_ONION_XCHACHA20 1

/* n hex characters (n even) -> n/2 bytes; 0 on a non-hex character, else 1.
 * out may be NULL (validation only). */
int sc_onion_unhex(const uint8_t *hex, size_t n, uint8_t *out);

/* Fast path of peel .  Both return 1 only for input in a strict JSON
 * subset that the Python reference would accept with the same meaning, 0 for "not sure"
 * (the caller then runs the reference parser, which decides every error).
 * fast_outer: frame [N][blob][JSON] with a valid ephemeral_key and enc_type.
 * fast_relay: a decrypted layer that is a valid relay; *dest_hex = 64 hex chars inside pt. */
int sc_onion_fast_outer(const uint8_t *body, size_t len, size_t *blob_len, uint8_t eph[32],
                        int *enc);
int sc_onion_fast_relay(const uint8_t *pt, size_t len, const uint8_t **dest_hex);

#ifdef __cplusplus
}
#endif

#endif
