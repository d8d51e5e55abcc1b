/* Relayed circuits: the messages and the relay's core (relay.h, docs/PROTOCOL.md 10.4). */
#include "nat/relay.h"

#include <stdlib.h>
#include <string.h>

#include "lib/wire.h"

/* ---- messages ---- */

const char *
nn_relay_status_str(nn_relay_status_t s)
{
  switch (s) {
  case NN_RELAY_OK: return "reserved";
  case NN_RELAY_NO_SERVICE: return "this node does not relay";
  case NN_RELAY_FULL: return "the relay has no reservation free";
  case NN_RELAY_ANONYMOUS: return "an anonymous channel cannot reserve";
  default: return "unknown status";
  }
}

const char *
nn_relay_end_str(nn_relay_end_t r)
{
  switch (r) {
  case NN_RELAY_END_NORMAL: return "closed";
  case NN_RELAY_END_REFUSED: return "refused by the target";
  case NN_RELAY_END_NO_TARGET: return "the target holds no reservation at the relay";
  case NN_RELAY_END_FULL: return "the relay's circuit limits";
  case NN_RELAY_END_BYTES: return "the circuit's byte limit";
  case NN_RELAY_END_TIME: return "the circuit's time limit";
  case NN_RELAY_END_VIOLATION: return "protocol violation";
  case NN_RELAY_END_GONE: return "the other side's channel closed";
  default: return "unknown reason";
  }
}

const char *
nn_relay_end_name(nn_relay_end_t r)
{
  static const char *const names[NN_RELAY_END_MAX] = { "unknown", "closed", "refused",   "no_target", "full",
                                                       "bytes",   "time",   "violation", "gone" };
  return r > 0 && r < NN_RELAY_END_MAX ? names[r] : "unknown";
}

static size_t
fixed_len(uint8_t kind)
{
  switch (kind) {
  case NN_RLMSG_RESERVE: return NN_RELAY_RESERVE_LEN;
  case NN_RLMSG_RESERVED: return NN_RELAY_RESERVED_LEN;
  case NN_RLMSG_CONNECT: return NN_RELAY_CONNECT_LEN;
  case NN_RLMSG_INCOMING: return NN_RELAY_INCOMING_LEN;
  case NN_RLMSG_ACCEPT: return NN_RELAY_ACCEPT_LEN;
  case NN_RLMSG_CREDIT: return NN_RELAY_CREDIT_LEN;
  case NN_RLMSG_END: return NN_RELAY_END_LEN;
  case NN_RLMSG_SHUT: return NN_RELAY_SHUT_LEN;
  default: return 0;
  }
}

static int
is_zero(const uint8_t *p, size_t n)
{
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= p[i];
  return acc == 0;
}

nn_err_t
nn_rlmsg_parse(nn_rlmsg_t *m, const uint8_t *msg, size_t len)
{
  nn_wire_reader_t r;
  size_t want;
  memset(m, 0, sizeof(*m));
  if (len < 1)
    return NN_ERR_TRUNCATED;
  m->kind = msg[0];
  if (m->kind == NN_RLMSG_DATA) {
    if (len < 5)
      return NN_ERR_TRUNCATED;
    if (len == 5 || len > NN_RELAY_MAX_MSG)
      return NN_ERR_FORMAT;
    m->cid = nn_be32_get(msg + 1);
    m->data = msg + 5;
    m->data_len = len - 5;
    return NN_OK;
  }
  if (m->kind == NN_RLMSG_SYNC)
    return len == 1 ? NN_OK : NN_ERR_TRAILING;
  if (m->kind == NN_RLMSG_PUNCH) {
    uint8_t v = 0;
    nn_wire_reader_init(&r, msg + 1, len - 1);
    nn_wire_get_u8(&r, &v);
    nn_wire_get_bytes(&r, m->token, NN_PUNCH_TOKEN_LEN);
    nn_wire_get_u8(&r, &m->n_addrs);
    if (r.err)
      return r.err;
    if (v != NN_RELAY_VERSION)
      return NN_ERR_VERSION;
    if (m->n_addrs > NN_PUNCH_MAX_ADDRS)
      return NN_ERR_FORMAT;
    for (uint8_t i = 0; i < m->n_addrs; i++) {
      if (nn_addr_get(&r, &m->addrs[i]) != NN_OK)
        return r.err == NN_ERR_TRUNCATED ? NN_ERR_TRUNCATED : NN_ERR_FORMAT;
      if ((m->addrs[i].type != NN_ADDR_IPV4 && m->addrs[i].type != NN_ADDR_IPV6) || !m->addrs[i].port)
        return NN_ERR_FORMAT;
    }
    return nn_wire_finish(&r);
  }
  if (m->kind == NN_RLMSG_DIALBACK || m->kind == NN_RLMSG_DIALBACK_RESULT) {
    uint8_t n = 0;
    nn_addr_t a;
    nn_wire_reader_init(&r, msg + 1, len - 1);
    nn_wire_get_u64(&r, &m->nonce);
    if (m->kind == NN_RLMSG_DIALBACK_RESULT)
      nn_wire_get_u8(&r, &m->status);
    nn_wire_get_u8(&r, &n);
    if (r.err)
      return r.err;
    if (n > 1 || (m->kind == NN_RLMSG_DIALBACK_RESULT && m->status >= NN_DIALBACK_STATUS_MAX))
      return NN_ERR_FORMAT;
    if (n) {
      if (nn_addr_get(&r, &a) != NN_OK)
        return r.err == NN_ERR_TRUNCATED ? NN_ERR_TRUNCATED : NN_ERR_FORMAT;
      if ((a.type != NN_ADDR_IPV4 && a.type != NN_ADDR_IPV6) || !a.port)
        return NN_ERR_FORMAT;
      if (m->kind == NN_RLMSG_DIALBACK)
        m->addrs[0] = a;
      else
        m->addr = a;
    }
    m->n_addrs = n;
    return nn_wire_finish(&r);
  }
  if (m->kind == NN_RLMSG_OBSERVED) {
    nn_wire_reader_init(&r, msg + 1, len - 1);
    if (nn_addr_get(&r, &m->addr) != NN_OK)
      return r.err == NN_ERR_TRUNCATED ? NN_ERR_TRUNCATED : NN_ERR_FORMAT;
    if (m->addr.type != NN_ADDR_IPV4 && m->addr.type != NN_ADDR_IPV6)
      return NN_ERR_FORMAT;
    return nn_wire_finish(&r);
  }
  if (!(want = fixed_len(m->kind)))
    return NN_ERR_FORMAT;
  if (len < want)
    return NN_ERR_TRUNCATED;
  if (len > want)
    return NN_ERR_TRAILING;
  nn_wire_reader_init(&r, msg + 1, len - 1);
  switch (m->kind) {
  case NN_RLMSG_RESERVE:
    nn_wire_get_u8(&r, &m->version);
    if (m->version != NN_RELAY_VERSION)
      return NN_ERR_VERSION;
    break;
  case NN_RLMSG_RESERVED:
    nn_wire_get_u8(&r, &m->status);
    nn_wire_get_u32(&r, &m->ttl_s);
    nn_wire_get_u16(&r, &m->max_circuits);
    nn_wire_get_u64(&r, &m->circuit_bytes);
    nn_wire_get_u32(&r, &m->circuit_s);
    nn_wire_get_u32(&r, &m->rate);
    if (m->status >= NN_RELAY_STATUS_MAX)
      return NN_ERR_FORMAT;
    break;
  case NN_RLMSG_CONNECT:
    nn_wire_get_u32(&r, &m->cid);
    nn_wire_get_bytes(&r, m->node.b, NN_NODE_ID_LEN);
    if (m->cid & (NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED))
      return NN_ERR_FORMAT;
    break;
  case NN_RLMSG_INCOMING:
    nn_wire_get_u32(&r, &m->cid);
    nn_wire_get_u8(&r, &m->flags);
    nn_wire_get_bytes(&r, m->node.b, NN_NODE_ID_LEN);
    if ((m->cid & (NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED)) !=
          (NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED) ||
        (m->flags & ~NN_RELAY_INCOMING_F_ID) ||
        (!(m->flags & NN_RELAY_INCOMING_F_ID) && !is_zero(m->node.b, NN_NODE_ID_LEN)))
      return NN_ERR_FORMAT;
    break;
  case NN_RLMSG_ACCEPT:
  case NN_RLMSG_SHUT: nn_wire_get_u32(&r, &m->cid); break;
  case NN_RLMSG_CREDIT:
    nn_wire_get_u32(&r, &m->cid);
    nn_wire_get_u32(&r, &m->credit);
    if (!m->credit || m->credit > NN_RELAY_WINDOW)
      return NN_ERR_FORMAT;
    break;
  case NN_RLMSG_END:
    nn_wire_get_u32(&r, &m->cid);
    nn_wire_get_u8(&r, &m->reason);
    if (!m->reason || m->reason >= NN_RELAY_END_MAX)
      return NN_ERR_FORMAT;
    break;
  }
  return nn_wire_finish(&r);
}

void
nn_rlmsg_reserve(uint8_t out[NN_RELAY_RESERVE_LEN])
{
  out[0] = NN_RLMSG_RESERVE;
  out[1] = NN_RELAY_VERSION;
}

void
nn_rlmsg_reserved(uint8_t out[NN_RELAY_RESERVED_LEN], uint8_t status, uint32_t ttl_s, uint16_t max_circuits,
                  uint64_t circuit_bytes, uint32_t circuit_s, uint32_t rate)
{
  out[0] = NN_RLMSG_RESERVED;
  out[1] = status;
  nn_be32_put(out + 2, ttl_s);
  nn_be16_put(out + 6, max_circuits);
  nn_be64_put(out + 8, circuit_bytes);
  nn_be32_put(out + 16, circuit_s);
  nn_be32_put(out + 20, rate);
}

void
nn_rlmsg_connect(uint8_t out[NN_RELAY_CONNECT_LEN], uint32_t cid, const nn_node_id_t *target)
{
  out[0] = NN_RLMSG_CONNECT;
  nn_be32_put(out + 1, cid);
  memcpy(out + 5, target->b, NN_NODE_ID_LEN);
}

void
nn_rlmsg_incoming(uint8_t out[NN_RELAY_INCOMING_LEN], uint32_t cid, const nn_node_id_t *source)
{
  out[0] = NN_RLMSG_INCOMING;
  nn_be32_put(out + 1, cid);
  out[5] = source ? NN_RELAY_INCOMING_F_ID : 0;
  if (source)
    memcpy(out + 6, source->b, NN_NODE_ID_LEN);
  else
    memset(out + 6, 0, NN_NODE_ID_LEN);
}

void
nn_rlmsg_accept(uint8_t out[NN_RELAY_ACCEPT_LEN], uint32_t cid)
{
  out[0] = NN_RLMSG_ACCEPT;
  nn_be32_put(out + 1, cid);
}

void
nn_rlmsg_data_head(uint8_t out[5], uint32_t cid)
{
  out[0] = NN_RLMSG_DATA;
  nn_be32_put(out + 1, cid);
}

void
nn_rlmsg_credit(uint8_t out[NN_RELAY_CREDIT_LEN], uint32_t cid, uint32_t bytes)
{
  out[0] = NN_RLMSG_CREDIT;
  nn_be32_put(out + 1, cid);
  nn_be32_put(out + 5, bytes);
}

void
nn_rlmsg_end(uint8_t out[NN_RELAY_END_LEN], uint32_t cid, uint8_t reason)
{
  out[0] = NN_RLMSG_END;
  nn_be32_put(out + 1, cid);
  out[5] = reason;
}

void
nn_rlmsg_shut(uint8_t out[NN_RELAY_SHUT_LEN], uint32_t cid)
{
  out[0] = NN_RLMSG_SHUT;
  nn_be32_put(out + 1, cid);
}

size_t
nn_rlmsg_punch(uint8_t out[NN_PUNCH_MAX_LEN], const uint8_t token[NN_PUNCH_TOKEN_LEN], const nn_addr_t *addrs, size_t n)
{
  nn_wire_writer_t w;
  if (n > NN_PUNCH_MAX_ADDRS)
    return 0;
  nn_wire_writer_init_fixed(&w, out, NN_PUNCH_MAX_LEN);
  nn_wire_put_u8(&w, NN_RLMSG_PUNCH);
  nn_wire_put_u8(&w, NN_RELAY_VERSION);
  nn_wire_put_bytes(&w, token, NN_PUNCH_TOKEN_LEN);
  nn_wire_put_u8(&w, (uint8_t)n);
  for (size_t i = 0; i < n; i++)
    if ((addrs[i].type != NN_ADDR_IPV4 && addrs[i].type != NN_ADDR_IPV6) || nn_addr_put(&w, &addrs[i]) != NN_OK)
      return 0;
  return w.err ? 0 : w.len;
}

static size_t
dialback_msg(uint8_t *out, uint8_t kind, uint64_t nonce, int with_status, uint8_t status, const nn_addr_t *a)
{
  nn_wire_writer_t w;
  if (a && (a->type != NN_ADDR_IPV4 && a->type != NN_ADDR_IPV6))
    a = NULL;
  nn_wire_writer_init_fixed(&w, out, NN_DIALBACK_MAX_LEN);
  nn_wire_put_u8(&w, kind);
  nn_wire_put_u64(&w, nonce);
  if (with_status)
    nn_wire_put_u8(&w, status);
  nn_wire_put_u8(&w, a ? 1 : 0);
  if (a)
    nn_addr_put(&w, a);
  return w.err ? 0 : w.len;
}

size_t
nn_rlmsg_dialback(uint8_t out[NN_DIALBACK_MAX_LEN], uint64_t nonce, const nn_addr_t *a)
{
  return dialback_msg(out, NN_RLMSG_DIALBACK, nonce, 0, 0, a);
}

size_t
nn_rlmsg_dialback_result(uint8_t out[NN_DIALBACK_MAX_LEN], uint64_t nonce, uint8_t status, const nn_addr_t *observed)
{
  return dialback_msg(out, NN_RLMSG_DIALBACK_RESULT, nonce, 1, status, observed);
}

size_t
nn_rlmsg_observed(uint8_t out[NN_RELAY_OBSERVED_MAX], const nn_addr_t *a)
{
  nn_wire_writer_t w;
  if (a->type != NN_ADDR_IPV4 && a->type != NN_ADDR_IPV6)
    return 0;
  out[0] = NN_RLMSG_OBSERVED;
  nn_wire_writer_init_fixed(&w, out + 1, NN_RELAY_OBSERVED_MAX - 1);
  return nn_addr_put(&w, a) == NN_OK ? 1 + w.len : 0;
}

int
nn_relay_owns(const uint8_t *msg, size_t len)
{
  if (len < 1)
    return 0;
  switch (msg[0]) {
  case NN_RLMSG_RESERVE:
  case NN_RLMSG_CONNECT: return 1;
  case NN_RLMSG_ACCEPT:
  case NN_RLMSG_DATA:
  case NN_RLMSG_CREDIT:
  case NN_RLMSG_END:
  case NN_RLMSG_SHUT: return len >= 5 && !(nn_be32_get(msg + 1) & NN_RELAY_CID_FROM_RELAY);
  default: return 0;
  }
}

/* ---- the relay ---- */

/* A side of a circuit: a channel, the circuit's id on it (without FROM_RELAY), and the state of
 * the data this side sends. */
typedef struct side_t {
  uint64_t conn;
  uint32_t cid;
  int shut;         /* SHUT: no more DATA from this side */
  uint64_t unacked; /* DATA of this side forwarded, not yet credited by the other side */
  uint64_t owed;    /* credits for this side that the rate holds back */
  double tokens;    /* the rate's bucket for this side's data */
} side_t;

enum { C_FREE = 0, C_PENDING, C_OPEN };

typedef struct circ_t {
  int state;
  side_t s[2]; /* [0] the source (CONNECT), [1] the target (INCOMING) */
  uint64_t start_ms, refill_ms, bytes;
  int resv;           /* index of the target's reservation */
  nn_addr_t src_addr; /* where the source's channel comes from (OBSERVED with the ACCEPT) */
} circ_t;

typedef struct resv_t {
  int used;
  nn_node_id_t id;
  uint64_t conn, expires_ms;
  uint32_t circuits;
} resv_t;

struct nn_relay_t {
  int service;
  nn_relay_limits_t lim;
  nn_relay_io_t io;
  resv_t *resv;
  circ_t *circ;
  uint32_t next_cid; /* the ids we pick (30 bits) */
  nn_relay_stats_t st;
};

void
nn_relay_limits_default(nn_relay_limits_t *l)
{
  l->max_reservations = 64;
  l->reservation_s = 3600;
  l->max_circuits = 32;
  l->max_per_target = 8;
  l->max_per_source = 4;
  l->circuit_bytes = 64ull << 20;
  l->circuit_s = 1800;
  l->rate = 512u * 1024u;
  l->accept_timeout_ms = 10000;
}

nn_err_t
nn_relay_new(nn_relay_t **out, int service, const nn_relay_limits_t *lim, const nn_relay_io_t *io)
{
  nn_relay_t *r;
  *out = NULL;
  if (!io || !io->send || lim->max_reservations > 65536 || lim->max_circuits > 65535 || !lim->rate)
    return NN_ERR_ARG;
  if (!(r = calloc(1, sizeof(*r))))
    return NN_ERR_NOMEM;
  r->service = service;
  r->lim = *lim;
  r->io = *io;
  if (!(r->resv = calloc(lim->max_reservations ? lim->max_reservations : 1, sizeof(*r->resv))) ||
      !(r->circ = calloc(lim->max_circuits ? lim->max_circuits : 1, sizeof(*r->circ)))) {
    nn_relay_free(r);
    return NN_ERR_NOMEM;
  }
  *out = r;
  return NN_OK;
}

void
nn_relay_set_service(nn_relay_t *r, int service)
{
  r->service = service;
}

void
nn_relay_free(nn_relay_t *r)
{
  if (!r)
    return;
  free(r->resv);
  free(r->circ);
  free(r);
}

static void
send_msg(nn_relay_t *r, uint64_t conn, const uint8_t *m, size_t len)
{
  (void)r->io.send(r->io.ctx, conn, m, len);
}

static void
hold(nn_relay_t *r, uint64_t conn, int on)
{
  if (r->io.hold)
    r->io.hold(r->io.ctx, conn, on);
}

static void
penalize(nn_relay_t *r, uint64_t conn, int points, const char *why)
{
  if (r->io.penalize)
    r->io.penalize(r->io.ctx, conn, points, why);
}

/* The circuit whose side on \a conn has id \a cid (FROM_RELAY cleared), and that side. */
static circ_t *
find(nn_relay_t *r, uint64_t conn, uint32_t cid, int *side)
{
  for (uint32_t i = 0; i < r->lim.max_circuits; i++) {
    circ_t *c = &r->circ[i];
    if (c->state == C_FREE)
      continue;
    for (int k = 0; k < 2; k++)
      if (c->s[k].conn == conn && c->s[k].cid == cid) {
        *side = k;
        return c;
      }
  }
  return NULL;
}

static void
send_observed(nn_relay_t *r, uint64_t conn, const nn_addr_t *a)
{
  uint8_t m[NN_RELAY_OBSERVED_MAX];
  size_t n = a ? nn_rlmsg_observed(m, a) : 0;
  if (n)
    send_msg(r, conn, m, n);
}

static void
send_end(nn_relay_t *r, const side_t *s, nn_relay_end_t why)
{
  uint8_t m[NN_RELAY_END_LEN];
  nn_rlmsg_end(m, s->cid | NN_RELAY_CID_FROM_RELAY, (uint8_t)why);
  send_msg(r, s->conn, m, sizeof(m));
}

/* End circuit \a c: tell the sides in \a tell (bit k: side k), release what it held. */
static void
end_circ(nn_relay_t *r, circ_t *c, nn_relay_end_t why, unsigned tell)
{
  for (int k = 0; k < 2; k++) {
    if (tell & (1u << k))
      send_end(r, &c->s[k], why);
    hold(r, c->s[k].conn, 0);
  }
  if (c->resv >= 0 && r->resv[c->resv].used && r->resv[c->resv].circuits)
    r->resv[c->resv].circuits--;
  r->st.ended[why]++;
  r->st.circuits--;
  memset(c, 0, sizeof(*c));
}

static void
violation(nn_relay_t *r, circ_t *c, int side, const char *why)
{
  r->st.violations++;
  penalize(r, c->s[side].conn, 10, why);
  end_circ(r, c, NN_RELAY_END_VIOLATION, 3);
}

static resv_t *
find_resv(nn_relay_t *r, const nn_node_id_t *id)
{
  for (uint32_t i = 0; i < r->lim.max_reservations; i++)
    if (r->resv[i].used && !memcmp(r->resv[i].id.b, id->b, NN_NODE_ID_LEN))
      return &r->resv[i];
  return NULL;
}

static void
on_reserve(nn_relay_t *r, uint64_t conn, const nn_node_id_t *peer, const nn_addr_t *from, uint64_t now)
{
  uint8_t m[NN_RELAY_RESERVED_LEN];
  nn_relay_status_t st = NN_RELAY_OK;
  resv_t *v = NULL;
  if (!r->service)
    st = NN_RELAY_NO_SERVICE;
  else if (!peer)
    st = NN_RELAY_ANONYMOUS;
  else if (!(v = find_resv(r, peer))) {
    for (uint32_t i = 0; i < r->lim.max_reservations && !v; i++)
      if (!r->resv[i].used)
        v = &r->resv[i];
    if (!v)
      st = NN_RELAY_FULL;
  }
  if (st != NN_RELAY_OK) {
    r->st.refused_reserve++;
    r->st.refused[st]++;
    nn_rlmsg_reserved(m, (uint8_t)st, 0, 0, 0, 0, 0);
    send_msg(r, conn, m, sizeof(m));
    return;
  }
  if (!v->used) {
    v->used = 1;
    v->id = *peer;
    v->circuits = 0;
    r->st.reservations++;
    v->conn = 0;
  }
  if (v->conn != conn) {
    /* a renewal from a new channel moves the reservation; circuits already open stay on the old one */
    if (v->conn)
      hold(r, v->conn, 0);
    v->conn = conn;
    hold(r, conn, 1);
  }
  v->expires_ms = now + (uint64_t)r->lim.reservation_s * 1000;
  r->st.reserved++;
  nn_rlmsg_reserved(m, NN_RELAY_OK, r->lim.reservation_s, (uint16_t)r->lim.max_per_target, r->lim.circuit_bytes,
                    r->lim.circuit_s, r->lim.rate);
  send_msg(r, conn, m, sizeof(m));
  send_observed(r, conn, from); /* the address a hole punch would reach it at */
}

/* The bucket holds a window and 10 ms of the rate: time comes in milliseconds, and a bucket of
 * one window would hold back the second window that arrives within the same millisecond (a fast
 * rate then ran at a window per timer tick). The window still bounds what a relay buffers. */
static double
bucket(const nn_relay_t *r)
{
  return (double)NN_RELAY_WINDOW + (double)r->lim.rate / 100.0;
}

static void
refuse_connect(nn_relay_t *r, uint64_t conn, uint32_t cid, nn_relay_end_t why)
{
  uint8_t m[NN_RELAY_END_LEN];
  nn_rlmsg_end(m, cid | NN_RELAY_CID_FROM_RELAY, (uint8_t)why);
  send_msg(r, conn, m, sizeof(m));
  r->st.refused_connect++;
  r->st.ended[why]++;
}

static void
on_connect(nn_relay_t *r, uint64_t conn, const nn_node_id_t *peer, const nn_addr_t *from, const nn_rlmsg_t *m,
           uint64_t now)
{
  uint8_t out[NN_RELAY_INCOMING_LEN];
  uint32_t from_src = 0, i;
  circ_t *c = NULL;
  resv_t *v;
  int side;
  if (find(r, conn, m->cid, &side)) {
    /* an id still in use: the source lost track of its own circuits */
    r->st.violations++;
    penalize(r, conn, 10, "relay: CONNECT with a circuit id in use");
    return;
  }
  v = r->service ? find_resv(r, &m->node) : NULL;
  if (!v || v->conn == conn || (peer && !memcmp(peer->b, m->node.b, NN_NODE_ID_LEN))) {
    refuse_connect(r, conn, m->cid, NN_RELAY_END_NO_TARGET);
    return;
  }
  for (i = 0; i < r->lim.max_circuits; i++) {
    if (r->circ[i].state == C_FREE) {
      if (!c)
        c = &r->circ[i];
    } else if (r->circ[i].s[0].conn == conn) {
      from_src++;
    }
  }
  if (!c || from_src >= r->lim.max_per_source || v->circuits >= r->lim.max_per_target) {
    refuse_connect(r, conn, m->cid, NN_RELAY_END_FULL);
    return;
  }
  memset(c, 0, sizeof(*c));
  c->state = C_PENDING;
  c->s[0].conn = conn;
  c->s[0].cid = m->cid;
  c->s[1].conn = v->conn;
  r->next_cid = (r->next_cid + 1) & ~(NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED);
  c->s[1].cid = NN_RELAY_CID_RELAY_PICKED | r->next_cid;
  c->s[0].tokens = c->s[1].tokens = bucket(r);
  c->start_ms = c->refill_ms = now;
  c->resv = (int)(v - r->resv);
  if (from)
    c->src_addr = *from;
  v->circuits++;
  r->st.circuits++;
  hold(r, c->s[0].conn, 1);
  hold(r, c->s[1].conn, 1);
  nn_rlmsg_incoming(out, c->s[1].cid | NN_RELAY_CID_FROM_RELAY, peer);
  send_msg(r, c->s[1].conn, out, sizeof(out));
}

/* Release held credits of side \a k up to the tokens it has. */
static void
release(nn_relay_t *r, circ_t *c, int k)
{
  side_t *s = &c->s[k];
  uint8_t m[NN_RELAY_CREDIT_LEN];
  uint64_t n = s->owed;
  if (!n)
    return;
  if ((double)n > s->tokens)
    n = (uint64_t)s->tokens;
  if (n < s->owed)
    r->st.credits_held++;
  if (!n)
    return;
  s->owed -= n;
  s->tokens -= (double)n;
  nn_rlmsg_credit(m, s->cid | NN_RELAY_CID_FROM_RELAY, (uint32_t)n);
  send_msg(r, s->conn, m, sizeof(m));
}

static void
refill(nn_relay_t *r, circ_t *c, uint64_t now)
{
  if (now <= c->refill_ms)
    return;
  double add = (double)(now - c->refill_ms) * (double)r->lim.rate / 1000.0;
  for (int k = 0; k < 2; k++) {
    c->s[k].tokens += add;
    if (c->s[k].tokens > bucket(r))
      c->s[k].tokens = bucket(r);
  }
  c->refill_ms = now;
}

static void
on_circuit(nn_relay_t *r, uint64_t conn, const nn_rlmsg_t *m, const uint8_t *raw, size_t len, uint64_t now)
{
  int k;
  circ_t *c = find(r, conn, m->cid, &k);
  uint8_t out[NN_RELAY_MAX_MSG];
  if (!c) {
    /* the circuit ended while this was on its way: normal, not misbehaviour */
    r->st.late++;
    return;
  }
  side_t *me = &c->s[k], *other = &c->s[1 - k];
  switch (m->kind) {
  case NN_RLMSG_ACCEPT:
    if (k != 1 || c->state != C_PENDING) {
      violation(r, c, k, "relay: ACCEPT out of order");
      return;
    }
    c->state = C_OPEN;
    r->st.opened++;
    send_observed(r, c->s[0].conn, &c->src_addr);
    nn_rlmsg_accept(out, c->s[0].cid | NN_RELAY_CID_FROM_RELAY);
    send_msg(r, c->s[0].conn, out, NN_RELAY_ACCEPT_LEN);
    return;
  case NN_RLMSG_END:
    end_circ(r, c, k == 1 && c->state == C_PENDING ? NN_RELAY_END_REFUSED : NN_RELAY_END_NORMAL, 1u << (1 - k));
    return;
  case NN_RLMSG_SHUT:
    if (c->state != C_OPEN || me->shut) {
      violation(r, c, k, "relay: SHUT out of order");
      return;
    }
    me->shut = 1;
    nn_rlmsg_shut(out, other->cid | NN_RELAY_CID_FROM_RELAY);
    send_msg(r, other->conn, out, NN_RELAY_SHUT_LEN);
    if (other->shut) {
      r->st.punched++;
      end_circ(r, c, NN_RELAY_END_NORMAL, 0); /* both went elsewhere: nothing to tell */
    }
    return;
  case NN_RLMSG_DATA:
    if (c->state != C_OPEN || me->shut) {
      violation(r, c, k, "relay: DATA before the circuit opened or after SHUT");
      return;
    }
    if (me->unacked + me->owed + m->data_len > NN_RELAY_WINDOW) {
      violation(r, c, k, "relay: DATA beyond the window");
      return;
    }
    if (c->bytes + m->data_len > r->lim.circuit_bytes) {
      end_circ(r, c, NN_RELAY_END_BYTES, 3);
      return;
    }
    memcpy(out, raw, len);
    nn_be32_put(out + 1, other->cid | NN_RELAY_CID_FROM_RELAY);
    if (r->io.send(r->io.ctx, other->conn, out, len) != NN_OK) {
      /* the node's output budget is spent: a byte lost would break the stream, so end it */
      end_circ(r, c, NN_RELAY_END_FULL, 3);
      return;
    }
    me->unacked += m->data_len;
    c->bytes += m->data_len;
    r->st.bytes += m->data_len;
    return;
  case NN_RLMSG_CREDIT:
    /* a credit from side k is for the data of the other side */
    if (c->state != C_OPEN || m->credit > other->unacked) {
      violation(r, c, k, "relay: CREDIT for data never sent");
      return;
    }
    other->unacked -= m->credit;
    other->owed += m->credit;
    refill(r, c, now);
    release(r, c, 1 - k);
    return;
  default: return;
  }
}

void
nn_relay_input(nn_relay_t *r, uint64_t conn, const nn_node_id_t *peer, const nn_addr_t *from, const uint8_t *msg,
               size_t len, uint64_t now_ms)
{
  nn_rlmsg_t m;
  if (!nn_relay_owns(msg, len))
    return;
  if (nn_rlmsg_parse(&m, msg, len) != NN_OK) {
    r->st.violations++;
    penalize(r, conn, 10, "relay: malformed message");
    return;
  }
  switch (m.kind) {
  case NN_RLMSG_RESERVE: on_reserve(r, conn, peer, from, now_ms); break;
  case NN_RLMSG_CONNECT: on_connect(r, conn, peer, from, &m, now_ms); break;
  default: on_circuit(r, conn, &m, msg, len, now_ms); break;
  }
}

void
nn_relay_down(nn_relay_t *r, uint64_t conn, uint64_t now_ms)
{
  (void)now_ms;
  for (uint32_t i = 0; i < r->lim.max_circuits; i++) {
    circ_t *c = &r->circ[i];
    if (c->state == C_FREE)
      continue;
    if (c->s[0].conn == conn || c->s[1].conn == conn)
      end_circ(r, c, NN_RELAY_END_GONE, c->s[0].conn == conn ? 2u : 1u);
  }
  for (uint32_t i = 0; i < r->lim.max_reservations; i++)
    if (r->resv[i].used && r->resv[i].conn == conn) {
      memset(&r->resv[i], 0, sizeof(r->resv[i]));
      r->st.reservations--;
    }
}

uint64_t
nn_relay_tick(nn_relay_t *r, uint64_t now_ms)
{
  uint64_t next = 0;
#define WANT(t)                                                                                                        \
  do {                                                                                                                 \
    uint64_t t_ = (t);                                                                                                 \
    if (!next || t_ < next)                                                                                            \
      next = t_;                                                                                                       \
  } while (0)
  for (uint32_t i = 0; i < r->lim.max_reservations; i++) {
    resv_t *v = &r->resv[i];
    if (!v->used)
      continue;
    if (now_ms >= v->expires_ms) {
      uint64_t conn = v->conn;
      /* its circuits end with it; the channel stays (other protocols may use it) */
      for (uint32_t k = 0; k < r->lim.max_circuits; k++)
        if (r->circ[k].state != C_FREE && r->circ[k].resv == (int)i)
          end_circ(r, &r->circ[k], NN_RELAY_END_TIME, 3);
      memset(v, 0, sizeof(*v));
      r->st.reservations--;
      hold(r, conn, 0);
      continue;
    }
    WANT(v->expires_ms);
  }
  for (uint32_t i = 0; i < r->lim.max_circuits; i++) {
    circ_t *c = &r->circ[i];
    if (c->state == C_FREE)
      continue;
    if (c->state == C_PENDING && now_ms >= c->start_ms + r->lim.accept_timeout_ms) {
      end_circ(r, c, NN_RELAY_END_TIME, 3);
      continue;
    }
    if (now_ms >= c->start_ms + (uint64_t)r->lim.circuit_s * 1000) {
      end_circ(r, c, NN_RELAY_END_TIME, 3);
      continue;
    }
    WANT(c->state == C_PENDING ? c->start_ms + r->lim.accept_timeout_ms
                               : c->start_ms + (uint64_t)r->lim.circuit_s * 1000);
    refill(r, c, now_ms);
    for (int k = 0; k < 2; k++) {
      release(r, c, k);
      if (c->s[k].owed) {
        /* the time the bucket holds what is owed, or a DATA message's worth, whichever is less */
        double need = (double)(c->s[k].owed < NN_RELAY_MAX_DATA ? c->s[k].owed : NN_RELAY_MAX_DATA) - c->s[k].tokens;
        uint64_t wait = need > 0 ? (uint64_t)(need * 1000.0 / r->lim.rate) + 1 : 1;
        WANT(now_ms + wait);
      }
    }
  }
#undef WANT
  return next;
}

void
nn_relay_stats(const nn_relay_t *r, nn_relay_stats_t *out)
{
  *out = r->st;
}

const nn_relay_limits_t *
nn_relay_limits(const nn_relay_t *r)
{
  return &r->lim;
}
