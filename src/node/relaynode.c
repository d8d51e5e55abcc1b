/* Relayed circuits in a node: the tenant of both roles and the "relay" transport (relaynode.h). */
#include "node/relaynode.h"
#include "node/relaynode_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/clock.h"
#include "lib/hex.h"

void
nn_relaynode_cfg_default(nn_relaynode_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_relay_limits_default(&cfg->limits);
  cfg->want_relays = 2;
  cfg->max_streams = 64;
  cfg->punch = 1;
  cfg->punch_timeout_ms = 5000;
  cfg->punch_rounds = 3;
}

void
nn_rn_log(nn_relaynode_t *t, int level, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  if (!nn_log_enabled(t->log, level))
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  nn_log(t->log, level, "relay", "%s", line);
}

/* ---- holds, counted (nn_net_hold is one flag per tenant) ---- */

void
nn_rn_hold(nn_relaynode_t *t, uint64_t conn, int on)
{
  size_t i;
  if (!conn || t->detached)
    return;
  for (i = 0; i < t->nholds && t->holds[i].conn != conn; i++)
    ;
  if (i == t->nholds) {
    if (!on)
      return;
    if (t->nholds == t->capholds) {
      size_t cap = t->capholds ? 2 * t->capholds : 16;
      hold_t *h = realloc(t->holds, cap * sizeof(*h));
      if (!h)
        return; /* the channel is merely not held: it may be trimmed, and the circuit then ends */
      t->holds = h;
      t->capholds = cap;
    }
    t->holds[t->nholds++] = (hold_t){ conn, 0 };
  }
  hold_t *h = &t->holds[i];
  if (on) {
    if (h->count++ == 0)
      nn_net_hold(t->net, t->proto, conn, 1);
    return;
  }
  if (h->count && --h->count == 0) {
    nn_net_hold(t->net, t->proto, conn, 0);
    t->holds[i] = t->holds[--t->nholds];
  }
}

static void
holds_forget(nn_relaynode_t *t, uint64_t conn)
{
  for (size_t i = 0; i < t->nholds; i++)
    if (t->holds[i].conn == conn) {
      t->holds[i] = t->holds[--t->nholds];
      return;
    }
}

/* ---- the relay role: the core's io ---- */

static nn_err_t
io_send(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_relaynode_t *t = ctx;
  return nn_net_send(t->net, conn, msg, len);
}

static void
io_hold(void *ctx, uint64_t conn, int on)
{
  nn_rn_hold(ctx, conn, on);
}

static void
io_penalize(void *ctx, uint64_t conn, int points, const char *why)
{
  nn_relaynode_t *t = ctx;
  nn_net_penalize(t->net, conn, points, why);
}

/* The tick only ever moves earlier between firings: every relay message asks for one, and a
 * stream of them must not keep pushing back the release of credits the rate holds. */
static void
schedule_tick(nn_relaynode_t *t, uint64_t now, uint64_t delay_ms)
{
  struct timeval tv = { (time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000 };
  if (t->detached || (evtimer_pending(t->ev_tick, NULL) && t->tick_at <= now + delay_ms))
    return;
  t->tick_at = now + delay_ms;
  evtimer_add(t->ev_tick, &tv);
}

static void
relay_ticked(nn_relaynode_t *t, uint64_t now)
{
  uint64_t next = t->relay ? nn_relay_tick(t->relay, now) : 0;
  uint64_t delay = 1000;
  if (next && next > now && next - now < delay)
    delay = next - now;
  else if (next && next <= now)
    delay = 1;
  schedule_tick(t, now, delay);
}

/* ---- streams ---- */

static void on_stream_kick(evutil_socket_t fd, short what, void *arg);

static void
stream_release(rstream_t *s)
{
  nn_relaynode_t *t = s->t;
  if (s->held)
    nn_rn_hold(t, s->outer, 0);
  s->held = 0;
  for (rstream_t **p = &t->streams; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      t->nstreams--;
      break;
    }
  nn_punch_close(s, 1);
  if (s->ev)
    event_free(s->ev);
  free(s->rx);
  free(s);
}

static void
send_end(rstream_t *s, nn_relay_end_t why)
{
  uint8_t m[NN_RELAY_END_LEN];
  if (s->t->detached || !s->outer)
    return;
  nn_rlmsg_end(m, s->cid, (uint8_t)why);
  (void)nn_net_send(s->t->net, s->outer, m, sizeof(m));
}

/* The stream is over: on_end follows from the loop (once what was received is delivered). */
void
nn_rn_stream_end(rstream_t *s, nn_stream_end_t how, int err)
{
  if (s->state == S_DONE)
    return;
  s->state = S_DONE;
  s->pending_end = 1;
  s->end_how = how;
  s->end_errno = err;
  nn_rn_stream_kick(s);
}

static rstream_t *
stream_new(nn_relaynode_t *t, const nn_node_id_t *relay, int inbound)
{
  rstream_t *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->t = t;
  s->base.t = &t->base;
  s->base.inbound = inbound;
  s->base.peer = nn_addr_overlay(NN_ADDR_RELAY, relay->b, 0);
  s->relay = *relay;
  s->pfd = -1;
  if (!(s->ev = event_new(t->evb, -1, 0, on_stream_kick, s))) {
    free(s);
    return NULL;
  }
  s->next = t->streams;
  t->streams = s;
  t->nstreams++;
  return s;
}

static rstream_t *
stream_find(nn_relaynode_t *t, uint64_t conn, uint32_t cid)
{
  for (rstream_t *s = t->streams; s; s = s->next)
    if (s->outer == conn && s->cid == cid && !s->closed && s->state != S_WAIT)
      return s;
  return NULL;
}

static uint32_t
pick_cid(nn_relaynode_t *t, uint64_t conn)
{
  for (;;) {
    t->next_cid = (t->next_cid + 1) & ~(NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED);
    if (t->next_cid && !stream_find(t, conn, t->next_cid))
      return t->next_cid;
  }
}

static void
send_connect(rstream_t *s)
{
  uint8_t m[NN_RELAY_CONNECT_LEN];
  s->cid = pick_cid(s->t, s->outer);
  nn_rlmsg_connect(m, s->cid, &s->target);
  if (nn_net_send(s->t->net, s->outer, m, sizeof(m)) != NN_OK) {
    s->t->st.dial_failed++;
    nn_rn_stream_end(s, NN_STREAM_REFUSED, EHOSTUNREACH);
    return;
  }
  s->state = S_CONNECTING;
}

/* Our channel to the relay is \a conn (established or not). */
static void
stream_use_outer(rstream_t *s, uint64_t conn)
{
  nn_net_conn_info_t ci;
  s->outer = conn;
  s->held = 1;
  nn_rn_hold(s->t, conn, 1);
  if (nn_net_conn_info(s->t->net, conn, &ci) && ci.established && !ci.closing)
    send_connect(s);
}

static void
dial_relay_for(nn_relaynode_t *t, const nn_node_id_t *relay, const nn_peer_record_t *rec)
{
  for (rstream_t *s = t->streams; s; s = s->next) {
    uint64_t c;
    if (s->state != S_WAIT || s->outer || s->closed || memcmp(s->relay.b, relay->b, NN_NODE_ID_LEN))
      continue;
    s->resolving = 0;
    if ((c = nn_net_find(t->net, relay, 0))) {
      stream_use_outer(s, c);
      continue;
    }
    for (size_t i = 0; rec && i < rec->n_addrs && !c; i++)
      if ((rec->addrs[i].type == NN_ADDR_IPV4 || rec->addrs[i].type == NN_ADDR_IPV6) &&
          nn_net_dial(t->net, t->proto, &rec->addrs[i], relay, &c) != NN_OK)
        c = 0;
    if (c) {
      stream_use_outer(s, c);
    } else {
      t->st.dial_failed++;
      nn_rn_stream_end(s, NN_STREAM_REFUSED, EHOSTUNREACH);
    }
  }
}

static void
on_found(void *ctx, const nn_node_id_t *id, const nn_peer_record_t *rec)
{
  nn_relaynode_t *t = ctx;
  if (!t->detached)
    dial_relay_for(t, id, rec);
}

/* A dial waits for its channel to the relay: find one, else the relay's record, else fail. */
static void
stream_wait_step(rstream_t *s)
{
  nn_relaynode_t *t = s->t;
  uint64_t c;
  if (s->outer || s->resolving)
    return;
  if ((c = nn_net_find(t->net, &s->relay, 0))) {
    stream_use_outer(s, c);
    return;
  }
  /* a relay we reserve at, or a configured one, has an address without a lookup */
  for (size_t i = 0; i < t->ncfgrelays; i++)
    if (!memcmp(t->cfgrelays[i].id.b, s->relay.b, NN_NODE_ID_LEN) &&
        nn_net_dial(t->net, t->proto, &t->cfgrelays[i].addr, &s->relay, &c) == NN_OK) {
      stream_use_outer(s, c);
      return;
    }
  s->resolving = 1;
  if (nn_disco_find(t->disco, &s->relay, on_found, t) != NN_OK) {
    s->resolving = 0;
    t->st.dial_failed++;
    nn_rn_stream_end(s, NN_STREAM_REFUSED, EAGAIN);
  }
}

static void
send_credit(rstream_t *s, size_t n)
{
  uint8_t m[NN_RELAY_CREDIT_LEN];
  if (s->state != S_OPEN || s->t->detached || !n)
    return;
  nn_rlmsg_credit(m, s->cid, (uint32_t)n);
  (void)nn_net_send(s->t->net, s->outer, m, sizeof(m));
}

static void
stream_step(rstream_t *s)
{
  nn_relaynode_t *t = s->t;
  if (s->state == S_WAIT)
    stream_wait_step(s);
  if (s->pending_accept) {
    s->pending_accept = 0;
    if (s->state != S_ACCEPTING)
      return;
    if (!t->base.host.accept(t->base.host.ctx, &s->base)) {
      /* refused: the manager forgets it; we close it ourselves */
      t->st.refused++;
      send_end(s, NN_RELAY_END_REFUSED);
      s->closed = 1;
      return;
    }
    if (s->closed)
      return;
    uint8_t m[NN_RELAY_ACCEPT_LEN];
    nn_rlmsg_accept(m, s->cid);
    if (nn_net_send(t->net, s->outer, m, sizeof(m)) != NN_OK) {
      nn_rn_stream_end(s, NN_STREAM_ERROR, ECONNRESET);
      return;
    }
    s->state = S_OPEN;
    s->send_credit = NN_RELAY_WINDOW;
    t->st.accepted++;
  }
  if (s->pending_open && s->base.ev) {
    s->pending_open = 0;
    s->base.ev->on_open(s->base.ctx);
    if (s->closed)
      return;
  }
  while (s->want_read && s->rx_len && s->base.ev) {
    size_t n = s->rx_len;
    s->rx_len = 0; /* taken as a whole, as a socket read would be */
    s->base.ev->on_data(s->base.ctx, s->rx, n);
    if (s->closed)
      return;
    send_credit(s, n);
  }
  if (s->tx_switched || s->rx_shut)
    nn_punch_arm(s);
  if (s->want_write && s->write_blocked && s->send_credit && !s->tx_switched && s->state == S_OPEN && s->base.ev) {
    s->write_blocked = 0;
    s->base.ev->on_writable(s->base.ctx);
    if (s->closed)
      return;
  }
  if (s->pending_end && !s->end_reported && !s->rx_len && s->base.ev) {
    s->end_reported = 1;
    s->base.ev->on_end(s->base.ctx, s->end_how, s->end_errno);
  }
}

static void
on_stream_kick(evutil_socket_t fd, short what, void *arg)
{
  rstream_t *s = arg;
  (void)fd;
  (void)what;
  s->kicked = 0;
  s->in_cb = 1;
  stream_step(s);
  s->in_cb = 0;
  if (s->closed)
    stream_release(s);
}

void
nn_rn_stream_release(rstream_t *s)
{
  stream_release(s);
}

void
nn_rn_stream_kick(rstream_t *s)
{
  if (s->kicked || s->closed)
    return;
  s->kicked = 1;
  event_active(s->ev, EV_TIMEOUT, 0);
}

/* ---- the transport ---- */

static int
tr_can_dial(nn_transport_t *bt, const nn_addr_t *a)
{
  nn_relaynode_t *t = (nn_relaynode_t *)bt;
  return a->type == NN_ADDR_RELAY && !t->detached;
}

static nn_err_t
tr_dial(nn_transport_t *bt, const nn_addr_t *to, const nn_node_id_t *id, nn_stream_t **out)
{
  nn_relaynode_t *t = (nn_relaynode_t *)bt;
  nn_node_id_t relay;
  rstream_t *s;
  *out = NULL;
  if (to->type != NN_ADDR_RELAY || !id || t->detached)
    return NN_ERR_ARG;
  memcpy(relay.b, to->host, NN_NODE_ID_LEN);
  if (!memcmp(relay.b, id->b, NN_NODE_ID_LEN) || !memcmp(relay.b, nn_disco_node_id(t->disco)->b, NN_NODE_ID_LEN))
    return NN_ERR_ARG; /* a node is not reached through itself, nor through us */
  if (t->nstreams >= t->cfg.max_streams) {
    errno = EMFILE;
    return NN_ERR_IO;
  }
  if (!(s = stream_new(t, &relay, 0)))
    return NN_ERR_NOMEM;
  s->target = *id;
  s->state = S_WAIT;
  nn_rn_stream_kick(s); /* the work starts from the loop: nothing calls back from inside a dial */
  *out = &s->base;
  return NN_OK;
}

static nn_err_t
tr_listen(nn_transport_t *bt, const char *bind, nn_addr_t *bound, char *why, size_t why_len)
{
  (void)bt;
  (void)bind;
  (void)bound;
  if (why)
    snprintf(why, why_len, "the relay transport is reached through reservations, not a listen address");
  return NN_ERR_ARG;
}

static ssize_t
tr_write(nn_stream_t *bs, const uint8_t *d, size_t n)
{
  rstream_t *s = (rstream_t *)bs;
  uint8_t m[5 + NN_RELAY_MAX_DATA];
  size_t taken = 0;
  if (s->state != S_OPEN || s->t->detached) {
    errno = s->state == S_DONE ? EPIPE : ENOTCONN;
    return -1;
  }
  if (s->tx_switched)
    return nn_punch_write(s, d, n);
  while (taken < n && s->send_credit) {
    size_t c = n - taken;
    if (c > NN_RELAY_MAX_DATA)
      c = NN_RELAY_MAX_DATA;
    if (c > s->send_credit)
      c = (size_t)s->send_credit;
    nn_rlmsg_data_head(m, s->cid);
    memcpy(m + 5, d + taken, c);
    if (nn_net_send(s->t->net, s->outer, m, 5 + c) != NN_OK) {
      if (taken)
        break;
      errno = EPIPE;
      return -1;
    }
    s->send_credit -= c;
    s->t->st.bytes_out += c;
    taken += c;
  }
  if (taken < n)
    s->write_blocked = 1;
  return (ssize_t)taken;
}

static void
tr_want(nn_stream_t *bs, int read, int write)
{
  rstream_t *s = (rstream_t *)bs;
  s->want_read = read;
  s->want_write = write;
  nn_punch_arm(s);
  if ((read && s->rx_len) || (write && s->write_blocked && s->send_credit) || s->pending_open ||
      (s->pending_end && !s->end_reported))
    nn_rn_stream_kick(s);
}

static void
tr_shutdown(nn_stream_t *bs)
{
  rstream_t *s = (rstream_t *)bs;
  /* END closes both directions at the relay: what the peer sends after it is lost, which is
   * fine after our CLOSE record (the manager only lingers for the peer's end) */
  if (s->tx_switched) {
    nn_punch_shutdown(s); /* the peer's end follows on the socket */
    return;
  }
  if (s->state == S_OPEN) {
    send_end(s, NN_RELAY_END_NORMAL);
    nn_rn_stream_end(s, NN_STREAM_EOF, 0);
  }
}

static void
tr_close(nn_stream_t *bs, int reset)
{
  rstream_t *s = (rstream_t *)bs;
  (void)reset;
  if ((s->state == S_CONNECTING || s->state == S_OPEN || s->state == S_ACCEPTING) && !(s->tx_switched && s->rx_shut))
    send_end(s, NN_RELAY_END_NORMAL); /* the circuit is still there (both SHUTs free it) */
  s->state = S_DONE;
  s->base.ev = NULL; /* no callback after close */
  s->closed = 1;
  if (!s->in_cb)
    stream_release(s);
}

static void
detach(nn_relaynode_t *t)
{
  if (t->detached)
    return;
  if (t->registered)
    nn_net_unregister(t->net, t->proto);
  t->registered = 0;
  t->detached = 1;
  if (t->ev_tick)
    event_free(t->ev_tick);
  t->ev_tick = NULL;
  nn_relay_free(t->relay);
  t->relay = NULL;
}

static void
tr_free(nn_transport_t *bt)
{
  nn_relaynode_t *t = (nn_relaynode_t *)bt;
  detach(t);
  while (t->streams) {
    rstream_t *s = t->streams;
    s->held = 0;
    s->in_cb = 0;
    s->claimed = 0; /* the TCP transport may be gone already: no claims to take back */
    stream_release(s);
  }
  free(t->holds);
  free(t->cfgrelays);
  free(t);
}

/* ---- reservations (the client role) ---- */

static void
publish_relays(nn_relaynode_t *t)
{
  nn_addr_t a[NN_RELAYNODE_MAX_RESV];
  size_t n = 0;
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++)
    if (t->resv[i].state == R_HELD)
      a[n++] = nn_addr_overlay(NN_ADDR_RELAY, t->resv[i].relay.b, 0);
  t->st.reservations = (uint32_t)n;
  nn_disco_set_relayed(t->disco, a, n, t->cfg.service);
}

static unsigned
resv_count(const nn_relaynode_t *t)
{
  unsigned n = 0;
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++)
    n += t->resv[i].state != R_NONE;
  return n;
}

static resv_t *
resv_at(nn_relaynode_t *t, const nn_node_id_t *relay)
{
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++)
    if (t->resv[i].state != R_NONE && !memcmp(t->resv[i].relay.b, relay->b, NN_NODE_ID_LEN))
      return &t->resv[i];
  return NULL;
}

static resv_t *
resv_on(nn_relaynode_t *t, uint64_t conn)
{
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++)
    if (t->resv[i].state != R_NONE && t->resv[i].conn == conn)
      return &t->resv[i];
  return NULL;
}

static int
tried(const nn_relaynode_t *t, uint64_t conn)
{
  for (size_t i = 0; i < t->ntried; i++)
    if (t->tried[i] == conn)
      return 1;
  return 0;
}

static int
is_cfg_relay(const nn_relaynode_t *t, const nn_node_id_t *id)
{
  for (size_t i = 0; i < t->ncfgrelays; i++)
    if (!memcmp(t->cfgrelays[i].id.b, id->b, NN_NODE_ID_LEN))
      return 1;
  return 0;
}

/* Ask the peer of \a c for a reservation, if we want one more and have not asked it. */
static void
maybe_reserve(nn_relaynode_t *t, const nn_net_conn_info_t *c)
{
  uint8_t m[NN_RELAY_RESERVE_LEN];
  resv_t *v = NULL;
  if (!t->cfg.reserve || !c->established || c->closing || !c->has_id || resv_on(t, c->conn) || resv_at(t, &c->id) ||
      tried(t, c->conn))
    return; /* one reservation per relay, however many channels we have to it */
  if (!is_cfg_relay(t, &c->id) && (c->inbound || resv_count(t) >= t->cfg.want_relays))
    return; /* a peer that dialled us may not be reachable by others: ask those we reached */
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV && !v; i++)
    if (t->resv[i].state == R_NONE)
      v = &t->resv[i];
  if (!v || t->ntried == TRIED_MAX)
    return;
  t->tried[t->ntried++] = c->conn;
  memset(v, 0, sizeof(*v));
  v->state = R_ASKED;
  v->conn = c->conn;
  v->relay = c->id;
  v->addr = c->addr;
  nn_rlmsg_reserve(m);
  if (nn_net_send(t->net, c->conn, m, sizeof(m)) != NN_OK)
    v->state = R_NONE;
}

static void
each_maybe_reserve(void *ctx, const nn_net_conn_info_t *c)
{
  maybe_reserve(ctx, c);
}

static void
on_reserved(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  resv_t *v = resv_on(t, conn);
  char hex[17];
  uint64_t now = nn_mono_ms();
  if (!v)
    return; /* not asked (or given up): nothing to do */
  nn_hex_encode(hex, v->relay.b, 8);
  if (m->status != NN_RELAY_OK || !m->ttl_s) {
    if (v->state == R_HELD)
      nn_rn_hold(t, conn, 0);
    v->state = R_NONE;
    t->st.reserve_refused++;
    nn_rn_log(t, NN_LOG_DEBUG, "no reservation at %s: %s", hex, nn_relay_status_str((nn_relay_status_t)m->status));
    publish_relays(t);
    return;
  }
  if (v->state != R_HELD) {
    nn_rn_hold(t, conn, 1);
    nn_rn_log(t, NN_LOG_INFO, "reachable through relay %s for %u s (circuits: %u, %llu bytes, %u s, %u bytes/s each)",
              hex, m->ttl_s, m->max_circuits, (unsigned long long)m->circuit_bytes, m->circuit_s, m->rate);
  }
  v->state = R_HELD;
  v->expires_ms = now + (uint64_t)m->ttl_s * 1000;
  v->renew_ms = now + (uint64_t)m->ttl_s * 500;
  v->max_circuits = m->max_circuits;
  v->circuit_bytes = m->circuit_bytes;
  v->circuit_s = m->circuit_s;
  v->rate = m->rate;
  publish_relays(t);
}

/* The relay says where our channel to it comes from: the address a hole punch can reach. */
static void
on_observed(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  resv_t *v = resv_on(t, conn);
  nn_autonat_observed(t, &m->addr);
  if (v)
    v->observed = m->addr;
  for (rstream_t *s = t->streams; s; s = s->next)
    if (s->outer == conn && s->state == S_CONNECTING && !s->closed)
      s->observed = m->addr;
}

void
nn_rn_became_public(nn_relaynode_t *t, const nn_addr_t *a)
{
  /* peers reached us: publish the address and relay for others. Our reservations stay: a NAT
   * that filters by address lets in the peers we contacted (those that dialled us back) and no
   * one else, and dial-back cannot tell it from an open one; the relay address stays next to
   * the direct one for those others (PROTOCOL.md 10.6) */
  nn_disco_set_advertised(t->disco, a);
  t->cfg.service = 1;
  if (t->relay)
    nn_relay_set_service(t->relay, 1);
  publish_relays(t);
}

void
nn_rn_became_private(nn_relaynode_t *t)
{
  nn_disco_set_advertised(t->disco, NULL);
  t->cfg.service = 0;
  if (t->relay)
    nn_relay_set_service(t->relay, 0);
  publish_relays(t);
}

static void
on_incoming(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  resv_t *v = resv_on(t, conn);
  uint32_t cid = m->cid & ~NN_RELAY_CID_FROM_RELAY;
  rstream_t *s;
  uint8_t e[NN_RELAY_END_LEN];
  if (!v || v->state != R_HELD || t->nstreams >= t->cfg.max_streams || stream_find(t, conn, cid) ||
      !(s = stream_new(t, &v->relay, 1))) {
    t->st.refused++;
    nn_rlmsg_end(e, cid, NN_RELAY_END_REFUSED);
    (void)nn_net_send(t->net, conn, e, sizeof(e));
    return;
  }
  s->state = S_ACCEPTING;
  s->observed = v->observed;
  s->outer = conn;
  s->held = 1;
  nn_rn_hold(t, conn, 1);
  s->cid = cid;
  s->pending_accept = 1;
  nn_rn_stream_kick(s); /* the manager hears of it from the loop, not from inside its own dispatch */
}

static void
relay_broke(nn_relaynode_t *t, rstream_t *s, const char *why)
{
  t->st.violations++;
  nn_net_penalize(t->net, s->outer, 10, why);
  send_end(s, NN_RELAY_END_VIOLATION);
  nn_rn_stream_end(s, NN_STREAM_ERROR, EPROTO);
}

static void
on_circuit(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  rstream_t *s = stream_find(t, conn, m->cid & ~NN_RELAY_CID_FROM_RELAY);
  if (!s || s->state == S_DONE)
    return; /* ended while this was on its way */
  switch (m->kind) {
  case NN_RLMSG_ACCEPT:
    if (s->state != S_CONNECTING) {
      relay_broke(t, s, "relay: ACCEPT out of order");
      return;
    }
    s->state = S_OPEN;
    s->send_credit = NN_RELAY_WINDOW;
    s->pending_open = 1;
    t->st.dialled++;
    nn_rn_stream_kick(s);
    return;
  case NN_RLMSG_SHUT:
    if (s->state != S_OPEN || s->rx_shut || s->punch == P_NONE) {
      relay_broke(t, s, "relay: SHUT on a circuit that was not punched");
      return;
    }
    nn_punch_rx_shut(s);
    return;
  case NN_RLMSG_DATA:
    if (s->state != S_OPEN || s->rx_shut || s->rx_len + m->data_len > NN_RELAY_WINDOW) {
      relay_broke(t, s, "relay: DATA beyond the window");
      return;
    }
    if (!s->rx && !(s->rx = malloc(NN_RELAY_WINDOW))) {
      send_end(s, NN_RELAY_END_NORMAL);
      nn_rn_stream_end(s, NN_STREAM_ERROR, ENOMEM);
      return;
    }
    memcpy(s->rx + s->rx_len, m->data, m->data_len);
    s->rx_len += m->data_len;
    t->st.bytes_in += m->data_len;
    if (s->want_read)
      nn_rn_stream_kick(s);
    return;
  case NN_RLMSG_CREDIT:
    if (s->state != S_OPEN || s->send_credit + m->credit > NN_RELAY_WINDOW) {
      relay_broke(t, s, "relay: CREDIT beyond the window");
      return;
    }
    s->send_credit += m->credit;
    if (s->want_write && s->write_blocked)
      nn_rn_stream_kick(s);
    return;
  case NN_RLMSG_END:
    if (s->state == S_CONNECTING || s->state == S_ACCEPTING) {
      t->st.dial_failed += s->state == S_CONNECTING;
      nn_rn_log(t, NN_LOG_DEBUG, "circuit refused: %s", nn_relay_end_str((nn_relay_end_t)m->reason));
      nn_rn_stream_end(s, NN_STREAM_REFUSED, ECONNREFUSED);
    } else {
      nn_rn_stream_end(s, NN_STREAM_EOF, 0);
    }
    return;
  default: return;
  }
}

/* ---- the tenant ---- */

static void
on_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_relaynode_t *t = ctx;
  for (rstream_t *s = t->streams; s; s = s->next)
    if (s->state == S_WAIT && s->outer == conn && !s->closed)
      send_connect(s);
  if (info->stream && info->stream->t == &t->base) {
    rstream_t *s = (rstream_t *)info->stream;
    nn_punch_up(s, conn); /* a channel through one of our circuits: try to go direct */
  }
  nn_autonat_up(t, conn);
  maybe_reserve(t, info);
}

static void
on_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_relaynode_t *t = ctx;
  nn_rlmsg_t m;
  if (nn_relay_owns(msg, len)) {
    nn_net_conn_info_t ci;
    uint64_t now = nn_mono_ms();
    if (!nn_net_conn_info(t->net, conn, &ci))
      return;
    nn_relay_input(t->relay, conn, ci.has_id ? &ci.id : NULL, &ci.addr, msg, len, now);
    relay_ticked(t, now);
    return;
  }
  if (nn_rlmsg_parse(&m, msg, len) != NN_OK) {
    t->st.violations++;
    nn_net_penalize(t->net, conn, 10, "relay: malformed message");
    return;
  }
  switch (m.kind) {
  case NN_RLMSG_RESERVED: on_reserved(t, conn, &m); break;
  case NN_RLMSG_INCOMING: on_incoming(t, conn, &m); break;
  case NN_RLMSG_OBSERVED: on_observed(t, conn, &m); break;
  case NN_RLMSG_PUNCH:
  case NN_RLMSG_SYNC: nn_punch_msg(t, conn, &m); break;
  case NN_RLMSG_DIALBACK:
  case NN_RLMSG_DIALBACK_RESULT: nn_autonat_msg(t, conn, &m); break;
  case NN_RLMSG_RESERVE:
  case NN_RLMSG_CONNECT: break; /* nn_relay_owns took them */
  default: on_circuit(t, conn, &m); break;
  }
}

static void
on_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_relaynode_t *t = ctx;
  int changed = 0;
  (void)info;
  if (t->relay)
    nn_relay_down(t->relay, conn, nn_mono_ms());
  nn_autonat_down(t, conn);
  for (rstream_t *s = t->streams; s; s = s->next) {
    if (s->outer != conn || s->closed)
      continue;
    s->held = 0; /* the hold went with the channel */
    if (s->tx_switched && s->rx_shut) {
      s->outer = 0; /* the stream left the circuit: the relay's channel is not ours to miss */
      continue;
    }
    if (s->state == S_WAIT || s->state == S_CONNECTING)
      t->st.dial_failed++;
    nn_rn_stream_end(s, s->state == S_OPEN ? NN_STREAM_ERROR : NN_STREAM_REFUSED,
                     s->state == S_OPEN ? ECONNRESET : EHOSTUNREACH);
    s->outer = 0;
  }
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++)
    if (t->resv[i].state != R_NONE && t->resv[i].conn == conn) {
      changed |= t->resv[i].state == R_HELD;
      t->resv[i].state = R_NONE;
    }
  for (size_t i = 0; i < t->ntried; i++)
    if (t->tried[i] == conn) {
      t->tried[i--] = t->tried[--t->ntried];
    }
  holds_forget(t, conn);
  if (changed) {
    nn_rn_log(t, NN_LOG_INFO, "lost a relay reservation (the channel closed): looking for another");
    publish_relays(t);
  }
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
  nn_relaynode_t *t = arg;
  uint64_t now = nn_mono_ms();
  (void)fd;
  (void)what;
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++) {
    resv_t *v = &t->resv[i];
    uint8_t m[NN_RELAY_RESERVE_LEN];
    if (v->state != R_HELD)
      continue;
    if (now >= v->expires_ms) {
      nn_rn_hold(t, v->conn, 0);
      v->state = R_NONE;
      publish_relays(t);
    } else if (now >= v->renew_ms) {
      v->renew_ms = v->expires_ms; /* once; the answer sets the next */
      nn_rlmsg_reserve(m);
      (void)nn_net_send(t->net, v->conn, m, sizeof(m));
    }
  }
  if (t->cfg.reserve) {
    /* configured relays: a channel to each (the reservation follows on_up) */
    for (size_t i = 0; i < t->ncfgrelays; i++) {
      cfgrelay_t *r = &t->cfgrelays[i];
      if (now < r->next_dial_ms || nn_net_find(t->net, &r->id, 0))
        continue;
      r->next_dial_ms = now + 10000;
      (void)nn_net_dial(t->net, t->proto, &r->addr, &r->id, NULL);
    }
    if (resv_count(t) < t->cfg.want_relays)
      nn_net_each(t->net, each_maybe_reserve, t);
  }
  nn_autonat_tick(t, now);
  relay_ticked(t, now);
}

/* ---- life ---- */

static nn_err_t
parse_relays(nn_relaynode_t *t, const nn_relaynode_cfg_t *cfg, char *why, size_t why_len)
{
  if (!cfg->n_relays)
    return NN_OK;
  if (!(t->cfgrelays = calloc(cfg->n_relays, sizeof(*t->cfgrelays))))
    return NN_ERR_NOMEM;
  for (size_t i = 0; i < cfg->n_relays; i++) {
    int has_id = 0;
    cfgrelay_t *r = &t->cfgrelays[t->ncfgrelays];
    if (nn_disco_parse_peer(cfg->relays[i], &r->addr, &r->id, &has_id) != NN_OK || !has_id ||
        (r->addr.type != NN_ADDR_IPV4 && r->addr.type != NN_ADDR_IPV6)) {
      snprintf(why, why_len, "relay '%s' is not NODEID@HOST:PORT (a relay is known by its node id and address)",
               cfg->relays[i]);
      return NN_ERR_FORMAT;
    }
    t->ncfgrelays++;
  }
  return NN_OK;
}

nn_err_t
nn_relaynode_new(nn_relaynode_t **out, nn_net_t *net, nn_disco_t *disco, const nn_relaynode_cfg_t *cfg, char *why,
                 size_t why_len)
{
  nn_relaynode_t *t;
  nn_err_t e;
  char dummy[8];
  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  *out = NULL;
  if (!net || !disco)
    return NN_ERR_ARG;
  if (cfg->want_relays > NN_RELAYNODE_MAX_RESV) {
    snprintf(why, why_len, "relays to hold must be 0..%d, got %u", NN_RELAYNODE_MAX_RESV, cfg->want_relays);
    return NN_ERR_ARG;
  }
  if (!(t = calloc(1, sizeof(*t))))
    return NN_ERR_NOMEM;
  t->net = net;
  t->disco = disco;
  t->evb = nn_net_base(net);
  t->cfg = *cfg;
  t->cfg.relays = NULL;
  t->cfg.n_relays = 0;
  t->log = cfg->log ? cfg->log : nn_net_log(net);
  t->base.name = "relay";
  t->base.peer_addrs = 0; /* every circuit comes from the relay: the manager's global caps apply */
  t->base.can_dial = tr_can_dial;
  t->base.dial = tr_dial;
  t->base.listen = tr_listen;
  t->base.write = tr_write;
  t->base.want = tr_want;
  t->base.shutdown = tr_shutdown;
  t->base.close = tr_close;
  t->base.free = tr_free;
  nn_relay_io_t io = { io_send, io_hold, io_penalize, t };
  if ((e = parse_relays(t, cfg, why, why_len)) || (e = nn_relay_new(&t->relay, cfg->service, &cfg->limits, &io))) {
    if (e == NN_ERR_ARG)
      snprintf(why, why_len, "relay limits out of range (reservations <= 65536, circuits <= 65535, rate > 0)");
    nn_relay_free(t->relay);
    free(t->cfgrelays);
    free(t);
    return e;
  }
  if (!(t->ev_tick = evtimer_new(t->evb, on_tick, t))) {
    nn_relay_free(t->relay);
    free(t->cfgrelays);
    free(t);
    return NN_ERR_NOMEM;
  }
  if ((e = nn_net_add_transport(net, &t->base)))
    return e; /* the manager freed it (tr_free) */
  /* from here on the manager owns t (as a transport): failures detach it */
  nn_net_proto_t p = { "relay", NN_RLMSG_RESERVE, NN_RLMSG_LAST, on_up, on_message, on_down, t, NULL };
  if ((e = nn_net_register(net, &p, &t->proto))) {
    snprintf(why, why_len, "cannot register the relay protocol: %s", nn_err_str(e));
    detach(t);
    return e;
  }
  t->registered = 1;
  if (!cfg->autonat) {
    t->an.state = cfg->service ? NN_REACH_FIXED : NN_REACH_UNKNOWN;
    snprintf(t->an.why, sizeof(t->an.why), "%s",
             cfg->service           ? "an advertised address was configured: not asked"
             : cfg->punch_from.port ? "dial-back is off"
                                    : "no listener: reached through relays only");
  }
  publish_relays(t);
  schedule_tick(t, nn_mono_ms(), 0);
  *out = t;
  return NN_OK;
}

void
nn_relaynode_free(nn_relaynode_t *rn)
{
  if (rn)
    detach(rn);
}

void
nn_relaynode_stats(const nn_relaynode_t *rn, nn_relaynode_stats_t *out)
{
  *out = rn->st;
  out->streams = rn->nstreams;
  if (rn->relay)
    nn_relay_stats(rn->relay, &out->relay);
}

size_t
nn_relaynode_resvs(const nn_relaynode_t *rn, nn_relaynode_resv_t *out, size_t max)
{
  size_t n = 0;
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV && n < max; i++) {
    const resv_t *v = &rn->resv[i];
    if (v->state != R_HELD)
      continue;
    out[n].relay = v->relay;
    out[n].addr = v->addr;
    out[n].expires_ms = v->expires_ms;
    out[n].max_circuits = v->max_circuits;
    out[n].circuit_s = v->circuit_s;
    out[n].rate = v->rate;
    out[n].circuit_bytes = v->circuit_bytes;
    n++;
  }
  return n;
}
