/*
 * The discovery node: glue between the DHT core (dht.c), the TCP driver of the secure channel
 * (transport/tcp.c), the peer store and signed peer records. See disco.h.
 *
 * Re-entrancy. The DHT core calls io.send and io.penalize from inside its own functions; the TCP
 * driver may report a closed connection synchronously from nn_tcp_conn_send/close when called
 * outside that connection's callbacks. So nothing that re-enters the DHT (nn_dht_on_unreachable)
 * runs from a close callback: it is queued and handled by a zero-delay "kick" event. Closes we
 * decide ourselves (bans) are queued the same way.
 */
#include "dht/disco.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "lib/hex.h"

#define QUEUE_MAX 64        /* messages queued on a channel that is still handshaking */
#define PENALTY_CLOSE 10    /* a channel closed for a protocol or authentication failure */
#define MAX_UNREACH 1024

typedef struct qmsg_t {
  struct qmsg_t *next;
  size_t len;
  uint8_t b[];
} qmsg_t;

typedef struct dconn_t {
  struct dconn_t *prev, *next;
  nn_disco_t *d;
  nn_tcp_conn_t *tcp;
  nn_addr_t addr;       /* dialled address, or the inbound peer's address */
  nn_addr_t pen_addr;   /* the address its penalties and bans go to (see pen_key) */
  uint64_t serial;      /* the handle the DHT gets for it (never reused) */
  nn_node_id_t id;      /* expected (outbound) or authenticated id */
  int has_id;
  int outbound, established, boot, closing, requests;
  int keep;             /* the app's channel: not trimmed, not counted against max_channels */
  int app_known;        /* on_up was called (so on_down is owed) */
  qmsg_t *q, **qtail;
  size_t qn;
  uint64_t last_used;   /* monotonic ms */
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
  char *name;
  int done;
} dnsreq_t;

typedef struct speer_t {
  nn_addr_t addr;
  nn_node_id_t id;
  int has_id;
} speer_t;

struct nn_disco_t {
  struct event_base *base;
  const nn_identity_t *identity;
  nn_node_id_t self;
  uint32_t network;
  nn_disco_cfg_t cfg;
  char **dns_names;
  size_t n_dns;
  char *dns_ns;              /* the configured resolver, if any (owned copy) */
  speer_t *speers;
  size_t n_speers;
  nn_peerstore_t *ps;
  nn_tcp_listener_t *listener;
  nn_dht_t *dht;
  uint64_t next_serial;
  int has_addr;
  nn_addr_t self_addr;
  struct evdns_base *dns;
  dnsreq_t *dnsreqs;
  dconn_t *conns;
  find_t *finds;
  struct event *ev_tick, *ev_kick, *ev_boot;
  int kicked, freeing;
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
  nn_disco_app_t app;
  char hexid[17];
};

/* ---- small helpers ---- */

static uint64_t
unix_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void dlog(nn_disco_t *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
dlog(nn_disco_t *d, int level, const char *fmt, ...)
{
  char line[768];
  int n = snprintf(line, sizeof(line), "disco %s: ", d->hexid);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  if (d->cfg.log)
    d->cfg.log(d->cfg.log_ctx, level, line);
  else if (level >= NN_DISCO_LOG_INFO)
    fprintf(stderr, "%s\n", line);
}

static int
addr_from_sockaddr(const struct sockaddr *sa, nn_addr_t *out)
{
  memset(out, 0, sizeof(*out));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    *out = nn_addr_ipv4((const uint8_t *)&in->sin_addr, ntohs(in->sin_port));
    return 1;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    *out = nn_addr_ipv6(in6->sin6_addr.s6_addr, ntohs(in6->sin6_port));
    return 1;
  }
  return 0;
}

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
static nn_addr_t
pen_key(const nn_addr_t *a, int inbound)
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
  uint64_t now = unix_ms(), dl = nn_dht_deadline(d->dht);
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

/* ---- penalties and bans ---- */

static int
host_banned(nn_disco_t *d, const nn_addr_t *a)
{
  int banned = 0;
  if (nn_peerstore_is_banned(d->ps, a, unix_ms() / 1000, &banned, NULL, NULL))
    return 0;
  return banned;
}

static void
penalize_addr(nn_disco_t *d, const nn_addr_t *a, int points, const char *why)
{
  char s[NN_ADDR_STR_MAX];
  int banned = 0;
  if (points <= 0)
    return;
  d->st.penalties++;
  nn_addr_format(a, s);
  if (nn_peerstore_penalize(d->ps, a, points, why, unix_ms() / 1000, &banned)) {
    dlog(d, NN_DISCO_LOG_WARN, "peer store: cannot record a penalty for %s: %s", s,
         nn_peerstore_last_error(d->ps));
    return;
  }
  dlog(d, NN_DISCO_LOG_DEBUG, "penalized %s by %d: %s", s, points, why);
  if (!banned)
    return;
  d->st.bans++;
  dlog(d, NN_DISCO_LOG_WARN, "banned host of %s (%s); closing its channels", s, why);
  for (dconn_t *c = d->conns; c; c = c->next)
    if (same_ban_key(&c->pen_addr, a))
      c->closing = 1;
  kick(d);
}

static void
io_penalize(void *ctx, const nn_node_id_t *id, const nn_addr_t *addr, int points, const char *why)
{
  nn_disco_t *d = ctx;
  const nn_addr_t *key = NULL;
  /* the DHT names the address a message came from: map it to its connection's ban key */
  for (dconn_t *c = d->conns; c && addr && !key; c = c->next)
    if (nn_addr_equal(&c->addr, addr))
      key = &c->pen_addr;
  for (dconn_t *c = d->conns; c && !addr && id && !key; c = c->next)
    if (c->has_id && id_eq(&c->id, id))
      key = &c->pen_addr;
  if (!key)
    key = addr;
  if (key)
    penalize_addr(d, key, points, why);
}

/* ---- channels ---- */

static void on_established(void *ctx, nn_tcp_conn_t *conn, const nn_chan_info_t *info);
static void on_message(void *ctx, nn_tcp_conn_t *conn, const uint8_t *msg, size_t len);
static void on_closed(void *ctx, nn_tcp_conn_t *conn, nn_close_reason_t reason);

static void
conn_unlink_free(nn_disco_t *d, dconn_t *c)
{
  if (c->prev)
    c->prev->next = c->next;
  else
    d->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  for (qmsg_t *m = c->q, *n; m; m = n) {
    n = m->next;
    free(m);
  }
  free(c);
}

static dconn_t *
conn_link(nn_disco_t *d)
{
  dconn_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->d = d;
  c->serial = ++d->next_serial;
  c->qtail = &c->q;
  c->last_used = mono_ms();
  c->next = d->conns;
  if (d->conns)
    d->conns->prev = c;
  d->conns = c;
  return c;
}

/* An open (or opening, for outbound) channel to \a id; established ones first. */
static dconn_t *
conn_by_id(nn_disco_t *d, const nn_node_id_t *id, int established_only)
{
  dconn_t *opening = NULL;
  for (dconn_t *c = d->conns; c; c = c->next) {
    if (!c->has_id || c->closing || !id_eq(&c->id, id))
      continue;
    if (c->established)
      return c;
    if (c->outbound && !opening)
      opening = c;
  }
  return established_only ? NULL : opening;
}

static size_t
count_outbound(const nn_disco_t *d)
{
  size_t n = 0;
  for (const dconn_t *c = d->conns; c; c = c->next)
    n += c->outbound && !c->closing && !c->keep;
  return n;
}

/* Close least recently used idle outbound channels above the cap (idle: established, nothing
 * queued, unused for longer than an RPC timeout, so no answer is lost). */
static void
trim_channels(nn_disco_t *d)
{
  uint64_t now = mono_ms();
  size_t n = count_outbound(d);
  while (n > d->cfg.max_channels) {
    dconn_t *victim = NULL;
    for (dconn_t *c = d->conns; c; c = c->next)
      if (c->outbound && c->established && !c->closing && !c->boot && !c->qn && !c->keep &&
          now - c->last_used >= d->cfg.dht.rpc_timeout_ms && (!victim || c->last_used < victim->last_used))
        victim = c;
    if (!victim)
      return; /* all busy: over the cap for now, trimmed on a later tick */
    victim->closing = 1;
    n--;
    kick(d);
  }
}

static dconn_t *
open_conn(nn_disco_t *d, const nn_addr_t *addr, const nn_node_id_t *id, int boot)
{
  char hp[NN_ADDR_STR_MAX];
  nn_tcp_conn_config_t cc;
  nn_tcp_conn_t *t;
  dconn_t *c;
  if (addr->type != NN_ADDR_IPV4 && addr->type != NN_ADDR_IPV6)
    return NULL; /* onion/I2P: no transport yet */
  if (host_banned(d, addr)) {
    d->st.refused_banned++;
    return NULL;
  }
  nn_addr_format(addr, hp);
  if (!(c = conn_link(d)))
    return NULL;
  memset(&cc, 0, sizeof(cc));
  cc.identity = d->cfg.hidden ? NULL : d->identity;
  cc.expected_peer = id;
  cc.chan.network = d->network;
  cc.chan.max_message = d->cfg.max_message;
  cc.chan.rng = d->cfg.rng;
  cc.handshake_timeout_ms = d->cfg.handshake_timeout_ms;
  cc.linger_ms = d->cfg.linger_ms;
  cc.cb.on_established = on_established;
  cc.cb.on_message = on_message;
  cc.cb.on_closed = on_closed;
  cc.cb.ctx = d;
  if (nn_tcp_connect(&t, d->base, hp, &cc) != NN_OK) {
    dlog(d, NN_DISCO_LOG_DEBUG, "cannot connect to %s: %s", hp, strerror(errno));
    conn_unlink_free(d, c);
    return NULL;
  }
  c->tcp = t;
  c->addr = *addr;
  c->pen_addr = pen_key(addr, 0);
  c->outbound = 1;
  c->boot = boot;
  if (id) {
    c->id = *id;
    c->has_id = 1;
  }
  nn_tcp_conn_set_user(t, c);
  return c;
}

static void
enqueue(dconn_t *c, const uint8_t *msg, size_t len)
{
  qmsg_t *m;
  if (c->qn >= QUEUE_MAX || !(m = malloc(sizeof(*m) + len)))
    return; /* dropped: the DHT times the request out */
  m->next = NULL;
  m->len = len;
  memcpy(m->b, msg, len);
  *c->qtail = m;
  c->qtail = &m->next;
  c->qn++;
}

static void
io_send(void *ctx, const nn_rpc_node_t *to, void *reply_conn, const uint8_t *msg, size_t len)
{
  nn_disco_t *d = ctx;
  dconn_t *c = NULL;
  d->st.msgs_out++;
  if (reply_conn) {
    /* The handle is the connection's serial number, not a pointer: a relayed answer can come
     * after the connection closed (dht.h), and is then dropped. */
    uint64_t serial = (uint64_t)(uintptr_t)reply_conn;
    for (c = d->conns; c && c->serial != serial; c = c->next)
      ;
    if (c && c->tcp && !c->closing) {
      c->last_used = mono_ms();
      (void)nn_tcp_conn_send(c->tcp, msg, len); /* from inside its on_message: deferred write */
    }
    return;
  }
  if (id_eq(&to->id, &d->self))
    return;
  c = conn_by_id(d, &to->id, 0);
  if (c && c->established) {
    c->last_used = mono_ms();
    c->requests = 1;
    (void)nn_tcp_conn_send(c->tcp, msg, len); /* may report a close: c is not used after */
    return;
  }
  if (!c) {
    if (!(c = open_conn(d, &to->addr, &to->id, 0))) {
      defer_unreachable(d, &to->id);
      return;
    }
    trim_channels(d);
  }
  c->requests = 1;
  enqueue(c, msg, len);
}

static void
boot_check_done(nn_disco_t *d);

/* The app learns of every established channel (the DHT's too: a peer may promote an inbound
 * DHT channel to gossip by saying hello on it). */
static void
app_up(nn_disco_t *d, dconn_t *c)
{
  if (!d->app.on_up || c->closing)
    return;
  c->app_known = 1;
  d->app.on_up(d->app.ctx, c->serial, c->outbound, &c->addr, c->has_id ? &c->id : NULL);
}

static void
on_established(void *ctx, nn_tcp_conn_t *conn, const nn_chan_info_t *info)
{
  nn_disco_t *d = ctx;
  dconn_t *c = nn_tcp_conn_user(conn);
  uint64_t now_s = unix_ms() / 1000;
  if (!c && !nn_tcp_conn_is_inbound(conn)) {
    nn_tcp_conn_close(conn);
    return;
  }
  if (!c) { /* inbound */
    nn_addr_t a, k;
    socklen_t sl;
    if (!addr_from_sockaddr(nn_tcp_conn_sockaddr(conn, &sl), &a) || host_banned(d, (k = pen_key(&a, 1), &k))) {
      /* The listener has no admission hook before the handshake: refuse right after it. */
      d->st.refused_banned++;
      nn_tcp_conn_close(conn);
      return;
    }
    if (!(c = conn_link(d))) {
      nn_tcp_conn_close(conn);
      return;
    }
    c->tcp = conn;
    c->addr = a;
    c->pen_addr = k;
    c->established = 1;
    if (info->peer_identified) {
      c->id = info->peer_id;
      c->has_id = 1;
    }
    nn_tcp_conn_set_user(conn, c);
    app_up(d, c);
    return;
  }
  c->established = 1;
  c->id = info->peer_id; /* the responder always proves its id (the expected one, if any) */
  c->has_id = 1;
  c->last_used = mono_ms();
  (void)nn_peerstore_add(d->ps, &c->addr, NULL, now_s, NULL);
  (void)nn_peerstore_success(d->ps, &c->addr, &c->id, now_s, NULL);
  for (qmsg_t *m = c->q, *n; m; m = n) {
    n = m->next;
    (void)nn_tcp_conn_send(conn, m->b, m->len);
    free(m);
  }
  c->q = NULL;
  c->qtail = &c->q;
  c->qn = 0;
  app_up(d, c);
  if (c->boot) {
    c->boot = 0;
    d->boot_pending--;
    nn_rpc_node_t n = { c->id, c->addr };
    nn_dht_add_contact(d->dht, &n, unix_ms());
    if (!d->boot_ok) {
      d->boot_ok = 1;
      (void)nn_dht_lookup(d->dht, &d->self, 0, NULL, NULL, unix_ms()); /* self-lookup */
    }
    boot_check_done(d);
    schedule_tick(d);
  }
}

static void
on_message(void *ctx, nn_tcp_conn_t *conn, const uint8_t *msg, size_t len)
{
  nn_disco_t *d = ctx;
  dconn_t *c = nn_tcp_conn_user(conn);
  if (!c || c->closing)
    return;
  if (len && (msg[0] & 0xf0) != 0x10 && d->app.on_message) {
    d->app.on_message(d->app.ctx, c->serial, msg, len);
    return;
  }
  d->st.msgs_in++;
  c->last_used = mono_ms();
  /* The DHT refuses (and penalizes) what is not one of its kinds. */
  (void)nn_dht_on_message(d->dht, (void *)(uintptr_t)c->serial, c->has_id ? &c->id : NULL, &c->addr, msg, len, unix_ms());
  schedule_tick(d);
}

static void
on_closed(void *ctx, nn_tcp_conn_t *conn, nn_close_reason_t reason)
{
  nn_disco_t *d = ctx;
  dconn_t *c = nn_tcp_conn_user(conn);
  nn_addr_t a;
  socklen_t sl;
  memset(&a, 0, sizeof(a));
  if (d->freeing)
    return;
  if (reason == NN_CLOSE_PROTOCOL || reason == NN_CLOSE_AUTH || reason == NN_CLOSE_TOO_LARGE) {
    if (c)
      a = c->pen_addr;
    else if (addr_from_sockaddr(nn_tcp_conn_sockaddr(conn, &sl), &a))
      a = pen_key(&a, nn_tcp_conn_is_inbound(conn));
    if (c || a.type) {
      char why[96];
      snprintf(why, sizeof(why), "channel closed: %s", nn_tcp_close_reason_str(reason));
      penalize_addr(d, &a, PENALTY_CLOSE, why);
    }
  }
  if (!c)
    return;
  {
    char as[NN_ADDR_STR_MAX];
    nn_addr_format(&c->addr, as);
    dlog(d, NN_DISCO_LOG_DEBUG, "%s channel %s %s closed: %s", c->outbound ? "outbound" : "inbound",
         c->established ? "to" : "(never established) to", as, nn_tcp_close_reason_str(reason));
  }
  nn_tcp_conn_set_user(conn, NULL);
  if (c->outbound && !c->established) {
    (void)nn_peerstore_failure(d->ps, &c->addr, unix_ms() / 1000);
    if (c->has_id)
      defer_unreachable(d, &c->id);
  } else if (c->has_id && c->requests && reason != NN_CLOSE_LOCAL) {
    int other = 0;
    for (dconn_t *o = d->conns; o; o = o->next)
      other |= o != c && o->established && o->has_id && id_eq(&o->id, &c->id);
    if (!other)
      defer_unreachable(d, &c->id);
  }
  int was_boot = c->boot;
  int owed = c->app_known || (c->keep && c->outbound);
  uint64_t serial = c->serial;
  conn_unlink_free(d, c);
  if (owed && d->app.on_down)
    d->app.on_down(d->app.ctx, serial, reason);
  if (was_boot) {
    d->boot_pending--;
    boot_check_done(d);
  }
}

/* ---- the value check: peer records ---- */

static int
validate(void *ctx, const nn_node_id_t *key, const uint8_t *value, size_t len, uint64_t now_ms,
         uint64_t *seq, uint64_t *expires_ms)
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

/* ---- publishing our record ---- */

static void
publish(nn_disco_t *d)
{
  uint64_t now_ms = unix_ms(), now_s = now_ms / 1000;
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
  r->flags = NN_PEER_RECORD_F_INBOUND;
  r->n_addrs = 1;
  r->addrs[0] = d->self_addr;
  if ((err = nn_peer_record_sign(r, d->identity, d->cfg.rng))) {
    dlog(d, NN_DISCO_LOG_WARN, "cannot sign our peer record: %s", nn_err_str(err));
    d->have_rec = 0;
    return;
  }
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  if ((err = nn_peer_record_encode(r, &w)) ||
      (err = nn_dht_put(d->dht, &d->self, buf, w.len, unix_ms()))) {
    dlog(d, NN_DISCO_LOG_WARN, "cannot publish our peer record: %s", nn_err_str(err));
    d->have_rec = 0;
    return;
  }
  d->rec_seq = r->seq;
  d->have_rec = 1;
  d->st.published++;
  d->st.record_seq = r->seq;
  dlog(d, NN_DISCO_LOG_DEBUG, "published our peer record, seq %llu", (unsigned long long)r->seq);
}

static void
publish_after_lookup(void *ctx, const nn_dht_lookup_result_t *res)
{
  nn_disco_t *d = ctx;
  dlog(d, NN_DISCO_LOG_DEBUG, "self-lookup: %zu closest, %u RPCs, %u failed, %llu ms", res->nclosest, res->rpcs,
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
  if (!d->cfg.hidden && d->has_addr && tsize > 0 && !d->publishing) {
    int due = !d->have_rec ||
              unix_ms() / 1000 >= d->rec.issued_at + d->cfg.record_lifetime_s / 2;
    if (due && !d->have_rec) {
      /* first publish: a self-lookup first, so that the put reaches the closest nodes */
      d->publishing = 1;
      if (!nn_dht_lookup(d->dht, &d->self, 0, publish_after_lookup, d, unix_ms()))
        d->publishing = 0;
    } else if (due) {
      publish(d);
    }
  }
  trim_channels(d);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
  nn_disco_t *d = arg;
  (void)fd;
  (void)what;
  nn_dht_tick(d->dht, unix_ms());
  maintain(d);
  schedule_tick(d);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
  nn_disco_t *d = arg;
  (void)fd;
  (void)what;
  d->kicked = 0;
  for (dconn_t *c = d->conns, *n; c; c = n) {
    n = c->next;
    if (c->closing && c->tcp) {
      nn_tcp_conn_close(c->tcp); /* on_closed frees c, and nothing else */
    }
  }
  size_t n = d->nunreach;
  nn_node_id_t ids[64];
  while (n) {
    size_t take = n < 64 ? n : 64;
    memcpy(ids, d->unreach, take * sizeof(ids[0]));
    memmove(d->unreach, d->unreach + take, (d->nunreach - take) * sizeof(ids[0]));
    d->nunreach -= take;
    n -= take;
    for (size_t i = 0; i < take; i++) {
      d->st.unreachable++;
      nn_dht_on_unreachable(d->dht, &ids[i], unix_ms());
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
  for (size_t i = 0; i < d->n_dns && o < sizeof(names) - 1; i++)
    o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? "," : "", d->dns_names[i]);
  if (!d->n_dns)
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
  d->st.boot_retry_at_ms = mono_ms() + delay;
  struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
  evtimer_add(d->ev_boot, &tv);
  uint64_t next = (uint64_t)delay * 2;
  d->boot_delay_ms = next > d->cfg.boot_retry_max_ms ? d->cfg.boot_retry_max_ms : (uint32_t)next;
  dlog(d, NN_DISCO_LOG_WARN, "%s", d->st.status);
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

static int
boot_dial(nn_disco_t *d, const nn_addr_t *a, const nn_node_id_t *id)
{
  if (id && id_eq(id, &d->self))
    return 0;
  if (d->has_addr && nn_addr_equal(a, &d->self_addr))
    return 0;
  for (dconn_t *c = d->conns; c; c = c->next)
    if (c->outbound && nn_addr_equal(&c->addr, a))
      return 0; /* already dialling or connected */
  (void)nn_peerstore_attempt(d->ps, a, unix_ms() / 1000);
  dconn_t *c = open_conn(d, a, id, 1);
  if (!c) {
    (void)nn_peerstore_failure(d->ps, a, unix_ms() / 1000);
    return 0;
  }
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
      (void)nn_peerstore_add(d->ps, &a, NULL, unix_ms() / 1000, NULL);
      d->tried_dns++;
      boot_dial(d, &a, NULL);
    }
  } else {
    dlog(d, NN_DISCO_LOG_DEBUG, "DNS seed %s: %s", r->name, evdns_err_to_string(result));
  }
  d->boot_pending--;
  boot_check_done(d);
}

static void
boot_round(nn_disco_t *d)
{
  uint64_t now_s = unix_ms() / 1000;
  nn_addr_t a[64];
  size_t got = 0;
  d->st.boot_rounds++;
  d->boot_active = 1;
  d->boot_ok = 0;
  d->boot_pending = 1; /* held until every source has been started */
  d->tried_ps = d->tried_dns = d->tried_peer = 0;
  /* 1. the peer store: anchors, then a selection */
  if (nn_peerstore_get_anchors(d->ps, a, NN_PEERSTORE_ANCHORS_MAX, &got) != NN_OK)
    got = 0;
  size_t nsel = 0, cap = d->cfg.boot_select < 64 - got ? d->cfg.boot_select : 64 - got;
  if (nn_peerstore_select(d->ps, cap, now_s, d->cfg.rng, a + got, &nsel) != NN_OK)
    nsel = 0;
  for (size_t i = 0; i < got + nsel; i++) {
    nn_peerstore_entry_t e;
    int known = nn_peerstore_get(d->ps, &a[i], &e) == NN_OK && e.has_node_id;
    if (host_banned(d, &a[i]))
      continue;
    d->tried_ps++;
    boot_dial(d, &a[i], known ? &e.node_id : NULL);
  }
  /* 2. DNS seeds */
  if (d->n_dns && !d->dns) {
    if (d->cfg.dns_nameserver) {
      d->dns = evdns_base_new(d->base, 0);
      if (d->dns && evdns_base_nameserver_ip_add(d->dns, d->cfg.dns_nameserver) != 0) {
        dlog(d, NN_DISCO_LOG_WARN, "DNS seeds: bad resolver address '%s' (want IP:PORT)",
             d->cfg.dns_nameserver);
        evdns_base_free(d->dns, 0);
        d->dns = NULL;
      }
    } else {
      d->dns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    }
    if (!d->dns)
      dlog(d, NN_DISCO_LOG_WARN, "DNS seeds: no resolver (check /etc/resolv.conf); skipping %zu seed names",
           d->n_dns);
  }
  for (size_t i = 0; d->dns && i < d->n_dns; i++) {
    for (int v6 = 0; v6 < 2; v6++) {
      dnsreq_t *r = calloc(1, sizeof(*r));
      if (!r)
        break;
      r->d = d;
      r->name = d->dns_names[i];
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
  /* 3. static peers */
  for (size_t i = 0; i < d->n_speers; i++) {
    speer_t *p = &d->speers[i];
    (void)nn_peerstore_add(d->ps, &p->addr, NULL, now_s, NULL);
    d->tried_peer++;
    boot_dial(d, &p->addr, p->has_id ? &p->id : NULL);
  }
  d->boot_pending--;
  boot_check_done(d);
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
        nn_peer_record_verify(rec, d->network, unix_ms() / 1000, &why) != NN_OK) {
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
  if (!nn_dht_lookup(d->dht, id, 1, find_done, f, unix_ms())) {
    d->finds = f->next;
    if (f->next)
      f->next->prev = NULL;
    free(f);
    return NN_ERR_NOSPACE;
  }
  schedule_tick(d);
  return NN_OK;
}

/* ---- creation ---- */

void
nn_disco_cfg_default(nn_disco_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_dht_cfg_default(&cfg->dht);
  cfg->max_channels = 64;
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
  if (nn_addr_parse(addr, s) != NN_OK || !addr->port)
    return NN_ERR_FORMAT;
  return NN_OK;
}

static void
set_why(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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

nn_err_t
nn_disco_new(nn_disco_t **out, struct event_base *base, const nn_identity_t *identity, uint32_t network,
             const char *datadir, const nn_disco_cfg_t *cfg, char *why, size_t why_len)
{
  nn_disco_t *d;
  nn_err_t err = NN_ERR_NOMEM;
  char path[4096], ps_why[512];

  set_why(why, why_len, "%s", "");
  *out = NULL;
  if (!base || !identity || !datadir || !cfg) {
    set_why(why, why_len, "discovery: missing event base, identity, data directory or config");
    return NN_ERR_ARG;
  }
  if (!(d = calloc(1, sizeof(*d))))
    return NN_ERR_NOMEM;
  d->base = base;
  d->identity = identity;
  d->self = *nn_identity_node_id(identity);
  d->network = network;
  d->cfg = *cfg;
  if (!d->cfg.max_channels) d->cfg.max_channels = 64;
  if (!d->cfg.record_lifetime_s) d->cfg.record_lifetime_s = 86400;
  if (d->cfg.record_lifetime_s > NN_PEER_RECORD_MAX_LIFETIME) d->cfg.record_lifetime_s = NN_PEER_RECORD_MAX_LIFETIME;
  if (!d->cfg.default_port) d->cfg.default_port = 9800;
  if (!d->cfg.boot_retry_min_ms) d->cfg.boot_retry_min_ms = 1000;
  if (d->cfg.boot_retry_max_ms < d->cfg.boot_retry_min_ms) d->cfg.boot_retry_max_ms = d->cfg.boot_retry_min_ms;
  if (!d->cfg.boot_select) d->cfg.boot_select = 8;
  if (!d->cfg.dht.rpc_timeout_ms) d->cfg.dht.rpc_timeout_ms = 2000;
  d->cfg.dns_seeds = NULL;
  d->cfg.peers = NULL;
  d->cfg.listen = d->cfg.advertise = NULL;
  d->cfg.dns_nameserver = NULL;
  if (cfg->dns_nameserver && !(d->dns_ns = strdup(cfg->dns_nameserver)))
    goto fail;
  d->cfg.dns_nameserver = d->dns_ns;
  {
    char hex[2 * NN_NODE_ID_LEN + 1];
    nn_node_id_to_hex(&d->self, hex);
    memcpy(d->hexid, hex, 16);
    d->hexid[16] = 0;
  }
  /* copies of the names and peers */
  if (cfg->n_dns_seeds) {
    if (!(d->dns_names = calloc(cfg->n_dns_seeds, sizeof(char *))))
      goto fail;
    for (size_t i = 0; i < cfg->n_dns_seeds; i++) {
      if (!cfg->dns_seeds[i] || !*cfg->dns_seeds[i]) {
        set_why(why, why_len, "DNS seed %zu is empty: give a host name", i + 1);
        err = NN_ERR_ARG;
        goto fail;
      }
      if (!(d->dns_names[i] = strdup(cfg->dns_seeds[i])))
        goto fail;
      d->n_dns++;
    }
  }
  if (cfg->n_peers) {
    if (!(d->speers = calloc(cfg->n_peers, sizeof(speer_t))))
      goto fail;
    for (size_t i = 0; i < cfg->n_peers; i++, d->n_speers++)
      if (!cfg->peers[i] || nn_disco_parse_peer(cfg->peers[i], &d->speers[i].addr, &d->speers[i].id,
                                                &d->speers[i].has_id)) {
        set_why(why, why_len,
                "--peer '%s': expected NODEID@HOST:PORT (64 hex digits) or HOST:PORT with a numeric "
                "host and a non-zero port",
                cfg->peers[i] ? cfg->peers[i] : "(null)");
        err = NN_ERR_FORMAT;
        goto fail;
      }
  }
  /* the peer store */
  if ((size_t)snprintf(path, sizeof(path), "%s/peers.sqlite", datadir) >= sizeof(path)) {
    set_why(why, why_len, "data directory path too long: %s", datadir);
    err = NN_ERR_ARG;
    goto fail;
  }
  if ((err = nn_peerstore_open(&d->ps, path, &d->cfg.peerstore, d->cfg.rng, ps_why, sizeof(ps_why)))) {
    set_why(why, why_len, "%s (%s)", ps_why, nn_peerstore_file_hint(err));
    goto fail;
  }
  /* the listener and our address */
  if (!d->cfg.hidden && cfg->listen) {
    nn_tcp_listener_config_t lc;
    memset(&lc, 0, sizeof(lc));
    lc.bind = cfg->listen;
    lc.identity = identity;
    lc.chan.network = network;
    lc.chan.max_message = cfg->max_message;
    lc.chan.rng = cfg->rng;
    lc.limits = cfg->limits;
    lc.cb.on_established = on_established;
    lc.cb.on_message = on_message;
    lc.cb.on_closed = on_closed;
    lc.cb.ctx = d;
    if ((err = nn_tcp_listener_new(&d->listener, base, &lc))) {
      set_why(why, why_len, "cannot listen on %s: %s%s%s; choose another listen address or port", cfg->listen,
              nn_err_str(err), err == NN_ERR_IO ? ": " : "", err == NN_ERR_IO ? strerror(errno) : "");
      goto fail;
    }
    const char *adv = cfg->advertise ? cfg->advertise : nn_tcp_listener_addr(d->listener);
    if (nn_addr_parse(&d->self_addr, adv) != NN_OK || !d->self_addr.port) {
      set_why(why, why_len, "advertised address '%s' is not numeric HOST:PORT", adv);
      err = NN_ERR_FORMAT;
      goto fail;
    }
    static const uint8_t zero[16] = { 0 };
    if (!memcmp(d->self_addr.host, zero, nn_addr_host_len(d->self_addr.type))) {
      if (cfg->advertise) {
        set_why(why, why_len, "advertised address '%s' is a wildcard: give the address peers reach", adv);
        err = NN_ERR_ARG;
        goto fail;
      }
      dlog(d, NN_DISCO_LOG_WARN, "listening on wildcard %s without an advertised address: publishing no record", adv);
    } else {
      d->has_addr = 1;
    }
  }
  /* the DHT core */
  nn_dht_cfg_t dc = d->cfg.dht;
  dc.validate = validate;
  dc.validate_ctx = d;
  dc.has_self_addr = d->has_addr;
  dc.self_addr = d->self_addr;
  dc.rng = cfg->rng;
  d->cfg.dht = dc;
  nn_dht_io_t io = { io_send, io_penalize, d };
  if ((err = nn_dht_new(&d->dht, &d->self, &dc, &io, unix_ms()))) {
    set_why(why, why_len, "cannot create the DHT: %s (check k, alpha and the table limits)", nn_err_str(err));
    goto fail;
  }
  err = NN_ERR_NOMEM;
  if (!(d->ev_tick = evtimer_new(base, on_tick, d)) || !(d->ev_kick = evtimer_new(base, on_kick, d)) ||
      !(d->ev_boot = evtimer_new(base, on_boot, d)))
    goto fail;
  event_active(d->ev_boot, EV_TIMEOUT, 0); /* first bootstrap round from the loop */
  schedule_tick(d);
  *out = d;
  return NN_OK;
fail:
  nn_disco_free(d);
  return err;
}

void
nn_disco_free(nn_disco_t *d)
{
  if (!d)
    return;
  /* anchors: the most recently used identified outbound peers */
  if (d->ps) {
    nn_addr_t anchors[NN_PEERSTORE_ANCHORS_MAX];
    size_t n = 0;
    /* the app's long-lived channels first, then the DHT's */
    for (int pass = 1; pass >= 0; pass--)
      for (dconn_t *c = d->conns; c && n < NN_PEERSTORE_ANCHORS_MAX; c = c->next)
        if (c->outbound && c->established && c->has_id && !c->closing && c->keep == pass)
          anchors[n++] = c->addr;
    if (n)
      (void)nn_peerstore_set_anchors(d->ps, anchors, n);
  }
  d->freeing = 1;
  if (d->dns)
    evdns_base_free(d->dns, 1); /* callbacks see freeing */
  for (dnsreq_t *r = d->dnsreqs, *n; r; r = n) {
    n = r->next;
    free(r);
  }
  /* outbound connections are closed (on_closed sees freeing); inbound ones go with the
   * listener, which frees them without callbacks */
  while (d->conns) {
    dconn_t *c = d->conns;
    if (c->tcp && c->outbound) {
      nn_tcp_conn_set_user(c->tcp, NULL);
      nn_tcp_conn_close(c->tcp);
    }
    conn_unlink_free(d, c);
  }
  nn_tcp_listener_free(d->listener);
  for (find_t *f = d->finds, *n; f; f = n) {
    n = f->next;
    free(f);
  }
  nn_dht_free(d->dht);
  nn_peerstore_close(d->ps);
  if (d->ev_tick) event_free(d->ev_tick);
  if (d->ev_kick) event_free(d->ev_kick);
  if (d->ev_boot) event_free(d->ev_boot);
  for (size_t i = 0; i < d->n_dns; i++)
    free(d->dns_names[i]);
  free(d->dns_names);
  free(d->dns_ns);
  free(d->speers);
  free(d);
}

/* ---- the app's channels ---- */

static dconn_t *
conn_by_serial(nn_disco_t *d, uint64_t serial)
{
  for (dconn_t *c = d->conns; c; c = c->next)
    if (c->serial == serial)
      return c;
  return NULL;
}

void
nn_disco_set_app(nn_disco_t *d, const nn_disco_app_t *app)
{
  if (app)
    d->app = *app;
  else
    memset(&d->app, 0, sizeof(d->app));
}

nn_err_t
nn_disco_dial(nn_disco_t *d, const nn_addr_t *addr, const nn_node_id_t *id, uint64_t *conn)
{
  dconn_t *c = open_conn(d, addr, id, 0);
  if (!c)
    return NN_ERR_ARG;
  c->keep = 1;
  *conn = c->serial;
  return NN_OK;
}

nn_err_t
nn_disco_send(nn_disco_t *d, uint64_t conn, const uint8_t *msg, size_t len)
{
  dconn_t *c = conn_by_serial(d, conn);
  if (!c || !c->established || c->closing || !c->tcp)
    return NN_ERR_NOTFOUND;
  return nn_tcp_conn_send(c->tcp, msg, len);
}

size_t
nn_disco_pending(nn_disco_t *d, uint64_t conn)
{
  dconn_t *c = conn_by_serial(d, conn);
  return c && c->tcp ? nn_tcp_conn_pending(c->tcp) : 0;
}

void
nn_disco_keep(nn_disco_t *d, uint64_t conn, int keep)
{
  dconn_t *c = conn_by_serial(d, conn);
  if (c)
    c->keep = keep ? 1 : 0;
}

void
nn_disco_close(nn_disco_t *d, uint64_t conn)
{
  dconn_t *c = conn_by_serial(d, conn);
  if (c && !c->closing) {
    c->closing = 1;
    kick(d);
  }
}

void
nn_disco_penalize(nn_disco_t *d, uint64_t conn, int points, const char *why)
{
  dconn_t *c = conn_by_serial(d, conn);
  if (c)
    penalize_addr(d, &c->pen_addr, points, why);
}

int
nn_disco_conn_addr(nn_disco_t *d, uint64_t conn, nn_addr_t *addr, nn_addr_t *pen_addr)
{
  dconn_t *c = conn_by_serial(d, conn);
  if (!c)
    return 0;
  if (addr)
    *addr = c->addr;
  if (pen_addr)
    *pen_addr = c->pen_addr;
  return 1;
}

/* ---- accessors ---- */

void
nn_disco_stats(const nn_disco_t *d, nn_disco_stats_t *out)
{
  *out = d->st;
  out->table_size = nn_dht_table_size(nn_dht_table(d->dht));
  out->values = nn_dht_values(d->dht);
  out->channels = out->outbound = 0;
  for (const dconn_t *c = d->conns; c; c = c->next) {
    out->channels++;
    out->outbound += c->outbound;
  }
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
  if (!d->has_addr || d->cfg.hidden) {
    if (n)
      out[0] = 0;
    return;
  }
  nn_node_id_to_hex(&d->self, hex);
  nn_addr_format(&d->self_addr, a);
  snprintf(out, n, "%s@%s", hex, a);
}

const nn_node_id_t *nn_disco_node_id(const nn_disco_t *d) { return &d->self; }
nn_peerstore_t *nn_disco_peerstore(nn_disco_t *d) { return d->ps; }
nn_dht_t *nn_disco_dht(nn_disco_t *d) { return d->dht; }
const nn_peer_record_t *nn_disco_record(const nn_disco_t *d) { return d->have_rec ? &d->rec : NULL; }
