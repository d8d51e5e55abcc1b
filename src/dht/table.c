#include "dht/table.h"

#include <stdlib.h>
#include <string.h>

/* Contacts of one bucket, or its replacement candidates, ordered by last_seen_ms, least recent
 * first: index 0 is the one to probe (live) or to drop (replacements), the end the newest. The
 * array grows on demand (4, 8, 16, ... up to its limit) and is freed when empty, so that deep,
 * sparse buckets and buckets that never filled cost no replacement array: memory follows the
 * number of contacts, not 256 * k.
 *
 * One allocation holds cap contacts followed by cap 32-bit hashes of their network groups. The
 * diversity checks scan the whole table for every newcomer; comparing a cached hash first makes
 * that scan a few hundred integer compares instead of a few hundred nn_addr_group() calls. A
 * hash is only a filter (equal hashes are confirmed on the groups themselves), so collisions,
 * even crafted ones, cost time and never a wrong answer. */
typedef struct nn_dht_list_t {
  nn_dht_contact_t *v;
  uint16_t n, cap;
} nn_dht_list_t;

#define NN_DHT_ENTRY_SIZE (sizeof(nn_dht_contact_t) + sizeof(uint32_t))

typedef struct nn_dht_bucket_t {
  nn_dht_list_t live;
  nn_dht_list_t repl;
  uint64_t refreshed_ms; /* NN_DHT_NEVER until the first refresh or lookup in its range */
} nn_dht_bucket_t;

#define NN_DHT_NEVER UINT64_MAX

struct nn_dht_table_t {
  nn_node_id_t self;
  nn_dht_table_cfg_t cfg;
  size_t mem; /* heap bytes held, including this struct */
  /* Which buckets hold live contacts, one bit each, in id bit order (bucket 64w + j is bit
   * 63 - j of word w): closest() and refresh find the buckets they need from these 32 bytes
   * instead of touching all 256 bucket headers (10 KiB, per call, per simulated node). */
  uint64_t occ[NN_DHT_BUCKETS / 64];
  nn_dht_bucket_t b[NN_DHT_BUCKETS];
};

/* A network group as nn_addr_group writes it: a type byte and a masked prefix. */
typedef struct nn_dht_group_t {
  size_t len;
  uint8_t b[1 + NN_ADDR_HOST_MAX];
  uint32_t hash;
} nn_dht_group_t;

void
nn_dht_table_cfg_default(nn_dht_table_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->k = NN_DHT_K;
  cfg->per_bucket_group = 2;
  cfg->per_table_group = 10;
  cfg->per_table_wide = 0;
  cfg->replacement = NN_DHT_K;
  cfg->max_fails = 3;
  cfg->allow_private = 0;
  cfg->v4_group_bits = 24;
  cfg->v6_group_bits = 48;
}

/* ---- ids and distances ---- */

unsigned
nn_dht_bucket_index(const nn_node_id_t *self, const nn_node_id_t *id)
{
  for (unsigned i = 0; i < NN_NODE_ID_LEN; i++) {
    uint8_t x = (uint8_t)(self->b[i] ^ id->b[i]);
    if (x) {
      unsigned bits = 0;
      while (!(x & 0x80)) {
        x = (uint8_t)(x << 1);
        bits++;
      }
      return i * 8 + bits;
    }
  }
  return NN_DHT_BUCKETS;
}

int
nn_node_id_cmp_distance(const nn_node_id_t *target, const nn_node_id_t *a, const nn_node_id_t *b)
{
  for (unsigned i = 0; i < NN_NODE_ID_LEN; i++) {
    uint8_t da = (uint8_t)(a->b[i] ^ target->b[i]), db = (uint8_t)(b->b[i] ^ target->b[i]);
    if (da != db)
      return da < db ? -1 : 1;
  }
  return 0;
}

void
nn_node_id_distance(nn_node_id_t *out, const nn_node_id_t *a, const nn_node_id_t *b)
{
  for (unsigned i = 0; i < NN_NODE_ID_LEN; i++)
    out->b[i] = (uint8_t)(a->b[i] ^ b->b[i]);
}

static int
id_eq(const nn_node_id_t *a, const nn_node_id_t *b)
{
  return memcmp(a->b, b->b, NN_NODE_ID_LEN) == 0;
}

/* ---- network groups ---- */

static void
group_of(const nn_dht_table_t *t, const nn_addr_t *a, nn_dht_group_t *g)
{
  g->len = nn_addr_group(a, t->cfg.v4_group_bits, t->cfg.v6_group_bits, g->b);
  uint32_t h = 2166136261u; /* FNV-1a: a filter, not a defence (see nn_dht_list_t) */
  for (size_t i = 0; i < g->len; i++)
    h = (h ^ g->b[i]) * 16777619u;
  g->hash = h;
}

static int
group_eq(const nn_dht_group_t *g, const nn_dht_table_t *t, const nn_addr_t *a)
{
  nn_dht_group_t h;
  group_of(t, a, &h);
  return h.len == g->len && memcmp(h.b, g->b, g->len) == 0;
}

/* ---- lists ---- */

static uint32_t *
list_gh(const nn_dht_list_t *l)
{
  return (uint32_t *)(void *)(l->v + l->cap);
}

static int
list_find(const nn_dht_list_t *l, const nn_node_id_t *id)
{
  for (unsigned i = 0; i < l->n; i++)
    if (id_eq(&l->v[i].id, id))
      return (int)i;
  return -1;
}

static void
list_remove_at(nn_dht_table_t *t, nn_dht_list_t *l, unsigned i)
{
  size_t after = (size_t)(l->n - i - 1);
  uint32_t *gh = list_gh(l);
  memmove(&l->v[i], &l->v[i + 1], after * sizeof(l->v[0]));
  memmove(&gh[i], &gh[i + 1], after * sizeof(gh[0]));
  l->n--;
  if (l->n == 0) {
    t->mem -= (size_t)l->cap * NN_DHT_ENTRY_SIZE;
    free(l->v);
    l->v = NULL;
    l->cap = 0;
  }
}

/* Insert c in last_seen order (after any contact seen at the same time, so that a contact
 * just seen goes behind older ones). The caller has checked that l->n < max. 0 on success,
 * -1 when out of memory. */
static int
list_insert(nn_dht_table_t *t, nn_dht_list_t *l, const nn_dht_contact_t *c, unsigned max)
{
  if (l->n == l->cap) {
    unsigned ncap = l->cap ? 2u * l->cap : 4u;
    if (ncap > max)
      ncap = max;
    nn_dht_contact_t *nv = realloc(l->v, (size_t)ncap * NN_DHT_ENTRY_SIZE);
    if (!nv)
      return -1;
    /* the hashes sat behind the old capacity: move them behind the new one */
    memmove(nv + ncap, nv + l->cap, (size_t)l->n * sizeof(uint32_t));
    t->mem += (size_t)(ncap - l->cap) * NN_DHT_ENTRY_SIZE;
    l->v = nv;
    l->cap = (uint16_t)ncap;
  }
  nn_dht_group_t g;
  group_of(t, &c->addr, &g);
  uint32_t *gh = list_gh(l);
  unsigned i = l->n;
  while (i > 0 && l->v[i - 1].last_seen_ms > c->last_seen_ms)
    i--;
  memmove(&l->v[i + 1], &l->v[i], (size_t)(l->n - i) * sizeof(l->v[0]));
  memmove(&gh[i + 1], &gh[i], (size_t)(l->n - i) * sizeof(gh[0]));
  l->v[i] = *c;
  gh[i] = g.hash;
  l->n++;
  return 0;
}

/* Overwrite entry i with c and move it to its place in last_seen order. Updates, probes and
 * replacements go through here rather than remove + insert: the count never drops, so nothing
 * is freed and reallocated (k == 1) and nothing can fail. */
static void
list_set(const nn_dht_table_t *t, nn_dht_list_t *l, unsigned i, const nn_dht_contact_t *c)
{
  nn_dht_group_t g;
  nn_dht_contact_t e = *c; /* c may point into l */
  uint32_t *gh = list_gh(l);
  group_of(t, &e.addr, &g);
  for (; i + 1 < l->n && l->v[i + 1].last_seen_ms <= e.last_seen_ms; i++) {
    l->v[i] = l->v[i + 1];
    gh[i] = gh[i + 1];
  }
  for (; i > 0 && l->v[i - 1].last_seen_ms > e.last_seen_ms; i--) {
    l->v[i] = l->v[i - 1];
    gh[i] = gh[i - 1];
  }
  l->v[i] = e;
  gh[i] = g.hash;
}

static void
list_clear(nn_dht_list_t *l)
{
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

/* Entry i of l is in group g. */
static int
list_in_group(const nn_dht_table_t *t, const nn_dht_list_t *l, unsigned i, const nn_dht_group_t *g)
{
  return list_gh(l)[i] == g->hash && group_eq(g, t, &l->v[i].addr);
}

static uint64_t
occ_bit(unsigned bi)
{
  return (uint64_t)1 << (63 - bi % 64);
}

/* The live contacts of bucket bi change only through these two, which keep occ in step. */
static int
live_insert(nn_dht_table_t *t, unsigned bi, const nn_dht_contact_t *c)
{
  if (list_insert(t, &t->b[bi].live, c, t->cfg.k))
    return -1;
  t->occ[bi / 64] |= occ_bit(bi);
  return 0;
}

static void
live_remove(nn_dht_table_t *t, unsigned bi, unsigned i)
{
  list_remove_at(t, &t->b[bi].live, i);
  if (!t->b[bi].live.n)
    t->occ[bi / 64] &= ~occ_bit(bi);
}

/* ---- addresses and diversity ---- */

static int
addr_ok(const nn_dht_table_t *t, const nn_addr_t *a)
{
  if (!nn_addr_host_len(a->type) || a->port == 0)
    return 0;
  return t->cfg.allow_private || nn_addr_is_public(a);
}

/* Contacts of group g in l, not counting the one with id skip (a contact whose address changes,
 * or the stale contact a candidate would replace), stopping at limit. */
static unsigned
group_count(const nn_dht_table_t *t, const nn_dht_list_t *l, const nn_dht_group_t *g, const nn_node_id_t *skip,
            unsigned limit)
{
  unsigned n = 0;
  for (unsigned i = 0; i < l->n && n < limit; i++)
    if (list_in_group(t, l, i, g) && (!skip || !id_eq(&l->v[i].id, skip)))
      n++;
  return n;
}

/* Could a contact at addr join the live contacts of bucket bi (in place of skip, if set)
 * without breaking the per-bucket or per-table group limits? The table count is a scan of
 * every live contact, a few hundred cached-hash compares (about a microsecond), paid only when
 * a new contact or a new address shows up, never on updates or in closest(). */
static int
diversity_ok(const nn_dht_table_t *t, unsigned bi, const nn_addr_t *addr, const nn_node_id_t *skip)
{
  nn_dht_group_t g;
  unsigned pb = t->cfg.per_bucket_group, pt = t->cfg.per_table_group, pw = t->cfg.per_table_wide;
  if (pw) {
    /* the wide group (/16, /32): a plain scan, paid only when a new contact shows up */
    uint8_t want[1 + NN_ADDR_HOST_MAX], cur[1 + NN_ADDR_HOST_MAX];
    size_t wl = nn_addr_group(addr, 16, 32, want);
    unsigned n = 0;
    for (unsigned w = 0; w < NN_DHT_BUCKETS / 64 && n < pw; w++)
      for (uint64_t x = t->occ[w]; x && n < pw; x &= x - 1) {
        const nn_dht_list_t *l = &t->b[64 * w + 63 - (unsigned)__builtin_ctzll(x)].live;
        for (unsigned i = 0; i < l->n; i++)
          if ((!skip || !id_eq(&l->v[i].id, skip)) && nn_addr_group(&l->v[i].addr, 16, 32, cur) == wl &&
              !memcmp(cur, want, wl))
            n++;
      }
    if (n >= pw)
      return 0;
  }
  if (!pb && !pt)
    return 1;
  group_of(t, addr, &g);
  if (pb && group_count(t, &t->b[bi].live, &g, skip, pb) >= pb)
    return 0;
  if (pt) {
    unsigned n = 0;
    for (unsigned w = 0; w < NN_DHT_BUCKETS / 64 && n < pt; w++)
      for (uint64_t x = t->occ[w]; x && n < pt; x &= x - 1) {
        unsigned bj = 64 * w + 63 - (unsigned)__builtin_ctzll(x);
        n += group_count(t, &t->b[bj].live, &g, skip, pt - n);
      }
    if (n >= pt)
      return 0;
  }
  return 1;
}

/* ---- table ---- */

nn_err_t
nn_dht_table_new(nn_dht_table_t **out, const nn_node_id_t *self, const nn_dht_table_cfg_t *cfg)
{
  nn_dht_table_cfg_t c;
  nn_dht_table_t *t;

  if (!out)
    return NN_ERR_ARG;
  *out = NULL;
  if (!self)
    return NN_ERR_ARG;
  if (cfg)
    c = *cfg;
  else
    nn_dht_table_cfg_default(&c);
  if (c.k == 0 || c.k > NN_DHT_K_MAX || c.replacement > NN_DHT_K_MAX || c.max_fails == 0 || c.v4_group_bits == 0 ||
      c.v4_group_bits > 32 || c.v6_group_bits == 0 || c.v6_group_bits > 128)
    return NN_ERR_ARG;
  if (!(t = calloc(1, sizeof(*t))))
    return NN_ERR_NOMEM;
  t->self = *self;
  t->cfg = c;
  t->mem = sizeof(*t);
  for (unsigned i = 0; i < NN_DHT_BUCKETS; i++)
    t->b[i].refreshed_ms = NN_DHT_NEVER;
  *out = t;
  return NN_OK;
}

void
nn_dht_table_free(nn_dht_table_t *t)
{
  if (!t)
    return;
  for (unsigned i = 0; i < NN_DHT_BUCKETS; i++) {
    list_clear(&t->b[i].live);
    list_clear(&t->b[i].repl);
  }
  free(t);
}

static uint32_t
rtt_smooth(uint32_t old, uint32_t sample)
{
  if (!sample)
    return old;
  if (!old)
    return sample;
  return (uint32_t)((7 * (uint64_t)old + sample) / 8);
}

/* The newest replacement candidate of bucket bi that may take the place of skip (NULL: of no
 * one, the bucket has room) under the diversity limits; -1 if none. Candidates that do not fit
 * stay cached: the group that blocks them may shrink later. */
static int
pick_candidate(const nn_dht_table_t *t, unsigned bi, const nn_node_id_t *skip)
{
  const nn_dht_list_t *r = &t->b[bi].repl;
  for (int j = (int)r->n - 1; j >= 0; j--)
    if (diversity_ok(t, bi, &r->v[j].addr, skip))
      return j;
  return -1;
}

/* Replace live contact i of bucket bi by the best candidate, if there is one. */
static int
replace_with_candidate(nn_dht_table_t *t, unsigned bi, unsigned i)
{
  nn_dht_bucket_t *b = &t->b[bi];
  int j = pick_candidate(t, bi, &b->live.v[i].id);
  if (j < 0)
    return 0;
  nn_dht_contact_t c = b->repl.v[j];
  c.fails = 0;
  list_remove_at(t, &b->repl, (unsigned)j);
  list_set(t, &b->live, i, &c);
  return 1;
}

/* Put candidate c into bucket bi's replacement cache. One network group never holds more than
 * per_bucket_group places there (its oldest candidate makes room), so an attacker's flood of
 * newcomers from one /24 cannot push every honest candidate out of the cache. */
static int
cache_add(nn_dht_table_t *t, unsigned bi, const nn_dht_contact_t *c)
{
  nn_dht_list_t *r = &t->b[bi].repl;
  unsigned pb = t->cfg.per_bucket_group;
  if (pb) {
    nn_dht_group_t g;
    group_of(t, &c->addr, &g);
    unsigned same = group_count(t, r, &g, NULL, UINT32_MAX);
    for (unsigned j = 0; same >= pb && j < r->n;) {
      if (list_in_group(t, r, j, &g)) {
        list_remove_at(t, r, j);
        same--;
      } else {
        j++;
      }
    }
  }
  if (r->n >= t->cfg.replacement)
    list_remove_at(t, r, 0);
  return list_insert(t, r, c, t->cfg.replacement);
}

nn_dht_table_result_t
nn_dht_table_seen(nn_dht_table_t *t, const nn_node_id_t *id, const nn_addr_t *addr, uint64_t now_ms, uint32_t rtt_ms,
                  nn_dht_contact_t *probe)
{
  if (!t || !id || !addr)
    return NN_TABLE_REJECTED;
  unsigned bi = nn_dht_bucket_index(&t->self, id);
  if (bi >= NN_DHT_BUCKETS || !addr_ok(t, addr))
    return NN_TABLE_REJECTED;
  nn_dht_bucket_t *b = &t->b[bi];

  int i = list_find(&b->live, id);
  if (i >= 0) {
    nn_dht_contact_t c = b->live.v[i];
    if (!nn_addr_equal(&c.addr, addr) && !diversity_ok(t, bi, addr, id))
      return NN_TABLE_REJECTED;
    c.addr = *addr;
    c.last_seen_ms = now_ms;
    c.fails = 0;
    c.rtt_ms = rtt_smooth(c.rtt_ms, rtt_ms);
    list_set(t, &b->live, (unsigned)i, &c); /* to most-recently-seen */
    return NN_TABLE_UPDATED;
  }

  nn_dht_contact_t c;
  int j = list_find(&b->repl, id);
  if (j >= 0) {
    c = b->repl.v[j]; /* keeps first_seen and the rtt estimate */
    list_remove_at(t, &b->repl, (unsigned)j);
  } else {
    memset(&c, 0, sizeof(c));
    c.id = *id;
    c.first_seen_ms = now_ms;
  }
  c.addr = *addr;
  c.last_seen_ms = now_ms;
  c.fails = 0;
  c.rtt_ms = rtt_smooth(c.rtt_ms, rtt_ms);

  if (b->live.n < t->cfg.k) {
    if (!diversity_ok(t, bi, addr, NULL) || live_insert(t, bi, &c))
      return NN_TABLE_REJECTED;
    return NN_TABLE_ADDED;
  }
  /* Full bucket. A stale contact (max_fails failures in a row) gives way at once: the newcomer
   * just proved alive, the stale one did not. The least recently seen stale contact goes first. */
  for (unsigned s = 0; s < b->live.n; s++) {
    if (b->live.v[s].fails >= t->cfg.max_fails && diversity_ok(t, bi, addr, &b->live.v[s].id)) {
      list_set(t, &b->live, s, &c);
      return NN_TABLE_ADDED;
    }
  }
  /* Checked now as well as at promotion: a candidate that could not be promoted today has no
   * business taking a place in the cache. */
  if (!diversity_ok(t, bi, addr, NULL))
    return NN_TABLE_REJECTED;
  if (t->cfg.replacement && cache_add(t, bi, &c))
    return NN_TABLE_REJECTED;
  if (probe)
    *probe = b->live.v[0];
  return NN_TABLE_PENDING;
}

void
nn_dht_table_failed(nn_dht_table_t *t, const nn_node_id_t *id, uint64_t now_ms)
{
  (void)now_ms; /* part of the API so that a later policy (failure age) needs no new signature */
  if (!t || !id)
    return;
  unsigned bi = nn_dht_bucket_index(&t->self, id);
  if (bi >= NN_DHT_BUCKETS)
    return;
  nn_dht_bucket_t *b = &t->b[bi];
  int i = list_find(&b->live, id);
  if (i >= 0) {
    nn_dht_contact_t *c = &b->live.v[i];
    if (c->fails < UINT32_MAX)
      c->fails++;
    if (c->fails >= t->cfg.max_fails)
      (void)replace_with_candidate(t, bi, (unsigned)i);
    return;
  }
  /* An unproven candidate that fails has nothing left to recommend it. */
  int j = list_find(&b->repl, id);
  if (j >= 0)
    list_remove_at(t, &b->repl, (unsigned)j);
}

void
nn_dht_table_probe_result(nn_dht_table_t *t, const nn_node_id_t *probed, int alive, uint64_t now_ms)
{
  if (!t || !probed)
    return;
  unsigned bi = nn_dht_bucket_index(&t->self, probed);
  if (bi >= NN_DHT_BUCKETS)
    return;
  nn_dht_bucket_t *b = &t->b[bi];
  int i = list_find(&b->live, probed);
  if (i < 0)
    return;
  if (alive) {
    nn_dht_contact_t c = b->live.v[i];
    c.last_seen_ms = now_ms;
    c.fails = 0;
    list_set(t, &b->live, (unsigned)i, &c);
    return;
  }
  if (b->live.v[i].fails < t->cfg.max_fails)
    b->live.v[i].fails = t->cfg.max_fails;
  (void)replace_with_candidate(t, bi, (unsigned)i);
}

void
nn_dht_table_remove(nn_dht_table_t *t, const nn_node_id_t *id)
{
  if (!t || !id)
    return;
  unsigned bi = nn_dht_bucket_index(&t->self, id);
  if (bi >= NN_DHT_BUCKETS)
    return;
  nn_dht_bucket_t *b = &t->b[bi];
  int i = list_find(&b->live, id);
  if (i >= 0) {
    if (!replace_with_candidate(t, bi, (unsigned)i))
      live_remove(t, bi, (unsigned)i);
    return;
  }
  int j = list_find(&b->repl, id);
  if (j >= 0)
    list_remove_at(t, &b->repl, (unsigned)j);
}

/* ---- queries ---- */

static int
is_stale(const nn_dht_table_t *t, const nn_dht_contact_t *c)
{
  return c->fails >= t->cfg.max_fails;
}

static uint64_t
be64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* <0 if contact a is closer to target than b: the first 64 bits of the distance decide almost
 * always; only equal prefixes (deep buckets) need the full compare. */
static int
closer(uint64_t ka, const nn_node_id_t *a, uint64_t kb, const nn_node_id_t *b, const nn_node_id_t *target)
{
  if (ka != kb)
    return ka < kb ? -1 : 1;
  return nn_node_id_cmp_distance(target, a, b);
}

/* Write the closest min(room, matching) contacts of one bucket (live or stale ones only) to
 * out, sorted by distance. An insertion sort of indices bounded by room; contacts are copied
 * once, at the end. */
static size_t
take_bucket(const nn_dht_table_t *t, const nn_dht_list_t *l, const nn_node_id_t *target, int stale,
            nn_dht_contact_t *out, size_t room)
{
  uint16_t idx[NN_DHT_K_MAX];
  uint64_t key[NN_DHT_K_MAX];
  uint64_t tk = be64(target->b);
  size_t m = 0;
  for (unsigned i = 0; i < l->n; i++) {
    const nn_dht_contact_t *c = &l->v[i];
    if (is_stale(t, c) != stale)
      continue;
    uint64_t k = be64(c->id.b) ^ tk;
    size_t pos = m;
    while (pos > 0 && closer(k, &c->id, key[pos - 1], &l->v[idx[pos - 1]].id, target) < 0)
      pos--;
    if (pos >= room)
      continue;
    size_t keep = m < room ? m : room - 1; /* entries that survive the shift */
    memmove(&idx[pos + 1], &idx[pos], (keep - pos) * sizeof(idx[0]));
    memmove(&key[pos + 1], &key[pos], (keep - pos) * sizeof(key[0]));
    idx[pos] = (uint16_t)i;
    key[pos] = k;
    if (m < room)
      m++;
  }
  for (size_t i = 0; i < m; i++)
    out[i] = l->v[idx[i]];
  return m;
}

/*
 * Every contact in bucket p shares p bits with self and differs at bit p, so its distance to
 * the target has the prefix d[0..p-1], ~d[p] with d = self ^ target: each bucket is one
 * contiguous range of distances. Two buckets p < q differ first at bit p, where bucket q's
 * distances carry d[p]. So with d[p] = 1 bucket p comes before every deeper bucket, with
 * d[p] = 0 after all of them: the buckets with d[p] = 1 in increasing p, then those with
 * d[p] = 0 in decreasing p, list the table closest first. Only within a bucket is a sort needed,
 * and with the occupancy bits the walk visits non-empty buckets only.
 */
static size_t
closest_pass(const nn_dht_table_t *t, const nn_node_id_t *target, int stale, size_t count, size_t n,
             nn_dht_contact_t *out)
{
  uint64_t d[NN_DHT_BUCKETS / 64];
  for (unsigned w = 0; w < NN_DHT_BUCKETS / 64; w++)
    d[w] = be64(t->self.b + 8 * w) ^ be64(target->b + 8 * w);
  /* d[p] = 1: increasing p, the highest set bit of each word first */
  for (unsigned w = 0; w < NN_DHT_BUCKETS / 64 && count < n; w++) {
    uint64_t x = t->occ[w] & d[w];
    while (x && count < n) {
      unsigned j = (unsigned)__builtin_clzll(x);
      x &= ~((uint64_t)1 << (63 - j));
      count += take_bucket(t, &t->b[64 * w + j].live, target, stale, out + count, n - count);
    }
  }
  /* d[p] = 0: decreasing p, the lowest set bit of each word first */
  for (unsigned w = NN_DHT_BUCKETS / 64; w-- > 0 && count < n;) {
    uint64_t x = t->occ[w] & ~d[w];
    while (x && count < n) {
      unsigned j = 63 - (unsigned)__builtin_ctzll(x);
      x &= x - 1;
      count += take_bucket(t, &t->b[64 * w + j].live, target, stale, out + count, n - count);
    }
  }
  return count;
}

size_t
nn_dht_table_closest(const nn_dht_table_t *t, const nn_node_id_t *target, size_t n, nn_dht_contact_t *out)
{
  size_t count = 0;
  if (!t || !target || !out || !n)
    return 0;
  count = closest_pass(t, target, 0, count, n, out);
  if (count < n) /* then the stale ones, so that a table whose contacts all failed still helps */
    count = closest_pass(t, target, 1, count, n, out);
  return count;
}

const nn_dht_contact_t *
nn_dht_table_find(const nn_dht_table_t *t, const nn_node_id_t *id)
{
  if (!t || !id)
    return NULL;
  unsigned bi = nn_dht_bucket_index(&t->self, id);
  if (bi >= NN_DHT_BUCKETS)
    return NULL;
  int i = list_find(&t->b[bi].live, id);
  return i < 0 ? NULL : &t->b[bi].live.v[i];
}

const nn_dht_contact_t *
nn_dht_table_find_replacement(const nn_dht_table_t *t, const nn_node_id_t *id)
{
  if (!t || !id)
    return NULL;
  unsigned bi = nn_dht_bucket_index(&t->self, id);
  if (bi >= NN_DHT_BUCKETS)
    return NULL;
  int i = list_find(&t->b[bi].repl, id);
  return i < 0 ? NULL : &t->b[bi].repl.v[i];
}

unsigned
nn_dht_table_set_wide(nn_dht_table_t *t, unsigned per_table_wide)
{
  unsigned old = t->cfg.per_table_wide;
  t->cfg.per_table_wide = per_table_wide;
  return old;
}

size_t
nn_dht_table_size(const nn_dht_table_t *t)
{
  size_t n = 0;
  if (t)
    for (unsigned i = 0; i < NN_DHT_BUCKETS; i++)
      n += t->b[i].live.n;
  return n;
}

size_t
nn_dht_table_replacements(const nn_dht_table_t *t)
{
  size_t n = 0;
  if (t)
    for (unsigned i = 0; i < NN_DHT_BUCKETS; i++)
      n += t->b[i].repl.n;
  return n;
}

size_t
nn_dht_table_all(const nn_dht_table_t *t, nn_dht_contact_t *out, size_t max)
{
  size_t n = 0;
  if (!t || !out)
    return 0;
  for (unsigned i = 0; i < NN_DHT_BUCKETS && n < max; i++)
    for (unsigned j = 0; j < t->b[i].live.n && n < max; j++)
      out[n++] = t->b[i].live.v[j];
  return n;
}

size_t
nn_dht_table_memory(const nn_dht_table_t *t)
{
  return t ? t->mem : 0;
}

/* ---- refresh ---- */

/* A random id that shares exactly bi leading bits with self. */
static nn_err_t
random_in_bucket(const nn_dht_table_t *t, unsigned bi, const nn_rng_t *rng, nn_node_id_t *out)
{
  nn_err_t err = nn_rng_fill(rng, out->b, NN_NODE_ID_LEN);
  if (err)
    return err;
  unsigned q = bi / 8, r = bi % 8;
  memcpy(out->b, t->self.b, q);
  uint8_t hi = (uint8_t)(0xff00u >> r); /* the r bits shared with self */
  uint8_t bit = (uint8_t)(0x80u >> r);  /* the first bit that differs */
  out->b[q] = (uint8_t)((t->self.b[q] & hi) | (~t->self.b[q] & bit) | (out->b[q] & ~(hi | bit)));
  return NN_OK;
}

int
nn_dht_table_refresh_due(nn_dht_table_t *t, uint64_t now_ms, uint64_t interval_ms, const nn_rng_t *rng,
                         nn_node_id_t *target)
{
  int deepest = -1;
  if (!t || !target)
    return 0;
  for (int w = NN_DHT_BUCKETS / 64 - 1; w >= 0 && deepest < 0; w--)
    if (t->occ[w])
      deepest = 64 * w + 63 - __builtin_ctzll(t->occ[w]);
  for (int i = 0; i <= deepest; i++) {
    uint64_t r = t->b[i].refreshed_ms;
    /* a clock that went backwards (r > now) makes nothing due rather than everything */
    if (r != NN_DHT_NEVER && (r > now_ms || now_ms - r < interval_ms))
      continue;
    if (random_in_bucket(t, (unsigned)i, rng, target))
      return 0;
    t->b[i].refreshed_ms = now_ms;
    return 1;
  }
  return 0;
}

void
nn_dht_table_mark_refreshed(nn_dht_table_t *t, const nn_node_id_t *target, uint64_t now_ms)
{
  if (!t || !target)
    return;
  unsigned bi = nn_dht_bucket_index(&t->self, target);
  if (bi < NN_DHT_BUCKETS)
    t->b[bi].refreshed_ms = now_ms;
}
