/*
 * The mix core (src/mixnet/mix.c) in virtual time: routes through 3 and 5 mixes wired back to
 * back in one process, every drop reason, the replay filter within an epoch, key epochs turning
 * (packets in flight survive the switch, old keys are wiped), a restart with saved keys, and the
 * crypto handed out (in any order, and to a real pool of worker threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "crypto/rand.h"
#include "mixnet/mix.h"
#include "net/workers.h"

#define NMIX 5
#define EPOCH_MS 3600000ull
#define T0 (EPOCH_MS * 480000 + 1000) /* epoch 480000, one second in */

typedef struct sent_t {
  nn_hash_t next;
  uint8_t *packet;
  int from;
} sent_t;

typedef struct net_t {
  nn_mix_t *mix[NMIX];
  nn_drbg_t drbg[NMIX];
  nn_rng_t rng[NMIX];
  nn_hash_t id[NMIX];
  nn_mix_cfg_t cfg;
  sent_t sent[64];
  size_t nsent;
  uint8_t *delivered;
  size_t ndelivered;
  int delivered_at;
  uint64_t delivered_time, now;
  nn_mix_job_t *jobs[64]; /* offloaded, not run yet */
  size_t njobs;
  nn_sym_t *sym;
} net_t;

typedef struct mixio_t {
  net_t *net;
  int me;
} mixio_t;
static mixio_t ios[NMIX];

static void
on_send(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len)
{
  mixio_t *io = ctx;
  net_t *n = io->net;
  assert_true(n->nsent < 64);
  assert_int_equal(len, n->cfg.geom.packet_len);
  sent_t *s = &n->sent[n->nsent++];
  s->next = *next;
  s->from = io->me;
  s->packet = malloc(len);
  assert_non_null(s->packet);
  memcpy(s->packet, packet, len);
}

static void
on_deliver(void *ctx, const uint8_t *body, size_t len)
{
  mixio_t *io = ctx;
  net_t *n = io->net;
  assert_int_equal(len, n->cfg.geom.body_len);
  free(n->delivered);
  n->delivered = malloc(len);
  assert_non_null(n->delivered);
  memcpy(n->delivered, body, len);
  n->ndelivered++;
  n->delivered_at = io->me;
  n->delivered_time = n->now;
}

static void
on_offload(void *ctx, nn_mix_job_t *job)
{
  mixio_t *io = ctx;
  assert_true(io->net->njobs < 64);
  io->net->jobs[io->net->njobs++] = job;
}

static net_t *
net_new_geom(int offload, uint64_t now, unsigned hops)
{
  net_t *n = calloc(1, sizeof(*n));
  assert_non_null(n);
  nn_mix_cfg_default(&n->cfg);
  assert_int_equal(nn_sphinx_geom_init(&n->cfg.geom, hops, NN_SPHINX_DEFAULT_LEN), NN_OK);
  n->cfg.max_packets = 16;
  n->cfg.max_packets_per_peer = 8;
  n->cfg.replay_capacity = 1000;
  n->now = now;
  assert_int_equal(nn_sym_new(&n->sym), NN_OK);
  for (int i = 0; i < NMIX; i++) {
    ios[i].net = n;
    ios[i].me = i;
    nn_drbg_init_u64(&n->drbg[i], 500 + (uint64_t)i);
    n->rng[i] = nn_drbg_rng(&n->drbg[i]);
    memset(n->id[i].b, 0x10 + i, NN_HASH_LEN);
    nn_mix_cfg_t c = n->cfg;
    c.rng = &n->rng[i];
    nn_mix_io_t io = { on_send, on_deliver, offload ? on_offload : NULL, &ios[i] };
    assert_int_equal(nn_mix_new(&n->mix[i], &c, &io, NULL, 0, now), NN_OK);
  }
  return n;
}

static net_t *
net_new(int offload, uint64_t now)
{
  return net_new_geom(offload, now, NN_SPHINX_DEFAULT_HOPS);
}

static void
net_free(net_t *n)
{
  for (size_t i = 0; i < n->nsent; i++)
    free(n->sent[i].packet);
  for (int i = 0; i < NMIX; i++)
    nn_mix_free(n->mix[i]);
  nn_sym_free(n->sym);
  free(n->delivered);
  free(n);
}

static int
mix_of(net_t *n, const nn_hash_t *id)
{
  for (int i = 0; i < NMIX; i++)
    if (!memcmp(n->id[i].b, id->b, NN_HASH_LEN))
      return i;
  return -1;
}

/* A packet through mixes order[0..hops-1], delays 10, 20, ... ms, for the epoch at n->now. */
static uint8_t *
packet_for(net_t *n, const int *order, size_t hops, const uint8_t *body, uint32_t epoch, uint32_t first_delay)
{
  nn_sphinx_hop_t route[NN_SPHINX_MAX_HOPS];
  for (size_t i = 0; i < hops; i++) {
    route[i].node = n->id[order[i]];
    route[i].pk = nn_mix_public_key(n->mix[order[i]], epoch);
    assert_non_null(route[i].pk);
    route[i].delay_ms = i ? 10u * (uint32_t)(i + 1) : first_delay;
  }
  uint8_t *p = malloc(n->cfg.geom.packet_len);
  assert_non_null(p);
  assert_int_equal(nn_sphinx_build(n->sym, &n->cfg.geom, epoch, route, hops, body, NULL, p), NN_OK);
  return p;
}

/* Advance virtual time to each mix's deadline and carry what they send, until quiet. */
static void
run(net_t *n)
{
  for (int guard = 0; guard < 1000; guard++) {
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < NMIX; i++) {
      uint64_t d = nn_mix_deadline(n->mix[i]);
      next = d < next ? d : next;
    }
    if (n->nsent) { /* hand over what was sent, at once */
      sent_t s = n->sent[--n->nsent];
      int to = mix_of(n, &s.next);
      assert_true(to >= 0);
      assert_int_equal(nn_mix_recv(n->mix[to], &n->id[s.from], s.packet, n->cfg.geom.packet_len, n->now),
                       NN_MIX_ACCEPTED);
      free(s.packet);
      continue;
    }
    nn_mix_stats_t st;
    int held = 0;
    for (int i = 0; i < NMIX; i++) {
      nn_mix_stats(n->mix[i], &st);
      held += st.in_mix > 0;
    }
    if (!held)
      return;
    n->now = next > n->now ? next : n->now;
    for (int i = 0; i < NMIX; i++)
      nn_mix_tick(n->mix[i], n->now);
  }
  fail_msg("the mixes never went quiet");
}

static uint8_t *
body_of(net_t *n, uint8_t v)
{
  uint8_t *b = malloc(n->cfg.geom.body_len);
  assert_non_null(b);
  memset(b, v, n->cfg.geom.body_len);
  return b;
}

static void
route_through(size_t hops)
{
  net_t *n = net_new_geom(0, T0, (unsigned)hops);
  int order[5] = { 2, 0, 4, 1, 3 };
  uint8_t *body = body_of(n, 0x42), *p = packet_for(n, order, hops, body, nn_mix_epoch_at(n->mix[0], T0), 100);
  assert_int_equal(nn_mix_recv(n->mix[order[0]], &n->id[0], p, n->cfg.geom.packet_len, n->now), NN_MIX_ACCEPTED);
  run(n);
  assert_int_equal(n->ndelivered, 1);
  assert_int_equal(n->delivered_at, order[hops - 1]);
  assert_memory_equal(n->delivered, body, n->cfg.geom.body_len);
  uint64_t want = 100;
  for (size_t i = 1; i < hops; i++)
    want += 10 * (i + 1);
  assert_int_equal(n->delivered_time, T0 + want); /* each hop held it exactly as the sender said */
  for (size_t i = 0; i < hops; i++) {
    nn_mix_stats_t st;
    nn_mix_stats(n->mix[order[i]], &st);
    assert_int_equal(st.received, 1);
    assert_int_equal(i + 1 < hops ? st.forwarded : st.delivered, 1);
    assert_int_equal(st.in_mix, 0);
  }
  free(p);
  free(body);
  net_free(n);
}

static void
test_route_3(void **state)
{
  (void)state;
  route_through(3);
}

static void
test_route_5(void **state)
{
  (void)state;
  route_through(5);
}

static void
expect_drop(net_t *n, int mix, const uint8_t *p, size_t len, nn_mix_drop_t why, int at_once)
{
  nn_mix_stats_t before, after;
  nn_mix_stats(n->mix[mix], &before);
  nn_mix_drop_t r = nn_mix_recv(n->mix[mix], &n->id[0], p, len, n->now);
  assert_int_equal(r, at_once ? why : NN_MIX_ACCEPTED);
  nn_mix_tick(n->mix[mix], n->now + 100000);
  nn_mix_stats(n->mix[mix], &after);
  assert_int_equal(after.dropped[why], before.dropped[why] + 1);
  assert_int_equal(after.forwarded + after.delivered, before.forwarded + before.delivered);
  assert_int_equal(n->nsent, 0);
  assert_int_equal(after.in_mix, 0);
}

static void
test_drops(void **state)
{
  (void)state;
  net_t *n = net_new(0, T0);
  int order[3] = { 0, 1, 2 };
  uint32_t e = nn_mix_epoch_at(n->mix[0], T0);
  uint8_t *body = body_of(n, 1), *p = packet_for(n, order, 3, body, e, 10), *q = malloc(n->cfg.geom.packet_len);
  assert_non_null(q);
  size_t len = n->cfg.geom.packet_len;

  expect_drop(n, 0, p, len - 1, NN_MIX_BAD_LENGTH, 1);
  memcpy(q, p, len);
  q[0] = 9;
  expect_drop(n, 0, q, len, NN_MIX_BAD_VERSION, 1);
  memcpy(q, p, len);
  q[4] ^= 0x40; /* an epoch nobody has a key for */
  expect_drop(n, 0, q, len, NN_MIX_UNKNOWN_EPOCH, 1);
  expect_drop(n, 1, p, len, NN_MIX_BAD_MAC, 0); /* for mix 0, not 1 */
  uint8_t *t = packet_for(n, order, 3, body, e, 10);
  memcpy(q, t, len);
  free(t);
  q[len - 1] ^= 1; /* the payload: passes mixes 0 and 1, dropped at 2 */
  assert_int_equal(nn_mix_recv(n->mix[0], &n->id[0], q, len, n->now), NN_MIX_ACCEPTED);
  run(n);
  assert_int_equal(n->ndelivered, 0);
  nn_mix_stats_t st;
  nn_mix_stats(n->mix[2], &st);
  assert_int_equal(st.dropped[NN_MIX_TAGGED], 1);

  /* the genuine packet once, then its replay, within the epoch: passed on once only */
  assert_int_equal(nn_mix_recv(n->mix[0], &n->id[0], p, len, n->now), NN_MIX_ACCEPTED);
  nn_mix_tick(n->mix[0], n->now + 1000);
  assert_int_equal(n->nsent, 1);
  free(n->sent[0].packet);
  n->nsent = 0;
  expect_drop(n, 0, p, len, NN_MIX_REPLAY, 0);

  /* a copy whose payload was changed spends the tag at its last hop: the original that follows
   * is a replay there, not delivered (PROTOCOL 9.4 step 3 comes before the command) */
  {
    int one[1] = { 2 };
    uint8_t *o = packet_for(n, one, 1, body, e, 10), *c = malloc(len);
    assert_non_null(c);
    memcpy(c, o, len);
    c[len - 1] ^= 1;
    expect_drop(n, 2, c, len, NN_MIX_TAGGED, 0);
    expect_drop(n, 2, o, len, NN_MIX_REPLAY, 0);
    free(o);
    free(c);
  }

  /* a delay above the cap */
  uint8_t *slow = packet_for(n, order, 3, body, e, n->cfg.max_delay_ms + 1);
  expect_drop(n, 0, slow, len, NN_MIX_DELAY, 0);
  free(slow);

  /* the budgets: packets held for 50 s fill a peer's share, then the mix */
  for (int i = 0; i < 8; i++) {
    uint8_t *h = packet_for(n, order, 3, body, e, 50000);
    assert_int_equal(nn_mix_recv(n->mix[0], &n->id[1], h, len, n->now), NN_MIX_ACCEPTED);
    free(h);
  }
  uint8_t *h = packet_for(n, order, 3, body, e, 50000);
  assert_int_equal(nn_mix_recv(n->mix[0], &n->id[1], h, len, n->now), NN_MIX_PEER_FULL);
  for (int i = 0; i < 8; i++) { /* another peer, into another share (ids 2, 3 hash apart or not) */
    nn_hash_t other;
    memset(other.b, 0x80 + i, NN_HASH_LEN);
    nn_mix_drop_t r = nn_mix_recv(n->mix[0], &other, h, len, n->now);
    assert_true(r == NN_MIX_ACCEPTED || r == NN_MIX_PEER_FULL);
  }
  nn_mix_stats(n->mix[0], &st);
  assert_true(st.in_mix <= n->cfg.max_packets);
  assert_true(st.dropped[NN_MIX_REPLAY] >= 1); /* h again and again: replays */
  free(h);
  free(p);
  free(q);
  free(body);
  net_free(n);
}

/* A node that only receives (an exit, a client) passes nothing on. */
static void
test_recipient_only(void **state)
{
  (void)state;
  net_t *n = net_new(0, T0);
  nn_mix_free(n->mix[0]);
  nn_mix_cfg_t c = n->cfg;
  c.rng = &n->rng[0];
  c.relay = 0;
  nn_mix_io_t io = { on_send, on_deliver, NULL, &ios[0] };
  assert_int_equal(nn_mix_new(&n->mix[0], &c, &io, NULL, 0, n->now), NN_OK);
  int through[3] = { 0, 1, 2 }, to_it[2] = { 1, 0 };
  uint32_t e = nn_mix_epoch_at(n->mix[0], T0);
  uint8_t *body = body_of(n, 8), *p = packet_for(n, through, 3, body, e, 10), *q = packet_for(n, to_it, 2, body, e, 10);
  expect_drop(n, 0, p, n->cfg.geom.packet_len, NN_MIX_NOT_A_MIX, 0);
  /* but what ends there is delivered */
  assert_int_equal(nn_mix_recv(n->mix[1], &n->id[2], q, n->cfg.geom.packet_len, n->now), NN_MIX_ACCEPTED);
  run(n);
  assert_int_equal(n->ndelivered, 1);
  assert_int_equal(n->delivered_at, 0);
  free(p);
  free(q);
  free(body);
  net_free(n);
}

static void
test_full(void **state)
{
  (void)state;
  net_t *n = net_new(0, T0);
  int order[3] = { 0, 1, 2 };
  uint32_t e = nn_mix_epoch_at(n->mix[0], T0);
  uint8_t *body = body_of(n, 1);
  size_t accepted = 0;
  for (int i = 0; i < 40; i++) {
    nn_hash_t from;
    memset(from.b, i, NN_HASH_LEN);
    uint8_t *h = packet_for(n, order, 3, body, e, 50000);
    nn_mix_drop_t r = nn_mix_recv(n->mix[0], &from, h, n->cfg.geom.packet_len, n->now);
    accepted += r == NN_MIX_ACCEPTED;
    free(h);
  }
  nn_mix_stats_t st;
  nn_mix_stats(n->mix[0], &st);
  assert_int_equal(accepted, n->cfg.max_packets);
  assert_int_equal(st.in_mix, n->cfg.max_packets);
  assert_int_equal(st.max_in_mix, n->cfg.max_packets);
  assert_true(st.dropped[NN_MIX_FULL] >= 1);
  free(body);
  net_free(n);
}

/* Packets built in one epoch, crossing the switch: processed within the grace, not after; the
 * old key is wiped; the next epoch's key is there before its epoch starts. */
static void
test_epochs(void **state)
{
  (void)state;
  uint64_t late = EPOCH_MS * 480001 - 500; /* half a second before epoch 480001 */
  net_t *n = net_new(0, late);
  int order[3] = { 0, 1, 2 };
  uint8_t *body = body_of(n, 3);
  assert_non_null(nn_mix_public_key(n->mix[0], 480001));
  assert_non_null(nn_mix_public_key(n->mix[0], 480002)); /* held for the descriptor, not taken yet */
  assert_null(nn_mix_public_key(n->mix[0], 480003));
  uint8_t *p = packet_for(n, order, 3, body, 480000, 2000); /* held 2 s by mix 0: past the switch */
  assert_int_equal(nn_mix_recv(n->mix[0], &n->id[0], p, n->cfg.geom.packet_len, n->now), NN_MIX_ACCEPTED);
  run(n);
  assert_int_equal(n->ndelivered, 1);
  assert_true(n->now > EPOCH_MS * 480001);
  assert_non_null(nn_mix_public_key(n->mix[1], 480003)); /* turned: current 480001, next 480002 */
  nn_mix_stats_t st;
  nn_mix_stats(n->mix[1], &st);
  assert_int_equal(st.epoch, 480001);
  assert_int_equal(st.keys, 4); /* previous (in grace), current, next, the one after */

  /* after the grace: the old epoch's packets are refused and its key is gone */
  uint8_t *q = packet_for(n, order, 3, body, 480000, 10);
  n->now = EPOCH_MS * 480001 + n->cfg.grace_ms;
  for (int i = 0; i < NMIX; i++)
    nn_mix_tick(n->mix[i], n->now);
  assert_null(nn_mix_public_key(n->mix[0], 480000));
  nn_mix_stats(n->mix[0], &st);
  assert_int_equal(st.keys, 3);
  assert_int_equal(st.keys_wiped, 1);
  expect_drop(n, 0, q, n->cfg.geom.packet_len, NN_MIX_UNKNOWN_EPOCH, 1);
  free(p);
  free(q);
  free(body);
  net_free(n);
}

/* A mix restarted with its saved seeds has the same keys: packets built before still pass. */
static void
test_restart_keeps_keys(void **state)
{
  (void)state;
  net_t *n = net_new(0, T0);
  int order[3] = { 0, 1, 2 };
  uint32_t e = nn_mix_epoch_at(n->mix[0], T0);
  uint8_t *body = body_of(n, 4), *p = packet_for(n, order, 3, body, e, 10);
  nn_mix_saved_key_t saved[NN_MIX_SAVED_KEYS];
  size_t ns = nn_mix_saved_keys(n->mix[1], saved);
  assert_int_equal(ns, 3); /* current, next, and the one after */
  nn_hybrid_pk_t before = *nn_mix_public_key(n->mix[1], e);
  nn_mix_free(n->mix[1]);
  nn_mix_cfg_t c = n->cfg;
  c.rng = &n->rng[1];
  nn_mix_io_t io = { on_send, on_deliver, NULL, &ios[1] };
  n->now += 60000;
  assert_int_equal(nn_mix_new(&n->mix[1], &c, &io, saved, ns, n->now), NN_OK);
  assert_memory_equal(nn_mix_public_key(n->mix[1], e), &before, sizeof(before));
  assert_int_equal(nn_mix_recv(n->mix[0], &n->id[0], p, n->cfg.geom.packet_len, n->now), NN_MIX_ACCEPTED);
  run(n);
  assert_int_equal(n->ndelivered, 1);
  /* without the seeds: new keys, and the old packet is not for them */
  nn_mix_free(n->mix[1]);
  assert_int_equal(nn_mix_new(&n->mix[1], &c, &io, NULL, 0, n->now), NN_OK);
  assert_memory_not_equal(nn_mix_public_key(n->mix[1], e), &before, sizeof(before));
  free(p);
  free(body);
  net_free(n);
}

/* Crypto handed out and coming back in reverse order, with the key epoch turning meanwhile:
 * the retiring key stays until the last job using it is back. */
static void
test_offload(void **state)
{
  (void)state;
  uint64_t late = EPOCH_MS * 480001 - 500;
  net_t *n = net_new(1, late);
  int order[3] = { 0, 1, 2 };
  uint8_t *body = body_of(n, 5);
  uint8_t *p[4];
  for (int i = 0; i < 4; i++) {
    p[i] = packet_for(n, order, 3, body, 480000, 10);
    assert_int_equal(nn_mix_recv(n->mix[0], &n->id[0], p[i], n->cfg.geom.packet_len, n->now), NN_MIX_ACCEPTED);
  }
  nn_mix_stats_t st;
  nn_mix_stats(n->mix[0], &st);
  assert_int_equal(st.decrypting, 4);
  /* past the grace: epoch 480000 is no longer accepted, but its 4 jobs are out */
  n->now = EPOCH_MS * 480001 + n->cfg.grace_ms + 1;
  nn_mix_tick(n->mix[0], n->now);
  nn_mix_stats(n->mix[0], &st);
  assert_int_equal(st.keys, 4); /* current, next, the one after, and the retiring one */
  for (size_t k = n->njobs; k-- > 0;) {
    nn_mix_job_run(n->jobs[k]);
    nn_mix_job_done(n->mix[0], n->jobs[k], n->now, 0);
  }
  n->njobs = 0;
  nn_mix_stats(n->mix[0], &st);
  assert_int_equal(st.keys, 3);
  assert_int_equal(st.decrypting, 0);
  nn_mix_tick(n->mix[0], n->now + 10);
  assert_int_equal(n->nsent, 4);
  for (int i = 0; i < 4; i++)
    free(p[i]);
  free(body);
  net_free(n);
}

/* ---- a real pool of two workers on a libevent loop ---- */

typedef struct pool_ctx_t {
  nn_workers_t *pool;
  nn_mix_t *mix;
  size_t done, sent;
} pool_ctx_t;

static void
pool_run(nn_work_t *w)
{
  nn_mix_job_run((nn_mix_job_t *)w);
}

static pool_ctx_t *the_pool;

static void
pool_done(nn_work_t *w, int cancelled)
{
  the_pool->done++;
  nn_mix_job_done(the_pool->mix, (nn_mix_job_t *)w, 0, cancelled);
}

static void
pool_offload(void *ctx, nn_mix_job_t *job)
{
  pool_ctx_t *pc = ctx;
  job->work.run = pool_run;
  job->work.done = pool_done;
  nn_workers_submit(pc->pool, &job->work);
}

static void
pool_send(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len)
{
  (void)next, (void)packet, (void)len;
  ((pool_ctx_t *)ctx)->sent++;
}

static void
pool_deliver(void *ctx, const uint8_t *body, size_t len)
{
  (void)ctx, (void)body, (void)len;
}

static void
test_worker_pool(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  assert_non_null(base);
  pool_ctx_t pc = { 0 };
  the_pool = &pc;
  assert_int_equal(nn_workers_new(&pc.pool, base, 2), NN_OK);
  nn_mix_cfg_t cfg;
  nn_mix_cfg_default(&cfg);
  cfg.max_packets = 64;
  cfg.max_packets_per_peer = 64;
  cfg.replay_capacity = 1000;
  nn_mix_io_t io = { pool_send, pool_deliver, pool_offload, &pc };
  assert_int_equal(nn_mix_new(&pc.mix, &cfg, &io, NULL, 0, 0), NN_OK);
  nn_sym_t *sym;
  assert_int_equal(nn_sym_new(&sym), NN_OK);
  nn_hybrid_key_t other;
  assert_int_equal(nn_hybrid_keygen(&other, NULL), NN_OK);
  nn_sphinx_hop_t route[2] = { { { { 1 } }, nn_mix_public_key(pc.mix, 0), 0 }, { { { 2 } }, &other.pk, 0 } };
  uint8_t *body = calloc(1, cfg.geom.body_len), *p = malloc(cfg.geom.packet_len);
  assert_non_null(body);
  assert_non_null(p);
  nn_hash_t from = { { 9 } };
  for (int i = 0; i < 24; i++) {
    assert_int_equal(nn_sphinx_build(sym, &cfg.geom, 0, route, 2, body, NULL, p), NN_OK);
    if (i % 3 == 0)
      p[cfg.geom.header_len - 1] ^= 1; /* a third with a bad MAC */
    assert_int_equal(nn_mix_recv(pc.mix, &from, p, cfg.geom.packet_len, 0), NN_MIX_ACCEPTED);
  }
  while (pc.done < 24)
    event_base_loop(base, EVLOOP_ONCE);
  nn_mix_tick(pc.mix, 1);
  nn_mix_stats_t st;
  nn_mix_stats(pc.mix, &st);
  assert_int_equal(pc.sent, 16);
  assert_int_equal(st.dropped[NN_MIX_BAD_MAC], 8);
  assert_int_equal(st.decrypting, 0);
  nn_workers_free(pc.pool);
  nn_mix_free(pc.mix);
  nn_hybrid_key_clear(&other);
  nn_sym_free(sym);
  free(body);
  free(p);
  event_base_free(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_route_3), cmocka_unit_test(test_route_5),     cmocka_unit_test(test_drops),
    cmocka_unit_test(test_full),    cmocka_unit_test(test_epochs),      cmocka_unit_test(test_restart_keeps_keys),
    cmocka_unit_test(test_offload), cmocka_unit_test(test_worker_pool), cmocka_unit_test(test_recipient_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
