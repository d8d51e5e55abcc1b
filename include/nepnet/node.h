/**
 * \file nepnet/node.h
 * \brief A whole nepnet node inside another program: discovery, post-quantum channels,
 * Dandelion++ private broadcast and, optionally, the control API, on the caller's libevent
 * loop or on a thread of its own. This is what nepnetd runs and what neptune-core (Rust) or a
 * wallet can embed instead of talking to a daemon beside it.
 *
 *     nn_node_settings_t s;
 *     nn_node_settings_default(&s);            // the balanced preset, mainnet
 *     s.datadir = "/var/lib/neptune/nepnet";   // identity.key and peers.sqlite live here
 *     s.on_tx = my_tx_handler;                 // transactions that enter the mempool
 *     nn_node_t *node;
 *     nn_error_t err;
 *     if (nn_node_start(&node, &s, NULL, &err)) // NULL: a thread of its own
 *       fprintf(stderr, "nepnet: %s\n", err.message);
 *     uint8_t id[32];
 *     nn_node_submit(node, tx, tx_len, id, &err);   // private broadcast (Dandelion++)
 *     nn_node_stop(node);
 *
 * Threads. Started on the caller's event_base, every call must come from the thread that runs
 * it, and callbacks run there. Started on its own thread (base NULL), nn_node_submit,
 * nn_node_status, nn_node_peers and nn_node_stop may be called from any thread (they wait for
 * the node's thread to answer), and callbacks run on the node's thread: they must not call back
 * into the node except nn_node_submit/status/peers, which then run directly.
 *
 * Errors are values: every function returns an nn_err_t, and the ones that can fail for a
 * reason worth telling fill an nn_error_t with one line that names the file, address or
 * setting and the fix.
 */
#ifndef NEPNET_NODE_H
#define NEPNET_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/channel.h"
#include "nepnet/error.h"
#include "nepnet/types.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The shared library exports these and nothing else (it is built with -fvisibility=hidden). */
#pragma GCC visibility push(default)

struct event_base;

typedef struct nn_node_t nn_node_t;

/** An error with its explanation. */
typedef struct nn_error_t {
  nn_err_t code;
  char message[256];
} nn_error_t;

/** A transaction that entered the node's mempool (valid during the callback only). */
typedef struct nn_node_tx_t {
  uint8_t id[32]; /**< SHA3-256 of the bytes */
  const uint8_t *data;
  size_t len;
  uint64_t seq;     /**< 1, 2, 3... in arrival order */
  uint64_t unix_ms; /**< when it entered the mempool */
  const char *via;  /**< "fluff", "stem-fluff", "embargo", "direct" */
  char from[65];    /**< the peer's node id in hex; "" if none or anonymous */
} nn_node_tx_t;

/** Everything a node can be told. Start from nn_node_settings_default(); strings and lists
 *  are copied by nn_node_start. The option of the same name in `nepnetd --help` says more. */
typedef struct nn_node_settings_t {
  const char *datadir;      /**< required: identity.key, peers.sqlite, api files */
  uint32_t network;         /**< NN_NET_MAINNET (default), NN_NET_TESTNET, NN_NET_REGTEST */
  const char *preset;       /**< the preset applied last (shown in status): "balanced" */
  const char *listen;       /**< "HOST:PORT" peers connect to ("0.0.0.0:9800"); NULL: none */
  const char *advertise;    /**< the address published in our record (NULL: listen's) */
  int hidden;               /**< no listener, no record, anonymous channels */
  int allow_private;        /**< loopback/private addresses in the DHT (devnets only) */
  const char *const *peers; /**< bootstrap peers "NODEID@HOST:PORT" or "HOST:PORT" */
  size_t n_peers;
  const char *const *connect; /**< dial only these for gossip */
  size_t n_connect;
  const char *const *dns_seeds; /**< DNS seed names */
  size_t n_dns_seeds;
  const char *dns_nameserver;          /**< resolver "IP:PORT" (NULL: the system's) */
  uint32_t max_peers;                  /**< gossip peers in all (64) */
  uint32_t max_outbound;               /**< of which we dial (8) */
  uint32_t max_inbound_per_host;       /**< inbound gossip peers per host (4; 0 = no limit) */
  uint32_t max_channels;               /**< outbound channels no protocol holds, kept open (64) */
  uint32_t listen_max_per_ip;          /**< concurrent inbound connections per IP or /64 (8) */
  double listen_ip_rate;               /**< new inbound handshakes per second per IP (20) */
  uint32_t listen_half_open_per_group; /**< inbound handshakes at once per /24 or /48 (32; 0 = no limit) */
  uint32_t dht_per_table_wide;         /**< DHT contacts per /16 or /32 (0 = no limit) */
  uint32_t workers;                    /**< threads for handshake crypto (the number of cores; 0: the
                                          event loop's thread does it) */
  nn_route_t route;                    /**< NN_ROUTE_DANDELION (default), NN_ROUTE_DIRECT, NN_ROUTE_MIXNET or
                                          NN_ROUTE_DANDELION_MIXNET (the last two need cover) */
  double fluff_prob;                   /**< Dandelion++ q (0.1) */
  uint32_t epoch_s;                    /**< Dandelion++ epoch (600) */
  uint32_t embargo_base_ms;            /**< embargo: a constant ... */
  uint32_t embargo_mean_ms;            /**< ... plus an exponential delay with this mean */
  uint32_t inv_delay_out_ms;           /**< diffusion: mean INV delay to an outbound peer */
  uint32_t inv_delay_in_ms;            /**< ... to an inbound peer */
  double stem_rate;                    /**< STEMs per second one peer may send (10) */
  uint32_t stem_burst;                 /**< ... in bursts of (100) */
  size_t max_tx_bytes;                 /**< largest transaction (8 MiB) */
  size_t mempool_max_count;            /**< (10000) */
  size_t stempool_max_count;           /**< (1000) */
  const char *api;                     /**< control API "127.0.0.1:PORT", "[::1]:PORT", "unix:/PATH";
                                       NULL or "off": none (the default for an embedded node) */
  const char *api_token_file;          /**< NULL: DATADIR/api.token */
  int log_level;                       /**< 0 debug, 1 info (default), 2 warn, 3 error */
  int mixnet;                          /**< speak the mixnet: directory, loops, deliveries (1) */
  int mix;                             /**< be a mix and an exit (0; needs a reachable address) */
  const char *cover;                   /**< the client's streams: "off", "low", "standard", "constant"
                                          (the preset's: standard for private, else off) */
  uint32_t mix_delay_ms;               /**< mean delay per mix of our packets (50) */
  uint32_t mix_epoch_s;                /**< the network's key epoch (3600); devnets shorten it */
  double mix_redundancy;               /**< parity fragments per data fragment, at least (0.5) */
  double mix_test_loss;                /**< tests only: share of mix-to-mix packets a mix drops (0) */
  double mix_send_rate;                /**< packets/s while our fragments wait (0: the cover preset's burst) */
  int relay;                           /**< relay circuits for nodes others cannot reach: -1 auto (when we
                                          listen at an advertised address), 0, 1 */
  int relay_reserve;                   /**< be reachable through relays: -1 auto (when we have no
                                          advertised address), 0, 1 */
  const char *const *relay_via;        /**< relays to reserve at first: "NODEID@HOST:PORT" */
  size_t n_relay_via;
  uint32_t relay_max_circuits;     /**< circuits through us at once (32) */
  uint32_t relay_circuit_s;        /**< seconds one may live (1800) */
  size_t relay_circuit_bytes;      /**< bytes one may carry, both directions (64 MiB) */
  uint32_t relay_rate;             /**< bytes/s per direction of one (524288) */
  uint32_t relay_max_reservations; /**< nodes reachable through us (64) */
  int stun;                        /**< answer STUN on our UDP port (the listen port): -1 auto (when
                                      we listen), 0, 1 */
  const char *stun_server;         /**< "HOST:PORT": find our NAT's behaviour against it at start
                                      (RFC 5780; a server with two addresses, e.g. coturn) */
  const char *turn_server;         /**< "HOST:PORT" of a TURN server (RFC 8656 with TCP relaying,
                                      RFC 6062): the way out of a network that blocks the rest */
  const char *turn_user;           /**< its long-term credential's username */
  const char *turn_password_file;  /**< a file (mode 0600 or stricter) holding the password */
  int turn;                        /**< dial through it: -1 auto (when direct TCP fails), 0, 1 */
  const char *tor_control;         /**< tor's control port "HOST:PORT": our onion service, and where
                                      tor's SOCKS port is (NULL: none) */
  const char *tor_socks;           /**< tor's SOCKS port "HOST:PORT" (NULL: asked of the control port) */
  const char *tor_password_file;   /**< the control port's password (HashedControlPassword), in a file
                                      of mode 0600 (NULL: cookie authentication) */
  const char *onlynet;             /**< the networks we dial: "clearnet", "tor", "i2p" separated by
                                      commas (NULL: every one we have a way to) */
  int onion;                       /**< our onion service: -1 auto (with tor_control, when we take
                                      inbound peers), 0, 1; its key is DATADIR/onion_v3_private_key */
  int tor_only;                    /**< nothing on clearnet: every connection through tor, no clearnet
                                      listener, STUN, TURN, relays, hole punching or DNS seeds */
  int tx_proxy;                    /**< our own transactions only to peers over Tor (Monero's
                                      tx-proxy; held while there is none): -1 auto (when tor is
                                      set; the private preset's), 0 (the others'), 1 */
  int i2p_inbound;                 /**< a persistent I2P destination that takes peers: -1 auto (when we
                                      take inbound peers), 0 (a transient one, outbound only), 1; its
                                      key is DATADIR/i2p_private_key */
  const char *i2p_sam;             /**< the I2P router's SAM bridge "HOST:PORT" (NULL: no I2P) */
  uint32_t link_padding_ms;        /**< link padding on Tor/I2P channels: one 1 KiB record every this
                                      many ms each way, real data replacing decoys (0: off) */
  uint32_t private_broadcast;      /**< Bitcoin Core's private broadcast: our own transactions each to
                                      this many random onion/I2P peers over one-use anonymous
                                      channels (0: off; 1..8; implies tx_proxy) */
  /** A transaction entered the mempool (also for our own, once it is fluffed back to us). */
  void (*on_tx)(void *ctx, const nn_node_tx_t *tx);
  /** Log lines (no newline); NULL: stderr. \a module is "net", "disco", "gossip", "api"... */
  void (*on_log)(void *ctx, int level, const char *module, const char *line);
  void *ctx;
  uint32_t api_token_mode; /**< the API token file's mode: 0600 (default; 0 means it too) or 0640,
                              so that the file's group (a system service's operators) may read it */
} nn_node_settings_t;

/** The balanced preset on mainnet, listening on 0.0.0.0:9800, no control API. */
void nn_node_settings_default(nn_node_settings_t *s);
/** Apply a preset: "fast", "balanced" or "private" (README: what each trades). NN_ERR_ARG for
 *  another name. */
nn_err_t nn_node_settings_preset(nn_node_settings_t *s, const char *name);

/**
 * Start a node: create the data directory if needed (0700), load or create its identity
 * (DATADIR/identity.key, 0600), start listening, bootstrapping and gossiping. With \a base the
 * node runs on that loop (the caller dispatches it); with NULL it runs on a thread of its own.
 */
nn_err_t nn_node_start(nn_node_t **out, const nn_node_settings_t *s, struct event_base *base, nn_error_t *err);
/** Stop: close the API and every channel (CLOSE records sent), save anchors, close the peer
 *  store, join the node's thread if it has one, free. NULL is fine. Not from a callback. */
void nn_node_stop(nn_node_t *n);

/**
 * Broadcast our own transaction in the configured route (Dandelion++: stemmed first, so the
 * network cannot tell it was ours). \a id (may be NULL) gets its SHA3-256. NN_ERR_TOO_LONG
 * above max_tx_bytes, NN_ERR_ARG if empty.
 */
nn_err_t nn_node_submit(nn_node_t *n, const uint8_t *tx, size_t len, uint8_t id[32], nn_error_t *err);

/** What a node reports about itself. */
typedef struct nn_node_status_t {
  char node_id[65]; /**< hex */
  char network[16]; /**< "mainnet", "testnet", "regtest" */
  char peer[200];   /**< "NODEID@HOST:PORT" to give others as --peer; "" if hidden */
  char preset[16];
  char route[24]; /**< "dandelion", "direct" */
  uint64_t uptime_s;
  uint32_t peers_in, peers_out, dialing;
  uint32_t channels; /**< secure channels open or opening (gossip and DHT) */
  uint32_t dht_size; /**< contacts in the routing table */
  int bootstrapped;
  uint64_t bytes_in, bytes_out; /**< gossip message bytes */
  int fluff_epoch;              /**< 1 in a Dandelion++ fluff epoch, 0 in a stem epoch */
  uint64_t epoch_ends_in_s;
  uint32_t n_relays;  /**< this epoch's stem relays (at most 2) */
  char relays[2][65]; /**< their node ids in hex */
  uint64_t mempool_count, mempool_bytes, stempool_count, stempool_bytes;
  uint64_t tx_received, tx_submitted;
  uint64_t rx_seq;    /**< seq of the last transaction received */
  int mix;            /**< 1: this node is a mix (and an exit) */
  uint32_t mix_epoch; /**< the mixnet's key epoch now (0: mixnet off) */
  uint32_t mixes;     /**< mixes in this epoch's directory view */
  uint64_t mix_packets_in, mix_packets_out;
} nn_node_status_t;

nn_err_t nn_node_status(nn_node_t *n, nn_node_status_t *st);

/** One gossip peer. */
typedef struct nn_node_peer_t {
  char node_id[65]; /**< hex; "" for an anonymous inbound peer */
  char addr[80];
  int outbound;
  uint64_t since_s;
  uint64_t bytes_in, bytes_out, stems_in, stems_out;
  int stem_relay; /**< one of this epoch's relays */
  /** How the channel runs: "tcp", "relay" (through a relay; addr names the relay),
   *  "punched" (through a relay first, then a hole punch; addr is the peer's), "turn", "tor"
   *  (addr "onion-service" for one in through our onion service), "i2p". */
  char path[16];
} nn_node_peer_t;

/** Up to \a max gossip peers into \a out; returns how many were written. */
size_t nn_node_peers(nn_node_t *n, nn_node_peer_t *out, size_t max);

/** "dandelion", "direct", "mixnet", "dandelion+mixnet". */
const char *nn_route_str(nn_route_t r);
/** "mainnet", "testnet", "regtest" (NULL for an unknown magic). */
const char *nn_network_str(uint32_t network);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
