/*
 * Fuzz a fresh responder with whatever an initiator could send first: msg1 (and, in the
 * structured mode, a genuine msg1 or msg1 + msg3 edited in place, with a tail).
 *
 * Option bits (data[0], see fuzz_chan.h): bits 1-2 choose the base and the responder:
 *   0: msg1 + msg3 to a plain responder (unedited, it establishes);
 *   1: the cookie retry msg1 + its msg3 to a responder that demands a cookie;
 *   2: msg1 alone to a responder that demands a cookie (it must answer with a cookie);
 *   3: msg1 + msg3 to a responder that requires an identified initiator (identified base);
 * bit 3: the initiator of the base was anonymous (variants 0-2).
 *
 * Invariants: the responder establishes only if the bytes contain a genuine msg3 after an
 * unmodified msg1; an unmodified base always gets the expected answer; every event once; a
 * channel still in the handshake times out at its deadline.
 */
#include "fuzz_chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fixture_t {
  nn_identity_t *id_i, *id_r;
  /* [anon]: msg1 + msg3, the cookie retry msg1 + msg3; msg1 + msg3 under require_peer_identity */
  uint8_t *full[2], *retry[2], *req;
  size_t full_len[2], retry_len[2], req_len, m1_len;
} fixture_t;

static nn_cookie_jar_t *
make_jar(fz_rng_t *rj)
{
  nn_cookie_jar_t *jar = NULL;
  fz_rng_init(rj, FZ_SEED_JAR);
  if (nn_cookie_jar_new(&jar, &rj->rng, FZ_T0) != NN_OK)
    abort();
  return jar;
}

/* A real exchange; returns what the initiator sent (msg1 [+ retry msg1] + msg3). */
static void
capture(fixture_t *fx, int anon, int cookie, int require_id, uint8_t **out, size_t *out_len)
{
  fz_rng_t ri, rr, rj;
  fz_side_t si = { 0 }, sr = { 0 };
  nn_cookie_jar_t *jar = NULL;
  fz_rng_init(&ri, FZ_SEED_I);
  fz_rng_init(&rr, FZ_SEED_R);
  nn_chan_config_t ci = fz_config(NN_CHAN_INITIATOR, anon ? NULL : fx->id_i, &ri.rng, &si);
  nn_chan_config_t cr = fz_config(NN_CHAN_RESPONDER, fx->id_r, &rr.rng, &sr);
  ci.expected_peer = nn_identity_node_id(fx->id_r);
  cr.require_peer_identity = require_id;
  if (cookie) {
    jar = make_jar(&rj);
    cr.cookies = jar;
    cr.require_cookie = 1;
    cr.peer_addr = (const uint8_t *)FZ_ADDR;
    cr.peer_addr_len = strlen(FZ_ADDR);
  }
  si.ch = fz_new(&ci);
  sr.ch = fz_new(&cr);
  *out = NULL;
  *out_len = 0;
  for (int round = 0; round < 8; round++) {
    size_t n;
    uint8_t *b = fz_take(si.ch, &n);
    if (b) {
      if (!(cookie && round == 0)) /* keep only what a responder that accepts it sees */
        fz_append(out, out_len, b, n);
      nn_chan_recv(sr.ch, b, n, FZ_T0);
      free(b);
    }
    b = fz_take(sr.ch, &n);
    if (b) {
      nn_chan_recv(si.ch, b, n, FZ_T0);
      free(b);
    }
  }
  if (!si.established || !sr.established)
    abort(); /* the fixture itself is broken */
  nn_chan_free(si.ch);
  nn_chan_free(sr.ch);
  nn_cookie_jar_free(jar);
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
  for (int anon = 0; anon < 2; anon++) {
    capture(fx, anon, 0, 0, &fx->full[anon], &fx->full_len[anon]);
    capture(fx, anon, 1, 0, &fx->retry[anon], &fx->retry_len[anon]);
  }
  capture(fx, 0, 0, 1, &fx->req, &fx->req_len);
  fx->m1_len = ((size_t)fx->full[0][0] << 8 | fx->full[0][1]) + 2;
  return fx;
}

static int
contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
  for (size_t i = 0; k <= n && i <= n - k; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, k) == 0)
      return 1;
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const fixture_t *fx = fixture();
  uint8_t opt = size ? data[0] : 1;
  int variant = (opt >> 1) & 3, anon = (opt >> 3) & 1;
  fz_rng_t rr, rj;
  fz_side_t s = { 0 };
  nn_cookie_jar_t *jar = NULL;

  fz_rng_init(&rr, FZ_SEED_R);
  nn_chan_config_t cfg = fz_config(NN_CHAN_RESPONDER, fx->id_r, &rr.rng, &s);
  if (variant == 1 || variant == 2) {
    jar = make_jar(&rj);
    cfg.cookies = jar;
    cfg.require_cookie = 1;
    cfg.peer_addr = (const uint8_t *)FZ_ADDR;
    cfg.peer_addr_len = strlen(FZ_ADDR);
  }
  cfg.require_peer_identity = variant == 3;
  s.ch = fz_new(&cfg);

  const uint8_t *base = variant == 1 ? fx->retry[anon] : variant == 3 ? fx->req : fx->full[anon];
  size_t base_len = variant == 1   ? fx->retry_len[anon]
                    : variant == 2 ? fx->m1_len
                    : variant == 3 ? fx->req_len
                                   : fx->full_len[anon];
  size_t n;
  uint8_t *buf = fz_compose(data, size, base, base_len, &n);
  fz_feed(s.ch, buf, n, opt, FZ_T0 + 1);
  fz_check(&s, 1);

  /* authentication: no established channel without a genuine msg3 in the stream, and never an
   * anonymous initiator where an identity is required */
  if (s.established) {
    int ok = contains(buf, n, fx->req + fx->m1_len, fx->req_len - fx->m1_len);
    for (int a = 0; a < 2 && !ok; a++)
      ok = contains(buf, n, fx->full[a] + fx->m1_len, fx->full_len[a] - fx->m1_len) ||
           contains(buf, n, fx->retry[a] + fx->m1_len, fx->retry_len[a] - fx->m1_len);
    if (!ok || (variant == 3 && !nn_chan_info(s.ch)->peer_identified))
      abort();
  }
  /* completeness: the unmodified base gets its expected answer */
  if (n >= base_len && memcmp(buf, base, base_len) == 0) {
    size_t out_len;
    const uint8_t *out;
    nn_chan_output(s.ch, &out, &out_len);
    if (variant == 2) {
      if (n == base_len && (nn_chan_is_closed(s.ch) || out_len != 2 + 1 + NN_COOKIE_LEN || out[2] != NN_HS_COOKIE))
        abort();
    } else if (!s.established) {
      abort();
    }
  }
  fz_expire(&s);
  fz_check(&s, 0);
  nn_chan_free(s.ch);
  nn_cookie_jar_free(jar);
  free(buf);
  return 0;
}
