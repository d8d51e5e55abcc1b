/* A transport stream over a bufferevent (bevstream.h). */
#include "node/bevstream.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#define READ_BATCH 16384

static void
kick(nn_bevstream_t *s)
{
  if (s->kicked || s->closed)
    return;
  s->kicked = 1;
  event_active(s->kick, EV_TIMEOUT, 0);
}

static void
set_reset(nn_bevstream_t *s)
{
  if (s->bev && bufferevent_getfd(s->bev) >= 0) {
    struct linger l = { 1, 0 }; /* an RST: no TIME_WAIT for a stream nobody wants */
    (void)setsockopt(bufferevent_getfd(s->bev), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
}

void
nn_bevstream_release(nn_bevstream_t *s)
{
  if (s->bev)
    bufferevent_free(s->bev);
  if (s->kick)
    event_free(s->kick);
  s->bev = NULL;
  s->kick = NULL;
  s->ops->release(s);
}

void
nn_bevstream_end(nn_bevstream_t *s, nn_stream_end_t how, int err)
{
  if (s->pending_end || s->end_reported || s->closed)
    return;
  if (!s->open) {
    how = NN_STREAM_REFUSED;
    s->st->dial_failed += !s->base.inbound;
  }
  s->open = 0;
  s->done = 1;
  s->pending_end = 1;
  s->end_how = how;
  s->end_errno = err;
  /* after the peer's EOF our own output (a CLOSE record) still goes out */
  if (s->bev)
    bufferevent_disable(s->bev, how == NN_STREAM_EOF ? EV_READ : EV_READ | EV_WRITE);
  kick(s);
}

void
nn_bevstream_opened(nn_bevstream_t *s)
{
  if (s->open || s->done)
    return;
  s->open = 1;
  if (s->base.inbound)
    s->pending_accept = 1;
  else
    s->pending_open = 1;
  kick(s);
}

static void
deliver(nn_bevstream_t *s)
{
  struct evbuffer *in = bufferevent_get_input(s->bev);
  size_t len;
  while ((len = evbuffer_get_length(in)) && s->want_read) {
    if (len > READ_BATCH)
      len = READ_BATCH;
    const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
    if (!p)
      break;
    s->st->bytes_in += len;
    int more = s->base.ev->on_data(s->base.ctx, p, len);
    if (s->closed)
      return;
    evbuffer_drain(in, len);
    if (!more)
      break;
  }
  if (s->open && evbuffer_get_length(in) < s->in_cap)
    bufferevent_enable(s->bev, EV_READ);
}

static void
step(nn_bevstream_t *s)
{
  nn_transport_t *t = s->base.t;
  if (s->pending_accept) {
    s->pending_accept = 0;
    if (!t->host.accept(t->host.ctx, &s->base)) {
      set_reset(s);
      s->closed = 1; /* refused: the manager forgets it, we close it */
      return;
    }
    s->st->accepted++;
  }
  if (s->pending_end && !s->base.ev && s->base.inbound) {
    s->closed = 1; /* ended before anyone owned it */
    return;
  }
  if (s->pending_open && s->base.ev) {
    s->pending_open = 0;
    s->st->dialled++;
    s->base.ev->on_open(s->base.ctx);
    if (s->closed)
      return;
  }
  if (s->bev && s->base.ev && s->want_read && (s->open || s->pending_end)) {
    deliver(s);
    if (s->closed)
      return;
  }
  if (s->want_write && s->write_blocked && s->open && s->base.ev && s->bev &&
      evbuffer_get_length(bufferevent_get_output(s->bev)) < s->out_cap / 2) {
    s->write_blocked = 0;
    s->base.ev->on_writable(s->base.ctx);
    if (s->closed)
      return;
  }
  if (s->pending_end && !s->end_reported && s->base.ev &&
      (!s->bev || !evbuffer_get_length(bufferevent_get_input(s->bev)) || s->end_how == NN_STREAM_REFUSED)) {
    s->end_reported = 1;
    s->base.ev->on_end(s->base.ctx, s->end_how, s->end_errno);
  }
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
  nn_bevstream_t *s = arg;
  (void)fd;
  (void)what;
  s->kicked = 0;
  s->in_cb = 1;
  step(s);
  s->in_cb = 0;
  if (s->closed)
    nn_bevstream_release(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
  nn_bevstream_t *s = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  if (!s->open && !s->done) {
    if (s->ops->exchange)
      s->ops->exchange(s, in);
    else
      evbuffer_drain(in, evbuffer_get_length(in));
    if (!s->open)
      return; /* still in the exchange, or it failed */
  }
  if (evbuffer_get_length(in) >= s->in_cap || !s->want_read)
    bufferevent_disable(bev, EV_READ); /* the kernel's buffer and TCP hold the rest */
  kick(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
  nn_bevstream_t *s = arg;
  if (s->shut_wr == 1 && !evbuffer_get_length(bufferevent_get_output(bev))) {
    s->shut_wr = 2;
    (void)shutdown(bufferevent_getfd(bev), SHUT_WR);
  }
  if (s->write_blocked)
    kick(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
  nn_bevstream_t *s = arg;
  (void)bev;
  if (what & BEV_EVENT_CONNECTED) {
    if (s->ops->connected)
      s->ops->connected(s);
    else
      nn_bevstream_opened(s);
    return;
  }
  if (what & BEV_EVENT_EOF)
    nn_bevstream_end(s, NN_STREAM_EOF, 0);
  else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
    nn_bevstream_end(s, NN_STREAM_ERROR, EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : ECONNRESET);
}

nn_err_t
nn_bevstream_init(nn_bevstream_t *s, nn_transport_t *t, struct event_base *evb, const nn_bevstream_ops_t *ops,
                  nn_bevstream_stats_t *st, const nn_addr_t *peer, int inbound, size_t in_cap, size_t out_cap)
{
  if (!(s->kick = event_new(evb, -1, 0, on_kick, s)))
    return NN_ERR_NOMEM;
  s->base.t = t;
  s->base.peer = *peer;
  s->base.inbound = inbound;
  s->ops = ops;
  s->st = st;
  s->in_cap = in_cap;
  s->out_cap = out_cap;
  return NN_OK;
}

static int
setup(nn_bevstream_t *s, evutil_socket_t fd)
{
  if (!(s->bev = bufferevent_socket_new(event_get_base(s->kick), fd, BEV_OPT_CLOSE_ON_FREE))) {
    if (fd >= 0)
      evutil_closesocket(fd);
    return 0;
  }
  bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
  bufferevent_setwatermark(s->bev, EV_WRITE, s->out_cap / 2, 0);
  return 1;
}

int
nn_bevstream_connect(nn_bevstream_t *s, const struct sockaddr *sa, socklen_t len)
{
  if (s->bev || !setup(s, -1))
    return 0;
  if (bufferevent_socket_connect(s->bev, sa, (int)len) < 0)
    return 0;
  bufferevent_enable(s->bev, EV_READ);
  return 1;
}

int
nn_bevstream_adopt(nn_bevstream_t *s, evutil_socket_t fd)
{
  if (s->bev) {
    evutil_closesocket(fd);
    return 0;
  }
  if (!setup(s, fd))
    return 0;
  bufferevent_enable(s->bev, EV_READ);
  return 1;
}

ssize_t
nn_bevstream_write(nn_stream_t *bs, const uint8_t *d, size_t n)
{
  nn_bevstream_t *s = (nn_bevstream_t *)bs;
  if (!s->open || !s->bev || s->shut_wr) {
    errno = s->done ? EPIPE : ENOTCONN;
    return -1;
  }
  size_t queued = evbuffer_get_length(bufferevent_get_output(s->bev));
  size_t room = queued < s->out_cap ? s->out_cap - queued : 0;
  size_t take = n < room ? n : room;
  if (take && bufferevent_write(s->bev, d, take) < 0) {
    errno = ENOMEM;
    return -1;
  }
  s->st->bytes_out += take;
  if (take < n)
    s->write_blocked = 1;
  return (ssize_t)take;
}

void
nn_bevstream_want(nn_stream_t *bs, int read, int write)
{
  nn_bevstream_t *s = (nn_bevstream_t *)bs;
  s->want_read = read;
  s->want_write = write;
  if (s->bev && s->open) {
    if (read && evbuffer_get_length(bufferevent_get_input(s->bev)) < s->in_cap)
      bufferevent_enable(s->bev, EV_READ);
    else if (!read)
      bufferevent_disable(s->bev, EV_READ);
  }
  if ((read && s->bev && evbuffer_get_length(bufferevent_get_input(s->bev))) || (write && s->write_blocked) ||
      s->pending_open || (s->pending_end && !s->end_reported))
    kick(s);
}

void
nn_bevstream_shutdown(nn_stream_t *bs)
{
  nn_bevstream_t *s = (nn_bevstream_t *)bs;
  if (!s->bev || s->shut_wr)
    return;
  s->shut_wr = 1;
  if (!evbuffer_get_length(bufferevent_get_output(s->bev))) {
    s->shut_wr = 2;
    (void)shutdown(bufferevent_getfd(s->bev), SHUT_WR);
  }
}

void
nn_bevstream_close(nn_stream_t *bs, int reset)
{
  nn_bevstream_t *s = (nn_bevstream_t *)bs;
  if (reset)
    set_reset(s);
  s->base.ev = NULL;
  s->open = 0;
  s->done = 1;
  s->closed = 1;
  if (!s->in_cb)
    nn_bevstream_release(s);
}
