/*
 * The control API client (api_client.h) over evhttp: one request per connection
 * ("Connection: close"), results handed to the caller from a separate event callback so that
 * the caller may free the call there (evhttp forbids freeing a connection from inside its own
 * request callback).
 */
#define _POSIX_C_SOURCE 200809L
#include "app/api_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "lib/file.h"
#include "lib/hex.h"
#include "node/api_parse.h"
#include "lib/addr.h"

#define ADDR_MAX 300

struct nn_api_call_t {
  struct event_base *base;
  struct evhttp_connection *evcon;
  struct event *deliver;
  nn_api_call_done_fn done;
  nn_api_call_chunk_fn chunk;
  void *arg;
  struct evbuffer *body;
  int status, failed, saved_errno, delivered;
  int have_error; /* error is set (EVREQ_HTTP_TIMEOUT is 0, so it cannot tell by itself) */
  enum evhttp_request_error error;
  unsigned timeout_s;
  char address[ADDR_MAX];
  char why[320];
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

static int
method_of(const char *m, enum evhttp_cmd_type *out)
{
  static const struct {
    const char *name;
    enum evhttp_cmd_type t;
  } ms[] = {
    { "GET", EVHTTP_REQ_GET },       { "POST", EVHTTP_REQ_POST }, { "PUT", EVHTTP_REQ_PUT },
    { "DELETE", EVHTTP_REQ_DELETE }, { "HEAD", EVHTTP_REQ_HEAD }, { "OPTIONS", EVHTTP_REQ_OPTIONS },
    { "PATCH", EVHTTP_REQ_PATCH },
  };
  for (size_t i = 0; m && i < sizeof(ms) / sizeof(ms[0]); i++) {
    if (!strcmp(ms[i].name, m)) {
      *out = ms[i].t;
      return 0;
    }
  }
  return -1;
}

/* "HOST:PORT" -> host (brackets removed) and port; numeric hosts and "localhost" only. */
static nn_err_t
split_address(const char *address, char *host, size_t host_len, uint16_t *port, char *why, size_t why_len)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  char buf[ADDR_MAX];

  if (!address || !*address) {
    say(why, why_len, "no API address given");
    return NN_ERR_ARG;
  }
  if (!strncmp(address, "unix:", 5)) {
    say(why, why_len,
        "the node API listens on a Unix socket (%.200s): the nepnet client talks "
        "TCP only (libevent 2.1 cannot do HTTP over Unix sockets); run nepnetd with "
        "--api 127.0.0.1:PORT, or use curl --unix-socket %.200s",
        address, address + 5);
    return NN_ERR_ARG;
  }
  if (strlen(address) >= sizeof(buf) - 16) {
    say(why, why_len, "API address is too long");
    return NN_ERR_FORMAT;
  }
  if (!strncmp(address, "localhost:", 10))
    snprintf(buf, sizeof(buf), "127.0.0.1:%s", address + 10);
  else
    snprintf(buf, sizeof(buf), "%s", address);
  nn_addr_t parsed;
  if (nn_addr_parse(&parsed, buf) != NN_OK || !nn_addr_to_sockaddr(&parsed, &ss, &sl)) {
    say(why, why_len,
        "API address \"%.200s\" is not HOST:PORT (e.g. 127.0.0.1:9801 or "
        "[::1]:9801)",
        address);
    return NN_ERR_FORMAT;
  }
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    *port = ntohs(a->sin_port);
    if (!inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)host_len))
      return NN_ERR_FORMAT;
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    *port = ntohs(a->sin6_port);
    if (!inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)host_len))
      return NN_ERR_FORMAT;
  }
  if (*port == 0) {
    say(why, why_len, "API address \"%.200s\" has port 0", address);
    return NN_ERR_FORMAT;
  }
  return NN_OK;
}

static void
on_deliver(evutil_socket_t fd, short what, void *arg)
{
  nn_api_call_t *c = arg;
  size_t len = evbuffer_get_length(c->body);
  const uint8_t *p;
  (void)fd;
  (void)what;
  evbuffer_add(c->body, "", 1); /* NUL after the body, for string users */
  p = evbuffer_pullup(c->body, -1);
  c->delivered = 1;
  if (c->done)
    c->done(c->arg, c->failed ? 0 : c->status, p ? p : (const uint8_t *)"", p ? len : 0, c->failed ? c->why : "");
}

static void
on_error(enum evhttp_request_error err, void *arg)
{
  nn_api_call_t *c = arg;
  c->error = err;
  c->have_error = 1;
  c->saved_errno = errno;
  c->failed = 1;
}

static void
on_chunk(struct evhttp_request *req, void *arg)
{
  nn_api_call_t *c = arg;
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  if (evhttp_request_get_response_code(req) != 200 || !c->chunk) {
    if (evbuffer_get_length(c->body) + len > NN_API_CLIENT_MAX_RESPONSE) {
      evbuffer_drain(in, len);
      return;
    }
    evbuffer_add_buffer(c->body, in);
    return;
  }
  if (len) {
    const uint8_t *p = evbuffer_pullup(in, -1);
    if (p)
      c->chunk(c->arg, p, len);
    evbuffer_drain(in, len);
  }
}

static void
on_done(struct evhttp_request *req, void *arg)
{
  nn_api_call_t *c = arg;
  int code = req ? evhttp_request_get_response_code(req) : 0;
  if (code <= 0)
    c->failed = 1;
  if (c->failed) {
    /* A refused or failed connect ends here without the error callback (and errno is not
     * reliable by then); a connection that broke later went through on_error. */
    if (!c->have_error)
      say(c->why, sizeof(c->why),
          "cannot connect to the node API at %s: is nepnetd running "
          "(and is this the address in its api.address)?",
          c->address);
    else if (c->error == EVREQ_HTTP_TIMEOUT)
      say(c->why, sizeof(c->why),
          "no answer from the node API at %s within %u s: is nepnetd "
          "busy or stuck?",
          c->address, c->timeout_s);
    else if (c->error == EVREQ_HTTP_DATA_TOO_LONG)
      say(c->why, sizeof(c->why), "the answer from %s is over %u bytes", c->address, NN_API_CLIENT_MAX_RESPONSE);
    else if (c->error == EVREQ_HTTP_EOF)
      say(c->why, sizeof(c->why),
          "the node API at %s closed the connection before answering "
          "(nepnetd stopping?)",
          c->address);
    else
      say(c->why, sizeof(c->why), "the connection to the node API at %s failed (%s)", c->address,
          c->saved_errno ? strerror(c->saved_errno) : "no answer");
  } else {
    c->status = code;
    evbuffer_add_buffer(c->body, evhttp_request_get_input_buffer(req));
  }
  /* hand over from a clean stack: the caller may free the call (and its connection) there */
  event_active(c->deliver, EV_TIMEOUT, 0);
}

nn_err_t
nn_api_call_start(nn_api_call_t **out, struct event_base *base, const char *address, const char *token,
                  const char *method, const char *path, const uint8_t *body, size_t len, const char *content_type,
                  unsigned timeout_s, nn_api_call_done_fn done, nn_api_call_chunk_fn chunk, void *arg, char *why,
                  size_t why_len)
{
  char host[INET6_ADDRSTRLEN + 2], hosthdr[ADDR_MAX], auth[NN_API_TOKEN_HEX + 16];
  enum evhttp_cmd_type m;
  struct evhttp_request *req = NULL;
  struct evkeyvalq *h;
  nn_api_call_t *c;
  uint16_t port = 0;
  nn_err_t err;

  *out = NULL;
  if (why && why_len)
    why[0] = 0;
  if (!base || !path || path[0] != '/' || method_of(method, &m)) {
    say(why, why_len, "bad request: method %s, path %s", method ? method : "(none)", path ? path : "(none)");
    return NN_ERR_ARG;
  }
  if (token && strlen(token) != NN_API_TOKEN_HEX) {
    say(why, why_len, "the API token must be %d hex digits", NN_API_TOKEN_HEX);
    return NN_ERR_ARG;
  }
  if ((err = split_address(address, host, sizeof(host), &port, why, why_len)))
    return err;
  if (!(c = calloc(1, sizeof(*c))))
    return NN_ERR_NOMEM;
  c->base = base;
  c->done = done;
  c->chunk = chunk;
  c->arg = arg;
  c->timeout_s = timeout_s ? timeout_s : NN_API_CLIENT_TIMEOUT_S;
  snprintf(c->address, sizeof(c->address), "%s", address);
  err = NN_ERR_NOMEM;
  if (!(c->body = evbuffer_new()) || !(c->deliver = event_new(base, -1, 0, on_deliver, c)) ||
      !(c->evcon = evhttp_connection_base_new(base, NULL, host, port)) || !(req = evhttp_request_new(on_done, c)))
    goto fail;
  evhttp_connection_set_timeout(c->evcon, (int)c->timeout_s);
  evhttp_connection_set_retries(c->evcon, 0);
  evhttp_connection_set_max_body_size(c->evcon, NN_API_CLIENT_MAX_RESPONSE);
  evhttp_request_set_error_cb(req, on_error);
  evhttp_request_set_chunked_cb(req, on_chunk);
  h = evhttp_request_get_output_headers(req);
  snprintf(hosthdr, sizeof(hosthdr), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
  evhttp_add_header(h, "Host", hosthdr);
  evhttp_add_header(h, "Connection", "close");
  evhttp_add_header(h, "Accept", "application/json");
  if (token) {
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    evhttp_add_header(h, "Authorization", auth);
    OPENSSL_cleanse(auth, sizeof(auth));
  }
  if (content_type)
    evhttp_add_header(h, "Content-Type", content_type);
  if (len && evbuffer_add(evhttp_request_get_output_buffer(req), body, len))
    goto fail;
  if (evhttp_make_request(c->evcon, req, m, path) != 0) {
    req = NULL; /* evhttp frees it on failure */
    say(why, why_len, "cannot start a request to %s", address);
    err = NN_ERR_IO;
    goto fail;
  }
  *out = c;
  return NN_OK;
fail:
  if (req)
    evhttp_request_free(req);
  nn_api_call_free(c);
  if (why && why_len && !why[0])
    say(why, why_len, "out of memory");
  return err;
}

void
nn_api_call_free(nn_api_call_t *c)
{
  if (!c)
    return;
  if (c->evcon)
    evhttp_connection_free(c->evcon); /* frees a request still in flight, without callbacks */
  if (c->deliver)
    event_free(c->deliver);
  evbuffer_free(c->body);
  free(c);
}

/* ---- blocking ---- */

typedef struct sync_t {
  struct event_base *base;
  int status, done;
  uint8_t *body;
  size_t len;
  char why[320];
} sync_t;

static void
sync_done(void *arg, int status, const uint8_t *body, size_t len, const char *why)
{
  sync_t *s = arg;
  s->status = status;
  s->done = 1;
  snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
  if (status && (s->body = malloc(len + 1))) {
    memcpy(s->body, body, len);
    s->body[len] = 0;
    s->len = len;
  }
  event_base_loopbreak(s->base);
}

nn_err_t
nn_api_client_request_timeout(const char *address, const char *token, const char *method, const char *path,
                              const uint8_t *body, size_t len, const char *content_type, unsigned timeout_s,
                              int *status, uint8_t **response, size_t *response_len, char *why, size_t why_len)
{
  sync_t s;
  nn_api_call_t *c = NULL;
  nn_err_t err;

  memset(&s, 0, sizeof(s));
  *status = 0;
  if (response)
    *response = NULL;
  if (response_len)
    *response_len = 0;
  if (!(s.base = event_base_new())) {
    say(why, why_len, "out of memory");
    return NN_ERR_NOMEM;
  }
  err = nn_api_call_start(&c, s.base, address, token, method, path, body, len, content_type, timeout_s, sync_done, NULL,
                          &s, why, why_len);
  if (!err) {
    while (!s.done && event_base_dispatch(s.base) == 0)
      ;
    if (!s.done) {
      say(why, why_len, "the request to %s ended without an answer", address);
      err = NN_ERR_IO;
    } else if (!s.status) {
      say(why, why_len, "%s", s.why);
      err = NN_ERR_IO;
    } else if (!s.body) {
      say(why, why_len, "out of memory for the answer");
      err = NN_ERR_NOMEM;
    } else {
      *status = s.status;
      if (response) {
        *response = s.body;
        s.body = NULL;
      }
      if (response_len)
        *response_len = s.len;
    }
  }
  nn_api_call_free(c);
  event_base_free(s.base);
  free(s.body);
  return err;
}

nn_err_t
nn_api_client_request(const char *address, const char *token, const char *method, const char *path, const uint8_t *body,
                      size_t len, const char *content_type, int *status, uint8_t **response, size_t *response_len,
                      char *why, size_t why_len)
{
  return nn_api_client_request_timeout(address, token, method, path, body, len, content_type, NN_API_CLIENT_TIMEOUT_S,
                                       status, response, response_len, why, why_len);
}

/* ---- files ---- */

nn_err_t
nn_api_client_read_address(const char *datadir, char *out, size_t out_len, char *why, size_t why_len)
{
  char path[4096], buf[ADDR_MAX + 2];
  size_t n;
  FILE *f;

  if (out_len)
    out[0] = 0;
  if ((size_t)snprintf(path, sizeof(path), "%s/api.address", datadir) >= sizeof(path)) {
    say(why, why_len, "data directory path is too long");
    return NN_ERR_ARG;
  }
  if (!(f = fopen(path, "r"))) {
    if (errno == ENOENT) {
      say(why, why_len,
          "no node API at %s: is nepnetd running with --datadir %s? (or pass "
          "--api HOST:PORT)",
          path, datadir);
      return NN_ERR_NOTFOUND;
    }
    say(why, why_len, "cannot read %s: %s", path, strerror(errno));
    return NN_ERR_IO;
  }
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    buf[--n] = 0;
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f)
      n = 0; /* one printable word only */
  }
  if (!n || n >= out_len || n > ADDR_MAX - 1) {
    say(why, why_len,
        "%s is malformed (expected one line HOST:PORT): restart nepnetd, which "
        "rewrites it, or pass --api HOST:PORT",
        path);
    return NN_ERR_FORMAT;
  }
  memcpy(out, buf, n + 1);
  return NN_OK;
}

nn_err_t
nn_api_client_read_token(const char *path, char *out, size_t out_len, char *why, size_t why_len)
{
  uint8_t buf[128], tok[NN_API_TOKEN_LEN];
  size_t len = 0;
  nn_err_t err;

  if (out_len)
    out[0] = 0;
  if (out_len < NN_API_TOKEN_HEX + 1)
    return NN_ERR_NOSPACE;
  /* readable by its group is fine: nepnetd's api-token-mode 0640 lets an operators' group in */
  err = nn_file_read_mode(path, buf, sizeof(buf), &len, S_IRGRP);
  if (err == NN_ERR_NOTFOUND)
    say(why, why_len,
        "no API token file %s: nepnetd creates it when it starts; is it running "
        "with this data directory? (or pass --token-file FILE)",
        path);
  else if (err == NN_ERR_PERM)
    say(why, why_len, "API token file %s is writable by its group or accessible to others: chmod 600 %s", path, path);
  else if (err == NN_ERR_TOO_LONG || err == NN_ERR_FORMAT)
    say(why, why_len, "API token file %s is malformed (expected 64 hex digits and a newline)", path);
  else if (err)
    say(why, why_len, "cannot read the API token file %s: %s", path, strerror(errno));
  else if ((err = nn_api_parse_token(buf, len, tok)))
    say(why, why_len, "API token file %s is malformed (expected 64 hex digits and a newline)", path);
  else
    nn_hex_encode(out, tok, sizeof(tok));
  OPENSSL_cleanse(buf, sizeof(buf));
  OPENSSL_cleanse(tok, sizeof(tok));
  return err;
}

nn_err_t
nn_api_client_read_datadir(const char *datadir, char *addr, size_t addr_len, char *token, size_t token_len)
{
  char path[4096];
  nn_err_t err;
  if ((err = nn_api_client_read_address(datadir, addr, addr_len, NULL, 0)))
    return err;
  if ((size_t)snprintf(path, sizeof(path), "%s/api.token", datadir) >= sizeof(path))
    return NN_ERR_ARG;
  return nn_api_client_read_token(path, token, token_len, NULL, 0);
}
