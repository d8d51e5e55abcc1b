/*
 * Fuzz a responder that has answered a genuine msg1 and waits for msg3: the bytes go where msg3
 * (and the initiator's first records) would. The handshake up to that point is real; to keep a
 * run cheap (no ML-DSA signature per input) each input gets a deep copy of one responder frozen
 * in that state, checked at start-up to behave exactly like a fresh one (it accepts the genuine
 * msg3 of an identified and of an anonymous initiator).
 *
 * Option bits (data[0], see fuzz_chan.h): bit 1: the base is the anonymous initiator's msg3
 * (else the identified one's), followed by the initiator's first record ("hello"); bit 2: the
 * responder requires an identified initiator (switched on after msg2, as if the initiator
 * ignored the flag); bit 3: the base is the msg3 of an impostor that presents the genuine
 * initiator's public key with its own signature (overrides bit 1).
 *
 * Invariants: the responder establishes only on a byte-exact genuine msg3, never with an
 * anonymous initiator when it requires an identity; an unmodified base establishes (or closes
 * with ID_REQUIRED) and delivers the record; a channel still in the handshake times out.
 */
#include <openssl/evp.h>

#include "fuzz_chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fixture_t {
  nn_identity_t *id_i, *id_r;
  fz_rng_t rr;
  nn_chan_t *waiting;     /* the frozen responder, in NN_ST_R_WAIT_MSG3 */
  fz_side_t waiting_side; /* (its callbacks' context; the copies get their own) */
  uint8_t *base[3];       /* [anon]: msg3 + a "hello" record; [2]: an impostor's */
  size_t base_len[3], msg3_len[3];
} fixture_t;

/* A deep copy of a responder waiting for msg3, reporting to \a side. */
static nn_chan_t *
clone_waiting(const nn_chan_t *src, fz_side_t *side)
{
  nn_chan_t *c = malloc(sizeof(*c));
  nn_hs_t *hs = malloc(sizeof(*hs));
  if (!c || !hs || src->st != NN_ST_R_WAIT_MSG3 || src->in || src->out || src->msg_active)
    abort();
  *c = *src;
  *hs = *src->hs;
  c->hs = hs;
  c->cfg.ctx = side;
  hs->msg1 = malloc(src->hs->msg1_len);
  hs->th.md = EVP_MD_CTX_new();
  if (!hs->msg1 || !hs->th.md || EVP_MD_CTX_copy_ex(hs->th.md, src->hs->th.md) != 1)
    abort();
  memcpy(hs->msg1, src->hs->msg1, src->hs->msg1_len);
  return c;
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

  /* the frozen responder: a genuine msg1 in, msg2 out (discarded) */
  fz_rng_init(&fx->rr, FZ_SEED_R);
  nn_chan_config_t cr = fz_config(NN_CHAN_RESPONDER, fx->id_r, &fx->rr.rng, &fx->waiting_side);
  fx->waiting = fz_new(&cr);
  uint8_t *m1 = NULL, *m2 = NULL;
  size_t n1 = 0, n2 = 0;

  nn_identity_t *impostor = fz_impostor(fx->id_i);
  for (int anon = 0; anon < 3; anon++) {
    /* a real pair, with the same generators as the frozen responder saw */
    fz_rng_t ri, rr;
    fz_side_t si = { 0 }, sr = { 0 };
    fz_rng_init(&ri, FZ_SEED_I);
    fz_rng_init(&rr, FZ_SEED_R);
    nn_chan_config_t ci = fz_config(NN_CHAN_INITIATOR, anon == 2 ? impostor : anon ? NULL : fx->id_i, &ri.rng, &si);
    nn_chan_config_t cr2 = fz_config(NN_CHAN_RESPONDER, fx->id_r, &rr.rng, &sr);
    ci.expected_peer = nn_identity_node_id(fx->id_r);
    si.ch = fz_new(&ci);
    sr.ch = fz_new(&cr2);
    size_t n;
    uint8_t *b = fz_take(si.ch, &n);
    if (!anon) {
      m1 = malloc(n);
      memcpy(m1, b, n);
      n1 = n;
    }
    nn_chan_recv(sr.ch, b, n, FZ_T0);
    free(b);
    b = fz_take(sr.ch, &n);
    nn_chan_recv(si.ch, b, n, FZ_T0);
    if (!anon) {
      m2 = b;
      n2 = n;
    } else {
      free(b);
    }
    uint8_t *m3 = fz_take(si.ch, &fx->msg3_len[anon]);
    if (!si.established || nn_chan_send(si.ch, (const uint8_t *)"hello", 5) != NN_OK)
      abort();
    uint8_t *rec = fz_take(si.ch, &n);
    fx->base[anon] = NULL;
    fx->base_len[anon] = 0;
    fz_append(&fx->base[anon], &fx->base_len[anon], m3, fx->msg3_len[anon]);
    fz_append(&fx->base[anon], &fx->base_len[anon], rec, n);
    nn_chan_recv(sr.ch, fx->base[anon], fx->base_len[anon], FZ_T0);
    if (anon == 2 ? sr.established || nn_chan_close_reason(sr.ch) != NN_CLOSE_AUTH : !sr.established || sr.nmsgs != 1)
      abort();
    free(m3);
    free(rec);
    nn_chan_free(si.ch);
    nn_chan_free(sr.ch);
  }
  nn_identity_free(impostor);
  nn_chan_recv(fx->waiting, m1, n1, FZ_T0);
  size_t n;
  uint8_t *out = fz_take(fx->waiting, &n);
  if (fx->waiting->st != NN_ST_R_WAIT_MSG3 || n != n2 || memcmp(out, m2, n) != 0)
    abort(); /* the frozen responder said exactly what the real one said */
  free(out);
  free(m1);
  free(m2);

  /* the copies behave like the real thing */
  for (int anon = 0; anon < 2; anon++) {
    fz_side_t s = { 0 };
    s.ch = clone_waiting(fx->waiting, &s);
    nn_chan_recv(s.ch, fx->base[anon], fx->base_len[anon], FZ_T0);
    if (!s.established || s.nmsgs != 1 || nn_chan_info(s.ch)->peer_identified == anon)
      abort();
    nn_chan_free(s.ch);
  }
  return fx;
}

static int
starts_with(const uint8_t *b, size_t n, const uint8_t *p, size_t k)
{
  return n >= k && memcmp(b, p, k) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const fixture_t *fx = fixture();
  uint8_t opt = size ? data[0] : 1;
  int anon = (opt >> 3) & 1 ? 2 : (opt >> 1) & 1, require = (opt >> 2) & 1;
  fz_side_t s = { 0 };

  s.ch = clone_waiting(fx->waiting, &s);
  s.ch->cfg.require_peer_identity = require;
  size_t n;
  uint8_t *buf = fz_compose(data, size, fx->base[anon], fx->base_len[anon], &n);
  fz_feed(s.ch, buf, n, opt, FZ_T0 + 1);
  fz_check(&s, 1);

  int genuine_id = starts_with(buf, n, fx->base[0], fx->msg3_len[0]);
  int genuine_anon = starts_with(buf, n, fx->base[1], fx->msg3_len[1]);
  if (s.established) {
    const nn_chan_info_t *info = nn_chan_info(s.ch);
    if (!(genuine_id || genuine_anon) || !info || info->peer_identified != genuine_id || (require && !genuine_id))
      abort();
    if (genuine_id && memcmp(info->peer_id.b, nn_identity_node_id(fx->id_i)->b, NN_NODE_ID_LEN))
      abort();
  } else if (genuine_id || genuine_anon) {
    if (!(require && genuine_anon && nn_chan_close_reason(s.ch) == NN_CLOSE_ID_REQUIRED))
      abort();
  }
  /* the unmodified base: its record arrives too (the impostor's never) */
  if (starts_with(buf, n, fx->base[anon], fx->base_len[anon]) && anon < 2 && !(require && anon) && s.nmsgs != 1)
    abort();
  fz_expire(&s);
  fz_check(&s, 0);
  nn_chan_free(s.ch);
  free(buf);
  return 0;
}
