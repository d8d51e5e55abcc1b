/*
 * `nepnet send` and `nepnet status`: the CLI side of the control API (docs/API.md), through
 * the blocking client in src/node/api_client.h. The node is found through DATADIR/api.address
 * and DATADIR/api.token, which nepnetd writes, or through --api and --token-file.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "app/commands.h"
#include "app/api_client.h"
#include "app/apicmd.h"

#define SEND_MAX_FILE (64u << 20) /* far above any node's limit; the node answers 413 first */

static const char send_usage[] =
  "usage: nepnet [--datadir DIR] send FILE [--follow [--timeout S]] [--api HOST:PORT]\n"
  "                                         [--token-file FILE] [--json]\n"
  "\n"
  "Submit the bytes of FILE (\"-\" for standard input) as a transaction for private broadcast\n"
  "through the control API of the node whose data directory is DIR (POST /v1/tx). Prints\n"
  "\"id ID mode MODE\": the transaction id (SHA3-256 of the bytes, hex) and the routing mode\n"
  "the node used (e.g. dandelion). Exit status 0 when the node accepted it.\n"
  "\n"
  "  --follow            then print its timeline as it happens (as nepnet tx ID does: the stem\n"
  "                      relay, the embargo, who sent it back) and exit with how it ended:\n"
  "                      0 propagated, 2 embargoed, 3 direct, 4 dropped, 5 still on its way\n"
  "                      when --timeout ran out, 1 an error\n"
  "  --timeout S         how long --follow waits for the end (default 300 s)\n"
  "  --api HOST:PORT     the node's API address (default: the line in DIR/api.address,\n"
  "                      written by nepnetd). TCP only: for an API on a Unix socket use\n"
  "                      curl --unix-socket (docs/API.md)\n"
  "  --token-file FILE   the API token file (default DIR/api.token; must be mode 0600)\n"
  "  --json              print the node's JSON answer instead\n"
  "  -h, --help          this text\n"
  "\n"
  "DIR is --datadir, else $NEPNET_DATADIR, else ~/.nepnet.\n";

static const char status_usage[] =
  "usage: nepnet [--datadir DIR] status [--watch [--interval S]] [--api HOST:PORT]\n"
  "                                      [--token-file FILE] [--json]\n"
  "\n"
  "Show the status of the node whose data directory is DIR through its control API\n"
  "(GET /v1/status): node id, network, uptime, peers in/out, DHT size, Dandelion++ epoch role,\n"
  "bytes in/out, mempool and stempool, our own transactions by state, NAT traversal.\n"
  "Exit status 0 when the node answered.\n"
  "\n"
  "  --watch             show it again every --interval seconds (in place on a terminal, with\n"
  "                      a time line between them otherwise) until Ctrl-C\n"
  "  --interval S        seconds between two (default 2)\n"
  "  --api HOST:PORT     the node's API address (default: the line in DIR/api.address,\n"
  "                      written by nepnetd). TCP only: for an API on a Unix socket use\n"
  "                      curl --unix-socket (docs/API.md)\n"
  "  --token-file FILE   the API token file (default DIR/api.token; must be mode 0600)\n"
  "  --json              print the whole status object the node sent, as indented JSON\n"
  "  -h, --help          this text\n"
  "\n"
  "DIR is --datadir, else $NEPNET_DATADIR, else ~/.nepnet.\n";

int
nn_apicmd_parse(const char *cmd, const char *usage, unsigned allow, int argc, char **argv, nn_apicmd_opts_t *o)
{
  static const struct option opts[] = {
    { "api", required_argument, NULL, 'a' },
    { "token-file", required_argument, NULL, 't' },
    { "json", no_argument, NULL, 'j' },
    { "follow", no_argument, NULL, 'f' },
    { "watch", no_argument, NULL, 'w' },
    { "interval", required_argument, NULL, 'i' },
    { "timeout", required_argument, NULL, 'T' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  char *end;
  unsigned long v;
  memset(o, 0, sizeof(*o));
  o->timeout_s = 300;
  o->interval_s = 2;
  optind = 0; /* a fresh scan (the main parser stopped at the command), options after FILE too */
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    unsigned need = c == 'f'               ? NN_APICMD_FOLLOW
                    : c == 'w' || c == 'i' ? NN_APICMD_WATCH
                    : c == 'T'             ? NN_APICMD_TIMEOUT
                                           : 0;
    if (need && !(allow & need)) {
      fprintf(stderr, "nepnet %s: %s is not an option of this command\n\n%s", cmd, argv[optind - 1], usage);
      return 2;
    }
    switch (c) {
    case 'a': o->api = optarg; break;
    case 't': o->token_file = optarg; break;
    case 'j': o->json = 1; break;
    case 'f': o->follow = 1; break;
    case 'w': o->watch = 1; break;
    case 'i':
    case 'T':
      errno = 0;
      v = strtoul(optarg, &end, 10);
      if (errno || end == optarg || *end || v < 1 || v > 86400) {
        fprintf(stderr, "nepnet %s: %s %s: give whole seconds, 1 to 86400\n", cmd, argv[optind - 2], optarg);
        return 2;
      }
      if (c == 'i')
        o->interval_s = (unsigned)v;
      else
        o->timeout_s = (unsigned)v;
      break;
    case 'h': fputs(usage, stdout); return -1;
    case ':': fprintf(stderr, "nepnet %s: option %s needs a value\n\n%s", cmd, argv[optind - 1], usage); return 2;
    default: fprintf(stderr, "nepnet %s: unknown option %s\n\n%s", cmd, argv[optind - 1], usage); return 2;
    }
  }
  o->argi = optind;
  return 0;
}

int
nn_apicmd_locate(const char *cmd, const char *datadir, const nn_apicmd_opts_t *o, char *addr, size_t addr_len,
                 char *token, size_t token_len)
{
  char why[600], path[4096];
  const char *tf = o->token_file;
  if (o->api) {
    if (strlen(o->api) >= addr_len) {
      fprintf(stderr, "nepnet %s: --api %s is too long\n", cmd, o->api);
      return 1;
    }
    strcpy(addr, o->api);
  } else if (nn_api_client_read_address(datadir, addr, addr_len, why, sizeof(why))) {
    fprintf(stderr, "nepnet %s: %s\n", cmd, why);
    return 1;
  }
  if (!tf) {
    snprintf(path, sizeof(path), "%s/api.token", datadir);
    tf = path;
  }
  if (nn_api_client_read_token(tf, token, token_len, why, sizeof(why))) {
    fprintf(stderr, "nepnet %s: %s%s\n", cmd, why, o->token_file ? "" : " (or pass --token-file FILE)");
    return 1;
  }
  return 0;
}

void
nn_apicmd_refusal(const char *cmd, const char *addr, int status, const unsigned char *body, size_t len)
{
  json_t *j = json_loadb((const char *)body, len, 0, NULL);
  const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
  if (e)
    fprintf(stderr, "nepnet %s: the node at %s answered HTTP %d: %s\n", cmd, addr, status, e);
  else if (status == 413)
    fprintf(stderr, "nepnet %s: the node at %s answered HTTP 413: the request is over its size limit\n", cmd, addr);
  else
    fprintf(stderr, "nepnet %s: the node at %s answered HTTP %d\n", cmd, addr, status);
  json_decref(j);
}

int
nn_apicmd_get(const char *cmd, const char *addr, const char *token, const char *path, int quiet_404, int *status,
              json_t **out)
{
  char why[600];
  uint8_t *resp = NULL;
  size_t rlen = 0;
  int st = 0;
  *out = NULL;
  if (nn_api_client_request(addr, token, "GET", path, NULL, 0, NULL, &st, &resp, &rlen, why, sizeof(why))) {
    fprintf(stderr, "nepnet %s: %s\n", cmd, why);
    st = 0;
  } else if (st != 200) {
    if (!(quiet_404 && st == 404))
      nn_apicmd_refusal(cmd, addr, st, resp, rlen);
  } else if (!(*out = json_loadb((const char *)resp, rlen, 0, NULL)) || !json_is_object(*out)) {
    fprintf(stderr, "nepnet %s: the node at %s answered %s with something that is not a JSON object\n", cmd, addr,
            path);
    json_decref(*out);
    *out = NULL;
  }
  if (status)
    *status = st;
  free(resp);
  return *out ? 0 : 1;
}

void
nn_apicmd_sleep_ms(unsigned ms)
{
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  size_t cap = 0, n = 0;
  uint8_t *buf = NULL;
  int rc = 0;

  *out = NULL;
  *len = 0;
  if (!f) {
    fprintf(stderr, "nepnet send: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  for (;;) {
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 1 << 16;
      uint8_t *nb;
      if (cap >= SEND_MAX_FILE + 1) {
        fprintf(stderr, "nepnet send: %s is over %u bytes, far beyond any transaction\n", path, SEND_MAX_FILE);
        rc = 1;
        break;
      }
      if (ncap > SEND_MAX_FILE + 1)
        ncap = SEND_MAX_FILE + 1;
      if (!(nb = realloc(buf, ncap))) {
        fprintf(stderr, "nepnet send: out of memory reading %s\n", path);
        rc = 1;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) {
      if (ferror(f)) {
        fprintf(stderr, "nepnet send: cannot read %s: %s\n", path, strerror(errno));
        rc = 1;
      }
      break;
    }
  }
  if (f != stdin)
    fclose(f);
  if (!rc && n == 0) {
    fprintf(stderr, "nepnet send: %s is empty: a transaction has at least one byte\n", path);
    rc = 1;
  }
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  *len = n;
  return 0;
}

int
nepnet_cmd_send(const char *datadir, int argc, char **argv)
{
  nn_apicmd_opts_t o;
  char addr[320], token[80], why[600];
  uint8_t *tx = NULL, *resp = NULL;
  size_t txlen = 0, rlen = 0;
  int rc, status = 0;
  json_t *j = NULL;

  if ((rc = nn_apicmd_parse("send", send_usage, NN_APICMD_FOLLOW | NN_APICMD_TIMEOUT, argc, argv, &o)))
    return rc < 0 ? 0 : rc;
  if (argc - o.argi != 1) {
    fprintf(stderr, "nepnet send: %s\n\n%s",
            argc - o.argi < 1 ? "which FILE? (the transaction's bytes; - for standard input)" : "one FILE at a time",
            send_usage);
    return 2;
  }
  if (nn_apicmd_locate("send", datadir, &o, addr, sizeof(addr), token, sizeof(token)))
    return 1;
  if ((rc = read_file(argv[o.argi], &tx, &txlen)))
    goto out;
  if (nn_api_client_request(addr, token, "POST", "/v1/tx", tx, txlen, "application/octet-stream", &status, &resp, &rlen,
                            why, sizeof(why))) {
    fprintf(stderr, "nepnet send: %s\n", why);
    rc = 1;
    goto out;
  }
  if (status != 200) {
    nn_apicmd_refusal("send", addr, status, resp, rlen);
    rc = 1;
    goto out;
  }
  if (o.json && !o.follow) {
    fwrite(resp, 1, rlen, stdout);
    if (!rlen || resp[rlen - 1] != '\n')
      putchar('\n');
    goto out;
  }
  j = json_loadb((const char *)resp, rlen, 0, NULL);
  const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
  const char *mode = j ? json_string_value(json_object_get(j, "mode")) : NULL;
  if (!id || !mode) {
    fprintf(stderr,
            "nepnet send: the node at %s accepted the transaction but its answer has no "
            "id/mode: %.*s\n",
            addr, (int)(rlen > 200 ? 200 : rlen), (const char *)resp);
    rc = 1;
    goto out;
  }
  printf("id %s mode %s\n", id, mode);
  if (o.follow) {
    fflush(stdout);
    rc = nepnet_follow_tx("send", addr, token, id, o.timeout_s, o.json);
  }
out:
  json_decref(j);
  OPENSSL_cleanse(token, sizeof(token));
  free(tx);
  free(resp);
  return rc;
}

/* ---- status ---- */

static int
num(json_t *o, const char *key, double *out)
{
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v))
    return 0;
  *out = json_number_value(v);
  return 1;
}

void
nn_apicmd_fmt_bytes(char *out, size_t n, double b)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, n, "%.0f B", b);
  else
    snprintf(out, n, "%.1f %s", b, units[u]);
}

void
nn_apicmd_fmt_duration(char *out, size_t n, double s)
{
  uint64_t t = s > 0 ? (uint64_t)s : 0;
  if (t >= 86400)
    snprintf(out, n, "%" PRIu64 "d %02" PRIu64 "h %02" PRIu64 "m", t / 86400, t / 3600 % 24, t / 60 % 60);
  else if (t >= 3600)
    snprintf(out, n, "%" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s", t / 3600, t / 60 % 60, t % 60);
  else if (t >= 60)
    snprintf(out, n, "%" PRIu64 "m %02" PRIu64 "s", t / 60, t % 60);
  else
    snprintf(out, n, "%" PRIu64 "s", t);
}

static void
print_status(json_t *s)
{
  char a[64], b[64];
  double x, y;
  const char *str;
  json_t *o;

  if ((str = json_string_value(json_object_get(s, "node_id"))))
    printf("node id    %s\n", str);
  if ((str = json_string_value(json_object_get(s, "network"))))
    printf("network    %s\n", str);
  if (num(s, "uptime_s", &x)) {
    nn_apicmd_fmt_duration(a, sizeof(a), x);
    printf("uptime     %s\n", a);
  }
  if (num(s, "peers_in", &x) && num(s, "peers_out", &y))
    printf("peers      %.0f in, %.0f out\n", x, y);
  if (num(s, "dht_size", &x))
    printf("dht        %.0f nodes in the routing table\n", x);
  if ((o = json_object_get(s, "epoch")) && json_is_object(o)) {
    printf("epoch      %s", (str = json_string_value(json_object_get(o, "role"))) ? str : "?");
    if (num(o, "ends_in_s", &x))
      printf(", ends in %.0f s", x);
    json_t *r = json_object_get(o, "relays");
    if (json_is_array(r))
      printf(", %zu stem relay%s", json_array_size(r), json_array_size(r) == 1 ? "" : "s");
    else if (json_is_number(r))
      printf(", %.0f stem relays", json_number_value(r));
    printf("\n");
  }
  if (num(s, "bytes_in", &x) && num(s, "bytes_out", &y)) {
    nn_apicmd_fmt_bytes(a, sizeof(a), x);
    nn_apicmd_fmt_bytes(b, sizeof(b), y);
    printf("traffic    %s in, %s out\n", a, b);
  }
  if ((o = json_object_get(s, "mempool")) && json_is_object(o) && num(o, "count", &x)) {
    printf("mempool    %.0f transaction%s", x, x == 1 ? "" : "s");
    if (num(o, "bytes", &y)) {
      nn_apicmd_fmt_bytes(a, sizeof(a), y);
      printf(", %s", a);
    }
    printf("\n");
  }
  if ((o = json_object_get(s, "stempool")) && json_is_object(o) && num(o, "count", &x))
    printf("stempool   %.0f transaction%s\n", x, x == 1 ? "" : "s");
  if ((str = json_string_value(json_object_get(s, "route"))))
    printf("route      %s\n", str);
}

/* The NAT lines (GET /v1/nat): how we are reached and why, relays, punches, STUN. */
static void
print_nat(json_t *n)
{
  json_t *r = json_object_get(n, "reachability"), *c = json_object_get(n, "client"), *rl = json_object_get(n, "relay"),
         *p = json_object_get(n, "punch"), *st = json_object_get(n, "stun"), *tu = json_object_get(n, "turn");
  const char *state, *addr, *why;
  double x, y;
  if (json_is_object(r) && (state = json_string_value(json_object_get(r, "state")))) {
    addr = json_string_value(json_object_get(r, "addr"));
    why = json_string_value(json_object_get(r, "why"));
    printf("reachable  %s%s%s%s%s%s\n", state, addr ? " at " : "", addr ? addr : "", why && *why ? " (" : "",
           why && *why ? why : "", why && *why ? ")" : "");
  }
  if (json_is_object(c) && num(c, "reservations", &x)) {
    printf("relays     reachable through %.0f relay%s", x, x == 1 ? "" : "s");
    if (json_is_object(rl) && json_is_true(json_object_get(rl, "service")) && num(rl, "circuits", &y))
      printf("; relaying for others: %.0f circuit%s now", y, y == 1 ? "" : "s");
    printf("\n");
  }
  if (json_is_object(p) && num(p, "punched", &x) && num(p, "failed", &y))
    printf("punch      %.0f relayed channel%s moved to a direct connection, %.0f stayed relayed%s\n", x,
           x == 1 ? "" : "s", y, json_is_true(json_object_get(p, "on")) ? "" : " (off: no listener)");
  if (json_is_object(st)) {
    json_t *d = json_object_get(st, "discovery");
    printf("stun       %s on %s", json_is_true(json_object_get(st, "serving")) ? "serving" : "not serving",
           (addr = json_string_value(json_object_get(st, "addr"))) ? addr : "?");
    if (json_is_object(d) && (state = json_string_value(json_object_get(d, "state"))))
      printf("; NAT: %s, mapping %s, filtering %s", state,
             (why = json_string_value(json_object_get(d, "mapping"))) ? why : "?",
             (addr = json_string_value(json_object_get(d, "filtering"))) ? addr : "?");
    printf("\n");
  }
  json_t *tm = json_object_get(n, "tcp_mapping");
  if (json_is_object(tm) && (state = json_string_value(json_object_get(tm, "mapping"))) && num(tm, "relays", &x) &&
      x >= 2 && strcmp(state, "unknown")) {
    addr = json_string_value(json_object_get(tm, "seen"));
    printf("nat        TCP mapping %s (our listen port as %.0f relays see it: %s%s)\n", state, x, addr ? addr : "?",
           strcmp(state, "endpoint-independent") && strcmp(state, "none") ? ", and others" : "");
  }
  if (json_is_object(tu) && (state = json_string_value(json_object_get(tu, "state")))) {
    addr = json_string_value(json_object_get(tu, "relayed"));
    why = json_string_value(json_object_get(tu, "why"));
    if (!num(tu, "streams", &x))
      x = 0;
    printf("turn       %s%s%s at %s, %s; %.0f stream%s (%s)\n", state, addr ? " " : "", addr ? addr : "",
           json_string_value(json_object_get(tu, "server")) ? json_string_value(json_object_get(tu, "server")) : "?",
           json_is_true(json_object_get(tu, "engaged")) ? "in use" : "not in use", x, x == 1 ? "" : "s",
           why ? why : "");
  }
}

/* The own-transaction line: how many, by state (GET /v1/own-txs; none from an older node). */
static void
print_own(const char *addr, const char *token)
{
  json_t *j = NULL, *a;
  int st;
  if (nn_apicmd_get("status", addr, token, "/v1/own-txs", 1, &st, &j) ||
      !json_is_array(a = json_object_get(j, "own_txs"))) {
    json_decref(j);
    return;
  }
  static const char *const states[] = { "submitted", "stem", "propagated", "embargoed", "direct", "mixnet", "dropped" };
  size_t n = json_array_size(a), count[7] = { 0 };
  for (size_t i = 0; i < n; i++) {
    const char *s = json_string_value(json_object_get(json_array_get(a, i), "state"));
    for (size_t k = 0; s && k < 7; k++)
      count[k] += !strcmp(s, states[k]);
  }
  printf("own txs    %zu (kept 24 h, in memory)", n);
  for (size_t k = 0, first = 1; k < 7; k++)
    if (count[k]) {
      printf("%s%zu %s", first ? ": " : ", ", count[k], states[k]);
      first = 0;
    }
  printf("%s\n", n ? "; nepnet tx ID shows one" : "");
  json_decref(j);
}

/* One status: 0 when the node answered. */
static int
status_once(const char *addr, const char *token, const nn_apicmd_opts_t *o)
{
  json_t *j = NULL, *nj = NULL;
  int st;
  if (nn_apicmd_get("status", addr, token, "/v1/status", 0, &st, &j))
    return 1;
  if (o->json) {
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
      puts(s);
    free(s);
  } else {
    printf("api        %s\n", addr);
    print_status(j);
    print_own(addr, token);
    /* NAT traversal has its own route; a node without it (or an older one) shows none */
    if (!nn_apicmd_get("status", addr, token, "/v1/nat", 1, &st, &nj))
      print_nat(nj);
    json_decref(nj);
  }
  json_decref(j);
  return 0;
}

int
nepnet_cmd_status(const char *datadir, int argc, char **argv)
{
  nn_apicmd_opts_t o;
  char addr[320], token[80];
  int rc = 0, tty = isatty(STDOUT_FILENO);

  if ((rc = nn_apicmd_parse("status", status_usage, NN_APICMD_WATCH, argc, argv, &o)))
    return rc < 0 ? 0 : rc;
  if (argc - o.argi != 0) {
    fprintf(stderr, "nepnet status: unexpected argument %s\n\n%s", argv[o.argi], status_usage);
    return 2;
  }
  if (nn_apicmd_locate("status", datadir, &o, addr, sizeof(addr), token, sizeof(token)))
    return 1;
  for (;;) {
    if (o.watch && tty && !o.json)
      fputs("\033[H\033[2J", stdout); /* a screen that updates in place */
    else if (o.watch && !o.json) {
      time_t now = time(NULL);
      char ts[32];
      strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
      printf("--- %s\n", ts);
    }
    rc = status_once(addr, token, &o);
    if (!o.watch)
      break;
    if (!o.json)
      printf("\n(every %u s; Ctrl-C ends)\n", o.interval_s);
    fflush(stdout);
    nn_apicmd_sleep_ms(o.interval_s * 1000); /* a node that restarts is simply asked again */
  }
  OPENSSL_cleanse(token, sizeof(token));
  return rc;
}
