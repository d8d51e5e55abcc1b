/*
 * `nepnet sim ...`: the simulator front end: `sim dht` (discovery) and `sim dandelion` (the
 * first-spy attack on Dandelion++ and on two baselines: flooding as Neptune does it today, with
 * no announcement delay, and Bitcoin-style diffusion, with random per-peer delays; or, with
 * `--model reference`, the setting of the Dandelion++ paper's simulations, sim/sim_dandelion_ref.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/commands.h"
#include "sim/sim_dandelion.h"
#include "sim/sim_dandelion_ref.h"
#include "dht/rpc.h"
#include "sim/sim_dht.h"

static const char sim_usage[] =
  "usage: nepnet sim dht [OPTIONS]        DHT lookups (below)\n"
  "       nepnet sim dandelion [OPTIONS]  first-spy precision/recall of Dandelion++ vs flooding\n"
  "                                       (Neptune today) and diffusion (Bitcoin)\n"
  "                                       (nepnet sim dandelion --help)\n"
  "       nepnet sim mixnet [OPTIONS]     sender anonymity through the mixnet against delay,\n"
  "                                       cover and bursts (nepnet sim mixnet --help)\n"
  "\n"
  "nepnet sim dht [OPTIONS]\n"
  "\n"
  "Run N real DHT node cores in virtual time over a latency model (per-pair RTTs 20-300 ms\n"
  "from a six-region model, see sim/latency.h), with churn and colluding adversaries, and\n"
  "report lookup latency percentiles, hop counts and success. Every connection set-up and\n"
  "secure-channel handshake the protocol needs is charged.\n"
  "\n"
  "  --nodes N          nodes in the network (default 10000)\n"
  "  --adversaries F    fraction of nodes that lie: they answer every query with each other\n"
  "                     and never serve values (default 0)\n"
  "  --forge            the adversaries answer with made-up node ids next to the target\n"
  "                     instead (closer than any real node; asking them times out)\n"
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
  "  --per-referrer K   closest referrals a lookup takes from one answer (1-20, default 8,\n"
  "                     as in a node)\n"
  "  --quiet            no progress output\n";

static const char sim_dandelion_usage[] =
  "usage: nepnet sim dandelion [OPTIONS]\n"
  "\n"
  "The first-spy attack on Dandelion++ and on two baselines. N nodes in virtual time over the\n"
  "six-region latency model (sim/latency.h); every honest node runs the real broadcast core\n"
  "(src/dandelion) and sends one transaction, at times spread over 5 minutes. A fraction p of\n"
  "the nodes are spies: for each transaction they name the honest node that first told any spy\n"
  "about it (a STEM, an INV or a TX). For each p the same graph, spies and transactions go\n"
  "through three protocols:\n"
  "  dandelion  Dandelion++ with the node's settings (below; nepnetd's balanced preset)\n"
  "  flooding   what a Neptune node does today: its own transaction, like a relayed one, is\n"
  "             announced to every peer at once, by every node, with no delay. The baseline\n"
  "             of the target (Dandelion++ precision at p = 0.1 at most 1/4 of this)\n"
  "  diffusion  Bitcoin-style flooding: each node announces to each peer after its own random\n"
  "             (exponential) delay, the --inv-out-ms/--inv-in-ms of the Dandelion++ fluff\n"
  "             phase. The delays already blur the origin, so this baseline is harder to beat\n"
  "Printed per p (Fanti et al. 2018): recall, the fraction of transactions attributed to their\n"
  "origin; precision, the mean over honest nodes v of 1/(transactions attributed to v) when v's\n"
  "own is among them, else 0; Dandelion++'s precision over each baseline's; and p^2, the floor\n"
  "for any routing scheme. Once a spy has seen a transaction, later messages carrying it are\n"
  "dropped: they cannot change its attribution, and that keeps 10,000 nodes to seconds.\n"
  "\n"
  "  --nodes N          nodes, spies included (100-1000000, default 10000)\n"
  "  --outbound D       distinct random peers each node dials; the dialler's stem relays are\n"
  "                     drawn from these (1-32, default 8)\n"
  "  --max-inbound I    inbound connections a node accepts (D to 1024-D, default 125)\n"
  "  --q Q              Dandelion++ fluff probability per node per epoch (0.05-0.5, default 0.1)\n"
  "  --inv-out-ms MS    mean of the exponential INV delay to an outbound peer, Dandelion++\n"
  "                     fluff phase and diffusion (0-600000, default 1000, balanced preset)\n"
  "  --inv-in-ms MS     the same to an inbound peer (0-600000, default 2500, balanced preset)\n"
  "  --embargo-base-ms MS  Dandelion++ embargo: this constant ... (0-3600000, default 5000)\n"
  "  --embargo-mean-ms MS  ... plus an exponential with this mean (1-3600000, default 12000);\n"
  "                     a node's own transaction waits 2 means more\n"
  "  --p LIST           spy fractions, comma-separated, each in (0, 0.9] and at least one spy,\n"
  "                     up to 16 values (default 0.05,0.1,0.2,0.3)\n"
  "  --txs M            only M random honest nodes send (default: every honest node). Quick runs\n"
  "                     only: precision is then over M transactions and overstated, since fewer\n"
  "                     transactions compete for each guess\n"
  "  --seed S           random seed; the same seed replays the same numbers (default 1)\n"
  "  --out DIR          write DIR/sim-dandelion.csv (one line per p) and DIR/sim-dandelion.png\n"
  "                     (precision and recall against p for the three, gnuplot) (default: no\n"
  "                     files)\n"
  "  --quiet            no progress output\n"
  "  --model M          nepnet (default): all of the above, the node's own code. reference:\n"
  "                     the setting of the Dandelion++ paper's simulations instead (below)\n"
  "\n"
  "nepnet sim dandelion --model reference [OPTIONS]\n"
  "\n"
  "A separate, small model of the setting of the Dandelion++ paper's simulations (Fanti et al.,\n"
  "SIGMETRICS 2018; the authors' code is github.com/gfanti/dandelion-simulations), to check this\n"
  "simulator against theirs where both model the same thing. It runs no node code: no latency,\n"
  "no timers, only who hands a transaction to whom. With the defaults:\n"
  "  graph        100 nodes, the union of 2 random directed Hamiltonian cycles: an exact\n"
  "               4-regular graph, 2 out-edges and 2 in-edges per node (an edge drawn twice\n"
  "               counts once). floor(p*N) spies, drawn anew for each graph\n"
  "  Dandelion++  q = 0: a stem goes on until it reaches a spy. One-to-one forwarding, drawn\n"
  "               anew each trial: a node maps its in-edges one to one onto its out-edges and\n"
  "               sends its own transaction to a random out-edge; a stem back on a node of its\n"
  "               own path leaves by another out-edge than the mapped one, and one of more\n"
  "               than N hops is attributed to the node it stops at (as the authors' code)\n"
  "  diffusion    every edge from an informed to an uninformed node, in either direction,\n"
  "               fires after an independent exponential delay of one mean (so the next node\n"
  "               informed is the end of a uniformly random such edge); spies never relay\n"
  "  estimator    first spy: a transaction is attributed to the honest node that handed it to\n"
  "               the first spy to see it; precision and recall as above, per trial\n"
  "Every honest node sends one transaction per trial. Printed per p and protocol: the mean\n"
  "over graphs of each graph's mean over its trials, +- 1.96 standard errors of it (a 95%\n"
  "interval), and, in this setting, what the authors' code gives at p = 0.05, 0.1, 0.2 and 0.3\n"
  "(at p = 0.1: precision 0.036, recall 0.105 for Dandelion++; 0.094, 0.235 for diffusion).\n"
  "Under a second.\n"
  "\n"
  "  --nodes N          nodes, spies included (20-100000, default 100)\n"
  "  --p LIST           spy fractions, comma-separated, each in (0, 0.9] with floor(p*N) >= 1,\n"
  "                     up to 16 values (default 0.1)\n"
  "  --graphs G         random graphs per p (1-100000, default 20, as the authors' code)\n"
  "  --trials T         trials per graph (1-10000, default 30, as the authors' code)\n"
  "  --graph KIND       cycles (default, above) or outbound: each node dials D distinct random\n"
  "                     peers (no cap on inbound) and stems to K of them, drawn each trial\n"
  "  --degree D         cycles: total degree, even (2-32, default 4: D/2 cycles)\n"
  "  --outbound D       outbound: peers each node dials (1-32 and below N/2, default 8);\n"
  "                     diffusion runs over both directions of every connection\n"
  "  --stems K          outbound: stem relays per node (1-D, default 2, as a nepnet node)\n"
  "  --forwarding F     one-to-one (default) or per-tx: a random out-edge at every hop of every\n"
  "                     transaction\n"
  "  --q Q              fluff probability (0-0.5, default 0). Above 0 this is nepnet's rule, not\n"
  "                     the authors' code: each relay is a fluffer for the whole trial with\n"
  "                     probability Q, and a stem reaching one is diffused from it as above\n"
  "  --seed S           random seed; the same seed replays the same numbers (default 1)\n"
  "  --quiet            no progress output\n"
  "--max-inbound, --inv-out-ms, --inv-in-ms, --embargo-base-ms, --embargo-mean-ms, --txs and\n"
  "--out belong to --model nepnet; --graphs, --trials, --graph, --degree, --stems and\n"
  "--forwarding to --model reference.\n";

/* A non-negative integer option in [lo, hi]; 0 after printing why not. */
static int
sim_uint_opt(const char *flag, const char *arg, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (!*arg || *arg == '-' || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "nepnet sim dandelion: --%s wants an integer in %llu-%llu, got '%s'\n", flag, lo, hi, arg);
    return 0;
  }
  *out = v;
  return 1;
}

/* A number option in [lo, hi] (lo excluded when \a open_lo). */
static int
sim_double_opt(const char *flag, const char *arg, double lo, double hi, int open_lo, double *out)
{
  char *end = NULL;
  double v = strtod(arg, &end);
  if (end == arg || *end || !(open_lo ? v > lo : v >= lo) || !(v <= hi)) {
    fprintf(stderr, "nepnet sim dandelion: --%s wants a number in %s%g, %g], got '%s'\n", flag, open_lo ? "(" : "[", lo,
            hi, arg);
    return 0;
  }
  *out = v;
  return 1;
}

/* Option scans return 0 to go on, -1 after printing help (exit 0) or the exit code of a usage
 * error (2), so that every caller turns them into an exit status the same way. */
#define SIM_HELP (-1)

/* A uint32_t field's option: sim_uint_opt's check, then the store. */
static int
sim_u32_opt(const char *flag, const char *arg, unsigned long long lo, unsigned long long hi, uint32_t *out)
{
  unsigned long long u;
  if (!sim_uint_opt(flag, arg, lo, hi, &u))
    return 2;
  *out = (uint32_t)u;
  return 0;
}

/* --p LIST into p[0..*np), split on a copy: strtok_r writes into the string it splits, and
 * optarg is argv's. */
static int
sim_p_list_opt(const char *arg, double *p, uint32_t *np_out)
{
  char buf[512], *save = NULL;
  uint32_t np = 0;
  if (strlen(arg) >= sizeof(buf)) {
    fprintf(stderr, "nepnet sim dandelion: --p list too long\n");
    return 2;
  }
  strcpy(buf, arg);
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (np == SIM_DANDELION_MAX_P) {
      fprintf(stderr, "nepnet sim dandelion: --p takes at most %d values\n", SIM_DANDELION_MAX_P);
      return 2;
    }
    if (!sim_double_opt("p", tok, 0, 0.9, 1, &p[np]))
      return 2;
    np++;
  }
  if (!np) {
    fprintf(stderr, "nepnet sim dandelion: --p wants a comma-separated list of numbers in (0, 0.9]\n");
    return 2;
  }
  *np_out = np;
  return 0;
}

/* One --p parser for both models. */
_Static_assert(SIM_DANDELION_MAX_P == SIM_DLREF_MAX_P, "both models take the same number of p values");

/* What `sim dandelion` parses into: the model (found before the other options, whose ranges
 * and defaults depend on it), each model's settings, and the reference options given (some
 * belong to one kind of graph only). */
typedef struct sim_dl_args_t {
  int reference;
  sim_dandelion_cfg_t *cfg;
  sim_dlref_cfg_t *ref;
  const char *out;
  int given_degree, given_outbound, given_stems;
} sim_dl_args_t;

/* An option of the other model: named, with the two ways out. */
static int
sim_dl_other_model(const char *flag, int reference)
{
  const char *m = reference ? "nepnet" : "reference";
  fprintf(stderr, "nepnet sim dandelion: --%s applies to --model %s only: drop --%s, or add --model %s\n", flag, m,
          flag, m);
  return 2;
}

static int
sim_dl_model_opt(const char *arg, int *reference)
{
  if (!strcmp(arg, "nepnet") || !strcmp(arg, "reference")) {
    *reference = !strcmp(arg, "reference");
    return 0;
  }
  fprintf(stderr, "nepnet sim dandelion: --model wants nepnet or reference, got '%s'\n", arg);
  return 2;
}

/* An option of the reference model (sim_dandelion_ref.h). */
static int
sim_dlref_opt(int c, const char *flag, const char *arg, sim_dl_args_t *a)
{
  sim_dlref_cfg_t *ref = a->ref;
  if (!a->reference)
    return sim_dl_other_model(flag, 0);
  switch (c) {
  case 'g': return sim_u32_opt("graphs", arg, 1, 100000, &ref->graphs);
  case 'T': return sim_u32_opt("trials", arg, 1, 10000, &ref->trials);
  case 'D': a->given_degree = 1; return sim_u32_opt("degree", arg, 2, 32, &ref->degree);
  case 'S': a->given_stems = 1; return sim_u32_opt("stems", arg, 1, 32, &ref->stems);
  case 'G':
    if (!strcmp(arg, "cycles") || !strcmp(arg, "outbound")) {
      ref->graph = !strcmp(arg, "cycles") ? SIM_DLREF_CYCLES : SIM_DLREF_OUTBOUND;
      return 0;
    }
    fprintf(stderr, "nepnet sim dandelion: --graph wants cycles or outbound, got '%s'\n", arg);
    return 2;
  case 'F':
    if (!strcmp(arg, "one-to-one") || !strcmp(arg, "per-tx")) {
      ref->forwarding = !strcmp(arg, "one-to-one") ? SIM_DLREF_ONE_TO_ONE : SIM_DLREF_PER_TX;
      return 0;
    }
    fprintf(stderr, "nepnet sim dandelion: --forwarding wants one-to-one or per-tx, got '%s'\n", arg);
    return 2;
  default: return 2;
  }
}

/* One option of `sim dandelion` (getopt's \a c, the option's name and \a arg). The options both
 * models have take each model's range. */
static int
sim_dandelion_opt(int c, const char *flag, const char *arg, sim_dl_args_t *a)
{
  sim_dandelion_cfg_t *cfg = a->cfg;
  sim_dlref_cfg_t *ref = a->ref;
  unsigned long long u;
  switch (c) {
  case 'n':
    return a->reference ? sim_u32_opt("nodes", arg, 20, 100000, &ref->nodes)
                        : sim_u32_opt("nodes", arg, 100, 1000000, &cfg->nodes);
  case 'd':
    a->given_outbound = 1;
    return sim_u32_opt("outbound", arg, 1, 32, a->reference ? &ref->outbound : &cfg->outbound);
  case 'Q': return sim_double_opt("q", arg, a->reference ? 0 : 0.05, 0.5, 0, a->reference ? &ref->q : &cfg->q) ? 0 : 2;
  case 'p': return a->reference ? sim_p_list_opt(arg, ref->p, &ref->np) : sim_p_list_opt(arg, cfg->p, &cfg->np);
  case 's':
    if (!sim_uint_opt("seed", arg, 0, UINT64_MAX, &u))
      return 2;
    cfg->seed = u;
    ref->seed = u;
    return 0;
  case 'q':
    cfg->quiet = 1;
    ref->quiet = 1;
    return 0;
  case 'm': return sim_dl_model_opt(arg, &a->reference); /* already read by the first pass */
  case 'g':
  case 'T':
  case 'D':
  case 'S':
  case 'G':
  case 'F': return sim_dlref_opt(c, flag, arg, a);
  case 'h': fputs(sim_dandelion_usage, stdout); return SIM_HELP;
  default: break;
  }
  if (a->reference && strchr("itOIBMo", c))
    return sim_dl_other_model(flag, 1);
  switch (c) {
  case 'i': return sim_u32_opt("max-inbound", arg, 1, 1023, &cfg->max_inbound);
  case 't': return sim_u32_opt("txs", arg, 1, 1000000, &cfg->txs);
  case 'O': return sim_u32_opt("inv-out-ms", arg, 0, 600000, &cfg->inv_out_ms);
  case 'I': return sim_u32_opt("inv-in-ms", arg, 0, 600000, &cfg->inv_in_ms);
  case 'B': return sim_u32_opt("embargo-base-ms", arg, 0, 3600000, &cfg->embargo_base_ms);
  case 'M': return sim_u32_opt("embargo-mean-ms", arg, 1, 3600000, &cfg->embargo_mean_ms);
  case 'o': a->out = arg; return 0;
  default: fputs(sim_dandelion_usage, stderr); return 2;
  }
}

static const struct option sim_dandelion_opts[] = {
  { "nodes", required_argument, NULL, 'n' },
  { "outbound", required_argument, NULL, 'd' },
  { "max-inbound", required_argument, NULL, 'i' },
  { "q", required_argument, NULL, 'Q' },
  { "p", required_argument, NULL, 'p' },
  { "txs", required_argument, NULL, 't' },
  { "seed", required_argument, NULL, 's' },
  { "out", required_argument, NULL, 'o' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  { "inv-out-ms", required_argument, NULL, 'O' },
  { "inv-in-ms", required_argument, NULL, 'I' },
  { "embargo-base-ms", required_argument, NULL, 'B' },
  { "embargo-mean-ms", required_argument, NULL, 'M' },
  { "model", required_argument, NULL, 'm' },
  { "graphs", required_argument, NULL, 'g' },
  { "trials", required_argument, NULL, 'T' },
  { "graph", required_argument, NULL, 'G' },
  { "degree", required_argument, NULL, 'D' },
  { "stems", required_argument, NULL, 'S' },
  { "forwarding", required_argument, NULL, 'F' },
  { NULL, 0, NULL, 0 },
};

static int
sim_dandelion_parse(int argc, char **argv, sim_dl_args_t *a)
{
  int c, rc, which = -1, err = opterr;
  /* First pass: only --model, since the other options' ranges depend on it. Errors wait for
   * the second pass, which reports them. */
  opterr = 0;
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", sim_dandelion_opts, NULL)) != -1)
    if (c == 'm' && sim_dl_model_opt(optarg, &a->reference)) {
      opterr = err;
      return 2;
    }
  opterr = err;
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", sim_dandelion_opts, &which)) != -1) {
    const char *flag = which >= 0 ? sim_dandelion_opts[which].name : "?";
    if ((rc = sim_dandelion_opt(c, flag, optarg, a)))
      return rc;
    which = -1;
  }
  if (optind < argc) {
    fprintf(stderr, "nepnet sim dandelion: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return 0;
}

/* The ranges that depend on each other (each option alone was checked as it was read). */
static int
sim_dandelion_check(const sim_dandelion_cfg_t *cfg)
{
  if (2 * cfg->outbound >= cfg->nodes) {
    fprintf(stderr, "nepnet sim dandelion: --outbound must be below half of --nodes (%u)\n", cfg->nodes);
    return 2;
  }
  if (cfg->max_inbound < cfg->outbound || cfg->outbound + cfg->max_inbound > 1024) {
    fprintf(stderr,
            "nepnet sim dandelion: --max-inbound must be in %u-%u (at least --outbound, and\n"
            "--outbound + --max-inbound <= 1024)\n",
            cfg->outbound, 1024 - cfg->outbound);
    return 2;
  }
  for (uint32_t i = 0; i < cfg->np; i++)
    if ((uint32_t)(cfg->p[i] * cfg->nodes + 0.5) < 1) {
      fprintf(stderr, "nepnet sim dandelion: --p %g leaves no spy among %u nodes (need p >= %g)\n", cfg->p[i],
              cfg->nodes, 0.5 / cfg->nodes);
      return 2;
    }
  return 0;
}

/* The same for --model reference. */
static int
sim_dlref_check(const sim_dl_args_t *a)
{
  const sim_dlref_cfg_t *ref = a->ref;
  if (ref->graph == SIM_DLREF_CYCLES && (a->given_outbound || a->given_stems)) {
    fprintf(stderr, "nepnet sim dandelion: --%s applies to --graph outbound only: drop it, or add --graph outbound\n",
            a->given_outbound ? "outbound" : "stems");
    return 2;
  }
  if (ref->graph == SIM_DLREF_OUTBOUND && a->given_degree) {
    fprintf(stderr, "nepnet sim dandelion: --degree applies to --graph cycles only (with --graph outbound, "
                    "--outbound sets the degree)\n");
    return 2;
  }
  if (ref->graph == SIM_DLREF_CYCLES && ref->degree % 2) {
    fprintf(stderr,
            "nepnet sim dandelion: --degree must be even (D/2 cycles, each adds one out- and one in-edge), "
            "got %u\n",
            ref->degree);
    return 2;
  }
  if (ref->graph == SIM_DLREF_OUTBOUND && 2 * ref->outbound >= ref->nodes) {
    fprintf(stderr, "nepnet sim dandelion: --outbound must be below half of --nodes (%u)\n", ref->nodes);
    return 2;
  }
  if (ref->graph == SIM_DLREF_OUTBOUND && ref->stems > ref->outbound) {
    fprintf(stderr, "nepnet sim dandelion: --stems must be at most --outbound (%u)\n", ref->outbound);
    return 2;
  }
  for (uint32_t i = 0; i < ref->np; i++) {
    double s = floor(ref->p[i] * ref->nodes + 1e-9);
    if (s < 1 || s >= ref->nodes) {
      fprintf(stderr,
              "nepnet sim dandelion: --p %g gives %.0f spies among %u nodes (floor(p*N) must be 1 to N-1: "
              "need p >= %g)\n",
              ref->p[i], s, ref->nodes, 1.0 / ref->nodes);
      return 2;
    }
  }
  return 0;
}

/* DIR/NAME.csv and DIR/NAME.png (the buffers are the caller's: cfg keeps pointers to them). */
static void
sim_out_paths(const char *out, const char *name, char *csv, char *png, size_t n)
{
  snprintf(csv, n, "%s/%s.csv", out, name);
  snprintf(png, n, "%s/%s.png", out, name);
}

/* What was simulated: the graph, then each protocol's settings. */
static void
sim_dandelion_print_setup(const sim_dandelion_cfg_t *cfg, const sim_dandelion_stats_t *st)
{
  printf("nodes %u (%u connections, mean degree %.1f, %u outbound each), %s, seed %llu\n", cfg->nodes, st->edges,
         st->mean_degree, cfg->outbound, cfg->txs ? "sampled senders" : "one transaction per honest node",
         (unsigned long long)cfg->seed);
  printf("Dandelion++: q %.2f, embargo %u ms + exp(mean %u ms) (own: 2 means more), fluff INV delay exp(mean %u ms)\n"
         "  to outbound / exp(mean %u ms) to inbound peers\n",
         cfg->q, cfg->embargo_base_ms, cfg->embargo_mean_ms, cfg->inv_out_ms, cfg->inv_in_ms);
  printf("flooding:    Neptune today: every node announces to every peer at once (INV delay 0)\n");
  printf("diffusion:   Bitcoin-style: every node announces to each peer after exp(mean %u ms) out /\n"
         "  exp(mean %u ms) in, the delays of the Dandelion++ fluff phase\n",
         cfg->inv_out_ms, cfg->inv_in_ms);
}

/* One line per p: the three protocols side by side. */
static void
sim_dandelion_print_table(const sim_dandelion_cfg_t *cfg, const sim_dandelion_stats_t *st)
{
  printf("first-spy attack    Dandelion++        flooding          diffusion        D++ precision over\n");
  printf("    p  spies   precision recall   precision recall   precision recall   flooding diffusion     p^2\n");
  for (uint32_t i = 0; i < st->np; i++) {
    const sim_dandelion_result_t *d = &st->dandelion[i], *f = &st->flooding[i], *df = &st->diffusion[i];
    printf(" %4.2f %6u      %6.4f %6.4f      %6.4f %6.4f      %6.4f %6.4f      %6.3f    %6.3f  %6.4f\n", st->p[i],
           st->spies[i], d->precision, d->recall, f->precision, f->recall, df->precision, df->recall,
           f->precision > 0 ? d->precision / f->precision : 0.0, df->precision > 0 ? d->precision / df->precision : 0.0,
           st->p[i] * st->p[i]);
  }
  if (cfg->txs)
    printf("(--txs: precision over %u sampled transactions per p; fewer compete for each guess than when\n"
           " every honest node sends, so all precisions are overstated)\n",
           st->dandelion[0].txs);
}

/* What qualifies the table: unattributed transactions, and the target at p = 0.1 if it was run. */
static void
sim_dandelion_print_notes(const sim_dandelion_stats_t *st)
{
  for (uint32_t i = 0; i < st->np; i++) {
    const sim_dandelion_result_t *d = &st->dandelion[i], *f = &st->flooding[i], *df = &st->diffusion[i];
    if (d->seen < d->txs || f->seen < f->txs || df->seen < df->txs)
      printf("p %.2f: %u (Dandelion++), %u (flooding) and %u (diffusion) of %u transactions never reached a spy"
             " (unattributed)\n",
             st->p[i], d->txs - d->seen, f->txs - f->seen, df->txs - df->seen, d->txs);
  }
  for (uint32_t i = 0; i < st->np; i++)
    if (fabs(st->p[i] - 0.1) < 1e-9) {
      double dp = st->dandelion[i].precision, fp = st->flooding[i].precision, xp = st->diffusion[i].precision;
      printf("target at p = 0.10: Dandelion++ precision %.4f <= 0.1: %s; <= 1/4 of flooding's (%.4f): %s"
             " (ratio %.3f)\n",
             dp, dp <= 0.1 ? "met" : "MISSED", fp / 4, dp <= fp / 4 ? "met" : "MISSED", fp > 0 ? dp / fp : 0.0);
      printf("  (not the target, for comparison: ratio to diffusion's %.4f is %.3f)\n", xp, xp > 0 ? dp / xp : 0.0);
    }
}

/* The files, last: the table is printed even when the CSV could not be written. */
static int
sim_dandelion_print_files(const sim_dandelion_cfg_t *cfg, const sim_dandelion_stats_t *st, nn_err_t err)
{
  if (err == NN_ERR_IO) {
    fprintf(stderr, "nepnet sim dandelion: cannot write %s\n", cfg->csv);
    return 1;
  }
  if (cfg->csv) {
    if (st->png_written > 0)
      printf("wrote %s and %s\n", cfg->csv, cfg->png);
    else
      printf("wrote %s (no PNG: %s)\n", cfg->csv, st->png_written ? "gnuplot failed" : "gnuplot is not installed");
  }
  return 0;
}

/* --model reference: what was modelled, then one line per p and protocol, with the authors'
 * figures beside when the setting is theirs. */
static void
sim_dlref_print(const sim_dlref_cfg_t *ref, const sim_dlref_stats_t *st)
{
  int paper = sim_dlref_is_paper_setting(ref);
  printf("model reference: the Dandelion++ paper's simulation setting (Fanti et al. 2018; the authors' code is\n"
         "  gfanti/dandelion-simulations), not the node's code%s\n",
         paper ? "" : ", with the options' changes");
  if (ref->graph == SIM_DLREF_CYCLES)
    printf("graph:       %u nodes, union of %u random directed Hamiltonian cycles (%u-regular: out-degree = in-degree\n"
           "  %.3f, %.2f edges per graph drawn twice and counted once)\n",
           ref->nodes, ref->degree / 2, ref->degree, st->mean_out, (double)st->merged_edges / (double)ref->graphs);
  else
    printf("graph:       %u nodes, each dials %u distinct random peers (no inbound cap; mean degree %.1f), %u stem\n"
           "  relays per node drawn from its outbound each trial\n",
           ref->nodes, ref->outbound, 2 * st->mean_out, ref->stems);
  printf("spies:       floor(p*N), drawn anew for each graph; estimator: first spy\n");
  if (ref->q > 0)
    printf("Dandelion++: q %.2f (nepnet's rule: a relay fluffs for the whole trial with probability q, then\n"
           "  diffusion from it), ",
           ref->q);
  else
    printf("Dandelion++: q 0 (a stem ends only at a spy), ");
  printf("%s forwarding drawn anew each trial\n",
         ref->forwarding == SIM_DLREF_ONE_TO_ONE ? "one-to-one" : "per-transaction random");
  printf("diffusion:   equal exponential delays on every edge, both directions\n");
  printf("%u graphs x %u trials per p, every honest node sends one transaction per trial, seed %llu\n", ref->graphs,
         ref->trials, (unsigned long long)ref->seed);
  printf("    p  spies  protocol      precision           recall              mean hops%s\n",
         paper ? "   authors' code: precision  recall" : "");
  for (uint32_t i = 0; i < st->np; i++) {
    sim_dlref_paper_t pp;
    int known = paper && sim_dlref_paper(st->p[i], &pp);
    for (int k = 0; k < 2; k++) {
      const sim_dlref_result_t *r = k ? &st->diffusion[i] : &st->dandelion[i];
      printf(" %4.2f %6u  %-12s  %6.4f +- %6.4f   %6.4f +- %6.4f   %6.2f", st->p[i], st->spies[i],
             k ? "diffusion" : "Dandelion++", r->precision, 1.96 * r->precision_se, r->recall, 1.96 * r->recall_se,
             r->mean_hops);
      if (known)
        printf("                   %6.4f  %6.4f", k ? pp.diff_precision : pp.dl_precision,
               k ? pp.diff_recall : pp.dl_recall);
      printf("\n");
    }
  }
  printf("(+- is 1.96 standard errors of the mean of the per-graph means: a 95%% interval; mean hops: stem\n"
         " hops to the spy%s for Dandelion++, honest nodes informed before a spy for diffusion)\n",
         ref->q > 0 ? " or fluffer" : "");
  for (uint32_t i = 0; i < st->np; i++) {
    const sim_dlref_result_t *d = &st->dandelion[i], *x = &st->diffusion[i];
    if (d->unattributed || x->unattributed || d->fallback)
      printf("p %.2f: %llu (Dandelion++) and %llu (diffusion) of %llu transactions reached no spy; %llu stems were\n"
             "  cut after N hops and attributed to the node they stopped at\n",
             st->p[i], (unsigned long long)d->unattributed, (unsigned long long)x->unattributed,
             (unsigned long long)d->txs, (unsigned long long)d->fallback);
    if (d->fluffed)
      printf("p %.2f: %.1f%% of the stems ended at a fluffer\n", st->p[i], 100.0 * (double)d->fluffed / (double)d->txs);
  }
  if (paper)
    printf("authors' code: their simulators in this setting, run by us with 300-13,000 graphs "
           "(sim/sim_dandelion_ref.h)\n");
}

static int
sim_dlref_main(const sim_dl_args_t *a)
{
  sim_dlref_stats_t st;
  int rc = sim_dlref_check(a);
  if (rc)
    return rc;
  nn_err_t err = sim_dlref_run(a->ref, &st, stderr);
  if (err) {
    fprintf(stderr, "nepnet sim dandelion: %s\n", err == NN_ERR_ARG ? "option out of range" : "out of memory");
    return err == NN_ERR_ARG ? 2 : 1;
  }
  sim_dlref_print(a->ref, &st);
  printf("wall time %.1f s\n", st.wall_s);
  return 0;
}

static int
sim_dandelion_main(int argc, char **argv)
{
  sim_dandelion_cfg_t cfg;
  sim_dandelion_stats_t st;
  sim_dlref_cfg_t ref;
  sim_dl_args_t a = { .cfg = &cfg, .ref = &ref };
  char csv[1024], png[1024];
  int rc;

  sim_dandelion_cfg_default(&cfg);
  sim_dlref_cfg_default(&ref);
  if ((rc = sim_dandelion_parse(argc, argv, &a)))
    return rc == SIM_HELP ? 0 : rc;
  if (a.reference)
    return sim_dlref_main(&a);
  if ((rc = sim_dandelion_check(&cfg)))
    return rc;
  if (a.out) {
    if (mkdir(a.out, 0755) && errno != EEXIST) {
      fprintf(stderr, "nepnet sim dandelion: cannot create %s: %s\n", a.out, strerror(errno));
      return 1;
    }
    sim_out_paths(a.out, "sim-dandelion", csv, png, sizeof(csv));
    cfg.csv = csv;
    cfg.png = png;
  }
  nn_err_t err = sim_dandelion_run(&cfg, &st, stderr);
  if (err && err != NN_ERR_IO) {
    fprintf(stderr, "nepnet sim dandelion: %s\n", err == NN_ERR_ARG ? "option out of range" : "out of memory");
    return err == NN_ERR_ARG ? 2 : 1;
  }
  sim_dandelion_print_setup(&cfg, &st);
  sim_dandelion_print_table(&cfg, &st);
  sim_dandelion_print_notes(&st);
  printf("wall time %.1f s\n", st.wall_s);
  return sim_dandelion_print_files(&cfg, &st, err);
}

static const struct option sim_dht_opts[] = {
  { "nodes", required_argument, NULL, 'n' },
  { "adversaries", required_argument, NULL, 'a' },
  { "churn", required_argument, NULL, 'c' },
  { "hours", required_argument, NULL, 'H' },
  { "lookups", required_argument, NULL, 'l' },
  { "paths", required_argument, NULL, 'p' },
  { "alpha", required_argument, NULL, 'A' },
  { "channels", required_argument, NULL, 'C' },
  { "seed", required_argument, NULL, 's' },
  { "out", required_argument, NULL, 'o' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  { "no-relay", no_argument, NULL, 'R' },
  { "relay-hops", required_argument, NULL, 'r' },
  { "per-referrer", required_argument, NULL, 'K' },
  { "forge", no_argument, NULL, 'F' },
  { NULL, 0, NULL, 0 },
};

/* One option of `sim dht`; *end is where a number's digits stopped (NULL: not a number). */
static int
sim_dht_opt(int c, const char *arg, sim_dht_cfg_t *cfg, const char **out, char **end)
{
  switch (c) {
  case 'n': cfg->nodes = (uint32_t)strtoul(arg, end, 10); return 0;
  case 'a': cfg->adversaries = strtod(arg, end); return 0;
  case 'c': cfg->churn_per_hour = strtod(arg, end); return 0;
  case 'H': cfg->hours = strtod(arg, end); return 0;
  case 'l': cfg->lookups = (uint32_t)strtoul(arg, end, 10); return 0;
  case 'p': cfg->paths = (uint32_t)strtoul(arg, end, 10); return 0;
  case 'A': cfg->alpha = (uint32_t)strtoul(arg, end, 10); return 0;
  case 'C': cfg->channel_cap = (uint32_t)strtoul(arg, end, 10); return 0;
  case 's': cfg->seed = strtoull(arg, end, 10); return 0;
  case 'o': *out = arg; return 0;
  case 'q': cfg->quiet = 1; return 0;
  case 'R': cfg->no_relay = 1; return 0;
  case 'r': cfg->relay_hops = (uint32_t)strtoul(arg, end, 10); return 0;
  case 'F': cfg->forge = 1; return 0;
  case 'K': cfg->per_referrer = (uint32_t)strtoul(arg, end, 10); return 0;
  case 'h': fputs(sim_usage, stdout); return SIM_HELP;
  default: fputs(sim_usage, stderr); return 2;
  }
}

static int
sim_dht_parse(int argc, char **argv, sim_dht_cfg_t *cfg, const char **out)
{
  int c, rc, which = 0;
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", sim_dht_opts, &which)) != -1) {
    char *end = NULL;
    if ((rc = sim_dht_opt(c, optarg, cfg, out, &end)))
      return rc;
    if (end && *end) { /* names the option that was wrong, not the first one */
      fprintf(stderr, "nepnet sim dht: --%s wants a number, got '%s'\n", sim_dht_opts[which].name, optarg);
      return 2;
    }
  }
  if (cfg->nodes < 50 || cfg->adversaries < 0 || cfg->adversaries >= 0.9 || cfg->churn_per_hour < 0 ||
      cfg->hours <= 0 || !cfg->lookups || !cfg->paths || cfg->paths > 8 || !cfg->alpha || cfg->channel_cap < 8 ||
      cfg->per_referrer > NN_RPC_MAX_NODES) {
    fprintf(stderr, "nepnet sim dht: out-of-range option (need --nodes >= 50, 0 <= --adversaries < 0.9,\n"
                    "--hours > 0, --lookups >= 1, 1 <= --paths <= 8, --alpha >= 1, --channels >= 8,\n"
                    "--per-referrer <= 20)\n");
    return 2;
  }
  return 0;
}

static void
sim_dht_print(const sim_dht_cfg_t *cfg, const sim_dht_stats_t *st)
{
  printf("nodes %u, adversarial %.0f%%, churn %.0f%%/h (%u left, %u joined), %.1f h measured\n", cfg->nodes,
         cfg->adversaries * 100, cfg->churn_per_hour * 100, st->leaves, st->joins, cfg->hours);
  printf("lookups %u: success %.2f%%  latency P50 %.0f ms  P95 %.0f ms  P99 %.0f ms  mean %.0f ms\n", st->lookups,
         st->success * 100, st->p50_ms, st->p95_ms, st->p99_ms, st->mean_ms);
  printf("hops: mean %.2f, max %u  (target mean <= log2(N)/3 + 1 = %.2f)\n", st->mean_hops, st->max_hops,
         log2((double)cfg->nodes) / 3 + 1);
  printf("messages %llu, channel reuse %.1f%%, new connections %llu\n", (unsigned long long)st->messages,
         st->messages ? 100.0 * (double)st->channel_hits / (double)st->messages : 0.0,
         (unsigned long long)st->connects);
  printf("DHT memory per node %.0f KiB; wall time %.1f s\n", st->bytes_per_node / 1024, st->wall_s);
  if (cfg->csv)
    printf("wrote %s and %s\n", cfg->csv, cfg->png);
}

static int
sim_dht_main(int argc, char **argv)
{
  sim_dht_cfg_t cfg;
  sim_dht_stats_t st;
  char csv[1024], png[1024];
  const char *out = NULL;
  int rc;

  sim_dht_cfg_default(&cfg);
  if ((rc = sim_dht_parse(argc, argv, &cfg, &out)))
    return rc == SIM_HELP ? 0 : rc;
  if (out) {
    mkdir(out, 0755);
    sim_out_paths(out, "sim-dht", csv, png, sizeof(csv));
    cfg.csv = csv;
    cfg.png = png;
  }
  if (sim_dht_run(&cfg, &st, stderr)) {
    fprintf(stderr, "nepnet sim dht: out of memory\n");
    return 1;
  }
  sim_dht_print(&cfg, &st);
  return 0;
}

int
nepnet_cmd_sim(int argc, char **argv)
{
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(sim_usage, stdout);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "dandelion"))
    return sim_dandelion_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "mixnet"))
    return nepnet_cmd_sim_mixnet(argc, argv);
  if (argc < 2 || strcmp(argv[1], "dht")) {
    fprintf(stderr, "nepnet sim: which simulation? (dht, dandelion, mixnet)\n\n%s", sim_usage);
    return 2;
  }
  return sim_dht_main(argc, argv);
}
