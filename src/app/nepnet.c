/*
 * nepnet: the command line. Identities, the crypto self-test, and a demo of the secure channel
 * over TCP (listen / connect); later issues add the local devnet, the simulator and the
 * control-API client.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "nepnet/channel.h"
#include "nepnet/nepnet.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "transport/tcp.h"
#include "app/commands.h"

#define DEFAULT_BIND "127.0.0.1:9800"

static const char usage[] =
  "usage: nepnet [--datadir DIR] COMMAND [OPTIONS]\n"
  "\n"
  "The post-quantum, mixnet-grade P2P privacy network for Neptune.\n"
  "\n"
  "commands:\n"
  "  selftest   load (or create) the node identity, print it, and run the crypto self-test:\n"
  "             known-answer tests for SHA3, HKDF, AES-256-GCM, X25519, ML-KEM-1024 and\n"
  "             ML-DSA-87, plus hybrid-KEM and signature round trips. Exit status 0 if all pass.\n"
  "  identity   print the node id of DIR/identity.key, creating the identity on first use\n"
  "  version    print the nepnet and OpenSSL versions\n"
  "  listen     accept secure-channel connections and echo every message back:\n"
  "               nepnet listen [--bind HOST:PORT] [--network NET] [--require-identity]\n"
  "             prints this node's address as NODEID@HOST:PORT, then for each connection the\n"
  "             peer's node id (or \"anonymous\") and the negotiated parameters. Runs until\n"
  "             interrupted (SIGINT/SIGTERM).\n"
  "               --bind HOST:PORT     address to listen on (default " DEFAULT_BIND "; port 0\n"
  "                                    picks a free port; IPv6 as [::1]:PORT)\n"
  "               --require-identity   refuse anonymous initiators\n"
  "  connect    connect to a node, print the negotiated parameters, send messages, print the\n"
  "             echoes, close:\n"
  "               nepnet connect NODEID@HOST:PORT [--anonymous] [--network NET]\n"
  "                              [--message TEXT]...\n"
  "             the handshake fails unless the node proves NODEID (as `nepnet identity` prints\n"
  "             it on that node). Without --message, each line of standard input is one\n"
  "             message. Exit status 0 once every echo came back.\n"
  "               --anonymous          do not reveal (or need) an identity to the listener\n"
  "               --message TEXT       a message to send (repeatable)\n"
  "  sim        run a simulation: nepnet sim dht [--nodes N] [--churn F] [--adversaries F]\n"
  "             [--lookups M] [--hours H] [--out DIR] ... (nepnet sim dht --help for all)\n"
  "             nepnet sim dandelion [--nodes N] [--out DIR] ... (first-spy precision/recall)\n"
  "  devnet     local network of nepnetd processes on loopback:\n"
  "               nepnet devnet up N [--dir DIR] [--preset P]   start N nodes, show them join\n"
  "               nepnet devnet demo [N]    start, privately broadcast a transaction, show\n"
  "                                         every node receiving it, stop\n"
  "               nepnet devnet down [--dir DIR]                stop them (SIGTERM)\n"
  "             (nepnet devnet --help for all)\n"
  "  send       nepnet send FILE: submit FILE's bytes as a transaction to the node at --datadir\n"
  "             (through its control API); prints the transaction id and routing mode\n"
  "  status     nepnet status: the status of the node at --datadir (through its control API)\n"
  "  help       this text\n"
  "\n"
  "options:\n"
  "  --datadir DIR  where the node keeps its files (default: $NEPNET_DATADIR, else ~/.nepnet).\n"
  "                 The identity key is DIR/identity.key, mode 0600; nepnet refuses a key file\n"
  "                 that others can read.\n"
  "  --network NET  mainnet (default), testnet or regtest; both sides must use the same one\n"
  "  -h, --help     this text\n";

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

/* Load or create the identity in datadir, explaining any failure with the file and the fix. */
static nn_identity_t *
open_identity(const char *datadir, int verbose)
{
  nn_identity_t *id = NULL;
  size_t plen = strlen(datadir) + 16;
  char *path = malloc(plen), hex[2 * NN_NODE_ID_LEN + 1];
  int created = 0;
  nn_err_t err;

  if (!path)
    return NULL;
  snprintf(path, plen, "%s/identity.key", datadir);
  if ((err = nn_dir_ensure_private(datadir))) {
    fprintf(stderr, "nepnet: cannot create data directory %s: %s (%s); pass --datadir DIR\n",
            datadir, nn_err_str(err), strerror(errno));
    goto out;
  }
  if ((err = nn_identity_load_or_create(path, &id, &created))) {
    fprintf(stderr, "nepnet: key file %s: %s; %s\n", path, nn_err_str(err),
            nn_identity_file_hint(err));
    goto out;
  }
  nn_node_id_to_hex(nn_identity_node_id(id), hex);
  if (verbose > 0) {
    printf("identity   %s (%s)\n", path, created ? "created now" : "loaded");
    printf("node id    %s\n", hex);
    printf("algorithm  ML-DSA-87 (FIPS 204), public key %d bytes; node id = SHA3-256(public key)\n",
           NN_MLDSA_PK_LEN);
  } else if (verbose == 0) {
    printf("%s\n", hex);
  }
out:
  free(path);
  return id;
}

static void
report(void *arg, const char *name, nn_err_t result, double micros)
{
  int *failed = arg;
  printf("  %-52s %s  (%.0f us)\n", name, result ? "FAIL" : "ok  ", micros);
  if (result) {
    printf("    -> %s\n", nn_err_str(result));
    ++*failed;
  }
}

static int
cmd_selftest(const char *datadir)
{
  int failed = 0;
  nn_identity_t *id;
  nn_err_t err;

  printf("nepnet %s on OpenSSL %s\n", nn_version(), nn_openssl_version());
  if (!(id = open_identity(datadir, 1)))
    return 1;
  nn_identity_free(id);
  printf("crypto self-test:\n");
  err = nn_selftest_run(report, &failed);
  if (err == NN_ERR_VERSION) {
    fprintf(stderr, "nepnet: OpenSSL %s is older than 3.5; rebuild with ./bootstrap\n",
            nn_openssl_version());
    return 1;
  }
  printf("%s\n", err ? "self-test FAILED: do not run a node on this build" : "self-test passed");
  return err ? 1 : 0;
}


/* ---- the secure-channel demo: listen / connect ---- */

static int
parse_network(const char *name, uint32_t *out)
{
  if (!strcmp(name, "mainnet"))
    *out = NN_NET_MAINNET;
  else if (!strcmp(name, "testnet"))
    *out = NN_NET_TESTNET;
  else if (!strcmp(name, "regtest"))
    *out = NN_NET_REGTEST;
  else {
    fprintf(stderr, "nepnet: --network %s: expected mainnet, testnet or regtest\n", name);
    return -1;
  }
  return 0;
}

/* HOST:PORT to the numeric form the driver takes; host names are resolved here (blocking is
 * fine in a one-shot command). \a flag names the option in errors. */
static int
resolve(const char *hostport, const char *flag, char *out, size_t n)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  char host[256];
  const char *colon = strrchr(hostport, ':');
  struct addrinfo hints, *res = NULL;
  int rc;

  if (nn_tcp_parse_addr(hostport, &ss, &sl) == NN_OK) {
    snprintf(out, n, "%s", hostport);
    return 0;
  }
  if (!colon || colon == hostport || hostport[0] == '[' || (size_t)(colon - hostport) >= sizeof(host)) {
    fprintf(stderr, "nepnet: %s %s: expected HOST:PORT (IPv6 as [ADDR]:PORT)\n", flag, hostport);
    return -1;
  }
  memcpy(host, hostport, (size_t)(colon - hostport));
  host[colon - hostport] = 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) || !res) {
    fprintf(stderr, "nepnet: %s %s: cannot resolve '%s': %s\n", flag, hostport, host,
            rc ? gai_strerror(rc) : "no address");
    return -1;
  }
  nn_tcp_format_addr(res->ai_addr, out, n);
  freeaddrinfo(res);
  return 0;
}

static void
print_params(const char *pfx, const nn_tcp_conn_t *conn, const nn_chan_info_t *info, int mutual)
{
  char sid[17];
  nn_hex_encode(sid, info->session_id, 8);
  printf("%s  key exchange  hybrid X25519 + ML-KEM-1024 (fresh per connection)\n", pfx);
  printf("%s  signatures    ML-DSA-87, %s\n", pfx,
         mutual ? "both sides authenticated" : "responder only (anonymous initiator)");
  printf("%s  records       AES-256-GCM; rekey every %u records sent, peer every %u\n", pfx,
         info->rekey_interval, info->peer_rekey_interval);
  printf("%s  max message   peer accepts %u bytes\n", pfx, info->peer_max_message);
  printf("%s  handshake     %llu bytes sent, %llu received%s\n", pfx,
         (unsigned long long)info->handshake_bytes_sent,
         (unsigned long long)info->handshake_bytes_received,
         nn_tcp_conn_cookie_round(conn) ? ", with a DoS cookie round" : "");
  printf("%s  session id    %s...\n", pfx, sid);
}

static void
print_text(const uint8_t *msg, size_t len)
{
  size_t show = len > 200 ? 200 : len;
  for (size_t i = 0; i < show; i++)
    putchar(msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '.');
  if (show < len)
    printf("... (%zu bytes)", len);
}

typedef struct listen_state_t {
  struct event_base *base;
  unsigned long next_id;
} listen_state_t;

static unsigned long
conn_number(listen_state_t *ls, nn_tcp_conn_t *conn)
{
  if (!nn_tcp_conn_user(conn))
    nn_tcp_conn_set_user(conn, (void *)(uintptr_t)++ls->next_id);
  return (unsigned long)(uintptr_t)nn_tcp_conn_user(conn);
}

static void
listen_established(void *ctx, nn_tcp_conn_t *conn, const nn_chan_info_t *info)
{
  char hex[2 * NN_NODE_ID_LEN + 1], pfx[32];
  unsigned long n = conn_number(ctx, conn);
  snprintf(pfx, sizeof(pfx), "[%lu]", n);
  if (info->peer_identified)
    nn_node_id_to_hex(&info->peer_id, hex);
  printf("%s connection from %s: peer %s\n", pfx, nn_tcp_conn_peer_addr(conn),
         info->peer_identified ? hex : "anonymous");
  print_params(pfx, conn, info, info->peer_identified);
}

static void
listen_message(void *ctx, nn_tcp_conn_t *conn, const uint8_t *msg, size_t len)
{
  unsigned long n = conn_number(ctx, conn);
  nn_err_t err = nn_tcp_conn_send(conn, msg, len);
  printf("[%lu] message (%zu bytes): ", n, len);
  print_text(msg, len);
  printf(err ? " (echo failed: %s)\n" : " (echoed)\n", nn_err_str(err));
}

static void
listen_closed(void *ctx, nn_tcp_conn_t *conn, nn_close_reason_t reason)
{
  listen_state_t *ls = ctx;
  if (nn_tcp_conn_user(conn))
    printf("[%lu] closed: %s\n", conn_number(ls, conn), nn_tcp_close_reason_str(reason));
  else
    printf("[-] handshake with %s failed: %s\n", nn_tcp_conn_peer_addr(conn),
           nn_tcp_close_reason_str(reason));
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
  (void)sig;
  (void)what;
  event_base_loopbreak(arg);
}

static int
cmd_listen(const char *datadir, int argc, char **argv)
{
  static const struct option opts[] = {
    { "bind", required_argument, NULL, 'b' },
    { "network", required_argument, NULL, 'n' },
    { "require-identity", no_argument, NULL, 'r' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *bind = DEFAULT_BIND, *netname = "mainnet";
  char addr[128], hex[2 * NN_NODE_ID_LEN + 1];
  uint32_t network = NN_NET_MAINNET;
  int c, require_id = 0, rc = 1;
  nn_identity_t *id = NULL;
  struct event_base *base = NULL;
  struct event *sigint = NULL, *sigterm = NULL;
  nn_tcp_listener_t *l = NULL;
  listen_state_t ls = { 0 };
  nn_err_t err;

  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'b': bind = optarg; break;
    case 'n': netname = optarg; if (parse_network(optarg, &network)) return 2; break;
    case 'r': require_id = 1; break;
    case 'h': fputs(usage, stdout); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "nepnet listen: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (resolve(bind, "--bind", addr, sizeof(addr)))
    return 2;
  if (!(id = open_identity(datadir, -1)))
    return 1;
  if (!(base = event_base_new())) {
    fprintf(stderr, "nepnet: cannot create the event loop\n");
    goto out;
  }
  ls.base = base;
  nn_tcp_listener_config_t cfg = {
    .bind = addr,
    .identity = id,
    .require_peer_identity = require_id,
    .chan = { .network = network },
    .cb = { listen_established, listen_message, listen_closed, &ls },
  };
  if ((err = nn_tcp_listener_new(&l, base, &cfg))) {
    fprintf(stderr, "nepnet: --bind %s: cannot listen: %s (%s)%s\n", bind, nn_err_str(err),
            strerror(errno),
            errno == EADDRINUSE ? "; pick another port, or port 0 for a free one" :
            errno == EACCES ? "; ports below 1024 need privileges: pick a port >= 1024" : "");
    goto out;
  }
  sigint = evsignal_new(base, SIGINT, on_signal, base);
  sigterm = evsignal_new(base, SIGTERM, on_signal, base);
  if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL)) {
    fprintf(stderr, "nepnet: cannot install signal handlers\n");
    goto out;
  }
  nn_node_id_to_hex(nn_identity_node_id(id), hex);
  printf("nepnet %s listening on %s (%s%s)\n", nn_version(), nn_tcp_listener_addr(l), netname,
         require_id ? ", identified initiators only" : "");
  printf("node address  %s@%s\n", hex, nn_tcp_listener_addr(l));
  if (!strncmp(addr, "0.0.0.0:", 8) || !strncmp(addr, "[::]:", 5))
    printf("(all interfaces: peers connect to this host's address with the port above)\n");
  event_base_dispatch(base);
  const nn_tcp_stats_t *st = nn_tcp_listener_stats(l);
  printf("stopped: %llu connections accepted, %llu handshakes completed\n",
         (unsigned long long)st->accepted, (unsigned long long)st->handshakes);
  rc = 0;
out:
  nn_tcp_listener_free(l);
  if (sigint)
    event_free(sigint);
  if (sigterm)
    event_free(sigterm);
  if (base)
    event_base_free(base);
  nn_identity_free(id);
  return rc;
}

typedef struct client_t {
  nn_tcp_conn_t *conn;
  char **msgs;
  int nmsgs, next, from_stdin, done, established, failed, anonymous;
  const char *addr, *target;
  char expected_hex[2 * NN_NODE_ID_LEN + 1];
  char *line;
  size_t line_cap;
} client_t;

/* Send the next message (lock-step: one echo at a time), or close when there is none. */
static void
client_next(client_t *cl)
{
  const char *msg = NULL;
  if (cl->from_stdin) {
    ssize_t n = getline(&cl->line, &cl->line_cap, stdin);
    if (n >= 0) {
      if (n > 0 && cl->line[n - 1] == '\n')
        cl->line[--n] = 0;
      msg = cl->line;
    }
  } else if (cl->next < cl->nmsgs) {
    msg = cl->msgs[cl->next++];
  }
  if (!msg) {
    cl->done = 1;
    nn_tcp_conn_close(cl->conn);
    return;
  }
  nn_err_t err = nn_tcp_conn_send(cl->conn, (const uint8_t *)msg, strlen(msg));
  if (err) {
    fprintf(stderr, "nepnet: sending to %s failed: %s\n", cl->target, nn_err_str(err));
    cl->failed = 1;
    nn_tcp_conn_close(cl->conn);
  }
}

static void
client_established(void *ctx, nn_tcp_conn_t *conn, const nn_chan_info_t *info)
{
  client_t *cl = ctx;
  char hex[2 * NN_NODE_ID_LEN + 1];
  cl->established = 1;
  nn_node_id_to_hex(&info->peer_id, hex);
  printf("connected to %s: peer %s\n", cl->addr, hex);
  print_params("", conn, info, !cl->anonymous);
  client_next(cl);
}

static void
client_message(void *ctx, nn_tcp_conn_t *conn, const uint8_t *msg, size_t len)
{
  client_t *cl = ctx;
  (void)conn;
  printf("echo: ");
  print_text(msg, len);
  printf("\n");
  fflush(stdout);
  client_next(cl);
}

static void
client_closed(void *ctx, nn_tcp_conn_t *conn, nn_close_reason_t reason)
{
  client_t *cl = ctx;
  int e = nn_tcp_conn_errno(conn);
  if (cl->done && reason == NN_CLOSE_LOCAL)
    return; /* all echoes back, we closed: success */
  cl->failed = 1;
  if (cl->established) {
    fprintf(stderr, "nepnet: connection to %s closed before all echoes came back: %s%s%s\n",
            cl->target, nn_tcp_close_reason_str(reason), e ? ": " : "", e ? strerror(e) : "");
    return;
  }
  fprintf(stderr, "nepnet: connect to %s (expected node id %s) failed: %s%s%s\n", cl->addr,
          cl->expected_hex, nn_tcp_close_reason_str(reason), e ? ": " : "", e ? strerror(e) : "");
  switch ((int)reason) {
  case NN_CLOSE_WRONG_ID:
    fprintf(stderr, "  the node at %s is not %s: check the node id (`nepnet identity` on that "
                    "node prints it) and the address\n", cl->addr, cl->expected_hex);
    break;
  case NN_CLOSE_AUTH:
    fprintf(stderr, "  check --network: both sides must use the same network\n");
    break;
  case NN_CLOSE_ID_REQUIRED:
    fprintf(stderr, "  the node requires an identified initiator: connect without --anonymous\n");
    break;
  case NN_CLOSE_TIMEOUT:
    fprintf(stderr, "  no complete handshake in time: check the address, the port and firewalls\n");
    break;
  case 34: /* NN_TCP_CLOSE_CONNECT */
    fprintf(stderr, "  is `nepnet listen` running at %s?\n", cl->addr);
    break;
  case 32: /* NN_TCP_CLOSE_EOF */
    fprintf(stderr, "  the listener dropped the connection: it may be overloaded, limit this "
                    "address, or run another network (--network)\n");
    break;
  default:
    break;
  }
}

static int
cmd_connect(const char *datadir, int argc, char **argv)
{
  static const struct option opts[] = {
    { "anonymous", no_argument, NULL, 'a' },
    { "network", required_argument, NULL, 'n' },
    { "message", required_argument, NULL, 'm' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  uint32_t network = NN_NET_MAINNET;
  int c, anonymous = 0, rc = 1;
  char addr[128], idhex[2 * NN_NODE_ID_LEN + 1];
  const char *target = NULL, *at;
  nn_node_id_t expected;
  nn_identity_t *id = NULL;
  struct event_base *base = NULL;
  client_t cl;
  nn_err_t err;

  memset(&cl, 0, sizeof(cl));
  if (!(cl.msgs = calloc((size_t)argc, sizeof(char *))))
    return 1;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'a': anonymous = 1; break;
    case 'n': if (parse_network(optarg, &network)) { rc = 2; goto out; } break;
    case 'm': cl.msgs[cl.nmsgs++] = optarg; break;
    case 'h': fputs(usage, stdout); rc = 0; goto out;
    default: fputs(usage, stderr); rc = 2; goto out;
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "nepnet connect: expected one NODEID@HOST:PORT (see nepnet --help)\n");
    rc = 2;
    goto out;
  }
  target = argv[optind];
  if (!(at = strchr(target, '@')) || (size_t)(at - target) != 2 * NN_NODE_ID_LEN) {
    fprintf(stderr, "nepnet connect: '%s' is not NODEID@HOST:PORT (NODEID: the 64 hex digits "
                    "`nepnet identity` prints on that node)\n", target);
    rc = 2;
    goto out;
  }
  memcpy(idhex, target, 2 * NN_NODE_ID_LEN);
  idhex[2 * NN_NODE_ID_LEN] = 0;
  if (nn_hex_decode(expected.b, NN_NODE_ID_LEN, idhex)) {
    fprintf(stderr, "nepnet connect: node id '%s' is not 64 hex digits\n", idhex);
    rc = 2;
    goto out;
  }
  if (resolve(at + 1, "connect", addr, sizeof(addr))) {
    rc = 2;
    goto out;
  }
  if (!anonymous && !(id = open_identity(datadir, -1)))
    goto out;
  if (!(base = event_base_new())) {
    fprintf(stderr, "nepnet: cannot create the event loop\n");
    goto out;
  }
  cl.addr = addr;
  cl.target = target;
  cl.from_stdin = cl.nmsgs == 0;
  cl.anonymous = anonymous;
  nn_hex_encode(cl.expected_hex, expected.b, NN_NODE_ID_LEN);
  if (id) {
    char me[2 * NN_NODE_ID_LEN + 1];
    nn_node_id_to_hex(nn_identity_node_id(id), me);
    printf("this node     %s\n", me);
  } else {
    printf("this node     anonymous\n");
  }
  nn_tcp_conn_config_t cfg = {
    .identity = id,
    .expected_peer = &expected,
    .chan = { .network = network },
    .cb = { client_established, client_message, client_closed, &cl },
  };
  if ((err = nn_tcp_connect(&cl.conn, base, addr, &cfg))) {
    fprintf(stderr, "nepnet: connect to %s: %s (%s)\n", addr, nn_err_str(err), strerror(errno));
    goto out;
  }
  /* Returns when the connection is gone (CLOSE record flushed, or failure). */
  event_base_dispatch(base);
  rc = cl.failed || !cl.done ? 1 : 0;
out:
  if (base)
    event_base_free(base);
  nn_identity_free(id);
  free(cl.line);
  free(cl.msgs);
  return rc;
}

int
main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "datadir", required_argument, NULL, 'd' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  char *datadir = NULL;
  const char *cmd;
  int c, rc = 2;

  while ((c = getopt_long(argc, argv, "+hd:", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      free(datadir);
      datadir = strdup(optarg);
      break;
    case 'h':
      fputs(usage, stdout);
      free(datadir);
      return 0;
    default:
      fputs(usage, stderr);
      free(datadir);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "nepnet: missing COMMAND\n\n%s", usage);
    free(datadir);
    return 2;
  }
  cmd = argv[optind];
  if (!datadir && !(datadir = default_datadir())) {
    fprintf(stderr, "nepnet: out of memory\n");
    return 1;
  }
  if (!strcmp(cmd, "selftest")) {
    rc = cmd_selftest(datadir);
  } else if (!strcmp(cmd, "identity")) {
    nn_identity_t *id = open_identity(datadir, 0);
    rc = id ? 0 : 1;
    nn_identity_free(id);
  } else if (!strcmp(cmd, "version")) {
    printf("nepnet %s\nOpenSSL %s\n", nn_version(), nn_openssl_version());
    rc = 0;
  } else if (!strcmp(cmd, "listen")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = cmd_listen(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "connect")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = cmd_connect(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "sim")) {
    rc = nepnet_cmd_sim(argc - optind, argv + optind);
  } else if (!strcmp(cmd, "send")) {
    rc = nepnet_cmd_send(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "status")) {
    rc = nepnet_cmd_status(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "devnet")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = nepnet_cmd_devnet(argv[0], argc - optind, argv + optind);
  } else if (!strcmp(cmd, "help")) {
    fputs(usage, stdout);
    rc = 0;
  } else {
    fprintf(stderr, "nepnet: unknown command '%s'\n\n%s", cmd, usage);
  }
  free(datadir);
  return rc;
}
