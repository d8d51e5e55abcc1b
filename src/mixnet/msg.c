#include "mixnet/msg.h"

#include <string.h>

#include "lib/wire.h"
#include "mixnet/dir.h"

static void
get_pk(nn_wire_reader_t *r, nn_hybrid_pk_t *pk)
{
  (void)nn_wire_get_bytes(r, pk->x.b, NN_X25519_LEN);
  (void)nn_wire_get_bytes(r, pk->m.b, NN_MLKEM_PK_LEN);
}

static void
put_pk(nn_wire_writer_t *w, const nn_hybrid_pk_t *pk)
{
  (void)nn_wire_put_bytes(w, pk->x.b, NN_X25519_LEN);
  (void)nn_wire_put_bytes(w, pk->m.b, NN_MLKEM_PK_LEN);
}

nn_err_t
nn_mxmsg_parse(nn_mxmsg_t *m, const uint8_t *msg, size_t len, size_t packet_len)
{
  nn_wire_reader_t r;
  nn_err_t err;

  memset(m, 0, sizeof(*m));
  nn_wire_reader_init(&r, msg, len);
  if ((err = nn_wire_get_u8(&r, &m->kind)))
    return err;
  switch (m->kind) {
  case NN_MXMSG_HELLO:
    (void)nn_wire_get_u8(&r, &m->version);
    (void)nn_wire_get_u8(&r, &m->flags);
    (void)nn_wire_get_u8(&r, &m->hops);
    (void)nn_wire_get_u32(&r, &m->packet_len);
    (void)nn_wire_get_u32(&r, &m->epoch_s);
    if ((err = nn_wire_finish(&r)))
      return err;
    if (m->version != NN_MXMSG_VERSION)
      return NN_ERR_VERSION;
    if (m->flags & ~NN_MXMSG_HELLO_KNOWN || !m->hops || !m->packet_len || !m->epoch_s)
      return NN_ERR_FORMAT;
    return NN_OK;
  case NN_MXMSG_PACKET:
  case NN_MXMSG_DESC:
    m->data_len = nn_wire_remaining(&r);
    if (m->kind == NN_MXMSG_PACKET && m->data_len != packet_len)
      return NN_ERR_FORMAT;
    if (m->kind == NN_MXMSG_DESC && m->data_len > NN_MIXDESC_MAX_LEN)
      return NN_ERR_TOO_LONG;
    if (!m->data_len)
      return NN_ERR_TRUNCATED;
    return nn_wire_get_view(&r, m->data_len, &m->data);
  case NN_MXMSG_RKEY:
    (void)nn_wire_get_u32(&r, &m->epoch);
    get_pk(&r, &m->keys[0]);
    get_pk(&r, &m->keys[1]);
    return nn_wire_finish(&r);
  case NN_MXMSG_DIGEST:
    (void)nn_wire_get_u32(&r, &m->epoch);
    (void)nn_wire_get_u16(&r, &m->count);
    (void)nn_wire_get_bytes(&r, m->digest.b, NN_HASH_LEN);
    return nn_wire_finish(&r);
  case NN_MXMSG_INV:
  case NN_MXMSG_GETDESC:
    (void)nn_wire_get_u32(&r, &m->epoch);
    (void)nn_wire_get_u16(&r, &m->count);
    if (r.err)
      return r.err;
    if (!m->count || m->count > NN_MXMSG_MAX_HASHES)
      return NN_ERR_FORMAT;
    m->data_len = (size_t)m->count * NN_HASH_LEN;
    if ((err = nn_wire_get_view(&r, m->data_len, &m->data)))
      return err;
    return nn_wire_finish(&r);
  default: return NN_ERR_FORMAT;
  }
}

void
nn_mxmsg_hash(const nn_mxmsg_t *m, size_t i, nn_hash_t *h)
{
  memset(h, 0, sizeof(*h));
  if (i < m->count && m->data)
    memcpy(h->b, m->data + i * NN_HASH_LEN, NN_HASH_LEN);
}

void
nn_mxmsg_hello(uint8_t out[NN_MXMSG_HELLO_LEN], uint8_t flags, uint8_t hops, uint32_t packet_len, uint32_t epoch_s)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, out, NN_MXMSG_HELLO_LEN);
  (void)nn_wire_put_u8(&w, NN_MXMSG_HELLO);
  (void)nn_wire_put_u8(&w, NN_MXMSG_VERSION);
  (void)nn_wire_put_u8(&w, flags);
  (void)nn_wire_put_u8(&w, hops);
  (void)nn_wire_put_u32(&w, packet_len);
  (void)nn_wire_put_u32(&w, epoch_s);
}

void
nn_mxmsg_rkey(uint8_t out[NN_MXMSG_RKEY_LEN], uint32_t epoch, const nn_hybrid_pk_t *key_e,
              const nn_hybrid_pk_t *key_next)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, out, NN_MXMSG_RKEY_LEN);
  (void)nn_wire_put_u8(&w, NN_MXMSG_RKEY);
  (void)nn_wire_put_u32(&w, epoch);
  put_pk(&w, key_e);
  put_pk(&w, key_next);
}

void
nn_mxmsg_digest(uint8_t out[NN_MXMSG_DIGEST_LEN], uint32_t epoch, uint16_t count, const nn_hash_t *digest)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, out, NN_MXMSG_DIGEST_LEN);
  (void)nn_wire_put_u8(&w, NN_MXMSG_DIGEST);
  (void)nn_wire_put_u32(&w, epoch);
  (void)nn_wire_put_u16(&w, count);
  (void)nn_wire_put_bytes(&w, digest->b, NN_HASH_LEN);
}

nn_err_t
nn_mxmsg_hashes(uint8_t *out, size_t cap, size_t *len, uint8_t kind, uint32_t epoch, const nn_hash_t *h, size_t count)
{
  nn_wire_writer_t w;

  *len = 0;
  if ((kind != NN_MXMSG_INV && kind != NN_MXMSG_GETDESC) || !count || count > NN_MXMSG_MAX_HASHES)
    return NN_ERR_ARG;
  nn_wire_writer_init_fixed(&w, out, cap);
  (void)nn_wire_put_u8(&w, kind);
  (void)nn_wire_put_u32(&w, epoch);
  (void)nn_wire_put_u16(&w, (uint16_t)count);
  for (size_t i = 0; i < count; i++)
    (void)nn_wire_put_bytes(&w, h[i].b, NN_HASH_LEN);
  if (w.err)
    return w.err;
  *len = w.len;
  return NN_OK;
}

nn_err_t
nn_mxmsg_wrap(uint8_t *out, size_t cap, size_t *olen, uint8_t kind, const uint8_t *data, size_t len)
{
  *olen = 0;
  if ((kind != NN_MXMSG_PACKET && kind != NN_MXMSG_DESC) || !len)
    return NN_ERR_ARG;
  if (cap < 1 + len)
    return NN_ERR_NOSPACE;
  out[0] = kind;
  memcpy(out + 1, data, len);
  *olen = 1 + len;
  return NN_OK;
}
