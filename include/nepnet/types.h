/**
 * \file nepnet/types.h
 * \brief Byte types and small enums that appear in the public API.
 */
#ifndef NEPNET_TYPES_H
#define NEPNET_TYPES_H

#include <stdint.h>

#define NN_NODE_ID_LEN 32    /**< SHA3-256 of the ML-DSA-87 public key */
#define NN_MLDSA_PK_LEN 2592 /**< FIPS 204 ML-DSA-87 public key */
#define NN_MLDSA_SEED_LEN 32 /**< FIPS 204 key generation seed (xi) */

/** A node's identifier: SHA3-256 of its ML-DSA-87 public key. */
typedef struct nn_node_id_t {
  uint8_t b[NN_NODE_ID_LEN];
} nn_node_id_t;
/** An ML-DSA-87 public key, as FIPS 204 encodes it. */
typedef struct nn_mldsa_pk_t {
  uint8_t b[NN_MLDSA_PK_LEN];
} nn_mldsa_pk_t;
/** The 32-byte seed an ML-DSA-87 key pair is derived from (secret). */
typedef struct nn_mldsa_seed_t {
  uint8_t b[NN_MLDSA_SEED_LEN];
} nn_mldsa_seed_t;

/** How a node's own transactions leave it. */
typedef enum nn_route_t {
  NN_ROUTE_DIRECT = 0,          /**< fluffed at once: the baseline, no origin hiding */
  NN_ROUTE_DANDELION = 1,       /**< stem then fluff (default) */
  NN_ROUTE_MIXNET = 2,          /**< not available yet (mixnet issue) */
  NN_ROUTE_DANDELION_MIXNET = 3 /**< not available yet (mixnet issue) */
} nn_route_t;

#endif
