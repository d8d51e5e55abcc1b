/*
 * Reachability by dial-back (docs/PROTOCOL.md 10.6), as libp2p's AutoNAT: a node that listens
 * without an advertised address asks peers it dialled to dial back the address they see it at,
 * expecting its node id; reached by two peers, it publishes that address, relays for others and
 * drops its reservations; refused by two and reached by none, it stays reachable through relays.
 *
 * The responder dials only the host the request came from (no one can aim it at a third party),
 * one request per requester a minute, at most four at once, and closes the channel once its
 * handshake proved the requester's id (or failed).
 */
#include <stdio.h>
#include <string.h>

#include "crypto/rand.h"
#include "lib/clock.h"
#include "node/relaynode_int.h"

#define ROUND_MS 20000u            /* a round's answers must come within this */
#define RECHECK_PUBLIC_MS 1800000u /* a public node checks again every 30 min */
#define RECHECK_PRIVATE_MS 600000u /* a private one every 10 min (its NAT may change) */
#define RETRY_MS 30000u            /* a round that decided nothing: again after this */
#define RETRY_BUSY_MS 2000u        /* ... unless peers were busy: again after 2-6 s */
#define NEED 2                     /* peers that must agree */
#define PER_REQUESTER_MS 60000u    /* one dial-back per requester a minute */

const char *
nn_reach_str(nn_reach_t r)
{
  switch (r) {
  case NN_REACH_PUBLIC: return "public";
  case NN_REACH_PRIVATE: return "private";
  case NN_REACH_FIXED: return "advertised";
  default: return "unknown";
  }
}

static void
reply(nn_relaynode_t *t, uint64_t conn, uint64_t nonce, nn_dialback_status_t st, const nn_addr_t *observed)
{
  uint8_t m[NN_DIALBACK_MAX_LEN];
  size_t n = nn_rlmsg_dialback_result(m, nonce, (uint8_t)st, observed);
  if (n)
    (void)nn_net_send(t->net, conn, m, n);
  if (st == NN_DIALBACK_REFUSED || st == NN_DIALBACK_BUSY)
    t->an.dialbacks_refused++;
}

/* May \a id ask now? (and remember that it did) */
static int
rate_ok(an_t *an, const nn_node_id_t *id, uint64_t now)
{
  an_recent_t *oldest = &an->recent[0];
  for (int i = 0; i < AN_RECENT; i++) {
    an_recent_t *r = &an->recent[i];
    if (r->at_ms && !memcmp(r->id.b, id->b, NN_NODE_ID_LEN)) {
      if (now < r->at_ms + PER_REQUESTER_MS)
        return 0;
      r->at_ms = now;
      return 1;
    }
    if (r->at_ms < oldest->at_ms)
      oldest = r;
  }
  oldest->id = *id;
  oldest->at_ms = now;
  return 1;
}

/* The responder: a peer asks us to dial it back. */
static void
on_request(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  nn_net_conn_info_t ci;
  an_dial_t *d = NULL;
  uint64_t dc;
  if (!nn_net_conn_info(t->net, conn, &ci) || !ci.established)
    return;
  const nn_addr_t *seen = ci.addr.type == NN_ADDR_IPV4 || ci.addr.type == NN_ADDR_IPV6 ? &ci.addr : NULL;
  if (!m->n_addrs) {
    reply(t, conn, m->nonce, NN_DIALBACK_OBSERVED, seen);
    return;
  }
  /* only to the host the request came from, and only for a node that proved who it is */
  if (!seen || !ci.has_id || !nn_addr_same_host(&m->addrs[0], seen)) {
    reply(t, conn, m->nonce, NN_DIALBACK_REFUSED, seen);
    return;
  }
  for (int i = 0; i < AN_DIALS && !d; i++)
    if (!t->an.dials[i].used)
      d = &t->an.dials[i];
  if (!d || !rate_ok(&t->an, &ci.id, nn_mono_ms())) {
    reply(t, conn, m->nonce, NN_DIALBACK_BUSY, seen);
    return;
  }
  /* Private: the dial-back is a probe, closed once the handshake proved the id. Offered to the
   * other protocols, gossip would take it as an outbound channel to that node, lose it a moment
   * later and back off from the node's address. */
  if (nn_net_dial_ex(t->net, t->proto, &m->addrs[0], &ci.id, NN_NET_DIAL_PRIVATE, &dc) != NN_OK) {
    reply(t, conn, m->nonce, NN_DIALBACK_UNREACHABLE, seen);
    return;
  }
  d->used = 1;
  d->req_conn = conn;
  d->dial_conn = dc;
  d->nonce = m->nonce;
}

/* The requester: a peer's answer. */
static void
on_result(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  an_t *an = &t->an;
  an_ask_t *a = NULL;
  for (int i = 0; i < an->nask && !a; i++)
    if (an->ask[i].conn == conn && an->ask[i].nonce == m->nonce && !an->ask[i].answered)
      a = &an->ask[i];
  if (!a)
    return; /* not asked, or late */
  a->answered = 1;
  if (m->n_addrs)
    nn_autonat_observed(t, &m->addr);
  if (m->status == NN_DIALBACK_REACHED)
    an->ok++;
  else if (m->status == NN_DIALBACK_UNREACHABLE)
    an->failed++;
  else if (m->status == NN_DIALBACK_BUSY)
    an->busy++;
}

void
nn_autonat_msg(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m)
{
  if (m->kind == NN_RLMSG_DIALBACK)
    on_request(t, conn, m);
  else
    on_result(t, conn, m);
}

static void
finish_dial(nn_relaynode_t *t, uint64_t conn, int reached)
{
  for (int i = 0; i < AN_DIALS; i++) {
    an_dial_t *d = &t->an.dials[i];
    if (!d->used || d->dial_conn != conn)
      continue;
    nn_net_conn_info_t ci;
    const nn_addr_t *seen = NULL;
    if (nn_net_conn_info(t->net, d->req_conn, &ci) && (ci.addr.type == NN_ADDR_IPV4 || ci.addr.type == NN_ADDR_IPV6))
      seen = &ci.addr;
    reply(t, d->req_conn, d->nonce, reached ? NN_DIALBACK_REACHED : NN_DIALBACK_UNREACHABLE, seen);
    t->an.dialbacks_done++;
    if (reached)
      nn_net_close(t->net, conn, 0); /* it proved the id; nothing else to do on it */
    d->used = 0;
  }
}

void
nn_autonat_up(nn_relaynode_t *t, uint64_t conn)
{
  finish_dial(t, conn, 1);
}

void
nn_autonat_down(nn_relaynode_t *t, uint64_t conn)
{
  finish_dial(t, conn, 0); /* a dial-back that never came up */
  for (int i = 0; i < AN_DIALS; i++)
    if (t->an.dials[i].used && t->an.dials[i].req_conn == conn)
      t->an.dials[i].req_conn = 0; /* the requester left: no one to tell */
}

void
nn_autonat_observed(nn_relaynode_t *t, const nn_addr_t *a)
{
  an_t *an = &t->an;
  if (a->type != NN_ADDR_IPV4 && a->type != NN_ADDR_IPV6)
    return;
  if (!an->have_candidate) {
    an->candidate = *a;
    an->have_candidate = 1;
  }
}

typedef struct pick_t {
  nn_relaynode_t *t;
  uint64_t now;
} pick_t;

/* Ask the peer of channel \a c (one we dialled, that proved its id) in this round. */
static void
ask(void *ctx, const nn_net_conn_info_t *c)
{
  pick_t *p = ctx;
  an_t *an = &p->t->an;
  uint8_t m[NN_DIALBACK_MAX_LEN];
  /* not over a relay circuit or TURN: there the peer sees the relay, or the TURN server's
   * relayed address (which lets in only the peers we dialled), not us */
  if (an->nask >= AN_ASK || c->inbound || !c->established || c->closing || !c->has_id ||
      !strcmp(c->transport, "relay") || !strcmp(c->transport, "turn"))
    return;
  for (int i = 0; i < an->nask; i++)
    if (an->ask[i].conn == c->conn)
      return;
  an_ask_t *a = &an->ask[an->nask];
  if (nn_rng_fill(NULL, (uint8_t *)&a->nonce, sizeof(a->nonce)) != NN_OK)
    return;
  if (!an->nask)
    an->round_asks_addr = an->have_candidate; /* the round asks about this address, or only where we are seen */
  if (an->nask && an->round_asks_addr != an->have_candidate)
    return;
  size_t n = nn_rlmsg_dialback(m, a->nonce, an->have_candidate ? &an->candidate : NULL);
  if (!n || nn_net_send(p->t->net, c->conn, m, n) != NN_OK)
    return;
  a->conn = c->conn;
  a->answered = 0;
  an->nask++;
}

static void
decide(nn_relaynode_t *t, uint64_t now)
{
  an_t *an = &t->an;
  char addr[NN_ADDR_STR_MAX];
  nn_addr_format(&an->candidate, addr);
  if (an->ok >= NEED) {
    if (an->state != NN_REACH_PUBLIC || !nn_addr_equal(&an->public_addr, &an->candidate)) {
      an->state = NN_REACH_PUBLIC;
      an->public_addr = an->candidate;
      snprintf(an->why, sizeof(an->why), "%d peers dialled us back at %s: publishing it and relaying for others",
               an->ok, addr);
      nn_rn_log(t, NN_LOG_INFO, "reachable: %s", an->why);
      nn_rn_became_public(t, &an->public_addr);
    }
    an->next_round_ms = now + RECHECK_PUBLIC_MS;
  } else if (an->failed >= NEED && !an->ok) {
    if (an->state == NN_REACH_PUBLIC)
      nn_rn_became_private(t);
    if (an->state != NN_REACH_PRIVATE) {
      snprintf(an->why, sizeof(an->why),
               "%d peers could not dial us back at %s (a NAT or firewall in the way): reachable through relays",
               an->failed, addr);
      nn_rn_log(t, NN_LOG_INFO, "not reachable: %s", an->why);
    }
    an->state = NN_REACH_PRIVATE;
    an->next_round_ms = now + RECHECK_PRIVATE_MS;
  } else {
    if (an->state == NN_REACH_UNKNOWN)
      snprintf(an->why, sizeof(an->why), "asked %d peers to dial us back at %s: %d reached us, %d could not", an->nask,
               an->have_candidate ? addr : "(no address seen yet)", an->ok, an->failed);
    /* Busy peers (a responder dials four at once, and every node behind a NAT asks the same
     * few public ones when they start together) are asked again soon, at a random moment so
     * that the crowd spreads out; a round whose peers answered and disagreed waits longer. */
    uint16_t jitter = 0;
    (void)nn_rng_fill(NULL, (uint8_t *)&jitter, sizeof(jitter));
    an->next_round_ms = now + (an->busy ? RETRY_BUSY_MS + jitter % 4000u : RETRY_MS);
  }
  an->nask = an->ok = an->failed = an->busy = 0;
  an->round_end_ms = 0;
}

void
nn_autonat_tick(nn_relaynode_t *t, uint64_t now)
{
  an_t *an = &t->an;
  if (!t->cfg.autonat || t->detached)
    return;
  if (an->round_end_ms) {
    int answered = 0;
    for (int i = 0; i < an->nask; i++)
      answered += an->ask[i].answered;
    /* a round ends when its answers agree, all came, or its time is up */
    if (an->ok >= NEED || (an->failed >= NEED && !an->ok) || (an->nask && answered == an->nask) ||
        now >= an->round_end_ms) {
      if (!an->round_asks_addr) {
        /* the first round only learnt where we are seen: ask again at once */
        an->nask = an->ok = an->failed = an->busy = 0;
        an->round_end_ms = 0;
        an->next_round_ms = now;
      } else {
        decide(t, now);
      }
    } else if (an->nask < AN_ASK) {
      pick_t p = { t, now };
      nn_net_each(t->net, ask, &p); /* peers that came up meanwhile */
    }
    return;
  }
  if (now < an->next_round_ms)
    return;
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++)
    if (t->resv[i].state == R_HELD && t->resv[i].observed.type)
      nn_autonat_observed(t, &t->resv[i].observed);
  pick_t p = { t, now };
  nn_net_each(t->net, ask, &p);
  if (!an->nask) {
    an->next_round_ms = now + 2000; /* no peer yet */
    return;
  }
  an->round_end_ms = now + ROUND_MS;
}

nn_reach_t
nn_relaynode_reach(const nn_relaynode_t *rn, nn_addr_t *addr, char *why, size_t why_len)
{
  const an_t *an = &rn->an;
  if (addr)
    *addr = an->state == NN_REACH_PUBLIC ? an->public_addr : an->candidate;
  if (why)
    snprintf(why, why_len, "%s", an->why);
  return (nn_reach_t)an->state;
}

nn_nat_mapping_t
nn_relaynode_tcp_mapping(const nn_relaynode_t *rn, nn_addr_t *seen, unsigned *nrelays)
{
  const nn_addr_t *first = NULL, *first_relay = NULL;
  unsigned n = 0;
  int differ = 0, two_hosts = 0;
  for (int i = 0; i < NN_RELAYNODE_MAX_RESV; i++) {
    const resv_t *v = &rn->resv[i];
    if (v->state != R_HELD || !v->observed.type || !v->observed.port)
      continue;
    n++;
    if (!first) {
      first = &v->observed;
      first_relay = &v->addr;
      continue;
    }
    two_hosts |= !nn_addr_same_host(first_relay, &v->addr);
    differ |= !nn_addr_equal(first, &v->observed);
  }
  if (seen) {
    if (first)
      *seen = *first;
    else
      memset(seen, 0, sizeof(*seen));
  }
  if (nrelays)
    *nrelays = n;
  /* our dials leave from the listen port only when we punch: otherwise every channel has a port
   * of its own and the ports say nothing about the NAT */
  if (!first || !rn->cfg.punch || !rn->cfg.punch_from.port)
    return NN_NAT_MAP_UNKNOWN;
  if (!nn_addr_is_any(&rn->cfg.punch_from) && nn_addr_equal(first, &rn->cfg.punch_from) && !differ)
    return NN_NAT_MAP_NONE;
  if (differ)
    return NN_NAT_MAP_ADM; /* at least: two hosts cannot tell it from address and port-dependent */
  return two_hosts ? NN_NAT_MAP_EIM : NN_NAT_MAP_UNKNOWN;
}

void
nn_relaynode_dialbacks(const nn_relaynode_t *rn, uint64_t *done, uint64_t *refused)
{
  *done = rn->an.dialbacks_done;
  *refused = rn->an.dialbacks_refused;
}
