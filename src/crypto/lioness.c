#include "crypto/lioness.h"

#include <openssl/crypto.h>

#define HALF 32 /* |L|: the stream key and the hash output */

/* R ^= S(L ^ K) */
static nn_err_t
stream_round(nn_sym_t *s, const uint8_t *k, uint8_t *buf, size_t len)
{
  uint8_t key[HALF];
  nn_err_t err;

  for (size_t i = 0; i < HALF; i++)
    key[i] = buf[i] ^ k[i];
  err = nn_sym_ctr_xor(s, key, NULL, buf + HALF, buf + HALF, len - HALF);
  OPENSSL_cleanse(key, sizeof(key));
  return err;
}

/* L ^= H(K, R) */
static nn_err_t
hash_round(nn_sym_t *s, const uint8_t *k, uint8_t *buf, size_t len)
{
  uint8_t h[HALF];
  nn_err_t err = nn_sym_hmac(s, h, k, buf + HALF, len - HALF);

  if (!err)
    for (size_t i = 0; i < HALF; i++)
      buf[i] ^= h[i];
  OPENSSL_cleanse(h, sizeof(h));
  return err;
}

nn_err_t
nn_lioness_encrypt(nn_sym_t *s, const nn_lioness_key_t *k, uint8_t *buf, size_t len)
{
  nn_err_t err;

  if (len < NN_LIONESS_MIN_LEN)
    return NN_ERR_ARG;
  if ((err = stream_round(s, k->b, buf, len)) || (err = hash_round(s, k->b + 32, buf, len)) ||
      (err = stream_round(s, k->b + 64, buf, len)) || (err = hash_round(s, k->b + 96, buf, len)))
    return err;
  return NN_OK;
}

nn_err_t
nn_lioness_decrypt(nn_sym_t *s, const nn_lioness_key_t *k, uint8_t *buf, size_t len)
{
  nn_err_t err;

  if (len < NN_LIONESS_MIN_LEN)
    return NN_ERR_ARG;
  if ((err = hash_round(s, k->b + 96, buf, len)) || (err = stream_round(s, k->b + 64, buf, len)) ||
      (err = hash_round(s, k->b + 32, buf, len)) || (err = stream_round(s, k->b, buf, len)))
    return err;
  return NN_OK;
}
