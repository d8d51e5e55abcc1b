/** \file identity.h \brief Internal view of nn_identity_t: the signing key and the seed. */
#ifndef NN_CRYPTO_IDENTITY_H
#define NN_CRYPTO_IDENTITY_H

#include "nepnet/identity.h"
#include "crypto/mldsa.h"
#include "crypto/rand.h"

/** A new identity with its seed drawn from \a rng. */
nn_err_t nn_identity_generate_rng(nn_identity_t **out, const nn_rng_t *rng);
const nn_mldsa_key_t *nn_identity_key(const nn_identity_t *id);
const nn_mldsa_seed_t *nn_identity_seed(const nn_identity_t *id);

#endif
