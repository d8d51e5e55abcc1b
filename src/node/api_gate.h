/**
 * \file api_gate.h
 * \brief The control API's gate: judges each request on its header section, before a single
 * byte of its body is read or buffered.
 *
 * evhttp (libevent 2.1) reads a whole request, body included, before the server sees it, so a
 * client without the token could make the node buffer max_body bytes per connection, and any web
 * page can send such a POST to 127.0.0.1. The gate sits between the socket and evhttp (a
 * bufferevent filter, api.c) and sees the bytes first. Per request it refuses, in this order:
 *   - 431 a header section longer than NN_API_GATE_HEAD_MAX (or a malformed request line);
 *   - 403 a Host whose name is not 127.0.0.1, localhost, [::1] or one of the listener's own
 *     names (DNS rebinding: a page of evil.example whose name now points at 127.0.0.1), when
 *     hosts are set (any port: an ssh -L tunnel changes it);
 *   - 403 an Origin that is not exactly "http://" + Host: another page, even one on another
 *     port of 127.0.0.1 (the browser calls that "same-site"); the status page's own requests
 *     carry its own origin, curl and the CLI none;
 *   - 403 a Sec-Fetch-Site other than same-origin or none;
 *   - 411 a Transfer-Encoding (bodies must say their length);
 *   - 400 a token in the query string (token=, access_token=...): URLs end up in logs;
 *   - the status page's files (GET or HEAD of "/" or "/ui/...", no body) pass without a token;
 *   - 401 no valid bearer token;
 *   - 413 a Content-Length above the route's cap: big_body for POST /v1/tx, small_body else.
 * An accepted request passes to evhttp unchanged, its body counted through. A refused one is
 * replaced by a synthetic request (GET NN_API_GATE_REFUSED_PATH, with the status and the
 * listener's secret nonce in a header, so that a client cannot forge one) and everything the
 * client sends after it is dropped as it arrives: the server answers with that status and closes.
 *
 * Sans-I/O and bounded: a header section partly received is held in a buffer that grows to at most
 * NN_API_GATE_HEAD_MAX and is freed once the section is judged (an idle connection holds none).
 */
#ifndef NN_NODE_API_GATE_H
#define NN_NODE_API_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "node/api_parse.h"

#define NN_API_GATE_HEAD_MAX (16u << 10)
#define NN_API_GATE_HOSTS_MAX 4
#define NN_API_GATE_NONCE_HEX 32
#define NN_API_GATE_REFUSED_PATH "/.gate-refused"
#define NN_API_GATE_HEADER "X-Gate-Refused" /**< "STATUS WHY NONCE" on the synthetic request */

/** Why a 403 or 400 was given (WHY in the synthetic request). */
enum {
  NN_API_GATE_WHY_NONE = 0,
  NN_API_GATE_WHY_HOST = 1,
  NN_API_GATE_WHY_ORIGIN = 2,
  NN_API_GATE_WHY_FETCH_SITE = 3,
  NN_API_GATE_WHY_QUERY_TOKEN = 4,
};

typedef struct nn_api_gate_cfg_t {
  uint8_t token[NN_API_TOKEN_LEN];
  char hosts[NN_API_GATE_HOSTS_MAX][128]; /**< accepted Host values; none: any (a Unix socket) */
  size_t nhosts;
  size_t small_body; /**< body cap of every route but POST /v1/tx */
  size_t big_body;   /**< body cap of POST /v1/tx */
  char nonce[NN_API_GATE_NONCE_HEX + 1];
} nn_api_gate_cfg_t;

typedef struct nn_api_gate_t {
  const nn_api_gate_cfg_t *cfg;
  int state;   /* GATE_HEAD, GATE_BODY, GATE_DROP */
  int refused; /* the status of the refusal, once refused */
  int why;     /* NN_API_GATE_WHY_* */
  uint64_t body_left;
  size_t head_len, head_cap;
  uint8_t *head;
} nn_api_gate_t;

/** What the gate lets through: append \a n bytes for evhttp. */
typedef void (*nn_api_gate_out_fn)(void *ctx, const uint8_t *p, size_t n);

void nn_api_gate_init(nn_api_gate_t *g, const nn_api_gate_cfg_t *cfg);
/**
 * Feed \a len bytes from the client. What evhttp may see goes to \a out. Returns 0 while the
 * connection is good, else the status of the refusal (from the call that refused on, every call
 * returns it and drops its bytes; out of memory refuses with 503).
 */
int nn_api_gate_feed(nn_api_gate_t *g, const uint8_t *in, size_t len, nn_api_gate_out_fn out, void *ctx);
/** Wipe and free the header bytes held (they may hold the token); call it when the connection ends. */
void nn_api_gate_clear(nn_api_gate_t *g);

#endif
