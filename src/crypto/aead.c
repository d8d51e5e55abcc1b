#include "crypto/aead.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

nn_err_t
nn_aead_init(nn_aead_t *a, const nn_aead_key_t *key)
{
  if (!a->ctx && !(a->ctx = EVP_CIPHER_CTX_new()))
    return NN_ERR_NOMEM;
  if (EVP_CipherInit_ex(a->ctx, EVP_aes_256_gcm(), NULL, key->b, NULL, 1) != 1)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

/* One pass of GCM in direction enc; the tag is written (enc) or checked (!enc). */
static nn_err_t
gcm(nn_aead_t *a, int enc, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t *out, uint8_t *tag)
{
  EVP_CIPHER_CTX *c = a->ctx;
  int n;

  if (!c || inlen > INT_MAX || aadlen > INT_MAX)
    return NN_ERR_ARG;
  if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce->b, enc) != 1)
    return NN_ERR_CRYPTO;
  if (aadlen && EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
    return NN_ERR_CRYPTO;
  if (inlen && EVP_CipherUpdate(c, out, &n, in, (int)inlen) != 1)
    return NN_ERR_CRYPTO;
  if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, NN_AEAD_TAG_LEN, tag) != 1)
    return NN_ERR_CRYPTO;
  if (EVP_CipherFinal_ex(c, out + inlen, &n) != 1)
    return enc ? NN_ERR_CRYPTO : NN_ERR_VERIFY;
  if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, NN_AEAD_TAG_LEN, tag) != 1)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

nn_err_t
nn_aead_seal(nn_aead_t *a, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *pt,
             size_t ptlen, uint8_t *out)
{
  return gcm(a, 1, nonce, aad, aadlen, pt, ptlen, out, out + ptlen);
}

nn_err_t
nn_aead_seal_iov(nn_aead_t *a, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen, const nn_iov_t *parts,
                 size_t n, uint8_t *out)
{
  EVP_CIPHER_CTX *c = a->ctx;
  size_t off = 0;
  int len;

  if (!c || aadlen > INT_MAX)
    return NN_ERR_ARG;
  if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce->b, 1) != 1)
    return NN_ERR_CRYPTO;
  if (aadlen && EVP_CipherUpdate(c, NULL, &len, aad, (int)aadlen) != 1)
    return NN_ERR_CRYPTO;
  for (size_t i = 0; i < n; i++) {
    if (!parts[i].len)
      continue;
    if (parts[i].len > INT_MAX || EVP_CipherUpdate(c, out + off, &len, parts[i].p, (int)parts[i].len) != 1)
      return NN_ERR_CRYPTO;
    off += parts[i].len;
  }
  if (EVP_CipherFinal_ex(c, out + off, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, NN_AEAD_TAG_LEN, out + off) != 1)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

nn_err_t
nn_aead_open(nn_aead_t *a, const nn_aead_nonce_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *ct,
             size_t ctlen, uint8_t *out)
{
  uint8_t tag[NN_AEAD_TAG_LEN];
  nn_err_t err;

  if (ctlen < NN_AEAD_TAG_LEN)
    return NN_ERR_TRUNCATED;
  ctlen -= NN_AEAD_TAG_LEN;
  /* Copy the tag first: out may alias ct and decryption overwrites it. */
  for (size_t i = 0; i < NN_AEAD_TAG_LEN; i++)
    tag[i] = ct[ctlen + i];
  err = gcm(a, 0, nonce, aad, aadlen, ct, ctlen, out, tag);
  if (err && ctlen)
    OPENSSL_cleanse(out, ctlen);
  return err;
}

void
nn_aead_free(nn_aead_t *a)
{
  if (!a)
    return;
  EVP_CIPHER_CTX_free(a->ctx);
  a->ctx = NULL;
}
