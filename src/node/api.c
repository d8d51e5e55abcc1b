/*
 * The control API (api.h): evhttp on loopback or a Unix socket, bearer-token authentication,
 * strict routing and input parsing (api_parse.c), long polls and NDJSON streams of received
 * transactions. docs/API.md is the user's side of this file.
 *
 * Long polls and streams hold a request open. libevent 2.1 only notices that such a client went
 * away while it has a reply in progress (evhttp then watches the socket for EOF and reports the
 * close through the connection's close callback), so both start their reply at once: a long poll
 * sends its headers and later its body as one chunk. Each connection that sends a request is
 * tracked (api_conn_t) so that the close callback can release what waits on it, and so that the
 * number of connections can be capped.
 */
#define _POSIX_C_SOURCE 200809L
#include "node/api.h"

#include "nepnet/nepnet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/rand.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/addr.h"
#include "node/api_gate.h"
#include "node/api_parse.h"
#include "node/ui.h"

#define WHY_LEN 512
#define STREAM_BATCH 64           /* transactions fetched from the node per received() call */
#define WAIT_READ_HIGH (16 << 10) /* input kept from a client while its long poll/stream waits */
#define LISTEN_BACKLOG 64
#define TOKEN_FILE_CAP 128
#define STREAM_TXS 1
#define STREAM_EVENTS 2

typedef struct api_conn_t api_conn_t;
typedef struct api_wait_t api_wait_t;

/* A connection that has sent at least one request. */
struct api_conn_t {
  nn_api_t *api;
  struct evhttp_connection *evcon;
  api_wait_t *wait; /* the long poll or stream open on it, if any */
  api_conn_t *prev, *next;
};

/* An open long poll or stream. */
struct api_wait_t {
  nn_api_t *api;
  api_conn_t *conn;
  struct evhttp_request *req;
  struct event *deadline; /* long polls only */
  int stream, data;       /* stream: 0 a long poll, STREAM_TXS or STREAM_EVENTS */
  uint64_t since;         /* the next seq this client wants */
  uint32_t limit;
  api_wait_t *prev, *next;
};

struct nn_api_t {
  struct event_base *base;
  struct evhttp *http;
  struct evhttp_bound_socket *bound;
  nn_api_cfg_t cfg;
  nn_api_ops_t ops;
  struct timeval tv; /* cfg.timeout_s */
  char *token_file;
  char *unix_path; /* set once we created the socket file (removed again in nn_api_free) */
  dev_t unix_dev;
  ino_t unix_ino;
  char address[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
  uint8_t token[NN_API_TOKEN_LEN];
  char token_hex[NN_API_TOKEN_HEX + 1];
  nn_api_gate_cfg_t gate; /* what every connection's gate checks (api_gate.h) */
  uint64_t served, refused;
  api_conn_t *conns;
  size_t nconns;
  int paused, freeing;
  api_wait_t *waits;
  size_t nwaits;
};

static void say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t why_len, const char *fmt, ...)
{
  va_list ap;
  if (!why || !why_len)
    return;
  va_start(ap, fmt);
  vsnprintf(why, why_len, fmt, ap);
  va_end(ap);
}

void
nn_api_cfg_default(nn_api_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->listen = "127.0.0.1:9801";
  cfg->token_file = NULL;
  cfg->max_body = 2 * (8u << 20) + 4096; /* an 8 MiB transaction as hex, plus the JSON around it */
  cfg->max_streams = 16;
  cfg->max_wait_s = 60;
  cfg->max_conns = 64;
  cfg->timeout_s = 30;
  cfg->max_output = 48u << 20;
  cfg->token_mode = 0600;
}

/* ---- replies ---- */

static const char *
method_str(enum evhttp_cmd_type m)
{
  switch (m) {
  case EVHTTP_REQ_GET: return "GET";
  case EVHTTP_REQ_POST: return "POST";
  case EVHTTP_REQ_HEAD: return "HEAD";
  case EVHTTP_REQ_PUT: return "PUT";
  case EVHTTP_REQ_DELETE: return "DELETE";
  case EVHTTP_REQ_OPTIONS: return "OPTIONS";
  case EVHTTP_REQ_TRACE: return "TRACE";
  case EVHTTP_REQ_CONNECT: return "CONNECT";
  case EVHTTP_REQ_PATCH: return "PATCH";
  default: return "?";
  }
}

static void
common_headers(struct evhttp_request *req, const char *ctype)
{
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", ctype);
  evhttp_add_header(h, "Cache-Control", "no-store");
  evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

/* ---- sending through the gate ---- */

/* The gate's bufferevent filter (libevent 2.1) passes on output only when data arrives while
 * writing is enabled, and evhttp queues a reply first and enables writing after: every reply
 * call is followed by a flush. A reference keeps the bufferevent alive in case evhttp frees the
 * connection meanwhile. */
static struct bufferevent *
hold_bev(struct evhttp_request *req)
{
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  struct bufferevent *b = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
  if (b)
    bufferevent_incref(b);
  return b;
}

static void
flush_bev(struct bufferevent *b)
{
  if (!b)
    return;
  bufferevent_flush(b, EV_WRITE, BEV_NORMAL);
  bufferevent_decref(b);
}

static void
send_reply(struct evhttp_request *req, int code, struct evbuffer *body)
{
  struct bufferevent *b = hold_bev(req);
  evhttp_send_reply(req, code, NULL, body);
  flush_bev(b);
}

static void
send_start(struct evhttp_request *req, int code)
{
  struct bufferevent *b = hold_bev(req);
  evhttp_send_reply_start(req, code, NULL);
  flush_bev(b);
}

static void
send_chunk(struct evhttp_request *req, struct evbuffer *body)
{
  struct bufferevent *b = hold_bev(req);
  evhttp_send_reply_chunk(req, body);
  flush_bev(b);
}

static void
send_end(struct evhttp_request *req)
{
  struct bufferevent *b = hold_bev(req);
  evhttp_send_reply_end(req);
  flush_bev(b);
}

static void
reply(nn_api_t *api, struct evhttp_request *req, int code, const char *ctype, struct evbuffer *body)
{
  common_headers(req, ctype);
  if (code >= 400)
    api->refused++;
  send_reply(req, code, body);
}

/* {"error": msg} with status code. Messages are ASCII (client bytes in them are quoted by
 * api_parse.c's rules), so jansson accepts them as strings. */
static void reply_error(nn_api_t *api, struct evhttp_request *req, int code, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

static void
reply_error(nn_api_t *api, struct evhttp_request *req, int code, const char *fmt, ...)
{
  char msg[WHY_LEN];
  struct evbuffer *b = evbuffer_new();
  json_t *o;
  char *s = NULL;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if ((o = json_pack("{s:s}", "error", msg)))
    s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (b) {
    if (s)
      evbuffer_add_printf(b, "%s\n", s);
    else
      evbuffer_add_printf(b, "{\"error\":\"request refused\"}\n");
  }
  free(s);
  if (code == 401) /* no realm: nothing that names the product to a page probing 127.0.0.1 */
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
  reply(api, req, code, "application/json", b);
  evbuffer_free(b);
}

static void
reply_json(nn_api_t *api, struct evhttp_request *req, json_t *o)
{
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  struct evbuffer *b;
  json_decref(o);
  if (!s || !(b = evbuffer_new())) {
    free(s);
    reply_error(api, req, 503, "the node could not produce this answer (out of memory?); retry");
    return;
  }
  evbuffer_add_printf(b, "%s\n", s);
  free(s);
  reply(api, req, 200, "application/json", b);
  evbuffer_free(b);
}

/* ---- received transactions as JSON ---- */

/* A JSON string from node-provided text: escapes quotes, backslashes and control bytes; bytes
 * outside ASCII become '?' so the output is valid UTF-8 whatever the node passed. */
static void
put_str(struct evbuffer *b, const char *s, size_t max)
{
  evbuffer_add(b, "\"", 1);
  for (size_t i = 0; i < max && s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      evbuffer_add_printf(b, "\\%c", c);
    else if (c < 0x20)
      evbuffer_add_printf(b, "\\u%04x", c);
    else
      evbuffer_add(b, c < 0x7f ? (const char *)&s[i] : "?", 1);
  }
  evbuffer_add(b, "\"", 1);
}

static int
put_hex(struct evbuffer *b, const uint8_t *p, size_t len)
{
  struct evbuffer_iovec v;
  if (!len)
    return 0;
  if (evbuffer_reserve_space(b, (ev_ssize_t)(2 * len + 1), &v, 1) != 1 || v.iov_len < 2 * len + 1)
    return -1;
  nn_hex_encode(v.iov_base, p, len);
  v.iov_len = 2 * len;
  return evbuffer_commit_space(b, &v, 1);
}

static int
put_tx(struct evbuffer *b, const nn_api_rx_t *rx, int data)
{
  char id[2 * NN_HASH_LEN + 1];
  nn_hex_encode(id, rx->id.b, NN_HASH_LEN);
  evbuffer_add_printf(b, "{\"seq\":%" PRIu64 ",\"id\":\"%s\",\"len\":%zu,\"unix_ms\":%" PRIu64 ",\"via\":", rx->seq, id,
                      rx->len, rx->unix_ms);
  put_str(b, rx->via ? rx->via : "", 32);
  evbuffer_add(b, ",\"from\":", 8);
  if (rx->from[0])
    put_str(b, rx->from, sizeof(rx->from) - 1);
  else
    evbuffer_add(b, "null", 4);
  if (data) {
    evbuffer_add(b, ",\"tx\":\"", 7);
    if (rx->tx && put_hex(b, rx->tx, rx->len))
      return -1;
    evbuffer_add(b, "\"", 1);
  }
  return evbuffer_add(b, "}", 1);
}

/* Bytes one transaction adds to an answer, for the max_output bound (checked before adding). */
static size_t
tx_cost(const nn_api_rx_t *rx, int data)
{
  return 256 + (data ? 2 * rx->len : 0);
}

/* {"next":N,"txs":[...]} for the poll: up to limit txs from since, at most max_output bytes but
 * always at least one. Returns the count, -1 on allocation failure. */
static long
build_poll(nn_api_t *api, struct evbuffer *b, uint64_t since, uint32_t limit, int data)
{
  nn_api_rx_t *rx = calloc(limit, sizeof(*rx));
  uint64_t next = since;
  size_t n, i, bytes = 0;
  struct evbuffer *items = evbuffer_new();
  long rc = -1;

  if (!rx || !items)
    goto out;
  n = api->ops.received(api->ops.ctx, since, rx, limit, &next);
  if (n > limit)
    n = limit; /* a node bug must not make us read past the array */
  for (i = 0; i < n; i++) {
    size_t cost = tx_cost(&rx[i], data);
    if (i > 0 && bytes + cost > api->cfg.max_output) {
      next = rx[i - 1].seq + 1; /* the rest on the next poll */
      break;
    }
    if ((i > 0 && evbuffer_add(items, ",", 1)) || put_tx(items, &rx[i], data))
      goto out;
    bytes += cost;
  }
  if (n && i == n && next <= rx[n - 1].seq)
    next = rx[n - 1].seq + 1; /* never ask again for what was just delivered */
  evbuffer_add_printf(b, "{\"next\":%" PRIu64 ",\"txs\":[", next);
  evbuffer_add_buffer(b, items);
  evbuffer_add(b, "]}\n", 3);
  rc = (long)i;
out:
  evbuffer_free(items);
  free(rx);
  return rc;
}

/* ---- connections ---- */

static void
update_listener(nn_api_t *api)
{
  struct evconnlistener *l;
  int want_pause = api->nconns >= api->cfg.max_conns;
  if (api->freeing || !api->bound || want_pause == api->paused)
    return;
  l = evhttp_bound_socket_get_listener(api->bound);
  if (want_pause)
    evconnlistener_disable(l);
  else
    evconnlistener_enable(l);
  api->paused = want_pause;
}

static void wait_release(api_wait_t *w);

static void
on_conn_close(struct evhttp_connection *evcon, void *arg)
{
  api_conn_t *c = arg;
  nn_api_t *api = c->api;
  (void)evcon;
  if (c->wait) {
    api_wait_t *w = c->wait;
    /* When the client went away, evhttp detached the unfinished request and left it to us;
     * otherwise (nn_api_free) evhttp frees it with the connection. */
    struct evhttp_request *req = evhttp_request_get_connection(w->req) ? NULL : w->req;
    wait_release(w);
    if (req)
      evhttp_request_free(req);
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    api->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  api->nconns--;
  free(c);
  update_listener(api);
}

/* The record of this request's connection, created on its first request. NULL when the cap is
 * reached (or out of memory). */
static api_conn_t *
conn_track(nn_api_t *api, struct evhttp_connection *evcon)
{
  api_conn_t *c;
  for (c = api->conns; c; c = c->next)
    if (c->evcon == evcon)
      return c;
  if (api->nconns >= api->cfg.max_conns || !(c = calloc(1, sizeof(*c))))
    return NULL;
  c->api = api;
  c->evcon = evcon;
  c->next = api->conns;
  if (api->conns)
    api->conns->prev = c;
  api->conns = c;
  api->nconns++;
  evhttp_connection_set_closecb(evcon, on_conn_close, c);
  update_listener(api);
  return c;
}

/* ---- long polls and streams ---- */

/* Forget w (list, timer, connection link); the request itself is the caller's business. */
static void
wait_release(api_wait_t *w)
{
  nn_api_t *api = w->api;
  if (w->prev)
    w->prev->next = w->next;
  else
    api->waits = w->next;
  if (w->next)
    w->next->prev = w->prev;
  api->nwaits--;
  if (w->deadline)
    event_free(w->deadline);
  if (w->conn)
    w->conn->wait = NULL;
  free(w);
}

static struct bufferevent *
wait_bev(api_wait_t *w)
{
  struct evhttp_connection *evcon = evhttp_request_get_connection(w->req);
  return evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
}

/* Output not yet in the kernel: the gate's filter's, and its socket's below it. */
static size_t
pending_out(struct bufferevent *bev)
{
  struct bufferevent *sock = bufferevent_get_underlying(bev);
  return evbuffer_get_length(bufferevent_get_output(bev)) +
         (sock ? evbuffer_get_length(bufferevent_get_output(sock)) : 0);
}

/* Send \a body (may be NULL) as the last chunk and end the reply; the connection goes back to
 * normal request handling (its usual timeouts, no read limit). */
static void
wait_finish(api_wait_t *w, struct evbuffer *body)
{
  struct evhttp_request *req = w->req;
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  nn_api_t *api = w->api;
  if (evcon) {
    bufferevent_setwatermark(evhttp_connection_get_bufferevent(evcon), EV_READ, 0, 0);
    evhttp_connection_set_timeout_tv(evcon, &api->tv);
  }
  wait_release(w);
  if (body && evbuffer_get_length(body))
    send_chunk(req, body);
  send_end(req);
}

static void
poll_answer(api_wait_t *w)
{
  struct evbuffer *b = evbuffer_new();
  if (!b || build_poll(w->api, b, w->since, w->limit, w->data) < 0) {
    evbuffer_free(b);
    wait_finish(w, NULL); /* a truncated chunked body: the client sees an incomplete answer */
    return;
  }
  wait_finish(w, b);
  evbuffer_free(b);
}

static void
on_poll_deadline(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  poll_answer(arg);
}

/* Push every transaction from w->since on to a stream; drop the stream with a final error line
 * when the client does not keep up (its pending output would pass max_output). */
static void
stream_push(api_wait_t *w)
{
  nn_api_t *api = w->api;
  nn_api_rx_t rx[STREAM_BATCH];
  struct bufferevent *bev = wait_bev(w);
  struct evbuffer *out = bev ? bufferevent_get_output(bev) : NULL, *b = evbuffer_new();
  uint64_t next;
  size_t n;

  if (!out || !b) {
    evbuffer_free(b);
    return;
  }
  for (;;) {
    uint64_t before = w->since;
    n = api->ops.received(api->ops.ctx, w->since, rx, STREAM_BATCH, &next);
    if (n > STREAM_BATCH)
      n = STREAM_BATCH;
    if (n == 0)
      break;
    for (size_t i = 0; i < n; i++) {
      if (rx[i].seq < w->since)
        continue; /* the node owes us only seq >= since; never repeat one */
      if (pending_out(bev) + evbuffer_get_length(b) + tx_cost(&rx[i], w->data) > api->cfg.max_output) {
        char msg[WHY_LEN];
        snprintf(msg, sizeof(msg),
                 "stream dropped: the client is not reading fast enough (over "
                 "%zu bytes pending); reconnect with since=%" PRIu64,
                 api->cfg.max_output, w->since);
        evbuffer_add_printf(b, "{\"error\":\"%s\",\"next\":%" PRIu64 "}\n", msg, w->since);
        wait_finish(w, b);
        evbuffer_free(b);
        return;
      }
      if (put_tx(b, &rx[i], w->data) || evbuffer_add(b, "\n", 1)) {
        wait_finish(w, b);
        evbuffer_free(b);
        return;
      }
      w->since = rx[i].seq + 1;
    }
    /* flush per batch, so that the pending-output check above sees what we queued */
    send_chunk(w->req, b);
    if (n < STREAM_BATCH || w->since == before)
      break; /* all there is, or a node that keeps returning old ones: stop, never spin */
  }
  if (evbuffer_get_length(b))
    send_chunk(w->req, b);
  evbuffer_free(b);
}

/* Push every event from w->since on; the same rule for a slow client as stream_push. */
static void
events_push(api_wait_t *w)
{
  nn_api_t *api = w->api;
  nn_api_event_t ev[STREAM_BATCH];
  struct bufferevent *bev = wait_bev(w);
  struct evbuffer *b = evbuffer_new();
  uint64_t next;
  size_t n;

  if (!bev || !b || !api->ops.events) {
    evbuffer_free(b);
    return;
  }
  for (;;) {
    uint64_t before = w->since;
    n = api->ops.events(api->ops.ctx, w->since, ev, STREAM_BATCH, &next);
    if (n > STREAM_BATCH)
      n = STREAM_BATCH;
    for (size_t i = 0; i < n; i++) {
      if (ev[i].seq < w->since)
        continue;
      if (pending_out(bev) + evbuffer_get_length(b) + ev[i].len + 1 > api->cfg.max_output) {
        evbuffer_add_printf(b,
                            "{\"error\":\"stream dropped: the client is not reading fast enough; reconnect "
                            "with since=%" PRIu64 "\",\"next\":%" PRIu64 "}\n",
                            w->since, w->since);
        wait_finish(w, b);
        evbuffer_free(b);
        return;
      }
      if (evbuffer_add(b, ev[i].line, ev[i].len) || evbuffer_add(b, "\n", 1)) {
        wait_finish(w, b);
        evbuffer_free(b);
        return;
      }
      w->since = ev[i].seq + 1;
    }
    if (evbuffer_get_length(b))
      send_chunk(w->req, b);
    if (n < STREAM_BATCH || w->since == before)
      break;
  }
  evbuffer_free(b);
}

/* Turn \a req into an open long poll or stream. Headers go out now (chunked for HTTP/1.1): that
 * is what makes evhttp watch the socket, so a client that leaves is noticed. */
static api_wait_t *
wait_open(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, int stream, const nn_api_query_t *q)
{
  api_wait_t *w = calloc(1, sizeof(*w));
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
  struct timeval tv = { (time_t)q->wait_s, 0 };

  if (!w || !bev) {
    free(w);
    return NULL;
  }
  w->api = api;
  w->conn = conn;
  w->req = req;
  w->stream = stream;
  w->data = q->data;
  w->since = q->since;
  w->limit = q->limit;
  if (!stream) {
    if (!(w->deadline = event_new(api->base, -1, 0, on_poll_deadline, w)) || event_add(w->deadline, &tv)) {
      if (w->deadline)
        event_free(w->deadline);
      free(w);
      return NULL;
    }
  }
  w->next = api->waits;
  if (api->waits)
    api->waits->prev = w;
  api->waits = w;
  api->nwaits++;
  conn->wait = w;
  common_headers(req, stream ? "application/x-ndjson" : "application/json");
  send_start(req, 200);
  /* No read timeout while it waits (the wait is bounded by max_wait_s or by the client), the
   * usual write timeout, and a cap on what a client may send meanwhile. */
  bufferevent_set_timeouts(bev, NULL, &api->tv);
  bufferevent_setwatermark(bev, EV_READ, 0, WAIT_READ_HIGH);
  return w;
}

/* ---- handlers ---- */

typedef struct route_t route_t;
typedef void (*handler_fn)(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q);

struct route_t {
  const char *path;
  enum evhttp_cmd_type method;
  unsigned query; /* allowed parameters */
  handler_fn fn;
};

static void
h_submit(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
  const uint8_t *body = (const uint8_t *)"";
  nn_api_body_t tx;
  char why[WHY_LEN], idhex[2 * NN_HASH_LEN + 1];
  const char *mode = NULL;
  nn_hash_t id;
  nn_err_t err;
  int status;
  (void)conn;
  (void)q;

  if (len > api->cfg.max_body) { /* evhttp enforces this before we run; kept for clarity */
    reply_error(api, req, 413, "body of %zu bytes is over the limit of %zu bytes", len, api->cfg.max_body);
    return;
  }
  if (len && !(body = evbuffer_pullup(in, -1))) {
    reply_error(api, req, 503, "out of memory for a %zu-byte body; retry", len);
    return;
  }
  status = nn_api_parse_submit(ctype, body, len, api->cfg.max_body, &tx, why, sizeof(why));
  if (status != 200) {
    reply_error(api, req, status, "%s", why);
    return;
  }
  err = api->ops.submit(api->ops.ctx, tx.tx, tx.len, &id, &mode);
  if (err == NN_OK) {
    json_t *o;
    nn_hex_encode(idhex, id.b, NN_HASH_LEN);
    o = json_pack("{s:s,s:s,s:I}", "id", idhex, "mode", mode ? mode : "unknown", "len", (json_int_t)tx.len);
    reply_json(api, req, o);
  } else if (err == NN_ERR_TOO_LONG) {
    reply_error(api, req, 413, "transaction of %zu bytes is over the node's size limit", tx.len);
  } else if (err == NN_ERR_ARG) {
    reply_error(api, req, 400, "the node refused the transaction as invalid (%s)", nn_err_str(err));
  } else {
    reply_error(api, req, 503, "the node could not take the transaction now: %s; retry later", nn_err_str(err));
  }
  nn_api_body_free(&tx);
}

static void
h_poll(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  struct evbuffer *b;
  nn_api_rx_t probe;
  uint64_t next;

  /* Something to hand out already, or no wait asked: answer now. */
  if (q->wait_s == 0 || api->ops.received(api->ops.ctx, q->since, &probe, 1, &next) > 0) {
    if (!(b = evbuffer_new()) || build_poll(api, b, q->since, q->limit, q->data) < 0) {
      evbuffer_free(b);
      reply_error(api, req, 503, "out of memory building the answer; retry with a smaller limit");
      return;
    }
    reply(api, req, 200, "application/json", b);
    evbuffer_free(b);
    return;
  }
  if (api->nwaits >= api->cfg.max_streams) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    reply_error(api, req, 503,
                "too many long polls and streams open (%zu): retry later, or poll "
                "with wait=0",
                api->cfg.max_streams);
    return;
  }
  if (!wait_open(api, conn, req, 0, q))
    reply_error(api, req, 503, "out of memory opening the long poll; retry");
}

static void
h_events(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  api_wait_t *w;
  if (!api->ops.events) {
    reply_error(api, req, 404, "this node keeps no events");
    return;
  }
  if (api->nwaits >= api->cfg.max_streams) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    reply_error(api, req, 503, "too many long polls and streams open (%zu): close one and retry", api->cfg.max_streams);
    return;
  }
  if (!(w = wait_open(api, conn, req, STREAM_EVENTS, q))) {
    reply_error(api, req, 503, "out of memory opening the stream; retry");
    return;
  }
  events_push(w);
}

static void
h_history(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  json_t *o;
  (void)conn;
  (void)q;
  if (!api->ops.history || !(o = api->ops.history(api->ops.ctx))) {
    reply_error(api, req, 404, "this node keeps no history");
    return;
  }
  reply_json(api, req, o);
}

static void
h_node(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  json_t *o;
  (void)conn;
  (void)q;
  if (!api->ops.node || !(o = api->ops.node(api->ops.ctx))) {
    reply_error(api, req, 503, "the node could not report this now; retry");
    return;
  }
  reply_json(api, req, o);
}

static void
h_stream(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  api_wait_t *w;
  if (api->nwaits >= api->cfg.max_streams) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    reply_error(api, req, 503,
                "too many long polls and streams open (%zu): close one, or poll "
                "GET /v1/txs instead",
                api->cfg.max_streams);
    return;
  }
  if (!(w = wait_open(api, conn, req, STREAM_TXS, q))) {
    reply_error(api, req, 503, "out of memory opening the stream; retry");
    return;
  }
  stream_push(w);
}

/* The status document: the node's struct as JSON (docs/API.md). */
static json_t *
status_json(const nn_node_status_t *st)
{
  json_t *rel = json_array();
  for (uint32_t i = 0; rel && i < st->n_relays && i < 2; i++)
    json_array_append_new(rel, json_string(st->relays[i]));
  json_t *epoch = rel ? json_pack("{s:s, s:I, s:o}", "role", st->fluff_epoch ? "fluff" : "stem", "ends_in_s",
                                  (json_int_t)st->epoch_ends_in_s, "relays", rel)
                      : NULL;
  if (!epoch)
    return NULL;
  json_t *mix = json_pack("{s:s, s:I, s:I, s:I, s:I}", "role",
                          !st->mix_epoch ? "off"
                          : st->mix      ? "mix"
                                         : "client",
                          "epoch", (json_int_t)st->mix_epoch, "mixes", (json_int_t)st->mixes, "packets_in",
                          (json_int_t)st->mix_packets_in, "packets_out", (json_int_t)st->mix_packets_out);
  if (!mix) {
    json_decref(epoch);
    return NULL;
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:o, s:{s:I,s:I}, "
                   "s:{s:I,s:I}, s:I, s:I, s:I, s:o}",
                   "node_id", st->node_id, "network", st->network, "peer", st->peer, "preset", st->preset, "route",
                   st->route, "uptime_s", (json_int_t)st->uptime_s, "peers_in", (json_int_t)st->peers_in, "peers_out",
                   (json_int_t)st->peers_out, "dialing", (json_int_t)st->dialing, "channels", (json_int_t)st->channels,
                   "dht_size", (json_int_t)st->dht_size, "bootstrapped", st->bootstrapped, "bytes_in",
                   (json_int_t)st->bytes_in, "bytes_out", (json_int_t)st->bytes_out, "epoch", epoch, "mempool", "count",
                   (json_int_t)st->mempool_count, "bytes", (json_int_t)st->mempool_bytes, "stempool", "count",
                   (json_int_t)st->stempool_count, "bytes", (json_int_t)st->stempool_bytes, "tx_received",
                   (json_int_t)st->tx_received, "tx_submitted", (json_int_t)st->tx_submitted, "rx_seq",
                   (json_int_t)st->rx_seq, "mixnet", mix);
}

static void
h_status(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  nn_node_status_t st;
  json_t *o;
  (void)conn;
  (void)q;
  if (api->ops.status(api->ops.ctx, &st) != NN_OK || !(o = status_json(&st))) {
    reply_error(api, req, 503, "the node could not report its status now; retry");
    return;
  }
  json_object_set_new(o, "version", json_string(nn_version()));
  json_object_set_new(o, "commit", nn_version_commit()[0] ? json_string(nn_version_commit()) : json_null());
  reply_json(api, req, o);
}

static void
h_mixnet(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  json_t *o;
  (void)conn;
  (void)q;
  if (!api->ops.mixnet || !(o = api->ops.mixnet(api->ops.ctx))) {
    reply_error(api, req, 404, "this node does not speak the mixnet (mixnet = 0 in its settings)");
    return;
  }
  reply_json(api, req, o);
}

static void
h_nat(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  json_t *o;
  (void)conn;
  (void)q;
  if (!api->ops.nat || !(o = api->ops.nat(api->ops.ctx))) {
    reply_error(api, req, 503, "the node could not report its NAT state now; retry");
    return;
  }
  reply_json(api, req, o);
}

static void
h_own_txs(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  json_t *o;
  (void)conn;
  (void)q;
  if (!api->ops.own_txs || !(o = api->ops.own_txs(api->ops.ctx))) {
    reply_error(api, req, 503, "the node could not list its transactions now; retry");
    return;
  }
  reply_json(api, req, o);
}

/* GET /v1/debug/stems/ID: a devnet node's stem trace (regtest only) */
static void
h_trace(nn_api_t *api, struct evhttp_request *req, const char *hex)
{
  nn_hash_t id;
  json_t *o = NULL;
  if (!api->ops.trace) {
    reply_error(api, req, 404,
                "the stem trace exists on regtest only: a node on any other network must not hold the stem paths "
                "of others' transactions");
    return;
  }
  if (strlen(hex) != 2 * NN_HASH_LEN || nn_hex_decode(id.b, NN_HASH_LEN, hex) != NN_OK) {
    reply_error(api, req, 400, "GET /v1/debug/stems/ID takes the transaction id as 64 hex digits");
    return;
  }
  if (!(o = api->ops.trace(api->ops.ctx, &id))) {
    reply_error(api, req, 503, "out of memory; retry");
    return;
  }
  reply_json(api, req, o);
}

/* GET /v1/tx/ID: the timeline of one of ours; anything else, the one 404 for all */
static void
h_tx(nn_api_t *api, struct evhttp_request *req, const char *hex)
{
  nn_hash_t id;
  json_t *o = NULL;
  if (strlen(hex) != 2 * NN_HASH_LEN || nn_hex_decode(id.b, NN_HASH_LEN, hex) != NN_OK) {
    reply_error(api, req, 400, "GET /v1/tx/ID takes the transaction id as 64 hex digits");
    return;
  }
  if (api->ops.tx)
    o = api->ops.tx(api->ops.ctx, &id);
  if (!o) {
    reply_error(api, req, 404, "no transaction of this node has that id (the node keeps its own, in memory, for 24 h)");
    return;
  }
  reply_json(api, req, o);
}

static json_t *
peer_json(const nn_node_peer_t *p)
{
  return json_pack("{s:s?, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b}", "node_id", p->node_id[0] ? p->node_id : NULL,
                   "addr", p->addr, "path", p->path, "direction", p->outbound ? "out" : "in", "since_s",
                   (json_int_t)p->since_s, "bytes_in", (json_int_t)p->bytes_in, "bytes_out", (json_int_t)p->bytes_out,
                   "stems_in", (json_int_t)p->stems_in, "stems_out", (json_int_t)p->stems_out, "stem_relay",
                   p->stem_relay);
}

static void
h_peers(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  nn_node_peer_t *ps = malloc(NN_API_PEERS_MAX * sizeof(*ps));
  json_t *arr = json_array(), *o = NULL;
  (void)conn;
  (void)q;
  size_t n = ps ? api->ops.peers(api->ops.ctx, ps, NN_API_PEERS_MAX) : 0;
  for (size_t i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, peer_json(&ps[i]))) {
      json_decref(arr);
      arr = NULL;
    }
  free(ps);
  if (!ps || !arr || !(o = json_pack("{s:o}", "peers", arr))) {
    reply_error(api, req, 503, "the node could not list its peers now; retry");
    return;
  }
  reply_json(api, req, o);
}

static void
h_metrics(nn_api_t *api, api_conn_t *conn, struct evhttp_request *req, const nn_api_query_t *q)
{
  struct evbuffer *b = evbuffer_new();
  (void)conn;
  (void)q;
  if (!b) {
    reply_error(api, req, 503, "out of memory; retry");
    return;
  }
  nn_api_metric_t m[NN_API_METRICS_MAX];
  size_t nm = api->ops.metrics(api->ops.ctx, m, NN_API_METRICS_MAX);
  for (size_t i = 0; i < nm; i++) {
    if (!i || strcmp(m[i].name, m[i - 1].name))
      evbuffer_add_printf(b, "# HELP nepnet_%s %s\n# TYPE nepnet_%s %s\n", m[i].name, m[i].help, m[i].name,
                          m[i].counter ? "counter" : "gauge");
    evbuffer_add_printf(b, "nepnet_%s%s%s%s %" PRIu64 "\n", m[i].name, m[i].labels ? "{" : "",
                        m[i].labels ? m[i].labels : "", m[i].labels ? "}" : "", m[i].value);
  }
  evbuffer_add_printf(b,
                      "# HELP nepnet_api_requests_total Control API requests handled (any status).\n"
                      "# TYPE nepnet_api_requests_total counter\n"
                      "nepnet_api_requests_total %" PRIu64 "\n"
                      "# HELP nepnet_api_refused_total Control API requests answered with status >= 400.\n"
                      "# TYPE nepnet_api_refused_total counter\n"
                      "nepnet_api_refused_total %" PRIu64 "\n"
                      "# HELP nepnet_api_streams Control API long polls and streams open.\n"
                      "# TYPE nepnet_api_streams gauge\n"
                      "nepnet_api_streams %zu\n"
                      "# HELP nepnet_api_connections Control API connections open.\n"
                      "# TYPE nepnet_api_connections gauge\n"
                      "nepnet_api_connections %zu\n",
                      api->served, api->refused, api->nwaits, api->nconns);
  reply(api, req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
  evbuffer_free(b);
}

static const route_t routes[] = {
  { "/v1/tx", EVHTTP_REQ_POST, 0, h_submit },
  { "/v1/txs", EVHTTP_REQ_GET, NN_API_Q_SINCE | NN_API_Q_LIMIT | NN_API_Q_WAIT | NN_API_Q_DATA, h_poll },
  { "/v1/txs/stream", EVHTTP_REQ_GET, NN_API_Q_SINCE | NN_API_Q_DATA, h_stream },
  { "/v1/status", EVHTTP_REQ_GET, 0, h_status },
  { "/v1/peers", EVHTTP_REQ_GET, 0, h_peers },
  { "/v1/mixnet", EVHTTP_REQ_GET, 0, h_mixnet },
  { "/v1/nat", EVHTTP_REQ_GET, 0, h_nat },
  { "/v1/own-txs", EVHTTP_REQ_GET, 0, h_own_txs },
  { "/v1/events", EVHTTP_REQ_GET, NN_API_Q_SINCE, h_events },
  { "/v1/history", EVHTTP_REQ_GET, 0, h_history },
  { "/v1/node", EVHTTP_REQ_GET, 0, h_node },
  { "/metrics", EVHTTP_REQ_GET, 0, h_metrics },
};

/* The synthetic request a connection's gate put in place of one it refused (api_gate.h): answer
 * with its status and close. 0 for any other request (one that only names the path is a 404
 * once authenticated: it lacks the nonce). */
static int
gate_refused(nn_api_t *api, struct evhttp_request *req)
{
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
  const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), NN_API_GATE_HEADER);
  char *end = NULL, *end2 = NULL;
  long status, why;
  if (!path || strcmp(path, NN_API_GATE_REFUSED_PATH) || !h)
    return 0;
  status = strtol(h, &end, 10);
  if (!end || *end != ' ')
    return 0;
  why = strtol(end + 1, &end2, 10);
  if (!end2 || *end2 != ' ' || strlen(end2 + 1) != NN_API_GATE_NONCE_HEX ||
      CRYPTO_memcmp(end2 + 1, api->gate.nonce, NN_API_GATE_NONCE_HEX) || status < 400 || status > 599)
    return 0;
  evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
  switch (status) {
  case 401: reply_error(api, req, 401, "unauthorized: send \"Authorization: Bearer TOKEN\""); break;
  case 403:
    if (why == NN_API_GATE_WHY_HOST)
      reply_error(api, req, 403,
                  "forbidden: the Host header must name 127.0.0.1, localhost or [::1] (any port): another name "
                  "is how DNS rebinding reaches a local API");
    else if (why == NN_API_GATE_WHY_FETCH_SITE)
      reply_error(api, req, 403, "forbidden: Sec-Fetch-Site says another site made this request");
    else
      reply_error(api, req, 403,
                  "forbidden: a cross-origin request (its Origin is not this API's own); the API allows none");
    break;
  case 411: reply_error(api, req, 411, "length required: send a body with Content-Length, not chunked"); break;
  case 413:
    reply_error(api, req, 413, "body over the limit of this route (%zu bytes for POST /v1/tx, %zu for others)",
                api->gate.big_body, api->gate.small_body);
    break;
  case 431: reply_error(api, req, 431, "header section over %u bytes", NN_API_GATE_HEAD_MAX); break;
  case 503: reply_error(api, req, 503, "out of memory: retry later"); break;
  default:
    if (why == NN_API_GATE_WHY_QUERY_TOKEN)
      reply_error(api, req, 400,
                  "the token goes in an \"Authorization: Bearer TOKEN\" header, never in the URL (URLs end up "
                  "in logs and histories)");
    else
      reply_error(api, req, 400, "malformed request");
    break;
  }
  return 1;
}

/* The status page's files (ui.h), with headers that keep it to itself: nothing from another
 * origin, no framing, no referrer. */
static void
serve_static(nn_api_t *api, struct evhttp_request *req, const char *path)
{
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  struct evbuffer *b;
  for (const nn_ui_asset_t *a = nn_ui_assets; a->path; a++) {
    if (strcmp(a->path, path))
      continue;
    if (!(b = evbuffer_new()) || evbuffer_add_reference(b, a->data, a->len, NULL, NULL)) {
      evbuffer_free(b);
      reply_error(api, req, 503, "out of memory; retry");
      return;
    }
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                      "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
    reply(api, req, 200, a->content_type, b);
    evbuffer_free(b);
    return;
  }
  reply_error(api, req, 404, "no such file of the status page: open / instead");
}

static void
on_request(struct evhttp_request *req, void *arg)
{
  nn_api_t *api = arg;
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *auth, *path, *query;
  enum evhttp_cmd_type m = evhttp_request_get_command(req);
  const route_t *r = NULL;
  uint8_t tok[NN_API_TOKEN_LEN];
  api_conn_t *conn;
  nn_api_query_t q;
  char why[WHY_LEN];
  int ok;

  api->served++;
  if (gate_refused(api, req))
    return;
  if (!evcon || !(conn = conn_track(api, evcon))) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    reply_error(api, req, 503, "too many API connections open (%zu): close idle ones and retry", api->cfg.max_conns);
    return;
  }
  path = uri ? evhttp_uri_get_path(uri) : NULL;
  if (path && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD) && (!strcmp(path, "/") || !strncmp(path, "/ui/", 4))) {
    serve_static(api, req, path); /* the gate let it through without a token: no data in it */
    return;
  }
  /* Authentication before anything else: an unauthenticated client learns nothing, not even
   * which routes exist. */
  auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (!auth) {
    reply_error(api, req, 401, "unauthorized: send \"Authorization: Bearer TOKEN\"");
    return;
  }
  ok = nn_api_parse_bearer(auth, tok) == NN_OK && CRYPTO_memcmp(tok, api->token, NN_API_TOKEN_LEN) == 0;
  OPENSSL_cleanse(tok, sizeof(tok));
  if (!ok) {
    reply_error(api, req, 401, "unauthorized: send \"Authorization: Bearer TOKEN\"");
    return;
  }
  query = uri ? evhttp_uri_get_query(uri) : NULL;
  if (!path || !*path) {
    reply_error(api, req, 400, "request without a path: see docs/API.md for the routes");
    return;
  }
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (!strcmp(routes[i].path, path))
      r = &routes[i];
  if (!r && !strncmp(path, "/v1/tx/", 7) && m == EVHTTP_REQ_GET && (!query || !*query)) {
    h_tx(api, req, path + 7);
    return;
  }
  if (!r && !strncmp(path, "/v1/debug/stems/", 16) && m == EVHTTP_REQ_GET && (!query || !*query)) {
    h_trace(api, req, path + 16);
    return;
  }
  if (!r) {
    reply_error(api, req, 404,
                "no such route: the API has POST /v1/tx, GET /v1/txs, GET /v1/txs/stream, GET /v1/status, "
                "GET /v1/peers, GET /v1/mixnet, GET /v1/nat, GET /v1/own-txs, GET /v1/tx/ID, GET /v1/events, "
                "GET /v1/history, GET /v1/node and GET /metrics");
    return;
  }
  if (m != r->method) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", method_str(r->method));
    reply_error(api, req, 405, "%s is not allowed on %s: use %s", method_str(m), r->path, method_str(r->method));
    return;
  }
  if (nn_api_parse_query(query, r->query, api->cfg.max_wait_s, r->path, &q, why, sizeof(why)) != 200) {
    reply_error(api, req, 400, "%s", why);
    return;
  }
  r->fn(api, conn, req, &q);
}

/* ---- token file ---- */

static nn_err_t
load_token(nn_api_t *api, const char *path, char *why, size_t why_len)
{
  uint8_t buf[TOKEN_FILE_CAP];
  char hex[NN_API_TOKEN_HEX + 2];
  size_t len = 0;
  unsigned group = api->cfg.token_mode & S_IRGRP;
  nn_err_t err = nn_file_read_mode(path, buf, sizeof(buf), &len, group);

  if (err == NN_ERR_NOTFOUND) {
    /* Created only if still absent: two nodes starting on one data directory share one token
     * (the loser of the race reads the winner's), and a running node's is never replaced. */
    if ((err = nn_rng_fill(NULL, api->token, sizeof(api->token)))) {
      say(why, why_len, "cannot draw a random API token: %s", nn_err_str(err));
      return err;
    }
    nn_hex_encode(hex, api->token, sizeof(api->token));
    hex[NN_API_TOKEN_HEX] = '\n';
    err = nn_file_create_private(path, (const uint8_t *)hex, NN_API_TOKEN_HEX + 1);
    OPENSSL_cleanse(hex, sizeof(hex));
    if (err == NN_ERR_EXISTS) {
      OPENSSL_cleanse(api->token, sizeof(api->token));
      if (!(err = nn_file_read_mode(path, buf, sizeof(buf), &len, group)))
        err = nn_api_parse_token(buf, len, api->token);
      if (err)
        say(why, why_len, "API token file %s appeared while it was being created and cannot be read: %s", path,
            nn_err_str(err));
    } else if (err)
      say(why, why_len, "cannot create the API token file %s: %s (%s); is its directory writable?", path,
          nn_err_str(err), strerror(errno));
  } else if (err == NN_ERR_PERM) {
    if (group)
      say(why, why_len, "API token file %s is writable by group or accessible to others: chmod 640 %s", path, path);
    else
      say(why, why_len,
          "API token file %s is accessible to group or others: chmod 600 %s (or set api-token-mode 0640 to let "
          "the file's group read it)",
          path, path);
  } else if (err == NN_ERR_TOO_LONG || err == NN_ERR_FORMAT) {
    say(why, why_len,
        "API token file %s is malformed (expected 64 hex digits and a newline): "
        "fix it, or delete it and a new token is created",
        path);
    err = NN_ERR_FORMAT;
  } else if (err) {
    say(why, why_len, "cannot read the API token file %s: %s (%s)", path, nn_err_str(err), strerror(errno));
  } else if ((err = nn_api_parse_token(buf, len, api->token))) {
    say(why, why_len,
        "API token file %s is malformed (expected 64 hex digits and a newline): "
        "fix it, or delete it and a new token is created",
        path);
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  /* api-token-mode 0640: the group may read it (created 0600 like every secret, then opened up) */
  if (!err && group && chmod(path, 0640) != 0) {
    say(why, why_len, "cannot make the API token file %s readable by its group: %s", path, strerror(errno));
    err = NN_ERR_IO;
  }
  if (err)
    OPENSSL_cleanse(api->token, sizeof(api->token));
  else
    nn_hex_encode(api->token_hex, api->token, sizeof(api->token));
  return err;
}

/* ---- the gate in front of evhttp ---- */

/* One connection's gate and its socket, under a bufferevent filter that evhttp reads from and
 * writes to. */
typedef struct gate_conn_t {
  struct bufferevent *sock, *filter;
  struct event *retry; /* the kernel took none of a reply's last byte: try again shortly */
  nn_api_gate_t gate;
} gate_conn_t;

static void
gate_out(void *ctx, const uint8_t *p, size_t n)
{
  evbuffer_add(ctx, p, n);
}

static enum bufferevent_filter_result
gate_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit, enum bufferevent_flush_mode mode, void *ctx)
{
  nn_api_gate_t *g = &((gate_conn_t *)ctx)->gate;
  struct evbuffer_iovec v[8];
  (void)limit;
  (void)mode;
  while (evbuffer_get_length(src)) {
    int n = evbuffer_peek(src, -1, NULL, v, 8);
    size_t used = 0;
    for (int i = 0; i < n && i < 8; i++) {
      nn_api_gate_feed(g, v[i].iov_base, v[i].iov_len, gate_out, dst);
      used += v[i].iov_len;
    }
    evbuffer_drain(src, used);
  }
  return BEV_OK;
}

/* Replies go out through the socket's buffer, but the filter tells evhttp a reply is written
 * when its own buffer is empty, and evhttp then shuts the socket down (after a "Connection:
 * close" request): bytes still in the socket's buffer would be lost. So the last bytes of every
 * reply are kept back until the socket's buffer is empty, and then written straight into the
 * kernel: once evhttp hears "written", they are. */
static enum bufferevent_filter_result
gate_out_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit, enum bufferevent_flush_mode mode,
                void *ctx)
{
  gate_conn_t *gc = ctx;
  evutil_socket_t fd = bufferevent_getfd(gc->sock);
  size_t left;
  (void)limit;
  (void)mode;
  if (evbuffer_get_length(dst))
    return BEV_NEED_MORE; /* called again when the socket has sent it (be_filter_writecb) */
  if (fd >= 0)
    (void)evbuffer_write(src, fd);
  if ((left = evbuffer_get_length(src)) > 1) {
    evbuffer_remove_buffer(src, dst, left - 1);
    return BEV_OK;
  }
  if (left) { /* the socket's buffer is empty and the kernel's full: nobody would call us again */
    struct timeval tv = { 0, 2000 };
    evtimer_add(gc->retry, &tv);
    return BEV_NEED_MORE;
  }
  return BEV_OK;
}

static void
gate_retry(evutil_socket_t fd, short what, void *arg)
{
  gate_conn_t *gc = arg;
  (void)fd;
  (void)what;
  bufferevent_flush(gc->filter, EV_WRITE, BEV_FLUSH);
}

static void
gate_free(void *ctx)
{
  gate_conn_t *gc = ctx;
  nn_api_gate_clear(&gc->gate);
  if (gc->retry)
    event_free(gc->retry);
  free(gc);
}

/* Every connection's bufferevent: the socket's, behind a filter that runs the gate. */
static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
  nn_api_t *api = arg;
  gate_conn_t *gc = calloc(1, sizeof(*gc));
  if (!gc || !(gc->retry = evtimer_new(base, gate_retry, gc)) ||
      !(gc->sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)))
    goto fail;
  nn_api_gate_init(&gc->gate, &api->gate);
  if (!(gc->filter = bufferevent_filter_new(gc->sock, gate_in, gate_out_filter, BEV_OPT_CLOSE_ON_FREE, gate_free, gc)))
    goto fail;
  return gc->filter;
fail:
  if (gc && gc->sock)
    bufferevent_free(gc->sock);
  if (gc && gc->retry)
    event_free(gc->retry);
  free(gc);
  return NULL;
}

static nn_err_t
gate_setup(nn_api_t *api)
{
  uint8_t nonce[NN_API_GATE_NONCE_HEX / 2];
  nn_err_t err = nn_rng_fill(NULL, nonce, sizeof(nonce));
  if (err)
    return err;
  nn_hex_encode(api->gate.nonce, nonce, sizeof(nonce));
  OPENSSL_cleanse(nonce, sizeof(nonce));
  memcpy(api->gate.token, api->token, NN_API_TOKEN_LEN);
  api->gate.small_body = 4096; /* no route but POST /v1/tx takes a body */
  api->gate.big_body = api->cfg.max_body;
  evhttp_set_bevcb(api->http, make_bev, api);
  return NN_OK;
}

/* The Host values a client of this listener sends: its address, or localhost and its port. */
static void
gate_hosts(nn_api_t *api, uint16_t port)
{
  nn_api_gate_cfg_t *g = &api->gate;
  snprintf(g->hosts[0], sizeof(g->hosts[0]), "%.100s", api->address);
  snprintf(g->hosts[1], sizeof(g->hosts[1]), "localhost:%u", (unsigned)port);
  g->nhosts = 2;
}

/* ---- listening ---- */

static int
is_loopback(const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  }
  return 0;
}

static nn_err_t
bind_fd(nn_api_t *api, int fd, char *why, size_t why_len)
{
  struct evconnlistener *l =
    evconnlistener_new(api->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
  if (!l) {
    close(fd);
    say(why, why_len, "cannot listen on %s: out of memory", api->address);
    return NN_ERR_NOMEM;
  }
  if (!(api->bound = evhttp_bind_listener(api->http, l))) {
    evconnlistener_free(l);
    say(why, why_len, "cannot listen on %s: out of memory", api->address);
    return NN_ERR_NOMEM;
  }
  return NN_OK;
}

static nn_err_t
listen_tcp(nn_api_t *api, const char *spec, char *why, size_t why_len)
{
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  char buf[300];
  int fd, one = 1, e;

  /* "localhost" is the one name accepted: resolving others could reach a non-loopback host */
  if (!strncmp(spec, "localhost:", 10)) {
    snprintf(buf, sizeof(buf), "127.0.0.1:%s", spec + 10);
    spec = buf;
  }
  nn_addr_t a;
  if (nn_addr_parse(&a, spec) != NN_OK || !nn_addr_to_sockaddr(&a, &ss, &sl)) {
    say(why, why_len,
        "API address \"%.200s\" is not valid: use 127.0.0.1:PORT, [::1]:PORT or "
        "unix:/path/to/socket (PORT 0 picks a free port)",
        spec);
    return NN_ERR_FORMAT;
  }
  if (!is_loopback(&ss)) {
    say(why, why_len,
        "API address %.200s is not loopback: the control API can submit "
        "transactions and read node state, so it listens only on 127.0.0.1, [::1] or a Unix "
        "socket (unix:/path)",
        spec);
    return NN_ERR_ARG;
  }
  if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
    say(why, why_len, "cannot create a socket for %.200s: %s", spec, strerror(errno));
    return NN_ERR_IO;
  }
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ss.ss_family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
    e = errno;
    close(fd);
    if (e == EADDRINUSE)
      say(why, why_len,
          "API address %.200s is in use (another nepnetd?): stop it or choose "
          "another port (PORT 0 picks a free one)",
          spec);
    else
      say(why, why_len, "cannot listen on API address %.200s: %s", spec, strerror(e));
    return NN_ERR_IO;
  }
  sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
    e = errno;
    close(fd);
    say(why, why_len, "cannot read the address of the API socket: %s", strerror(e));
    return NN_ERR_IO;
  }
  nn_addr_from_sockaddr((struct sockaddr *)&ss, &a);
  nn_addr_format(&a, api->address);
  gate_hosts(api, a.port);
  return bind_fd(api, fd, why, why_len);
}

static nn_err_t
listen_unix(nn_api_t *api, const char *path, char *why, size_t why_len)
{
  struct sockaddr_un sun;
  struct stat st;
  int fd, e;

  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  if (!*path || strlen(path) >= sizeof(sun.sun_path)) {
    say(why, why_len,
        "Unix socket path \"%.200s\" is %s: give unix:/path/to/socket (at most %zu "
        "bytes)",
        path, *path ? "too long" : "empty", sizeof(sun.sun_path) - 1);
    return NN_ERR_FORMAT;
  }
  memcpy(sun.sun_path, path, strlen(path));
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      say(why, why_len,
          "refusing to replace %s: it exists and is not a socket; remove it or "
          "choose another path",
          path);
      return NN_ERR_ARG;
    }
    /* A socket file: in use if someone accepts on it, stale (left by a crash) otherwise. */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
      say(why, why_len, "cannot create a socket: %s", strerror(errno));
      return NN_ERR_IO;
    }
    e = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ? 0 : errno;
    close(fd);
    if (e == 0) {
      say(why, why_len,
          "Unix socket %s is in use (another nepnetd?): stop it or choose another "
          "path",
          path);
      return NN_ERR_IO;
    }
    if (e != ECONNREFUSED || unlink(path) != 0) {
      say(why, why_len, "cannot replace the stale Unix socket %s: %s", path, strerror(e != ECONNREFUSED ? e : errno));
      return NN_ERR_IO;
    }
  } else if (errno != ENOENT) {
    say(why, why_len, "cannot use Unix socket path %s: %s", path, strerror(errno));
    return NN_ERR_IO;
  }
  if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
    say(why, why_len, "cannot create a socket: %s", strerror(errno));
    return NN_ERR_IO;
  }
  /* On Linux bind() gives the file the socket inode's mode (less the umask), so the socket is
   * never reachable by others, not even between bind and the chmod below. */
  (void)fchmod(fd, 0600);
  if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
    e = errno;
    close(fd);
    say(why, why_len,
        "cannot create Unix socket %s: %s (does the directory exist and is it "
        "writable?)",
        path, strerror(e));
    return NN_ERR_IO;
  }
  if (chmod(path, 0600) != 0 || lstat(path, &st) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
    e = errno;
    close(fd);
    (void)unlink(path);
    say(why, why_len, "cannot set up Unix socket %s: %s", path, strerror(e));
    return NN_ERR_IO;
  }
  if (!(api->unix_path = strdup(path))) {
    close(fd);
    (void)unlink(path);
    say(why, why_len, "out of memory");
    return NN_ERR_NOMEM;
  }
  api->unix_dev = st.st_dev;
  api->unix_ino = st.st_ino;
  snprintf(api->address, sizeof(api->address), "unix:%s", path);
  return bind_fd(api, fd, why, why_len);
}

/* ---- public ---- */

nn_err_t
nn_api_new(nn_api_t **out, struct event_base *base, const nn_api_cfg_t *cfg, const nn_api_ops_t *ops, char *why,
           size_t why_len)
{
  nn_api_t *api;
  nn_err_t err;

  if (why && why_len)
    why[0] = 0;
  *out = NULL;
  if (!base || !cfg || !ops || !ops->submit || !ops->received || !ops->status || !ops->peers || !ops->metrics) {
    say(why, why_len, "control API: missing event base, configuration or node callbacks");
    return NN_ERR_ARG;
  }
  if (!cfg->listen || !cfg->token_file || !*cfg->token_file) {
    say(why, why_len, "control API: no %s configured", cfg->listen ? "token file" : "listen address");
    return NN_ERR_ARG;
  }
  if (!cfg->max_body || !cfg->max_streams || !cfg->max_conns || !cfg->timeout_s || !cfg->max_output ||
      cfg->max_body > (size_t)INT64_MAX / 4) {
    say(why, why_len,
        "control API: max_body, max_streams, max_conns, timeout_s and max_output "
        "must be positive (start from nn_api_cfg_default)");
    return NN_ERR_ARG;
  }
  if (!(api = calloc(1, sizeof(*api))))
    return NN_ERR_NOMEM;
  api->base = base;
  api->cfg = *cfg;
  api->ops = *ops;
  api->tv.tv_sec = (time_t)cfg->timeout_s;
  if (!(api->token_file = strdup(cfg->token_file))) {
    err = NN_ERR_NOMEM;
    goto fail;
  }
  api->cfg.token_file = api->token_file;
  api->cfg.listen = NULL; /* the caller's string; api->address is ours */
  if ((err = load_token(api, api->token_file, why, why_len)))
    goto fail;
  if (!(api->http = evhttp_new(base))) {
    err = NN_ERR_NOMEM;
    goto fail;
  }
  evhttp_set_max_body_size(api->http, (ev_ssize_t)cfg->max_body);
  evhttp_set_max_headers_size(api->http, 16 << 10);
  evhttp_set_timeout_tv(api->http, &api->tv);
  /* Every method reaches on_request, so a wrong one gets a JSON 405 instead of evhttp's 501. */
  evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                          EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                          EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  /* Read a refused oversized body to its end before closing, so the client gets the 413
   * instead of a reset. */
  evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
  evhttp_set_gencb(api->http, on_request, api);
  if ((err = gate_setup(api)))
    goto fail;
  if (!strncmp(cfg->listen, "unix:", 5))
    err = listen_unix(api, cfg->listen + 5, why, why_len);
  else
    err = listen_tcp(api, cfg->listen, why, why_len);
  if (err)
    goto fail;
  *out = api;
  return NN_OK;
fail:
  if (why && why_len && !why[0])
    say(why, why_len, "control API: %s", nn_err_str(err));
  nn_api_free(api);
  return err;
}

void
nn_api_free(nn_api_t *api)
{
  struct stat st;
  if (!api)
    return;
  api->freeing = 1;
  /* Frees every connection; each tracked one comes back through on_conn_close. */
  if (api->http)
    evhttp_free(api->http);
  while (api->waits) /* only if a close callback did not run; their requests died with evhttp */
    wait_release(api->waits);
  while (api->conns) {
    api_conn_t *c = api->conns;
    api->conns = c->next;
    free(c);
  }
  if (api->unix_path) {
    /* remove the socket file only if it is still ours */
    if (lstat(api->unix_path, &st) == 0 && st.st_dev == api->unix_dev && st.st_ino == api->unix_ino)
      (void)unlink(api->unix_path);
    free(api->unix_path);
  }
  free(api->token_file);
  OPENSSL_cleanse(api->token, sizeof(api->token));
  OPENSSL_cleanse(api->token_hex, sizeof(api->token_hex));
  OPENSSL_cleanse(&api->gate, sizeof(api->gate));
  free(api);
}

void
nn_api_notify(nn_api_t *api)
{
  api_wait_t *w, *next;
  nn_api_rx_t probe;
  uint64_t n;
  if (!api || api->freeing)
    return;
  for (w = api->waits; w; w = next) {
    next = w->next; /* w may be finished (and freed) below; nothing else is */
    if (w->stream == STREAM_EVENTS)
      events_push(w);
    else if (w->stream)
      stream_push(w);
    else if (api->ops.received(api->ops.ctx, w->since, &probe, 1, &n) > 0)
      poll_answer(w);
  }
}

const char *
nn_api_address(const nn_api_t *api)
{
  return api ? api->address : "";
}

const char *
nn_api_token(const nn_api_t *api)
{
  return api ? api->token_hex : "";
}

void
nn_api_counts(const nn_api_t *api, uint64_t *served, uint64_t *refused)
{
  if (served)
    *served = api ? api->served : 0;
  if (refused)
    *refused = api ? api->refused : 0;
}

size_t
nn_api_open_streams(const nn_api_t *api)
{
  return api ? api->nwaits : 0;
}
