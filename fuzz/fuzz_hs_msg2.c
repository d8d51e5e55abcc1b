/*
 * Fuzz a fresh initiator with whatever could come back from the responder: msg2, a cookie reply,
 * and anything after them. The initiator's generator is seeded as at capture time, so its
 * ephemeral keys are the same and the captured msg2 is genuine for it.
 *
 * Option bits (data[0], see fuzz_chan.h): bit 1: the base is the cookie reply followed by the
 * msg2 that answers the retry (else the plain msg2); bit 2: the initiator is anonymous;
 * bits 3-4: the expected node id (0: the responder's; 1: the responder's, and the base is the
 * msg2 of an impostor that presents the responder's public key with its own signature; 2: any;
 * 3: some other node's).
 *
 * Invariants: the initiator establishes only on a byte-exact genuine msg2 (or cookie reply +
 * msg2), and then with the responder's node id and a msg3 queued; an unmodified base establishes
 * unless the expected id is another node's (WRONG_ID); a channel still in the handshake times out.
 */
#include "fuzz_chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fixture_t {
  nn_identity_t *id_i, *id_r;
  uint8_t *msg2, *cookie_msg2, *fake_msg2; /* msg2; cookie reply + msg2; an impostor's msg2 */
  size_t msg2_len, cookie_msg2_len, fake_msg2_len;
} fixture_t;

/* Everything the responder sent in a real exchange. */
static void
capture(const fixture_t *fx, int cookie, int fake, uint8_t **out, size_t *out_len)
{
  fz_rng_t ri, rr, rj;
  fz_side_t si = { 0 }, sr = { 0 };
  nn_cookie_jar_t *jar = NULL;
  fz_rng_init(&ri, FZ_SEED_I);
  fz_rng_init(&rr, FZ_SEED_R);
  nn_chan_config_t ci = fz_config(NN_CHAN_INITIATOR, fx->id_i, &ri.rng, &si);
  nn_identity_t *impostor = fake ? fz_impostor(fx->id_r) : NULL;
  nn_chan_config_t cr = fz_config(NN_CHAN_RESPONDER, fake ? impostor : fx->id_r, &rr.rng, &sr);
  ci.expected_peer = nn_identity_node_id(fx->id_r);
  if (cookie) {
    fz_rng_init(&rj, FZ_SEED_JAR);
    if (nn_cookie_jar_new(&jar, &rj.rng, FZ_T0) != NN_OK)
      abort();
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
      nn_chan_recv(sr.ch, b, n, FZ_T0);
      free(b);
    }
    b = fz_take(sr.ch, &n);
    if (b) {
      fz_append(out, out_len, b, n);
      nn_chan_recv(si.ch, b, n, FZ_T0);
      free(b);
    }
  }
  if (fake ? si.established || nn_chan_close_reason(si.ch) != NN_CLOSE_AUTH : !si.established || !sr.established)
    abort();
  nn_chan_free(si.ch);
  nn_chan_free(sr.ch);
  nn_cookie_jar_free(jar);
  nn_identity_free(impostor);
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
  capture(fx, 0, 0, &fx->msg2, &fx->msg2_len);
  capture(fx, 1, 0, &fx->cookie_msg2, &fx->cookie_msg2_len);
  capture(fx, 0, 1, &fx->fake_msg2, &fx->fake_msg2_len);
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
  int with_cookie = (opt >> 1) & 1, anon = (opt >> 2) & 1, expect = (opt >> 3) & 3;
  fz_rng_t ri;
  fz_side_t s = { 0 };

  fz_rng_init(&ri, FZ_SEED_I);
  nn_chan_config_t cfg = fz_config(NN_CHAN_INITIATOR, anon ? NULL : fx->id_i, &ri.rng, &s);
  cfg.expected_peer = expect == 2 ? NULL : expect == 3 ? nn_identity_node_id(fx->id_i) : nn_identity_node_id(fx->id_r);
  s.ch = fz_new(&cfg);
  size_t n;
  free(fz_take(s.ch, &n)); /* msg1: deterministic, the one the captured msg2 answers */

  const uint8_t *base = expect == 1 ? fx->fake_msg2 : with_cookie ? fx->cookie_msg2 : fx->msg2;
  size_t base_len = expect == 1 ? fx->fake_msg2_len : with_cookie ? fx->cookie_msg2_len : fx->msg2_len;
  uint8_t *buf = fz_compose(data, size, base, base_len, &n);
  fz_feed(s.ch, buf, n, opt, FZ_T0 + 1);
  fz_check(&s, 1);

  int genuine =
    starts_with(buf, n, fx->msg2, fx->msg2_len) || starts_with(buf, n, fx->cookie_msg2, fx->cookie_msg2_len);
  if (s.established) {
    /* authentication: only a genuine msg2 from the expected node */
    const nn_chan_info_t *info = nn_chan_info(s.ch);
    if (!genuine || expect == 3 || !info ||
        memcmp(info->peer_id.b, nn_identity_node_id(fx->id_r)->b, NN_NODE_ID_LEN) != 0)
      abort();
  } else if (genuine) {
    /* completeness: the genuine reply is accepted unless the expected id is wrong */
    if (expect != 3 || nn_chan_close_reason(s.ch) != NN_CLOSE_WRONG_ID)
      abort();
  }
  if (s.established) {
    const uint8_t *out;
    size_t out_len;
    nn_chan_output(s.ch, &out, &out_len);
    /* [the retry msg1, then] msg3, then at most a CLOSE record */
    size_t off = 0;
    if (out_len >= 3 && out[2] == NN_HS_MSG1)
      off = 2 + ((size_t)out[0] << 8 | out[1]);
    if (out_len < off + 3 || out[off + 2] != NN_HS_MSG3)
      abort();
  }
  fz_expire(&s);
  fz_check(&s, 0);
  nn_chan_free(s.ch);
  free(buf);
  return 0;
}
