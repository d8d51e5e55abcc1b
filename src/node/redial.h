/**
 * \file redial.h
 * \brief A connection to a local daemon that is made again after it drops, with exponential
 * backoff: the TURN server's control connection, tor's control port, the I2P router's SAM
 * session. The timer and the delay; the caller connects when it fires.
 */
#ifndef NN_NODE_REDIAL_H
#define NN_NODE_REDIAL_H

#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/addr.h"

typedef struct nn_redial_t {
  struct event *ev;
  uint64_t first_ms, max_ms, delay_ms; /* delay_ms 0: none since the last success */
  unsigned grow_pct;                   /* the next delay, in percent of this one (150, 200) */
} nn_redial_t;

/** 0 on success; \a cb runs when a scheduled retry is due. */
int nn_redial_init(nn_redial_t *r, struct event_base *evb, event_callback_fn cb, void *arg, uint64_t first_ms,
                   unsigned grow_pct, uint64_t max_ms);
/** Schedule the next retry (first_ms after a success, then growing to max_ms); returns its delay. */
uint64_t nn_redial_schedule(nn_redial_t *r);
/** The connection works: the next drop is retried after first_ms again. */
void nn_redial_reset(nn_redial_t *r);
/** A connection to the daemon at \a a (IPv4/IPv6) with \a rd and \a ev as its callbacks, reading
 *  on; NULL if none could be started (the caller schedules a retry). */
struct bufferevent *nn_redial_connect(struct event_base *evb, const nn_addr_t *a, bufferevent_data_cb rd,
                                      bufferevent_event_cb ev, void *arg);
/** Cancel and free the timer (a zeroed or freed one is fine). */
void nn_redial_free(nn_redial_t *r);

#endif
