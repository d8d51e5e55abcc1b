/**
 * \file events.h
 * \brief What happened in the node, as a bounded ring of JSON lines (GET /v1/events, docs/API.md):
 * peers up and down with their transport, Dandelion++ epochs with role and relays, steps of our
 * own transactions, the DHT's bootstrap; later layers add their own types.
 *
 * Each event is one compact JSON object of at most NN_EVENTS_LINE_MAX bytes with "seq" (1, 2,
 * 3... in order), "unix_ms" and "type" first. The ring keeps the last NN_EVENTS_MAX; a reader
 * that falls behind sees the first seq it gets jump. Memory only: the events of our own
 * transactions link this node to them, so dropped lines are wiped.
 *
 * Threads: none. No globals.
 */
#ifndef NN_NODE_EVENTS_H
#define NN_NODE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nepnet/error.h"

#define NN_EVENTS_MAX 1024      /**< events kept: at most 1 MiB of lines */
#define NN_EVENTS_LINE_MAX 1024 /**< one event's JSON, at most (longer ones are counted, not kept) */

typedef struct nn_events_t nn_events_t;

/** One event as kept: \a line (compact JSON, no newline) is valid until the next add. */
typedef struct nn_events_line_t {
  uint64_t seq;
  const char *line;
  size_t len;
} nn_events_line_t;

nn_err_t nn_events_new(nn_events_t **out);
/** Wipe and free. NULL is fine. */
void nn_events_free(nn_events_t *ev);
/**
 * Record an event of \a type at \a unix_ms with the fields of \a fields (a JSON object, stolen;
 * NULL for none). Returns its seq, or 0 when it was not kept (out of memory, or too long: both
 * counted in nn_events_lost).
 */
uint64_t nn_events_add(nn_events_t *ev, const char *type, json_t *fields, uint64_t unix_ms);
/** Up to \a max events with seq >= \a since, oldest first; *next is what to ask for next. */
size_t nn_events_get(const nn_events_t *ev, uint64_t since, nn_events_line_t *out, size_t max, uint64_t *next);
/** The last seq given out (0: none yet). */
uint64_t nn_events_last(const nn_events_t *ev);
/** Events not kept (out of memory or over NN_EVENTS_LINE_MAX). */
uint64_t nn_events_lost(const nn_events_t *ev);

#endif
