/* An initiator and a responder wired back to back in memory, for tests and fuzzers: pump()
 * moves output bytes from each side to the other until both are quiet. */
#ifndef NN_TESTS_CHANPAIR_H
#define NN_TESTS_CHANPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/channel.h"
#include "crypto/rand.h"

typedef struct side_t {
  nn_chan_t *ch;
  int established, closed;
  size_t nmsgs;
  uint8_t *last; /* copy of the last message received */
  size_t last_len;
  uint64_t bytes_in; /* total message bytes received */
} side_t;

typedef struct pair_t {
  side_t i, r;
  nn_identity_t *id_i, *id_r;
  nn_drbg_t di, dr;
  nn_rng_t rng_i, rng_r;
  uint64_t now;
} pair_t;

/* Identities from fixed seeds; deterministic RNGs. i_anon: the initiator has no identity.
 * expected: the node id the initiator expects (NULL = the responder's real id). */
void pair_init(pair_t *p, int i_anon, uint32_t net_i, uint32_t net_r, const nn_node_id_t *expected);
/* Same with full control over both configs (callbacks and ctx are filled in). */
void pair_init_cfg(pair_t *p, nn_chan_config_t *ci, nn_chan_config_t *cr);
/* Move bytes both ways until nothing moves. */
void pair_pump(pair_t *p);
/* Move the initiator's pending output to the responder (or back) in one call. */
size_t pair_move(pair_t *p, side_t *from, side_t *to);
void pair_free(pair_t *p);

/* ---- Appended for test_channel.c: step-by-step control of a pair. ---- */

/* Zero \a p and create the fixed identities and deterministic RNGs pair_init uses, without any
 * channel: fill configs from p->id_i, p->id_r, p->rng_i, p->rng_r, then call pair_init_cfg. */
void pair_prepare(pair_t *p);
/* A copy of everything \a s has queued for output, consumed from the channel (free() it).
 * Returns NULL with *n = 0 when nothing is pending. */
uint8_t *pair_take(side_t *s, size_t *n);
/* Feed \a n bytes to \a to at p->now; returns what nn_chan_recv returned. */
nn_err_t pair_feed(pair_t *p, side_t *to, const uint8_t *d, size_t n);

#endif
