/*
 * The node: the connection manager with its TCP transport and listener, discovery and gossip as
 * its tenants, the received-transaction window and the control API, on one event loop (node.h).
 * The public, embeddable face (settings, own thread) is embed.c.
 */
#include "node/node.h"

#include "nepnet/nepnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/sha3.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "net/tcp.h"
#include "node/events.h"
#include "node/history.h"
#include "node/stemtrace.h"

typedef struct rx_t {
  uint64_t seq, unix_ms;
  nn_hash_t id;
  uint8_t *data;
  size_t len;
  nn_dl_via_t via;
  char from[65];
} rx_t;

struct nn_node_t {
  struct event_base *base;
  const nn_identity_t *identity;
  nn_node_cfg_t cfg;
  char *datadir, *addr_file, *token_file, *preset, *mix_keys, *mix_replay;
  uint64_t mix_submitted;
  uint32_t network;
  nn_log_t log;
  nn_net_t *net;
  nn_disco_t *disco;
  nn_gossip_t *gossip;
  nn_mixnode_t *mixnode;
  nn_relaynode_t *relay;
  nn_stunnode_t *stun;
  nn_turnnode_t *turn;
  nn_tornode_t *tor;
  nn_i2pnode_t *i2p;
  nn_owntx_t *own;       /* our own transactions' timelines (memory only) */
  nn_events_t *events;   /* what happened, for GET /v1/events (memory only) */
  nn_history_t *history; /* the last hour in samples, for GET /v1/history */
  nn_stemtrace_t *trace; /* regtest only: the stems of others we passed on (stemtrace.h) */
  struct event *watch;   /* once a second: epochs, the DHT's bootstrap, history samples */
  uint64_t watch_epochs, watch_next_sample_ms;
  char watch_relays[2][65];
  int watch_boot;
  nn_addr_t overlay[2]; /* our onion and I2P addresses, as published (type 0: none) */
  nn_transport_t *tcp;  /* owned by net */
  nn_addr_t bound;      /* our listener's address (type 0: none) */
  int punch_on;         /* we try hole punches (a listener to punch from) */
  nn_api_t *api;
  rx_t *rx; /* ring of rx_max_count */
  size_t rx_head, rx_n, rx_bytes;
  uint64_t rx_seq, tx_received;
  uint64_t start_mono_ms;
  char hexid[65];
  void *host; /* embed.c's state when started with nn_node_start */
};

/* ---- the log of every layer ---- */

static void
log_sink(void *ctx, int level, const char *module, const char *line)
{
  nn_node_t *n = ctx;
  if (n->cfg.log)
    n->cfg.log(n->cfg.log_ctx, level, module, line);
  else
    fprintf(stderr, "nepnetd %.16s %s: %s\n", n->hexid, module, line);
}

/* ---- received transactions ---- */

static void
rx_drop_oldest(nn_node_t *n)
{
  rx_t *r = &n->rx[n->rx_head];
  n->rx_bytes -= r->len;
  free(r->data);
  r->data = NULL;
  n->rx_head = (n->rx_head + 1) % n->cfg.rx_max_count;
  n->rx_n--;
}

/* ---- events ---- */

static void
event(nn_node_t *n, const char *type, json_t *fields)
{
  if (nn_events_add(n->events, type, fields, nn_unix_ms()) && n->api)
    nn_api_notify(n->api);
}

/* A step of one of ours: its timeline, and an event (the id only inside the API: never logged). */
static void
own_step(nn_node_t *n, const nn_hash_t *id, const char *what, const nn_node_id_t *peer, const char *detail, int state)
{
  char hid[65], hp[65];
  const nn_owntx_entry_t *e;
  if (!n->own || !nn_owntx_step(n->own, id, what, peer, detail, state, nn_unix_ms()))
    return;
  if (!strcmp(what, "stem")) {
    uint64_t at = nn_dl_embargo_at(nn_gossip_dl(n->gossip), id), now = nn_mono_ms();
    if (at)
      nn_owntx_set_embargo(n->own, id, nn_unix_ms() + (at > now ? at - now : 0));
  }
  if (!(e = nn_owntx_find(n->own, id)))
    return;
  nn_hex_encode(hid, id->b, NN_HASH_LEN);
  if (peer)
    nn_hex_encode(hp, peer->b, NN_NODE_ID_LEN);
  event(n, "own-tx",
        json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:I}", "id", hid, "what", what, "peer", peer ? hp : NULL, "detail",
                  detail, "state", nn_owntx_state_str(e->state), "embargo_unix_ms", (json_int_t)e->embargo_unix_ms));
}

static void
on_deliver(void *ctx, const uint8_t *tx, size_t len, nn_dl_via_t via, const nn_node_id_t *from)
{
  nn_node_t *n = ctx;
  uint8_t *copy = len <= n->cfg.rx_max_bytes ? malloc(len) : NULL;
  n->tx_received++;
  if (n->trace && (via == NN_DL_VIA_STEM_FLUFF || via == NN_DL_VIA_EMBARGO)) { /* the stem phase ended here */
    nn_hash_t id;
    if (nn_sha3_256(&id, tx, len) == NN_OK && !(n->own && nn_owntx_find(n->own, &id)))
      nn_stemtrace_add(n->trace, &id, from, NULL, via == NN_DL_VIA_STEM_FLUFF ? "fluffed" : "embargo", nn_unix_ms());
  }
  if (n->own && nn_owntx_count(n->own)) { /* one of ours, in the mempool: how it got there */
    nn_hash_t id;
    if (nn_sha3_256(&id, tx, len) == NN_OK && nn_owntx_find(n->own, &id)) {
      if (via == NN_DL_VIA_EMBARGO)
        own_step(n, &id, "embargo-fired", NULL, "not seen back in time: we broadcast it ourselves", NN_OWNTX_EMBARGOED);
      else if (via == NN_DL_VIA_DIRECT)
        own_step(n, &id, "direct", NULL, "route direct: we broadcast it at once", NN_OWNTX_DIRECT);
      else
        own_step(n, &id, "seen-back", from,
                 via == NN_DL_VIA_FLUFF ? "via fluff: another node announced it" : nn_dl_via_str(via),
                 NN_OWNTX_PROPAGATED);
    }
  }
  if (!copy)
    return;
  while (n->rx_n && (n->rx_n == n->cfg.rx_max_count || n->rx_bytes + len > n->cfg.rx_max_bytes))
    rx_drop_oldest(n);
  rx_t *r = &n->rx[(n->rx_head + n->rx_n) % n->cfg.rx_max_count];
  memset(r, 0, sizeof(*r));
  r->seq = ++n->rx_seq;
  r->unix_ms = nn_unix_ms();
  memcpy(copy, tx, len);
  r->data = copy;
  r->len = len;
  r->via = via;
  (void)nn_sha3_256(&r->id, tx, len);
  if (from)
    nn_hex_encode(r->from, from->b, NN_NODE_ID_LEN);
  n->rx_n++;
  n->rx_bytes += len;
  if (n->cfg.on_tx) {
    nn_node_tx_t t = { .data = r->data, .len = len, .seq = r->seq, .unix_ms = r->unix_ms, .via = nn_dl_via_str(via) };
    memcpy(t.id, r->id.b, 32);
    memcpy(t.from, r->from, sizeof(t.from));
    n->cfg.on_tx(n->cfg.tx_ctx, &t);
  }
  if (n->api)
    nn_api_notify(n->api);
}

size_t
nn_node_received(nn_node_t *n, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next)
{
  size_t k = 0;
  *next = since;
  for (size_t i = 0; i < n->rx_n && k < max; i++) {
    rx_t *r = &n->rx[(n->rx_head + i) % n->cfg.rx_max_count];
    if (r->seq < since)
      continue;
    nn_api_rx_t *o = &out[k++];
    o->seq = r->seq;
    o->id = r->id;
    o->tx = r->data;
    o->len = r->len;
    o->unix_ms = r->unix_ms;
    o->via = nn_dl_via_str(r->via);
    memcpy(o->from, r->from, sizeof(o->from));
    *next = r->seq + 1;
  }
  if (!k && max) /* nothing at or after since: the next one will be rx_seq + 1 (also for a
                    client whose since is from before a restart) */
    *next = n->rx_seq + 1;
  return k;
}

/* ---- what the node reports ---- */

nn_err_t
nn_node_submit_here(nn_node_t *n, const uint8_t *tx, size_t len, nn_hash_t *id)
{
  nn_err_t e;
  if (len && (e = nn_sha3_256(id, tx, len)))
    return e;
  nn_route_t route = n->cfg.gossip.dl.route;
  int mix = !n->cfg.gossip.tx_proxy && (route == NN_ROUTE_MIXNET || route == NN_ROUTE_DANDELION_MIXNET);
  const char *rs = n->cfg.gossip.tx_proxy ? "tx-proxy (Tor/I2P peers only)" : nn_route_str(route);
  if (!len)
    return NN_ERR_ARG;
  if (len > n->cfg.gossip.dl.max_tx_bytes)
    return NN_ERR_TOO_LONG;
  if (mix && !n->mixnode) /* held, not leaked: the caller hears why */
    return NN_ERR_PERM;
  /* the timeline first: the first steps (a stem, a direct broadcast) happen inside the submit */
  nn_owntx_add(n->own, id, len, n->cfg.gossip.tx_proxy ? "tx-proxy" : nn_route_str(route), nn_unix_ms(), nn_mono_ms());
  {
    char hid[65];
    nn_hex_encode(hid, id->b, NN_HASH_LEN);
    event(
      n, "own-tx",
      json_pack("{s:s, s:s, s:s, s:I}", "id", hid, "what", "submitted", "state", "submitted", "len", (json_int_t)len));
  }
  if (mix) {
    e = nn_mixnode_send(n->mixnode, tx, len, route == NN_ROUTE_MIXNET);
    if (!e) {
      n->mix_submitted++;
      own_step(n, id, "mixnet", NULL, "handed to the mixnet: its exit broadcasts it", NN_OWNTX_MIXNET);
    }
  } else {
    e = nn_gossip_submit(n->gossip, tx, len);
  }
  if (e) {
    own_step(n, id, "refused", NULL, nn_err_str(e), NN_OWNTX_DROPPED);
    return e;
  }
  const nn_owntx_entry_t *oe = nn_owntx_find(n->own, id);
  if (oe && oe->nsteps == 1 && !n->cfg.gossip.tx_proxy && !mix) /* nothing left, nothing said: say why */
    own_step(n, id, "waiting", NULL, "no stem relay this epoch (no outbound peer yet): held, the embargo covers it",
             -1);
  /* users paste logs into support chats: the id of our own transaction only at DEBUG */
  nn_log(&n->log, NN_LOG_INFO, "node", "submitted a transaction (%zu bytes), route %s", len, rs);
  if (nn_log_enabled(&n->log, NN_LOG_DEBUG)) {
    char h[17];
    nn_hex_encode(h, id->b, 8);
    nn_log(&n->log, NN_LOG_DEBUG, "node", "our transaction %s: nepnet tx %s... shows its timeline", h, h);
  }
  return NN_OK;
}

void
nn_node_stats(const nn_node_t *n, nn_node_stats_t *st)
{
  nn_gossip_stats(n->gossip, &st->gossip);
  st->tx_received = n->tx_received;
}

nn_err_t
nn_node_status_here(nn_node_t *n, nn_node_status_t *st)
{
  nn_gossip_stats_t gs;
  nn_disco_stats_t ds;
  nn_dl_stats_t dls;
  nn_dl_t *dl = nn_gossip_dl(n->gossip);
  uint64_t now = nn_mono_ms(), end = nn_dl_epoch_end(dl);
  memset(st, 0, sizeof(*st));
  nn_gossip_stats(n->gossip, &gs);
  nn_disco_stats(n->disco, &ds);
  nn_dl_stats(dl, &dls);
  memcpy(st->node_id, n->hexid, sizeof(st->node_id));
  snprintf(st->network, sizeof(st->network), "%s", nn_network_str(n->network));
  nn_disco_peer_string(n->disco, st->peer, sizeof(st->peer));
  snprintf(st->preset, sizeof(st->preset), "%s", n->cfg.preset ? n->cfg.preset : "");
  snprintf(st->route, sizeof(st->route), "%s", nn_route_str(n->cfg.gossip.dl.route));
  st->uptime_s = (now - n->start_mono_ms) / 1000;
  st->peers_in = (uint32_t)gs.peers_in;
  st->peers_out = (uint32_t)gs.peers_out;
  st->dialing = (uint32_t)gs.dialing;
  st->channels = (uint32_t)ds.channels;
  st->dht_size = (uint32_t)ds.table_size;
  st->bootstrapped = ds.bootstrapped;
  st->bytes_in = gs.bytes_in;
  st->bytes_out = gs.bytes_out;
  st->fluff_epoch = nn_dl_fluff_epoch(dl);
  st->epoch_ends_in_s = end > now ? (end - now) / 1000 : 0;
  uint32_t relays[2];
  size_t nr = nn_dl_relays(dl, relays);
  for (size_t i = 0; i < nr; i++) {
    nn_node_id_t id;
    if (nn_gossip_relay(n->gossip, i, &id))
      nn_hex_encode(st->relays[i], id.b, NN_NODE_ID_LEN);
  }
  st->n_relays = (uint32_t)nr;
  st->mempool_count = dls.mem_count;
  st->mempool_bytes = dls.mem_bytes;
  st->stempool_count = dls.stem_count;
  st->stempool_bytes = dls.stem_bytes;
  st->tx_received = n->tx_received;
  st->tx_submitted = gs.tx_submitted + n->mix_submitted;
  st->rx_seq = n->rx_seq;
  if (n->mixnode) {
    nn_mixnode_stats_t ms;
    nn_mixnode_stats(n->mixnode, &ms);
    st->mix = ms.mix;
    st->mix_epoch = ms.epoch;
    st->mixes = (uint32_t)ms.view;
    st->mix_packets_in = ms.packets_in;
    st->mix_packets_out = ms.packets_out;
  }
  return NN_OK;
}

size_t
nn_node_peers_here(nn_node_t *n, nn_node_peer_t *out, size_t max)
{
  nn_gossip_peer_t *ps = max ? malloc(max * sizeof(*ps)) : NULL;
  size_t k = ps ? nn_gossip_peers(n->gossip, ps, max) : 0;
  uint64_t now = nn_mono_ms();
  for (size_t i = 0; i < k; i++) {
    nn_node_peer_t *o = &out[i];
    memset(o, 0, sizeof(*o));
    if (ps[i].has_id)
      nn_hex_encode(o->node_id, ps[i].id.b, NN_NODE_ID_LEN);
    nn_addr_format(&ps[i].addr, o->addr);
    nn_net_conn_info_t ci;
    if (nn_net_conn_info(n->net, ps[i].conn, &ci))
      snprintf(o->path, sizeof(o->path), "%s", ci.moved ? "punched" : ci.transport);
    if (!ps[i].outbound && !strcmp(o->path, "tor"))
      snprintf(o->addr, sizeof(o->addr), "%s", "onion-service"); /* tor hides where it came from */
    o->outbound = ps[i].outbound;
    o->since_s = (now - ps[i].since_ms) / 1000;
    o->bytes_in = ps[i].bytes_in;
    o->bytes_out = ps[i].bytes_out;
    o->stems_in = ps[i].stems_in;
    o->stems_out = ps[i].stems_out;
    o->stem_relay = ps[i].stem_relay;
  }
  free(ps);
  return k;
}

/* The Prometheus metrics (docs/API.md lists them). */
static size_t
node_metrics(nn_node_t *n, nn_api_metric_t *m, size_t max)
{
  nn_gossip_stats_t gs;
  nn_disco_stats_t ds;
  nn_dl_stats_t dls;
  nn_dl_t *dl = nn_gossip_dl(n->gossip);
  nn_dht_store_stats_t ss;
  size_t k = 0;
  nn_gossip_stats(n->gossip, &gs);
  nn_disco_stats(n->disco, &ds);
  nn_dl_stats(dl, &dls);
  nn_dht_store_stats(nn_disco_dht(n->disco), &ss);
#define M(nm, hp, ctr, lb, v)                                                                                          \
  do {                                                                                                                 \
    if (k < max)                                                                                                       \
      m[k++] = (nn_api_metric_t){ nm, hp, ctr, lb, (uint64_t)(v) };                                                    \
  } while (0)
  M("peers", "Gossip peers by direction.", 0, "direction=\"in\"", gs.peers_in);
  M("peers", "Gossip peers by direction.", 0, "direction=\"out\"", gs.peers_out);
  M("uptime_seconds", "Seconds since the node started.", 0, NULL, (nn_mono_ms() - n->start_mono_ms) / 1000);
  M("channels", "Open secure channels (DHT and gossip).", 0, NULL, ds.channels);
  M("dht_table_size", "Contacts in the DHT routing table.", 0, NULL, ds.table_size);
  M("dht_values", "Peer records stored.", 0, NULL, ds.values);
  M("dht_store_refused_total", "STOREs refused before a signature check or for lack of room.", 1, "reason=\"rate\"",
    ss.refused_rate);
  M("dht_store_refused_total", "STOREs refused before a signature check or for lack of room.", 1, "reason=\"quota\"",
    ss.refused_quota);
  M("dht_store_refused_total", "STOREs refused before a signature check or for lack of room.", 1, "reason=\"full\"",
    ss.refused_full);
  M("dht_store_verified_total", "Signature checks of stored peer records.", 1, NULL, ss.verified);
  M("dht_values_evicted_total", "Stored peer records replaced by ones closer to our id.", 1, NULL, ss.evicted);
  M("epoch_fluff", "1 in a Dandelion++ fluff epoch, 0 in a stem epoch.", 0, NULL, nn_dl_fluff_epoch(dl));
  M("mempool_transactions", "Transactions in the mempool.", 0, NULL, dls.mem_count);
  M("mempool_bytes", "Bytes in the mempool.", 0, NULL, dls.mem_bytes);
  M("stempool_bytes", "Bytes in the stempool.", 0, NULL, dls.stem_bytes);
  M("stempool_transactions", "Transactions in the stempool.", 0, NULL, dls.stem_count);
  M("gossip_bytes_in_total", "Gossip bytes received.", 1, NULL, gs.bytes_in);
  M("gossip_bytes_out_total", "Gossip bytes sent.", 1, NULL, gs.bytes_out);
  M("dht_messages_in_total", "DHT messages received.", 1, NULL, ds.msgs_in);
  M("dht_messages_out_total", "DHT messages sent.", 1, NULL, ds.msgs_out);
  M("transactions_received_total", "Transactions that entered the mempool.", 1, NULL, n->tx_received);
  M("transactions_submitted_total", "Transactions submitted through the API.", 1, NULL, gs.tx_submitted);
  if (n->cfg.gossip.tx_proxy) {
    M("tx_proxy_held", "Our own transactions held by tx-proxy until seen back (sent or waiting).", 0, NULL,
      gs.own_held);
    M("tx_proxy_waiting", "Our own transactions waiting for a Tor/I2P peer (none sent yet).", 0, NULL, gs.own_waiting);
    M("tx_proxy_sent_total", "STEMs of our own sent to Tor/I2P peers (resends included).", 1, NULL, gs.own_sent);
    M("tx_proxy_dropped_total", "Our own transactions given up, unseen after an hour.", 1, NULL, gs.own_dropped);
    M("private_broadcast_dialled_total", "One-use anonymous channels dialled for our own transactions.", 1, NULL,
      gs.pb_dialled);
    M("private_broadcast_sent_total", "... that carried our transaction.", 1, NULL, gs.pb_sent);
    M("private_broadcast_failed_total", "... that did not (no channel, refused, closed first).", 1, NULL, gs.pb_failed);
  }
  M("stems_in_total", "Stem transactions received.", 1, NULL, dls.stems_in);
  M("stems_out_total", "Stem transactions relayed or sent.", 1, NULL, dls.stems_out);
  M("stems_fluffed_total", "Stem transactions this node fluffed.", 1, NULL, dls.stem_fluffed);
  M("embargo_fired_total", "Embargo timers that fired.", 1, NULL, dls.embargo_fired);
  if (n->relay) {
    nn_relaynode_stats_t rs;
    nn_relaynode_stats(n->relay, &rs);
    M("relay_reservations", "Nodes reachable through us as a relay.", 0, NULL, rs.relay.reservations);
    M("relay_circuits", "Circuits through us now.", 0, NULL, rs.relay.circuits);
    M("relay_bytes_total", "Bytes we relayed, both directions.", 1, NULL, rs.relay.bytes);
    M("relay_violations_total", "Relay protocol violations (each ended its circuit).", 1, NULL, rs.relay.violations);
    M("relay_circuits_opened_total", "Circuits through us that reached ACCEPT.", 1, NULL, rs.relay.opened);
    /* every circuit that ended, by why: "full" and "bytes" are the caps that abuse runs into */
    static const char *const end_lb[NN_RELAY_END_MAX] = {
      NULL,
      "reason=\"closed\"",
      "reason=\"refused\"",
      "reason=\"no_target\"",
      "reason=\"full\"",
      "reason=\"bytes\"",
      "reason=\"time\"",
      "reason=\"violation\"",
      "reason=\"gone\"",
    };
    for (int r = 1; r < NN_RELAY_END_MAX; r++)
      M("relay_circuits_ended_total", "Circuits through us that ended, by reason.", 1, end_lb[r], rs.relay.ended[r]);
    static const char *const refused_lb[NN_RELAY_STATUS_MAX] = {
      NULL,
      "status=\"no_service\"",
      "status=\"full\"",
      "status=\"anonymous\"",
    };
    for (int r = 1; r < NN_RELAY_STATUS_MAX; r++)
      M("relay_reservations_refused_total", "RESERVEs we refused, by status.", 1, refused_lb[r], rs.relay.refused[r]);
    M("nat_reservations", "Relays we are reachable through.", 0, NULL, rs.reservations);
    M("nat_relayed_streams", "Our channels through a relay now (punched ones included).", 0, NULL, rs.streams);
    M("nat_punched_total", "Relayed channels of ours that moved to a hole-punched connection.", 1, NULL, rs.punched);
    M("nat_punch_failed_total", "Relayed channels of ours that stayed relayed after every punch attempt.", 1, NULL,
      rs.punch_failed);
    M("nat_reachability", "What dial-back found: 0 unknown, 1 public, 2 private, 3 advertised (not asked).", 0, NULL,
      nn_relaynode_reach(n->relay, NULL, NULL, 0));
  }
  if (n->stun) {
    nn_stunnode_status_t su;
    nn_stunnode_status(n->stun, &su);
    M("stun_answered_total", "STUN Binding requests we answered.", 1, NULL, su.server.answered);
    M("stun_errors_sent_total", "STUN error answers we sent (unknown attributes, bad requests).", 1, NULL,
      su.server.errors_sent);
#define D(why, v) M("stun_dropped_total", "STUN datagrams dropped unanswered, by reason.", 1, "reason=\"" why "\"", v)
    D("not_stun", su.server.not_stun);
    D("malformed", su.server.malformed);
    D("not_binding_request", su.server.not_binding_request);
    D("rate_limited", su.server.rate_limited);
    D("overloaded", su.server.overloaded);
#undef D
  }
  if (n->turn) {
    nn_turnnode_status_t ts;
    nn_turnnode_status(n->turn, &ts);
    M("turn_state", "Our TURN allocation: 0 idle, 1 allocating, 2 allocated, 3 failed.", 0, NULL, ts.state);
    M("turn_engaged", "Dials go through the TURN server (1) or not (0).", 0, NULL, ts.engaged);
    M("turn_streams", "Our streams through the TURN server now.", 0, NULL, ts.streams);
    M("turn_dialled_total", "Streams opened through the TURN server.", 1, NULL, ts.dialled);
    M("turn_dial_failures_total", "Dials through the TURN server that failed.", 1, NULL, ts.dial_failed);
    M("turn_bytes_in_total", "Stream bytes received through the TURN server.", 1, NULL, ts.bytes_in);
    M("turn_bytes_out_total", "Stream bytes sent through the TURN server.", 1, NULL, ts.bytes_out);
    M("turn_malformed_total", "TURN server messages dropped (malformed, unmatched, bad integrity).", 1, NULL,
      ts.turn.malformed);
  }
  if (n->tor) {
    nn_tornode_status_t to;
    nn_tornode_status(n->tor, &to);
    M("tor_control_up", "The tor control connection is authenticated (1) or not (0).", 0, NULL, to.ctl_up);
    M("tor_onion_up", "Our onion service is published (1) or not (0).", 0, NULL, to.onion.type != 0);
    M("tor_control_connects_total", "Connections made to tor's control port.", 1, NULL, to.ctl_connects);
    M("tor_streams", "Our streams through tor now (both directions).", 0, NULL, to.streams);
    M("tor_dialled_total", "Streams opened through tor's SOCKS port.", 1, NULL, to.dialled);
    M("tor_dial_failures_total", "Streams through tor that did not open.", 1, NULL, to.dial_failed);
    M("tor_socks_failures_total", "SOCKS failures, by kind (onion: Tor's F0-F7 codes).", 1, "kind=\"onion\"",
      to.socks_fail_onion);
    M("tor_socks_failures_total", "SOCKS failures, by kind (onion: Tor's F0-F7 codes).", 1, "kind=\"other\"",
      to.socks_fail_other);
    M("tor_accepted_total", "Streams in through our onion service.", 1, NULL, to.accepted);
    M("tor_bytes_in_total", "Stream bytes received through tor.", 1, NULL, to.bytes_in);
    M("tor_bytes_out_total", "Stream bytes sent through tor.", 1, NULL, to.bytes_out);
  }
  if (n->i2p) {
    nn_i2pnode_status_t is;
    nn_i2pnode_status(n->i2p, &is);
    M("i2p_session_up", "Our I2P session is up (1) or not (0).", 0, NULL, is.session_up);
    M("i2p_sessions_total", "I2P sessions created (the first, and after each drop).", 1, NULL, is.sessions);
    M("i2p_streams", "Our streams through the SAM bridge now (accept sockets included).", 0, NULL, is.streams);
    M("i2p_dialled_total", "Streams opened to I2P destinations.", 1, NULL, is.dialled);
    M("i2p_dial_failures_total", "Dials to I2P destinations that did not open (lookups included).", 1, NULL,
      is.dial_failed);
    M("i2p_lookup_failures_total", "Names the router did not find, or answered with another destination.", 1, NULL,
      is.lookup_failed);
    M("i2p_accepted_total", "Streams in at our I2P destination.", 1, NULL, is.accepted);
    M("i2p_bytes_in_total", "Stream bytes received over I2P.", 1, NULL, is.bytes_in);
    M("i2p_bytes_out_total", "Stream bytes sent over I2P.", 1, NULL, is.bytes_out);
  }
  M("epochs_total", "Dandelion++ epochs begun.", 1, NULL, dls.epochs);
  M("bad_messages_total", "Gossip messages that closed a channel.", 1, NULL, gs.bad_msgs);
  M("penalties_total", "Penalties passed to the peer store.", 1, NULL, ds.penalties);
  M("bans_total", "Peers banned (identified nodes, and the anonymous peers of a host).", 1, NULL, ds.bans);
  M("refused_full_total", "HELLOs refused or refused to us for lack of slots.", 1, NULL, gs.refused_full);
  M("dials_total", "Outbound gossip dials.", 1, NULL, gs.dials);
  M("dial_failures_total", "Outbound gossip dials that failed.", 1, NULL, gs.dial_failures);
  M("unsolicited_tx_total", "TXs dropped because we had not asked that peer for them.", 1, NULL, gs.unsolicited);
  M("stems_dropped_total", "STEMs dropped by the per-peer rate limit.", 1, NULL, gs.stems_dropped);
  M("inv_ignored_total", "Announced ids not requested because a request cap was reached.", 1, NULL, dls.inv_ignored);
  const nn_net_stats_t *ns = nn_net_stats(n->net);
  M("unknown_kind_total", "Messages of a kind no protocol here speaks (each closed its channel).", 1, NULL,
    ns->unknown_kind);
  M("dials_refused_net_total", "Dials not made: the address is on a network onlynet leaves out.", 1, NULL,
    ns->dials_refused_net);
  M("channels_dialled_total", "Outbound channels started, for every protocol (what a wire observer counts).", 1, NULL,
    ns->dials);
  M("channels_accepted_total", "Inbound streams accepted.", 1, NULL, ns->accepted);
  M("channels_trimmed_total", "Idle outbound channels closed by the max-channels cap.", 1, NULL, ns->trimmed);
  M("output_bytes", "Unsent output of every channel (budget: net output_budget).", 0, NULL, ns->output);
  M("reassembly_bytes", "Partial incoming messages held (budget: net reassembly_budget).", 0, NULL, ns->reassembly);
  M("backlog_bytes", "Requests held while their peer leaves replies unread.", 0, NULL, ns->backlog);
  M("sends_refused_total", "Messages not sent: a channel's or the node's output cap.", 1, NULL, ns->send_refused);
  M("channels_closed_slow_total", "Channels closed for leaving output unread or a message unfinished.", 1, NULL,
    ns->closed_stalled + ns->closed_message_time + ns->evicted_reassembly + ns->evicted_backlog);
  M("channels_closed_idle_total", "Inbound channels closed after idling unheld.", 1, NULL, ns->closed_idle);
  M("handshakes_half_open", "Inbound handshakes under way.", 0, NULL, ns->half_open);
  M("handshake_workers", "Threads that run handshake crypto beside the event loop (0: the loop does).", 0, NULL,
    ns->hs_workers);
  M("handshake_steps_offloaded_total", "Handshake steps run on a worker thread.", 1, NULL, ns->hs_offloaded);
  M("handshake_steps_out", "Handshake steps out on workers now.", 0, NULL, ns->hs_out);
#define R(why, v)                                                                                                      \
  M("inbound_refused_total", "Inbound connections refused before any handshake work.", 1, "reason=\"" why "\"", v)
  R("per_ip_connections", ns->refused_ip_conns);
  R("per_ip_rate", ns->refused_ip_rate);
  R("per_group_half_open", ns->refused_group_half_open);
  R("half_open", ns->refused_half_open);
  R("connections", ns->refused_conns);
  R("banned", ns->refused_policy);
#undef R
  M("inbound_evicted_total", "Inbound connections closed to make room for a newcomer.", 1, "state=\"half_open\"",
    ns->evicted_half_open);
  M("inbound_evicted_total", "Inbound connections closed to make room for a newcomer.", 1, "state=\"open\"",
    ns->evicted_inbound);
  if (n->mixnode) {
    /* the mix core's drop reasons (nn_mix_drop_t), as labels */
    static const char *const drop_labels[NN_MIX_DROPS] = {
      NULL,
      NULL,
      "reason=\"bad_length\"",
      "reason=\"bad_version\"",
      "reason=\"bad_ct\"",
      "reason=\"bad_mac\"",
      "reason=\"bad_command\"",
      "reason=\"tagged\"",
      "reason=\"crypto\"",
      "reason=\"unknown_epoch\"",
      "reason=\"replay\"",
      "reason=\"delay\"",
      "reason=\"full\"",
      "reason=\"peer_full\"",
      "reason=\"not_a_mix\"",
    };
    nn_mixnode_stats_t mx;
    nn_mixnode_stats(n->mixnode, &mx);
    M("mix_role", "1: this node is a mix (and an exit); 0: a client of the mixnet.", 0, NULL, mx.mix);
    M("mix_epoch", "The mixnet's key epoch now.", 0, NULL, mx.epoch);
    M("mix_directory_mixes", "Mixes in this epoch's directory view.", 0, NULL, mx.view);
    M("mix_packets_in_total", "Mixnet packets received.", 1, NULL, mx.packets_in);
    M("mix_packets_out_total", "Mixnet packets sent (passed on, and our own).", 1, NULL, mx.packets_out);
    M("mix_packets_mixed_total", "Packets this mix passed on.", 1, NULL, mx.core.forwarded);
    M("mix_packets_delivered_total", "Packets whose last hop was this node.", 1, NULL, mx.core.delivered);
    for (int r = 2; r < NN_MIX_DROPS; r++)
      M("mix_packets_dropped_total", "Mixnet packets dropped, by reason.", 1, drop_labels[r], mx.core.dropped[r]);
    M("mix_packets_unreachable_total", "Packets whose next hop could not be reached in time.", 1, NULL, mx.unreachable);
    M("mix_cover_bytes_out_total", "Bytes of our own mixnet packets (cover and real).", 1, NULL, mx.cover_bytes_out);
    M("mix_loops_sent_total", "Loop packets sent.", 1, NULL, mx.client.loops_sent);
    M("mix_loops_back_total", "Loop packets that came back.", 1, NULL, mx.client.loops_back);
    M("mix_loops_lost_total", "Loop packets not back in time.", 1, NULL, mx.client.loops_lost);
    M("mix_messages_out_total", "Messages that left the mixnet here (this node was their exit).", 1, NULL,
      mx.messages_out);
  }
#undef M
  return k;
}

/* ---- the API's view ---- */

static nn_err_t
api_submit(void *ctx, const uint8_t *tx, size_t len, nn_hash_t *id, const char **mode)
{
  nn_node_t *n = ctx;
  nn_err_t e = nn_node_submit_here(n, tx, len, id);
  if (!e)
    *mode = nn_route_str(n->cfg.gossip.dl.route);
  return e;
}

static size_t
api_received(void *ctx, uint64_t since, nn_api_rx_t *out, size_t max, uint64_t *next)
{
  return nn_node_received(ctx, since, out, max, next);
}

static nn_err_t
api_status(void *ctx, nn_node_status_t *st)
{
  return nn_node_status_here(ctx, st);
}
static size_t
api_peers(void *ctx, nn_node_peer_t *out, size_t max)
{
  return nn_node_peers_here(ctx, out, max);
}
static size_t
api_metrics(void *ctx, nn_api_metric_t *m, size_t max)
{
  return node_metrics(ctx, m, max);
}

/* ---- creation ---- */

void
nn_node_cfg_default(nn_node_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  nn_net_cfg_default(&cfg->net);
  nn_disco_cfg_default(&cfg->disco);
  nn_gossip_cfg_default(&cfg->gossip);
  cfg->mixnet = 1;
  nn_mixnode_cfg_default(&cfg->mix);
  nn_relaynode_cfg_default(&cfg->relay);
  cfg->relay.service = cfg->relay.reserve = -1;
  cfg->stun = cfg->turn = cfg->onion = cfg->i2p_inbound = -1;
  (void)nn_mixnode_cover_preset(&cfg->mix, "off"); /* cover costs bandwidth: on with a mixnet route or on request */
  cfg->listen = "0.0.0.0:9800";
  cfg->rx_max_count = 1024;
  cfg->rx_max_bytes = 16u << 20;
  cfg->api_enabled = 1;
  nn_api_cfg_default(&cfg->api);
  cfg->preset = "balanced";
  cfg->log_level = NN_LOG_INFO;
}

static char *
path_join(const char *dir, const char *name)
{
  size_t l = strlen(dir) + strlen(name) + 2;
  char *p = malloc(l);
  if (p)
    snprintf(p, l, "%s/%s", dir, name);
  return p;
}

static nn_err_t
check_cfg(const nn_node_cfg_t *cfg, char *why, size_t why_len)
{
  if (!cfg->rx_max_count) {
    snprintf(why, why_len, "rx_max_count must be positive");
    return NN_ERR_ARG;
  }
  if (!cfg->gossip.dl.max_tx_bytes || cfg->gossip.dl.max_tx_bytes > NN_NODE_MAX_TX) {
    snprintf(why, why_len, "max-tx-bytes must be 1..%u, got %zu", (unsigned)NN_NODE_MAX_TX,
             cfg->gossip.dl.max_tx_bytes);
    return NN_ERR_ARG;
  }
  return NN_OK;
}

/* The manager, its TCP transport and (unless hidden) the listener; what we advertise. */
static nn_err_t
start_net(nn_node_t *n, char *adv, size_t adv_len, char *why, size_t why_len)
{
  nn_net_cfg_t nc = n->cfg.net;
  nn_transport_t *tcp = NULL;
  nn_addr_t bound;
  nn_err_t e;
  nc.identity = n->identity;
  nc.anonymous = n->cfg.disco.hidden;
  nc.network = n->network;
  nc.rng = n->cfg.gossip.dl.rng;
  if (nc.rng && nc.workers) {
    snprintf(why, why_len,
             "a node with its own random generator runs handshakes on the loop's thread: set workers to 0");
    return NN_ERR_ARG;
  }
  nc.log = &n->log;
  if (n->cfg.disco.dht.rpc_timeout_ms)
    nc.idle_ms = n->cfg.disco.dht.rpc_timeout_ms; /* an idle channel has no DHT answer outstanding */
  /* channels carry the largest transaction plus its kind byte */
  size_t need = n->cfg.gossip.dl.max_tx_bytes + 64;
  nc.max_message = (uint32_t)(need > NN_CHAN_DEFAULT_MAX_MESSAGE ? need : NN_CHAN_DEFAULT_MAX_MESSAGE);
  /* a node that listens dials from its listener's port, so that a hole punch can reach what
   * peers see (PROTOCOL.md 10.5) */
  nn_tcp_opts_t to = { 0, 0, !n->cfg.disco.hidden && n->cfg.listen };
  if ((e = nn_net_new(&n->net, n->base, &nc)) || (e = nn_tcp_transport_new(&tcp, n->base, &to)))
    return e;
  if ((e = nn_net_add_transport(n->net, tcp)))
    return e; /* the manager freed it */
  n->tcp = tcp;
  adv[0] = 0;
  if (n->cfg.disco.hidden || !n->cfg.listen)
    return NN_OK;
  if ((e = nn_net_listen(n->net, "tcp", n->cfg.listen, &bound, why, why_len))) {
    size_t l = strlen(why);
    snprintf(why + l, why_len - l, "; choose another listen address or port");
    return e;
  }
  n->bound = bound;
  if (n->cfg.disco.advertise)
    snprintf(adv, adv_len, "%s", n->cfg.disco.advertise);
  else if (!nn_addr_is_any(&bound))
    nn_addr_format(&bound, adv);
  else
    nn_log(&n->log, NN_LOG_WARN, "node", "listening on wildcard %s without an advertised address: publishing no record",
           n->cfg.listen);
  return NN_OK;
}

static void
on_own(void *ctx, const nn_hash_t *id, const char *what, const nn_node_id_t *peer, const char *detail, int state)
{
  own_step(ctx, id, what, peer, detail, state);
}

static void
on_stem(void *ctx, const nn_hash_t *id, const nn_node_id_t *from, const nn_node_id_t *to, const char *what)
{
  nn_node_t *n = ctx;
  if (n->trace)
    nn_stemtrace_add(n->trace, id, from, to, what, nn_unix_ms());
}

/* A gossip peer up or down: an event with its transport (GET /v1/events). */
static void
on_peer_state(void *ctx, uint64_t conn, int up, const nn_net_conn_info_t *ci)
{
  nn_node_t *n = ctx;
  char a[NN_ADDR_STR_MAX], id[65];
  const char *path = ci->moved ? "punched" : ci->transport ? ci->transport : "?";
  (void)conn;
  nn_addr_format(&ci->addr, a);
  if (ci->has_id)
    nn_hex_encode(id, ci->id.b, NN_NODE_ID_LEN);
  event(n, up ? "peer-up" : "peer-down",
        json_pack("{s:s?, s:s, s:s, s:s, s:s?}", "peer", ci->has_id ? id : NULL, "addr",
                  ci->inbound && !strcmp(path, "tor") ? "onion-service" : a, "path", path, "direction",
                  ci->inbound ? "in" : "out", "reason", up ? NULL : nn_net_close_reason_str(ci->reason)));
}

static void
on_gossip_peer(void *ctx, uint64_t conn)
{
  nn_node_t *n = ctx;
  nn_mixnode_peer(n->mixnode, conn);
}

static void
on_mix_deliver(void *ctx, const uint8_t *msg, size_t len, int at_once)
{
  nn_node_t *n = ctx;
  nn_err_t e = nn_gossip_from_mixnet(n->gossip, msg, len, at_once);
  if (e)
    nn_log(&n->log, NN_LOG_INFO, "mix", "a %zu-byte message out of the mixnet was not taken into the mempool: %s", len,
           nn_err_str(e));
}

static nn_err_t
start_mixnet(nn_node_t *n, char *why, size_t why_len)
{
  nn_mixnode_cfg_t *mc = &n->cfg.mix;
  nn_route_t route = n->cfg.gossip.dl.route;
  if (!n->cfg.mixnet) {
    if (route == NN_ROUTE_MIXNET || route == NN_ROUTE_DANDELION_MIXNET) {
      snprintf(why, why_len, "route %s needs the mixnet: set mixnet = 1 or choose another route", nn_route_str(route));
      return NN_ERR_ARG;
    }
    return NN_OK;
  }
  if (route == NN_ROUTE_MIXNET || route == NN_ROUTE_DANDELION_MIXNET) {
    if (!mc->cover) {
      snprintf(why, why_len, "route %s sends through the client's cover stream: set cover to low, standard or constant",
               nn_route_str(route));
      return NN_ERR_ARG;
    }
  }
  if (mc->mix && n->cfg.disco.hidden) {
    snprintf(why, why_len, "a hidden node cannot be a mix (others must reach it): set mix = 0 or hidden = 0");
    return NN_ERR_ARG;
  }
  if (!mc->keys_file) {
    if (!(n->mix_keys = path_join(n->datadir, "mix.keys")))
      return NN_ERR_NOMEM;
    mc->keys_file = n->mix_keys;
  }
  if (!mc->replay_file) {
    if (!(n->mix_replay = path_join(n->datadir, "mix.replay")))
      return NN_ERR_NOMEM;
    mc->replay_file = n->mix_replay;
  }
  mc->log = &n->log;
  mc->dir.allow_private = n->cfg.disco.dht.table.allow_private; /* a devnet's mixes are on loopback */
  mc->deliver = on_mix_deliver;
  mc->ctx = n;
  if (mc->mix && !mc->workers)
    mc->workers = n->cfg.net.workers;
  return nn_mixnode_new(&n->mixnode, n->net, n->disco, n->identity, n->network, mc, why, why_len);
}

/* Relayed circuits: whether we relay and whether we reserve follow from how we are reached. */
static nn_err_t
start_relay(nn_node_t *n, int has_adv, char *why, size_t why_len)
{
  nn_relaynode_cfg_t rc = n->cfg.relay;
  int listens = !n->cfg.disco.hidden && n->cfg.listen;
  if (rc.service < 0)
    rc.service = listens && has_adv;
  if (rc.reserve < 0)
    rc.reserve = !n->cfg.disco.hidden && !has_adv;
  if (n->cfg.disco.hidden)
    rc.service = rc.reserve = 0; /* a hidden node is reached by nobody, through nobody */
  rc.log = &n->log;
  rc.tcp = n->tcp;
  rc.punch_from = n->bound;
  rc.autonat = listens && !has_adv && n->bound.port;
  n->punch_on = rc.punch && n->bound.port;
  n->cfg.relay.service = rc.service;
  n->cfg.relay.reserve = rc.reserve;
  return nn_relaynode_new(&n->relay, n->net, n->disco, &rc, why, why_len);
}

/* STUN on our UDP port: the server when we listen, and discovery against a configured server. */
static nn_err_t
start_stun(nn_node_t *n, char *why, size_t why_len)
{
  nn_stunnode_cfg_t sc;
  memset(&sc, 0, sizeof(sc));
  if (!n->cfg.stun || !n->bound.port || n->cfg.disco.hidden) {
    if (n->cfg.stun_server)
      nn_log(&n->log, NN_LOG_WARN, "nat", "stun-server %s is not used: STUN runs on the listen port, and %s",
             n->cfg.stun_server, n->cfg.disco.hidden || !n->bound.port ? "this node does not listen" : "stun = 0");
    return NN_OK;
  }
  sc.bind = n->bound;
  sc.serve = 1;
  sc.log = &n->log;
  if (n->cfg.stun_server && nn_addr_parse(&sc.server, n->cfg.stun_server) != NN_OK) {
    snprintf(why, why_len, "stun-server '%s' is not a numeric HOST:PORT", n->cfg.stun_server);
    return NN_ERR_FORMAT;
  }
  nn_err_t e = nn_stunnode_new(&n->stun, n->base, &sc, why, why_len);
  if (e == NN_ERR_IO) {
    /* STUN is a service to others and a diagnosis for us: the node runs without it */
    nn_log(&n->log, NN_LOG_WARN, "nat", "%s", why);
    why[0] = 0;
    return NN_OK;
  }
  return e;
}

/* TURN (PROTOCOL.md 10.7): a server to dial through when the network lets nothing else out. */
static nn_err_t
start_turn(nn_node_t *n, char *why, size_t why_len)
{
  nn_turnnode_cfg_t tc;
  size_t len = 0;
  nn_err_t e;
  const char *pf = n->cfg.turn_password_file;
  if (!n->cfg.turn_server) {
    if (n->cfg.turn == 1) {
      snprintf(why, why_len, "turn = 1 needs turn-server HOST:PORT (and turn-user, turn-password-file)");
      return NN_ERR_ARG;
    }
    return NN_OK;
  }
  if (!n->cfg.turn) {
    nn_log(&n->log, NN_LOG_INFO, "nat", "turn-server %s is not used: turn = 0", n->cfg.turn_server);
    return NN_OK;
  }
  memset(&tc, 0, sizeof(tc));
  tc.mode = n->cfg.turn;
  tc.log = &n->log;
  if (nn_addr_parse(&tc.server, n->cfg.turn_server) != NN_OK ||
      (tc.server.type != NN_ADDR_IPV4 && tc.server.type != NN_ADDR_IPV6)) {
    snprintf(why, why_len, "turn-server '%s' is not a numeric HOST:PORT", n->cfg.turn_server);
    return NN_ERR_FORMAT;
  }
  if (!n->cfg.turn_user || !n->cfg.turn_user[0] || strlen(n->cfg.turn_user) > NN_TURN_MAX_CRED || !pf) {
    snprintf(why, why_len, "turn-server needs turn-user (1..%d bytes) and turn-password-file", NN_TURN_MAX_CRED);
    return NN_ERR_ARG;
  }
  snprintf(tc.username, sizeof(tc.username), "%s", n->cfg.turn_user);
  e = nn_file_read_private(pf, (uint8_t *)tc.password, NN_TURN_MAX_CRED + 1, &len);
  if (e == NN_OK && len > NN_TURN_MAX_CRED)
    e = NN_ERR_TOO_LONG;
  if (e) {
    if (e == NN_ERR_PERM)
      snprintf(why, why_len, "turn-password-file %s is readable by group or others: chmod 600 %s", pf, pf);
    else if (e == NN_ERR_TOO_LONG)
      snprintf(why, why_len, "turn-password-file %s: the password is longer than %d bytes", pf, NN_TURN_MAX_CRED);
    else
      snprintf(why, why_len, "turn-password-file %s: %s", pf, e == NN_ERR_NOTFOUND ? "no such file" : strerror(errno));
    OPENSSL_cleanse(&tc, sizeof(tc));
    return e;
  }
  while (len && (tc.password[len - 1] == '\n' || tc.password[len - 1] == '\r'))
    len--; /* a file written with echo */
  tc.password[len] = 0;
  e = nn_turnnode_new(&n->turn, n->net, &tc, why, why_len);
  OPENSSL_cleanse(&tc, sizeof(tc));
  return e;
}

/* Our onion address came up or went: it goes into our record (and our DHT requests). */
static void
publish_overlay(nn_node_t *n)
{
  nn_addr_t a[2];
  size_t k = 0;
  for (size_t i = 0; i < 2; i++)
    if (n->overlay[i].type)
      a[k++] = n->overlay[i];
  if (n->disco)
    nn_disco_set_overlay(n->disco, a, k);
}

static void
on_onion(void *ctx, const nn_addr_t *a)
{
  nn_node_t *n = ctx;
  memset(&n->overlay[0], 0, sizeof(n->overlay[0]));
  if (a)
    n->overlay[0] = *a;
  publish_overlay(n);
}

static void
on_i2p(void *ctx, const nn_addr_t *a)
{
  nn_node_t *n = ctx;
  memset(&n->overlay[1], 0, sizeof(n->overlay[1]));
  if (a)
    n->overlay[1] = *a;
  publish_overlay(n);
}

/* I2P (PROTOCOL.md 11.5): the "i2p" transport over the router's SAM bridge. */
static nn_err_t
start_i2p(nn_node_t *n, char *why, size_t why_len)
{
  nn_i2pnode_cfg_t ic;
  char *key_file = NULL;
  nn_err_t e;
  if (!n->cfg.i2p_sam) {
    if (n->cfg.i2p_inbound == 1 || (n->cfg.net.dial_nets & NN_ADDR_NET_I2P)) {
      snprintf(why, why_len, "%s needs I2P: set i2p-sam HOST:PORT (the router's SAM bridge, e.g. 127.0.0.1:7656)",
               n->cfg.i2p_inbound == 1 ? "i2p-inbound = 1" : "onlynet i2p");
      return NN_ERR_ARG;
    }
    return NN_OK;
  }
  if (n->cfg.tor_only) {
    snprintf(why, why_len, "tor-only sends nothing but Tor: leave i2p-sam out, or tor-only 0 with onlynet tor,i2p");
    return NN_ERR_ARG;
  }
  memset(&ic, 0, sizeof(ic));
  if (nn_addr_parse(&ic.sam, n->cfg.i2p_sam) != NN_OK || (ic.sam.type != NN_ADDR_IPV4 && ic.sam.type != NN_ADDR_IPV6)) {
    snprintf(why, why_len, "i2p-sam '%s' is not a numeric HOST:PORT (i2pd's SAM bridge, e.g. 127.0.0.1:7656)",
             n->cfg.i2p_sam);
    return NN_ERR_FORMAT;
  }
  ic.inbound = n->cfg.i2p_inbound;
  if (ic.inbound < 0)
    ic.inbound = !n->cfg.disco.hidden && n->cfg.listen;
  if (n->cfg.disco.hidden && ic.inbound) {
    snprintf(why, why_len, "a hidden node takes no peers: set i2p-inbound = 0 or hidden = 0");
    return NN_ERR_ARG;
  }
  if (ic.inbound && !(key_file = path_join(n->datadir, "i2p_private_key")))
    return NN_ERR_NOMEM;
  ic.key_file = key_file;
  ic.vport = n->cfg.disco.default_port ? n->cfg.disco.default_port : 9800;
  ic.on_i2p = on_i2p;
  ic.ctx = n;
  ic.log = &n->log;
  e = nn_i2pnode_new(&n->i2p, n->net, &ic, why, why_len);
  free(key_file);
  return e;
}

/* Tor (PROTOCOL.md 11): the "tor" transport and, unless told otherwise, our onion service. */
static nn_err_t
start_tor(nn_node_t *n, char *why, size_t why_len)
{
  nn_tornode_cfg_t tc;
  nn_err_t e;
  const char *pf = n->cfg.tor_password_file;
  char *key_file = NULL;
  if (!n->cfg.tor_control && !n->cfg.tor_socks) {
    if (n->cfg.tor_only || n->cfg.onion == 1 || (n->cfg.net.dial_nets & NN_ADDR_NET_TOR)) {
      snprintf(why, why_len, "%s needs tor: set tor-control HOST:PORT (tor's ControlPort) or tor-socks",
               n->cfg.tor_only     ? "tor-only"
               : n->cfg.onion == 1 ? "onion = 1"
                                   : "onlynet tor");
      return NN_ERR_ARG;
    }
    return NN_OK;
  }
  memset(&tc, 0, sizeof(tc));
  tc.log = &n->log;
  tc.on_onion = on_onion;
  tc.ctx = n;
  tc.all = n->cfg.tor_only && (n->cfg.net.dial_nets & NN_ADDR_NET_CLEARNET);
  tc.vport = n->cfg.disco.default_port ? n->cfg.disco.default_port : 9800;
  if (n->cfg.tor_control && (nn_addr_parse(&tc.control, n->cfg.tor_control) != NN_OK ||
                             (tc.control.type != NN_ADDR_IPV4 && tc.control.type != NN_ADDR_IPV6))) {
    snprintf(why, why_len, "tor-control '%s' is not a numeric HOST:PORT (tor's ControlPort, e.g. 127.0.0.1:9051)",
             n->cfg.tor_control);
    return NN_ERR_FORMAT;
  }
  if (n->cfg.tor_socks && (nn_addr_parse(&tc.socks, n->cfg.tor_socks) != NN_OK ||
                           (tc.socks.type != NN_ADDR_IPV4 && tc.socks.type != NN_ADDR_IPV6))) {
    snprintf(why, why_len, "tor-socks '%s' is not a numeric HOST:PORT (tor's SocksPort, e.g. 127.0.0.1:9050)",
             n->cfg.tor_socks);
    return NN_ERR_FORMAT;
  }
  tc.onion = n->cfg.onion;
  if (tc.onion < 0)
    tc.onion = n->cfg.tor_control && !n->cfg.disco.hidden && (n->cfg.listen || n->cfg.tor_only);
  if (n->cfg.disco.hidden && tc.onion) {
    snprintf(why, why_len, "a hidden node has no onion service: set onion = 0 or hidden = 0");
    return NN_ERR_ARG;
  }
  if (tc.onion && !(key_file = path_join(n->datadir, "onion_v3_private_key")))
    return NN_ERR_NOMEM;
  tc.key_file = key_file;
  if (pf) {
    size_t len = 0;
    e = nn_file_read_private(pf, (uint8_t *)tc.password, NN_TORCTL_MAX_PASSWORD + 1, &len);
    if (e == NN_OK && len > NN_TORCTL_MAX_PASSWORD)
      e = NN_ERR_TOO_LONG;
    if (e) {
      if (e == NN_ERR_PERM)
        snprintf(why, why_len, "tor-password-file %s is readable by group or others: chmod 600 %s", pf, pf);
      else if (e == NN_ERR_TOO_LONG)
        snprintf(why, why_len, "tor-password-file %s: the password is longer than %d bytes", pf,
                 NN_TORCTL_MAX_PASSWORD);
      else
        snprintf(why, why_len, "tor-password-file %s: %s", pf, e == NN_ERR_NOTFOUND ? "no such file" : strerror(errno));
      OPENSSL_cleanse(&tc, sizeof(tc));
      free(key_file);
      return e;
    }
    while (len && (tc.password[len - 1] == '\n' || tc.password[len - 1] == '\r'))
      len--;
    tc.password[len] = 0;
  }
  e = nn_tornode_new(&n->tor, n->net, &tc, why, why_len);
  OPENSSL_cleanse(&tc, sizeof(tc));
  free(key_file);
  return e;
}

/* tx-proxy: on when asked (tor required) or, auto, when there is tor. */
static nn_err_t
tx_proxy_cfg(nn_node_t *n, char *why, size_t why_len)
{
  int on = n->cfg.tx_proxy == 1 || n->cfg.gossip.private_broadcast || (n->cfg.tx_proxy < 0 && (n->tor || n->i2p));
  if (on && !n->tor && !n->i2p && !n->cfg.gossip.tx_proxy) { /* (tests give gossip a transport of their own) */
    snprintf(why, why_len, "%s sends our own transactions over Tor or I2P: set tor-control, tor-socks or i2p-sam",
             n->cfg.gossip.private_broadcast ? "private-broadcast" : "tx-proxy 1");
    return NN_ERR_ARG;
  }
  if (on)
    n->cfg.gossip.tx_proxy = 1; /* (or set in gossip's own settings, as tests do) */
  if (on)
    nn_log(&n->log, NN_LOG_INFO, "tor",
           "tx-proxy: our own transactions go to peers over Tor or I2P only (held while "
           "there is none)%s",
           n->cfg.gossip.dl.route == NN_ROUTE_MIXNET || n->cfg.gossip.dl.route == NN_ROUTE_DANDELION_MIXNET
             ? ", not through the mixnet"
             : "");
  return NN_OK;
}

/* tor-only: nothing that would show this node on clearnet. */
static void
tor_only_cfg(nn_node_t *n)
{
  nn_node_cfg_t *c = &n->cfg;
  if (!c->tor_only)
    return;
  if (!c->net.dial_nets)
    c->net.dial_nets = NN_ADDR_NET_TOR;
  if (c->listen && !c->disco.hidden)
    nn_log(&n->log, NN_LOG_INFO, "tor",
           "tor-only: no clearnet listener (listen %s is not used): peers reach us at our "
           "onion service",
           c->listen);
  c->listen = NULL;
  c->disco.advertise = NULL;
  if (c->disco.n_dns_seeds)
    nn_log(&n->log, NN_LOG_WARN, "tor",
           "tor-only: the DNS seeds are not asked (a lookup would leave tor); give "
           "peers by .onion address");
  c->disco.n_dns_seeds = 0;
  if (c->turn_server)
    nn_log(&n->log, NN_LOG_WARN, "tor", "tor-only: turn-server %s is not used", c->turn_server);
  c->turn_server = NULL;
  c->turn = 0;
  c->stun = 0;
  c->stun_server = NULL;
  c->relay.service = c->relay.reserve = 0;
  c->relay.n_relays = 0;
  c->relay.punch = 0;
}

static json_t *
turn_json(nn_node_t *n)
{
  nn_turnnode_status_t ts;
  char sv[NN_ADDR_STR_MAX], ra[NN_ADDR_STR_MAX], ma[NN_ADDR_STR_MAX];
  if (!n->turn)
    return json_null();
  nn_turnnode_status(n->turn, &ts);
  nn_addr_format(&ts.server, sv);
  nn_addr_format(&ts.relayed, ra);
  nn_addr_format(&ts.mapped, ma);
  json_t *o = json_pack(
    "{s:s, s:s, s:s, s:s?, s:s?, s:I, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
    "s:I, s:I, s:I, s:I, s:I}}",
    "server", sv, "mode", ts.mode == 1 ? "1" : "auto", "state", nn_turn_state_str(ts.state), "relayed",
    ts.state == NN_TURN_READY ? ra : NULL, "mapped", ts.mapped.type ? ma : NULL, "lifetime_s",
    (json_int_t)ts.lifetime_s, "engaged", ts.engaged, "why", ts.why, "streams", (json_int_t)ts.streams, "dialled",
    (json_int_t)ts.dialled, "dial_failed", (json_int_t)ts.dial_failed, "accepted", (json_int_t)ts.accepted, "bytes_in",
    (json_int_t)ts.bytes_in, "bytes_out", (json_int_t)ts.bytes_out, "control_connects", (json_int_t)ts.ctl_connects,
    "server_stats", "allocations", (json_int_t)ts.turn.allocations, "refreshes", (json_int_t)ts.turn.refreshes,
    "permissions", (json_int_t)ts.turn.permissions, "connects", (json_int_t)ts.turn.connects, "connect_failed",
    (json_int_t)ts.turn.connect_failed, "attempts", (json_int_t)ts.turn.attempts, "binds", (json_int_t)ts.turn.binds,
    "bind_failed", (json_int_t)ts.turn.bind_failed, "errors", (json_int_t)ts.turn.errors, "malformed",
    (json_int_t)ts.turn.malformed, "timeouts", (json_int_t)ts.turn.timeouts);
  return o ? o : json_null();
}

static json_t *
tor_json(nn_node_t *n)
{
  nn_tornode_status_t ts;
  char ca[NN_ADDR_STR_MAX], sa[NN_ADDR_STR_MAX], oa[NN_ADDR_STR_MAX];
  if (!n->tor)
    return json_null();
  nn_tornode_status(n->tor, &ts);
  nn_addr_format(&ts.control, ca);
  nn_addr_format(&ts.socks, sa);
  nn_addr_format(&ts.onion, oa);
  json_t *o = json_pack(
    "{s:s?, s:s?, s:b, s:s, s:s?, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "control",
    ts.control.type ? ca : NULL, "socks", ts.socks.type ? sa : NULL, "control_up", ts.ctl_up, "version", ts.version,
    "onion", ts.onion.type ? oa : NULL, "onion_up_ms", (json_int_t)ts.onion_ms, "why", ts.why, "last_socks_failure",
    ts.last_socks, "streams", (json_int_t)ts.streams, "dialled", (json_int_t)ts.dialled, "dial_failed",
    (json_int_t)ts.dial_failed, "accepted", (json_int_t)ts.accepted, "refused_full", (json_int_t)ts.refused_full,
    "control_connects", (json_int_t)ts.ctl_connects, "socks_failures_onion", (json_int_t)ts.socks_fail_onion,
    "socks_failures_other", (json_int_t)ts.socks_fail_other, "bytes_in", (json_int_t)ts.bytes_in, "bytes_out",
    (json_int_t)ts.bytes_out);
  return o ? o : json_null();
}

static json_t *
i2p_json(nn_node_t *n)
{
  nn_i2pnode_status_t is;
  char sa[NN_ADDR_STR_MAX], aa[NN_ADDR_STR_MAX];
  if (!n->i2p)
    return json_null();
  nn_i2pnode_status(n->i2p, &is);
  nn_addr_format(&is.sam, sa);
  nn_addr_format(&is.addr, aa);
  json_t *o = json_pack(
    "{s:s, s:b, s:b, s:s?, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sam", sa, "inbound",
    is.inbound, "session_up", is.session_up, "addr", is.addr.type ? aa : NULL, "session_up_ms",
    (json_int_t)is.session_ms, "why", is.why, "last_failure", is.last_failure, "streams", (json_int_t)is.streams,
    "dialled", (json_int_t)is.dialled, "dial_failed", (json_int_t)is.dial_failed, "accepted", (json_int_t)is.accepted,
    "lookups", (json_int_t)is.lookups, "lookup_failed", (json_int_t)is.lookup_failed, "sessions",
    (json_int_t)is.sessions, "bytes_in", (json_int_t)is.bytes_in, "bytes_out", (json_int_t)is.bytes_out);
  return o ? o : json_null();
}

/* GET /v1/nat (docs/API.md): the relay role, our reservations, our relayed streams. */
static json_t *
api_nat(void *ctx)
{
  nn_node_t *n = ctx;
  nn_relaynode_stats_t st;
  nn_relaynode_resv_t rv[NN_RELAYNODE_MAX_RESV];
  char id[65], addr[NN_ADDR_STR_MAX];
  json_t *resv, *ended;
  uint64_t now = nn_mono_ms();
  if (!n->relay)
    return NULL;
  nn_relaynode_stats(n->relay, &st);
  size_t nr = nn_relaynode_resvs(n->relay, rv, NN_RELAYNODE_MAX_RESV);
  if (!(resv = json_array()) || !(ended = json_object())) {
    json_decref(resv);
    return NULL;
  }
  char why[256], raddr[NN_ADDR_STR_MAX] = "";
  nn_addr_t ra;
  uint64_t db_done, db_refused;
  nn_reach_t reach = nn_relaynode_reach(n->relay, &ra, why, sizeof(why));
  if (ra.type)
    nn_addr_format(&ra, raddr);
  nn_relaynode_dialbacks(n->relay, &db_done, &db_refused);
  json_t *stun = json_null();
  if (n->stun) {
    nn_stunnode_status_t ss;
    char sb[NN_ADDR_STR_MAX], sm[NN_ADDR_STR_MAX], sv[NN_ADDR_STR_MAX];
    nn_stunnode_status(n->stun, &ss);
    nn_addr_format(&ss.bound, sb);
    nn_addr_format(&ss.result.mapped, sm);
    nn_addr_format(&ss.discover_server, sv);
    static const char *const states[] = { "running", "done", "partial", "failed" };
    json_t *disc =
      ss.discovering
        ? json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I}", "server", sv, "state", states[ss.result.state], "mapped",
                    ss.result.mapped.type ? sm : NULL, "mapping", nn_nat_mapping_name(ss.result.mapping), "filtering",
                    nn_nat_filtering_name(ss.result.filtering), "elapsed_ms", (json_int_t)ss.result.elapsed_ms)
        : json_null();
    stun = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "serving", ss.serving, "addr", sb, "answered",
                     (json_int_t)ss.server.answered, "malformed", (json_int_t)ss.server.malformed, "not_stun",
                     (json_int_t)ss.server.not_stun, "rate_limited", (json_int_t)ss.server.rate_limited, "overloaded",
                     (json_int_t)ss.server.overloaded, "discovery", disc ? disc : json_null());
    if (!stun)
      stun = json_null();
  }
  for (size_t i = 0; i < nr; i++) {
    nn_hex_encode(id, rv[i].relay.b, NN_NODE_ID_LEN);
    nn_addr_format(&rv[i].addr, addr);
    json_array_append_new(
      resv, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "relay", id, "addr", addr, "expires_in_s",
                      (json_int_t)(rv[i].expires_ms > now ? (rv[i].expires_ms - now) / 1000 : 0), "max_circuits",
                      (json_int_t)rv[i].max_circuits, "circuit_bytes", (json_int_t)rv[i].circuit_bytes, "circuit_s",
                      (json_int_t)rv[i].circuit_s, "rate", (json_int_t)rv[i].rate));
  }
  for (int r = 1; r < NN_RELAY_END_MAX; r++)
    json_object_set_new(ended, nn_relay_end_name((nn_relay_end_t)r), json_integer((json_int_t)st.relay.ended[r]));
  const nn_relay_limits_t *l = &n->cfg.relay.limits;
  json_t *o = json_pack(
    "{s:{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I, "
    "s:I, s:I}}, s:{s:b, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
    "s:{s:b, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:s, s:s?, s:s, s:I, s:I}, s:o}",
    "relay", "service", n->cfg.relay.service, "reservations", (json_int_t)st.relay.reservations, "circuits",
    (json_int_t)st.relay.circuits, "reserved", (json_int_t)st.relay.reserved, "refused_reserve",
    (json_int_t)st.relay.refused_reserve, "opened", (json_int_t)st.relay.opened, "refused_connect",
    (json_int_t)st.relay.refused_connect, "punched", (json_int_t)st.relay.punched, "bytes", (json_int_t)st.relay.bytes,
    "credits_held", (json_int_t)st.relay.credits_held, "violations", (json_int_t)st.relay.violations, "ended", ended,
    "limits", "max_reservations", (json_int_t)l->max_reservations, "reservation_s", (json_int_t)l->reservation_s,
    "max_circuits", (json_int_t)l->max_circuits, "max_per_target", (json_int_t)l->max_per_target, "max_per_source",
    (json_int_t)l->max_per_source, "circuit_bytes", (json_int_t)l->circuit_bytes, "rate", (json_int_t)l->rate, "client",
    "reserve", n->cfg.relay.reserve, "reservations", (json_int_t)st.reservations, "held", resv, "streams",
    (json_int_t)st.streams, "dialled", (json_int_t)st.dialled, "dial_failed", (json_int_t)st.dial_failed, "accepted",
    (json_int_t)st.accepted, "refused", (json_int_t)st.refused, "bytes_in", (json_int_t)st.bytes_in, "bytes_out",
    (json_int_t)st.bytes_out, "violations", (json_int_t)st.violations, "reserve_refused",
    (json_int_t)st.reserve_refused, "punch", "on", n->punch_on, "rounds", (json_int_t)st.punch_rounds, "punched",
    (json_int_t)st.punched, "failed", (json_int_t)st.punch_failed, "bad_probes", (json_int_t)st.punch_bad_probe,
    "last_ms", (json_int_t)st.punch_ms_last, "max_ms", (json_int_t)st.punch_ms_max, "reachability", "state",
    nn_reach_str(reach), "addr", raddr[0] ? raddr : NULL, "why", why, "dialbacks_done", (json_int_t)db_done,
    "dialbacks_refused", (json_int_t)db_refused, "stun", stun);
  if (o) {
    nn_addr_t seen;
    unsigned nrl = 0;
    nn_nat_mapping_t mp = nn_relaynode_tcp_mapping(n->relay, &seen, &nrl);
    char sa[NN_ADDR_STR_MAX];
    nn_addr_format(&seen, sa);
    json_object_set_new(o, "turn", turn_json(n));
    json_object_set_new(o, "tor", tor_json(n));
    json_object_set_new(o, "i2p", i2p_json(n));
    json_object_set_new(o, "tcp_mapping",
                        json_pack("{s:s, s:s?, s:I}", "mapping", nn_nat_mapping_name(mp), "seen", seen.type ? sa : NULL,
                                  "relays", (json_int_t)nrl));
  }
  return o;
}

/* GET /v1/mixnet (docs/API.md). */
static json_t *
api_mixnet(void *ctx)
{
  nn_node_t *n = ctx;
  nn_mixnode_stats_t st;
  const nn_mixnode_cfg_t *c = &n->cfg.mix;
  char digest[65], id[65], addr[NN_ADDR_STR_MAX];
  json_t *o, *drops = NULL, *layers = NULL, *mixes = NULL;
  nn_mixnode_mix_t *mx;
  size_t nm;
  if (!n->mixnode)
    return NULL;
  nn_mixnode_stats(n->mixnode, &st);
  nn_hex_encode(digest, st.digest.b, NN_HASH_LEN);
  if (!(drops = json_object()) || !(layers = json_array()) || !(mixes = json_array()))
    goto fail;
  for (int r = 1; r < NN_MIX_DROPS; r++)
    json_object_set_new(drops, nn_mix_drop_name((nn_mix_drop_t)r), json_integer((json_int_t)st.core.dropped[r]));
  for (unsigned l = 0; l + 1 < c->hops && l < NN_SPHINX_MAX_HOPS; l++)
    json_array_append_new(layers, json_integer((json_int_t)st.layer_mixes[l]));
  if ((mx = malloc(1024 * sizeof(*mx)))) {
    nm = nn_mixnode_mixes(n->mixnode, mx, 1024);
    for (size_t i = 0; i < nm; i++) {
      nn_hex_encode(id, mx[i].id.b, NN_NODE_ID_LEN);
      nn_addr_format(&mx[i].addr, addr);
      json_array_append_new(mixes, json_pack("{s:s, s:I, s:s, s:f}", "node_id", id, "layer", (json_int_t)mx[i].layer,
                                             "addr", addr, "reliability", mx[i].reliability));
    }
    free(mx);
  }
  double pps = st.cover ? c->client.payload_rate + c->client.loop_rate : 0;
  o = json_pack(
    "{s:s, s:I, s:I, s:{s:I, s:I, s:I}, "
    "s:{s:b, s:f, s:f, s:f, s:I, s:I}, "
    "s:{s:I, s:s, s:o, s:I}, "
    "s:{s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}, "
    "s:{s:I, s:I, s:I}, s:o}",
    "role", st.mix ? "mix" : "client", "epoch", (json_int_t)st.epoch, "epoch_s", (json_int_t)(c->epoch_ms / 1000),
    "geometry", "hops", (json_int_t)c->hops, "packet_len", (json_int_t)c->packet_len, "peers", (json_int_t)st.peers,
    "cover", "on", st.cover, "payload_rate", st.cover ? c->client.payload_rate : 0.0, "loop_rate",
    st.cover ? c->client.loop_rate : 0.0, "burst_rate", st.cover ? c->client.burst_rate : 0.0, "bytes_per_s",
    (json_int_t)(pps * (double)(c->packet_len + 1)), "mean_delay_ms", (json_int_t)c->client.mean_delay_ms, "directory",
    "mixes", (json_int_t)st.view, "digest", digest, "layers", layers, "published", (json_int_t)st.published, "packets",
    "in", (json_int_t)st.packets_in, "out", (json_int_t)st.packets_out, "mixed", (json_int_t)st.core.forwarded,
    "delivered", (json_int_t)st.core.delivered, "dropped", drops, "unreachable", (json_int_t)st.unreachable,
    "backlogged", (json_int_t)st.backlogged, "pending", (json_int_t)st.pending, "in_mix", (json_int_t)st.core.in_mix,
    "test_dropped", (json_int_t)st.test_dropped, "bad_msgs", (json_int_t)st.bad_msgs, "own_bytes",
    (json_int_t)st.cover_bytes_out, "client", "real_sent", (json_int_t)st.client.real_sent, "drop_sent",
    (json_int_t)st.client.drop_sent, "loops_sent", (json_int_t)st.client.loops_sent, "loops_back",
    (json_int_t)st.client.loops_back, "loops_lost", (json_int_t)st.client.loops_lost, "expired",
    (json_int_t)st.client.expired, "queued", (json_int_t)st.client.queued, "no_route", (json_int_t)st.client.no_route,
    "loss", st.client.loss, "exit", "messages_out", (json_int_t)st.messages_out, "reassembling",
    (json_int_t)st.reasm.messages, "expired", (json_int_t)st.reasm.expired, "mixes", mixes);
  return o;
fail:
  json_decref(drops);
  json_decref(layers);
  json_decref(mixes);
  return NULL;
}

/* One of our transactions and its timeline (GET /v1/own-txs, /v1/tx/ID; docs/API.md). */
static json_t *
owntx_json(const nn_owntx_entry_t *e)
{
  char id[65];
  json_t *steps = json_array(), *o;
  if (!steps)
    return NULL;
  nn_hex_encode(id, e->id.b, NN_HASH_LEN);
  for (size_t i = 0; i < e->nsteps; i++) {
    const nn_owntx_step_t *s = &e->steps[i];
    json_array_append_new(steps,
                          json_pack("{s:I, s:s, s:s?, s:s?}", "unix_ms", (json_int_t)s->unix_ms, "what", s->what,
                                    "peer", s->peer[0] ? s->peer : NULL, "detail", s->detail[0] ? s->detail : NULL));
  }
  o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:o, s:I, s:I}", "id", id, "len", (json_int_t)e->len, "route", e->route,
                "state", nn_owntx_state_str(e->state), "submitted_unix_ms", (json_int_t)e->submitted_unix_ms, "steps",
                steps, "steps_lost", (json_int_t)e->steps_lost, "embargo_unix_ms", (json_int_t)e->embargo_unix_ms);
  return o;
}

static json_t *
api_own_txs(void *ctx)
{
  nn_node_t *n = ctx;
  json_t *a = json_array();
  const nn_owntx_entry_t *e;
  if (!a)
    return NULL;
  nn_owntx_expire(n->own, nn_mono_ms());
  for (size_t i = 0; (e = nn_owntx_get(n->own, i)); i++)
    json_array_append_new(a, owntx_json(e));
  return json_pack("{s:o}", "own_txs", a);
}

static json_t *
api_tx(void *ctx, const nn_hash_t *id)
{
  nn_node_t *n = ctx;
  const nn_owntx_entry_t *e;
  nn_owntx_expire(n->own, nn_mono_ms());
  return (e = nn_owntx_find(n->own, id)) ? owntx_json(e) : NULL;
}

static size_t
api_events(void *ctx, uint64_t since, nn_api_event_t *out, size_t max, uint64_t *next)
{
  nn_node_t *n = ctx;
  nn_events_line_t l[64];
  size_t k = nn_events_get(n->events, since, l, max < 64 ? max : 64, next);
  for (size_t i = 0; i < k; i++) {
    out[i].seq = l[i].seq;
    out[i].line = l[i].line;
    out[i].len = l[i].len;
  }
  return k;
}

static json_t *
api_history(void *ctx)
{
  nn_node_t *n = ctx;
  json_t *a = json_array();
  const nn_history_sample_t *s;
  for (size_t i = 0; a && (s = nn_history_get(n->history, i)); i++)
    json_array_append_new(a, json_pack("[I,I,I,i,i,i,i,i]", (json_int_t)s->unix_ms, (json_int_t)s->bytes_in,
                                       (json_int_t)s->bytes_out, (int)s->peers_in, (int)s->peers_out, (int)s->dht_size,
                                       (int)s->mempool, (int)s->stempool));
  return a ? json_pack("{s:i, s:[s,s,s,s,s,s,s,s], s:o}", "interval_s", (int)(NN_HISTORY_INTERVAL_MS / 1000), "columns",
                       "unix_ms", "bytes_in", "bytes_out", "peers_in", "peers_out", "dht_size", "mempool", "stempool",
                       "samples", a)
           : NULL;
}

/* What the status page shows beyond /v1/status (GET /v1/node, docs/API.md). */
static json_t *
api_trace(void *ctx, const nn_hash_t *id)
{
  nn_node_t *n = ctx;
  return n->trace ? nn_stemtrace_json(n->trace, id) : NULL;
}

static json_t *
api_node(void *ctx)
{
  nn_node_t *n = ctx;
  nn_disco_stats_t ds;
  nn_dl_stats_t dls;
  nn_dl_t *dl = nn_gossip_dl(n->gossip);
  const nn_net_stats_t *ns = nn_net_stats(n->net);
  nn_dht_table_t *t = nn_dht_table(nn_disco_dht(n->disco));
  const nn_node_id_t *self = nn_identity_node_id(n->identity);
  json_t *buckets = json_array(), *closed = json_object(), *o;
  uint32_t counts[256] = { 0 };
  nn_gossip_peer_t *ps = malloc(NN_API_PEERS_MAX * sizeof(*ps));
  size_t np = ps ? nn_gossip_peers(n->gossip, ps, NN_API_PEERS_MAX) : 0, anon = 0;
  size_t nc = t ? nn_dht_table_size(t) : 0;
  nn_dht_contact_t *cs = nc ? malloc(nc * sizeof(*cs)) : NULL;
  nn_gossip_stats_t gs;
  uint64_t now = nn_mono_ms(), soon;

  for (size_t i = 0; i < np; i++)
    anon += !ps[i].has_id;
  free(ps);
  nc = cs ? nn_dht_table_all(t, cs, nc) : 0;
  for (size_t i = 0; i < nc; i++)
    counts[nn_dht_bucket_index(self, &cs[i].id) & 255]++;
  free(cs);
  for (size_t i = 0; buckets && i < 256; i++)
    json_array_append_new(buckets, json_integer(counts[i]));
  for (int r = 1; closed && r < NN_NET_CLOSE_MAX; r++)
    if (ns->closed[r])
      json_object_set_new(closed, nn_net_close_reason_str((nn_close_reason_t)r),
                          json_integer((json_int_t)ns->closed[r]));
  nn_disco_stats(n->disco, &ds);
  nn_dl_stats(dl, &dls);
  nn_gossip_stats(n->gossip, &gs);
  soon = nn_dl_embargo_soonest(dl);
  o = json_pack(
    "{s:s, s:{s:i, s:b, s:i, s:o, s:I, s:I, s:I, s:I}, "
    "s:{s:i, s:i, s:I, s:i, s:o, s:s}, "
    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}}",
    "version", nn_version(), "dht", "contacts", (int)ds.table_size, "bootstrapped", ds.bootstrapped, "k",
    (int)n->cfg.disco.dht.table.k, "buckets", buckets ? buckets : json_null(), "records", (json_int_t)ds.values,
    "lookups_done", (json_int_t)ds.lookups_done, "lookups_found", (json_int_t)ds.lookups_found, "verifications",
    (json_int_t)ds.verifications, "channels", "open", (int)ns->open, "outbound", (int)ds.outbound, "handshakes",
    (json_int_t)ns->handshakes, "anonymous_in", (int)anon, "closed", closed ? closed : json_null(), "suite",
    "X25519+ML-KEM-1024, ML-DSA-87, AES-256-GCM", "dandelion", "epochs", (json_int_t)dls.epochs, "fluff_epochs",
    (json_int_t)dls.fluff_epochs, "stems_in", (json_int_t)dls.stems_in, "stems_out", (json_int_t)dls.stems_out,
    "fluffed", (json_int_t)dls.stem_fluffed, "embargo_fired", (json_int_t)dls.embargo_fired, "stems_dropped",
    (json_int_t)gs.stems_dropped, "embargo_pending", (json_int_t)dls.stem_count, "embargo_soonest_s",
    soon == UINT64_MAX ? json_null() : json_real(soon > now ? (double)(soon - now) / 1000.0 : 0.0));
  return o;
}

/* Once a second: a new epoch or new relays, the DHT's bootstrap (events), a history sample. */
static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
  nn_node_t *n = arg;
  nn_node_status_t st;
  nn_dl_stats_t dls;
  uint64_t now = nn_mono_ms();
  (void)fd;
  (void)what;
  if (nn_node_status_here(n, &st) != NN_OK)
    return;
  nn_dl_stats(nn_gossip_dl(n->gossip), &dls);
  if (dls.epochs != n->watch_epochs || memcmp(st.relays, n->watch_relays, sizeof(st.relays))) {
    json_t *rel = json_array();
    for (uint32_t i = 0; rel && i < st.n_relays && i < 2; i++)
      json_array_append_new(rel, json_string(st.relays[i]));
    event(n, "epoch",
          json_pack("{s:s, s:b, s:I, s:o?}", "role", st.fluff_epoch ? "fluff" : "stem", "new",
                    dls.epochs != n->watch_epochs, "ends_in_s", (json_int_t)st.epoch_ends_in_s, "relays", rel));
    n->watch_epochs = dls.epochs;
    memcpy(n->watch_relays, st.relays, sizeof(st.relays));
  }
  if (st.bootstrapped != n->watch_boot) {
    event(n, "dht", json_pack("{s:b, s:i}", "bootstrapped", st.bootstrapped, "contacts", (int)st.dht_size));
    n->watch_boot = st.bootstrapped;
  }
  if (now >= n->watch_next_sample_ms) {
    nn_history_sample_t s = { nn_unix_ms(),
                              st.bytes_in,
                              st.bytes_out,
                              st.peers_in,
                              st.peers_out,
                              st.dht_size,
                              (uint32_t)st.mempool_count,
                              (uint32_t)st.stempool_count };
    (void)nn_history_add(n->history, &s);
    n->watch_next_sample_ms = now + NN_HISTORY_INTERVAL_MS;
  }
}

static nn_err_t
start_watch(nn_node_t *n)
{
  struct timeval tv = { 1, 0 };
  if (!(n->watch = event_new(n->base, -1, EV_PERSIST, on_watch, n)) || event_add(n->watch, &tv))
    return NN_ERR_NOMEM;
  event(n, "start",
        json_pack("{s:s, s:s, s:s}", "node_id", n->hexid, "network", nn_network_str(n->network), "route",
                  nn_route_str(n->cfg.gossip.dl.route)));
  on_watch(-1, 0, n); /* the first epoch and sample now */
  return NN_OK;
}

static nn_err_t
start_api(nn_node_t *n, char *why, size_t why_len)
{
  char line[300];
  nn_err_t e;
  nn_api_ops_t ops = { api_submit,  api_received, api_status, api_peers,   api_metrics, api_mixnet, api_nat,
                       api_own_txs, api_tx,       api_events, api_history, api_node,    NULL,       n };
  if (n->trace) /* regtest alone: the route does not exist elsewhere */
    ops.trace = api_trace;
  if (!n->cfg.api_enabled)
    return NN_OK;
  if ((e = nn_api_new(&n->api, n->base, &n->cfg.api, &ops, why, why_len)) != NN_OK)
    return e;
  int l = snprintf(line, sizeof(line), "%s\n", nn_api_address(n->api));
  if (nn_file_write_private(n->addr_file, (const uint8_t *)line, (size_t)l) != NN_OK) {
    snprintf(why, why_len, "cannot write %s: %s (is the data directory writable?)", n->addr_file, strerror(errno));
    return NN_ERR_IO;
  }
  return NN_OK;
}

nn_err_t
nn_node_new(nn_node_t **out, struct event_base *base, const nn_identity_t *identity, uint32_t network,
            const char *datadir, const nn_node_cfg_t *cfg, char *why, size_t why_len)
{
  char dummy[8], adv[NN_ADDR_STR_MAX + 8];
  nn_node_t *n;
  nn_err_t e;
  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  why[0] = 0;
  *out = NULL;
  if ((e = check_cfg(cfg, why, why_len)))
    return e;
  if (!(n = calloc(1, sizeof(*n))))
    return NN_ERR_NOMEM;
  n->base = base;
  n->identity = identity;
  n->cfg = *cfg;
  {
    /* the pools' byte caps are sized for the default max-tx-bytes (8 MiB); a larger one raises
     * them so that a few of the largest transactions still fit (docs/ARCHITECTURE.md, Memory) */
    nn_dl_cfg_t *dl = &n->cfg.gossip.dl;
    if (dl->stem_max_bytes < 2 * dl->max_tx_bytes)
      dl->stem_max_bytes = 2 * dl->max_tx_bytes;
    if (dl->mem_max_bytes < 8 * dl->max_tx_bytes)
      dl->mem_max_bytes = 8 * dl->max_tx_bytes;
    if (n->cfg.rx_max_bytes < 2 * dl->max_tx_bytes)
      n->cfg.rx_max_bytes = 2 * dl->max_tx_bytes;
  }
  n->network = network;
  n->start_mono_ms = nn_mono_ms();
  nn_hex_encode(n->hexid, nn_identity_node_id(identity)->b, NN_NODE_ID_LEN);
  n->log = (nn_log_t){ log_sink, n, cfg->log_level, "" };
  memcpy(n->log.tag, n->hexid, 16);
  e = NN_ERR_NOMEM;
  if (!(n->datadir = strdup(datadir)) || !(n->addr_file = path_join(datadir, "api.address")) ||
      !(n->token_file = cfg->api.token_file ? strdup(cfg->api.token_file) : path_join(datadir, "api.token")) ||
      !(n->preset = strdup(cfg->preset ? cfg->preset : "")) || !(n->rx = calloc(cfg->rx_max_count, sizeof(*n->rx))) ||
      nn_owntx_new(&n->own) || nn_events_new(&n->events) || nn_history_new(&n->history))
    goto fail;
  n->cfg.api.token_file = n->token_file;
  n->cfg.preset = n->preset; /* shown by every status: the caller's string may be gone by then */
  n->cfg.disco.log = n->cfg.gossip.log = &n->log;
  n->cfg.gossip.deliver = on_deliver;
  n->cfg.gossip.on_peer = on_gossip_peer;
  n->cfg.gossip.on_own = on_own;
  n->cfg.gossip.on_peer_state = on_peer_state;
  if (network == NN_NET_REGTEST) { /* never elsewhere: a node must not hold others' stem paths */
    if ((e = nn_stemtrace_new(&n->trace)))
      goto fail;
    n->cfg.gossip.on_stem = on_stem;
  }
  n->cfg.gossip.mixnet = n->cfg.mixnet;
  n->cfg.gossip.ctx = n;
  tor_only_cfg(n);
  if ((e = start_net(n, adv, sizeof(adv), why, why_len)))
    goto fail;
  n->cfg.disco.advertise = adv[0] ? adv : NULL;
  if ((e = start_turn(n, why, why_len)) || (e = start_tor(n, why, why_len)) || (e = start_i2p(n, why, why_len)) ||
      (e = tx_proxy_cfg(n, why, why_len)) ||
      (e = nn_disco_new(&n->disco, n->net, identity, network, datadir, &n->cfg.disco, why, why_len)) ||
      (e = start_relay(n, adv[0] != 0, why, why_len)) || (e = start_stun(n, why, why_len)) ||
      (e = nn_gossip_new(&n->gossip, n->net, n->disco, &n->cfg.gossip, nn_mono_ms(), why, why_len)) ||
      (e = start_mixnet(n, why, why_len)) || (e = start_api(n, why, why_len)) || (e = start_watch(n)))
    goto fail;
  /* Every other string and list of the caller's was copied by the part that uses it (or used
   * only above): forget them, so that nothing can read them after the caller freed them. */
  n->cfg.disco.advertise = NULL; /* adv was on the stack */
  n->cfg.listen = NULL;
  n->cfg.api.listen = NULL;
  n->cfg.disco.peers = n->cfg.disco.dns_seeds = NULL;
  n->cfg.disco.n_peers = n->cfg.disco.n_dns_seeds = 0;
  n->cfg.disco.dns_nameserver = NULL;
  n->cfg.gossip.connect = NULL;
  n->cfg.gossip.n_connect = 0;
  *out = n;
  return NN_OK;
fail:
  if (!why[0])
    snprintf(why, why_len, "cannot start the node: %s", nn_err_str(e));
  nn_node_free(n);
  return e;
}

void
nn_node_free(nn_node_t *n)
{
  if (!n)
    return;
  if (n->watch)
    event_free(n->watch);
  if (n->api) {
    nn_api_free(n->api);
    n->api = NULL; /* what closes below may still make events */
    (void)unlink(n->addr_file);
  }
  nn_relaynode_free(n->relay); /* before disco: it publishes through it */
  nn_stunnode_free(n->stun);
  nn_turnnode_free(n->turn); /* releases the allocation; the manager frees the transport */
  nn_tornode_free(n->tor);   /* the control connection: tor removes our onion service */
  nn_i2pnode_free(n->i2p);   /* the session socket: the router ends our session */
  nn_disco_free(n->disco);   /* anchors, gossip's held channels first, while they are up */
  nn_gossip_free(n->gossip);
  nn_mixnode_free(n->mixnode); /* after disco: no lookup of its can answer into freed memory */
  nn_net_free(n->net);         /* CLOSE records, sockets */
  if (n->rx)
    while (n->rx_n)
      rx_drop_oldest(n);
  free(n->rx);
  nn_owntx_free(n->own);
  nn_events_free(n->events);
  nn_history_free(n->history);
  nn_stemtrace_free(n->trace);
  free(n->datadir);
  free(n->addr_file);
  free(n->token_file);
  free(n->preset);
  free(n->mix_keys);
  free(n->mix_replay);
  free(n);
}

void
nn_node_set_log_level(nn_node_t *n, int level)
{
  n->log.level = level; /* every part logs through &n->log */
  n->cfg.log_level = level;
}

nn_err_t
nn_node_set_route(nn_node_t *n, nn_route_t route, char *why, size_t why_len)
{
  int mix = route == NN_ROUTE_MIXNET || route == NN_ROUTE_DANDELION_MIXNET;
  if (!nn_dl_route_available(route)) {
    snprintf(why, why_len, "route %d does not exist", (int)route);
    return NN_ERR_ARG;
  }
  if (mix && !n->mixnode) {
    snprintf(why, why_len, "route %s needs the mixnet and cover traffic, which this node started without",
             nn_route_str(route));
    return NN_ERR_PERM;
  }
  n->cfg.gossip.dl.route = route;
  nn_dl_set_route(nn_gossip_dl(n->gossip), route);
  return NN_OK;
}

/* One line per limit that changes, "max-peers 64 -> 32", into \a b. */
static void
limit_line(char *b, size_t bl, size_t *o, const char *name, size_t was, size_t now)
{
  if (was != now && *o < bl)
    *o += (size_t)snprintf(b + *o, bl - *o, "%s%s %zu -> %zu", *o ? ", " : "", name, was, now);
}

nn_err_t
nn_node_reload(nn_node_t *n, const nn_node_settings_t *s, char *why, size_t why_len)
{
  nn_node_cfg_t c;
  nn_err_t e;
  int changed = 0;
  char lines[512];
  size_t o = 0;
  if ((e = nn_node_cfg_from_settings(&c, s, why, why_len)))
    return e;
  /* tor-only asks no DNS seed, as at the start (tor_only_cfg) */
  if ((e = nn_disco_set_seeds(n->disco, c.disco.peers, c.disco.n_peers, c.disco.dns_seeds,
                              n->cfg.tor_only ? 0 : c.disco.n_dns_seeds, &changed, why, why_len)))
    return e;
  nn_gossip_cfg_t *g = &n->cfg.gossip;
  nn_gossip_limits_t gl = { c.gossip.max_peers, c.gossip.max_outbound, c.gossip.max_inbound_per_host,
                            c.gossip.dl.mem_max_count, c.gossip.dl.stem_max_count };
  if ((e = nn_gossip_set_limits(n->gossip, &gl, why, why_len)))
    return e;
  limit_line(lines, sizeof(lines), &o, "max-peers", g->max_peers, gl.max_peers);
  limit_line(lines, sizeof(lines), &o, "max-outbound", g->max_outbound, gl.max_outbound);
  limit_line(lines, sizeof(lines), &o, "max-inbound-per-host", g->max_inbound_per_host, gl.max_inbound_per_host);
  limit_line(lines, sizeof(lines), &o, "mempool-max-count", g->dl.mem_max_count, gl.mem_max_count);
  limit_line(lines, sizeof(lines), &o, "stempool-max-count", g->dl.stem_max_count, gl.stem_max_count);
  g->max_peers = gl.max_peers;
  g->max_outbound = gl.max_outbound;
  g->max_inbound_per_host = gl.max_inbound_per_host;
  g->dl.mem_max_count = gl.mem_max_count;
  g->dl.stem_max_count = gl.stem_max_count;
  nn_net_cfg_t *nc = &n->cfg.net;
  limit_line(lines, sizeof(lines), &o, "listen-max-per-ip", nc->limits.max_per_ip, c.net.limits.max_per_ip);
  limit_line(lines, sizeof(lines), &o, "listen-half-open-per-group", nc->limits.max_half_open_per_group,
             c.net.limits.max_half_open_per_group);
  limit_line(lines, sizeof(lines), &o, "max-channels", nc->max_idle_outbound, c.net.max_idle_outbound);
  nc->limits.max_per_ip = c.net.limits.max_per_ip;
  nc->limits.max_half_open_per_group = c.net.limits.max_half_open_per_group;
  nc->max_idle_outbound = c.net.max_idle_outbound;
  nn_net_set_caps(n->net, nc->limits.max_per_ip, nc->limits.max_half_open_per_group, nc->max_idle_outbound);
  /* a devnet's settings zero the wide group (cfg_from_settings), as at the start */
  unsigned wide = c.disco.dht.table.per_table_wide;
  limit_line(lines, sizeof(lines), &o, "dht-per-table-wide",
             nn_dht_table_set_wide(nn_dht_table(nn_disco_dht(n->disco)), wide), wide);
  n->cfg.disco.dht.table.per_table_wide = wide;
  if (o)
    nn_log(&n->log, NN_LOG_INFO, "node", "limits changed: %s", lines);
  return NN_OK;
}

const nn_events_t *
nn_node_events(const nn_node_t *n)
{
  return n->events;
}

const nn_owntx_t *
nn_node_own(const nn_node_t *n)
{
  return n->own;
}

nn_i2pnode_t *
nn_node_i2p(nn_node_t *n)
{
  return n->i2p;
}

nn_tornode_t *
nn_node_tor(nn_node_t *n)
{
  return n->tor;
}

nn_stunnode_t *
nn_node_stun(nn_node_t *n)
{
  return n->stun;
}

nn_relaynode_t *
nn_node_relay(nn_node_t *n)
{
  return n->relay;
}

nn_mixnode_t *
nn_node_mixnode(nn_node_t *n)
{
  return n->mixnode;
}

nn_net_t *
nn_node_net(nn_node_t *n)
{
  return n->net;
}
nn_disco_t *
nn_node_disco(nn_node_t *n)
{
  return n->disco;
}
nn_gossip_t *
nn_node_gossip(nn_node_t *n)
{
  return n->gossip;
}
nn_dl_t *
nn_node_dl(nn_node_t *n)
{
  return nn_gossip_dl(n->gossip);
}
nn_api_t *
nn_node_api(nn_node_t *n)
{
  return n->api;
}
void
nn_node_set_host(nn_node_t *n, void *host)
{
  n->host = host;
}
void *
nn_node_host(const nn_node_t *n)
{
  return n->host;
}
struct event_base *
nn_node_base(const nn_node_t *n)
{
  return n->base;
}
