/*
 * The secure channel's test vector (docs/PROTOCOL.md 5.6), and an independent re-derivation of
 * the key schedule from the bytes on the wire, following the document rather than the code:
 * if handshake.c and PROTOCOL.md ever disagree, this test fails.
 *
 * Fixed inputs: initiator identity seed a1^32, responder identity seed b2^32, initiator
 * randomness DRBG(100), responder randomness DRBG(200), network regtest, mutual mode; then the
 * initiator sends "hello nepnet" and the responder answers "hi".
 * NEPNET_PRINT_VECTORS=1 prints the values instead of checking them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chanpair.h"
#include "crypto/aead.h"
#include "crypto/aesblock.h"
#include "crypto/hkdf.h"
#include "crypto/hybrid.h"
#include "crypto/identity.h"
#include "crypto/mldsa.h"
#include "crypto/sha3.h"
#include "lib/hex.h"
#include "lib/wire.h"
#include "vectors.h"

static char *doc;
static vec_file_t *vec;

typedef struct buf_t {
  uint8_t *p;
  size_t n;
} buf_t;

static buf_t
take_output(nn_chan_t *c)
{
  const uint8_t *d;
  buf_t b;
  nn_chan_output(c, &d, &b.n);
  b.p = malloc(b.n ? b.n : 1);
  memcpy(b.p, d, b.n);
  nn_chan_output_consume(c, b.n);
  return b;
}

/* Check (or print) one named value; long values are checked against the vector file only,
 * short ones (<= 64 bytes) must also be quoted in PROTOCOL.md. */
static void
expect(const char *name, const uint8_t *got, size_t n)
{
  char *hex = malloc(2 * n + 1);
  nn_hex_encode(hex, got, n);
  if (getenv("NEPNET_PRINT_VECTORS")) {
    printf("%s = %s\n", name, hex);
  } else {
    const vec_field_t *f = vec_get(&vec->blocks[0], name);
    assert_int_equal(f->len, n);
    assert_memory_equal(f->data, got, n);
    if (n <= 64 && !strstr(doc, hex)) {
      fprintf(stderr, "docs/PROTOCOL.md does not quote %s = %s\n", name, hex);
      fail();
    }
  }
  free(hex);
}

static void
sha3_parts(nn_hash_t *out, const buf_t *parts, size_t n)
{
  nn_sha3_t h;
  assert_int_equal(nn_sha3_init(&h), NN_OK);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(nn_sha3_update(&h, parts[i].p, parts[i].n), NN_OK);
  assert_int_equal(nn_sha3_final(&h, out), NN_OK);
}

static void
expand(uint8_t *out, size_t n, const nn_secret_t *prk, const char *label, const nn_hash_t *th)
{
  uint8_t info[128];
  size_t l = strlen(label);
  memcpy(info, label, l);
  if (th)
    memcpy(info + l, th->b, 32);
  assert_int_equal(nn_hkdf_expand(out, n, prk, info, l + (th ? 32 : 0)), NN_OK);
}

/* Open record number seq (first epoch) from traffic secret ts, per PROTOCOL.md 5.4. */
static void
open_record(const nn_secret_t *ts, uint64_t seq, const buf_t *rec, const char *want)
{
  nn_aead_key_t key;
  nn_aead_nonce_t iv;
  uint8_t lkey[32], blk[16] = { 0 }, mask[16], pt[256];
  nn_aead_t a = { 0 };
  nn_aesblock_t lc = { 0 };
  expand(key.b, 32, ts, "nepnet/v1 record key", NULL);
  expand(iv.b, 12, ts, "nepnet/v1 record iv", NULL);
  expand(lkey, 32, ts, "nepnet/v1 record len", NULL);
  nn_be64_put(blk, seq);
  assert_int_equal(nn_aesblock_init(&lc, lkey), NN_OK);
  assert_int_equal(nn_aesblock_encrypt(&lc, blk, mask), NN_OK);
  size_t L = ((size_t)(rec->p[0] ^ mask[0]) << 16) | ((size_t)(rec->p[1] ^ mask[1]) << 8) | (rec->p[2] ^ mask[2]);
  assert_int_equal(3 + L, rec->n);
  for (int i = 0; i < 8; i++)
    iv.b[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
  assert_int_equal(nn_aead_init(&a, &key), NN_OK);
  assert_int_equal(nn_aead_open(&a, &iv, rec->p, 3, rec->p + 3, L, pt), NN_OK);
  assert_int_equal(pt[0], 2); /* DATA_END */
  size_t clen = ((size_t)pt[1] << 16) | ((size_t)pt[2] << 8) | pt[3];
  assert_int_equal(clen, strlen(want));
  assert_memory_equal(pt + 4, want, clen);
  nn_aead_free(&a);
  nn_aesblock_free(&lc);
}

static void
test_channel_vector(void **state)
{
  (void)state;
  pair_t p;
  pair_init(&p, 0, NN_NET_REGTEST, NN_NET_REGTEST, NULL);
  buf_t m1 = take_output(p.i.ch);
  assert_int_equal(nn_chan_recv(p.r.ch, m1.p, m1.n, 0), NN_OK);
  buf_t m2 = take_output(p.r.ch);
  assert_int_equal(nn_chan_recv(p.i.ch, m2.p, m2.n, 0), NN_OK);
  buf_t m3 = take_output(p.i.ch);
  assert_int_equal(nn_chan_recv(p.r.ch, m3.p, m3.n, 0), NN_OK);
  assert_true(nn_chan_is_established(p.i.ch) && nn_chan_is_established(p.r.ch));
  assert_int_equal(nn_chan_send(p.i.ch, (const uint8_t *)"hello nepnet", 12), NN_OK);
  buf_t r1 = take_output(p.i.ch);
  assert_int_equal(nn_chan_send(p.r.ch, (const uint8_t *)"hi", 2), NN_OK);
  buf_t r2 = take_output(p.r.ch);
  assert_int_equal(m1.n, 2 + 1620);
  assert_int_equal(m2.n, 2 + 8847);
  assert_int_equal(m3.n, 2 + 7247);

  expect("msg1", m1.p, m1.n);
  expect("msg2", m2.p, m2.n);
  expect("msg3", m3.p, m3.n);
  nn_hash_t h;
  sha3_parts(&h, &m1, 1);
  expect("msg1_sha3", h.b, 32);
  sha3_parts(&h, &m2, 1);
  expect("msg2_sha3", h.b, 32);
  sha3_parts(&h, &m3, 1);
  expect("msg3_sha3", h.b, 32);

  /* ---- the key schedule again, from the document ---- */
  uint8_t prologue[19 + 4];
  memcpy(prologue, "nepnet/v1/handshake", 19);
  nn_be32_put(prologue + 19, NN_NET_REGTEST);
  buf_t pro = { prologue, sizeof(prologue) };
  const size_t ct_off = 2 + 1, sealed_off = ct_off + 32 + 1568;
  buf_t m2_pub = { m2.p, sealed_off };
  /* the initiator's ephemeral key pair: DRBG(100), X25519 secret then ML-KEM seed */
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 100);
  nn_rng_t rng = nn_drbg_rng(&d);
  nn_hybrid_key_t eph;
  assert_int_equal(nn_hybrid_keygen(&eph, &rng), NN_OK);
  assert_memory_equal(m1.p + 4, eph.pk.x.b, 32);
  nn_hybrid_ct_t ct;
  memcpy(ct.x.b, m2.p + ct_off, 32);
  memcpy(ct.m.b, m2.p + ct_off + 32, 1568);
  nn_secret_t ss, prk_hs, prk_app, ts_i2r, ts_r2i;
  assert_int_equal(nn_hybrid_decaps(&ss, &eph, &ct), NN_OK);
  expect("ss", ss.b, 32);
  nn_hash_t th1, thr, th2, thi, th3;
  buf_t t1[] = { pro, m1, m2_pub };
  sha3_parts(&th1, t1, 3);
  expect("th1", th1.b, 32);
  uint8_t salt[13];
  memcpy(salt, "nepnet/v1", 9);
  nn_be32_put(salt + 9, NN_NET_REGTEST);
  assert_int_equal(nn_hkdf_extract(&prk_hs, salt, 13, ss.b, 32), NN_OK);
  nn_aead_key_t k_r2i, k_i2r;
  nn_aead_nonce_t iv_r2i, iv_i2r;
  expand(k_r2i.b, 32, &prk_hs, "nepnet/v1 hs key r2i", &th1);
  expand(iv_r2i.b, 12, &prk_hs, "nepnet/v1 hs iv r2i", &th1);
  expand(k_i2r.b, 32, &prk_hs, "nepnet/v1 hs key i2r", &th1);
  expand(iv_i2r.b, 12, &prk_hs, "nepnet/v1 hs iv i2r", &th1);
  /* msg2 payload: flags, max_message, rekey, pk_R, sig, pad */
  size_t p2n = m2.n - sealed_off - 16;
  uint8_t *p2 = malloc(p2n);
  nn_aead_t a = { 0 };
  assert_int_equal(nn_aead_init(&a, &k_r2i), NN_OK);
  assert_int_equal(nn_aead_open(&a, &iv_r2i, th1.b, 32, m2.p + sealed_off, p2n + 16, p2), NN_OK);
  assert_int_equal(p2[0], 0);
  assert_int_equal(nn_be32_get(p2 + 1), 8u << 20);
  assert_int_equal(nn_be32_get(p2 + 5), 1024);
  assert_memory_equal(p2 + 9, nn_identity_public_key(p.id_r)->b, 2592);
  buf_t p2_signed = { p2, 9 + 2592 }, p2_rest = { p2 + 9 + 2592, p2n - 9 - 2592 };
  buf_t tr[] = { pro, m1, m2_pub, p2_signed };
  sha3_parts(&thr, tr, 4);
  assert_int_equal(nn_mldsa_verify(nn_identity_public_key(p.id_r), (const uint8_t *)"nepnet/v1 responder", 19, thr.b,
                                   32, (const nn_mldsa_sig_t *)(p2 + 9 + 2592)),
                   NN_OK);
  buf_t t2[] = { pro, m1, m2_pub, p2_signed, p2_rest };
  sha3_parts(&th2, t2, 5);
  expect("th2", th2.b, 32);
  /* msg3 */
  size_t p3n = m3.n - 3 - 16;
  uint8_t *p3 = malloc(p3n);
  assert_int_equal(nn_aead_init(&a, &k_i2r), NN_OK);
  assert_int_equal(nn_aead_open(&a, &iv_i2r, th2.b, 32, m3.p + 3, p3n + 16, p3), NN_OK);
  assert_int_equal(p3[0], 1);
  assert_memory_equal(p3 + 9, nn_identity_public_key(p.id_i)->b, 2592);
  buf_t m3_hdr = { m3.p, 3 }, p3_signed = { p3, 9 + 2592 }, p3_rest = { p3 + 9 + 2592, p3n - 9 - 2592 };
  buf_t ti[] = { pro, m1, m2_pub, p2_signed, p2_rest, m3_hdr, p3_signed };
  sha3_parts(&thi, ti, 7);
  assert_int_equal(nn_mldsa_verify(nn_identity_public_key(p.id_i), (const uint8_t *)"nepnet/v1 initiator", 19, thi.b,
                                   32, (const nn_mldsa_sig_t *)(p3 + 9 + 2592)),
                   NN_OK);
  buf_t t3[] = { pro, m1, m2_pub, p2_signed, p2_rest, m3_hdr, p3_signed, p3_rest };
  sha3_parts(&th3, t3, 8);
  expect("th3", th3.b, 32);
  /* traffic secrets, session id */
  uint8_t sid[32];
  assert_int_equal(nn_hkdf_extract(&prk_app, prk_hs.b, 32, th3.b, 32), NN_OK);
  expand(ts_i2r.b, 32, &prk_app, "nepnet/v1 traffic i2r", NULL);
  expand(ts_r2i.b, 32, &prk_app, "nepnet/v1 traffic r2i", NULL);
  expand(sid, 32, &prk_app, "nepnet/v1 session id", NULL);
  assert_memory_equal(sid, nn_chan_info(p.i.ch)->session_id, 32);
  assert_memory_equal(sid, nn_chan_info(p.r.ch)->session_id, 32);
  expect("session_id", sid, 32);
  expect("traffic_i2r", ts_i2r.b, 32);
  expect("traffic_r2i", ts_r2i.b, 32);
  /* first records */
  open_record(&ts_i2r, 0, &r1, "hello nepnet");
  open_record(&ts_r2i, 0, &r2, "hi");
  expect("record_i2r_0", r1.p, r1.n);
  expect("record_r2i_0", r2.p, r2.n);

  nn_aead_free(&a);
  nn_hybrid_key_clear(&eph);
  free(p2);
  free(p3);
  free(m1.p);
  free(m2.p);
  free(m3.p);
  free(r1.p);
  free(r2.p);
  pair_free(&p);
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
  if (!getenv("NEPNET_PRINT_VECTORS"))
    vec = vec_load("nepnet_channel.txt");
  const struct CMUnitTest tests[] = { cmocka_unit_test(test_channel_vector) };
  int rc = cmocka_run_group_tests_name("channel_vector", tests, NULL, NULL);
  vec_free(vec);
  free(doc);
  return rc;
}
