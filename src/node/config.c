/* nepnetd settings: flags, config file and presets from one table (config.h). */
#include "node/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nepnet/channel.h"

typedef enum {
  T_U32, T_SIZE, T_DOUBLE, T_BOOL, T_STR, T_LIST, T_ROUTE, T_NETWORK, T_LOGLEVEL, T_PRESET
} otype_t;

typedef struct opt_t {
  const char *name;
  otype_t type;
  double min, max;          /* numbers */
  const char *arg, *help;
} opt_t;

/* The option reference; nepnetd --help prints it in this order. */
static const opt_t opts[] = {
  { "preset", T_PRESET, 0, 0, "NAME", "fast, balanced (default) or private: a bundle of the settings below (README)" },
  { "network", T_NETWORK, 0, 0, "NET", "mainnet (default), testnet or regtest" },
  { "listen", T_STR, 0, 0, "HOST:PORT", "where peers connect (default 0.0.0.0:9800; port 0: any free port)" },
  { "advertise", T_STR, 0, 0, "HOST:PORT", "the address peers reach us at, published in our signed record\n"
                                            "(default: the listen address unless it is a wildcard)" },
  { "hidden", T_BOOL, 0, 0, "0|1", "no listener, no record, anonymous channels (outbound only)" },
  { "allow-private", T_BOOL, 0, 0, "0|1", "accept loopback and private addresses in the DHT and the peer store,\n"
                                         "one network group each (local devnets; never on mainnet)" },
  { "peer", T_LIST, 0, 0, "NODEID@HOST:PORT", "bootstrap peer (repeatable; HOST:PORT accepts any node id)" },
  { "connect", T_LIST, 0, 0, "NODEID@HOST:PORT", "dial only these peers for gossip (repeatable; no network-group rule for\n"
                                                "them); inbound peers are still accepted up to max-peers" },
  { "dns-seed", T_LIST, 0, 0, "NAME", "DNS seed to bootstrap from (repeatable)" },
  { "dns-nameserver", T_STR, 0, 0, "IP:PORT", "resolver for the DNS seeds (default: /etc/resolv.conf)" },
  { "max-peers", T_U32, 1, 4096, "N", "gossip peers in all (balanced 64)" },
  { "max-outbound", T_U32, 1, 64, "N", "gossip peers we dial, one per network group (/16, /32) (balanced 8)" },
  { "max-inbound-per-host", T_U32, 0, 4096, "N", "inbound gossip peers from one host (4; 0 = no limit)" },
  { "max-channels", T_U32, 1, 4096, "N", "outbound DHT channels kept open (64)" },
  { "listen-max-per-ip", T_U32, 0, 65535, "N", "concurrent inbound connections per IP or /64 (8; 0 = no limit)" },
  { "listen-ip-rate", T_DOUBLE, 0, 1e6, "R", "new inbound handshakes per second per IP (20; 0 = no limit)" },
  { "dht-per-table-wide", T_U32, 0, 4096, "N", "DHT contacts per /16 (IPv4) or /32 (IPv6) in the whole table (0 = no limit)" },
  { "route", T_ROUTE, 0, 0, "MODE", "how our own transactions leave: dandelion (default) or direct;\n"
                                    "mixnet and dandelion+mixnet come with the mixnet" },
  { "fluff-prob", T_DOUBLE, 0.05, 0.5, "Q", "Dandelion++: probability that an epoch is a fluff epoch (0.1)" },
  { "epoch-s", T_U32, 10, 86400, "S", "Dandelion++ epoch length in seconds (600; randomized by +/- 5%)" },
  { "embargo-base-ms", T_U32, 0, 3600000, "MS", "embargo timer: this constant ... (5000)" },
  { "embargo-mean-ms", T_U32, 1, 3600000, "MS", "... plus an exponential delay with this mean (balanced 12000)" },
  { "inv-delay-out-ms", T_U32, 0, 600000, "MS", "fluff diffusion: mean delay of an INV to an outbound peer (balanced 1000)" },
  { "inv-delay-in-ms", T_U32, 0, 600000, "MS", "fluff diffusion: mean delay of an INV to an inbound peer (balanced 2500)" },
  { "stem-rate", T_DOUBLE, 0.01, 10000, "R", "STEMs per second one peer may send (10); more are dropped" },
  { "stem-burst", T_U32, 1, 100000, "N", "... in bursts of up to N (100)" },
  { "max-tx-bytes", T_SIZE, 1, 64 << 20, "BYTES", "largest transaction accepted (8388608)" },
  { "mempool-max-count", T_SIZE, 16, 10000000, "N", "mempool cap, oldest evicted (10000)" },
  { "stempool-max-count", T_SIZE, 16, 1000000, "N", "stempool cap, oldest evicted (1000)" },
  { "api", T_STR, 0, 0, "ADDR", "control API: 127.0.0.1:PORT, [::1]:PORT, unix:/PATH or off (127.0.0.1:9801)" },
  { "api-token-file", T_STR, 0, 0, "FILE", "API bearer token, created 0600 if missing (DATADIR/api.token)" },
  { "log-level", T_LOGLEVEL, 0, 0, "LEVEL", "debug, info (default) or warn" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const opt_t *
find_opt(const char *name)
{
  for (size_t i = 0; i < NOPTS; i++)
    if (!strcmp(opts[i].name, name))
      return &opts[i];
  return NULL;
}

/* One refusal, always in the same shape: where, what, and what would be accepted. */
static int
fail(char *why, size_t why_len, const char *origin, const char *value, const char *problem, const char *allowed)
{
  snprintf(why, why_len, "%s: '%s' %s; give %s", origin, value, problem, allowed);
  return -1;
}

static void
list_clear(nn_conf_list_t *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  l->n = 0;
}

static int
set_str(char **dst, const char *v)
{
  char *s = strdup(v);
  if (!s)
    return -1;
  free(*dst);
  *dst = s;
  return 0;
}

/* Plain decimal only: strtod alone would take " 5", "0x10", "inf" and "nan" (a NaN passes every
 * range check and would switch a rate limit off). Integers take no '.', 'e' or sign. */
static int
parse_number(const char *v, int integer, double *out)
{
  char *end;
  size_t digits = 0;
  if (!*v)
    return 0;
  for (const char *p = v; *p; p++) {
    if (*p >= '0' && *p <= '9')
      digits++;
    else if (integer || !strchr(".eE+-", *p))
      return 0;
  }
  if (!digits || (!integer && !(*v >= '0' && *v <= '9') && *v != '.' && *v != '-'))
    return 0;
  errno = 0;
  *out = strtod(v, &end);
  return !*end && !errno && *out == *out && *out < 1e300 && *out > -1e300;
}

/* The field a numeric option writes; NULL for non-numeric ones. */
static void
put_number(nn_conf_t *c, const char *name, double x)
{
  nn_node_cfg_t *n = &c->node;
  if (!strcmp(name, "max-peers")) n->max_peers = (unsigned)x;
  else if (!strcmp(name, "max-outbound")) n->max_outbound = (unsigned)x;
  else if (!strcmp(name, "max-inbound-per-host")) n->max_inbound_per_host = (unsigned)x;
  else if (!strcmp(name, "max-channels")) n->disco.max_channels = (unsigned)x;
  else if (!strcmp(name, "listen-max-per-ip")) c->limits.max_per_ip = (uint32_t)x;
  else if (!strcmp(name, "listen-ip-rate")) c->limits.ip_rate = x;
  else if (!strcmp(name, "dht-per-table-wide")) n->disco.dht.table.per_table_wide = (unsigned)x;
  else if (!strcmp(name, "fluff-prob")) n->dl.fluff_prob = x;
  else if (!strcmp(name, "epoch-s")) {
    n->dl.epoch_ms = (uint32_t)x * 1000u;
    n->dl.epoch_jitter_ms = n->dl.epoch_ms / 20;
  } else if (!strcmp(name, "embargo-base-ms")) n->dl.embargo_base_ms = (uint32_t)x;
  else if (!strcmp(name, "embargo-mean-ms")) n->dl.embargo_mean_ms = (uint32_t)x;
  else if (!strcmp(name, "inv-delay-out-ms")) n->dl.inv_mean_out_ms = (uint32_t)x;
  else if (!strcmp(name, "inv-delay-in-ms")) n->dl.inv_mean_in_ms = (uint32_t)x;
  else if (!strcmp(name, "max-tx-bytes")) n->dl.max_tx_bytes = (size_t)x;
  else if (!strcmp(name, "stem-rate")) n->stem_rate = x;
  else if (!strcmp(name, "stem-burst")) n->stem_burst = (unsigned)x;
  else if (!strcmp(name, "mempool-max-count")) n->dl.mem_max_count = (size_t)x;
  else if (!strcmp(name, "stempool-max-count")) n->dl.stem_max_count = (size_t)x;
}

int
nn_conf_set(nn_conf_t *c, const char *name, const char *v, const char *origin, int from_flags, char *why,
            size_t why_len)
{
  const opt_t *o = find_opt(name);
  double x;
  char allowed[96];
  if (!o) {
    snprintf(why, why_len, "%s: unknown option '%s' (nepnetd --help lists them)", origin, name);
    return -1;
  }
  switch (o->type) {
  case T_U32:
  case T_SIZE:
  case T_DOUBLE:
    if (!parse_number(v, o->type != T_DOUBLE, &x) || x < o->min || x > o->max) {
      snprintf(allowed, sizeof(allowed), "%s from %g to %g", o->type == T_DOUBLE ? "a number" : "an integer",
               o->min, o->max);
      return fail(why, why_len, origin, v, "is not allowed", allowed);
    }
    put_number(c, name, x);
    return 0;
  case T_BOOL: {
    int b;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
      b = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
      b = 0;
    else
      return fail(why, why_len, origin, v, "is not allowed", "0 or 1 (also true/false, yes/no)");
    if (!strcmp(name, "hidden"))
      c->node.disco.hidden = b;
    else
      c->allow_private = b;
    return 0;
  }
  case T_STR: {
    char **dst = !strcmp(name, "listen") ? &c->listen
                 : !strcmp(name, "advertise") ? &c->advertise
                 : !strcmp(name, "dns-nameserver") ? &c->dns_nameserver
                 : !strcmp(name, "api") ? &c->api_listen
                                        : &c->api_token_file;
    if (!*v)
      return fail(why, why_len, origin, v, "is empty", o->arg);
    return set_str(dst, v);
  }
  case T_LIST: {
    nn_conf_list_t *l = !strcmp(name, "peer") ? &c->peers : !strcmp(name, "connect") ? &c->connect : &c->dns_seeds;
    if (from_flags && !l->from_flags) { /* the flags' list replaces the file's */
      list_clear(l);
      l->from_flags = 1;
    }
    if (l->n >= NN_CONF_LIST_MAX) {
      snprintf(allowed, sizeof(allowed), "at most %d values", NN_CONF_LIST_MAX);
      return fail(why, why_len, origin, v, "is one value too many", allowed);
    }
    if (!strcmp(name, "peer") || !strcmp(name, "connect")) {
      nn_addr_t a;
      nn_node_id_t id;
      int has;
      if (nn_disco_parse_peer(v, &a, &id, &has) != NN_OK)
        return fail(why, why_len, origin, v, "is not a peer", "NODEID@HOST:PORT or HOST:PORT with a numeric host");
    }
    if (!(l->v[l->n] = strdup(v)))
      return -1;
    l->n++;
    return 0;
  }
  case T_ROUTE:
    if (!strcmp(v, "dandelion"))
      c->node.dl.route = NN_ROUTE_DANDELION;
    else if (!strcmp(v, "direct"))
      c->node.dl.route = NN_ROUTE_DIRECT;
    else if (!strcmp(v, "mixnet") || !strcmp(v, "dandelion+mixnet"))
      return fail(why, why_len, origin, v, "is not available in this build (the mixnet is not built yet)",
                  "dandelion or direct");
    else
      return fail(why, why_len, origin, v, "is not a route", "dandelion or direct");
    return 0;
  case T_NETWORK:
    if (!strcmp(v, "mainnet")) c->network = NN_NET_MAINNET;
    else if (!strcmp(v, "testnet")) c->network = NN_NET_TESTNET;
    else if (!strcmp(v, "regtest")) c->network = NN_NET_REGTEST;
    else return fail(why, why_len, origin, v, "is not a network", "mainnet, testnet or regtest");
    return 0;
  case T_LOGLEVEL:
    if (!strcmp(v, "debug")) c->node.log_level = NN_DISCO_LOG_DEBUG;
    else if (!strcmp(v, "info")) c->node.log_level = NN_DISCO_LOG_INFO;
    else if (!strcmp(v, "warn")) c->node.log_level = NN_DISCO_LOG_WARN;
    else return fail(why, why_len, origin, v, "is not a log level", "debug, info or warn");
    return 0;
  case T_PRESET:
    return nn_conf_preset(c, v, why, why_len) ? -1 : 0;
  }
  return -1;
}

/* The presets. balanced is Monero-like Dandelion++ with Bitcoin-like diffusion, tuned so a
 * fluffed transaction reaches a 100-node network in about 2 s; private trades latency for
 * Monero's diffusion delays, a longer embargo and a hidden node; fast shortens stems (q = 0.2,
 * the paper's highest recommended) and every timer. */
int
nn_conf_preset(nn_conf_t *c, const char *name, char *why, size_t why_len)
{
  nn_node_cfg_t *n = &c->node;
  if (strcmp(name, "fast") && strcmp(name, "balanced") && strcmp(name, "private")) {
    snprintf(why, why_len, "preset '%s' does not exist; give fast, balanced or private", name);
    return -1;
  }
  if (set_str(&c->preset, name))
    return -1;
  n->preset = c->preset;
  n->dl.route = NN_ROUTE_DANDELION;
  n->dl.epoch_ms = 600000;
  n->dl.epoch_jitter_ms = 30000;
  n->disco.hidden = 0;
  n->max_peers = 64;
  n->max_outbound = 8;
  if (!strcmp(name, "fast")) {
    n->dl.fluff_prob = 0.2;
    n->dl.embargo_base_ms = 1000;
    n->dl.embargo_mean_ms = 4000;
    n->dl.inv_mean_out_ms = 250;
    n->dl.inv_mean_in_ms = 500;
    n->max_outbound = 10;
  } else if (!strcmp(name, "balanced")) {
    n->dl.fluff_prob = 0.1;
    n->dl.embargo_base_ms = 5000;
    n->dl.embargo_mean_ms = 12000;
    n->dl.inv_mean_out_ms = 1000;
    n->dl.inv_mean_in_ms = 2500;
  } else {
    n->dl.fluff_prob = 0.1;
    n->dl.embargo_base_ms = 5000;
    n->dl.embargo_mean_ms = 39000;
    n->dl.inv_mean_out_ms = 2500;
    n->dl.inv_mean_in_ms = 5000;
    n->disco.hidden = 1;
    n->disco.dht.table.per_table_wide = 20;
  }
  return 0;
}

void
nn_conf_init(nn_conf_t *c)
{
  char why[64];
  memset(c, 0, sizeof(*c));
  nn_node_cfg_default(&c->node);
  nn_tcp_limits_default(&c->limits);
  c->network = NN_NET_MAINNET;
  (void)nn_conf_preset(c, "balanced", why, sizeof(why));
}

void
nn_conf_free(nn_conf_t *c)
{
  if (!c)
    return;
  free(c->datadir);
  free(c->config_file);
  free(c->preset);
  free(c->listen);
  free(c->advertise);
  free(c->dns_nameserver);
  free(c->api_listen);
  free(c->api_token_file);
  list_clear(&c->peers);
  list_clear(&c->connect);
  list_clear(&c->dns_seeds);
}

static char *
trim(char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  size_t l = strlen(s);
  while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
    s[--l] = 0;
  return s;
}

int
nn_conf_load_file(nn_conf_t *c, const char *path, char *why, size_t why_len)
{
  char line[1024], origin[600];
  unsigned ln = 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(why, why_len, "cannot read config file %s: %s", path, strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof(line), f)) {
    ln++;
    snprintf(origin, sizeof(origin), "%s:%u", path, ln);
    if (!strchr(line, '\n') && !feof(f)) {
      snprintf(why, why_len, "%s: line longer than %zu bytes", origin, sizeof(line) - 2);
      fclose(f);
      return -1;
    }
    char *s = trim(line);
    if (!*s || *s == '#')
      continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      snprintf(why, why_len, "%s: expected 'name = value', got '%s'", origin, s);
      fclose(f);
      return -1;
    }
    *eq = 0;
    char *k = trim(s), *v = trim(eq + 1);
    if (!strcmp(k, "preset") || !strcmp(k, "datadir") || !strcmp(k, "config"))
      continue; /* the preset is applied before the file (nn_conf_parse_args); the others are flags */
    if (nn_conf_set(c, k, v, origin, 0, why, why_len)) {
      fclose(f);
      return -1;
    }
  }
  fclose(f);
  return 0;
}

/* The file's preset line, if any (applied before the rest of the file). */
static int
file_preset(const char *path, char *out, size_t n)
{
  char line[1024];
  FILE *f = fopen(path, "r");
  int found = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f)) {
    char *s = trim(line), *eq = strchr(s, '=');
    if (*s == '#' || !eq)
      continue;
    *eq = 0;
    if (!strcmp(trim(s), "preset")) {
      snprintf(out, n, "%s", trim(eq + 1));
      found = 1;
    }
  }
  fclose(f);
  return found;
}

void
nn_conf_help(FILE *f)
{
  fputs("options (each also a config-file line 'name = value'; list options repeat):\n", f);
  for (size_t i = 0; i < NOPTS; i++) {
    char head[64];
    snprintf(head, sizeof(head), "--%s %s", opts[i].name, opts[i].arg);
    fprintf(f, "  %-34s ", head);
    for (const char *p = opts[i].help; *p; p++) {
      fputc(*p, f);
      if (*p == '\n')
        fprintf(f, "  %-34s ", "");
    }
    fputc('\n', f);
  }
}

static const char *
net_name(uint32_t n)
{
  return n == NN_NET_TESTNET ? "testnet" : n == NN_NET_REGTEST ? "regtest" : "mainnet";
}

void
nn_conf_print(const nn_conf_t *c, FILE *f)
{
  const nn_node_cfg_t *n = &c->node;
  const char *lv[] = { "debug", "info", "warn" };
  fprintf(f, "preset = %s\nnetwork = %s\nlisten = %s\n", c->preset, net_name(c->network),
          c->listen ? c->listen : "0.0.0.0:9800");
  if (c->advertise) fprintf(f, "advertise = %s\n", c->advertise);
  fprintf(f, "hidden = %d\nallow-private = %d\n", n->disco.hidden, c->allow_private);
  for (size_t i = 0; i < c->peers.n; i++) fprintf(f, "peer = %s\n", c->peers.v[i]);
  for (size_t i = 0; i < c->connect.n; i++) fprintf(f, "connect = %s\n", c->connect.v[i]);
  for (size_t i = 0; i < c->dns_seeds.n; i++) fprintf(f, "dns-seed = %s\n", c->dns_seeds.v[i]);
  if (c->dns_nameserver) fprintf(f, "dns-nameserver = %s\n", c->dns_nameserver);
  fprintf(f, "max-peers = %u\nmax-outbound = %u\nmax-inbound-per-host = %u\nmax-channels = %u\n", n->max_peers,
          n->max_outbound, n->max_inbound_per_host, n->disco.max_channels);
  fprintf(f, "listen-max-per-ip = %u\nlisten-ip-rate = %g\ndht-per-table-wide = %u\n", (unsigned)c->limits.max_per_ip,
          c->limits.ip_rate, n->disco.dht.table.per_table_wide);
  fprintf(f, "route = %s\nfluff-prob = %g\nepoch-s = %u\nembargo-base-ms = %u\nembargo-mean-ms = %u\n",
          n->dl.route == NN_ROUTE_DIRECT ? "direct" : "dandelion", n->dl.fluff_prob, n->dl.epoch_ms / 1000,
          n->dl.embargo_base_ms, n->dl.embargo_mean_ms);
  fprintf(f, "stem-rate = %g\nstem-burst = %u\n", n->stem_rate, n->stem_burst);
  fprintf(f, "inv-delay-out-ms = %u\ninv-delay-in-ms = %u\nmax-tx-bytes = %zu\nmempool-max-count = %zu\n"
             "stempool-max-count = %zu\n",
          n->dl.inv_mean_out_ms, n->dl.inv_mean_in_ms, n->dl.max_tx_bytes, n->dl.mem_max_count, n->dl.stem_max_count);
  fprintf(f, "api = %s\n", !n->api_enabled ? "off" : c->api_listen ? c->api_listen : "127.0.0.1:9801");
  if (c->api_token_file) fprintf(f, "api-token-file = %s\n", c->api_token_file);
  fprintf(f, "log-level = %s\n", lv[n->log_level < 0 || n->log_level > 2 ? 1 : n->log_level]);
}

void
nn_conf_finish(nn_conf_t *c)
{
  nn_node_cfg_t *n = &c->node;
  n->disco.listen = n->disco.hidden ? NULL : c->listen ? c->listen : "0.0.0.0:9800";
  n->disco.advertise = c->advertise;
  n->disco.dns_nameserver = c->dns_nameserver;
  n->disco.peers = (const char *const *)c->peers.v;
  n->disco.n_peers = c->peers.n;
  n->disco.dns_seeds = (const char *const *)c->dns_seeds.v;
  n->disco.n_dns_seeds = c->dns_seeds.n;
  n->disco.limits = &c->limits;
  n->connect = (const char *const *)c->connect.v;
  n->n_connect = c->connect.n;
  if (c->api_listen && !strcmp(c->api_listen, "off"))
    n->api_enabled = 0;
  n->api.listen = c->api_listen ? c->api_listen : "127.0.0.1:9801";
  n->api.token_file = c->api_token_file;
  n->preset = c->preset;
  if (c->allow_private) {
    /* a devnet is one host: every address its own group, so the /24 limits would refuse it */
    n->disco.dht.table.allow_private = 1;
    n->disco.dht.table.per_bucket_group = 0;
    n->disco.dht.table.per_table_group = 0;
    n->disco.dht.table.per_table_wide = 0;
    n->disco.peerstore.allow_nonpublic = 1;
  }
}

static char *
default_datadir(void)
{
  const char *env = getenv("NEPNET_DATADIR"), *home = getenv("HOME");
  char *out;
  if (env && *env)
    return strdup(env);
  if (!home || !*home)
    home = ".";
  if (!(out = malloc(strlen(home) + 9)))
    return NULL;
  sprintf(out, "%s/.nepnet", home);
  return out;
}

/* "--name=value" or "--name value"; *consumed is 1 or 2 arguments. */
static int
split_flag(int argc, char **argv, int i, char *name, size_t nlen, const char **value, int *consumed)
{
  const char *a = argv[i] + 2, *eq = strchr(a, '=');
  if (eq) {
    snprintf(name, nlen, "%.*s", (int)(eq - a), a);
    *value = eq + 1;
    *consumed = 1;
    return 0;
  }
  snprintf(name, nlen, "%s", a);
  const opt_t *o = find_opt(name);
  if (o && o->type == T_BOOL && (i + 1 >= argc || argv[i + 1][0] == '-')) {
    *value = "1"; /* --hidden alone */
    *consumed = 1;
    return 0;
  }
  if (i + 1 >= argc)
    return -1;
  *value = argv[i + 1];
  *consumed = 2;
  return 0;
}

int
nn_conf_parse_args(nn_conf_t *c, int argc, char **argv, char *why, size_t why_len)
{
  char name[64], fpreset[64], origin[80];
  const char *value, *preset = NULL;
  int consumed, print = 0;
  /* pass 1: the flags that decide the order of the rest */
  for (int i = 1; i < argc; i += consumed) {
    consumed = 1;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      return 1;
    if (!strcmp(argv[i], "--print-config")) {
      print = 1;
      continue;
    }
    if (strncmp(argv[i], "--", 2)) {
      snprintf(why, why_len, "unexpected argument '%s' (options are --name VALUE; nepnetd --help)", argv[i]);
      return -1;
    }
    if (split_flag(argc, argv, i, name, sizeof(name), &value, &consumed)) {
      snprintf(why, why_len, "--%s needs a value (nepnetd --help)", name);
      return -1;
    }
    if (!strcmp(name, "datadir") && set_str(&c->datadir, value))
      return -1;
    if (!strcmp(name, "config")) {
      if (set_str(&c->config_file, value))
        return -1;
      c->have_config_flag = 1;
    }
    if (!strcmp(name, "preset"))
      preset = value;
  }
  if (!c->datadir && !(c->datadir = default_datadir()))
    return -1;
  if (!c->config_file) {
    size_t l = strlen(c->datadir) + 16;
    if (!(c->config_file = malloc(l)))
      return -1;
    snprintf(c->config_file, l, "%s/nepnetd.conf", c->datadir);
  }
  struct stat sb;
  int have_file = stat(c->config_file, &sb) == 0;
  if (c->have_config_flag && !have_file) {
    snprintf(why, why_len, "--config %s: %s", c->config_file, strerror(errno));
    return -1;
  }
  if (!preset && have_file && file_preset(c->config_file, fpreset, sizeof(fpreset)))
    preset = fpreset;
  if (preset && nn_conf_preset(c, preset, why, why_len))
    return -1;
  if (have_file && nn_conf_load_file(c, c->config_file, why, why_len))
    return -1;
  /* pass 2: every other flag, over the file */
  for (int i = 1; i < argc; i += consumed) {
    consumed = 1;
    if (!strcmp(argv[i], "--print-config"))
      continue;
    (void)split_flag(argc, argv, i, name, sizeof(name), &value, &consumed);
    if (!strcmp(name, "datadir") || !strcmp(name, "config") || !strcmp(name, "preset"))
      continue;
    snprintf(origin, sizeof(origin), "--%s", name);
    if (nn_conf_set(c, name, value, origin, 1, why, why_len))
      return -1;
  }
  if (c->node.max_outbound > c->node.max_peers) {
    snprintf(why, why_len, "max-outbound (%u) is above max-peers (%u): lower --max-outbound or raise --max-peers",
             c->node.max_outbound, c->node.max_peers);
    return -1;
  }
  nn_conf_finish(c);
  return print ? 2 : 0;
}
