/*
 * nepnetd: runs a node (discovery, secure channels, Dandelion++, the control API) until SIGTERM
 * or SIGINT, then shuts down cleanly: the API closes, channels send CLOSE records, outbound peers
 * are saved as anchors and the peer store is closed, so a restart rejoins from disk.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "nepnet/nepnet.h"
#include "lib/file.h"
#include "node/config.h"
#include "node/node.h"

static const char usage[] =
  "usage: nepnetd [--datadir DIR] [--config FILE] [--preset fast|balanced|private] [OPTIONS]\n"
  "\n"
  "Runs a nepnet node: Kademlia discovery over post-quantum secure channels, Dandelion++\n"
  "private broadcast of transactions, and a control API on loopback for neptune-core or a\n"
  "wallet (docs/API.md). Stops cleanly on SIGTERM or SIGINT.\n"
  "\n"
  "  --datadir DIR        identity.key, peers.sqlite, api.token, api.address and nepnetd.conf\n"
  "                       live here (default: $NEPNET_DATADIR, else ~/.nepnet)\n"
  "  --config FILE        settings file (default DATADIR/nepnetd.conf, if present): one\n"
  "                       'name = value' per line, names as the options below without '--'\n"
  "  --print-config       print the effective settings (preset < file < flags) and exit\n"
  "  -h, --help           this text\n"
  "\n";

typedef struct daemon_t {
  struct event_base *base;
  nn_node_t *node;
  struct event *ev_int, *ev_term, *ev_exit;
  uint32_t linger_ms;
} daemon_t;

static void
on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
  daemon_t *d = arg;
  (void)fd;
  (void)what;
  event_base_loopbreak(d->base);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
  daemon_t *d = arg;
  (void)what;
  if (!d->node)
    return; /* already stopping */
  fprintf(stderr, "nepnetd: %s: shutting down (saving anchors, closing channels and the peer store)\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
  nn_node_free(d->node);
  d->node = NULL;
  /* lingering sockets flush their CLOSE records from the loop */
  struct timeval tv = { (time_t)(d->linger_ms / 1000), (suseconds_t)(d->linger_ms % 1000) * 1000 + 100000 };
  evtimer_add(d->ev_exit, &tv);
}

static nn_identity_t *
open_identity(const char *datadir)
{
  nn_identity_t *id = NULL;
  size_t plen = strlen(datadir) + 16;
  char *path = malloc(plen);
  int created = 0;
  nn_err_t err;
  if (!path)
    return NULL;
  snprintf(path, plen, "%s/identity.key", datadir);
  if ((err = nn_dir_ensure_private(datadir)))
    fprintf(stderr, "nepnetd: cannot create data directory %s: %s (%s); pass --datadir DIR\n", datadir,
            nn_err_str(err), strerror(errno));
  else if ((err = nn_identity_load_or_create(path, &id, &created)))
    fprintf(stderr, "nepnetd: key file %s: %s; %s\n", path, nn_err_str(err), nn_identity_file_hint(err));
  free(path);
  return id;
}

static const char *
net_name(uint32_t n)
{
  return n == NN_NET_TESTNET ? "testnet" : n == NN_NET_REGTEST ? "regtest" : "mainnet";
}

int
main(int argc, char **argv)
{
  nn_conf_t conf;
  daemon_t d;
  nn_identity_t *id = NULL;
  char why[512];
  int rc = 1, r;

  memset(&d, 0, sizeof(d));
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  nn_conf_init(&conf);
  r = nn_conf_parse_args(&conf, argc, argv, why, sizeof(why));
  if (r == 1) {
    fputs(usage, stdout);
    nn_conf_help(stdout);
    rc = 0;
    goto out;
  }
  if (r < 0) {
    fprintf(stderr, "nepnetd: %s\n", why[0] ? why : "out of memory");
    rc = 2;
    goto out;
  }
  if (r == 2) {
    nn_conf_print(&conf, stdout);
    rc = 0;
    goto out;
  }
  if (nn_selftest_run(NULL, NULL) != NN_OK) {
    fprintf(stderr, "nepnetd: the crypto self-test failed (nepnet selftest shows which part); not starting\n");
    goto out;
  }
  if (!(id = open_identity(conf.datadir)))
    goto out;
  if (!(d.base = event_base_new())) {
    fprintf(stderr, "nepnetd: cannot create the event loop\n");
    goto out;
  }
  if (nn_node_new(&d.node, d.base, id, conf.network, conf.datadir, &conf.node, why, sizeof(why)) != NN_OK) {
    fprintf(stderr, "nepnetd: %s\n", why);
    goto out;
  }
  d.linger_ms = conf.node.disco.linger_ms ? conf.node.disco.linger_ms : 2000;
  d.ev_int = evsignal_new(d.base, SIGINT, on_signal, &d);
  d.ev_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
  d.ev_exit = evtimer_new(d.base, on_exit_timer, &d);
  if (!d.ev_int || !d.ev_term || !d.ev_exit || event_add(d.ev_int, NULL) || event_add(d.ev_term, NULL)) {
    fprintf(stderr, "nepnetd: cannot install signal handlers\n");
    goto out;
  }
  {
    char peer[400];
    nn_disco_peer_string(nn_node_disco(d.node), peer, sizeof(peer));
    printf("nepnetd %s: node %s\n", nn_version(), peer[0] ? peer : "(hidden)");
    printf("  preset %s, route %s, network %s, datadir %s\n", conf.preset,
           nn_dl_route_str(conf.node.dl.route), net_name(conf.network), conf.datadir);
    if (nn_node_api(d.node))
      printf("  control API http://%s (token in %s%s)\n", nn_api_address(nn_node_api(d.node)),
             conf.api_token_file ? conf.api_token_file : conf.datadir, conf.api_token_file ? "" : "/api.token");
  }
  event_base_dispatch(d.base);
  rc = 0;
out:
  nn_node_free(d.node);
  if (d.ev_int) event_free(d.ev_int);
  if (d.ev_term) event_free(d.ev_term);
  if (d.ev_exit) event_free(d.ev_exit);
  if (d.base) event_base_free(d.base);
  nn_identity_free(id);
  nn_conf_free(&conf);
  return rc;
}
