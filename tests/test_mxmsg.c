/*
 * The mixnet's channel messages (src/mixnet/msg.c, nn_mxmsg_*): every message encoded and parsed
 * back, bad input for each, and the vectors of docs/PROTOCOL.md 9.9, which the document must
 * quote.
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
#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "lib/hex.h"
#include "mixnet/dir.h"
#include "mixnet/msg.h"
#include "mixnet/sphinx.h"

#define P NN_SPHINX_DEFAULT_LEN

static void
test_hello(void **state)
{
  (void)state;
  uint8_t b[NN_MXMSG_HELLO_LEN + 1];
  nn_mxmsg_t m;
  nn_mxmsg_hello(b, NN_MXMSG_HELLO_MIX, 4, P, 3600);
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN, P), NN_OK);
  assert_int_equal(m.kind, NN_MXMSG_HELLO);
  assert_int_equal(m.flags, NN_MXMSG_HELLO_MIX);
  assert_int_equal(m.hops, 4);
  assert_int_equal(m.packet_len, P);
  assert_int_equal(m.epoch_s, 3600);
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN - 1, P), NN_ERR_TRUNCATED);
  b[NN_MXMSG_HELLO_LEN] = 0;
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN + 1, P), NN_ERR_TRAILING);
  b[1] = 2;
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN, P), NN_ERR_VERSION);
  nn_mxmsg_hello(b, 0x04, 4, P, 3600);
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN, P), NN_ERR_FORMAT);
  nn_mxmsg_hello(b, 0, 0, P, 3600);
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN, P), NN_ERR_FORMAT);
  nn_mxmsg_hello(b, 0, 4, 0, 3600);
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN, P), NN_ERR_FORMAT);
  nn_mxmsg_hello(b, 0, 4, P, 0);
  assert_int_equal(nn_mxmsg_parse(&m, b, NN_MXMSG_HELLO_LEN, P), NN_ERR_FORMAT);
}

static void
test_packet_and_desc(void **state)
{
  (void)state;
  uint8_t *pkt = calloc(1, P), *b = malloc(P + 2);
  size_t len;
  nn_mxmsg_t m;
  assert_non_null(pkt);
  assert_non_null(b);
  pkt[0] = 1;
  assert_int_equal(nn_mxmsg_wrap(b, P + 2, &len, NN_MXMSG_PACKET, pkt, P), NN_OK);
  assert_int_equal(len, P + 1);
  assert_int_equal(nn_mxmsg_parse(&m, b, len, P), NN_OK);
  assert_ptr_equal(m.data, b + 1);
  assert_int_equal(m.data_len, P);
  /* any other size is refused before anything looks inside */
  assert_int_equal(nn_mxmsg_parse(&m, b, len - 1, P), NN_ERR_FORMAT);
  b[len] = 0;
  assert_int_equal(nn_mxmsg_parse(&m, b, len + 1, P), NN_ERR_FORMAT);
  assert_int_equal(nn_mxmsg_parse(&m, b, len, P - 1), NN_ERR_FORMAT);
  assert_int_equal(nn_mxmsg_parse(&m, b, 1, P), NN_ERR_FORMAT);
  /* descriptors: views, with a cap */
  assert_int_equal(nn_mxmsg_wrap(b, P + 2, &len, NN_MXMSG_DESC, pkt, NN_MIXDESC_FIXED_LEN), NN_OK);
  assert_int_equal(nn_mxmsg_parse(&m, b, len, P), NN_OK);
  assert_int_equal(m.data_len, NN_MIXDESC_FIXED_LEN);
  assert_int_equal(NN_MIXDESC_FIXED_LEN, 10437);
  assert_int_equal(NN_MIXDESC_MAX_LEN, 10717);
  assert_int_equal(nn_mxmsg_wrap(b, P + 2, &len, NN_MXMSG_DESC, pkt, NN_MIXDESC_MAX_LEN + 1), NN_OK);
  assert_int_equal(nn_mxmsg_parse(&m, b, len, P), NN_ERR_TOO_LONG);
  assert_int_equal(nn_mxmsg_parse(&m, b, 1, P), NN_ERR_TRUNCATED);
  assert_int_equal(nn_mxmsg_wrap(b, 10, &len, NN_MXMSG_DESC, pkt, 10), NN_ERR_NOSPACE);
  assert_int_equal(nn_mxmsg_wrap(b, 100, &len, NN_MXMSG_HELLO, pkt, 10), NN_ERR_ARG);
  free(pkt);
  free(b);
}

static void
test_rkey_digest_hashes(void **state)
{
  (void)state;
  nn_hybrid_key_t k[2];
  for (int i = 0; i < 2; i++) {
    nn_drbg_t d;
    nn_drbg_init_u64(&d, 100 + (uint64_t)i);
    nn_rng_t r = nn_drbg_rng(&d);
    assert_int_equal(nn_hybrid_keygen(&k[i], &r), NN_OK);
  }
  uint8_t rk[NN_MXMSG_RKEY_LEN + 1];
  nn_mxmsg_t m;
  nn_mxmsg_rkey(rk, 490000, &k[0].pk, &k[1].pk);
  assert_int_equal(nn_mxmsg_parse(&m, rk, NN_MXMSG_RKEY_LEN, P), NN_OK);
  assert_int_equal(m.epoch, 490000);
  assert_memory_equal(&m.keys[0], &k[0].pk, sizeof(nn_hybrid_pk_t));
  assert_memory_equal(&m.keys[1], &k[1].pk, sizeof(nn_hybrid_pk_t));
  assert_int_equal(nn_mxmsg_parse(&m, rk, NN_MXMSG_RKEY_LEN - 1, P), NN_ERR_TRUNCATED);
  rk[NN_MXMSG_RKEY_LEN] = 0;
  assert_int_equal(nn_mxmsg_parse(&m, rk, NN_MXMSG_RKEY_LEN + 1, P), NN_ERR_TRAILING);

  nn_hash_t dg;
  memset(dg.b, 0x5a, sizeof(dg.b));
  uint8_t db[NN_MXMSG_DIGEST_LEN + 1];
  nn_mxmsg_digest(db, 490000, 9, &dg);
  assert_int_equal(nn_mxmsg_parse(&m, db, NN_MXMSG_DIGEST_LEN, P), NN_OK);
  assert_int_equal(m.count, 9);
  assert_memory_equal(m.digest.b, dg.b, 32);
  assert_int_equal(nn_mxmsg_parse(&m, db, NN_MXMSG_DIGEST_LEN - 1, P), NN_ERR_TRUNCATED);
  db[NN_MXMSG_DIGEST_LEN] = 0;
  assert_int_equal(nn_mxmsg_parse(&m, db, NN_MXMSG_DIGEST_LEN + 1, P), NN_ERR_TRAILING);

  nn_hash_t h[NN_MXMSG_MAX_HASHES + 1];
  for (size_t i = 0; i <= NN_MXMSG_MAX_HASHES; i++)
    memset(h[i].b, (int)(i & 0xff), 32);
  size_t cap = 7 + 32 * (NN_MXMSG_MAX_HASHES + 1), len;
  uint8_t *b = malloc(cap + 1);
  assert_non_null(b);
  for (int kind = NN_MXMSG_INV; kind <= NN_MXMSG_GETDESC; kind++) {
    assert_int_equal(nn_mxmsg_hashes(b, cap, &len, (uint8_t)kind, 7, h, NN_MXMSG_MAX_HASHES), NN_OK);
    assert_int_equal(nn_mxmsg_parse(&m, b, len, P), NN_OK);
    assert_int_equal(m.kind, kind);
    assert_int_equal(m.count, NN_MXMSG_MAX_HASHES);
    nn_hash_t x;
    nn_mxmsg_hash(&m, 1023, &x);
    assert_memory_equal(x.b, h[1023].b, 32);
    nn_mxmsg_hash(&m, 1024, &x); /* out of range: zeros */
    assert_memory_equal(x.b, h[0].b, 32);
    assert_int_equal(nn_mxmsg_parse(&m, b, len - 1, P), NN_ERR_TRUNCATED);
    b[len] = 0;
    assert_int_equal(nn_mxmsg_parse(&m, b, len + 1, P), NN_ERR_TRAILING);
    assert_int_equal(nn_mxmsg_hashes(b, cap, &len, (uint8_t)kind, 7, h, NN_MXMSG_MAX_HASHES + 1), NN_ERR_ARG);
    assert_int_equal(nn_mxmsg_hashes(b, cap, &len, (uint8_t)kind, 7, h, 0), NN_ERR_ARG);
    assert_int_equal(nn_mxmsg_hashes(b, 40, &len, (uint8_t)kind, 7, h, 2), NN_ERR_NOSPACE);
    /* a count above the cap or zero, written by hand */
    assert_int_equal(nn_mxmsg_hashes(b, cap, &len, (uint8_t)kind, 7, h, 1), NN_OK);
    b[5] = 0x04, b[6] = 0x01; /* 1025 */
    assert_int_equal(nn_mxmsg_parse(&m, b, len, P), NN_ERR_FORMAT);
    b[5] = 0, b[6] = 0;
    assert_int_equal(nn_mxmsg_parse(&m, b, len, P), NN_ERR_FORMAT);
  }
  uint8_t one = 0x37, none[1];
  assert_int_equal(nn_mxmsg_parse(&m, &one, 1, P), NN_ERR_FORMAT); /* a kind nobody defined */
  assert_int_equal(nn_mxmsg_parse(&m, none, 0, P), NN_ERR_TRUNCATED);
  free(b);
  nn_hybrid_key_clear(&k[0]);
  nn_hybrid_key_clear(&k[1]);
}

/* docs/PROTOCOL.md 9.9 */
static void
test_vectors(void **state)
{
  (void)state;
  FILE *fp = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "r");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long dl = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *doc = malloc((size_t)dl + 1);
  assert_non_null(doc);
  assert_int_equal(fread(doc, 1, (size_t)dl, fp), (size_t)dl);
  doc[dl] = 0;
  fclose(fp);
  const char *at = strstr(doc, "### 9.9");
  assert_non_null(at);
  int missing = 0;
  char hex[2 * 80 + 1];
  uint8_t hello[NN_MXMSG_HELLO_LEN], dig[NN_MXMSG_DIGEST_LEN], inv[7 + 64], rk[NN_MXMSG_RKEY_LEN];
  nn_mxmsg_hello(hello, NN_MXMSG_HELLO_MIX | NN_MXMSG_HELLO_EXIT, 4, P, 3600);
  nn_hash_t dg, h[2];
  memset(dg.b, 0x5a, 32);
  nn_mxmsg_digest(dig, 490000, 9, &dg);
  memset(h[0].b, 0x01, 32);
  memset(h[1].b, 0x02, 32);
  size_t len;
  assert_int_equal(nn_mxmsg_hashes(inv, sizeof(inv), &len, NN_MXMSG_INV, 490000, h, 2), NN_OK);
  nn_hybrid_key_t k[2];
  for (int i = 0; i < 2; i++) {
    nn_drbg_t d;
    nn_drbg_init_u64(&d, 100 + (uint64_t)i);
    nn_rng_t r = nn_drbg_rng(&d);
    assert_int_equal(nn_hybrid_keygen(&k[i], &r), NN_OK);
  }
  nn_mxmsg_rkey(rk, 490000, &k[0].pk, &k[1].pk);
  nn_hash_t rkh;
  assert_int_equal(nn_sha3_256(&rkh, rk, sizeof(rk)), NN_OK);
  const struct {
    const char *name;
    const uint8_t *b;
    size_t n;
  } v[] = { { "HELLO", hello, sizeof(hello) },
            { "DIGEST", dig, sizeof(dig) },
            { "INV", inv, len },
            { "SHA3-256(RKEY)", rkh.b, 32 } };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    nn_hex_encode(hex, v[i].b, v[i].n);
    if (!strstr(at, hex)) {
      fprintf(stderr, "PROTOCOL.md 9.9 does not quote %s = %s\n", v[i].name, hex);
      missing++;
    }
  }
  assert_int_equal(missing, 0);
  nn_hybrid_key_clear(&k[0]);
  nn_hybrid_key_clear(&k[1]);
  free(doc);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hello),
    cmocka_unit_test(test_packet_and_desc),
    cmocka_unit_test(test_rkey_digest_hashes),
    cmocka_unit_test(test_vectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
