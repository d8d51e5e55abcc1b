/*
 * The discovery node (src/dht/disco.c) for real: DHT over secure channels on 127.0.0.1, one
 * event_base, many nodes in one process. A 50-node network where every node finds every other
 * node's signed record; a restart from the peer store alone; forged, replayed, expired and
 * wrongly signed records; malformed RPCs up to a ban; a node with no reachable bootstrap peer
 * (backoff); a hidden node.
 *
 * DISCO_DEBUG=1 in the environment prints every log line of every node with a timestamp.
 *
 * No assertion depends on timing: waits run the loop until a condition holds, with a safety
 * deadline that fails the test instead of hanging it. Times are measured and printed only.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include "crypto/identity.h"
#include "dht/disco.h"
#include "dht/record.h"
#include "dht/rpc.h"
#include "net/net.h"
#include "net/tcp.h"

#define SAFETY_S 120
#define NET "NEPR"

static double
now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- running the loop until something holds ---- */

typedef int (*cond_fn)(void *);
typedef struct waiter_t {
  struct event_base *base;
  cond_fn cond;
  void *arg;
  int timed_out;
} waiter_t;

static void
wait_check(evutil_socket_t fd, short what, void *arg)
{
  waiter_t *w = arg;
  (void)fd;
  (void)what;
  if (w->cond(w->arg))
    event_base_loopbreak(w->base);
}

static void
wait_safety(evutil_socket_t fd, short what, void *arg)
{
  waiter_t *w = arg;
  (void)fd;
  (void)what;
  w->timed_out = 1;
  event_base_loopbreak(w->base);
}

/* Run the loop until cond holds (checked every 10 ms); 0 if the safety deadline hit first. */
static int
run_until(struct event_base *base, cond_fn cond, void *arg, int safety_s)
{
  waiter_t w = { base, cond, arg, 0 };
  if (cond(arg))
    return 1;
  struct event *chk = event_new(base, -1, EV_PERSIST, wait_check, &w);
  struct event *saf = evtimer_new(base, wait_safety, &w);
  struct timeval tick = { 0, 10000 }, lim = { safety_s, 0 };
  event_add(chk, &tick);
  evtimer_add(saf, &lim);
  while (!cond(arg) && !w.timed_out)
    event_base_loop(base, EVLOOP_ONCE);
  event_free(chk);
  event_free(saf);
  return !w.timed_out || cond(arg);
}

/* ---- nodes ---- */

typedef struct node_t {
  nn_identity_t *id;
  nn_net_t *net;
  nn_disco_t *d;
  nn_log_t log;
  char dir[64];
  char peer[200];
  nn_addr_t addr;
  int nlog_boot;       /* "no reachable bootstrap peer" lines */
  uint32_t delays[16]; /* boot_delay_ms at each of them */
  char last_warn[512];
  int verbose;
  unsigned max_idle; /* the manager's cap of idle outbound channels (0: its default) */
} node_t;

static void
node_log(void *ctx, int level, const char *module, const char *line)
{
  (void)module;
  node_t *n = ctx;
  if (strstr(line, "no reachable bootstrap peer")) {
    if (n->d && n->nlog_boot < 16) {
      nn_disco_stats_t st;
      nn_disco_stats(n->d, &st);
      n->delays[n->nlog_boot] = st.boot_delay_ms;
    }
    n->nlog_boot++;
  }
  if (level >= NN_LOG_WARN)
    snprintf(n->last_warn, sizeof(n->last_warn), "%s", line);
  if (getenv("DISCO_DEBUG"))
    fprintf(stderr, "%.3f %s\n", now_s(), line);
  if (n->verbose && level >= NN_LOG_INFO)
    fprintf(stderr, "%s\n", line);
}

static nn_net_limits_t lim_loopback; /* set once in setup, read-only afterwards */

static void
devnet_cfg(nn_disco_cfg_t *c)
{
  nn_disco_cfg_default(c);
  c->dht.table.allow_private = 1;
  c->dht.table.per_bucket_group = 0;
  c->dht.table.per_table_group = 0;
  c->dht.table.per_table_wide = 0;
  c->dht.rpc_timeout_ms = 5000; /* 50 nodes share one CPU in one loop, sanitizers on */
  c->peerstore.allow_nonpublic = 1;
  c->boot_retry_min_ms = 200;
}

static void
node_ident(node_t *n, unsigned seed)
{
  nn_mldsa_seed_t s;
  memset(s.b, 0, sizeof(s.b));
  s.b[0] = (uint8_t)seed;
  s.b[1] = (uint8_t)(seed >> 8);
  s.b[31] = 0xd1;
  assert_int_equal(nn_identity_from_seed(&n->id, &s), NN_OK);
  snprintf(n->dir, sizeof(n->dir), "/tmp/nn-disco-XXXXXX");
  assert_non_null(mkdtemp(n->dir));
}

/* A node: its connection manager on 127.0.0.1 (no listener when hidden) and discovery. */
static void
node_start(node_t *n, struct event_base *base, nn_disco_cfg_t *cfg)
{
  char why[512], adv[NN_ADDR_STR_MAX];
  nn_net_cfg_t nc;
  nn_transport_t *t;
  nn_addr_t bound;
  n->log = (nn_log_t){ node_log, n, NN_LOG_DEBUG, "" };
  nn_net_cfg_default(&nc);
  nc.identity = n->id;
  nc.anonymous = cfg->hidden;
  nc.network = NN_NET_REGTEST;
  nc.linger_ms = 200;
  nc.limits = lim_loopback;
  nc.log = &n->log;
  if (n->max_idle)
    nc.max_idle_outbound = n->max_idle;
  nc.idle_ms = cfg->dht.rpc_timeout_ms; /* an idle channel has no answer outstanding */
  assert_int_equal(nn_net_new(&n->net, base, &nc), NN_OK);
  assert_int_equal(nn_tcp_transport_new(&t, base, NULL), NN_OK);
  assert_int_equal(nn_net_add_transport(n->net, t), NN_OK);
  if (!cfg->hidden) {
    assert_int_equal(nn_net_listen(n->net, "tcp", "127.0.0.1:0", &bound, NULL, 0), NN_OK);
    nn_addr_format(&bound, adv);
    cfg->advertise = adv;
  }
  cfg->log = &n->log;
  nn_err_t err = nn_disco_new(&n->d, n->net, n->id, NN_NET_REGTEST, n->dir, cfg, why, sizeof(why));
  if (err)
    fprintf(stderr, "nn_disco_new: %s\n", why);
  assert_int_equal(err, NN_OK);
  cfg->advertise = NULL;
  nn_disco_peer_string(n->d, n->peer, sizeof(n->peer));
  (void)nn_disco_addr(n->d, &n->addr);
}

static void
node_stop(node_t *n)
{
  nn_disco_free(n->d);
  n->d = NULL;
  nn_net_free(n->net);
  n->net = NULL;
}

static void
node_cleanup(node_t *n)
{
  char p[128];
  node_stop(n);
  static const char *const files[] = { "peers.sqlite", "peers.sqlite-wal", "peers.sqlite-shm" };
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s/%s", n->dir, files[i]);
    (void)unlink(p);
  }
  (void)rmdir(n->dir);
  nn_identity_free(n->id);
  n->id = NULL;
}

/* Free everything, then let lingering sockets finish: the loop returns once no event is left. */
static void
base_drain_free(struct event_base *base)
{
  event_base_dispatch(base);
  event_base_free(base);
}

typedef struct netw_t {
  node_t *n;
  size_t count;
} netw_t;

static int
all_published(void *arg)
{
  netw_t *w = arg;
  for (size_t i = 0; i < w->count; i++) {
    if (!w->n[i].d)
      continue;
    nn_disco_stats_t st;
    nn_disco_stats(w->n[i].d, &st);
    if (!st.published)
      return 0;
  }
  return 1;
}

/* Start \a count nodes, node i bootstrapping from one or two earlier nodes (static peers). */
static void
net_start(struct event_base *base, node_t *n, size_t count, unsigned seed0)
{
  for (size_t i = 0; i < count; i++) {
    nn_disco_cfg_t cfg;
    const char *peers[2];
    devnet_cfg(&cfg);
    node_ident(&n[i], seed0 + (unsigned)i);
    if (i > 0) {
      peers[0] = n[(i - 1) / 2].peer;
      peers[1] = n[i - 1].peer;
      cfg.peers = peers;
      cfg.n_peers = i > 1 && (i - 1) / 2 != i - 1 ? 2 : 1;
    }
    node_start(&n[i], base, &cfg);
  }
}

/* ---- lookups, many at a time ---- */

typedef struct finder_t {
  node_t *n;
  size_t count;
  size_t *next_target; /* per node: next j to look up */
  unsigned *inflight;  /* per node */
  size_t started, done, found, bad, wrong_addr, total;
  unsigned window;
} finder_t;

typedef struct find_ctx_t {
  finder_t *f;
  size_t from, to;
} find_ctx_t;

static void pump(finder_t *f);

static void
found_cb(void *ctx, const nn_node_id_t *id, const nn_peer_record_t *rec)
{
  find_ctx_t *c = ctx;
  finder_t *f = c->f;
  f->done++;
  f->inflight[c->from]--;
  if (rec) {
    nn_peer_record_status_t why;
    if (memcmp(rec->node_id.b, id->b, 32) || memcmp(rec->node_id.b, nn_identity_node_id(f->n[c->to].id)->b, 32) ||
        nn_peer_record_verify(rec, NN_NET_REGTEST, (uint64_t)time(NULL), &why) != NN_OK)
      f->bad++;
    else if (rec->n_addrs != 1 || !nn_addr_equal(&rec->addrs[0], &f->n[c->to].addr))
      f->wrong_addr++;
    else
      f->found++;
  }
  free(c);
}

static void
pump(finder_t *f)
{
  for (size_t i = 0; i < f->count; i++) {
    while (f->inflight[i] < f->window && f->next_target[i] < f->count) {
      size_t j = f->next_target[i];
      if (j == i) {
        f->next_target[i]++;
        continue;
      }
      find_ctx_t *c = malloc(sizeof(*c));
      assert_non_null(c);
      c->f = f;
      c->from = i;
      c->to = j;
      f->inflight[i]++;
      if (nn_disco_find(f->n[i].d, nn_identity_node_id(f->n[j].id), found_cb, c) != NN_OK) {
        f->inflight[i]--;
        free(c);
        break; /* the DHT is busy: later */
      }
      f->next_target[i]++;
      f->started++;
    }
  }
}

static int
finder_done(void *arg)
{
  finder_t *f = arg;
  pump(f);
  return f->done == f->total;
}

/* Every node looks up every other node; returns the time taken. */
static double
find_all(struct event_base *base, node_t *n, size_t count, unsigned window, finder_t *f)
{
  memset(f, 0, sizeof(*f));
  f->n = n;
  f->count = count;
  f->window = window;
  f->total = count * (count - 1);
  f->next_target = calloc(count, sizeof(size_t));
  f->inflight = calloc(count, sizeof(unsigned));
  assert_non_null(f->next_target);
  assert_non_null(f->inflight);
  double t0 = now_s();
  int ok = run_until(base, finder_done, f, 300);
  double t = now_s() - t0;
  free(f->next_target);
  free(f->inflight);
  assert_true(ok);
  return t;
}

/* ---- 1. fifty nodes ---- */

static int
setup(void **state)
{
  (void)state;
  nn_net_limits_default(&lim_loopback);
  lim_loopback.max_per_ip = 0; /* every node is 127.0.0.1 */
  lim_loopback.ip_rate = 0;
  lim_loopback.load_half_open = 1024;
  lim_loopback.max_half_open = 1024;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  return 0;
}

static void
test_fifty_nodes(void **state)
{
  (void)state;
  enum { N = 50 };
  struct event_base *base = event_base_new();
  node_t *n = calloc(N, sizeof(node_t));
  netw_t w = { n, N };
  finder_t f;
  assert_non_null(n);
  double t0 = now_s();
  net_start(base, n, N, 1000);
  double t_start = now_s() - t0;
  assert_true(run_until(base, all_published, &w, SAFETY_S));
  double t_pub = now_s() - t0 - t_start;
  printf("50 nodes created (identities, peer stores, listeners) in %.2f s\n", t_start);
  double t_find = find_all(base, n, N, 4, &f);
  size_t tbl = 0, chans = 0, vals = 0;
  uint64_t pen = 0;
  for (size_t i = 0; i < N; i++) {
    nn_disco_stats_t st;
    nn_disco_stats(n[i].d, &st);
    tbl += st.table_size;
    chans += st.channels;
    vals += st.values;
    pen += st.penalties;
  }
  printf("50 nodes: all published %.2f s later; %zu/%zu lookups found a verified record with the right "
         "address (%zu bad, %zu wrong address) in %.2f s (%.0f lookups/s); mean table %.1f, "
         "channels %.1f, values %.1f per node; %llu penalties\n",
         t_pub, f.found, f.total, f.bad, f.wrong_addr, t_find, f.total / t_find, tbl / (double)N, chans / (double)N,
         vals / (double)N, (unsigned long long)pen);
  assert_int_equal(f.bad, 0);
  assert_int_equal(f.wrong_addr, 0);
  assert_int_equal(f.found, f.total);
  for (size_t i = 0; i < N; i++)
    node_cleanup(&n[i]);
  free(n);
  base_drain_free(base);
}

/* ---- a raw client: one channel to a node, speaking DHT messages by hand ---- */

typedef struct raw_t {
  nn_net_t *net; /* its own connection manager */
  uint64_t conn;
  int established, closed;
  nn_close_reason_t reason;
  int answers;
  nn_rpc_t last; /* last answer (value pointer not kept) */
  uint64_t want_id;
  int got_want;
} raw_t;

static void
raw_est(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  raw_t *r = ctx;
  (void)info;
  r->conn = conn;
  r->established = 1;
}

static void
raw_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  raw_t *r = ctx;
  (void)conn;
  nn_rpc_t m;
  if (nn_rpc_decode(&m, msg, len) != NN_OK)
    return;
  m.value = NULL;
  r->last = m;
  r->answers++;
  if (m.id == r->want_id)
    r->got_want = 1;
}

static void
raw_closed(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  raw_t *r = ctx;
  (void)conn;
  r->closed = 1;
  r->reason = info->reason;
  r->conn = 0;
}

static int
raw_ready(void *arg)
{
  raw_t *r = arg;
  return r->established || r->closed;
}
static int
raw_is_closed(void *arg)
{
  return ((raw_t *)arg)->closed;
}
static int
raw_got(void *arg)
{
  raw_t *r = arg;
  return r->got_want || r->closed;
}

/* A client of its own (a manager whose one tenant takes every kind) on one channel to \a to. */
static void
raw_connect(raw_t *r, struct event_base *base, const nn_identity_t *me, node_t *to)
{
  nn_net_cfg_t cfg;
  nn_transport_t *t;
  int h;
  memset(r, 0, sizeof(*r));
  nn_net_cfg_default(&cfg);
  cfg.identity = me;
  cfg.network = NN_NET_REGTEST;
  cfg.linger_ms = 200;
  assert_int_equal(nn_net_new(&r->net, base, &cfg), NN_OK);
  assert_int_equal(nn_tcp_transport_new(&t, base, NULL), NN_OK);
  assert_int_equal(nn_net_add_transport(r->net, t), NN_OK);
  nn_net_proto_t p = { "raw", 0x00, 0xff, raw_est, raw_msg, raw_closed, r, NULL };
  assert_int_equal(nn_net_register(r->net, &p, &h), NN_OK);
  assert_int_equal(nn_net_dial(r->net, h, &to->addr, nn_identity_node_id(to->id), &r->conn), NN_OK);
  assert_true(run_until(base, raw_ready, r, SAFETY_S));
}

static void
raw_free(raw_t *r)
{
  nn_net_free(r->net);
  r->net = NULL;
}

/* Send \a msg and wait for the answer to request \a id (or the close). */
static void
raw_call(raw_t *r, struct event_base *base, const uint8_t *msg, size_t len, uint64_t id)
{
  r->want_id = id;
  r->got_want = 0;
  assert_true(r->conn != 0);
  assert_int_equal(nn_net_send(r->net, r->conn, msg, len), NN_OK);
  assert_true(run_until(base, raw_got, r, SAFETY_S));
}

static size_t
enc_rpc(const nn_rpc_t *m, uint8_t *buf, size_t cap)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, cap);
  assert_int_equal(nn_rpc_encode(m, &w), NN_OK);
  return w.len;
}

/* STORE \a rec (encoded) under \a key and return the STORED status. */
static int
raw_store(raw_t *r, struct event_base *base, const nn_node_id_t *key, const uint8_t *val, size_t len, uint64_t id)
{
  uint8_t buf[NN_RPC_MAX_LEN];
  nn_rpc_t m;
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_STORE;
  m.id = id;
  m.target = *key;
  m.value = val;
  m.value_len = len;
  raw_call(r, base, buf, enc_rpc(&m, buf, sizeof(buf)), id);
  assert_true(r->got_want);
  assert_int_equal(r->last.kind, NN_RPC_STORED);
  return r->last.status;
}

static size_t
make_record(const nn_identity_t *who, uint64_t seq, int64_t issued_rel, int64_t expires_rel, uint8_t *out)
{
  nn_peer_record_t rec;
  nn_wire_writer_t w;
  uint8_t ip[4] = { 127, 0, 0, 1 };
  uint64_t now = (uint64_t)time(NULL);
  nn_peer_record_init(&rec);
  rec.network = NN_NET_REGTEST;
  rec.seq = seq;
  rec.issued_at = (uint64_t)((int64_t)now + issued_rel);
  rec.expires_at = (uint64_t)((int64_t)now + expires_rel);
  rec.flags = NN_PEER_RECORD_F_INBOUND;
  rec.n_addrs = 1;
  rec.addrs[0] = nn_addr_ipv4(ip, (uint16_t)(9000 + seq));
  assert_int_equal(nn_peer_record_sign(&rec, who, NULL), NN_OK);
  nn_wire_writer_init_fixed(&w, out, NN_PEER_RECORD_MAX_LEN);
  assert_int_equal(nn_peer_record_encode(&rec, &w), NN_OK);
  return w.len;
}

typedef struct one_find_t {
  int done, found;
  nn_peer_record_t rec;
} one_find_t;

static void
one_cb(void *ctx, const nn_node_id_t *id, const nn_peer_record_t *rec)
{
  one_find_t *o = ctx;
  (void)id;
  o->done = 1;
  if (rec) {
    o->found = 1;
    o->rec = *rec;
  }
}

static int
one_done(void *arg)
{
  return ((one_find_t *)arg)->done;
}

static void
find_one(struct event_base *base, node_t *from, const nn_node_id_t *id, one_find_t *o)
{
  memset(o, 0, sizeof(*o));
  assert_int_equal(nn_disco_find(from->d, id, one_cb, o), NN_OK);
  assert_true(run_until(base, one_done, o, SAFETY_S));
}

static int32_t
standing_of(node_t *n, const nn_addr_t *a)
{
  int32_t s = 0;
  assert_int_equal(nn_peerstore_standing(nn_disco_peerstore(n->d), a, &s), NN_OK);
  return s;
}

static int32_t
node_standing(node_t *n, const nn_node_id_t *id)
{
  int32_t s = 0;
  assert_int_equal(nn_peerstore_node_standing(nn_disco_peerstore(n->d), id, &s), NN_OK);
  return s;
}

/* ---- 3. bad records ---- */

static void
test_bad_records(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  node_t n[2];
  netw_t w = { n, 2 };
  nn_identity_t *t_id, *x_id;
  nn_mldsa_seed_t s;
  uint8_t rec[NN_PEER_RECORD_MAX_LEN];
  raw_t r;
  one_find_t o;
  memset(n, 0, sizeof(n));
  memset(s.b, 0x71, 32);
  assert_int_equal(nn_identity_from_seed(&t_id, &s), NN_OK);
  memset(s.b, 0x72, 32);
  assert_int_equal(nn_identity_from_seed(&x_id, &s), NN_OK);
  const nn_node_id_t *t = nn_identity_node_id(t_id), *x = nn_identity_node_id(x_id);
  net_start(base, n, 2, 3000);
  assert_true(run_until(base, all_published, &w, SAFETY_S));

  raw_connect(&r, base, t_id, &n[0]);
  assert_true(r.established);
  /* the raw client is identified: its misbehaviour is held against its node id (disco.c) */
  int32_t s0 = node_standing(&n[0], t);

  /* a valid record, then the same node's older one (replayed): OLDER, no penalty */
  size_t len = make_record(t_id, 10, 0, 3600, rec);
  assert_int_equal(raw_store(&r, base, t, rec, len, 1), NN_STORE_OK);
  len = make_record(t_id, 5, 0, 3600, rec);
  assert_int_equal(raw_store(&r, base, t, rec, len, 2), NN_STORE_OLDER);
  assert_int_equal(node_standing(&n[0], t), s0);
  /* expired (honestly signed, stale): INVALID, no penalty */
  len = make_record(x_id, 20, -7200, -3600, rec);
  assert_int_equal(raw_store(&r, base, x, rec, len, 3), NN_STORE_INVALID);
  assert_int_equal(node_standing(&n[0], t), s0);
  /* forged: a record that claims X's node id, signed by T's key: INVALID and a penalty */
  len = make_record(t_id, 30, 0, 3600, rec);
  memcpy(rec + 5, x->b, 32);
  assert_int_equal(raw_store(&r, base, x, rec, len, 4), NN_STORE_INVALID);
  int32_t s1 = node_standing(&n[0], t);
  assert_true(s1 < s0);
  /* wrongly signed: X's own record with one signature byte flipped */
  len = make_record(x_id, 31, 0, 3600, rec);
  rec[len - 100] ^= 0x01;
  assert_int_equal(raw_store(&r, base, x, rec, len, 5), NN_STORE_INVALID);
  int32_t s2 = node_standing(&n[0], t);
  assert_true(s2 < s1);
  /* a valid record stored under another key: INVALID and a penalty */
  len = make_record(t_id, 11, 0, 3600, rec);
  assert_int_equal(raw_store(&r, base, x, rec, len, 6), NN_STORE_INVALID);
  assert_true(node_standing(&n[0], t) < s2);
  /* garbage as a value */
  memset(rec, 0xee, 100);
  assert_int_equal(raw_store(&r, base, x, rec, 100, 7), NN_STORE_INVALID);
  /* the same content signed twice (ML-DSA signing is randomized): equal seq and expiry, and the
   * larger signature wins whatever order the copies come in (docs/PROTOCOL.md 6.3, issue 10
   * item 9); the smaller one first, so that "the first copy stays" would fail here */
  uint8_t r2[NN_PEER_RECORD_MAX_LEN];
  nn_peer_record_t d1, d2;
  size_t l1, l2;
  do {
    l1 = make_record(t_id, 40, 0, 3600, rec);
    l2 = make_record(t_id, 40, 0, 3600, r2);
    assert_int_equal(nn_peer_record_decode(rec, l1, &d1), NN_OK);
    assert_int_equal(nn_peer_record_decode(r2, l2, &d2), NN_OK);
  } while (d1.expires_at != d2.expires_at); /* a second ticked between the two */
  assert_int_equal(l1, l2);
  const uint8_t *lo = nn_peer_record_newer(&d1, &d2) ? r2 : rec, *hi = lo == rec ? r2 : rec;
  const nn_peer_record_t *dhi = hi == rec ? &d1 : &d2;
  assert_int_equal(raw_store(&r, base, t, lo, l1, 8), NN_STORE_OK);
  assert_int_equal(raw_store(&r, base, t, hi, l1, 9), NN_STORE_OK);     /* replaces */
  assert_int_equal(raw_store(&r, base, t, lo, l1, 10), NN_STORE_OLDER); /* does not come back */
  /* identical copies are kept, and cost no signature check (issue 10, item 6) */
  nn_disco_stats_t ds;
  nn_disco_stats(n[0].d, &ds);
  uint64_t v0 = ds.verifications;
  for (uint64_t i = 0; i < 20; i++)
    assert_int_equal(raw_store(&r, base, t, hi, l1, 11 + i), NN_STORE_OK);
  nn_disco_stats(n[0].d, &ds);
  assert_int_equal(ds.verifications, v0);
  /* STOREs are rate-limited per host (64 in a burst, then 4 a second): a flood is answered "no
   * room" before any signature check (issue 10, item 6) */
  int full = 0;
  for (uint64_t i = 0; i < 80 && !full; i++)
    full = raw_store(&r, base, t, hi, l1, 100 + i) == NN_STORE_FULL;
  assert_true(full);
  nn_disco_stats(n[0].d, &ds);
  assert_int_equal(ds.verifications, v0);
  find_one(base, &n[0], t, &o);
  assert_true(o.found && o.rec.seq == 40);
  assert_memory_equal(o.rec.sig.b, dhi->sig.b, sizeof(dhi->sig.b));
  printf("standing of the client's host: %d -> %d -> %d -> %d\n", s0, s1, s2, node_standing(&n[0], t));

  /* lookups return the good record of T (seq 40) and nothing for X, from both nodes */
  for (int i = 0; i < 2; i++) {
    find_one(base, &n[i], t, &o);
    assert_true(o.found);
    assert_true(o.rec.seq == 40);
    find_one(base, &n[i], x, &o);
    assert_false(o.found);
  }
  raw_free(&r);
  for (int i = 0; i < 2; i++)
    node_cleanup(&n[i]);
  nn_identity_free(t_id);
  nn_identity_free(x_id);
  base_drain_free(base);
}

/* ---- 4. malformed RPCs up to a ban ---- */

static void
test_bad_rpcs(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  node_t n[1];
  netw_t w = { n, 1 };
  nn_identity_t *t_id;
  nn_mldsa_seed_t s;
  raw_t r;
  uint8_t buf[NN_RPC_MAX_LEN];
  memset(n, 0, sizeof(n));
  memset(s.b, 0x73, 32);
  assert_int_equal(nn_identity_from_seed(&t_id, &s), NN_OK);
  net_start(base, n, 1, 4000);
  (void)w;
  raw_connect(&r, base, t_id, &n[0]);
  assert_true(r.established);
  const nn_node_id_t *tid = nn_identity_node_id(t_id);
  nn_peerstore_t *ps = nn_disco_peerstore(n[0].d);
  nn_addr_t host = n[0].addr;
  host.port = 0; /* inbound loopback peers are judged by host (disco.c) */
  assert_int_equal(node_standing(&n[0], tid), 0);

  /* a ping first: answered */
  nn_rpc_t m;
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_PING;
  m.id = 100;
  raw_call(&r, base, buf, enc_rpc(&m, buf, sizeof(buf)), 100);
  assert_true(r.got_want);
  assert_int_equal(r.last.kind, NN_RPC_PONG);

  /* hostile messages of the DHT's kinds: each is followed by a ping, so we know it was handled
   * (a kind outside the DHT's range never reaches it: see the end of this test) */
  static const uint8_t junk0[] = { 0x1f };
  static const uint8_t junk1[] = { 0x10 };                               /* truncated header */
  static const uint8_t junk2[] = { 0x19, 0, 0, 0, 0, 0, 0, 0, 1, 0 };    /* a DHT kind not defined */
  static const uint8_t junk3[] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 2 };    /* flag 2 */
  static const uint8_t junk4[] = { 0x13, 0, 0, 0, 0, 0, 0, 0, 1, 21 };   /* 21 nodes */
  static const uint8_t junk5[] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }; /* trailing */
  const uint8_t *junks[] = { junk0, junk1, junk2, junk3, junk4, junk5 };
  const size_t jl[] = { sizeof(junk0), sizeof(junk1), sizeof(junk2), sizeof(junk3), sizeof(junk4), sizeof(junk5) };
  int32_t prev = 0;
  int rounds = 0, banned = 0;
  for (rounds = 0; rounds < 40 && !r.closed; rounds++) {
    assert_int_equal(nn_net_send(r.net, r.conn, junks[rounds % 6], jl[rounds % 6]), NN_OK);
    m.id = 200 + (uint64_t)rounds;
    raw_call(&r, base, buf, enc_rpc(&m, buf, sizeof(buf)), m.id);
    assert_int_equal(nn_peerstore_node_banned(ps, tid, (uint64_t)time(NULL), &banned, NULL, NULL), NN_OK);
    if (banned)
      break;
    int32_t st = node_standing(&n[0], tid);
    assert_true(st < prev); /* every malformed message costs standing */
    prev = st;
  }
  assert_true(banned);
  nn_disco_stats_t st;
  nn_disco_stats(n[0].d, &st);
  printf("banned after %d malformed messages (%llu penalties)\n", rounds + 1, (unsigned long long)st.penalties);
  assert_true(st.bans >= 1);
  /* the node, not its host, is banned: neighbours behind the same address keep their standing */
  assert_int_equal(nn_peerstore_is_banned(ps, &host, (uint64_t)time(NULL), &banned, NULL, NULL), NN_OK);
  assert_false(banned);
  assert_int_equal(standing_of(&n[0], &host), 0);
  /* the node closes the banned node's channel... */
  assert_true(run_until(base, raw_is_closed, &r, SAFETY_S));
  /* ...and closes a new one as soon as its handshake proves the banned id */
  uint64_t refused = st.refused_banned;
  raw_t r2;
  raw_connect(&r2, base, t_id, &n[0]);
  assert_true(run_until(base, raw_is_closed, &r2, SAFETY_S));
  nn_disco_stats(n[0].d, &st);
  assert_int_equal(st.refused_banned, refused + 1);
  assert_int_equal(nn_net_stats(n[0].net)->refused_admit, 1);
  assert_int_equal(nn_net_stats(n[0].net)->refused_policy, 0);

  /* a neighbour (another node at the same address) and an anonymous peer there are served */
  nn_identity_t *u_id;
  memset(s.b, 0x74, 32);
  assert_int_equal(nn_identity_from_seed(&u_id, &s), NN_OK);
  raw_t r3, r4;
  raw_connect(&r3, base, u_id, &n[0]);
  assert_true(r3.established && !r3.closed);
  m.id = 300;
  raw_call(&r3, base, buf, enc_rpc(&m, buf, sizeof(buf)), m.id);
  assert_true(r3.got_want);
  raw_connect(&r4, base, NULL, &n[0]);
  assert_true(r4.established && !r4.closed);
  m.id = 301;
  raw_call(&r4, base, buf, enc_rpc(&m, buf, sizeof(buf)), m.id);
  assert_true(r4.got_want);

  /* an anonymous peer's misbehaviour is held against the host's anonymous peers only */
  for (rounds = 0; rounds < 40 && !r4.closed; rounds++) {
    assert_int_equal(nn_net_send(r4.net, r4.conn, junks[rounds % 6], jl[rounds % 6]), NN_OK);
    m.id = 400 + (uint64_t)rounds;
    raw_call(&r4, base, buf, enc_rpc(&m, buf, sizeof(buf)), m.id);
    assert_int_equal(nn_peerstore_anon_banned(ps, &host, (uint64_t)time(NULL), &banned), NN_OK);
    if (banned)
      break;
  }
  assert_true(banned);
  assert_true(run_until(base, raw_is_closed, &r4, SAFETY_S));
  raw_t r5;
  raw_connect(&r5, base, NULL, &n[0]); /* another anonymous peer from there: closed */
  assert_true(run_until(base, raw_is_closed, &r5, SAFETY_S));
  assert_int_equal(nn_net_stats(n[0].net)->refused_admit, 2);
  /* the neighbouring node is still served, and its host is not banned */
  assert_false(r3.closed);
  m.id = 500;
  raw_call(&r3, base, buf, enc_rpc(&m, buf, sizeof(buf)), m.id);
  assert_true(r3.got_want);
  assert_int_equal(nn_peerstore_is_banned(ps, &host, (uint64_t)time(NULL), &banned, NULL, NULL), NN_OK);
  assert_false(banned);
  assert_int_equal(nn_peerstore_node_banned(ps, nn_identity_node_id(u_id), (uint64_t)time(NULL), &banned, NULL, NULL),
                   NN_OK);
  assert_false(banned);
  raw_free(&r);
  raw_free(&r2);
  raw_free(&r3);
  raw_free(&r4);
  raw_free(&r5);
  node_cleanup(&n[0]);
  nn_identity_free(t_id);
  nn_identity_free(u_id);
  base_drain_free(base);
}

/* ---- 5. no reachable bootstrap ---- */

static int
boot_logged(void *arg)
{
  node_t *n = arg;
  return n->nlog_boot >= 5;
}

static void
test_no_bootstrap(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  node_t n;
  nn_disco_cfg_t cfg;
  memset(&n, 0, sizeof(n));
  node_ident(&n, 5000);
  /* port 1: nobody listens there, connections are refused at once */
  const char *peers[] = { "127.0.0.1:1" };
  devnet_cfg(&cfg);
  cfg.peers = peers;
  cfg.n_peers = 1;
  cfg.boot_retry_min_ms = 20;
  cfg.boot_retry_max_ms = 160;
  node_start(&n, base, &cfg);
  assert_true(run_until(base, boot_logged, &n, SAFETY_S));
  nn_disco_stats_t st;
  nn_disco_stats(n.d, &st);
  printf("bootstrap retries %u, delays %u %u %u %u %u ms; status: %s\n", st.boot_retries, n.delays[0], n.delays[1],
         n.delays[2], n.delays[3], n.delays[4], st.status);
  assert_true(st.boot_retries >= 5);
  assert_false(st.bootstrapped);
  assert_non_null(strstr(st.status, "no reachable bootstrap peer"));
  assert_non_null(strstr(st.status, "1 --peer addresses"));
  assert_non_null(strstr(n.last_warn, "retrying in"));
  assert_int_equal(n.delays[0], 20);
  assert_int_equal(n.delays[1], 40);
  assert_int_equal(n.delays[2], 80);
  assert_int_equal(n.delays[3], 160);
  assert_int_equal(n.delays[4], 160); /* capped */
  /* attempts and failures are in the peer store */
  nn_addr_t a;
  nn_peerstore_entry_t e;
  assert_int_equal(nn_addr_parse(&a, "127.0.0.1:1"), NN_OK);
  assert_int_equal(nn_peerstore_get(nn_disco_peerstore(n.d), &a, &e), NN_OK);
  assert_true(e.attempts >= 5);
  assert_true(e.failures >= 5);
  node_cleanup(&n);
  base_drain_free(base);
}

/* ---- 2. restart from the peer store; 6. a hidden node ---- */

static int
node_ready(void *arg)
{
  node_t *n = arg;
  nn_disco_stats_t st;
  nn_disco_stats(n->d, &st);
  return st.bootstrapped && st.published && st.table_size > 0;
}

static void
test_restart(void **state)
{
  (void)state;
  enum { N = 6 };
  struct event_base *base = event_base_new();
  node_t n[N];
  netw_t w = { n, N };
  finder_t f;
  one_find_t o;
  memset(n, 0, sizeof(n));
  net_start(base, n, N, 6000);
  assert_true(run_until(base, all_published, &w, SAFETY_S));
  (void)find_all(base, n, N, 4, &f);
  assert_int_equal(f.found, f.total);
  /* restart the last node without any --peer */
  node_t *r = &n[N - 1];
  nn_addr_t old = r->addr;
  node_stop(r);
  nn_disco_cfg_t cfg;
  devnet_cfg(&cfg);
  node_start(r, base, &cfg);
  assert_true(run_until(base, node_ready, r, SAFETY_S));
  nn_disco_stats_t st;
  nn_disco_stats(r->d, &st);
  printf("restarted node: table %zu, channels %zu, bootstrap rounds %u, retries %u\n", st.table_size, st.channels,
         st.boot_rounds, st.boot_retries);
  assert_int_equal(st.boot_retries, 0); /* reached its stored peers in the first round */
  for (size_t i = 0; i + 1 < N; i++) {
    find_one(base, r, nn_identity_node_id(n[i].id), &o);
    assert_true(o.found);
    assert_true(nn_addr_equal(&o.rec.addrs[0], &n[i].addr));
  }
  /* and the others find its new address (a new port, a higher seq) */
  assert_false(nn_addr_equal(&old, &r->addr));
  find_one(base, &n[0], nn_identity_node_id(r->id), &o);
  assert_true(o.found);
  (void)old;
  for (size_t i = 0; i < N; i++)
    node_cleanup(&n[i]);
  base_drain_free(base);
}

static int
hidden_ready(void *arg)
{
  node_t *n = arg;
  nn_disco_stats_t st;
  nn_disco_stats(n->d, &st);
  return st.bootstrapped && st.table_size > 0;
}

static void
test_hidden(void **state)
{
  (void)state;
  enum { N = 5 };
  struct event_base *base = event_base_new();
  node_t n[N + 1];
  netw_t w = { n, N };
  one_find_t o;
  memset(n, 0, sizeof(n));
  net_start(base, n, N, 7000);
  assert_true(run_until(base, all_published, &w, SAFETY_S));
  node_t *h = &n[N];
  nn_disco_cfg_t cfg;
  const char *peers[] = { n[1].peer };
  devnet_cfg(&cfg);
  cfg.hidden = 1;
  cfg.peers = peers;
  cfg.n_peers = 1;
  node_ident(h, 7100);
  node_start(h, base, &cfg);
  assert_true(run_until(base, hidden_ready, h, SAFETY_S));
  for (size_t i = 0; i < N; i++) {
    find_one(base, h, nn_identity_node_id(n[i].id), &o);
    assert_true(o.found);
    assert_true(nn_addr_equal(&o.rec.addrs[0], &n[i].addr));
  }
  nn_disco_stats_t st;
  nn_disco_stats(h->d, &st);
  assert_int_equal(st.published, 0);
  assert_null(nn_disco_record(h->d));
  assert_int_equal(h->peer[0], 0);
  /* nobody finds it, and nobody has it in their table (it connects anonymously) */
  for (size_t i = 0; i < N; i++) {
    find_one(base, &n[i], nn_identity_node_id(h->id), &o);
    assert_false(o.found);
    assert_null(nn_dht_table_find(nn_dht_table(nn_disco_dht(n[i].d)), nn_identity_node_id(h->id)));
  }
  for (size_t i = 0; i <= N; i++)
    node_cleanup(&n[i]);
  base_drain_free(base);
}

/* ---- DNS seeds ---- */

/* A DNS server on 127.0.0.1 (libevent's evdns server side): A queries for the seed name are
 * answered with 127.0.0.1, everything else with an empty answer. */
static void
dns_server_cb(struct evdns_server_request *req, void *arg)
{
  int *queries = arg;
  for (int i = 0; i < req->nquestions; i++) {
    ++*queries;
    if (req->questions[i]->type == EVDNS_TYPE_A &&
        !evutil_ascii_strcasecmp(req->questions[i]->name, "seed.nepnet.test")) {
      uint32_t ip = htonl(0x7f000001);
      evdns_server_request_add_a_reply(req, req->questions[i]->name, 1, &ip, 60);
    }
  }
  evdns_server_request_respond(req, 0);
}

static void
test_dns_seed(void **state)
{
  (void)state;
  enum { N = 4 };
  struct event_base *base = event_base_new();
  node_t n[N + 1];
  netw_t w = { n, N };
  one_find_t o;
  int queries = 0;
  memset(n, 0, sizeof(n));
  net_start(base, n, N, 7200);
  assert_true(run_until(base, all_published, &w, SAFETY_S));

  evutil_socket_t s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sin;
  socklen_t sl = sizeof(sin);
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(0x7f000001);
  assert_true(s >= 0);
  assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
  evutil_make_socket_nonblocking(s);
  struct evdns_server_port *port = evdns_add_server_port_with_base(base, s, 0, dns_server_cb, &queries);
  assert_non_null(port);
  char ns[32];
  snprintf(ns, sizeof(ns), "127.0.0.1:%u", ntohs(sin.sin_port));

  /* the new node knows nothing but the seed name; the seed resolves to node 0's host, and
   * the default port is node 0's */
  node_t *x = &n[N];
  nn_disco_cfg_t cfg;
  const char *seeds[] = { "seed.nepnet.test" };
  devnet_cfg(&cfg);
  cfg.dns_seeds = seeds;
  cfg.n_dns_seeds = 1;
  cfg.dns_nameserver = ns;
  cfg.default_port = n[0].addr.port;
  node_ident(x, 7300);
  node_start(x, base, &cfg);
  assert_true(run_until(base, hidden_ready, x, SAFETY_S));
  assert_true(queries >= 1);
  for (size_t i = 0; i < N; i++) {
    find_one(base, x, nn_identity_node_id(n[i].id), &o);
    assert_true(o.found);
  }
  printf("DNS seed: %d queries answered, bootstrapped and found %d nodes\n", queries, N);
  for (size_t i = 0; i <= N; i++)
    node_cleanup(&n[i]);
  evdns_close_server_port(port);
  evutil_closesocket(s);
  base_drain_free(base);
}

/* ---- republishing and the channel cap ---- */

typedef struct repub_t {
  node_t *n;
  uint64_t seq0;
} repub_t;

static int
republished_and_trimmed(void *arg)
{
  repub_t *r = arg;
  nn_disco_stats_t st;
  nn_disco_stats(r->n->d, &st);
  return st.published >= 2 && st.record_seq > r->seq0 && st.outbound <= 2;
}

static void
test_republish_and_cap(void **state)
{
  (void)state;
  enum { N = 6 };
  struct event_base *base = event_base_new();
  node_t n[N + 1];
  netw_t w = { n, N };
  one_find_t o;
  memset(n, 0, sizeof(n));
  net_start(base, n, N, 9000);
  assert_true(run_until(base, all_published, &w, SAFETY_S));
  /* a node whose record lives 4 s (republished after 2 s) and that keeps 2 outbound channels */
  node_t *r = &n[N];
  nn_disco_cfg_t cfg;
  const char *peers[] = { n[0].peer };
  devnet_cfg(&cfg);
  cfg.peers = peers;
  cfg.n_peers = 1;
  cfg.record_lifetime_s = 4;
  cfg.dht.rpc_timeout_ms = 1000;
  node_ident(r, 9100);
  r->max_idle = 2;
  node_start(r, base, &cfg);
  netw_t w1 = { r, 1 };
  assert_true(run_until(base, all_published, &w1, SAFETY_S));
  for (size_t i = 0; i < N; i++) {
    find_one(base, r, nn_identity_node_id(n[i].id), &o);
    assert_true(o.found);
  }
  nn_disco_stats_t st;
  nn_disco_stats(r->d, &st);
  repub_t rp = { r, st.record_seq };
  size_t peak = st.outbound;
  assert_true(run_until(base, republished_and_trimmed, &rp, SAFETY_S));
  nn_disco_stats(r->d, &st);
  printf("republished: seq %llu -> %llu; outbound channels %zu -> %zu (cap 2)\n", (unsigned long long)rp.seq0,
         (unsigned long long)st.record_seq, peak, st.outbound);
  /* the others now get the newer record */
  find_one(base, &n[1], nn_identity_node_id(r->id), &o);
  assert_true(o.found);
  assert_true(o.rec.seq >= rp.seq0);
  for (size_t i = 0; i <= N; i++)
    node_cleanup(&n[i]);
  base_drain_free(base);
}

static void
test_parse_peer(void **state)
{
  (void)state;
  nn_addr_t a;
  nn_node_id_t id;
  int has;
  char s[200];
  memset(s, 'a', 64);
  snprintf(s + 64, sizeof(s) - 64, "@127.0.0.1:9800");
  assert_int_equal(nn_disco_parse_peer(s, &a, &id, &has), NN_OK);
  assert_int_equal(has, 1);
  assert_int_equal(a.port, 9800);
  assert_int_equal(nn_disco_parse_peer("[::1]:7", &a, &id, &has), NN_OK);
  assert_int_equal(has, 0);
  assert_int_not_equal(nn_disco_parse_peer("127.0.0.1", &a, &id, &has), NN_OK);
  assert_int_not_equal(nn_disco_parse_peer("127.0.0.1:0", &a, &id, &has), NN_OK);
  assert_int_not_equal(nn_disco_parse_peer("abc@127.0.0.1:1", &a, &id, &has), NN_OK);
  assert_int_not_equal(nn_disco_parse_peer("host.example:1", &a, &id, &has), NN_OK);
  /* a bad --peer is refused by name */
  struct event_base *base = event_base_new();
  node_t n;
  nn_disco_cfg_t cfg;
  char why[512];
  const char *peers[] = { "nonsense" };
  memset(&n, 0, sizeof(n));
  node_ident(&n, 8000);
  devnet_cfg(&cfg);
  cfg.peers = peers;
  cfg.n_peers = 1;
  nn_net_cfg_t nc;
  nn_net_cfg_default(&nc);
  nc.identity = n.id;
  nc.network = NN_NET_REGTEST;
  assert_int_equal(nn_net_new(&n.net, base, &nc), NN_OK);
  assert_int_equal(nn_disco_new(&n.d, n.net, n.id, NN_NET_REGTEST, n.dir, &cfg, why, sizeof(why)), NN_ERR_FORMAT);
  assert_non_null(strstr(why, "--peer 'nonsense'"));
  node_cleanup(&n);
  base_drain_free(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_peer),  cmocka_unit_test(test_bad_records),
    cmocka_unit_test(test_bad_rpcs),    cmocka_unit_test(test_no_bootstrap),
    cmocka_unit_test(test_hidden),      cmocka_unit_test(test_dns_seed),
    cmocka_unit_test(test_restart),     cmocka_unit_test(test_republish_and_cap),
    cmocka_unit_test(test_fifty_nodes),
  };
  return cmocka_run_group_tests_name("disco", tests, setup, NULL);
}
