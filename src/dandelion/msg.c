/* The transaction-gossip messages (msg.h; docs/PROTOCOL.md section 8). */
#include "dandelion/msg.h"

#include <string.h>

#include "lib/wire.h"

static nn_err_t
parse_ids(nn_wire_reader_t *r, nn_dlmsg_t *m)
{
  uint16_t n = 0;
  nn_err_t e = nn_wire_get_u16(r, &n);
  if (e)
    return e;
  if (n == 0 || n > NN_DLMSG_MAX_IDS)
    return NN_ERR_FORMAT;
  m->count = n;
  return nn_wire_get_view(r, (size_t)n * NN_HASH_LEN, &m->ids);
}

nn_err_t
nn_dlmsg_parse(nn_dlmsg_t *m, const uint8_t *msg, size_t len, size_t max_tx)
{
  nn_wire_reader_t r;
  nn_err_t e;
  memset(m, 0, sizeof(*m));
  nn_wire_reader_init(&r, msg, len);
  if ((e = nn_wire_get_u8(&r, &m->kind)))
    return e;
  switch (m->kind) {
  case NN_DLMSG_HELLO:
    if ((e = nn_wire_get_u8(&r, &m->version)) || (e = nn_wire_get_u8(&r, &m->flags)) ||
        (e = nn_wire_get_u32(&r, &m->max_tx)))
      return e;
    if (m->version != NN_DLMSG_VERSION)
      return NN_ERR_VERSION;
    if (m->flags & ~NN_DLMSG_HELLO_KNOWN)
      return NN_ERR_FORMAT;
    break;
  case NN_DLMSG_STEM:
  case NN_DLMSG_TX:
    m->tx_len = nn_wire_remaining(&r);
    if (m->tx_len == 0)
      return NN_ERR_TRUNCATED;
    if (m->tx_len > max_tx)
      return NN_ERR_TOO_LONG;
    if ((e = nn_wire_get_view(&r, m->tx_len, &m->tx)))
      return e;
    break;
  case NN_DLMSG_INV:
  case NN_DLMSG_GETDATA:
    if ((e = parse_ids(&r, m)))
      return e;
    break;
  default: return NN_ERR_FORMAT;
  }
  return nn_wire_finish(&r);
}

void
nn_dlmsg_id(const nn_dlmsg_t *m, size_t i, nn_hash_t *id)
{
  memcpy(id->b, m->ids + i * NN_HASH_LEN, NN_HASH_LEN);
}

void
nn_dlmsg_hello(uint8_t out[NN_DLMSG_HELLO_LEN], uint8_t flags, uint32_t max_tx)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, out, NN_DLMSG_HELLO_LEN);
  (void)nn_wire_put_u8(&w, NN_DLMSG_HELLO);
  (void)nn_wire_put_u8(&w, NN_DLMSG_VERSION);
  (void)nn_wire_put_u8(&w, flags);
  (void)nn_wire_put_u32(&w, max_tx);
}

nn_err_t
nn_dlmsg_ids(uint8_t *out, size_t cap, size_t *len, uint8_t kind, const nn_hash_t *ids, size_t count)
{
  nn_wire_writer_t w;
  nn_err_t e;
  if ((kind != NN_DLMSG_INV && kind != NN_DLMSG_GETDATA) || count == 0 || count > NN_DLMSG_MAX_IDS)
    return NN_ERR_ARG;
  nn_wire_writer_init_fixed(&w, out, cap);
  (void)nn_wire_put_u8(&w, kind);
  (void)nn_wire_put_u16(&w, (uint16_t)count);
  for (size_t i = 0; i < count; i++)
    (void)nn_wire_put_bytes(&w, ids[i].b, NN_HASH_LEN);
  if ((e = w.err))
    return e;
  *len = w.len;
  return NN_OK;
}
