/**
 * \file legacy.h
 * \brief HMAC-SHA1, HMAC-SHA-256 with a key of any length, MD5 and SHA-256, over OpenSSL: what
 * STUN and TURN (RFC 8489, RFC 8656), Tor's control port (SAFECOOKIE) and I2P (destination
 * names) need to interoperate with other implementations (coturn, routers' STUN servers, tor,
 * i2pd). Nothing of nepnet's own protocols uses them: STUN integrity guards a NAT probe, the
 * long-term credential is the TURN server's, SAFECOOKIE proves we can read the local tor's
 * cookie file, and a destination's name is public.
 */
#ifndef NN_CRYPTO_LEGACY_H
#define NN_CRYPTO_LEGACY_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

#define NN_SHA1_LEN 20
#define NN_SHA256_LEN 32
#define NN_MD5_LEN 16

/** out = HMAC-SHA1(key, data). */
nn_err_t nn_hmac_sha1(uint8_t out[NN_SHA1_LEN], const uint8_t *key, size_t key_len, const uint8_t *data, size_t len);
/** out = HMAC-SHA-256(key, data), for a key of any length. */
nn_err_t nn_hmac_sha256(uint8_t out[NN_SHA256_LEN], const uint8_t *key, size_t key_len, const uint8_t *data,
                        size_t len);
/** out = MD5(data) (the long-term credential key of RFC 8489 section 9.2.2). */
nn_err_t nn_md5(uint8_t out[NN_MD5_LEN], const uint8_t *data, size_t len);
/** out = SHA-256(data) (an I2P destination's .b32.i2p name). */
nn_err_t nn_sha256(uint8_t out[NN_SHA256_LEN], const uint8_t *data, size_t len);

#endif
