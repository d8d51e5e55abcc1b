#include "mixnet/replay.h"

#include <stdlib.h>
#include <string.h>

/* k = 20 probes and 28.76 bits per tag give a false-positive rate of 1e-6 at capacity:
 * m/n = -ln(p) / ln(2)^2, k = (m/n) ln 2. */
#define PROBES 20
#define BITS_PER_TAG_X100 2876

struct nn_replay_t {
  uint64_t *bits;
  uint64_t nbits;
  size_t count;
};

nn_err_t
nn_replay_new(nn_replay_t **out, size_t capacity)
{
  nn_replay_t *r;

  *out = NULL;
  if (!capacity || capacity > NN_REPLAY_MAX_CAPACITY)
    return NN_ERR_ARG;
  if (!(r = calloc(1, sizeof(*r))))
    return NN_ERR_NOMEM;
  r->nbits = ((uint64_t)capacity * BITS_PER_TAG_X100 / 100 + 63) & ~(uint64_t)63;
  if (!(r->bits = calloc(r->nbits / 64, sizeof(uint64_t)))) {
    free(r);
    return NN_ERR_NOMEM;
  }
  *out = r;
  return NN_OK;
}

void
nn_replay_free(nn_replay_t *r)
{
  if (!r)
    return;
  free(r->bits);
  free(r);
}

static uint64_t
le64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

int
nn_replay_check_and_add(nn_replay_t *r, const uint8_t tag[NN_REPLAY_TAG_LEN])
{
  /* double hashing (Kirsch and Mitzenmacher): probe i at h1 + i * h2 */
  uint64_t h1 = le64(tag), h2 = le64(tag + 8) | 1, seen = 1;
  uint64_t pos[PROBES];

  for (int i = 0; i < PROBES; i++) {
    pos[i] = (h1 + (uint64_t)i * h2) % r->nbits;
    seen &= r->bits[pos[i] / 64] >> (pos[i] % 64);
  }
  if (seen & 1)
    return 1;
  for (int i = 0; i < PROBES; i++)
    r->bits[pos[i] / 64] |= (uint64_t)1 << (pos[i] % 64);
  r->count++;
  return 0;
}

size_t
nn_replay_count(const nn_replay_t *r)
{
  return r->count;
}

size_t
nn_replay_bytes(const nn_replay_t *r)
{
  return (size_t)(r->nbits / 8);
}

const uint64_t *
nn_replay_bits(const nn_replay_t *r, size_t *nwords)
{
  *nwords = (size_t)(r->nbits / 64);
  return r->bits;
}

nn_err_t
nn_replay_merge(nn_replay_t *r, const uint64_t *bits, size_t nwords, size_t count)
{
  if (nwords != r->nbits / 64)
    return NN_ERR_ARG;
  for (size_t i = 0; i < nwords; i++)
    r->bits[i] |= bits[i];
  r->count += count;
  return NN_OK;
}
