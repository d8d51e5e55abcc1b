/*
 * The TURN client core (nat/turn.h) against a scripted server written here with the STUN
 * builder: long-term credentials (401, then the request again with USERNAME, REALM, NONCE and a
 * MESSAGE-INTEGRITY this test checks under MD5("alice:realm:pw")), 438, Allocate, Refresh,
 * CreatePermission and Connect pipelined, ConnectionBind on a data connection whose answer is
 * followed by the peer's first bytes, ConnectionAttempt, timeouts; and what a hostile server or
 * a forger on the path sends: success answers without or with a wrong MESSAGE-INTEGRITY,
 * answers to nothing, bytes that are not STUN, ChannelData, a length beyond the cap. The
 * interoperation with a real server is cli_nat_turn (coturn).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/wire.h"
#include "nat/stun.h"
#include "nat/turn.h"

#define MAXSENT 16
#define MAXEV 16

typedef struct sent_t {
  uint64_t conn;
  uint8_t b[NN_STUN_MAX_MSG];
  size_t len;
} sent_t;

typedef struct world_t {
  sent_t sent[MAXSENT];
  unsigned nsent, seen;
  nn_turn_event_t ev[MAXEV];
  unsigned nev;
  uint8_t ctr;
  int fail_send;
} world_t;

static nn_err_t
w_send(void *ctx, uint64_t conn, const uint8_t *b, size_t n)
{
  world_t *w = ctx;
  if (w->fail_send)
    return NN_ERR_IO;
  assert_true(w->nsent < MAXSENT && n <= NN_STUN_MAX_MSG);
  w->sent[w->nsent].conn = conn;
  memcpy(w->sent[w->nsent].b, b, n);
  w->sent[w->nsent++].len = n;
  return NN_OK;
}

static void
w_event(void *ctx, const nn_turn_event_t *e)
{
  world_t *w = ctx;
  assert_true(w->nev < MAXEV);
  w->ev[w->nev++] = *e;
}

static void
w_random(void *ctx, uint8_t *b, size_t n)
{
  world_t *w = ctx;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(++w->ctr * 37u);
}

static uint8_t key[16];

static nn_turn_t *
client(world_t *w)
{
  nn_turn_cfg_t c;
  nn_turn_t *t;
  nn_turn_io_t io = { w_send, w_event, w_random, w };
  memset(w, 0, sizeof(*w));
  memset(&c, 0, sizeof(c));
  strcpy(c.username, "alice");
  strcpy(c.password, "pw");
  c.lifetime_s = 600;
  assert_int_equal(nn_turn_new(&t, &c, &io), NN_OK);
  assert_int_equal(nn_stun_longterm_key(key, "alice", "realm", "pw"), NN_OK);
  return t;
}

/* The next request the client sent (on \a conn), parsed into \a m (which views w's buffer). */
static void
next_req(world_t *w, uint64_t conn, uint16_t method, nn_stun_msg_t *m)
{
  assert_true(w->seen < w->nsent);
  sent_t *s = &w->sent[w->seen++];
  assert_int_equal(s->conn, conn);
  assert_int_equal(nn_stun_parse(m, s->b, s->len), NN_OK);
  assert_int_equal(m->cls, NN_STUN_REQUEST);
  assert_int_equal(m->method, method);
  assert_int_equal(nn_stun_check_fingerprint(m), NN_OK);
}

static void
expect_auth(const nn_stun_msg_t *m, const char *nonce)
{
  const nn_stun_attr_t *a = nn_stun_find(m, NN_STUN_A_USERNAME);
  assert_non_null(a);
  assert_memory_equal(nn_stun_value(m, a), "alice", 5);
  a = nn_stun_find(m, NN_STUN_A_NONCE);
  assert_non_null(a);
  assert_int_equal(a->len, strlen(nonce));
  assert_memory_equal(nn_stun_value(m, a), nonce, strlen(nonce));
  assert_int_equal(nn_stun_check_integrity(m, key, sizeof(key)), NN_OK);
}

typedef enum { MI_GOOD, MI_NONE, MI_BAD } mi_t;

/* A server answer to request \a req: class \a cls; the attributes by \a add. */
static size_t
answer(uint8_t *out, const nn_stun_msg_t *req, uint8_t cls, void (*add)(nn_stun_builder_t *b, void *arg), void *arg,
       mi_t mi)
{
  nn_stun_builder_t b;
  size_t len;
  static const uint8_t wrong[16] = { 1 };
  nn_stun_build_init(&b, out, NN_STUN_MAX_MSG, req->method, cls, req->tid);
  if (add)
    add(&b, arg);
  if (mi == MI_GOOD)
    nn_stun_add_integrity(&b, key, sizeof(key));
  else if (mi == MI_BAD)
    nn_stun_add_integrity(&b, wrong, sizeof(wrong));
  nn_stun_add_fingerprint(&b);
  assert_int_equal(nn_stun_build_finish(&b, &len), NN_OK);
  return len;
}

static void
add_challenge(nn_stun_builder_t *b, void *arg)
{
  const char *nonce = arg;
  nn_stun_add_error(b, 401, "Unauthorized");
  nn_stun_add(b, NN_STUN_A_REALM, (const uint8_t *)"realm", 5);
  nn_stun_add(b, NN_STUN_A_NONCE, (const uint8_t *)nonce, strlen(nonce));
}

static void
add_stale(nn_stun_builder_t *b, void *arg)
{
  const char *nonce = arg;
  nn_stun_add_error(b, 438, "Stale Nonce");
  nn_stun_add(b, NN_STUN_A_REALM, (const uint8_t *)"realm", 5);
  nn_stun_add(b, NN_STUN_A_NONCE, (const uint8_t *)nonce, strlen(nonce));
}

static void
add_error(nn_stun_builder_t *b, void *arg)
{
  nn_stun_add_error(b, (unsigned)(uintptr_t)arg, "No");
}

static nn_addr_t relayed, mapped, peer;

static void
add_allocated(nn_stun_builder_t *b, void *arg)
{
  (void)arg;
  nn_stun_add_addr(b, NN_STUN_A_XOR_RELAYED_ADDRESS, &relayed);
  nn_stun_add_addr(b, NN_STUN_A_XOR_MAPPED_ADDRESS, &mapped);
  nn_stun_add_u32(b, NN_STUN_A_LIFETIME, 300);
}

static void
add_connid(nn_stun_builder_t *b, void *arg)
{
  nn_stun_add_u32(b, NN_STUN_A_CONNECTION_ID, (uint32_t)(uintptr_t)arg);
}

static void
ctl(nn_turn_t *t, const uint8_t *b, size_t n, uint64_t now)
{
  assert_int_equal(nn_turn_ctl_input(t, b, n, now), NN_OK);
}

static int
setup(void **state)
{
  (void)state;
  assert_int_equal(nn_addr_parse(&relayed, "198.51.100.7:50000"), NN_OK);
  assert_int_equal(nn_addr_parse(&mapped, "203.0.113.30:40000"), NN_OK);
  assert_int_equal(nn_addr_parse(&peer, "203.0.113.20:9800"), NN_OK);
  return 0;
}

/* Allocate: the challenge, the request again with credentials, the allocation. */
static nn_turn_t *
allocate(world_t *w, int bytewise)
{
  nn_turn_t *t = client(w);
  nn_stun_msg_t m;
  uint8_t out[NN_STUN_MAX_MSG];
  size_t n;
  uint32_t v;
  nn_turn_start(t, 0);
  assert_int_equal(nn_turn_state(t), NN_TURN_ALLOCATING);
  next_req(w, 0, NN_STUN_ALLOCATE, &m);
  assert_null(nn_stun_find(&m, NN_STUN_A_MESSAGE_INTEGRITY)); /* the first try has no credentials */
  assert_int_equal(nn_stun_get_u32(&m, NN_STUN_A_REQUESTED_TRANSPORT, &v), NN_OK);
  assert_int_equal(v, 6u << 24); /* TCP (RFC 6062) */
  n = answer(out, &m, NN_STUN_ERROR, add_challenge, "n1", MI_NONE);
  ctl(t, out, n, 10);
  next_req(w, 0, NN_STUN_ALLOCATE, &m);
  expect_auth(&m, "n1");
  n = answer(out, &m, NN_STUN_SUCCESS, add_allocated, NULL, MI_GOOD);
  if (bytewise)
    for (size_t i = 0; i < n; i++)
      ctl(t, out + i, 1, 20);
  else
    ctl(t, out, n, 20);
  assert_int_equal(nn_turn_state(t), NN_TURN_READY);
  assert_int_equal(w->nev, 1);
  assert_int_equal(w->ev[0].kind, NN_TURN_EV_READY);
  assert_true(nn_addr_equal(nn_turn_relayed(t), &relayed));
  assert_true(nn_addr_equal(nn_turn_mapped(t), &mapped));
  assert_int_equal(nn_turn_lifetime(t), 300);
  w->nev = 0;
  return t;
}

static void
test_allocate(void **state)
{
  (void)state;
  world_t w;
  nn_turn_free(allocate(&w, 0));
  nn_turn_free(allocate(&w, 1)); /* one byte at a time: the framing waits for the whole message */
}

/* A success answer without MESSAGE-INTEGRITY, or with a wrong one, is not believed: the request
 * waits for a real answer or its timeout. So is an answer to a request never made. */
static void
test_forged(void **state)
{
  (void)state;
  world_t w;
  nn_turn_t *t = client(&w);
  nn_stun_msg_t m;
  nn_turn_stats_t st;
  uint8_t out[NN_STUN_MAX_MSG];
  size_t n;
  nn_turn_start(t, 0);
  next_req(&w, 0, NN_STUN_ALLOCATE, &m);
  ctl(t, out, answer(out, &m, NN_STUN_ERROR, add_challenge, "n1", MI_NONE), 1);
  next_req(&w, 0, NN_STUN_ALLOCATE, &m);
  ctl(t, out, answer(out, &m, NN_STUN_SUCCESS, add_allocated, NULL, MI_NONE), 2);
  ctl(t, out, answer(out, &m, NN_STUN_SUCCESS, add_allocated, NULL, MI_BAD), 3);
  nn_stun_msg_t other = m;
  other.tid[0] ^= 1;
  ctl(t, out, answer(out, &other, NN_STUN_SUCCESS, add_allocated, NULL, MI_GOOD), 4);
  assert_int_equal(nn_turn_state(t), NN_TURN_ALLOCATING);
  assert_int_equal(w.nev, 0);
  nn_turn_stats(t, &st);
  assert_int_equal(st.malformed, 3);
  n = answer(out, &m, NN_STUN_SUCCESS, add_allocated, NULL, MI_GOOD);
  ctl(t, out, n, 5);
  assert_int_equal(nn_turn_state(t), NN_TURN_READY);
  nn_turn_free(t);
}

/* 438 brings a new nonce; wrong credentials end in FAILED after the retries. */
static void
test_nonce_and_refusal(void **state)
{
  (void)state;
  world_t w;
  nn_turn_t *t = client(&w);
  nn_stun_msg_t m;
  uint8_t out[NN_STUN_MAX_MSG];
  nn_turn_start(t, 0);
  next_req(&w, 0, NN_STUN_ALLOCATE, &m);
  ctl(t, out, answer(out, &m, NN_STUN_ERROR, add_challenge, "n1", MI_NONE), 1);
  next_req(&w, 0, NN_STUN_ALLOCATE, &m);
  expect_auth(&m, "n1");
  ctl(t, out, answer(out, &m, NN_STUN_ERROR, add_stale, "n2", MI_NONE), 2);
  next_req(&w, 0, NN_STUN_ALLOCATE, &m);
  expect_auth(&m, "n2");
  ctl(t, out, answer(out, &m, NN_STUN_ERROR, add_challenge, "n3", MI_NONE), 3);
  assert_int_equal(nn_turn_state(t), NN_TURN_FAILED); /* 3 answers asking for credentials: give up */
  assert_int_equal(w.nev, 1);
  assert_int_equal(w.ev[0].kind, NN_TURN_EV_FAILED);
  assert_int_equal(w.ev[0].code, 401);
  /* started again on a new control connection, a new challenge */
  w.nev = 0;
  nn_turn_start(t, 10);
  next_req(&w, 0, NN_STUN_ALLOCATE, &m);
  assert_null(nn_stun_find(&m, NN_STUN_A_MESSAGE_INTEGRITY));
  ctl(t, out, answer(out, &m, NN_STUN_ERROR, add_error, (void *)(uintptr_t)486, MI_NONE), 11);
  assert_int_equal(w.ev[0].kind, NN_TURN_EV_FAILED);
  assert_int_equal(w.ev[0].code, 486);
  nn_turn_free(t);
}

/* Connect: CreatePermission and Connect pipelined, the CONNECTION-ID, the bind on a data
 * connection whose answer arrives with the peer's first bytes behind it. */
static void
test_connect_bind(void **state)
{
  (void)state;
  world_t w;
  nn_turn_t *t = allocate(&w, 0);
  nn_stun_msg_t perm, conn, bind;
  nn_addr_t a;
  uint32_t v;
  uint8_t out[NN_STUN_MAX_MSG + 16];
  size_t n, used;
  assert_int_equal(nn_turn_connect(t, &peer, 77, 100), NN_OK);
  next_req(&w, 0, NN_STUN_CREATE_PERMISSION, &perm);
  expect_auth(&perm, "n1");
  assert_int_equal(nn_stun_get_addr(&perm, NN_STUN_A_XOR_PEER_ADDRESS, &a), NN_OK);
  assert_true(nn_addr_same_host(&a, &peer));
  next_req(&w, 0, NN_STUN_CONNECT, &conn);
  expect_auth(&conn, "n1");
  assert_int_equal(nn_stun_get_addr(&conn, NN_STUN_A_XOR_PEER_ADDRESS, &a), NN_OK);
  assert_true(nn_addr_equal(&a, &peer));
  ctl(t, out, answer(out, &perm, NN_STUN_SUCCESS, NULL, NULL, MI_GOOD), 110);
  ctl(t, out, answer(out, &conn, NN_STUN_SUCCESS, add_connid, (void *)(uintptr_t)0xabcd, MI_GOOD), 120);
  assert_int_equal(w.nev, 1);
  assert_int_equal(w.ev[0].kind, NN_TURN_EV_CONNECTED);
  assert_int_equal(w.ev[0].tag, 77);
  assert_int_equal(w.ev[0].connid, 0xabcd);
  /* a second Connect to the same IP reuses the permission: no CreatePermission */
  assert_int_equal(nn_turn_connect(t, &peer, 78, 130), NN_OK);
  next_req(&w, 0, NN_STUN_CONNECT, &conn);
  assert_int_equal(w.seen, w.nsent);
  ctl(t, out, answer(out, &conn, NN_STUN_ERROR, add_error, (void *)(uintptr_t)446, MI_GOOD), 140);
  assert_int_equal(w.ev[1].kind, NN_TURN_EV_CONNECT_FAILED);
  assert_int_equal(w.ev[1].tag, 78);
  assert_int_equal(w.ev[1].code, 446);
  /* the bind */
  w.nev = 0;
  assert_int_equal(nn_turn_bind(t, 5, 0xabcd, 150), NN_OK);
  next_req(&w, 5, NN_STUN_CONNECTION_BIND, &bind);
  expect_auth(&bind, "n1");
  assert_int_equal(nn_stun_get_u32(&bind, NN_STUN_A_CONNECTION_ID, &v), NN_OK);
  assert_int_equal(v, 0xabcd);
  n = answer(out, &bind, NN_STUN_SUCCESS, NULL, NULL, MI_GOOD);
  memcpy(out + n, "PEERDATA", 8);
  /* in two pieces: the first ends inside the header */
  assert_int_equal(nn_turn_bind_input(t, 5, out, 7, &used, 160), NN_OK);
  assert_int_equal(used, 7);
  assert_int_equal(w.nev, 0);
  assert_int_equal(nn_turn_bind_input(t, 5, out + 7, n + 8 - 7, &used, 161), NN_OK);
  assert_int_equal(used, n - 7); /* the rest, "PEERDATA", is the peer's */
  assert_int_equal(w.nev, 1);
  assert_int_equal(w.ev[0].kind, NN_TURN_EV_BOUND);
  assert_int_equal(w.ev[0].tag, 5);
  nn_turn_free(t);
}

/* A ConnectionAttempt names the peer and the id to bind; a bind refused, or answered with bytes
 * that are not STUN, fails. */
static void
test_attempt_and_bad_bind(void **state)
{
  (void)state;
  world_t w;
  nn_turn_t *t = allocate(&w, 0);
  nn_stun_builder_t b;
  nn_stun_msg_t bind;
  uint8_t out[NN_STUN_MAX_MSG], tid[NN_STUN_TID_LEN] = { 9 };
  size_t n, used;
  nn_stun_build_init(&b, out, sizeof(out), NN_STUN_CONNECTION_ATTEMPT, NN_STUN_INDICATION, tid);
  nn_stun_add_u32(&b, NN_STUN_A_CONNECTION_ID, 42);
  nn_stun_add_addr(&b, NN_STUN_A_XOR_PEER_ADDRESS, &peer);
  assert_int_equal(nn_stun_build_finish(&b, &n), NN_OK);
  ctl(t, out, n, 100);
  assert_int_equal(w.nev, 1);
  assert_int_equal(w.ev[0].kind, NN_TURN_EV_ATTEMPT);
  assert_int_equal(w.ev[0].connid, 42);
  assert_true(nn_addr_equal(&w.ev[0].peer, &peer));
  /* refused */
  assert_int_equal(nn_turn_bind(t, 6, 42, 110), NN_OK);
  next_req(&w, 6, NN_STUN_CONNECTION_BIND, &bind);
  n = answer(out, &bind, NN_STUN_ERROR, add_error, (void *)(uintptr_t)400, MI_GOOD);
  assert_int_equal(nn_turn_bind_input(t, 6, out, n, &used, 120), NN_OK);
  assert_int_equal(w.ev[1].kind, NN_TURN_EV_BIND_FAILED);
  assert_int_equal(w.ev[1].code, 400);
  /* not STUN */
  assert_int_equal(nn_turn_bind(t, 7, 43, 130), NN_OK);
  next_req(&w, 7, NN_STUN_CONNECTION_BIND, &bind);
  assert_int_equal(nn_turn_bind_input(t, 7, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19, &used, 140), NN_ERR_FORMAT);
  assert_int_equal(w.ev[2].kind, NN_TURN_EV_BIND_FAILED);
  nn_turn_free(t);
}

/* Refresh a minute before the lifetime ends (half of a short one); an unanswered request times
 * out and the allocation fails with it. */
static void
test_refresh_and_timeouts(void **state)
{
  (void)state;
  world_t w;
  nn_turn_t *t = allocate(&w, 0);
  nn_stun_msg_t m;
  nn_turn_stats_t st;
  uint8_t out[NN_STUN_MAX_MSG];
  uint32_t v;
  uint64_t next = nn_turn_tick(t, 1000);
  assert_true(next > 1000 && next <= 20 + 240 * 1000); /* lifetime 300 s: refresh at 240 s */
  (void)nn_turn_tick(t, 20 + 240 * 1000);
  next_req(&w, 0, NN_STUN_REFRESH, &m);
  expect_auth(&m, "n1");
  assert_int_equal(nn_stun_get_u32(&m, NN_STUN_A_LIFETIME, &v), NN_OK);
  assert_int_equal(v, 600);
  ctl(t, out, answer(out, &m, NN_STUN_SUCCESS, add_allocated, NULL, MI_GOOD), 240100);
  nn_turn_stats(t, &st);
  assert_int_equal(st.refreshes, 1);
  /* a Connect nobody answers */
  assert_int_equal(nn_turn_connect(t, &peer, 9, 250000), NN_OK);
  (void)nn_turn_tick(t, 250000 + NN_TURN_TIMEOUT_MS);
  assert_int_equal(w.ev[w.nev - 1].kind, NN_TURN_EV_CONNECT_FAILED);
  assert_int_equal(w.ev[w.nev - 1].code, 0);
  /* the next refresh, unanswered: the allocation fails */
  (void)nn_turn_tick(t, 240100 + 240 * 1000);
  (void)nn_turn_tick(t, 240100 + 240 * 1000 + NN_TURN_TIMEOUT_MS);
  assert_int_equal(nn_turn_state(t), NN_TURN_FAILED);
  assert_int_equal(w.ev[w.nev - 1].kind, NN_TURN_EV_FAILED);
  nn_turn_stats(t, &st);
  assert_int_equal(st.timeouts, 3); /* the CreatePermission sent with the Connect, the Connect, the Refresh */
  nn_turn_free(t);
}

/* The control stream: what cannot be STUN framing ends it; what is STUN but nonsense is counted. */
static void
test_garbage(void **state)
{
  (void)state;
  world_t w;
  nn_turn_t *t;
  nn_turn_stats_t st;
  uint8_t big[NN_STUN_HDR_LEN] = { 0x01, 0x01, 0x07, 0xfc, 0x21, 0x12, 0xa4, 0x42 };
  uint8_t chan[8] = { 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4 };
  uint8_t req[NN_STUN_HDR_LEN] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
  t = allocate(&w, 0);
  assert_int_equal(nn_turn_ctl_input(t, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 1), NN_ERR_FORMAT);
  nn_turn_free(t);
  t = allocate(&w, 0);
  assert_int_equal(nn_turn_ctl_input(t, big, sizeof(big), 1), NN_ERR_FORMAT); /* 2,044 bytes: beyond the cap */
  nn_turn_free(t);
  t = allocate(&w, 0);
  assert_int_equal(nn_turn_ctl_input(t, chan, sizeof(chan), 1), NN_ERR_FORMAT); /* ChannelData: none bound */
  nn_turn_free(t);
  t = allocate(&w, 0);
  ctl(t, req, sizeof(req), 1); /* a request from the server: counted, ignored */
  nn_turn_stats(t, &st);
  assert_int_equal(st.malformed, 1);
  assert_int_equal(nn_turn_state(t), NN_TURN_READY);
  /* and a connect the caller cannot make */
  nn_addr_t onion;
  uint8_t k[32] = { 0 };
  onion = nn_addr_overlay(NN_ADDR_ONION, k, 9800);
  assert_int_equal(nn_turn_connect(t, &onion, 1, 2), NN_ERR_ARG);
  nn_turn_free(t);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_allocate),
    cmocka_unit_test(test_forged),
    cmocka_unit_test(test_nonce_and_refusal),
    cmocka_unit_test(test_connect_bind),
    cmocka_unit_test(test_attempt_and_bad_bind),
    cmocka_unit_test(test_refresh_and_timeouts),
    cmocka_unit_test(test_garbage),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
