/*
 * nepnetd: runs a node (discovery, secure channels, Dandelion++, the control API) until SIGTERM
 * or SIGINT, then shuts down cleanly: the API closes, channels send CLOSE records, outbound peers
 * are saved as anchors and the peer store is closed, so a restart rejoins from disk. It is a
 * thin program over the embedding API (nepnet/node.h): options in, nn_node_start, a loop.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "nepnet/nepnet.h"
#include "nepnet/node.h"
#include "app/config.h"
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
  struct event *ev_int, *ev_term;
} daemon_t;

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
  daemon_t *d = arg;
  (void)what;
  if (!d->node)
    return; /* already stopping */
  fprintf(stderr, "nepnetd: %s: shutting down (saving anchors, closing channels and the peer store)\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
  nn_node_stop(d->node); /* CLOSE records go out with the sockets' last data */
  d->node = NULL;
  event_base_loopbreak(d->base);
}

int
main(int argc, char **argv)
{
  nn_conf_t conf;
  daemon_t d;
#ifdef __GLIBC__
  /* Large buffers (messages in reassembly, queued output: up to 8 MiB each) from mmap, always, so
   * that what a closed channel held goes back to the system at once. Left to itself glibc raises
   * its mmap threshold to the size of each freed mmapped block (up to 32 MiB), after which those
   * buffers come from the heap and a burst of them leaves RSS high long after (the hostile
   * suite's partial-message attack: 62 MiB peak for a 32 MiB budget; docs/ARCHITECTURE.md). */
  (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  /* And keep up to 1 MiB free at the top of each heap instead of glibc's 128 KiB: a handshake's
   * ML-DSA signature takes and frees some 100-200 KiB, and trimming it back each time cost every
   * handshake five page faults (and, with worker threads, the TLB shootdowns of giving pages
   * back): 1.7-2.1 ms of CPU per handshake against 1.3 without (bench_listener, --workers 0). At
   * most 1 MiB per heap (one per thread that allocates) stays mapped after a burst. */
  (void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#endif
  nn_error_t err;
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
  if (!(d.base = event_base_new())) {
    fprintf(stderr, "nepnetd: cannot create the event loop\n");
    goto out;
  }
  if (nn_node_start(&d.node, &conf.s, d.base, &err) != NN_OK) {
    fprintf(stderr, "nepnetd: %s\n", err.message);
    goto out;
  }
  d.ev_int = evsignal_new(d.base, SIGINT, on_signal, &d);
  d.ev_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
  if (!d.ev_int || !d.ev_term || event_add(d.ev_int, NULL) || event_add(d.ev_term, NULL)) {
    fprintf(stderr, "nepnetd: cannot install signal handlers\n");
    goto out;
  }
  {
    nn_node_status_t st;
    (void)nn_node_status(d.node, &st);
    printf("nepnetd %s: node %s\n", nn_version(), st.peer[0] ? st.peer : "(hidden)");
    printf("  preset %s, route %s, network %s, datadir %s\n", st.preset, st.route, st.network, conf.datadir);
    if (nn_node_api(d.node))
      printf("  control API http://%s (token in %s%s)\n", nn_api_address(nn_node_api(d.node)),
             conf.s.api_token_file ? conf.s.api_token_file : conf.datadir, conf.s.api_token_file ? "" : "/api.token");
  }
  event_base_dispatch(d.base);
  rc = 0;
out:
  nn_node_stop(d.node);
  if (d.ev_int)
    event_free(d.ev_int);
  if (d.ev_term)
    event_free(d.ev_term);
  if (d.base)
    event_base_free(d.base);
  nn_conf_free(&conf);
  return rc;
}
