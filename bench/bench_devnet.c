/*
 * Broadcast latency and idle cost of nepnetd, on a devnet of real processes on loopback.
 *
 *   bench_devnet [--nodes 100] [--txs 20] [--idle-s 60] [--preset balanced] [--dir DIR]
 *
 * 1. Starts N nodes (node 0 dials 50 outbound peers, so it idles with >= 50 peers).
 * 2. Submits --txs transactions one after another from random origins and, for each, records
 *    when every node took it into its mempool. "Fluff to all" is measured from the first fluff
 *    (the node that ended the stem) to each node; "submit to all" from the submission.
 * 3. Lets the network idle for --idle-s seconds and reads node 0's RSS (VmRSS) and CPU time
 *    (utime + stime from /proc) over that window, plus the median over all nodes.
 * Prints P50/P95/max, the targets, and writes DIR/bench-devnet.csv (one line per node per tx)
 * and, with gnuplot, DIR/bench-devnet.png (the CDF of fluff-to-node latency).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/rand.h"
#include "lib/hex.h"
#include "app/devnet.h"

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
pct(const uint64_t *v, size_t n, double p)
{
  if (!n)
    return 0;
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return (double)v[i] / 1000.0;
}

/* VmRSS in KiB and utime+stime in clock ticks of a process. */
static int
proc_usage(pid_t pid, long *rss_kib, unsigned long long *ticks)
{
  char p[64], line[512];
  FILE *f;
  *rss_kib = -1;
  *ticks = 0;
  snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
  if (!(f = fopen(p, "r")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, "VmRSS:", 6))
      *rss_kib = strtol(line + 6, NULL, 10);
  fclose(f);
  snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
  if (!(f = fopen(p, "r")))
    return -1;
  if (!fgets(line, sizeof(line), f)) {
    fclose(f);
    return -1;
  }
  fclose(f);
  const char *s = strrchr(line, ')');
  unsigned long long ut = 0, st = 0;
  /* fields after ")": state(3) ... utime(14) stime(15) */
  if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  *ticks = ut + st;
  return 0;
}

static const char *const *
node0_extra(void *ctx, unsigned i)
{
  static const char *const x[] = { "--max-outbound", "50", "--max-peers", "128", NULL };
  (void)ctx;
  return i == 0 ? x : NULL;
}

int
main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "nodes", required_argument, NULL, 'n' },  { "txs", required_argument, NULL, 't' },
    { "idle-s", required_argument, NULL, 'i' }, { "preset", required_argument, NULL, 'p' },
    { "dir", required_argument, NULL, 'd' },    { "nepnetd", required_argument, NULL, 'D' },
    { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
  };
  unsigned nodes = 100, txs = 20, idle_s = 60;
  const char *preset = NULL, *dir = "build/bench-devnet", *nepnetd = NEPNET_NEPNETD;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'n': nodes = (unsigned)atoi(optarg); break;
    case 't': txs = (unsigned)atoi(optarg); break;
    case 'i': idle_s = (unsigned)atoi(optarg); break;
    case 'p': preset = optarg; break;
    case 'd': dir = optarg; break;
    case 'D': nepnetd = optarg; break;
    default:
      printf("usage: bench_devnet [--nodes N] [--txs M] [--idle-s S] [--preset P] [--dir DIR] [--nepnetd PATH]\n");
      return c == 'h' ? 0 : 2;
    }
  }
  if (nodes < 52 || nodes > NN_DEVNET_MAX || !txs) {
    fprintf(stderr, "bench_devnet: --nodes must be 52..%d (node 0 needs 50 outbound peers), --txs >= 1\n",
            NN_DEVNET_MAX);
    return 2;
  }
  nn_devnet_t dn;
  nn_devnet_opts_t o;
  char why[1024], path[512];
  static const char *const extra[] = { "--log-level", "warn" };
  nn_devnet_opts_default(&o);
  o.dir = dir;
  o.nepnetd = nepnetd;
  o.preset = preset;
  o.base_port = 24000;
  o.extra = extra;
  o.n_extra = 2;
  o.node_extra = node0_extra;
  o.progress = stderr;
  o.join_timeout_ms = 600000;
  uint64_t t_up = now_ms();
  if (nn_devnet_up(&dn, nodes, argv[0], &o, why, sizeof(why))) {
    fprintf(stderr, "bench_devnet: %s\n", why);
    nn_devnet_free(&dn);
    return 1;
  }
  printf("devnet of %u nodes up in %.1f s (preset %s)\n", nodes, (double)(now_ms() - t_up) / 1000.0,
         preset ? preset : "balanced");
  snprintf(path, sizeof(path), "%s/bench-devnet.csv", dir);
  FILE *csv = fopen(path, "w");
  if (csv)
    fprintf(csv, "tx,node,via,ms_from_submit,ms_from_fluff\n");
  uint64_t *fl = calloc((size_t)nodes * txs, sizeof(uint64_t)), *sb = calloc((size_t)nodes * txs, sizeof(uint64_t));
  nn_devnet_seen_t *seen = calloc(nodes, sizeof(*seen));
  size_t nfl = 0, nsb = 0;
  unsigned complete = 0;
  for (unsigned t = 0; t < txs; t++) {
    uint8_t tx[2048];
    uint32_t r;
    nn_hash_t id;
    (void)nn_rng_fill(NULL, tx, sizeof(tx));
    (void)nn_rng_fill(NULL, (uint8_t *)&r, sizeof(r));
    unsigned origin = r % nodes;
    memset(seen, 0, nodes * sizeof(*seen));
    uint64_t t0 = now_ms();
    if (nn_devnet_submit(&dn, origin, tx, sizeof(tx), &id)) {
      fprintf(stderr, "bench_devnet: node %u refused a transaction\n", origin);
      continue;
    }
    unsigned have = nn_devnet_wait_tx(&dn, &id, t0, 120000, seen, NULL);
    uint64_t first = UINT64_MAX;
    for (unsigned i = 0; i < nodes; i++)
      if (seen[i].seen && (!strcmp(seen[i].via, "stem-fluff") || !strcmp(seen[i].via, "embargo")) &&
          seen[i].unix_ms < first)
        first = seen[i].unix_ms;
    for (unsigned i = 0; i < nodes; i++) {
      if (!seen[i].seen)
        continue;
      uint64_t a = seen[i].unix_ms > t0 ? seen[i].unix_ms - t0 : 0;
      uint64_t b = first != UINT64_MAX && seen[i].unix_ms > first ? seen[i].unix_ms - first : 0;
      sb[nsb++] = a;
      if (first != UINT64_MAX)
        fl[nfl++] = b;
      if (csv)
        fprintf(csv, "%u,%u,%s,%llu,%llu\n", t, i, seen[i].via, (unsigned long long)a, (unsigned long long)b);
    }
    complete += have == nodes;
    fprintf(stderr, "tx %2u from node-%-3u: %u/%u nodes, last after %.2f s\n", t, origin, have, nodes,
            (double)(now_ms() - t0) / 1000.0);
  }
  if (csv)
    fclose(csv);
  qsort(fl, nfl, sizeof(*fl), cmp_u64);
  qsort(sb, nsb, sizeof(*sb), cmp_u64);
  printf("broadcast: %u txs, %u reached all %u nodes\n", txs, complete, nodes);
  printf("  fluff to node : P50 %.3f s  P95 %.3f s  max %.3f s   (targets: P50 <= 2 s, P95 <= 5 s: %s)\n",
         pct(fl, nfl, 0.5), pct(fl, nfl, 0.95), pct(fl, nfl, 1.0),
         pct(fl, nfl, 0.5) <= 2.0 && pct(fl, nfl, 0.95) <= 5.0 ? "met" : "MISSED");
  printf("  submit to node: P50 %.3f s  P95 %.3f s  max %.3f s   (includes the stem)\n", pct(sb, nsb, 0.5),
         pct(sb, nsb, 0.95), pct(sb, nsb, 1.0));

  /* idle */
  {
    json_t *j = NULL;
    long long peers = -1;
    if (nn_devnet_api(&dn, 0, "GET", "/v1/status", NULL, 0, NULL, &j) == 200 && j)
      peers = (long long)(json_integer_value(json_object_get(j, "peers_out")) +
                          json_integer_value(json_object_get(j, "peers_in")));
    json_decref(j);
    long rss0, rss1, *rss_all = calloc(nodes, sizeof(long));
    unsigned long long tk0, tk1, *all0 = calloc(nodes, sizeof(*all0));
    (void)proc_usage(dn.pid[0], &rss0, &tk0);
    for (unsigned i = 0; i < nodes; i++) {
      long r;
      (void)proc_usage(dn.pid[i], &r, &all0[i]);
    }
    uint64_t w0 = now_ms();
    fprintf(stderr, "idling %u s...\n", idle_s);
    sleep(idle_s);
    double wall = (double)(now_ms() - w0) / 1000.0, hz = (double)sysconf(_SC_CLK_TCK);
    (void)proc_usage(dn.pid[0], &rss1, &tk1);
    double cpu0 = 100.0 * (double)(tk1 - tk0) / hz / wall, *cpus = calloc(nodes, sizeof(double));
    for (unsigned i = 0; i < nodes; i++) {
      unsigned long long t;
      (void)proc_usage(dn.pid[i], &rss_all[i], &t);
      cpus[i] = 100.0 * (double)(t - all0[i]) / hz / wall;
    }
    /* medians */
    for (unsigned i = 1; i < nodes; i++)
      for (unsigned k = i; k > 0 && rss_all[k] < rss_all[k - 1]; k--) {
        long x = rss_all[k];
        rss_all[k] = rss_all[k - 1];
        rss_all[k - 1] = x;
      }
    for (unsigned i = 1; i < nodes; i++)
      for (unsigned k = i; k > 0 && cpus[k] < cpus[k - 1]; k--) {
        double x = cpus[k];
        cpus[k] = cpus[k - 1];
        cpus[k - 1] = x;
      }
    printf("idle node 0 (%lld gossip peers): RSS %.1f MiB (target <= 16 MiB: %s), CPU %.2f %% over %.0f s "
           "(target < 1 %%: %s)\n",
           peers, (double)rss1 / 1024.0, rss1 <= 16 * 1024 && peers >= 50 ? "met" : "MISSED", cpu0, wall,
           cpu0 < 1.0 ? "met" : "MISSED");
    printf("idle, all %u nodes: RSS median %.1f MiB, max %.1f MiB; CPU median %.2f %%, max %.2f %%\n", nodes,
           (double)rss_all[nodes / 2] / 1024.0, (double)rss_all[nodes - 1] / 1024.0, cpus[nodes / 2], cpus[nodes - 1]);
    free(rss_all);
    free(all0);
    free(cpus);
  }
  unsigned s = nn_devnet_down(&dn, 15000);
  fprintf(stderr, "stopped %u nodes\n", s);
  nn_devnet_free(&dn);
  {
    char cmd[2048];
    snprintf(
      cmd, sizeof(cmd),
      "command -v gnuplot >/dev/null && cd '%s' && sort -t, -k5 -n bench-devnet.csv | awk -F, 'NR>1{n++; v[n]=$5} "
      "END{for(i=1;i<=n;i++) print v[i]/1000, i/n}' > cdf.dat && gnuplot -e \"set terminal pngcairo size 800,500; "
      "set output 'bench-devnet.png'; set title 'nepnet devnet, %u nodes: fluff to each node'; "
      "set xlabel 'seconds since the first fluff'; set ylabel 'fraction of (tx, node)'; set grid; "
      "set key bottom right; plot 'cdf.dat' with lines lw 2 title 'CDF'\" 2>/dev/null && echo 'plot: "
      "%s/bench-devnet.png'",
      dir, nodes, dir);
    if (system(cmd) != 0)
      printf("(no plot: gnuplot missing or failed)\n");
  }
  free(fl);
  free(sb);
  free(seen);
  return 0;
}
