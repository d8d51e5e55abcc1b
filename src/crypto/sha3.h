/** \file sha3.h \brief SHA3-256, SHA3-512 and SHAKE-256 (FIPS 202) over OpenSSL EVP. */
#ifndef NN_CRYPTO_SHA3_H
#define NN_CRYPTO_SHA3_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/types.h"

nn_err_t nn_sha3_256(nn_hash_t *out, const uint8_t *data, size_t len);
nn_err_t nn_sha3_512(nn_hash512_t *out, const uint8_t *data, size_t len);
nn_err_t nn_shake256(uint8_t *out, size_t outlen, const uint8_t *data, size_t len);

/** Incremental SHA3-256, for transcripts and multi-part inputs. */
typedef struct nn_sha3_t {
  void *md;
} nn_sha3_t;
nn_err_t nn_sha3_init(nn_sha3_t *h);
nn_err_t nn_sha3_update(nn_sha3_t *h, const uint8_t *data, size_t len);
/** Hash of everything so far; the context stays usable (a running transcript hash). */
nn_err_t nn_sha3_peek(nn_sha3_t *h, nn_hash_t *out);
/** Hash of everything so far; the context is freed. */
nn_err_t nn_sha3_final(nn_sha3_t *h, nn_hash_t *out);
void nn_sha3_free(nn_sha3_t *h);

#endif
