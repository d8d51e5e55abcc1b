/*
 * The connection manager (src/net/net.h) with real channels over fake and real transports:
 * two in-memory transports (tests/pipe_transport.c) each carry a channel; a message of a kind
 * nobody registered closes its channel with NN_CLOSE_UNSUPPORTED and reaches no tenant; a
 * banned host is refused on TCP before any handshake work; tenants register and unregister at
 * run time; the pre-handshake queue; holds and the idle cap (LRU).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "crypto/identity.h"
#include "net/net.h"
#include "net/tcp.h"
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

static void
t_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  seen_t *s = ctx;
  assert_true(info->established);
  s->ups++;
  s->last_conn = conn;
}

static void
t_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  seen_t *s = ctx;
  s->msgs++;
  s->last_conn = conn;
  s->last_kind = msg[0];
  s->last_len = len;
}

static void
t_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  seen_t *s = ctx;
  s->downs++;
  s->down_conn = conn;
  s->last_reason = info->reason;
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

static void
node_init(node_t *n, uint8_t seed, int with_tcp)
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
  assert_int_equal(nn_net_new(&n->net, base, &cfg), NN_OK);
  assert_int_equal(nn_net_add_transport(n->net, pipe_transport_new(wire, "pipe-onion", NN_ADDR_ONION)), NN_OK);
  assert_int_equal(nn_net_add_transport(n->net, pipe_transport_new(wire, "pipe-i2p", NN_ADDR_I2P)), NN_OK);
  if (with_tcp) {
    nn_transport_t *t;
    assert_int_equal(nn_tcp_transport_new(&t, base, NULL), NN_OK);
    assert_int_equal(nn_net_add_transport(n->net, t), NN_OK);
  }
  nn_net_policy_t pol = { p_allowed, NULL, n };
  nn_net_set_policy(n->net, &pol);
  nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down, &n->a };
  nn_net_proto_t b = { "b", 0x20, 0x2f, t_up, t_msg, t_down, &n->b };
  assert_int_equal(nn_net_register(n->net, &a, &n->ha), NN_OK);
  assert_int_equal(nn_net_register(n->net, &b, &n->hb), NN_OK);
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
  while (srv.a.msgs < 1 || srv.b.msgs < 1)
    run_until(has_msg, &srv.b);
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
  nn_net_proto_t p = { "late", 0x40, 0x4f, t_up, t_msg, t_down, &late };
  /* overlapping another tenant's range is refused */
  nn_net_proto_t clash = { "clash", 0x1f, 0x40, t_up, t_msg, t_down, &late };
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
    nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down, &cli.a };
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
  nn_net_proto_t b2 = { "b2", 0x20, 0x2f, t_up, t_msg, t_down, &replaced };
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
  nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down_replace, &srv.a };
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
  nn_net_free(srv.net); /* again, taking messages of 256 bytes at most */
  {
    nn_net_cfg_t cfg;
    nn_net_cfg_default(&cfg);
    cfg.identity = srv.id;
    cfg.network = NN_NET_REGTEST;
    cfg.max_message = 256;
    assert_int_equal(nn_net_new(&srv.net, base, &cfg), NN_OK);
    assert_int_equal(nn_net_add_transport(srv.net, pipe_transport_new(wire, "pipe-onion", NN_ADDR_ONION)), NN_OK);
    nn_net_proto_t a = { "a", 0x10, 0x1f, t_up, t_msg, t_down, &srv.a };
    assert_int_equal(nn_net_register(srv.net, &a, &srv.ha), NN_OK);
  }
  assert_int_equal(nn_net_listen(srv.net, "pipe-onion", ONION_A, NULL, NULL, 0), NN_OK);
  assert_int_equal(nn_addr_parse(&onion, ONION_A), NN_OK);
  assert_int_equal(nn_net_dial(cli.net, cli.ha, &onion, nn_identity_node_id(srv.id), &c), NN_OK);
  uint8_t big[300], small[10];
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

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_two_fake_transports),     cmocka_unit_test(test_unregistered_kind),
    cmocka_unit_test(test_banned_before_handshake), cmocka_unit_test(test_register_at_run_time),
    cmocka_unit_test(test_idle_cap_and_holds),      cmocka_unit_test(test_listener_freed_before_accept),
    cmocka_unit_test(test_replaced_in_on_down),     cmocka_unit_test(test_queued_too_long_counted),
    cmocka_unit_test(test_close_reason_sent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
