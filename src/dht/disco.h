/**
 * \file disco.h
 * \brief The discovery node: the sans-I/O Kademlia core (dht.h) run for real as a tenant of
 * the connection manager (net/net.h), with the peer store (peerstore.h) and signed peer
 * records (record.h).
 *
 * What it does:
 * - registers the DHT's message kinds (0x10..0x1f) with the manager and carries one nn_rpc
 *   message per channel message. Answers go back on the channel the request came on; requests
 *   go over an open channel to the node id (outbound or identified inbound), else over a new
 *   outbound channel authenticated to that node id (the manager queues the message until the
 *   handshake ends). The reply handle given to the DHT is the channel's handle (never reused),
 *   so a relayed answer that comes after the channel closed is recognised and dropped. An
 *   unreachable node is reported to the DHT (nn_dht_on_unreachable).
 * - is the manager's policy (nn_net_policy_t), since it owns the peer store: penalties (the
 *   DHT's, other tenants', and channels that close for protocol/authentication failures after
 *   the handshake) lower the standing of an identified peer's node id, or of an anonymous
 *   peer's host as a host of anonymous peers; failures before the handshake are nobody's
 *   (admission rate-limits them). A banned node is never dialled and is closed as soon as its
 *   handshake proves its id; the anonymous peers of a banned host are closed as soon as theirs
 *   completes, and the identified nodes at that host are unaffected. Banned hosts (the peer
 *   store's nn_peerstore_ban) are never dialled and refused before the handshake. The peer
 *   store keys loopback/private addresses by address and port; an inbound peer's port is
 *   ephemeral, so inbound loopback/private peers are judged by host with port 0
 *   (nn_disco_pen_key).
 * - values are peer records: the DHT's validate callback decodes and verifies them against the
 *   network and the current unix time, and checks that the key is the record's node id.
 * - publishes its own signed record under its node id once it has contacts (after bootstrap and
 *   a self-lookup), and republishes at half the lifetime with a higher seq. A hidden node never
 *   publishes and advertises no address (its manager dials anonymously and listens nowhere).
 * - bootstraps from, in this order: the peer store (anchors, then nn_peerstore_select), DNS seeds
 *   (evdns A and AAAA, on default_port), static peers ("NODEID@HOST:PORT", or "HOST:PORT" for a
 *   seed of any node id). If none is reachable it logs so and retries with exponential backoff
 *   (boot_retry_min_ms doubling up to boot_retry_max_ms). A node that gains contacts in any
 *   other way (inbound peers) counts as bootstrapped.
 * - on nn_disco_free, remembers up to NN_PEERSTORE_ANCHORS_MAX outbound peers as anchors (the
 *   channels other tenants hold first).
 *
 * Time: the DHT runs on unix milliseconds (record expiry is unix time), driven by one libevent
 * timer at nn_dht_deadline() and at least every second. What would re-enter the DHT from inside
 * itself (an unreachable node found while it sends) is deferred to a zero-delay event.
 *
 * Threads: none; every call from the thread that runs the manager's event_base. No globals:
 * many nodes share one process and one event_base (the tests run 50).
 */
#ifndef NN_DHT_DISCO_H
#define NN_DHT_DISCO_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "nepnet/types.h"
#include "crypto/rand.h"
#include "dht/dht.h"
#include "dht/peerstore.h"
#include "dht/record.h"
#include "lib/log.h"
#include "net/net.h"

typedef struct nn_disco_t nn_disco_t;

typedef struct nn_disco_cfg_t {
  /** DHT parameters (k, alpha, paths, table limits...). io, validate, self address and rng are
   *  set by the node itself. Default: nn_dht_cfg_default(). */
  nn_dht_cfg_t dht;
  /** The address peers reach us at, "HOST:PORT", published in our record; NULL: none (a node
   *  that does not listen, or listens on a wildcard without saying where it is reached). */
  const char *advertise;
  int hidden;                   /**< no record, no address (the manager dials anonymously) */
  uint32_t record_lifetime_s;   /**< lifetime of our record (86400); republished at half */
  const char *const *dns_seeds; /**< names resolved with evdns (A and AAAA); none built in */
  size_t n_dns_seeds;
  uint16_t default_port; /**< port for DNS seed addresses (9800) */
  /** Resolver for the DNS seeds, "IP:PORT"; NULL = the system's (/etc/resolv.conf). */
  const char *dns_nameserver;
  const char *const *peers; /**< static peers: "NODEID@HOST:PORT" or "HOST:PORT" */
  size_t n_peers;
  uint32_t boot_retry_min_ms;      /**< first bootstrap retry delay (1000) */
  uint32_t boot_retry_max_ms;      /**< longest delay (300000) */
  size_t boot_select;              /**< addresses taken from nn_peerstore_select per round (8) */
  nn_peerstore_config_t peerstore; /**< default nn_peerstore_config_default() */
  const nn_rng_t *rng;             /**< NULL: OpenSSL's CSPRNG */
  const nn_log_t *log;             /**< NULL: stderr, INFO and above */
} nn_disco_cfg_t;

/** The defaults documented above. */
void nn_disco_cfg_default(nn_disco_cfg_t *cfg);

typedef struct nn_disco_stats_t {
  size_t table_size;          /**< contacts in the routing table */
  size_t channels;            /**< the manager's channels, open or opening (both directions) */
  size_t outbound;            /**< of which outbound */
  size_t values;              /**< records stored */
  uint64_t lookups_done;      /**< nn_disco_find lookups completed */
  uint64_t lookups_found;     /**< ... that returned a verified record */
  uint64_t published;         /**< times our record was put (first publish + republishes) */
  uint64_t record_seq;        /**< seq of our current record (0: none) */
  uint64_t msgs_in, msgs_out; /**< DHT messages */
  uint64_t verifications;     /**< record signatures checked (the costly part of a STORE) */
  uint64_t penalties;         /**< penalties passed to the peer store */
  uint64_t bans;              /**< nodes and anonymous hosts banned by those penalties */
  uint64_t refused_banned;    /**< dials, inbound streams and handshakes refused for a ban */
  uint64_t unreachable;       /**< nodes reported unreachable to the DHT */
  int bootstrapped;           /**< a bootstrap peer answered, or the table gained contacts */
  uint32_t boot_rounds;       /**< bootstrap rounds started */
  uint32_t boot_retries;      /**< rounds that found nothing reachable and scheduled a retry */
  uint32_t boot_delay_ms;     /**< delay of the retry scheduled last (0: none) */
  uint64_t boot_retry_at_ms;  /**< monotonic time that retry timer was set for */
  char status[256];           /**< one line: the last bootstrap problem, or "" */
} nn_disco_stats_t;

/**
 * Create and start discovery on \a net: opens DATADIR/peers.sqlite, registers the DHT kinds,
 * installs itself as the manager's policy and starts the first bootstrap round (from inside
 * the event loop). \a identity and \a net must outlive it. On failure \a why (may be NULL)
 * gets one line that names the file, address or flag and the fix.
 */
nn_err_t nn_disco_new(nn_disco_t **out, nn_net_t *net, const nn_identity_t *identity, uint32_t network,
                      const char *datadir, const nn_disco_cfg_t *cfg, char *why, size_t why_len);
/** Set anchors, unregister from the manager, close the peer store and free (no callbacks
 *  after). Free it before its manager. NULL is fine. */
void nn_disco_free(nn_disco_t *d);

/** The result of nn_disco_find: \a rec is NULL if no verified record was found; valid during
 *  the call only. */
typedef void (*nn_disco_find_cb)(void *ctx, const nn_node_id_t *id, const nn_peer_record_t *rec);
/**
 * Look up the peer record of \a id (our own answers at once). \a cb runs exactly once, possibly
 * from inside this call. NN_ERR_NOSPACE if the DHT runs too many lookups now (retry later; then
 * \a cb does not run), NN_ERR_NOMEM.
 */
nn_err_t nn_disco_find(nn_disco_t *d, const nn_node_id_t *id, nn_disco_find_cb cb, void *ctx);

void nn_disco_stats(const nn_disco_t *d, nn_disco_stats_t *out);
/** Our advertised address (valid if has_addr). */
int nn_disco_addr(const nn_disco_t *d, nn_addr_t *out);
/** "NODEID@HOST:PORT" for --peer (empty for a hidden node). */
void nn_disco_peer_string(const nn_disco_t *d, char *out, size_t n);
const nn_node_id_t *nn_disco_node_id(const nn_disco_t *d);
/** The node's peer store and DHT core (for status output and tests). */
nn_peerstore_t *nn_disco_peerstore(nn_disco_t *d);
nn_dht_t *nn_disco_dht(nn_disco_t *d);
/** Our current record, or NULL (hidden, or not published yet). */
const nn_peer_record_t *nn_disco_record(const nn_disco_t *d);

/**
 * The relays we hold a reservation at (relay addresses, at most 7) and whether we relay for
 * others: our record lists them after the advertised address, with F_RELAY and F_INBOUND set as
 * they say, and is republished when they change. A node with no address of its own publishes a
 * record once it has a relay.
 */
void nn_disco_set_relayed(nn_disco_t *d, const nn_addr_t *relays, size_t n, int relay_service);
#define NN_DISCO_MAX_OVERLAY 2
/** Our onion and I2P addresses (at most NN_DISCO_MAX_OVERLAY; n 0 withdraws them): our record
 *  lists them after the advertised address with F_INBOUND, and a node without a clearnet address
 *  names the first in its DHT requests. Ignored for a hidden node. */
void nn_disco_set_overlay(nn_disco_t *d, const nn_addr_t *a, size_t n);
/** The address peers reach us at, learnt at run time (dial-back, PROTOCOL.md 10.6): it is
 *  published first, with F_INBOUND; NULL withdraws it. Ignored for a hidden node. */
void nn_disco_set_advertised(nn_disco_t *d, const nn_addr_t *a);

/** Replace the static peers and DNS seeds (what SIGHUP reads from the settings file), parsed as
 *  nn_disco_new parses them; on an error nothing changes and \a why names the bad entry.
 *  \a changed is 1 if the lists differ from the running ones (logged at INFO). A node waiting to
 *  retry its bootstrap retries at once with the new seeds; a bootstrapped one dials the static
 *  peers that are new now; DNS seeds are asked by the next bootstrap round. */
nn_err_t nn_disco_set_seeds(nn_disco_t *d, const char *const *peers, size_t n_peers, const char *const *dns,
                            size_t n_dns, int *changed, char *why, size_t why_len);
#define NN_DISCO_DNS_NAME_MAX 253

/** The key penalties and bans of a peer at \a a go to: the address itself, except an inbound
 *  loopback/private peer's ephemeral port, which is dropped (port 0). */
nn_addr_t nn_disco_pen_key(const nn_addr_t *a, int inbound);

/** Parse a static peer: "NODEID@HOST:PORT" (has_id = 1) or "HOST:PORT" (any node id), or
 *  "NODEID@RELAYID.relay:0" (the node through that relay; the node id is required). */
nn_err_t nn_disco_parse_peer(const char *s, nn_addr_t *addr, nn_node_id_t *id, int *has_id);

#endif
