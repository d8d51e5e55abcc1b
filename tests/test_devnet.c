/*
 * A 20-node devnet of real nepnetd processes on loopback (node/devnet.h):
 * - every transaction submitted at one node reaches all 20;
 * - over many broadcasts from random origins, the first node to fluff is never the origin, and
 *   the first nodes outside the stem get it from that fluffer, not from the origin;
 * - a stem relay that black-holes stems (an in-process test peer, node 19's only outbound peer)
 *   does not stop delivery: node 19's embargo fluffs it;
 * - kill -9 of 5 random nodes right after a submission: every live node still gets it.
 * NEPNET_DEVNET_RUNS sets the number of privacy runs (default 24).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "crypto/identity.h"
#include "crypto/rand.h"
#include "dandelion/msg.h"
#include "lib/hex.h"
#include "app/devnet.h"
#include "net/net.h"
#include "net/tcp.h"

#define NODES 20
#define HOLE_NODE 19

/* ---- the black hole: takes gossip peers, answers HELLO, drops every stem ---- */

typedef struct hole_t {
  struct event_base *base;
  nn_net_t *net;
  nn_identity_t *id;
  pthread_t th;
  int stems; /* written by the hole's thread, read with __atomic */
  int stop;
  char connect[300];
} hole_t;

static void
hole_msg(void *ctx, uint64_t c, const uint8_t *msg, size_t len)
{
  hole_t *h = ctx;
  nn_dlmsg_t m;
  if (nn_dlmsg_parse(&m, msg, len, 1u << 24) != NN_OK)
    return;
  if (m.kind == NN_DLMSG_HELLO) {
    uint8_t r[NN_DLMSG_HELLO_LEN];
    nn_dlmsg_hello(r, 0, 8u << 20);
    (void)nn_net_send(h->net, c, r, sizeof(r));
  } else if (m.kind == NN_DLMSG_STEM) {
    __atomic_add_fetch(&h->stems, 1, __ATOMIC_SEQ_CST); /* and nothing else: dropped */
  }
}

/* The DHT's requests to the hole: taken and never answered (a black hole in that too). */
static void
hole_ignore(void *ctx, uint64_t c, const uint8_t *msg, size_t len)
{
  (void)ctx;
  (void)c;
  (void)msg;
  (void)len;
}

static void *
hole_run(void *arg)
{
  hole_t *h = arg;
  while (!__atomic_load_n(&h->stop, __ATOMIC_SEQ_CST)) {
    struct timeval tv = { 0, 50000 };
    event_base_loopexit(h->base, &tv);
    event_base_dispatch(h->base);
  }
  return NULL;
}

static void
hole_start(hole_t *h)
{
  nn_mldsa_seed_t s;
  nn_net_cfg_t cfg;
  nn_transport_t *t;
  nn_addr_t at;
  char hex[65], a[NN_ADDR_STR_MAX];
  memset(h, 0, sizeof(*h));
  memset(s.b, 0x4b, sizeof(s.b));
  assert_int_equal(nn_identity_from_seed(&h->id, &s), NN_OK);
  assert_non_null(h->base = event_base_new());
  nn_net_cfg_default(&cfg);
  cfg.identity = h->id;
  cfg.network = NN_NET_REGTEST;
  cfg.max_message = (8u << 20) + 64;
  cfg.limits.max_per_ip = 0;
  cfg.limits.ip_rate = 0;
  assert_int_equal(nn_net_new(&h->net, h->base, &cfg), NN_OK);
  assert_int_equal(nn_tcp_transport_new(&t, h->base, NULL), NN_OK);
  assert_int_equal(nn_net_add_transport(h->net, t), NN_OK);
  nn_net_proto_t gossip = { "hole", 0x20, 0x2f, NULL, hole_msg, NULL, h, NULL };
  nn_net_proto_t dht = { "hole-dht", 0x10, 0x1f, NULL, hole_ignore, NULL, h, NULL };
  assert_int_equal(nn_net_register(h->net, &gossip, NULL), NN_OK);
  assert_int_equal(nn_net_register(h->net, &dht, NULL), NN_OK);
  assert_int_equal(nn_net_listen(h->net, "tcp", "127.0.0.1:0", &at, NULL, 0), NN_OK);
  nn_hex_encode(hex, nn_identity_node_id(h->id)->b, NN_NODE_ID_LEN);
  nn_addr_format(&at, a);
  snprintf(h->connect, sizeof(h->connect), "%s@%s", hex, a);
  assert_int_equal(pthread_create(&h->th, NULL, hole_run, h), 0);
}

static void
hole_stop(hole_t *h)
{
  __atomic_store_n(&h->stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(h->th, NULL);
  nn_net_free(h->net);
  event_base_free(h->base);
  nn_identity_free(h->id);
}

/* ---- the devnet ---- */

typedef struct fixture_t {
  nn_devnet_t dn;
  hole_t hole;
  char dir[64];
  const char *hole_args[8];
  char ids[NODES][65];
} fixture_t;

static const char *const *
node_extra(void *ctx, unsigned i)
{
  fixture_t *f = ctx;
  return i == HOLE_NODE ? f->hole_args : NULL;
}

static int
setup(void **state)
{
  static fixture_t f;
  nn_devnet_opts_t o;
  char why[1024];
  static const char *const extra[] = {
    "--epoch-s",
    "10", /* roles and relays re-drawn during the test */
    "--log-level",
    "warn",
  };
  memset(&f, 0, sizeof(f));
  hole_start(&f.hole);
  f.hole_args[0] = "--connect";
  f.hole_args[1] = f.hole.connect;
  f.hole_args[2] = "--max-outbound";
  f.hole_args[3] = "1";
  f.hole_args[4] = "--embargo-mean-ms";
  f.hole_args[5] = "2000";
  f.hole_args[6] = NULL;
  snprintf(f.dir, sizeof(f.dir), "/tmp/nn-devnet-XXXXXX");
  assert_non_null(mkdtemp(f.dir));
  nn_devnet_opts_default(&o);
  o.dir = f.dir;
  o.nepnetd = NEPNET_NEPNETD;
  o.base_port = (uint16_t)(20000 + (getpid() % 200) * 100);
  o.extra = extra;
  o.n_extra = sizeof(extra) / sizeof(extra[0]);
  o.node_extra = node_extra;
  o.node_ctx = &f;
  o.progress = getenv("DEVNET_VERBOSE") ? stderr : NULL;
  o.join_timeout_ms = 180000;
  if (nn_devnet_up(&f.dn, NODES, NULL, &o, why, sizeof(why))) {
    fprintf(stderr, "devnet up: %s\n", why);
    return -1;
  }
  for (unsigned i = 0; i < NODES; i++) {
    nn_devnet_node_id(&f.dn, i, f.ids[i]);
    if (!f.ids[i][0])
      return -1;
  }
  *state = &f;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *f = *state;
  char cmd[128];
  if (!f)
    return 0;
  nn_devnet_down(&f->dn, 10000);
  nn_devnet_free(&f->dn);
  hole_stop(&f->hole);
  if (!getenv("DEVNET_KEEP")) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", f->dir);
  }
  return 0;
}

static uint64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned
rnd(unsigned n)
{
  uint32_t r = 0;
  (void)nn_rng_fill(NULL, (uint8_t *)&r, sizeof(r));
  return r % n;
}

/* A random origin among nodes 0..18 that has a stem relay (an outbound gossip peer) now: a node
 * with none (in a network this small, one that everyone else dialled first) holds its own
 * transaction until it gets one, or until its embargo fluffs it. */
static unsigned
pick_origin(fixture_t *f)
{
  for (int tries = 0; tries < 100; tries++) {
    unsigned o = rnd(HOLE_NODE);
    json_t *j = NULL;
    int ok = nn_devnet_api(&f->dn, o, "GET", "/v1/status", NULL, 0, NULL, &j) == 200 && j &&
             json_integer_value(json_object_get(j, "peers_out")) >= 1;
    json_decref(j);
    if (ok)
      return o;
  }
  fail_msg("no node with an outbound gossip peer");
  return 0;
}

static void
make_tx(uint8_t *tx, size_t len)
{
  assert_int_equal(nn_rng_fill(NULL, tx, len), NN_OK);
}

static int
node_of(const fixture_t *f, const char *id)
{
  for (int i = 0; i < NODES; i++)
    if (id[0] && !strcmp(f->ids[i], id))
      return i;
  return -1;
}

/* Does node a have b as a gossip peer now? */
static int
neighbours(fixture_t *f, unsigned a, unsigned b)
{
  json_t *j = NULL;
  int r = 0;
  if (nn_devnet_api(&f->dn, a, "GET", "/v1/peers", NULL, 0, NULL, &j) == 200 && j) {
    json_t *arr = json_object_get(j, "peers"), *p;
    size_t k;
    json_array_foreach(arr, k, p)
    {
      const char *id = json_string_value(json_object_get(p, "node_id"));
      r |= id && !strcmp(id, f->ids[b]);
    }
  }
  json_decref(j);
  return r;
}

/* On a failed wait: what every node says, to tell a slow network from a stuck node. */
static void
dump_nodes(fixture_t *f, const nn_devnet_seen_t *seen)
{
  for (unsigned i = 0; i < NODES; i++) {
    json_t *j = NULL;
    uint64_t t0 = now_ms();
    int st = nn_devnet_alive(&f->dn, i) ? nn_devnet_api(&f->dn, i, "GET", "/v1/status", NULL, 0, NULL, &j) : -1;
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    fprintf(stderr, "node-%u: %s, seen %d via %s, status %d in %llu ms: %.300s\n", i, st < 0 ? "dead" : "alive",
            seen[i].seen, seen[i].via, st, (unsigned long long)(now_ms() - t0), txt ? txt : "");
    free(txt);
    json_decref(j);
  }
}

/* Many broadcasts from random origins (never the black-hole node): all 20 nodes get each one;
 * the fluffer is never the origin; the first nodes outside the stem get it from the fluffer. */
static void
test_privacy_runs(void **state)
{
  fixture_t *f = *state;
  const char *env = getenv("NEPNET_DEVNET_RUNS");
  unsigned runs = env ? (unsigned)atoi(env) : 24, fluff_is_origin = 0, fluff_next_to_origin = 0, first_from_origin = 0;
  nn_devnet_seen_t seen[NODES];
  for (unsigned r = 0; r < runs; r++) {
    uint8_t tx[512];
    nn_hash_t id;
    unsigned origin = pick_origin(f);
    make_tx(tx, sizeof(tx));
    memset(seen, 0, sizeof(seen));
    uint64_t t0 = now_ms();
    assert_int_equal(nn_devnet_submit(&f->dn, origin, tx, sizeof(tx), &id), 0);
    unsigned have = nn_devnet_wait_tx(&f->dn, &id, t0, 90000, seen, NULL);
    if (have != NODES)
      dump_nodes(f, seen);
    assert_int_equal(have, NODES);
    /* the fluffer: the first node that took it from a stem (or its embargo) */
    int fl = -1;
    for (unsigned i = 0; i < NODES; i++)
      if ((!strcmp(seen[i].via, "stem-fluff") || !strcmp(seen[i].via, "embargo")) &&
          (fl < 0 || seen[i].unix_ms < seen[fl].unix_ms))
        fl = (int)i;
    assert_true(fl >= 0);
    fluff_is_origin += (unsigned)fl == origin;
    fluff_next_to_origin += neighbours(f, origin, (unsigned)fl);
    /* the first node outside the stem: the earliest plain fluff receiver */
    int first = -1;
    for (unsigned i = 0; i < NODES; i++)
      if (!strcmp(seen[i].via, "fluff") && (first < 0 || seen[i].unix_ms < seen[first].unix_ms))
        first = (int)i;
    assert_true(first >= 0);
    int src = node_of(f, seen[first].from);
    first_from_origin += src == (int)origin;
    if (getenv("DEVNET_VERBOSE"))
      fprintf(stderr, "run %2u: origin node-%u, fluffer node-%d (%s), first outside the stem node-%d from node-%d\n", r,
              origin, fl, seen[fl].via, first, src);
  }
  fprintf(stderr,
          "devnet privacy: %u runs; fluffer = origin in %u; the first node outside the stem got it from the origin "
          "in %u; the fluffer happened to be a gossip peer of the origin in %u (a 20-node devnet is dense: each "
          "node has ~14 of the 19 others as peers)\n",
          runs, fluff_is_origin, first_from_origin, fluff_next_to_origin);
  assert_int_equal(fluff_is_origin, 0);
  assert_int_equal(first_from_origin, 0);
}

/* Node 19's only outbound peer is the black hole: its own transaction is stemmed into it and
 * dropped; the embargo fluffs it and all 20 nodes get it. */
static void
test_blackhole_relay(void **state)
{
  fixture_t *f = *state;
  uint8_t tx[700];
  nn_hash_t id;
  nn_devnet_seen_t seen[NODES];
  memset(seen, 0, sizeof(seen));
  make_tx(tx, sizeof(tx));
  int stems0 = __atomic_load_n(&f->hole.stems, __ATOMIC_SEQ_CST);
  uint64_t t0 = now_ms();
  assert_int_equal(nn_devnet_submit(&f->dn, HOLE_NODE, tx, sizeof(tx), &id), 0);
  unsigned have = nn_devnet_wait_tx(&f->dn, &id, t0, 90000, seen, NULL);
  assert_int_equal(have, NODES);
  assert_true(__atomic_load_n(&f->hole.stems, __ATOMIC_SEQ_CST) > stems0); /* it did take the stem */
  assert_string_equal(seen[HOLE_NODE].via, "embargo");
  fprintf(stderr, "devnet black hole: stem dropped, node-19's embargo fired after %.1f s, all %u nodes have it\n",
          (double)(seen[HOLE_NODE].unix_ms - t0) / 1000.0, have);

  /* what its user sees (issue 17): `nepnet tx ID` names the relay the stem went to, says the
   * embargo fired, and exits 2 (embargoed) */
  char cmd[1024], dd[512], idhex[65], holeid[65], out[8192];
  size_t got = 0, r;
  nn_devnet_datadir(&f->dn, HOLE_NODE, dd, sizeof(dd));
  nn_hex_encode(idhex, id.b, NN_HASH_LEN);
  nn_hex_encode(holeid, nn_identity_node_id(f->hole.id)->b, NN_NODE_ID_LEN);
  snprintf(cmd, sizeof(cmd), "'%s' --datadir '%s' tx %s --timeout 60", NEPNET_CLI, dd, idhex);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  while ((r = fread(out + got, 1, sizeof(out) - 1 - got, p)) > 0)
    got += r;
  out[got] = 0;
  int st = pclose(p);
  fprintf(stderr, "%s", out);
  char want[64];
  snprintf(want, sizeof(want), "to relay %.16s", holeid);
  assert_non_null(strstr(out, want));
  assert_non_null(strstr(out, "embargo-fired"));
  assert_non_null(strstr(out, "embargoed: not seen back in time"));
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 2);
}

/* kill -9 five random nodes (not the origin) right after the submission. */
static void
test_kill_five(void **state)
{
  fixture_t *f = *state;
  uint8_t tx[600];
  nn_hash_t id;
  nn_devnet_seen_t seen[NODES];
  int dead[NODES] = { 0 };
  unsigned origin = pick_origin(f), killed = 0;
  memset(seen, 0, sizeof(seen));
  make_tx(tx, sizeof(tx));
  uint64_t t0 = now_ms();
  assert_int_equal(nn_devnet_submit(&f->dn, origin, tx, sizeof(tx), &id), 0);
  while (killed < 5) {
    unsigned v = rnd(NODES);
    if (v == origin || dead[v])
      continue;
    nn_devnet_kill(&f->dn, v);
    dead[v] = 1;
    killed++;
  }
  unsigned have = nn_devnet_wait_tx(&f->dn, &id, t0, 120000, seen, NULL);
  unsigned live = 0;
  for (unsigned i = 0; i < NODES; i++)
    live += nn_devnet_alive(&f->dn, i);
  if (have != live) {
    fprintf(stderr, "origin node-%u; %u of %u live nodes have it after %.1f s\n", origin, have, live,
            (double)(now_ms() - t0) / 1000.0);
    dump_nodes(f, seen);
  }
  assert_int_equal(live, NODES - 5);
  assert_int_equal(have, live);
  fprintf(stderr, "devnet kill -9: 5 nodes killed during the broadcast, all %u live nodes have it after %.1f s\n", live,
          (double)(now_ms() - t0) / 1000.0);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_privacy_runs),
    cmocka_unit_test(test_blackhole_relay),
    cmocka_unit_test(test_kill_five),
  };
  return cmocka_run_group_tests_name("devnet", tests, setup, teardown);
}
