/**
 * \file hkdf.h
 * \brief HKDF (RFC 5869) with SHA3-256, split into Extract and Expand as key schedules use it.
 */
#ifndef NN_CRYPTO_HKDF_H
#define NN_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/types.h"

/** PRK = HMAC-SHA3-256(salt, ikm). */
nn_err_t nn_hkdf_extract(nn_secret_t *prk, const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen);
/** OKM = HKDF-Expand(prk, info, outlen); outlen <= 255 * 32. */
nn_err_t nn_hkdf_expand(uint8_t *out, size_t outlen, const nn_secret_t *prk, const uint8_t *info, size_t infolen);

/**
 * The same two steps with any OpenSSL digest name; exists so the RFC 5869 (SHA-256) vectors can
 * check this wrapper's plumbing. \a prk is \a prklen bytes (the digest size).
 */
nn_err_t nn_hkdf_extract_md(const char *md, uint8_t *prk, size_t prklen, const uint8_t *salt, size_t saltlen,
                            const uint8_t *ikm, size_t ikmlen);
nn_err_t nn_hkdf_expand_md(const char *md, uint8_t *out, size_t outlen, const uint8_t *prk, size_t prklen,
                           const uint8_t *info, size_t infolen);

#endif
