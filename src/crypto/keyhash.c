#include "crypto/keyhash.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

nn_err_t
nn_keyhash_init_key(nn_keyhash_t *h, const uint8_t key[NN_KEYHASH_KEY_LEN])
{
  size_t outlen = 8; /* SipHash's 64-bit form: the 128-bit one is for MACs, not tables */
  OSSL_PARAM params[] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen), OSSL_PARAM_END };
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
  h->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  EVP_MAC_free(mac); /* the context keeps its own reference */
  if (!h->ctx || !EVP_MAC_init(h->ctx, key, NN_KEYHASH_KEY_LEN, params)) {
    nn_keyhash_free(h);
    return NN_ERR_CRYPTO;
  }
  return NN_OK;
}

nn_err_t
nn_keyhash_init(nn_keyhash_t *h, const nn_rng_t *rng)
{
  uint8_t key[NN_KEYHASH_KEY_LEN];
  nn_err_t e;
  h->ctx = NULL;
  if ((e = nn_rng_fill(rng, key, sizeof(key))) == NN_OK)
    e = nn_keyhash_init_key(h, key);
  OPENSSL_cleanse(key, sizeof(key));
  return e;
}

void
nn_keyhash_free(nn_keyhash_t *h)
{
  if (!h)
    return;
  EVP_MAC_CTX_free(h->ctx); /* the provider wipes its key */
  h->ctx = NULL;
}

uint64_t
nn_keyhash(nn_keyhash_t *h, const void *data, size_t len)
{
  uint8_t out[8];
  size_t outl = 0;
  /* A NULL key re-initialises with the key set in nn_keyhash_init_key. */
  if (!h->ctx || !EVP_MAC_init(h->ctx, NULL, 0, NULL) || !EVP_MAC_update(h->ctx, data, len) ||
      !EVP_MAC_final(h->ctx, out, &outl, sizeof(out)) || outl != sizeof(out))
    return 0;
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | out[i];
  return v;
}

uint64_t
nn_keyhash_u64(nn_keyhash_t *h, uint64_t x)
{
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(x >> (8 * i));
  return nn_keyhash(h, b, sizeof(b));
}
