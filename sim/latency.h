/**
 * \file latency.h
 * \brief The simulator's latency model: per-pair round-trip times from a region model.
 *
 * Each node lives in one of six regions, drawn with weights close to where public-node
 * populations are (Bitcoin/Ethereum node crawls: about 40% Europe, 30% North America, 15% Asia,
 * the rest South America, Oceania, Africa). The base RTT between regions is a great-circle
 * figure of the kind published by cloud providers' inter-region latency tables; within a
 * region it is 20-60 ms. Each pair gets a fixed deterministic jitter of -15%..+25% (last-mile
 * and routing differences; right-skewed, as measured RTT distributions are), and the result is
 * clamped to 20-300 ms. The same pair always has the same RTT in a run.
 */
#ifndef NN_SIM_LATENCY_H
#define NN_SIM_LATENCY_H

#include <stdint.h>

#include "crypto/keyhash.h"

#define SIM_REGIONS 6

/** The per-pair jitter: a keyed hash of the pair, keyed from the run's seed. */
typedef struct sim_latency_t {
  nn_keyhash_t pair;
} sim_latency_t;

nn_err_t sim_latency_init(sim_latency_t *l, uint64_t seed);
void sim_latency_free(sim_latency_t *l);

/** Pick a region for a node from a uniform 32-bit random value. */
uint8_t sim_region_pick(uint32_t r);
const char *sim_region_name(uint8_t region);
/** RTT in ms between nodes a and b (a != b) in regions ra, rb; deterministic in (seed, a, b). */
uint32_t sim_rtt_ms(sim_latency_t *l, uint32_t a, uint8_t ra, uint32_t b, uint8_t rb);

#endif
