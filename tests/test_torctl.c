/*
 * The Tor control-port core (src/overlay/torctl.c) against scripted control ports: each way to
 * authenticate (SAFECOOKIE with the server hash checked, COOKIE, a password, NULL), ADD_ONION
 * with a new and a saved key, GETINFO of the SOCKS listeners, replies split at every byte,
 * asynchronous events, quoted strings, and every malformed or refusing reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/hex.h"
#include "overlay/torctl.h"

#define SID "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad"
#define KEY "ED25519-V3:oPY1b4Av1xIbbXjNVJbs2DwJ1Wm8mvW5jV+Gxo9Y4mR4Cz+Hq1ilu5BJ7u0oNquh4FN0Q0yo6lEDhKj9IgDrfA=="

/* What the core sent since last asked, as a string. */
static const char *
sent(nn_torctl_t *t)
{
  static char buf[4096];
  size_t n;
  const uint8_t *o = nn_torctl_output(t, &n);
  assert_true(n < sizeof(buf));
  memcpy(buf, o, n);
  buf[n] = 0;
  nn_torctl_consume(t, n);
  return buf;
}

static nn_err_t
say(nn_torctl_t *t, const char *s, int bytewise)
{
  nn_err_t e = NN_OK;
  if (!bytewise)
    return nn_torctl_input(t, (const uint8_t *)s, strlen(s));
  for (size_t i = 0; s[i] && !e; i++)
    e = nn_torctl_input(t, (const uint8_t *)s + i, 1);
  return e;
}

static nn_torctl_event_t
event(nn_torctl_t *t, nn_torctl_ev_kind_t want)
{
  nn_torctl_event_t ev;
  if (!nn_torctl_event(t, &ev))
    fail_msg("no event, want %d", want);
  if (ev.kind != want)
    fail_msg("event %d (%s), want %d", ev.kind, ev.text, want);
  return ev;
}

static void
hmac(uint8_t out[32], const char *key, const uint8_t *msg, size_t len)
{
  size_t olen = 0;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key), msg, len, out, 32, &olen));
  assert_int_equal(olen, 32);
}

/* SAFECOOKIE, end to end: the client nonce from a fixed generator, Tor's server hash computed
 * here with OpenSSL directly, the AUTHENTICATE hash checked; then a new onion service and the
 * SOCKS listener; every reply fed one byte at a time. */
static void
test_safecookie_onion(void **state)
{
  (void)state;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 14);
  nn_rng_t rng = nn_drbg_rng(&d);
  nn_torctl_cfg_t cfg = { NULL, &rng };
  nn_torctl_t *t;
  uint8_t cookie[32], snonce[32], cnonce[32], msg[96], sh[32], ch[32];
  char hex[65], line[256];
  for (int i = 0; i < 32; i++)
    cookie[i] = (uint8_t)i, snonce[i] = (uint8_t)(0xa0 + i);
  assert_int_equal(nn_torctl_new(&t, &cfg), NN_OK);
  assert_string_equal(sent(t), "PROTOCOLINFO 1\r\n");
  assert_int_equal(say(t,
                       "650 STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED\r\n" /* between replies: skipped */
                       "250-PROTOCOLINFO 1\r\n"
                       "250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/run/tor/control.auth\\\"cookie\\101\"\r\n"
                       "250-VERSION Tor=\"0.4.9.11\"\r\n"
                       "250 OK\r\n",
                       1),
                   NN_OK);
  nn_torctl_event_t ev = event(t, NN_TORCTL_EV_NEED_COOKIE);
  assert_string_equal(ev.text, "/run/tor/control.auth\"cookieA");   /* unescaped */
  assert_int_equal(nn_torctl_cookie(t, cookie, 31), NN_ERR_FORMAT); /* the wrong file */
  (void)event(t, NN_TORCTL_EV_FAILED);
  nn_torctl_free(t);

  /* again, with the right cookie */
  nn_drbg_init_u64(&d, 14);
  assert_int_equal(nn_torctl_new(&t, &cfg), NN_OK);
  (void)sent(t);
  assert_int_equal(
    say(t, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/c\"\r\n250 OK\r\n", 0), NN_OK);
  (void)event(t, NN_TORCTL_EV_NEED_COOKIE);
  assert_int_equal(nn_torctl_cookie(t, cookie, 32), NN_OK);
  nn_drbg_t d2;
  nn_drbg_init_u64(&d2, 14);
  nn_rng_t rng2 = nn_drbg_rng(&d2);
  assert_int_equal(nn_rng_fill(&rng2, cnonce, 32), NN_OK);
  nn_hex_encode(hex, cnonce, 32);
  snprintf(line, sizeof(line), "AUTHCHALLENGE SAFECOOKIE %s\r\n", hex);
  assert_string_equal(sent(t), line);
  memcpy(msg, cookie, 32);
  memcpy(msg + 32, cnonce, 32);
  memcpy(msg + 64, snonce, 32);
  hmac(sh, "Tor safe cookie authentication server-to-controller hash", msg, 96);
  hmac(ch, "Tor safe cookie authentication controller-to-server hash", msg, 96);
  char shex[65], nhex[65];
  nn_hex_encode(shex, sh, 32);
  nn_hex_encode(nhex, snonce, 32);
  for (char *p = shex; *p; p++) /* Tor sends upper case */
    if (*p >= 'a' && *p <= 'f')
      *p = (char)(*p - 32);
  snprintf(line, sizeof(line), "250 AUTHCHALLENGE SERVERHASH=%s SERVERNONCE=%s\r\n", shex, nhex);
  assert_int_equal(say(t, line, 1), NN_OK);
  nn_hex_encode(hex, ch, 32);
  snprintf(line, sizeof(line), "AUTHENTICATE %s\r\n", hex);
  assert_string_equal(sent(t), line);
  assert_int_equal(say(t, "250 OK\r\n", 0), NN_OK);
  ev = event(t, NN_TORCTL_EV_READY);
  assert_string_equal(ev.text, "unknown version");
  /* a new onion service, then the SOCKS listeners, pipelined */
  assert_int_equal(nn_torctl_add_onion(t, NULL, 9800, "127.0.0.1:19800"), NN_OK);
  assert_int_equal(nn_torctl_get_socks(t), NN_OK);
  assert_string_equal(sent(t), "ADD_ONION NEW:ED25519-V3 Port=9800,127.0.0.1:19800\r\nGETINFO net/listeners/socks\r\n");
  assert_int_equal(say(t,
                       "250-ServiceID=" SID "\r\n250-PrivateKey=" KEY "\r\n250 OK\r\n"
                       "250-net/listeners/socks=\"127.0.0.1:19050\" \"[::1]:19050\"\r\n250 OK\r\n",
                       1),
                   NN_OK);
  ev = event(t, NN_TORCTL_EV_ONION);
  assert_string_equal(ev.text, SID);
  assert_string_equal(ev.key, KEY);
  ev = event(t, NN_TORCTL_EV_SOCKS);
  assert_string_equal(ev.text, "127.0.0.1:19050");
  assert_int_equal(nn_torctl_event(t, &ev), 0);
  nn_torctl_free(t);
}

/* A forged server hash (not Tor, or another Tor's cookie) is refused before we authenticate. */
static void
test_safecookie_forged(void **state)
{
  (void)state;
  nn_torctl_t *t;
  uint8_t cookie[32] = { 1 };
  assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250-AUTH METHODS=SAFECOOKIE COOKIEFILE=\"/c\"\r\n250 OK\r\n", 0), NN_OK);
  (void)event(t, NN_TORCTL_EV_NEED_COOKIE);
  assert_int_equal(nn_torctl_cookie(t, cookie, 32), NN_OK);
  (void)sent(t);
  char line[256];
  snprintf(line, sizeof(line), "250 AUTHCHALLENGE SERVERHASH=%064d SERVERNONCE=%064d\r\n", 0, 0);
  assert_int_equal(say(t, line, 0), NN_ERR_FORMAT);
  nn_torctl_event_t ev = event(t, NN_TORCTL_EV_FAILED);
  assert_non_null(strstr(ev.text, "does not verify"));
  assert_string_equal(sent(t), ""); /* no AUTHENTICATE */
  nn_torctl_free(t);
}

/* COOKIE only, a password, NULL; a saved key; Tor refusing ADD_ONION and authentication. */
static void
test_other_auth(void **state)
{
  (void)state;
  nn_torctl_t *t;
  uint8_t cookie[32];
  memset(cookie, 0xab, sizeof(cookie));
  /* COOKIE: the cookie as hex */
  assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250-AUTH METHODS=COOKIE COOKIEFILE=\"/c\"\r\n250 OK\r\n", 0), NN_OK);
  (void)event(t, NN_TORCTL_EV_NEED_COOKIE);
  assert_int_equal(nn_torctl_cookie(t, cookie, 32), NN_OK);
  assert_string_equal(sent(t), "AUTHENTICATE abababababababababababababababababababababababababababababababab\r\n");
  assert_int_equal(say(t, "515 Authentication failed: Wrong length on authentication cookie.\r\n", 0), NN_ERR_FORMAT);
  nn_torctl_event_t ev = event(t, NN_TORCTL_EV_FAILED);
  assert_int_equal(ev.code, 515);
  assert_non_null(strstr(ev.text, "Wrong length"));
  assert_int_equal(nn_torctl_add_onion(t, NULL, 9800, "127.0.0.1:1"), NN_ERR_ARG); /* after FAILED */
  nn_torctl_free(t);
  /* a password, quoted and escaped, preferred when offered */
  nn_torctl_cfg_t cfg = { "p\"w\\d", NULL };
  assert_int_equal(nn_torctl_new(&t, &cfg), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250-AUTH METHODS=HASHEDPASSWORD,SAFECOOKIE COOKIEFILE=\"/c\"\r\n250 OK\r\n", 0), NN_OK);
  assert_string_equal(sent(t), "AUTHENTICATE \"p\\\"w\\\\d\"\r\n");
  assert_int_equal(say(t, "250 OK\r\n", 0), NN_OK);
  (void)event(t, NN_TORCTL_EV_READY);
  /* a saved key: no PrivateKey comes back; then Tor refusing a second one */
  assert_int_equal(nn_torctl_add_onion(t, KEY, 9800, "127.0.0.1:19800"), NN_OK);
  assert_string_equal(sent(t), "ADD_ONION " KEY " Port=9800,127.0.0.1:19800\r\n");
  assert_int_equal(say(t, "250-ServiceID=" SID "\r\n250 OK\r\n", 0), NN_OK);
  ev = event(t, NN_TORCTL_EV_ONION);
  assert_string_equal(ev.key, "");
  assert_int_equal(nn_torctl_add_onion(t, KEY, 9800, "127.0.0.1:19800"), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "550 Onion address collision\r\n", 0), NN_OK);
  ev = event(t, NN_TORCTL_EV_ONION_FAILED);
  assert_int_equal(ev.code, 550);
  assert_non_null(strstr(ev.text, "collision"));
  /* keys and targets that would break the command line */
  assert_int_equal(nn_torctl_add_onion(t, "ED25519-V3:a b", 9800, "127.0.0.1:1"), NN_ERR_ARG);
  assert_int_equal(nn_torctl_add_onion(t, "RSA1024:abc", 9800, "127.0.0.1:1"), NN_ERR_ARG);
  assert_int_equal(nn_torctl_add_onion(t, NULL, 9800, "127.0.0.1:1\r\nSIGNAL HALT"), NN_ERR_ARG);
  nn_torctl_free(t);
  /* NULL: AUTHENTICATE without a secret; a password configured but not offered is not sent */
  nn_torctl_cfg_t cfg2 = { "secret", NULL };
  assert_int_equal(nn_torctl_new(&t, &cfg2), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250-AUTH METHODS=NULL\r\n250 OK\r\n", 0), NN_OK);
  assert_string_equal(sent(t), "AUTHENTICATE\r\n");
  nn_torctl_free(t);
  /* nothing we can use */
  assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250-AUTH METHODS=HASHEDPASSWORD\r\n250 OK\r\n", 0), NN_ERR_FORMAT);
  ev = event(t, NN_TORCTL_EV_FAILED);
  assert_non_null(strstr(ev.text, "no authentication we can use"));
  nn_torctl_free(t);
}

typedef struct bad_t {
  const char *name, *in, *why;
} bad_t;

/* Malformed replies close the connection with a message. */
static void
test_malformed(void **state)
{
  (void)state;
  static const bad_t bad[] = {
    { "LF without CR", "250 OK\n", "CRLF" },
    { "no code", "OK\r\n", "malformed" },
    { "code then junk", "25x OK\r\n", "malformed" },
    { "bad separator", "250/OK\r\n", "malformed" },
    { "short", "250\r\n", "malformed" },
    { "code changes", "250-AUTH METHODS=NULL\r\n251 OK\r\n", "changes" },
    { "NUL", "250-AUTH\0METHODS\r\n", "NUL" },
    { "unsolicited", "250-AUTH METHODS=NULL\r\n250 OK\r\n250 OK\r\n250 OK\r\n", "did not send" },
    { "no AUTH line", "250-VERSION Tor=\"1\"\r\n250 OK\r\n", "no AUTH METHODS" },
    { "refused", "510 Unrecognized command\r\n", "refused PROTOCOLINFO" },
    { "bad cookie path", "250-AUTH METHODS=COOKIE COOKIEFILE=\"/c\r\n250 OK\r\n", "quoted string" },
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nn_torctl_t *t;
    nn_torctl_event_t ev;
    assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
    (void)sent(t);
    size_t len = strlen(bad[i].in);
    if (!strcmp(bad[i].name, "NUL"))
      len = 19;
    nn_err_t e = nn_torctl_input(t, (const uint8_t *)bad[i].in, len);
    int got = 0;
    while (nn_torctl_event(t, &ev))
      if (ev.kind == NN_TORCTL_EV_FAILED && strstr(ev.text, bad[i].why))
        got = 1;
    if (e != NN_ERR_FORMAT || !got)
      fail_msg("%s: %d, no FAILED event saying '%s'", bad[i].name, e, bad[i].why);
    nn_torctl_free(t);
  }
  /* a line beyond the cap, and a reply of too many lines */
  nn_torctl_t *t;
  static char big[5000];
  memset(big, 'a', sizeof(big));
  memcpy(big, "250-", 4);
  assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
  assert_int_equal(nn_torctl_input(t, (const uint8_t *)big, sizeof(big)), NN_ERR_FORMAT);
  nn_torctl_free(t);
  assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
  nn_err_t e = NN_OK;
  for (int i = 0; i < 100 && !e; i++)
    e = say(t, "250-x\r\n", 0);
  assert_int_equal(e, NN_ERR_FORMAT);
  nn_torctl_free(t);
  /* a data block, dot-stuffed, is one value per line */
  assert_int_equal(nn_torctl_new(&t, NULL), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250-AUTH METHODS=NULL\r\n250 OK\r\n", 0), NN_OK);
  (void)sent(t);
  assert_int_equal(say(t, "250 OK\r\n", 0), NN_OK);
  nn_torctl_event_t ev;
  assert_int_equal(nn_torctl_event(t, &ev), 1);
  assert_int_equal(nn_torctl_get_socks(t), NN_OK);
  assert_int_equal(say(t, "250+net/listeners/socks=\r\n..x\r\n.\r\n250 OK\r\n", 0), NN_OK);
  assert_int_equal(nn_torctl_event(t, &ev), 1);
  assert_int_equal(ev.kind, NN_TORCTL_EV_SOCKS);
  nn_torctl_free(t);
}

static void
test_unquote(void **state)
{
  (void)state;
  char out[16];
  assert_int_equal(nn_torctl_unquote("\"a\\tb\\\\c\\\"\" rest", 17, out, sizeof(out)), 11);
  assert_string_equal(out, "a\tb\\c\"");
  assert_int_equal(nn_torctl_unquote("\"\\101\\60\\7\"", 11, out, sizeof(out)), 11);
  assert_string_equal(out, "A0\a");
  assert_int_equal(nn_torctl_unquote("\"\\0\"", 4, out, sizeof(out)), 0); /* a NUL */
  assert_int_equal(nn_torctl_unquote("\"\\777\"", 6, out, sizeof(out)), 0);
  assert_int_equal(nn_torctl_unquote("\"open", 5, out, sizeof(out)), 0);
  assert_int_equal(nn_torctl_unquote("\"ab\\", 4, out, sizeof(out)), 0);
  assert_int_equal(nn_torctl_unquote("noquote", 7, out, sizeof(out)), 0);
  assert_int_equal(nn_torctl_unquote("\"0123456789abcdefg\"", 19, out, sizeof(out)), 0); /* too long */
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_safecookie_onion), cmocka_unit_test(test_safecookie_forged),
    cmocka_unit_test(test_other_auth),       cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_unquote),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
