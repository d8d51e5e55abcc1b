/*
 * The node layer without processes: nepnetd's settings (presets < file < flags, and the errors),
 * and nodes in one event loop: a broadcast reaching all, a black-holing stem relay defeated by
 * the embargo, a stempool probe that gets nothing, misbehaving peers closed and penalized, and a
 * full node refusing a HELLO. The gossip codec has its own suite (test_dlmsg.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "dandelion/msg.h"
#include "dht/peerstore.h"
#include "lib/hex.h"
#include "node/config.h"
#include "node/node.h"
#include "transport/tcp.h"

/* ---- settings ---- */

static char tmpdir[64];

static void
write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int
parse(nn_conf_t *c, char *why, size_t wl, ...)
{
  char *argv[32];
  int argc = 0;
  va_list ap;
  argv[argc++] = "nepnetd";
  va_start(ap, wl);
  for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  nn_conf_init(c);
  why[0] = 0;
  return nn_conf_parse_args(c, argc, argv, why, wl);
}

static void
test_config(void **state)
{
  (void)state;
  nn_conf_t c;
  char why[512], file[128];
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/nn-node-conf-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  snprintf(file, sizeof(file), "%s/n.conf", tmpdir);

  /* defaults: balanced */
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, NULL), 0);
  assert_string_equal(c.preset, "balanced");
  assert_true(c.node.dl.fluff_prob == 0.1);
  assert_int_equal(c.node.max_outbound, 8);
  assert_int_equal(c.node.dl.route, NN_ROUTE_DANDELION);
  nn_conf_free(&c);

  /* the file's preset, then the file, then the flags */
  write_file(file, "# a comment\npreset = fast\nmax-peers = 30\n  peer = 127.0.0.1:1\npeer=127.0.0.1:3\n"
                   "inv-delay-out-ms = 700\n");
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, "--max-peers", "40", "--peer",
                         "127.0.0.1:2", NULL),
                   0);
  assert_string_equal(c.preset, "fast");
  assert_true(c.node.dl.fluff_prob == 0.2);        /* from the preset */
  assert_int_equal(c.node.dl.inv_mean_out_ms, 700); /* the file over the preset */
  assert_int_equal(c.node.max_peers, 40);           /* the flag over the file */
  assert_int_equal(c.peers.n, 1);                   /* the flags' list replaces the file's */
  assert_string_equal(c.peers.v[0], "127.0.0.1:2");
  assert_int_equal(c.node.disco.n_peers, 1);
  nn_conf_free(&c);

  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, NULL), 0);
  assert_int_equal(c.node.max_peers, 30);
  assert_int_equal(c.peers.n, 2);
  nn_conf_free(&c);

  /* a flag's preset wins over the file's; =VALUE form; bool alone */
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, "--preset=private", NULL), 0);
  assert_string_equal(c.preset, "private");
  assert_int_equal(c.node.disco.hidden, 1);
  assert_int_equal(c.node.dl.embargo_mean_ms, 39000);
  assert_null(c.node.disco.listen); /* hidden: no listener */
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--fluff-prob", "0.25", "--stem-rate", "2.5e1", NULL), 0);
  assert_true(c.node.dl.fluff_prob == 0.25);
  assert_true(c.node.stem_rate == 25.0);
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--hidden", "--route", "direct", NULL), 0);
  assert_int_equal(c.node.disco.hidden, 1);
  assert_int_equal(c.node.dl.route, NN_ROUTE_DIRECT);
  nn_conf_free(&c);

  /* errors name the option, the origin and the value */
  static const struct {
    const char *a, *b, *want1, *want2;
  } errs[] = {
    { "--max-peers", "0", "--max-peers", "'0'" },
    { "--max-peers", "12x", "--max-peers", "integer" },
    { "--fluff-prob", "0.9", "--fluff-prob", "0.05" },
    { "--route", "mixnet", "--route", "not available" },
    { "--route", "carrier-pigeon", "--route", "dandelion or direct" },
    { "--network", "moon", "--network", "mainnet, testnet or regtest" },
    { "--peer", "nowhere", "--peer", "NODEID@HOST:PORT" },
    { "--preset", "turbo", "preset 'turbo'", "fast, balanced or private" },
    { "--frobnicate", "1", "unknown option 'frobnicate'", "--help" },
    { "--max-outbound", "65", "--max-outbound", "1 to 64" },
    { "--stem-rate", "nan", "--stem-rate", "a number" },
    { "--stem-rate", "inf", "--stem-rate", "a number" },
    { "--max-peers", "0x10", "--max-peers", "an integer" },
    { "--max-peers", " 5", "--max-peers", "an integer" },
    { "--max-peers", "1e2", "--max-peers", "an integer" },
    { "--max-peers", "-3", "--max-peers", "an integer" },
    { "--hidden", "maybe", "--hidden", "0 or 1" },
  };
  for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
    assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, errs[i].a, errs[i].b, NULL), -1);
    if (!strstr(why, errs[i].want1) || !strstr(why, errs[i].want2))
      fprintf(stderr, "%s %s -> '%s'\n", errs[i].a, errs[i].b, why);
    assert_non_null(strstr(why, errs[i].want1));
    assert_non_null(strstr(why, errs[i].want2));
    nn_conf_free(&c);
  }
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--max-peers", NULL), -1);
  assert_non_null(strstr(why, "needs a value"));
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--max-peers", "4", "--max-outbound", "8", NULL), -1);
  assert_non_null(strstr(why, "max-outbound"));
  nn_conf_free(&c);
  write_file(file, "max-peers = 30\nthis line has no equals sign\n");
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, NULL), -1);
  assert_non_null(strstr(why, "n.conf:2"));
  nn_conf_free(&c);
  write_file(file, "max-channels = -3\n");
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, NULL), -1);
  assert_non_null(strstr(why, "n.conf:1"));
  assert_non_null(strstr(why, "'-3'"));
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", "/nonexistent/x.conf", NULL), -1);
  assert_non_null(strstr(why, "/nonexistent/x.conf"));
  nn_conf_free(&c);
  /* --help and --print-config */
  assert_int_equal(parse(&c, why, sizeof(why), "--help", NULL), 1);
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--print-config", NULL), 2);
  nn_conf_free(&c);
  unlink(file);
  rmdir(tmpdir);
}

/* ---- nodes in one loop ---- */

typedef int (*cond_fn)(void *arg);
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

static int
run_until(struct event_base *base, cond_fn cond, void *arg, int safety_ms)
{
  waiter_t w = { base, cond, arg, 0 };
  if (cond(arg))
    return 1;
  struct event *chk = event_new(base, -1, EV_PERSIST, wait_check, &w);
  struct event *saf = evtimer_new(base, wait_safety, &w);
  struct timeval tick = { 0, 5000 }, lim = { safety_ms / 1000, (safety_ms % 1000) * 1000 };
  event_add(chk, &tick);
  evtimer_add(saf, &lim);
  while (!cond(arg) && !w.timed_out)
    event_base_loop(base, EVLOOP_ONCE);
  event_free(chk);
  event_free(saf);
  return cond(arg);
}


static nn_tcp_limits_t lim;

static void
quiet_log(void *ctx, int level, const char *line)
{
  (void)ctx;
  if (getenv("NODE_DEBUG") || (level >= NN_DISCO_LOG_WARN && getenv("NODE_WARN")))
    fprintf(stderr, "%s\n", line);
}

typedef struct tnode_t {
  nn_identity_t *id;
  nn_node_t *n;
  char dir[64], peer[256];
} tnode_t;

static nn_identity_t *
ident(unsigned seed)
{
  nn_mldsa_seed_t s;
  nn_identity_t *id;
  memset(s.b, 0, sizeof(s.b));
  s.b[0] = (uint8_t)seed;
  s.b[1] = (uint8_t)(seed >> 8);
  s.b[31] = 0x7e;
  assert_int_equal(nn_identity_from_seed(&id, &s), NN_OK);
  return id;
}

static void
loop_cfg(nn_node_cfg_t *c)
{
  nn_node_cfg_default(c);
  nn_tcp_limits_default(&lim);
  lim.max_per_ip = 0;
  lim.ip_rate = 0;
  c->disco.dht.table.allow_private = 1;
  c->disco.dht.table.per_bucket_group = 0;
  c->disco.dht.table.per_table_group = 0;
  c->disco.dht.table.per_table_wide = 0;
  c->disco.dht.rpc_timeout_ms = 5000;
  c->disco.peerstore.allow_nonpublic = 1;
  c->disco.limits = &lim;
  c->disco.listen = "127.0.0.1:0";
  c->disco.linger_ms = 200;
  c->disco.boot_retry_min_ms = 200;
  c->max_inbound_per_host = 0;
  c->api_enabled = 0;
  c->connect_interval_ms = 100;
  c->retry_min_ms = 200;
  c->log = quiet_log;
  c->dl.embargo_base_ms = 3000;
  c->dl.embargo_mean_ms = 1000;
  c->dl.inv_mean_out_ms = 30;
  c->dl.inv_mean_in_ms = 60;
}

static void
tnode_start(tnode_t *t, struct event_base *base, unsigned seed, nn_node_cfg_t *cfg)
{
  char why[512];
  t->id = ident(seed);
  snprintf(t->dir, sizeof(t->dir), "/tmp/nn-node-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  nn_err_t e = nn_node_new(&t->n, base, t->id, NN_NET_REGTEST, t->dir, cfg, why, sizeof(why));
  if (e)
    fprintf(stderr, "nn_node_new: %s\n", why);
  assert_int_equal(e, NN_OK);
  nn_disco_peer_string(nn_node_disco(t->n), t->peer, sizeof(t->peer));
}

static void
tnode_stop(tnode_t *t)
{
  char p[128];
  static const char *const files[] = { "peers.sqlite", "peers.sqlite-wal", "peers.sqlite-shm" };
  nn_node_free(t->n);
  t->n = NULL;
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s/%s", t->dir, files[i]);
    (void)unlink(p);
  }
  (void)rmdir(t->dir);
  nn_identity_free(t->id);
}

typedef struct net_t {
  tnode_t *t;
  size_t n;
  size_t min_out;
  size_t origin;
} net_t;

/* Every node has min_out gossip peers (either direction: in a network this small, a node
 * everyone dialled first, like node 0, finds all its candidates already peered with it), and
 * node `origin` has a relay (an outbound peer). */
static int
all_have_out(void *arg)
{
  net_t *w = arg;
  for (size_t i = 0; i < w->n; i++) {
    nn_node_stats_t st;
    nn_node_stats(w->t[i].n, &st);
    if (st.peers_out + st.peers_in < w->min_out || (i == w->origin && st.peers_out < 1))
      return 0;
  }
  return 1;
}

static int
all_received(void *arg)
{
  net_t *w = arg;
  for (size_t i = 0; i < w->n; i++) {
    nn_node_stats_t st;
    nn_node_stats(w->t[i].n, &st);
    if (st.tx_received < 1)
      return 0;
  }
  return 1;
}

static void
base_drain_free(struct event_base *base)
{
  event_base_dispatch(base);
  event_base_free(base);
}

/* 8 nodes: everyone gets a transaction submitted at one; it was fluffed first by a stem node,
 * not by its origin; the origin's stem relay is one of its outbound peers. */
static void
test_broadcast(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t t[8];
  net_t w = { t, 8, 2, 5 };
  memset(t, 0, sizeof(t));
  for (size_t i = 0; i < 8; i++) {
    nn_node_cfg_t c;
    const char *peers[1];
    loop_cfg(&c);
    c.max_outbound = 3;
    if (i) {
      peers[0] = t[0].peer;
      c.disco.peers = peers;
      c.disco.n_peers = 1;
    }
    tnode_start(&t[i], base, 100 + (unsigned)i, &c);
  }
  assert_true(run_until(base, all_have_out, &w, 30000));
  nn_hash_t id;
  const char *mode;
  uint8_t tx[300];
  for (size_t i = 0; i < sizeof(tx); i++)
    tx[i] = (uint8_t)(i * 7);
  assert_int_equal(nn_node_submit(t[5].n, tx, sizeof(tx), &id, &mode), NN_OK);
  assert_string_equal(mode, "dandelion");
  /* bad submissions change nothing */
  assert_int_equal(nn_node_submit(t[5].n, tx, 0, &id, &mode), NN_ERR_ARG);
  assert_true(run_until(base, all_received, &w, 30000));
  int fluffers = 0, origin_fluffed = 0;
  for (size_t i = 0; i < 8; i++) {
    nn_api_rx_t rx[4];
    uint64_t next;
    assert_int_equal(nn_node_received(t[i].n, 0, rx, 4, &next), 1);
    assert_memory_equal(rx[0].id.b, id.b, NN_HASH_LEN);
    assert_int_equal(rx[0].len, sizeof(tx));
    assert_memory_equal(rx[0].tx, tx, sizeof(tx));
    assert_int_equal(next, 2);
    if (!strcmp(rx[0].via, "stem-fluff") || !strcmp(rx[0].via, "embargo")) {
      fluffers++;
      origin_fluffed |= i == 5;
    }
    json_t *s = nn_node_status_json(t[i].n);
    assert_non_null(s);
    assert_int_equal(json_integer_value(json_object_get(s, "tx_received")), 1);
    json_decref(s);
  }
  assert_true(fluffers >= 1);
  assert_false(origin_fluffed); /* stems take ms here; the origin's embargo is >= 3 s */
  for (size_t i = 0; i < 8; i++)
    tnode_stop(&t[i]);
  base_drain_free(base);
}

/* ---- raw peers: a black hole, a spy, misbehaving peers ---- */

typedef struct rawpeer_t {
  nn_identity_t *id;
  nn_tcp_listener_t *l;
  nn_tcp_conn_t *c;
  int established, closed, hello_flags, hellos;
  uint8_t last_kind;
  size_t stems, invs, getdatas, txs;
  nn_hash_t last_id;
  uint8_t *last_tx;
  size_t last_tx_len;
  int answer_hello;
} rawpeer_t;

static void
raw_est(void *ctx, nn_tcp_conn_t *c, const nn_chan_info_t *info)
{
  rawpeer_t *r = ctx;
  (void)info;
  r->c = c;
  r->established = 1;
}

static void
raw_msg(void *ctx, nn_tcp_conn_t *c, const uint8_t *msg, size_t len)
{
  rawpeer_t *r = ctx;
  nn_dlmsg_t m;
  if (len == 0 || (msg[0] & 0xf0) != 0x20 || nn_dlmsg_parse(&m, msg, len, 1u << 24) != NN_OK)
    return; /* DHT traffic: not ours */
  r->last_kind = m.kind;
  switch (m.kind) {
  case NN_DLMSG_HELLO:
    r->hellos++;
    r->hello_flags = m.flags;
    if (r->answer_hello) {
      uint8_t h[NN_DLMSG_HELLO_LEN];
      nn_dlmsg_hello(h, 0, 1u << 20);
      (void)nn_tcp_conn_send(c, h, sizeof(h));
    }
    break;
  case NN_DLMSG_STEM:
  case NN_DLMSG_TX:
    if (m.kind == NN_DLMSG_STEM)
      r->stems++;
    else
      r->txs++;
    free(r->last_tx);
    r->last_tx = malloc(m.tx_len);
    memcpy(r->last_tx, m.tx, m.tx_len);
    r->last_tx_len = m.tx_len;
    break;
  case NN_DLMSG_INV:
    r->invs++;
    nn_dlmsg_id(&m, 0, &r->last_id);
    break;
  case NN_DLMSG_GETDATA:
    r->getdatas++;
    nn_dlmsg_id(&m, 0, &r->last_id);
    break;
  }
}

static void
raw_closed(void *ctx, nn_tcp_conn_t *c, nn_close_reason_t reason)
{
  rawpeer_t *r = ctx;
  (void)reason;
  if (r->c == c)
    r->c = NULL;
  r->closed = 1;
}

static void
raw_listen(rawpeer_t *r, struct event_base *base, unsigned seed)
{
  nn_tcp_listener_config_t lc;
  memset(r, 0, sizeof(*r));
  r->id = ident(seed);
  r->answer_hello = 1;
  memset(&lc, 0, sizeof(lc));
  lc.bind = "127.0.0.1:0";
  lc.identity = r->id;
  lc.chan.network = NN_NET_REGTEST;
  lc.limits = &lim;
  lc.cb.on_established = raw_est;
  lc.cb.on_message = raw_msg;
  lc.cb.on_closed = raw_closed;
  lc.cb.ctx = r;
  assert_int_equal(nn_tcp_listener_new(&r->l, base, &lc), NN_OK);
}

static void
raw_connect(rawpeer_t *r, struct event_base *base, unsigned seed, const tnode_t *to)
{
  nn_tcp_conn_config_t cc;
  const char *at = strchr(to->peer, '@');
  memset(r, 0, sizeof(*r));
  r->id = ident(seed);
  memset(&cc, 0, sizeof(cc));
  cc.identity = r->id;
  cc.chan.network = NN_NET_REGTEST;
  cc.cb.on_established = raw_est;
  cc.cb.on_message = raw_msg;
  cc.cb.on_closed = raw_closed;
  cc.cb.ctx = r;
  assert_non_null(at);
  assert_int_equal(nn_tcp_connect(&r->c, base, at + 1, &cc), NN_OK);
}

static void
raw_free(rawpeer_t *r)
{
  if (r->c && !r->l)
    nn_tcp_conn_close(r->c);
  nn_tcp_listener_free(r->l);
  free(r->last_tx);
  nn_identity_free(r->id);
}

static void
raw_send(rawpeer_t *r, const char *hex_or_null, const uint8_t *b, size_t n)
{
  uint8_t buf[4096];
  if (hex_or_null) {
    n = strlen(hex_or_null) / 2;
    assert_int_equal(nn_hex_decode(buf, n, hex_or_null), NN_OK);
    b = buf;
  }
  assert_non_null(r->c);
  assert_int_equal(nn_tcp_conn_send(r->c, b, n), NN_OK);
}

static void
raw_hello(rawpeer_t *r)
{
  uint8_t h[NN_DLMSG_HELLO_LEN];
  nn_dlmsg_hello(h, 0, 1u << 20);
  raw_send(r, NULL, h, sizeof(h));
}

static void
raw_ids(rawpeer_t *r, uint8_t kind, const nn_hash_t *id)
{
  uint8_t b[64];
  size_t n;
  assert_int_equal(nn_dlmsg_ids(b, sizeof(b), &n, kind, id, 1), NN_OK);
  raw_send(r, NULL, b, n);
}

static int is_est(void *a) { return ((rawpeer_t *)a)->established; }
static int is_closed(void *a) { return ((rawpeer_t *)a)->closed; }
static int got_hello(void *a) { return ((rawpeer_t *)a)->hellos > 0; }
static int got_stem(void *a) { return ((rawpeer_t *)a)->stems > 0; }
static int got_getdata(void *a) { return ((rawpeer_t *)a)->getdatas > 0; }
static int got_inv(void *a) { return ((rawpeer_t *)a)->invs > 0; }
static int got_tx(void *a) { return ((rawpeer_t *)a)->txs > 0; }

typedef struct outw_t {
  tnode_t *t;
  size_t out, in;
} outw_t;

static int
has_peers(void *arg)
{
  outw_t *w = arg;
  nn_node_stats_t st;
  nn_node_stats(w->t->n, &st);
  return st.peers_out >= w->out && st.peers_in >= w->in;
}

/* Node X's only outbound peer (hence its stem relay) is a black hole that takes stems and drops
 * them. A spy connected to X asks for the stem transaction (GETDATA) and announces it (INV):
 * X answers nothing from its stempool and asks for it back as for an unknown id. Then X's
 * embargo fires, X fluffs it itself, and the spy gets it. */
static void
test_blackhole_probe_embargo(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  rawpeer_t hole, spy;
  tnode_t x;
  char connect[300], hexid[65];
  const char *conn[1] = { connect };
  nn_node_cfg_t c;
  memset(&x, 0, sizeof(x));
  raw_listen(&hole, base, 900);
  nn_hex_encode(hexid, nn_identity_node_id(hole.id)->b, NN_NODE_ID_LEN);
  snprintf(connect, sizeof(connect), "%s@%s", hexid, nn_tcp_listener_addr(hole.l));
  loop_cfg(&c);
  c.connect = conn;
  c.n_connect = 1;
  c.max_outbound = 1;
  c.dl.embargo_base_ms = 1500;
  c.dl.embargo_mean_ms = 500;
  tnode_start(&x, base, 901, &c);
  outw_t w1 = { &x, 1, 0 };
  assert_true(run_until(base, has_peers, &w1, 20000));

  raw_connect(&spy, base, 902, &x);
  assert_true(run_until(base, is_est, &spy, 10000));
  raw_hello(&spy);
  assert_true(run_until(base, got_hello, &spy, 5000));
  assert_int_equal(spy.hello_flags, 0);
  outw_t w2 = { &x, 1, 1 };
  assert_true(run_until(base, has_peers, &w2, 5000));

  uint8_t tx[200];
  nn_hash_t id;
  const char *mode;
  memset(tx, 0xab, sizeof(tx));
  assert_int_equal(nn_node_submit(x.n, tx, sizeof(tx), &id, &mode), NN_OK);
  assert_true(run_until(base, got_stem, &hole, 5000)); /* the stem went to the relay ... */
  assert_int_equal(hole.last_tx_len, sizeof(tx));
  assert_memory_equal(hole.last_tx, tx, sizeof(tx));
  assert_int_equal(spy.stems, 0); /* ... and only to it */

  /* the probe */
  raw_ids(&spy, NN_DLMSG_GETDATA, &id);
  raw_ids(&spy, NN_DLMSG_INV, &id);
  assert_true(run_until(base, got_getdata, &spy, 3000)); /* asked back, as for an unknown id */
  assert_memory_equal(spy.last_id.b, id.b, NN_HASH_LEN);
  assert_int_equal(spy.txs, 0);
  assert_int_equal(spy.invs, 0);
  assert_false(nn_dl_have(nn_node_dl(x.n), &id));

  /* the embargo: X fluffs it, the spy hears of it and fetches it */
  assert_true(run_until(base, got_inv, &spy, 10000));
  assert_memory_equal(spy.last_id.b, id.b, NN_HASH_LEN);
  raw_ids(&spy, NN_DLMSG_GETDATA, &id);
  assert_true(run_until(base, got_tx, &spy, 3000));
  assert_int_equal(spy.last_tx_len, sizeof(tx));
  assert_memory_equal(spy.last_tx, tx, sizeof(tx));
  nn_api_rx_t rx[2];
  uint64_t next;
  assert_int_equal(nn_node_received(x.n, 0, rx, 2, &next), 1);
  assert_string_equal(rx[0].via, "embargo");
  nn_dl_stats_t ds;
  nn_dl_stats(nn_node_dl(x.n), &ds);
  assert_int_equal(ds.embargo_fired, 1);

  raw_free(&spy);
  raw_free(&hole);
  tnode_stop(&x);
  base_drain_free(base);
}

static uint64_t
bad_msgs(tnode_t *t)
{
  nn_node_stats_t st;
  nn_node_stats(t->n, &st);
  return st.bad_msgs;
}

/* Each kind of misbehaviour closes the channel, counts, and lowers the host's standing. */
static void
test_misbehaving_peers(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t x;
  nn_node_cfg_t c;
  memset(&x, 0, sizeof(x));
  loop_cfg(&c);
  c.dl.max_tx_bytes = 1000;
  tnode_start(&x, base, 950, &c);
  static const struct {
    int hello_first;
    const char *hex;
  } cases[] = {
    { 0, "2101020304" },     /* STEM before HELLO */
    { 1, "220000" },         /* INV count 0 */
    { 1, "2f00" },           /* unknown gossip kind */
    { 1, "20010000800000" }, /* a second HELLO */
    { 1, NULL },             /* a TX above max_tx (1000) */
  };
  int32_t standing0 = 0, standing1 = 0;
  nn_addr_t host;
  uint8_t lo[4] = { 127, 0, 0, 1 };
  host = nn_addr_ipv4(lo, 0);
  (void)nn_peerstore_standing(nn_disco_peerstore(nn_node_disco(x.n)), &host, &standing0);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rawpeer_t r;
    raw_connect(&r, base, 960 + (unsigned)i, &x);
    assert_true(run_until(base, is_est, &r, 10000));
    if (cases[i].hello_first) {
      raw_hello(&r);
      assert_true(run_until(base, got_hello, &r, 5000));
    }
    if (cases[i].hex) {
      raw_send(&r, cases[i].hex, NULL, 0);
    } else {
      uint8_t *big = calloc(1, 1002);
      big[0] = NN_DLMSG_TX;
      raw_send(&r, NULL, big, 1002);
      free(big);
    }
    assert_true(run_until(base, is_closed, &r, 5000));
    assert_int_equal(bad_msgs(&x), i + 1);
    raw_free(&r);
  }
  (void)nn_peerstore_standing(nn_disco_peerstore(nn_node_disco(x.n)), &host, &standing1);
  assert_true(standing1 < standing0);
  /* a newer gossip version is no misbehaviour: closed, not penalized */
  {
    rawpeer_t r;
    int32_t standing2 = 0;
    raw_connect(&r, base, 990, &x);
    assert_true(run_until(base, is_est, &r, 10000));
    raw_send(&r, "20090000800000", NULL, 0);
    assert_true(run_until(base, is_closed, &r, 5000));
    nn_node_stats_t st;
    nn_node_stats(x.n, &st);
    assert_int_equal(st.version_mismatch, 1);
    assert_int_equal(st.bad_msgs, sizeof(cases) / sizeof(cases[0]));
    (void)nn_peerstore_standing(nn_disco_peerstore(nn_node_disco(x.n)), &host, &standing2);
    assert_int_equal(standing2, standing1);
    raw_free(&r);
  }
  tnode_stop(&x);
  base_drain_free(base);
}

static int
node_counts(void *arg)
{
  nn_node_stats_t st;
  nn_node_stats(((tnode_t *)arg)->n, &st);
  return st.unsolicited >= 1 && st.stems_dropped >= 2;
}

/* A TX nobody asked for is dropped (the channel stays: a late answer is not an attack), and a
 * peer's STEMs above its rate are dropped. */
static void
test_unsolicited_and_stem_rate(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t x;
  rawpeer_t r;
  nn_node_cfg_t c;
  memset(&x, 0, sizeof(x));
  loop_cfg(&c);
  c.stem_burst = 3;
  c.stem_rate = 0.001;
  tnode_start(&x, base, 975, &c);
  raw_connect(&r, base, 976, &x);
  assert_true(run_until(base, is_est, &r, 10000));
  raw_hello(&r);
  assert_true(run_until(base, got_hello, &r, 5000));
  raw_send(&r, "24706f6f6c2066696c6c6572", NULL, 0); /* TX "pool filler", never announced */
  for (int i = 0; i < 5; i++) {
    uint8_t stem[3] = { NN_DLMSG_STEM, 0x55, (uint8_t)i };
    raw_send(&r, NULL, stem, sizeof(stem));
  }
  assert_true(run_until(base, node_counts, &x, 5000));
  nn_node_stats_t st;
  nn_node_stats(x.n, &st);
  assert_int_equal(st.unsolicited, 1);
  assert_int_equal(st.stems_dropped, 2);
  assert_int_equal(st.bad_msgs, 0);
  assert_false(r.closed);
  uint8_t filler[] = "pool filler";
  nn_hash_t id;
  assert_int_equal(nn_sha3_256(&id, filler, sizeof(filler) - 1), NN_OK);
  assert_false(nn_dl_have(nn_node_dl(x.n), &id));
  raw_free(&r);
  tnode_stop(&x);
  base_drain_free(base);
}

/* One inbound slot: the first HELLO is accepted, the second answered FULL. */
static void
test_inbound_full(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t x;
  rawpeer_t a, b;
  nn_node_cfg_t c;
  memset(&x, 0, sizeof(x));
  loop_cfg(&c);
  c.max_peers = 2;
  c.max_outbound = 1;
  tnode_start(&x, base, 970, &c);
  raw_connect(&a, base, 971, &x);
  raw_connect(&b, base, 972, &x);
  assert_true(run_until(base, is_est, &a, 10000));
  assert_true(run_until(base, is_est, &b, 10000));
  raw_hello(&a);
  assert_true(run_until(base, got_hello, &a, 5000));
  assert_int_equal(a.hello_flags, 0);
  raw_hello(&b);
  assert_true(run_until(base, got_hello, &b, 5000));
  assert_int_equal(b.hello_flags, NN_DLMSG_HELLO_FULL);
  nn_node_stats_t st;
  nn_node_stats(x.n, &st);
  assert_int_equal(st.peers_in, 1);
  assert_int_equal(st.refused_full, 1);
  /* gossip on the refused channel is out of place */
  nn_hash_t id;
  memset(id.b, 1, sizeof(id.b));
  raw_ids(&b, NN_DLMSG_INV, &id);
  assert_true(run_until(base, is_closed, &b, 5000));
  raw_free(&a);
  raw_free(&b);
  tnode_stop(&x);
  base_drain_free(base);
}

/* Outbound slots take one peer per network group: /16 for IPv4, /32 for IPv6, and every
 * loopback or private address (and port) its own group, so a devnet on 127.0.0.1 works. */
static void
test_outbound_groups(void **state)
{
  (void)state;
  static const struct {
    const char *a, *b;
    int same;
  } cases[] = {
    { "198.51.100.1:9800", "198.51.7.7:9800", 1 },   /* one /16 */
    { "198.51.100.1:9800", "198.52.100.1:9800", 0 }, /* two /16s */
    { "[2001:db8:1::1]:9800", "[2001:db8:ffff::9]:1", 1 }, /* one /32 */
    { "[2001:db8::1]:9800", "[2001:db9::1]:9800", 0 },
    { "127.0.0.1:19800", "127.0.0.1:19802", 0 },     /* loopback: per address and port */
    { "127.0.0.1:19800", "127.0.0.1:19800", 1 },
    { "10.1.2.3:9800", "10.1.2.4:9800", 0 },         /* private: per address */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nn_addr_t a, b;
    uint8_t ga[1 + NN_ADDR_HOST_MAX + 2], gb[1 + NN_ADDR_HOST_MAX + 2];
    assert_int_equal(nn_addr_parse(&a, cases[i].a), NN_OK);
    assert_int_equal(nn_addr_parse(&b, cases[i].b), NN_OK);
    size_t la = nn_node_group(&a, ga), lb = nn_node_group(&b, gb);
    int same = la == lb && !memcmp(ga, gb, la);
    if (same != cases[i].same)
      fprintf(stderr, "%s vs %s: same group %d, want %d\n", cases[i].a, cases[i].b, same, cases[i].same);
    assert_int_equal(same, cases[i].same);
  }
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_config),
    cmocka_unit_test(test_broadcast),
    cmocka_unit_test(test_blackhole_probe_embargo),
    cmocka_unit_test(test_misbehaving_peers),
    cmocka_unit_test(test_inbound_full),
    cmocka_unit_test(test_unsolicited_and_stem_rate),
    cmocka_unit_test(test_outbound_groups),
  };
  return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
