/*
 * The mixnet in nodes (src/node/mixnode.c), in one event loop: descriptors flooded until every
 * node holds the same view, a client's loops coming home, a transaction sent through three
 * layers of mixes reaching every node, mix keys that survive a restart, and a peer that sends
 * mixnet messages out of place or malformed.
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

#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "lib/clock.h"
#include "crypto/sym.h"
#include "mixnet/msg.h"
#include "mixnet/sphinx.h"
#include "net/tcp.h"
#include "nodeloop.h"

#define NMIX 6
#define NNODES (NMIX + 3) /* the mixes, a client, two nodes that only gossip */
#define CLIENT NMIX

typedef struct world_t {
  tnode_t t[NNODES];
  size_t n;
  uint32_t epoch;
} world_t;

static nn_mixnode_stats_t
mstats(tnode_t *t)
{
  nn_mixnode_stats_t st;
  nn_mixnode_stats(nn_node_mixnode(t->n), &st);
  return st;
}

static int
views_full(void *arg)
{
  world_t *w = arg;
  for (size_t i = 0; i < w->n; i++)
    if (mstats(&w->t[i]).view != NMIX)
      return 0;
  return 1;
}

static int
loops_home(void *arg)
{
  world_t *w = arg;
  return mstats(&w->t[CLIENT]).client.loops_back >= 3;
}

static int
all_received(void *arg)
{
  world_t *w = arg;
  for (size_t i = 0; i < w->n; i++) {
    nn_node_stats_t st;
    nn_node_stats(w->t[i].n, &st);
    if (st.tx_received < 1)
      return 0;
  }
  return 1;
}

static void
world_start(world_t *w, struct event_base *base, nn_route_t route)
{
  memset(w, 0, sizeof(*w));
  w->n = NNODES;
  w->epoch = (uint32_t)(nn_unix_ms() / 3600000);
  for (size_t i = 0; i < NNODES; i++) {
    nn_node_cfg_t c;
    const char *peers[1];
    loop_cfg(&c);
    c.gossip.max_outbound = 3;
    c.mix.sync_interval_ms = 1000;
    if (i) {
      peers[0] = w->t[0].peer;
      c.disco.peers = peers;
      c.disco.n_peers = 1;
    }
    if (i < NMIX) {
      c.mix.mix = 1;
      c.mix.workers = i % 2 ? 2 : 0; /* half the mixes decrypt on worker threads */
    }
    if (i == CLIENT) {
      assert_int_equal(nn_mixnode_cover_preset(&c.mix, "constant"), NN_OK);
      c.mix.client.payload_rate = 40; /* fast, for a test */
      c.mix.client.loop_rate = 10;
      c.mix.client.mean_delay_ms = 5;
      c.gossip.dl.route = route;
    }
    tnode_start(&w->t[i], base, 300 + (unsigned)i, &c);
  }
}

static void
world_stop(world_t *w)
{
  for (size_t i = 0; i < w->n; i++)
    tnode_stop(&w->t[i]);
}

/* Every node learns every mix's descriptor; the client's loops come back through three layers;
 * a 100 KB transaction sent through the mixnet reaches every node, first from its exit. */
static void
test_tx_through_mixnet(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  world_t *w = calloc(1, sizeof(*w));
  world_start(w, base, NN_ROUTE_MIXNET);
  if (!run_until(base, views_full, w, 60000)) {
    for (size_t i = 0; i < w->n; i++) {
      nn_mixnode_stats_t st = mstats(&w->t[i]);
      fprintf(stderr, "node %zu: mixnet peers %zu view %zu published %llu desc in %llu unasked %llu bad %llu\n", i,
              st.peers, st.view, (unsigned long long)st.published, (unsigned long long)st.desc_in,
              (unsigned long long)st.desc_unasked, (unsigned long long)st.bad_msgs);
    }
    fail();
  }
  /* the same view everywhere: the same digest */
  nn_mixnode_stats_t s0 = mstats(&w->t[0]);
  for (size_t i = 1; i < w->n; i++) {
    nn_mixnode_stats_t si = mstats(&w->t[i]);
    assert_memory_equal(si.digest.b, s0.digest.b, NN_HASH_LEN);
    for (unsigned l = 0; l < 3; l++)
      assert_int_equal(si.layer_mixes[l], 2); /* 6 mixes dealt to 3 layers */
  }
  assert_true(run_until(base, loops_home, w, 60000));

  size_t len = 100000;
  uint8_t *tx = malloc(len), id[32];
  nn_error_t err;
  for (size_t i = 0; i < len; i++)
    tx[i] = (uint8_t)(i * 131 + 7);
  assert_int_equal(nn_node_submit(w->t[CLIENT].n, tx, len, id, &err), NN_OK);
  assert_true(run_until(base, all_received, w, 60000));

  size_t exits = 0;
  uint64_t forwarded = 0;
  for (size_t i = 0; i < w->n; i++) {
    nn_api_rx_t rx[2];
    uint64_t next;
    assert_int_equal(nn_node_received(w->t[i].n, 0, rx, 2, &next), 1);
    assert_memory_equal(rx[0].id.b, id, 32);
    assert_int_equal(rx[0].len, len);
    assert_memory_equal(rx[0].tx, tx, len);
    if (!strcmp(rx[0].via, "mixnet")) {
      exits++;
      assert_true(i < NMIX); /* exits are mixes */
    }
    if (i == CLIENT)
      assert_string_equal(rx[0].via, "fluff"); /* back from the network, never announced by us */
    nn_mixnode_stats_t st = mstats(&w->t[i]);
    forwarded += st.core.forwarded;
    /* nothing honest was dropped for a bad header, a replay or a tag */
    assert_int_equal(st.core.dropped[NN_MIX_BAD_MAC], 0);
    assert_int_equal(st.core.dropped[NN_MIX_REPLAY], 0);
    assert_int_equal(st.core.dropped[NN_MIX_TAGGED], 0);
    assert_int_equal(st.bad_msgs, 0);
  }
  assert_int_equal(exits, 1);
  assert_true(forwarded > 0);
  nn_mixnode_stats_t cs = mstats(&w->t[CLIENT]);
  assert_true(cs.client.real_sent >= 4); /* 100 KB: 4 data fragments (and 2 parity) */
  assert_true(cs.client.drop_sent > 0);
  nn_node_status_t ns;
  assert_int_equal(nn_node_status(w->t[CLIENT].n, &ns), NN_OK);
  assert_string_equal(ns.route, "mixnet");
  assert_int_equal(ns.mixes, NMIX);
  assert_int_equal(ns.tx_submitted, 1);
  free(tx);
  world_stop(w);
  free(w);
  base_drain_free(base);
}

/* A mix restarted within an epoch comes back with the same keys (DATADIR/mix.keys, 0600); a
 * keys file others can read is refused, naming the file. */
static void
test_keys_survive_restart(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t t;
  nn_node_cfg_t c;
  char why[512], path[128];
  struct stat sb;
  loop_cfg(&c);
  c.mix.mix = 1;
  memset(&t, 0, sizeof(t));
  tnode_start(&t, base, 77, &c);
  nn_mixnode_t *m = nn_node_mixnode(t.n);
  uint32_t e = nn_mixnode_epoch_at(m, nn_unix_ms());
  nn_hybrid_pk_t k0 = *nn_mixnode_public_key(m, e), k1 = *nn_mixnode_public_key(m, e + 1);
  nn_node_free(t.n);
  snprintf(path, sizeof(path), "%s/mix.keys", t.dir);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);

  assert_int_equal(nn_node_new(&t.n, base, t.id, NN_NET_REGTEST, t.dir, &c, why, sizeof(why)), NN_OK);
  m = nn_node_mixnode(t.n);
  assert_memory_equal(nn_mixnode_public_key(m, e), &k0, sizeof(k0));
  assert_memory_equal(nn_mixnode_public_key(m, e + 1), &k1, sizeof(k1));
  nn_node_free(t.n);

  assert_int_equal(chmod(path, 0640), 0);
  t.n = NULL;
  assert_int_not_equal(nn_node_new(&t.n, base, t.id, NN_NET_REGTEST, t.dir, &c, why, sizeof(why)), NN_OK);
  assert_non_null(strstr(why, path));
  assert_non_null(strstr(why, "chmod 600"));
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(nn_node_new(&t.n, base, t.id, NN_NET_REGTEST, t.dir, &c, why, sizeof(why)), NN_OK);
  tnode_stop(&t);
  base_drain_free(base);
}

/* ---- a raw peer speaking mixnet messages by hand ---- */

typedef struct raw_t {
  nn_identity_t *id;
  nn_net_t *net;
  uint64_t c;
  int up, down, hellos;
} raw_t;

static void
raw_up(void *ctx, uint64_t c, const nn_net_conn_info_t *info)
{
  raw_t *r = ctx;
  (void)info;
  r->c = c;
  r->up = 1;
}

static void
raw_msg(void *ctx, uint64_t c, const uint8_t *msg, size_t len)
{
  raw_t *r = ctx;
  (void)c;
  if (len && msg[0] == NN_MXMSG_HELLO)
    r->hellos++;
}

static void
raw_down(void *ctx, uint64_t c, const nn_net_conn_info_t *info)
{
  raw_t *r = ctx;
  (void)info;
  if (c == r->c)
    r->down = 1;
}

static int
raw_is_up(void *arg)
{
  return ((raw_t *)arg)->up;
}

static int
raw_is_down(void *arg)
{
  return ((raw_t *)arg)->down;
}

static void
raw_open(raw_t *r, struct event_base *base, const tnode_t *to, unsigned seed)
{
  nn_net_cfg_t cfg;
  nn_transport_t *tr;
  nn_addr_t a;
  int h;
  memset(r, 0, sizeof(*r));
  r->id = ident(seed);
  nn_net_cfg_default(&cfg);
  cfg.identity = r->id;
  cfg.network = NN_NET_REGTEST;
  cfg.linger_ms = 100;
  loop_limits(&cfg.limits);
  assert_int_equal(nn_net_new(&r->net, base, &cfg), NN_OK);
  assert_int_equal(nn_tcp_transport_new(&tr, base, NULL), NN_OK);
  assert_int_equal(nn_net_add_transport(r->net, tr), NN_OK);
  nn_net_proto_t p = { "raw", 0x00, 0xff, raw_up, raw_msg, raw_down, r, NULL };
  assert_int_equal(nn_net_register(r->net, &p, &h), NN_OK);
  assert_int_equal(nn_addr_parse(&a, strchr(to->peer, '@') + 1), NN_OK);
  assert_int_equal(nn_net_dial(r->net, h, &a, NULL, &r->c), NN_OK);
  assert_true(run_until(base, raw_is_up, r, 10000));
}

static void
raw_close(raw_t *r)
{
  nn_net_free(r->net);
  nn_identity_free(r->id);
}

static void
raw_send(raw_t *r, const uint8_t *m, size_t len)
{
  assert_int_equal(nn_net_send(r->net, r->c, m, len), NN_OK);
}

static void
raw_hello(raw_t *r)
{
  uint8_t h[NN_MXMSG_HELLO_LEN];
  nn_mxmsg_hello(h, 0, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN, 3600);
  raw_send(r, h, sizeof(h));
}

/* Each misbehaviour closes the channel and counts against the peer; nothing else is lost. */
static void
test_bad_input(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t t;
  nn_node_cfg_t c;
  raw_t r;
  uint8_t *pkt = calloc(1, 1 + NN_SPHINX_DEFAULT_LEN);
  loop_cfg(&c);
  c.mix.mix = 1;
  memset(&t, 0, sizeof(t));
  tnode_start(&t, base, 78, &c);
  pkt[0] = NN_MXMSG_PACKET;

  /* a PACKET before HELLO */
  raw_open(&r, base, &t, 501);
  raw_send(&r, pkt, 1 + NN_SPHINX_DEFAULT_LEN);
  assert_true(run_until(base, raw_is_down, &r, 10000));
  raw_close(&r);
  assert_int_equal(mstats(&t).bad_msgs, 1);

  /* a second HELLO (the node answers the first) */
  raw_open(&r, base, &t, 502);
  raw_hello(&r);
  raw_hello(&r);
  assert_true(run_until(base, raw_is_down, &r, 10000));
  assert_int_equal(r.hellos, 1);
  raw_close(&r);
  assert_int_equal(mstats(&t).bad_msgs, 2);

  /* a truncated DIGEST, and a PACKET one byte short */
  for (int k = 0; k < 2; k++) {
    uint8_t dg[NN_MXMSG_DIGEST_LEN] = { NN_MXMSG_DIGEST };
    raw_open(&r, base, &t, 503 + (unsigned)k);
    raw_hello(&r);
    if (k == 0)
      raw_send(&r, dg, sizeof(dg) - 1);
    else
      raw_send(&r, pkt, NN_SPHINX_DEFAULT_LEN);
    assert_true(run_until(base, raw_is_down, &r, 10000));
    raw_close(&r);
  }
  assert_int_equal(mstats(&t).bad_msgs, 4);

  /* a descriptor nobody asked for is not even verified; garbage PACKETs are dropped by the
   * mix, counted, and the channel stays */
  raw_open(&r, base, &t, 505);
  raw_hello(&r);
  uint8_t desc[1 + 200];
  memset(desc, 0x41, sizeof(desc));
  desc[0] = NN_MXMSG_DESC;
  raw_send(&r, desc, sizeof(desc));
  for (int i = 0; i < 3; i++)
    raw_send(&r, pkt, 1 + NN_SPHINX_DEFAULT_LEN);
  nn_mixnode_stats_t st;
  for (int i = 0; i < 400; i++) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    st = mstats(&t);
    if (st.desc_unasked == 1 && st.packets_in == 3 && st.core.dropped[NN_MIX_BAD_VERSION] == 3)
      break;
    usleep(5000);
  }
  assert_int_equal(st.desc_unasked, 1);
  assert_int_equal(st.packets_in, 3);
  assert_int_equal(st.core.dropped[NN_MIX_BAD_VERSION], 3); /* all-zero: version 0 */
  assert_int_equal(st.core.forwarded + st.core.delivered, 0);
  assert_false(r.down);
  assert_int_equal(st.bad_msgs, 4);
  raw_close(&r);
  free(pkt);
  tnode_stop(&t);
  base_drain_free(base);
}

/* A packet a mix took before a clean restart is a replay after it (DATADIR/mix.replay). */
static void
test_replay_survives_restart(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t t;
  nn_node_cfg_t c;
  raw_t r;
  char why[512];
  nn_sphinx_geom_t g;
  nn_sym_t *sym;
  loop_cfg(&c);
  c.mix.mix = 1;
  memset(&t, 0, sizeof(t));
  tnode_start(&t, base, 79, &c);
  nn_mixnode_t *m = nn_node_mixnode(t.n);
  uint32_t e = nn_mixnode_epoch_at(m, nn_unix_ms());
  /* one hop: the mix is the recipient of a drop-cover body */
  assert_int_equal(nn_sphinx_geom_init(&g, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN), NN_OK);
  uint8_t *body = calloc(1, g.body_len), *pkt = malloc(1 + g.packet_len);
  body[0] = NN_BODY_DROP;
  nn_sphinx_hop_t hop = { .pk = nn_mixnode_public_key(m, e) };
  memcpy(hop.node.b, nn_identity_node_id(t.id)->b, NN_HASH_LEN);
  assert_int_equal(nn_sym_new(&sym), NN_OK);
  assert_int_equal(nn_sphinx_build(sym, &g, e, &hop, 1, body, NULL, pkt + 1), NN_OK);
  pkt[0] = NN_MXMSG_PACKET;
  nn_mixnode_stats_t st;
  for (int round = 0; round < 2; round++) {
    raw_open(&r, base, &t, 510 + (unsigned)round);
    raw_hello(&r);
    raw_send(&r, pkt, 1 + g.packet_len);
    for (int i = 0; i < 400; i++) {
      event_base_loop(base, EVLOOP_NONBLOCK);
      st = mstats(&t);
      if (st.packets_in == 1)
        break;
      usleep(5000);
    }
    for (int i = 0; i < 50; i++)
      event_base_loop(base, EVLOOP_NONBLOCK);
    st = mstats(&t);
    raw_close(&r);
    if (round == 0) {
      assert_int_equal(st.drop_in, 1); /* delivered here: a drop-cover body */
      nn_node_free(t.n);               /* saves the filter */
      assert_int_equal(nn_node_new(&t.n, base, t.id, NN_NET_REGTEST, t.dir, &c, why, sizeof(why)), NN_OK);
      nn_disco_peer_string(nn_node_disco(t.n), t.peer, sizeof(t.peer)); /* a new port */
    } else {
      assert_int_equal(st.drop_in, 0);
      assert_int_equal(st.core.dropped[NN_MIX_REPLAY], 1);
    }
  }
  nn_sym_free(sym);
  free(body);
  free(pkt);
  tnode_stop(&t);
  base_drain_free(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tx_through_mixnet),
    cmocka_unit_test(test_keys_survive_restart),
    cmocka_unit_test(test_bad_input),
    cmocka_unit_test(test_replay_survives_restart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
