/*
 * The mixnet packet (src/mixnet/sphinx.c) and its payload cipher (src/crypto/lioness.c): round
 * trips through every route length of 3- and 5-hop geometries, every bad packet dropped with its
 * reason, a one-hop packet built here from docs/PROTOCOL.md section 9 alone (so the document and
 * the code agree), and the section's test vectors, which the document must quote.
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
#include "crypto/lioness.h"
#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "crypto/sym.h"
#include "lib/hex.h"
#include "mixnet/sphinx.h"

#define MAXH NN_SPHINX_MAX_HOPS

typedef struct fixture_t {
  nn_sym_t *sym;
  nn_hybrid_key_t key[MAXH + 1]; /* key[MAXH]: a mix on no route */
  nn_sphinx_hop_t route[MAXH];
} fixture_t;

static int
setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(nn_sym_new(&f->sym), NN_OK);
  for (int i = 0; i <= MAXH; i++) {
    nn_drbg_t d;
    nn_drbg_init_u64(&d, 100 + (uint64_t)i);
    nn_rng_t r = nn_drbg_rng(&d);
    assert_int_equal(nn_hybrid_keygen(&f->key[i], &r), NN_OK);
    if (i < MAXH) {
      memset(f->route[i].node.b, 0xa0 + i, NN_HASH_LEN);
      f->route[i].pk = &f->key[i].pk;
      f->route[i].delay_ms = 1000u * (uint32_t)(i + 1) + 7;
    }
  }
  *state = f;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *f = *state;
  for (int i = 0; i <= MAXH; i++)
    nn_hybrid_key_clear(&f->key[i]);
  nn_sym_free(f->sym);
  free(f);
  return 0;
}

static uint8_t *
make_body(const nn_sphinx_geom_t *g, uint64_t seed)
{
  uint8_t *b = malloc(g->body_len);
  assert_non_null(b);
  nn_drbg_t d;
  nn_drbg_init_u64(&d, seed);
  nn_rng_t r = nn_drbg_rng(&d);
  assert_int_equal(nn_rng_fill(&r, b, g->body_len), NN_OK);
  return b;
}

static uint8_t *
make_packet(fixture_t *f, const nn_sphinx_geom_t *g, size_t n, const uint8_t *body, uint64_t seed)
{
  uint8_t *p = malloc(g->packet_len);
  assert_non_null(p);
  nn_drbg_t d;
  nn_drbg_init_u64(&d, seed);
  nn_rng_t r = nn_drbg_rng(&d);
  assert_int_equal(nn_sphinx_build(f->sym, g, 77, f->route, n, body, &r, p), NN_OK);
  return p;
}

static void
test_geometry(void **state)
{
  (void)state;
  nn_sphinx_geom_t g;
  assert_int_equal(nn_sphinx_geom_init(&g, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN), NN_OK);
  assert_int_equal(g.beta_len, 3 * 1669 + 5);
  assert_int_equal(g.header_len, 6649);
  assert_int_equal(g.body_len, 36864 - 6649 - 32);
  assert_true(g.header_len * 5 <= g.packet_len); /* the bound: <= 20% with 3 mix layers */
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_DEFAULT_LEN), NN_OK);
  assert_int_equal(g.header_len, 4980);
  assert_int_equal(nn_sphinx_geom_init(&g, 6, NN_SPHINX_DEFAULT_LEN), NN_OK);
  assert_int_equal(g.header_len, 9987);
  assert_int_equal(nn_sphinx_geom_init(&g, 0, NN_SPHINX_DEFAULT_LEN), NN_ERR_ARG);
  assert_int_equal(nn_sphinx_geom_init(&g, 7, NN_SPHINX_DEFAULT_LEN), NN_ERR_ARG);
  assert_int_equal(nn_sphinx_geom_init(&g, 3, 4980 + 63), NN_ERR_ARG);
  assert_int_equal(nn_sphinx_geom_init(&g, 3, 4980 + 64), NN_OK);
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_MAX_LEN + 1), NN_ERR_ARG);
}

/* Every route length 1..hops of a geometry: each hop learns its delay and the next node and
 * nothing else, the last one the body; the header changes at every hop, the size never. */
static void
round_trips(fixture_t *f, unsigned hops, size_t len)
{
  nn_sphinx_geom_t g;
  assert_int_equal(nn_sphinx_geom_init(&g, hops, len), NN_OK);
  uint8_t *body = make_body(&g, hops);
  for (size_t n = 1; n <= hops; n++) {
    uint8_t *p = make_packet(f, &g, n, body, 1000 + n), prev[64];
    for (size_t i = 0; i < n; i++) {
      nn_sphinx_out_t out;
      uint32_t epoch;
      memcpy(prev, p + NN_SPHINX_PREFIX_LEN, sizeof(prev));
      assert_int_equal(nn_sphinx_epoch(p, g.packet_len, &epoch), NN_OK);
      assert_int_equal(epoch, 77);
      nn_sphinx_unwrap(f->sym, &g, &f->key[i], p, g.packet_len, &out);
      assert_true(out.have_replay);
      assert_int_equal(out.delay_ms, f->route[i].delay_ms);
      if (i + 1 < n) {
        assert_int_equal(out.verdict, NN_SPHINX_FORWARD);
        assert_memory_equal(out.next.b, f->route[i + 1].node.b, NN_HASH_LEN);
        assert_memory_not_equal(prev, p + NN_SPHINX_PREFIX_LEN, sizeof(prev));
      } else {
        assert_int_equal(out.verdict, NN_SPHINX_DELIVER);
        assert_ptr_equal(out.body, p + g.header_len + NN_SPHINX_ZERO_LEN);
        assert_memory_equal(out.body, body, g.body_len);
      }
    }
    free(p);
  }
  free(body);
}

/* 3 mix layers and the recipient (the default), and every shorter route */
static void
test_round_trip_3(void **state)
{
  round_trips(*state, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN);
  round_trips(*state, 3, NN_SPHINX_DEFAULT_LEN);
}

/* 5 mix layers and the recipient */
static void
test_round_trip_5(void **state)
{
  round_trips(*state, 6, NN_SPHINX_DEFAULT_LEN);
  round_trips(*state, 5, 8318 + 64); /* the smallest packet a 5-hop geometry allows */
}

/* A packet for a 3-hop route, unwrapped at hop 1 after \a mutate; returns the verdict there. */
static nn_sphinx_verdict_t
first_hop_after(fixture_t *f, void (*mutate)(uint8_t *p, const nn_sphinx_geom_t *g), int key)
{
  nn_sphinx_geom_t g;
  nn_sphinx_out_t out;
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = make_body(&g, 5), *p = make_packet(f, &g, 3, body, 6);
  if (mutate)
    mutate(p, &g);
  nn_sphinx_unwrap(f->sym, &g, &f->key[key], p, g.packet_len, &out);
  if (out.verdict != NN_SPHINX_FORWARD && out.verdict != NN_SPHINX_DELIVER) {
    assert_null(out.body);
    assert_int_equal(out.delay_ms, 0);
  }
  free(p);
  free(body);
  return out.verdict;
}

static void
flip_version(uint8_t *p, const nn_sphinx_geom_t *g)
{
  (void)g;
  p[0] ^= 0x02;
}
static void
flip_epoch(uint8_t *p, const nn_sphinx_geom_t *g)
{
  (void)g;
  p[4] ^= 0x01;
}
static void
flip_ct_x(uint8_t *p, const nn_sphinx_geom_t *g)
{
  (void)g;
  p[NN_SPHINX_PREFIX_LEN + 3] ^= 0x10;
}
static void
flip_ct_m(uint8_t *p, const nn_sphinx_geom_t *g)
{
  (void)g;
  p[NN_SPHINX_PREFIX_LEN + 900] ^= 0x01;
}
static void
zero_ct_x(uint8_t *p, const nn_sphinx_geom_t *g)
{
  (void)g;
  memset(p + NN_SPHINX_PREFIX_LEN, 0, 32);
}
static void
flip_beta_first(uint8_t *p, const nn_sphinx_geom_t *g)
{
  (void)g;
  p[NN_SPHINX_PREFIX_LEN + NN_SPHINX_CT_LEN] ^= 1;
}
static void
flip_beta_last(uint8_t *p, const nn_sphinx_geom_t *g)
{
  p[g->header_len - NN_SPHINX_MAC_LEN - 1] ^= 0x80;
}
static void
flip_gamma(uint8_t *p, const nn_sphinx_geom_t *g)
{
  p[g->header_len - 1] ^= 0x01;
}

static void
test_bad_header(void **state)
{
  fixture_t *f = *state;
  assert_int_equal(first_hop_after(f, NULL, 0), NN_SPHINX_FORWARD);
  assert_int_equal(first_hop_after(f, flip_version, 0), NN_SPHINX_BAD_VERSION);
  assert_int_equal(first_hop_after(f, flip_epoch, 0), NN_SPHINX_BAD_MAC);
  assert_int_equal(first_hop_after(f, flip_ct_x, 0), NN_SPHINX_BAD_MAC);
  assert_int_equal(first_hop_after(f, flip_ct_m, 0), NN_SPHINX_BAD_MAC); /* ML-KEM rejects implicitly */
  assert_int_equal(first_hop_after(f, zero_ct_x, 0), NN_SPHINX_BAD_CT);  /* a low-order point */
  assert_int_equal(first_hop_after(f, flip_beta_first, 0), NN_SPHINX_BAD_MAC);
  assert_int_equal(first_hop_after(f, flip_beta_last, 0), NN_SPHINX_BAD_MAC);
  assert_int_equal(first_hop_after(f, flip_gamma, 0), NN_SPHINX_BAD_MAC);
  /* for another mix, or for the second hop first */
  assert_int_equal(first_hop_after(f, NULL, MAXH), NN_SPHINX_BAD_MAC);
  assert_int_equal(first_hop_after(f, NULL, 1), NN_SPHINX_BAD_MAC);
}

static void
test_bad_length(void **state)
{
  fixture_t *f = *state;
  nn_sphinx_geom_t g, g5;
  nn_sphinx_out_t out;
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_DEFAULT_LEN), NN_OK);
  assert_int_equal(nn_sphinx_geom_init(&g5, 5, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = make_body(&g, 5), *p = make_packet(f, &g, 3, body, 6);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], p, g.packet_len - 1, &out);
  assert_int_equal(out.verdict, NN_SPHINX_BAD_LENGTH);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], p, 0, &out);
  assert_int_equal(out.verdict, NN_SPHINX_BAD_LENGTH);
  /* a packet of another geometry of the same size: the MAC covers a different span */
  nn_sphinx_unwrap(f->sym, &g5, &f->key[0], p, g.packet_len, &out);
  assert_int_equal(out.verdict, NN_SPHINX_BAD_MAC);
  uint32_t e;
  assert_int_equal(nn_sphinx_epoch(p, 4, &e), NN_ERR_TRUNCATED);
  free(p);
  free(body);
}

/* A payload changed anywhere on the way passes every mix (they cannot see it) and is dropped by
 * the last one, never delivered, and the change left no mark a colluding exit could read. */
static void
test_tagged_payload(void **state)
{
  fixture_t *f = *state;
  nn_sphinx_geom_t g;
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = make_body(&g, 9);
  size_t where[] = { 0, 31, 32, 5000, g.payload_len - 1 };
  for (size_t at_hop = 0; at_hop < 3; at_hop++) {
    for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
      uint8_t *p = make_packet(f, &g, 3, body, 10);
      nn_sphinx_out_t out;
      for (size_t i = 0; i < 3; i++) {
        if (i == at_hop)
          p[g.header_len + where[w]] ^= 0x01;
        nn_sphinx_unwrap(f->sym, &g, &f->key[i], p, g.packet_len, &out);
        if (i < 2)
          assert_int_equal(out.verdict, NN_SPHINX_FORWARD);
      }
      assert_int_equal(out.verdict, NN_SPHINX_TAGGED);
      assert_null(out.body);
      /* the whole payload is noise, not the body with one bit changed */
      size_t same = 0;
      for (size_t j = 0; j < g.body_len; j++)
        same += p[g.header_len + NN_SPHINX_ZERO_LEN + j] == body[j];
      assert_true(same < g.body_len / 64);
      free(p);
    }
  }
  free(body);
}

/* Every copy of a packet gives its hop the same replay tag; another packet, another tag. */
static void
test_replay_tag(void **state)
{
  fixture_t *f = *state;
  nn_sphinx_geom_t g;
  nn_sphinx_out_t a, b, c;
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = make_body(&g, 11), *p = make_packet(f, &g, 3, body, 12), *q = malloc(g.packet_len);
  uint8_t *other = make_packet(f, &g, 3, body, 13);
  assert_non_null(q);
  memcpy(q, p, g.packet_len);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], p, g.packet_len, &a);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], q, g.packet_len, &b);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], other, g.packet_len, &c);
  assert_true(a.have_replay && b.have_replay && c.have_replay);
  assert_memory_equal(a.replay, b.replay, NN_SPHINX_REPLAY_LEN);
  assert_memory_not_equal(a.replay, c.replay, NN_SPHINX_REPLAY_LEN);
  free(p);
  free(q);
  free(other);
  free(body);
}

/* ---- a one-hop packet from the document alone (section 9.2-9.3) ---- */

static void
doc_keys(const nn_secret_t *ss, uint8_t okm[224])
{
  uint8_t in[16 + 32];
  memcpy(in, "nepnet-sphinx-v1", 16);
  memcpy(in + 16, ss->b, 32);
  assert_int_equal(nn_shake256(okm, 224, in, sizeof(in)), NN_OK);
}

/* header = 01 || epoch || ct || beta || gamma, beta = (cmd || delay || pad) XOR AES-CTR(k_beta),
 * payload = LIONESS(k_lio, 0^32 || body) */
static uint8_t *
doc_one_hop(fixture_t *f, const nn_sphinx_geom_t *g, uint8_t cmd, const uint8_t *body)
{
  uint8_t *p = calloc(1, g->packet_len), okm[224];
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  nn_lioness_key_t lk;
  assert_non_null(p);
  assert_int_equal(nn_hybrid_encaps(&ct, &ss, &f->key[0].pk, NULL), NN_OK);
  doc_keys(&ss, okm);
  p[0] = 1;
  p[1] = 0, p[2] = 0, p[3] = 0, p[4] = 77;
  memcpy(p + 5, ct.x.b, 32);
  memcpy(p + 37, ct.m.b, 1568);
  uint8_t *beta = p + 1605;
  beta[0] = cmd;
  beta[1] = 0, beta[2] = 0, beta[3] = 0x01, beta[4] = 0x2c; /* 300 ms */
  assert_int_equal(nn_sym_ctr_xor(f->sym, okm + 32, NULL, beta, beta, g->beta_len), NN_OK);
  assert_int_equal(nn_sym_hmac(f->sym, p + g->header_len - 32, okm, p, g->header_len - 32), NN_OK);
  memcpy(p + g->header_len + 32, body, g->body_len);
  memcpy(lk.b, okm + 64, 128);
  assert_int_equal(nn_lioness_encrypt(f->sym, &lk, p + g->header_len, g->payload_len), NN_OK);
  return p;
}

static void
test_from_the_document(void **state)
{
  fixture_t *f = *state;
  nn_sphinx_geom_t g;
  nn_sphinx_out_t out;
  assert_int_equal(nn_sphinx_geom_init(&g, 3, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = make_body(&g, 20);
  uint8_t *p = doc_one_hop(f, &g, NN_SPHINX_CMD_DELIVER, body);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], p, g.packet_len, &out);
  assert_int_equal(out.verdict, NN_SPHINX_DELIVER);
  assert_int_equal(out.delay_ms, 300);
  assert_memory_equal(out.body, body, g.body_len);
  free(p);
  /* an authenticated slot with a command nobody defined */
  p = doc_one_hop(f, &g, 0x07, body);
  nn_sphinx_unwrap(f->sym, &g, &f->key[0], p, g.packet_len, &out);
  assert_int_equal(out.verdict, NN_SPHINX_BAD_COMMAND);
  assert_true(out.have_replay);
  free(p);
  free(body);
}

/* ---- LIONESS ---- */

static void
test_lioness(void **state)
{
  fixture_t *f = *state;
  nn_lioness_key_t k;
  uint8_t a[1000], b[1000], c[1000];
  for (size_t i = 0; i < sizeof(k.b); i++)
    k.b[i] = (uint8_t)i;
  for (size_t i = 0; i < sizeof(a); i++)
    a[i] = (uint8_t)(i * 7);
  memcpy(b, a, sizeof(a));
  assert_int_equal(nn_lioness_encrypt(f->sym, &k, b, sizeof(b)), NN_OK);
  assert_memory_not_equal(a, b, sizeof(a));
  memcpy(c, b, sizeof(b));
  assert_int_equal(nn_lioness_decrypt(f->sym, &k, c, sizeof(c)), NN_OK);
  assert_memory_equal(a, c, sizeof(a));
  /* one bit of ciphertext, anywhere: both halves of the decryption change */
  size_t spots[] = { 0, 31, 32, 999 };
  for (size_t s = 0; s < 4; s++) {
    memcpy(c, b, sizeof(b));
    c[spots[s]] ^= 0x40;
    assert_int_equal(nn_lioness_decrypt(f->sym, &k, c, sizeof(c)), NN_OK);
    size_t same = 0;
    for (size_t i = 0; i < sizeof(a); i++)
      same += a[i] == c[i];
    assert_true(same < 30);
    assert_memory_not_equal(a, c, 32);
  }
  assert_int_equal(nn_lioness_encrypt(f->sym, &k, a, 63), NN_ERR_ARG);
  assert_int_equal(nn_lioness_decrypt(f->sym, &k, a, 63), NN_ERR_ARG);
}

/* ---- docs/PROTOCOL.md section 9.5 ---- */

static char *
read_doc(void)
{
  FILE *fp = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "r");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
  s[n] = 0;
  fclose(fp);
  return s;
}

static int failures;

static void
expect_quoted(const char *doc, const char *name, const uint8_t *b, size_t n)
{
  char *hex = malloc(2 * n + 1);
  assert_non_null(hex);
  nn_hex_encode(hex, b, n);
  const char *at = strstr(doc, "### 9.5");
  assert_non_null(at);
  if (!strstr(at, hex)) {
    fprintf(stderr, "PROTOCOL.md 9.5 does not quote %s = %s\n", name, hex);
    failures++;
  }
  free(hex);
}

static void
expect_hash_quoted(const char *doc, const char *name, const uint8_t *b, size_t n)
{
  nn_hash_t h;
  assert_int_equal(nn_sha3_256(&h, b, n), NN_OK);
  expect_quoted(doc, name, h.b, sizeof(h.b));
}

/*
 * The vector: four hops with keys from DRBG(100) .. DRBG(103) (2.2), node ids 32 x a0 .. a3,
 * delays 1007 .. 4007 ms, epoch 77, the default geometry (4 hops, 36864 bytes), the body
 * DRBG(3)'s first draw of body_len bytes, built with DRBG(4).
 */
static void
test_vectors(void **state)
{
  fixture_t *f = *state;
  nn_sphinx_geom_t g;
  char *doc = read_doc();
  assert_int_equal(nn_sphinx_geom_init(&g, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = make_body(&g, 3), *p = make_packet(f, &g, NN_SPHINX_DEFAULT_HOPS, body, 4);
  failures = 0;
  expect_hash_quoted(doc, "body", body, g.body_len);
  expect_hash_quoted(doc, "packet", p, g.packet_len);
  expect_quoted(doc, "packet[0..36]", p, 37);
  expect_quoted(doc, "gamma", p + g.header_len - 32, 32);
  for (int i = 0; i < NN_SPHINX_DEFAULT_HOPS; i++) {
    nn_sphinx_out_t out;
    char name[32];
    nn_sphinx_unwrap(f->sym, &g, &f->key[i], p, g.packet_len, &out);
    snprintf(name, sizeof(name), "replay tag %d", i + 1);
    expect_quoted(doc, name, out.replay, 32);
    if (i + 1 < NN_SPHINX_DEFAULT_HOPS) {
      snprintf(name, sizeof(name), "packet after hop %d", i + 1);
      expect_hash_quoted(doc, name, p, g.packet_len);
    } else {
      assert_int_equal(out.verdict, NN_SPHINX_DELIVER);
    }
  }
  /* LIONESS alone: key bytes 00..7f, plaintext 64 bytes 00..3f */
  nn_lioness_key_t k;
  uint8_t blk[64];
  for (size_t i = 0; i < sizeof(k.b); i++)
    k.b[i] = (uint8_t)i;
  for (size_t i = 0; i < sizeof(blk); i++)
    blk[i] = (uint8_t)i;
  assert_int_equal(nn_lioness_encrypt(f->sym, &k, blk, sizeof(blk)), NN_OK);
  expect_quoted(doc, "LIONESS(00..7f, 00..3f)", blk, sizeof(blk));
  assert_int_equal(failures, 0);
  free(p);
  free(body);
  free(doc);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_geometry),
    cmocka_unit_test_setup_teardown(test_round_trip_3, setup, teardown),
    cmocka_unit_test_setup_teardown(test_round_trip_5, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_length, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tagged_payload, setup, teardown),
    cmocka_unit_test_setup_teardown(test_replay_tag, setup, teardown),
    cmocka_unit_test_setup_teardown(test_from_the_document, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lioness, setup, teardown),
    cmocka_unit_test_setup_teardown(test_vectors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
