/* Fill a node's peer store to its caps, for bench/bench_ready.sh's "full peer store": random
 * public IPv4 addresses from many sources (every new-table bucket, then successes for the
 * tried table) and penalties for a reputation table of NN_PEERSTORE_REPUTATION_MAX hosts.
 *   peerstore_fill DATADIR/peers.sqlite */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dht/peerstore.h"
#include "lib/addr.h"

static uint32_t rnd_state = 0x9e3779b9u;

static uint32_t
rnd(void)
{
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 17;
  rnd_state ^= rnd_state << 5;
  return rnd_state;
}

static void
random_addr(nn_addr_t *a)
{
  char s[40];
  uint32_t x = rnd();
  snprintf(s, sizeof(s), "%u.%u.%u.%u:%u", 11 + (x % 180), (x >> 8) & 255, (x >> 16) & 255, 1 + rnd() % 250,
           1024 + rnd() % 60000);
  (void)nn_addr_parse(a, s);
}

int
main(int argc, char **argv)
{
  nn_peerstore_t *ps;
  char why[512];
  uint64_t now = 1800000000;
  size_t added = 0, tried = 0, rep = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: peerstore_fill PEERS.SQLITE\n");
    return 2;
  }
  if (nn_peerstore_open(&ps, argv[1], NULL, NULL, why, sizeof(why))) {
    fprintf(stderr, "peerstore_fill: %s\n", why);
    return 1;
  }
  for (size_t i = 0; i < 8 * NN_PEERSTORE_NEW_MAX; i++) {
    nn_addr_t a, src;
    nn_peerstore_add_result_t r;
    random_addr(&a);
    random_addr(&src);
    if (nn_peerstore_add(ps, &a, &src, now, &r) == NN_OK)
      added++;
    if (i % 4 == 0 && tried < NN_PEERSTORE_TRIED_MAX) {
      nn_node_id_t id;
      for (size_t k = 0; k < sizeof(id.b); k++)
        id.b[k] = (uint8_t)rnd();
      if (nn_peerstore_success(ps, &a, &id, now, NULL) == NN_OK)
        tried++;
    }
  }
  for (size_t i = 0; i < NN_PEERSTORE_REPUTATION_MAX; i++) {
    nn_addr_t a;
    random_addr(&a);
    if (nn_peerstore_penalize(ps, &a, 1, "bench", now, NULL) == NN_OK)
      rep++;
  }
  printf("peerstore_fill: %zu addresses offered (the store keeps what its buckets take), %zu moved to tried, %zu hosts "
         "penalized\n",
         added, tried, rep);
  nn_peerstore_close(ps);
  return 0;
}
