#include "mixnet/mix.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/keyhash.h"
#include "mixnet/replay.h"

#define SLOTS 5     /* previous, current, next, the one after, and one retiring with jobs still out */
#define BUCKETS 256 /* per-peer budget: previous hops hashed into this many shares */

typedef struct mix_epoch_t {
  int used;
  int accept; /* one of previous (in grace), current, next: packets for it are taken */
  int keep;   /* accept, or the epoch after next: its key is published, not used yet */
  uint32_t id;
  uint8_t seed[32];
  nn_hybrid_key_t key;
  nn_replay_t *seen;
  size_t jobs_out;
} mix_epoch_t;

struct nn_mix_t {
  nn_mix_cfg_t cfg;
  nn_mix_io_t io;
  mix_epoch_t ep[SLOTS];
  uint64_t next_turn; /* when the set of epochs changes next */
  nn_keyhash_t kh;
  uint32_t per_peer[BUCKETS];
  nn_mix_job_t **heap; /* held packets, earliest release first */
  size_t nheap;
  nn_sym_t **syms; /* idle symmetric contexts, one per job out at most */
  size_t nsyms;
  nn_mix_job_t **idle; /* jobs with their packet buffers, kept for the next packets */
  size_t nidle;
  uint64_t seq;
  nn_mix_stats_t st;
};

static const char *drop_names[NN_MIX_DROPS] = {
  "accepted", "forward",       "bad_length", "bad_version", "bad_ct", "bad_mac",   "bad_command", "tagged",
  "crypto",   "unknown_epoch", "replay",     "delay",       "full",   "peer_full", "not_a_mix",
};

const char *
nn_mix_drop_name(nn_mix_drop_t d)
{
  return (unsigned)d < NN_MIX_DROPS && d != 1 ? drop_names[d] : "unknown";
}

void
nn_mix_cfg_default(nn_mix_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  (void)nn_sphinx_geom_init(&cfg->geom, NN_SPHINX_DEFAULT_HOPS, NN_SPHINX_DEFAULT_LEN);
  cfg->epoch_ms = 3600000;
  cfg->grace_ms = 300000;
  cfg->max_delay_ms = 60000;
  cfg->max_packets = 2048;
  cfg->max_packets_per_peer = 256;
  cfg->replay_capacity = (size_t)1 << 21;
  cfg->relay = 1;
}

/* ---- epochs ---- */

static mix_epoch_t *
find_epoch(nn_mix_t *m, uint32_t id)
{
  for (int i = 0; i < SLOTS; i++)
    if (m->ep[i].used && m->ep[i].id == id)
      return &m->ep[i];
  return NULL;
}

static void
wipe_epoch(nn_mix_t *m, mix_epoch_t *e)
{
  nn_hybrid_key_clear(&e->key);
  nn_replay_free(e->seen);
  OPENSSL_cleanse(e, sizeof(*e));
  m->st.keys_wiped++;
}

/* The key of an epoch is a function of its seed: a restart with the seed has the same key. */
static nn_err_t
make_epoch(nn_mix_t *m, mix_epoch_t *e, uint32_t id, const uint8_t seed[32])
{
  nn_drbg_t d;
  nn_rng_t r;
  nn_err_t err;

  memset(e, 0, sizeof(*e));
  if (seed)
    memcpy(e->seed, seed, 32);
  else if ((err = nn_rng_fill(m->cfg.rng, e->seed, 32)))
    return err;
  nn_drbg_init(&d, e->seed);
  r = nn_drbg_rng(&d);
  err = nn_hybrid_keygen(&e->key, &r);
  OPENSSL_cleanse(&d, sizeof(d));
  if (err) {
    OPENSSL_cleanse(e, sizeof(*e));
    return err;
  }
  e->used = 1;
  e->id = id;
  m->st.keys_made++;
  return NN_OK; /* the replay filter comes with the epoch's first packet */
}

uint32_t
nn_mix_epoch_at(const nn_mix_t *m, uint64_t now_ms)
{
  return (uint32_t)(now_ms / m->cfg.epoch_ms);
}

/* Take packets for the previous epoch (within grace), the current one and the next; hold the key
 * of the one after (a descriptor published during an epoch announces the next two); wipe the rest
 * once no job uses them. */
static nn_err_t
turn(nn_mix_t *m, uint64_t now, const nn_mix_saved_key_t *saved, size_t nsaved)
{
  uint32_t cur = nn_mix_epoch_at(m, now);
  uint64_t start = (uint64_t)cur * m->cfg.epoch_ms;
  int prev_wanted = cur > 0 && now < start + m->cfg.grace_ms, complete = 1;
  uint32_t want[4] = { cur, cur + 1, cur + 2, cur - 1 }; /* want[2] is kept, not accepted */
  int nwant = prev_wanted ? 4 : 3;
  nn_err_t err = NN_OK;

  for (int i = 0; i < SLOTS; i++) {
    mix_epoch_t *e = &m->ep[i];
    if (!e->used)
      continue;
    e->accept = e->keep = 0;
    for (int w = 0; w < nwant; w++)
      if (e->id == want[w]) {
        e->keep = 1;
        e->accept = w != 2;
      }
    if (!e->keep && !e->jobs_out)
      wipe_epoch(m, e);
  }
  for (int w = 0; w < nwant && !err; w++) {
    if (find_epoch(m, want[w]))
      continue;
    const uint8_t *seed = NULL;
    for (size_t s = 0; s < nsaved; s++)
      if (saved[s].epoch == want[w])
        seed = saved[s].seed;
    if (w == 3 && !seed) /* a previous epoch is only worth keeping with the key it had */
      continue;
    mix_epoch_t *slot = NULL;
    for (int i = 0; i < SLOTS && !slot; i++)
      if (!m->ep[i].used)
        slot = &m->ep[i];
    if (!slot) { /* every slot holds a retiring epoch with jobs out */
      complete = 0;
      break;
    }
    if (!(err = make_epoch(m, slot, want[w], seed))) {
      slot->keep = 1;
      slot->accept = w != 2;
    }
  }
  m->next_turn = prev_wanted ? start + m->cfg.grace_ms : start + m->cfg.epoch_ms;
  if (err || !complete) /* a key is missing: try again in a second, not at the next turn */
    m->next_turn = now + 1000;
  m->st.epoch = cur;
  return err;
}

/* ---- held packets: a binary heap on (release, seq) ---- */

static int
earlier(const nn_mix_job_t *a, const nn_mix_job_t *b)
{
  return a->release < b->release || (a->release == b->release && a->seq < b->seq);
}

static void
heap_push(nn_mix_t *m, nn_mix_job_t *j)
{
  size_t i = m->nheap++;
  m->heap[i] = j;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!earlier(m->heap[i], m->heap[p]))
      break;
    nn_mix_job_t *t = m->heap[p];
    m->heap[p] = m->heap[i];
    m->heap[i] = t;
    i = p;
  }
}

static nn_mix_job_t *
heap_pop(nn_mix_t *m)
{
  nn_mix_job_t *top = m->heap[0];
  m->heap[0] = m->heap[--m->nheap];
  for (size_t i = 0;;) {
    size_t l = 2 * i + 1, r = l + 1, s = i;
    if (l < m->nheap && earlier(m->heap[l], m->heap[s]))
      s = l;
    if (r < m->nheap && earlier(m->heap[r], m->heap[s]))
      s = r;
    if (s == i)
      break;
    nn_mix_job_t *t = m->heap[s];
    m->heap[s] = m->heap[i];
    m->heap[i] = t;
    i = s;
  }
  return top;
}

/* ---- jobs ---- */

/* A packet leaves the mix. Its job and buffer are kept for the next one: a mix that allocated
 * and freed 36 KiB per packet had malloc return the memory to the kernel and fault it back in,
 * and with workers beside it the page faults contended for the address space's lock (2 workers
 * mixed 1.1-1.3x what one did, instead of 1.8-1.9x). At most max_packets are ever kept. */
static void
job_free(nn_mix_t *m, nn_mix_job_t *j)
{
  uint8_t *packet = j->packet;
  if (j->out.verdict == NN_SPHINX_DELIVER) /* the one layer that was someone's plaintext */
    OPENSSL_cleanse(packet, j->len);
  m->per_peer[j->bucket]--;
  m->st.in_mix--;
  memset(j, 0, sizeof(*j));
  j->packet = packet;
  m->idle[m->nidle++] = j;
}

static nn_mix_job_t *
job_new(nn_mix_t *m)
{
  nn_mix_job_t *j;
  if (m->nidle)
    return m->idle[--m->nidle];
  if (!(j = calloc(1, sizeof(*j))))
    return NULL;
  if (!(j->packet = malloc(m->cfg.geom.packet_len))) {
    free(j);
    return NULL;
  }
  return j;
}

static void
drop(nn_mix_t *m, nn_mix_job_t *j, nn_mix_drop_t why)
{
  m->st.dropped[why]++;
  job_free(m, j);
}

nn_mix_drop_t
nn_mix_recv(nn_mix_t *m, const nn_hash_t *from, const uint8_t *packet, size_t len, uint64_t now_ms)
{
  const nn_sphinx_geom_t *g = &m->cfg.geom;
  mix_epoch_t *e = NULL;
  nn_mix_drop_t why = NN_MIX_ACCEPTED;
  uint32_t epoch;
  unsigned bucket = 0;

  m->st.received++;
  if (now_ms >= m->next_turn)
    nn_mix_tick(m, now_ms);
  if (len != g->packet_len)
    why = NN_MIX_BAD_LENGTH;
  else if (packet[0] != NN_SPHINX_VERSION)
    why = NN_MIX_BAD_VERSION;
  else if (nn_sphinx_epoch(packet, len, &epoch) || !(e = find_epoch(m, epoch)) || !e->accept)
    why = NN_MIX_UNKNOWN_EPOCH;
  else if (m->st.in_mix >= m->cfg.max_packets)
    why = NN_MIX_FULL;
  else if (m->per_peer[bucket = (unsigned)(nn_keyhash(&m->kh, from->b, NN_HASH_LEN) % BUCKETS)] >=
           m->cfg.max_packets_per_peer)
    why = NN_MIX_PEER_FULL;
  if (why) {
    m->st.dropped[why]++;
    return why;
  }

  nn_mix_job_t *j = NULL;
  nn_sym_t *sym = NULL;
  if (!m->nsyms && !nn_sym_new(&sym))
    m->syms[m->nsyms++] = sym;
  if (!m->nsyms || !(j = job_new(m))) {
    m->st.dropped[NN_MIX_CRYPTO]++;
    return NN_MIX_CRYPTO;
  }
  memcpy(j->packet, packet, len);
  j->len = len;
  j->mix = m;
  j->epoch = e;
  j->sym = m->syms[--m->nsyms];
  j->bucket = bucket;
  e->jobs_out++;
  m->per_peer[bucket]++;
  if (++m->st.in_mix > m->st.max_in_mix)
    m->st.max_in_mix = m->st.in_mix;
  if (m->io.offload) {
    m->st.decrypting++;
    j->work.lazy = 1; /* a packet waits in the mix anyway: the pool may batch its hand-back */
    j->ctx = m->io.ctx;
    m->io.offload(m->io.ctx, j);
  } else {
    nn_mix_job_run(j);
    nn_mix_job_done(m, j, now_ms, 0);
  }
  return NN_MIX_ACCEPTED;
}

void
nn_mix_job_run(nn_mix_job_t *j)
{
  nn_sphinx_unwrap(j->sym, &j->mix->cfg.geom, &j->epoch->key, j->packet, j->len, &j->out);
}

void
nn_mix_job_done(nn_mix_t *m, nn_mix_job_t *j, uint64_t now_ms, int cancelled)
{
  mix_epoch_t *e = j->epoch;
  nn_mix_drop_t why = NN_MIX_ACCEPTED;

  if (m->io.offload)
    m->st.decrypting--;
  m->syms[m->nsyms++] = j->sym; /* room for one per job: the array holds max_packets */
  j->sym = NULL;
  /* every packet whose MAC verified spends its tag, whatever it turns out to be (PROTOCOL 9.4
   * step 3); the filter lives with the key this job holds, and is made with the first packet */
  if (!cancelled && j->out.have_replay && !e->seen && nn_replay_new(&e->seen, m->cfg.replay_capacity))
    why = NN_MIX_CRYPTO; /* no memory for the filter: no packet of the epoch can be checked */
  else if (cancelled)
    why = NN_MIX_CRYPTO;
  else if (j->out.have_replay && nn_replay_check_and_add(e->seen, j->out.replay))
    why = NN_MIX_REPLAY;
  else if (j->out.verdict != NN_SPHINX_FORWARD && j->out.verdict != NN_SPHINX_DELIVER)
    why = (nn_mix_drop_t)j->out.verdict;
  else if (j->out.delay_ms > m->cfg.max_delay_ms)
    why = NN_MIX_DELAY;
  else if (j->out.verdict == NN_SPHINX_FORWARD && !m->cfg.relay)
    why = NN_MIX_NOT_A_MIX;
  e->jobs_out--;
  j->epoch = NULL;
  if (!e->keep && !e->jobs_out)
    wipe_epoch(m, e);
  if (why) {
    drop(m, j, why);
    return;
  }
  j->release = now_ms + j->out.delay_ms;
  j->seq = m->seq++;
  heap_push(m, j);
}

void
nn_mix_tick(nn_mix_t *m, uint64_t now_ms)
{
  if (now_ms >= m->next_turn)
    (void)turn(m, now_ms, NULL, 0);
  while (m->nheap && m->heap[0]->release <= now_ms) {
    nn_mix_job_t *j = heap_pop(m);
    if (j->out.verdict == NN_SPHINX_FORWARD) {
      m->st.forwarded++;
      m->io.send(m->io.ctx, &j->out.next, j->packet, j->len);
    } else {
      m->st.delivered++;
      m->io.deliver(m->io.ctx, j->out.body, m->cfg.geom.body_len);
    }
    job_free(m, j);
  }
}

uint64_t
nn_mix_deadline(const nn_mix_t *m)
{
  uint64_t d = m->next_turn;
  if (m->nheap && m->heap[0]->release < d)
    d = m->heap[0]->release;
  return d;
}

/* ---- life ---- */

nn_err_t
nn_mix_new(nn_mix_t **out, const nn_mix_cfg_t *cfg, const nn_mix_io_t *io, const nn_mix_saved_key_t *saved,
           size_t nsaved, uint64_t now_ms)
{
  nn_mix_t *m;
  nn_sphinx_geom_t g;
  nn_err_t err;

  *out = NULL;
  if (nn_sphinx_geom_init(&g, cfg->geom.hops, cfg->geom.packet_len) || memcmp(&g, &cfg->geom, sizeof(g)) ||
      cfg->epoch_ms < 1000 || cfg->grace_ms >= cfg->epoch_ms || !cfg->max_packets || !cfg->max_packets_per_peer ||
      !cfg->replay_capacity || cfg->replay_capacity > NN_REPLAY_MAX_CAPACITY || !io->send || !io->deliver ||
      now_ms / cfg->epoch_ms >= UINT32_MAX - 1)
    return NN_ERR_ARG;
  if (!(m = calloc(1, sizeof(*m))))
    return NN_ERR_NOMEM;
  m->cfg = *cfg;
  m->io = *io;
  if (!(m->heap = calloc(cfg->max_packets, sizeof(*m->heap))) ||
      !(m->syms = calloc(cfg->max_packets, sizeof(*m->syms))) ||
      !(m->idle = calloc(cfg->max_packets, sizeof(*m->idle)))) {
    nn_mix_free(m);
    return NN_ERR_NOMEM;
  }
  if ((err = nn_keyhash_init(&m->kh, cfg->rng)) || (err = turn(m, now_ms, saved, nsaved))) {
    nn_mix_free(m);
    return err;
  }
  *out = m;
  return NN_OK;
}

void
nn_mix_free(nn_mix_t *m)
{
  if (!m)
    return;
  while (m->nheap)
    job_free(m, heap_pop(m));
  for (int i = 0; i < SLOTS; i++)
    if (m->ep[i].used)
      wipe_epoch(m, &m->ep[i]);
  for (size_t i = 0; i < m->nsyms; i++)
    nn_sym_free(m->syms[i]);
  for (size_t i = 0; i < m->nidle; i++) {
    free(m->idle[i]->packet);
    free(m->idle[i]);
  }
  free(m->idle);
  nn_keyhash_free(&m->kh);
  free(m->syms);
  free(m->heap);
  free(m);
}

const nn_hybrid_pk_t *
nn_mix_public_key(const nn_mix_t *m, uint32_t epoch)
{
  for (int i = 0; i < SLOTS; i++)
    if (m->ep[i].used && m->ep[i].keep && m->ep[i].id == epoch)
      return &m->ep[i].key.pk;
  return NULL;
}

size_t
nn_mix_saved_keys(const nn_mix_t *m, nn_mix_saved_key_t out[NN_MIX_SAVED_KEYS])
{
  size_t n = 0;
  for (int i = 0; i < SLOTS && n < NN_MIX_SAVED_KEYS; i++)
    if (m->ep[i].used && m->ep[i].keep) {
      out[n].epoch = m->ep[i].id;
      memcpy(out[n].seed, m->ep[i].seed, 32);
      n++;
    }
  return n;
}

void
nn_mix_stats(const nn_mix_t *m, nn_mix_stats_t *st)
{
  *st = m->st;
  st->keys = 0;
  st->replay_bytes = 0;
  st->replay_tags = 0;
  for (int i = 0; i < SLOTS; i++) {
    if (!m->ep[i].used)
      continue;
    st->keys++;
    if (!m->ep[i].seen)
      continue;
    st->replay_bytes += nn_replay_bytes(m->ep[i].seen);
    if (m->ep[i].id == m->st.epoch)
      st->replay_tags = nn_replay_count(m->ep[i].seen);
  }
}

const struct nn_replay_t *
nn_mix_replay(const nn_mix_t *m, uint32_t epoch)
{
  for (int i = 0; i < SLOTS; i++)
    if (m->ep[i].used && m->ep[i].id == epoch)
      return m->ep[i].seen;
  return NULL;
}

nn_err_t
nn_mix_replay_restore(nn_mix_t *m, uint32_t epoch, const uint64_t *bits, size_t nwords, size_t count)
{
  for (int i = 0; i < SLOTS; i++) {
    mix_epoch_t *e = &m->ep[i];
    if (!e->used || e->id != epoch || !e->accept)
      continue;
    if (!e->seen && nn_replay_new(&e->seen, m->cfg.replay_capacity))
      return NN_ERR_NOMEM;
    return nn_replay_merge(e->seen, bits, nwords, count);
  }
  return NN_ERR_NOTFOUND;
}
