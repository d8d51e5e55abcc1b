#include "crypto/rand.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/sha3.h"
#include "lib/wire.h"

nn_err_t
nn_rng_fill(const nn_rng_t *rng, uint8_t *out, size_t n)
{
  if (n == 0)
    return NN_OK;
  if (rng)
    return rng->fill(rng->ctx, out, n);
  if (n > INT32_MAX || RAND_priv_bytes(out, (int)n) != 1)
    return NN_ERR_CRYPTO;
  return NN_OK;
}

void
nn_drbg_init(nn_drbg_t *d, const uint8_t seed[NN_HASH_LEN])
{
  memcpy(d->seed, seed, NN_HASH_LEN);
  d->calls = 0;
}

void
nn_drbg_init_u64(nn_drbg_t *d, uint64_t n)
{
  uint8_t in[11 + 8];
  nn_hash_t h;
  memcpy(in, "nepnet-drbg", 11);
  nn_be64_put(in + 11, n);
  nn_sha3_256(&h, in, sizeof(in));
  nn_drbg_init(d, h.b);
}

static nn_err_t
drbg_fill(void *ctx, uint8_t *out, size_t n)
{
  nn_drbg_t *d = ctx;
  uint8_t in[NN_HASH_LEN + 8];
  memcpy(in, d->seed, NN_HASH_LEN);
  nn_be64_put(in + NN_HASH_LEN, d->calls++);
  nn_err_t err = nn_shake256(out, n, in, sizeof(in));
  OPENSSL_cleanse(in, sizeof(in));
  return err;
}

nn_rng_t
nn_drbg_rng(nn_drbg_t *d)
{
  nn_rng_t r = { drbg_fill, d };
  return r;
}
