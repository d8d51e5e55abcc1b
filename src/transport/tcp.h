/**
 * \file tcp.h
 * \brief The libevent TCP driver of the secure channel (nepnet/channel.h).
 *
 * One nn_tcp_conn_t runs one nn_chan_t over one non-blocking TCP socket: a persistent EV_READ
 * event feeds received bytes straight into nn_chan_recv (from a 256 KiB per-listener buffer, or
 * a 64 KiB stack buffer for outbound connections), output is written straight from
 * nn_chan_output with send() (EV_WRITE is armed only while output is pending), and one timer per
 * connection follows nn_chan_deadline (handshake timeout) and, after a close, the linger time.
 * No bufferevents: no copy besides the channel's own.
 *
 * Inbound connections come from a listener, which owns them and defends itself against floods
 * (all limits in nn_tcp_limits_t, defaults from nn_tcp_limits_default):
 *
 *  - a per-IP table (IPv4 address, or IPv6 /64 prefix) with a limit of concurrent connections
 *    and a token bucket of new handshakes (GCRA: `ip_rate` per second, bursts of `ip_burst`,
 *    like wireguard-go's 20/s, 5); the table itself is capped (`max_tracked_ips`): when it is
 *    full of active addresses, newcomers are admitted untracked but must pass a cookie round;
 *  - half-open (still handshaking) connections: at or above `load_half_open` a new connection
 *    must first return a DoS cookie (docs/PROTOCOL.md 5.5; the listener's nn_cookie_jar_t,
 *    rotated every 120 s, binds it to the peer's IP address without the port), so the responder
 *    spends no KEM and no signature on an address that does not receive; at `max_half_open`
 *    new connections are accepted and closed at once (RST, no TIME_WAIT);
 *  - `max_conns` connections in all (half-open, open and lingering);
 *  - the channel's handshake timeout (`handshake_timeout_ms`), absolute from the accept: a
 *    slow-loris peer that sends one byte at a time is dropped with NN_CLOSE_TIMEOUT;
 *  - reading pauses while a connection's unsent output is above `max_output` (a peer that
 *    sends but never reads cannot make us queue without bound).
 *
 * Memory: a half-open connection costs 3-6 KiB of heap (the connection, its channel and
 * handshake state, three libevent events; tests/test_tcp.c measures 3.3 KiB for one that was
 * sent a cookie), at most ~20 KiB while a 16 KiB handshake frame is half received; with the
 * defaults, 256 half-open connections stay below 5 MiB. An open connection holds at most one
 * record being received (66 KiB), one message being reassembled (max_message) and its unsent
 * output (max_output plus one read's worth of replies).
 *
 * Threads: none. Every call must come from the thread that runs \a base.
 *
 * Lifetime: a connection pointer is valid from its creation (nn_tcp_connect, or the first
 * callback for an inbound one) until on_closed returns. After that the driver still flushes
 * the CLOSE record and lingers (bounded by `linger_ms`), then closes the socket and frees the
 * connection by itself. Callbacks run from inside the event loop; they may send, close this or
 * other connections and start new ones, but must not free the listener.
 *
 * Addresses are numeric: "1.2.3.4:port", "[::1]:port" (port 0 binds an ephemeral port). Resolve
 * host names before calling (the CLI does, with getaddrinfo).
 */
#ifndef NN_TRANSPORT_TCP_H
#define NN_TRANSPORT_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nepnet/channel.h"

struct event_base;
struct nn_rng_t;

typedef struct nn_tcp_listener_t nn_tcp_listener_t;
typedef struct nn_tcp_conn_t nn_tcp_conn_t;

/* Close reasons of the driver itself, next to the channel's (never sent on the wire). */
#define NN_TCP_CLOSE_EOF ((nn_close_reason_t)32)     /**< TCP ended without a CLOSE record */
#define NN_TCP_CLOSE_IO ((nn_close_reason_t)33)      /**< socket error: nn_tcp_conn_errno() */
#define NN_TCP_CLOSE_CONNECT ((nn_close_reason_t)34) /**< TCP connect failed: nn_tcp_conn_errno() */
#define NN_TCP_CLOSE_MAX 35                          /**< size of nn_tcp_stats_t.closed */

/** nn_close_reason_str, extended with the driver's reasons. */
const char *nn_tcp_close_reason_str(nn_close_reason_t r);

/** Called with the ctx of the config that created the connection. */
typedef struct nn_tcp_callbacks_t {
  /** Handshake complete: \a info says who the peer is and what was negotiated. */
  void (*on_established)(void *ctx, nn_tcp_conn_t *conn, const nn_chan_info_t *info);
  /** A complete message; \a msg is valid only during the call. */
  void (*on_message)(void *ctx, nn_tcp_conn_t *conn, const uint8_t *msg, size_t len);
  /** The connection is over (also for a failed handshake or connect); last callback for conn. */
  void (*on_closed)(void *ctx, nn_tcp_conn_t *conn, nn_close_reason_t reason);
  void *ctx;
} nn_tcp_callbacks_t;

/** Listener limits. Start from nn_tcp_limits_default() and change what you need. */
typedef struct nn_tcp_limits_t {
  uint32_t max_conns;           /**< all inbound connections (default 1024) */
  uint32_t max_half_open;       /**< hard cap of handshaking connections (default 256) */
  uint32_t load_half_open;      /**< from this many half-open on, require a cookie (default 32;
                                     0 = always) */
  uint32_t max_per_ip;          /**< concurrent connections per IP or /64 (default 8; 0 = no limit) */
  double ip_rate;               /**< new handshakes per second per IP or /64 (default 20; 0 = no limit) */
  uint32_t ip_burst;            /**< bucket size (default 5) */
  uint32_t max_tracked_ips;     /**< per-IP table size (default 4096) */
  uint32_t handshake_timeout_ms;/**< default NN_CHAN_DEFAULT_HS_TIMEOUT_MS (10 s) */
  uint32_t linger_ms;           /**< after a close: flush the CLOSE record, wait for the peer's
                                     FIN, at most this long (default 2000) */
  size_t max_output;            /**< pause reading above this much unsent output (default 32 MiB) */
  int backlog;                  /**< listen() backlog (default 1024) */
  uint32_t accept_batch;        /**< accept() calls per wake-up (default 64) */
} nn_tcp_limits_t;

/** The documented defaults above. */
void nn_tcp_limits_default(nn_tcp_limits_t *l);

/** Channel parameters shared by both directions. */
typedef struct nn_tcp_chan_params_t {
  uint32_t network;              /**< NN_NET_* */
  uint32_t max_message;          /**< 0 = NN_CHAN_DEFAULT_MAX_MESSAGE */
  uint64_t rekey_interval;       /**< 0 = 1024 records */
  uint16_t pad_to;               /**< see nn_chan_config_t */
  const struct nn_rng_t *rng;    /**< NULL: OpenSSL's CSPRNG */
} nn_tcp_chan_params_t;

typedef struct nn_tcp_listener_config_t {
  const char *bind;                 /**< "HOST:PORT", numeric; port 0 = ephemeral */
  const nn_identity_t *identity;    /**< required; must outlive the listener */
  int require_peer_identity;        /**< refuse anonymous initiators */
  nn_tcp_chan_params_t chan;
  const nn_tcp_limits_t *limits;    /**< NULL: nn_tcp_limits_default() */
  nn_tcp_callbacks_t cb;
} nn_tcp_listener_config_t;

/** Counters and gauges of a listener. */
typedef struct nn_tcp_stats_t {
  uint64_t accepted;            /**< accept() returned a socket */
  uint64_t admitted;            /**< ... and a channel started on it */
  uint64_t refused_ip_conns;    /**< closed at once: per-IP concurrent limit */
  uint64_t refused_ip_rate;     /**< closed at once: per-IP token bucket empty */
  uint64_t refused_half_open;   /**< closed at once: max_half_open reached */
  uint64_t refused_conns;       /**< closed at once: max_conns reached */
  uint64_t refused_internal;    /**< closed at once: out of memory */
  uint64_t accept_errors;       /**< accept() failures (EMFILE pauses accepting for 100 ms) */
  uint64_t untracked;           /**< admitted without a per-IP entry (table full; cookie required) */
  uint64_t cookie_required;     /**< connections started under load (cookie required) */
  uint64_t cookies_sent;        /**< cookie replies sent */
  uint64_t handshakes;          /**< handshakes completed */
  uint64_t closed[NN_TCP_CLOSE_MAX]; /**< connections closed, by reason (channel or driver) */
  uint64_t bytes_in, bytes_out;
  uint32_t conns;               /**< live connections (incl. lingering) */
  uint32_t half_open;           /**< of which handshaking */
  uint32_t open;                /**< of which established and not closed */
  uint32_t tracked_ips;         /**< per-IP table entries */
} nn_tcp_stats_t;

/**
 * Bind, listen and start accepting on \a base. NN_ERR_FORMAT for a bad address, NN_ERR_IO for a
 * socket error (errno is kept: EADDRINUSE, EACCES, ...), NN_ERR_ARG without an identity.
 */
nn_err_t nn_tcp_listener_new(nn_tcp_listener_t **out, struct event_base *base,
                             const nn_tcp_listener_config_t *cfg);
/** Stop listening and free every connection at once (no callbacks). Accepts NULL. Not from a
 *  callback of this listener. */
void nn_tcp_listener_free(nn_tcp_listener_t *l);
const nn_tcp_stats_t *nn_tcp_listener_stats(const nn_tcp_listener_t *l);
/** The bound address, e.g. "127.0.0.1:40123" or "[::1]:40123". */
const char *nn_tcp_listener_addr(const nn_tcp_listener_t *l);
uint16_t nn_tcp_listener_port(const nn_tcp_listener_t *l);

typedef struct nn_tcp_conn_config_t {
  const nn_identity_t *identity;       /**< NULL: anonymous initiator; must outlive the conn */
  const nn_node_id_t *expected_peer;   /**< NULL: accept any node id (copied) */
  nn_tcp_chan_params_t chan;
  uint32_t handshake_timeout_ms;       /**< covers the TCP connect too; 0 = 10 s */
  uint32_t linger_ms;                  /**< 0 = 2000 */
  size_t max_output;                   /**< 0 = 32 MiB */
  nn_tcp_callbacks_t cb;
} nn_tcp_conn_config_t;

/**
 * Connect to \a hostport and run the handshake as initiator. The result arrives through the
 * callbacks: on_established, or on_closed with NN_TCP_CLOSE_CONNECT (errno: ECONNREFUSED, ...),
 * NN_CLOSE_WRONG_ID, NN_CLOSE_TIMEOUT, ... Returns NN_ERR_FORMAT for a bad address and
 * NN_ERR_IO (errno) if no socket could be started; then no callback follows.
 */
nn_err_t nn_tcp_connect(nn_tcp_conn_t **out, struct event_base *base, const char *hostport,
                        const nn_tcp_conn_config_t *cfg);

/** Queue a message. NN_ERR_ARG if not established (or closed), NN_ERR_TOO_LONG above the
 *  peer's max_message. Unsent output is visible in nn_tcp_conn_pending(). */
nn_err_t nn_tcp_conn_send(nn_tcp_conn_t *c, const uint8_t *msg, size_t len);
/** Close: a CLOSE record is flushed if the channel is open; on_closed(NN_CLOSE_LOCAL) follows
 *  (at once, or when the current callback returns). */
void nn_tcp_conn_close(nn_tcp_conn_t *c);

/** NULL until established. */
const nn_chan_info_t *nn_tcp_conn_info(const nn_tcp_conn_t *c);
/** The peer's address as "IP:PORT" / "[IPv6]:PORT". */
const char *nn_tcp_conn_peer_addr(const nn_tcp_conn_t *c);
const struct sockaddr *nn_tcp_conn_sockaddr(const nn_tcp_conn_t *c, socklen_t *len);
int nn_tcp_conn_is_inbound(const nn_tcp_conn_t *c);
/** 1 if this handshake went through a DoS cookie round (sent one, or had to return one). */
int nn_tcp_conn_cookie_round(const nn_tcp_conn_t *c);
size_t nn_tcp_conn_pending(const nn_tcp_conn_t *c);
/** The errno behind NN_TCP_CLOSE_IO / NN_TCP_CLOSE_CONNECT, else 0. */
int nn_tcp_conn_errno(const nn_tcp_conn_t *c);
/** Per-connection user data (NULL at first). */
void nn_tcp_conn_set_user(nn_tcp_conn_t *c, void *user);
void *nn_tcp_conn_user(const nn_tcp_conn_t *c);

/** Parse a numeric "HOST:PORT" ("[v6]:PORT" for IPv6; "*:PORT" = 0.0.0.0). */
nn_err_t nn_tcp_parse_addr(const char *hostport, struct sockaddr_storage *ss, socklen_t *len);
/** Format \a sa as "IP:PORT" / "[IPv6]:PORT" into \a out (at least 64 bytes). */
void nn_tcp_format_addr(const struct sockaddr *sa, char *out, size_t n);

#endif
