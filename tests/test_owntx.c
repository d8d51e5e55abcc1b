/* The own-transaction timeline (src/node/owntx.h): steps of ours only, states, caps, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "node/owntx.h"

static nn_hash_t
hid(unsigned i)
{
  nn_hash_t h;
  memset(h.b, 0, sizeof(h.b));
  h.b[0] = (uint8_t)i;
  h.b[1] = (uint8_t)(i >> 8);
  h.b[31] = 0x77;
  return h;
}

static void
test_steps_and_states(void **state)
{
  (void)state;
  nn_owntx_t *t;
  nn_node_id_t relay;
  memset(relay.b, 0xab, sizeof(relay.b));
  assert_int_equal(nn_owntx_new(&t), NN_OK);
  nn_hash_t a = hid(1), other = hid(2);
  assert_null(nn_owntx_find(t, &a));
  nn_owntx_add(t, &a, 300, "dandelion", 1000, 10);
  assert_int_equal(nn_owntx_count(t), 1);
  /* a step of someone else's transaction is not ours: ignored */
  assert_int_equal(nn_owntx_step(t, &other, "seen-back", &relay, NULL, NN_OWNTX_PROPAGATED, 1100), 0);
  assert_int_equal(nn_owntx_step(t, &a, "stem", &relay, "to this epoch's relay", NN_OWNTX_STEM, 1001), 1);
  const nn_owntx_entry_t *e = nn_owntx_find(t, &a);
  assert_non_null(e);
  assert_int_equal(e->state, NN_OWNTX_STEM);
  assert_int_equal(e->nsteps, 2);
  assert_string_equal(e->steps[1].what, "stem");
  assert_int_equal(strlen(e->steps[1].peer), 64);
  assert_string_equal(e->steps[1].detail, "to this epoch's relay");
  /* propagated holds: a late resend does not take it back */
  assert_int_equal(nn_owntx_step(t, &a, "seen-back", &relay, "via fluff", NN_OWNTX_PROPAGATED, 1400), 1);
  assert_int_equal(nn_owntx_step(t, &a, "tx-proxy", NULL, "sent again", NN_OWNTX_STEM, 1500), 1);
  assert_string_equal(nn_owntx_state_str(nn_owntx_find(t, &a)->state), "propagated");
  /* steps past the cap are counted, not kept */
  for (int k = 0; k < 30; k++)
    (void)nn_owntx_step(t, &a, "x", NULL, NULL, -1, 2000);
  e = nn_owntx_find(t, &a);
  assert_int_equal(e->nsteps, NN_OWNTX_MAX_STEPS);
  assert_true(e->steps_lost > 0);
  /* the same transaction again is the same entry */
  nn_owntx_add(t, &a, 300, "dandelion", 3000, 30);
  assert_int_equal(nn_owntx_count(t), 1);
  nn_owntx_free(t);
}

static void
test_caps_and_expiry(void **state)
{
  (void)state;
  nn_owntx_t *t;
  assert_int_equal(nn_owntx_new(&t), NN_OK);
  for (unsigned i = 0; i < NN_OWNTX_MAX + 10; i++) {
    nn_hash_t h = hid(100 + i);
    nn_owntx_add(t, &h, 10, "direct", 1000 + i, 1000 + i);
  }
  assert_int_equal(nn_owntx_count(t), NN_OWNTX_MAX);
  nn_hash_t first = hid(100), last = hid(100 + NN_OWNTX_MAX + 9);
  assert_null(nn_owntx_find(t, &first)); /* the oldest went */
  assert_non_null(nn_owntx_find(t, &last));
  assert_memory_equal(nn_owntx_get(t, 0)->id.b, last.b, 32); /* newest first */
  assert_null(nn_owntx_get(t, NN_OWNTX_MAX));
  /* a day later every one of them is gone */
  nn_owntx_expire(t, 1000 + NN_OWNTX_MAX + 9);
  assert_int_equal(nn_owntx_count(t), NN_OWNTX_MAX);
  nn_owntx_expire(t, 2000ull + NN_OWNTX_MAX_AGE_MS + NN_OWNTX_MAX);
  assert_int_equal(nn_owntx_count(t), 0);
  assert_null(nn_owntx_find(t, &last));
  nn_owntx_free(t);
  nn_owntx_free(NULL);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_steps_and_states),
    cmocka_unit_test(test_caps_and_expiry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
