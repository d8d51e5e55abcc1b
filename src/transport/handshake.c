/*
 * The handshake (docs/PROTOCOL.md section 5): three messages, SIGMA-I shaped.
 *
 *   msg1  I -> R   e_x, e_m (ephemeral X25519 + ML-KEM-1024 keys), cookie
 *   msg2  R -> I   ct_x, ct_m, AEAD_hs_r2i{ flags, max_message, pk_R, Sign_R(TH_R) }
 *   msg3  I -> R   AEAD_hs_i2r{ flags, max_message, [pk_I, Sign_I(TH_I)] }
 *
 * Every byte of every message goes into one running SHA3-256 transcript that feeds the key
 * schedule and both signatures; the network magic is in the prologue and the HKDF salt.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/hkdf.h"
#include "crypto/identity.h"
#include "crypto/mldsa.h"
#include "transport/chan_int.h"
#include "transport/cookie.h"

#define PROLOGUE "nepnet/v1/handshake"
#define CTX_RESPONDER "nepnet/v1 responder"
#define CTX_INITIATOR "nepnet/v1 initiator"
#define FLAG_REQUIRE_ID 0x01 /* msg2: the responder requires an identified initiator */
#define FLAG_IDENTIFIED 0x01 /* msg3: the initiator sends its identity */
#define KEYS_LEN (NN_X25519_LEN + NN_MLKEM_PK_LEN)
#define PARAMS_LEN (1 + 4 + 4)             /* flags, max_message, rekey_interval */
#define ID_PART (PARAMS_LEN + NN_MLDSA_PK_LEN) /* what a signature covers */
#define MAX_REKEY (1u << 24)               /* AES-GCM: far below 2^24.5 records per key */

void
nn_hs_free(nn_hs_t *hs)
{
  if (!hs)
    return;
  nn_hybrid_key_clear(&hs->eph);
  nn_sha3_free(&hs->th);
  free(hs->msg1);
  OPENSSL_cleanse(hs, sizeof(*hs));
  free(hs);
}

static nn_err_t
th_absorb_frame_hdr(nn_hs_t *hs, size_t body_len, uint8_t type)
{
  uint8_t b[3] = { (uint8_t)(body_len >> 8), (uint8_t)body_len, type };
  return nn_sha3_update(&hs->th, b, sizeof(b));
}

static nn_err_t
th_start(nn_chan_t *c)
{
  uint8_t magic[4];
  nn_err_t err;
  nn_be32_put(magic, c->cfg.network);
  if ((err = nn_sha3_init(&c->hs->th)) ||
      (err = nn_sha3_update(&c->hs->th, (const uint8_t *)PROLOGUE, strlen(PROLOGUE))) ||
      (err = nn_sha3_update(&c->hs->th, magic, 4)))
    return err;
  return nn_sha3_update(&c->hs->th, c->hs->msg1, c->hs->msg1_len);
}

static nn_err_t
expand_label(uint8_t *out, size_t n, const nn_secret_t *prk, const char *label, const nn_hash_t *th)
{
  uint8_t info[64 + NN_HASH_LEN];
  size_t l = strlen(label);
  memcpy(info, label, l);
  memcpy(info + l, th->b, NN_HASH_LEN);
  return nn_hkdf_expand(out, n, prk, info, l + NN_HASH_LEN);
}

/* Handshake keys from the hybrid secret, bound to TH1 (everything up to msg2's ciphertexts). */
static nn_err_t
derive_hs_keys(nn_chan_t *c, const nn_secret_t *ss, const nn_hash_t *th1)
{
  uint8_t salt[9 + 4];
  nn_hs_t *hs = c->hs;
  nn_err_t err;
  memcpy(salt, "nepnet/v1", 9);
  nn_be32_put(salt + 9, c->cfg.network);
  if ((err = nn_hkdf_extract(&hs->prk_hs, salt, sizeof(salt), ss->b, NN_HASH_LEN)) ||
      (err = expand_label(hs->k_r2i.b, 32, &hs->prk_hs, "nepnet/v1 hs key r2i", th1)) ||
      (err = expand_label(hs->iv_r2i.b, 12, &hs->prk_hs, "nepnet/v1 hs iv r2i", th1)) ||
      (err = expand_label(hs->k_i2r.b, 32, &hs->prk_hs, "nepnet/v1 hs key i2r", th1)))
    return err;
  return expand_label(hs->iv_i2r.b, 12, &hs->prk_hs, "nepnet/v1 hs iv i2r", th1);
}

/* Traffic secrets and session id from the whole transcript; then the handshake state goes. */
static nn_err_t
derive_app_keys(nn_chan_t *c, const nn_hash_t *th3, uint32_t peer_rekey)
{
  nn_secret_t prk, ts_i2r, ts_r2i;
  nn_hs_t *hs = c->hs;
  nn_err_t err;
  int init = c->cfg.role == NN_CHAN_INITIATOR;

  if ((err = nn_hkdf_extract(&prk, hs->prk_hs.b, NN_HASH_LEN, th3->b, NN_HASH_LEN)) ||
      (err = nn_hkdf_expand(ts_i2r.b, 32, &prk, (const uint8_t *)"nepnet/v1 traffic i2r", 21)) ||
      (err = nn_hkdf_expand(ts_r2i.b, 32, &prk, (const uint8_t *)"nepnet/v1 traffic r2i", 21)) ||
      (err = nn_hkdf_expand(c->info.session_id, 32, &prk, (const uint8_t *)"nepnet/v1 session id", 20)))
    goto out;
  c->info.rekey_interval = (uint32_t)c->cfg.rekey_interval;
  c->info.peer_rekey_interval = peer_rekey;
  /* Each direction its own key and IV: the two sides never share a (key, nonce). */
  if ((err = nn_rec_dir_init(&c->tx, init ? &ts_i2r : &ts_r2i, c->cfg.rekey_interval)) ||
      (err = nn_rec_dir_init(&c->rx, init ? &ts_r2i : &ts_i2r, peer_rekey)))
    goto out;
out:
  OPENSSL_cleanse(&prk, sizeof(prk));
  OPENSSL_cleanse(&ts_i2r, sizeof(ts_i2r));
  OPENSSL_cleanse(&ts_r2i, sizeof(ts_r2i));
  return err;
}

/* Our parameters, as every payload starts: flags, max_message, the interval at which we ratchet
 * our sending direction (the peer follows it when receiving). */
static void
put_params(const nn_chan_t *c, uint8_t *p, uint8_t flags)
{
  p[0] = flags;
  nn_be32_put(p + 1, c->cfg.max_message);
  nn_be32_put(p + 5, (uint32_t)c->cfg.rekey_interval);
}

static int
rekey_ok(uint32_t v)
{
  return v >= 1 && v <= MAX_REKEY;
}

static nn_err_t
queue_frame(nn_chan_t *c, const uint8_t *frame, size_t len)
{
  uint8_t *p;
  nn_err_t err = nn_chan_out_reserve(c, len, &p);
  if (!err) {
    memcpy(p, frame, len);
    c->info.handshake_bytes_sent += len;
  }
  return err;
}

static nn_err_t
build_msg1(nn_chan_t *c, const uint8_t cookie[NN_COOKIE_LEN])
{
  nn_hs_t *hs = c->hs;
  size_t body = 1 + 1 + KEYS_LEN + NN_COOKIE_LEN + 2;
  nn_wire_writer_t w;

  free(hs->msg1);
  hs->msg1_len = NN_HS_FRAME_HDR + body;
  if (!(hs->msg1 = malloc(hs->msg1_len)))
    return NN_ERR_NOMEM;
  nn_wire_writer_init_fixed(&w, hs->msg1, hs->msg1_len);
  nn_wire_put_u16(&w, (uint16_t)body);
  nn_wire_put_u8(&w, NN_HS_MSG1);
  nn_wire_put_u8(&w, NN_HS_VERSION);
  nn_wire_put_bytes(&w, hs->eph.pk.x.b, NN_X25519_LEN);
  nn_wire_put_bytes(&w, hs->eph.pk.m.b, NN_MLKEM_PK_LEN);
  nn_wire_put_bytes(&w, cookie, NN_COOKIE_LEN);
  nn_wire_put_var(&w, 2, NN_HS_MAX_PAD, NULL, 0);
  return w.err ? w.err : queue_frame(c, hs->msg1, hs->msg1_len);
}

nn_err_t
nn_hs_start_initiator(nn_chan_t *c)
{
  static const uint8_t no_cookie[NN_COOKIE_LEN];
  nn_err_t err;
  if (!(c->hs = calloc(1, sizeof(*c->hs))))
    return NN_ERR_NOMEM;
  if ((err = nn_hybrid_keygen(&c->hs->eph, c->cfg.rng)))
    return err;
  return build_msg1(c, no_cookie);
}

/* ---- responder: msg1 -> (cookie | msg2) ---- */

static nn_close_reason_t
on_msg1(nn_chan_t *c, const uint8_t *body, size_t len)
{
  nn_wire_reader_t r;
  uint8_t type, version, cookie[NN_COOKIE_LEN];
  const uint8_t *keys, *pad;
  size_t padlen;
  nn_hybrid_pk_t pk;
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  nn_hash_t th1, thr, th2;
  nn_mldsa_sig_t *sig = NULL;
  uint8_t *frame = NULL, *payload = NULL;
  nn_close_reason_t why = NN_CLOSE_PROTOCOL;
  nn_hs_t *hs = c->hs;
  nn_aead_t aead = { 0 };

  nn_wire_reader_init(&r, body, len);
  nn_wire_get_u8(&r, &type);
  nn_wire_get_u8(&r, &version);
  if (!r.err && version != NN_HS_VERSION)
    return NN_CLOSE_VERSION;
  nn_wire_get_view(&r, KEYS_LEN, &keys);
  nn_wire_get_bytes(&r, cookie, NN_COOKIE_LEN);
  nn_wire_get_var(&r, 2, NN_HS_MAX_PAD, &pad, &padlen);
  if (nn_wire_finish(&r))
    return NN_CLOSE_PROTOCOL;

  if (c->cfg.require_cookie && c->cfg.cookies &&
      nn_cookie_check(c->cfg.cookies, c->cfg.network, c->cfg.peer_addr, c->cfg.peer_addr_len, keys,
                      KEYS_LEN, cookie) != NN_OK) {
    uint8_t reply[NN_HS_FRAME_HDR + 1 + NN_COOKIE_LEN] = { 0, 1 + NN_COOKIE_LEN, NN_HS_COOKIE };
    if (hs->cookie_sent)
      return NN_CLOSE_COOKIE;
    if (nn_cookie_make(c->cfg.cookies, 0, c->cfg.network, c->cfg.peer_addr, c->cfg.peer_addr_len,
                       keys, KEYS_LEN, reply + 3) || queue_frame(c, reply, sizeof(reply)))
      return NN_CLOSE_INTERNAL;
    hs->cookie_sent = 1;
    return NN_CLOSE_NONE; /* stay in WAIT_MSG1: no KEM, no signature, nothing stored */
  }

  memcpy(pk.x.b, keys, NN_X25519_LEN);
  memcpy(pk.m.b, keys + NN_X25519_LEN, NN_MLKEM_PK_LEN);
  /* A peer key that fails the ML-KEM modulus check or X25519's low-order check is the peer's fault. */
  if (nn_hybrid_encaps(&ct, &ss, &pk, c->cfg.rng))
    goto out;
  why = NN_CLOSE_INTERNAL;
  if (!(hs->msg1 = malloc(NN_HS_FRAME_HDR + len)))
    goto out;
  nn_be16_put(hs->msg1, (uint16_t)len);
  memcpy(hs->msg1 + NN_HS_FRAME_HDR, body, len);
  hs->msg1_len = NN_HS_FRAME_HDR + len;

  size_t plen = ID_PART + NN_MLDSA_SIG_LEN + 2;
  size_t blen = 1 + NN_X25519_LEN + NN_MLKEM_CT_LEN + plen + NN_AEAD_TAG_LEN;
  if (!(sig = malloc(sizeof(*sig))) || !(payload = malloc(plen)) ||
      !(frame = malloc(NN_HS_FRAME_HDR + blen)))
    goto out;
  if (th_start(c) || th_absorb_frame_hdr(hs, blen, NN_HS_MSG2) ||
      nn_sha3_update(&hs->th, ct.x.b, NN_X25519_LEN) ||
      nn_sha3_update(&hs->th, ct.m.b, NN_MLKEM_CT_LEN) || nn_sha3_peek(&hs->th, &th1) ||
      derive_hs_keys(c, &ss, &th1))
    goto out;

  put_params(c, payload, c->cfg.require_peer_identity ? FLAG_REQUIRE_ID : 0);
  memcpy(payload + PARAMS_LEN, nn_identity_public_key(c->cfg.identity)->b, NN_MLDSA_PK_LEN);
  if (nn_sha3_update(&hs->th, payload, ID_PART) || nn_sha3_peek(&hs->th, &thr) ||
      nn_mldsa_sign(sig, nn_identity_key(c->cfg.identity), (const uint8_t *)CTX_RESPONDER,
                    strlen(CTX_RESPONDER), thr.b, NN_HASH_LEN, c->cfg.rng))
    goto out;
  memcpy(payload + ID_PART, sig->b, NN_MLDSA_SIG_LEN);
  nn_be16_put(payload + ID_PART + NN_MLDSA_SIG_LEN, 0); /* no padding */
  if (nn_sha3_update(&hs->th, payload + ID_PART, plen - ID_PART) || nn_sha3_peek(&hs->th, &th2))
    goto out;
  hs->th2 = th2;

  nn_be16_put(frame, (uint16_t)blen);
  frame[2] = NN_HS_MSG2;
  memcpy(frame + 3, ct.x.b, NN_X25519_LEN);
  memcpy(frame + 3 + NN_X25519_LEN, ct.m.b, NN_MLKEM_CT_LEN);
  if (nn_aead_init(&aead, &hs->k_r2i) ||
      nn_aead_seal(&aead, &hs->iv_r2i, th1.b, NN_HASH_LEN, payload, plen,
                   frame + 3 + NN_X25519_LEN + NN_MLKEM_CT_LEN) ||
      queue_frame(c, frame, NN_HS_FRAME_HDR + blen))
    goto out;
  c->st = NN_ST_R_WAIT_MSG3;
  why = NN_CLOSE_NONE;
out:
  nn_aead_free(&aead);
  OPENSSL_cleanse(&ss, sizeof(ss));
  free(sig);
  free(payload);
  free(frame);
  return why;
}

/* ---- initiator: cookie -> msg1 again; msg2 -> msg3 ---- */

static nn_close_reason_t
on_cookie(nn_chan_t *c, const uint8_t *body, size_t len)
{
  if (len != 1 + NN_COOKIE_LEN || c->hs->cookie_sent)
    return NN_CLOSE_PROTOCOL;
  c->hs->cookie_sent = 1; /* one retry: a second cookie reply is a protocol error */
  return build_msg1(c, body + 1) ? NN_CLOSE_INTERNAL : NN_CLOSE_NONE;
}

static nn_close_reason_t
on_msg2(nn_chan_t *c, const uint8_t *body, size_t len)
{
  nn_hs_t *hs = c->hs;
  nn_wire_reader_t r;
  uint8_t type;
  const uint8_t *sealed;
  size_t sealed_len;
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  nn_hash_t th1, thr, th2, th_i, th3;
  nn_node_id_t id;
  nn_aead_t aead = { 0 };
  uint8_t *payload = NULL, *frame = NULL;
  nn_mldsa_sig_t *sig = NULL;
  nn_close_reason_t why = NN_CLOSE_PROTOCOL;
  const size_t plen_min = ID_PART + NN_MLDSA_SIG_LEN + 2;

  nn_wire_reader_init(&r, body, len);
  nn_wire_get_u8(&r, &type);
  nn_wire_get_bytes(&r, ct.x.b, NN_X25519_LEN);
  nn_wire_get_bytes(&r, ct.m.b, NN_MLKEM_CT_LEN);
  sealed_len = nn_wire_remaining(&r);
  nn_wire_get_view(&r, sealed_len, &sealed);
  if (nn_wire_finish(&r) || sealed_len < plen_min + NN_AEAD_TAG_LEN ||
      sealed_len > plen_min + NN_HS_MAX_PAD + NN_AEAD_TAG_LEN)
    return NN_CLOSE_PROTOCOL;
  if (nn_hybrid_decaps(&ss, &hs->eph, &ct))
    return NN_CLOSE_PROTOCOL; /* low-order X25519 key from the peer */
  why = NN_CLOSE_INTERNAL;
  size_t plen = sealed_len - NN_AEAD_TAG_LEN;
  if (!(payload = malloc(plen)) || th_start(c) || th_absorb_frame_hdr(hs, len, NN_HS_MSG2) ||
      nn_sha3_update(&hs->th, ct.x.b, NN_X25519_LEN) ||
      nn_sha3_update(&hs->th, ct.m.b, NN_MLKEM_CT_LEN) || nn_sha3_peek(&hs->th, &th1) ||
      derive_hs_keys(c, &ss, &th1) || nn_aead_init(&aead, &hs->k_r2i))
    goto out;
  /* Wrong network, a MITM's keys or tampering all end here: the keys do not match. */
  why = NN_CLOSE_AUTH;
  if (nn_aead_open(&aead, &hs->iv_r2i, th1.b, NN_HASH_LEN, sealed, sealed_len, payload))
    goto out;
  why = NN_CLOSE_PROTOCOL;
  nn_wire_reader_init(&r, payload, plen);
  uint8_t flags;
  uint32_t peer_max, peer_rekey;
  const uint8_t *pk, *sigp, *pad;
  size_t padlen;
  nn_wire_get_u8(&r, &flags);
  nn_wire_get_u32(&r, &peer_max);
  nn_wire_get_u32(&r, &peer_rekey);
  nn_wire_get_view(&r, NN_MLDSA_PK_LEN, &pk);
  nn_wire_get_view(&r, NN_MLDSA_SIG_LEN, &sigp);
  nn_wire_get_var(&r, 2, NN_HS_MAX_PAD, &pad, &padlen);
  if (nn_wire_finish(&r) || (flags & ~FLAG_REQUIRE_ID) || !rekey_ok(peer_rekey))
    goto out;
  why = NN_CLOSE_INTERNAL;
  if (nn_node_id_from_public_key(&id, (const nn_mldsa_pk_t *)pk))
    goto out;
  why = NN_CLOSE_WRONG_ID;
  if (c->cfg.expected_peer && CRYPTO_memcmp(id.b, c->cfg.expected_peer->b, NN_NODE_ID_LEN) != 0)
    goto out;
  why = NN_CLOSE_INTERNAL;
  if (nn_sha3_update(&hs->th, payload, ID_PART) || nn_sha3_peek(&hs->th, &thr))
    goto out;
  why = NN_CLOSE_AUTH;
  if (nn_mldsa_verify((const nn_mldsa_pk_t *)pk, (const uint8_t *)CTX_RESPONDER, strlen(CTX_RESPONDER),
                      thr.b, NN_HASH_LEN, (const nn_mldsa_sig_t *)sigp))
    goto out;
  why = NN_CLOSE_INTERNAL;
  if (nn_sha3_update(&hs->th, payload + ID_PART, plen - ID_PART) || nn_sha3_peek(&hs->th, &th2))
    goto out;
  why = NN_CLOSE_ID_REQUIRED;
  if ((flags & FLAG_REQUIRE_ID) && !c->cfg.identity)
    goto out;
  c->info.peer_id = id;
  c->info.peer_identified = 1;
  c->info.peer_max_message = peer_max;

  /* msg3 */
  why = NN_CLOSE_INTERNAL;
  int ident = c->cfg.identity != NULL;
  size_t mlen = ident ? ID_PART + NN_MLDSA_SIG_LEN + 2 : PARAMS_LEN + 2;
  size_t blen = 1 + mlen + NN_AEAD_TAG_LEN;
  free(payload);
  if (!(payload = malloc(mlen)) || !(frame = malloc(NN_HS_FRAME_HDR + blen)))
    goto out;
  put_params(c, payload, ident ? FLAG_IDENTIFIED : 0);
  size_t signed_len = PARAMS_LEN;
  if (ident) {
    memcpy(payload + PARAMS_LEN, nn_identity_public_key(c->cfg.identity)->b, NN_MLDSA_PK_LEN);
    signed_len = ID_PART;
  }
  if (th_absorb_frame_hdr(hs, blen, NN_HS_MSG3) || nn_sha3_update(&hs->th, payload, signed_len))
    goto out;
  if (ident) {
    if (!(sig = malloc(sizeof(*sig))) || nn_sha3_peek(&hs->th, &th_i) ||
        nn_mldsa_sign(sig, nn_identity_key(c->cfg.identity), (const uint8_t *)CTX_INITIATOR,
                      strlen(CTX_INITIATOR), th_i.b, NN_HASH_LEN, c->cfg.rng))
      goto out;
    memcpy(payload + ID_PART, sig->b, NN_MLDSA_SIG_LEN);
  }
  nn_be16_put(payload + mlen - 2, 0);
  if (nn_sha3_update(&hs->th, payload + signed_len, mlen - signed_len) || nn_sha3_peek(&hs->th, &th3))
    goto out;
  nn_be16_put(frame, (uint16_t)blen);
  frame[2] = NN_HS_MSG3;
  if (nn_aead_init(&aead, &hs->k_i2r) ||
      nn_aead_seal(&aead, &hs->iv_i2r, th2.b, NN_HASH_LEN, payload, mlen, frame + 3) ||
      queue_frame(c, frame, NN_HS_FRAME_HDR + blen) || derive_app_keys(c, &th3, peer_rekey))
    goto out;
  why = NN_CLOSE_NONE;
out:
  nn_aead_free(&aead);
  OPENSSL_cleanse(&ss, sizeof(ss));
  free(payload); /* public data only: keys, signatures, flags */
  free(frame);
  free(sig);
  if (why == NN_CLOSE_NONE)
    nn_chan_established(c);
  return why;
}

/* ---- responder: msg3 ---- */

static nn_close_reason_t
on_msg3(nn_chan_t *c, const uint8_t *body, size_t len)
{
  nn_hs_t *hs = c->hs;
  nn_aead_t aead = { 0 };
  uint8_t *payload = NULL;
  nn_hash_t th_i, th3;
  nn_close_reason_t why = NN_CLOSE_PROTOCOL;
  size_t sealed_len = len - 1;

  if (len < 1 + PARAMS_LEN + 2 + NN_AEAD_TAG_LEN)
    return NN_CLOSE_PROTOCOL;
  size_t plen = sealed_len - NN_AEAD_TAG_LEN;
  why = NN_CLOSE_INTERNAL;
  if (!(payload = malloc(plen)) || th_absorb_frame_hdr(hs, len, NN_HS_MSG3) ||
      nn_aead_init(&aead, &hs->k_i2r))
    goto out;
  why = NN_CLOSE_AUTH;
  if (nn_aead_open(&aead, &hs->iv_i2r, hs->th2.b, NN_HASH_LEN, body + 1, sealed_len, payload))
    goto out;
  why = NN_CLOSE_PROTOCOL;
  nn_wire_reader_t r;
  uint8_t flags;
  uint32_t peer_max, peer_rekey;
  const uint8_t *pk = NULL, *sigp = NULL, *pad;
  size_t padlen;
  nn_wire_reader_init(&r, payload, plen);
  nn_wire_get_u8(&r, &flags);
  nn_wire_get_u32(&r, &peer_max);
  nn_wire_get_u32(&r, &peer_rekey);
  if (flags & FLAG_IDENTIFIED) {
    nn_wire_get_view(&r, NN_MLDSA_PK_LEN, &pk);
    nn_wire_get_view(&r, NN_MLDSA_SIG_LEN, &sigp);
  }
  nn_wire_get_var(&r, 2, NN_HS_MAX_PAD, &pad, &padlen);
  if (nn_wire_finish(&r) || (flags & ~FLAG_IDENTIFIED) || !rekey_ok(peer_rekey))
    goto out;
  size_t signed_len = pk ? ID_PART : PARAMS_LEN;
  why = NN_CLOSE_INTERNAL;
  if (nn_sha3_update(&hs->th, payload, signed_len) || nn_sha3_peek(&hs->th, &th_i))
    goto out;
  if (pk) {
    why = NN_CLOSE_AUTH;
    if (nn_mldsa_verify((const nn_mldsa_pk_t *)pk, (const uint8_t *)CTX_INITIATOR,
                        strlen(CTX_INITIATOR), th_i.b, NN_HASH_LEN, (const nn_mldsa_sig_t *)sigp))
      goto out;
    why = NN_CLOSE_INTERNAL;
    if (nn_node_id_from_public_key(&c->info.peer_id, (const nn_mldsa_pk_t *)pk))
      goto out;
    c->info.peer_identified = 1;
  } else if (c->cfg.require_peer_identity) {
    why = NN_CLOSE_ID_REQUIRED;
    goto out;
  }
  why = NN_CLOSE_INTERNAL;
  if (nn_sha3_update(&hs->th, payload + signed_len, plen - signed_len) ||
      nn_sha3_peek(&hs->th, &th3) || derive_app_keys(c, &th3, peer_rekey))
    goto out;
  c->info.peer_max_message = peer_max;
  why = NN_CLOSE_NONE;
out:
  nn_aead_free(&aead);
  free(payload);
  if (why == NN_CLOSE_NONE)
    nn_chan_established(c);
  return why;
}

void
nn_hs_on_frame(nn_chan_t *c, const uint8_t *body, size_t len)
{
  nn_close_reason_t why = NN_CLOSE_PROTOCOL;
  uint8_t type = len ? body[0] : 0;

  c->info.handshake_bytes_received += NN_HS_FRAME_HDR + len;
  if (c->st == NN_ST_R_WAIT_MSG1 && type == NN_HS_MSG1)
    why = on_msg1(c, body, len);
  else if (c->st == NN_ST_I_WAIT_MSG2 && type == NN_HS_COOKIE)
    why = on_cookie(c, body, len);
  else if (c->st == NN_ST_I_WAIT_MSG2 && type == NN_HS_MSG2)
    why = on_msg2(c, body, len);
  else if (c->st == NN_ST_R_WAIT_MSG3 && type == NN_HS_MSG3)
    why = on_msg3(c, body, len);
  if (why != NN_CLOSE_NONE)
    nn_chan_fail(c, why);
}
