/*
 * The embeddable node (nepnet/node.h): settings and presets, identity on disk, and a node on
 * the caller's loop or on a thread of its own.
 *
 * On its own thread, calls from other threads are marshalled: the caller queues a call, wakes
 * the loop through a pipe and waits on a condition variable; the loop thread runs the call and
 * signals. A call from the node's own thread (a callback) runs directly.
 */
#define _GNU_SOURCE /* pipe2 */
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/file.h"
#include "net/workers.h"

enum { CALL_SUBMIT, CALL_STATUS, CALL_PEERS, CALL_STOP };

typedef struct call_t {
  struct call_t *next;
  int kind;
  const uint8_t *tx;
  size_t len;
  nn_hash_t id;
  nn_node_status_t *status;
  nn_node_peer_t *peers;
  size_t max, count;
  nn_err_t result;
  int done;
} call_t;

typedef struct host_t {
  nn_node_t *node;
  nn_identity_t *identity;
  struct event_base *own_base; /* set when the node runs on its own thread */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int wake[2];
  struct event *ev_wake;
  call_t *head, **tail;
  void (*on_log)(void *ctx, int level, const char *module, const char *line);
  void *log_ctx;
} host_t;

const char *
nn_route_str(nn_route_t r)
{
  switch (r) {
  case NN_ROUTE_DIRECT: return "direct";
  case NN_ROUTE_DANDELION: return "dandelion";
  case NN_ROUTE_MIXNET: return "mixnet";
  case NN_ROUTE_DANDELION_MIXNET: return "dandelion+mixnet";
  }
  return "unknown";
}

const char *
nn_network_str(uint32_t network)
{
  switch (network) {
  case NN_NET_MAINNET: return "mainnet";
  case NN_NET_TESTNET: return "testnet";
  case NN_NET_REGTEST: return "regtest";
  }
  return NULL;
}

/* ---- settings ---- */

void
nn_node_settings_default(nn_node_settings_t *s)
{
  nn_dl_cfg_t dl;
  nn_net_limits_t lim;
  nn_gossip_cfg_t g;
  nn_net_cfg_t net;
  nn_dl_cfg_default(&dl);
  nn_net_limits_default(&lim);
  nn_gossip_cfg_default(&g);
  nn_net_cfg_default(&net);
  memset(s, 0, sizeof(*s));
  s->network = NN_NET_MAINNET;
  s->listen = "0.0.0.0:9800";
  s->api_token_mode = 0600;
  s->max_inbound_per_host = g.max_inbound_per_host;
  s->max_channels = net.max_idle_outbound;
  s->listen_max_per_ip = lim.max_per_ip;
  s->listen_ip_rate = lim.ip_rate;
  s->listen_half_open_per_group = lim.max_half_open_per_group;
  s->workers = nn_workers_cores();
  s->stem_rate = g.stem_rate;
  s->stem_burst = g.stem_burst;
  s->max_tx_bytes = dl.max_tx_bytes;
  s->mempool_max_count = dl.mem_max_count;
  s->stempool_max_count = dl.stem_max_count;
  s->log_level = NN_LOG_INFO;
  s->mixnet = 1;
  s->mix_delay_ms = 50;
  s->mix_epoch_s = 3600;
  s->mix_redundancy = 0.5;
  nn_relay_limits_t rl;
  nn_relay_limits_default(&rl);
  s->relay = s->relay_reserve = s->stun = s->turn = s->onion = s->i2p_inbound = -1;
  s->relay_max_circuits = rl.max_circuits;
  s->relay_circuit_s = rl.circuit_s;
  s->relay_circuit_bytes = (size_t)rl.circuit_bytes;
  s->relay_rate = rl.rate;
  s->relay_max_reservations = rl.max_reservations;
  (void)nn_node_settings_preset(s, "balanced");
}

/* The presets. balanced is Monero-like Dandelion++ with Bitcoin-like diffusion, tuned so a
 * fluffed transaction reaches a 100-node network in about 2 s; private trades latency for
 * Monero's diffusion delays, a longer embargo, a hidden node, and sends its own transactions
 * over Tor when tor is set (tx-proxy auto), else through the mixnet (dandelion+mixnet, standard
 * cover: about 30 KB/s always on); fast shortens stems (q = 0.2, the paper's highest
 * recommended) and every timer. */
nn_err_t
nn_node_settings_preset(nn_node_settings_t *s, const char *name)
{
  static const struct {
    const char *name;
    double q;
    uint32_t emb_base, emb_mean, inv_out, inv_in, max_out, wide;
    int hidden;
  } p[] = {
    { "fast", 0.2, 1000, 4000, 250, 500, 10, 0, 0 },
    { "balanced", 0.1, 5000, 12000, 1000, 2500, 8, 0, 0 },
    { "private", 0.1, 5000, 39000, 2500, 5000, 8, 20, 1 },
  };
  for (size_t i = 0; name && i < sizeof(p) / sizeof(p[0]); i++) {
    if (strcmp(name, p[i].name))
      continue;
    s->preset = p[i].name;
    s->route = p[i].hidden ? NN_ROUTE_DANDELION_MIXNET : NN_ROUTE_DANDELION;
    s->cover = p[i].hidden ? "standard" : "off";
    s->epoch_s = 600;
    s->max_peers = 64;
    s->max_outbound = p[i].max_out;
    s->fluff_prob = p[i].q;
    s->embargo_base_ms = p[i].emb_base;
    s->embargo_mean_ms = p[i].emb_mean;
    s->inv_delay_out_ms = p[i].inv_out;
    s->inv_delay_in_ms = p[i].inv_in;
    s->hidden = p[i].hidden;
    s->dht_per_table_wide = p[i].wide;
    s->tx_proxy = p[i].hidden ? -1 : 0; /* private: our own transactions over Tor when there is tor */
    return NN_OK;
  }
  return NN_ERR_ARG;
}

nn_err_t
nn_node_cfg_from_settings(nn_node_cfg_t *c, const nn_node_settings_t *s, char *why, size_t why_len)
{
  nn_node_cfg_default(c);
  if (s->max_outbound > s->max_peers) {
    snprintf(why, why_len, "max-outbound (%u) is above max-peers (%u): lower --max-outbound or raise --max-peers",
             s->max_outbound, s->max_peers);
    return NN_ERR_ARG;
  }
  c->listen = s->hidden ? NULL : s->listen;
  c->preset = s->preset;
  c->log_level = s->log_level;
  c->on_tx = s->on_tx;
  c->tx_ctx = s->ctx;
  /* channels and admission */
  c->net.limits.max_per_ip = s->listen_max_per_ip;
  c->net.limits.ip_rate = s->listen_ip_rate;
  c->net.limits.max_half_open_per_group = s->listen_half_open_per_group;
  c->net.max_idle_outbound = s->max_channels;
  c->net.workers = s->workers;
  /* discovery */
  nn_disco_cfg_t *d = &c->disco;
  d->advertise = s->advertise;
  d->hidden = s->hidden;
  d->peers = s->peers;
  d->n_peers = s->n_peers;
  d->dns_seeds = s->dns_seeds;
  d->n_dns_seeds = s->n_dns_seeds;
  d->dns_nameserver = s->dns_nameserver;
  d->dht.table.per_table_wide = s->dht_per_table_wide;
  if (s->allow_private) {
    /* a devnet is one host: every address its own group, so the /24 limits would refuse it */
    d->dht.table.allow_private = 1;
    d->dht.table.per_bucket_group = d->dht.table.per_table_group = d->dht.table.per_table_wide = 0;
    d->peerstore.allow_nonpublic = 1;
  }
  /* gossip and Dandelion++ */
  nn_gossip_cfg_t *g = &c->gossip;
  g->max_peers = s->max_peers;
  g->max_outbound = s->max_outbound;
  g->max_inbound_per_host = s->max_inbound_per_host;
  g->connect = s->connect;
  g->n_connect = s->n_connect;
  g->stem_rate = s->stem_rate;
  g->stem_burst = s->stem_burst;
  g->dl.route = s->route;
  g->dl.fluff_prob = s->fluff_prob;
  g->dl.epoch_ms = s->epoch_s * 1000u;
  g->dl.epoch_jitter_ms = g->dl.epoch_ms / 20;
  g->dl.embargo_base_ms = s->embargo_base_ms;
  g->dl.embargo_mean_ms = s->embargo_mean_ms;
  g->dl.inv_mean_out_ms = s->inv_delay_out_ms;
  g->dl.inv_mean_in_ms = s->inv_delay_in_ms;
  g->dl.max_tx_bytes = s->max_tx_bytes;
  g->dl.mem_max_count = s->mempool_max_count;
  g->dl.stem_max_count = s->stempool_max_count;
  /* the mixnet */
  c->mixnet = s->mixnet;
  c->mix.mix = s->mix;
  if (s->cover && nn_mixnode_cover_preset(&c->mix, s->cover)) {
    snprintf(why, why_len, "cover '%s' does not exist: give off, low, standard or constant", s->cover);
    return NN_ERR_ARG;
  }
  if (!s->mix_delay_ms || s->mix_delay_ms > 10000 || !s->mix_epoch_s || s->mix_epoch_s > 86400) {
    snprintf(why, why_len, "mix-delay-ms must be 1..10000 and mix-epoch-s 1..86400 (got %u and %u)", s->mix_delay_ms,
             s->mix_epoch_s);
    return NN_ERR_ARG;
  }
  c->mix.client.mean_delay_ms = s->mix_delay_ms;
  c->mix.epoch_ms = (uint64_t)s->mix_epoch_s * 1000;
  if (!(s->mix_redundancy >= 0 && s->mix_redundancy <= 4) || !(s->mix_test_loss >= 0 && s->mix_test_loss <= 0.9)) {
    snprintf(why, why_len, "mix-redundancy must be 0..4 and mix-test-loss 0..0.9 (got %g and %g)", s->mix_redundancy,
             s->mix_test_loss);
    return NN_ERR_ARG;
  }
  c->mix.client.redundancy = s->mix_redundancy;
  if (!(s->mix_send_rate >= 0 && s->mix_send_rate <= 1000)) {
    snprintf(why, why_len, "mix-send-rate must be 0..1000 packets/s (got %g)", s->mix_send_rate);
    return NN_ERR_ARG;
  }
  if (s->mix_send_rate > 0)
    c->mix.client.burst_rate = s->mix_send_rate;
  c->mix.test_loss = s->mix_test_loss;
  /* relayed circuits */
  if (s->relay < -1 || s->relay > 1 || s->relay_reserve < -1 || s->relay_reserve > 1) {
    snprintf(why, why_len, "relay and relay-reserve must be auto (-1), 0 or 1 (got %d and %d)", s->relay,
             s->relay_reserve);
    return NN_ERR_ARG;
  }
  if (!s->relay_max_circuits || s->relay_max_circuits > 4096 || !s->relay_circuit_s || !s->relay_circuit_bytes ||
      !s->relay_rate || s->relay_max_reservations > 65536) {
    snprintf(why, why_len,
             "relay limits out of range: relay-max-circuits 1..4096, relay-circuit-s, relay-circuit-bytes and "
             "relay-rate above 0, relay-max-reservations 0..65536");
    return NN_ERR_ARG;
  }
  if (s->stun < -1 || s->stun > 1) {
    snprintf(why, why_len, "stun must be auto (-1), 0 or 1 (got %d)", s->stun);
    return NN_ERR_ARG;
  }
  c->stun = s->stun;
  c->stun_server = s->stun_server;
  if (s->turn < -1 || s->turn > 1) {
    snprintf(why, why_len, "turn must be auto (-1), 0 or 1 (got %d)", s->turn);
    return NN_ERR_ARG;
  }
  c->turn = s->turn;
  c->turn_server = s->turn_server;
  c->turn_user = s->turn_user;
  c->turn_password_file = s->turn_password_file;
  /* Tor and the networks we dial */
  if (s->onion < -1 || s->onion > 1 || s->tor_only < 0 || s->tor_only > 1) {
    snprintf(why, why_len, "onion must be auto (-1), 0 or 1 and tor-only 0 or 1 (got %d and %d)", s->onion,
             s->tor_only);
    return NN_ERR_ARG;
  }
  c->tor_control = s->tor_control;
  c->tor_socks = s->tor_socks;
  c->tor_password_file = s->tor_password_file;
  c->onion = s->onion;
  c->tor_only = s->tor_only;
  if (s->tx_proxy < -1 || s->tx_proxy > 1) {
    snprintf(why, why_len, "tx-proxy must be auto (-1), 0 or 1 (got %d)", s->tx_proxy);
    return NN_ERR_ARG;
  }
  c->tx_proxy = s->tx_proxy;
  if (s->i2p_inbound < -1 || s->i2p_inbound > 1) {
    snprintf(why, why_len, "i2p-inbound must be auto (-1), 0 or 1 (got %d)", s->i2p_inbound);
    return NN_ERR_ARG;
  }
  c->i2p_sam = s->i2p_sam;
  if (s->link_padding_ms && (s->link_padding_ms < 5 || s->link_padding_ms > 60000)) {
    snprintf(why, why_len, "link-padding-ms must be 0 (off) or 5..60000 (got %u)", s->link_padding_ms);
    return NN_ERR_ARG;
  }
  c->net.overlay_pad_ms = s->link_padding_ms;
  if (s->private_broadcast > NN_GOSSIP_PB_MAX) {
    snprintf(why, why_len, "private-broadcast must be 0 (off) or 1..%d peers (got %u)", NN_GOSSIP_PB_MAX,
             s->private_broadcast);
    return NN_ERR_ARG;
  }
  c->gossip.private_broadcast = s->private_broadcast;
  c->i2p_inbound = s->i2p_inbound;
  c->net.dial_nets = 0;
  if (s->onlynet) {
    unsigned nets;
    if (nn_addr_parse_nets(s->onlynet, &nets) != NN_OK) {
      snprintf(why, why_len, "onlynet '%s': give clearnet, tor or i2p, separated by commas", s->onlynet);
      return NN_ERR_FORMAT;
    }
    c->net.dial_nets = nets;
  }
  c->relay.service = s->relay;
  c->relay.reserve = s->relay_reserve;
  c->relay.relays = s->relay_via;
  c->relay.n_relays = s->n_relay_via;
  c->relay.limits.max_circuits = s->relay_max_circuits;
  c->relay.limits.circuit_s = s->relay_circuit_s;
  c->relay.limits.circuit_bytes = s->relay_circuit_bytes;
  c->relay.limits.rate = s->relay_rate;
  c->relay.limits.max_reservations = s->relay_max_reservations;
  if (c->relay.limits.max_per_target > s->relay_max_circuits)
    c->relay.limits.max_per_target = s->relay_max_circuits;
  /* the control API */
  c->api_enabled = s->api && strcmp(s->api, "off");
  c->api.listen = s->api;
  c->api.token_file = s->api_token_file;
  if (s->api_token_mode && s->api_token_mode != 0600 && s->api_token_mode != 0640) {
    snprintf(why, why_len, "settings: api_token_mode 0%o: give 0600 or 0640", (unsigned)s->api_token_mode);
    return NN_ERR_ARG;
  }
  c->api.token_mode = s->api_token_mode ? s->api_token_mode : 0600;
  return NN_OK;
}

/* ---- identity ---- */

static nn_err_t
open_identity(const char *datadir, nn_identity_t **id, nn_error_t *err)
{
  size_t plen = strlen(datadir) + 16;
  char *path = malloc(plen);
  int created = 0;
  nn_err_t e;
  if (!path)
    return NN_ERR_NOMEM;
  snprintf(path, plen, "%s/identity.key", datadir);
  if ((e = nn_dir_ensure_private(datadir)))
    snprintf(err->message, sizeof(err->message), "cannot create data directory %s: %s (%s); give another datadir",
             datadir, nn_err_str(e), strerror(errno));
  else if ((e = nn_identity_load_or_create(path, id, &created)))
    snprintf(err->message, sizeof(err->message), "key file %s: %s; %s", path, nn_err_str(e), nn_identity_file_hint(e));
  free(path);
  return e;
}

/* ---- the node's own thread ---- */

static void
run_call(host_t *h, call_t *c)
{
  switch (c->kind) {
  case CALL_SUBMIT: c->result = nn_node_submit_here(h->node, c->tx, c->len, &c->id); break;
  case CALL_STATUS: c->result = nn_node_status_here(h->node, c->status); break;
  case CALL_PEERS: c->count = nn_node_peers_here(h->node, c->peers, c->max); break;
  case CALL_STOP:
    nn_node_free(h->node);
    h->node = NULL;
    event_base_loopbreak(h->own_base);
    break;
  }
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
  host_t *h = arg;
  char buf[64];
  (void)what;
  while (read(fd, buf, sizeof(buf)) > 0)
    ;
  pthread_mutex_lock(&h->mu);
  call_t *list = h->head;
  h->head = NULL;
  h->tail = &h->head;
  pthread_mutex_unlock(&h->mu);
  for (call_t *c = list, *nx; c; c = nx) {
    nx = c->next;
    run_call(h, c);
    pthread_mutex_lock(&h->mu);
    c->done = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
  }
}

/* The host whose loop this thread runs. Not h->thread: pthread_create may store the new
 * thread's id only after the thread started (POSIX allows it; musl does it), and a callback
 * that runs before then and calls nn_node_status would queue the call to its own thread and
 * wait for ever. */
static _Thread_local const host_t *running_host;

static void *
thread_main(void *arg)
{
  host_t *h = arg;
  running_host = h;
  event_base_dispatch(h->own_base);
  running_host = NULL;
  return NULL;
}

static int
on_node_thread(const host_t *h)
{
  return !h || !h->own_base || running_host == h;
}

/* Run \a c on the node's thread and wait for it. */
static void
call(host_t *h, call_t *c)
{
  const char x = 1;
  c->next = NULL;
  c->done = 0;
  pthread_mutex_lock(&h->mu);
  *h->tail = c;
  h->tail = &c->next;
  while (write(h->wake[1], &x, 1) < 0 && errno == EINTR)
    ;
  while (!c->done)
    pthread_cond_wait(&h->cv, &h->mu);
  pthread_mutex_unlock(&h->mu);
}

static void
host_free(host_t *h)
{
  if (h->ev_wake)
    event_free(h->ev_wake);
  if (h->own_base)
    event_base_free(h->own_base);
  if (h->wake[0] >= 0)
    close(h->wake[0]);
  if (h->wake[1] >= 0)
    close(h->wake[1]);
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->cv);
  nn_identity_free(h->identity);
  free(h);
}

static nn_err_t
own_loop(host_t *h, nn_error_t *err)
{
  if (pipe2(h->wake, O_NONBLOCK | O_CLOEXEC) < 0 || !(h->own_base = event_base_new()) ||
      !(h->ev_wake = event_new(h->own_base, h->wake[0], EV_READ | EV_PERSIST, on_wake, h)) ||
      event_add(h->ev_wake, NULL)) {
    snprintf(err->message, sizeof(err->message), "cannot create the node's event loop: %s", strerror(errno));
    return NN_ERR_IO;
  }
  return NN_OK;
}

static void
log_to_embedder(void *ctx, int level, const char *module, const char *line)
{
  host_t *h = ctx;
  h->on_log(h->log_ctx, level, module, line);
}

nn_err_t
nn_node_start(nn_node_t **out, const nn_node_settings_t *s, struct event_base *base, nn_error_t *err)
{
  nn_error_t dummy;
  nn_node_cfg_t cfg;
  nn_err_t e;
  host_t *h;
  if (!err)
    err = &dummy;
  memset(err, 0, sizeof(*err));
  *out = NULL;
  if (!s || !s->datadir || !*s->datadir) {
    snprintf(err->message, sizeof(err->message), "settings: a data directory (datadir) is required");
    return err->code = NN_ERR_ARG;
  }
  if (!nn_network_str(s->network)) {
    snprintf(err->message, sizeof(err->message), "settings: network 0x%08x is not mainnet, testnet or regtest",
             (unsigned)s->network);
    return err->code = NN_ERR_ARG;
  }
  if ((e = nn_node_cfg_from_settings(&cfg, s, err->message, sizeof(err->message))))
    return err->code = e;
  if (!(h = calloc(1, sizeof(*h))))
    return err->code = NN_ERR_NOMEM;
  h->wake[0] = h->wake[1] = -1;
  h->tail = &h->head;
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  if (s->on_log) {
    h->on_log = s->on_log;
    h->log_ctx = s->ctx;
    cfg.log = log_to_embedder;
    cfg.log_ctx = h;
  }
  if ((e = open_identity(s->datadir, &h->identity, err)) || (!base && (e = own_loop(h, err))))
    goto fail;
  if ((e = nn_node_new(&h->node, base ? base : h->own_base, h->identity, s->network, s->datadir, &cfg, err->message,
                       sizeof(err->message))))
    goto fail;
  nn_node_set_host(h->node, h);
  if (h->own_base && (errno = pthread_create(&h->thread, NULL, thread_main, h))) {
    snprintf(err->message, sizeof(err->message), "cannot start the node's thread: %s", strerror(errno));
    e = NN_ERR_IO;
    goto fail;
  }
  *out = h->node;
  return NN_OK;
fail:
  nn_node_free(h->node);
  host_free(h);
  return err->code = e;
}

void
nn_node_stop(nn_node_t *n)
{
  host_t *h;
  if (!n)
    return;
  if (!(h = nn_node_host(n))) {
    nn_node_free(n); /* made by nn_node_new */
    return;
  }
  if (!on_node_thread(h)) {
    call_t c = { .kind = CALL_STOP };
    call(h, &c);
    pthread_join(h->thread, NULL);
  } else {
    nn_node_free(h->node);
  }
  host_free(h);
}

nn_err_t
nn_node_submit(nn_node_t *n, const uint8_t *tx, size_t len, uint8_t id[32], nn_error_t *err)
{
  host_t *h = nn_node_host(n);
  call_t c = { .kind = CALL_SUBMIT, .tx = tx, .len = len };
  if (on_node_thread(h))
    c.result = nn_node_submit_here(n, tx, len, &c.id);
  else
    call(h, &c);
  if (!c.result && id)
    memcpy(id, c.id.b, 32);
  if (err) {
    err->code = c.result;
    if (c.result == NN_ERR_TOO_LONG)
      snprintf(err->message, sizeof(err->message), "the transaction (%zu bytes) is above max_tx_bytes", len);
    else if (c.result)
      snprintf(err->message, sizeof(err->message), "submit: %s", nn_err_str(c.result));
    else
      err->message[0] = 0;
  }
  return c.result;
}

nn_err_t
nn_node_status(nn_node_t *n, nn_node_status_t *st)
{
  host_t *h = nn_node_host(n);
  call_t c = { .kind = CALL_STATUS, .status = st };
  if (on_node_thread(h))
    return nn_node_status_here(n, st);
  call(h, &c);
  return c.result;
}

size_t
nn_node_peers(nn_node_t *n, nn_node_peer_t *out, size_t max)
{
  host_t *h = nn_node_host(n);
  call_t c = { .kind = CALL_PEERS, .peers = out, .max = max };
  if (on_node_thread(h))
    return nn_node_peers_here(n, out, max);
  call(h, &c);
  return c.count;
}
