/*
 * bench_relay: what a relay costs per byte and in time (issue 13's target: relay overhead per
 * byte <= 5%). Three nodes in one process on loopback: a relay R, a node B that R keeps
 * reachable, a node A that sends B a bulk stream of messages (a local tenant, kind 0xf0) two
 * ways, in the same run, in rounds whose order alternates:
 *
 *   direct    A dials B's listener: the baseline
 *   relayed   A dials "B@R.relay:0" with hole punching off at A: every byte through R's circuit
 *
 * Per byte: the TCP bytes A writes for the transfer (its channel to B, or to R) over the
 * payload, each way; the relay's overhead is relayed / direct - 1 (the inner channel's records
 * are in both; the relay adds a DATA header per 16 KiB, the outer channel's records around them,
 * and CREDITs the other way). Time: the transfer's wall time, relayed / direct, median of the
 * rounds' ratios (informational: one process does all three nodes' crypto, and R's default rate
 * limit, 512 KiB/s per direction, is lifted here to measure the protocol, not the policy). In
 * one process the relayed path does about three times the direct one's AES-GCM (the inner channel,
 * and the outer one at A and at R, in and out), so a time ratio near 3 is the CPU's bound.
 *
 *   bench_relay [--bytes N[K|M]] [--msg N] [--reps R]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "crypto/identity.h"
#include "lib/clock.h"
#include "lib/hex.h"
#include "node/node.h"

#define KIND 0xf0

typedef struct bnode_t {
  nn_identity_t *id;
  nn_node_t *n;
  char dir[64];
  int proto;
  uint64_t got;  /* payload bytes received (B) */
  uint64_t conn; /* A: the channel to B */
  int up;
} bnode_t;

typedef struct bench_t {
  struct event_base *base;
  bnode_t r, a, b;
  size_t msg;
  uint64_t total, sent;
  uint8_t *buf;
  struct event *pump;
} bench_t;

static void
quiet(void *ctx, int level, const char *module, const char *line)
{
  (void)ctx;
  if (level >= NN_LOG_WARN || getenv("BENCH_DEBUG"))
    fprintf(stderr, "%s: %s\n", module, line);
}

static void
on_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  bnode_t *x = ctx;
  (void)info;
  if (conn == x->conn)
    x->up = 1;
}

static void
on_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  bnode_t *x = ctx;
  (void)conn;
  (void)msg;
  x->got += len;
}

static void
start(bench_t *w, bnode_t *x, unsigned seed, const char *listen, int punch, const char *const *relays, size_t nr)
{
  nn_mldsa_seed_t s;
  nn_node_cfg_t c;
  nn_net_limits_t lim;
  char why[512];
  memset(s.b, 0, sizeof(s.b));
  s.b[0] = (uint8_t)seed;
  s.b[31] = 0x5b;
  if (nn_identity_from_seed(&x->id, &s))
    exit(1);
  snprintf(x->dir, sizeof(x->dir), "/tmp/nn-bench-relay-XXXXXX");
  if (!mkdtemp(x->dir))
    exit(1);
  nn_node_cfg_default(&c);
  nn_net_limits_default(&lim);
  lim.max_per_ip = 0;
  lim.ip_rate = 0;
  c.net.limits = lim;
  c.net.workers = 0;
  c.listen = listen;
  c.api_enabled = 0;
  c.mixnet = 0;
  c.disco.dht.table.allow_private = 1;
  c.disco.peerstore.allow_nonpublic = 1;
  c.log = quiet;
  c.log_level = getenv("BENCH_DEBUG") ? NN_LOG_DEBUG : NN_LOG_INFO;
  c.relay.punch = punch;
  c.relay.relays = relays;
  c.relay.n_relays = nr;
  c.relay.limits.rate = 1u << 30;
  c.relay.limits.circuit_bytes = 1ull << 40;
  c.gossip.max_outbound = 1;
  if (nn_node_new(&x->n, w->base, x->id, NN_NET_REGTEST, x->dir, &c, why, sizeof(why))) {
    fprintf(stderr, "bench_relay: %s\n", why);
    exit(1);
  }
  nn_net_proto_t p = { "bench", KIND, KIND, on_up, on_msg, NULL, x, NULL };
  if (nn_net_register(nn_node_net(x->n), &p, &x->proto))
    exit(1);
}

static void
stop(bnode_t *x)
{
  char p[128];
  static const char *const files[] = { "peers.sqlite", "peers.sqlite-wal", "peers.sqlite-shm" };
  nn_node_free(x->n);
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s/%s", x->dir, files[i]);
    (void)unlink(p);
  }
  (void)rmdir(x->dir);
  nn_identity_free(x->id);
}

static int
run_until(bench_t *w, int (*cond)(bench_t *), int ms)
{
  uint64_t end = nn_mono_ms() + (uint64_t)ms;
  while (!cond(w) && nn_mono_ms() < end)
    event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  return cond(w);
}

static int
b_reserved(bench_t *w)
{
  nn_relaynode_stats_t st;
  nn_relaynode_stats(nn_node_relay(w->b.n), &st);
  return st.reservations == 1;
}

static int
a_up(bench_t *w)
{
  return w->a.up;
}

static int
all_there(bench_t *w)
{
  nn_net_t *net = nn_node_net(w->a.n);
  while (w->sent < w->total && nn_net_pending(net, w->a.conn) < (1u << 20)) {
    size_t n = w->total - w->sent < w->msg ? (size_t)(w->total - w->sent) : w->msg;
    if (nn_net_send(net, w->a.conn, w->buf, n))
      break;
    w->sent += n;
  }
  return w->b.got >= w->total;
}

typedef struct result_t {
  double ms;
  uint64_t a_out; /* TCP bytes A wrote */
  uint64_t r_io;  /* TCP bytes through R, both ways */
} result_t;

/* One transfer over a fresh channel from A to B at \a to. */
static result_t
transfer(bench_t *w, const nn_addr_t *to)
{
  result_t res = { 0, 0, 0 };
  nn_net_t *an = nn_node_net(w->a.n);
  w->a.up = 0;
  w->b.got = 0;
  w->sent = 0;
  if (nn_net_dial(an, w->a.proto, to, nn_identity_node_id(w->b.id), &w->a.conn) || !run_until(w, a_up, 20000)) {
    fprintf(stderr, "bench_relay: no channel to B\n");
    exit(1);
  }
  nn_net_conn_info_t ci0;
  uint64_t inner0 = nn_net_conn_info(an, w->a.conn, &ci0) ? ci0.bytes_out : 0;
  uint64_t a0 = nn_net_stats(an)->bytes_out,
           r0 = nn_net_stats(nn_node_net(w->r.n))->bytes_in + nn_net_stats(nn_node_net(w->r.n))->bytes_out;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (!run_until(w, all_there, 600000)) {
    fprintf(stderr, "bench_relay: the transfer did not finish\n");
    exit(1);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  res.ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  /* the manager counts every stream's bytes: through a relay, the channel's own (inner) stream
   * and the TCP stream to R that carries it; only the latter is on the wire */
  nn_net_conn_info_t ci;
  uint64_t inner = 0;
  if (to->type == NN_ADDR_RELAY && nn_net_conn_info(an, w->a.conn, &ci))
    inner = ci.bytes_out - inner0;
  res.a_out = nn_net_stats(an)->bytes_out - a0 - inner;
  res.r_io = nn_net_stats(nn_node_net(w->r.n))->bytes_in + nn_net_stats(nn_node_net(w->r.n))->bytes_out - r0;
  nn_net_close(an, w->a.conn, 0);
  run_until(w, a_up, 300); /* let the close go out */
  return res;
}

static int
cmp_d(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* A free TCP port on loopback (bound once, then released). */
static uint16_t
free_port(void)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &sl)) {
    fprintf(stderr, "bench_relay: no free port\n");
    exit(1);
  }
  close(fd);
  return ntohs(sa.sin_port);
}

static uint64_t
parse_size(const char *s)
{
  char *e;
  unsigned long long v = strtoull(s, &e, 10);
  if (*e == 'K' || *e == 'k')
    v <<= 10;
  else if (*e == 'M' || *e == 'm')
    v <<= 20;
  return v;
}

int
main(int argc, char **argv)
{
  bench_t w;
  int reps = 5;
  memset(&w, 0, sizeof(w));
  w.total = 32u << 20;
  w.msg = 64u << 10;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
      w.total = parse_size(argv[++i]);
    else if (!strcmp(argv[i], "--msg") && i + 1 < argc)
      w.msg = (size_t)parse_size(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_relay [--bytes N[K|M]] [--msg N] [--reps R]\n");
      return 2;
    }
  }
  if (!w.total || !w.msg || w.msg > (4u << 20) || reps < 1) {
    fprintf(stderr, "bench_relay: --bytes, --msg (<= 4M) and --reps must be positive\n");
    return 2;
  }
  w.buf = calloc(1, w.msg);
  w.buf[0] = KIND;
  w.base = event_base_new();
  char rpeer[256];
  start(&w, &w.r, 1, "127.0.0.1:0", 0, NULL, 0);
  nn_disco_peer_string(nn_node_disco(w.r.n), rpeer, sizeof(rpeer));
  const char *relays[1] = { rpeer };
  /* B listens on a wildcard: no address to advertise, so it reserves at R (and can punch); on a
   * port picked here, which A dials for the direct transfers */
  char blisten[32];
  uint16_t bport = free_port();
  snprintf(blisten, sizeof(blisten), "0.0.0.0:%u", bport);
  start(&w, &w.b, 2, blisten, 1, relays, 1);
  start(&w, &w.a, 3, "0.0.0.0:0", 0, relays, 1); /* A knows where R is */
  if (!run_until(&w, b_reserved, 20000)) {
    fprintf(stderr, "bench_relay: B got no reservation at R\n");
    return 1;
  }
  nn_addr_t direct, via = nn_addr_overlay(NN_ADDR_RELAY, nn_identity_node_id(w.r.id)->b, 0);
  uint8_t lo[4] = { 127, 0, 0, 1 };
  direct = nn_addr_ipv4(lo, bport);
  double *tr = calloc((size_t)reps, sizeof(double));
  result_t d = { 0, 0, 0 }, r = { 0, 0, 0 };
  printf("bench_relay: %llu bytes in %zu-byte messages, %d rounds\n", (unsigned long long)w.total, w.msg, reps);
  for (int i = 0; i < reps; i++) {
    result_t x, y;
    /* A does not punch (B offers, A answers that it cannot): "relayed" stays relayed */
    if (i % 2) {
      y = transfer(&w, &via);
      x = transfer(&w, &direct);
    } else {
      x = transfer(&w, &direct);
      y = transfer(&w, &via);
    }
    tr[i] = y.ms / x.ms;
    d = x;
    r = y;
    printf("  round %d: direct %.0f ms (%.1f MB/s), relayed %.0f ms (%.1f MB/s); A wrote %llu / %llu bytes\n", i + 1,
           x.ms, (double)w.total / x.ms / 1e3, y.ms, (double)w.total / y.ms / 1e3, (unsigned long long)x.a_out,
           (unsigned long long)y.a_out);
  }
  qsort(tr, (size_t)reps, sizeof(double), cmp_d);
  double load[3] = { 0, 0, 0 };
  if (getloadavg(load, 3) < 0)
    load[0] = -1;
  printf("per byte: direct %.4f, relayed %.4f wire bytes per payload byte: relay overhead %.2f%% (target <= 5%%)\n",
         (double)d.a_out / (double)w.total, (double)r.a_out / (double)w.total,
         100.0 * ((double)r.a_out / (double)d.a_out - 1.0));
  printf("through the relay: %.4f bytes per payload byte (in and out)\n", (double)r.r_io / (double)w.total);
  printf("time: relayed / direct %.2f (median of %d; range %.2f .. %.2f)\n", tr[reps / 2], reps, tr[0], tr[reps - 1]);
  printf("load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  free(tr);
  free(w.buf);
  stop(&w.a);
  stop(&w.b);
  stop(&w.r);
  event_base_free(w.base);
  return 0;
}
