/* A connection made again with backoff (redial.h). */
#include "node/redial.h"

int
nn_redial_init(nn_redial_t *r, struct event_base *evb, event_callback_fn cb, void *arg, uint64_t first_ms,
               unsigned grow_pct, uint64_t max_ms)
{
  r->ev = evtimer_new(evb, cb, arg);
  r->first_ms = first_ms;
  r->max_ms = max_ms;
  r->grow_pct = grow_pct;
  r->delay_ms = 0;
  return r->ev ? 0 : -1;
}

uint64_t
nn_redial_schedule(nn_redial_t *r)
{
  struct timeval tv;
  r->delay_ms = r->delay_ms ? r->delay_ms * r->grow_pct / 100 : r->first_ms;
  if (r->delay_ms > r->max_ms)
    r->delay_ms = r->max_ms;
  tv.tv_sec = (time_t)(r->delay_ms / 1000);
  tv.tv_usec = (suseconds_t)(r->delay_ms % 1000) * 1000;
  if (r->ev)
    evtimer_add(r->ev, &tv);
  return r->delay_ms;
}

void
nn_redial_reset(nn_redial_t *r)
{
  r->delay_ms = 0;
}

void
nn_redial_free(nn_redial_t *r)
{
  if (r->ev)
    event_free(r->ev);
  r->ev = NULL;
}
