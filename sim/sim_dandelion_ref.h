/**
 * \file sim_dandelion_ref.h
 * \brief `nepnet sim dandelion --model reference`: a small, separate model of the setting of the
 * Dandelion++ paper's simulations (Fanti et al., SIGMETRICS 2018; the authors' code is
 * github.com/gfanti/dandelion-simulations, behind the paper's Figs. 3 and 5-9), so that the
 * simulator can be checked against theirs where both model the same thing. It runs none of the
 * node's code: no latency, no timers, no messages, only who hands a transaction to whom.
 *
 * The setting (their defaults, which are this model's):
 *  - graph: N = 100 nodes, the union of DEGREE/2 random directed Hamiltonian cycles (DEGREE 4:
 *    every node has 2 out-edges and 2 in-edges; an edge drawn twice counts once, as in their
 *    directed graph). Spies: floor(p*N) nodes drawn uniformly, anew for each graph;
 *  - Dandelion++ with q = 0: the stem goes on until it reaches a spy. One-to-one forwarding,
 *    drawn anew for each trial: each honest node maps its in-edges one to one onto its
 *    out-edges (a shuffled list of out-edges, refilled when used up) and sends its own
 *    transaction to a uniformly random out-edge. A stem that reaches a node already on its path
 *    leaves by an out-edge other than the mapped one (their rule, which keeps a stem from
 *    circling forever on the fixed map). A stem longer than N hops with no spy is attributed to
 *    the node it stopped at (their fallback; at p = 0.1 it does not happen);
 *  - diffusion: from the informed set, every edge to an uninformed node, in either direction of
 *    the directed graph (an edge present both ways counts twice once its tail was informed by
 *    someone, once at the origin, as in their boundary list), fires after an independent
 *    exponential delay of one mean: the next informed node is the end of a uniformly random
 *    such edge. Spies never relay;
 *  - estimator: first spy. A transaction is attributed to the honest node that handed it to
 *    the first spy to see it; precision = mean over honest v of 1/(transactions attributed to
 *    v) when v's own is among them, else 0; recall = fraction attributed to their origin;
 *  - trials: every honest node sends one transaction in each trial; each graph runs `trials`
 *    trials (20 graphs x 30 trials in their configuration).
 *
 * Toggles that move the model towards nepnet's, one at a time (README "Checking the simulator
 * against the paper's code"): an outbound graph (each node dials D random peers) with K stem
 * relays drawn from them per trial, per-transaction random forwarding, and q > 0 with nepnet's
 * rule (each relay is a fluffer for the whole trial with probability q; a fluffer starts the
 * diffusion above from itself, and the first spy names whoever handed it the transaction).
 *
 * Deterministic from the seed: every (p, graph) pair draws from its own DRBG keyed by the seed
 * and its indices, so the first G graphs of a longer run are the G graphs of a shorter one.
 */
#ifndef NN_SIM_DANDELION_REF_H
#define NN_SIM_DANDELION_REF_H

#include <stdint.h>
#include <stdio.h>

#include "nepnet/error.h"

#define SIM_DLREF_MAX_P 16

typedef enum { SIM_DLREF_CYCLES = 0, SIM_DLREF_OUTBOUND = 1 } sim_dlref_graph_t;
typedef enum { SIM_DLREF_ONE_TO_ONE = 0, SIM_DLREF_PER_TX = 1 } sim_dlref_fwd_t;

typedef struct sim_dlref_cfg_t {
  uint32_t nodes;             /* spies included (100) */
  sim_dlref_graph_t graph;    /* SIM_DLREF_CYCLES */
  uint32_t degree;            /* cycles: total degree, even; DEGREE/2 cycles (4) */
  uint32_t outbound;          /* outbound: distinct random peers each node dials (8) */
  uint32_t stems;             /* outbound: stem relays per node per trial, from its outbound (2) */
  sim_dlref_fwd_t forwarding; /* SIM_DLREF_ONE_TO_ONE */
  double q;                   /* 0: stems end only at a spy (their setting) */
  double p[SIM_DLREF_MAX_P];  /* spy fractions (0.1) */
  uint32_t np;
  uint32_t graphs; /* random graphs per p (20) */
  uint32_t trials; /* trials per graph (30) */
  uint64_t seed;
  int quiet;
} sim_dlref_cfg_t;

/** One protocol at one p: the mean over graphs of each graph's mean over its trials, and the
 *  standard error of that mean (0 with one graph). */
typedef struct sim_dlref_result_t {
  double precision, precision_se;
  double recall, recall_se;
  uint64_t txs;          /* transactions over all graphs and trials */
  uint64_t unattributed; /* ... that no spy ever saw (a part of the graph with no spy) */
  uint64_t fallback;     /* Dandelion++: stems cut after N hops with no spy */
  uint64_t fluffed;      /* Dandelion++: stems that reached a fluffer (q > 0) */
  double mean_hops;      /* Dandelion++: hops to the spy or fluffer; diffusion: nodes informed */
} sim_dlref_result_t;

typedef struct sim_dlref_stats_t {
  uint32_t np;
  double p[SIM_DLREF_MAX_P];
  uint32_t spies[SIM_DLREF_MAX_P];
  sim_dlref_result_t dandelion[SIM_DLREF_MAX_P];
  sim_dlref_result_t diffusion[SIM_DLREF_MAX_P];
  double mean_out;       /* out-degree (= in-degree) of the graphs, mean over p[0]'s */
  uint64_t merged_edges; /* cycles: edges drawn twice, counted once (p[0]'s graphs) */
  double wall_s;
} sim_dlref_stats_t;

void sim_dlref_cfg_default(sim_dlref_cfg_t *cfg);
/** NN_ERR_ARG for a configuration out of range (the CLI's help lists the ranges), NN_ERR_NOMEM.
 *  Progress goes to \a log unless cfg->quiet or \a log is NULL. */
nn_err_t sim_dlref_run(const sim_dlref_cfg_t *cfg, sim_dlref_stats_t *out, FILE *log);
/** 1 when \a cfg is the setting the authors' figures below were measured in (everything but
 *  the seed, the p list, the graph and trial counts and quiet at its default). */
int sim_dlref_is_paper_setting(const sim_dlref_cfg_t *cfg);

/** What the authors' code gives in the paper setting (sim_dlref_is_paper_setting) at spy
 *  fraction \a p, for p in 0.05, 0.1, 0.2, 0.3, with the standard errors over graphs: their
 *  one-to-one (`edgebased` 3) and diffusion first-spy simulators on their RegGraphGen with
 *  d = 2 and n = 100 (gfanti/dandelion-simulations at fdd96f2), run by us: 300 graphs x 30
 *  trials at 0.05, 0.2 and 0.3; at 0.1 1,000 x 30 for Dandelion++ and, for diffusion, 13,000
 *  graphs pooled (1,000 and 2,000 x 30 trials, 10,000 x 3). 0 for another p. */
typedef struct sim_dlref_paper_t {
  double dl_precision, dl_recall, diff_precision, diff_recall;
  double dl_precision_se, dl_recall_se, diff_precision_se, diff_recall_se;
} sim_dlref_paper_t;
int sim_dlref_paper(double p, sim_dlref_paper_t *out);

#endif
