/**
 * \file replay.h
 * \brief The replay filter of one key epoch: a Bloom filter of the replay tags a mix has seen.
 *
 * A mix that passed the same packet on twice would let an observer who replays it find its
 * output by the doubled traffic (the n-1 and replay attacks Sphinx names), so every tag seen in
 * an epoch is remembered until the epoch's key is gone; the key going is what lets the filter
 * go. A Bloom filter never forgets (no replay passes), and mistakes only the other way: an
 * honest packet is taken for a replay with probability about 1e-6 while the filter holds at
 * most its capacity, more beyond it. Memory: 28.8 bits per tag of capacity (2^21 tags: 7.2 MiB).
 *
 * The tags are HKDF outputs of secrets the sender cannot aim (docs/PROTOCOL.md 9.2), so their
 * bits index the filter directly.
 */
#ifndef NN_MIXNET_REPLAY_H
#define NN_MIXNET_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

#define NN_REPLAY_TAG_LEN 32
#define NN_REPLAY_MAX_CAPACITY ((size_t)1 << 30)

typedef struct nn_replay_t nn_replay_t;

/** A filter sized for \a capacity tags (1..2^30) at a false-positive rate of about 1e-6. */
nn_err_t nn_replay_new(nn_replay_t **out, size_t capacity);
void nn_replay_free(nn_replay_t *r);

/** 1 if \a tag was (probably) seen before; else records it and returns 0. */
int nn_replay_check_and_add(nn_replay_t *r, const uint8_t tag[NN_REPLAY_TAG_LEN]);

/** The filter's bits (\a *nwords 64-bit words) and tag count, to save it. */
const uint64_t *nn_replay_bits(const nn_replay_t *r, size_t *nwords);
/** Merge saved bits into \a r (OR: nothing it holds is forgotten), adding \a count to its tag
 *  count. NN_ERR_ARG unless \a nwords is the filter's size (the same capacity). */
nn_err_t nn_replay_merge(nn_replay_t *r, const uint64_t *bits, size_t nwords, size_t count);

/** Tags recorded, and the filter's size in bytes. */
size_t nn_replay_count(const nn_replay_t *r);
size_t nn_replay_bytes(const nn_replay_t *r);

#endif
