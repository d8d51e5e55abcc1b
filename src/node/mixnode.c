/*
 * The mixnet in a node (mixnode.h): the mixnet cores over the connection manager's channels.
 *
 * Re-entrancy. The mix and the client call back (send, deliver) from inside their own
 * functions. Sends go to the manager, which never calls back from inside a call; a packet whose
 * next hop is this node itself (a route through our own mix) waits in the pending list and is
 * fed to the mix from the timer, never from inside the mix.
 */
#include "node/mixnode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/wire.h"
#include "mixnet/msg.h"
#include "mixnet/replay.h"
#include "net/kinds.h"
#include "net/workers.h"

#define PEN_MALFORMED 20    /* a mixnet message that does not parse, a descriptor that does not verify */
#define PEN_OUT_OF_PLACE 10 /* anything before HELLO, a second HELLO */
#define MAX_REACH 64        /* next hops being reached at once */
#define MAX_WANTED 4096     /* descriptors asked for and not yet received */
#define WANT_MS 30000       /* ... for this long */
#define HOLD_IDLE_MS 120000 /* a channel we opened for packets is held while used this recently */
#define MAINT_MS 1000
#define REFUSED_MAX 256 /* descriptors our directory refused (full, stale...): not fetched again */
#define KEYS_MAGIC "NNMK"
#define KEYS_VERSION 1
#define KEYS_FILE_MAX (4 + 2 + 1 + NN_MIX_SAVED_KEYS * 36 + 32)
#define REPLAY_MAGIC "NNMR"
#define REPLAY_SAVE_MS 600000 /* the replay filters are saved this often, and on a clean stop */

typedef struct mpeer_t {
  struct mpeer_t *next;
  uint64_t conn;
  int has_id;
  nn_node_id_t id;
  nn_addr_t addr;
  nn_hash_t from; /* the mix's per-peer budget key: the node id, or the host of an anonymous peer */
  int hello_sent, hello_in, ok, dead, held;
  uint8_t flags;
  uint64_t last_ms; /* last packet either way (monotonic) */
} mpeer_t;

typedef struct pend_t {
  struct pend_t *next;
  nn_node_id_t to;
  uint64_t at; /* monotonic */
  int own;     /* one of our client's packets (counted in cover_bytes_out once sent) */
  uint8_t msg[];
} pend_t;

typedef struct reach_t {
  nn_node_id_t id;
  uint64_t since; /* monotonic */
  uint64_t conn;  /* 0 while its record is looked up */
} reach_t;

typedef struct want_t {
  nn_hash_t h;
  uint64_t conn;
  uint64_t at;
} want_t;

struct nn_mixnode_t {
  nn_net_t *net;
  nn_disco_t *disco;
  const nn_identity_t *identity;
  nn_node_id_t self;
  nn_hash_t self_h;
  uint32_t network;
  nn_mixnode_cfg_t cfg;
  nn_sphinx_geom_t geom;
  int proto, registered, freeing;
  nn_mix_t *mix;
  nn_mixclient_t *client;
  nn_mixdir_t *dir;
  nn_reasm_t *reasm;
  nn_workers_t *pool;
  mpeer_t *peers;
  pend_t *pend, **pend_tail;
  size_t npend;
  reach_t reach[MAX_REACH];
  size_t nreach;
  want_t *want;
  size_t nwant;
  nn_hash_t refused[REFUSED_MAX];
  size_t nrefused, refused_next;
  uint32_t published_epoch;
  int has_published, warned_noaddr;
  uint32_t self_key_epoch;
  int self_key_set;
  uint64_t next_maint, next_sync, keys_made_saved, next_replay_save;
  uint8_t *buf; /* 1 + packet_len: a PACKET message */
  struct event *ev;
  nn_mixnode_stats_t st;
};

#define mlog(m, level, ...) nn_log((m)->cfg.log, (level), "mix", __VA_ARGS__)

static void arm(nn_mixnode_t *m);

static uint64_t
now_ms(void)
{
  return nn_unix_ms();
}

static uint32_t
epoch_now(const nn_mixnode_t *m, uint64_t now)
{
  return (uint32_t)(now / m->cfg.epoch_ms);
}

void
nn_mixnode_cfg_default(nn_mixnode_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->hops = NN_SPHINX_DEFAULT_HOPS;
  cfg->packet_len = NN_SPHINX_DEFAULT_LEN;
  cfg->epoch_ms = 3600000;
  nn_mix_cfg_default(&cfg->mix_cfg);
  nn_mixclient_cfg_default(&cfg->client);
  nn_mixdir_cfg_default(&cfg->dir, 0);
  nn_reasm_cfg_default(&cfg->reasm, 0);
  cfg->publish_ahead_ms = 600000;
  cfg->sync_interval_ms = 30000;
  cfg->max_pending = 256;
  cfg->reach_timeout_ms = 10000;
  cfg->max_pending_out = 4u << 20;
  (void)nn_mixnode_cover_preset(cfg, "standard");
}

nn_err_t
nn_mixnode_cover_preset(nn_mixnode_cfg_t *cfg, const char *name)
{
  int on;
  nn_mixclient_cfg_t c = cfg->client;
  if (nn_mixclient_cover_preset(&c, name, &on))
    return NN_ERR_ARG;
  cfg->cover = on;
  if (on)
    cfg->client = c;
  return NN_OK;
}

/* ---- peers ---- */

static void
peer_name(const mpeer_t *p, char out[NN_ADDR_STR_MAX + 24])
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

static mpeer_t *
peer_by_conn(nn_mixnode_t *m, uint64_t conn)
{
  for (mpeer_t *p = m->peers; p; p = p->next)
    if (p->conn == conn && !p->dead)
      return p;
  return NULL;
}

/* A channel to \a id on which both HELLOs agreed. */
static mpeer_t *
peer_ok_by_id(nn_mixnode_t *m, const nn_node_id_t *id)
{
  for (mpeer_t *p = m->peers; p; p = p->next)
    if (p->ok && !p->dead && p->has_id && !memcmp(p->id.b, id->b, NN_NODE_ID_LEN))
      return p;
  return NULL;
}

static mpeer_t *
peer_get(nn_mixnode_t *m, uint64_t conn)
{
  mpeer_t *p = peer_by_conn(m, conn);
  nn_net_conn_info_t info;
  if (p)
    return p;
  if (!nn_net_conn_info(m->net, conn, &info) || info.closing || !(p = calloc(1, sizeof(*p))))
    return NULL;
  p->conn = conn;
  p->addr = info.addr;
  p->has_id = info.has_id && info.established;
  if (p->has_id) {
    p->id = info.id;
    memcpy(p->from.b, info.id.b, NN_HASH_LEN);
  } else { /* anonymous peers of one host share a budget */
    uint8_t key[NN_ADDR_HOST_KEY_MAX];
    size_t kl = nn_addr_host_key(&info.addr, key);
    (void)nn_sha3_256(&p->from, key, kl);
  }
  p->last_ms = nn_mono_ms();
  p->next = m->peers;
  m->peers = p;
  return p;
}

static int
peer_send(nn_mixnode_t *m, mpeer_t *p, const uint8_t *msg, size_t len)
{
  return !p->dead && nn_net_send(m->net, p->conn, msg, len) == NN_OK;
}

static void
send_hello(nn_mixnode_t *m, mpeer_t *p)
{
  uint8_t msg[NN_MXMSG_HELLO_LEN];
  uint8_t flags = m->cfg.mix ? NN_MXMSG_HELLO_MIX | NN_MXMSG_HELLO_EXIT : 0;
  if (p->hello_sent)
    return;
  nn_mxmsg_hello(msg, flags, (uint8_t)m->geom.hops, (uint32_t)m->geom.packet_len, (uint32_t)(m->cfg.epoch_ms / 1000));
  p->hello_sent = peer_send(m, p, msg, sizeof(msg));
}

static void
misbehaved(nn_mixnode_t *m, mpeer_t *p, int points, const char *why)
{
  char name[NN_ADDR_STR_MAX + 24];
  peer_name(p, name);
  m->st.bad_msgs++;
  mlog(m, NN_LOG_INFO, "%s: %s; closing", name, why);
  nn_net_penalize(m->net, p->conn, points, why);
  nn_net_close(m->net, p->conn, NN_CLOSE_PROTOCOL);
  p->dead = 1;
}

void
nn_mixnode_peer(nn_mixnode_t *m, uint64_t conn)
{
  mpeer_t *p;
  if (m && (p = peer_get(m, conn)))
    send_hello(m, p);
}

/* ---- packets to a next hop ---- */

static void
send_packet(nn_mixnode_t *m, mpeer_t *p, const uint8_t *packet, int own)
{
  if (nn_net_pending(m->net, p->conn) > m->cfg.max_pending_out) {
    m->st.backlogged++;
    return;
  }
  m->buf[0] = NN_MXMSG_PACKET;
  memcpy(m->buf + 1, packet, m->geom.packet_len);
  if (!peer_send(m, p, m->buf, 1 + m->geom.packet_len)) {
    m->st.unreachable++;
    return;
  }
  m->st.packets_out++;
  if (own)
    m->st.cover_bytes_out += 1 + m->geom.packet_len;
  p->last_ms = nn_mono_ms();
  if (!p->held) { /* kept open while we use it (HOLD_IDLE_MS) */
    nn_net_hold(m->net, m->proto, p->conn, 1);
    p->held = 1;
  }
}

static reach_t *
reach_find(nn_mixnode_t *m, const nn_node_id_t *id)
{
  for (size_t i = 0; i < m->nreach; i++)
    if (!memcmp(m->reach[i].id.b, id->b, NN_NODE_ID_LEN))
      return &m->reach[i];
  return NULL;
}

static void
reach_del(nn_mixnode_t *m, reach_t *r)
{
  *r = m->reach[--m->nreach];
}

/* Drop the packets waiting for \a id (it cannot be reached). */
static void
pend_drop(nn_mixnode_t *m, const nn_node_id_t *id)
{
  pend_t **pp = &m->pend;
  m->pend_tail = &m->pend;
  while (*pp) {
    pend_t *q = *pp;
    if (!memcmp(q->to.b, id->b, NN_NODE_ID_LEN)) {
      *pp = q->next;
      m->npend--;
      m->st.unreachable++;
      free(q);
      continue;
    }
    pp = &q->next;
    m->pend_tail = pp;
  }
}

/* Send what waits for \a p's node. */
static void
pend_flush(nn_mixnode_t *m, mpeer_t *p)
{
  pend_t **pp = &m->pend;
  m->pend_tail = &m->pend;
  while (*pp) {
    pend_t *q = *pp;
    if (p->has_id && !memcmp(q->to.b, p->id.b, NN_NODE_ID_LEN)) {
      *pp = q->next;
      m->npend--;
      send_packet(m, p, q->msg, q->own);
      free(q);
      continue;
    }
    pp = &q->next;
    m->pend_tail = pp;
  }
}

static void
dial(nn_mixnode_t *m, reach_t *r, const nn_addr_t *a)
{
  uint64_t conn = 0;
  if (nn_net_dial(m->net, m->proto, a, &r->id, &conn) != NN_OK) {
    nn_node_id_t id = r->id;
    reach_del(m, r);
    pend_drop(m, &id);
    return;
  }
  r->conn = conn;
}

static void
found(void *ctx, const nn_node_id_t *id, const nn_peer_record_t *rec)
{
  nn_mixnode_t *m = ctx;
  reach_t *r = reach_find(m, id);
  if (!r || m->freeing)
    return;
  if (!rec || !rec->n_addrs) {
    reach_del(m, r);
    pend_drop(m, id);
    return;
  }
  dial(m, r, &rec->addrs[0]);
}

/* Get a mixnet channel to \a id: one that exists, or the address in its descriptor, or in its
 * peer record. */
static void
reach(nn_mixnode_t *m, const nn_node_id_t *id)
{
  reach_t *r;
  uint64_t conn;
  const nn_mixdesc_t *d;
  if (reach_find(m, id))
    return;
  if (m->nreach == MAX_REACH) {
    pend_drop(m, id);
    return;
  }
  r = &m->reach[m->nreach++];
  memset(r, 0, sizeof(*r));
  r->id = *id;
  r->since = nn_mono_ms();
  if ((conn = nn_net_find(m->net, id, 0))) {
    nn_net_conn_info_t info;
    r->conn = conn;
    mpeer_t *p = nn_net_conn_info(m->net, conn, &info) && info.established ? peer_get(m, conn) : NULL;
    if (p)
      send_hello(m, p); /* it answers with its own; an outbound one still handshaking gets it in on_up */
    return;
  }
  if ((d = nn_mixdir_find(m->dir, id))) {
    dial(m, r, &d->addrs[0]);
    return;
  }
  if (!m->disco) {
    reach_del(m, r);
    pend_drop(m, id);
    return;
  }
  nn_err_t e = nn_disco_find(m->disco, id, found, m);
  if (e != NN_OK && (r = reach_find(m, id))) { /* busy: the packets go (the loop is lost) */
    reach_del(m, r);
    pend_drop(m, id);
  }
}

static void
pend_add(nn_mixnode_t *m, const nn_node_id_t *to, const uint8_t *packet, int own)
{
  pend_t *q;
  if (m->npend >= m->cfg.max_pending) { /* the oldest goes: it waited longest */
    q = m->pend;
    m->pend = q->next;
    if (!m->pend)
      m->pend_tail = &m->pend;
    m->npend--;
    m->st.unreachable++;
    free(q);
  }
  if (!(q = malloc(sizeof(*q) + m->geom.packet_len))) {
    m->st.unreachable++;
    return;
  }
  q->next = NULL;
  q->to = *to;
  q->at = nn_mono_ms();
  q->own = own;
  memcpy(q->msg, packet, m->geom.packet_len);
  *m->pend_tail = q;
  m->pend_tail = &q->next;
  m->npend++;
}

static void
route_send(nn_mixnode_t *m, const nn_hash_t *next, const uint8_t *packet, size_t len, int own)
{
  nn_node_id_t id;
  mpeer_t *p;
  if (len != m->geom.packet_len)
    return;
  memcpy(id.b, next->b, NN_NODE_ID_LEN);
  if ((p = peer_ok_by_id(m, &id))) {
    send_packet(m, p, packet, own);
    return;
  }
  pend_add(m, &id, packet, own);
  if (memcmp(id.b, m->self.b, NN_NODE_ID_LEN)) /* to ourselves: fed to the mix from the timer */
    reach(m, &id);
  arm(m);
}

/* ---- the cores' io ---- */

static void
mix_send(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len)
{
  nn_mixnode_t *m = ctx;
  nn_node_id_t id;
  memcpy(id.b, next->b, NN_NODE_ID_LEN);
  if (m->cfg.test_loss > 0 && nn_mixdir_find(m->dir, &id)) { /* tests: a lossy mix-to-mix link */
    uint32_t r = 0;
    if (!nn_rng_fill(NULL, (uint8_t *)&r, sizeof(r)) && (double)r < m->cfg.test_loss * 4294967296.0) {
      m->st.test_dropped++;
      return;
    }
  }
  route_send(m, next, packet, len, 0);
}

static void
client_send(void *ctx, const nn_hash_t *first, const uint8_t *packet, size_t len)
{
  route_send(ctx, first, packet, len, 1);
}

static void
mix_deliver(void *ctx, const uint8_t *body, size_t len)
{
  nn_mixnode_t *m = ctx;
  uint64_t now = now_ms();
  uint8_t *msg = NULL, deliver = 0;
  size_t mlen = 0;
  if (!len)
    return;
  switch (body[0]) {
  case NN_FRAG_TYPE:
    if (!m->reasm) /* not an exit: nobody should have sent it here */
      return;
    if (nn_reasm_add(m->reasm, body, now, &msg, &mlen, &deliver) == NN_REASM_COMPLETE) {
      m->st.messages_out++;
      mlog(m, NN_LOG_DEBUG, "a message of %zu bytes came out of the mixnet here", mlen);
      if (m->cfg.deliver)
        m->cfg.deliver(m->cfg.ctx, msg, mlen, deliver == NN_FRAG_TO_BROADCAST);
      free(msg);
    }
    break;
  case NN_BODY_LOOP:
    if (!m->client || !nn_mixclient_loop_back(m->client, body, len, now))
      m->st.loops_foreign++;
    break;
  case NN_BODY_DROP: m->st.drop_in++; break;
  default: break;
  }
}

static void
job_run(nn_work_t *w)
{
  nn_mix_job_run((nn_mix_job_t *)w);
}

static void
job_done(nn_work_t *w, int cancelled)
{
  nn_mix_job_t *j = (nn_mix_job_t *)w;
  nn_mixnode_t *m = j->ctx;
  nn_mix_job_done(j->mix, j, now_ms(), cancelled);
  if (!cancelled)
    arm(m);
}

static void
mix_offload(void *ctx, nn_mix_job_t *job)
{
  nn_mixnode_t *m = ctx;
  job->work.run = job_run;
  job->work.done = job_done;
  nn_workers_submit(m->pool, &job->work);
}

static int
pick_exit(void *ctx, uint32_t epoch, nn_hash_t *exit, nn_hybrid_pk_t *pk)
{
  nn_mixnode_t *m = ctx;
  const nn_mixdesc_t *d = nn_mixdir_pick(m->dir, epoch, 0);
  const nn_hybrid_pk_t *k = d ? nn_mixdesc_key(d, epoch) : NULL;
  if (!k)
    return 0;
  memcpy(exit->b, d->node_id.b, NN_HASH_LEN);
  *pk = *k;
  return 1;
}

/* ---- the directory ---- */

static void
send_digest(nn_mixnode_t *m, mpeer_t *p, uint32_t epoch)
{
  uint8_t msg[NN_MXMSG_DIGEST_LEN];
  nn_hash_t d;
  size_t n = nn_mixdir_digest(m->dir, epoch, &d);
  nn_mxmsg_digest(msg, epoch, (uint16_t)(n > 0xffff ? 0xffff : n), &d);
  (void)peer_send(m, p, msg, sizeof(msg));
}

static void
send_hashes(nn_mixnode_t *m, mpeer_t *p, uint8_t kind, uint32_t epoch, const nn_hash_t *h, size_t n)
{
  uint8_t *buf;
  size_t len, cap = 7 + NN_HASH_LEN * NN_MXMSG_MAX_HASHES;
  if (!n || !(buf = malloc(cap)))
    return;
  for (size_t i = 0; i < n; i += NN_MXMSG_MAX_HASHES) {
    size_t k = n - i < NN_MXMSG_MAX_HASHES ? n - i : NN_MXMSG_MAX_HASHES;
    if (nn_mxmsg_hashes(buf, cap, &len, kind, epoch, h + i, k) == NN_OK)
      (void)peer_send(m, p, buf, len);
  }
  free(buf);
}

/* Tell every mixnet peer but \a except about a descriptor we took. */
static void
flood(nn_mixnode_t *m, uint32_t epoch, const nn_hash_t *h, const mpeer_t *except)
{
  for (mpeer_t *p = m->peers; p; p = p->next)
    if (p->ok && !p->dead && p != except)
      send_hashes(m, p, NN_MXMSG_INV, epoch, h, 1);
}

static want_t *
want_find(nn_mixnode_t *m, const nn_hash_t *h)
{
  for (size_t i = 0; i < m->nwant; i++)
    if (!memcmp(m->want[i].h.b, h->b, NN_HASH_LEN))
      return &m->want[i];
  return NULL;
}

static int
was_refused(const nn_mixnode_t *m, const nn_hash_t *h)
{
  for (size_t i = 0; i < m->nrefused; i++)
    if (!memcmp(m->refused[i].b, h->b, NN_HASH_LEN))
      return 1;
  return 0;
}

static void
refuse(nn_mixnode_t *m, const nn_hash_t *h)
{
  m->refused[m->refused_next] = *h;
  m->refused_next = (m->refused_next + 1) % REFUSED_MAX;
  if (m->nrefused < REFUSED_MAX)
    m->nrefused++;
}

static int
epoch_in_use(const nn_mixnode_t *m, uint32_t e)
{
  uint32_t now = epoch_now(m, now_ms());
  return (uint64_t)e + 1 >= now && e <= (uint64_t)now + 1;
}

static void
on_inv(nn_mixnode_t *m, mpeer_t *p, const nn_mxmsg_t *x)
{
  nn_hash_t *ask = malloc(x->count * sizeof(*ask));
  size_t n = 0;
  if (!ask || !epoch_in_use(m, x->epoch)) {
    free(ask);
    return;
  }
  for (size_t i = 0; i < x->count && m->nwant < MAX_WANTED; i++) {
    nn_hash_t h;
    size_t len;
    nn_mxmsg_hash(x, i, &h);
    if (nn_mixdir_get(m->dir, &h, &len) || want_find(m, &h) || was_refused(m, &h))
      continue;
    m->want[m->nwant++] = (want_t){ h, p->conn, nn_mono_ms() };
    ask[n++] = h;
  }
  send_hashes(m, p, NN_MXMSG_GETDESC, x->epoch, ask, n);
  free(ask);
}

static void
on_getdesc(nn_mixnode_t *m, mpeer_t *p, const nn_mxmsg_t *x)
{
  uint8_t *buf = malloc(1 + NN_MIXDESC_MAX_LEN);
  if (!buf)
    return;
  for (size_t i = 0; i < x->count; i++) {
    nn_hash_t h;
    size_t len, olen;
    const uint8_t *d;
    nn_mxmsg_hash(x, i, &h);
    /* a peer that asks for more than it reads gets the rest on a later sync */
    if (!(d = nn_mixdir_get(m->dir, &h, &len)) || nn_net_pending(m->net, p->conn) > m->cfg.max_pending_out)
      continue;
    if (nn_mxmsg_wrap(buf, 1 + NN_MIXDESC_MAX_LEN, &olen, NN_MXMSG_DESC, d, len) == NN_OK)
      (void)peer_send(m, p, buf, olen);
  }
  free(buf);
}

static void
on_desc(nn_mixnode_t *m, mpeer_t *p, const nn_mxmsg_t *x)
{
  nn_hash_t h;
  size_t len;
  want_t *w;
  uint64_t now = now_ms();
  m->st.desc_in++;
  if (nn_sha3_256(&h, x->data, x->data_len) || nn_mixdir_get(m->dir, &h, &len))
    return; /* known: no signature to check */
  if (!(w = want_find(m, &h)) || w->conn != p->conn) {
    m->st.desc_unasked++; /* announce, then fetch: a signature is checked only when we asked */
    return;
  }
  *w = m->want[--m->nwant];
  nn_mixdir_add_t r = nn_mixdir_add(m->dir, x->data, x->data_len, epoch_now(m, now), now / 1000);
  if (r == NN_MIXDIR_INVALID) {
    m->st.desc_bad++;
    misbehaved(m, p, PEN_MALFORMED, "a mix descriptor that does not verify");
    return;
  }
  /* full, stale, a private address: asking again gives the same answer; one from the future is
   * fetched again once our clock catches up */
  if (r != NN_MIXDIR_ADDED && r != NN_MIXDIR_REPLACED && r != NN_MIXDIR_KNOWN && r != NN_MIXDIR_FUTURE)
    refuse(m, &h);
  if (r == NN_MIXDIR_ADDED || r == NN_MIXDIR_REPLACED) {
    /* verified, so the epoch is where 9.7 puts it */
    const uint8_t *q = x->data + 1 + 4 + NN_MLDSA_PK_LEN;
    uint32_t e = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
    flood(m, e, &h, p);
  }
}

static void
on_digest(nn_mixnode_t *m, mpeer_t *p, const nn_mxmsg_t *x)
{
  nn_hash_t ours, *h;
  size_t n;
  if (!epoch_in_use(m, x->epoch))
    return;
  n = nn_mixdir_digest(m->dir, x->epoch, &ours);
  if (!n || !CRYPTO_memcmp(ours.b, x->digest.b, NN_HASH_LEN))
    return;
  if (!(h = malloc(n * sizeof(*h))))
    return;
  n = nn_mixdir_hashes(m->dir, x->epoch, h, n);
  send_hashes(m, p, NN_MXMSG_INV, x->epoch, h, n);
  free(h);
}

/* Publish our descriptor for \a e (keys e and e + 1) and announce it. */
static void
publish(nn_mixnode_t *m, uint32_t e, uint64_t now)
{
  nn_mixdesc_t d;
  const nn_hybrid_pk_t *k0 = nn_mix_public_key(m->mix, e), *k1 = nn_mix_public_key(m->mix, e + 1);
  uint8_t *buf;
  size_t len;
  memset(&d, 0, sizeof(d));
  if (!m->disco || !nn_disco_addr(m->disco, &d.addrs[0])) {
    if (!m->warned_noaddr++)
      mlog(m, NN_LOG_WARN, "a mix needs an address others can reach: set --advertise or --listen (not hidden)");
    return;
  }
  if (!k0 || !k1 || !(buf = malloc(NN_MIXDESC_MAX_LEN)))
    return;
  d.network = m->network;
  d.epoch = e;
  d.issued_at = now / 1000;
  d.n_addrs = 1;
  d.keys[0] = *k0;
  d.keys[1] = *k1;
  if (nn_mixdesc_build(&d, m->identity, NULL, buf, NN_MIXDESC_MAX_LEN, &len) == NN_OK) {
    nn_mixdir_add_t r = nn_mixdir_add(m->dir, buf, len, epoch_now(m, now), now / 1000);
    if (r == NN_MIXDIR_ADDED || r == NN_MIXDIR_REPLACED) {
      nn_hash_t h;
      (void)nn_sha3_256(&h, buf, len);
      flood(m, e, &h, NULL);
      m->st.published++;
      m->published_epoch = e;
      m->has_published = 1;
      mlog(m, NN_LOG_INFO, "published our mix descriptor for key epoch %u (layer %u of %u)", (unsigned)e,
           nn_mixdir_layer(m->dir, e, &m->self), m->cfg.dir.layers);
    } else {
      mlog(m, NN_LOG_WARN, "our own descriptor for epoch %u was refused (%d): the directory is full", (unsigned)e,
           (int)r);
      m->published_epoch = e; /* not again this epoch */
      m->has_published = 1;
    }
  }
  free(buf);
}

/* ---- the keys file: u8[4] "NNMK" | u16 version | u8 n | n x (u32 epoch | seed[32]) | SHA3-256 ---- */

static nn_err_t
keys_load(const char *path, nn_mix_saved_key_t *keys, size_t *n)
{
  uint8_t buf[KEYS_FILE_MAX + 1], magic[4], count = 0;
  size_t len = 0;
  uint16_t version = 0;
  nn_hash_t want, check;
  nn_wire_reader_t r;
  nn_err_t e;

  *n = 0;
  if ((e = nn_file_read_private(path, buf, sizeof(buf), &len)))
    goto out;
  nn_wire_reader_init(&r, buf, len);
  (void)nn_wire_get_bytes(&r, magic, 4);
  (void)nn_wire_get_u16(&r, &version);
  (void)nn_wire_get_u8(&r, &count);
  if (r.err || memcmp(magic, KEYS_MAGIC, 4) || version != KEYS_VERSION || count > NN_MIX_SAVED_KEYS) {
    e = NN_ERR_FORMAT;
    goto out;
  }
  for (size_t i = 0; i < count; i++) {
    (void)nn_wire_get_u32(&r, &keys[i].epoch);
    (void)nn_wire_get_bytes(&r, keys[i].seed, 32);
  }
  size_t body = r.off;
  (void)nn_wire_get_bytes(&r, check.b, NN_HASH_LEN);
  if ((e = nn_wire_finish(&r)) || (e = nn_sha3_256(&want, buf, body)))
    goto out;
  if (CRYPTO_memcmp(want.b, check.b, NN_HASH_LEN)) {
    e = NN_ERR_VERIFY;
    goto out;
  }
  *n = count;
out:
  if (e)
    OPENSSL_cleanse(keys, NN_MIX_SAVED_KEYS * sizeof(*keys));
  OPENSSL_cleanse(buf, sizeof(buf));
  return e;
}

static void
keys_save(nn_mixnode_t *m)
{
  nn_mix_saved_key_t keys[NN_MIX_SAVED_KEYS];
  uint8_t buf[KEYS_FILE_MAX];
  nn_wire_writer_t w;
  nn_hash_t check;
  size_t n;
  if (!m->cfg.keys_file || !m->mix)
    return;
  n = nn_mix_saved_keys(m->mix, keys);
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  (void)nn_wire_put_bytes(&w, (const uint8_t *)KEYS_MAGIC, 4);
  (void)nn_wire_put_u16(&w, KEYS_VERSION);
  (void)nn_wire_put_u8(&w, (uint8_t)n);
  for (size_t i = 0; i < n; i++) {
    (void)nn_wire_put_u32(&w, keys[i].epoch);
    (void)nn_wire_put_bytes(&w, keys[i].seed, 32);
  }
  if (!w.err && !nn_sha3_256(&check, buf, w.len) && !nn_wire_put_bytes(&w, check.b, NN_HASH_LEN) &&
      nn_file_write_private(m->cfg.keys_file, buf, w.len) != NN_OK)
    mlog(m, NN_LOG_WARN, "could not save the mix keys to %s: %s (a restart makes new keys)", m->cfg.keys_file,
         strerror(errno));
  OPENSSL_cleanse(keys, sizeof(keys));
  OPENSSL_cleanse(buf, sizeof(buf));
}

/* ---- the replay filters: u8[4] "NNMR" | u16 version | u8 n | n x (u32 epoch | u64 tags |
 * u64 words | words x u64) | SHA3-256 of everything before. Not secret (a filter tells which
 * tags were seen, and tags are unlinkable without the key), but written 0600 like the keys. ---- */

static void
replay_save(nn_mixnode_t *m)
{
  uint32_t e = epoch_now(m, now_ms());
  uint32_t eps[3] = { e - 1, e, e + 1 };
  const struct nn_replay_t *f[3];
  size_t total = 4 + 2 + 1 + NN_HASH_LEN, n = 0, words;
  nn_wire_writer_t w;
  nn_hash_t check;
  uint8_t *buf;
  if (!m->cfg.replay_file || !m->mix)
    return;
  for (int i = 0; i < 3; i++)
    if ((f[n] = nn_mix_replay(m->mix, eps[i]))) {
      (void)nn_replay_bits(f[n], &words);
      total += 4 + 8 + 8 + 8 * words;
      eps[n++] = eps[i];
    }
  if (!n || !(buf = malloc(total)))
    return;
  nn_wire_writer_init_fixed(&w, buf, total);
  (void)nn_wire_put_bytes(&w, (const uint8_t *)REPLAY_MAGIC, 4);
  (void)nn_wire_put_u16(&w, 1);
  (void)nn_wire_put_u8(&w, (uint8_t)n);
  for (size_t i = 0; i < n; i++) {
    const uint64_t *bits = nn_replay_bits(f[i], &words);
    (void)nn_wire_put_u32(&w, eps[i]);
    (void)nn_wire_put_u64(&w, nn_replay_count(f[i]));
    (void)nn_wire_put_u64(&w, words);
    for (size_t k = 0; k < words; k++)
      (void)nn_wire_put_u64(&w, bits[k]);
  }
  if (w.err || nn_sha3_256(&check, buf, w.len) || nn_wire_put_bytes(&w, check.b, NN_HASH_LEN) ||
      nn_file_write_private(m->cfg.replay_file, buf, w.len) != NN_OK)
    mlog(m, NN_LOG_WARN, "could not save the replay filters to %s (a restart forgets which packets were seen)",
         m->cfg.replay_file);
  free(buf);
}

/* Merge the saved filters of epochs the mix still takes packets for; a missing, damaged or
 * foreign file only costs the protection of the restart window, so it is logged, not fatal. */
static void
replay_load(nn_mixnode_t *m)
{
  size_t words = 0, cap, len = 0, merged = 0;
  nn_replay_t *probe;
  uint8_t *buf, magic[4], n = 0;
  uint16_t version = 0;
  nn_wire_reader_t r;
  nn_hash_t want;
  if (!m->cfg.replay_file || nn_replay_new(&probe, m->cfg.mix_cfg.replay_capacity))
    return;
  (void)nn_replay_bits(probe, &words);
  nn_replay_free(probe);
  cap = 4 + 2 + 1 + NN_HASH_LEN + 3 * (4 + 8 + 8 + 8 * words) + 1;
  if (!(buf = malloc(cap)))
    return;
  nn_err_t e = nn_file_read_private(m->cfg.replay_file, buf, cap, &len);
  if (e) {
    if (e != NN_ERR_NOTFOUND)
      mlog(m, NN_LOG_WARN, "%s: %s; not used", m->cfg.replay_file,
           e == NN_ERR_PERM ? "readable by others (chmod 600)" : "unreadable or too large");
    free(buf);
    return;
  }
  if (len < NN_HASH_LEN || nn_sha3_256(&want, buf, len - NN_HASH_LEN) ||
      CRYPTO_memcmp(want.b, buf + len - NN_HASH_LEN, NN_HASH_LEN)) {
    mlog(m, NN_LOG_WARN, "%s is damaged; not used", m->cfg.replay_file);
    free(buf);
    return;
  }
  nn_wire_reader_init(&r, buf, len - NN_HASH_LEN);
  (void)nn_wire_get_bytes(&r, magic, 4);
  (void)nn_wire_get_u16(&r, &version);
  (void)nn_wire_get_u8(&r, &n);
  if (r.err || memcmp(magic, REPLAY_MAGIC, 4) || version != 1 || n > 3) {
    mlog(m, NN_LOG_WARN, "%s is not a replay file of this version; not used", m->cfg.replay_file);
    free(buf);
    return;
  }
  uint64_t *bits = malloc(words * sizeof(*bits));
  for (uint8_t i = 0; bits && i < n && !r.err; i++) {
    uint32_t ep = 0;
    uint64_t tags = 0, nw = 0;
    (void)nn_wire_get_u32(&r, &ep);
    (void)nn_wire_get_u64(&r, &tags);
    (void)nn_wire_get_u64(&r, &nw);
    if (r.err || nw != words) /* another capacity: of no use */
      break;
    for (size_t k = 0; k < words; k++)
      (void)nn_wire_get_u64(&r, &bits[k]);
    if (!r.err && nn_mix_replay_restore(m->mix, ep, bits, words, (size_t)tags) == NN_OK)
      merged++;
  }
  if (merged)
    mlog(m, NN_LOG_INFO, "replay filters of %zu epochs taken from %s", merged, m->cfg.replay_file);
  free(bits);
  free(buf);
}

/* ---- time ---- */

static void
maintain(nn_mixnode_t *m, uint64_t now)
{
  uint64_t mono = nn_mono_ms();
  uint32_t e = epoch_now(m, now);
  nn_mix_stats_t ms;

  /* packets that waited too long for a channel, reach attempts and asks that went nowhere */
  while (m->pend && mono - m->pend->at > m->cfg.reach_timeout_ms) {
    pend_t *q = m->pend;
    m->pend = q->next;
    if (!m->pend)
      m->pend_tail = &m->pend;
    m->npend--;
    m->st.unreachable++;
    free(q);
  }
  for (size_t i = 0; i < m->nreach;)
    if (mono - m->reach[i].since > m->cfg.reach_timeout_ms)
      reach_del(m, &m->reach[i]);
    else
      i++;
  for (size_t i = 0; i < m->nwant;)
    if (mono - m->want[i].at > WANT_MS)
      m->want[i] = m->want[--m->nwant];
    else
      i++;
  /* channels we held for packets and no longer use */
  for (mpeer_t *p = m->peers; p; p = p->next)
    if (p->held && !p->dead && mono - p->last_ms > HOLD_IDLE_MS) {
      nn_net_hold(m->net, m->proto, p->conn, 0);
      p->held = 0;
    }
  nn_mixdir_expire(m->dir, e);
  /* the client's loops end at our own key */
  if (m->client && (!m->self_key_set || m->self_key_epoch != e)) {
    const nn_hybrid_pk_t *k0 = nn_mix_public_key(m->mix, e), *k1 = nn_mix_public_key(m->mix, e + 1);
    if (k0)
      nn_mixclient_set_self_key(m->client, e, k0);
    if (k1)
      nn_mixclient_set_self_key(m->client, e + 1, k1);
    m->self_key_epoch = e;
    m->self_key_set = 1;
  }
  if (m->cfg.mix) {
    uint64_t ahead = m->cfg.publish_ahead_ms;
    if (ahead > m->cfg.epoch_ms / 6)
      ahead = m->cfg.epoch_ms / 6;
    if (!m->has_published || m->published_epoch < e)
      publish(m, e, now);
    if ((uint64_t)(e + 1) * m->cfg.epoch_ms - now <= ahead && (!m->has_published || m->published_epoch < e + 1))
      publish(m, e + 1, now);
    nn_mix_stats(m->mix, &ms);
    if (ms.keys_made != m->keys_made_saved) {
      keys_save(m);
      m->keys_made_saved = ms.keys_made;
    }
    if (mono >= m->next_replay_save) {
      if (m->next_replay_save)
        replay_save(m);
      m->next_replay_save = mono + REPLAY_SAVE_MS;
    }
  }
  if (mono >= m->next_sync) {
    m->next_sync = mono + m->cfg.sync_interval_ms;
    for (mpeer_t *p = m->peers; p; p = p->next)
      if (p->ok && !p->dead) {
        send_digest(m, p, e);
        send_digest(m, p, e + 1);
      }
  }
}

static void
feed_self(nn_mixnode_t *m, uint64_t now)
{
  /* packets whose next hop is this node: a route through our own mix, or a loop home */
  pend_t **pp = &m->pend;
  pend_t *mine = NULL, **mt = &mine;
  m->pend_tail = &m->pend;
  while (*pp) {
    pend_t *q = *pp;
    if (!memcmp(q->to.b, m->self.b, NN_NODE_ID_LEN)) {
      *pp = q->next;
      m->npend--;
      q->next = NULL;
      *mt = q;
      mt = &q->next;
      continue;
    }
    pp = &q->next;
    m->pend_tail = pp;
  }
  while (mine) {
    pend_t *q = mine;
    mine = q->next;
    (void)nn_mix_recv(m->mix, &m->self_h, q->msg, m->geom.packet_len, now);
    free(q);
  }
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
  nn_mixnode_t *m = arg;
  uint64_t now = now_ms();
  (void)fd;
  (void)what;
  if (nn_mono_ms() >= m->next_maint) {
    m->next_maint = nn_mono_ms() + MAINT_MS;
    maintain(m, now);
  }
  feed_self(m, now);
  nn_mix_tick(m->mix, now);
  if (m->client)
    nn_mixclient_tick(m->client, now);
  if (m->reasm)
    nn_reasm_tick(m->reasm, now);
  arm(m);
}

static void
arm(nn_mixnode_t *m)
{
  uint64_t now = now_ms(), mono = nn_mono_ms(), at = UINT64_MAX, d;
  struct timeval tv;
  if (m->freeing || !m->ev)
    return;
  if ((d = nn_mix_deadline(m->mix)) < at)
    at = d;
  if (m->client && (d = nn_mixclient_deadline(m->client)) < at)
    at = d;
  if (m->reasm && (d = nn_reasm_deadline(m->reasm)) < at)
    at = d;
  d = m->next_maint > mono ? m->next_maint - mono : 0;
  uint64_t wait = at == UINT64_MAX ? d : (at > now ? at - now : 0);
  if (wait > d)
    wait = d;
  for (pend_t *q = m->pend; q; q = q->next)
    if (!memcmp(q->to.b, m->self.b, NN_NODE_ID_LEN)) {
      wait = 0;
      break;
    }
  tv.tv_sec = (long)(wait / 1000);
  tv.tv_usec = (long)(wait % 1000) * 1000;
  event_add(m->ev, &tv);
}

/* ---- the tenant ---- */

static void
on_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_mixnode_t *m = ctx;
  mpeer_t *p;
  /* a channel we opened to pass packets on: start the mixnet on it */
  for (size_t i = 0; i < m->nreach; i++)
    if (m->reach[i].conn == conn || (info->has_id && !memcmp(m->reach[i].id.b, info->id.b, NN_NODE_ID_LEN))) {
      if ((p = peer_get(m, conn)))
        send_hello(m, p);
      return;
    }
}

static void
on_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  nn_mixnode_t *m = ctx;
  (void)info;
  for (size_t i = 0; i < m->nreach; i++)
    if (m->reach[i].conn == conn) {
      nn_node_id_t id = m->reach[i].id;
      reach_del(m, &m->reach[i]);
      pend_drop(m, &id);
      break;
    }
  for (mpeer_t **pp = &m->peers; *pp;) {
    mpeer_t *p = *pp;
    if (p->conn == conn) {
      *pp = p->next;
      free(p);
      continue;
    }
    pp = &p->next;
  }
}

static int
geometry_ok(const nn_mixnode_t *m, const nn_mxmsg_t *x)
{
  return x->hops == m->geom.hops && x->packet_len == m->geom.packet_len &&
         (uint64_t)x->epoch_s * 1000 == m->cfg.epoch_ms;
}

static void
on_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_mixnode_t *m = ctx;
  nn_mxmsg_t x;
  mpeer_t *p = peer_get(m, conn);
  nn_err_t e;
  if (!p || p->dead)
    return;
  e = nn_mxmsg_parse(&x, msg, len, m->geom.packet_len);
  if (e == NN_ERR_VERSION && len && msg[0] == NN_MXMSG_HELLO && !p->hello_in) {
    p->hello_in = 1; /* a newer mixnet: nothing else is exchanged, no penalty */
    return;
  }
  if (e) {
    misbehaved(m, p, PEN_MALFORMED, "a malformed mixnet message");
    return;
  }
  if (x.kind == NN_MXMSG_HELLO) {
    if (p->hello_in) {
      misbehaved(m, p, PEN_OUT_OF_PLACE, "a second mixnet HELLO");
      return;
    }
    p->hello_in = 1;
    p->flags = x.flags;
    send_hello(m, p);
    if (!(p->ok = geometry_ok(m, &x))) {
      char name[NN_ADDR_STR_MAX + 24];
      peer_name(p, name);
      mlog(m, NN_LOG_DEBUG, "%s speaks another mixnet geometry (%u hops, %u bytes, %u s); ignored", name,
           (unsigned)x.hops, (unsigned)x.packet_len, (unsigned)x.epoch_s);
      return;
    }
    uint32_t ep = epoch_now(m, now_ms());
    send_digest(m, p, ep);
    send_digest(m, p, ep + 1);
    if (p->has_id) {
      reach_t *r = reach_find(m, &p->id);
      if (r)
        reach_del(m, r);
      pend_flush(m, p);
    }
    return;
  }
  if (!p->hello_in) {
    misbehaved(m, p, PEN_OUT_OF_PLACE, "a mixnet message before HELLO");
    return;
  }
  if (!p->ok)
    return; /* another geometry: it should send nothing; what it sends anyway is ignored */
  switch (x.kind) {
  case NN_MXMSG_PACKET:
    m->st.packets_in++;
    p->last_ms = nn_mono_ms();
    (void)nn_mix_recv(m->mix, &p->from, x.data, x.data_len, now_ms());
    arm(m);
    break;
  case NN_MXMSG_RKEY: break; /* reserved for exits that are not mixes (PROTOCOL.md 9.9) */
  case NN_MXMSG_DESC: on_desc(m, p, &x); break;
  case NN_MXMSG_DIGEST: on_digest(m, p, &x); break;
  case NN_MXMSG_INV: on_inv(m, p, &x); break;
  case NN_MXMSG_GETDESC: on_getdesc(m, p, &x); break;
  default: break;
  }
}

/* ---- life ---- */

nn_err_t
nn_mixnode_new(nn_mixnode_t **out, nn_net_t *net, nn_disco_t *disco, const nn_identity_t *identity, uint32_t network,
               const nn_mixnode_cfg_t *cfg, char *why, size_t why_len)
{
  nn_mixnode_t *m;
  nn_mix_saved_key_t saved[NN_MIX_SAVED_KEYS];
  size_t nsaved = 0;
  nn_err_t e;
  uint64_t now = now_ms();
  char dummy[8];

  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  *out = NULL;
  memset(saved, 0, sizeof(saved));
  if (!(m = calloc(1, sizeof(*m))))
    return NN_ERR_NOMEM;
  m->net = net;
  m->disco = disco;
  m->identity = identity;
  m->self = *nn_identity_node_id(identity);
  memcpy(m->self_h.b, m->self.b, NN_HASH_LEN);
  m->network = network;
  m->cfg = *cfg;
  m->pend_tail = &m->pend;
  m->proto = -1;
  if (!m->cfg.epoch_ms || m->cfg.epoch_ms % 1000 || m->cfg.epoch_ms / 1000 > UINT32_MAX) {
    snprintf(why, why_len, "mixnet: the key epoch must be a whole number of seconds");
    e = NN_ERR_ARG;
    goto fail;
  }
  if ((e = nn_sphinx_geom_init(&m->geom, m->cfg.hops, m->cfg.packet_len))) {
    snprintf(why, why_len, "mixnet: %u hops and %zu-byte packets do not make a geometry", m->cfg.hops,
             m->cfg.packet_len);
    goto fail;
  }
  m->cfg.mix_cfg.geom = m->geom;
  m->cfg.mix_cfg.epoch_ms = m->cfg.epoch_ms;
  m->cfg.mix_cfg.relay = m->cfg.mix;
  if (!m->cfg.mix) { /* it takes only its own loops: small budgets (docs/ARCHITECTURE.md, Memory) */
    if (m->cfg.mix_cfg.max_packets > 64)
      m->cfg.mix_cfg.max_packets = 64;
    if (m->cfg.mix_cfg.max_packets_per_peer > 16)
      m->cfg.mix_cfg.max_packets_per_peer = 16;
    if (m->cfg.mix_cfg.replay_capacity > (1u << 16))
      m->cfg.mix_cfg.replay_capacity = 1u << 16;
  }
  m->cfg.dir.network = network;
  m->cfg.dir.layers = m->geom.hops - 1;
  m->cfg.client.geom = m->geom;
  m->cfg.client.epoch_ms = m->cfg.epoch_ms;
  memcpy(m->cfg.client.self.b, m->self.b, NN_HASH_LEN);
  m->cfg.reasm.body_len = m->geom.body_len;
  if (!(m->buf = malloc(1 + m->geom.packet_len)) || !(m->want = calloc(MAX_WANTED, sizeof(*m->want)))) {
    e = NN_ERR_NOMEM;
    goto fail;
  }
  if (m->cfg.mix && m->cfg.keys_file) {
    e = keys_load(m->cfg.keys_file, saved, &nsaved);
    if (e && e != NN_ERR_NOTFOUND) {
      snprintf(why, why_len, "mixnet: %s: %s; fix its mode (chmod 600) or remove it (new keys are made)",
               m->cfg.keys_file, e == NN_ERR_PERM ? "readable by others" : "unreadable or damaged");
      goto fail;
    }
  }
  if ((e = nn_mixdir_new(&m->dir, &m->cfg.dir))) {
    snprintf(why, why_len, "mixnet: the directory's settings are out of range");
    goto fail;
  }
  if (m->cfg.mix && m->cfg.workers && (e = nn_workers_new(&m->pool, nn_net_base(net), m->cfg.workers))) {
    snprintf(why, why_len, "mixnet: could not start %u worker threads", m->cfg.workers);
    goto fail;
  }
  nn_mix_io_t mio = { mix_send, mix_deliver, m->pool ? mix_offload : NULL, m };
  if ((e = nn_mix_new(&m->mix, &m->cfg.mix_cfg, &mio, saved, nsaved, now))) {
    snprintf(why, why_len, "mixnet: the mix's settings are out of range");
    goto fail;
  }
  if (nsaved)
    mlog(m, NN_LOG_INFO, "mix keys of %zu epochs taken from %s", nsaved, m->cfg.keys_file);
  if (m->cfg.mix)
    replay_load(m);
  if (m->cfg.mix) {
    nn_mix_stats_t ms;
    nn_mix_stats(m->mix, &ms);
    m->keys_made_saved = ms.keys_made;
    keys_save(m);
    if ((e = nn_reasm_new(&m->reasm, &m->cfg.reasm))) {
      snprintf(why, why_len, "mixnet: the reassembly's settings are out of range");
      goto fail;
    }
  }
  if (m->cfg.cover) {
    nn_mixclient_io_t cio = { client_send, pick_exit, m };
    if ((e = nn_mixclient_new(&m->client, &m->cfg.client, &cio, m->dir, now))) {
      snprintf(why, why_len, "mixnet: the cover rates or delays are out of range");
      goto fail;
    }
  }
  if (!(m->ev = event_new(nn_net_base(net), -1, 0, on_timer, m))) {
    e = NN_ERR_NOMEM;
    goto fail;
  }
  nn_net_proto_t proto = { "mixnet", NN_KIND_MIXNET_FIRST, NN_KIND_MIXNET_LAST, on_up, on_message, on_down, m, NULL };
  if ((e = nn_net_register(net, &proto, &m->proto))) {
    snprintf(why, why_len, "mixnet: could not register its message kinds");
    goto fail;
  }
  m->registered = 1;
  m->next_sync = nn_mono_ms() + m->cfg.sync_interval_ms;
  m->next_maint = 0;
  arm(m);
  OPENSSL_cleanse(saved, sizeof(saved));
  *out = m;
  return NN_OK;
fail:
  OPENSSL_cleanse(saved, sizeof(saved));
  nn_mixnode_free(m);
  return e;
}

void
nn_mixnode_free(nn_mixnode_t *m)
{
  if (!m)
    return;
  m->freeing = 1;
  if (m->registered)
    nn_net_unregister(m->net, m->proto);
  if (m->ev)
    event_free(m->ev);
  nn_workers_free(m->pool); /* cancelled jobs go back to the mix before it goes */
  if (m->cfg.mix) {
    keys_save(m);
    replay_save(m);
  }
  nn_mixclient_free(m->client);
  nn_mix_free(m->mix);
  nn_reasm_free(m->reasm);
  nn_mixdir_free(m->dir);
  while (m->pend) {
    pend_t *q = m->pend;
    m->pend = q->next;
    free(q);
  }
  while (m->peers) {
    mpeer_t *p = m->peers;
    m->peers = p->next;
    free(p);
  }
  free(m->want);
  free(m->buf);
  free(m);
}

/* ---- the caller's side ---- */

nn_err_t
nn_mixnode_send(nn_mixnode_t *m, const uint8_t *msg, size_t len, int at_once)
{
  uint64_t now = now_ms();
  uint32_t e = epoch_now(m, now);
  const nn_mixdesc_t *d;
  nn_err_t err;
  if (!m->client)
    return NN_ERR_PERM;
  /* an exit whose descriptor is for this epoch has keys for it and the next, so fragments that
   * leave after the switch still reach it */
  if (!(d = nn_mixdir_pick(m->dir, e, 1)) && !(d = nn_mixdir_pick(m->dir, e, 0)))
    return NN_ERR_NOTFOUND;
  nn_hash_t exit;
  memcpy(exit.b, d->node_id.b, NN_HASH_LEN);
  err = nn_mixclient_send(m->client, msg, len, at_once ? NN_FRAG_TO_BROADCAST : NN_FRAG_TO_DANDELION, &exit, d->epoch,
                          d->keys, now);
  if (!err)
    arm(m);
  return err;
}

void
nn_mixnode_stats(nn_mixnode_t *m, nn_mixnode_stats_t *st)
{
  uint32_t e = epoch_now(m, now_ms());
  const nn_mixdesc_t *d;
  unsigned layer;
  *st = m->st;
  st->mix = m->cfg.mix;
  st->cover = m->client != NULL;
  st->epoch = e;
  st->peers = 0;
  for (mpeer_t *p = m->peers; p; p = p->next)
    st->peers += p->ok && !p->dead;
  st->view = nn_mixdir_digest(m->dir, e, &st->digest);
  memset(st->layer_mixes, 0, sizeof(st->layer_mixes));
  for (size_t i = 0; i < st->view && nn_mixdir_view(m->dir, e, i, &d, &layer) > i; i++)
    if (layer < NN_SPHINX_MAX_HOPS)
      st->layer_mixes[layer]++;
  st->pending = m->npend;
  nn_mix_stats(m->mix, &st->core);
  if (m->client)
    nn_mixclient_stats(m->client, &st->client);
  if (m->reasm)
    nn_reasm_stats(m->reasm, &st->reasm);
}

size_t
nn_mixnode_mixes(nn_mixnode_t *m, nn_mixnode_mix_t *out, size_t max)
{
  uint32_t e = epoch_now(m, now_ms());
  const nn_mixdesc_t *d;
  unsigned layer;
  size_t k = 0;
  for (size_t i = 0; k < max && nn_mixdir_view(m->dir, e, i, &d, &layer) > i; i++) {
    out[k].id = d->node_id;
    out[k].layer = layer;
    out[k].addr = d->addrs[0];
    out[k].reliability = nn_mixdir_reliability(m->dir, &d->node_id);
    k++;
  }
  return k;
}

nn_mixdir_t *
nn_mixnode_dir(nn_mixnode_t *m)
{
  return m->dir;
}

const nn_hybrid_pk_t *
nn_mixnode_public_key(const nn_mixnode_t *m, uint32_t epoch)
{
  return nn_mix_public_key(m->mix, epoch);
}

uint32_t
nn_mixnode_epoch_at(const nn_mixnode_t *m, uint64_t unix_ms)
{
  return epoch_now(m, unix_ms);
}
