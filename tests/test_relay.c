/*
 * Relayed circuits (src/nat/relay.c, src/node/relaynode.c; PROTOCOL.md 10.4): every message
 * and its bad forms; the relay's core with a recording world (a circuit end to end, each cap,
 * each violation, the rate held by credits, channels going down); and three nodes in one loop,
 * one behind "no inbound at all", reached through the third and given a transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "dht/record.h"
#include "lib/hex.h"
#include "lib/wire.h"
#include "nat/relay.h"
#include "node/node.h"
#include "nodeloop.h"

/* ---- messages ---- */

static nn_node_id_t
nid(uint8_t b)
{
  nn_node_id_t id;
  memset(id.b, b, sizeof(id.b));
  return id;
}

static void
test_messages(void **state)
{
  (void)state;
  uint8_t m[NN_RELAY_MAX_MSG + 8];
  nn_rlmsg_t p;
  nn_node_id_t a = nid(0xa1);

  nn_rlmsg_reserve(m);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_RESERVE_LEN), NN_OK);
  assert_int_equal(p.kind, NN_RLMSG_RESERVE);
  m[1] = 2;
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_RESERVE_LEN), NN_ERR_VERSION);

  nn_rlmsg_reserved(m, NN_RELAY_OK, 3600, 8, 1ull << 26, 1800, 524288);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_RESERVED_LEN), NN_OK);
  assert_int_equal(p.ttl_s, 3600);
  assert_int_equal(p.max_circuits, 8);
  assert_int_equal(p.circuit_bytes, 1ull << 26);
  assert_int_equal(p.circuit_s, 1800);
  assert_int_equal(p.rate, 524288);
  m[1] = NN_RELAY_STATUS_MAX;
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_RESERVED_LEN), NN_ERR_FORMAT);

  nn_rlmsg_connect(m, 7, &a);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CONNECT_LEN), NN_OK);
  assert_int_equal(p.cid, 7);
  assert_memory_equal(p.node.b, a.b, 32);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CONNECT_LEN - 1), NN_ERR_TRUNCATED);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CONNECT_LEN + 1), NN_ERR_TRAILING);
  nn_rlmsg_connect(m, NN_RELAY_CID_RELAY_PICKED | 7, &a); /* only a relay picks those */
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CONNECT_LEN), NN_ERR_FORMAT);

  uint32_t rc = NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED | 5;
  nn_rlmsg_incoming(m, rc, &a);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_INCOMING_LEN), NN_OK);
  assert_int_equal(p.flags, NN_RELAY_INCOMING_F_ID);
  nn_rlmsg_incoming(m, rc, NULL);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_INCOMING_LEN), NN_OK);
  assert_true(p.flags == 0 && p.node.b[0] == 0);
  m[10] = 1; /* an anonymous source with an id */
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_INCOMING_LEN), NN_ERR_FORMAT);
  nn_rlmsg_incoming(m, rc, &a);
  m[5] = 0x03; /* unknown flag */
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_INCOMING_LEN), NN_ERR_FORMAT);
  nn_rlmsg_incoming(m, 5, &a); /* an id the relay did not pick */
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_INCOMING_LEN), NN_ERR_FORMAT);

  nn_rlmsg_accept(m, 9);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_ACCEPT_LEN), NN_OK);
  assert_int_equal(p.cid, 9);

  nn_rlmsg_data_head(m, 9);
  memset(m + 5, 0x5a, NN_RELAY_MAX_DATA + 1);
  assert_int_equal(nn_rlmsg_parse(&p, m, 5 + 100), NN_OK);
  assert_int_equal(p.data_len, 100);
  assert_ptr_equal(p.data, m + 5);
  assert_int_equal(nn_rlmsg_parse(&p, m, 5 + NN_RELAY_MAX_DATA), NN_OK);
  assert_int_equal(nn_rlmsg_parse(&p, m, 5 + NN_RELAY_MAX_DATA + 1), NN_ERR_FORMAT);
  assert_int_equal(nn_rlmsg_parse(&p, m, 5), NN_ERR_FORMAT); /* empty */
  assert_int_equal(nn_rlmsg_parse(&p, m, 4), NN_ERR_TRUNCATED);

  nn_rlmsg_credit(m, 9, NN_RELAY_WINDOW);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CREDIT_LEN), NN_OK);
  nn_rlmsg_credit(m, 9, NN_RELAY_WINDOW + 1);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CREDIT_LEN), NN_ERR_FORMAT);
  nn_rlmsg_credit(m, 9, 0);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_CREDIT_LEN), NN_ERR_FORMAT);

  nn_rlmsg_end(m, 9, NN_RELAY_END_GONE);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_END_LEN), NN_OK);
  nn_rlmsg_end(m, 9, 0);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_END_LEN), NN_ERR_FORMAT);
  nn_rlmsg_end(m, 9, NN_RELAY_END_MAX);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_END_LEN), NN_ERR_FORMAT);

  /* OBSERVED: an IP address only; SHUT; PUNCH: up to 4 IP addresses with a port; SYNC: empty */
  static const uint8_t ip[4] = { 192, 0, 2, 9 };
  nn_addr_t ia = nn_addr_ipv4(ip, 4242), ra = nn_addr_overlay(NN_ADDR_RELAY, a.b, 0), pa[5];
  size_t ol = nn_rlmsg_observed(m, &ia);
  assert_int_equal(nn_rlmsg_parse(&p, m, ol), NN_OK);
  assert_true(nn_addr_equal(&p.addr, &ia));
  assert_int_equal(nn_rlmsg_parse(&p, m, ol - 1), NN_ERR_TRUNCATED);
  assert_int_equal(nn_rlmsg_parse(&p, m, ol + 1), NN_ERR_TRAILING);
  assert_int_equal(nn_rlmsg_observed(m, &ra), 0);
  m[1] = NN_ADDR_RELAY; /* a relay address where an IP address must be */
  memset(m + 2, 0x11, 34);
  assert_int_equal(nn_rlmsg_parse(&p, m, 2 + 34), NN_ERR_FORMAT);
  assert_int_equal(nn_rlmsg_parse(&p, m, ol), NN_ERR_TRUNCATED);
  nn_rlmsg_shut(m, 3);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_SHUT_LEN), NN_OK);
  assert_int_equal(nn_rlmsg_parse(&p, m, NN_RELAY_SHUT_LEN + 1), NN_ERR_TRAILING);
  uint8_t tok[NN_PUNCH_TOKEN_LEN];
  memset(tok, 0x42, sizeof(tok));
  for (int i = 0; i < 5; i++)
    pa[i] = nn_addr_ipv4(ip, (uint16_t)(1000 + i));
  size_t pl = nn_rlmsg_punch(m, tok, pa, 4);
  assert_true(pl > 0);
  assert_int_equal(nn_rlmsg_parse(&p, m, pl), NN_OK);
  assert_int_equal(p.n_addrs, 4);
  assert_memory_equal(p.token, tok, sizeof(tok));
  assert_int_equal(nn_rlmsg_punch(m, tok, pa, 5), 0); /* at most 4 */
  assert_int_equal(nn_rlmsg_punch(m, tok, &ra, 1), 0);
  pl = nn_rlmsg_punch(m, tok, NULL, 0); /* "I cannot punch" */
  assert_int_equal(nn_rlmsg_parse(&p, m, pl), NN_OK);
  assert_int_equal(p.n_addrs, 0);
  m[1] = 2;
  assert_int_equal(nn_rlmsg_parse(&p, m, pl), NN_ERR_VERSION);
  m[1] = 1;
  m[pl - 1] = 5; /* five addresses announced */
  assert_int_equal(nn_rlmsg_parse(&p, m, pl), NN_ERR_FORMAT);
  m[pl - 1] = 1; /* one announced, none there */
  assert_int_equal(nn_rlmsg_parse(&p, m, pl), NN_ERR_TRUNCATED);
  pl = nn_rlmsg_punch(m, tok, pa, 1);
  m[pl - 1] = 0;
  m[pl - 2] = 0; /* port 0 */
  assert_int_equal(nn_rlmsg_parse(&p, m, pl), NN_ERR_FORMAT);
  m[0] = NN_RLMSG_SYNC;
  assert_int_equal(nn_rlmsg_parse(&p, m, 1), NN_OK);
  assert_int_equal(nn_rlmsg_parse(&p, m, 2), NN_ERR_TRAILING);

  /* DIALBACK: none or one IP address; its RESULT: a status in its set, an observed address */
  size_t dl = nn_rlmsg_dialback(m, 77, &ia);
  assert_int_equal(nn_rlmsg_parse(&p, m, dl), NN_OK);
  assert_true(p.nonce == 77 && p.n_addrs == 1 && nn_addr_equal(&p.addrs[0], &ia));
  assert_int_equal(nn_rlmsg_parse(&p, m, dl - 1), NN_ERR_TRUNCATED);
  assert_int_equal(nn_rlmsg_dialback(m, 77, &ra), 10); /* not an IP address: none asked */
  m[9] = 2;
  assert_int_equal(nn_rlmsg_parse(&p, m, 10), NN_ERR_FORMAT);
  dl = nn_rlmsg_dialback_result(m, 78, NN_DIALBACK_REACHED, &ia);
  assert_int_equal(nn_rlmsg_parse(&p, m, dl), NN_OK);
  assert_true(p.nonce == 78 && p.status == NN_DIALBACK_REACHED && nn_addr_equal(&p.addr, &ia));
  m[9] = NN_DIALBACK_STATUS_MAX;
  assert_int_equal(nn_rlmsg_parse(&p, m, dl), NN_ERR_FORMAT);

  m[0] = 0x4e;
  assert_int_equal(nn_rlmsg_parse(&p, m, 6), NN_ERR_FORMAT);
  assert_int_equal(nn_rlmsg_parse(&p, m, 0), NN_ERR_TRUNCATED);

  /* which role a message is for */
  nn_rlmsg_data_head(m, 9);
  assert_true(nn_relay_owns(m, 10));
  nn_rlmsg_data_head(m, 9 | NN_RELAY_CID_FROM_RELAY);
  assert_false(nn_relay_owns(m, 10));
  nn_rlmsg_reserve(m);
  assert_true(nn_relay_owns(m, 2));
  nn_rlmsg_incoming(m, rc, &a);
  assert_false(nn_relay_owns(m, NN_RELAY_INCOMING_LEN));
  assert_false(nn_relay_owns(m, 0));
}

/* docs/PROTOCOL.md 10.4 quotes every message as these builders make it. */
static void
test_vectors(void **state)
{
  (void)state;
  FILE *fp = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "r");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long dl = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *doc = calloc(1, (size_t)dl + 1);
  assert_int_equal(fread(doc, 1, (size_t)dl, fp), (size_t)dl);
  fclose(fp);
  const char *at = strstr(doc, "### 10.4");
  assert_non_null(at);
  nn_node_id_t id;
  for (int i = 0; i < 32; i++)
    id.b[i] = (uint8_t)(0x20 + i);
  uint8_t res[NN_RELAY_RESERVE_LEN], rsd[NN_RELAY_RESERVED_LEN], con[NN_RELAY_CONNECT_LEN], inc[NN_RELAY_INCOMING_LEN],
    acc_t[NN_RELAY_ACCEPT_LEN], acc_r[NN_RELAY_ACCEPT_LEN], dat[11], cre[NN_RELAY_CREDIT_LEN], end[NN_RELAY_END_LEN];
  nn_rlmsg_reserve(res);
  nn_rlmsg_reserved(rsd, NN_RELAY_OK, 3600, 8, 64ull << 20, 1800, 512 * 1024);
  nn_rlmsg_connect(con, 7, &id);
  nn_rlmsg_incoming(inc, NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED | 1, &id);
  nn_rlmsg_accept(acc_t, NN_RELAY_CID_RELAY_PICKED | 1);
  nn_rlmsg_accept(acc_r, NN_RELAY_CID_FROM_RELAY | 7);
  nn_rlmsg_data_head(dat, 7);
  memcpy(dat + 5, "nepnet", 6);
  nn_rlmsg_credit(cre, NN_RELAY_CID_FROM_RELAY | NN_RELAY_CID_RELAY_PICKED | 1, 6);
  nn_rlmsg_end(end, NN_RELAY_CID_FROM_RELAY | 7, NN_RELAY_END_GONE);
  uint8_t obs[NN_RELAY_OBSERVED_MAX], shut[NN_RELAY_SHUT_LEN], punch[NN_PUNCH_MAX_LEN], sync[1] = { NN_RLMSG_SYNC };
  static const uint8_t ip1[4] = { 203, 0, 113, 7 }, ip2[4] = { 198, 51, 100, 1 };
  nn_addr_t oa = nn_addr_ipv4(ip1, 40000), pa = nn_addr_ipv4(ip2, 9800);
  uint8_t tok[NN_PUNCH_TOKEN_LEN];
  for (int i = 0; i < NN_PUNCH_TOKEN_LEN; i++)
    tok[i] = (uint8_t)i;
  size_t obs_len = nn_rlmsg_observed(obs, &oa), punch_len = nn_rlmsg_punch(punch, tok, &pa, 1);
  nn_rlmsg_shut(shut, 7);
  uint8_t dbk[NN_DIALBACK_MAX_LEN], dbr[NN_DIALBACK_MAX_LEN];
  nn_addr_t da = nn_addr_ipv4(ip1, 9800);
  size_t dbk_len = nn_rlmsg_dialback(dbk, 0x0102030405060708ull, &da),
         dbr_len = nn_rlmsg_dialback_result(dbr, 0x0102030405060708ull, NN_DIALBACK_REACHED, &da);
  const struct {
    const char *name;
    const uint8_t *b;
    size_t n;
  } v[] = { { "RESERVE", res, sizeof(res) },
            { "RESERVED", rsd, sizeof(rsd) },
            { "CONNECT", con, sizeof(con) },
            { "INCOMING", inc, sizeof(inc) },
            { "ACCEPT", acc_t, sizeof(acc_t) },
            { "ACCEPT", acc_r, sizeof(acc_r) },
            { "DATA", dat, sizeof(dat) },
            { "CREDIT", cre, sizeof(cre) },
            { "END", end, sizeof(end) },
            { "OBSERVED", obs, obs_len },
            { "SHUT", shut, sizeof(shut) },
            { "PUNCH", punch, punch_len },
            { "SYNC", sync, 1 },
            { "DIALBACK", dbk, dbk_len },
            { "DIALBACK_RESULT", dbr, dbr_len } };
  int missing = 0;
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char hex[2 * NN_PUNCH_MAX_LEN + 1];
    nn_rlmsg_t m;
    assert_int_equal(nn_rlmsg_parse(&m, v[i].b, v[i].n), NN_OK);
    nn_hex_encode(hex, v[i].b, v[i].n);
    if (!strstr(at, hex)) {
      fprintf(stderr, "PROTOCOL.md 10.4/10.5 do not quote %s = %s\n", v[i].name, hex);
      missing++;
    }
  }
  assert_int_equal(missing, 0);
  free(doc);
}

/* A record may name relays (port 0), and nothing else may have port 0. */
static void
test_record_addrs(void **state)
{
  (void)state;
  nn_peer_record_t *rec = calloc(1, sizeof(*rec));
  nn_node_id_t r = nid(0x77);
  uint8_t ip[4] = { 192, 0, 2, 1 };
  nn_peer_record_init(rec);
  rec->network = NN_NET_REGTEST;
  rec->issued_at = 1000;
  rec->expires_at = 2000;
  rec->n_addrs = 2;
  rec->addrs[0] = nn_addr_ipv4(ip, 9800);
  rec->addrs[1] = nn_addr_overlay(NN_ADDR_RELAY, r.b, 0);
  assert_int_equal(nn_peer_record_check(rec), NN_OK);
  rec->addrs[1].port = 1;
  assert_int_equal(nn_peer_record_check(rec), NN_ERR_FORMAT);
  rec->addrs[1].port = 0;
  rec->addrs[0].port = 0;
  assert_int_equal(nn_peer_record_check(rec), NN_ERR_FORMAT);
  free(rec);
}

/* ---- the relay's core in a recording world ---- */

#define MAXSENT 96

typedef struct sent_t {
  uint64_t conn;
  uint8_t msg[NN_RELAY_MAX_MSG];
  size_t len;
} sent_t;

typedef struct world_t {
  sent_t sent[MAXSENT];
  size_t nsent, seen;
  int holds[8]; /* by conn */
  int penalties[8];
} world_t;

static nn_err_t
w_send(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  world_t *w = ctx;
  assert_true(w->nsent < MAXSENT);
  assert_true(len <= NN_RELAY_MAX_MSG);
  w->sent[w->nsent].conn = conn;
  memcpy(w->sent[w->nsent].msg, msg, len);
  w->sent[w->nsent].len = len;
  w->nsent++;
  return NN_OK;
}

static void
w_hold(void *ctx, uint64_t conn, int on)
{
  world_t *w = ctx;
  w->holds[conn] += on ? 1 : -1;
  assert_true(w->holds[conn] >= 0);
}

static void
w_pen(void *ctx, uint64_t conn, int points, const char *why)
{
  world_t *w = ctx;
  (void)why;
  w->penalties[conn] += points;
}

/* The next message sent (to \a conn), parsed; fails the test if there is none. */
static nn_rlmsg_t
next(world_t *w, uint64_t conn)
{
  nn_rlmsg_t m;
  assert_true(w->seen < w->nsent);
  sent_t *s = &w->sent[w->seen++];
  assert_int_equal(s->conn, conn);
  assert_int_equal(nn_rlmsg_parse(&m, s->msg, s->len), NN_OK);
  return m;
}

static void
none(world_t *w)
{
  assert_int_equal(w->seen, w->nsent);
}

static nn_relay_t *
relay(world_t *w, int service, const nn_relay_limits_t *lim)
{
  nn_relay_limits_t d;
  nn_relay_t *r;
  nn_relay_io_t io = { w_send, w_hold, w_pen, w };
  if (!lim) {
    nn_relay_limits_default(&d);
    lim = &d;
  }
  memset(w, 0, sizeof(*w));
  assert_int_equal(nn_relay_new(&r, service, lim, &io), NN_OK);
  return r;
}

static void
in(nn_relay_t *r, uint64_t conn, const nn_node_id_t *peer, const uint8_t *m, size_t len, uint64_t now)
{
  nn_relay_input(r, conn, peer, NULL, m, len, now);
}

static void
reserve(nn_relay_t *r, world_t *w, uint64_t conn, const nn_node_id_t *id, uint8_t want_status)
{
  uint8_t m[NN_RELAY_RESERVE_LEN];
  nn_rlmsg_reserve(m);
  in(r, conn, id, m, sizeof(m), 0);
  nn_rlmsg_t a = next(w, conn);
  assert_int_equal(a.kind, NN_RLMSG_RESERVED);
  assert_int_equal(a.status, want_status);
}

/* A opens circuit \a cid to B through r; returns the id the relay picked on B's channel. */
static uint32_t
open_circuit(nn_relay_t *r, world_t *w, uint64_t ca, const nn_node_id_t *a, uint32_t cid, uint64_t cb,
             const nn_node_id_t *b)
{
  uint8_t m[NN_RELAY_CONNECT_LEN];
  nn_rlmsg_connect(m, cid, b);
  in(r, ca, a, m, sizeof(m), 0);
  nn_rlmsg_t inc = next(w, cb);
  assert_int_equal(inc.kind, NN_RLMSG_INCOMING);
  if (a)
    assert_memory_equal(inc.node.b, a->b, 32);
  uint32_t bc = inc.cid & ~NN_RELAY_CID_FROM_RELAY;
  nn_rlmsg_accept(m, bc);
  in(r, cb, b, m, NN_RELAY_ACCEPT_LEN, 0);
  nn_rlmsg_t acc = next(w, ca);
  assert_int_equal(acc.kind, NN_RLMSG_ACCEPT);
  assert_int_equal(acc.cid, cid | NN_RELAY_CID_FROM_RELAY);
  return bc;
}

static void
data(nn_relay_t *r, uint64_t conn, const nn_node_id_t *id, uint32_t cid, size_t n, uint8_t fill, uint64_t now)
{
  uint8_t m[5 + NN_RELAY_MAX_DATA];
  nn_rlmsg_data_head(m, cid);
  memset(m + 5, fill, n);
  in(r, conn, id, m, 5 + n, now);
}

static void
credit(nn_relay_t *r, uint64_t conn, const nn_node_id_t *id, uint32_t cid, uint32_t n, uint64_t now)
{
  uint8_t m[NN_RELAY_CREDIT_LEN];
  nn_rlmsg_credit(m, cid, n);
  in(r, conn, id, m, sizeof(m), now);
}

static void
test_circuit(void **state)
{
  (void)state;
  world_t w;
  nn_node_id_t a = nid(0xa1), b = nid(0xb2);
  nn_relay_t *r = relay(&w, 1, NULL);
  nn_relay_stats_t st;
  reserve(r, &w, 1, &b, NN_RELAY_OK);
  assert_int_equal(w.holds[1], 1);
  uint32_t bc = open_circuit(r, &w, 2, &a, 7, 1, &b);
  assert_true(bc & NN_RELAY_CID_RELAY_PICKED);
  /* A to B: the payload unchanged, the id B knows */
  data(r, 2, &a, 7, 1000, 0x11, 0);
  nn_rlmsg_t d = next(&w, 1);
  assert_int_equal(d.kind, NN_RLMSG_DATA);
  assert_int_equal(d.cid, bc | NN_RELAY_CID_FROM_RELAY);
  assert_int_equal(d.data_len, 1000);
  assert_int_equal(d.data[999], 0x11);
  /* B credits: the credit reaches A (the bucket starts full) */
  credit(r, 1, &b, bc, 1000, 0);
  nn_rlmsg_t c = next(&w, 2);
  assert_int_equal(c.kind, NN_RLMSG_CREDIT);
  assert_int_equal(c.cid, 7 | NN_RELAY_CID_FROM_RELAY);
  assert_int_equal(c.credit, 1000);
  /* B to A */
  data(r, 1, &b, bc, 300, 0x22, 0);
  d = next(&w, 2);
  assert_int_equal(d.cid, 7 | NN_RELAY_CID_FROM_RELAY);
  assert_int_equal(d.data_len, 300);
  /* A ends it: B hears, everything held is let go but the reservation */
  uint8_t e[NN_RELAY_END_LEN];
  nn_rlmsg_end(e, 7, NN_RELAY_END_NORMAL);
  in(r, 2, &a, e, sizeof(e), 0);
  nn_rlmsg_t en = next(&w, 1);
  assert_int_equal(en.kind, NN_RLMSG_END);
  assert_int_equal(en.cid, bc | NN_RELAY_CID_FROM_RELAY);
  assert_int_equal(en.reason, NN_RELAY_END_NORMAL);
  none(&w);
  nn_relay_stats(r, &st);
  assert_int_equal(st.opened, 1);
  assert_int_equal(st.bytes, 1300);
  assert_int_equal(st.circuits, 0);
  assert_int_equal(st.reservations, 1);
  assert_int_equal(w.holds[1], 1);
  assert_int_equal(w.holds[2], 0);
  /* late messages for the gone circuit are ignored, not punished */
  data(r, 1, &b, bc, 10, 0, 0);
  none(&w);
  nn_relay_stats(r, &st);
  assert_int_equal(st.late, 1);
  assert_int_equal(w.penalties[1], 0);
  /* an anonymous source may open a circuit; B is told nothing of who it is */
  uint8_t m[NN_RELAY_CONNECT_LEN];
  nn_rlmsg_connect(m, 8, &b);
  in(r, 3, NULL, m, sizeof(m), 0);
  nn_rlmsg_t inc = next(&w, 1);
  assert_int_equal(inc.flags, 0);
  /* B refuses: A hears REFUSED */
  nn_rlmsg_end(e, inc.cid & ~NN_RELAY_CID_FROM_RELAY, NN_RELAY_END_NORMAL);
  in(r, 1, &b, e, sizeof(e), 0);
  en = next(&w, 3);
  assert_int_equal(en.reason, NN_RELAY_END_REFUSED);
  nn_relay_free(r);
}

static void
test_refusals(void **state)
{
  (void)state;
  world_t w;
  nn_node_id_t a = nid(0xa1), b = nid(0xb2), c = nid(0xc3);
  nn_relay_limits_t lim;
  nn_relay_stats_t st;
  uint8_t m[NN_RELAY_CONNECT_LEN];

  /* no service, anonymous, full */
  nn_relay_t *r = relay(&w, 0, NULL);
  reserve(r, &w, 1, &b, NN_RELAY_NO_SERVICE);
  nn_rlmsg_connect(m, 1, &b);
  in(r, 2, &a, m, sizeof(m), 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_NO_TARGET);
  nn_relay_free(r);
  nn_relay_limits_default(&lim);
  lim.max_reservations = 1;
  lim.max_per_source = 2;
  lim.max_per_target = 3;
  lim.max_circuits = 4;
  r = relay(&w, 1, &lim);
  reserve(r, &w, 1, NULL, NN_RELAY_ANONYMOUS);
  reserve(r, &w, 1, &b, NN_RELAY_OK);
  reserve(r, &w, 1, &b, NN_RELAY_OK); /* a renewal */
  reserve(r, &w, 3, &c, NN_RELAY_FULL);
  assert_int_equal(w.holds[1], 1);
  /* no such target; oneself as the target; the target's own channel */
  nn_rlmsg_connect(m, 1, &c);
  in(r, 2, &a, m, sizeof(m), 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_NO_TARGET);
  nn_rlmsg_connect(m, 1, &b);
  in(r, 2, &b, m, sizeof(m), 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_NO_TARGET);
  in(r, 1, &b, m, sizeof(m), 0);
  assert_int_equal(next(&w, 1).reason, NN_RELAY_END_NO_TARGET);
  /* per source: 2 */
  for (uint32_t i = 1; i <= 3; i++) {
    nn_rlmsg_connect(m, i, &b);
    in(r, 2, &a, m, sizeof(m), 0);
    nn_rlmsg_t x = next(&w, i < 3 ? 1 : 2);
    assert_int_equal(x.kind, i < 3 ? NN_RLMSG_INCOMING : NN_RLMSG_END);
    if (i == 3)
      assert_int_equal(x.reason, NN_RELAY_END_FULL);
  }
  /* per target: 3 (one more from another source, then full) */
  nn_rlmsg_connect(m, 1, &b);
  in(r, 4, &c, m, sizeof(m), 0);
  assert_int_equal(next(&w, 1).kind, NN_RLMSG_INCOMING);
  nn_rlmsg_connect(m, 2, &b);
  in(r, 4, &c, m, sizeof(m), 0);
  assert_int_equal(next(&w, 4).reason, NN_RELAY_END_FULL);
  /* a circuit id in use is a violation */
  nn_rlmsg_connect(m, 1, &b);
  in(r, 2, &a, m, sizeof(m), 0);
  none(&w);
  assert_int_equal(w.penalties[2], 10);
  /* garbage is a violation; nothing is sent */
  uint8_t g[3] = { NN_RLMSG_CONNECT, 1, 2 };
  in(r, 5, &a, g, sizeof(g), 0);
  none(&w);
  assert_int_equal(w.penalties[5], 10);
  nn_relay_stats(r, &st);
  assert_int_equal(st.refused[NN_RELAY_ANONYMOUS], 1);
  assert_int_equal(st.refused[NN_RELAY_FULL], 1);
  assert_int_equal(st.violations, 2);
  assert_int_equal(st.circuits, 3);
  /* the target's channel goes: its circuits end (each source hears GONE), the reservation goes */
  nn_relay_down(r, 1, 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(next(&w, i < 2 ? 2 : 4).reason, NN_RELAY_END_GONE);
  none(&w);
  nn_relay_stats(r, &st);
  assert_int_equal(st.circuits, 0);
  assert_int_equal(st.reservations, 0);
  assert_int_equal(w.holds[2], 0);
  assert_int_equal(w.holds[4], 0);
  nn_relay_free(r);
}

static void
test_abuse(void **state)
{
  (void)state;
  world_t w;
  nn_node_id_t a = nid(0xa1), b = nid(0xb2);
  nn_relay_limits_t lim;
  nn_relay_stats_t st;
  uint8_t m[NN_RELAY_CONNECT_LEN];

  /* DATA beyond the window without credit */
  nn_relay_t *r = relay(&w, 1, NULL);
  reserve(r, &w, 1, &b, NN_RELAY_OK);
  uint32_t bc = open_circuit(r, &w, 2, &a, 1, 1, &b);
  for (uint32_t sent = 0; sent < NN_RELAY_WINDOW; sent += NN_RELAY_MAX_DATA) {
    data(r, 2, &a, 1, NN_RELAY_MAX_DATA, 0, 0);
    assert_int_equal(next(&w, 1).kind, NN_RLMSG_DATA);
  }
  data(r, 2, &a, 1, 1, 0, 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_VIOLATION);
  assert_int_equal(next(&w, 1).reason, NN_RELAY_END_VIOLATION);
  assert_int_equal(w.penalties[2], 10);
  /* CREDIT for more than was sent */
  bc = open_circuit(r, &w, 2, &a, 2, 1, &b);
  data(r, 2, &a, 2, 100, 0, 0);
  (void)next(&w, 1);
  credit(r, 1, &b, bc, 101, 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_VIOLATION);
  assert_int_equal(next(&w, 1).reason, NN_RELAY_END_VIOLATION);
  assert_int_equal(w.penalties[1], 10);
  /* DATA before the target accepted */
  nn_rlmsg_connect(m, 3, &b);
  in(r, 2, &a, m, sizeof(m), 0);
  (void)next(&w, 1);
  data(r, 2, &a, 3, 10, 0, 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_VIOLATION);
  (void)next(&w, 1);
  none(&w);
  nn_relay_free(r);

  /* the byte cap, the time cap, the accept timeout, the reservation's end */
  nn_relay_limits_default(&lim);
  lim.circuit_bytes = 1000;
  lim.circuit_s = 60;
  lim.reservation_s = 600;
  r = relay(&w, 1, &lim);
  reserve(r, &w, 1, &b, NN_RELAY_OK);
  open_circuit(r, &w, 2, &a, 1, 1, &b);
  data(r, 2, &a, 1, 900, 0, 0);
  (void)next(&w, 1);
  data(r, 2, &a, 1, 101, 0, 0);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_BYTES);
  assert_int_equal(next(&w, 1).reason, NN_RELAY_END_BYTES);
  open_circuit(r, &w, 2, &a, 2, 1, &b);
  nn_rlmsg_connect(m, 3, &b);
  in(r, 2, &a, m, sizeof(m), 0);
  (void)next(&w, 1); /* never accepted */
  assert_true(nn_relay_tick(r, 9999) > 9999);
  none(&w);
  (void)nn_relay_tick(r, 10000);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_TIME); /* the unanswered one */
  (void)next(&w, 1);
  (void)nn_relay_tick(r, 60000);
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_TIME); /* the open one, at 60 s */
  (void)next(&w, 1);
  open_circuit(r, &w, 2, &a, 4, 1, &b);
  (void)nn_relay_tick(r, 600000); /* the reservation expires: its circuit ends with it */
  assert_int_equal(next(&w, 2).reason, NN_RELAY_END_TIME);
  (void)next(&w, 1);
  none(&w);
  nn_relay_stats(r, &st);
  assert_int_equal(st.reservations, 0);
  assert_int_equal(st.ended[NN_RELAY_END_BYTES], 1);
  assert_int_equal(st.ended[NN_RELAY_END_TIME], 3);
  assert_int_equal(w.holds[1], 0);
  assert_int_equal(w.holds[2], 0);
  nn_relay_free(r);
}

/* The rate: once the first window is through, credits come back at the rate, not faster. */
static void
test_rate(void **state)
{
  (void)state;
  world_t w;
  nn_node_id_t a = nid(0xa1), b = nid(0xb2);
  nn_relay_limits_t lim;
  nn_relay_stats_t st;
  nn_relay_limits_default(&lim);
  lim.rate = 64 * 1024;
  nn_relay_t *r = relay(&w, 1, &lim);
  reserve(r, &w, 1, &b, NN_RELAY_OK);
  uint32_t bc = open_circuit(r, &w, 2, &a, 1, 1, &b);
  uint64_t credited = 0, now = 0;
  /* 10 s of a sender that always uses its whole window and a receiver that credits at once */
  uint64_t sendable = NN_RELAY_WINDOW;
  while (now <= 10000) {
    while (sendable >= NN_RELAY_MAX_DATA) {
      data(r, 2, &a, 1, NN_RELAY_MAX_DATA, 0, now);
      assert_int_equal(next(&w, 1).kind, NN_RLMSG_DATA);
      credit(r, 1, &b, bc, NN_RELAY_MAX_DATA, now);
      sendable -= NN_RELAY_MAX_DATA;
      while (w.seen < w.nsent) {
        nn_rlmsg_t c = next(&w, 2);
        assert_int_equal(c.kind, NN_RLMSG_CREDIT);
        credited += c.credit;
        sendable += c.credit;
      }
    }
    now += 100;
    (void)nn_relay_tick(r, now);
    while (w.seen < w.nsent) {
      nn_rlmsg_t c = next(&w, 2);
      credited += c.credit;
      sendable += c.credit;
    }
    w.nsent = w.seen = 0;
  }
  /* the bucket starts full (a window and 10 ms of the rate), then 64 KiB/s for the 10.1 s ticked */
  uint64_t full = NN_RELAY_WINDOW + 64 * 1024 / 100;
  assert_true(credited <= full + (uint64_t)(now * 64 * 1024 / 1000) + 1);
  assert_true(credited >= full + (uint64_t)((now - 1000) * 64 * 1024 / 1000));
  nn_relay_stats(r, &st);
  assert_true(st.credits_held > 0);
  assert_int_equal(st.violations, 0);
  nn_relay_free(r);

  /* a fast rate and a clock in milliseconds: four windows within one millisecond pass at once
   * (a bucket of one window held the second until a timer, some 4 ms a window on a fast link) */
  lim.rate = 1u << 30;
  r = relay(&w, 1, &lim);
  reserve(r, &w, 1, &b, NN_RELAY_OK);
  bc = open_circuit(r, &w, 2, &a, 1, 1, &b);
  w.nsent = w.seen = 0;
  credited = 0;
  for (unsigned i = 0; i < 4 * (NN_RELAY_WINDOW / NN_RELAY_MAX_DATA); i++) {
    data(r, 2, &a, 1, NN_RELAY_MAX_DATA, 0, 5);
    assert_int_equal(next(&w, 1).kind, NN_RLMSG_DATA);
    credit(r, 1, &b, bc, NN_RELAY_MAX_DATA, 5);
    nn_rlmsg_t c = next(&w, 2);
    assert_int_equal(c.kind, NN_RLMSG_CREDIT);
    credited += c.credit;
    w.nsent = w.seen = 0;
  }
  assert_int_equal(credited, 4 * (NN_RELAY_WINDOW / NN_RELAY_MAX_DATA) * NN_RELAY_MAX_DATA);
  nn_relay_stats(r, &st);
  assert_int_equal(st.credits_held, 0);
  nn_relay_free(r);
}

/* ---- nodes: B accepts nothing, reserves at R, and A reaches it through R ---- */

typedef struct trio_t {
  tnode_t *r, *a, *b;
} trio_t;

static int
b_reserved(void *arg)
{
  trio_t *t = arg;
  nn_relaynode_stats_t st;
  nn_relaynode_stats(nn_node_relay(t->b->n), &st);
  const nn_peer_record_t *rec = nn_disco_record(nn_node_disco(t->b->n));
  return st.reservations == 1 && rec && rec->n_addrs == 1;
}

static int
r_published(void *arg)
{
  trio_t *t = arg;
  return nn_disco_record(nn_node_disco(t->r->n)) != NULL;
}

static int
b_received(void *arg)
{
  trio_t *t = arg;
  nn_node_stats_t st;
  nn_node_stats(t->b->n, &st);
  return st.tx_received >= 1;
}

static int
a_has_peer(void *arg)
{
  trio_t *t = arg;
  nn_node_stats_t st;
  nn_node_stats(t->a->n, &st);
  return st.gossip.peers_out >= 1;
}

static void
test_nodes(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t r, a, b;
  trio_t t = { &r, &a, &b };
  nn_node_cfg_t c;
  const char *peers[1], *conn[1];
  char target[300];
  memset(&r, 0, sizeof(r));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));

  loop_cfg(&c);
  tnode_start(&r, base, 301, &c);
  peers[0] = r.peer;
  /* B: no listener, so no address of its own: it reserves at the relay it is given */
  loop_cfg(&c);
  c.listen = NULL;
  c.disco.peers = peers;
  c.disco.n_peers = 1;
  c.relay.relays = peers;
  c.relay.n_relays = 1;
  tnode_start(&b, base, 302, &c);
  assert_true(run_until(base, b_reserved, &t, 20000));
  const nn_peer_record_t *rec = nn_disco_record(nn_node_disco(b.n));
  assert_int_equal(rec->addrs[0].type, NN_ADDR_RELAY);
  assert_memory_equal(rec->addrs[0].host, nn_disco_node_id(nn_node_disco(r.n))->b, 32);
  assert_int_equal(rec->flags & NN_PEER_RECORD_F_INBOUND, 0);

  /* A gossips with B only, through R: "B@R.relay:0" */
  char bhex[65], raddr[NN_ADDR_STR_MAX];
  nn_hex_encode(bhex, nn_disco_node_id(nn_node_disco(b.n))->b, 32);
  nn_addr_format(&rec->addrs[0], raddr);
  snprintf(target, sizeof(target), "%s@%s", bhex, raddr);
  conn[0] = target;
  loop_cfg(&c);
  c.disco.peers = peers;
  c.disco.n_peers = 1;
  c.gossip.connect = conn;
  c.gossip.n_connect = 1;
  c.relay.service = 0;
  tnode_start(&a, base, 303, &c);
  assert_true(run_until(base, a_has_peer, &t, 20000));
  uint64_t bc = nn_net_find(nn_node_net(a.n), nn_disco_node_id(nn_node_disco(b.n)), 1);
  nn_net_conn_info_t ci;
  assert_true(bc && nn_net_conn_info(nn_node_net(a.n), bc, &ci));
  assert_string_equal(ci.transport, "relay");
  assert_int_equal(ci.addr.type, NN_ADDR_RELAY);

  /* a 100 KB transaction from A reaches B through the circuit */
  size_t len = 100000;
  uint8_t *tx = malloc(len);
  nn_hash_t id;
  nn_error_t err;
  for (size_t i = 0; i < len; i++)
    tx[i] = (uint8_t)(i * 13 + 1);
  assert_int_equal(nn_node_submit(a.n, tx, len, id.b, &err), NN_OK);
  assert_true(run_until(base, b_received, &t, 30000));
  nn_api_rx_t rx[2];
  uint64_t nx;
  assert_int_equal(nn_node_received(b.n, 0, rx, 2, &nx), 1);
  assert_int_equal(rx[0].len, len);
  assert_memory_equal(rx[0].tx, tx, len);
  free(tx);

  /* the relay says in its record that it relays */
  assert_true(run_until(base, r_published, &t, 20000));
  assert_int_equal(nn_disco_record(nn_node_disco(r.n))->flags & NN_PEER_RECORD_F_RELAY, NN_PEER_RECORD_F_RELAY);
  nn_relaynode_stats_t rs, as, bs;
  nn_relaynode_stats(nn_node_relay(r.n), &rs);
  nn_relaynode_stats(nn_node_relay(a.n), &as);
  nn_relaynode_stats(nn_node_relay(b.n), &bs);
  assert_true(rs.relay.opened >= 1);
  assert_true(rs.relay.bytes >= len);
  assert_int_equal(rs.relay.violations, 0);
  assert_true(as.dialled >= 1);
  assert_true(bs.accepted >= 1);
  assert_true(as.bytes_out + as.bytes_in + bs.bytes_in + bs.bytes_out <= 2 * rs.relay.bytes);

  tnode_stop(&a);
  tnode_stop(&b);
  tnode_stop(&r);
  base_drain_free(base);
}

static int
both_punched(void *arg)
{
  trio_t *t = arg;
  nn_relaynode_stats_t a, b;
  nn_relaynode_stats(nn_node_relay(t->a->n), &a);
  nn_relaynode_stats(nn_node_relay(t->b->n), &b);
  return a.punched >= 1 && b.punched >= 1;
}

/* B listens (on a wildcard, so it has no address to advertise and reserves at R); A reaches it
 * through R, the two punch a direct connection, and the channel moves onto it: a transaction
 * then goes from A to B without R carrying it. */
static void
test_punch(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t r, a, b;
  trio_t t = { &r, &a, &b };
  nn_node_cfg_t c;
  const char *peers[1], *conn[1];
  char target[300];
  memset(&r, 0, sizeof(r));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  loop_cfg(&c);
  tnode_start(&r, base, 311, &c);
  peers[0] = r.peer;
  loop_cfg(&c);
  c.listen = "0.0.0.0:0";
  c.disco.peers = peers;
  c.disco.n_peers = 1;
  c.relay.relays = peers;
  c.relay.n_relays = 1;
  tnode_start(&b, base, 312, &c);
  assert_true(run_until(base, b_reserved, &t, 20000));
  const nn_peer_record_t *rec = nn_disco_record(nn_node_disco(b.n));
  char bhex[65], raddr[NN_ADDR_STR_MAX];
  nn_hex_encode(bhex, nn_disco_node_id(nn_node_disco(b.n))->b, 32);
  nn_addr_format(&rec->addrs[0], raddr);
  snprintf(target, sizeof(target), "%s@%s", bhex, raddr);
  conn[0] = target;
  /* A too has no address of its own: nothing but the punch can give them a direct connection */
  loop_cfg(&c);
  c.listen = "0.0.0.0:0";
  c.disco.peers = peers;
  c.disco.n_peers = 1;
  c.gossip.connect = conn;
  c.gossip.n_connect = 1;
  tnode_start(&a, base, 313, &c);
  assert_true(run_until(base, both_punched, &t, 30000));
  nn_relaynode_stats_t rs0, rs1, as;
  nn_relaynode_stats(nn_node_relay(r.n), &rs0);
  assert_int_equal(rs0.relay.punched, 1);
  assert_int_equal(rs0.relay.circuits, 0);

  size_t len = 200000;
  uint8_t *tx = malloc(len);
  nn_hash_t id;
  nn_error_t err;
  for (size_t i = 0; i < len; i++)
    tx[i] = (uint8_t)(i * 7 + 3);
  assert_true(run_until(base, a_has_peer, &t, 20000));
  assert_int_equal(nn_node_submit(a.n, tx, len, id.b, &err), NN_OK);
  assert_true(run_until(base, b_received, &t, 30000));
  nn_api_rx_t rx[2];
  uint64_t nx;
  assert_int_equal(nn_node_received(b.n, 0, rx, 2, &nx), 1);
  assert_memory_equal(rx[0].tx, tx, len);
  free(tx);
  /* the transaction went over the punched connection: the relay carried none of it */
  nn_relaynode_stats(nn_node_relay(r.n), &rs1);
  assert_int_equal(rs1.relay.bytes, rs0.relay.bytes);
  nn_relaynode_stats(nn_node_relay(a.n), &as);
  assert_true(as.bytes_out >= len);
  assert_int_equal(as.punch_bad_probe, 0);

  tnode_stop(&a);
  tnode_stop(&b);
  tnode_stop(&r);
  base_drain_free(base);
}

typedef struct nodes3_t {
  tnode_t *r1, *r2, *b;
} nodes3_t;

static int
b_public(void *arg)
{
  nodes3_t *q = arg;
  const nn_peer_record_t *rec = nn_disco_record(nn_node_disco(q->b->n));
  return nn_relaynode_reach(nn_node_relay(q->b->n), NULL, NULL, 0) == NN_REACH_PUBLIC && rec &&
         (rec->flags & NN_PEER_RECORD_F_INBOUND);
}

/* Dial-back: B listens on a wildcard (no address to advertise); two public peers dial it back
 * at the address they see, so B learns it is reachable, publishes that address and relays. */
static void
test_autonat(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  tnode_t r1, r2, b;
  nodes3_t q = { &r1, &r2, &b };
  nn_node_cfg_t c;
  const char *peers[2];
  memset(&r1, 0, sizeof(r1));
  memset(&r2, 0, sizeof(r2));
  memset(&b, 0, sizeof(b));
  loop_cfg(&c);
  tnode_start(&r1, base, 321, &c);
  loop_cfg(&c);
  tnode_start(&r2, base, 322, &c);
  peers[0] = r1.peer;
  peers[1] = r2.peer;
  loop_cfg(&c);
  c.listen = "0.0.0.0:0";
  c.disco.peers = peers;
  c.disco.n_peers = 2;
  tnode_start(&b, base, 323, &c);
  assert_int_equal(nn_relaynode_reach(nn_node_relay(b.n), NULL, NULL, 0), NN_REACH_UNKNOWN);
  assert_int_equal(nn_relaynode_reach(nn_node_relay(r1.n), NULL, NULL, 0), NN_REACH_FIXED);
  assert_true(run_until(base, b_public, &q, 30000));
  nn_addr_t a;
  char why[256];
  assert_int_equal(nn_relaynode_reach(nn_node_relay(b.n), &a, why, sizeof(why)), NN_REACH_PUBLIC);
  assert_non_null(strstr(why, "dialled us back"));
  const nn_peer_record_t *rec = nn_disco_record(nn_node_disco(b.n));
  assert_true(nn_addr_equal(&rec->addrs[0], &a));
  assert_true(rec->flags & NN_PEER_RECORD_F_RELAY);
  uint64_t done = 0, refused = 0, d2 = 0;
  nn_relaynode_dialbacks(nn_node_relay(r1.n), &done, &refused);
  nn_relaynode_dialbacks(nn_node_relay(r2.n), &d2, &refused);
  assert_true(done + d2 >= 2);
  tnode_stop(&b);
  tnode_stop(&r2);
  tnode_stop(&r1);
  base_drain_free(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_messages), cmocka_unit_test(test_vectors),  cmocka_unit_test(test_record_addrs),
    cmocka_unit_test(test_circuit),  cmocka_unit_test(test_refusals), cmocka_unit_test(test_abuse),
    cmocka_unit_test(test_rate),     cmocka_unit_test(test_nodes),    cmocka_unit_test(test_punch),
    cmocka_unit_test(test_autonat),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
