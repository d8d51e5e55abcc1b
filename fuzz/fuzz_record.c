/*
 * Fuzz the record layer of an established channel. A real pair runs its handshake once at
 * start-up (initiator ratcheting every 4 records, responder every 5); the traffic secrets it
 * ends with are kept, and each input gets a fresh copy of one side rebuilt from them (the same
 * state as the real channel right after the handshake, checked at start-up). The real pair then
 * records a genuine stream per direction: small, empty and fragmented messages, padded ones,
 * decoys and (optionally) the closing CLOSE record.
 *
 * Option bits (data[0], see fuzz_chan.h): bit 1: which side receives (responder: the
 * initiator's stream; initiator: the responder's); bit 2: the receiver's max_message is 1000
 * (the 70000-byte message must then close it with TOO_LARGE); bit 3: the base stream ends
 * without the CLOSE record (so a tail is read as records); bit 4 (structured inputs only):
 * instead of byte edits, data[1] & 15 record operations of 2 bytes each (kind, index): drop,
 * duplicate (replay), swap with the next (reorder), move to the end; then the tail.
 *
 * Invariant (AEAD, implicit sequence numbers): exactly the messages whose records lie wholly
 * before the first byte that differs from the genuine stream are delivered, with the same
 * contents; a channel closed by the genuine stream closed for the same reason.
 */
#include "fuzz_chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL_CAP 1000
#define MAX_RECS 64

typedef struct snap_t {
  nn_chan_config_t cfg;
  nn_chan_info_t info;
  nn_secret_t tx, rx;
  uint64_t tx_interval, rx_interval;
} snap_t;

/* The receiver's state after each record of a stream. */
typedef struct table_t {
  size_t nrec, end[MAX_RECS + 1], nmsgs[MAX_RECS + 1];
  uint32_t sum[MAX_RECS + 1];
  nn_close_reason_t reason[MAX_RECS + 1];
} table_t;

typedef struct fixture_t {
  nn_identity_t *id_i, *id_r;
  fz_rng_t ri, rr;
  snap_t snap[2];     /* [0] the initiator, [1] the responder */
  uint8_t *stream[2]; /* [sender]: everything it sent, CLOSE last */
  size_t len[2], close_len[2];
  table_t table[2][2][2]; /* [receiver][small cap][without CLOSE] */
} fixture_t;

static nn_chan_t *
rebuild(const snap_t *s, fz_side_t *side, uint32_t max_message)
{
  nn_chan_t *c = calloc(1, sizeof(*c));
  if (!c)
    abort();
  c->cfg = s->cfg;
  c->cfg.ctx = side;
  if (max_message)
    c->cfg.max_message = max_message;
  c->st = NN_ST_OPEN;
  c->was_open = 1;
  c->deadline = UINT64_MAX;
  c->info = s->info;
  side->established = 1; /* (reported by the real channel this one copies) */
  if (nn_rec_dir_init(&c->tx, &s->tx, s->tx_interval) != NN_OK ||
      nn_rec_dir_init(&c->rx, &s->rx, s->rx_interval) != NN_OK)
    abort();
  return c;
}

static void
snapshot(snap_t *s, const nn_chan_t *c)
{
  if (c->st != NN_ST_OPEN || c->tx.seq || c->rx.seq || c->tx.epoch || c->rx.epoch)
    abort();
  s->cfg = c->cfg;
  s->info = c->info;
  s->tx = c->tx.secret;
  s->rx = c->rx.secret;
  s->tx_interval = c->tx.rekey_interval;
  s->rx_interval = c->rx.rekey_interval;
}

/* Send the genuine traffic of one side; record the end of every record. */
static void
send_all(nn_chan_t *c, uint8_t **out, size_t *len, size_t *close_len)
{
  static uint8_t big[70000];
  for (size_t k = 0; k < sizeof(big); k++)
    big[k] = (uint8_t)(k * 7 + (k >> 9));
  *out = NULL;
  *len = 0;
  const struct {
    int kind; /* 0 message, 1 decoy */
    size_t len;
    uint16_t pad_to;
  } plan[] = {
    { 0, 1, 0 },     { 0, 0, 0 },   { 1, 10, 0 },   { 0, 3, 64 },   { 0, 200, 64 }, { 1, 0, 0 },
    { 0, 70000, 0 }, { 0, 999, 0 }, { 0, 1000, 0 }, { 1, 1024, 0 }, { 0, 5, 256 },  { 0, 2, 0 },
  };
  for (size_t k = 0; k < sizeof(plan) / sizeof(plan[0]); k++) {
    c->cfg.pad_to = plan[k].pad_to;
    nn_err_t err = plan[k].kind ? nn_chan_send_decoy(c, plan[k].len) : nn_chan_send(c, big, plan[k].len);
    if (err)
      abort();
    size_t n;
    uint8_t *b = fz_take(c, &n);
    fz_append(out, len, b, n);
    free(b);
  }
  nn_chan_close(c, NN_CLOSE_LOCAL);
  size_t n;
  uint8_t *b = fz_take(c, &n);
  fz_append(out, len, b, n);
  *close_len = n;
  free(b);
}

/* Feed a genuine stream record by record to a fresh receiver and note its state after each. */
static void
tabulate(const fixture_t *fx, table_t *t, int receiver, int small, int no_close)
{
  const uint8_t *st = fx->stream[!receiver];
  size_t len = fx->len[!receiver] - (no_close ? fx->close_len[!receiver] : 0);
  fz_side_t s = { 0 };
  s.ch = rebuild(&fx->snap[receiver], &s, small ? SMALL_CAP : 0);
  memset(t, 0, sizeof(*t));
  size_t off = 0;
  while (off < len) {
    size_t ct;
    if (t->nrec == MAX_RECS || nn_rec_open_header(&s.ch->rx, st + off, &ct) != NN_OK)
      abort();
    off += NN_REC_HDR_LEN + ct;
    nn_chan_recv(s.ch, st + (off - NN_REC_HDR_LEN - ct), NN_REC_HDR_LEN + ct, FZ_T0);
    t->nrec++;
    t->end[t->nrec] = off;
    t->nmsgs[t->nrec] = s.nmsgs;
    t->sum[t->nrec] = s.sum;
    t->reason[t->nrec] = nn_chan_close_reason(s.ch);
    if (nn_chan_is_closed(s.ch))
      break;
  }
  /* the genuine stream is read in full, unless the small cap stopped it */
  if (!small &&
      (t->nmsgs[t->nrec] != 9 || off != len || t->reason[t->nrec] != (no_close ? NN_CLOSE_NONE : NN_CLOSE_PEER)))
    abort();
  if (small && t->reason[t->nrec] != NN_CLOSE_TOO_LARGE)
    abort();
  nn_chan_free(s.ch);
}

static const fixture_t *
fixture(void)
{
  static fixture_t *fx;
  if (fx)
    return fx;
  fx = calloc(1, sizeof(*fx));
  if (!fx)
    abort();
  fx->id_i = fz_identity(0xa1);
  fx->id_r = fz_identity(0xb2);
  fz_rng_init(&fx->ri, FZ_SEED_I);
  fz_rng_init(&fx->rr, FZ_SEED_R);
  fz_side_t si = { 0 }, sr = { 0 };
  nn_chan_config_t ci = fz_config(NN_CHAN_INITIATOR, fx->id_i, &fx->ri.rng, &si);
  nn_chan_config_t cr = fz_config(NN_CHAN_RESPONDER, fx->id_r, &fx->rr.rng, &sr);
  ci.expected_peer = nn_identity_node_id(fx->id_r);
  ci.rekey_interval = 4;
  cr.rekey_interval = 5;
  si.ch = fz_new(&ci);
  sr.ch = fz_new(&cr);
  for (int round = 0; round < 4; round++) {
    size_t n;
    uint8_t *b = fz_take(si.ch, &n);
    if (b)
      nn_chan_recv(sr.ch, b, n, FZ_T0);
    free(b);
    b = fz_take(sr.ch, &n);
    if (b)
      nn_chan_recv(si.ch, b, n, FZ_T0);
    free(b);
  }
  if (!si.established || !sr.established)
    abort();
  snapshot(&fx->snap[0], si.ch);
  snapshot(&fx->snap[1], sr.ch);
  send_all(si.ch, &fx->stream[0], &fx->len[0], &fx->close_len[0]);
  send_all(sr.ch, &fx->stream[1], &fx->len[1], &fx->close_len[1]);
  nn_chan_free(si.ch);
  nn_chan_free(sr.ch);
  for (int rcv = 0; rcv < 2; rcv++)
    for (int small = 0; small < 2; small++)
      for (int nc = 0; nc < 2; nc++)
        tabulate(fx, &fx->table[rcv][small][nc], rcv, small, nc);
  return fx;
}

/* The genuine records rearranged by the operations in the input, then the input's tail. */
static uint8_t *
shuffle(const uint8_t *data, size_t size, const uint8_t *base, const table_t *full, size_t nrec, size_t *out_len)
{
  size_t order[2 * MAX_RECS], cnt = nrec, nops = size > 1 ? data[1] & 15u : 0;
  const uint8_t *op = data + 2;
  for (size_t k = 0; k < cnt; k++)
    order[k] = k;
  if (nops > (size > 2 ? (size - 2) / 2 : 0))
    nops = size > 2 ? (size - 2) / 2 : 0;
  for (size_t k = 0; k < nops && cnt; k++, op += 2) {
    size_t i = op[1] % cnt, t;
    switch (op[0] & 3) {
    case 0: /* drop */
      memmove(order + i, order + i + 1, (cnt - i - 1) * sizeof(order[0]));
      cnt--;
      break;
    case 1: /* duplicate */
      if (cnt < 2 * MAX_RECS) {
        memmove(order + i + 1, order + i, (cnt - i) * sizeof(order[0]));
        cnt++;
      }
      break;
    case 2: /* swap with the next */
      t = order[i];
      order[i] = order[(i + 1) % cnt];
      order[(i + 1) % cnt] = t;
      break;
    case 3: /* move to the end */
      t = order[i];
      memmove(order + i, order + i + 1, (cnt - i - 1) * sizeof(order[0]));
      order[cnt - 1] = t;
      break;
    }
  }
  uint8_t *buf = NULL;
  *out_len = 0;
  fz_append(&buf, out_len, NULL, 0);
  for (size_t k = 0; k < cnt; k++)
    fz_append(&buf, out_len, base + full->end[order[k]], full->end[order[k] + 1] - full->end[order[k]]);
  size_t used = 2 + 2 * nops;
  if (size > used)
    fz_append(&buf, out_len, data + used, size - used);
  return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const fixture_t *fx = fixture();
  uint8_t opt = size ? data[0] : 1;
  int receiver = (opt >> 1) & 1, small = (opt >> 2) & 1, no_close = (opt >> 3) & 1;
  const uint8_t *base = fx->stream[!receiver];
  size_t base_len = fx->len[!receiver] - (no_close ? fx->close_len[!receiver] : 0);
  const table_t *t = &fx->table[receiver][small][no_close];
  fz_side_t s = { 0 };

  s.ch = rebuild(&fx->snap[receiver], &s, small ? SMALL_CAP : 0);
  size_t n;
  uint8_t *buf;
  if (!(opt & 1) && (opt & 0x10)) {
    const table_t *full = &fx->table[receiver][0][0]; /* every record of the stream */
    buf = shuffle(data, size, base, full, full->nrec - (size_t)no_close, &n);
  } else {
    buf = fz_compose(data, size, base, base_len, &n);
  }
  fz_feed(s.ch, buf, n, opt, FZ_T0);
  fz_check(&s, 1);

  /* the first byte that differs from the genuine stream (or where the input stops) */
  size_t d = 0, lim = n < base_len ? n : base_len;
  while (d < lim && buf[d] == base[d])
    d++;
  size_t j = 0;
  while (j < t->nrec && t->end[j + 1] <= d)
    j++;
  if (s.nmsgs != t->nmsgs[j] || s.sum != t->sum[j])
    abort(); /* a forged, replayed or lost record was accepted, or a genuine one refused */
  if (t->reason[j] != NN_CLOSE_NONE && nn_chan_close_reason(s.ch) != t->reason[j])
    abort();
  if (!nn_chan_is_closed(s.ch) && nn_chan_deadline(s.ch) != UINT64_MAX)
    abort(); /* an open channel has no timer */
  nn_chan_free(s.ch);
  free(buf);
  return 0;
}
