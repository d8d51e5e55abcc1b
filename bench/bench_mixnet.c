/*
 * Delivery latency through the mixnet on a devnet of real nepnetd processes on loopback.
 *
 *   bench_mixnet [--nodes 100] [--mixes 15] [--reps 5] [--sizes 2048,500000,2000000]
 *                [--rates 2,5,10,20] [--dir DIR] [--nepnetd PATH]
 *
 * Nodes 0..mixes-1 are mixes (default delays: 50 ms mean per mix). One client node per send
 * rate (the last nodes) sends with route mixnet and the standard cover (0.6 payload + 0.2 loop
 * packets/s always, 30 KB/s), its fragments leaving at --mix-send-rate R packets/s while they
 * wait. For each size, rate and repetition it submits a transaction at that rate's client and
 * records when it came out of the mixnet (its exit took it into the mempool: "exit") and when
 * every node had it ("all": the exit's broadcast included). Prints P50/P95 per size and rate
 * against the targets (2 KB P95 <= 5 s, 2 MB P95 <= 20 s, to every node), the client's
 * always-on cover in KB/s, writes DIR/bench-mixnet.csv and, with gnuplot, DIR/bench-mixnet.png
 * (latency against the send rate, one line per size).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/rand.h"
#include "app/devnet.h"

#define MAX_LIST 8

static uint64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int
cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double
pct(uint64_t *v, size_t n, double p)
{
  if (!n)
    return 0;
  qsort(v, n, sizeof(*v), cmp_u64);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return (double)v[i] / 1000.0;
}

static size_t
parse_list(const char *s, double *out)
{
  size_t n = 0;
  char *end;
  while (*s && n < MAX_LIST) {
    out[n++] = strtod(s, &end);
    s = *end == ',' ? end + 1 : end;
    if (end == s && *s)
      break;
  }
  return n;
}

typedef struct setup_t {
  unsigned nodes, mixes, nrates;
  double rates[MAX_LIST];
  char rate_str[MAX_LIST][16];
  const char *args[MAX_LIST][10];
} setup_t;

static const char *const *
node_extra(void *ctx, unsigned i)
{
  static const char *const mix[] = { "--mix", "1", NULL };
  setup_t *s = ctx;
  if (i < s->mixes)
    return mix;
  if (i >= s->nodes - s->nrates)
    return s->args[i - (s->nodes - s->nrates)];
  return NULL;
}

static json_t *
mixnet(nn_devnet_t *dn, unsigned i)
{
  json_t *j = NULL;
  if (nn_devnet_api(dn, i, "GET", "/v1/mixnet", NULL, 0, NULL, &j) != 200) {
    json_decref(j);
    return NULL;
  }
  return j;
}

static json_int_t
field(json_t *j, const char *obj, const char *name)
{
  return json_integer_value(json_object_get(json_object_get(j, obj), name));
}

/* Until node i's view holds every mix and a loop came back, and nothing of its waits to leave. */
static int
wait_ready(nn_devnet_t *dn, unsigned i, unsigned mixes, uint32_t timeout_ms)
{
  uint64_t t0 = now_ms();
  while (now_ms() - t0 < timeout_ms) {
    json_t *j = mixnet(dn, i);
    int ok = j && field(j, "directory", "mixes") == mixes && field(j, "client", "loops_back") >= 1 &&
             field(j, "client", "queued") == 0;
    json_decref(j);
    if (ok)
      return 1;
    usleep(200000);
  }
  return 0;
}

int
main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "nodes", required_argument, NULL, 'n' },
    { "mixes", required_argument, NULL, 'm' },
    { "reps", required_argument, NULL, 'r' },
    { "sizes", required_argument, NULL, 's' },
    { "rates", required_argument, NULL, 'R' },
    { "dir", required_argument, NULL, 'd' },
    { "nepnetd", required_argument, NULL, 'D' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  static setup_t su;
  double sizes[MAX_LIST];
  size_t nsizes = parse_list("2048,500000,2000000", sizes);
  unsigned reps = 5;
  const char *dir = "build/bench-mixnet", *nepnetd = NEPNET_NEPNETD;
  int c;
  su.nodes = 100;
  su.mixes = 15;
  su.nrates = (unsigned)parse_list("2,5,10,20", su.rates);
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'n': su.nodes = (unsigned)atoi(optarg); break;
    case 'm': su.mixes = (unsigned)atoi(optarg); break;
    case 'r': reps = (unsigned)atoi(optarg); break;
    case 's': nsizes = parse_list(optarg, sizes); break;
    case 'R': su.nrates = (unsigned)parse_list(optarg, su.rates); break;
    case 'd': dir = optarg; break;
    case 'D': nepnetd = optarg; break;
    default:
      printf("usage: bench_mixnet [--nodes N] [--mixes M] [--reps K] [--sizes B,B..] [--rates R,R..] [--dir DIR] "
             "[--nepnetd PATH]\n");
      return c == 'h' ? 0 : 2;
    }
  }
  if (su.mixes < 3 || su.nodes < su.mixes + su.nrates + 1 || su.nodes > NN_DEVNET_MAX || !reps || !nsizes ||
      !su.nrates) {
    fprintf(stderr, "bench_mixnet: give at least 3 mixes and nodes > mixes + rates, up to %d nodes\n", NN_DEVNET_MAX);
    return 2;
  }
  for (unsigned r = 0; r < su.nrates; r++) {
    snprintf(su.rate_str[r], sizeof(su.rate_str[r]), "%g", su.rates[r]);
    const char *a[] = { "--route", "mixnet", "--cover", "standard", "--mix-send-rate", su.rate_str[r], NULL };
    memcpy(su.args[r], a, sizeof(a));
  }
  nn_devnet_t dn;
  nn_devnet_opts_t o;
  char why[1024], path[512];
  static const char *const extra[] = { "--log-level", "warn" };
  nn_devnet_opts_default(&o);
  o.dir = dir;
  o.nepnetd = nepnetd;
  o.base_port = 26000;
  o.extra = extra;
  o.n_extra = 2;
  o.node_extra = node_extra;
  o.node_ctx = &su;
  o.progress = stderr;
  o.join_timeout_ms = 600000;
  uint64_t t_up = now_ms();
  if (nn_devnet_up(&dn, su.nodes, argv[0], &o, why, sizeof(why))) {
    fprintf(stderr, "bench_mixnet: %s\n", why);
    nn_devnet_free(&dn);
    return 1;
  }
  printf("devnet of %u nodes, %u mixes, up in %.1f s\n", su.nodes, su.mixes, (double)(now_ms() - t_up) / 1000.0);
  snprintf(path, sizeof(path), "%s/bench-mixnet.csv", dir);
  FILE *csv = fopen(path, "w");
  if (csv)
    fprintf(csv, "bytes,rate,rep,exit_ms,all_ms,fragments\n");
  nn_devnet_seen_t *seen = calloc(su.nodes, sizeof(*seen));
  uint64_t *ex = calloc(reps, sizeof(uint64_t)), *al = calloc(reps, sizeof(uint64_t));
  double res[MAX_LIST][MAX_LIST][4]; /* size, rate: exit P50, P95, all P50, P95 */
  unsigned failed = 0;
  for (size_t z = 0; z < nsizes; z++) {
    size_t len = (size_t)sizes[z];
    uint8_t *tx = malloc(len);
    for (unsigned r = 0; r < su.nrates; r++) {
      unsigned client = su.nodes - su.nrates + r;
      size_t n = 0;
      for (unsigned k = 0; k < reps; k++) {
        nn_hash_t id;
        if (!wait_ready(&dn, client, su.mixes, 300000)) {
          fprintf(stderr, "bench_mixnet: node %u never had all %u mixes and a loop back\n", client, su.mixes);
          failed++;
          continue;
        }
        json_t *a = mixnet(&dn, client);
        (void)nn_rng_fill(NULL, tx, len);
        memset(seen, 0, su.nodes * sizeof(*seen));
        uint64_t t0 = now_ms();
        if (nn_devnet_submit(&dn, client, tx, len, &id)) {
          fprintf(stderr, "bench_mixnet: node %u refused the transaction\n", client);
          failed++;
          json_decref(a);
          continue;
        }
        unsigned have = nn_devnet_wait_tx(&dn, &id, t0, 180000, seen, NULL);
        json_t *b = mixnet(&dn, client);
        uint64_t exit_at = 0, last = 0;
        for (unsigned i = 0; i < su.nodes; i++) {
          if (!seen[i].seen)
            continue;
          if (!strcmp(seen[i].via, "mixnet"))
            exit_at = seen[i].unix_ms;
          if (seen[i].unix_ms > last)
            last = seen[i].unix_ms;
        }
        json_int_t frags =
          a && b ? field(b, "client", "real_sent") - field(a, "client", "real_sent") + field(b, "client", "queued") : 0;
        json_decref(a);
        json_decref(b);
        if (have < su.nodes || !exit_at) {
          fprintf(stderr, "  %zu B at %g/s, rep %u: %u/%u nodes (exit %s)\n", len, su.rates[r], k, have, su.nodes,
                  exit_at ? "seen" : "not seen");
          failed++;
          continue;
        }
        ex[n] = exit_at - t0;
        al[n] = last - t0;
        if (csv)
          fprintf(csv, "%zu,%g,%u,%llu,%llu,%lld\n", len, su.rates[r], k, (unsigned long long)ex[n],
                  (unsigned long long)al[n], (long long)frags);
        fprintf(stderr, "  %7zu B at %4g packets/s, rep %u: exit %.2f s, all %u nodes %.2f s (%lld fragments)\n", len,
                su.rates[r], k, (double)ex[n] / 1000, su.nodes, (double)al[n] / 1000, (long long)frags);
        n++;
      }
      res[z][r][0] = pct(ex, n, 0.5);
      res[z][r][1] = pct(ex, n, 0.95);
      res[z][r][2] = pct(al, n, 0.5);
      res[z][r][3] = pct(al, n, 0.95);
    }
    free(tx);
  }
  if (csv)
    fclose(csv);
  json_t *cj = mixnet(&dn, su.nodes - 1);
  double cover = cj ? (double)field(cj, "cover", "bytes_per_s") / 1000.0 : 0;
  json_decref(cj);
  printf("client cover (standard): %.1f KB/s always on (target <= 32 KB/s: %s)\n", cover,
         cover > 0 && cover <= 32 ? "met" : "MISSED");
  printf("%9s %8s %22s %22s\n", "bytes", "pkts/s", "exit P50 / P95 (s)", "all nodes P50 / P95 (s)");
  for (size_t z = 0; z < nsizes; z++)
    for (unsigned r = 0; r < su.nrates; r++)
      printf("%9.0f %8g %10.2f / %-9.2f %10.2f / %-9.2f\n", sizes[z], su.rates[r], res[z][r][0], res[z][r][1],
             res[z][r][2], res[z][r][3]);
  for (size_t z = 0; z < nsizes; z++) {
    double target = sizes[z] <= 4096 ? 5 : sizes[z] >= 1500000 ? 20 : 0;
    if (!target)
      continue;
    for (unsigned r = 0; r < su.nrates; r++)
      printf("target %.0f B to all nodes, P95 <= %.0f s at %g packets/s: %.2f s, %s\n", sizes[z], target, su.rates[r],
             res[z][r][3], res[z][r][3] <= target ? "met" : "MISSED");
  }
  if (failed)
    printf("%u sends did not reach every node (see above)\n", failed);
  unsigned s = nn_devnet_down(&dn, 15000);
  fprintf(stderr, "stopped %u nodes\n", s);
  nn_devnet_free(&dn);
  {
    char cmd[2048], blist[256] = "";
    for (size_t z = 0; z < nsizes; z++)
      snprintf(blist + strlen(blist), sizeof(blist) - strlen(blist), "%s%.0f", z ? " " : "", sizes[z]);
    snprintf(cmd, sizeof(cmd),
             "command -v gnuplot >/dev/null && cd '%s' && "
             "awk -F, 'NR>1{k=$1\" \"$2; s[k]+=$5; c[k]++} END{for(k in s) print k, s[k]/c[k]/1000}' "
             "bench-mixnet.csv | sort -k1,1n -k2,2n > mean.dat && gnuplot -e \"set terminal pngcairo size 800,500; "
             "set output 'bench-mixnet.png'; set title 'nepnet mixnet, %u nodes, %u mixes: submit to every node'; "
             "set xlabel 'client send rate while a transaction waits (packets/s)'; set ylabel 'mean latency (s)'; "
             "set logscale xy; set grid; set key top right; "
             "plot for [b in '%s'] '< grep \\\"^'.b.' \\\" mean.dat' using 2:3 with linespoints lw 2 "
             "title b.' bytes'\" && echo 'plot: %s/bench-mixnet.png'",
             dir, su.nodes, su.mixes, blist, dir);
    if (system(cmd) != 0)
      printf("(no plot: gnuplot missing or failed)\n");
  }
  free(seen);
  free(ex);
  free(al);
  return failed ? 1 : 0;
}
