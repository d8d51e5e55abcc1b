/* The timeline of our own transactions (owntx.h): a ring, newest last. */
#include "node/owntx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/hex.h"

struct nn_owntx_t {
  nn_owntx_entry_t *e; /* NN_OWNTX_MAX slots: e[(head + i) % MAX], i < n, oldest first */
  size_t head, n;
};

const char *
nn_owntx_state_str(nn_owntx_state_t s)
{
  switch (s) {
  case NN_OWNTX_SUBMITTED: return "submitted";
  case NN_OWNTX_STEM: return "stem";
  case NN_OWNTX_PROPAGATED: return "propagated";
  case NN_OWNTX_EMBARGOED: return "embargoed";
  case NN_OWNTX_DIRECT: return "direct";
  case NN_OWNTX_MIXNET: return "mixnet";
  case NN_OWNTX_DROPPED: return "dropped";
  }
  return "?";
}

nn_err_t
nn_owntx_new(nn_owntx_t **out)
{
  nn_owntx_t *t = calloc(1, sizeof(*t)); /* the ring comes with the first transaction */
  if (!t)
    return NN_ERR_NOMEM;
  *out = t;
  return NN_OK;
}

void
nn_owntx_free(nn_owntx_t *t)
{
  if (!t)
    return;
  if (t->e)
    OPENSSL_cleanse(t->e, NN_OWNTX_MAX * sizeof(*t->e)); /* which transactions were ours */
  free(t->e);
  free(t);
}

static nn_owntx_entry_t *
slot(const nn_owntx_t *t, size_t i)
{
  return &t->e[(t->head + i) % NN_OWNTX_MAX];
}

static nn_owntx_entry_t *
find(const nn_owntx_t *t, const nn_hash_t *id)
{
  for (size_t i = t->n; i-- > 0;)
    if (!CRYPTO_memcmp(slot(t, i)->id.b, id->b, sizeof(id->b)))
      return slot(t, i);
  return NULL;
}

static void
add_step(nn_owntx_entry_t *e, const char *what, const nn_node_id_t *peer, const char *detail, uint64_t unix_ms)
{
  if (e->nsteps == NN_OWNTX_MAX_STEPS) {
    e->steps_lost++;
    return;
  }
  nn_owntx_step_t *s = &e->steps[e->nsteps++];
  memset(s, 0, sizeof(*s));
  s->unix_ms = unix_ms;
  snprintf(s->what, sizeof(s->what), "%s", what);
  if (peer)
    nn_hex_encode(s->peer, peer->b, NN_NODE_ID_LEN);
  if (detail)
    snprintf(s->detail, sizeof(s->detail), "%s", detail);
}

void
nn_owntx_add(nn_owntx_t *t, const nn_hash_t *id, size_t len, const char *route, uint64_t unix_ms, uint64_t mono_ms)
{
  nn_owntx_entry_t *e = find(t, id);
  if (e) {
    add_step(e, "submitted", NULL, "again", unix_ms);
    return;
  }
  if (!t->e && !(t->e = calloc(NN_OWNTX_MAX, sizeof(*t->e))))
    return;                   /* no timeline: the transaction goes out all the same */
  if (t->n == NN_OWNTX_MAX) { /* the oldest goes */
    OPENSSL_cleanse(slot(t, 0), sizeof(nn_owntx_entry_t));
    t->head = (t->head + 1) % NN_OWNTX_MAX;
    t->n--;
  }
  e = slot(t, t->n++);
  memset(e, 0, sizeof(*e));
  e->id = *id;
  e->len = len;
  e->submitted_unix_ms = unix_ms;
  e->submitted_mono_ms = mono_ms;
  snprintf(e->route, sizeof(e->route), "%s", route ? route : "");
  e->state = NN_OWNTX_SUBMITTED;
  add_step(e, "submitted", NULL, NULL, unix_ms);
}

int
nn_owntx_step(nn_owntx_t *t, const nn_hash_t *id, const char *what, const nn_node_id_t *peer, const char *detail,
              int state, uint64_t unix_ms)
{
  nn_owntx_entry_t *e = find(t, id);
  if (!e)
    return 0;
  add_step(e, what, peer, detail, unix_ms);
  /* once the network has it, a later step (a resend that crossed it) does not take that back */
  if (state >= 0 && e->state != NN_OWNTX_PROPAGATED)
    e->state = (nn_owntx_state_t)state;
  return 1;
}

void
nn_owntx_set_embargo(nn_owntx_t *t, const nn_hash_t *id, uint64_t unix_ms)
{
  nn_owntx_entry_t *e = find(t, id);
  if (e)
    e->embargo_unix_ms = unix_ms;
}

const nn_owntx_entry_t *
nn_owntx_find(const nn_owntx_t *t, const nn_hash_t *id)
{
  return find(t, id);
}

const nn_owntx_entry_t *
nn_owntx_get(const nn_owntx_t *t, size_t i)
{
  return i < t->n ? slot(t, t->n - 1 - i) : NULL;
}

size_t
nn_owntx_count(const nn_owntx_t *t)
{
  return t->n;
}

void
nn_owntx_expire(nn_owntx_t *t, uint64_t mono_ms)
{
  while (t->n && mono_ms - slot(t, 0)->submitted_mono_ms > NN_OWNTX_MAX_AGE_MS) {
    OPENSSL_cleanse(slot(t, 0), sizeof(nn_owntx_entry_t));
    t->head = (t->head + 1) % NN_OWNTX_MAX;
    t->n--;
  }
}
