/*
 * `nepnet sim ...`: the simulator front end. Today `sim dht`; `sim dandelion` joins it with the
 * broadcast layer.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/commands.h"
#include "sim/sim_dht.h"

static const char sim_usage[] =
  "usage: nepnet sim dht [OPTIONS]\n"
  "\n"
  "Run N real DHT node cores in virtual time over a latency model (per-pair RTTs 20-300 ms\n"
  "from a six-region model, see sim/latency.h), with churn and colluding adversaries, and\n"
  "report lookup latency percentiles, hop counts and success. Every connection set-up and\n"
  "secure-channel handshake the protocol needs is charged.\n"
  "\n"
  "  --nodes N          nodes in the network (default 10000)\n"
  "  --adversaries F    fraction of nodes that lie: they answer every query with each other\n"
  "                     and never serve values (default 0)\n"
  "  --churn F          fraction of nodes replaced per simulated hour (default 0.2)\n"
  "  --hours H          measured period after bootstrap (default 1)\n"
  "  --lookups M        lookups of random nodes' records over that period (default 2000)\n"
  "  --paths D          disjoint lookup paths (default 2)\n"
  "  --alpha A          parallel RPCs per path (default 3)\n"
  "  --channels C       open channels a node keeps (default 256)\n"
  "  --seed S           random seed (default 1)\n"
  "  --out DIR          write DIR/sim-dht.csv (one line per lookup) and DIR/sim-dht.png\n"
  "                     (latency CDF, gnuplot) (default: no files)\n"
  "  --no-relay         plain iterative value lookups (default: first-round contacts relay\n"
  "                     the request further over their open channels, FIND_VALUE_RELAY)\n"
  "  --relay-hops R     how far a first-round value request is relayed (1-3, default 2)\n"
  "  --quiet            no progress output\n";

int
nepnet_cmd_sim(int argc, char **argv)
{
  static const struct option opts[] = {
    { "nodes", required_argument, NULL, 'n' },   { "adversaries", required_argument, NULL, 'a' },
    { "churn", required_argument, NULL, 'c' },   { "hours", required_argument, NULL, 'H' },
    { "lookups", required_argument, NULL, 'l' }, { "paths", required_argument, NULL, 'p' },
    { "alpha", required_argument, NULL, 'A' },   { "channels", required_argument, NULL, 'C' },
    { "seed", required_argument, NULL, 's' },    { "out", required_argument, NULL, 'o' },
    { "quiet", no_argument, NULL, 'q' },         { "help", no_argument, NULL, 'h' },
    { "no-relay", no_argument, NULL, 'R' },      { "relay-hops", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  sim_dht_cfg_t cfg;
  sim_dht_stats_t st;
  char csv[1024], png[1024];
  const char *out = NULL;
  int c;

  if (argc < 2 || strcmp(argv[1], "dht")) {
    fprintf(stderr, "nepnet sim: which simulation? (dht)\n\n%s", sim_usage);
    return 2;
  }
  sim_dht_cfg_default(&cfg);
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'n': cfg.nodes = (uint32_t)strtoul(optarg, &end, 10); break;
    case 'a': cfg.adversaries = strtod(optarg, &end); break;
    case 'c': cfg.churn_per_hour = strtod(optarg, &end); break;
    case 'H': cfg.hours = strtod(optarg, &end); break;
    case 'l': cfg.lookups = (uint32_t)strtoul(optarg, &end, 10); break;
    case 'p': cfg.paths = (uint32_t)strtoul(optarg, &end, 10); break;
    case 'A': cfg.alpha = (uint32_t)strtoul(optarg, &end, 10); break;
    case 'C': cfg.channel_cap = (uint32_t)strtoul(optarg, &end, 10); break;
    case 's': cfg.seed = strtoull(optarg, &end, 10); break;
    case 'o': out = optarg; break;
    case 'q': cfg.quiet = 1; break;
    case 'R': cfg.no_relay = 1; break;
    case 'r': cfg.relay_hops = (uint32_t)strtoul(optarg, &end, 10); break;
    case 'h': fputs(sim_usage, stdout); return 0;
    default: fputs(sim_usage, stderr); return 2;
    }
    if (end && *end) {
      fprintf(stderr, "nepnet sim dht: --%s wants a number, got '%s'\n", opts[0].name, optarg);
      return 2;
    }
  }
  if (cfg.nodes < 50 || cfg.adversaries < 0 || cfg.adversaries >= 0.9 || cfg.churn_per_hour < 0 ||
      cfg.hours <= 0 || !cfg.lookups || !cfg.paths || cfg.paths > 8 || !cfg.alpha || cfg.channel_cap < 8) {
    fprintf(stderr, "nepnet sim dht: out-of-range option (need --nodes >= 50, 0 <= --adversaries < 0.9,\n"
                    "--hours > 0, --lookups >= 1, 1 <= --paths <= 8, --alpha >= 1, --channels >= 8)\n");
    return 2;
  }
  if (out) {
    mkdir(out, 0755);
    snprintf(csv, sizeof(csv), "%s/sim-dht.csv", out);
    snprintf(png, sizeof(png), "%s/sim-dht.png", out);
    cfg.csv = csv;
    cfg.png = png;
  }
  if (sim_dht_run(&cfg, &st, stderr)) {
    fprintf(stderr, "nepnet sim dht: out of memory\n");
    return 1;
  }
  printf("nodes %u, adversarial %.0f%%, churn %.0f%%/h (%u left, %u joined), %.1f h measured\n", cfg.nodes,
         cfg.adversaries * 100, cfg.churn_per_hour * 100, st.leaves, st.joins, cfg.hours);
  printf("lookups %u: success %.2f%%  latency P50 %.0f ms  P95 %.0f ms  P99 %.0f ms  mean %.0f ms\n",
         st.lookups, st.success * 100, st.p50_ms, st.p95_ms, st.p99_ms, st.mean_ms);
  printf("hops: mean %.2f, max %u  (target mean <= log2(N)/3 + 1 = %.2f)\n", st.mean_hops, st.max_hops,
         log2((double)cfg.nodes) / 3 + 1);
  printf("messages %llu, channel reuse %.1f%%, new connections %llu\n", (unsigned long long)st.messages,
         st.messages ? 100.0 * (double)st.channel_hits / (double)st.messages : 0.0,
         (unsigned long long)st.connects);
  printf("DHT memory per node %.0f KiB; wall time %.1f s\n", st.bytes_per_node / 1024, st.wall_s);
  if (out)
    printf("wrote %s and %s\n", csv, png);
  return 0;
}
