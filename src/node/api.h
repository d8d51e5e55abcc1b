/**
 * \file api.h
 * \brief The control API: HTTP + JSON on loopback (evhttp + jansson), for neptune-core, a wallet
 * or an operator. docs/API.md documents every route with curl examples.
 *
 * The API is plumbing only: authentication (a bearer token kept in a 0600 token file), routing,
 * request limits and JSON. What it reports and does comes from the node through nn_api_ops_t, so
 * the API is tested against a fake node and the node is tested without HTTP.
 *
 * Threads: none; every call from the thread that runs the event_base. No globals.
 */
#ifndef NN_NODE_API_H
#define NN_NODE_API_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/node.h"
#include "crypto/types.h"

struct event_base;

typedef struct nn_api_t nn_api_t;

/** One transaction the node received (entered its mempool), as the node keeps it. */
typedef struct nn_api_rx_t {
  uint64_t seq;      /**< 1, 2, 3... in arrival order; a poll asks for seq >= since */
  nn_hash_t id;      /**< SHA3-256 of the bytes */
  const uint8_t *tx; /**< the bytes (valid until control returns to the event loop: the API
                              copies what it sends before that) */
  size_t len;
  uint64_t unix_ms; /**< when it entered the mempool */
  const char *via;  /**< "fluff", "stem-fluff", "embargo", "direct" (nn_dl_via_str) */
  char from[65];    /**< the peer's node id in hex, "" when none or anonymous (JSON null) */
} nn_api_rx_t;

/** One event of the node's (GET /v1/events): a compact JSON object, no newline; \a line is valid
 *  until control returns to the event loop. */
typedef struct nn_api_event_t {
  uint64_t seq;
  const char *line;
  size_t len;
} nn_api_event_t;

/** One metric the node reports; the API writes it in the Prometheus text format as
 *  nepnet_NAME{LABELS} VALUE, with HELP and TYPE lines once per name. */
typedef struct nn_api_metric_t {
  const char *name; /**< without the "nepnet_" prefix, e.g. "uptime_seconds" */
  const char *help;
  int counter;        /**< 1: counter, 0: gauge */
  const char *labels; /**< NULL, or e.g. "direction=\"in\"" (entries of one name are adjacent) */
  uint64_t value;
} nn_api_metric_t;

#define NN_API_METRICS_MAX 224
#define NN_API_PEERS_MAX 512

/** The node, as the API sees it. Every callback is required. */
typedef struct nn_api_ops_t {
  /** Submit \a tx for broadcast in the node's routing mode. On NN_OK fills \a id and \a mode
   *  (e.g. "dandelion"; static storage). NN_ERR_TOO_LONG over the node's cap, NN_ERR_ARG if
   *  empty; other errors are the node's (reported as 503). */
  nn_err_t (*submit)(void *ctx, const uint8_t *tx, size_t len, nn_hash_t *id, const char **mode);
  /** Up to \a max received transactions with seq >= \a since, oldest first, into \a out (the
   *  node may have dropped old ones: then the first seq returned is above since). Returns the
   *  count; *next is the seq the next poll should ask for. */
  size_t (*received)(void *ctx, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next);
  /** Node status (identity, uptime, peers in/out, DHT size, epoch role, bytes in/out ...). */
  nn_err_t (*status)(void *ctx, nn_node_status_t *out);
  /** Up to \a max gossip peers into \a out; returns the count. */
  size_t (*peers)(void *ctx, nn_node_peer_t *out, size_t max);
  /** Up to \a max metrics into \a out; returns the count. */
  size_t (*metrics)(void *ctx, nn_api_metric_t *out, size_t max);
  /** The mixnet's state as a JSON object (a new reference; GET /v1/mixnet), NULL when off. */
  struct json_t *(*mixnet)(void *ctx);
  /** NAT traversal and relays as a JSON object (a new reference; GET /v1/nat), NULL if none. */
  struct json_t *(*nat)(void *ctx);
  /** Our own transactions' timelines, newest first (GET /v1/own-txs); NULL: none kept. */
  struct json_t *(*own_txs)(void *ctx);
  /** One of ours (GET /v1/tx/ID), or NULL: an unknown id and another node's transaction get the
   *  same answer, so the API is no oracle of which are ours. */
  struct json_t *(*tx)(void *ctx, const nn_hash_t *id);
  /** Up to \a max events with seq >= \a since, oldest first (GET /v1/events); *next is what
   *  to ask for next. NULL: the node keeps none (404). */
  size_t (*events)(void *ctx, uint64_t since, nn_api_event_t *out, size_t max, uint64_t *next);
  /** The last hour in samples as a JSON object (GET /v1/history); NULL: none (404). */
  struct json_t *(*history)(void *ctx);
  /** What the status page shows beyond the status (GET /v1/node): version, DHT buckets,
   *  channels, Dandelion++ counters. NULL: 404. */
  struct json_t *(*node)(void *ctx);
  /** Regtest only (NULL on every other network: 404): what this node did with the stem of
   *  \a id (GET /v1/debug/stems/ID; stemtrace.h). */
  struct json_t *(*trace)(void *ctx, const nn_hash_t *id);
  void *ctx;
} nn_api_ops_t;

typedef struct nn_api_cfg_t {
  /** "127.0.0.1:PORT" (PORT 0: ephemeral), "[::1]:PORT", or "unix:/path/to/socket". Anything
   *  that is not loopback or a Unix socket is refused. */
  const char *listen;
  /** The token file: created 0600 with a fresh random token if missing; refused if others can
   *  read it or it is malformed. Clients send "Authorization: Bearer TOKEN". */
  const char *token_file;
  size_t max_body;     /**< largest request body; larger is 413 (8 MiB tx as hex + JSON) */
  size_t max_streams;  /**< concurrent /v1/txs/stream and long polls (16) */
  uint32_t max_wait_s; /**< longest long poll (60) */
  /* Added with the implementation; nn_api_cfg_default sets them. */
  size_t max_conns;    /**< connections that have sent a request, at once (64); at the cap the
                                 listener pauses (new ones wait in the kernel backlog) */
  uint32_t timeout_s;  /**< read/write timeout of a connection: a request must arrive and an
                                 answer drain within it; idle keep-alive connections close (30).
                                 Long polls and streams have no read timeout (they are bounded by
                                 max_wait_s and max_streams), only this write timeout. */
  unsigned token_mode; /**< the token file's mode: 0600 (default), or 0640 so that an operators'
                                 group may read it (nepnetd's api-token-mode) */
  size_t max_output;   /**< most bytes of one poll answer (always at least one tx), and of
                                 output a stream may have pending before it is dropped with a
                                 final error line (48 MiB) */
} nn_api_cfg_t;

/** Defaults: listen "127.0.0.1:9801", token_file NULL (must be set), and the numbers above. */
void nn_api_cfg_default(nn_api_cfg_t *cfg);

/**
 * Start the API on \a base. On failure \a why gets one line naming the address or file and the
 * fix (port in use, bad token file permissions...). A "unix:" socket is created with mode 0600;
 * a stale socket file at that path (nobody listening) is replaced, any other file is refused.
 */
nn_err_t nn_api_new(nn_api_t **out, struct event_base *base, const nn_api_cfg_t *cfg, const nn_api_ops_t *ops,
                    char *why, size_t why_len);
/** Close every connection and the listener. NULL is fine. */
void nn_api_free(nn_api_t *api);

/** The node calls this after a transaction entered its mempool or an event was recorded:
 *  waiting long polls are answered and open streams get what is new. */
void nn_api_notify(nn_api_t *api);

/** Where it listens: "127.0.0.1:PORT" (the real port) or "unix:/path". */
const char *nn_api_address(const nn_api_t *api);
/** The token (hex), for tests and for the CLI that runs in the same process. */
const char *nn_api_token(const nn_api_t *api);

/** Requests that reached the API's handler (any status) / of those, answered with status
 *  >= 400, for the node's metrics. Errors libevent answers itself before routing (malformed
 *  HTTP, oversized headers or body) are not seen here. */
void nn_api_counts(const nn_api_t *api, uint64_t *served, uint64_t *refused);

/** Long polls and streams open now (<= max_streams). */
size_t nn_api_open_streams(const nn_api_t *api);

#endif
