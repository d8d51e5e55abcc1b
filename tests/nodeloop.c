/* Nodes in one event loop, for tests (nodeloop.h). */
#include "nodeloop.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "dht/disco.h"

typedef struct waiter_t {
  struct event_base *base;
  cond_fn cond;
  void *arg;
  int timed_out;
} waiter_t;

static void
wait_check(evutil_socket_t fd, short what, void *arg)
{
  waiter_t *w = arg;
  (void)fd;
  (void)what;
  if (w->cond(w->arg))
    event_base_loopbreak(w->base);
}

static void
wait_safety(evutil_socket_t fd, short what, void *arg)
{
  waiter_t *w = arg;
  (void)fd;
  (void)what;
  w->timed_out = 1;
  event_base_loopbreak(w->base);
}

int
run_until(struct event_base *base, cond_fn cond, void *arg, int safety_ms)
{
  waiter_t w = { base, cond, arg, 0 };
  if (cond(arg))
    return 1;
  struct event *chk = event_new(base, -1, EV_PERSIST, wait_check, &w);
  struct event *saf = evtimer_new(base, wait_safety, &w);
  struct timeval tick = { 0, 5000 }, lim = { safety_ms / 1000, (safety_ms % 1000) * 1000 };
  event_add(chk, &tick);
  evtimer_add(saf, &lim);
  while (!cond(arg) && !w.timed_out)
    event_base_loop(base, EVLOOP_ONCE);
  event_free(chk);
  event_free(saf);
  return cond(arg);
}

void
quiet_log(void *ctx, int level, const char *module, const char *line)
{
  (void)ctx;
  if (getenv("NODE_DEBUG") || (level >= NN_LOG_WARN && getenv("NODE_WARN")))
    fprintf(stderr, "%s: %s\n", module, line);
}

nn_identity_t *
ident(unsigned seed)
{
  nn_mldsa_seed_t s;
  nn_identity_t *id;
  memset(s.b, 0, sizeof(s.b));
  s.b[0] = (uint8_t)seed;
  s.b[1] = (uint8_t)(seed >> 8);
  s.b[31] = 0x7e;
  assert_int_equal(nn_identity_from_seed(&id, &s), NN_OK);
  return id;
}

void
loop_limits(nn_net_limits_t *lim)
{
  nn_net_limits_default(lim);
  lim->max_per_ip = 0;
  lim->ip_rate = 0;
}

void
loop_cfg(nn_node_cfg_t *c)
{
  nn_net_limits_t lim;
  nn_node_cfg_default(c);
  loop_limits(&lim);
  c->disco.dht.table.allow_private = 1;
  c->disco.dht.table.per_bucket_group = 0;
  c->disco.dht.table.per_table_group = 0;
  c->disco.dht.table.per_table_wide = 0;
  c->disco.dht.rpc_timeout_ms = 5000;
  c->disco.peerstore.allow_nonpublic = 1;
  c->net.limits = lim;
  c->listen = "127.0.0.1:0";
  c->net.linger_ms = 200;
  c->disco.boot_retry_min_ms = 200;
  c->gossip.max_inbound_per_host = 0;
  c->api_enabled = 0;
  c->gossip.connect_interval_ms = 100;
  c->gossip.retry_min_ms = 200;
  c->log = quiet_log;
  c->log_level = NN_LOG_DEBUG;
  c->gossip.dl.embargo_base_ms = 3000;
  c->gossip.dl.embargo_mean_ms = 1000;
  c->gossip.dl.inv_mean_out_ms = 30;
  c->gossip.dl.inv_mean_in_ms = 60;
}

void
tnode_start(tnode_t *t, struct event_base *base, unsigned seed, nn_node_cfg_t *cfg)
{
  char why[512];
  t->id = ident(seed);
  snprintf(t->dir, sizeof(t->dir), "/tmp/nn-node-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  nn_err_t e = nn_node_new(&t->n, base, t->id, NN_NET_REGTEST, t->dir, cfg, why, sizeof(why));
  if (e)
    fprintf(stderr, "nn_node_new: %s\n", why);
  assert_int_equal(e, NN_OK);
  nn_disco_peer_string(nn_node_disco(t->n), t->peer, sizeof(t->peer));
}

void
tnode_stop(tnode_t *t)
{
  char p[128];
  static const char *const files[] = { "peers.sqlite", "peers.sqlite-wal", "peers.sqlite-shm", "mix.keys",
                                       "mix.replay" };
  nn_node_free(t->n);
  t->n = NULL;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", t->dir, files[i]);
    (void)unlink(p);
  }
  (void)rmdir(t->dir);
  nn_identity_free(t->id);
}

void
base_drain_free(struct event_base *base)
{
  event_base_dispatch(base);
  event_base_free(base);
}
