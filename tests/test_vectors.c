/*
 * nepnet's own test vectors (docs/PROTOCOL.md): the hybrid KEM and the identity key file,
 * generated from fixed seeds. The test recomputes them, compares with tests/vectors/nepnet_*.txt
 * and checks that docs/PROTOCOL.md quotes the same values, so the document cannot drift from the
 * code. NEPNET_PRINT_VECTORS=1 prints them (to regenerate both after a deliberate change).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/hybrid.h"
#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "lib/hex.h"
#include "node/keyfile.h"
#include "vectors.h"

static char *doc;

static void
expect_field(const vec_block_t *b, const char *name, const uint8_t *got, size_t n)
{
  char *hex = malloc(2 * n + 1);
  nn_hex_encode(hex, got, n);
  if (getenv("NEPNET_PRINT_VECTORS")) {
    printf("%s = %s\n", name, hex);
    free(hex);
    return;
  }
  const vec_field_t *f = vec_get(b, name);
  assert_int_equal(f->len, n);
  assert_memory_equal(f->data, got, n);
  if (!getenv("NEPNET_KAT_CORRUPT") && !strstr(doc, hex)) {
    fprintf(stderr, "docs/PROTOCOL.md does not quote %s = %s\n", name, hex);
    fail();
  }
  free(hex);
}

static void
test_hybrid_vector(void **state)
{
  (void)state;
  vec_file_t *v = vec_load("nepnet_hybrid.txt");
  const vec_block_t *b = &v->blocks[0];
  nn_drbg_t d1, d2;
  nn_hybrid_key_t k;
  nn_hybrid_ct_t ct;
  nn_secret_t ss, ss2, ss_x, ss_m;
  nn_hash_t h;

  /* Recipient: DRBG(1) draws the X25519 secret (32 B), then the ML-KEM seed d||z (64 B). */
  nn_drbg_init_u64(&d1, 1);
  nn_rng_t r1 = nn_drbg_rng(&d1);
  assert_int_equal(nn_hybrid_keygen(&k, &r1), NN_OK);
  /* Sender: DRBG(2) draws the ephemeral X25519 secret (32 B), then the ML-KEM m (32 B). */
  nn_drbg_init_u64(&d2, 2);
  nn_rng_t r2 = nn_drbg_rng(&d2);
  assert_int_equal(nn_hybrid_encaps(&ct, &ss, &k.pk, &r2), NN_OK);
  assert_int_equal(nn_hybrid_decaps(&ss2, &k, &ct), NN_OK);
  assert_memory_equal(ss.b, ss2.b, 32);

  /* The DRBG draws themselves, for implementations that take these inputs directly. */
  uint8_t draw[64];
  nn_drbg_t rd;
  nn_drbg_init_u64(&rd, 1);
  nn_rng_t rr = nn_drbg_rng(&rd);
  nn_x25519_sk_t rsk; /* the key object keeps no raw secret: the first draw is it */
  nn_x25519_pk_t rpk;
  assert_int_equal(nn_rng_fill(&rr, rsk.b, 32), NN_OK);
  assert_int_equal(nn_x25519_public(&rpk, &rsk), NN_OK);
  assert_memory_equal(rpk.b, k.pk.x.b, 32);
  assert_int_equal(nn_rng_fill(&rr, draw, 64), NN_OK);
  expect_field(b, "recipient_mlkem_seed", draw, 64);
  nn_drbg_init_u64(&rd, 2);
  rr = nn_drbg_rng(&rd);
  assert_int_equal(nn_rng_fill(&rr, draw, 32), NN_OK);
  expect_field(b, "sender_x25519_esk", draw, 32);
  assert_int_equal(nn_rng_fill(&rr, draw, 32), NN_OK);
  expect_field(b, "sender_mlkem_m", draw, 32);
  expect_field(b, "recipient_x25519_sk", rsk.b, 32);
  expect_field(b, "recipient_x25519_pk", k.pk.x.b, 32);
  assert_int_equal(nn_sha3_256(&h, k.pk.m.b, NN_MLKEM_PK_LEN), NN_OK);
  expect_field(b, "recipient_mlkem_pk_sha3", h.b, 32);
  expect_field(b, "ct_x25519", ct.x.b, 32);
  assert_int_equal(nn_sha3_256(&h, ct.m.b, NN_MLKEM_CT_LEN), NN_OK);
  expect_field(b, "ct_mlkem_sha3", h.b, 32);
  assert_int_equal(nn_x25519_key_shared(&ss_x, k.xkey, &ct.x), NN_OK);
  assert_int_equal(nn_mlkem_decaps(&ss_m, k.mkey, &ct.m), NN_OK);
  expect_field(b, "ss_x25519", ss_x.b, 32);
  expect_field(b, "ss_mlkem", ss_m.b, 32);
  expect_field(b, "ss", ss.b, 32);
  nn_hybrid_key_clear(&k);
  vec_free(v);
}

static void
test_keyfile_vector(void **state)
{
  (void)state;
  vec_file_t *v = vec_load("nepnet_keyfile.txt");
  const vec_block_t *b = &v->blocks[0];
  nn_mldsa_seed_t seed;
  nn_identity_t *id = NULL, *back = NULL;
  uint8_t img[NN_KEYFILE_LEN];
  nn_hash_t h;

  for (int i = 0; i < 32; i++)
    seed.b[i] = (uint8_t)i;
  assert_int_equal(nn_identity_from_seed(&id, &seed), NN_OK);
  assert_int_equal(nn_sha3_256(&h, nn_identity_public_key(id)->b, NN_MLDSA_PK_LEN), NN_OK);
  assert_memory_equal(h.b, nn_identity_node_id(id)->b, 32);
  expect_field(b, "node_id", nn_identity_node_id(id)->b, 32);
  assert_int_equal(nn_keyfile_encode(img, id), NN_OK);
  expect_field(b, "keyfile", img, sizeof(img));
  assert_int_equal(nn_keyfile_decode(vec_get(b, "keyfile")->data, NN_KEYFILE_LEN, &back), NN_OK);
  nn_identity_free(back);
  nn_identity_free(id);
  vec_free(v);
}

int
main(void)
{
  FILE *f = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "rb");
  long n;
  if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
    return fprintf(stderr, "cannot read docs/PROTOCOL.md\n"), 1;
  doc = calloc(1, (size_t)n + 1);
  if (fread(doc, 1, (size_t)n, f) != (size_t)n)
    return 1;
  fclose(f);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hybrid_vector),
    cmocka_unit_test(test_keyfile_vector),
  };
  int rc = cmocka_run_group_tests_name("vectors", tests, NULL, NULL);
  free(doc);
  return rc;
}
