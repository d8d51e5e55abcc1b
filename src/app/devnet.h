/**
 * \file devnet.h
 * \brief A local network of nepnetd processes on loopback, for `nepnet devnet`, the devnet tests
 * and the broadcast benchmark.
 *
 * Layout: DIR/node-I/ is node I's data directory (identity, peer store, api.token, api.address,
 * nepnetd.log, nepnetd.pid). Node I listens on 127.0.0.1:BASE+2I and serves its API on
 * 127.0.0.1:BASE+2I+1, on network regtest, with the loopback limits off (every node is
 * 127.0.0.1). Node 0 bootstraps from nobody; node I > 0 from node 0 and one earlier node.
 * Processes run in their own session, so they outlive the command that started them;
 * nn_devnet_down stops them (SIGTERM, then SIGKILL after a grace period).
 */
#ifndef NN_NODE_DEVNET_H
#define NN_NODE_DEVNET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "crypto/types.h"

#define NN_DEVNET_MAX 512

typedef struct nn_devnet_t {
  char *dir;
  char *nepnetd; /**< path of the daemon */
  unsigned n;
  uint16_t base_port;
  pid_t pid[NN_DEVNET_MAX];
  char ids[NN_DEVNET_MAX][65]; /**< node ids (hex), filled by nn_devnet_up ("" if unknown) */
} nn_devnet_t;

typedef struct nn_devnet_opts_t {
  const char *dir;          /**< "devnet" */
  const char *nepnetd;      /**< the daemon; NULL: next to \a argv0, else "nepnetd" on PATH */
  const char *preset;       /**< NULL: balanced */
  uint16_t base_port;       /**< 19800 */
  const char *const *extra; /**< more nepnetd flags for every node */
  size_t n_extra;
  /** Per-node extra flags (e.g. a test node's --connect); NULL or return NULL for none. The
   *  returned array ends with NULL and is owned by the callback's context. */
  const char *const *(*node_extra)(void *ctx, unsigned i);
  void *node_ctx;
  FILE *progress;           /**< progress lines as nodes join; NULL: quiet */
  uint32_t join_timeout_ms; /**< 60000 + 500 per node */
} nn_devnet_opts_t;

void nn_devnet_opts_default(nn_devnet_opts_t *o);

/** Start \a n nodes and wait until each is up and has at least one outbound gossip peer.
 *  Returns 0, or -1 with \a why naming the node and the tail of its log. */
int nn_devnet_up(nn_devnet_t *dn, unsigned n, const char *argv0, const nn_devnet_opts_t *o, char *why, size_t why_len);
/** Load a running devnet from DIR (its pid files; a pid that is no longer that node's nepnetd
 *  counts as stopped). */
int nn_devnet_open(nn_devnet_t *dn, const char *dir, char *why, size_t why_len);
/** Stop every node: SIGTERM, SIGKILL after \a grace_ms. Returns how many were running. */
unsigned nn_devnet_down(nn_devnet_t *dn, uint32_t grace_ms);
void nn_devnet_free(nn_devnet_t *dn);

/** Node \a i's data directory (static buffer per call site: copy it). */
void nn_devnet_datadir(const nn_devnet_t *dn, unsigned i, char *out, size_t n);
/** kill -9 node \a i (tests). */
void nn_devnet_kill(nn_devnet_t *dn, unsigned i);
int nn_devnet_alive(nn_devnet_t *dn, unsigned i);

/** An API request to node \a i: GET (\a body NULL) or POST. Returns the HTTP status (0 on a
 *  connection error) and the parsed JSON body in *out (NULL if none or not JSON). */
int nn_devnet_api(const nn_devnet_t *dn, unsigned i, const char *method, const char *path, const uint8_t *body,
                  size_t len, const char *content_type, json_t **out);
/** Submit \a tx at node \a i; fills \a id. Returns 0 on success. */
int nn_devnet_submit(const nn_devnet_t *dn, unsigned i, const uint8_t *tx, size_t len, nn_hash_t *id);

/** What one node saw of one transaction (from its /v1/txs). */
typedef struct nn_devnet_seen_t {
  int seen;
  uint64_t unix_ms;
  char via[16];
  char from[65]; /**< node id hex of the peer it came from, "" if none */
} nn_devnet_seen_t;

/** Poll every live node for \a id until all have it or \a timeout_ms passes; \a seen has n
 *  entries. \a progress (may be NULL) gets one line per node as it receives it, with the time
 *  since \a t0_unix_ms. Returns how many live nodes have it. */
unsigned nn_devnet_wait_tx(nn_devnet_t *dn, const nn_hash_t *id, uint64_t t0_unix_ms, uint32_t timeout_ms,
                           nn_devnet_seen_t *seen, FILE *progress);

/** The devnet index of the node with this id (hex), or -1. */
int nn_devnet_index(const nn_devnet_t *dn, const char *id_hex);
/** Node \a i's node id (hex, 64 chars) from its status; "" if it does not answer. */
void nn_devnet_node_id(const nn_devnet_t *dn, unsigned i, char out[65]);

#endif
