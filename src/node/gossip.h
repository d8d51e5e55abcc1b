/**
 * \file gossip.h
 * \brief Transaction gossip: the Dandelion++ core (dandelion/dandelion.h) run over the
 * connection manager's channels as the tenant of the gossip kinds (0x20..0x2f, docs/PROTOCOL.md
 * 8).
 *
 * Peers. A HELLO exchange turns a channel into a gossip peer:
 * - outbound: max_outbound gossip peers, dialled from the DHT's routing table and the peer
 *   store (or only from cfg.connect), at most one per network group (/16 for IPv4, /32 for
 *   IPv6; a loopback or private address is its own group, so devnets work), never a banned
 *   host, with exponential backoff per address. These are the only Dandelion++ stem relays.
 * - inbound: a peer that says HELLO on a channel it opened is accepted while there is room
 *   (max_peers - max_outbound in all, max_inbound_per_host per host) and not already a peer;
 *   otherwise it gets HELLO with the FULL flag and the channel stays a plain channel (another
 *   HELLO on it is misbehaviour). Two gossip channels with one node: the one the lower node id
 *   dialled stays. A channel to ourselves is closed.
 * A malformed or out-of-place gossip message lowers the host's standing through the manager's
 * policy and closes the channel with the reason logged; a newer gossip version is closed without
 * a penalty. Announce-then-fetch is enforced (an unsolicited TX is dropped and costs 2 points),
 * STEMs have a per-peer token bucket, and a peer that does not read gets no more INVs or TXs.
 *
 * Threads: none. No globals.
 */
#ifndef NN_NODE_GOSSIP_H
#define NN_NODE_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "dandelion/dandelion.h"
#include "dht/disco.h"
#include "lib/log.h"
#include "net/net.h"

typedef struct nn_gossip_t nn_gossip_t;

typedef struct nn_gossip_cfg_t {
  nn_dl_cfg_t dl;                /**< Dandelion++ (route, q, epochs, embargo, diffusion, caps) */
  unsigned max_peers;            /**< gossip peers in all (64) */
  unsigned max_outbound;         /**< of which we dial (8) */
  unsigned max_inbound_per_host; /**< inbound gossip peers from one host (4; 0 = no limit) */
  uint32_t connect_interval_ms;  /**< how often empty outbound slots are filled (1000) */
  uint32_t hello_timeout_ms;     /**< a dialled peer must answer HELLO within this (10000) */
  uint32_t retry_min_ms;         /**< first redial delay of an address that failed (2000) ... */
  uint32_t retry_max_ms;         /**< ... doubling up to this (300000) */
  /** Dial only these ("NODEID@HOST:PORT" or "HOST:PORT"; no group rule for them). Inbound
   *  gossip peers are still accepted. Parsed (and checked) by nn_gossip_new. */
  const char *const *connect;
  size_t n_connect;
  double stem_rate;    /**< STEMs per second one peer, and all peers of one host, may send (10) ... */
  unsigned stem_burst; /**< ... in bursts of up to (100); beyond, dropped; a network group gets twice both */
  const nn_log_t *log; /**< NULL: stderr, INFO and above */
  /** A transaction entered the mempool; \a from is its sender's node id (NULL: none, or an
   *  anonymous peer). */
  void (*deliver)(void *ctx, const uint8_t *tx, size_t len, nn_dl_via_t via, const nn_node_id_t *from);
  /** We speak the mixnet: our HELLO says so (flag MIXNET), and on_peer hears of each gossip peer
   *  whose HELLO said so too (the mixnet's directory floods along them). Peers that do not
   *  speak it never get a mixnet message, which they would close the channel for. */
  int mixnet;
  void (*on_peer)(void *ctx, uint64_t conn);
  void *ctx;
  /** tx-proxy (Monero's --tx-proxy): our own transactions go only to outbound peers whose
   *  channel runs over Tor or I2P, as a STEM to one of them at a time; held (not leaked) while
   *  there is none. One that has not come back into our mempool after the embargo's base plus
   *  twice its mean goes to another such peer; one unseen after NN_GOSSIP_OWN_MAX_AGE_MS is
   *  dropped with a warning. At most NN_GOSSIP_OWN_MAX held, NN_GOSSIP_OWN_MAX_BYTES in all. */
  int tx_proxy;
  /** With tx_proxy, private broadcast (Bitcoin Core's): each of our own transactions goes to
   *  this many random peers that have an onion or I2P address, each over a channel of its own,
   *  dialled for it alone (anonymous, a fresh circuit, no other protocol on it: NN_NET_DIAL_*)
   *  and closed once the STEM is sent; a transaction not seen back goes out again the same way
   *  to others. Without such peers, tx_proxy's own overlay peers carry it. 0: off. */
  unsigned private_broadcast;
  /** A step of one of our own transactions (the node's timeline, owntx.h): \a what and
   *  \a detail as nn_owntx_step takes them, \a peer NULL if none, \a state the nn_owntx_state_t
   *  it leads to (-1: unchanged). NULL: nobody listens. */
  void (*on_own)(void *ctx, const nn_hash_t *id, const char *what, const nn_node_id_t *peer, const char *detail,
                 int state);
  /** A gossip peer came (\a up 1: its HELLO is done) or went (0; \a info->reason says why),
   *  for the node's events. \a info is the channel's (never NULL). NULL: nobody listens. */
  void (*on_peer_state)(void *ctx, uint64_t conn, int up, const nn_net_conn_info_t *info);
  /** Another node's stem passed on: \a from sent it to us (NULL: unknown, e.g. re-stemmed after
   *  its relay went away), \a to is the relay it went to; \a what "forwarded" or "dropped".
   *  For the devnet's stem trace only (regtest): NULL everywhere else. */
  void (*on_stem)(void *ctx, const nn_hash_t *id, const nn_node_id_t *from, const nn_node_id_t *to, const char *what);
} nn_gossip_cfg_t;

#define NN_GOSSIP_PB_MAX 8 /**< private broadcast: peers per transaction, at most */

#define NN_GOSSIP_OWN_MAX 64
#define NN_GOSSIP_OWN_MAX_BYTES (64u << 20)
#define NN_GOSSIP_OWN_MAX_AGE_MS (3600u * 1000)

void nn_gossip_cfg_default(nn_gossip_cfg_t *cfg);

typedef struct nn_gossip_stats_t {
  size_t peers_in, peers_out, dialing, channels;
  uint64_t bytes_in, bytes_out; /**< gossip message bytes */
  uint64_t tx_submitted;
  uint64_t bad_msgs, refused_full, hello_timeouts, dials, dial_failures;
  uint64_t unsolicited, stems_dropped; /**< TXs not asked for, STEMs over the rate: dropped */
  uint64_t version_mismatch;           /**< peers that spoke another gossip version (closed) */
  /* tx-proxy: our own transactions */
  uint32_t own_held;    /**< held now: not seen back yet (waiting for an overlay peer, or sent) */
  uint32_t own_waiting; /**< ... of which never sent: no Tor/I2P peer yet */
  uint64_t own_sent;    /**< STEMs of our own sent to overlay peers (resends included) */
  uint64_t own_seen;    /**< came back into our mempool: the network has them */
  uint64_t own_dropped; /**< given up after NN_GOSSIP_OWN_MAX_AGE_MS */
  uint64_t pb_dialled;  /**< private broadcast: one-use channels dialled */
  uint64_t pb_sent;     /**< ... that carried our STEM */
  uint64_t pb_failed;   /**< ... that did not (no channel, refused, closed first) */
} nn_gossip_stats_t;

/** Start gossip on \a net, next to \a disco (candidates come from its DHT table and peer
 *  store). \a why (may be NULL) gets one line on failure. */
nn_err_t nn_gossip_new(nn_gossip_t **out, nn_net_t *net, nn_disco_t *disco, const nn_gossip_cfg_t *cfg, uint64_t now_ms,
                       char *why, size_t why_len);
/** Unregister and free (no callbacks after). Before the manager. NULL is fine. */
void nn_gossip_free(nn_gossip_t *g);

/** Broadcast our own transaction in the configured route (with tx_proxy: over Tor/I2P peers
 *  only). NN_ERR_NOSPACE when tx_proxy holds its maximum already. */
nn_err_t nn_gossip_submit(nn_gossip_t *g, const uint8_t *tx, size_t len);

/** A transaction out of the mixnet at this node, its exit (nn_dl_from_mixnet). */
nn_err_t nn_gossip_from_mixnet(nn_gossip_t *g, const uint8_t *tx, size_t len, int at_once);

void nn_gossip_stats(const nn_gossip_t *g, nn_gossip_stats_t *st);
/** The limits SIGHUP may change. */
typedef struct nn_gossip_limits_t {
  uint32_t max_peers, max_outbound, max_inbound_per_host;
  size_t mem_max_count, stem_max_count;
} nn_gossip_limits_t;
/** Apply \a l at run time: lowered peer caps close the youngest peers above them at once (so
 *  the traffic falls now), lowered pool caps evict the oldest entries (nn_dl_set_caps); raised
 *  caps take effect at the next dial or arrival. NN_ERR_ARG with \a why (nothing changed) for
 *  max_outbound not in 1..max_peers or a zero pool cap. */
nn_err_t nn_gossip_set_limits(nn_gossip_t *g, const nn_gossip_limits_t *l, char *why, size_t why_len);
nn_dl_t *nn_gossip_dl(nn_gossip_t *g);

/** One gossip peer, for status output. */
typedef struct nn_gossip_peer_t {
  uint64_t conn; /**< its channel (nn_net_conn_info) */
  int has_id;
  nn_node_id_t id;
  nn_addr_t addr;
  int outbound, stem_relay;
  uint64_t since_ms; /**< monotonic */
  uint64_t bytes_in, bytes_out, stems_in, stems_out;
} nn_gossip_peer_t;

/** Up to \a max gossip peers; returns the count written. */
size_t nn_gossip_peers(nn_gossip_t *g, nn_gossip_peer_t *out, size_t max);
/** The node id of this epoch's relay \a i (0 or 1), if any. */
int nn_gossip_relay(nn_gossip_t *g, size_t i, nn_node_id_t *id);

/** The network group of an outbound candidate (at most one outbound peer per group): /16 for a
 *  public IPv4 address, /32 for IPv6, the address and port for loopback and private ones.
 *  Writes up to 1 + NN_ADDR_HOST_MAX + 2 bytes; returns the length. */
size_t nn_gossip_group(const nn_addr_t *a, uint8_t out[1 + NN_ADDR_HOST_MAX + 2]);

#define NN_GOSSIP_STEM_KEY_MAX (2 + NN_ADDR_HOST_MAX + 2)
/** The key of the STEM rate shared by peers of one host (\a group 0: a public IPv4 address or
 *  IPv6 /64; a loopback or private address with its port, as a devnet's nodes share an address)
 *  or of one network group (\a group 1: nn_gossip_group). */
size_t nn_gossip_stem_key(const nn_addr_t *a, int group, uint8_t out[NN_GOSSIP_STEM_KEY_MAX]);

#endif
