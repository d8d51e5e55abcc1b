#include "mixnet/frag.h"

#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>

#include "lib/wire.h"

size_t
nn_frag_shard_len(size_t body_len)
{
  return body_len > NN_FRAG_HDR_LEN ? body_len - NN_FRAG_HDR_LEN : 0;
}

size_t
nn_frag_data_count(size_t body_len, size_t len)
{
  size_t s = nn_frag_shard_len(body_len), k;
  if (!s || !len)
    return 0;
  k = len / s + (len % s != 0);
  return k <= NN_FRAG_MAX_DATA ? k : 0;
}

/* The code's matrix: n rows of k, the identity over a Cauchy block (ISA-L's). */
static uint8_t *
code_matrix(size_t k, size_t n)
{
  uint8_t *a = malloc(n * k);
  if (a)
    gf_gen_cauchy1_matrix(a, (int)n, (int)k);
  return a;
}

static void
put_header(uint8_t *b, const uint8_t id[NN_FRAG_ID_LEN], uint8_t deliver, size_t len, size_t k, size_t n, size_t i)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, b, NN_FRAG_HDR_LEN);
  (void)nn_wire_put_u8(&w, NN_FRAG_TYPE);
  (void)nn_wire_put_bytes(&w, id, NN_FRAG_ID_LEN);
  (void)nn_wire_put_u8(&w, deliver);
  (void)nn_wire_put_u32(&w, (uint32_t)len);
  (void)nn_wire_put_u8(&w, (uint8_t)k);
  (void)nn_wire_put_u8(&w, (uint8_t)n);
  (void)nn_wire_put_u8(&w, (uint8_t)i);
}

nn_err_t
nn_frag_split(size_t body_len, const uint8_t id[NN_FRAG_ID_LEN], uint8_t deliver, const uint8_t *msg, size_t len,
              unsigned parity, uint8_t *out, size_t *n_out)
{
  size_t s = nn_frag_shard_len(body_len), k = nn_frag_data_count(body_len, len), n = k + parity;
  uint8_t *a = NULL, *tbls = NULL, *data[NN_FRAG_MAX_TOTAL], *coding[NN_FRAG_MAX_TOTAL];

  *n_out = 0;
  if (!k || n > NN_FRAG_MAX_TOTAL || len > UINT32_MAX ||
      (deliver != NN_FRAG_TO_DANDELION && deliver != NN_FRAG_TO_BROADCAST))
    return NN_ERR_ARG;
  for (size_t i = 0; i < n; i++) {
    uint8_t *b = out + i * body_len;
    put_header(b, id, deliver, len, k, n, i);
    if (i < k) {
      size_t off = i * s, take = len - off < s ? len - off : s;
      memcpy(b + NN_FRAG_HDR_LEN, msg + off, take);
      memset(b + NN_FRAG_HDR_LEN + take, 0, s - take);
      data[i] = b + NN_FRAG_HDR_LEN;
    } else {
      coding[i - k] = b + NN_FRAG_HDR_LEN;
    }
  }
  if (parity) {
    if (!(a = code_matrix(k, n)) || !(tbls = malloc(k * parity * 32))) {
      free(a);
      return NN_ERR_NOMEM;
    }
    ec_init_tables((int)k, (int)parity, a + k * k, tbls);
    ec_encode_data((int)s, (int)k, (int)parity, tbls, data, coding);
    free(tbls);
    free(a);
  }
  *n_out = n;
  return NN_OK;
}

nn_err_t
nn_frag_parse(const uint8_t *body, size_t body_len, size_t max_len, nn_frag_hdr_t *h)
{
  nn_wire_reader_t r;
  uint8_t type = 0;
  uint32_t len = 0;
  nn_err_t err;

  memset(h, 0, sizeof(*h));
  if (!nn_frag_shard_len(body_len))
    return NN_ERR_TRUNCATED;
  nn_wire_reader_init(&r, body, NN_FRAG_HDR_LEN);
  (void)nn_wire_get_u8(&r, &type);
  (void)nn_wire_get_bytes(&r, h->id, NN_FRAG_ID_LEN);
  (void)nn_wire_get_u8(&r, &h->deliver);
  (void)nn_wire_get_u32(&r, &len);
  (void)nn_wire_get_u8(&r, &h->k);
  (void)nn_wire_get_u8(&r, &h->n);
  (void)nn_wire_get_u8(&r, &h->index);
  if ((err = nn_wire_finish(&r)))
    return err;
  h->len = len;
  if (len > max_len)
    return NN_ERR_TOO_LONG;
  if (type != NN_FRAG_TYPE || (h->deliver != NN_FRAG_TO_DANDELION && h->deliver != NN_FRAG_TO_BROADCAST) || !len ||
      !h->k || h->k != nn_frag_data_count(body_len, len) || h->n < h->k || h->index >= h->n)
    return NN_ERR_FORMAT;
  h->fragment = body + NN_FRAG_HDR_LEN;
  return NN_OK;
}

/* ---- reassembly ---- */

typedef struct msg_t {
  int used;
  uint8_t id[NN_FRAG_ID_LEN];
  uint8_t deliver, k, n, count;
  uint32_t len;
  uint64_t first, last;             /* when its first and its latest fragment came */
  uint8_t *frag[NN_FRAG_MAX_TOTAL]; /* by index; at most k are ever held */
} msg_t;

struct nn_reasm_t {
  nn_reasm_cfg_t cfg;
  msg_t *msgs;
  uint8_t (*recent)[NN_FRAG_ID_LEN]; /* a ring of completed or expired ids */
  size_t nrecent, recent_at;
  nn_reasm_stats_t st;
};

static const char *result_names[NN_REASM_RESULTS] = { "stored", "complete", "duplicate", "late",
                                                      "bad",    "mismatch", "full" };

const char *
nn_reasm_result_name(nn_reasm_result_t r)
{
  return (unsigned)r < NN_REASM_RESULTS ? result_names[r] : "unknown";
}

void
nn_reasm_cfg_default(nn_reasm_cfg_t *cfg, size_t body_len)
{
  cfg->body_len = body_len;
  cfg->max_msg_len = (size_t)4 << 20;
  cfg->max_messages = 256;
  cfg->max_bytes = (size_t)64 << 20;
  cfg->timeout_ms = 120000;
  cfg->stall_ms = 10000;
  cfg->recent = 1024;
}

nn_err_t
nn_reasm_new(nn_reasm_t **out, const nn_reasm_cfg_t *cfg)
{
  nn_reasm_t *r;

  *out = NULL;
  if (!nn_frag_shard_len(cfg->body_len) || !cfg->max_messages || !cfg->max_bytes || !cfg->recent ||
      cfg->max_messages > 65536 || cfg->recent > 1u << 20 || !cfg->max_msg_len || cfg->max_msg_len > UINT32_MAX)
    return NN_ERR_ARG;
  if (!(r = calloc(1, sizeof(*r))))
    return NN_ERR_NOMEM;
  r->cfg = *cfg;
  if (!(r->msgs = calloc(cfg->max_messages, sizeof(*r->msgs))) ||
      !(r->recent = calloc(cfg->recent, sizeof(*r->recent)))) {
    nn_reasm_free(r);
    return NN_ERR_NOMEM;
  }
  *out = r;
  return NN_OK;
}

static void
forget(nn_reasm_t *r, msg_t *m)
{
  size_t s = nn_frag_shard_len(r->cfg.body_len);
  for (int i = 0; i < NN_FRAG_MAX_TOTAL; i++)
    if (m->frag[i]) {
      free(m->frag[i]);
      r->st.bytes -= s;
    }
  memcpy(r->recent[r->recent_at], m->id, NN_FRAG_ID_LEN);
  r->recent_at = (r->recent_at + 1) % r->cfg.recent;
  if (r->nrecent < r->cfg.recent)
    r->nrecent++;
  memset(m, 0, sizeof(*m));
  r->st.messages--;
}

void
nn_reasm_free(nn_reasm_t *r)
{
  if (!r)
    return;
  if (r->msgs)
    for (size_t i = 0; i < r->cfg.max_messages; i++)
      if (r->msgs[i].used)
        forget(r, &r->msgs[i]);
  free(r->msgs);
  free(r->recent);
  free(r);
}

/* Rebuild the message from the k fragments held: the data fragments missing are rows of the
 * inverse of the code's k rows that arrived. */
static uint8_t *
decode(nn_reasm_t *r, msg_t *m)
{
  size_t s = nn_frag_shard_len(r->cfg.body_len), k = m->k, n = m->n, nmiss = 0, got = 0;
  uint8_t *a = code_matrix(k, n), *b = malloc(k * k), *inv = malloc(k * k), *c = malloc(k * k);
  uint8_t *tbls = malloc(k * k * 32), *out = malloc((size_t)k * s), *ok = NULL;
  uint8_t *src[NN_FRAG_MAX_DATA], *dst[NN_FRAG_MAX_DATA];
  size_t miss[NN_FRAG_MAX_DATA];

  if (!a || !b || !inv || !c || !tbls || !out)
    goto out;
  for (size_t i = 0; i < n && got < k; i++)
    if (m->frag[i]) {
      memcpy(b + got * k, a + i * k, k);
      src[got++] = m->frag[i];
    }
  for (size_t j = 0; j < k; j++) {
    if (m->frag[j])
      memcpy(out + j * s, m->frag[j], s);
    else
      miss[nmiss++] = j;
  }
  if (nmiss) {
    if (gf_invert_matrix(b, inv, (int)k)) /* a Cauchy code's square submatrices are invertible */
      goto out;
    for (size_t i = 0; i < nmiss; i++) {
      memcpy(c + i * k, inv + miss[i] * k, k);
      dst[i] = out + miss[i] * s;
    }
    ec_init_tables((int)k, (int)nmiss, c, tbls);
    ec_encode_data((int)s, (int)k, (int)nmiss, tbls, src, dst);
  }
  ok = out;
  out = NULL;
out:
  free(a);
  free(b);
  free(inv);
  free(c);
  free(tbls);
  free(out);
  return ok;
}

static int
is_recent(const nn_reasm_t *r, const uint8_t id[NN_FRAG_ID_LEN])
{
  for (size_t i = 0; i < r->nrecent; i++)
    if (!memcmp(r->recent[i], id, NN_FRAG_ID_LEN))
      return 1;
  return 0;
}

static nn_reasm_result_t
count(nn_reasm_t *r, nn_reasm_result_t res)
{
  r->st.results[res]++;
  return res;
}

nn_reasm_result_t
nn_reasm_add(nn_reasm_t *r, const uint8_t *body, uint64_t now_ms, uint8_t **msg, size_t *len, uint8_t *deliver)
{
  size_t s = nn_frag_shard_len(r->cfg.body_len);
  msg_t *m = NULL, *free_slot = NULL;
  nn_frag_hdr_t h;

  *msg = NULL;
  *len = 0;
  *deliver = 0;
  if (nn_frag_parse(body, r->cfg.body_len, r->cfg.max_msg_len, &h))
    return count(r, NN_REASM_BAD);
  for (size_t i = 0; i < r->cfg.max_messages; i++) {
    if (r->msgs[i].used && !memcmp(r->msgs[i].id, h.id, NN_FRAG_ID_LEN))
      m = &r->msgs[i];
    else if (!r->msgs[i].used && !free_slot)
      free_slot = &r->msgs[i];
  }
  if (!m) {
    if (is_recent(r, h.id))
      return count(r, NN_REASM_LATE);
    if (!free_slot) { /* every slot taken: the message that stalled longest makes room, if any did */
      msg_t *victim = NULL;
      for (size_t i = 0; i < r->cfg.max_messages; i++) {
        msg_t *o = &r->msgs[i];
        if (now_ms >= o->last + r->cfg.stall_ms && (!victim || o->last < victim->last))
          victim = o;
      }
      if (victim) {
        r->st.evicted++;
        forget(r, victim);
        free_slot = victim;
      }
    }
    if (!free_slot || r->st.bytes + s > r->cfg.max_bytes)
      return count(r, NN_REASM_FULL);
    m = free_slot;
    m->used = 1;
    memcpy(m->id, h.id, NN_FRAG_ID_LEN);
    m->deliver = h.deliver;
    m->len = h.len;
    m->k = h.k;
    m->n = h.n;
    m->first = m->last = now_ms;
    r->st.messages++;
  } else if (m->len != h.len || m->k != h.k || m->n != h.n || m->deliver != h.deliver) {
    return count(r, NN_REASM_MISMATCH);
  }
  if (m->frag[h.index])
    return count(r, NN_REASM_DUPLICATE);
  if (r->st.bytes + s > r->cfg.max_bytes || !(m->frag[h.index] = malloc(s)))
    return count(r, NN_REASM_FULL);
  memcpy(m->frag[h.index], h.fragment, s);
  m->last = now_ms;
  r->st.bytes += s;
  if (++m->count < m->k)
    return count(r, NN_REASM_STORED);

  uint8_t *out = decode(r, m);
  if (!out) { /* out of memory: the message is lost, as if it had expired */
    r->st.expired++;
    forget(r, m);
    return count(r, NN_REASM_FULL);
  }
  *msg = out;
  *len = m->len;
  *deliver = m->deliver;
  r->st.completed++;
  forget(r, m);
  return count(r, NN_REASM_COMPLETE);
}

void
nn_reasm_tick(nn_reasm_t *r, uint64_t now_ms)
{
  for (size_t i = 0; i < r->cfg.max_messages; i++)
    if (r->msgs[i].used && now_ms >= r->msgs[i].first + r->cfg.timeout_ms) {
      r->st.expired++;
      forget(r, &r->msgs[i]);
    }
}

uint64_t
nn_reasm_deadline(const nn_reasm_t *r)
{
  uint64_t d = UINT64_MAX;
  for (size_t i = 0; i < r->cfg.max_messages; i++)
    if (r->msgs[i].used && r->msgs[i].first + r->cfg.timeout_ms < d)
      d = r->msgs[i].first + r->cfg.timeout_ms;
  return d;
}

void
nn_reasm_stats(const nn_reasm_t *r, nn_reasm_stats_t *st)
{
  *st = r->st;
}
