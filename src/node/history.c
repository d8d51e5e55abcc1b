/* The node's last hour in samples (history.h): a ring, allocated with the first sample. */
#include "node/history.h"

#include <stdlib.h>

struct nn_history_t {
  nn_history_sample_t *s; /* NN_HISTORY_MAX; s[(head + i) % MAX], i < n, oldest first */
  size_t head, n;
};

nn_err_t
nn_history_new(nn_history_t **out)
{
  nn_history_t *h = calloc(1, sizeof(*h));
  if (!h)
    return NN_ERR_NOMEM;
  *out = h;
  return NN_OK;
}

void
nn_history_free(nn_history_t *h)
{
  if (!h)
    return;
  free(h->s);
  free(h);
}

nn_err_t
nn_history_add(nn_history_t *h, const nn_history_sample_t *s)
{
  if (!h->s && !(h->s = calloc(NN_HISTORY_MAX, sizeof(*h->s))))
    return NN_ERR_NOMEM;
  if (h->n == NN_HISTORY_MAX) {
    h->s[h->head] = *s;
    h->head = (h->head + 1) % NN_HISTORY_MAX;
  } else {
    h->s[(h->head + h->n++) % NN_HISTORY_MAX] = *s;
  }
  return NN_OK;
}

size_t
nn_history_count(const nn_history_t *h)
{
  return h->n;
}

const nn_history_sample_t *
nn_history_get(const nn_history_t *h, size_t i)
{
  return i < h->n ? &h->s[(h->head + i) % NN_HISTORY_MAX] : NULL;
}
