/*
 * NAT behaviour discovery (nat/natdisc.h) against the real STUN server core (nat/stunsrv.h)
 * through a model NAT in virtual time, for every mapping x filtering behaviour of RFC 4787 and
 * for no NAT; a server without a second address, a server that never answers, lost packets. And
 * the server's budgets and errors. What can fail: a behaviour classified as another (the
 * filtering tests run after a packet to the alternate address, the mapping compared with the
 * wrong test), an answer taken from the wrong address or with the wrong transaction id,
 * retransmissions that are not RFC 8489's, a server that answers beyond its budgets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/natdisc.h"
#include "nat/stun.h"
#include "nat/stunsrv.h"

#define LATENCY_MS 10
#define MAXQ 64

typedef struct pkt_t {
  uint64_t at;
  int to_server;
  nn_addr_t src, dst;
  uint8_t data[NN_STUN_MAX_MSG];
  size_t len;
} pkt_t;

typedef struct mapping_t {
  nn_addr_t sel;      /* the destination part the mapping depends on */
  uint16_t ext;       /* external port */
  nn_addr_t sent[16]; /* destinations sent to through it (the filter's memory) */
  unsigned nsent;
} mapping_t;

typedef struct net_t {
  nn_nat_mapping_t map; /* NONE: no NAT */
  nn_nat_filtering_t filt;
  nn_addr_t local, pub; /* the client's address, the NAT's public address */
  mapping_t maps[16];
  unsigned nmaps;
  pkt_t q[MAXQ];
  unsigned nq;
  uint64_t now;
  unsigned drop_first; /* packets the network loses first, either way */
  int server_alt;      /* the server has its second address and port */
  int server_dead;
  nn_stunsrv_t *srv;
  nn_stunsrv_cfg_t scfg;
  nn_natdisc_t *d;
} net_t;

static void
addr(nn_addr_t *a, const char *s)
{
  assert_int_equal(nn_addr_parse(a, s), NN_OK);
}

static void
enqueue(net_t *n, int to_server, const nn_addr_t *src, const nn_addr_t *dst, const uint8_t *data, size_t len)
{
  if (n->drop_first) {
    n->drop_first--;
    return;
  }
  assert_true(n->nq < MAXQ);
  pkt_t *p = &n->q[n->nq++];
  p->at = n->now + LATENCY_MS;
  p->to_server = to_server;
  p->src = *src;
  p->dst = *dst;
  memcpy(p->data, data, len);
  p->len = len;
}

/* The NAT's outbound side: which mapping a packet to \a dst takes. */
static mapping_t *
nat_out(net_t *n, const nn_addr_t *dst)
{
  nn_addr_t sel = *dst;
  if (n->map == NN_NAT_MAP_EIM)
    memset(&sel, 0, sizeof(sel));
  else if (n->map == NN_NAT_MAP_ADM)
    sel.port = 0;
  for (unsigned i = 0; i < n->nmaps; i++)
    if (nn_addr_equal(&n->maps[i].sel, &sel))
      return &n->maps[i];
  assert_true(n->nmaps < 16);
  mapping_t *m = &n->maps[n->nmaps];
  memset(m, 0, sizeof(*m));
  m->sel = sel;
  m->ext = (uint16_t)(40000 + 7 * n->nmaps++);
  return m;
}

static void
client_send(void *ctx, const nn_addr_t *to, const uint8_t *msg, size_t len)
{
  net_t *n = ctx;
  nn_addr_t src = n->local;
  if (n->map != NN_NAT_MAP_NONE) {
    mapping_t *m = nat_out(n, to);
    int known = 0;
    for (unsigned i = 0; i < m->nsent; i++)
      known |= nn_addr_equal(&m->sent[i], to);
    if (!known && m->nsent < 16)
      m->sent[m->nsent++] = *to;
    src = n->pub;
    src.port = m->ext;
  }
  enqueue(n, 1, &src, to, msg, len);
}

/* The NAT's inbound side: 1 if the filter lets a packet from \a from to external port \a ext in. */
static int
nat_in(net_t *n, const nn_addr_t *from, uint16_t ext)
{
  for (unsigned i = 0; i < n->nmaps; i++) {
    mapping_t *m = &n->maps[i];
    if (m->ext != ext)
      continue;
    if (n->filt == NN_NAT_FILTER_EIF)
      return 1;
    for (unsigned j = 0; j < m->nsent; j++)
      if (n->filt == NN_NAT_FILTER_ADF ? nn_addr_same_host(&m->sent[j], from) : nn_addr_equal(&m->sent[j], from))
        return 1;
  }
  return 0;
}

static void
deliver(net_t *n, pkt_t *p)
{
  if (p->to_server) {
    unsigned sock = NN_STUNSRV_SOCKETS, out_sock;
    uint8_t ans[NN_STUNSRV_MAX_ANSWER];
    size_t len;
    for (unsigned i = 0; i < NN_STUNSRV_SOCKETS; i++)
      if (n->scfg.addr[i].type && nn_addr_equal(&n->scfg.addr[i], &p->dst))
        sock = i;
    if (sock == NN_STUNSRV_SOCKETS || n->server_dead)
      return;
    if (nn_stunsrv_input(n->srv, sock, &p->src, p->data, p->len, n->now, ans, &len, &out_sock))
      enqueue(n, 0, &n->scfg.addr[out_sock], &p->src, ans, len);
    return;
  }
  if (n->map != NN_NAT_MAP_NONE) {
    if (!nn_addr_same_host(&p->dst, &n->pub) || !nat_in(n, &p->src, p->dst.port))
      return;
  } else if (!nn_addr_equal(&p->dst, &n->local)) {
    return;
  }
  (void)nn_natdisc_input(n->d, &p->src, p->data, p->len, n->now);
}

static void
run(net_t *n, nn_natdisc_result_t *res)
{
  nn_natdisc_cfg_t cfg;
  nn_natdisc_io_t io = { client_send, n };
  nn_stunsrv_cfg_default(&n->scfg);
  addr(&n->scfg.addr[0], "198.51.100.1:3478");
  if (n->server_alt) {
    addr(&n->scfg.addr[1], "198.51.100.1:3479");
    addr(&n->scfg.addr[2], "198.51.100.2:3478");
    addr(&n->scfg.addr[3], "198.51.100.2:3479");
  }
  assert_int_equal(nn_stunsrv_new(&n->srv, &n->scfg), NN_OK);
  nn_natdisc_cfg_default(&cfg);
  cfg.server = n->scfg.addr[0];
  cfg.local = n->local;
  n->now = 1000;
  assert_int_equal(nn_natdisc_new(&n->d, &cfg, &io, n->now), NN_OK);
  for (int guard = 0; guard < 10000; guard++) {
    nn_natdisc_result(n->d, res);
    if (res->state != NN_NATDISC_RUNNING)
      break;
    uint64_t next = nn_natdisc_deadline(n->d);
    unsigned first = MAXQ;
    for (unsigned i = 0; i < n->nq; i++)
      if (n->q[i].at <= next && (first == MAXQ || n->q[i].at < n->q[first].at))
        first = i;
    if (first < MAXQ) {
      pkt_t p = n->q[first];
      n->q[first] = n->q[--n->nq];
      n->now = p.at;
      deliver(n, &p);
    } else {
      n->now = next;
      nn_natdisc_tick(n->d, n->now);
    }
  }
  nn_natdisc_free(n->d);
  nn_stunsrv_free(n->srv);
}

static void
net_init(net_t *n, nn_nat_mapping_t map, nn_nat_filtering_t filt)
{
  memset(n, 0, sizeof(*n));
  n->map = map;
  n->filt = filt;
  n->server_alt = 1;
  addr(&n->local, map == NN_NAT_MAP_NONE ? "203.0.113.9:5000" : "10.0.0.2:5000");
  addr(&n->pub, "203.0.113.1:0");
}

static void
test_every_behaviour(void **s)
{
  (void)s;
  static const nn_nat_mapping_t maps[] = { NN_NAT_MAP_EIM, NN_NAT_MAP_ADM, NN_NAT_MAP_APDM };
  static const nn_nat_filtering_t filts[] = { NN_NAT_FILTER_EIF, NN_NAT_FILTER_ADF, NN_NAT_FILTER_APDF };
  for (unsigned i = 0; i < 3; i++)
    for (unsigned j = 0; j < 3; j++) {
      net_t n;
      nn_natdisc_result_t r;
      char m[NN_ADDR_STR_MAX];
      net_init(&n, maps[i], filts[j]);
      run(&n, &r);
      if (r.state != NN_NATDISC_DONE || r.mapping != maps[i] || r.filtering != filts[j])
        fail_msg("%s mapping + %s filtering: found %s + %s (state %d)", nn_nat_mapping_name(maps[i]),
                 nn_nat_filtering_name(filts[j]), nn_nat_mapping_name(r.mapping), nn_nat_filtering_name(r.filtering),
                 r.state);
      nn_addr_format(&r.mapped, m);
      assert_string_equal(m, "203.0.113.1:40000"); /* the first mapping */
    }
}

static void
test_no_nat(void **s)
{
  (void)s;
  net_t n;
  nn_natdisc_result_t r;
  net_init(&n, NN_NAT_MAP_NONE, NN_NAT_FILTER_EIF);
  run(&n, &r);
  assert_int_equal(r.state, NN_NATDISC_DONE);
  assert_int_equal(r.mapping, NN_NAT_MAP_NONE);
  assert_int_equal(r.filtering, NN_NAT_FILTER_EIF);
  assert_true(nn_addr_equal(&r.mapped, &n.local));
}

/* A server with one address: only the mapped address is learnt. */
static void
test_server_without_alternate(void **s)
{
  (void)s;
  net_t n;
  nn_natdisc_result_t r;
  net_init(&n, NN_NAT_MAP_EIM, NN_NAT_FILTER_APDF);
  n.server_alt = 0;
  run(&n, &r);
  assert_int_equal(r.state, NN_NATDISC_PARTIAL);
  assert_int_equal(r.mapping, NN_NAT_MAP_UNKNOWN);
  assert_int_equal(r.requests, 1);
}

/* RFC 8489 6.2.1: 7 sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, given up at 39.5 s. */
static void
test_dead_server(void **s)
{
  (void)s;
  net_t n;
  nn_natdisc_result_t r;
  net_init(&n, NN_NAT_MAP_EIM, NN_NAT_FILTER_EIF);
  n.server_dead = 1;
  run(&n, &r);
  assert_int_equal(r.state, NN_NATDISC_FAILED);
  assert_int_equal(r.requests, 7);
  assert_int_equal(r.elapsed_ms, 39500);
}

/* Lost packets are retransmitted; the result is the same, later. */
static void
test_loss(void **s)
{
  (void)s;
  net_t n;
  nn_natdisc_result_t r;
  net_init(&n, NN_NAT_MAP_ADM, NN_NAT_FILTER_ADF);
  n.drop_first = 3;
  run(&n, &r);
  assert_int_equal(r.state, NN_NATDISC_DONE);
  assert_int_equal(r.mapping, NN_NAT_MAP_ADM);
  assert_int_equal(r.filtering, NN_NAT_FILTER_ADF);
  assert_true(r.requests > 5);
}

typedef struct cap_t {
  uint8_t *buf;
  size_t *len;
} cap_t;

static void
capture(void *ctx, const nn_addr_t *to, const uint8_t *msg, size_t l)
{
  cap_t *c = ctx;
  (void)to;
  memcpy(c->buf, msg, l);
  *c->len = l;
}

/* An answer with another transaction id, or from another address, is not taken. */
static void
test_answers_checked(void **s)
{
  (void)s;
  uint8_t sent[64], ans[128], tid[12];
  size_t sent_len = 0, len;
  nn_addr_t srv, other, mapped;
  cap_t c = { sent, &sent_len };
  nn_natdisc_io_t io = { capture, &c };
  nn_natdisc_cfg_t cfg;
  nn_natdisc_t *d;
  nn_stun_builder_t b;
  nn_stun_msg_t m;
  addr(&srv, "198.51.100.1:3478");
  addr(&other, "198.51.100.2:3479");
  addr(&mapped, "203.0.113.1:40000");
  nn_natdisc_cfg_default(&cfg);
  cfg.server = srv;
  assert_int_equal(nn_natdisc_new(&d, &cfg, &io, 0), NN_OK);
  assert_int_equal(nn_stun_parse(&m, sent, sent_len), NN_OK);
  memcpy(tid, m.tid, 12);
  tid[0] ^= 1;
  nn_stun_build_init(&b, ans, sizeof(ans), NN_STUN_BINDING, NN_STUN_SUCCESS, tid);
  nn_stun_add_addr(&b, NN_STUN_A_XOR_MAPPED_ADDRESS, &mapped);
  nn_stun_add_addr(&b, NN_STUN_A_OTHER_ADDRESS, &other);
  assert_int_equal(nn_stun_build_finish(&b, &len), NN_OK);
  assert_int_equal(nn_natdisc_input(d, &srv, ans, len, 10), 0); /* another id */
  nn_stun_build_init(&b, ans, sizeof(ans), NN_STUN_BINDING, NN_STUN_SUCCESS, m.tid);
  nn_stun_add_addr(&b, NN_STUN_A_XOR_MAPPED_ADDRESS, &mapped);
  nn_stun_add_addr(&b, NN_STUN_A_OTHER_ADDRESS, &other);
  nn_stun_add_fingerprint(&b);
  assert_int_equal(nn_stun_build_finish(&b, &len), NN_OK);
  assert_int_equal(nn_natdisc_input(d, &other, ans, len, 10), 0); /* from elsewhere */
  ans[len - 1] ^= 1;
  assert_int_equal(nn_natdisc_input(d, &srv, ans, len, 10), 0); /* bad fingerprint */
  ans[len - 1] ^= 1;
  assert_int_equal(nn_natdisc_input(d, &srv, ans, len, 10), 1);
  nn_natdisc_result_t r;
  nn_natdisc_result(d, &r);
  assert_int_equal(r.state, NN_NATDISC_RUNNING);
  assert_true(nn_addr_equal(&r.mapped, &mapped));
  nn_natdisc_free(d);
}

static size_t
request(uint8_t *buf, size_t cap, uint8_t cls, uint32_t change, uint16_t extra)
{
  uint8_t tid[12] = { 7 };
  nn_stun_builder_t b;
  size_t len;
  nn_stun_build_init(&b, buf, cap, NN_STUN_BINDING, cls, tid);
  if (change)
    nn_stun_add_u32(&b, NN_STUN_A_CHANGE_REQUEST, change);
  if (extra)
    nn_stun_add_u32(&b, extra, 0);
  nn_stun_add_fingerprint(&b);
  assert_int_equal(nn_stun_build_finish(&b, &len), NN_OK);
  return len;
}

static void
test_server_budgets_and_errors(void **s)
{
  (void)s;
  nn_stunsrv_cfg_t cfg;
  nn_stunsrv_t *srv;
  nn_stunsrv_stats_t st;
  nn_addr_t from, from2;
  uint8_t req[128], ans[NN_STUNSRV_MAX_ANSWER];
  size_t len, alen;
  unsigned sock;
  nn_stun_msg_t m;
  nn_stunsrv_cfg_default(&cfg);
  addr(&cfg.addr[0], "198.51.100.1:3478");
  addr(&cfg.addr[3], "198.51.100.2:3479");
  cfg.total_per_s = 30;
  assert_int_equal(nn_stunsrv_new(&srv, &cfg), NN_OK);
  addr(&from, "203.0.113.1:40000");
  addr(&from2, "203.0.113.77:40000");
  len = request(req, sizeof(req), NN_STUN_REQUEST, 0, 0);
  /* one host: its burst of 20, then 5 a second */
  for (int i = 0; i < 25; i++)
    (void)nn_stunsrv_input(srv, 0, &from, req, len, 1000, ans, &alen, &sock);
  nn_stunsrv_stats(srv, &st);
  assert_int_equal(st.answered, 20);
  assert_int_equal(st.rate_limited, 5);
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 2000, ans, &alen, &sock), 1);
  assert_true(alen <= NN_STUNSRV_MAX_ANSWER);
  assert_int_equal(nn_stun_parse(&m, ans, alen), NN_OK);
  assert_int_equal(m.cls, NN_STUN_SUCCESS);
  assert_int_equal(nn_stun_check_fingerprint(&m), NN_OK);
  /* the server in all: 30 a second (29 left at 2 s), whoever asks */
  for (int i = 0; i < 40; i++) {
    from2.host[3] = (uint8_t)(100 + i);
    (void)nn_stunsrv_input(srv, 0, &from2, req, len, 2000, ans, &alen, &sock);
  }
  nn_stunsrv_stats(srv, &st);
  assert_int_equal(st.answered, 21 + 29);
  assert_int_equal(st.overloaded, 11);
  /* errors: a change it cannot make (no socket 1 for a port change), an attribute it does not know */
  len = request(req, sizeof(req), NN_STUN_REQUEST, NN_STUN_CHANGE_PORT, 0);
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 60000, ans, &alen, &sock), 1);
  assert_int_equal(sock, 0);
  assert_int_equal(nn_stun_parse(&m, ans, alen), NN_OK);
  assert_int_equal(m.cls, NN_STUN_ERROR);
  len = request(req, sizeof(req), NN_STUN_REQUEST, NN_STUN_CHANGE_IP | NN_STUN_CHANGE_PORT, 0);
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 60000, ans, &alen, &sock), 1);
  assert_int_equal(sock, 3); /* answered from A2:P2 */
  len = request(req, sizeof(req), NN_STUN_REQUEST, 0, 0x0042);
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 60000, ans, &alen, &sock), 1);
  assert_int_equal(nn_stun_parse(&m, ans, alen), NN_OK);
  unsigned code;
  const uint8_t *r;
  size_t rl;
  assert_int_equal(nn_stun_get_error(&m, &code, &r, &rl), NN_OK);
  assert_int_equal(code, 420);
  const nn_stun_attr_t *u = nn_stun_find(&m, NN_STUN_A_UNKNOWN_ATTRIBUTES);
  assert_non_null(u);
  assert_int_equal(nn_stun_value(&m, u)[1], 0x42);
  /* not answered: an indication, a response, garbage, a bad fingerprint */
  len = request(req, sizeof(req), NN_STUN_INDICATION, 0, 0);
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 60000, ans, &alen, &sock), 0);
  len = request(req, sizeof(req), NN_STUN_SUCCESS, 0, 0);
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 60000, ans, &alen, &sock), 0);
  assert_int_equal(
    nn_stunsrv_input(srv, 0, &from, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 60000, ans, &alen, &sock), 0);
  len = request(req, sizeof(req), NN_STUN_REQUEST, 0, 0);
  req[len - 1] ^= 1;
  assert_int_equal(nn_stunsrv_input(srv, 0, &from, req, len, 60000, ans, &alen, &sock), 0);
  nn_stunsrv_stats(srv, &st);
  assert_int_equal(st.errors_sent, 2);
  assert_int_equal(st.not_binding_request, 2);
  assert_int_equal(st.not_stun, 1);
  assert_int_equal(st.malformed, 1);
  nn_stunsrv_free(srv);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_behaviour),
    cmocka_unit_test(test_no_nat),
    cmocka_unit_test(test_server_without_alternate),
    cmocka_unit_test(test_dead_server),
    cmocka_unit_test(test_loss),
    cmocka_unit_test(test_answers_checked),
    cmocka_unit_test(test_server_budgets_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
