/*
 * bench_tor: the secure channel over Tor against over TCP (issue 14's targets; the seed's
 * research question 6.2.4), on a private Tor network of real tor processes (bench_tor.sh starts
 * it: 3 authorities, 3 relays, 2 clients on loopback). Two nodes in one process: B listens on
 * TCP and has an onion service (client 1's control port); A reaches B both ways, through client
 * 0's SOCKS port for Tor. In rounds whose order alternates, over a fresh channel each way:
 *
 *   connect   dial to handshake done (Tor: SOCKS, the onion service's rendezvous, the handshake)
 *   latency   --pings round trips of a 64-byte message that B echoes, one at a time
 *   bulk      --bytes from A to B in 16 KiB messages, timed to the last byte at B
 *
 * Printed: P50/P95/P99 of each, the ratios Tor / TCP of the same run, and the load average. On
 * loopback, Tor's cost is its six-hop rendezvous path through three relay processes (each hop's
 * cells, crypto and scheduling), not the network's latency: a real Tor path adds the hops'
 * RTTs (some 300-800 ms for an onion service; Tor Metrics' onionperf measures it).
 *
 * Then, with --kill-relay PID (a relay of the network): a channel over Tor is pinged every
 * 100 ms, the relay is killed (SIGKILL), and the bench reports whether the channel survived
 * and, if it broke, how long a new one took (dials every 2 s until one is up).
 *
 *   bench_tor --socks HOST:PORT --control HOST:PORT [--pings N] [--bytes N[K|M]] [--reps R]
 *             [--kill-relay PID]
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/identity.h"
#include "lib/clock.h"
#include "node/node.h"

#define KIND 0xf0
#define MSG (16u << 10)

typedef struct bnode_t {
  nn_identity_t *id;
  nn_node_t *n;
  char dir[64];
  int proto;
  uint64_t got; /* B: bulk payload bytes */
  uint64_t conn;
  int up, down;
  uint64_t pong_us; /* A: when the last echo came back */
} bnode_t;

typedef struct bench_t {
  struct event_base *base;
  bnode_t a, b;
  uint64_t total, sent;
  uint8_t *buf;
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
on_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  bnode_t *x = ctx;
  (void)info;
  if (conn == x->conn)
    x->down = 1;
}

static bench_t *the;

static void
on_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  bnode_t *x = ctx;
  if (x == &the->b) {
    if (len >= 2 && msg[1] == 'P')
      (void)nn_net_send(nn_node_net(x->n), conn, msg, len); /* echo */
    else
      x->got += len;
  } else if (len >= 2 && msg[1] == 'P') {
    x->pong_us = nn_mono_us();
  }
}

static void
start(bench_t *w, bnode_t *x, unsigned seed, const nn_node_cfg_t *base_cfg)
{
  nn_mldsa_seed_t s;
  nn_node_cfg_t c = *base_cfg;
  char why[512];
  memset(s.b, 0, sizeof(s.b));
  s.b[0] = (uint8_t)seed;
  s.b[31] = 0x70;
  if (nn_identity_from_seed(&x->id, &s))
    exit(1);
  snprintf(x->dir, sizeof(x->dir), "/tmp/nn-bench-tor-XXXXXX");
  if (!mkdtemp(x->dir))
    exit(1);
  if (nn_node_new(&x->n, w->base, x->id, NN_NET_REGTEST, x->dir, &c, why, sizeof(why))) {
    fprintf(stderr, "bench_tor: %s\n", why);
    exit(1);
  }
  nn_net_proto_t p = { "bench", KIND, KIND, on_up, on_msg, on_down, x, NULL };
  if (nn_net_register(nn_node_net(x->n), &p, &x->proto))
    exit(1);
}

static void
stop(bnode_t *x)
{
  char p[128];
  static const char *const files[] = { "peers.sqlite", "peers.sqlite-wal", "peers.sqlite-shm", "onion_v3_private_key" };
  nn_node_free(x->n);
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", x->dir, files[i]);
    (void)unlink(p);
  }
  (void)rmdir(x->dir);
  nn_identity_free(x->id);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  (void)arg;
}

/* Run the loop until \a cond holds or \a ms pass. The loop blocks between events (a timer
 * wakes it every 5 ms to look at the clock): spinning would take a core from the tor processes
 * that carry the very traffic measured. */
static int
run_until(bench_t *w, int (*cond)(bench_t *), int ms)
{
  uint64_t end = nn_mono_ms() + (uint64_t)ms;
  while (!cond(w) && nn_mono_ms() < end)
    event_base_loop(w->base, EVLOOP_ONCE);
  return cond(w);
}

static int
b_onion(bench_t *w)
{
  nn_tornode_status_t ts;
  nn_tornode_status(nn_node_tor(w->b.n), &ts);
  return ts.onion.type != 0;
}

static int
a_up(bench_t *w)
{
  return w->a.up || w->a.down;
}

static int
a_pong(bench_t *w)
{
  return w->a.pong_us != 0 || w->a.down;
}

static int
all_there(bench_t *w)
{
  nn_net_t *net = nn_node_net(w->a.n);
  while (w->sent < w->total && nn_net_pending(net, w->a.conn) < (1u << 20)) {
    size_t n = w->total - w->sent < MSG ? (size_t)(w->total - w->sent) : MSG;
    if (nn_net_send(net, w->a.conn, w->buf, n))
      break;
    w->sent += n;
  }
  return w->b.got >= w->total || w->a.down;
}

static int
never(bench_t *w)
{
  (void)w;
  return 0;
}

static int
dial(bench_t *w, const nn_addr_t *to, double *ms)
{
  uint64_t t0 = nn_mono_us();
  w->a.up = w->a.down = 0;
  if (nn_net_dial(nn_node_net(w->a.n), w->a.proto, to, nn_identity_node_id(w->b.id), &w->a.conn) ||
      !run_until(w, a_up, 90000) || !w->a.up)
    return 0;
  *ms = (double)(nn_mono_us() - t0) / 1e3;
  return 1;
}

/* One ping's round trip in ms (-1: the channel went down or 30 s passed). */
static double
ping(bench_t *w)
{
  uint8_t m[64];
  memset(m, 0, sizeof(m));
  m[0] = KIND;
  m[1] = 'P';
  w->a.pong_us = 0;
  uint64_t t0 = nn_mono_us();
  if (nn_net_send(nn_node_net(w->a.n), w->a.conn, m, sizeof(m)) || !run_until(w, a_pong, 30000) || w->a.down)
    return -1;
  return (double)(w->a.pong_us - t0) / 1e3;
}

typedef struct series_t {
  double *v;
  size_t n, cap;
} series_t;

static void
add(series_t *s, double x)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 64;
    s->v = realloc(s->v, s->cap * sizeof(double));
    if (!s->v)
      exit(1);
  }
  s->v[s->n++] = x;
}

static int
cmp_d(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static double
pct(series_t *s, double p)
{
  if (!s->n)
    return 0;
  qsort(s->v, s->n, sizeof(double), cmp_d);
  size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
  return s->v[i < s->n ? i : s->n - 1];
}

typedef struct path_t {
  const char *name;
  nn_addr_t to;
  series_t connect, rtt, mbps;
} path_t;

static void
round_on(bench_t *w, path_t *p, int pings)
{
  double ms;
  if (!dial(w, &p->to, &ms)) {
    fprintf(stderr, "bench_tor: no channel to B over %s\n", p->name);
    exit(1);
  }
  add(&p->connect, ms);
  for (int i = 0; i < pings; i++) {
    double r = ping(w);
    if (r < 0) {
      fprintf(stderr, "bench_tor: a ping over %s got no answer\n", p->name);
      exit(1);
    }
    add(&p->rtt, r);
  }
  w->b.got = w->sent = 0;
  uint64_t t0 = nn_mono_us();
  if (!run_until(w, all_there, 600000) || w->a.down) {
    fprintf(stderr, "bench_tor: the bulk transfer over %s did not finish\n", p->name);
    exit(1);
  }
  add(&p->mbps, (double)w->total / (double)(nn_mono_us() - t0)); /* bytes per us = MB/s */
  nn_net_close(nn_node_net(w->a.n), w->a.conn, 0);
  w->a.up = 0;
  run_until(w, a_up, 300);
}

static void
report(path_t *p)
{
  printf("  %-4s connect P50 %8.1f P95 %8.1f ms | RTT P50 %7.2f P95 %7.2f P99 %7.2f ms | bulk P50 %6.2f MB/s "
         "(min %.2f)\n",
         p->name, pct(&p->connect, 50), pct(&p->connect, 95), pct(&p->rtt, 50), pct(&p->rtt, 95), pct(&p->rtt, 99),
         pct(&p->mbps, 50), pct(&p->mbps, 0));
}

static uint16_t
free_port(void)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &sl)) {
    fprintf(stderr, "bench_tor: no free port\n");
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

/* A Tor channel pinged every 100 ms while a relay is killed: does it survive, and if not, how
 * long until a new one is up? */
static void
kill_relay(bench_t *w, path_t *tor, int pid)
{
  double ms;
  if (!dial(w, &tor->to, &ms)) {
    fprintf(stderr, "bench_tor: no channel over tor before the kill\n");
    exit(1);
  }
  for (int i = 0; i < 10; i++)
    if (ping(w) < 0)
      break;
  uint64_t t_kill = nn_mono_ms();
  if (kill(pid, SIGKILL)) {
    perror("bench_tor: kill");
    exit(1);
  }
  int lost = 0, ok = 0;
  uint64_t broke = 0;
  while (nn_mono_ms() - t_kill < 20000) {
    double r = ping(w);
    if (r < 0) {
      lost = 1;
      broke = nn_mono_ms();
      break;
    }
    ok++;
    run_until(w, never, 100);
  }
  if (!lost) {
    printf("relay %d killed: the channel survived (%d pings answered in the 20 s after)\n", pid, ok);
    nn_net_close(nn_node_net(w->a.n), w->a.conn, 0);
    return;
  }
  if (!w->a.down)
    nn_net_close(nn_node_net(w->a.n), w->a.conn, 0);
  int attempts = 0;
  uint64_t back = 0;
  while (nn_mono_ms() - broke < 300000) {
    attempts++;
    if (dial(w, &tor->to, &ms)) {
      back = nn_mono_ms();
      break;
    }
    run_until(w, never, 2000);
  }
  if (!back)
    printf("relay %d killed: the channel broke %llu ms after; no new one in 300 s (%d dials)\n", pid,
           (unsigned long long)(broke - t_kill), attempts);
  else
    printf("relay %d killed: the channel broke %llu ms after; a new one was up %llu ms later (%d dials, the last "
           "%.0f ms)\n",
           pid, (unsigned long long)(broke - t_kill), (unsigned long long)(back - broke), attempts, ms);
  if (back)
    nn_net_close(nn_node_net(w->a.n), w->a.conn, 0);
}

int
main(int argc, char **argv)
{
  bench_t w;
  int reps = 5, pings = 50, killpid = 0;
  const char *socks = NULL, *control = NULL;
  memset(&w, 0, sizeof(w));
  the = &w;
  w.total = 4u << 20;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
      w.total = parse_size(argv[++i]);
    else if (!strcmp(argv[i], "--pings") && i + 1 < argc)
      pings = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--socks") && i + 1 < argc)
      socks = argv[++i];
    else if (!strcmp(argv[i], "--control") && i + 1 < argc)
      control = argv[++i];
    else if (!strcmp(argv[i], "--kill-relay") && i + 1 < argc)
      killpid = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_tor --socks HOST:PORT --control HOST:PORT [--pings N] [--bytes N[K|M]] "
                      "[--reps R] [--kill-relay PID]\n(bench/bench_tor.sh starts a private Tor network and runs it)\n");
      return 2;
    }
  }
  if (!socks || !control || !w.total || reps < 1 || pings < 1) {
    fprintf(stderr, "bench_tor: --socks and --control are required; --bytes, --reps, --pings positive\n");
    return 2;
  }
  w.buf = calloc(1, MSG);
  w.buf[0] = KIND;
  w.buf[1] = 'B';
  w.base = event_base_new();
  struct timeval tick = { 0, 5000 };
  struct event *wake = event_new(w.base, -1, EV_PERSIST, on_wake, NULL);
  if (!wake || event_add(wake, &tick))
    return 1;
  nn_node_cfg_t c;
  nn_node_cfg_default(&c);
  c.net.limits.max_per_ip = 0;
  c.net.limits.ip_rate = 0;
  c.net.workers = 0;
  c.api_enabled = 0;
  c.mixnet = 0;
  c.stun = 0;
  c.disco.dht.table.allow_private = 1;
  c.disco.peerstore.allow_nonpublic = 1;
  /* no peers to find (the bench dials its own channels): say so once */
  c.gossip.max_outbound = 1;
  c.disco.boot_retry_min_ms = c.disco.boot_retry_max_ms = 3600000;
  c.log = quiet;
  c.log_level = getenv("BENCH_DEBUG") ? NN_LOG_DEBUG : NN_LOG_INFO;
  char blisten[32];
  uint16_t bport = free_port();
  snprintf(blisten, sizeof(blisten), "127.0.0.1:%u", bport);
  nn_node_cfg_t cb = c, ca = c;
  cb.listen = blisten;
  cb.tor_control = control;
  cb.onion = 1;
  ca.listen = NULL;
  ca.tor_socks = socks;
  ca.onion = 0;
  start(&w, &w.b, 1, &cb);
  start(&w, &w.a, 2, &ca);
  uint64_t t0 = nn_mono_ms();
  if (!run_until(&w, b_onion, 120000)) {
    fprintf(stderr, "bench_tor: B's onion service did not come up\n");
    return 1;
  }
  nn_tornode_status_t ts;
  nn_tornode_status(nn_node_tor(w.b.n), &ts);
  uint8_t lo[4] = { 127, 0, 0, 1 };
  path_t tcp = { "tcp", nn_addr_ipv4(lo, bport), { 0 }, { 0 }, { 0 } };
  path_t tor = { "tor", ts.onion, { 0 }, { 0 }, { 0 } };
  char oa[NN_ADDR_STR_MAX];
  nn_addr_format(&ts.onion, oa);
  printf("bench_tor: B's onion service %s up in %llu ms; %d rounds of: connect, %d pings of 64 bytes, %llu bytes "
         "in 16 KiB messages\n",
         oa, (unsigned long long)(nn_mono_ms() - t0), reps, pings, (unsigned long long)w.total);
  /* a new service's descriptor takes a moment to be published (tor says F0, not found, until
   * then): dial once a second until a channel is up, timed from ADD_ONION's answer, apart */
  double warm = 0;
  int tries = 0;
  uint64_t t_onion = nn_mono_ms();
  while (!dial(&w, &tor.to, &warm)) {
    if (++tries >= 120) {
      fprintf(stderr, "bench_tor: no channel over tor in 120 tries (warm-up)\n");
      return 1;
    }
    run_until(&w, never, 1000);
  }
  printf("reachable: the first channel over tor was up %llu ms after the service (%d dials refused before it; the "
         "last dial %.0f ms: descriptor fetch, introduction, rendezvous, handshake)\n",
         (unsigned long long)(nn_mono_ms() - t_onion), tries, warm);
  nn_net_close(nn_node_net(w.a.n), w.a.conn, 0);
  run_until(&w, never, 300);
  for (int i = 0; i < reps; i++) {
    if (i % 2) {
      round_on(&w, &tor, pings);
      round_on(&w, &tcp, pings);
    } else {
      round_on(&w, &tcp, pings);
      round_on(&w, &tor, pings);
    }
    printf("  round %d done\n", i + 1);
  }
  report(&tcp);
  report(&tor);
  printf("tor / tcp: connect P50 %.1fx, RTT P50 %.1fx P95 %.1fx P99 %.1fx, bulk throughput %.3fx\n",
         pct(&tor.connect, 50) / pct(&tcp.connect, 50), pct(&tor.rtt, 50) / pct(&tcp.rtt, 50),
         pct(&tor.rtt, 95) / pct(&tcp.rtt, 95), pct(&tor.rtt, 99) / pct(&tcp.rtt, 99),
         pct(&tor.mbps, 50) / pct(&tcp.mbps, 50));
  if (killpid)
    kill_relay(&w, &tor, killpid);
  double load[3] = { 0, 0, 0 };
  if (getloadavg(load, 3) < 0)
    load[0] = -1;
  printf("load average %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  stop(&w.a);
  stop(&w.b);
  event_free(wake);
  event_base_free(w.base);
  free(w.buf);
  free(tcp.connect.v);
  free(tcp.rtt.v);
  free(tcp.mbps.v);
  free(tor.connect.v);
  free(tor.rtt.v);
  free(tor.mbps.v);
  return 0;
}
