/**
 * \file sim_dht.h
 * \brief `nepnet sim dht`: thousands of DHT node cores (src/dht/dht.c, unchanged) in one
 * process, in virtual time, over a latency model, with churn and colluding adversaries.
 *
 * Every round trip the real protocol needs is charged: a request to a node without an open
 * channel first pays TCP's handshake (1 RTT), the secure channel's msg1/msg2 (1 RTT) and both
 * sides' handshake CPU, and the request then rides with msg3 (0.5 RTT). Open channels are kept
 * per node up to a cap (least recently used closed first), as the node's driver does.
 */
#ifndef NN_SIM_DHT_H
#define NN_SIM_DHT_H

#include <stdint.h>
#include <stdio.h>

typedef struct sim_dht_cfg_t {
  uint32_t nodes;        /* honest + adversarial */
  double adversaries;    /* fraction of nodes that lie (return each other, drop values) */
  int forge;             /* the liars answer with made-up ids next to the target instead */
  double churn_per_hour; /* fraction of nodes replaced per simulated hour */
  double hours;          /* measured period after bootstrap */
  uint32_t lookups;      /* lookups spread over the measured period */
  uint32_t channel_cap;  /* open channels a node keeps (LRU) */
  uint32_t paths;        /* disjoint lookup paths */
  uint32_t alpha;
  uint32_t handshake_cpu_us; /* CPU per side per secure-channel handshake */
  int no_relay;              /* plain iterative FIND_VALUE (no relay) */
  uint32_t relay_hops;       /* relay hops of first-round value lookups (0 = the default) */
  uint32_t per_referrer;     /* closest referrals taken from one answer (0 = the default) */
  uint64_t seed;
  const char *csv; /* per-lookup results, or NULL */
  const char *png; /* latency CDF plot via gnuplot, or NULL */
  int quiet;
} sim_dht_cfg_t;

typedef struct sim_dht_stats_t {
  uint32_t lookups, found;
  double p50_ms, p95_ms, p99_ms, mean_ms, mean_hops;
  uint32_t max_hops;
  double success; /* found / lookups */
  uint64_t messages, connects, channel_hits;
  double wall_s;
  double bytes_per_node; /* DHT heap per node at the end (nn_dht_memory) */
  uint32_t joins, leaves;
} sim_dht_stats_t;

void sim_dht_cfg_default(sim_dht_cfg_t *cfg);
/** Run one simulation; progress goes to \a log (stderr in the CLI) unless cfg->quiet. */
int sim_dht_run(const sim_dht_cfg_t *cfg, sim_dht_stats_t *out, FILE *log);

#endif
