#include "transport/cookie.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/sha3.h"
#include "lib/wire.h"

nn_err_t
nn_cookie_jar_new(nn_cookie_jar_t **out, const nn_rng_t *rng, uint64_t now_ms)
{
  nn_cookie_jar_t *j = calloc(1, sizeof(*j));
  nn_err_t err;
  *out = NULL;
  if (!j)
    return NN_ERR_NOMEM;
  if (pthread_mutex_init(&j->mu, NULL)) {
    free(j);
    return NN_ERR_NOMEM;
  }
  j->rng = rng;
  if ((err = nn_rng_fill(rng, j->secret[0], 32)) || (err = nn_rng_fill(rng, j->secret[1], 32))) {
    nn_cookie_jar_free(j);
    return err;
  }
  j->rotated_ms = now_ms;
  *out = j;
  return NN_OK;
}

nn_err_t
nn_cookie_jar_tick(nn_cookie_jar_t *j, uint64_t now_ms)
{
  uint8_t fresh[32];
  nn_err_t err;
  if (now_ms - j->rotated_ms < NN_COOKIE_ROTATE_MS) /* only the loop's thread writes rotated_ms */
    return NN_OK;
  if ((err = nn_rng_fill(j->rng, fresh, 32)))
    goto out;
  pthread_mutex_lock(&j->mu);
  memcpy(j->secret[1], j->secret[0], 32);
  memcpy(j->secret[0], fresh, 32);
  j->rotated_ms = now_ms;
  pthread_mutex_unlock(&j->mu);
out:
  OPENSSL_cleanse(fresh, sizeof(fresh));
  return err;
}

void
nn_cookie_jar_free(nn_cookie_jar_t *j)
{
  if (!j)
    return;
  pthread_mutex_destroy(&j->mu);
  OPENSSL_cleanse(j, sizeof(*j));
  free(j);
}

nn_err_t
nn_cookie_make(const nn_cookie_jar_t *j, int which, uint32_t network, const uint8_t *addr, size_t addrlen,
               const uint8_t *keys, size_t keyslen, uint8_t out[NN_COOKIE_LEN])
{
  uint8_t net[4], secret[32];
  nn_sha3_t h;
  nn_hash_t d;
  nn_err_t err;

  nn_be32_put(net, network);
  /* the lock is taken by a const jar: it guards the secrets, not the jar's meaning */
  pthread_mutex_lock((pthread_mutex_t *)&j->mu);
  memcpy(secret, j->secret[which], 32);
  pthread_mutex_unlock((pthread_mutex_t *)&j->mu);
  if ((err = nn_sha3_init(&h)))
    goto out;
  if ((err = nn_sha3_update(&h, secret, 32)) || (err = nn_sha3_update(&h, net, 4)) ||
      (err = nn_sha3_update(&h, addr, addrlen)) || (err = nn_sha3_update(&h, keys, keyslen))) {
    nn_sha3_free(&h);
    goto out;
  }
  if (!(err = nn_sha3_final(&h, &d)))
    memcpy(out, d.b, NN_COOKIE_LEN);
out:
  OPENSSL_cleanse(&d, sizeof(d));
  OPENSSL_cleanse(secret, sizeof(secret));
  return err;
}

nn_err_t
nn_cookie_check(const nn_cookie_jar_t *j, uint32_t network, const uint8_t *addr, size_t addrlen, const uint8_t *keys,
                size_t keyslen, const uint8_t cookie[NN_COOKIE_LEN])
{
  uint8_t want[NN_COOKIE_LEN];
  for (int which = 0; which < 2; which++) {
    nn_err_t err = nn_cookie_make(j, which, network, addr, addrlen, keys, keyslen, want);
    if (err)
      return err;
    if (CRYPTO_memcmp(want, cookie, NN_COOKIE_LEN) == 0)
      return NN_OK;
  }
  return NN_ERR_VERIFY;
}
