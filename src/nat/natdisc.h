/**
 * \file natdisc.h
 * \brief NAT behaviour discovery (RFC 5780 section 4), sans-I/O: which mapping and which filtering
 * behaviour (RFC 4787) the NAT in front of one local UDP socket has, found with Binding requests
 * to a server that has two addresses (it names the other in OTHER-ADDRESS).
 *
 * From one local socket, in this order:
 *   1. Test I: a Binding request to the server's primary address A1:P1. Its XOR-MAPPED-ADDRESS is
 *      the mapped address M1 and OTHER-ADDRESS the alternate A2:P2. M1 equal to the local address:
 *      no NAT.
 *   2. Filtering, before anything is sent towards A2 (a packet to A2 would open an
 *      address-dependent NAT to A2 and make its filtering look endpoint-independent): a request to
 *      A1:P1 asking the answer from A2:P2 (CHANGE-REQUEST ip + port). Answered: endpoint-
 *      independent filtering. Else a request asking it from A1:P2 (change port). Answered:
 *      address-dependent, else address and port-dependent.
 *   3. Mapping: a request to A2:P1. The same mapped address as M1: endpoint-independent mapping.
 *      Else a request to A2:P2: the same as the last: address-dependent, else address and
 *      port-dependent.
 * Each request is retransmitted after rto_ms, doubling, up to `tries` sends, and waits 16 rto after
 * the last (RFC 8489 6.2.1); a filtering test, whose answer is expected to be missing, gets
 * filter_tries sends. An answer counts only from the address it must come from, with the
 * transaction id of a request of ours and a correct FINGERPRINT if it has one.
 *
 * The classic names map onto it: full cone = EIM + EIF, restricted cone = EIM + ADF,
 * port-restricted cone = EIM + APDF, symmetric = APDM (any filtering). Hole punching works
 * between two NATs unless both map per destination (APDM or ADM on both sides).
 */
#ifndef NN_NAT_NATDISC_H
#define NN_NAT_NATDISC_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "lib/addr.h"

typedef enum nn_nat_mapping_t {
  NN_NAT_MAP_UNKNOWN = 0,
  NN_NAT_MAP_NONE, /**< no NAT: the mapped address is the local one */
  NN_NAT_MAP_EIM,  /**< endpoint-independent */
  NN_NAT_MAP_ADM,  /**< address-dependent */
  NN_NAT_MAP_APDM, /**< address and port-dependent ("symmetric") */
} nn_nat_mapping_t;

typedef enum nn_nat_filtering_t {
  NN_NAT_FILTER_UNKNOWN = 0,
  NN_NAT_FILTER_EIF,  /**< endpoint-independent: anyone may send to the mapping */
  NN_NAT_FILTER_ADF,  /**< address-dependent: hosts we sent to, any port */
  NN_NAT_FILTER_APDF, /**< address and port-dependent: only the exact addresses we sent to */
} nn_nat_filtering_t;

typedef enum nn_natdisc_state_t {
  NN_NATDISC_RUNNING = 0,
  NN_NATDISC_DONE,    /**< mapping and filtering found */
  NN_NATDISC_PARTIAL, /**< the server gave no OTHER-ADDRESS: only the mapped address is known */
  NN_NATDISC_FAILED,  /**< the server never answered test I */
} nn_natdisc_state_t;

typedef struct nn_natdisc_result_t {
  nn_natdisc_state_t state;
  nn_nat_mapping_t mapping;
  nn_nat_filtering_t filtering;
  nn_addr_t mapped;    /**< M1, from test I */
  nn_addr_t other;     /**< the server's alternate address A2:P2 */
  uint32_t requests;   /**< sends, retransmissions included */
  uint64_t elapsed_ms; /**< from start to the result */
} nn_natdisc_result_t;

typedef struct nn_natdisc_io_t {
  /** Send \a msg to \a to from the local socket under test. */
  void (*send)(void *ctx, const nn_addr_t *to, const uint8_t *msg, size_t len);
  void *ctx;
} nn_natdisc_io_t;

typedef struct nn_natdisc_cfg_t {
  nn_addr_t server;      /**< A1:P1 */
  nn_addr_t local;       /**< the socket's own address (to tell "no NAT"); any-address if unknown */
  uint32_t rto_ms;       /**< first retransmission timeout (500, RFC 8489) */
  unsigned tries;        /**< sends per test that should be answered (7, RFC 8489's Rc) */
  unsigned filter_tries; /**< sends per filtering test (3: its answer may never come) */
  const nn_rng_t *rng;   /**< transaction ids; NULL = CSPRNG */
} nn_natdisc_cfg_t;

typedef struct nn_natdisc_t nn_natdisc_t;

void nn_natdisc_cfg_default(nn_natdisc_cfg_t *cfg);
/** Start: test I is sent at once (through io->send, before this returns). */
nn_err_t nn_natdisc_new(nn_natdisc_t **out, const nn_natdisc_cfg_t *cfg, const nn_natdisc_io_t *io, uint64_t now_ms);
void nn_natdisc_free(nn_natdisc_t *d);
/** A datagram that reached the socket from \a from: 1 if it was an answer of ours (consumed),
 *  0 otherwise (not STUN, not ours, or from the wrong address: the caller may try other uses). */
int nn_natdisc_input(nn_natdisc_t *d, const nn_addr_t *from, const uint8_t *msg, size_t len, uint64_t now_ms);
void nn_natdisc_tick(nn_natdisc_t *d, uint64_t now_ms);
/** When to tick next; UINT64_MAX once finished. */
uint64_t nn_natdisc_deadline(const nn_natdisc_t *d);
void nn_natdisc_result(const nn_natdisc_t *d, nn_natdisc_result_t *out);

const char *nn_nat_mapping_name(nn_nat_mapping_t m);
const char *nn_nat_filtering_name(nn_nat_filtering_t f);

#endif
