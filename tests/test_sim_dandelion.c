/*
 * The Dandelion++ simulator (sim/sim_dandelion.h) on a small network: 1,000 nodes, spies at
 * p = 0.1 and 0.2, 300 transactions, through Dandelion++, flooding (Neptune today: no INV delay)
 * and diffusion (Bitcoin: random INV delays). What can fail: Dandelion++ not hiding origins
 * better than either baseline, flooding hiding them better than diffusion (a delay that is not
 * zero, or baselines swapped), recall far from the p the theory predicts, a seed that does not
 * replay, a seed that does not matter, a CSV that does not match the run, defaults that are not
 * the node's, a configuration out of range accepted.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/sim_dandelion.h"

static void
small(sim_dandelion_cfg_t *cfg, uint64_t seed)
{
  sim_dandelion_cfg_default(cfg);
  cfg->nodes = 1000;
  cfg->np = 2;
  cfg->p[0] = 0.1;
  cfg->p[1] = 0.2;
  cfg->txs = 300;
  cfg->seed = seed;
  cfg->quiet = 1;
}

static void
test_defaults_are_balanced_preset(void **s)
{
  (void)s;
  sim_dandelion_cfg_t cfg;
  sim_dandelion_cfg_default(&cfg);
  /* nepnetd's balanced preset (src/node/config.c), not the core's own defaults */
  assert_int_equal(cfg.inv_out_ms, 1000);
  assert_int_equal(cfg.inv_in_ms, 2500);
  assert_int_equal(cfg.embargo_base_ms, 5000);
  assert_int_equal(cfg.embargo_mean_ms, 12000);
  assert_int_equal(cfg.nodes, 10000);
  assert_int_equal(cfg.np, 4);
}

static void
test_dandelion_beats_baselines(void **s)
{
  (void)s;
  sim_dandelion_cfg_t cfg;
  sim_dandelion_stats_t st;
  small(&cfg, 7);
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_OK);
  assert_int_equal(st.np, 2);
  assert_int_equal(st.edges, 8000); /* every node found its 8 outbound peers */
  for (uint32_t i = 0; i < st.np; i++) {
    const sim_dandelion_result_t *d = &st.dandelion[i], *f = &st.flooding[i], *df = &st.diffusion[i];
    double p = st.p[i];
    assert_int_equal(st.spies[i], (uint32_t)(p * 1000 + 0.5));
    assert_int_equal(d->txs, 300);
    assert_int_equal(f->txs, 300);
    assert_int_equal(df->txs, 300);
    /* Every transaction reaches some spy in a connected network of this size. */
    assert_int_equal(d->seen, 300);
    assert_int_equal(f->seen, 300);
    assert_int_equal(df->seen, 300);
    assert_true(d->precision > 0 && d->precision <= d->recall);
    assert_true(f->precision > 0 && f->precision <= f->recall);
    assert_true(df->precision > 0 && df->precision <= df->recall);
    /* Dandelion++ hides origins: well below both baselines in both measures. Over 16 seeds the
     * ratios are at most 0.22 (flooding) and 0.34 (diffusion). */
    assert_true(d->precision < 0.4 * f->precision);
    assert_true(d->precision < 0.6 * df->precision);
    assert_true(d->recall < f->recall);
    assert_true(d->recall < df->recall);
    /* No delay helps the first-spy estimator: flooding gives away at least as much as
     * diffusion (over 16 seeds, 1.4 to 2.3 times the precision). */
    assert_true(f->precision >= df->precision);
    assert_true(f->recall >= df->recall);
    /* ... and the spies hear of it sooner: one hop at half an RTT (at most 150 ms) plus the
     * core's 1 ms, against exponential delays of mean 1-2.5 s before each hop. */
    assert_true(f->mean_first_ms < 200);
    assert_true(df->mean_first_ms > 2 * f->mean_first_ms);
    /* Recall ~ p (the first stem hop is a spy with probability p); binomial sd at 300
     * transactions is 0.017-0.023, the band is wider than 3 sd. */
    assert_true(d->recall > 0.5 * p && d->recall < 1.6 * p + 0.03);
    /* Some are caught in the stem (a spy relay), some only after the fluff; the baselines
     * never stem. */
    assert_true(d->by_stem > 0 && d->by_stem < d->seen);
    assert_int_equal(f->by_stem, 0);
    assert_int_equal(df->by_stem, 0);
    /* A node's fluff epochs are about q of its epochs. */
    assert_true(d->epochs >= 1000 - st.spies[i]);
    double fe = (double)d->fluff_epochs / (double)d->epochs;
    assert_true(fe > 0.05 && fe < 0.16);
    assert_true(d->messages > 0 && f->messages > 0 && df->messages > 0 && d->dropped > 0);
  }
}

static int
same(const sim_dandelion_result_t *a, const sim_dandelion_result_t *b)
{
  return a->precision == b->precision && a->recall == b->recall && a->seen == b->seen && a->correct == b->correct &&
         a->by_stem == b->by_stem && a->messages == b->messages && a->dropped == b->dropped &&
         a->mean_first_ms == b->mean_first_ms;
}

static void
test_seed_replays(void **s)
{
  (void)s;
  sim_dandelion_cfg_t cfg;
  sim_dandelion_stats_t a, b, c;
  small(&cfg, 11);
  assert_int_equal(sim_dandelion_run(&cfg, &a, NULL), NN_OK);
  assert_int_equal(sim_dandelion_run(&cfg, &b, NULL), NN_OK);
  for (uint32_t i = 0; i < a.np; i++) {
    assert_true(same(&a.dandelion[i], &b.dandelion[i]));
    assert_true(same(&a.flooding[i], &b.flooding[i]));
    assert_true(same(&a.diffusion[i], &b.diffusion[i]));
  }
  small(&cfg, 12);
  assert_int_equal(sim_dandelion_run(&cfg, &c, NULL), NN_OK);
  int differ = 0;
  for (uint32_t i = 0; i < a.np; i++)
    differ += !same(&a.dandelion[i], &c.dandelion[i]) + !same(&a.flooding[i], &c.flooding[i]) +
              !same(&a.diffusion[i], &c.diffusion[i]);
  assert_int_equal(differ, 6);
}

static void
test_csv(void **s)
{
  (void)s;
  char dir[] = "/tmp/nn-simdl-XXXXXX", path[64], line[1024];
  sim_dandelion_cfg_t cfg;
  sim_dandelion_stats_t st;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/sim-dandelion.csv", dir);
  small(&cfg, 7);
  cfg.nodes = 300;
  cfg.txs = 100;
  cfg.csv = path; /* no PNG: the test must not depend on gnuplot */
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_OK);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof(line), f));
  static const char head[] = "p,spies,txs,dandelion_precision,dandelion_recall,flooding_precision,flooding_recall,"
                             "diffusion_precision,diffusion_recall,precision_ratio_flooding,"
                             "precision_ratio_diffusion,p_squared,";
  assert_int_equal(strncmp(line, head, strlen(head)), 0);
  for (uint32_t i = 0; i < st.np; i++) {
    double p, dp, dr, fp, fr, xp, xr, rf, rx;
    unsigned spies, txs;
    assert_non_null(fgets(line, sizeof(line), f));
    assert_int_equal(sscanf(line, "%lf,%u,%u,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &p, &spies, &txs, &dp, &dr, &fp, &fr,
                            &xp, &xr, &rf, &rx),
                     11);
    assert_true(p == st.p[i]);
    assert_int_equal(spies, st.spies[i]);
    assert_int_equal(txs, 100);
    assert_true(dp > st.dandelion[i].precision - 1e-6 && dp < st.dandelion[i].precision + 1e-6);
    assert_true(fr > st.flooding[i].recall - 1e-6 && fr < st.flooding[i].recall + 1e-6);
    assert_true(xp > st.diffusion[i].precision - 1e-6 && xp < st.diffusion[i].precision + 1e-6);
    assert_true(xr > st.diffusion[i].recall - 1e-6 && xr < st.diffusion[i].recall + 1e-6);
    /* the ratios are D++ over flooding (the target's baseline) and over diffusion */
    assert_true(rf > dp / fp - 1e-4 && rf < dp / fp + 1e-4);
    assert_true(rx > dp / xp - 1e-4 && rx < dp / xp + 1e-4);
  }
  assert_null(fgets(line, sizeof(line), f));
  fclose(f);
  unlink(path);
  rmdir(dir);
  /* An unwritable CSV is reported, and the results are there all the same. */
  cfg.csv = "/nonexistent-dir/x.csv";
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_IO);
  assert_int_equal(st.dandelion[0].txs, 100);
}

static void
test_bad_config(void **s)
{
  (void)s;
  sim_dandelion_cfg_t cfg;
  sim_dandelion_stats_t st;
  small(&cfg, 1);
  cfg.nodes = 50;
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.q = 0.9;
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.p[1] = 0;
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.p[0] = 0.0001; /* no spy among 1,000 nodes */
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.max_inbound = 4; /* below the outbound count */
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.np = 0;
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.embargo_mean_ms = 0; /* nepnetd refuses it too */
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
  small(&cfg, 1);
  cfg.inv_in_ms = 600001;
  assert_int_equal(sim_dandelion_run(&cfg, &st, NULL), NN_ERR_ARG);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults_are_balanced_preset),
    cmocka_unit_test(test_dandelion_beats_baselines),
    cmocka_unit_test(test_seed_replays),
    cmocka_unit_test(test_csv),
    cmocka_unit_test(test_bad_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
