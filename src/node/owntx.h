/**
 * \file owntx.h
 * \brief The timeline of the node's own transactions (issue 17): for each one submitted here,
 * what happened to it, step by step: submitted, stemmed to relay R (or the stem dropped, and
 * why), handed to Tor peers or one-use channels, seen back from peer P (the network has it, and
 * another node announced it), or the embargo fired (we broadcast it ourselves).
 *
 * Memory only and bounded: at most NN_OWNTX_MAX transactions (the oldest goes first), none older
 * than NN_OWNTX_MAX_AGE_MS, NN_OWNTX_MAX_STEPS steps each (later ones are counted, not kept).
 * Gone on restart, never written anywhere: it is the one record that links this node to its
 * own transactions.
 *
 * Threads: none. No globals.
 */
#ifndef NN_NODE_OWNTX_H
#define NN_NODE_OWNTX_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/types.h"
#include "crypto/types.h"

#define NN_OWNTX_MAX 256
#define NN_OWNTX_MAX_AGE_MS (24u * 3600 * 1000)
#define NN_OWNTX_MAX_STEPS 16

/** Where a transaction of ours stands (the last step decides). */
typedef enum nn_owntx_state_t {
  NN_OWNTX_SUBMITTED = 0,  /**< nothing has left yet (waiting for a relay, a Tor peer...) */
  NN_OWNTX_STEM = 1,       /**< stemmed (to a relay, a Tor peer, one-use channels): not seen back */
  NN_OWNTX_PROPAGATED = 2, /**< seen back from a peer: the network has it, another node announced it */
  NN_OWNTX_EMBARGOED = 3,  /**< the embargo fired: we broadcast it ourselves */
  NN_OWNTX_DIRECT = 4,     /**< route direct: we broadcast it at once (no origin hiding) */
  NN_OWNTX_MIXNET = 5,     /**< handed to the mixnet: its exit broadcasts it */
  NN_OWNTX_DROPPED = 6,    /**< given up (tx-proxy found no way out in time) */
} nn_owntx_state_t;

const char *nn_owntx_state_str(nn_owntx_state_t s);

typedef struct nn_owntx_step_t {
  uint64_t unix_ms;
  char what[24];   /**< "submitted", "stem", "stem-dropped", "tx-proxy", "private-broadcast",
                        "waiting", "seen-back", "embargo-fired", "direct", "mixnet", "dropped" */
  char peer[65];   /**< the peer's node id in hex ("" : none, or anonymous) */
  char detail[96]; /**< what else there is to say ("via fluff", "relay backlogged") */
} nn_owntx_step_t;

typedef struct nn_owntx_entry_t {
  nn_hash_t id;
  uint64_t submitted_unix_ms, submitted_mono_ms;
  size_t len;
  char route[24];
  nn_owntx_state_t state;
  size_t nsteps;
  uint32_t steps_lost;      /**< steps past NN_OWNTX_MAX_STEPS */
  uint64_t embargo_unix_ms; /**< when our embargo fires if it is not seen back (0: no stem yet) */
  nn_owntx_step_t steps[NN_OWNTX_MAX_STEPS];
} nn_owntx_entry_t;

typedef struct nn_owntx_t nn_owntx_t;

nn_err_t nn_owntx_new(nn_owntx_t **out);
void nn_owntx_free(nn_owntx_t *t);
/** A transaction submitted here (a second submission of the same one adds a step). */
void nn_owntx_add(nn_owntx_t *t, const nn_hash_t *id, size_t len, const char *route, uint64_t unix_ms,
                  uint64_t mono_ms);
/** A step of one of ours (ignored for any other id: the caller need not know which are ours).
 *  \a peer may be NULL; \a state the state it leads to, or -1 to leave it. Returns 1 if it was
 *  ours. */
int nn_owntx_step(nn_owntx_t *t, const nn_hash_t *id, const char *what, const nn_node_id_t *peer, const char *detail,
                  int state, uint64_t unix_ms);
/** The embargo deadline of one of ours (ignored for others). */
void nn_owntx_set_embargo(nn_owntx_t *t, const nn_hash_t *id, uint64_t unix_ms);
/** Ours? NULL otherwise. Valid until the next call. */
const nn_owntx_entry_t *nn_owntx_find(const nn_owntx_t *t, const nn_hash_t *id);
/** The \a i-th, newest first (NULL past the end). Valid until the next call. */
const nn_owntx_entry_t *nn_owntx_get(const nn_owntx_t *t, size_t i);
size_t nn_owntx_count(const nn_owntx_t *t);
/** Forget those older than NN_OWNTX_MAX_AGE_MS. */
void nn_owntx_expire(nn_owntx_t *t, uint64_t mono_ms);

#endif
