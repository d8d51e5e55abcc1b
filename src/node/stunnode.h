/**
 * \file stunnode.h
 * \brief STUN in a node (docs/PROTOCOL.md 10.1, 10.2): both roles on one UDP socket at the
 * node's own address and port.
 *
 * - The server (nat/stunsrv.h), for a node others can reach: Binding requests answered with the
 *   address they came from, within the server core's budgets.
 * - The client: at start, RFC 5780 discovery (nat/natdisc.h) against a configured STUN server
 *   (coturn, or any server with two addresses), from the same socket, so that what it finds is
 *   the NAT's behaviour for the node's own port. Responses and requests are told apart by their
 *   class; the client takes only answers to its own transactions.
 *
 * Threads: none (the node's loop). No globals.
 */
#ifndef NN_NODE_STUNNODE_H
#define NN_NODE_STUNNODE_H

#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "nat/natdisc.h"
#include "nat/stunsrv.h"

struct event_base;

typedef struct nn_stunnode_cfg_t {
  nn_addr_t bind;   /**< the node's listen address: UDP on the same port */
  int serve;        /**< answer Binding requests */
  nn_addr_t server; /**< a STUN server to discover our NAT against (type 0: none) */
  const nn_log_t *log;
} nn_stunnode_cfg_t;

typedef struct nn_stunnode_status_t {
  int serving;
  nn_addr_t bound;            /**< the UDP socket's address */
  nn_stunsrv_stats_t server;  /**< what the server answered and dropped */
  int discovering;            /**< a server was configured */
  nn_natdisc_result_t result; /**< its result (state RUNNING until done) */
  nn_addr_t discover_server;
} nn_stunnode_status_t;

typedef struct nn_stunnode_t nn_stunnode_t;

/** Bind the UDP socket and start. On failure \a why gets one line (the address and the fix). */
nn_err_t nn_stunnode_new(nn_stunnode_t **out, struct event_base *base, const nn_stunnode_cfg_t *cfg, char *why,
                         size_t why_len);
void nn_stunnode_free(nn_stunnode_t *s);
void nn_stunnode_status(const nn_stunnode_t *s, nn_stunnode_status_t *out);
/** Answer Binding requests (a node that found itself reachable starts), or no longer. */
void nn_stunnode_serve(nn_stunnode_t *s, int on);

#endif
