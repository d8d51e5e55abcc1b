/**
 * \file sim_mixnet.h
 * \brief `nepnet sim mixnet`: how anonymous the sender of a transaction is, against an observer
 * of every link, as a function of the per-hop delay, the cover rate, a visible send burst and
 * the number of layers.
 *
 * Model (virtual time, no packet bytes: the anonymity of Poisson mixing depends only on who
 * sends when and where, so the crypto is left out to sweep many settings in seconds):
 *   - `clients` clients, each running the two Poisson streams of src/mixnet/client.h with the
 *     rates of a cover preset (nn_mixclient_cover_preset, the table nepnetd uses): the payload
 *     stream (a real fragment if one waits, else drop cover to a random exit) and loops; with a
 *     burst rate above the payload rate, a queued message makes the payload stream run at the
 *     burst rate from the moment it is queued until its last fragment has left, as the client
 *     does;
 *   - a stratified network of `layers` x `per_layer` mixes; every packet takes a fresh route,
 *     one uniformly random mix per layer, and each mix holds it for an exponential delay of
 *     mean `delays_ms[i]` (capped at 60 s, as the client draws it); links have no latency (a
 *     constant latency shifts every time alike and changes nothing here);
 *   - a transaction of L bytes is k = nn_frag_data_count fragments plus ceil(k * 0.5) parity
 *     (the client's default redundancy, no loss), all to one exit, queued at a random client at
 *     a random time; transactions come at tx_interval_s apart on average, so that few bursts
 *     overlap (each burst is then nearly alone in the network: the sender's worst case, and
 *     Neptune's transaction rate is low).
 * The mixes' own cover streams are left out (fewer packets to hide in: the result errs on the
 * side of less anonymity).
 *
 * Adversary: a global passive observer of every link (who sends a packet to whom, and when)
 * that also knows which packets reaching the exit are the transaction's fragments (the exit is
 * the first node that has the transaction, and any node may run one). The mixes are honest.
 * Its estimate, per fragment, is Loopix's pool model (Piotrowska et al., USENIX Security 2017,
 * and the authors' simulator): a Poisson mix's delays have no memory, so the packet that leaves
 * is any of those inside with equal probability; a mix keeps the mean of the sender
 * distributions of the packets that entered it since it was last empty, and a packet leaving
 * it carries that mean to the next mix. For a transaction, the distributions of its n
 * fragments are multiplied (the fragments of one sender travel independently: naive Bayes) and
 * normalized. Reported per setting and size: the entropy of one fragment's distribution, the
 * entropy of the transaction's combined distribution, the probability it gives the true
 * sender, and how often the true sender is the most likely one.
 *
 * With an honest exit the observer does not know which packets reaching it are fragments; it
 * sees the transaction leave the exit once enough fragments are in, so it knows the packet that
 * completed it (the last one in before the announcement) and takes that packet's distribution
 * (h_observer; it could also look for the burst's extra packets into the exit, which this
 * estimate does not). A better estimator can only lower these entropies: they are upper bounds
 * on the anonymity against each adversary.
 */
#ifndef NN_SIM_MIXNET_H
#define NN_SIM_MIXNET_H

#include <stdint.h>
#include <stdio.h>

#include "nepnet/error.h"

#define SIM_MIXNET_MAX_LIST 16

/** One cover setting: a preset's streams, with or without its burst. */
typedef struct sim_mixnet_cover_t {
  char name[24];       /**< "standard", "standard/no-burst", ... */
  double payload_rate; /**< packets/s */
  double loop_rate;    /**< loops/s */
  double burst_rate;   /**< packets/s while real packets wait; <= payload_rate: none */
} sim_mixnet_cover_t;

typedef struct sim_mixnet_cfg_t {
  uint32_t clients;
  uint32_t per_layer; /**< mixes per layer */
  uint32_t nlayers;   /**< route lengths to run, each with per_layer mixes per layer */
  uint32_t layers[SIM_MIXNET_MAX_LIST];
  uint32_t ndelays;
  uint32_t delays_ms[SIM_MIXNET_MAX_LIST]; /**< mean per-hop delays to run */
  uint32_t ncovers;
  sim_mixnet_cover_t covers[SIM_MIXNET_MAX_LIST];
  uint32_t nsizes;
  uint32_t sizes[SIM_MIXNET_MAX_LIST]; /**< transaction sizes in bytes */
  uint32_t messages;                   /**< transactions per size and setting */
  double warmup_s;                     /**< before the first transaction: the pools fill */
  double tx_interval_s;                /**< the network's mean time between transactions: they are
                                            queued at uniform times over messages x sizes x this */
  double redundancy;                   /**< parity per data fragment (0.5, the client's) */
  uint64_t seed;
  const char *csv; /**< one line per setting and size, or NULL */
  const char *png; /**< the plots (gnuplot), or NULL */
  int quiet;
} sim_mixnet_cfg_t;

typedef struct sim_mixnet_row_t {
  uint32_t layers, delay_ms, size, fragments, messages;
  sim_mixnet_cover_t cover;
  double cover_bytes_s;         /**< always-on bytes/s a client sends (payload + loop packets) */
  double lambda_mix;            /**< packets/s into one mix (the mean over the run) */
  double pool;                  /**< lambda_mix * mean delay: packets in a mix on average (Loopix's lambda/mu) */
  double h_packet;              /**< bits: one fragment's sender distribution, mean over fragments */
  double h_msg;                 /**< bits: the transaction's combined distribution, mean over transactions */
  double h_msg_min;             /**< bits: the lowest of them */
  double p_true;                /**< mean probability the combined distribution gives the true sender */
  double top1;                  /**< fraction of transactions whose true sender is the most likely */
  double h_observer;            /**< bits: an honest exit, the observer alone (below), mean */
  double p_true_observer;       /**< the probability that gives the true sender, mean */
  double p_true_packet;         /**< one fragment's distribution: the probability of the true sender, mean */
  double collision_packet;      /**< one fragment's distribution: sum of squares, mean. Equal to
                                p_true_packet when the estimate is calibrated (what it says is
                                likely is as likely as it says) */
  double lat_mean_s, lat_p95_s; /**< queued -> k-th fragment at the exit */
} sim_mixnet_row_t;

typedef struct sim_mixnet_stats_t {
  uint32_t nrows;
  sim_mixnet_row_t *rows; /**< nlayers x ncovers x ndelays x nsizes, in that nesting */
  double log2_clients;    /**< the most any entropy can be */
  uint64_t events;
  double wall_s;
} sim_mixnet_stats_t;

void sim_mixnet_cfg_default(sim_mixnet_cfg_t *cfg);
/** Fill \a c from a cover preset \a name ("low", "standard", "constant"), optionally followed
 *  by "/no-burst". NN_ERR_ARG for another name or "off" (no streams: nothing to hide in). */
nn_err_t sim_mixnet_cover(sim_mixnet_cover_t *c, const char *name);
/** Run every setting; progress goes to \a log unless cfg->quiet. NN_ERR_ARG for a setting out
 *  of range (the CLI checks each option first and names it). */
nn_err_t sim_mixnet_run(const sim_mixnet_cfg_t *cfg, sim_mixnet_stats_t *out, FILE *log);
void sim_mixnet_stats_free(sim_mixnet_stats_t *st);

/**
 * `--model reference`: the setting and metric of the Loopix authors' simulator
 * (github.com/aniampio/Simulator, test mode), to check this simulator's machinery against
 * theirs where both model the same thing. Stratified layers x per_layer mixes, every packet
 * delayed Exp(delay) + proc_us per hop; clients each send one Poisson stream at `rate`
 * (a queued packet if any, else a dummy loop) and, with cover_rate > 0, loops at that rate;
 * client 0 queues `targets` one-packet messages, one every gap_s after burn-in. A target starts
 * with the one-hot vector of its index, every other packet with zeros; a mix keeps the mean of
 * the vectors of the packets that entered since it was last empty and gives it to each packet
 * that leaves. Per target i, H_i = -sum p log2 p over every packet that leaves the network:
 * the entropy of where target i went, among all packets leaving (not among senders). Run until
 * cooldown_s after the last target was queued, so all their mass has left.
 */
typedef struct sim_mixnet_ref_cfg_t {
  uint32_t clients, layers, per_layer, targets;
  double rate, cover_rate; /**< packets/s: real-or-dummy stream, loop stream (0 = off) */
  double gap_s, burnin_s, cooldown_s;
  uint32_t delay_ms; /**< mean per hop */
  uint32_t proc_us;  /**< constant per hop (their 0.000386 s of Sphinx processing) */
  uint64_t seed;
} sim_mixnet_ref_cfg_t;

typedef struct sim_mixnet_ref_result_t {
  double h_mean, h_sd, h_min; /**< bits, over the targets */
  double pool;                /**< packets in a mix on average (lambda/mu, measured) */
  uint32_t sent;              /**< targets that left client 0 */
  uint64_t events;
} sim_mixnet_ref_result_t;

/** 100 clients, 3 x 3 mixes, 1,000 targets 1 s apart, rate 1/s, no cover, 100 ms: their
 *  test_config.json. */
void sim_mixnet_ref_cfg_default(sim_mixnet_ref_cfg_t *cfg);
nn_err_t sim_mixnet_ref_run(const sim_mixnet_ref_cfg_t *cfg, sim_mixnet_ref_result_t *out);

#endif
