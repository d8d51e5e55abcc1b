/*
 * The mixnet client (src/mixnet/client.c) against real mix cores in virtual time: a message
 * goes out as fragments, crosses three layers and is rebuilt at the exit; loops come back and
 * credit their mixes, a mix that drops everything loses its standing; a message changes what the
 * payload stream sends, never when; the stream's rate; the queue's caps.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nepnet/identity.h"
#include "crypto/identity.h"
#include "crypto/rand.h"
#include "mixnet/client.h"
#include "mixnet/dir.h"
#include "mixnet/frag.h"
#include "mixnet/mix.h"

#define NET 0x4e455052u
#define NMIX 9
#define CLIENT NMIX     /* node index of the client (its own mix core takes its loops) */
#define EXIT (NMIX + 1) /* node index of the exit */
#define NNODE (NMIX + 2)
#define EPOCH_MS 3600000ull
#define T0 (EPOCH_MS * 490000 + 60000)

typedef struct pkt_t {
  int to;
  int from;
  uint8_t *p;
} pkt_t;

typedef struct world_t world_t;
typedef struct node_t {
  world_t *w;
  int me;
  nn_mix_t *mix;
  nn_hash_t id;
} node_t;

struct world_t {
  node_t node[NNODE];
  nn_identity_t *ident[NMIX];
  nn_mixdir_t *dir;
  nn_drbg_t dir_drbg, cli_drbg;
  nn_rng_t dir_rng, cli_rng;
  nn_mixclient_t *cli;
  nn_reasm_t *reasm;
  pkt_t *net;
  size_t nnet, capnet;
  uint64_t now;
  int dead_mix;   /* packets to this mix vanish (-1: none) */
  unsigned lossy; /* run(): carry > 1 drops every carry-th packet handed over */
  uint8_t *got;
  size_t got_len;
  uint64_t got_at;
  uint64_t sends;
  uint64_t send_times[64];
};

static int
node_of(world_t *w, const nn_hash_t *id)
{
  for (int i = 0; i < NNODE; i++)
    if (!memcmp(w->node[i].id.b, id->b, NN_HASH_LEN))
      return i;
  return -1;
}

static void
queue_packet(world_t *w, int from, const nn_hash_t *to, const uint8_t *packet, size_t len)
{
  int t = node_of(w, to);
  assert_true(t >= 0);
  if (t == w->dead_mix)
    return;
  if (w->nnet == w->capnet) {
    w->capnet = w->capnet ? 2 * w->capnet : 64;
    w->net = realloc(w->net, w->capnet * sizeof(*w->net));
    assert_non_null(w->net);
  }
  uint8_t *copy = malloc(len);
  assert_non_null(copy);
  memcpy(copy, packet, len);
  w->net[w->nnet++] = (pkt_t){ t, from, copy };
}

static void
mix_send(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len)
{
  node_t *n = ctx;
  queue_packet(n->w, n->me, next, packet, len);
}

static void
mix_deliver(void *ctx, const uint8_t *body, size_t len)
{
  node_t *n = ctx;
  world_t *w = n->w;
  if (n->me == CLIENT) {
    assert_int_equal(body[0], NN_BODY_LOOP);
    assert_true(nn_mixclient_loop_back(w->cli, body, len, w->now));
  } else if (n->me == EXIT) {
    uint8_t *msg = NULL, deliver;
    size_t mlen;
    if (body[0] == NN_FRAG_TYPE && nn_reasm_add(w->reasm, body, w->now, &msg, &mlen, &deliver) == NN_REASM_COMPLETE) {
      free(w->got);
      w->got = msg;
      w->got_len = mlen;
      w->got_at = w->now;
    } else {
      assert_true(body[0] == NN_FRAG_TYPE || body[0] == NN_BODY_DROP);
    }
  } else {
    fail_msg("a mix was the last hop");
  }
}

static void
cli_send(void *ctx, const nn_hash_t *first, const uint8_t *packet, size_t len)
{
  world_t *w = ctx;
  if (w->sends < 64)
    w->send_times[w->sends] = w->now;
  w->sends++;
  queue_packet(w, CLIENT, first, packet, len);
}

static int
cli_pick_exit(void *ctx, uint32_t epoch, nn_hash_t *exit, nn_hybrid_pk_t *pk)
{
  world_t *w = ctx;
  const nn_hybrid_pk_t *k = nn_mix_public_key(w->node[EXIT].mix, epoch);
  if (!k)
    return 0;
  *exit = w->node[EXIT].id;
  *pk = *k;
  return 1;
}

static world_t *
world_new_at(uint64_t seed, uint64_t start)
{
  world_t *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  w->now = start;
  w->dead_mix = -1;
  nn_drbg_init_u64(&w->dir_drbg, seed);
  w->dir_rng = nn_drbg_rng(&w->dir_drbg);
  nn_drbg_init_u64(&w->cli_drbg, seed + 1);
  w->cli_rng = nn_drbg_rng(&w->cli_drbg);
  nn_mixdir_cfg_t dc;
  nn_mixdir_cfg_default(&dc, NET);
  dc.rng = &w->dir_rng;
  assert_int_equal(nn_mixdir_new(&w->dir, &dc), NN_OK);
  nn_mix_cfg_t mc;
  nn_mix_cfg_default(&mc);
  for (int i = 0; i < NNODE; i++) {
    node_t *n = &w->node[i];
    n->w = w;
    n->me = i;
    nn_mix_io_t io = { mix_send, mix_deliver, NULL, n };
    nn_mix_cfg_t c = mc;
    c.relay = i < NMIX; /* the client and the exit only receive */
    assert_int_equal(nn_mix_new(&n->mix, &c, &io, NULL, 0, w->now), NN_OK);
    memset(n->id.b, 0xc0 + i, NN_HASH_LEN);
  }
  uint32_t e = nn_mix_epoch_at(w->node[0].mix, w->now);
  for (int i = 0; i < NMIX; i++) { /* the mixes: identities, descriptors, the directory */
    nn_drbg_t d;
    nn_drbg_init_u64(&d, 2000 + (uint64_t)i);
    nn_rng_t r = nn_drbg_rng(&d);
    assert_int_equal(nn_identity_generate_rng(&w->ident[i], &r), NN_OK);
    memcpy(w->node[i].id.b, nn_identity_node_id(w->ident[i])->b, NN_HASH_LEN);
    nn_mixdesc_t md;
    memset(&md, 0, sizeof(md));
    md.network = NET;
    md.epoch = e;
    md.issued_at = w->now / 1000;
    md.n_addrs = 1;
    assert_int_equal(nn_addr_parse(&md.addrs[0], "100.20.30.40:9798"), NN_OK);
    md.addrs[0].host[0] = (uint8_t)(100 + i);
    md.keys[0] = *nn_mix_public_key(w->node[i].mix, e);
    md.keys[1] = *nn_mix_public_key(w->node[i].mix, e + 1);
    uint8_t buf[NN_MIXDESC_MAX_LEN];
    size_t len;
    assert_int_equal(nn_mixdesc_build(&md, w->ident[i], NULL, buf, sizeof(buf), &len), NN_OK);
    assert_int_equal(nn_mixdir_add(w->dir, buf, len, e, w->now / 1000), NN_MIXDIR_ADDED);
  }
  nn_mixclient_cfg_t cc;
  nn_mixclient_cfg_default(&cc);
  cc.rng = &w->cli_rng;
  cc.self = w->node[CLIENT].id;
  cc.payload_rate = 5;
  cc.loop_rate = 2;
  nn_mixclient_io_t cio = { cli_send, cli_pick_exit, w };
  assert_int_equal(nn_mixclient_new(&w->cli, &cc, &cio, w->dir, w->now), NN_OK);
  nn_mixclient_set_self_key(w->cli, e, nn_mix_public_key(w->node[CLIENT].mix, e));
  nn_mixclient_set_self_key(w->cli, e + 1, nn_mix_public_key(w->node[CLIENT].mix, e + 1));
  nn_reasm_cfg_t rc;
  nn_reasm_cfg_default(&rc, mc.geom.body_len);
  assert_int_equal(nn_reasm_new(&w->reasm, &rc), NN_OK);
  return w;
}

static world_t *
world_new(uint64_t seed, int deliver)
{
  (void)deliver;
  return world_new_at(seed, T0);
}

static void
world_free(world_t *w)
{
  for (size_t i = 0; i < w->nnet; i++)
    free(w->net[i].p);
  free(w->net);
  nn_mixclient_free(w->cli);
  for (int i = 0; i < NNODE; i++)
    nn_mix_free(w->node[i].mix);
  for (int i = 0; i < NMIX; i++)
    nn_identity_free(w->ident[i]);
  nn_mixdir_free(w->dir);
  nn_reasm_free(w->reasm);
  free(w->got);
  free(w);
}

/* Run until \a until: packets in flight are handed over at once, then time moves to the next
 * deadline of any core. \a carry: 0 drops what the client sends (timing tests), 1 carries
 * everything, N > 1 every packet but each N-th. */
static void
run(world_t *w, uint64_t until, int carry)
{
  while (w->now < until) {
    while (w->nnet) {
      pkt_t p = w->net[--w->nnet];
      if (carry && (carry == 1 || ++w->lossy % (unsigned)carry))
        (void)nn_mix_recv(w->node[p.to].mix, &w->node[p.from].id, p.p, NN_SPHINX_DEFAULT_LEN, w->now);
      free(p.p);
    }
    uint64_t next = nn_mixclient_deadline(w->cli);
    for (int i = 0; i < NNODE; i++) {
      uint64_t d = nn_mix_deadline(w->node[i].mix);
      next = d < next ? d : next;
    }
    if (next > until)
      next = until;
    w->now = next > w->now ? next : w->now;
    nn_mixclient_tick(w->cli, w->now);
    for (int i = 0; i < NNODE; i++)
      nn_mix_tick(w->node[i].mix, w->now);
    nn_reasm_tick(w->reasm, w->now);
  }
}

/* The exit's recipient keys for the epoch at \a now and the next, as its RKEY gives them. */
static uint32_t
exit_keys(world_t *w, uint64_t now, nn_hybrid_pk_t keys[2])
{
  uint32_t e = nn_mix_epoch_at(w->node[EXIT].mix, now);
  keys[0] = *nn_mix_public_key(w->node[EXIT].mix, e);
  keys[1] = *nn_mix_public_key(w->node[EXIT].mix, e + 1);
  return e;
}

static uint8_t *
message(size_t len)
{
  uint8_t *m = malloc(len);
  assert_non_null(m);
  for (size_t i = 0; i < len; i++)
    m[i] = (uint8_t)(i * 31 + 7);
  return m;
}

static void
test_message_and_loops(void **state)
{
  (void)state;
  world_t *w = world_new(1, 1);
  size_t len = 100000; /* 4 fragments and 2 parity */
  uint8_t *m = message(len);
  nn_hybrid_pk_t xk[2];
  uint32_t xe = exit_keys(w, w->now, xk);
  assert_int_equal(nn_mixclient_send(w->cli, m, len, NN_FRAG_TO_DANDELION, &w->node[EXIT].id, xe, xk, w->now), NN_OK);
  run(w, T0 + 60000, 1);
  assert_non_null(w->got);
  assert_int_equal(w->got_len, len);
  assert_memory_equal(w->got, m, len);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_int_equal(st.real_sent, 6);
  assert_true(st.drop_sent > 200); /* 5/s for a minute, minus the 6 real ones */
  assert_true(st.loops_sent > 60);
  assert_true(st.loops_back + st.loops_out >= st.loops_sent - 1);
  assert_int_equal(st.loops_lost, 0);
  assert_int_equal(st.no_route, 0);
  for (int i = 0; i < NMIX; i++) /* every mix that carried loops is credited */
    assert_true(nn_mixdir_reliability(w->dir, nn_identity_node_id(w->ident[i])) >= 0.5);
  free(m);
  world_free(w);
}

/* A message whose fragments leave on both sides of a key epoch's end: those after it use the
 * mixes' and the exit's next keys, and the message arrives; one queued for an epoch long gone is
 * dropped, not sent to keys nobody holds. */
static void
test_epoch_crossing(void **state)
{
  (void)state;
  uint64_t start = EPOCH_MS * 490001 - 600; /* 0.6 s before epoch 490001 */
  world_t *w = world_new_at(11, start);
  size_t len = 100000;
  uint8_t *m = message(len);
  nn_hybrid_pk_t xk[2];
  uint32_t xe = exit_keys(w, w->now, xk);
  assert_int_equal(xe, 490000);
  assert_int_equal(nn_mixclient_send(w->cli, m, len, NN_FRAG_TO_DANDELION, &w->node[EXIT].id, xe, xk, w->now), NN_OK);
  run(w, start + 30000, 1);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_non_null(w->got);
  assert_memory_equal(w->got, m, len);
  assert_true(w->send_times[0] < EPOCH_MS * 490001); /* some before the switch ... */
  assert_int_equal(st.real_sent, 6);
  assert_int_equal(st.expired, 0);
  /* keys for 490000 and 490001, sent in 490002: dropped */
  assert_int_equal(nn_mixclient_send(w->cli, m, len, NN_FRAG_TO_DANDELION, &w->node[EXIT].id, xe, xk, w->now), NN_OK);
  uint64_t later = EPOCH_MS * 490002 + 1000;
  w->now = later - 1;
  run(w, later + 10000, 0);
  nn_mixclient_stats(w->cli, &st);
  assert_true(st.expired > 0);
  free(m);
  world_free(w);
}

/* A mix that drops everything: the loops through it are lost, its score falls, routes avoid it. */
static void
test_dead_mix(void **state)
{
  (void)state;
  world_t *w = world_new(3, 1);
  w->dead_mix = 4;
  run(w, T0 + 120000, 1);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_true(st.loops_lost > 0);
  const nn_node_id_t *dead = nn_identity_node_id(w->ident[4]);
  assert_true(nn_mixdir_reliability(w->dir, dead) < 0.6);
  for (int i = 0; i < NMIX; i++)
    if (i != 4)
      assert_true(nn_mixdir_reliability(w->dir, nn_identity_node_id(w->ident[i])) >
                  nn_mixdir_reliability(w->dir, dead));
  /* from now on its layer's other mixes carry everything */
  uint64_t lost = st.loops_lost;
  run(w, T0 + 240000, 1);
  nn_mixclient_stats(w->cli, &st);
  assert_true(st.loops_lost - lost < 5);
  world_free(w);
}

/* Loops lost raise the parity of the next message so that it still arrives: here every 7th
 * packet handed over is lost (about 46% of 4-hop paths). */
static void
test_loss_raises_parity(void **state)
{
  (void)state;
  world_t *w = world_new(4, 1);
  size_t len = 100000; /* k = 4: 2 parity fragments without loss */
  uint8_t *m = message(len);
  nn_hybrid_pk_t xk[2];
  run(w, T0 + 60000, 7);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_true(st.loops_back + st.loops_lost >= 20);
  assert_true(st.loss > 0.2 && st.loss < 0.8);
  uint32_t xe = exit_keys(w, w->now, xk);
  assert_int_equal(nn_mixclient_send(w->cli, m, len, NN_FRAG_TO_DANDELION, &w->node[EXIT].id, xe, xk, w->now), NN_OK);
  nn_mixclient_stats(w->cli, &st);
  double p = st.loss > 0.5 ? 0.5 : st.loss;
  assert_int_equal(st.queued, (size_t)(ceil(4 / (1 - 1.5 * p)) + 4)); /* more than 6 */
  assert_true(st.queued > 6);
  run(w, T0 + 180000, 7);
  assert_non_null(w->got);
  assert_int_equal(w->got_len, len);
  assert_memory_equal(w->got, m, len);
  free(m);
  world_free(w);
}

/* With a burst rate, a message's packets leave at that rate from the moment it is queued, not
 * after the payload stream's next event (here 0.1/s: 10 s on average). */
static void
test_burst_starts_at_once(void **state)
{
  (void)state;
  world_t *w = world_new(11, 1);
  nn_mixclient_cfg_t cc;
  nn_mixclient_cfg_default(&cc);
  cc.rng = &w->cli_rng;
  cc.self = w->node[CLIENT].id;
  cc.payload_rate = 0.1;
  cc.burst_rate = 20;
  cc.loop_rate = 0.001;
  nn_mixclient_free(w->cli);
  nn_mixclient_io_t cio = { cli_send, cli_pick_exit, w };
  assert_int_equal(nn_mixclient_new(&w->cli, &cc, &cio, w->dir, w->now), NN_OK);
  run(w, T0 + 1000, 1);
  size_t s0 = w->sends, len = 2048;
  uint8_t *m = message(len);
  nn_hybrid_pk_t xk[2];
  uint32_t xe = exit_keys(w, w->now, xk);
  assert_int_equal(nn_mixclient_send(w->cli, m, len, NN_FRAG_TO_BROADCAST, &w->node[EXIT].id, xe, xk, w->now), NN_OK);
  run(w, w->now + 1000, 1); /* 2 fragments at 20/s: both out within 1 s but with p < 1e-6 */
  assert_true(w->sends - s0 >= 2);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_int_equal(st.real_sent, 2);
  run(w, w->now + 10000, 1);
  assert_non_null(w->got);
  assert_memory_equal(w->got, m, len);
  free(m);
  world_free(w);
}

/* The same seeds with and without a message: packets leave at the same instants. */
static void
test_message_does_not_move_the_stream(void **state)
{
  (void)state;
  world_t *a = world_new(5, 0), *b = world_new(5, 0);
  size_t len = 200000;
  uint8_t *m = message(len);
  nn_hybrid_pk_t xk[2];
  uint32_t xe = exit_keys(b, b->now, xk);
  assert_int_equal(nn_mixclient_send(b->cli, m, len, NN_FRAG_TO_BROADCAST, &b->node[EXIT].id, xe, xk, b->now), NN_OK);
  run(a, T0 + 10000, 0);
  run(b, T0 + 10000, 0);
  nn_mixclient_stats_t sa, sb;
  nn_mixclient_stats(a->cli, &sa);
  nn_mixclient_stats(b->cli, &sb);
  assert_int_equal(sa.real_sent, 0);
  assert_true(sb.real_sent > 0);
  assert_int_equal(a->sends, b->sends);
  assert_true(a->sends >= 40);
  assert_memory_equal(a->send_times, b->send_times, sizeof(a->send_times));
  free(m);
  world_free(a);
  world_free(b);
}

/* The streams' rates: 5/s and 2/s over 400 s, within 5 standard deviations. */
static void
test_rate(void **state)
{
  (void)state;
  world_t *w = world_new(7, 0);
  run(w, T0 + 400000, 0);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_true(st.drop_sent > 2000 - 224 && st.drop_sent < 2000 + 224);
  assert_true(st.loops_sent > 800 - 142 && st.loops_sent < 800 + 142);
  assert_int_equal(st.no_route, 0); /* every loop lost (nothing is carried): the client goes on */
  world_free(w);
}

static void
test_caps(void **state)
{
  (void)state;
  world_t *w = world_new(9, 0);
  nn_hybrid_pk_t pk[2];
  uint32_t e = exit_keys(w, w->now, pk);
  size_t big = 201 * (NN_SPHINX_DEFAULT_LEN - 6649 - 32 - 25);
  uint8_t *m = message(big);
  assert_int_equal(nn_mixclient_send(w->cli, m, big, 1, &w->node[EXIT].id, e, pk, w->now), NN_ERR_TOO_LONG);
  assert_int_equal(nn_mixclient_send(w->cli, m, ((size_t)4 << 20) + 1, 1, &w->node[EXIT].id, e, pk, w->now),
                   NN_ERR_TOO_LONG); /* fits 200 fragments, but no exit takes it */
  assert_int_equal(nn_mixclient_send(w->cli, m, 0, 1, &w->node[EXIT].id, e, pk, w->now), NN_ERR_ARG);
  /* 4096 packets: 2 MB messages of 67 + 34 fragments fit 40 times */
  size_t two = 2000000, n = 0;
  while (nn_mixclient_send(w->cli, m, two, 1, &w->node[EXIT].id, e, pk, w->now) == NN_OK)
    n++;
  assert_int_equal(n, 4096 / 101);
  nn_mixclient_stats_t st;
  nn_mixclient_stats(w->cli, &st);
  assert_int_equal(st.queued, n * 101);
  free(m);
  world_free(w);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_message_and_loops),
    cmocka_unit_test(test_epoch_crossing),
    cmocka_unit_test(test_dead_mix),
    cmocka_unit_test(test_loss_raises_parity),
    cmocka_unit_test(test_burst_starts_at_once),
    cmocka_unit_test(test_message_does_not_move_the_stream),
    cmocka_unit_test(test_rate),
    cmocka_unit_test(test_caps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
