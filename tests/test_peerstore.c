/* The peer store: persistence across restarts, reputation and bans, Sybil bounds from the
 * keyed bucketing, diverse selection, survival of kill -9 in the middle of writes, and refusal
 * (never silent recreation) of unsafe, damaged, foreign or newer files. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "crypto/rand.h"
#include "lib/addr.h"
#include "dht/peerstore.h"

#define T0 UINT64_C(1700000000)

typedef struct fixture_t {
  char dir[256];
  char path[300];
  nn_drbg_t drbg;
  nn_rng_t rng;
} fixture_t;

static int
setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "%s/nepnet-pstest-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/peers.sqlite", f->dir);
  nn_drbg_init_u64(&f->drbg, 42);
  f->rng = nn_drbg_rng(&f->drbg);
  *state = f;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *f = *state;
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

static nn_addr_t
v4(unsigned a, unsigned b, unsigned c, unsigned d, uint16_t port)
{
  uint8_t ip[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
  return nn_addr_ipv4(ip, port);
}

static nn_peerstore_t *
open_ok(fixture_t *f, const nn_peerstore_config_t *cfg)
{
  nn_peerstore_t *ps = NULL;
  char why[1024];
  nn_err_t err = nn_peerstore_open(&ps, f->path, cfg, &f->rng, why, sizeof(why));
  if (err)
    fprintf(stderr, "open: %s\n", why);
  assert_int_equal(err, NN_OK);
  assert_non_null(ps);
  return ps;
}

static nn_peerstore_add_result_t
add(nn_peerstore_t *ps, nn_addr_t a, const nn_addr_t *src, uint64_t now)
{
  nn_peerstore_add_result_t res = (nn_peerstore_add_result_t)-1;
  assert_int_equal(nn_peerstore_add(ps, &a, src, now, &res), NN_OK);
  return res;
}

static void
select_n(nn_peerstore_t *ps, uint64_t seed, size_t n, uint64_t now, nn_addr_t *out, size_t *got)
{
  nn_drbg_t d;
  nn_drbg_init_u64(&d, seed);
  nn_rng_t r = nn_drbg_rng(&d);
  assert_int_equal(nn_peerstore_select(ps, n, now, &r, out, got), NN_OK);
}

static int
same_group16(const nn_addr_t *a, const nn_addr_t *b)
{
  uint8_t ga[1 + NN_ADDR_HOST_MAX], gb[1 + NN_ADDR_HOST_MAX];
  size_t la = nn_addr_group(a, 16, 32, ga), lb = nn_addr_group(b, 16, 32, gb);
  return la == lb && memcmp(ga, gb, la) == 0;
}

static int
sql_exec(const char *path, const char *sql, char *out, size_t cap)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (out)
    out[0] = 0;
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && out)
      snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : rc;
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rc;
}

/* ---- persistence ----------------------------------------------------------------------------- */

static void
test_persist_across_reopen(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  nn_addr_t a = v4(1, 2, 3, 4, 9800), b = v4(5, 6, 7, 8, 9801), c = v4(9, 10, 11, 12, 9802);
  nn_addr_t d = v4(13, 14, 15, 16, 9803), src = v4(200, 1, 1, 1, 9800);
  nn_peerstore_entry_t ea, eb, ec, e2;
  nn_node_id_t id;
  struct stat st;
  char walpath[320];
  int in_tried = -1;

  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  assert_int_equal(add(ps, a, &src, T0), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, b, &src, T0 + 1), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, c, NULL, T0 + 2), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, d, &src, T0 + 3), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, a, &src, T0 + 10), NN_PEERSTORE_UPDATED);
  /* unroutable, port 0: refused; an IPv4-mapped IPv6 address is its IPv4 address */
  assert_int_equal(add(ps, v4(127, 0, 0, 1, 9800), NULL, T0), NN_PEERSTORE_UNROUTABLE);
  assert_int_equal(add(ps, v4(192, 168, 1, 1, 9800), NULL, T0), NN_PEERSTORE_UNROUTABLE);
  assert_int_equal(add(ps, v4(1, 2, 3, 99, 0), NULL, T0), NN_PEERSTORE_UNROUTABLE);
  uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };
  assert_int_equal(add(ps, nn_addr_ipv6(mapped, 9800), NULL, T0 + 11), NN_PEERSTORE_UPDATED);
  nn_addr_t bad = a;
  bad.type = 99;
  assert_int_equal(nn_peerstore_add(ps, &bad, NULL, T0, NULL), NN_ERR_ARG);
  assert_string_not_equal(nn_peerstore_last_error(ps), "");

  /* events */
  memset(id.b, 0xab, sizeof(id.b));
  assert_int_equal(nn_peerstore_attempt(ps, &a, T0 + 20), NN_OK);
  assert_int_equal(nn_peerstore_success(ps, &a, &id, T0 + 21, &in_tried), NN_OK);
  assert_int_equal(in_tried, 1);
  assert_int_equal(nn_peerstore_attempt(ps, &b, T0 + 22), NN_OK);
  assert_int_equal(nn_peerstore_failure(ps, &b, T0 + 23), NN_OK);
  assert_int_equal(nn_peerstore_attempt(ps, &b, T0 + 24), NN_OK);
  assert_int_equal(nn_peerstore_failure(ps, &b, T0 + 25), NN_OK);
  assert_int_equal(nn_peerstore_penalize(ps, &c, 30, "test", T0 + 26, NULL), NN_OK);
  nn_addr_t unknown = v4(99, 99, 99, 99, 1);
  assert_int_equal(nn_peerstore_attempt(ps, &unknown, T0), NN_ERR_NOTFOUND);
  assert_int_equal(nn_peerstore_success(ps, &unknown, NULL, T0, NULL), NN_ERR_NOTFOUND);
  assert_int_equal(nn_peerstore_failure(ps, &unknown, T0), NN_ERR_NOTFOUND);

  nn_addr_t anchors[2] = { a, d }, got_anchors[4];
  size_t n_anchors = 0;
  assert_int_equal(nn_peerstore_set_anchors(ps, anchors, 2), NN_OK);
  nn_addr_t five[5] = { a, b, c, d, a };
  assert_int_equal(nn_peerstore_set_anchors(ps, five, 5), NN_ERR_ARG);

  assert_int_equal(nn_peerstore_get(ps, &a, &ea), NN_OK);
  assert_int_equal(nn_peerstore_get(ps, &b, &eb), NN_OK);
  assert_int_equal(nn_peerstore_get(ps, &c, &ec), NN_OK);
  assert_int_equal(ea.table, NN_PEERSTORE_TRIED);
  assert_int_equal(ea.has_node_id, 1);
  assert_memory_equal(ea.node_id.b, id.b, 32);
  assert_int_equal(ea.first_seen, T0);
  assert_int_equal(ea.last_seen, T0 + 21);
  assert_int_equal(ea.last_success, T0 + 21);
  assert_int_equal(ea.attempts, 1);
  assert_int_equal(ea.standing, 1);
  assert_int_equal(eb.table, NN_PEERSTORE_NEW);
  assert_int_equal(eb.attempts, 2);
  assert_int_equal(eb.failures, 2);
  assert_int_equal(eb.last_attempt, T0 + 25);
  assert_int_equal(eb.has_node_id, 0);
  assert_int_equal(ec.standing, -30);
  assert_true(ea.bucket < NN_PEERSTORE_TRIED_BUCKETS && ea.slot < NN_PEERSTORE_BUCKET_SIZE);
  assert_true(eb.bucket < NN_PEERSTORE_NEW_BUCKETS && eb.slot < NN_PEERSTORE_BUCKET_SIZE);
  /* b and d came from one source, c from itself: the source group is kept */
  assert_int_equal(eb.source_group_len, 3);
  assert_int_equal(eb.source_group[1], 200);
  assert_int_equal(ec.source_group[1], 9);

  size_t nn = 0, nt = 0;
  assert_int_equal(nn_peerstore_count(ps, &nn, &nt), NN_OK);
  assert_int_equal(nn, 3);
  assert_int_equal(nt, 1);

  nn_addr_t sel1[8], sel2[8];
  size_t g1 = 0, g2 = 0;
  select_n(ps, 7, 8, T0 + 1000, sel1, &g1);
  assert_int_equal(g1, 4);

  snprintf(walpath, sizeof(walpath), "%s-wal", f->path);
  assert_int_equal(stat(walpath, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  nn_peerstore_close(ps);

  /* a different generator on reopen: the bucket key comes from the file, not from it */
  nn_drbg_init_u64(&f->drbg, 4242);
  ps = open_ok(f, NULL);
  assert_int_equal(nn_peerstore_count(ps, &nn, &nt), NN_OK);
  assert_int_equal(nn, 3);
  assert_int_equal(nt, 1);
  assert_int_equal(nn_peerstore_get(ps, &a, &e2), NN_OK);
  assert_memory_equal(&e2, &ea, sizeof(e2));
  assert_int_equal(nn_peerstore_get(ps, &b, &e2), NN_OK);
  assert_memory_equal(&e2, &eb, sizeof(e2));
  assert_int_equal(nn_peerstore_get(ps, &c, &e2), NN_OK);
  assert_memory_equal(&e2, &ec, sizeof(e2));
  assert_int_equal(nn_peerstore_get_anchors(ps, got_anchors, 4, &n_anchors), NN_OK);
  assert_int_equal(n_anchors, 2);
  assert_true(nn_addr_equal(&got_anchors[0], &a));
  assert_true(nn_addr_equal(&got_anchors[1], &d));
  select_n(ps, 7, 8, T0 + 1000, sel2, &g2);
  assert_int_equal(g2, g1);
  for (size_t i = 0; i < g1; i++)
    assert_true(nn_addr_equal(&sel1[i], &sel2[i]));
  /* the same placement: re-adding changes nothing */
  assert_int_equal(add(ps, d, &src, T0 + 2000), NN_PEERSTORE_UPDATED);
  assert_int_equal(nn_peerstore_count(ps, &nn, &nt), NN_OK);
  assert_int_equal(nn + nt, 4);
  nn_peerstore_close(ps);
}

/* ---- reputation and bans --------------------------------------------------------------------- */

static void
test_standing_and_bans(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  nn_addr_t a = v4(5, 6, 7, 8, 9000), a_other_port = v4(5, 6, 7, 8, 1234), neighbour = v4(5, 6, 7, 9, 9000);
  uint64_t until = 0;
  uint32_t count = 0;
  int32_t standing = 0;
  int banned = -1;

  assert_int_equal(add(ps, a, NULL, T0), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, neighbour, NULL, T0), NN_PEERSTORE_ADDED);
  assert_int_equal(nn_peerstore_penalize(ps, &a, 60, "bad block", T0, &banned), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_standing(ps, &a, &standing), NN_OK);
  assert_int_equal(standing, -60);
  /* good behaviour restores standing, slowly */
  assert_int_equal(nn_peerstore_reward(ps, &a, 10, T0), NN_OK);
  assert_int_equal(nn_peerstore_success(ps, &a, NULL, T0, NULL), NN_OK);
  assert_int_equal(nn_peerstore_standing(ps, &a, &standing), NN_OK);
  assert_int_equal(standing, -49);
  assert_int_equal(nn_peerstore_penalize(ps, &a, 0, NULL, T0, NULL), NN_ERR_ARG);

  /* anchors lose a host when it is banned */
  nn_addr_t anchors[2] = { a, neighbour }, got[4];
  size_t n = 0;
  assert_int_equal(nn_peerstore_set_anchors(ps, anchors, 2), NN_OK);

  /* below the threshold (-100): banned for 24 h, the whole IP, not its neighbour */
  assert_int_equal(nn_peerstore_penalize(ps, &a, 52, "invalid message", T0 + 100, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, T0 + 100, &banned, &until, &count), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(until, T0 + 100 + 86400);
  assert_int_equal(count, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &a_other_port, T0 + 100, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &neighbour, T0 + 100, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_standing(ps, &a, &standing), NN_OK);
  assert_int_equal(standing, 0);
  assert_int_equal(nn_peerstore_get_anchors(ps, got, 4, &n), NN_OK);
  assert_int_equal(n, 1);
  assert_true(nn_addr_equal(&got[0], &neighbour));
  /* banned: not re-added, not selected */
  assert_int_equal(add(ps, a_other_port, NULL, T0 + 200), NN_PEERSTORE_BANNED);
  nn_addr_t sel[4];
  select_n(ps, 1, 4, T0 + 200, sel, &n);
  assert_int_equal(n, 1);
  assert_true(nn_addr_equal(&sel[0], &neighbour));
  /* more penalties during a ban do not extend it */
  assert_int_equal(nn_peerstore_penalize(ps, &a, 500, NULL, T0 + 300, &banned), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_reward(ps, &a, 1000, T0 + 300), NN_OK); /* back to the cap */
  assert_int_equal(nn_peerstore_standing(ps, &a, &standing), NN_OK);
  assert_int_equal(standing, NN_PEERSTORE_STANDING_MAX);
  assert_int_equal(nn_peerstore_penalize(ps, &a, NN_PEERSTORE_STANDING_MAX, NULL, T0 + 300, NULL), NN_OK);

  /* the ban survives a restart, and expires */
  nn_peerstore_close(ps);
  ps = open_ok(f, NULL);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, T0 + 100 + 86399, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, T0 + 100 + 86400, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  /* (a and its neighbour share a /16: one of them per selection) */
  int seen_a = 0;
  for (uint64_t seed = 0; seed < 16; seed++) {
    select_n(ps, seed, 4, T0 + 100 + 86400, sel, &n);
    assert_int_equal(n, 1);
    seen_a |= nn_addr_equal(&sel[0], &a);
  }
  assert_true(seen_a);

  /* repeated bans escalate: 2x, then 4x */
  uint64_t t = T0 + 100 + 86400 + 10;
  assert_int_equal(nn_peerstore_penalize(ps, &a, 101, NULL, t, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, t, &banned, &until, &count), NN_OK);
  assert_int_equal(until, t + 2 * 86400);
  assert_int_equal(count, 2);
  uint64_t second = until - t;
  t = until + 1;
  assert_int_equal(nn_peerstore_penalize(ps, &a, 101, NULL, t, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, t, &banned, &until, &count), NN_OK);
  assert_int_equal(until, t + 4 * 86400);
  assert_int_equal(count, 3);
  printf("bans: 24 h, then %" PRIu64 " h, then %" PRIu64 " h\n", second / 3600, (until - t) / 3600);
  /* a ban long past no longer escalates */
  t = until + 31u * 86400u;
  assert_int_equal(nn_peerstore_penalize(ps, &a, 101, NULL, t, &banned), NN_OK);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, t, &banned, &until, &count), NN_OK);
  assert_int_equal(until, t + 86400);
  assert_int_equal(count, 1);

  /* explicit ban: until a given time, lifted with 0; no escalation */
  nn_addr_t b = v4(9, 9, 9, 9, 1);
  assert_int_equal(nn_peerstore_ban(ps, &b, T0 + 100, "operator", T0), NN_OK);
  assert_int_equal(nn_peerstore_is_banned(ps, &b, T0 + 99, &banned, &until, &count), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(count, 0);
  assert_int_equal(nn_peerstore_is_banned(ps, &b, T0 + 100, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_ban(ps, &b, T0 + 1000, NULL, T0), NN_OK);
  assert_int_equal(nn_peerstore_ban(ps, &b, 0, NULL, T0), NN_OK);
  assert_int_equal(nn_peerstore_is_banned(ps, &b, T0 + 1, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);

  /* IPv6 hosts are banned by /64 */
  uint8_t h6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 };
  nn_addr_t v6a = nn_addr_ipv6(h6, 1);
  h6[15] = 0xff;
  h6[9] = 0x42;
  nn_addr_t v6same = nn_addr_ipv6(h6, 2);
  h6[7] = 3;
  nn_addr_t v6other = nn_addr_ipv6(h6, 2);
  assert_int_equal(nn_peerstore_penalize(ps, &v6a, 200, NULL, T0, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &v6same, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &v6other, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);

  /* a configurable ban period */
  nn_peerstore_close(ps);
  nn_peerstore_config_t cfg;
  nn_peerstore_config_default(&cfg);
  cfg.ban_seconds = 600;
  cfg.ban_threshold = -10;
  ps = open_ok(f, &cfg);
  nn_addr_t c = v4(11, 12, 13, 14, 1);
  assert_int_equal(nn_peerstore_penalize(ps, &c, 11, NULL, T0, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_is_banned(ps, &c, T0, &banned, &until, NULL), NN_OK);
  assert_int_equal(until, T0 + 600);
  nn_peerstore_close(ps);
}

/* Nodes and a host's anonymous peers have reputations of their own: banning one bans neither
 * the host nor the other nodes behind it, and a banned node's addresses are not selected. */
static void
test_node_and_anon_subjects(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  nn_addr_t a = v4(5, 6, 7, 8, 9000), b = v4(5, 6, 7, 8, 9001), c = v4(9, 6, 7, 8, 9000);
  nn_node_id_t x, y;
  int banned = -1, in_tried = 0;
  int32_t standing = 1;
  memset(x.b, 0x11, sizeof(x.b));
  memset(y.b, 0x22, sizeof(y.b));

  /* x at a, y at b: the same host */
  assert_int_equal(add(ps, a, NULL, T0), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, b, NULL, T0), NN_PEERSTORE_ADDED);
  assert_int_equal(add(ps, c, NULL, T0), NN_PEERSTORE_ADDED);
  assert_int_equal(nn_peerstore_success(ps, &a, &x, T0, &in_tried), NN_OK);
  assert_int_equal(nn_peerstore_success(ps, &b, &y, T0, &in_tried), NN_OK);
  assert_int_equal(nn_peerstore_penalize_node(ps, &x, 60, "bad", T0, &banned), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_node_standing(ps, &x, &standing), NN_OK);
  assert_int_equal(standing, -60);
  assert_int_equal(nn_peerstore_standing(ps, &a, &standing), NN_OK);
  assert_int_equal(standing, 2); /* the host's two successes, untouched */
  assert_int_equal(nn_peerstore_penalize_node(ps, &x, 60, "bad", T0, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_node_banned(ps, &x, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_node_banned(ps, &y, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_is_banned(ps, &a, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_anon_banned(ps, &a, T0, &banned), NN_OK);
  assert_int_equal(banned, 0);
  /* x's address is no longer selected; y's, at the same host, and c are */
  for (uint64_t seed = 0; seed < 10; seed++) {
    nn_addr_t out[8];
    size_t got = 0;
    select_n(ps, seed, 8, T0 + 1, out, &got);
    assert_int_equal(got, 2);
    for (size_t i = 0; i < got; i++)
      assert_false(nn_addr_equal(&out[i], &a));
  }

  /* the anonymous peers of a host: their own reputation (by host, whatever the port) */
  assert_int_equal(nn_peerstore_penalize_anon(ps, &c, 101, "junk", T0, &banned), NN_OK);
  assert_int_equal(banned, 1);
  nn_addr_t c2 = c;
  c2.port = 1;
  assert_int_equal(nn_peerstore_anon_banned(ps, &c2, T0, &banned), NN_OK);
  assert_int_equal(banned, 1);
  assert_int_equal(nn_peerstore_anon_standing(ps, &c, &standing), NN_OK);
  assert_int_equal(standing, 0); /* the ban is the punishment */
  assert_int_equal(nn_peerstore_is_banned(ps, &c, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  /* and a host ban is not an anonymous one */
  assert_int_equal(nn_peerstore_ban(ps, &a, T0 + 100, "operator", T0), NN_OK);
  assert_int_equal(nn_peerstore_anon_banned(ps, &a, T0, &banned), NN_OK);
  assert_int_equal(banned, 0);
  assert_int_equal(nn_peerstore_node_banned(ps, &y, T0, &banned, NULL, NULL), NN_OK);
  assert_int_equal(banned, 0);
  nn_peerstore_close(ps);
}

/* ---- Sybil ----------------------------------------------------------------------------------- */

static size_t
distinct(const uint32_t *v, size_t n)
{
  size_t d = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j;
    for (j = 0; j < i && v[j] != v[i]; j++)
      ;
    d += j == i;
  }
  return d;
}

static void
test_sybil_new_table(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  static uint32_t buckets[4000];
  size_t stored = 0, nb = 0, n_new = 0, n_tried = 0;
  nn_peerstore_entry_t e;

  /* 1,000 attacker addresses in 77.88.0.0/16, told by 50 attacker sources in that /16 */
  for (unsigned i = 0; i < 1000; i++) {
    nn_addr_t a = v4(77, 88, i / 250, 1 + i % 250, 9800), src = v4(77, 88, 200 + i % 50, 7, 9800);
    if (add(ps, a, &src, T0 + i) == NN_PEERSTORE_ADDED) {
      assert_int_equal(nn_peerstore_get(ps, &a, &e), NN_OK);
      buckets[nb++] = e.bucket;
      stored++;
    }
  }
  nn_addr_t probe = v4(77, 88, 0, 0, 1);
  assert_int_equal(nn_peerstore_count_group(ps, &probe, &n_new, &n_tried), NN_OK);
  /* one (address group, source group) pair reaches exactly one bucket of 64 slots */
  printf("sybil: 1000 addresses from one /16 via sources in that /16: %zu stored in %zu bucket(s) "
         "(bound %d)\n",
         n_new, distinct(buckets, nb), NN_PEERSTORE_BUCKET_SIZE);
  assert_int_equal(n_new, stored);
  assert_true(n_new <= NN_PEERSTORE_BUCKET_SIZE);
  assert_int_equal(distinct(buckets, nb), 1);
  assert_int_equal(n_tried, 0);

  /* 1,000 honest addresses from 1,000 /16s, told by 50 sources in 50 other /16s */
  size_t honest = 0;
  for (unsigned i = 0; i < 1000; i++) {
    nn_addr_t a = v4(20 + i / 200, i % 200, 3, 4, 9800), src = v4(150 + i % 50, 50 + i % 50, 1, 1, 9800);
    honest += add(ps, a, &src, T0 + 2000 + i) == NN_PEERSTORE_ADDED;
  }
  printf("sybil: 1000 honest addresses from 1000 /16s: %zu stored\n", honest);
  assert_true(honest >= 900);
  assert_int_equal(nn_peerstore_count_group(ps, &probe, &n_new, NULL), NN_OK);
  assert_int_equal(n_new, stored); /* the attacker gained nothing */

  /* 2,000 addresses from 2,000 /16s all told by one source /16: at most 16 buckets x 64 */
  size_t one_src = 0;
  nb = 0;
  for (unsigned i = 0; i < 2000; i++) {
    nn_addr_t a = v4(30 + i / 250, i % 250, 9, 9, 9800), src = v4(66, 66, i % 200, 1 + i % 3, 9800);
    if (add(ps, a, &src, T0 + 4000 + i) == NN_PEERSTORE_ADDED) {
      assert_int_equal(nn_peerstore_get(ps, &a, &e), NN_OK);
      buckets[nb++] = e.bucket;
      one_src++;
    }
  }
  printf("sybil: 2000 addresses from 2000 /16s via one source /16: %zu stored in %zu buckets "
         "(bound %d in %d)\n",
         one_src, distinct(buckets, nb), NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP * NN_PEERSTORE_BUCKET_SIZE,
         NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP);
  assert_true(one_src <= NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP * NN_PEERSTORE_BUCKET_SIZE);
  assert_true(distinct(buckets, nb) <= NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP);
  assert_int_equal(nn_peerstore_count(ps, &n_new, &n_tried), NN_OK);
  assert_int_equal(n_new, stored + honest + one_src);
  nn_peerstore_close(ps);
}

static void
test_sybil_tried_table(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  static uint32_t buckets[1000];
  size_t in_new = 0, promoted = 0, nb = 0, n_new = 0, n_tried = 0;
  nn_peerstore_entry_t e;

  /* An attacker with 1,000 reachable nodes in one /16, each learnt from a different /16 (so they
   * spread over the new table), all of which answer: tried holds at most 4 buckets of them. */
  for (unsigned i = 0; i < 1000; i++) {
    nn_addr_t a = v4(88, 77, i / 250, 1 + i % 250, 9800), src = v4(20 + i / 200, i % 200, 5, 5, 9800);
    in_new += add(ps, a, &src, T0) == NN_PEERSTORE_ADDED;
  }
  for (unsigned i = 0; i < 1000; i++) {
    nn_addr_t a = v4(88, 77, i / 250, 1 + i % 250, 9800);
    int t = 0;
    nn_err_t err = nn_peerstore_success(ps, &a, NULL, T0 + 10, &t);
    if (err == NN_ERR_NOTFOUND)
      continue;
    assert_int_equal(err, NN_OK);
    if (t) {
      assert_int_equal(nn_peerstore_get(ps, &a, &e), NN_OK);
      assert_int_equal(e.table, NN_PEERSTORE_TRIED);
      buckets[nb++] = e.bucket;
      promoted++;
    }
  }
  nn_addr_t probe = v4(88, 77, 0, 0, 1);
  assert_int_equal(nn_peerstore_count_group(ps, &probe, &n_new, &n_tried), NN_OK);
  printf("sybil: 1000 answering addresses from one /16 (%zu in new): %zu tried in %zu buckets "
         "(bound %d in %d), %zu left in new\n",
         in_new, n_tried, distinct(buckets, nb), NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP * NN_PEERSTORE_BUCKET_SIZE,
         NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP, n_new);
  assert_true(in_new >= 900);
  assert_int_equal(n_tried, promoted);
  assert_true(n_tried <= NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP * NN_PEERSTORE_BUCKET_SIZE);
  assert_true(distinct(buckets, nb) <= NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP);
  assert_int_equal(n_new + n_tried, in_new);
  nn_peerstore_close(ps);
}

/* ---- selection ------------------------------------------------------------------------------- */

static void
test_select_diverse_and_mixed(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  nn_addr_t all[200], out[64];
  size_t nall = 0, got = 0, n_new = 0, n_tried = 0;

  /* 20 /16s x 10 addresses, each from its own source; every other address succeeds */
  for (unsigned g = 0; g < 20; g++)
    for (unsigned j = 0; j < 10; j++) {
      nn_addr_t a = v4(40 + g, 7, j, 1, 9800), src = v4(140 + g, j, 1, 1, 9800);
      if (add(ps, a, &src, T0) == NN_PEERSTORE_ADDED)
        all[nall++] = a;
    }
  for (size_t i = 0; i < nall; i += 2)
    assert_int_equal(nn_peerstore_success(ps, &all[i], NULL, T0, NULL), NN_OK);
  assert_int_equal(nn_peerstore_count(ps, &n_new, &n_tried), NN_OK);
  printf("select: %zu new, %zu tried in 20 /16s\n", n_new, n_tried);
  assert_true(n_new > 20 && n_tried > 20);

  size_t picks = 0, from_tried = 0;
  for (uint64_t seed = 0; seed < 200; seed++) {
    select_n(ps, seed, 8, T0 + 100, out, &got);
    assert_int_equal(got, 8);
    for (size_t i = 0; i < got; i++) {
      nn_peerstore_entry_t e;
      for (size_t j = 0; j < i; j++)
        assert_false(same_group16(&out[i], &out[j]));
      assert_int_equal(nn_peerstore_get(ps, &out[i], &e), NN_OK);
      from_tried += e.table == NN_PEERSTORE_TRIED;
      picks++;
    }
  }
  printf("select: %zu of %zu picks from tried\n", from_tried, picks);
  assert_true(from_tried * 10 >= picks * 4 && from_tried * 10 <= picks * 6);
  /* asking for more than there are groups: one per group */
  select_n(ps, 1, 64, T0 + 100, out, &got);
  assert_int_equal(got, 20);
  for (size_t i = 0; i < got; i++)
    for (size_t j = 0; j < i; j++)
      assert_false(same_group16(&out[i], &out[j]));

  /* backoff: a group whose every address was just attempted is skipped, for retry_seconds (60)
   * after an attempt and twice that after a failure */
  nn_addr_t probe = v4(40, 7, 0, 0, 1);
  for (size_t i = 0; i < nall; i++)
    if (same_group16(&all[i], &probe))
      assert_int_equal(nn_peerstore_attempt(ps, &all[i], T0 + 1000), NN_OK);
  select_n(ps, 2, 64, T0 + 1059, out, &got);
  assert_int_equal(got, 19);
  for (size_t i = 0; i < got; i++)
    assert_false(same_group16(&out[i], &probe));
  select_n(ps, 2, 64, T0 + 1060, out, &got);
  assert_int_equal(got, 20);
  for (size_t i = 0; i < nall; i++)
    if (same_group16(&all[i], &probe))
      assert_int_equal(nn_peerstore_failure(ps, &all[i], T0 + 1010), NN_OK);
  /* the failure ends the attempt: counted from it, 60 << 1 */
  select_n(ps, 3, 64, T0 + 1129, out, &got);
  assert_int_equal(got, 19);
  select_n(ps, 3, 64, T0 + 1130, out, &got);
  assert_int_equal(got, 20);

  /* banned hosts are never selected */
  for (size_t i = 0; i < nall; i++)
    if (same_group16(&all[i], &probe))
      assert_int_equal(nn_peerstore_ban(ps, &all[i], T0 + 5000, "test", T0 + 1200), NN_OK);
  for (uint64_t seed = 0; seed < 20; seed++) {
    select_n(ps, seed, 64, T0 + 1200, out, &got);
    assert_int_equal(got, 19);
    for (size_t i = 0; i < got; i++)
      assert_false(same_group16(&out[i], &probe));
  }
  nn_peerstore_close(ps);

  /* an empty store selects nothing */
  unlink(f->path);
  char wal[320];
  snprintf(wal, sizeof(wal), "%s-wal", f->path);
  unlink(wal);
  ps = open_ok(f, NULL);
  select_n(ps, 1, 8, T0, out, &got);
  assert_int_equal(got, 0);
  nn_peerstore_close(ps);
}

/* ---- kill -9 --------------------------------------------------------------------------------- */

enum { OP_ADD = 1, OP_SUCCESS = 2, OP_PENALTY = 3 };
typedef struct report_t {
  uint32_t i;
  uint32_t op;
  int32_t val;
} report_t;

#define KILL_MAX_I 200000

static nn_addr_t
kill_addr(uint32_t i)
{
  return v4(11 + i % 80, (i / 80) % 256, (i / 20480) % 256, 1 + i % 200, 9800);
}

/* The child: writes forever, reporting each committed operation on fd. */
static void
kill_child(const char *path, uint32_t base, int fd)
{
  nn_peerstore_t *ps = NULL;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 9);
  nn_rng_t rng = nn_drbg_rng(&d);
  if (nn_peerstore_open(&ps, path, NULL, &rng, NULL, 0))
    _exit(3);
  for (uint32_t i = base; i < KILL_MAX_I; i++) {
    nn_addr_t a = kill_addr(i);
    nn_peerstore_add_result_t res;
    report_t r = { i, OP_ADD, 0 };
    if (nn_peerstore_add(ps, &a, NULL, T0 + i, &res))
      _exit(4);
    r.val = res == NN_PEERSTORE_ADDED || res == NN_PEERSTORE_UPDATED; /* present */
    if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
      _exit(5);
    if (i % 3 == 0 && r.val) {
      int t = 0;
      if (nn_peerstore_success(ps, &a, NULL, T0 + i, &t))
        _exit(6);
      r.op = OP_SUCCESS;
      r.val = t;
      if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(5);
    }
    if (i % 5 == 0) {
      int32_t st = 0;
      if (nn_peerstore_penalize(ps, &a, 7, "test", T0 + i, NULL) || nn_peerstore_standing(ps, &a, &st))
        _exit(7);
      r.op = OP_PENALTY;
      r.val = st;
      if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(5);
    }
  }
  for (;;)
    pause();
}

typedef struct expect_t {
  int8_t stored, tried, penalized;
  int32_t standing;
} expect_t;

static void
apply_report(expect_t *ex, const report_t *r)
{
  expect_t *e = &ex[r->i];
  switch (r->op) {
  case OP_ADD: e->stored = (int8_t)r->val; break;
  case OP_SUCCESS: e->tried = (int8_t)r->val; break;
  case OP_PENALTY:
    e->penalized = 1;
    e->standing = r->val;
    break;
  }
}

static void
test_kill9(void **state)
{
  fixture_t *f = *state;
  expect_t *ex = calloc(KILL_MAX_I, sizeof(*ex));
  uint32_t base = 0;
  unsigned seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 8);
  size_t verified_total = 0;

  assert_non_null(ex);
  for (int round = 0; round < 6; round++) {
    int p[2];
    report_t r;
    uint32_t last = base;
    size_t nrep = 0, wal_bytes = 0;

    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(p[0]);
      kill_child(f->path, base, p[1]); /* never returns */
    }
    close(p[1]);
    /* let the child get well into its loop, then kill it at a random moment */
    while (nrep < 30 && read(p[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
      apply_report(ex, &r);
      last = r.i;
      nrep++;
    }
    assert_int_equal(nrep, 30);
    unsigned delay_us = (unsigned)(rand_r(&seed) % 40000);
    usleep(delay_us);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* the rest of what the child reported before it died: all committed */
    while (read(p[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
      apply_report(ex, &r);
      last = r.i;
      nrep++;
    }
    close(p[0]);

    /* the child never closed the store: what it committed since the last checkpoint is in the
     * write-ahead log, which the next open must replay */
    char wal[320];
    struct stat wst;
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(stat(wal, &wst), 0);
    wal_bytes = (size_t)wst.st_size;

    char ic[64];
    assert_int_equal(sql_exec(f->path, "PRAGMA integrity_check", ic, sizeof(ic)), SQLITE_OK);
    assert_string_equal(ic, "ok");

    /* every operation reported before the kill is in the file; those in flight at the kill
     * (on address `last`, or the add of `last` + 1) may or may not be */
    nn_peerstore_t *ps = open_ok(f, NULL);
    assert_int_equal(nn_peerstore_check(ps), NN_OK);
    size_t stored = 0, n_new = 0, n_tried = 0;
    for (uint32_t i = 0; i < last; i++) {
      nn_addr_t a = kill_addr(i);
      nn_peerstore_entry_t e;
      nn_err_t err = nn_peerstore_get(ps, &a, &e);
      if (!ex[i].stored)
        continue; /* its slot was taken */
      assert_int_equal(err, NN_OK);
      assert_int_equal(e.table == NN_PEERSTORE_TRIED, ex[i].tried);
      if (ex[i].penalized)
        assert_int_equal(e.standing, ex[i].standing);
      stored++;
    }
    assert_int_equal(nn_peerstore_count(ps, &n_new, &n_tried), NN_OK);
    printf("kill -9 round %d: killed %u us after the 30th report, %zu operations reported "
           "(WAL %zu bytes), %zu addresses verified, %zu stored in all\n",
           round, delay_us, nrep, wal_bytes, stored, n_new + n_tried);
    assert_true(n_new + n_tried >= stored && n_new + n_tried <= stored + 2);
    verified_total = stored;
    nn_peerstore_close(ps);
    /* the next child starts again with the address in flight: what it reports then is known */
    base = last;
  }
  assert_true(verified_total > 100);
  free(ex);
}

/* ---- refusals -------------------------------------------------------------------------------- */

static void
test_refuse_permissions(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  char why[1024], wal[320];
  nn_addr_t a = v4(1, 2, 3, 4, 5);

  assert_int_equal(add(ps, a, NULL, T0), NN_PEERSTORE_ADDED);
  nn_peerstore_close(ps);
  static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0602 };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(chmod(f->path, bad[i]), 0);
    ps = (nn_peerstore_t *)1;
    assert_int_equal(nn_peerstore_open(&ps, f->path, NULL, &f->rng, why, sizeof(why)), NN_ERR_PERM);
    assert_null(ps);
    assert_non_null(strstr(why, f->path));
    assert_non_null(strstr(why, "chmod 600"));
  }
  printf("refusal: %s\n", why);
  assert_int_equal(chmod(f->path, 0600), 0);
  /* a companion file others can read is refused too, by its own name */
  snprintf(wal, sizeof(wal), "%s-wal", f->path);
  FILE *fp = fopen(wal, "wb");
  assert_non_null(fp);
  fclose(fp);
  assert_int_equal(chmod(wal, 0644), 0);
  assert_int_equal(nn_peerstore_open(&ps, f->path, NULL, &f->rng, why, sizeof(why)), NN_ERR_PERM);
  assert_non_null(strstr(why, "-wal"));
  unlink(wal);
  /* still all there */
  ps = open_ok(f, NULL);
  nn_peerstore_entry_t e;
  assert_int_equal(nn_peerstore_get(ps, &a, &e), NN_OK);
  nn_peerstore_close(ps);

  /* a directory that does not exist */
  char missing[400];
  snprintf(missing, sizeof(missing), "%s/nope/peers.sqlite", f->dir);
  assert_int_equal(nn_peerstore_open(&ps, missing, NULL, &f->rng, why, sizeof(why)), NN_ERR_NOTFOUND);
  assert_non_null(strstr(why, missing));
}

static void
write_file(const char *path, const uint8_t *b, size_t n, long off)
{
  FILE *fp = fopen(path, off < 0 ? "wb" : "r+b");
  assert_non_null(fp);
  if (off > 0)
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
  assert_int_equal(fwrite(b, 1, n, fp), n);
  fclose(fp);
  assert_int_equal(chmod(path, 0600), 0);
}

static uint8_t *
slurp(const char *path, size_t *n)
{
  FILE *fp = fopen(path, "rb");
  uint8_t *b;
  long len;
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  len = ftell(fp);
  assert_true(len >= 0);
  rewind(fp);
  b = malloc((size_t)len + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  *n = (size_t)len;
  return b;
}

/* Opening fails with \a want and a message naming the file, and leaves its bytes alone. */
static void
assert_refused_unchanged(fixture_t *f, nn_err_t want, const char *needle)
{
  nn_peerstore_t *ps = (nn_peerstore_t *)1;
  char why[1024];
  size_t n1 = 0, n2 = 0;
  uint8_t *before = slurp(f->path, &n1), *after;
  assert_int_equal(nn_peerstore_open(&ps, f->path, NULL, &f->rng, why, sizeof(why)), want);
  assert_null(ps);
  assert_non_null(strstr(why, f->path));
  if (needle)
    assert_non_null(strstr(why, needle));
  printf("refusal: %s\n", why);
  after = slurp(f->path, &n2);
  assert_int_equal(n1, n2); /* not recreated, not converted */
  assert_memory_equal(before, after, n1);
  free(before);
  free(after);
}

static void
test_refuse_corrupt(void **state)
{
  fixture_t *f = *state;
  static uint8_t junk[16384];
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 77);
  nn_rng_t r = nn_drbg_rng(&d);
  assert_int_equal(nn_rng_fill(&r, junk, sizeof(junk)), NN_OK);

  /* garbage from the first byte */
  write_file(f->path, junk, sizeof(junk), -1);
  assert_refused_unchanged(f, NN_ERR_FORMAT, "move it away");
  /* too short to be anything */
  write_file(f->path, (const uint8_t *)"hello", 5, -1);
  assert_refused_unchanged(f, NN_ERR_FORMAT, "not an SQLite database");

  /* a real store with its pages overwritten after the header */
  unlink(f->path);
  nn_peerstore_t *ps = open_ok(f, NULL);
  for (unsigned i = 0; i < 1500; i++)
    add(ps, v4(20 + i / 200, i % 200, 1, 1, 9800), NULL, T0);
  nn_peerstore_close(ps);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_true(st.st_size > 8 * 4096);
  write_file(f->path, junk, 4 * 4096, 3 * 4096);
  assert_refused_unchanged(f, NN_ERR_FORMAT, "move it away");

  /* an SQLite database that is not a peer store */
  unlink(f->path);
  assert_int_equal(sql_exec(f->path, "PRAGMA user_version", NULL, 0), SQLITE_CANTOPEN);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE foo(x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(chmod(f->path, 0600), 0);
  assert_refused_unchanged(f, NN_ERR_FORMAT, "not a peer store");
}

static void
test_refuse_schema_version(void **state)
{
  fixture_t *f = *state;
  nn_peerstore_t *ps = open_ok(f, NULL);
  nn_peerstore_close(ps);
  assert_int_equal(sql_exec(f->path, "PRAGMA user_version = 99", NULL, 0), SQLITE_OK);
  assert_refused_unchanged(f, NN_ERR_VERSION, "schema version 99");
  assert_non_null(strstr(nn_peerstore_file_hint(NN_ERR_VERSION), "upgrade"));
  /* a version this build reads, with a table missing */
  assert_int_equal(sql_exec(f->path, "PRAGMA user_version = 1", NULL, 0), SQLITE_OK);
  assert_int_equal(sql_exec(f->path, "DROP TABLE anchors", NULL, 0), SQLITE_OK);
  assert_refused_unchanged(f, NN_ERR_FORMAT, "anchors");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_persist_across_reopen, setup, teardown),
    cmocka_unit_test_setup_teardown(test_standing_and_bans, setup, teardown),
    cmocka_unit_test_setup_teardown(test_node_and_anon_subjects, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sybil_new_table, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sybil_tried_table, setup, teardown),
    cmocka_unit_test_setup_teardown(test_select_diverse_and_mixed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuse_permissions, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuse_corrupt, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuse_schema_version, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
