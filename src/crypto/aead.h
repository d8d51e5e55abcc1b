/**
 * \file aead.h
 * \brief AES-256-GCM with the key schedule computed once per key (not once per message).
 *
 * Nonces are the caller's job: the record layer builds them TLS-1.3 style (IV XOR counter) and
 * never repeats one under a key.
 */
#ifndef NN_CRYPTO_AEAD_H
#define NN_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/types.h"

typedef struct nn_aead_t {
  void *ctx;
} nn_aead_t;

/** Set (or replace) the key. */
nn_err_t nn_aead_init(nn_aead_t *a, const nn_aead_key_t *key);
/** Encrypt \a ptlen bytes; \a out receives ptlen + 16 bytes (ciphertext then tag). May alias pt. */
nn_err_t nn_aead_seal(nn_aead_t *a, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *pt,
                      size_t ptlen, uint8_t *out);
/**
 * Decrypt and verify \a ctlen bytes (ciphertext then 16-byte tag) into \a out (ctlen - 16 bytes,
 * may alias ct). On NN_ERR_VERIFY \a out is wiped: unauthenticated plaintext never escapes.
 */
nn_err_t nn_aead_open(nn_aead_t *a, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *ct,
                      size_t ctlen, uint8_t *out);
/** One piece of a multi-part plaintext. */
typedef struct nn_iov_t {
  const uint8_t *p;
  size_t len;
} nn_iov_t;

/**
 * Encrypt the concatenation of \a n parts into \a out (total + 16 bytes), streaming: no part
 * is copied first. Lets the record layer encrypt header, content and padding straight from
 * where they are into the output buffer.
 */
nn_err_t nn_aead_seal_iov(nn_aead_t *a, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen,
                          const nn_iov_t *parts, size_t n, uint8_t *out);

/** Free the context (its key schedule is cleansed); accepts a zeroed struct. */
void nn_aead_free(nn_aead_t *a);

#endif
