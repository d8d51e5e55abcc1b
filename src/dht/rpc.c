#include "dht/rpc.h"

#include <string.h>

int
nn_rpc_is_request(uint8_t kind)
{
  return kind == NN_RPC_PING || kind == NN_RPC_FIND_NODE || kind == NN_RPC_FIND_VALUE || kind == NN_RPC_STORE ||
         kind == NN_RPC_FIND_VALUE_RELAY;
}

static void
put_nodes(nn_wire_writer_t *w, const nn_rpc_t *m)
{
  size_t n = m->nnodes > NN_RPC_MAX_NODES ? NN_RPC_MAX_NODES : m->nnodes;
  nn_wire_put_u8(w, (uint8_t)n);
  for (size_t i = 0; i < n; i++) {
    nn_wire_put_bytes(w, m->nodes[i].id.b, NN_NODE_ID_LEN);
    nn_addr_put(w, &m->nodes[i].addr);
  }
}

static void
get_nodes(nn_wire_reader_t *r, nn_rpc_t *m)
{
  uint8_t n = 0;
  nn_wire_get_u8(r, &n);
  if (!r->err && n > NN_RPC_MAX_NODES)
    r->err = NN_ERR_TOO_LONG;
  for (size_t i = 0; i < n && !r->err; i++) {
    nn_wire_get_bytes(r, m->nodes[i].id.b, NN_NODE_ID_LEN);
    nn_addr_get(r, &m->nodes[i].addr);
  }
  m->nnodes = r->err ? 0 : n;
}

nn_err_t
nn_rpc_encode(const nn_rpc_t *m, nn_wire_writer_t *w)
{
  nn_wire_put_u8(w, m->kind);
  nn_wire_put_u64(w, m->id);
  if (nn_rpc_is_request(m->kind)) {
    nn_wire_put_u8(w, m->has_addr ? 1 : 0);
    if (m->has_addr)
      nn_addr_put(w, &m->addr);
  }
  switch (m->kind) {
  case NN_RPC_PING: break;
  case NN_RPC_PONG: nn_addr_put(w, &m->addr); break;
  case NN_RPC_FIND_NODE:
  case NN_RPC_FIND_VALUE: nn_wire_put_bytes(w, m->target.b, NN_NODE_ID_LEN); break;
  case NN_RPC_FIND_VALUE_RELAY:
    nn_wire_put_bytes(w, m->target.b, NN_NODE_ID_LEN);
    nn_wire_put_u8(w, m->hops);
    break;
  case NN_RPC_NODES: put_nodes(w, m); break;
  case NN_RPC_VALUE:
    nn_wire_put_u8(w, m->has_value ? 1 : 0);
    if (m->has_value)
      nn_wire_put_var(w, 4, NN_RPC_MAX_VALUE, m->value, m->value_len);
    put_nodes(w, m);
    break;
  case NN_RPC_STORE:
    nn_wire_put_bytes(w, m->target.b, NN_NODE_ID_LEN);
    nn_wire_put_var(w, 4, NN_RPC_MAX_VALUE, m->value, m->value_len);
    break;
  case NN_RPC_STORED: nn_wire_put_u8(w, m->status); break;
  default: return NN_ERR_ARG;
  }
  return w->err;
}

nn_err_t
nn_rpc_decode(nn_rpc_t *m, const uint8_t *buf, size_t len)
{
  nn_wire_reader_t r;
  uint8_t flag = 0;
  nn_err_t err;

  memset(m, 0, sizeof(*m));
  nn_wire_reader_init(&r, buf, len);
  nn_wire_get_u8(&r, &m->kind);
  nn_wire_get_u64(&r, &m->id);
  if (!r.err && nn_rpc_is_request(m->kind)) {
    nn_wire_get_u8(&r, &flag);
    if (!r.err && flag > 1)
      r.err = NN_ERR_FORMAT;
    m->has_addr = flag;
    if (flag)
      nn_addr_get(&r, &m->addr);
  }
  if (!r.err) {
    switch (m->kind) {
    case NN_RPC_PING: break;
    case NN_RPC_PONG: nn_addr_get(&r, &m->addr); break;
    case NN_RPC_FIND_NODE:
    case NN_RPC_FIND_VALUE: nn_wire_get_bytes(&r, m->target.b, NN_NODE_ID_LEN); break;
    case NN_RPC_FIND_VALUE_RELAY:
      nn_wire_get_bytes(&r, m->target.b, NN_NODE_ID_LEN);
      nn_wire_get_u8(&r, &m->hops);
      if (!r.err && m->hops > NN_RPC_MAX_RELAY_HOPS)
        r.err = NN_ERR_FORMAT;
      break;
    case NN_RPC_NODES: get_nodes(&r, m); break;
    case NN_RPC_VALUE:
      nn_wire_get_u8(&r, &flag);
      if (!r.err && flag > 1)
        r.err = NN_ERR_FORMAT;
      m->has_value = flag;
      if (flag)
        nn_wire_get_var(&r, 4, NN_RPC_MAX_VALUE, &m->value, &m->value_len);
      get_nodes(&r, m);
      break;
    case NN_RPC_STORE:
      nn_wire_get_bytes(&r, m->target.b, NN_NODE_ID_LEN);
      nn_wire_get_var(&r, 4, NN_RPC_MAX_VALUE, &m->value, &m->value_len);
      break;
    case NN_RPC_STORED:
      nn_wire_get_u8(&r, &m->status);
      if (!r.err && m->status > NN_STORE_NOT_CLOSE)
        r.err = NN_ERR_FORMAT;
      break;
    default: r.err = NN_ERR_FORMAT;
    }
  }
  if ((err = nn_wire_finish(&r)))
    memset(m, 0, sizeof(*m));
  return err;
}
