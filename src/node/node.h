/**
 * \file node.h
 * \brief The node: discovery (nn_disco_t: DHT, peer store, secure channels), Dandelion++
 * (nn_dl_t) and the control API (nn_api_t) on one libevent loop. This is what nepnetd runs and
 * what neptune-core can embed.
 *
 * Connections. Every channel belongs to discovery; the node turns some of them into gossip
 * peers with a HELLO exchange (dandelion/msg.h):
 * - outbound: the node keeps max_outbound gossip peers, dialled from the DHT's routing table and
 *   the peer store (or only from cfg.connect), at most one per network group (/16 for IPv4, /32
 *   for IPv6; a loopback or private address is its own group, so devnets work), never a banned
 *   host, with exponential backoff per address. These are the only Dandelion++ stem relays.
 * - inbound: a peer that says HELLO on a channel it opened is accepted while there is room
 *   (max_peers - max_outbound in all, max_inbound_per_host per host) and not already a peer;
 *   otherwise it gets HELLO with the FULL flag and the channel stays a DHT channel (another
 *   HELLO on it is misbehaviour). Two gossip channels with one node: the one the lower node
 *   id dialled stays. A channel to ourselves is closed.
 * A malformed or out-of-place gossip message lowers the host's standing in the peer store and
 * closes the channel with the reason logged; a ban (from the peer store) closes every channel of
 * the host and keeps it out.
 *
 * Transactions are opaque bytes up to max_tx_bytes, named by SHA3-256. The node keeps the last
 * rx_max_count received ones (the API's poll/stream window) apart from the Dandelion++ pools.
 *
 * Threads: none. No globals: many nodes share one process and one event_base in tests.
 */
#ifndef NN_NODE_NODE_H
#define NN_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "dandelion/dandelion.h"
#include "dht/disco.h"
#include "node/api.h"

struct event_base;
struct evbuffer;

typedef struct nn_node_t nn_node_t;

#define NN_NODE_MAX_TX (64u << 20) /**< largest max-tx-bytes a node accepts */

typedef struct nn_node_cfg_t {
  nn_disco_cfg_t disco;            /**< discovery (listen, peers, seeds, DHT...) */
  nn_dl_cfg_t dl;                  /**< Dandelion++ (route, q, epochs, embargo, diffusion, caps) */
  unsigned max_peers;              /**< gossip peers in all (64) */
  unsigned max_outbound;           /**< of which we dial (8) */
  unsigned max_inbound_per_host;   /**< inbound gossip peers from one host (4; 0 = no limit) */
  uint32_t connect_interval_ms;    /**< how often empty outbound slots are filled (1000) */
  uint32_t hello_timeout_ms;       /**< a dialled peer must answer HELLO within this (10000) */
  uint32_t retry_min_ms;           /**< first redial delay of an address that failed (2000) ... */
  uint32_t retry_max_ms;           /**< ... doubling up to this (300000) */
  /** Dial only these for gossip ("NODEID@HOST:PORT" or "HOST:PORT"; no group rule for them).
   *  Inbound gossip peers are still accepted. */
  const char *const *connect;
  size_t n_connect;
  double stem_rate;                /**< STEMs per second one peer may send (10) ... */
  unsigned stem_burst;             /**< ... in bursts of up to (100); beyond, dropped */
  size_t rx_max_count;             /**< received transactions kept for the API (1024) */
  size_t rx_max_bytes;             /**< (64 MiB) */
  int api_enabled;                 /**< start the control API (1) */
  nn_api_cfg_t api;                /**< its settings; token_file NULL = DATADIR/api.token */
  const char *preset;              /**< shown in status ("balanced") */
  /** Log lines of the node and of discovery (one line each, no newline); NULL = stderr. */
  void (*log)(void *ctx, int level, const char *line);
  void *log_ctx;
  int log_level;                   /**< NN_DISCO_LOG_* and above are logged (INFO) */
} nn_node_cfg_t;

void nn_node_cfg_default(nn_node_cfg_t *cfg);

/**
 * Start a node on \a base. DATADIR must exist; the peer store lives there, and with the API
 * enabled DATADIR/api.address (the API's address, one line) and the token file are written.
 * On failure \a why gets one line naming the file, address or setting and the fix.
 */
nn_err_t nn_node_new(nn_node_t **out, struct event_base *base, const nn_identity_t *identity,
                     uint32_t network, const char *datadir, const nn_node_cfg_t *cfg, char *why,
                     size_t why_len);
/** Stop: close the API and every channel, save anchors, close the peer store, remove
 *  DATADIR/api.address. NULL is fine. Lingering sockets are freed by the event loop within
 *  cfg.disco.linger_ms, so run it that much longer before freeing the base. */
void nn_node_free(nn_node_t *n);

/** Broadcast our own transaction in the configured route. \a id and \a mode as nn_api_ops_t. */
nn_err_t nn_node_submit(nn_node_t *n, const uint8_t *tx, size_t len, nn_hash_t *id, const char **mode);

/** Received transactions with seq >= \a since, as nn_api_ops_t.received (views valid until the
 *  next event-loop turn). */
size_t nn_node_received(nn_node_t *n, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next);

/** JSON documents of the API (new references). */
json_t *nn_node_status_json(nn_node_t *n);
json_t *nn_node_peers_json(nn_node_t *n);
void nn_node_metrics(nn_node_t *n, struct evbuffer *out);

typedef struct nn_node_stats_t {
  size_t peers_in, peers_out, dialing, channels;
  uint64_t bytes_in, bytes_out;    /**< gossip message bytes (DHT traffic is in disco's stats) */
  uint64_t tx_received, tx_submitted;
  uint64_t bad_msgs, refused_full, hello_timeouts, dials, dial_failures;
  uint64_t unsolicited, stems_dropped; /**< TXs not asked for, STEMs over the rate: dropped */
  uint64_t version_mismatch;       /**< peers that spoke another gossip version (closed) */
} nn_node_stats_t;
void nn_node_stats(const nn_node_t *n, nn_node_stats_t *st);

/** The network group of an outbound candidate (at most one outbound peer per group): /16 for a
 *  public IPv4 address, /32 for IPv6, the address and port for loopback and private ones.
 *  Writes up to 1 + NN_ADDR_HOST_MAX + 2 bytes; returns the length. */
size_t nn_node_group(const nn_addr_t *a, uint8_t out[1 + NN_ADDR_HOST_MAX + 2]);

nn_disco_t *nn_node_disco(nn_node_t *n);
nn_dl_t *nn_node_dl(nn_node_t *n);
nn_api_t *nn_node_api(nn_node_t *n);

#endif
