/**
 * \file aesblock.h
 * \brief AES-256 as a keyed PRF on 16-byte blocks (one-block ECB), for masks such as the
 * record layer's encrypted lengths. Key schedule computed once per key.
 */
#ifndef NN_CRYPTO_AESBLOCK_H
#define NN_CRYPTO_AESBLOCK_H

#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/types.h"

typedef struct nn_aesblock_t {
  void *ctx;
} nn_aesblock_t;

nn_err_t nn_aesblock_init(nn_aesblock_t *a, const uint8_t key[32]);
/** out = AES-256(key, in). */
nn_err_t nn_aesblock_encrypt(nn_aesblock_t *a, const uint8_t in[16], uint8_t out[16]);
void nn_aesblock_free(nn_aesblock_t *a);

#endif
