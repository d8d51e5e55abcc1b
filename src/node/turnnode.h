/**
 * \file turnnode.h
 * \brief TURN in a node (docs/PROTOCOL.md 10.7): the "turn" transport, a TCP allocation at a
 * configured TURN server (nat/turn.h) through which the node dials peers when nothing else gets
 * out.
 *
 * The control connection to the server is kept (reconnected with backoff); the allocation is
 * refreshed. A dial through TURN is a Connect at the server plus a data connection bound to it:
 * the peer sees a TCP connection from the server's relayed address, and the secure channel runs
 * end to end over it (the server sees ciphertext and the two addresses it already sees).
 * A peer that connects to our relayed address (it can only if we dialled it before: the server
 * lets in only IPs with a permission) becomes an inbound stream.
 *
 * When the transport is used (the mode):
 *   1     always, once allocated: every IPv4/IPv6 dial goes through the server;
 *   auto  once the node has seen no direct TCP channel for NN_TURNNODE_AUTO_S seconds while it
 *         started at least NN_TURNNODE_AUTO_DIALS dials: a network that blocks the rest. The
 *         status says when and why.
 * Reachability for others then comes from nepnet relays: the node reserves at the peers it
 * reached through TURN like at any other outbound peer.
 *
 * Budgets: NN_TURNNODE_MAX_STREAMS streams (each one TCP connection to the server), at most
 * NN_TURNNODE_MAX_BINDING of them binding at once, NN_TURNNODE_OUT_CAP bytes of output queued
 * per stream, NN_TURNNODE_IN_CAP read ahead per stream.
 *
 * Threads: none (the node's loop). No globals.
 */
#ifndef NN_NODE_TURNNODE_H
#define NN_NODE_TURNNODE_H

#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "nat/turn.h"
#include "net/net.h"

#define NN_TURNNODE_MAX_STREAMS 64
#define NN_TURNNODE_MAX_BINDING 8
#define NN_TURNNODE_OUT_CAP (256u * 1024)
#define NN_TURNNODE_IN_CAP (256u * 1024)
#define NN_TURNNODE_AUTO_S 10
#define NN_TURNNODE_AUTO_DIALS 3

typedef struct nn_turnnode_cfg_t {
  int mode;         /**< -1 auto, 1 always (0: the node makes none) */
  nn_addr_t server; /**< the TURN server's TCP address */
  char username[NN_TURN_MAX_CRED + 1];
  char password[NN_TURN_MAX_CRED + 1]; /**< copied; the caller wipes its own copy */
  const nn_log_t *log;
} nn_turnnode_cfg_t;

typedef struct nn_turnnode_status_t {
  int mode;
  nn_addr_t server;
  nn_turn_state_t state;
  nn_addr_t relayed, mapped; /**< our address at the server; our control connection as it saw it */
  uint32_t lifetime_s;
  int engaged;   /**< dials go through TURN now */
  char why[200]; /**< why they do, or why not yet */
  uint32_t streams;
  uint64_t dialled, dial_failed, accepted, ctl_connects;
  uint64_t bytes_in, bytes_out;
  nn_turn_stats_t turn;
} nn_turnnode_status_t;

typedef struct nn_turnnode_t nn_turnnode_t;

/** Add the transport to \a net (first in line, so that it takes the dials it wants) and connect
 *  to the server. The manager owns the transport; nn_turnnode_free only detaches it. */
nn_err_t nn_turnnode_new(nn_turnnode_t **out, nn_net_t *net, const nn_turnnode_cfg_t *cfg, char *why, size_t why_len);
void nn_turnnode_free(nn_turnnode_t *t);
void nn_turnnode_status(const nn_turnnode_t *t, nn_turnnode_status_t *out);

#endif
