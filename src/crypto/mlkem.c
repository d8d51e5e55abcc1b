#include "crypto/mlkem.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define ALG "ML-KEM-1024"

struct nn_mlkem_key_t {
  EVP_PKEY *pkey;
  nn_mlkem_pk_t pk;
};

static nn_err_t
wrap(nn_mlkem_key_t **out, EVP_PKEY *pkey)
{
  nn_mlkem_key_t *k;
  size_t len = NN_MLKEM_PK_LEN;

  *out = NULL;
  if (!pkey)
    return NN_ERR_CRYPTO;
  if (!(k = calloc(1, sizeof(*k)))) {
    EVP_PKEY_free(pkey);
    return NN_ERR_NOMEM;
  }
  k->pkey = pkey;
  if (EVP_PKEY_get_raw_public_key(pkey, k->pk.b, &len) != 1 || len != NN_MLKEM_PK_LEN) {
    nn_mlkem_key_free(k);
    return NN_ERR_CRYPTO;
  }
  *out = k;
  return NN_OK;
}

nn_err_t
nn_mlkem_keygen_from_seed(nn_mlkem_key_t **out, const nn_mlkem_seed_t *seed)
{
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, ALG, NULL);
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM p[2];

  *out = NULL;
  p[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_ML_KEM_SEED, (void *)seed->b, NN_MLKEM_SEED_LEN);
  p[1] = OSSL_PARAM_construct_end();
  if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_params(ctx, p) != 1 ||
      EVP_PKEY_generate(ctx, &pkey) != 1) {
    EVP_PKEY_CTX_free(ctx);
    return NN_ERR_CRYPTO;
  }
  EVP_PKEY_CTX_free(ctx);
  return wrap(out, pkey);
}

nn_err_t
nn_mlkem_keygen(nn_mlkem_key_t **out, const nn_rng_t *rng)
{
  nn_mlkem_seed_t seed;
  nn_err_t err = nn_rng_fill(rng, seed.b, sizeof(seed.b));
  if (!err)
    err = nn_mlkem_keygen_from_seed(out, &seed);
  OPENSSL_cleanse(&seed, sizeof(seed));
  return err;
}

nn_err_t
nn_mlkem_key_from_private(nn_mlkem_key_t **out, const uint8_t dk[NN_MLKEM_SK_LEN])
{
  return wrap(out, EVP_PKEY_new_raw_private_key_ex(NULL, ALG, NULL, dk, NN_MLKEM_SK_LEN));
}

const nn_mlkem_pk_t *
nn_mlkem_public(const nn_mlkem_key_t *k)
{
  return &k->pk;
}

nn_err_t
nn_mlkem_private(const nn_mlkem_key_t *k, uint8_t dk[NN_MLKEM_SK_LEN])
{
  size_t len = NN_MLKEM_SK_LEN;
  if (EVP_PKEY_get_raw_private_key(k->pkey, dk, &len) != 1 || len != NN_MLKEM_SK_LEN)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

void
nn_mlkem_key_free(nn_mlkem_key_t *k)
{
  if (!k)
    return;
  EVP_PKEY_free(k->pkey); /* the provider cleanses the decapsulation key */
  OPENSSL_cleanse(k, sizeof(*k));
  free(k);
}

nn_err_t
nn_mlkem_encaps_m(nn_mlkem_ct_t *ct, nn_secret_t *ss, const nn_mlkem_pk_t *pk, const uint8_t m[NN_MLKEM_M_LEN])
{
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, ALG, NULL, pk->b, NN_MLKEM_PK_LEN);
  EVP_PKEY_CTX *ctx = peer ? EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL) : NULL;
  size_t ctlen = NN_MLKEM_CT_LEN, sslen = NN_HASH_LEN;
  nn_err_t err = NN_ERR_CRYPTO;
  OSSL_PARAM p[2];

  p[0] = OSSL_PARAM_construct_octet_string(OSSL_KEM_PARAM_IKME, (void *)m, NN_MLKEM_M_LEN);
  p[1] = OSSL_PARAM_construct_end();
  if (ctx && EVP_PKEY_encapsulate_init(ctx, p) == 1 && EVP_PKEY_encapsulate(ctx, ct->b, &ctlen, ss->b, &sslen) == 1 &&
      ctlen == NN_MLKEM_CT_LEN && sslen == NN_HASH_LEN)
    err = NN_OK;
  if (err)
    OPENSSL_cleanse(ss, sizeof(*ss));
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  return err;
}

nn_err_t
nn_mlkem_encaps(nn_mlkem_ct_t *ct, nn_secret_t *ss, const nn_mlkem_pk_t *pk, const nn_rng_t *rng)
{
  uint8_t m[NN_MLKEM_M_LEN];
  nn_err_t err = nn_rng_fill(rng, m, sizeof(m));
  if (!err)
    err = nn_mlkem_encaps_m(ct, ss, pk, m);
  OPENSSL_cleanse(m, sizeof(m));
  return err;
}

nn_err_t
nn_mlkem_decaps(nn_secret_t *ss, const nn_mlkem_key_t *k, const nn_mlkem_ct_t *ct)
{
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
  size_t sslen = NN_HASH_LEN;
  nn_err_t err = NN_ERR_CRYPTO;

  if (ctx && EVP_PKEY_decapsulate_init(ctx, NULL) == 1 &&
      EVP_PKEY_decapsulate(ctx, ss->b, &sslen, ct->b, NN_MLKEM_CT_LEN) == 1 && sslen == NN_HASH_LEN)
    err = NN_OK;
  if (err)
    OPENSSL_cleanse(ss, sizeof(*ss));
  EVP_PKEY_CTX_free(ctx);
  return err;
}
