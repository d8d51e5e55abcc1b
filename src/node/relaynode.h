/**
 * \file relaynode.h
 * \brief Relayed circuits in a node (docs/PROTOCOL.md 10.4): the tenant of kinds 0x40..0x47,
 * both roles.
 *
 * - As a relay (cfg.service): the sans-I/O core of nat/relay.h on the node's channels, its
 *   budgets, a timer.
 * - As a client: reservations at relays (the configured ones first, then, with cfg.reserve,
 *   any outbound peer that grants one), published in the node's record as relay addresses
 *   ("RELAYID.relay:0"); and the "relay" transport (net/transport.h), which turns a circuit
 *   into a byte stream under the secure channel, both ways: a dial to a relay address opens a
 *   circuit (the relay is found by its record and dialled first if need be), an INCOMING
 *   circuit is handed to the manager as an inbound stream. The secure channel inside is end to
 *   end: the relay carries ciphertext and authenticates nobody for us.
 *
 * The transport is owned by the manager (nn_net_add_transport) and outlives this tenant: free
 * the tenant before the manager; streams left then are closed by the manager without a word
 * to the relay (the channel to it goes at the same time).
 *
 * Threads: none (the manager's loop). No globals.
 */
#ifndef NN_NODE_RELAYNODE_H
#define NN_NODE_RELAYNODE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "dht/disco.h"
#include "lib/log.h"
#include "nat/natdisc.h"
#include "nat/relay.h"
#include "net/net.h"

#define NN_RELAYNODE_MAX_RESV 4 /**< reservations a node holds at most */

typedef struct nn_relaynode_cfg_t {
  int service;              /**< relay for others (a node others can reach) */
  nn_relay_limits_t limits; /**< the relay's budgets */
  /** Reserve at relays: 0 never; 1 at the configured relays and any outbound peer that grants
   *  a reservation, until want_relays are held. */
  int reserve;
  unsigned want_relays;      /**< reservations to hold (2; at most NN_RELAYNODE_MAX_RESV) */
  const char *const *relays; /**< relays to reserve at first: "NODEID@HOST:PORT" */
  size_t n_relays;
  unsigned max_streams; /**< relayed streams of ours at once, both ways (64) */
  /** Hole punching (PROTOCOL.md 10.5): over a relayed channel, both ends try a direct TCP
   *  connection from \a punch_from's port (the node's listener, which \a tcp must dial from:
   *  nn_tcp_opts_t.reuse_port) and move the stream onto it. 0, or no listener: relay only. */
  int punch;
  nn_transport_t *tcp;       /**< the node's TCP transport (claims) */
  nn_addr_t punch_from;      /**< the listener's address (port 0: none) */
  uint32_t punch_timeout_ms; /**< one attempt (5000) */
  unsigned punch_rounds;     /**< attempts (3) */
  /** Learn whether we are reachable (PROTOCOL.md 10.6): ask outbound peers to dial back the
   *  address they see us at; reached by 2: publish it, relay for others, drop reservations.
   *  For a node that listens without an advertised address. */
  int autonat;
  const nn_log_t *log;
} nn_relaynode_cfg_t;

void nn_relaynode_cfg_default(nn_relaynode_cfg_t *cfg);

typedef struct nn_relaynode_stats_t {
  nn_relay_stats_t relay;        /**< the relay role */
  uint32_t reservations;         /**< held at relays now */
  uint32_t streams;              /**< relayed streams of ours now */
  uint64_t dialled, dial_failed; /**< circuits we opened / that failed to open */
  uint64_t accepted, refused;    /**< INCOMING circuits taken / refused */
  uint64_t bytes_in, bytes_out;  /**< stream bytes through circuits of ours */
  uint64_t violations;           /**< relays that broke the protocol towards us */
  uint64_t reserve_refused;      /**< RESERVEs answered with another status than OK */
  uint64_t punch_rounds;         /**< hole punch attempts started (both ends count theirs) */
  uint64_t punched;              /**< relayed streams that moved to a punched connection */
  uint64_t punch_failed;         /**< relayed streams that stayed relayed after every attempt */
  uint64_t punch_bad_probe;      /**< punched connections whose probe was not the peer's token */
  uint32_t punch_ms_last;        /**< from the offer to the switch, the last one */
  uint32_t punch_ms_max;         /**< ... the longest */
} nn_relaynode_stats_t;

/** What dial-back found (nn_relaynode_reach). */
typedef enum nn_reach_t {
  NN_REACH_UNKNOWN = 0, /**< not asked yet, or no answer yet */
  NN_REACH_PUBLIC = 1,  /**< peers reached us at our address: we publish it */
  NN_REACH_PRIVATE = 2, /**< they could not: reachable through relays (and punches) only */
  NN_REACH_FIXED = 3,   /**< an advertised address was configured: not asked */
} nn_reach_t;

const char *nn_reach_str(nn_reach_t r);

/** One reservation we hold. */
typedef struct nn_relaynode_resv_t {
  nn_node_id_t relay;
  nn_addr_t addr; /**< the relay's address as we reach it */
  uint64_t expires_ms;
  uint32_t max_circuits, circuit_s, rate;
  uint64_t circuit_bytes;
} nn_relaynode_resv_t;

typedef struct nn_relaynode_t nn_relaynode_t;

/**
 * Add the relay transport to \a net, register the tenant and start reserving. \a disco finds
 * relays' records and publishes our relay addresses. On failure \a why gets one line.
 */
nn_err_t nn_relaynode_new(nn_relaynode_t **out, nn_net_t *net, nn_disco_t *disco, const nn_relaynode_cfg_t *cfg,
                          char *why, size_t why_len);
/** Unregister and stop (before the manager is freed). NULL is fine. */
void nn_relaynode_free(nn_relaynode_t *rn);
void nn_relaynode_stats(const nn_relaynode_t *rn, nn_relaynode_stats_t *out);
/** The reservations held now (at most \a max). */
size_t nn_relaynode_resvs(const nn_relaynode_t *rn, nn_relaynode_resv_t *out, size_t max);
/** Our reachability, the address it is about (if any) and why, one line. */
nn_reach_t nn_relaynode_reach(const nn_relaynode_t *rn, nn_addr_t *addr, char *why, size_t why_len);
/**
 * Our NAT's TCP mapping as the relays we hold reservations at see it (their OBSERVED): when we
 * punch, every dial leaves from the listen port, so two relays on different hosts are RFC 5780's
 * mapping test over TCP. The same address at both: endpoint-independent (NONE if it is our own
 * listen address); different ones: NN_NAT_MAP_ADM (at least; two hosts cannot tell it from
 * address and port-dependent), which is what decides whether a punch can work. UNKNOWN with
 * fewer than two relays on different hosts, or without punching. \a seen (may be NULL) gets
 * the first relay's view, \a nrelays (may be NULL) how many relays told us.
 */
nn_nat_mapping_t nn_relaynode_tcp_mapping(const nn_relaynode_t *rn, nn_addr_t *seen, unsigned *nrelays);
/** Dial-backs made for others / refused (rate, host, busy). */
void nn_relaynode_dialbacks(const nn_relaynode_t *rn, uint64_t *done, uint64_t *refused);

#endif
