/* Fuzz the relay (nat/relay.h): an input is a script of messages from up to four channels (and
 * the passing of time), fed to a fresh relay with small budgets. Whatever comes in, every message
 * the relay sends parses, says it comes from the relay, and carries no more DATA than allowed;
 * holds never go below zero; and once every channel is gone nothing is held, no circuit and no
 * reservation is left. The message parser sees every message on the way. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONNS 4

typedef struct world_t {
  int holds[CONNS + 1];
} world_t;

static nn_err_t
w_send(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  nn_rlmsg_t m;
  (void)ctx;
  if (conn < 1 || conn > CONNS || nn_rlmsg_parse(&m, msg, len) != NN_OK)
    abort();
  switch (m.kind) {
  case NN_RLMSG_RESERVED:
  case NN_RLMSG_OBSERVED: break;
  case NN_RLMSG_INCOMING:
  case NN_RLMSG_ACCEPT:
  case NN_RLMSG_DATA:
  case NN_RLMSG_CREDIT:
  case NN_RLMSG_END:
  case NN_RLMSG_SHUT:
    if (!(m.cid & NN_RELAY_CID_FROM_RELAY))
      abort();
    break;
  default: abort(); /* a relay never sends RESERVE or CONNECT */
  }
  return NN_OK;
}

static void
w_hold(void *ctx, uint64_t conn, int on)
{
  world_t *w = ctx;
  if (conn < 1 || conn > CONNS)
    abort();
  w->holds[conn] += on ? 1 : -1;
  if (w->holds[conn] < 0)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  world_t w;
  nn_relay_t *r;
  nn_relay_limits_t lim;
  nn_relay_io_t io = { w_send, w_hold, NULL, &w };
  nn_relay_stats_t st;
  nn_node_id_t ids[CONNS + 1];
  uint64_t now = 0;
  size_t i = 0;
  static const uint8_t ip[4] = { 203, 0, 113, 7 };
  nn_addr_t from = nn_addr_ipv4(ip, 40000);
  memset(&w, 0, sizeof(w));
  for (int k = 0; k <= CONNS; k++)
    memset(ids[k].b, 0x10 * k, sizeof(ids[k].b));
  nn_relay_limits_default(&lim);
  lim.max_reservations = 2;
  lim.max_circuits = 3;
  lim.max_per_source = 2;
  lim.max_per_target = 2;
  lim.circuit_bytes = 100000;
  lim.circuit_s = 30;
  lim.rate = 20000;
  if (nn_relay_new(&r, 1, &lim, &io))
    abort();
  /* op u8: low 2 bits the channel (1..4 as 0..3), bit 2 anonymous, bit 3 the channel goes down,
   * bits 4..7 seconds passing; then len u16 and the message */
  while (i + 3 <= size) {
    uint8_t op = data[i];
    size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
    uint64_t conn = (uint64_t)(op & 3) + 1;
    i += 3;
    if (len > size - i)
      len = size - i;
    now += (uint64_t)(op >> 4) * 1000;
    nn_rlmsg_t m;
    (void)nn_rlmsg_parse(&m, data + i, len);
    nn_relay_input(r, conn, (op & 4) ? NULL : &ids[conn], &from, data + i, len, now);
    if (op & 8)
      nn_relay_down(r, conn, now);
    (void)nn_relay_tick(r, now);
    i += len;
  }
  for (uint64_t c = 1; c <= CONNS; c++)
    nn_relay_down(r, c, now);
  nn_relay_stats(r, &st);
  if (st.circuits || st.reservations)
    abort();
  nn_relay_free(r);
  return 0;
}
