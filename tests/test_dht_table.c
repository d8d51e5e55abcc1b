/*
 * The Kademlia routing table (src/dht/table.h): bucket math, insertion and update, the
 * long-lived-contacts-win eviction policy (probe, failures, replacement cache), closest()
 * against a brute-force sort over many random tables, the IP-diversity limits under a
 * one-/24 and a one-/16 flood (IPv4, IPv6 /48, mapped and onion addresses), refresh
 * scheduling, and the memory a large table holds.
 *
 * Every random id comes from a seeded nn_drbg_t, so a failure replays exactly.
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

#include <malloc.h>

#include "crypto/rand.h"
#include "dht/table.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NN_ASAN 1
#endif
#ifdef NN_ASAN
#include <sanitizer/allocator_interface.h>
#endif

/* Heap bytes in use (glibc's count, or ASan's when its allocator replaces glibc's). */
static size_t
heap_in_use(void)
{
#ifdef NN_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}

/* ---- helpers ---- */

typedef struct trng_t {
  nn_drbg_t d;
  nn_rng_t r;
} trng_t;

static void
trng_init(trng_t *g, uint64_t seed)
{
  nn_drbg_init_u64(&g->d, seed);
  g->r = nn_drbg_rng(&g->d);
}

static uint32_t
rnd32(trng_t *g)
{
  uint8_t b[4];
  assert_int_equal(nn_rng_fill(&g->r, b, 4), NN_OK);
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void
rnd_id(trng_t *g, nn_node_id_t *id)
{
  assert_int_equal(nn_rng_fill(&g->r, id->b, NN_NODE_ID_LEN), NN_OK);
}

static int
bit_of(const nn_node_id_t *id, unsigned p)
{
  return (id->b[p / 8] >> (7 - p % 8)) & 1;
}

static void
set_bit(nn_node_id_t *id, unsigned p, int v)
{
  uint8_t m = (uint8_t)(0x80 >> (p % 8));
  id->b[p / 8] = (uint8_t)(v ? id->b[p / 8] | m : id->b[p / 8] & ~m);
}

/* A random id sharing exactly bi leading bits with self, built bit by bit (independently of
 * the table's own byte-mask code). */
static void
id_in_bucket(trng_t *g, const nn_node_id_t *self, unsigned bi, nn_node_id_t *id)
{
  rnd_id(g, id);
  for (unsigned p = 0; p < bi; p++)
    set_bit(id, p, bit_of(self, p));
  set_bit(id, bi, !bit_of(self, bi));
}

static nn_addr_t
v4(unsigned a, unsigned b, unsigned c, unsigned d)
{
  uint8_t ip[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
  return nn_addr_ipv4(ip, 9800);
}

/* A public IPv4 address in a /24 of its own for each n < 2^20 (11.0.0.0 and up are public). */
static nn_addr_t
honest_v4(unsigned n)
{
  return v4(11 + (n >> 16), (n >> 8) & 0xff, n & 0xff, 7);
}

/* Contacts in bucket bi. */
static unsigned
bucket_count(const nn_dht_table_t *t, const nn_node_id_t *self, unsigned bi)
{
  size_t n = nn_dht_table_size(t);
  nn_dht_contact_t *all = calloc(n ? n : 1, sizeof(*all));
  unsigned c = 0;
  assert_non_null(all);
  nn_dht_table_all(t, all, n);
  for (size_t i = 0; i < n; i++)
    c += nn_dht_bucket_index(self, &all[i].id) == bi;
  free(all);
  return c;
}

/* The diversity group of an address, computed here without nn_addr_group: IPv4 (and mapped
 * IPv4) /24, IPv6 /48, onion/I2P the whole key. */
static size_t
test_group(const nn_addr_t *a, uint8_t out[40])
{
  static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  memset(out, 0, 40);
  if (a->type == NN_ADDR_IPV4 || (a->type == NN_ADDR_IPV6 && !memcmp(a->host, mapped, 12))) {
    out[0] = 4;
    memcpy(out + 1, a->type == NN_ADDR_IPV4 ? a->host : a->host + 12, 3);
    return 4;
  }
  if (a->type == NN_ADDR_IPV6) {
    out[0] = 6;
    memcpy(out + 1, a->host, 6);
    return 7;
  }
  out[0] = a->type;
  memcpy(out + 1, a->host, 32);
  return 33;
}

/* Assert the diversity limits over the whole table: at most pb contacts of one group per bucket
 * and pt per table. Returns the largest per-table group count seen. */
static unsigned
check_limits(const nn_dht_table_t *t, const nn_node_id_t *self, unsigned pb, unsigned pt)
{
  size_t n = nn_dht_table_size(t);
  nn_dht_contact_t *all = calloc(n ? n : 1, sizeof(*all));
  assert_non_null(all);
  assert_int_equal(nn_dht_table_all(t, all, n), n);
  unsigned worst = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t gi[40], gj[40];
    test_group(&all[i].addr, gi);
    unsigned bi = nn_dht_bucket_index(self, &all[i].id), in_bucket = 0, in_table = 0;
    for (size_t j = 0; j < n; j++) {
      test_group(&all[j].addr, gj);
      if (memcmp(gi, gj, 40))
        continue;
      in_table++;
      if (nn_dht_bucket_index(self, &all[j].id) == bi)
        in_bucket++;
    }
    assert_true(in_bucket <= pb);
    assert_true(in_table <= pt);
    if (in_table > worst)
      worst = in_table;
  }
  free(all);
  return worst;
}

static nn_dht_table_t *
new_table(const nn_node_id_t *self, const nn_dht_table_cfg_t *cfg)
{
  nn_dht_table_t *t = NULL;
  assert_int_equal(nn_dht_table_new(&t, self, cfg), NN_OK);
  assert_non_null(t);
  return t;
}

static nn_dht_table_cfg_t
cfg_open(void)
{
  nn_dht_table_cfg_t c;
  nn_dht_table_cfg_default(&c);
  c.allow_private = 1;
  c.per_bucket_group = 0;
  c.per_table_group = 0;
  return c;
}

/* ---- configuration and lifetime ---- */

static void
test_cfg_and_free(void **state)
{
  (void)state;
  nn_dht_table_cfg_t c;
  nn_dht_table_t *t = (nn_dht_table_t *)&c; /* must be reset to NULL on failure */
  nn_node_id_t self;
  memset(&self, 0x11, sizeof(self));

  nn_dht_table_cfg_default(&c);
  assert_int_equal(c.k, 20);
  assert_int_equal(c.per_bucket_group, 2);
  assert_int_equal(c.per_table_group, 10);
  assert_int_equal(c.replacement, 20);
  assert_int_equal(c.max_fails, 3);
  assert_int_equal(c.allow_private, 0);
  assert_int_equal(c.v4_group_bits, 24);
  assert_int_equal(c.v6_group_bits, 48);

  c.k = 0;
  assert_int_equal(nn_dht_table_new(&t, &self, &c), NN_ERR_ARG);
  assert_null(t);
  nn_dht_table_cfg_default(&c);
  c.max_fails = 0;
  assert_int_equal(nn_dht_table_new(&t, &self, &c), NN_ERR_ARG);
  nn_dht_table_cfg_default(&c);
  c.k = NN_DHT_K_MAX + 1;
  assert_int_equal(nn_dht_table_new(&t, &self, &c), NN_ERR_ARG);
  nn_dht_table_cfg_default(&c);
  c.v6_group_bits = 129;
  assert_int_equal(nn_dht_table_new(&t, &self, &c), NN_ERR_ARG);
  assert_int_equal(nn_dht_table_new(&t, NULL, NULL), NN_ERR_ARG);
  assert_int_equal(nn_dht_table_new(NULL, &self, NULL), NN_ERR_ARG);

  assert_int_equal(nn_dht_table_new(&t, &self, NULL), NN_OK);
  assert_int_equal(nn_dht_table_size(t), 0);
  assert_true(nn_dht_table_memory(t) > 0);
  nn_dht_table_free(t);
  nn_dht_table_free(NULL); /* a no-op */

  /* NULL tables are harmless everywhere */
  assert_int_equal(nn_dht_table_size(NULL), 0);
  assert_null(nn_dht_table_find(NULL, &self));
  assert_int_equal(nn_dht_table_seen(NULL, &self, NULL, 0, 0, NULL), NN_TABLE_REJECTED);
}

/* ---- bucket index and distance ---- */

static void
test_bucket_index(void **state)
{
  (void)state;
  nn_node_id_t self, id;
  trng_t g;
  trng_init(&g, 1);

  memset(&self, 0, sizeof(self));
  id = self;
  assert_int_equal(nn_dht_bucket_index(&self, &id), 256);
  id.b[0] = 0x80;
  assert_int_equal(nn_dht_bucket_index(&self, &id), 0);
  id.b[0] = 0x01;
  assert_int_equal(nn_dht_bucket_index(&self, &id), 7);
  id.b[0] = 0;
  id.b[1] = 0x40;
  assert_int_equal(nn_dht_bucket_index(&self, &id), 9);
  id.b[1] = 0;
  id.b[31] = 1;
  assert_int_equal(nn_dht_bucket_index(&self, &id), 255);
  memset(&self, 0xff, sizeof(self));
  memset(&id, 0xff, sizeof(id));
  id.b[31] = 0xfe;
  assert_int_equal(nn_dht_bucket_index(&self, &id), 255);

  for (int round = 0; round < 4; round++) {
    rnd_id(&g, &self);
    for (unsigned p = 0; p < 256; p++) {
      id_in_bucket(&g, &self, p, &id);
      assert_int_equal(nn_dht_bucket_index(&self, &id), p);
      assert_int_equal(nn_dht_bucket_index(&id, &self), p); /* symmetric */
    }
  }

  /* distance comparison */
  nn_node_id_t target, a, b;
  memset(&target, 0, sizeof(target));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.b[31] = 1;
  b.b[0] = 1;
  assert_true(nn_node_id_cmp_distance(&target, &a, &b) < 0);
  assert_true(nn_node_id_cmp_distance(&target, &b, &a) > 0);
  assert_int_equal(nn_node_id_cmp_distance(&target, &a, &a), 0);
  target.b[0] = 1; /* now b is the target itself */
  assert_true(nn_node_id_cmp_distance(&target, &b, &a) < 0);
}

/* ---- insertion, update, rejection ---- */

static void
test_insert_update_reject(void **state)
{
  (void)state;
  nn_node_id_t self, a;
  trng_t g;
  trng_init(&g, 2);
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);

  id_in_bucket(&g, &self, 3, &a);
  nn_addr_t addr = v4(8, 8, 8, 8);
  assert_int_equal(nn_dht_table_seen(t, &a, &addr, 1000, 100, NULL), NN_TABLE_ADDED);
  assert_int_equal(nn_dht_table_size(t), 1);
  const nn_dht_contact_t *c = nn_dht_table_find(t, &a);
  assert_non_null(c);
  assert_memory_equal(c->id.b, a.b, 32);
  assert_true(nn_addr_equal(&c->addr, &addr));
  assert_int_equal(c->first_seen_ms, 1000);
  assert_int_equal(c->last_seen_ms, 1000);
  assert_int_equal(c->rtt_ms, 100);
  assert_int_equal(c->fails, 0);

  /* failures count, then seeing it again resets them and refreshes everything */
  nn_dht_table_failed(t, &a, 1500);
  nn_dht_table_failed(t, &a, 1600);
  assert_int_equal(nn_dht_table_find(t, &a)->fails, 2);
  nn_addr_t moved = v4(9, 9, 9, 9);
  assert_int_equal(nn_dht_table_seen(t, &a, &moved, 2000, 180, NULL), NN_TABLE_UPDATED);
  c = nn_dht_table_find(t, &a);
  assert_int_equal(c->first_seen_ms, 1000);
  assert_int_equal(c->last_seen_ms, 2000);
  assert_int_equal(c->rtt_ms, (7 * 100 + 180) / 8);
  assert_int_equal(c->fails, 0);
  assert_true(nn_addr_equal(&c->addr, &moved));
  /* rtt 0 = unknown keeps the estimate */
  assert_int_equal(nn_dht_table_seen(t, &a, &moved, 2100, 0, NULL), NN_TABLE_UPDATED);
  assert_int_equal(nn_dht_table_find(t, &a)->rtt_ms, (7 * 100 + 180) / 8);
  assert_int_equal(nn_dht_table_size(t), 1);

  /* self, invalid and non-routable addresses */
  assert_int_equal(nn_dht_table_seen(t, &self, &addr, 3000, 0, NULL), NN_TABLE_REJECTED);
  nn_node_id_t b;
  id_in_bucket(&g, &self, 0, &b);
  nn_addr_t bad;
  memset(&bad, 0, sizeof(bad));
  assert_int_equal(nn_dht_table_seen(t, &b, &bad, 3000, 0, NULL), NN_TABLE_REJECTED);
  bad = v4(8, 8, 4, 4);
  bad.port = 0;
  assert_int_equal(nn_dht_table_seen(t, &b, &bad, 3000, 0, NULL), NN_TABLE_REJECTED);
  nn_addr_t priv[] = { v4(127, 0, 0, 1),  v4(10, 1, 2, 3),    v4(192, 168, 1, 1),
                       v4(172, 16, 0, 1), v4(169, 254, 1, 1), v4(0, 1, 2, 3) };
  for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
    assert_int_equal(nn_dht_table_seen(t, &b, &priv[i], 3000, 0, NULL), NN_TABLE_REJECTED);
  assert_null(nn_dht_table_find(t, &b));
  assert_null(nn_dht_table_find(t, &self));
  assert_int_equal(nn_dht_table_size(t), 1);
  nn_dht_table_remove(t, &a);
  assert_int_equal(nn_dht_table_size(t), 0);
  assert_null(nn_dht_table_find(t, &a));
  nn_dht_table_free(t);

  /* allow_private: the devnet and the simulator run on loopback */
  nn_dht_table_cfg_t cfg;
  nn_dht_table_cfg_default(&cfg);
  cfg.allow_private = 1;
  t = new_table(&self, &cfg);
  assert_int_equal(nn_dht_table_seen(t, &b, &priv[0], 3000, 0, NULL), NN_TABLE_ADDED);
  assert_int_equal(nn_dht_table_seen(t, &self, &priv[0], 3000, 0, NULL), NN_TABLE_REJECTED);
  nn_dht_table_free(t);
}

/* ---- closest() against brute force ---- */

typedef struct ranked_t {
  nn_dht_contact_t c;
  nn_node_id_t dist;
  int stale;
} ranked_t;

static int
ranked_cmp(const void *x, const void *y)
{
  const ranked_t *a = x, *b = y;
  if (a->stale != b->stale)
    return a->stale - b->stale;
  return memcmp(a->dist.b, b->dist.b, 32);
}

static void
check_closest(const nn_dht_table_t *t, const nn_node_id_t *self, const nn_node_id_t *target, unsigned max_fails)
{
  size_t size = nn_dht_table_size(t);
  ranked_t *r = calloc(size + 1, sizeof(*r));
  nn_dht_contact_t *all = calloc(size + 1, sizeof(*all));
  nn_dht_contact_t *got = calloc(size + 8, sizeof(*got));
  assert_true(r && all && got);
  assert_int_equal(nn_dht_table_all(t, all, size), size);
  for (size_t i = 0; i < size; i++) {
    r[i].c = all[i];
    nn_node_id_distance(&r[i].dist, &all[i].id, target);
    r[i].stale = all[i].fails >= max_fails;
  }
  qsort(r, size, sizeof(*r), ranked_cmp);
  size_t ns[] = { 0, 1, 2, 3, 7, 16, 20, 33, size / 2, size ? size - 1 : 0, size, size + 5 };
  for (size_t q = 0; q < sizeof(ns) / sizeof(ns[0]); q++) {
    size_t n = ns[q], want = n < size ? n : size;
    size_t m = nn_dht_table_closest(t, target, n, got);
    assert_int_equal(m, want);
    for (size_t i = 0; i < m; i++) {
      assert_memory_equal(got[i].id.b, r[i].c.id.b, 32);
      assert_true(nn_dht_bucket_index(self, &got[i].id) < 256);
    }
  }
  free(r);
  free(all);
  free(got);
}

static void
test_closest_matches_brute_force(void **state)
{
  (void)state;
  for (uint64_t seed = 100; seed < 160; seed++) {
    trng_t g;
    trng_init(&g, seed);
    nn_node_id_t self, id;
    rnd_id(&g, &self);
    nn_dht_table_cfg_t cfg = cfg_open();
    static const unsigned ks[] = { 1, 2, 5, 20 };
    cfg.k = ks[seed % 4];
    cfg.replacement = cfg.k;
    nn_dht_table_t *t = new_table(&self, &cfg);
    unsigned n = rnd32(&g) % 700;
    for (unsigned i = 0; i < n; i++) {
      if (rnd32(&g) % 4 == 0)
        id_in_bucket(&g, &self, rnd32(&g) % 256, &id); /* populate deep buckets too */
      else
        rnd_id(&g, &id);
      nn_addr_t a = v4(10, (i >> 8) & 0xff, i & 0xff, 1);
      nn_dht_table_seen(t, &id, &a, 1000 + i, 0, NULL);
    }
    /* make some contacts stale: they must come after all live ones */
    size_t size = nn_dht_table_size(t);
    nn_dht_contact_t *all = calloc(size + 1, sizeof(*all));
    assert_non_null(all);
    nn_dht_table_all(t, all, size);
    for (size_t i = 0; i < size; i++)
      if (rnd32(&g) % 6 == 0)
        for (unsigned f = 0; f < cfg.max_fails; f++)
          nn_dht_table_failed(t, &all[i].id, 5000);
    free(all);

    nn_node_id_t target;
    for (int q = 0; q < 6; q++) {
      rnd_id(&g, &target);
      check_closest(t, &self, &target, cfg.max_fails);
    }
    check_closest(t, &self, &self, cfg.max_fails);
    for (unsigned bi = 0; bi < 256; bi += 37) {
      id_in_bucket(&g, &self, bi, &target);
      check_closest(t, &self, &target, cfg.max_fails);
    }
    /* remove about half (emptying buckets, promoting candidates) and check again */
    size = nn_dht_table_size(t);
    all = calloc(size + 1, sizeof(*all));
    assert_non_null(all);
    nn_dht_table_all(t, all, size);
    for (size_t i = 0; i < size; i++)
      if (rnd32(&g) % 2)
        nn_dht_table_remove(t, &all[i].id);
    free(all);
    for (int q = 0; q < 3; q++) {
      rnd_id(&g, &target);
      check_closest(t, &self, &target, cfg.max_fails);
    }
    check_closest(t, &self, &self, cfg.max_fails);
    nn_dht_contact_t one;
    if (nn_dht_table_closest(t, &self, 1, &one) == 1) {
      /* a contact's own id: it comes first, at distance 0 (unless it is stale) */
      check_closest(t, &self, &one.id, cfg.max_fails);
      if (one.fails < cfg.max_fails) {
        nn_dht_contact_t first;
        assert_int_equal(nn_dht_table_closest(t, &one.id, 1, &first), 1);
        assert_memory_equal(first.id.b, one.id.b, 32);
      }
    }
    nn_dht_table_free(t);
  }
}

/* ---- the eviction policy ---- */

/* Fill bucket bi of t with k contacts seen at times 1..k, in distinct /24s; ids into ids[]. */
static void
fill_bucket(nn_dht_table_t *t, trng_t *g, const nn_node_id_t *self, unsigned bi, unsigned k, nn_node_id_t *ids,
            unsigned addr_base)
{
  for (unsigned i = 0; i < k; i++) {
    id_in_bucket(g, self, bi, &ids[i]);
    nn_addr_t a = honest_v4(addr_base + i);
    assert_int_equal(nn_dht_table_seen(t, &ids[i], &a, 1 + i, 0, NULL), NN_TABLE_ADDED);
  }
}

static void
test_full_bucket_pending_probe(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 3);
  nn_node_id_t self, ids[20], nc, nc2;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);
  fill_bucket(t, &g, &self, 0, 20, ids, 0);
  assert_int_equal(nn_dht_table_size(t), 20);

  nn_dht_contact_t probe;
  memset(&probe, 0, sizeof(probe));
  id_in_bucket(&g, &self, 0, &nc);
  nn_addr_t a = honest_v4(1000);
  assert_int_equal(nn_dht_table_seen(t, &nc, &a, 100, 0, &probe), NN_TABLE_PENDING);
  assert_memory_equal(probe.id.b, ids[0].b, 32); /* the least recently seen */
  assert_int_equal(probe.last_seen_ms, 1);
  assert_null(nn_dht_table_find(t, &nc));
  assert_non_null(nn_dht_table_find_replacement(t, &nc));
  assert_int_equal(nn_dht_table_size(t), 20);
  assert_int_equal(nn_dht_table_replacements(t), 1);

  /* ids[0] and ids[1] are seen: ids[2] becomes the least recently seen */
  nn_addr_t a0 = honest_v4(0), a1 = honest_v4(1);
  assert_int_equal(nn_dht_table_seen(t, &ids[0], &a0, 101, 0, NULL), NN_TABLE_UPDATED);
  assert_int_equal(nn_dht_table_seen(t, &ids[1], &a1, 102, 0, NULL), NN_TABLE_UPDATED);
  id_in_bucket(&g, &self, 0, &nc2);
  nn_addr_t a2 = honest_v4(1001);
  assert_int_equal(nn_dht_table_seen(t, &nc2, &a2, 103, 0, &probe), NN_TABLE_PENDING);
  assert_memory_equal(probe.id.b, ids[2].b, 32);

  /* a candidate seen again stays a candidate, keeps its first_seen, and asks for a probe */
  assert_int_equal(nn_dht_table_seen(t, &nc, &a, 200, 50, &probe), NN_TABLE_PENDING);
  const nn_dht_contact_t *rc = nn_dht_table_find_replacement(t, &nc);
  assert_non_null(rc);
  assert_int_equal(rc->first_seen_ms, 100);
  assert_int_equal(rc->last_seen_ms, 200);
  assert_int_equal(rc->rtt_ms, 50);
  assert_int_equal(nn_dht_table_replacements(t), 2);

  /* other buckets are unaffected */
  nn_node_id_t deep;
  id_in_bucket(&g, &self, 1, &deep);
  nn_addr_t ad = honest_v4(2000);
  assert_int_equal(nn_dht_table_seen(t, &deep, &ad, 300, 0, NULL), NN_TABLE_ADDED);
  nn_dht_table_free(t);
}

static void
test_probe_alive_keeps_old(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 4);
  nn_node_id_t self, ids[20];
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);
  fill_bucket(t, &g, &self, 0, 20, ids, 0);

  /* 200 newcomers; the caller probes each time and every old contact answers */
  nn_node_id_t probed_first;
  for (unsigned i = 0; i < 200; i++) {
    nn_node_id_t nc;
    nn_dht_contact_t probe;
    id_in_bucket(&g, &self, 0, &nc);
    nn_addr_t a = honest_v4(1000 + i);
    assert_int_equal(nn_dht_table_seen(t, &nc, &a, 100 + 2 * i, 0, &probe), NN_TABLE_PENDING);
    if (i == 0)
      probed_first = probe.id;
    if (i == 1) /* the first probed contact moved to most-recently-seen: someone else is next */
      assert_memory_not_equal(probe.id.b, probed_first.b, 32);
    nn_dht_table_probe_result(t, &probe.id, 1, 101 + 2 * i);
    assert_non_null(nn_dht_table_find(t, &probe.id));
    assert_int_equal(nn_dht_table_find(t, &probe.id)->last_seen_ms, 101 + 2 * i);
    assert_non_null(nn_dht_table_find_replacement(t, &nc)); /* the newcomer waits */
  }
  for (unsigned i = 0; i < 20; i++)
    assert_non_null(nn_dht_table_find(t, &ids[i]));
  assert_int_equal(nn_dht_table_size(t), 20);
  assert_int_equal(nn_dht_table_replacements(t), 20); /* capped at cfg.replacement */
  nn_dht_table_free(t);
}

static void
test_probe_dead_promotes_newest(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 5);
  nn_node_id_t self, ids[20], older, newer;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);
  fill_bucket(t, &g, &self, 0, 20, ids, 0);

  nn_dht_contact_t probe;
  id_in_bucket(&g, &self, 0, &older);
  id_in_bucket(&g, &self, 0, &newer);
  nn_addr_t ao = honest_v4(1000), an = honest_v4(1001);
  assert_int_equal(nn_dht_table_seen(t, &older, &ao, 100, 0, &probe), NN_TABLE_PENDING);
  assert_int_equal(nn_dht_table_seen(t, &newer, &an, 110, 0, &probe), NN_TABLE_PENDING);
  assert_memory_equal(probe.id.b, ids[0].b, 32);
  nn_dht_table_probe_result(t, &probe.id, 0, 120);
  assert_null(nn_dht_table_find(t, &ids[0]));
  assert_non_null(nn_dht_table_find(t, &newer)); /* the newest candidate */
  assert_null(nn_dht_table_find_replacement(t, &newer));
  assert_non_null(nn_dht_table_find_replacement(t, &older));
  assert_int_equal(nn_dht_table_find(t, &newer)->first_seen_ms, 110);
  assert_int_equal(nn_dht_table_size(t), 20);

  /* probe dead with an empty cache: kept but stale, ranked last */
  nn_dht_table_remove(t, &older);
  assert_int_equal(nn_dht_table_replacements(t), 0);
  nn_dht_table_probe_result(t, &ids[1], 0, 130);
  const nn_dht_contact_t *c = nn_dht_table_find(t, &ids[1]);
  assert_non_null(c);
  assert_int_equal(c->fails, 3);
  nn_dht_contact_t out[20];
  assert_int_equal(nn_dht_table_closest(t, &ids[1], 20, out), 20);
  assert_memory_equal(out[19].id.b, ids[1].b, 32);
  /* the next newcomer takes the stale contact's place at once */
  nn_node_id_t third;
  id_in_bucket(&g, &self, 0, &third);
  nn_addr_t at = honest_v4(1002);
  assert_int_equal(nn_dht_table_seen(t, &third, &at, 140, 0, NULL), NN_TABLE_ADDED);
  assert_null(nn_dht_table_find(t, &ids[1]));
  assert_int_equal(nn_dht_table_size(t), 20);

  /* a probe result for an unknown id is ignored */
  nn_dht_table_probe_result(t, &older, 0, 150);
  assert_int_equal(nn_dht_table_size(t), 20);
  nn_dht_table_free(t);
}

static void
test_failures_evict_only_with_replacement(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 6);
  nn_node_id_t self, ids[20], lone, nc;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);

  /* a bucket with room and no candidates: failures never remove the contact */
  id_in_bucket(&g, &self, 5, &lone);
  nn_addr_t al = honest_v4(500);
  assert_int_equal(nn_dht_table_seen(t, &lone, &al, 1, 0, NULL), NN_TABLE_ADDED);
  for (unsigned f = 0; f < 10; f++)
    nn_dht_table_failed(t, &lone, 2 + f);
  assert_non_null(nn_dht_table_find(t, &lone));
  assert_int_equal(nn_dht_table_find(t, &lone)->fails, 10);

  /* a full bucket: failures below max_fails keep the contact even with a candidate waiting */
  fill_bucket(t, &g, &self, 0, 20, ids, 0);
  id_in_bucket(&g, &self, 0, &nc);
  nn_addr_t a = honest_v4(1000);
  assert_int_equal(nn_dht_table_seen(t, &nc, &a, 100, 0, NULL), NN_TABLE_PENDING);
  nn_dht_table_failed(t, &ids[7], 101);
  nn_dht_table_failed(t, &ids[7], 102);
  assert_non_null(nn_dht_table_find(t, &ids[7]));
  assert_null(nn_dht_table_find(t, &nc));
  /* the third failure makes it stale, and the candidate takes its place */
  nn_dht_table_failed(t, &ids[7], 103);
  assert_null(nn_dht_table_find(t, &ids[7]));
  assert_non_null(nn_dht_table_find(t, &nc));
  assert_int_equal(nn_dht_table_find(t, &nc)->fails, 0);
  assert_int_equal(nn_dht_table_replacements(t), 0);
  assert_int_equal(nn_dht_table_size(t), 21);

  /* no candidate left: the next stale contact stays */
  for (unsigned f = 0; f < 3; f++)
    nn_dht_table_failed(t, &ids[8], 104 + f);
  assert_non_null(nn_dht_table_find(t, &ids[8]));

  /* a candidate that fails an RPC is dropped from the cache */
  nn_node_id_t nc2;
  id_in_bucket(&g, &self, 0, &nc2);
  nn_addr_t a2 = honest_v4(1001);
  /* ids[8] is stale, so the newcomer replaces it at once */
  assert_int_equal(nn_dht_table_seen(t, &nc2, &a2, 110, 0, NULL), NN_TABLE_ADDED);
  assert_null(nn_dht_table_find(t, &ids[8]));
  nn_node_id_t nc3;
  id_in_bucket(&g, &self, 0, &nc3);
  nn_addr_t a3 = honest_v4(1002);
  assert_int_equal(nn_dht_table_seen(t, &nc3, &a3, 111, 0, NULL), NN_TABLE_PENDING);
  nn_dht_table_failed(t, &nc3, 112);
  assert_null(nn_dht_table_find_replacement(t, &nc3));

  /* remove() promotes the newest candidate */
  nn_node_id_t nc4;
  id_in_bucket(&g, &self, 0, &nc4);
  nn_addr_t a4 = honest_v4(1003);
  assert_int_equal(nn_dht_table_seen(t, &nc4, &a4, 113, 0, NULL), NN_TABLE_PENDING);
  nn_dht_table_remove(t, &ids[9]);
  assert_null(nn_dht_table_find(t, &ids[9]));
  assert_non_null(nn_dht_table_find(t, &nc4));
  assert_int_equal(nn_dht_table_size(t), 21);
  nn_dht_table_free(t);
}

/* ---- IP diversity ---- */

static void
test_diversity_one_24(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 7);
  nn_node_id_t self, id;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);

  unsigned added = 0, rejected = 0;
  for (unsigned i = 0; i < 1000; i++) {
    rnd_id(&g, &id);
    nn_addr_t a = v4(203, 0, 113, 1 + i % 250);
    a.port = (uint16_t)(1024 + i);
    nn_dht_table_result_t r = nn_dht_table_seen(t, &id, &a, i, 0, NULL);
    added += r == NN_TABLE_ADDED;
    rejected += r == NN_TABLE_REJECTED;
  }
  assert_int_equal(added, 10);
  assert_int_equal(rejected, 990);
  assert_int_equal(nn_dht_table_size(t), 10);
  assert_int_equal(check_limits(t, &self, 2, 10), 10);
  /* a mapped IPv4 address is in the same /24 */
  uint8_t m6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 99 };
  nn_addr_t mapped = nn_addr_ipv6(m6, 9800);
  rnd_id(&g, &id);
  assert_int_equal(nn_dht_table_seen(t, &id, &mapped, 2000, 0, NULL), NN_TABLE_REJECTED);

  /* honest contacts from distinct /24s are never refused for diversity: each gets in, or waits
   * because its bucket is full */
  unsigned honest_added = 0;
  uint8_t full[256] = { 0 };
  for (unsigned i = 0; i < 300; i++) {
    rnd_id(&g, &id);
    nn_addr_t a = honest_v4(i);
    nn_dht_table_result_t r = nn_dht_table_seen(t, &id, &a, 3000 + i, 0, NULL);
    assert_int_not_equal(r, NN_TABLE_REJECTED);
    honest_added += r == NN_TABLE_ADDED;
    if (r == NN_TABLE_PENDING)
      full[nn_dht_bucket_index(&self, &id)] = 1;
  }
  for (unsigned bi = 0; bi < 256; bi++)
    if (full[bi])
      assert_int_equal(bucket_count(t, &self, bi), 20);
  assert_true(honest_added >= 60); /* ~18 in each of buckets 0-3, fewer deeper */
  assert_int_equal(nn_dht_table_size(t), 10 + honest_added);
  check_limits(t, &self, 2, 10);
  printf("  one /24: 1000 attackers -> 10 in the table; %u of 300 honest added\n", honest_added);
  nn_dht_table_free(t);
}

static void
test_diversity_one_16(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 8);
  nn_node_id_t self, id;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);

  /* 60 honest contacts settle in first */
  nn_node_id_t honest[60];
  for (unsigned i = 0; i < 60; i++) {
    rnd_id(&g, &honest[i]);
    nn_addr_t a = honest_v4(i);
    assert_int_not_equal(nn_dht_table_seen(t, &honest[i], &a, i, 0, NULL), NN_TABLE_REJECTED);
  }
  size_t honest_in = nn_dht_table_size(t);

  /* 1000 attackers from 45.67.0.0/16: half at random /24s, half at a single /24. They answer
   * every probe, and so does every honest contact. */
  unsigned pending = 0;
  for (unsigned i = 0; i < 1000; i++) {
    rnd_id(&g, &id);
    uint32_t r24 = rnd32(&g) & 0xff, host = 1 + rnd32(&g) % 254; /* sequenced: replayable */
    nn_addr_t a = i % 2 ? v4(45, 67, r24, host) : v4(45, 67, 5, 1 + i % 254);
    nn_dht_contact_t probe;
    nn_dht_table_result_t r = nn_dht_table_seen(t, &id, &a, 1000 + 2 * i, 0, &probe);
    if (r == NN_TABLE_PENDING) {
      pending++;
      nn_dht_table_probe_result(t, &probe.id, 1, 1001 + 2 * i);
    }
  }
  unsigned worst = check_limits(t, &self, 2, 10);
  /* the long-lived honest contacts are all still there */
  size_t still = 0;
  for (unsigned i = 0; i < 60; i++)
    still += nn_dht_table_find(t, &honest[i]) != NULL;
  assert_int_equal(still, honest_in);

  /* and honest newcomers from other networks are not refused */
  for (unsigned i = 100; i < 300; i++) {
    rnd_id(&g, &id);
    nn_addr_t a = honest_v4(i);
    assert_int_not_equal(nn_dht_table_seen(t, &id, &a, 5000 + i, 0, NULL), NN_TABLE_REJECTED);
  }
  check_limits(t, &self, 2, 10);
  /* the single-/24 half got at most 10 places */
  size_t size = nn_dht_table_size(t), single = 0, attackers = 0;
  nn_dht_contact_t *all = calloc(size, sizeof(*all));
  assert_non_null(all);
  nn_dht_table_all(t, all, size);
  for (size_t i = 0; i < size; i++) {
    attackers += all[i].addr.host[0] == 45 && all[i].addr.host[1] == 67;
    single += all[i].addr.host[0] == 45 && all[i].addr.host[1] == 67 && all[i].addr.host[2] == 5;
  }
  free(all);
  assert_true(single <= 10);
  printf("  one /16: table %zu, attackers %zu (single /24: %zu), largest /24 %u, %u pending\n", size, attackers, single,
         worst, pending);
  nn_dht_table_free(t);
}

/* With the optional wide limit (per_table_wide: /16, /32) one /16 holds at most that many
 * places in the whole table, however many /24s it spreads over. */
static void
test_diversity_wide_16(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 18);
  nn_node_id_t self, id;
  rnd_id(&g, &self);
  nn_dht_table_cfg_t c;
  nn_dht_table_cfg_default(&c);
  c.per_table_wide = 20;
  nn_dht_table_t *t = new_table(&self, &c);
  for (unsigned i = 0; i < 1000; i++) {
    rnd_id(&g, &id);
    nn_addr_t a = v4(45, 67, rnd32(&g) & 0xff, 1 + rnd32(&g) % 254);
    nn_dht_contact_t probe;
    if (nn_dht_table_seen(t, &id, &a, 10 + 2 * i, 0, &probe) == NN_TABLE_PENDING)
      nn_dht_table_probe_result(t, &probe.id, 1, 11 + 2 * i);
  }
  size_t attackers = nn_dht_table_size(t);
  assert_true(attackers <= 20);
  /* honest contacts, each from a /16 of its own, are never refused */
  for (unsigned i = 0; i < 200; i++) {
    rnd_id(&g, &id);
    nn_addr_t a = v4(11 + i % 100, i / 100 + 1, 1, 7); /* public, a /16 each */
    assert_int_not_equal(nn_dht_table_seen(t, &id, &a, 5000 + i, 0, NULL), NN_TABLE_REJECTED);
  }
  printf("  one /16 with the wide limit: %zu attackers in the table\n", attackers);
  nn_dht_table_free(t);
}

static void
test_diversity_ipv6_onion(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 9);
  nn_node_id_t self, id;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);

  /* 500 contacts from one /48 (different /64s and hosts) */
  unsigned added = 0;
  for (unsigned i = 0; i < 500; i++) {
    uint8_t ip[16] = { 0x2a, 0x01, 0x04, 0xf8, 0x00, 0x01 };
    for (int b = 6; b < 16; b++)
      ip[b] = (uint8_t)rnd32(&g);
    nn_addr_t a = nn_addr_ipv6(ip, 9800);
    rnd_id(&g, &id);
    added += nn_dht_table_seen(t, &id, &a, i, 0, NULL) == NN_TABLE_ADDED;
  }
  assert_int_equal(added, 10);
  check_limits(t, &self, 2, 10);
  /* each other /48 is a group of its own */
  for (unsigned i = 0; i < 30; i++) {
    uint8_t ip[16] = { 0x2a, 0x01, 0x04, 0xf8, 0x10, (uint8_t)i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    nn_addr_t a = nn_addr_ipv6(ip, 9800);
    rnd_id(&g, &id);
    assert_int_not_equal(nn_dht_table_seen(t, &id, &a, 1000 + i, 0, NULL), NN_TABLE_REJECTED);
  }
  /* onion addresses are each their own group: never refused for diversity */
  for (unsigned i = 0; i < 100; i++) {
    nn_addr_t a;
    memset(&a, 0, sizeof(a));
    a.type = NN_ADDR_ONION;
    memset(a.host, 0x42, 32);
    a.host[31] = (uint8_t)i;
    a.port = 9800;
    rnd_id(&g, &id);
    assert_int_not_equal(nn_dht_table_seen(t, &id, &a, 2000 + i, 0, NULL), NN_TABLE_REJECTED);
  }
  check_limits(t, &self, 2, 10);
  nn_dht_table_free(t);
}

static void
test_address_change_respects_diversity(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 10);
  nn_node_id_t self, a, b, c;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);
  id_in_bucket(&g, &self, 2, &a);
  id_in_bucket(&g, &self, 2, &b);
  id_in_bucket(&g, &self, 2, &c);
  nn_addr_t g1 = v4(50, 1, 1, 1), g1b = v4(50, 1, 1, 2), g2 = v4(60, 1, 1, 1);
  assert_int_equal(nn_dht_table_seen(t, &a, &g1, 1, 0, NULL), NN_TABLE_ADDED);
  assert_int_equal(nn_dht_table_seen(t, &b, &g1b, 2, 0, NULL), NN_TABLE_ADDED);
  assert_int_equal(nn_dht_table_seen(t, &c, &g2, 3, 0, NULL), NN_TABLE_ADDED);
  /* c moving into 50.1.1.0/24 would be a third in this bucket: refused, c unchanged */
  nn_addr_t into = v4(50, 1, 1, 3);
  nn_dht_table_failed(t, &c, 4);
  assert_int_equal(nn_dht_table_seen(t, &c, &into, 5, 0, NULL), NN_TABLE_REJECTED);
  assert_true(nn_addr_equal(&nn_dht_table_find(t, &c)->addr, &g2));
  assert_int_equal(nn_dht_table_find(t, &c)->last_seen_ms, 3);
  assert_int_equal(nn_dht_table_find(t, &c)->fails, 1);
  /* a's move within its own /24 (or a new port) is fine: it does not count against itself */
  nn_addr_t port = g1;
  port.port = 1234;
  assert_int_equal(nn_dht_table_seen(t, &a, &port, 6, 0, NULL), NN_TABLE_UPDATED);
  assert_true(nn_addr_equal(&nn_dht_table_find(t, &a)->addr, &port));
  nn_addr_t fresh = v4(70, 1, 1, 1);
  assert_int_equal(nn_dht_table_seen(t, &c, &fresh, 7, 0, NULL), NN_TABLE_UPDATED);
  assert_true(nn_addr_equal(&nn_dht_table_find(t, &c)->addr, &fresh));
  nn_dht_table_free(t);
}

/* Promotion out of the replacement cache re-checks the limits: a candidate that became
 * over-represented while it waited is passed over for an older one that fits. */
static void
test_promotion_respects_diversity(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 11);
  nn_node_id_t self, ids[4], older, newer;
  rnd_id(&g, &self);
  nn_dht_table_cfg_t cfg;
  nn_dht_table_cfg_default(&cfg);
  cfg.k = 4;
  cfg.replacement = 4;
  nn_dht_table_t *t = new_table(&self, &cfg);
  nn_addr_t addrs[4] = { v4(50, 1, 1, 1), v4(60, 1, 1, 1), v4(61, 1, 1, 1), v4(62, 1, 1, 1) };
  for (unsigned i = 0; i < 4; i++) {
    id_in_bucket(&g, &self, 0, &ids[i]);
    assert_int_equal(nn_dht_table_seen(t, &ids[i], &addrs[i], 1 + i, 0, NULL), NN_TABLE_ADDED);
  }
  id_in_bucket(&g, &self, 0, &older);
  id_in_bucket(&g, &self, 0, &newer);
  nn_addr_t ao = v4(80, 1, 1, 1), an = v4(50, 1, 1, 2);
  assert_int_equal(nn_dht_table_seen(t, &older, &ao, 10, 0, NULL), NN_TABLE_PENDING);
  assert_int_equal(nn_dht_table_seen(t, &newer, &an, 11, 0, NULL), NN_TABLE_PENDING);
  /* ids[1] moves into 50.1.1.0/24: now two there, the newer candidate no longer fits */
  nn_addr_t move = v4(50, 1, 1, 3);
  assert_int_equal(nn_dht_table_seen(t, &ids[1], &move, 12, 0, NULL), NN_TABLE_UPDATED);
  for (unsigned f = 0; f < 3; f++)
    nn_dht_table_failed(t, &ids[2], 13 + f);
  assert_null(nn_dht_table_find(t, &ids[2]));
  assert_non_null(nn_dht_table_find(t, &older));
  assert_null(nn_dht_table_find(t, &newer));
  assert_non_null(nn_dht_table_find_replacement(t, &newer));
  check_limits(t, &self, 2, 10);

  /* the replacement cache itself holds at most per_bucket_group candidates of one group */
  for (unsigned i = 0; i < 10; i++) {
    nn_node_id_t x;
    id_in_bucket(&g, &self, 0, &x);
    nn_addr_t a = v4(90, 1, 1, 1 + i);
    assert_int_equal(nn_dht_table_seen(t, &x, &a, 20 + i, 0, NULL), NN_TABLE_PENDING);
  }
  assert_true(nn_dht_table_replacements(t) <= 3); /* newer + two of 90.1.1.0/24 */
  assert_non_null(nn_dht_table_find_replacement(t, &newer));
  nn_dht_table_free(t);
}

/* A newcomer that replaces a stale contact on the spot is held to the same limits, counted
 * without the contact it replaces. */
static void
test_stale_replacement_respects_diversity(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 14);
  nn_node_id_t self, ids[4], x;
  rnd_id(&g, &self);
  nn_dht_table_cfg_t cfg;
  nn_dht_table_cfg_default(&cfg);
  cfg.k = 4;
  nn_dht_table_t *t = new_table(&self, &cfg);
  nn_addr_t addrs[4] = { v4(50, 1, 1, 1), v4(50, 1, 1, 2), v4(61, 1, 1, 1), v4(62, 1, 1, 1) };
  for (unsigned i = 0; i < 4; i++) {
    id_in_bucket(&g, &self, 0, &ids[i]);
    assert_int_equal(nn_dht_table_seen(t, &ids[i], &addrs[i], 1 + i, 0, NULL), NN_TABLE_ADDED);
  }
  for (unsigned f = 0; f < 3; f++)
    nn_dht_table_failed(t, &ids[2], 10 + f); /* stale, no candidate: stays */
  assert_non_null(nn_dht_table_find(t, &ids[2]));
  /* a third 50.1.1.0/24 contact may not take the stale 61.1.1.1's place */
  id_in_bucket(&g, &self, 0, &x);
  nn_addr_t a = v4(50, 1, 1, 3);
  assert_int_equal(nn_dht_table_seen(t, &x, &a, 20, 0, NULL), NN_TABLE_REJECTED);
  assert_non_null(nn_dht_table_find(t, &ids[2]));
  check_limits(t, &self, 2, 10);
  /* but it may replace a stale contact of its own group */
  for (unsigned f = 0; f < 3; f++)
    nn_dht_table_failed(t, &ids[0], 30 + f);
  assert_int_equal(nn_dht_table_seen(t, &x, &a, 40, 0, NULL), NN_TABLE_ADDED);
  assert_non_null(nn_dht_table_find(t, &x));
  assert_int_equal(nn_dht_table_size(t), 4);
  check_limits(t, &self, 2, 10);
  nn_dht_table_free(t);
}

/* ---- refresh ---- */

static void
test_refresh_due(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 12);
  nn_node_id_t self, id, target, prev;
  rnd_id(&g, &self);
  nn_dht_table_t *t = new_table(&self, NULL);
  assert_int_equal(nn_dht_table_refresh_due(t, 1000, 500, &g.r, &target), 0); /* empty */

  static const unsigned filled[] = { 0, 1, 3 };
  for (unsigned i = 0; i < 3; i++) {
    id_in_bucket(&g, &self, filled[i], &id);
    nn_addr_t a = honest_v4(i);
    assert_int_equal(nn_dht_table_seen(t, &id, &a, 1, 0, NULL), NN_TABLE_ADDED);
  }
  /* never refreshed: buckets 0..3 (2 is empty but below the deepest) in order, then none */
  for (unsigned bi = 0; bi <= 3; bi++) {
    assert_int_equal(nn_dht_table_refresh_due(t, 1000, 500, &g.r, &target), 1);
    assert_int_equal(nn_dht_bucket_index(&self, &target), bi);
    if (bi == 0)
      prev = target;
  }
  assert_int_equal(nn_dht_table_refresh_due(t, 1000, 500, &g.r, &target), 0);
  assert_int_equal(nn_dht_table_refresh_due(t, 1499, 500, &g.r, &target), 0);
  /* a lookup in bucket 1 counts as its refresh */
  id_in_bucket(&g, &self, 1, &id);
  nn_dht_table_mark_refreshed(t, &id, 1200);
  static const unsigned due[] = { 0, 2, 3 };
  for (unsigned i = 0; i < 3; i++) {
    assert_int_equal(nn_dht_table_refresh_due(t, 1500, 500, &g.r, &target), 1);
    assert_int_equal(nn_dht_bucket_index(&self, &target), due[i]);
    if (due[i] == 0) /* fresh randomness each time */
      assert_memory_not_equal(target.b, prev.b, 32);
  }
  assert_int_equal(nn_dht_table_refresh_due(t, 1500, 500, &g.r, &target), 0);
  assert_int_equal(nn_dht_table_refresh_due(t, 1700, 500, &g.r, &target), 1);
  assert_int_equal(nn_dht_bucket_index(&self, &target), 1);

  /* a deep contact makes the buckets down to it due; the NULL rng (OpenSSL) works too */
  id_in_bucket(&g, &self, 200, &id);
  nn_addr_t a = honest_v4(99);
  assert_int_equal(nn_dht_table_seen(t, &id, &a, 1, 0, NULL), NN_TABLE_ADDED);
  for (unsigned bi = 4; bi <= 200; bi++) {
    assert_int_equal(nn_dht_table_refresh_due(t, 1700, 500, bi % 2 ? NULL : &g.r, &target), 1);
    assert_int_equal(nn_dht_bucket_index(&self, &target), bi);
  }
  assert_int_equal(nn_dht_table_refresh_due(t, 1700, 500, &g.r, &target), 0);
  /* once the deep contact is gone, refresh stops at bucket 3 again */
  nn_dht_table_remove(t, &id);
  for (unsigned bi = 0; bi <= 3; bi++) {
    assert_int_equal(nn_dht_table_refresh_due(t, 5000, 500, &g.r, &target), 1);
    assert_int_equal(nn_dht_bucket_index(&self, &target), bi);
  }
  assert_int_equal(nn_dht_table_refresh_due(t, 5000, 500, &g.r, &target), 0);
  nn_dht_table_free(t);
}

/* ---- memory ---- */

static void
test_memory_bounded(void **state)
{
  (void)state;
  trng_t g;
  trng_init(&g, 13);
  nn_node_id_t self, id;
  rnd_id(&g, &self);

  size_t h0 = heap_in_use();
  nn_dht_table_t *t = new_table(&self, NULL);
  unsigned res[4] = { 0 };
  for (unsigned i = 0; i < 10000; i++) {
    rnd_id(&g, &id);
    uint32_t r = rnd32(&g);
    nn_addr_t a = v4(11 + r % 200, (r >> 8) & 0xff, (r >> 16) & 0xff, 1 + (r >> 24) % 254);
    res[nn_dht_table_seen(t, &id, &a, i, 0, NULL)]++;
  }
  size_t heap = heap_in_use() - h0, mem = nn_dht_table_memory(t), size = nn_dht_table_size(t);
  printf("  10,000 random ids: %zu contacts, %zu candidates; added %u, pending %u, rejected %u;"
         " table %zu B (heap %zu B)\n",
         size, nn_dht_table_replacements(t), res[NN_TABLE_ADDED], res[NN_TABLE_PENDING], res[NN_TABLE_REJECTED], mem,
         heap);
  assert_int_equal(res[NN_TABLE_ADDED], size);
  assert_true(size >= 150 && size <= 300); /* ~log2(10000) full buckets and a short tail */
  assert_true(mem < 100 * 1024);
  assert_true(heap < 128 * 1024);
  check_limits(t, &self, 2, 10);
  nn_dht_table_free(t);

  /* 300 contacts (15 full buckets) with every replacement cache full: the worst case for a
   * table that size */
  h0 = heap_in_use();
  t = new_table(&self, NULL);
  for (unsigned bi = 0; bi < 15; bi++)
    for (unsigned i = 0; i < 40; i++) {
      id_in_bucket(&g, &self, bi, &id);
      nn_addr_t a = honest_v4(bi * 40 + i);
      assert_int_equal(nn_dht_table_seen(t, &id, &a, i, 0, NULL), i < 20 ? NN_TABLE_ADDED : NN_TABLE_PENDING);
    }
  heap = heap_in_use() - h0;
  mem = nn_dht_table_memory(t);
  nn_dht_table_t *empty = new_table(&self, NULL);
  size_t base = nn_dht_table_memory(empty);
  nn_dht_table_free(empty);
  printf("  300 contacts + 300 candidates: table %zu B (heap %zu B): %zu B fixed + %zu B"
         " per entry\n",
         mem, heap, base, (mem - base) / 600);
  assert_int_equal(nn_dht_table_size(t), 300);
  assert_int_equal(nn_dht_table_replacements(t), 300);
  assert_true(mem < 100 * 1024);
  assert_true(heap < 128 * 1024);
  /* emptying the table gives the arrays back */
  nn_dht_contact_t *all = calloc(300, sizeof(*all));
  assert_non_null(all);
  size_t n;
  while ((n = nn_dht_table_all(t, all, 300)) > 0) /* removals promote the candidates */
    for (size_t i = 0; i < n; i++)
      nn_dht_table_remove(t, &all[i].id);
  free(all);
  assert_int_equal(nn_dht_table_size(t), 0);
  assert_int_equal(nn_dht_table_replacements(t), 0);
  nn_dht_table_t *fresh = new_table(&self, NULL);
  assert_int_equal(nn_dht_table_memory(t), nn_dht_table_memory(fresh));
  nn_dht_table_free(fresh);
  nn_dht_table_free(t);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cfg_and_free),
    cmocka_unit_test(test_bucket_index),
    cmocka_unit_test(test_insert_update_reject),
    cmocka_unit_test(test_closest_matches_brute_force),
    cmocka_unit_test(test_full_bucket_pending_probe),
    cmocka_unit_test(test_probe_alive_keeps_old),
    cmocka_unit_test(test_probe_dead_promotes_newest),
    cmocka_unit_test(test_failures_evict_only_with_replacement),
    cmocka_unit_test(test_diversity_one_24),
    cmocka_unit_test(test_diversity_one_16),
    cmocka_unit_test(test_diversity_wide_16),
    cmocka_unit_test(test_diversity_ipv6_onion),
    cmocka_unit_test(test_address_change_respects_diversity),
    cmocka_unit_test(test_promotion_respects_diversity),
    cmocka_unit_test(test_stale_replacement_respects_diversity),
    cmocka_unit_test(test_refresh_due),
    cmocka_unit_test(test_memory_bounded),
  };
  return cmocka_run_group_tests_name("dht_table", tests, NULL, NULL);
}
