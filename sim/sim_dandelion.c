/*
 * The Dandelion++ simulator (sim_dandelion.h). One event queue in virtual milliseconds; each
 * honest node is a real nn_dl_t. Spies run no core: the first message that reaches a spy about a
 * transaction fixes the first-spy estimate, and every later message about that transaction is
 * dropped (the header explains why this leaves the estimates alone), so a spy's forwarding would
 * only ever produce dropped messages.
 */
#define _POSIX_C_SOURCE 200809L
#include "sim/sim_dandelion.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "dandelion/dandelion.h"
#include "lib/clock.h"
#include "lib/wire.h"
#include "sim/latency.h"

#define NONE UINT32_MAX
#define TX_LEN 24                  /* "nnsimtx" 0 || be32 index || be32 origin || be64 seed */
#define T0_MS (2ull * 3600 * 1000) /* run start; cores are born up to one epoch earlier */
#define HORIZON_MS 3600000ull      /* after the last submission; every transaction is seen long before */
#define REPORT_MS 60000ull         /* progress line every minute of virtual time */

enum { EV_SUBMIT, EV_TICK, EV_STEM, EV_INV, EV_GETDATA, EV_TX };
/* The three protocols each p runs (sim_dandelion.h): Dandelion++, flooding as Neptune does it
 * today (no INV delay), and Bitcoin-style diffusion (random INV delays). */
enum { PROTO_DANDELION, PROTO_FLOODING, PROTO_DIFFUSION, NPROTO };
static const char *const proto_name[NPROTO] = { "dandelion", "flooding", "diffusion" };

typedef struct event_t {
  uint64_t t;
  uint64_t seq;
  uint32_t node, from, tx;
  uint8_t kind;
} event_t;

/* The simulator's own draws (graph, spies, times), buffered from a seeded DRBG: one SHAKE call
 * per 64 draws instead of one per draw. Never moved after rand_init (rng points into it). */
typedef struct rand_t {
  nn_drbg_t drbg;
  nn_rng_t rng;
  uint8_t buf[512];
  size_t pos;
} rand_t;

typedef struct node_t {
  nn_dl_t *dl;      /* NULL for a spy */
  uint64_t tick_at; /* the tick event that is current (older ones are stale) */
  nn_drbg_t drbg;
  nn_rng_t rng;
} node_t;

typedef struct tx_t {
  uint32_t origin;
  uint32_t guess; /* the honest node the first spy heard it from, NONE = unseen */
  uint64_t submit_at, seen_at;
  uint8_t by_stem;
  nn_hash_t id;
} tx_t;

/* The graph: shared by every run. adj[off[i] .. off[i+1]) are node i's peers in the order the
 * connections were made; out marks the ones i dialled. */
typedef struct graph_t {
  uint32_t n;
  uint8_t *region;
  uint32_t *off, *adj;
  uint8_t *out;
  uint32_t edges;
} graph_t;

typedef struct sim_t {
  const sim_dandelion_cfg_t *cfg;
  const graph_t *g;
  const uint8_t *spy;
  int proto;
  uint32_t pidx;
  node_t *nodes;
  tx_t *txs;
  uint32_t ntx, nseen;
  uint32_t *idx; /* transaction id -> index, open addressing on the first 8 id bytes */
  size_t idxcap;
  event_t *heap;
  size_t nheap, capheap;
  uint64_t seq, now;
  uint32_t cur; /* the node whose core is running (for the io callbacks) */
  sim_dandelion_result_t *res;
  sim_latency_t rtts; /* per-pair RTTs */
} sim_t;

/* ---- randomness ---- */

static void
rand_init(rand_t *r, uint64_t seed, const char *label)
{
  uint8_t in[64];
  size_t l = strlen(label);
  nn_hash_t h;
  if (l > sizeof(in) - 8)
    l = sizeof(in) - 8;
  memcpy(in, label, l);
  nn_be64_put(in + l, seed);
  nn_sha3_256(&h, in, l + 8);
  nn_drbg_init(&r->drbg, h.b);
  r->rng = nn_drbg_rng(&r->drbg);
  r->pos = sizeof(r->buf);
}

static uint64_t
rand64(rand_t *r)
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

/* Uniform below n (the modulo bias of a 64-bit draw is below 2^-32 for any n used here). */
static uint32_t
rand_below(rand_t *r, uint32_t n)
{
  return n ? (uint32_t)(rand64(r) % n) : 0;
}

/* ---- event queue (binary heap on (t, seq): equal times run in the order queued) ---- */

static int
ev_less(const event_t *a, const event_t *b)
{
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void
push(sim_t *s, event_t e)
{
  if (s->nheap == s->capheap) {
    size_t nc = s->capheap ? s->capheap * 2 : 4096;
    event_t *h = realloc(s->heap, nc * sizeof(event_t));
    if (!h)
      abort(); /* the simulator is a tool, not a network parser: out of memory ends it */
    s->heap = h;
    s->capheap = nc;
  }
  e.seq = s->seq++;
  size_t i = s->nheap++;
  while (i && ev_less(&e, &s->heap[(i - 1) / 2])) {
    s->heap[i] = s->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->heap[i] = e;
}

static event_t
pop(sim_t *s)
{
  event_t top = s->heap[0], last = s->heap[--s->nheap];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->nheap)
      break;
    if (c + 1 < s->nheap && ev_less(&s->heap[c + 1], &s->heap[c]))
      c++;
    if (!ev_less(&s->heap[c], &last))
      break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (s->nheap)
    s->heap[i] = last;
  return top;
}

/* ---- transactions ---- */

static void
tx_bytes(const sim_t *s, uint32_t tx, uint8_t out[TX_LEN])
{
  memcpy(out, "nnsimtx", 8);
  nn_be32_put(out + 8, tx);
  nn_be32_put(out + 12, s->txs[tx].origin);
  nn_be64_put(out + 16, s->cfg->seed);
}

static uint32_t
tx_of_bytes(const sim_t *s, const uint8_t *b, size_t len)
{
  if (len != TX_LEN || memcmp(b, "nnsimtx", 8))
    return NONE;
  uint32_t tx = nn_be32_get(b + 8);
  return tx < s->ntx ? tx : NONE;
}

static uint32_t
tx_of_id(const sim_t *s, const nn_hash_t *id)
{
  size_t m = s->idxcap - 1;
  for (size_t h = (size_t)nn_be64_get(id->b) & m; s->idx[h] != NONE; h = (h + 1) & m)
    if (!memcmp(s->txs[s->idx[h]].id.b, id->b, NN_HASH_LEN))
      return s->idx[h];
  return NONE;
}

/* ---- the network ---- */

static void
schedule_tick(sim_t *s, uint32_t node)
{
  node_t *n = &s->nodes[node];
  uint64_t d = nn_dl_deadline(n->dl);
  if (d == UINT64_MAX || (n->tick_at && n->tick_at <= d && n->tick_at > s->now))
    return;
  if (d < s->now)
    d = s->now;
  n->tick_at = d;
  push(s, (event_t){ .t = d, .kind = EV_TICK, .node = node });
}

/* A message from the running node to \a to, arriving after half the pair's RTT; dropped when a
 * spy has already seen the transaction (its estimate is fixed). */
static void
send_msg(sim_t *s, uint8_t kind, uint32_t to, uint32_t tx)
{
  if (tx == NONE || to >= s->g->n)
    return;
  if (s->txs[tx].guess != NONE) {
    s->res->dropped++;
    return;
  }
  const graph_t *g = s->g;
  uint32_t rtt = sim_rtt_ms(&s->rtts, s->cur, g->region[s->cur], to, g->region[to]);
  push(s, (event_t){ .t = s->now + rtt / 2, .kind = kind, .node = to, .from = s->cur, .tx = tx });
}

static void
io_stem(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  sim_t *s = ctx;
  send_msg(s, EV_STEM, peer, tx_of_bytes(s, tx, len));
}

static void
io_inv(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  sim_t *s = ctx;
  send_msg(s, EV_INV, peer, tx_of_id(s, id));
}

static void
io_getdata(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  sim_t *s = ctx;
  send_msg(s, EV_GETDATA, peer, tx_of_id(s, id));
}

static void
io_tx(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  sim_t *s = ctx;
  send_msg(s, EV_TX, peer, tx_of_bytes(s, tx, len));
}

static void
deliver(sim_t *s, const event_t *e)
{
  tx_t *t = &s->txs[e->tx];
  if (t->guess != NONE) {
    s->res->dropped++;
    return;
  }
  s->res->messages++;
  if (s->spy[e->node]) {
    /* The first-spy estimator: whoever told a spy first is the guess. Spies never send, so the
     * sender is honest. */
    t->guess = e->from;
    t->seen_at = s->now;
    t->by_stem = e->kind == EV_STEM;
    s->nseen++;
    return;
  }
  node_t *n = &s->nodes[e->node];
  uint8_t b[TX_LEN];
  s->cur = e->node;
  switch (e->kind) {
  case EV_STEM:
    tx_bytes(s, e->tx, b);
    (void)nn_dl_on_stem(n->dl, e->from, b, TX_LEN, s->now);
    break;
  case EV_TX:
    tx_bytes(s, e->tx, b);
    (void)nn_dl_on_fluff(n->dl, e->from, b, TX_LEN, s->now);
    break;
  case EV_INV: nn_dl_on_inv(n->dl, e->from, &t->id, s->now); break;
  case EV_GETDATA: nn_dl_on_getdata(n->dl, e->from, &t->id, s->now); break;
  default: return;
  }
  schedule_tick(s, e->node);
}

/* ---- one run: one p, one protocol ---- */

static nn_err_t
cores_new(sim_t *s, uint64_t t0, rand_t *r)
{
  const graph_t *g = s->g;
  nn_dl_io_t io = { io_stem, io_inv, io_getdata, io_tx, NULL, s };
  nn_dl_cfg_t cfg;
  nn_dl_cfg_default(&cfg);
  cfg.route = s->proto == PROTO_DANDELION ? NN_ROUTE_DANDELION : NN_ROUTE_DIRECT;
  cfg.fluff_prob = s->cfg->q;
  cfg.max_peers = s->cfg->outbound + s->cfg->max_inbound;
  /* The node's settings, not the core's defaults (which are Monero's slower ones). */
  cfg.embargo_base_ms = s->cfg->embargo_base_ms;
  cfg.embargo_mean_ms = s->cfg->embargo_mean_ms;
  if (s->proto == PROTO_FLOODING) {
    /* Neptune today: every node announces to every peer at once (the core then announces 1 ms
     * after it has the transaction: an exponential with mean 0 is 0). */
    cfg.inv_mean_out_ms = 0;
    cfg.inv_mean_in_ms = 0;
  } else {
    cfg.inv_mean_out_ms = s->cfg->inv_out_ms;
    cfg.inv_mean_in_ms = s->cfg->inv_in_ms;
  }
  for (uint32_t i = 0; i < g->n; i++) {
    node_t *n = &s->nodes[i];
    if (s->spy[i])
      continue;
    uint8_t in[24];
    nn_hash_t h;
    memcpy(in, "nnsimdl", 8);
    nn_be64_put(in + 8, s->cfg->seed);
    nn_be32_put(in + 16, s->pidx * NPROTO + (uint32_t)s->proto);
    nn_be32_put(in + 20, i);
    nn_sha3_256(&h, in, sizeof(in));
    nn_drbg_init(&n->drbg, h.b);
    n->rng = nn_drbg_rng(&n->drbg);
    cfg.rng = &n->rng;
    /* A network in steady state: each core's epoch began at a random point of the last
     * epoch length, so epochs end (and relays change) all through the run. */
    uint64_t born = t0 - rand_below(r, cfg.epoch_ms);
    if (nn_dl_new(&n->dl, &cfg, &io, born))
      return NN_ERR_NOMEM;
    for (uint32_t k = g->off[i]; k < g->off[i + 1]; k++)
      if (nn_dl_peer_add(n->dl, g->adj[k], g->out[k], t0))
        return NN_ERR_ARG; /* max_peers covers outbound + max_inbound: cannot happen */
  }
  return NN_OK;
}

static nn_err_t
run_one(sim_t *s, FILE *log)
{
  const char *name = proto_name[s->proto];
  const sim_dandelion_cfg_t *cfg = s->cfg;
  rand_t r;
  nn_err_t err;
  uint64_t t0 = T0_MS, end = t0 + cfg->spread_ms + HORIZON_MS, next_report = t0 + REPORT_MS;

  rand_init(&r, cfg->seed ^ ((uint64_t)s->pidx << 32) ^ (uint64_t)s->proto, "nnsim-dl-run");
  s->now = t0;
  s->nseen = 0;
  s->nheap = 0;
  s->seq = 0;
  memset(s->nodes, 0, s->g->n * sizeof(node_t));
  for (uint32_t i = 0; i < s->ntx; i++) {
    s->txs[i].guess = NONE;
    s->txs[i].seen_at = 0;
    s->txs[i].by_stem = 0;
  }
  if ((err = cores_new(s, t0, &r)))
    return err;
  for (uint32_t i = 0; i < s->g->n; i++)
    if (s->nodes[i].dl)
      schedule_tick(s, i);
  for (uint32_t i = 0; i < s->ntx; i++)
    push(s, (event_t){ .t = s->txs[i].submit_at, .kind = EV_SUBMIT, .node = s->txs[i].origin, .tx = i });

  while (s->nheap && s->nseen < s->ntx && s->heap[0].t <= end) {
    event_t e = pop(s);
    s->now = e.t;
    switch (e.kind) {
    case EV_SUBMIT: {
      uint8_t b[TX_LEN];
      tx_bytes(s, e.tx, b);
      s->cur = e.node;
      (void)nn_dl_submit(s->nodes[e.node].dl, b, TX_LEN, s->now);
      schedule_tick(s, e.node);
      break;
    }
    case EV_TICK: {
      node_t *n = &s->nodes[e.node];
      if (n->tick_at != e.t)
        break; /* superseded by an earlier deadline */
      n->tick_at = 0;
      s->cur = e.node;
      nn_dl_tick(n->dl, s->now);
      schedule_tick(s, e.node);
      break;
    }
    default: deliver(s, &e); break;
    }
    if (log && !cfg->quiet && s->now >= next_report) {
      fprintf(log, "\r  p=%.2f %-9s t=%5.1f min  %u/%u transactions seen by a spy, %llu messages   ", cfg->p[s->pidx],
              name, (double)(s->now - t0) / 60000.0, s->nseen, s->ntx, (unsigned long long)s->res->messages);
      fflush(log);
      next_report = s->now + REPORT_MS;
    }
  }

  /* Fanti et al.: precision is the mean over origins of (correct ? 1 / guesses naming the
   * origin : 0); recall is the fraction attributed correctly. */
  uint32_t *named = calloc(s->g->n, sizeof(uint32_t));
  if (!named)
    return NN_ERR_NOMEM;
  sim_dandelion_result_t *res = s->res;
  double psum = 0, tsum = 0;
  res->txs = s->ntx;
  for (uint32_t i = 0; i < s->ntx; i++)
    if (s->txs[i].guess != NONE)
      named[s->txs[i].guess]++;
  for (uint32_t i = 0; i < s->ntx; i++) {
    const tx_t *t = &s->txs[i];
    if (t->guess == NONE)
      continue;
    res->seen++;
    res->by_stem += t->by_stem;
    tsum += (double)(t->seen_at - t->submit_at);
    if (t->guess == t->origin) {
      res->correct++;
      psum += 1.0 / named[t->origin];
    }
  }
  free(named);
  res->precision = s->ntx ? psum / s->ntx : 0;
  res->recall = s->ntx ? (double)res->correct / s->ntx : 0;
  res->mean_first_ms = res->seen ? tsum / res->seen : 0;
  for (uint32_t i = 0; i < s->g->n; i++) {
    if (!s->nodes[i].dl)
      continue;
    nn_dl_stats_t st;
    nn_dl_stats(s->nodes[i].dl, &st);
    res->epochs += st.epochs;
    res->fluff_epochs += st.fluff_epochs;
    nn_dl_free(s->nodes[i].dl);
    s->nodes[i].dl = NULL;
  }
  if (log && !cfg->quiet)
    fprintf(log, "\r  p=%.2f %-9s precision %.4f  recall %.4f  (%u/%u seen, %llu messages, %llu dropped)%20s\n",
            cfg->p[s->pidx], name, res->precision, res->recall, res->seen, res->txs, (unsigned long long)res->messages,
            (unsigned long long)res->dropped, "");
  return NN_OK;
}

/* ---- the graph ---- */

static void
graph_free(graph_t *g)
{
  free(g->region);
  free(g->off);
  free(g->adj);
  free(g->out);
}

/* Every node dials `outbound` distinct random peers that still accept inbound connections. */
static nn_err_t
graph_build(graph_t *g, const sim_dandelion_cfg_t *cfg, rand_t *r)
{
  uint32_t n = cfg->nodes, d = cfg->outbound;
  uint32_t *ea = malloc((size_t)n * d * sizeof(uint32_t)), *eb = malloc((size_t)n * d * sizeof(uint32_t));
  uint32_t *deg = calloc(n, sizeof(uint32_t)), *inb = calloc(n, sizeof(uint32_t));
  uint32_t **lst = calloc(n, sizeof(uint32_t *));
  uint32_t *cap = calloc(n, sizeof(uint32_t));
  nn_err_t err = NN_ERR_NOMEM;
  memset(g, 0, sizeof(*g));
  g->n = n;
  g->region = malloc(n);
  g->off = calloc((size_t)n + 1, sizeof(uint32_t));
  if (!ea || !eb || !deg || !inb || !lst || !cap || !g->region || !g->off)
    goto out;
  for (uint32_t i = 0; i < n; i++)
    g->region[i] = sim_region_pick((uint32_t)rand64(r));
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t k = 0, tries = 0; k < d && tries < 1000; tries++) {
      uint32_t j = rand_below(r, n), dup = 0;
      if (j == i || inb[j] >= cfg->max_inbound)
        continue;
      for (uint32_t x = 0; x < deg[i] && !dup; x++)
        dup = lst[i][x] == j;
      if (dup)
        continue;
      uint32_t ends[2] = { i, j };
      for (int e = 0; e < 2; e++) {
        uint32_t v = ends[e];
        if (deg[v] == cap[v]) {
          uint32_t nc = cap[v] ? 2 * cap[v] : 16;
          uint32_t *nl = realloc(lst[v], nc * sizeof(uint32_t));
          if (!nl)
            goto out;
          lst[v] = nl;
          cap[v] = nc;
        }
        lst[v][deg[v]++] = ends[1 - e];
      }
      inb[j]++;
      ea[g->edges] = i;
      eb[g->edges] = j;
      g->edges++;
      k++;
    }
  }
  /* Adjacency in connection order, with the direction each side sees. */
  for (uint32_t i = 0; i < n; i++)
    g->off[i + 1] = g->off[i] + deg[i];
  g->adj = malloc((size_t)g->off[n] * sizeof(uint32_t) + 1);
  g->out = malloc((size_t)g->off[n] + 1);
  if (!g->adj || !g->out)
    goto out;
  memset(deg, 0, n * sizeof(uint32_t));
  for (uint32_t e = 0; e < g->edges; e++) {
    uint32_t a = ea[e], b = eb[e];
    g->adj[g->off[a] + deg[a]] = b;
    g->out[g->off[a] + deg[a]++] = 1;
    g->adj[g->off[b] + deg[b]] = a;
    g->out[g->off[b] + deg[b]++] = 0;
  }
  err = NN_OK;
out:
  if (lst)
    for (uint32_t i = 0; i < n; i++)
      free(lst[i]);
  free(lst);
  free(cap);
  free(ea);
  free(eb);
  free(deg);
  free(inb);
  return err;
}

/* ---- output ---- */

static nn_err_t
write_csv(const sim_dandelion_cfg_t *cfg, const sim_dandelion_stats_t *st)
{
  FILE *f = fopen(cfg->csv, "w");
  if (!f)
    return NN_ERR_IO;
  /* Columns 4-9 are what the PNG plots (write_png). flooding = Neptune today (no INV delay),
   * diffusion = Bitcoin-style random INV delays; the ratios are D++ precision over each. */
  fprintf(f, "p,spies,txs,dandelion_precision,dandelion_recall,flooding_precision,flooding_recall,"
             "diffusion_precision,diffusion_recall,precision_ratio_flooding,precision_ratio_diffusion,"
             "p_squared,dandelion_seen,flooding_seen,diffusion_seen,dandelion_first_seen_in_stem,"
             "dandelion_mean_first_spy_ms,flooding_mean_first_spy_ms,diffusion_mean_first_spy_ms,"
             "dandelion_messages,flooding_messages,diffusion_messages\n");
  for (uint32_t i = 0; i < st->np; i++) {
    const sim_dandelion_result_t *d = &st->dandelion[i], *fl = &st->flooding[i], *df = &st->diffusion[i];
    fprintf(f, "%.4f,%u,%u,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%u,%u,%u,%u,%.0f,%.0f,%.0f,%llu,%llu,%llu\n",
            st->p[i], st->spies[i], d->txs, d->precision, d->recall, fl->precision, fl->recall, df->precision,
            df->recall, fl->precision > 0 ? d->precision / fl->precision : 0.0,
            df->precision > 0 ? d->precision / df->precision : 0.0, st->p[i] * st->p[i], d->seen, fl->seen, df->seen,
            d->by_stem, d->mean_first_ms, fl->mean_first_ms, df->mean_first_ms, (unsigned long long)d->messages,
            (unsigned long long)fl->messages, (unsigned long long)df->messages);
  }
  return fclose(f) ? NN_ERR_IO : NN_OK;
}

static int
write_png(const sim_dandelion_cfg_t *cfg, const sim_dandelion_stats_t *st)
{
  double pmax = 0;
  if (system("command -v gnuplot >/dev/null 2>&1") != 0)
    return 0; /* not installed: the CSV holds the numbers */
  for (uint32_t i = 0; i < st->np; i++)
    if (st->p[i] > pmax)
      pmax = st->p[i];
  FILE *gp = popen("gnuplot", "w");
  if (!gp)
    return -1;
  /* Precision solid, recall dashed; one colour per protocol; the legend below the plot, so no
   * line runs under it. */
  fprintf(gp, "set terminal pngcairo size 960,680 font ',11'\nset output '%s'\n", cfg->png);
  fprintf(gp,
          "set title \"First-spy attack: %u nodes, %u outbound, q = %.2f, embargo %u + exp(%u) ms, "
          "INV delay exp(%u/%u) ms\"\n",
          cfg->nodes, cfg->outbound, cfg->q, cfg->embargo_base_ms, cfg->embargo_mean_ms, cfg->inv_out_ms,
          cfg->inv_in_ms);
  fprintf(gp, "set xlabel 'fraction of spies p'\nset ylabel 'precision (solid) / recall (dashed)'\nset grid\n");
  fprintf(gp,
          "set key below horizontal maxcols 2 Left reverse width -4 samplen 3\n"
          "set datafile separator ','\nset xrange [0:%.3f]\nset yrange [0:1]\n",
          pmax * 1.1);
  fprintf(
    gp,
    "plot '%s' every ::1 using 1:4 with linespoints lw 2 pt 7 lc rgb '#1b7837' title 'Dandelion++ precision', \\\n"
    " '' every ::1 using 1:5 with linespoints lw 2 pt 5 dt 2 lc rgb '#1b7837' title 'Dandelion++ recall', \\\n"
    " '' every ::1 using 1:6 with linespoints lw 2 pt 7 lc rgb '#b2182b' title 'flooding (Neptune today, no delay) "
    "precision', \\\n"
    " '' every ::1 using 1:7 with linespoints lw 2 pt 5 dt 2 lc rgb '#b2182b' title 'flooding (Neptune today, no "
    "delay) recall', \\\n"
    " '' every ::1 using 1:8 with linespoints lw 2 pt 7 lc rgb '#2166ac' title 'diffusion (Bitcoin, random delays) "
    "precision', \\\n"
    " '' every ::1 using 1:9 with linespoints lw 2 pt 5 dt 2 lc rgb '#2166ac' title 'diffusion (Bitcoin, random "
    "delays) recall', \\\n"
    " x**2 with lines lw 1.5 dt 3 lc rgb 'gray40' title 'p^2 (floor for any routing)'\n",
    cfg->csv);
  return pclose(gp) == 0 ? 1 : -1;
}

/* ---- entry ---- */

void
sim_dandelion_cfg_default(sim_dandelion_cfg_t *cfg)
{
  static const double p[] = { 0.05, 0.1, 0.2, 0.3 };
  memset(cfg, 0, sizeof(*cfg));
  cfg->nodes = 10000;
  cfg->outbound = 8;
  cfg->max_inbound = 125;
  cfg->q = 0.1;
  cfg->np = 4;
  memcpy(cfg->p, p, sizeof(p));
  cfg->spread_ms = 300000;
  /* nepnetd's balanced preset (src/node/config.c), so the simulator runs what a node runs. */
  cfg->inv_out_ms = 1000;
  cfg->inv_in_ms = 2500;
  cfg->embargo_base_ms = 5000;
  cfg->embargo_mean_ms = 12000;
  cfg->seed = 1;
}

static int
cfg_ok(const sim_dandelion_cfg_t *cfg)
{
  if (cfg->nodes < 100 || cfg->nodes > 1000000 || cfg->outbound < 1 || cfg->outbound > 32 ||
      cfg->max_inbound < cfg->outbound || cfg->outbound + cfg->max_inbound > 1024 || cfg->nodes <= 2 * cfg->outbound ||
      !(cfg->q >= 0.05 && cfg->q <= 0.5) || cfg->np < 1 || cfg->np > SIM_DANDELION_MAX_P || cfg->inv_out_ms > 600000 ||
      cfg->inv_in_ms > 600000 || cfg->embargo_base_ms > 3600000 || cfg->embargo_mean_ms < 1 ||
      cfg->embargo_mean_ms > 3600000)
    return 0;
  for (uint32_t i = 0; i < cfg->np; i++)
    if (!(cfg->p[i] > 0 && cfg->p[i] <= 0.9) || (uint32_t)(cfg->p[i] * cfg->nodes + 0.5) < 1)
      return 0;
  return 1;
}

nn_err_t
sim_dandelion_run(const sim_dandelion_cfg_t *cfg, sim_dandelion_stats_t *out, FILE *log)
{
  uint64_t t0_us;
  graph_t g;
  rand_t r;
  sim_t s;
  nn_err_t err = NN_ERR_NOMEM;
  uint32_t n = cfg->nodes;

  t0_us = nn_mono_us();
  memset(out, 0, sizeof(*out));
  if (!cfg_ok(cfg))
    return NN_ERR_ARG;
  memset(&s, 0, sizeof(s));
  s.cfg = cfg;
  s.g = &g;
  if ((err = sim_latency_init(&s.rtts, cfg->seed)))
    return err;
  rand_init(&r, cfg->seed, "nnsim-dl-graph");
  if (graph_build(&g, cfg, &r)) {
    graph_free(&g);
    sim_latency_free(&s.rtts);
    return NN_ERR_NOMEM;
  }
  out->edges = g.edges;
  out->mean_degree = 2.0 * g.edges / n;
  if (log && !cfg->quiet)
    fprintf(log,
            "sim dandelion: %u nodes, %u connections (mean degree %.1f), q %.2f, embargo %u + exp(%u) ms, "
            "INV delay exp(%u) ms out / exp(%u) ms in, seed %llu\n",
            n, g.edges, out->mean_degree, cfg->q, cfg->embargo_base_ms, cfg->embargo_mean_ms, cfg->inv_out_ms,
            cfg->inv_in_ms, (unsigned long long)cfg->seed);

  /* Spies: a random order of the nodes; at each p the first p*N of it, so a larger p adds spies
   * to the smaller p's set. */
  uint32_t *order = malloc(n * sizeof(uint32_t)), *honest = malloc(n * sizeof(uint32_t));
  uint8_t *spy = malloc(n);
  s.nodes = calloc(n, sizeof(node_t));
  s.txs = calloc(n, sizeof(tx_t));
  for (s.idxcap = 1; s.idxcap < 2ull * n; s.idxcap <<= 1)
    ;
  s.idx = malloc(s.idxcap * sizeof(uint32_t));
  if (!order || !honest || !spy || !s.nodes || !s.txs || !s.idx)
    goto done;
  for (uint32_t i = 0; i < n; i++)
    order[i] = i;
  for (uint32_t i = n - 1; i > 0; i--) {
    uint32_t j = rand_below(&r, i + 1), x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  s.spy = spy;
  out->np = cfg->np;
  for (uint32_t pi = 0; pi < cfg->np; pi++) {
    uint32_t nspy = (uint32_t)(cfg->p[pi] * n + 0.5), nh = 0;
    if (nspy >= n)
      nspy = n - 1;
    out->p[pi] = cfg->p[pi];
    out->spies[pi] = nspy;
    memset(spy, 0, n);
    for (uint32_t i = 0; i < nspy; i++)
      spy[order[i]] = 1;
    for (uint32_t i = 0; i < n; i++)
      if (!spy[i])
        honest[nh++] = i;
    /* Origins: every honest node, or a random sample of them; the same transactions, times and
     * ids for the three protocols. */
    rand_t rt;
    rand_init(&rt, cfg->seed ^ ((uint64_t)pi << 40), "nnsim-dl-txs");
    uint32_t ntx = cfg->txs && cfg->txs < nh ? cfg->txs : nh;
    for (uint32_t i = 0; i < ntx && ntx < nh; i++) {
      uint32_t j = i + rand_below(&rt, nh - i), x = honest[i];
      honest[i] = honest[j];
      honest[j] = x;
    }
    s.ntx = ntx;
    s.pidx = pi;
    memset(s.idx, 0xff, s.idxcap * sizeof(uint32_t));
    for (uint32_t i = 0; i < ntx; i++) {
      tx_t *t = &s.txs[i];
      uint8_t b[TX_LEN];
      memset(t, 0, sizeof(*t));
      t->origin = honest[i];
      t->submit_at = T0_MS + 1 + rand_below(&rt, cfg->spread_ms);
      tx_bytes(&s, i, b);
      nn_sha3_256(&t->id, b, TX_LEN);
      size_t h = (size_t)nn_be64_get(t->id.b) & (s.idxcap - 1);
      while (s.idx[h] != NONE)
        h = (h + 1) & (s.idxcap - 1);
      s.idx[h] = i;
    }
    for (int proto = 0; proto < NPROTO; proto++) {
      s.proto = proto;
      s.res = proto == PROTO_DANDELION  ? &out->dandelion[pi]
              : proto == PROTO_FLOODING ? &out->flooding[pi]
                                        : &out->diffusion[pi];
      if ((err = run_one(&s, log))) {
        for (uint32_t i = 0; i < n; i++)
          nn_dl_free(s.nodes[i].dl);
        goto done;
      }
    }
  }
  err = NN_OK;
  if (cfg->csv) {
    /* the results stand even when the file cannot be written: the caller still has them */
    err = write_csv(cfg, out);
    if (!err && cfg->png)
      out->png_written = write_png(cfg, out);
  }
done:
  free(order);
  free(honest);
  free(spy);
  free(s.nodes);
  free(s.txs);
  free(s.idx);
  free(s.heap);
  graph_free(&g);
  sim_latency_free(&s.rtts);
  out->wall_s = (double)(nn_mono_us() - t0_us) / 1e6;
  return err;
}
