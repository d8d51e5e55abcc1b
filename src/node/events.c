/* The node's events as a ring of JSON lines (events.h). */
#include "node/events.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

typedef struct ev_slot_t {
  uint64_t seq;
  char *line;
  size_t len;
} ev_slot_t;

struct nn_events_t {
  ev_slot_t *s;         /* NN_EVENTS_MAX slots, allocated with the first event; s[seq % MAX] */
  uint64_t first, last; /* seqs kept: first..last (none when last < first) */
  uint64_t lost;
};

nn_err_t
nn_events_new(nn_events_t **out)
{
  nn_events_t *ev = calloc(1, sizeof(*ev));
  if (!ev)
    return NN_ERR_NOMEM;
  ev->first = 1;
  *out = ev;
  return NN_OK;
}

static void
slot_clear(ev_slot_t *s)
{
  if (s->line) {
    OPENSSL_cleanse(s->line, s->len);
    free(s->line);
  }
  memset(s, 0, sizeof(*s));
}

void
nn_events_free(nn_events_t *ev)
{
  if (!ev)
    return;
  for (size_t i = 0; ev->s && i < NN_EVENTS_MAX; i++)
    slot_clear(&ev->s[i]);
  free(ev->s);
  free(ev);
}

uint64_t
nn_events_add(nn_events_t *ev, const char *type, json_t *fields, uint64_t unix_ms)
{
  json_t *o = json_object();
  char *line = NULL;
  uint64_t seq = 0;
  size_t len;

  if (!ev->s && !(ev->s = calloc(NN_EVENTS_MAX, sizeof(*ev->s))))
    goto out;
  /* seq, unix_ms and type first (jansson keeps insertion order), then the fields */
  if (!o || json_object_set_new(o, "seq", json_integer((json_int_t)(ev->last + 1))) ||
      json_object_set_new(o, "unix_ms", json_integer((json_int_t)unix_ms)) ||
      json_object_set_new(o, "type", json_string(type)) || (fields && json_object_update(o, fields)))
    goto out;
  if (!(line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) || (len = strlen(line)) > NN_EVENTS_LINE_MAX)
    goto out;
  seq = ++ev->last;
  ev_slot_t *s = &ev->s[seq % NN_EVENTS_MAX];
  if (s->line)
    ev->first = s->seq + 1; /* the oldest goes */
  slot_clear(s);
  s->seq = seq;
  s->line = line;
  s->len = len;
  line = NULL;
out:
  if (!seq)
    ev->lost++;
  if (line) {
    OPENSSL_cleanse(line, strlen(line));
    free(line);
  }
  json_decref(o);
  json_decref(fields);
  return seq;
}

size_t
nn_events_get(const nn_events_t *ev, uint64_t since, nn_events_line_t *out, size_t max, uint64_t *next)
{
  size_t k = 0;
  uint64_t seq = since > ev->first ? since : ev->first;
  for (; ev->s && seq <= ev->last && k < max; seq++) {
    const ev_slot_t *s = &ev->s[seq % NN_EVENTS_MAX];
    out[k].seq = s->seq;
    out[k].line = s->line;
    out[k].len = s->len;
    k++;
  }
  *next = seq > since ? seq : since;
  return k;
}

uint64_t
nn_events_last(const nn_events_t *ev)
{
  return ev->last;
}

uint64_t
nn_events_lost(const nn_events_t *ev)
{
  return ev->lost;
}
