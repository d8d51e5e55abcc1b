#include "crypto/aesblock.h"

#include <openssl/evp.h>

nn_err_t
nn_aesblock_init(nn_aesblock_t *a, const uint8_t key[32])
{
  if (!a->ctx && !(a->ctx = EVP_CIPHER_CTX_new()))
    return NN_ERR_NOMEM;
  if (EVP_EncryptInit_ex(a->ctx, EVP_aes_256_ecb(), NULL, key, NULL) != 1 || EVP_CIPHER_CTX_set_padding(a->ctx, 0) != 1)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

nn_err_t
nn_aesblock_encrypt(nn_aesblock_t *a, const uint8_t in[16], uint8_t out[16])
{
  int n = 0;
  if (!a->ctx)
    return NN_ERR_ARG;
  return EVP_EncryptUpdate(a->ctx, out, &n, in, 16) == 1 && n == 16 ? NN_OK : NN_ERR_CRYPTO;
}

void
nn_aesblock_free(nn_aesblock_t *a)
{
  if (!a)
    return;
  EVP_CIPHER_CTX_free(a->ctx);
  a->ctx = NULL;
}
