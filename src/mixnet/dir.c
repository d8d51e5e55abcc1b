#include "mixnet/dir.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "crypto/mldsa.h"
#include "crypto/sha3.h"
#include "lib/wire.h"

/* ---- descriptors ---- */

static void
put_hybrid_pk(nn_wire_writer_t *w, const nn_hybrid_pk_t *pk)
{
  (void)nn_wire_put_bytes(w, pk->x.b, NN_X25519_LEN);
  (void)nn_wire_put_bytes(w, pk->m.b, NN_MLKEM_PK_LEN);
}

nn_err_t
nn_mixdesc_build(const nn_mixdesc_t *d, const nn_identity_t *id, const nn_rng_t *rng, uint8_t *out, size_t cap,
                 size_t *len)
{
  static const char ctx[] = NN_MIXDESC_CONTEXT;
  nn_wire_writer_t w;
  nn_mldsa_sig_t sig;
  nn_err_t err;

  *len = 0;
  if (!d->n_addrs || d->n_addrs > NN_MIXDESC_MAX_ADDRS)
    return NN_ERR_ARG;
  nn_wire_writer_init_fixed(&w, out, cap);
  (void)nn_wire_put_u8(&w, NN_MIXDESC_VERSION);
  (void)nn_wire_put_u32(&w, d->network);
  (void)nn_wire_put_bytes(&w, nn_identity_public_key(id)->b, NN_MLDSA_PK_LEN);
  (void)nn_wire_put_u32(&w, d->epoch);
  (void)nn_wire_put_u64(&w, d->issued_at);
  (void)nn_wire_put_u8(&w, d->n_addrs);
  for (unsigned i = 0; i < d->n_addrs; i++)
    (void)nn_addr_put(&w, &d->addrs[i]);
  put_hybrid_pk(&w, &d->keys[0]);
  put_hybrid_pk(&w, &d->keys[1]);
  if (w.err)
    return w.err;
  if ((err = nn_mldsa_sign(&sig, nn_identity_key(id), (const uint8_t *)ctx, sizeof(ctx) - 1, out, w.len, rng)))
    return err;
  if ((err = nn_wire_put_bytes(&w, sig.b, NN_MLDSA_SIG_LEN)))
    return err;
  *len = w.len;
  return NN_OK;
}

static void
get_hybrid_pk(nn_wire_reader_t *r, nn_hybrid_pk_t *pk)
{
  (void)nn_wire_get_bytes(r, pk->x.b, NN_X25519_LEN);
  (void)nn_wire_get_bytes(r, pk->m.b, NN_MLKEM_PK_LEN);
}

nn_mixdesc_status_t
nn_mixdesc_parse(nn_mixdesc_t *d, const uint8_t *in, size_t len, uint32_t network, uint64_t now_s)
{
  static const char ctx[] = NN_MIXDESC_CONTEXT;
  nn_wire_reader_t r;
  nn_mldsa_sig_t sig;
  uint8_t version = 0;
  size_t signed_len;

  memset(d, 0, sizeof(*d));
  if (len > NN_MIXDESC_MAX_LEN || len < NN_MLDSA_SIG_LEN)
    return NN_MIXDESC_MALFORMED;
  nn_wire_reader_init(&r, in, len);
  (void)nn_wire_get_u8(&r, &version);
  (void)nn_wire_get_u32(&r, &d->network);
  (void)nn_wire_get_bytes(&r, d->pk.b, NN_MLDSA_PK_LEN);
  (void)nn_wire_get_u32(&r, &d->epoch);
  (void)nn_wire_get_u64(&r, &d->issued_at);
  (void)nn_wire_get_u8(&r, &d->n_addrs);
  if (!r.err && (!d->n_addrs || d->n_addrs > NN_MIXDESC_MAX_ADDRS))
    return NN_MIXDESC_MALFORMED;
  for (unsigned i = 0; i < d->n_addrs && !r.err; i++)
    (void)nn_addr_get(&r, &d->addrs[i]);
  get_hybrid_pk(&r, &d->keys[0]);
  get_hybrid_pk(&r, &d->keys[1]);
  signed_len = r.off;
  (void)nn_wire_get_bytes(&r, sig.b, NN_MLDSA_SIG_LEN);
  if (nn_wire_finish(&r) || version != NN_MIXDESC_VERSION)
    return NN_MIXDESC_MALFORMED;
  for (unsigned i = 0; i < d->n_addrs; i++)
    if (!d->addrs[i].port)
      return NN_MIXDESC_MALFORMED;
  if (d->network != network)
    return NN_MIXDESC_NETWORK;
  if (d->issued_at > now_s + NN_MIXDESC_MAX_SKEW)
    return NN_MIXDESC_FUTURE;
  if (nn_mldsa_verify(&d->pk, (const uint8_t *)ctx, sizeof(ctx) - 1, in, signed_len, &sig) ||
      nn_node_id_from_public_key(&d->node_id, &d->pk) || nn_sha3_256(&d->hash, in, len))
    return NN_MIXDESC_SIGNATURE;
  return NN_MIXDESC_OK;
}

void
nn_mix_layer_key(const nn_node_id_t *id, uint32_t epoch, nn_hash_t *key)
{
  uint8_t in[16 + NN_NODE_ID_LEN + 4];
  memcpy(in, "nepnet-mix-layer", 16);
  memcpy(in + 16, id->b, NN_NODE_ID_LEN);
  in[48] = (uint8_t)(epoch >> 24);
  in[49] = (uint8_t)(epoch >> 16);
  in[50] = (uint8_t)(epoch >> 8);
  in[51] = (uint8_t)epoch;
  if (nn_sha3_256(key, in, sizeof(in)))
    memcpy(key->b, id->b, NN_HASH_LEN); /* cannot happen; still a fixed order */
}

/* ---- the directory ---- */

typedef struct rel_t {
  nn_node_id_t id;
  uint32_t sent, back;
} rel_t;

struct nn_mixdir_t {
  nn_mixdir_cfg_t cfg;
  nn_mixdesc_t *d; /* every epoch's, unordered */
  uint8_t **raw;   /* d[i]'s encoding, to pass on (DESC) */
  size_t *raw_len;
  size_t n, cap;
  uint64_t gen; /* changes with every add, replacement and expiry */
  /* the mixes usable in one epoch, with their layers: made once per change, not per route */
  uint64_t view_gen;
  uint32_t view_epoch;
  int view_valid;
  size_t *view, nview;
  uint8_t *view_layer; /* the layer of each, with 0x80 set when the mix is poor */
  rel_t *rel;          /* reliability by mix, oldest overwritten when full */
  size_t nrel, relcap, rel_next;
};

void
nn_mixdir_cfg_default(nn_mixdir_cfg_t *cfg, uint32_t network)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->network = network;
  cfg->layers = NN_SPHINX_DEFAULT_LAYERS;
  cfg->max_mixes = 256;
  cfg->max_per_group = 2;
  cfg->min_reliability = 0.6;
  cfg->min_loops = 10;
}

nn_err_t
nn_mixdir_new(nn_mixdir_t **out, const nn_mixdir_cfg_t *cfg)
{
  nn_mixdir_t *dir;

  *out = NULL;
  if (cfg->layers < 1 || cfg->layers >= NN_SPHINX_MAX_HOPS || !cfg->max_mixes || cfg->max_mixes > 65536 ||
      !cfg->max_per_group)
    return NN_ERR_ARG;
  if (!(dir = calloc(1, sizeof(*dir))))
    return NN_ERR_NOMEM;
  dir->cfg = *cfg;
  dir->cap = 3 * cfg->max_mixes; /* three epochs at most: previous, current, next */
  dir->relcap = 2 * cfg->max_mixes;
  if (!(dir->d = calloc(dir->cap, sizeof(*dir->d))) || !(dir->rel = calloc(dir->relcap, sizeof(*dir->rel))) ||
      !(dir->raw = calloc(dir->cap, sizeof(*dir->raw))) || !(dir->raw_len = calloc(dir->cap, sizeof(*dir->raw_len))) ||
      !(dir->view = calloc(dir->cap, sizeof(*dir->view))) || !(dir->view_layer = calloc(dir->cap, 1))) {
    nn_mixdir_free(dir);
    return NN_ERR_NOMEM;
  }
  *out = dir;
  return NN_OK;
}

void
nn_mixdir_free(nn_mixdir_t *dir)
{
  if (!dir)
    return;
  for (size_t i = 0; dir->raw && i < dir->n; i++)
    free(dir->raw[i]);
  free(dir->raw);
  free(dir->raw_len);
  free(dir->d);
  free(dir->rel);
  free(dir->view);
  free(dir->view_layer);
  free(dir);
}

/* A mix's network group: the /16 (IPv4) or /32 (IPv6) of its first address; on a devnet
 * (allow_private), a loopback or private address with its port is a group of its own, as for
 * gossip's outbound peers. */
static size_t
group_of(const nn_mixdesc_t *d, uint8_t out[NN_ADDR_HOST_KEY_MAX])
{
  return nn_addr_is_public(&d->addrs[0]) ? nn_addr_group(&d->addrs[0], 16, 32, out)
                                         : nn_addr_host_key(&d->addrs[0], out);
}

static int
same_group(const nn_mixdesc_t *a, const nn_mixdesc_t *b)
{
  uint8_t ga[NN_ADDR_HOST_KEY_MAX], gb[NN_ADDR_HOST_KEY_MAX];
  size_t la = group_of(a, ga), lb = group_of(b, gb);
  return la == lb && !memcmp(ga, gb, la);
}

nn_mixdir_add_t
nn_mixdir_add(nn_mixdir_t *dir, const uint8_t *in, size_t len, uint32_t epoch_now, uint64_t now_s)
{
  nn_mixdesc_t d, *mine = NULL;
  size_t in_epoch = 0, in_group = 0;
  uint8_t *copy;

  nn_mixdesc_status_t ps = nn_mixdesc_parse(&d, in, len, dir->cfg.network, now_s);
  if (ps == NN_MIXDESC_FUTURE)
    return NN_MIXDIR_FUTURE;
  if (ps)
    return NN_MIXDIR_INVALID;
  if ((uint64_t)d.epoch + 1 < epoch_now || d.epoch > epoch_now + 1)
    return NN_MIXDIR_STALE; /* over, or too far ahead to be worth holding */
  if (!dir->cfg.allow_private && !nn_addr_is_public(&d.addrs[0]))
    return NN_MIXDIR_ADDRESS;
  for (size_t i = 0; i < dir->n; i++) {
    nn_mixdesc_t *o = &dir->d[i];
    if (o->epoch != d.epoch)
      continue;
    if (!memcmp(o->node_id.b, d.node_id.b, NN_NODE_ID_LEN)) {
      /* the later one wins; of two issued at the same second, the lower hash, so that a mix
       * that signs two cannot keep different nodes on different ones */
      if (o->issued_at > d.issued_at || (o->issued_at == d.issued_at && memcmp(d.hash.b, o->hash.b, NN_HASH_LEN) >= 0))
        return NN_MIXDIR_KNOWN;
      mine = o;
      continue;
    }
    in_epoch++;
    in_group += same_group(o, &d);
  }
  /* The store holds up to 4 x max_per_group per group and the view the max_per_group with the
   * lowest hashes, so nodes that saw a group's descriptors in different orders still agree on
   * the view (up to 4 x max_per_group of one group: beyond, who was first decides). */
  size_t group_cap = 4 * (size_t)dir->cfg.max_per_group;
  if (mine) { /* a newer descriptor of a mix we hold: it may not move into a full group */
    if (in_group >= group_cap)
      return NN_MIXDIR_GROUP_FULL;
    size_t i = (size_t)(mine - dir->d);
    if (!(copy = malloc(len)))
      return NN_MIXDIR_FULL;
    memcpy(copy, in, len);
    free(dir->raw[i]);
    dir->raw[i] = copy;
    dir->raw_len[i] = len;
    *mine = d;
    dir->gen++;
    return NN_MIXDIR_REPLACED;
  }
  if (in_epoch >= dir->cfg.max_mixes || dir->n >= dir->cap)
    return NN_MIXDIR_FULL;
  if (in_group >= group_cap)
    return NN_MIXDIR_GROUP_FULL;
  if (!(copy = malloc(len)))
    return NN_MIXDIR_FULL;
  memcpy(copy, in, len);
  dir->raw[dir->n] = copy;
  dir->raw_len[dir->n] = len;
  dir->d[dir->n++] = d;
  dir->gen++;
  return NN_MIXDIR_ADDED;
}

void
nn_mixdir_expire(nn_mixdir_t *dir, uint32_t epoch_now)
{
  for (size_t i = 0; i < dir->n;)
    if ((uint64_t)dir->d[i].epoch + 1 < epoch_now) {
      free(dir->raw[i]);
      dir->n--;
      dir->d[i] = dir->d[dir->n];
      dir->raw[i] = dir->raw[dir->n];
      dir->raw_len[i] = dir->raw_len[dir->n];
      dir->raw[dir->n] = NULL;
      dir->gen++;
    } else {
      i++;
    }
}

/* The key a descriptor gives for \a epoch, NULL if none. Of two descriptors of one mix that both
 * cover the epoch, the view prefers the one made for it (build_view() below). */
static const nn_hybrid_pk_t *
key_for(const nn_mixdesc_t *d, uint32_t epoch)
{
  if (d->epoch == epoch)
    return &d->keys[0];
  if ((uint64_t)d->epoch + 1 == epoch)
    return &d->keys[1];
  return NULL;
}

static rel_t *
rel_find(const nn_mixdir_t *dir, const nn_node_id_t *id)
{
  for (size_t i = 0; i < dir->nrel; i++)
    if (!memcmp(dir->rel[i].id.b, id->b, NN_NODE_ID_LEN))
      return &dir->rel[i];
  return NULL;
}

static int
poor(const nn_mixdir_t *dir, const nn_node_id_t *id)
{
  const rel_t *r = rel_find(dir, id);
  return r && r->sent >= dir->cfg.min_loops && nn_mixdir_reliability(dir, id) < dir->cfg.min_reliability;
}

/* The usable mixes of \a epoch and their layers, rebuilt only when the directory changed. With
 * a descriptor for the epoch itself, a mix's older one (for epoch - 1) is not usable: sorting by
 * (node id, epoch) puts the two side by side, so this is n log n, not n^2. */
typedef struct view_key_t {
  nn_node_id_t id;
  uint32_t epoch;
  size_t index;
} view_key_t;

static int
cmp_mix(const void *a, const void *b)
{
  const view_key_t *x = a, *y = b;
  int c = memcmp(x->id.b, y->id.b, NN_NODE_ID_LEN);
  return c ? c : (x->epoch > y->epoch) - (x->epoch < y->epoch);
}

/* The caps hold for the view, not only per descriptor epoch: a view mixes descriptors for e and
 * for e - 1. Trimmed the same way everywhere (per network group, then overall, lowest hashes
 * first), so that nodes holding the same descriptors hold the same view. */
typedef struct cap_key_t {
  uint8_t group[NN_ADDR_HOST_KEY_MAX];
  size_t glen;
  nn_hash_t hash;
  size_t index;
} cap_key_t;

static int
cmp_group_hash(const void *a, const void *b)
{
  const cap_key_t *x = a, *y = b;
  if (x->glen != y->glen)
    return x->glen < y->glen ? -1 : 1;
  int c = memcmp(x->group, y->group, x->glen);
  return c ? c : memcmp(x->hash.b, y->hash.b, NN_HASH_LEN);
}

static int
cmp_cap_hash(const void *a, const void *b)
{
  return memcmp(((const cap_key_t *)a)->hash.b, ((const cap_key_t *)b)->hash.b, NN_HASH_LEN);
}

static void
build_view(nn_mixdir_t *dir, uint32_t epoch)
{
  size_t k = 0, m = 0, kept = 0;
  view_key_t *keys;
  cap_key_t *caps;
  if (dir->view_valid && dir->view_gen == dir->gen && dir->view_epoch == epoch)
    return;
  dir->nview = 0;
  dir->view_valid = 0;
  keys = malloc((dir->n ? dir->n : 1) * sizeof(*keys));
  caps = malloc((dir->n ? dir->n : 1) * sizeof(*caps));
  if (!keys || !caps) { /* an empty view: no route now, the next call tries again */
    free(keys);
    free(caps);
    return;
  }
  for (size_t i = 0; i < dir->n; i++)
    if (key_for(&dir->d[i], epoch))
      keys[k++] = (view_key_t){ dir->d[i].node_id, dir->d[i].epoch, i };
  qsort(keys, k, sizeof(*keys), cmp_mix);
  for (size_t i = 0; i < k; i++) {
    /* the same mix's next entry (its later epoch) wins */
    if (i + 1 < k && !memcmp(keys[i + 1].id.b, keys[i].id.b, NN_NODE_ID_LEN))
      continue;
    const nn_mixdesc_t *d = &dir->d[keys[i].index];
    caps[m].glen = group_of(d, caps[m].group);
    caps[m].hash = d->hash;
    caps[m].index = keys[i].index;
    m++;
  }
  qsort(caps, m, sizeof(*caps), cmp_group_hash);
  for (size_t i = 0, run = 0; i < m; i++) {
    run =
      i && caps[i].glen == caps[i - 1].glen && !memcmp(caps[i].group, caps[i - 1].group, caps[i].glen) ? run + 1 : 0;
    if (run < dir->cfg.max_per_group)
      caps[kept++] = caps[i];
  }
  qsort(caps, kept, sizeof(*caps), cmp_cap_hash);
  if (kept > dir->cfg.max_mixes)
    kept = dir->cfg.max_mixes;
  /* layers: the mixes in the order of their layer keys, dealt round-robin, so that the layers
   * differ by at most one mix and nobody picks a layer */
  for (size_t i = 0; i < kept; i++)
    nn_mix_layer_key(&dir->d[caps[i].index].node_id, epoch, &caps[i].hash);
  qsort(caps, kept, sizeof(*caps), cmp_cap_hash);
  for (size_t i = 0; i < kept; i++) {
    const nn_node_id_t *id = &dir->d[caps[i].index].node_id;
    dir->view_layer[dir->nview] = (uint8_t)((i % dir->cfg.layers) | (poor(dir, id) ? 0x80 : 0));
    dir->view[dir->nview++] = caps[i].index;
  }
  free(keys);
  free(caps);
  dir->view_gen = dir->gen;
  dir->view_epoch = epoch;
  dir->view_valid = 1;
}

static int
cmp_hash(const void *a, const void *b)
{
  return memcmp(a, b, NN_HASH_LEN);
}

size_t
nn_mixdir_digest(nn_mixdir_t *dir, uint32_t epoch, nn_hash_t *digest)
{
  nn_hash_t *h;
  size_t k;
  nn_sha3_t s;

  memset(digest, 0, sizeof(*digest));
  build_view(dir, epoch);
  if (!(h = malloc((dir->nview ? dir->nview : 1) * sizeof(*h))))
    return 0;
  for (k = 0; k < dir->nview; k++)
    h[k] = dir->d[dir->view[k]].hash;
  qsort(h, k, sizeof(*h), cmp_hash);
  if (!nn_sha3_init(&s)) {
    int bad = 0;
    for (size_t i = 0; i < k; i++)
      bad |= nn_sha3_update(&s, h[i].b, NN_HASH_LEN) != NN_OK;
    if (nn_sha3_final(&s, digest) || bad)
      memset(digest, 0, sizeof(*digest));
  }
  free(h);
  return k;
}

void
nn_mixdir_report(nn_mixdir_t *dir, const nn_node_id_t *mix, int ok)
{
  rel_t *r = rel_find(dir, mix);
  if (!r) {
    if (dir->nrel < dir->relcap)
      r = &dir->rel[dir->nrel++];
    else {
      r = &dir->rel[dir->rel_next];
      dir->rel_next = (dir->rel_next + 1) % dir->relcap;
      dir->gen++; /* the mix forgotten may have been poor */
    }
    memset(r, 0, sizeof(*r));
    r->id = *mix;
  }
  int was_poor = poor(dir, mix);
  if (r->sent == UINT32_MAX) { /* halve both: the score stays, old loops weigh less */
    r->sent /= 2;
    r->back /= 2;
  }
  r->sent++;
  r->back += ok != 0;
  if (poor(dir, mix) != was_poor)
    dir->gen++; /* the routes' view changes */
}

double
nn_mixdir_reliability(const nn_mixdir_t *dir, const nn_node_id_t *mix)
{
  const rel_t *r = rel_find(dir, mix);
  return r ? ((double)r->back + 1) / ((double)r->sent + 2) : 0.5;
}

nn_err_t
nn_mixdir_route(nn_mixdir_t *dir, uint32_t epoch, nn_sphinx_hop_t *route, size_t hops)
{
  if (hops != dir->cfg.layers)
    return NN_ERR_ARG;
  build_view(dir, epoch);
  for (size_t layer = 0; layer < hops; layer++) {
    /* the layer's mixes that are not poor; if all are, all of them: a client whose own link
     * fails sees every loop lost, and must not stop sending for it */
    size_t good = 0, all = 0, pick;
    for (size_t v = 0; v < dir->nview; v++) {
      all += (dir->view_layer[v] & 0x7f) == layer;
      good += dir->view_layer[v] == layer;
    }
    if (!all)
      return NN_ERR_NOTFOUND;
    uint8_t want_mask = good ? 0xff : 0x7f;
    uint8_t rb[8];
    uint64_t x = 0;
    if (nn_rng_fill(dir->cfg.rng, rb, sizeof(rb)))
      return NN_ERR_CRYPTO;
    for (int i = 0; i < 8; i++)
      x = x << 8 | rb[i];
    pick = (size_t)(x % (good ? good : all));
    for (size_t v = 0; v < dir->nview; v++) {
      const nn_mixdesc_t *d = &dir->d[dir->view[v]];
      if ((dir->view_layer[v] & want_mask) != layer)
        continue;
      if (pick-- == 0) {
        memcpy(route[layer].node.b, d->node_id.b, NN_HASH_LEN);
        route[layer].pk = key_for(d, epoch);
        route[layer].delay_ms = 0;
        break;
      }
    }
  }
  return NN_OK;
}

/* ---- lookups for the node's tenant ---- */

static const nn_mixdesc_t *
by_hash(const nn_mixdir_t *dir, const nn_hash_t *h, size_t *index)
{
  for (size_t i = 0; i < dir->n; i++)
    if (!memcmp(dir->d[i].hash.b, h->b, NN_HASH_LEN)) {
      *index = i;
      return &dir->d[i];
    }
  return NULL;
}

const uint8_t *
nn_mixdir_get(const nn_mixdir_t *dir, const nn_hash_t *hash, size_t *len)
{
  size_t i;
  if (!by_hash(dir, hash, &i))
    return NULL;
  *len = dir->raw_len[i];
  return dir->raw[i];
}

size_t
nn_mixdir_hashes(nn_mixdir_t *dir, uint32_t epoch, nn_hash_t *out, size_t max)
{
  size_t k = 0;
  build_view(dir, epoch);
  for (size_t v = 0; v < dir->nview && k < max; v++)
    out[k++] = dir->d[dir->view[v]].hash;
  return k;
}

const nn_mixdesc_t *
nn_mixdir_find(const nn_mixdir_t *dir, const nn_node_id_t *id)
{
  const nn_mixdesc_t *best = NULL;
  for (size_t i = 0; i < dir->n; i++)
    if (!memcmp(dir->d[i].node_id.b, id->b, NN_NODE_ID_LEN) && (!best || dir->d[i].epoch > best->epoch))
      best = &dir->d[i];
  return best;
}

size_t
nn_mixdir_view(nn_mixdir_t *dir, uint32_t epoch, size_t i, const nn_mixdesc_t **d, unsigned *layer)
{
  build_view(dir, epoch);
  if (i < dir->nview) {
    *d = &dir->d[dir->view[i]];
    *layer = dir->view_layer[i] & 0x7f;
  }
  return dir->nview;
}

const nn_mixdesc_t *
nn_mixdir_pick(nn_mixdir_t *dir, uint32_t epoch, int own_epoch)
{
  size_t good = 0, all = 0;
  uint8_t rb[8];
  uint64_t x = 0;
  build_view(dir, epoch);
  for (size_t v = 0; v < dir->nview; v++) {
    if (own_epoch && dir->d[dir->view[v]].epoch != epoch)
      continue;
    all++;
    good += !(dir->view_layer[v] & 0x80);
  }
  if (!all || nn_rng_fill(dir->cfg.rng, rb, sizeof(rb)))
    return NULL;
  for (int i = 0; i < 8; i++)
    x = x << 8 | rb[i];
  size_t pick = (size_t)(x % (good ? good : all));
  for (size_t v = 0; v < dir->nview; v++) {
    const nn_mixdesc_t *d = &dir->d[dir->view[v]];
    if ((own_epoch && d->epoch != epoch) || (good && (dir->view_layer[v] & 0x80)))
      continue;
    if (pick-- == 0)
      return d;
  }
  return NULL;
}

const nn_hybrid_pk_t *
nn_mixdesc_key(const nn_mixdesc_t *d, uint32_t epoch)
{
  return key_for(d, epoch);
}

unsigned
nn_mixdir_layer(nn_mixdir_t *dir, uint32_t epoch, const nn_node_id_t *id)
{
  build_view(dir, epoch);
  for (size_t v = 0; v < dir->nview; v++)
    if (!memcmp(dir->d[dir->view[v]].node_id.b, id->b, NN_NODE_ID_LEN))
      return dir->view_layer[v] & 0x7f;
  return NN_MIXDIR_NO_LAYER;
}
