/**
 * \file seedkey.h
 * \brief The simulators' deterministic pseudo-randomness: the keyed hash (crypto/keyhash.h)
 * under a key that is a function of the run's seed and a label only. The same seed replays a
 * run exactly; different labels give unrelated keys, so two uses of one seed (per-pair
 * latencies, the simulator's own draws) never share outputs.
 */
#ifndef NN_SIM_SEEDKEY_H
#define NN_SIM_SEEDKEY_H

#include <stdint.h>

#include "crypto/keyhash.h"

/** Key \a h from SHA3-256(\a label || be64(\a seed)) through a seeded nn_drbg_t. Free it with
 *  nn_keyhash_free. */
nn_err_t sim_seedkey_init(nn_keyhash_t *h, uint64_t seed, const char *label);

#endif
