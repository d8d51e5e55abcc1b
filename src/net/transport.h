/**
 * \file transport.h
 * \brief The transport interface: how the connection manager (net.h) gets byte streams.
 *
 * A transport turns an address into a reliable, ordered byte stream (dial) and hands the
 * manager the streams that peers open to it (listen). The secure channel runs unchanged over
 * every stream: a transport never sees a plaintext byte or a message boundary. TCP is the first
 * transport (net/tcp.c). A Tor SOCKS stream, an I2P SAM stream and a hole-punched or relayed
 * path implement the same table; docs/ARCHITECTURE.md says which file a new one goes in.
 *
 * A stream starts with the common header nn_stream_t, which the transport's own stream struct
 * embeds as its first member. The manager sets `ev` and `ctx` once it owns the stream; the
 * transport then reports from the event loop:
 *   - on_open:     an outbound stream is connected (after the TCP connect, a SOCKS or SAM
 *                  exchange, a punch...). Never called for inbound streams.
 *   - on_data:     bytes arrived (valid during the call only). Return 0 to end this batch of
 *                  reads early (the manager has enough, or closed the stream).
 *   - on_writable: a write that took fewer bytes than offered may be retried.
 *   - on_end:      the stream is over (EOF, error, or the dial failed), with the errno if any.
 *                  The stream stays allocated until the manager closes it.
 * The transport never calls back from inside a call the manager made into it (write, want,
 * shutdown, close, dial): errors of those calls are return values, and a dial reports its
 * result (on_open or on_end) from a later loop turn.
 *
 * Inbound: a listener accepts a stream and asks host.accept before anything else is spent on
 * it. The manager either adopts it (returns 1: it sets ev/ctx and calls want) or refuses it
 * (returns 0: the transport closes it abortively, for TCP with an RST so no TIME_WAIT is kept,
 * and frees it). Per-address limits, bans and DoS cookies are decided there; a transport whose
 * peers have no meaningful address (every onion-service stream comes from the local tor daemon)
 * says so with peer_addrs = 0 and is then limited by the manager's global caps only.
 *
 * Threads: none. Every call from the thread that runs the manager's event_base.
 */
#ifndef NN_NET_TRANSPORT_H
#define NN_NET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nepnet/error.h"
#include "nepnet/types.h"
#include "lib/addr.h"

typedef struct nn_transport_t nn_transport_t;
typedef struct nn_stream_t nn_stream_t;

typedef enum nn_stream_end_t {
  NN_STREAM_EOF = 1,     /**< the peer closed its sending side */
  NN_STREAM_ERROR = 2,   /**< a read or write failed (sys_errno) */
  NN_STREAM_REFUSED = 3, /**< the dial failed (sys_errno: ECONNREFUSED, ETIMEDOUT, ...) */
} nn_stream_end_t;

typedef struct nn_stream_events_t {
  void (*on_open)(void *ctx);
  int (*on_data)(void *ctx, const uint8_t *data, size_t len);
  void (*on_writable)(void *ctx);
  void (*on_end)(void *ctx, nn_stream_end_t how, int sys_errno);
} nn_stream_events_t;

/** The common head of every transport's stream. */
struct nn_stream_t {
  nn_transport_t *t;
  const nn_stream_events_t *ev; /**< set by the manager */
  void *ctx;                    /**< set by the manager */
  nn_addr_t peer;               /**< the dialled address, or the address an inbound peer came from */
  int inbound;
};

/** The manager, as a transport sees it (filled in by nn_net_add_transport). */
typedef struct nn_transport_host_t {
  /** A stream a peer opened: 1 = adopted, 0 = refused (close it abortively and free it). */
  int (*accept)(void *ctx, nn_stream_t *s);
  /** An adopted stream left the path it was opened on for a direct connection (a hole punch
   *  took a relayed stream over): \a s->peer now holds the direct peer's address. The manager
   *  takes it as the channel's address (shown, penalized and checked against bans by it) and
   *  tells the tenants from the event loop; nothing is called back from inside this call. */
  void (*moved)(void *ctx, nn_stream_t *s);
  void *ctx;
  struct event_base *base;
} nn_transport_host_t;

/** A transport: its functions and the manager it serves. */
struct nn_transport_t {
  const char *name; /**< "tcp", "tor", "i2p", ... (nn_net_listen names it) */
  /** Peers of accepted streams have real addresses (per-address limits and cookies apply). */
  int peer_addrs;
  /** Streams cross an anonymity network (Tor, I2P): link padding (overlay_pad_ms) applies. */
  int overlay;
  /** A dial's time to the end of the handshake, the transport's connect included (0: the
   *  manager's handshake_timeout_ms): an overlay's circuits take seconds to build. */
  uint32_t handshake_timeout_ms;
  /** Can this transport reach \a a? (TCP: IPv4 and IPv6; Tor: onion, ...) */
  int (*can_dial)(nn_transport_t *t, const nn_addr_t *a);
  /** Start a stream to \a to, for a channel to node \a id (NULL: any node; a relay transport
   *  needs it, since the relay's address names the relay, not the node); on_open or
   *  on_end(NN_STREAM_REFUSED) follows from the loop. NN_ERR_IO (errno kept) if nothing could
   *  be started, NN_ERR_ARG if \a id is needed and NULL. */
  nn_err_t (*dial)(nn_transport_t *t, const nn_addr_t *to, const nn_node_id_t *id, nn_stream_t **out);
  /** Start accepting on \a bind (transport-specific text, "HOST:PORT" for TCP); the address
   *  actually bound goes to \a bound. \a why (may be NULL) gets one line on failure. */
  nn_err_t (*listen)(nn_transport_t *t, const char *bind, nn_addr_t *bound, char *why, size_t why_len);
  /** Write up to \a n bytes: returns the count taken (0 = would block; on_writable follows once
   *  want(write) is on), or -1 with errno set. */
  ssize_t (*write)(nn_stream_t *s, const uint8_t *d, size_t n);
  /** Which events the manager wants now. */
  void (*want)(nn_stream_t *s, int read, int write);
  /** Our side is done sending (after the CLOSE record): half-close. */
  void (*shutdown)(nn_stream_t *s);
  /** Close and free \a s now, abortively if \a reset. No callback follows. */
  void (*close)(nn_stream_t *s, int reset);
  /** Stop listening and free the transport (every stream closed before). */
  void (*free)(nn_transport_t *t);
  nn_transport_host_t host;
};

#endif
