/**
 * \file ellswift.h
 * \brief The classical half of the handshake: x-only ECDH on secp256k1 with ElligatorSwift
 *        public keys (libsecp256k1 >= 0.4; BIP324's choice), 64 bytes that cannot be told from
 *        uniform ones, every 64-byte string a valid key.
 *
 * Why not X25519 with Elligator 2 (docs/OBFUSCATION.md has the measurements): Elligator 2 maps
 * only half of the points, its representatives need random top bits and "dirty" keys with a
 * random low-order component (three distinguishers found in deployed code), and no Debian
 * package offers the inverse map, so it would be field arithmetic written here. ElligatorSwift
 * encodes every point of a prime-order curve (no subgroup to hide) and comes with Bitcoin
 * Core's review and BIP324's vectors.
 *
 * The library's encoder is randomized and, its authors say, not stable across versions: vectors
 * give the 64 encoded bytes as inputs, and only decoding (the map f(u, t)) is normative.
 * Each call makes its own libsecp256k1 context (a small allocation): no state to carry, and a
 * misuse returns an error instead of taking the library's default action, abort().
 */
#ifndef NN_CRYPTO_ELLSWIFT_H
#define NN_CRYPTO_ELLSWIFT_H

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "crypto/types.h"

#define NN_ELLSWIFT_LEN 64
#define NN_SECP_SK_LEN 32

typedef struct {
  uint8_t b[NN_ELLSWIFT_LEN];
} nn_ellswift_pk_t;
typedef struct {
  uint8_t b[NN_SECP_SK_LEN];
} nn_secp_sk_t;

/** A fresh key pair: the secret and the encoding's randomness from \a rng (NULL: the system
 *  CSPRNG). */
nn_err_t nn_ellswift_keygen(nn_secp_sk_t *sk, nn_ellswift_pk_t *pk, const nn_rng_t *rng);
/** The x coordinate of sk * decode(theirs): the raw ECDH secret (the handshake's combiner
 *  hashes it with both encodings). \a initiator says which side we are, so that both sides
 *  order the two encodings alike. NN_ERR_CRYPTO for an invalid \a sk; any \a theirs is valid. */
nn_err_t nn_ellswift_shared(nn_secret_t *ss, const nn_secp_sk_t *sk, const nn_ellswift_pk_t *ours,
                            const nn_ellswift_pk_t *theirs, int initiator);
/** The public point of decode(\a pk) as 33 bytes (SEC1 compressed), for tests and vectors. */
nn_err_t nn_ellswift_decode(uint8_t point[33], const nn_ellswift_pk_t *pk);
/** The public point of \a sk as 33 bytes (SEC1 compressed), for tests and vectors. */
nn_err_t nn_secp_public(uint8_t point[33], const nn_secp_sk_t *sk);
/** libsecp256k1's self test (selftest.c runs it): it aborts on a miscompiled library, which no
 *  input can cause. */
nn_err_t nn_secp_selftest(void);

#endif
