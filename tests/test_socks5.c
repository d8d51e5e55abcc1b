/*
 * The SOCKS5 client core (src/overlay/socks5.c) against scripted proxies: the exchange byte by
 * byte (with and without isolation credentials, onion names, IPv4, IPv6), answers split at
 * every byte, the peer's first bytes after the reply, and every malformed or refusing answer,
 * Tor's extended codes included, each with its message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/addr.h"
#include "overlay/socks5.h"

#define ONION "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"

static void
expect_out(nn_socks5_t *s, const uint8_t *want, size_t len)
{
  size_t n;
  const uint8_t *o = nn_socks5_output(s, &n);
  assert_int_equal(n, len);
  assert_memory_equal(o, want, len);
  nn_socks5_consume(s, n);
  o = nn_socks5_output(s, &n);
  assert_int_equal(n, 0);
}

static nn_socks5_status_t
feed(nn_socks5_t *s, const uint8_t *d, size_t n, size_t *used)
{
  return nn_socks5_input(s, d, n, used);
}

/* An onion with credentials: greeting (method 2), RFC 1929, CONNECT by name; the reply comes
 * with the peer's first bytes behind it. */
static void
test_onion_with_credentials(void **state)
{
  (void)state;
  nn_socks5_t s;
  nn_addr_t to;
  size_t used;
  assert_int_equal(nn_addr_parse(&to, ONION ":9800"), NN_OK);
  assert_int_equal(nn_socks5_start(&s, &to, "u1", "p22"), NN_OK);
  const uint8_t greet[] = { 5, 1, 2 };
  expect_out(&s, greet, sizeof(greet));
  const uint8_t method[] = { 5, 2 };
  assert_int_equal(feed(&s, method, 2, &used), NN_SOCKS5_MORE);
  assert_int_equal(used, 2);
  const uint8_t auth[] = { 1, 2, 'u', '1', 3, 'p', '2', '2' };
  expect_out(&s, auth, sizeof(auth));
  const uint8_t ok[] = { 1, 0 };
  assert_int_equal(feed(&s, ok, 2, &used), NN_SOCKS5_MORE);
  uint8_t conn[4 + 1 + 62 + 2] = { 5, 1, 0, 3, 62 };
  memcpy(conn + 5, ONION, 62);
  conn[67] = 9800 >> 8;
  conn[68] = 9800 & 0xff;
  expect_out(&s, conn, sizeof(conn));
  /* Tor answers with 0.0.0.0:0, then the stream's bytes follow at once */
  const uint8_t reply[] = { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x06, 0x54, 0x01 };
  assert_int_equal(feed(&s, reply, sizeof(reply), &used), NN_SOCKS5_OPEN);
  assert_int_equal(used, 10);
  assert_int_equal(s.bound.type, NN_ADDR_IPV4);
  /* after OPEN, nothing more is taken */
  assert_int_equal(feed(&s, reply + 10, 3, &used), NN_SOCKS5_OPEN);
  assert_int_equal(used, 0);
  nn_socks5_clear(&s);
}

/* Without credentials (method 0); IPv6 and IPv4 targets; every answer one byte at a time. */
static void
test_bytewise_ipv6(void **state)
{
  (void)state;
  nn_socks5_t s;
  nn_addr_t to;
  size_t used;
  assert_int_equal(nn_addr_parse(&to, "[2001:db8::7]:443"), NN_OK);
  assert_int_equal(nn_socks5_start(&s, &to, NULL, NULL), NN_OK);
  const uint8_t greet[] = { 5, 1, 0 };
  expect_out(&s, greet, sizeof(greet));
  const uint8_t answers[] = { 5, 0, /* reply, bound [2001:db8::1]:1234 by name-less IPv6 */
                              5, 0, 0, 4, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x04, 0xd2 };
  nn_socks5_status_t st = NN_SOCKS5_MORE;
  for (size_t i = 0; i < sizeof(answers); i++) {
    st = feed(&s, answers + i, 1, &used);
    assert_int_equal(used, 1);
    if (i == 1) {
      uint8_t conn[4 + 16 + 2] = { 5, 1, 0, 4, 0x20, 1, 0xd, 0xb8 };
      conn[19] = 7;
      conn[20] = 443 >> 8;
      conn[21] = 443 & 0xff;
      expect_out(&s, conn, sizeof(conn));
    }
    if (i + 1 < sizeof(answers))
      assert_int_equal(st, NN_SOCKS5_MORE);
  }
  assert_int_equal(st, NN_SOCKS5_OPEN);
  assert_int_equal(s.bound.type, NN_ADDR_IPV6);
  assert_int_equal(s.bound.port, 1234);
  /* a reply naming a host (ATYP 3) is taken whole too */
  assert_int_equal(nn_addr_parse(&to, "198.51.100.2:9800"), NN_OK);
  assert_int_equal(nn_socks5_start(&s, &to, NULL, NULL), NN_OK);
  const uint8_t all[] = { 5, 0, 5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 80, 'X' };
  size_t n;
  (void)nn_socks5_output(&s, &n);
  nn_socks5_consume(&s, n);
  assert_int_equal(feed(&s, all, 2, &used), NN_SOCKS5_MORE);
  (void)nn_socks5_output(&s, &n);
  assert_int_equal(n, 10);
  nn_socks5_consume(&s, n);
  assert_int_equal(feed(&s, all + 2, sizeof(all) - 2, &used), NN_SOCKS5_OPEN);
  assert_int_equal(used, sizeof(all) - 3);
  assert_int_equal(s.bound.type, 0);
  /* a proxy that answers before our request left: the greeting unsent, or the CONNECT */
  assert_int_equal(nn_socks5_start(&s, &to, NULL, NULL), NN_OK);
  assert_int_equal(feed(&s, all, 2, &used), NN_SOCKS5_FAILED);
  assert_non_null(strstr(nn_socks5_why(&s), "ahead of our request"));
  assert_int_equal(nn_socks5_start(&s, &to, NULL, NULL), NN_OK);
  (void)nn_socks5_output(&s, &n);
  nn_socks5_consume(&s, n);
  assert_int_equal(feed(&s, all, sizeof(all), &used), NN_SOCKS5_FAILED);
  assert_non_null(strstr(nn_socks5_why(&s), "ahead of our request"));
}

typedef struct bad_t {
  const char *name;
  uint8_t in[16];
  size_t len;
  int creds;
  const char *why; /* a piece of the message */
} bad_t;

/* Every refusal and malformed answer fails with a message that says what happened. */
static void
test_refusals(void **state)
{
  (void)state;
  static const bad_t bad[] = {
    { "not SOCKS5 (an HTTP proxy)", { 'H', 'T', 'T', 'P' }, 4, 0, "not SOCKS5" },
    { "SOCKS4 answer", { 0, 0x5a }, 2, 0, "not SOCKS5" },
    { "no acceptable method", { 5, 0xff }, 2, 1, "none of our authentication methods" },
    { "a method not offered", { 5, 0 }, 2, 1, "did not offer" },
    { "a method not offered (no creds)", { 5, 2 }, 2, 0, "did not offer" },
    { "credentials refused", { 5, 2, 1, 1 }, 4, 1, "refused our stream credentials" },
    { "auth answer version", { 5, 2, 5, 0 }, 4, 1, "version 5" },
    { "reply version", { 5, 0, 4, 0, 0, 1, 0 }, 7, 0, "malformed SOCKS5 reply" },
    { "reserved byte", { 5, 0, 5, 0, 1, 1, 0 }, 7, 0, "reserved byte 1" },
    { "address type 2", { 5, 0, 5, 0, 0, 2, 0 }, 7, 0, "address type 2" },
    { "connection refused", { 5, 0, 5, 5, 0, 1, 0 }, 7, 0, "connection refused" },
    { "host unreachable", { 5, 0, 5, 4, 0, 1, 0 }, 7, 0, "host unreachable" },
    { "Tor: descriptor not found", { 5, 0, 5, 0xf0, 0, 1, 0 }, 7, 0, "descriptor not found" },
    { "Tor: intro timed out", { 5, 0, 5, 0xf7, 0, 1, 0 }, 7, 0, "introduction timed out" },
    { "Tor: bad address", { 5, 0, 5, 0xf6, 0, 1, 0 }, 7, 0, "invalid onion address" },
    { "unknown code", { 5, 0, 5, 0x42, 0, 1, 0 }, 7, 0, "0x42" },
  };
  nn_addr_t to;
  assert_int_equal(nn_addr_parse(&to, ONION ":9800"), NN_OK);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nn_socks5_t s;
    size_t used, n;
    assert_int_equal(nn_socks5_start(&s, &to, bad[i].creds ? "a" : NULL, bad[i].creds ? "b" : NULL), NN_OK);
    nn_socks5_status_t st = NN_SOCKS5_MORE;
    for (size_t k = 0; k < bad[i].len && st == NN_SOCKS5_MORE; k += used) {
      (void)nn_socks5_output(&s, &n); /* a proxy answers what it got: our bytes first */
      nn_socks5_consume(&s, n);
      st = nn_socks5_input(&s, bad[i].in + k, 1, &used);
    }
    if (st != NN_SOCKS5_FAILED || !strstr(nn_socks5_why(&s), bad[i].why))
      fail_msg("%s: status %d, why '%s' (want '%s')", bad[i].name, st, nn_socks5_why(&s), bad[i].why);
    /* nothing more is sent, and later bytes are ignored */
    (void)nn_socks5_output(&s, &n);
    assert_int_equal(n, 0);
    assert_int_equal(nn_socks5_input(&s, bad[i].in, bad[i].len, &used), NN_SOCKS5_FAILED);
  }
}

/* What cannot be started: I2P and relay addresses, half credentials, oversized ones. */
static void
test_start_refuses(void **state)
{
  (void)state;
  nn_socks5_t s;
  nn_addr_t to, i2p;
  char big[300];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(nn_addr_parse(&to, "198.51.100.2:9800"), NN_OK);
  assert_int_equal(nn_addr_parse(&i2p, "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0"), NN_OK);
  assert_int_equal(nn_socks5_start(&s, &i2p, NULL, NULL), NN_ERR_ARG);
  assert_int_equal(nn_socks5_start(&s, NULL, NULL, NULL), NN_ERR_ARG);
  assert_int_equal(nn_socks5_start(&s, &to, "u", NULL), NN_ERR_ARG);
  assert_int_equal(nn_socks5_start(&s, &to, "", "p"), NN_ERR_ARG);
  assert_int_equal(nn_socks5_start(&s, &to, big, "p"), NN_ERR_ARG);
  big[255] = 0;
  assert_int_equal(nn_socks5_start(&s, &to, big, big), NN_OK);
  size_t n;
  (void)nn_socks5_output(&s, &n);
  assert_int_equal(n, 3);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_onion_with_credentials),
    cmocka_unit_test(test_bytewise_ipv6),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_start_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
