/*
 * The reference model of `nepnet sim dandelion --model reference` (sim_dandelion_ref.h): the setting of
 * the Dandelion++ paper's simulations, reimplemented from its description and the authors'
 * code's behaviour, with no node code in it. Everything is per (p, graph): a graph, its spies,
 * then `trials` trials, each with fresh forwarding maps, one Dandelion++ transaction and one
 * diffusion transaction per honest node, scored with the first-spy estimator.
 */
#define _POSIX_C_SOURCE 200809L
#include "sim/sim_dandelion_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "lib/clock.h"
#include "lib/wire.h"

#define NONE UINT32_MAX

/* Draws for one (p, graph): a DRBG keyed by the seed and both indices, buffered (one SHAKE
 * call per 512 draws). Never moved after ref_rand_init (rng points into it). */
typedef struct ref_rand_t {
  nn_drbg_t drbg;
  nn_rng_t rng;
  uint8_t buf[4096];
  size_t pos;
} ref_rand_t;

/* A directed graph in CSR form: out[v] = dst[oo[v] .. oo[v+1]), in[v] = src[io[v] .. io[v+1]),
 * and the diffusion neighbours nb[v] = nbr[no[v] .. no[v+1]): in-neighbours then out-neighbours,
 * so a pair joined both ways appears twice. */
typedef struct ref_graph_t {
  uint32_t n, edges;
  uint32_t *oo, *dst, *io, *src, *no, *nbr;
  uint32_t merged; /* cycles: edges drawn twice */
} ref_graph_t;

/* Per-trial state and scratch, sized once for n nodes and the graph's degrees. */
typedef struct ref_t {
  const sim_dlref_cfg_t *cfg;
  const ref_graph_t *g;
  const uint8_t *spy;
  ref_rand_t *r;
  uint32_t n, nhonest;
  /* the stem graph of this trial: S(v) = so[v] .. so[v+1) in sdst, P(v) = sp[v] .. sp[v+1) in
   * spred; map[k] is the out-edge (a node) the k-th in-edge of P is forwarded on */
  uint32_t *so, *sdst, *sp, *spred, *map, *own, *fill;
  uint8_t *fluffer;
  /* a walk's visited marks, and a diffusion's informed marks: stamps, so nothing is cleared */
  uint32_t *seen, stamp;
  uint32_t *bsrc, *bdst; /* the diffusion boundary (edges informed -> uninformed, a multiset) */
  size_t bcap;
  uint32_t *guess, *named;
  uint64_t hops;
} ref_t;

/* ---- randomness ---- */

static void
ref_rand_init(ref_rand_t *r, uint64_t seed, uint32_t pidx, uint32_t graph)
{
  uint8_t in[32];
  nn_hash_t h;
  memcpy(in, "nnsim-dlref-v1\0\0", 16);
  nn_be64_put(in + 16, seed);
  nn_be32_put(in + 24, pidx);
  nn_be32_put(in + 28, graph);
  nn_sha3_256(&h, in, sizeof(in));
  nn_drbg_init(&r->drbg, h.b);
  r->rng = nn_drbg_rng(&r->drbg);
  r->pos = sizeof(r->buf);
}

static uint64_t
ref_rand64(ref_rand_t *r)
{
  if (r->pos + 8 > sizeof(r->buf)) {
    if (nn_rng_fill(&r->rng, r->buf, sizeof(r->buf)))
      abort(); /* SHAKE-256 over OpenSSL failing: nothing sensible to simulate with */
    r->pos = 0;
  }
  uint64_t v = nn_be64_get(r->buf + r->pos);
  r->pos += 8;
  return v;
}

/* Uniform below n (the modulo bias of a 64-bit draw is below 2^-40 for any n used here). */
static uint32_t
ref_below(ref_rand_t *r, uint32_t n)
{
  return n ? (uint32_t)(ref_rand64(r) % n) : 0;
}

/* 1 with probability q (53-bit uniform). */
static int
ref_coin(ref_rand_t *r, double q)
{
  return (double)(ref_rand64(r) >> 11) * 0x1p-53 < q;
}

static void
ref_shuffle(ref_rand_t *r, uint32_t *a, uint32_t n)
{
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = ref_below(r, i), x = a[i - 1];
    a[i - 1] = a[j];
    a[j] = x;
  }
}

/* ---- the graph ---- */

static void
graph_free(ref_graph_t *g)
{
  free(g->oo);
  free(g->dst);
  free(g->io);
  free(g->src);
  free(g->no);
  free(g->nbr);
  memset(g, 0, sizeof(*g));
}

/* CSR from an edge list (ea[e] -> eb[e], no duplicates). */
static nn_err_t
graph_csr(ref_graph_t *g, uint32_t n, const uint32_t *ea, const uint32_t *eb, uint32_t m)
{
  g->n = n;
  g->edges = m;
  g->oo = calloc((size_t)n + 1, sizeof(uint32_t));
  g->io = calloc((size_t)n + 1, sizeof(uint32_t));
  g->no = calloc((size_t)n + 1, sizeof(uint32_t));
  g->dst = malloc(((size_t)m + 1) * sizeof(uint32_t));
  g->src = malloc(((size_t)m + 1) * sizeof(uint32_t));
  g->nbr = malloc((2 * (size_t)m + 1) * sizeof(uint32_t));
  uint32_t *fo = calloc((size_t)n + 1, sizeof(uint32_t)), *fi = calloc((size_t)n + 1, sizeof(uint32_t));
  nn_err_t err = NN_ERR_NOMEM;
  if (!g->oo || !g->io || !g->no || !g->dst || !g->src || !g->nbr || !fo || !fi)
    goto out;
  for (uint32_t e = 0; e < m; e++) {
    g->oo[ea[e] + 1]++;
    g->io[eb[e] + 1]++;
  }
  for (uint32_t v = 0; v < n; v++) {
    g->oo[v + 1] += g->oo[v];
    g->io[v + 1] += g->io[v];
  }
  for (uint32_t e = 0; e < m; e++) {
    g->dst[g->oo[ea[e]] + fo[ea[e]]++] = eb[e];
    g->src[g->io[eb[e]] + fi[eb[e]]++] = ea[e];
  }
  for (uint32_t v = 0; v < n; v++) {
    uint32_t k = g->no[v];
    for (uint32_t i = g->io[v]; i < g->io[v + 1]; i++)
      g->nbr[k++] = g->src[i];
    for (uint32_t i = g->oo[v]; i < g->oo[v + 1]; i++)
      g->nbr[k++] = g->dst[i];
    g->no[v + 1] = k;
  }
  err = NN_OK;
out:
  free(fo);
  free(fi);
  return err;
}

/* 1 when a -> b is among the first m edges (the cycles graph keeps per-node out-lists short:
 * at most DEGREE/2 entries, so a scan is cheap). */
static int
has_edge(const uint32_t *oa, const uint32_t *odeg, uint32_t width, uint32_t a, uint32_t b)
{
  for (uint32_t i = 0; i < odeg[a]; i++)
    if (oa[(size_t)a * width + i] == b)
      return 1;
  return 0;
}

/* The union of DEGREE/2 directed Hamiltonian cycles: 0 -> 1 -> ... -> n-1 -> 0 (the spies are
 * random, so one fixed cycle loses nothing), then random cyclic orders of the nodes. */
static nn_err_t
graph_cycles(ref_graph_t *g, const sim_dlref_cfg_t *cfg, ref_rand_t *r)
{
  uint32_t n = cfg->nodes, k = cfg->degree / 2, m = 0;
  uint32_t *ea = malloc((size_t)n * k * sizeof(uint32_t)), *eb = malloc((size_t)n * k * sizeof(uint32_t));
  uint32_t *oa = malloc((size_t)n * k * sizeof(uint32_t)), *odeg = calloc(n, sizeof(uint32_t));
  uint32_t *perm = malloc((size_t)n * sizeof(uint32_t));
  nn_err_t err = NN_ERR_NOMEM;
  memset(g, 0, sizeof(*g));
  if (!ea || !eb || !oa || !odeg || !perm)
    goto out;
  for (uint32_t c = 0; c < k; c++) {
    for (uint32_t i = 0; i < n; i++)
      perm[i] = i;
    if (c)
      ref_shuffle(r, perm, n);
    for (uint32_t i = 0; i < n; i++) {
      uint32_t a = perm[i], b = perm[(i + 1) % n];
      if (has_edge(oa, odeg, k, a, b)) {
        g->merged++; /* a directed graph holds an edge once */
        continue;
      }
      oa[(size_t)a * k + odeg[a]++] = b;
      ea[m] = a;
      eb[m++] = b;
    }
  }
  err = graph_csr(g, n, ea, eb, m);
out:
  free(ea);
  free(eb);
  free(oa);
  free(odeg);
  free(perm);
  return err;
}

/* Every node dials `outbound` distinct random other nodes; nothing caps a node's inbound. */
static nn_err_t
graph_outbound(ref_graph_t *g, const sim_dlref_cfg_t *cfg, ref_rand_t *r)
{
  uint32_t n = cfg->nodes, d = cfg->outbound, m = 0;
  uint32_t *ea = malloc((size_t)n * d * sizeof(uint32_t)), *eb = malloc((size_t)n * d * sizeof(uint32_t));
  nn_err_t err = NN_ERR_NOMEM;
  memset(g, 0, sizeof(*g));
  if (!ea || !eb)
    goto out;
  for (uint32_t v = 0; v < n; v++) {
    uint32_t first = m;
    while (m - first < d) {
      uint32_t w = ref_below(r, n), dup = w == v;
      for (uint32_t i = first; i < m && !dup; i++)
        dup = eb[i] == w;
      if (dup)
        continue;
      ea[m] = v;
      eb[m++] = w;
    }
  }
  err = graph_csr(g, n, ea, eb, m);
out:
  free(ea);
  free(eb);
  return err;
}

/* ---- one trial ---- */

/* The stem graph of this trial: the out-edges (cycles), or `stems` of each node's outbound
 * drawn anew (outbound: a node picks its relays each epoch); then the in-lists. */
static void
stem_graph(ref_t *t)
{
  const ref_graph_t *g = t->g;
  uint32_t n = t->n, k = 0;
  uint32_t ns = t->cfg->graph == SIM_DLREF_OUTBOUND ? t->cfg->stems : UINT32_MAX;
  for (uint32_t v = 0; v < n; v++) {
    uint32_t deg = g->oo[v + 1] - g->oo[v], take = deg < ns ? deg : ns;
    t->so[v] = k;
    memcpy(t->sdst + k, g->dst + g->oo[v], deg * sizeof(uint32_t));
    if (take < deg) /* a uniform `take`-subset: the head of a partial shuffle */
      for (uint32_t i = 0; i < take; i++) {
        uint32_t j = i + ref_below(t->r, deg - i), x = t->sdst[k + i];
        t->sdst[k + i] = t->sdst[k + j];
        t->sdst[k + j] = x;
      }
    k += take;
  }
  t->so[n] = k;
  memset(t->sp, 0, ((size_t)n + 1) * sizeof(uint32_t));
  for (uint32_t i = 0; i < k; i++)
    t->sp[t->sdst[i] + 1]++;
  for (uint32_t v = 0; v < n; v++)
    t->sp[v + 1] += t->sp[v];
  memset(t->fill, 0, (size_t)n * sizeof(uint32_t));
  for (uint32_t v = 0; v < n; v++)
    for (uint32_t i = t->so[v]; i < t->so[v + 1]; i++) {
      uint32_t w = t->sdst[i];
      t->spred[t->sp[w] + t->fill[w]++] = v;
    }
}

/* One-to-one forwarding: the own transaction to a random out-edge; the in-edges, in order, to a
 * shuffled list of the out-edges, reshuffled whenever it runs out (so each out-edge carries
 * ceil or floor of in/out in-edges, and with 2 in and 2 out the map is a random bijection). */
static void
one_to_one(ref_t *t)
{
  uint32_t list[64];
  for (uint32_t v = 0; v < t->n; v++) {
    uint32_t s0 = t->so[v], deg = t->so[v + 1] - s0, left = 0;
    if (t->spy[v] || !deg)
      continue;
    t->own[v] = t->sdst[s0 + ref_below(t->r, deg)];
    for (uint32_t i = t->sp[v]; i < t->sp[v + 1]; i++) {
      if (!left) {
        memcpy(list, t->sdst + s0, deg * sizeof(uint32_t));
        ref_shuffle(t->r, list, deg);
        left = deg;
      }
      t->map[i] = list[--left];
    }
  }
}

/* A fresh mark for t->seen; when the counter wraps (after 2^32 walks), the marks are cleared. */
static uint32_t
next_stamp(ref_t *t)
{
  if (++t->stamp == 0) {
    memset(t->seen, 0, ((size_t)t->n + 1) * sizeof(uint32_t));
    t->stamp = 1;
  }
  return t->stamp;
}

/* The out-edge a stem from \a prev takes at \a cur under the map (prev == cur: cur's own). */
static uint32_t
mapped(const ref_t *t, uint32_t cur, uint32_t prev)
{
  if (prev == cur)
    return t->own[cur];
  for (uint32_t i = t->sp[cur]; i < t->sp[cur + 1]; i++)
    if (t->spred[i] == prev)
      return t->map[i];
  return NONE; /* prev is always an in-neighbour of cur: cannot happen */
}

/* Diffusion from \a origin (honest): the sender of the edge that first informs a spy, or NONE
 * when no spy is reachable. *informed gains the honest nodes informed on the way. */
static uint32_t
diffuse(ref_t *t, uint32_t origin, uint64_t *informed_total)
{
  const ref_graph_t *g = t->g;
  uint32_t st = next_stamp(t);
  size_t nb = 0;
  t->seen[origin] = st;
  /* The origin's neighbours once each (their first boundary is a set); later nodes' with their
   * multiplicity (their later additions are not deduplicated). */
  for (uint32_t i = g->no[origin]; i < g->no[origin + 1]; i++) {
    uint32_t w = g->nbr[i], dup = 0;
    for (size_t j = 0; j < nb && !dup; j++)
      dup = t->bdst[j] == w;
    if (!dup) {
      t->bsrc[nb] = origin;
      t->bdst[nb++] = w;
    }
  }
  for (uint32_t informed = 0; nb; informed++) {
    size_t pick = (size_t)ref_below(t->r, (uint32_t)nb);
    uint32_t from = t->bsrc[pick], to = t->bdst[pick];
    if (t->spy[to])
      return from;
    if (informed + 1 >= t->n)
      return to; /* their cut-off; unreachable while a spy is reachable */
    (*informed_total)++;
    t->seen[to] = st;
    size_t k = 0;
    for (size_t j = 0; j < nb; j++)
      if (t->bdst[j] != to) {
        t->bsrc[k] = t->bsrc[j];
        t->bdst[k++] = t->bdst[j];
      }
    nb = k;
    for (uint32_t i = g->no[to]; i < g->no[to + 1]; i++) {
      uint32_t w = g->nbr[i];
      if (t->seen[w] != st) {
        t->bsrc[nb] = to;
        t->bdst[nb++] = w;
      }
    }
  }
  return NONE;
}

/* The stem of \a origin's transaction: the honest node that hands it to the first spy, the
 * fluffer's diffusion's guess, or the node a spy-less stem is cut at. */
static uint32_t
stem_walk(ref_t *t, uint32_t origin, sim_dlref_result_t *res)
{
  uint32_t st = next_stamp(t), prev = origin, cur = origin;
  int o2o = t->cfg->forwarding == SIM_DLREF_ONE_TO_ONE;
  for (uint32_t len = 1;; len++) {
    uint32_t s0 = t->so[cur], deg = t->so[cur + 1] - s0, next;
    if (!deg)
      return cur; /* nowhere to stem (an outbound graph always has somewhere) */
    if (!o2o) {
      next = t->sdst[s0 + ref_below(t->r, deg)];
    } else {
      next = mapped(t, cur, prev);
      if (t->seen[cur] == st && deg > 1) { /* back on its own path: another way out */
        for (uint32_t i = s0; i < s0 + deg; i++)
          if (t->sdst[i] != next) {
            next = t->sdst[i];
            break;
          }
      }
    }
    if (next == NONE)
      return cur; /* no map entry for this in-edge: cannot happen (see mapped) */
    t->seen[cur] = st;
    prev = cur;
    cur = next;
    if (t->spy[cur]) {
      t->hops += len;
      return prev;
    }
    if (t->fluffer[cur]) {
      t->hops += len;
      res->fluffed++;
      uint64_t informed = 0; /* the walk's marks are spent: diffusion takes a new stamp */
      return diffuse(t, cur, &informed);
    }
    if (len > t->n) {
      t->hops += len;
      res->fallback++;
      return cur;
    }
  }
}

/* First-spy scoring of t->guess over the honest origins: adds this trial's precision and
 * recall to *prec and *rec. */
static void
score(ref_t *t, double *prec, double *rec, sim_dlref_result_t *res)
{
  double ps = 0;
  uint32_t hit = 0;
  memset(t->named, 0, (size_t)t->n * sizeof(uint32_t));
  for (uint32_t v = 0; v < t->n; v++)
    if (!t->spy[v] && t->guess[v] != NONE)
      t->named[t->guess[v]]++;
  for (uint32_t v = 0; v < t->n; v++) {
    if (t->spy[v])
      continue;
    res->txs++;
    if (t->guess[v] == NONE)
      res->unattributed++;
    else if (t->guess[v] == v) {
      hit++;
      ps += 1.0 / t->named[v];
    }
  }
  *prec += ps / t->nhonest;
  *rec += (double)hit / t->nhonest;
}

static void
trial(ref_t *t, double acc[4], uint64_t hops[2], sim_dlref_result_t *dl, sim_dlref_result_t *df)
{
  stem_graph(t);
  if (t->cfg->forwarding == SIM_DLREF_ONE_TO_ONE)
    one_to_one(t);
  for (uint32_t v = 0; v < t->n; v++)
    t->fluffer[v] = !t->spy[v] && t->cfg->q > 0 && ref_coin(t->r, t->cfg->q);
  t->hops = 0;
  for (uint32_t v = 0; v < t->n; v++)
    t->guess[v] = t->spy[v] ? NONE : stem_walk(t, v, dl);
  score(t, &acc[0], &acc[1], dl);
  hops[0] += t->hops;
  t->hops = 0;
  for (uint32_t v = 0; v < t->n; v++)
    t->guess[v] = t->spy[v] ? NONE : diffuse(t, v, &t->hops);
  score(t, &acc[2], &acc[3], df);
  hops[1] += t->hops;
}

static void
ref_free(ref_t *t)
{
  free(t->so);
  free(t->sdst);
  free(t->sp);
  free(t->spred);
  free(t->map);
  free(t->own);
  free(t->fill);
  free(t->fluffer);
  free(t->seen);
  free(t->bsrc);
  free(t->bdst);
  free(t->guess);
  free(t->named);
}

static nn_err_t
ref_alloc(ref_t *t, uint32_t n, uint32_t max_edges)
{
  size_t nn1 = (size_t)n + 1;
  t->n = n;
  t->so = malloc(nn1 * sizeof(uint32_t));
  t->sp = malloc(nn1 * sizeof(uint32_t));
  t->sdst = malloc(((size_t)max_edges + 1) * sizeof(uint32_t));
  t->spred = malloc(((size_t)max_edges + 1) * sizeof(uint32_t));
  t->map = malloc(((size_t)max_edges + 1) * sizeof(uint32_t));
  t->own = malloc(nn1 * sizeof(uint32_t));
  t->fill = malloc(nn1 * sizeof(uint32_t));
  t->fluffer = malloc(nn1);
  t->seen = calloc(nn1, sizeof(uint32_t));
  /* the boundary holds at most every informed node's neighbours: 2 entries per edge */
  t->bcap = 2 * (size_t)max_edges + 1;
  t->bsrc = malloc(t->bcap * sizeof(uint32_t));
  t->bdst = malloc(t->bcap * sizeof(uint32_t));
  t->guess = malloc(nn1 * sizeof(uint32_t));
  t->named = malloc(nn1 * sizeof(uint32_t));
  if (!t->so || !t->sp || !t->sdst || !t->spred || !t->map || !t->own || !t->fill || !t->fluffer || !t->seen ||
      !t->bsrc || !t->bdst || !t->guess || !t->named)
    return NN_ERR_NOMEM;
  return NN_OK;
}

/* Mean and standard error of the per-graph means x[0..k). */
static void
mean_se(const double *x, uint32_t k, double *mean, double *se)
{
  double s = 0, ss = 0;
  for (uint32_t i = 0; i < k; i++)
    s += x[i];
  *mean = k ? s / k : 0;
  for (uint32_t i = 0; i < k; i++)
    ss += (x[i] - *mean) * (x[i] - *mean);
  *se = k > 1 ? sqrt(ss / (k - 1) / k) : 0;
}

/* ---- entry ---- */

void
sim_dlref_cfg_default(sim_dlref_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->nodes = 100;
  cfg->graph = SIM_DLREF_CYCLES;
  cfg->degree = 4;
  cfg->outbound = 8;
  cfg->stems = 2;
  cfg->forwarding = SIM_DLREF_ONE_TO_ONE;
  cfg->q = 0;
  cfg->p[0] = 0.1;
  cfg->np = 1;
  cfg->graphs = 20;
  cfg->trials = 30;
  cfg->seed = 1;
}

int
sim_dlref_is_paper_setting(const sim_dlref_cfg_t *cfg)
{
  return cfg->nodes == 100 && cfg->graph == SIM_DLREF_CYCLES && cfg->degree == 4 &&
         cfg->forwarding == SIM_DLREF_ONE_TO_ONE && cfg->q == 0;
}

/* Spies: floor(p*N), as the authors' code counts them (the epsilon keeps 0.1 * 100 at 10). */
static uint32_t
spy_count(double p, uint32_t n)
{
  return (uint32_t)floor(p * n + 1e-9);
}

static int
cfg_ok(const sim_dlref_cfg_t *cfg)
{
  if (cfg->nodes < 20 || cfg->nodes > 100000 || cfg->np < 1 || cfg->np > SIM_DLREF_MAX_P || cfg->graphs < 1 ||
      cfg->graphs > 100000 || cfg->trials < 1 || cfg->trials > 10000 || !(cfg->q >= 0 && cfg->q <= 0.5))
    return 0;
  if (cfg->graph == SIM_DLREF_CYCLES && (cfg->degree < 2 || cfg->degree > 32 || cfg->degree % 2))
    return 0;
  if (cfg->graph == SIM_DLREF_OUTBOUND && (cfg->outbound < 1 || cfg->outbound > 32 || 2 * cfg->outbound >= cfg->nodes ||
                                           cfg->stems < 1 || cfg->stems > cfg->outbound))
    return 0;
  if (cfg->graph != SIM_DLREF_CYCLES && cfg->graph != SIM_DLREF_OUTBOUND)
    return 0;
  if (cfg->forwarding != SIM_DLREF_ONE_TO_ONE && cfg->forwarding != SIM_DLREF_PER_TX)
    return 0;
  for (uint32_t i = 0; i < cfg->np; i++) {
    uint32_t s = spy_count(cfg->p[i], cfg->nodes);
    if (!(cfg->p[i] > 0 && cfg->p[i] <= 0.9) || s < 1 || s >= cfg->nodes)
      return 0;
  }
  return 1;
}

/* One p: `graphs` graphs of `trials` trials each. */
static nn_err_t
run_p(const sim_dlref_cfg_t *cfg, uint32_t pi, sim_dlref_stats_t *out, FILE *log)
{
  uint32_t n = cfg->nodes, nspy = spy_count(cfg->p[pi], n);
  uint32_t max_edges = cfg->graph == SIM_DLREF_CYCLES ? n * (cfg->degree / 2) : n * cfg->outbound;
  double *pg = malloc((size_t)cfg->graphs * 4 * sizeof(double));
  uint32_t *order = malloc((size_t)n * sizeof(uint32_t));
  uint8_t *spy = malloc(n);
  sim_dlref_result_t *dl = &out->dandelion[pi], *df = &out->diffusion[pi];
  ref_rand_t *r = malloc(sizeof(ref_rand_t));
  uint64_t hops[2] = { 0, 0 }, edges = 0;
  ref_t t;
  nn_err_t err = NN_ERR_NOMEM;
  memset(&t, 0, sizeof(t));
  out->p[pi] = cfg->p[pi];
  out->spies[pi] = nspy;
  if (!pg || !order || !spy || !r || ref_alloc(&t, n, max_edges))
    goto out;
  t.cfg = cfg;
  t.spy = spy;
  t.r = r;
  t.nhonest = n - nspy;
  for (uint32_t gi = 0; gi < cfg->graphs; gi++) {
    ref_graph_t g;
    ref_rand_init(r, cfg->seed, pi, gi);
    err = cfg->graph == SIM_DLREF_CYCLES ? graph_cycles(&g, cfg, r) : graph_outbound(&g, cfg, r);
    if (err) {
      graph_free(&g);
      goto out;
    }
    for (uint32_t i = 0; i < n; i++)
      order[i] = i;
    ref_shuffle(r, order, n);
    memset(spy, 0, n);
    for (uint32_t i = 0; i < nspy; i++)
      spy[order[i]] = 1;
    t.g = &g;
    double acc[4] = { 0, 0, 0, 0 };
    for (uint32_t k = 0; k < cfg->trials; k++)
      trial(&t, acc, hops, dl, df);
    for (int j = 0; j < 4; j++)
      pg[(size_t)j * cfg->graphs + gi] = acc[j] / cfg->trials;
    if (pi == 0) {
      out->merged_edges += g.merged;
      edges += g.edges;
    }
    graph_free(&g);
    if (log && !cfg->quiet && (gi + 1) % 100 == 0) {
      fprintf(log, "\r  p=%.2f graph %u/%u   ", cfg->p[pi], gi + 1, cfg->graphs);
      fflush(log);
    }
  }
  if (pi == 0)
    out->mean_out = (double)edges / ((double)cfg->graphs * n);
  mean_se(pg, cfg->graphs, &dl->precision, &dl->precision_se);
  mean_se(pg + cfg->graphs, cfg->graphs, &dl->recall, &dl->recall_se);
  mean_se(pg + 2 * (size_t)cfg->graphs, cfg->graphs, &df->precision, &df->precision_se);
  mean_se(pg + 3 * (size_t)cfg->graphs, cfg->graphs, &df->recall, &df->recall_se);
  dl->mean_hops = dl->txs ? (double)hops[0] / (double)dl->txs : 0;
  df->mean_hops = df->txs ? (double)hops[1] / (double)df->txs : 0;
  if (log && !cfg->quiet && cfg->graphs >= 100)
    fprintf(log, "\r%40s\r", "");
  err = NN_OK;
out:
  ref_free(&t);
  free(pg);
  free(order);
  free(spy);
  free(r);
  return err;
}

nn_err_t
sim_dlref_run(const sim_dlref_cfg_t *cfg, sim_dlref_stats_t *out, FILE *log)
{
  uint64_t t0 = nn_mono_us();
  nn_err_t err = NN_OK;
  memset(out, 0, sizeof(*out));
  if (!cfg_ok(cfg))
    return NN_ERR_ARG;
  out->np = cfg->np;
  for (uint32_t pi = 0; pi < cfg->np && !err; pi++)
    err = run_p(cfg, pi, out, log);
  out->wall_s = (double)(nn_mono_us() - t0) / 1e6;
  return err;
}

int
sim_dlref_paper(double p, sim_dlref_paper_t *out)
{
  /* p, then Dandelion++ precision, recall, diffusion precision, recall, then their standard
   * errors over graphs (sim_dandelion_ref.h says how they were measured). */
  static const struct {
    double p, v[8];
  } t[] = {
    { 0.05, { 0.0108, 0.0550, 0.0288, 0.1354, 0.0001, 0.0003, 0.0003, 0.0006 } },
    { 0.1, { 0.0362, 0.1051, 0.0937, 0.2345, 0.0002, 0.0003, 0.00013, 0.00014 } },
    { 0.2, { 0.1037, 0.2062, 0.2386, 0.3862, 0.0007, 0.0009, 0.0014, 0.0013 } },
    { 0.3, { 0.1827, 0.3052, 0.3682, 0.5043, 0.0012, 0.0013, 0.0017, 0.0014 } },
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
    if (fabs(p - t[i].p) < 1e-9) {
      out->dl_precision = t[i].v[0];
      out->dl_recall = t[i].v[1];
      out->diff_precision = t[i].v[2];
      out->diff_recall = t[i].v[3];
      out->dl_precision_se = t[i].v[4];
      out->dl_recall_se = t[i].v[5];
      out->diff_precision_se = t[i].v[6];
      out->diff_recall_se = t[i].v[7];
      return 1;
    }
  return 0;
}
