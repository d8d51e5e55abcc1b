#include "mixnet/sphinx.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/lioness.h"
#include "crypto/sha3.h"

#define KDF_LABEL "nepnet-sphinx-v1"
#define S NN_SPHINX_SLOT_LEN
#define F NN_SPHINX_FINAL_LEN

/* What one hop's shared secret gives: SHAKE-256(label || ss), 224 bytes, in this order. */
typedef struct hop_keys_t {
  uint8_t mac[32];      /* gamma: HMAC-SHA-256 key */
  uint8_t beta[32];     /* beta: AES-256-CTR key, zero counter */
  nn_lioness_key_t lio; /* the payload layer */
  uint8_t replay[32];   /* the replay tag */
} hop_keys_t;

static nn_err_t
derive(hop_keys_t *k, const nn_secret_t *ss)
{
  uint8_t in[sizeof(KDF_LABEL) - 1 + NN_HASH_LEN], out[224];
  nn_err_t err;

  memcpy(in, KDF_LABEL, sizeof(KDF_LABEL) - 1);
  memcpy(in + sizeof(KDF_LABEL) - 1, ss->b, NN_HASH_LEN);
  if (!(err = nn_shake256(out, sizeof(out), in, sizeof(in)))) {
    memcpy(k->mac, out, 32);
    memcpy(k->beta, out + 32, 32);
    memcpy(k->lio.b, out + 64, NN_LIONESS_KEY_LEN);
    memcpy(k->replay, out + 192, 32);
  }
  OPENSSL_cleanse(in, sizeof(in));
  OPENSSL_cleanse(out, sizeof(out));
  return err;
}

nn_err_t
nn_sphinx_geom_init(nn_sphinx_geom_t *g, unsigned hops, size_t packet_len)
{
  memset(g, 0, sizeof(*g));
  if (hops < 1 || hops > NN_SPHINX_MAX_HOPS || packet_len > NN_SPHINX_MAX_LEN)
    return NN_ERR_ARG;
  g->hops = hops;
  g->beta_len = (size_t)(hops - 1) * S + F;
  g->header_len = NN_SPHINX_PREFIX_LEN + NN_SPHINX_CT_LEN + g->beta_len + NN_SPHINX_MAC_LEN;
  if (packet_len < g->header_len + NN_LIONESS_MIN_LEN) {
    memset(g, 0, sizeof(*g));
    return NN_ERR_ARG;
  }
  g->packet_len = packet_len;
  g->payload_len = packet_len - g->header_len;
  g->body_len = g->payload_len - NN_SPHINX_ZERO_LEN;
  return NN_OK;
}

nn_err_t
nn_sphinx_epoch(const uint8_t *packet, size_t len, uint32_t *epoch)
{
  *epoch = 0;
  if (len < NN_SPHINX_PREFIX_LEN)
    return NN_ERR_TRUNCATED;
  *epoch = (uint32_t)packet[1] << 24 | (uint32_t)packet[2] << 16 | (uint32_t)packet[3] << 8 | packet[4];
  return NN_OK;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t
get_u32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_ct(uint8_t *p, const nn_hybrid_ct_t *ct)
{
  memcpy(p, ct->x.b, NN_X25519_LEN);
  memcpy(p + NN_X25519_LEN, ct->m.b, NN_MLKEM_CT_LEN);
}

/* The keystream of a hop's beta key: L + S bytes, as a hop XORs them onto beta || 0^S. */
static nn_err_t
keystream(nn_sym_t *s, const hop_keys_t *k, uint8_t *rho, size_t len)
{
  memset(rho, 0, len);
  return nn_sym_ctr_xor(s, k->beta, NULL, rho, rho, len);
}

/* Per hop of a route being built. */
typedef struct build_hop_t {
  nn_hybrid_ct_t ct;
  hop_keys_t k;
} build_hop_t;

nn_err_t
nn_sphinx_build(nn_sym_t *s, const nn_sphinx_geom_t *g, uint32_t epoch, const nn_sphinx_hop_t *route, size_t n,
                const uint8_t *body, const nn_rng_t *rng, uint8_t *packet)
{
  const size_t L = g->beta_len, H = g->header_len;
  build_hop_t *hop = NULL;
  uint8_t *rho = NULL, *filler = NULL, *beta = NULL, *next = NULL;
  nn_secret_t ss;
  nn_err_t err = NN_ERR_NOMEM;

  memset(&ss, 0, sizeof(ss));
  if (!g->packet_len || n < 1 || n > g->hops)
    return NN_ERR_ARG;
  if (!(hop = calloc(n, sizeof(*hop))) || !(rho = malloc(L + S)) || !(filler = calloc(1, (n - 1) * S + 1)) ||
      !(beta = malloc(L)) || !(next = malloc(L)))
    goto out;

  /* Each hop's encapsulation and keys, in route order. */
  for (size_t i = 0; i < n; i++) {
    if ((err = nn_hybrid_encaps(&hop[i].ct, &ss, route[i].pk, rng)) || (err = derive(&hop[i].k, &ss)))
      goto out;
  }

  /* The filler: what hops 1..n-1 shift into the back of beta, as the last hop will see it. */
  for (size_t i = 0; i + 1 < n; i++) {
    size_t have = i * S; /* filler bytes so far */
    if ((err = keystream(s, &hop[i].k, rho, L + S)))
      goto out;
    for (size_t j = 0; j < have + S; j++)
      filler[j] ^= rho[L - have + j];
  }

  /* The last hop's beta: its command, random padding, then the filler. */
  {
    size_t own = L - (n - 1) * S;
    beta[0] = NN_SPHINX_CMD_DELIVER;
    put_u32(beta + 1, route[n - 1].delay_ms);
    if ((err = nn_rng_fill(rng, beta + F, own - F)) || (err = keystream(s, &hop[n - 1].k, rho, L + S)))
      goto out;
    for (size_t j = 0; j < own; j++)
      beta[j] ^= rho[j];
    memcpy(beta + own, filler, (n - 1) * S);
  }

  /* Headers from the last hop back to the first; packet holds the current one. */
  packet[0] = NN_SPHINX_VERSION;
  put_u32(packet + 1, epoch);
  for (size_t i = n; i-- > 0;) {
    put_ct(packet + NN_SPHINX_PREFIX_LEN, &hop[i].ct);
    memcpy(packet + NN_SPHINX_PREFIX_LEN + NN_SPHINX_CT_LEN, beta, L);
    if ((err = nn_sym_hmac(s, packet + H - NN_SPHINX_MAC_LEN, hop[i].k.mac, packet, H - NN_SPHINX_MAC_LEN)))
      goto out;
    if (i == 0)
      break;
    /* beta of hop i-1: its forward slot, then all but the last S bytes of beta of hop i */
    uint8_t *slot = next;
    slot[0] = NN_SPHINX_CMD_FORWARD;
    put_u32(slot + 1, route[i - 1].delay_ms);
    memcpy(slot + 5, route[i].node.b, NN_HASH_LEN);
    memcpy(slot + 5 + NN_HASH_LEN, packet + H - NN_SPHINX_MAC_LEN, NN_SPHINX_MAC_LEN);
    put_ct(slot + 5 + NN_HASH_LEN + NN_SPHINX_MAC_LEN, &hop[i].ct);
    memcpy(next + S, beta, L - S);
    if ((err = keystream(s, &hop[i - 1].k, rho, L + S)))
      goto out;
    for (size_t j = 0; j < L; j++)
      beta[j] = next[j] ^ rho[j];
  }

  /* The payload: zeros || body, then a LIONESS layer per hop, the last hop's innermost. */
  {
    uint8_t *p = packet + H;
    memset(p, 0, NN_SPHINX_ZERO_LEN);
    memcpy(p + NN_SPHINX_ZERO_LEN, body, g->body_len);
    for (size_t i = n; i-- > 0;)
      if ((err = nn_lioness_encrypt(s, &hop[i].k.lio, p, g->payload_len)))
        goto out;
  }
  err = NN_OK;

out:
  if (hop) {
    OPENSSL_cleanse(hop, n * sizeof(*hop));
    free(hop);
  }
  if (rho) {
    OPENSSL_cleanse(rho, L + S);
    free(rho);
  }
  free(filler);
  free(beta);
  if (next) { /* the plaintext forward slots: the route */
    OPENSSL_cleanse(next, L);
    free(next);
  }
  OPENSSL_cleanse(&ss, sizeof(ss));
  nn_sym_wipe(s);
  if (err)
    OPENSSL_cleanse(packet, g->packet_len);
  return err;
}

void
nn_sphinx_unwrap(nn_sym_t *s, const nn_sphinx_geom_t *g, const nn_hybrid_key_t *key, uint8_t *packet, size_t len,
                 nn_sphinx_out_t *out)
{
  /* beta || 0^S after decryption; the largest geometry's is (6 - 1) * S + F + S = 10019 bytes */
  uint8_t d[(NN_SPHINX_MAX_HOPS - 1) * S + F + S], mac[NN_SPHINX_MAC_LEN];
  const size_t L = g->beta_len, H = g->header_len;
  uint8_t *beta = packet + NN_SPHINX_PREFIX_LEN + NN_SPHINX_CT_LEN;
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  hop_keys_t k;

  memset(out, 0, sizeof(*out));
  memset(&k, 0, sizeof(k));
  memset(&ss, 0, sizeof(ss));
  out->verdict = NN_SPHINX_CRYPTO;
  if (!g->packet_len || len != g->packet_len || L + S > sizeof(d) || H + NN_LIONESS_MIN_LEN > len) {
    out->verdict = NN_SPHINX_BAD_LENGTH; /* or a geometry that nn_sphinx_geom_init did not make */
    return;
  }
  if (packet[0] != NN_SPHINX_VERSION) {
    out->verdict = NN_SPHINX_BAD_VERSION;
    return;
  }
  memcpy(ct.x.b, packet + NN_SPHINX_PREFIX_LEN, NN_X25519_LEN);
  memcpy(ct.m.b, packet + NN_SPHINX_PREFIX_LEN + NN_X25519_LEN, NN_MLKEM_CT_LEN);
  if (nn_hybrid_decaps(&ss, key, &ct)) {
    out->verdict = NN_SPHINX_BAD_CT;
    goto out;
  }
  if (derive(&k, &ss) || nn_sym_hmac(s, mac, k.mac, packet, H - NN_SPHINX_MAC_LEN))
    goto out;
  if (CRYPTO_memcmp(mac, packet + H - NN_SPHINX_MAC_LEN, NN_SPHINX_MAC_LEN)) {
    out->verdict = NN_SPHINX_BAD_MAC;
    goto out;
  }
  out->have_replay = 1;
  memcpy(out->replay, k.replay, NN_SPHINX_REPLAY_LEN);

  memcpy(d, beta, L);
  memset(d + L, 0, S);
  if (nn_sym_ctr_xor(s, k.beta, NULL, d, d, L + S) || nn_lioness_decrypt(s, &k.lio, packet + H, g->payload_len))
    goto out;
  out->delay_ms = get_u32(d + 1);
  switch (d[0]) {
  case NN_SPHINX_CMD_FORWARD:
    memcpy(out->next.b, d + 5, NN_HASH_LEN);
    /* the next header: same version and epoch, the next ct, the shifted beta, the next gamma */
    memcpy(packet + H - NN_SPHINX_MAC_LEN, d + 5 + NN_HASH_LEN, NN_SPHINX_MAC_LEN);
    memcpy(packet + NN_SPHINX_PREFIX_LEN, d + 5 + NN_HASH_LEN + NN_SPHINX_MAC_LEN, NN_SPHINX_CT_LEN);
    memcpy(beta, d + S, L);
    out->verdict = NN_SPHINX_FORWARD;
    break;
  case NN_SPHINX_CMD_DELIVER: {
    static const uint8_t zero[NN_SPHINX_ZERO_LEN] = { 0 };
    if (CRYPTO_memcmp(packet + H, zero, NN_SPHINX_ZERO_LEN)) {
      out->verdict = NN_SPHINX_TAGGED;
      break;
    }
    out->body = packet + H + NN_SPHINX_ZERO_LEN;
    out->verdict = NN_SPHINX_DELIVER;
    break;
  }
  default: out->verdict = NN_SPHINX_BAD_COMMAND; break;
  }

out:
  if (out->verdict != NN_SPHINX_FORWARD && out->verdict != NN_SPHINX_DELIVER) {
    out->delay_ms = 0;
    memset(&out->next, 0, sizeof(out->next));
    out->body = NULL;
  }
  OPENSSL_cleanse(d, sizeof(d));
  OPENSSL_cleanse(mac, sizeof(mac));
  OPENSSL_cleanse(&k, sizeof(k));
  OPENSSL_cleanse(&ss, sizeof(ss));
  nn_sym_wipe(s);
}

const char *
nn_sphinx_verdict_name(nn_sphinx_verdict_t v)
{
  static const char *names[NN_SPHINX_VERDICTS] = { "forward", "deliver",     "bad_length", "bad_version", "bad_ct",
                                                   "bad_mac", "bad_command", "tagged",     "crypto" };
  return (unsigned)v < NN_SPHINX_VERDICTS ? names[v] : "unknown";
}
