/*
 * STUN messages (nat/stun.h) against the test vectors of RFC 5769 (the request, the IPv4 and
 * IPv6 responses, the long-term credential request), the builder against the parser, and every
 * framing rule the parser enforces. What can fail: a type or class decoded wrong, an address
 * unmasked wrong, an integrity or fingerprint computed over the wrong bytes or length, a
 * malformed message accepted, attributes after MESSAGE-INTEGRITY taken into account.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/hex.h"
#include "nat/stun.h"

/* RFC 5769 section 2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
 * MESSAGE-INTEGRITY and FINGERPRINT (padding bytes are spaces there, which changes nothing). */
static const char req_hex[] = "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400"
                              "046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbf"
                              "d8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
/* 2.2: a success response with XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const char resp4_hex[] = "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a1"
                                "47e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
/* 2.3: the same with 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const char resp6_hex[] = "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002a1"
                                "470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed418028"
                                "0004c8fb0b4c";
/* 2.4: a request with long-term credentials (username in katakana, realm example.org, the
 * password "TheMatrIX" after SASLprep). */
static const char lt_hex[] = "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe382b90000"
                             "0015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b6578616d706c652e"
                             "6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666";
static const char pass[] = "VOkJxbRl1RmTxUk/WvJxBt";

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
  size_t n = strlen(h) / 2;
  assert_true(n <= cap);
  assert_int_equal(nn_hex_decode(out, n, h), NN_OK);
  return n;
}

static void
test_rfc5769_request(void **s)
{
  (void)s;
  uint8_t b[256];
  nn_stun_msg_t m;
  uint32_t prio;
  size_t n = unhex(req_hex, b, sizeof(b));
  assert_true(nn_stun_is(b, n));
  assert_int_equal(nn_stun_parse(&m, b, n), NN_OK);
  assert_int_equal(m.method, NN_STUN_BINDING);
  assert_int_equal(m.cls, NN_STUN_REQUEST);
  assert_int_equal(nn_stun_check_integrity(&m, (const uint8_t *)pass, strlen(pass)), NN_OK);
  assert_int_equal(nn_stun_check_fingerprint(&m), NN_OK);
  assert_int_equal(nn_stun_check_integrity(&m, (const uint8_t *)"wrong", 5), NN_ERR_VERIFY);
  const nn_stun_attr_t *u = nn_stun_find(&m, NN_STUN_A_USERNAME);
  assert_non_null(u);
  assert_int_equal(u->len, 9);
  assert_memory_equal(nn_stun_value(&m, u), "evtj:h6vY", 9);
  assert_int_equal(nn_stun_get_u32(&m, NN_STUN_A_PRIORITY, &prio), NN_OK);
  assert_int_equal(prio, 0x6e0001ff);
  /* one flipped bit anywhere is caught by the fingerprint, and before it by the integrity */
  for (size_t i = 0; i < n; i++) {
    b[i] ^= 0x10;
    if (nn_stun_parse(&m, b, n) == NN_OK)
      assert_true(nn_stun_check_fingerprint(&m) != NN_OK ||
                  nn_stun_check_integrity(&m, (const uint8_t *)pass, strlen(pass)) != NN_OK);
    b[i] ^= 0x10;
  }
}

static void
check_response(const char *hex, const char *want)
{
  uint8_t b[256];
  nn_stun_msg_t m;
  nn_addr_t a;
  char str[NN_ADDR_STR_MAX];
  size_t n = unhex(hex, b, sizeof(b));
  assert_int_equal(nn_stun_parse(&m, b, n), NN_OK);
  assert_int_equal(m.method, NN_STUN_BINDING);
  assert_int_equal(m.cls, NN_STUN_SUCCESS);
  assert_int_equal(nn_stun_check_integrity(&m, (const uint8_t *)pass, strlen(pass)), NN_OK);
  assert_int_equal(nn_stun_check_fingerprint(&m), NN_OK);
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_XOR_MAPPED_ADDRESS, &a), NN_OK);
  nn_addr_format(&a, str);
  assert_string_equal(str, want);
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_MAPPED_ADDRESS, &a), NN_ERR_NOTFOUND);
}

static void
test_rfc5769_responses(void **s)
{
  (void)s;
  check_response(resp4_hex, "192.0.2.1:32853");
  check_response(resp6_hex, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

static void
test_rfc5769_long_term(void **s)
{
  (void)s;
  uint8_t b[256], key[16];
  nn_stun_msg_t m;
  size_t n = unhex(lt_hex, b, sizeof(b));
  assert_int_equal(nn_stun_parse(&m, b, n), NN_OK);
  assert_int_equal(nn_stun_longterm_key(key, "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9",
                                        "example.org", "TheMatrIX"),
                   NN_OK);
  assert_int_equal(nn_stun_check_integrity(&m, key, sizeof(key)), NN_OK);
  assert_int_equal(nn_stun_check_fingerprint(&m), NN_ERR_NOTFOUND);
  const nn_stun_attr_t *nonce = nn_stun_find(&m, NN_STUN_A_NONCE);
  assert_non_null(nonce);
  assert_memory_equal(nn_stun_value(&m, nonce), "f//499k954d6OL34oL9FSTvy64sA", 28);
}

/* What the builder writes, the parser reads back; an XOR-MAPPED-ADDRESS is byte for byte the
 * RFC's. */
static void
test_build(void **s)
{
  (void)s;
  uint8_t b[256], ref[256], tid[12];
  nn_stun_builder_t w;
  nn_stun_msg_t m;
  nn_addr_t a, back;
  size_t n;
  unhex(resp4_hex, ref, sizeof(ref));
  memcpy(tid, ref + 8, 12);
  assert_int_equal(nn_addr_parse(&a, "192.0.2.1:32853"), NN_OK);
  nn_stun_build_init(&w, b, sizeof(b), NN_STUN_BINDING, NN_STUN_SUCCESS, tid);
  nn_stun_add_addr(&w, NN_STUN_A_XOR_MAPPED_ADDRESS, &a);
  nn_stun_add_addr(&w, NN_STUN_A_OTHER_ADDRESS, &a);
  nn_stun_add_error(&w, 420, "Unknown Attribute");
  nn_stun_add_integrity(&w, (const uint8_t *)pass, strlen(pass));
  nn_stun_add_integrity_sha256(&w, (const uint8_t *)pass, strlen(pass));
  nn_stun_add_fingerprint(&w);
  assert_int_equal(nn_stun_build_finish(&w, &n), NN_OK);
  assert_memory_equal(b, ref, 4 - 2);        /* type */
  assert_memory_equal(b + 20, ref + 36, 12); /* the RFC's XOR-MAPPED-ADDRESS attribute */
  assert_int_equal(nn_stun_parse(&m, b, n), NN_OK);
  assert_int_equal(m.cls, NN_STUN_SUCCESS);
  assert_int_equal(nn_stun_check_integrity(&m, (const uint8_t *)pass, strlen(pass)), NN_OK);
  assert_int_equal(nn_stun_check_integrity_sha256(&m, (const uint8_t *)pass, strlen(pass)), NN_OK);
  assert_int_equal(nn_stun_check_fingerprint(&m), NN_OK);
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_XOR_MAPPED_ADDRESS, &back), NN_OK);
  assert_true(nn_addr_equal(&a, &back));
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_OTHER_ADDRESS, &back), NN_OK);
  assert_true(nn_addr_equal(&a, &back));
  unsigned code;
  const uint8_t *reason;
  size_t rl;
  assert_int_equal(nn_stun_get_error(&m, &code, &reason, &rl), NN_OK);
  assert_int_equal(code, 420);
  assert_int_equal(rl, 17);
  /* every method and class survives the type's interleaving */
  for (uint16_t meth = 0; meth < 0x1000; meth += 0x155)
    for (uint8_t cls = 0; cls < 4; cls++) {
      nn_stun_build_init(&w, b, sizeof(b), meth, cls, tid);
      assert_int_equal(nn_stun_build_finish(&w, &n), NN_OK);
      assert_int_equal(nn_stun_parse(&m, b, n), NN_OK);
      assert_int_equal(m.method, meth);
      assert_int_equal(m.cls, cls);
    }
  /* too small a buffer is an error, not an overflow */
  nn_stun_build_init(&w, b, 40, NN_STUN_BINDING, NN_STUN_REQUEST, tid);
  nn_stun_add(&w, NN_STUN_A_SOFTWARE, (const uint8_t *)"a software name that is long", 28);
  assert_int_equal(nn_stun_build_finish(&w, &n), NN_ERR_NOSPACE);
}

/* Every framing rule, one bad message each. */
static void
test_malformed(void **s)
{
  (void)s;
  uint8_t b[256], c[256];
  nn_stun_msg_t m;
  size_t n = unhex(resp4_hex, b, sizeof(b));
  memcpy(c, b, n);
  assert_int_equal(nn_stun_parse(&m, c, 19), NN_ERR_TRUNCATED);
  c[0] |= 0x80; /* top bits */
  assert_int_equal(nn_stun_parse(&m, c, n), NN_ERR_FORMAT);
  memcpy(c, b, n);
  c[4] ^= 1; /* magic cookie */
  assert_int_equal(nn_stun_parse(&m, c, n), NN_ERR_FORMAT);
  assert_false(nn_stun_is(c, n));
  memcpy(c, b, n);
  assert_int_equal(nn_stun_parse(&m, c, n - 4), NN_ERR_FORMAT); /* length field != datagram */
  c[3] += 1;                                                    /* length not a multiple of 4 */
  assert_int_equal(nn_stun_parse(&m, c, n + 1), NN_ERR_FORMAT);
  memcpy(c, b, n);
  c[22] = 0x00, c[23] = 0x40; /* SOFTWARE claims 64 bytes */
  assert_int_equal(nn_stun_parse(&m, c, n), NN_ERR_TRUNCATED);
  memcpy(c, b, n);
  c[n - 5] = 5; /* FINGERPRINT of 5 bytes (and then past the end) */
  assert_int_not_equal(nn_stun_parse(&m, c, n), NN_OK);
  /* something after FINGERPRINT */
  memcpy(c, b, n);
  memcpy(c + n, "\x80\x22\x00\x00", 4);
  c[3] += 4;
  assert_int_equal(nn_stun_parse(&m, c, n + 4), NN_ERR_FORMAT);
  /* more attributes than the cap */
  uint8_t tid[12] = { 0 };
  nn_stun_builder_t w;
  size_t len;
  nn_stun_build_init(&w, c, sizeof(c), NN_STUN_BINDING, NN_STUN_REQUEST, tid);
  for (int i = 0; i <= NN_STUN_MAX_ATTRS; i++)
    nn_stun_add(&w, NN_STUN_A_PADDING, NULL, 0);
  assert_int_equal(nn_stun_build_finish(&w, &len), NN_OK);
  assert_int_equal(nn_stun_parse(&m, c, len), NN_ERR_TOO_LONG);
  /* an address of an unknown family, or of the wrong length */
  uint8_t bad[8] = { 0, 3, 0, 1, 1, 2, 3, 4 };
  nn_stun_build_init(&w, c, sizeof(c), NN_STUN_BINDING, NN_STUN_SUCCESS, tid);
  nn_stun_add(&w, NN_STUN_A_XOR_MAPPED_ADDRESS, bad, 8);
  nn_stun_add(&w, NN_STUN_A_MAPPED_ADDRESS, bad, 7);
  nn_stun_add(&w, NN_STUN_A_ERROR_CODE, (const uint8_t *)"\0\0\x07\x01", 4);
  assert_int_equal(nn_stun_build_finish(&w, &len), NN_OK);
  assert_int_equal(nn_stun_parse(&m, c, len), NN_OK);
  nn_addr_t a;
  unsigned code;
  const uint8_t *r;
  size_t rl;
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_XOR_MAPPED_ADDRESS, &a), NN_ERR_FORMAT);
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_MAPPED_ADDRESS, &a), NN_ERR_FORMAT);
  assert_int_equal(nn_stun_get_error(&m, &code, &r, &rl), NN_ERR_FORMAT);
}

/* After MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count (RFC 8489 14.5): an
 * attacker cannot append an unprotected XOR-MAPPED-ADDRESS. */
static void
test_after_integrity_ignored(void **s)
{
  (void)s;
  uint8_t b[256], tid[12] = { 1 };
  nn_stun_builder_t w;
  nn_stun_msg_t m;
  nn_addr_t a, out;
  size_t n;
  assert_int_equal(nn_addr_parse(&a, "198.51.100.7:4000"), NN_OK);
  nn_stun_build_init(&w, b, sizeof(b), NN_STUN_BINDING, NN_STUN_SUCCESS, tid);
  nn_stun_add_integrity(&w, (const uint8_t *)pass, strlen(pass));
  nn_stun_add_addr(&w, NN_STUN_A_XOR_MAPPED_ADDRESS, &a);
  assert_int_equal(nn_stun_build_finish(&w, &n), NN_OK);
  assert_int_equal(nn_stun_parse(&m, b, n), NN_OK);
  assert_int_equal(nn_stun_check_integrity(&m, (const uint8_t *)pass, strlen(pass)), NN_OK);
  assert_int_equal(nn_stun_get_addr(&m, NN_STUN_A_XOR_MAPPED_ADDRESS, &out), NN_ERR_NOTFOUND);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc5769_request),   cmocka_unit_test(test_rfc5769_responses),
    cmocka_unit_test(test_rfc5769_long_term), cmocka_unit_test(test_build),
    cmocka_unit_test(test_malformed),         cmocka_unit_test(test_after_integrity_ignored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
