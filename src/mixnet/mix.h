/**
 * \file mix.h
 * \brief A mix node, sans-I/O: key epochs, the replay filter, per-hop delays, caps, and the
 * hand-off of each packet's crypto to a worker.
 *
 * Packets in (nn_mix_recv, with the node id of the hop they came from), packets out (io.send to
 * the next node id) and payloads delivered here (io.deliver) after the delay the sender chose
 * for this hop; time comes in with every call (wall-clock milliseconds: key epochs are numbered
 * from the Unix epoch, so every node agrees on them), randomness from the configuration.
 *
 * **Epochs.** Epoch e runs from e * epoch_ms to (e + 1) * epoch_ms. The mix takes packets for
 * the current epoch and the next one (a client that builds a route just before the switch, or
 * whose clock runs ahead, uses the next), and for the previous one during grace_ms after the
 * switch, so that packets in flight survive it; then that key is wiped, and its replay filter
 * goes with it (a packet for a wiped key cannot be processed, hence cannot be replayed). It also
 * holds the key of the epoch after next, unused: the descriptor it publishes during epoch e - 1
 * announces the keys of e and e + 1 (docs/PROTOCOL.md 9.7). Each key comes from a 32-byte seed,
 * which is all the mix needs to save to keep its keys across a restart (nn_mix_saved_keys, and
 * nn_mix_new's \a saved). The replay filters are the node's to save with the seeds
 * (nn_mix_replay, nn_mix_replay_restore): a mix restarted within an epoch without them would
 * pass on again a packet it passed before the restart.
 *
 * **Calls.** nn_mix_recv may run nn_mix_tick (a turn of the epoch is due), so io.send and
 * io.deliver can be called from inside it; they must not call nn_mix_recv or nn_mix_tick of the
 * same mix (queue the packet and hand it over from the loop).
 *
 * **Threads.** The crypto of a packet (nn_mix_job_run: decapsulation, MAC, LIONESS) touches only
 * its job and the epoch's key, which the mix keeps until every job using it is back; it can run
 * on any thread. Everything else runs on the caller's thread. io.offload hands the job to a
 * worker, which must run nn_mix_job_run and have the caller's thread call nn_mix_job_done.
 *
 * **Budgets (defaults).** At most max_packets (2,048) packets in the mix at once, decrypting or
 * held, of which max_packets_per_peer (256) from one previous hop: 72 MiB of 36 KiB packets in
 * the worst case, plus the replay filters (each made with its epoch's first packet; three epochs
 * at most, 7.2 MiB each for 2^21 tags).
 * A packet's buffer is kept for the next one when it leaves (no malloc and free per packet), so
 * the buffers stay at the most ever in the mix at once, within the same 72 MiB.
 * A delay above max_delay_ms (60 s) is dropped, not shortened: the sender knows the cap.
 */
#ifndef NN_MIXNET_MIX_H
#define NN_MIXNET_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/hybrid.h"
#include "crypto/rand.h"
#include "crypto/types.h"
#include "mixnet/sphinx.h"
#include "net/workers.h"

typedef struct nn_mix_t nn_mix_t;

/** Why a packet went no further. The first values are nn_sphinx_verdict_t's drop reasons. */
typedef enum nn_mix_drop_t {
  NN_MIX_ACCEPTED = 0,                      /**< not dropped (yet) */
  NN_MIX_BAD_LENGTH = NN_SPHINX_BAD_LENGTH, /**< the sphinx verdicts, same values */
  NN_MIX_BAD_VERSION = NN_SPHINX_BAD_VERSION,
  NN_MIX_BAD_CT = NN_SPHINX_BAD_CT,
  NN_MIX_BAD_MAC = NN_SPHINX_BAD_MAC,
  NN_MIX_BAD_COMMAND = NN_SPHINX_BAD_COMMAND,
  NN_MIX_TAGGED = NN_SPHINX_TAGGED,
  NN_MIX_CRYPTO = NN_SPHINX_CRYPTO,
  NN_MIX_UNKNOWN_EPOCH = NN_SPHINX_VERDICTS, /**< no key for the packet's epoch */
  NN_MIX_REPLAY,                             /**< its tag was seen in the epoch */
  NN_MIX_DELAY,                              /**< it asked for more than max_delay_ms */
  NN_MIX_FULL,                               /**< max_packets reached */
  NN_MIX_PEER_FULL,                          /**< max_packets_per_peer reached */
  NN_MIX_NOT_A_MIX,                          /**< a packet to pass on, at a node that only receives */
  NN_MIX_DROPS
} nn_mix_drop_t;

const char *nn_mix_drop_name(nn_mix_drop_t d);

/** One packet in the mix. The mix owns it; io.offload borrows it. */
typedef struct nn_mix_job_t {
  nn_work_t work; /**< for the driver's pool: set run and done (lazy is set), then submit */
  struct nn_mix_t *mix;
  void *ctx; /**< the io's ctx, for the driver's done */
  struct mix_epoch_t *epoch;
  nn_sym_t *sym;
  nn_sphinx_out_t out;
  unsigned bucket;  /**< the previous hop's share of the per-peer budget */
  uint64_t release; /**< held until */
  uint64_t seq;
  size_t len;
  uint8_t *packet; /**< geom.packet_len bytes */
} nn_mix_job_t;

typedef struct nn_mix_io_t {
  /** Pass \a packet (geom.packet_len bytes) to the node \a next. */
  void (*send)(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len);
  /** A payload that ends here (geom.body_len bytes): a loop coming home, a transaction's fragment. */
  void (*deliver)(void *ctx, const uint8_t *body, size_t len);
  /** Optional: run nn_mix_job_run(job) elsewhere, then nn_mix_job_done on this thread. NULL:
   *  the crypto runs inside nn_mix_recv. */
  void (*offload)(void *ctx, nn_mix_job_t *job);
  void *ctx;
} nn_mix_io_t;

typedef struct nn_mix_cfg_t {
  nn_sphinx_geom_t geom;       /**< the network's (default: 4 hops, 36864 bytes) */
  uint64_t epoch_ms;           /**< key epoch (3,600,000) */
  uint64_t grace_ms;           /**< the previous epoch's key lives this long into the next (300,000) */
  uint32_t max_delay_ms;       /**< (60,000) */
  size_t max_packets;          /**< (2,048) */
  size_t max_packets_per_peer; /**< (256) */
  size_t replay_capacity;      /**< tags per epoch at a 1e-6 false-positive rate (2^21) */
  int relay;                   /**< 1: a mix, passes packets on; 0: a recipient only (an exit, a
                                    client taking its loops), which drops what it would pass on (1) */
  const nn_rng_t *rng;         /**< key seeds; NULL = OpenSSL's CSPRNG */
} nn_mix_cfg_t;

void nn_mix_cfg_default(nn_mix_cfg_t *cfg);

/** A key to keep across a restart: its epoch and seed (secret: saved 0600, wiped after use). */
typedef struct nn_mix_saved_key_t {
  uint32_t epoch;
  uint8_t seed[32];
} nn_mix_saved_key_t;

/** Start a mix at \a now_ms; keys of \a saved that are still of use are taken, fresh keys made
 *  for the rest. */
nn_err_t nn_mix_new(nn_mix_t **out, const nn_mix_cfg_t *cfg, const nn_mix_io_t *io, const nn_mix_saved_key_t *saved,
                    size_t nsaved, uint64_t now_ms);
/** Free; every offloaded job must be back (free the pool first: its cancelled jobs come back
 *  through nn_mix_job_done). NULL is fine. */
void nn_mix_free(nn_mix_t *m);

/** A packet from the hop \a from (copied). NN_MIX_ACCEPTED, or why it was refused at once; a
 *  packet accepted can still be dropped once decrypted (the stats count it). */
nn_mix_drop_t nn_mix_recv(nn_mix_t *m, const nn_hash_t *from, const uint8_t *packet, size_t len, uint64_t now_ms);

/** The crypto of one packet; on any thread. */
void nn_mix_job_run(nn_mix_job_t *job);
/** Back on the mix's thread after nn_mix_job_run. \a cancelled: the pool is going away; the
 *  packet is dropped. */
void nn_mix_job_done(nn_mix_t *m, nn_mix_job_t *job, uint64_t now_ms, int cancelled);

/** Send what is due, turn epochs. */
void nn_mix_tick(nn_mix_t *m, uint64_t now_ms);
/** When nn_mix_tick must next run (UINT64_MAX: never). */
uint64_t nn_mix_deadline(const nn_mix_t *m);

/** The epoch at \a now_ms (what a route built now should use). */
uint32_t nn_mix_epoch_at(const nn_mix_t *m, uint64_t now_ms);
/** The public key of \a epoch, NULL if the mix holds none. */
const nn_hybrid_pk_t *nn_mix_public_key(const nn_mix_t *m, uint32_t epoch);
/** The seeds of the keys held now (at most NN_MIX_SAVED_KEYS); secret. */
#define NN_MIX_SAVED_KEYS 4
size_t nn_mix_saved_keys(const nn_mix_t *m, nn_mix_saved_key_t out[NN_MIX_SAVED_KEYS]);

/** The replay filter of \a epoch (NULL if none: no packet yet, or no key), to save it with the
 *  seeds. */
const struct nn_replay_t *nn_mix_replay(const nn_mix_t *m, uint32_t epoch);
/** Merge a saved filter of \a epoch into the mix's (made if need be): NN_ERR_NOTFOUND if the mix
 *  holds no key for that epoch (the filter is of no use), NN_ERR_ARG for another capacity. */
nn_err_t nn_mix_replay_restore(nn_mix_t *m, uint32_t epoch, const uint64_t *bits, size_t nwords, size_t count);

typedef struct nn_mix_stats_t {
  uint64_t received, forwarded, delivered;
  uint64_t dropped[NN_MIX_DROPS]; /**< by reason (dropped[0] unused) */
  size_t in_mix;                  /**< decrypting or held now */
  size_t decrypting;              /**< offloaded, not back */
  size_t max_in_mix;
  uint32_t epoch; /**< current */
  size_t keys;    /**< epochs with a key (2 or 3) */
  uint64_t keys_made, keys_wiped;
  size_t replay_tags;  /**< in the current epoch's filter */
  size_t replay_bytes; /**< every filter */
} nn_mix_stats_t;
void nn_mix_stats(const nn_mix_t *m, nn_mix_stats_t *st);

#endif
