/*
 * The discovery node: the DHT core (dht.c) as a tenant of the connection manager (net/net.h),
 * with the peer store and signed peer records. See disco.h.
 *
 * Re-entrancy. The DHT core calls io.send and io.penalize from inside its own functions; the
 * manager never calls back from inside a call, so a send never re-enters the DHT. What would
 * (an unreachable node found while sending) is queued and handed to the DHT by a zero-delay
 * "kick" event.
 */
#include "dht/disco.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/hex.h"
#include "net/kinds.h"

#define MAX_UNREACH 1024

/* A channel discovery cares about beyond one message: one it dialled to bootstrap, or sent
 * requests on (so that its loss makes the node unreachable for the DHT). */
typedef struct dconn_t {
  struct dconn_t *next;
  uint64_t conn;
  int boot, requests;
} dconn_t;

typedef struct find_t {
  struct find_t *prev, *next;
  nn_disco_t *d;
  nn_disco_find_cb cb;
  void *ctx;
} find_t;

typedef struct dnsreq_t {
  struct dnsreq_t *next;
  nn_disco_t *d;
  char name[NN_DISCO_DNS_NAME_MAX + 1]; /* a copy: SIGHUP may replace the seed list meanwhile */
  int done;
} dnsreq_t;

typedef struct speer_t {
  nn_addr_t addr;
  nn_node_id_t id;
  int has_id;
} speer_t;

/* What a bootstrap round asks besides the peer store; replaced whole by nn_disco_set_seeds. */
typedef struct seeds_t {
  char **dns_names;
  size_t n_dns;
  speer_t *speers;
  size_t n_speers;
} seeds_t;

struct nn_disco_t {
  nn_net_t *net;
  struct event_base *base;
  int proto; /* our tenant handle */
  const nn_identity_t *identity;
  nn_node_id_t self;
  uint32_t network;
  nn_disco_cfg_t cfg;
  seeds_t seeds;
  char *dns_ns; /* the configured resolver, if any (owned copy) */
  nn_peerstore_t *ps;
  nn_dht_t *dht;
  int has_addr;
  nn_addr_t self_addr;
  /* relays that keep us reachable (PROTOCOL.md 10.4), published next to self_addr */
  nn_addr_t relayed[NN_PEER_RECORD_MAX_ADDRS - 1];
  size_t n_relayed;
  /* our onion and I2P addresses (PROTOCOL.md 11), published after self_addr */
  nn_addr_t overlay[NN_DISCO_MAX_OVERLAY];
  size_t n_overlay;
  int relay_service; /* we relay for others: the record's F_RELAY */
  int republish;     /* what the record says changed */
  struct evdns_base *dns;
  dnsreq_t *dnsreqs;
  dconn_t *dconns;
  find_t *finds;
  struct event *ev_tick, *ev_kick, *ev_boot;
  int kicked, freeing, registered;
  nn_node_id_t unreach[MAX_UNREACH];
  size_t nunreach;
  /* bootstrap round */
  int boot_pending, boot_ok, boot_active;
  unsigned tried_ps, tried_dns, tried_peer;
  uint32_t boot_delay_ms;
  /* own record */
  nn_peer_record_t rec;
  int have_rec, publishing;
  uint64_t rec_seq;
  nn_disco_stats_t st;
};

/* ---- small helpers ---- */

#define dlog(d, level, ...) nn_log((d)->cfg.log, (level), "disco", __VA_ARGS__)

static int
id_eq(const nn_node_id_t *a, const nn_node_id_t *b)
{
  return !memcmp(a->b, b->b, NN_NODE_ID_LEN);
}

/*
 * The peer store keys standing and bans by host for public addresses (the port is ignored) but
 * by address and port for loopback/private ones, so that the nodes of a devnet on one machine
 * do not share a reputation. An inbound peer's port is an ephemeral one that changes with every
 * connection, so for a non-public inbound address we key by the host alone (port 0): on a devnet
 * abuse through inbound connections bans the whole loopback/private host. Outbound peers are
 * keyed by the listening address we dialled.
 */
nn_addr_t
nn_disco_pen_key(const nn_addr_t *a, int inbound)
{
  nn_addr_t k = *a;
  if (inbound && !nn_addr_is_public(a))
    k.port = 0;
  return k;
}

static int
same_ban_key(const nn_addr_t *a, const nn_addr_t *b)
{
  return nn_addr_is_public(a) ? nn_addr_same_host(a, b) : nn_addr_equal(a, b);
}

static void
kick(nn_disco_t *d)
{
  if (!d->kicked && !d->freeing) {
    d->kicked = 1;
    event_active(d->ev_kick, EV_TIMEOUT, 0);
  }
}

static void
schedule_tick(nn_disco_t *d)
{
  if (d->freeing)
    return;
  uint64_t now = nn_unix_ms(), dl = nn_dht_deadline(d->dht);
  uint64_t delay = dl <= now ? 0 : dl - now;
  if (delay > 1000)
    delay = 1000;
  struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
  evtimer_add(d->ev_tick, &tv);
}

static void
defer_unreachable(nn_disco_t *d, const nn_node_id_t *id)
{
  for (size_t i = 0; i < d->nunreach; i++)
    if (id_eq(&d->unreach[i], id))
      return;
  if (d->nunreach < MAX_UNREACH)
    d->unreach[d->nunreach++] = *id;
  kick(d);
}

/* ---- the channels discovery tracks ---- */

static dconn_t *
dconn_find(nn_disco_t *d, uint64_t conn)
{
  for (dconn_t *c = d->dconns; c; c = c->next)
    if (c->conn == conn)
      return c;
  return NULL;
}

static dconn_t *
dconn_get(nn_disco_t *d, uint64_t conn)
{
  dconn_t *c = dconn_find(d, conn);
  if (c || !(c = calloc(1, sizeof(*c))))
    return c;
  c->conn = conn;
  c->next = d->dconns;
  d->dconns = c;
  return c;
}

static void
dconn_drop(nn_disco_t *d, uint64_t conn)
{
  for (dconn_t **pp = &d->dconns; *pp; pp = &(*pp)->next)
    if ((*pp)->conn == conn) {
      dconn_t *c = *pp;
      *pp = c->next;
      free(c);
      return;
    }
}

/* ---- the manager's policy: standing and bans from the peer store ---- */

static int
host_banned(nn_disco_t *d, const nn_addr_t *a)
{
  int banned = 0;
  if (nn_peerstore_is_banned(d->ps, a, nn_unix_ms() / 1000, &banned, NULL, NULL))
    return 0;
  return banned;
}

static int
policy_allowed(void *ctx, const nn_addr_t *a, int inbound)
{
  nn_disco_t *d = ctx;
  nn_addr_t k = nn_disco_pen_key(a, inbound);
  if (!host_banned(d, &k))
    return 1;
  d->st.refused_banned++;
  return 0;
}

/* Who a channel's misbehaviour is held against: an identified peer by its node id, so that one
 * bad node does not ban its neighbours behind the same address (carrier-grade NAT, an office, a
 * Tor exit); a peer that proved no identity by its host, but only as the host's anonymous peers,
 * so that the identified nodes there stay welcome. */
typedef struct subject_t {
  int node; /* else the anonymous peers of host */
  nn_node_id_t id;
  nn_addr_t host;
} subject_t;

static subject_t
subject_of(const nn_net_conn_info_t *c)
{
  subject_t s;
  memset(&s, 0, sizeof(s));
  s.node = c->has_id && (c->established || !c->inbound);
  if (s.node)
    s.id = c->id;
  else
    s.host = nn_disco_pen_key(&c->addr, c->inbound);
  return s;
}

static int
same_subject(const subject_t *a, const subject_t *b)
{
  if (a->node != b->node)
    return 0;
  return a->node ? id_eq(&a->id, &b->id) : same_ban_key(&a->host, &b->host);
}

static int
subject_banned(nn_disco_t *d, const subject_t *s)
{
  int banned = 0;
  uint64_t now = nn_unix_ms() / 1000;
  nn_err_t e = s->node ? nn_peerstore_node_banned(d->ps, &s->id, now, &banned, NULL, NULL)
                       : nn_peerstore_anon_banned(d->ps, &s->host, now, &banned);
  return !e && banned;
}

static int
policy_admit(void *ctx, const nn_net_conn_info_t *c)
{
  nn_disco_t *d = ctx;
  subject_t s = subject_of(c);
  if (!subject_banned(d, &s))
    return 1;
  d->st.refused_banned++;
  return 0;
}

typedef struct ban_walk_t {
  nn_disco_t *d;
  const subject_t *s;
} ban_walk_t;

static void
close_if_banned(void *ctx, const nn_net_conn_info_t *c)
{
  ban_walk_t *w = ctx;
  subject_t s = subject_of(c);
  if (!c->closing && same_subject(&s, w->s))
    nn_net_close(w->d->net, c->conn, NN_CLOSE_LOCAL);
}

static void
penalize_subject(nn_disco_t *d, const subject_t *sub, int points, const char *why)
{
  char s[NN_ADDR_STR_MAX > 2 * NN_NODE_ID_LEN + 1 ? NN_ADDR_STR_MAX : 2 * NN_NODE_ID_LEN + 1];
  uint64_t now = nn_unix_ms() / 1000;
  int banned = 0;
  nn_err_t e;
  if (points <= 0)
    return;
  d->st.penalties++;
  if (sub->node) {
    nn_hex_encode(s, sub->id.b, NN_NODE_ID_LEN);
    e = nn_peerstore_penalize_node(d->ps, &sub->id, points, why, now, &banned);
  } else {
    nn_addr_format(&sub->host, s);
    e = nn_peerstore_penalize_anon(d->ps, &sub->host, points, why, now, &banned);
  }
  const char *what = sub->node ? "node" : "anonymous peers of";
  if (e) {
    dlog(d, NN_LOG_WARN, "peer store: cannot record a penalty for %s %s: %s", what, s, nn_peerstore_last_error(d->ps));
    return;
  }
  dlog(d, NN_LOG_DEBUG, "penalized %s %s by %d: %s", what, s, points, why);
  if (!banned)
    return;
  d->st.bans++;
  dlog(d, NN_LOG_WARN, "banned %s %s (%s); closing its channels", what, s, why);
  ban_walk_t w = { d, sub };
  nn_net_each(d->net, close_if_banned, &w);
}

static void
policy_penalize(void *ctx, const nn_net_conn_info_t *c, int points, const char *why)
{
  subject_t s = subject_of(c);
  penalize_subject(ctx, &s, points, why);
}

/* ---- the DHT's io ---- */

static void
io_penalize(void *ctx, const nn_node_id_t *id, const nn_addr_t *addr, int points, const char *why)
{
  nn_disco_t *d = ctx;
  /* the DHT names the address a message came from, or a node id: find its channel, which
   * decides whom it is held against; with none, the node id, or the address's anonymous peers */
  uint64_t conn = addr ? nn_net_find_addr(d->net, addr) : id ? nn_net_find(d->net, id, 0) : 0;
  subject_t s;
  memset(&s, 0, sizeof(s));
  if (conn) {
    nn_net_penalize(d->net, conn, points, why);
    return;
  }
  if (id) {
    s.node = 1;
    s.id = *id;
  } else if (addr) {
    s.host = nn_disco_pen_key(addr, 0);
  } else {
    return;
  }
  penalize_subject(d, &s, points, why);
}

static void
io_send(void *ctx, const nn_rpc_node_t *to, void *reply_conn, const uint8_t *msg, size_t len)
{
  nn_disco_t *d = ctx;
  uint64_t conn;
  d->st.msgs_out++;
  if (reply_conn) {
    /* The handle is the channel's, never reused: a relayed answer that comes after the channel
     * closed is dropped by the manager (dht.h). */
    (void)nn_net_send(d->net, (uint64_t)(uintptr_t)reply_conn, msg, len);
    return;
  }
  if (id_eq(&to->id, &d->self))
    return;
  if (!(conn = nn_net_find(d->net, &to->id, 0))) {
    subject_t sub = { .node = 1, .id = to->id };
    if (subject_banned(d, &sub)) {
      dlog(d, NN_LOG_DEBUG, "not dialling a banned node for a DHT request");
      defer_unreachable(d, &to->id);
      return;
    }
    nn_err_t e = nn_net_dial(d->net, d->proto, &to->addr, &to->id, &conn);
    if (e) {
      if (e == NN_ERR_PERM)
        dlog(d, NN_LOG_DEBUG, "not dialling a banned host for a DHT request");
      defer_unreachable(d, &to->id);
      return;
    }
  }
  dconn_t *c = dconn_get(d, conn);
  if (c)
    c->requests = 1;
  (void)nn_net_send(d->net, conn, msg, len); /* queued while the handshake runs; dropped if full */
}

/* ---- tenant callbacks ---- */

static void boot_check_done(nn_disco_t *d);

static void
t_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_disco_t *d = ctx;
  uint64_t now_s = nn_unix_ms() / 1000;
  if (info->inbound)
    return;
  /* we reached that address, and its node proved its id */
  (void)nn_peerstore_add(d->ps, &info->addr, NULL, now_s, NULL);
  (void)nn_peerstore_success(d->ps, &info->addr, &info->id, now_s, NULL);
  dconn_t *c = dconn_find(d, conn);
  if (!c || !c->boot)
    return;
  c->boot = 0;
  nn_net_hold(d->net, d->proto, conn, 0); /* from now on the idle cap may close it */
  d->boot_pending--;
  nn_rpc_node_t n = { info->id, info->addr };
  nn_dht_add_contact(d->dht, &n, nn_unix_ms());
  if (!d->boot_ok) {
    d->boot_ok = 1;
    (void)nn_dht_lookup(d->dht, &d->self, 0, NULL, NULL, nn_unix_ms()); /* self-lookup */
  }
  boot_check_done(d);
  schedule_tick(d);
}

static void
t_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_disco_t *d = ctx;
  nn_net_conn_info_t info;
  if (!nn_net_conn_info(d->net, conn, &info))
    return;
  d->st.msgs_in++;
  /* The DHT refuses (and penalizes) what does not parse as one of its messages. */
  (void)nn_dht_on_message(d->dht, (void *)(uintptr_t)conn, info.has_id ? &info.id : NULL, &info.addr, !info.inbound,
                          msg, len, nn_unix_ms());
  schedule_tick(d);
}

static void
t_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_disco_t *d = ctx;
  dconn_t *c = dconn_find(d, conn);
  int was_boot = c && c->boot, requests = c && c->requests;
  dconn_drop(d, conn);
  if (!info->inbound && !info->established) {
    (void)nn_peerstore_failure(d->ps, &info->addr, nn_unix_ms() / 1000);
    if (info->has_id)
      defer_unreachable(d, &info->id);
  } else if (info->has_id && requests && info->reason != NN_CLOSE_LOCAL && !nn_net_find(d->net, &info->id, 1)) {
    defer_unreachable(d, &info->id);
  }
  if (was_boot) {
    d->boot_pending--;
    boot_check_done(d);
  }
}

/* ---- the value check: peer records ---- */

static int
validate(void *ctx, const nn_node_id_t *key, const uint8_t *value, size_t len, uint64_t now_ms, uint64_t *seq,
         uint64_t *expires_ms)
{
  nn_disco_t *d = ctx;
  nn_peer_record_status_t why = NN_PEER_RECORD_OK;
  nn_peer_record_t *rec = malloc(sizeof(*rec));
  int r;
  if (!rec)
    return 1; /* no verdict */
  if (nn_peer_record_decode(value, len, rec) != NN_OK || !id_eq(&rec->node_id, key)) {
    r = -1;
  } else {
    nn_err_t err = nn_peer_record_verify(rec, d->network, now_ms / 1000, &why);
    d->st.verifications++;
    if (err == NN_OK) {
      *seq = rec->seq;
      *expires_ms = rec->expires_at * 1000;
      r = 0;
    } else if (why == NN_PEER_RECORD_FORGED || why == NN_PEER_RECORD_MALFORMED) {
      r = -1;
    } else {
      r = 1; /* expired, future, wrong network, internal: stale or foreign, not misbehaviour */
    }
  }
  free(rec);
  return r;
}

/* Two valid records of one node with equal seq and expiry: the order of docs/PROTOCOL.md 6.3. */
static int
newer(void *ctx, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
  nn_peer_record_t *ra = malloc(2 * sizeof(*ra));
  int r = 0;
  (void)ctx;
  if (ra && nn_peer_record_decode(a, alen, ra) == NN_OK && nn_peer_record_decode(b, blen, ra + 1) == NN_OK)
    r = nn_peer_record_newer(ra, ra + 1);
  free(ra);
  return r;
}

/* ---- publishing our record ---- */

static void
publish(nn_disco_t *d)
{
  uint64_t now_ms = nn_unix_ms(), now_s = now_ms / 1000;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN];
  nn_wire_writer_t w;
  nn_peer_record_t *r = &d->rec;
  nn_err_t err;

  nn_peer_record_init(r);
  r->network = d->network;
  /* unix milliseconds: higher than any earlier run's, even one in the same second */
  r->seq = d->rec_seq + 1 > now_ms ? d->rec_seq + 1 : now_ms;
  r->issued_at = now_s;
  r->expires_at = now_s + d->cfg.record_lifetime_s;
  r->flags = (uint16_t)((d->has_addr || d->n_overlay ? NN_PEER_RECORD_F_INBOUND : 0) |
                        (d->relay_service ? NN_PEER_RECORD_F_RELAY : 0));
  r->n_addrs = 0;
  if (d->has_addr)
    r->addrs[r->n_addrs++] = d->self_addr;
  for (size_t i = 0; i < d->n_overlay; i++)
    r->addrs[r->n_addrs++] = d->overlay[i];
  for (size_t i = 0; i < d->n_relayed && r->n_addrs < NN_PEER_RECORD_MAX_ADDRS; i++)
    r->addrs[r->n_addrs++] = d->relayed[i];
  d->republish = 0;
  if ((err = nn_peer_record_sign(r, d->identity, d->cfg.rng))) {
    dlog(d, NN_LOG_WARN, "cannot sign our peer record: %s", nn_err_str(err));
    d->have_rec = 0;
    return;
  }
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  if ((err = nn_peer_record_encode(r, &w)) || (err = nn_dht_put(d->dht, &d->self, buf, w.len, nn_unix_ms()))) {
    dlog(d, NN_LOG_WARN, "cannot publish our peer record: %s", nn_err_str(err));
    d->have_rec = 0;
    return;
  }
  d->rec_seq = r->seq;
  d->have_rec = 1;
  d->st.published++;
  d->st.record_seq = r->seq;
  dlog(d, NN_LOG_DEBUG, "published our peer record, seq %llu", (unsigned long long)r->seq);
}

static void
publish_after_lookup(void *ctx, const nn_dht_lookup_result_t *res)
{
  nn_disco_t *d = ctx;
  dlog(d, NN_LOG_DEBUG, "self-lookup: %zu closest, %u RPCs, %u failed, %llu ms", res->nclosest, res->rpcs,
       res->failures, (unsigned long long)res->elapsed_ms);
  d->publishing = 0;
  if (!d->freeing)
    publish(d);
}

/* ---- periodic work ---- */

static void boot_round(nn_disco_t *d);

static void
maintain(nn_disco_t *d)
{
  size_t tsize = nn_dht_table_size(nn_dht_table(d->dht));
  if (tsize > 0 && !d->st.bootstrapped) {
    d->st.bootstrapped = 1;
    d->st.status[0] = 0;
    if (!d->boot_active)
      evtimer_del(d->ev_boot);
  }
  if (!d->cfg.hidden && (d->has_addr || d->n_relayed || d->n_overlay) && tsize > 0 && !d->publishing) {
    int due = !d->have_rec || d->republish || nn_unix_ms() / 1000 >= d->rec.issued_at + d->cfg.record_lifetime_s / 2;
    if (due && !d->have_rec) {
      /* first publish: a self-lookup first, so that the put reaches the closest nodes */
      d->publishing = 1;
      if (!nn_dht_lookup(d->dht, &d->self, 0, publish_after_lookup, d, nn_unix_ms()))
        d->publishing = 0;
    } else if (due) {
      publish(d);
    }
  }
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
  nn_disco_t *d = arg;
  (void)fd;
  (void)what;
  nn_dht_tick(d->dht, nn_unix_ms());
  maintain(d);
  schedule_tick(d);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
  nn_disco_t *d = arg;
  nn_node_id_t ids[64];
  (void)fd;
  (void)what;
  d->kicked = 0;
  /* in batches: nn_dht_on_unreachable may queue more (a send that finds no channel) */
  while (d->nunreach) {
    size_t take = d->nunreach < 64 ? d->nunreach : 64;
    memcpy(ids, d->unreach, take * sizeof(ids[0]));
    memmove(d->unreach, d->unreach + take, (d->nunreach - take) * sizeof(ids[0]));
    d->nunreach -= take;
    for (size_t i = 0; i < take; i++) {
      d->st.unreachable++;
      nn_dht_on_unreachable(d->dht, &ids[i], nn_unix_ms());
    }
  }
  maintain(d);
  schedule_tick(d);
}

/* ---- bootstrap ---- */

static void
boot_schedule_retry(nn_disco_t *d)
{
  char names[160] = "";
  size_t o = 0;
  for (size_t i = 0; i < d->seeds.n_dns && o < sizeof(names) - 1; i++)
    o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? "," : "", d->seeds.dns_names[i]);
  if (!d->seeds.n_dns)
    snprintf(names, sizeof(names), "(none configured)");
  uint32_t delay = d->boot_delay_ms ? d->boot_delay_ms : d->cfg.boot_retry_min_ms;
  /* formatted in full, then cut to the status field (a long seed list may not fit) */
  char line[sizeof(names) + 200];
  snprintf(line, sizeof(line),
           "no reachable bootstrap peer: tried %u addresses from the peer store, %u from DNS seeds %s, "
           "%u --peer addresses; retrying in %.3g s",
           d->tried_ps, d->tried_dns, names, d->tried_peer, delay / 1000.0);
  size_t ll = strlen(line) < sizeof(d->st.status) - 1 ? strlen(line) : sizeof(d->st.status) - 1;
  memcpy(d->st.status, line, ll);
  d->st.status[ll] = '\0';
  d->st.boot_retries++;
  d->st.boot_delay_ms = delay;
  d->st.boot_retry_at_ms = nn_mono_ms() + delay;
  struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
  evtimer_add(d->ev_boot, &tv);
  uint64_t next = (uint64_t)delay * 2;
  d->boot_delay_ms = next > d->cfg.boot_retry_max_ms ? d->cfg.boot_retry_max_ms : (uint32_t)next;
  dlog(d, NN_LOG_WARN, "%s", d->st.status);
}

static void
boot_check_done(nn_disco_t *d)
{
  if (!d->boot_active || d->boot_pending > 0)
    return;
  d->boot_active = 0;
  if (d->boot_ok) {
    d->st.bootstrapped = 1;
    d->st.status[0] = 0;
    d->boot_delay_ms = 0;
    return;
  }
  if (nn_dht_table_size(nn_dht_table(d->dht)) > 0) {
    d->st.bootstrapped = 1; /* reached through inbound peers meanwhile */
    return;
  }
  boot_schedule_retry(d);
}

/* A channel to a bootstrap address exists already: another tenant opened it (gossip's
 * --connect, a relay reservation) or our last round did. Bootstrap over it rather than call
 * the address unreachable: waiting for it if it is still in its handshake. */
static int
boot_over(nn_disco_t *d, uint64_t conn)
{
  nn_net_conn_info_t ci;
  dconn_t *c;
  if (!nn_net_conn_info(d->net, conn, &ci) || ci.inbound || ci.closing)
    return 0;
  if (!ci.established) {
    if (!(c = dconn_get(d, conn)) || c->boot)
      return 0;
    c->boot = 1;
    nn_net_hold(d->net, d->proto, conn, 1);
    d->boot_pending++; /* t_up finishes it */
    return 1;
  }
  if (!ci.has_id)
    return 0;
  nn_rpc_node_t n = { ci.id, ci.addr };
  nn_dht_add_contact(d->dht, &n, nn_unix_ms());
  if (!d->boot_ok) {
    d->boot_ok = 1;
    (void)nn_dht_lookup(d->dht, &d->self, 0, NULL, NULL, nn_unix_ms()); /* self-lookup */
  }
  return 1;
}

static int
boot_dial(nn_disco_t *d, const nn_addr_t *a, const nn_node_id_t *id)
{
  uint64_t conn;
  dconn_t *c;
  if (id && id_eq(id, &d->self))
    return 0;
  if (d->has_addr && nn_addr_equal(a, &d->self_addr))
    return 0;
  if ((conn = nn_net_find_addr(d->net, a)))
    return boot_over(d, conn); /* already dialling or connected, maybe for another tenant */
  (void)nn_peerstore_attempt(d->ps, a, nn_unix_ms() / 1000);
  if (nn_net_dial(d->net, d->proto, a, id, &conn) != NN_OK || !(c = dconn_get(d, conn))) {
    if (conn)
      nn_net_close(d->net, conn, 0);
    (void)nn_peerstore_failure(d->ps, a, nn_unix_ms() / 1000);
    return 0;
  }
  c->boot = 1;
  nn_net_hold(d->net, d->proto, conn, 1); /* not trimmed by the idle cap while bootstrapping */
  d->boot_pending++;
  return 1;
}

static void
dns_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
  dnsreq_t *r = arg;
  nn_disco_t *d = r->d;
  (void)ttl;
  r->done = 1;
  if (d->freeing)
    return;
  if (result == DNS_ERR_NONE) {
    for (int i = 0; i < count && i < 16; i++) {
      nn_addr_t a;
      if (type == DNS_IPv4_A)
        a = nn_addr_ipv4((const uint8_t *)addresses + 4 * i, d->cfg.default_port);
      else if (type == DNS_IPv6_AAAA)
        a = nn_addr_ipv6((const uint8_t *)addresses + 16 * i, d->cfg.default_port);
      else
        break;
      (void)nn_peerstore_add(d->ps, &a, NULL, nn_unix_ms() / 1000, NULL);
      d->tried_dns++;
      boot_dial(d, &a, NULL);
    }
  } else {
    dlog(d, NN_LOG_DEBUG, "DNS seed %s: %s", r->name, evdns_err_to_string(result));
  }
  d->boot_pending--;
  boot_check_done(d);
}

/* 1. the peer store: anchors, then a selection */
static void
boot_from_peerstore(nn_disco_t *d, uint64_t now_s)
{
  nn_addr_t a[64];
  size_t got = 0, nsel = 0;
  if (nn_peerstore_get_anchors(d->ps, a, NN_PEERSTORE_ANCHORS_MAX, &got) != NN_OK)
    got = 0;
  size_t cap = d->cfg.boot_select < 64 - got ? d->cfg.boot_select : 64 - got;
  if (nn_peerstore_select(d->ps, cap, now_s, d->cfg.rng, a + got, &nsel) != NN_OK)
    nsel = 0;
  for (size_t i = 0; i < got + nsel; i++) {
    nn_peerstore_entry_t e;
    int known = nn_peerstore_get(d->ps, &a[i], &e) == NN_OK && e.has_node_id;
    subject_t sub = { .node = 1 };
    if (known)
      sub.id = e.node_id;
    if (host_banned(d, &a[i]) || (known && subject_banned(d, &sub)))
      continue;
    d->tried_ps++;
    boot_dial(d, &a[i], known ? &e.node_id : NULL);
  }
}

static void
dns_start(nn_disco_t *d)
{
  if (d->cfg.dns_nameserver) {
    d->dns = evdns_base_new(d->base, 0);
    if (d->dns && evdns_base_nameserver_ip_add(d->dns, d->cfg.dns_nameserver) != 0) {
      dlog(d, NN_LOG_WARN, "DNS seeds: bad resolver address '%s' (want IP:PORT)", d->cfg.dns_nameserver);
      evdns_base_free(d->dns, 0);
      d->dns = NULL;
    }
  } else {
    d->dns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
  }
  if (!d->dns)
    dlog(d, NN_LOG_WARN, "DNS seeds: no resolver (check /etc/resolv.conf); skipping %zu seed names", d->seeds.n_dns);
}

/* 2. DNS seeds: A and AAAA of each name; dns_cb dials what comes back */
static void
boot_from_dns(nn_disco_t *d)
{
  if (d->seeds.n_dns && !d->dns)
    dns_start(d);
  for (size_t i = 0; d->dns && i < d->seeds.n_dns; i++) {
    for (int v6 = 0; v6 < 2; v6++) {
      dnsreq_t *r = calloc(1, sizeof(*r));
      if (!r)
        break;
      r->d = d;
      snprintf(r->name, sizeof(r->name), "%s", d->seeds.dns_names[i]);
      r->next = d->dnsreqs;
      d->dnsreqs = r;
      d->boot_pending++;
      struct evdns_request *q = v6 ? evdns_base_resolve_ipv6(d->dns, r->name, 0, dns_cb, r)
                                   : evdns_base_resolve_ipv4(d->dns, r->name, 0, dns_cb, r);
      if (!q && !r->done) {
        r->done = 1;
        d->boot_pending--;
      }
    }
  }
}

/* 3. static peers */
static void
boot_from_peers(nn_disco_t *d, uint64_t now_s)
{
  for (size_t i = 0; i < d->seeds.n_speers; i++) {
    speer_t *p = &d->seeds.speers[i];
    (void)nn_peerstore_add(d->ps, &p->addr, NULL, now_s, NULL);
    d->tried_peer++;
    boot_dial(d, &p->addr, p->has_id ? &p->id : NULL);
  }
}

static void
boot_round(nn_disco_t *d)
{
  uint64_t now_s = nn_unix_ms() / 1000;
  d->st.boot_rounds++;
  d->boot_active = 1;
  d->boot_ok = 0;
  d->boot_pending = 1; /* held until every source has been started */
  d->tried_ps = d->tried_dns = d->tried_peer = 0;
  boot_from_peerstore(d, now_s);
  boot_from_dns(d);
  boot_from_peers(d, now_s);
  d->boot_pending--;
  boot_check_done(d);
}

static void seeds_free(seeds_t *s);
static nn_err_t parse_seeds(const char *const *peers, size_t n_peers, const char *const *dns, size_t n_dns,
                            seeds_t *out, char *why, size_t why_len);

/* A round of only the static peers SIGHUP added, for a node that is bootstrapped already: they
 * join the routing table now rather than at the next round, which may never come. If none
 * answers, boot_check_done finds the table non-empty and schedules no retry. */
static void
boot_round_added(nn_disco_t *d, const speer_t *added, size_t n)
{
  uint64_t now_s = nn_unix_ms() / 1000;
  d->st.boot_rounds++;
  d->boot_active = 1;
  d->boot_ok = 0;
  d->boot_pending = 1;
  d->tried_ps = d->tried_dns = d->tried_peer = 0;
  for (size_t i = 0; i < n; i++) {
    (void)nn_peerstore_add(d->ps, &added[i].addr, NULL, now_s, NULL);
    d->tried_peer++;
    boot_dial(d, &added[i].addr, added[i].has_id ? &added[i].id : NULL);
  }
  d->boot_pending--;
  boot_check_done(d);
}

static int
speer_in(const seeds_t *s, const speer_t *p)
{
  for (size_t i = 0; i < s->n_speers; i++)
    if (nn_addr_equal(&s->speers[i].addr, &p->addr) && s->speers[i].has_id == p->has_id &&
        (!p->has_id || id_eq(&s->speers[i].id, &p->id)))
      return 1;
  return 0;
}

static int
dns_in(const seeds_t *s, const char *name)
{
  for (size_t i = 0; i < s->n_dns; i++)
    if (!strcmp(s->dns_names[i], name))
      return 1;
  return 0;
}

nn_err_t
nn_disco_set_seeds(nn_disco_t *d, const char *const *peers, size_t n_peers, const char *const *dns, size_t n_dns,
                   int *changed, char *why, size_t why_len)
{
  seeds_t s, old;
  speer_t *added = NULL;
  size_t nadd = 0, nrem = 0, dns_add = 0, dns_rem = 0;
  nn_err_t e;
  *changed = 0;
  if ((e = parse_seeds(peers, n_peers, dns, n_dns, &s, why, why_len)))
    return e;
  if (s.n_speers && !(added = calloc(s.n_speers, sizeof(*added)))) {
    seeds_free(&s);
    return NN_ERR_NOMEM;
  }
  for (size_t i = 0; i < s.n_speers; i++)
    if (!speer_in(&d->seeds, &s.speers[i]) && !speer_in(&(seeds_t){ .speers = added, .n_speers = nadd }, &s.speers[i]))
      added[nadd++] = s.speers[i];
  for (size_t i = 0; i < d->seeds.n_speers; i++)
    nrem += !speer_in(&s, &d->seeds.speers[i]);
  for (size_t i = 0; i < s.n_dns; i++)
    dns_add += !dns_in(&d->seeds, s.dns_names[i]);
  for (size_t i = 0; i < d->seeds.n_dns; i++)
    dns_rem += !dns_in(&s, d->seeds.dns_names[i]);
  if (!nadd && !nrem && !dns_add && !dns_rem && s.n_speers == d->seeds.n_speers) {
    seeds_free(&s); /* the same seeds (maybe in another order): nothing to do */
    free(added);
    return NN_OK;
  }
  old = d->seeds;
  d->seeds = s;
  seeds_free(&old);
  *changed = 1;
  dlog(d, NN_LOG_INFO, "seeds changed: %zu static peers (%zu new, %zu gone), %zu DNS seeds (%zu new, %zu gone)",
       d->seeds.n_speers, nadd, nrem, d->seeds.n_dns, dns_add, dns_rem);
  if (!d->st.bootstrapped && !d->boot_active && d->st.boot_rounds > 0) {
    /* waiting to retry: retry now with the new seeds, from the shortest delay */
    evtimer_del(d->ev_boot);
    d->boot_delay_ms = 0;
    boot_round(d);
  } else if (d->st.bootstrapped && !d->boot_active && nadd) {
    boot_round_added(d, added, nadd);
  } else if (nadd) {
    for (size_t i = 0; i < nadd; i++) /* a round is under way: the next one dials them */
      (void)nn_peerstore_add(d->ps, &added[i].addr, NULL, nn_unix_ms() / 1000, NULL);
  }
  free(added);
  return NN_OK;
}

static void
on_boot(evutil_socket_t fd, short what, void *arg)
{
  nn_disco_t *d = arg;
  (void)fd;
  (void)what;
  if (nn_dht_table_size(nn_dht_table(d->dht)) > 0 && d->st.boot_rounds > 0) {
    d->st.bootstrapped = 1;
    return;
  }
  if (!d->boot_active)
    boot_round(d);
  schedule_tick(d);
}

/* ---- lookups ---- */

static void
find_done(void *ctx, const nn_dht_lookup_result_t *res)
{
  find_t *f = ctx;
  nn_disco_t *d = f->d;
  nn_peer_record_t *rec = NULL;
  if (f->prev)
    f->prev->next = f->next;
  else
    d->finds = f->next;
  if (f->next)
    f->next->prev = f->prev;
  d->st.lookups_done++;
  if (res->found_value && (rec = malloc(sizeof(*rec)))) {
    nn_peer_record_status_t why;
    if (nn_peer_record_decode(res->value, res->value_len, rec) != NN_OK || !id_eq(&rec->node_id, &res->target) ||
        nn_peer_record_verify(rec, d->network, nn_unix_ms() / 1000, &why) != NN_OK) {
      free(rec);
      rec = NULL;
    }
  }
  if (rec)
    d->st.lookups_found++;
  f->cb(f->ctx, &res->target, rec);
  free(rec);
  free(f);
}

nn_err_t
nn_disco_find(nn_disco_t *d, const nn_node_id_t *id, nn_disco_find_cb cb, void *ctx)
{
  if (!d || !id || !cb)
    return NN_ERR_ARG;
  if (id_eq(id, &d->self)) {
    d->st.lookups_done++;
    if (d->have_rec)
      d->st.lookups_found++;
    cb(ctx, id, d->have_rec ? &d->rec : NULL);
    return NN_OK;
  }
  find_t *f = calloc(1, sizeof(*f));
  if (!f)
    return NN_ERR_NOMEM;
  f->d = d;
  f->cb = cb;
  f->ctx = ctx;
  f->next = d->finds;
  if (d->finds)
    d->finds->prev = f;
  d->finds = f;
  if (!nn_dht_lookup(d->dht, id, 1, find_done, f, nn_unix_ms())) {
    d->finds = f->next;
    if (f->next)
      f->next->prev = NULL;
    free(f);
    return NN_ERR_NOSPACE;
  }
  schedule_tick(d);
  return NN_OK;
}

void
nn_disco_cfg_default(nn_disco_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_dht_cfg_default(&cfg->dht);
  cfg->record_lifetime_s = 86400;
  cfg->default_port = 9800;
  cfg->boot_retry_min_ms = 1000;
  cfg->boot_retry_max_ms = 300000;
  cfg->boot_select = 8;
  nn_peerstore_config_default(&cfg->peerstore);
}

nn_err_t
nn_disco_parse_peer(const char *s, nn_addr_t *addr, nn_node_id_t *id, int *has_id)
{
  const char *at = strchr(s, '@');
  *has_id = 0;
  memset(id, 0, sizeof(*id));
  if (at) {
    char hex[2 * NN_NODE_ID_LEN + 1];
    if ((size_t)(at - s) != 2 * NN_NODE_ID_LEN)
      return NN_ERR_FORMAT;
    memcpy(hex, s, 2 * NN_NODE_ID_LEN);
    hex[2 * NN_NODE_ID_LEN] = 0;
    if (nn_hex_decode(id->b, NN_NODE_ID_LEN, hex) != NN_OK)
      return NN_ERR_FORMAT;
    *has_id = 1;
    s = at + 1;
  }
  if (nn_addr_parse(addr, s) != NN_OK || (!addr->port && addr->type != NN_ADDR_RELAY))
    return NN_ERR_FORMAT;
  if (addr->type == NN_ADDR_RELAY && (!*has_id || addr->port))
    return NN_ERR_FORMAT; /* a relay address names the relay: whom to reach through it must be said */
  return NN_OK;
}

/* The address DHT requests carry: the clearnet one, else an overlay's. */
static void
dht_self(nn_disco_t *d)
{
  if (d->has_addr)
    nn_dht_set_self_addr(d->dht, &d->self_addr);
  else
    nn_dht_set_self_addr(d->dht, d->n_overlay ? &d->overlay[0] : NULL);
}

void
nn_disco_set_advertised(nn_disco_t *d, const nn_addr_t *a)
{
  if (d->cfg.hidden || (a && d->has_addr && nn_addr_equal(a, &d->self_addr)) || (!a && !d->has_addr))
    return;
  d->has_addr = a != NULL;
  if (a)
    d->self_addr = *a;
  dht_self(d);
  d->republish = 1;
  kick(d);
}

void
nn_disco_set_overlay(nn_disco_t *d, const nn_addr_t *a, size_t n)
{
  if (n > NN_DISCO_MAX_OVERLAY)
    n = NN_DISCO_MAX_OVERLAY;
  if (d->cfg.hidden || (n == d->n_overlay && (!n || !memcmp(d->overlay, a, n * sizeof(*a)))))
    return;
  memset(d->overlay, 0, sizeof(d->overlay));
  if (n)
    memcpy(d->overlay, a, n * sizeof(*a));
  d->n_overlay = n;
  dht_self(d);
  d->republish = 1;
  kick(d);
}

void
nn_disco_set_relayed(nn_disco_t *d, const nn_addr_t *relays, size_t n, int relay_service)
{
  if (n > NN_PEER_RECORD_MAX_ADDRS - 1)
    n = NN_PEER_RECORD_MAX_ADDRS - 1;
  if (d->cfg.hidden || (n == d->n_relayed && relay_service == d->relay_service &&
                        (!n || !memcmp(d->relayed, relays, n * sizeof(*relays)))))
    return;
  memset(d->relayed, 0, sizeof(d->relayed));
  if (n)
    memcpy(d->relayed, relays, n * sizeof(*relays));
  d->n_relayed = n;
  d->relay_service = relay_service;
  d->republish = 1;
  kick(d); /* maintain() publishes from the loop */
}

/* ---- creation ---- */

static void set_why(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t n, const char *fmt, ...)
{
  if (!why || !n)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, n, fmt, ap);
  va_end(ap);
}

static void
seeds_free(seeds_t *s)
{
  for (size_t i = 0; i < s->n_dns; i++)
    free(s->dns_names[i]);
  free(s->dns_names);
  free(s->speers);
  memset(s, 0, sizeof(*s));
}

/* The static peers and DNS seeds, parsed and copied into \a out (all of them or none). */
static nn_err_t
parse_seeds(const char *const *peers, size_t n_peers, const char *const *dns, size_t n_dns, seeds_t *out, char *why,
            size_t why_len)
{
  seeds_t s = { 0 };
  nn_err_t e = NN_ERR_NOMEM;
  if (n_dns && !(s.dns_names = calloc(n_dns, sizeof(char *))))
    goto fail;
  for (size_t i = 0; i < n_dns; i++, s.n_dns++) {
    size_t l = dns[i] ? strlen(dns[i]) : 0;
    if (!l || l > NN_DISCO_DNS_NAME_MAX) {
      set_why(why, why_len, "DNS seed %zu is %s: give a host name", i + 1, l ? "longer than 253 characters" : "empty");
      e = NN_ERR_ARG;
      goto fail;
    }
    if (!(s.dns_names[i] = strdup(dns[i])))
      goto fail;
  }
  if (n_peers && !(s.speers = calloc(n_peers, sizeof(speer_t))))
    goto fail;
  for (size_t i = 0; i < n_peers; i++, s.n_speers++)
    if (!peers[i] || nn_disco_parse_peer(peers[i], &s.speers[i].addr, &s.speers[i].id, &s.speers[i].has_id)) {
      set_why(why, why_len,
              "--peer '%s': expected NODEID@HOST:PORT (64 hex digits) or HOST:PORT with a numeric host and a "
              "non-zero port",
              peers[i] ? peers[i] : "(null)");
      e = NN_ERR_FORMAT;
      goto fail;
    }
  *out = s;
  return NN_OK;
fail:
  seeds_free(&s);
  return e;
}

/* Defaults for what the caller left at zero, and owned copies of every string. */
static nn_err_t
copy_config(nn_disco_t *d, const nn_disco_cfg_t *cfg, char *why, size_t why_len)
{
  d->cfg = *cfg;
  if (!d->cfg.record_lifetime_s)
    d->cfg.record_lifetime_s = 86400;
  if (d->cfg.record_lifetime_s > NN_PEER_RECORD_MAX_LIFETIME)
    d->cfg.record_lifetime_s = NN_PEER_RECORD_MAX_LIFETIME;
  if (!d->cfg.default_port)
    d->cfg.default_port = 9800;
  if (!d->cfg.boot_retry_min_ms)
    d->cfg.boot_retry_min_ms = 1000;
  if (d->cfg.boot_retry_max_ms < d->cfg.boot_retry_min_ms)
    d->cfg.boot_retry_max_ms = d->cfg.boot_retry_min_ms;
  if (!d->cfg.boot_select)
    d->cfg.boot_select = 8;
  if (!d->cfg.dht.rpc_timeout_ms)
    d->cfg.dht.rpc_timeout_ms = 2000;
  d->cfg.dns_seeds = d->cfg.peers = NULL;
  d->cfg.advertise = d->cfg.dns_nameserver = NULL;
  if (cfg->dns_nameserver && !(d->dns_ns = strdup(cfg->dns_nameserver)))
    return NN_ERR_NOMEM;
  d->cfg.dns_nameserver = d->dns_ns;
  return parse_seeds(cfg->peers, cfg->n_peers, cfg->dns_seeds, cfg->n_dns_seeds, &d->seeds, why, why_len);
}

static nn_err_t
open_peerstore(nn_disco_t *d, const char *datadir, char *why, size_t why_len)
{
  char path[4096], ps_why[512];
  nn_err_t err;
  if ((size_t)snprintf(path, sizeof(path), "%s/peers.sqlite", datadir) >= sizeof(path)) {
    set_why(why, why_len, "data directory path too long: %s", datadir);
    return NN_ERR_ARG;
  }
  if ((err = nn_peerstore_open(&d->ps, path, &d->cfg.peerstore, d->cfg.rng, ps_why, sizeof(ps_why))))
    set_why(why, why_len, "%s (%s)", ps_why, nn_peerstore_file_hint(err));
  return err;
}

/* The address published in our record (none for a hidden node). */
static nn_err_t
set_address(nn_disco_t *d, const char *adv, char *why, size_t why_len)
{
  if (d->cfg.hidden || !adv)
    return NN_OK;
  if (nn_addr_parse(&d->self_addr, adv) != NN_OK || !d->self_addr.port) {
    set_why(why, why_len, "advertised address '%s' is not a HOST:PORT with a numeric host and a non-zero port", adv);
    return NN_ERR_FORMAT;
  }
  if (nn_addr_is_any(&d->self_addr)) {
    set_why(why, why_len, "advertised address '%s' is a wildcard: give the address peers reach", adv);
    return NN_ERR_ARG;
  }
  d->has_addr = 1;
  return NN_OK;
}

static nn_err_t
start_dht(nn_disco_t *d, char *why, size_t why_len)
{
  nn_dht_cfg_t dc = d->cfg.dht;
  nn_err_t err;
  dc.validate = validate;
  dc.newer = newer;
  dc.validate_ctx = d;
  dc.has_self_addr = d->has_addr;
  dc.self_addr = d->self_addr;
  dc.rng = d->cfg.rng;
  d->cfg.dht = dc;
  nn_dht_io_t io = { io_send, io_penalize, d };
  if ((err = nn_dht_new(&d->dht, &d->self, &dc, &io, nn_unix_ms())))
    set_why(why, why_len, "cannot create the DHT: %s (check k, alpha and the table limits)", nn_err_str(err));
  return err;
}

/* Tenant of the manager for the DHT's kinds, and its policy. */
static nn_err_t
join_manager(nn_disco_t *d, char *why, size_t why_len)
{
  nn_net_proto_t p = { "dht", NN_KIND_DHT_FIRST, NN_KIND_DHT_LAST, t_up, t_message, t_down, d, NULL };
  nn_net_policy_t pol = { .allowed = policy_allowed, .admit = policy_admit, .penalize = policy_penalize, .ctx = d };
  nn_err_t err = nn_net_register(d->net, &p, &d->proto);
  if (err) {
    set_why(why, why_len, "cannot register the DHT's message kinds with the connection manager: %s", nn_err_str(err));
    return err;
  }
  d->registered = 1;
  nn_net_set_policy(d->net, &pol);
  return NN_OK;
}

nn_err_t
nn_disco_new(nn_disco_t **out, nn_net_t *net, const nn_identity_t *identity, uint32_t network, const char *datadir,
             const nn_disco_cfg_t *cfg, char *why, size_t why_len)
{
  nn_disco_t *d;
  nn_err_t err;

  set_why(why, why_len, "%s", "");
  *out = NULL;
  if (!net || !identity || !datadir || !cfg) {
    set_why(why, why_len, "discovery: missing connection manager, identity, data directory or config");
    return NN_ERR_ARG;
  }
  if (!(d = calloc(1, sizeof(*d))))
    return NN_ERR_NOMEM;
  d->net = net;
  d->base = nn_net_base(net);
  d->identity = identity;
  d->self = *nn_identity_node_id(identity);
  d->network = network;
  if ((err = copy_config(d, cfg, why, why_len)) || (err = open_peerstore(d, datadir, why, why_len)) ||
      (err = set_address(d, cfg->advertise, why, why_len)) || (err = start_dht(d, why, why_len)))
    goto fail;
  err = NN_ERR_NOMEM;
  if (!(d->ev_tick = evtimer_new(d->base, on_tick, d)) || !(d->ev_kick = evtimer_new(d->base, on_kick, d)) ||
      !(d->ev_boot = evtimer_new(d->base, on_boot, d)))
    goto fail;
  if ((err = join_manager(d, why, why_len)))
    goto fail;
  event_active(d->ev_boot, EV_TIMEOUT, 0); /* first bootstrap round from the loop */
  schedule_tick(d);
  *out = d;
  return NN_OK;
fail:
  if (why && !why[0])
    set_why(why, why_len, "cannot start discovery: %s", nn_err_str(err));
  nn_disco_free(d);
  return err;
}

typedef struct anchor_walk_t {
  nn_addr_t a[NN_PEERSTORE_ANCHORS_MAX];
  size_t n;
  int held;
} anchor_walk_t;

static void
add_anchor(void *ctx, const nn_net_conn_info_t *c)
{
  anchor_walk_t *w = ctx;
  if (w->n < NN_PEERSTORE_ANCHORS_MAX && !c->inbound && c->established && c->has_id && !c->closing &&
      c->held == w->held)
    w->a[w->n++] = c->addr;
}

void
nn_disco_free(nn_disco_t *d)
{
  if (!d)
    return;
  /* anchors: identified outbound peers, the channels other tenants hold (gossip) first */
  if (d->ps && d->registered) {
    anchor_walk_t w = { .held = 1 };
    nn_net_each(d->net, add_anchor, &w);
    w.held = 0;
    nn_net_each(d->net, add_anchor, &w);
    if (w.n)
      (void)nn_peerstore_set_anchors(d->ps, w.a, w.n);
  }
  d->freeing = 1;
  if (d->registered) {
    nn_net_unregister(d->net, d->proto);
    nn_net_set_policy(d->net, NULL);
  }
  if (d->dns)
    evdns_base_free(d->dns, 1); /* callbacks see freeing */
  for (dnsreq_t *r = d->dnsreqs, *n; r; r = n) {
    n = r->next;
    free(r);
  }
  for (dconn_t *c = d->dconns, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  for (find_t *f = d->finds, *n; f; f = n) {
    n = f->next;
    free(f);
  }
  nn_dht_free(d->dht);
  nn_peerstore_close(d->ps);
  if (d->ev_tick)
    event_free(d->ev_tick);
  if (d->ev_kick)
    event_free(d->ev_kick);
  if (d->ev_boot)
    event_free(d->ev_boot);
  seeds_free(&d->seeds);
  free(d->dns_ns);
  free(d);
}

/* ---- accessors ---- */

void
nn_disco_stats(const nn_disco_t *d, nn_disco_stats_t *out)
{
  const nn_net_stats_t *ns = nn_net_stats(d->net);
  *out = d->st;
  out->table_size = nn_dht_table_size(nn_dht_table(d->dht));
  out->values = nn_dht_values(d->dht);
  out->channels = ns->conns;
  out->outbound = ns->conns - ns->inbound;
}

int
nn_disco_addr(const nn_disco_t *d, nn_addr_t *out)
{
  if (d->has_addr)
    *out = d->self_addr;
  return d->has_addr;
}

void
nn_disco_peer_string(const nn_disco_t *d, char *out, size_t n)
{
  char hex[2 * NN_NODE_ID_LEN + 1], a[NN_ADDR_STR_MAX];
  if ((!d->has_addr && !d->n_overlay) || d->cfg.hidden) {
    if (n)
      out[0] = 0;
    return;
  }
  nn_node_id_to_hex(&d->self, hex);
  nn_addr_format(d->has_addr ? &d->self_addr : &d->overlay[0], a);
  snprintf(out, n, "%s@%s", hex, a);
}
const nn_node_id_t *
nn_disco_node_id(const nn_disco_t *d)
{
  return &d->self;
}
nn_peerstore_t *
nn_disco_peerstore(nn_disco_t *d)
{
  return d->ps;
}
nn_dht_t *
nn_disco_dht(nn_disco_t *d)
{
  return d->dht;
}
const nn_peer_record_t *
nn_disco_record(const nn_disco_t *d)
{
  return d->have_rec ? &d->rec : NULL;
}
