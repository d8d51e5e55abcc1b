/*
 * bench_mix: what a mix hop costs against the crypto it cannot avoid, in the same run.
 *
 * A hop must decapsulate one hybrid X25519 + ML-KEM-1024 ciphertext and run the payload's wide-
 * block cipher (LIONESS) over the payload once; everything else it does (the key derivation,
 * the header MAC, decrypting and shifting the routing information, the checks) is overhead.
 * Packets for a 3-hop route through mix A are built beforehand, copied so that each is processed
 * once, and then, in each round, in alternating order:
 *   hop      nn_sphinx_unwrap of every packet at A
 *   crypto   nn_hybrid_decaps of every packet's ciphertext plus LIONESS decryption of its payload
 * Target (issue 12): hop / crypto <= 1.2, the median of the per-round ratios.
 *
 * Also printed: the header's share of the packet at 3 and 5 hops (target <= 20% at 3 hops, the
 * default size), and the hop's cost split into decapsulation, LIONESS and the rest.
 *
 * Then a whole mix (src/mixnet/mix.c) on a libevent loop with its crypto on a pool of worker
 * threads (src/net/workers.c), fed 1000 packets built beforehand as fast as its budget admits
 * them (each forwarded with delay 0 to a sink): packets mixed per second with 1 and with 2
 * workers, in alternating rounds, and with none (crypto on the loop) for reference. Each mix
 * lives through all rounds after a warm-up run, as a running mix does (a mix made afresh for
 * each run measures its first-touch page faults instead, which contend with the workers'); each
 * sees every packet once (a second time would be a replay).
 * Target (issue 12): 2 workers / 1 >= 1.8, the median of the per-round ratios.
 *
 *   bench_mix [--packets N] [--rounds R] [--size BYTES] [--hops H]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "crypto/hybrid.h"
#include "crypto/lioness.h"
#include "crypto/rand.h"
#include "crypto/sym.h"
#include "mixnet/mix.h"
#include "mixnet/sphinx.h"
#include "net/workers.h"

static double
now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
  qsort(v, n, sizeof(*v), cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
die(const char *what)
{
  fprintf(stderr, "bench_mix: %s failed\n", what);
  exit(1);
}

static void
print_load(const char *when)
{
  char buf[128] = "?";
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (!fgets(buf, sizeof(buf), f))
      buf[0] = 0;
    fclose(f);
  }
  buf[strcspn(buf, "\n")] = 0;
  printf("load average %s: %s\n", when, buf);
}

/* ---- a whole mix with a pool ---- */

typedef struct mixrun_t {
  struct event_base *base;
  nn_workers_t *pool;
  nn_mix_t *mix;
  size_t sent;
} mixrun_t;

static void
job_run(nn_work_t *w)
{
  nn_mix_job_run((nn_mix_job_t *)w);
}

static void
job_done(nn_work_t *w, int cancelled)
{
  nn_mix_job_t *j = (nn_mix_job_t *)w;
  nn_mix_job_done(j->mix, j, 0, cancelled);
}

static void
offload(void *ctx, nn_mix_job_t *job)
{
  mixrun_t *r = ctx;
  job->work.run = job_run;
  job->work.done = job_done;
  nn_workers_submit(r->pool, &job->work);
}

static void
sink_send(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len)
{
  (void)next, (void)packet, (void)len;
  ((mixrun_t *)ctx)->sent++;
}

static void
sink_deliver(void *ctx, const uint8_t *body, size_t len)
{
  (void)ctx, (void)body, (void)len;
}

/* A mix that lives through every round, as a mix does: its buffers and contexts are warm. */
static mixrun_t *
mixrun_new(const nn_sphinx_geom_t *g, const uint8_t seed[32], size_t replay_capacity, unsigned workers)
{
  mixrun_t *r = calloc(1, sizeof(*r));
  nn_mix_cfg_t cfg;
  nn_mix_cfg_default(&cfg);
  cfg.geom = *g;
  cfg.replay_capacity = replay_capacity;
  cfg.max_packets_per_peer = cfg.max_packets;
  nn_mix_io_t io = { sink_send, sink_deliver, workers ? offload : NULL, r };
  nn_mix_saved_key_t saved = { 0 };
  memcpy(saved.seed, seed, 32);
  if (!r || !(r->base = event_base_new()) || (workers && nn_workers_new(&r->pool, r->base, workers)) ||
      nn_mix_new(&r->mix, &cfg, &io, &saved, 1, 0))
    die("mix");
  return r;
}

static void
mixrun_free(mixrun_t *r)
{
  nn_workers_free(r->pool);
  nn_mix_free(r->mix);
  event_base_free(r->base);
  free(r);
}

/* Seconds for the mix to mix \a npk packets: fed as fast as its budget admits them, each
 * forwarded at once (delay 0) to a sink. */
static double
mix_packets(mixrun_t *r, const nn_sphinx_geom_t *g, const uint8_t *pk, size_t npk)
{
  nn_hash_t from = { { 7 } };
  nn_mix_stats_t st;
  size_t fed = 0, sent0 = r->sent, max = 2048;
  double t = now();
  while (r->sent - sent0 < npk) {
    nn_mix_stats(r->mix, &st);
    while (fed < npk && st.in_mix < max) {
      if (nn_mix_recv(r->mix, &from, pk + fed * g->packet_len, g->packet_len, 0) != NN_MIX_ACCEPTED)
        die("nn_mix_recv");
      fed++;
      st.in_mix++;
    }
    if (r->pool)
      event_base_loop(r->base, EVLOOP_ONCE);
    nn_mix_tick(r->mix, 0);
  }
  t = now() - t;
  nn_mix_stats(r->mix, &st);
  if (st.forwarded != r->sent || st.dropped[NN_MIX_BAD_MAC] || st.dropped[NN_MIX_REPLAY])
    die("mixing");
  return t;
}

int
main(int argc, char **argv)
{
  size_t npk = 400, rounds = 7, size = NN_SPHINX_DEFAULT_LEN;
  unsigned hops = NN_SPHINX_DEFAULT_HOPS;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--packets") && i + 1 < argc)
      npk = (size_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = (size_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--size") && i + 1 < argc)
      size = (size_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--hops") && i + 1 < argc)
      hops = (unsigned)strtoul(argv[++i], NULL, 10);
    else {
      printf("usage: bench_mix [--packets N] [--rounds R] [--size BYTES] [--hops H]\n"
             "  --packets N  packets per round and measure (default 400)\n"
             "  --rounds R   rounds; each ratio is the median of the per-round ratios (default 7)\n"
             "  --size BYTES packet size (default %u)\n"
             "  --hops H     geometry and route length, 1..6 (default %u: 3 mix layers and the recipient)\n",
             NN_SPHINX_DEFAULT_LEN, NN_SPHINX_DEFAULT_HOPS);
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (!npk || !rounds)
    die("arguments");

  nn_sphinx_geom_t g, g3, g5; /* 3 and 5 mix layers, each with the recipient's hop */
  if (nn_sphinx_geom_init(&g, hops, size) || nn_sphinx_geom_init(&g3, 4, NN_SPHINX_DEFAULT_LEN) ||
      nn_sphinx_geom_init(&g5, 6, NN_SPHINX_DEFAULT_LEN))
    die("geometry (--size too small for --hops?)");
  nn_sym_t *sym;
  if (nn_sym_new(&sym))
    die("nn_sym_new");
  nn_hybrid_key_t key[NN_SPHINX_MAX_HOPS];
  nn_sphinx_hop_t route[NN_SPHINX_MAX_HOPS];
  for (unsigned i = 0; i < hops; i++) {
    if (nn_hybrid_keygen(&key[i], NULL))
      die("keygen");
    memset(route[i].node.b, (int)i + 1, NN_HASH_LEN);
    route[i].pk = &key[i].pk;
    route[i].delay_ms = 100;
  }

  printf("bench_mix: %zu packets of %zu bytes per measure, %zu rounds, %u-hop geometry and route\n", npk, g.packet_len,
         rounds, hops);
  printf("header: %zu bytes with 3 mix layers (4 hops) = %.1f%% of %u (target <= 20%%), %zu bytes with 5 layers = "
         "%.1f%%; body %zu / %zu\n",
         g3.header_len, 100.0 * (double)g3.header_len / NN_SPHINX_DEFAULT_LEN, NN_SPHINX_DEFAULT_LEN, g5.header_len,
         100.0 * (double)g5.header_len / NN_SPHINX_DEFAULT_LEN, g3.body_len, g5.body_len);
  print_load("at start");

  uint8_t *body = calloc(1, g.body_len), *orig = malloc(npk * g.packet_len), *work = malloc(npk * g.packet_len);
  if (!body || !orig || !work)
    die("malloc");
  double t0 = now();
  for (size_t i = 0; i < npk; i++)
    if (nn_sphinx_build(sym, &g, 1, route, hops, body, NULL, orig + i * g.packet_len))
      die("nn_sphinx_build");
  printf("build: %.1f us per packet (%u encapsulations, %u LIONESS layers)\n\n", (now() - t0) / (double)npk * 1e6, hops,
         hops);

  double *r_hop = calloc(rounds, sizeof(double)), *r_crypto = calloc(rounds, sizeof(double));
  double *r_ratio = calloc(rounds, sizeof(double)), *r_decaps = calloc(rounds, sizeof(double));
  double *r_lio = calloc(rounds, sizeof(double));
  if (!r_hop || !r_crypto || !r_ratio || !r_decaps || !r_lio)
    die("calloc");
  nn_lioness_key_t lk;
  memset(&lk, 0x5a, sizeof(lk));
  size_t bad = 0;
  for (size_t r = 0; r < rounds; r++) {
    double hop = 0, dec = 0, lio = 0;
    for (int pass = 0; pass < 2; pass++) {
      int do_hop = (pass == 0) == (r % 2 == 0);
      memcpy(work, orig, npk * g.packet_len);
      if (do_hop) {
        double t = now();
        for (size_t i = 0; i < npk; i++) {
          nn_sphinx_out_t out;
          nn_sphinx_unwrap(sym, &g, &key[0], work + i * g.packet_len, g.packet_len, &out);
          bad += out.verdict != (hops > 1 ? NN_SPHINX_FORWARD : NN_SPHINX_DELIVER);
        }
        hop = now() - t;
      } else {
        for (size_t i = 0; i < npk; i++) {
          uint8_t *p = work + i * g.packet_len;
          nn_hybrid_ct_t ct;
          nn_secret_t ss;
          memcpy(ct.x.b, p + NN_SPHINX_PREFIX_LEN, NN_X25519_LEN);
          memcpy(ct.m.b, p + NN_SPHINX_PREFIX_LEN + NN_X25519_LEN, NN_MLKEM_CT_LEN);
          double t = now();
          if (nn_hybrid_decaps(&ss, &key[0], &ct))
            die("decaps");
          double t1 = now();
          if (nn_lioness_decrypt(sym, &lk, p + g.header_len, g.payload_len))
            die("lioness");
          double t2 = now();
          dec += t1 - t;
          lio += t2 - t1;
        }
      }
    }
    r_hop[r] = hop / (double)npk * 1e6;
    r_decaps[r] = dec / (double)npk * 1e6;
    r_lio[r] = lio / (double)npk * 1e6;
    r_crypto[r] = r_decaps[r] + r_lio[r];
    r_ratio[r] = r_hop[r] / r_crypto[r];
    printf("  round %zu: hop %.1f us, crypto %.1f us (decaps %.1f + LIONESS %.1f), ratio %.3f\n", r + 1, r_hop[r],
           r_crypto[r], r_decaps[r], r_lio[r], r_ratio[r]);
  }
  if (bad)
    die("a packet was not forwarded");
  double ratio_lo = r_ratio[0], ratio_hi = r_ratio[0];
  for (size_t r = 0; r < rounds; r++) {
    ratio_lo = r_ratio[r] < ratio_lo ? r_ratio[r] : ratio_lo;
    ratio_hi = r_ratio[r] > ratio_hi ? r_ratio[r] : ratio_hi;
  }
  double hop = median(r_hop, rounds), dec = median(r_decaps, rounds), lio = median(r_lio, rounds);
  double ratio = median(r_ratio, rounds);
  printf("\nper hop (medians): %.1f us = decapsulation %.1f + LIONESS over %zu bytes %.1f + the rest %.1f\n", hop, dec,
         g.payload_len, lio, hop - dec - lio);
  printf("one core: %.0f packets/s, %.0f MB/s of packets\n", 1e6 / hop, g.packet_len / hop);
  printf("hop / crypto: %.3f [%.3f - %.3f]   target <= 1.20: %s\n", ratio, ratio_lo, ratio_hi,
         ratio <= 1.2 ? "met" : "MISSED");

  /* A whole mix: packets for a mix whose key comes from a known seed (epoch 0). */
  if (hops > 1) {
    uint8_t seed[32];
    nn_drbg_t d;
    nn_hybrid_key_t mk;
    memset(seed, 0x33, sizeof(seed));
    nn_drbg_init(&d, seed);
    nn_rng_t dr = nn_drbg_rng(&d);
    if (nn_hybrid_keygen(&mk, &dr))
      die("keygen");
    route[0].pk = &mk.pk;
    route[0].delay_ms = 0; /* the mix forwards at once: what is timed is its work, not its delay */
    for (size_t i = 0; i < npk; i++)
      if (nn_sphinx_build(sym, &g, 0, route, hops, body, NULL, orig + i * g.packet_len))
        die("nn_sphinx_build");
    /* every mix sees each packet once: one set per round, and one to warm up */
    size_t mixed = 1000;
    uint8_t *many = malloc((rounds + 1) * mixed * g.packet_len);
    if (!many)
      die("malloc");
    for (size_t i = 0; i < (rounds + 1) * mixed; i++)
      if (nn_sphinx_build(sym, &g, 0, route, hops, body, NULL, many + i * g.packet_len))
        die("nn_sphinx_build");
    mixrun_t *mr[3];
    for (unsigned w = 0; w < 3; w++) {
      mr[w] = mixrun_new(&g, seed, (rounds + 1) * mixed, w);
      (void)mix_packets(mr[w], &g, many, mixed);
    }
    printf("\na mix on a libevent loop, %zu packets per run after a warm-up run, crypto on 0 / 1 / 2 worker threads "
           "(%u cores):\n",
           mixed, nn_workers_cores());
    double *w1 = calloc(rounds, sizeof(double)), *w2 = calloc(rounds, sizeof(double));
    double *w0 = calloc(rounds, sizeof(double)), *wr = calloc(rounds, sizeof(double));
    if (!w1 || !w2 || !w0 || !wr)
      die("calloc");
    for (size_t r = 0; r < rounds; r++) {
      const uint8_t *set = many + (r + 1) * mixed * g.packet_len;
      int first = r % 2 ? 2 : 1;
      double a = mixed / mix_packets(mr[first], &g, set, mixed);
      double b = mixed / mix_packets(mr[3 - first], &g, set, mixed);
      w1[r] = first == 1 ? a : b;
      w2[r] = first == 1 ? b : a;
      w0[r] = mixed / mix_packets(mr[0], &g, set, mixed);
      wr[r] = w2[r] / w1[r];
      printf("  round %zu: on the loop %.0f/s, 1 worker %.0f/s, 2 workers %.0f/s, 2 / 1 = %.3f\n", r + 1, w0[r], w1[r],
             w2[r], wr[r]);
    }
    double lo = wr[0], hi = wr[0];
    for (size_t r = 0; r < rounds; r++) {
      lo = wr[r] < lo ? wr[r] : lo;
      hi = wr[r] > hi ? wr[r] : hi;
    }
    printf("packets mixed per second (medians): on the loop %.0f, 1 worker %.0f, 2 workers %.0f\n", median(w0, rounds),
           median(w1, rounds), median(w2, rounds));
    double m = median(wr, rounds);
    printf("2 workers / 1: %.3f [%.3f - %.3f]   target >= 1.80: %s\n", m, lo, hi, m >= 1.8 ? "met" : "MISSED");
    for (unsigned w = 0; w < 3; w++)
      mixrun_free(mr[w]);
    nn_hybrid_key_clear(&mk);
    free(many);
    free(w0);
    free(w1);
    free(w2);
    free(wr);
  }
  print_load("at end");

  for (unsigned i = 0; i < hops; i++)
    nn_hybrid_key_clear(&key[i]);
  nn_sym_free(sym);
  free(body);
  free(orig);
  free(work);
  free(r_hop);
  free(r_crypto);
  free(r_ratio);
  free(r_decaps);
  free(r_lio);
  return 0;
}
