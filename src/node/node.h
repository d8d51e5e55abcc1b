/**
 * \file node.h
 * \brief The node's inside: the composition of the layers on one event loop. The public face
 * is include/nepnet/node.h (settings, start/stop, submit, status); this header adds the full
 * configuration (every knob of every layer) and the parts, for nepnetd, tests and benchmarks.
 *
 * A node is: one connection manager (net/net.h) with the TCP transport and, unless hidden, a
 * listener; discovery (dht/disco.h) and gossip (node/gossip.h) as its tenants; the window of
 * received transactions the control API serves; and the control API itself (node/api.h).
 *
 * Threads: none here (nepnet/node.h adds the node's own thread). No globals: many nodes share
 * one process and one event_base in tests.
 */
#ifndef NN_NODE_NODE_H
#define NN_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "nepnet/node.h"
#include "dht/disco.h"
#include "net/net.h"
#include "node/api.h"
#include "node/gossip.h"
#include "node/mixnode.h"
#include "node/owntx.h"
#include "node/relaynode.h"
#include "node/stunnode.h"
#include "node/i2pnode.h"
#include "node/tornode.h"
#include "node/turnnode.h"

struct event_base;

#define NN_NODE_MAX_TX (64u << 20) /**< largest max-tx-bytes a node accepts */

typedef struct nn_node_cfg_t {
  nn_net_cfg_t net; /**< channels and admission (identity, network, rng and log
                                        are the node's) */
  /** "HOST:PORT" to listen on (port 0: any); NULL: no listener. Ignored when hidden. */
  const char *listen;
  nn_disco_cfg_t disco;   /**< discovery (advertise, peers, seeds, DHT...) */
  nn_gossip_cfg_t gossip; /**< gossip and Dandelion++ (gossip.dl) */
  int mixnet;             /**< speak the mixnet (1) */
  nn_mixnode_cfg_t mix;   /**< its settings (keys_file, replay_file NULL: DATADIR/mix.keys, DATADIR/mix.replay) */
  /** Relayed circuits (PROTOCOL.md 10.4). relay.service and relay.reserve -1: decided at start
   *  (a node with a listener relays for others; one without an advertised address reserves at
   *  relays); a hidden node does neither. */
  nn_relaynode_cfg_t relay;
  /** STUN on our UDP port (PROTOCOL.md 10.1): -1 auto (when we listen), 0, 1. */
  int stun;
  const char *stun_server; /**< "HOST:PORT": RFC 5780 discovery against it at start (NULL: none) */
  /** TURN (PROTOCOL.md 10.7): a server, its username and a 0600 password file; turn -1 auto
   *  (dials go through it once direct TCP fails), 0 off, 1 always. */
  const char *turn_server, *turn_user, *turn_password_file;
  int turn;
  /** Tor (PROTOCOL.md 11): the control and SOCKS ports ("HOST:PORT"; NULL: none, and socks NULL
   *  is asked of the control port), a 0600 file with the control port's password (NULL: cookie),
   *  our onion service (-1 auto: with tor_control, when we take inbound peers; 0; 1; its key is
   *  DATADIR/onion_v3_private_key), and tor_only: nothing on clearnet (no listener, STUN, TURN,
   *  relays, hole punches or DNS seeds; every dial through tor, clearnet peers through its exits
   *  only if net.dial_nets includes clearnet). net.dial_nets is the onlynet setting. */
  const char *tor_control, *tor_socks, *tor_password_file;
  int onion, tor_only;
  /** Our own transactions only over Tor/I2P peers (gossip.tx_proxy): -1 auto (when tor is set),
   *  0, 1 (tor required). Over the route: with it on, the mixnet routes do not carry ours. */
  int tx_proxy;
  /** I2P (PROTOCOL.md 11.5): the router's SAM bridge ("HOST:PORT"; NULL: none), and whether our
   *  destination takes peers (-1 auto: when we do; 0: a transient one; 1; its key is
   *  DATADIR/i2p_private_key). */
  const char *i2p_sam;
  int i2p_inbound;
  size_t rx_max_count;                              /**< received transactions kept for the API (1024) */
  size_t rx_max_bytes;                              /**< (16 MiB) */
  int api_enabled;                                  /**< start the control API (1) */
  nn_api_cfg_t api;                                 /**< its settings; token_file NULL = DATADIR/api.token */
  const char *preset;                               /**< shown in status ("balanced") */
  void (*on_tx)(void *ctx, const nn_node_tx_t *tx); /**< nepnet/node.h */
  void *tx_ctx;
  /** Log lines of every layer (no newline); NULL = stderr. */
  void (*log)(void *ctx, int level, const char *module, const char *line);
  void *log_ctx;
  int log_level; /**< NN_LOG_* and above are logged (INFO) */
} nn_node_cfg_t;

void nn_node_cfg_default(nn_node_cfg_t *cfg);
/** The configuration \a s describes (presets are already applied in \a s). Pointers into \a s
 *  are kept: \a s must live until nn_node_new returns. */
nn_err_t nn_node_cfg_from_settings(nn_node_cfg_t *cfg, const nn_node_settings_t *s, char *why, size_t why_len);

/**
 * Start a node on \a base. DATADIR must exist; the peer store lives there, and with the API
 * enabled DATADIR/api.address (the API's address, one line) and the token file are written.
 * On failure \a why gets one line naming the file, address or setting and the fix.
 */
nn_err_t nn_node_new(nn_node_t **out, struct event_base *base, const nn_identity_t *identity, uint32_t network,
                     const char *datadir, const nn_node_cfg_t *cfg, char *why, size_t why_len);
/** Stop: close the API and every channel, save anchors, close the peer store, remove
 *  DATADIR/api.address. NULL is fine. Not for a node made by nn_node_start (nn_node_stop). */
void nn_node_free(nn_node_t *n);

/** Received transactions with seq >= \a since, as nn_api_ops_t.received (views valid until the
 *  next event-loop turn). */
size_t nn_node_received(nn_node_t *n, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next);

/* The public functions of nepnet/node.h, run on the node's own thread (embed.c marshals to it). */
nn_err_t nn_node_submit_here(nn_node_t *n, const uint8_t *tx, size_t len, nn_hash_t *id);
nn_err_t nn_node_status_here(nn_node_t *n, nn_node_status_t *st);
size_t nn_node_peers_here(nn_node_t *n, nn_node_peer_t *out, size_t max);
/* embed.c's state, for a node made by nn_node_start. */
void nn_node_set_host(nn_node_t *n, void *host);
void *nn_node_host(const nn_node_t *n);
struct event_base *nn_node_base(const nn_node_t *n);

typedef struct nn_node_stats_t {
  nn_gossip_stats_t gossip;
  uint64_t tx_received;
} nn_node_stats_t;
void nn_node_stats(const nn_node_t *n, nn_node_stats_t *st);

nn_net_t *nn_node_net(nn_node_t *n);
nn_disco_t *nn_node_disco(nn_node_t *n);
nn_gossip_t *nn_node_gossip(nn_node_t *n);
nn_dl_t *nn_node_dl(nn_node_t *n);
nn_api_t *nn_node_api(nn_node_t *n);
/** What nepnetd changes on SIGHUP, from the node's own thread: the lowest log level passed to
 *  the sink, and the routing mode of our own transactions from now on (NN_ERR_PERM with \a why
 *  when the node cannot: a mixnet route on a node without the mixnet or cover). */
void nn_node_set_log_level(nn_node_t *n, int level);
nn_err_t nn_node_set_route(nn_node_t *n, nn_route_t route, char *why, size_t why_len);
/** What else SIGHUP changes at run time, from \a s (the settings as nn_node_start takes them):
 *  the limits (max-peers, max-outbound, max-inbound-per-host, mempool-max-count,
 *  stempool-max-count, listen-max-per-ip, listen-half-open-per-group, max-channels,
 *  dht-per-table-wide: nn_gossip_set_limits, nn_net_set_caps, nn_dht_table_set_wide say how
 *  each applies) and the seeds (peer, dns-seed: nn_disco_set_seeds). Each change is logged.
 *  On an error \a why names the setting and nothing has changed (but for out of memory
 *  while the limits were applied). Every other setting needs a restart. */
nn_err_t nn_node_reload(nn_node_t *n, const nn_node_settings_t *s, char *why, size_t why_len);
nn_mixnode_t *nn_node_mixnode(nn_node_t *n); /**< NULL when the mixnet is off */
nn_relaynode_t *nn_node_relay(nn_node_t *n);
nn_stunnode_t *nn_node_stun(nn_node_t *n);                    /**< NULL without a listener or with stun = 0 */
nn_tornode_t *nn_node_tor(nn_node_t *n);                      /**< NULL without tor-control or tor-socks */
const nn_owntx_t *nn_node_own(const nn_node_t *n);            /**< our own transactions' timelines */
const struct nn_events_t *nn_node_events(const nn_node_t *n); /**< what happened (events.h) */
nn_i2pnode_t *nn_node_i2p(nn_node_t *n);                      /**< NULL without i2p-sam */

#endif
