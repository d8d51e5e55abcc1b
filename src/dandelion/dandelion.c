/*
 * Dandelion++ core. Every table is a small array scanned linearly: the caps keep them bounded
 * and a node holds at most a few hundred peers, so simplicity wins over hashing here.
 */
#include "dandelion/dandelion.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/sha3.h"

#define NO_PEER UINT32_MAX
enum { ST_STEM = 1, ST_MEM = 2 };

typedef struct dl_peer_t {
  uint32_t id;
  uint8_t outbound;
  uint32_t pin;          /* relay this source is pinned to for the epoch, NO_PEER = none yet */
} dl_peer_t;

typedef struct dl_tx_t {
  nn_hash_t id;
  uint8_t *data;
  size_t len;
  int state;
  uint64_t seq;          /* insertion order: eviction takes the lowest */
  uint64_t embargo_at;   /* stem only */
} dl_tx_t;

typedef struct dl_inv_t { nn_hash_t id; uint32_t peer; uint64_t at; } dl_inv_t;
typedef struct dl_req_t { nn_hash_t id; uint64_t at; } dl_req_t;

struct nn_dl_t {
  nn_dl_cfg_t cfg;
  nn_dl_io_t io;
  dl_peer_t *peers; size_t npeers;
  uint32_t relays[2]; size_t nrelays;
  uint32_t own_pin;
  int fluff;
  uint64_t epoch_end;
  dl_tx_t *txs; size_t ntx, captx;
  size_t stem_count, stem_bytes, mem_count, mem_bytes;
  uint64_t seq;
  dl_inv_t *invs; size_t ninv;
  dl_req_t *reqs; size_t nreq;
  nn_dl_stats_t st;
};

int nn_dl_route_available(nn_route_t m) { return m == NN_ROUTE_DIRECT || m == NN_ROUTE_DANDELION; }

const char *nn_dl_route_str(nn_route_t m) {
  switch (m) {
  case NN_ROUTE_DIRECT: return "direct";
  case NN_ROUTE_DANDELION: return "dandelion";
  case NN_ROUTE_MIXNET: return "mixnet (not available yet)";
  case NN_ROUTE_DANDELION_MIXNET: return "dandelion+mixnet (not available yet)";
  }
  return "unknown";
}

void nn_dl_cfg_default(nn_dl_cfg_t *c) {
  memset(c, 0, sizeof *c);
  c->route = NN_ROUTE_DANDELION;
  c->fluff_prob = 0.1;
  c->epoch_ms = 600000; c->epoch_jitter_ms = 30000;
  c->embargo_base_ms = 5000; c->embargo_mean_ms = 39000;
  c->inv_mean_in_ms = 5000; c->inv_mean_out_ms = 2000;
  c->request_timeout_ms = 30000;
  c->max_tx_bytes = 8u << 20;
  c->max_peers = 256;
  c->stem_max_count = 1000; c->stem_max_bytes = 64u << 20;
  c->mem_max_count = 10000; c->mem_max_bytes = 256u << 20;
  c->max_pending_inv = 65536; c->max_requests = 4096;
}

static uint64_t rnd64(nn_dl_t *dl) {
  uint8_t b[8] = {0};
  uint64_t v = 0;
  (void)nn_rng_fill(dl->cfg.rng, b, sizeof b);  /* a failed fill leaves zeros: still bounded */
  for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
  return v;
}
static uint32_t rnd_below(nn_dl_t *dl, uint32_t n) { return n ? (uint32_t)(rnd64(dl) % n) : 0; }

/* ln(u) for u in (0,1] without libm (the library does not link it): u = m * 2^e, m in [1,2),
 * ln m = 2 atanh((m-1)/(m+1)), whose series converges fast since the argument is <= 1/3. */
static double ln01(double u) {
  int e = 0;
  while (u < 1.0) { u *= 2.0; e--; }
  double z = (u - 1.0) / (u + 1.0), z2 = z * z, term = z, s = 0;
  for (int k = 1; k < 40; k += 2) { s += term / k; term *= z2; }
  return 2.0 * s + e * 0.69314718055994530942;
}

/* Exponential with the given mean: the paper's embargo and diffusion model (memoryless, so
 * the time already waited says nothing about the time left). Capped at 20 means. */
static uint64_t rnd_exp(nn_dl_t *dl, uint32_t mean) {
  double u = (double)((rnd64(dl) >> 11) + 1) / 9007199254740992.0;  /* (0,1] */
  double x = -ln01(u);
  if (x > 20) x = 20;
  return (uint64_t)(x * mean);
}

static dl_peer_t *peer_find(nn_dl_t *dl, uint32_t id) {
  for (size_t i = 0; i < dl->npeers; i++) if (dl->peers[i].id == id) return &dl->peers[i];
  return NULL;
}

static int is_relay(const nn_dl_t *dl, uint32_t id) {
  for (size_t i = 0; i < dl->nrelays; i++) if (dl->relays[i] == id) return 1;
  return 0;
}

/* Fill the relay slots with random outbound peers not already relays (distinct when possible). */
static void fill_relays(nn_dl_t *dl) {
  while (dl->nrelays < 2) {
    uint32_t cand = 0, n = 0;
    for (size_t i = 0; i < dl->npeers; i++)
      if (dl->peers[i].outbound && !is_relay(dl, dl->peers[i].id)) {
        n++;
        if (rnd_below(dl, n) == 0) cand = dl->peers[i].id;  /* reservoir sampling */
      }
    if (!n) return;
    dl->relays[dl->nrelays++] = cand;
  }
}

static void new_epoch(nn_dl_t *dl, uint64_t now) {
  uint32_t j = dl->cfg.epoch_jitter_ms;
  int64_t jit = j ? (int64_t)rnd_below(dl, 2 * j + 1) - (int64_t)j : 0;
  dl->epoch_end = now + (uint64_t)((int64_t)dl->cfg.epoch_ms + jit);
  dl->fluff = (double)(rnd64(dl) >> 11) / 9007199254740992.0 < dl->cfg.fluff_prob;
  dl->nrelays = 0;
  fill_relays(dl);
  dl->own_pin = NO_PEER;
  for (size_t i = 0; i < dl->npeers; i++) dl->peers[i].pin = NO_PEER;
  dl->st.epochs++;
  if (dl->fluff) dl->st.fluff_epochs++;
}

/* The relay pinned to a source (a peer, or ourselves when pin == &own_pin): the least-used
 * relay with a random tie-break (BIP156, Monero), kept for the whole epoch. \a avoid is never
 * chosen (do not stem a transaction back to the peer that sent it). */
static uint32_t pinned_relay(nn_dl_t *dl, uint32_t *pin, uint32_t avoid) {
  if (*pin != NO_PEER && is_relay(dl, *pin) && *pin != avoid) return *pin;
  size_t use[2] = {0, 0};
  for (size_t r = 0; r < dl->nrelays; r++) {
    if (dl->own_pin == dl->relays[r]) use[r]++;
    for (size_t i = 0; i < dl->npeers; i++) if (dl->peers[i].pin == dl->relays[r]) use[r]++;
  }
  uint32_t best = NO_PEER; size_t bu = 0, ties = 0;
  for (size_t r = 0; r < dl->nrelays; r++) {
    if (dl->relays[r] == avoid) continue;
    if (best == NO_PEER || use[r] < bu) { best = dl->relays[r]; bu = use[r]; ties = 1; }
    else if (use[r] == bu && rnd_below(dl, (uint32_t)++ties) == 0) best = dl->relays[r];
  }
  if (best != NO_PEER) *pin = best;
  return best;
}

static dl_tx_t *tx_find(nn_dl_t *dl, const nn_hash_t *id) {
  for (size_t i = 0; i < dl->ntx; i++) if (!memcmp(dl->txs[i].id.b, id->b, NN_HASH_LEN)) return &dl->txs[i];
  return NULL;
}

static void tx_drop(nn_dl_t *dl, size_t i) {
  dl_tx_t *t = &dl->txs[i];
  if (t->state == ST_STEM) { dl->stem_count--; dl->stem_bytes -= t->len; }
  else { dl->mem_count--; dl->mem_bytes -= t->len; }
  free(t->data);
  dl->txs[i] = dl->txs[--dl->ntx];
}

/* Evict the oldest of \a state until \a len more bytes and one more entry fit. */
static void make_room(nn_dl_t *dl, int state, size_t len) {
  size_t maxc = state == ST_STEM ? dl->cfg.stem_max_count : dl->cfg.mem_max_count;
  size_t maxb = state == ST_STEM ? dl->cfg.stem_max_bytes : dl->cfg.mem_max_bytes;
  for (;;) {
    size_t c = state == ST_STEM ? dl->stem_count : dl->mem_count;
    size_t b = state == ST_STEM ? dl->stem_bytes : dl->mem_bytes;
    if (c + 1 <= maxc && b + len <= maxb) return;
    size_t old = SIZE_MAX;
    for (size_t i = 0; i < dl->ntx; i++)
      if (dl->txs[i].state == state && (old == SIZE_MAX || dl->txs[i].seq < dl->txs[old].seq)) old = i;
    if (old == SIZE_MAX) return;
    tx_drop(dl, old);
    dl->st.evicted++;
  }
}

static dl_tx_t *tx_add(nn_dl_t *dl, const nn_hash_t *id, const uint8_t *data, size_t len, int state) {
  size_t maxb = state == ST_STEM ? dl->cfg.stem_max_bytes : dl->cfg.mem_max_bytes;
  if (len > maxb) return NULL;
  make_room(dl, state, len);
  if (dl->ntx == dl->captx) {
    size_t nc = dl->captx ? dl->captx * 2 : 16;
    dl_tx_t *n = realloc(dl->txs, nc * sizeof *n);
    if (!n) return NULL;
    dl->txs = n; dl->captx = nc;
  }
  uint8_t *copy = malloc(len);
  if (!copy) return NULL;
  memcpy(copy, data, len);
  dl_tx_t *t = &dl->txs[dl->ntx++];
  memset(t, 0, sizeof *t);
  t->id = *id; t->data = copy; t->len = len; t->state = state; t->seq = dl->seq++;
  if (state == ST_STEM) { dl->stem_count++; dl->stem_bytes += len; }
  else { dl->mem_count++; dl->mem_bytes += len; }
  return t;
}

static void req_forget(nn_dl_t *dl, const nn_hash_t *id) {
  for (size_t i = 0; i < dl->nreq; i++)
    if (!memcmp(dl->reqs[i].id.b, id->b, NN_HASH_LEN)) { dl->reqs[i] = dl->reqs[--dl->nreq]; return; }
}

/* Schedule the INV of \a id to every peer but \a from, each after its own exponential delay
 * (diffusion: no single arrival order for a spy to read the origin from). */
static void announce(nn_dl_t *dl, const nn_hash_t *id, uint32_t from, uint64_t now) {
  for (size_t i = 0; i < dl->npeers; i++) {
    if (dl->peers[i].id == from) continue;
    if (dl->ninv >= dl->cfg.max_pending_inv) { dl->st.inv_dropped++; continue; }
    uint32_t mean = dl->peers[i].outbound ? dl->cfg.inv_mean_out_ms : dl->cfg.inv_mean_in_ms;
    dl_inv_t *v = &dl->invs[dl->ninv++];
    v->id = *id; v->peer = dl->peers[i].id; v->at = now + 1 + rnd_exp(dl, mean);
  }
}

/* \a t (stem, or NULL with data) enters the mempool: deliver and announce. */
static nn_err_t to_mempool(nn_dl_t *dl, dl_tx_t *t, const nn_hash_t *id, const uint8_t *data,
                           size_t len, uint32_t from, nn_dl_via_t via, uint64_t now) {
  if (t) { /* promote: cancel the embargo by leaving the stempool */
    nn_hash_t tid = t->id;
    uint8_t *d = t->data; size_t l = t->len;
    t->data = NULL;
    dl->stem_count--; dl->stem_bytes -= l;
    dl->txs[t - dl->txs] = dl->txs[--dl->ntx];
    t = tx_add(dl, &tid, d, l, ST_MEM);
    free(d);
  } else {
    t = tx_add(dl, id, data, len, ST_MEM);
  }
  if (!t) return NN_ERR_NOMEM;
  req_forget(dl, &t->id);
  nn_hash_t tid = t->id;
  if (dl->io.deliver) dl->io.deliver(dl->io.ctx, t->data, t->len, via, from);
  announce(dl, &tid, from, now);
  return NN_OK;
}

static nn_err_t check(nn_dl_t *dl, const uint8_t *tx, size_t len, nn_hash_t *id) {
  if (!tx || !len) return NN_ERR_ARG;
  if (len > dl->cfg.max_tx_bytes) { dl->st.refused++; return NN_ERR_TOO_LONG; }
  return nn_sha3_256(id, tx, len);
}

/* Hold \a tx in the stempool with an embargo and stem it to \a relay (NO_PEER: none yet; the
 * embargo then fluffs it, which is also what defeats a relay that black-holes it). */
static nn_err_t stem(nn_dl_t *dl, const nn_hash_t *id, const uint8_t *tx, size_t len,
                     uint32_t relay, uint64_t now) {
  dl_tx_t *t = tx_add(dl, id, tx, len, ST_STEM);
  if (!t) return NN_ERR_NOMEM;
  t->embargo_at = now + dl->cfg.embargo_base_ms + rnd_exp(dl, dl->cfg.embargo_mean_ms);
  if (relay != NO_PEER && dl->io.send_stem) { dl->st.stems_out++; dl->io.send_stem(dl->io.ctx, relay, tx, len); }
  return NN_OK;
}

nn_err_t nn_dl_new(nn_dl_t **out, const nn_dl_cfg_t *cfg, const nn_dl_io_t *io, uint64_t now) {
  if (!out || !cfg || !io) return NN_ERR_ARG;
  *out = NULL;
  if (!nn_dl_route_available(cfg->route)) return NN_ERR_ARG;  /* mixnet modes: not yet */
  if (!(cfg->fluff_prob >= 0.05 && cfg->fluff_prob <= 0.5)) return NN_ERR_ARG;
  if (!cfg->max_peers || !cfg->epoch_ms || cfg->epoch_jitter_ms >= cfg->epoch_ms) return NN_ERR_ARG;
  nn_dl_t *dl = calloc(1, sizeof *dl);
  if (!dl) return NN_ERR_NOMEM;
  dl->cfg = *cfg; dl->io = *io;
  dl->peers = calloc(cfg->max_peers, sizeof *dl->peers);
  dl->invs = calloc(cfg->max_pending_inv ? cfg->max_pending_inv : 1, sizeof *dl->invs);
  dl->reqs = calloc(cfg->max_requests ? cfg->max_requests : 1, sizeof *dl->reqs);
  if (!dl->peers || !dl->invs || !dl->reqs) { nn_dl_free(dl); return NN_ERR_NOMEM; }
  new_epoch(dl, now);
  *out = dl;
  return NN_OK;
}

void nn_dl_free(nn_dl_t *dl) {
  if (!dl) return;
  for (size_t i = 0; i < dl->ntx; i++) free(dl->txs[i].data);
  free(dl->txs); free(dl->peers); free(dl->invs); free(dl->reqs);
  free(dl);
}

nn_err_t nn_dl_peer_add(nn_dl_t *dl, uint32_t peer, int outbound, uint64_t now) {
  (void)now;
  if (peer == NO_PEER || peer_find(dl, peer)) return NN_ERR_ARG;
  if (dl->npeers >= dl->cfg.max_peers) return NN_ERR_NOSPACE;
  dl->peers[dl->npeers++] = (dl_peer_t){.id = peer, .outbound = outbound ? 1 : 0, .pin = NO_PEER};
  if (outbound) fill_relays(dl);  /* an epoch that began short of outbound peers fills up */
  return NN_OK;
}

void nn_dl_peer_remove(nn_dl_t *dl, uint32_t peer, uint64_t now) {
  (void)now;
  dl_peer_t *p = peer_find(dl, peer);
  if (!p) return;
  *p = dl->peers[--dl->npeers];
  for (size_t i = 0; i < dl->ninv;)
    if (dl->invs[i].peer == peer) dl->invs[i] = dl->invs[--dl->ninv]; else i++;
  if (is_relay(dl, peer)) {
    size_t k = 0;
    for (size_t i = 0; i < dl->nrelays; i++) if (dl->relays[i] != peer) dl->relays[k++] = dl->relays[i];
    dl->nrelays = k;
    fill_relays(dl);  /* a replacement for the rest of the epoch; its sources re-pin on use */
  }
}

nn_err_t nn_dl_submit(nn_dl_t *dl, const uint8_t *tx, size_t len, uint64_t now) {
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e) return e;
  if (tx_find(dl, &id)) return NN_OK;
  if (dl->cfg.route == NN_ROUTE_DIRECT) return to_mempool(dl, NULL, &id, tx, len, NO_PEER, NN_DL_VIA_DIRECT, now);
  /* Always stemmed, even in a fluff epoch: fluffing our own would make us the first fluffer. */
  return stem(dl, &id, tx, len, pinned_relay(dl, &dl->own_pin, NO_PEER), now);
}

nn_err_t nn_dl_on_stem(nn_dl_t *dl, uint32_t peer, const uint8_t *tx, size_t len, uint64_t now) {
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e) return e;
  if (tx_find(dl, &id)) return NN_OK;
  dl_peer_t *p = peer_find(dl, peer);
  if (!p) return NN_ERR_ARG;
  dl->st.stems_in++;
  if (dl->fluff) { dl->st.stem_fluffed++; return to_mempool(dl, NULL, &id, tx, len, peer, NN_DL_VIA_STEM_FLUFF, now); }
  uint32_t relay = pinned_relay(dl, &p->pin, peer);
  if (relay == NO_PEER) { /* nowhere to stem */
    dl->st.stem_fluffed++;
    return to_mempool(dl, NULL, &id, tx, len, peer, NN_DL_VIA_STEM_FLUFF, now);
  }
  return stem(dl, &id, tx, len, relay, now);
}

nn_err_t nn_dl_on_fluff(nn_dl_t *dl, uint32_t peer, const uint8_t *tx, size_t len, uint64_t now) {
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e) return e;
  dl_tx_t *t = tx_find(dl, &id);
  if (t && t->state == ST_MEM) return NN_OK;
  return to_mempool(dl, t, &id, tx, len, peer, NN_DL_VIA_FLUFF, now);
}

void nn_dl_on_inv(nn_dl_t *dl, uint32_t peer, const nn_hash_t *id, uint64_t now) {
  /* A stem-only id is requested like an unknown one: not asking would tell the announcer we
   * hold it in the stempool. */
  if (nn_dl_have(dl, id) || !peer_find(dl, peer)) return;
  for (size_t i = 0; i < dl->nreq;) {
    if (now >= dl->reqs[i].at + dl->cfg.request_timeout_ms) { dl->reqs[i] = dl->reqs[--dl->nreq]; continue; }
    if (!memcmp(dl->reqs[i].id.b, id->b, NN_HASH_LEN)) return;  /* already asked the first announcer */
    i++;
  }
  if (dl->nreq >= dl->cfg.max_requests) return;
  dl->reqs[dl->nreq++] = (dl_req_t){.id = *id, .at = now};
  if (dl->io.send_getdata) dl->io.send_getdata(dl->io.ctx, peer, id);
}

void nn_dl_on_getdata(nn_dl_t *dl, uint32_t peer, const nn_hash_t *id, uint64_t now) {
  (void)now;
  dl_tx_t *t = tx_find(dl, id);
  if (!t || t->state != ST_MEM || !peer_find(dl, peer)) return;  /* stempool: silence, as unknown */
  if (dl->io.send_tx) dl->io.send_tx(dl->io.ctx, peer, t->data, t->len);
}

int nn_dl_have(const nn_dl_t *dl, const nn_hash_t *id) {
  for (size_t i = 0; i < dl->ntx; i++)
    if (dl->txs[i].state == ST_MEM && !memcmp(dl->txs[i].id.b, id->b, NN_HASH_LEN)) return 1;
  return 0;
}

void nn_dl_tick(nn_dl_t *dl, uint64_t now) {
  if (now >= dl->epoch_end) new_epoch(dl, now);
  for (size_t i = 0; i < dl->ntx;) {
    dl_tx_t *t = &dl->txs[i];
    if (t->state == ST_STEM && now >= t->embargo_at) {
      dl->st.embargo_fired++;
      if (to_mempool(dl, t, NULL, NULL, 0, NO_PEER, NN_DL_VIA_EMBARGO, now)) { i++; continue; }
      i = 0;  /* the array was reshuffled; rescan (bounded by the stempool cap) */
      continue;
    }
    i++;
  }
  for (size_t i = 0; i < dl->ninv;) {
    if (now >= dl->invs[i].at) {
      dl_inv_t v = dl->invs[i];
      dl->invs[i] = dl->invs[--dl->ninv];
      if (dl->io.send_inv) dl->io.send_inv(dl->io.ctx, v.peer, &v.id);
    } else i++;
  }
}

uint64_t nn_dl_deadline(const nn_dl_t *dl) {
  uint64_t d = dl->epoch_end;
  for (size_t i = 0; i < dl->ntx; i++)
    if (dl->txs[i].state == ST_STEM && dl->txs[i].embargo_at < d) d = dl->txs[i].embargo_at;
  for (size_t i = 0; i < dl->ninv; i++) if (dl->invs[i].at < d) d = dl->invs[i].at;
  return d;
}

const char *nn_dl_via_str(nn_dl_via_t via) {
  switch (via) {
  case NN_DL_VIA_FLUFF: return "fluff";
  case NN_DL_VIA_STEM_FLUFF: return "stem-fluff";
  case NN_DL_VIA_EMBARGO: return "embargo";
  case NN_DL_VIA_DIRECT: return "direct";
  }
  return "?";
}

int nn_dl_fluff_epoch(const nn_dl_t *dl) { return dl->fluff; }
uint64_t nn_dl_epoch_end(const nn_dl_t *dl) { return dl->epoch_end; }
size_t nn_dl_relays(const nn_dl_t *dl, uint32_t out[2]) {
  for (size_t i = 0; i < dl->nrelays; i++) out[i] = dl->relays[i];
  return dl->nrelays;
}
void nn_dl_stats(const nn_dl_t *dl, nn_dl_stats_t *st) {
  *st = dl->st;
  st->stem_count = dl->stem_count; st->stem_bytes = dl->stem_bytes;
  st->mem_count = dl->mem_count; st->mem_bytes = dl->mem_bytes;
  st->pending_inv = dl->ninv; st->requests = dl->nreq;
}
