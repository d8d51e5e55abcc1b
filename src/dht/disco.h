/**
 * \file disco.h
 * \brief The discovery node: the sans-I/O Kademlia core (dht.h) run for real over secure
 * channels (transport/tcp.h), with the peer store (peerstore.h) and signed peer records
 * (record.h).
 *
 * What it does:
 * - listens (unless hidden) and carries DHT messages as channel messages, one nn_rpc message per
 *   channel message (the first byte is the DHT kind 0x10..0x17; other protocols will share the
 *   channel by kind later). Answers go back on the connection the request came on; requests go
 *   over an open channel to the node id (outbound or identified inbound), else over a new
 *   outbound channel authenticated to that node id, with the message queued until the handshake
 *   ends. The reply handle given to the DHT is the connection's serial number (never reused),
 *   so a relayed answer that comes after the connection closed is recognised and dropped.
 *   An unreachable node is reported to the DHT (nn_dht_on_unreachable). Outbound DHT
 *   channels are capped (max_channels, LRU: the least recently used idle one is closed first).
 * - values are peer records: the DHT's validate callback decodes and verifies them against the
 *   network and the current unix time, and checks that the key is the record's node id.
 * - publishes its own signed record under its node id once it has contacts (after bootstrap and
 *   a self-lookup), and republishes at half the lifetime with a higher seq. A hidden node never
 *   publishes, advertises no address, listens nowhere and connects anonymously.
 * - penalties (the DHT's, and channels that close for protocol/authentication failures) lower
 *   the standing of the peer's host in the peer store; banned hosts are never dialled, and an
 *   inbound connection from a banned host is closed as soon as it is established (the TCP
 *   listener has no pre-handshake admission hook, so the handshake is paid for once). The peer
 *   store keys loopback/private addresses by address and port; an inbound peer's port is
 *   ephemeral, so inbound loopback/private peers are judged by host with port 0.
 * - bootstraps from, in this order: the peer store (anchors, then nn_peerstore_select), DNS seeds
 *   (evdns A and AAAA, on default_port), static peers ("NODEID@HOST:PORT", or "HOST:PORT" for a
 *   seed of any node id). If none is reachable it logs so and retries with exponential backoff
 *   (boot_retry_min_ms doubling up to boot_retry_max_ms). A node that gains contacts in any
 *   other way (inbound peers) counts as bootstrapped.
 * - on nn_disco_free, remembers up to NN_PEERSTORE_ANCHORS_MAX outbound peers as anchors.
 *
 * Time: the DHT runs on unix milliseconds (record expiry is unix time), driven by one libevent
 * timer at nn_dht_deadline() and at least every second. Callbacks that re-enter the DHT (a
 * connection closed, an unreachable node) are deferred to a zero-delay event, so the DHT core
 * is never re-entered from inside itself.
 *
 * Threads: none; every call from the thread that runs the event_base. No globals: many nodes
 * share one process and one event_base (the tests run 50).
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
#include "transport/tcp.h"

struct event_base;

typedef struct nn_disco_t nn_disco_t;

enum { NN_DISCO_LOG_DEBUG = 0, NN_DISCO_LOG_INFO = 1, NN_DISCO_LOG_WARN = 2 };

typedef struct nn_disco_cfg_t {
  /** DHT parameters (k, alpha, paths, table limits...). io, validate, self address and rng are
   *  set by the node itself. Default: nn_dht_cfg_default(). */
  nn_dht_cfg_t dht;
  /** "HOST:PORT" to listen on (port 0: ephemeral); NULL: no listener (outbound only). Ignored
   *  for a hidden node. */
  const char *listen;
  /** Address to advertise in requests and the record, "HOST:PORT"; NULL = the bound address
   *  (which must then not be a wildcard). */
  const char *advertise;
  int hidden;                   /**< no record, no address, no listener, anonymous channels */
  unsigned max_channels;        /**< outbound DHT channels kept open (64) */
  uint32_t record_lifetime_s;   /**< lifetime of our record (86400); republished at half */
  const char *const *dns_seeds; /**< names resolved with evdns (A and AAAA); none built in */
  size_t n_dns_seeds;
  uint16_t default_port;        /**< port for DNS seed addresses (9800) */
  /** Resolver for the DNS seeds, "IP:PORT"; NULL = the system's (/etc/resolv.conf). */
  const char *dns_nameserver;
  const char *const *peers;     /**< static peers: "NODEID@HOST:PORT" or "HOST:PORT" */
  size_t n_peers;
  uint32_t boot_retry_min_ms;   /**< first bootstrap retry delay (1000) */
  uint32_t boot_retry_max_ms;   /**< longest delay (300000) */
  size_t boot_select;           /**< addresses taken from nn_peerstore_select per round (8) */
  nn_peerstore_config_t peerstore; /**< default nn_peerstore_config_default() */
  const nn_tcp_limits_t *limits;   /**< listener limits; NULL = nn_tcp_limits_default() */
  uint32_t handshake_timeout_ms;   /**< outbound handshakes, TCP connect included (0 = 10 s) */
  uint32_t linger_ms;              /**< after a close (0 = 2000) */
  uint32_t max_message;            /**< largest channel message (0 = NN_CHAN_DEFAULT_MAX_MESSAGE) */
  const nn_rng_t *rng;             /**< NULL: OpenSSL's CSPRNG */
  /** Log lines (one line each, no newline); NULL = stderr for INFO and above. */
  void (*log)(void *ctx, int level, const char *line);
  void *log_ctx;
} nn_disco_cfg_t;

/** The defaults documented above. */
void nn_disco_cfg_default(nn_disco_cfg_t *cfg);

typedef struct nn_disco_stats_t {
  size_t table_size;            /**< contacts in the routing table */
  size_t channels;              /**< open or opening channels (both directions) */
  size_t outbound;              /**< of which outbound (the ones max_channels caps) */
  size_t values;                /**< records stored */
  uint64_t lookups_done;        /**< nn_disco_find lookups completed */
  uint64_t lookups_found;       /**< ... that returned a verified record */
  uint64_t published;           /**< times our record was put (first publish + republishes) */
  uint64_t record_seq;          /**< seq of our current record (0: none) */
  uint64_t msgs_in, msgs_out;   /**< DHT messages */
  uint64_t penalties;           /**< penalties passed to the peer store */
  uint64_t bans;                /**< hosts banned by those penalties */
  uint64_t refused_banned;      /**< connections refused (or closed at once) for a banned host */
  uint64_t unreachable;         /**< nodes reported unreachable to the DHT */
  int bootstrapped;             /**< a bootstrap peer answered, or the table gained contacts */
  uint32_t boot_rounds;         /**< bootstrap rounds started */
  uint32_t boot_retries;        /**< rounds that found nothing reachable and scheduled a retry */
  uint32_t boot_delay_ms;       /**< delay of the retry scheduled last (0: none) */
  uint64_t boot_retry_at_ms;    /**< monotonic time that retry timer was set for */
  char status[256];             /**< one line: the last bootstrap problem, or "" */
} nn_disco_stats_t;

/**
 * Create and start a node on \a base: opens DATADIR/peers.sqlite, starts the listener (unless
 * hidden or cfg->listen is NULL) and the first bootstrap round (at once, from inside the event
 * loop). \a identity must outlive the node. On failure \a why (may be NULL) gets one line that
 * names the file, address or flag and the fix.
 */
nn_err_t nn_disco_new(nn_disco_t **out, struct event_base *base, const nn_identity_t *identity,
                      uint32_t network, const char *datadir, const nn_disco_cfg_t *cfg, char *why,
                      size_t why_len);
/** Set anchors, close every channel and free (no callbacks after). NULL is fine. Lingering
 *  outbound sockets are freed by the driver from the event loop within linger_ms. */
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
 * Other protocols on the same channels (the node's transaction gossip). A channel message whose
 * first byte is a DHT kind (0x10..0x1f) goes to the DHT; any other goes to \a on_message (or,
 * without an app, to the DHT, which refuses it). Connections are named by a handle that is never
 * reused (the same serial number the DHT gets).
 */
typedef struct nn_disco_app_t {
  /** A channel is established; \a id is NULL for an anonymous inbound peer. */
  void (*on_up)(void *ctx, uint64_t conn, int outbound, const nn_addr_t *addr, const nn_node_id_t *id);
  void (*on_message)(void *ctx, uint64_t conn, const uint8_t *msg, size_t len);
  /** The channel is gone: an established one, or one dialled with nn_disco_dial that never got
   *  established. Not called from nn_disco_free. */
  void (*on_down)(void *ctx, uint64_t conn, nn_close_reason_t reason);
  void *ctx;
} nn_disco_app_t;

void nn_disco_set_app(nn_disco_t *d, const nn_disco_app_t *app);
/**
 * Dial \a addr (authenticating \a id unless NULL) for the app: such a channel is never closed by
 * the DHT's LRU cap and does not count against max_channels. on_up or on_down follows, never
 * from inside this call. NN_ERR_ARG for an address with no transport or a banned host.
 */
nn_err_t nn_disco_dial(nn_disco_t *d, const nn_addr_t *addr, const nn_node_id_t *id, uint64_t *conn);
/** Send on an established channel (NN_ERR_NOTFOUND if it is not, or is closing). */
nn_err_t nn_disco_send(nn_disco_t *d, uint64_t conn, const uint8_t *msg, size_t len);
/** Bytes queued for sending on \a conn (for back-pressure); 0 if unknown. */
size_t nn_disco_pending(nn_disco_t *d, uint64_t conn);
/** Keep (1) an inbound or DHT channel out of the LRU trim, or release it (0). */
void nn_disco_keep(nn_disco_t *d, uint64_t conn, int keep);
/** Close \a conn (on_down follows from the event loop). */
void nn_disco_close(nn_disco_t *d, uint64_t conn);
/** Lower the standing of \a conn's host in the peer store (a ban closes its channels). */
void nn_disco_penalize(nn_disco_t *d, uint64_t conn, int points, const char *why);
/** The host key penalties of \a conn go to (inbound loopback/private peers: host, port 0). */
int nn_disco_conn_addr(nn_disco_t *d, uint64_t conn, nn_addr_t *addr, nn_addr_t *pen_addr);

/** Parse a static peer: "NODEID@HOST:PORT" (has_id = 1) or "HOST:PORT" (any node id). */
nn_err_t nn_disco_parse_peer(const char *s, nn_addr_t *addr, nn_node_id_t *id, int *has_id);

#endif
