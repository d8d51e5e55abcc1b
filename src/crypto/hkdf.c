#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static nn_err_t
hkdf(const char *md, int mode, uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *salt,
     size_t saltlen, const uint8_t *info, size_t infolen)
{
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM p[6], *q = p;
  static const uint8_t empty[1];
  nn_err_t err = NN_ERR_CRYPTO;

  if (!ctx)
    goto out;
  *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
  *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  /* OpenSSL refuses a zero-length key pointer of NULL; an empty IKM is legal in RFC 5869. */
  *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key ? key : empty), keylen);
  if (saltlen)
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
  if (infolen)
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
  *q = OSSL_PARAM_construct_end();
  if (EVP_KDF_derive(ctx, out, outlen, p) == 1)
    err = NN_OK;
out:
  EVP_KDF_CTX_free(ctx); /* frees (and cleanses) the key copy it holds */
  EVP_KDF_free(kdf);
  return err;
}

nn_err_t
nn_hkdf_extract_md(const char *md, uint8_t *prk, size_t prklen, const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
                   size_t ikmlen)
{
  return hkdf(md, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, prk, prklen, ikm, ikmlen, salt, saltlen, NULL, 0);
}

nn_err_t
nn_hkdf_expand_md(const char *md, uint8_t *out, size_t outlen, const uint8_t *prk, size_t prklen, const uint8_t *info,
                  size_t infolen)
{
  return hkdf(md, EVP_KDF_HKDF_MODE_EXPAND_ONLY, out, outlen, prk, prklen, NULL, 0, info, infolen);
}

nn_err_t
nn_hkdf_extract(nn_secret_t *prk, const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen)
{
  return nn_hkdf_extract_md("SHA3-256", prk->b, sizeof(prk->b), salt, saltlen, ikm, ikmlen);
}

nn_err_t
nn_hkdf_expand(uint8_t *out, size_t outlen, const nn_secret_t *prk, const uint8_t *info, size_t infolen)
{
  if (outlen > 255 * NN_HASH_LEN)
    return NN_ERR_ARG;
  return nn_hkdf_expand_md("SHA3-256", out, outlen, prk->b, sizeof(prk->b), info, infolen);
}
