/*
 * The handshake (docs/PROTOCOL.md section 5): three messages, SIGMA-I shaped.
 *
 *   msg1  I -> R   e_x, e_m (ephemeral X25519 + ML-KEM-1024 keys), cookie
 *   msg2  R -> I   ct_x, ct_m, AEAD_hs_r2i{ flags, max_message, pk_R, Sign_R(TH_R) }
 *   msg3  I -> R   AEAD_hs_i2r{ flags, max_message, [pk_I, Sign_I(TH_I)] }
 *
 * Every byte of every message goes into one running SHA3-256 transcript that feeds the key
 * schedule and both signatures; the network magic is in the prologue and the HKDF salt.
 *
 * Each received message has a consume step (parse, decrypt, verify, derive) and, where one
 * follows, a build step for the answer, WireGuard style: on_msg1 = consume_msg1 + build_msg2,
 * on_msg2 = consume_msg2 + check_responder + build_msg3, on_msg3 = consume_msg3. Both sides share
 * the transcript and key schedule steps (mix_kem, derive_app_keys) and the payload steps
 * (write_payload on one side, open_payload + absorb_peer_payload on the other).
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
#define PARAMS_LEN (1 + 4 + 4)                          /* flags, max_message, rekey_interval */
#define ID_PART (PARAMS_LEN + NN_MLDSA_PK_LEN)          /* what a signature covers */
#define PAYLOAD_ID_LEN (ID_PART + NN_MLDSA_SIG_LEN + 2) /* params, pk, sig, empty padding */
#define PAYLOAD_ANON_LEN (PARAMS_LEN + 2)               /* an anonymous initiator's P3 */
#define MAX_REKEY (1u << 24)                            /* AES-GCM: far below 2^24.5 records per key */

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

/* T <- prologue || msg1 || u16 L2 || 0x03 || ct_x || ct_m; TH1; the handshake keys. Both sides
 * run this over the same bytes: the responder while building msg2, the initiator on receiving it
 * (only then, since a cookie reply may have changed its msg1). */
static nn_err_t
mix_kem(nn_chan_t *c, size_t msg2_len, const nn_hybrid_ct_t *ct, const nn_secret_t *ss, nn_hash_t *th1)
{
  nn_hs_t *hs = c->hs;
  nn_err_t err;
  if ((err = th_start(c)) || (err = th_absorb_frame_hdr(hs, msg2_len, NN_HS_MSG2)) ||
      (err = nn_sha3_update(&hs->th, ct->x.b, NN_X25519_LEN)) ||
      (err = nn_sha3_update(&hs->th, ct->m.b, NN_MLKEM_CT_LEN)) || (err = nn_sha3_peek(&hs->th, th1)))
    return err;
  return derive_hs_keys(c, ss, th1);
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

/* ---- payloads P2 and P3: params || [pk || sig] || padding ---- */

/* A payload as opened: public data only (keys, signatures, flags). */
typedef struct hs_payload_t {
  uint8_t *buf;
  size_t len;
  uint8_t flags;
  uint32_t max_message, rekey_interval;
  const uint8_t *pk, *sig; /* views into buf; NULL when the sender is anonymous */
  size_t signed_len;       /* the bytes absorbed before the signature: params, then pk */
} hs_payload_t;

static int
rekey_ok(uint32_t v)
{
  return v >= 1 && v <= MAX_REKEY;
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

/*
 * Write and absorb our payload: params and pk, the signature over the transcript at that point
 * (TH_R or TH_I) under \a sign_ctx, then the padding field: the last \a pad bytes of the
 * \a plen are zero padding. \a *th_after is then TH2 or TH3. sign_ctx NULL: an anonymous
 * initiator, whose payload is the params and its padding.
 */
static nn_err_t
write_payload(nn_chan_t *c, uint8_t *p, size_t plen, size_t pad, uint8_t flags, const char *sign_ctx,
              nn_hash_t *th_after)
{
  nn_hs_t *hs = c->hs;
  size_t signed_len = sign_ctx ? ID_PART : PARAMS_LEN;
  nn_hash_t th;
  nn_err_t err;

  put_params(c, p, flags);
  if (sign_ctx)
    memcpy(p + PARAMS_LEN, nn_identity_public_key(c->cfg.identity)->b, NN_MLDSA_PK_LEN);
  if ((err = nn_sha3_update(&hs->th, p, signed_len)))
    return err;
  if (sign_ctx && ((err = nn_sha3_peek(&hs->th, &th)) ||
                   (err = nn_mldsa_sign((nn_mldsa_sig_t *)(p + ID_PART), nn_identity_key(c->cfg.identity),
                                        (const uint8_t *)sign_ctx, strlen(sign_ctx), th.b, NN_HASH_LEN, c->cfg.rng))))
    return err;
  nn_be16_put(p + plen - pad - 2, (uint16_t)pad);
  memset(p + plen - pad, 0, pad);
  if ((err = nn_sha3_update(&hs->th, p + signed_len, plen - signed_len)))
    return err;
  return nn_sha3_peek(&hs->th, th_after);
}

/* P2 always carries the responder's identity, P3 the initiator's when its flags say so; flags
 * this version does not define are refused. */
static int
parse_payload(hs_payload_t *p, int always_id, uint8_t known_flags)
{
  nn_wire_reader_t r;
  const uint8_t *pad;
  size_t padlen;

  nn_wire_reader_init(&r, p->buf, p->len);
  nn_wire_get_u8(&r, &p->flags);
  nn_wire_get_u32(&r, &p->max_message);
  nn_wire_get_u32(&r, &p->rekey_interval);
  if (always_id || (p->flags & FLAG_IDENTIFIED)) {
    nn_wire_get_view(&r, NN_MLDSA_PK_LEN, &p->pk);
    nn_wire_get_view(&r, NN_MLDSA_SIG_LEN, &p->sig);
  }
  nn_wire_get_var(&r, 2, NN_HS_MAX_PAD, &pad, &padlen);
  p->signed_len = p->pk ? ID_PART : PARAMS_LEN;
  return nn_wire_finish(&r) || (p->flags & ~known_flags) || !rekey_ok(p->rekey_interval) ||
         p->max_message < NN_CHAN_MIN_MAX_MESSAGE;
}

/* Open a received payload under a handshake key (its IV is the nonce: each key seals once) with
 * the transcript hash as associated data, then parse it. The caller frees p->buf. */
static nn_close_reason_t
open_payload(hs_payload_t *p, const nn_aead_key_t *k, const nn_aead_nonce_t *iv, const nn_hash_t *aad,
             const uint8_t *sealed, size_t sealed_len, int always_id, uint8_t known_flags)
{
  nn_aead_t aead = { 0 };
  nn_close_reason_t why = NN_CLOSE_INTERNAL;

  p->len = sealed_len - NN_AEAD_TAG_LEN;
  if (!(p->buf = malloc(p->len)) || nn_aead_init(&aead, k))
    goto out;
  /* Wrong network, a MITM's keys or tampering all end here: the keys do not match. */
  why = NN_CLOSE_AUTH;
  if (nn_aead_open(&aead, iv, aad->b, NN_HASH_LEN, sealed, sealed_len, p->buf))
    goto out;
  why = parse_payload(p, always_id, known_flags) ? NN_CLOSE_PROTOCOL : NN_CLOSE_NONE;
out:
  nn_aead_free(&aead);
  return why;
}

/* Absorb the peer's payload as write_payload did, checking its signature (if any) over TH_R or
 * TH_I under \a sign_ctx on the way; \a *th_after is TH2 or TH3. */
static nn_close_reason_t
absorb_peer_payload(nn_hs_t *hs, const hs_payload_t *p, const char *sign_ctx, nn_hash_t *th_after)
{
  nn_hash_t th;

  if (nn_sha3_update(&hs->th, p->buf, p->signed_len) || nn_sha3_peek(&hs->th, &th))
    return NN_CLOSE_INTERNAL;
  if (p->pk && nn_mldsa_verify((const nn_mldsa_pk_t *)p->pk, (const uint8_t *)sign_ctx, strlen(sign_ctx), th.b,
                               NN_HASH_LEN, (const nn_mldsa_sig_t *)p->sig))
    return NN_CLOSE_AUTH;
  if (nn_sha3_update(&hs->th, p->buf + p->signed_len, p->len - p->signed_len) || nn_sha3_peek(&hs->th, th_after))
    return NN_CLOSE_INTERNAL;
  return NN_CLOSE_NONE;
}

/* ---- frames ---- */

static void
put_frame_hdr(uint8_t *frame, size_t body_len, uint8_t type)
{
  nn_be16_put(frame, (uint16_t)body_len);
  frame[2] = type;
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

/* Seal \a payload at frame + off, with the transcript hash as associated data, and queue the
 * frame, which ends with the tag. */
static nn_err_t
seal_frame(nn_chan_t *c, uint8_t *frame, size_t off, const nn_aead_key_t *k, const nn_aead_nonce_t *iv,
           const nn_hash_t *aad, const uint8_t *payload, size_t plen)
{
  nn_aead_t aead = { 0 };
  nn_err_t err;

  if (!(err = nn_aead_init(&aead, k)) &&
      !(err = nn_aead_seal(&aead, iv, aad->b, NN_HASH_LEN, payload, plen, frame + off)))
    err = queue_frame(c, frame, off + plen + NN_AEAD_TAG_LEN);
  nn_aead_free(&aead);
  return err;
}

/* ---- initiator: msg1 ---- */

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
consume_msg1(const uint8_t *body, size_t len, const uint8_t **keys, const uint8_t **cookie)
{
  nn_wire_reader_t r;
  uint8_t type, version;
  const uint8_t *pad;
  size_t padlen;

  nn_wire_reader_init(&r, body, len);
  nn_wire_get_u8(&r, &type);
  nn_wire_get_u8(&r, &version);
  if (!r.err && version != NN_HS_VERSION)
    return NN_CLOSE_VERSION;
  nn_wire_get_view(&r, KEYS_LEN, keys);
  nn_wire_get_view(&r, NN_COOKIE_LEN, cookie);
  nn_wire_get_var(&r, 2, NN_HS_MAX_PAD, &pad, &padlen);
  return nn_wire_finish(&r) ? NN_CLOSE_PROTOCOL : NN_CLOSE_NONE;
}

static int
cookie_missing(const nn_chan_t *c, const uint8_t *keys, const uint8_t *cookie)
{
  return c->cfg.require_cookie && c->cfg.cookies &&
         nn_cookie_check(c->cfg.cookies, c->cfg.network, c->cfg.peer_addr, c->cfg.peer_addr_len, keys, KEYS_LEN,
                         cookie) != NN_OK;
}

/* Under load: a cookie and nothing else. We stay in WAIT_MSG1 with no KEM done, no signature
 * made and nothing stored; the one retry must carry the cookie. */
static nn_close_reason_t
send_cookie(nn_chan_t *c, const uint8_t *keys)
{
  uint8_t reply[NN_HS_FRAME_HDR + 1 + NN_COOKIE_LEN];

  if (c->hs->cookie_sent)
    return NN_CLOSE_COOKIE;
  put_frame_hdr(reply, 1 + NN_COOKIE_LEN, NN_HS_COOKIE);
  if (nn_cookie_make(c->cfg.cookies, 0, c->cfg.network, c->cfg.peer_addr, c->cfg.peer_addr_len, keys, KEYS_LEN,
                     reply + 3) ||
      queue_frame(c, reply, sizeof(reply)))
    return NN_CLOSE_INTERNAL;
  c->hs->cookie_sent = 1;
  return NN_CLOSE_NONE;
}

/* The msg1 frame exactly as accepted: the transcript starts with it. */
static nn_err_t
keep_msg1(nn_hs_t *hs, const uint8_t *body, size_t len)
{
  if (!(hs->msg1 = malloc(NN_HS_FRAME_HDR + len)))
    return NN_ERR_NOMEM;
  nn_be16_put(hs->msg1, (uint16_t)len);
  memcpy(hs->msg1 + NN_HS_FRAME_HDR, body, len);
  hs->msg1_len = NN_HS_FRAME_HDR + len;
  return NN_OK;
}

/* msg2: encapsulate to the initiator's ephemeral keys, derive the handshake keys (TH1), then P2
 * signed over TH_R and sealed under k_r2i. */
static nn_close_reason_t
build_msg2(nn_chan_t *c, const uint8_t *keys)
{
  const size_t plen = PAYLOAD_ID_LEN;
  const size_t blen = 1 + NN_X25519_LEN + NN_MLKEM_CT_LEN + plen + NN_AEAD_TAG_LEN;
  nn_hs_t *hs = c->hs;
  nn_hybrid_pk_t pk;
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  nn_hash_t th1;
  uint8_t *frame = NULL, *payload = NULL;
  nn_close_reason_t why = NN_CLOSE_PROTOCOL;

  memcpy(pk.x.b, keys, NN_X25519_LEN);
  memcpy(pk.m.b, keys + NN_X25519_LEN, NN_MLKEM_PK_LEN);
  /* A peer key that fails the ML-KEM modulus check or X25519's low-order check is the peer's fault. */
  if (nn_hybrid_encaps(&ct, &ss, &pk, c->cfg.rng))
    goto out;
  why = NN_CLOSE_INTERNAL;
  if (!(payload = malloc(plen)) || !(frame = malloc(NN_HS_FRAME_HDR + blen)) || mix_kem(c, blen, &ct, &ss, &th1) ||
      write_payload(c, payload, plen, 0, c->cfg.require_peer_identity ? FLAG_REQUIRE_ID : 0, CTX_RESPONDER, &hs->th2))
    goto out;
  put_frame_hdr(frame, blen, NN_HS_MSG2);
  memcpy(frame + 3, ct.x.b, NN_X25519_LEN);
  memcpy(frame + 3 + NN_X25519_LEN, ct.m.b, NN_MLKEM_CT_LEN);
  if (seal_frame(c, frame, 3 + NN_X25519_LEN + NN_MLKEM_CT_LEN, &hs->k_r2i, &hs->iv_r2i, &th1, payload, plen))
    goto out;
  c->st = NN_ST_R_WAIT_MSG3;
  why = NN_CLOSE_NONE;
out:
  OPENSSL_cleanse(&ss, sizeof(ss));
  free(payload);
  free(frame);
  return why;
}

static nn_close_reason_t
on_msg1(nn_chan_t *c, const uint8_t *body, size_t len)
{
  const uint8_t *keys, *cookie;
  nn_close_reason_t why = consume_msg1(body, len, &keys, &cookie);

  if (why != NN_CLOSE_NONE)
    return why;
  if (cookie_missing(c, keys, cookie))
    return send_cookie(c, keys);
  if (keep_msg1(c->hs, body, len))
    return NN_CLOSE_INTERNAL;
  return build_msg2(c, keys);
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

/* msg2: decapsulate, derive the handshake keys (TH1) and open P2 with them. */
static nn_close_reason_t
consume_msg2(nn_chan_t *c, const uint8_t *body, size_t len, hs_payload_t *p2)
{
  nn_hs_t *hs = c->hs;
  nn_wire_reader_t r;
  uint8_t type;
  const uint8_t *sealed;
  size_t sealed_len;
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  nn_hash_t th1;
  nn_close_reason_t why = NN_CLOSE_PROTOCOL;

  nn_wire_reader_init(&r, body, len);
  nn_wire_get_u8(&r, &type);
  nn_wire_get_bytes(&r, ct.x.b, NN_X25519_LEN);
  nn_wire_get_bytes(&r, ct.m.b, NN_MLKEM_CT_LEN);
  sealed_len = nn_wire_remaining(&r);
  nn_wire_get_view(&r, sealed_len, &sealed);
  if (nn_wire_finish(&r) || sealed_len < PAYLOAD_ID_LEN + NN_AEAD_TAG_LEN ||
      sealed_len > PAYLOAD_ID_LEN + NN_HS_MAX_PAD + NN_AEAD_TAG_LEN)
    return NN_CLOSE_PROTOCOL;
  if (nn_hybrid_decaps(&ss, &hs->eph, &ct))
    goto out; /* low-order X25519 key from the peer */
  why = NN_CLOSE_INTERNAL;
  if (mix_kem(c, len, &ct, &ss, &th1))
    goto out;
  why = open_payload(p2, &hs->k_r2i, &hs->iv_r2i, &th1, sealed, sealed_len, 1, FLAG_REQUIRE_ID);
out:
  OPENSSL_cleanse(&ss, sizeof(ss));
  return why;
}

/* The responder is the node we expect (WRONG_ID) and signed TH_R (AUTH); it may require that we
 * identify ourselves. \a *th2 is the transcript through P2. */
static nn_close_reason_t
check_responder(nn_chan_t *c, const hs_payload_t *p2, nn_hash_t *th2)
{
  nn_node_id_t id;
  nn_close_reason_t why;

  if (nn_node_id_from_public_key(&id, (const nn_mldsa_pk_t *)p2->pk))
    return NN_CLOSE_INTERNAL;
  if (c->cfg.expected_peer && CRYPTO_memcmp(id.b, c->cfg.expected_peer->b, NN_NODE_ID_LEN) != 0)
    return NN_CLOSE_WRONG_ID;
  if ((why = absorb_peer_payload(c->hs, p2, CTX_RESPONDER, th2)) != NN_CLOSE_NONE)
    return why;
  if ((p2->flags & FLAG_REQUIRE_ID) && !c->cfg.identity)
    return NN_CLOSE_ID_REQUIRED;
  c->info.peer_id = id;
  c->info.peer_identified = 1;
  c->info.peer_max_message = p2->max_message;
  return NN_CLOSE_NONE;
}

/* msg3: P3 (our params, and our identity signed over TH_I unless we are anonymous) sealed under
 * k_i2r with TH2; then the traffic keys from TH3. */
static nn_close_reason_t
build_msg3(nn_chan_t *c, const nn_hash_t *th2, uint32_t peer_rekey)
{
  nn_hs_t *hs = c->hs;
  int ident = c->cfg.identity != NULL;
  /* An anonymous initiator pads its payload to an identified one's size: on the wire, a wallet's
   * msg3 looks like a node's. */
  size_t plen = PAYLOAD_ID_LEN, pad = ident ? 0 : PAYLOAD_ID_LEN - PAYLOAD_ANON_LEN;
  size_t blen = 1 + plen + NN_AEAD_TAG_LEN;
  uint8_t *frame = NULL, *payload = NULL;
  nn_hash_t th3;
  nn_close_reason_t why = NN_CLOSE_INTERNAL;

  if (!(payload = malloc(plen)) || !(frame = malloc(NN_HS_FRAME_HDR + blen)) ||
      th_absorb_frame_hdr(hs, blen, NN_HS_MSG3) ||
      write_payload(c, payload, plen, pad, ident ? FLAG_IDENTIFIED : 0, ident ? CTX_INITIATOR : NULL, &th3))
    goto out;
  put_frame_hdr(frame, blen, NN_HS_MSG3);
  if (seal_frame(c, frame, 3, &hs->k_i2r, &hs->iv_i2r, th2, payload, plen) || derive_app_keys(c, &th3, peer_rekey))
    goto out;
  why = NN_CLOSE_NONE;
out:
  free(payload);
  free(frame);
  return why;
}

static nn_close_reason_t
on_msg2(nn_chan_t *c, const uint8_t *body, size_t len)
{
  hs_payload_t p2 = { 0 };
  nn_hash_t th2;
  nn_close_reason_t why = consume_msg2(c, body, len, &p2);

  if (why == NN_CLOSE_NONE)
    why = check_responder(c, &p2, &th2);
  if (why == NN_CLOSE_NONE)
    why = build_msg3(c, &th2, p2.rekey_interval);
  free(p2.buf);
  if (why == NN_CLOSE_NONE)
    nn_chan_established(c);
  return why;
}

/* ---- responder: msg3 ---- */

/* msg3: open P3 under k_i2r with TH2, check the initiator's signature over TH_I if it identified
 * itself (or close if we require that), then the traffic keys from TH3. */
static nn_close_reason_t
consume_msg3(nn_chan_t *c, const uint8_t *body, size_t len, hs_payload_t *p3)
{
  nn_hs_t *hs = c->hs;
  nn_hash_t th3;
  nn_close_reason_t why;

  if (len < 1 + PAYLOAD_ANON_LEN + NN_AEAD_TAG_LEN)
    return NN_CLOSE_PROTOCOL;
  if (th_absorb_frame_hdr(hs, len, NN_HS_MSG3))
    return NN_CLOSE_INTERNAL;
  if ((why = open_payload(p3, &hs->k_i2r, &hs->iv_i2r, &hs->th2, body + 1, len - 1, 0, FLAG_IDENTIFIED)) !=
        NN_CLOSE_NONE ||
      (why = absorb_peer_payload(hs, p3, CTX_INITIATOR, &th3)) != NN_CLOSE_NONE)
    return why;
  if (p3->pk) {
    if (nn_node_id_from_public_key(&c->info.peer_id, (const nn_mldsa_pk_t *)p3->pk))
      return NN_CLOSE_INTERNAL;
    c->info.peer_identified = 1;
  } else if (c->cfg.require_peer_identity) {
    return NN_CLOSE_ID_REQUIRED;
  }
  if (derive_app_keys(c, &th3, p3->rekey_interval))
    return NN_CLOSE_INTERNAL;
  c->info.peer_max_message = p3->max_message;
  return NN_CLOSE_NONE;
}

static nn_close_reason_t
on_msg3(nn_chan_t *c, const uint8_t *body, size_t len)
{
  hs_payload_t p3 = { 0 };
  nn_close_reason_t why = consume_msg3(c, body, len, &p3);

  free(p3.buf);
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
