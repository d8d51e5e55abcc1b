/*
 * Fuzz the Dandelion++ core (dandelion/dandelion.h) as a hostile network drives it: one nn_dl_t,
 * small caps, and a sequence of peer churn, stems, fluffs, INVs, GETDATAs, our own submissions
 * and clock ticks decoded from the input. The io callbacks and a check after every step keep a
 * model of what the header promises and abort() on any departure (ASan/UBSan/LSan catch the rest).
 *
 * Input format (all through the bounded wire reader, big-endian; a short read ends the run):
 *
 *   u32 seed      the nn_drbg seed (nn_drbg_init_u64), so a run replays byte for byte
 *   u8  flags     bit0 route DIRECT (else DANDELION)
 *                 bit1-2 fluff_prob: 0.05, 0.1, 0.25, 0.5
 *                 bit3 cap set B: mem_max_bytes < stem_max_bytes < max_tx_bytes, tiny counts
 *                 bit4 short epochs: epoch 2,000 ms, jitter 1,999 ms (an epoch may last 1 ms)
 *                 bit5 zero delays: no embargo base/mean, INV means 0, request timeout 0
 *                 bit6 start the clock at 1.7e12 ms (else 0)
 *   then steps, at most MAX_STEPS, each: u8 op, then its arguments (op % 11):
 *     0 peer_add    PEER (bit 7 of the byte: outbound)
 *     1 peer_remove PEER
 *     2 submit      TX
 *     3 on_stem     PEER TX
 *     4 on_fluff    PEER TX
 *     5 on_inv      PEER ID
 *     6 on_getdata  PEER ID
 *     7 tick        u16 dt: dt < 0x8000 advances dt ms, else (dt & 0x7fff) * 100 ms; then tick
 *     8 run         u8 n: up to n % 8 + 1 times, jump to nn_dl_deadline() and tick there
 *     9 late        u16 dt: advance dt ms WITHOUT ticking (a late driver: later calls see
 *                   overdue timers)
 *    10 fetch       PEER TX: on_inv(PEER, id of TX) then on_fluff(PEER, TX), the announce/ask/
 *                   answer round trip of an honest fluffer
 *   PEER = u8 p: handle (p & 0x7f) % 17, where 16 stands for NN_DL_NO_PEER (always refused)
 *   TX   = u8 L: L < 0xf0: L bytes follow (L = 0 is an empty tx);
 *                0xf0..0xfe: a long tx of 200 + (L - 0xf0) * 25 bytes patterned from one more
 *                byte b (reaches the byte caps and max_tx_bytes);
 *                0xff: u8 k, the k-th (mod count) tx seen earlier in the run, byte for byte
 *   ID   = u8 s: s & 0x80: 32 raw bytes follow; else the s-th (mod count) id seen so far (ids
 *                of txs handed to the core, and announced ids it asked for), all-zero if none
 *
 * Seeds in fuzz/corpus/fuzz_dandelion/ follow this format.
 *
 * Checked: stems only to a connected outbound peer that is a current relay, never back to the
 * peer stemming it in that call, never for a mempool tx, and outside submit/on_stem/peer_remove
 * only for our own waiting stems; INVs only to connected peers, for mempool ids; GETDATAs only
 * to the announcer, for the id announced, when not held; TXs only to the asker, for the id
 * asked, from the mempool, after an INV to that peer and once per INV; deliver once per stay in
 * the mempool, with a via/from that matches the call (FLUFF only from a peer we asked); bytes
 * passed out equal the bytes passed in; return codes; the mempool is exactly the delivered,
 * not-yet-evicted set (count and bytes); all caps; relays = min(2, outbound peers), distinct;
 * after a tick, nn_dl_deadline() > now.
 * -DFUZZ_DANDELION_TRACE prints what each run reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rand.h"
#include "crypto/sha3.h"
#include "dandelion/dandelion.h"
#include "lib/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 400
#define MAX_ENT (2 * MAX_STEPS + 8) /* a step adds at most one tx id and one announced id */
#define LONG_TX_MAX (200 + 14 * 25)
#define NPEER 17 /* handles 0..15, and index 16 = NN_DL_NO_PEER */

#define CHECK(c)                                                                                                       \
  do {                                                                                                                 \
    if (!(c)) {                                                                                                        \
      fprintf(stderr, "fuzz_dandelion: invariant failed at line %d (step %u, ctx %d): %s\n", __LINE__, g.step, g.ctx,  \
              #c);                                                                                                     \
      abort();                                                                                                         \
    }                                                                                                                  \
  } while (0)

/* What the harness knows of one id: a transaction it handed to the core (has_tx), or an id it
 * announced or was asked about. */
typedef struct ent_t {
  nn_hash_t id;
  uint8_t has_tx;
  uint8_t inmem;       /* delivered and (as of the last sync) still nn_dl_have */
  uint8_t ever_mem;    /* delivered at some point in the run */
  uint32_t asked;      /* peers the core sent a GETDATA for it to since they were last added */
  uint32_t stemmed_by; /* peers that stemmed it to us since they were last added, while it was held */
  uint32_t announced;  /* peers the core sent its INV to and has not served since */
  uint8_t submitted;   /* we submitted it (it may be one of our own stems) */
  size_t len;
  uint8_t tx[LONG_TX_MAX];
} ent_t;

enum { C_NONE, C_ADD, C_REMOVE, C_SUBMIT, C_STEM, C_FLUFF, C_INV, C_GETDATA, C_TICK };

typedef struct state_t {
  nn_dl_t *dl;
  nn_dl_cfg_t cfg;
  uint64_t now;
  unsigned step;
  int ctx; /* which core call is running (the callbacks check against it) */
  uint32_t ctx_peer;
  nn_hash_t ctx_id;
  uint8_t present[NPEER], outbound[NPEER];
  size_t npeers;
  size_t nent, ntxs;
  uint64_t n_stem_sent, n_del_embargo, n_del_stem_fluff, n_notfound, n_served;
  size_t delivered_in_call;
  /* not cleared between runs (large): only the first nent / ntxs are live */
  ent_t ent[MAX_ENT];
  size_t txs[MAX_ENT]; /* indices of entries with has_tx, in order of first sight */
} state_t;
static state_t g;

static uint32_t
handle_of(uint8_t p)
{
  unsigned i = (unsigned)(p & 0x7f) % NPEER;
  return i == NPEER - 1 ? NN_DL_NO_PEER : i;
}

/* Model index of a handle the core passed back; -1 if it is not one of ours. */
static int
pidx(uint32_t peer)
{
  return peer < NPEER - 1 ? (int)peer : -1;
}

static int
is_current(uint32_t peer)
{
  int i = pidx(peer);
  return i >= 0 && g.present[i];
}

static ent_t *
ent_find(const nn_hash_t *id)
{
  for (size_t i = 0; i < g.nent; i++)
    if (!memcmp(g.ent[i].id.b, id->b, NN_HASH_LEN))
      return &g.ent[i];
  return NULL;
}

static ent_t *
ent_get(const nn_hash_t *id)
{
  ent_t *e = ent_find(id);
  if (e)
    return e;
  CHECK(g.nent < MAX_ENT);
  e = &g.ent[g.nent++];
  memset(e, 0, offsetof(ent_t, tx));
  e->id = *id;
  return e;
}

static nn_hash_t
hash_of(const uint8_t *tx, size_t len)
{
  nn_hash_t h;
  CHECK(nn_sha3_256(&h, tx, len) == NN_OK);
  return h;
}

/* Remember a tx about to be handed to the core (any length: the core must refuse the bad ones). */
static void
note_tx(const uint8_t *tx, size_t len)
{
  if (!len || len > LONG_TX_MAX)
    return;
  nn_hash_t h = hash_of(tx, len);
  ent_t *e = ent_get(&h);
  if (!e->has_tx) {
    e->has_tx = 1;
    e->len = len;
    memcpy(e->tx, tx, len);
    g.txs[g.ntxs++] = (size_t)(e - g.ent);
  }
}

/* A transaction the core passes out: well-formed, one we gave it, bytes intact. */
static ent_t *
tx_out(const uint8_t *tx, size_t len)
{
  CHECK(tx && len >= 1 && len <= g.cfg.max_tx_bytes);
  nn_hash_t h = hash_of(tx, len);
  ent_t *e = ent_find(&h);
  CHECK(e && e->has_tx && e->len == len && !memcmp(e->tx, tx, len));
  return e;
}

static int
is_relay(uint32_t peer)
{
  uint32_t r[2];
  size_t n = nn_dl_relays(g.dl, r);
  for (size_t i = 0; i < n; i++)
    if (r[i] == peer)
      return 1;
  return 0;
}

/* --- io callbacks: only read-only core queries are made from inside them --------------------- */

static void
io_send_stem(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  (void)ctx;
  /* stems leave for our own tx, a received stem, or a relay that went away; and our own stems
   * that found no relay leave when one appears (an outbound peer, or a new epoch) */
  CHECK(g.ctx == C_SUBMIT || g.ctx == C_STEM || g.ctx == C_REMOVE || g.ctx == C_ADD || g.ctx == C_TICK);
  CHECK(!(g.ctx == C_SUBMIT && g.cfg.route == NN_ROUTE_DIRECT));
  /* only to a connected outbound peer that is one of this epoch's relays */
  CHECK(is_current(peer) && g.outbound[pidx(peer)]);
  CHECK(is_relay(peer));
  /* never back to the peer that stemmed it to us in this call */
  CHECK(!(g.ctx == C_STEM && peer == g.ctx_peer));
  ent_t *e = tx_out(tx, len);
  if (g.ctx == C_ADD || g.ctx == C_TICK) /* only ours wait for a relay; DIRECT stems none */
    CHECK(e->submitted && g.cfg.route != NN_ROUTE_DIRECT);
  /* a stem handed over after its relay left never goes back to a peer that stemmed it to us */
  CHECK(!(g.ctx == C_REMOVE && (e->stemmed_by & (1u << pidx(peer)))));
  if (g.ctx == C_STEM)
    e->stemmed_by |= 1u << pidx(g.ctx_peer);
  /* a stem is a stempool transaction: never one the mempool holds */
  CHECK(!nn_dl_have(g.dl, &e->id));
  g.n_stem_sent++;
}

static void
io_send_inv(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  (void)ctx;
  CHECK(is_current(peer));
  /* only ids in the mempool are announced: a stempool id never is */
  ent_t *e = ent_find(id);
  CHECK(e && e->ever_mem && e->inmem && nn_dl_have(g.dl, id));
  /* Never cleared when the peer leaves: the core keys announcements by handle, and this harness
   * reuses handles (the node does not), so a re-added handle may legitimately be served. */
  e->announced |= 1u << pidx(peer);
}

static void
io_send_getdata(void *ctx, uint32_t peer, const nn_hash_t *id)
{
  (void)ctx;
  /* asked of the announcer, for what it announced, when we do not hold it */
  CHECK(g.ctx == C_INV && peer == g.ctx_peer && is_current(peer));
  CHECK(!memcmp(id->b, g.ctx_id.b, NN_HASH_LEN));
  CHECK(!nn_dl_have(g.dl, id));
  ent_get(id)->asked |= 1u << pidx(peer);
}

static void
io_send_tx(void *ctx, uint32_t peer, const uint8_t *tx, size_t len)
{
  (void)ctx;
  /* the answer to this peer's GETDATA, for the id asked, from the mempool only */
  CHECK(g.ctx == C_GETDATA && peer == g.ctx_peer && is_current(peer));
  ent_t *e = tx_out(tx, len);
  CHECK(!memcmp(e->id.b, g.ctx_id.b, NN_HASH_LEN));
  CHECK(nn_dl_have(g.dl, &e->id));
  CHECK(e->inmem);
  /* and only after our INV of it to this peer, once per INV */
  CHECK(e->announced & (1u << pidx(peer)));
  e->announced &= ~(1u << pidx(peer));
  g.n_served++;
}

static void
io_deliver(void *ctx, const uint8_t *tx, size_t len, nn_dl_via_t via, uint32_t from)
{
  (void)ctx;
  ent_t *e = tx_out(tx, len);
  /* once per stay in the mempool, and it is in the mempool now */
  CHECK(!e->inmem);
  CHECK(nn_dl_have(g.dl, &e->id));
  switch (via) {
  case NN_DL_VIA_FLUFF:
    /* only the answer to our own GETDATA to that very peer */
    CHECK(g.ctx == C_FLUFF && from == g.ctx_peer && is_current(from));
    CHECK(e->asked & (1u << pidx(from)));
    break;
  case NN_DL_VIA_STEM_FLUFF:
    CHECK(g.ctx == C_STEM && from == g.ctx_peer && is_current(from));
    g.n_del_stem_fluff++;
    break;
  case NN_DL_VIA_EMBARGO:
    CHECK(g.ctx == C_TICK && from == NN_DL_NO_PEER);
    g.n_del_embargo++;
    break;
  case NN_DL_VIA_DIRECT: CHECK(g.ctx == C_SUBMIT && g.cfg.route == NN_ROUTE_DIRECT && from == NN_DL_NO_PEER); break;
  default: CHECK(0);
  }
  e->inmem = e->ever_mem = 1;
  g.delivered_in_call++;
}

/* --- after every step -------------------------------------------------------------------------- */

static void
check_state(int ticked, nn_dl_stats_t *prev)
{
  nn_dl_stats_t st;
  nn_dl_stats(g.dl, &st);
  const nn_dl_cfg_t *c = &g.cfg;

  /* the mempool is exactly what was delivered and not evicted since */
  size_t cnt = 0, bytes = 0;
  for (size_t i = 0; i < g.nent; i++) {
    ent_t *e = &g.ent[i];
    if (e->inmem && !nn_dl_have(g.dl, &e->id))
      e->inmem = 0;
    /* the core knows who stemmed a transaction to it only while it holds the stem: once the tx
     * left the stempool (evicted, fluffed), a later stem or submit of it starts afresh */
    if (e->stemmed_by && !nn_dl_stemming(g.dl, &e->id))
      e->stemmed_by = 0;
    if (e->inmem) {
      cnt++;
      bytes += e->len;
    } else {
      /* nothing is in the mempool that was never delivered */
      CHECK(!nn_dl_have(g.dl, &e->id));
    }
  }
  CHECK(st.mem_count == cnt && st.mem_bytes == bytes);

  /* caps */
  CHECK(st.stem_count <= c->stem_max_count && st.stem_bytes <= c->stem_max_bytes);
  CHECK(st.mem_count <= c->mem_max_count && st.mem_bytes <= c->mem_max_bytes);
  CHECK(st.stem_count <= st.stem_bytes && st.stem_bytes <= st.stem_count * c->max_tx_bytes);
  CHECK(st.pending_inv <= c->max_pending_inv);
  CHECK(st.requests <= c->max_requests);
  CHECK(st.requests <= g.npeers * c->max_requests_per_peer); /* a gone peer's requests go */

  /* accounting */
  CHECK(st.stems_out == g.n_stem_sent);
  CHECK(st.embargo_fired >= g.n_del_embargo);
  CHECK(st.stem_fluffed >= g.n_del_stem_fluff);
  CHECK(st.unsolicited == g.n_notfound);
  CHECK(st.fluff_epochs <= st.epochs && st.epochs >= 1);
  CHECK(st.epochs >= prev->epochs && st.evicted >= prev->evicted && st.refused >= prev->refused &&
        st.inv_dropped >= prev->inv_dropped && st.stems_in >= prev->stems_in && st.stem_loops >= prev->stem_loops &&
        st.restems >= prev->restems && st.inv_ignored >= prev->inv_ignored);
  CHECK(st.restems <= st.stems_out);
  *prev = st;

  /* relays: this epoch's two (or fewer) outbound peers, distinct, replaced when one leaves */
  size_t nout = 0;
  for (int i = 0; i < NPEER - 1; i++)
    nout += g.present[i] && g.outbound[i];
  uint32_t r[2];
  size_t nr = nn_dl_relays(g.dl, r);
  CHECK(nr == (nout < 2 ? nout : 2));
  for (size_t i = 0; i < nr; i++)
    CHECK(is_current(r[i]) && g.outbound[pidx(r[i])]);
  CHECK(nr < 2 || r[0] != r[1]);

  /* timers: after a tick at now nothing is overdue, so a driver looping on the deadline moves on */
  uint64_t d = nn_dl_deadline(g.dl);
  CHECK(d <= nn_dl_epoch_end(g.dl));
  if (ticked)
    CHECK(d > g.now && nn_dl_epoch_end(g.dl) > g.now);
}

/* --- decoding ---------------------------------------------------------------------------------- */

/* TX argument into \a buf (LONG_TX_MAX bytes); returns 0 on a short input. */
static int
get_tx(nn_wire_reader_t *r, uint8_t *buf, size_t *len)
{
  uint8_t l, b;
  const uint8_t *v;
  if (nn_wire_get_u8(r, &l))
    return 0;
  if (l < 0xf0) {
    if (nn_wire_get_view(r, l, &v))
      return 0;
    memcpy(buf, v, l);
    *len = l;
  } else if (l < 0xff) {
    if (nn_wire_get_u8(r, &b))
      return 0;
    *len = 200 + (size_t)(l - 0xf0) * 25;
    for (size_t i = 0; i < *len; i++)
      buf[i] = (uint8_t)(b ^ (i * 31) ^ (i >> 8));
  } else {
    if (nn_wire_get_u8(r, &b))
      return 0;
    if (!g.ntxs) {
      buf[0] = b;
      *len = 1;
    } else {
      const ent_t *e = &g.ent[g.txs[b % g.ntxs]];
      memcpy(buf, e->tx, e->len);
      *len = e->len;
    }
  }
  return 1;
}

static int
get_id(nn_wire_reader_t *r, nn_hash_t *id)
{
  uint8_t s;
  if (nn_wire_get_u8(r, &s))
    return 0;
  if (s & 0x80)
    return nn_wire_get_bytes(r, id->b, NN_HASH_LEN) == NN_OK;
  if (g.nent)
    *id = g.ent[s % g.nent].id;
  else
    memset(id->b, 0, NN_HASH_LEN);
  return 1;
}

static int
get_peer(nn_wire_reader_t *r, uint32_t *peer, int *out)
{
  uint8_t p;
  if (nn_wire_get_u8(r, &p))
    return 0;
  *peer = handle_of(p);
  if (out)
    *out = p >> 7;
  return 1;
}

/* --- the operations ---------------------------------------------------------------------------- */

static void
do_tick(void)
{
  g.ctx = C_TICK;
  nn_dl_tick(g.dl, g.now);
  g.ctx = C_NONE;
}

/* Every transaction the stempool holds is one of our own (so a peer's stem finds no room). */
static int
stempool_all_own(void)
{
  for (size_t i = 0; i < g.nent; i++)
    if (nn_dl_stemming(g.dl, &g.ent[i].id) == 1)
      return 0;
  return 1;
}

static void
op_stem(uint32_t peer, const uint8_t *tx, size_t len)
{
  note_tx(tx, len);
  g.ctx = C_STEM;
  g.ctx_peer = peer;
  nn_err_t e = nn_dl_on_stem(g.dl, peer, tx, len, g.now);
  g.ctx = C_NONE;
  if (!len)
    CHECK(e == NN_ERR_ARG);
  else if (len > g.cfg.max_tx_bytes)
    CHECK(e == NN_ERR_TOO_LONG);
  else if (!is_current(peer))
    CHECK(e == NN_OK || e == NN_ERR_ARG); /* a known tx is absorbed, an unknown one refused */
  else if (e == NN_ERR_NOSPACE)           /* larger than the stempool, or it holds only ours: they never
                                 * make room for a peer's (the peers' went first) */
    CHECK(len > g.cfg.stem_max_bytes || stempool_all_own());
  else if (len <= g.cfg.mem_max_bytes && len <= g.cfg.stem_max_bytes)
    CHECK(e == NN_OK);
  else
    CHECK(e == NN_OK || e == NN_ERR_NOMEM);
}

static void
op_fluff(uint32_t peer, const uint8_t *tx, size_t len)
{
  note_tx(tx, len);
  g.ctx = C_FLUFF;
  g.ctx_peer = peer;
  g.delivered_in_call = 0;
  nn_err_t e = nn_dl_on_fluff(g.dl, peer, tx, len, g.now);
  g.ctx = C_NONE;
  if (e == NN_ERR_NOTFOUND)
    g.n_notfound++;
  if (!len)
    CHECK(e == NN_ERR_ARG);
  else if (len > g.cfg.max_tx_bytes)
    CHECK(e == NN_ERR_TOO_LONG);
  else if (g.delivered_in_call)
    CHECK(e == NN_OK);
  else
    CHECK(e == NN_OK || e == NN_ERR_NOTFOUND || e == NN_ERR_NOMEM);
  if (e == NN_OK) { /* accepted now, or held already: in the mempool either way */
    nn_hash_t id = hash_of(tx, len);
    CHECK(nn_dl_have(g.dl, &id));
  }
}

static void
op_inv(uint32_t peer, const nn_hash_t *id)
{
  g.ctx = C_INV;
  g.ctx_peer = peer;
  g.ctx_id = *id;
  nn_dl_on_inv(g.dl, peer, id, g.now);
  g.ctx = C_NONE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_wire_reader_t r;
  uint32_t seed = 0;
  uint8_t flags = 0;
  static const double fp[4] = { 0.05, 0.1, 0.25, 0.5 };
  static uint8_t buf[LONG_TX_MAX];

  nn_wire_reader_init(&r, data, size);
  if (nn_wire_get_u32(&r, &seed) || nn_wire_get_u8(&r, &flags))
    return 0;
  memset(&g, 0, offsetof(state_t, ent));

  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, seed);
  nn_rng_t rng = nn_drbg_rng(&drbg);
  nn_dl_cfg_t *c = &g.cfg;
  nn_dl_cfg_default(c);
  c->rng = &rng;
  c->route = (flags & 1) ? NN_ROUTE_DIRECT : NN_ROUTE_DANDELION;
  c->fluff_prob = fp[(flags >> 1) & 3];
  c->epoch_ms = 60000;
  c->epoch_jitter_ms = 3000;
  c->embargo_base_ms = 1000;
  c->embargo_mean_ms = 4000;
  c->inv_mean_in_ms = 500;
  c->inv_mean_out_ms = 200;
  c->request_timeout_ms = 3000;
  if (flags & 8) { /* set B: a tx can fit the stempool but not the mempool, or neither */
    c->max_tx_bytes = 500;
    c->max_peers = 5;
    c->stem_max_count = 3;
    c->stem_max_bytes = 450;
    c->mem_max_count = 3;
    c->mem_max_bytes = 350;
    c->max_pending_inv = 5;
    c->max_requests = 3;
    c->max_requests_per_peer = 1;
  } else {
    c->max_tx_bytes = 300;
    c->max_peers = 8;
    c->stem_max_count = 4;
    c->stem_max_bytes = 800;
    c->mem_max_count = 6;
    c->mem_max_bytes = 1200;
    c->max_pending_inv = 24;
    c->max_requests = 6;
    c->max_requests_per_peer = 3;
  }
  if (flags & 16) {
    c->epoch_ms = 2000;
    c->epoch_jitter_ms = 1999;
  }
  if (flags & 32) {
    c->embargo_base_ms = c->embargo_mean_ms = 0;
    c->inv_mean_in_ms = c->inv_mean_out_ms = 0;
    c->request_timeout_ms = 0;
  }
  g.now = (flags & 64) ? 1700000000000ull : 0;

  nn_dl_io_t io = { io_send_stem, io_send_inv, io_send_getdata, io_send_tx, io_deliver, NULL };
  CHECK(nn_dl_new(&g.dl, c, &io, g.now) == NN_OK && g.dl);
  nn_dl_stats_t prev;
  memset(&prev, 0, sizeof prev);
  check_state(0, &prev);

  for (g.step = 0; g.step < MAX_STEPS; g.step++) {
    uint8_t op;
    uint32_t peer = 0;
    int out = 0, ticked = 0;
    size_t len = 0;
    nn_hash_t id;
    if (nn_wire_get_u8(&r, &op))
      break;
    switch (op % 11) {
    case 0: { /* peer_add */
      if (!get_peer(&r, &peer, &out))
        goto done;
      nn_err_t want = NN_OK;
      if (peer == NN_DL_NO_PEER || g.present[pidx(peer)])
        want = NN_ERR_ARG;
      else if (g.npeers >= c->max_peers)
        want = NN_ERR_NOSPACE;
      if (want == NN_OK) { /* connected before the core hears of it: stems may go to it at once */
        g.present[pidx(peer)] = 1;
        g.outbound[pidx(peer)] = (uint8_t)out;
        g.npeers++;
      }
      g.ctx = C_ADD;
      g.ctx_peer = peer;
      nn_err_t e = nn_dl_peer_add(g.dl, peer, out, g.now);
      g.ctx = C_NONE;
      CHECK(e == want);
      break;
    }
    case 1: /* peer_remove */
      if (!get_peer(&r, &peer, NULL))
        goto done;
      if (is_current(peer)) { /* gone before the core hears of it: nothing may go to it */
        g.present[pidx(peer)] = 0;
        g.npeers--;
        for (size_t i = 0; i < g.nent; i++) {
          g.ent[i].asked &= ~(1u << pidx(peer));
          g.ent[i].stemmed_by &= ~(1u << pidx(peer));
        }
      }
      g.ctx = C_REMOVE;
      g.ctx_peer = peer;
      nn_dl_peer_remove(g.dl, peer, g.now);
      g.ctx = C_NONE;
      break;
    case 2: { /* submit */
      if (!get_tx(&r, buf, &len))
        goto done;
      note_tx(buf, len);
      if (len && len <= LONG_TX_MAX) {
        nn_hash_t h = hash_of(buf, len);
        ent_find(&h)->submitted = 1;
      }
      g.ctx = C_SUBMIT;
      nn_err_t e = nn_dl_submit(g.dl, buf, len, g.now);
      g.ctx = C_NONE;
      if (!len)
        CHECK(e == NN_ERR_ARG);
      else if (len > c->max_tx_bytes)
        CHECK(e == NN_ERR_TOO_LONG);
      else if (len <= c->mem_max_bytes && len <= c->stem_max_bytes)
        CHECK(e == NN_OK);
      else
        CHECK(e == NN_OK || e == NN_ERR_NOMEM || e == NN_ERR_NOSPACE); /* larger than the pool */
      break;
    }
    case 3: /* on_stem */
      if (!get_peer(&r, &peer, NULL) || !get_tx(&r, buf, &len))
        goto done;
      op_stem(peer, buf, len);
      break;
    case 4: /* on_fluff */
      if (!get_peer(&r, &peer, NULL) || !get_tx(&r, buf, &len))
        goto done;
      op_fluff(peer, buf, len);
      break;
    case 5: /* on_inv */
      if (!get_peer(&r, &peer, NULL) || !get_id(&r, &id))
        goto done;
      op_inv(peer, &id);
      break;
    case 6: /* on_getdata */
      if (!get_peer(&r, &peer, NULL) || !get_id(&r, &id))
        goto done;
      g.ctx = C_GETDATA;
      g.ctx_peer = peer;
      g.ctx_id = id;
      nn_dl_on_getdata(g.dl, peer, &id, g.now);
      g.ctx = C_NONE;
      break;
    case 7: { /* tick */
      uint16_t dt;
      if (nn_wire_get_u16(&r, &dt))
        goto done;
      g.now += dt < 0x8000 ? dt : (uint64_t)(dt & 0x7fff) * 100;
      do_tick();
      ticked = 1;
      break;
    }
    case 8: { /* run to the deadline, a few times */
      uint8_t n;
      if (nn_wire_get_u8(&r, &n))
        goto done;
      for (int k = 0; k <= n % 8; k++) {
        uint64_t d = nn_dl_deadline(g.dl);
        CHECK(d != UINT64_MAX); /* an epoch always ends */
        if (d > g.now)
          g.now = d;
        do_tick();
      }
      ticked = 1;
      break;
    }
    case 9: { /* late: time passes, nobody ticks */
      uint16_t dt;
      if (nn_wire_get_u16(&r, &dt))
        goto done;
      g.now += dt;
      break;
    }
    case 10: /* fetch */
      if (!get_peer(&r, &peer, NULL) || !get_tx(&r, buf, &len))
        goto done;
      if (len) {
        id = hash_of(buf, len);
        op_inv(peer, &id);
      }
      op_fluff(peer, buf, len);
      break;
    }
    check_state(ticked, &prev);
  }
done:
  g.ctx = C_NONE;
#ifdef FUZZ_DANDELION_TRACE /* -DFUZZ_DANDELION_TRACE: what a run reached, to check the seeds */
  fprintf(stderr,
          "steps %u now %llu stem %zu/%zuB mem %zu/%zuB inv %zu req %zu epochs %llu fluff %llu "
          "embargo %llu evicted %llu inv_dropped %llu refused %llu stems in/out %llu/%llu fluffed %llu "
          "loops %llu restems %llu unsolicited %llu inv_ignored %llu served %llu\n",
          g.step, (unsigned long long)g.now, prev.stem_count, prev.stem_bytes, prev.mem_count, prev.mem_bytes,
          prev.pending_inv, prev.requests, (unsigned long long)prev.epochs, (unsigned long long)prev.fluff_epochs,
          (unsigned long long)prev.embargo_fired, (unsigned long long)prev.evicted,
          (unsigned long long)prev.inv_dropped, (unsigned long long)prev.refused, (unsigned long long)prev.stems_in,
          (unsigned long long)prev.stems_out, (unsigned long long)prev.stem_fluffed,
          (unsigned long long)prev.stem_loops, (unsigned long long)prev.restems, (unsigned long long)prev.unsolicited,
          (unsigned long long)prev.inv_ignored, (unsigned long long)g.n_served);
#endif
  nn_dl_free(g.dl);
  g.dl = NULL;
  return 0;
}
