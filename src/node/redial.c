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

struct bufferevent *
nn_redial_connect(struct event_base *evb, const nn_addr_t *a, bufferevent_data_cb rd, bufferevent_event_cb ev,
                  void *arg)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  struct bufferevent *b;
  if (!nn_addr_to_sockaddr(a, &ss, &sl) || !(b = bufferevent_socket_new(evb, -1, BEV_OPT_CLOSE_ON_FREE)))
    return NULL;
  bufferevent_setcb(b, rd, NULL, ev, arg);
  if (bufferevent_socket_connect(b, (struct sockaddr *)&ss, (int)sl) < 0) {
    bufferevent_free(b);
    return NULL;
  }
  bufferevent_enable(b, EV_READ);
  return b;
}

void
nn_redial_free(nn_redial_t *r)
{
  if (r->ev)
    event_free(r->ev);
  r->ev = NULL;
}
