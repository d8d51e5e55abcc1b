/*
 * Fuzz the mix descriptor parser (src/mixnet/dir.c) and the directory behind it.
 *
 * Input: data[0] bit 0 clear (structured): a genuine descriptor with data[1] & 15 edits of 3
 * bytes (u16 position mod the length, XOR byte; 0 truncates there) and the rest of the input
 * appended; bit 0 set: the rest of the input as a descriptor.
 *
 * Invariants: only the genuine bytes parse as OK (an edit anywhere is refused: a forgery would
 * abort); a refused descriptor leaves the directory as it was; the genuine one is added once.
 * The fixture is one lazily created static object, as in every harness here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "crypto/rand.h"
#include "mixnet/dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NET 0x4e455052u
#define NOW 1765000000ull

typedef struct fixture_t {
  uint8_t desc[NN_MIXDESC_MAX_LEN];
  size_t len;
  uint8_t work[2 * NN_MIXDESC_MAX_LEN];
} fixture_t;

static fixture_t *
fixture(void)
{
  static fixture_t *fx;
  if (fx)
    return fx;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 700);
  nn_rng_t r = nn_drbg_rng(&d);
  nn_identity_t *id;
  nn_hybrid_key_t k[2];
  nn_mixdesc_t m;
  memset(&m, 0, sizeof(m));
  if (!(fx = calloc(1, sizeof(*fx))) || nn_identity_generate_rng(&id, &r) || nn_hybrid_keygen(&k[0], &r) ||
      nn_hybrid_keygen(&k[1], &r) || nn_addr_parse(&m.addrs[0], "100.20.30.40:9798"))
    abort();
  m.network = NET;
  m.epoch = 490000;
  m.issued_at = NOW;
  m.n_addrs = 1;
  m.keys[0] = k[0].pk;
  m.keys[1] = k[1].pk;
  if (nn_mixdesc_build(&m, id, &r, fx->desc, sizeof(fx->desc), &fx->len))
    abort();
  nn_identity_free(id);
  nn_hybrid_key_clear(&k[0]);
  nn_hybrid_key_clear(&k[1]);
  return fx;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fixture_t *fx = fixture();
  size_t len;
  if (size < 2)
    return 0;
  if (data[0] & 1) {
    len = size - 1 < sizeof(fx->work) ? size - 1 : sizeof(fx->work);
    memcpy(fx->work, data + 1, len);
  } else {
    size_t edits = data[1] & 15, tail_at = 2 + 3 * edits;
    len = fx->len;
    memcpy(fx->work, fx->desc, len);
    for (size_t e = 0; e < edits && 2 + 3 * e + 2 < size; e++) {
      const uint8_t *ed = data + 2 + 3 * e;
      size_t pos = ((size_t)ed[0] << 8 | ed[1]) % fx->len;
      if (!ed[2])
        len = pos < len ? pos : len;
      else if (pos < len)
        fx->work[pos] ^= ed[2];
    }
    if (tail_at < size) {
      size_t t = size - tail_at;
      t = t < sizeof(fx->work) - len ? t : sizeof(fx->work) - len;
      memcpy(fx->work + len, data + tail_at, t);
      len += t;
    }
  }
  int genuine = len == fx->len && !memcmp(fx->work, fx->desc, len);
  nn_mixdesc_t d;
  nn_mixdesc_status_t st = nn_mixdesc_parse(&d, fx->work, len, NET, NOW);
  if ((st == NN_MIXDESC_OK) != genuine)
    abort();

  nn_mixdir_cfg_t c;
  nn_mixdir_t *dir;
  nn_hash_t before, after;
  nn_mixdir_cfg_default(&c, NET);
  c.max_mixes = 4; /* the store is calloc'd for 3 epochs of max_mixes: keep each input cheap */
  if (nn_mixdir_new(&dir, &c))
    abort();
  size_t n0 = nn_mixdir_digest(dir, 490000, &before);
  nn_mixdir_add_t a = nn_mixdir_add(dir, fx->work, len, 490000, NOW);
  size_t n1 = nn_mixdir_digest(dir, 490000, &after);
  /* a changed descriptor is refused: invalid, or (an issued_at moved ahead, checked before the
   * signature) from the future */
  int refused = a == NN_MIXDIR_INVALID || (a == NN_MIXDIR_FUTURE && st == NN_MIXDESC_FUTURE);
  if (genuine ? a != NN_MIXDIR_ADDED || n1 != 1 : !refused || n1 != n0 || memcmp(&before, &after, 32))
    abort();
  nn_mixdir_free(dir);
  return 0;
}
