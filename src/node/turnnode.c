/* TURN in a node (turnnode.h): the control connection, the allocation and the "turn" transport. */
#include "node/turnnode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "crypto/rand.h"
#include "lib/clock.h"
#include "net/transport.h"
#include "node/bevstream.h"
#include "node/redial.h"

#define CTL_OUT_CAP (64u * 1024) /* control messages queued to the server */
#define BACKOFF_MAX_MS 60000

typedef enum { T_CONNECT, T_BINDING, T_OPEN } tphase_t;

typedef struct tstream_t {
  nn_bevstream_t bs; /* first: the manager's view and the bufferevent */
  struct nn_turnnode_t *t;
  struct tstream_t *next;
  uint64_t id; /* the Connect's tag and the data connection's id in the core */
  tphase_t phase;
  uint32_t connid;
  int held_perm;
} tstream_t;

struct nn_turnnode_t {
  nn_transport_t base; /* first: the manager's view */
  nn_net_t *net;
  struct event_base *evb;
  const nn_log_t *log;
  nn_turnnode_cfg_t cfg;
  nn_turn_t *turn;
  struct bufferevent *ctl;
  struct event *ev_tick;
  nn_redial_t redial;
  tstream_t *streams;
  unsigned nstreams;
  uint64_t next_id;
  int detached, engaged;
  char why[200];
  uint64_t start_ms, direct_ms, dials_at_direct;
  nn_bevstream_stats_t st;
  uint64_t ctl_connects;
};

static void tlog(nn_turnnode_t *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
tlog(nn_turnnode_t *t, int level, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  if (!nn_log_enabled(t->log, level))
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  nn_log(t->log, level, "nat", "%s", line);
}

static void tick(nn_turnnode_t *t);
static void ctl_open(nn_turnnode_t *t);

/* ---- streams ---- */

static tstream_t *
find_stream(nn_turnnode_t *t, uint64_t id)
{
  for (tstream_t *s = t->streams; s; s = s->next)
    if (s->id == id && !s->bs.closed)
      return s;
  return NULL;
}

static void
stream_release(nn_bevstream_t *bs)
{
  tstream_t *s = (tstream_t *)bs;
  nn_turnnode_t *t = s->t;
  for (tstream_t **p = &t->streams; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  t->nstreams--;
  if (t->turn) {
    nn_turn_bind_gone(t->turn, s->id);
    if (s->held_perm)
      nn_turn_perm_hold(t->turn, &s->bs.base.peer, -1);
  }
  free(s);
}

/* Bytes on a data connection before it is bound: the server's answer to ConnectionBind. */
static void
stream_exchange(nn_bevstream_t *bs, struct evbuffer *in)
{
  tstream_t *s = (tstream_t *)bs;
  nn_turnnode_t *t = s->t;
  size_t len = evbuffer_get_length(in), used = 0;
  const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
  if (s->phase != T_BINDING || !p || !t->turn)
    return;
  /* BOUND or BIND_FAILED may come through the event callback from inside */
  if (nn_turn_bind_input(t->turn, s->id, p, len, &used, nn_mono_ms()) != NN_OK) {
    nn_bevstream_end(bs, NN_STREAM_REFUSED, EPROTO);
    return;
  }
  evbuffer_drain(in, used);
}

static void
stream_connected(nn_bevstream_t *bs)
{
  tstream_t *s = (tstream_t *)bs;
  if (!s->t->turn || nn_turn_bind(s->t->turn, s->id, s->connid, nn_mono_ms()) != NN_OK)
    nn_bevstream_end(bs, NN_STREAM_REFUSED, EAGAIN);
}

static const nn_bevstream_ops_t stream_ops = { stream_connected, stream_exchange, stream_release };

static tstream_t *
stream_new(nn_turnnode_t *t, const nn_addr_t *peer, int inbound)
{
  tstream_t *s;
  if (t->nstreams >= NN_TURNNODE_MAX_STREAMS || !(s = calloc(1, sizeof(*s))))
    return NULL;
  if (nn_bevstream_init(&s->bs, &t->base, t->evb, &stream_ops, &t->st, peer, inbound, NN_TURNNODE_IN_CAP,
                        NN_TURNNODE_OUT_CAP)) {
    free(s);
    return NULL;
  }
  s->t = t;
  s->id = ++t->next_id;
  s->next = t->streams;
  t->streams = s;
  t->nstreams++;
  return s;
}

/* A data connection to the server for \a s, to be bound to \a connid. */
static int
data_connect(nn_turnnode_t *t, tstream_t *s, uint32_t connid)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  unsigned binding = 0;
  for (tstream_t *o = t->streams; o; o = o->next)
    binding += o->phase == T_BINDING && !o->bs.done;
  if (binding >= NN_TURNNODE_MAX_BINDING || !nn_addr_to_sockaddr(&t->cfg.server, &ss, &sl))
    return 0;
  s->connid = connid;
  s->phase = T_BINDING;
  return nn_bevstream_connect(&s->bs, (struct sockaddr *)&ss, sl);
}

/* ---- the core's side ---- */

static nn_err_t
io_send(void *ctx, uint64_t conn, const uint8_t *b, size_t n)
{
  nn_turnnode_t *t = ctx;
  struct bufferevent *bev = NULL;
  if (!conn) {
    bev = t->ctl;
    if (bev && evbuffer_get_length(bufferevent_get_output(bev)) + n > CTL_OUT_CAP)
      return NN_ERR_NOSPACE;
  } else {
    tstream_t *s = find_stream(t, conn);
    bev = s ? s->bs.bev : NULL;
  }
  if (!bev || bufferevent_write(bev, b, n) < 0)
    return NN_ERR_IO;
  return NN_OK;
}

static void
io_random(void *ctx, uint8_t *b, size_t n)
{
  (void)ctx;
  (void)nn_rng_fill(NULL, b, n);
}

static void
io_event(void *ctx, const nn_turn_event_t *e)
{
  nn_turnnode_t *t = ctx;
  char a[NN_ADDR_STR_MAX], m[NN_ADDR_STR_MAX];
  tstream_t *s;
  switch (e->kind) {
  case NN_TURN_EV_READY:
    nn_redial_reset(&t->redial);
    nn_addr_format(nn_turn_relayed(t->turn), a);
    nn_addr_format(nn_turn_mapped(t->turn), m);
    tlog(t, NN_LOG_INFO, "TURN: allocated %s for %u s (our connection to the server comes from %s)%s", a,
         nn_turn_lifetime(t->turn), nn_turn_mapped(t->turn)->type ? m : "?",
         t->cfg.mode == 1 ? ": dials go through it (turn = 1)" : "");
    if (t->cfg.mode == 1 && !t->engaged) {
      t->engaged = 1;
      snprintf(t->why, sizeof(t->why), "turn = 1: every dial goes through the TURN server");
    }
    return;
  case NN_TURN_EV_FAILED:
    nn_addr_format(&t->cfg.server, a);
    if (e->code)
      tlog(t, NN_LOG_WARN, "TURN server %s: %s (error %u); trying again", a, e->why ? e->why : "failed", e->code);
    else
      tlog(t, NN_LOG_WARN, "TURN server %s: %s; trying again", a, e->why ? e->why : "failed");
    return;
  case NN_TURN_EV_CONNECTED:
    if (!(s = find_stream(t, e->tag)) || s->phase != T_CONNECT || s->bs.done)
      return; /* closed meanwhile: the server's connection lapses unbound */
    if (!data_connect(t, s, e->connid))
      nn_bevstream_end(&s->bs, NN_STREAM_REFUSED, EAGAIN);
    return;
  case NN_TURN_EV_CONNECT_FAILED:
    if ((s = find_stream(t, e->tag))) {
      nn_addr_format(&s->bs.base.peer, a);
      tlog(t, NN_LOG_DEBUG, "TURN: no connection to %s: %s (%u)", a, e->why ? e->why : "", e->code);
      nn_bevstream_end(&s->bs, NN_STREAM_REFUSED, e->code == 447 || !e->code ? ETIMEDOUT : ECONNREFUSED);
    }
    return;
  case NN_TURN_EV_ATTEMPT:
    if (!(s = stream_new(t, &e->peer, 1)))
      return; /* full: the server drops its connection after 30 s unbound */
    if (!data_connect(t, s, e->connid)) {
      s->bs.closed = 1;
      nn_bevstream_release(&s->bs);
    }
    return;
  case NN_TURN_EV_BOUND:
    if (!(s = find_stream(t, e->tag)) || s->phase != T_BINDING || s->bs.done)
      return;
    s->phase = T_OPEN;
    nn_turn_perm_hold(t->turn, &s->bs.base.peer, 1);
    s->held_perm = 1;
    nn_bevstream_opened(&s->bs);
    return;
  case NN_TURN_EV_BIND_FAILED:
    if ((s = find_stream(t, e->tag)))
      nn_bevstream_end(&s->bs, NN_STREAM_REFUSED, ECONNREFUSED);
    return;
  }
}

/* ---- the control connection ---- */

static void
ctl_close(nn_turnnode_t *t, const char *why)
{
  if (t->ctl)
    bufferevent_free(t->ctl);
  t->ctl = NULL;
  if (t->turn)
    nn_turn_ctl_down(t->turn, why);
  if (!t->detached)
    (void)nn_redial_schedule(&t->redial);
}

static void
on_ctl_read(struct bufferevent *bev, void *arg)
{
  nn_turnnode_t *t = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
  if (!p)
    return;
  nn_err_t e = nn_turn_ctl_input(t->turn, p, len, nn_mono_ms());
  if (t->ctl != bev)
    return;
  evbuffer_drain(in, len);
  if (e != NN_OK) {
    char a[NN_ADDR_STR_MAX];
    nn_addr_format(&t->cfg.server, a);
    tlog(t, NN_LOG_WARN, "TURN server %s sent bytes that are not STUN: closing the connection", a);
    ctl_close(t, "the server sent bytes that are not STUN");
    return;
  }
  tick(t);
}

static void
on_ctl_event(struct bufferevent *bev, short what, void *arg)
{
  nn_turnnode_t *t = arg;
  char a[NN_ADDR_STR_MAX];
  (void)bev;
  if (what & BEV_EVENT_CONNECTED) {
    t->ctl_connects++;
    nn_turn_start(t->turn, nn_mono_ms());
    tick(t);
    return;
  }
  nn_addr_format(&t->cfg.server, a);
  tlog(t, NN_LOG_WARN, "TURN server %s: the connection %s (check turn-server, and that TCP to it is allowed)", a,
       what & BEV_EVENT_EOF ? "was closed" : "failed");
  ctl_close(t, "the connection to the server was lost");
}

static void
ctl_open(nn_turnnode_t *t)
{
  if (t->detached || t->ctl)
    return;
  if (!(t->ctl = nn_redial_connect(t->evb, &t->cfg.server, on_ctl_read, on_ctl_event, t)))
    ctl_close(t, "cannot connect to the server");
}

static void
on_redial(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  ctl_open(arg);
}

/* ---- when to use it ---- */

static void
each_direct(void *ctx, const nn_net_conn_info_t *c)
{
  int *n = ctx;
  if (c->established && !c->inbound && c->transport && !strcmp(c->transport, "tcp"))
    (*n)++;
}

static void
maybe_engage(nn_turnnode_t *t, uint64_t now)
{
  int direct = 0;
  uint64_t dials = nn_net_stats(t->net)->dials;
  if (t->engaged || t->cfg.mode != -1)
    return;
  nn_net_each(t->net, each_direct, &direct);
  if (direct) {
    t->direct_ms = now;
    t->dials_at_direct = dials;
    snprintf(t->why, sizeof(t->why), "direct TCP channels work (%d now): TURN is not needed", direct);
    return;
  }
  if (now - t->direct_ms < NN_TURNNODE_AUTO_S * 1000ull || dials - t->dials_at_direct < NN_TURNNODE_AUTO_DIALS) {
    snprintf(t->why, sizeof(t->why), "watching: %llu dials and no direct TCP channel for %llu s (TURN after %d s)",
             (unsigned long long)(dials - t->dials_at_direct), (unsigned long long)((now - t->direct_ms) / 1000),
             NN_TURNNODE_AUTO_S);
    return;
  }
  if (nn_turn_state(t->turn) != NN_TURN_READY) {
    snprintf(t->why, sizeof(t->why), "direct TCP fails, but the TURN server gave no allocation yet");
    return;
  }
  t->engaged = 1;
  snprintf(t->why, sizeof(t->why), "no direct TCP channel in %llu s and %llu dials: dials go through the TURN server",
           (unsigned long long)((now - t->direct_ms) / 1000), (unsigned long long)(dials - t->dials_at_direct));
  tlog(t, NN_LOG_WARN, "%s (turn = auto)", t->why);
}

static void
tick(nn_turnnode_t *t)
{
  uint64_t now = nn_mono_ms(), next, delay = 1000;
  struct timeval tv;
  if (t->detached)
    return;
  next = nn_turn_tick(t->turn, now);
  maybe_engage(t, now);
  if (next && next > now && next - now < delay)
    delay = next - now;
  tv.tv_sec = (time_t)(delay / 1000);
  tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
  evtimer_add(t->ev_tick, &tv);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  tick(arg);
}

/* ---- the transport ---- */

static int
tr_can_dial(nn_transport_t *bt, const nn_addr_t *a)
{
  nn_turnnode_t *t = (nn_turnnode_t *)bt;
  return !t->detached && t->engaged && nn_turn_state(t->turn) == NN_TURN_READY &&
         a->type == nn_turn_relayed(t->turn)->type && !nn_addr_equal(a, &t->cfg.server);
}

static nn_err_t
tr_dial(nn_transport_t *bt, const nn_addr_t *to, const nn_node_id_t *id, nn_stream_t **out)
{
  nn_turnnode_t *t = (nn_turnnode_t *)bt;
  tstream_t *s;
  (void)id;
  *out = NULL;
  if (!tr_can_dial(bt, to))
    return NN_ERR_ARG;
  if (!(s = stream_new(t, to, 0))) {
    errno = EMFILE;
    return NN_ERR_IO;
  }
  s->phase = T_CONNECT;
  if (nn_turn_connect(t->turn, to, s->id, nn_mono_ms()) != NN_OK) {
    s->bs.closed = 1;
    nn_bevstream_release(&s->bs);
    errno = EAGAIN;
    return NN_ERR_IO;
  }
  tick(t); /* the Connect's timeout */
  *out = &s->bs.base;
  return NN_OK;
}

static nn_err_t
tr_listen(nn_transport_t *bt, const char *bind, nn_addr_t *bound, char *why, size_t why_len)
{
  (void)bt;
  (void)bind;
  (void)bound;
  if (why)
    snprintf(why, why_len, "the turn transport is reached through its allocation, not a listen address");
  return NN_ERR_ARG;
}

static void
detach(nn_turnnode_t *t)
{
  if (t->detached)
    return;
  t->detached = 1;
  if (t->turn && t->ctl && bufferevent_getfd(t->ctl) >= 0) {
    /* the allocation ends now, not at its lifetime: one non-blocking send of the Refresh (and of
     * anything still queued), since freeing the bufferevent drops what it has not written */
    struct evbuffer *out = bufferevent_get_output(t->ctl);
    nn_turn_release(t->turn);
    size_t len = evbuffer_get_length(out);
    const uint8_t *p = len ? evbuffer_pullup(out, (ssize_t)len) : NULL;
    if (p) /* the bufferevent's own buffer cannot be drained from outside (it is frozen) */
      (void)send(bufferevent_getfd(t->ctl), p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (t->ctl)
    bufferevent_free(t->ctl);
  t->ctl = NULL;
  if (t->ev_tick)
    event_free(t->ev_tick);
  nn_redial_free(&t->redial);
  t->ev_tick = NULL;
}

static void
tr_free(nn_transport_t *bt)
{
  nn_turnnode_t *t = (nn_turnnode_t *)bt;
  detach(t);
  while (t->streams)
    nn_bevstream_release(&t->streams->bs);
  nn_turn_free(t->turn);
  OPENSSL_cleanse(&t->cfg, sizeof(t->cfg));
  free(t);
}

/* ---- life ---- */

nn_err_t
nn_turnnode_new(nn_turnnode_t **out, nn_net_t *net, const nn_turnnode_cfg_t *cfg, char *why, size_t why_len)
{
  nn_turnnode_t *t;
  nn_turn_cfg_t tc;
  nn_err_t e;
  char dummy[8];
  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  *out = NULL;
  if (cfg->server.type != NN_ADDR_IPV4 && cfg->server.type != NN_ADDR_IPV6) {
    snprintf(why, why_len, "turn-server must be a numeric HOST:PORT");
    return NN_ERR_ARG;
  }
  if (!cfg->username[0]) {
    snprintf(why, why_len, "turn-server needs turn-user (and turn-password-file)");
    return NN_ERR_ARG;
  }
  if (!(t = calloc(1, sizeof(*t))))
    return NN_ERR_NOMEM;
  t->net = net;
  t->evb = nn_net_base(net);
  t->cfg = *cfg;
  t->log = cfg->log ? cfg->log : nn_net_log(net);
  memset(&tc, 0, sizeof(tc));
  memcpy(tc.username, cfg->username, sizeof(tc.username));
  memcpy(tc.password, cfg->password, sizeof(tc.password));
  nn_turn_io_t io = { io_send, io_event, io_random, t };
  e = nn_turn_new(&t->turn, &tc, &io);
  OPENSSL_cleanse(&tc, sizeof(tc));
  if (e || !(t->ev_tick = evtimer_new(t->evb, on_tick, t)) ||
      nn_redial_init(&t->redial, t->evb, on_redial, t, 1000, 200, BACKOFF_MAX_MS)) {
    snprintf(why, why_len, "cannot start the TURN client: %s", nn_err_str(e ? e : NN_ERR_NOMEM));
    if (t->ev_tick)
      event_free(t->ev_tick);
    nn_redial_free(&t->redial);
    nn_turn_free(t->turn);
    OPENSSL_cleanse(&t->cfg, sizeof(t->cfg));
    free(t);
    return e ? e : NN_ERR_NOMEM;
  }
  t->base.name = "turn";
  t->base.peer_addrs = 1; /* the server tells us each peer's address */
  t->base.can_dial = tr_can_dial;
  t->base.dial = tr_dial;
  t->base.listen = tr_listen;
  t->base.write = nn_bevstream_write;
  t->base.want = nn_bevstream_want;
  t->base.shutdown = nn_bevstream_shutdown;
  t->base.close = nn_bevstream_close;
  t->base.free = tr_free;
  t->start_ms = t->direct_ms = nn_mono_ms();
  t->dials_at_direct = nn_net_stats(net)->dials;
  snprintf(t->why, sizeof(t->why), "%s", cfg->mode == 1 ? "turn = 1: waiting for the allocation" : "watching");
  if ((e = nn_net_add_transport_first(net, &t->base)))
    return e; /* the manager freed it */
  ctl_open(t);
  tick(t);
  *out = t;
  return NN_OK;
}

void
nn_turnnode_free(nn_turnnode_t *t)
{
  if (t)
    detach(t);
}

void
nn_turnnode_status(const nn_turnnode_t *t, nn_turnnode_status_t *out)
{
  memset(out, 0, sizeof(*out));
  out->mode = t->cfg.mode;
  out->server = t->cfg.server;
  out->engaged = t->engaged;
  snprintf(out->why, sizeof(out->why), "%s", t->why);
  out->streams = t->nstreams;
  out->dialled = t->st.dialled;
  out->dial_failed = t->st.dial_failed;
  out->accepted = t->st.accepted;
  out->ctl_connects = t->ctl_connects;
  out->bytes_in = t->st.bytes_in;
  out->bytes_out = t->st.bytes_out;
  if (t->turn) {
    out->state = nn_turn_state(t->turn);
    out->relayed = *nn_turn_relayed(t->turn);
    out->mapped = *nn_turn_mapped(t->turn);
    out->lifetime_s = nn_turn_lifetime(t->turn);
    nn_turn_stats(t->turn, &out->turn);
  }
}
