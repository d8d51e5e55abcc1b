/**
 * \file sim_dandelion.h
 * \brief `nepnet sim dandelion`: the first-spy attack on Dandelion++ and on two flooding
 * baselines, with the broadcast core a node runs (src/dandelion/dandelion.c, driven through its
 * public API) for every honest node, in virtual time over the six-region latency model
 * (sim/latency.h).
 *
 * The network: every node dials `outbound` distinct random peers (inbound capped per node), and
 * each core is told which of its peers it dialled (the only ones it stems to). A fraction p of
 * the nodes are spies. Every honest node submits one transaction (the setting of Fanti et al.,
 * SIGMETRICS 2018), at times spread over a few minutes, and the cores exchange STEM, INV,
 * GETDATA and TX messages as they emit them, each taking half the pair's RTT.
 *
 * The adversary is the first-spy estimator: for each transaction, the first message that
 * reveals it to any spy (a STEM, an INV or a TX) names its sender as the origin. Spies would
 * forward honestly, but nothing they send after that first observation can change the estimate,
 * and before it they hold nothing to send, so the simulator runs no core for them.
 *
 * Metrics (Fanti et al. 2018): recall = fraction of transactions attributed to their origin;
 * precision = mean over honest origins v of 1{v's transaction attributed to v} / (number of
 * transactions attributed to v). A transaction no spy ever sees is unattributed.
 *
 * For each p the same graph, the same spies and the same transactions run three times, so the
 * comparison is within one run:
 *  - dandelion: route DANDELION with the node's settings (nepnetd's `balanced` preset by
 *    default: embargo 5 s + exponential mean 12 s, fluff-phase INV delays exponential with mean
 *    1 s to outbound and 2.5 s to inbound peers);
 *  - flooding: what a Neptune node does today. Route DIRECT and no INV delay at all (both means
 *    0, so the core announces 1 ms after it has the transaction): the origin, and every relay
 *    after it, announces to every peer at once. This is the baseline of the target;
 *  - diffusion: Bitcoin-style flooding. Route DIRECT with the same random per-peer INV delays
 *    as the Dandelion++ fluff phase, which already blurs the origin somewhat.
 *
 * Cost control: once a spy has seen a transaction its estimate is fixed, so every later message
 * carrying it is dropped (the spies' forwarding included). This changes nothing about that
 * transaction's attribution; other transactions feel it only through the cores' shared state
 * (which source a relay is pinned to first, and the order of random draws), which leaves their
 * distributions alone. Without it, flooding 9,000 transactions to 10,000 nodes is ~10^9 messages.
 */
#ifndef NN_SIM_DANDELION_H
#define NN_SIM_DANDELION_H

#include <stdint.h>
#include <stdio.h>

#include "nepnet/error.h"

#define SIM_DANDELION_MAX_P 16

typedef struct sim_dandelion_cfg_t {
  uint32_t nodes;                /* honest + spies (10,000) */
  uint32_t outbound;             /* peers each node dials (8) */
  uint32_t max_inbound;          /* inbound connections a node accepts (125, Bitcoin's default) */
  double q;                      /* Dandelion++ fluff probability per node per epoch (0.1) */
  double p[SIM_DANDELION_MAX_P]; /* spy fractions (0.05, 0.1, 0.2, 0.3) */
  uint32_t np;
  uint32_t txs;       /* 0: one per honest node; else this many random honest origins */
  uint32_t spread_ms; /* submissions spread evenly at random over this (300,000) */
  /* The node's Dandelion++ settings (defaults: nepnetd's balanced preset, not the core's). */
  uint32_t inv_out_ms;      /* INV delay to an outbound peer, exponential mean (1,000): D++ fluff, diffusion */
  uint32_t inv_in_ms;       /* INV delay to an inbound peer, exponential mean (2,500): D++ fluff, diffusion */
  uint32_t embargo_base_ms; /* embargo = base (5,000) ... */
  uint32_t embargo_mean_ms; /* ... + exponential with this mean (12,000) */
  uint64_t seed;
  const char *csv; /* one line per p, or NULL */
  const char *png; /* precision and recall vs p (gnuplot), or NULL */
  int quiet;
} sim_dandelion_cfg_t;

/** One protocol at one p. */
typedef struct sim_dandelion_result_t {
  double precision, recall;
  uint32_t txs;                  /* transactions submitted */
  uint32_t seen;                 /* ... that reached a spy (the rest are unattributed) */
  uint32_t correct;              /* ... attributed to their origin */
  uint32_t by_stem;              /* first seen by a spy as a STEM message */
  double mean_first_ms;          /* submission to the first spy observation, over `seen` */
  uint64_t messages;             /* delivered between nodes */
  uint64_t dropped;              /* not sent because a spy had already seen the transaction */
  uint64_t fluff_epochs, epochs; /* over the honest cores, at the end */
} sim_dandelion_result_t;

typedef struct sim_dandelion_stats_t {
  uint32_t np;
  double p[SIM_DANDELION_MAX_P];
  uint32_t spies[SIM_DANDELION_MAX_P];
  sim_dandelion_result_t dandelion[SIM_DANDELION_MAX_P];
  sim_dandelion_result_t flooding[SIM_DANDELION_MAX_P];  /* Neptune today: no INV delay */
  sim_dandelion_result_t diffusion[SIM_DANDELION_MAX_P]; /* Bitcoin: random INV delays */
  uint32_t edges;                                        /* connections in the graph */
  double mean_degree;
  double wall_s;
  int png_written; /* 1 written, 0 gnuplot not installed, -1 gnuplot failed */
} sim_dandelion_stats_t;

void sim_dandelion_cfg_default(sim_dandelion_cfg_t *cfg);
/** Run every p through the three protocols; progress goes to \a log unless cfg->quiet.
 *  NN_ERR_ARG for a configuration out of range (see the CLI's help), NN_ERR_NOMEM; NN_ERR_IO
 *  when cfg->csv cannot be written (\a out then holds the results all the same). */
nn_err_t sim_dandelion_run(const sim_dandelion_cfg_t *cfg, sim_dandelion_stats_t *out, FILE *log);

#endif
