/**
 * \file bevstream.h
 * \brief A transport stream over one libevent bufferevent (net/transport.h), shared by the
 * transports whose streams are TCP connections with an exchange before the peer's bytes: TURN
 * (a Connect and a bind at the server), Tor (a SOCKS5 exchange with the local tor) and I2P (SAM).
 *
 * The transport embeds nn_bevstream_t as the first member of its own stream struct and gives
 * three hooks: `connected` (the TCP connection to the proxy or server is up: start the exchange;
 * NULL opens the stream at once), `exchange` (bytes that arrived before the stream is open: take
 * what belongs to the exchange off \a in, then nn_bevstream_opened or nn_bevstream_end), and
 * `release` (the stream is going: unlink it and free it). The rest of the transport table
 * (write, want, shutdown, close) is this file's.
 *
 * What it guarantees the manager (transport.h): no callback from inside a call the manager
 * made; on_open / accept / on_data / on_writable / on_end from a zero-delay event; the peer's
 * EOF reported after the bytes before it; our output still flushed after the peer's EOF (a
 * CLOSE record); a stream the manager refused closed with an RST. An inbound stream that ends
 * before the manager adopted it is freed without a callback.
 *
 * Budgets: \a out_cap bytes queued for the peer (a write takes no more), \a in_cap read ahead
 * (reading stops there; TCP's window holds the rest).
 */
#ifndef NN_NODE_BEVSTREAM_H
#define NN_NODE_BEVSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "net/transport.h"

typedef struct nn_bevstream_t nn_bevstream_t;

typedef struct nn_bevstream_ops_t {
  void (*connected)(nn_bevstream_t *s);
  void (*exchange)(nn_bevstream_t *s, struct evbuffer *in);
  void (*release)(nn_bevstream_t *s);
} nn_bevstream_ops_t;

/** A transport's counters, shared by its streams. */
typedef struct nn_bevstream_stats_t {
  uint64_t dialled, dial_failed, accepted, bytes_in, bytes_out;
} nn_bevstream_stats_t;

struct nn_bevstream_t {
  nn_stream_t base; /* first: the manager's view */
  const nn_bevstream_ops_t *ops;
  nn_bevstream_stats_t *st;
  struct bufferevent *bev;
  struct event *kick;
  size_t in_cap, out_cap;
  int open, done;
  int want_read, want_write, write_blocked, shut_wr;
  int pending_open, pending_accept, pending_end, end_reported;
  int kicked, in_cb, closed;
  nn_stream_end_t end_how;
  int end_errno;
};

/** Set up \a s (zeroed by the caller) for transport \a t: its kick event on \a evb. */
nn_err_t nn_bevstream_init(nn_bevstream_t *s, nn_transport_t *t, struct event_base *evb, const nn_bevstream_ops_t *ops,
                           nn_bevstream_stats_t *st, const nn_addr_t *peer, int inbound, size_t in_cap, size_t out_cap);
/** Connect a new socket to \a sa; `connected` follows, or an end (REFUSED). 0 if nothing started. */
int nn_bevstream_connect(nn_bevstream_t *s, const struct sockaddr *sa, socklen_t len);
/** Take over an accepted socket \a fd (closed on failure). 0 on failure. */
int nn_bevstream_adopt(nn_bevstream_t *s, evutil_socket_t fd);
/** The exchange is done: the stream is open (inbound: offered to host.accept; outbound:
 *  on_open). Bytes left in the input are the peer's. */
void nn_bevstream_opened(nn_bevstream_t *s);
/** The stream is over (before it opened: the dial failed, REFUSED). */
void nn_bevstream_end(nn_bevstream_t *s, nn_stream_end_t how, int sys_errno);
/** Free the bufferevent and the kick event, then hand \a s to `release`. */
void nn_bevstream_release(nn_bevstream_t *s);

/* the transport table's stream functions */
ssize_t nn_bevstream_write(nn_stream_t *bs, const uint8_t *d, size_t n);
void nn_bevstream_want(nn_stream_t *bs, int read, int write);
void nn_bevstream_shutdown(nn_stream_t *bs);
void nn_bevstream_close(nn_stream_t *bs, int reset);

#endif
