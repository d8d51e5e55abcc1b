/**
 * \file dandelion.h
 * \brief The Dandelion++ broadcast core, sans-I/O (Fanti et al. 2018, with Monero's deployed
 * choices): per-node epochs, 2 outbound stem relays per epoch, per-source pinning, own
 * transactions always stemmed, exponential embargo timers, a stempool kept apart from the
 * mempool, and announce-then-fetch diffusion for the fluff phase.
 *
 * Peers are opaque uint32 handles the caller assigns. The caller delivers stem transactions,
 * fluffed transactions, INVs and GETDATAs as they arrive; the core answers through the io
 * callbacks. Time is passed in; randomness is injected, so a run replays byte for byte.
 */
#ifndef NN_DANDELION_DANDELION_H
#define NN_DANDELION_DANDELION_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/types.h"
#include "crypto/rand.h"
#include "crypto/types.h"

typedef struct nn_dl_t nn_dl_t;

/* nn_route_t (nepnet/types.h): how the node's own transactions leave it. */

/** 1 when this build implements \a mode; nn_dl_new returns NN_ERR_ARG for the others. The
 *  mixnet modes are the node's (node/mixnode.h sends its own transactions); nn_dl_submit stems. */
int nn_dl_route_available(nn_route_t mode);
/** A short description, e.g. "mixnet (not available yet)"; never NULL. */
const char *nn_dl_route_str(nn_route_t mode);

/** How a transaction entered the mempool (nn_dl_io_t.deliver). */
typedef enum nn_dl_via_t {
  NN_DL_VIA_FLUFF = 0,      /**< fluffed to us by \a from (a GETDATA answer or a push) */
  NN_DL_VIA_STEM_FLUFF = 1, /**< a stem from \a from that we fluffed (fluff epoch, or no relay) */
  NN_DL_VIA_EMBARGO = 2,    /**< our embargo timer fired on a stem transaction */
  NN_DL_VIA_DIRECT = 3,     /**< our own, route DIRECT: fluffed at once */
  NN_DL_VIA_MIXNET = 4      /**< out of the mixnet, at its exit (nn_dl_from_mixnet) */
} nn_dl_via_t;
const char *nn_dl_via_str(nn_dl_via_t via);

/** No peer (\a from of deliver, when the transaction came from no peer). */
#define NN_DL_NO_PEER UINT32_MAX

typedef struct nn_dl_io_t {
  void (*send_stem)(void *ctx, uint32_t peer, const uint8_t *tx, size_t len);
  void (*send_inv)(void *ctx, uint32_t peer, const nn_hash_t *id);
  void (*send_getdata)(void *ctx, uint32_t peer, const nn_hash_t *id);
  /** The answer to a GETDATA (only ever from the mempool). */
  void (*send_tx)(void *ctx, uint32_t peer, const uint8_t *tx, size_t len);
  /** A new transaction entered the mempool (the node/app sees it), \a via how, from \a from
   *  (NN_DL_NO_PEER for EMBARGO and DIRECT). The first fluffer of a transaction is the node
   *  that delivers it with STEM_FLUFF or EMBARGO. */
  void (*deliver)(void *ctx, const uint8_t *tx, size_t len, nn_dl_via_t via, uint32_t from);
  void *ctx;
} nn_dl_io_t;

typedef struct nn_dl_cfg_t {
  nn_route_t route;             /**< NN_ROUTE_DANDELION */
  double fluff_prob;            /**< q, per node per epoch (0.1; accepted 0.05..0.5) */
  uint32_t epoch_ms;            /**< epoch length (600,000) ... */
  uint32_t epoch_jitter_ms;     /**< ... +/- uniform up to this (30,000), so epochs desynchronise */
  uint32_t embargo_base_ms;     /**< embargo = base (5,000) ... */
  uint32_t embargo_mean_ms;     /**< ... + exponential with this mean (39,000, Monero) */
  uint32_t inv_mean_in_ms;      /**< INV delay to an inbound peer: exponential, mean (5,000) */
  uint32_t inv_mean_out_ms;     /**< INV delay to an outbound peer: exponential, mean (2,000) */
  uint32_t request_timeout_ms;  /**< an unanswered GETDATA may be re-sent to a later announcer (30,000) */
  size_t max_tx_bytes;          /**< largest transaction accepted (8 MiB) */
  size_t max_peers;             /**< peers, hence per-peer pinning entries (256) */
  size_t stem_max_count;        /**< stempool cap, oldest evicted (1,000) */
  size_t stem_max_bytes;        /**< (16 MiB) */
  size_t mem_max_count;         /**< mempool cap, oldest evicted (10,000) */
  size_t mem_max_bytes;         /**< (64 MiB: a relay's cache of what it diffuses; the wallet's
                                     node keeps the full mempool) */
  size_t max_pending_inv;       /**< scheduled announcements; beyond, new ones are dropped (65,536) */
  size_t max_requests;          /**< outstanding GETDATAs (4,096) */
  size_t max_requests_per_peer; /**< ... of which asked of one peer (256: a sixteenth, so a few
                                   peers announcing ids they never serve cannot fill the table) */
  const nn_rng_t *rng;          /**< NULL = OpenSSL's CSPRNG */
} nn_dl_cfg_t;

void nn_dl_cfg_default(nn_dl_cfg_t *cfg);

/** NN_ERR_ARG for a mode this build lacks or settings out of range, NN_ERR_NOMEM, or the
 *  rng's error (the index key is drawn from it). */
nn_err_t nn_dl_new(nn_dl_t **out, const nn_dl_cfg_t *cfg, const nn_dl_io_t *io, uint64_t now_ms);
void nn_dl_free(nn_dl_t *dl);

/** A connected peer; \a outbound peers (we dialled them) are the only stem relays. A handle must
 *  not be reused after nn_dl_peer_remove (announcements are remembered by handle).
 *  NN_ERR_NOSPACE past max_peers, NN_ERR_ARG if already present. */
nn_err_t nn_dl_peer_add(nn_dl_t *dl, uint32_t peer, int outbound, uint64_t now_ms);
/** A peer went away; a stem relay is replaced for the rest of the epoch, and the stems we had
 *  handed to it are handed to a live relay. */
void nn_dl_peer_remove(nn_dl_t *dl, uint32_t peer, uint64_t now_ms);

/** Our own transaction: stemmed (always, even in a fluff epoch) unless route is DIRECT.
 *  NN_ERR_TOO_LONG above max_tx_bytes, NN_ERR_ARG when empty. A duplicate is NN_OK, ignored. */
nn_err_t nn_dl_submit(nn_dl_t *dl, const uint8_t *tx, size_t len, uint64_t now_ms);
/** A transaction that came out of the mixnet here, at its exit: into the mempool and announced
 *  to every peer, after the diffusion delays (\a at_once 0: the routing mode dandelion+mixnet,
 *  whose fluff is Dandelion++'s) or at once (1: mixnet, a plain broadcast). A duplicate is NN_OK. */
nn_err_t nn_dl_from_mixnet(nn_dl_t *dl, const uint8_t *tx, size_t len, int at_once, uint64_t now_ms);
/** A stem transaction from \a peer. */
nn_err_t nn_dl_on_stem(nn_dl_t *dl, uint32_t peer, const uint8_t *tx, size_t len, uint64_t now_ms);
/** A fluffed transaction from \a peer: accepted only as the answer to our GETDATA to that peer
 *  (NN_ERR_NOTFOUND otherwise: unsolicited, dropped; the caller may lower the peer's standing).
 *  One already in the mempool is NN_OK and ignored. */
nn_err_t nn_dl_on_fluff(nn_dl_t *dl, uint32_t peer, const uint8_t *tx, size_t len, uint64_t now_ms);
/** An announcement: an id not in the mempool is requested from this, the first, announcer. */
void nn_dl_on_inv(nn_dl_t *dl, uint32_t peer, const nn_hash_t *id, uint64_t now_ms);
/** A request: answered with send_tx from the mempool only, never from the stempool, and only
 *  for an id we announced to \a peer (once per announcement): before our INV to it went out,
 *  the peer gets the same silence as for an unknown id. */
void nn_dl_on_getdata(nn_dl_t *dl, uint32_t peer, const nn_hash_t *id, uint64_t now_ms);

/** 1 if \a id is in the mempool. The stempool is never consulted (no probing). */
int nn_dl_have(const nn_dl_t *dl, const nn_hash_t *id);

void nn_dl_tick(nn_dl_t *dl, uint64_t now_ms);
/** When nn_dl_tick should next run (UINT64_MAX if never). */
uint64_t nn_dl_deadline(const nn_dl_t *dl);

/* Introspection, for tests, the simulator and the status page. */
int nn_dl_fluff_epoch(const nn_dl_t *dl);
/** Is \a id in the stempool (stemmed, not yet fluffed, not evicted)? 0 no, 1 a peer's stem, 2 our
 *  own. Local introspection only: never consulted to answer a peer. */
int nn_dl_stemming(const nn_dl_t *dl, const nn_hash_t *id);
/** Change the routing mode of our own transactions from now on (nepnetd's SIGHUP). */
void nn_dl_set_route(nn_dl_t *dl, nn_route_t route);
/** Change cfg.max_peers, cfg.mem_max_count and cfg.stem_max_count at run time (SIGHUP). Lowered
 *  pool caps evict the oldest entries at once (our own stems excepted: they leave by their stem
 *  or embargo); peers above a lowered max_peers stay until they leave. NN_ERR_ARG for a zero,
 *  NN_ERR_NOMEM (nothing changed). */
nn_err_t nn_dl_set_caps(nn_dl_t *dl, size_t max_peers, size_t mem_max_count, size_t stem_max_count);
/** The soonest embargo of the stempool (monotonic ms), UINT64_MAX when it is empty. */
uint64_t nn_dl_embargo_soonest(const nn_dl_t *dl);
/** When the embargo of a transaction in the stempool fires (monotonic ms), 0 if not there. */
uint64_t nn_dl_embargo_at(const nn_dl_t *dl, const nn_hash_t *id);
/** The stem relays of this epoch (0..2) into \a out; returns the count. */
size_t nn_dl_relays(const nn_dl_t *dl, uint32_t out[2]);
uint64_t nn_dl_epoch_end(const nn_dl_t *dl);
typedef struct nn_dl_stats_t {
  size_t stem_count, stem_bytes, mem_count, mem_bytes, pending_inv, requests;
  uint64_t epochs, fluff_epochs, embargo_fired, evicted, inv_dropped, refused;
  uint64_t stems_in, stems_out, stem_fluffed; /**< stems received, relayed onward, fluffed here */
  uint64_t stem_loops;                        /**< stems that came back to us (passed on once to the other relay) */
  uint64_t restems;                           /**< stems handed again to a live relay after theirs went away */
  uint64_t unsolicited;                       /**< TXs nobody asked for, dropped */
  uint64_t inv_ignored;                       /**< announced ids not requested: request caps reached */
} nn_dl_stats_t;
void nn_dl_stats(const nn_dl_t *dl, nn_dl_stats_t *st);

#endif
