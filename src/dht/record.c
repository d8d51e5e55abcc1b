/* Signed peer records (docs/PROTOCOL.md 6.2): encode, decode, sign, verify, replace. */
#include "dht/record.h"

#include <string.h>

#include <openssl/crypto.h>

#include "nepnet/channel.h"
#include "crypto/identity.h"
#include "crypto/mldsa.h"
#include "crypto/sha3.h"

/* Everything before the signature, at its longest. */
#define BODY_MAX (NN_PEER_RECORD_OFF_ADDRS + NN_PEER_RECORD_MAX_ADDRS * NN_ADDR_WIRE_MAX)

const char *
nn_peer_record_status_str(nn_peer_record_status_t s)
{
  switch (s) {
  case NN_PEER_RECORD_OK: return "valid";
  case NN_PEER_RECORD_MALFORMED: return "malformed record";
  case NN_PEER_RECORD_WRONG_NETWORK: return "record is for another network";
  case NN_PEER_RECORD_EXPIRED: return "record expired";
  case NN_PEER_RECORD_FUTURE: return "record issued in the future";
  case NN_PEER_RECORD_FORGED: return "forged record (node id or signature)";
  case NN_PEER_RECORD_INTERNAL: return "internal error";
  }
  return "unknown status";
}

void
nn_peer_record_init(nn_peer_record_t *rec)
{
  memset(rec, 0, sizeof(*rec));
  rec->version = NN_PEER_RECORD_VERSION;
  rec->chan_version = NN_PEER_RECORD_CHAN_VERSION;
  rec->max_message = NN_CHAN_DEFAULT_MAX_MESSAGE;
}

static nn_err_t
check_addr(const nn_addr_t *a)
{
  size_t n = nn_addr_host_len(a->type);
  /* a relay address has port 0 (it names a node, not a socket); every other type a real port */
  if (!n || (a->type == NN_ADDR_RELAY) != (a->port == 0))
    return NN_ERR_FORMAT;
  for (size_t i = n; i < NN_ADDR_HOST_MAX; i++)
    if (a->host[i]) /* decode leaves these zero; a hand-built record must too */
      return NN_ERR_FORMAT;
  return NN_OK;
}

nn_err_t
nn_peer_record_check(const nn_peer_record_t *rec)
{
  if (!rec)
    return NN_ERR_ARG;
  if (rec->version != NN_PEER_RECORD_VERSION || rec->chan_version != NN_PEER_RECORD_CHAN_VERSION)
    return NN_ERR_VERSION;
  if (rec->n_addrs < 1 || rec->n_addrs > NN_PEER_RECORD_MAX_ADDRS)
    return NN_ERR_FORMAT;
  if (rec->flags & ~NN_PEER_RECORD_F_KNOWN)
    return NN_ERR_FORMAT;
  if (rec->expires_at <= rec->issued_at || rec->expires_at - rec->issued_at > NN_PEER_RECORD_MAX_LIFETIME)
    return NN_ERR_FORMAT;
  if (rec->max_message < NN_PEER_RECORD_MIN_MAX_MESSAGE)
    return NN_ERR_FORMAT;
  for (size_t i = 0; i < rec->n_addrs; i++) {
    if (check_addr(&rec->addrs[i]))
      return NN_ERR_FORMAT;
    for (size_t j = 0; j < i; j++)
      if (nn_addr_equal(&rec->addrs[i], &rec->addrs[j]))
        return NN_ERR_FORMAT;
  }
  return NN_OK;
}

size_t
nn_peer_record_max_len(void)
{
  return NN_PEER_RECORD_MAX_LEN;
}

static size_t
body_len(const nn_peer_record_t *rec)
{
  size_t n = NN_PEER_RECORD_OFF_ADDRS;
  if (rec->n_addrs > NN_PEER_RECORD_MAX_ADDRS)
    return 0;
  for (size_t i = 0; i < rec->n_addrs; i++) {
    size_t h = nn_addr_host_len(rec->addrs[i].type);
    if (!h)
      return 0;
    n += 1 + h + 2;
  }
  return n;
}

size_t
nn_peer_record_encoded_len(const nn_peer_record_t *rec)
{
  size_t n = rec ? body_len(rec) : 0;
  return n ? n + NN_MLDSA_SIG_LEN : 0;
}

/* Everything the signature covers. The caller has checked the record. */
static nn_err_t
put_body(nn_wire_writer_t *w, const nn_peer_record_t *rec)
{
  nn_wire_put_u8(w, rec->version);
  nn_wire_put_u32(w, rec->network);
  nn_wire_put_bytes(w, rec->node_id.b, NN_NODE_ID_LEN);
  nn_wire_put_bytes(w, rec->pk.b, NN_MLDSA_PK_LEN);
  nn_wire_put_u64(w, rec->seq);
  nn_wire_put_u64(w, rec->issued_at);
  nn_wire_put_u64(w, rec->expires_at);
  nn_wire_put_u16(w, rec->flags);
  nn_wire_put_u8(w, rec->chan_version);
  nn_wire_put_u32(w, rec->max_message);
  nn_wire_put_u8(w, rec->n_addrs);
  for (size_t i = 0; i < rec->n_addrs; i++)
    nn_addr_put(w, &rec->addrs[i]);
  return w->err;
}

/* The signed bytes into a stack buffer of BODY_MAX bytes. */
static nn_err_t
body_bytes(const nn_peer_record_t *rec, uint8_t body[BODY_MAX], size_t *len)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, body, BODY_MAX);
  nn_err_t err = put_body(&w, rec);
  *len = err ? 0 : w.len;
  return err;
}

nn_err_t
nn_peer_record_encode(const nn_peer_record_t *rec, nn_wire_writer_t *w)
{
  nn_err_t err;
  if (!w)
    return NN_ERR_ARG;
  if ((err = nn_peer_record_check(rec)) != NN_OK)
    return err;
  if (w->err)
    return w->err;
  /* All or nothing: a writer that cannot take the whole record gets no part of it. */
  if (w->max - w->len < nn_peer_record_encoded_len(rec)) {
    w->err = NN_ERR_NOSPACE;
    return w->err;
  }
  put_body(w, rec);
  return nn_wire_put_bytes(w, rec->sig.b, NN_MLDSA_SIG_LEN);
}

nn_err_t
nn_peer_record_decode(const uint8_t *buf, size_t len, nn_peer_record_t *rec)
{
  nn_wire_reader_t r;
  nn_err_t err;

  if (!rec)
    return NN_ERR_ARG;
  memset(rec, 0, sizeof(*rec));
  nn_wire_reader_init(&r, buf, len);
  /* The version first: a later version may be laid out differently, so nothing else is judged. */
  nn_wire_get_u8(&r, &rec->version);
  if (r.err)
    return r.err;
  if (rec->version != NN_PEER_RECORD_VERSION) {
    err = NN_ERR_VERSION;
    goto fail;
  }
  nn_wire_get_u32(&r, &rec->network);
  nn_wire_get_bytes(&r, rec->node_id.b, NN_NODE_ID_LEN);
  nn_wire_get_bytes(&r, rec->pk.b, NN_MLDSA_PK_LEN);
  nn_wire_get_u64(&r, &rec->seq);
  nn_wire_get_u64(&r, &rec->issued_at);
  nn_wire_get_u64(&r, &rec->expires_at);
  nn_wire_get_u16(&r, &rec->flags);
  nn_wire_get_u8(&r, &rec->chan_version);
  nn_wire_get_u32(&r, &rec->max_message);
  nn_wire_get_u8(&r, &rec->n_addrs);
  if (r.err) {
    err = r.err;
    goto fail;
  }
  /* The count is capped before a single address is read. */
  if (rec->n_addrs < 1 || rec->n_addrs > NN_PEER_RECORD_MAX_ADDRS) {
    err = NN_ERR_FORMAT;
    goto fail;
  }
  for (size_t i = 0; i < rec->n_addrs; i++)
    nn_addr_get(&r, &rec->addrs[i]); /* an unknown type is a sticky NN_ERR_FORMAT */
  nn_wire_get_bytes(&r, rec->sig.b, NN_MLDSA_SIG_LEN);
  if ((err = nn_wire_finish(&r)) != NN_OK)
    goto fail;
  if ((err = nn_peer_record_check(rec)) != NN_OK)
    goto fail;
  return NN_OK;
fail:
  memset(rec, 0, sizeof(*rec));
  return err;
}

nn_err_t
nn_peer_record_sign(nn_peer_record_t *rec, const nn_identity_t *identity, const nn_rng_t *rng)
{
  uint8_t body[BODY_MAX];
  size_t len;
  nn_err_t err;

  if (!rec || !identity)
    return NN_ERR_ARG;
  memset(rec->sig.b, 0, NN_MLDSA_SIG_LEN);
  rec->pk = *nn_identity_public_key(identity);
  rec->node_id = *nn_identity_node_id(identity);
  if ((err = nn_peer_record_check(rec)) != NN_OK)
    return err;
  if ((err = body_bytes(rec, body, &len)) != NN_OK)
    return err;
  err = nn_mldsa_sign(&rec->sig, nn_identity_key(identity), (const uint8_t *)NN_PEER_RECORD_CONTEXT,
                      strlen(NN_PEER_RECORD_CONTEXT), body, len, rng);
  if (err)
    memset(rec->sig.b, 0, NN_MLDSA_SIG_LEN);
  return err;
}

static nn_err_t
verdict(nn_peer_record_status_t *why, nn_peer_record_status_t s)
{
  if (why)
    *why = s;
  switch (s) {
  case NN_PEER_RECORD_OK: return NN_OK;
  case NN_PEER_RECORD_MALFORMED: return NN_ERR_FORMAT;
  case NN_PEER_RECORD_INTERNAL: return NN_ERR_CRYPTO;
  default: return NN_ERR_VERIFY;
  }
}

nn_err_t
nn_peer_record_verify(const nn_peer_record_t *rec, uint32_t network, uint64_t now_unix, nn_peer_record_status_t *why)
{
  uint8_t body[BODY_MAX];
  size_t len;
  nn_node_id_t id;

  if (nn_peer_record_check(rec))
    return verdict(why, NN_PEER_RECORD_MALFORMED);
  if (rec->network != network)
    return verdict(why, NN_PEER_RECORD_WRONG_NETWORK);
  if (now_unix >= rec->expires_at)
    return verdict(why, NN_PEER_RECORD_EXPIRED);
  if (rec->issued_at > now_unix && rec->issued_at - now_unix > NN_PEER_RECORD_MAX_SKEW)
    return verdict(why, NN_PEER_RECORD_FUTURE);
  if (nn_node_id_from_public_key(&id, &rec->pk))
    return verdict(why, NN_PEER_RECORD_INTERNAL);
  if (CRYPTO_memcmp(id.b, rec->node_id.b, NN_NODE_ID_LEN) != 0)
    return verdict(why, NN_PEER_RECORD_FORGED);
  if (body_bytes(rec, body, &len))
    return verdict(why, NN_PEER_RECORD_MALFORMED); /* unreachable after the check above */
  if (nn_mldsa_verify(&rec->pk, (const uint8_t *)NN_PEER_RECORD_CONTEXT, strlen(NN_PEER_RECORD_CONTEXT), body, len,
                      &rec->sig))
    return verdict(why, NN_PEER_RECORD_FORGED);
  return verdict(why, NN_PEER_RECORD_OK);
}

static int
cmp_u64(uint64_t a, uint64_t b)
{
  return (a > b) - (a < b);
}

int
nn_peer_record_newer(const nn_peer_record_t *a, const nn_peer_record_t *b)
{
  uint8_t ba[BODY_MAX], bb[BODY_MAX];
  size_t la, lb;
  int c;

  if (!a || !b || memcmp(a->node_id.b, b->node_id.b, NN_NODE_ID_LEN) != 0)
    return 0;
  if ((c = cmp_u64(a->seq, b->seq)) != 0)
    return c > 0;
  if ((c = cmp_u64(a->expires_at, b->expires_at)) != 0)
    return c > 0;
  if ((c = memcmp(a->sig.b, b->sig.b, NN_MLDSA_SIG_LEN)) != 0)
    return c > 0;
  /* Same signature over different bytes: only a forgery could do that, but keep the order total. */
  if (nn_peer_record_check(a) || nn_peer_record_check(b) || body_bytes(a, ba, &la) || body_bytes(b, bb, &lb))
    return 0;
  c = memcmp(ba, bb, la < lb ? la : lb);
  if (c == 0)
    c = (la > lb) - (la < lb);
  return c > 0;
}
