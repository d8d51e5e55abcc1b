/*
 * Adversarial tests of the secure channel: every handshake message truncated, extended,
 * bit-flipped, replayed and reordered; a man in the middle; other networks; the announced
 * limits (rekey interval, message cap), messages up to 8 MiB, the handshake timeout and orderly
 * close. Every case asserts the exact close reason (nn_chan_close_reason) of the side that must
 * refuse, and that it never reports NN_CHAN_EV_ESTABLISHED; leaks are caught by the ASan build
 * (LeakSanitizer). The record layer and the DoS cookies have their own suites (test_record.c,
 * test_cookie.c) on the same fixtures (chantest.h).
 *
 * Everything is deterministic (fixed identities, seeded RNGs), so "what a flipped bit must cause"
 * is computed per position, not guessed: a close reason that differs from the computed one fails
 * the test.
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
#include "crypto/identity.h"
#include "transport/chan_int.h"

#define MSG3_MIN_BODY (1 + PARAMS + 2 + 16) /* smallest msg3 body */

/* ------------------------------------------------------------------------------------------ */
/* Handshake message mutation engine                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef enum which_t { M1, M2, M3, M3A, MC } which_t;
static const char *const WHICH[] = { "msg1", "msg2", "msg3", "msg3(anon)", "cookie reply" };

typedef struct run_t {
  pair_t p;
  jar_t j;
  int has_jar;
} run_t;

static void
deliver(pair_t *p, side_t *to, uint8_t *m, size_t k, const uint8_t *bytes, size_t n, uint8_t **real, size_t *real_n)
{
  if (bytes)
    pair_feed(p, to, bytes, n);
  else
    pair_feed(p, to, m, k);
  if (real) {
    *real = m;
    *real_n = k;
  } else {
    free(m);
  }
}

/* Run the handshake for message \a w (M3A: anonymous initiator; MC: responder demanding a
 * cookie) up to where \a w is due, deliver \a bytes in its place (NULL: the real ones, handed back
 * in *real), then relay everything else faithfully until both sides are quiet. */
static void
flow(run_t *run, which_t w, const uint8_t *bytes, size_t n, uint8_t **real, size_t *real_n)
{
  setup_t s = STD;
  pair_t *p = &run->p;
  uint8_t *m;
  size_t k;

  run->has_jar = 0;
  if (w == M3A)
    s.anon = 1;
  if (w == MC) {
    ct_jar_open(&run->j, 0);
    run->has_jar = 1;
    s.jar = run->j.jar;
  }
  ct_start(p, &s);
  m = pair_take(&p->i, &k);
  assert_int_equal(k, MSG1_LEN);
  if (w == M1) {
    deliver(p, &p->r, m, k, bytes, n, real, real_n);
    goto relay;
  }
  pair_feed(p, &p->r, m, k);
  free(m);
  m = pair_take(&p->r, &k);
  assert_int_equal(k, w == MC ? COOKIE_LEN : MSG2_LEN);
  if (w == M2 || w == MC) {
    deliver(p, &p->i, m, k, bytes, n, real, real_n);
    goto relay;
  }
  pair_feed(p, &p->i, m, k);
  free(m);
  m = pair_take(&p->i, &k);
  assert_int_equal(k, w == M3A ? MSG3A_LEN : MSG3_LEN);
  deliver(p, &p->r, m, k, bytes, n, real, real_n);
relay:
  pair_pump(p);
}

static void
run_free(run_t *run)
{
  pair_free(&run->p);
  if (run->has_jar)
    nn_cookie_jar_free(run->j.jar);
  run->has_jar = 0;
}

/* The genuine bytes of message \a w (deterministic: the same in every run). */
static uint8_t *
capture(which_t w, size_t *n)
{
  run_t run;
  uint8_t *m = NULL;
  flow(&run, w, NULL, 0, &m, n);
  /* control: the unmodified exchange completes (MC: after the cookie retry) */
  assert_true(run.p.i.established);
  assert_true(run.p.r.established);
  run_free(&run);
  return m;
}

/* Deliver \a bytes as message \a w and require the given end state of both sides. */
static void
attack(which_t w, const uint8_t *bytes, size_t n, nn_close_reason_t want_i, nn_close_reason_t want_r, const char *what)
{
  run_t run;
  char desc[160];
  snprintf(desc, sizeof(desc), "%s: %s", WHICH[w], what);
  flow(&run, w, bytes, n, NULL, NULL);
  ct_expect_end(&run.p.i, want_i, "initiator", desc);
  ct_expect_end(&run.p.r, want_r, "responder", desc);
  if (want_i == NN_CLOSE_NONE && want_r != NN_CLOSE_NONE) {
    /* the initiator thinks it is connected: nothing it sends may be delivered */
    assert_int_equal(nn_chan_send(run.p.i.ch, (const uint8_t *)"late", 4), NN_OK);
    pair_pump(&run.p);
    assert_int_equal(run.p.r.nmsgs, 0);
  }
  run_free(&run);
}

/* Which side receives message w, and what the other side ends as when the receiver refuses it
 * (it waits until its own deadline, except the initiator of msg3, which is already open). */
static void
split_want(which_t w, nn_close_reason_t recv_reason, nn_close_reason_t *want_i, nn_close_reason_t *want_r)
{
  switch (w) {
  case M1:
    *want_r = recv_reason;
    *want_i = NN_CLOSE_TIMEOUT;
    break;
  case M2:
  case MC:
    *want_i = recv_reason;
    *want_r = NN_CLOSE_TIMEOUT;
    break;
  case M3:
  case M3A:
    *want_r = recv_reason;
    *want_i = NN_CLOSE_NONE;
    break;
  }
}

/* What the receiver of a frame must do when its header announces \a n body bytes while the real
 * body has \a real bytes: refuse at once (0, above the cap), wait for bytes that never come
 * (TIMEOUT), or parse a shortened body (\a shorter). */
static nn_close_reason_t
frame_len_outcome(size_t n, size_t real, nn_close_reason_t shorter)
{
  if (n == 0)
    return NN_CLOSE_PROTOCOL;
  if (n > NN_HS_MAX_FRAME)
    return NN_CLOSE_TOO_LARGE;
  if (n > real)
    return NN_CLOSE_TIMEOUT;
  return n < real ? shorter : NN_CLOSE_NONE;
}

/* The receiver's verdict on message w shortened to a body of n bytes (n < real body). */
static nn_close_reason_t
shortened(which_t w, size_t n)
{
  if (n == 0)
    return NN_CLOSE_PROTOCOL;
  switch (w) {
  case M3:
  case M3A: return n < MSG3_MIN_BODY ? NN_CLOSE_PROTOCOL : NN_CLOSE_AUTH; /* AEAD over a shorter body */
  default: return NN_CLOSE_PROTOCOL; /* msg1 and the cookie reply have fixed sizes; msg2 is unpadded */
  }
}

/* FIPS 203 modulus check of an ML-KEM-1024 encapsulation key: every 12-bit coefficient < q. */
static int
mlkem_pk_ok(const uint8_t *pk)
{
  for (size_t j = 0; j < 1536; j += 3) {
    unsigned c0 = pk[j] | ((unsigned)(pk[j + 1] & 0x0f) << 8);
    unsigned c1 = (pk[j + 1] >> 4) | ((unsigned)pk[j + 2] << 4);
    if (c0 >= 3329 || c1 >= 3329)
      return 0;
  }
  return 1;
}

/* The end state a flip at \a pos (message already mutated in \a mut) must cause. */
static void
flip_want(which_t w, const uint8_t *mut, size_t len, size_t pos, nn_close_reason_t *want_i, nn_close_reason_t *want_r)
{
  nn_close_reason_t recv = NN_CLOSE_AUTH;
  size_t real = len - 2;
  if (pos < 2) {
    size_t hn = ((size_t)mut[0] << 8) | mut[1];
    recv = frame_len_outcome(hn, real, shortened(w, hn));
  } else if (pos == 2) {
    recv = NN_CLOSE_PROTOCOL; /* another type: unexpected in this state */
  } else if (w == M1) {
    /* msg1 = hdr(2) type version x25519(32) mlkem(1568) cookie(16) padlen(2); not authenticated:
     * the responder answers a modified key or cookie, and the initiator's transcript differs */
    if (pos == 3)
      recv = NN_CLOSE_VERSION;
    else if (pos >= MSG1_LEN - 2)
      recv = NN_CLOSE_PROTOCOL; /* a pad length with no pad behind it */
    else if (pos >= 36 && pos < 36 + 1536 && !mlkem_pk_ok(mut + 36))
      recv = NN_CLOSE_PROTOCOL; /* the responder's encapsulation rejects the key */
    else {
      *want_r = NN_CLOSE_TIMEOUT;
      *want_i = NN_CLOSE_AUTH;
      return;
    }
  } else if (w == MC) {
    /* a wrong cookie: the initiator retries with it and the responder refuses the retry */
    *want_i = NN_CLOSE_TIMEOUT;
    *want_r = NN_CLOSE_COOKIE;
    return;
  }
  split_want(w, recv, want_i, want_r);
}

/* Positions to flip: every bit of the frame header, the type, every 97th byte, the last byte and
 * the first and last byte of each field (\a bounds). */
static void
flip_all(which_t w, const size_t *bounds, size_t nbounds)
{
  size_t len;
  uint8_t *orig = capture(w, &len);
  if (!orig || len < 3) {
    fail_msg("%s: no message captured", WHICH[w]);
    return;
  }
  uint8_t *mut = malloc(len);
  uint8_t *pick = calloc(1, len);
  size_t cases = 0;
  assert_non_null(mut);
  assert_non_null(pick);
  for (size_t pos = 0; pos < len; pos += 97)
    pick[pos] = 1;
  pick[1] = pick[2] = pick[len - 1] = 1;
  for (size_t b = 0; b < nbounds; b++)
    if (bounds[b] < len)
      pick[bounds[b]] = 1;
  for (size_t pos = 0; pos < len; pos++) {
    if (!pick[pos])
      continue;
    for (unsigned bit = 0; bit < 8; bit++) {
      if (pos >= 2 && bit != pos % 8)
        continue; /* header bytes: every bit; elsewhere one bit per position */
      nn_close_reason_t want_i, want_r;
      char what[64];
      memcpy(mut, orig, len);
      mut[pos] ^= (uint8_t)(1u << bit);
      flip_want(w, mut, len, pos, &want_i, &want_r);
      snprintf(what, sizeof(what), "flip byte %zu bit %u", pos, bit);
      attack(w, mut, len, want_i, want_r, what);
      cases++;
    }
  }
  assert_true(cases >= len / 97);
  free(pick);
  free(mut);
  free(orig);
}

/* Truncated streams (cut points inside the u16 header, right after it, in the body): the receiver
 * cannot tell them from a slow peer, so it must wait and then time out. Self-consistent shorter
 * frames (header adjusted) and frames with one extra byte inside are parsed and refused. */
static void
cut_and_extend(which_t w)
{
  size_t len;
  uint8_t *orig = capture(w, &len);
  size_t body = len - 2;
  nn_close_reason_t want_i, want_r;
  char what[64];

  const size_t cuts[] = { 1, 2, 3, len / 2, len - 1 };
  for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
    split_want(w, NN_CLOSE_TIMEOUT, &want_i, &want_r);
    snprintf(what, sizeof(what), "stream cut at %zu of %zu", cuts[c], len);
    attack(w, orig, cuts[c], want_i, want_r, what);
  }

  uint8_t *mut = malloc(len + 1);
  assert_non_null(mut);
  const size_t keep[] = { 0, 1, 2, body / 2, body - 1 };
  for (size_t c = 0; c < sizeof(keep) / sizeof(keep[0]); c++) {
    size_t k = keep[c];
    mut[0] = (uint8_t)(k >> 8);
    mut[1] = (uint8_t)k;
    memcpy(mut + 2, orig + 2, k);
    split_want(w, shortened(w, k), &want_i, &want_r);
    snprintf(what, sizeof(what), "body shortened to %zu of %zu", k, body);
    attack(w, mut, 2 + k, want_i, want_r, what);
  }

  /* one trailing byte inside the frame, the length adjusted */
  for (unsigned extra = 0; extra < 2; extra++) {
    memcpy(mut, orig, len);
    mut[0] = (uint8_t)((body + 1) >> 8);
    mut[1] = (uint8_t)(body + 1);
    mut[len] = extra ? 0xff : 0x00;
    nn_close_reason_t recv = (w == M1 || w == MC) ? NN_CLOSE_PROTOCOL : NN_CLOSE_AUTH;
    split_want(w, recv, &want_i, &want_r);
    snprintf(what, sizeof(what), "body extended by 0x%02x", mut[len]);
    attack(w, mut, len + 1, want_i, want_r, what);
  }
  free(mut);
  free(orig);
}

/* ------------------------------------------------------------------------------------------ */
/* Handshake: success, identities, networks                                                   */
/* ------------------------------------------------------------------------------------------ */

static void
test_hs_mutual(void **state)
{
  (void)state;
  pair_t p;
  ct_established(&p, &STD);
  const nn_chan_info_t *ii = nn_chan_info(p.i.ch), *ri = nn_chan_info(p.r.ch);
  assert_non_null(ii);
  assert_non_null(ri);
  assert_true(ii->peer_identified);
  assert_true(ri->peer_identified);
  assert_memory_equal(ii->peer_id.b, nn_identity_node_id(p.id_r)->b, NN_NODE_ID_LEN);
  assert_memory_equal(ri->peer_id.b, nn_identity_node_id(p.id_i)->b, NN_NODE_ID_LEN);
  assert_memory_equal(ii->session_id, ri->session_id, 32);
  assert_int_equal(ii->peer_max_message, NN_CHAN_DEFAULT_MAX_MESSAGE);
  assert_int_equal(ri->peer_max_message, NN_CHAN_DEFAULT_MAX_MESSAGE);
  assert_int_equal(ii->handshake_bytes_sent, MSG1_LEN + MSG3_LEN);
  assert_int_equal(ii->handshake_bytes_received, MSG2_LEN);
  assert_int_equal(ri->handshake_bytes_sent, MSG2_LEN);
  assert_int_equal(ri->handshake_bytes_received, MSG1_LEN + MSG3_LEN);
  assert_int_equal(nn_chan_deadline(p.i.ch), UINT64_MAX);
  assert_int_equal(nn_chan_deadline(p.r.ch), UINT64_MAX);
  assert_int_equal(nn_chan_close_reason(p.i.ch), NN_CLOSE_NONE);
  /* an open channel never times out */
  nn_chan_tick(p.i.ch, UINT64_MAX - 1);
  nn_chan_tick(p.r.ch, UINT64_MAX - 1);
  assert_false(nn_chan_is_closed(p.i.ch));
  assert_false(nn_chan_is_closed(p.r.ch));
  pair_free(&p);
}

static void
test_hs_anonymous(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;
  s.anon = 1;
  ct_established(&p, &s);
  assert_false(nn_chan_info(p.r.ch)->peer_identified);
  assert_true(nn_chan_info(p.i.ch)->peer_identified);
  assert_memory_equal(nn_chan_info(p.i.ch)->peer_id.b, nn_identity_node_id(p.id_r)->b, 32);
  assert_memory_equal(nn_chan_info(p.i.ch)->session_id, nn_chan_info(p.r.ch)->session_id, 32);
  assert_int_equal(nn_chan_info(p.i.ch)->handshake_bytes_sent, MSG1_LEN + MSG3A_LEN);
  assert_int_equal(nn_chan_send(p.r.ch, (const uint8_t *)"to anon", 7), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.i.nmsgs, 1);
  assert_memory_equal(p.i.last, "to anon", 7);
  pair_free(&p);
}

static void
test_hs_any_peer_learns_id(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;
  s.any_peer = 1; /* bootstrap from a bare address: the id is learned, not checked */
  ct_established(&p, &s);
  assert_memory_equal(nn_chan_info(p.i.ch)->peer_id.b, nn_identity_node_id(p.id_r)->b, 32);
  pair_free(&p);
}

static void
test_hs_id_required(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;

  /* an anonymous initiator learns from msg2 that the responder wants an identity */
  s.anon = 1;
  s.require_id = 1;
  ct_start(&p, &s);
  pair_pump(&p);
  ct_expect_end(&p.i, NN_CLOSE_ID_REQUIRED, "initiator", "anonymous vs require_peer_identity");
  ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "anonymous vs require_peer_identity");
  pair_free(&p);

  /* an initiator that ignores the flag and sends an anonymous msg3 is refused by the responder:
   * the flag is switched on after msg2 went out without it */
  s.require_id = 0;
  ct_start(&p, &s);
  size_t n;
  uint8_t *m = pair_take(&p.i, &n);
  pair_feed(&p, &p.r, m, n);
  free(m);
  m = pair_take(&p.r, &n);
  pair_feed(&p, &p.i, m, n);
  free(m);
  assert_true(p.i.established);
  p.r.ch->cfg.require_peer_identity = 1;
  m = pair_take(&p.i, &n);
  assert_int_equal(n, MSG3A_LEN);
  pair_feed(&p, &p.r, m, n);
  free(m);
  ct_expect_end(&p.r, NN_CLOSE_ID_REQUIRED, "responder", "anonymous msg3 to require_peer_identity");
  pair_free(&p);

  /* an identified initiator passes */
  s.anon = 0;
  s.require_id = 1;
  ct_established(&p, &s);
  assert_true(nn_chan_info(p.r.ch)->peer_identified);
  pair_free(&p);
}

static void
test_hs_wrong_id(void **state)
{
  (void)state;
  pair_t p;
  nn_node_id_t other;
  setup_t s = STD;
  memset(other.b, 0x5a, sizeof(other.b));
  s.expected = &other;
  ct_start(&p, &s);
  pair_pump(&p);
  ct_expect_end(&p.i, NN_CLOSE_WRONG_ID, "initiator", "unexpected responder id");
  ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "unexpected responder id");
  assert_null(nn_chan_info(p.i.ch));
  pair_free(&p);

  /* the initiator's own id is also not the responder's */
  pair_prepare(&p);
  nn_node_id_t mine = *nn_identity_node_id(p.id_i);
  pair_free(&p);
  s.expected = &mine;
  ct_start(&p, &s);
  pair_pump(&p);
  ct_expect_end(&p.i, NN_CLOSE_WRONG_ID, "initiator", "expects itself");
  pair_free(&p);
}

static void
test_hs_cross_network(void **state)
{
  (void)state;
  const uint32_t nets[][2] = {
    { NN_NET_MAINNET, NN_NET_TESTNET },
    { NN_NET_TESTNET, NN_NET_MAINNET },
    { NN_NET_REGTEST, NN_NET_MAINNET },
  };
  for (size_t k = 0; k < 3; k++) {
    pair_t p;
    setup_t s = STD;
    s.net_i = nets[k][0];
    s.net_r = nets[k][1];
    ct_start(&p, &s);
    pair_pump(&p);
    ct_expect_end(&p.i, NN_CLOSE_AUTH, "initiator", "other network");
    ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "other network");
    pair_free(&p);
  }
  /* control: the same network on both sides works for mainnet and testnet too */
  for (size_t k = 0; k < 2; k++) {
    pair_t p;
    setup_t s = STD;
    s.net_i = s.net_r = k ? NN_NET_TESTNET : NN_NET_MAINNET;
    ct_established(&p, &s);
    pair_free(&p);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* A man in the middle                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* M's two channels: m.r (a responder with M's own identity) faces the real initiator, m.i (an
 * initiator with its own ephemeral keys) faces the real responder. */
static nn_identity_t *
mitm_start(pair_t *m, const pair_t *real)
{
  nn_mldsa_seed_t seed;
  nn_identity_t *id_m = NULL;
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  memset(seed.b, 0xc3, sizeof(seed.b));
  assert_int_equal(nn_identity_from_seed(&id_m, &seed), NN_OK);
  pair_prepare(m);
  nn_drbg_init_u64(&m->di, 300);
  nn_drbg_init_u64(&m->dr, 400);
  ci.network = cr.network = NN_NET_REGTEST;
  ci.identity = NULL; /* M cannot sign as the real initiator */
  ci.expected_peer = nn_identity_node_id(real->id_r);
  ci.rng = &m->rng_i;
  cr.identity = id_m;
  cr.rng = &m->rng_r;
  pair_init_cfg(m, &ci, &cr);
  assert_non_null(m->i.ch);
  assert_non_null(m->r.ch);
  return id_m;
}

static void
test_mitm_own_identity(void **state)
{
  (void)state;
  for (int any = 0; any < 2; any++) {
    pair_t p, m;
    size_t n;
    uint8_t *b;
    setup_t s = STD;
    s.any_peer = any;
    ct_start(&p, &s);
    nn_identity_t *id_m = mitm_start(&m, &p);
    /* I -> M(responder) -> I: M answers with its own keys and its own identity */
    b = pair_take(&p.i, &n);
    pair_feed(&m, &m.r, b, n);
    free(b);
    b = pair_take(&m.r, &n);
    assert_int_equal(n, MSG2_LEN);
    pair_feed(&p, &p.i, b, n);
    free(b);
    if (!any) {
      ct_expect_end(&p.i, NN_CLOSE_WRONG_ID, "initiator", "MITM with its own identity");
      b = pair_take(&p.i, &n); /* no msg3 for M to use */
      assert_int_equal(n, 0);
      assert_null(b);
    } else {
      /* control, bootstrap mode (no expected id): the initiator connects to M, and what it
       * reports as the peer is M's id, not the responder's: the id check is what stops M */
      assert_true(p.i.established);
      assert_memory_equal(nn_chan_info(p.i.ch)->peer_id.b, nn_identity_node_id(id_m)->b, 32);
      assert_memory_not_equal(nn_chan_info(p.i.ch)->peer_id.b, nn_identity_node_id(p.id_r)->b, 32);
    }
    pair_free(&m);
    nn_identity_free(id_m);
    pair_free(&p);
  }
}

static void
test_mitm_relay_to_real_responder(void **state)
{
  (void)state;
  pair_t p, m;
  size_t n;
  uint8_t *b;
  ct_start(&p, &STD);
  nn_identity_t *id_m = mitm_start(&m, &p);

  /* Both legs: I <-> M.r (M's identity), M.i <-> R (M's ephemeral keys, anonymous). */
  uint8_t *i1 = pair_take(&p.i, &n);
  pair_feed(&m, &m.r, i1, n);
  free(i1);
  uint8_t *m1 = pair_take(&m.i, &n);
  pair_feed(&p, &p.r, m1, n);
  free(m1);
  uint8_t *r2 = pair_take(&p.r, &n);
  pair_feed(&m, &m.i, r2, n); /* M completes its own handshake with R */
  free(r2);
  assert_true(m.i.established);
  b = pair_take(&m.i, &n);
  pair_feed(&p, &p.r, b, n);
  free(b);
  assert_true(p.r.established);
  /* R talked to M: it did not see I's identity */
  assert_false(nn_chan_info(p.r.ch)->peer_identified);
  /* and I refuses M's msg2 */
  b = pair_take(&m.r, &n);
  pair_feed(&p, &p.i, b, n);
  free(b);
  ct_expect_end(&p.i, NN_CLOSE_WRONG_ID, "initiator", "relaying MITM with its own identity");

  pair_free(&m);
  nn_identity_free(id_m);
  pair_free(&p);
}

static void
test_mitm_swaps_ephemeral_keys(void **state)
{
  (void)state;
  pair_t p, m;
  size_t n, nm;
  ct_start(&p, &STD);
  nn_identity_t *id_m = mitm_start(&m, &p);

  /* M rewrites msg1's ephemeral keys (bytes 4..1603) to its own, then forwards R's msg2 as is */
  uint8_t *i1 = pair_take(&p.i, &n);
  uint8_t *m1 = pair_take(&m.i, &nm);
  assert_int_equal(n, MSG1_LEN);
  assert_int_equal(nm, MSG1_LEN);
  assert_memory_not_equal(i1 + 4, m1 + 4, 32 + 1568);
  memcpy(i1 + 4, m1 + 4, 32 + 1568);
  pair_feed(&p, &p.r, i1, n);
  uint8_t *r2 = pair_take(&p.r, &n);
  assert_int_equal(n, MSG2_LEN); /* the responder cannot tell: msg1 is not authenticated */
  pair_feed(&p, &p.i, r2, n);
  ct_expect_end(&p.i, NN_CLOSE_AUTH, "initiator", "msg1 keys swapped in transit");
  ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "msg1 keys swapped in transit");

  /* Only X25519 swapped (ML-KEM kept) and only ML-KEM swapped: still AUTH (hybrid). */
  for (int half = 0; half < 2; half++) {
    pair_t q;
    size_t k;
    ct_start(&q, &STD);
    uint8_t *q1 = pair_take(&q.i, &k);
    if (half == 0)
      memcpy(q1 + 4, m1 + 4, 32);
    else
      memcpy(q1 + 36, m1 + 36, 1568);
    pair_feed(&q, &q.r, q1, k);
    free(q1);
    pair_pump(&q);
    ct_expect_end(&q.i, NN_CLOSE_AUTH, "initiator", half ? "ML-KEM key swapped" : "X25519 key swapped");
    ct_expect_end(&q.r, NN_CLOSE_TIMEOUT, "responder", "one key swapped");
    pair_free(&q);
  }
  free(i1);
  free(m1);
  free(r2);
  pair_free(&m);
  nn_identity_free(id_m);
  pair_free(&p);
}

/* An identity that claims another node's public key but signs with its own key: the cached
 * public key inside the attacker's key object is overwritten (the object is the test's own). */
static nn_identity_t *
impostor(const nn_identity_t *victim)
{
  nn_mldsa_seed_t seed;
  nn_identity_t *id = NULL;
  memset(seed.b, 0xd4, sizeof(seed.b));
  assert_int_equal(nn_identity_from_seed(&id, &seed), NN_OK);
  memcpy((uint8_t *)nn_identity_public_key(id)->b, nn_identity_public_key(victim)->b, NN_MLDSA_PK_LEN);
  return id;
}

static void
test_impersonation(void **state)
{
  (void)state;
  /* an initiator that presents the real initiator's public key with its own signature */
  {
    pair_t p;
    nn_chan_config_t ci = { 0 }, cr = { 0 };
    pair_prepare(&p);
    nn_identity_t *fake = impostor(p.id_i);
    ci.network = cr.network = NN_NET_REGTEST;
    ci.identity = fake;
    ci.expected_peer = nn_identity_node_id(p.id_r);
    ci.rng = &p.rng_i;
    cr.identity = p.id_r;
    cr.rng = &p.rng_r;
    pair_init_cfg(&p, &ci, &cr);
    pair_pump(&p);
    assert_true(p.i.established); /* (the impostor itself sees a genuine responder) */
    ct_expect_end(&p.r, NN_CLOSE_AUTH, "responder", "initiator with a stolen public key");
    pair_free(&p);
    nn_identity_free(fake);
  }
  /* a responder that presents the expected node's public key with its own signature */
  {
    pair_t p;
    nn_chan_config_t ci = { 0 }, cr = { 0 };
    pair_prepare(&p);
    nn_identity_t *fake = impostor(p.id_r);
    ci.network = cr.network = NN_NET_REGTEST;
    ci.identity = p.id_i;
    ci.expected_peer = nn_identity_node_id(p.id_r);
    ci.rng = &p.rng_i;
    cr.identity = fake;
    cr.rng = &p.rng_r;
    pair_init_cfg(&p, &ci, &cr);
    pair_pump(&p);
    ct_expect_end(&p.i, NN_CLOSE_AUTH, "initiator", "responder with a stolen public key");
    ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "responder with a stolen public key");
    pair_free(&p);
    nn_identity_free(fake);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Handshake messages truncated, extended, bit-flipped                                        */
/* ------------------------------------------------------------------------------------------ */

static void
test_hs_msg1_mutations(void **state)
{
  (void)state;
  /* type, version, x25519, ML-KEM t (first/last), ML-KEM rho, cookie, pad length */
  const size_t b[] = { 2, 3, 4, 35, 36, 37, 38, 1571, 1572, 1603, 1604, 1619, 1620, 1621 };
  flip_all(M1, b, sizeof(b) / sizeof(b[0]));
  cut_and_extend(M1);
}

static void
test_hs_msg2_mutations(void **state)
{
  (void)state;
  /* type, ct_x, ct_m, sealed payload (flags, max_message, rekey, pk, signature, pad length), tag */
  const size_t b[] = { 2, 3, 34, 35, 1602, 1603, 1604, 1608, 1612, 4200, 8830, 8832, 8833, 8848 };
  flip_all(M2, b, sizeof(b) / sizeof(b[0]));
  cut_and_extend(M2);
}

static void
test_hs_msg3_mutations(void **state)
{
  (void)state;
  const size_t b[] = { 2, 3, 4, 8, 12, 2600, 7231, 7232, 7233, 7248 };
  flip_all(M3, b, sizeof(b) / sizeof(b[0]));
  cut_and_extend(M3);
  const size_t ba[] = { 2, 3, 4, 8, 12, 13, 14, 29 };
  flip_all(M3A, ba, sizeof(ba) / sizeof(ba[0]));
  cut_and_extend(M3A);
}

static void
test_hs_cookie_mutations(void **state)
{
  (void)state;
  const size_t b[] = { 2, 3, 10, 18 };
  flip_all(MC, b, sizeof(b) / sizeof(b[0]));
  cut_and_extend(MC);
}

/* A frame header with body length 0 or above 16384 is refused as soon as its 2 bytes are in, in
 * every handshake state, before any byte of a body exists (so nothing was sized on it). */
static void
test_hs_frame_length_limits(void **state)
{
  (void)state;
  const struct {
    uint16_t len;
    nn_close_reason_t why;
  } bad[] = { { 0, NN_CLOSE_PROTOCOL },
              { NN_HS_MAX_FRAME + 1, NN_CLOSE_TOO_LARGE },
              { 0x8000, NN_CLOSE_TOO_LARGE },
              { 0xffff, NN_CLOSE_TOO_LARGE } };
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    for (int where = 0; where < 3; where++) { /* responder WAIT_MSG1, initiator, responder WAIT_MSG3 */
      pair_t p;
      size_t n;
      uint8_t hdr[2] = { (uint8_t)(bad[k].len >> 8), (uint8_t)bad[k].len };
      ct_start(&p, &STD);
      uint8_t *m1 = pair_take(&p.i, &n);
      side_t *to = where == 1 ? &p.i : &p.r;
      if (where == 2) {
        pair_feed(&p, &p.r, m1, n);
        assert_int_equal(p.r.ch->st, NN_ST_R_WAIT_MSG3);
        free(pair_take(&p.r, &n)); /* msg2, not delivered */
      }
      free(m1);
      pair_feed(&p, to, hdr, 1);
      assert_false(nn_chan_is_closed(to->ch));
      pair_feed(&p, to, hdr + 1, 1);
      if (!nn_chan_is_closed(to->ch))
        fail_msg("frame length %u (state %d): not refused after its 2 header bytes", bad[k].len, where);
      assert_null(to->ch->in); /* no receive buffer left behind */
      ct_expect_end(to, bad[k].why, where == 1 ? "initiator" : "responder", "frame length limit");
      pair_free(&p);
    }
  }
  /* 16384 itself is legal: the receiver waits for the body, then parses (and refuses) it */
  pair_t p;
  ct_start(&p, &STD);
  uint8_t *big = calloc(1, 2 + NN_HS_MAX_FRAME);
  assert_non_null(big);
  big[0] = NN_HS_MAX_FRAME >> 8;
  big[1] = NN_HS_MAX_FRAME & 0xff;
  big[2] = NN_HS_MSG1;
  big[3] = NN_HS_VERSION;
  pair_feed(&p, &p.r, big, 2 + NN_HS_MAX_FRAME - 1);
  assert_false(nn_chan_is_closed(p.r.ch));
  pair_feed(&p, &p.r, big + 2 + NN_HS_MAX_FRAME - 1, 1);
  ct_expect_end(&p.r, NN_CLOSE_PROTOCOL, "responder", "16384-byte msg1");
  free(big);
  pair_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* Handshake messages replayed and reordered                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct transcript_t {
  uint8_t *m1, *m2, *m3;
  size_t n1, n2, n3;
} transcript_t;

static void
record_transcript(transcript_t *t, const setup_t *s)
{
  pair_t p;
  ct_start(&p, s);
  t->m1 = pair_take(&p.i, &t->n1);
  pair_feed(&p, &p.r, t->m1, t->n1);
  t->m2 = pair_take(&p.r, &t->n2);
  pair_feed(&p, &p.i, t->m2, t->n2);
  t->m3 = pair_take(&p.i, &t->n3);
  pair_feed(&p, &p.r, t->m3, t->n3);
  assert_true(p.i.established);
  assert_true(p.r.established);
  pair_free(&p);
}

static void
transcript_free(transcript_t *t)
{
  free(t->m1);
  free(t->m2);
  free(t->m3);
}

static void
test_hs_replay(void **state)
{
  (void)state;
  transcript_t t;
  record_transcript(&t, &STD);

  /* msg1 twice to the same responder (in one read, and in two) */
  for (int split = 0; split < 2; split++) {
    pair_t p;
    ct_start(&p, &STD);
    uint8_t *two = malloc(2 * t.n1);
    memcpy(two, t.m1, t.n1);
    memcpy(two + t.n1, t.m1, t.n1);
    if (split) {
      pair_feed(&p, &p.r, two, t.n1);
      assert_false(nn_chan_is_closed(p.r.ch));
      pair_feed(&p, &p.r, two + t.n1, t.n1);
    } else {
      pair_feed(&p, &p.r, two, 2 * t.n1);
    }
    free(two);
    ct_expect_end(&p.r, NN_CLOSE_PROTOCOL, "responder", "msg1 twice");
    pair_free(&p);
  }

  /* a recorded msg1 + msg3 replayed into a fresh responder (its randomness is fresh) */
  {
    pair_t p;
    setup_t s = STD;
    s.seed_r = 201;
    ct_start(&p, &s);
    pair_feed(&p, &p.r, t.m1, t.n1);
    size_t n;
    uint8_t *m2 = pair_take(&p.r, &n);
    assert_int_equal(n, MSG2_LEN);
    assert_memory_not_equal(m2, t.m2, n);
    free(m2);
    pair_feed(&p, &p.r, t.m3, t.n3);
    ct_expect_end(&p.r, NN_CLOSE_AUTH, "responder", "msg3 replayed into a fresh responder");
    pair_free(&p);
  }

  /* a recorded msg2 replayed into a new initiator (fresh ephemeral keys) */
  {
    pair_t p;
    setup_t s = STD;
    s.seed_i = 101;
    ct_start(&p, &s);
    size_t n;
    uint8_t *m1 = pair_take(&p.i, &n);
    assert_memory_not_equal(m1, t.m1, n);
    free(m1);
    pair_feed(&p, &p.i, t.m2, t.n2);
    ct_expect_end(&p.i, NN_CLOSE_AUTH, "initiator", "msg2 replayed into a new initiator");
    pair_free(&p);
  }

  /* msg2 replayed to the initiator after it is open: it is read as a record */
  {
    pair_t p;
    ct_established(&p, &STD);
    nn_close_reason_t want = ct_predict_record(p.i.ch, t.m2);
    pair_feed(&p, &p.i, t.m2, t.n2);
    if (!nn_chan_is_closed(p.i.ch))
      ct_follow_up(&p, &p.r, &p.i);
    assert_true(nn_chan_is_closed(p.i.ch));
    assert_int_equal(nn_chan_close_reason(p.i.ch), want);
    assert_int_equal(p.i.nmsgs, 0);
    pair_free(&p);
  }

  /* msg3 replayed to the responder after it is open */
  {
    pair_t p;
    ct_established(&p, &STD);
    nn_close_reason_t want = ct_predict_record(p.r.ch, t.m3);
    pair_feed(&p, &p.r, t.m3, t.n3);
    if (!nn_chan_is_closed(p.r.ch))
      ct_follow_up(&p, &p.i, &p.r);
    assert_true(nn_chan_is_closed(p.r.ch));
    assert_int_equal(nn_chan_close_reason(p.r.ch), want);
    assert_int_equal(p.r.nmsgs, 0);
    pair_free(&p);
  }

  /* a second cookie reply is a protocol error */
  {
    run_t run;
    size_t n;
    uint8_t *cookie = NULL;
    setup_t s = STD;
    ct_jar_open(&run.j, 0);
    run.has_jar = 1;
    s.jar = run.j.jar;
    ct_start(&run.p, &s);
    uint8_t *m1 = pair_take(&run.p.i, &n);
    pair_feed(&run.p, &run.p.r, m1, n);
    free(m1);
    cookie = pair_take(&run.p.r, &n);
    assert_int_equal(n, COOKIE_LEN);
    pair_feed(&run.p, &run.p.i, cookie, n);
    assert_false(nn_chan_is_closed(run.p.i.ch));
    pair_feed(&run.p, &run.p.i, cookie, n);
    ct_expect_end(&run.p.i, NN_CLOSE_PROTOCOL, "initiator", "cookie reply twice");
    free(cookie);
    run_free(&run);
  }
  transcript_free(&t);
}

static void
test_hs_reorder(void **state)
{
  (void)state;
  transcript_t t;
  record_transcript(&t, &STD);
  const struct {
    int to_initiator;
    int after_msg1; /* responder: msg1 already processed */
    const uint8_t *m;
    size_t n;
    const char *what;
  } cases[] = {
    { 0, 0, t.m3, t.n3, "msg3 before msg1" },
    { 0, 0, t.m2, t.n2, "msg2 to a fresh responder" },
    { 0, 1, t.m2, t.n2, "msg2 to a responder waiting for msg3" },
    { 0, 1, t.m1, t.n1, "msg1 to a responder waiting for msg3" },
    { 1, 0, t.m3, t.n3, "msg3 before msg2, to the initiator" },
    { 1, 0, t.m1, t.n1, "msg1 to an initiator" },
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    pair_t p;
    size_t n;
    ct_start(&p, &STD);
    uint8_t *m1 = pair_take(&p.i, &n);
    if (cases[k].after_msg1)
      pair_feed(&p, &p.r, m1, n);
    free(m1);
    side_t *to = cases[k].to_initiator ? &p.i : &p.r;
    pair_feed(&p, to, cases[k].m, cases[k].n);
    ct_expect_end(to, NN_CLOSE_PROTOCOL, cases[k].to_initiator ? "initiator" : "responder", cases[k].what);
    pair_free(&p);
  }

  /* msg3 and msg2 delivered in the wrong order within one read: msg3 first closes the initiator */
  {
    pair_t p;
    size_t n;
    ct_start(&p, &STD);
    uint8_t *m1 = pair_take(&p.i, &n);
    pair_feed(&p, &p.r, m1, n);
    free(m1);
    uint8_t *m2 = pair_take(&p.r, &n);
    uint8_t *both = malloc(t.n3 + n);
    memcpy(both, t.m3, t.n3);
    memcpy(both + t.n3, m2, n);
    pair_feed(&p, &p.i, both, t.n3 + n);
    ct_expect_end(&p.i, NN_CLOSE_PROTOCOL, "initiator", "msg3 then msg2");
    free(both);
    free(m2);
    pair_free(&p);
  }

  /* a cookie reply to a responder */
  {
    pair_t p;
    uint8_t cookie[COOKIE_LEN] = { 0, 17, NN_HS_COOKIE };
    ct_start(&p, &STD);
    pair_feed(&p, &p.r, cookie, sizeof(cookie));
    ct_expect_end(&p.r, NN_CLOSE_PROTOCOL, "responder", "cookie reply to a responder");
    pair_free(&p);
  }
  transcript_free(&t);
}

/* ------------------------------------------------------------------------------------------ */
/* Announced limits, message sizes                                                            */
/* ------------------------------------------------------------------------------------------ */

/* An announced interval outside 1..2^24 is refused (the config itself is clamped). */
static void
test_rekey_interval_limits(void **state)
{
  (void)state;
  for (int who = 0; who < 2; who++) {
    for (int bad = 0; bad < 2; bad++) {
      pair_t p;
      ct_start(&p, &STD);
      uint64_t v = bad ? (1u << 24) + 1 : 0;
      if (who) /* the responder announces it in msg2 (a peer that ignores the limit) */
        p.r.ch->cfg.rekey_interval = v;
      else /* the initiator announces it in msg3 */
        p.i.ch->cfg.rekey_interval = v;
      pair_pump(&p);
      if (who) {
        ct_expect_end(&p.i, NN_CLOSE_PROTOCOL, "initiator", "responder's rekey interval");
      } else {
        assert_true(p.i.established);
        ct_expect_end(&p.r, NN_CLOSE_PROTOCOL, "responder", "initiator's rekey interval");
      }
      pair_free(&p);
    }
  }
  /* the largest legal interval, and a config above it clamped to it */
  pair_t p;
  setup_t s = STD;
  s.rekey = 1u << 24;
  s.rekey_r = (uint64_t)1 << 40;
  ct_established(&p, &s);
  assert_int_equal(nn_chan_info(p.i.ch)->peer_rekey_interval, 1u << 24);
  assert_int_equal(nn_chan_info(p.r.ch)->peer_rekey_interval, 1u << 24);
  pair_free(&p);
}

static void
test_message_8mib(void **state)
{
  (void)state;
  pair_t p;
  const size_t max = NN_CHAN_DEFAULT_MAX_MESSAGE;
  uint8_t *buf = malloc(max + 1);
  assert_non_null(buf);
  ct_fill_pattern(buf, max + 1, 99);
  ct_established(&p, &STD);
  assert_int_equal(nn_chan_send(p.i.ch, buf, max), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.r.nmsgs, 1);
  assert_int_equal(p.r.last_len, max);
  assert_memory_equal(p.r.last, buf, max);
  /* one byte more is refused locally, queues nothing and keeps the channel */
  assert_int_equal(nn_chan_send(p.i.ch, buf, max + 1), NN_ERR_TOO_LONG);
  const uint8_t *d;
  size_t n;
  nn_chan_output(p.i.ch, &d, &n);
  assert_int_equal(n, 0);
  assert_true(nn_chan_is_established(p.i.ch));
  assert_int_equal(nn_chan_send(p.i.ch, buf, 3), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.r.nmsgs, 2);
  assert_int_equal(p.r.last_len, 3);
  free(buf);
  pair_free(&p);
}

/* The receiver's cap: a sender that ignores the advertised max_message (its peer_max_message is
 * raised behind its back) is closed with TOO_LARGE, fragmented or in one record. */
static void
test_message_cap(void **state)
{
  (void)state;
  const uint32_t mib = 1u << 20;
  uint8_t *buf = malloc(mib + 1);
  assert_non_null(buf);
  ct_fill_pattern(buf, mib + 1, 3);
  pair_t p;
  setup_t s = STD;
  s.max_r = mib;
  ct_established(&p, &s);
  assert_int_equal(nn_chan_info(p.i.ch)->peer_max_message, mib);
  assert_int_equal(nn_chan_info(p.r.ch)->peer_max_message, NN_CHAN_DEFAULT_MAX_MESSAGE);
  assert_int_equal(nn_chan_send(p.i.ch, buf, mib + 1), NN_ERR_TOO_LONG);
  assert_int_equal(nn_chan_send(p.i.ch, buf, mib), NN_OK); /* exactly at the cap: fine */
  pair_pump(&p);
  assert_int_equal(p.r.nmsgs, 1);
  assert_int_equal(p.r.last_len, mib);
  assert_memory_equal(p.r.last, buf, mib);
  p.i.ch->info.peer_max_message = NN_CHAN_DEFAULT_MAX_MESSAGE; /* the sender lies */
  size_t n;
  uint8_t *w = ct_send_take(&p.i, buf, mib + 1, &n);
  ct_record_refused(&p, &p.i, &p.r, w, n, NN_CLOSE_TOO_LARGE, 0, 1, "fragments above the cap");
  free(w);
  pair_free(&p);

  /* a one-record message above a small cap (below what the handshake allows: set behind its back) */
  ct_established(&p, &s);
  p.r.ch->cfg.max_message = 1000;
  p.i.ch->info.peer_max_message = 1000;
  assert_int_equal(nn_chan_send(p.i.ch, buf, 1000), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.r.nmsgs, 1);
  p.i.ch->info.peer_max_message = NN_CHAN_DEFAULT_MAX_MESSAGE;
  w = ct_send_take(&p.i, buf, 1001, &n);
  assert_int_equal(n, REC_OVERHEAD + 1001); /* one DATA_END record */
  ct_record_refused(&p, &p.i, &p.r, w, n, NN_CLOSE_TOO_LARGE, 0, 1, "one record above the cap");
  free(w);
  pair_free(&p);
  free(buf);

  /* the minimum (issue 10, item 14): a channel is not made with less, and a peer that announces
   * less (here the responder, changed behind nn_chan_new's back) is refused in the handshake */
  nn_chan_config_t cc = { .role = NN_CHAN_INITIATOR, .network = NN_NET_REGTEST, .max_message = 65535 };
  nn_chan_t *ch = NULL;
  assert_int_equal(nn_chan_new(&ch, &cc, 0), NN_ERR_ARG);
  cc.max_message = NN_CHAN_MIN_MAX_MESSAGE;
  assert_int_equal(nn_chan_new(&ch, &cc, 0), NN_OK);
  nn_chan_free(ch);
  s.max_r = 0;
  ct_start(&p, &s);
  p.r.ch->cfg.max_message = NN_CHAN_MIN_MAX_MESSAGE - 1;
  pair_pump(&p);
  assert_false(p.i.established);
  assert_int_equal(nn_chan_close_reason(p.i.ch), NN_CLOSE_PROTOCOL);
  pair_free(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* Timeout and close                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void
test_timeout(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;
  s.t0 = 5000;
  s.hs_timeout = 700;

  /* an initiator whose responder never answers */
  ct_start(&p, &s);
  assert_int_equal(nn_chan_deadline(p.i.ch), 5700);
  assert_int_equal(nn_chan_deadline(p.r.ch), 5700);
  nn_chan_tick(p.i.ch, 5699);
  assert_false(nn_chan_is_closed(p.i.ch));
  assert_int_equal(p.i.closed, 0);
  nn_chan_tick(p.i.ch, 5700);
  assert_true(nn_chan_is_closed(p.i.ch));
  assert_int_equal(p.i.closed, 1);
  assert_int_equal(nn_chan_close_reason(p.i.ch), NN_CLOSE_TIMEOUT);
  assert_int_equal(nn_chan_deadline(p.i.ch), UINT64_MAX);
  nn_chan_tick(p.i.ch, 99999);
  assert_int_equal(p.i.closed, 1); /* reported once */
  pair_free(&p);

  /* a responder waiting for msg3 */
  ct_start(&p, &s);
  size_t n;
  uint8_t *m1 = pair_take(&p.i, &n);
  pair_feed(&p, &p.r, m1, n);
  free(m1);
  assert_int_equal(nn_chan_deadline(p.r.ch), 5700);
  nn_chan_tick(p.r.ch, 6000);
  ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "waiting for msg3");
  pair_free(&p);

  /* msg2 arriving after the deadline: nn_chan_recv checks the clock first */
  ct_start(&p, &s);
  m1 = pair_take(&p.i, &n);
  pair_feed(&p, &p.r, m1, n);
  free(m1);
  uint8_t *m2 = pair_take(&p.r, &n);
  assert_int_equal(nn_chan_recv(p.i.ch, m2, n, 5700), NN_ERR_VERIFY);
  free(m2);
  assert_false(p.i.established);
  assert_int_equal(nn_chan_close_reason(p.i.ch), NN_CLOSE_TIMEOUT);
  pair_free(&p);

  /* a responder's first message deadline: a few bytes of msg1 hold the slot only until then;
   * once msg1 is whole, the handshake's own deadline applies */
  s.msg1_timeout = 200;
  ct_start(&p, &s);
  assert_int_equal(nn_chan_deadline(p.r.ch), 5200);
  assert_int_equal(nn_chan_deadline(p.i.ch), 5700); /* the initiator has no such deadline */
  m1 = pair_take(&p.i, &n);
  pair_feed(&p, &p.r, m1, 3);
  nn_chan_tick(p.r.ch, 5199);
  assert_false(nn_chan_is_closed(p.r.ch));
  nn_chan_tick(p.r.ch, 5200);
  ct_expect_end(&p.r, NN_CLOSE_TIMEOUT, "responder", "msg1 not whole by its deadline");
  pair_free(&p);
  free(m1);
  ct_start(&p, &s);
  m1 = pair_take(&p.i, &n);
  pair_feed(&p, &p.r, m1, n);
  free(m1);
  assert_int_equal(nn_chan_deadline(p.r.ch), 5700);
  nn_chan_tick(p.r.ch, 5300);
  assert_false(nn_chan_is_closed(p.r.ch));
  pair_free(&p);
  s.msg1_timeout = 0;

  /* the default timeout */
  s.hs_timeout = 0;
  ct_start(&p, &s);
  assert_int_equal(nn_chan_deadline(p.i.ch), 5000 + NN_CHAN_DEFAULT_HS_TIMEOUT_MS);
  pair_pump(&p);
  assert_int_equal(nn_chan_deadline(p.i.ch), UINT64_MAX);
  pair_free(&p);
}

static void
test_close(void **state)
{
  (void)state;
  const nn_close_reason_t given[] = { NN_CLOSE_NONE, NN_CLOSE_LOCAL, NN_CLOSE_PROTOCOL };
  for (size_t k = 0; k < 3; k++) {
    for (int dir = 0; dir < 2; dir++) {
      pair_t p;
      ct_established(&p, &STD);
      side_t *a = dir ? &p.r : &p.i, *b = dir ? &p.i : &p.r;
      assert_int_equal(nn_chan_send(a->ch, (const uint8_t *)"bye", 3), NN_OK);
      nn_chan_close(a->ch, given[k]);
      assert_true(nn_chan_is_closed(a->ch));
      assert_int_equal(a->closed, 1);
      assert_int_equal(nn_chan_close_reason(a->ch), given[k] ? given[k] : NN_CLOSE_LOCAL);
      assert_int_equal(nn_chan_send(a->ch, (const uint8_t *)"x", 1), NN_ERR_ARG);
      const uint8_t *d;
      size_t n;
      nn_chan_output(a->ch, &d, &n);
      assert_int_equal(n, (REC_OVERHEAD + 3) + (REC_OVERHEAD + 1)); /* data, then CLOSE */
      nn_chan_close(a->ch, NN_CLOSE_LOCAL);                         /* idempotent */
      assert_int_equal(a->closed, 1);
      size_t before = a->nmsgs;
      assert_int_equal(nn_chan_recv(b->ch, d, n, p.now), NN_OK);
      nn_chan_output_consume(a->ch, n);
      assert_int_equal(b->nmsgs, 1);
      assert_memory_equal(b->last, "bye", 3);
      assert_true(nn_chan_is_closed(b->ch));
      assert_int_equal(b->closed, 1);
      assert_int_equal(nn_chan_close_reason(b->ch), NN_CLOSE_PEER);
      nn_chan_output(b->ch, &d, &n);
      assert_int_equal(n, 0); /* no CLOSE echoed back */
      assert_non_null(nn_chan_info(b->ch));
      assert_int_equal(a->nmsgs, before);
      pair_free(&p);
    }
  }
  /* closing during the handshake queues nothing */
  pair_t p;
  ct_start(&p, &STD);
  size_t n;
  free(pair_take(&p.i, &n));
  nn_chan_close(p.i.ch, NN_CLOSE_LOCAL);
  uint8_t *w = pair_take(&p.i, &n);
  assert_int_equal(n, 0);
  assert_null(w);
  assert_int_equal(nn_chan_close_reason(p.i.ch), NN_CLOSE_LOCAL);
  pair_free(&p);
}

/* Link padding (shape_interval_ms): once open, one record of one size per slot each way, a
 * message's pieces in place of decoys; nothing before its slot; the queue has a cap. */
static void
test_shaped(void **state)
{
  (void)state;
  pair_t p;
  setup_t s = STD;
  uint8_t msg[5000], *b;
  size_t n;
  const size_t rec = nn_rec_wire_len(NN_CHAN_SHAPE_CONTENT, 0);
  s.shape_ms = 20;
  s.shape_max = 8000;
  ct_established(&p, &s);
  assert_int_equal(rec, NN_CHAN_SHAPE_CONTENT + REC_OVERHEAD);
  /* the first slot is due at once: a decoy, of the one size */
  assert_true(nn_chan_deadline(p.i.ch) <= p.now);
  nn_chan_tick(p.i.ch, p.now);
  b = pair_take(&p.i, &n);
  assert_int_equal(n, rec);
  assert_int_equal(pair_feed(&p, &p.r, b, n), NN_OK);
  free(b);
  assert_int_equal(p.r.nmsgs, 0);
  assert_int_equal(nn_chan_deadline(p.i.ch), p.now + 20);
  /* a message waits for its slots: nothing is sealed by the send itself */
  ct_fill_pattern(msg, sizeof(msg), 7);
  assert_int_equal(nn_chan_send(p.i.ch, msg, sizeof(msg)), NN_OK);
  assert_int_equal(nn_chan_queued(p.i.ch), sizeof(msg));
  b = pair_take(&p.i, &n);
  free(b);
  assert_int_equal(n, 0);
  /* the cap: 5000 queued, 4000 more would pass 8000 */
  assert_int_equal(nn_chan_send(p.i.ch, msg, 4000), NN_ERR_NOSPACE);
  assert_false(nn_chan_is_closed(p.i.ch));
  /* one record per slot, each the same size; 5 slots carry 5000 bytes */
  for (int k = 0; k < 5; k++) {
    p.now += 20;
    nn_chan_tick(p.i.ch, p.now);
    b = pair_take(&p.i, &n);
    assert_int_equal(n, rec);
    assert_int_equal(pair_feed(&p, &p.r, b, n), NN_OK);
    free(b);
    assert_int_equal(p.r.nmsgs, k == 4);
  }
  assert_int_equal(p.r.last_len, sizeof(msg));
  assert_memory_equal(p.r.last, msg, sizeof(msg));
  assert_int_equal(nn_chan_queued(p.i.ch), 0);
  /* idle again: decoys, dropped by the peer; a late tick catches up by at most 4 records */
  p.now += 20 * 10;
  nn_chan_tick(p.i.ch, p.now);
  b = pair_take(&p.i, &n);
  assert_true(n >= rec && n <= 4 * rec && n % rec == 0);
  assert_int_equal(pair_feed(&p, &p.r, b, n), NN_OK);
  free(b);
  assert_int_equal(p.r.nmsgs, 1);
  /* a link that does not drain: slots pass, at most four records wait */
  for (int k = 0; k < 20; k++) {
    p.now += 20;
    nn_chan_tick(p.i.ch, p.now);
  }
  const uint8_t *o;
  nn_chan_output(p.i.ch, &o, &n);
  assert_true(n >= rec && n <= 4 * rec);
  b = pair_take(&p.i, &n);
  assert_int_equal(pair_feed(&p, &p.r, b, n), NN_OK);
  free(b);
  /* a close goes at once, and takes the queue with it */
  assert_int_equal(nn_chan_send(p.i.ch, msg, 100), NN_OK);
  nn_chan_close(p.i.ch, NN_CLOSE_LOCAL);
  assert_int_equal(nn_chan_queued(p.i.ch), 0);
  pair_pump(&p);
  assert_true(p.r.closed);
  assert_int_equal(p.r.nmsgs, 1);
  pair_free(&p);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hs_mutual),
    cmocka_unit_test(test_hs_anonymous),
    cmocka_unit_test(test_hs_any_peer_learns_id),
    cmocka_unit_test(test_hs_id_required),
    cmocka_unit_test(test_hs_wrong_id),
    cmocka_unit_test(test_hs_cross_network),
    cmocka_unit_test(test_mitm_own_identity),
    cmocka_unit_test(test_mitm_relay_to_real_responder),
    cmocka_unit_test(test_mitm_swaps_ephemeral_keys),
    cmocka_unit_test(test_impersonation),
    cmocka_unit_test(test_hs_msg1_mutations),
    cmocka_unit_test(test_hs_msg2_mutations),
    cmocka_unit_test(test_hs_msg3_mutations),
    cmocka_unit_test(test_hs_cookie_mutations),
    cmocka_unit_test(test_hs_frame_length_limits),
    cmocka_unit_test(test_hs_replay),
    cmocka_unit_test(test_hs_reorder),
    cmocka_unit_test(test_rekey_interval_limits),
    cmocka_unit_test(test_message_8mib),
    cmocka_unit_test(test_message_cap),
    cmocka_unit_test(test_timeout),
    cmocka_unit_test(test_close),
    cmocka_unit_test(test_shaped),
  };
  return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
