/*
 * Network addresses (src/lib/addr.h): the text forms of every address type, including real Tor
 * v3 onion names (checksum) and I2P .b32 names, strictness of the parser, socket addresses,
 * network groups and the wire form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "lib/addr.h"

static void
round_trip(const char *text, uint8_t type)
{
  nn_addr_t a;
  char out[NN_ADDR_STR_MAX];
  assert_int_equal(nn_addr_parse(&a, text), NN_OK);
  assert_int_equal(a.type, type);
  nn_addr_format(&a, out);
  assert_string_equal(out, text);
}

static void
test_text_forms(void **state)
{
  (void)state;
  round_trip("1.2.3.4:9800", NN_ADDR_IPV4);
  round_trip("[2001:db8::1]:0", NN_ADDR_IPV6);
  round_trip("[::ffff:1.2.3.4]:65535", NN_ADDR_IPV6);
  /* real v3 onion services (The Tor Project, DuckDuckGo): the checksum must verify */
  round_trip("2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:80", NN_ADDR_ONION);
  round_trip("duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion:443", NN_ADDR_ONION);
  round_trip("ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:9800", NN_ADDR_I2P);
  /* through a relay: its node id, port 0; the longest text form there is */
  round_trip("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.relay:0", NN_ADDR_RELAY);

  nn_addr_t a;
  assert_int_equal(nn_addr_parse(&a, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.relay:0"),
                   NN_OK);
  assert_int_equal(a.host[0], 0x01);
  assert_int_equal(a.port, 0);
  assert_true(nn_addr_is_public(&a));
  assert_int_equal(nn_addr_to_sockaddr(&a, &(struct sockaddr_storage){ 0 }, &(socklen_t){ 0 }), 0);
  assert_int_equal(nn_addr_parse(&a, "*:9800"), NN_OK);
  assert_true(nn_addr_is_any(&a));
  assert_int_equal(a.port, 9800);
  /* upper case names are the same address */
  assert_int_equal(nn_addr_parse(&a, "DUCKDUCKGOGG42XJOC72X3SJASOWOARFBGCMVFIMAFTT6TWAGSWZCZAD.onion:1"), NN_OK);
  assert_int_equal(a.type, NN_ADDR_ONION);
}

static void
test_parser_refuses(void **state)
{
  (void)state;
  static const char *bad[] = {
    "",
    "1.2.3.4",
    "1.2.3.4:",
    "1.2.3.4:65536",
    "1.2.3.4:-1",
    "1.2.3.4: 1",
    "1.2.3.4:+1",
    "1.2.3.4:123456",
    "::1:80",
    "[::1]80",
    "[::1",
    "1.2.3:80",
    "256.1.1.1:80",
    "host.example:80",
    ":80",
    /* a one-character change breaks the onion checksum; a wrong version or length */
    "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wie.onion:80",
    "3gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:80",
    "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wi.onion:80",
    "aaaa.onion:80",
    /* I2P: 52 characters, the last one's unused bits zero */
    "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdr.b32.i2p:9800",
    "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkd.b32.i2p:9800",
    "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnk1q.b32.i2p:9800",
    /* a relay: 64 hex digits */
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.relay:0",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg.relay:0",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.relay",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nn_addr_t a;
    memset(&a, 0xaa, sizeof(a));
    if (nn_addr_parse(&a, bad[i]) != NN_ERR_FORMAT)
      fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(a.type, 0); /* nothing half-parsed is left behind */
  }
  assert_int_equal(nn_addr_parse(&(nn_addr_t){ 0 }, NULL), NN_ERR_FORMAT);
}

static void
test_sockaddr(void **state)
{
  (void)state;
  nn_addr_t a, b;
  struct sockaddr_storage ss;
  socklen_t sl;
  assert_int_equal(nn_addr_parse(&a, "[2001:db8::5]:4242"), NN_OK);
  assert_true(nn_addr_to_sockaddr(&a, &ss, &sl));
  assert_int_equal(sl, sizeof(struct sockaddr_in6));
  assert_true(nn_addr_from_sockaddr((struct sockaddr *)&ss, &b));
  assert_true(nn_addr_equal(&a, &b));
  /* a dual-stack socket's IPv4 peer is that IPv4 host (one ban key, one group) */
  struct sockaddr_in6 m;
  memset(&m, 0, sizeof(m));
  m.sin6_family = AF_INET6;
  m.sin6_port = htons(7);
  inet_pton(AF_INET6, "::ffff:198.51.100.9", &m.sin6_addr);
  assert_true(nn_addr_from_sockaddr((struct sockaddr *)&m, &b));
  assert_int_equal(nn_addr_parse(&a, "198.51.100.9:7"), NN_OK);
  assert_true(nn_addr_equal(&a, &b));
  /* overlays have no socket address */
  assert_int_equal(nn_addr_parse(&a, "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:1"), NN_OK);
  assert_false(nn_addr_to_sockaddr(&a, &ss, &sl));
}

static void
test_wire_and_groups(void **state)
{
  (void)state;
  nn_addr_t a, b;
  uint8_t buf[NN_ADDR_WIRE_MAX], g1[1 + NN_ADDR_HOST_MAX], g2[1 + NN_ADDR_HOST_MAX];
  nn_wire_writer_t w;
  nn_wire_reader_t r;
  assert_int_equal(nn_addr_parse(&a, "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:9800"), NN_OK);
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_addr_put(&w, &a), NN_OK);
  assert_int_equal(w.len, 35);
  nn_wire_reader_init(&r, buf, w.len);
  assert_int_equal(nn_addr_get(&r, &b), NN_OK);
  assert_true(nn_addr_equal(&a, &b));
  buf[0] = 0x0f; /* unknown type */
  nn_wire_reader_init(&r, buf, w.len);
  assert_int_equal(nn_addr_get(&r, &b), NN_ERR_FORMAT);
  /* /16 groups; an IPv4-mapped IPv6 address groups as IPv4 */
  assert_int_equal(nn_addr_parse(&a, "203.0.113.7:1"), NN_OK);
  assert_int_equal(nn_addr_parse(&b, "[::ffff:203.0.200.1]:2"), NN_OK);
  size_t l1 = nn_addr_group(&a, 16, 32, g1), l2 = nn_addr_group(&b, 16, 32, g2);
  assert_int_equal(l1, l2);
  assert_memory_equal(g1, g2, l1);
  assert_true(nn_addr_is_public(&a));
  assert_int_equal(nn_addr_parse(&a, "100.64.0.1:1"), NN_OK); /* carrier-grade NAT */
  assert_false(nn_addr_is_public(&a));
}

/* onlynet-style settings: which networks an address is on, and the list that names them */
static void
test_nets(void **state)
{
  nn_addr_t a;
  unsigned m = 0;
  (void)state;
  assert_int_equal(nn_addr_parse(&a, "1.2.3.4:9800"), NN_OK);
  assert_int_equal(nn_addr_net(&a), NN_ADDR_NET_CLEARNET);
  assert_int_equal(nn_addr_parse(&a, "[2001:db8::1]:9800"), NN_OK);
  assert_int_equal(nn_addr_net(&a), NN_ADDR_NET_CLEARNET);
  uint8_t k[32] = { 1 };
  a = nn_addr_overlay(NN_ADDR_ONION, k, 9800);
  assert_int_equal(nn_addr_net(&a), NN_ADDR_NET_TOR);
  a = nn_addr_overlay(NN_ADDR_I2P, k, 0);
  assert_int_equal(nn_addr_net(&a), NN_ADDR_NET_I2P);
  a = nn_addr_overlay(NN_ADDR_RELAY, k, 0);
  assert_int_equal(nn_addr_net(&a), NN_ADDR_NET_CLEARNET); /* a relay is reached over TCP */
  memset(&a, 0, sizeof(a));
  assert_int_equal(nn_addr_net(&a), 0);
  assert_int_equal(nn_addr_parse_nets("tor", &m), NN_OK);
  assert_int_equal(m, NN_ADDR_NET_TOR);
  assert_int_equal(nn_addr_parse_nets("clearnet,tor", &m), NN_OK);
  assert_int_equal(m, NN_ADDR_NET_CLEARNET | NN_ADDR_NET_TOR);
  assert_int_equal(nn_addr_parse_nets("i2p,tor,clearnet,tor", &m), NN_OK);
  assert_int_equal(m, NN_ADDR_NET_ALL);
  static const char *const bad[] = { "", ",", "tor,", ",tor", "onion", "tor ,i2p", "TOR", "clearnet,,tor", "ipv4" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    m = 99;
    assert_int_equal(nn_addr_parse_nets(bad[i], &m), NN_ERR_FORMAT);
    assert_int_equal(m, 99);
  }
  assert_int_equal(nn_addr_parse_nets(NULL, &m), NN_ERR_FORMAT);
  /* the origin Tor hides: an onion address of zero bytes with port 0, and nothing else */
  uint8_t zero[32] = { 0 };
  a = nn_addr_overlay(NN_ADDR_ONION, zero, 0);
  assert_true(nn_addr_is_hidden_origin(&a));
  a = nn_addr_overlay(NN_ADDR_ONION, zero, 9800);
  assert_false(nn_addr_is_hidden_origin(&a));
  a = nn_addr_overlay(NN_ADDR_ONION, k, 0);
  assert_false(nn_addr_is_hidden_origin(&a));
  a = nn_addr_overlay(NN_ADDR_I2P, zero, 0);
  assert_false(nn_addr_is_hidden_origin(&a));
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_text_forms),      cmocka_unit_test(test_parser_refuses), cmocka_unit_test(test_sockaddr),
    cmocka_unit_test(test_wire_and_groups), cmocka_unit_test(test_nets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
