/* Admission of inbound streams (admit.h). */
#include "net/admit.h"

#include <stdlib.h>
#include <string.h>

struct nn_admit_entry_t {
  nn_admit_entry_t *next;
  uint8_t key[17]; /* IPv4 as ::ffff:a.b.c.d, IPv6 as its /64 prefix; then ENTRY_ADDR or ENTRY_GROUP */
  uint32_t conns;  /* an address's connections; a group's half-open ones */
  uint64_t tat_us; /* GCRA theoretical arrival time; the bucket is full once it is past */
};

nn_err_t
nn_admit_init(nn_admit_t *a, const nn_net_limits_t *lim, const nn_rng_t *rng, nn_net_stats_t *st)
{
  size_t nb = 16;
  nn_err_t e;
  memset(a, 0, sizeof(*a));
  a->lim = *lim;
  a->st = st;
  if (!a->lim.max_tracked_ips)
    a->lim.max_tracked_ips = 1;
  if (!a->lim.ip_burst)
    a->lim.ip_burst = 1;
  a->per_ip = a->lim.max_per_ip || a->lim.ip_rate > 0;
  if (a->lim.ip_rate > 0) {
    double t = 1e6 / a->lim.ip_rate;
    a->gcra_t_us = t < 1 ? 1 : t > 1e15 ? (uint64_t)1e15 : (uint64_t)t;
    a->gcra_tau_us = a->gcra_t_us * (a->lim.ip_burst - 1);
  }
  while (nb < a->lim.max_tracked_ips && nb < (1u << 20))
    nb <<= 1;
  if (!(a->slots = calloc(nb, sizeof(*a->slots))))
    return NN_ERR_NOMEM;
  a->mask = nb - 1;
  if ((e = nn_keyhash_init(&a->key, rng))) {
    nn_admit_free(a);
    return e;
  }
  return NN_OK;
}

void
nn_admit_free(nn_admit_t *a)
{
  if (a->slots) {
    for (size_t i = 0; i <= a->mask; i++)
      for (nn_admit_entry_t *e = a->slots[i], *n; e; e = n) {
        n = e->next;
        free(e);
      }
    free(a->slots);
    a->slots = NULL;
  }
  nn_keyhash_free(&a->key);
}

#define ENTRY_ADDR 0
#define ENTRY_GROUP 1

/* The per-address key (one /64 is one "address" for the limits), the group key (IPv4 /24,
 * IPv6 /48: what one operator or one NAT pool usually holds) and the cookie's address bytes (the
 * IP without the port). Onion/I2P peers have no IP: no cookie binding. */
static void
addr_keys(const nn_addr_t *p, uint8_t key[17], uint8_t group[17], nn_admit_ticket_t *t)
{
  static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  memset(key, 0, 17);
  memset(group, 0, 17);
  t->ip_len = 0;
  if (p->type == NN_ADDR_IPV4) {
    memcpy(key, v4mapped, 12);
    memcpy(key + 12, p->host, 4);
    memcpy(group, key, 15);
    memcpy(t->ip, p->host, 4);
    t->ip_len = 4;
  } else if (p->type == NN_ADDR_IPV6) {
    memcpy(key, p->host, 8);
    memcpy(group, p->host, 6);
    memcpy(t->ip, p->host, 16);
    t->ip_len = 16;
  } else {
    memcpy(key, p->host, 16);
    memcpy(group, p->host, 16);
  }
  key[16] = ENTRY_ADDR;
  group[16] = ENTRY_GROUP;
}

static nn_admit_entry_t **
slot(nn_admit_t *a, const uint8_t key[17])
{
  return &a->slots[nn_keyhash(&a->key, key, 17) & a->mask];
}

static nn_admit_entry_t *
lookup(nn_admit_t *a, const uint8_t key[17])
{
  for (nn_admit_entry_t *e = *slot(a, key); e; e = e->next)
    if (!memcmp(e->key, key, 17))
      return e;
  return NULL;
}

/* An entry with no connection and a full bucket is the same as no entry. */
static int
idle(const nn_admit_entry_t *e, uint64_t now_us)
{
  return e->conns == 0 && e->tat_us <= now_us;
}

static void
drop_if_idle(nn_admit_t *a, nn_admit_entry_t *e, uint64_t now_us)
{
  if (!idle(e, now_us))
    return;
  nn_admit_entry_t **pp = slot(a, e->key);
  while (*pp && *pp != e)
    pp = &(*pp)->next;
  if (*pp) {
    *pp = e->next;
    a->st->tracked_ips--;
    free(e);
  }
}

static void
sweep(nn_admit_t *a, uint64_t now_us)
{
  for (size_t i = 0; i <= a->mask; i++) {
    nn_admit_entry_t **pp = &a->slots[i];
    while (*pp) {
      nn_admit_entry_t *e = *pp;
      if (idle(e, now_us)) {
        *pp = e->next;
        a->st->tracked_ips--;
        free(e);
      } else {
        pp = &e->next;
      }
    }
  }
}

static nn_admit_entry_t *
insert(nn_admit_t *a, const uint8_t key[17], uint64_t now_us)
{
  nn_admit_entry_t *e;
  if (a->st->tracked_ips >= a->lim.max_tracked_ips)
    sweep(a, now_us);
  if (a->st->tracked_ips >= a->lim.max_tracked_ips || !(e = calloc(1, sizeof(*e))))
    return NULL;
  memcpy(e->key, key, 17);
  e->tat_us = key[16] == ENTRY_GROUP ? 0 : now_us;
  nn_admit_entry_t **s = slot(a, key);
  e->next = *s;
  *s = e;
  a->st->tracked_ips++;
  return e;
}

/* GCRA: one token per handshake; at most ip_burst in a row, then one per 1/ip_rate s. */
static int
take_token(const nn_admit_t *a, nn_admit_entry_t *e, uint64_t now_us)
{
  if (!a->gcra_t_us)
    return 1;
  uint64_t tat = e->tat_us > now_us ? e->tat_us : now_us;
  if (tat - now_us > a->gcra_tau_us)
    return 0;
  e->tat_us = tat + a->gcra_t_us;
  return 1;
}

/* Above a global cap a newcomer takes the place of an older connection (the manager picks it),
 * unless so many places are being given up already (closing, not yet gone) that it would pass
 * the cap by more than an eighth. */
static int
over_cap(uint32_t n, uint32_t cap, int *evict)
{
  if (n < cap)
    return 0;
  if (n >= cap + cap / 8 + 1)
    return 1;
  *evict = 1;
  return 0;
}

void
nn_admit_set_caps(nn_admit_t *a, uint32_t max_per_ip, uint32_t max_half_open_per_group)
{
  a->lim.max_per_ip = max_per_ip;
  a->lim.max_half_open_per_group = max_half_open_per_group;
  a->per_ip = a->lim.max_per_ip || a->lim.ip_rate > 0;
}

int
nn_admit_stream(nn_admit_t *a, const nn_addr_t *peer, int per_addr, uint64_t now_us, nn_admit_ticket_t *t)
{
  nn_net_stats_t *st = a->st;
  uint64_t *refused = NULL;
  uint8_t key[17], gkey[17];
  nn_admit_entry_t *e = NULL, *g = NULL;
  int untracked = 0;

  memset(t, 0, sizeof(*t));
  addr_keys(peer, key, gkey, t);
  if (a->per_ip && per_addr) {
    if (!(e = lookup(a, key)) && !(e = insert(a, key, now_us)))
      untracked = 1;
    if (e && a->lim.max_per_ip && e->conns >= a->lim.max_per_ip)
      refused = &st->refused_ip_conns;
    else if (e && !take_token(a, e, now_us))
      refused = &st->refused_ip_rate;
  }
  if (!refused && per_addr && a->lim.max_half_open_per_group) {
    if (!(g = lookup(a, gkey)) && !(g = insert(a, gkey, now_us)))
      untracked = 1;
    if (g && g->conns >= a->lim.max_half_open_per_group)
      refused = &st->refused_group_half_open;
  }
  if (!refused && over_cap(st->half_open, a->lim.max_half_open, &t->evict_half_open))
    refused = &st->refused_half_open;
  else if (!refused && over_cap(st->inbound, a->lim.max_conns, &t->evict_inbound))
    refused = &st->refused_conns;
  if (refused) {
    (*refused)++;
    if (e)
      drop_if_idle(a, e, now_us);
    if (g)
      drop_if_idle(a, g, now_us);
    return 0;
  }
  if (e)
    e->conns++;
  if (g)
    g->conns++;
  t->entry = e;
  t->group = g;
  t->require_cookie = untracked || st->half_open >= a->lim.load_half_open;
  st->untracked += (uint64_t)untracked;
  return 1;
}

void
nn_admit_handshake_done(nn_admit_t *a, nn_admit_ticket_t *t, uint64_t now_us)
{
  if (!t->group)
    return;
  t->group->conns--;
  drop_if_idle(a, t->group, now_us);
  t->group = NULL;
}

void
nn_admit_release(nn_admit_t *a, nn_admit_ticket_t *t, uint64_t now_us)
{
  nn_admit_handshake_done(a, t, now_us);
  if (!t->entry)
    return;
  t->entry->conns--;
  drop_if_idle(a, t->entry, now_us);
  t->entry = NULL;
}
