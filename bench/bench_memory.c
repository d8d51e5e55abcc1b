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
 *   bench_memory [--channels N] [--anon]
 */
#define _POSIX_C_SOURCE 200809L
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nepnet/channel.h"
#include "nepnet/nepnet.h"
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

static void
row(const char *what, long long bytes, size_t count)
{
  printf("  %-44s %14lld %12.0f %10.2f\n", what, bytes, (double)bytes / (double)count,
         (double)bytes / (double)count / 1024.0);
}

int
main(int argc, char **argv)
{
  size_t n = 10000;
  nn_mldsa_seed_t sa, sb;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--channels") && i + 1 < argc) {
      n = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--anon")) {
      anon = 1;
    } else {
      printf("usage: bench_memory [--channels N] [--anon]\n"
             "  --channels N  channel pairs to establish and keep open (default 10000 = 20000 channels)\n"
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
  printf("\nidle memory per established channel: %.2f KiB heap, %.2f KiB RSS; target <= 64 KiB: %s\n",
         per, per_rss, per <= 64.0 && per_rss <= 64.0 ? "met" : "MISSED");

  free(ci);
  free(cr);
  nn_identity_free(id_i);
  nn_identity_free(id_r);
  return 0;
}
