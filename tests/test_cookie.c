/*
 * The DoS cookies (src/transport/cookie.c, docs/PROTOCOL.md 5.5). First the jar's own API: a
 * cookie is what the document's formula gives, is valid for its address, network and keys only,
 * and stays valid across one rotation of the secret but not two. Then in the handshake: the
 * cookie reply and the retry, wrong and foreign cookies, rotation between reply and retry.
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
#include "crypto/sha3.h"
#include "lib/wire.h"
#include "transport/chan_int.h"
#include "transport/cookie.h"

/* ------------------------------------------------------------------------------------------ */
/* The cookie jar on its own (nn_cookie_*)                                                    */
/* ------------------------------------------------------------------------------------------ */

static const uint8_t ADDR[] = "192.0.2.7:9798";
#define ADDR_LEN (sizeof(ADDR) - 1)
#define KEYS_LEN (32 + 1568) /* msg1's e_x || e_m */

static uint8_t *
some_keys(uint32_t seed)
{
  uint8_t *k = malloc(KEYS_LEN);
  assert_non_null(k);
  ct_fill_pattern(k, KEYS_LEN, seed);
  return k;
}

/* The cookie by the formula of PROTOCOL.md 5.5, from the jar's secret \a which. */
static void
formula(const nn_cookie_jar_t *j, int which, uint32_t network, const uint8_t *addr, size_t addrlen, const uint8_t *keys,
        uint8_t out[NN_COOKIE_LEN])
{
  size_t n = 32 + 4 + addrlen + KEYS_LEN;
  uint8_t *in = malloc(n);
  nn_hash_t h;
  assert_non_null(in);
  memcpy(in, j->secret[which], 32);
  nn_be32_put(in + 32, network);
  memcpy(in + 36, addr, addrlen);
  memcpy(in + 36 + addrlen, keys, KEYS_LEN);
  assert_int_equal(nn_sha3_256(&h, in, n), NN_OK);
  memcpy(out, h.b, NN_COOKIE_LEN);
  free(in);
}

static nn_err_t
check(const nn_cookie_jar_t *j, uint32_t network, const uint8_t *addr, size_t addrlen, const uint8_t *keys,
      const uint8_t *cookie)
{
  return nn_cookie_check(j, network, addr, addrlen, keys, KEYS_LEN, cookie);
}

/* A cookie opens the door for the address, network and keys it was made for, and nothing else. */
static void
test_cookie_bound(void **state)
{
  (void)state;
  static const uint8_t other[] = "192.0.2.8:9798";
  jar_t j, j2;
  uint8_t c[NN_COOKIE_LEN], want[NN_COOKIE_LEN], bad[NN_COOKIE_LEN];
  uint8_t *keys = some_keys(1);
  ct_jar_open(&j, 0);
  assert_int_equal(nn_cookie_make(j.jar, 0, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, KEYS_LEN, c), NN_OK);
  formula(j.jar, 0, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, want);
  assert_memory_equal(c, want, NN_COOKIE_LEN);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c), NN_OK);

  /* another address (or a prefix of it), another network */
  assert_int_equal(check(j.jar, NN_NET_REGTEST, other, sizeof(other) - 1, keys, c), NN_ERR_VERIFY);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN - 1, keys, c), NN_ERR_VERIFY);
  assert_int_equal(check(j.jar, NN_NET_MAINNET, ADDR, ADDR_LEN, keys, c), NN_ERR_VERIFY);
  assert_int_equal(check(j.jar, NN_NET_TESTNET, ADDR, ADDR_LEN, keys, c), NN_ERR_VERIFY);
  /* other ephemeral keys: the first, a middle and the last byte */
  const size_t at[] = { 0, 31, 32, KEYS_LEN / 2, KEYS_LEN - 1 };
  for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
    keys[at[k]] ^= 0x01;
    assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c), NN_ERR_VERIFY);
    keys[at[k]] ^= 0x01;
  }
  /* any flipped bit of the cookie */
  for (size_t bit = 0; bit < 8 * NN_COOKIE_LEN; bit++) {
    memcpy(bad, c, NN_COOKIE_LEN);
    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, bad), NN_ERR_VERIFY);
  }
  /* a cookie from another responder's jar (same inputs, another secret) */
  nn_drbg_init_u64(&j2.d, 4343);
  j2.rng = nn_drbg_rng(&j2.d);
  assert_int_equal(nn_cookie_jar_new(&j2.jar, &j2.rng, 0), NN_OK);
  assert_int_equal(nn_cookie_make(j2.jar, 0, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, KEYS_LEN, bad), NN_OK);
  assert_memory_not_equal(bad, c, NN_COOKIE_LEN);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, bad), NN_ERR_VERIFY);
  assert_int_equal(check(j2.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, bad), NN_OK);
  free(keys);
  nn_cookie_jar_free(j.jar);
  nn_cookie_jar_free(j2.jar);
}

/* The secret rotates every NN_COOKIE_ROTATE_MS, counted from the last rotation; a cookie stays
 * valid under the previous secret and expires with the rotation after. */
static void
test_cookie_jar_rotation(void **state)
{
  (void)state;
  const uint64_t t0 = 5000, R = NN_COOKIE_ROTATE_MS;
  jar_t j;
  uint8_t c0[NN_COOKIE_LEN], c1[NN_COOKIE_LEN], x[NN_COOKIE_LEN], s0[32];
  uint8_t *keys = some_keys(2);
  ct_jar_open(&j, t0);
  assert_memory_not_equal(j.jar->secret[0], j.jar->secret[1], 32);
  memcpy(s0, j.jar->secret[0], 32);
  assert_int_equal(nn_cookie_make(j.jar, 0, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, KEYS_LEN, c0), NN_OK);

  assert_int_equal(nn_cookie_jar_tick(j.jar, t0 + R - 1), NN_OK); /* not yet */
  assert_memory_equal(j.jar->secret[0], s0, 32);
  assert_int_equal(nn_cookie_jar_tick(j.jar, t0 + R), NN_OK); /* first rotation */
  assert_memory_equal(j.jar->secret[1], s0, 32);
  assert_memory_not_equal(j.jar->secret[0], s0, 32);
  assert_int_equal(nn_cookie_make(j.jar, 1, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, KEYS_LEN, x), NN_OK);
  assert_memory_equal(x, c0, NN_COOKIE_LEN); /* the previous secret is the one c0 came from */
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c0), NN_OK);
  assert_int_equal(nn_cookie_make(j.jar, 0, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, KEYS_LEN, c1), NN_OK);
  assert_memory_not_equal(c1, c0, NN_COOKIE_LEN);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c1), NN_OK);

  /* the next rotation is due a full period after the first, not at t0 + 2R - 1 */
  assert_int_equal(nn_cookie_jar_tick(j.jar, t0 + 2 * R - 1), NN_OK);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c0), NN_OK);
  assert_int_equal(nn_cookie_jar_tick(j.jar, t0 + 2 * R), NN_OK);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c0), NN_ERR_VERIFY); /* expired */
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c1), NN_OK);
  assert_int_equal(nn_cookie_jar_tick(j.jar, t0 + 3 * R), NN_OK);
  assert_int_equal(check(j.jar, NN_NET_REGTEST, ADDR, ADDR_LEN, keys, c1), NN_ERR_VERIFY);
  free(keys);
  nn_cookie_jar_free(j.jar);
}

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
    cmocka_unit_test(test_cookie_bound), cmocka_unit_test(test_cookie_jar_rotation), cmocka_unit_test(test_cookie_flow),
    cmocka_unit_test(test_cookie_wrong), cmocka_unit_test(test_cookie_rotation),
  };
  return cmocka_run_group_tests_name("cookie", tests, NULL, NULL);
}
