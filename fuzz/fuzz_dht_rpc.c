/*
 * Fuzz the DHT's message parser and the node core behind it: any bytes are either refused (and
 * penalized) or parsed into a message that re-encodes to the same bytes; the node then handles
 * it without crashing, leaking, or answering more than once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
count_send(void *ctx, const nn_rpc_node_t *to, void *reply, const uint8_t *msg, size_t len)
{
  nn_rpc_t m;
  (void)ctx, (void)to, (void)reply;
  if (nn_rpc_decode(&m, msg, len) != NN_OK)
    abort(); /* the node must only ever send well-formed messages */
}

static int
accept_64(void *ctx, const nn_node_id_t *key, const uint8_t *v, size_t len, uint64_t now, uint64_t *seq, uint64_t *exp)
{
  (void)ctx, (void)key, (void)now;
  if (len != 64 || v[0] != 0xaa)
    return -1;
  *seq = v[1];
  *exp = 1000000;
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_rpc_t m;
  uint8_t *buf = malloc(size ? size : 1), again[NN_RPC_MAX_LEN];
  nn_wire_writer_t w;
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  if (nn_rpc_decode(&m, buf, size) == NN_OK) {
    nn_wire_writer_init_fixed(&w, again, sizeof(again));
    if (nn_rpc_encode(&m, &w) != NN_OK || w.len != size || memcmp(again, buf, size))
      abort();
  }
  /* the node core, with a small table and an answerable in-flight request */
  nn_dht_t *d = NULL;
  nn_dht_cfg_t cfg;
  nn_dht_io_t io = { count_send, NULL, NULL };
  nn_drbg_t drbg;
  nn_drbg_init_u64(&drbg, 9);
  nn_rng_t rng = nn_drbg_rng(&drbg);
  nn_node_id_t self, peer;
  memset(self.b, 0x80, 32);
  memset(peer.b, 0x81, 32);
  nn_dht_cfg_default(&cfg);
  cfg.table.allow_private = 1;
  cfg.validate = accept_64;
  cfg.rng = &rng;
  if (nn_dht_new(&d, &self, &cfg, &io, 0) == NN_OK) {
    uint8_t ip[4] = { 10, 0, 0, 1 };
    nn_addr_t a = nn_addr_ipv4(ip, 9800);
    nn_dht_contact_t probe;
    for (int i = 0; i < 30; i++) {
      nn_node_id_t id;
      memset(id.b, (uint8_t)(i * 7), 32);
      ip[2] = (uint8_t)i;
      a = nn_addr_ipv4(ip, 9800);
      nn_dht_table_seen(nn_dht_table(d), &id, &a, 0, 10, &probe);
    }
    nn_dht_lookup(d, &peer, 1, NULL, NULL, 0);
    nn_dht_on_message(d, (void *)1, &peer, &a, size & 1, buf, size, 10);
    nn_dht_tick(d, 5000);
    nn_dht_free(d);
  }
  free(buf);
  return 0;
}
