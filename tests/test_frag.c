/*
 * Messages as packet bodies with forward error correction (src/mixnet/frag.c): a 2 MB
 * transaction rebuilt from any k of its n fragments in any order, every bad fragment refused
 * with its reason, the reassembler's caps and expiry, and the vectors of docs/PROTOCOL.md 9.6,
 * which the document must quote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "lib/hex.h"
#include "mixnet/frag.h"
#include "mixnet/sphinx.h"

#define BODY 30183 /* the default geometry's */

static uint8_t *
random_bytes(size_t n, uint64_t seed)
{
  uint8_t *b = malloc(n ? n : 1);
  assert_non_null(b);
  nn_drbg_t d;
  nn_drbg_init_u64(&d, seed);
  nn_rng_t r = nn_drbg_rng(&d);
  assert_int_equal(nn_rng_fill(&r, b, n), NN_OK);
  return b;
}

static uint8_t *
split(const uint8_t *msg, size_t len, unsigned parity, uint8_t id_byte, size_t *n)
{
  size_t k = nn_frag_data_count(BODY, len);
  assert_true(k > 0);
  uint8_t *out = malloc((k + parity) * BODY), id[NN_FRAG_ID_LEN];
  assert_non_null(out);
  memset(id, id_byte, sizeof(id));
  assert_int_equal(nn_frag_split(BODY, id, NN_FRAG_TO_DANDELION, msg, len, parity, out, n), NN_OK);
  assert_int_equal(*n, k + parity);
  return out;
}

static nn_reasm_t *
reasm(void)
{
  nn_reasm_cfg_t c;
  nn_reasm_t *r;
  nn_reasm_cfg_default(&c, BODY);
  assert_int_equal(nn_reasm_new(&r, &c), NN_OK);
  return r;
}

static void
test_sizes(void **state)
{
  (void)state;
  nn_sphinx_geom_t g;
  assert_int_equal(nn_sphinx_geom_init(&g, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN), NN_OK);
  assert_int_equal(g.body_len, BODY);
  assert_int_equal(nn_frag_shard_len(BODY), 30158);
  assert_int_equal(nn_frag_data_count(BODY, 1), 1);
  assert_int_equal(nn_frag_data_count(BODY, 30158), 1);
  assert_int_equal(nn_frag_data_count(BODY, 30159), 2);
  assert_int_equal(nn_frag_data_count(BODY, 2000000), 67);
  assert_int_equal(nn_frag_data_count(BODY, 200 * 30158), 200);
  assert_int_equal(nn_frag_data_count(BODY, 200 * 30158 + 1), 0);
  assert_int_equal(nn_frag_data_count(BODY, 0), 0);
  size_t n;
  uint8_t id[16] = { 0 }, b[BODY * 3];
  assert_int_equal(nn_frag_split(BODY, id, NN_FRAG_TO_DANDELION, b, 0, 1, b, &n), NN_ERR_ARG);
  assert_int_equal(nn_frag_split(BODY, id, 7, b, 10, 1, b, &n), NN_ERR_ARG);
  assert_int_equal(nn_frag_split(BODY, id, NN_FRAG_TO_DANDELION, b, 10, 255, b, &n), NN_ERR_ARG); /* n = 256 */
}

/* A 2 MB transaction, parity k/2: rebuilt from exactly k fragments whichever they are. */
static void
test_two_megabytes(void **state)
{
  (void)state;
  size_t len = 2000000, n;
  uint8_t *msg = random_bytes(len, 1), *frags = split(msg, len, 37, 0x22, &n);
  size_t k = n - 37;
  assert_int_equal(k, 67);
  for (int trial = 0; trial < 4; trial++) {
    nn_reasm_t *r = reasm();
    /* trial 0: data fragments only; 1: all parity first, then data from the back; 2, 3: random */
    size_t order[255], fed = 0;
    for (size_t i = 0; i < n; i++)
      order[i] = trial == 1 ? n - 1 - i : i;
    if (trial >= 2) {
      nn_drbg_t d;
      nn_drbg_init_u64(&d, 40 + (uint64_t)trial);
      nn_rng_t rr = nn_drbg_rng(&d);
      for (size_t i = n - 1; i > 0; i--) {
        uint32_t x;
        assert_int_equal(nn_rng_fill(&rr, (uint8_t *)&x, sizeof(x)), NN_OK);
        size_t j = x % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    uint8_t *out = NULL, deliver = 0;
    size_t out_len = 0;
    for (; fed < n; fed++) {
      nn_reasm_result_t res = nn_reasm_add(r, frags + order[fed] * BODY, 1000, &out, &out_len, &deliver);
      if (fed + 1 < k) {
        assert_int_equal(res, NN_REASM_STORED);
      } else {
        assert_int_equal(res, NN_REASM_COMPLETE);
        break;
      }
    }
    assert_int_equal(fed + 1, k);
    assert_int_equal(out_len, len);
    assert_int_equal(deliver, NN_FRAG_TO_DANDELION);
    assert_memory_equal(out, msg, len);
    free(out);
    /* what comes after is late, and nothing is held */
    assert_int_equal(nn_reasm_add(r, frags + order[fed + 1] * BODY, 1001, &out, &out_len, &deliver), NN_REASM_LATE);
    nn_reasm_stats_t st;
    nn_reasm_stats(r, &st);
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.bytes, 0);
    nn_reasm_free(r);
  }
  free(frags);
  free(msg);
}

/* One byte, two parity fragments: any single fragment of the three is the message. */
static void
test_one_byte(void **state)
{
  (void)state;
  uint8_t msg[1] = { 0x5a }, *out, deliver;
  size_t n, len;
  uint8_t *frags = split(msg, 1, 2, 0x33, &n);
  for (size_t i = 0; i < n; i++) {
    nn_reasm_t *r = reasm();
    assert_int_equal(nn_reasm_add(r, frags + i * BODY, 0, &out, &len, &deliver), NN_REASM_COMPLETE);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 0x5a);
    free(out);
    nn_reasm_free(r);
  }
  free(frags);
}

static nn_reasm_result_t
add_edited(nn_reasm_t *r, const uint8_t *body, size_t at, uint8_t value)
{
  uint8_t *b = malloc(BODY), *out = NULL, deliver;
  size_t len;
  assert_non_null(b);
  memcpy(b, body, BODY);
  b[at] = value;
  nn_reasm_result_t res = nn_reasm_add(r, b, 0, &out, &len, &deliver);
  free(out);
  free(b);
  return res;
}

static void
test_bad_fragments(void **state)
{
  (void)state;
  size_t n, len = 80000; /* k = 3 */
  uint8_t *msg = random_bytes(len, 2), *frags = split(msg, len, 2, 0x44, &n);
  nn_reasm_t *r = reasm();
  const uint8_t *b = frags + BODY;                            /* fragment 1 */
  assert_int_equal(add_edited(r, b, 0, 0x02), NN_REASM_BAD);  /* another body type */
  assert_int_equal(add_edited(r, b, 17, 0), NN_REASM_BAD);    /* deliver 0 */
  assert_int_equal(add_edited(r, b, 17, 3), NN_REASM_BAD);    /* deliver 3 */
  assert_int_equal(add_edited(r, b, 18, 0x01), NN_REASM_BAD); /* len above 4 MiB */
  assert_int_equal(add_edited(r, b, 22, 4), NN_REASM_BAD);    /* k != ceil(len / S) */
  assert_int_equal(add_edited(r, b, 23, 2), NN_REASM_BAD);    /* n < k */
  assert_int_equal(add_edited(r, b, 24, 5), NN_REASM_BAD);    /* index >= n */
  assert_int_equal(add_edited(r, b, 22, 0), NN_REASM_BAD);    /* k = 0 */
  /* len 0 and k 0: no message */
  {
    uint8_t *z = malloc(BODY), *out = NULL, deliver;
    size_t zl;
    assert_non_null(z);
    memcpy(z, b, BODY);
    memset(z + 18, 0, 5);
    assert_int_equal(nn_reasm_add(r, z, 0, &out, &zl, &deliver), NN_REASM_BAD);
    assert_null(out);
    free(z);
  }
  /* the genuine fragment, a duplicate, and fragments of the same id disagreeing with it */
  assert_int_equal(add_edited(r, b, 30, b[30]), NN_REASM_STORED);
  assert_int_equal(add_edited(r, b, 30, b[30] ^ 1), NN_REASM_DUPLICATE);
  assert_int_equal(add_edited(r, frags, 23, 6), NN_REASM_MISMATCH); /* n 6 instead of 5 */
  assert_int_equal(add_edited(r, frags, 17, NN_FRAG_TO_BROADCAST), NN_REASM_MISMATCH);
  nn_reasm_stats_t st;
  nn_reasm_stats(r, &st);
  assert_int_equal(st.results[NN_REASM_BAD], 9);
  assert_int_equal(st.messages, 1);
  nn_reasm_free(r);
  free(frags);
  free(msg);
}

/* The parser alone: fields, the length cap, a body too short, and a changed length that is
 * still consistent (80000 = 0xea60; 0x00 in its lowest byte gives 59904, still 3 fragments). */
static void
test_parse(void **state)
{
  (void)state;
  size_t n, len = 80000;
  uint8_t *msg = random_bytes(len, 2), *frags = split(msg, len, 2, 0x44, &n), *b = malloc(BODY);
  assert_non_null(b);
  nn_frag_hdr_t h;
  assert_int_equal(nn_frag_parse(frags + 4 * BODY, BODY, 1 << 22, &h), NN_OK);
  assert_int_equal(h.len, 80000);
  assert_int_equal(h.k, 3);
  assert_int_equal(h.n, 5);
  assert_int_equal(h.index, 4);
  assert_ptr_equal(h.fragment, frags + 4 * BODY + NN_FRAG_HDR_LEN);
  assert_int_equal(nn_frag_parse(frags, BODY, 79999, &h), NN_ERR_TOO_LONG);
  assert_int_equal(nn_frag_parse(frags, NN_FRAG_HDR_LEN, 1 << 22, &h), NN_ERR_TRUNCATED);
  memcpy(b, frags, BODY);
  b[21] = 0; /* len 79872: still 3 fragments, a valid header */
  assert_int_equal(nn_frag_parse(b, BODY, 1 << 22, &h), NN_OK);
  free(b);
  free(frags);
  free(msg);
}

/* Caps: messages under way and bytes held; expiry frees everything and makes the id late. */
static void
test_caps_and_expiry(void **state)
{
  (void)state;
  nn_reasm_cfg_t c;
  nn_reasm_t *r;
  nn_reasm_cfg_default(&c, BODY);
  c.max_messages = 3;
  c.max_bytes = 5 * (BODY - NN_FRAG_HDR_LEN);
  assert_int_equal(nn_reasm_new(&r, &c), NN_OK);
  size_t n, len = 80000;
  uint8_t *msg = random_bytes(len, 3), *out, deliver;
  uint8_t *f[5];
  for (int i = 0; i < 5; i++)
    f[i] = split(msg, len, 2, (uint8_t)(0x50 + i), &n);
  /* three messages, one fragment each: the fourth is refused, not an eviction */
  for (int i = 0; i < 3; i++)
    assert_int_equal(nn_reasm_add(r, f[i], 1000 * (uint64_t)i, &out, &len, &deliver), NN_REASM_STORED);
  assert_int_equal(nn_reasm_add(r, f[3], 0, &out, &len, &deliver), NN_REASM_FULL);
  /* bytes: two more fit, the third does not */
  assert_int_equal(nn_reasm_add(r, f[0] + BODY, 0, &out, &len, &deliver), NN_REASM_STORED);
  assert_int_equal(nn_reasm_add(r, f[1] + BODY, 0, &out, &len, &deliver), NN_REASM_STORED);
  assert_int_equal(nn_reasm_add(r, f[2] + BODY, 0, &out, &len, &deliver), NN_REASM_FULL);
  nn_reasm_stats_t st;
  nn_reasm_stats(r, &st);
  assert_int_equal(st.bytes, c.max_bytes);
  assert_int_equal(nn_reasm_deadline(r), c.timeout_ms);
  /* the first message expires at 120 s; its late fragment is not a new message */
  nn_reasm_tick(r, c.timeout_ms);
  nn_reasm_stats(r, &st);
  assert_int_equal(st.messages, 2);
  assert_int_equal(st.expired, 1);
  assert_int_equal(nn_reasm_add(r, f[0] + 2 * BODY, c.timeout_ms, &out, &len, &deliver), NN_REASM_LATE);
  /* the room it left takes message 3 now */
  assert_int_equal(nn_reasm_add(r, f[3], c.timeout_ms, &out, &len, &deliver), NN_REASM_STORED);
  nn_reasm_tick(r, 10 * c.timeout_ms);
  nn_reasm_stats(r, &st);
  assert_int_equal(st.messages, 0);
  assert_int_equal(st.bytes, 0);
  assert_int_equal(nn_reasm_deadline(r), UINT64_MAX);
  for (int i = 0; i < 5; i++)
    free(f[i]);
  free(msg);
  nn_reasm_free(r);
}

/* Every slot taken by messages that stopped getting fragments: after stall_ms the one that stalled
 * longest makes room for a new message; one that keeps progressing is never pushed out. */
static void
test_stalled_make_room(void **state)
{
  (void)state;
  nn_reasm_cfg_t c;
  nn_reasm_t *r;
  nn_reasm_cfg_default(&c, BODY);
  c.max_messages = 2;
  assert_int_equal(nn_reasm_new(&r, &c), NN_OK);
  size_t n, len = 80000;
  uint8_t *msg = random_bytes(len, 4), *out, deliver;
  uint8_t *a = split(msg, len, 2, 0x61, &n), *b = split(msg, len, 2, 0x62, &n), *x = split(msg, len, 2, 0x63, &n);
  assert_int_equal(nn_reasm_add(r, a, 0, &out, &len, &deliver), NN_REASM_STORED);  /* a stalls */
  assert_int_equal(nn_reasm_add(r, b, 0, &out, &len, &deliver), NN_REASM_STORED);  /* b progresses */
  assert_int_equal(nn_reasm_add(r, x, 5000, &out, &len, &deliver), NN_REASM_FULL); /* nobody stalled 10 s */
  assert_int_equal(nn_reasm_add(r, b + BODY, 8000, &out, &len, &deliver), NN_REASM_STORED);
  assert_int_equal(nn_reasm_add(r, x, 10000, &out, &len, &deliver), NN_REASM_STORED); /* a makes room */
  nn_reasm_stats_t st;
  nn_reasm_stats(r, &st);
  assert_int_equal(st.evicted, 1);
  assert_int_equal(st.messages, 2);
  assert_int_equal(nn_reasm_add(r, a + BODY, 10001, &out, &len, &deliver), NN_REASM_LATE); /* a is gone */
  assert_int_equal(nn_reasm_add(r, b + 2 * BODY, 10002, &out, &len, &deliver), NN_REASM_COMPLETE);
  assert_memory_equal(out, msg, 80000);
  free(out);
  free(a);
  free(b);
  free(x);
  free(msg);
  nn_reasm_free(r);
}

/* GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1, by the book: the document's code, not ISA-L's. */
static uint8_t
gf_mul_slow(uint8_t a, uint8_t b)
{
  unsigned r = 0, x = a;
  for (int i = 0; i < 8; i++, x <<= 1) {
    if (x & 0x100)
      x ^= 0x11d;
    if (b >> i & 1)
      r ^= x;
  }
  return (uint8_t)r;
}

static uint8_t
gf_inv_slow(uint8_t a)
{
  for (unsigned x = 1; x < 256; x++)
    if (gf_mul_slow(a, (uint8_t)x) == 1)
      return (uint8_t)x;
  return 0;
}

/* docs/PROTOCOL.md 9.6: 80000 bytes drawn from DRBG(6), id 16 x 11, deliver 1, 2 parity. The
 * parity fragments are recomputed here from the section's formula. */
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
  const char *at = strstr(doc, "### 9.6");
  assert_non_null(at);

  size_t len = 80000, n;
  uint8_t *msg = random_bytes(len, 6), *frags = split(msg, len, 2, 0x11, &n);
  int missing = 0;
  size_t S = BODY - NN_FRAG_HDR_LEN;
  for (size_t i = 3; i < 5; i++)
    for (size_t x = 0; x < S; x += 997) {
      uint8_t v = 0;
      for (size_t j = 0; j < 3; j++)
        v ^= gf_mul_slow(gf_inv_slow((uint8_t)(i ^ j)), frags[j * BODY + NN_FRAG_HDR_LEN + x]);
      assert_int_equal(v, frags[i * BODY + NN_FRAG_HDR_LEN + x]);
    }
  char hex[2 * NN_FRAG_HDR_LEN + 1];
  nn_hex_encode(hex, frags + 4 * BODY, NN_FRAG_HDR_LEN);
  if (!strstr(at, hex)) {
    fprintf(stderr, "PROTOCOL.md 9.6 does not quote header 4 = %s\n", hex);
    missing++;
  }
  nn_hash_t h;
  assert_int_equal(nn_sha3_256(&h, msg, len), NN_OK);
  char hh[65];
  nn_hex_encode(hh, h.b, 32);
  if (!strstr(at, hh)) {
    fprintf(stderr, "PROTOCOL.md 9.6 does not quote SHA3-256(message) = %s\n", hh);
    missing++;
  }
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(nn_sha3_256(&h, frags + i * BODY, BODY), NN_OK);
    nn_hex_encode(hh, h.b, 32);
    if (!strstr(at, hh)) {
      fprintf(stderr, "PROTOCOL.md 9.6 does not quote SHA3-256(body %zu) = %s\n", i, hh);
      missing++;
    }
  }
  assert_int_equal(missing, 0);
  free(frags);
  free(msg);
  free(doc);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sizes),
    cmocka_unit_test(test_two_megabytes),
    cmocka_unit_test(test_one_byte),
    cmocka_unit_test(test_bad_fragments),
    cmocka_unit_test(test_parse),
    cmocka_unit_test(test_caps_and_expiry),
    cmocka_unit_test(test_stalled_make_room),
    cmocka_unit_test(test_vectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
