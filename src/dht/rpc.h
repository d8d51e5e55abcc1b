/**
 * \file rpc.h
 * \brief The DHT's RPC messages (docs/PROTOCOL.md section 7): encoded into and parsed from one
 * secure-channel message each. Pure functions, no state: the node core (dht.c) and the fuzzers
 * use them.
 *
 *   message = kind u8 || request id u64 || body
 *
 * A request carries the sender's advertised listening address (or none), so that a node that
 * reaches us through an inbound connection can be added to the routing table.
 */
#ifndef NN_DHT_RPC_H
#define NN_DHT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/types.h"
#include "lib/addr.h"
#include "lib/wire.h"

enum {
  NN_RPC_PING = 0x10,
  NN_RPC_PONG = 0x11,
  NN_RPC_FIND_NODE = 0x12,
  NN_RPC_NODES = 0x13,
  NN_RPC_FIND_VALUE = 0x14,
  NN_RPC_VALUE = 0x15,
  NN_RPC_STORE = 0x16,
  NN_RPC_STORED = 0x17,
  /* Like FIND_VALUE, but a node without the value asks its own closest contacts once (over
   * channels it already has open) and answers VALUE with what they found: two hops for the
   * price of one round trip to it. */
  NN_RPC_FIND_VALUE_RELAY = 0x18,
};

#define NN_RPC_MAX_NODES 20    /* contacts in one NODES/VALUE answer */
#define NN_RPC_MAX_VALUE 16384 /* a peer record is ~7.3 KB */
#define NN_RPC_MAX_RELAY_HOPS 2
#define NN_RPC_MAX_LEN                                                                                                 \
  (1 + 8 + 1 + NN_ADDR_WIRE_MAX + 32 + 4 + NN_RPC_MAX_VALUE + 1 + NN_RPC_MAX_NODES * (32 + NN_ADDR_WIRE_MAX))

typedef enum nn_rpc_store_status_t {
  NN_STORE_OK = 0,
  NN_STORE_INVALID = 1,   /* the value did not verify */
  NN_STORE_OLDER = 2,     /* we hold a newer one */
  NN_STORE_FULL = 3,      /* no room */
  NN_STORE_NOT_CLOSE = 4, /* we are not among the k closest we know to the key */
} nn_rpc_store_status_t;

typedef struct nn_rpc_node_t {
  nn_node_id_t id;
  nn_addr_t addr;
} nn_rpc_node_t;

typedef struct nn_rpc_t {
  uint8_t kind;
  uint64_t id;          /* request id, echoed by the answer */
  int has_addr;         /* requests: the sender's listening address follows */
  nn_addr_t addr;       /* requests: sender's listening address; PONG: the address we saw */
  nn_node_id_t target;  /* FIND_NODE, FIND_VALUE, STORE: key */
  const uint8_t *value; /* VALUE (if has_value), STORE: points into the parsed buffer */
  size_t value_len;
  int has_value;
  uint8_t status; /* STORED */
  uint8_t hops;   /* FIND_VALUE_RELAY: relay hops left after the receiver (0..2) */
  size_t nnodes;  /* NODES, VALUE */
  nn_rpc_node_t nodes[NN_RPC_MAX_NODES];
} nn_rpc_t;

/** Encode \a m into \a w. */
nn_err_t nn_rpc_encode(const nn_rpc_t *m, nn_wire_writer_t *w);
/**
 * Parse one message. Every field is bounded (node count <= 20, value <= 16 KiB), unknown kinds
 * and trailing bytes are errors; on error \a m is zeroed.
 */
nn_err_t nn_rpc_decode(nn_rpc_t *m, const uint8_t *buf, size_t len);
/** Is \a kind a request (as opposed to an answer)? */
int nn_rpc_is_request(uint8_t kind);

#endif
