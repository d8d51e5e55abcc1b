/*
 * The node (src/node/) without processes: nodes in one event loop, each a connection manager
 * with discovery and gossip as its tenants: a broadcast reaching all, a black-holing stem relay
 * defeated by the embargo, a stempool probe that gets nothing, misbehaving peers closed and
 * penalized, and a full node refusing a HELLO. The gossip codec is test_dlmsg.c, the settings
 * test_config.c. And the embedding API (nn_node_start, nodes on threads of their own).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "dandelion/msg.h"
#include "dht/peerstore.h"
#include "lib/hex.h"
#include "net/net.h"
#include "net/tcp.h"
#include "node/events.h"
#include "node/node.h"
#include "nodeloop.h"
#include "pipe_transport.h"

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
    if (st.gossip.peers_out + st.gossip.peers_in < w->min_out || (i == w->origin && st.gossip.peers_out < 1))
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
    c.gossip.max_outbound = 3;
    if (i) {
      peers[0] = t[0].peer;
      c.disco.peers = peers;
      c.disco.n_peers = 1;
    }
    tnode_start(&t[i], base, 100 + (unsigned)i, &c);
  }
  assert_true(run_until(base, all_have_out, &w, 30000));
  nn_hash_t id;
  nn_error_t err;
  nn_node_status_t ns;
  uint8_t tx[300];
  for (size_t i = 0; i < sizeof(tx); i++)
    tx[i] = (uint8_t)(i * 7);
  assert_int_equal(nn_node_submit(t[5].n, tx, sizeof(tx), id.b, &err), NN_OK);
  assert_int_equal(nn_node_status(t[5].n, &ns), NN_OK);
  assert_string_equal(ns.route, "dandelion");
  /* bad submissions change nothing */
  assert_int_equal(nn_node_submit(t[5].n, tx, 0, id.b, &err), NN_ERR_ARG);
  assert_int_equal(err.code, NN_ERR_ARG);
  assert_true(err.message[0] != 0);
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
    assert_int_equal(nn_node_status(t[i].n, &ns), NN_OK);
    assert_int_equal(ns.tx_received, 1);
  }
  assert_true(fluffers >= 1);
  assert_false(origin_fluffed); /* stems take ms here; the origin's embargo is >= 3 s */
  /* the origin's timeline: submitted, stemmed to a relay (named), seen back from a peer (named):
   * propagated; no other node keeps one for it */
  const nn_owntx_entry_t *e = nn_node_own(t[5].n) ? nn_owntx_find(nn_node_own(t[5].n), &id) : NULL;
  assert_non_null(e);
  assert_string_equal(nn_owntx_state_str(e->state), "propagated");
  assert_string_equal(e->route, "dandelion");
  int stem = 0, back = 0;
  for (size_t k = 0; k < e->nsteps; k++) {
    stem |= !strcmp(e->steps[k].what, "stem") && strlen(e->steps[k].peer) == 64;
    back |= !strcmp(e->steps[k].what, "seen-back") && strlen(e->steps[k].peer) == 64;
  }
  assert_true(stem && back);
  assert_string_equal(e->steps[0].what, "submitted");
  for (size_t i = 0; i < 8; i++)
    if (i != 5)
      assert_null(nn_owntx_find(nn_node_own(t[i].n), &id));
  /* the same steps as events (GET /v1/events), with the peers that came up and the epoch; the
   * other nodes have no own-tx event */
  char hid[65], *want[] = { "\"what\":\"submitted\"", "\"what\":\"stem\"", "\"what\":\"seen-back\"" };
  nn_hex_encode(hid, id.b, NN_HASH_LEN);
  for (size_t i = 0; i < 8; i++) {
    nn_events_line_t l[256];
    uint64_t next;
    size_t n = nn_events_get(nn_node_events(t[i].n), 1, l, 256, &next), found = 0, up = 0, epoch = 0, own = 0;
    for (size_t k = 0; k < n; k++) {
      up += strstr(l[k].line, "\"type\":\"peer-up\"") != NULL;
      epoch += strstr(l[k].line, "\"type\":\"epoch\"") != NULL;
      own += strstr(l[k].line, "\"type\":\"own-tx\"") != NULL;
      if (strstr(l[k].line, hid) && found < 3 && strstr(l[k].line, want[found]))
        found++;
    }
    assert_true(up >= 1);
    assert_true(epoch >= 1);
    if (i == 5)
      assert_int_equal(found, 3); /* in this order */
    else
      assert_int_equal(own, 0);
  }
  for (size_t i = 0; i < 8; i++)
    tnode_stop(&t[i]);
  base_drain_free(base);
}

/* ---- raw peers: a black hole, a spy, misbehaving peers ---- */

typedef struct rawpeer_t {
  nn_identity_t *id;
  nn_net_t *net;  /* its own connection manager, one tenant for every kind */
  nn_addr_t addr; /* where it listens (raw_listen) */
  uint64_t c;
  int established, closed, hello_flags, hellos;
  uint8_t last_kind;
  size_t stems, invs, getdatas, txs;
  nn_hash_t last_id;
  uint8_t *last_tx;
  size_t last_tx_len;
  int answer_hello;
  uint8_t answer_flags; /* the flags of that answer (NN_DLMSG_HELLO_FULL: no room) */
  int accepted;         /* channels that came up */
  size_t anon_stems;    /* STEMs that came on a channel whose dialler did not identify itself */
} rawpeer_t;

static void
raw_est(void *ctx, uint64_t c, const nn_net_conn_info_t *info)
{
  rawpeer_t *r = ctx;
  (void)info;
  r->c = c;
  r->established = 1;
  r->accepted++;
}

static void
raw_msg(void *ctx, uint64_t c, const uint8_t *msg, size_t len)
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
      nn_dlmsg_hello(h, r->answer_flags, 1u << 20);
      (void)nn_net_send(r->net, c, h, sizeof(h));
    }
    break;
  case NN_DLMSG_STEM:
  case NN_DLMSG_TX:
    if (m.kind == NN_DLMSG_STEM) {
      nn_net_conn_info_t ci;
      r->stems++;
      if (nn_net_conn_info(r->net, c, &ci) && !ci.has_id)
        r->anon_stems++;
    } else
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
raw_closed(void *ctx, uint64_t c, const nn_net_conn_info_t *info)
{
  rawpeer_t *r = ctx;
  (void)info;
  if (r->c == c)
    r->c = 0;
  r->closed = 1;
}

static int
raw_net(rawpeer_t *r, struct event_base *base, unsigned seed)
{
  nn_net_cfg_t cfg;
  nn_transport_t *t;
  int h;
  memset(r, 0, sizeof(*r));
  r->id = ident(seed);
  nn_net_cfg_default(&cfg);
  cfg.identity = r->id;
  cfg.network = NN_NET_REGTEST;
  loop_limits(&cfg.limits);
  cfg.linger_ms = 200;
  assert_int_equal(nn_net_new(&r->net, base, &cfg), NN_OK);
  assert_int_equal(nn_tcp_transport_new(&t, base, NULL), NN_OK);
  assert_int_equal(nn_net_add_transport(r->net, t), NN_OK);
  nn_net_proto_t p = { "raw", 0x00, 0xff, raw_est, raw_msg, raw_closed, r, NULL };
  assert_int_equal(nn_net_register(r->net, &p, &h), NN_OK);
  return h;
}

static void
raw_listen(rawpeer_t *r, struct event_base *base, unsigned seed)
{
  raw_net(r, base, seed);
  r->answer_hello = 1;
  assert_int_equal(nn_net_listen(r->net, "tcp", "127.0.0.1:0", &r->addr, NULL, 0), NN_OK);
}

static void
raw_connect(rawpeer_t *r, struct event_base *base, unsigned seed, const tnode_t *to)
{
  const char *at = strchr(to->peer, '@');
  nn_addr_t a;
  int h = raw_net(r, base, seed);
  assert_non_null(at);
  assert_int_equal(nn_addr_parse(&a, at + 1), NN_OK);
  assert_int_equal(nn_net_dial(r->net, h, &a, NULL, &r->c), NN_OK);
}

static void
raw_free(rawpeer_t *r)
{
  nn_net_free(r->net);
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
  assert_true(r->c != 0);
  assert_int_equal(nn_net_send(r->net, r->c, b, n), NN_OK);
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

static int
is_est(void *a)
{
  return ((rawpeer_t *)a)->established;
}
static int
is_closed(void *a)
{
  return ((rawpeer_t *)a)->closed;
}
static int
got_hello(void *a)
{
  return ((rawpeer_t *)a)->hellos > 0;
}
static int
got_stem(void *a)
{
  return ((rawpeer_t *)a)->stems > 0;
}
static int
got_getdata(void *a)
{
  return ((rawpeer_t *)a)->getdatas > 0;
}
static int
got_inv(void *a)
{
  return ((rawpeer_t *)a)->invs > 0;
}
static int
got_tx(void *a)
{
  return ((rawpeer_t *)a)->txs > 0;
}

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
  return st.gossip.peers_out >= w->out && st.gossip.peers_in >= w->in;
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
  char connect[300], hexid[65], ha[NN_ADDR_STR_MAX];
  const char *conn[1] = { connect };
  nn_node_cfg_t c;
  memset(&x, 0, sizeof(x));
  raw_listen(&hole, base, 900);
  nn_hex_encode(hexid, nn_identity_node_id(hole.id)->b, NN_NODE_ID_LEN);
  nn_addr_format(&hole.addr, ha);
  snprintf(connect, sizeof(connect), "%s@%s", hexid, ha);
  loop_cfg(&c);
  c.gossip.connect = conn;
  c.gossip.n_connect = 1;
  c.gossip.max_outbound = 1;
  c.gossip.dl.embargo_base_ms = 1500;
  c.gossip.dl.embargo_mean_ms = 500;
  tnode_start(&x, base, 901, &c);
  outw_t w1 = { &x, 1, 0 };
  assert_true(run_until(base, has_peers, &w1, 20000));

  raw_connect(&spy, base, 902, &x);
  assert_true(run_until(base, is_est, &spy, 10000));
  raw_hello(&spy);
  assert_true(run_until(base, got_hello, &spy, 5000));
  assert_int_equal(spy.hello_flags & NN_DLMSG_HELLO_FULL, 0);
  outw_t w2 = { &x, 1, 1 };
  assert_true(run_until(base, has_peers, &w2, 5000));

  uint8_t tx[200];
  nn_hash_t id;
  memset(tx, 0xab, sizeof(tx));
  assert_int_equal(nn_node_submit(x.n, tx, sizeof(tx), id.b, NULL), NN_OK);
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
  /* X's timeline says so: stemmed to the hole, then the embargo fired */
  const nn_owntx_entry_t *e = nn_owntx_find(nn_node_own(x.n), &id);
  assert_non_null(e);
  assert_string_equal(nn_owntx_state_str(e->state), "embargoed");
  assert_string_equal(e->steps[1].what, "stem");
  assert_string_equal(e->steps[e->nsteps - 1].what, "embargo-fired");

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
  return st.gossip.bad_msgs;
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
  c.gossip.dl.max_tx_bytes = 1000;
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
    /* held against the peer's node id, not against its host (its neighbours) */
    int32_t ns = 0;
    (void)nn_peerstore_node_standing(nn_disco_peerstore(nn_node_disco(x.n)), nn_identity_node_id(r.id), &ns);
    assert_true(ns < 0);
    raw_free(&r);
  }
  (void)nn_peerstore_standing(nn_disco_peerstore(nn_node_disco(x.n)), &host, &standing1);
  assert_int_equal(standing1, standing0);
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
    assert_int_equal(st.gossip.version_mismatch, 1);
    assert_int_equal(st.gossip.bad_msgs, sizeof(cases) / sizeof(cases[0]));
    (void)nn_peerstore_node_standing(nn_disco_peerstore(nn_node_disco(x.n)), nn_identity_node_id(r.id), &standing2);
    assert_int_equal(standing2, 0);
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
  return st.gossip.unsolicited >= 1 && st.gossip.stems_dropped >= 2;
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
  c.gossip.stem_burst = 3;
  c.gossip.stem_rate = 0.001;
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
  assert_int_equal(st.gossip.unsolicited, 1);
  assert_int_equal(st.gossip.stems_dropped, 2);
  assert_int_equal(st.gossip.bad_msgs, 0);
  assert_false(r.closed);
  uint8_t filler[] = "pool filler";
  nn_hash_t id;
  assert_int_equal(nn_sha3_256(&id, filler, sizeof(filler) - 1), NN_OK);
  assert_false(nn_dl_have(nn_node_dl(x.n), &id));
  raw_free(&r);
  tnode_stop(&x);
  base_drain_free(base);
}

/* STEMs are limited per host and per network group too (issue 10, item 8): the keys the buckets
 * are shared by. Public hosts by address whatever the port, one /16 a group; loopback hosts by
 * address and port (a devnet). */
static void
test_stem_rate_keys(void **state)
{
  (void)state;
  uint8_t k1[NN_GOSSIP_STEM_KEY_MAX], k2[NN_GOSSIP_STEM_KEY_MAX];
  nn_addr_t a, b;
  size_t n1, n2;
#define SAME(x, y, grp, want)                                                                                          \
  do {                                                                                                                 \
    assert_int_equal(nn_addr_parse(&a, x), NN_OK);                                                                     \
    assert_int_equal(nn_addr_parse(&b, y), NN_OK);                                                                     \
    n1 = nn_gossip_stem_key(&a, grp, k1);                                                                              \
    n2 = nn_gossip_stem_key(&b, grp, k2);                                                                              \
    assert_int_equal(n1 == n2 && !memcmp(k1, k2, n1), want);                                                           \
  } while (0)
  SAME("198.51.100.7:1000", "198.51.100.7:2000", 0, 1); /* one host, two channels */
  SAME("198.51.100.7:1000", "198.51.100.8:1000", 0, 0);
  SAME("198.51.100.7:1000", "198.51.7.8:1000", 1, 1); /* one /16 */
  SAME("198.51.100.7:1000", "198.52.100.7:1000", 1, 0);
  SAME("[2001:db8:1:2::1]:9800", "[2001:db8:1:2::99]:1", 0, 1); /* one /64 */
  SAME("127.0.0.1:9800", "127.0.0.1:9802", 0, 0);               /* devnet nodes */
#undef SAME
  /* a host's key is never a group's */
  assert_int_equal(nn_addr_parse(&a, "127.0.0.1:9800"), NN_OK);
  n1 = nn_gossip_stem_key(&a, 0, k1);
  n2 = nn_gossip_stem_key(&a, 1, k2);
  assert_false(n1 == n2 && !memcmp(k1, k2, n1));
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
  c.gossip.max_peers = 2;
  c.gossip.max_outbound = 1;
  tnode_start(&x, base, 970, &c);
  raw_connect(&a, base, 971, &x);
  raw_connect(&b, base, 972, &x);
  assert_true(run_until(base, is_est, &a, 10000));
  assert_true(run_until(base, is_est, &b, 10000));
  raw_hello(&a);
  assert_true(run_until(base, got_hello, &a, 5000));
  assert_int_equal(a.hello_flags & NN_DLMSG_HELLO_FULL, 0);
  raw_hello(&b);
  assert_true(run_until(base, got_hello, &b, 5000));
  assert_int_equal(b.hello_flags & NN_DLMSG_HELLO_FULL, NN_DLMSG_HELLO_FULL);
  nn_node_stats_t st;
  nn_node_stats(x.n, &st);
  assert_int_equal(st.gossip.peers_in, 1);
  assert_int_equal(st.gossip.refused_full, 1);
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

static int
one_inbound(void *arg)
{
  nn_node_stats_t st;
  nn_node_stats(((tnode_t *)arg)->n, &st);
  return st.gossip.peers_in == 1;
}

static int
boot_failed(void *arg)
{
  nn_disco_stats_t st;
  nn_disco_stats(nn_node_disco(((tnode_t *)arg)->n), &st);
  return st.boot_retries >= 1;
}

static int
bootstrapped(void *arg)
{
  nn_disco_stats_t st;
  nn_disco_stats(nn_node_disco(((tnode_t *)arg)->n), &st);
  return st.bootstrapped && st.table_size >= 1;
}

/* What SIGHUP changes while the node runs (nn_node_reload): a lowered peer cap closes the
 * youngest peer above it at once; a setting with an error changes nothing; new seeds reach a
 * node waiting a minute to retry its bootstrap at once. */
static void
test_reload(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t x, y;
  rawpeer_t a, b;
  nn_node_cfg_t c;
  nn_node_settings_t s;
  char why[256];
  memset(&x, 0, sizeof(x));
  memset(&y, 0, sizeof(y));
  loop_cfg(&c);
  c.gossip.max_peers = 4;
  c.gossip.max_outbound = 1;
  tnode_start(&x, base, 990, &c);
  raw_connect(&a, base, 991, &x);
  assert_true(run_until(base, is_est, &a, 10000));
  raw_hello(&a);
  assert_true(run_until(base, got_hello, &a, 5000));
  raw_connect(&b, base, 992, &x);
  assert_true(run_until(base, is_est, &b, 10000));
  raw_hello(&b);
  assert_true(run_until(base, got_hello, &b, 5000));
  assert_int_equal(a.hello_flags & NN_DLMSG_HELLO_FULL, 0);
  assert_int_equal(b.hello_flags & NN_DLMSG_HELLO_FULL, 0);
  nn_node_settings_default(&s);
  s.allow_private = 1;
  s.max_peers = 2; /* one inbound slot: b, the younger, goes */
  s.max_outbound = 1;
  assert_int_equal(nn_node_reload(x.n, &s, why, sizeof(why)), NN_OK);
  assert_true(run_until(base, is_closed, &b, 5000));
  assert_true(run_until(base, one_inbound, &x, 5000));
  assert_false(a.closed);
  /* errors: named, and nothing changes (max-peers stays 2, so a third peer is refused) */
  s.max_peers = 8;
  s.max_outbound = 9;
  assert_int_equal(nn_node_reload(x.n, &s, why, sizeof(why)), NN_ERR_ARG);
  assert_non_null(strstr(why, "max-outbound"));
  const char *bad[] = { "not-a-peer" };
  s.max_outbound = 1;
  s.peers = bad;
  s.n_peers = 1;
  why[0] = 0;
  assert_int_equal(nn_node_reload(x.n, &s, why, sizeof(why)), NN_ERR_FORMAT);
  assert_non_null(strstr(why, "not-a-peer"));
  rawpeer_t d;
  raw_connect(&d, base, 993, &x);
  assert_true(run_until(base, is_est, &d, 10000));
  raw_hello(&d);
  assert_true(run_until(base, got_hello, &d, 5000));
  assert_int_equal(d.hello_flags & NN_DLMSG_HELLO_FULL, NN_DLMSG_HELLO_FULL);
  /* seeds: y's only seed answers nobody, and its next round is a minute away */
  loop_cfg(&c);
  const char *nobody[] = { "127.0.0.1:1" };
  c.disco.peers = nobody;
  c.disco.n_peers = 1;
  c.disco.boot_retry_min_ms = c.disco.boot_retry_max_ms = 60000;
  tnode_start(&y, base, 994, &c);
  assert_true(run_until(base, boot_failed, &y, 10000));
  assert_false(bootstrapped(&y));
  const char *xs[] = { x.peer };
  nn_node_settings_default(&s);
  s.allow_private = 1;
  s.peers = xs;
  s.n_peers = 1;
  assert_int_equal(nn_node_reload(y.n, &s, why, sizeof(why)), NN_OK);
  assert_true(run_until(base, bootstrapped, &y, 10000));
  raw_free(&a);
  raw_free(&b);
  raw_free(&d);
  tnode_stop(&y);
  tnode_stop(&x);
  base_drain_free(base);
}

static int got_hello(void *a);

/* A peer that answered our HELLO with FULL gets no second HELLO on that channel (PROTOCOL.md
 * 8.1 makes it a violation) and no second channel while that one is open, however often the
 * backoff lets the dialler try again. */
static void
test_full_not_asked_again(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  rawpeer_t full;
  tnode_t x;
  char connect[300], hexid[65], ha[NN_ADDR_STR_MAX];
  const char *conn[1] = { connect };
  nn_node_cfg_t c;
  memset(&x, 0, sizeof(x));
  raw_listen(&full, base, 995);
  full.answer_flags = NN_DLMSG_HELLO_FULL;
  nn_hex_encode(hexid, nn_identity_node_id(full.id)->b, NN_NODE_ID_LEN);
  nn_addr_format(&full.addr, ha);
  snprintf(connect, sizeof(connect), "%s@%s", hexid, ha);
  loop_cfg(&c);
  c.gossip.connect = conn;
  c.gossip.n_connect = 1;
  c.gossip.max_outbound = 1;
  tnode_start(&x, base, 996, &c);
  assert_true(run_until(base, got_hello, &full, 10000));
  /* a few seconds: the backoff (200 ms, doubling) lets x try many times */
  struct timeval tv = { 4, 0 };
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
  assert_int_equal(full.hellos, 1);
  assert_int_equal(full.accepted, 1);
  assert_false(full.closed);
  nn_node_stats_t st;
  nn_node_stats(x.n, &st);
  assert_int_equal(st.gossip.refused_full, 1);
  raw_free(&full);
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
    { "198.51.100.1:9800", "198.51.7.7:9800", 1 },         /* one /16 */
    { "198.51.100.1:9800", "198.52.100.1:9800", 0 },       /* two /16s */
    { "[2001:db8:1::1]:9800", "[2001:db8:ffff::9]:1", 1 }, /* one /32 */
    { "[2001:db8::1]:9800", "[2001:db9::1]:9800", 0 },
    { "127.0.0.1:19800", "127.0.0.1:19802", 0 }, /* loopback: per address and port */
    { "127.0.0.1:19800", "127.0.0.1:19800", 1 },
    { "10.1.2.3:9800", "10.1.2.4:9800", 0 }, /* private: per address */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nn_addr_t a, b;
    uint8_t ga[1 + NN_ADDR_HOST_MAX + 2], gb[1 + NN_ADDR_HOST_MAX + 2];
    assert_int_equal(nn_addr_parse(&a, cases[i].a), NN_OK);
    assert_int_equal(nn_addr_parse(&b, cases[i].b), NN_OK);
    size_t la = nn_gossip_group(&a, ga), lb = nn_gossip_group(&b, gb);
    int same = la == lb && !memcmp(ga, gb, la);
    if (same != cases[i].same)
      fprintf(stderr, "%s vs %s: same group %d, want %d\n", cases[i].a, cases[i].b, same, cases[i].same);
    assert_int_equal(same, cases[i].same);
  }
}

/* ---- the embedding API (nepnet/node.h), nodes on threads of their own ---- */

typedef struct embed_rx_t {
  pthread_mutex_t mu;
  nn_node_t *node; /* set after start; read under mu by the callback */
  nn_hash_t id;
  int seen;      /* the transaction with id entered this node's mempool */
  int status_ok; /* nn_node_status from inside the callback worked */
} embed_rx_t;

static void
embed_on_tx(void *ctx, const nn_node_tx_t *tx)
{
  embed_rx_t *r = ctx;
  nn_node_status_t st;
  pthread_mutex_lock(&r->mu);
  if (!memcmp(tx->id, r->id.b, NN_HASH_LEN)) {
    r->seen = 1;
    /* a callback may ask its own node: this runs directly, on the node's thread */
    r->status_ok = r->node && nn_node_status(r->node, &st) == NN_OK && st.tx_received >= 1;
  }
  pthread_mutex_unlock(&r->mu);
}

static int
embed_seen(embed_rx_t *r, int *status_ok)
{
  pthread_mutex_lock(&r->mu);
  int s = r->seen;
  *status_ok = r->status_ok;
  pthread_mutex_unlock(&r->mu);
  return s;
}

static void
sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static void
rm_datadir(const char *dir)
{
  static const char *const files[] = { "identity.key", "peers.sqlite", "peers.sqlite-wal", "peers.sqlite-shm" };
  char p[128];
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
    (void)unlink(p);
  }
  (void)rmdir(dir);
}

/* Two nodes made by nn_node_start on threads of their own, driven from this thread: B joins
 * through A, submits, A's on_tx sees it (and can call nn_node_status from the callback). The
 * strings and lists of the settings are the caller's to free once nn_node_start returns: here
 * they are scribbled over and freed at once, including a preset label of our own, which status
 * must still show. */
static void
test_embed_own_thread(void **state)
{
  (void)state;
  char dir[2][64];
  nn_node_t *n[2] = { NULL, NULL };
  embed_rx_t rx[2];
  nn_node_status_t st;
  nn_error_t err;
  char a_peer[256] = "";
  for (int i = 0; i < 2; i++) {
    memset(&rx[i], 0, sizeof(rx[i]));
    pthread_mutex_init(&rx[i].mu, NULL);
    snprintf(dir[i], sizeof(dir[i]), "/tmp/nn-embed-XXXXXX");
    assert_non_null(mkdtemp(dir[i]));
  }
  for (int i = 0; i < 2; i++) {
    nn_node_settings_t s;
    nn_node_settings_default(&s);
    assert_int_equal(nn_node_settings_preset(&s, "fast"), NN_OK);
    char *label = strdup(i ? "embedder-b" : "embedder-a");
    char *listen = strdup("127.0.0.1:0");
    char *datadir = strdup(dir[i]);
    char *peer = strdup(a_peer);
    const char **peers = malloc(sizeof(*peers));
    assert_true(label && listen && datadir && peer && peers);
    peers[0] = peer;
    s.datadir = datadir;
    s.network = NN_NET_REGTEST;
    s.allow_private = 1;
    s.listen = listen;
    s.preset = label; /* a label of ours: shown in status */
    s.peers = i ? peers : NULL;
    s.n_peers = i ? 1 : 0;
    s.embargo_base_ms = 200;
    s.embargo_mean_ms = 200;
    s.on_tx = embed_on_tx;
    s.on_log = quiet_log;
    s.ctx = &rx[i];
    nn_err_t e = nn_node_start(&n[i], &s, NULL, &err);
    if (e)
      fprintf(stderr, "nn_node_start: %s\n", err.message);
    assert_int_equal(e, NN_OK);
    char *mine[] = { label, listen, datadir, peer };
    for (size_t k = 0; k < 4; k++) {
      memset(mine[k], 'X', strlen(mine[k]));
      free(mine[k]);
    }
    peers[0] = "garbage";
    free(peers);
    pthread_mutex_lock(&rx[i].mu);
    rx[i].node = n[i];
    pthread_mutex_unlock(&rx[i].mu);
    if (!i) {
      assert_int_equal(nn_node_status(n[0], &st), NN_OK);
      snprintf(a_peer, sizeof(a_peer), "%s", st.peer);
      assert_true(strchr(a_peer, '@') != NULL);
    }
  }
  assert_int_equal(nn_node_status(n[0], &st), NN_OK);
  assert_string_equal(st.preset, "embedder-a");
  assert_string_equal(st.network, "regtest");
  /* B joins through A (which of the two dials the other for gossip is a race) */
  int i;
  for (i = 0; i < 600; i++) {
    assert_int_equal(nn_node_status(n[1], &st), NN_OK);
    if (st.peers_out + st.peers_in >= 1)
      break;
    sleep_ms(50);
  }
  assert_int_equal(st.peers_out + st.peers_in, 1);
  assert_string_equal(st.preset, "embedder-b");
  nn_node_peer_t peers[4];
  assert_int_equal(nn_node_peers(n[1], peers, 4), 1);
  assert_int_equal(peers[0].outbound, (int)st.peers_out);
  /* B submits; A receives it */
  uint8_t tx[500];
  for (size_t k = 0; k < sizeof(tx); k++)
    tx[k] = (uint8_t)(k * 13 + 1);
  assert_int_equal(nn_sha3_256(&rx[0].id, tx, sizeof(tx)), NN_OK);
  rx[1].id = rx[0].id;
  uint8_t id[32];
  assert_int_equal(nn_node_submit(n[1], tx, sizeof(tx), id, &err), NN_OK);
  assert_memory_equal(id, rx[0].id.b, 32);
  assert_int_equal(nn_node_status(n[1], &st), NN_OK);
  assert_int_equal(st.tx_submitted, 1);
  int status_ok = 0;
  for (i = 0; i < 600 && !embed_seen(&rx[0], &status_ok); i++)
    sleep_ms(50);
  assert_true(embed_seen(&rx[0], &status_ok));
  assert_true(status_ok);
  for (int k = 0; k < 2; k++) {
    nn_node_stop(n[k]);
    pthread_mutex_destroy(&rx[k].mu);
    rm_datadir(dir[k]);
  }
}

/* tx-proxy: X's own transaction goes to no clearnet peer. X has a TCP peer (a spy) and knows a
 * peer at an onion address, which it cannot reach until it gets a "tor" transport (a pipe
 * named so). The transaction waits; once the onion peer is up, it goes there as a STEM, and the
 * TCP spy never sees it. */
#define TXP_ONION "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:9800"

typedef struct txp_t {
  tnode_t *x;
  rawpeer_t *tor;
} txp_t;

static int
txp_waiting(void *arg)
{
  nn_node_stats_t st;
  nn_node_stats(((txp_t *)arg)->x->n, &st);
  return st.gossip.own_waiting == 1;
}

static void
test_tx_proxy(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  pipe_wire_t *wire = pipe_wire_new(base);
  rawpeer_t spy, onion;
  tnode_t x;
  nn_node_cfg_t c;
  char spy_peer[256], onion_peer[256], hx[65];
  const char *connect[2] = { spy_peer, onion_peer };
  nn_addr_t bound;
  int h;
  raw_listen(&spy, base, 71);
  h = raw_net(&onion, base, 72);
  (void)h;
  onion.answer_hello = 1;
  assert_int_equal(nn_net_add_transport(onion.net, pipe_transport_new(wire, "tor", NN_ADDR_ONION)), NN_OK);
  assert_int_equal(nn_net_listen(onion.net, "tor", TXP_ONION, &bound, NULL, 0), NN_OK);
  char a[NN_ADDR_STR_MAX];
  nn_addr_format(&spy.addr, a);
  nn_hex_encode(hx, nn_identity_node_id(spy.id)->b, NN_NODE_ID_LEN);
  snprintf(spy_peer, sizeof(spy_peer), "%s@%s", hx, a);
  nn_hex_encode(hx, nn_identity_node_id(onion.id)->b, NN_NODE_ID_LEN);
  snprintf(onion_peer, sizeof(onion_peer), "%s@%s", hx, TXP_ONION);
  loop_cfg(&c);
  c.gossip.tx_proxy = 1;
  c.gossip.connect = connect;
  c.gossip.n_connect = 2;
  c.gossip.max_outbound = 2;
  tnode_start(&x, base, 70, &c);
  txp_t w = { &x, &onion };
  outw_t ow = { &x, 1, 0 };
  assert_true(run_until(base, has_peers, &ow, 10000)); /* the TCP spy */
  uint8_t tx[500];
  memset(tx, 0x5a, sizeof(tx));
  nn_hash_t id;
  assert_int_equal(nn_node_submit_here(x.n, tx, sizeof(tx), &id), NN_OK);
  assert_true(run_until(base, txp_waiting, &w, 5000));
  assert_false(run_until(base, got_stem, &spy, 1500)); /* held, not leaked: nothing in 1.5 s */
  assert_int_equal(spy.stems + spy.txs + spy.invs, 0);
  /* a way to onion addresses: the onion peer is dialled, and our transaction goes there */
  assert_int_equal(nn_net_add_transport(nn_node_net(x.n), pipe_transport_new(wire, "tor", NN_ADDR_ONION)), NN_OK);
  assert_true(run_until(base, got_stem, &onion, 10000));
  assert_int_equal(onion.last_tx_len, sizeof(tx));
  assert_memory_equal(onion.last_tx, tx, sizeof(tx));
  nn_node_stats_t st;
  nn_node_stats(x.n, &st);
  assert_int_equal(st.gossip.own_waiting, 0);
  assert_int_equal(st.gossip.own_held, 1); /* sent; not seen back: the onion peer keeps it */
  assert_true(st.gossip.own_sent >= 1);
  run_until(base, got_stem, &spy, 300);
  assert_int_equal(spy.stems + spy.txs + spy.invs, 0);
  /* a second submission of the same transaction is the same one, not a second copy */
  assert_int_equal(nn_node_submit_here(x.n, tx, sizeof(tx), &id), NN_OK);
  nn_node_stats(x.n, &st);
  assert_int_equal(st.gossip.own_held, 1);
  tnode_stop(&x);
  raw_free(&spy);
  raw_free(&onion);
  pipe_wire_free(wire);
  base_drain_free(base);
}

/* Private broadcast: X's own transaction goes to its two onion peers, each over a channel of
 * its own that X dials anonymously for it and closes after the STEM; X's gossip channels with
 * them, which identify X, carry nothing of it. */
static int
pb_both(void *arg)
{
  rawpeer_t *r = arg;
  return r[0].anon_stems > 0 && r[1].anon_stems > 0;
}

static void
test_private_broadcast(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  pipe_wire_t *wire = pipe_wire_new(base);
  rawpeer_t on[2];
  tnode_t x;
  nn_node_cfg_t c;
  char peer[2][256], hx[65], a[NN_ADDR_STR_MAX];
  const char *connect[2] = { peer[0], peer[1] };
  for (int i = 0; i < 2; i++) {
    uint8_t key[32];
    memset(key, 0x31 + i, sizeof(key));
    nn_addr_t oa = nn_addr_overlay(NN_ADDR_ONION, key, 9800);
    nn_addr_format(&oa, a);
    (void)raw_net(&on[i], base, 81 + (unsigned)i);
    on[i].answer_hello = 1;
    nn_transport_t *t = pipe_transport_new(wire, "tor", NN_ADDR_ONION);
    t->overlay = 1;
    assert_int_equal(nn_net_add_transport(on[i].net, t), NN_OK);
    assert_int_equal(nn_net_listen(on[i].net, "tor", a, NULL, NULL, 0), NN_OK);
    nn_hex_encode(hx, nn_identity_node_id(on[i].id)->b, NN_NODE_ID_LEN);
    snprintf(peer[i], sizeof(peer[i]), "%s@%s", hx, a);
  }
  loop_cfg(&c);
  c.gossip.tx_proxy = 1;
  c.gossip.private_broadcast = 2;
  c.gossip.connect = connect;
  c.gossip.n_connect = 2;
  c.gossip.max_outbound = 2;
  tnode_start(&x, base, 80, &c);
  nn_transport_t *xt = pipe_transport_new(wire, "tor", NN_ADDR_ONION);
  xt->overlay = 1;
  assert_int_equal(nn_net_add_transport(nn_node_net(x.n), xt), NN_OK);
  outw_t ow = { &x, 2, 0 };
  assert_true(run_until(base, has_peers, &ow, 10000));
  uint8_t tx[700];
  memset(tx, 0x6b, sizeof(tx));
  nn_hash_t id;
  assert_int_equal(nn_node_submit_here(x.n, tx, sizeof(tx), &id), NN_OK);
  assert_true(run_until(base, pb_both, on, 10000));
  for (int i = 0; i < 2; i++) {
    assert_int_equal(on[i].stems, on[i].anon_stems); /* none on the identified gossip channels */
    assert_int_equal(on[i].last_tx_len, sizeof(tx));
    assert_memory_equal(on[i].last_tx, tx, sizeof(tx));
  }
  nn_node_stats_t st;
  nn_node_stats(x.n, &st);
  assert_true(st.gossip.pb_dialled >= 2); /* 2, and 2 more if a loaded machine reached the resend */
  assert_true(st.gossip.pb_sent >= 2);
  tnode_stop(&x);
  raw_free(&on[0]);
  raw_free(&on[1]);
  pipe_wire_free(wire);
  base_drain_free(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_broadcast),
    cmocka_unit_test(test_blackhole_probe_embargo),
    cmocka_unit_test(test_misbehaving_peers),
    cmocka_unit_test(test_inbound_full),
    cmocka_unit_test(test_reload),
    cmocka_unit_test(test_full_not_asked_again),
    cmocka_unit_test(test_unsolicited_and_stem_rate),
    cmocka_unit_test(test_stem_rate_keys),
    cmocka_unit_test(test_outbound_groups),
    cmocka_unit_test(test_embed_own_thread),
    cmocka_unit_test(test_tx_proxy),
    cmocka_unit_test(test_private_broadcast),
  };
  return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
