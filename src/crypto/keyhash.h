/**
 * \file keyhash.h
 * \brief The one keyed hash of the tree: SipHash-2-4 (64-bit output) through OpenSSL's EVP_MAC,
 * for hash tables a peer can feed (per-address tables, transaction indexes) and for values a
 * peer must not predict (DHT request ids). The key comes from the injected randomness, so an
 * attacker who does not know it cannot aim many inputs at one bucket or guess the next id,
 * while a seeded nn_drbg_t (tests, the simulator) still replays a run exactly.
 *
 * One key per owner (a listener, a DHT core, a Dandelion++ core): cheap to create, and a
 * leaked hash says nothing about another node's tables. Not thread-safe: one user at a time.
 */
#ifndef NN_CRYPTO_KEYHASH_H
#define NN_CRYPTO_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/rand.h"

#define NN_KEYHASH_KEY_LEN 16

typedef struct nn_keyhash_t {
  struct evp_mac_ctx_st *ctx; /* keyed once; each hash re-initialises from the stored key */
} nn_keyhash_t;

/** Key from \a rng (NULL: OpenSSL's CSPRNG). */
nn_err_t nn_keyhash_init(nn_keyhash_t *h, const nn_rng_t *rng);
/** Key given (known-answer tests). */
nn_err_t nn_keyhash_init_key(nn_keyhash_t *h, const uint8_t key[NN_KEYHASH_KEY_LEN]);
/** Wipe and free the key; accepts a zeroed or already freed one. */
void nn_keyhash_free(nn_keyhash_t *h);

/** SipHash-2-4 of \a data as a little-endian 64-bit number (SipHash's own byte order). Never
 *  fails once initialised; should OpenSSL fail anyway, the result is 0 (tables still work). */
uint64_t nn_keyhash(nn_keyhash_t *h, const void *data, size_t len);
/** Of the 8 little-endian bytes of \a x (counters, handles). */
uint64_t nn_keyhash_u64(nn_keyhash_t *h, uint64_t x);

#endif
