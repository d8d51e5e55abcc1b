/*
 * nepnetd's settings (src/app/config.c): presets < file < flags, lists, the options table that
 * fills the embedding API's settings, and every refusal naming the option, its origin and the
 * value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/config.h"
#include "node/node.h"

/* ---- settings ---- */

static char tmpdir[64];

static void
write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int
parse(nn_conf_t *c, char *why, size_t wl, ...)
{
  char *argv[32];
  int argc = 0;
  va_list ap;
  argv[argc++] = "nepnetd";
  va_start(ap, wl);
  for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  nn_conf_init(c);
  why[0] = 0;
  return nn_conf_parse_args(c, argc, argv, why, wl);
}

static void
test_config(void **state)
{
  (void)state;
  nn_conf_t c;
  char why[512], file[128];
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/nn-node-conf-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  snprintf(file, sizeof(file), "%s/n.conf", tmpdir);

  /* defaults: balanced */
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, NULL), 0);
  assert_string_equal(c.s.preset, "balanced");
  assert_true(c.s.fluff_prob == 0.1);
  assert_int_equal(c.s.max_outbound, 8);
  assert_int_equal(c.s.route, NN_ROUTE_DANDELION);
  nn_conf_free(&c);

  /* the file's preset, then the file, then the flags */
  write_file(file, "# a comment\npreset = fast\nmax-peers = 30\n  peer = 127.0.0.1:1\npeer=127.0.0.1:3\n"
                   "inv-delay-out-ms = 700\n");
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, "--max-peers", "40", "--peer",
                         "127.0.0.1:2", NULL),
                   0);
  assert_string_equal(c.s.preset, "fast");
  assert_true(c.s.fluff_prob == 0.2);          /* from the preset */
  assert_int_equal(c.s.inv_delay_out_ms, 700); /* the file over the preset */
  assert_int_equal(c.s.max_peers, 40);         /* the flag over the file */
  assert_int_equal(c.s.n_peers, 1);            /* the flags' list replaces the file's */
  assert_string_equal(c.s.peers[0], "127.0.0.1:2");
  assert_int_equal(c.s.n_peers, 1);
  nn_conf_free(&c);

  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, NULL), 0);
  assert_int_equal(c.s.max_peers, 30);
  assert_int_equal(c.s.n_peers, 2);
  nn_conf_free(&c);

  /* a flag's preset wins over the file's; =VALUE form; bool alone */
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, "--preset=private", NULL), 0);
  assert_string_equal(c.s.preset, "private");
  assert_int_equal(c.s.hidden, 1);
  assert_int_equal(c.s.embargo_mean_ms, 39000);
  {
    nn_node_cfg_t nc; /* hidden: no listener */
    assert_int_equal(nn_node_cfg_from_settings(&nc, &c.s, why, sizeof(why)), NN_OK);
    assert_null(nc.listen);
  }
  nn_conf_free(&c);
  assert_int_equal(
    parse(&c, why, sizeof(why), "--datadir", tmpdir, "--fluff-prob", "0.25", "--stem-rate", "2.5e1", NULL), 0);
  assert_true(c.s.fluff_prob == 0.25);
  assert_true(c.s.stem_rate == 25.0);
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--hidden", "--route", "direct", NULL), 0);
  assert_int_equal(c.s.hidden, 1);
  assert_int_equal(c.s.route, NN_ROUTE_DIRECT);
  nn_conf_free(&c);
  assert_int_equal(
    parse(&c, why, sizeof(why), "--datadir", tmpdir, "--route", "mixnet", "--cover", "low", "--mix", "1", NULL), 0);
  assert_int_equal(c.s.route, NN_ROUTE_MIXNET);
  assert_string_equal(c.s.cover, "low");
  assert_int_equal(c.s.mix, 1);
  nn_conf_free(&c);

  /* errors name the option, the origin and the value */
  static const struct {
    const char *a, *b, *want1, *want2;
  } errs[] = {
    { "--max-peers", "0", "--max-peers", "'0'" },
    { "--max-peers", "12x", "--max-peers", "integer" },
    { "--fluff-prob", "0.9", "--fluff-prob", "0.05" },
    { "--route", "carrier-pigeon", "--route", "dandelion, direct, mixnet or dandelion+mixnet" },
    { "--cover", "loud", "--cover", "off, low, standard or constant" },
    { "--mix-epoch-s", "5", "--mix-epoch-s", "60" },
    { "--network", "moon", "--network", "mainnet, testnet or regtest" },
    { "--peer", "nowhere", "--peer", "NODEID@HOST:PORT" },
    { "--preset", "turbo", "preset 'turbo'", "fast, balanced or private" },
    { "--frobnicate", "1", "unknown option 'frobnicate'", "--help" },
    { "--max-outbound", "65", "--max-outbound", "1 to 64" },
    { "--stem-rate", "nan", "--stem-rate", "a number" },
    { "--stem-rate", "inf", "--stem-rate", "a number" },
    { "--max-peers", "0x10", "--max-peers", "an integer" },
    { "--max-peers", " 5", "--max-peers", "an integer" },
    { "--max-peers", "1e2", "--max-peers", "an integer" },
    { "--max-peers", "-3", "--max-peers", "an integer" },
    { "--hidden", "maybe", "--hidden", "0 or 1" },
  };
  for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
    assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, errs[i].a, errs[i].b, NULL), -1);
    if (!strstr(why, errs[i].want1) || !strstr(why, errs[i].want2))
      fprintf(stderr, "%s %s -> '%s'\n", errs[i].a, errs[i].b, why);
    assert_non_null(strstr(why, errs[i].want1));
    assert_non_null(strstr(why, errs[i].want2));
    nn_conf_free(&c);
  }
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--max-peers", NULL), -1);
  assert_non_null(strstr(why, "needs a value"));
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--max-peers", "4", "--max-outbound", "8", NULL),
                   -1);
  assert_non_null(strstr(why, "max-outbound"));
  nn_conf_free(&c);
  write_file(file, "max-peers = 30\nthis line has no equals sign\n");
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, NULL), -1);
  assert_non_null(strstr(why, "n.conf:2"));
  nn_conf_free(&c);
  write_file(file, "max-channels = -3\n");
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", file, NULL), -1);
  assert_non_null(strstr(why, "n.conf:1"));
  assert_non_null(strstr(why, "'-3'"));
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--config", "/nonexistent/x.conf", NULL), -1);
  assert_non_null(strstr(why, "/nonexistent/x.conf"));
  nn_conf_free(&c);
  /* --help and --print-config */
  assert_int_equal(parse(&c, why, sizeof(why), "--help", NULL), 1);
  nn_conf_free(&c);
  assert_int_equal(parse(&c, why, sizeof(why), "--datadir", tmpdir, "--print-config", NULL), 2);
  nn_conf_free(&c);
  unlink(file);
  rmdir(tmpdir);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
