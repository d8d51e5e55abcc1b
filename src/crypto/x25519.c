#include "crypto/x25519.h"

#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

nn_err_t
nn_x25519_public(nn_x25519_pk_t *pk, const nn_x25519_sk_t *sk)
{
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, sk->b, NN_X25519_LEN);
  size_t len = NN_X25519_LEN;
  nn_err_t err = NN_ERR_CRYPTO;
  if (k && EVP_PKEY_get_raw_public_key(k, pk->b, &len) == 1 && len == NN_X25519_LEN)
    err = NN_OK;
  EVP_PKEY_free(k);
  return err;
}

nn_err_t
nn_x25519_keygen(nn_x25519_sk_t *sk, nn_x25519_pk_t *pk, const nn_rng_t *rng)
{
  nn_err_t err = nn_rng_fill(rng, sk->b, NN_X25519_LEN);
  if (!err)
    err = nn_x25519_public(pk, sk);
  if (err)
    OPENSSL_cleanse(sk, sizeof(*sk));
  return err;
}

/* X25519(mine, pk) with OpenSSL's key object: importing the peer's public key costs no scalar
 * multiplication, the derive one. */
static nn_err_t
derive(nn_secret_t *ss, EVP_PKEY *mine, const nn_x25519_pk_t *pk)
{
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, pk->b, NN_X25519_LEN);
  EVP_PKEY_CTX *ctx = mine ? EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL) : NULL;
  size_t len = NN_HASH_LEN;
  nn_err_t err = NN_ERR_CRYPTO;

  /* OpenSSL's derive fails on the all-zero output of a low-order point (RFC 7748 section 6.1). */
  if (ctx && peer && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
      EVP_PKEY_derive(ctx, ss->b, &len) == 1 && len == NN_HASH_LEN)
    err = NN_OK;
  if (err)
    OPENSSL_cleanse(ss, sizeof(*ss));
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  return err;
}

nn_err_t
nn_x25519_shared(nn_secret_t *ss, const nn_x25519_sk_t *sk, const nn_x25519_pk_t *pk)
{
  EVP_PKEY *mine = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, sk->b, NN_X25519_LEN);
  nn_err_t err = derive(ss, mine, pk);
  EVP_PKEY_free(mine);
  return err;
}

/* The key object is OpenSSL's own: EVP_PKEY_free wipes the private key (ossl_ecx_key_free). */
struct nn_x25519_key_t {
  EVP_PKEY *pkey;
};

nn_err_t
nn_x25519_key_new(nn_x25519_key_t **out, nn_x25519_pk_t *pk, const nn_rng_t *rng)
{
  nn_x25519_sk_t sk;
  nn_x25519_key_t *k = calloc(1, sizeof(*k));
  size_t len = NN_X25519_LEN;
  nn_err_t err = NN_ERR_NOMEM;

  *out = NULL;
  if (!k)
    return err;
  if ((err = nn_rng_fill(rng, sk.b, NN_X25519_LEN)))
    goto out;
  err = NN_ERR_CRYPTO;
  if (!(k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, sk.b, NN_X25519_LEN)) ||
      EVP_PKEY_get_raw_public_key(k->pkey, pk->b, &len) != 1 || len != NN_X25519_LEN)
    goto out;
  *out = k;
  k = NULL;
  err = NN_OK;
out:
  OPENSSL_cleanse(&sk, sizeof(sk));
  nn_x25519_key_free(k);
  return err;
}

nn_err_t
nn_x25519_key_shared(nn_secret_t *ss, const nn_x25519_key_t *k, const nn_x25519_pk_t *pk)
{
  return derive(ss, k ? k->pkey : NULL, pk);
}

void
nn_x25519_key_free(nn_x25519_key_t *k)
{
  if (!k)
    return;
  EVP_PKEY_free(k->pkey);
  free(k);
}
