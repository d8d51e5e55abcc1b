/*
 * An in-memory transport for tests (net/transport.h): streams are pairs of buffers inside one
 * process, delivered from the event loop. Several pipe transports, each for one address type,
 * share a "wire" that knows their listeners, so tests can run channels over fake transports
 * next to TCP.
 */
#ifndef NN_TESTS_PIPE_TRANSPORT_H
#define NN_TESTS_PIPE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "net/transport.h"

struct event_base;

typedef struct pipe_wire_t pipe_wire_t;

pipe_wire_t *pipe_wire_new(struct event_base *base);
void pipe_wire_free(pipe_wire_t *w);
/** Bytes one direction of a stream holds before writes are short (default 8 MiB; 0 restores it):
 *  a small cap exercises back-pressure. */
void pipe_wire_set_cap(pipe_wire_t *w, size_t cap);

/** A transport named \a name that dials and listens on addresses of \a type (any type:
 *  NN_ADDR_ONION and NN_ADDR_I2P make good fakes). Free it through the manager. */
nn_transport_t *pipe_transport_new(pipe_wire_t *w, const char *name, uint8_t type);

/** Streams opened so far through \a t (both directions). */
uint64_t pipe_transport_streams(const nn_transport_t *t);

/** Hostile peers, on the \a which-th (modulo their count) live stream of \a t; 0 if there is
 *  none. A stream whose reading is paused delivers nothing: its peer's writes pile up to the
 *  wire's cap, then are short. A stream with a write limit takes at most \a bytes more (SIZE_MAX:
 *  no limit), then its writes are short: a message stops half sent. */
int pipe_transport_pause_reading(nn_transport_t *t, unsigned which, int paused);
int pipe_transport_write_limit(nn_transport_t *t, unsigned which, size_t bytes);

/* Faults, for fuzzing: PIPE_FAULT_FLIP flips one bit of the unread input of a stream (bit
 * (arg >> 16) & 7 of the byte at (arg & 0xffff) / 65536 of the way in); PIPE_FAULT_RESET breaks
 * the connection (both ends hear NN_STREAM_ERROR once they read; writes fail at once). */
#define PIPE_FAULT_FLIP 0
#define PIPE_FAULT_RESET 1
/* PIPE_FAULT_MOVE: the stream "moves to a direct connection" (transport.h, host.moved) at
 * 198.51.100.(arg & 0xff):(arg >> 8), as a hole punch moves a relayed stream. */
#define PIPE_FAULT_MOVE 2

/** Apply a fault to the \a which-th (modulo their count) live stream of \a t. Returns 1 if it
 *  did something (a flip needs unread input). Like every call here, no callback from inside. */
int pipe_transport_fault(nn_transport_t *t, unsigned which, int kind, unsigned arg);

#endif
