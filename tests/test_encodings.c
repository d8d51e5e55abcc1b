/*
 * The encodings that make the handshake's key material look like uniform bytes (issue 19):
 * ElligatorSwift keys on secp256k1 (libsecp256k1, checked against BIP324's vectors) and the
 * Kemeleon encoding of ML-KEM-1024 keys (src/crypto/kemeleon.c). Each uniformity test runs once
 * on the raw form too, where it must fail: proof that the statistic can tell.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/ellswift.h"
#include "crypto/kemeleon.h"
#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "vectors.h"

#define FIELD(b, n) vec_get((b), (n))

/* ---- statistics ---- */

/* The upper critical value of chi-square with \a df degrees of freedom at the normal quantile
 * \a z (Wilson-Hilferty; within a fraction of a percent for df = 255). */
static double
chi2_crit(double df, double z)
{
  double a = 2.0 / (9.0 * df);
  return df * pow(1.0 - a + z * sqrt(a), 3);
}

/* Byte histograms of \a n samples of \a len bytes: the largest chi-square over positions. */
static double
max_chi2(const uint8_t *s, size_t n, size_t len)
{
  double worst = 0, e = (double)n / 256.0;
  uint32_t *h = calloc(256, sizeof(*h));
  assert_non_null(h);
  for (size_t p = 0; p < len; p++) {
    memset(h, 0, 256 * sizeof(*h));
    for (size_t i = 0; i < n; i++)
      h[s[i * len + p]]++;
    double c = 0;
    for (int b = 0; b < 256; b++)
      c += (h[b] - e) * (h[b] - e) / e;
    if (c > worst)
      worst = c;
  }
  free(h);
  return worst;
}

/* Bonferroni over \a positions at a family-wise alpha of 1e-3: the one-sided normal quantile of
 * 1e-3 / positions (a few values; the tests use these position counts) */
static double
z_for(size_t positions)
{
  return positions <= 64 ? 4.17 : 4.80; /* 1.6e-5 and 6.4e-7 */
}

/* ---- ElligatorSwift ---- */

static void
test_bip324_xdh(void **state)
{
  (void)state;
  vec_file_t *v = vec_load("bip324_xdh.txt");
  assert_true(v->n >= 5);
  for (size_t i = 0; i < v->n; i++) {
    const vec_block_t *b = &v->blocks[i];
    nn_secp_sk_t sk;
    nn_ellswift_pk_t ours, theirs;
    nn_secret_t x;
    uint8_t pt[33], dec[33];
    memcpy(sk.b, FIELD(b, "sk")->data, 32);
    memcpy(ours.b, FIELD(b, "ours")->data, 64);
    memcpy(theirs.b, FIELD(b, "theirs")->data, 64);
    assert_int_equal(nn_ellswift_shared(&x, &sk, &ours, &theirs, FIELD(b, "initiator")->data[0]), NN_OK);
    assert_memory_equal(x.b, FIELD(b, "x")->data, 32);
    /* our encoding stands for our key */
    assert_int_equal(nn_secp_public(pt, &sk), NN_OK);
    assert_int_equal(nn_ellswift_decode(dec, &ours), NN_OK);
    assert_memory_equal(pt + 1, dec + 1, 32);
  }
  vec_free(v);
}

static void
test_ellswift_decode_vectors(void **state)
{
  (void)state;
  vec_file_t *v = vec_load("bip324_ellswift_decode.txt");
  assert_true(v->n >= 70);
  for (size_t i = 0; i < v->n; i++) {
    nn_ellswift_pk_t e;
    uint8_t pt[33];
    memcpy(e.b, FIELD(&v->blocks[i], "ell")->data, 64);
    assert_int_equal(nn_ellswift_decode(pt, &e), NN_OK);
    assert_memory_equal(pt + 1, FIELD(&v->blocks[i], "x")->data, 32);
  }
  vec_free(v);
}

static void
test_ellswift_agree(void **state)
{
  (void)state;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 324);
  nn_rng_t rng = nn_drbg_rng(&d);
  for (int i = 0; i < 200; i++) {
    nn_secp_sk_t a, b;
    nn_ellswift_pk_t pa, pb;
    nn_secret_t sa, sb;
    uint8_t p1[33], p2[33];
    assert_int_equal(nn_ellswift_keygen(&a, &pa, &rng), NN_OK);
    assert_int_equal(nn_ellswift_keygen(&b, &pb, &rng), NN_OK);
    assert_int_equal(nn_ellswift_shared(&sa, &a, &pa, &pb, 1), NN_OK);
    assert_int_equal(nn_ellswift_shared(&sb, &b, &pb, &pa, 0), NN_OK);
    assert_memory_equal(sa.b, sb.b, 32);
    assert_int_equal(nn_secp_public(p1, &a), NN_OK);
    assert_int_equal(nn_ellswift_decode(p2, &pa), NN_OK);
    assert_memory_equal(p1, p2, 33); /* the y parity too */
  }
  /* any 64 bytes are a key: a random string decodes and gives a shared secret */
  nn_secp_sk_t a;
  nn_ellswift_pk_t pa, junk;
  nn_secret_t s;
  memset(junk.b, 0xff, sizeof(junk.b));
  assert_int_equal(nn_ellswift_keygen(&a, &pa, &rng), NN_OK);
  assert_int_equal(nn_ellswift_shared(&s, &a, &pa, &junk, 1), NN_OK);
  /* an invalid secret is refused, not aborted on */
  memset(a.b, 0, sizeof(a.b));
  assert_int_equal(nn_ellswift_shared(&s, &a, &pa, &junk, 1), NN_ERR_CRYPTO);
}

/* Per byte position, 4,096 encodings: chi-square within the Bonferroni bound; the SEC1 form of
 * the same keys (02/03 first, x below p) fails it. */
static void
test_ellswift_uniform(void **state)
{
  (void)state;
  enum { N = 4096 };
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 19);
  nn_rng_t rng = nn_drbg_rng(&d);
  uint8_t *enc = malloc((size_t)N * 64), *sec1 = malloc((size_t)N * 33);
  assert_non_null(enc);
  assert_non_null(sec1);
  for (size_t i = 0; i < N; i++) {
    nn_secp_sk_t sk;
    nn_ellswift_pk_t pk;
    assert_int_equal(nn_ellswift_keygen(&sk, &pk, &rng), NN_OK);
    memcpy(enc + 64 * i, pk.b, 64);
    assert_int_equal(nn_secp_public(sec1 + 33 * i, &sk), NN_OK);
  }
  double crit = chi2_crit(255, z_for(64));
  double c = max_chi2(enc, N, 64);
  print_message("ellswift: worst byte chi-square %.1f (bound %.1f)\n", c, crit);
  assert_true(c < crit);
  assert_true(max_chi2(sec1, N, 33) > crit);
  free(enc);
  free(sec1);
}

/* ---- Kemeleon ---- */

/* 12-bit windows of the t part (ByteDecode_12 order) at or above q */
static unsigned
windows_ge_q(const uint8_t *ek)
{
  unsigned n = 0;
  for (size_t i = 0; i < 1536; i += 3) {
    unsigned a = ek[i] | (ek[i + 1] & 0x0f) << 8, b = ek[i + 1] >> 4 | ek[i + 2] << 4;
    n += (a >= 3329) + (b >= 3329);
  }
  return n;
}

static void
test_kemeleon_roundtrip(void **state)
{
  (void)state;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 203);
  nn_rng_t rng = nn_drbg_rng(&d);
  uint8_t enc[NN_KEMELEON_EK_LEN], enc2[NN_KEMELEON_EK_LEN];
  for (int i = 0; i < 64; i++) {
    nn_mlkem_key_t *k;
    nn_mlkem_pk_t back;
    nn_mlkem_ct_t ct;
    nn_secret_t s1, s2;
    assert_int_equal(nn_mlkem_keygen(&k, &rng), NN_OK);
    const nn_mlkem_pk_t *ek = nn_mlkem_public(k);
    assert_int_equal(nn_kemeleon_encode_ek(enc, ek, &rng), NN_OK);
    assert_int_equal(nn_kemeleon_decode_ek(&back, enc), NN_OK);
    assert_memory_equal(back.b, ek->b, sizeof(back.b));
    /* randomized: the same key twice gives two encodings of it */
    assert_int_equal(nn_kemeleon_encode_ek(enc2, ek, &rng), NN_OK);
    assert_memory_not_equal(enc, enc2, sizeof(enc));
    assert_int_equal(nn_kemeleon_decode_ek(&back, enc2), NN_OK);
    assert_memory_equal(back.b, ek->b, sizeof(back.b));
    /* the decoded key works */
    assert_int_equal(nn_mlkem_encaps(&ct, &s1, &back, &rng), NN_OK);
    assert_int_equal(nn_mlkem_decaps(&s2, k, &ct), NN_OK);
    assert_memory_equal(s1.b, s2.b, 32);
    nn_mlkem_key_free(k);
  }
}

/* Every string is a key: random ones and the extremes decode to keys that pass FIPS 203's
 * modulus check (the encapsulation accepts them) and encode back to themselves' key. */
static void
test_kemeleon_any_string(void **state)
{
  (void)state;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 1568);
  nn_rng_t rng = nn_drbg_rng(&d);
  uint8_t s[NN_KEMELEON_EK_LEN], enc[NN_KEMELEON_EK_LEN];
  for (int i = 0; i < 34; i++) {
    if (i == 0)
      memset(s, 0, sizeof(s));
    else if (i == 1)
      memset(s, 0xff, sizeof(s));
    else
      assert_int_equal(nn_rng_fill(&rng, s, sizeof(s)), NN_OK);
    nn_mlkem_pk_t ek, back;
    nn_mlkem_ct_t ct;
    nn_secret_t ss;
    assert_int_equal(nn_kemeleon_decode_ek(&ek, s), NN_OK);
    assert_int_equal(windows_ge_q(ek.b), 0);
    assert_int_equal(nn_mlkem_encaps(&ct, &ss, &ek, &rng), NN_OK);
    assert_int_equal(nn_kemeleon_encode_ek(enc, &ek, &rng), NN_OK);
    assert_int_equal(nn_kemeleon_decode_ek(&back, enc), NN_OK);
    assert_memory_equal(back.b, ek.b, sizeof(ek.b));
  }
  /* a key with a coefficient at q is no FIPS 203 key: refused, the output wiped */
  nn_mlkem_pk_t bad;
  memset(bad.b, 0, sizeof(bad.b));
  bad.b[0] = 0x01; /* coefficient 0 = 3329 = 0xd01 */
  bad.b[1] = 0x0d;
  memset(enc, 0xaa, sizeof(enc));
  assert_int_equal(nn_kemeleon_encode_ek(enc, &bad, &rng), NN_ERR_FORMAT);
  for (size_t i = 0; i < sizeof(enc); i++)
    assert_int_equal(enc[i], 0);
}

/* 2,048 keys: encoded, every byte position passes the chi-square bound and the 12-bit windows
 * at or above q come at the rate of uniform bytes (1024 x 767/4096 = 191.75 per key); raw, both
 * tests fail. */
static void
test_kemeleon_uniform(void **state)
{
  (void)state;
  enum { N = 2048 };
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 3329);
  nn_rng_t rng = nn_drbg_rng(&d);
  uint8_t *enc = malloc((size_t)N * NN_KEMELEON_EK_LEN), *raw = malloc((size_t)N * NN_KEMELEON_EK_LEN);
  assert_non_null(enc);
  assert_non_null(raw);
  double win = 0;
  for (size_t i = 0; i < N; i++) {
    nn_mlkem_key_t *k;
    assert_int_equal(nn_mlkem_keygen(&k, &rng), NN_OK);
    memcpy(raw + i * NN_KEMELEON_EK_LEN, nn_mlkem_public(k)->b, NN_KEMELEON_EK_LEN);
    assert_int_equal(nn_kemeleon_encode_ek(enc + i * NN_KEMELEON_EK_LEN, nn_mlkem_public(k), &rng), NN_OK);
    win += windows_ge_q(enc + i * NN_KEMELEON_EK_LEN);
    assert_int_equal(windows_ge_q(raw + i * NN_KEMELEON_EK_LEN), 0);
    nn_mlkem_key_free(k);
  }
  double mean = win / N, p = 767.0 / 4096.0, sd = sqrt(1024 * p * (1 - p) / N);
  print_message("kemeleon: %.2f windows >= q per key (uniform: %.2f +- %.2f)\n", mean, 1024 * p, sd);
  assert_true(fabs(mean - 1024 * p) < 5 * sd);
  double crit = chi2_crit(255, z_for(NN_KEMELEON_EK_LEN));
  double c = max_chi2(enc, N, NN_KEMELEON_EK_LEN);
  print_message("kemeleon: worst byte chi-square %.1f over %d positions (bound %.1f)\n", c, NN_KEMELEON_EK_LEN, crit);
  assert_true(c < crit);
  assert_true(max_chi2(raw, N, NN_KEMELEON_EK_LEN) > crit);
  free(enc);
  free(raw);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bip324_xdh),         cmocka_unit_test(test_ellswift_decode_vectors),
    cmocka_unit_test(test_ellswift_agree),     cmocka_unit_test(test_ellswift_uniform),
    cmocka_unit_test(test_kemeleon_roundtrip), cmocka_unit_test(test_kemeleon_any_string),
    cmocka_unit_test(test_kemeleon_uniform),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
