/*
 * The node: discovery + Dandelion++ + control API on one event loop (node.h).
 *
 * Re-entrancy. The Dandelion++ core calls back (send_stem, send_inv...) from inside its own
 * functions, and a send may make the TCP driver report a closed connection synchronously, which
 * reaches us as on_down. So on_down only marks the peer dead; nn_dl_peer_remove runs from a
 * zero-delay "kick" event, never from inside the core. Sends to a dead peer are dropped.
 */
#include "node/node.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "crypto/sha3.h"
#include "dandelion/msg.h"
#include "dht/table.h"
#include "lib/file.h"
#include "lib/hex.h"

#define PEN_MALFORMED 20   /* a gossip message that does not parse */
#define PEN_OUT_OF_PLACE 10/* gossip before HELLO, a second HELLO, an oversized transaction */
#define PEN_UNSOLICITED 2  /* a TX we did not ask that peer for (or a late answer), dropped */
#define PEN_STEM_FLOOD 1   /* a STEM above the peer's rate, dropped */
#define MAX_BACKOFF 1024   /* remembered failing addresses */
#define MAX_CANDIDATES 256
#define MAX_PENDING_OUT (16u << 20) /* a peer this far behind gets no more INVs/TXs until it reads */

typedef enum { P_CHANNEL = 0, P_HELLO_SENT, P_GOSSIP, P_DEAD } pstate_t;

typedef struct npeer_t {
  struct npeer_t *next;
  uint64_t conn;
  uint32_t handle;            /* the Dandelion++ core's name for it */
  pstate_t state;
  int outbound, dialled, in_dl;
  nn_addr_t addr, pen;
  nn_node_id_t id;
  int has_id;
  uint8_t group[1 + NN_ADDR_HOST_MAX + 2];
  size_t group_len;
  uint64_t since_ms, hello_at_ms; /* monotonic */
  uint32_t peer_max_tx;       /* from its HELLO: we send it nothing larger */
  int refused;                /* we answered its HELLO with FULL */
  uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
  uint64_t stems_in, stems_out, txs_in, txs_out;
  double stem_tokens;         /* token bucket of STEMs this peer may still send */
  uint64_t stem_refill_ms;
  nn_hash_t *inv;             /* INVs batched during one tick */
  size_t ninv;
} npeer_t;

typedef struct backoff_t {
  nn_addr_t addr;
  uint64_t until_ms;
  uint32_t fails;
} backoff_t;

typedef struct rx_t {
  uint64_t seq, unix_ms;
  nn_hash_t id;
  uint8_t *data;
  size_t len;
  nn_dl_via_t via;
  char from[65];
} rx_t;

typedef struct cand_t {
  nn_addr_t addr;
  nn_node_id_t id;
  int has_id;
} cand_t;

struct nn_node_t {
  struct event_base *base;
  const nn_identity_t *identity;
  nn_node_cfg_t cfg;
  char *datadir, *addr_file, *token_file;
  char **connect;
  size_t n_connect;
  uint32_t network;
  nn_disco_t *disco;
  nn_dl_t *dl;
  nn_api_t *api;
  npeer_t *peers;
  uint32_t next_handle;
  backoff_t backoff[MAX_BACKOFF];
  size_t nbackoff;
  rx_t *rx;                   /* ring of rx_max_count */
  size_t rx_head, rx_n, rx_bytes;
  uint64_t rx_seq;
  struct event *ev_dl, *ev_kick, *ev_maint;
  int kicked, freeing;
  uint64_t start_mono_ms, start_unix_ms;
  nn_node_stats_t st;
  char hexid[65];
};

/* ---- small helpers ---- */

static uint64_t
mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
unix_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nlog(nn_node_t *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
nlog(nn_node_t *n, int level, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  if (level < n->cfg.log_level)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n->cfg.log)
    n->cfg.log(n->cfg.log_ctx, level, line);
  else
    fprintf(stderr, "nepnetd %.16s: %s\n", n->hexid, line);
}

static void
peer_name(const npeer_t *p, char out[NN_ADDR_STR_MAX + 24])
{
  char a[NN_ADDR_STR_MAX], h[17];
  nn_addr_format(&p->addr, a);
  if (p->has_id) {
    nn_hex_encode(h, p->id.b, 8);
    snprintf(out, NN_ADDR_STR_MAX + 24, "%s (%s)", a, h);
  } else {
    snprintf(out, NN_ADDR_STR_MAX + 24, "%s (anonymous)", a);
  }
}

/* Loopback and private addresses are each their own group (a devnet is one /16); public ones
 * group by /16 (IPv4) and /32 (IPv6), as the peer store does. */
size_t
nn_node_group(const nn_addr_t *a, uint8_t out[1 + NN_ADDR_HOST_MAX + 2])
{
  if (nn_addr_is_public(a))
    return nn_addr_group(a, 16, 32, out);
  size_t hl = nn_addr_host_len(a->type);
  out[0] = a->type;
  memcpy(out + 1, a->host, hl);
  out[1 + hl] = (uint8_t)(a->port >> 8);
  out[2 + hl] = (uint8_t)a->port;
  return 3 + hl;
}

static void
kick(nn_node_t *n)
{
  if (!n->kicked && !n->freeing) {
    n->kicked = 1;
    event_active(n->ev_kick, EV_TIMEOUT, 0);
  }
}

static npeer_t *
peer_by_conn(nn_node_t *n, uint64_t conn)
{
  for (npeer_t *p = n->peers; p; p = p->next)
    if (p->conn == conn)
      return p;
  return NULL;
}

static npeer_t *
peer_by_handle(nn_node_t *n, uint32_t h)
{
  for (npeer_t *p = n->peers; p; p = p->next)
    if (p->handle == h && p->state == P_GOSSIP)
      return p;
  return NULL;
}

static void
count_peers(const nn_node_t *n, size_t *in, size_t *out, size_t *dialing)
{
  *in = *out = *dialing = 0;
  for (const npeer_t *p = n->peers; p; p = p->next) {
    if (p->state == P_DEAD)
      continue;
    if (p->state == P_GOSSIP)
      (*(p->outbound ? out : in))++;
    else if (p->dialled)
      (*dialing)++;
  }
}

/* ---- backoff of addresses we failed to gossip with ---- */

static backoff_t *
backoff_find(nn_node_t *n, const nn_addr_t *a)
{
  for (size_t i = 0; i < n->nbackoff; i++)
    if (nn_addr_equal(&n->backoff[i].addr, a))
      return &n->backoff[i];
  return NULL;
}

static void
backoff_fail(nn_node_t *n, const nn_addr_t *a)
{
  backoff_t *b = backoff_find(n, a);
  if (!b) {
    size_t i = 0;
    if (n->nbackoff < MAX_BACKOFF) {
      i = n->nbackoff++;
    } else { /* full: replace the entry that expires first */
      for (size_t j = 1; j < MAX_BACKOFF; j++)
        if (n->backoff[j].until_ms < n->backoff[i].until_ms)
          i = j;
    }
    b = &n->backoff[i];
    memset(b, 0, sizeof(*b));
    b->addr = *a;
  }
  uint64_t d = (uint64_t)n->cfg.retry_min_ms << (b->fails < 20 ? b->fails : 20);
  if (d > n->cfg.retry_max_ms)
    d = n->cfg.retry_max_ms;
  b->fails++;
  b->until_ms = mono_ms() + d;
}

static void
backoff_clear(nn_node_t *n, const nn_addr_t *a)
{
  backoff_t *b = backoff_find(n, a);
  if (b)
    *b = n->backoff[--n->nbackoff];
}

/* ---- sending ---- */

static int
peer_send(nn_node_t *n, npeer_t *p, const uint8_t *msg, size_t len)
{
  if (p->state == P_DEAD || nn_disco_send(n->disco, p->conn, msg, len) != NN_OK)
    return 0;
  p->bytes_out += len;
  p->msgs_out++;
  n->st.bytes_out += len;
  return 1;
}

static int
peer_backlogged(nn_node_t *n, npeer_t *p)
{
  return nn_disco_pending(n->disco, p->conn) > MAX_PENDING_OUT;
}

/* STEM and TX: the kind byte, then the transaction. */
static void
send_tx_kind(nn_node_t *n, npeer_t *p, uint8_t kind, const uint8_t *tx, size_t len)
{
  uint8_t *m = malloc(len + 1);
  if (!m)
    return;
  m[0] = kind;
  memcpy(m + 1, tx, len);
  (void)peer_send(n, p, m, len + 1);
  free(m);
}

static void
send_hello(nn_node_t *n, npeer_t *p, uint8_t flags)
{
  uint8_t m[NN_DLMSG_HELLO_LEN];
  nn_dlmsg_hello(m, flags, (uint32_t)n->cfg.dl.max_tx_bytes);
  (void)peer_send(n, p, m, sizeof(m));
}

static void
flush_invs(nn_node_t *n)
{
  uint8_t buf[3 + NN_DLMSG_MAX_IDS * NN_HASH_LEN];
  size_t len;
  for (npeer_t *p = n->peers; p; p = p->next) {
    if (!p->ninv)
      continue;
    if (nn_dlmsg_ids(buf, sizeof(buf), &len, NN_DLMSG_INV, p->inv, p->ninv) == NN_OK)
      (void)peer_send(n, p, buf, len);
    p->ninv = 0;
  }
}

/* ---- the Dandelion++ core's io ---- */

static void
io_send_stem(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  nn_node_t *n = ctx;
  npeer_t *p = peer_by_handle(n, peer);
  /* a relay that does not read, or cannot take it: dropped here, the embargo covers it */
  if (p && len <= p->peer_max_tx && !peer_backlogged(n, p)) {
    p->stems_out++;
    send_tx_kind(n, p, NN_DLMSG_STEM, tx, len);
  }
}

static void
io_send_inv(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  nn_node_t *n = ctx;
  npeer_t *p = peer_by_handle(n, peer);
  if (!p || peer_backlogged(n, p))
    return;
  if (!p->inv && !(p->inv = malloc(NN_DLMSG_MAX_IDS * sizeof(*p->inv))))
    return;
  if (p->ninv == NN_DLMSG_MAX_IDS)
    flush_invs(n);
  p->inv[p->ninv++] = *id;
}

static void
io_send_getdata(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  nn_node_t *n = ctx;
  uint8_t buf[3 + NN_HASH_LEN];
  size_t len;
  npeer_t *p = peer_by_handle(n, peer);
  if (p && nn_dlmsg_ids(buf, sizeof(buf), &len, NN_DLMSG_GETDATA, id, 1) == NN_OK)
    (void)peer_send(n, p, buf, len);
}

static void
io_send_tx(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  nn_node_t *n = ctx;
  npeer_t *p = peer_by_handle(n, peer);
  if (p && len <= p->peer_max_tx && !peer_backlogged(n, p)) {
    p->txs_out++;
    send_tx_kind(n, p, NN_DLMSG_TX, tx, len);
  }
}

static void
rx_drop_oldest(nn_node_t *n)
{
  rx_t *r = &n->rx[n->rx_head];
  n->rx_bytes -= r->len;
  free(r->data);
  r->data = NULL;
  n->rx_head = (n->rx_head + 1) % n->cfg.rx_max_count;
  n->rx_n--;
}

static void
io_deliver(void *ctx, const uint8_t *tx, size_t len, nn_dl_via_t via, uint32_t from)
{
  nn_node_t *n = ctx;
  npeer_t *p = from == NN_DL_NO_PEER ? NULL : peer_by_handle(n, from);
  uint8_t *copy = malloc(len);
  n->st.tx_received++;
  if (!copy || len > n->cfg.rx_max_bytes) {
    free(copy);
    return;
  }
  while (n->rx_n && (n->rx_n == n->cfg.rx_max_count || n->rx_bytes + len > n->cfg.rx_max_bytes))
    rx_drop_oldest(n);
  rx_t *r = &n->rx[(n->rx_head + n->rx_n) % n->cfg.rx_max_count];
  memset(r, 0, sizeof(*r));
  r->seq = ++n->rx_seq;
  r->unix_ms = unix_ms();
  memcpy(copy, tx, len);
  r->data = copy;
  r->len = len;
  r->via = via;
  (void)nn_sha3_256(&r->id, tx, len);
  if (p && p->has_id)
    nn_hex_encode(r->from, p->id.b, NN_NODE_ID_LEN);
  n->rx_n++;
  n->rx_bytes += len;
  if (p)
    p->txs_in++;
  {
    char h[17];
    nn_hex_encode(h, r->id.b, 8);
    nlog(n, NN_DISCO_LOG_DEBUG, "transaction %s (%zu bytes) in the mempool via %s", h, len, nn_dl_via_str(via));
  }
  if (n->api)
    nn_api_notify(n->api);
}

/* ---- timers ---- */

static void
schedule_dl(nn_node_t *n)
{
  if (n->freeing)
    return;
  uint64_t now = mono_ms(), dl = nn_dl_deadline(n->dl);
  uint64_t delay = dl <= now ? 0 : dl - now;
  if (delay > 1000)
    delay = 1000;
  struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
  evtimer_add(n->ev_dl, &tv);
}

static void
on_dl_timer(evutil_socket_t fd, short what, void *arg)
{
  nn_node_t *n = arg;
  (void)fd;
  (void)what;
  nn_dl_tick(n->dl, mono_ms());
  flush_invs(n);
  schedule_dl(n);
}

/* ---- peers ---- */

static void
peer_free(npeer_t *p)
{
  free(p->inv);
  free(p);
}

static void
peer_to_gossip(nn_node_t *n, npeer_t *p)
{
  char name[NN_ADDR_STR_MAX + 24];
  p->state = P_GOSSIP;
  p->since_ms = mono_ms();
  nn_disco_keep(n->disco, p->conn, 1);
  if (nn_dl_peer_add(n->dl, p->handle, p->outbound, mono_ms()) == NN_OK)
    p->in_dl = 1;
  if (p->outbound)
    backoff_clear(n, &p->addr);
  peer_name(p, name);
  nlog(n, NN_DISCO_LOG_INFO, "gossip peer %s %s", p->outbound ? "to" : "from", name);
  schedule_dl(n);
}

static void
peer_misbehaved(nn_node_t *n, npeer_t *p, int points, const char *what)
{
  char name[NN_ADDR_STR_MAX + 24], why[160];
  peer_name(p, name);
  snprintf(why, sizeof(why), "gossip: %s", what);
  n->st.bad_msgs++;
  nlog(n, NN_DISCO_LOG_WARN, "closing channel with %s: %s", name, what);
  nn_disco_penalize(n->disco, p->conn, points, why);
  if (p->outbound)
    backoff_fail(n, &p->addr);
  nn_disco_close(n->disco, p->conn);
  if (p->state != P_DEAD)
    p->state = P_DEAD;
  kick(n);
}

static int
inbound_room(nn_node_t *n, const npeer_t *np)
{
  size_t in = 0, same = 0;
  for (const npeer_t *p = n->peers; p; p = p->next) {
    if (p->state != P_GOSSIP)
      continue;
    if (np->has_id && p->has_id && !memcmp(p->id.b, np->id.b, NN_NODE_ID_LEN))
      return 0; /* already peers (say, both dialled): one channel is enough */
    if (p->outbound)
      continue;
    in++;
    /* public hosts by address (their port is ephemeral); loopback/private ones by the key the
     * peer store uses for them */
    same += nn_addr_is_public(&np->pen) ? nn_addr_same_host(&p->pen, &np->pen) : nn_addr_equal(&p->pen, &np->pen);
  }
  unsigned max_in = n->cfg.max_peers > n->cfg.max_outbound ? n->cfg.max_peers - n->cfg.max_outbound : 0;
  if (in >= max_in)
    return 0;
  return !n->cfg.max_inbound_per_host || same < n->cfg.max_inbound_per_host;
}

/* Two gossip channels with one node (both dialled at once): keep the one dialled by the node
 * with the lower id, so both ends keep the same channel. Returns 0 if \a p is the one to drop. */
static int
keep_against_duplicate(nn_node_t *n, npeer_t *p)
{
  if (!p->has_id)
    return 1;
  for (npeer_t *o = n->peers; o; o = o->next) {
    if (o == p || o->state != P_GOSSIP || !o->has_id || memcmp(o->id.b, p->id.b, NN_NODE_ID_LEN))
      continue;
    int we_lower = memcmp(nn_disco_node_id(n->disco)->b, p->id.b, NN_NODE_ID_LEN) < 0;
    npeer_t *drop = (p->outbound == we_lower) ? o : p; /* keep the channel the lower id dialled */
    nlog(n, NN_DISCO_LOG_DEBUG, "two gossip channels with one peer; closing one");
    nn_disco_keep(n->disco, drop->conn, 0);
    nn_disco_close(n->disco, drop->conn);
    drop->state = P_DEAD;
    kick(n);
    return drop != p;
  }
  return 1;
}

static void
on_hello(nn_node_t *n, npeer_t *p, const nn_dlmsg_t *m)
{
  p->peer_max_tx = m->max_tx;
  if (p->outbound) {
    if (p->state != P_HELLO_SENT) {
      peer_misbehaved(n, p, PEN_OUT_OF_PLACE, "HELLO we did not ask for");
      return;
    }
    if (m->flags & NN_DLMSG_HELLO_FULL) {
      char name[NN_ADDR_STR_MAX + 24];
      peer_name(p, name);
      nlog(n, NN_DISCO_LOG_DEBUG, "%s has no gossip slot for us", name);
      n->st.refused_full++;
      backoff_fail(n, &p->addr);
      nn_disco_keep(n->disco, p->conn, 0); /* the DHT may still use the channel, or trim it */
      p->state = P_CHANNEL;
      p->dialled = 0;
      return;
    }
    if (keep_against_duplicate(n, p))
      peer_to_gossip(n, p);
    return;
  }
  if (p->state != P_CHANNEL || p->refused) {
    peer_misbehaved(n, p, PEN_OUT_OF_PLACE, "a second HELLO");
    return;
  }
  if (!inbound_room(n, p)) {
    n->st.refused_full++;
    p->refused = 1;
    send_hello(n, p, NN_DLMSG_HELLO_FULL);
    return; /* the channel stays a DHT channel; the dialler stops using it for gossip */
  }
  send_hello(n, p, 0);
  peer_to_gossip(n, p);
}

static int
stem_allowed(nn_node_t *n, npeer_t *p, uint64_t now)
{
  double burst = (double)n->cfg.stem_burst;
  if (!p->stem_refill_ms) {
    p->stem_tokens = burst;
    p->stem_refill_ms = now;
  }
  p->stem_tokens += (double)(now - p->stem_refill_ms) * n->cfg.stem_rate / 1000.0;
  p->stem_refill_ms = now;
  if (p->stem_tokens > burst)
    p->stem_tokens = burst;
  if (p->stem_tokens < 1.0)
    return 0;
  p->stem_tokens -= 1.0;
  return 1;
}

static void
on_gossip(nn_node_t *n, npeer_t *p, const nn_dlmsg_t *m)
{
  uint64_t now = mono_ms();
  nn_err_t e = NN_OK;
  nn_hash_t id;
  switch (m->kind) {
  case NN_DLMSG_STEM:
    /* Honest peers stem only to peers they dialled; a stem the other way is accepted all the
     * same (pinned like any source) since refusing it would tell the sender nothing useful.
     * The stempool is capped (oldest out), so a peer flooding stems could push honest ones
     * out: each peer gets a token bucket. */
    p->stems_in++;
    if (!stem_allowed(n, p, now)) {
      n->st.stems_dropped++;
      nn_disco_penalize(n->disco, p->conn, PEN_STEM_FLOOD, "gossip: STEMs above the rate limit");
      break;
    }
    e = nn_dl_on_stem(n->dl, p->handle, m->tx, m->tx_len, now);
    break;
  case NN_DLMSG_TX:
    e = nn_dl_on_fluff(n->dl, p->handle, m->tx, m->tx_len, now);
    if (e == NN_ERR_NOTFOUND) { /* not asked of this peer: dropped; a late answer costs little */
      n->st.unsolicited++;
      nn_disco_penalize(n->disco, p->conn, PEN_UNSOLICITED, "gossip: a TX we did not ask for");
      e = NN_OK;
    }
    break;
  case NN_DLMSG_INV:
    for (size_t i = 0; i < m->count; i++) {
      nn_dlmsg_id(m, i, &id);
      nn_dl_on_inv(n->dl, p->handle, &id, now);
    }
    break;
  case NN_DLMSG_GETDATA:
    for (size_t i = 0; i < m->count; i++) {
      nn_dlmsg_id(m, i, &id);
      nn_dl_on_getdata(n->dl, p->handle, &id, now);
    }
    break;
  default:
    break;
  }
  if (e == NN_ERR_TOO_LONG)
    peer_misbehaved(n, p, PEN_OUT_OF_PLACE, "transaction above our max_tx");
  flush_invs(n);
  schedule_dl(n);
}

/* ---- discovery's app callbacks ---- */

static void
app_up(void *ctx, uint64_t conn, int outbound, const nn_addr_t *addr, const nn_node_id_t *id)
{
  nn_node_t *n = ctx;
  npeer_t *p = peer_by_conn(n, conn);
  if (!p) { /* a channel discovery opened (DHT), or an inbound one */
    if (!(p = calloc(1, sizeof(*p))))
      return;
    p->conn = conn;
    p->handle = ++n->next_handle;
    p->outbound = outbound;
    p->next = n->peers;
    n->peers = p;
  }
  p->addr = *addr;
  (void)nn_disco_conn_addr(n->disco, conn, NULL, &p->pen);
  p->group_len = nn_node_group(addr, p->group);
  if (id) {
    p->id = *id;
    p->has_id = 1;
  }
  p->since_ms = mono_ms();
  if (id && !memcmp(id->b, nn_disco_node_id(n->disco)->b, NN_NODE_ID_LEN)) {
    /* ourselves, reached through an address of ours (a DNS seed lists us, a wildcard listener) */
    nlog(n, NN_DISCO_LOG_DEBUG, "a channel to ourselves; closing it");
    backoff_fail(n, addr);
    nn_disco_keep(n->disco, conn, 0);
    nn_disco_close(n->disco, conn);
    p->state = P_DEAD;
    kick(n);
    return;
  }
  if (p->dialled) {
    p->state = P_HELLO_SENT;
    p->hello_at_ms = mono_ms();
    send_hello(n, p, 0);
  }
}

static void
app_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_node_t *n = ctx;
  npeer_t *p = peer_by_conn(n, conn);
  nn_dlmsg_t m;
  nn_err_t e;
  if (!p || p->state == P_DEAD)
    return;
  p->bytes_in += len;
  p->msgs_in++;
  n->st.bytes_in += len;
  if ((e = nn_dlmsg_parse(&m, msg, len, n->cfg.dl.max_tx_bytes)) == NN_ERR_VERSION) {
    /* a newer gossip version is not misbehaviour: part without a penalty */
    char name[NN_ADDR_STR_MAX + 24];
    peer_name(p, name);
    nlog(n, NN_DISCO_LOG_INFO, "%s speaks gossip version %u (we speak %u); closing", name, len > 1 ? msg[1] : 0,
         NN_DLMSG_VERSION);
    n->st.version_mismatch++;
    nn_disco_keep(n->disco, p->conn, 0);
    nn_disco_close(n->disco, p->conn);
    p->state = P_DEAD;
    kick(n);
    return;
  }
  if (e != NN_OK) {
    char what[96];
    snprintf(what, sizeof(what), "malformed message (kind 0x%02x, %zu bytes): %s", len ? msg[0] : 0, len,
             nn_err_str(e));
    peer_misbehaved(n, p, e == NN_ERR_TOO_LONG ? PEN_OUT_OF_PLACE : PEN_MALFORMED, what);
    return;
  }
  if (m.kind == NN_DLMSG_HELLO) {
    on_hello(n, p, &m);
    return;
  }
  if (p->state != P_GOSSIP) {
    peer_misbehaved(n, p, PEN_OUT_OF_PLACE, "transaction gossip before HELLO");
    return;
  }
  on_gossip(n, p, &m);
}

static void
app_down(void *ctx, uint64_t conn, nn_close_reason_t reason)
{
  nn_node_t *n = ctx;
  npeer_t *p = peer_by_conn(n, conn);
  if (!p)
    return;
  if (p->dialled && p->state != P_GOSSIP) {
    n->st.dial_failures++;
    backoff_fail(n, &p->addr);
  } else if (p->state == P_GOSSIP) {
    char name[NN_ADDR_STR_MAX + 24];
    peer_name(p, name);
    nlog(n, NN_DISCO_LOG_INFO, "gossip peer %s gone: %s", name, nn_tcp_close_reason_str(reason));
    if (p->outbound && reason != NN_CLOSE_LOCAL)
      backoff_fail(n, &p->addr);
  }
  p->state = P_DEAD;
  kick(n); /* nn_dl_peer_remove from outside any core call */
}

/* ---- outbound slots ---- */

static int
group_in_use(nn_node_t *n, const uint8_t *g, size_t gl)
{
  for (npeer_t *p = n->peers; p; p = p->next)
    if (p->state != P_DEAD && p->outbound && (p->dialled || p->state == P_GOSSIP) && p->group_len == gl &&
        !memcmp(p->group, g, gl))
      return 1;
  return 0;
}

static int
known_peer(nn_node_t *n, const cand_t *c)
{
  if (c->has_id && !memcmp(c->id.b, nn_disco_node_id(n->disco)->b, NN_NODE_ID_LEN))
    return 1;
  for (npeer_t *p = n->peers; p; p = p->next) {
    if (p->state == P_DEAD || (p->state == P_CHANNEL && !p->dialled))
      continue;
    if ((c->has_id && p->has_id && !memcmp(p->id.b, c->id.b, NN_NODE_ID_LEN)) ||
        (p->outbound && nn_addr_equal(&p->addr, &c->addr)))
      return 1;
  }
  return 0;
}

static size_t
gather_candidates(nn_node_t *n, cand_t *out, size_t max)
{
  size_t k = 0;
  if (n->n_connect) {
    for (size_t i = 0; i < n->n_connect && k < max; i++) {
      memset(&out[k], 0, sizeof(out[k]));
      if (nn_disco_parse_peer(n->connect[i], &out[k].addr, &out[k].id, &out[k].has_id) == NN_OK)
        k++;
    }
    return k;
  }
  nn_dht_contact_t *cs = malloc(MAX_CANDIDATES * sizeof(*cs));
  if (cs) {
    size_t nc = nn_dht_table_all(nn_dht_table(nn_disco_dht(n->disco)), cs, MAX_CANDIDATES);
    for (size_t i = 0; i < nc && k < max; i++) {
      out[k].addr = cs[i].addr;
      out[k].id = cs[i].id;
      out[k].has_id = 1;
      k++;
    }
    free(cs);
  }
  nn_addr_t ps[16];
  size_t got = 0;
  if (k < max && nn_peerstore_select(nn_disco_peerstore(n->disco), 16, unix_ms() / 1000, n->cfg.dl.rng, ps,
                                     &got) == NN_OK)
    for (size_t i = 0; i < got && k < max; i++) {
      memset(&out[k], 0, sizeof(out[k]));
      out[k++].addr = ps[i];
    }
  return k;
}

static void
fill_outbound(nn_node_t *n)
{
  size_t in, out, dialing;
  cand_t *cands;
  uint8_t g[1 + NN_ADDR_HOST_MAX + 2];
  count_peers(n, &in, &out, &dialing);
  if (out + dialing >= n->cfg.max_outbound)
    return;
  if (!(cands = malloc((MAX_CANDIDATES + 16) * sizeof(*cands))))
    return;
  size_t nc = gather_candidates(n, cands, MAX_CANDIDATES + 16);
  /* random order, so that every node does not pick the same first contacts */
  for (size_t i = nc; i > 1; i--) {
    uint32_t r = 0;
    (void)nn_rng_fill(n->cfg.dl.rng, (uint8_t *)&r, sizeof(r));
    size_t j = r % i;
    cand_t t = cands[i - 1];
    cands[i - 1] = cands[j];
    cands[j] = t;
  }
  uint64_t now = mono_ms();
  for (size_t i = 0; i < nc && out + dialing < n->cfg.max_outbound; i++) {
    cand_t *c = &cands[i];
    backoff_t *b = backoff_find(n, &c->addr);
    nn_addr_t self;
    size_t gl = nn_node_group(&c->addr, g);
    /* --connect peers are the operator's choice: no group rule for them */
    if ((b && b->until_ms > now) || known_peer(n, c) || (!n->n_connect && group_in_use(n, g, gl)) ||
        (nn_disco_addr(n->disco, &self) && nn_addr_equal(&self, &c->addr)))
      continue;
    npeer_t *p = calloc(1, sizeof(*p));
    if (!p)
      break;
    if (nn_disco_dial(n->disco, &c->addr, c->has_id ? &c->id : NULL, &p->conn) != NN_OK) {
      free(p);
      backoff_fail(n, &c->addr);
      continue;
    }
    p->handle = ++n->next_handle;
    p->outbound = p->dialled = 1;
    p->addr = c->addr;
    p->group_len = gl;
    memcpy(p->group, g, gl);
    p->hello_at_ms = now;
    if (c->has_id) {
      p->id = c->id;
      p->has_id = 1;
    }
    p->next = n->peers;
    n->peers = p;
    n->st.dials++;
    dialing++;
  }
  free(cands);
}

/* Remove dead peers (outside any core call), time out HELLOs, fill slots. */
static void
maintain(nn_node_t *n)
{
  uint64_t now = mono_ms();
  for (npeer_t **pp = &n->peers; *pp;) {
    npeer_t *p = *pp;
    if (p->state == P_HELLO_SENT && now - p->hello_at_ms > n->cfg.hello_timeout_ms) {
      char name[NN_ADDR_STR_MAX + 24];
      peer_name(p, name);
      n->st.hello_timeouts++;
      nlog(n, NN_DISCO_LOG_DEBUG, "%s did not answer HELLO in %u ms; closing", name, (unsigned)n->cfg.hello_timeout_ms);
      backoff_fail(n, &p->addr);
      nn_disco_close(n->disco, p->conn);
      p->state = P_DEAD;
    }
    if (p->state == P_DEAD) {
      if (p->in_dl)
        nn_dl_peer_remove(n->dl, p->handle, now);
      *pp = p->next;
      peer_free(p);
      continue;
    }
    pp = &p->next;
  }
  fill_outbound(n);
  schedule_dl(n);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
  nn_node_t *n = arg;
  (void)fd;
  (void)what;
  n->kicked = 0;
  maintain(n);
}

static void
on_maint(evutil_socket_t fd, short what, void *arg)
{
  nn_node_t *n = arg;
  (void)fd;
  (void)what;
  maintain(n);
}

/* ---- the API's view ---- */

static nn_err_t
api_submit(void *ctx, const uint8_t *tx, size_t len, nn_hash_t *id, const char **mode)
{
  return nn_node_submit(ctx, tx, len, id, mode);
}

static size_t
api_received(void *ctx, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next)
{
  return nn_node_received(ctx, since, out, max, next);
}

size_t
nn_node_received(nn_node_t *n, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next)
{
  size_t k = 0;
  *next = since;
  for (size_t i = 0; i < n->rx_n && k < max; i++) {
    rx_t *r = &n->rx[(n->rx_head + i) % n->cfg.rx_max_count];
    if (r->seq < since)
      continue;
    nn_api_rx_t *o = &out[k++];
    o->seq = r->seq;
    o->id = r->id;
    o->tx = r->data;
    o->len = r->len;
    o->unix_ms = r->unix_ms;
    o->via = nn_dl_via_str(r->via);
    memcpy(o->from, r->from, sizeof(o->from));
    *next = r->seq + 1;
  }
  if (!k && max) /* nothing at or after since: the next one will be rx_seq + 1 (also for a
                    client whose since is from before a restart) */
    *next = n->rx_seq + 1;
  return k;
}

static json_t *api_status(void *ctx) { return nn_node_status_json(ctx); }
static json_t *api_peers(void *ctx) { return nn_node_peers_json(ctx); }
static void api_metrics(void *ctx, struct evbuffer *out) { nn_node_metrics(ctx, out); }

/* ---- public ---- */

void
nn_node_cfg_default(nn_node_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_disco_cfg_default(&cfg->disco);
  nn_dl_cfg_default(&cfg->dl);
  cfg->max_peers = 64;
  cfg->max_outbound = 8;
  cfg->max_inbound_per_host = 4;
  cfg->connect_interval_ms = 1000;
  cfg->hello_timeout_ms = 10000;
  cfg->retry_min_ms = 2000;
  cfg->retry_max_ms = 300000;
  cfg->rx_max_count = 1024;
  cfg->stem_rate = 10.0;
  cfg->stem_burst = 100;
  cfg->rx_max_bytes = 64u << 20;
  cfg->api_enabled = 1;
  nn_api_cfg_default(&cfg->api);
  cfg->preset = "balanced";
  cfg->log_level = NN_DISCO_LOG_INFO;
}

static void
disco_log(void *ctx, int level, const char *line)
{
  nn_node_t *n = ctx;
  if (level < n->cfg.log_level)
    return;
  if (n->cfg.log)
    n->cfg.log(n->cfg.log_ctx, level, line);
  else
    fprintf(stderr, "nepnetd %.16s: %s\n", n->hexid, line);
}

static char *
path_join(const char *dir, const char *name)
{
  size_t l = strlen(dir) + strlen(name) + 2;
  char *p = malloc(l);
  if (p)
    snprintf(p, l, "%s/%s", dir, name);
  return p;
}

static nn_err_t
write_addr_file(nn_node_t *n, char *why, size_t why_len)
{
  char line[300];
  int l = snprintf(line, sizeof(line), "%s\n", nn_api_address(n->api));
  if (nn_file_write_private(n->addr_file, (const uint8_t *)line, (size_t)l) != NN_OK) {
    snprintf(why, why_len, "cannot write %s: %s (is the data directory writable?)", n->addr_file, strerror(errno));
    return NN_ERR_IO;
  }
  return NN_OK;
}

nn_err_t
nn_node_new(nn_node_t **out, struct event_base *base, const nn_identity_t *identity, uint32_t network,
            const char *datadir, const nn_node_cfg_t *cfg, char *why, size_t why_len)
{
  char dummy[8];
  nn_node_t *n;
  nn_err_t e = NN_ERR_NOMEM;
  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  why[0] = 0;
  *out = NULL;
  if (!cfg->max_outbound || cfg->max_outbound > cfg->max_peers) {
    snprintf(why, why_len, "max-outbound must be between 1 and max-peers (%u), got %u", cfg->max_peers,
             cfg->max_outbound);
    return NN_ERR_ARG;
  }
  if (!cfg->rx_max_count || !cfg->stem_burst || !(cfg->stem_rate > 0)) {
    snprintf(why, why_len, "rx_max_count, stem_burst and stem_rate must be positive");
    return NN_ERR_ARG;
  }
  if (!cfg->dl.max_tx_bytes || cfg->dl.max_tx_bytes > NN_NODE_MAX_TX) {
    snprintf(why, why_len, "max-tx-bytes must be 1..%u, got %zu", (unsigned)NN_NODE_MAX_TX, cfg->dl.max_tx_bytes);
    return NN_ERR_ARG;
  }
  if (!nn_dl_route_available(cfg->dl.route)) {
    snprintf(why, why_len, "route %s: use direct or dandelion", nn_dl_route_str(cfg->dl.route));
    return NN_ERR_ARG;
  }
  if (!(n = calloc(1, sizeof(*n))))
    return NN_ERR_NOMEM;
  n->base = base;
  n->identity = identity;
  n->cfg = *cfg;
  n->network = network;
  n->start_mono_ms = mono_ms();
  n->start_unix_ms = unix_ms();
  if (cfg->n_connect && !(n->connect = calloc(cfg->n_connect, sizeof(char *))))
    goto fail;
  for (size_t i = 0; i < cfg->n_connect; i++) {
    nn_addr_t a;
    nn_node_id_t id;
    int has_id;
    if (nn_disco_parse_peer(cfg->connect[i], &a, &id, &has_id) != NN_OK) {
      snprintf(why, why_len, "connect %s: not NODEID@HOST:PORT or HOST:PORT (numeric host)", cfg->connect[i]);
      e = NN_ERR_ARG;
      goto fail;
    }
    if (!(n->connect[i] = strdup(cfg->connect[i])))
      goto fail;
    n->n_connect++;
  }
  n->cfg.connect = NULL;
  n->cfg.n_connect = 0;
  if (!(n->datadir = strdup(datadir)) || !(n->addr_file = path_join(datadir, "api.address")) ||
      !(n->token_file = cfg->api.token_file ? strdup(cfg->api.token_file) : path_join(datadir, "api.token")) ||
      !(n->rx = calloc(cfg->rx_max_count, sizeof(*n->rx))))
    goto fail;
  n->cfg.api.token_file = n->token_file;
  nn_dl_io_t io = { io_send_stem, io_send_inv, io_send_getdata, io_send_tx, io_deliver, n };
  n->cfg.dl.max_peers = n->cfg.max_peers + 16; /* every gossip peer, and a few closing ones */
  if ((e = nn_dl_new(&n->dl, &n->cfg.dl, &io, mono_ms())) != NN_OK) {
    if (e == NN_ERR_ARG)
      snprintf(why, why_len, "Dandelion++ settings refused (fluff-prob must be 0.05..0.5, epoch-jitter below epoch)");
    goto fail;
  }
  if (!(n->ev_dl = evtimer_new(base, on_dl_timer, n)) || !(n->ev_kick = event_new(base, -1, 0, on_kick, n)) ||
      !(n->ev_maint = event_new(base, -1, EV_PERSIST, on_maint, n))) {
    e = NN_ERR_NOMEM;
    goto fail;
  }
  /* Channels carry the largest transaction plus its kind byte. */
  n->cfg.disco.max_message = (uint32_t)(n->cfg.dl.max_tx_bytes + 64 > NN_CHAN_DEFAULT_MAX_MESSAGE
                                            ? n->cfg.dl.max_tx_bytes + 64
                                            : NN_CHAN_DEFAULT_MAX_MESSAGE);
  n->cfg.disco.log = disco_log;
  n->cfg.disco.log_ctx = n;
  if ((e = nn_disco_new(&n->disco, base, identity, network, datadir, &n->cfg.disco, why, why_len)) != NN_OK)
    goto fail;
  nn_hex_encode(n->hexid, nn_disco_node_id(n->disco)->b, NN_NODE_ID_LEN);
  nn_disco_app_t app = { app_up, app_message, app_down, n };
  nn_disco_set_app(n->disco, &app);
  if (cfg->api_enabled) {
    nn_api_ops_t ops = { api_submit, api_received, api_status, api_peers, api_metrics, n };
    if ((e = nn_api_new(&n->api, base, &n->cfg.api, &ops, why, why_len)) != NN_OK)
      goto fail;
    if ((e = write_addr_file(n, why, why_len)) != NN_OK)
      goto fail;
  }
  struct timeval iv = { (time_t)(cfg->connect_interval_ms / 1000), (suseconds_t)(cfg->connect_interval_ms % 1000) * 1000 };
  event_add(n->ev_maint, &iv);
  kick(n);
  schedule_dl(n);
  *out = n;
  return NN_OK;
fail:
  if (!why[0])
    snprintf(why, why_len, "cannot start the node: %s", nn_err_str(e));
  nn_node_free(n);
  return e;
}

void
nn_node_free(nn_node_t *n)
{
  if (!n)
    return;
  n->freeing = 1;
  if (n->api) {
    nn_api_free(n->api);
    (void)unlink(n->addr_file);
  }
  nn_disco_free(n->disco); /* anchors, channels, peer store; no callbacks */
  nn_dl_free(n->dl);
  while (n->peers) {
    npeer_t *p = n->peers;
    n->peers = p->next;
    peer_free(p);
  }
  if (n->rx)
    while (n->rx_n)
      rx_drop_oldest(n);
  if (n->ev_dl) event_free(n->ev_dl);
  if (n->ev_kick) event_free(n->ev_kick);
  if (n->ev_maint) event_free(n->ev_maint);
  for (size_t i = 0; i < n->n_connect; i++)
    free(n->connect[i]);
  free(n->connect);
  free(n->rx);
  free(n->datadir);
  free(n->addr_file);
  free(n->token_file);
  free(n);
}

nn_err_t
nn_node_submit(nn_node_t *n, const uint8_t *tx, size_t len, nn_hash_t *id, const char **mode)
{
  nn_err_t e;
  if (!len)
    return NN_ERR_ARG;
  if (len > n->cfg.dl.max_tx_bytes)
    return NN_ERR_TOO_LONG;
  if ((e = nn_sha3_256(id, tx, len)))
    return e;
  if ((e = nn_dl_submit(n->dl, tx, len, mono_ms())))
    return e;
  n->st.tx_submitted++;
  *mode = n->cfg.dl.route == NN_ROUTE_DIRECT ? "direct" : "dandelion";
  {
    char h[17];
    nn_hex_encode(h, id->b, 8);
    nlog(n, NN_DISCO_LOG_INFO, "submitted transaction %s (%zu bytes), route %s", h, len, *mode);
  }
  flush_invs(n);
  schedule_dl(n);
  return NN_OK;
}

void
nn_node_stats(const nn_node_t *n, nn_node_stats_t *st)
{
  *st = n->st;
  count_peers(n, &st->peers_in, &st->peers_out, &st->dialing);
  size_t c = 0;
  for (const npeer_t *p = n->peers; p; p = p->next)
    c += p->state != P_DEAD;
  st->channels = c;
}

json_t *
nn_node_status_json(nn_node_t *n)
{
  nn_node_stats_t st;
  nn_disco_stats_t ds;
  nn_dl_stats_t dls;
  char peer[NN_ADDR_STR_MAX + 200];
  uint32_t relays[2];
  nn_node_stats(n, &st);
  nn_disco_stats(n->disco, &ds);
  nn_dl_stats(n->dl, &dls);
  nn_disco_peer_string(n->disco, peer, sizeof(peer));
  uint64_t now = mono_ms(), end = nn_dl_epoch_end(n->dl);
  json_t *rel = json_array();
  size_t nr = nn_dl_relays(n->dl, relays);
  for (size_t i = 0; i < nr; i++) {
    npeer_t *p = peer_by_handle(n, relays[i]);
    char h[65] = "";
    if (p && p->has_id)
      nn_hex_encode(h, p->id.b, NN_NODE_ID_LEN);
    json_array_append_new(rel, json_string(h));
  }
  json_t *epoch = json_pack("{s:s, s:I, s:o}", "role", nn_dl_fluff_epoch(n->dl) ? "fluff" : "stem", "ends_in_s",
                            (json_int_t)(end > now ? (end - now) / 1000 : 0), "relays", rel);
  const char *net = n->network == NN_NET_TESTNET ? "testnet" : n->network == NN_NET_REGTEST ? "regtest" : "mainnet";
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:o, s:{s:I,s:I}, "
                   "s:{s:I,s:I}, s:I, s:I, s:I}",
                   "node_id", n->hexid, "network", net, "peer", peer, "preset", n->cfg.preset ? n->cfg.preset : "",
                   "route", nn_dl_route_str(n->cfg.dl.route),
                   "uptime_s", (json_int_t)((now - n->start_mono_ms) / 1000),
                   "peers_in", (json_int_t)st.peers_in, "peers_out", (json_int_t)st.peers_out,
                   "dialing", (json_int_t)st.dialing, "channels", (json_int_t)ds.channels,
                   "dht_size", (json_int_t)ds.table_size, "bootstrapped", ds.bootstrapped,
                   "bytes_in", (json_int_t)st.bytes_in, "bytes_out", (json_int_t)st.bytes_out,
                   "epoch", epoch,
                   "mempool", "count", (json_int_t)dls.mem_count, "bytes", (json_int_t)dls.mem_bytes,
                   "stempool", "count", (json_int_t)dls.stem_count, "bytes", (json_int_t)dls.stem_bytes,
                   "tx_received", (json_int_t)st.tx_received, "tx_submitted", (json_int_t)st.tx_submitted,
                   "rx_seq", (json_int_t)n->rx_seq);
}

json_t *
nn_node_peers_json(nn_node_t *n)
{
  json_t *arr = json_array();
  uint32_t relays[2];
  size_t nr = nn_dl_relays(n->dl, relays);
  uint64_t now = mono_ms();
  for (npeer_t *p = n->peers; p; p = p->next) {
    if (p->state != P_GOSSIP)
      continue;
    char h[65] = "", a[NN_ADDR_STR_MAX];
    int relay = 0;
    if (p->has_id)
      nn_hex_encode(h, p->id.b, NN_NODE_ID_LEN);
    nn_addr_format(&p->addr, a);
    for (size_t i = 0; i < nr; i++)
      relay |= relays[i] == p->handle;
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b}", "node_id", h, "addr", a,
                                         "direction", p->outbound ? "out" : "in",
                                         "since_s", (json_int_t)((now - p->since_ms) / 1000),
                                         "bytes_in", (json_int_t)p->bytes_in, "bytes_out", (json_int_t)p->bytes_out,
                                         "stems_in", (json_int_t)p->stems_in, "stems_out", (json_int_t)p->stems_out,
                                         "stem_relay", relay));
  }
  return arr;
}

void
nn_node_metrics(nn_node_t *n, struct evbuffer *b)
{
  nn_node_stats_t st;
  nn_disco_stats_t ds;
  nn_dl_stats_t dls;
  nn_node_stats(n, &st);
  nn_disco_stats(n->disco, &ds);
  nn_dl_stats(n->dl, &dls);
#define G(name, help, v) evbuffer_add_printf(b, "# HELP nepnet_" name " " help "\n# TYPE nepnet_" name " gauge\nnepnet_" name " %llu\n", (unsigned long long)(v))
#define C(name, help, v) evbuffer_add_printf(b, "# HELP nepnet_" name " " help "\n# TYPE nepnet_" name " counter\nnepnet_" name " %llu\n", (unsigned long long)(v))
  evbuffer_add_printf(b, "# HELP nepnet_peers Gossip peers by direction.\n# TYPE nepnet_peers gauge\n"
                         "nepnet_peers{direction=\"in\"} %zu\nnepnet_peers{direction=\"out\"} %zu\n",
                      st.peers_in, st.peers_out);
  G("uptime_seconds", "Seconds since the node started.", (mono_ms() - n->start_mono_ms) / 1000);
  G("channels", "Open secure channels (DHT and gossip).", ds.channels);
  G("dht_table_size", "Contacts in the DHT routing table.", ds.table_size);
  G("dht_values", "Peer records stored.", ds.values);
  G("epoch_fluff", "1 in a Dandelion++ fluff epoch, 0 in a stem epoch.", nn_dl_fluff_epoch(n->dl));
  G("mempool_transactions", "Transactions in the mempool.", dls.mem_count);
  G("mempool_bytes", "Bytes in the mempool.", dls.mem_bytes);
  G("stempool_transactions", "Transactions in the stempool.", dls.stem_count);
  C("gossip_bytes_in_total", "Gossip bytes received.", st.bytes_in);
  C("gossip_bytes_out_total", "Gossip bytes sent.", st.bytes_out);
  C("dht_messages_in_total", "DHT messages received.", ds.msgs_in);
  C("dht_messages_out_total", "DHT messages sent.", ds.msgs_out);
  C("transactions_received_total", "Transactions that entered the mempool.", st.tx_received);
  C("transactions_submitted_total", "Transactions submitted through the API.", st.tx_submitted);
  C("stems_in_total", "Stem transactions received.", dls.stems_in);
  C("stems_out_total", "Stem transactions relayed or sent.", dls.stems_out);
  C("stems_fluffed_total", "Stem transactions this node fluffed.", dls.stem_fluffed);
  C("embargo_fired_total", "Embargo timers that fired.", dls.embargo_fired);
  C("epochs_total", "Dandelion++ epochs begun.", dls.epochs);
  C("bad_messages_total", "Gossip messages that closed a channel.", st.bad_msgs);
  C("penalties_total", "Penalties passed to the peer store.", ds.penalties);
  C("bans_total", "Hosts banned.", ds.bans);
  C("refused_full_total", "HELLOs refused or refused to us for lack of slots.", st.refused_full);
  C("dials_total", "Outbound gossip dials.", st.dials);
  C("dial_failures_total", "Outbound gossip dials that failed.", st.dial_failures);
  C("unsolicited_tx_total", "TXs dropped because we had not asked that peer for them.", st.unsolicited);
  C("stems_dropped_total", "STEMs dropped by the per-peer rate limit.", st.stems_dropped);
  C("inv_ignored_total", "Announced ids not requested because a request cap was reached.", dls.inv_ignored);
#undef G
#undef C
}

nn_disco_t *nn_node_disco(nn_node_t *n) { return n->disco; }
nn_dl_t *nn_node_dl(nn_node_t *n) { return n->dl; }
nn_api_t *nn_node_api(nn_node_t *n) { return n->api; }
