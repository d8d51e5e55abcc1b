/*
 * An in-memory transport for tests (net/transport.h): streams are pairs of buffers inside one
 * process, delivered from the event loop. Several pipe transports, each for one address type,
 * share a "wire" that knows their listeners, so tests can run channels over fake transports
 * next to TCP.
 */
#ifndef NN_TESTS_PIPE_TRANSPORT_H
#define NN_TESTS_PIPE_TRANSPORT_H

#include <stdint.h>

#include "net/transport.h"

struct event_base;

typedef struct pipe_wire_t pipe_wire_t;

pipe_wire_t *pipe_wire_new(struct event_base *base);
void pipe_wire_free(pipe_wire_t *w);

/** A transport named \a name that dials and listens on addresses of \a type (any type:
 *  NN_ADDR_ONION and NN_ADDR_I2P make good fakes). Free it through the manager. */
nn_transport_t *pipe_transport_new(pipe_wire_t *w, const char *name, uint8_t type);

/** Streams opened so far through \a t (both directions). */
uint64_t pipe_transport_streams(const nn_transport_t *t);

#endif
