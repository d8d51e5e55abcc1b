/*
 * The DoS cookies (src/transport/cookie.c, docs/PROTOCOL.md 5.5) in the handshake: the cookie
 * reply and the retry, wrong and foreign cookies, rotation between reply and retry.
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
#include "transport/chan_int.h"
#include "transport/cookie.h"

/* ------------------------------------------------------------------------------------------ */
/* Cookies in the handshake                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Up to the cookie reply: returns it (COOKIE_LEN bytes), msg1 went to the responder. */
static uint8_t *
cookie_reply(pair_t *p, const setup_t *s)
{
  size_t n;
  ct_start(p, s);
  uint8_t *m1 = pair_take(&p->i, &n);
  assert_int_equal(n, MSG1_LEN);
  pair_feed(p, &p->r, m1, n);
  free(m1);
  uint8_t *c = pair_take(&p->r, &n);
  assert_int_equal(n, COOKIE_LEN);
  assert_int_equal(c[0], 0);
  assert_int_equal(c[1], 17);
  assert_int_equal(c[2], NN_HS_COOKIE);
  assert_false(nn_chan_is_closed(p->r.ch));
  assert_int_equal(p->r.ch->st, NN_ST_R_WAIT_MSG1); /* no KEM, no signature yet */
  return c;
}

static void
test_cookie_flow(void **state)
{
  (void)state;
  jar_t j;
  pair_t p;
  size_t n;
  setup_t s = STD;
  ct_jar_open(&j, 0);
  s.jar = j.jar;
  uint8_t *c = cookie_reply(&p, &s);
  pair_feed(&p, &p.i, c, COOKIE_LEN);
  uint8_t *retry = pair_take(&p.i, &n);
  assert_int_equal(n, MSG1_LEN);
  assert_memory_equal(retry + MSG1_LEN - 2 - 16, c + 3, 16); /* it carries the cookie */
  pair_feed(&p, &p.r, retry, n);
  pair_pump(&p);
  assert_true(p.i.established);
  assert_true(p.r.established);
  assert_int_equal(nn_chan_info(p.i.ch)->handshake_bytes_received, COOKIE_LEN + MSG2_LEN);
  assert_int_equal(nn_chan_info(p.i.ch)->handshake_bytes_sent, 2 * MSG1_LEN + MSG3_LEN);
  pair_free(&p);

  /* the same retry to a listener that sees another address gets a new cookie, not msg2 */
  static const uint8_t other[] = "198.51.100.1:9798";
  pair_t q;
  s.addr = other;
  s.addr_len = sizeof(other) - 1;
  uint8_t *c2 = cookie_reply(&q, &s);
  assert_memory_not_equal(c2 + 3, c + 3, 16);
  pair_feed(&q, &q.r, retry, MSG1_LEN);
  ct_expect_end(&q.r, NN_CLOSE_COOKIE, "responder", "cookie for another address");
  free(c2);
  pair_free(&q);

  /* a responder that never sent a cookie answers a foreign cookie with a fresh one */
  ct_start(&q, &s);
  free(pair_take(&q.i, &n));
  pair_feed(&q, &q.r, retry, MSG1_LEN);
  c2 = pair_take(&q.r, &n);
  assert_int_equal(n, COOKIE_LEN);
  assert_false(nn_chan_is_closed(q.r.ch));
  free(c2);
  pair_free(&q);

  free(retry);
  free(c);
  nn_cookie_jar_free(j.jar);
}

static void
test_cookie_wrong(void **state)
{
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    jar_t j;
    pair_t p;
    size_t n;
    setup_t s = STD;
    ct_jar_open(&j, 0);
    s.jar = j.jar;
    ct_start(&p, &s);
    uint8_t *m1 = pair_take(&p.i, &n);
    pair_feed(&p, &p.r, m1, n);
    uint8_t *c = pair_take(&p.r, &n);
    assert_int_equal(n, COOKIE_LEN);
    if (mode == 0) {
      c[3 + 5] ^= 0x40; /* the initiator retries with a wrong cookie */
      pair_feed(&p, &p.i, c, COOKIE_LEN);
      pair_pump(&p);
    } else {
      /* the first msg1 again, without a cookie, after the cookie reply */
      pair_feed(&p, &p.r, m1, MSG1_LEN);
    }
    ct_expect_end(&p.r, NN_CLOSE_COOKIE, "responder", mode ? "second msg1 without cookie" : "wrong cookie");
    assert_false(p.i.established);
    free(m1);
    free(c);
    pair_free(&p);
    nn_cookie_jar_free(j.jar);
  }
}

static void
test_cookie_rotation(void **state)
{
  (void)state;
  /* rotations between the cookie reply and the retry: 0 and 1 accepted, 2 refused */
  for (int rot = 0; rot < 3; rot++) {
    jar_t j;
    pair_t p;
    setup_t s = STD;
    ct_jar_open(&j, 0);
    s.jar = j.jar;
    uint8_t *c = cookie_reply(&p, &s);
    uint8_t before[32];
    memcpy(before, j.jar->secret[0], 32);
    assert_int_equal(nn_cookie_jar_tick(j.jar, NN_COOKIE_ROTATE_MS - 1), NN_OK);
    assert_memory_equal(j.jar->secret[0], before, 32); /* not yet */
    for (int k = 1; k <= rot; k++)
      assert_int_equal(nn_cookie_jar_tick(j.jar, (uint64_t)k * NN_COOKIE_ROTATE_MS), NN_OK);
    if (rot)
      assert_memory_not_equal(j.jar->secret[0], before, 32);
    pair_feed(&p, &p.i, c, COOKIE_LEN);
    pair_pump(&p);
    if (rot < 2) {
      assert_true(p.i.established);
      assert_true(p.r.established);
    } else {
      ct_expect_end(&p.r, NN_CLOSE_COOKIE, "responder", "cookie two rotations old");
      ct_expect_end(&p.i, NN_CLOSE_TIMEOUT, "initiator", "cookie two rotations old");
    }
    free(c);
    pair_free(&p);
    nn_cookie_jar_free(j.jar);
  }
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cookie_flow),
    cmocka_unit_test(test_cookie_wrong),
    cmocka_unit_test(test_cookie_rotation),
  };
  return cmocka_run_group_tests_name("cookie", tests, NULL, NULL);
}
