#include "crypto/sym.h"

#include <limits.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

struct nn_sym_t {
  EVP_CIPHER *aes_ctr;
  EVP_CIPHER_CTX *cipher;
  EVP_MAC *hmac;
  EVP_MAC_CTX *mac;
};

nn_err_t
nn_sym_new(nn_sym_t **out)
{
  nn_sym_t *s = calloc(1, sizeof(*s));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END };

  *out = NULL;
  if (!s)
    return NN_ERR_NOMEM;
  if (!(s->aes_ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL)) || !(s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) ||
      !(s->cipher = EVP_CIPHER_CTX_new()) || !(s->mac = EVP_MAC_CTX_new(s->hmac)) ||
      EVP_MAC_CTX_set_params(s->mac, params) != 1) {
    nn_sym_free(s);
    return NN_ERR_CRYPTO;
  }
  *out = s;
  return NN_OK;
}

void
nn_sym_free(nn_sym_t *s)
{
  if (!s)
    return;
  EVP_MAC_CTX_free(s->mac);
  EVP_MAC_free(s->hmac);
  EVP_CIPHER_CTX_free(s->cipher);
  EVP_CIPHER_free(s->aes_ctr);
  free(s);
}

void
nn_sym_wipe(nn_sym_t *s)
{
  static const uint8_t zero[NN_SYM_KEY_LEN] = { 0 };

  if (!s)
    return;
  EVP_CIPHER_CTX_reset(s->cipher);
  (void)EVP_MAC_init(s->mac, zero, sizeof(zero), NULL);
}

nn_err_t
nn_sym_ctr_xor(nn_sym_t *s, const uint8_t key[NN_SYM_KEY_LEN], const uint8_t iv[NN_SYM_IV_LEN], const uint8_t *in,
               uint8_t *out, size_t len)
{
  static const uint8_t zero_iv[NN_SYM_IV_LEN] = { 0 };
  int n;

  if (EVP_EncryptInit_ex2(s->cipher, s->aes_ctr, key, iv ? iv : zero_iv, NULL) != 1)
    return NN_ERR_CRYPTO;
  while (len) {
    size_t chunk = len > INT_MAX / 2 ? INT_MAX / 2 : len;
    if (EVP_EncryptUpdate(s->cipher, out, &n, in, (int)chunk) != 1 || (size_t)n != chunk)
      return NN_ERR_CRYPTO;
    in += chunk;
    out += chunk;
    len -= chunk;
  }
  return NN_OK;
}

nn_err_t
nn_sym_hmac(nn_sym_t *s, uint8_t out[NN_SYM_MAC_LEN], const uint8_t key[NN_SYM_KEY_LEN], const uint8_t *data,
            size_t len)
{
  size_t n = 0;

  if (EVP_MAC_init(s->mac, key, NN_SYM_KEY_LEN, NULL) != 1 || EVP_MAC_update(s->mac, data, len) != 1 ||
      EVP_MAC_final(s->mac, out, &n, NN_SYM_MAC_LEN) != 1 || n != NN_SYM_MAC_LEN) {
    OPENSSL_cleanse(out, NN_SYM_MAC_LEN);
    return NN_ERR_CRYPTO;
  }
  return NN_OK;
}
