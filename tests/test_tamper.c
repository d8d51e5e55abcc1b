/* Tamper tests: a flipped bit anywhere an attacker can reach must be rejected (AEAD, signatures)
 * or must change the derived secret (KEMs, which reject implicitly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/aead.h"
#include "crypto/hybrid.h"
#include "crypto/mldsa.h"
#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "crypto/x25519.h"

static void
test_aead_rejects_any_flip(void **state)
{
  (void)state;
  nn_aead_key_t key;
  nn_aead_nonce_t nonce;
  nn_aead_t a = { 0 };
  uint8_t aad[8] = "header!", pt[40], ct[56], out[40];
  memset(key.b, 7, 32);
  memset(nonce.b, 3, 12);
  memset(pt, 0x42, sizeof(pt));
  assert_int_equal(nn_aead_init(&a, &key), NN_OK);
  assert_int_equal(nn_aead_seal(&a, &nonce, aad, 8, pt, 40, ct), NN_OK);
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 56, out), NN_OK);
  assert_memory_equal(out, pt, 40);
  /* every bit of ciphertext and tag */
  for (size_t bit = 0; bit < 56 * 8; bit++) {
    ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    memset(out, 0x99, sizeof(out));
    assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 56, out), NN_ERR_VERIFY);
    for (size_t i = 0; i < 40; i++)
      assert_int_equal(out[i], 0); /* unauthenticated plaintext is wiped */
    ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  /* aad, nonce, key, truncation */
  aad[0] ^= 1;
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 56, out), NN_ERR_VERIFY);
  aad[0] ^= 1;
  nonce.b[11] ^= 1;
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 56, out), NN_ERR_VERIFY);
  nonce.b[11] ^= 1;
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 55, out), NN_ERR_VERIFY);
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 15, out), NN_ERR_TRUNCATED);
  key.b[0] ^= 1;
  assert_int_equal(nn_aead_init(&a, &key), NN_OK);
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 56, out), NN_ERR_VERIFY);
  /* in place */
  key.b[0] ^= 1;
  assert_int_equal(nn_aead_init(&a, &key), NN_OK);
  assert_int_equal(nn_aead_open(&a, &nonce, aad, 8, ct, 56, ct), NN_OK);
  assert_memory_equal(ct, pt, 40);
  nn_aead_free(&a);
  nn_aead_free(&a);
}

static void
test_mldsa_rejects_tampering(void **state)
{
  (void)state;
  static const uint8_t ctx[] = "nepnet-test";
  uint8_t msg[100];
  nn_mldsa_seed_t seed;
  nn_mldsa_key_t *k = NULL;
  nn_mldsa_sig_t *sig = malloc(sizeof(*sig));
  nn_mldsa_pk_t *pk = malloc(sizeof(*pk));
  memset(seed.b, 1, 32);
  memset(msg, 2, sizeof(msg));
  assert_int_equal(nn_mldsa_keygen_from_seed(&k, &seed), NN_OK);
  *pk = *nn_mldsa_public(k);
  assert_int_equal(nn_mldsa_sign(sig, k, ctx, 11, msg, 100, NULL), NN_OK);
  assert_int_equal(nn_mldsa_verify(pk, ctx, 11, msg, 100, sig), NN_OK);
  /* a sample of signature positions across all its parts (c~, z, h) */
  for (size_t i = 0; i < NN_MLDSA_SIG_LEN; i += 97) {
    sig->b[i] ^= 0x04;
    assert_int_equal(nn_mldsa_verify(pk, ctx, 11, msg, 100, sig), NN_ERR_VERIFY);
    sig->b[i] ^= 0x04;
  }
  sig->b[NN_MLDSA_SIG_LEN - 1] ^= 0x80;
  assert_int_equal(nn_mldsa_verify(pk, ctx, 11, msg, 100, sig), NN_ERR_VERIFY);
  sig->b[NN_MLDSA_SIG_LEN - 1] ^= 0x80;
  msg[50] ^= 1;
  assert_int_equal(nn_mldsa_verify(pk, ctx, 11, msg, 100, sig), NN_ERR_VERIFY);
  msg[50] ^= 1;
  assert_int_equal(nn_mldsa_verify(pk, ctx, 10, msg, 100, sig), NN_ERR_VERIFY);
  assert_int_equal(nn_mldsa_verify(pk, NULL, 0, msg, 100, sig), NN_ERR_VERIFY);
  pk->b[40] ^= 1;
  assert_int_equal(nn_mldsa_verify(pk, ctx, 11, msg, 100, sig), NN_ERR_VERIFY);
  pk->b[40] ^= 1;
  assert_int_equal(nn_mldsa_verify(pk, ctx, 11, msg, 100, sig), NN_OK);
  /* context strings above the FIPS 204 limit are refused, not truncated */
  uint8_t longctx[256] = { 0 };
  assert_int_equal(nn_mldsa_sign(sig, k, longctx, 256, msg, 100, NULL), NN_ERR_ARG);
  assert_int_equal(nn_mldsa_verify(pk, longctx, 256, msg, 100, sig), NN_ERR_VERIFY);
  nn_mldsa_key_free(k);
  free(sig);
  free(pk);
}

static void
test_mldsa_seeded_rng_reproduces(void **state)
{
  (void)state;
  nn_mldsa_seed_t seed;
  nn_mldsa_key_t *k = NULL;
  nn_mldsa_sig_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
  nn_drbg_t d1, d2;
  memset(seed.b, 9, 32);
  assert_int_equal(nn_mldsa_keygen_from_seed(&k, &seed), NN_OK);
  nn_drbg_init_u64(&d1, 5);
  nn_drbg_init_u64(&d2, 5);
  nn_rng_t r1 = nn_drbg_rng(&d1), r2 = nn_drbg_rng(&d2);
  assert_int_equal(nn_mldsa_sign(a, k, NULL, 0, (const uint8_t *)"m", 1, &r1), NN_OK);
  assert_int_equal(nn_mldsa_sign(b, k, NULL, 0, (const uint8_t *)"m", 1, &r2), NN_OK);
  assert_memory_equal(a->b, b->b, NN_MLDSA_SIG_LEN);
  /* hedged: a different rnd gives a different (still valid) signature */
  assert_int_equal(nn_mldsa_sign(b, k, NULL, 0, (const uint8_t *)"m", 1, &r2), NN_OK);
  assert_memory_not_equal(a->b, b->b, NN_MLDSA_SIG_LEN);
  assert_int_equal(nn_mldsa_verify(nn_mldsa_public(k), NULL, 0, (const uint8_t *)"m", 1, b), NN_OK);
  nn_mldsa_key_free(k);
  free(a);
  free(b);
}

static void
test_mlkem_implicit_rejection_and_bad_pk(void **state)
{
  (void)state;
  nn_mlkem_key_t *k = NULL;
  nn_mlkem_ct_t ct;
  nn_mlkem_pk_t pk;
  nn_secret_t ss, ss2;
  assert_int_equal(nn_mlkem_keygen(&k, NULL), NN_OK);
  assert_int_equal(nn_mlkem_encaps(&ct, &ss, nn_mlkem_public(k), NULL), NN_OK);
  assert_int_equal(nn_mlkem_decaps(&ss2, k, &ct), NN_OK);
  assert_memory_equal(ss.b, ss2.b, 32);
  for (size_t i = 0; i < NN_MLKEM_CT_LEN; i += 131) {
    ct.b[i] ^= 0x01;
    assert_int_equal(nn_mlkem_decaps(&ss2, k, &ct), NN_OK);
    assert_memory_not_equal(ss.b, ss2.b, 32);
    ct.b[i] ^= 0x01;
  }
  /* FIPS 203 modulus check: a coefficient >= q = 3329 makes the key invalid */
  pk = *nn_mlkem_public(k);
  pk.b[0] = 0xff;
  pk.b[1] |= 0x0f; /* first 12-bit coefficient = 0xfff = 4095 */
  assert_int_equal(nn_mlkem_encaps(&ct, &ss, &pk, NULL), NN_ERR_CRYPTO);
  nn_mlkem_key_free(k);
  nn_mlkem_key_free(NULL);
}

static void
test_x25519_low_order_rejected(void **state)
{
  (void)state;
  nn_x25519_sk_t sk;
  nn_x25519_pk_t pk, zero;
  nn_secret_t ss;
  assert_int_equal(nn_x25519_keygen(&sk, &pk, NULL), NN_OK);
  memset(zero.b, 0, 32); /* the point of order 1 (u = 0): shared secret would be all zero */
  assert_int_equal(nn_x25519_shared(&ss, &sk, &zero), NN_ERR_CRYPTO);
  zero.b[0] = 1; /* u = 1, order 4 */
  assert_int_equal(nn_x25519_shared(&ss, &sk, &zero), NN_ERR_CRYPTO);

  /* the key object: the same secret from the same draw, the same shared secret, the same refusal */
  nn_drbg_t d1, d2;
  nn_x25519_key_t *k = NULL;
  nn_x25519_pk_t kpk, other;
  nn_x25519_sk_t osk, ksk;
  nn_secret_t s1, s2;
  nn_drbg_init_u64(&d1, 42);
  nn_drbg_init_u64(&d2, 42);
  nn_rng_t r1 = nn_drbg_rng(&d1), r2 = nn_drbg_rng(&d2);
  assert_int_equal(nn_x25519_key_new(&k, &kpk, &r1), NN_OK);
  assert_int_equal(nn_rng_fill(&r2, ksk.b, 32), NN_OK);
  assert_int_equal(nn_x25519_public(&other, &ksk), NN_OK);
  assert_memory_equal(other.b, kpk.b, 32);
  assert_int_equal(nn_x25519_keygen(&osk, &other, NULL), NN_OK);
  assert_int_equal(nn_x25519_key_shared(&s1, k, &other), NN_OK);
  assert_int_equal(nn_x25519_shared(&s2, &osk, &kpk), NN_OK);
  assert_memory_equal(s1.b, s2.b, 32);
  assert_int_equal(nn_x25519_key_shared(&s1, k, &zero), NN_ERR_CRYPTO);
  assert_int_equal(nn_x25519_key_shared(&s1, NULL, &other), NN_ERR_CRYPTO);
  nn_x25519_key_free(k);
  nn_x25519_key_free(NULL);
}

static void
test_hybrid_binds_every_component(void **state)
{
  (void)state;
  nn_hybrid_key_t k;
  nn_hybrid_ct_t ct;
  nn_secret_t a, b, base, c;
  nn_secret_t ss_m, ss_x;
  assert_int_equal(nn_hybrid_keygen(&k, NULL), NN_OK);
  assert_int_equal(nn_hybrid_encaps(&ct, &a, &k.pk, NULL), NN_OK);
  assert_int_equal(nn_hybrid_decaps(&b, &k, &ct), NN_OK);
  assert_memory_equal(a.b, b.b, 32);
  /* tampered ML-KEM ciphertext: decaps "succeeds" (implicit rejection) with another secret */
  ct.m.b[7] ^= 1;
  assert_int_equal(nn_hybrid_decaps(&b, &k, &ct), NN_OK);
  assert_memory_not_equal(a.b, b.b, 32);
  ct.m.b[7] ^= 1;
  /* the combiner changes when any single input changes */
  memset(ss_m.b, 1, 32);
  memset(ss_x.b, 2, 32);
  assert_int_equal(nn_hybrid_combine(&base, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  ss_m.b[0] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_not_equal(base.b, c.b, 32);
  ss_m.b[0] ^= 1;
  ss_x.b[31] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_not_equal(base.b, c.b, 32);
  ss_x.b[31] ^= 1;
  ct.x.b[0] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_not_equal(base.b, c.b, 32);
  ct.x.b[0] ^= 1;
  ct.m.b[NN_MLKEM_CT_LEN - 1] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_not_equal(base.b, c.b, 32);
  ct.m.b[NN_MLKEM_CT_LEN - 1] ^= 1;
  k.pk.x.b[3] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_not_equal(base.b, c.b, 32);
  k.pk.x.b[3] ^= 1;
  k.pk.m.b[1000] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_not_equal(base.b, c.b, 32);
  k.pk.m.b[1000] ^= 1;
  assert_int_equal(nn_hybrid_combine(&c, &ss_m, &ss_x, &ct, &k.pk), NN_OK);
  assert_memory_equal(base.b, c.b, 32);
  nn_hybrid_key_clear(&k);
  nn_hybrid_key_clear(&k); /* idempotent */
}

static void
test_drbg_deterministic(void **state)
{
  (void)state;
  nn_drbg_t a, b, c;
  uint8_t x[100], y[100], z[100];
  nn_drbg_init_u64(&a, 1);
  nn_drbg_init_u64(&b, 1);
  nn_drbg_init_u64(&c, 2);
  nn_rng_t ra = nn_drbg_rng(&a), rb = nn_drbg_rng(&b), rc = nn_drbg_rng(&c);
  assert_int_equal(nn_rng_fill(&ra, x, 100), NN_OK);
  assert_int_equal(nn_rng_fill(&rb, y, 100), NN_OK);
  assert_int_equal(nn_rng_fill(&rc, z, 100), NN_OK);
  assert_memory_equal(x, y, 100);
  assert_memory_not_equal(x, z, 100);
  assert_int_equal(nn_rng_fill(&ra, x, 100), NN_OK); /* successive calls differ */
  assert_memory_not_equal(x, y, 100);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_aead_rejects_any_flip),       cmocka_unit_test(test_mldsa_rejects_tampering),
    cmocka_unit_test(test_mldsa_seeded_rng_reproduces), cmocka_unit_test(test_mlkem_implicit_rejection_and_bad_pk),
    cmocka_unit_test(test_x25519_low_order_rejected),   cmocka_unit_test(test_hybrid_binds_every_component),
    cmocka_unit_test(test_drbg_deterministic),
  };
  return cmocka_run_group_tests_name("tamper", tests, NULL, NULL);
}
