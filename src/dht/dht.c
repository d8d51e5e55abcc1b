/*
 * The Kademlia node core. Three parts: answering requests (from the routing table and the value
 * store), lookups (iterative, alpha parallel RPCs per path, disjoint paths so that a few lying
 * nodes cannot steer every path), and keeping the table alive (probes, failures, refresh).
 */
#include "dht/dht.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/keyhash.h"

#define CAND_PER_PATH 3      /* candidates kept per path, in units of k */
#define PROBE_QUIET_MS 60000 /* a contact heard from within this is not probed */

enum { CAND_NEW, CAND_INFLIGHT, CAND_ANSWERED, CAND_FAILED };
enum { RPC_LOOKUP, RPC_PING, RPC_PROBE, RPC_STORE, RPC_RELAY };

#define MAX_RELAYS 32       /* FIND_VALUE_RELAY requests being worked on at once */
#define RELAY_FANOUT 2      /* contacts a relaying node asks */
#define RELAY_WAIT_MS 1000  /* answer with what we have by then (the asker times out at 2 s); */
#define RELAY_WAIT_STEP 400 /* a relay further down the chain waits this much less */

/* A FIND_VALUE_RELAY we are answering on someone's behalf. */
typedef struct relay_t {
  uint64_t req; /* the asker's request id; 0 = free slot */
  void *conn;
  nn_rpc_node_t asker;
  nn_node_id_t key;
  uint64_t deadline_ms;
  unsigned outstanding;
  size_t nnodes;
  nn_rpc_node_t nodes[NN_RPC_MAX_NODES];
} relay_t;

typedef struct cand_t {
  nn_rpc_node_t node;
  uint8_t state;
  uint8_t path;
  uint16_t depth;
} cand_t;

typedef struct lookup_t {
  uint32_t handle; /* 0 = free slot */
  nn_node_id_t target;
  int want_value;
  nn_dht_lookup_cb cb;
  void *ctx;
  uint64_t start_ms;
  unsigned rpcs, failures;
  cand_t *cands; /* sorted by distance to target */
  size_t ncand, cap;
  uint8_t *value; /* FIND_VALUE result */
  size_t value_len;
  unsigned value_depth;
  /* a put: after the lookup, STORE this to the k closest */
  uint8_t *put_value;
  size_t put_len;
} lookup_t;

typedef struct inflight_t {
  uint64_t req; /* 0 = free */
  uint8_t purpose;
  uint32_t lookup;
  nn_rpc_node_t to;
  uint64_t sent_ms;
  nn_node_id_t probe_for; /* RPC_PROBE: unused, the probed node is `to` */
} inflight_t;

/* Who made us hold a value: the storer's host (nn_addr_host_key; an inbound peer's without its
 * ephemeral port) and its group (IPv4 /24, IPv6 /48; loopback and private hosts are their own
 * group). The value store's quotas count these. */
typedef struct storer_t {
  uint8_t host[NN_ADDR_HOST_KEY_MAX], grp[NN_ADDR_HOST_KEY_MAX];
  uint8_t host_len, grp_len;
} storer_t;

typedef struct value_t {
  nn_node_id_t key;
  uint64_t seq, expires_ms;
  uint8_t *data;
  size_t len;
  uint64_t asked_ms; /* last served to a FIND_VALUE from a host other than the storer's (0: never) */
  int own;           /* ours: never evicted, in no quota */
  storer_t by;
} value_t;

/* A value someone other than its storer asked for within this long is not evicted for a newcomer. */
#define VALUE_ASKED_KEEP_MS (30u * 60u * 1000u)

/* A token bucket of STOREs: each costs a signature check, so a host (and all of them together)
 * gets a rate; the oldest idle host's bucket is reused for a newcomer. */
#define STORE_BUCKETS 32
typedef struct store_bucket_t {
  uint8_t key[NN_ADDR_HOST_KEY_MAX];
  size_t key_len;
  double tokens;
  uint64_t at_ms;
} store_bucket_t;

struct nn_dht_t {
  nn_node_id_t self;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io;
  nn_dht_table_t *table;
  lookup_t *lookups;
  inflight_t *inflight;
  value_t *values;
  size_t nvalues;
  relay_t relays[MAX_RELAYS];
  uint32_t next_handle;
  uint64_t created_ms, last_refresh_ms;
  nn_keyhash_t req_key; /* request ids: the keyed hash of a counter */
  uint64_t req_counter;
  uint64_t next_timeout; /* earliest in-flight timeout; exact unless timeout_dirty */
  int timeout_dirty;
  store_bucket_t *store_buckets; /* STORE rates per host (STORE_BUCKETS, allocated on first use) */
  store_bucket_t store_all;      /* ... and of all hosts together */
  nn_dht_store_stats_t sst;
};

static int
bucket_take(store_bucket_t *b, double rate, double burst, uint64_t now_ms)
{
  if (!b->at_ms) {
    b->tokens = burst;
    b->at_ms = now_ms;
  }
  if (now_ms > b->at_ms)
    b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
  b->at_ms = now_ms > b->at_ms ? now_ms : b->at_ms;
  if (b->tokens > burst)
    b->tokens = burst;
  if (b->tokens < 1.0)
    return 0;
  b->tokens -= 1.0;
  return 1;
}

static void
storer_of(const nn_addr_t *from, int dialled, storer_t *s)
{
  nn_addr_t a = *from;
  if (!dialled)
    a.port = 0; /* an inbound peer's port changes with every connection */
  memset(s, 0, sizeof(*s));
  s->host_len = (uint8_t)nn_addr_host_key(&a, s->host);
  if (nn_addr_is_public(&a)) {
    s->grp_len = (uint8_t)nn_addr_group(&a, 24, 48, s->grp);
  } else {
    memcpy(s->grp, s->host, s->host_len);
    s->grp_len = s->host_len;
  }
}

/* May a STORE from \a st be looked at now? */
static int
store_allowed(nn_dht_t *d, const storer_t *st, uint64_t now_ms)
{
  const uint8_t *key = st->host;
  size_t n = st->host_len;
  store_bucket_t *b = NULL, *oldest = NULL;
  if (!d->store_buckets && !(d->store_buckets = calloc(STORE_BUCKETS, sizeof(*d->store_buckets))))
    return 0;
  for (size_t i = 0; i < STORE_BUCKETS && !b; i++) {
    store_bucket_t *x = &d->store_buckets[i];
    if (x->key_len == n && !memcmp(x->key, key, n))
      b = x;
    else if (!oldest || x->at_ms < oldest->at_ms)
      oldest = x;
  }
  if (!b) {
    b = oldest;
    memset(b, 0, sizeof(*b));
    memcpy(b->key, key, n);
    b->key_len = n;
  }
  double rate = d->cfg.store_rate, burst = (double)d->cfg.store_burst;
  return bucket_take(&d->store_all, 16 * rate, 16 * burst, now_ms) && bucket_take(b, rate, burst, now_ms);
}

void
nn_dht_cfg_default(nn_dht_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_dht_table_cfg_default(&cfg->table);
  cfg->alpha = 3;
  cfg->k = NN_DHT_K;
  cfg->paths = 2;
  cfg->rpc_timeout_ms = 2000;
  cfg->refresh_ms = 3600 * 1000;
  cfg->max_inflight = 256;
  cfg->max_lookups = 64;
  cfg->max_values = 4096; /* values_per_host and _group 0: max_values / 16 and / 8 */
  cfg->store_rate = 4.0;
  cfg->store_burst = 64;
  cfg->per_referrer = 8;
  cfg->relay = 2;
}

nn_err_t
nn_dht_new(nn_dht_t **out, const nn_node_id_t *self, const nn_dht_cfg_t *cfg, const nn_dht_io_t *io, uint64_t now_ms)
{
  nn_dht_t *d = calloc(1, sizeof(*d));
  nn_err_t err;
  *out = NULL;
  if (!d)
    return NN_ERR_NOMEM;
  d->self = *self;
  d->cfg = *cfg;
  d->io = *io;
  if (!d->cfg.alpha)
    d->cfg.alpha = 3;
  if (!d->cfg.k || d->cfg.k > NN_RPC_MAX_NODES)
    d->cfg.k = NN_DHT_K;
  if (!d->cfg.paths)
    d->cfg.paths = 1;
  if (d->cfg.paths > 8)
    d->cfg.paths = 8;
  if (!d->cfg.rpc_timeout_ms)
    d->cfg.rpc_timeout_ms = 2000;
  if (!d->cfg.max_inflight)
    d->cfg.max_inflight = 256;
  if (!d->cfg.max_lookups)
    d->cfg.max_lookups = 64;
  if (!(d->cfg.store_rate > 0) || !d->cfg.store_burst) { /* 0: the defaults */
    d->cfg.store_rate = 4.0;
    d->cfg.store_burst = 64;
  }
  if (!d->cfg.per_referrer || d->cfg.per_referrer > NN_RPC_MAX_NODES)
    d->cfg.per_referrer = NN_RPC_MAX_NODES;
  if (!d->cfg.values_per_host) /* 0: a sixteenth and an eighth of the store */
    d->cfg.values_per_host = d->cfg.max_values / 16 ? d->cfg.max_values / 16 : 1;
  if (!d->cfg.values_per_group)
    d->cfg.values_per_group = d->cfg.max_values / 8 ? d->cfg.max_values / 8 : 1;
  if (d->cfg.relay > NN_RPC_MAX_RELAY_HOPS + 1)
    d->cfg.relay = NN_RPC_MAX_RELAY_HOPS + 1;
  d->next_handle = 1;
  d->created_ms = d->last_refresh_ms = now_ms;
  d->next_timeout = UINT64_MAX;
  if ((err = nn_keyhash_init(&d->req_key, d->cfg.rng)) || (err = nn_dht_table_new(&d->table, self, &d->cfg.table)))
    goto fail;
  err = NN_ERR_NOMEM;
  if (!(d->lookups = calloc(d->cfg.max_lookups, sizeof(*d->lookups))) ||
      !(d->inflight = calloc(d->cfg.max_inflight, sizeof(*d->inflight))))
    goto fail;
  *out = d;
  return NN_OK;
fail:
  nn_dht_free(d);
  return err;
}

static void
lookup_release(lookup_t *l)
{
  free(l->cands);
  free(l->value);
  free(l->put_value);
  memset(l, 0, sizeof(*l));
}

void
nn_dht_free(nn_dht_t *d)
{
  if (!d)
    return;
  for (size_t i = 0; d->lookups && i < d->cfg.max_lookups; i++)
    lookup_release(&d->lookups[i]);
  for (size_t i = 0; i < d->nvalues; i++)
    free(d->values[i].data);
  free(d->values);
  free(d->store_buckets);
  free(d->lookups);
  free(d->inflight);
  nn_dht_table_free(d->table);
  nn_keyhash_free(&d->req_key);
  free(d);
}

void
nn_dht_set_self_addr(nn_dht_t *d, const nn_addr_t *a)
{
  d->cfg.has_self_addr = a != NULL;
  if (a)
    d->cfg.self_addr = *a;
  else
    memset(&d->cfg.self_addr, 0, sizeof(d->cfg.self_addr));
}

/* Does the connection vouch for the address a requester advertises? Its own host does; so does
 * a stream through our onion service (its origin is hidden, PROTOCOL.md 11.2) for an onion
 * address, since the next RPC we send dials it and checks the node id there. */
static int
addr_vouched(const nn_addr_t *claim, const nn_addr_t *from)
{
  return nn_addr_same_host(claim, from) || (claim->type == NN_ADDR_ONION && nn_addr_is_hidden_origin(from));
}

nn_dht_table_t *
nn_dht_table(nn_dht_t *d)
{
  return d->table;
}
size_t
nn_dht_values(const nn_dht_t *d)
{
  return d->nvalues;
}

size_t
nn_dht_memory(const nn_dht_t *d)
{
  size_t n = sizeof(*d) + d->cfg.max_lookups * sizeof(lookup_t) + d->cfg.max_inflight * sizeof(inflight_t);
  n += nn_dht_table_memory(d->table);
  for (size_t i = 0; i < d->nvalues; i++)
    n += sizeof(value_t) + d->values[i].len;
  for (size_t i = 0; i < d->cfg.max_lookups; i++)
    n += d->lookups[i].cap * sizeof(cand_t);
  return n;
}

/* ---- sending ---- */

static void
penalize(nn_dht_t *d, const nn_node_id_t *id, const nn_addr_t *addr, int points, const char *why)
{
  if (d->io.penalize)
    d->io.penalize(d->io.ctx, id, addr, points, why);
}

/* Request ids only need to be unique among those in flight and not guessable in advance:
 * answers are accepted only from the node asked, over a channel that authenticated it. The
 * keyed hash of a counter gives that without a DRBG call per request. Unlike the bijection it
 * replaces it can repeat, so an id still in flight (odds about max_inflight / 2^64, but
 * on_answer would credit the wrong request) is skipped, as is 0, the free-slot mark. Every try
 * fails only if OpenSSL does (the hash is then 0): no id, and the request is not sent. */
static int
req_in_flight(const nn_dht_t *d, uint64_t id)
{
  for (size_t i = 0; i < d->cfg.max_inflight; i++)
    if (d->inflight[i].req == id)
      return 1;
  return 0;
}

static uint64_t
new_req_id(nn_dht_t *d)
{
  for (int tries = 0; tries < 4; tries++) {
    uint64_t z = nn_keyhash_u64(&d->req_key, ++d->req_counter);
    if (z && !req_in_flight(d, z))
      return z;
  }
  return 0;
}

static void
send_msg(nn_dht_t *d, const nn_rpc_node_t *to, void *reply_conn, const nn_rpc_t *m)
{
  uint8_t buf[NN_RPC_MAX_LEN];
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  if (nn_rpc_encode(m, &w) == NN_OK)
    d->io.send(d->io.ctx, to, reply_conn, buf, w.len);
}

/* Send a request and remember it; returns 0 if the in-flight table is full. */
static int
send_request(nn_dht_t *d, const nn_rpc_node_t *to, nn_rpc_t *m, uint8_t purpose, uint32_t lookup, uint64_t now_ms)
{
  inflight_t *slot = NULL;
  for (size_t i = 0; i < d->cfg.max_inflight; i++)
    if (!d->inflight[i].req) {
      slot = &d->inflight[i];
      break;
    }
  if (!slot || !(m->id = new_req_id(d)))
    return 0;
  m->has_addr = d->cfg.has_self_addr;
  m->addr = d->cfg.self_addr;
  slot->req = m->id;
  slot->purpose = purpose;
  slot->lookup = lookup;
  slot->to = *to;
  slot->sent_ms = now_ms;
  if (now_ms + d->cfg.rpc_timeout_ms < d->next_timeout)
    d->next_timeout = now_ms + d->cfg.rpc_timeout_ms;
  send_msg(d, to, NULL, m);
  return 1;
}

static void
ping(nn_dht_t *d, const nn_rpc_node_t *to, uint8_t purpose, uint64_t now_ms)
{
  nn_rpc_t m;
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_PING;
  (void)send_request(d, to, &m, purpose, 0, now_ms);
}

void
nn_dht_add_contact(nn_dht_t *d, const nn_rpc_node_t *node, uint64_t now_ms)
{
  if (memcmp(node->id.b, d->self.b, NN_NODE_ID_LEN) != 0)
    ping(d, node, RPC_PING, now_ms);
}

/* ---- table maintenance ---- */

static int
probing(const nn_dht_t *d, const nn_node_id_t *id)
{
  for (size_t i = 0; i < d->cfg.max_inflight; i++)
    if (d->inflight[i].req && d->inflight[i].purpose == RPC_PROBE &&
        !memcmp(d->inflight[i].to.id.b, id->b, NN_NODE_ID_LEN))
      return 1;
  return 0;
}

static void
contact_alive(nn_dht_t *d, const nn_node_id_t *id, const nn_addr_t *addr, uint64_t now_ms, uint32_t rtt)
{
  nn_dht_contact_t probe;
  if (nn_dht_table_seen(d->table, id, addr, now_ms, rtt, &probe) != NN_TABLE_PENDING)
    return;
  /* The newcomer waits in the replacement cache. Probe the least recently seen contact only if
   * it has been quiet for a minute and is not being probed already: a burst of newcomers must
   * not turn into a burst of pings. */
  if (probe.last_seen_ms + PROBE_QUIET_MS > now_ms || probing(d, &probe.id))
    return;
  nn_rpc_node_t n = { probe.id, probe.addr };
  ping(d, &n, RPC_PROBE, now_ms);
}

static uint8_t value_store(nn_dht_t *d, const nn_node_id_t *key, const uint8_t *v, size_t len, uint64_t now_ms,
                           const storer_t *by, int *refused);

/* ---- lookups ---- */

static lookup_t *
lookup_by_handle(nn_dht_t *d, uint32_t h)
{
  for (size_t i = 0; h && i < d->cfg.max_lookups; i++)
    if (d->lookups[i].handle == h)
      return &d->lookups[i];
  return NULL;
}

/* Insert a candidate in distance order; a node already known keeps its path (paths stay
 * disjoint). When full, the farthest new candidate gives way. */
static void
cand_add(nn_dht_t *d, lookup_t *l, const nn_rpc_node_t *n, uint8_t path, uint16_t depth)
{
  size_t pos = 0;
  if (!memcmp(n->id.b, d->self.b, NN_NODE_ID_LEN))
    return;
  for (size_t i = 0; i < l->ncand; i++)
    if (!memcmp(l->cands[i].node.id.b, n->id.b, NN_NODE_ID_LEN))
      return;
  while (pos < l->ncand && nn_node_id_cmp_distance(&l->target, &l->cands[pos].node.id, &n->id) < 0)
    pos++;
  if (l->ncand == l->cap) {
    /* drop the farthest candidate that is not in flight, if it is farther than the newcomer */
    size_t victim = l->ncand;
    for (size_t i = l->ncand; i-- > pos;)
      if (l->cands[i].state != CAND_INFLIGHT) {
        victim = i;
        break;
      }
    if (victim == l->ncand)
      return;
    memmove(&l->cands[victim], &l->cands[victim + 1], (l->ncand - victim - 1) * sizeof(cand_t));
    l->ncand--;
  }
  memmove(&l->cands[pos + 1], &l->cands[pos], (l->ncand - pos) * sizeof(cand_t));
  l->cands[pos].node = *n;
  l->cands[pos].state = CAND_NEW;
  l->cands[pos].path = path;
  l->cands[pos].depth = depth;
  l->ncand++;
}

static void
lookup_finish(nn_dht_t *d, lookup_t *l, uint64_t now_ms)
{
  nn_rpc_node_t closest[NN_RPC_MAX_NODES];
  nn_dht_lookup_result_t res;
  unsigned hops = 0;
  size_t n = 0;

  memset(&res, 0, sizeof(res));
  for (size_t i = 0; i < l->ncand && n < d->cfg.k; i++)
    if (l->cands[i].state == CAND_ANSWERED) {
      if (n == 0)
        hops = l->cands[i].depth;
      closest[n++] = l->cands[i].node;
    }
  res.target = l->target;
  res.found_value = l->value != NULL;
  res.value = l->value;
  res.value_len = l->value_len;
  res.closest = closest;
  res.nclosest = n;
  res.hops = l->value ? l->value_depth : hops;
  res.rpcs = l->rpcs;
  res.failures = l->failures;
  res.elapsed_ms = now_ms - l->start_ms;
  if (l->put_value) {
    /* a put: store at the k closest that answered */
    for (size_t i = 0; i < n; i++) {
      nn_rpc_t m;
      memset(&m, 0, sizeof(m));
      m.kind = NN_RPC_STORE;
      m.target = l->target;
      m.value = l->put_value;
      m.value_len = l->put_len;
      (void)send_request(d, &closest[i], &m, RPC_STORE, 0, now_ms);
    }
  }
  nn_dht_lookup_cb cb = l->cb;
  void *ctx = l->ctx;
  l->handle = UINT32_MAX; /* finishing: ignore late answers; slot freed below */
  if (cb)
    cb(ctx, &res);
  lookup_release(l);
}

/* Send what each path may send; finish when every path is done. */
static void
lookup_step(nn_dht_t *d, lookup_t *l, uint64_t now_ms)
{
  int busy = 0;
  if (l->value) {
    for (size_t i = 0; i < l->ncand; i++)
      if (l->cands[i].state == CAND_INFLIGHT)
        l->cands[i].state = CAND_FAILED; /* answers no longer matter */
    lookup_finish(d, l, now_ms);
    return;
  }
  for (unsigned p = 0; p < d->cfg.paths; p++) {
    unsigned inflight = 0, seen = 0;
    /* Only the k closest live candidates of this path are worth asking. */
    for (size_t i = 0; i < l->ncand && seen < d->cfg.k; i++) {
      cand_t *c = &l->cands[i];
      if (c->path != p || c->state == CAND_FAILED)
        continue;
      seen++;
      if (c->state == CAND_INFLIGHT)
        inflight++;
    }
    seen = 0;
    for (size_t i = 0; i < l->ncand && seen < d->cfg.k && inflight < d->cfg.alpha; i++) {
      cand_t *c = &l->cands[i];
      if (c->path != p || c->state == CAND_FAILED)
        continue;
      seen++;
      if (c->state != CAND_NEW)
        continue;
      nn_rpc_t m;
      memset(&m, 0, sizeof(m));
      /* First-round value requests go to our own contacts, over channels we keep open: ask
       * them to relay one hop further on their open channels. */
      m.kind = !l->want_value                  ? NN_RPC_FIND_NODE
               : c->depth == 1 && d->cfg.relay ? NN_RPC_FIND_VALUE_RELAY
                                               : NN_RPC_FIND_VALUE;
      m.hops = (uint8_t)(d->cfg.relay > 1 ? d->cfg.relay - 1 : 0);
      m.target = l->target;
      if (!send_request(d, &c->node, &m, RPC_LOOKUP, l->handle, now_ms))
        break; /* in-flight table full: retry on the next tick */
      c->state = CAND_INFLIGHT;
      l->rpcs++;
      inflight++;
    }
    if (inflight)
      busy = 1;
  }
  if (!busy)
    lookup_finish(d, l, now_ms);
}

uint32_t
nn_dht_lookup(nn_dht_t *d, const nn_node_id_t *target, int want_value, nn_dht_lookup_cb cb, void *ctx, uint64_t now_ms)
{
  nn_dht_contact_t seeds[NN_RPC_MAX_NODES * 2];
  lookup_t *l = NULL;
  for (size_t i = 0; i < d->cfg.max_lookups; i++)
    if (!d->lookups[i].handle) {
      l = &d->lookups[i];
      break;
    }
  if (!l)
    return 0;
  memset(l, 0, sizeof(*l));
  l->cap = (size_t)CAND_PER_PATH * d->cfg.k * d->cfg.paths;
  if (!(l->cands = calloc(l->cap, sizeof(cand_t))))
    return 0;
  l->handle = d->next_handle++;
  if (!d->next_handle || d->next_handle == UINT32_MAX)
    d->next_handle = 1;
  l->target = *target;
  l->want_value = want_value;
  nn_dht_table_mark_refreshed(d->table, target, now_ms);
  l->cb = cb;
  l->ctx = ctx;
  l->start_ms = now_ms;
  /* Seeds: the closest contacts we know, dealt round-robin to the paths. */
  size_t want = (size_t)d->cfg.k * (d->cfg.paths > 1 ? 2 : 1);
  if (want > sizeof(seeds) / sizeof(seeds[0]))
    want = sizeof(seeds) / sizeof(seeds[0]);
  size_t n = nn_dht_table_closest(d->table, target, want, seeds);
  for (size_t i = 0; i < n; i++) {
    nn_rpc_node_t node = { seeds[i].id, seeds[i].addr };
    cand_add(d, l, &node, (uint8_t)(i % d->cfg.paths), 1);
  }
  uint32_t h = l->handle;
  /* A value we hold ourselves answers at once. */
  if (want_value) {
    size_t len;
    const uint8_t *v = nn_dht_get_local(d, target, &len);
    if (v && (l->value = malloc(len))) {
      memcpy(l->value, v, len);
      l->value_len = len;
    }
  }
  lookup_step(d, l, now_ms);
  return h;
}

nn_err_t
nn_dht_put(nn_dht_t *d, const nn_node_id_t *key, const uint8_t *value, size_t len, uint64_t now_ms)
{
  int forged;
  if (len > NN_RPC_MAX_VALUE)
    return NN_ERR_TOO_LONG;
  /* Kept locally too: the owner of a record answers for it, whatever the table says. */
  uint8_t st = value_store(d, key, value, len, now_ms, NULL, &forged);
  if (st == NN_STORE_INVALID)
    return NN_ERR_VERIFY;
  if (st != NN_STORE_OK)
    return NN_ERR_NOSPACE;
  uint32_t h = nn_dht_lookup(d, key, 0, NULL, NULL, now_ms);
  lookup_t *l = lookup_by_handle(d, h);
  if (!h)
    return NN_ERR_NOSPACE;
  if (l) { /* still running (it finishes at once when the table is empty) */
    if (!(l->put_value = malloc(len)))
      return NN_ERR_NOMEM;
    memcpy(l->put_value, value, len);
    l->put_len = len;
  }
  return NN_OK;
}

/* ---- the value store ---- */

const uint8_t *
nn_dht_get_local(const nn_dht_t *d, const nn_node_id_t *key, size_t *len)
{
  for (size_t i = 0; i < d->nvalues; i++)
    if (!memcmp(d->values[i].key.b, key->b, NN_NODE_ID_LEN)) {
      *len = d->values[i].len;
      return d->values[i].data;
    }
  *len = 0;
  return NULL;
}

static void
value_drop(nn_dht_t *d, size_t i)
{
  free(d->values[i].data);
  d->values[i] = d->values[--d->nvalues];
}

/* Are we among the k closest nodes we know to key? Only then do we store for it. */
static int
responsible_for(const nn_dht_t *d, const nn_node_id_t *key)
{
  nn_dht_contact_t closest[NN_RPC_MAX_NODES];
  size_t n = nn_dht_table_closest(d->table, key, d->cfg.k, closest);
  if (n < d->cfg.k)
    return 1;
  return nn_node_id_cmp_distance(key, &d->self, &closest[n - 1].id) < 0;
}

static value_t *
value_find(nn_dht_t *d, const nn_node_id_t *key)
{
  for (size_t i = 0; i < d->nvalues; i++)
    if (!memcmp(d->values[i].key.b, key->b, NN_NODE_ID_LEN))
      return &d->values[i];
  return NULL;
}

/* Does a valid value (seq, exp, v) replace the stored \a x? The order of docs/PROTOCOL.md 6.3:
 * seq, then expiry, then the record format's own tie-break, so that every node keeps the same
 * value whatever order the copies arrive in. */
static int
replaces(const nn_dht_t *d, uint64_t seq, uint64_t exp, const uint8_t *v, size_t len, const value_t *x)
{
  if (seq != x->seq)
    return seq > x->seq;
  if (exp != x->expires_ms)
    return exp > x->expires_ms;
  return d->cfg.newer && d->cfg.newer(d->cfg.validate_ctx, v, len, x->data, x->len);
}

static int
same_key(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
  return al == bl && !memcmp(a, b, al);
}

/* Has \a by used up its share of the store (per host, per group)? */
static int
over_quota(const nn_dht_t *d, const storer_t *by)
{
  unsigned host = 0, grp = 0;
  for (size_t i = 0; i < d->nvalues; i++) {
    const value_t *x = &d->values[i];
    if (x->own)
      continue;
    host += same_key(x->by.host, x->by.host_len, by->host, by->host_len);
    grp += same_key(x->by.grp, x->by.grp_len, by->grp, by->grp_len);
  }
  return host >= d->cfg.values_per_host || grp >= d->cfg.values_per_group;
}

/* The store is full: the value a newcomer for \a key may replace, or SIZE_MAX. Never our own,
 * nor one that others asked for lately; of the rest the one farthest from our id, if the
 * newcomer is closer (what we are responsible for first: Kademlia's replicas are the closest)
 * or is our own (\a own). */
static size_t
eviction_victim(const nn_dht_t *d, const nn_node_id_t *key, int own, uint64_t now_ms)
{
  size_t v = SIZE_MAX;
  for (size_t i = 0; i < d->nvalues; i++) {
    const value_t *x = &d->values[i];
    if (x->own || (x->asked_ms && now_ms - x->asked_ms < VALUE_ASKED_KEEP_MS))
      continue;
    if (v == SIZE_MAX || nn_node_id_cmp_distance(&d->self, &x->key, &d->values[v].key) > 0)
      v = i;
  }
  if (v != SIZE_MAX && !own && nn_node_id_cmp_distance(&d->self, key, &d->values[v].key) >= 0)
    v = SIZE_MAX;
  return v;
}

/* Store a value from \a by (NULL: our own). \a refused: 1 if it is the storer's fault (forged, or
 * over its quota), for a penalty. */
static uint8_t
value_store(nn_dht_t *d, const nn_node_id_t *key, const uint8_t *v, size_t len, uint64_t now_ms, const storer_t *by,
            int *refused)
{
  uint64_t seq = 0, exp = 0;
  int ok;
  value_t *x = value_find(d, key);
  *refused = 0;
  if (!d->cfg.validate)
    return NN_STORE_INVALID;
  /* A copy of what we hold (and still serve) costs a comparison, not a signature check:
   * re-sending one record is no way to burn our CPU. */
  if (x && x->expires_ms > now_ms && x->len == len && !memcmp(x->data, v, len))
    return NN_STORE_OK;
  /* A new entry counts against its storer's share, before the signature check (issue 10, item 5). */
  if (!x && by && over_quota(d, by)) {
    d->sst.refused_quota++;
    *refused = 1;
    return NN_STORE_FULL;
  }
  d->sst.verified++;
  ok = d->cfg.validate(d->cfg.validate_ctx, key, v, len, now_ms, &seq, &exp);
  if (ok != 0) {
    *refused = ok < 0;
    return NN_STORE_INVALID;
  }
  if (x) {
    if (!replaces(d, seq, exp, v, len, x))
      return NN_STORE_OLDER;
    uint8_t *nd = malloc(len);
    if (!nd)
      return NN_STORE_FULL;
    free(x->data);
    x->data = nd;
    memcpy(nd, v, len);
    x->len = len;
    x->seq = seq;
    x->expires_ms = exp;
    x->own |= by == NULL;
    return NN_STORE_OK;
  }
  if (by && !responsible_for(d, key))
    return NN_STORE_NOT_CLOSE;
  if (d->nvalues >= d->cfg.max_values) {
    size_t victim = eviction_victim(d, key, by == NULL, now_ms);
    if (victim == SIZE_MAX) {
      d->sst.refused_full++;
      return NN_STORE_FULL;
    }
    d->sst.evicted++;
    value_drop(d, victim);
  }
  if (!(d->nvalues & (d->nvalues - 1)) || !d->values) { /* grow at powers of two */
    size_t cap = d->nvalues ? d->nvalues * 2 : 4;
    value_t *nv = realloc(d->values, cap * sizeof(*nv));
    if (!nv)
      return NN_STORE_FULL;
    d->values = nv;
  }
  x = &d->values[d->nvalues];
  memset(x, 0, sizeof(*x));
  if (!(x->data = malloc(len)))
    return NN_STORE_FULL;
  memcpy(x->data, v, len);
  x->key = *key;
  x->len = len;
  x->seq = seq;
  x->expires_ms = exp;
  x->own = by == NULL;
  if (by)
    x->by = *by;
  d->nvalues++;
  return NN_STORE_OK;
}

void
nn_dht_store_stats(const nn_dht_t *d, nn_dht_store_stats_t *out)
{
  *out = d->sst;
}

/* ---- incoming messages ---- */

static void
answer_nodes(const nn_dht_t *d, nn_rpc_t *a, const nn_node_id_t *target, const nn_node_id_t *exclude)
{
  nn_dht_contact_t c[NN_RPC_MAX_NODES + 1];
  size_t n = nn_dht_table_closest(d->table, target, d->cfg.k + 1, c);
  a->nnodes = 0;
  for (size_t i = 0; i < n && a->nnodes < d->cfg.k; i++) {
    if (exclude && !memcmp(c[i].id.b, exclude->b, NN_NODE_ID_LEN))
      continue;
    a->nodes[a->nnodes].id = c[i].id;
    a->nodes[a->nnodes].addr = c[i].addr;
    a->nnodes++;
  }
}

/* ---- relaying FIND_VALUE_RELAY ---- */

static void
relay_merge(const nn_dht_t *d, relay_t *r, const nn_rpc_node_t *nodes, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    int dup =
      !memcmp(nodes[i].id.b, d->self.b, NN_NODE_ID_LEN) || !memcmp(nodes[i].id.b, r->asker.id.b, NN_NODE_ID_LEN);
    for (size_t j = 0; j < r->nnodes && !dup; j++)
      dup = !memcmp(r->nodes[j].id.b, nodes[i].id.b, NN_NODE_ID_LEN);
    if (dup)
      continue;
    size_t pos = r->nnodes;
    while (pos > 0 && nn_node_id_cmp_distance(&r->key, &nodes[i].id, &r->nodes[pos - 1].id) < 0)
      pos--;
    if (pos >= d->cfg.k)
      continue;
    size_t end = r->nnodes < d->cfg.k ? r->nnodes : d->cfg.k - 1;
    memmove(&r->nodes[pos + 1], &r->nodes[pos], (end - pos) * sizeof(r->nodes[0]));
    r->nodes[pos] = nodes[i];
    if (r->nnodes < d->cfg.k)
      r->nnodes++;
  }
}

/* Answer the asker (with the value if there is one) and free the slot. */
static void
relay_answer(nn_dht_t *d, relay_t *r, const uint8_t *value, size_t len)
{
  nn_rpc_t a;
  memset(&a, 0, sizeof(a));
  a.kind = NN_RPC_VALUE;
  a.id = r->req;
  a.has_value = value != NULL;
  a.value = value;
  a.value_len = len;
  a.nnodes = value ? 0 : r->nnodes;
  memcpy(a.nodes, r->nodes, a.nnodes * sizeof(a.nodes[0]));
  send_msg(d, &r->asker, r->conn, &a);
  memset(r, 0, sizeof(*r));
}

/* Start relaying; returns 0 if we cannot (then the request is answered like FIND_VALUE). */
static int
relay_start(nn_dht_t *d, void *conn, const nn_node_id_t *from_id, const nn_addr_t *from_addr, const nn_rpc_t *m,
            uint64_t now_ms)
{
  nn_dht_contact_t c[NN_RPC_MAX_NODES + 1];
  relay_t *r = NULL;
  for (size_t i = 0; i < MAX_RELAYS; i++)
    if (!d->relays[i].req) {
      r = &d->relays[i];
      break;
    }
  if (!r)
    return 0;
  memset(r, 0, sizeof(*r));
  r->req = m->id;
  r->conn = conn;
  if (from_id)
    r->asker.id = *from_id;
  r->asker.addr = *from_addr;
  r->key = m->target;
  r->deadline_ms = now_ms + RELAY_WAIT_MS - RELAY_WAIT_STEP * (NN_RPC_MAX_RELAY_HOPS - m->hops);
  size_t n = nn_dht_table_closest(d->table, &m->target, d->cfg.k + 1, c);
  for (size_t i = 0; i < n; i++) {
    nn_rpc_node_t node = { c[i].id, c[i].addr };
    relay_merge(d, r, &node, 1);
  }
  /* ask the closest few, and only if they are closer to the key than we are */
  for (size_t i = 0; i < r->nnodes && r->outstanding < RELAY_FANOUT; i++) {
    if (nn_node_id_cmp_distance(&r->key, &r->nodes[i].id, &d->self) > 0)
      break;
    nn_rpc_t q;
    memset(&q, 0, sizeof(q));
    /* further down the chain while hops are left: each relay rides on channels its sender has */
    q.kind = m->hops ? NN_RPC_FIND_VALUE_RELAY : NN_RPC_FIND_VALUE;
    q.hops = m->hops ? (uint8_t)(m->hops - 1) : 0;
    q.target = r->key;
    if (send_request(d, &r->nodes[i], &q, RPC_RELAY, (uint32_t)(r - d->relays) + 1, now_ms))
      r->outstanding++;
  }
  if (!r->outstanding) {
    memset(r, 0, sizeof(*r));
    return 0;
  }
  return 1;
}

/* A sub-request of relay slot \a idx answered (m != NULL) or failed (m == NULL). */
static void
relay_result(nn_dht_t *d, uint32_t idx, const nn_rpc_t *m, uint64_t now_ms)
{
  if (!idx || idx > MAX_RELAYS || !d->relays[idx - 1].req)
    return; /* already answered */
  relay_t *r = &d->relays[idx - 1];
  if (m && m->kind == NN_RPC_VALUE && m->has_value && d->cfg.validate) {
    uint64_t seq, exp;
    if (d->cfg.validate(d->cfg.validate_ctx, &r->key, m->value, m->value_len, now_ms, &seq, &exp) == 0) {
      relay_answer(d, r, m->value, m->value_len);
      return;
    }
  }
  if (m)
    relay_merge(d, r, m->nodes, m->nnodes);
  if (r->outstanding)
    r->outstanding--;
  if (!r->outstanding)
    relay_answer(d, r, NULL, 0);
}

static void
on_request(nn_dht_t *d, void *conn, const nn_node_id_t *from_id, const nn_addr_t *from_addr, int dialled,
           const nn_rpc_t *m, uint64_t now_ms)
{
  nn_rpc_t a;
  nn_rpc_node_t to;
  storer_t by;
  int refused = 0;

  memset(&a, 0, sizeof(a));
  a.id = m->id;
  /* An identified requester that advertises an address on the host it connects from joins
   * the table; the address is checked by the next outbound RPC like any other. */
  if (from_id && m->has_addr && addr_vouched(&m->addr, from_addr))
    contact_alive(d, from_id, &m->addr, now_ms, 0);
  switch (m->kind) {
  case NN_RPC_PING:
    a.kind = NN_RPC_PONG;
    a.addr = *from_addr;
    break;
  case NN_RPC_FIND_NODE:
    a.kind = NN_RPC_NODES;
    answer_nodes(d, &a, &m->target, from_id);
    break;
  case NN_RPC_FIND_VALUE_RELAY:
  case NN_RPC_FIND_VALUE: {
    a.kind = NN_RPC_VALUE;
    value_t *x = value_find(d, &m->target);
    if (x) {
      a.value = x->data;
      a.value_len = x->len;
      storer_of(from_addr, dialled, &by);
      if (!same_key(x->by.host, x->by.host_len, by.host, by.host_len))
        x->asked_ms = now_ms; /* wanted by someone other than whoever put it here */
    }
    a.has_value = a.value != NULL;
    if (!a.has_value && m->kind == NN_RPC_FIND_VALUE_RELAY && relay_start(d, conn, from_id, from_addr, m, now_ms))
      return; /* answered when the relayed requests come back */
    if (!a.has_value)
      answer_nodes(d, &a, &m->target, from_id);
    break;
  }
  case NN_RPC_STORE:
    a.kind = NN_RPC_STORED;
    storer_of(from_addr, dialled, &by);
    /* over the rate: "no room", before any signature check (issue 10, item 6), and a point off:
     * an honest node sends a few STOREs a minute */
    if (!store_allowed(d, &by, now_ms)) {
      d->sst.refused_rate++;
      a.status = NN_STORE_FULL;
      penalize(d, from_id, from_addr, 1, "STOREs above the rate");
      break;
    }
    a.status = value_store(d, &m->target, m->value, m->value_len, now_ms, &by, &refused);
    if (refused && a.status == NN_STORE_INVALID)
      penalize(d, from_id, from_addr, 20, "stored an invalid record");
    else if (refused)
      penalize(d, from_id, from_addr, 1, "STOREs above its share of the value store");
    break;
  default: return;
  }
  memset(&to, 0, sizeof(to));
  if (from_id)
    to.id = *from_id;
  to.addr = *from_addr;
  send_msg(d, &to, conn, &a);
}

/* A node failed at \a addr: that counts against its contact only if the contact is at that
 * address. A referrer that names a known node at a dead address must not get it evicted. */
static void
table_failed_at(nn_dht_t *d, const nn_node_id_t *id, const nn_addr_t *addr, uint64_t now_ms)
{
  const nn_dht_contact_t *c = nn_dht_table_find(d->table, id);
  if (!c)
    c = nn_dht_table_find_replacement(d->table, id);
  if (c && nn_addr_equal(&c->addr, addr))
    nn_dht_table_failed(d->table, id, now_ms);
}

static void
rpc_failed(nn_dht_t *d, inflight_t *f, uint64_t now_ms)
{
  inflight_t copy = *f;
  memset(f, 0, sizeof(*f));
  d->timeout_dirty = 1;
  table_failed_at(d, &copy.to.id, &copy.to.addr, now_ms);
  if (copy.purpose == RPC_PROBE)
    nn_dht_table_probe_result(d->table, &copy.to.id, 0, now_ms);
  if (copy.purpose == RPC_RELAY)
    relay_result(d, copy.lookup, NULL, now_ms);
  if (copy.purpose != RPC_LOOKUP)
    return;
  lookup_t *l = lookup_by_handle(d, copy.lookup);
  if (!l)
    return;
  for (size_t i = 0; i < l->ncand; i++)
    if (!memcmp(l->cands[i].node.id.b, copy.to.id.b, NN_NODE_ID_LEN) && l->cands[i].state == CAND_INFLIGHT) {
      l->cands[i].state = CAND_FAILED;
      l->failures++;
    }
  lookup_step(d, l, now_ms);
}

/* The table takes only an address the node itself proved: the one we reached it at (a channel
 * we dialled). The address a referrer named proves nothing, since the request may have gone over
 * a channel the node already had with us (issue 10, item 7); an inbound channel shows where the
 * node connects from, not where it listens. Over one of those, a known contact is refreshed at
 * its known address and an unknown node waits until it advertises its address itself (a
 * request's address field, on its own host) or we reach it. */
static void
answer_alive(nn_dht_t *d, const nn_node_id_t *id, const nn_addr_t *from_addr, int dialled, uint64_t now_ms,
             uint32_t rtt)
{
  const nn_dht_contact_t *c;
  if (dialled) {
    contact_alive(d, id, from_addr, now_ms, rtt);
  } else if ((c = nn_dht_table_find(d->table, id)) || (c = nn_dht_table_find_replacement(d->table, id))) {
    nn_addr_t known = c->addr;
    contact_alive(d, id, &known, now_ms, rtt);
  }
}

static void
on_answer(nn_dht_t *d, const nn_node_id_t *from_id, const nn_addr_t *from_addr, int dialled, const nn_rpc_t *m,
          uint64_t now_ms)
{
  inflight_t *f = NULL;
  for (size_t i = 0; i < d->cfg.max_inflight; i++)
    if (d->inflight[i].req == m->id) {
      f = &d->inflight[i];
      break;
    }
  /* Only the node we asked may answer: the channel authenticated from_id. */
  if (!f || !from_id || memcmp(f->to.id.b, from_id->b, NN_NODE_ID_LEN)) {
    penalize(d, from_id, from_addr, 1, "unsolicited DHT answer");
    return;
  }
  inflight_t req = *f;
  memset(f, 0, sizeof(*f));
  d->timeout_dirty = 1;
  int kind_ok =
    (req.purpose == RPC_STORE && m->kind == NN_RPC_STORED) ||
    ((req.purpose == RPC_PING || req.purpose == RPC_PROBE) && m->kind == NN_RPC_PONG) ||
    ((req.purpose == RPC_LOOKUP || req.purpose == RPC_RELAY) && (m->kind == NN_RPC_NODES || m->kind == NN_RPC_VALUE));
  if (!kind_ok) {
    penalize(d, from_id, from_addr, 5, "DHT answer of the wrong kind");
    rpc_failed(d, &req, now_ms);
    return;
  }
  uint64_t rtt = now_ms - req.sent_ms;
  answer_alive(d, from_id, from_addr, dialled, now_ms, rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt);
  if (req.purpose == RPC_PROBE)
    nn_dht_table_probe_result(d->table, from_id, 1, now_ms);
  if (req.purpose == RPC_RELAY)
    relay_result(d, req.lookup, m, now_ms);
  if (req.purpose != RPC_LOOKUP)
    return;
  lookup_t *l = lookup_by_handle(d, req.lookup);
  if (!l)
    return;
  cand_t *c = NULL;
  for (size_t i = 0; i < l->ncand; i++)
    if (!memcmp(l->cands[i].node.id.b, from_id->b, NN_NODE_ID_LEN)) {
      c = &l->cands[i];
      break;
    }
  if (!c)
    return;
  c->state = CAND_ANSWERED;
  if (m->kind == NN_RPC_VALUE && m->has_value) {
    uint64_t seq, exp;
    int ok = d->cfg.validate
               ? d->cfg.validate(d->cfg.validate_ctx, &l->target, m->value, m->value_len, now_ms, &seq, &exp)
               : -1;
    if (ok == 0 && !l->value && (l->value = malloc(m->value_len ? m->value_len : 1))) {
      memcpy(l->value, m->value, m->value_len);
      l->value_len = m->value_len;
      /* a relayed answer may come from one hop further: count it (an upper bound) */
      l->value_depth = c->depth + (c->depth == 1 && d->cfg.relay ? (unsigned)d->cfg.relay : 0u);
    } else if (ok < 0) {
      penalize(d, from_id, from_addr, 20, "served an invalid record");
    }
  }
  /* Take only the few closest referrals of each answer: a liar answers with its accomplices
   * closest to the target, and if one answer could fill the whole shortlist, every later query
   * would go to them. Capped, honest referrals from other answers keep their places. */
  size_t take = m->nnodes < d->cfg.per_referrer ? m->nnodes : d->cfg.per_referrer;
  uint8_t used[NN_RPC_MAX_NODES] = { 0 };
  for (size_t t = 0; t < take; t++) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < m->nnodes; i++)
      if (!used[i] &&
          (best == SIZE_MAX || nn_node_id_cmp_distance(&l->target, &m->nodes[i].id, &m->nodes[best].id) < 0))
        best = i;
    used[best] = 1;
    cand_add(d, l, &m->nodes[best], c->path, (uint16_t)(c->depth + 1));
  }
  lookup_step(d, l, now_ms);
}

nn_err_t
nn_dht_on_message(nn_dht_t *d, void *conn, const nn_node_id_t *from_id, const nn_addr_t *from_addr, int dialled,
                  const uint8_t *msg, size_t len, uint64_t now_ms)
{
  nn_rpc_t *m = malloc(sizeof(*m)); /* ~1.3 KB: keep it off the stack of deep simulations */
  nn_err_t err;
  if (!m)
    return NN_ERR_NOMEM;
  if ((err = nn_rpc_decode(m, msg, len))) {
    penalize(d, from_id, from_addr, 10, "malformed DHT message");
  } else if (nn_rpc_is_request(m->kind)) {
    on_request(d, conn, from_id, from_addr, dialled, m, now_ms);
  } else {
    on_answer(d, from_id, from_addr, dialled, m, now_ms);
  }
  free(m);
  return err;
}

void
nn_dht_on_unreachable(nn_dht_t *d, const nn_node_id_t *id, uint64_t now_ms)
{
  for (size_t i = 0; i < d->cfg.max_inflight; i++)
    if (d->inflight[i].req && !memcmp(d->inflight[i].to.id.b, id->b, NN_NODE_ID_LEN))
      rpc_failed(d, &d->inflight[i], now_ms);
}

void
nn_dht_tick(nn_dht_t *d, uint64_t now_ms)
{
  for (size_t i = 0; i < d->cfg.max_inflight; i++)
    if (d->inflight[i].req && now_ms - d->inflight[i].sent_ms >= d->cfg.rpc_timeout_ms)
      rpc_failed(d, &d->inflight[i], now_ms);
  for (size_t i = 0; i < MAX_RELAYS; i++)
    if (d->relays[i].req && d->relays[i].deadline_ms <= now_ms)
      relay_answer(d, &d->relays[i], NULL, 0);
  for (size_t i = 0; i < d->nvalues;)
    if (d->values[i].expires_ms <= now_ms)
      value_drop(d, i);
    else
      i++;
  /* Lookups stalled by a full in-flight table get another chance. */
  for (size_t i = 0; i < d->cfg.max_lookups; i++)
    if (d->lookups[i].handle && d->lookups[i].handle != UINT32_MAX)
      lookup_step(d, &d->lookups[i], now_ms);
  /* Bucket refresh: one stale bucket per minute at most, and none in the first interval (a new
   * node's buckets were just filled by its join). */
  nn_node_id_t target;
  if (d->cfg.refresh_ms && now_ms - d->created_ms >= d->cfg.refresh_ms && now_ms - d->last_refresh_ms >= 60000) {
    d->last_refresh_ms = now_ms;
    if (nn_dht_table_refresh_due(d->table, now_ms, d->cfg.refresh_ms, d->cfg.rng, &target))
      (void)nn_dht_lookup(d, &target, 0, NULL, NULL, now_ms);
  }
}

uint64_t
nn_dht_deadline(nn_dht_t *d)
{
  if (d->timeout_dirty) { /* a request completed: the earliest timeout may have gone */
    d->next_timeout = UINT64_MAX;
    for (size_t i = 0; i < d->cfg.max_inflight; i++)
      if (d->inflight[i].req && d->inflight[i].sent_ms + d->cfg.rpc_timeout_ms < d->next_timeout)
        d->next_timeout = d->inflight[i].sent_ms + d->cfg.rpc_timeout_ms;
    d->timeout_dirty = 0;
  }
  uint64_t next = d->next_timeout;
  for (size_t i = 0; i < d->nvalues; i++)
    if (d->values[i].expires_ms < next)
      next = d->values[i].expires_ms;
  for (size_t i = 0; i < MAX_RELAYS; i++)
    if (d->relays[i].req && d->relays[i].deadline_ms < next)
      next = d->relays[i].deadline_ms;
  if (d->cfg.refresh_ms) {
    uint64_t r = d->created_ms + d->cfg.refresh_ms;
    if (r < d->last_refresh_ms + 60000)
      r = d->last_refresh_ms + 60000;
    if (r < next)
      next = r;
  }
  return next;
}
