/* The in-memory test transport (pipe_transport.h). */
#include "pipe_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define PIPE_CAP (8u << 20) /* bytes one direction holds before a write is short */
#define MAX_TR 64
#define MAX_LISTEN 8

typedef struct pipe_tr_t pipe_tr_t;
typedef struct pipe_stream_t pipe_stream_t;

struct pipe_wire_t {
  struct event_base *base;
  size_t cap;
  pipe_tr_t *trs[MAX_TR];
  size_t ntr;
};

struct pipe_tr_t {
  nn_transport_t base;
  pipe_wire_t *w;
  uint8_t type;
  nn_addr_t listening[MAX_LISTEN];
  size_t nlisten;
  uint64_t streams;
  pipe_stream_t *live; /* every stream of this transport not freed yet */
};

struct pipe_stream_t {
  nn_stream_t base;
  pipe_tr_t *t;
  pipe_stream_t *peer;
  pipe_stream_t *lnext, **lprev; /* in t->live */
  struct event *ev;
  uint8_t *in;
  size_t in_len;
  int want_rd, want_wr, open_pending, accept_pending, refused_pending, eof_pending, err_pending;
  int ended, in_cb, dead, wr_blocked;
  int rd_paused;   /* a peer that does not read: input piles up to the wire's cap */
  size_t wr_limit; /* bytes this stream may still write (SIZE_MAX: no limit) */
};

static void
schedule(pipe_stream_t *s)
{
  if (s && !s->dead)
    event_active(s->ev, EV_TIMEOUT, 0);
}

static void
stream_free(pipe_stream_t *s)
{
  if (s->peer)
    s->peer->peer = NULL;
  if ((*s->lprev = s->lnext))
    s->lnext->lprev = s->lprev;
  event_free(s->ev);
  free(s->in);
  free(s);
}

static void process(evutil_socket_t fd, short what, void *arg);

static pipe_stream_t *
stream_new(pipe_tr_t *t, const nn_addr_t *peer, int inbound)
{
  pipe_stream_t *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  if (!(s->ev = event_new(t->w->base, -1, 0, process, s))) {
    free(s);
    return NULL;
  }
  s->base.t = &t->base;
  s->base.peer = *peer;
  s->base.inbound = inbound;
  s->t = t;
  s->wr_limit = SIZE_MAX;
  if ((s->lnext = t->live))
    t->live->lprev = &s->lnext;
  s->lprev = &t->live;
  t->live = s;
  t->streams++;
  return s;
}

static void
end_peer(pipe_stream_t *s, int reset)
{
  pipe_stream_t *p = s->peer;
  if (!p)
    return;
  if (reset)
    p->err_pending = 1;
  else
    p->eof_pending = 1;
  schedule(p);
}

static void
do_close(pipe_stream_t *s, int reset)
{
  end_peer(s, reset);
  if (s->in_cb) {
    s->dead = 1;
    if (s->peer)
      s->peer->peer = NULL;
    s->peer = NULL;
    return;
  }
  stream_free(s);
}

static void
process(evutil_socket_t fd, short what, void *arg)
{
  pipe_stream_t *s = arg;
  (void)fd;
  (void)what;
  s->in_cb++;
  if (s->accept_pending) {
    s->accept_pending = 0;
    if (!s->t->base.host.accept(s->t->base.host.ctx, &s->base)) {
      s->in_cb--;
      do_close(s, 1);
      return;
    }
  }
  if (s->refused_pending && !s->dead) {
    s->refused_pending = 0;
    s->ended = 1;
    s->base.ev->on_end(s->base.ctx, NN_STREAM_REFUSED, ECONNREFUSED);
  }
  if (s->open_pending && !s->dead) {
    s->open_pending = 0;
    s->base.ev->on_open(s->base.ctx);
  }
  if (!s->dead && !s->ended && s->want_rd && !s->rd_paused && s->in_len) {
    /* detached first: the other side may write to us from inside the callback */
    uint8_t *buf = s->in;
    size_t len = s->in_len;
    s->in = NULL;
    s->in_len = 0;
    if (s->peer && s->peer->wr_blocked) {
      s->peer->wr_blocked = 0;
      schedule(s->peer);
    }
    s->base.ev->on_data(s->base.ctx, buf, len);
    free(buf);
  }
  if (!s->dead && !s->ended && s->want_rd && !s->in_len && (s->eof_pending || s->err_pending)) {
    s->ended = 1;
    s->base.ev->on_end(s->base.ctx, s->err_pending ? NN_STREAM_ERROR : NN_STREAM_EOF, s->err_pending ? ECONNRESET : 0);
  }
  if (!s->dead && !s->ended && s->want_wr && !s->wr_blocked && s->base.ev)
    s->base.ev->on_writable(s->base.ctx);
  s->in_cb--;
  if (s->dead && !s->in_cb)
    stream_free(s);
}

static ssize_t
p_write(nn_stream_t *bs, const uint8_t *d, size_t n)
{
  pipe_stream_t *s = (pipe_stream_t *)bs, *p = s->peer;
  if (s->dead || s->ended || s->open_pending)
    return 0;
  if (!p) {
    errno = EPIPE;
    return -1;
  }
  size_t cap = s->t->w->cap, room = cap > p->in_len ? cap - p->in_len : 0;
  size_t take = n < room ? n : room;
  if (take > s->wr_limit)
    take = s->wr_limit;
  if (s->wr_limit != SIZE_MAX)
    s->wr_limit -= take;
  if (take) {
    uint8_t *b = realloc(p->in, p->in_len + take);
    if (!b) {
      errno = ENOMEM;
      return -1;
    }
    memcpy(b + p->in_len, d, take);
    p->in = b;
    p->in_len += take;
    schedule(p);
  }
  if (take < n)
    s->wr_blocked = 1;
  return (ssize_t)take;
}

static void
p_want(nn_stream_t *bs, int rd, int wr)
{
  pipe_stream_t *s = (pipe_stream_t *)bs;
  s->want_rd = rd;
  s->want_wr = wr;
  if ((rd && (s->in_len || s->eof_pending || s->err_pending)) || (wr && !s->wr_blocked))
    schedule(s);
}

static void
p_shutdown(nn_stream_t *bs)
{
  end_peer((pipe_stream_t *)bs, 0);
}

static void
p_close(nn_stream_t *bs, int reset)
{
  do_close((pipe_stream_t *)bs, reset);
}

static int
p_can_dial(nn_transport_t *bt, const nn_addr_t *a)
{
  return a->type == ((pipe_tr_t *)bt)->type;
}

static nn_err_t
p_dial(nn_transport_t *bt, const nn_addr_t *to, const nn_node_id_t *id, nn_stream_t **out)
{
  (void)id;
  pipe_tr_t *t = (pipe_tr_t *)bt;
  pipe_wire_t *w = t->w;
  for (size_t i = 0; i < w->ntr; i++) {
    pipe_tr_t *lt = w->trs[i];
    for (size_t k = 0; lt->type == t->type && k < lt->nlisten; k++) {
      if (!nn_addr_equal(&lt->listening[k], to))
        continue;
      /* the dialler's address as the listener sees it: the same type, port 1 */
      nn_addr_t from = *to;
      from.port = 1;
      from.host[0] ^= 0x5a;
      pipe_stream_t *a = stream_new(t, to, 0), *b = stream_new(lt, &from, 1);
      if (!a || !b) {
        if (a)
          stream_free(a);
        if (b)
          stream_free(b);
        return NN_ERR_NOMEM;
      }
      a->peer = b;
      b->peer = a;
      a->open_pending = 1;
      b->accept_pending = 1;
      schedule(a);
      schedule(b);
      *out = &a->base;
      return NN_OK;
    }
  }
  /* nobody listens there: refused, from the loop */
  pipe_stream_t *a = stream_new(t, to, 0);
  if (!a)
    return NN_ERR_NOMEM;
  a->refused_pending = 1;
  *out = &a->base;
  schedule(a);
  return NN_OK;
}

static nn_err_t
p_listen(nn_transport_t *bt, const char *bind_to, nn_addr_t *bound, char *why, size_t why_len)
{
  pipe_tr_t *t = (pipe_tr_t *)bt;
  nn_addr_t a;
  (void)why;
  (void)why_len;
  if (nn_addr_parse(&a, bind_to) != NN_OK || a.type != t->type || t->nlisten == MAX_LISTEN)
    return NN_ERR_FORMAT;
  t->listening[t->nlisten++] = a;
  if (bound)
    *bound = a;
  return NN_OK;
}

static void
p_free(nn_transport_t *bt)
{
  pipe_tr_t *t = (pipe_tr_t *)bt;
  pipe_wire_t *w = t->w;
  /* The manager closed every stream it adopted; what is left was never handed over (a dial
   * still waiting for its accept): refuse it like a listener that went away. */
  for (pipe_stream_t *s = t->live, *nx; s; s = nx) {
    nx = s->lnext;
    do_close(s, 1);
  }
  for (size_t i = 0; i < w->ntr; i++)
    if (w->trs[i] == t) {
      w->trs[i] = w->trs[--w->ntr];
      break;
    }
  free(t);
}

pipe_wire_t *
pipe_wire_new(struct event_base *base)
{
  pipe_wire_t *w = calloc(1, sizeof(*w));
  if (w) {
    w->base = base;
    w->cap = PIPE_CAP;
  }
  return w;
}

void
pipe_wire_set_cap(pipe_wire_t *w, size_t cap)
{
  w->cap = cap ? cap : PIPE_CAP;
}

void
pipe_wire_free(pipe_wire_t *w)
{
  free(w);
}

nn_transport_t *
pipe_transport_new(pipe_wire_t *w, const char *name, uint8_t type)
{
  pipe_tr_t *t;
  if (w->ntr == MAX_TR || !(t = calloc(1, sizeof(*t))))
    return NULL;
  t->w = w;
  t->type = type;
  t->base.name = name;
  t->base.peer_addrs = 0;
  t->base.can_dial = p_can_dial;
  t->base.dial = p_dial;
  t->base.listen = p_listen;
  t->base.write = p_write;
  t->base.want = p_want;
  t->base.shutdown = p_shutdown;
  t->base.close = p_close;
  t->base.free = p_free;
  w->trs[w->ntr++] = t;
  return &t->base;
}

uint64_t
pipe_transport_streams(const nn_transport_t *t)
{
  return ((const pipe_tr_t *)t)->streams;
}

/* The \a which-th (modulo their count) live stream of \a t, or NULL if none. */
static pipe_stream_t *
nth_live(nn_transport_t *bt, unsigned which)
{
  pipe_tr_t *t = (pipe_tr_t *)bt;
  pipe_stream_t *s;
  unsigned n = 0;
  for (s = t->live; s; s = s->lnext)
    n += !s->dead;
  if (!n)
    return NULL;
  which %= n;
  for (s = t->live; s->dead || which--; s = s->lnext)
    ;
  return s;
}

int
pipe_transport_pause_reading(nn_transport_t *t, unsigned which, int paused)
{
  pipe_stream_t *s = nth_live(t, which);
  if (!s)
    return 0;
  s->rd_paused = paused;
  if (!paused)
    schedule(s);
  return 1;
}

int
pipe_transport_write_limit(nn_transport_t *t, unsigned which, size_t bytes)
{
  pipe_stream_t *s = nth_live(t, which);
  if (!s)
    return 0;
  s->wr_limit = bytes;
  if (bytes) {
    s->wr_blocked = 0;
    schedule(s);
  }
  return 1;
}

int
pipe_transport_fault(nn_transport_t *bt, unsigned which, int kind, unsigned arg)
{
  pipe_stream_t *s = nth_live(bt, which);
  if (!s)
    return 0;
  if (kind == PIPE_FAULT_FLIP) {
    if (!s->in_len)
      return 0;
    s->in[(size_t)(((uint64_t)(arg & 0xffff) * s->in_len) >> 16)] ^= (uint8_t)(1u << ((arg >> 16) & 7));
    return 1;
  }
  if (kind == PIPE_FAULT_MOVE) {
    const uint8_t ip[4] = { 198, 51, 100, (uint8_t)arg };
    if (!s->base.ev || !bt->host.moved)
      return 0; /* not adopted yet: the manager does not know it */
    s->base.peer = nn_addr_ipv4(ip, (uint16_t)(arg >> 8));
    bt->host.moved(bt->host.ctx, &s->base);
    return 1;
  }
  /* a reset: both ends hear an error once they read, and writes fail from now on */
  pipe_stream_t *p = s->peer;
  s->err_pending = 1;
  schedule(s);
  if (p) {
    p->err_pending = 1;
    p->peer = NULL;
    s->peer = NULL;
    schedule(p);
  }
  return 1;
}
