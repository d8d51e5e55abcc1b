/*
 * `nepnet sim mixnet` (sim/sim_mixnet.h): sender anonymity of transactions sent through the
 * mixnet, against the mean delay, the cover preset, a visible burst and the route length.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
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
  "  --quiet            no progress output\n"
  "  --model M          nepnet (default): all of the above. reference: the Loopix authors'\n"
  "                     simulator's setting and metric instead (below)\n"
  "\n"
  "nepnet sim mixnet --model reference [OPTIONS]\n"
  "\n"
  "The setting of the Loopix authors' simulator (github.com/aniampio/Simulator, test mode), to\n"
  "check this simulator's machinery against theirs where both model the same thing: 100\n"
  "clients, 3 layers x 3 mixes, each packet delayed exp(delay) + 0.386 ms per hop; every client\n"
  "sends one Poisson stream of 1 packet/s (a queued packet, else a dummy loop) and, with cover,\n"
  "loops at the cover rate; client 0 queues 1,000 one-packet target messages, one a second after\n"
  "100 s. A mix keeps the mean of the vectors of the packets that entered since it was last\n"
  "empty (a target starts one-hot on its index, any other packet at zero) and gives it to each\n"
  "packet that leaves; the entropy of target i is -sum p log2 p over every packet leaving the\n"
  "network: where it went among all packets leaving, not who sent it. Printed per setting: the\n"
  "mean over the targets after all their mass left, and, in this setting, the authors' code's\n"
  "figure (their code, run by us; README). A few seconds per setting.\n"
  "\n"
  "  --delays LIST      mean delays per hop in ms (default 50,100,200,500,1000)\n"
  "  --cover-rates LIST loop rates in packets/s, 0 = no cover (default 0,1)\n"
  "  --clients N, --per-layer W, --layers L (one value), --seed S as above\n"
  "  --targets T        target messages (1-100000, default 1000)\n";

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
                                      { "model", required_argument, NULL, 'M' },
                                      { "cover-rates", required_argument, NULL, 'C' },
                                      { "targets", required_argument, NULL, 'T' },
                                      { NULL, 0, NULL, 0 } };

/* What the command line asked for: the nepnet model's settings in cfg, the reference's apart. */
typedef struct args_t {
  sim_mixnet_cfg_t cfg;
  const char *out;
  int reference;
  uint32_t ncover_rates;
  double cover_rates[SIM_MIXNET_MAX_LIST];
  uint32_t targets;
  int given_clients, given_per_layer, given_delays;
  const char *nepnet_only; /* an option the reference model does not take, if one was given */
} args_t;

static int
rates_arg(const char *arg, args_t *a)
{
  char buf[512], *save = NULL, *tok;
  a->ncover_rates = 0;
  if (strlen(arg) >= sizeof(buf))
    return fail("cover-rates", "a shorter list", arg);
  strcpy(buf, arg);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (a->ncover_rates == SIM_MIXNET_MAX_LIST)
      return fail("cover-rates", "at most 16 values", arg);
    if (double_arg("cover-rates", tok, 0, 1000, &a->cover_rates[a->ncover_rates++]))
      return 2;
  }
  return a->ncover_rates ? 0 : fail("cover-rates", "at least one value", arg);
}

static int
parse(int argc, char **argv, args_t *a)
{
  sim_mixnet_cfg_t *cfg = &a->cfg;
  int c, rc = 0, which = 0;
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", opts, &which)) != -1) {
    if (c == 'c' || c == 'z' || c == 'm' || c == 'u' || c == 'W' || c == 'r' || c == 'o')
      a->nepnet_only = opts[which].name;
    switch (c) {
    case 'n':
      rc = u32_arg("clients", optarg, 2, 100000, &cfg->clients);
      a->given_clients = 1;
      break;
    case 'w':
      rc = u32_arg("per-layer", optarg, 1, 256, &cfg->per_layer);
      a->given_per_layer = 1;
      break;
    case 'l': rc = u32_list_arg("layers", optarg, 1, 5, cfg->layers, &cfg->nlayers); break;
    case 'd':
      rc = u32_list_arg("delays", optarg, 0, 60000, cfg->delays_ms, &cfg->ndelays);
      a->given_delays = 1;
      break;
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
    case 'o': a->out = optarg; break;
    case 'q': cfg->quiet = 1; break;
    case 'M':
      if (!strcmp(optarg, "reference"))
        a->reference = 1;
      else if (strcmp(optarg, "nepnet"))
        rc = fail("model", "nepnet or reference", optarg);
      break;
    case 'C': rc = rates_arg(optarg, a); break;
    case 'T': rc = u32_arg("targets", optarg, 1, 100000, &a->targets); break;
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
  if (a->reference && a->nepnet_only) {
    fprintf(stderr,
            "nepnet sim mixnet: --%s belongs to --model nepnet; --model reference takes --delays,\n"
            "--cover-rates, --clients, --per-layer, --layers, --targets and --seed\n",
            a->nepnet_only);
    return 2;
  }
  if (a->reference && cfg->nlayers != 1) {
    fprintf(stderr, "nepnet sim mixnet: --model reference runs one --layers value\n");
    return 2;
  }
  if (!a->reference && (a->ncover_rates || a->targets)) {
    fprintf(stderr, "nepnet sim mixnet: --cover-rates and --targets belong to --model reference\n");
    return 2;
  }
  if (!a->reference && (uint64_t)cfg->messages * cfg->nsizes > cfg->clients) {
    fprintf(stderr, "nepnet sim mixnet: --txs %u x %u sizes needs as many clients; --clients is %u\n", cfg->messages,
            cfg->nsizes, cfg->clients);
    return 2;
  }
  return 0;
}

/* The authors' simulator in its own setting (100 clients, 3 x 3, 1 packet/s, 1,000 targets 1 s
 * apart), run by us: mean entropy per target after cooldown (all mass out), seed 1; a second
 * seed moved each by at most 0.02 bits. 0 where not run. */
static double
authors_figure(double cover_rate, uint32_t delay_ms)
{
  static const struct {
    double cover;
    uint32_t delay;
    double h;
  } f[] = {
    { 0, 50, 4.499 }, { 0, 100, 5.788 }, { 0, 200, 6.921 }, { 0, 500, 8.289 },   { 0, 1000, 9.301 },
    { 1, 50, 5.799 }, { 1, 200, 7.964 }, { 1, 500, 9.304 }, { 1, 1000, 10.310 },
  };
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
    if (f[i].cover == cover_rate && f[i].delay == delay_ms)
      return f[i].h;
  return 0;
}

static int
reference_main(args_t *a)
{
  sim_mixnet_ref_cfg_t ref;
  static const uint32_t delays[] = { 50, 100, 200, 500, 1000 };
  sim_mixnet_ref_cfg_default(&ref);
  if (a->given_clients)
    ref.clients = a->cfg.clients;
  if (a->given_per_layer)
    ref.per_layer = a->cfg.per_layer;
  ref.layers = a->cfg.layers[0];
  if (a->targets)
    ref.targets = a->targets;
  ref.seed = a->cfg.seed;
  if (!a->given_delays) {
    a->cfg.ndelays = sizeof(delays) / sizeof(delays[0]);
    memcpy(a->cfg.delays_ms, delays, sizeof(delays));
  }
  if (!a->ncover_rates) {
    a->ncover_rates = 2;
    a->cover_rates[0] = 0;
    a->cover_rates[1] = 1;
  }
  int theirs = ref.clients == 100 && ref.layers == 3 && ref.per_layer == 3 && ref.targets == 1000;
  printf("Loopix authors' setting: %u clients, %u layers x %u mixes, %u targets 1 s apart from one client, 1 "
         "packet/s per client, exp(delay) + 0.386 ms per hop, seed %llu\n",
         ref.clients, ref.layers, ref.per_layer, ref.targets, (unsigned long long)ref.seed);
  printf("%-11s %8s %8s %20s %8s %14s\n", "cover pkt/s", "delay_ms", "pool", "H bits (mean +- 1.96 se)", "min",
         "authors' code");
  for (uint32_t c = 0; c < a->ncover_rates; c++)
    for (uint32_t d = 0; d < a->cfg.ndelays; d++) {
      sim_mixnet_ref_result_t r;
      ref.cover_rate = a->cover_rates[c];
      ref.delay_ms = a->cfg.delays_ms[d];
      if (sim_mixnet_ref_run(&ref, &r)) {
        fprintf(stderr, "nepnet sim mixnet: out of memory\n");
        return 1;
      }
      double them = theirs ? authors_figure(ref.cover_rate, ref.delay_ms) : 0;
      char t[32] = "-";
      if (them > 0)
        snprintf(t, sizeof(t), "%.3f", them);
      printf("%-11g %8u %8.2f %12.3f +- %5.3f %8.2f %14s\n", ref.cover_rate, ref.delay_ms, r.pool, r.h_mean,
             1.96 * r.h_sd / sqrt((double)ref.targets), r.h_min, t);
      fflush(stdout);
    }
  printf("H: the entropy of where a target went among the packets leaving the network (their metric), after\n"
         "all its mass left; pool: packets in a mix on average (lambda/mu)\n");
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
  args_t a;
  sim_mixnet_stats_t st;
  char csv[1024], png[1024];
  int rc;

  memset(&a, 0, sizeof(a));
  sim_mixnet_cfg_default(&a.cfg);
  if ((rc = parse(argc, argv, &a)))
    return rc < 0 ? 0 : rc;
  if (a.reference)
    return reference_main(&a);
  sim_mixnet_cfg_t cfg = a.cfg;
  const char *out = a.out;
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
