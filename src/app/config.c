/* nepnetd settings: flags, config file and presets from one table (config.h). */
#include "app/config.h"
#include "app/daemonlog.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dht/disco.h"
#include "lib/log.h"

typedef enum {
  T_U32,
  T_SIZE,
  T_DOUBLE,
  T_BOOL,
  T_STR,
  T_LIST,
  T_ROUTE,
  T_NETWORK,
  T_LOGLEVEL, /* nepnetd's level spec (daemonlog.h): the string in nn_conf_t, its lowest level in s */
  T_LOGFILE,  /* nepnetd's --log-file, in nn_conf_t */
  T_MODE,     /* a file mode: 0600 or 0640 */
  T_PRESET,
  T_COVER,
  T_AUTO /* an int: -1 "auto", 0, 1 */
} otype_t;

/* One option: its name, its type and the settings field(s) it writes. */
typedef struct opt_t {
  const char *name;
  otype_t type;
  size_t off, off_n; /* the field; for a list, its array and its count */
  double min, max;   /* numbers */
  const char *arg, *help;
} opt_t;

#define F(field) offsetof(nn_node_settings_t, field)
#define NUM(name, type, field, lo, hi, arg, help)                                                                      \
  {                                                                                                                    \
    name, type, F(field), 0, lo, hi, arg, help                                                                         \
  }
#define ONE(name, type, field, arg, help)                                                                              \
  {                                                                                                                    \
    name, type, F(field), 0, 0, 0, arg, help                                                                           \
  }
#define LIST(name, field, count, arg, help)                                                                            \
  {                                                                                                                    \
    name, T_LIST, F(field), F(count), 0, 0, arg, help                                                                  \
  }

/* The option reference; nepnetd --help and --print-config follow this order. */
static const opt_t opts[] = {
  ONE("preset", T_PRESET, preset, "NAME",
      "fast, balanced (default) or private: a bundle of the settings below (README)"),
  ONE("network", T_NETWORK, network, "NET", "mainnet (default), testnet or regtest"),
  ONE("listen", T_STR, listen, "HOST:PORT", "where peers connect (default 0.0.0.0:9800; port 0: any free port)"),
  ONE("advertise", T_STR, advertise, "HOST:PORT",
      "the address peers reach us at, published in our signed record\n"
      "(default: the listen address unless it is a wildcard)"),
  ONE("hidden", T_BOOL, hidden, "0|1", "no listener, no record, anonymous channels (outbound only)"),
  ONE("allow-private", T_BOOL, allow_private, "0|1",
      "accept loopback and private addresses in the DHT and the peer store,\n"
      "one network group each (local devnets; never on mainnet)"),
  LIST("peer", peers, n_peers, "NODEID@HOST:PORT", "bootstrap peer (repeatable; HOST:PORT accepts any node id)"),
  LIST("connect", connect, n_connect, "NODEID@HOST:PORT",
       "dial only these peers for gossip (repeatable; no network-group rule for\n"
       "them); inbound peers are still accepted up to max-peers"),
  LIST("dns-seed", dns_seeds, n_dns_seeds, "NAME", "DNS seed to bootstrap from (repeatable)"),
  ONE("dns-nameserver", T_STR, dns_nameserver, "IP:PORT", "resolver for the DNS seeds (default: /etc/resolv.conf)"),
  NUM("max-peers", T_U32, max_peers, 1, 4096, "N", "gossip peers in all (balanced 64)"),
  NUM("max-outbound", T_U32, max_outbound, 1, 64, "N",
      "gossip peers we dial, one per network group (/16, /32) (balanced 8)"),
  NUM("max-inbound-per-host", T_U32, max_inbound_per_host, 0, 4096, "N",
      "inbound gossip peers from one host (4; 0 = no limit)"),
  NUM("max-channels", T_U32, max_channels, 1, 4096, "N", "outbound channels no protocol holds (DHT), kept open (64)"),
  NUM("listen-max-per-ip", T_U32, listen_max_per_ip, 0, 65535, "N",
      "concurrent inbound connections per IP or /64 (8; 0 = no limit)"),
  NUM("listen-ip-rate", T_DOUBLE, listen_ip_rate, 0, 1e6, "R",
      "new inbound handshakes per second per IP (20; 0 = no limit)"),
  NUM("listen-half-open-per-group", T_U32, listen_half_open_per_group, 0, 65535, "N",
      "inbound handshakes at once per IPv4 /24 or IPv6 /48 (32; 0 = no limit)"),
  NUM("workers", T_U32, workers, 0, 256, "N",
      "threads for the crypto of handshakes, beside the event loop\n"
      "(default: one per core; 0 = all on the event loop's thread)"),
  NUM("dht-per-table-wide", T_U32, dht_per_table_wide, 0, 4096, "N",
      "DHT contacts per /16 (IPv4) or /32 (IPv6) in the whole table (0 = no limit)"),
  ONE("route", T_ROUTE, route, "MODE",
      "how our own transactions leave: dandelion (default), direct, mixnet\n"
      "(through the mixnet, then broadcast by its exit) or dandelion+mixnet\n"
      "(through the mixnet, then Dandelion++'s fluff; the private preset's)"),
  NUM("fluff-prob", T_DOUBLE, fluff_prob, 0.05, 0.5, "Q",
      "Dandelion++: probability that an epoch is a fluff epoch (0.1)"),
  NUM("epoch-s", T_U32, epoch_s, 10, 86400, "S", "Dandelion++ epoch length in seconds (600; randomized by +/- 5%)"),
  NUM("embargo-base-ms", T_U32, embargo_base_ms, 0, 3600000, "MS", "embargo timer: this constant ... (5000)"),
  NUM("embargo-mean-ms", T_U32, embargo_mean_ms, 1, 3600000, "MS",
      "... plus an exponential delay with this mean (balanced 12000)"),
  NUM("inv-delay-out-ms", T_U32, inv_delay_out_ms, 0, 600000, "MS",
      "fluff diffusion: mean delay of an INV to an outbound peer (balanced 1000)"),
  NUM("inv-delay-in-ms", T_U32, inv_delay_in_ms, 0, 600000, "MS",
      "fluff diffusion: mean delay of an INV to an inbound peer (balanced 2500)"),
  NUM("stem-rate", T_DOUBLE, stem_rate, 0.01, 10000, "R", "STEMs per second one peer may send (10); more are dropped"),
  NUM("stem-burst", T_U32, stem_burst, 1, 100000, "N", "... in bursts of up to N (100)"),
  NUM("max-tx-bytes", T_SIZE, max_tx_bytes, 1, 64 << 20, "BYTES", "largest transaction accepted (8388608)"),
  NUM("mempool-max-count", T_SIZE, mempool_max_count, 16, 10000000, "N", "mempool cap, oldest evicted (10000)"),
  NUM("stempool-max-count", T_SIZE, stempool_max_count, 16, 1000000, "N", "stempool cap, oldest evicted (1000)"),
  ONE("mixnet", T_BOOL, mixnet, "0|1", "speak the mixnet: its directory, our loops, deliveries to us (1)"),
  ONE("mix", T_BOOL, mix, "0|1",
      "be a mix and an exit: pass others' packets on and publish a descriptor\n"
      "(0; needs an address others reach; keys in DATADIR/mix.keys)"),
  ONE("cover", T_COVER, cover, "PRESET",
      "our cover traffic: off, low (9 KB/s), standard (30 KB/s) or constant\n"
      "(81 KB/s, sending changes nothing a link shows); private: standard, else off"),
  NUM("mix-delay-ms", T_U32, mix_delay_ms, 1, 10000, "MS", "mean delay each mix holds our packets (50)"),
  NUM("mix-epoch-s", T_U32, mix_epoch_s, 60, 86400, "S", "the mixnet's key epoch (3600; the same on every node)"),
  NUM("mix-redundancy", T_DOUBLE, mix_redundancy, 0, 4, "R",
      "parity fragments per data fragment of our messages, at least (0.5;\n"
      "more when our loops measure loss)"),
  NUM("mix-send-rate", T_DOUBLE, mix_send_rate, 0, 1000, "R",
      "packets/s while our fragments wait (0: the cover preset's: 10, none\n"
      "for constant); above the payload rate, a link observer sees the burst"),
  NUM("mix-test-loss", T_DOUBLE, mix_test_loss, 0, 0.9, "P",
      "tests only: a mix drops this share of the packets it passes to another mix (0)"),
  ONE("relay", T_AUTO, relay, "auto|0|1",
      "relay circuits for nodes that nothing can reach (auto: when we listen at an\n"
      "advertised address; the limits below)"),
  ONE("relay-reserve", T_AUTO, relay_reserve, "auto|0|1",
      "be reachable through relays (auto: when we have no advertised address);\n"
      "our record then names the relays"),
  LIST("relay-via", relay_via, n_relay_via, "NODEID@HOST:PORT",
       "a relay to reserve at first (repeatable); then outbound peers that relay"),
  NUM("relay-max-circuits", T_U32, relay_max_circuits, 1, 4096, "N", "circuits through us at once (32)"),
  NUM("relay-max-reservations", T_U32, relay_max_reservations, 0, 65536, "N", "nodes reachable through us (64)"),
  NUM("relay-circuit-s", T_U32, relay_circuit_s, 1, 86400, "S", "seconds one circuit may live (1800)"),
  NUM("relay-circuit-bytes", T_SIZE, relay_circuit_bytes, 1, 1e12, "BYTES",
      "bytes one circuit may carry, both directions (67108864)"),
  NUM("relay-rate", T_U32, relay_rate, 1, 1e9, "BYTES", "bytes per second per direction of one circuit (524288)"),
  ONE("stun", T_AUTO, stun, "auto|0|1", "answer STUN on our UDP port, the listen port (auto: when we listen)"),
  ONE("stun-server", T_STR, stun_server, "HOST:PORT",
      "find our NAT's mapping and filtering against this STUN server at start\n"
      "(RFC 5780: one with two addresses, e.g. coturn, tells both)"),
  ONE("turn-server", T_STR, turn_server, "HOST:PORT",
      "a TURN server (RFC 8656 with TCP relaying, RFC 6062; e.g. coturn) to dial\n"
      "through when the network lets nothing else out"),
  ONE("turn-user", T_STR, turn_user, "NAME", "the TURN server's long-term credential: username"),
  ONE("turn-password-file", T_STR, turn_password_file, "FILE",
      "... and a file holding its password (mode 0600; refused otherwise)"),
  ONE("turn", T_AUTO, turn, "auto|0|1",
      "dial through the TURN server: auto (when direct TCP channels fail for\n"
      "10 s), 0 never, 1 always"),
  ONE("tor-control", T_STR, tor_control, "HOST:PORT",
      "tor's control port (ControlPort, e.g. 127.0.0.1:9051): our onion service,\n"
      "and where tor's SOCKS port is; cookie authentication unless a password is set"),
  ONE("tor-socks", T_STR, tor_socks, "HOST:PORT",
      "tor's SOCKS port (e.g. 127.0.0.1:9050; default: asked of the control port);\n"
      "each peer gets its own circuit (fresh SOCKS credentials per stream)"),
  ONE("tor-password-file", T_STR, tor_password_file, "FILE",
      "the control port's password (HashedControlPassword), in a file of mode 0600"),
  ONE("onion", T_AUTO, onion, "auto|0|1",
      "our onion service (auto: with tor-control, when we take inbound peers);\n"
      "its key is kept in DATADIR/onion_v3_private_key (0600), so the address stays"),
  ONE("onlynet", T_STR, onlynet, "NETS",
      "the networks we dial: clearnet, tor, i2p (comma-separated; default: every\n"
      "one we have a way to reach)"),
  ONE("tor-only", T_BOOL, tor_only, "0|1",
      "nothing on clearnet: every connection through tor, no clearnet listener,\n"
      "STUN, TURN, relays, hole punches or DNS seeds (onlynet tor unless given;\n"
      "onlynet clearnet,tor reaches clearnet peers through tor's exits)"),
  ONE("i2p-sam", T_STR, i2p_sam, "HOST:PORT",
      "the I2P router's SAM bridge (i2pd: 127.0.0.1:7656, sam.enabled = true):\n"
      "reach and be reached at .b32.i2p addresses"),
  ONE("i2p-inbound", T_AUTO, i2p_inbound, "auto|0|1",
      "a persistent I2P destination that takes peers (auto: when we take inbound\n"
      "peers; its key is kept in DATADIR/i2p_private_key, 0600); 0: a transient\n"
      "one, outbound only"),
  NUM("link-padding-ms", T_U32, link_padding_ms, 0, 60000, "MS",
      "link padding on Tor and I2P channels: one 1 KiB record every MS each way,\n"
      "real data replacing decoys (0 = off; 20 = about 52 KB/s per link, always)"),
  NUM("private-broadcast", T_U32, private_broadcast, 0, 8, "N",
      "our own transactions each to N random peers at onion/I2P addresses, over\n"
      "one-use anonymous channels (Bitcoin Core's private broadcast; 0 = off;\n"
      "implies tx-proxy 1)"),
  ONE("tx-proxy", T_AUTO, tx_proxy, "auto|0|1",
      "our own transactions only to peers over Tor or I2P, held while there is\n"
      "none (Monero's tx-proxy; auto: when tor or i2p is set; the private\n"
      "preset's auto, the others' 0)"),
  ONE("api", T_STR, api, "ADDR", "control API: 127.0.0.1:PORT, [::1]:PORT, unix:/PATH or off (127.0.0.1:9801)"),
  ONE("api-token-file", T_STR, api_token_file, "FILE", "API bearer token, created 0600 if missing (DATADIR/api.token)"),
  ONE("api-token-mode", T_MODE, api_token_mode, "MODE",
      "the token file's mode: 0600 (default), or 0640 so that its group (the\n"
      "operators of a system service) may run nepnet status and open the page"),
  ONE("log-level", T_LOGLEVEL, log_level, "LEVEL[,SUB=LEVEL...]",
      "debug, info (default), warn or error; per subsystem after it, e.g.\n"
      "info,dht=debug,net=warn (net, tcp, dht, dandelion, api, node, nat,\n"
      "relay, stun, turn, tor, i2p, mix); SIGHUP applies a changed one"),
  ONE("log-file", T_LOGFILE, log_level, "FILE",
      "append the log to FILE (mode 0640) instead of stderr; SIGHUP reopens it\n"
      "(for logrotate)"),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

#undef F
#undef NUM
#undef ONE
#undef LIST

/* The field an option writes, in \a s. */
#define AT(s, o, type) ((type *)((char *)(s) + (o)->off))
#define AT_C(s, o, type) ((const type *)((const char *)(s) + (o)->off))
typedef const char *cstr_t;         /* a string field, for AT/AT_C */
typedef const char *const *cstrs_t; /* a list field */

/* Storage the settings point to: every string and list array, freed with the conf. */
struct nn_conf_str_t {
  nn_conf_str_t *next;
  void *p;
};

static void *
own(nn_conf_t *c, void *p)
{
  nn_conf_str_t *s;
  if (!p || !(s = malloc(sizeof(*s)))) {
    free(p);
    return NULL;
  }
  s->p = p;
  s->next = c->owned;
  c->owned = s;
  return p;
}

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

static int
set_number(nn_conf_t *c, const opt_t *o, const char *v, const char *origin, char *why, size_t why_len)
{
  double x;
  char allowed[96];
  if (!parse_number(v, o->type != T_DOUBLE, &x) || x < o->min || x > o->max) {
    snprintf(allowed, sizeof(allowed), "%s from %g to %g", o->type == T_DOUBLE ? "a number" : "an integer", o->min,
             o->max);
    return fail(why, why_len, origin, v, "is not allowed", allowed);
  }
  if (o->type == T_U32)
    *AT(&c->s, o, uint32_t) = (uint32_t)x;
  else if (o->type == T_SIZE)
    *AT(&c->s, o, size_t) = (size_t)x;
  else
    *AT(&c->s, o, double) = x;
  return 0;
}

static int
set_bool(nn_conf_t *c, const opt_t *o, const char *v, const char *origin, char *why, size_t why_len)
{
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
    *AT(&c->s, o, int) = 1;
  else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
    *AT(&c->s, o, int) = 0;
  else
    return fail(why, why_len, origin, v, "is not allowed", "0 or 1 (also true/false, yes/no)");
  return 0;
}

static int
set_auto(nn_conf_t *c, const opt_t *o, const char *v, const char *origin, char *why, size_t why_len)
{
  if (!strcmp(v, "auto")) {
    *AT(&c->s, o, int) = -1;
    return 0;
  }
  if (set_bool(c, o, v, origin, why, why_len))
    return fail(why, why_len, origin, v, "is not allowed", "auto, 0 or 1");
  return 0;
}

static int
set_list(nn_conf_t *c, const opt_t *o, const char *v, const char *origin, int from_flags, char *why, size_t why_len)
{
  const char **arr = (const char **)*AT(&c->s, o, cstrs_t);
  size_t *n = (size_t *)((char *)&c->s + o->off_n);
  uint64_t bit = 1ull << (o - opts);
  char allowed[64];
  if (from_flags && !(c->lists_from_flags & bit)) { /* the flags' list replaces the file's */
    *n = 0;
    c->lists_from_flags |= bit;
  }
  if (*n >= NN_CONF_LIST_MAX) {
    snprintf(allowed, sizeof(allowed), "at most %d values", NN_CONF_LIST_MAX);
    return fail(why, why_len, origin, v, "is one value too many", allowed);
  }
  if (o->off == offsetof(nn_node_settings_t, peers) || o->off == offsetof(nn_node_settings_t, connect) ||
      o->off == offsetof(nn_node_settings_t, relay_via)) {
    nn_addr_t a;
    nn_node_id_t id;
    int has;
    if (nn_disco_parse_peer(v, &a, &id, &has) != NN_OK)
      return fail(why, why_len, origin, v, "is not a peer", "NODEID@HOST:PORT or HOST:PORT with a numeric host");
  }
  if (!arr) { /* room for the most a list may hold, owned by the conf */
    if (!(arr = own(c, calloc(NN_CONF_LIST_MAX, sizeof(*arr)))))
      return -1;
    *AT(&c->s, o, cstrs_t) = arr;
  }
  if (!(arr[*n] = own(c, strdup(v))))
    return -1;
  (*n)++;
  return 0;
}

static int
set_enum(nn_conf_t *c, const opt_t *o, const char *v, const char *origin, char *why, size_t why_len)
{
  switch (o->type) {
  case T_ROUTE:
    if (!strcmp(v, "dandelion"))
      *AT(&c->s, o, nn_route_t) = NN_ROUTE_DANDELION;
    else if (!strcmp(v, "direct"))
      *AT(&c->s, o, nn_route_t) = NN_ROUTE_DIRECT;
    else if (!strcmp(v, "mixnet"))
      *AT(&c->s, o, nn_route_t) = NN_ROUTE_MIXNET;
    else if (!strcmp(v, "dandelion+mixnet"))
      *AT(&c->s, o, nn_route_t) = NN_ROUTE_DANDELION_MIXNET;
    else
      return fail(why, why_len, origin, v, "is not a route", "dandelion, direct, mixnet or dandelion+mixnet");
    return 0;
  case T_NETWORK:
    if (!strcmp(v, "mainnet"))
      *AT(&c->s, o, uint32_t) = NN_NET_MAINNET;
    else if (!strcmp(v, "testnet"))
      *AT(&c->s, o, uint32_t) = NN_NET_TESTNET;
    else if (!strcmp(v, "regtest"))
      *AT(&c->s, o, uint32_t) = NN_NET_REGTEST;
    else
      return fail(why, why_len, origin, v, "is not a network", "mainnet, testnet or regtest");
    return 0;
  case T_COVER: {
    static const char *const names[] = { "off", "low", "standard", "constant" };
    for (size_t i = 0; i < 4; i++)
      if (!strcmp(v, names[i])) {
        *AT(&c->s, o, cstr_t) = names[i];
        return 0;
      }
    return fail(why, why_len, origin, v, "is not a cover preset", "off, low, standard or constant");
  }
  case T_LOGLEVEL: {
    nn_dlog_t l;
    char w[256];
    if (nn_dlog_parse(&l, v, w, sizeof(w)))
      return fail(why, why_len, origin, v, "is not a log level spec",
                  "debug, info, warn or error, then e.g. ,dht=debug");
    *AT(&c->s, o, int) = nn_dlog_min_level(&l);
    return (c->log_spec = own(c, strdup(v))) ? 0 : -1;
  }
  case T_LOGFILE:
    if (!*v)
      return fail(why, why_len, origin, v, "is empty", "a file name");
    return (c->log_file = own(c, strdup(v))) ? 0 : -1;
  case T_MODE:
    if (!strcmp(v, "0600") || !strcmp(v, "600"))
      *AT(&c->s, o, uint32_t) = 0600;
    else if (!strcmp(v, "0640") || !strcmp(v, "640"))
      *AT(&c->s, o, uint32_t) = 0640;
    else
      return fail(why, why_len, origin, v, "is not a token mode", "0600 or 0640");
    return 0;
  default: return -1;
  }
}

static int
set_preset(nn_conf_t *c, const char *v, char *why, size_t why_len)
{
  if (nn_node_settings_preset(&c->s, v) != NN_OK) {
    snprintf(why, why_len, "preset '%s' does not exist; give fast, balanced or private", v);
    return -1;
  }
  return 0;
}

int
nn_conf_set(nn_conf_t *c, const char *name, const char *v, const char *origin, int from_flags, char *why,
            size_t why_len)
{
  const opt_t *o = find_opt(name);
  if (!o) {
    snprintf(why, why_len, "%s: unknown option '%s' (nepnetd --help lists them)", origin, name);
    return -1;
  }
  switch (o->type) {
  case T_U32:
  case T_SIZE:
  case T_DOUBLE: return set_number(c, o, v, origin, why, why_len);
  case T_BOOL: return set_bool(c, o, v, origin, why, why_len);
  case T_AUTO: return set_auto(c, o, v, origin, why, why_len);
  case T_STR:
    if (!*v)
      return fail(why, why_len, origin, v, "is empty", o->arg);
    return (*AT(&c->s, o, cstr_t) = own(c, strdup(v))) ? 0 : -1;
  case T_LIST: return set_list(c, o, v, origin, from_flags, why, why_len);
  case T_PRESET: return set_preset(c, v, why, why_len);
  default: return set_enum(c, o, v, origin, why, why_len);
  }
}

void
nn_conf_init(nn_conf_t *c)
{
  memset(c, 0, sizeof(*c));
  nn_node_settings_default(&c->s); /* the balanced preset */
  c->s.api = "127.0.0.1:9801";     /* a daemon serves its API by default; an embedded node does not */
}

void
nn_conf_free(nn_conf_t *c)
{
  if (!c)
    return;
  free(c->datadir);
  free(c->config_file);
  while (c->owned) {
    nn_conf_str_t *s = c->owned;
    c->owned = s->next;
    free(s->p);
    free(s);
  }
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

/* The option table as help: "--name ARG" (flags) or "name = ARG" (the file), then its text. */
static void
print_options(FILE *f, int as_file)
{
  for (size_t i = 0; i < NOPTS; i++) {
    char head[64];
    snprintf(head, sizeof(head), as_file ? "%s = %s" : "--%s %s", opts[i].name, opts[i].arg);
    fprintf(f, "  %-34s ", head);
    for (const char *p = opts[i].help; *p; p++) {
      fputc(*p, f);
      if (*p == '\n')
        fprintf(f, "  %-34s ", "");
    }
    fputc('\n', f);
  }
}

void
nn_conf_help(FILE *f)
{
  fputs("options (each also a config-file line 'name = value'; list options repeat):\n", f);
  print_options(f, 0);
}

void
nn_conf_help_file(FILE *f)
{
  fputs("Usage: nepnetd.conf: the settings file of nepnetd (DATADIR/nepnetd.conf, or --config FILE)\n"
        "\n"
        "One setting per line, 'name = value'; blank lines and lines starting with '#' are ignored; a\n"
        "list setting (peer, dns-seed, connect, relay-via) repeats its line. The preset applies first\n"
        "(the file's 'preset' line, or --preset), then the file, then nepnetd's flags, which win.\n"
        "SIGHUP reads the file again. These change at once: log-level; route (for our next\n"
        "transactions); peer and dns-seed (a node still bootstrapping retries with them at once, a\n"
        "bootstrapped one dials the new peers); max-peers, max-outbound and max-inbound-per-host (a\n"
        "lowered cap closes the youngest peers above it); mempool-max-count and stempool-max-count (a\n"
        "lowered cap evicts the oldest, never our own stems); listen-max-per-ip and\n"
        "listen-half-open-per-group (for the next inbound connections); max-channels (idle channels\n"
        "above it close); dht-per-table-wide (for contacts that join from then on). Every other\n"
        "setting that differs is named in the log and takes effect at the next start; a setting file\n"
        "with an error changes nothing. nepnetd --print-config shows the result. Every refusal names the file and "
        "line, the value and what is allowed.\n"
        "\n"
        "Settings:\n",
        f);
  print_options(f, 1);
}

static void
print_opt(const nn_conf_t *c, const opt_t *o, FILE *f)
{
  const nn_node_settings_t *s = &c->s;
  switch (o->type) {
  case T_U32: fprintf(f, "%s = %u\n", o->name, (unsigned)*AT_C(s, o, uint32_t)); break;
  case T_SIZE: fprintf(f, "%s = %zu\n", o->name, *AT_C(s, o, size_t)); break;
  case T_DOUBLE: fprintf(f, "%s = %g\n", o->name, *AT_C(s, o, double)); break;
  case T_BOOL: fprintf(f, "%s = %d\n", o->name, *AT_C(s, o, int)); break;
  case T_AUTO:
    if (*AT_C(s, o, int) < 0)
      fprintf(f, "%s = auto\n", o->name);
    else
      fprintf(f, "%s = %d\n", o->name, *AT_C(s, o, int));
    break;
  case T_STR:
  case T_PRESET:
  case T_COVER:
    if (*AT_C(s, o, cstr_t))
      fprintf(f, "%s = %s\n", o->name, *AT_C(s, o, cstr_t));
    break;
  case T_LIST: {
    const char *const *v = *AT_C(s, o, cstrs_t);
    size_t n = *(const size_t *)((const char *)s + o->off_n);
    for (size_t i = 0; i < n; i++)
      fprintf(f, "%s = %s\n", o->name, v[i]);
    break;
  }
  case T_ROUTE: fprintf(f, "%s = %s\n", o->name, nn_route_str(*AT_C(s, o, nn_route_t))); break;
  case T_NETWORK: fprintf(f, "%s = %s\n", o->name, nn_network_str(*AT_C(s, o, uint32_t))); break;
  case T_LOGLEVEL:
    fprintf(f, "%s = %s\n", o->name, c->log_spec ? c->log_spec : nn_log_level_str(*AT_C(s, o, int)));
    break;
  case T_LOGFILE:
    if (c->log_file)
      fprintf(f, "%s = %s\n", o->name, c->log_file);
    break;
  case T_MODE: fprintf(f, "%s = 0%o\n", o->name, (unsigned)*AT_C(s, o, uint32_t)); break;
  }
}

void
nn_conf_print_commented(const nn_conf_t *c, FILE *f)
{
  fputs("# nepnetd's settings file (man nepnetd.conf): every setting, commented out, with its\n"
        "# default. Remove the '#' of a line to change it; nepnetd's flags win over this file, and\n"
        "# `systemctl reload nepnetd` (SIGHUP) applies log-level, route, the limits and the\n"
        "# seeds at once (man nepnetd.conf says which); the log names the rest.\n",
        f);
  for (size_t i = 0; i < NOPTS; i++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    fprintf(f, "\n# ");
    for (const char *p = opts[i].help; *p; p++)
      fputs(*p == '\n' ? "\n# " : (char[]){ *p, 0 }, f);
    fputc('\n', f);
    if (m) {
      print_opt(c, &opts[i], m);
      fclose(m);
    }
    if (buf && len) {
      for (char *line = buf, *nl; *line; line = nl + 1) {
        if (!(nl = strchr(line, '\n')))
          break;
        fprintf(f, "#%.*s\n", (int)(nl - line + 0), line);
      }
    } else {
      fprintf(f, "#%s = %s\n", opts[i].name, opts[i].arg);
    }
    free(buf);
  }
}

void
nn_conf_print(const nn_conf_t *c, FILE *f)
{
  for (size_t i = 0; i < NOPTS; i++)
    print_opt(c, &opts[i], f);
}

char *
nn_conf_default_datadir(void)
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
    if (!strcmp(argv[i], "--version"))
      return 3;
    if (!strcmp(argv[i], "--help-config"))
      return 4;
    if (!strcmp(argv[i], "--print-default-config"))
      return 5;
    if (!strcmp(argv[i], "--print-config")) {
      print = 1;
      continue;
    }
    if (strncmp(argv[i], "--", 2)) {
      snprintf(why, why_len, "unexpected argument '%s' (options are --name VALUE; nepnetd --help)", argv[i]);
      return -1;
    }
    if (split_flag(argc, argv, i, name, sizeof(name), &value, &consumed)) {
      if (!find_opt(name) && strcmp(name, "datadir") && strcmp(name, "config") && strcmp(name, "preset"))
        snprintf(why, why_len, "unknown option --%s (nepnetd --help lists them)", name);
      else
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
  if (!c->datadir && !(c->datadir = nn_conf_default_datadir()))
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
  if (preset && set_preset(c, preset, why, why_len))
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
  if (c->s.max_outbound > c->s.max_peers) {
    snprintf(why, why_len, "max-outbound (%u) is above max-peers (%u): lower --max-outbound or raise --max-peers",
             c->s.max_outbound, c->s.max_peers);
    return -1;
  }
  c->s.datadir = c->datadir;
  return print ? 2 : 0;
}
