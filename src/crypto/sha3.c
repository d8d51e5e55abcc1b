#include "crypto/sha3.h"

#include <openssl/evp.h>

static nn_err_t
digest(const EVP_MD *md, uint8_t *out, const uint8_t *data, size_t len)
{
  return EVP_Digest(data, len, out, NULL, md, NULL) == 1 ? NN_OK : NN_ERR_CRYPTO;
}

nn_err_t
nn_sha3_256(nn_hash_t *out, const uint8_t *data, size_t len)
{
  return digest(EVP_sha3_256(), out->b, data, len);
}

nn_err_t
nn_sha3_512(nn_hash512_t *out, const uint8_t *data, size_t len)
{
  return digest(EVP_sha3_512(), out->b, data, len);
}

nn_err_t
nn_shake256(uint8_t *out, size_t outlen, const uint8_t *data, size_t len)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  nn_err_t err = NN_ERR_CRYPTO;
  if (ctx && EVP_DigestInit_ex(ctx, EVP_shake256(), NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
      EVP_DigestFinalXOF(ctx, out, outlen) == 1)
    err = NN_OK;
  EVP_MD_CTX_free(ctx);
  return err;
}

nn_err_t
nn_sha3_init(nn_sha3_t *h)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  h->md = NULL;
  if (!ctx)
    return NN_ERR_NOMEM;
  if (EVP_DigestInit_ex(ctx, EVP_sha3_256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    return NN_ERR_CRYPTO;
  }
  h->md = ctx;
  return NN_OK;
}

nn_err_t
nn_sha3_update(nn_sha3_t *h, const uint8_t *data, size_t len)
{
  if (!h->md)
    return NN_ERR_ARG;
  return EVP_DigestUpdate(h->md, data, len) == 1 ? NN_OK : NN_ERR_CRYPTO;
}

nn_err_t
nn_sha3_peek(nn_sha3_t *h, nn_hash_t *out)
{
  EVP_MD_CTX *copy;
  nn_err_t err = NN_ERR_CRYPTO;
  if (!h->md)
    return NN_ERR_ARG;
  if (!(copy = EVP_MD_CTX_new()))
    return NN_ERR_NOMEM;
  if (EVP_MD_CTX_copy_ex(copy, h->md) == 1 && EVP_DigestFinal_ex(copy, out->b, NULL) == 1)
    err = NN_OK;
  EVP_MD_CTX_free(copy);
  return err;
}

nn_err_t
nn_sha3_final(nn_sha3_t *h, nn_hash_t *out)
{
  nn_err_t err = NN_ERR_ARG;
  if (h->md)
    err = EVP_DigestFinal_ex(h->md, out->b, NULL) == 1 ? NN_OK : NN_ERR_CRYPTO;
  nn_sha3_free(h);
  return err;
}

void
nn_sha3_free(nn_sha3_t *h)
{
  if (!h)
    return;
  EVP_MD_CTX_free(h->md); /* EVP_MD_CTX_free cleanses the Keccak state */
  h->md = NULL;
}
