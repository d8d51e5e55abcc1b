/*
 * nepnet: the command line. For now: identities and the crypto self-test; later issues add the
 * local devnet, the simulator and the control-API client.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nepnet/nepnet.h"
#include "lib/file.h"

static const char usage[] =
  "usage: nepnet [--datadir DIR] COMMAND\n"
  "\n"
  "The post-quantum, mixnet-grade P2P privacy network for Neptune.\n"
  "\n"
  "commands:\n"
  "  selftest   load (or create) the node identity, print it, and run the crypto self-test:\n"
  "             known-answer tests for SHA3, HKDF, AES-256-GCM, X25519, ML-KEM-1024 and\n"
  "             ML-DSA-87, plus hybrid-KEM and signature round trips. Exit status 0 if all pass.\n"
  "  identity   print the node id of DIR/identity.key, creating the identity on first use\n"
  "  version    print the nepnet and OpenSSL versions\n"
  "\n"
  "options:\n"
  "  --datadir DIR  where the node keeps its files (default: $NEPNET_DATADIR, else ~/.nepnet).\n"
  "                 The identity key is DIR/identity.key, mode 0600; nepnet refuses a key file\n"
  "                 that others can read.\n"
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
  if (verbose) {
    printf("identity   %s (%s)\n", path, created ? "created now" : "loaded");
    printf("node id    %s\n", hex);
    printf("algorithm  ML-DSA-87 (FIPS 204), public key %d bytes; node id = SHA3-256(public key)\n",
           NN_MLDSA_PK_LEN);
  } else {
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
  } else if (!strcmp(cmd, "help")) {
    fputs(usage, stdout);
    rc = 0;
  } else {
    fprintf(stderr, "nepnet: unknown command '%s'\n\n%s", cmd, usage);
  }
  free(datadir);
  return rc;
}
