/*
 * The transaction-gossip codec (src/dandelion/msg.c, nn_dlmsg_*): the vectors of
 * docs/PROTOCOL.md section 8.3, which the document must quote, and bad input for every message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/sha3.h"
#include "dandelion/msg.h"
#include "lib/hex.h"

static char *
read_doc(void)
{
  FILE *f = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "r");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = 0;
  fclose(f);
  return s;
}

static void
expect_quoted(const char *doc, const char *name, const uint8_t *b, size_t n)
{
  char *hex = malloc(2 * n + 1), line[64];
  assert_non_null(hex);
  nn_hex_encode(hex, b, n);
  snprintf(line, sizeof(line), "%s", name);
  const char *at = strstr(doc, "### 8.3");
  assert_non_null(at);
  if (!strstr(at, hex)) {
    fprintf(stderr, "PROTOCOL.md 8.3 does not quote %s = %s\n", line, hex);
    fail();
  }
  free(hex);
}

static const uint8_t vtx[] = "nepnet test transaction";
#define VTX_LEN (sizeof(vtx) - 1)

static void
test_vectors(void **state)
{
  (void)state;
  char *doc = read_doc();
  uint8_t buf[64], hello[NN_DLMSG_HELLO_LEN];
  size_t len;
  nn_hash_t id;
  nn_dlmsg_t m;
  assert_int_equal(nn_sha3_256(&id, vtx, VTX_LEN), NN_OK);
  expect_quoted(doc, "tx", vtx, VTX_LEN);
  expect_quoted(doc, "id", id.b, NN_HASH_LEN);
  nn_dlmsg_hello(hello, 0, 8u << 20);
  expect_quoted(doc, "HELLO", hello, sizeof(hello));
  assert_int_equal(nn_dlmsg_parse(&m, hello, sizeof(hello), 100), NN_OK);
  assert_int_equal(m.max_tx, 8u << 20);
  nn_dlmsg_hello(hello, NN_DLMSG_HELLO_FULL, 8u << 20);
  expect_quoted(doc, "FULL", hello, sizeof(hello));
  nn_dlmsg_hello(hello, NN_DLMSG_HELLO_MIXNET, 8u << 20);
  expect_quoted(doc, "MIXNET", hello, sizeof(hello));
  assert_int_equal(nn_dlmsg_parse(&m, hello, sizeof(hello), 100), NN_OK);
  assert_int_equal(m.flags, NN_DLMSG_HELLO_MIXNET);
  assert_int_equal(nn_dlmsg_ids(buf, sizeof(buf), &len, NN_DLMSG_INV, &id, 1), NN_OK);
  expect_quoted(doc, "INV", buf, len);
  assert_int_equal(nn_dlmsg_parse(&m, buf, len, 100), NN_OK);
  assert_int_equal(m.count, 1);
  nn_hash_t back;
  nn_dlmsg_id(&m, 0, &back);
  assert_memory_equal(back.b, id.b, NN_HASH_LEN);
  assert_int_equal(nn_dlmsg_ids(buf, sizeof(buf), &len, NN_DLMSG_GETDATA, &id, 1), NN_OK);
  expect_quoted(doc, "GETDATA", buf, len);
  buf[0] = NN_DLMSG_STEM;
  memcpy(buf + 1, vtx, VTX_LEN);
  expect_quoted(doc, "STEM", buf, VTX_LEN + 1);
  assert_int_equal(nn_dlmsg_parse(&m, buf, VTX_LEN + 1, VTX_LEN), NN_OK);
  assert_int_equal(m.tx_len, VTX_LEN);
  assert_memory_equal(m.tx, vtx, VTX_LEN);
  buf[0] = NN_DLMSG_TX;
  expect_quoted(doc, "TX", buf, VTX_LEN + 1);
  free(doc);
}

static void
test_bad_messages(void **state)
{
  (void)state;
  static const struct {
    const char *hex;
    size_t max_tx;
    nn_err_t want;
    const char *what;
  } bad[] = {
    { "", 100, NN_ERR_TRUNCATED, "empty" },
    { "2f", 100, NN_ERR_FORMAT, "unknown kind 0x2f" },
    { "19", 100, NN_ERR_FORMAT, "a DHT kind is not gossip" },
    { "200100008000", 100, NN_ERR_TRUNCATED, "HELLO short" },
    { "2001000080000000", 100, NN_ERR_TRAILING, "HELLO long" },
    { "20020000800000", 100, NN_ERR_VERSION, "HELLO version 2" },
    { "20010400800000", 100, NN_ERR_FORMAT, "HELLO reserved flag" },
    { "21", 100, NN_ERR_TRUNCATED, "empty STEM" },
    { "24", 100, NN_ERR_TRUNCATED, "empty TX" },
    { "21000102", 2, NN_ERR_TOO_LONG, "STEM above max_tx" },
    { "24000102", 2, NN_ERR_TOO_LONG, "TX above max_tx" },
    { "22", 100, NN_ERR_TRUNCATED, "INV without count" },
    { "220000", 100, NN_ERR_FORMAT, "INV count 0" },
    { "220401", 100, NN_ERR_FORMAT, "INV count 1025" },
    { "2200010102", 100, NN_ERR_TRUNCATED, "INV short id" },
    { "230000", 100, NN_ERR_FORMAT, "GETDATA count 0" },
    { "2300020000000000000000000000000000000000000000000000000000000000000000", 100, NN_ERR_TRUNCATED,
      "GETDATA count 2, one id" },
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint8_t b[128];
    size_t n = strlen(bad[i].hex) / 2;
    nn_dlmsg_t m;
    assert_int_equal(nn_hex_decode(b, n, bad[i].hex), NN_OK);
    nn_err_t e = nn_dlmsg_parse(&m, b, n, bad[i].max_tx);
    if (e != bad[i].want)
      fprintf(stderr, "%s: got %s, want %s\n", bad[i].what, nn_err_str(e), nn_err_str(bad[i].want));
    assert_int_equal(e, bad[i].want);
  }
  /* INV with a trailing byte, and the largest INV */
  size_t big = 3 + NN_DLMSG_MAX_IDS * NN_HASH_LEN;
  uint8_t *b = calloc(1, big + 1);
  nn_dlmsg_t m;
  b[0] = NN_DLMSG_INV;
  b[1] = NN_DLMSG_MAX_IDS >> 8;
  b[2] = NN_DLMSG_MAX_IDS & 0xff;
  assert_int_equal(nn_dlmsg_parse(&m, b, big, 100), NN_OK);
  assert_int_equal(m.count, NN_DLMSG_MAX_IDS);
  assert_int_equal(nn_dlmsg_parse(&m, b, big + 1, 100), NN_ERR_TRAILING);
  free(b);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vectors),
    cmocka_unit_test(test_bad_messages),
  };
  return cmocka_run_group_tests_name("dlmsg", tests, NULL, NULL);
}
