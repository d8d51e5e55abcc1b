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
#include "app/commands.h"
#include "app/config.h"

const char nepnet_usage[] =
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
  "               --bind HOST:PORT     address to listen on (default " NEPNET_DEFAULT_BIND "; port 0\n"
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
  "             nepnet sim mixnet [--out DIR] ... (sender anonymity through the mixnet)\n"
  "  nat        what NAT is in front of this host, and a STUN server (nepnet nat --help):\n"
  "               nepnet nat discover --server HOST:PORT   RFC 5780 mapping and filtering\n"
  "               nepnet nat stun-server --listen HOST:PORT [--alt HOST:PORT]\n"
  "  devnet     local network of nepnetd processes on loopback:\n"
  "               nepnet devnet up N [--dir DIR] [--preset P]   start N nodes, show them join\n"
  "               nepnet devnet demo [N]    start, privately broadcast a transaction, show\n"
  "                                         every node receiving it, stop\n"
  "               nepnet devnet down [--dir DIR]                stop them (SIGTERM)\n"
  "             (nepnet devnet --help for all)\n"
  "  send       nepnet send FILE [--follow]: submit FILE's bytes as a transaction to the node at\n"
  "             --datadir (through its control API); prints the transaction id and routing mode,\n"
  "             with --follow its timeline too (stem relay, embargo, seen back) until it ends\n"
  "  tx         nepnet tx ID: the timeline of a transaction submitted at the node, as it happens;\n"
  "             the exit status says how it ended (0 propagated, 2 embargoed, 3 direct...)\n"
  "  status     nepnet status [--watch]: the status of the node at --datadir (its control API)\n"
  "  peers      nepnet peers: the node's gossip peers by direction and transport\n"
  "  ui         nepnet ui: the address of the node's status page (open it in a browser)\n"
  "  help       this text\n"
  "\n"
  "options:\n"
  "  --datadir DIR  where the node keeps its files (default: $NEPNET_DATADIR, else ~/.nepnet).\n"
  "                 The identity key is DIR/identity.key, mode 0600; nepnet refuses a key file\n"
  "                 that others can read.\n"
  "  --network NET  mainnet (default), testnet or regtest; both sides must use the same one\n"
  "  --version      the version, the git commit it was built from, and OpenSSL's\n"
  "  -h, --help     this text\n";

/* Load or create the identity in datadir, explaining any failure with the file and the fix. */
nn_identity_t *
nepnet_open_identity(const char *datadir, int verbose)
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
    fprintf(stderr, "nepnet: cannot create data directory %s: %s (%s); pass --datadir DIR\n", datadir, nn_err_str(err),
            strerror(errno));
    goto out;
  }
  if ((err = nn_identity_load_or_create(path, &id, &created))) {
    fprintf(stderr, "nepnet: key file %s: %s; %s\n", path, nn_err_str(err), nn_identity_file_hint(err));
    goto out;
  }
  nn_node_id_to_hex(nn_identity_node_id(id), hex);
  if (verbose > 0) {
    printf("identity   %s (%s)\n", path, created ? "created now" : "loaded");
    printf("node id    %s\n", hex);
    printf("algorithm  ML-DSA-87 (FIPS 204), public key %d bytes; node id = SHA3-256(public key)\n", NN_MLDSA_PK_LEN);
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
  if (!(id = nepnet_open_identity(datadir, 1)))
    return 1;
  nn_identity_free(id);
  printf("crypto self-test:\n");
  err = nn_selftest_run(report, &failed);
  if (err == NN_ERR_VERSION) {
    fprintf(stderr, "nepnet: OpenSSL %s is older than 3.5; rebuild with ./bootstrap\n", nn_openssl_version());
    return 1;
  }
  printf("%s\n", err ? "self-test FAILED: do not run a node on this build" : "self-test passed");
  return err ? 1 : 0;
}

static void
print_version(void)
{
  printf("nepnet %s%s%s%s\nOpenSSL %s\n", nn_version(), nn_version_commit()[0] ? " (git " : "", nn_version_commit(),
         nn_version_commit()[0] ? ")" : "", nn_openssl_version());
}

int
main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "datadir", required_argument, NULL, 'd' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
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
      fputs(nepnet_usage, stdout);
      free(datadir);
      return 0;
    case 'V':
      print_version();
      free(datadir);
      return 0;
    default:
      fputs(nepnet_usage, stderr);
      free(datadir);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "nepnet: missing COMMAND\n\n%s", nepnet_usage);
    free(datadir);
    return 2;
  }
  cmd = argv[optind];
  if (!datadir && !(datadir = nn_conf_default_datadir())) {
    fprintf(stderr, "nepnet: out of memory\n");
    return 1;
  }
  if (!strcmp(cmd, "selftest")) {
    rc = cmd_selftest(datadir);
  } else if (!strcmp(cmd, "identity")) {
    nn_identity_t *id = nepnet_open_identity(datadir, 0);
    rc = id ? 0 : 1;
    nn_identity_free(id);
  } else if (!strcmp(cmd, "version")) {
    print_version();
    rc = 0;
  } else if (!strcmp(cmd, "listen")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = nepnet_cmd_listen(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "connect")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = nepnet_cmd_connect(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "sim")) {
    rc = nepnet_cmd_sim(argc - optind, argv + optind);
  } else if (!strcmp(cmd, "nat")) {
    rc = nepnet_cmd_nat(argc - optind, argv + optind);
  } else if (!strcmp(cmd, "send")) {
    rc = nepnet_cmd_send(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "status")) {
    rc = nepnet_cmd_status(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "tx")) {
    rc = nepnet_cmd_tx(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "peers")) {
    rc = nepnet_cmd_peers(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "ui")) {
    rc = nepnet_cmd_ui(datadir, argc - optind, argv + optind);
  } else if (!strcmp(cmd, "devnet")) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = nepnet_cmd_devnet(argv[0], argc - optind, argv + optind);
  } else if (!strcmp(cmd, "help")) {
    fputs(nepnet_usage, stdout);
    rc = 0;
  } else {
    fprintf(stderr, "nepnet: unknown command '%s'\n\n%s", cmd, nepnet_usage);
  }
  free(datadir);
  return rc;
}
