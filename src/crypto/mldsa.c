#include "crypto/mldsa.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define ALG "ML-DSA-87"

static const uint8_t empty_ctx[1];

struct nn_mldsa_key_t {
  EVP_PKEY *pkey;
  nn_mldsa_pk_t pk;
};

static nn_err_t
wrap(nn_mldsa_key_t **out, EVP_PKEY *pkey)
{
  nn_mldsa_key_t *k;
  size_t len = NN_MLDSA_PK_LEN;

  *out = NULL;
  if (!pkey)
    return NN_ERR_CRYPTO;
  if (!(k = calloc(1, sizeof(*k)))) {
    EVP_PKEY_free(pkey);
    return NN_ERR_NOMEM;
  }
  k->pkey = pkey;
  if (EVP_PKEY_get_raw_public_key(pkey, k->pk.b, &len) != 1 || len != NN_MLDSA_PK_LEN) {
    nn_mldsa_key_free(k);
    return NN_ERR_CRYPTO;
  }
  *out = k;
  return NN_OK;
}

nn_err_t
nn_mldsa_keygen_from_seed(nn_mldsa_key_t **out, const nn_mldsa_seed_t *seed)
{
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, ALG, NULL);
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM p[2];

  *out = NULL;
  p[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_ML_DSA_SEED, (void *)seed->b, NN_MLDSA_SEED_LEN);
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
nn_mldsa_key_from_private(nn_mldsa_key_t **out, const uint8_t sk[NN_MLDSA_SK_LEN])
{
  return wrap(out, EVP_PKEY_new_raw_private_key_ex(NULL, ALG, NULL, sk, NN_MLDSA_SK_LEN));
}

const nn_mldsa_pk_t *
nn_mldsa_public(const nn_mldsa_key_t *k)
{
  return &k->pk;
}

void
nn_mldsa_key_free(nn_mldsa_key_t *k)
{
  if (!k)
    return;
  EVP_PKEY_free(k->pkey);
  OPENSSL_cleanse(k, sizeof(*k));
  free(k);
}

/* rnd == NULL selects FIPS 204's deterministic signing. */
static nn_err_t
sign(nn_mldsa_sig_t *sig, const nn_mldsa_key_t *k, const uint8_t *ctx, size_t ctxlen, const uint8_t *msg, size_t msglen,
     const uint8_t *rnd)
{
  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
  EVP_SIGNATURE *alg = EVP_SIGNATURE_fetch(NULL, ALG, NULL);
  size_t siglen = NN_MLDSA_SIG_LEN;
  nn_err_t err = NN_ERR_CRYPTO;
  int deterministic = 1;
  OSSL_PARAM p[3], *q = p;

  if (ctxlen > NN_MLDSA_CTX_MAX) {
    err = NN_ERR_ARG;
    goto out;
  }
  *q++ =
    OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_CONTEXT_STRING, (void *)(ctx ? ctx : empty_ctx), ctxlen);
  if (rnd)
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_TEST_ENTROPY, (void *)rnd, 32);
  else
    *q++ = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_DETERMINISTIC, &deterministic);
  *q = OSSL_PARAM_construct_end();
  if (pctx && alg && EVP_PKEY_sign_message_init(pctx, alg, p) == 1 &&
      EVP_PKEY_sign(pctx, sig->b, &siglen, msg, msglen) == 1 && siglen == NN_MLDSA_SIG_LEN)
    err = NN_OK;
out:
  EVP_SIGNATURE_free(alg);
  EVP_PKEY_CTX_free(pctx);
  return err;
}

nn_err_t
nn_mldsa_sign(nn_mldsa_sig_t *sig, const nn_mldsa_key_t *k, const uint8_t *ctx, size_t ctxlen, const uint8_t *msg,
              size_t msglen, const nn_rng_t *rng)
{
  uint8_t rnd[32];
  nn_err_t err = nn_rng_fill(rng, rnd, sizeof(rnd));
  if (!err)
    err = sign(sig, k, ctx, ctxlen, msg, msglen, rnd);
  OPENSSL_cleanse(rnd, sizeof(rnd));
  return err;
}

nn_err_t
nn_mldsa_sign_deterministic(nn_mldsa_sig_t *sig, const nn_mldsa_key_t *k, const uint8_t *ctx, size_t ctxlen,
                            const uint8_t *msg, size_t msglen)
{
  return sign(sig, k, ctx, ctxlen, msg, msglen, NULL);
}

nn_err_t
nn_mldsa_verify(const nn_mldsa_pk_t *pk, const uint8_t *ctx, size_t ctxlen, const uint8_t *msg, size_t msglen,
                const nn_mldsa_sig_t *sig)
{
  EVP_PKEY *key = EVP_PKEY_new_raw_public_key_ex(NULL, ALG, NULL, pk->b, NN_MLDSA_PK_LEN);
  EVP_PKEY_CTX *pctx = key ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;
  EVP_SIGNATURE *alg = EVP_SIGNATURE_fetch(NULL, ALG, NULL);
  nn_err_t err = NN_ERR_VERIFY;
  OSSL_PARAM p[2];

  if (ctxlen > NN_MLDSA_CTX_MAX)
    goto out;
  p[0] =
    OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_CONTEXT_STRING, (void *)(ctx ? ctx : empty_ctx), ctxlen);
  p[1] = OSSL_PARAM_construct_end();
  if (pctx && alg && EVP_PKEY_verify_message_init(pctx, alg, p) == 1 &&
      EVP_PKEY_verify(pctx, sig->b, NN_MLDSA_SIG_LEN, msg, msglen) == 1)
    err = NN_OK;
out:
  EVP_SIGNATURE_free(alg);
  EVP_PKEY_CTX_free(pctx);
  EVP_PKEY_free(key);
  return err;
}
