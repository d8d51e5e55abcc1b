/**
 * \file mixnode.h
 * \brief The mixnet in a node: the sans-I/O mix, client, directory and reassembly cores
 * (src/mixnet/) run over the connection manager's channels as the tenant of kinds 0x30..0x3f
 * (docs/PROTOCOL.md 9.9).
 *
 * Every node that speaks the mixnet:
 * - says HELLO on each gossip peer's channel and on each channel it opens to pass packets on;
 *   a peer whose geometry or key epoch differs gets nothing else;
 * - keeps the directory: descriptors are flooded along gossip peers (INV, then GETDESC, then
 *   DESC: only descriptors it asked for are taken, so a peer cannot make it verify signatures
 *   at will) and views are compared every sync_interval_ms (DIGEST; on a mismatch, INV of the
 *   whole view), so any descriptor an honest node holds reaches the honest nodes around it;
 * - runs a receive-only mix core: it takes the packets whose last hop it is (its own loops, and
 *   fragments and drop cover when it is an exit), with its own key epochs;
 * - with \a mix: is a mix: its core passes packets on, the crypto on a pool of worker threads,
 *   and it publishes a descriptor for each key epoch (during the epoch before, publish_ahead_ms
 *   ahead) signed by the node's identity, with the address discovery advertises. Mixes are the
 *   exits too: they reassemble messages and hand them to gossip (cfg.deliver);
 * - with \a cover: runs the client: Loopix's payload and loop streams at the configured rates,
 *   whether or not it has anything to send. nn_mixnode_send puts a message (our own
 *   transaction) into the payload stream.
 *
 * A packet for a node we have no mixnet channel to waits (max_pending packets in all) while we
 * reach it: an established channel to it if any, else the address in its descriptor (a mix) or
 * in its peer record (nn_disco_find: the recipient of a loop). A node that cannot be reached
 * (behind NAT, hidden) gets its loops only from mixes that already hold a channel to it (the
 * NAT traversal issue adds the rest); its loops then count against the mixes, and routes use
 * every mix of a layer when all of them look poor.
 *
 * Key epochs are numbered from the Unix epoch (wall-clock time), so all nodes agree on them;
 * the mix keys' seeds are saved in keys_file (0600, refused otherwise) so a mix restarted
 * within an epoch keeps working keys, and its replay filters in replay_file (every 10 minutes and
 * on a clean stop) so that it still refuses packets it passed on before; after a crash, those of
 * the last minutes before it are forgotten.
 *
 * Threads: everything on the event loop's thread but the packets' crypto. No globals.
 */
#ifndef NN_NODE_MIXNODE_H
#define NN_NODE_MIXNODE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "dht/disco.h"
#include "lib/log.h"
#include "mixnet/client.h"
#include "mixnet/dir.h"
#include "mixnet/frag.h"
#include "mixnet/mix.h"
#include "net/net.h"

typedef struct nn_mixnode_t nn_mixnode_t;

typedef struct nn_mixnode_cfg_t {
  int mix;                   /**< be a mix (and an exit) (0) */
  int cover;                 /**< run the client's streams (0; on when the route uses the mixnet) */
  unsigned hops;             /**< the network's geometry: hops (4) ... */
  size_t packet_len;         /**< ... and packet size (36,864) */
  uint64_t epoch_ms;         /**< key epoch (3,600,000) */
  nn_mix_cfg_t mix_cfg;      /**< the mix core (geometry and epoch_ms are set from above) */
  nn_mixclient_cfg_t client; /**< rates, delays, redundancy (geometry, epoch, self set here) */
  nn_mixdir_cfg_t dir;       /**< caps (network and layers set here) */
  nn_reasm_cfg_t reasm;      /**< reassembly at the exit (body_len set here) */
  unsigned workers;          /**< threads for a mix's packet crypto (0: the loop's thread) */
  uint64_t publish_ahead_ms; /**< publish the next epoch's descriptor this long before it (600,000;
                                     at most a sixth of the epoch) */
  uint32_t sync_interval_ms; /**< DIGEST to every mixnet peer this often (30,000) */
  size_t max_pending;        /**< packets waiting for a channel to their next hop (256) */
  uint32_t reach_timeout_ms; /**< ... at most this long (10,000) */
  size_t max_pending_out;    /**< a peer owing this much output gets no more packets (4 MiB) */
  const char *keys_file;     /**< the mix keys' seeds (NULL: not saved) */
  const char *replay_file;   /**< the replay filters, saved every 10 min and on a clean stop (NULL: not) */
  double test_loss;          /**< tests only: this share of the packets a mix passes to another
                                  mix is dropped (a lossy link), counted in test_dropped (0) */
  const nn_log_t *log;       /**< NULL: stderr, INFO and above */
  /** A message came out of the mixnet here (an exit): \a at_once 1 for `mixnet` (broadcast at
   *  once), 0 for `dandelion+mixnet` (Dandelion++'s fluff). */
  void (*deliver)(void *ctx, const uint8_t *msg, size_t len, int at_once);
  void *ctx;
} nn_mixnode_cfg_t;

void nn_mixnode_cfg_default(nn_mixnode_cfg_t *cfg);

/** Cover presets: "off" (no client), "low", "standard" (the mixnet's default, under 32 KB/s),
 *  "constant" (no burst: a message changes nothing a link observer sees). NN_ERR_ARG for another. */
nn_err_t nn_mixnode_cover_preset(nn_mixnode_cfg_t *cfg, const char *name);

/** Start the mixnet on \a net beside \a disco. \a why (may be NULL) gets one line on failure,
 *  naming the file or setting. */
nn_err_t nn_mixnode_new(nn_mixnode_t **out, nn_net_t *net, nn_disco_t *disco, const nn_identity_t *identity,
                        uint32_t network, const nn_mixnode_cfg_t *cfg, char *why, size_t why_len);
/** Save the keys, stop the workers, unregister, free. After the disco it uses. NULL is fine. */
void nn_mixnode_free(nn_mixnode_t *m);

/** A channel became a gossip peer: say HELLO on it (gossip's on_peer). */
void nn_mixnode_peer(nn_mixnode_t *m, uint64_t conn);

/** Send \a msg through the mixnet to an exit chosen from the directory; it leaves at the payload
 *  stream's events. \a at_once: the routing mode (mixnet 1, dandelion+mixnet 0). NN_ERR_PERM
 *  without the client (cover off), NN_ERR_NOTFOUND with no exit known yet, and what
 *  nn_mixclient_send returns. */
nn_err_t nn_mixnode_send(nn_mixnode_t *m, const uint8_t *msg, size_t len, int at_once);

/** Why packets waiting for a next hop went nowhere. */
typedef struct nn_mixnode_stats_t {
  int mix, cover;
  uint32_t epoch;
  size_t peers; /**< channels speaking the mixnet with us */
  size_t view;  /**< mixes in this epoch's view */
  size_t layer_mixes[NN_SPHINX_MAX_HOPS];
  nn_hash_t digest;   /**< of this epoch's view */
  uint64_t published; /**< descriptors we published */
  uint64_t desc_in, desc_bad, desc_unasked;
  uint64_t packets_in, packets_out;
  uint64_t unreachable;   /**< packets whose next hop we could not reach in time, or dropped for room */
  uint64_t backlogged;    /**< packets not sent: the next hop owed too much output */
  uint64_t drop_in;       /**< drop-cover bodies received */
  uint64_t loops_foreign; /**< loop bodies that were not ours */
  uint64_t messages_out;  /**< messages handed to gossip (we are their exit) */
  uint64_t bad_msgs;      /**< malformed or out-of-place mixnet messages (penalized, closed) */
  size_t pending;
  nn_mix_stats_t core;
  nn_mixclient_stats_t client;
  nn_reasm_stats_t reasm;
  uint64_t cover_bytes_out; /**< PACKET bytes we originated (the client's streams) */
  uint64_t test_dropped;    /**< packets cfg.test_loss dropped */
} nn_mixnode_stats_t;
void nn_mixnode_stats(nn_mixnode_t *m, nn_mixnode_stats_t *st);

/** One mix of this epoch's view, for status. */
typedef struct nn_mixnode_mix_t {
  nn_node_id_t id;
  unsigned layer;
  nn_addr_t addr;
  double reliability;
} nn_mixnode_mix_t;
size_t nn_mixnode_mixes(nn_mixnode_t *m, nn_mixnode_mix_t *out, size_t max);

nn_mixdir_t *nn_mixnode_dir(nn_mixnode_t *m);
/** This node's mix key for \a epoch (NULL if it holds none). */
const nn_hybrid_pk_t *nn_mixnode_public_key(const nn_mixnode_t *m, uint32_t epoch);
/** The key epoch at \a unix_ms. */
uint32_t nn_mixnode_epoch_at(const nn_mixnode_t *m, uint64_t unix_ms);

#endif
