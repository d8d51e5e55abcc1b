/*
 * Transaction gossip (gossip.h): the Dandelion++ core over the connection manager's channels.
 *
 * Re-entrancy. The Dandelion++ core calls back (send_stem, send_inv...) from inside its own
 * functions; sends go to the manager, which never calls back from inside a call. A peer that
 * leaves is only marked dead from on_down and removed from the core by maintain(), from a
 * zero-delay "kick" event, so the core is never re-entered from inside itself.
 */
#include "node/gossip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "crypto/sha3.h"
#include "dandelion/msg.h"
#include "dht/table.h"
#include "lib/clock.h"
#include "lib/hex.h"
#include "net/kinds.h"

#define PEN_MALFORMED 20    /* a gossip message that does not parse */
#define PEN_OUT_OF_PLACE 10 /* gossip before HELLO, a second HELLO, an oversized transaction */
#define PEN_UNSOLICITED 2   /* a TX we did not ask that peer for (or a late answer), dropped */
#define PEN_STEM_FLOOD 1    /* a STEM above the peer's rate, dropped */
#define MAX_BACKOFF 1024    /* remembered failing addresses */
#define MAX_CANDIDATES 256
#define MAX_PENDING_OUT (16u << 20) /* a peer this far behind gets no more INVs/TXs until it reads */

typedef enum { P_CHANNEL = 0, P_HELLO_SENT, P_GOSSIP, P_DEAD } pstate_t;

typedef struct npeer_t {
  struct npeer_t *next;
  uint64_t conn;
  uint32_t handle; /* the Dandelion++ core's name for it */
  pstate_t state;
  int outbound, dialled, in_dl;
  nn_addr_t addr, pen;
  nn_node_id_t id;
  int has_id;
  uint8_t group[1 + NN_ADDR_HOST_MAX + 2];
  size_t group_len;
  uint64_t since_ms, hello_at_ms; /* monotonic */
  uint32_t peer_max_tx;           /* from its HELLO: we send it nothing larger */
  int peer_mixnet;                /* its HELLO says it speaks the mixnet */
  int refused;                    /* we answered its HELLO with FULL */
  int full;                       /* it answered our HELLO with FULL: this channel carries no gossip */
  uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
  uint64_t stems_in, stems_out, txs_in, txs_out;
  double stem_tokens; /* token bucket of STEMs this peer may still send */
  uint64_t stem_refill_ms;
  nn_hash_t *inv; /* INVs batched during one tick */
  size_t ninv;
} npeer_t;

/* Our own transaction under tx-proxy: held until it is seen back in our mempool. */
typedef struct owntx_t {
  struct owntx_t *next;
  nn_hash_t id;
  uint8_t *tx;
  size_t len;
  uint64_t submitted_ms, sent_ms; /* sent_ms 0: not sent yet */
  uint64_t last_conn;             /* the channel it went out on last */
} owntx_t;

/* A private-broadcast channel: dialled for one transaction of ours, closed once it is sent. */
typedef struct pbconn_t {
  struct pbconn_t *next;
  uint64_t conn;
  nn_hash_t id; /* the transaction */
  int sent;
} pbconn_t;

#define PB_MAX_CONNS 32

typedef struct backoff_t {
  nn_addr_t addr;
  uint64_t until_ms;
  uint32_t fails;
} backoff_t;

typedef struct cand_t {
  nn_addr_t addr;
  nn_node_id_t id;
  int has_id;
} cand_t;

/* A token bucket of STEMs shared by every channel of one host, or of one network group: many
 * channels from a few addresses get no more than one peer would (issue 10, item 8). */
#define STEM_BUCKETS 128
typedef struct stem_bucket_t {
  uint8_t key[NN_GOSSIP_STEM_KEY_MAX];
  size_t key_len;
  double tokens;
  uint64_t refill_ms;
} stem_bucket_t;

struct nn_gossip_t {
  nn_net_t *net;
  nn_disco_t *disco;
  int proto; /* our tenant handle */
  nn_node_id_t self;
  nn_gossip_cfg_t cfg;
  cand_t *connect; /* parsed cfg.connect */
  size_t n_connect;
  nn_dl_t *dl;
  npeer_t *peers;
  const npeer_t *stem_src; /* the peer whose STEM the core is handling now (cfg.on_stem) */
  uint32_t next_handle;
  backoff_t backoff[MAX_BACKOFF];
  size_t nbackoff;
  stem_bucket_t stem_buckets[STEM_BUCKETS];
  size_t n_stem_buckets;
  owntx_t *own;
  size_t own_bytes;
  pbconn_t *pb;
  unsigned npb;
  int own_warned; /* said once that our transactions wait for a Tor/I2P peer */
  struct event *ev_dl, *ev_kick, *ev_maint;
  int kicked, freeing, registered;
  nn_gossip_stats_t st;
};

/* ---- small helpers ---- */

#define glog(g, level, ...) nn_log((g)->cfg.log, (level), "gossip", __VA_ARGS__)

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
nn_gossip_group(const nn_addr_t *a, uint8_t out[1 + NN_ADDR_HOST_MAX + 2])
{
  /* public: /16 or /32; loopback and private: each address and port is a group of its own */
  return nn_addr_is_public(a) ? nn_addr_group(a, 16, 32, out) : nn_addr_host_key(a, out);
}

size_t
nn_gossip_stem_key(const nn_addr_t *a, int group, uint8_t out[NN_GOSSIP_STEM_KEY_MAX])
{
  out[0] = group ? 'g' : 'h';
  return 1 + (group ? nn_gossip_group(a, out + 1) : nn_addr_host_key(a, out + 1));
}

static void
kick(nn_gossip_t *g)
{
  if (!g->kicked && !g->freeing) {
    g->kicked = 1;
    event_active(g->ev_kick, EV_TIMEOUT, 0);
  }
}

static npeer_t *
peer_by_conn(nn_gossip_t *g, uint64_t conn)
{
  for (npeer_t *p = g->peers; p; p = p->next)
    if (p->conn == conn)
      return p;
  return NULL;
}

static npeer_t *
peer_by_handle(nn_gossip_t *g, uint32_t h)
{
  for (npeer_t *p = g->peers; p; p = p->next)
    if (p->handle == h && p->state == P_GOSSIP)
      return p;
  return NULL;
}

static void
count_peers(const nn_gossip_t *g, size_t *in, size_t *out, size_t *dialing)
{
  *in = *out = *dialing = 0;
  for (const npeer_t *p = g->peers; p; p = p->next) {
    if (p->state == P_DEAD)
      continue;
    if (p->state == P_GOSSIP)
      (*(p->outbound ? out : in))++;
    else if (p->dialled)
      (*dialing)++;
  }
}

/* ---- backoff of addresses we failed to gossip with ---- */

/* The key a dial's backoff is kept under: its address, except through a relay, where the
 * address names the relay and the node id says whom (port 1 keeps it apart from the relay's). */
static nn_addr_t
bkey(const nn_addr_t *a, int has_id, const nn_node_id_t *id)
{
  if (a->type == NN_ADDR_RELAY && has_id)
    return nn_addr_overlay(NN_ADDR_RELAY, id->b, 1);
  return *a;
}

static void backoff_fail(nn_gossip_t *g, const nn_addr_t *a);
static void backoff_clear(nn_gossip_t *g, const nn_addr_t *a);

static void
backoff_fail_id(nn_gossip_t *g, const nn_addr_t *a, int has_id, const nn_node_id_t *id)
{
  nn_addr_t k = bkey(a, has_id, id);
  backoff_fail(g, &k);
}

static void
backoff_clear_id(nn_gossip_t *g, const nn_addr_t *a, int has_id, const nn_node_id_t *id)
{
  nn_addr_t k = bkey(a, has_id, id);
  backoff_clear(g, &k);
}

static backoff_t *
backoff_find(nn_gossip_t *g, const nn_addr_t *a)
{
  for (size_t i = 0; i < g->nbackoff; i++)
    if (nn_addr_equal(&g->backoff[i].addr, a))
      return &g->backoff[i];
  return NULL;
}

static void
backoff_fail(nn_gossip_t *g, const nn_addr_t *a)
{
  backoff_t *b = backoff_find(g, a);
  if (!b) {
    size_t i = 0;
    if (g->nbackoff < MAX_BACKOFF) {
      i = g->nbackoff++;
    } else { /* full: replace the entry that expires first */
      for (size_t j = 1; j < MAX_BACKOFF; j++)
        if (g->backoff[j].until_ms < g->backoff[i].until_ms)
          i = j;
    }
    b = &g->backoff[i];
    memset(b, 0, sizeof(*b));
    b->addr = *a;
  }
  uint64_t d = (uint64_t)g->cfg.retry_min_ms << (b->fails < 20 ? b->fails : 20);
  if (d > g->cfg.retry_max_ms)
    d = g->cfg.retry_max_ms;
  b->fails++;
  b->until_ms = nn_mono_ms() + d;
}

static void
backoff_clear(nn_gossip_t *g, const nn_addr_t *a)
{
  backoff_t *b = backoff_find(g, a);
  if (b)
    *b = g->backoff[--g->nbackoff];
}

/* ---- sending ---- */

static int
peer_send(nn_gossip_t *g, npeer_t *p, const uint8_t *msg, size_t len)
{
  if (p->state == P_DEAD || nn_net_send(g->net, p->conn, msg, len) != NN_OK)
    return 0;
  p->bytes_out += len;
  p->msgs_out++;
  g->st.bytes_out += len;
  return 1;
}

static int
peer_backlogged(nn_gossip_t *g, npeer_t *p)
{
  return nn_net_pending(g->net, p->conn) > MAX_PENDING_OUT;
}

/* STEM and TX: the kind byte, then the transaction. */
static int send_raw_stem(nn_gossip_t *g, uint64_t conn, const owntx_t *o);

static int
send_tx_kind(nn_gossip_t *g, npeer_t *p, uint8_t kind, const uint8_t *tx, size_t len)
{
  uint8_t *m = malloc(len + 1);
  int ok;
  if (!m)
    return 0;
  m[0] = kind;
  memcpy(m + 1, tx, len);
  ok = peer_send(g, p, m, len + 1);
  free(m);
  return ok;
}

static void
send_hello(nn_gossip_t *g, npeer_t *p, uint8_t flags)
{
  uint8_t m[NN_DLMSG_HELLO_LEN];
  if (g->cfg.mixnet)
    flags |= NN_DLMSG_HELLO_MIXNET;
  nn_dlmsg_hello(m, flags, (uint32_t)g->cfg.dl.max_tx_bytes);
  (void)peer_send(g, p, m, sizeof(m));
}

static void
flush_invs(nn_gossip_t *g)
{
  uint8_t buf[3 + NN_DLMSG_MAX_IDS * NN_HASH_LEN];
  size_t len;
  for (npeer_t *p = g->peers; p; p = p->next) {
    if (!p->ninv)
      continue;
    if (nn_dlmsg_ids(buf, sizeof(buf), &len, NN_DLMSG_INV, p->inv, p->ninv) == NN_OK)
      (void)peer_send(g, p, buf, len);
    p->ninv = 0;
  }
}

/* ---- the Dandelion++ core's io ---- */

static void
own_step_cb(nn_gossip_t *g, const nn_hash_t *id, const char *what, const npeer_t *p, const char *detail, int state)
{
  if (g->cfg.on_own)
    g->cfg.on_own(g->cfg.ctx, id, what, p && p->has_id ? &p->id : NULL, detail, state);
}

static void
io_send_stem(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  nn_gossip_t *g = ctx;
  npeer_t *p = peer_by_handle(g, peer);
  nn_hash_t id;
  int hashed = (g->cfg.on_own || g->cfg.on_stem) && nn_sha3_256(&id, tx, len) == NN_OK;
  /* our own stem: a step of its timeline (the core knows which stems are ours) */
  int own = hashed && nn_dl_stemming(g->dl, &id) == 2;
  /* a relay that does not read, or cannot take it: dropped here, the embargo covers it */
  int sent = p && len <= p->peer_max_tx && !peer_backlogged(g, p);
  if (hashed && !own && g->cfg.on_stem) {
    const npeer_t *src = g->stem_src;
    g->cfg.on_stem(g->cfg.ctx, &id, src && src->has_id ? &src->id : NULL, p && p->has_id ? &p->id : NULL,
                   sent ? "forwarded" : "dropped");
  }
  if (sent) {
    p->stems_out++;
    send_tx_kind(g, p, NN_DLMSG_STEM, tx, len);
    if (own)
      own_step_cb(g, &id, "stem", p, "to this epoch's relay", 1);
  } else if (own) {
    own_step_cb(g, &id, "stem-dropped", p,
                !p                     ? "the relay is gone"
                : len > p->peer_max_tx ? "larger than the relay takes"
                                       : "the relay is backlogged: the embargo covers it",
                -1);
  }
}

static void
io_send_inv(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  nn_gossip_t *g = ctx;
  npeer_t *p = peer_by_handle(g, peer);
  if (!p || peer_backlogged(g, p))
    return;
  if (!p->inv && !(p->inv = malloc(NN_DLMSG_MAX_IDS * sizeof(*p->inv))))
    return;
  if (p->ninv == NN_DLMSG_MAX_IDS)
    flush_invs(g);
  p->inv[p->ninv++] = *id;
}

static void
io_send_getdata(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  nn_gossip_t *g = ctx;
  uint8_t buf[3 + NN_HASH_LEN];
  size_t len;
  npeer_t *p = peer_by_handle(g, peer);
  if (p && nn_dlmsg_ids(buf, sizeof(buf), &len, NN_DLMSG_GETDATA, id, 1) == NN_OK)
    (void)peer_send(g, p, buf, len);
}

static void
io_send_tx(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  nn_gossip_t *g = ctx;
  npeer_t *p = peer_by_handle(g, peer);
  if (p && len <= p->peer_max_tx && !peer_backlogged(g, p)) {
    p->txs_out++;
    send_tx_kind(g, p, NN_DLMSG_TX, tx, len);
  }
}

static void
io_deliver(void *ctx, const uint8_t *tx, size_t len, nn_dl_via_t via, uint32_t from)
{
  nn_gossip_t *g = ctx;
  npeer_t *p = from == NN_DL_NO_PEER ? NULL : peer_by_handle(g, from);
  if (p)
    p->txs_in++;
  if (nn_log_enabled(g->cfg.log, NN_LOG_DEBUG)) {
    nn_hash_t id;
    char h[17];
    (void)nn_sha3_256(&id, tx, len);
    nn_hex_encode(h, id.b, 8);
    glog(g, NN_LOG_DEBUG, "transaction %s (%zu bytes) in the mempool via %s", h, len, nn_dl_via_str(via));
  }
  if (g->cfg.deliver)
    g->cfg.deliver(g->cfg.ctx, tx, len, via, p && p->has_id ? &p->id : NULL);
}

/* ---- timers ---- */

static void
schedule_dl(nn_gossip_t *g)
{
  if (g->freeing)
    return;
  uint64_t now = nn_mono_ms(), dl = nn_dl_deadline(g->dl);
  uint64_t delay = dl <= now ? 0 : dl - now;
  if (delay > 1000)
    delay = 1000;
  struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
  evtimer_add(g->ev_dl, &tv);
}

static void
on_dl_timer(evutil_socket_t fd, short what, void *arg)
{
  nn_gossip_t *g = arg;
  (void)fd;
  (void)what;
  nn_dl_tick(g->dl, nn_mono_ms());
  flush_invs(g);
  schedule_dl(g);
}

/* ---- peers ---- */

static void
peer_free(npeer_t *p)
{
  free(p->inv);
  free(p);
}

static void
peer_to_gossip(nn_gossip_t *g, npeer_t *p)
{
  char name[NN_ADDR_STR_MAX + 24];
  p->state = P_GOSSIP;
  p->since_ms = nn_mono_ms();
  nn_net_hold(g->net, g->proto, p->conn, 1);
  if (nn_dl_peer_add(g->dl, p->handle, p->outbound, nn_mono_ms()) == NN_OK)
    p->in_dl = 1;
  if (p->outbound)
    backoff_clear_id(g, &p->addr, p->has_id, &p->id);
  peer_name(p, name);
  glog(g, NN_LOG_INFO, "gossip peer %s %s", p->outbound ? "to" : "from", name);
  if (g->cfg.on_peer && g->cfg.mixnet && p->peer_mixnet)
    g->cfg.on_peer(g->cfg.ctx, p->conn);
  nn_net_conn_info_t ci;
  if (g->cfg.on_peer_state && nn_net_conn_info(g->net, p->conn, &ci))
    g->cfg.on_peer_state(g->cfg.ctx, p->conn, 1, &ci);
  schedule_dl(g);
}

static void
peer_misbehaved(nn_gossip_t *g, npeer_t *p, int points, const char *what)
{
  char name[NN_ADDR_STR_MAX + 24], why[160];
  peer_name(p, name);
  snprintf(why, sizeof(why), "gossip: %s", what);
  g->st.bad_msgs++;
  glog(g, NN_LOG_WARN, "closing channel with %s: %s", name, what);
  nn_net_penalize(g->net, p->conn, points, why);
  if (p->outbound)
    backoff_fail_id(g, &p->addr, p->has_id, &p->id);
  nn_net_close(g->net, p->conn, 0);
  if (p->state != P_DEAD)
    p->state = P_DEAD;
  kick(g);
}

static int
inbound_room(nn_gossip_t *g, const npeer_t *np)
{
  size_t in = 0, same = 0;
  for (const npeer_t *p = g->peers; p; p = p->next) {
    if (p->state != P_GOSSIP)
      continue;
    if (np->has_id && p->has_id && !memcmp(p->id.b, np->id.b, NN_NODE_ID_LEN))
      return 0; /* already peers (say, both dialled): one channel is enough */
    if (p->outbound)
      continue;
    in++;
    /* public hosts by address (their port is ephemeral); loopback/private ones by the key the
     * peer store uses for them. A relayed channel's address names the relay, not the peer: the
     * relay caps the circuits to us (per target) instead, so relayed peers are not one host; nor
     * are the peers in through our onion service (Tor hides them all behind one address). */
    if (np->pen.type != NN_ADDR_RELAY && !nn_addr_is_hidden_origin(&np->pen))
      same += nn_addr_is_public(&np->pen) ? nn_addr_same_host(&p->pen, &np->pen) : nn_addr_equal(&p->pen, &np->pen);
  }
  unsigned max_in = g->cfg.max_peers > g->cfg.max_outbound ? g->cfg.max_peers - g->cfg.max_outbound : 0;
  if (in >= max_in)
    return 0;
  return !g->cfg.max_inbound_per_host || same < g->cfg.max_inbound_per_host;
}

/* Two gossip channels with one node (both dialled at once): keep the one dialled by the node
 * with the lower id, so both ends keep the same channel. Returns 0 if \a p is the one to drop. */
static int
keep_against_duplicate(nn_gossip_t *g, npeer_t *p)
{
  if (!p->has_id)
    return 1;
  for (npeer_t *o = g->peers; o; o = o->next) {
    if (o == p || o->state != P_GOSSIP || !o->has_id || memcmp(o->id.b, p->id.b, NN_NODE_ID_LEN))
      continue;
    int we_lower = memcmp(g->self.b, p->id.b, NN_NODE_ID_LEN) < 0;
    npeer_t *drop = (p->outbound == we_lower) ? o : p; /* keep the channel the lower id dialled */
    glog(g, NN_LOG_DEBUG, "two gossip channels with one peer; closing one");
    nn_net_hold(g->net, g->proto, drop->conn, 0);
    nn_net_close(g->net, drop->conn, 0);
    drop->state = P_DEAD;
    kick(g);
    return drop != p;
  }
  return 1;
}

static void
on_hello(nn_gossip_t *g, npeer_t *p, const nn_dlmsg_t *m)
{
  p->peer_max_tx = m->max_tx;
  p->peer_mixnet = (m->flags & NN_DLMSG_HELLO_MIXNET) != 0;
  if (p->outbound) {
    if (p->state != P_HELLO_SENT) {
      peer_misbehaved(g, p, PEN_OUT_OF_PLACE, "HELLO we did not ask for");
      return;
    }
    if (m->flags & NN_DLMSG_HELLO_FULL) {
      char name[NN_ADDR_STR_MAX + 24];
      peer_name(p, name);
      glog(g, NN_LOG_DEBUG, "%s has no gossip slot for us", name);
      g->st.refused_full++;
      backoff_fail_id(g, &p->addr, p->has_id, &p->id);
      nn_net_hold(g->net, g->proto, p->conn, 0); /* the DHT may still use the channel, or trim it */
      p->state = P_CHANNEL;
      p->dialled = 0;
      p->full = 1; /* a second HELLO on it is a violation (PROTOCOL.md 8.1): never adopted again */
      return;
    }
    if (keep_against_duplicate(g, p))
      peer_to_gossip(g, p);
    return;
  }
  if (p->state != P_CHANNEL || p->refused) {
    peer_misbehaved(g, p, PEN_OUT_OF_PLACE, "a second HELLO");
    return;
  }
  if (!inbound_room(g, p)) {
    g->st.refused_full++;
    p->refused = 1;
    send_hello(g, p, NN_DLMSG_HELLO_FULL);
    return; /* the channel stays a DHT channel; the dialler stops using it for gossip */
  }
  send_hello(g, p, 0);
  peer_to_gossip(g, p);
}

/* Refill a bucket of \a burst tokens at \a rate per second; 1 if a token was there (not taken). */
static int
bucket_has(double *tokens, uint64_t *refill_ms, double rate, double burst, uint64_t now)
{
  if (!*refill_ms) {
    *tokens = burst;
    *refill_ms = now;
  }
  *tokens += (double)(now - *refill_ms) * rate / 1000.0;
  *refill_ms = now;
  if (*tokens > burst)
    *tokens = burst;
  return *tokens >= 1.0;
}

/* The shared bucket for \a key: found, or taken over from the one idle longest. */
static stem_bucket_t *
stem_bucket(nn_gossip_t *g, const uint8_t *key, size_t len)
{
  stem_bucket_t *oldest = NULL;
  for (size_t i = 0; i < g->n_stem_buckets; i++) {
    stem_bucket_t *b = &g->stem_buckets[i];
    if (b->key_len == len && !memcmp(b->key, key, len))
      return b;
    if (!oldest || b->refill_ms < oldest->refill_ms)
      oldest = b;
  }
  stem_bucket_t *b = g->n_stem_buckets < STEM_BUCKETS ? &g->stem_buckets[g->n_stem_buckets++] : oldest;
  memset(b, 0, sizeof(*b));
  memcpy(b->key, key, len);
  b->key_len = len;
  return b;
}

/* A STEM from \a p within its own rate, its host's and its network group's (nn_gossip_group)?
 * Hosts: public ones by address (their ports are ephemeral), loopback and private ones by address
 * and port (a devnet's nodes share 127.0.0.1), as inbound_room keys them. A group gets twice a
 * host's rate. */
static int
stem_allowed(nn_gossip_t *g, npeer_t *p, uint64_t now)
{
  double rate = g->cfg.stem_rate, burst = (double)g->cfg.stem_burst;
  uint8_t key[NN_GOSSIP_STEM_KEY_MAX];
  size_t n = nn_gossip_stem_key(&p->pen, 0, key);
  stem_bucket_t *hb = stem_bucket(g, key, n);
  n = nn_gossip_stem_key(&p->pen, 1, key);
  stem_bucket_t *gb = stem_bucket(g, key, n);
  if (!bucket_has(&p->stem_tokens, &p->stem_refill_ms, rate, burst, now) ||
      !bucket_has(&hb->tokens, &hb->refill_ms, rate, burst, now) ||
      !bucket_has(&gb->tokens, &gb->refill_ms, 2 * rate, 2 * burst, now))
    return 0;
  p->stem_tokens -= 1.0;
  hb->tokens -= 1.0;
  gb->tokens -= 1.0;
  return 1;
}

static void
on_gossip(nn_gossip_t *g, npeer_t *p, const nn_dlmsg_t *m)
{
  uint64_t now = nn_mono_ms();
  nn_err_t e = NN_OK;
  nn_hash_t id;
  switch (m->kind) {
  case NN_DLMSG_STEM:
    /* Honest peers stem only to peers they dialled; a stem the other way is accepted all the
     * same (pinned like any source) since refusing it would tell the sender nothing useful.
     * The stempool is capped (oldest out), so a peer flooding stems could push honest ones
     * out: each peer gets a token bucket. */
    p->stems_in++;
    if (!stem_allowed(g, p, now)) {
      g->st.stems_dropped++;
      nn_net_penalize(g->net, p->conn, PEN_STEM_FLOOD, "gossip: STEMs above the rate limit");
      break;
    }
    g->stem_src = p;
    e = nn_dl_on_stem(g->dl, p->handle, m->tx, m->tx_len, now);
    g->stem_src = NULL;
    break;
  case NN_DLMSG_TX:
    e = nn_dl_on_fluff(g->dl, p->handle, m->tx, m->tx_len, now);
    if (e == NN_ERR_NOTFOUND) { /* not asked of this peer: dropped; a late answer costs little */
      g->st.unsolicited++;
      nn_net_penalize(g->net, p->conn, PEN_UNSOLICITED, "gossip: a TX we did not ask for");
      e = NN_OK;
    }
    break;
  case NN_DLMSG_INV:
    for (size_t i = 0; i < m->count; i++) {
      nn_dlmsg_id(m, i, &id);
      nn_dl_on_inv(g->dl, p->handle, &id, now);
    }
    break;
  case NN_DLMSG_GETDATA:
    for (size_t i = 0; i < m->count; i++) {
      nn_dlmsg_id(m, i, &id);
      nn_dl_on_getdata(g->dl, p->handle, &id, now);
    }
    break;
  default: break;
  }
  if (e == NN_ERR_TOO_LONG)
    peer_misbehaved(g, p, PEN_OUT_OF_PLACE, "transaction above our max_tx");
  flush_invs(g);
  schedule_dl(g);
}

/* ---- discovery's app callbacks ---- */

/* ---- the manager's callbacks ---- */

/* ---- private broadcast: one-use channels for our own transactions ---- */

static pbconn_t *
pb_find(nn_gossip_t *g, uint64_t conn)
{
  for (pbconn_t *b = g->pb; b; b = b->next)
    if (b->conn == conn)
      return b;
  return NULL;
}

static owntx_t *
own_find(nn_gossip_t *g, const nn_hash_t *id)
{
  for (owntx_t *o = g->own; o; o = o->next)
    if (!memcmp(o->id.b, id->b, sizeof(id->b)))
      return o;
  return NULL;
}

/* Our HELLO on a private-broadcast channel that came up. */
static int
pb_up(nn_gossip_t *g, uint64_t conn)
{
  pbconn_t *b = pb_find(g, conn);
  uint8_t m[NN_DLMSG_HELLO_LEN];
  if (!b)
    return 0;
  nn_dlmsg_hello(m, 0, (uint32_t)g->cfg.dl.max_tx_bytes);
  (void)nn_net_send(g->net, conn, m, sizeof(m));
  return 1;
}

/* The peer's HELLO: our STEM, then the channel closes (the CLOSE record follows the STEM). */
static int
pb_message(nn_gossip_t *g, uint64_t conn, const uint8_t *msg, size_t len)
{
  pbconn_t *b = pb_find(g, conn);
  nn_dlmsg_t m;
  owntx_t *o;
  if (!b)
    return 0;
  if (b->sent || nn_dlmsg_parse(&m, msg, len, g->cfg.dl.max_tx_bytes) != NN_OK || m.kind != NN_DLMSG_HELLO ||
      (m.flags & NN_DLMSG_HELLO_FULL) || !(o = own_find(g, &b->id)) || o->len > m.max_tx) {
    nn_net_close(g->net, conn, 0); /* anything else, or no room: this channel has done its part */
    return 1;
  }
  if (send_raw_stem(g, conn, o)) {
    b->sent = 1;
    g->st.pb_sent++;
    g->st.own_sent++;
  }
  nn_net_close(g->net, conn, 0);
  return 1;
}

static int
pb_down(nn_gossip_t *g, uint64_t conn)
{
  for (pbconn_t **bp = &g->pb; *bp; bp = &(*bp)->next) {
    pbconn_t *b = *bp;
    if (b->conn != conn)
      continue;
    if (!b->sent)
      g->st.pb_failed++;
    *bp = b->next;
    free(b);
    g->npb--;
    return 1;
  }
  return 0;
}

static void
t_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_gossip_t *g = ctx;
  if (pb_up(g, conn))
    return;
  npeer_t *p = peer_by_conn(g, conn);
  if (!p) { /* a channel someone else opened (the DHT), or an inbound one */
    if (!(p = calloc(1, sizeof(*p))))
      return;
    p->conn = conn;
    p->handle = ++g->next_handle;
    p->outbound = !info->inbound;
    p->next = g->peers;
    g->peers = p;
  }
  p->addr = info->addr;
  p->pen = nn_disco_pen_key(&info->addr, info->inbound);
  p->group_len = nn_gossip_group(&info->addr, p->group);
  if (info->has_id) {
    p->id = info->id;
    p->has_id = 1;
  }
  p->since_ms = nn_mono_ms();
  if (info->has_id && !memcmp(info->id.b, g->self.b, NN_NODE_ID_LEN)) {
    /* ourselves, reached through an address of ours (a DNS seed lists us, a wildcard listener) */
    glog(g, NN_LOG_DEBUG, "a channel to ourselves; closing it");
    backoff_fail_id(g, &info->addr, info->has_id, &info->id);
    nn_net_hold(g->net, g->proto, conn, 0);
    nn_net_close(g->net, conn, 0);
    p->state = P_DEAD;
    kick(g);
    return;
  }
  if (p->dialled) {
    p->state = P_HELLO_SENT;
    p->hello_at_ms = nn_mono_ms();
    send_hello(g, p, 0);
  }
}

static void
t_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_gossip_t *g = ctx;
  if (pb_message(g, conn, msg, len))
    return;
  npeer_t *p = peer_by_conn(g, conn);
  nn_dlmsg_t m;
  nn_err_t e;
  if (!p || p->state == P_DEAD)
    return;
  p->bytes_in += len;
  p->msgs_in++;
  g->st.bytes_in += len;
  if ((e = nn_dlmsg_parse(&m, msg, len, g->cfg.dl.max_tx_bytes)) == NN_ERR_VERSION) {
    /* a newer gossip version is not misbehaviour: part without a penalty */
    char name[NN_ADDR_STR_MAX + 24];
    peer_name(p, name);
    glog(g, NN_LOG_INFO, "%s speaks gossip version %u (we speak %u); closing", name, len > 1 ? msg[1] : 0,
         NN_DLMSG_VERSION);
    g->st.version_mismatch++;
    nn_net_hold(g->net, g->proto, p->conn, 0);
    nn_net_close(g->net, p->conn, 0);
    p->state = P_DEAD;
    kick(g);
    return;
  }
  if (e != NN_OK) {
    char what[96];
    snprintf(what, sizeof(what), "malformed message (kind 0x%02x, %zu bytes): %s", len ? msg[0] : 0, len,
             nn_err_str(e));
    peer_misbehaved(g, p, e == NN_ERR_TOO_LONG ? PEN_OUT_OF_PLACE : PEN_MALFORMED, what);
    return;
  }
  if (m.kind == NN_DLMSG_HELLO) {
    on_hello(g, p, &m);
    return;
  }
  if (p->state != P_GOSSIP) {
    peer_misbehaved(g, p, PEN_OUT_OF_PLACE, "transaction gossip before HELLO");
    return;
  }
  on_gossip(g, p, &m);
}

/* A relayed peer punched through: from now on it is the host at the punched address, for the
 * per-host STEM rate, penalties and network groups alike. */
static void
t_moved(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_gossip_t *g = ctx;
  npeer_t *p = peer_by_conn(g, conn);
  if (!p)
    return;
  p->addr = info->addr;
  p->pen = nn_disco_pen_key(&info->addr, info->inbound);
  p->group_len = nn_gossip_group(&info->addr, p->group);
}

static void
t_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_gossip_t *g = ctx;
  if (pb_down(g, conn))
    return;
  npeer_t *p = peer_by_conn(g, conn);
  if (!p)
    return;
  if (p->dialled && p->state != P_GOSSIP) {
    g->st.dial_failures++;
    backoff_fail_id(g, &p->addr, p->has_id, &p->id);
  } else if (p->state == P_GOSSIP) {
    char name[NN_ADDR_STR_MAX + 24];
    peer_name(p, name);
    glog(g, NN_LOG_INFO, "gossip peer %s gone: %s", name, nn_net_close_reason_str(info->reason));
    if (p->outbound && info->reason != NN_CLOSE_LOCAL)
      backoff_fail_id(g, &p->addr, p->has_id, &p->id);
    if (g->cfg.on_peer_state)
      g->cfg.on_peer_state(g->cfg.ctx, conn, 0, info);
  }
  p->state = P_DEAD;
  kick(g); /* nn_dl_peer_remove from outside any core call */
}

/* ---- outbound slots ---- */

static int
group_in_use(nn_gossip_t *g, const uint8_t *grp, size_t gl)
{
  for (npeer_t *p = g->peers; p; p = p->next)
    if (p->state != P_DEAD && p->outbound && (p->dialled || p->state == P_GOSSIP) && p->group_len == gl &&
        !memcmp(p->group, grp, gl))
      return 1;
  return 0;
}

static int
known_peer(nn_gossip_t *g, const cand_t *c)
{
  if (c->has_id && !memcmp(c->id.b, g->self.b, NN_NODE_ID_LEN))
    return 1;
  for (npeer_t *p = g->peers; p; p = p->next) {
    /* a channel on which the node answered FULL counts too: while it is open, neither it nor a
     * second connection to that node is tried (once it closes, the node may be dialled anew) */
    if (p->state == P_DEAD || (p->state == P_CHANNEL && !p->dialled && !p->full))
      continue;
    /* by address too, except a relay's, which many nodes share */
    if ((c->has_id && p->has_id && !memcmp(p->id.b, c->id.b, NN_NODE_ID_LEN)) ||
        (p->outbound && c->addr.type != NN_ADDR_RELAY && nn_addr_equal(&p->addr, &c->addr)))
      return 1;
  }
  return 0;
}

/* A channel we dialled for another tenant (the DHT, a relay reservation) to this candidate:
 * gossip takes it rather than open a second one (where a TURN server allows one connection
 * per peer address, a second could not open at all). */
static npeer_t *
adoptable(nn_gossip_t *g, const cand_t *c)
{
  for (npeer_t *p = g->peers; p; p = p->next)
    if (p->state == P_CHANNEL && !p->dialled && !p->full && p->outbound &&
        ((c->has_id && p->has_id && !memcmp(p->id.b, c->id.b, NN_NODE_ID_LEN)) ||
         (!c->has_id && c->addr.type != NN_ADDR_RELAY && nn_addr_equal(&p->addr, &c->addr))))
      return p;
  return NULL;
}

static size_t
gather_candidates(nn_gossip_t *g, cand_t *out, size_t max)
{
  size_t k = 0;
  if (g->n_connect) {
    for (size_t i = 0; i < g->n_connect && k < max; i++)
      out[k++] = g->connect[i];
    return k;
  }
  nn_dht_contact_t *cs = malloc(MAX_CANDIDATES * sizeof(*cs));
  if (cs) {
    size_t nc = nn_dht_table_all(nn_dht_table(nn_disco_dht(g->disco)), cs, MAX_CANDIDATES);
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
  if (k < max &&
      nn_peerstore_select(nn_disco_peerstore(g->disco), 16, nn_unix_ms() / 1000, g->cfg.dl.rng, ps, &got) == NN_OK)
    for (size_t i = 0; i < got && k < max; i++) {
      memset(&out[k], 0, sizeof(out[k]));
      out[k++].addr = ps[i];
    }
  return k;
}

static void
fill_outbound(nn_gossip_t *g)
{
  size_t in, out, dialing;
  cand_t *cands;
  uint8_t grp[1 + NN_ADDR_HOST_MAX + 2];
  count_peers(g, &in, &out, &dialing);
  if (out + dialing >= g->cfg.max_outbound)
    return;
  if (!(cands = malloc((MAX_CANDIDATES + 16) * sizeof(*cands))))
    return;
  size_t nc = gather_candidates(g, cands, MAX_CANDIDATES + 16);
  /* random order, so that every node does not pick the same first contacts */
  for (size_t i = nc; i > 1; i--) {
    uint32_t r = 0;
    (void)nn_rng_fill(g->cfg.dl.rng, (uint8_t *)&r, sizeof(r));
    size_t j = r % i;
    cand_t t = cands[i - 1];
    cands[i - 1] = cands[j];
    cands[j] = t;
  }
  uint64_t now = nn_mono_ms();
  for (size_t i = 0; i < nc && out + dialing < g->cfg.max_outbound; i++) {
    cand_t *c = &cands[i];
    nn_addr_t key = bkey(&c->addr, c->has_id, &c->id);
    backoff_t *b = backoff_find(g, &key);
    nn_addr_t self;
    size_t gl = nn_gossip_group(&c->addr, grp);
    /* --connect peers are the operator's choice: no group rule for them */
    if ((b && b->until_ms > now) || known_peer(g, c) || (!g->n_connect && group_in_use(g, grp, gl)) ||
        (nn_disco_addr(g->disco, &self) && nn_addr_equal(&self, &c->addr)))
      continue;
    npeer_t *p = adoptable(g, c);
    if (p) {
      nn_net_hold(g->net, g->proto, p->conn, 1);
      p->dialled = 1;
      p->group_len = gl;
      memcpy(p->group, grp, gl);
      p->state = P_HELLO_SENT;
      p->hello_at_ms = now;
      send_hello(g, p, 0);
      dialing++;
      continue;
    }
    if (!(p = calloc(1, sizeof(*p))))
      break;
    if (nn_net_dial(g->net, g->proto, &c->addr, c->has_id ? &c->id : NULL, &p->conn) != NN_OK) {
      free(p);
      backoff_fail(g, &key);
      continue;
    }
    nn_net_hold(g->net, g->proto, p->conn, 1); /* a gossip peer is never trimmed as idle */
    p->handle = ++g->next_handle;
    p->outbound = p->dialled = 1;
    p->addr = c->addr;
    p->group_len = gl;
    memcpy(p->group, grp, gl);
    p->hello_at_ms = now;
    if (c->has_id) {
      p->id = c->id;
      p->has_id = 1;
    }
    p->next = g->peers;
    g->peers = p;
    g->st.dials++;
    dialing++;
  }
  free(cands);
}

/* ---- tx-proxy: our own transactions over Tor/I2P only ---- */

/* Send \a o over up to private_broadcast fresh channels to random peers at onion or I2P
 * addresses (not our own); 0 if there were none to dial. */
static int
pb_send(nn_gossip_t *g, owntx_t *o)
{
  cand_t *c = malloc((MAX_CANDIDATES + 64) * sizeof(*c));
  size_t n = 0, k = 0, want = g->cfg.private_broadcast;
  if (!c)
    return 0;
  size_t got = gather_candidates(g, c, MAX_CANDIDATES);
  for (npeer_t *p = g->peers; p && got < MAX_CANDIDATES + 64; p = p->next)
    if (p->state == P_GOSSIP && p->has_id && p->outbound) {
      c[got].addr = p->addr;
      c[got].id = p->id;
      c[got++].has_id = 1;
    }
  for (size_t i = 0; i < got; i++) /* onion and I2P addresses with a node id, each node once */
    if (c[i].has_id && (nn_addr_net(&c[i].addr) & (NN_ADDR_NET_TOR | NN_ADDR_NET_I2P)) && c[i].addr.port) {
      int dup = 0;
      for (size_t j = 0; j < n && !dup; j++)
        dup = !memcmp(c[j].id.b, c[i].id.b, NN_NODE_ID_LEN);
      if (!dup)
        c[n++] = c[i];
    }
  if (want > NN_GOSSIP_PB_MAX)
    want = NN_GOSSIP_PB_MAX;
  while (n && k < want && g->npb < PB_MAX_CONNS) {
    uint32_t r = 0;
    (void)nn_rng_fill(g->cfg.dl.rng, (uint8_t *)&r, sizeof(r));
    size_t i = r % n;
    cand_t pick = c[i];
    c[i] = c[--n];
    pbconn_t *b = calloc(1, sizeof(*b));
    if (!b)
      break;
    if (nn_net_dial_ex(g->net, g->proto, &pick.addr, &pick.id,
                       NN_NET_DIAL_ANON | NN_NET_DIAL_OVERLAY | NN_NET_DIAL_PRIVATE, &b->conn) != NN_OK) {
      free(b);
      continue;
    }
    nn_net_hold(g->net, g->proto, b->conn, 1);
    b->id = o->id;
    b->next = g->pb;
    g->pb = b;
    g->npb++;
    g->st.pb_dialled++;
    k++;
  }
  free(c);
  return k > 0;
}

/* An outbound gossip peer whose channel runs over an overlay. */
static int
overlay_peer(nn_gossip_t *g, const npeer_t *p)
{
  nn_net_conn_info_t ci;
  if (p->state != P_GOSSIP || !p->outbound || !nn_net_conn_info(g->net, p->conn, &ci) || !ci.transport)
    return 0;
  return !strcmp(ci.transport, "tor") || !strcmp(ci.transport, "i2p");
}

/* A random overlay peer that can take \a len bytes, other than \a avoid's channel if any
 * other will do. */
static npeer_t *
pick_overlay(nn_gossip_t *g, size_t len, uint64_t avoid)
{
  npeer_t *cand[64];
  size_t n = 0, other = 0;
  uint32_t r = 0;
  for (npeer_t *p = g->peers; p && n < 64; p = p->next)
    if (overlay_peer(g, p) && len <= p->peer_max_tx && !peer_backlogged(g, p)) {
      cand[n++] = p;
      other += p->conn != avoid;
    }
  if (!n)
    return NULL;
  if (other && other < n) { /* drop the one to avoid */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (cand[i]->conn != avoid)
        cand[k++] = cand[i];
    n = k;
  }
  (void)nn_rng_fill(g->cfg.dl.rng, (uint8_t *)&r, sizeof(r));
  return cand[r % n];
}

/* A STEM of \a o on a private-broadcast channel (no gossip peer of ours). */
static int
send_raw_stem(nn_gossip_t *g, uint64_t conn, const owntx_t *o)
{
  uint8_t *m = malloc(o->len + 1);
  int ok;
  if (!m)
    return 0;
  m[0] = NN_DLMSG_STEM;
  memcpy(m + 1, o->tx, o->len);
  ok = nn_net_send(g->net, conn, m, o->len + 1) == NN_OK;
  free(m);
  return ok;
}

static void
own_free(nn_gossip_t *g, owntx_t *o)
{
  g->own_bytes -= o->len;
  free(o->tx);
  free(o);
}

/* Send what waits, resend what did not come back, drop what is seen or too old. */
static void
own_step(nn_gossip_t *g, uint64_t now)
{
  uint64_t resend = (uint64_t)g->cfg.dl.embargo_base_ms + 2ull * g->cfg.dl.embargo_mean_ms;
  uint32_t held = 0, waiting = 0;
  for (owntx_t **op = &g->own; *op;) {
    owntx_t *o = *op;
    char h[17];
    nn_hex_encode(h, o->id.b, 8);
    if (nn_dl_have(g->dl, &o->id)) {
      g->st.own_seen++;
      glog(g, NN_LOG_DEBUG, "our transaction %s is back in our mempool after %llu ms: the network has it", h,
           (unsigned long long)(now - o->submitted_ms));
      *op = o->next;
      own_free(g, o);
      continue;
    }
    if (now - o->submitted_ms > NN_GOSSIP_OWN_MAX_AGE_MS) {
      g->st.own_dropped++;
      glog(g, NN_LOG_WARN,
           "one of our transactions was not seen in the network within %u s over Tor/I2P peers "
           "(tx-proxy): dropped; submit it again",
           NN_GOSSIP_OWN_MAX_AGE_MS / 1000);
      own_step_cb(g, &o->id, "dropped", NULL, "not seen back within an hour over Tor/I2P", 6);
      *op = o->next;
      own_free(g, o);
      continue;
    }
    if ((!o->sent_ms || now - o->sent_ms >= resend) && g->cfg.private_broadcast && pb_send(g, o)) {
      glog(g, NN_LOG_DEBUG, "our transaction %s goes out over one-use channels (private broadcast)", h);
      own_step_cb(g, &o->id, "private-broadcast", NULL, "over one-use anonymous Tor/I2P channels", 1);
      o->sent_ms = now;
      g->own_warned = 0;
    } else if (!o->sent_ms || now - o->sent_ms >= resend) {
      npeer_t *p = pick_overlay(g, o->len, o->last_conn);
      if (p && send_tx_kind(g, p, NN_DLMSG_STEM, o->tx, o->len)) {
        char name[NN_ADDR_STR_MAX + 24];
        peer_name(p, name);
        glog(g, NN_LOG_DEBUG, "our transaction %s %s over %s (tx-proxy)", h, o->sent_ms ? "sent again" : "stemmed",
             name);
        p->stems_out++;
        g->st.own_sent++;
        own_step_cb(g, &o->id, "tx-proxy", p, o->sent_ms ? "sent again to a Tor/I2P peer" : "to a Tor/I2P peer", 1);
        o->sent_ms = now;
        o->last_conn = p->conn;
        g->own_warned = 0;
      } else if (!o->sent_ms && !g->own_warned) {
        g->own_warned = 1;
        glog(g, NN_LOG_INFO, "our transactions wait for a Tor or I2P peer (tx-proxy: none on clearnet)");
        own_step_cb(g, &o->id, "waiting", NULL, "no Tor/I2P peer yet (tx-proxy)", -1);
      }
    }
    held++;
    waiting += !o->sent_ms;
    op = &o->next;
  }
  g->st.own_held = held;
  g->st.own_waiting = waiting;
}

static nn_err_t
own_submit(nn_gossip_t *g, const uint8_t *tx, size_t len)
{
  owntx_t *o;
  nn_hash_t id;
  size_t n = 0;
  nn_err_t e;
  if ((e = nn_sha3_256(&id, tx, len)))
    return e;
  for (o = g->own; o; o = o->next, n++)
    if (!memcmp(o->id.b, id.b, sizeof(id.b)))
      return NN_OK; /* already held */
  if (nn_dl_have(g->dl, &id))
    return NN_OK; /* the network has it */
  if (n >= NN_GOSSIP_OWN_MAX || g->own_bytes + len > NN_GOSSIP_OWN_MAX_BYTES)
    return NN_ERR_NOSPACE;
  if (!(o = calloc(1, sizeof(*o))) || !(o->tx = malloc(len))) {
    free(o);
    return NN_ERR_NOMEM;
  }
  memcpy(o->tx, tx, len);
  o->len = len;
  o->id = id;
  o->submitted_ms = nn_mono_ms();
  g->own_bytes += len;
  /* appended: sent in the order submitted */
  owntx_t **op = &g->own;
  while (*op)
    op = &(*op)->next;
  *op = o;
  own_step(g, o->submitted_ms);
  return NN_OK;
}

/* Remove dead peers (outside any core call), time out HELLOs, fill slots. */
static void
maintain(nn_gossip_t *g)
{
  uint64_t now = nn_mono_ms();
  for (npeer_t **pp = &g->peers; *pp;) {
    npeer_t *p = *pp;
    if (p->state == P_HELLO_SENT && now - p->hello_at_ms > g->cfg.hello_timeout_ms) {
      char name[NN_ADDR_STR_MAX + 24];
      peer_name(p, name);
      g->st.hello_timeouts++;
      glog(g, NN_LOG_DEBUG, "%s did not answer HELLO in %u ms; closing", name, (unsigned)g->cfg.hello_timeout_ms);
      backoff_fail_id(g, &p->addr, p->has_id, &p->id);
      nn_net_close(g->net, p->conn, 0);
      p->state = P_DEAD;
    }
    if (p->state == P_DEAD) {
      if (p->in_dl)
        nn_dl_peer_remove(g->dl, p->handle, now);
      *pp = p->next;
      peer_free(p);
      continue;
    }
    pp = &p->next;
  }
  fill_outbound(g);
  if (g->own)
    own_step(g, now);
  schedule_dl(g);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
  nn_gossip_t *g = arg;
  (void)fd;
  (void)what;
  g->kicked = 0;
  maintain(g);
}

static void
on_maint(evutil_socket_t fd, short what, void *arg)
{
  nn_gossip_t *g = arg;
  (void)fd;
  (void)what;
  maintain(g);
}

/* ---- creation ---- */

void
nn_gossip_cfg_default(nn_gossip_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_dl_cfg_default(&cfg->dl);
  cfg->max_peers = 64;
  cfg->max_outbound = 8;
  cfg->max_inbound_per_host = 4;
  cfg->connect_interval_ms = 1000;
  cfg->hello_timeout_ms = 10000;
  cfg->retry_min_ms = 2000;
  cfg->retry_max_ms = 300000;
  cfg->stem_rate = 10.0;
  cfg->stem_burst = 100;
}

static nn_err_t
parse_connect(nn_gossip_t *g, const nn_gossip_cfg_t *cfg, char *why, size_t why_len)
{
  if (!cfg->n_connect)
    return NN_OK;
  if (!(g->connect = calloc(cfg->n_connect, sizeof(*g->connect))))
    return NN_ERR_NOMEM;
  for (size_t i = 0; i < cfg->n_connect; i++, g->n_connect++)
    if (!cfg->connect[i] ||
        nn_disco_parse_peer(cfg->connect[i], &g->connect[i].addr, &g->connect[i].id, &g->connect[i].has_id) != NN_OK) {
      if (why)
        snprintf(why, why_len, "connect %s: not NODEID@HOST:PORT or HOST:PORT (numeric host)",
                 cfg->connect[i] ? cfg->connect[i] : "(null)");
      return NN_ERR_ARG;
    }
  g->cfg.connect = NULL;
  g->cfg.n_connect = 0;
  return NN_OK;
}

static nn_err_t
check_cfg(const nn_gossip_cfg_t *cfg, char *why, size_t why_len)
{
  const char *bad = NULL;
  char b[160];
  if (!cfg->max_outbound || cfg->max_outbound > cfg->max_peers)
    snprintf(b, sizeof(b), "max-outbound must be between 1 and max-peers (%u), got %u", cfg->max_peers,
             cfg->max_outbound),
      bad = b;
  else if (!cfg->stem_burst || !(cfg->stem_rate > 0))
    bad = "stem-burst and stem-rate must be positive";
  else if (!nn_dl_route_available(cfg->dl.route))
    snprintf(b, sizeof(b), "route %s: use direct or dandelion", nn_dl_route_str(cfg->dl.route)), bad = b;
  if (bad && why)
    snprintf(why, why_len, "%s", bad);
  return bad ? NN_ERR_ARG : NN_OK;
}

static nn_err_t
start_timers(nn_gossip_t *g, struct event_base *base)
{
  if (!(g->ev_dl = evtimer_new(base, on_dl_timer, g)) || !(g->ev_kick = event_new(base, -1, 0, on_kick, g)) ||
      !(g->ev_maint = event_new(base, -1, EV_PERSIST, on_maint, g)))
    return NN_ERR_NOMEM;
  struct timeval iv = { (time_t)(g->cfg.connect_interval_ms / 1000),
                        (suseconds_t)(g->cfg.connect_interval_ms % 1000) * 1000 };
  event_add(g->ev_maint, &iv);
  kick(g);
  schedule_dl(g);
  return NN_OK;
}

nn_err_t
nn_gossip_new(nn_gossip_t **out, nn_net_t *net, nn_disco_t *disco, const nn_gossip_cfg_t *cfg, uint64_t now_ms,
              char *why, size_t why_len)
{
  nn_gossip_t *g;
  nn_err_t e;
  *out = NULL;
  if ((e = check_cfg(cfg, why, why_len)))
    return e;
  if (!(g = calloc(1, sizeof(*g))))
    return NN_ERR_NOMEM;
  g->net = net;
  g->disco = disco;
  g->self = *nn_disco_node_id(disco);
  g->cfg = *cfg;
  if ((e = parse_connect(g, cfg, why, why_len)))
    goto fail;
  nn_dl_io_t io = { io_send_stem, io_send_inv, io_send_getdata, io_send_tx, io_deliver, g };
  g->cfg.dl.max_peers = g->cfg.max_peers + 16; /* every gossip peer, and a few closing ones */
  if ((e = nn_dl_new(&g->dl, &g->cfg.dl, &io, now_ms)) != NN_OK) {
    if (e == NN_ERR_ARG && why)
      snprintf(why, why_len, "Dandelion++ settings refused (fluff-prob must be 0.05..0.5, epoch-jitter below epoch)");
    goto fail;
  }
  nn_net_proto_t p = { "gossip", NN_KIND_GOSSIP_FIRST, NN_KIND_GOSSIP_LAST, t_up, t_message, t_down, g, t_moved };
  if ((e = nn_net_register(net, &p, &g->proto)))
    goto fail;
  g->registered = 1;
  if ((e = start_timers(g, nn_net_base(net))))
    goto fail;
  *out = g;
  return NN_OK;
fail:
  nn_gossip_free(g);
  return e;
}

void
nn_gossip_free(nn_gossip_t *g)
{
  if (!g)
    return;
  g->freeing = 1;
  if (g->registered)
    nn_net_unregister(g->net, g->proto);
  nn_dl_free(g->dl);
  while (g->peers) {
    npeer_t *p = g->peers;
    g->peers = p->next;
    peer_free(p);
  }
  while (g->own) {
    owntx_t *o = g->own;
    g->own = o->next;
    own_free(g, o);
  }
  while (g->pb) {
    pbconn_t *b = g->pb;
    g->pb = b->next;
    free(b);
  }
  if (g->ev_dl)
    event_free(g->ev_dl);
  if (g->ev_kick)
    event_free(g->ev_kick);
  if (g->ev_maint)
    event_free(g->ev_maint);
  free(g->connect);
  free(g);
}

nn_err_t
nn_gossip_submit(nn_gossip_t *g, const uint8_t *tx, size_t len)
{
  nn_err_t e;
  if (!len)
    return NN_ERR_ARG;
  if (len > g->cfg.dl.max_tx_bytes)
    return NN_ERR_TOO_LONG;
  if (g->cfg.tx_proxy)
    e = own_submit(g, tx, len);
  else
    e = nn_dl_submit(g->dl, tx, len, nn_mono_ms());
  if (e)
    return e;
  g->st.tx_submitted++;
  flush_invs(g);
  schedule_dl(g);
  return NN_OK;
}

nn_err_t
nn_gossip_from_mixnet(nn_gossip_t *g, const uint8_t *tx, size_t len, int at_once)
{
  nn_err_t e;
  if (!len)
    return NN_ERR_ARG;
  if (len > g->cfg.dl.max_tx_bytes)
    return NN_ERR_TOO_LONG;
  if ((e = nn_dl_from_mixnet(g->dl, tx, len, at_once, nn_mono_ms())))
    return e;
  flush_invs(g);
  schedule_dl(g);
  return NN_OK;
}

void
nn_gossip_stats(const nn_gossip_t *g, nn_gossip_stats_t *st)
{
  *st = g->st;
  count_peers(g, &st->peers_in, &st->peers_out, &st->dialing);
  size_t c = 0;
  for (const npeer_t *p = g->peers; p; p = p->next)
    c += p->state != P_DEAD;
  st->channels = c;
}

/* Close the youngest gossip peers of one direction until \a keep are left. */
static size_t
shed_peers(nn_gossip_t *g, int outbound, size_t have, size_t keep)
{
  size_t shed = 0;
  for (; have > keep; have--, shed++) {
    npeer_t *y = NULL;
    for (npeer_t *p = g->peers; p; p = p->next)
      if (p->state == P_GOSSIP && p->outbound == outbound && (!y || p->since_ms > y->since_ms))
        y = p;
    if (!y)
      break;
    char name[NN_ADDR_STR_MAX + 24];
    peer_name(y, name);
    glog(g, NN_LOG_INFO, "closing %s gossip peer %s: above the new limit", outbound ? "outbound" : "inbound", name);
    nn_net_close(g->net, y->conn, 0);
    y->state = P_DEAD;
  }
  return shed;
}

nn_err_t
nn_gossip_set_limits(nn_gossip_t *g, const nn_gossip_limits_t *l, char *why, size_t why_len)
{
  size_t in, out, dialing;
  nn_err_t e;
  if (!l->max_outbound || l->max_outbound > l->max_peers) {
    snprintf(why, why_len, "max-outbound must be between 1 and max-peers (%u), got %u", l->max_peers, l->max_outbound);
    return NN_ERR_ARG;
  }
  if ((e = nn_dl_set_caps(g->dl, (size_t)l->max_peers + 16, l->mem_max_count, l->stem_max_count))) {
    snprintf(why, why_len, "%s", e == NN_ERR_NOMEM ? "out of memory" : "mempool and stempool caps must be above 0");
    return e;
  }
  g->cfg.max_peers = l->max_peers;
  g->cfg.max_outbound = l->max_outbound;
  g->cfg.max_inbound_per_host = l->max_inbound_per_host;
  g->cfg.dl.max_peers = l->max_peers + 16;
  g->cfg.dl.mem_max_count = l->mem_max_count;
  g->cfg.dl.stem_max_count = l->stem_max_count;
  /* an operator who lowers a cap wants the traffic down now, not as peers happen to leave;
   * a raised outbound cap is filled by the next maintenance round */
  count_peers(g, &in, &out, &dialing);
  size_t max_in = l->max_peers - l->max_outbound;
  if (shed_peers(g, 1, out, l->max_outbound) + shed_peers(g, 0, in, max_in))
    kick(g);
  return NN_OK;
}

nn_dl_t *
nn_gossip_dl(nn_gossip_t *g)
{
  return g->dl;
}

size_t
nn_gossip_peers(nn_gossip_t *g, nn_gossip_peer_t *out, size_t max)
{
  uint32_t relays[2];
  size_t nr = nn_dl_relays(g->dl, relays), k = 0;
  for (npeer_t *p = g->peers; p && k < max; p = p->next) {
    if (p->state != P_GOSSIP)
      continue;
    nn_gossip_peer_t *o = &out[k++];
    memset(o, 0, sizeof(*o));
    o->conn = p->conn;
    o->has_id = p->has_id;
    o->id = p->id;
    o->addr = p->addr;
    o->outbound = p->outbound;
    for (size_t i = 0; i < nr; i++)
      o->stem_relay |= relays[i] == p->handle;
    o->since_ms = p->since_ms;
    o->bytes_in = p->bytes_in;
    o->bytes_out = p->bytes_out;
    o->stems_in = p->stems_in;
    o->stems_out = p->stems_out;
  }
  return k;
}

int
nn_gossip_relay(nn_gossip_t *g, size_t i, nn_node_id_t *id)
{
  uint32_t relays[2];
  size_t nr = nn_dl_relays(g->dl, relays);
  npeer_t *p = i < nr ? peer_by_handle(g, relays[i]) : NULL;
  if (!p || !p->has_id)
    return 0;
  *id = p->id;
  return 1;
}
