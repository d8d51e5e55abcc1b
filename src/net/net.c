/*
 * The connection manager (net.h): transports, admission, tenants and their message kinds,
 * dialling, holds and the idle cap. The channel over each stream is driven by conn.c.
 */
#include "net/net_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/clock.h"
#include "transport/cookie.h"

#define MAINT_MS 1000

const char *
nn_net_close_reason_str(nn_close_reason_t r)
{
  switch ((int)r) {
  case 32: return "the peer ended the stream without a CLOSE record";
  case 33: return "stream error";
  case 34: return "connect failed";
  default: return nn_close_reason_str(r);
  }
}

void
nn_net_limits_default(nn_net_limits_t *l)
{
  memset(l, 0, sizeof(*l));
  l->max_conns = 1024;
  l->max_half_open = 256;
  l->max_half_open_per_group = 32;
  l->msg1_timeout_ms = 4000;
  l->load_half_open = 32;
  l->max_per_ip = 8;
  l->ip_rate = 20.0;
  l->ip_burst = 5;
  l->max_tracked_ips = 4096;
  l->handshake_timeout_ms = NN_CHAN_DEFAULT_HS_TIMEOUT_MS;
}

void
nn_net_cfg_default(nn_net_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->network = NN_NET_MAINNET;
  cfg->handshake_timeout_ms = NN_CHAN_DEFAULT_HS_TIMEOUT_MS;
  cfg->linger_ms = 2000;
  cfg->max_output = 1u << 20;
  cfg->max_output_hard = 16u << 20;
  cfg->output_budget = 24u << 20; /* the node's worst case: docs/ARCHITECTURE.md, Memory budgets */
  cfg->reassembly_budget = 32u << 20;
  cfg->backlog_budget = 16u << 20;
  cfg->stall_ms = 30000;
  cfg->min_out_rate = 16u << 10;
  cfg->message_ms = 120000;
  cfg->idle_inbound_ms = 120000;
  cfg->max_idle_outbound = 64;
  cfg->idle_ms = 2000;
  cfg->queue_max = 64;
  nn_net_limits_default(&cfg->limits);
}

/* ---- the channel table ---- */

static nn_conn_t *
by_serial(const nn_net_t *n, uint64_t serial)
{
  if (!serial)
    return NULL;
  for (nn_conn_t *c = n->ht[serial & n->ht_mask]; c; c = c->hnext)
    if (c->serial == serial)
      return c;
  return NULL;
}

/* Serials count up, so the low bits spread channels evenly without a hash. */
static int
ht_grow(nn_net_t *n)
{
  size_t nb = (n->ht_mask + 1) * 2;
  nn_conn_t **ht = calloc(nb, sizeof(*ht));
  if (!ht)
    return 0;
  for (nn_conn_t *c = n->conns; c; c = c->next) {
    c->hnext = ht[c->serial & (nb - 1)];
    ht[c->serial & (nb - 1)] = c;
  }
  free(n->ht);
  n->ht = ht;
  n->ht_mask = nb - 1;
  return 1;
}

static void
link_conn(nn_net_t *n, nn_conn_t *c)
{
  if (n->nconns >= 2 * (n->ht_mask + 1))
    (void)ht_grow(n); /* on failure the chains just grow longer */
  c->serial = ++n->next_serial;
  c->next = n->conns;
  if (n->conns)
    n->conns->prev = c;
  n->conns = c;
  c->hnext = n->ht[c->serial & n->ht_mask];
  n->ht[c->serial & n->ht_mask] = c;
  n->nconns++;
  n->st.conns++;
  if (c->inbound)
    n->st.inbound++;
}

void
nn_net_unlink(nn_net_t *n, nn_conn_t *c)
{
  nn_conn_t **pp = &n->ht[c->serial & n->ht_mask];
  while (*pp && *pp != c)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = c->hnext;
  if (c->prev)
    c->prev->next = c->next;
  else
    n->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  n->nconns--;
  n->st.conns--;
  if (c->inbound)
    n->st.inbound--;
  if (c->evicting)
    n->evicting--;
  c->evicting = 0;
  if (c->counted_half_open)
    n->st.half_open--;
  if (c->counted_open)
    n->st.open--;
}

static nn_conn_t *
live(const nn_net_t *n, uint64_t serial)
{
  nn_conn_t *c = by_serial(n, serial);
  return c && !c->reported && !c->close_requested && c->state != C_DEAD ? c : NULL;
}

/* ---- the kick: deferred settling and upkeep, from the event loop ---- */

void
nn_net_kick(nn_net_t *n)
{
  if (!n->kicked && !n->freeing) {
    n->kicked = 1;
    event_active(n->ev_kick, EV_TIMEOUT, 0);
  }
}

static void
trim_idle(nn_net_t *n)
{
  uint64_t now = nn_mono_ms();
  size_t count = 0;
  for (nn_conn_t *c = n->conns; c; c = c->next)
    count += !c->inbound && !c->holds && !c->close_requested && !c->reported;
  while (count > n->cfg.max_idle_outbound) {
    nn_conn_t *victim = NULL;
    for (nn_conn_t *c = n->conns; c; c = c->next)
      if (!c->inbound && !c->holds && c->state == C_OPEN && !c->close_requested && !c->reported && !c->qn &&
          now - c->last_used_ms >= n->cfg.idle_ms && (!victim || c->last_used_ms < victim->last_used_ms))
        victim = c;
    if (!victim)
      return; /* all busy: over the cap for now, trimmed on a later round */
    victim->close_requested = 1;
    victim->dirty = 1;
    n->st.trimmed++;
    count--;
    nn_net_kick(n);
  }
}

/* A handshake that is being closed is no longer under way: its half-open slot is free at once. A
 * burst of accepts evicts many before the event loop gets to closing them, and if they still
 * counted the cap would refuse the honest newcomers among the burst (the hostile suite's garbage
 * attack); what they hold until they are gone is bounded apart (make_room). */
void
nn_net_uncount_half_open(nn_net_t *n, nn_conn_t *c)
{
  if (!c->counted_half_open)
    return;
  c->counted_half_open = 0;
  n->st.half_open--;
}

void
nn_net_mark_close(nn_net_t *n, nn_conn_t *c, nn_close_reason_t reason)
{
  if (c->close_requested || c->reported || c->state == C_DEAD)
    return;
  c->close_requested = 1;
  c->close_with = reason;
  c->dirty = 1;
  nn_conn_account(c); /* a closing channel counts nothing: the budgets see the room at once */
  nn_net_uncount_half_open(n, c);
  if (!c->busy)
    nn_conn_backlog_drop(c);
  nn_net_kick(n);
}

void
nn_net_resume(nn_net_t *n)
{
  for (nn_conn_t *c = n->conns; c; c = c->next)
    if (c->state == C_OPEN && !c->close_requested && !c->reported) {
      c->dirty = 1; /* settle re-arms reading and delivers what waited */
      nn_net_kick(n);
    }
}

static void
log_close(nn_net_t *n, const nn_conn_t *c, const char *why)
{
  char a[NN_ADDR_STR_MAX];
  if (!nn_log_enabled(n->cfg.log, NN_LOG_DEBUG))
    return;
  nn_addr_format(&c->addr, a);
  nn_log(n->cfg.log, NN_LOG_DEBUG, "net", "closing channel %llu with %s: %s", (unsigned long long)c->serial, a, why);
}

void
nn_net_enforce_budgets(nn_net_t *n)
{
  /* Over the reassembly budget: the oldest partial message goes. An honest sender finishes a
   * message quickly; one that trickles fragments to hold memory is the oldest. */
  while (n->st.reassembly > n->cfg.reassembly_budget) {
    nn_conn_t *v = NULL;
    for (nn_conn_t *c = n->conns; c; c = c->next)
      if (c->part_acct && (!v || c->part_since_ms < v->part_since_ms))
        v = c;
    if (!v)
      break;
    n->st.evicted_reassembly++;
    log_close(n, v, "over the node's budget for partial messages (oldest)");
    nn_net_mark_close(n, v, NN_CLOSE_SLOW);
  }
  /* Over the backlog budget: the channel with the most unread requests goes. */
  while (n->st.backlog > n->cfg.backlog_budget) {
    nn_conn_t *v = NULL;
    for (nn_conn_t *c = n->conns; c; c = c->next)
      if (c->bbytes && !c->close_requested && !c->reported && (!v || c->bbytes > v->bbytes))
        v = c;
    if (!v)
      break;
    n->st.evicted_backlog++;
    log_close(n, v, "over the node's budget for requests waiting on unread replies (largest)");
    size_t before = n->st.backlog;
    nn_net_mark_close(n, v, NN_CLOSE_SLOW);
    if (n->st.backlog == before)
      break; /* busy: its backlog goes when it unwinds */
  }
}

/* Deadlines of established channels: output a peer does not read, a message that does not
 * arrive whole, an inbound channel nobody uses. */
static void
check_deadlines(nn_net_t *n, uint64_t now)
{
  const nn_net_cfg_t *k = &n->cfg;
  for (nn_conn_t *c = n->conns; c; c = c->next) {
    if (c->state != C_OPEN || c->close_requested || c->reported)
      continue;
    size_t out = nn_conn_wire_pending(c); /* owed to the peer: what a shaped link queues is ours */
    if (!out) {
      c->mark_ms = 0;
    } else if (!c->mark_ms) {
      c->mark_ms = now;
      c->mark_wire_out = c->wire_out;
      c->mark_pending = out;
    } else if (now - c->mark_ms >= k->stall_ms) {
      uint64_t need = (uint64_t)k->min_out_rate * (now - c->mark_ms) / 1000;
      if (need > c->mark_pending)
        need = c->mark_pending;
      if (c->wire_out - c->mark_wire_out < need) {
        n->st.closed_stalled++;
        log_close(n, c, "our output to it did not move (it does not read)");
        nn_net_mark_close(n, c, NN_CLOSE_SLOW);
        continue;
      }
      c->mark_ms = now;
      c->mark_wire_out = c->wire_out;
      c->mark_pending = out;
    }
    if (c->part_acct && now - c->part_since_ms >= k->message_ms) {
      n->st.closed_message_time++;
      log_close(n, c, "a message it started did not arrive whole in time");
      nn_net_mark_close(n, c, NN_CLOSE_SLOW);
      continue;
    }
    if (c->inbound && !c->holds && now - c->last_used_ms >= k->idle_inbound_ms) {
      n->st.closed_idle++;
      log_close(n, c, "idle inbound channel");
      nn_net_mark_close(n, c, NN_CLOSE_LOCAL);
    }
  }
}

/* A stream moved to a direct connection: the new address is asked about as an inbound one is
 * (a banned host is not let back in through a punch), then the tenants hear of it. */
static void
tell_moved(nn_net_t *n, nn_conn_t *c)
{
  char a[NN_ADDR_STR_MAX], v[NN_ADDR_STR_MAX];
  nn_net_conn_info_t info;
  c->moved_untold = 0;
  if (c->close_requested || c->reported || c->state == C_DEAD)
    return;
  nn_addr_format(&c->addr, a);
  nn_addr_format(&c->via, v);
  if (n->policy.allowed && !n->policy.allowed(n->policy.ctx, &c->addr, c->inbound)) {
    nn_log(n->cfg.log, NN_LOG_INFO, "net", "channel %llu moved from %s to %s, a banned host: closing it",
           (unsigned long long)c->serial, v, a);
    n->st.closed_moved++;
    nn_net_mark_close(n, c, NN_CLOSE_LOCAL);
    return;
  }
  nn_log(n->cfg.log, NN_LOG_DEBUG, "net", "channel %llu moved from %s to a direct connection with %s",
         (unsigned long long)c->serial, v, a);
  for (int t = 0; t < NN_NET_MAX_PROTOCOLS; t++) {
    tenant_t *tn = &n->tenants[t];
    if (!tn->active || !(c->told & (1u << t)) || !tn->p.on_moved)
      continue;
    nn_conn_info(c, &info);
    tn->p.on_moved(tn->p.ctx, c->serial, &info);
    if (c->close_requested || c->reported)
      return;
  }
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
  nn_net_t *n = arg;
  (void)fd;
  (void)what;
  n->kicked = 0;
  for (nn_conn_t *c = n->conns; c; c = c->next)
    if (c->moved_untold)
      tell_moved(n, c);
  /* Settling frees at most the channel settled: whatever tenants do from on_down only marks
   * channels (and kicks again), so the next pointer stays valid. */
  for (nn_conn_t *c = n->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->dirty)
      nn_conn_settle(c);
  }
}

static void
on_maint(evutil_socket_t fd, short what, void *arg)
{
  nn_net_t *n = arg;
  (void)fd;
  (void)what;
  trim_idle(n);
  check_deadlines(n, nn_mono_ms());
  (void)nn_cookie_jar_tick(n->jar, nn_mono_ms());
}

/* ---- callbacks from the channel driver ---- */

static void
tell_up(nn_net_t *n, nn_conn_t *c, int t)
{
  nn_net_conn_info_t info;
  tenant_t *tn = &n->tenants[t];
  if (!tn->active || (c->told & (1u << t)) || c->close_requested || c->reported || (c->priv && t != c->owner))
    return;
  c->told |= 1u << t;
  if (tn->p.on_up) {
    nn_conn_info(c, &info);
    tn->p.on_up(tn->p.ctx, c->serial, &info);
  }
}

void
nn_net_on_established(nn_net_t *n, nn_conn_t *c)
{
  const nn_chan_info_t *ci = nn_chan_info(c->chan);
  n->st.handshakes++;
  if (c->counted_half_open) {
    c->counted_half_open = 0;
    n->st.half_open--;
  }
  c->counted_open = 1;
  n->st.open++;
  nn_admit_handshake_done(&n->admit, &c->ticket, nn_mono_us());
  c->last_used_ms = nn_mono_ms();
  if (ci->peer_identified) { /* a responder always proves its id (the expected one, if any) */
    c->id = ci->peer_id;
    c->has_id = 1;
  }
  if (n->policy.admit) {
    nn_net_conn_info_t info;
    nn_conn_info(c, &info);
    if (!n->policy.admit(n->policy.ctx, &info)) {
      n->st.refused_admit++;
      c->refused = 1;
      c->close_requested = 1;
      c->close_with = NN_CLOSE_LOCAL;
      return;
    }
  }
  for (qmsg_t *m = c->q, *nx; m; m = nx) {
    nx = m->next;
    if (nn_chan_send(c->chan, m->b, m->len) == NN_OK) {
      c->msgs_out++;
      c->bytes_out += m->len;
    } else {
      n->st.queue_dropped++; /* longer than the peer's max_message, which we learn only now */
    }
    free(m);
  }
  c->q = NULL;
  c->qtail = &c->q;
  c->qn = c->qbytes = 0;
  for (int t = 0; t < NN_NET_MAX_PROTOCOLS; t++)
    tell_up(n, c, t);
}

void
nn_net_on_message(nn_net_t *n, nn_conn_t *c, const uint8_t *msg, size_t len)
{
  uint8_t t = len ? n->owner[msg[0]] : NN_NET_KIND_NONE;
  c->msgs_in++;
  c->bytes_in += len;
  c->last_used_ms = nn_mono_ms();
  if (t == NN_NET_KIND_NONE) {
    char a[NN_ADDR_STR_MAX];
    nn_addr_format(&c->addr, a);
    n->st.unknown_kind++;
    nn_log(n->cfg.log, NN_LOG_DEBUG, "net", "closing channel %llu with %s: message kind 0x%02x%s",
           (unsigned long long)c->serial, a, len ? msg[0] : 0, len ? " is not spoken here" : " (empty message)");
    c->close_requested = 1;
    c->close_with = len ? NN_CLOSE_UNSUPPORTED : NN_CLOSE_PROTOCOL;
    return;
  }
  if (c->priv && t != c->owner)
    return; /* a private channel's other kinds are nobody's */
  if (n->tenants[t].p.on_message)
    n->tenants[t].p.on_message(n->tenants[t].p.ctx, c->serial, msg, len);
}

static int
penalized_reason(nn_close_reason_t r)
{
  return r == NN_CLOSE_PROTOCOL || r == NN_CLOSE_AUTH || r == NN_CLOSE_TOO_LARGE;
}

void
nn_net_on_closed(nn_net_t *n, nn_conn_t *c)
{
  nn_net_conn_info_t info;
  int r = (int)c->reason;
  n->st.closed[r >= 0 && r < NN_NET_CLOSE_MAX ? r : NN_CLOSE_INTERNAL]++;
  if (c->counted_half_open)
    n->st.half_open--;
  if (c->counted_open)
    n->st.open--;
  c->counted_half_open = c->counted_open = 0;
  nn_conn_info(c, &info);
  if (nn_log_enabled(n->cfg.log, NN_LOG_DEBUG)) {
    char a[NN_ADDR_STR_MAX];
    nn_addr_format(&c->addr, a);
    nn_log(n->cfg.log, NN_LOG_DEBUG, "net", "%s channel %llu %s %s closed: %s", c->inbound ? "inbound" : "outbound",
           (unsigned long long)c->serial, c->established_ever ? "with" : "(never established) with", a,
           nn_net_close_reason_str(c->reason));
  }
  /* Only a peer that completed the handshake can be held to account: before that, a failure may
   * be anyone's behind a shared address (carrier-grade NAT, an office, a Tor exit), and what
   * limits it is the per-address rate of handshakes, not a penalty that would ban them all. */
  if (c->established_ever && penalized_reason(c->reason) && n->policy.penalize) {
    char why[96];
    snprintf(why, sizeof(why), "channel closed: %s", nn_net_close_reason_str(c->reason));
    n->policy.penalize(n->policy.ctx, &info, NN_NET_PENALTY_CLOSE, why);
  }
  /* a failed dial is news to every tenant; an inbound stream that never got established is
   * nobody's business. c->told is read afresh for each tenant: an on_down may unregister a
   * tenant and register another in its handle, which was never told of this channel. */
  uint32_t failed_dial = !c->inbound && (!c->established_ever || c->refused) ? ~0u : 0;
  if (c->priv)
    failed_dial &= 1u << c->owner;
  for (int t = 0; t < NN_NET_MAX_PROTOCOLS; t++) {
    tenant_t *tn = &n->tenants[t];
    if (((c->told | failed_dial) & (1u << t)) && tn->active && tn->p.on_down)
      tn->p.on_down(tn->p.ctx, c->serial, &info);
  }
}

/* ---- inbound streams ---- */

static void
chan_cfg(const nn_net_t *n, const nn_transport_t *t, nn_chan_config_t *cc)
{
  memset(cc, 0, sizeof(*cc));
  cc->network = n->cfg.network;
  cc->max_message = n->cfg.max_message;
  cc->rekey_interval = n->cfg.rekey_interval;
  cc->pad_to = n->cfg.pad_to;
  cc->rng = n->cfg.rng;
  if (t->overlay)
    cc->shape_interval_ms = n->cfg.overlay_pad_ms;
}

/* The oldest inbound channel still handshaking: a slow or stalled one, since honest handshakes
 * take a round trip or two. */
static nn_conn_t *
oldest_half_open(const nn_net_t *n)
{
  nn_conn_t *v = NULL;
  for (nn_conn_t *c = n->conns; c; c = c->next)
    if (c->counted_half_open && !c->close_requested && !c->reported && (!v || c->since_ms < v->since_ms))
      v = c;
  return v;
}

/* The least useful inbound channel: established, held by no tenant (no protocol wants it kept),
 * the least recently used. Held ones (gossip peers) are never given up for a newcomer. */
static nn_conn_t *
least_useful_inbound(const nn_net_t *n)
{
  nn_conn_t *v = NULL;
  for (nn_conn_t *c = n->conns; c; c = c->next)
    if (c->inbound && c->state == C_OPEN && !c->holds && !c->close_requested && !c->reported &&
        (!v || c->last_used_ms < v->last_used_ms))
      v = c;
  return v;
}

/* Admission said a global cap is full: close an older channel for the newcomer, or refuse it. */
static int
make_room(nn_net_t *n, const nn_admit_ticket_t *t)
{
  nn_conn_t *hv = t->evict_half_open && n->evicting < n->cfg.limits.max_half_open ? oldest_half_open(n) : NULL;
  nn_conn_t *iv = t->evict_inbound ? least_useful_inbound(n) : NULL;
  if ((t->evict_half_open && !hv) || (t->evict_inbound && !iv)) {
    if (t->evict_half_open && !hv)
      n->st.refused_half_open++;
    else
      n->st.refused_conns++;
    return 0;
  }
  if (hv) {
    /* Its slot is the newcomer's at once (nn_net_mark_close); those being given up but not yet
     * gone are at most max_half_open. */
    n->st.evicted_half_open++;
    log_close(n, hv, "the oldest handshake, for a newcomer (half-open cap)");
    nn_admit_handshake_done(&n->admit, &hv->ticket, nn_mono_us());
    hv->evicting = 1;
    n->evicting++;
    nn_net_mark_close(n, hv, NN_CLOSE_TIMEOUT);
  }
  if (iv) {
    n->st.evicted_inbound++;
    log_close(n, iv, "the least recently used unheld inbound channel, for a newcomer (connection cap)");
    nn_net_mark_close(n, iv, NN_CLOSE_LOCAL);
  }
  return 1;
}

static int
host_accept(void *ctx, nn_stream_t *s)
{
  nn_net_t *n = ctx;
  nn_net_stats_t *st = &n->st;
  nn_admit_ticket_t ticket;
  nn_chan_config_t cc;
  nn_conn_t *c;
  uint64_t now = nn_mono_us();

  st->accepted++;
  if (n->freeing || !n->cfg.identity)
    return 0;
  if (s->t->peer_addrs && n->policy.allowed && !n->policy.allowed(n->policy.ctx, &s->peer, 1)) {
    st->refused_policy++;
    return 0;
  }
  if (!nn_admit_stream(&n->admit, &s->peer, s->t->peer_addrs, now, &ticket))
    return 0;
  if (!make_room(n, &ticket)) {
    nn_admit_release(&n->admit, &ticket, now);
    return 0;
  }
  if (!(c = nn_conn_new(n, s, 1))) {
    nn_admit_release(&n->admit, &ticket, now);
    st->refused_internal++;
    return 0;
  }
  c->ticket = ticket;
  chan_cfg(n, s->t, &cc);
  cc.role = NN_CHAN_RESPONDER;
  cc.identity = n->cfg.identity;
  cc.require_peer_identity = n->cfg.require_peer_identity;
  cc.handshake_timeout_ms = n->cfg.limits.handshake_timeout_ms;
  cc.msg1_timeout_ms = n->cfg.limits.msg1_timeout_ms;
  if (s->t->handshake_timeout_ms > cc.handshake_timeout_ms) {
    /* an overlay's round trips take seconds: its peers get its time, and msg1 a share of it */
    cc.handshake_timeout_ms = s->t->handshake_timeout_ms;
    if (cc.msg1_timeout_ms && cc.msg1_timeout_ms < s->t->handshake_timeout_ms / 4)
      cc.msg1_timeout_ms = s->t->handshake_timeout_ms / 4;
  }
  cc.cookies = n->jar;
  cc.peer_addr = c->ticket.ip;
  cc.peer_addr_len = c->ticket.ip_len;
  cc.require_cookie = ticket.require_cookie;
  link_conn(n, c);
  c->counted_half_open = 1;
  st->half_open++;
  if (nn_conn_start(c, &cc) != NN_OK) {
    c->s = NULL; /* the transport frees a refused stream */
    nn_conn_free(c);
    st->refused_internal++;
    return 0;
  }
  st->admitted++;
  st->cookie_required += (uint64_t)ticket.require_cookie;
  return 1;
}

/* ---- public ---- */

nn_err_t
nn_net_new(nn_net_t **out, struct event_base *base, const nn_net_cfg_t *cfg)
{
  nn_net_t *n;
  nn_err_t e = NN_ERR_NOMEM;
  *out = NULL;
  if (!base || !cfg)
    return NN_ERR_ARG;
  if (!(n = calloc(1, sizeof(*n))))
    return NN_ERR_NOMEM;
  n->base = base;
  n->cfg = *cfg;
  if (!n->cfg.linger_ms)
    n->cfg.linger_ms = 2000;
  nn_net_cfg_t def;
  nn_net_cfg_default(&def);
  /* 0 means the default for every budget and deadline */
#define DEFAULT_IF_ZERO(f)                                                                                             \
  do {                                                                                                                 \
    if (!n->cfg.f)                                                                                                     \
      n->cfg.f = def.f;                                                                                                \
  } while (0)
  DEFAULT_IF_ZERO(max_output);
  DEFAULT_IF_ZERO(max_output_hard);
  DEFAULT_IF_ZERO(output_budget);
  DEFAULT_IF_ZERO(reassembly_budget);
  DEFAULT_IF_ZERO(backlog_budget);
  DEFAULT_IF_ZERO(stall_ms);
  DEFAULT_IF_ZERO(min_out_rate);
  DEFAULT_IF_ZERO(message_ms);
  DEFAULT_IF_ZERO(idle_inbound_ms);
#undef DEFAULT_IF_ZERO
  if (!n->cfg.handshake_timeout_ms)
    n->cfg.handshake_timeout_ms = NN_CHAN_DEFAULT_HS_TIMEOUT_MS;
  if (!n->cfg.limits.handshake_timeout_ms)
    n->cfg.limits.handshake_timeout_ms = NN_CHAN_DEFAULT_HS_TIMEOUT_MS;
  memset(n->owner, NN_NET_KIND_NONE, sizeof(n->owner));
  n->ht_mask = 63;
  if (!(n->ht = calloc(n->ht_mask + 1, sizeof(*n->ht))) || !(n->ev_kick = event_new(base, -1, 0, on_kick, n)) ||
      !(n->ev_maint = event_new(base, -1, EV_PERSIST, on_maint, n)))
    goto fail;
  if ((e = nn_admit_init(&n->admit, &n->cfg.limits, n->cfg.rng, &n->st)) ||
      (e = nn_cookie_jar_new(&n->jar, n->cfg.rng, nn_mono_ms())))
    goto fail;
  if (n->cfg.workers) {
    /* a caller's generator would be called from several threads at once */
    if (n->cfg.rng || n->cfg.workers > NN_WORKERS_MAX) {
      e = NN_ERR_ARG;
      goto fail;
    }
    if ((e = nn_workers_new(&n->workers, base, n->cfg.workers)))
      goto fail;
    n->st.hs_workers = n->cfg.workers;
  }
  struct timeval tv = { MAINT_MS / 1000, (MAINT_MS % 1000) * 1000 };
  event_add(n->ev_maint, &tv);
  *out = n;
  return NN_OK;
fail:
  nn_net_free(n);
  return e;
}

/* Leaving: a CLOSE record where keys exist, one attempt to write it, and a graceful close
 * (the kernel sends what it took, then FIN). No callbacks. */
static void
close_at_exit(nn_conn_t *c)
{
  if (c->chan && !c->chan_closed && c->established_ever && c->state == C_OPEN) {
    const uint8_t *d;
    size_t len;
    nn_chan_close(c->chan, NN_CLOSE_LOCAL);
    nn_chan_output(c->chan, &d, &len);
    if (len)
      (void)c->s->t->write(c->s, d, len);
  }
  c->state = C_DEAD;
  c->reported = 1;
  nn_conn_free(c);
}

void
nn_net_free(nn_net_t *n)
{
  if (!n)
    return;
  n->freeing = 1;
  /* The channels out on workers come back first (their steps finish; nothing is replayed). */
  nn_workers_free(n->workers);
  n->workers = NULL;
  while (n->conns)
    close_at_exit(n->conns);
  for (size_t i = 0; i < n->ntransports; i++)
    n->transports[i]->free(n->transports[i]);
  if (n->ev_kick)
    event_free(n->ev_kick);
  if (n->ev_maint)
    event_free(n->ev_maint);
  nn_cookie_jar_free(n->jar);
  nn_admit_free(&n->admit);
  free(n->ht);
  free(n);
}

static void
host_moved(void *ctx, nn_stream_t *s)
{
  nn_net_t *n = ctx;
  nn_conn_t *c = s->ev == &nn_conn_stream_events ? s->ctx : NULL;
  if (!c || c->s != s)
    return;
  if (!c->moved)
    c->via = c->addr;
  c->addr = s->peer;
  c->moved = 1;
  c->moved_untold = 1;
  n->st.moved++;
  nn_net_kick(n);
}

nn_err_t
nn_net_add_transport(nn_net_t *n, nn_transport_t *t)
{
  if (!t)
    return NN_ERR_ARG;
  if (n->ntransports == sizeof(n->transports) / sizeof(n->transports[0])) {
    t->free(t);
    return NN_ERR_NOSPACE;
  }
  t->host.accept = host_accept;
  t->host.moved = host_moved;
  t->host.ctx = n;
  t->host.base = n->base;
  n->transports[n->ntransports++] = t;
  return NN_OK;
}

nn_err_t
nn_net_add_transport_first(nn_net_t *n, nn_transport_t *t)
{
  nn_err_t e = nn_net_add_transport(n, t);
  if (e)
    return e;
  memmove(n->transports + 1, n->transports, (n->ntransports - 1) * sizeof(n->transports[0]));
  n->transports[0] = t;
  return NN_OK;
}

nn_transport_t *
nn_net_transport(nn_net_t *n, const char *name)
{
  for (size_t i = 0; i < n->ntransports; i++)
    if (!strcmp(n->transports[i]->name, name))
      return n->transports[i];
  return NULL;
}

nn_err_t
nn_net_listen(nn_net_t *n, const char *transport, const char *bind_to, nn_addr_t *bound, char *why, size_t why_len)
{
  nn_transport_t *t = nn_net_transport(n, transport ? transport : "tcp");
  if (!t || !n->cfg.identity) {
    if (why)
      snprintf(why, why_len, "%s", t ? "listening needs a node identity" : "no such transport");
    return NN_ERR_ARG;
  }
  return t->listen(t, bind_to, bound, why, why_len);
}

void
nn_net_set_policy(nn_net_t *n, const nn_net_policy_t *p)
{
  if (p)
    n->policy = *p;
  else
    memset(&n->policy, 0, sizeof(n->policy));
}

void
nn_net_set_caps(nn_net_t *n, uint32_t max_per_ip, uint32_t max_half_open_per_group, uint32_t max_idle_outbound)
{
  n->cfg.limits.max_per_ip = max_per_ip;
  n->cfg.limits.max_half_open_per_group = max_half_open_per_group;
  nn_admit_set_caps(&n->admit, max_per_ip, max_half_open_per_group);
  n->cfg.max_idle_outbound = max_idle_outbound;
  nn_net_kick(n); /* trim_idle runs from the kick */
}

nn_err_t
nn_net_register(nn_net_t *n, const nn_net_proto_t *p, int *handle)
{
  int t;
  if (!p || p->kind_lo > p->kind_hi)
    return NN_ERR_ARG;
  for (int k = p->kind_lo; k <= p->kind_hi; k++)
    if (n->owner[k] != NN_NET_KIND_NONE)
      return NN_ERR_ARG;
  for (t = 0; t < NN_NET_MAX_PROTOCOLS && n->tenants[t].active; t++)
    ;
  if (t == NN_NET_MAX_PROTOCOLS)
    return NN_ERR_NOSPACE;
  n->tenants[t].p = *p;
  n->tenants[t].active = 1;
  for (int k = p->kind_lo; k <= p->kind_hi; k++)
    n->owner[k] = (uint8_t)t;
  for (nn_conn_t *c = n->conns; c; c = c->next) { /* bits a former tenant of this slot left */
    c->told &= ~(1u << t);
    c->holds &= ~(1u << t);
  }
  if (handle)
    *handle = t;
  /* channels already up: the tenant learns of them now */
  for (nn_conn_t *c = n->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->state == C_OPEN)
      tell_up(n, c, t);
  }
  return NN_OK;
}

void
nn_net_unregister(nn_net_t *n, int t)
{
  if (t < 0 || t >= NN_NET_MAX_PROTOCOLS || !n->tenants[t].active)
    return;
  for (int k = 0; k < 256; k++)
    if (n->owner[k] == t)
      n->owner[k] = NN_NET_KIND_NONE;
  n->tenants[t].active = 0;
  for (nn_conn_t *c = n->conns; c; c = c->next)
    c->holds &= ~(1u << t);
}

nn_err_t
nn_net_dial(nn_net_t *n, int proto, const nn_addr_t *a, const nn_node_id_t *id, uint64_t *conn)
{
  return nn_net_dial_ex(n, proto, a, id, 0, conn);
}

nn_err_t
nn_net_dial_ex(nn_net_t *n, int proto, const nn_addr_t *a, const nn_node_id_t *id, unsigned flags, uint64_t *conn)
{
  nn_transport_t *t = NULL;
  nn_stream_t *s;
  nn_chan_config_t cc;
  nn_conn_t *c;
  nn_err_t e;

  if (conn)
    *conn = 0;
  if (n->freeing || proto < 0 || proto >= NN_NET_MAX_PROTOCOLS)
    return NN_ERR_ARG;
  if (n->cfg.dial_nets && !(n->cfg.dial_nets & nn_addr_net(a))) {
    n->st.dials_refused_net++;
    return NN_ERR_PERM;
  }
  for (size_t i = 0; i < n->ntransports && !t; i++)
    if ((!(flags & NN_NET_DIAL_OVERLAY) || n->transports[i]->overlay) &&
        n->transports[i]->can_dial(n->transports[i], a))
      t = n->transports[i];
  if (!t)
    return NN_ERR_ARG;
  if (n->policy.allowed && !n->policy.allowed(n->policy.ctx, a, 0))
    return NN_ERR_PERM;
  if ((e = t->dial(t, a, id, &s)))
    return e;
  if (!(c = nn_conn_new(n, s, 0))) {
    t->close(s, 1);
    return NN_ERR_NOMEM;
  }
  chan_cfg(n, t, &cc);
  cc.role = NN_CHAN_INITIATOR;
  cc.identity = n->cfg.anonymous || (flags & NN_NET_DIAL_ANON) ? NULL : n->cfg.identity;
  c->priv = (flags & NN_NET_DIAL_PRIVATE) != 0;
  c->owner = proto;
  if (id) {
    c->expected = c->id = *id;
    c->has_id = 1;
    cc.expected_peer = &c->expected;
  }
  cc.handshake_timeout_ms = t->handshake_timeout_ms ? t->handshake_timeout_ms : n->cfg.handshake_timeout_ms;
  link_conn(n, c);
  if ((e = nn_conn_start(c, &cc))) {
    nn_conn_free(c);
    return e;
  }
  n->st.dials++;
  if (nn_log_enabled(n->cfg.log, NN_LOG_DEBUG)) {
    char as[NN_ADDR_STR_MAX];
    nn_addr_format(a, as);
    nn_log(n->cfg.log, NN_LOG_DEBUG, "net", "channel %llu: dialling %s over %s for %s", (unsigned long long)c->serial,
           as, t->name, n->tenants[proto].active ? n->tenants[proto].p.name : "?");
  }
  if (conn)
    *conn = c->serial;
  trim_idle(n);
  return NN_OK;
}

uint64_t
nn_net_find(nn_net_t *n, const nn_node_id_t *id, int established_only)
{
  nn_conn_t *opening = NULL;
  for (nn_conn_t *c = n->conns; c; c = c->next) {
    if (!c->has_id || c->priv || c->close_requested || c->reported || c->chan_closed ||
        memcmp(c->id.b, id->b, NN_NODE_ID_LEN))
      continue;
    if (c->state == C_OPEN)
      return c->serial;
    if (!c->inbound && !opening)
      opening = c;
  }
  return opening && !established_only ? opening->serial : 0;
}

uint64_t
nn_net_find_addr(nn_net_t *n, const nn_addr_t *a)
{
  for (nn_conn_t *c = n->conns; c; c = c->next)
    if (!c->reported && !c->close_requested && !c->priv && nn_addr_equal(&c->addr, a))
      return c->serial;
  return 0;
}

static nn_err_t
enqueue(nn_net_t *n, nn_conn_t *c, const uint8_t *msg, size_t len)
{
  qmsg_t *m;
  if (c->qn >= n->cfg.queue_max || c->qbytes + len > NN_NET_QUEUE_MAX_BYTES || !(m = malloc(sizeof(*m) + len))) {
    n->st.queue_dropped++;
    return NN_ERR_NOSPACE;
  }
  m->next = NULL;
  m->len = len;
  memcpy(m->b, msg, len);
  *c->qtail = m;
  c->qtail = &m->next;
  c->qn++;
  c->qbytes += len;
  return NN_OK;
}

nn_err_t
nn_net_send(nn_net_t *n, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_conn_t *c = live(n, conn);
  nn_err_t e;
  if (!c || c->chan_closed || c->io_failed)
    return NN_ERR_NOTFOUND;
  if (!len)
    return NN_ERR_ARG;
  c->last_used_ms = nn_mono_ms();
  if (c->state != C_OPEN)
    return c->inbound ? NN_ERR_NOTFOUND : enqueue(n, c, msg, len);
  /* Hard caps: per channel, and twice the node's budget in all (docs/ARCHITECTURE.md). */
  size_t out = nn_conn_pending(c);
  if (out + len > n->cfg.max_output_hard ||
      n->st.output - c->out_acct + out + len > 2 * (uint64_t)n->cfg.output_budget) {
    n->st.send_refused++;
    return NN_ERR_NOSPACE;
  }
  if ((e = nn_chan_send(c->chan, msg, len)) == NN_OK) {
    c->msgs_out++;
    c->bytes_out += len;
  }
  nn_conn_account(c);
  nn_conn_poke(c); /* also when the send failed the channel (out of memory): the kick reports it */
  return e;
}

void
nn_net_close(nn_net_t *n, uint64_t conn, nn_close_reason_t reason)
{
  nn_conn_t *c = live(n, conn);
  if (!c)
    return;
  c->close_requested = 1;
  /* A reason the peer can be sent: not "closed by peer" (that would skip our CLOSE record), nor
   * the manager's own stream reasons (32 and up: never on the wire). */
  c->close_with = reason && reason != NN_CLOSE_PEER && (int)reason < 32 ? reason : NN_CLOSE_LOCAL;
  c->dirty = 1;
  nn_net_uncount_half_open(n, c);
  nn_net_kick(n);
}

void
nn_net_hold(nn_net_t *n, int proto, uint64_t conn, int hold)
{
  nn_conn_t *c = by_serial(n, conn);
  if (!c || proto < 0 || proto >= NN_NET_MAX_PROTOCOLS)
    return;
  if (hold)
    c->holds |= 1u << proto;
  else
    c->holds &= ~(1u << proto);
}

void
nn_net_penalize(nn_net_t *n, uint64_t conn, int points, const char *why)
{
  nn_conn_t *c = by_serial(n, conn);
  nn_net_conn_info_t info;
  if (!c || !n->policy.penalize || points <= 0)
    return;
  nn_conn_info(c, &info);
  n->policy.penalize(n->policy.ctx, &info, points, why);
}

int
nn_net_conn_info(nn_net_t *n, uint64_t conn, nn_net_conn_info_t *out)
{
  nn_conn_t *c = by_serial(n, conn);
  if (!c)
    return 0;
  nn_conn_info(c, out);
  return 1;
}

void
nn_net_each(nn_net_t *n, void (*fn)(void *ctx, const nn_net_conn_info_t *c), void *ctx)
{
  nn_net_conn_info_t info;
  for (nn_conn_t *c = n->conns; c; c = c->next) {
    if (c->reported || c->state == C_DEAD)
      continue;
    nn_conn_info(c, &info);
    fn(ctx, &info); /* may only mark channels: nothing is freed under the walk */
  }
}

size_t
nn_net_pending(nn_net_t *n, uint64_t conn)
{
  nn_conn_t *c = by_serial(n, conn);
  return c ? nn_conn_pending(c) : 0;
}

const nn_net_stats_t *
nn_net_stats(const nn_net_t *n)
{
  return &n->st;
}

const nn_log_t *
nn_net_log(const nn_net_t *n)
{
  return n->cfg.log;
}
struct event_base *
nn_net_base(const nn_net_t *n)
{
  return n->base;
}
