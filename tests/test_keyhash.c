/*
 * The keyed hash (src/crypto/keyhash.h): SipHash-2-4 reference vectors (Aumasson and Bernstein,
 * key 00..0f, message 00..len-1), byte order, and keys drawn from the injected randomness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/keyhash.h"

static void
test_reference_vectors(void **state)
{
  (void)state;
  static const struct {
    size_t len;
    uint64_t want;
  } v[] = {
    { 0, 0x726fdb47dd0e0e31ull },
    { 1, 0x74f839c593dc67fdull },
    { 15, 0xa129ca6149be45e5ull },
    { 63, 0x958a324ceb064572ull },
  };
  uint8_t key[NN_KEYHASH_KEY_LEN], msg[64];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 64; i++)
    msg[i] = (uint8_t)i;
  nn_keyhash_t h;
  assert_int_equal(nn_keyhash_init_key(&h, key), NN_OK);
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    assert_int_equal(nn_keyhash(&h, msg, v[i].len), v[i].want);
    assert_int_equal(nn_keyhash(&h, msg, v[i].len), v[i].want); /* re-keyed from the stored key */
  }
  /* nn_keyhash_u64 hashes the 8 little-endian bytes */
  uint64_t x = 0x0706050403020100ull;
  assert_int_equal(nn_keyhash_u64(&h, x), nn_keyhash(&h, msg, 8));
  nn_keyhash_free(&h);
  nn_keyhash_free(&h); /* twice is fine */
  assert_int_equal(nn_keyhash(&h, msg, 8), 0);
}

static void
test_keys_from_rng(void **state)
{
  (void)state;
  nn_drbg_t d1, d2;
  nn_drbg_init_u64(&d1, 5);
  nn_drbg_init_u64(&d2, 5);
  nn_rng_t r1 = nn_drbg_rng(&d1), r2 = nn_drbg_rng(&d2);
  nn_keyhash_t a, b, c;
  assert_int_equal(nn_keyhash_init(&a, &r1), NN_OK);
  assert_int_equal(nn_keyhash_init(&b, &r2), NN_OK);
  assert_int_equal(nn_keyhash_init(&c, NULL), NN_OK);
  /* the same seed replays the same hashes (the simulator); another key gives other ones */
  assert_int_equal(nn_keyhash_u64(&a, 42), nn_keyhash_u64(&b, 42));
  assert_int_not_equal(nn_keyhash_u64(&a, 42), nn_keyhash_u64(&c, 42));
  nn_keyhash_free(&a);
  nn_keyhash_free(&b);
  nn_keyhash_free(&c);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reference_vectors),
    cmocka_unit_test(test_keys_from_rng),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
