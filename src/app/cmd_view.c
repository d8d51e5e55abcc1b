/*
 * `nepnet tx ID`, `nepnet peers` and `nepnet ui`, and the timeline that `nepnet send --follow`
 * prints: the CLI's views of a node through its control API (docs/API.md), plain text that reads
 * over SSH, --json for scripts.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "app/apicmd.h"
#include "app/commands.h"

#define FOLLOW_POLL_MS 200 /* a step shows within this of the node learning it */

static const char tx_usage[] =
  "usage: nepnet [--datadir DIR] tx ID [--timeout S] [--api HOST:PORT] [--token-file FILE] [--json]\n"
  "\n"
  "Show what happened to a transaction submitted at the node whose data directory is DIR\n"
  "(GET /v1/tx/ID), step by step as it happens: the Dandelion++ stem relay it went to, the\n"
  "embargo deadline, the peer that sent it back (the network has it, and another node announced\n"
  "it: your node's part stays hidden), or the embargo that fired (your node broadcast it\n"
  "itself). Hops after the first relay are hidden by design. The node keeps its own\n"
  "transactions for 24 h, in memory only: after a restart it knows none.\n"
  "\n"
  "Exit status says how it ended: 0 propagated, 2 embargoed, 3 direct (route direct: no origin\n"
  "hiding), 4 dropped or refused, 5 still on its way when --timeout ran out, 1 an error (an id\n"
  "the node does not know as its own among them).\n"
  "\n"
  "  --timeout S         how long to wait for the end (default 300 s)\n"
  "  --api HOST:PORT     the node's API address (default: the line in DIR/api.address)\n"
  "  --token-file FILE   the API token file (default DIR/api.token; must be mode 0600)\n"
  "  --json              one JSON object per step as it happens, then the whole timeline\n"
  "  -h, --help          this text\n"
  "\n"
  "DIR is --datadir, else $NEPNET_DATADIR, else ~/.nepnet.\n";

static const char peers_usage[] =
  "usage: nepnet [--datadir DIR] peers [--api HOST:PORT] [--token-file FILE] [--json]\n"
  "\n"
  "List the gossip peers of the node whose data directory is DIR (GET /v1/peers): direction,\n"
  "transport (tcp, relay, punched, turn, tor, i2p), node id, address, age, bytes and Dandelion++\n"
  "stems each way; \"relay\" marks this epoch's stem relays. A count by direction and transport\n"
  "ends the list. Exit status 0 when the node answered.\n"
  "\n"
  "  --api HOST:PORT     the node's API address (default: the line in DIR/api.address)\n"
  "  --token-file FILE   the API token file (default DIR/api.token; must be mode 0600)\n"
  "  --json              print the node's JSON answer\n"
  "  -h, --help          this text\n"
  "\n"
  "DIR is --datadir, else $NEPNET_DATADIR, else ~/.nepnet.\n";

static const char ui_usage[] =
  "usage: nepnet [--datadir DIR] ui [--api HOST:PORT] [--token-file FILE]\n"
  "\n"
  "Print the address of the status page of the node whose data directory is DIR, with the API\n"
  "token in its fragment (http://HOST:PORT/#token=...): open it in a browser on this machine.\n"
  "The part after # never leaves the browser (not sent to the server, not in its history's\n"
  "Referer); the page keeps the token for the tab only. From another machine, forward the port\n"
  "first (ssh -L 9801:127.0.0.1:9801 HOST) and open the address with 127.0.0.1:9801.\n"
  "\n"
  "  --api HOST:PORT     the node's API address (default: the line in DIR/api.address)\n"
  "  --token-file FILE   the API token file (default DIR/api.token; must be mode 0600)\n"
  "  -h, --help          this text\n"
  "\n"
  "DIR is --datadir, else $NEPNET_DATADIR, else ~/.nepnet.\n";

static double
mono_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static double
numv(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : 0;
}

/* "+412 ms" / "+9.4 s" after t0 */
static void
fmt_offset(char *out, size_t n, double ms)
{
  if (ms < 1000)
    snprintf(out, n, "+%.0f ms", ms < 0 ? 0 : ms);
  else
    snprintf(out, n, "+%.1f s", ms / 1000);
}

static void
print_step(json_t *e, json_t *s, double t0)
{
  char off[32], peer[17] = "", line[512];
  const char *what = str(s, "what"), *p = str(s, "peer"), *d = str(s, "detail");
  double t = numv(s, "unix_ms"), emb = numv(e, "embargo_unix_ms");
  size_t n;
  if (p)
    snprintf(peer, sizeof(peer), "%.16s", p);
  fmt_offset(off, sizeof(off), t - t0);
  n = (size_t)snprintf(line, sizeof(line), "  %-9s %-13s", off, what ? what : "?");
  if (what && !strcmp(what, "stem") && p)
    n += (size_t)snprintf(line + n, sizeof(line) - n, " to relay %s", peer);
  else if (what && !strcmp(what, "seen-back") && p)
    n += (size_t)snprintf(line + n, sizeof(line) - n, " from %s", peer);
  else if (p)
    n += (size_t)snprintf(line + n, sizeof(line) - n, " peer %s", peer);
  if (d && n < sizeof(line))
    n += (size_t)snprintf(line + n, sizeof(line) - n, " (%s)", d);
  if (what && !strcmp(what, "stem") && emb > t && n < sizeof(line))
    n += (size_t)snprintf(line + n, sizeof(line) - n, "; embargo in %.1f s", (emb - t) / 1000);
  n = strlen(line);
  while (n && line[n - 1] == ' ')
    line[--n] = 0;
  puts(line);
}

/* How an entry's state ends a follow: the exit status, or -1 while it is under way. */
static int
state_exit(const char *state)
{
  if (!state)
    return -1;
  if (!strcmp(state, "propagated"))
    return 0;
  if (!strcmp(state, "embargoed"))
    return 2;
  if (!strcmp(state, "direct"))
    return 3;
  if (!strcmp(state, "dropped"))
    return 4;
  return -1; /* submitted, stem, mixnet: not seen back yet */
}

static void
print_verdict(const char *state, json_t *e)
{
  char peer[17] = "";
  json_t *steps = json_object_get(e, "steps"), *last = json_array_get(steps, json_array_size(steps) - 1);
  if (last && str(last, "peer"))
    snprintf(peer, sizeof(peer), "%.16s", str(last, "peer"));
  if (!strcmp(state, "propagated"))
    printf("propagated: the network has it, and %s%s announced it, not your node (origin hidden; hops after the "
           "first relay are hidden by design)\n",
           peer[0] ? "peer " : "another node", peer);
  else if (!strcmp(state, "embargoed"))
    printf("embargoed: not seen back in time, so your node broadcast it itself; the network has it, but an "
           "observer may link it to this node\n");
  else if (!strcmp(state, "direct"))
    printf("direct: your node broadcast it at once (route direct: no origin hiding)\n");
  else if (!strcmp(state, "dropped"))
    printf("dropped: %s\n", last && str(last, "detail") ? str(last, "detail") : "it did not leave this node");
  else
    printf("%s: not seen back yet\n", state);
}

int
nepnet_follow_tx(const char *cmd, const char *addr, const char *token, const char *id, unsigned timeout_s, int json)
{
  char path[128];
  size_t shown = 0;
  double start = mono_s();
  int first = 1, rc = 1;

  if (strlen(id) != 64 || strspn(id, "0123456789abcdefABCDEF") != 64) {
    fprintf(stderr, "nepnet %s: %s is not a transaction id (64 hex digits, as nepnet send prints)\n", cmd, id);
    return 1;
  }
  snprintf(path, sizeof(path), "/v1/tx/%s", id);
  for (;;) {
    json_t *e = NULL, *steps;
    int st = 0;
    if (nn_apicmd_get(cmd, addr, token, path, 1, &st, &e)) {
      if (st == 404)
        fprintf(stderr,
                "nepnet %s: the node at %s knows no transaction of its own with id %s (it keeps those submitted "
                "at it for 24 h, in memory: a restart forgets them)\n",
                cmd, addr, id);
      return 1;
    }
    const char *state = str(e, "state");
    double t0 = numv(e, "submitted_unix_ms");
    if (first && !json)
      printf("transaction %.16s... (%.0f bytes), route %s\n", id, numv(e, "len"),
             str(e, "route") ? str(e, "route") : "?");
    first = 0;
    steps = json_object_get(e, "steps");
    for (; shown < json_array_size(steps); shown++) {
      json_t *s = json_array_get(steps, shown);
      if (json) {
        json_t *line = json_pack("{s:s, s:O, s:O, s:O, s:O, s:s?}", "id", id, "unix_ms", json_object_get(s, "unix_ms"),
                                 "what", json_object_get(s, "what"), "peer", json_object_get(s, "peer"), "detail",
                                 json_object_get(s, "detail"), "state", state);
        char *txt = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (txt)
          puts(txt);
        free(txt);
        json_decref(line);
      } else {
        print_step(e, s, t0);
      }
    }
    fflush(stdout);
    int end = state_exit(state);
    if (end >= 0 || mono_s() - start > timeout_s) {
      if (json) {
        char *txt = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (txt)
          puts(txt);
        free(txt);
      } else if (end >= 0) {
        print_verdict(state, e);
      } else {
        printf("still %s after %u s: not seen back yet (nepnet tx %s follows it again)\n", state ? state : "?",
               timeout_s, id);
      }
      rc = end >= 0 ? end : 5;
      json_decref(e);
      break;
    }
    json_decref(e);
    nn_apicmd_sleep_ms(FOLLOW_POLL_MS);
  }
  return rc;
}

int
nepnet_cmd_tx(const char *datadir, int argc, char **argv)
{
  nn_apicmd_opts_t o;
  char addr[320], token[80];
  int rc;
  if ((rc = nn_apicmd_parse("tx", tx_usage, NN_APICMD_TIMEOUT, argc, argv, &o)))
    return rc < 0 ? 0 : rc;
  if (argc - o.argi != 1) {
    fprintf(stderr, "nepnet tx: %s\n\n%s",
            argc - o.argi < 1 ? "which ID? (as nepnet send printed it)" : "one ID at a time", tx_usage);
    return 2;
  }
  if (nn_apicmd_locate("tx", datadir, &o, addr, sizeof(addr), token, sizeof(token)))
    return 1;
  rc = nepnet_follow_tx("tx", addr, token, argv[o.argi], o.timeout_s, o.json);
  OPENSSL_cleanse(token, sizeof(token));
  return rc;
}

int
nepnet_cmd_peers(const char *datadir, int argc, char **argv)
{
  static const char *const paths[] = { "tcp", "relay", "punched", "turn", "tor", "i2p" };
  nn_apicmd_opts_t o;
  char addr[320], token[80];
  json_t *j = NULL, *ps;
  unsigned count[2][7] = { { 0 } };
  int rc, st;
  if ((rc = nn_apicmd_parse("peers", peers_usage, 0, argc, argv, &o)))
    return rc < 0 ? 0 : rc;
  if (argc - o.argi != 0) {
    fprintf(stderr, "nepnet peers: unexpected argument %s\n\n%s", argv[o.argi], peers_usage);
    return 2;
  }
  if (nn_apicmd_locate("peers", datadir, &o, addr, sizeof(addr), token, sizeof(token)))
    return 1;
  rc = nn_apicmd_get("peers", addr, token, "/v1/peers", 0, &st, &j);
  OPENSSL_cleanse(token, sizeof(token));
  if (rc)
    return 1;
  ps = json_object_get(j, "peers");
  if (o.json) {
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
      puts(s);
    free(s);
    json_decref(j);
    return 0;
  }
  printf("%-3s %-7s %-16s %-24s %9s %10s %10s %9s\n", "dir", "path", "node", "address", "age", "in", "out",
         "stems i/o");
  for (size_t i = 0; i < json_array_size(ps); i++) {
    json_t *p = json_array_get(ps, i);
    char age[32], in[32], out[32], stems[32], node[17];
    const char *dir = str(p, "direction"), *path = str(p, "path");
    int d = dir && !strcmp(dir, "out");
    size_t k = 0;
    while (k < 6 && !(path && !strcmp(path, paths[k])))
      k++;
    count[d][k]++;
    snprintf(node, sizeof(node), "%.16s", str(p, "node_id") ? str(p, "node_id") : "(anonymous)");
    nn_apicmd_fmt_duration(age, sizeof(age), numv(p, "since_s"));
    nn_apicmd_fmt_bytes(in, sizeof(in), numv(p, "bytes_in"));
    nn_apicmd_fmt_bytes(out, sizeof(out), numv(p, "bytes_out"));
    snprintf(stems, sizeof(stems), "%.0f/%.0f", numv(p, "stems_in"), numv(p, "stems_out"));
    printf("%-3s %-7s %-16s %-24.24s %9s %10s %10s %9s%s\n", dir ? dir : "?", path ? path : "?", node,
           str(p, "addr") ? str(p, "addr") : "?", age, in, out, stems,
           json_is_true(json_object_get(p, "stem_relay")) ? "  relay" : "");
  }
  for (int d = 1; d >= 0; d--) {
    unsigned total = 0;
    for (size_t k = 0; k < 7; k++)
      total += count[d][k];
    printf("%s %u", d ? "\nout" : "; in", total);
    for (size_t k = 0, first = 1; k < 7; k++)
      if (count[d][k]) {
        printf("%s%s %u", first ? " (" : ", ", k < 6 ? paths[k] : "other", count[d][k]);
        first = 0;
      }
    if (total)
      printf(")");
  }
  printf("\n");
  json_decref(j);
  return 0;
}

int
nepnet_cmd_ui(const char *datadir, int argc, char **argv)
{
  nn_apicmd_opts_t o;
  char addr[320], token[80];
  int rc;
  if ((rc = nn_apicmd_parse("ui", ui_usage, 0, argc, argv, &o)))
    return rc < 0 ? 0 : rc;
  if (argc - o.argi != 0) {
    fprintf(stderr, "nepnet ui: unexpected argument %s\n\n%s", argv[o.argi], ui_usage);
    return 2;
  }
  if (nn_apicmd_locate("ui", datadir, &o, addr, sizeof(addr), token, sizeof(token)))
    return 1;
  printf("http://%s/#token=%s\n", addr, token);
  OPENSSL_cleanse(token, sizeof(token));
  fprintf(stderr, "open it in a browser on this machine; the token after # never leaves the browser\n");
  return 0;
}
