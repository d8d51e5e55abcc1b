/*
 * The DHT node core and its RPC codec: message round trips and hostile bytes, how a node answers,
 * what it penalizes, its request ids, and whole networks in the simulator (deterministic: fixed
 * seeds), including churn and colluding liars.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht.h"
#include "dht/rpc.h"
#include "sim/sim_dht.h"

static nn_node_id_t
id_of(uint8_t b)
{
  nn_node_id_t id;
  memset(id.b, b, sizeof(id.b));
  return id;
}

static nn_addr_t
addr_of(uint8_t last)
{
  uint8_t ip[4] = { 203, 0, 113, last };
  return nn_addr_ipv4(ip, 9800);
}

static size_t
encode(const nn_rpc_t *m, uint8_t *buf, size_t cap)
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, cap);
  assert_int_equal(nn_rpc_encode(m, &w), NN_OK);
  return w.len;
}

static void
test_rpc_roundtrip(void **state)
{
  (void)state;
  static const uint8_t kinds[] = { NN_RPC_PING,  NN_RPC_PONG,       NN_RPC_FIND_NODE,
                                   NN_RPC_NODES, NN_RPC_FIND_VALUE, NN_RPC_VALUE,
                                   NN_RPC_STORE, NN_RPC_STORED,     NN_RPC_FIND_VALUE_RELAY };
  uint8_t value[300], buf[NN_RPC_MAX_LEN];
  memset(value, 0x77, sizeof(value));
  for (size_t k = 0; k < sizeof(kinds); k++) {
    nn_rpc_t m, back;
    memset(&m, 0, sizeof(m));
    m.kind = kinds[k];
    m.id = 0x0102030405060708ull + k;
    m.has_addr = nn_rpc_is_request(m.kind);
    m.addr = addr_of(9);
    m.target = id_of(0x42);
    if (m.kind == NN_RPC_NODES || m.kind == NN_RPC_VALUE) {
      m.nnodes = NN_RPC_MAX_NODES;
      for (size_t i = 0; i < m.nnodes; i++) {
        m.nodes[i].id = id_of((uint8_t)i);
        m.nodes[i].addr = addr_of((uint8_t)(i + 1));
      }
    }
    if (m.kind == NN_RPC_VALUE || m.kind == NN_RPC_STORE) {
      m.has_value = 1;
      m.value = value;
      m.value_len = sizeof(value);
    }
    if (m.kind == NN_RPC_STORED)
      m.status = NN_STORE_OLDER;
    size_t n = encode(&m, buf, sizeof(buf));
    assert_int_equal(nn_rpc_decode(&back, buf, n), NN_OK);
    assert_int_equal(back.kind, m.kind);
    assert_true(back.id == m.id);
    assert_int_equal(back.nnodes, m.nnodes);
    if (m.nnodes)
      assert_memory_equal(back.nodes[19].id.b, m.nodes[19].id.b, 32);
    if (m.value) {
      assert_int_equal(back.value_len, m.value_len);
      assert_memory_equal(back.value, value, sizeof(value));
    }
    /* every truncation and one extra byte are refused */
    for (size_t cut = 0; cut < n; cut++)
      assert_int_not_equal(nn_rpc_decode(&back, buf, cut), NN_OK);
    buf[n] = 0;
    assert_int_equal(nn_rpc_decode(&back, buf, n + 1), NN_ERR_TRAILING);
  }
}

static void
test_rpc_hostile(void **state)
{
  (void)state;
  uint8_t buf[NN_RPC_MAX_LEN];
  nn_rpc_t m, back;
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_NODES;
  m.nnodes = 1;
  m.nodes[0].id = id_of(1);
  m.nodes[0].addr = addr_of(1);
  size_t n = encode(&m, buf, sizeof(buf));
  buf[9] = NN_RPC_MAX_NODES + 1; /* node count above the cap */
  assert_int_equal(nn_rpc_decode(&back, buf, n), NN_ERR_TOO_LONG);
  buf[9] = 1;
  buf[10 + 32] = 0x55; /* unknown address type */
  assert_int_equal(nn_rpc_decode(&back, buf, n), NN_ERR_FORMAT);
  buf[0] = 0x99; /* unknown kind */
  assert_int_equal(nn_rpc_decode(&back, buf, n), NN_ERR_FORMAT);
  /* a value length above the cap is refused before anything is read */
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_STORE;
  n = encode(&m, buf, sizeof(buf));
  nn_be32_put(buf + 10 + 32, NN_RPC_MAX_VALUE + 1);
  assert_int_equal(nn_rpc_decode(&back, buf, n), NN_ERR_TOO_LONG);
  /* a request flag other than 0/1 */
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_PING;
  n = encode(&m, buf, sizeof(buf));
  buf[9] = 2;
  assert_int_equal(nn_rpc_decode(&back, buf, n), NN_ERR_FORMAT);
}

/* ---- one node, driven by hand ---- */

typedef struct box_t {
  nn_rpc_node_t last_to;
  uint8_t last[NN_RPC_MAX_LEN];
  size_t last_len, sent;
  int penalties, points;
  char why[64];
} box_t;

static void
box_send(void *ctx, const nn_rpc_node_t *to, void *reply, const uint8_t *msg, size_t len)
{
  box_t *b = ctx;
  (void)reply;
  b->last_to = *to;
  memcpy(b->last, msg, len);
  b->last_len = len;
  b->sent++;
}

static void
box_penalize(void *ctx, const nn_node_id_t *id, const nn_addr_t *addr, int points, const char *why)
{
  box_t *b = ctx;
  (void)id;
  (void)addr;
  b->penalties++;
  b->points += points;
  snprintf(b->why, sizeof(b->why), "%s", why);
}

static int
reject_all(void *ctx, const nn_node_id_t *key, const uint8_t *v, size_t len, uint64_t now, uint64_t *seq, uint64_t *exp)
{
  (void)ctx, (void)key, (void)v, (void)len, (void)now, (void)seq, (void)exp;
  return -1;
}

static void
test_node_answers_and_penalizes(void **state)
{
  (void)state;
  box_t box;
  nn_dht_t *d;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { box_send, box_penalize, &box };
  nn_node_id_t self = id_of(0x80), peer = id_of(0x81);
  nn_addr_t paddr = addr_of(7);
  uint8_t buf[NN_RPC_MAX_LEN], junk[5] = { 1, 2, 3, 4, 5 };
  nn_rpc_t m, a;
  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, 3);
  nn_rng_t rng = nn_drbg_rng(&drbg);

  memset(&box, 0, sizeof(box));
  nn_dht_cfg_default(&cfg);
  cfg.validate = reject_all;
  cfg.rng = &rng;
  assert_int_equal(nn_dht_new(&d, &self, &cfg, &io, 0), NN_OK);
  /* a FIND_NODE from a peer that advertises an address on its connection's host */
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_FIND_NODE;
  m.id = 77;
  m.has_addr = 1;
  m.addr = paddr;
  m.target = id_of(0x10);
  size_t n = encode(&m, buf, sizeof(buf));
  nn_addr_t conn = paddr;
  conn.port = 40000;
  assert_int_equal(nn_dht_on_message(d, (void *)1, &peer, &conn, 0, buf, n, 1000), NN_OK);
  assert_int_equal(box.sent, 1);
  assert_int_equal(nn_rpc_decode(&a, box.last, box.last_len), NN_OK);
  assert_int_equal(a.kind, NN_RPC_NODES);
  assert_true(a.id == 77);
  assert_int_equal(a.nnodes, 0); /* it does not hand the requester back to itself */
  assert_non_null(nn_dht_table_find(nn_dht_table(d), &peer));
  /* a STORE of an invalid value: refused and penalized */
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_STORE;
  m.id = 78;
  m.target = id_of(0x11);
  m.value = junk;
  m.value_len = sizeof(junk);
  n = encode(&m, buf, sizeof(buf));
  assert_int_equal(nn_dht_on_message(d, (void *)1, &peer, &conn, 0, buf, n, 1000), NN_OK);
  assert_int_equal(nn_rpc_decode(&a, box.last, box.last_len), NN_OK);
  assert_int_equal(a.status, NN_STORE_INVALID);
  assert_int_equal(box.penalties, 1);
  assert_int_equal(nn_dht_values(d), 0);
  /* malformed bytes: an error, a penalty, no answer */
  size_t sent = box.sent;
  assert_int_not_equal(nn_dht_on_message(d, (void *)1, &peer, &conn, 0, junk, sizeof(junk), 1000), NN_OK);
  assert_int_equal(box.penalties, 2);
  assert_int_equal(box.sent, sent);
  /* an answer nobody asked for: penalized, ignored */
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_PONG;
  m.id = 12345;
  m.addr = paddr;
  n = encode(&m, buf, sizeof(buf));
  assert_int_equal(nn_dht_on_message(d, (void *)1, &peer, &conn, 0, buf, n, 1000), NN_OK);
  assert_int_equal(box.penalties, 3);
  /* an anonymous requester is served but never enters the table */
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_PING;
  m.id = 5;
  n = encode(&m, buf, sizeof(buf));
  size_t before = nn_dht_table_size(nn_dht_table(d));
  assert_int_equal(nn_dht_on_message(d, (void *)2, NULL, &conn, 0, buf, n, 1000), NN_OK);
  assert_int_equal(nn_rpc_decode(&a, box.last, box.last_len), NN_OK);
  assert_int_equal(a.kind, NN_RPC_PONG);
  assert_int_equal(nn_dht_table_size(nn_dht_table(d)), before);
  nn_dht_free(d);
  nn_dht_free(NULL);
}

static int
accept_all(void *ctx, const nn_node_id_t *key, const uint8_t *v, size_t len, uint64_t now, uint64_t *seq, uint64_t *exp)
{
  (void)ctx, (void)key, (void)v, (void)len;
  *seq = 1;
  *exp = now + 3600000;
  return 0;
}

/* A STORE of a small value under \a key from \a from (dialled or inbound); the STORED status. */
static int
store_from(nn_dht_t *d, box_t *box, const nn_node_id_t *key, const nn_addr_t *from, int dialled, uint64_t now)
{
  static const uint8_t v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  nn_node_id_t peer = id_of(0x33);
  uint8_t buf[NN_RPC_MAX_LEN];
  nn_rpc_t m, a;
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_STORE;
  m.id = 9;
  m.target = *key;
  m.value = v;
  m.value_len = sizeof(v);
  size_t n = encode(&m, buf, sizeof(buf));
  assert_int_equal(nn_dht_on_message(d, (void *)1, &peer, from, dialled, buf, n, now), NN_OK);
  assert_int_equal(nn_rpc_decode(&a, box->last, box->last_len), NN_OK);
  assert_int_equal(a.kind, NN_RPC_STORED);
  return a.status;
}

static nn_addr_t
host_at(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
  uint8_t ip[4] = { a, b, c, d };
  return nn_addr_ipv4(ip, port);
}

/* Issue 10, item 5: one host (or one /24) gets a share of the value store, refused before any
 * signature check and with a point off; a full store takes a newcomer closer to our id in place of
 * the farthest value that nobody else asked for. */
static void
test_value_store_quotas(void **state)
{
  (void)state;
  box_t box;
  nn_dht_t *d;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { box_send, box_penalize, &box };
  nn_node_id_t self = id_of(0x80);
  nn_dht_store_stats_t st;
  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, 6);
  nn_rng_t rng = nn_drbg_rng(&drbg);
  memset(&box, 0, sizeof(box));
  nn_dht_cfg_default(&cfg);
  cfg.rng = &rng;
  cfg.validate = accept_all;
  cfg.max_values = 64; /* 4 per host, 8 per /24 */
  assert_int_equal(nn_dht_new(&d, &self, &cfg, &io, 0), NN_OK);
  uint64_t now = 1000;
  nn_node_id_t key;
  uint32_t next = 0;
#define FAR_KEY() (key = id_of(0x00), nn_be32_put(key.b + 28, ++next), &key)

  /* one host, whatever port it comes from: 4 */
  nn_addr_t a1 = host_at(198, 51, 100, 5, 40000), a2 = host_at(198, 51, 100, 5, 40001);
  for (int i = 0; i < 4; i++)
    assert_int_equal(store_from(d, &box, FAR_KEY(), i % 2 ? &a1 : &a2, 0, now), NN_STORE_OK);
  nn_dht_store_stats(d, &st);
  uint64_t verified = st.verified;
  int points = box.points;
  assert_int_equal(store_from(d, &box, FAR_KEY(), &a2, 0, now), NN_STORE_FULL);
  nn_dht_store_stats(d, &st);
  assert_int_equal(st.refused_quota, 1);
  assert_int_equal(st.verified, verified); /* refused before the signature check */
  assert_int_equal(box.points, points + 1);
  /* the /24: 8 */
  for (uint8_t h = 6; h < 7; h++)
    for (int i = 0; i < 4; i++) {
      nn_addr_t b = host_at(198, 51, 100, h, 9800);
      assert_int_equal(store_from(d, &box, FAR_KEY(), &b, 1, now), NN_STORE_OK);
    }
  nn_addr_t c = host_at(198, 51, 100, 7, 9800);
  assert_int_equal(store_from(d, &box, FAR_KEY(), &c, 1, now), NN_STORE_FULL);
  nn_dht_store_stats(d, &st);
  assert_int_equal(st.refused_quota, 2);
  assert_int_equal(nn_dht_values(d), 8);

  /* fill the store from other /24s (4 a host, a host per /24), each STORE in its own second */
  for (uint8_t g = 1; nn_dht_values(d) < 64; g++) {
    nn_addr_t h = host_at(203, 0, g, 1, 9800);
    for (int i = 0; i < 4 && nn_dht_values(d) < 64; i++)
      assert_int_equal(store_from(d, &box, FAR_KEY(), &h, 1, now += 1000), NN_STORE_OK);
  }
  /* full: a newcomer no closer than the farthest value is refused, without a penalty */
  nn_addr_t n1 = host_at(192, 0, 2, 1, 9800);
  points = box.points;
  nn_node_id_t farthest = id_of(0x7f); /* distance 0xff..: farther than any stored value */
  assert_int_equal(store_from(d, &box, &farthest, &n1, 1, now), NN_STORE_FULL);
  nn_dht_store_stats(d, &st);
  assert_int_equal(st.refused_full, 1);
  assert_int_equal(box.points, points);
  /* the value farthest from us is the one with the largest counter (XOR with 0x80 0x00...) ...
   * unless someone other than its storer asked for it: then the next one goes */
  nn_node_id_t last = id_of(0x00), second = id_of(0x00);
  nn_be32_put(last.b + 28, next);
  nn_be32_put(second.b + 28, next - 1);
  {
    nn_rpc_t m;
    uint8_t buf[NN_RPC_MAX_LEN];
    memset(&m, 0, sizeof(m));
    m.kind = NN_RPC_FIND_VALUE;
    m.id = 10;
    m.target = last;
    size_t n = encode(&m, buf, sizeof(buf));
    nn_addr_t asker = host_at(192, 0, 2, 99, 9800);
    assert_int_equal(nn_dht_on_message(d, (void *)1, &self, &asker, 1, buf, n, now), NN_OK);
  }
  nn_node_id_t close = id_of(0x81); /* distance 0x01..: closer than all */
  assert_int_equal(store_from(d, &box, &close, &n1, 1, now), NN_STORE_OK);
  nn_dht_store_stats(d, &st);
  assert_int_equal(st.evicted, 1);
  size_t len;
  assert_non_null(nn_dht_get_local(d, &last, &len));
  assert_null(nn_dht_get_local(d, &second, &len));
  assert_non_null(nn_dht_get_local(d, &close, &len));
  assert_int_equal(nn_dht_values(d), 64);
  /* our own value always finds a place */
  nn_node_id_t mine = id_of(0x01);
  assert_int_equal(nn_dht_put(d, &mine, (const uint8_t *)"own", 3, now), NN_OK);
  assert_non_null(nn_dht_get_local(d, &mine, &len));
  assert_int_equal(nn_dht_values(d), 64);
#undef FAR_KEY
  nn_dht_free(d);
}

/* The last request the node sent: to whom, at which address, and its id. */
static uint64_t
last_request(const box_t *b, const nn_node_id_t *to, const nn_addr_t *at)
{
  nn_rpc_t m;
  assert_int_equal(nn_rpc_decode(&m, b->last, b->last_len), NN_OK);
  assert_true(nn_rpc_is_request(m.kind));
  assert_memory_equal(b->last_to.id.b, to->b, 32);
  assert_true(nn_addr_equal(&b->last_to.addr, at));
  return m.id;
}

static void
answer_nodes_from(nn_dht_t *d, uint64_t id, const nn_node_id_t *from, const nn_addr_t *at, int dialled,
                  const nn_rpc_node_t *nodes, size_t n, uint64_t now)
{
  nn_rpc_t m;
  uint8_t buf[NN_RPC_MAX_LEN];
  memset(&m, 0, sizeof(m));
  m.kind = NN_RPC_NODES;
  m.id = id;
  m.nnodes = n;
  for (size_t i = 0; i < n; i++)
    m.nodes[i] = nodes[i];
  size_t len = encode(&m, buf, sizeof(buf));
  assert_int_equal(nn_dht_on_message(d, (void *)1, from, at, dialled, buf, len, now), NN_OK);
}

/* Issue 10, item 7: a referrer's NODES answer (X, V) must not put X into the table at V when X
 * answers over a channel at its real address. */
static void
test_referral_cannot_poison_address(void **state)
{
  (void)state;
  box_t box;
  nn_dht_t *d;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { box_send, box_penalize, &box };
  nn_node_id_t self = id_of(0x80), r = id_of(0x40), x = id_of(0x42), target = id_of(0x43);
  nn_addr_t raddr = addr_of(1), xreal = addr_of(2), fake = addr_of(66), xfrom = addr_of(2);
  nn_dht_contact_t probe;
  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, 5);
  nn_rng_t rng = nn_drbg_rng(&drbg);
  xfrom.port = 40000; /* X's inbound channel: where it connects from */
  memset(&box, 0, sizeof(box));
  nn_dht_cfg_default(&cfg);
  cfg.rng = &rng;
  assert_int_equal(nn_dht_new(&d, &self, &cfg, &io, 0), NN_OK);
  nn_dht_table_t *t = nn_dht_table(d);
  nn_dht_table_seen(t, &r, &raddr, 1000, 10, &probe);
  nn_rpc_node_t liar = { x, fake };

  /* 1. X unknown; its answer comes over its inbound channel: not in the table at all */
  assert_true(nn_dht_lookup(d, &target, 0, NULL, NULL, 1000) != 0);
  answer_nodes_from(d, last_request(&box, &r, &raddr), &r, &raddr, 1, &liar, 1, 1010);
  answer_nodes_from(d, last_request(&box, &x, &fake), &x, &xfrom, 0, NULL, 0, 1020);
  assert_null(nn_dht_table_find(t, &x));
  assert_null(nn_dht_table_find_replacement(t, &x));
  nn_dht_tick(d, 100000);

  /* 2. over a channel we dialled to its real address: in the table there, not at V */
  assert_true(nn_dht_lookup(d, &target, 0, NULL, NULL, 200000) != 0);
  answer_nodes_from(d, last_request(&box, &r, &raddr), &r, &raddr, 1, &liar, 1, 200010);
  answer_nodes_from(d, last_request(&box, &x, &fake), &x, &xreal, 1, NULL, 0, 200020);
  const nn_dht_contact_t *c = nn_dht_table_find(t, &x);
  assert_non_null(c);
  assert_true(nn_addr_equal(&c->addr, &xreal));

  nn_dht_free(d);
}

static void
test_lookup_times_out_without_answers(void **state)
{
  (void)state;
  box_t box;
  nn_dht_t *d;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { box_send, box_penalize, &box };
  nn_node_id_t self = id_of(0x80), peer = id_of(0x81);
  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, 4);
  nn_rng_t rng = nn_drbg_rng(&drbg);
  memset(&box, 0, sizeof(box));
  nn_dht_cfg_default(&cfg);
  cfg.rng = &rng;
  assert_int_equal(nn_dht_new(&d, &self, &cfg, &io, 0), NN_OK);
  nn_dht_contact_t probe;
  nn_addr_t a = addr_of(8);
  assert_int_equal(nn_dht_table_seen(nn_dht_table(d), &peer, &a, 0, 0, &probe), NN_TABLE_ADDED);
  assert_int_not_equal(nn_dht_lookup(d, &peer, 0, NULL, NULL, 0), 0);
  assert_int_equal(box.sent, 1);
  assert_true(nn_dht_deadline(d) == 2000);
  nn_dht_tick(d, 1999);
  assert_int_equal(box.sent, 1);
  nn_dht_tick(d, 2000); /* timed out: the contact is charged a failure and the lookup ends */
  assert_int_equal(nn_dht_table_find(nn_dht_table(d), &peer)->fails, 1);
  nn_dht_free(d);
}

/* Request ids: the keyed hash of a counter, keyed from the injected rng. Up to max_inflight
 * pings go out, each with its own non-zero id; the same seed replays the same ids, another
 * seed gives others; a full in-flight table sends nothing. */
typedef struct ids_t {
  uint64_t id[16];
  size_t n;
} ids_t;

static void
ids_send(void *ctx, const nn_rpc_node_t *to, void *reply, const uint8_t *msg, size_t len)
{
  ids_t *b = ctx;
  nn_rpc_t m;
  (void)to;
  (void)reply;
  assert_int_equal(nn_rpc_decode(&m, msg, len), NN_OK);
  assert_true(b->n < 16);
  b->id[b->n++] = m.id;
}

static void
ping_all(uint64_t seed, ids_t *out)
{
  nn_dht_t *d;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { ids_send, NULL, out };
  nn_node_id_t self = id_of(0x80);
  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, seed);
  nn_rng_t rng = nn_drbg_rng(&drbg);
  memset(out, 0, sizeof(*out));
  nn_dht_cfg_default(&cfg);
  cfg.rng = &rng;
  cfg.max_inflight = 8;
  assert_int_equal(nn_dht_new(&d, &self, &cfg, &io, 0), NN_OK);
  for (uint8_t i = 0; i < 10; i++) {
    nn_rpc_node_t to = { id_of((uint8_t)(0x10 + i)), addr_of((uint8_t)(10 + i)) };
    nn_dht_add_contact(d, &to, 0);
  }
  nn_dht_free(d);
}

static void
test_request_ids(void **state)
{
  (void)state;
  ids_t a, b, c;
  ping_all(7, &a);
  ping_all(7, &b);
  ping_all(8, &c);
  assert_int_equal(a.n, 8); /* the in-flight table holds 8 */
  assert_int_equal(b.n, 8);
  assert_int_equal(c.n, 8);
  for (size_t i = 0; i < a.n; i++) {
    assert_true(a.id[i] != 0);
    assert_true(a.id[i] == b.id[i]);
    assert_true(a.id[i] != c.id[i]);
    for (size_t j = 0; j < i; j++)
      assert_true(a.id[i] != a.id[j]);
  }
}

/* ---- whole networks, in the simulator ---- */

static void
test_sim_network(void **state)
{
  (void)state;
  sim_dht_cfg_t cfg;
  sim_dht_stats_t st;
  sim_dht_cfg_default(&cfg);
  cfg.nodes = 300;
  cfg.lookups = 200;
  cfg.hours = 0.1;
  cfg.churn_per_hour = 0.2;
  cfg.quiet = 1;
  assert_int_equal(sim_dht_run(&cfg, &st, NULL), 0);
  printf("300 nodes, churn 20%%/h: success %.3f, P50 %.0f ms, P95 %.0f ms, hops %.2f\n", st.success, st.p50_ms,
         st.p95_ms, st.mean_hops);
  assert_int_equal(st.lookups, 200);
  assert_true(st.success >= 0.99);
  assert_true(st.mean_hops <= 8.2 / 3 + 1); /* log2(300)/3 + 1 */
  assert_true(st.channel_hits > 0);
}

static void
test_sim_adversaries(void **state)
{
  (void)state;
  sim_dht_cfg_t cfg;
  sim_dht_stats_t one, two;
  sim_dht_cfg_default(&cfg);
  cfg.nodes = 300;
  cfg.lookups = 200;
  cfg.hours = 0.1;
  cfg.churn_per_hour = 0;
  cfg.adversaries = 0.2;
  cfg.quiet = 1;
  cfg.paths = 1;
  assert_int_equal(sim_dht_run(&cfg, &one, NULL), 0);
  cfg.paths = 2;
  assert_int_equal(sim_dht_run(&cfg, &two, NULL), 0);
  printf("20%% colluding liars: success %.3f with 1 path, %.3f with 2 disjoint paths\n", one.success, two.success);
  /* disjoint paths must not do worse, and must keep most lookups working */
  assert_true(two.success >= one.success);
  assert_true(two.success >= 0.9);
}

/* The one-hop relay of first-round value lookups must not lose lookups, and in the simulator's
 * virtual time (deterministic: no wall clock involved) it must cut the tail latency. */
static void
test_sim_relay(void **state)
{
  (void)state;
  sim_dht_cfg_t cfg;
  sim_dht_stats_t relay, plain;
  sim_dht_cfg_default(&cfg);
  cfg.nodes = 1000;
  cfg.lookups = 200;
  cfg.hours = 0.05;
  cfg.churn_per_hour = 0;
  cfg.quiet = 1;
  assert_int_equal(sim_dht_run(&cfg, &relay, NULL), 0);
  cfg.no_relay = 1;
  assert_int_equal(sim_dht_run(&cfg, &plain, NULL), 0);
  printf("1000 nodes: P95 %.0f ms with relay, %.0f ms without\n", relay.p95_ms, plain.p95_ms);
  assert_true(relay.success >= 0.99 && plain.success >= 0.99);
  assert_true(relay.p95_ms < plain.p95_ms);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rpc_roundtrip),
    cmocka_unit_test(test_rpc_hostile),
    cmocka_unit_test(test_node_answers_and_penalizes),
    cmocka_unit_test(test_lookup_times_out_without_answers),
    cmocka_unit_test(test_referral_cannot_poison_address),
    cmocka_unit_test(test_value_store_quotas),
    cmocka_unit_test(test_request_ids),
    cmocka_unit_test(test_sim_network),
    cmocka_unit_test(test_sim_adversaries),
    cmocka_unit_test(test_sim_relay),
  };
  return cmocka_run_group_tests_name("dht", tests, NULL, NULL);
}
