#include "mixnet/client.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mixnet/frag.h"

/* The exit of a queued message: its keys for two epochs, shared by its fragments. */
typedef struct exit_t {
  size_t refs; /* fragments queued; 0: a free slot */
  nn_hash_t id;
  uint32_t epoch;
  nn_hybrid_pk_t pk[2];
} exit_t;

typedef struct queued_t {
  uint8_t *body;
  unsigned exit; /* index into exits */
} queued_t;

typedef struct loop_t {
  uint8_t id[NN_LOOP_ID_LEN];
  uint64_t sent;
  size_t n;
  nn_node_id_t mix[NN_SPHINX_MAX_HOPS];
} loop_t;

#define STALL_MS 2000 /* a stream event this late was missed, not delayed */

typedef struct self_key_t {
  int set;
  uint32_t epoch;
  nn_hybrid_pk_t pk;
} self_key_t;

struct nn_mixclient_t {
  nn_mixclient_cfg_t cfg;
  nn_mixclient_io_t io;
  nn_mixdir_t *dir;
  nn_sym_t *sym;
  queued_t *q; /* a ring */
  size_t qhead, qlen;
  exit_t exits[NN_MIXCLIENT_MAX_MESSAGES];
  uint64_t next_payload, next_loop;
  self_key_t self[2];
  loop_t *loops;
  size_t nloops;
  uint8_t *packet, *body;
  double loss;     /* share of loops lost, a moving average over about 32 loops */
  uint64_t losses; /* loops that fed it */
  nn_mixclient_stats_t st;
};

/* A loop's fate feeds the loss estimate that sets the parity of the next messages. */
static void
loss_update(nn_mixclient_t *c, int lost)
{
  c->loss += ((lost ? 1.0 : 0.0) - c->loss) / (c->losses < 32 ? (double)(c->losses + 1) : 32.0);
  c->losses++;
}

void
nn_mixclient_cfg_default(nn_mixclient_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  (void)nn_sphinx_geom_init(&cfg->geom, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN);
  cfg->epoch_ms = 3600000;
  cfg->payload_rate = 1.0;
  cfg->loop_rate = 0.2;
  cfg->mean_delay_ms = 50;
  cfg->max_delay_ms = 60000;
  cfg->redundancy = 0.5;
  cfg->max_msg_len = (size_t)4 << 20;
  cfg->max_queue = 4096;
  cfg->loop_timeout_ms = 30000;
  cfg->max_loops = 256;
}

/* A uniform number in (0, 1] from 53 random bits. */
static double
uniform(const nn_rng_t *rng)
{
  uint8_t b[8];
  uint64_t x = 0;
  if (nn_rng_fill(rng, b, sizeof(b)))
    return 1.0;
  for (int i = 0; i < 8; i++)
    x = x << 8 | b[i];
  return (double)((x >> 11) + 1) / 9007199254740992.0;
}

/* An exponential draw of mean \a mean_ms, in whole milliseconds. */
static uint64_t
exp_ms(const nn_rng_t *rng, double mean_ms)
{
  double v = -log(uniform(rng)) * mean_ms;
  return v >= 1e15 ? (uint64_t)1e15 : (uint64_t)v;
}

static uint64_t
next_event(const nn_mixclient_t *c, double rate, uint64_t now)
{
  return rate > 0 ? now + 1 + exp_ms(c->cfg.rng, 1000.0 / rate) : UINT64_MAX;
}

/* What each costs at 36,865-byte PACKET messages (payload + loop packets per second):
 *   low       0.2 + 0.05  =  9.2 KB/s     a 2 MB transaction bursts at 10/s
 *   standard  0.6 + 0.2   = 29.5 KB/s     (under a third of Nym's 110 kB/s)
 *   constant  2.0 + 0.2   = 81 KB/s       no burst: sending changes nothing on the link
 * What each buys in anonymity: `nepnet sim mixnet` (sim/sim_mixnet.h). */
nn_err_t
nn_mixclient_cover_preset(nn_mixclient_cfg_t *cfg, const char *name, int *on)
{
  static const struct {
    const char *name;
    int on;
    double payload, loop, burst;
  } p[] = {
    { "off", 0, 0, 0, 0 },
    { "low", 1, 0.2, 0.05, 10 },
    { "standard", 1, 0.6, 0.2, 10 },
    { "constant", 1, 2.0, 0.2, 0 },
  };
  for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
    if (!strcmp(name, p[i].name)) {
      *on = p[i].on;
      if (p[i].on) {
        cfg->payload_rate = p[i].payload;
        cfg->loop_rate = p[i].loop;
        cfg->burst_rate = p[i].burst;
      }
      return NN_OK;
    }
  return NN_ERR_ARG;
}

nn_err_t
nn_mixclient_new(nn_mixclient_t **out, const nn_mixclient_cfg_t *cfg, const nn_mixclient_io_t *io, nn_mixdir_t *dir,
                 uint64_t now_ms)
{
  nn_mixclient_t *c;
  nn_err_t err;

  *out = NULL;
  if (!cfg->geom.packet_len || cfg->geom.hops < 2 || cfg->epoch_ms < 1000 || !cfg->max_queue ||
      cfg->max_queue > (1u << 20) || !cfg->max_loops || cfg->max_loops > 65536 || cfg->redundancy < 0 ||
      cfg->redundancy > 4 || !io->send || !io->pick_exit || !dir)
    return NN_ERR_ARG;
  if (!(c = calloc(1, sizeof(*c))))
    return NN_ERR_NOMEM;
  c->cfg = *cfg;
  c->io = *io;
  c->dir = dir;
  if (!(c->q = calloc(cfg->max_queue, sizeof(*c->q))) || !(c->loops = calloc(cfg->max_loops, sizeof(*c->loops))) ||
      !(c->packet = malloc(cfg->geom.packet_len)) || !(c->body = malloc(cfg->geom.body_len))) {
    nn_mixclient_free(c);
    return NN_ERR_NOMEM;
  }
  if ((err = nn_sym_new(&c->sym))) {
    nn_mixclient_free(c);
    return err;
  }
  c->next_payload = next_event(c, cfg->payload_rate, now_ms);
  c->next_loop = next_event(c, cfg->loop_rate, now_ms);
  *out = c;
  return NN_OK;
}

void
nn_mixclient_free(nn_mixclient_t *c)
{
  if (!c)
    return;
  for (size_t i = 0; c->q && i < c->qlen; i++)
    free(c->q[(c->qhead + i) % c->cfg.max_queue].body);
  free(c->q);
  free(c->loops);
  free(c->packet);
  free(c->body);
  nn_sym_free(c->sym);
  free(c);
}

void
nn_mixclient_set_self_key(nn_mixclient_t *c, uint32_t epoch, const nn_hybrid_pk_t *pk)
{
  self_key_t *slot = c->self[0].set && c->self[0].epoch == epoch                                  ? &c->self[0]
                     : c->self[1].set && c->self[1].epoch == epoch                                ? &c->self[1]
                     : !c->self[0].set || (c->self[1].set && c->self[0].epoch < c->self[1].epoch) ? &c->self[0]
                                                                                                  : &c->self[1];
  slot->set = 1;
  slot->epoch = epoch;
  slot->pk = *pk;
}

nn_err_t
nn_mixclient_send(nn_mixclient_t *c, const uint8_t *msg, size_t len, uint8_t deliver, const nn_hash_t *exit,
                  uint32_t exit_epoch, const nn_hybrid_pk_t exit_keys[2], uint64_t now_ms)
{
  size_t body_len = c->cfg.geom.body_len, k = nn_frag_data_count(body_len, len), n;
  uint8_t id[NN_FRAG_ID_LEN], *all;
  unsigned parity, x = NN_MIXCLIENT_MAX_MESSAGES;
  nn_err_t err;

  if (len > c->cfg.max_msg_len) /* the exit would refuse every fragment */
    return NN_ERR_TOO_LONG;
  if (!k)
    return len ? NN_ERR_TOO_LONG : NN_ERR_ARG;
  parity = (unsigned)ceil((double)k * c->cfg.redundancy);
  /* With loops lost at rate p, a message's fragments are lost at about that rate too (a loop
   * crosses as many links): send enough that k arrive with a margin of about 3 standard
   * deviations, n >= k / (1 - 1.5 p) + 2 sqrt(k). Measured from 20 loops on. Nearly every loop
   * lost says the loops cannot reach us (a hidden node, one behind NAT), not that the network
   * loses packets: then the configured redundancy stands. */
  if (c->losses >= 20 && c->loss > 0 && c->loss < 0.8) {
    double p = c->loss > 0.5 ? 0.5 : c->loss;
    double need = ceil((double)k / (1 - 1.5 * p) + 2 * ceil(sqrt((double)k)));
    if (need - (double)k > parity)
      parity = need - (double)k > 255 ? 255 : (unsigned)(need - (double)k);
  }
  if (k + parity > NN_FRAG_MAX_TOTAL)
    parity = (unsigned)(NN_FRAG_MAX_TOTAL - k);
  for (unsigned i = 0; i < NN_MIXCLIENT_MAX_MESSAGES && x == NN_MIXCLIENT_MAX_MESSAGES; i++)
    if (!c->exits[i].refs)
      x = i;
  if (x == NN_MIXCLIENT_MAX_MESSAGES || c->qlen + k + parity > c->cfg.max_queue)
    return NN_ERR_NOSPACE;
  if (!(all = malloc((k + parity) * body_len)))
    return NN_ERR_NOMEM;
  if ((err = nn_rng_fill(NULL, id, sizeof(id))) ||
      (err = nn_frag_split(body_len, id, deliver, msg, len, parity, all, &n))) {
    free(all);
    return err;
  }
  for (size_t i = 0; i < n; i++) {
    queued_t *q = &c->q[(c->qhead + c->qlen + i) % c->cfg.max_queue];
    if (!(q->body = malloc(body_len))) {
      for (size_t j = 0; j < i; j++)
        free(c->q[(c->qhead + c->qlen + j) % c->cfg.max_queue].body);
      free(all);
      return NN_ERR_NOMEM;
    }
    memcpy(q->body, all + i * body_len, body_len);
    q->exit = x;
  }
  /* fragments leave in a random order: the exit needs any k, a watcher of one mix learns less */
  for (size_t i = n; i > 1; i--) {
    uint8_t rb[4];
    if (nn_rng_fill(NULL, rb, sizeof(rb)))
      break;
    size_t j = ((size_t)rb[0] << 24 | (size_t)rb[1] << 16 | (size_t)rb[2] << 8 | rb[3]) % i;
    queued_t *a = &c->q[(c->qhead + c->qlen + i - 1) % c->cfg.max_queue],
             *b = &c->q[(c->qhead + c->qlen + j) % c->cfg.max_queue], t = *a;
    *a = *b;
    *b = t;
  }
  c->exits[x].refs = n;
  c->exits[x].id = *exit;
  c->exits[x].epoch = exit_epoch;
  c->exits[x].pk[0] = exit_keys[0];
  c->exits[x].pk[1] = exit_keys[1];
  /* A burst runs while real packets wait, from the moment they do: a stream of rate
   * burst - payload joins the payload stream, whose next event stays where it was (an
   * exponential wait has no memory, so the two together are a stream of rate burst). Without
   * it a message would first wait for the payload stream's next event, 1 / payload_rate on
   * average (1.7 s at 0.6/s; 5 s at P95). */
  if (!c->qlen && c->cfg.burst_rate > c->cfg.payload_rate) {
    uint64_t b = next_event(c, c->cfg.burst_rate - c->cfg.payload_rate, now_ms);
    if (b < c->next_payload)
      c->next_payload = b;
  }
  c->qlen += n;
  free(all);
  return NN_OK;
}

/* Route, delays and recipient; build and send. Returns 0 if no packet could be built. */
static int
emit(nn_mixclient_t *c, uint64_t now, const uint8_t *body, const nn_hash_t *to, const nn_hybrid_pk_t *to_pk,
     loop_t *loop)
{
  size_t layers = c->cfg.geom.hops - 1;
  uint32_t epoch = (uint32_t)(now / c->cfg.epoch_ms);
  nn_sphinx_hop_t route[NN_SPHINX_MAX_HOPS];
  nn_hash_t exit;
  nn_hybrid_pk_t exit_pk;

  /* the same draws whatever the packet carries: the route, then a delay per mix */
  if (nn_mixdir_route(c->dir, epoch, route, layers))
    return 0;
  for (size_t i = 0; i < layers; i++) {
    uint64_t d;
    int tries = 0;
    do
      d = exp_ms(c->cfg.rng, c->cfg.mean_delay_ms);
    while (d > c->cfg.max_delay_ms && ++tries < 64);
    route[i].delay_ms = (uint32_t)(d > c->cfg.max_delay_ms ? c->cfg.max_delay_ms : d);
  }
  if (!to) {
    if (!c->io.pick_exit(c->io.ctx, epoch, &exit, &exit_pk))
      return 0;
    to = &exit;
    to_pk = &exit_pk;
  }
  route[layers].node = *to;
  route[layers].pk = to_pk;
  route[layers].delay_ms = 0;
  if (nn_sphinx_build(c->sym, &c->cfg.geom, epoch, route, layers + 1, body, NULL, c->packet))
    return 0;
  if (loop) {
    loop->n = layers;
    for (size_t i = 0; i < layers; i++)
      memcpy(loop->mix[i].b, route[i].node.b, NN_HASH_LEN);
  }
  c->io.send(c->io.ctx, &route[0].node, c->packet, c->cfg.geom.packet_len);
  return 1;
}

/* The head of the queue leaves (sent or expired). */
static void
dequeue(nn_mixclient_t *c)
{
  queued_t *q = &c->q[c->qhead];
  free(q->body);
  q->body = NULL;
  c->exits[q->exit].refs--;
  c->qhead = (c->qhead + 1) % c->cfg.max_queue;
  c->qlen--;
}

static void
payload_event(nn_mixclient_t *c, uint64_t now)
{
  uint32_t epoch = (uint32_t)(now / c->cfg.epoch_ms);
  while (c->qlen) {
    queued_t *q = &c->q[c->qhead];
    const exit_t *x = &c->exits[q->exit];
    const nn_hybrid_pk_t *pk = epoch == x->epoch ? &x->pk[0] : epoch == x->epoch + 1 ? &x->pk[1] : NULL;
    if (!pk) { /* its exit's keys are for epochs gone by: the exit could not read it */
      dequeue(c);
      c->st.expired++;
      continue;
    }
    if (emit(c, now, q->body, &x->id, pk, NULL)) {
      dequeue(c);
      c->st.real_sent++;
    } else {
      c->st.no_route++;
    }
    return;
  }
  c->body[0] = NN_BODY_DROP;
  if (nn_rng_fill(NULL, c->body + 1, c->cfg.geom.body_len - 1) || !emit(c, now, c->body, NULL, NULL, NULL))
    c->st.no_route++;
  else
    c->st.drop_sent++;
}

static const self_key_t *
self_key(const nn_mixclient_t *c, uint32_t epoch)
{
  for (int i = 0; i < 2; i++)
    if (c->self[i].set && c->self[i].epoch == epoch)
      return &c->self[i];
  return NULL;
}

static void
loop_event(nn_mixclient_t *c, uint64_t now)
{
  const self_key_t *k = self_key(c, (uint32_t)(now / c->cfg.epoch_ms));
  loop_t *l;
  if (!k || c->nloops >= c->cfg.max_loops) {
    c->st.no_route++;
    return;
  }
  l = &c->loops[c->nloops];
  memset(l, 0, sizeof(*l));
  c->body[0] = NN_BODY_LOOP;
  if (nn_rng_fill(NULL, l->id, NN_LOOP_ID_LEN) || nn_rng_fill(NULL, c->body + 1, c->cfg.geom.body_len - 1)) {
    c->st.no_route++;
    return;
  }
  memcpy(c->body + 1, l->id, NN_LOOP_ID_LEN);
  if (!emit(c, now, c->body, &c->cfg.self, &k->pk, l)) {
    c->st.no_route++;
    return;
  }
  l->sent = now;
  c->nloops++;
  c->st.loops_sent++;
}

int
nn_mixclient_loop_back(nn_mixclient_t *c, const uint8_t *body, size_t len, uint64_t now_ms)
{
  if (len < 1 + NN_LOOP_ID_LEN || body[0] != NN_BODY_LOOP)
    return 0;
  for (size_t i = 0; i < c->nloops; i++) {
    loop_t *l = &c->loops[i];
    if (CRYPTO_memcmp(l->id, body + 1, NN_LOOP_ID_LEN))
      continue;
    for (size_t m = 0; m < l->n; m++)
      nn_mixdir_report(c->dir, &l->mix[m], 1);
    c->st.loops_back++;
    c->st.loop_rtt_ms_sum += now_ms - l->sent;
    loss_update(c, 0);
    c->loops[i] = c->loops[--c->nloops];
    return 1;
  }
  return 0;
}

void
nn_mixclient_tick(nn_mixclient_t *c, uint64_t now_ms)
{
  for (size_t i = 0; i < c->nloops;) {
    loop_t *l = &c->loops[i];
    if (now_ms >= l->sent + c->cfg.loop_timeout_ms) {
      for (size_t m = 0; m < l->n; m++)
        nn_mixdir_report(c->dir, &l->mix[m], 0);
      c->st.loops_lost++;
      loss_update(c, 1);
      c->loops[i] = c->loops[--c->nloops];
    } else {
      i++;
    }
  }
  /* after a stall of the caller (a suspended machine), the events missed are not made up in a
   * burst: the streams start afresh from now */
  if (c->next_payload + STALL_MS < now_ms)
    c->next_payload = next_event(c, c->cfg.payload_rate, now_ms);
  if (c->next_loop + STALL_MS < now_ms)
    c->next_loop = next_event(c, c->cfg.loop_rate, now_ms);
  /* each event draws the next time first: what the event sends cannot move the stream */
  while (c->next_payload <= now_ms) {
    uint64_t at = c->next_payload;
    int burst = c->qlen && c->cfg.burst_rate > c->cfg.payload_rate;
    c->next_payload = next_event(c, burst ? c->cfg.burst_rate : c->cfg.payload_rate, at);
    payload_event(c, at);
  }
  while (c->next_loop <= now_ms) {
    uint64_t at = c->next_loop;
    c->next_loop = next_event(c, c->cfg.loop_rate, at);
    loop_event(c, at);
  }
}

uint64_t
nn_mixclient_deadline(const nn_mixclient_t *c)
{
  uint64_t d = c->next_payload < c->next_loop ? c->next_payload : c->next_loop;
  for (size_t i = 0; i < c->nloops; i++)
    if (c->loops[i].sent + c->cfg.loop_timeout_ms < d)
      d = c->loops[i].sent + c->cfg.loop_timeout_ms;
  return d;
}

void
nn_mixclient_stats(const nn_mixclient_t *c, nn_mixclient_stats_t *st)
{
  *st = c->st;
  st->queued = c->qlen;
  st->loops_out = c->nloops;
  st->loss = c->losses >= 20 ? c->loss : 0;
}
