/*
 * `nepnet sim mixnet` (sim_mixnet.h): clients' Poisson streams through a stratified network of
 * Poisson mixes in virtual time, and Loopix's pool estimate of who sent each transaction.
 *
 * A mix's pool is a distribution over the clients, the mean of those of the packets that entered
 * since the mix was last empty. It is kept as c * w (a scale and a vector) so that a packet from
 * a client, one-hot, costs O(1); a packet from a mix adds that mix's vector, O(clients).
 */
#define _POSIX_C_SOURCE 200809L
#include "sim/sim_mixnet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "lib/clock.h"
#include "lib/wire.h"
#include "mixnet/client.h"
#include "mixnet/frag.h"
#include "mixnet/sphinx.h"

#define NONE UINT32_MAX
#define MAX_DELAY_US 60000000ull /* the client's cap: longer draws are drawn again */
#define STEP_US 1000ull          /* the client's streams wait at least 1 ms more than drawn */
#define MAX_RUN_S 86400.0        /* a run stops here even if a transaction is still out */

enum { EV_PAYLOAD, EV_LOOP, EV_SUBMIT, EV_DEPART };

typedef struct ev_t {
  uint64_t t, seq;
  uint32_t a; /* client (PAYLOAD, LOOP), transaction (SUBMIT) or mix (DEPART) */
  uint32_t b; /* DEPART: the transaction a fragment belongs to, NONE for cover and loops */
  uint8_t kind;
  uint8_t layer; /* DEPART: the layer of mix a */
} ev_t;

/* The simulator's draws, buffered from a seeded DRBG (one SHAKE call per 512 draws). Never
 * moved after srand_init (rng points into it). */
typedef struct srand_t {
  nn_drbg_t drbg;
  nn_rng_t rng;
  uint8_t buf[4096];
  size_t pos;
} srand_t;

typedef struct pool_t {
  double c;   /* the pool's distribution is c * w */
  double *w;  /* one weight per client */
  uint32_t n; /* packets inside */
} pool_t;

typedef struct client_t {
  uint64_t next_payload, next_loop;
  uint32_t queued; /* fragments waiting */
  uint32_t msg;    /* the transaction they belong to, NONE */
} client_t;

typedef struct msg_t {
  uint32_t sender, size_idx, frags, data, delivered;
  uint64_t submit_at, done_at; /* queued; k-th fragment at the exit */
  double h_packet_sum;
  double p_packet_sum, coll_packet_sum; /* per fragment: P(true sender), sum of P^2 */
  double h_last, p_last;                /* the fragment that completed the transaction: its entropy, P(sender) */
  double *logp;                         /* per client: sum over delivered fragments of log P(client) */
  uint8_t *ruled_out;                   /* a fragment gave the client probability 0 */
} msg_t;

typedef struct run_t {
  const sim_mixnet_cfg_t *cfg;
  const sim_mixnet_cover_t *cover;
  uint32_t layers, per_layer, n; /* n: clients */
  uint64_t delay_us;
  srand_t r;
  ev_t *heap;
  size_t nheap, capheap;
  uint64_t seq, now, events;
  pool_t *pools; /* layers * per_layer, layer by layer */
  client_t *clients;
  msg_t *msgs;
  uint32_t nmsgs, done;
  uint64_t arrivals, measure_from;
  double *scratch;
  uint32_t dim;     /* the pools' vectors: one weight per client (or per target, reference) */
  uint64_t step_us; /* the client's extra wait per stream event (STEP_US; 0 in the reference) */
  uint64_t proc_us; /* added to each hop's delay (0; the reference's Sphinx processing) */
  /* --model reference: targets queued at client 0, sent in order; per target, the entropy of
   * where its mass left the network */
  int ref;
  uint32_t ref_next, ref_queued;
  double *ref_h;
} run_t;

/* ---- randomness ---- */

static void
srand_init(srand_t *r, uint64_t seed, const char *label, uint64_t run)
{
  uint8_t in[80];
  size_t l = strlen(label);
  nn_hash_t h;
  if (l > sizeof(in) - 16)
    l = sizeof(in) - 16;
  memcpy(in, label, l);
  nn_be64_put(in + l, seed);
  nn_be64_put(in + l + 8, run);
  nn_sha3_256(&h, in, l + 16);
  nn_drbg_init(&r->drbg, h.b);
  r->rng = nn_drbg_rng(&r->drbg);
  r->pos = sizeof(r->buf);
}

static uint64_t
srand64(srand_t *r)
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

static uint32_t
below(srand_t *r, uint32_t n)
{
  return n ? (uint32_t)(srand64(r) % n) : 0;
}

/* Exponential of mean \a mean_us, from 53 random bits in (0, 1]. */
static uint64_t
exp_us(srand_t *r, double mean_us)
{
  double u = (double)((srand64(r) >> 11) + 1) / 9007199254740992.0;
  double v = -log(u) * mean_us;
  return v >= 1e15 ? (uint64_t)1e15 : (uint64_t)v;
}

/* The client's next stream event after \a at at \a rate per second. */
static uint64_t
next_event(run_t *s, double rate, uint64_t at)
{
  return rate > 0 ? at + s->step_us + exp_us(&s->r, 1e6 / rate) : UINT64_MAX;
}

/* ---- events (binary heap on (t, seq)) ---- */

static int
ev_less(const ev_t *a, const ev_t *b)
{
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int
push(run_t *s, ev_t e)
{
  if (s->nheap == s->capheap) {
    size_t cap = s->capheap ? 2 * s->capheap : 4096;
    ev_t *h = realloc(s->heap, cap * sizeof(ev_t));
    if (!h)
      return -1;
    s->heap = h;
    s->capheap = cap;
  }
  e.seq = s->seq++;
  size_t i = s->nheap++;
  while (i) {
    size_t p = (i - 1) / 2;
    if (!ev_less(&e, &s->heap[p]))
      break;
    s->heap[i] = s->heap[p];
    i = p;
  }
  s->heap[i] = e;
  return 0;
}

static ev_t
pop(run_t *s)
{
  ev_t top = s->heap[0], last = s->heap[--s->nheap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < s->nheap && ev_less(&s->heap[l], &last))
      m = l;
    if (l + 1 < s->nheap && ev_less(&s->heap[l + 1], m == i ? &last : &s->heap[l]))
      m = l + 1;
    if (m == i)
      break;
    s->heap[i] = s->heap[m];
    i = m;
  }
  if (s->nheap)
    s->heap[i] = last;
  return top;
}

/* ---- pools ---- */

static void
pool_renorm(pool_t *p, uint32_t n)
{
  if (p->c > 1e-150)
    return;
  for (uint32_t i = 0; i < n; i++)
    p->w[i] *= p->c;
  p->c = 1;
}

/* A packet that came straight from a client enters \a p, with the one-hot vector of \a from, or
 * the zero vector for NONE (the reference's packets that are no target). */
static void
pool_add_client(pool_t *p, uint32_t n, uint32_t from)
{
  if (!p->n) {
    memset(p->w, 0, n * sizeof(double));
    p->c = 1;
    if (from != NONE)
      p->w[from] = 1;
  } else {
    p->c *= (double)p->n / (p->n + 1.0);
    if (from != NONE)
      p->w[from] += 1.0 / ((p->n + 1.0) * p->c);
    pool_renorm(p, n);
  }
  p->n++;
}

/* A packet that left pool \a src (carrying its distribution) enters \a p. */
static void
pool_add_pool(pool_t *p, uint32_t n, const pool_t *src)
{
  if (!p->n) {
    memcpy(p->w, src->w, n * sizeof(double));
    p->c = src->c;
  } else {
    p->c *= (double)p->n / (p->n + 1.0);
    double k = src->c / ((p->n + 1.0) * p->c);
    for (uint32_t i = 0; i < n; i++)
      p->w[i] += k * src->w[i];
    pool_renorm(p, n);
  }
  p->n++;
}

/* ---- packets ---- */

/* A packet enters a random mix of \a layer: from a client (with the one-hot vector of
 * \a onehot, or zero for NONE) or from the pool \a from_pool it left. */
static int
enter_mix(run_t *s, uint32_t layer, uint32_t msg, uint32_t onehot, const pool_t *from_pool)
{
  uint32_t per = s->per_layer, mix = layer * per + below(&s->r, per);
  uint64_t d;
  if (from_pool)
    pool_add_pool(&s->pools[mix], s->dim, from_pool);
  else
    pool_add_client(&s->pools[mix], s->dim, onehot);
  if (s->now >= s->measure_from)
    s->arrivals++;
  do
    d = exp_us(&s->r, (double)s->delay_us);
  while (d > MAX_DELAY_US);
  ev_t e = { .t = s->now + d + s->proc_us, .a = mix, .b = msg, .kind = EV_DEPART, .layer = (uint8_t)layer };
  return push(s, e);
}

static double
entropy_bits(const double *p, uint32_t n)
{
  double h = 0;
  for (uint32_t i = 0; i < n; i++)
    if (p[i] > 0)
      h -= p[i] * log2(p[i]);
  return h;
}

/* A fragment of transaction \a m reaches its exit, carrying pool \a p's distribution. */
static void
fragment_at_exit(run_t *s, msg_t *m, const pool_t *p)
{
  double sum = 0, *q = s->scratch;
  for (uint32_t i = 0; i < s->n; i++)
    sum += p->w[i];
  for (uint32_t i = 0; i < s->n; i++) {
    q[i] = p->w[i] / sum;
    if (q[i] > 0)
      m->logp[i] += log(q[i]);
    else
      m->ruled_out[i] = 1;
  }
  double h = entropy_bits(q, s->n), coll = 0;
  for (uint32_t i = 0; i < s->n; i++)
    coll += q[i] * q[i];
  m->h_packet_sum += h;
  m->p_packet_sum += q[m->sender];
  m->coll_packet_sum += coll;
  if (++m->delivered == m->data) {
    m->done_at = s->now;
    m->h_last = h;
    m->p_last = q[m->sender];
  }
  if (m->delivered == m->frags)
    s->done++;
}

static int
depart(run_t *s, const ev_t *e)
{
  pool_t *p = &s->pools[e->a];
  p->n--;
  if (e->layer + 1u < s->layers)
    return enter_mix(s, e->layer + 1u, e->b, NONE, p);
  if (s->ref) /* every packet leaving the network is where a target may have gone */
    for (uint32_t i = 0; i < s->dim; i++) {
      double q = p->c * p->w[i];
      if (q > 0)
        s->ref_h[i] -= q * log2(q);
    }
  else if (e->b != NONE) /* to its exit; cover and loops leave the model here */
    fragment_at_exit(s, &s->msgs[e->b], p);
  return 0;
}

static int
payload_event(run_t *s, uint32_t ci, uint64_t at)
{
  client_t *c = &s->clients[ci];
  const sim_mixnet_cover_t *cv = s->cover;
  int burst = c->queued && cv->burst_rate > cv->payload_rate;
  uint32_t msg = NONE;
  c->next_payload = next_event(s, burst ? cv->burst_rate : cv->payload_rate, at);
  if (s->ref) {
    uint32_t target = NONE;
    if (ci == 0 && s->ref_queued) {
      target = s->ref_next++;
      s->ref_queued--;
    }
    ev_t e = { .t = c->next_payload, .a = ci, .kind = EV_PAYLOAD };
    return push(s, e) || enter_mix(s, 0, NONE, target, NULL);
  }
  if (c->queued) {
    msg = c->msg;
    if (!--c->queued)
      c->msg = NONE;
  }
  ev_t e = { .t = c->next_payload, .a = ci, .kind = EV_PAYLOAD };
  if (push(s, e))
    return -1;
  return enter_mix(s, 0, msg, ci, NULL);
}

static int
submit(run_t *s, uint32_t mi)
{
  msg_t *m = &s->msgs[mi];
  client_t *c = &s->clients[m->sender];
  const sim_mixnet_cover_t *cv = s->cover;
  m->submit_at = s->now;
  c->msg = mi;
  c->queued = m->frags;
  /* The burst starts at once (client.c): a stream of rate burst - payload joins the payload
   * stream, whose next event stays where it was. */
  if (cv->burst_rate > cv->payload_rate) {
    uint64_t b = next_event(s, cv->burst_rate - cv->payload_rate, s->now);
    if (b < c->next_payload) {
      c->next_payload = b;
      ev_t e = { .t = b, .a = m->sender, .kind = EV_PAYLOAD };
      return push(s, e);
    }
  }
  return 0;
}

/* ---- one setting ---- */

static void
run_free(run_t *s, uint32_t mixes)
{
  if (s->pools)
    for (uint32_t i = 0; i < mixes; i++)
      free(s->pools[i].w);
  free(s->pools);
  if (s->msgs)
    for (uint32_t i = 0; i < s->nmsgs; i++) {
      free(s->msgs[i].logp);
      free(s->msgs[i].ruled_out);
    }
  free(s->msgs);
  free(s->clients);
  free(s->heap);
  free(s->scratch);
}

static uint32_t
fragments_of(const sim_mixnet_cfg_t *cfg, uint32_t size, uint32_t *data)
{
  nn_sphinx_geom_t g;
  (void)nn_sphinx_geom_init(&g, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN);
  size_t k = nn_frag_data_count(g.body_len, size);
  size_t n = k + (size_t)ceil((double)k * cfg->redundancy);
  if (n > NN_FRAG_MAX_TOTAL)
    n = NN_FRAG_MAX_TOTAL;
  *data = (uint32_t)k;
  return (uint32_t)n;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The rows of one (layers, cover, delay): one per size. */
static void
score(run_t *s, sim_mixnet_row_t *rows, double duration_s)
{
  const sim_mixnet_cfg_t *cfg = s->cfg;
  double *lat = malloc(s->nmsgs * sizeof(double));
  uint32_t mixes = s->layers * cfg->per_layer;
  double lambda = duration_s > 0 ? (double)s->arrivals / mixes / duration_s : 0;
  for (uint32_t z = 0; z < cfg->nsizes; z++) {
    sim_mixnet_row_t *row = &rows[z];
    uint32_t nl = 0, frags = 0, data = 0;
    double hp = 0, hm = 0, hmin = INFINITY, pt = 0, top = 0, lsum = 0, hl = 0, pl = 0, pp = 0, cp = 0;
    frags = fragments_of(cfg, cfg->sizes[z], &data);
    for (uint32_t i = 0; i < s->nmsgs; i++) {
      msg_t *m = &s->msgs[i];
      if (m->size_idx != z || m->delivered < m->frags)
        continue;
      /* The combined distribution: exp(logp - max), over the clients no fragment ruled out. */
      double mx = -INFINITY, sum = 0, *q = s->scratch;
      for (uint32_t c = 0; c < s->n; c++)
        if (!m->ruled_out[c] && m->logp[c] > mx)
          mx = m->logp[c];
      for (uint32_t c = 0; c < s->n; c++) {
        q[c] = m->ruled_out[c] ? 0 : exp(m->logp[c] - mx);
        sum += q[c];
      }
      uint32_t ties = 0;
      for (uint32_t c = 0; c < s->n; c++) {
        q[c] /= sum;
        if (!m->ruled_out[c] && m->logp[c] == mx)
          ties++;
      }
      double h = entropy_bits(q, s->n);
      hp += m->h_packet_sum / m->frags;
      pp += m->p_packet_sum / m->frags;
      cp += m->coll_packet_sum / m->frags;
      hl += m->h_last;
      pl += m->p_last;
      hm += h;
      if (h < hmin)
        hmin = h;
      pt += q[m->sender];
      if (!m->ruled_out[m->sender] && m->logp[m->sender] == mx)
        top += 1.0 / ties;
      lat[nl] = (double)(m->done_at - m->submit_at) / 1e6;
      lsum += lat[nl++];
    }
    row->layers = s->layers;
    row->delay_ms = (uint32_t)(s->delay_us / 1000);
    row->size = cfg->sizes[z];
    row->fragments = frags;
    row->messages = nl;
    row->cover = *s->cover;
    row->cover_bytes_s = (s->cover->payload_rate + s->cover->loop_rate) * NN_SPHINX_DEFAULT_LEN;
    row->lambda_mix = lambda;
    row->pool = lambda * (double)s->delay_us / 1e6;
    if (nl) {
      qsort(lat, nl, sizeof(double), cmp_double);
      row->h_packet = hp / nl;
      row->h_msg = hm / nl;
      row->h_msg_min = hmin;
      row->p_true = pt / nl;
      row->h_observer = hl / nl;
      row->p_true_packet = pp / nl;
      row->collision_packet = cp / nl;
      row->p_true_observer = pl / nl;
      row->top1 = top / nl;
      row->lat_mean_s = lsum / nl;
      row->lat_p95_s = lat[(uint32_t)ceil(0.95 * nl) - 1];
    }
  }
  free(lat);
}

/* Pools for \a mixes mixes of \a dim weights, \a n clients whose streams start at 0. */
static int
run_setup(run_t *s, uint32_t mixes, uint32_t dim, uint32_t n)
{
  s->dim = dim;
  s->n = n;
  s->pools = calloc(mixes, sizeof(pool_t));
  s->clients = calloc(n, sizeof(client_t));
  s->scratch = malloc((dim > n ? dim : n) * sizeof(double));
  if (!s->pools || !s->clients || !s->scratch)
    return -1;
  for (uint32_t i = 0; i < mixes; i++) {
    s->pools[i].c = 1;
    if (!(s->pools[i].w = calloc(dim, sizeof(double))))
      return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    client_t *c = &s->clients[i];
    c->msg = NONE;
    c->next_payload = next_event(s, s->cover->payload_rate, 0);
    c->next_loop = next_event(s, s->cover->loop_rate, 0);
    ev_t p = { .t = c->next_payload, .a = i, .kind = EV_PAYLOAD };
    ev_t l = { .t = c->next_loop, .a = i, .kind = EV_LOOP };
    if ((c->next_payload != UINT64_MAX && push(s, p)) || (c->next_loop != UINT64_MAX && push(s, l)))
      return -1;
  }
  return 0;
}

/* Run events up to \a stop (or until every transaction is in, in the sender model). */
static int
run_events(run_t *s, uint64_t stop)
{
  while (s->nheap && (s->ref || s->done < s->nmsgs)) {
    ev_t e = pop(s);
    if (e.t > stop)
      break;
    s->now = e.t;
    s->events++;
    int rc = 0;
    switch (e.kind) {
    case EV_PAYLOAD:
      if (e.t == s->clients[e.a].next_payload) /* else moved earlier by a burst: stale */
        rc = payload_event(s, e.a, e.t);
      break;
    case EV_LOOP: {
      client_t *c = &s->clients[e.a];
      c->next_loop = next_event(s, s->cover->loop_rate, e.t);
      ev_t l = { .t = c->next_loop, .a = e.a, .kind = EV_LOOP };
      rc = push(s, l) || enter_mix(s, 0, NONE, s->ref ? NONE : e.a, NULL);
      break;
    }
    case EV_SUBMIT:
      if (s->ref)
        s->ref_queued++;
      else
        rc = submit(s, e.a);
      break;
    case EV_DEPART: rc = depart(s, &e); break;
    }
    if (rc)
      return -1;
  }
  return 0;
}

static nn_err_t
run_one(const sim_mixnet_cfg_t *cfg, uint32_t layers, const sim_mixnet_cover_t *cover, uint32_t delay_ms,
        uint64_t run_id, sim_mixnet_row_t *rows, uint64_t *events)
{
  run_t s;
  uint32_t n = cfg->clients, mixes = layers * cfg->per_layer, *order = NULL;
  nn_err_t err = NN_ERR_NOMEM;
  memset(&s, 0, sizeof(s));
  s.cfg = cfg;
  s.cover = cover;
  s.layers = layers;
  s.per_layer = cfg->per_layer;
  s.step_us = STEP_US;
  s.delay_us = (uint64_t)delay_ms * 1000;
  s.nmsgs = cfg->messages * cfg->nsizes;
  srand_init(&s.r, cfg->seed, "nnsim-mix", run_id);
  if (!(s.msgs = calloc(s.nmsgs, sizeof(msg_t))) || run_setup(&s, mixes, n, n) ||
      !(order = malloc(n * sizeof(uint32_t))))
    goto out;

  /* Transactions at random times, from distinct clients (a partial Fisher-Yates: the first
   * nmsgs of order are the senders). */
  for (uint32_t i = 0; i < n; i++)
    order[i] = i;
  for (uint32_t i = 0; i < s.nmsgs; i++) {
    uint32_t j = i + below(&s.r, n - i), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  s.measure_from = (uint64_t)(cfg->warmup_s * 1e6);
  double window_s = cfg->tx_interval_s * s.nmsgs;
  for (uint32_t i = 0; i < s.nmsgs; i++) {
    msg_t *m = &s.msgs[i];
    m->sender = order[i];
    m->size_idx = i % cfg->nsizes;
    m->frags = fragments_of(cfg, cfg->sizes[m->size_idx], &m->data);
    m->logp = calloc(n, sizeof(double));
    m->ruled_out = calloc(n, 1);
    ev_t e = { .t = s.measure_from + (uint64_t)(srand64(&s.r) % (uint64_t)(window_s * 1e6 + 1)),
               .a = i,
               .kind = EV_SUBMIT };
    if (!m->logp || !m->ruled_out || push(&s, e))
      goto out;
  }
  if (run_events(&s, (uint64_t)(MAX_RUN_S * 1e6)))
    goto out;
  score(&s, rows, s.now > s.measure_from ? (double)(s.now - s.measure_from) / 1e6 : 0);
  *events += s.events;
  err = NN_OK;
out:
  free(order);
  run_free(&s, mixes);
  return err;
}

/* ---- the reference model (the Loopix simulator's setting and metric) ---- */

void
sim_mixnet_ref_cfg_default(sim_mixnet_ref_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->clients = 100;
  cfg->layers = 3;
  cfg->per_layer = 3;
  cfg->targets = 1000;
  cfg->rate = 1;
  cfg->cover_rate = 0;
  cfg->gap_s = 1;
  cfg->burnin_s = 100;
  cfg->cooldown_s = 200;
  cfg->delay_ms = 100;
  cfg->proc_us = 386;
  cfg->seed = 1;
}

nn_err_t
sim_mixnet_ref_run(const sim_mixnet_ref_cfg_t *cfg, sim_mixnet_ref_result_t *out)
{
  run_t s;
  sim_mixnet_cover_t cover;
  uint32_t mixes = cfg->layers * cfg->per_layer;
  nn_err_t err = NN_ERR_NOMEM;
  memset(out, 0, sizeof(*out));
  if (cfg->clients < 2 || cfg->clients > 100000 || cfg->layers < 1 || cfg->layers > 5 || !cfg->per_layer ||
      cfg->per_layer > 256 || !cfg->targets || cfg->targets > 100000 || !(cfg->rate > 0 && cfg->rate <= 1000) ||
      !(cfg->cover_rate >= 0 && cfg->cover_rate <= 1000) || !(cfg->gap_s >= 0 && cfg->gap_s <= 3600) ||
      !(cfg->burnin_s >= 0 && cfg->burnin_s <= 3600) || !(cfg->cooldown_s >= 0 && cfg->cooldown_s <= 3600) ||
      cfg->delay_ms > 60000 || cfg->proc_us > 1000000)
    return NN_ERR_ARG;
  memset(&s, 0, sizeof(s));
  memset(&cover, 0, sizeof(cover));
  cover.payload_rate = cfg->rate;
  cover.loop_rate = cfg->cover_rate;
  s.cover = &cover;
  s.layers = cfg->layers;
  s.per_layer = cfg->per_layer;
  s.delay_us = (uint64_t)cfg->delay_ms * 1000;
  s.proc_us = cfg->proc_us;
  s.ref = 1;
  srand_init(&s.r, cfg->seed, "nnsim-mix-ref", cfg->delay_ms);
  if (run_setup(&s, mixes, cfg->targets, cfg->clients) || !(s.ref_h = calloc(cfg->targets, sizeof(double))))
    goto out;
  /* Target i is queued at client 0 at burnin + i * gap, sent at its stream's events in order. */
  s.measure_from = (uint64_t)(cfg->burnin_s * 1e6);
  for (uint32_t i = 0; i < cfg->targets; i++) {
    ev_t e = { .t = s.measure_from + (uint64_t)(i * cfg->gap_s * 1e6), .a = i, .kind = EV_SUBMIT };
    if (push(&s, e))
      goto out;
  }
  uint64_t stop = s.measure_from + (uint64_t)(((cfg->targets - 1) * cfg->gap_s + cfg->cooldown_s) * 1e6);
  if (run_events(&s, stop))
    goto out;
  double sum = 0, sq = 0, mn = INFINITY;
  for (uint32_t i = 0; i < cfg->targets; i++) {
    sum += s.ref_h[i];
    sq += s.ref_h[i] * s.ref_h[i];
    if (s.ref_h[i] < mn)
      mn = s.ref_h[i];
  }
  out->h_mean = sum / cfg->targets;
  out->h_sd = sqrt(fmax(0, sq / cfg->targets - out->h_mean * out->h_mean));
  out->h_min = mn;
  out->sent = s.ref_next;
  double dur = (double)(s.now - s.measure_from) / 1e6;
  out->pool = dur > 0 ? (double)s.arrivals / mixes / dur * (double)(s.delay_us + s.proc_us) / 1e6 : 0;
  out->events = s.events;
  err = NN_OK;
out:
  free(s.ref_h);
  run_free(&s, mixes);
  return err;
}

/* ---- output ---- */

static nn_err_t
write_csv(const sim_mixnet_cfg_t *cfg, const sim_mixnet_stats_t *st)
{
  FILE *f = fopen(cfg->csv, "w");
  if (!f)
    return NN_ERR_IO;
  fprintf(f, "layers,cover,payload_rate,loop_rate,burst_rate,cover_bytes_per_s,mean_delay_ms,lambda_per_mix,"
             "pool_lambda_over_mu,size_bytes,fragments,transactions,h_packet_bits,h_tx_bits,h_tx_min_bits,"
             "p_true_sender,top1,latency_mean_s,latency_p95_s,log2_clients,h_tx_observer_bits,p_true_observer,"
             "p_true_packet,collision_packet\n");
  for (uint32_t i = 0; i < st->nrows; i++) {
    const sim_mixnet_row_t *r = &st->rows[i];
    fprintf(
      f,
      "%u,%s,%.3f,%.3f,%.3f,%.0f,%u,%.2f,%.3f,%u,%u,%u,%.4f,%.4f,%.4f,%.6f,%.4f,%.3f,%.3f,%.4f,%.4f,%.6f,%.6f,%.6f\n",
      r->layers, r->cover.name, r->cover.payload_rate, r->cover.loop_rate, r->cover.burst_rate, r->cover_bytes_s,
      r->delay_ms, r->lambda_mix, r->pool, r->size, r->fragments, r->messages, r->h_packet, r->h_msg, r->h_msg_min,
      r->p_true, r->top1, r->lat_mean_s, r->lat_p95_s, st->log2_clients, r->h_observer, r->p_true_observer,
      r->p_true_packet, r->collision_packet);
  }
  return fclose(f) ? NN_ERR_IO : NN_OK;
}

/* One datablock per cover, ($S<panel>_<cover>), of the rows with \a layers and \a size: x, y. */
typedef enum { Y_HPKT, Y_HTX, Y_TOP1 } ycol_t;

static double
row_y(const sim_mixnet_row_t *r, ycol_t y)
{
  return y == Y_HPKT ? r->h_packet : y == Y_HTX ? r->h_msg : r->top1;
}

static void
plot_panel(FILE *gp, const sim_mixnet_cfg_t *cfg, const sim_mixnet_stats_t *st, int panel, uint32_t size, ycol_t y,
           int x_pool, const char *ref_title, double ref)
{
  static const char *const colour[] = { "#1b7837", "#2166ac", "#b2182b", "#e08214",
                                        "#762a83", "#35978f", "#8c510a", "#4d4d4d" };
  for (uint32_t c = 0; c < cfg->ncovers; c++) {
    fprintf(gp, "$S%d_%u << EOD\n", panel, c);
    for (uint32_t i = 0; i < st->nrows; i++) {
      const sim_mixnet_row_t *r = &st->rows[i];
      if (r->layers == cfg->layers[0] && r->size == size && !strcmp(r->cover.name, cfg->covers[c].name) && r->messages)
        fprintf(gp, "%g %g\n", x_pool ? r->pool : (double)r->delay_ms, row_y(r, y));
    }
    fprintf(gp, "EOD\n");
  }
  for (uint32_t c = 0; c < cfg->ncovers; c++)
    fprintf(gp, "%s $S%d_%u using 1:2 with linespoints lw 2 pt 7 lc rgb '%s' title '%s'", c ? ", \\\n " : "plot", panel,
            c, colour[c % 8], cfg->covers[c].name);
  fprintf(gp, ", %.6f with lines dt 3 lc rgb 'gray40' title '%s'\n", ref, ref_title);
}

static int
write_png(const sim_mixnet_cfg_t *cfg, const sim_mixnet_stats_t *st)
{
  if (system("command -v gnuplot >/dev/null 2>&1") != 0)
    return 0; /* not installed: the CSV holds the numbers */
  FILE *gp = popen("gnuplot", "w");
  if (!gp)
    return -1;
  uint32_t small = cfg->sizes[0], big = cfg->sizes[cfg->nsizes - 1], fs = 0, fb = 0;
  for (uint32_t i = 0; i < st->nrows; i++) {
    if (st->rows[i].size == small)
      fs = st->rows[i].fragments;
    if (st->rows[i].size == big)
      fb = st->rows[i].fragments;
  }
  double top = st->log2_clients * 1.05;
  fprintf(gp, "set terminal pngcairo size 1400,1000 font ',10'\nset output '%s'\n", cfg->png);
  fprintf(gp,
          "set grid\nset key bottom right\nset multiplot layout 2,2 title \"Sender anonymity through the mixnet: "
          "%u clients, %u layers x %u mixes, one transaction every %g s (nepnet sim mixnet)\"\n",
          cfg->clients, cfg->layers[0], cfg->per_layer, cfg->tx_interval_s);
  fprintf(gp,
          "set logscale x\nset xlabel 'mean delay per mix (ms)'\nset ylabel 'entropy (bits)'\nset yrange [0:%.2f]\n",
          top);
  fprintf(gp, "set title 'one packet: entropy of its sender (global observer)'\n");
  plot_panel(gp, cfg, st, 0, small, Y_HPKT, 0, "log2(clients)", st->log2_clients);
  fprintf(gp, "set title 'a %u-byte transaction (%u packets): entropy of its sender (observer + exit)'\n", small, fs);
  plot_panel(gp, cfg, st, 1, small, Y_HTX, 0, "log2(clients)", st->log2_clients);
  /* For many fragments the product of their distributions can settle on the wrong client where
   * delays are long, so its entropy says little there: plot how often it names the true one. */
  fprintf(gp,
          "set title 'a %u-byte transaction (%u packets): how often observer + exit name its sender'\n"
          "set ylabel 'fraction of transactions (top1)'\nset yrange [0:1.05]\n",
          big, fb);
  plot_panel(gp, cfg, st, 2, big, Y_TOP1, 0, "guessing (1/clients)", 1.0 / cfg->clients);
  fprintf(gp,
          "set title 'one packet against packets in a mix (Loopix: lambda/mu)'\nset ylabel 'entropy (bits)'\n"
          "set yrange [0:%.2f]\nset xlabel 'lambda/mu: packets/s into a mix x mean delay (s)'\n",
          top);
  plot_panel(gp, cfg, st, 3, small, Y_HPKT, 1, "log2(clients)", st->log2_clients);
  fprintf(gp, "unset multiplot\n");
  return pclose(gp) == 0 ? 1 : -1;
}

/* ---- entry ---- */

nn_err_t
sim_mixnet_cover(sim_mixnet_cover_t *c, const char *name)
{
  nn_mixclient_cfg_t m;
  int on = 0;
  char base[24];
  const char *slash = strchr(name, '/');
  size_t l = slash ? (size_t)(slash - name) : strlen(name);
  if (l >= sizeof(base) || (slash && strcmp(slash, "/no-burst")))
    return NN_ERR_ARG;
  memcpy(base, name, l);
  base[l] = 0;
  nn_mixclient_cfg_default(&m);
  if (nn_mixclient_cover_preset(&m, base, &on) || !on)
    return NN_ERR_ARG;
  memset(c, 0, sizeof(*c));
  snprintf(c->name, sizeof(c->name), "%s", name);
  c->payload_rate = m.payload_rate;
  c->loop_rate = m.loop_rate;
  c->burst_rate = slash ? 0 : m.burst_rate;
  return NN_OK;
}

void
sim_mixnet_cfg_default(sim_mixnet_cfg_t *cfg)
{
  static const uint32_t delays[] = { 10, 20, 50, 100, 200, 500, 1000 };
  static const uint32_t sizes[] = { 2000, 500000, 2000000 };
  static const char *const covers[] = { "low", "low/no-burst", "standard", "standard/no-burst", "constant" };
  memset(cfg, 0, sizeof(*cfg));
  cfg->clients = 1000;
  cfg->per_layer = 5;
  cfg->nlayers = 1;
  cfg->layers[0] = 3;
  cfg->ndelays = sizeof(delays) / sizeof(delays[0]);
  memcpy(cfg->delays_ms, delays, sizeof(delays));
  cfg->nsizes = sizeof(sizes) / sizeof(sizes[0]);
  memcpy(cfg->sizes, sizes, sizeof(sizes));
  cfg->ncovers = sizeof(covers) / sizeof(covers[0]);
  for (uint32_t i = 0; i < cfg->ncovers; i++)
    (void)sim_mixnet_cover(&cfg->covers[i], covers[i]);
  cfg->messages = 50;
  cfg->warmup_s = 20;
  cfg->tx_interval_s = 10;
  cfg->redundancy = 0.5;
  cfg->seed = 1;
}

static int
cfg_ok(const sim_mixnet_cfg_t *cfg)
{
  nn_sphinx_geom_t g;
  (void)nn_sphinx_geom_init(&g, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN);
  if (cfg->clients < 2 || cfg->clients > 100000 || cfg->per_layer < 1 || cfg->per_layer > 256 || !cfg->nlayers ||
      cfg->nlayers > SIM_MIXNET_MAX_LIST || !cfg->ndelays || cfg->ndelays > SIM_MIXNET_MAX_LIST || !cfg->ncovers ||
      cfg->ncovers > SIM_MIXNET_MAX_LIST || !cfg->nsizes || cfg->nsizes > SIM_MIXNET_MAX_LIST || !cfg->messages ||
      (uint64_t)cfg->messages * cfg->nsizes > cfg->clients || !(cfg->warmup_s >= 0 && cfg->warmup_s <= 3600) ||
      !(cfg->tx_interval_s >= 0 && cfg->tx_interval_s <= 3600) || !(cfg->redundancy >= 0 && cfg->redundancy <= 4))
    return 0;
  for (uint32_t i = 0; i < cfg->nlayers; i++)
    if (cfg->layers[i] < 1 || cfg->layers[i] > 5)
      return 0;
  for (uint32_t i = 0; i < cfg->ndelays; i++)
    if (cfg->delays_ms[i] > 60000)
      return 0;
  for (uint32_t i = 0; i < cfg->nsizes; i++)
    if (!cfg->sizes[i] || !nn_frag_data_count(g.body_len, cfg->sizes[i]))
      return 0;
  for (uint32_t i = 0; i < cfg->ncovers; i++)
    if (!(cfg->covers[i].payload_rate > 0) || cfg->covers[i].payload_rate > 1000 || cfg->covers[i].loop_rate < 0 ||
        cfg->covers[i].loop_rate > 1000 || cfg->covers[i].burst_rate > 1000)
      return 0;
  return 1;
}

nn_err_t
sim_mixnet_run(const sim_mixnet_cfg_t *cfg, sim_mixnet_stats_t *out, FILE *log)
{
  uint64_t t0 = nn_mono_us();
  nn_err_t err = NN_OK;
  memset(out, 0, sizeof(*out));
  if (!cfg_ok(cfg))
    return NN_ERR_ARG;
  uint32_t per_run = cfg->nsizes, runs = cfg->nlayers * cfg->ncovers * cfg->ndelays;
  out->log2_clients = log2((double)cfg->clients);
  if (!(out->rows = calloc((size_t)runs * per_run, sizeof(sim_mixnet_row_t))))
    return NN_ERR_NOMEM;
  uint32_t k = 0;
  for (uint32_t l = 0; l < cfg->nlayers; l++)
    for (uint32_t c = 0; c < cfg->ncovers; c++)
      for (uint32_t d = 0; d < cfg->ndelays; d++, k++) {
        sim_mixnet_row_t *rows = &out->rows[(size_t)k * per_run];
        if (log && !cfg->quiet)
          fprintf(log, "sim mixnet: run %u/%u: %u layers, cover %s, mean delay %u ms ...", k + 1, runs, cfg->layers[l],
                  cfg->covers[c].name, cfg->delays_ms[d]);
        if ((err = run_one(cfg, cfg->layers[l], &cfg->covers[c], cfg->delays_ms[d], k, rows, &out->events))) {
          free(out->rows);
          out->rows = NULL;
          return err;
        }
        out->nrows += per_run;
        if (log && !cfg->quiet)
          fprintf(log, " one packet %.2f bits, %u B transaction %.2f bits (%.1f s)\n", rows[0].h_packet,
                  rows[per_run - 1].size, rows[per_run - 1].h_msg, (double)(nn_mono_us() - t0) / 1e6);
      }
  out->wall_s = (double)(nn_mono_us() - t0) / 1e6;
  if (cfg->csv && (err = write_csv(cfg, out)))
    return err;
  if (cfg->png && cfg->csv && write_png(cfg, out) < 0)
    return NN_ERR_IO;
  return NN_OK;
}

void
sim_mixnet_stats_free(sim_mixnet_stats_t *st)
{
  if (st) {
    free(st->rows);
    st->rows = NULL;
  }
}
