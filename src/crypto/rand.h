/**
 * \file rand.h
 * \brief Randomness, injected: the system CSPRNG in production, a seeded generator in tests
 * and in the simulator, so that a run can be replayed byte for byte.
 */
#ifndef NN_CRYPTO_RAND_H
#define NN_CRYPTO_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/types.h"

/** A source of random bytes. A NULL nn_rng_t pointer means OpenSSL's CSPRNG. */
typedef struct nn_rng_t {
  nn_err_t (*fill)(void *ctx, uint8_t *out, size_t n);
  void *ctx;
} nn_rng_t;

/** Fill \a out from \a rng, or from RAND_priv_bytes when \a rng is NULL. */
nn_err_t nn_rng_fill(const nn_rng_t *rng, uint8_t *out, size_t n);

/**
 * Deterministic generator: call i returns SHAKE-256(seed || be64(i)) truncated to n bytes.
 * For tests, test vectors and the simulator only; never for keys a real node uses.
 */
typedef struct nn_drbg_t {
  uint8_t seed[NN_HASH_LEN];
  uint64_t calls;
} nn_drbg_t;

void nn_drbg_init(nn_drbg_t *d, const uint8_t seed[NN_HASH_LEN]);
/** Seed from a small integer (convenient for tests): seed = SHA3-256("nepnet-drbg" || be64(n)). */
void nn_drbg_init_u64(nn_drbg_t *d, uint64_t n);
nn_rng_t nn_drbg_rng(nn_drbg_t *d);

#endif
