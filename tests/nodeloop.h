/*
 * Nodes in one event loop, for tests: a node per identity seed in a temporary data directory,
 * on loopback with the devnet's settings (private addresses, no per-address limits, short
 * timers), and a loop run until a condition holds.
 */
#ifndef NN_TESTS_NODELOOP_H
#define NN_TESTS_NODELOOP_H

#include <event2/event.h>

#include "nepnet/identity.h"
#include "net/net.h"
#include "node/node.h"

typedef int (*cond_fn)(void *arg);

/** Run \a base until cond(arg) holds or \a safety_ms pass; returns cond(arg). */
int run_until(struct event_base *base, cond_fn cond, void *arg, int safety_ms);
/** Log lines of every node: dropped unless NODE_DEBUG (all) or NODE_WARN (warnings) is set. */
void quiet_log(void *ctx, int level, const char *module, const char *line);
/** The identity of seed \a seed (deterministic). */
nn_identity_t *ident(unsigned seed);
/** Limits without per-address caps (many nodes on one address). */
void loop_limits(nn_net_limits_t *lim);
/** A node's settings for a loop: loopback, private addresses, short timers, no API, quiet logs
 *  (NODE_DEBUG=1 prints everything, NODE_WARN=1 warnings). */
void loop_cfg(nn_node_cfg_t *c);

typedef struct tnode_t {
  nn_identity_t *id;
  nn_node_t *n;
  char dir[64], peer[256];
} tnode_t;

void tnode_start(tnode_t *t, struct event_base *base, unsigned seed, nn_node_cfg_t *cfg);
/** Free the node, remove the files it made and its directory. */
void tnode_stop(tnode_t *t);
/** Run what is left on \a base and free it. */
void base_drain_free(struct event_base *base);

#endif
