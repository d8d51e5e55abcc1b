/**
 * \file hybrid.h
 * \brief The hybrid KEM: X25519 + ML-KEM-1024, combined X-Wing style.
 *
 *   ss = SHA3-256(ss_M || ss_X || ct_X || pk_X || ct_M || pk_M || label)
 *
 * Unlike X-Wing, which leaves the ML-KEM ciphertext and key out (relying on ML-KEM's
 * ciphertext-collision resistance), every public key and ciphertext is bound; the label comes
 * last, as in X-Wing. The result is secret if either component is unbroken. docs/PROTOCOL.md has
 * the byte layout and test vectors.
 */
#ifndef NN_CRYPTO_HYBRID_H
#define NN_CRYPTO_HYBRID_H

#include "nepnet/error.h"
#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "crypto/types.h"
#include "crypto/x25519.h"

#define NN_HYBRID_LABEL "nepnet-hybrid-kem-x25519-mlkem1024-v1"

typedef struct nn_hybrid_pk_t {
  nn_x25519_pk_t x;
  nn_mlkem_pk_t m;
} nn_hybrid_pk_t;

typedef struct nn_hybrid_ct_t {
  nn_x25519_pk_t x; /* the encapsulator's ephemeral X25519 public key */
  nn_mlkem_ct_t m;
} nn_hybrid_ct_t;

typedef struct nn_hybrid_key_t {
  nn_x25519_key_t *xkey;
  nn_mlkem_key_t *mkey;
  nn_hybrid_pk_t pk;
} nn_hybrid_key_t;

/** A fresh hybrid key pair (both halves from \a rng). */
nn_err_t nn_hybrid_keygen(nn_hybrid_key_t *k, const nn_rng_t *rng);
/** Wipe the key pair; safe on a zeroed or already-cleared key. */
void nn_hybrid_key_clear(nn_hybrid_key_t *k);
nn_err_t nn_hybrid_encaps(nn_hybrid_ct_t *ct, nn_secret_t *ss, const nn_hybrid_pk_t *pk, const nn_rng_t *rng);
nn_err_t nn_hybrid_decaps(nn_secret_t *ss, const nn_hybrid_key_t *k, const nn_hybrid_ct_t *ct);
/** The combiner alone, exposed for test vectors and for protocols that run the halves apart. */
nn_err_t nn_hybrid_combine(nn_secret_t *ss, const nn_secret_t *ss_m, const nn_secret_t *ss_x, const nn_hybrid_ct_t *ct,
                           const nn_hybrid_pk_t *pk);

#endif
