/*
 * Mix descriptors and the directory (src/mixnet/dir.c): signing and every way a descriptor is
 * refused, the directory's caps, digests that agree when views agree, stratified routes that
 * skip poor mixes, and a route from the directory through real mix cores. The descriptor vector
 * of docs/PROTOCOL.md 9.7 must be quoted there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nepnet/identity.h"
#include "crypto/identity.h"
#include "crypto/rand.h"
#include "lib/hex.h"
#include "mixnet/dir.h"
#include "mixnet/mix.h"

#define NET 0x4e455052u /* regtest */
#define NOW 1765000000ull
#define EPOCH 490000u
#define NM 12

typedef struct fixture_t {
  nn_identity_t *id[NM];
  nn_hybrid_key_t key[NM][2];
  uint8_t *desc[NM];
  size_t len[NM];
} fixture_t;

static void
make_desc(fixture_t *f, int i, uint32_t epoch, uint64_t issued, uint8_t net_octet, uint8_t **out, size_t *len)
{
  nn_mixdesc_t d;
  memset(&d, 0, sizeof(d));
  d.network = NET;
  d.epoch = epoch;
  d.issued_at = issued;
  d.n_addrs = 1;
  assert_int_equal(nn_addr_parse(&d.addrs[0], "100.20.30.40:9798"), NN_OK);
  d.addrs[0].host[0] = net_octet; /* each mix its own /16 unless asked otherwise */
  d.keys[0] = f->key[i][0].pk;
  d.keys[1] = f->key[i][1].pk;
  *out = malloc(NN_MIXDESC_MAX_LEN);
  assert_non_null(*out);
  nn_drbg_t dr;
  nn_drbg_init_u64(&dr, 900 + (uint64_t)i);
  nn_rng_t r = nn_drbg_rng(&dr);
  assert_int_equal(nn_mixdesc_build(&d, f->id[i], &r, *out, NN_MIXDESC_MAX_LEN, len), NN_OK);
}

static int
setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  for (int i = 0; i < NM; i++) {
    nn_drbg_t d;
    nn_drbg_init_u64(&d, 700 + (uint64_t)i);
    nn_rng_t r = nn_drbg_rng(&d);
    assert_int_equal(nn_identity_generate_rng(&f->id[i], &r), NN_OK);
    assert_int_equal(nn_hybrid_keygen(&f->key[i][0], &r), NN_OK);
    assert_int_equal(nn_hybrid_keygen(&f->key[i][1], &r), NN_OK);
    make_desc(f, i, EPOCH, NOW, (uint8_t)(100 + i), &f->desc[i], &f->len[i]);
  }
  *state = f;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *f = *state;
  for (int i = 0; i < NM; i++) {
    nn_identity_free(f->id[i]);
    nn_hybrid_key_clear(&f->key[i][0]);
    nn_hybrid_key_clear(&f->key[i][1]);
    free(f->desc[i]);
  }
  free(f);
  return 0;
}

static void
test_descriptor(void **state)
{
  fixture_t *f = *state;
  nn_mixdesc_t d;
  assert_int_equal(f->len[0], NN_MIXDESC_FIXED_LEN + 7); /* one IPv4 address: type, 4, port */
  assert_int_equal(nn_mixdesc_parse(&d, f->desc[0], f->len[0], NET, NOW), NN_MIXDESC_OK);
  assert_memory_equal(d.node_id.b, nn_identity_node_id(f->id[0])->b, NN_NODE_ID_LEN);
  assert_int_equal(d.epoch, EPOCH);
  assert_memory_equal(&d.keys[1], &f->key[0][1].pk, sizeof(nn_hybrid_pk_t));
  assert_int_equal(nn_mixdesc_parse(&d, f->desc[0], f->len[0], NET + 1, NOW), NN_MIXDESC_NETWORK);
  assert_int_equal(nn_mixdesc_parse(&d, f->desc[0], f->len[0], NET, NOW - NN_MIXDESC_MAX_SKEW - 1), NN_MIXDESC_FUTURE);
  assert_int_equal(nn_mixdesc_parse(&d, f->desc[0], f->len[0] - 1, NET, NOW), NN_MIXDESC_MALFORMED);
  assert_int_equal(nn_mixdesc_parse(&d, f->desc[0], 10, NET, NOW), NN_MIXDESC_MALFORMED);
  uint8_t *b = malloc(f->len[0] + 1);
  assert_non_null(b);
  memcpy(b, f->desc[0], f->len[0]);
  b[f->len[0]] = 0;
  assert_int_equal(nn_mixdesc_parse(&d, b, f->len[0] + 1, NET, NOW), NN_MIXDESC_MALFORMED); /* trailing */
  size_t spots[] = { 5 + 100, 5 + 2592 + 2, 5 + 2592 + 12 + 1 + 3, f->len[0] - 4627 - 100, f->len[0] - 1 };
  for (size_t s = 0; s < sizeof(spots) / sizeof(spots[0]); s++) {
    memcpy(b, f->desc[0], f->len[0]);
    b[spots[s]] ^= 0x01;
    assert_int_equal(nn_mixdesc_parse(&d, b, f->len[0], NET, NOW), NN_MIXDESC_SIGNATURE);
  }
  memcpy(b, f->desc[0], f->len[0]);
  b[0] = 2;
  assert_int_equal(nn_mixdesc_parse(&d, b, f->len[0], NET, NOW), NN_MIXDESC_MALFORMED);
  memcpy(b, f->desc[0], f->len[0]);
  b[5 + 2592 + 12] = 0; /* no address */
  assert_int_equal(nn_mixdesc_parse(&d, b, f->len[0], NET, NOW), NN_MIXDESC_MALFORMED);
  free(b);
}

static nn_mixdir_t *
dir_new(void)
{
  nn_mixdir_cfg_t c;
  nn_mixdir_t *dir;
  nn_mixdir_cfg_default(&c, NET);
  assert_int_equal(nn_mixdir_new(&dir, &c), NN_OK);
  return dir;
}

static void
test_directory(void **state)
{
  fixture_t *f = *state;
  nn_mixdir_t *a = dir_new(), *b = dir_new();
  for (int i = 0; i < NM; i++) {
    assert_int_equal(nn_mixdir_add(a, f->desc[i], f->len[i], EPOCH, NOW), NN_MIXDIR_ADDED);
    assert_int_equal(nn_mixdir_add(b, f->desc[NM - 1 - i], f->len[NM - 1 - i], EPOCH, NOW), NN_MIXDIR_ADDED);
  }
  nn_hash_t da, db;
  assert_int_equal(nn_mixdir_digest(a, EPOCH, &da), NM);
  assert_int_equal(nn_mixdir_digest(b, EPOCH, &db), NM);
  assert_memory_equal(da.b, db.b, 32);                       /* the same view, whatever the order it came in */
  assert_int_equal(nn_mixdir_digest(a, EPOCH + 1, &da), NM); /* through keys[1] */
  assert_int_equal(nn_mixdir_digest(a, EPOCH + 2, &da), 0);
  assert_int_equal(nn_mixdir_add(a, f->desc[3], f->len[3], EPOCH, NOW), NN_MIXDIR_KNOWN);
  /* a newer descriptor of mix 3 for the same epoch replaces it: the views differ, then agree */
  uint8_t *nd;
  size_t nl;
  make_desc(f, 3, EPOCH, NOW + 5, 103, &nd, &nl);
  assert_int_equal(nn_mixdir_add(a, nd, nl, EPOCH, NOW), NN_MIXDIR_REPLACED);
  assert_int_equal(nn_mixdir_add(a, f->desc[3], f->len[3], EPOCH, NOW), NN_MIXDIR_KNOWN);
  nn_mixdir_digest(a, EPOCH, &da);
  nn_mixdir_digest(b, EPOCH, &db);
  assert_memory_not_equal(da.b, db.b, 32);
  assert_int_equal(nn_mixdir_add(b, nd, nl, EPOCH, NOW), NN_MIXDIR_REPLACED);
  nn_mixdir_digest(b, EPOCH, &db);
  assert_memory_equal(da.b, db.b, 32);
  free(nd);
  /* stale and far-future epochs, garbage */
  make_desc(f, 4, EPOCH - 2, NOW, 104, &nd, &nl);
  assert_int_equal(nn_mixdir_add(a, nd, nl, EPOCH, NOW), NN_MIXDIR_STALE);
  free(nd);
  make_desc(f, 4, EPOCH + 2, NOW, 104, &nd, &nl);
  assert_int_equal(nn_mixdir_add(a, nd, nl, EPOCH, NOW), NN_MIXDIR_STALE);
  free(nd);
  assert_int_equal(nn_mixdir_add(a, f->desc[0], f->len[0] - 3, EPOCH, NOW), NN_MIXDIR_INVALID);
  /* issued ahead of our clock by more than the skew: refused apart (a clock, not a forgery) */
  assert_int_equal(nn_mixdir_add(a, f->desc[0], f->len[0], EPOCH, NOW - NN_MIXDESC_MAX_SKEW - 1), NN_MIXDIR_FUTURE);
  /* the next epoch's descriptor of mix 5 takes over from its keys[1] for EPOCH + 1 */
  make_desc(f, 5, EPOCH + 1, NOW, 105, &nd, &nl);
  assert_int_equal(nn_mixdir_add(a, nd, nl, EPOCH, NOW), NN_MIXDIR_ADDED);
  assert_int_equal(nn_mixdir_digest(a, EPOCH + 1, &da), NM);
  free(nd);
  nn_mixdir_expire(a, EPOCH + 2); /* EPOCH's descriptors are over */
  assert_int_equal(nn_mixdir_digest(a, EPOCH + 1, &da), 1);
  nn_mixdir_free(a);
  nn_mixdir_free(b);
}

static void
test_group_cap(void **state)
{
  fixture_t *f = *state;
  nn_mixdir_t *a = dir_new(), *b = dir_new();
  uint8_t *nd[10];
  size_t nl[10];
  /* the store keeps 8 of one /16 (4 x max_per_group), the view the 2 with the lowest hashes:
   * two directories that got them in opposite orders agree */
  for (int i = 0; i < 9; i++)
    make_desc(f, i, EPOCH, NOW, 77, &nd[i], &nl[i]); /* all in 77.20.0.0/16 */
  for (int i = 0; i < 9; i++) {
    assert_int_equal(nn_mixdir_add(a, nd[i], nl[i], EPOCH, NOW), i < 8 ? NN_MIXDIR_ADDED : NN_MIXDIR_GROUP_FULL);
    assert_int_equal(nn_mixdir_add(b, nd[7 - (i % 8)], nl[7 - (i % 8)], EPOCH, NOW),
                     i < 8 ? NN_MIXDIR_ADDED : NN_MIXDIR_KNOWN);
  }
  nn_hash_t dg, dgb;
  assert_int_equal(nn_mixdir_digest(a, EPOCH, &dg), 2);
  assert_int_equal(nn_mixdir_digest(b, EPOCH, &dgb), 2);
  assert_memory_equal(dg.b, dgb.b, 32);
  /* two more of the same /16 through descriptors for the epoch before: the view still holds 2 */
  for (int i = 9; i < 11; i++) {
    uint8_t *x;
    size_t xl;
    make_desc(f, i, EPOCH - 1, NOW, 77, &x, &xl);
    assert_int_equal(nn_mixdir_add(a, x, xl, EPOCH, NOW), NN_MIXDIR_ADDED);
    free(x);
  }
  assert_int_equal(nn_mixdir_digest(a, EPOCH, &dg), 2);
  for (int i = 0; i < 9; i++)
    free(nd[i]);
  nn_mixdir_free(a);
  nn_mixdir_free(b);
  nn_mixdir_cfg_t c;
  nn_mixdir_cfg_default(&c, NET);
  c.max_mixes = 4;
  assert_int_equal(nn_mixdir_new(&a, &c), NN_OK);
  for (int i = 0; i < 6; i++)
    assert_int_equal(nn_mixdir_add(a, f->desc[i], f->len[i], EPOCH, NOW), i < 4 ? NN_MIXDIR_ADDED : NN_MIXDIR_FULL);
  nn_mixdir_free(a);
  /* a private address: refused unless the directory is a devnet's, where each address and port
   * is a group of its own */
  nn_mixdesc_t d;
  uint8_t *pd = malloc(NN_MIXDESC_MAX_LEN);
  size_t pl;
  memset(&d, 0, sizeof(d));
  d.network = NET;
  d.epoch = EPOCH;
  d.issued_at = NOW;
  d.n_addrs = 1;
  d.keys[0] = f->key[0][0].pk;
  d.keys[1] = f->key[0][1].pk;
  assert_int_equal(nn_addr_parse(&d.addrs[0], "127.0.0.1:9798"), NN_OK);
  assert_int_equal(nn_mixdesc_build(&d, f->id[0], NULL, pd, NN_MIXDESC_MAX_LEN, &pl), NN_OK);
  a = dir_new();
  assert_int_equal(nn_mixdir_add(a, pd, pl, EPOCH, NOW), NN_MIXDIR_ADDRESS);
  nn_mixdir_free(a);
  c.allow_private = 1;
  c.max_mixes = 1024;
  assert_int_equal(nn_mixdir_new(&a, &c), NN_OK);
  assert_int_equal(nn_mixdir_add(a, pd, pl, EPOCH, NOW), NN_MIXDIR_ADDED);
  for (int i = 1; i < 4; i++) { /* same host, other ports: groups of their own */
    d.addrs[0].port = (uint16_t)(9798 + i);
    d.keys[0] = f->key[i][0].pk;
    d.keys[1] = f->key[i][1].pk;
    assert_int_equal(nn_mixdesc_build(&d, f->id[i], NULL, pd, NN_MIXDESC_MAX_LEN, &pl), NN_OK);
    assert_int_equal(nn_mixdir_add(a, pd, pl, EPOCH, NOW), NN_MIXDIR_ADDED);
  }
  assert_int_equal(nn_mixdir_digest(a, EPOCH, &dg), 4);
  nn_mixdir_free(a);
  free(pd);
}

/* A mix that signs two descriptors for one epoch at the same second: every directory keeps the
 * same one, whichever came first. */
static void
test_equivocation(void **state)
{
  fixture_t *f = *state;
  nn_mixdesc_t d;
  memset(&d, 0, sizeof(d));
  d.network = NET;
  d.epoch = EPOCH;
  d.issued_at = NOW;
  d.n_addrs = 1;
  assert_int_equal(nn_addr_parse(&d.addrs[0], "100.20.30.40:9798"), NN_OK);
  uint8_t *one, *two = malloc(NN_MIXDESC_MAX_LEN);
  size_t l1, l2;
  assert_non_null(two);
  make_desc(f, 6, EPOCH, NOW, 106, &one, &l1);
  d.addrs[0].host[0] = 106;
  d.keys[0] = f->key[7][0].pk; /* other keys, same second */
  d.keys[1] = f->key[7][1].pk;
  assert_int_equal(nn_mixdesc_build(&d, f->id[6], NULL, two, NN_MIXDESC_MAX_LEN, &l2), NN_OK);
  nn_mixdir_t *a = dir_new(), *b = dir_new();
  nn_mixdir_add_t ra1 = nn_mixdir_add(a, one, l1, EPOCH, NOW), ra2 = nn_mixdir_add(a, two, l2, EPOCH, NOW);
  nn_mixdir_add_t rb1 = nn_mixdir_add(b, two, l2, EPOCH, NOW), rb2 = nn_mixdir_add(b, one, l1, EPOCH, NOW);
  assert_int_equal(ra1, NN_MIXDIR_ADDED);
  assert_int_equal(rb1, NN_MIXDIR_ADDED);
  assert_true((ra2 == NN_MIXDIR_REPLACED) != (rb2 == NN_MIXDIR_REPLACED)); /* one order replaces */
  nn_hash_t da, db;
  assert_int_equal(nn_mixdir_digest(a, EPOCH, &da), 1);
  assert_int_equal(nn_mixdir_digest(b, EPOCH, &db), 1);
  assert_memory_equal(da.b, db.b, 32);
  nn_mixdir_free(a);
  nn_mixdir_free(b);
  free(one);
  free(two);
}

/* Routes: one mix per layer, the layer derived; poor mixes skipped; a layer of poor mixes only
 * gives no route. */
static void
test_routes(void **state)
{
  fixture_t *f = *state;
  nn_mixdir_cfg_t c;
  nn_mixdir_t *a;
  nn_drbg_t dr;
  nn_drbg_init_u64(&dr, 5);
  nn_rng_t r = nn_drbg_rng(&dr);
  nn_mixdir_cfg_default(&c, NET);
  c.rng = &r;
  assert_int_equal(nn_mixdir_new(&a, &c), NN_OK);
  int per_layer[3] = { 0 };
  for (int i = 0; i < NM; i++) {
    assert_int_equal(nn_mixdir_add(a, f->desc[i], f->len[i], EPOCH, NOW), NN_MIXDIR_ADDED);
  }
  for (int i = 0; i < NM; i++) {
    unsigned l = nn_mixdir_layer(a, EPOCH, nn_identity_node_id(f->id[i]));
    assert_true(l < 3);
    per_layer[l]++;
  }
  for (int l = 0; l < 3; l++)
    assert_int_equal(per_layer[l], NM / 3); /* dealt round-robin: balanced */
  /* the order of the layer keys decides: the mix with the lowest key is in layer 0 */
  nn_hash_t lowest, lkey;
  int low = 0;
  nn_mix_layer_key(nn_identity_node_id(f->id[0]), EPOCH, &lowest);
  for (int i = 1; i < NM; i++) {
    nn_mix_layer_key(nn_identity_node_id(f->id[i]), EPOCH, &lkey);
    if (memcmp(lkey.b, lowest.b, 32) < 0) {
      lowest = lkey;
      low = i;
    }
  }
  assert_int_equal(nn_mixdir_layer(a, EPOCH, nn_identity_node_id(f->id[low])), 0);
  /* mix 0 is poor: 10 loops through it, 2 came back */
  for (int k = 0; k < 10; k++)
    nn_mixdir_report(a, nn_identity_node_id(f->id[0]), k < 2);
  assert_true(nn_mixdir_reliability(a, nn_identity_node_id(f->id[0])) < 0.6);
  int used[NM] = { 0 };
  for (int t = 0; t < 200; t++) {
    nn_sphinx_hop_t route[3];
    assert_int_equal(nn_mixdir_route(a, EPOCH, route, 3), NN_OK);
    for (int l = 0; l < 3; l++) {
      int who = -1;
      for (int i = 0; i < NM; i++)
        if (!memcmp(route[l].node.b, nn_identity_node_id(f->id[i])->b, 32))
          who = i;
      assert_true(who >= 0);
      assert_int_equal(nn_mixdir_layer(a, EPOCH, nn_identity_node_id(f->id[who])), l);
      assert_memory_equal(route[l].pk, &f->key[who][0].pk, sizeof(nn_hybrid_pk_t));
      used[who]++;
    }
  }
  assert_int_equal(used[0], 0);
  for (int i = 1; i < NM; i++)
    assert_true(used[i] > 0);
  /* every mix of mix 0's layer poor: all of them are used again (a client whose own link is
   * down would otherwise stop sending) */
  unsigned l0 = nn_mixdir_layer(a, EPOCH, nn_identity_node_id(f->id[0]));
  for (int i = 0; i < NM; i++)
    if (nn_mixdir_layer(a, EPOCH, nn_identity_node_id(f->id[i])) == l0)
      for (int k = 0; k < 10; k++)
        nn_mixdir_report(a, nn_identity_node_id(f->id[i]), 0);
  nn_sphinx_hop_t route[3];
  int back0 = 0;
  for (int t = 0; t < 200; t++) {
    assert_int_equal(nn_mixdir_route(a, EPOCH, route, 3), NN_OK);
    back0 += !memcmp(route[l0].node.b, nn_identity_node_id(f->id[0])->b, 32);
  }
  assert_true(back0 > 0);
  assert_int_equal(nn_mixdir_route(a, EPOCH, route, 2), NN_ERR_ARG);
  nn_mixdir_free(a);
}

/* A mix core publishes its keys in a descriptor; a client's route from the directory reaches it. */
static void
on_send(void *ctx, const nn_hash_t *next, const uint8_t *packet, size_t len)
{
  (void)packet, (void)len;
  memcpy(ctx, next->b, 32);
}

static void
on_deliver(void *ctx, const uint8_t *body, size_t len)
{
  (void)ctx, (void)body, (void)len;
}

static void
test_mix_publishes(void **state)
{
  fixture_t *f = *state;
  nn_mix_cfg_t mc;
  nn_mix_cfg_default(&mc);
  uint8_t next[32] = { 0 };
  nn_mix_io_t io = { on_send, on_deliver, NULL, next };
  nn_mix_t *mix;
  uint64_t now_ms = (uint64_t)EPOCH * mc.epoch_ms + 5000;
  assert_int_equal(nn_mix_new(&mix, &mc, &io, NULL, 0, now_ms), NN_OK);
  uint32_t e = nn_mix_epoch_at(mix, now_ms);
  nn_mixdesc_t d;
  memset(&d, 0, sizeof(d));
  d.network = NET;
  d.epoch = e;
  d.issued_at = NOW;
  d.n_addrs = 1;
  assert_int_equal(nn_addr_parse(&d.addrs[0], "[2001:db8::7]:9798"), NN_OK);
  d.keys[0] = *nn_mix_public_key(mix, e);
  d.keys[1] = *nn_mix_public_key(mix, e + 1);
  uint8_t *buf = malloc(NN_MIXDESC_MAX_LEN);
  size_t len;
  assert_non_null(buf);
  assert_int_equal(nn_mixdesc_build(&d, f->id[0], NULL, buf, NN_MIXDESC_MAX_LEN, &len), NN_OK);
  nn_mixdir_cfg_t c;
  nn_mixdir_t *dir;
  nn_mixdir_cfg_default(&c, NET);
  c.layers = 1;
  assert_int_equal(nn_mixdir_new(&dir, &c), NN_OK);
  assert_int_equal(nn_mixdir_add(dir, buf, len, e, NOW), NN_MIXDIR_ADDED);
  nn_sphinx_hop_t route[2];
  assert_int_equal(nn_mixdir_route(dir, e, route, 1), NN_OK);
  memset(route[1].node.b, 0xee, 32);
  route[1].pk = &f->key[1][0].pk;
  route[1].delay_ms = 0;
  nn_sym_t *sym;
  assert_int_equal(nn_sym_new(&sym), NN_OK);
  uint8_t *p = malloc(mc.geom.packet_len), *body = calloc(1, mc.geom.body_len);
  assert_non_null(p);
  assert_non_null(body);
  assert_int_equal(nn_sphinx_build(sym, &mc.geom, e, route, 2, body, NULL, p), NN_OK);
  nn_hash_t from = { { 1 } };
  assert_int_equal(nn_mix_recv(mix, &from, p, mc.geom.packet_len, now_ms), NN_MIX_ACCEPTED);
  nn_mix_tick(mix, now_ms);
  uint8_t want[32];
  memset(want, 0xee, 32);
  assert_memory_equal(next, want, 32);
  free(p);
  free(body);
  free(buf);
  nn_sym_free(sym);
  nn_mixdir_free(dir);
  nn_mix_free(mix);
}

/* docs/PROTOCOL.md 9.7: mix 0's descriptor (identity and keys from DRBG(700), signature
 * randomness from DRBG(900), epoch 490000, issued 1765000000, address 100.20.30.40:9798). */
static void
test_vectors(void **state)
{
  fixture_t *f = *state;
  FILE *fp = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "r");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long dl = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *doc = malloc((size_t)dl + 1);
  assert_non_null(doc);
  assert_int_equal(fread(doc, 1, (size_t)dl, fp), (size_t)dl);
  doc[dl] = 0;
  fclose(fp);
  const char *at = strstr(doc, "### 9.7");
  assert_non_null(at);
  nn_mixdesc_t d;
  assert_int_equal(nn_mixdesc_parse(&d, f->desc[0], f->len[0], NET, NOW), NN_MIXDESC_OK);
  char hex[65];
  int missing = 0;
  const struct {
    const char *name;
    const uint8_t *b;
  } v[] = { { "node id", d.node_id.b }, { "SHA3-256(descriptor)", d.hash.b } };
  for (size_t i = 0; i < 2; i++) {
    nn_hex_encode(hex, v[i].b, 32);
    if (!strstr(at, hex)) {
      fprintf(stderr, "PROTOCOL.md 9.7 does not quote %s = %s\n", v[i].name, hex);
      missing++;
    }
  }
  char layer[64];
  snprintf(layer, sizeof(layer), "length                   = %zu bytes", f->len[0]);
  if (!strstr(at, layer)) {
    fprintf(stderr, "PROTOCOL.md 9.7 does not say %s\n", layer);
    missing++;
  }
  nn_hash_t lk;
  char lkh[65];
  nn_mix_layer_key(&d.node_id, EPOCH, &lk);
  nn_hex_encode(lkh, lk.b, 32);
  if (!strstr(at, lkh)) {
    fprintf(stderr, "PROTOCOL.md 9.7 does not quote layer key = %s\n", lkh);
    missing++;
  }
  assert_int_equal(missing, 0);
  free(doc);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_descriptor),   cmocka_unit_test(test_directory), cmocka_unit_test(test_group_cap),
    cmocka_unit_test(test_equivocation), cmocka_unit_test(test_routes),    cmocka_unit_test(test_mix_publishes),
    cmocka_unit_test(test_vectors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
