/*
 * `nepnet listen` and `nepnet connect`: the post-quantum secure channel, shown end to end over
 * the connection manager. The listener echoes every message back; messages travel under the
 * local-tools message kind (NN_KIND_LOCAL_FIRST), which the demo's tenant registers.
 */
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
#include "app/commands.h"
#include "lib/hex.h"
#include "net/kinds.h"
#include "net/net.h"
#include "net/tcp.h"

#define ECHO_KIND NN_KIND_LOCAL_FIRST

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

/* HOST:PORT to an address; host names are resolved here (blocking is fine in a one-shot
 * command). \a flag names the option in errors. */
static int
resolve(const char *hostport, const char *flag, nn_addr_t *out)
{
  char host[256];
  const char *colon = strrchr(hostport, ':');
  struct addrinfo hints, *res = NULL;
  int rc;

  if (nn_addr_parse(out, hostport) == NN_OK)
    return 0;
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
  rc = nn_addr_from_sockaddr(res->ai_addr, out) ? 0 : -1;
  freeaddrinfo(res);
  return rc;
}

static void
print_params(const char *pfx, const nn_net_conn_info_t *c, int mutual)
{
  const nn_chan_info_t *info = c->chan;
  char sid[17];
  nn_hex_encode(sid, info->session_id, 8);
  printf("%s  key exchange  hybrid X25519 + ML-KEM-1024 (fresh per connection)\n", pfx);
  printf("%s  signatures    ML-DSA-87, %s\n", pfx,
         mutual ? "both sides authenticated" : "responder only (anonymous initiator)");
  printf("%s  records       AES-256-GCM; rekey every %u records sent, peer every %u\n", pfx, info->rekey_interval,
         info->peer_rekey_interval);
  printf("%s  max message   peer accepts %u bytes\n", pfx, info->peer_max_message);
  printf("%s  handshake     %llu bytes sent, %llu received%s\n", pfx, (unsigned long long)info->handshake_bytes_sent,
         (unsigned long long)info->handshake_bytes_received, c->cookie_round ? ", with a DoS cookie round" : "");
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

static nn_net_t *
make_net(struct event_base *base, const nn_identity_t *id, uint32_t network, int require_id, const nn_log_t *log)
{
  nn_net_cfg_t cfg;
  nn_net_t *n = NULL;
  nn_transport_t *t = NULL;
  nn_net_cfg_default(&cfg);
  cfg.identity = id;
  cfg.anonymous = !id;
  cfg.network = network;
  cfg.require_peer_identity = require_id;
  cfg.log = log;
  if (nn_net_new(&n, base, &cfg) || nn_tcp_transport_new(&t, base, NULL) || nn_net_add_transport(n, t)) {
    fprintf(stderr, "nepnet: cannot start the connection manager (out of memory)\n");
    nn_net_free(n);
    return NULL;
  }
  return n;
}

/* ---- listen ---- */

typedef struct listener_t {
  nn_net_t *net;
} listener_t;

static void
listen_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *c)
{
  char hex[2 * NN_NODE_ID_LEN + 1], pfx[32], a[NN_ADDR_STR_MAX];
  (void)ctx;
  if (!c->inbound)
    return;
  snprintf(pfx, sizeof(pfx), "[%llu]", (unsigned long long)conn);
  if (c->chan->peer_identified)
    nn_node_id_to_hex(&c->chan->peer_id, hex);
  nn_addr_format(&c->addr, a);
  printf("%s connection from %s: peer %s\n", pfx, a, c->chan->peer_identified ? hex : "anonymous");
  print_params(pfx, c, c->chan->peer_identified);
}

static void
listen_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  listener_t *l = ctx;
  nn_err_t err = nn_net_send(l->net, conn, msg, len);
  printf("[%llu] message (%zu bytes): ", (unsigned long long)conn, len - 1);
  print_text(msg + 1, len - 1);
  printf(err ? " (echo failed: %s)\n" : " (echoed)\n", nn_err_str(err));
}

static void
listen_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *c)
{
  (void)ctx;
  printf("[%llu] closed: %s\n", (unsigned long long)conn, nn_net_close_reason_str(c->reason));
}

/* The manager tells of handshakes that failed in its debug log; the demo shows those. */
static void
listen_log(void *ctx, int level, const char *module, const char *line)
{
  (void)ctx;
  if (!strcmp(module, "net") && strstr(line, "(never established)"))
    printf("[-] %s\n", line);
  else if (level >= NN_LOG_INFO)
    fprintf(stderr, "nepnet %s: %s\n", module, line);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
  (void)sig;
  (void)what;
  event_base_loopbreak(arg);
}

static int
run_listener(struct event_base *base, nn_net_t *net, const char *bind, const char *netname, int require_id,
             const nn_identity_t *id)
{
  char hex[2 * NN_NODE_ID_LEN + 1], a[NN_ADDR_STR_MAX], why[300];
  nn_addr_t at;
  struct event *sigint = evsignal_new(base, SIGINT, on_signal, base),
               *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
  int rc = 1;
  if (nn_net_listen(net, "tcp", bind, &at, why, sizeof(why))) {
    fprintf(stderr, "nepnet: --bind %s: %s%s\n", bind, why,
            errno == EADDRINUSE ? "; pick another port, or port 0 for a free one"
            : errno == EACCES   ? "; ports below 1024 need privileges: pick a port >= 1024"
                                : "");
    goto out;
  }
  if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL)) {
    fprintf(stderr, "nepnet: cannot install signal handlers\n");
    goto out;
  }
  nn_node_id_to_hex(nn_identity_node_id(id), hex);
  nn_addr_format(&at, a);
  printf("nepnet %s listening on %s (%s%s)\n", nn_version(), a, netname,
         require_id ? ", identified initiators only" : "");
  printf("node address  %s@%s\n", hex, a);
  if (nn_addr_is_any(&at))
    printf("(all interfaces: peers connect to this host's address with the port above)\n");
  event_base_dispatch(base);
  const nn_net_stats_t *st = nn_net_stats(net);
  printf("stopped: %llu connections accepted, %llu handshakes completed\n", (unsigned long long)st->accepted,
         (unsigned long long)st->handshakes);
  rc = 0;
out:
  if (sigint)
    event_free(sigint);
  if (sigterm)
    event_free(sigterm);
  return rc;
}

int
nepnet_cmd_listen(const char *datadir, int argc, char **argv)
{
  static const struct option opts[] = {
    { "bind", required_argument, NULL, 'b' },
    { "network", required_argument, NULL, 'n' },
    { "require-identity", no_argument, NULL, 'r' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *bind = NEPNET_DEFAULT_BIND, *netname = "mainnet";
  uint32_t network = NN_NET_MAINNET;
  int c, require_id = 0, rc = 1;
  nn_identity_t *id = NULL;
  struct event_base *base = NULL;
  listener_t l = { 0 };
  nn_log_t log = { listen_log, NULL, NN_LOG_DEBUG, "" };
  nn_addr_t at;

  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'b': bind = optarg; break;
    case 'n':
      netname = optarg;
      if (parse_network(optarg, &network))
        return 2;
      break;
    case 'r': require_id = 1; break;
    case 'h': fputs(nepnet_usage, stdout); return 0;
    default: fputs(nepnet_usage, stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "nepnet listen: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (resolve(bind, "--bind", &at))
    return 2;
  if (!(id = nepnet_open_identity(datadir, -1)))
    return 1;
  if (!(base = event_base_new()) || !(l.net = make_net(base, id, network, require_id, &log)))
    goto out;
  nn_net_proto_t p = { "echo", ECHO_KIND, ECHO_KIND, listen_up, listen_message, listen_down, &l, NULL };
  char bound[NN_ADDR_STR_MAX];
  nn_addr_format(&at, bound);
  if (nn_net_register(l.net, &p, NULL) == NN_OK)
    rc = run_listener(base, l.net, bound, netname, require_id, id);
out:
  nn_net_free(l.net);
  if (base)
    event_base_free(base);
  nn_identity_free(id);
  return rc;
}

/* ---- connect ---- */

typedef struct client_t {
  nn_net_t *net;
  struct event_base *base;
  uint64_t conn;
  char **msgs;
  int nmsgs, next, from_stdin, done, established, failed, anonymous;
  const char *target;
  char addr[NN_ADDR_STR_MAX];
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
    nn_net_close(cl->net, cl->conn, 0);
    return;
  }
  size_t len = strlen(msg);
  uint8_t *m = malloc(len + 1);
  nn_err_t err = NN_ERR_NOMEM;
  if (m) {
    m[0] = ECHO_KIND;
    memcpy(m + 1, msg, len);
    err = nn_net_send(cl->net, cl->conn, m, len + 1);
    free(m);
  }
  if (err) {
    fprintf(stderr, "nepnet: sending to %s failed: %s\n", cl->target, nn_err_str(err));
    cl->failed = 1;
    nn_net_close(cl->net, cl->conn, 0);
  }
}

static void
client_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *c)
{
  client_t *cl = ctx;
  char hex[2 * NN_NODE_ID_LEN + 1];
  if (conn != cl->conn)
    return;
  cl->established = 1;
  nn_node_id_to_hex(&c->chan->peer_id, hex);
  printf("connected to %s: peer %s\n", cl->addr, hex);
  print_params("", c, !cl->anonymous);
  client_next(cl);
}

static void
client_message(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  client_t *cl = ctx;
  (void)conn;
  printf("echo: ");
  print_text(msg + 1, len - 1);
  printf("\n");
  fflush(stdout);
  client_next(cl);
}

static void
explain_failure(const client_t *cl, nn_close_reason_t reason)
{
  switch ((int)reason) {
  case NN_CLOSE_WRONG_ID:
    fprintf(stderr,
            "  the node at %s is not %s: check the node id (`nepnet identity` on that node prints it) and "
            "the address\n",
            cl->addr, cl->expected_hex);
    break;
  case NN_CLOSE_AUTH: fprintf(stderr, "  check --network: both sides must use the same network\n"); break;
  case NN_CLOSE_ID_REQUIRED:
    fprintf(stderr, "  the node requires an identified initiator: connect without --anonymous\n");
    break;
  case NN_CLOSE_TIMEOUT:
    fprintf(stderr, "  no complete handshake in time: check the address, the port and firewalls\n");
    break;
  case NN_NET_CLOSE_CONNECT: fprintf(stderr, "  is `nepnet listen` running at %s?\n", cl->addr); break;
  case NN_NET_CLOSE_EOF:
    fprintf(stderr, "  the listener dropped the connection: it may be overloaded, limit this address, or run another "
                    "network (--network)\n");
    break;
  default: break;
  }
}

static void
client_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *c)
{
  client_t *cl = ctx;
  int e = c->sys_errno;
  if (conn != cl->conn)
    return;
  event_base_loopbreak(cl->base);
  if (cl->done && c->reason == NN_CLOSE_LOCAL)
    return; /* all echoes back, we closed: success */
  cl->failed = 1;
  if (cl->established) {
    fprintf(stderr, "nepnet: connection to %s closed before all echoes came back: %s%s%s\n", cl->target,
            nn_net_close_reason_str(c->reason), e ? ": " : "", e ? strerror(e) : "");
    return;
  }
  fprintf(stderr, "nepnet: connect to %s (expected node id %s) failed: %s%s%s\n", cl->addr, cl->expected_hex,
          nn_net_close_reason_str(c->reason), e ? ": " : "", e ? strerror(e) : "");
  explain_failure(cl, c->reason);
}

/* NODEID@HOST:PORT into the expected id and the address; 2 (and a message) if malformed. */
static int
parse_target(const char *target, nn_node_id_t *expected, nn_addr_t *to)
{
  char idhex[2 * NN_NODE_ID_LEN + 1];
  const char *at = strchr(target, '@');
  if (!at || (size_t)(at - target) != 2 * NN_NODE_ID_LEN) {
    fprintf(stderr,
            "nepnet connect: '%s' is not NODEID@HOST:PORT (NODEID: the 64 hex digits `nepnet identity` "
            "prints on that node)\n",
            target);
    return 2;
  }
  memcpy(idhex, target, 2 * NN_NODE_ID_LEN);
  idhex[2 * NN_NODE_ID_LEN] = 0;
  if (nn_hex_decode(expected->b, NN_NODE_ID_LEN, idhex)) {
    fprintf(stderr, "nepnet connect: node id '%s' is not 64 hex digits\n", idhex);
    return 2;
  }
  return resolve(at + 1, "connect", to) ? 2 : 0;
}

int
nepnet_cmd_connect(const char *datadir, int argc, char **argv)
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
  nn_node_id_t expected;
  nn_addr_t to;
  nn_identity_t *id = NULL;
  client_t cl;
  nn_err_t err;

  memset(&cl, 0, sizeof(cl));
  if (!(cl.msgs = calloc((size_t)argc, sizeof(char *))))
    return 1;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'a': anonymous = 1; break;
    case 'n':
      if (parse_network(optarg, &network)) {
        rc = 2;
        goto out;
      }
      break;
    case 'm': cl.msgs[cl.nmsgs++] = optarg; break;
    case 'h':
      fputs(nepnet_usage, stdout);
      rc = 0;
      goto out;
    default:
      fputs(nepnet_usage, stderr);
      rc = 2;
      goto out;
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "nepnet connect: expected one NODEID@HOST:PORT (see nepnet --help)\n");
    rc = 2;
    goto out;
  }
  cl.target = argv[optind];
  if ((rc = parse_target(cl.target, &expected, &to)))
    goto out;
  rc = 1;
  if (!anonymous && !(id = nepnet_open_identity(datadir, -1)))
    goto out;
  if (!(cl.base = event_base_new()) || !(cl.net = make_net(cl.base, id, network, 0, NULL)))
    goto out;
  nn_addr_format(&to, cl.addr);
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
  nn_net_proto_t p = { "echo", ECHO_KIND, ECHO_KIND, client_up, client_message, client_down, &cl, NULL };
  int h = 0;
  if ((err = nn_net_register(cl.net, &p, &h)) || (err = nn_net_dial(cl.net, h, &to, &expected, &cl.conn))) {
    fprintf(stderr, "nepnet: connect to %s: %s%s%s\n", cl.addr, nn_err_str(err), err == NN_ERR_IO ? ": " : "",
            err == NN_ERR_IO ? strerror(errno) : "");
    goto out;
  }
  /* Returns when the channel is gone (closed after the echoes, or failed). */
  event_base_dispatch(cl.base);
  rc = cl.failed || !cl.done ? 1 : 0;
out:
  nn_net_free(cl.net); /* flushes our CLOSE record */
  if (cl.base)
    event_base_free(cl.base);
  nn_identity_free(id);
  free(cl.line);
  free(cl.msgs);
  return rc;
}
