/**
 * \file mldsa.h
 * \brief ML-DSA-87 (FIPS 204) over OpenSSL 3.5 EVP: key pairs from a 32-byte seed, signatures
 * with a FIPS 204 context string for domain separation.
 */
#ifndef NN_CRYPTO_MLDSA_H
#define NN_CRYPTO_MLDSA_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "crypto/types.h"

typedef struct nn_mldsa_key_t nn_mldsa_key_t;

nn_err_t nn_mldsa_keygen_from_seed(nn_mldsa_key_t **out, const nn_mldsa_seed_t *seed);
/** Import an encoded private key (4896 bytes); used by known-answer tests. */
nn_err_t nn_mldsa_key_from_private(nn_mldsa_key_t **out, const uint8_t sk[NN_MLDSA_SK_LEN]);
const nn_mldsa_pk_t *nn_mldsa_public(const nn_mldsa_key_t *k);
void nn_mldsa_key_free(nn_mldsa_key_t *k);

/**
 * Sign \a msg under context string \a ctx (at most 255 bytes). Hedged: the 32-byte rnd of
 * FIPS 204 comes from \a rng (NULL: system CSPRNG), so a seeded generator reproduces signatures.
 */
nn_err_t nn_mldsa_sign(nn_mldsa_sig_t *sig, const nn_mldsa_key_t *k, const uint8_t *ctx, size_t ctxlen,
                       const uint8_t *msg, size_t msglen, const nn_rng_t *rng);
/** The deterministic variant of FIPS 204 (rnd = 0), for known-answer tests. */
nn_err_t nn_mldsa_sign_deterministic(nn_mldsa_sig_t *sig, const nn_mldsa_key_t *k, const uint8_t *ctx, size_t ctxlen,
                                     const uint8_t *msg, size_t msglen);
/** NN_OK for a valid signature, NN_ERR_VERIFY otherwise (including a malformed \a pk). */
nn_err_t nn_mldsa_verify(const nn_mldsa_pk_t *pk, const uint8_t *ctx, size_t ctxlen, const uint8_t *msg, size_t msglen,
                         const nn_mldsa_sig_t *sig);

#endif
