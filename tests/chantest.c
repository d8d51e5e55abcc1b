/* The adversarial channel fixtures shared by test_channel.c, test_record.c and test_cookie.c. */
#include "chantest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/identity.h"
#include "transport/chan_int.h"

#define FOLLOW_UP 70000 /* more than any legal record length: resolves a pending forged length */

static const uint8_t PEER_ADDR[] = "192.0.2.7:9798";

void
ct_start(pair_t *p, const setup_t *s)
{
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  pair_prepare(p);
  p->now = s->t0;
  if (s->seed_i)
    nn_drbg_init_u64(&p->di, s->seed_i);
  if (s->seed_r)
    nn_drbg_init_u64(&p->dr, s->seed_r);
  ci.network = s->net_i ? s->net_i : NN_NET_REGTEST;
  cr.network = s->net_r ? s->net_r : NN_NET_REGTEST;
  ci.identity = s->anon ? NULL : p->id_i;
  ci.expected_peer = s->any_peer ? NULL : s->expected ? s->expected : nn_identity_node_id(p->id_r);
  ci.rng = &p->rng_i;
  cr.identity = p->id_r;
  cr.rng = &p->rng_r;
  cr.require_peer_identity = s->require_id;
  ci.max_message = s->max_i;
  cr.max_message = s->max_r;
  ci.rekey_interval = cr.rekey_interval = s->rekey;
  if (s->rekey_r)
    cr.rekey_interval = s->rekey_r;
  ci.pad_to = cr.pad_to = s->pad_to;
  ci.shape_interval_ms = cr.shape_interval_ms = s->shape_ms;
  ci.shape_queue_max = cr.shape_queue_max = s->shape_max;
  ci.handshake_timeout_ms = cr.handshake_timeout_ms = s->hs_timeout;
  cr.msg1_timeout_ms = s->msg1_timeout;
  if (s->jar) {
    cr.cookies = s->jar;
    cr.require_cookie = 1;
    cr.peer_addr = s->addr ? s->addr : PEER_ADDR;
    cr.peer_addr_len = s->addr ? s->addr_len : sizeof(PEER_ADDR) - 1;
  }
  pair_init_cfg(p, &ci, &cr);
  assert_non_null(p->i.ch);
  assert_non_null(p->r.ch);
}

void
ct_established(pair_t *p, const setup_t *s)
{
  ct_start(p, s);
  pair_pump(p);
  assert_true(p->i.established);
  assert_true(p->r.established);
  assert_true(nn_chan_is_established(p->i.ch));
  assert_true(nn_chan_is_established(p->r.ch));
}

void
ct_jar_open(jar_t *j, uint64_t now)
{
  nn_drbg_init_u64(&j->d, 4242);
  j->rng = nn_drbg_rng(&j->d);
  assert_int_equal(nn_cookie_jar_new(&j->jar, &j->rng, now), NN_OK);
}

/* The side's close reason, after running its clock to the handshake deadline if it is still
 * waiting (a side that waits for bytes that never come must time out, not hang). */
nn_close_reason_t
ct_settle(side_t *s)
{
  if (!nn_chan_is_closed(s->ch)) {
    uint64_t d = nn_chan_deadline(s->ch);
    if (d == UINT64_MAX)
      fail_msg("side is open (established %d) and has no deadline", s->established);
    nn_chan_tick(s->ch, d - 1);
    assert_false(nn_chan_is_closed(s->ch));
    nn_chan_tick(s->ch, d);
  }
  assert_true(nn_chan_is_closed(s->ch));
  assert_int_equal(s->closed, 1); /* NN_CHAN_EV_CLOSED reported exactly through the callback */
  assert_int_equal(nn_chan_deadline(s->ch), UINT64_MAX);
  return nn_chan_close_reason(s->ch);
}

/* want == NN_CLOSE_NONE: the side must be established and open. Otherwise it must never have
 * been established and must end closed with exactly \a want. */
void
ct_expect_end(side_t *s, nn_close_reason_t want, const char *who, const char *what)
{
  if (want == NN_CLOSE_NONE) {
    if (!s->established || nn_chan_is_closed(s->ch))
      fail_msg("%s: %s should be established and open (established %d, reason %s)", what, who, s->established,
               nn_close_reason_str(nn_chan_close_reason(s->ch)));
    return;
  }
  if (s->established)
    fail_msg("%s: %s must never be established", what, who);
  nn_close_reason_t got = ct_settle(s);
  if (got != want)
    fail_msg("%s: %s closed with %d (%s), want %d (%s)", what, who, got, nn_close_reason_str(got), want,
             nn_close_reason_str(want));
}

/* How the receiver must judge record-layer bytes starting with \a hdr, given its current state. */
nn_close_reason_t
ct_predict_record(nn_chan_t *rcv, const uint8_t hdr[NN_REC_HDR_LEN])
{
  size_t ct;
  nn_err_t err = nn_rec_open_header(&rcv->rx, hdr, &ct);
  if (err == NN_ERR_TOO_LONG)
    return NN_CLOSE_TOO_LARGE;
  return err ? NN_CLOSE_PROTOCOL : NN_CLOSE_AUTH; /* a legal length: the tag cannot verify */
}

void
ct_follow_up(pair_t *p, side_t *from, side_t *to)
{
  uint8_t *big = calloc(1, FOLLOW_UP);
  assert_non_null(big);
  if (nn_chan_is_established(from->ch)) {
    assert_int_equal(nn_chan_send(from->ch, big, FOLLOW_UP), NN_OK);
    assert_int_equal(nn_chan_send(from->ch, (const uint8_t *)"after", 5), NN_OK);
  } else {
    /* the sender is gone (closed): junk stands for whatever else arrives */
    pair_feed(p, to, big, FOLLOW_UP);
  }
  pair_move(p, from, to);
  free(big);
}

uint8_t *
ct_send_take(side_t *from, const void *msg, size_t len, size_t *n)
{
  assert_int_equal(nn_chan_send(from->ch, msg, len), NN_OK);
  return pair_take(from, n);
}

/* Feed \a rec (judged \a want by the receiver); with \a at_header (an illegal length) it must close
 * right after the 3 header bytes, before any body byte arrives; then the sender's next messages must not be delivered, and the sender hears CLOSE. */
void
ct_record_refused(pair_t *p, side_t *from, side_t *to, const uint8_t *rec, size_t n, nn_close_reason_t want,
                  int at_header, size_t delivered, const char *what)
{
  if (at_header) {
    pair_feed(p, to, rec, NN_REC_HDR_LEN - 1);
    assert_false(nn_chan_is_closed(to->ch));
    pair_feed(p, to, rec + NN_REC_HDR_LEN - 1, 1);
    if (!nn_chan_is_closed(to->ch))
      fail_msg("%s: illegal record length not refused after the header", what);
    assert_null(to->ch->in);
    rec += NN_REC_HDR_LEN;
    n -= NN_REC_HDR_LEN;
  }
  pair_feed(p, to, rec, n);
  if (!nn_chan_is_closed(to->ch))
    ct_follow_up(p, from, to);
  if (!nn_chan_is_closed(to->ch))
    fail_msg("%s: receiver still open", what);
  if (nn_chan_close_reason(to->ch) != want)
    fail_msg("%s: closed with %s, want %s", what, nn_close_reason_str(nn_chan_close_reason(to->ch)),
             nn_close_reason_str(want));
  assert_int_equal(to->closed, 1);
  /* anything more from the sender is dropped */
  if (nn_chan_is_established(from->ch))
    assert_int_equal(nn_chan_send(from->ch, (const uint8_t *)"more", 4), NN_OK);
  pair_move(p, from, to);
  if (to->nmsgs != delivered)
    fail_msg("%s: %zu messages delivered, want %zu", what, to->nmsgs, delivered);
  /* the receiver told the sender why, in a CLOSE record */
  pair_move(p, to, from);
  assert_true(nn_chan_is_closed(from->ch));
  assert_int_equal(nn_chan_close_reason(from->ch), NN_CLOSE_PEER);
}

void
ct_fill_pattern(uint8_t *b, size_t n, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  for (size_t k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[k] = (uint8_t)x;
  }
}
