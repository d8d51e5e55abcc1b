#include "crypto/identity.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/sha3.h"
#include "lib/hex.h"

struct nn_identity_t {
  nn_mldsa_key_t *key;
  nn_mldsa_seed_t seed;
  nn_node_id_t id;
};

nn_err_t
nn_node_id_from_public_key(nn_node_id_t *out, const nn_mldsa_pk_t *pk)
{
  nn_hash_t h;
  nn_err_t err = nn_sha3_256(&h, pk->b, sizeof(pk->b));
  if (!err)
    memcpy(out->b, h.b, sizeof(out->b));
  return err;
}

void
nn_node_id_to_hex(const nn_node_id_t *id, char out[2 * NN_NODE_ID_LEN + 1])
{
  nn_hex_encode(out, id->b, sizeof(id->b));
}

nn_err_t
nn_identity_from_seed(nn_identity_t **out, const nn_mldsa_seed_t *seed)
{
  nn_identity_t *id = calloc(1, sizeof(*id));
  nn_err_t err;

  *out = NULL;
  if (!id)
    return NN_ERR_NOMEM;
  id->seed = *seed;
  if ((err = nn_mldsa_keygen_from_seed(&id->key, seed)) ||
      (err = nn_node_id_from_public_key(&id->id, nn_mldsa_public(id->key)))) {
    nn_identity_free(id);
    return err;
  }
  *out = id;
  return NN_OK;
}

nn_err_t
nn_identity_generate_rng(nn_identity_t **out, const nn_rng_t *rng)
{
  nn_mldsa_seed_t seed;
  nn_err_t err = nn_rng_fill(rng, seed.b, sizeof(seed.b));
  if (!err)
    err = nn_identity_from_seed(out, &seed);
  else
    *out = NULL;
  OPENSSL_cleanse(&seed, sizeof(seed));
  return err;
}

nn_err_t
nn_identity_generate(nn_identity_t **out)
{
  return nn_identity_generate_rng(out, NULL);
}

const nn_node_id_t *
nn_identity_node_id(const nn_identity_t *id)
{
  return &id->id;
}
const nn_mldsa_pk_t *
nn_identity_public_key(const nn_identity_t *id)
{
  return nn_mldsa_public(id->key);
}
const nn_mldsa_key_t *
nn_identity_key(const nn_identity_t *id)
{
  return id->key;
}
const nn_mldsa_seed_t *
nn_identity_seed(const nn_identity_t *id)
{
  return &id->seed;
}

void
nn_identity_free(nn_identity_t *id)
{
  if (!id)
    return;
  nn_mldsa_key_free(id->key);
  OPENSSL_cleanse(id, sizeof(*id));
  free(id);
}
