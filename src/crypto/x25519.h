/** \file x25519.h \brief X25519 (RFC 7748) over OpenSSL EVP. */
#ifndef NN_CRYPTO_X25519_H
#define NN_CRYPTO_X25519_H

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "crypto/types.h"

/** A fresh key pair with the secret drawn from \a rng (NULL: system CSPRNG). */
nn_err_t nn_x25519_keygen(nn_x25519_sk_t *sk, nn_x25519_pk_t *pk, const nn_rng_t *rng);
/** The public key of \a sk. */
nn_err_t nn_x25519_public(nn_x25519_pk_t *pk, const nn_x25519_sk_t *sk);
/** X25519(sk, pk). An all-zero result (a low-order \a pk) is NN_ERR_CRYPTO. Each call imports
 *  \a sk, and OpenSSL computes its public key on import: a key used more than once, or one just
 *  generated, is cheaper as an nn_x25519_key_t. */
nn_err_t nn_x25519_shared(nn_secret_t *ss, const nn_x25519_sk_t *sk, const nn_x25519_pk_t *pk);

/** A key pair held as OpenSSL's key object: its public key is computed once, when it is made. */
typedef struct nn_x25519_key_t nn_x25519_key_t;
/** A fresh key pair (the secret from \a rng, NULL: system CSPRNG), its public key in \a pk. */
nn_err_t nn_x25519_key_new(nn_x25519_key_t **k, nn_x25519_pk_t *pk, const nn_rng_t *rng);
/** X25519 with the key pair \a k; as nn_x25519_shared. */
nn_err_t nn_x25519_key_shared(nn_secret_t *ss, const nn_x25519_key_t *k, const nn_x25519_pk_t *pk);
/** Free (and wipe) \a k; NULL is fine. */
void nn_x25519_key_free(nn_x25519_key_t *k);

#endif
