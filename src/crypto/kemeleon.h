/**
 * \file kemeleon.h
 * \brief Kemeleon encoding of ML-KEM-1024 encapsulation keys (draft-irtf-cfrg-kemeleon-02,
 *        EncodeEk/DecodeEk without rejection): a key as 1,568 bytes that cannot be told from
 *        uniform ones, and every 1,568-byte string a valid key.
 *
 * A FIPS 203 key is t (4 polynomials of 256 coefficients mod q = 3329, 12 bits each) and the
 * 32-byte seed rho. Every 12-bit window of t is below 3329, which a uniform string fails with
 * probability 1 - 2^-306: one key gives itself away. Here each polynomial becomes the integer
 * r = sum a_j q^j (2,996 bits) plus m q^256 with m uniform in [0, floor((2^3072 - 1 - r) / q^256)],
 * written as 384 bytes little-endian (the draft leaves the byte order open); rho follows as is.
 * The result is within 2^-76 of uniform (statistical). Decoding takes the value mod q^256 and
 * its base-q digits, so any string decodes to a key that passes FIPS 203's modulus check.
 *
 * m must stay secret (whoever knows it can re-encode a candidate key and compare), so it comes
 * from the caller's generator and is wiped. The arithmetic is OpenSSL's BIGNUM and is not
 * constant-time: it reveals timing about the key (which the channel sends anyway) and about m to
 * a local observer only. docs/PROTOCOL.md has the byte layout and vectors.
 */
#ifndef NN_CRYPTO_KEMELEON_H
#define NN_CRYPTO_KEMELEON_H

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "crypto/types.h"

#define NN_KEMELEON_EK_LEN NN_MLKEM_PK_LEN /* 4 x 384 + 32 */

/** Encode \a ek (FIPS 203 bytes) into \a out, m from \a rng (NULL: the system CSPRNG).
 *  NN_ERR_FORMAT if a coefficient of \a ek is not below q (no FIPS 203 key has one). */
nn_err_t nn_kemeleon_encode_ek(uint8_t out[NN_KEMELEON_EK_LEN], const nn_mlkem_pk_t *ek, const nn_rng_t *rng);
/** Decode any \a in into the FIPS 203 key it stands for. Fails only for lack of memory. */
nn_err_t nn_kemeleon_decode_ek(nn_mlkem_pk_t *ek, const uint8_t in[NN_KEMELEON_EK_LEN]);

#endif
