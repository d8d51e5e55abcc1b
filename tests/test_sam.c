/*
 * The I2P SAM v3.1 core (src/overlay/sam.c) against scripted SAM bridges: a persistent session
 * (DEST GENERATE, then SESSION CREATE with the key), a saved key, a transient session, STREAM
 * CONNECT with the peer's first bytes behind the reply, STREAM ACCEPT with the peer's
 * destination, NAMING LOOKUP, the .b32.i2p name of a destination, and every refusal and
 * malformed reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/addr.h"
#include "overlay/sam.h"

/* I2P base64 (A-Z a-z 0-9 - ~), with padding. */
static void
b64(char *out, const uint8_t *in, size_t n)
{
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~";
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[k++] = A[v >> 18 & 63];
    out[k++] = A[v >> 12 & 63];
    out[k++] = i + 1 < n ? A[v >> 6 & 63] : '=';
    out[k++] = i + 2 < n ? A[v & 63] : '=';
  }
  out[k] = 0;
}

/* A destination of 391 bytes (a key certificate of 4 bytes: Ed25519 signing, ElGamal), and a
 * private key blob that starts with it. */
static uint8_t dest_bin[391], priv_bin[391 + 256 + 32];
static char dest[600], priv[1000];
static nn_addr_t dest_addr;

static int
setup(void **state)
{
  (void)state;
  for (size_t i = 0; i < 384; i++)
    dest_bin[i] = (uint8_t)(i * 7 + 1);
  dest_bin[384] = 5; /* key certificate */
  dest_bin[385] = 0;
  dest_bin[386] = 4;
  dest_bin[387] = 0, dest_bin[388] = 7, dest_bin[389] = 0, dest_bin[390] = 0;
  memcpy(priv_bin, dest_bin, sizeof(dest_bin));
  memset(priv_bin + sizeof(dest_bin), 0x5c, sizeof(priv_bin) - sizeof(dest_bin));
  b64(dest, dest_bin, sizeof(dest_bin));
  b64(priv, priv_bin, sizeof(priv_bin));
  uint8_t h[32];
  size_t hl = 0;
  assert_non_null(EVP_Q_digest(NULL, "SHA256", NULL, dest_bin, sizeof(dest_bin), h, &hl));
  dest_addr = nn_addr_overlay(NN_ADDR_I2P, h, 0);
  return 0;
}

static const char *
sent(nn_sam_t *s)
{
  static char buf[8192];
  size_t n;
  const uint8_t *o = nn_sam_output(s, &n);
  assert_true(n < sizeof(buf));
  memcpy(buf, o, n);
  buf[n] = 0;
  nn_sam_consume(s, n);
  return buf;
}

static nn_sam_status_t
say(nn_sam_t *s, const char *line, size_t *used)
{
  return nn_sam_input(s, (const uint8_t *)line, strlen(line), used);
}

static void
test_persistent_session(void **state)
{
  (void)state;
  nn_sam_cfg_t cfg = { NN_SAM_SESSION, "nepnet0", NULL, 0, 2, NULL };
  nn_sam_t *s;
  size_t used;
  char line[2048];
  assert_int_equal(nn_sam_new(&s, &cfg), NN_OK);
  assert_string_equal(sent(s), "HELLO VERSION MIN=3.1 MAX=3.1\n");
  assert_int_equal(say(s, "HELLO REPLY RESULT=OK VERSION=3.1\n", &used), NN_SAM_MORE);
  assert_string_equal(sent(s), "DEST GENERATE SIGNATURE_TYPE=7\n");
  snprintf(line, sizeof(line), "DEST REPLY PUB=%s PRIV=%s\n", dest, priv);
  assert_int_equal(say(s, line, &used), NN_SAM_MORE);
  snprintf(line, sizeof(line),
           "SESSION CREATE STYLE=STREAM ID=nepnet0 DESTINATION=%s SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0 "
           "inbound.quantity=2 outbound.quantity=2\n",
           priv);
  assert_string_equal(sent(s), line);
  snprintf(line, sizeof(line), "SESSION STATUS RESULT=OK DESTINATION=%s\r\n", priv);
  assert_int_equal(say(s, line, &used), NN_SAM_READY);
  assert_true(nn_sam_generated(s));
  assert_string_equal(nn_sam_priv(s), priv);
  assert_true(nn_addr_equal(nn_sam_addr(s), &dest_addr));
  char a[NN_ADDR_STR_MAX];
  nn_addr_format(nn_sam_addr(s), a);
  assert_non_null(strstr(a, ".b32.i2p:0"));
  /* lookups on the session socket */
  assert_int_equal(nn_sam_lookup(s, "x.b32.i2p"), NN_OK);
  assert_string_equal(sent(s), "NAMING LOOKUP NAME=x.b32.i2p\n");
  snprintf(line, sizeof(line), "NAMING REPLY RESULT=OK NAME=x.b32.i2p VALUE=%s\n", dest);
  assert_int_equal(say(s, line, &used), NN_SAM_LOOKED_UP);
  assert_string_equal(nn_sam_lookup_dest(s), dest);
  assert_int_equal(nn_sam_lookup(s, "y.b32.i2p"), NN_OK);
  (void)sent(s);
  assert_int_equal(say(s, "NAMING REPLY RESULT=KEY_NOT_FOUND NAME=y.b32.i2p\n", &used), NN_SAM_LOOKED_UP);
  assert_string_equal(nn_sam_lookup_dest(s), "");
  assert_string_equal(nn_sam_result(s), "KEY_NOT_FOUND");
  assert_int_equal(nn_sam_lookup(s, "bad name"), NN_ERR_ARG);
  nn_sam_free(s);
  /* a saved key: straight to SESSION CREATE; a transient one: the router's DESTINATION */
  nn_sam_cfg_t saved = { NN_SAM_SESSION, "nepnet1", priv, 0, 0, NULL };
  assert_int_equal(nn_sam_new(&s, &saved), NN_OK);
  (void)sent(s);
  assert_int_equal(say(s, "HELLO REPLY RESULT=OK VERSION=3.1\n", &used), NN_SAM_MORE);
  assert_non_null(strstr(sent(s), "SESSION CREATE STYLE=STREAM ID=nepnet1 DESTINATION="));
  assert_int_equal(say(s, "SESSION STATUS RESULT=OK\n", &used), NN_SAM_READY);
  assert_false(nn_sam_generated(s));
  nn_sam_free(s);
  nn_sam_cfg_t tr = { NN_SAM_SESSION, "t1", NULL, 1, 1, NULL };
  assert_int_equal(nn_sam_new(&s, &tr), NN_OK);
  (void)sent(s);
  assert_int_equal(say(s, "HELLO REPLY RESULT=OK VERSION=3.1\n", &used), NN_SAM_MORE);
  assert_non_null(strstr(sent(s), "DESTINATION=TRANSIENT SIGNATURE_TYPE=7"));
  snprintf(line, sizeof(line), "SESSION STATUS RESULT=OK DESTINATION=%s\n", priv);
  assert_int_equal(say(s, line, &used), NN_SAM_READY);
  assert_true(nn_addr_equal(nn_sam_addr(s), &dest_addr));
  nn_sam_free(s);
}

static void
test_streams(void **state)
{
  (void)state;
  nn_sam_cfg_t cc = { NN_SAM_CONNECT, "nepnet0", NULL, 0, 0, dest };
  nn_sam_t *s;
  size_t used;
  char line[2048];
  assert_int_equal(nn_sam_new(&s, &cc), NN_OK);
  (void)sent(s);
  assert_int_equal(say(s, "HELLO REPLY RESULT=OK VERSION=3.1\n", &used), NN_SAM_MORE);
  snprintf(line, sizeof(line), "STREAM CONNECT ID=nepnet0 DESTINATION=%s SILENT=false\n", dest);
  assert_string_equal(sent(s), line);
  const char *reply = "STREAM STATUS RESULT=OK\n\x06\x54";
  assert_int_equal(nn_sam_input(s, (const uint8_t *)reply, strlen(reply), &used), NN_SAM_READY);
  assert_int_equal(used, strlen(reply) - 2); /* the peer's bytes stay */
  assert_true(nn_addr_equal(nn_sam_addr(s), &dest_addr));
  nn_sam_free(s);
  /* accept: the status, then the peer's destination line, then its bytes */
  nn_sam_cfg_t ac = { NN_SAM_ACCEPT, "nepnet0", NULL, 0, 0, NULL };
  assert_int_equal(nn_sam_new(&s, &ac), NN_OK);
  (void)sent(s);
  assert_int_equal(say(s, "HELLO REPLY RESULT=OK VERSION=3.1\n", &used), NN_SAM_MORE);
  assert_string_equal(sent(s), "STREAM ACCEPT ID=nepnet0 SILENT=false\n");
  assert_int_equal(say(s, "STREAM STATUS RESULT=OK\n", &used), NN_SAM_MORE);
  snprintf(line, sizeof(line), "%s FROM_PORT=0 TO_PORT=0\nXY", dest);
  assert_int_equal(say(s, line, &used), NN_SAM_READY);
  assert_int_equal(used, strlen(line) - 2);
  assert_true(nn_addr_equal(nn_sam_addr(s), &dest_addr));
  nn_sam_free(s);
}

typedef struct bad_t {
  nn_sam_role_t role;
  const char *lines, *why, *result;
} bad_t;

static void
test_refusals(void **state)
{
  (void)state;
  static const bad_t bad[] = {
    { NN_SAM_SESSION, "HTTP/1.1 400 Bad Request\n", "SAM port", "" },
    { NN_SAM_SESSION, "HELLO REPLY RESULT=NOVERSION\n", "NOVERSION", "NOVERSION" },
    { NN_SAM_SESSION, "HELLO REPLY RESULT=I2P_ERROR MESSAGE=\"router not ready\"\n", "router not ready", "I2P_ERROR" },
    { NN_SAM_SESSION, "HELLO REPLY RESULT=OK\nDEST REPLY PUB=x\n", "no usable PRIV", "OK" },
    { NN_SAM_SESSION, "HELLO REPLY RESULT=OK\nDEST REPLY PUB=x PRIV=AAAA\n", "no usable PRIV", "OK" },
    { NN_SAM_CONNECT, "HELLO REPLY RESULT=OK\nSTREAM STATUS RESULT=CANT_REACH_PEER MESSAGE=\"no leaseset\"\n",
      "CANT_REACH_PEER: no leaseset", "CANT_REACH_PEER" },
    { NN_SAM_CONNECT, "HELLO REPLY RESULT=OK\nSTREAM STATUS RESULT=INVALID_ID\n", "INVALID_ID", "INVALID_ID" },
    { NN_SAM_ACCEPT, "HELLO REPLY RESULT=OK\nSTREAM STATUS RESULT=OK\nnot-a-destination\n", "valid destination", "OK" },
    { NN_SAM_ACCEPT, "HELLO REPLY RESULT=OK\nSESSION STATUS RESULT=OK\n", "SAM port", "OK" },
    { NN_SAM_SESSION, "HELLO REPLY RESULT=OK\0\n", "NUL", "" },
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nn_sam_cfg_t cfg = { bad[i].role, "id", NULL, 0, 0, bad[i].role == NN_SAM_CONNECT ? dest : NULL };
    nn_sam_t *s;
    size_t used, len = strlen(bad[i].lines) + (strstr(bad[i].why, "NUL") ? 2 : 0);
    assert_int_equal(nn_sam_new(&s, &cfg), NN_OK);
    nn_sam_status_t st = NN_SAM_MORE;
    for (size_t k = 0; k < len && st == NN_SAM_MORE; k += used) {
      (void)sent(s);
      st = nn_sam_input(s, (const uint8_t *)bad[i].lines + k, 1, &used);
    }
    if (st != NN_SAM_FAILED || !strstr(nn_sam_why(s), bad[i].why))
      fail_msg("case %zu: status %d, why '%s' (want '%s')", i, st, nn_sam_why(s), bad[i].why);
    size_t n;
    (void)nn_sam_output(s, &n);
    assert_int_equal(n, 0);
    nn_sam_free(s);
  }
  /* answers ahead of our request, a line beyond the cap */
  nn_sam_cfg_t cfg = { NN_SAM_SESSION, "id", NULL, 0, 0, NULL };
  nn_sam_t *s;
  size_t used;
  assert_int_equal(nn_sam_new(&s, &cfg), NN_OK);
  assert_int_equal(say(s, "HELLO REPLY RESULT=OK\n", &used), NN_SAM_FAILED);
  assert_non_null(strstr(nn_sam_why(s), "ahead"));
  nn_sam_free(s);
  static uint8_t big[NN_SAM_MAX_LINE + 10];
  memset(big, 'a', sizeof(big));
  assert_int_equal(nn_sam_new(&s, &cfg), NN_OK);
  (void)sent(s);
  assert_int_equal(nn_sam_input(s, big, sizeof(big), &used), NN_SAM_FAILED);
  assert_non_null(strstr(nn_sam_why(s), "longer than"));
  nn_sam_free(s);
  /* what cannot be asked */
  nn_sam_cfg_t badid = { NN_SAM_SESSION, "a b", NULL, 0, 0, NULL };
  assert_int_equal(nn_sam_new(&s, &badid), NN_ERR_ARG);
  nn_sam_cfg_t nodest = { NN_SAM_CONNECT, "id", NULL, 0, 0, NULL };
  assert_int_equal(nn_sam_new(&s, &nodest), NN_ERR_ARG);
  nn_sam_cfg_t inject = { NN_SAM_CONNECT, "id", NULL, 0, 0, "AAAA\nSESSION CREATE" };
  assert_int_equal(nn_sam_new(&s, &inject), NN_ERR_ARG);
}

static void
test_b64_and_names(void **state)
{
  (void)state;
  uint8_t out[8];
  nn_addr_t a;
  assert_int_equal(nn_i2p_b64_decode(out, sizeof(out), "-~-~", 4), 3);
  assert_int_equal(out[0], 0xfb);
  assert_int_equal(out[1], 0xff);
  assert_int_equal(out[2], 0xbf);
  assert_int_equal(nn_i2p_b64_decode(out, sizeof(out), "AA+/", 4), 0); /* standard base64 is not I2P's */
  assert_int_equal(nn_i2p_b64_decode(out, sizeof(out), "AAAAA", 5), 0);
  assert_int_equal(nn_i2p_b64_decode(out, 2, "AAAA", 4), 0);
  assert_int_equal(nn_sam_dest_addr(&a, dest, 0), NN_OK);
  assert_true(nn_addr_equal(&a, &dest_addr));
  assert_int_equal(nn_sam_dest_addr(&a, priv, 1), NN_OK);
  assert_true(nn_addr_equal(&a, &dest_addr));
  assert_int_equal(nn_sam_dest_addr(&a, priv, 0), NN_ERR_FORMAT); /* a key is not a destination */
  assert_int_equal(nn_sam_dest_addr(&a, "AAAA", 0), NN_ERR_FORMAT);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_persistent_session),
    cmocka_unit_test(test_streams),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_b64_and_names),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
