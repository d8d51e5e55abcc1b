/*
 * bench_memory: idle memory per established secure channel (target <= 64 KiB).
 *
 * N channel pairs (default 10,000: 10,000 initiators + 10,000 responders, 20,000 channels) are
 * established in memory, every byte of output consumed, and left open and idle. Heap in use is
 * read with mallinfo2() (uordblks: in-use bytes of the malloc arenas, + hblkhd: bytes in mmapped
 * chunks), RSS from /proc/self/statm, before and after. Everything not per channel is allocated
 * before the "before" reading: the two identities (node-level, shared by every connection), the
 * arrays of channel pointers, and OpenSSL's lazily built provider caches (one warm-up handshake).
 *
 * Per channel = growth / 20,000. Then every initiator is freed and the heap read again: what is
 * left is the responders alone (per responder = remaining growth / N; per initiator = the
 * difference / N). Kernel socket buffers are not included (no sockets here).
 *
 * Then the same through the node's path: M pairs (default 1,000) dialled through one connection
 * manager to another over loopback TCP on one event loop, every channel established and idle;
 * per channel = heap growth / 2M, which adds the manager's and the transport's bookkeeping
 * (connection, stream, libevent events) to the channel's own memory.
 *
 *   bench_memory [--channels N] [--manager-channels M] [--anon]
 */
#define _POSIX_C_SOURCE 200809L
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "nepnet/channel.h"
#include "nepnet/nepnet.h"
#include "net/net.h"
#include "net/tcp.h"
#include "transport/chan_int.h" /* sizeof(struct nn_chan_t), for the breakdown */

static double
mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
check(nn_err_t err, const char *what)
{
  if (err) {
    fprintf(stderr, "bench_memory: %s failed: %s\n", what, nn_err_str(err));
    exit(1);
  }
}

typedef struct mem_t {
  long long heap; /* uordblks + hblkhd */
  long long rss;
} mem_t;

static mem_t
mem_now(void)
{
  struct mallinfo2 mi = mallinfo2();
  mem_t m = { (long long)(mi.uordblks + mi.hblkhd), 0 };
  long pages_total = 0, pages_rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2)
      pages_rss = 0;
    fclose(f);
  }
  m.rss = (long long)pages_rss * sysconf(_SC_PAGESIZE);
  return m;
}

static int
move(nn_chan_t *from, nn_chan_t *to)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(from, &d, &n);
  if (!n)
    return 0;
  (void)nn_chan_recv(to, d, n, 0);
  nn_chan_output_consume(from, n);
  return 1;
}

static nn_identity_t *id_i, *id_r;
static int anon;

static void
establish(nn_chan_t **ci_out, nn_chan_t **cr_out)
{
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  ci.role = NN_CHAN_INITIATOR;
  ci.network = NN_NET_REGTEST;
  ci.identity = anon ? NULL : id_i;
  ci.expected_peer = nn_identity_node_id(id_r);
  cr.role = NN_CHAN_RESPONDER;
  cr.network = NN_NET_REGTEST;
  cr.identity = id_r;
  check(nn_chan_new(cr_out, &cr, 0), "responder new");
  check(nn_chan_new(ci_out, &ci, 0), "initiator new");
  while (move(*ci_out, *cr_out) | move(*cr_out, *ci_out))
    ;
  const uint8_t *d;
  size_t n1, n2;
  nn_chan_output(*ci_out, &d, &n1);
  nn_chan_output(*cr_out, &d, &n2);
  if (!nn_chan_is_established(*ci_out) || !nn_chan_is_established(*cr_out) || n1 || n2) {
    fprintf(stderr, "bench_memory: handshake did not complete\n");
    exit(1);
  }
}

static void row(const char *what, long long bytes, size_t count);

/* ---- the node's path: two managers over loopback TCP ---- */

static size_t ups;

static void
mgr_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  (void)ctx;
  (void)conn;
  (void)info;
  ups++;
}

static void
mgr_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  (void)ctx;
  (void)conn;
  fprintf(stderr, "bench_memory: a manager channel closed: %s\n", nn_net_close_reason_str(info->reason));
  exit(1);
}

static nn_net_t *
mgr_new(struct event_base *base, const nn_identity_t *id)
{
  nn_net_cfg_t cfg;
  nn_net_t *n;
  nn_transport_t *t;
  nn_net_cfg_default(&cfg);
  cfg.identity = id;
  cfg.network = NN_NET_REGTEST;
  cfg.limits.max_per_ip = 0; /* every channel comes from 127.0.0.1 */
  cfg.limits.ip_rate = 0;
  cfg.limits.max_conns = 1u << 20;
  cfg.limits.max_half_open = 1u << 20;
  cfg.limits.load_half_open = 1u << 20;
  cfg.max_idle_outbound = 1u << 20;
  check(nn_net_new(&n, base, &cfg), "nn_net_new");
  check(nn_tcp_transport_new(&t, base, NULL), "tcp transport");
  check(nn_net_add_transport(n, t), "add transport");
  nn_net_proto_t p = { "bench", 0x00, 0xff, mgr_up, NULL, mgr_down, NULL, NULL };
  check(nn_net_register(n, &p, NULL), "register");
  return n;
}

/* Heap per channel with \a m pairs open through the managers, 0 if it could not be measured. */
static double
manager_per_channel(size_t m)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * m + 64) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * m + 64) {
      fprintf(stderr, "bench_memory: %zu manager pairs need %zu file descriptors (limit %llu); skipped\n", m,
              2 * m + 64, (unsigned long long)rl.rlim_cur);
      return 0;
    }
  }
  struct event_base *base = event_base_new();
  nn_net_t *srv = mgr_new(base, id_r), *cli = mgr_new(base, anon ? NULL : id_i);
  nn_addr_t at;
  check(nn_net_listen(srv, "tcp", "127.0.0.1:0", &at, NULL, 0), "listen");
  /* one warm pair first: libevent's tables, OpenSSL's caches */
  uint64_t c;
  check(nn_net_dial(cli, 0, &at, nn_identity_node_id(id_r), &c), "dial");
  while (ups < 2)
    event_base_loop(base, EVLOOP_ONCE);
  ups = 0;
  malloc_trim(0);
  mem_t m0 = mem_now();
  double t0 = mono();
  for (size_t k = 0; k < m; k++) {
    check(nn_net_dial(cli, 0, &at, nn_identity_node_id(id_r), &c), "dial");
    while (nn_net_stats(cli)->conns - nn_net_stats(cli)->open > 32) /* a few handshakes at a time */
      event_base_loop(base, EVLOOP_ONCE);
  }
  while (ups < 2 * m)
    event_base_loop(base, EVLOOP_ONCE);
  double t1 = mono();
  mem_t m1 = mem_now();
  printf("\nthrough the connection manager: %zu pairs over loopback TCP on one event loop in %.1f s\n", m, t1 - t0);
  printf("  %-44s %14s %12s %10s\n", "measure", "bytes", "per channel", "KiB/chan");
  row("heap, all 2M manager channels open", m1.heap - m0.heap, 2 * m);
  row("RSS, all 2M manager channels open", m1.rss - m0.rss, 2 * m);
  nn_net_free(cli);
  nn_net_free(srv);
  event_base_free(base);
  return (double)(m1.heap - m0.heap) / (double)(2 * m);
}

static void
row(const char *what, long long bytes, size_t count)
{
  printf("  %-44s %14lld %12.0f %10.2f\n", what, bytes, (double)bytes / (double)count,
         (double)bytes / (double)count / 1024.0);
}

int
main(int argc, char **argv)
{
  size_t n = 10000, m = 1000;
  nn_mldsa_seed_t sa, sb;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--channels") && i + 1 < argc) {
      n = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--manager-channels") && i + 1 < argc) {
      m = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--anon")) {
      anon = 1;
    } else {
      printf("usage: bench_memory [--channels N] [--manager-channels M] [--anon]\n"
             "  --channels N  channel pairs to establish and keep open (default 10000 = 20000 channels)\n"
             "  --manager-channels M  pairs through two connection managers over TCP (default 1000; 0: skip)\n"
             "  --anon        anonymous initiators (default: mutual authentication)\n");
      return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
    }
  }
  if (n < 1) {
    fprintf(stderr, "bench_memory: --channels must be positive\n");
    return 2;
  }
  memset(sa.b, 0xa1, 32);
  memset(sb.b, 0xb2, 32);
  check(nn_identity_from_seed(&id_i, &sa), "identity");
  check(nn_identity_from_seed(&id_r, &sb), "identity");
  nn_chan_t **ci = calloc(n, sizeof(*ci)), **cr = calloc(n, sizeof(*cr));
  if (!ci || !cr) {
    fprintf(stderr, "bench_memory: out of memory\n");
    return 1;
  }
  for (int w = 0; w < 3; w++) { /* warm-up: OpenSSL's provider and method caches */
    nn_chan_t *a, *b;
    establish(&a, &b);
    nn_chan_free(a);
    nn_chan_free(b);
  }

  printf("bench_memory: nepnet %s, OpenSSL %s; %zu %s channel pairs (%zu channels)\n", nn_version(),
         nn_openssl_version(), n, anon ? "anonymous-initiator" : "mutually authenticated", 2 * n);
  printf("sizeof(struct nn_chan_t) = %zu B\n", sizeof(struct nn_chan_t));
  malloc_trim(0);
  mem_t m0 = mem_now();
  double t0 = mono();
  for (size_t k = 0; k < n; k++)
    establish(&ci[k], &cr[k]);
  double t1 = mono();
  mem_t m1 = mem_now();
  malloc_trim(0);
  mem_t m1t = mem_now();
  printf("established %zu pairs in %.1f s (%.2f ms per pair, both sides, one thread)\n\n", n, t1 - t0,
         (t1 - t0) * 1e3 / (double)n);

  for (size_t k = 0; k < n; k++)
    nn_chan_free(ci[k]);
  malloc_trim(0);
  mem_t m2 = mem_now();
  for (size_t k = 0; k < n; k++)
    nn_chan_free(cr[k]);
  malloc_trim(0);
  mem_t m3 = mem_now();

  printf("  %-44s %14s %12s %10s\n", "measure", "bytes", "per channel", "KiB/chan");
  row("heap, all 2N channels open (mallinfo2)", m1.heap - m0.heap, 2 * n);
  row("  responders only (initiators freed)", m2.heap - m0.heap, n);
  row("  initiators (difference)", m1.heap - m2.heap, n);
  row("RSS, all 2N channels open (statm)", m1.rss - m0.rss, 2 * n);
  row("RSS, all open, after malloc_trim(0)", m1t.rss - m0.rss, 2 * n);
  printf("  heap left after freeing everything: %lld bytes (should be ~0)\n", m3.heap - m0.heap);
  (void)m2.rss; /* freed initiators interleave with live responders: RSS cannot shrink, not shown */

  /* Breakdown: what one direction's record state holds in OpenSSL contexts (AES-GCM + AES-ECB
   * for the length mask), measured the same way on N directions. */
  nn_rec_dir_t *dirs = calloc(n, sizeof(*dirs));
  nn_secret_t ts;
  memset(ts.b, 0x33, sizeof(ts.b));
  malloc_trim(0);
  mem_t d0 = mem_now();
  for (size_t k = 0; k < n; k++)
    check(nn_rec_dir_init(&dirs[k], &ts, 0), "record init");
  mem_t d1 = mem_now();
  for (size_t k = 0; k < n; k++)
    nn_rec_dir_clear(&dirs[k]);
  free(dirs);
  printf("\nbreakdown per channel: struct nn_chan_t %zu B (of which 2 x nn_rec_dir_t %zu B), plus\n"
         "  OpenSSL contexts of one record direction (EVP_CIPHER_CTX AES-256-GCM + AES-256-ECB):\n"
         "  %.0f B x 2 directions = %.0f B\n",
         sizeof(struct nn_chan_t), 2 * sizeof(nn_rec_dir_t), (double)(d1.heap - d0.heap) / (double)n,
         2.0 * (double)(d1.heap - d0.heap) / (double)n);
  if (m1.heap == m0.heap)
    printf("  WARNING: mallinfo2() saw no growth: not glibc's allocator (a sanitizer build?)\n");
  double per = (double)(m1.heap - m0.heap) / (double)(2 * n) / 1024.0;
  double per_rss = (double)(m1.rss - m0.rss) / (double)(2 * n) / 1024.0;
  printf("\nidle memory per established channel: %.2f KiB heap, %.2f KiB RSS; target <= 64 KiB: %s\n", per, per_rss,
         per <= 64.0 && per_rss <= 64.0 ? "met" : "MISSED");
  double mgr = m ? manager_per_channel(m) : 0;
  if (mgr > 0)
    printf("\nper channel through the manager: %.2f KiB heap = the channel alone x %.2f (the manager, the TCP\n"
           "  stream and its libevent events add %.2f KiB; kernel socket buffers not included)\n",
           mgr / 1024.0, mgr / 1024.0 / per, mgr / 1024.0 - per);

  free(ci);
  free(cr);
  nn_identity_free(id_i);
  nn_identity_free(id_r);
  return 0;
}
