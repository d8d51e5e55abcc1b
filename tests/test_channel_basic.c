/* Smoke tests of the secure channel core: both handshake modes, a message each way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chanpair.h"
#include "crypto/identity.h"
#include "transport/chan_int.h"

static void
test_mutual(void **state)
{
  (void)state;
  pair_t p;
  pair_init(&p, 0, NN_NET_REGTEST, NN_NET_REGTEST, NULL);
  pair_pump(&p);
  assert_true(p.i.established);
  assert_true(p.r.established);
  const nn_chan_info_t *ii = nn_chan_info(p.i.ch), *ri = nn_chan_info(p.r.ch);
  assert_memory_equal(ii->peer_id.b, nn_identity_node_id(p.id_r)->b, 32);
  assert_memory_equal(ri->peer_id.b, nn_identity_node_id(p.id_i)->b, 32);
  assert_true(ri->peer_identified);
  assert_memory_equal(ii->session_id, ri->session_id, 32);
  assert_int_equal(nn_chan_send(p.i.ch, (const uint8_t *)"hello", 5), NN_OK);
  assert_int_equal(nn_chan_send(p.r.ch, (const uint8_t *)"world!", 6), NN_OK);
  pair_pump(&p);
  assert_int_equal(p.r.nmsgs, 1);
  assert_memory_equal(p.r.last, "hello", 5);
  assert_int_equal(p.i.nmsgs, 1);
  assert_memory_equal(p.i.last, "world!", 6);
  pair_free(&p);
}

static void
test_anonymous(void **state)
{
  (void)state;
  pair_t p;
  pair_init(&p, 1, NN_NET_MAINNET, NN_NET_MAINNET, NULL);
  pair_pump(&p);
  assert_true(p.i.established);
  assert_true(p.r.established);
  assert_false(nn_chan_info(p.r.ch)->peer_identified);
  pair_free(&p);
}

/* A callback that closes the channel while it is handed a reassembled (multi-record) message
 * must still be able to read all of it (ASan checks the reads). */
typedef struct closer_t {
  nn_chan_t **ch;
  size_t len, sum;
} closer_t;

static void
close_in_callback(void *ctx, const uint8_t *msg, size_t len)
{
  closer_t *c = ctx;
  nn_chan_close(*c->ch, NN_CLOSE_LOCAL);
  c->len = len;
  for (size_t i = 0; i < len; i++)
    c->sum += msg[i];
}

static void
test_close_inside_message_callback(void **state)
{
  (void)state;
  pair_t p;
  pair_init(&p, 0, NN_NET_REGTEST, NN_NET_REGTEST, NULL);
  pair_pump(&p);
  assert_true(p.r.established);
  /* swap the responder's message callback for one that closes from inside */
  closer_t cl = { &p.r.ch, 0, 0 };
  p.r.ch->cfg.on_message = close_in_callback;
  p.r.ch->cfg.ctx = &cl;
  size_t n = 200000;
  uint8_t *big = malloc(n);
  memset(big, 1, n);
  assert_int_equal(nn_chan_send(p.i.ch, big, n), NN_OK);
  pair_move(&p, &p.i, &p.r);
  assert_int_equal(cl.len, n);
  assert_int_equal(cl.sum, n);
  assert_true(nn_chan_is_closed(p.r.ch));
  assert_non_null(nn_chan_info(p.r.ch)); /* info outlives the close */
  free(big);
  pair_free(&p);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mutual),
    cmocka_unit_test(test_anonymous),
    cmocka_unit_test(test_close_inside_message_callback),
  };
  return cmocka_run_group_tests_name("channel_basic", tests, NULL, NULL);
}
