/**
 * \file mlkem.h
 * \brief ML-KEM-1024 (FIPS 203) over OpenSSL 3.5 EVP.
 *
 * Every key pair comes from a 64-byte seed (d || z), drawn from an injected generator, so tests
 * and the simulator are reproducible and FIPS 203 known-answer vectors apply directly.
 */
#ifndef NN_CRYPTO_MLKEM_H
#define NN_CRYPTO_MLKEM_H

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "crypto/types.h"

typedef struct nn_mlkem_key_t nn_mlkem_key_t;

nn_err_t nn_mlkem_keygen_from_seed(nn_mlkem_key_t **out, const nn_mlkem_seed_t *seed);
nn_err_t nn_mlkem_keygen(nn_mlkem_key_t **out, const nn_rng_t *rng);
/** Import an encoded decapsulation key (3168 bytes); used by known-answer tests. */
nn_err_t nn_mlkem_key_from_private(nn_mlkem_key_t **out, const uint8_t dk[NN_MLKEM_SK_LEN]);
const nn_mlkem_pk_t *nn_mlkem_public(const nn_mlkem_key_t *k);
/** Export the decapsulation key (secret; tests only). */
nn_err_t nn_mlkem_private(const nn_mlkem_key_t *k, uint8_t dk[NN_MLKEM_SK_LEN]);
/** Wipe and free; accepts NULL. */
void nn_mlkem_key_free(nn_mlkem_key_t *k);

/**
 * Encapsulate to \a pk with randomness m drawn from \a rng. A \a pk that fails the FIPS 203
 * modulus check is NN_ERR_CRYPTO.
 */
nn_err_t nn_mlkem_encaps(nn_mlkem_ct_t *ct, nn_secret_t *ss, const nn_mlkem_pk_t *pk, const nn_rng_t *rng);
/** Encapsulate with explicit randomness \a m (known-answer tests). */
nn_err_t nn_mlkem_encaps_m(nn_mlkem_ct_t *ct, nn_secret_t *ss, const nn_mlkem_pk_t *pk,
                           const uint8_t m[NN_MLKEM_M_LEN]);
/**
 * Decapsulate. ML-KEM rejects implicitly: a tampered \a ct yields a pseudorandom \a ss, not an
 * error, so callers must confirm the key (an AEAD tag does).
 */
nn_err_t nn_mlkem_decaps(nn_secret_t *ss, const nn_mlkem_key_t *k, const nn_mlkem_ct_t *ct);

#endif
