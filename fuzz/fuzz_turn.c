/* Fuzz the TURN client (nat/turn.h) as a hostile TURN server would: an input is a script of byte
 * chunks on the control connection or on one of two data connections waiting for their
 * ConnectionBind answer, and of time passing, fed to a client that already holds an allocation
 * (reached through the real exchange with the server's key: the transaction ids are
 * deterministic, so the fuzzer can learn to answer them), with a Connect and two binds pending.
 * Whatever comes: every message the client sends parses, is a request with a FINGERPRINT, and
 * goes to a connection that exists; a bind never claims more bytes than it was given; events
 * name tags and connections that were asked for. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/stun.h"
#include "nat/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct world_t {
  uint8_t ctr;
  uint8_t last[NN_STUN_MAX_MSG];
  size_t last_len;
} world_t;

static nn_err_t
w_send(void *ctx, uint64_t conn, const uint8_t *b, size_t n)
{
  world_t *w = ctx;
  nn_stun_msg_t m;
  if (conn > 2 || n > NN_STUN_MAX_MSG || nn_stun_parse(&m, b, n) != NN_OK || m.cls != NN_STUN_REQUEST ||
      nn_stun_check_fingerprint(&m) != NN_OK)
    abort();
  memcpy(w->last, b, n);
  w->last_len = n;
  return NN_OK;
}

static void
w_event(void *ctx, const nn_turn_event_t *e)
{
  (void)ctx;
  switch (e->kind) {
  case NN_TURN_EV_CONNECTED:
  case NN_TURN_EV_CONNECT_FAILED:
    if (e->tag != 77)
      abort();
    break;
  case NN_TURN_EV_BOUND:
  case NN_TURN_EV_BIND_FAILED:
    if (e->tag != 1 && e->tag != 2)
      abort();
    break;
  default: break;
  }
}

static void
w_random(void *ctx, uint8_t *b, size_t n)
{
  world_t *w = ctx;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(++w->ctr * 37u);
}

/* The server's answer to the last request: an error (401 with realm and nonce) or a success. */
static void
reply(nn_turn_t *t, world_t *w, int challenge, const uint8_t key[16])
{
  nn_stun_msg_t req;
  nn_stun_builder_t b;
  uint8_t out[NN_STUN_MAX_MSG];
  size_t n;
  static const uint8_t ip[4] = { 198, 51, 100, 7 };
  nn_addr_t relayed = nn_addr_ipv4(ip, 50000);
  if (nn_stun_parse(&req, w->last, w->last_len) != NN_OK)
    abort();
  nn_stun_build_init(&b, out, sizeof(out), req.method, challenge ? NN_STUN_ERROR : NN_STUN_SUCCESS, req.tid);
  if (challenge) {
    nn_stun_add_error(&b, 401, "Unauthorized");
    nn_stun_add(&b, NN_STUN_A_REALM, (const uint8_t *)"realm", 5);
    nn_stun_add(&b, NN_STUN_A_NONCE, (const uint8_t *)"nonce", 5);
  } else {
    nn_stun_add_addr(&b, NN_STUN_A_XOR_RELAYED_ADDRESS, &relayed);
    nn_stun_add_u32(&b, NN_STUN_A_LIFETIME, 120);
    nn_stun_add_integrity(&b, key, 16);
  }
  if (nn_stun_build_finish(&b, &n) != NN_OK)
    abort();
  (void)nn_turn_ctl_input(t, out, n, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  world_t w;
  nn_turn_t *t;
  nn_turn_cfg_t c;
  nn_turn_io_t io = { w_send, w_event, w_random, &w };
  uint8_t key[16];
  uint64_t now = 0;
  size_t i = 0, used;
  static const uint8_t pip[4] = { 203, 0, 113, 20 };
  nn_addr_t peer = nn_addr_ipv4(pip, 9800);
  memset(&w, 0, sizeof(w));
  memset(&c, 0, sizeof(c));
  strcpy(c.username, "alice");
  strcpy(c.password, "pw");
  if (nn_turn_new(&t, &c, &io) || nn_stun_longterm_key(key, "alice", "realm", "pw"))
    abort();
  nn_turn_start(t, 0);
  reply(t, &w, 1, key);
  reply(t, &w, 0, key);
  if (nn_turn_state(t) != NN_TURN_READY)
    abort();
  if (nn_turn_connect(t, &peer, 77, 0) != NN_OK || nn_turn_bind(t, 1, 11, 0) != NN_OK ||
      nn_turn_bind(t, 2, 12, 0) != NN_OK)
    abort();
  /* op u8: low 2 bits the connection (0 control, 1 and 2 data, 3 control), bits 2..7 seconds
   * passing; then len u8 and the bytes */
  while (i + 2 <= size) {
    uint8_t op = data[i];
    size_t len = data[i + 1];
    uint64_t conn = op & 3;
    i += 2;
    if (len > size - i)
      len = size - i;
    now += (uint64_t)(op >> 2) * 1000;
    if (conn == 1 || conn == 2) {
      if (nn_turn_bind_input(t, conn, data + i, len, &used, now) == NN_OK && used > len)
        abort();
    } else if (nn_turn_ctl_input(t, data + i, len, now) != NN_OK) {
      nn_turn_ctl_down(t, "not STUN");
      nn_turn_start(t, now);
    }
    (void)nn_turn_tick(t, now);
    i += len;
  }
  nn_turn_bind_gone(t, 1);
  nn_turn_bind_gone(t, 2);
  nn_turn_free(t);
  return 0;
}
