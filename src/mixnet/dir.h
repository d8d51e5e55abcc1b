/**
 * \file dir.h
 * \brief Mix descriptors (signed by the mix's ML-DSA-87 identity) and the directory a client
 * builds stratified routes from.
 *
 * A descriptor announces one mix for key epochs e and e + 1: its identity key (its node id is
 * the key's SHA3-256), its addresses and its two hybrid KEM public keys (docs/PROTOCOL.md 9.7).
 * A mix publishes a new one every epoch, before e begins. Nobody chooses a mix's layer: it is
 * dealt from the node id and the epoch (nn_mix_layer_key), so an operator of many mixes cannot
 * stack them in one layer, and every node that holds the same descriptors sees the same layers.
 *
 * The directory keeps the descriptors of the epochs in use (sans-I/O: bytes and time in), caps
 * what it holds (mixes per epoch, mixes per network group: a /16 of IPv4, a /32 of IPv6), gives
 * a digest of each epoch's set so nodes can compare their views (docs/PROTOCOL.md 9.7 says how
 * views converge and what a split view would give an attacker), keeps a reliability score per
 * mix from the loops that went through it, and picks routes: one mix per layer, uniformly among
 * the mixes of the layer whose score is not poor.
 */
#ifndef NN_MIXNET_DIR_H
#define NN_MIXNET_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "nepnet/types.h"
#include "crypto/hybrid.h"
#include "crypto/rand.h"
#include "crypto/types.h"
#include "lib/addr.h"
#include "mixnet/sphinx.h"

#define NN_MIXDESC_VERSION 1
#define NN_MIXDESC_CONTEXT "nepnet/v1 mix descriptor"
#define NN_MIXDESC_MAX_ADDRS 8
#define NN_MIXDESC_MAX_SKEW 600 /* issued_at may lead the reader's clock by this many seconds */
#define NN_MIXDESC_FIXED_LEN                                                                                           \
  (1 + 4 + NN_MLDSA_PK_LEN + 4 + 8 + 1 + 2 * (NN_X25519_LEN + NN_MLKEM_PK_LEN) +                                       \
   NN_MLDSA_SIG_LEN) /* 10437 + addresses */
#define NN_MIXDESC_MAX_LEN (NN_MIXDESC_FIXED_LEN + NN_MIXDESC_MAX_ADDRS * NN_ADDR_WIRE_MAX)

/** A descriptor, decoded (about 11 KB, no pointers). */
typedef struct nn_mixdesc_t {
  uint32_t network;
  nn_node_id_t node_id; /**< SHA3-256(pk) */
  nn_mldsa_pk_t pk;
  uint32_t epoch;     /**< keys[0] is for this epoch, keys[1] for the next */
  uint64_t issued_at; /**< unix seconds */
  uint8_t n_addrs;    /**< 1..8 */
  nn_addr_t addrs[NN_MIXDESC_MAX_ADDRS];
  nn_hybrid_pk_t keys[2];
  nn_hash_t hash; /**< SHA3-256 of the whole encoding: what the directory digest is made of */
} nn_mixdesc_t;

/** Encode and sign (the identity's key; FIPS 204 randomness from \a rng, NULL: CSPRNG) a
 *  descriptor from \a d's network, epoch, issued_at, addresses and keys into \a out. */
nn_err_t nn_mixdesc_build(const nn_mixdesc_t *d, const nn_identity_t *id, const nn_rng_t *rng, uint8_t *out, size_t cap,
                          size_t *len);

/** Why a descriptor was refused. */
typedef enum nn_mixdesc_status_t {
  NN_MIXDESC_OK = 0,
  NN_MIXDESC_MALFORMED, /**< does not parse (truncated, trailing bytes, a bad field) */
  NN_MIXDESC_NETWORK,   /**< for another network */
  NN_MIXDESC_FUTURE,    /**< issued more than NN_MIXDESC_MAX_SKEW in the future */
  NN_MIXDESC_SIGNATURE  /**< the signature does not verify */
} nn_mixdesc_status_t;

/** Parse and verify \a in (the whole descriptor) for \a network at \a now_s (unix seconds). */
nn_mixdesc_status_t nn_mixdesc_parse(nn_mixdesc_t *d, const uint8_t *in, size_t len, uint32_t network, uint64_t now_s);

/** A mix's layer key in \a epoch: SHA3-256("nepnet-mix-layer" || node id || u32 epoch). A view
 *  deals its mixes to the layers round-robin in the order of their keys (docs/PROTOCOL.md 9.7). */
void nn_mix_layer_key(const nn_node_id_t *id, uint32_t epoch, nn_hash_t *key);

/* ---- the directory ---- */

typedef struct nn_mixdir_t nn_mixdir_t;

typedef struct nn_mixdir_cfg_t {
  uint32_t network;
  unsigned layers;        /**< mix layers: the geometry's hops - 1 (3) */
  size_t max_mixes;       /**< mixes in a view, descriptors per epoch (256) */
  unsigned max_per_group; /**< mixes per network group in a view (2; the store keeps 4 times as many) */
  int allow_private;      /**< take mixes at loopback and private addresses, each address and port
                               a group of its own (devnets only; 0) */
  double min_reliability; /**< a mix whose score is below this is skipped... (0.6) */
  uint32_t min_loops;     /**< ... once this many loops went through it (10) */
  const nn_rng_t *rng;    /**< route choice; NULL = CSPRNG */
} nn_mixdir_cfg_t;

void nn_mixdir_cfg_default(nn_mixdir_cfg_t *cfg, uint32_t network);

typedef enum nn_mixdir_add_t {
  NN_MIXDIR_ADDED = 0,
  NN_MIXDIR_REPLACED,   /**< a newer descriptor of the same mix and epoch */
  NN_MIXDIR_KNOWN,      /**< this one, or a newer one, is here already */
  NN_MIXDIR_INVALID,    /**< nn_mixdesc_parse refused it (malformed, another network, a bad signature) */
  NN_MIXDIR_STALE,      /**< for an epoch that is over */
  NN_MIXDIR_FULL,       /**< max_mixes for its epoch */
  NN_MIXDIR_GROUP_FULL, /**< 4 x max_per_group for its epoch and network group */
  NN_MIXDIR_ADDRESS,    /**< its address is not public (and allow_private is off) */
  NN_MIXDIR_FUTURE      /**< issued more than NN_MIXDESC_MAX_SKEW ahead of our clock: a clock
                             off somewhere, not a forgery (whoever passed it on is not at fault) */
} nn_mixdir_add_t;

nn_err_t nn_mixdir_new(nn_mixdir_t **out, const nn_mixdir_cfg_t *cfg);
void nn_mixdir_free(nn_mixdir_t *dir);

/** Take a descriptor; \a epoch_now is the current key epoch (descriptors for epochs before
 *  epoch_now - 1 are stale), \a now_s the clock. */
nn_mixdir_add_t nn_mixdir_add(nn_mixdir_t *dir, const uint8_t *in, size_t len, uint32_t epoch_now, uint64_t now_s);
/** Forget descriptors whose keys are all over (epoch + 1 < epoch_now). */
void nn_mixdir_expire(nn_mixdir_t *dir, uint32_t epoch_now);

/** The mixes usable in \a epoch (a descriptor for epoch or for epoch - 1), and the digest of
 *  that set: SHA3-256 of the sorted descriptor hashes (two nodes with the same view have the
 *  same digest). */
size_t nn_mixdir_digest(nn_mixdir_t *dir, uint32_t epoch, nn_hash_t *digest);

/** A stratified route for \a epoch: route[i] from layer i, i = 0..layers-1 (\a hops must be
 *  the number of layers), uniformly among the layer's mixes that are not poor (among all of
 *  them when every one is); each hop's delay_ms is left 0 for the caller, who appends the
 *  recipient.
 *  NN_ERR_NOTFOUND if a layer has no usable mix. The keys point into the directory: valid until
 *  the next add or expire. */
nn_err_t nn_mixdir_route(nn_mixdir_t *dir, uint32_t epoch, nn_sphinx_hop_t *route, size_t hops);

/** The encoding of the descriptor whose SHA3-256 is \a hash (to pass on), or NULL; valid until
 *  the next add or expire. */
const uint8_t *nn_mixdir_get(const nn_mixdir_t *dir, const nn_hash_t *hash, size_t *len);
/** Up to \a max hashes of the descriptors in \a epoch's view (what its digest is made of). */
size_t nn_mixdir_hashes(nn_mixdir_t *dir, uint32_t epoch, nn_hash_t *out, size_t max);
/** The latest descriptor held of mix \a id (its addresses), or NULL. */
const nn_mixdesc_t *nn_mixdir_find(const nn_mixdir_t *dir, const nn_node_id_t *id);
/** The size of \a epoch's view; when \a i is below it, \a *d and \a *layer are its i-th mix. */
size_t nn_mixdir_view(nn_mixdir_t *dir, uint32_t epoch, size_t i, const nn_mixdesc_t **d, unsigned *layer);
/** A mix of \a epoch's view drawn uniformly among those that are not poor (among all when every
 *  one is): an exit. \a own_epoch: only mixes whose descriptor is for \a epoch itself (its two
 *  keys are then for epoch and epoch + 1). NULL if none. */
const nn_mixdesc_t *nn_mixdir_pick(nn_mixdir_t *dir, uint32_t epoch, int own_epoch);
/** The key \a d gives for \a epoch (its epoch or the next), else NULL. */
const nn_hybrid_pk_t *nn_mixdesc_key(const nn_mixdesc_t *d, uint32_t epoch);

/** The layer of mix \a id in \a epoch's view, NN_MIXDIR_NO_LAYER if it is not in it. */
#define NN_MIXDIR_NO_LAYER 0xffu
unsigned nn_mixdir_layer(nn_mixdir_t *dir, uint32_t epoch, const nn_node_id_t *id);

/** A loop that went through \a mix came back (\a ok) or did not. */
void nn_mixdir_report(nn_mixdir_t *dir, const nn_node_id_t *mix, int ok);
/** The mix's score: (loops back + 1) / (loops sent + 2); 0.5 when nothing is known. */
double nn_mixdir_reliability(const nn_mixdir_t *dir, const nn_node_id_t *mix);

#endif
