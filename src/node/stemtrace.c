/* The devnet's stem trace (stemtrace.h): a ring of records, allocated with the first one. */
#include "node/stemtrace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hex.h"

typedef struct rec_t {
  nn_hash_t id;
  int has_from, has_to;
  nn_node_id_t from, to;
  char what[12];
  uint64_t unix_ms;
} rec_t;

struct nn_stemtrace_t {
  rec_t *r; /* NN_STEMTRACE_MAX; r[(head + i) % MAX], i < n, oldest first */
  size_t head, n;
};

nn_err_t
nn_stemtrace_new(nn_stemtrace_t **out)
{
  nn_stemtrace_t *t = calloc(1, sizeof(*t));
  if (!t)
    return NN_ERR_NOMEM;
  *out = t;
  return NN_OK;
}

void
nn_stemtrace_free(nn_stemtrace_t *t)
{
  if (!t)
    return;
  free(t->r);
  free(t);
}

void
nn_stemtrace_add(nn_stemtrace_t *t, const nn_hash_t *id, const nn_node_id_t *from, const nn_node_id_t *to,
                 const char *what, uint64_t unix_ms)
{
  rec_t *r;
  if (!t->r && !(t->r = calloc(NN_STEMTRACE_MAX, sizeof(*t->r))))
    return;
  if (t->n == NN_STEMTRACE_MAX) {
    r = &t->r[t->head];
    t->head = (t->head + 1) % NN_STEMTRACE_MAX;
  } else {
    r = &t->r[(t->head + t->n++) % NN_STEMTRACE_MAX];
  }
  memset(r, 0, sizeof(*r));
  r->id = *id;
  if ((r->has_from = from != NULL))
    r->from = *from;
  if ((r->has_to = to != NULL))
    r->to = *to;
  snprintf(r->what, sizeof(r->what), "%s", what);
  r->unix_ms = unix_ms;
}

json_t *
nn_stemtrace_json(const nn_stemtrace_t *t, const nn_hash_t *id)
{
  char hid[65], from[65], to[65];
  json_t *a = json_array();
  if (!a)
    return NULL;
  for (size_t i = 0; t->r && i < t->n; i++) {
    const rec_t *r = &t->r[(t->head + i) % NN_STEMTRACE_MAX];
    if (memcmp(r->id.b, id->b, sizeof(id->b)))
      continue;
    if (r->has_from)
      nn_hex_encode(from, r->from.b, NN_NODE_ID_LEN);
    if (r->has_to)
      nn_hex_encode(to, r->to.b, NN_NODE_ID_LEN);
    json_array_append_new(a, json_pack("{s:s?, s:s?, s:s, s:I}", "from", r->has_from ? from : NULL, "to",
                                       r->has_to ? to : NULL, "what", r->what, "unix_ms", (json_int_t)r->unix_ms));
  }
  nn_hex_encode(hid, id->b, NN_HASH_LEN);
  return json_pack("{s:s, s:o}", "id", hid, "records", a);
}
