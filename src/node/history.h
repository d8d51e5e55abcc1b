/**
 * \file history.h
 * \brief The node's last hour, one sample per NN_HISTORY_INTERVAL_MS (GET /v1/history): so that
 * a status page opened now has curves of bandwidth, peers, the DHT and the pools without
 * Prometheus. Nothing in a sample is about our own transactions (the pools count everybody's).
 *
 * Threads: none. No globals.
 */
#ifndef NN_NODE_HISTORY_H
#define NN_NODE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

#define NN_HISTORY_INTERVAL_MS 10000u
#define NN_HISTORY_MAX 360 /**< one hour */

typedef struct nn_history_sample_t {
  uint64_t unix_ms;
  uint64_t bytes_in, bytes_out; /**< gossip bytes so far (counters: the page plots the rate) */
  uint32_t peers_in, peers_out, dht_size;
  uint32_t mempool, stempool; /**< transactions */
} nn_history_sample_t;

typedef struct nn_history_t nn_history_t;

nn_err_t nn_history_new(nn_history_t **out);
void nn_history_free(nn_history_t *h);
/** Keep \a s (the oldest of NN_HISTORY_MAX goes). NN_ERR_NOMEM if the ring cannot be made. */
nn_err_t nn_history_add(nn_history_t *h, const nn_history_sample_t *s);
size_t nn_history_count(const nn_history_t *h);
/** The \a i-th sample, oldest first; NULL past the end. */
const nn_history_sample_t *nn_history_get(const nn_history_t *h, size_t i);

#endif
