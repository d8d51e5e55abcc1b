/*
 * The control API against a fake node, over real sockets on one event_base: the asynchronous
 * client (node/api_client.h) for well-formed requests, raw sockets for malformed HTTP, headers
 * and Unix sockets. Every bad request must get its 4xx and leave the node untouched (the fake
 * counts submit calls and the received list).
 *
 * No assertion depends on timing: waits run the loop until a condition holds, with a safety
 * deadline that fails the test instead of hanging it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "crypto/sha3.h"
#include "lib/hex.h"
#include "node/api.h"
#include "app/api_client.h"
#include "node/api_gate.h"
#include "node/api_parse.h"
#include "node/events.h"
#include "node/history.h"
#include "node/ui.h"

#define SAFETY_S 30
#define FAKE_CAP 100 /* the fake node's transaction size limit */

/* ---- the fake node ---- */

typedef struct fake_rx_t {
  uint64_t seq;
  const uint8_t *data;
  size_t len;
  nn_hash_t id;
  char from[65];
} fake_rx_t;

typedef struct fake_t {
  int calls, accepted; /* submit calls / accepted ones */
  uint8_t last[256];
  size_t last_len;
  fake_rx_t *rx;
  size_t nrx, caprx;
  uint64_t next_seq;
  uint8_t store[64][64]; /* bytes of small received txs */
  uint8_t big[4096];     /* shared bytes of the back-pressure test's txs */
  nn_events_t *events;   /* the node's real event ring (events.h) */
  nn_history_t *history;
} fake_t;

static nn_err_t
fake_submit(void *ctx, const uint8_t *tx, size_t len, nn_hash_t *id, const char **mode)
{
  fake_t *f = ctx;
  f->calls++;
  if (len == 0)
    return NN_ERR_ARG;
  if (len > FAKE_CAP)
    return NN_ERR_TOO_LONG;
  f->accepted++;
  memcpy(f->last, tx, len);
  f->last_len = len;
  *mode = "dandelion";
  return nn_sha3_256(id, tx, len);
}

static size_t
fake_received(void *ctx, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next)
{
  fake_t *f = ctx;
  size_t k = 0;
  *next = since;
  for (size_t i = 0; i < f->nrx && k < max; i++) {
    fake_rx_t *r = &f->rx[i];
    if (r->seq < since)
      continue;
    out[k].seq = r->seq;
    out[k].id = r->id;
    out[k].tx = r->data;
    out[k].len = r->len;
    out[k].unix_ms = 1700000000000ull + r->seq;
    out[k].via = "fluff";
    memcpy(out[k].from, r->from, sizeof(out[k].from));
    *next = r->seq + 1;
    k++;
  }
  return k;
}

static nn_err_t
fake_status(void *ctx, nn_node_status_t *st)
{
  fake_t *f = ctx;
  memset(st, 0, sizeof(*st));
  snprintf(st->node_id, sizeof(st->node_id), "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  snprintf(st->network, sizeof(st->network), "regtest");
  snprintf(st->route, sizeof(st->route), "dandelion");
  st->uptime_s = 3725;
  st->peers_in = 2;
  st->peers_out = 8;
  st->dht_size = 120;
  st->epoch_ends_in_s = 300;
  st->bytes_in = 1 << 20;
  st->bytes_out = 3 << 20;
  st->mempool_count = f->nrx;
  st->mempool_bytes = 1234;
  st->stempool_count = 1;
  return NN_OK;
}

static size_t
fake_peers(void *ctx, nn_node_peer_t *out, size_t max)
{
  (void)ctx;
  if (!max)
    return 0;
  memset(out, 0, sizeof(*out));
  snprintf(out->node_id, sizeof(out->node_id), "ab");
  snprintf(out->addr, sizeof(out->addr), "127.0.0.1:9000");
  out->outbound = 1;
  out->since_s = 10;
  out->bytes_in = 100;
  out->bytes_out = 200;
  out->stem_relay = 1;
  return 1;
}

static size_t
fake_metrics(void *ctx, nn_api_metric_t *m, size_t max)
{
  (void)ctx;
  if (!max)
    return 0;
  m[0] = (nn_api_metric_t){ "peers", "Gossip peers.", 0, NULL, 10 };
  return 1;
}

static size_t
fake_events(void *ctx, uint64_t since, nn_api_event_t *out, size_t max, uint64_t *next)
{
  fake_t *f = ctx;
  nn_events_line_t l[64];
  size_t k = nn_events_get(f->events, since, l, max < 64 ? max : 64, next);
  for (size_t i = 0; i < k; i++)
    out[i] = (nn_api_event_t){ l[i].seq, l[i].line, l[i].len };
  return k;
}

static json_t *
fake_history(void *ctx)
{
  fake_t *f = ctx;
  json_t *a = json_array();
  const nn_history_sample_t *s;
  for (size_t i = 0; (s = nn_history_get(f->history, i)); i++)
    json_array_append_new(a, json_pack("[I,I]", (json_int_t)s->unix_ms, (json_int_t)s->bytes_in));
  return json_pack("{s:o}", "samples", a);
}

static void
fake_add(fake_t *f, const uint8_t *data, size_t len, const char *from)
{
  if (f->nrx == f->caprx) {
    f->caprx = f->caprx ? f->caprx * 2 : 64;
    f->rx = realloc(f->rx, f->caprx * sizeof(*f->rx));
    assert_non_null(f->rx);
  }
  fake_rx_t *r = &f->rx[f->nrx++];
  memset(r, 0, sizeof(*r));
  r->seq = ++f->next_seq;
  r->data = data;
  r->len = len;
  assert_int_equal(nn_sha3_256(&r->id, data, len), NN_OK);
  snprintf(r->from, sizeof(r->from), "%s", from ? from : "");
}

/* A small received transaction: bytes seq, seq+1, ... of length 8 + seq % 16. */
static void
fake_add_small(fake_t *f)
{
  size_t slot = f->nrx % 64, len = 8 + (f->next_seq + 1) % 16;
  for (size_t i = 0; i < len; i++)
    f->store[slot][i] = (uint8_t)(f->next_seq + 1 + i);
  fake_add(f, f->store[slot], len, (f->nrx % 2) ? "cd" : NULL);
}

/* ---- fixture ---- */

typedef struct fx_t {
  char dir[64], token_path[128];
  struct event_base *base;
  struct event *tick; /* makes EVLOOP_ONCE return at least every 50 ms */
  nn_api_t *api;
  fake_t fake;
  nn_api_cfg_t cfg;
} fx_t;

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  (void)arg;
}

static nn_api_ops_t
fake_ops(fake_t *f)
{
  nn_api_ops_t ops = { fake_submit, fake_received, fake_status, fake_peers,   fake_metrics, NULL, NULL,
                       NULL,        NULL,          fake_events, fake_history, NULL,         NULL, f };
  return ops;
}

static int
fx_start(fx_t *f)
{
  char why[512];
  nn_api_ops_t ops = fake_ops(&f->fake);
  nn_err_t err = nn_api_new(&f->api, f->base, &f->cfg, &ops, why, sizeof(why));
  if (err)
    fprintf(stderr, "nn_api_new: %s\n", why);
  return err;
}

static int
setup_common(void **state, int start)
{
  fx_t *f = calloc(1, sizeof(*f));
  struct timeval tv = { 0, 50000 };
  if (!f)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/nn-api-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->token_path, sizeof(f->token_path), "%s/api.token", f->dir);
  f->base = event_base_new();
  f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
  event_add(f->tick, &tv);
  nn_api_cfg_default(&f->cfg);
  f->cfg.listen = "127.0.0.1:0";
  f->cfg.token_file = f->token_path;
  f->cfg.max_body = 4096;
  f->cfg.max_wait_s = 10;
  f->cfg.max_streams = 4;
  if (nn_events_new(&f->fake.events) || nn_history_new(&f->fake.history))
    return -1;
  *state = f;
  return start ? fx_start(f) : 0;
}

static int
setup(void **state)
{
  return setup_common(state, 1);
}
static int
setup_nostart(void **state)
{
  return setup_common(state, 0);
}

static int
teardown(void **state)
{
  fx_t *f = *state;
  char cmd[160];
  nn_api_free(f->api);
  event_free(f->tick);
  event_base_free(f->base);
  free(f->fake.rx);
  nn_events_free(f->fake.events);
  nn_history_free(f->fake.history);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", f->dir);
  free(f);
  return 0;
}

static double
now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the loop until *flag is set (or, with flag NULL, until cond(arg) holds). */
static void
run_until(fx_t *f, const int *flag, int (*cond)(void *), void *arg)
{
  double end = now_s() + SAFETY_S;
  while (!(flag ? *flag : cond(arg))) {
    if (now_s() > end)
      fail_msg("condition not reached within %d s", SAFETY_S);
    event_base_loop(f->base, EVLOOP_ONCE);
  }
}

static int
streams_are(void *arg)
{
  void **a = arg;
  return nn_api_open_streams(a[0]) == (size_t)(uintptr_t)a[1];
}

static void
wait_streams(fx_t *f, size_t n)
{
  void *a[2] = { f->api, (void *)(uintptr_t)n };
  run_until(f, NULL, streams_are, a);
}

/* ---- requests through the client ---- */

typedef struct resp_t {
  int done, status;
  char *body;
  size_t len;
  char why[512];
  /* streams: complete lines received */
  char lines[64][512];
  int nlines;
  char partial[8192];
  size_t plen;
} resp_t;

static void
on_resp(void *arg, int status, const uint8_t *body, size_t len, const char *why)
{
  resp_t *r = arg;
  r->done = 1;
  r->status = status;
  r->body = malloc(len + 1);
  assert_non_null(r->body);
  memcpy(r->body, body, len);
  r->body[len] = 0;
  r->len = len;
  snprintf(r->why, sizeof(r->why), "%s", why);
}

static void
on_chunk(void *arg, const uint8_t *data, size_t len)
{
  resp_t *r = arg;
  for (size_t i = 0; i < len; i++) {
    if (data[i] == '\n') {
      if (r->nlines < 64) {
        snprintf(r->lines[r->nlines], sizeof(r->lines[0]), "%.*s", (int)r->plen, r->partial);
        r->nlines++;
      }
      r->plen = 0;
    } else if (r->plen < sizeof(r->partial) - 1) {
      r->partial[r->plen++] = (char)data[i];
    }
  }
}

static nn_api_call_t *
start(fx_t *f, const char *token, const char *method, const char *path, const void *body, size_t len, const char *ctype,
      resp_t *r, int stream)
{
  nn_api_call_t *c = NULL;
  char why[512];
  memset(r, 0, sizeof(*r));
  nn_err_t err = nn_api_call_start(&c, f->base, nn_api_address(f->api), token, method, path, body, len, ctype, SAFETY_S,
                                   on_resp, stream ? on_chunk : NULL, r, why, sizeof(why));
  if (err)
    fail_msg("nn_api_call_start: %s", why);
  return c;
}

static void
request(fx_t *f, const char *token, const char *method, const char *path, const void *body, size_t len,
        const char *ctype, resp_t *r)
{
  nn_api_call_t *c = start(f, token, method, path, body, len, ctype, r, 0);
  run_until(f, &r->done, NULL, NULL);
  nn_api_call_free(c);
  if (!r->status)
    fail_msg("%s %s: no answer: %s", method, path, r->why);
}

static void
resp_free(resp_t *r)
{
  free(r->body);
  r->body = NULL;
}

#define TOKEN(f) nn_api_token((f)->api)

/* The answer is JSON {"error": "..."} with a non-empty message. */
static void
assert_json_error(const resp_t *r)
{
  json_t *j = json_loads(r->body, 0, NULL);
  if (!j || !json_is_string(json_object_get(j, "error")) || !*json_string_value(json_object_get(j, "error")))
    fail_msg("not a JSON error body: %s", r->body);
  json_decref(j);
}

/* ---- raw sockets ---- */

static int
connect_to(const char *address)
{
  int fd;
  if (!strncmp(address, "unix:", 5)) {
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", address + 5);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  } else {
    struct sockaddr_in sin;
    const char *colon = strrchr(address, ':');
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)atoi(colon + 1));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* Send req over fd and collect the answer until EOF (or until \a until appears), running the
 * server's loop meanwhile. Returns the bytes read (NUL-terminated in out). */
static size_t
raw_exchange(fx_t *f, int fd, const void *req_in, size_t len, char *out, size_t cap, const char *until)
{
  size_t sent = 0, got = 0;
  double end = now_s() + SAFETY_S;
  /* "Host: x" in a request stands for the API's own address, which the API checks (DNS
   * rebinding); the tests of foreign hosts spell theirs out */
  const char *hx = memmem(req_in, len, "\r\nHost: x\r\n", 11);
  char *req = malloc(len + 128);
  assert_non_null(req);
  if (hx) {
    size_t pre = (size_t)(hx - (const char *)req_in) + 8, n;
    memcpy(req, req_in, pre);
    n = (size_t)snprintf(req + pre, 100, "%s", nn_api_address(f->api));
    memcpy(req + pre + n, hx + 9, len - pre - 1);
    len += n - 1;
  } else {
    memcpy(req, req_in, len);
  }
  out[0] = 0;
  for (;;) {
    if (sent < len) {
      ssize_t w = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);
      if (w > 0)
        sent += (size_t)w;
      else if (w < 0 && errno != EAGAIN)
        sent = len; /* the server closed early; read what it said */
    }
    ssize_t r = recv(fd, out + got, cap - 1 - got, 0);
    if (r > 0) {
      got += (size_t)r;
      out[got] = 0;
      if ((until && strstr(out, until)) || got == cap - 1)
        break;
      continue;
    }
    if (r == 0 || (r < 0 && errno != EAGAIN))
      break;
    if (now_s() > end)
      fail_msg("raw exchange: no end within %d s (got %zu bytes)", SAFETY_S, got);
    event_base_loop(f->base, EVLOOP_ONCE);
  }
  free(req);
  return got;
}

static int
raw_status(const char *resp)
{
  int major, minor, code;
  if (sscanf(resp, "HTTP/%d.%d %d", &major, &minor, &code) != 3)
    return 0;
  return code;
}

static size_t
raw(fx_t *f, const char *address, const char *req, char *out, size_t cap)
{
  int fd = connect_to(address);
  size_t n = raw_exchange(f, fd, req, strlen(req), out, cap, NULL);
  close(fd);
  return n;
}

/* ---- tests: the parsers on their own ---- */

static int
submit_str(const char *ctype, const char *body, size_t max_tx, nn_api_body_t *b, char why[512])
{
  return nn_api_parse_submit(ctype, (const uint8_t *)body, strlen(body), max_tx, b, why, 512);
}

static void
test_parsers(void **state)
{
  uint8_t tok[NN_API_TOKEN_LEN], tok2[NN_API_TOKEN_LEN];
  char why[512], hex[NN_API_TOKEN_HEX + 4], hdr[100];
  nn_api_query_t q;
  nn_api_body_t b;
  (void)state;

  assert_int_equal(nn_api_parse_ctype(NULL), NN_API_CT_MISSING);
  assert_int_equal(nn_api_parse_ctype("  "), NN_API_CT_MISSING);
  assert_int_equal(nn_api_parse_ctype("application/octet-stream"), NN_API_CT_RAW);
  assert_int_equal(nn_api_parse_ctype("Application/JSON; charset=utf-8"), NN_API_CT_JSON);
  assert_int_equal(nn_api_parse_ctype("application/json ; x=y"), NN_API_CT_JSON);
  assert_int_equal(nn_api_parse_ctype("application/jsonx"), NN_API_CT_OTHER);
  assert_int_equal(nn_api_parse_ctype("application/json x"), NN_API_CT_OTHER);
  assert_int_equal(nn_api_parse_ctype("text/plain"), NN_API_CT_OTHER);

  assert_int_equal(submit_str("application/json", "{\"tx\":\"0aFf\"}", 10, &b, why), 200);
  assert_int_equal(b.len, 2);
  assert_int_equal(b.tx[0], 0x0a);
  assert_int_equal(b.tx[1], 0xff);
  nn_api_body_free(&b);
  assert_int_equal(submit_str("application/json", "{\"tx\":\"00000000\"}", 3, &b, why), 413);
  assert_null(b.owned);
  assert_int_equal(submit_str("application/json", "{\"tx\":\"00\",\"tx\":\"01\"}", 3, &b, why), 400);
  /* a quoted bad field name comes back sanitized (no quote, no control byte) */
  assert_int_equal(submit_str("application/json", "{\"a\\\"\\n\":1}", 3, &b, why), 400);
  assert_non_null(strstr(why, "a??"));

  assert_int_equal(nn_api_parse_query(NULL, 0, 10, "/x", &q, why, sizeof(why)), 200);
  assert_int_equal(q.limit, NN_API_DEFAULT_LIMIT);
  assert_int_equal(
    nn_api_parse_query("since=9223372036854775807&limit=1000&wait=10&data=1", 0xf, 10, "/x", &q, why, sizeof(why)),
    200);
  assert_true(q.since == 9223372036854775807ull && q.limit == 1000 && q.wait_s == 10 && q.data == 1);
  assert_int_equal(nn_api_parse_query("since=9223372036854775808", 0xf, 10, "/x", &q, why, sizeof(why)), 400);
  assert_int_equal(nn_api_parse_query("since=99999999999999999999999", 0xf, 10, "/x", &q, why, sizeof(why)), 400);
  assert_int_equal(nn_api_parse_query("wait=11", 0xf, 10, "/x", &q, why, sizeof(why)), 400);
  assert_non_null(strstr(why, "0 to 10"));

  memset(tok, 0x5c, sizeof(tok));
  nn_hex_encode(hex, tok, sizeof(tok));
  strcat(hex, "\n");
  assert_int_equal(nn_api_parse_token((const uint8_t *)hex, strlen(hex), tok2), NN_OK);
  assert_memory_equal(tok, tok2, sizeof(tok));
  assert_int_equal(nn_api_parse_token((const uint8_t *)hex, strlen(hex) - 1, tok2), NN_OK);
  assert_int_equal(nn_api_parse_token((const uint8_t *)hex, strlen(hex) - 2, tok2), NN_ERR_FORMAT);
  hex[10] = 'g';
  assert_int_equal(nn_api_parse_token((const uint8_t *)hex, strlen(hex), tok2), NN_ERR_FORMAT);

  nn_hex_encode(hex, tok, sizeof(tok));
  snprintf(hdr, sizeof(hdr), "bearer   %s", hex);
  assert_int_equal(nn_api_parse_bearer(hdr, tok2), NN_OK);
  assert_memory_equal(tok, tok2, sizeof(tok));
  snprintf(hdr, sizeof(hdr), "Bearer %s ", hex);
  assert_int_equal(nn_api_parse_bearer(hdr, tok2), NN_ERR_FORMAT);
  snprintf(hdr, sizeof(hdr), "Basic %s", hex);
  assert_int_equal(nn_api_parse_bearer(hdr, tok2), NN_ERR_FORMAT);
  assert_int_equal(nn_api_parse_bearer("Bearer", tok2), NN_ERR_FORMAT);
}

/* ---- tests: submit ---- */

static void
check_submit_ok(fx_t *f, const resp_t *r, const uint8_t *tx, size_t len)
{
  nn_hash_t id;
  char idhex[65];
  json_t *j = json_loads(r->body, 0, NULL);
  assert_int_equal(r->status, 200);
  assert_non_null(j);
  assert_int_equal(nn_sha3_256(&id, tx, len), NN_OK);
  nn_hex_encode(idhex, id.b, 32);
  assert_string_equal(json_string_value(json_object_get(j, "id")), idhex);
  assert_string_equal(json_string_value(json_object_get(j, "mode")), "dandelion");
  assert_int_equal(json_integer_value(json_object_get(j, "len")), len);
  assert_int_equal(f->fake.last_len, len);
  assert_memory_equal(f->fake.last, tx, len);
  json_decref(j);
}

static void
test_submit_raw_and_json(void **state)
{
  fx_t *f = *state;
  uint8_t tx[40];
  char json[200], hex[81];
  resp_t r;

  for (size_t i = 0; i < sizeof(tx); i++)
    tx[i] = (uint8_t)(i * 7 + 1);
  request(f, TOKEN(f), "POST", "/v1/tx", tx, sizeof(tx), "application/octet-stream", &r);
  check_submit_ok(f, &r, tx, sizeof(tx));
  resp_free(&r);
  assert_int_equal(f->fake.calls, 1);

  tx[0] ^= 0xff;
  nn_hex_encode(hex, tx, sizeof(tx));
  hex[5] = (char)(hex[5] >= 'a' ? hex[5] - 32 : hex[5]); /* upper case is fine too */
  snprintf(json, sizeof(json), "{\"tx\": \"%s\"}", hex);
  request(f, TOKEN(f), "POST", "/v1/tx", json, strlen(json), "application/json; charset=utf-8", &r);
  check_submit_ok(f, &r, tx, sizeof(tx));
  resp_free(&r);
  assert_int_equal(f->fake.calls, 2);
  assert_int_equal(f->fake.accepted, 2);
}

typedef struct bad_t {
  const char *what, *ctype, *body;
  int status;
} bad_t;

static void
test_submit_bad_input(void **state)
{
  fx_t *f = *state;
  static const bad_t bad[] = {
    { "malformed JSON", "application/json", "{\"tx\": \"00", 400 },
    { "JSON not an object", "application/json", "[\"00\"]", 400 },
    { "missing tx", "application/json", "{}", 400 },
    { "tx not a string", "application/json", "{\"tx\": 12}", 400 },
    { "non-hex tx", "application/json", "{\"tx\": \"zz00\"}", 400 },
    { "odd-length tx", "application/json", "{\"tx\": \"abc\"}", 400 },
    { "empty tx", "application/json", "{\"tx\": \"\"}", 400 },
    { "unknown field", "application/json", "{\"tx\": \"00\", \"fee\": 1}", 400 },
    { "duplicate tx", "application/json", "{\"tx\": \"00\", \"tx\": \"01\"}", 400 },
    { "trailing garbage", "application/json", "{\"tx\": \"00\"} x", 400 },
    { "empty JSON body", "application/json", "", 400 },
    { "empty raw body", "application/octet-stream", "", 400 },
    { "text/plain", "text/plain", "0011", 415 },
    { "form", "application/x-www-form-urlencoded", "tx=00", 415 },
    { "no content type", NULL, "0011", 415 },
  };
  resp_t r;
  uint8_t *big;
  size_t nrx = f->fake.nrx;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    request(f, TOKEN(f), "POST", "/v1/tx", bad[i].body, strlen(bad[i].body), bad[i].ctype, &r);
    if (r.status != bad[i].status)
      fail_msg("%s: status %d, expected %d (%s)", bad[i].what, r.status, bad[i].status, r.body);
    assert_json_error(&r);
    resp_free(&r);
    assert_int_equal(f->fake.calls, 0);
  }

  /* over max_body: libevent refuses it (413) before the API runs */
  big = calloc(1, f->cfg.max_body + 1);
  assert_non_null(big);
  request(f, TOKEN(f), "POST", "/v1/tx", big, f->cfg.max_body + 1, "application/octet-stream", &r);
  assert_int_equal(r.status, 413);
  resp_free(&r);
  /* a JSON tx whose hex is within max_body but which the node finds too large: 413 from the
   * node's NN_ERR_TOO_LONG (the node was asked, and refused: nothing accepted) */
  request(f, TOKEN(f), "POST", "/v1/tx", big, FAKE_CAP + 1, "application/octet-stream", &r);
  assert_int_equal(r.status, 413);
  assert_json_error(&r);
  resp_free(&r);
  free(big);
  assert_int_equal(f->fake.calls, 1);
  assert_int_equal(f->fake.accepted, 0);
  assert_int_equal(f->fake.nrx, nrx);

  /* an oversized body sent in full, chunked or not: libevent reads it to the end (lingering
   * close) and answers 413, so the client gets the status instead of a connection reset */
  char out[4096];
  size_t hl, blen = 64 << 10;
  char *req = malloc(blen + 512);
  assert_non_null(req);
  hl = (size_t)snprintf(req, 512,
                        "POST /v1/tx HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                        "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n",
                        TOKEN(f), blen);
  memset(req + hl, 'x', blen);
  int fd = connect_to(nn_api_address(f->api));
  raw_exchange(f, fd, req, hl + blen, out, sizeof(out), NULL);
  close(fd);
  assert_int_equal(raw_status(out), 413);
  hl = (size_t)snprintf(req, 512,
                        "POST /v1/tx HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                        "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
                        "Connection: close\r\n\r\n%zx\r\n",
                        TOKEN(f), blen);
  memset(req + hl, 'x', blen);
  memcpy(req + hl + blen, "\r\n0\r\n\r\n", 7);
  fd = connect_to(nn_api_address(f->api));
  raw_exchange(f, fd, req, hl + blen + 7, out, sizeof(out), NULL);
  close(fd);
  free(req);
  assert_int_equal(raw_status(out), 411); /* bodies must say their length (api_gate.h) */

  /* malformed HTTP: a 400 from libevent, the node untouched */
  raw(f, nn_api_address(f->api), "GARBAGE\r\n\r\n", out, sizeof(out));
  assert_int_equal(raw_status(out), 400);
  assert_int_equal(f->fake.calls, 1);
  assert_int_equal(f->fake.accepted, 0);
}

/* ---- tests: auth, routes, methods, queries ---- */

static void
test_auth(void **state)
{
  fx_t *f = *state;
  char wrong[65], out[4096], req[512];
  resp_t r;

  request(f, NULL, "POST", "/v1/tx", "\x01\x02", 2, "application/octet-stream", &r);
  assert_int_equal(r.status, 401);
  assert_json_error(&r);
  resp_free(&r);

  snprintf(wrong, sizeof(wrong), "%s", TOKEN(f));
  wrong[63] = wrong[63] == '0' ? '1' : '0';
  request(f, wrong, "POST", "/v1/tx", "\x01\x02", 2, "application/octet-stream", &r);
  assert_int_equal(r.status, 401);
  assert_non_null(strstr(r.body, "unauthorized"));
  resp_free(&r);
  request(f, wrong, "GET", "/v1/status", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 401);
  resp_free(&r);
  /* without the token not even a 404 gives the routes away */
  request(f, wrong, "GET", "/nope", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 401);
  resp_free(&r);

  /* the challenge header, a short token, another scheme */
  raw(f, nn_api_address(f->api), "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof(out));
  assert_int_equal(raw_status(out), 401);
  assert_non_null(strcasestr(out, "WWW-Authenticate: Bearer"));
  raw(f, nn_api_address(f->api),
      "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ab\r\n"
      "Connection: close\r\n\r\n",
      out, sizeof(out));
  assert_int_equal(raw_status(out), 401);
  snprintf(req, sizeof(req),
           "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
           "Connection: close\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 401);
  assert_int_equal(f->fake.calls, 0);

  uint64_t served, refused;
  nn_api_counts(f->api, &served, &refused);
  assert_int_equal(served, 7);
  assert_int_equal(refused, 7);
  assert_null(strcasestr(out, "realm")); /* nothing that names the product (issue 10, item 11) */
  assert_null(strcasestr(out, "nepnet"));

  /* refused on the headers alone (issue 10, item 10): a 16 MB upload without the token is
   * answered before its body is sent (the client here never sends it); a page's request (Origin)
   * and a foreign Host (DNS rebinding) are refused even with the token */
  raw(f, nn_api_address(f->api),
      "POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 16000000\r\n\r\n", out,
      sizeof(out));
  assert_int_equal(raw_status(out), 401);
  snprintf(req, sizeof(req),
           "GET /v1/status HTTP/1.1\r\nHost: x\r\nOrigin: http://example.com\r\nAuthorization: Bearer %s\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 403);
  snprintf(req, sizeof(req), "GET /v1/status HTTP/1.1\r\nHost: rebind.example:80\r\nAuthorization: Bearer %s\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 403);
  /* a route that takes no body refuses one above 4 KiB, before reading it */
  snprintf(req, sizeof(req),
           "POST /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 413);
  /* a forged refusal (no nonce) is just an unknown route */
  snprintf(req, sizeof(req),
           "GET " NN_API_GATE_REFUSED_PATH " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" NN_API_GATE_HEADER
           ": 200 00000000000000000000000000000000\r\nConnection: close\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 404);

  /* the status page (issue 17): its files without a token, kept to themselves by their headers;
   * its own requests (its Origin) with the token; never a token in a URL */
  raw(f, nn_api_address(f->api), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof(out));
  assert_int_equal(raw_status(out), 200);
  assert_non_null(strcasestr(out, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
  assert_non_null(strcasestr(out, "frame-ancestors 'none'"));
  assert_non_null(strcasestr(out, "X-Frame-Options: DENY"));
  assert_non_null(strcasestr(out, "Content-Type: text/html"));
  assert_null(strcasestr(out, "Access-Control-Allow"));
  raw(f, nn_api_address(f->api), "GET /ui/dygraph.min.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
      sizeof(out));
  assert_int_equal(raw_status(out), 200);
  assert_non_null(strcasestr(out, "Content-Type: text/javascript"));
  raw(f, nn_api_address(f->api), "GET /ui/nope.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof(out));
  assert_int_equal(raw_status(out), 404);
  snprintf(req, sizeof(req),
           "GET /v1/status HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nSec-Fetch-Site: same-origin\r\n"
           "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
           nn_api_address(f->api), nn_api_address(f->api), TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 200);
  assert_null(strcasestr(out, "Access-Control-Allow"));
  snprintf(req, sizeof(req),
           "GET /v1/status HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:1\r\nAuthorization: Bearer %s\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 403);
  assert_non_null(strstr(out, "cross-origin"));
  /* a CORS preflight from another page: refused, and no Access-Control-Allow-* to read */
  raw(f, nn_api_address(f->api),
      "OPTIONS /v1/status HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: "
      "GET\r\n\r\n",
      out, sizeof(out));
  assert_int_equal(raw_status(out), 403);
  assert_null(strcasestr(out, "Access-Control-Allow"));
  snprintf(req, sizeof(req), "GET /v1/status?token=%s HTTP/1.1\r\nHost: x\r\n\r\n", TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 400);
  assert_non_null(strstr(out, "never in the URL"));
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: rebind.test:%s\r\n\r\n",
           strrchr(nn_api_address(f->api), ':') + 1);
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 403);
  assert_non_null(strstr(out, "DNS rebinding"));
  assert_int_equal(f->fake.calls, 0); /* none of these reached a handler that acts */

  /* the page's files: every one served with its type; all of them under 400 KB (issue 17) */
  size_t total = 0;
  for (const nn_ui_asset_t *a = nn_ui_assets; a->path; a++) {
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", a->path);
    raw(f, nn_api_address(f->api), req, out, sizeof(out));
    assert_int_equal(raw_status(out), 200);
    assert_non_null(strstr(out, a->content_type));
    total += a->len;
  }
  assert_true(total < 400000);
}

/* GET /v1/events: the node's event ring (events.h) as an NDJSON stream from since on, then what
 * comes; GET /v1/history. */
static void
test_events(void **state)
{
  fx_t *f = *state;
  resp_t r;
  json_t *j;
  nn_events_line_t l[4];
  uint64_t next;

  assert_int_equal(nn_events_add(f->fake.events, "start", json_pack("{s:s}", "node_id", "ab"), 1000), 1);
  assert_int_equal(nn_events_add(f->fake.events, "peer-up", json_pack("{s:s}", "path", "tcp"), 1001), 2);
  nn_api_call_t *c = start(f, TOKEN(f), "GET", "/v1/events?since=2", NULL, 0, NULL, &r, 1);
  wait_streams(f, 1);
  while (r.nlines < 1 && !r.done)
    event_base_loop(f->base, EVLOOP_ONCE);
  assert_int_equal(r.nlines, 1);
  assert_non_null(strstr(r.lines[0], "{\"seq\":2,\"unix_ms\":1001,\"type\":\"peer-up\",\"path\":\"tcp\"}"));
  for (int i = 0; i < 3; i++)
    nn_events_add(f->fake.events, "own-tx", json_pack("{s:i}", "n", i), 2000 + (uint64_t)i);
  nn_api_notify(f->api);
  double end = now_s() + SAFETY_S;
  while (r.nlines < 4 && !r.done && now_s() < end)
    event_base_loop(f->base, EVLOOP_ONCE);
  assert_int_equal(r.nlines, 4);
  for (int i = 1; i < 4; i++) {
    assert_non_null(j = json_loads(r.lines[i], 0, NULL));
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 2 + i);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "own-tx");
    json_decref(j);
  }
  nn_api_call_free(c);
  wait_streams(f, 0);
  resp_free(&r);

  /* the ring keeps the last NN_EVENTS_MAX; a reader from 1 starts at the oldest kept */
  for (int i = 0; i < NN_EVENTS_MAX; i++)
    nn_events_add(f->fake.events, "x", NULL, 3000);
  assert_int_equal(nn_events_last(f->fake.events), 5 + NN_EVENTS_MAX);
  assert_int_equal(nn_events_get(f->fake.events, 1, l, 4, &next), 4);
  assert_int_equal(l[0].seq, 6);
  assert_int_equal(next, 10);
  assert_int_equal(nn_events_get(f->fake.events, 6 + NN_EVENTS_MAX, l, 4, &next), 0);
  assert_int_equal(next, 6 + NN_EVENTS_MAX);
  /* an event too long to keep is counted, not kept */
  char big[NN_EVENTS_LINE_MAX + 1];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(nn_events_add(f->fake.events, "x", json_pack("{s:s}", "big", big), 1), 0);
  assert_int_equal(nn_events_lost(f->fake.events), 1);

  /* the history: NN_HISTORY_MAX samples, oldest first */
  for (uint64_t i = 0; i < NN_HISTORY_MAX + 5; i++) {
    nn_history_sample_t s = { 1000 + i, i, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(nn_history_add(f->fake.history, &s), NN_OK);
  }
  assert_int_equal(nn_history_count(f->fake.history), NN_HISTORY_MAX);
  assert_int_equal(nn_history_get(f->fake.history, 0)->unix_ms, 1005);
  request(f, TOKEN(f), "GET", "/v1/history", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(j = json_loads(r.body, 0, NULL));
  assert_int_equal(json_array_size(json_object_get(j, "samples")), NN_HISTORY_MAX);
  json_decref(j);
  resp_free(&r);
  /* GET /v1/node: this fake keeps none */
  request(f, TOKEN(f), "GET", "/v1/node", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 503);
  resp_free(&r);
}

/* ---- the gate on its own (api_gate.h) ---- */

typedef struct gate_sink_t {
  char buf[8192];
  size_t len;
} gate_sink_t;

static void
gate_sink(void *ctx, const uint8_t *p, size_t n)
{
  gate_sink_t *k = ctx;
  assert_true(k->len + n < sizeof(k->buf));
  memcpy(k->buf + k->len, p, n);
  k->len += n;
  k->buf[k->len] = 0;
}

static nn_api_gate_cfg_t gate_cfg_for_tests;

/* Feed \a req whole, or byte by byte; what passed lands in \a k. */
static int
gate_run(const char *req, size_t len, int bytewise, gate_sink_t *k)
{
  static nn_api_gate_t g;
  int st = 0;
  nn_api_gate_clear(&g); /* what the previous run left */
  nn_api_gate_init(&g, &gate_cfg_for_tests);
  memset(k, 0, sizeof(*k));
  if (!bytewise)
    return nn_api_gate_feed(&g, (const uint8_t *)req, len, gate_sink, k);
  for (size_t i = 0; i < len; i++)
    st = nn_api_gate_feed(&g, (const uint8_t *)req + i, 1, gate_sink, k);
  return st;
}

/* \a tmpl with @T replaced by the token in hex, @W by a wrong one; returns the length. */
static size_t
subst(char *out, const char *tmpl, const char *tokhex)
{
  size_t n = 0;
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '@' && (p[1] == 'T' || p[1] == 'W')) {
      memcpy(out + n, tokhex, NN_API_TOKEN_HEX);
      if (p[1] == 'W')
        out[n] = out[n] == '0' ? '1' : '0';
      n += NN_API_TOKEN_HEX;
      p++;
      continue;
    }
    out[n++] = *p;
  }
  out[n] = 0;
  return n;
}

static void
test_gate(void **state)
{
  (void)state;
  nn_api_gate_cfg_t *c = &gate_cfg_for_tests;
  char tokhex[NN_API_TOKEN_HEX + 1], req[20000];
  gate_sink_t k;
  memset(c, 0, sizeof(*c));
  memset(c->token, 0x5c, sizeof(c->token));
  nn_hex_encode(tokhex, c->token, sizeof(c->token));
  snprintf(c->hosts[0], sizeof(c->hosts[0]), "127.0.0.1:9801");
  snprintf(c->hosts[1], sizeof(c->hosts[1]), "localhost:9801");
  c->nhosts = 2;
  c->small_body = 16;
  c->big_body = 100;
  memset(c->nonce, 'a', NN_API_GATE_NONCE_HEX);

  for (int bytewise = 0; bytewise < 2; bytewise++) {
    /* two pipelined requests, the first with a body, the host in another case: all passes */
    int n = snprintf(req, sizeof(req),
                     "\r\nPOST /v1/tx?x=1 HTTP/1.1\r\nHost: LOCALHOST:9801\r\nauthorization:  Bearer %s \r\n"
                     "Content-Length: 5\r\n\r\nhelloGET /v1/status HTTP/1.1\nHost: 127.0.0.1:9801\n"
                     "Authorization: Bearer %s\n\n",
                     tokhex, tokhex);
    assert_int_equal(gate_run(req, (size_t)n, bytewise, &k), 0);
    assert_int_equal(k.len, (size_t)n - 2); /* the blank line before the first request is dropped */
    assert_memory_equal(k.buf, req + 2, k.len);

    /* what passes: the page's files without a token, the page's own requests (its Origin, or
     * Sec-Fetch-Site same-origin), any port of a loopback name (ssh -L), no port at all */
    static const char *const passes[] = {
      "GET / HTTP/1.1\r\nHost: localhost:9801\r\n\r\n",
      "HEAD /ui/app.js HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nSec-Fetch-Site: same-origin\r\n\r\n",
      "GET /ui/nope.js HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nSec-Fetch-Site: none\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nOrigin: http://127.0.0.1:8000\r\nAuthorization: Bearer "
      "@T\r\n\r\n",
      "POST /v1/tx HTTP/1.1\r\nHost: [::1]:9801\r\nOrigin: http://[::1]:9801\r\nSec-Fetch-Site: "
      "same-origin\r\nAuthorization: Bearer @T\r\nContent-Length: 2\r\n\r\nhi",
      "GET /v1/txs?since=3&tokens=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer @T\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
      n = (int)subst(req, passes[i], tokhex);
      int st = gate_run(req, (size_t)n, bytewise, &k);
      if (st || k.len != (size_t)n)
        fail_msg("pass %zu (%s): status %d, %zu of %d bytes through", i, bytewise ? "bytewise" : "whole", st, k.len, n);
    }

    /* each refusal, with the status and the nonce in the synthetic request, and nothing after */
    static const struct {
      const char *head;
      int status, why;
    } cases[] = {
      { "GET /v1/status HTTP/1.1\r\nHost: localhost:9801\r\nOrigin: null\r\nAuthorization: Bearer @T\r\n\r\n", 403,
        NN_API_GATE_WHY_ORIGIN },
      { "GET /v1/status HTTP/1.1\r\nHost: evil:9801\r\nAuthorization: Bearer @T\r\n\r\n", 403, NN_API_GATE_WHY_HOST },
      { "GET /v1/status HTTP/1.1\r\nAuthorization: Bearer @T\r\n\r\n", 403, NN_API_GATE_WHY_HOST }, /* no Host */
      /* rebinding: a name that starts like ours, a port that is not one */
      { "GET / HTTP/1.1\r\nHost: 127.0.0.1.evil.example:9801\r\n\r\n", 403, NN_API_GATE_WHY_HOST },
      { "GET / HTTP/1.1\r\nHost: localhost:98x1\r\n\r\n", 403, NN_API_GATE_WHY_HOST },
      { "GET / HTTP/1.1\r\nHost: [::1]x:9801\r\n\r\n", 403, NN_API_GATE_WHY_HOST },
      /* another page, even on another port of 127.0.0.1 ("same-site" to a browser) */
      { "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nOrigin: http://127.0.0.1:9802\r\nAuthorization: Bearer "
        "@T\r\n\r\n",
        403, NN_API_GATE_WHY_ORIGIN },
      { "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nOrigin: https://127.0.0.1:9801\r\nAuthorization: Bearer "
        "@T\r\n\r\n",
        403, NN_API_GATE_WHY_ORIGIN },
      { "POST /v1/tx HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nOrigin: http://127.0.0.1:9801\r\nOrigin: "
        "http://evil\r\nAuthorization: Bearer @T\r\n\r\n",
        400, 0 },
      { "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nSec-Fetch-Site: cross-site\r\nAuthorization: Bearer "
        "@T\r\n\r\n",
        403, NN_API_GATE_WHY_FETCH_SITE },
      { "GET / HTTP/1.1\r\nHost: 127.0.0.1:9801\r\nSec-Fetch-Site: same-site\r\n\r\n", 403,
        NN_API_GATE_WHY_FETCH_SITE },
      /* the token in a URL: refused even when right, and before the token is looked at */
      { "GET /v1/status?token=@T HTTP/1.1\r\nHost: localhost:9801\r\n\r\n", 400, NN_API_GATE_WHY_QUERY_TOKEN },
      { "GET /v1/txs?since=1&Access_Token=@T HTTP/1.1\r\nHost: localhost:9801\r\nAuthorization: Bearer @T\r\n\r\n", 400,
        NN_API_GATE_WHY_QUERY_TOKEN },
      { "GET /?token HTTP/1.1\r\nHost: localhost:9801\r\n\r\n", 400, NN_API_GATE_WHY_QUERY_TOKEN },
      /* what is not the page's files needs the token */
      { "POST / HTTP/1.1\r\nHost: localhost:9801\r\n\r\n", 401, 0 },
      { "GET / HTTP/1.1\r\nHost: localhost:9801\r\nContent-Length: 3\r\n\r\n", 401, 0 },
      { "GET /ui HTTP/1.1\r\nHost: localhost:9801\r\n\r\n", 401, 0 },
      { "GET /uix/app.js HTTP/1.1\r\nHost: localhost:9801\r\n\r\n", 401, 0 },
      { "GET /v1/events HTTP/1.1\r\nHost: localhost:9801\r\n\r\n", 401, 0 },
      { "POST /v1/tx HTTP/1.1\r\nHost: localhost:9801\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer "
        "@T\r\n\r\n",
        411, 0 },
      { "GET /v1/status HTTP/1.1\r\nHost: localhost:9801\r\nX: @T\r\n\r\n", 401, 0 },
      { "GET /v1/status HTTP/1.1\r\nHost: localhost:9801\r\nAuthorization: Bearer @W\r\n\r\n", 401, 0 },
      { "GET /v1/status HTTP/1.1\r\nHost: localhost:9801\r\nAuthorization: Bearer @T\r\nContent-Length: 17\r\n\r\n",
        413, 0 },
      { "POST /v1/tx HTTP/1.1\r\nHost: localhost:9801\r\nAuthorization: Bearer @T\r\nContent-Length: 101\r\n\r\n", 413,
        0 },
      { "POST /v1/tx HTTP/1.1\r\nHost: localhost:9801\r\nAuthorization: Bearer @T\r\nContent-Length: 1\r\n"
        "Content-Length: 1\r\n\r\n",
        400, 0 },
      { "GET /v1/status HTTP/1.1\r\nHost: localhost:9801\r\n folded\r\nAuthorization: Bearer @T\r\n\r\n", 400, 0 },
      { "GET /v1/status\r\nHost: localhost:9801\r\nAuthorization: Bearer @T\r\n\r\n", 400, 0 },
      { "POST /v1/tx HTTP/1.1\r\nHost: localhost:9801\r\nAuthorization: Bearer @T\r\nContent-Length: 1x\r\n\r\n", 400,
        0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      char want[64];
      n = (int)subst(req, cases[i].head, tokhex);
      memcpy(req + n, "trailing bytes", 14); /* a body that must never pass */
      int st = gate_run(req, (size_t)n + 14, bytewise, &k);
      if (st != cases[i].status)
        fail_msg("case %zu (%s): status %d, want %d", i, bytewise ? "bytewise" : "whole", st, cases[i].status);
      snprintf(want, sizeof(want), NN_API_GATE_HEADER ": %d %d aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", st, cases[i].why);
      if (!strstr(k.buf, want))
        fail_msg("case %zu: no \"%s\" in %s", i, want, k.buf);
      assert_non_null(strstr(k.buf, "GET " NN_API_GATE_REFUSED_PATH " HTTP/1.1\r\n"));
      assert_null(strstr(k.buf, "trailing"));
      assert_null(strstr(k.buf, tokhex)); /* the token never reaches evhttp from a refused request */
    }
  }
  /* a header section that never ends: refused at NN_API_GATE_HEAD_MAX */
  memset(req, 'a', sizeof(req));
  assert_int_equal(gate_run(req, NN_API_GATE_HEAD_MAX + 10, 0, &k), 431);
  /* no hosts configured (a Unix socket): any Host, or none, is fine */
  c->nhosts = 0;
  int n = snprintf(req, sizeof(req), "GET /v1/status HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", tokhex);
  assert_int_equal(gate_run(req, (size_t)n, 0, &k), 0);
  assert_int_equal(k.len, (size_t)n);
  gate_run("", 0, 0, &k); /* frees the last run's buffer */
}

static void
test_routes_and_methods(void **state)
{
  fx_t *f = *state;
  char out[4096], req[512];
  resp_t r;

  request(f, TOKEN(f), "GET", "/v1/nothing", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 404);
  assert_json_error(&r);
  resp_free(&r);
  request(f, TOKEN(f), "GET", "/v1/status/", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 404);
  resp_free(&r);
  request(f, TOKEN(f), "GET", "/v1/tx", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 405);
  assert_json_error(&r);
  resp_free(&r);
  /* GET /v1/tx/ID: a malformed id is a 400; any well-formed one this node does not call its own
   * is the one 404 (the node answers the same for an unknown id and another node's transaction) */
  request(f, TOKEN(f), "GET", "/v1/tx/12zz", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 400);
  assert_json_error(&r);
  resp_free(&r);
  request(f, TOKEN(f), "GET", "/v1/tx/000000000000000000000000000000000000000000000000000000000000abcd", NULL, 0, NULL,
          &r);
  assert_int_equal(r.status, 404);
  assert_json_error(&r);
  resp_free(&r);
  request(f, TOKEN(f), "GET", "/v1/own-txs", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 503); /* this fake node keeps no timelines */
  resp_free(&r);
  request(f, TOKEN(f), "POST", "/v1/status", "{}", 2, "application/json", &r);
  assert_int_equal(r.status, 405);
  resp_free(&r);
  request(f, TOKEN(f), "DELETE", "/v1/txs", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 405);
  resp_free(&r);
  request(f, TOKEN(f), "PUT", "/v1/tx", "\x01", 1, "application/octet-stream", &r);
  assert_int_equal(r.status, 405);
  resp_free(&r);

  snprintf(req, sizeof(req),
           "GET /v1/tx HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 405);
  assert_non_null(strcasestr(out, "\r\nAllow: POST\r\n"));
  assert_non_null(strcasestr(out, "Content-Type: application/json"));
  assert_int_equal(f->fake.calls, 0);
}

static void
test_bad_query(void **state)
{
  fx_t *f = *state;
  static const char *bad[] = {
    "/v1/txs?foo=1",
    "/v1/txs?since=-1",
    "/v1/txs?since=1x",
    "/v1/txs?since=",
    "/v1/txs?since",
    "/v1/txs?limit=0",
    "/v1/txs?limit=1001",
    "/v1/txs?wait=11",
    "/v1/txs?data=2",
    "/v1/txs?since=1&since=2",
    "/v1/txs?since=1&&limit=2",
    "/v1/txs?since=%31",
    "/v1/txs?since=+1",
    "/v1/txs/stream?limit=5",
    "/v1/txs/stream?wait=1",
    "/v1/status?verbose=1",
    "/v1/peers?x",
    "/metrics?a=b",
    "/v1/txs?since=1&",
  };
  resp_t r;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    request(f, TOKEN(f), "GET", bad[i], NULL, 0, NULL, &r);
    if (r.status != 400)
      fail_msg("%s: status %d (%s)", bad[i], r.status, r.body);
    assert_json_error(&r);
    resp_free(&r);
  }
  request(f, TOKEN(f), "POST", "/v1/tx?fee=1", "\x01", 1, "application/octet-stream", &r);
  assert_int_equal(r.status, 400);
  resp_free(&r);
  assert_int_equal(f->fake.calls, 0);
  assert_int_equal(nn_api_open_streams(f->api), 0);
}

/* ---- tests: status, peers, metrics ---- */

static void
test_status_peers_metrics(void **state)
{
  fx_t *f = *state;
  char out[8192], req[512];
  resp_t r;
  json_t *j;

  request(f, TOKEN(f), "GET", "/v1/status", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(j = json_loads(r.body, 0, NULL));
  assert_string_equal(json_string_value(json_object_get(j, "network")), "regtest");
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "epoch"), "role")), "stem");
  json_decref(j);
  resp_free(&r);

  request(f, TOKEN(f), "GET", "/v1/peers", NULL, 0, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(j = json_loads(r.body, 0, NULL));
  assert_int_equal(json_array_size(json_object_get(j, "peers")), 1);
  assert_true(json_is_true(json_object_get(json_array_get(json_object_get(j, "peers"), 0), "stem_relay")));
  json_decref(j);
  resp_free(&r);

  snprintf(req, sizeof(req),
           "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\n\r\n",
           TOKEN(f));
  raw(f, nn_api_address(f->api), req, out, sizeof(out));
  assert_int_equal(raw_status(out), 200);
  assert_non_null(strcasestr(out, "Content-Type: text/plain; version=0.0.4"));
  assert_non_null(strstr(out, "\nnepnet_peers 10\n"));
  assert_non_null(strstr(out, "\nnepnet_api_requests_total 3\n"));
  assert_non_null(strstr(out, "\nnepnet_api_refused_total 0\n"));
}

/* ---- tests: poll, long poll, stream ---- */

static json_t *
get_txs(fx_t *f, const char *path)
{
  resp_t r;
  json_t *j;
  request(f, TOKEN(f), "GET", path, NULL, 0, NULL, &r);
  if (r.status != 200)
    fail_msg("%s: %d %s", path, r.status, r.body);
  j = json_loads(r.body, 0, NULL);
  assert_non_null(j);
  resp_free(&r);
  return j;
}

static void
check_tx(fx_t *f, json_t *t, uint64_t seq, int data)
{
  const fake_rx_t *rx = &f->fake.rx[seq - 1];
  char id[65], hex[200];
  nn_hex_encode(id, rx->id.b, 32);
  assert_int_equal(json_integer_value(json_object_get(t, "seq")), seq);
  assert_string_equal(json_string_value(json_object_get(t, "id")), id);
  assert_int_equal(json_integer_value(json_object_get(t, "len")), rx->len);
  assert_int_equal(json_integer_value(json_object_get(t, "unix_ms")), 1700000000000ull + seq);
  assert_string_equal(json_string_value(json_object_get(t, "via")), "fluff");
  if (rx->from[0])
    assert_string_equal(json_string_value(json_object_get(t, "from")), rx->from);
  else
    assert_true(json_is_null(json_object_get(t, "from")));
  if (data) {
    nn_hex_encode(hex, rx->data, rx->len);
    assert_string_equal(json_string_value(json_object_get(t, "tx")), hex);
  } else {
    assert_null(json_object_get(t, "tx"));
  }
}

static void
test_poll(void **state)
{
  fx_t *f = *state;
  json_t *j, *txs;

  j = get_txs(f, "/v1/txs");
  assert_int_equal(json_array_size(json_object_get(j, "txs")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 0);
  json_decref(j);

  for (int i = 0; i < 3; i++)
    fake_add_small(&f->fake);
  j = get_txs(f, "/v1/txs");
  txs = json_object_get(j, "txs");
  assert_int_equal(json_array_size(txs), 3);
  for (size_t i = 0; i < 3; i++)
    check_tx(f, json_array_get(txs, i), i + 1, 0);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 4);
  json_decref(j);

  j = get_txs(f, "/v1/txs?limit=2&data=1");
  txs = json_object_get(j, "txs");
  assert_int_equal(json_array_size(txs), 2);
  check_tx(f, json_array_get(txs, 0), 1, 1);
  check_tx(f, json_array_get(txs, 1), 2, 1);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 3);
  json_decref(j);

  j = get_txs(f, "/v1/txs?since=3&data=1");
  txs = json_object_get(j, "txs");
  assert_int_equal(json_array_size(txs), 1);
  check_tx(f, json_array_get(txs, 0), 3, 1);
  json_decref(j);

  /* something available: a long poll answers at once */
  j = get_txs(f, "/v1/txs?since=2&wait=10");
  assert_int_equal(json_array_size(json_object_get(j, "txs")), 2);
  json_decref(j);
  assert_int_equal(nn_api_open_streams(f->api), 0);
}

static void
test_long_poll_notify(void **state)
{
  fx_t *f = *state;
  resp_t r;
  json_t *j;
  fake_add_small(&f->fake);
  nn_api_call_t *c = start(f, TOKEN(f), "GET", "/v1/txs?since=2&wait=10&data=1", NULL, 0, NULL, &r, 0);
  wait_streams(f, 1);
  assert_false(r.done);
  nn_api_notify(f->api); /* nothing new for this client: it keeps waiting */
  event_base_loop(f->base, EVLOOP_NONBLOCK);
  assert_int_equal(nn_api_open_streams(f->api), 1);
  fake_add_small(&f->fake);
  nn_api_notify(f->api);
  run_until(f, &r.done, NULL, NULL);
  nn_api_call_free(c);
  assert_int_equal(r.status, 200);
  assert_non_null(j = json_loads(r.body, 0, NULL));
  assert_int_equal(json_array_size(json_object_get(j, "txs")), 1);
  check_tx(f, json_array_get(json_object_get(j, "txs"), 0), 2, 1);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 3);
  json_decref(j);
  resp_free(&r);
  assert_int_equal(nn_api_open_streams(f->api), 0);
}

static void
test_long_poll_timeout(void **state)
{
  fx_t *f = *state;
  resp_t r;
  json_t *j;
  nn_api_call_t *c = start(f, TOKEN(f), "GET", "/v1/txs?since=5&wait=1", NULL, 0, NULL, &r, 0);
  run_until(f, &r.done, NULL, NULL);
  nn_api_call_free(c);
  assert_int_equal(r.status, 200);
  assert_non_null(j = json_loads(r.body, 0, NULL));
  assert_int_equal(json_array_size(json_object_get(j, "txs")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 5);
  json_decref(j);
  resp_free(&r);
  assert_int_equal(nn_api_open_streams(f->api), 0);
}

static void
test_long_poll_cap_and_disconnect(void **state)
{
  fx_t *f = *state;
  resp_t r[5];
  nn_api_call_t *c[5];
  for (int i = 0; i < 4; i++)
    c[i] = start(f, TOKEN(f), "GET", "/v1/txs?wait=10", NULL, 0, NULL, &r[i], i % 2);
  wait_streams(f, 4);
  /* the fifth is over max_streams */
  c[4] = start(f, TOKEN(f), "GET", "/v1/txs/stream", NULL, 0, NULL, &r[4], 1);
  run_until(f, &r[4].done, NULL, NULL);
  assert_int_equal(r[4].status, 503);
  assert_json_error(&r[4]);
  nn_api_call_free(c[4]);
  resp_free(&r[4]);
  /* clients that leave are cleaned up (ASan/LSan would report what is left behind) */
  for (int i = 0; i < 4; i++) {
    assert_false(r[i].done);
    nn_api_call_free(c[i]);
    wait_streams(f, (size_t)(3 - i));
  }
}

static void
test_stream(void **state)
{
  fx_t *f = *state;
  resp_t r;
  json_t *j;
  fake_add_small(&f->fake);
  fake_add_small(&f->fake);
  nn_api_call_t *c = start(f, TOKEN(f), "GET", "/v1/txs/stream?since=2&data=1", NULL, 0, NULL, &r, 1);
  wait_streams(f, 1);
  while (r.nlines < 1 && !r.done)
    event_base_loop(f->base, EVLOOP_ONCE);
  assert_int_equal(r.nlines, 1);
  for (int i = 0; i < 3; i++)
    fake_add_small(&f->fake);
  nn_api_notify(f->api);
  fake_add_small(&f->fake);
  nn_api_notify(f->api);
  double end = now_s() + SAFETY_S;
  while (r.nlines < 5 && !r.done && now_s() < end)
    event_base_loop(f->base, EVLOOP_ONCE);
  assert_false(r.done);
  assert_int_equal(r.nlines, 5);
  for (int i = 0; i < 5; i++) {
    assert_non_null(j = json_loads(r.lines[i], 0, NULL));
    check_tx(f, j, (uint64_t)i + 2, 1);
    json_decref(j);
  }
  /* the client goes away: the stream is released */
  nn_api_call_free(c);
  wait_streams(f, 0);
  resp_free(&r);
}

static void
test_stream_backpressure(void **state)
{
  fx_t *f = *state;
  char req[512];
  char *out = malloc(1 << 20);
  int fd;
  assert_non_null(out);
  f->cfg.max_output = 64 << 10;
  assert_int_equal(fx_start(f), NN_OK);

  /* a client that asks for a stream and then does not read */
  fd = connect_to(nn_api_address(f->api));
  snprintf(req, sizeof(req),
           "GET /v1/txs/stream?data=1 HTTP/1.1\r\nHost: %s\r\nAuthorization: "
           "Bearer %s\r\nConnection: close\r\n\r\n",
           nn_api_address(f->api), TOKEN(f));
  assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
  wait_streams(f, 1);

  /* push far more than the kernel buffers and max_output hold: 4000 x 8 KiB lines */
  memset(f->fake.big, 0xab, sizeof(f->fake.big));
  for (int round = 0; round < 40 && nn_api_open_streams(f->api); round++) {
    for (int i = 0; i < 100; i++)
      fake_add(&f->fake, f->fake.big, sizeof(f->fake.big), NULL);
    nn_api_notify(f->api);
    for (int k = 0; k < 5; k++)
      event_base_loop(f->base, EVLOOP_NONBLOCK);
  }
  assert_int_equal(nn_api_open_streams(f->api), 0); /* dropped, not grown without bound */

  /* the client finally reads: the stream ends with the error line naming where to resume */
  size_t n = 0;
  double end = now_s() + SAFETY_S;
  out[0] = 0;
  for (;;) {
    ssize_t r = recv(fd, out + n, (1 << 20) - 1 - n, 0);
    if (r > 0) {
      n += (size_t)r;
      out[n] = 0;
      if (n > 200000) { /* keep only the tail */
        memmove(out, out + n - 100000, 100000);
        n = 100000;
        out[n] = 0;
      }
      continue;
    }
    if (r == 0 || (r < 0 && errno != EAGAIN))
      break;
    if (now_s() > end)
      fail_msg("stream did not end");
    event_base_loop(f->base, EVLOOP_ONCE);
  }
  assert_non_null(strstr(out, "\"error\":\"stream dropped"));
  assert_non_null(strstr(out, "reconnect with since="));
  close(fd);
  free(out);
}

static void
test_free_with_open_streams(void **state)
{
  fx_t *f = *state;
  resp_t r[2];
  nn_api_call_t *c[2];
  c[0] = start(f, TOKEN(f), "GET", "/v1/txs?wait=10", NULL, 0, NULL, &r[0], 0);
  c[1] = start(f, TOKEN(f), "GET", "/v1/txs/stream", NULL, 0, NULL, &r[1], 1);
  wait_streams(f, 2);
  nn_api_free(f->api);
  f->api = NULL;
  run_until(f, &r[0].done, NULL, NULL); /* the clients see the connection close */
  run_until(f, &r[1].done, NULL, NULL);
  nn_api_call_free(c[0]);
  nn_api_call_free(c[1]);
  resp_free(&r[0]);
  resp_free(&r[1]);
}

/* ---- tests: token file, listen addresses, Unix socket, client files ---- */

static void
test_token_file(void **state)
{
  fx_t *f = *state;
  struct stat st;
  char buf[100], why[512], tok[65];
  nn_api_ops_t ops = fake_ops(&f->fake);
  nn_api_t *api = NULL;
  FILE *fp;

  assert_int_equal(fx_start(f), NN_OK);
  assert_int_equal(stat(f->token_path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  fp = fopen(f->token_path, "r");
  assert_non_null(fp);
  assert_non_null(fgets(buf, sizeof(buf), fp));
  fclose(fp);
  assert_int_equal(strlen(buf), 65);
  assert_int_equal(buf[64], '\n');
  buf[64] = 0;
  assert_string_equal(buf, TOKEN(f));
  snprintf(tok, sizeof(tok), "%s", buf);
  nn_api_free(f->api);
  f->api = NULL;

  /* restart: the same token */
  assert_int_equal(fx_start(f), NN_OK);
  assert_string_equal(TOKEN(f), tok);
  nn_api_free(f->api);
  f->api = NULL;

  /* readable by others: refused, naming the file and the fix */
  chmod(f->token_path, 0644);
  assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_PERM);
  assert_null(api);
  assert_non_null(strstr(why, f->token_path));
  char fix[200];
  snprintf(fix, sizeof(fix), "chmod 600 %s", f->token_path);
  assert_non_null(strstr(why, fix));
  /* the client refuses it too */
  assert_int_equal(nn_api_client_read_token(f->token_path, tok, sizeof(tok), why, sizeof(why)), NN_ERR_PERM);
  assert_non_null(strstr(why, fix));

  /* malformed: refused, not replaced */
  chmod(f->token_path, 0600);
  fp = fopen(f->token_path, "w");
  fputs("not a token\n", fp);
  fclose(fp);
  assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_FORMAT);
  assert_non_null(strstr(why, f->token_path));
  assert_non_null(strstr(why, "malformed"));
  fp = fopen(f->token_path, "r");
  assert_non_null(fgets(buf, sizeof(buf), fp));
  fclose(fp);
  assert_string_equal(buf, "not a token\n");
}

static void
test_listen_addresses(void **state)
{
  fx_t *f = *state;
  static const char *refused[] = { "0.0.0.0:0", "*:0", "192.168.1.1:0", "[::]:0", "8.8.8.8:53" };
  static const char *malformed[] = { "", "127.0.0.1", "127.0.0.1:99999", "example.com:80", "[::1]" };
  nn_api_ops_t ops = fake_ops(&f->fake);
  nn_api_t *api = NULL, *api2 = NULL;
  char why[512], addr[80];

  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    f->cfg.listen = refused[i];
    assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_ARG);
    assert_non_null(strstr(why, "not loopback"));
  }
  for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
    f->cfg.listen = malformed[i];
    assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_FORMAT);
    assert_non_null(strstr(why, "127.0.0.1:PORT"));
  }
  /* an ephemeral port is reported as the real one; a second API on it is refused */
  f->cfg.listen = "localhost:0";
  assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_OK);
  assert_int_equal(strncmp(nn_api_address(api), "127.0.0.1:", 10), 0);
  assert_true(atoi(nn_api_address(api) + 10) > 0);
  snprintf(addr, sizeof(addr), "%s", nn_api_address(api));
  f->cfg.listen = addr;
  assert_int_equal(nn_api_new(&api2, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_IO);
  assert_non_null(strstr(why, "in use"));
  nn_api_free(api);
  /* IPv6 loopback, where the machine has it */
  f->cfg.listen = "[::1]:0";
  if (nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)) == NN_OK) {
    assert_int_equal(strncmp(nn_api_address(api), "[::1]:", 6), 0);
    resp_t r;
    f->api = api;
    request(f, TOKEN(f), "GET", "/v1/status", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
  }
}

static void
test_unix_socket(void **state)
{
  fx_t *f = *state;
  char path[100], spec[110], out[8192], req[512], why[512];
  struct sockaddr_un sun;
  struct stat st;
  nn_api_ops_t ops = fake_ops(&f->fake);
  nn_api_t *api = NULL;
  nn_api_call_t *c = NULL;
  int fd;

  snprintf(path, sizeof(path), "%s/api.sock", f->dir);
  snprintf(spec, sizeof(spec), "unix:%s", path);
  f->cfg.listen = spec;

  /* a regular file at the path is refused and left alone */
  FILE *fp = fopen(path, "w");
  fputs("mine", fp);
  fclose(fp);
  assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_ARG);
  assert_non_null(strstr(why, "not a socket"));
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  unlink(path);

  /* a stale socket (nobody listening) is replaced */
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  close(fd);
  assert_int_equal(fx_start(f), NN_OK);
  assert_string_equal(nn_api_address(f->api), spec);
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0600);

  /* a second API on the same live socket is refused */
  assert_int_equal(nn_api_new(&api, f->base, &f->cfg, &ops, why, sizeof(why)), NN_ERR_IO);
  assert_non_null(strstr(why, "in use"));

  snprintf(req, sizeof(req),
           "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\n\r\n",
           TOKEN(f));
  raw(f, spec, req, out, sizeof(out));
  assert_int_equal(raw_status(out), 200);
  assert_non_null(strstr(out, "\"network\":\"regtest\""));
  raw(f, spec,
      "POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: 2\r\nConnection: close\r\n\r\nab",
      out, sizeof(out));
  assert_int_equal(raw_status(out), 401);
  snprintf(req, sizeof(req),
           "POST /v1/tx HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab",
           TOKEN(f));
  raw(f, spec, req, out, sizeof(out));
  assert_int_equal(raw_status(out), 200);
  assert_int_equal(f->fake.accepted, 1);

  /* the client explains that it speaks TCP only */
  assert_int_equal(nn_api_call_start(&c, f->base, spec, TOKEN(f), "GET", "/v1/status", NULL, 0, NULL, 5, NULL, NULL,
                                     NULL, why, sizeof(why)),
                   NN_ERR_ARG);
  assert_null(c);
  assert_non_null(strstr(why, "curl --unix-socket"));

  nn_api_free(f->api);
  f->api = NULL;
  assert_int_equal(lstat(path, &st), -1); /* removed on the way out */
}

static void
test_client_files(void **state)
{
  fx_t *f = *state;
  char addr[300], tok[80], why[512], path[200];
  FILE *fp;

  assert_int_equal(nn_api_client_read_address(f->dir, addr, sizeof(addr), why, sizeof(why)), NN_ERR_NOTFOUND);
  assert_non_null(strstr(why, "is nepnetd running with --datadir"));
  assert_non_null(strstr(why, f->dir));

  snprintf(path, sizeof(path), "%s/api.address", f->dir);
  fp = fopen(path, "w");
  fputs("127.0.0.1:41234\n", fp);
  fclose(fp);
  assert_int_equal(nn_api_client_read_address(f->dir, addr, sizeof(addr), why, sizeof(why)), NN_OK);
  assert_string_equal(addr, "127.0.0.1:41234");
  fp = fopen(path, "w");
  fputs("127.0.0.1:1 junk\n", fp);
  fclose(fp);
  assert_int_equal(nn_api_client_read_address(f->dir, addr, sizeof(addr), why, sizeof(why)), NN_ERR_FORMAT);

  assert_int_equal(fx_start(f), NN_OK);
  fp = fopen(path, "w");
  fprintf(fp, "%s\n", nn_api_address(f->api));
  fclose(fp);
  assert_int_equal(nn_api_client_read_datadir(f->dir, addr, sizeof(addr), tok, sizeof(tok)), NN_OK);
  assert_string_equal(addr, nn_api_address(f->api));
  assert_string_equal(tok, TOKEN(f));
  char tok2[80];
  assert_int_equal(nn_api_client_read_token("/nonexistent/api.token", tok2, sizeof(tok2), why, sizeof(why)),
                   NN_ERR_NOTFOUND);
  assert_non_null(strstr(why, "--token-file"));

  /* nobody listening: the blocking client fails fast and says so */
  nn_api_free(f->api);
  f->api = NULL;
  int status = -1;
  uint8_t *resp = (uint8_t *)"x";
  size_t rlen = 1;
  assert_int_equal(
    nn_api_client_request(addr, tok, "GET", "/v1/status", NULL, 0, NULL, &status, &resp, &rlen, why, sizeof(why)),
    NN_ERR_IO);
  assert_int_equal(status, 0);
  assert_null(resp);
  assert_int_equal(rlen, 0);
  assert_non_null(strstr(why, "cannot connect"));
  assert_non_null(strstr(why, addr));
  assert_int_equal(
    nn_api_client_request("unix:/x", tok, "GET", "/v1/status", NULL, 0, NULL, &status, &resp, &rlen, why, sizeof(why)),
    NN_ERR_ARG);
  assert_int_equal(nn_api_client_request("127.0.0.1:1", "short", "GET", "/v1/status", NULL, 0, NULL, &status, &resp,
                                         &rlen, why, sizeof(why)),
                   NN_ERR_ARG);
}

/* A connection cap: with max_conns 1, a second connection waits until the first closes. */
static void
test_max_conns(void **state)
{
  fx_t *f = *state;
  char req[512], out1[4096], out2[4096];
  int a, b;
  f->cfg.max_conns = 1;
  assert_int_equal(fx_start(f), NN_OK);
  snprintf(req, sizeof(req), "GET /v1/status HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
           nn_api_address(f->api), TOKEN(f));
  a = connect_to(nn_api_address(f->api));
  raw_exchange(f, a, req, strlen(req), out1, sizeof(out1), "\"commit\":");
  assert_int_equal(raw_status(out1), 200); /* a stays open (keep-alive) */
  b = connect_to(nn_api_address(f->api));  /* the kernel accepts it into the backlog */
  assert_int_equal(send(b, req, strlen(req), 0), (ssize_t)strlen(req));
  for (int i = 0; i < 10; i++)
    event_base_loop(f->base, EVLOOP_ONCE);
  assert_int_equal(recv(b, out2, sizeof(out2), 0), -1); /* not served while a holds the slot */
  close(a);
  raw_exchange(f, b, "", 0, out2, sizeof(out2), "\"commit\":");
  assert_int_equal(raw_status(out2), 200);
  close(b);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parsers),
    cmocka_unit_test(test_gate),
    cmocka_unit_test_setup_teardown(test_submit_raw_and_json, setup, teardown),
    cmocka_unit_test_setup_teardown(test_submit_bad_input, setup, teardown),
    cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
    cmocka_unit_test_setup_teardown(test_routes_and_methods, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_query, setup, teardown),
    cmocka_unit_test_setup_teardown(test_status_peers_metrics, setup, teardown),
    cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
    cmocka_unit_test_setup_teardown(test_long_poll_notify, setup, teardown),
    cmocka_unit_test_setup_teardown(test_long_poll_timeout, setup, teardown),
    cmocka_unit_test_setup_teardown(test_long_poll_cap_and_disconnect, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
    cmocka_unit_test_setup_teardown(test_events, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stream_backpressure, setup_nostart, teardown),
    cmocka_unit_test_setup_teardown(test_free_with_open_streams, setup, teardown),
    cmocka_unit_test_setup_teardown(test_token_file, setup_nostart, teardown),
    cmocka_unit_test_setup_teardown(test_listen_addresses, setup_nostart, teardown),
    cmocka_unit_test_setup_teardown(test_unix_socket, setup_nostart, teardown),
    cmocka_unit_test_setup_teardown(test_client_files, setup_nostart, teardown),
    cmocka_unit_test_setup_teardown(test_max_conns, setup_nostart, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
