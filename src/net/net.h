/**
 * \file net.h
 * \brief The connection manager: it owns every secure channel of a node.
 *
 * What it does:
 * - dials an address, authenticating the node id the caller expects, through whichever
 *   registered transport (transport.h) reaches that kind of address, and accepts the streams
 *   of every listener; the secure channel (nepnet/channel.h) runs unchanged over each stream;
 * - admits inbound streams before their handshake (admit.h): global caps, per-address limits,
 *   DoS cookies under load, and the policy's verdict on the address (bans);
 * - dispatches messages by their first byte, the message kind, to the protocol that registered
 *   that range of kinds (discovery 0x10..0x1f, gossip 0x20..0x2f; docs/PROTOCOL.md 5.7 lists
 *   every range). A kind nobody registered is counted and answered by closing the channel with
 *   NN_CLOSE_UNSUPPORTED; it never reaches another protocol;
 * - keeps per-channel accounting (bytes, messages, age, last use), a cap on outbound channels
 *   no protocol holds (least recently used idle ones close first), a small queue of messages
 *   sent to a channel that is still handshaking, and the close reasons.
 *
 * Protocols ("tenants") register a kind range and three callbacks. Every tenant hears of every
 * established channel (on_up: a peer may start any protocol on any channel), gets the messages
 * of its kinds, and hears on_down for each channel it was told of, and for every outbound
 * channel that failed before its handshake ended (a failed dial is news to every tenant that
 * tracks reachability). A tenant that wants a channel kept open holds it (nn_net_hold).
 *
 * Re-entrancy, made simple for tenants: callbacks never run from inside a call a tenant makes
 * into the manager. nn_net_close, and a send that finds the stream broken, only mark the
 * channel; on_down follows from the event loop. Tenants may call anything from callbacks.
 *
 * Channels are named by a 64-bit handle that is never reused (0 is never a channel), so a
 * late reply to a channel that is gone is recognised and dropped.
 *
 * Threads: every call from the thread that runs the event_base. With cfg.workers, the
 * handshake steps of channels (nn_chan_recv while handshaking: signatures, KEMs, the key
 * schedule) run on a pool of worker threads (workers.h); a channel is then out of the loop's
 * hands until its step is back, and what it reported (established, closed, messages) is
 * replayed on the loop in order, so tenants and the policy see no threads. No globals.
 */
#ifndef NN_NET_NET_H
#define NN_NET_NET_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/channel.h"
#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "crypto/rand.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "net/transport.h"

struct event_base;

typedef struct nn_net_t nn_net_t;

/* Close reasons of the manager and its transports, next to the channel's (never on the wire). */
#define NN_NET_CLOSE_EOF ((nn_close_reason_t)32)     /**< the stream ended without a CLOSE record */
#define NN_NET_CLOSE_IO ((nn_close_reason_t)33)      /**< stream error: see the conn's sys_errno */
#define NN_NET_CLOSE_CONNECT ((nn_close_reason_t)34) /**< the dial failed: see sys_errno */
#define NN_NET_CLOSE_MAX 35                          /**< size of nn_net_stats_t.closed */

/** nn_close_reason_str, extended with the manager's reasons. */
const char *nn_net_close_reason_str(nn_close_reason_t r);

#define NN_NET_MAX_PROTOCOLS 16

/** Limits of inbound streams. Start from nn_net_limits_default() and change what you need. */
typedef struct nn_net_limits_t {
  uint32_t max_conns;               /**< inbound connections in all, lingering included (1024): a
                                      newcomer above it closes the least useful inbound channel
                                      (one no tenant holds, the least recently used), if any */
  uint32_t max_half_open;           /**< of which still handshaking (256): a newcomer above it
                                      closes the oldest half-open one */
  uint32_t max_half_open_per_group; /**< still handshaking per IPv4 /24 or IPv6 /48 (32; 0 = no limit) */
  uint32_t load_half_open;          /**< from this many half-open on, require a cookie (32; 0 = always) */
  uint32_t max_per_ip;              /**< concurrent connections per IP or /64 (8; 0 = no limit) */
  double ip_rate;                   /**< new handshakes per second per IP or /64 (20; 0 = no limit) */
  uint32_t ip_burst;                /**< bucket size (5) */
  uint32_t max_tracked_ips;         /**< per-address table size (4096) */
  uint32_t handshake_timeout_ms;    /**< from the accept (NN_CHAN_DEFAULT_HS_TIMEOUT_MS: 10 s) */
  uint32_t msg1_timeout_ms;         /**< a whole first message within this of the accept (4 s) */
} nn_net_limits_t;

void nn_net_limits_default(nn_net_limits_t *l);

/** Counters and gauges. */
typedef struct nn_net_stats_t {
  uint64_t accepted;                 /**< streams listeners handed us */
  uint64_t admitted;                 /**< ... on which a channel started */
  uint64_t refused_ip_conns;         /**< refused: per-address concurrent limit */
  uint64_t refused_ip_rate;          /**< refused: per-address token bucket empty */
  uint64_t refused_half_open;        /**< refused: max_half_open reached and max_half_open already being evicted */
  uint64_t refused_group_half_open;  /**< refused: max_half_open_per_group reached */
  uint64_t evicted_half_open;        /**< half-open channels closed to make room for a newcomer */
  uint64_t evicted_inbound;          /**< inbound channels closed to make room for a newcomer */
  uint64_t refused_conns;            /**< refused: max_conns reached and no channel to give up */
  uint64_t refused_policy;           /**< refused: the policy (a banned host) */
  uint64_t refused_admit;            /**< closed once established: the policy (a banned node) */
  uint64_t refused_internal;         /**< refused: out of memory */
  uint64_t untracked;                /**< admitted without a per-address entry (table full; cookie required) */
  uint64_t cookie_required;          /**< inbound handshakes started under load (cookie required) */
  uint64_t cookies_sent;             /**< cookie replies sent */
  uint64_t handshakes;               /**< handshakes completed, both directions */
  uint64_t hs_offloaded;             /**< handshake steps run on a worker thread */
  uint64_t dials;                    /**< outbound channels started */
  uint64_t dials_refused_net;        /**< dials refused: the address is on a network not in dial_nets */
  uint64_t unknown_kind;             /**< messages of a kind nobody registered (each closed its channel) */
  uint64_t trimmed;                  /**< idle outbound channels closed by the cap */
  uint64_t queue_dropped;            /**< messages dropped from the pre-handshake queue: it was full,
                                  or the handshake said the peer's max_message is below them */
  uint64_t send_refused;             /**< sends refused by max_output_hard or the node's output budget */
  uint64_t deferred;                 /**< messages held back because their channel owed too much output */
  uint64_t closed_idle;              /**< inbound channels closed by idle_inbound_ms */
  uint64_t moved;                    /**< streams that moved to a direct connection (host.moved) */
  uint64_t closed_moved;             /**< ... and were closed there: the policy refused the address */
  uint64_t closed_stalled;           /**< channels closed: output unread (stall_ms, min_out_rate) */
  uint64_t closed_message_time;      /**< channels closed: a message not whole within message_ms */
  uint64_t evicted_reassembly;       /**< channels closed by the reassembly budget */
  uint64_t evicted_backlog;          /**< channels closed by the backlog budget */
  uint64_t closed[NN_NET_CLOSE_MAX]; /**< channels closed, by reason */
  uint64_t bytes_in, bytes_out;      /**< stream bytes, both directions */
  uint32_t conns;                    /**< channels alive (both directions, lingering included) */
  uint32_t inbound;                  /**< of which inbound (max_conns caps them) */
  uint32_t half_open;                /**< inbound ones still handshaking (not being closed) */
  uint32_t open;                     /**< established and not closed (both directions) */
  uint32_t tracked_ips;              /**< per-address table entries */
  uint64_t output;                   /**< unsent output of every channel, bytes */
  uint64_t reassembly;               /**< partial incoming messages, bytes */
  uint64_t backlog;                  /**< messages read and not yet delivered, bytes */
  uint32_t hs_workers;               /**< worker threads (cfg.workers) */
  uint32_t hs_out;                   /**< handshake steps out on workers now ... */
  uint32_t hs_max_out;               /**< ... and the most that ever were at once */
} nn_net_stats_t;

/** One channel as tenants see it. Pointers are valid until the next event-loop turn. */
typedef struct nn_net_conn_info_t {
  uint64_t conn;
  int inbound;
  int established;
  int closing;    /**< closed or closing: nothing more can be sent */
  int held;       /**< some tenant holds it (nn_net_hold) */
  nn_addr_t addr; /**< the dialled address, or the inbound peer's (ephemeral port) */
  int has_id;     /**< \a id is the expected (outbound) or authenticated node id */
  nn_node_id_t id;
  const char *transport;      /**< "tcp", ... */
  const nn_stream_t *stream;  /**< the stream under it, for its transport's own tenant (relay) */
  const nn_chan_info_t *chan; /**< NULL until established */
  int cookie_round;           /**< the handshake went through a DoS cookie round */
  uint64_t since_ms;          /**< monotonic: when the channel started */
  uint64_t last_used_ms;      /**< monotonic: last message in or out */
  uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
  size_t pending;           /**< unsent output */
  nn_close_reason_t reason; /**< once closed */
  int sys_errno;            /**< behind NN_NET_CLOSE_IO / NN_NET_CLOSE_CONNECT */
  /** The stream moved to a direct connection (a hole punch over a relayed channel): \a addr is
   *  the direct peer's address, \a via the one the channel was opened through (the relay's). */
  int moved;
  nn_addr_t via;
} nn_net_conn_info_t;

/** Who decides on reputation: discovery's peer store, in a node. Any function may be NULL. */
typedef struct nn_net_policy_t {
  /** May we talk to \a a? Asked before dialling and, for transports with real peer
   *  addresses, before an inbound stream's handshake. 0 refuses (a ban of the host). */
  int (*allowed)(void *ctx, const nn_addr_t *a, int inbound);
  /** The handshake of \a c completed (its node id, if any, is proved): may it stay? Asked
   *  before any tenant hears of it; 0 closes it (NN_CLOSE_LOCAL, counted in refused_admit; a dial
   *  closed so fails like one that never connected). This
   *  is where bans of identified nodes, and of a host's anonymous peers, take effect, so that
   *  neither keeps the host's other peers out. */
  int (*admit)(void *ctx, const nn_net_conn_info_t *c);
  /** A channel misbehaved: a tenant penalized it (nn_net_penalize), or, once established, it
   *  closed with NN_CLOSE_PROTOCOL, NN_CLOSE_AUTH or NN_CLOSE_TOO_LARGE (\a points 10). Failures
   *  before the handshake completes are never penalized (the per-address rate limits them). */
  void (*penalize)(void *ctx, const nn_net_conn_info_t *c, int points, const char *why);
  void *ctx;
} nn_net_policy_t;

typedef struct nn_net_cfg_t {
  /** Our identity: required to accept; NULL dials anonymously. Must outlive the manager. */
  const nn_identity_t *identity;
  int anonymous;                 /**< dial without proving our identity (a hidden node) */
  int require_peer_identity;     /**< refuse anonymous initiators */
  uint32_t network;              /**< NN_NET_* */
  uint32_t max_message;          /**< largest channel message (0 = NN_CHAN_DEFAULT_MAX_MESSAGE) */
  uint64_t rekey_interval;       /**< 0 = 1024 records */
  uint16_t pad_to;               /**< see nn_chan_config_t */
  uint32_t handshake_timeout_ms; /**< outbound, the connect included (0 = 10 s) */
  uint32_t linger_ms;            /**< after a close: flush the CLOSE record, wait for the peer's end (2000) */
  /* Budgets (docs/ARCHITECTURE.md, "Memory budgets", has the worst case they add up to). A
   * peer's messages are delivered only while what we owe it is small: above max_output unsent
   * to it, or with any output pending while the node's total is above output_budget, its
   * messages wait in order, and once max_output of them wait its stream is not read. */
  size_t max_output;          /**< per channel: above this much unsent, its messages wait; this
                                 much waiting stops reading it (1 MiB) */
  size_t max_output_hard;     /**< per channel: a send above this fails with NN_ERR_NOSPACE (16 MiB) */
  size_t output_budget;       /**< node: unsent output above which channels that owe output pause
                                 (24 MiB); a send that would take the total above twice this fails */
  size_t reassembly_budget;   /**< node: partial incoming messages; above it the channel with the
                                 oldest partial message closes (NN_CLOSE_SLOW) (32 MiB) */
  size_t backlog_budget;      /**< node: messages read but not yet delivered (paused channels); above
                                 it the channel with the largest backlog closes (16 MiB) */
  uint32_t stall_ms;          /**< output pending this long must have moved at min_out_rate (30 s) */
  uint32_t min_out_rate;      /**< bytes per second a peer must read what it asked for (16 KiB) */
  uint32_t message_ms;        /**< a message must arrive whole within this, from its first fragment (120 s) */
  uint32_t idle_inbound_ms;   /**< an inbound channel no tenant holds closes after this long unused (120 s) */
  unsigned max_idle_outbound; /**< outbound channels no tenant holds, kept open (64) ... */
  uint32_t idle_ms;           /**< ... the least recently used one idle this long closes first (2000) */
  unsigned queue_max;         /**< messages queued on a channel still handshaking (64) */
  /** Worker threads for the handshakes' crypto (0: none, every step on the loop's thread;
   *  at most NN_WORKERS_MAX). With workers, \a rng must be NULL (OpenSSL's CSPRNG is safe to
   *  share between threads; a caller's generator is not assumed to be). */
  unsigned workers;
  /** Link padding on channels over overlay transports (Tor, I2P), 0 = off: one record of
   *  NN_CHAN_SHAPE_CONTENT bytes every this many ms each way, real data replacing decoys
   *  (nn_chan_config_t.shape_interval_ms). */
  uint32_t overlay_pad_ms;
  /** The networks we dial (NN_ADDR_NET_* bits; 0: any): a dial elsewhere is NN_ERR_PERM. */
  unsigned dial_nets;
  nn_net_limits_t limits; /**< inbound admission */
  const nn_rng_t *rng;    /**< NULL: OpenSSL's CSPRNG */
  const nn_log_t *log;    /**< NULL: stderr, INFO and above */
} nn_net_cfg_t;

/** The defaults documented above. */
void nn_net_cfg_default(nn_net_cfg_t *cfg);

nn_err_t nn_net_new(nn_net_t **out, struct event_base *base, const nn_net_cfg_t *cfg);
/** Close every channel (a CLOSE record is sent where one can be; no callbacks), free the
 *  transports and the manager. Accepts NULL. Not from a callback. */
void nn_net_free(nn_net_t *n);

/** Add a transport (the manager owns and frees it). Dials use the first one added that can
 *  reach an address. */
nn_err_t nn_net_add_transport(nn_net_t *n, nn_transport_t *t);
/** ... ahead of those already added: a transport that takes some of TCP's dials (TURN, when the
 *  network lets nothing else out) says yes before TCP does. */
nn_err_t nn_net_add_transport_first(nn_net_t *n, nn_transport_t *t);
/** The transport named \a name, or NULL. */
nn_transport_t *nn_net_transport(nn_net_t *n, const char *name);
/** Listen on \a bind through \a transport (NULL: "tcp"); \a bound (may be NULL) gets the
 *  address actually bound. Needs an identity. \a why (may be NULL) gets one line on failure. */
nn_err_t nn_net_listen(nn_net_t *n, const char *transport, const char *bind, nn_addr_t *bound, char *why,
                       size_t why_len);

void nn_net_set_policy(nn_net_t *n, const nn_net_policy_t *p);
/** What SIGHUP may change: limits.max_per_ip and limits.max_half_open_per_group (for the next
 *  inbound connections; see nn_admit_set_caps) and max_idle_outbound (a lowered cap trims idle
 *  channels at once). */
void nn_net_set_caps(nn_net_t *n, uint32_t max_per_ip, uint32_t max_half_open_per_group, uint32_t max_idle_outbound);

/** A tenant: a range of message kinds and its callbacks (any may be NULL). */
typedef struct nn_net_proto_t {
  const char *name; /**< for logs: "dht", "gossip", ... */
  uint8_t kind_lo, kind_hi;
  void (*on_up)(void *ctx, uint64_t conn, const nn_net_conn_info_t *info);
  /** A message of one of our kinds (msg[0] is the kind); valid during the call only. */
  void (*on_message)(void *ctx, uint64_t conn, const uint8_t *msg, size_t len);
  /** The channel is gone (told of it by on_up, or an outbound one never established). */
  void (*on_down)(void *ctx, uint64_t conn, const nn_net_conn_info_t *info);
  void *ctx;
  /** A channel it was told of now runs over a direct connection at info->addr (info->moved). */
  void (*on_moved)(void *ctx, uint64_t conn, const nn_net_conn_info_t *info);
} nn_net_proto_t;

/**
 * Register a tenant; \a handle identifies it in dial/hold/unregister. NN_ERR_NOSPACE with
 * NN_NET_MAX_PROTOCOLS tenants, NN_ERR_ARG if the range overlaps another tenant's. It hears
 * on_up at once for every channel established before (from this call: the one exception to
 * the no-callback rule, since it is the tenant's own first call).
 */
nn_err_t nn_net_register(nn_net_t *n, const nn_net_proto_t *p, int *handle);
/** No more callbacks for the tenant; its kinds become unknown; its holds go. */
void nn_net_unregister(nn_net_t *n, int handle);

/**
 * Dial \a a for tenant \a proto, authenticating \a id unless it is NULL. Later, on_up (to
 * every tenant) or on_down (to the dialler) follows from the event loop. NN_ERR_ARG when no
 * transport reaches \a a, NN_ERR_PERM when the policy refuses it, NN_ERR_IO (errno).
 */
nn_err_t nn_net_dial(nn_net_t *n, int proto, const nn_addr_t *a, const nn_node_id_t *id, uint64_t *conn);

#define NN_NET_DIAL_ANON 1u    /**< no identity in the handshake: the peer cannot tell who dials */
#define NN_NET_DIAL_OVERLAY 2u /**< only a transport over Tor or I2P may carry it (NN_ERR_ARG else) */
/** The dialling tenant's alone: no other tenant hears of it (on_up, on_down, messages of their
 *  kinds are dropped), and nn_net_find never returns it, so nothing else is ever sent on it. */
#define NN_NET_DIAL_PRIVATE 4u
/** nn_net_dial with NN_NET_DIAL_* \a flags (private broadcast: an anonymous channel over Tor or
 *  I2P, used once). */
nn_err_t nn_net_dial_ex(nn_net_t *n, int proto, const nn_addr_t *a, const nn_node_id_t *id, unsigned flags,
                        uint64_t *conn);
/** A channel to node \a id that is not closing: an established one first, else (unless
 *  \a established_only) an outbound one still handshaking. 0 if none. */
uint64_t nn_net_find(nn_net_t *n, const nn_node_id_t *id, int established_only);
/** A live channel whose address equals \a a (port included), else 0. */
uint64_t nn_net_find_addr(nn_net_t *n, const nn_addr_t *a);

/**
 * Send one message (msg[0] is its kind). On an outbound channel still handshaking it is queued
 * (at most queue_max, then dropped and counted; one longer than the peer's max_message, which
 * the handshake tells, is dropped and counted then). NN_ERR_NOTFOUND if the channel is gone or
 * closing, NN_ERR_TOO_LONG above the peer's max_message, NN_ERR_NOSPACE when the channel's
 * unsent output would pass max_output_hard or the node's would pass twice output_budget (the
 * message is not sent; a tenant drops it, as it would for a lost peer).
 */
nn_err_t nn_net_send(nn_net_t *n, uint64_t conn, const uint8_t *msg, size_t len);
/** Close with \a reason, sent to the peer in the CLOSE record (0, NN_CLOSE_PEER and the manager's
 *  own reasons become NN_CLOSE_LOCAL); on_down follows from the event loop. */
void nn_net_close(nn_net_t *n, uint64_t conn, nn_close_reason_t reason);
/** Tenant \a proto wants \a conn kept (1) out of the idle cap, or no longer (0). */
void nn_net_hold(nn_net_t *n, int proto, uint64_t conn, int hold);
/** Report misbehaviour of \a conn to the policy. */
void nn_net_penalize(nn_net_t *n, uint64_t conn, int points, const char *why);

/** Fill \a out; 0 if \a conn is unknown (gone). */
int nn_net_conn_info(nn_net_t *n, uint64_t conn, nn_net_conn_info_t *out);
/** Call \a fn for every live channel (it may call nn_net_close). */
void nn_net_each(nn_net_t *n, void (*fn)(void *ctx, const nn_net_conn_info_t *c), void *ctx);
/** Unsent output of \a conn (0 if unknown). */
size_t nn_net_pending(nn_net_t *n, uint64_t conn);
const nn_net_stats_t *nn_net_stats(const nn_net_t *n);
const nn_log_t *nn_net_log(const nn_net_t *n);
struct event_base *nn_net_base(const nn_net_t *n);

#endif
