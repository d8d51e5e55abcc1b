/**
 * \file dht.h
 * \brief The Kademlia node core, sans-I/O: routing table, RPC handling, iterative lookups over
 * disjoint paths (S/Kademlia), and the value store for signed peer records.
 *
 * The caller (the TCP driver in a real node, the simulator in virtual time) delivers each DHT
 * message received on a secure channel with nn_dht_on_message(), together with the peer's
 * authenticated node id; the core sends through io.send(), which the caller maps to an open or
 * new channel to that node id. Time is passed in; randomness is injected. One process can run
 * thousands of these (the simulator runs 10,000).
 */
#ifndef NN_DHT_DHT_H
#define NN_DHT_DHT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/rand.h"
#include "dht/rpc.h"
#include "dht/table.h"

typedef struct nn_dht_t nn_dht_t;

/** A value check: 0 = valid (seq and expiry filled in), > 0 = unusable but honest (expired),
 *  < 0 = forged or malformed (the sender is penalized). */
typedef int (*nn_dht_validate_fn)(void *ctx, const nn_node_id_t *key, const uint8_t *value, size_t len, uint64_t now_ms,
                                  uint64_t *seq, uint64_t *expires_ms);

/** Of two valid values of one key with equal seq and expiry: 1 if \a a replaces \b b (the
 *  record format's total order, docs/PROTOCOL.md 6.3), else 0. */
typedef int (*nn_dht_newer_fn)(void *ctx, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

typedef struct nn_dht_io_t {
  /** Send one DHT message to node \a to: an answer goes back on \a reply_conn (the handle
   *  given to nn_dht_on_message; a relayed answer comes up to a second later, so the driver
   *  must recognise a handle whose connection has closed meanwhile and then drop the answer);
   *  a request (reply_conn NULL) goes over an open channel to to->id or a new one to
   *  to->addr, authenticated to to->id. */
  void (*send)(void *ctx, const nn_rpc_node_t *to, void *reply_conn, const uint8_t *msg, size_t len);
  /** A peer misbehaved: lower its standing by \a points (may be NULL). */
  void (*penalize)(void *ctx, const nn_node_id_t *id, const nn_addr_t *addr, int points, const char *why);
  void *ctx;
} nn_dht_io_t;

typedef struct nn_dht_cfg_t {
  nn_dht_table_cfg_t table;
  unsigned alpha;              /**< parallel RPCs per path (3) */
  unsigned k;                  /**< result size and replication (20) */
  unsigned paths;              /**< disjoint lookup paths (2); 1 = plain Kademlia */
  uint32_t rpc_timeout_ms;     /**< an unanswered RPC fails after this (2000) */
  uint32_t refresh_ms;         /**< refresh a bucket not looked into for this long (3,600,000) */
  unsigned max_inflight;       /**< outstanding RPCs across all lookups (256) */
  unsigned max_lookups;        /**< concurrent lookups (64) */
  unsigned max_values;         /**< stored values (4096); when full, a newcomer closer to our id
                                    replaces the farthest value nobody but its storer asked for in
                                    the last 30 minutes (our own values are never replaced) */
  unsigned values_per_host;    /**< values one storer's host may have us hold (0: max_values / 16,
                                    256); an inbound peer's host is its address without the port */
  unsigned values_per_group;   /**< ... and one IPv4 /24 or IPv6 /48 (0: max_values / 8, 512);
                                    beyond, "no room" before any signature check and a point off */
  double store_rate;           /**< STOREs per second one host may send (4) ... */
  unsigned store_burst;        /**< ... in bursts of (64); the node takes 16 times both from all hosts;
                                    beyond, answered "no room" before any signature check */
  unsigned per_referrer;       /**< closest referrals taken from one answer (8 of at most 20, so one
                                    liar's answer never fills a lookup's shortlist of 20) */
  unsigned relay;              /**< first-round value lookups are relayed this many hops over
                                   open channels (0 = plain iterative, default 2, max 3) */
  nn_dht_validate_fn validate; /**< required for FIND_VALUE/STORE; NULL refuses every value */
  nn_dht_newer_fn newer;       /**< the tie-break at equal seq and expiry (NULL: the stored one stays) */
  void *validate_ctx;          /**< for both */
  int has_self_addr;           /**< advertise self_addr in requests (hidden nodes: 0) */
  nn_addr_t self_addr;
  const nn_rng_t *rng;
} nn_dht_cfg_t;

void nn_dht_cfg_default(nn_dht_cfg_t *cfg);

typedef struct nn_dht_lookup_result_t {
  nn_node_id_t target;
  int found_value;      /**< FIND_VALUE: a valid value was found */
  const uint8_t *value; /**< valid during the callback */
  size_t value_len;
  size_t nclosest; /**< answered contacts closest to the target, closest first */
  const nn_rpc_node_t *closest;
  unsigned hops; /**< longest chain of referrals that led to the result */
  unsigned rpcs, failures;
  uint64_t elapsed_ms;
} nn_dht_lookup_result_t;

typedef void (*nn_dht_lookup_cb)(void *ctx, const nn_dht_lookup_result_t *res);

nn_err_t nn_dht_new(nn_dht_t **out, const nn_node_id_t *self, const nn_dht_cfg_t *cfg, const nn_dht_io_t *io,
                    uint64_t now_ms);
void nn_dht_free(nn_dht_t *d);

/** A bootstrap contact (DNS seed, --peer, peer store): pinged, and added when it answers. */
void nn_dht_add_contact(nn_dht_t *d, const nn_rpc_node_t *node, uint64_t now_ms);
/**
 * One DHT message from \a from_id over the channel \a conn (an opaque handle of the driver's)
 * whose remote address is \a from_addr: with \a dialled, the address we dialled and the peer
 * proved by completing the handshake there (the only kind of address an answer can put into the
 * routing table); else the address an inbound peer connects from.
 * \a from_id is NULL for an anonymous peer (served, never added to the table). A malformed
 * message is penalized and returned as an error.
 */
nn_err_t nn_dht_on_message(nn_dht_t *d, void *conn, const nn_node_id_t *from_id, const nn_addr_t *from_addr,
                           int dialled, const uint8_t *msg, size_t len, uint64_t now_ms);
/** The driver could not reach \a id: fail its outstanding RPCs now rather than at the timeout. */
void nn_dht_on_unreachable(nn_dht_t *d, const nn_node_id_t *id, uint64_t now_ms);
void nn_dht_tick(nn_dht_t *d, uint64_t now_ms);
uint64_t nn_dht_deadline(nn_dht_t *d);

/** Start a lookup; \a cb runs exactly once (possibly from inside this call). 0 on failure. */
uint32_t nn_dht_lookup(nn_dht_t *d, const nn_node_id_t *target, int want_value, nn_dht_lookup_cb cb, void *ctx,
                       uint64_t now_ms);
/** Store \a value under \a key locally and at the k closest nodes (a lookup, then STOREs). */
nn_err_t nn_dht_put(nn_dht_t *d, const nn_node_id_t *key, const uint8_t *value, size_t len, uint64_t now_ms);
/** What became of STOREs (issue 10, items 5 and 6). */
typedef struct nn_dht_store_stats_t {
  uint64_t verified;      /**< signature checks of stored values */
  uint64_t refused_rate;  /**< refused above the storer's (or all storers') rate */
  uint64_t refused_quota; /**< refused above the storer's share (values_per_host/_group) */
  uint64_t refused_full;  /**< refused: full of values closer to us or asked for */
  uint64_t evicted;       /**< values replaced by a closer newcomer */
} nn_dht_store_stats_t;
void nn_dht_store_stats(const nn_dht_t *d, nn_dht_store_stats_t *out);
/** A locally stored value, or NULL. */
const uint8_t *nn_dht_get_local(const nn_dht_t *d, const nn_node_id_t *key, size_t *len);

nn_dht_table_t *nn_dht_table(nn_dht_t *d);
size_t nn_dht_values(const nn_dht_t *d);
/** Approximate heap bytes this node uses (table, lookups, values). */
size_t nn_dht_memory(const nn_dht_t *d);

/** The address our requests advertise from now on (NULL: none). */
void nn_dht_set_self_addr(nn_dht_t *d, const nn_addr_t *a);

#endif
