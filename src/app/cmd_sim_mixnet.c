/*
 * `nepnet sim mixnet` (sim/sim_mixnet.h): sender anonymity of transactions sent through the
 * mixnet, against the mean delay, the cover preset, a visible burst and the route length.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/commands.h"
#include "sim/sim_mixnet.h"

static const char usage[] =
  "usage: nepnet sim mixnet [OPTIONS]\n"
  "\n"
  "How anonymous is the sender of a transaction sent through the mixnet? N clients run the\n"
  "client's Poisson streams (a cover preset's payload and loop rates, src/mixnet/client.h)\n"
  "through a stratified network of Poisson mixes, in virtual time; transactions of each size\n"
  "are split into fragments with parity as the client splits them and queued at random clients.\n"
  "Two adversaries watch every link. Per packet both take Loopix's pool estimate (a Poisson mix\n"
  "sends any packet inside with equal probability, so a packet leaving carries the mean of the\n"
  "sender distributions of those inside). The first also runs the exit, so it knows which\n"
  "packets reaching it are a transaction's fragments, and multiplies their distributions. The\n"
  "second (an honest exit) knows only the packet that completed the transaction: the last one\n"
  "into the exit before it announced it. Printed per setting and size: the entropy of one\n"
  "packet's sender and of the transaction's sender for each (bits; log2(N) is the most), the\n"
  "probability given to the true sender, how often it is the most likely one, and the latency\n"
  "to the exit. A better estimator can only do better than these: the entropies are upper\n"
  "bounds. The mixes' own cover is left out. No packet bytes are built: the 35 default\n"
  "settings at 1,000 clients take about a minute.\n"
  "\n"
  "  --clients N        clients (2-100000, default 1000)\n"
  "  --per-layer W      mixes per layer (1-256, default 5: 15 mixes in 3 layers)\n"
  "  --layers LIST      mix layers on a route, each 1-5, comma-separated (default 3)\n"
  "  --delays LIST      mean delays per mix in ms, each 0-60000 (default 10,20,50,100,200,500,1000;\n"
  "                     nepnetd's default is 50)\n"
  "  --covers LIST      cover presets (low, standard, constant: nepnetd's --cover), each\n"
  "                     optionally with /no-burst: the same streams, but a transaction waits for\n"
  "                     the payload stream instead of bursting at the preset's burst rate\n"
  "                     (default low,low/no-burst,standard,standard/no-burst,constant)\n"
  "  --sizes LIST       transaction sizes in bytes (default 2000,500000,2000000)\n"
  "  --txs M            transactions per size and setting, each from a different client\n"
  "                     (default 50; M x sizes <= clients)\n"
  "  --warmup S         seconds before the first transaction (default 20)\n"
  "  --tx-interval S    mean seconds between two transactions in the network (0-3600, default\n"
  "                     10): how many bursts overlap, and how much real traffic hides each\n"
  "  --redundancy R     parity fragments per data fragment (0-4, default 0.5, the client's)\n"
  "  --seed S           random seed; the same seed replays the same numbers (default 1)\n"
  "  --out DIR          write DIR/sim-mixnet.csv (one line per setting and size) and\n"
  "                     DIR/sim-mixnet.png (entropy against the delay per preset, and against\n"
  "                     Loopix's lambda/mu, gnuplot) (default: no files)\n"
  "  --quiet            no progress output\n";

static int
fail(const char *flag, const char *want, const char *got)
{
  fprintf(stderr, "nepnet sim mixnet: --%s wants %s, got '%s'\n", flag, want, got);
  return 2;
}

static int
u32_arg(const char *flag, const char *arg, unsigned long lo, unsigned long hi, uint32_t *out)
{
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(arg, &end, 10);
  if (!*arg || *arg == '-' || *end || errno || v < lo || v > hi) {
    char want[64];
    snprintf(want, sizeof(want), "an integer in %lu-%lu", lo, hi);
    return fail(flag, want, arg);
  }
  *out = (uint32_t)v;
  return 0;
}

static int
double_arg(const char *flag, const char *arg, double lo, double hi, double *out)
{
  char *end = NULL;
  double v = strtod(arg, &end);
  if (end == arg || *end || !(v >= lo && v <= hi)) {
    char want[64];
    snprintf(want, sizeof(want), "a number in %g-%g", lo, hi);
    return fail(flag, want, arg);
  }
  *out = v;
  return 0;
}

/* A comma-separated list of integers in [lo, hi], split on a copy (optarg is argv's). */
static int
u32_list_arg(const char *flag, const char *arg, unsigned long lo, unsigned long hi, uint32_t *v, uint32_t *n)
{
  char buf[512], *save = NULL, *tok;
  *n = 0;
  if (strlen(arg) >= sizeof(buf))
    return fail(flag, "a shorter list", arg);
  strcpy(buf, arg);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == SIM_MIXNET_MAX_LIST)
      return fail(flag, "at most 16 values", arg);
    if (u32_arg(flag, tok, lo, hi, &v[*n]))
      return 2;
    (*n)++;
  }
  return *n ? 0 : fail(flag, "at least one value", arg);
}

static int
covers_arg(const char *arg, sim_mixnet_cfg_t *cfg)
{
  char buf[512], *save = NULL, *tok;
  cfg->ncovers = 0;
  if (strlen(arg) >= sizeof(buf))
    return fail("covers", "a shorter list", arg);
  strcpy(buf, arg);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (cfg->ncovers == SIM_MIXNET_MAX_LIST)
      return fail("covers", "at most 16 presets", arg);
    if (sim_mixnet_cover(&cfg->covers[cfg->ncovers++], tok)) {
      fprintf(stderr,
              "nepnet sim mixnet: --covers: '%s' is not a cover preset: give low, standard or constant, each\n"
              "optionally with /no-burst (off sends nothing to hide in)\n",
              tok);
      return 2;
    }
  }
  return cfg->ncovers ? 0 : fail("covers", "at least one preset", arg);
}

static const struct option opts[] = { { "clients", required_argument, NULL, 'n' },
                                      { "per-layer", required_argument, NULL, 'w' },
                                      { "layers", required_argument, NULL, 'l' },
                                      { "delays", required_argument, NULL, 'd' },
                                      { "covers", required_argument, NULL, 'c' },
                                      { "sizes", required_argument, NULL, 'z' },
                                      { "txs", required_argument, NULL, 'm' },
                                      { "warmup", required_argument, NULL, 'u' },
                                      { "tx-interval", required_argument, NULL, 'W' },
                                      { "redundancy", required_argument, NULL, 'r' },
                                      { "seed", required_argument, NULL, 's' },
                                      { "out", required_argument, NULL, 'o' },
                                      { "quiet", no_argument, NULL, 'q' },
                                      { "help", no_argument, NULL, 'h' },
                                      { NULL, 0, NULL, 0 } };

static int
parse(int argc, char **argv, sim_mixnet_cfg_t *cfg, const char **out)
{
  int c, rc = 0;
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'n': rc = u32_arg("clients", optarg, 2, 100000, &cfg->clients); break;
    case 'w': rc = u32_arg("per-layer", optarg, 1, 256, &cfg->per_layer); break;
    case 'l': rc = u32_list_arg("layers", optarg, 1, 5, cfg->layers, &cfg->nlayers); break;
    case 'd': rc = u32_list_arg("delays", optarg, 0, 60000, cfg->delays_ms, &cfg->ndelays); break;
    case 'c': rc = covers_arg(optarg, cfg); break;
    case 'z': rc = u32_list_arg("sizes", optarg, 1, 6000000, cfg->sizes, &cfg->nsizes); break;
    case 'm': rc = u32_arg("txs", optarg, 1, 100000, &cfg->messages); break;
    case 'u': rc = double_arg("warmup", optarg, 0, 3600, &cfg->warmup_s); break;
    case 'W': rc = double_arg("tx-interval", optarg, 0, 3600, &cfg->tx_interval_s); break;
    case 'r': rc = double_arg("redundancy", optarg, 0, 4, &cfg->redundancy); break;
    case 's': {
      char *end = NULL;
      errno = 0;
      cfg->seed = strtoull(optarg, &end, 10);
      if (!*optarg || *end || errno)
        rc = fail("seed", "an integer", optarg);
      break;
    }
    case 'o': *out = optarg; break;
    case 'q': cfg->quiet = 1; break;
    case 'h': fputs(usage, stdout); return -1;
    default: fputs(usage, stderr); return 2;
    }
    if (rc)
      return rc;
  }
  if (optind < argc) {
    fprintf(stderr, "nepnet sim mixnet: unexpected argument '%s'\n\n%s", argv[optind], usage);
    return 2;
  }
  if ((uint64_t)cfg->messages * cfg->nsizes > cfg->clients) {
    fprintf(stderr, "nepnet sim mixnet: --txs %u x %u sizes needs as many clients; --clients is %u\n", cfg->messages,
            cfg->nsizes, cfg->clients);
    return 2;
  }
  return 0;
}

static void
print(const sim_mixnet_cfg_t *cfg, const sim_mixnet_stats_t *st)
{
  printf("%u clients, %u mixes per layer, %u transactions per size and setting, seed %llu; an entropy of "
         "log2(%u) = %.2f bits hides the sender among all clients\n",
         cfg->clients, cfg->per_layer, cfg->messages, (unsigned long long)cfg->seed, cfg->clients, st->log2_clients);
  printf("%-6s %-18s %6s %6s %7s %8s %4s %6s | %6s %6s %7s %5s | %6s %7s | %7s\n", "layers", "cover", "KB/s", "delay",
         "pool", "bytes", "pkts", "H_pkt", "H_tx", "min", "p_true", "top1", "H_obs", "p_obs", "lat_p95");
  for (uint32_t i = 0; i < st->nrows; i++) {
    const sim_mixnet_row_t *r = &st->rows[i];
    printf("%-6u %-18s %6.1f %6u %7.2f %8u %4u %6.2f | %6.2f %6.2f %7.4f %5.2f | %6.2f %7.4f | %7.2f\n", r->layers,
           r->cover.name, r->cover_bytes_s / 1000, r->delay_ms, r->pool, r->size, r->fragments, r->h_packet, r->h_msg,
           r->h_msg_min, r->p_true, r->top1, r->h_observer, r->p_true_observer, r->lat_p95_s);
  }
  printf("delay: mean per mix (ms); pool: packets in a mix on average (Loopix's lambda/mu); H_pkt: bits, one\n"
         "packet's sender. Adversary running the exit: H_tx, the transaction's sender (mean, min), p_true the\n"
         "probability given to the true sender, top1 how often it is the most likely. Observer alone (honest\n"
         "exit): H_obs, p_obs, from the packet that completed the transaction. lat_p95: queued -> enough\n"
         "fragments at the exit (s)\n");
  printf("events %llu, wall time %.1f s\n", (unsigned long long)st->events, st->wall_s);
  if (cfg->csv)
    printf("wrote %s and %s\n", cfg->csv, cfg->png);
}

int
nepnet_cmd_sim_mixnet(int argc, char **argv)
{
  sim_mixnet_cfg_t cfg;
  sim_mixnet_stats_t st;
  char csv[1024], png[1024];
  const char *out = NULL;
  int rc;

  sim_mixnet_cfg_default(&cfg);
  if ((rc = parse(argc, argv, &cfg, &out)))
    return rc < 0 ? 0 : rc;
  if (out) {
    if (mkdir(out, 0755) && errno != EEXIST) {
      fprintf(stderr, "nepnet sim mixnet: cannot create --out directory %s: %s\n", out, strerror(errno));
      return 1;
    }
    snprintf(csv, sizeof(csv), "%s/sim-mixnet.csv", out);
    snprintf(png, sizeof(png), "%s/sim-mixnet.png", out);
    cfg.csv = csv;
    cfg.png = png;
  }
  nn_err_t err = sim_mixnet_run(&cfg, &st, stderr);
  if (err == NN_ERR_ARG) {
    fprintf(stderr, "nepnet sim mixnet: a size does not fit the 200 data fragments a transaction may have\n");
    return 2;
  }
  if (err == NN_ERR_NOMEM) {
    fprintf(stderr, "nepnet sim mixnet: out of memory\n");
    return 1;
  }
  if (err == NN_ERR_IO)
    fprintf(stderr, "nepnet sim mixnet: could not write %s or draw %s (is gnuplot installed?)\n", csv, png);
  if (st.rows)
    print(&cfg, &st);
  sim_mixnet_stats_free(&st);
  return err ? 1 : 0;
}
