#include "crypto/kemeleon.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#define Q 3329u
#define N 256
#define K 4
#define POLY_BYTES 384 /* 256 x 12 bits, and the encoded integer's width (3,072 bits) */
#define RHO_OFF (K * POLY_BYTES)
#define MAX_DRAWS 64 /* each draw is accepted with probability > 1/2: 2^-64 to fail */
/* Five base-q digits at a time: q^5 = 3329^5 < 2^59 fits in a word (BN_ULONG is 64 bits on the
 * platforms nepnet builds for; checked below), so a polynomial takes 51 word operations on the
 * bignum instead of 256. */
#define CHUNK 5
#define Q5 ((BN_ULONG)Q * Q * Q * Q * Q)
_Static_assert(sizeof(BN_ULONG) >= 8, "BN_ULONG must hold q^5");

/* FIPS 203 ByteDecode_12 / ByteEncode_12: two coefficients in three bytes, little-endian bits */
static void
poly_unpack(uint16_t a[N], const uint8_t *b)
{
  for (size_t i = 0; i < N / 2; i++, b += 3) {
    a[2 * i] = (uint16_t)(b[0] | (b[1] & 0x0f) << 8);
    a[2 * i + 1] = (uint16_t)(b[1] >> 4 | b[2] << 4);
  }
}

static void
poly_pack(uint8_t *b, const uint16_t a[N])
{
  for (size_t i = 0; i < N / 2; i++, b += 3) {
    b[0] = (uint8_t)a[2 * i];
    b[1] = (uint8_t)(a[2 * i] >> 8 | a[2 * i + 1] << 4);
    b[2] = (uint8_t)(a[2 * i + 1] >> 4);
  }
}

/* q^256, the modulus of one polynomial's integer */
static int
q_pow_n(BIGNUM *qn, BN_CTX *ctx)
{
  BIGNUM *q = BN_CTX_get(ctx), *n = BN_CTX_get(ctx);
  return q && n && BN_set_word(q, Q) && BN_set_word(n, N) && BN_exp(qn, q, n, ctx);
}

/* m uniform in [0, max] by rejection: as many bits as max has, kept if not above it */
static nn_err_t
draw_upto(BIGNUM *m, const BIGNUM *max, const nn_rng_t *rng)
{
  uint8_t buf[POLY_BYTES];
  int bits = BN_num_bits(max);
  size_t len = (size_t)(bits + 7) / 8;
  nn_err_t e = NN_ERR_CRYPTO;
  for (int i = 0; i < MAX_DRAWS; i++) {
    if ((e = nn_rng_fill(rng, buf, len)))
      break;
    if (bits % 8)
      buf[len - 1] &= (uint8_t)((1u << (bits % 8)) - 1);
    e = NN_ERR_NOMEM;
    if (!BN_lebin2bn(buf, (int)len, m))
      break;
    e = NN_ERR_CRYPTO; /* a generator that never lands below max */
    if (BN_cmp(m, max) <= 0) {
      e = NN_OK;
      break;
    }
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return e;
}

nn_err_t
nn_kemeleon_encode_ek(uint8_t out[NN_KEMELEON_EK_LEN], const nn_mlkem_pk_t *ek, const nn_rng_t *rng)
{
  uint16_t a[N];
  BN_CTX *ctx = BN_CTX_new();
  BIGNUM *qn, *top, *r, *max, *m;
  nn_err_t e = NN_ERR_NOMEM;
  if (!ctx)
    return e;
  BN_CTX_start(ctx);
  qn = BN_CTX_get(ctx);
  top = BN_CTX_get(ctx);
  r = BN_CTX_get(ctx);
  max = BN_CTX_get(ctx);
  m = BN_CTX_get(ctx);
  /* top = 2^3072 - 1: the largest value 384 bytes hold */
  if (!m || !q_pow_n(qn, ctx) || !BN_set_bit(top, 8 * POLY_BYTES) || !BN_sub_word(top, 1))
    goto out;
  for (size_t p = 0; p < K; p++) {
    poly_unpack(a, ek->b + p * POLY_BYTES);
    e = NN_ERR_FORMAT;
    for (size_t j = 0; j < N; j++)
      if (a[j] >= Q)
        goto out;
    /* Horner over chunks of five digits: r = sum a_j q^j */
    e = NN_ERR_NOMEM;
    if (!BN_set_word(r, a[N - 1]))
      goto out;
    for (size_t c = (N - 1) / CHUNK; c-- > 0;) {
      BN_ULONG w = 0;
      for (size_t j = CHUNK; j-- > 0;)
        w = w * Q + a[c * CHUNK + j];
      if (!BN_mul_word(r, Q5) || !BN_add_word(r, w))
        goto out;
    }
    /* max = floor((2^3072 - 1 - r) / q^256), so that r + m q^256 fits in 3,072 bits */
    e = NN_ERR_NOMEM;
    if (!BN_sub(max, top, r) || !BN_div(max, NULL, max, qn, ctx))
      goto out;
    if ((e = draw_upto(m, max, rng)))
      goto out;
    e = NN_ERR_NOMEM;
    if (!BN_mul(m, m, qn, ctx) || !BN_add(r, r, m) || BN_bn2lebinpad(r, out + p * POLY_BYTES, POLY_BYTES) != POLY_BYTES)
      goto out;
  }
  memcpy(out + RHO_OFF, ek->b + RHO_OFF, NN_KEMELEON_EK_LEN - RHO_OFF);
  e = NN_OK;
out:
  if (e)
    OPENSSL_cleanse(out, NN_KEMELEON_EK_LEN);
  OPENSSL_cleanse(a, sizeof(a));
  if (m)
    BN_clear(m); /* the secret offset */
  BN_CTX_end(ctx);
  BN_CTX_free(ctx);
  return e;
}

nn_err_t
nn_kemeleon_decode_ek(nn_mlkem_pk_t *ek, const uint8_t in[NN_KEMELEON_EK_LEN])
{
  uint16_t a[N];
  BN_CTX *ctx = BN_CTX_new();
  BIGNUM *qn, *r;
  nn_err_t e = NN_ERR_NOMEM;
  if (!ctx)
    return e;
  BN_CTX_start(ctx);
  qn = BN_CTX_get(ctx);
  r = BN_CTX_get(ctx);
  if (!r || !q_pow_n(qn, ctx))
    goto out;
  for (size_t p = 0; p < K; p++) {
    if (!BN_lebin2bn(in + p * POLY_BYTES, POLY_BYTES, r) || !BN_nnmod(r, r, qn, ctx))
      goto out;
    for (size_t c = 0; c < (N - 1) / CHUNK; c++) {
      BN_ULONG w = BN_div_word(r, Q5); /* the remainder: digits 5c .. 5c + 4 */
      if (w == (BN_ULONG)-1)
        goto out;
      for (size_t j = 0; j < CHUNK; j++, w /= Q)
        a[c * CHUNK + j] = (uint16_t)(w % Q);
    }
    BN_ULONG top = BN_div_word(r, Q); /* r < q now: the last digit */
    if (top == (BN_ULONG)-1)
      goto out;
    a[N - 1] = (uint16_t)top;
    poly_pack(ek->b + p * POLY_BYTES, a);
  }
  memcpy(ek->b + RHO_OFF, in + RHO_OFF, NN_KEMELEON_EK_LEN - RHO_OFF);
  e = NN_OK;
out:
  BN_CTX_end(ctx);
  BN_CTX_free(ctx);
  return e;
}
