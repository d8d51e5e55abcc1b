/*
 * `nepnet devnet ...`: a local network of nepnetd processes on loopback (node/devnet.h).
 * `demo` is the README's main job: start a devnet, privately broadcast one transaction from one
 * node, show every node receiving it (how, and from whom), stop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/commands.h"
#include "lib/clock.h"
#include "crypto/rand.h"
#include "lib/hex.h"
#include "app/devnet.h"

static const char devnet_usage[] =
  "usage: nepnet devnet up N [OPTIONS]     start N nodes (2..512) and show them join\n"
  "       nepnet devnet demo [N] [OPTIONS] start N nodes (default 10), submit one transaction at one\n"
  "                                        node, show every node receiving it, stop the devnet\n"
  "       nepnet devnet status [--dir DIR] one line per node\n"
  "       nepnet devnet trace ID [--dir DIR] the real stem path of transaction ID, joined from every\n"
  "                                        node's record of the stems it passed on (regtest only)\n"
  "       nepnet devnet down [--dir DIR]   stop every node (SIGTERM, SIGKILL after 10 s)\n"
  "\n"
  "Each node is a nepnetd process with its data directory DIR/node-I (log: nepnetd.log), on\n"
  "127.0.0.1:BASE+2I, its control API on 127.0.0.1:BASE+2I+1, network regtest. Node I > 0\n"
  "bootstraps from node 0 and one earlier node; then discovery (DHT) does the rest.\n"
  "\n"
  "options:\n"
  "  --dir DIR          where the devnet lives (default ./devnet)\n"
  "  --preset P         fast, balanced (default) or private-like settings for every node\n"
  "                     (the devnet keeps listening: 'private' nodes would be hidden)\n"
  "  --base-port PORT   first port (default 19800); 2 ports per node\n"
  "  --nepnetd PATH     the daemon (default: next to this nepnet binary, else on PATH)\n"
  "  --size BYTES       demo: transaction size (default 2048)\n"
  "  --keep             demo: leave the devnet running afterwards (stop with devnet down)\n"
  "  --mixes M          nodes 0..M-1 are mixes (--mix 1): the mixnet needs at least one per\n"
  "                     layer (3); send through it with --set route=mixnet --set cover=standard\n"
  "  --set NAME=VALUE   pass --NAME VALUE to every nepnetd (repeatable), e.g. --set fluff-prob=0.2\n";

static int
cmd_down(const char *dir)
{
  nn_devnet_t dn;
  char why[512];
  if (nn_devnet_open(&dn, dir, why, sizeof(why))) {
    fprintf(stderr, "nepnet devnet down: %s\n", why);
    return 1;
  }
  unsigned r = nn_devnet_down(&dn, 10000);
  printf("stopped %u node%s in %s\n", r, r == 1 ? "" : "s", dir);
  nn_devnet_free(&dn);
  return 0;
}

static int
cmd_status(const char *dir)
{
  nn_devnet_t dn;
  char why[512];
  if (nn_devnet_open(&dn, dir, why, sizeof(why))) {
    fprintf(stderr, "nepnet devnet status: %s\n", why);
    return 1;
  }
  printf("%-8s %-8s %-16s %5s %5s %5s %6s %8s\n", "node", "pid", "node id", "out", "in", "dht", "epoch", "mempool");
  for (unsigned i = 0; i < dn.n; i++) {
    json_t *j = NULL;
    if (dn.pid[i] <= 0 || nn_devnet_api(&dn, i, "GET", "/v1/status", NULL, 0, NULL, &j) != 200 || !j) {
      printf("node-%-3u %-8d (not running)\n", i, dn.pid[i]);
      json_decref(j);
      continue;
    }
    const char *id = json_string_value(json_object_get(j, "node_id"));
    json_t *ep = json_object_get(j, "epoch"), *mp = json_object_get(j, "mempool");
    printf("node-%-3u %-8d %-16.16s %5lld %5lld %5lld %6s %8lld\n", i, dn.pid[i], id ? id : "?",
           (long long)json_integer_value(json_object_get(j, "peers_out")),
           (long long)json_integer_value(json_object_get(j, "peers_in")),
           (long long)json_integer_value(json_object_get(j, "dht_size")),
           json_string_value(json_object_get(ep, "role")) ? json_string_value(json_object_get(ep, "role")) : "?",
           (long long)json_integer_value(json_object_get(mp, "count")));
    json_decref(j);
  }
  nn_devnet_free(&dn);
  return 0;
}

static const char *
jstr(json_t *o, const char *key, const char *def)
{
  const char *v = json_string_value(json_object_get(o, key));
  return v ? v : def;
}

/* The stem path of \a idhex: from its origin (the node that knows it as its own) through each
 * relay's record (who sent it the stem, where it went) to the node that fluffed it. Returns 0
 * when the path was found whole. */
static int
trace_path(nn_devnet_t *dn, const char *idhex)
{
  char path[128], ids[NN_DEVNET_MAX][65];
  json_t *recs[NN_DEVNET_MAX] = { NULL };
  int origin = -1, rc = 1;
  uint64_t t0 = 0;
  const char *to = NULL;
  json_t *own = NULL;

  for (unsigned i = 0; i < dn->n; i++)
    nn_devnet_node_id(dn, i, ids[i]);
  snprintf(path, sizeof(path), "/v1/tx/%s", idhex);
  for (unsigned i = 0; i < dn->n && origin < 0; i++) {
    json_t *j = NULL;
    if (nn_devnet_api(dn, i, "GET", path, NULL, 0, NULL, &j) == 200 && j) {
      origin = (int)i;
      own = j;
    } else {
      json_decref(j);
    }
  }
  if (origin < 0) {
    fprintf(stderr,
            "nepnet devnet trace: no node of %s submitted %s (nodes forget their own transactions when "
            "they restart)\n",
            dn->dir, idhex);
    return 1;
  }
  snprintf(path, sizeof(path), "/v1/debug/stems/%s", idhex);
  for (unsigned i = 0; i < dn->n; i++) {
    json_t *j = NULL;
    int st = nn_devnet_api(dn, i, "GET", path, NULL, 0, NULL, &j);
    if (st == 404) {
      const char *e = json_string_value(json_object_get(j, "error"));
      fprintf(stderr, "nepnet devnet trace: node-%u: %s\n", i, e ? e : "no stem trace");
      json_decref(j);
      goto out;
    }
    recs[i] = st == 200 ? j : (json_decref(j), NULL);
  }
  /* the origin's first stem: the step of its own timeline */
  json_t *steps = json_object_get(own, "steps");
  t0 = (uint64_t)json_integer_value(json_object_get(own, "submitted_unix_ms"));
  for (size_t k = 0; k < json_array_size(steps) && !to; k++) {
    json_t *s = json_array_get(steps, k);
    if (!strcmp(jstr(s, "what", ""), "stem"))
      to = json_string_value(json_object_get(s, "peer"));
  }
  printf("stem path of %.16s... (joined from every node's trace; regtest only):\n", idhex);
  printf("  node-%-3d %.16s  origin: submitted it\n", origin, ids[origin]);
  if (!to) {
    printf("  (no stem left the origin: %s)\n", jstr(own, "state", "?"));
    rc = 0;
    goto out;
  }
  const char *from = ids[origin];
  char chain[2048];
  int cl = snprintf(chain, sizeof(chain), "node-%d", origin);
  for (unsigned hop = 0; hop < dn->n + 1; hop++) {
    int at = -1;
    for (unsigned i = 0; i < dn->n && at < 0; i++)
      if (!strcmp(ids[i], to))
        at = (int)i;
    json_t *found = NULL, *rs = at >= 0 ? json_object_get(recs[at], "records") : NULL;
    if (at < 0) {
      printf("  -> %.16s (not a node of this devnet)\n", to);
      goto out;
    }
    /* its record of the stem that came from the previous hop */
    for (size_t k = 0; k < json_array_size(rs) && !found; k++) {
      json_t *r = json_array_get(rs, k);
      const char *f = json_string_value(json_object_get(r, "from"));
      if (f && !strcmp(f, from))
        found = r;
    }
    if (!found) {
      printf("  -> node-%-3d %.16s  has no record of it (restarted, or it never arrived)\n", at, to);
      goto out;
    }
    const char *what = jstr(found, "what", "?");
    uint64_t t = (uint64_t)json_integer_value(json_object_get(found, "unix_ms"));
    printf("  -> node-%-3d %.16s  %s (+%.3f s)\n", at, to, what, t > t0 ? (double)(t - t0) / 1000.0 : 0.0);
    if (cl > 0 && (size_t)cl < sizeof(chain))
      cl += snprintf(chain + cl, sizeof(chain) - (size_t)cl, " --stem--> node-%d", at);
    if (strcmp(what, "forwarded")) {
      if (cl > 0 && (size_t)cl < sizeof(chain))
        snprintf(chain + cl, sizeof(chain) - (size_t)cl, " --%s--> %s", !strcmp(what, "fluffed") ? "fluff" : what,
                 !strcmp(what, "dropped") ? "(lost: the origin's embargo covers it)" : "every node");
      printf("  %s\n", chain);
      rc = 0;
      goto out;
    }
    from = ids[at];
    to = json_string_value(json_object_get(found, "to"));
    if (!to) {
      printf("  (node-%d forwarded it to a relay it could not name)\n", at);
      goto out;
    }
  }
  printf("  (a loop: stopped after %u hops)\n", dn->n + 1);
out:
  json_decref(own);
  for (unsigned i = 0; i < dn->n; i++)
    json_decref(recs[i]);
  return rc;
}

static int
cmd_trace(const char *dir, const char *idhex)
{
  nn_devnet_t dn;
  char why[512];
  int rc;
  if (!idhex || strlen(idhex) != 64 || strspn(idhex, "0123456789abcdef") != 64) {
    fprintf(stderr, "nepnet devnet trace: give the transaction id (64 lower-case hex digits, as nepnet send "
                    "prints it)\n");
    return 2;
  }
  if (nn_devnet_open(&dn, dir, why, sizeof(why))) {
    fprintf(stderr, "nepnet devnet trace: %s\n", why);
    return 1;
  }
  rc = trace_path(&dn, idhex);
  nn_devnet_free(&dn);
  return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Submit one transaction at a random node and show it spread. */
static int
demo(nn_devnet_t *dn, size_t size)
{
  char ids[NN_DEVNET_MAX][65], idhex[65];
  uint8_t *tx = malloc(size);
  nn_devnet_seen_t *seen = calloc(dn->n, sizeof(*seen));
  uint64_t *lat = calloc(dn->n, sizeof(*lat));
  nn_hash_t id;
  uint32_t r;
  int rc = 1;
  if (!tx || !seen || !lat || nn_rng_fill(NULL, tx, size) || nn_rng_fill(NULL, (uint8_t *)&r, sizeof(r)))
    goto out;
  for (unsigned i = 0; i < dn->n; i++)
    memcpy(ids[i], dn->ids[i], sizeof(ids[i]));
  /* an origin with a stem relay (an outbound gossip peer): in a devnet this small, a node that
   * everyone dialled first may have none yet, and would hold its transaction until it has */
  unsigned origin = r % dn->n;
  for (unsigned k = 0; k < dn->n; k++) {
    unsigned cand = (r + k) % dn->n;
    json_t *j = NULL;
    int ok = nn_devnet_api(dn, cand, "GET", "/v1/status", NULL, 0, NULL, &j) == 200 && j &&
             json_integer_value(json_object_get(j, "peers_out")) >= 1;
    json_decref(j);
    if (ok) {
      origin = cand;
      break;
    }
  }
  printf("\nnode-%u submits a %zu-byte transaction for private broadcast (Dandelion++)...\n", origin, size);
  uint64_t t0 = nn_unix_ms();
  if (nn_devnet_submit(dn, origin, tx, size, &id)) {
    fprintf(stderr, "nepnet devnet demo: node-%u refused the transaction (see %s/node-%u/nepnetd.log)\n", origin,
            dn->dir, origin);
    goto out;
  }
  nn_hex_encode(idhex, id.b, NN_HASH_LEN);
  printf("transaction %.16s..., waiting for every node to receive it:\n", idhex);
  unsigned have = nn_devnet_wait_tx(dn, &id, t0, 120000, seen, stdout);
  /* who fluffed it first: the node that took it into its mempool from a stem or an embargo */
  int fluffer = -1;
  uint64_t first = UINT64_MAX;
  size_t nl = 0;
  for (unsigned i = 0; i < dn->n; i++) {
    if (!seen[i].seen)
      continue;
    if ((!strcmp(seen[i].via, "stem-fluff") || !strcmp(seen[i].via, "embargo")) && seen[i].unix_ms < first) {
      first = seen[i].unix_ms;
      fluffer = (int)i;
    }
  }
  for (unsigned i = 0; i < dn->n; i++)
    if (seen[i].seen && first != UINT64_MAX)
      lat[nl++] = seen[i].unix_ms > first ? seen[i].unix_ms - first : 0;
  qsort(lat, nl, sizeof(*lat), cmp_u64);
  printf("\n%u of %u nodes received the transaction.\n", have, dn->n);
  if (fluffer >= 0) {
    printf("origin node-%u (%.16s); the stem ended at node-%d (%.16s), which fluffed it (%s)%s.\n", origin, ids[origin],
           fluffer, ids[fluffer], seen[fluffer].via,
           (unsigned)fluffer == origin ? " -- the origin itself, after its embargo timer" : ", not the origin");
    if (nl)
      printf("from the fluff to each node: P50 %.3f s, max %.3f s\n", (double)lat[nl / 2] / 1000.0,
             (double)lat[nl - 1] / 1000.0);
  }
  printf("An observer who sees the first fluff learns node-%d, not node-%u: that is the privacy Dandelion++ adds.\n",
         fluffer, origin);
  printf("\n");
  (void)trace_path(dn, idhex); /* the real path, which only a devnet can show */
  rc = have == dn->n ? 0 : 1;
out:
  free(tx);
  free(seen);
  free(lat);
  return rc;
}

/* Option scans return 0 to go on, -1 after printing help (exit 0) or 2 on a usage error. */
#define DEVNET_HELP (-1)

/* What the command line asked for (devnet_usage). */
typedef struct devnet_args_t {
  nn_devnet_opts_t o;
  char *extra[2 * 32]; /* --set's flags and values, owned; o.extra points here */
  size_t nextra;
  size_t size; /* demo's transaction */
  int keep;
  unsigned mixes;    /* nodes 0..mixes-1 run --mix 1 */
  const char *count; /* N: the first argument after the options, or NULL */
} devnet_args_t;

static void
devnet_args_free(devnet_args_t *a)
{
  for (size_t i = 0; i < a->nextra; i++)
    free(a->extra[i]);
}

/* --set NAME=VALUE becomes --NAME VALUE on every nepnetd's command line. */
static int
devnet_set_opt(devnet_args_t *a, const char *arg)
{
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg || a->nextra + 2 > sizeof(a->extra) / sizeof(a->extra[0])) {
    fprintf(stderr, "nepnet devnet: --set %s: give NAME=VALUE (a nepnetd option without --)\n", arg);
    return 2;
  }
  size_t nl = (size_t)(eq - arg);
  char *f = malloc(nl + 3);
  if (!f)
    return 2;
  snprintf(f, nl + 3, "--%.*s", (int)nl, arg);
  a->extra[a->nextra++] = f;
  a->extra[a->nextra++] = strdup(eq + 1);
  return 0;
}

/* Node i's own flags: the first --mixes nodes are mixes. */
static const char *const *
devnet_mix_flags(void *ctx, unsigned i)
{
  static const char *const mix[] = { "--mix", "1", NULL };
  return i < ((const devnet_args_t *)ctx)->mixes ? mix : NULL;
}

/* One option (getopt's \a c and \a arg). */
static int
devnet_opt(int c, const char *arg, devnet_args_t *a)
{
  unsigned long v;
  switch (c) {
  case 'd': a->o.dir = arg; return 0;
  case 'p': a->o.preset = arg; return 0;
  case 'b':
    v = strtoul(arg, NULL, 10);
    if (v < 1024 || v > 65000) {
      fprintf(stderr, "nepnet devnet: --base-port %s: give 1024..65000\n", arg);
      return 2;
    }
    a->o.base_port = (uint16_t)v;
    return 0;
  case 'n': a->o.nepnetd = arg; return 0;
  case 's':
    a->size = strtoul(arg, NULL, 10);
    if (a->size < 1 || a->size > (8u << 20)) {
      fprintf(stderr, "nepnet devnet: --size %s: give 1..8388608 bytes\n", arg);
      return 2;
    }
    return 0;
  case 'k': a->keep = 1; return 0;
  case 'm':
    v = strtoul(arg, NULL, 10);
    if (v > 512) {
      fprintf(stderr, "nepnet devnet: --mixes %s: give 0..512 (at most the number of nodes)\n", arg);
      return 2;
    }
    a->mixes = (unsigned)v;
    return 0;
  case 'S': return devnet_set_opt(a, arg);
  case 'h': fputs(devnet_usage, stdout); return DEVNET_HELP;
  default: fputs(devnet_usage, stderr); return 2;
  }
}

/* The options of sub-command argv[1]; \a a must be freed whatever this returns. */
static int
devnet_parse(int argc, char **argv, devnet_args_t *a)
{
  static const struct option opts[] = {
    { "dir", required_argument, NULL, 'd' },
    { "preset", required_argument, NULL, 'p' },
    { "base-port", required_argument, NULL, 'b' },
    { "nepnetd", required_argument, NULL, 'n' },
    { "size", required_argument, NULL, 's' },
    { "keep", no_argument, NULL, 'k' },
    { "mixes", required_argument, NULL, 'm' },
    { "set", required_argument, NULL, 'S' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c, rc;
  memset(a, 0, sizeof(*a));
  nn_devnet_opts_default(&a->o);
  a->size = 2048;
  /* argv[1] (the sub-command) becomes the program name; optind 0 re-initialises getopt, whose
   * state main() left in "stop at the first non-option" mode, so options may follow N. */
  int ac = argc - 1;
  char **av = argv + 1;
  optind = 0;
  while ((c = getopt_long(ac, av, "h", opts, NULL)) != -1)
    if ((rc = devnet_opt(c, optarg, a)))
      return rc;
  a->o.extra = (const char *const *)a->extra;
  a->o.n_extra = a->nextra;
  if (a->mixes) {
    a->o.node_extra = devnet_mix_flags;
    a->o.node_ctx = a;
  }
  a->count = optind < ac ? av[optind] : NULL;
  return 0;
}

/* `up` and `demo`: start the devnet; demo then sends its transaction and, unless --keep, stops
 * the devnet again. */
static int
cmd_up(const char *argv0, const char *sub, devnet_args_t *a)
{
  unsigned long n = !strcmp(sub, "demo") ? 10 : 0;
  nn_devnet_t dn;
  char why[1024];
  int rc = 0;
  if (a->count)
    n = strtoul(a->count, NULL, 10);
  if (n < 2 || n > NN_DEVNET_MAX) {
    fprintf(stderr, "nepnet devnet %s: give the number of nodes, 2..%d (e.g. nepnet devnet %s 10)\n", sub,
            NN_DEVNET_MAX, sub);
    return 2;
  }
  a->o.progress = stdout;
  printf("starting %lu nepnetd nodes in %s (ports %u..%u)\n", n, a->o.dir, (unsigned)a->o.base_port,
         (unsigned)(a->o.base_port + 2 * n - 1));
  if (nn_devnet_up(&dn, (unsigned)n, argv0, &a->o, why, sizeof(why))) {
    fprintf(stderr, "nepnet devnet %s: %s\n", sub, why);
    nn_devnet_free(&dn);
    return 1;
  }
  printf("all %lu nodes joined; nepnet devnet status --dir %s shows them\n", n, a->o.dir);
  if (!strcmp(sub, "demo")) {
    rc = demo(&dn, a->size);
    if (!a->keep) {
      unsigned s = nn_devnet_down(&dn, 10000);
      printf("stopped %u nodes (logs stay in %s/node-*/nepnetd.log)\n", s, a->o.dir);
    }
  }
  nn_devnet_free(&dn);
  return rc;
}

int
nepnet_cmd_devnet(const char *argv0, int argc, char **argv)
{
  devnet_args_t a;
  const char *sub;
  int rc;
  if (argc < 2) {
    fprintf(stderr, "nepnet devnet: up, demo, status, trace or down?\n\n%s", devnet_usage);
    return 2;
  }
  sub = argv[1];
  if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
    fputs(devnet_usage, stdout);
    return 0;
  }
  if ((rc = devnet_parse(argc, argv, &a))) {
    rc = rc == DEVNET_HELP ? 0 : rc;
  } else if (!strcmp(sub, "down")) {
    rc = cmd_down(a.o.dir);
  } else if (!strcmp(sub, "status")) {
    rc = cmd_status(a.o.dir);
  } else if (!strcmp(sub, "trace")) {
    rc = cmd_trace(a.o.dir, a.count);
  } else if (!strcmp(sub, "up") || !strcmp(sub, "demo")) {
    rc = cmd_up(argv0, sub, &a);
  } else {
    fprintf(stderr, "nepnet devnet: unknown sub-command '%s'\n\n%s", sub, devnet_usage);
    rc = 2;
  }
  devnet_args_free(&a);
  return rc;
}
