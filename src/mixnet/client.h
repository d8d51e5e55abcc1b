/**
 * \file client.h
 * \brief The sending side of the mixnet, sans-I/O: Loopix's Poisson streams, routes, and loops
 * that measure the mixes.
 *
 * Two Poisson streams leave a client (Loopix, Piotrowska et al., USENIX Security 2017):
 *   - the payload stream, rate payload_rate: at each of its events the next packet of a real
 *     message goes out if one is waiting, a drop-cover packet otherwise, so a message changes
 *     what is sent, never when: the times of the stream are drawn before, and apart from, what
 *     fills them (with the same random generator, a client with and without a message sends at
 *     the same instants; test_client checks it);
 *   - the loop stream, rate loop_rate: packets through every layer and back to the client,
 *     which learn which mixes pass packets on (nn_mixdir_report) and how long a round trip takes.
 * Optionally, burst_rate > payload_rate lets real packets leave faster while any wait, from the
 * moment the first is queued: a visible burst, traded for latency (what it costs in anonymity is
 * measured by the simulator). Events missed by more than 2 s (the caller stalled: a suspended
 * machine) are not made up in a burst; the streams start afresh.
 *
 * Every packet follows a fresh stratified route from the directory, then its recipient (the
 * exit node for a message's fragments and for drop cover, chosen by the driver through
 * io.pick_exit so both come from the same distribution; the client itself for a loop). Each
 * mix holds it for an exponential delay of mean mean_delay_ms (Loopix's Poisson mixing), drawn
 * by the client and written into the packet.
 *
 * Bodies (docs/PROTOCOL.md 9.6 and 9.8): fragments (0x01), loops (0x02: the loop's 16-byte id,
 * then random bytes), drop cover (0x03: random bytes).
 */
#ifndef NN_MIXNET_CLIENT_H
#define NN_MIXNET_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/hybrid.h"
#include "crypto/rand.h"
#include "crypto/sym.h"
#include "crypto/types.h"
#include "mixnet/dir.h"
#include "mixnet/sphinx.h"

#define NN_BODY_LOOP 0x02
#define NN_BODY_DROP 0x03
#define NN_LOOP_ID_LEN 16

typedef struct nn_mixclient_t nn_mixclient_t;

typedef struct nn_mixclient_io_t {
  /** Hand \a packet to the first mix \a first. */
  void (*send)(void *ctx, const nn_hash_t *first, const uint8_t *packet, size_t len);
  /** Choose an exit for \a epoch: a node that takes mixnet deliveries, and its key for the epoch.
   *  0 if none is known (the packet is not sent, the event passes). */
  int (*pick_exit)(void *ctx, uint32_t epoch, nn_hash_t *exit, nn_hybrid_pk_t *pk);
  void *ctx;
} nn_mixclient_io_t;

typedef struct nn_mixclient_cfg_t {
  nn_sphinx_geom_t geom;    /**< the network's (4 hops, 36864 bytes) */
  uint64_t epoch_ms;        /**< the network's key epoch (3,600,000) */
  double payload_rate;      /**< packets/s of the payload stream, real or drop (1.0) */
  double burst_rate;        /**< packets/s while real packets wait; <= payload_rate: no burst (0) */
  double loop_rate;         /**< loops/s (0.2) */
  uint32_t mean_delay_ms;   /**< per mix, exponential (50) */
  uint32_t max_delay_ms;    /**< the network's cap; longer draws are drawn again (60,000) */
  double redundancy;        /**< parity fragments per data fragment (0.5), more when loops are lost:
                                 n >= k / (1 - 1.5 p) + 2 sqrt(k) for a loop loss p */
  size_t max_msg_len;       /**< the largest message an exit takes (4 MiB, nn_reasm_cfg_t's) */
  size_t max_queue;         /**< real packets waiting; a message that does not fit is refused (4,096) */
  uint32_t loop_timeout_ms; /**< a loop not back by then counts against its mixes (30,000) */
  size_t max_loops;         /**< loops out at once (256) */
  nn_hash_t self;           /**< this node's id: where loops come back */
  const nn_rng_t *rng;      /**< stream times, routes, delays; NULL = CSPRNG. Packet crypto always
                                  uses OpenSSL's CSPRNG. */
} nn_mixclient_cfg_t;

void nn_mixclient_cfg_default(nn_mixclient_cfg_t *cfg);
/** The cover presets nepnetd offers (--cover): "off" (*on = 0, \a cfg unchanged), "low",
 *  "standard" and "constant" (*on = 1; payload, loop and burst rates set). NN_ERR_ARG for
 *  another name. */
nn_err_t nn_mixclient_cover_preset(nn_mixclient_cfg_t *cfg, const char *name, int *on);

/** A client over \a dir (the caller's, which must outlive it), streams starting at \a now_ms. */
nn_err_t nn_mixclient_new(nn_mixclient_t **out, const nn_mixclient_cfg_t *cfg, const nn_mixclient_io_t *io,
                          nn_mixdir_t *dir, uint64_t now_ms);
void nn_mixclient_free(nn_mixclient_t *c);

/** This node's own recipient key for \a epoch (from its nn_mix_t), used as the last hop of loops. */
void nn_mixclient_set_self_key(nn_mixclient_t *c, uint32_t epoch, const nn_hybrid_pk_t *pk);

/**
 * Queue a message (a transaction) for the exit \a exit, whose recipient keys for \a exit_epoch
 * and the epoch after are \a exit_keys (what its RKEY gives): split into fragments with parity
 * (docs/PROTOCOL.md 9.6), each sent at a payload-stream event, in the key epoch of that moment;
 * a fragment still waiting when neither key fits is dropped (stats.expired). NN_ERR_TOO_LONG if
 * it is above max_msg_len or needs more than 200 data fragments, NN_ERR_NOSPACE if the queue cannot take all its
 * fragments or NN_MIXCLIENT_MAX_MESSAGES messages wait already.
 */
#define NN_MIXCLIENT_MAX_MESSAGES 64
nn_err_t nn_mixclient_send(nn_mixclient_t *c, const uint8_t *msg, size_t len, uint8_t deliver, const nn_hash_t *exit,
                           uint32_t exit_epoch, const nn_hybrid_pk_t exit_keys[2], uint64_t now_ms);

/** A body of type NN_BODY_LOOP delivered to this node: 1 if it was one of our loops (its mixes
 *  are credited), 0 otherwise. */
int nn_mixclient_loop_back(nn_mixclient_t *c, const uint8_t *body, size_t len, uint64_t now_ms);

void nn_mixclient_tick(nn_mixclient_t *c, uint64_t now_ms);
uint64_t nn_mixclient_deadline(const nn_mixclient_t *c);

typedef struct nn_mixclient_stats_t {
  uint64_t real_sent, drop_sent, loops_sent, loops_back, loops_lost;
  uint64_t no_route; /**< events that passed without a packet: no route or no exit */
  uint64_t expired;  /**< fragments dropped: the exit's keys were for epochs gone by */
  size_t queued;     /**< real packets waiting */
  size_t loops_out;
  uint64_t loop_rtt_ms_sum; /**< of the loops back */
  double loss;              /**< loops lost, a moving average over ~32 (0 before 20 loops): a
                                 message's parity covers it (nn_mixclient_send) */
} nn_mixclient_stats_t;
void nn_mixclient_stats(const nn_mixclient_t *c, nn_mixclient_stats_t *st);

#endif
