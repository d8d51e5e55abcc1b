/*
 * The connection manager (src/net/net.h) with real channels over fake and real transports:
 * two in-memory transports (tests/pipe_transport.c) each carry a channel; a message of a kind
 * nobody registered closes its channel with NN_CLOSE_UNSUPPORTED and reaches no tenant; a
 * banned host is refused on TCP before any handshake work; tenants register and unregister at
 * run time; the pre-handshake queue; holds and the idle cap (LRU).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "crypto/identity.h"
#include "net/net.h"
#include "net/tcp.h"
#include "net/workers.h"
#include "pipe_transport.h"

#define ONION_A "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:9800"
#define I2P_B "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:9800"

/* What one tenant saw. */
typedef struct seen_t {
  int ups, downs, msgs;
  uint64_t last_conn, down_conn;
  nn_close_reason_t last_reason;
  uint8_t last_kind;
  size_t last_len;
  int hold_on_up; /* hold every channel it hears of */
  nn_net_t *net;  /* for holding and replying */
  int handle;
  size_t reply_len; /* answer each request (kind 0x11) with a reply (0x12) this long */
  int want;         /* for msgs_reach and ups_reach */
  int replies_refused;
  int moves; /* on_moved: how often, and what it said last */
  nn_net_conn_info_t moved;
} seen_t;

typedef struct node_t {
  nn_identity_t *id;
  nn_net_t *net;
  nn_drbg_t drbg;
  nn_rng_t rng;
  seen_t a, b; /* tenant A (kinds 0x10..0x1f), tenant B (0x20..0x2f) */
  int ha, hb;
  int banned; /* the policy refuses everyone */
  int asked;  /* times the policy was asked */
} node_t;

static struct event_base *base;
static pipe_wire_t *wire;
static unsigned workers; /* --workers N: every manager takes its handshake steps on N threads */

static void
t_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  seen_t *s = ctx;
  assert_true(info->established);
  s->ups++;
  s->last_conn = conn;
  if (s->hold_on_up)
    nn_net_hold(s->net, s->handle, conn, 1);
}

static void
t_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  seen_t *s = ctx;
  s->msgs++;
  s->last_conn = conn;
  s->last_kind = msg[0];
  s->last_len = len;
  if (s->reply_len && msg[0] == 0x11) {
    static uint8_t reply[64 << 10];
    assert_true(s->reply_len <= sizeof(reply));
    reply[0] = 0x12;
    if (nn_net_send(s->net, conn, reply, s->reply_len) != NN_OK)
      s->replies_refused++;
  }
}

static void
t_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  seen_t *s = ctx;
  s->downs++;
  s->down_conn = conn;
  s->last_reason = info->reason;
}

static void
t_moved(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  seen_t *s = ctx;
  (void)conn;
  s->moves++;
  s->moved = *info;
}

static int
p_allowed(void *ctx, const nn_addr_t *a, int inbound)
{
  node_t *n = ctx;
  (void)a;
  (void)inbound;
  n->asked++;
  return !n->banned;
}

/* A node; \a tweak (may be NULL) changes its manager's settings. */
static void
node_init_with(node_t *n, uint8_t seed, int with_tcp, void (*tweak)(nn_net_cfg_t *))
{
  nn_mldsa_seed_t s;
  nn_net_cfg_t cfg;
  memset(n, 0, sizeof(*n));
  memset(s.b, seed, sizeof(s.b));
  assert_int_equal(nn_identity_from_seed(&n->id, &s), NN_OK);
  nn_drbg_init_u64(&n->drbg, seed);
  n->rng = nn_drbg_rng(&n->drbg);
  nn_net_cfg_default(&cfg);
  cfg.identity = n->id;
  cfg.network = NN_NET_REGTEST;
  cfg.rng = &n->rng;
  cfg.idle_ms = 0;
  if (workers) {
    cfg.workers = workers;
    cfg.rng = NULL; /* a pool needs the thread-safe CSPRNG */
  }
  if (tweak)
    tweak(&cfg);
  assert_int_equal(nn_net_new(&n->net, base, &cfg), NN_OK);
  nn_transport_t *onion_t = pipe_transport_new(wire, "pipe-onion", NN_ADDR_ONION);
  onion_t->overlay = 1; /* link padding (overlay_pad_ms) applies to it */
  assert_int_equal(nn_net_add_transport(n->net, onion_t), NN_OK);
  assert_int_equal(nn_net_add_transport(n->net, pipe_transport_new(wire, "pipe-i2p", NN_ADDR_I2P)), NN_OK);
  if (with_tcp) {
    nn_transport_t *t;
    assert_int_equal(nn_tcp_transport_new(&t, base, NULL), NN_OK);
    assert_int_equal(nn_net_add_transport(n->net, t), NN_OK);
  }
  nn_net_policy_t pol = { .allowed = p_allowed, .ctx = n };
  nn_net_set_policy(n->net, &pol);
  nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down, &n->a, t_moved };
  nn_net_proto_t b = { "b", 0x20, 0x2f, t_up, t_msg, t_down, &n->b, NULL };
  assert_int_equal(nn_net_register(n->net, &a, &n->ha), NN_OK);
  assert_int_equal(nn_net_register(n->net, &b, &n->hb), NN_OK);
  n->a.net = n->b.net = n->net;
  n->a.handle = n->ha;
  n->b.handle = n->hb;
}

static void
node_init(node_t *n, uint8_t seed, int with_tcp)
{
  node_init_with(n, seed, with_tcp, NULL);
}

static void
node_free(node_t *n)
{
  nn_net_free(n->net);
  nn_identity_free(n->id);
}

/* Run the loop until \a done or about 5 s (a real TCP handshake takes a few ms). */
static void
run_until(int (*done)(void *), void *arg)
{
  for (int i = 0; i < 5000 && !done(arg); i++) {
    struct timeval tv = { 0, 1000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

static void
run_for_ms(int ms)
{
  struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

static int
ups_a(void *arg)
{
  return ((seen_t *)arg)->ups > 0;
}

static int
downs_a(void *arg)
{
  return ((seen_t *)arg)->downs > 0;
}

static int
has_msg(void *arg)
{
  return ((seen_t *)arg)->msgs > 0;
}

static int
both_msgs(void *arg)
{
  node_t *n = arg;
  return n->a.msgs > 0 && n->b.msgs > 0;
}

static void
setup_wire(void)
{
  base = event_base_new();
  wire = pipe_wire_new(base);
  assert_non_null(base);
  assert_non_null(wire);
}

static void
teardown_wire(void)
{
  pipe_wire_free(wire);
  event_base_free(base);
}

/* A channel over each of two fake transports, chosen by the address type; messages of each
 * tenant's kinds go to that tenant only. */
static void
test_two_fake_transports(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion, i2p, bound;
  uint64_t c1, c2;
  setup_wire();
  node_init(&srv, 1, 0);
  node_init(&cli, 2, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, &bound, NULL, 0), NN_OK);
  assert_int_equal(nn_net_listen(srv.net, "pipe-i2p", I2P_B, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_addr_parse(&i2p, I2P_B), NN_OK);
  assert_true(nn_addr_equal(&bound, &onion));
  /* authenticated to the server's node id over both */
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c1), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.hb, &i2p, nn_identity_node_id(srv.id), &c2), NN_OK);
  assert_true(c1 && c2 && c1 != c2);
  /* queued before the handshake, delivered after it */
  const uint8_t hello_a[] = { 0x11, 'h', 'i' }, hello_b[] = { 0x2a, 'y', 'o', '!' };
  assert_int_equal(nn_net_send(cli.net, c1, hello_a, sizeof(hello_a)), NN_OK);
  assert_int_equal(nn_net_send(cli.net, c2, hello_b, sizeof(hello_b)), NN_OK);
  run_until(both_msgs, &srv);
  assert_int_equal(srv.a.msgs, 1);
  assert_int_equal(srv.a.last_kind, 0x11);
  assert_int_equal(srv.b.msgs, 1);
  assert_int_equal(srv.b.last_kind, 0x2a);
  assert_int_equal(srv.b.last_len, 4);
  /* each tenant heard of both channels; the server saw both authenticated */
  assert_int_equal(srv.a.ups, 2);
  assert_int_equal(srv.b.ups, 2);
  nn_net_conn_info_t i1, i2;
  assert_true(nn_net_conn_info(cli.net, c1, &i1));
  assert_true(nn_net_conn_info(cli.net, c2, &i2));
  assert_string_equal(i1.transport, "pipe-onion");
  assert_string_equal(i2.transport, "pipe-i2p");
  assert_true(i1.established && i1.chan && i1.chan->peer_identified);
  assert_memory_equal(i1.id.b, nn_identity_node_id(srv.id)->b, NN_NODE_ID_LEN);
  assert_int_equal(nn_net_find(cli.net, nn_identity_node_id(srv.id), 1) != 0, 1);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  assert_int_equal(st->handshakes, 2);
  assert_int_equal(st->open, 2);
  /* no per-address limits for transports whose peers have no address */
  assert_int_equal(st->tracked_ips, 0);
  /* an orderly close: both ends hear of it, the server as a peer close */
  nn_net_close(cli.net, c1, 0);
  run_until(downs_a, &srv.a);
  assert_int_equal(cli.a.downs, 1);
  assert_int_equal(cli.a.last_reason, NN_CLOSE_LOCAL);
  assert_int_equal(srv.a.last_reason, NN_CLOSE_PEER);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

typedef struct grow_t {
  nn_net_t *net;
  uint64_t from, want;
} grow_t;

static int
grew_enough(void *arg)
{
  grow_t *g = arg;
  return nn_net_stats(g->net)->bytes_out - g->from >= g->want;
}

static void
padded(nn_net_cfg_t *c)
{
  c->overlay_pad_ms = 10;
}

/* Link padding on an overlay transport: a message arrives whole, and the link carries records
 * of one size at the padding's rate while nothing is sent (decoys). The i2p pipe is no overlay
 * here: nothing pads it. */
static void
test_link_padding(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c = 0;
  const uint64_t rec = NN_CHAN_SHAPE_CONTENT + 23;
  setup_wire();
  node_init_with(&srv, 1, 0, padded);
  node_init_with(&cli, 2, 0, padded);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c), NN_OK);
  uint8_t msg[3000];
  memset(msg, 0x11, sizeof(msg));
  assert_int_equal(nn_net_send(cli.net, c, msg, sizeof(msg)), NN_OK);
  run_until(has_msg, &srv.a);
  assert_int_equal(srv.a.last_len, sizeof(msg));
  /* nothing more is sent: what the link carries now is decoys, whole records of the one size */
  grow_t g = { cli.net, nn_net_stats(cli.net)->bytes_out, 3 * rec };
  run_until(grew_enough, &g);
  uint64_t grew = nn_net_stats(cli.net)->bytes_out - g.from;
  assert_true(grew >= 3 * rec);
  assert_int_equal(grew % rec, 0);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static void
only_tor(nn_net_cfg_t *c)
{
  c->dial_nets = NN_ADDR_NET_TOR;
}

/* onlynet: a dial to a network left out is refused before any transport sees it, and counted */
static void
test_dial_nets(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion, i2p, v4;
  uint64_t c = 7;
  setup_wire();
  node_init(&srv, 1, 0);
  node_init_with(&cli, 2, 1, only_tor);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_net_listen(srv.net, "pipe-i2p", I2P_B, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_addr_parse(&i2p, I2P_B), NN_OK);
  assert_int_equal(nn_addr_parse(&v4, "127.0.0.1:9"), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &i2p, nn_identity_node_id(srv.id), &c), NN_ERR_PERM);
  assert_int_equal(c, 0);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &v4, NULL, &c), NN_ERR_PERM); /* TCP is there, not allowed */
  assert_int_equal(nn_net_stats(cli.net)->dials_refused_net, 2);
  assert_int_equal(nn_net_stats(cli.net)->dials, 0);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c), NN_OK);
  run_until(ups_a, &cli.a);
  assert_int_equal(cli.a.ups, 1);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static int
moved_a(void *arg)
{
  return ((seen_t *)arg)->moves > 0;
}

/* A stream that moves to a direct connection (a hole punch under a relayed channel): the
 * channel carries on, its address becomes the direct peer's (the old one kept as via), tenants
 * hear of it from the loop; a move to a banned host closes the channel. */
static void
test_stream_moved(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion, direct, other;
  uint64_t c;
  nn_net_conn_info_t info;
  const uint8_t ping[] = { 0x11, 'p' };
  setup_wire();
  node_init(&srv, 1, 0);
  node_init(&cli, 2, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_addr_parse(&direct, "198.51.100.7:4242"), NN_OK);
  assert_int_equal(nn_addr_parse(&other, "198.51.100.8:4242"), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c), NN_OK);
  run_until(ups_a, &cli.a);
  assert_true(nn_net_conn_info(cli.net, c, &info));
  assert_false(info.moved);
  nn_stream_t *s = (nn_stream_t *)info.stream;
  int asked = cli.asked;
  s->peer = direct;
  s->t->host.moved(s->t->host.ctx, s);
  assert_int_equal(cli.a.moves, 0); /* never from inside the transport's call */
  run_until(moved_a, &cli.a);
  assert_int_equal(cli.a.moves, 1);
  assert_int_equal(cli.b.moves, 0); /* a tenant without on_moved is fine */
  assert_true(cli.a.moved.moved);
  assert_true(nn_addr_equal(&cli.a.moved.addr, &direct));
  assert_true(nn_addr_equal(&cli.a.moved.via, &onion));
  assert_int_equal(cli.asked, asked + 1); /* the new address was asked about */
  assert_true(nn_net_conn_info(cli.net, c, &info));
  assert_true(info.moved && nn_addr_equal(&info.addr, &direct) && nn_addr_equal(&info.via, &onion));
  assert_int_equal(nn_net_find_addr(cli.net, &direct), c);
  /* the channel carries on */
  assert_int_equal(nn_net_send(cli.net, c, ping, sizeof(ping)), NN_OK);
  run_until(has_msg, &srv.a);
  assert_int_equal(srv.a.msgs, 1);
  /* a second move, to a banned host: the channel closes; via stays the first path's */
  cli.banned = 1;
  s->peer = other;
  s->t->host.moved(s->t->host.ctx, s);
  run_until(downs_a, &cli.a);
  assert_int_equal(cli.a.moves, 1);
  assert_int_equal(cli.a.downs, 1);
  assert_int_equal(cli.a.last_reason, NN_CLOSE_LOCAL);
  assert_int_equal(nn_net_stats(cli.net)->moved, 2);
  assert_int_equal(nn_net_stats(cli.net)->closed_moved, 1);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* A kind nobody registered: counted, the channel closed with its reason, no tenant sees it. */
static void
test_unregistered_kind(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  setup_wire();
  node_init(&srv, 3, 0);
  node_init(&cli, 4, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c), NN_OK);
  run_until(ups_a, &srv.a);
  const uint8_t mixnet[] = { 0x30, 1, 2, 3 }; /* reserved for the mixnet: nobody here speaks it */
  assert_int_equal(nn_net_send(cli.net, c, mixnet, sizeof(mixnet)), NN_OK);
  run_until(downs_a, &cli.a);
  assert_int_equal(srv.a.msgs + srv.b.msgs, 0);
  assert_int_equal(nn_net_stats(srv.net)->unknown_kind, 1);
  assert_int_equal(nn_net_stats(srv.net)->closed[NN_CLOSE_UNSUPPORTED], 1);
  assert_int_equal(srv.a.last_reason, NN_CLOSE_UNSUPPORTED);
  assert_int_equal(srv.b.last_reason, NN_CLOSE_UNSUPPORTED);
  assert_int_equal(cli.a.last_reason, NN_CLOSE_PEER); /* the sender is told: a CLOSE record */
  /* a message has at least its kind byte */
  assert_int_equal(nn_net_send(cli.net, c, mixnet, 0), NN_ERR_NOTFOUND); /* c is gone */
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static int
tcp_ended(void *arg)
{
  node_t *n = arg;
  return n->a.downs > 0;
}

/* A banned host is refused on TCP before any handshake work: the policy is asked at accept,
 * the stream is reset, no channel is started. A host it allows gets through. */
static void
test_banned_before_handshake(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t at;
  uint64_t c;
  setup_wire();
  node_init(&srv, 5, 1);
  node_init(&cli, 6, 1);
  assert_int_equal(nn_net_listen(srv.net, "tcp", "127.0.0.1:0", &at, NULL, 0), NN_OK);
  srv.banned = 1;
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &at, nn_identity_node_id(srv.id), &c), NN_OK);
  run_until(tcp_ended, &cli);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  assert_int_equal(srv.asked, 1);
  assert_int_equal(st->accepted, 1);
  assert_int_equal(st->refused_policy, 1);
  assert_int_equal(st->admitted, 0);
  assert_int_equal(st->handshakes, 0);
  assert_int_equal(st->tracked_ips, 0);
  assert_int_equal(srv.a.ups, 0);
  assert_int_equal(cli.a.downs, 1);
  if (cli.a.last_reason != NN_NET_CLOSE_EOF && cli.a.last_reason != NN_NET_CLOSE_IO &&
      cli.a.last_reason != NN_NET_CLOSE_CONNECT) /* the reset may come first */
    fail_msg("refused dial closed with %d (%s)", cli.a.last_reason, nn_net_close_reason_str(cli.a.last_reason));
  /* the dialler's own policy is asked before it dials */
  cli.banned = 1;
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &at, NULL, &c), NN_ERR_PERM);
  cli.banned = 0;
  srv.banned = 0;
  cli.a.downs = 0;
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &at, nn_identity_node_id(srv.id), &c), NN_OK);
  run_until(ups_a, &srv.a);
  assert_int_equal(srv.a.ups, 1);
  assert_int_equal(st->handshakes, 1);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* A tenant registered on a running manager hears of the channels already up and gets its
 * kinds; unregistered, it hears nothing more and its kinds close channels again. */
static void
test_register_at_run_time(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  seen_t late;
  int hl;
  setup_wire();
  node_init(&srv, 7, 0);
  node_init(&cli, 8, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c), NN_OK);
  run_until(ups_a, &srv.a);
  memset(&late, 0, sizeof(late));
  nn_net_proto_t p = { "late", 0x40, 0x4f, t_up, t_msg, t_down, &late, NULL };
  /* overlapping another tenant's range is refused */
  nn_net_proto_t clash = { "clash", 0x1f, 0x40, t_up, t_msg, t_down, &late, NULL };
  assert_int_equal(nn_net_register(srv.net, &clash, &hl), NN_ERR_ARG);
  assert_int_equal(nn_net_register(srv.net, &p, &hl), NN_OK);
  assert_int_equal(late.ups, 1); /* the channel already up */
  const uint8_t m[] = { 0x41, 9 };
  assert_int_equal(nn_net_send(cli.net, c, m, sizeof(m)), NN_OK);
  run_until(has_msg, &late);
  assert_int_equal(late.msgs, 1);
  assert_int_equal(late.last_kind, 0x41);
  nn_net_unregister(srv.net, hl);
  assert_int_equal(nn_net_send(cli.net, c, m, sizeof(m)), NN_OK);
  run_until(downs_a, &srv.a);
  assert_int_equal(late.msgs, 1);  /* nothing after unregistering */
  assert_int_equal(late.downs, 0); /* not even on_down */
  assert_int_equal(srv.a.last_reason, NN_CLOSE_UNSUPPORTED);
  /* the slot is free again */
  assert_int_equal(nn_net_register(srv.net, &p, &hl), NN_OK);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static int
ups_reach(void *arg)
{
  return ((seen_t *)arg)->ups >= ((seen_t *)arg)->want;
}

static int
three_ups(void *arg)
{
  return ((seen_t *)arg)->ups >= 3;
}

/* Outbound channels nobody holds are capped: the least recently used idle one closes first;
 * a held one is never counted or trimmed. */
static void
test_idle_cap_and_holds(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c0, c1, c2, c3;
  setup_wire();
  node_init(&srv, 9, 0);
  node_init(&cli, 10, 0);
  nn_net_free(cli.net); /* again, with a cap of two idle channels */
  {
    nn_net_cfg_t cfg;
    nn_net_cfg_default(&cfg);
    cfg.identity = cli.id;
    cfg.network = NN_NET_REGTEST;
    cfg.max_idle_outbound = 2;
    cfg.idle_ms = 0;
    assert_int_equal(nn_net_new(&cli.net, base, &cfg), NN_OK);
    assert_int_equal(nn_net_add_transport(cli.net, pipe_transport_new(wire, "pipe-onion", NN_ADDR_ONION)), NN_OK);
    nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down, &cli.a, NULL };
    assert_int_equal(nn_net_register(cli.net, &a, &cli.ha), NN_OK);
  }
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c0), NN_OK);
  nn_net_hold(cli.net, cli.ha, c0, 1);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c1), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c2), NN_OK);
  run_until(three_ups, &cli.a);
  run_for_ms(5);
  const uint8_t m[] = { 0x10 };
  assert_int_equal(nn_net_send(cli.net, c2, m, 1), NN_OK); /* c1 is now the least recently used */
  assert_int_equal(cli.a.downs, 0);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c3), NN_OK); /* three unheld > 2 */
  run_until(downs_a, &cli.a);
  nn_net_conn_info_t info;
  assert_int_equal(cli.a.downs, 1);
  assert_int_equal(cli.a.down_conn, c1);
  assert_int_equal(nn_net_stats(cli.net)->trimmed, 1);
  assert_true(nn_net_conn_info(cli.net, c0, &info) && !info.closing);
  assert_true(nn_net_conn_info(cli.net, c2, &info) && !info.closing);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* A listening manager freed while a dial to it still waits for its accept: the transport closes
 * the stream it never handed over (the dialler hears a reset), and nothing touches the freed
 * listener afterwards (fuzz/fuzz_net.c, seed free_before_accept). */
static void
test_listener_freed_before_accept(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  setup_wire();
  node_init(&srv, 11, 0);
  node_init(&cli, 12, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c), NN_OK);
  node_free(&srv); /* no loop turn yet: the inbound end has not been offered to the manager */
  run_until(downs_a, &cli.a);
  assert_int_equal(cli.a.downs, 1);
  assert_int_equal(cli.a.down_conn, c);
  assert_int_equal(cli.a.ups, 0);
  if (cli.a.last_reason != NN_NET_CLOSE_IO && cli.a.last_reason != NN_NET_CLOSE_EOF)
    fail_msg("closed with %d (%s)", cli.a.last_reason, nn_net_close_reason_str(cli.a.last_reason));
  assert_int_equal(nn_net_stats(cli.net)->conns, 0);
  node_free(&cli);
  teardown_wire();
}

/* A tenant's on_down replaces another tenant (unregister, register the same kinds): the newcomer
 * takes the freed handle but never heard of the closing channel, so it gets no on_down for it
 * (fuzz/fuzz_net.c, seed replace_in_on_down). */
static node_t *replacer_node;
static seen_t replaced;

static void
t_down_replace(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  node_t *n = replacer_node;
  t_down(ctx, conn, info);
  nn_net_unregister(n->net, n->hb);
  nn_net_proto_t b2 = { "b2", 0x20, 0x2f, t_up, t_msg, t_down, &replaced, NULL };
  assert_int_equal(nn_net_register(n->net, &b2, &n->hb), NN_OK);
}

static void
test_replaced_in_on_down(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  int ha;
  setup_wire();
  node_init(&srv, 13, 0);
  node_init(&cli, 14, 0);
  /* tenant A again, now replacing tenant B (a higher handle) from its on_down */
  nn_net_unregister(srv.net, srv.ha);
  nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down_replace, &srv.a, NULL };
  assert_int_equal(nn_net_register(srv.net, &a, &ha), NN_OK);
  assert_true(ha < srv.hb);
  replacer_node = &srv;
  memset(&replaced, 0, sizeof(replaced));
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c), NN_OK);
  run_until(ups_a, &srv.a);
  assert_int_equal(srv.b.ups, 1);
  nn_net_close(cli.net, c, 0);
  run_until(downs_a, &srv.a);
  assert_int_equal(srv.a.downs, 1);
  assert_int_equal(srv.b.downs, 0); /* unregistered before its turn came */
  assert_int_equal(replaced.ups, 0);
  assert_int_equal(replaced.downs, 0); /* never told of the channel: no on_down */
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* A message queued before the handshake and longer than the peer's max_message (which only the
 * handshake tells) is dropped then, and counted like one a full queue refused; the rest of the
 * queue is delivered in order (fuzz/fuzz_net.c, seed queue_and_sizes). */
static void
test_queued_too_long_counted(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  setup_wire();
  node_init(&srv, 15, 0);
  node_init(&cli, 16, 0);
  nn_net_free(srv.net); /* again, taking messages of 64 KiB at most */
  {
    nn_net_cfg_t cfg;
    nn_net_cfg_default(&cfg);
    cfg.identity = srv.id;
    cfg.network = NN_NET_REGTEST;
    cfg.max_message = NN_CHAN_MIN_MAX_MESSAGE;
    assert_int_equal(nn_net_new(&srv.net, base, &cfg), NN_OK);
    assert_int_equal(nn_net_add_transport(srv.net, pipe_transport_new(wire, "pipe-onion", NN_ADDR_ONION)), NN_OK);
    nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down, &srv.a, NULL };
    assert_int_equal(nn_net_register(srv.net, &a, &srv.ha), NN_OK);
  }
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c), NN_OK);
  static uint8_t big[NN_CHAN_MIN_MAX_MESSAGE + 1];
  uint8_t small[10];
  memset(big, 0x11, sizeof(big));
  memset(small, 0x12, sizeof(small));
  assert_int_equal(nn_net_send(cli.net, c, big, sizeof(big)), NN_OK); /* the peer's cap is not known yet */
  assert_int_equal(nn_net_send(cli.net, c, small, sizeof(small)), NN_OK);
  run_until(has_msg, &srv.a);
  assert_int_equal(srv.a.msgs, 1);
  assert_int_equal(srv.a.last_kind, 0x12);
  assert_int_equal(srv.a.last_len, sizeof(small));
  assert_int_equal(nn_net_stats(cli.net)->queue_dropped, 1);
  nn_net_conn_info_t info;
  assert_true(nn_net_conn_info(cli.net, c, &info) && !info.closing);
  assert_int_equal(info.msgs_out, 1);
  /* once open, the peer's cap is known: refused at once */
  assert_int_equal(nn_net_send(cli.net, c, big, sizeof(big)), NN_ERR_TOO_LONG);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* A tenant that closes "as the peer" still sends its CLOSE record: the peer hears a close, not
 * an end of stream; a reason of the manager's own (32 and up) goes out as a normal close. */
static void
test_close_reason_sent(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  setup_wire();
  node_init(&srv, 11, 0);
  node_init(&cli, 12, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  for (int round = 0; round < 2; round++) {
    srv.a.ups = srv.a.downs = cli.a.downs = 0;
    assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c), NN_OK);
    run_until(ups_a, &srv.a);
    nn_net_close(cli.net, c, round ? NN_NET_CLOSE_IO : NN_CLOSE_PEER);
    run_until(downs_a, &srv.a);
    assert_int_equal(srv.a.last_reason, NN_CLOSE_PEER); /* a CLOSE record, not NN_NET_CLOSE_EOF */
    run_until(downs_a, &cli.a);
    assert_int_equal(cli.a.last_reason, NN_CLOSE_LOCAL);
  }
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* ---- budgets and deadlines (docs/ARCHITECTURE.md, "Memory budgets") ---- */

static int
msgs_reach(void *arg)
{
  return ((seen_t *)arg)->msgs >= ((seen_t *)arg)->want;
}

/* A server that answers each request with an 8 KiB reply, and a client on a pipe of 32 KiB. */
static void
serve_replies(node_t *srv, node_t *cli, uint64_t *c)
{
  nn_addr_t onion;
  srv->a.reply_len = 8192;
  pipe_wire_set_cap(wire, 32u << 10);
  assert_int_equal(nn_net_listen(srv->net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli->net, cli->ha, &onion, NULL, c), NN_OK);
  run_until(ups_a, &srv->a);
  assert_int_equal(srv->a.ups, 1);
}

static void
send_requests(node_t *cli, uint64_t c, int count)
{
  uint8_t req[64];
  memset(req, 0, sizeof(req));
  req[0] = 0x11;
  for (int i = 0; i < count; i++)
    assert_int_equal(nn_net_send(cli->net, c, req, sizeof(req)), NN_OK);
}

static void
small_output(nn_net_cfg_t *c)
{
  c->max_output = 64u << 10;
}

/* A peer that sends requests and does not read the replies (issue 10, item 1): once it owes
 * max_output the server takes no more of its requests (they wait, in order) and stops reading
 * its stream; when the peer reads again, every request is answered. Nothing is lost. */
static void
test_unread_replies_pause_requests(void **state)
{
  (void)state;
  node_t srv, cli;
  uint64_t c;
  setup_wire();
  node_init_with(&srv, 17, 0, small_output);
  node_init(&cli, 18, 0);
  serve_replies(&srv, &cli, &c);
  assert_true(pipe_transport_pause_reading(nn_net_transport(cli.net, "pipe-onion"), 0, 1));
  send_requests(&cli, c, 400);
  run_for_ms(300);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  /* answered: what the pipe holds (32 KiB) and max_output (64 KiB) of replies, one more at most */
  if (srv.a.msgs < 4 || srv.a.msgs > 14)
    fail_msg("the server answered %d of 400 requests before pausing (want 4..14)", srv.a.msgs);
  assert_int_equal(srv.a.replies_refused, 0);
  assert_true(st->deferred > 0);
  assert_true(st->backlog > 0);
  assert_true(st->output <= (64u << 10) + 8192 + 512);
  assert_int_equal(srv.a.downs, 0);
  /* the peer reads again: every request is answered, in order, and the budgets empty */
  assert_true(pipe_transport_pause_reading(nn_net_transport(cli.net, "pipe-onion"), 0, 0));
  cli.a.want = 400;
  run_until(msgs_reach, &cli.a);
  assert_int_equal(cli.a.msgs, 400);
  assert_int_equal(srv.a.msgs, 400);
  assert_int_equal(cli.a.last_kind, 0x12);
  assert_int_equal(cli.a.last_len, 8192);
  run_for_ms(20);
  assert_int_equal(st->backlog, 0);
  assert_int_equal(st->output, 0);
  assert_int_equal(srv.a.downs, 0);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static int
both_have_one(void *arg)
{
  node_t **ab = arg;
  return ab[0]->b.msgs >= 1 && ab[1]->b.msgs >= 1;
}

/* Two nodes send each other a message far above max_output at once: each owes the other more
 * than max_output, so neither takes the other's messages yet, but each reads on (the message
 * waits) and so lets the other's output drain. Both arrive; neither channel stalls. */
static void
test_crossing_large_messages(void **state)
{
  (void)state;
  node_t srv, cli;
  uint64_t c;
  static uint8_t big[2u << 20];
  memset(big, 0x21, sizeof(big));
  setup_wire();
  node_init_with(&srv, 32, 0, small_output);
  node_init_with(&cli, 33, 0, small_output);
  serve_replies(&srv, &cli, &c); /* a pipe of 32 KiB each way */
  uint64_t s = srv.a.last_conn;
  assert_int_equal(nn_net_send(srv.net, s, big, sizeof(big)), NN_OK);
  assert_int_equal(nn_net_send(cli.net, c, big, sizeof(big)), NN_OK);
  node_t *ab[2] = { &srv, &cli };
  run_until(both_have_one, ab);
  assert_int_equal(srv.b.msgs, 1);
  assert_int_equal(cli.b.msgs, 1);
  assert_int_equal(srv.b.last_len, sizeof(big));
  assert_int_equal(cli.b.last_len, sizeof(big));
  assert_int_equal(srv.a.downs + cli.a.downs, 0);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static void
quick_stall(nn_net_cfg_t *c)
{
  c->max_output = 64u << 10;
  c->stall_ms = 300;
  c->min_out_rate = 1024;
}

/* A peer that never reads what it asked for is closed (NN_CLOSE_SLOW) once stall_ms passes
 * without min_out_rate of progress; what the server held for it is given back at once. */
static void
test_stalled_reader_closed(void **state)
{
  (void)state;
  node_t srv, cli;
  uint64_t c;
  setup_wire();
  node_init_with(&srv, 19, 0, quick_stall);
  node_init(&cli, 20, 0);
  serve_replies(&srv, &cli, &c);
  assert_true(pipe_transport_pause_reading(nn_net_transport(cli.net, "pipe-onion"), 0, 1));
  send_requests(&cli, c, 100);
  run_until(downs_a, &srv.a); /* the check runs once a second */
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  assert_int_equal(srv.a.last_reason, NN_CLOSE_SLOW);
  assert_int_equal(st->closed_stalled, 1);
  assert_int_equal(st->closed[NN_CLOSE_SLOW], 1);
  assert_int_equal(st->output, 0);
  assert_int_equal(st->backlog, 0);
  assert_int_equal(st->open, 0);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

static void
hard_caps(nn_net_cfg_t *c)
{
  c->max_output_hard = 64u << 10;
  c->output_budget = 48u << 10; /* sends stop at twice this: 96 KiB in all */
}

/* Sends above a channel's max_output_hard, or above twice the node's output budget, fail with
 * NN_ERR_NOSPACE and are counted; nothing is queued past them. */
static void
test_send_hard_caps(void **state)
{
  (void)state;
  node_t srv, cli1, cli2;
  nn_addr_t onion;
  uint64_t c1, c2;
  uint8_t m[8192];
  memset(m, 0x13, sizeof(m));
  setup_wire();
  pipe_wire_set_cap(wire, 16u << 10);
  node_init_with(&srv, 21, 0, hard_caps);
  node_init(&cli1, 22, 0);
  node_init(&cli2, 23, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli1.net, cli1.ha, &onion, NULL, &c1), NN_OK);
  run_until(ups_a, &srv.a);
  uint64_t s1 = srv.a.last_conn;
  assert_int_equal(nn_net_dial(cli2.net, cli2.ha, &onion, NULL, &c2), NN_OK);
  srv.a.want = 2;
  run_until(ups_reach, &srv.a);
  uint64_t s2 = srv.a.last_conn;
  assert_true(s1 && s2 && s1 != s2);
  assert_true(pipe_transport_pause_reading(nn_net_transport(cli1.net, "pipe-onion"), 0, 1));
  assert_true(pipe_transport_pause_reading(nn_net_transport(cli2.net, "pipe-onion"), 0, 1));
  run_for_ms(10);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  int sent1 = 0, sent2 = 0;
  while (nn_net_send(srv.net, s1, m, sizeof(m)) == NN_OK) {
    sent1++;
    run_for_ms(1); /* the pipe takes what it can */
    assert_true(sent1 < 100);
  }
  assert_int_equal(st->send_refused, 1);
  assert_true(nn_net_pending(srv.net, s1) + sizeof(m) > (64u << 10));
  assert_true(nn_net_pending(srv.net, s1) <= (64u << 10));
  /* the second channel stops at the node's cap, well below its own */
  while (nn_net_send(srv.net, s2, m, sizeof(m)) == NN_OK) {
    sent2++;
    run_for_ms(1);
    assert_true(sent2 < 100);
  }
  assert_int_equal(st->send_refused, 2);
  assert_true(st->output <= (96u << 10));
  assert_true(st->output + sizeof(m) > (96u << 10));
  assert_true(nn_net_pending(srv.net, s2) + sizeof(m) <= (64u << 10));
  node_free(&cli1);
  node_free(&cli2);
  node_free(&srv);
  teardown_wire();
}

static void
small_reassembly(nn_net_cfg_t *c)
{
  /* one partial message (two fragments, 128 KiB) and a third record half received (64 KiB) fit */
  c->reassembly_budget = 256u << 10;
}

/* Partial messages are capped node-wide: when a second peer's partial message takes the total
 * over the budget, the channel with the oldest one closes (NN_CLOSE_SLOW) and the other's
 * message completes. */
static void
test_reassembly_budget_oldest_goes(void **state)
{
  (void)state;
  node_t srv, cli1, cli2;
  nn_addr_t onion;
  uint64_t c1, c2;
  static uint8_t big[300u << 10];
  memset(big, 0x14, sizeof(big));
  setup_wire();
  node_init_with(&srv, 24, 0, small_reassembly);
  node_init(&cli1, 25, 0);
  node_init(&cli2, 26, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli1.net, cli1.ha, &onion, NULL, &c1), NN_OK);
  run_until(ups_a, &srv.a);
  uint64_t s1 = srv.a.last_conn;
  assert_int_equal(nn_net_dial(cli2.net, cli2.ha, &onion, NULL, &c2), NN_OK);
  srv.a.want = 2;
  run_until(ups_reach, &srv.a);
  uint64_t s2 = srv.a.last_conn;
  /* each client gets 150 KiB of its 300 KiB message out, then stalls */
  assert_true(pipe_transport_write_limit(nn_net_transport(cli1.net, "pipe-onion"), 0, 150u << 10));
  assert_int_equal(nn_net_send(cli1.net, c1, big, sizeof(big)), NN_OK);
  run_for_ms(50);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  uint64_t one = st->reassembly;
  if (one <= (128u << 10) || one > (200u << 10))
    fail_msg("one partial message holds %llu bytes (want 128..200 KiB)", (unsigned long long)one);
  assert_true(pipe_transport_write_limit(nn_net_transport(cli2.net, "pipe-onion"), 0, 150u << 10));
  assert_int_equal(nn_net_send(cli2.net, c2, big, sizeof(big)), NN_OK);
  run_until(downs_a, &srv.a);
  assert_int_equal(srv.a.down_conn, s1);
  assert_int_equal(srv.a.last_reason, NN_CLOSE_SLOW);
  assert_int_equal(st->evicted_reassembly, 1);
  assert_int_equal(st->reassembly, one); /* the survivor's, the same size */
  /* the survivor's message completes */
  assert_true(pipe_transport_write_limit(nn_net_transport(cli2.net, "pipe-onion"), 0, SIZE_MAX));
  run_until(has_msg, &srv.a);
  assert_int_equal(srv.a.msgs, 1);
  assert_int_equal(srv.a.last_conn, s2);
  assert_int_equal(srv.a.last_len, sizeof(big));
  assert_int_equal(st->reassembly, 0);
  node_free(&cli1);
  node_free(&cli2);
  node_free(&srv);
  teardown_wire();
}

static void
quick_deadlines(nn_net_cfg_t *c)
{
  c->message_ms = 300;
  c->idle_inbound_ms = 300;
}

/* A message that does not arrive whole within message_ms closes its channel (NN_CLOSE_SLOW). */
static void
test_message_deadline(void **state)
{
  (void)state;
  node_t srv, cli;
  nn_addr_t onion;
  uint64_t c;
  static uint8_t big[200u << 10];
  memset(big, 0x15, sizeof(big));
  setup_wire();
  node_init_with(&srv, 27, 0, quick_deadlines);
  node_init(&cli, 28, 0);
  srv.a.hold_on_up = 1; /* not idle: only the message deadline applies */
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, NULL, &c), NN_OK);
  run_until(ups_a, &srv.a);
  assert_true(pipe_transport_write_limit(nn_net_transport(cli.net, "pipe-onion"), 0, 100u << 10));
  assert_int_equal(nn_net_send(cli.net, c, big, sizeof(big)), NN_OK);
  run_until(downs_a, &srv.a);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  assert_int_equal(srv.a.last_reason, NN_CLOSE_SLOW);
  assert_int_equal(st->closed_message_time, 1);
  assert_int_equal(st->reassembly, 0);
  assert_int_equal(srv.a.msgs, 0);
  node_free(&cli);
  node_free(&srv);
  teardown_wire();
}

/* An inbound channel that no tenant holds and nobody uses closes after idle_inbound_ms, as a
 * normal close; one a tenant holds stays. */
static void
test_idle_inbound_closed(void **state)
{
  (void)state;
  node_t srv, cli1, cli2;
  nn_addr_t onion;
  uint64_t c1, c2;
  setup_wire();
  node_init_with(&srv, 29, 0, quick_deadlines);
  node_init(&cli1, 30, 0);
  node_init(&cli2, 31, 0);
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli1.net, cli1.ha, &onion, NULL, &c1), NN_OK);
  run_until(ups_a, &srv.a);
  uint64_t s1 = srv.a.last_conn;
  srv.a.hold_on_up = 1;
  assert_int_equal(nn_net_dial(cli2.net, cli2.ha, &onion, NULL, &c2), NN_OK);
  srv.a.want = 2;
  run_until(ups_reach, &srv.a);
  uint64_t s2 = srv.a.last_conn;
  run_until(downs_a, &srv.a);
  assert_int_equal(srv.a.down_conn, s1);
  assert_int_equal(srv.a.last_reason, NN_CLOSE_LOCAL);
  assert_int_equal(nn_net_stats(srv.net)->closed_idle, 1);
  run_until(downs_a, &cli1.a);
  assert_int_equal(cli1.a.last_reason, NN_CLOSE_PEER);
  run_for_ms(1200); /* another check: the held one stays */
  nn_net_conn_info_t info;
  assert_true(nn_net_conn_info(srv.net, s2, &info) && !info.closing);
  assert_int_equal(srv.a.downs, 1);
  node_free(&cli1);
  node_free(&cli2);
  node_free(&srv);
  teardown_wire();
}

/* ---- handshake steps on worker threads ---- */

static void
tweak_pool_cookies(nn_net_cfg_t *cfg)
{
  cfg->workers = 2;
  cfg->rng = NULL;
  cfg->limits.max_per_ip = 0;
  cfg->limits.ip_rate = 0;
  cfg->limits.max_half_open_per_group = 0;
  cfg->limits.load_half_open = 0; /* a cookie round for every handshake: the jar is read on workers */
}

typedef struct many_t {
  node_t *srv;
  int want;
} many_t;

static int
srv_has_msgs(void *arg)
{
  many_t *m = arg;
  return m->srv->a.msgs >= m->want;
}

/* Sixteen clients at once against a listener whose handshake steps run on two workers, each
 * through a cookie round: every channel comes up, every message queued before its handshake
 * ended arrives (it travels behind msg3, so the responder's worker records it and the loop
 * replays it after ESTABLISHED), and no step is left out. */
static void
test_handshakes_on_workers(void **state)
{
  (void)state;
  enum { N = 16 };
  node_t srv, cli[N];
  nn_addr_t at;
  uint64_t c;
  setup_wire();
  node_init_with(&srv, 40, 1, tweak_pool_cookies);
  assert_int_equal(nn_net_listen(srv.net, "tcp", "127.0.0.1:0", &at, NULL, 0), NN_OK);
  for (int i = 0; i < N; i++) {
    uint8_t hello[] = { 0x11, (uint8_t)i };
    node_init(&cli[i], (uint8_t)(41 + i), 1);
    assert_int_equal(nn_net_dial(cli[i].net, cli[i].ha, &at, nn_identity_node_id(srv.id), &c), NN_OK);
    assert_int_equal(nn_net_send(cli[i].net, c, hello, sizeof(hello)), NN_OK);
  }
  many_t m = { &srv, N };
  for (int k = 0; k < 10 && srv.a.msgs < N; k++)
    run_until(srv_has_msgs, &m);
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  assert_int_equal(srv.a.ups, N);
  assert_int_equal(srv.a.msgs, N);
  assert_int_equal(st->handshakes, N);
  assert_int_equal(st->cookies_sent, N);
  assert_int_equal(st->hs_workers, 2);
  assert_true(st->hs_offloaded >= 3 * N); /* msg1, its retry with the cookie, msg3 */
  assert_int_equal(st->hs_out, 0);
  assert_true(st->hs_max_out >= 1);
  assert_int_equal(st->half_open, 0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(cli[i].a.ups, 1);
    if (!workers) /* the clients take their steps on the loop unless the whole suite runs on pools */
      assert_int_equal(nn_net_stats(cli[i].net)->hs_offloaded, 0);
  }
  /* Freed while a step is out: the step finishes on its worker, the channel is freed after it
   * (the sanitizer build checks nothing leaks and nothing is touched after free). */
  node_t late;
  node_init(&late, 99, 1);
  assert_int_equal(nn_net_dial(late.net, late.ha, &at, nn_identity_node_id(srv.id), &c), NN_OK);
  uint64_t before = st->hs_offloaded;
  for (int i = 0; i < 200000 && !st->hs_out; i++)
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  assert_true(st->hs_out == 1 && st->hs_offloaded == before + 1);
  node_free(&srv);
  node_free(&late);
  for (int i = 0; i < N; i++)
    node_free(&cli[i]);
  teardown_wire();
}

/* A raw initiator over a non-blocking TCP socket, driven between turns of the event loop. */
static int
raw_flush(nn_chan_t *ch, int fd)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(ch, &d, &n);
  if (!n)
    return 0;
  ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
  if (w > 0)
    nn_chan_output_consume(ch, (size_t)w);
  return w < 0 && errno != EAGAIN ? -1 : 0;
}

/* An empty message right behind msg3 reaches the responder's worker with msg3: replayed on the
 * loop it closes the channel as a protocol violation, exactly as without a pool (an empty
 * message has no kind). */
static void
test_empty_message_behind_msg3(void **state)
{
  (void)state;
  node_t srv;
  nn_addr_t at;
  setup_wire();
  node_init_with(&srv, 60, 1, tweak_pool_cookies);
  assert_int_equal(nn_net_listen(srv.net, "tcp", "127.0.0.1:0", &at, NULL, 0), NN_OK);
  struct sockaddr_in sa = { 0 };
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(at.port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  nn_chan_config_t cc = { 0 };
  nn_chan_t *ch;
  cc.role = NN_CHAN_INITIATOR;
  cc.network = NN_NET_REGTEST;
  assert_int_equal(nn_chan_new(&ch, &cc, 0), NN_OK);
  uint8_t buf[16384];
  int sent_empty = 0;
  for (int i = 0; i < 5000 && !nn_chan_is_closed(ch); i++) {
    assert_int_equal(raw_flush(ch, fd), 0);
    run_for_ms(1);
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0)
      break; /* the server closed */
    if (n > 0)
      (void)nn_chan_recv(ch, buf, (size_t)n, 0);
    if (nn_chan_is_established(ch) && !sent_empty) {
      assert_int_equal(nn_chan_send(ch, buf, 0), NN_OK); /* queued behind msg3, one write */
      sent_empty = 1;
    }
  }
  const nn_net_stats_t *st = nn_net_stats(srv.net);
  assert_true(sent_empty);
  assert_int_equal(st->handshakes, 1);
  assert_int_equal(st->unknown_kind, 1);
  assert_int_equal(st->closed[NN_CLOSE_PROTOCOL], 1);
  assert_true(st->hs_offloaded >= 2);
  nn_chan_free(ch);
  close(fd);
  node_free(&srv);
  teardown_wire();
}

/* A pool needs OpenSSL's generator: a caller's would be called from several threads. */
static void
tweak_pool_with_rng(nn_net_cfg_t *cfg)
{
  cfg->workers = 2;
}

static void
test_pool_refuses_own_rng(void **state)
{
  (void)state;
  nn_net_cfg_t cfg;
  nn_drbg_t drbg;
  nn_rng_t rng;
  nn_net_t *n;
  setup_wire();
  nn_drbg_init_u64(&drbg, 7);
  rng = nn_drbg_rng(&drbg);
  nn_net_cfg_default(&cfg);
  cfg.network = NN_NET_REGTEST;
  cfg.rng = &rng;
  tweak_pool_with_rng(&cfg);
  assert_int_equal(nn_net_new(&n, base, &cfg), NN_ERR_ARG);
  assert_null(n);
  cfg.workers = NN_WORKERS_MAX + 1;
  cfg.rng = NULL;
  assert_int_equal(nn_net_new(&n, base, &cfg), NN_ERR_ARG);
  cfg.workers = 1;
  assert_int_equal(nn_net_new(&n, base, &cfg), NN_OK);
  assert_int_equal(nn_net_stats(n)->hs_workers, 1);
  nn_net_free(n);
  teardown_wire();
}

int
main(int argc, char **argv)
{
  if (argc == 3 && !strcmp(argv[1], "--workers"))
    workers = (unsigned)atoi(argv[2]);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_two_fake_transports),
    cmocka_unit_test(test_dial_nets),
    cmocka_unit_test(test_link_padding),
    cmocka_unit_test(test_stream_moved),
    cmocka_unit_test(test_unregistered_kind),
    cmocka_unit_test(test_banned_before_handshake),
    cmocka_unit_test(test_register_at_run_time),
    cmocka_unit_test(test_idle_cap_and_holds),
    cmocka_unit_test(test_listener_freed_before_accept),
    cmocka_unit_test(test_replaced_in_on_down),
    cmocka_unit_test(test_queued_too_long_counted),
    cmocka_unit_test(test_close_reason_sent),
    cmocka_unit_test(test_unread_replies_pause_requests),
    cmocka_unit_test(test_stalled_reader_closed),
    cmocka_unit_test(test_crossing_large_messages),
    cmocka_unit_test(test_send_hard_caps),
    cmocka_unit_test(test_reassembly_budget_oldest_goes),
    cmocka_unit_test(test_message_deadline),
    cmocka_unit_test(test_idle_inbound_closed),
    cmocka_unit_test(test_handshakes_on_workers),
    cmocka_unit_test(test_pool_refuses_own_rng),
    cmocka_unit_test(test_empty_message_behind_msg3),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
