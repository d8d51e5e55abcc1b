/**
 * \file tcp.h
 * \brief The TCP transport (transport.h): non-blocking sockets on libevent, IPv4 and IPv6.
 *
 * Reads go straight from the socket into one 256 KiB buffer per transport (at most 8 reads per
 * wake-up and stream, for fairness) and on to the manager; writes go straight from the
 * channel's output with send(); EV_WRITE is armed only while output is pending or a connect is
 * in progress. No bufferevents: no copy besides the channel's own. TCP_NODELAY on every socket.
 *
 * Listening: accept4() in batches of accept_batch per wake-up; a refused stream is closed with
 * an RST (no TIME_WAIT kept); EMFILE/ENFILE pause accepting for 100 ms instead of spinning.
 * Addresses are numeric ("1.2.3.4:9800", "[::1]:9800", "*:9800"); resolve names first.
 */
#ifndef NN_NET_TCP_H
#define NN_NET_TCP_H

#include <stdint.h>

#include "net/transport.h"

struct event_base;

typedef struct nn_tcp_opts_t {
  int backlog;           /**< listen() backlog (1024) */
  uint32_t accept_batch; /**< accept() calls per wake-up (64) */
  /** Dial from the listener's port (SO_REUSEPORT on both), so that peers see the port our NAT
   *  maps for the listener, and a hole punch from it reaches what they saw (PROTOCOL.md 10.5).
   *  A dial whose 4-tuple is taken falls back to an ephemeral port. (0) */
  int reuse_port;
} nn_tcp_opts_t;

/** A TCP transport on \a base; \a opts NULL for the defaults. Add it with nn_net_add_transport. */
nn_err_t nn_tcp_transport_new(nn_transport_t **out, struct event_base *base, const nn_tcp_opts_t *opts);

/** A connection accepted from \a from's host (any port: a NAT whose mapping depends on the
 *  destination changes it) is handed to \a cb (which owns the socket) instead of
 *  the manager, until nn_tcp_unclaim: a hole punch whose peer's SYN reached our listener before
 *  our own SYN left. At most 16 claims at once; NN_ERR_NOSPACE beyond. */
nn_err_t nn_tcp_claim(nn_transport_t *t, const nn_addr_t *from, void (*cb)(void *ctx, int fd), void *ctx);
void nn_tcp_unclaim(nn_transport_t *t, const nn_addr_t *from, void *ctx);

/** Turn on TCP keepalives that hold a NAT's mapping open (idle 30 s, then every 15 s, 4 probes). */
void nn_tcp_keepalive(int fd);

#endif
