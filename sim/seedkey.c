#include "sim/seedkey.h"

#include <string.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "lib/wire.h"

nn_err_t
sim_seedkey_init(nn_keyhash_t *h, uint64_t seed, const char *label)
{
  uint8_t in[64];
  size_t l = strlen(label);
  nn_hash_t s;
  nn_drbg_t d;
  nn_err_t err;
  h->ctx = NULL;
  if (l > sizeof(in) - 8)
    return NN_ERR_ARG;
  memcpy(in, label, l);
  nn_be64_put(in + l, seed);
  if ((err = nn_sha3_256(&s, in, l + 8)))
    return err;
  nn_drbg_init(&d, s.b);
  nn_rng_t rng = nn_drbg_rng(&d);
  return nn_keyhash_init(h, &rng);
}
