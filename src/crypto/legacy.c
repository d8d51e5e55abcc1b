/* STUN's and TURN's algorithms (legacy.h), through OpenSSL's one-shot EVP calls. */
#include "crypto/legacy.h"

#include <openssl/evp.h>

static nn_err_t
hmac(const char *digest, uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len, const uint8_t *data,
     size_t len)
{
  size_t n = 0;
  static const uint8_t empty[1] = { 0 };
  if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key_len ? key : empty, key_len, data ? data : empty, len, out,
                 out_len, &n) ||
      n != out_len)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

nn_err_t
nn_hmac_sha1(uint8_t out[NN_SHA1_LEN], const uint8_t *key, size_t key_len, const uint8_t *data, size_t len)
{
  return hmac("SHA1", out, NN_SHA1_LEN, key, key_len, data, len);
}

nn_err_t
nn_hmac_sha256(uint8_t out[NN_SHA256_LEN], const uint8_t *key, size_t key_len, const uint8_t *data, size_t len)
{
  return hmac("SHA256", out, NN_SHA256_LEN, key, key_len, data, len);
}

static nn_err_t
digest(const char *name, uint8_t *out, size_t out_len, const uint8_t *data, size_t len)
{
  size_t n = 0;
  static const uint8_t empty[1] = { 0 };
  if (!EVP_Q_digest(NULL, name, NULL, data ? data : empty, len, out, &n) || n != out_len)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

nn_err_t
nn_md5(uint8_t out[NN_MD5_LEN], const uint8_t *data, size_t len)
{
  return digest("MD5", out, NN_MD5_LEN, data, len);
}

nn_err_t
nn_sha256(uint8_t out[NN_SHA256_LEN], const uint8_t *data, size_t len)
{
  return digest("SHA256", out, NN_SHA256_LEN, data, len);
}
