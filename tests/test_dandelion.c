/*
 * The Dandelion++ core (src/dandelion/dandelion.h): stem routing and pinning, epoch roles,
 * embargo fail-safe, stempool privacy, dedup, INV diffusion, GETDATA, caps, routing modes.
 * Every random draw comes from a seeded nn_drbg_t, so a failure replays exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "dandelion/dandelion.h"

typedef struct rec_t {
  uint32_t stem_peer[64];
  size_t nstem;
  uint32_t inv_peer[256];
  uint64_t inv_at[256];
  size_t ninv;
  uint32_t gd_peer[16];
  size_t ngd;
  size_t ntx, ndeliver;
  uint64_t now;
} rec_t;

static void
r_stem(void *c, uint32_t p, const uint8_t *t, size_t l)
{
  (void)t;
  (void)l;
  rec_t *r = c;
  if (r->nstem < 64)
    r->stem_peer[r->nstem++] = p;
}
static void
r_inv(void *c, uint32_t p, const nn_hash_t *id)
{
  (void)id;
  rec_t *r = c;
  if (r->ninv < 256) {
    r->inv_peer[r->ninv] = p;
    r->inv_at[r->ninv++] = r->now;
  }
}
static void
r_gd(void *c, uint32_t p, const nn_hash_t *id)
{
  (void)id;
  rec_t *r = c;
  if (r->ngd < 16)
    r->gd_peer[r->ngd++] = p;
}
static void
r_tx(void *c, uint32_t p, const uint8_t *t, size_t l)
{
  (void)p;
  (void)t;
  (void)l;
  ((rec_t *)c)->ntx++;
}
static void
r_del(void *c, const uint8_t *t, size_t l, nn_dl_via_t via, uint32_t from)
{
  (void)t;
  (void)l;
  (void)via;
  (void)from;
  ((rec_t *)c)->ndeliver++;
}

static nn_drbg_t g_drbg;
static nn_rng_t g_rng;
static rec_t g_rec;

/* A node with outbound peers 1..nout and inbound peers 100..100+nin-1. */
static nn_dl_t *
mk(nn_dl_cfg_t *cfg, uint64_t seed, int nout, int nin)
{
  nn_drbg_init_u64(&g_drbg, seed);
  g_rng = nn_drbg_rng(&g_drbg);
  memset(&g_rec, 0, sizeof g_rec);
  cfg->rng = &g_rng;
  nn_dl_io_t io = { r_stem, r_inv, r_gd, r_tx, r_del, &g_rec };
  nn_dl_t *dl = NULL;
  assert_int_equal(nn_dl_new(&dl, cfg, &io, 0), NN_OK);
  for (int i = 1; i <= nout; i++)
    assert_int_equal(nn_dl_peer_add(dl, (uint32_t)i, 1, 0), NN_OK);
  for (int i = 0; i < nin; i++)
    assert_int_equal(nn_dl_peer_add(dl, (uint32_t)(100 + i), 0, 0), NN_OK);
  return dl;
}

static nn_hash_t
idof(const uint8_t *t, size_t l)
{
  nn_hash_t h;
  assert_int_equal(nn_sha3_256(&h, t, l), NN_OK);
  return h;
}

/* A fluffed transaction as the protocol delivers it: announced by \a peer, asked for, sent. */
static nn_err_t
fluff_in(nn_dl_t *dl, uint32_t peer, const uint8_t *t, size_t l, uint64_t now)
{
  nn_hash_t id = idof(t, l);
  nn_dl_on_inv(dl, peer, &id, now);
  return nn_dl_on_fluff(dl, peer, t, l, now);
}

/* Advance a node in virtual time to \a until, ticking at each deadline. */
static void
run(nn_dl_t *dl, uint64_t until)
{
  for (;;) {
    uint64_t d = nn_dl_deadline(dl);
    if (d > until)
      break;
    g_rec.now = d;
    nn_dl_tick(dl, d);
  }
  g_rec.now = until;
}

/* Find a seed whose first epoch has the wanted role. */
static nn_dl_t *
mk_role(nn_dl_cfg_t *cfg, int fluff, int nout, int nin)
{
  for (uint64_t s = 1; s < 1000; s++) {
    nn_dl_t *dl = mk(cfg, s, nout, nin);
    if (nn_dl_fluff_epoch(dl) == fluff)
      return dl;
    nn_dl_free(dl);
  }
  fail();
  return NULL;
}

static int
outbound(uint32_t p)
{
  return p >= 1 && p < 100;
}

static void
test_own_always_stemmed(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.fluff_prob = 0.5;
  nn_dl_t *dl = mk_role(&cfg, 1, 3, 3);
  uint8_t tx[] = "own transaction";
  assert_int_equal(nn_dl_submit(dl, tx, sizeof tx, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 1);
  assert_true(outbound(g_rec.stem_peer[0]));
  assert_int_equal(g_rec.ninv, 0);
  nn_hash_t id = idof(tx, sizeof tx);
  assert_false(nn_dl_have(dl, &id));
  nn_dl_free(dl);
}

static void
test_stem_outbound_only_and_fluff_epoch(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk_role(&cfg, 0, 4, 8);
  for (int i = 0; i < 40; i++) {
    uint8_t tx[8] = { 1, (uint8_t)i };
    assert_int_equal(nn_dl_on_stem(dl, (uint32_t)(100 + i % 8), tx, sizeof tx, 0), NN_OK);
  }
  assert_int_equal(g_rec.nstem, 40);
  for (size_t i = 0; i < g_rec.nstem; i++)
    assert_true(outbound(g_rec.stem_peer[i]));
  assert_int_equal(g_rec.ndeliver, 0);
  nn_dl_free(dl);
  /* In a fluff epoch a received stem tx is fluffed, not stemmed. */
  cfg.fluff_prob = 0.5;
  dl = mk_role(&cfg, 1, 4, 2);
  uint8_t tx[] = "relayed";
  assert_int_equal(nn_dl_on_stem(dl, 100, tx, sizeof tx, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 0);
  assert_int_equal(g_rec.ndeliver, 1);
  nn_hash_t id = idof(tx, sizeof tx);
  assert_true(nn_dl_have(dl, &id));
  nn_dl_free(dl);
}

static void
test_pinning(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk_role(&cfg, 0, 5, 20);
  uint32_t pin[20];
  int used[2] = { 0, 0 };
  uint32_t rel[2];
  assert_int_equal(nn_dl_relays(dl, rel), 2);
  assert_int_not_equal(rel[0], rel[1]);
  for (int round = 0; round < 3; round++)
    for (int p = 0; p < 20; p++) {
      uint8_t tx[8] = { 2, (uint8_t)round, (uint8_t)p };
      size_t before = g_rec.nstem;
      assert_int_equal(nn_dl_on_stem(dl, (uint32_t)(100 + p), tx, sizeof tx, 0), NN_OK);
      assert_int_equal(g_rec.nstem, before + 1);
      uint32_t to = g_rec.stem_peer[before];
      if (round == 0)
        pin[p] = to;
      else
        assert_int_equal(to, pin[p]);
      assert_true(to == rel[0] || to == rel[1]);
      used[to == rel[1]]++;
      g_rec.nstem = 0;
    }
  assert_true(used[0] > 0 && used[1] > 0);
  /* A new epoch re-draws the relays (5 outbound peers: over several epochs they change). */
  int changed = 0;
  for (int e = 0; e < 6 && !changed; e++) {
    run(dl, nn_dl_epoch_end(dl));
    uint32_t r2[2];
    assert_int_equal(nn_dl_relays(dl, r2), 2);
    if (!((r2[0] == rel[0] && r2[1] == rel[1]) || (r2[0] == rel[1] && r2[1] == rel[0])))
      changed = 1;
  }
  assert_true(changed);
  nn_dl_free(dl);
}

static void
test_relay_replaced(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk_role(&cfg, 0, 3, 1);
  uint32_t rel[2];
  nn_dl_relays(dl, rel);
  uint8_t tx[] = "a";
  nn_dl_on_stem(dl, 100, tx, sizeof tx, 0);
  uint32_t gone = g_rec.stem_peer[0];
  nn_dl_peer_remove(dl, gone, 0);
  assert_int_equal(nn_dl_relays(dl, rel), 2);
  assert_true(rel[0] != gone && rel[1] != gone);
  /* the stem it held went to a live relay at once, not to the embargo */
  assert_int_equal(g_rec.nstem, 2);
  assert_int_not_equal(g_rec.stem_peer[1], gone);
  uint8_t tx2[] = "b";
  nn_dl_on_stem(dl, 100, tx2, sizeof tx2, 0);
  assert_int_equal(g_rec.nstem, 3);
  assert_int_not_equal(g_rec.stem_peer[2], gone);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.restems, 1);
  nn_dl_free(dl);
}

/* Our own stem came back from relay A (a loop) and went on to relay B; B leaves. The stem is
 * handed to B's replacement, never back to A, although A is where our own are pinned (a fuzzer
 * finding: fuzz/corpus/fuzz_dandelion/restem_own_loop). */
static void
test_restem_own_not_to_looper(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk(&cfg, 7, 3, 0);
  uint8_t tx[] = "own, looped";
  assert_int_equal(nn_dl_submit(dl, tx, sizeof tx, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 1);
  uint32_t a = g_rec.stem_peer[0];
  assert_int_equal(nn_dl_on_stem(dl, a, tx, sizeof tx, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 2);
  uint32_t b = g_rec.stem_peer[1];
  assert_int_not_equal(b, a);
  nn_dl_peer_remove(dl, b, 0);
  uint32_t rel[2];
  assert_int_equal(nn_dl_relays(dl, rel), 2);
  uint32_t repl = rel[0] == a ? rel[1] : rel[0];
  assert_true(repl != a && repl != b);
  assert_int_equal(g_rec.nstem, 3);
  assert_int_equal(g_rec.stem_peer[2], repl);
  /* with no relay left but A, it waits for the embargo instead */
  nn_dl_peer_remove(dl, repl, 0);
  assert_int_equal(g_rec.nstem, 3);
  nn_dl_free(dl);
}

/* The core knows a stem only while its stempool holds it: evicted, it is forgotten (so a later
 * stem or submit of the same transaction starts afresh, as fuzz_dandelion's model now assumes);
 * fluffed, it is in the mempool and no longer stemming. */
static void
test_stemming_until_evicted_or_fluffed(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.stem_max_count = 2;
  cfg.embargo_base_ms = 1000;
  cfg.embargo_mean_ms = 1000;
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 2);
  uint8_t x[] = "stemmed by 100", y[] = "y", z[] = "z";
  nn_hash_t idx = idof(x, sizeof x);
  assert_false(nn_dl_stemming(dl, &idx));
  assert_int_equal(nn_dl_on_stem(dl, 100, x, sizeof x, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 1);
  assert_true(nn_dl_stemming(dl, &idx));
  assert_false(nn_dl_have(dl, &idx));
  assert_int_equal(nn_dl_on_stem(dl, 101, y, sizeof y, 0), NN_OK);
  assert_int_equal(nn_dl_on_stem(dl, 101, z, sizeof z, 0), NN_OK);
  assert_false(nn_dl_stemming(dl, &idx)); /* the oldest went to make room */
  assert_false(nn_dl_have(dl, &idx));
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.evicted, 1);
  /* submitted by us now: a new stem of our own, not a loop of the forgotten one */
  assert_int_equal(nn_dl_submit(dl, x, sizeof x, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 4);
  assert_true(outbound(g_rec.stem_peer[3]));
  assert_true(nn_dl_stemming(dl, &idx));
  nn_dl_stats(dl, &st);
  assert_int_equal(st.stem_loops, 0);
  run(dl, 60000); /* the embargo fluffs it */
  assert_false(nn_dl_stemming(dl, &idx));
  assert_true(nn_dl_have(dl, &idx));
  nn_dl_free(dl);
}

/* A peer flooding stems cannot push our own out of the stempool (issue 10, item 8): the oldest
 * stem that is not ours makes room, and when only ours are left a peer's stem is refused. */
static void
test_own_stems_never_evicted_for_peers(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.stem_max_count = 2;
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 2);
  uint8_t own[] = "ours", a[] = "a", b[] = "b", c[] = "c", own2[] = "ours too";
  nn_hash_t ido = idof(own, sizeof own), ida = idof(a, sizeof a), idb = idof(b, sizeof b);
  assert_int_equal(nn_dl_submit(dl, own, sizeof own, 0), NN_OK); /* the oldest of all */
  assert_int_equal(nn_dl_on_stem(dl, 100, a, sizeof a, 0), NN_OK);
  assert_int_equal(nn_dl_on_stem(dl, 100, b, sizeof b, 0), NN_OK);
  assert_int_equal(nn_dl_stemming(dl, &ido), 2);
  assert_int_equal(nn_dl_stemming(dl, &ida), 0); /* the oldest peer's stem went, not ours */
  assert_int_equal(nn_dl_stemming(dl, &idb), 1);
  /* only ours left: a peer's stem finds no room */
  assert_int_equal(nn_dl_submit(dl, own2, sizeof own2, 0), NN_OK);
  assert_int_equal(nn_dl_stemming(dl, &idb), 0);
  assert_int_equal(nn_dl_on_stem(dl, 101, c, sizeof c, 0), NN_ERR_NOSPACE);
  assert_int_equal(nn_dl_stemming(dl, &ido), 2);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.evicted, 2);
  assert_int_equal(st.refused, 1);
  nn_dl_free(dl);
}

/* Our own stem waits two mean embargoes longer than a relayed one, so that when a stem dies the
 * relays holding it fluff first, not the origin. */
static void
test_own_embargo_longer(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.embargo_base_ms = 1000;
  cfg.embargo_mean_ms = 1000;
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 1);
  uint8_t own[] = "own", relayed[] = "relayed";
  assert_int_equal(nn_dl_submit(dl, own, sizeof own, 0), NN_OK);
  run(dl, 2999);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.embargo_fired, 0);
  assert_int_equal(nn_dl_on_stem(dl, 100, relayed, sizeof relayed, 3000), NN_OK);
  run(dl, 3999);
  nn_dl_stats(dl, &st);
  assert_true(st.embargo_fired <= 1); /* only ours can have fired by now */
  run(dl, 3000 + 1000 + 20 * 1000);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.embargo_fired, 2);
  nn_dl_free(dl);
}

/* Our own transaction submitted before any outbound peer exists waits, and is stemmed as soon
 * as a relay appears (left to the embargo, we would be its first fluffer). */
static void
test_own_waits_for_relay(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk(&cfg, 21, 0, 2);
  uint8_t tx[] = "early";
  assert_int_equal(nn_dl_submit(dl, tx, sizeof tx, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 0);
  assert_int_equal(nn_dl_peer_add(dl, 7, 1, 100), NN_OK);
  assert_int_equal(g_rec.nstem, 1);
  assert_int_equal(g_rec.stem_peer[0], 7);
  assert_int_equal(nn_dl_peer_add(dl, 8, 1, 200), NN_OK);
  assert_int_equal(g_rec.nstem, 1); /* once */
  nn_dl_free(dl);
}

/* Announce, then fetch: a TX nobody asked for is dropped; an answer only counts from the peer
 * asked; one peer cannot fill the request table; a peer that leaves frees its requests. */
static void
test_unsolicited_and_request_caps(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.max_requests_per_peer = 4;
  nn_dl_t *dl = mk(&cfg, 11, 2, 3);
  uint8_t tx[] = "pushed";
  nn_hash_t id = idof(tx, sizeof tx);
  assert_int_equal(nn_dl_on_fluff(dl, 100, tx, sizeof tx, 0), NN_ERR_NOTFOUND);
  assert_false(nn_dl_have(dl, &id));
  nn_dl_on_inv(dl, 100, &id, 0);                                                /* asked of 100 ... */
  assert_int_equal(nn_dl_on_fluff(dl, 101, tx, sizeof tx, 1), NN_ERR_NOTFOUND); /* ... not 101 */
  assert_int_equal(nn_dl_on_fluff(dl, 100, tx, sizeof tx, 2), NN_OK);
  assert_true(nn_dl_have(dl, &id));
  assert_int_equal(g_rec.ndeliver, 1);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.unsolicited, 2);
  assert_int_equal(st.requests, 0);
  /* 10 ids from one peer: 4 requested, 6 ignored; another peer's are still asked */
  for (uint32_t i = 0; i < 10; i++) {
    uint8_t b[4] = { 1, 2, 3, (uint8_t)i };
    nn_hash_t h = idof(b, 4);
    nn_dl_on_inv(dl, 101, &h, 3);
  }
  nn_dl_stats(dl, &st);
  assert_int_equal(st.requests, 4);
  assert_int_equal(st.inv_ignored, 6);
  uint8_t other[] = "other";
  nn_hash_t oid = idof(other, sizeof other);
  nn_dl_on_inv(dl, 102, &oid, 3);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.requests, 5);
  /* 101 leaves: its requests go, and another announcer of one of its ids is asked */
  nn_dl_peer_remove(dl, 101, 4);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.requests, 1);
  uint8_t b0[4] = { 1, 2, 3, 0 };
  nn_hash_t h0 = idof(b0, 4);
  size_t gd = g_rec.ngd;
  nn_dl_on_inv(dl, 102, &h0, 5);
  assert_int_equal(g_rec.ngd, gd + 1);
  nn_dl_free(dl);
}

static void
test_fluff_probability(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.fluff_prob = 0.2;
  nn_dl_t *dl = mk(&cfg, 7, 3, 0);
  for (int e = 0; e < 4000; e++)
    run(dl, nn_dl_epoch_end(dl));
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  double f = (double)st.fluff_epochs / (double)st.epochs;
  /* sd = sqrt(.2*.8/4001) = 0.0063; +/-0.03 is 4.7 sd (deterministic seed anyway). */
  assert_true(f > 0.17 && f < 0.23);
  nn_dl_free(dl);
}

static void
test_embargo_blackhole(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 2);
  uint8_t tx[] = "black-holed";
  nn_hash_t id = idof(tx, sizeof tx);
  assert_int_equal(nn_dl_on_stem(dl, 100, tx, sizeof tx, 1000), NN_OK);
  assert_int_equal(g_rec.nstem, 1); /* the relay swallows it: nothing ever comes back */
  uint64_t d = nn_dl_deadline(dl);
  assert_true(d >= 1000 + cfg.embargo_base_ms);
  nn_dl_tick(dl, d - 1);
  assert_false(nn_dl_have(dl, &id));
  assert_int_equal(g_rec.ndeliver, 0);
  nn_dl_tick(dl, d);
  assert_true(nn_dl_have(dl, &id));
  assert_int_equal(g_rec.ndeliver, 1);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.embargo_fired, 1);
  assert_int_equal(st.stem_count, 0);
  nn_dl_free(dl);
}

static void
test_stempool_probe(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 2);
  uint8_t tx[] = "stem only";
  nn_hash_t id = idof(tx, sizeof tx);
  nn_dl_on_stem(dl, 100, tx, sizeof tx, 0);
  assert_false(nn_dl_have(dl, &id));
  nn_dl_on_getdata(dl, 101, &id, 0);
  assert_int_equal(g_rec.ntx, 0); /* a getdata for a stem-only tx gets nothing */
  /* An INV for it is requested like an unknown id (not asking would reveal it). */
  nn_dl_on_inv(dl, 101, &id, 0);
  assert_int_equal(g_rec.ngd, 1);
  assert_int_equal(nn_dl_on_fluff(dl, 101, tx, sizeof tx, 10), NN_OK);
  assert_true(nn_dl_have(dl, &id));
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.stem_count, 0);
  /* In the mempool now, but served only to a peer it was announced to, once per INV: not to
   * the peer it came from, not to a peer before its INV went out. */
  nn_dl_on_getdata(dl, 101, &id, 10);
  nn_dl_on_getdata(dl, 100, &id, 10);
  assert_int_equal(g_rec.ntx, 0);
  g_rec.ninv = 0;
  run(dl, 10 + 60000);
  assert_true(g_rec.ninv >= 1);
  uint32_t told = g_rec.inv_peer[0];
  assert_int_not_equal(told, 101);
  nn_dl_on_getdata(dl, told, &id, 60020);
  assert_int_equal(g_rec.ntx, 1);
  nn_dl_on_getdata(dl, told, &id, 60021); /* a repeat gets nothing more */
  assert_int_equal(g_rec.ntx, 1);
  run(dl, 10 + 10 * 60000);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.embargo_fired, 0); /* embargo cancelled */
  nn_dl_free(dl);
}

static void
test_dedup(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 2);
  uint8_t tx[] = "dup";
  nn_dl_on_stem(dl, 100, tx, sizeof tx, 0);
  nn_dl_on_stem(dl, 101, tx, sizeof tx, 0); /* came back: a loop, passed on once to the other relay */
  nn_dl_submit(dl, tx, sizeof tx, 0);
  nn_dl_on_stem(dl, 100, tx, sizeof tx, 0); /* and never again */
  assert_int_equal(g_rec.nstem, 2);
  assert_true(g_rec.stem_peer[0] != g_rec.stem_peer[1]);
  fluff_in(dl, 100, tx, sizeof tx, 0);
  fluff_in(dl, 101, tx, sizeof tx, 0);
  assert_int_equal(g_rec.ndeliver, 1);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 1);
  assert_int_equal(st.pending_inv, 3); /* 4 peers but the first sender */
  nn_dl_free(dl);
}

static void
test_inv_diffusion(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  nn_dl_t *dl = mk(&cfg, 3, 4, 6);
  uint8_t tx[] = "fluffed";
  fluff_in(dl, 2, tx, sizeof tx, 0);
  assert_int_equal(g_rec.ninv, 0); /* nothing at once */
  run(dl, 10 * 60000 - 60000);
  assert_int_equal(g_rec.ninv, 9);
  int seen[200] = { 0 };
  int distinct_times = 0;
  for (size_t i = 0; i < g_rec.ninv; i++) {
    assert_int_not_equal(g_rec.inv_peer[i], 2);
    assert_true(g_rec.inv_at[i] > 0);
    seen[g_rec.inv_peer[i]]++;
    if (i && g_rec.inv_at[i] != g_rec.inv_at[i - 1])
      distinct_times++;
  }
  for (int p = 1; p <= 4; p++)
    assert_int_equal(seen[p], p == 2 ? 0 : 1);
  for (int p = 100; p < 106; p++)
    assert_int_equal(seen[p], 1);
  assert_true(distinct_times >= 5); /* independent delays */
  /* Another node receiving the INV asks the first announcer only. */
  nn_hash_t id = idof(tx, sizeof tx);
  nn_dl_t *b = dl;
  (void)b;
  nn_dl_free(dl);
  dl = mk(&cfg, 4, 3, 0);
  nn_dl_on_inv(dl, 2, &id, 0);
  nn_dl_on_inv(dl, 3, &id, 1);
  assert_int_equal(g_rec.ngd, 1);
  assert_int_equal(g_rec.gd_peer[0], 2);
  nn_dl_free(dl);
}

static void
test_caps(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.mem_max_count = 3;
  cfg.stem_max_bytes = 100;
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 1);
  uint8_t t[5][8];
  for (int i = 0; i < 5; i++) {
    memset(t[i], i + 1, 8);
    fluff_in(dl, 100, t[i], 8, (uint64_t)i);
  }
  nn_hash_t id0 = idof(t[0], 8), id1 = idof(t[1], 8), id4 = idof(t[4], 8);
  assert_false(nn_dl_have(dl, &id0));
  assert_false(nn_dl_have(dl, &id1));
  assert_true(nn_dl_have(dl, &id4));
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 3);
  assert_int_equal(st.evicted, 2);
  /* Stempool by bytes: 3 x 40 bytes with a 100-byte cap keeps the last 2. */
  for (int i = 0; i < 3; i++) {
    uint8_t x[40];
    memset(x, 0x50 + i, 40);
    nn_dl_on_stem(dl, 100, x, 40, 0);
  }
  nn_dl_stats(dl, &st);
  assert_int_equal(st.stem_count, 2);
  assert_int_equal(st.stem_bytes, 80);
  nn_dl_free(dl);
}

/* Caps changed at run time (SIGHUP): lowered pool caps evict the oldest at once, never our own
 * stems; a raised peer cap takes more peers than the core was made for. */
static void
test_set_caps(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.max_peers = 4;
  nn_dl_t *dl = mk_role(&cfg, 0, 2, 1);
  uint8_t t[6][8], own[] = "ours", a[] = "a", b[] = "b";
  for (int i = 0; i < 6; i++) {
    memset(t[i], i + 1, 8);
    fluff_in(dl, 100, t[i], 8, (uint64_t)i);
  }
  assert_int_equal(nn_dl_submit(dl, own, sizeof own, 0), NN_OK);
  assert_int_equal(nn_dl_on_stem(dl, 100, a, sizeof a, 0), NN_OK);
  assert_int_equal(nn_dl_on_stem(dl, 100, b, sizeof b, 0), NN_OK);
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 6);
  assert_int_equal(st.stem_count, 3);
  assert_int_equal(nn_dl_set_caps(dl, 4, 0, 1), NN_ERR_ARG); /* nothing changed */
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 6);
  assert_int_equal(nn_dl_set_caps(dl, 40, 2, 1), NN_OK);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 2);
  assert_int_equal(st.stem_count, 1);
  assert_int_equal(st.evicted, 6);
  nn_hash_t id4 = idof(t[4], 8), id5 = idof(t[5], 8), id3 = idof(t[3], 8), ido = idof(own, sizeof own);
  assert_false(nn_dl_have(dl, &id3));
  assert_true(nn_dl_have(dl, &id4));
  assert_true(nn_dl_have(dl, &id5));
  assert_int_equal(nn_dl_stemming(dl, &ido), 2); /* ours stayed; the peers' stems went */
  /* 40 peers now fit in a core made for 4 */
  for (uint32_t i = 0; i < 37; i++)
    assert_int_equal(nn_dl_peer_add(dl, 200 + i, 0, 0), NN_OK);
  assert_int_equal(nn_dl_peer_add(dl, 300, 0, 0), NN_ERR_NOSPACE);
  /* a full mempool at the new cap evicts as usual */
  uint8_t u[8];
  memset(u, 0x77, 8);
  fluff_in(dl, 100, u, 8, 10);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 2);
  assert_false(nn_dl_have(dl, &id4));
  nn_dl_free(dl);
}

static void
test_oversized_and_modes(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.max_tx_bytes = 16;
  nn_dl_t *dl = mk(&cfg, 9, 2, 1);
  uint8_t big[17] = { 0 };
  assert_int_equal(nn_dl_submit(dl, big, 17, 0), NN_ERR_TOO_LONG);
  assert_int_equal(nn_dl_on_stem(dl, 100, big, 17, 0), NN_ERR_TOO_LONG);
  assert_int_equal(nn_dl_on_fluff(dl, 100, big, 17, 0), NN_ERR_TOO_LONG);
  assert_int_equal(nn_dl_submit(dl, big, 16, 0), NN_OK);
  nn_dl_free(dl);
  /* DIRECT: own tx fluffed at once. */
  nn_dl_cfg_default(&cfg);
  cfg.route = NN_ROUTE_DIRECT;
  dl = mk(&cfg, 9, 2, 1);
  uint8_t tx[] = "direct";
  nn_hash_t id = idof(tx, sizeof tx);
  assert_int_equal(nn_dl_submit(dl, tx, sizeof tx, 0), NN_OK);
  assert_int_equal(g_rec.nstem, 0);
  assert_true(nn_dl_have(dl, &id));
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.pending_inv, 3);
  nn_dl_free(dl);
  /* Out of the mixnet at its exit: into the mempool, never stemmed; `mixnet` announces to every
   * peer at once, `dandelion+mixnet` after the diffusion delays. */
  for (int at_once = 0; at_once < 2; at_once++) {
    nn_dl_cfg_default(&cfg);
    cfg.inv_mean_out_ms = cfg.inv_mean_in_ms = 5000;
    dl = mk(&cfg, 21, 2, 2);
    uint8_t mtx[] = "out of the mixnet";
    nn_hash_t mid = idof(mtx, sizeof mtx);
    assert_int_equal(nn_dl_from_mixnet(dl, mtx, sizeof mtx, at_once, 0), NN_OK);
    assert_int_equal(nn_dl_from_mixnet(dl, mtx, sizeof mtx, at_once, 0), NN_OK); /* a duplicate: nothing more */
    assert_int_equal(g_rec.nstem, 0);
    assert_int_equal(g_rec.ndeliver, 1);
    assert_true(nn_dl_have(dl, &mid));
    assert_false(nn_dl_stemming(dl, &mid));
    nn_dl_tick(dl, 1);
    if (at_once)
      assert_int_equal(g_rec.ninv, 4);
    else
      assert_true(g_rec.ninv < 4); /* four exponential delays of mean 5 s, all under 1 ms: p < 1e-12 */
    nn_dl_free(dl);
  }
  /* The mixnet modes are the node's: the core takes them (its own transactions would stem). */
  nn_dl_io_t io = { 0 };
  nn_dl_t *x = (nn_dl_t *)1;
  nn_dl_cfg_default(&cfg);
  cfg.route = NN_ROUTE_MIXNET;
  assert_int_equal(nn_dl_new(&x, &cfg, &io, 0), NN_OK);
  nn_dl_free(x);
  cfg.route = NN_ROUTE_DANDELION_MIXNET;
  assert_int_equal(nn_dl_new(&x, &cfg, &io, 0), NN_OK);
  nn_dl_free(x);
  assert_string_equal(nn_dl_route_str(NN_ROUTE_MIXNET), "mixnet");
  assert_string_equal(nn_dl_via_str(NN_DL_VIA_MIXNET), "mixnet");
  /* q out of range refused */
  x = (nn_dl_t *)1;
  cfg.route = NN_ROUTE_DANDELION;
  cfg.fluff_prob = 0.6;
  assert_int_equal(nn_dl_new(&x, &cfg, &io, 0), NN_ERR_ARG);
  nn_dl_free(NULL);
}

/* ---- the hash index and FIFO order behind the pools and the request set ---- */

typedef struct cnt_t {
  size_t stem, inv, getdata, tx, deliver;
} cnt_t;
static void
c_stem(void *c, uint32_t p, const uint8_t *t, size_t l)
{
  (void)p;
  (void)t;
  (void)l;
  ((cnt_t *)c)->stem++;
}
static void
c_inv(void *c, uint32_t p, const nn_hash_t *id)
{
  (void)p;
  (void)id;
  ((cnt_t *)c)->inv++;
}
static void
c_gd(void *c, uint32_t p, const nn_hash_t *id)
{
  (void)p;
  (void)id;
  ((cnt_t *)c)->getdata++;
}
static void
c_tx(void *c, uint32_t p, const uint8_t *t, size_t l)
{
  (void)p;
  (void)t;
  (void)l;
  ((cnt_t *)c)->tx++;
}
static void
c_del(void *c, const uint8_t *t, size_t l, nn_dl_via_t via, uint32_t from)
{
  (void)t;
  (void)l;
  (void)via;
  (void)from;
  ((cnt_t *)c)->deliver++;
}

/* A relay-epoch node with 2 outbound peers (1, 2) and inbound 100, counting every callback. */
static nn_dl_t *
mk_count(nn_dl_cfg_t *cfg, cnt_t *c)
{
  for (uint64_t seed = 1; seed < 1000; seed++) {
    nn_drbg_init_u64(&g_drbg, seed);
    g_rng = nn_drbg_rng(&g_drbg);
    cfg->rng = &g_rng;
    memset(c, 0, sizeof *c);
    nn_dl_io_t io = { c_stem, c_inv, c_gd, c_tx, c_del, c };
    nn_dl_t *dl = NULL;
    assert_int_equal(nn_dl_new(&dl, cfg, &io, 0), NN_OK);
    if (!nn_dl_fluff_epoch(dl)) {
      assert_int_equal(nn_dl_peer_add(dl, 1, 1, 0), NN_OK);
      assert_int_equal(nn_dl_peer_add(dl, 2, 1, 0), NN_OK);
      assert_int_equal(nn_dl_peer_add(dl, 100, 0, 0), NN_OK);
      return dl;
    }
    nn_dl_free(dl);
  }
  fail();
  return NULL;
}

static void
txbytes(uint8_t out[12], uint32_t tag, uint32_t i)
{
  memcpy(out, "ix", 2);
  out[2] = (uint8_t)(tag >> 8);
  out[3] = (uint8_t)tag;
  for (int k = 0; k < 4; k++)
    out[4 + k] = (uint8_t)(i >> (24 - 8 * k));
  memset(out + 8, 0x5a, 4);
}

/* Thousands of transactions through a small mempool: every lookup finds exactly the newest
 * cap-many (deletions from the index interleave with insertions all the way). */
static void
test_index_many(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.mem_max_count = 500;
  cnt_t c;
  nn_dl_t *dl = mk_count(&cfg, &c);
  uint8_t tx[12];
  for (uint32_t i = 0; i < 5000; i++) {
    txbytes(tx, 1, i);
    assert_int_equal(fluff_in(dl, 100, tx, sizeof tx, i), NN_OK);
    nn_hash_t id = idof(tx, sizeof tx);
    assert_true(nn_dl_have(dl, &id));
    if (i >= 500) {
      txbytes(tx, 1, i - 500);
      id = idof(tx, sizeof tx);
      assert_false(nn_dl_have(dl, &id));
    }
  }
  for (uint32_t i = 0; i < 5000; i++) {
    txbytes(tx, 1, i);
    nn_hash_t id = idof(tx, sizeof tx);
    assert_int_equal(nn_dl_have(dl, &id), i >= 4500);
  }
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.mem_count, 500);
  assert_int_equal(st.evicted, 4500);
  assert_int_equal(c.deliver, 5000);
  /* A duplicate of a held one is ignored; an evicted one comes back as new. */
  txbytes(tx, 1, 4999);
  assert_int_equal(fluff_in(dl, 100, tx, sizeof tx, 6000), NN_OK);
  assert_int_equal(c.deliver, 5000);
  txbytes(tx, 1, 0);
  assert_int_equal(fluff_in(dl, 100, tx, sizeof tx, 6000), NN_OK);
  assert_int_equal(c.deliver, 5001);
  /* The stempool: the newest 50 of 300 are held (a held one is not stemmed again). */
  nn_dl_free(dl);
  nn_dl_cfg_default(&cfg);
  cfg.stem_max_count = 50;
  dl = mk_count(&cfg, &c);
  for (uint32_t i = 0; i < 300; i++) {
    txbytes(tx, 2, i);
    assert_int_equal(nn_dl_on_stem(dl, 100, tx, sizeof tx, 0), NN_OK);
  }
  assert_int_equal(c.stem, 300);
  /* a held one that comes back is passed on once more (a loop), then ignored */
  for (uint32_t i = 250; i < 300; i++) {
    txbytes(tx, 2, i);
    nn_dl_on_stem(dl, 100, tx, sizeof tx, 0);
  }
  assert_int_equal(c.stem, 350);
  for (uint32_t i = 250; i < 300; i++) {
    txbytes(tx, 2, i);
    nn_dl_on_stem(dl, 100, tx, sizeof tx, 0);
  }
  assert_int_equal(c.stem, 350);
  for (uint32_t i = 0; i < 10; i++) {
    txbytes(tx, 2, i);
    nn_dl_on_stem(dl, 100, tx, sizeof tx, 0);
  }
  assert_int_equal(c.stem, 360); /* evicted ones are new again */
  nn_dl_stats(dl, &st);
  assert_int_equal(st.stem_count, 50);
  nn_dl_free(dl);
}

/* A stem transaction promoted to the mempool is its newest entry, so eviction takes the ones
 * that entered the mempool before it. */
static void
test_promotion_order(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.mem_max_count = 2;
  cnt_t c;
  nn_dl_t *dl = mk_count(&cfg, &c);
  uint8_t a[] = "A", b[] = "B", cc[] = "C", d[] = "D";
  nn_hash_t ia = idof(a, sizeof a), ib = idof(b, sizeof b), ic = idof(cc, sizeof cc), id = idof(d, sizeof d);
  assert_int_equal(nn_dl_on_stem(dl, 100, a, sizeof a, 0), NN_OK);
  fluff_in(dl, 100, b, sizeof b, 1);
  fluff_in(dl, 100, cc, sizeof cc, 2);
  fluff_in(dl, 1, a, sizeof a, 3); /* A leaves the stempool: B, the oldest, goes */
  assert_false(nn_dl_have(dl, &ib));
  assert_true(nn_dl_have(dl, &ic));
  assert_true(nn_dl_have(dl, &ia));
  fluff_in(dl, 100, d, sizeof d, 4); /* then C */
  assert_false(nn_dl_have(dl, &ic));
  assert_true(nn_dl_have(dl, &ia));
  assert_true(nn_dl_have(dl, &id));
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.stem_count, 0);
  assert_int_equal(st.mem_count, 2);
  /* The promoted transaction's embargo is gone with it. */
  uint64_t dd = nn_dl_deadline(dl);
  nn_dl_tick(dl, nn_dl_epoch_end(dl) - 1);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.embargo_fired, 0);
  assert_true(dd <= nn_dl_epoch_end(dl));
  nn_dl_free(dl);
}

/* Thousands of outstanding requests: each id is asked once, of its first announcer, until it
 * arrives or the request times out; the cap holds. */
static void
test_requests_many(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.max_requests_per_peer = 4096; /* the table-wide logic here; the per-peer cap has its own test */
  cnt_t c;
  nn_dl_t *dl = mk_count(&cfg, &c);
  uint8_t tx[12];
  nn_hash_t ids[3000];
  for (uint32_t i = 0; i < 3000; i++) {
    txbytes(tx, 3, i);
    ids[i] = idof(tx, sizeof tx);
  }
  for (uint32_t i = 0; i < 3000; i++)
    nn_dl_on_inv(dl, 1, &ids[i], 0);
  assert_int_equal(c.getdata, 3000);
  for (uint32_t i = 0; i < 3000; i++)
    nn_dl_on_inv(dl, 2, &ids[i], 1);
  assert_int_equal(c.getdata, 3000);
  /* 1000 arrive: their requests are forgotten. */
  for (uint32_t i = 0; i < 1000; i++) {
    txbytes(tx, 3, i);
    fluff_in(dl, 1, tx, sizeof tx, 2);
  }
  nn_dl_stats_t st;
  nn_dl_stats(dl, &st);
  assert_int_equal(st.requests, 2000);
  for (uint32_t i = 0; i < 3000; i++)
    nn_dl_on_inv(dl, 2, &ids[i], 3);
  assert_int_equal(c.getdata, 3000); /* held ones are not asked for, pending ones not again */
  /* After the timeout the rest may be asked of a later announcer. */
  for (uint32_t i = 0; i < 3000; i++)
    nn_dl_on_inv(dl, 100, &ids[i], cfg.request_timeout_ms + 1);
  assert_int_equal(c.getdata, 5000);
  nn_dl_stats(dl, &st);
  assert_int_equal(st.requests, 2000);
  nn_dl_free(dl);
  /* The cap on outstanding requests. */
  cfg.max_requests = 100;
  dl = mk_count(&cfg, &c);
  for (uint32_t i = 0; i < 3000; i++)
    nn_dl_on_inv(dl, 1, &ids[i], 0);
  assert_int_equal(c.getdata, 100);
  nn_dl_free(dl);
}

/* Two cores with the same seed index the same ids in different buckets only through their keys:
 * the index's behaviour (what is found) never depends on the key. */
static void
test_index_key_independent(void **s)
{
  (void)s;
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.mem_max_count = 64;
  cnt_t c;
  uint8_t tx[12];
  size_t found[2] = { 0, 0 };
  for (int run = 0; run < 2; run++) {
    nn_dl_t *dl = NULL;
    nn_drbg_init_u64(&g_drbg, 1000 + (uint64_t)run);
    g_rng = nn_drbg_rng(&g_drbg);
    cfg.rng = &g_rng;
    memset(&c, 0, sizeof c);
    nn_dl_io_t io = { c_stem, c_inv, c_gd, c_tx, c_del, &c };
    assert_int_equal(nn_dl_new(&dl, &cfg, &io, 0), NN_OK);
    assert_int_equal(nn_dl_peer_add(dl, 7, 0, 0), NN_OK);
    for (uint32_t i = 0; i < 1000; i++) {
      txbytes(tx, 4, i * 7919u % 1000);
      fluff_in(dl, 7, tx, sizeof tx, i);
    }
    for (uint32_t i = 0; i < 1000; i++) {
      txbytes(tx, 4, i);
      nn_hash_t id = idof(tx, sizeof tx);
      found[run] += (size_t)nn_dl_have(dl, &id);
    }
    nn_dl_free(dl);
  }
  assert_int_equal(found[0], 64);
  assert_int_equal(found[1], 64);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_own_always_stemmed),
    cmocka_unit_test(test_set_caps),
    cmocka_unit_test(test_stem_outbound_only_and_fluff_epoch),
    cmocka_unit_test(test_pinning),
    cmocka_unit_test(test_relay_replaced),
    cmocka_unit_test(test_own_embargo_longer),
    cmocka_unit_test(test_unsolicited_and_request_caps),
    cmocka_unit_test(test_own_waits_for_relay),
    cmocka_unit_test(test_fluff_probability),
    cmocka_unit_test(test_embargo_blackhole),
    cmocka_unit_test(test_stempool_probe),
    cmocka_unit_test(test_dedup),
    cmocka_unit_test(test_inv_diffusion),
    cmocka_unit_test(test_caps),
    cmocka_unit_test(test_oversized_and_modes),
    cmocka_unit_test(test_index_many),
    cmocka_unit_test(test_promotion_order),
    cmocka_unit_test(test_requests_many),
    cmocka_unit_test(test_index_key_independent),
    cmocka_unit_test(test_restem_own_not_to_looper),
    cmocka_unit_test(test_stemming_until_evicted_or_fluffed),
    cmocka_unit_test(test_own_stems_never_evicted_for_peers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
