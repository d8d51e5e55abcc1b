/*
 * The mixnet on a devnet of 30 real nepnetd processes, 9 of them mixes (app/devnet.h):
 * - a 2 MB transaction sent with route mixnet reaches all 30 nodes while each mix drops 10% of
 *   the packets it passes to another mix (--mix-test-loss): about 27% of the fragments are lost
 *   on their three mix-to-mix links, and the client's parity (--mix-redundancy 1) covers it;
 * - on every node, every mixnet PACKET that arrived had the geometry's size (one of any other
 *   size is malformed: it would close its channel and count in bad_msgs, which stays 0);
 * - a client with the `constant` cover sends at the same rate with and without a transaction.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "crypto/rand.h"
#include "app/devnet.h"

#define NODES 30
#define MIXES 9
#define CLIENT 29   /* cover standard, route mixnet: sends the 2 MB transaction */
#define CONSTANT 28 /* cover constant, route mixnet: the rate test */

typedef struct fixture_t {
  nn_devnet_t dn;
  char dir[64];
} fixture_t;

static const char *const *
node_extra(void *ctx, unsigned i)
{
  static const char *const mix[] = { "--mix", "1", "--mix-test-loss", "0.1", NULL };
  static const char *const client[] = { "--route", "mixnet", "--cover", "standard", "--mix-redundancy", "1", NULL };
  static const char *const constant[] = { "--route", "mixnet", "--cover", "constant", NULL };
  (void)ctx;
  return i < MIXES ? mix : i == CLIENT ? client : i == CONSTANT ? constant : NULL;
}

static int
setup(void **state)
{
  static fixture_t f;
  nn_devnet_opts_t o;
  char why[1024];
  static const char *const extra[] = { "--log-level", "warn" };
  memset(&f, 0, sizeof(f));
  snprintf(f.dir, sizeof(f.dir), "/tmp/nn-devnet-mix-XXXXXX");
  assert_non_null(mkdtemp(f.dir));
  nn_devnet_opts_default(&o);
  o.dir = f.dir;
  o.nepnetd = NEPNET_NEPNETD;
  o.base_port = (uint16_t)(10000 + (getpid() % 97) * 100); /* below the ephemeral ports, apart from test_devnet's */
  o.extra = extra;
  o.n_extra = sizeof(extra) / sizeof(extra[0]);
  o.node_extra = node_extra;
  o.progress = getenv("DEVNET_VERBOSE") ? stderr : NULL;
  o.join_timeout_ms = 180000;
  if (nn_devnet_up(&f.dn, NODES, NULL, &o, why, sizeof(why))) {
    fprintf(stderr, "devnet up: %s\n", why);
    return -1;
  }
  *state = &f;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *f = *state;
  char cmd[128];
  if (!f)
    return 0;
  nn_devnet_down(&f->dn, 10000);
  nn_devnet_free(&f->dn);
  if (!getenv("DEVNET_KEEP")) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", f->dir);
  }
  return 0;
}

static uint64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* GET /v1/mixnet of node i (the caller frees it), NULL if it does not answer. */
static json_t *
mixnet(fixture_t *f, unsigned i)
{
  json_t *j = NULL;
  if (nn_devnet_api(&f->dn, i, "GET", "/v1/mixnet", NULL, 0, NULL, &j) != 200) {
    json_decref(j);
    return NULL;
  }
  return j;
}

static json_int_t
field(json_t *j, const char *obj, const char *name)
{
  return json_integer_value(json_object_get(json_object_get(j, obj), name));
}

/* Wait until node i's view holds every mix and its loops come back. */
static void
wait_ready(fixture_t *f, unsigned i)
{
  uint64_t t0 = now_ms();
  while (now_ms() - t0 < 120000) {
    json_t *j = mixnet(f, i);
    int ok = j && field(j, "directory", "mixes") == MIXES && field(j, "client", "loops_back") >= 1;
    json_decref(j);
    if (ok)
      return;
    usleep(200000);
  }
  fail_msg("node %u: the directory did not reach %d mixes, or no loop came back, in 120 s", i, MIXES);
}

static void
test_2mb_through_lossy_mixes(void **state)
{
  fixture_t *f = *state;
  size_t len = 2000000;
  uint8_t *tx = malloc(len);
  nn_hash_t id;
  nn_devnet_seen_t seen[NODES];
  memset(seen, 0, sizeof(seen));
  wait_ready(f, CLIENT);
  json_t *before = mixnet(f, CLIENT);
  assert_non_null(before);
  assert_int_equal(nn_rng_fill(NULL, tx, len), NN_OK);
  uint64_t t0 = now_ms();
  assert_int_equal(nn_devnet_submit(&f->dn, CLIENT, tx, len, &id), 0);
  unsigned got = nn_devnet_wait_tx(&f->dn, &id, t0, 180000, seen, getenv("DEVNET_VERBOSE") ? stderr : NULL);
  uint64_t last = 0;
  int exits = 0;
  for (unsigned i = 0; i < NODES; i++) {
    if (seen[i].unix_ms > last)
      last = seen[i].unix_ms;
    exits += seen[i].seen && !strcmp(seen[i].via, "mixnet");
  }
  json_t *after = mixnet(f, CLIENT);
  assert_non_null(after);
  /* the fragments sent so far, and those still waiting (the exit can finish before the last leave) */
  json_int_t real =
    field(after, "client", "real_sent") - field(before, "client", "real_sent") + field(after, "client", "queued");
  double loss = json_real_value(json_object_get(json_object_get(after, "client"), "loss"));
  fprintf(stderr, "2 MB through the mixnet: %u of %d nodes in %.1f s; %lld fragments (67 data), loop loss %.2f\n", got,
          NODES, (double)(last - t0) / 1000, (long long)real, loss);
  assert_int_equal(got, NODES);
  assert_int_equal(exits, 1);
  assert_true(real >= 67 + 67); /* 2 MB: 67 data fragments, as many parity (--mix-redundancy 1) */
  /* the loss was real, and nothing else was wrong */
  json_int_t dropped = 0, bad = 0, in = 0;
  for (unsigned i = 0; i < NODES; i++) {
    json_t *j = mixnet(f, i);
    assert_non_null(j);
    dropped += field(j, "packets", "test_dropped");
    bad += field(j, "packets", "bad_msgs");
    in += field(j, "packets", "in");
    json_decref(j);
  }
  fprintf(stderr, "packets received %lld, dropped by the test's loss %lld, malformed %lld\n", (long long)in,
          (long long)dropped, (long long)bad);
  assert_true(dropped > 0);
  assert_true(in > 0);
  assert_int_equal(bad, 0);
  json_decref(before);
  json_decref(after);
  free(tx);
}

/* Packets a node's own streams sent during \a ms. */
static double
own_packets(fixture_t *f, unsigned i, uint32_t ms, const uint8_t *tx, size_t len)
{
  json_t *a = mixnet(f, i), *b;
  nn_hash_t id;
  assert_non_null(a);
  if (tx)
    assert_int_equal(nn_devnet_submit(&f->dn, i, tx, len, &id), 0);
  usleep(ms * 1000);
  b = mixnet(f, i);
  assert_non_null(b);
  double n = (double)(field(b, "packets", "own_bytes") - field(a, "packets", "own_bytes")) / 36865.0;
  json_decref(a);
  json_decref(b);
  return n;
}

/* `constant`: 2 payload + 0.2 loop packets/s whether or not a transaction is being sent. Two
 * 30 s windows are Poisson counts of mean 66 (sd 8.1): their difference stays within 4.5 sd of
 * the two (52 packets); a burst of the transaction's 17 packets on top of the stream would not
 * show here, so the test also checks that they left inside the stream (real_sent grew by 17
 * while the window's count stayed at the stream's rate). */
static void
test_constant_rate(void **state)
{
  fixture_t *f = *state;
  size_t len = 300000;
  uint8_t *tx = malloc(len);
  wait_ready(f, CONSTANT);
  assert_int_equal(nn_rng_fill(NULL, tx, len), NN_OK);
  json_t *a = mixnet(f, CONSTANT);
  double idle = own_packets(f, CONSTANT, 30000, NULL, 0);
  double busy = own_packets(f, CONSTANT, 30000, tx, len);
  json_t *b = mixnet(f, CONSTANT);
  json_int_t real = field(b, "client", "real_sent") - field(a, "client", "real_sent");
  fprintf(stderr, "constant cover: %.0f packets in 30 s idle, %.0f while sending %lld fragments (expected 66)\n", idle,
          busy, (long long)real);
  assert_true(real >= 11); /* 300 KB: 10 data fragments and their parity, sent in the window */
  assert_true(fabs(busy - idle) < 4.5 * sqrt(66.0 * 2));
  assert_true(idle > 66 - 5 * 8.1 && idle < 66 + 5 * 8.1);
  json_decref(a);
  json_decref(b);
  free(tx);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_2mb_through_lossy_mixes),
    cmocka_unit_test(test_constant_rate),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
