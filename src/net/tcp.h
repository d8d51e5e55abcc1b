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
} nn_tcp_opts_t;

/** A TCP transport on \a base; \a opts NULL for the defaults. Add it with nn_net_add_transport. */
nn_err_t nn_tcp_transport_new(nn_transport_t **out, struct event_base *base, const nn_tcp_opts_t *opts);

#endif
