#include "chanpair.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"

static void
on_msg(void *ctx, const uint8_t *msg, size_t len)
{
  side_t *s = ctx;
  s->nmsgs++;
  s->bytes_in += len;
  free(s->last);
  s->last = malloc(len ? len : 1);
  memcpy(s->last, msg, len);
  s->last_len = len;
}

static void
on_ev(void *ctx, nn_chan_event_t ev)
{
  side_t *s = ctx;
  if (ev == NN_CHAN_EV_ESTABLISHED)
    s->established = 1;
  if (ev == NN_CHAN_EV_CLOSED)
    s->closed = 1;
}

static void
make_ids(pair_t *p)
{
  nn_mldsa_seed_t a, b;
  memset(a.b, 0xa1, 32);
  memset(b.b, 0xb2, 32);
  nn_identity_from_seed(&p->id_i, &a);
  nn_identity_from_seed(&p->id_r, &b);
  nn_drbg_init_u64(&p->di, 100);
  nn_drbg_init_u64(&p->dr, 200);
  p->rng_i = nn_drbg_rng(&p->di);
  p->rng_r = nn_drbg_rng(&p->dr);
}

void
pair_init_cfg(pair_t *p, nn_chan_config_t *ci, nn_chan_config_t *cr)
{
  ci->on_message = cr->on_message = on_msg;
  ci->on_event = cr->on_event = on_ev;
  ci->ctx = &p->i;
  cr->ctx = &p->r;
  ci->role = NN_CHAN_INITIATOR;
  cr->role = NN_CHAN_RESPONDER;
  nn_chan_new(&p->r.ch, cr, p->now);
  nn_chan_new(&p->i.ch, ci, p->now);
}

void
pair_init(pair_t *p, int i_anon, uint32_t net_i, uint32_t net_r, const nn_node_id_t *expected)
{
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  memset(p, 0, sizeof(*p));
  make_ids(p);
  ci.network = net_i;
  ci.identity = i_anon ? NULL : p->id_i;
  ci.expected_peer = expected ? expected : nn_identity_node_id(p->id_r);
  ci.rng = &p->rng_i;
  cr.network = net_r;
  cr.identity = p->id_r;
  cr.rng = &p->rng_r;
  pair_init_cfg(p, &ci, &cr);
}

size_t
pair_move(pair_t *p, side_t *from, side_t *to)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(from->ch, &d, &n);
  if (!n)
    return 0;
  uint8_t *copy = malloc(n);
  memcpy(copy, d, n);
  nn_chan_output_consume(from->ch, n);
  nn_chan_recv(to->ch, copy, n, p->now);
  free(copy);
  return n;
}

void
pair_pump(pair_t *p)
{
  while (pair_move(p, &p->i, &p->r) + pair_move(p, &p->r, &p->i))
    ;
}

void
pair_free(pair_t *p)
{
  nn_chan_free(p->i.ch);
  nn_chan_free(p->r.ch);
  nn_identity_free(p->id_i);
  nn_identity_free(p->id_r);
  free(p->i.last);
  free(p->r.last);
  memset(p, 0, sizeof(*p));
}

/* ---- Appended for test_channel.c ---- */

void
pair_prepare(pair_t *p)
{
  memset(p, 0, sizeof(*p));
  make_ids(p);
}

uint8_t *
pair_take(side_t *s, size_t *n)
{
  const uint8_t *d;
  nn_chan_output(s->ch, &d, n);
  if (!*n)
    return NULL;
  uint8_t *copy = malloc(*n);
  if (!copy) {
    *n = 0;
    return NULL;
  }
  memcpy(copy, d, *n);
  nn_chan_output_consume(s->ch, *n);
  return copy;
}

nn_err_t
pair_feed(pair_t *p, side_t *to, const uint8_t *d, size_t n)
{
  return nn_chan_recv(to->ch, d, n, p->now);
}
