/*
 * The record layer (src/transport/record.c, docs/PROTOCOL.md 5.4). First its own API, without a
 * channel: seal and open, the document's test vector, the ratchet at the rekey point, tampering
 * and the length limits. Then through an established channel: records tampered, replayed,
 * reordered, dropped and with forged lengths, each asserting the exact close reason of the side
 * that must refuse; rekeying, direction keys, padding and decoys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chantest.h"
#include "crypto/hkdf.h"
#include "lib/hex.h"
#include "transport/chan_int.h"
#include "transport/record.h"

/* ------------------------------------------------------------------------------------------ */
/* The record layer on its own (nn_rec_*)                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Both ends of one direction, from the same traffic secret. */
static void
dir_pair(nn_rec_dir_t *tx, nn_rec_dir_t *rx, uint8_t fill, uint64_t interval)
{
  nn_secret_t s;
  memset(s.b, fill, sizeof(s.b));
  assert_int_equal(nn_rec_dir_init(tx, &s, interval), NN_OK);
  assert_int_equal(nn_rec_dir_init(rx, &s, interval), NN_OK);
}

/* Seal a record of \a type into a new buffer (free() it); *n is its length on the wire. */
static uint8_t *
seal(nn_rec_dir_t *tx, nn_rec_type_t type, const uint8_t *content, size_t len, size_t pad, size_t *n)
{
  *n = nn_rec_wire_len(len, pad);
  uint8_t *w = malloc(*n);
  assert_non_null(w);
  assert_int_equal(nn_rec_seal(tx, type, content, len, pad, w), NN_OK);
  return w;
}

/* Open the record \a w of \a n bytes in place and require \a type and \a content. */
static void
open_expect(nn_rec_dir_t *rx, uint8_t *w, size_t n, nn_rec_type_t type, const uint8_t *content, size_t len)
{
  size_t ct_len, got_len;
  const uint8_t *got;
  uint8_t got_type;
  assert_int_equal(nn_rec_open_header(rx, w, &ct_len), NN_OK);
  assert_int_equal(ct_len, n - NN_REC_HDR_LEN);
  assert_int_equal(nn_rec_open(rx, w, w + NN_REC_HDR_LEN, ct_len, &got_type, &got, &got_len), NN_OK);
  assert_int_equal(got_type, type);
  assert_int_equal(got_len, len);
  assert_ptr_equal(got, w + NN_REC_HDR_LEN + NN_REC_INNER_LEN); /* in place: no copy */
  if (len)
    assert_memory_equal(got, content, len);
}

static void
test_rec_roundtrip(void **state)
{
  (void)state;
  static const size_t lens[] = { 0, 1, 100, NN_REC_MAX_CONTENT };
  static const size_t pads[] = { 0, 7, NN_REC_MAX_PAD };
  nn_rec_dir_t tx, rx;
  uint8_t *content = malloc(NN_REC_MAX_CONTENT + 1);
  uint64_t seq = 0;
  assert_non_null(content);
  ct_fill_pattern(content, NN_REC_MAX_CONTENT + 1, 1);
  dir_pair(&tx, &rx, 0x11, 0);
  assert_int_equal(tx.rekey_interval, NN_REC_DEFAULT_REKEY); /* 0 selects the default */
  for (nn_rec_type_t type = NN_REC_PAD; type <= NN_REC_CLOSE; type++) {
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
      for (size_t q = 0; q < sizeof(pads) / sizeof(pads[0]); q++) {
        size_t n;
        uint8_t *w = seal(&tx, type, content, lens[l], pads[q], &n);
        assert_int_equal(n, NN_REC_HDR_LEN + NN_REC_INNER_LEN + lens[l] + pads[q] + NN_AEAD_TAG_LEN);
        open_expect(&rx, w, n, type, content, lens[l]);
        seq++;
        assert_int_equal(tx.seq, seq);
        assert_int_equal(rx.seq, seq);
        free(w);
      }
    }
  }

  /* nn_rec_open_to leaves the ciphertext as it is and decrypts into the buffer it is given */
  size_t n, ct_len, len;
  const uint8_t *got;
  uint8_t type;
  uint8_t *w = seal(&tx, NN_REC_DATA_MORE, content, 300, 0, &n);
  uint8_t *copy = malloc(n), *out = malloc(n);
  assert_non_null(copy);
  assert_non_null(out);
  memcpy(copy, w, n);
  assert_int_equal(nn_rec_open_header(&rx, w, &ct_len), NN_OK);
  assert_int_equal(nn_rec_open_to(&rx, w, w + NN_REC_HDR_LEN, ct_len, out, &type, &got, &len), NN_OK);
  assert_memory_equal(w, copy, n);
  assert_int_equal(type, NN_REC_DATA_MORE);
  assert_ptr_equal(got, out + NN_REC_INNER_LEN);
  assert_int_equal(len, 300);
  assert_memory_equal(got, content, 300);

  /* above the limits: refused, nothing written, the counter stays */
  uint64_t before = tx.seq;
  assert_int_equal(nn_rec_seal(&tx, NN_REC_DATA_END, content, NN_REC_MAX_CONTENT + 1, 0, out), NN_ERR_ARG);
  assert_int_equal(nn_rec_seal(&tx, NN_REC_DATA_END, content, 1, NN_REC_MAX_PAD + 1, out), NN_ERR_ARG);
  assert_int_equal(tx.seq, before);
  free(copy);
  free(out);
  free(w);
  free(content);
  nn_rec_dir_clear(&tx);
  nn_rec_dir_clear(&rx);
  nn_rec_dir_clear(&rx); /* a cleared direction is a zeroed one */
}

/* docs/PROTOCOL.md 5.6: the first record each way, from the traffic secrets alone. */
static void
test_rec_vector(void **state)
{
  (void)state;
  static const struct {
    const char *secret, *content, *record;
  } v[] = {
    { "8d177378fc7771116ae10556f4148380f0566a43885ccb04c3030302a8b8df27", "hello nepnet",
      "7834446dd1bfbb648161f406908bee6d5c6e6263ebccc6ac96c9d83486c59b8e73f5af" },
    { "e48a8ea3d7300ce86a6fe8525ff1c19364edc3a01dd1369f7048cb9934be3d2c", "hi",
      "d3c461f9fb5fad4bf4af34af9eb3018fad844c2f245043ef21" },
  };
  for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
    nn_secret_t s;
    nn_rec_dir_t tx, rx;
    uint8_t want[64];
    size_t n, len = strlen(v[k].content), want_len = strlen(v[k].record) / 2;
    assert_int_equal(nn_hex_decode(s.b, sizeof(s.b), v[k].secret), NN_OK);
    assert_int_equal(nn_hex_decode(want, want_len, v[k].record), NN_OK);
    assert_int_equal(nn_rec_dir_init(&tx, &s, 0), NN_OK);
    assert_int_equal(nn_rec_dir_init(&rx, &s, 0), NN_OK);
    uint8_t *w = seal(&tx, NN_REC_DATA_END, (const uint8_t *)v[k].content, len, 0, &n);
    assert_int_equal(n, want_len);
    assert_memory_equal(w, want, n);
    open_expect(&rx, w, n, NN_REC_DATA_END, (const uint8_t *)v[k].content, len);
    free(w);
    nn_rec_dir_clear(&tx);
    nn_rec_dir_clear(&rx);
  }
}

/* Every 3 records the direction moves to HKDF-Expand(secret, "nepnet/v1 record next", 32) and
 * restarts its counter; a receiver on another interval fails at the first record where they part. */
static void
test_rec_ratchet(void **state)
{
  (void)state;
  enum { INTERVAL = 3, COUNT = 7 };
  static const uint8_t msg[] = "same content";
  nn_rec_dir_t tx, rx, late, early, fresh;
  nn_secret_t s0, s1;
  uint8_t *recs[COUNT];
  size_t n[COUNT];

  memset(s0.b, 0x22, sizeof(s0.b));
  assert_int_equal(nn_hkdf_expand(s1.b, sizeof(s1.b), &s0, (const uint8_t *)"nepnet/v1 record next", 21), NN_OK);
  assert_int_equal(nn_rec_dir_init(&tx, &s0, INTERVAL), NN_OK);
  assert_int_equal(nn_rec_dir_init(&rx, &s0, INTERVAL), NN_OK);
  assert_int_equal(nn_rec_dir_init(&late, &s0, INTERVAL + 1), NN_OK);
  assert_int_equal(nn_rec_dir_init(&early, &s0, INTERVAL - 1), NN_OK);
  for (size_t k = 0; k < COUNT; k++) {
    recs[k] = seal(&tx, NN_REC_DATA_END, msg, sizeof(msg), 0, &n[k]);
    assert_int_equal(tx.epoch, (k + 1) / INTERVAL);
    assert_int_equal(tx.seq, (k + 1) % INTERVAL);
    if (k + 1 == INTERVAL) { /* the rekey point: the next secret, the old one gone */
      assert_memory_equal(tx.secret.b, s1.b, sizeof(s1.b));
      assert_memory_not_equal(tx.secret.b, s0.b, sizeof(s0.b));
    }
  }
  /* the first record of epoch 1 is what a direction started from the next secret seals first ... */
  size_t fn;
  assert_int_equal(nn_rec_dir_init(&fresh, &s1, INTERVAL), NN_OK);
  uint8_t *first = seal(&fresh, NN_REC_DATA_END, msg, sizeof(msg), 0, &fn);
  assert_int_equal(fn, n[INTERVAL]);
  assert_memory_equal(first, recs[INTERVAL], fn);
  /* ... and differs from the first of epoch 0: same content, same seq, another key */
  assert_memory_not_equal(recs[0], recs[INTERVAL], n[0]);
  free(first);

  for (size_t k = 0; k < COUNT; k++) {
    uint8_t *w = malloc(n[k]);
    assert_non_null(w);
    memcpy(w, recs[k], n[k]);
    open_expect(&rx, w, n[k], NN_REC_DATA_END, msg, sizeof(msg));
    /* a receiver that ratchets one record late (or early) opens the records before the first
     * one sealed under a key it does not have, and fails on that one */
    for (int e = 0; e < 2; e++) {
      nn_rec_dir_t *d = e ? &early : &late;
      size_t part = e ? INTERVAL - 1 : INTERVAL, len;
      const uint8_t *c;
      uint8_t type;
      if (k > part)
        continue;
      memcpy(w, recs[k], n[k]);
      nn_err_t err = nn_rec_open(d, w, w + NN_REC_HDR_LEN, n[k] - NN_REC_HDR_LEN, &type, &c, &len);
      assert_int_equal(err, k < part ? NN_OK : NN_ERR_VERIFY);
    }
    free(w);
  }
  assert_int_equal(rx.epoch, COUNT / INTERVAL);
  assert_int_equal(rx.seq, COUNT % INTERVAL);
  for (size_t k = 0; k < COUNT; k++)
    free(recs[k]);
  nn_rec_dir_clear(&tx);
  nn_rec_dir_clear(&rx);
  nn_rec_dir_clear(&late);
  nn_rec_dir_clear(&early);
  nn_rec_dir_clear(&fresh);
}

/* Any flipped bit of the ciphertext or tag, another header, another key, a replay or a reordering
 * fails to open: nothing is returned and the counter does not move. */
static void
test_rec_tamper(void **state)
{
  (void)state;
  nn_rec_dir_t tx, rx, other_tx, other_rx;
  size_t n, n1, len;
  const uint8_t *c;
  uint8_t type;
  dir_pair(&tx, &rx, 0x33, 0);
  dir_pair(&other_tx, &other_rx, 0x34, 0);
  uint8_t *rec = seal(&tx, NN_REC_DATA_END, (const uint8_t *)"hello", 5, 0, &n);
  uint8_t *rec1 = seal(&tx, NN_REC_DATA_END, (const uint8_t *)"world", 5, 0, &n1);
  uint8_t *w = malloc(n);
  assert_non_null(w);
  for (size_t bit = 0; bit < 8 * n; bit++) {
    memcpy(w, rec, n);
    w[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    c = (const uint8_t *)"x";
    len = 99;
    assert_int_equal(nn_rec_open(&rx, w, w + NN_REC_HDR_LEN, n - NN_REC_HDR_LEN, &type, &c, &len), NN_ERR_VERIFY);
    assert_null(c);
    assert_int_equal(len, 0);
    assert_int_equal(rx.seq, 0);
  }
  /* the other direction's keys (or another channel's) */
  memcpy(w, rec, n);
  assert_int_equal(nn_rec_open(&other_rx, w, w + NN_REC_HDR_LEN, n - NN_REC_HDR_LEN, &type, &c, &len), NN_ERR_VERIFY);
  /* reordered: record 1 first */
  uint8_t *w1 = malloc(n1);
  assert_non_null(w1);
  memcpy(w1, rec1, n1);
  assert_int_equal(nn_rec_open(&rx, w1, w1 + NN_REC_HDR_LEN, n1 - NN_REC_HDR_LEN, &type, &c, &len), NN_ERR_VERIFY);
  /* the genuine record still opens: failures left the receiver where it was */
  memcpy(w, rec, n);
  open_expect(&rx, w, n, NN_REC_DATA_END, (const uint8_t *)"hello", 5);
  /* replayed */
  memcpy(w, rec, n);
  assert_int_equal(nn_rec_open(&rx, w, w + NN_REC_HDR_LEN, n - NN_REC_HDR_LEN, &type, &c, &len), NN_ERR_VERIFY);
  assert_int_equal(rx.seq, 1);
  memcpy(w1, rec1, n1);
  open_expect(&rx, w1, n1, NN_REC_DATA_END, (const uint8_t *)"world", 5);
  free(w1);
  free(w);
  free(rec1);
  free(rec);
  nn_rec_dir_clear(&tx);
  nn_rec_dir_clear(&rx);
  nn_rec_dir_clear(&other_tx);
  nn_rec_dir_clear(&other_rx);
}

/* The length in the header is judged before anything is decrypted; an inner header that
 * authenticates but breaks the format is refused after decryption. */
static void
test_rec_limits(void **state)
{
  (void)state;
  static const struct {
    uint32_t len;
    nn_err_t want;
  } cases[] = {
    { 0, NN_ERR_FORMAT },     { NN_REC_MIN_CT - 1, NN_ERR_FORMAT },   { NN_REC_MIN_CT, NN_OK },
    { NN_REC_MAX_CT, NN_OK }, { NN_REC_MAX_CT + 1, NN_ERR_TOO_LONG }, { 0xffffff, NN_ERR_TOO_LONG },
  };
  nn_rec_dir_t tx, rx;
  size_t n, ct_len, len;
  const uint8_t *c;
  uint8_t type, out[64];
  dir_pair(&tx, &rx, 0x44, 0);
  uint8_t *rec = seal(&tx, NN_REC_DATA_END, (const uint8_t *)"hello", 5, 0, &n);
  uint32_t real = (uint32_t)(n - NN_REC_HDR_LEN);
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    uint8_t hdr[NN_REC_HDR_LEN];
    uint32_t d = real ^ cases[k].len; /* the mask is a keystream: XOR moves the length */
    hdr[0] = rec[0] ^ (uint8_t)(d >> 16);
    hdr[1] = rec[1] ^ (uint8_t)(d >> 8);
    hdr[2] = rec[2] ^ (uint8_t)d;
    ct_len = 12345;
    assert_int_equal(nn_rec_open_header(&rx, hdr, &ct_len), cases[k].want);
    assert_int_equal(ct_len, cases[k].want == NN_OK ? cases[k].len : 0);
  }
  /* a body length outside the limits is refused without decrypting */
  assert_int_equal(nn_rec_open_to(&rx, rec, rec + NN_REC_HDR_LEN, NN_REC_MIN_CT - 1, out, &type, &c, &len),
                   NN_ERR_FORMAT);
  assert_int_equal(nn_rec_open_to(&rx, rec, rec + NN_REC_HDR_LEN, NN_REC_MAX_CT + 1, out, &type, &c, &len),
                   NN_ERR_FORMAT);
  assert_int_equal(rx.seq, 0);
  open_expect(&rx, rec, n, NN_REC_DATA_END, (const uint8_t *)"hello", 5);
  free(rec);
  /* a record type this version does not define, sealed by a sender that ignores the enum */
  rec = seal(&tx, (nn_rec_type_t)(NN_REC_CLOSE + 1), (const uint8_t *)"x", 1, 0, &n);
  assert_int_equal(nn_rec_open(&rx, rec, rec + NN_REC_HDR_LEN, n - NN_REC_HDR_LEN, &type, &c, &len), NN_ERR_FORMAT);
  assert_null(c);
  free(rec);
  nn_rec_dir_clear(&tx);
  nn_rec_dir_clear(&rx);
}

/* ------------------------------------------------------------------------------------------ */
/* Records after establishment                                                                */
/* ------------------------------------------------------------------------------------------ */

static void
test_record_tamper(void **state)
{
  (void)state;
  size_t seen[16] = { 0 };
  /* every byte of a 28-byte record (header 3, ciphertext 9, tag 16), one bit each, both
   * directions; then every bit of the header */
  for (size_t k = 0; k < 28 * 2 + 24; k++) {
    pair_t p;
    size_t n, pos = k < 56 ? k % 28 : (k - 56) / 8;
    unsigned bit = k < 56 ? (unsigned)(k / 28 + 3 * pos) % 8 : (unsigned)(k - 56) % 8;
    int r2i = k >= 28 && k < 56;
    char what[64];
    ct_established(&p, &STD);
    side_t *from = r2i ? &p.r : &p.i, *to = r2i ? &p.i : &p.r;
    uint8_t *rec = ct_send_take(from, "hello", 5, &n);
    assert_int_equal(n, REC_OVERHEAD + 5);
    rec[pos] ^= (uint8_t)(1u << bit);
    nn_close_reason_t want = pos < NN_REC_HDR_LEN ? ct_predict_record(to->ch, rec) : NN_CLOSE_AUTH;
    seen[want]++;
    snprintf(what, sizeof(what), "record byte %zu bit %u %s", pos, bit, r2i ? "r->i" : "i->r");
    ct_record_refused(&p, from, to, rec, n, want, want != NN_CLOSE_AUTH, 0, what);
    free(rec);
    pair_free(&p);
  }
  assert_true(seen[NN_CLOSE_AUTH] >= 50);
  assert_true(seen[NN_CLOSE_TOO_LARGE] > 0); /* header flips that make it too long */
  assert_true(seen[NN_CLOSE_PROTOCOL] > 0);  /* ... and too short */
}

typedef enum atk_t { ATK_REPLAY, ATK_REORDER, ATK_DROP } atk_t;

/* Send tiny records i -> r and deliver them in order until the attack at hand meets a header the
 * receiver judges as the wanted class (a legal length, ending in AUTH, or an illegal one), then
 * carry it out and check the outcome. */
static void
record_attack(atk_t atk, int want_auth)
{
  enum { LIMIT = 6000 };
  static const char *const names[] = { "replay", "reorder", "drop" };
  pair_t p;
  size_t len[LIMIT + 2];
  uint8_t(*recs)[REC_OVERHEAD + 4] = malloc((size_t)(LIMIT + 2) * sizeof(*recs));
  char what[64];
  assert_non_null(recs);
  ct_established(&p, &STD);
  for (uint32_t k = 0; k < LIMIT + 2; k++) {
    uint8_t msg[4] = { (uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k };
    uint8_t *r = ct_send_take(&p.i, msg, 4, &len[k]);
    assert_int_equal(len[k], REC_OVERHEAD + 4);
    memcpy(recs[k], r, len[k]);
    free(r);
  }
  long hit = -1;
  for (long k = 0; k < LIMIT && hit < 0; k++) {
    const uint8_t *probe = atk == ATK_REPLAY ? recs[k] : recs[k + 1];
    if (atk == ATK_REPLAY)
      pair_feed(&p, &p.r, recs[k], len[k]);
    nn_close_reason_t want = ct_predict_record(p.r.ch, probe);
    if ((want == NN_CLOSE_AUTH) == !!want_auth) {
      hit = k;
      snprintf(what, sizeof(what), "%s at record %ld", names[atk], k);
      uint8_t *seq = malloc(3 * sizeof(recs[0]));
      size_t sn = 0;
      switch (atk) {
      case ATK_REPLAY: /* the same record again */
        memcpy(seq, recs[k], len[k]);
        sn = len[k];
        break;
      case ATK_REORDER: /* k+1 before k */
        memcpy(seq, recs[k + 1], len[k + 1]);
        memcpy(seq + len[k + 1], recs[k], len[k]);
        sn = len[k + 1] + len[k];
        break;
      case ATK_DROP: /* k lost, k+1 and k+2 arrive */
        memcpy(seq, recs[k + 1], len[k + 1]);
        memcpy(seq + len[k + 1], recs[k + 2], len[k + 2]);
        sn = len[k + 1] + len[k + 2];
        break;
      }
      ct_record_refused(&p, &p.i, &p.r, seq, sn, want, want != NN_CLOSE_AUTH,
                        atk == ATK_REPLAY ? (size_t)k + 1 : (size_t)k, what);
      free(seq);
      break;
    }
    if (atk != ATK_REPLAY)
      pair_feed(&p, &p.r, recs[k], len[k]);
    uint8_t expect[4] = { (uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k };
    assert_int_equal(p.r.nmsgs, (size_t)k + 1);
    assert_memory_equal(p.r.last, expect, 4);
  }
  if (hit < 0)
    fail_msg("%s: no case of the wanted class in %d records", names[atk], LIMIT);
  free(recs);
  pair_free(&p);
}

static void
test_record_replay(void **state)
{
  (void)state;
  record_attack(ATK_REPLAY, 0);
  record_attack(ATK_REPLAY, 1);
}

static void
test_record_reorder(void **state)
{
  (void)state;
  record_attack(ATK_REORDER, 0);
  record_attack(ATK_REORDER, 1);
}

static void
test_record_drop(void **state)
{
  (void)state;
  record_attack(ATK_DROP, 0);
  record_attack(ATK_DROP, 1);
}

/* A record header rewritten to announce a chosen length (the mask is a keystream, so XOR with
 * real ^ forged moves it without knowing the key). */
static void
test_record_forged_length(void **state)
{
  (void)state;
  const struct {
    uint32_t len;
    nn_close_reason_t why;
  } cases[] = {
    { NN_REC_MAX_CT + 1, NN_CLOSE_TOO_LARGE },
    { NN_REC_MAX_CT + 4096, NN_CLOSE_TOO_LARGE },
    { 0xffffff, NN_CLOSE_TOO_LARGE },
    { NN_REC_MIN_CT - 1, NN_CLOSE_PROTOCOL },
    { 0, NN_CLOSE_PROTOCOL },
    { NN_REC_MAX_CT, NN_CLOSE_AUTH },
    { NN_REC_MIN_CT, NN_CLOSE_AUTH },
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    pair_t p;
    size_t n;
    char what[64];
    ct_established(&p, &STD);
    uint8_t *rec = ct_send_take(&p.i, "hello", 5, &n);
    uint32_t real = (uint32_t)(n - NN_REC_HDR_LEN), f = cases[k].len;
    rec[0] ^= (uint8_t)((real ^ f) >> 16);
    rec[1] ^= (uint8_t)((real ^ f) >> 8);
    rec[2] ^= (uint8_t)(real ^ f);
    assert_int_equal(ct_predict_record(p.r.ch, rec), cases[k].why);
    if (cases[k].why == NN_CLOSE_AUTH && f > real) {
      /* legal: the receiver waits for the body, holding at most the bounded maximum */
      pair_feed(&p, &p.r, rec, n);
      assert_false(nn_chan_is_closed(p.r.ch));
      assert_true(p.r.ch->in_cap <= NN_REC_HDR_LEN + NN_REC_MAX_CT);
    }
    snprintf(what, sizeof(what), "forged record length %u", f);
    int fed = cases[k].why == NN_CLOSE_AUTH && f > real;
    ct_record_refused(&p, &p.i, &p.r, rec, fed ? 0 : n, cases[k].why, cases[k].why != NN_CLOSE_AUTH, 0, what);
    free(rec);
    pair_free(&p);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Rekeying and direction keys                                                                */
/* ------------------------------------------------------------------------------------------ */

static void
rekey_run(uint64_t interval, uint32_t count)
{
  pair_t p;
  setup_t s = STD;
  s.rekey = interval;
  ct_established(&p, &s);
  uint8_t rec0[REC_OVERHEAD + 8], recN[REC_OVERHEAD + 8];
  uint64_t every = interval ? interval : NN_REC_DEFAULT_REKEY;
  for (uint32_t k = 0; k < count; k++) {
    uint8_t msg[8] = { 'm', 's', 'g', 0, (uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k };
    if (k == 0 || k == every)
      memset(msg + 4, 0, 4); /* identical plaintext at seq 0 of epochs 0 and 1 */
    assert_int_equal(nn_chan_send(p.i.ch, msg, sizeof(msg)), NN_OK);
    const uint8_t *d;
    size_t n;
    nn_chan_output(p.i.ch, &d, &n);
    if (n != REC_OVERHEAD + 8)
      fail_msg("record %u: %zu bytes on the wire", k, n);
    if (k == 0)
      memcpy(rec0, d, n);
    if (k == every)
      memcpy(recN, d, n);
    pair_move(&p, &p.i, &p.r);
    if (p.r.nmsgs != (size_t)k + 1 || p.r.last_len != 8 || memcmp(p.r.last, msg, 8) != 0)
      fail_msg("message %u not delivered intact (have %zu messages)", k, p.r.nmsgs);
  }
  /* a new epoch's first record differs from the old one's for the same plaintext and seq */
  assert_memory_not_equal(rec0, recN, sizeof(rec0));
  assert_int_equal(p.i.ch->tx.epoch, count / every);
  assert_int_equal(p.r.ch->rx.epoch, count / every);
  assert_int_equal(p.i.ch->tx.seq, count % every);
  assert_int_equal(p.r.ch->rx.seq, count % every);
  assert_int_equal(p.r.ch->tx.epoch, 0);
  /* the other direction is unaffected, and the rekeyed one still works */
  assert_int_equal(nn_chan_send(p.r.ch, (const uint8_t *)"pong", 4), NN_OK);
  assert_int_equal(nn_chan_send(p.i.ch, (const uint8_t *)"ping", 4), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.i.nmsgs, 1);
  assert_memory_equal(p.i.last, "pong", 4);
  assert_int_equal(p.r.nmsgs, (size_t)count + 1);
  assert_memory_equal(p.r.last, "ping", 4);
  assert_false(nn_chan_is_closed(p.r.ch));
  pair_free(&p);
}

static void
test_rekey_100k_default(void **state)
{
  (void)state;
  rekey_run(0, 100000);
}

static void
test_rekey_100k_interval_16(void **state)
{
  (void)state;
  rekey_run(16, 100000);
}

/* Each side announces the interval of its sending direction; the peer follows it. */
static void
test_rekey_asymmetric(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;
  s.rekey = 16;
  s.rekey_r = 1000;
  ct_established(&p, &s);
  assert_int_equal(nn_chan_info(p.i.ch)->rekey_interval, 16);
  assert_int_equal(nn_chan_info(p.i.ch)->peer_rekey_interval, 1000);
  assert_int_equal(nn_chan_info(p.r.ch)->rekey_interval, 1000);
  assert_int_equal(nn_chan_info(p.r.ch)->peer_rekey_interval, 16);
  for (uint32_t k = 0; k < 5000; k++) {
    uint8_t msg[4] = { (uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k };
    assert_int_equal(nn_chan_send(p.i.ch, msg, 4), NN_OK);
    assert_int_equal(nn_chan_send(p.r.ch, msg, 4), NN_OK);
    pair_move(&p, &p.i, &p.r);
    pair_move(&p, &p.r, &p.i);
    if (p.r.nmsgs != k + 1 || p.i.nmsgs != k + 1 || memcmp(p.r.last, msg, 4) || memcmp(p.i.last, msg, 4))
      fail_msg("message %u lost or damaged", k);
  }
  assert_int_equal(p.i.ch->tx.epoch, 5000 / 16);
  assert_int_equal(p.r.ch->rx.epoch, 5000 / 16);
  assert_int_equal(p.r.ch->tx.epoch, 5000 / 1000);
  assert_int_equal(p.i.ch->rx.epoch, 5000 / 1000);
  pair_free(&p);
}

static void
test_direction_keys(void **state)
{
  (void)state;
  pair_t p;
  size_t ni, nr;
  ct_established(&p, &STD);
  uint8_t *ri = ct_send_take(&p.i, "same plaintext", 14, &ni);
  uint8_t *rr = ct_send_take(&p.r, "same plaintext", 14, &nr);
  assert_int_equal(ni, nr);
  /* both at seq 0 of epoch 0: only different keys make these differ */
  assert_memory_not_equal(ri + NN_REC_HDR_LEN, rr + NN_REC_HDR_LEN, ni - NN_REC_HDR_LEN);
  assert_memory_not_equal(ri, rr, NN_REC_HDR_LEN); /* the length masks differ too */
  /* a record reflected back to its sender is refused */
  pair_t q;
  ct_established(&q, &STD);
  size_t nq;
  uint8_t *rq = ct_send_take(&q.i, "same plaintext", 14, &nq);
  pair_feed(&q, &q.r, rq, nq); /* delivered as sent (so q.r can read q.i's CLOSE later) ... */
  assert_int_equal(q.r.nmsgs, 1);
  nn_close_reason_t want = ct_predict_record(q.i.ch, rq); /* ... and reflected back to q.i */
  ct_record_refused(&q, &q.r, &q.i, rq, nq, want, want != NN_CLOSE_AUTH, 0, "record reflected to its sender");
  free(rq);
  pair_free(&q);
  pair_feed(&p, &p.r, ri, ni);
  pair_feed(&p, &p.i, rr, nr);
  assert_int_equal(p.r.nmsgs, 1);
  assert_int_equal(p.i.nmsgs, 1);
  free(ri);
  free(rr);
  pair_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* Padding and decoys                                                                         */
/* ------------------------------------------------------------------------------------------ */

static size_t
round_up(size_t n, size_t to)
{
  return (n + to - 1) / to * to;
}

static void
test_padding(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;
  s.pad_to = 256;
  ct_established(&p, &s);
  const size_t sizes[] = { 0, 1, 100, 255, 256, 257, 1000, 65535, 65536, 65537, 70000, 200000 };
  uint8_t *buf = malloc(200000);
  assert_non_null(buf);
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    for (int dir = 0; dir < 2; dir++) {
      side_t *from = dir ? &p.r : &p.i, *to = dir ? &p.i : &p.r;
      size_t len = sizes[k], n, want = 0, before = to->nmsgs;
      ct_fill_pattern(buf, len, (uint32_t)k);
      uint8_t *wire = ct_send_take(from, buf, len, &n);
      /* each fragment's content is padded to a multiple of 256 */
      size_t left = len;
      do {
        size_t frag = left > NN_REC_MAX_CONTENT ? NN_REC_MAX_CONTENT : left;
        want += REC_OVERHEAD + round_up(frag, 256);
        left -= frag;
      } while (left);
      assert_int_equal(n, want);
      if (len <= NN_REC_MAX_CONTENT)
        assert_int_equal((n - REC_OVERHEAD) % 256, 0);
      pair_feed(&p, to, wire, n);
      free(wire);
      assert_int_equal(to->nmsgs, before + 1);
      assert_int_equal(to->last_len, len);
      if (len)
        assert_memory_equal(to->last, buf, len);
    }
  }
  assert_false(nn_chan_is_closed(p.i.ch));
  assert_false(nn_chan_is_closed(p.r.ch));
  free(buf);
  pair_free(&p);

  /* control: without pad_to the record is exactly as long as its content */
  ct_established(&p, &STD);
  size_t n;
  uint8_t *w = ct_send_take(&p.i, "x", 1, &n);
  assert_int_equal(n, REC_OVERHEAD + 1);
  free(w);
  pair_free(&p);
}

static void
test_decoys(void **state)
{
  (void)state;
  pair_t p;
  ct_established(&p, &STD);
  uint8_t *big = malloc(70000);
  assert_non_null(big);
  ct_fill_pattern(big, 70000, 7);
  const struct {
    int decoy;
    size_t len;
  } seq[] = { { 1, 0 },    { 0, 1 },     { 1, 1 },    { 1, 100 }, { 0, 2 },
              { 1, 5000 }, { 0, 70000 }, { 1, 1024 }, { 1, 7 },   { 0, 0 } };
  size_t msgs = 0;
  assert_int_equal(nn_chan_send_decoy(p.i.ch, 0), NN_OK); /* queued, then one more below */
  size_t n;
  uint8_t *first = pair_take(&p.i, &n);
  assert_int_equal(n, REC_OVERHEAD);
  pair_feed(&p, &p.r, first, n);
  free(first);
  for (size_t k = 0; k < sizeof(seq) / sizeof(seq[0]); k++) {
    uint8_t *w;
    if (seq[k].decoy) {
      assert_int_equal(nn_chan_send_decoy(p.i.ch, seq[k].len), NN_OK);
      w = pair_take(&p.i, &n);
      size_t pad = seq[k].len > NN_REC_MAX_PAD ? NN_REC_MAX_PAD : seq[k].len;
      assert_int_equal(n, REC_OVERHEAD + pad);
    } else {
      w = ct_send_take(&p.i, big, seq[k].len, &n);
      msgs++;
    }
    pair_feed(&p, &p.r, w, n);
    free(w);
    assert_int_equal(p.r.nmsgs, msgs);
    if (!seq[k].decoy) {
      assert_int_equal(p.r.last_len, seq[k].len);
      if (seq[k].len)
        assert_memory_equal(p.r.last, big, seq[k].len);
    }
  }
  /* decoys both ways, batched with messages in one read */
  assert_int_equal(nn_chan_send_decoy(p.r.ch, 300), NN_OK);
  assert_int_equal(nn_chan_send(p.r.ch, (const uint8_t *)"real", 4), NN_OK);
  assert_int_equal(nn_chan_send_decoy(p.r.ch, 3), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.i.nmsgs, 1);
  assert_memory_equal(p.i.last, "real", 4);
  assert_false(nn_chan_is_closed(p.r.ch));
  assert_false(nn_chan_is_closed(p.i.ch));
  /* no decoys before the handshake */
  pair_t q;
  ct_start(&q, &STD);
  assert_int_equal(nn_chan_send_decoy(q.i.ch, 10), NN_ERR_ARG);
  assert_int_equal(nn_chan_send(q.i.ch, (const uint8_t *)"x", 1), NN_ERR_ARG);
  pair_free(&q);
  free(big);
  pair_free(&p);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rec_roundtrip),
    cmocka_unit_test(test_rec_vector),
    cmocka_unit_test(test_rec_ratchet),
    cmocka_unit_test(test_rec_tamper),
    cmocka_unit_test(test_rec_limits),
    cmocka_unit_test(test_record_tamper),
    cmocka_unit_test(test_record_replay),
    cmocka_unit_test(test_record_reorder),
    cmocka_unit_test(test_record_drop),
    cmocka_unit_test(test_record_forged_length),
    cmocka_unit_test(test_rekey_100k_default),
    cmocka_unit_test(test_rekey_100k_interval_16),
    cmocka_unit_test(test_rekey_asymmetric),
    cmocka_unit_test(test_direction_keys),
    cmocka_unit_test(test_padding),
    cmocka_unit_test(test_decoys),
  };
  return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
