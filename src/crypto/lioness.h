/**
 * \file lioness.h
 * \brief LIONESS (Anderson and Biham, "Two practical and provably secure block ciphers: BEAR
 * and LION", FSE 1996): a wide-block cipher, a strong pseudorandom permutation on a whole
 * buffer, built from AES-256-CTR (the stream cipher S) and HMAC-SHA-256 (the keyed hash H).
 *
 * The buffer is split into L (its first 32 bytes) and R (the rest), and four rounds run:
 *
 *     R ^= S(L ^ K1);  L ^= H(K2, R);  R ^= S(L ^ K3);  L ^= H(K4, R)
 *
 * where S(k) is the AES-256-CTR keystream of key k from a zero counter block. Decryption runs
 * the rounds backwards. Changing any bit of a ciphertext turns the whole decryption into
 * unrelated bytes, which is what the mixnet needs against tagging: a payload marked on its way
 * is destroyed, not delivered with the mark (docs/PROTOCOL.md section 9).
 */
#ifndef NN_CRYPTO_LIONESS_H
#define NN_CRYPTO_LIONESS_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/sym.h"

#define NN_LIONESS_KEY_LEN 128 /* K1 || K2 || K3 || K4, 32 bytes each */
#define NN_LIONESS_MIN_LEN 64  /* L (32) and at least 32 bytes of R */

typedef struct nn_lioness_key_t {
  uint8_t b[NN_LIONESS_KEY_LEN];
} nn_lioness_key_t;

/** Encrypt \a len (>= NN_LIONESS_MIN_LEN) bytes in place. */
nn_err_t nn_lioness_encrypt(nn_sym_t *s, const nn_lioness_key_t *k, uint8_t *buf, size_t len);
/** Decrypt in place; the inverse of nn_lioness_encrypt. */
nn_err_t nn_lioness_decrypt(nn_sym_t *s, const nn_lioness_key_t *k, uint8_t *buf, size_t len);

#endif
