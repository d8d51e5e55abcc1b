/*
 * Dandelion++ core. Peers and relays are small arrays scanned linearly (a node holds at most a
 * few hundred peers). Transactions and outstanding requests are found through a hash index on
 * their 32-byte id: the pools hold up to 11,000 entries and every INV, GETDATA and received
 * transaction looks one up. The ids are SHA3 outputs of bytes that peers choose, so the bucket
 * is the keyed hash (crypto/keyhash.h) of the id, keyed per core from the injected rng: without
 * the key a peer cannot grind transactions into one probe chain. Each pool also keeps its
 * entries in a FIFO list (oldest at the head), which is what the caps evict from.
 */
#include "dandelion/dandelion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyhash.h"
#include "crypto/sha3.h"

#define NO_PEER UINT32_MAX
enum { ST_STEM = 1, ST_MEM = 2 };

typedef struct dl_peer_t {
  uint32_t id;
  uint8_t outbound;
  uint32_t pin;  /* relay this source is pinned to for the epoch, NO_PEER = none yet */
  uint32_t nreq; /* our GETDATAs it has not answered yet */
} dl_peer_t;

/* What the index and the FIFO lists know of an entry (a transaction or a request). */
typedef struct dl_ent_t {
  nn_hash_t id;
  uint64_t home;                /* keyed hash of id: moves and growth rehash nothing */
  struct dl_ent_t *prev, *next; /* in its list, oldest first */
} dl_ent_t;

typedef struct dl_list_t {
  dl_ent_t *head, *tail;
} dl_list_t;

/* Open addressing with linear probing, at most half full, deleted by backward shift (no
 * tombstones, so probe chains never lengthen with churn). */
typedef struct dl_index_t {
  dl_ent_t **slot;
  size_t cap, used;
} dl_index_t;

typedef struct dl_tx_t {
  dl_ent_t e; /* first: a dl_ent_t * of a transaction is its dl_tx_t * */
  int state;
  size_t len;
  uint64_t embargo_at;      /* stem only */
  uint32_t sent_to;         /* stem only: the relay it went to (NO_PEER: none) */
  uint32_t from, loop_from; /* stem only: who stemmed it to us, and who brought it back (NO_PEER) */
  uint8_t own;              /* stem only: ours */
  uint8_t looped;           /* stem only: it came back once and was passed on to the other relay */
  uint32_t *ann;            /* mempool only: peers we sent its INV and have not served yet */
  uint32_t nann, capann;
  uint8_t data[];
} dl_tx_t;

typedef struct dl_req_t {
  dl_ent_t e; /* first, as above */
  uint64_t at;
  uint32_t peer; /* asked of this peer; only its TX answers it */
} dl_req_t;

typedef struct dl_inv_t {
  nn_hash_t id;
  uint32_t peer;
  uint64_t at;
} dl_inv_t;

struct nn_dl_t {
  nn_dl_cfg_t cfg;
  nn_dl_io_t io;
  dl_peer_t *peers;
  size_t npeers, peers_cap;
  uint32_t relays[2];
  size_t nrelays;
  uint32_t own_pin;
  int fluff;
  uint64_t epoch_end;
  /* The indexes' bucket hash. Behind a pointer: hashing updates the MAC context, and lookups
   * through a const core (nn_dl_have) need one too. */
  nn_keyhash_t *ixkey;
  dl_index_t txix;     /* both pools: an id is in at most one of them */
  dl_list_t stem, mem; /* insertion order: eviction takes the head */
  size_t stem_count, stem_bytes, mem_count, mem_bytes;
  dl_index_t reqix;
  dl_list_t reqs; /* in the order made, so the expired ones are at the head */
  size_t nreq;
  dl_inv_t *invs;
  size_t ninv, capinv; /* a min-heap on .at, grown on demand up to max_pending_inv */
  nn_dl_stats_t st;
};

int
nn_dl_route_available(nn_route_t m)
{
  return m == NN_ROUTE_DIRECT || m == NN_ROUTE_DANDELION || m == NN_ROUTE_MIXNET || m == NN_ROUTE_DANDELION_MIXNET;
}

const char *
nn_dl_route_str(nn_route_t m)
{
  switch (m) {
  case NN_ROUTE_DIRECT: return "direct";
  case NN_ROUTE_DANDELION: return "dandelion";
  case NN_ROUTE_MIXNET: return "mixnet";
  case NN_ROUTE_DANDELION_MIXNET: return "dandelion+mixnet";
  }
  return "unknown";
}

void
nn_dl_cfg_default(nn_dl_cfg_t *c)
{
  memset(c, 0, sizeof *c);
  c->route = NN_ROUTE_DANDELION;
  c->fluff_prob = 0.1;
  c->epoch_ms = 600000;
  c->epoch_jitter_ms = 30000;
  c->embargo_base_ms = 5000;
  c->embargo_mean_ms = 39000;
  c->inv_mean_in_ms = 5000;
  c->inv_mean_out_ms = 2000;
  c->request_timeout_ms = 30000;
  c->max_tx_bytes = 8u << 20;
  c->max_peers = 256;
  c->stem_max_count = 1000;
  c->stem_max_bytes = 16u << 20; /* the node's worst case: docs/ARCHITECTURE.md, Memory budgets */
  c->mem_max_count = 10000;
  c->mem_max_bytes = 64u << 20;
  c->max_pending_inv = 65536;
  c->max_requests = 4096;
  c->max_requests_per_peer = 256;
}

static uint64_t
rnd64(nn_dl_t *dl)
{
  uint8_t b[8] = { 0 };
  uint64_t v = 0;
  (void)nn_rng_fill(dl->cfg.rng, b, sizeof b); /* a failed fill leaves zeros: still bounded */
  for (int i = 0; i < 8; i++)
    v = (v << 8) | b[i];
  return v;
}
static uint32_t
rnd_below(nn_dl_t *dl, uint32_t n)
{
  return n ? (uint32_t)(rnd64(dl) % n) : 0;
}

/* Exponential with the given mean: the paper's embargo and diffusion model (memoryless, so
 * the time already waited says nothing about the time left). Capped at 20 means. */
static uint64_t
rnd_exp(nn_dl_t *dl, uint32_t mean)
{
  double u = (double)((rnd64(dl) >> 11) + 1) / 9007199254740992.0; /* (0,1] */
  double x = -log(u);
  if (x > 20)
    x = 20;
  return (uint64_t)(x * mean);
}

static dl_peer_t *
peer_find(nn_dl_t *dl, uint32_t id)
{
  for (size_t i = 0; i < dl->npeers; i++)
    if (dl->peers[i].id == id)
      return &dl->peers[i];
  return NULL;
}

static int
is_relay(const nn_dl_t *dl, uint32_t id)
{
  for (size_t i = 0; i < dl->nrelays; i++)
    if (dl->relays[i] == id)
      return 1;
  return 0;
}

/* Fill the relay slots with random outbound peers not already relays (distinct when possible). */
static void
fill_relays(nn_dl_t *dl)
{
  while (dl->nrelays < 2) {
    uint32_t cand = 0, n = 0;
    for (size_t i = 0; i < dl->npeers; i++)
      if (dl->peers[i].outbound && !is_relay(dl, dl->peers[i].id)) {
        n++;
        if (rnd_below(dl, n) == 0)
          cand = dl->peers[i].id; /* reservoir sampling */
      }
    if (!n)
      return;
    dl->relays[dl->nrelays++] = cand;
  }
}

static void
new_epoch(nn_dl_t *dl, uint64_t now)
{
  uint32_t j = dl->cfg.epoch_jitter_ms;
  int64_t jit = j ? (int64_t)rnd_below(dl, 2 * j + 1) - (int64_t)j : 0;
  dl->epoch_end = now + (uint64_t)((int64_t)dl->cfg.epoch_ms + jit);
  dl->fluff = (double)(rnd64(dl) >> 11) / 9007199254740992.0 < dl->cfg.fluff_prob;
  dl->nrelays = 0;
  fill_relays(dl);
  dl->own_pin = NO_PEER;
  for (size_t i = 0; i < dl->npeers; i++)
    dl->peers[i].pin = NO_PEER;
  dl->st.epochs++;
  if (dl->fluff)
    dl->st.fluff_epochs++;
}

/* The relay pinned to a source (a peer, or ourselves when pin == &own_pin): the least-used
 * relay with a random tie-break (BIP156, Monero), kept for the whole epoch. \a avoid is never
 * chosen (do not stem a transaction back to the peer that sent it). */
static uint32_t
pinned_relay(nn_dl_t *dl, uint32_t *pin, uint32_t avoid)
{
  if (*pin != NO_PEER && is_relay(dl, *pin) && *pin != avoid)
    return *pin;
  size_t use[2] = { 0, 0 };
  for (size_t r = 0; r < dl->nrelays; r++) {
    if (dl->own_pin == dl->relays[r])
      use[r]++;
    for (size_t i = 0; i < dl->npeers; i++)
      if (dl->peers[i].pin == dl->relays[r])
        use[r]++;
  }
  uint32_t best = NO_PEER;
  size_t bu = 0, ties = 0;
  for (size_t r = 0; r < dl->nrelays; r++) {
    if (dl->relays[r] == avoid)
      continue;
    if (best == NO_PEER || use[r] < bu) {
      best = dl->relays[r];
      bu = use[r];
      ties = 1;
    } else if (use[r] == bu && rnd_below(dl, (uint32_t)++ties) == 0)
      best = dl->relays[r];
  }
  if (best != NO_PEER)
    *pin = best;
  return best;
}

/* Where an id lands, and which ids share a probe chain, depends on a key the peers never see;
 * the hash is kept in the entry, so one is computed per insert and per lookup. */
static uint64_t
ix_hash(const nn_dl_t *dl, const nn_hash_t *id)
{
  return nn_keyhash(dl->ixkey, id->b, NN_HASH_LEN);
}

static dl_ent_t *
ix_find(const nn_dl_t *dl, const dl_index_t *ix, const nn_hash_t *id)
{
  if (!ix->cap)
    return NULL;
  size_t m = ix->cap - 1;
  uint64_t h = ix_hash(dl, id);
  for (size_t i = (size_t)h & m; ix->slot[i]; i = (i + 1) & m)
    if (ix->slot[i]->home == h && !memcmp(ix->slot[i]->id.b, id->b, NN_HASH_LEN))
      return ix->slot[i];
  return NULL;
}

static void
ix_place(dl_index_t *ix, dl_ent_t *e)
{
  size_t m = ix->cap - 1, i = (size_t)e->home & m;
  while (ix->slot[i])
    i = (i + 1) & m;
  ix->slot[i] = e;
}

static nn_err_t
ix_put(const nn_dl_t *dl, dl_index_t *ix, dl_ent_t *e)
{
  if (2 * (ix->used + 1) > ix->cap) {
    size_t nc = ix->cap ? 2 * ix->cap : 16;
    dl_ent_t **ns = calloc(nc, sizeof *ns);
    if (!ns)
      return NN_ERR_NOMEM;
    dl_index_t old = *ix;
    ix->slot = ns;
    ix->cap = nc;
    for (size_t i = 0; i < old.cap; i++)
      if (old.slot[i])
        ix_place(ix, old.slot[i]);
    free(old.slot);
  }
  e->home = ix_hash(dl, &e->id);
  ix_place(ix, e);
  ix->used++;
  return NN_OK;
}

/* Remove \a e (which is indexed) and shift later members of its chain back into the hole:
 * an entry moves unless its home bucket lies cyclically in (hole, its slot]. */
static void
ix_del(dl_index_t *ix, const dl_ent_t *e)
{
  size_t m = ix->cap - 1, i = (size_t)e->home & m, j;
  while (ix->slot[i] != e)
    i = (i + 1) & m;
  for (j = i;;) {
    ix->slot[i] = NULL;
    for (;;) {
      j = (j + 1) & m;
      if (!ix->slot[j]) {
        ix->used--;
        return;
      }
      size_t k = (size_t)ix->slot[j]->home & m;
      if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
        continue;
      break;
    }
    ix->slot[i] = ix->slot[j];
    i = j;
  }
}

static void
list_push(dl_list_t *l, dl_ent_t *e)
{
  e->next = NULL;
  e->prev = l->tail;
  if (l->tail)
    l->tail->next = e;
  else
    l->head = e;
  l->tail = e;
}

static void
list_unlink(dl_list_t *l, dl_ent_t *e)
{
  if (e->prev)
    e->prev->next = e->next;
  else
    l->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    l->tail = e->prev;
  e->prev = e->next = NULL;
}

static dl_tx_t *
tx_find(const nn_dl_t *dl, const nn_hash_t *id)
{
  return (dl_tx_t *)ix_find(dl, &dl->txix, id);
}

static void
tx_free(dl_tx_t *t)
{
  if (!t)
    return;
  free(t->ann);
  free(t);
}

static void
tx_drop(nn_dl_t *dl, dl_tx_t *t)
{
  if (t->state == ST_STEM) {
    list_unlink(&dl->stem, &t->e);
    dl->stem_count--;
    dl->stem_bytes -= t->len;
  } else {
    list_unlink(&dl->mem, &t->e);
    dl->mem_count--;
    dl->mem_bytes -= t->len;
  }
  ix_del(&dl->txix, &t->e);
  tx_free(t);
}

/* Announcements: a GETDATA is served only to a peer we announced the id to (once per INV), so
 * nobody can poll the node for an id before its diffusion delay to them has passed, and one
 * GETDATA listing the same id many times gets it once. */
static int
ann_add(dl_tx_t *t, uint32_t peer)
{
  for (uint32_t i = 0; i < t->nann; i++)
    if (t->ann[i] == peer)
      return 1;
  if (t->nann == t->capann) {
    uint32_t nc = t->capann ? 2 * t->capann : 8;
    uint32_t *n = realloc(t->ann, nc * sizeof *n);
    if (!n)
      return 0;
    t->ann = n;
    t->capann = nc;
  }
  t->ann[t->nann++] = peer;
  return 1;
}

static int
ann_take(dl_tx_t *t, uint32_t peer)
{
  for (uint32_t i = 0; i < t->nann; i++)
    if (t->ann[i] == peer) {
      t->ann[i] = t->ann[--t->nann];
      return 1;
    }
  return 0;
}

/* The pending INVs are a binary min-heap on their due time: the next one is at the top, so a
 * tick or a deadline costs O(log n) however many are pending. */
static void
inv_swap(dl_inv_t *a, dl_inv_t *b)
{
  dl_inv_t t = *a;
  *a = *b;
  *b = t;
}

static void
inv_up(nn_dl_t *dl, size_t i)
{
  while (i && dl->invs[(i - 1) / 2].at > dl->invs[i].at) {
    inv_swap(&dl->invs[i], &dl->invs[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
}

static void
inv_down(nn_dl_t *dl, size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < dl->ninv && dl->invs[l].at < dl->invs[m].at)
      m = l;
    if (r < dl->ninv && dl->invs[r].at < dl->invs[m].at)
      m = r;
    if (m == i)
      return;
    inv_swap(&dl->invs[i], &dl->invs[m]);
    i = m;
  }
}

static void
inv_pop(nn_dl_t *dl)
{
  dl->invs[0] = dl->invs[--dl->ninv];
  if (dl->ninv)
    inv_down(dl, 0);
}

/* The oldest stem that is not ours, else (for one of ours) the oldest of ours. */
static dl_ent_t *
stem_victim(nn_dl_t *dl, int own)
{
  for (dl_ent_t *e = dl->stem.head; e; e = e->next)
    if (!((dl_tx_t *)e)->own)
      return e;
  return own ? dl->stem.head : NULL;
}

/* Evict the oldest of \a state until \a len more bytes and one more entry fit; 0 if they cannot.
 * Our own stems never make room for someone else's (a peer flooding stems cannot push the
 * node's own transactions out of the stempool before they are fluffed). */
static int
make_room(nn_dl_t *dl, int state, size_t len, int own)
{
  size_t maxc = state == ST_STEM ? dl->cfg.stem_max_count : dl->cfg.mem_max_count;
  size_t maxb = state == ST_STEM ? dl->cfg.stem_max_bytes : dl->cfg.mem_max_bytes;
  for (;;) {
    size_t c = state == ST_STEM ? dl->stem_count : dl->mem_count;
    size_t b = state == ST_STEM ? dl->stem_bytes : dl->mem_bytes;
    if (c + 1 <= maxc && b + len <= maxb)
      return 1;
    dl_ent_t *old = state == ST_STEM ? stem_victim(dl, own) : dl->mem.head;
    if (!old)
      return 0;
    tx_drop(dl, (dl_tx_t *)old);
    dl->st.evicted++;
  }
}

/* Account \a t (not in a list) as the newest entry of \a state. */
static void
pool_append(nn_dl_t *dl, dl_tx_t *t, int state)
{
  t->state = state;
  if (state == ST_STEM) {
    list_push(&dl->stem, &t->e);
    dl->stem_count++;
    dl->stem_bytes += t->len;
  } else {
    list_push(&dl->mem, &t->e);
    dl->mem_count++;
    dl->mem_bytes += t->len;
  }
}

static dl_tx_t *
tx_add(nn_dl_t *dl, const nn_hash_t *id, const uint8_t *data, size_t len, int state, int own)
{
  size_t maxb = state == ST_STEM ? dl->cfg.stem_max_bytes : dl->cfg.mem_max_bytes;
  if (len > maxb || !make_room(dl, state, len, own))
    return NULL;
  dl_tx_t *t = malloc(sizeof *t + len); /* len <= max_tx_bytes: no overflow */
  if (!t)
    return NULL;
  memset(t, 0, sizeof *t);
  t->e.id = *id;
  t->len = len;
  memcpy(t->data, data, len);
  if (ix_put(dl, &dl->txix, &t->e)) {
    free(t);
    return NULL;
  }
  pool_append(dl, t, state);
  return t;
}

static void
req_drop(nn_dl_t *dl, dl_req_t *r)
{
  dl_peer_t *p = peer_find(dl, r->peer);
  if (p && p->nreq)
    p->nreq--;
  list_unlink(&dl->reqs, &r->e);
  ix_del(&dl->reqix, &r->e);
  dl->nreq--;
  free(r);
}

static void
req_forget(nn_dl_t *dl, const nn_hash_t *id)
{
  dl_ent_t *e = ix_find(dl, &dl->reqix, id);
  if (e)
    req_drop(dl, (dl_req_t *)e);
}

/* Schedule the INV of \a id to every peer but \a from, each after its own exponential delay
 * (diffusion: no single arrival order for a spy to read the origin from). */
static void
announce(nn_dl_t *dl, const nn_hash_t *id, uint32_t from, int at_once, uint64_t now)
{
  for (size_t i = 0; i < dl->npeers; i++) {
    if (dl->peers[i].id == from)
      continue;
    if (dl->ninv >= dl->cfg.max_pending_inv) {
      dl->st.inv_dropped++;
      continue;
    }
    if (dl->ninv == dl->capinv) {
      size_t nc = dl->capinv ? 2 * dl->capinv : 16;
      if (nc > dl->cfg.max_pending_inv)
        nc = dl->cfg.max_pending_inv;
      dl_inv_t *n = realloc(dl->invs, nc * sizeof *n);
      if (!n) {
        dl->st.inv_dropped++;
        continue;
      }
      dl->invs = n;
      dl->capinv = nc;
    }
    uint32_t mean = dl->peers[i].outbound ? dl->cfg.inv_mean_out_ms : dl->cfg.inv_mean_in_ms;
    dl_inv_t *v = &dl->invs[dl->ninv++];
    v->id = *id;
    v->peer = dl->peers[i].id;
    v->at = now + 1 + (at_once ? 0 : rnd_exp(dl, mean));
    inv_up(dl, dl->ninv - 1);
  }
}

/* \a t (stem, or NULL with data) enters the mempool: deliver and announce. */
static nn_err_t
to_mempool(nn_dl_t *dl, dl_tx_t *t, const nn_hash_t *id, const uint8_t *data, size_t len, uint32_t from,
           nn_dl_via_t via, int at_once, uint64_t now)
{
  if (t) { /* promote: cancel the embargo by leaving the stempool; it is the newest of the mempool */
    list_unlink(&dl->stem, &t->e);
    dl->stem_count--;
    dl->stem_bytes -= t->len;
    if (t->len > dl->cfg.mem_max_bytes) {
      ix_del(&dl->txix, &t->e);
      tx_free(t);
      return NN_ERR_NOMEM;
    }
    (void)make_room(dl, ST_MEM, t->len, 0); /* the mempool evicts its oldest: always room */
    pool_append(dl, t, ST_MEM);
  } else {
    t = tx_add(dl, id, data, len, ST_MEM, 0);
  }
  if (!t)
    return NN_ERR_NOMEM;
  nn_hash_t tid = t->e.id;
  req_forget(dl, &tid);
  if (dl->io.deliver)
    dl->io.deliver(dl->io.ctx, t->data, t->len, via, from);
  announce(dl, &tid, from, at_once, now);
  return NN_OK;
}

static nn_err_t
check(nn_dl_t *dl, const uint8_t *tx, size_t len, nn_hash_t *id)
{
  if (!tx || !len)
    return NN_ERR_ARG;
  if (len > dl->cfg.max_tx_bytes) {
    dl->st.refused++;
    return NN_ERR_TOO_LONG;
  }
  return nn_sha3_256(id, tx, len);
}

/* Hold \a tx in the stempool with an embargo and stem it to \a relay (NO_PEER: none yet; the
 * embargo then fluffs it, which is also what defeats a relay that black-holes it). */
static nn_err_t
stem(nn_dl_t *dl, const nn_hash_t *id, const uint8_t *tx, size_t len, uint32_t relay, uint32_t from, uint64_t now)
{
  int own = from == NO_PEER;
  dl_tx_t *t = tx_add(dl, id, tx, len, ST_STEM, own);
  if (!t) { /* out of memory, or a stempool full of our own stems: someone else's waits */
    dl->st.refused++;
    return NN_ERR_NOSPACE;
  }
  t->own = own ? 1 : 0;
  t->from = from;
  t->loop_from = NO_PEER;
  t->sent_to = relay;
  /* Our own transaction waits two more mean embargoes than a relay's: when a stem dies (a
   * black-holing relay, a loop with no fluff node), one of the relays that hold it fluffs it
   * first with high probability, not us. If our first relay is the black hole, only we can
   * fluff it, later. */
  t->embargo_at = now + dl->cfg.embargo_base_ms + rnd_exp(dl, dl->cfg.embargo_mean_ms) +
                  (own ? 2 * (uint64_t)dl->cfg.embargo_mean_ms : 0);
  if (relay != NO_PEER && dl->io.send_stem) {
    dl->st.stems_out++;
    dl->io.send_stem(dl->io.ctx, relay, tx, len);
  }
  return NN_OK;
}

/* A stem came back to a node that holds it: a loop in this epoch's relay graph (common in small
 * networks, where a stem of ~1/q hops revisits nodes). Pass it on once to the other relay, so
 * the stem goes on to nodes that may be fluff nodes, instead of dying here and leaving the
 * fluffing to the embargo. Not fluffing here matters most at the origin. To the sender this
 * looks like any stem relay; the stempool still answers nothing. */
static void
stem_loop(nn_dl_t *dl, dl_tx_t *t, uint32_t from)
{
  t->looped = 1;
  t->loop_from = from;
  dl->st.stem_loops++;
  for (size_t i = 0; i < dl->nrelays; i++) {
    uint32_t r = dl->relays[i];
    if (r == t->sent_to || r == from)
      continue;
    t->sent_to = r;
    dl->st.stems_out++;
    if (dl->io.send_stem)
      dl->io.send_stem(dl->io.ctx, r, t->data, t->len);
    return;
  }
}

nn_err_t
nn_dl_new(nn_dl_t **out, const nn_dl_cfg_t *cfg, const nn_dl_io_t *io, uint64_t now)
{
  if (!out || !cfg || !io)
    return NN_ERR_ARG;
  *out = NULL;
  if (!nn_dl_route_available(cfg->route))
    return NN_ERR_ARG; /* mixnet modes: not yet */
  if (!(cfg->fluff_prob >= 0.05 && cfg->fluff_prob <= 0.5))
    return NN_ERR_ARG;
  if (!cfg->max_peers || !cfg->epoch_ms || cfg->epoch_jitter_ms >= cfg->epoch_ms)
    return NN_ERR_ARG;
  nn_dl_t *dl = calloc(1, sizeof *dl);
  if (!dl)
    return NN_ERR_NOMEM;
  dl->cfg = *cfg;
  dl->io = *io;
  dl->peers = calloc(cfg->max_peers, sizeof *dl->peers);
  dl->peers_cap = cfg->max_peers;
  if (!dl->peers) {
    nn_dl_free(dl);
    return NN_ERR_NOMEM;
  }
  new_epoch(dl, now);
  nn_err_t err = NN_ERR_NOMEM; /* the key after the first epoch's draws */
  if (!(dl->ixkey = calloc(1, sizeof *dl->ixkey)) || (err = nn_keyhash_init(dl->ixkey, dl->cfg.rng))) {
    nn_dl_free(dl);
    return err;
  }
  *out = dl;
  return NN_OK;
}

void
nn_dl_free(nn_dl_t *dl)
{
  if (!dl)
    return;
  dl_list_t *ls[3] = { &dl->stem, &dl->mem, &dl->reqs };
  for (int i = 0; i < 3; i++)
    for (dl_ent_t *e = ls[i]->head, *nx; e; e = nx) {
      nx = e->next;
      if (i < 2)
        tx_free((dl_tx_t *)e);
      else
        free(e);
    }
  free(dl->txix.slot);
  free(dl->reqix.slot);
  free(dl->peers);
  free(dl->invs);
  nn_keyhash_free(dl->ixkey);
  free(dl->ixkey);
  free(dl);
}

/* Our own stems that found no relay (nothing connected yet) go out as soon as one exists:
 * left to the embargo they would be fluffed by us, the origin. */
static void
stem_waiting(nn_dl_t *dl)
{
  if (!dl->nrelays)
    return;
  for (dl_ent_t *e = dl->stem.head; e; e = e->next) {
    dl_tx_t *t = (dl_tx_t *)e;
    if (!t->own || t->sent_to != NO_PEER)
      continue;
    uint32_t r = pinned_relay(dl, &dl->own_pin, NO_PEER);
    if (r == NO_PEER)
      return;
    t->sent_to = r;
    dl->st.stems_out++;
    if (dl->io.send_stem)
      dl->io.send_stem(dl->io.ctx, r, t->data, t->len);
  }
}

nn_err_t
nn_dl_peer_add(nn_dl_t *dl, uint32_t peer, int outbound, uint64_t now)
{
  (void)now;
  if (peer == NO_PEER || peer_find(dl, peer))
    return NN_ERR_ARG;
  if (dl->npeers >= dl->cfg.max_peers)
    return NN_ERR_NOSPACE;
  dl->peers[dl->npeers++] = (dl_peer_t){ .id = peer, .outbound = outbound ? 1 : 0, .pin = NO_PEER };
  if (outbound) {
    fill_relays(dl); /* an epoch that began short of outbound peers fills up */
    stem_waiting(dl);
  }
  return NN_OK;
}

/* Did \a peer stem \a t to us (its first sender, or the one that brought it back)? */
static int
stemmed_to_us(const dl_tx_t *t, uint32_t peer)
{
  return peer != NO_PEER && (peer == t->from || peer == t->loop_from);
}

/* Stems we handed to a relay that is now gone may have died with it: hand them to a live relay
 * rather than wait for the embargo (a relay that did forward it only causes a duplicate, which
 * the loop rule absorbs). Ours go where our own are pinned now. */
static void
restem_from(nn_dl_t *dl, uint32_t gone)
{
  for (dl_ent_t *e = dl->stem.head; e; e = e->next) {
    dl_tx_t *t = (dl_tx_t *)e;
    if (t->sent_to != gone)
      continue;
    /* fill_relays appended the replacement (if any) last; never back to a peer that stemmed it
     * to us (that would tell it our relay went away) */
    uint32_t r = t->own ? pinned_relay(dl, &dl->own_pin, NO_PEER) : NO_PEER;
    if (stemmed_to_us(t, r))
      r = NO_PEER; /* ours too: a relay may have brought it back (a loop) */
    for (size_t i = dl->nrelays; i-- > 0 && r == NO_PEER;)
      if (!stemmed_to_us(t, dl->relays[i]))
        r = dl->relays[i];
    t->sent_to = r;
    if (r == NO_PEER)
      continue; /* no relay for it: the embargo fluffs it */
    dl->st.stems_out++;
    dl->st.restems++;
    if (dl->io.send_stem)
      dl->io.send_stem(dl->io.ctx, r, t->data, t->len);
  }
}

void
nn_dl_peer_remove(nn_dl_t *dl, uint32_t peer, uint64_t now)
{
  (void)now;
  dl_peer_t *p = peer_find(dl, peer);
  if (!p)
    return;
  /* its unanswered requests go, so the next announcer of those ids is asked at once */
  for (dl_ent_t *e = dl->reqs.head, *n; e; e = n) {
    n = e->next;
    if (((dl_req_t *)e)->peer == peer)
      req_drop(dl, (dl_req_t *)e);
  }
  p = peer_find(dl, peer);
  *p = dl->peers[--dl->npeers];
  size_t kept = 0;
  for (size_t i = 0; i < dl->ninv; i++)
    if (dl->invs[i].peer != peer)
      dl->invs[kept++] = dl->invs[i];
  dl->ninv = kept;
  for (size_t i = kept / 2; i-- > 0;)
    inv_down(dl, i); /* heapify what is left */
  if (is_relay(dl, peer)) {
    size_t k = 0;
    for (size_t i = 0; i < dl->nrelays; i++)
      if (dl->relays[i] != peer)
        dl->relays[k++] = dl->relays[i];
    dl->nrelays = k;
    fill_relays(dl); /* a replacement for the rest of the epoch; its sources re-pin on use */
    restem_from(dl, peer);
  }
}

nn_err_t
nn_dl_submit(nn_dl_t *dl, const uint8_t *tx, size_t len, uint64_t now)
{
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e)
    return e;
  if (tx_find(dl, &id))
    return NN_OK;
  if (dl->cfg.route == NN_ROUTE_DIRECT)
    return to_mempool(dl, NULL, &id, tx, len, NO_PEER, NN_DL_VIA_DIRECT, 0, now);
  /* Always stemmed, even in a fluff epoch: fluffing our own would make us the first fluffer. */
  return stem(dl, &id, tx, len, pinned_relay(dl, &dl->own_pin, NO_PEER), NO_PEER, now);
}

nn_err_t
nn_dl_from_mixnet(nn_dl_t *dl, const uint8_t *tx, size_t len, int at_once, uint64_t now)
{
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e)
    return e;
  dl_tx_t *t = tx_find(dl, &id);
  if (t && t->state == ST_MEM)
    return NN_OK;
  return to_mempool(dl, t, &id, tx, len, NO_PEER, NN_DL_VIA_MIXNET, at_once, now);
}

nn_err_t
nn_dl_on_stem(nn_dl_t *dl, uint32_t peer, const uint8_t *tx, size_t len, uint64_t now)
{
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e)
    return e;
  dl_tx_t *t = tx_find(dl, &id);
  if (t) {
    if (t->state == ST_STEM && !t->looped && peer_find(dl, peer))
      stem_loop(dl, t, peer);
    return NN_OK;
  }
  dl_peer_t *p = peer_find(dl, peer);
  if (!p)
    return NN_ERR_ARG;
  dl->st.stems_in++;
  if (dl->fluff) {
    dl->st.stem_fluffed++;
    return to_mempool(dl, NULL, &id, tx, len, peer, NN_DL_VIA_STEM_FLUFF, 0, now);
  }
  uint32_t relay = pinned_relay(dl, &p->pin, peer);
  if (relay == NO_PEER) { /* nowhere to stem */
    dl->st.stem_fluffed++;
    return to_mempool(dl, NULL, &id, tx, len, peer, NN_DL_VIA_STEM_FLUFF, 0, now);
  }
  return stem(dl, &id, tx, len, relay, peer, now);
}

nn_err_t
nn_dl_on_fluff(nn_dl_t *dl, uint32_t peer, const uint8_t *tx, size_t len, uint64_t now)
{
  nn_hash_t id;
  nn_err_t e = check(dl, tx, len, &id);
  if (e)
    return e;
  dl_tx_t *t = tx_find(dl, &id);
  if (t && t->state == ST_MEM)
    return NN_OK;
  /* Announce, then fetch: a transaction nobody asked this peer for could be anything, pushed to
   * crowd honest ones out of the mempool, so only the answer to our own GETDATA gets in. */
  dl_req_t *r = (dl_req_t *)ix_find(dl, &dl->reqix, &id);
  if (!r || r->peer != peer) {
    dl->st.unsolicited++;
    return NN_ERR_NOTFOUND;
  }
  return to_mempool(dl, t, &id, tx, len, peer, NN_DL_VIA_FLUFF, 0, now);
}

void
nn_dl_on_inv(nn_dl_t *dl, uint32_t peer, const nn_hash_t *id, uint64_t now)
{
  /* A stem-only id is requested like an unknown one: not asking would tell the announcer we
   * hold it in the stempool. */
  dl_peer_t *p = peer_find(dl, peer);
  if (nn_dl_have(dl, id) || !p)
    return;
  /* Requests are listed in the order made and time only moves forward: expired ones lead. */
  while (dl->reqs.head && now >= ((dl_req_t *)dl->reqs.head)->at + dl->cfg.request_timeout_ms)
    req_drop(dl, (dl_req_t *)dl->reqs.head);
  if (ix_find(dl, &dl->reqix, id))
    return; /* already asked the first announcer */
  /* Both caps stop a peer from filling the request table with ids it will never serve. */
  if (dl->nreq >= dl->cfg.max_requests || p->nreq >= dl->cfg.max_requests_per_peer) {
    dl->st.inv_ignored++;
    return;
  }
  dl_req_t *r = malloc(sizeof *r);
  if (!r)
    return;
  r->e.id = *id;
  r->at = now;
  r->peer = peer;
  if (ix_put(dl, &dl->reqix, &r->e)) {
    free(r);
    return;
  }
  list_push(&dl->reqs, &r->e);
  dl->nreq++;
  p->nreq++;
  if (dl->io.send_getdata)
    dl->io.send_getdata(dl->io.ctx, peer, id);
}

void
nn_dl_on_getdata(nn_dl_t *dl, uint32_t peer, const nn_hash_t *id, uint64_t now)
{
  (void)now;
  dl_tx_t *t = tx_find(dl, id);
  /* stempool, unknown, or not announced to this peer (yet): the same silence */
  if (!t || t->state != ST_MEM || !peer_find(dl, peer) || !ann_take(t, peer))
    return;
  if (dl->io.send_tx)
    dl->io.send_tx(dl->io.ctx, peer, t->data, t->len);
}

int
nn_dl_have(const nn_dl_t *dl, const nn_hash_t *id)
{
  const dl_tx_t *t = tx_find(dl, id);
  return t && t->state == ST_MEM;
}

int
nn_dl_stemming(const nn_dl_t *dl, const nn_hash_t *id)
{
  const dl_tx_t *t = tx_find(dl, id);
  return t && t->state == ST_STEM ? 1 + t->own : 0;
}

void
nn_dl_set_route(nn_dl_t *dl, nn_route_t route)
{
  if (nn_dl_route_available(route))
    dl->cfg.route = route;
}

nn_err_t
nn_dl_set_caps(nn_dl_t *dl, size_t max_peers, size_t mem_max_count, size_t stem_max_count)
{
  if (!max_peers || !mem_max_count || !stem_max_count)
    return NN_ERR_ARG;
  if (max_peers > dl->peers_cap) {
    dl_peer_t *p = realloc(dl->peers, max_peers * sizeof(*p));
    if (!p)
      return NN_ERR_NOMEM;
    dl->peers = p;
    dl->peers_cap = max_peers;
  }
  dl->cfg.max_peers = max_peers; /* peers above a lowered cap stay until they leave */
  dl->cfg.mem_max_count = mem_max_count;
  dl->cfg.stem_max_count = stem_max_count;
  while (dl->mem_count > mem_max_count && dl->mem.head) {
    tx_drop(dl, (dl_tx_t *)dl->mem.head);
    dl->st.evicted++;
  }
  for (dl_ent_t *v; dl->stem_count > stem_max_count && (v = stem_victim(dl, 0));) {
    tx_drop(dl, (dl_tx_t *)v); /* never our own: they leave by their stem or embargo */
    dl->st.evicted++;
  }
  return NN_OK;
}

uint64_t
nn_dl_embargo_soonest(const nn_dl_t *dl)
{
  uint64_t d = UINT64_MAX;
  for (const dl_ent_t *e = dl->stem.head; e; e = e->next)
    if (((const dl_tx_t *)e)->embargo_at < d)
      d = ((const dl_tx_t *)e)->embargo_at;
  return d;
}

uint64_t
nn_dl_embargo_at(const nn_dl_t *dl, const nn_hash_t *id)
{
  const dl_tx_t *t = tx_find(dl, id);
  return t && t->state == ST_STEM ? t->embargo_at : 0;
}

void
nn_dl_tick(nn_dl_t *dl, uint64_t now)
{
  if (now >= dl->epoch_end) {
    new_epoch(dl, now);
    stem_waiting(dl);
  }
  /* Each firing leaves the stempool; the scan restarts from the head because the io callbacks
   * run in between (bounded by the stempool cap). */
  for (dl_ent_t *e = dl->stem.head; e;) {
    dl_tx_t *t = (dl_tx_t *)e;
    if (now >= t->embargo_at) {
      dl->st.embargo_fired++;
      (void)to_mempool(dl, t, NULL, NULL, 0, NO_PEER, NN_DL_VIA_EMBARGO, 0, now);
      e = dl->stem.head;
    } else {
      e = e->next;
    }
  }
  while (dl->ninv && now >= dl->invs[0].at) {
    dl_inv_t v = dl->invs[0];
    inv_pop(dl);
    dl_tx_t *t = tx_find(dl, &v.id);
    /* evicted meanwhile: nothing to announce; no memory to remember it: no INV either */
    if (!t || t->state != ST_MEM || !ann_add(t, v.peer))
      continue;
    if (dl->io.send_inv)
      dl->io.send_inv(dl->io.ctx, v.peer, &v.id);
  }
}

uint64_t
nn_dl_deadline(const nn_dl_t *dl)
{
  uint64_t d = dl->epoch_end;
  for (const dl_ent_t *e = dl->stem.head; e; e = e->next)
    if (((const dl_tx_t *)e)->embargo_at < d)
      d = ((const dl_tx_t *)e)->embargo_at;
  if (dl->ninv && dl->invs[0].at < d)
    d = dl->invs[0].at;
  return d;
}

const char *
nn_dl_via_str(nn_dl_via_t via)
{
  switch (via) {
  case NN_DL_VIA_FLUFF: return "fluff";
  case NN_DL_VIA_STEM_FLUFF: return "stem-fluff";
  case NN_DL_VIA_EMBARGO: return "embargo";
  case NN_DL_VIA_DIRECT: return "direct";
  case NN_DL_VIA_MIXNET: return "mixnet";
  }
  return "?";
}

int
nn_dl_fluff_epoch(const nn_dl_t *dl)
{
  return dl->fluff;
}
uint64_t
nn_dl_epoch_end(const nn_dl_t *dl)
{
  return dl->epoch_end;
}
size_t
nn_dl_relays(const nn_dl_t *dl, uint32_t out[2])
{
  for (size_t i = 0; i < dl->nrelays; i++)
    out[i] = dl->relays[i];
  return dl->nrelays;
}
void
nn_dl_stats(const nn_dl_t *dl, nn_dl_stats_t *st)
{
  *st = dl->st;
  st->stem_count = dl->stem_count;
  st->stem_bytes = dl->stem_bytes;
  st->mem_count = dl->mem_count;
  st->mem_bytes = dl->mem_bytes;
  st->pending_inv = dl->ninv;
  st->requests = dl->nreq;
}
