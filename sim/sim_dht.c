/*
 * The DHT simulator. One event queue in virtual milliseconds; each node is a real nn_dht_t.
 * Adversarial nodes do not run the core: the simulator answers for them, colluding (they return
 * the adversaries closest to any target, and never a value).
 */
#define _POSIX_C_SOURCE 200809L
#include "sim/sim_dht.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "dht/dht.h"
#include "sim/latency.h"
#include "sim/seedkey.h"

/* The size of a real signed peer record with two addresses (docs/PROTOCOL.md 6.4), so that the
 * memory and bytes the simulation reports are those of real records. */
#define VALUE_LEN 7314
#define CONNECT_TIMEOUT_MS 3000

enum { EV_DELIVER, EV_TICK, EV_LOOKUP, EV_CHURN, EV_CONNECT_FAIL, EV_PUBLISH, EV_WARMUP };

typedef struct event_t {
  uint64_t t;
  uint64_t seq;
  uint8_t kind;
  uint32_t node, from;
  uint32_t gen; /* node generation: events for a node that was replaced are dropped */
  uint8_t *msg;
  uint32_t len;
  int reply; /* EV_DELIVER: an answer (routed on the connection it came from) */
} event_t;

typedef struct node_t {
  nn_dht_t *dht;
  nn_node_id_t id;
  nn_addr_t addr;
  uint8_t region;
  uint8_t adversary;
  uint8_t alive;
  uint32_t gen;
  uint64_t tick_at; /* earliest scheduled tick */
  uint32_t *chan;   /* open channels: peer indices, most recently used last */
  uint32_t nchan;
  nn_drbg_t drbg;
  nn_rng_t rng;
} node_t;

typedef struct sim_t {
  const sim_dht_cfg_t *cfg;
  node_t *nodes;
  uint32_t n;
  event_t *heap;
  size_t nheap, capheap;
  uint64_t seq, now;
  /* id -> node index, open addressing on the first 8 id bytes (DRBG output: uniform already) */
  uint32_t *idx;
  size_t idxcap;
  uint32_t *adv; /* indices of adversaries */
  uint32_t nadv;
  nn_keyhash_t draws; /* the simulator's own draws: the keyed hash of a counter */
  nn_keyhash_t seal;  /* makes values unforgeable by the adversary model */
  sim_latency_t rtts; /* per-pair RTTs */
  sim_dht_stats_t st;
  double *lat;
  uint32_t *hops;
  uint8_t *found;
  uint32_t nres;
  uint32_t cur; /* node whose callback is running (for io callbacks) */
  FILE *csv;
} sim_t;

/* ---- event queue (binary heap on (t, seq)) ---- */

static int
ev_less(const event_t *a, const event_t *b)
{
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void
push(sim_t *s, event_t e)
{
  if (s->nheap == s->capheap) {
    s->capheap = s->capheap ? s->capheap * 2 : 4096;
    s->heap = realloc(s->heap, s->capheap * sizeof(event_t));
    if (!s->heap)
      abort(); /* the simulator is a tool, not a network parser: out of memory ends it */
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

/* ---- helpers ---- */

static uint64_t
rnd(sim_t *s)
{
  return nn_keyhash_u64(&s->draws, ++s->seq);
}

static uint64_t
id_key(const nn_node_id_t *id)
{
  return nn_be64_get(id->b);
}

static void
idx_put(sim_t *s, const nn_node_id_t *id, uint32_t node)
{
  size_t h = (size_t)(id_key(id) & (s->idxcap - 1));
  while (s->idx[h] != UINT32_MAX && memcmp(s->nodes[s->idx[h]].id.b, id->b, 32))
    h = (h + 1) & (s->idxcap - 1);
  s->idx[h] = node;
}

static uint32_t
idx_get(const sim_t *s, const nn_node_id_t *id)
{
  size_t h = (size_t)(id_key(id) & (s->idxcap - 1));
  while (s->idx[h] != UINT32_MAX) {
    if (!memcmp(s->nodes[s->idx[h]].id.b, id->b, 32))
      return s->idx[h];
    h = (h + 1) & (s->idxcap - 1);
  }
  return UINT32_MAX;
}

static uint32_t
rtt(sim_t *s, uint32_t a, uint32_t b)
{
  return sim_rtt_ms(&s->rtts, a, s->nodes[a].region, b, s->nodes[b].region);
}

/* ---- open channels ---- */

static int
chan_find(const node_t *n, uint32_t peer)
{
  for (uint32_t i = n->nchan; i-- > 0;)
    if (n->chan[i] == peer)
      return (int)i;
  return -1;
}

static void
chan_drop(node_t *n, uint32_t peer)
{
  int i = chan_find(n, peer);
  if (i >= 0) {
    memmove(&n->chan[i], &n->chan[i + 1], (n->nchan - (uint32_t)i - 1) * sizeof(uint32_t));
    n->nchan--;
  }
}

static void
chan_touch(sim_t *s, uint32_t a, uint32_t b)
{
  node_t *n = &s->nodes[a];
  int i = chan_find(n, b);
  if (i >= 0) {
    memmove(&n->chan[i], &n->chan[i + 1], (n->nchan - (uint32_t)i - 1) * sizeof(uint32_t));
    n->nchan--;
  } else if (n->nchan == s->cfg->channel_cap) {
    chan_drop(&s->nodes[n->chan[0]], a); /* closing a channel closes both ends */
    memmove(&n->chan[0], &n->chan[1], (n->nchan - 1) * sizeof(uint32_t));
    n->nchan--;
  }
  n->chan[n->nchan++] = b;
}

/* ---- values: a model of signed records (forging needs the simulation's seal key) ---- */

/* The "signature": the keyed hash of key || seq || expires (bytes 8..55). */
static void
make_value(sim_t *s, const nn_node_id_t *key, uint64_t seq, uint64_t expires, uint8_t *v)
{
  memset(v, 0, VALUE_LEN);
  memcpy(v, "SIMREC01", 8);
  memcpy(v + 8, key->b, 32);
  nn_be64_put(v + 40, seq);
  nn_be64_put(v + 48, expires);
  nn_be64_put(v + 56, nn_keyhash(&s->seal, v + 8, 48));
}

static int
validate(void *ctx, const nn_node_id_t *key, const uint8_t *v, size_t len, uint64_t now_ms, uint64_t *seq,
         uint64_t *exp)
{
  sim_t *s = ctx;
  if (len != VALUE_LEN || memcmp(v, "SIMREC01", 8) || memcmp(v + 8, key->b, 32))
    return -1;
  *seq = nn_be64_get(v + 40);
  *exp = nn_be64_get(v + 48);
  if (nn_be64_get(v + 56) != nn_keyhash(&s->seal, v + 8, 48))
    return -1;
  return *exp <= now_ms ? 1 : 0;
}

/* ---- delivery ---- */

static void
schedule_tick(sim_t *s, uint32_t node)
{
  node_t *n = &s->nodes[node];
  if (!n->alive || n->adversary)
    return;
  uint64_t d = nn_dht_deadline(n->dht);
  if (d == UINT64_MAX || (n->tick_at && n->tick_at <= d && n->tick_at > s->now))
    return;
  if (d < s->now)
    d = s->now;
  n->tick_at = d;
  event_t e = { .t = d, .kind = EV_TICK, .node = node, .gen = n->gen };
  push(s, e);
}

/* Queue \a msg from node a to node b, charging a connection set-up if no channel is open. */
static void
transmit(sim_t *s, uint32_t a, uint32_t b, const uint8_t *msg, size_t len, int reply)
{
  node_t *na = &s->nodes[a], *nb = &s->nodes[b];
  uint32_t r = rtt(s, a, b);
  uint64_t delay;
  s->st.messages++;
  if (chan_find(na, b) >= 0 && chan_find(nb, a) >= 0) {
    s->st.channel_hits++;
    delay = r / 2;
  } else {
    if (reply) /* the connection the request came on was closed meanwhile: the answer is lost */
      return;
    s->st.connects++;
    if (!nb->alive) { /* a dead host: the connect times out */
      event_t e = { .t = s->now + CONNECT_TIMEOUT_MS, .kind = EV_CONNECT_FAIL, .node = a, .from = b, .gen = na->gen };
      push(s, e);
      return;
    }
    /* TCP (1 RTT), msg1 -> msg2 (1 RTT + both sides' handshake CPU), msg3 with the request (0.5 RTT) */
    delay = 2ull * r + r / 2 + 2ull * s->cfg->handshake_cpu_us / 1000;
  }
  chan_touch(s, a, b);
  chan_touch(s, b, a);
  event_t e = {
    .t = s->now + delay, .kind = EV_DELIVER, .node = b, .from = a, .gen = nb->gen, .len = (uint32_t)len, .reply = reply
  };
  if (!(e.msg = malloc(len ? len : 1)))
    abort();
  memcpy(e.msg, msg, len);
  push(s, e);
}

static void
io_send(void *ctx, const nn_rpc_node_t *to, void *reply_conn, const uint8_t *msg, size_t len)
{
  sim_t *s = ctx;
  uint32_t b = reply_conn ? (uint32_t)((uintptr_t)reply_conn - 1) : idx_get(s, &to->id);
  if (b == UINT32_MAX || b == s->cur)
    return;
  transmit(s, s->cur, b, msg, len, reply_conn != NULL);
}

/* The adversary model: colluding liars that point every query at each other. */
static void
adversary_answer(sim_t *s, uint32_t self, uint32_t from, const uint8_t *msg, size_t len)
{
  nn_rpc_t m, a;
  uint8_t buf[NN_RPC_MAX_LEN];
  nn_wire_writer_t w;
  if (nn_rpc_decode(&m, msg, len) || !nn_rpc_is_request(m.kind))
    return;
  memset(&a, 0, sizeof(a));
  a.id = m.id;
  switch (m.kind) {
  case NN_RPC_PING:
    a.kind = NN_RPC_PONG;
    a.addr = s->nodes[from].addr;
    break;
  case NN_RPC_STORE:
    a.kind = NN_RPC_STORED; /* claims to store, drops it */
    break;
  default: {
    a.kind = m.kind == NN_RPC_FIND_VALUE ? NN_RPC_VALUE : NN_RPC_NODES;
    if (s->cfg->forge) {
      /* made-up node ids that share the target's first 24 bytes, closer to it than any real
       * node: asking them only times out. What per_referrer limits. */
      for (uint32_t i = 0; i < NN_DHT_K; i++) {
        uint8_t in[40];
        memcpy(in, m.target.b, 32);
        nn_be32_put(in + 32, self);
        nn_be32_put(in + 36, i);
        a.nodes[i].id = m.target;
        nn_be64_put(a.nodes[i].id.b + 24, nn_keyhash(&s->seal, in, sizeof(in)));
        if (!memcmp(a.nodes[i].id.b, m.target.b, 32))
          a.nodes[i].id.b[31] ^= 1;
        a.nodes[i].addr = s->nodes[self].addr;
      }
      a.nnodes = NN_DHT_K;
      break;
    }
    /* the adversaries closest to the target (insertion into a small sorted list) */
    for (uint32_t i = 0; i < s->nadv; i++) {
      const node_t *x = &s->nodes[s->adv[i]];
      if (!x->alive || s->adv[i] == self)
        continue;
      size_t pos = a.nnodes;
      while (pos > 0 && nn_node_id_cmp_distance(&m.target, &x->id, &a.nodes[pos - 1].id) < 0)
        pos--;
      if (pos >= NN_DHT_K)
        continue;
      size_t end = a.nnodes < NN_DHT_K ? a.nnodes : NN_DHT_K - 1;
      memmove(&a.nodes[pos + 1], &a.nodes[pos], (end - pos) * sizeof(a.nodes[0]));
      a.nodes[pos].id = x->id;
      a.nodes[pos].addr = x->addr;
      if (a.nnodes < NN_DHT_K)
        a.nnodes++;
    }
  }
  }
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  if (!nn_rpc_encode(&a, &w))
    transmit(s, self, from, buf, w.len, 1);
}

static void
deliver(sim_t *s, event_t *e)
{
  node_t *n = &s->nodes[e->node];
  if (!n->alive || e->gen != n->gen)
    return;
  if (n->adversary) {
    adversary_answer(s, e->node, e->from, e->msg, e->len);
    return;
  }
  s->cur = e->node;
  /* every simulated channel reaches the node at its own address: as good as a dialled one */
  nn_dht_on_message(n->dht, (void *)(uintptr_t)(e->from + 1), &s->nodes[e->from].id, &s->nodes[e->from].addr, 1, e->msg,
                    e->len, s->now);
  schedule_tick(s, e->node);
}

/* ---- nodes ---- */

static void
node_init(sim_t *s, uint32_t i, int adversary)
{
  node_t *n = &s->nodes[i];
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { io_send, NULL, s };
  uint8_t ip[4];

  nn_drbg_init_u64(&n->drbg, s->cfg->seed * 1000003ull + i * 7919ull + n->gen);
  n->rng = nn_drbg_rng(&n->drbg);
  nn_rng_fill(&n->rng, n->id.b, 32);
  uint64_t r = rnd(s);
  /* a distinct /16 per node slot (the table's diversity limits then see an honest spread) */
  ip[0] = (uint8_t)(20 + i % 200);
  ip[1] = (uint8_t)(i / 200);
  ip[2] = (uint8_t)(i / 51200);
  ip[3] = (uint8_t)(1 + (r & 0x7f));
  n->addr = nn_addr_ipv4(ip, 9800);
  n->region = sim_region_pick((uint32_t)(r >> 32));
  n->adversary = (uint8_t)adversary;
  n->alive = 1;
  n->nchan = 0;
  n->tick_at = 0;
  if (!n->chan && !(n->chan = malloc(s->cfg->channel_cap * sizeof(uint32_t))))
    abort();
  idx_put(s, &n->id, i);
  if (adversary)
    return;
  nn_dht_cfg_default(&cfg);
  cfg.table.allow_private = 1;
  cfg.paths = s->cfg->paths;
  cfg.alpha = s->cfg->alpha;
  cfg.validate = validate;
  cfg.validate_ctx = s;
  cfg.has_self_addr = 1;
  cfg.self_addr = n->addr;
  cfg.rng = &n->rng;
  cfg.max_lookups = 16;
  cfg.max_inflight = 96;
  if (s->cfg->no_relay)
    cfg.relay = 0;
  if (s->cfg->relay_hops)
    cfg.relay = s->cfg->relay_hops;
  if (s->cfg->per_referrer)
    cfg.per_referrer = s->cfg->per_referrer;
  if (nn_dht_new(&n->dht, &n->id, &cfg, &io, s->now))
    abort();
}

static void
node_kill(sim_t *s, uint32_t i)
{
  node_t *n = &s->nodes[i];
  for (uint32_t c = 0; c < n->nchan; c++)
    chan_drop(&s->nodes[n->chan[c]], i);
  n->nchan = 0;
  n->alive = 0;
  n->gen++;
  nn_dht_free(n->dht);
  n->dht = NULL;
}

/* Join: ping a live bootstrap node and look ourselves up (fills the table); the record is
 * published later. */
static void
node_join(sim_t *s, uint32_t i, uint32_t bootstrap)
{
  node_t *n = &s->nodes[i];
  if (n->adversary)
    return;
  nn_rpc_node_t b = { s->nodes[bootstrap].id, s->nodes[bootstrap].addr };
  s->cur = i;
  /* Kademlia's join: the bootstrap node goes straight into the table, then a self-lookup. */
  nn_dht_table_seen(nn_dht_table(n->dht), &b.id, &b.addr, s->now, 0, &(nn_dht_contact_t){ 0 });
  nn_dht_add_contact(n->dht, &b, s->now);
  nn_dht_lookup(n->dht, &n->id, 0, NULL, NULL, s->now);
  schedule_tick(s, i);
}

static void
node_publish(sim_t *s, uint32_t i)
{
  uint8_t *v = malloc(VALUE_LEN); /* too big for the stack of a deep simulation */
  node_t *n = &s->nodes[i];
  if (!v || n->adversary || !n->alive) {
    free(v);
    return;
  }
  make_value(s, &n->id, 1 + s->now, s->now + 48ull * 3600 * 1000, v);
  s->cur = i;
  nn_dht_put(n->dht, &n->id, v, VALUE_LEN, s->now);
  free(v);
  schedule_tick(s, i);
}

static uint32_t
random_live(sim_t *s, int honest)
{
  for (;;) {
    uint32_t i = (uint32_t)(rnd(s) % s->n);
    if (s->nodes[i].alive && (!honest || !s->nodes[i].adversary))
      return i;
  }
}

/* ---- measured lookups ---- */

static void
measured_cb(void *ctx, const nn_dht_lookup_result_t *res)
{
  sim_t *s = ctx;
  if (s->nres >= s->cfg->lookups)
    return;
  s->lat[s->nres] = (double)res->elapsed_ms;
  s->hops[s->nres] = res->hops;
  s->found[s->nres] = (uint8_t)res->found_value;
  if (s->csv) {
    unsigned adv = 0;
    for (size_t i = 0; i < res->nclosest; i++) {
      uint32_t x = idx_get(s, &res->closest[i].id);
      adv += x != UINT32_MAX && s->nodes[x].adversary;
    }
    fprintf(s->csv, "%u,%llu,%u,%d,%u,%u,%u\n", s->nres, (unsigned long long)res->elapsed_ms, res->hops,
            res->found_value, res->rpcs, res->failures, adv);
  }
  s->nres++;
}

static void
run_events(sim_t *s, uint64_t until, FILE *log, const char *phase)
{
  uint64_t next_report = s->now + 60000;
  while (s->nheap && s->heap[0].t <= until) {
    event_t e = pop(s);
    s->now = e.t;
    switch (e.kind) {
    case EV_DELIVER:
      deliver(s, &e);
      free(e.msg);
      break;
    case EV_TICK: {
      node_t *n = &s->nodes[e.node];
      if (!n->alive || e.gen != n->gen || n->tick_at != e.t)
        break;
      n->tick_at = 0;
      s->cur = e.node;
      nn_dht_tick(n->dht, s->now);
      schedule_tick(s, e.node);
      break;
    }
    case EV_CONNECT_FAIL: {
      node_t *n = &s->nodes[e.node];
      if (!n->alive || e.gen != n->gen)
        break;
      s->cur = e.node;
      nn_dht_on_unreachable(n->dht, &s->nodes[e.from].id, s->now);
      schedule_tick(s, e.node);
      break;
    }
    case EV_LOOKUP: {
      uint32_t a = random_live(s, 1), b = random_live(s, 1);
      while (b == a)
        b = random_live(s, 1);
      s->cur = a;
      if (!nn_dht_lookup(s->nodes[a].dht, &s->nodes[b].id, 1, measured_cb, s, s->now))
        measured_cb(s, &(nn_dht_lookup_result_t){ 0 });
      schedule_tick(s, a);
      break;
    }
    case EV_CHURN: {
      uint32_t victim = random_live(s, 0);
      int adv = s->nodes[victim].adversary;
      node_kill(s, victim);
      s->st.leaves++;
      node_init(s, victim, adv); /* a new node (new id) takes the slot */
      node_join(s, victim, random_live(s, 1));
      s->st.joins++;
      /* publish once the self-lookup had time to fill the table */
      event_t p = { .t = s->now + 5000, .kind = EV_PUBLISH, .node = victim, .gen = s->nodes[victim].gen };
      push(s, p);
      break;
    }
    case EV_PUBLISH:
    case EV_WARMUP:
      if (!s->nodes[e.node].alive || e.gen != s->nodes[e.node].gen)
        break;
      if (e.kind == EV_PUBLISH) {
        node_publish(s, e.node);
      } else {
        nn_node_id_t target;
        for (int b = 0; b < 4; b++)
          nn_be64_put(target.b + 8 * b, rnd(s));
        s->cur = e.node;
        nn_dht_lookup(s->nodes[e.node].dht, &target, 0, NULL, NULL, s->now);
        schedule_tick(s, e.node);
      }
      break;
    }
    if (log && !s->cfg->quiet && s->now >= next_report) {
      fprintf(log, "\r  %s: t=%6.1f min, %llu messages, %u/%u lookups done   ", phase, (double)s->now / 60000.0,
              (unsigned long long)s->st.messages, s->nres, s->cfg->lookups);
      fflush(log);
      next_report = s->now + 60000;
    }
  }
  s->now = until;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void
sim_dht_cfg_default(sim_dht_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->nodes = 10000;
  cfg->adversaries = 0.0;
  cfg->churn_per_hour = 0.2;
  cfg->hours = 1.0;
  cfg->lookups = 2000;
  cfg->channel_cap = 256;
  cfg->paths = 2;
  cfg->alpha = 3;
  cfg->handshake_cpu_us = 1800;
  cfg->seed = 1;
}

int
sim_dht_run(const sim_dht_cfg_t *cfg, sim_dht_stats_t *out, FILE *log)
{
  sim_t s;
  uint64_t t0_us;
  t0_us = nn_mono_us();
  memset(&s, 0, sizeof(s));
  memset(out, 0, sizeof(*out));
  s.cfg = cfg;
  s.n = cfg->nodes;
  if (sim_seedkey_init(&s.draws, cfg->seed, "nnsim-dht-draws") ||
      sim_seedkey_init(&s.seal, cfg->seed, "nnsim-dht-seal") || sim_latency_init(&s.rtts, cfg->seed)) {
    nn_keyhash_free(&s.draws);
    nn_keyhash_free(&s.seal);
    return -1;
  }
  s.nodes = calloc(s.n, sizeof(node_t));
  for (s.idxcap = 1; s.idxcap < 4ull * s.n; s.idxcap <<= 1)
    ;
  s.idx = malloc(s.idxcap * sizeof(uint32_t));
  s.adv = malloc((s.n + 1) * sizeof(uint32_t));
  s.lat = calloc(cfg->lookups + 1, sizeof(double));
  s.hops = calloc(cfg->lookups + 1, sizeof(uint32_t));
  s.found = calloc(cfg->lookups + 1, 1);
  if (!s.nodes || !s.idx || !s.adv || !s.lat || !s.hops || !s.found)
    return -1;
  memset(s.idx, 0xff, s.idxcap * sizeof(uint32_t));
  if (cfg->csv && (s.csv = fopen(cfg->csv, "w")))
    fprintf(s.csv, "lookup,latency_ms,hops,found,rpcs,failures,adversaries_in_result\n");

  /* Bootstrap: nodes join one after another (100 ms apart), each through a random earlier node. */
  for (uint32_t i = 0; i < s.n; i++) {
    int adv = (double)(rnd(&s) % 1000000) / 1e6 < cfg->adversaries;
    node_init(&s, i, adv);
    if (adv)
      s.adv[s.nadv++] = i;
  }
  if (log && !cfg->quiet)
    fprintf(log, "sim dht: %u nodes (%u adversarial), %.0f%% churn/h, %u lookups over %.1f h, seed %llu\n", s.n, s.nadv,
            cfg->churn_per_hour * 100, cfg->lookups, cfg->hours, (unsigned long long)cfg->seed);
  uint32_t first = 0;
  while (first < s.n && s.nodes[first].adversary)
    first++;
  for (uint32_t i = 0; i < s.n; i++) {
    /* Each node bootstraps through an honest earlier node (a real node has several seeds and a
     * peer store; one honest seed is what keeps it from being eclipsed at birth). */
    uint32_t b = i ? (uint32_t)(rnd(&s) % i) : first;
    for (int tries = 0; tries < 64 && i > first && s.nodes[b].adversary; tries++)
      b = (uint32_t)(rnd(&s) % i);
    if (i != first && !s.nodes[b].adversary)
      node_join(&s, i, b);
    run_events(&s, s.now + 100, NULL, "join");
    if (log && !cfg->quiet && (i % 500 == 0 || i + 1 == s.n)) {
      fprintf(log, "\r  joining: %u/%u nodes   ", i + 1, s.n);
      fflush(log);
    }
  }
  /* Let the last lookups finish, then every node publishes its record and a warm-up hour of
   * bucket refreshes settles the tables, as a network that has been running would be. */
  run_events(&s, s.now + 10000, NULL, "settle");
  for (uint32_t i = 0; i < s.n; i++) {
    node_publish(&s, i);
    if (i % 64 == 63)
      run_events(&s, s.now + 10, NULL, "publish");
  }
  run_events(&s, s.now + 30000, log, "publish");
  /* Warm-up: a running node has looked things up before; three lookups of random ids per node
   * over ten minutes fill its buckets and open the channels it keeps. */
  for (uint32_t i = 0; i < s.n; i++)
    for (int j = 0; j < 3; j++)
      if (!s.nodes[i].adversary) {
        event_t e = { .t = s.now + rnd(&s) % 600000, .kind = EV_WARMUP, .node = i, .gen = s.nodes[i].gen };
        push(&s, e);
      }
  run_events(&s, s.now + 630000, log, "warm-up");
  if (getenv("NEPNET_SIM_DEBUG")) {
    unsigned long tot = 0, cnt = 0, hist[5] = { 0 };
    for (uint32_t i = 0; i < s.n; i++) {
      if (s.nodes[i].adversary)
        continue;
      unsigned st = 0;
      for (uint32_t j = 0; j < s.n; j++) {
        size_t len;
        st += s.nodes[j].dht && nn_dht_get_local(s.nodes[j].dht, &s.nodes[i].id, &len) != NULL;
      }
      tot += st;
      cnt++;
      hist[st >= 20 ? 4 : st / 5]++;
    }
    fprintf(stderr, "storers per record: mean %.1f; <5 %lu, 5-9 %lu, 10-14 %lu, 15-19 %lu, 20+ %lu\n",
            cnt ? (double)tot / cnt : 0.0, hist[0], hist[1], hist[2], hist[3], hist[4]);
  }
  if (log && !cfg->quiet)
    fprintf(log, "\n");

  /* The measured period: lookups at random times, churn as a Poisson-like stream. */
  uint64_t start = s.now, span = (uint64_t)(cfg->hours * 3600000.0);
  s.st = (sim_dht_stats_t){ 0 };
  for (uint32_t i = 0; i < cfg->lookups; i++) {
    event_t e = { .t = start + (uint64_t)((double)span * (i + 0.5) / cfg->lookups), .kind = EV_LOOKUP };
    push(&s, e);
  }
  uint32_t nchurn = (uint32_t)(cfg->churn_per_hour * cfg->hours * s.n);
  for (uint32_t i = 0; i < nchurn; i++) {
    event_t e = { .t = start + (rnd(&s) % (span ? span : 1)), .kind = EV_CHURN };
    push(&s, e);
  }
  run_events(&s, start + span + 30000, log, "measure");
  if (log && !cfg->quiet)
    fprintf(log, "\n");

  /* statistics */
  double *sorted = malloc((s.nres + 1) * sizeof(double));
  double sum = 0, hsum = 0;
  for (uint32_t i = 0; i < s.nres; i++) {
    sorted[i] = s.lat[i];
    sum += s.lat[i];
    hsum += s.hops[i];
    if (s.hops[i] > out->max_hops)
      out->max_hops = s.hops[i];
    out->found += s.found[i];
  }
  qsort(sorted, s.nres, sizeof(double), cmp_double);
  out->lookups = s.nres;
  if (s.nres) {
    out->p50_ms = sorted[s.nres / 2];
    out->p95_ms = sorted[(size_t)(s.nres * 0.95)];
    out->p99_ms = sorted[(size_t)(s.nres * 0.99)];
    out->mean_ms = sum / s.nres;
    out->mean_hops = hsum / s.nres;
    out->success = (double)out->found / s.nres;
  }
  out->messages = s.st.messages;
  out->connects = s.st.connects;
  out->channel_hits = s.st.channel_hits;
  out->joins = s.st.joins;
  out->leaves = s.st.leaves;
  size_t mem = 0, live = 0;
  for (uint32_t i = 0; i < s.n; i++)
    if (s.nodes[i].dht) {
      mem += nn_dht_memory(s.nodes[i].dht) + s.cfg->channel_cap * sizeof(uint32_t);
      live++;
    }
  out->bytes_per_node = live ? (double)mem / live : 0;
  if (cfg->png && s.csv) {
    FILE *dat;
    char path[512];
    fflush(s.csv);
    snprintf(path, sizeof(path), "%s.cdf", cfg->png);
    if ((dat = fopen(path, "w"))) {
      for (uint32_t i = 0; i < s.nres; i++)
        fprintf(dat, "%.1f %.5f\n", sorted[i], (double)(i + 1) / s.nres);
      fclose(dat);
      FILE *gp = popen("gnuplot", "w");
      if (gp) {
        fprintf(gp, "set terminal pngcairo size 900,560\nset output '%s'\n", cfg->png);
        fprintf(gp, "set title 'DHT lookup latency, %u nodes, %.0f%% churn/h, %.0f%% adversarial'\n", s.n,
                cfg->churn_per_hour * 100, cfg->adversaries * 100);
        fprintf(gp, "set xlabel 'lookup latency (ms)'\nset ylabel 'fraction of lookups'\nset grid\n");
        fprintf(gp, "set key bottom right\nset arrow from 250,0 to 250,1 nohead dt 2\nset arrow from 500,0 to 500,1 "
                    "nohead dt 3\n");
        /* the body of the curve, not the last straggler, sets the scale */
        fprintf(gp, "set xrange [0:%.0f]\n", out->p99_ms * 1.5 > 1000 ? out->p99_ms * 1.5 : 1000.0);
        fprintf(gp, "plot '%s' using 1:2 with lines lw 2 title 'CDF (P50 %.0f ms, P95 %.0f ms)'\n", path, out->p50_ms,
                out->p95_ms);
        pclose(gp);
      }
    }
  }
  if (s.csv)
    fclose(s.csv);
  for (uint32_t i = 0; i < s.n; i++) {
    nn_dht_free(s.nodes[i].dht);
    free(s.nodes[i].chan);
  }
  while (s.nheap) {
    event_t e = pop(&s);
    free(e.msg);
  }
  free(sorted);
  free(s.heap);
  free(s.nodes);
  free(s.idx);
  free(s.adv);
  free(s.lat);
  free(s.hops);
  free(s.found);
  nn_keyhash_free(&s.draws);
  nn_keyhash_free(&s.seal);
  sim_latency_free(&s.rtts);
  out->wall_s = (double)(nn_mono_us() - t0_us) / 1e6;
  return 0;
}
