/*
 * Signed peer records (src/dht/record.h, docs/PROTOCOL.md 6.2): round trips for every address
 * type and count, forgeries, replays, clocks, networks, every truncation, bit flips across every
 * field, the caps, and the test vector (identity seed 5e^32, signing rnd from DRBG(7)), which is
 * also re-read by the document's offsets rather than by the decoder.
 * NEPNET_PRINT_VECTORS=1 prints the vector instead of checking it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nepnet/channel.h"
#include "crypto/identity.h"
#include "crypto/mldsa.h"
#include "crypto/sha3.h"
#include "dht/record.h"
#include "lib/hex.h"
#include "vectors.h"

#define T0 1767225600ull /* 2026-01-01T00:00:00Z */
#define DAY 86400ull

typedef struct fixture_t {
  nn_identity_t *a, *b; /* a: seed 5e^32 (the vector's identity), b: seed 6f^32 */
  char *doc;            /* docs/PROTOCOL.md */
  int doc_has_section;  /* it has section 6 (peer records): then it must quote the vector */
} fixture_t;

static nn_identity_t *
identity(uint8_t fill)
{
  nn_mldsa_seed_t seed;
  nn_identity_t *id = NULL;
  memset(seed.b, fill, sizeof(seed.b));
  assert_int_equal(nn_identity_from_seed(&id, &seed), NN_OK);
  return id;
}

/* An address of \a type whose host and port depend on \a i (distinct for distinct i). */
static nn_addr_t
addr_of(uint8_t type, unsigned i)
{
  nn_addr_t a;
  memset(&a, 0, sizeof(a));
  a.type = type;
  for (size_t k = 0; k < nn_addr_host_len(type); k++)
    a.host[k] = (uint8_t)(0x20 + 7 * i + k);
  a.port = (uint16_t)(9800 + i);
  return a;
}

/* A record of node \a id with \a n addresses of \a type (type 0: the four types in turn). */
static void
make(nn_peer_record_t *rec, const nn_identity_t *id, uint64_t seq, unsigned n, uint8_t type, uint64_t drbg)
{
  static const uint8_t types[4] = { NN_ADDR_IPV4, NN_ADDR_IPV6, NN_ADDR_ONION, NN_ADDR_I2P };
  nn_drbg_t d;
  nn_drbg_init_u64(&d, drbg);
  nn_rng_t rng = nn_drbg_rng(&d);
  nn_peer_record_init(rec);
  rec->network = NN_NET_REGTEST;
  rec->seq = seq;
  rec->issued_at = T0;
  rec->expires_at = T0 + DAY;
  rec->flags = NN_PEER_RECORD_F_INBOUND;
  rec->n_addrs = (uint8_t)n;
  for (unsigned i = 0; i < n; i++)
    rec->addrs[i] = addr_of(type ? type : types[i % 4], i);
  assert_int_equal(nn_peer_record_sign(rec, id, &rng), NN_OK);
}

static size_t
encode(const nn_peer_record_t *rec, uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64])
{
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, NN_PEER_RECORD_MAX_LEN + 64);
  assert_int_equal(nn_peer_record_encode(rec, &w), NN_OK);
  assert_int_equal(w.len, nn_peer_record_encoded_len(rec));
  return w.len;
}

static nn_peer_record_status_t
verify_at(const nn_peer_record_t *rec, uint64_t now, nn_err_t want_err)
{
  nn_peer_record_status_t why = (nn_peer_record_status_t)-1;
  assert_int_equal(nn_peer_record_verify(rec, NN_NET_REGTEST, now, &why), want_err);
  return why;
}

static void
assert_zeroed(const nn_peer_record_t *rec)
{
  nn_peer_record_t z;
  memset(&z, 0, sizeof(z));
  assert_memory_equal(rec, &z, sizeof(z));
}

/* ---- round trips ---- */

static void
test_roundtrip_all_types_and_counts(void **state)
{
  fixture_t *fx = *state;
  static const uint8_t types[5] = { NN_ADDR_IPV4, NN_ADDR_IPV6, NN_ADDR_ONION, NN_ADDR_I2P, 0 };
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64], again[NN_PEER_RECORD_MAX_LEN + 64];
  nn_peer_record_t rec, back;

  for (size_t t = 0; t < 5; t++) {
    for (unsigned n = 1; n <= NN_PEER_RECORD_MAX_ADDRS; n++) {
      make(&rec, fx->a, n, n, types[t], 1000 + 10 * t + n);
      size_t len = encode(&rec, buf);
      size_t want = NN_PEER_RECORD_OFF_ADDRS + NN_MLDSA_SIG_LEN;
      for (unsigned i = 0; i < n; i++)
        want += 3 + nn_addr_host_len(rec.addrs[i].type);
      assert_int_equal(len, want);
      assert_in_range(len, NN_PEER_RECORD_MIN_LEN, nn_peer_record_max_len());
      assert_int_equal(nn_peer_record_decode(buf, len, &back), NN_OK);
      /* every field survives */
      assert_int_equal(back.version, 1);
      assert_int_equal(back.network, NN_NET_REGTEST);
      assert_memory_equal(back.node_id.b, nn_identity_node_id(fx->a)->b, NN_NODE_ID_LEN);
      assert_memory_equal(back.pk.b, nn_identity_public_key(fx->a)->b, NN_MLDSA_PK_LEN);
      assert_true(back.seq == n && back.issued_at == T0 && back.expires_at == T0 + DAY);
      assert_int_equal(back.flags, NN_PEER_RECORD_F_INBOUND);
      assert_int_equal(back.chan_version, 1);
      assert_int_equal(back.max_message, NN_CHAN_DEFAULT_MAX_MESSAGE);
      assert_int_equal(back.n_addrs, n);
      for (unsigned i = 0; i < n; i++)
        assert_true(nn_addr_equal(&back.addrs[i], &rec.addrs[i]));
      assert_memory_equal(back.sig.b, rec.sig.b, NN_MLDSA_SIG_LEN);
      /* and re-encodes to the same bytes */
      assert_int_equal(encode(&back, again), len);
      assert_memory_equal(again, buf, len);
      assert_int_equal(verify_at(&back, T0 + 1, NN_OK), NN_PEER_RECORD_OK);
    }
  }
  /* the bounds are reached */
  make(&rec, fx->a, 1, 1, NN_ADDR_IPV4, 1);
  assert_int_equal(nn_peer_record_encoded_len(&rec), NN_PEER_RECORD_MIN_LEN);
  make(&rec, fx->a, 1, 8, NN_ADDR_ONION, 1);
  assert_int_equal(nn_peer_record_encoded_len(&rec), NN_PEER_RECORD_MAX_LEN);
  assert_int_equal(NN_PEER_RECORD_MIN_LEN, 7295);
  assert_int_equal(NN_PEER_RECORD_MAX_LEN, 7568);
}

/* ---- forgeries ---- */

static void
test_forged(void **state)
{
  fixture_t *fx = *state;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64];
  nn_peer_record_t good, rec, other;
  make(&good, fx->a, 5, 2, 0, 1);
  make(&other, fx->b, 5, 2, 0, 2);
  size_t body = encode(&good, buf) - NN_MLDSA_SIG_LEN;
  const char *ctx = NN_PEER_RECORD_CONTEXT;

  /* a signature by another key over exactly these bytes */
  rec = good;
  assert_int_equal(
    nn_mldsa_sign_deterministic(&rec.sig, nn_identity_key(fx->b), (const uint8_t *)ctx, strlen(ctx), buf, body), NN_OK);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* the right key, but the signature made for another purpose (context string) */
  rec = good;
  assert_int_equal(nn_mldsa_sign_deterministic(&rec.sig, nn_identity_key(fx->a), (const uint8_t *)"nepnet/v1 responder",
                                               19, buf, body),
                   NN_OK);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* the right key and context: the record verifies (the two above failed for their reason only) */
  rec = good;
  assert_int_equal(
    nn_mldsa_sign_deterministic(&rec.sig, nn_identity_key(fx->a), (const uint8_t *)ctx, strlen(ctx), buf, body), NN_OK);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_OK), NN_PEER_RECORD_OK);
  /* another node's key and id put in A's signed record (consistent id, wrong signer) */
  rec = good;
  rec.pk = other.pk;
  rec.node_id = other.node_id;
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* only the key swapped: the id no longer matches it */
  rec = good;
  rec.pk = other.pk;
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* only the id changed */
  rec = good;
  rec.node_id.b[31] ^= 1;
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* A claims B's node id (its place in the DHT) and signs that with its own key: the signature
   * is valid, the id is not A's */
  rec = good;
  rec.node_id = other.node_id;
  uint8_t claim[NN_PEER_RECORD_MAX_LEN + 64];
  assert_int_equal(encode(&rec, claim), body + NN_MLDSA_SIG_LEN);
  assert_int_equal(
    nn_mldsa_sign_deterministic(&rec.sig, nn_identity_key(fx->a), (const uint8_t *)ctx, strlen(ctx), claim, body),
    NN_OK);
  assert_int_equal(nn_mldsa_verify(&rec.pk, (const uint8_t *)ctx, strlen(ctx), claim, body, &rec.sig), NN_OK);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* B's valid signature transplanted onto A's record */
  rec = good;
  rec.sig = other.sig;
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* A's signature of seq 5 on a seq 6 record */
  rec = good;
  rec.seq = 6;
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* an all-zero signature and an all-zero key */
  rec = good;
  memset(rec.sig.b, 0, NN_MLDSA_SIG_LEN);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  rec = good;
  memset(rec.pk.b, 0, NN_MLDSA_PK_LEN);
  assert_int_equal(nn_node_id_from_public_key(&rec.node_id, &rec.pk), NN_OK);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);
  /* the caller may pass why = NULL */
  assert_int_equal(nn_peer_record_verify(&rec, NN_NET_REGTEST, T0 + 1, NULL), NN_ERR_VERIFY);
  assert_int_equal(nn_peer_record_verify(&good, NN_NET_REGTEST, T0 + 1, NULL), NN_OK);
}

/* ---- replacement ---- */

static void
test_newer(void **state)
{
  fixture_t *fx = *state;
  nn_peer_record_t s1, s2, x, y, other;
  make(&s1, fx->a, 1, 2, 0, 1);
  make(&s2, fx->a, 2, 2, 0, 2);
  make(&other, fx->b, 9, 2, 0, 3);

  /* a replayed older record is still valid, but never replaces the newer one */
  assert_int_equal(verify_at(&s1, T0 + 1, NN_OK), NN_PEER_RECORD_OK);
  assert_int_equal(nn_peer_record_newer(&s2, &s1), 1);
  assert_int_equal(nn_peer_record_newer(&s1, &s2), 0);
  /* seq decides even against a later expiry */
  x = s1;
  x.expires_at = T0 + 2 * DAY;
  assert_int_equal(nn_peer_record_newer(&x, &s2), 0);
  /* equal seq: the later expires_at wins */
  make(&x, fx->a, 7, 2, 0, 4);
  y = x;
  y.expires_at = T0 + DAY + 1;
  y.addrs[0].port = 1;
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 5);
  nn_rng_t rng = nn_drbg_rng(&d);
  assert_int_equal(nn_peer_record_sign(&y, fx->a, &rng), NN_OK);
  assert_int_equal(nn_peer_record_newer(&y, &x), 1);
  assert_int_equal(nn_peer_record_newer(&x, &y), 0);
  /* equal seq and expiry: the larger signature wins, in exactly one direction */
  y = x;
  y.flags = NN_PEER_RECORD_F_RELAY;
  assert_int_equal(nn_peer_record_sign(&y, fx->a, &rng), NN_OK);
  int c = memcmp(y.sig.b, x.sig.b, NN_MLDSA_SIG_LEN);
  assert_true(c != 0);
  assert_int_equal(nn_peer_record_newer(&y, &x), c > 0);
  assert_int_equal(nn_peer_record_newer(&x, &y), c < 0);
  /* the same content signed twice (hedged signing): still a total order */
  y = x;
  assert_int_equal(nn_peer_record_sign(&y, fx->a, &rng), NN_OK);
  assert_true(memcmp(y.sig.b, x.sig.b, NN_MLDSA_SIG_LEN) != 0);
  assert_int_equal(nn_peer_record_newer(&y, &x) + nn_peer_record_newer(&x, &y), 1);
  /* identical records, and records of different nodes, never replace each other */
  assert_int_equal(nn_peer_record_newer(&x, &x), 0);
  assert_int_equal(nn_peer_record_newer(&other, &s1), 0);
  assert_int_equal(nn_peer_record_newer(&s1, &other), 0);
  /* same signature over different bytes (not a valid pair, but the order stays total) */
  y = x;
  y.issued_at = x.issued_at + 1;
  assert_int_equal(nn_peer_record_newer(&y, &x), 1);
  assert_int_equal(nn_peer_record_newer(&x, &y), 0);
}

/* ---- clocks and networks ---- */

static void
test_time_and_network(void **state)
{
  fixture_t *fx = *state;
  nn_peer_record_t rec, forged;
  make(&rec, fx->a, 1, 1, NN_ADDR_IPV4, 1);

  assert_int_equal(verify_at(&rec, T0, NN_OK), NN_PEER_RECORD_OK);
  assert_int_equal(verify_at(&rec, T0 + DAY - 1, NN_OK), NN_PEER_RECORD_OK);
  assert_int_equal(verify_at(&rec, T0 + DAY, NN_ERR_VERIFY), NN_PEER_RECORD_EXPIRED);
  assert_int_equal(verify_at(&rec, UINT64_MAX, NN_ERR_VERIFY), NN_PEER_RECORD_EXPIRED);
  /* up to 10 minutes of clock skew are tolerated, not more */
  assert_int_equal(verify_at(&rec, T0 - 600, NN_OK), NN_PEER_RECORD_OK);
  assert_int_equal(verify_at(&rec, T0 - 601, NN_ERR_VERIFY), NN_PEER_RECORD_FUTURE);
  assert_int_equal(verify_at(&rec, 0, NN_ERR_VERIFY), NN_PEER_RECORD_FUTURE);
  /* the cheap checks come first: an expired forgery is reported as expired, not forged */
  forged = rec;
  forged.sig.b[100] ^= 1;
  assert_int_equal(verify_at(&forged, T0 + DAY, NN_ERR_VERIFY), NN_PEER_RECORD_EXPIRED);
  assert_int_equal(verify_at(&forged, T0 - 601, NN_ERR_VERIFY), NN_PEER_RECORD_FUTURE);
  assert_int_equal(verify_at(&forged, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_FORGED);

  /* another network */
  nn_peer_record_status_t why;
  assert_int_equal(nn_peer_record_verify(&rec, NN_NET_MAINNET, T0 + 1, &why), NN_ERR_VERIFY);
  assert_int_equal(why, NN_PEER_RECORD_WRONG_NETWORK);
  assert_int_equal(nn_peer_record_verify(&rec, NN_NET_TESTNET, T0 + 1, &why), NN_ERR_VERIFY);
  assert_int_equal(why, NN_PEER_RECORD_WRONG_NETWORK);
  /* relabelling the network breaks the signature */
  forged = rec;
  forged.network = NN_NET_MAINNET;
  assert_int_equal(nn_peer_record_verify(&forged, NN_NET_MAINNET, T0 + 1, &why), NN_ERR_VERIFY);
  assert_int_equal(why, NN_PEER_RECORD_FORGED);
  /* a record signed for mainnet verifies on mainnet only */
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 9);
  nn_rng_t rng = nn_drbg_rng(&d);
  rec.network = NN_NET_MAINNET;
  assert_int_equal(nn_peer_record_sign(&rec, fx->a, &rng), NN_OK);
  assert_int_equal(nn_peer_record_verify(&rec, NN_NET_MAINNET, T0 + 1, &why), NN_OK);
  assert_int_equal(why, NN_PEER_RECORD_OK);
  assert_int_equal(verify_at(&rec, T0 + 1, NN_ERR_VERIFY), NN_PEER_RECORD_WRONG_NETWORK);
  /* a hand-built malformed record is reported as such */
  rec.n_addrs = 0;
  assert_int_equal(nn_peer_record_verify(&rec, NN_NET_MAINNET, T0 + 1, &why), NN_ERR_FORMAT);
  assert_int_equal(why, NN_PEER_RECORD_MALFORMED);
  for (int s = NN_PEER_RECORD_OK; s <= NN_PEER_RECORD_INTERNAL; s++)
    assert_non_null(nn_peer_record_status_str((nn_peer_record_status_t)s));
}

/* ---- structure: truncation, trailing bytes, bit flips ---- */

static void
test_truncation_and_trailing(void **state)
{
  fixture_t *fx = *state;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64];
  nn_peer_record_t rec, back;

  for (int variant = 0; variant < 2; variant++) {
    make(&rec, fx->a, 1, variant ? 8 : 2, 0, 1);
    size_t len = encode(&rec, buf);
    for (size_t cut = 0; cut < len; cut++) {
      memset(&back, 0xa5, sizeof(back));
      assert_int_equal(nn_peer_record_decode(buf, cut, &back), NN_ERR_TRUNCATED);
      if (cut % 97 == 0)
        assert_zeroed(&back);
    }
    assert_int_equal(nn_peer_record_decode(NULL, 0, &back), NN_ERR_TRUNCATED);
    for (unsigned extra = 0; extra < 256; extra += 85) {
      buf[len] = (uint8_t)extra;
      memset(&back, 0xa5, sizeof(back));
      assert_int_equal(nn_peer_record_decode(buf, len + 1, &back), NN_ERR_TRAILING);
      assert_zeroed(&back);
    }
    assert_int_equal(nn_peer_record_decode(buf, len + 64, &back), NN_ERR_TRAILING);
    assert_int_equal(nn_peer_record_decode(buf, len, &back), NN_OK);
  }
}

/* Field boundaries of a two-address (IPv4 + IPv6) encoding. */
typedef struct field_t {
  const char *name;
  size_t off, len;
} field_t;

static void
test_bit_flips_never_verify(void **state)
{
  fixture_t *fx = *state;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64];
  nn_peer_record_t rec, back;
  make(&rec, fx->a, 3, 2, 0, 1); /* IPv4 then IPv6 */
  size_t len = encode(&rec, buf);
  const size_t a = NN_PEER_RECORD_OFF_ADDRS;
  const field_t fields[] = {
    { "version", 0, 1 },         { "network", 1, 4 },
    { "node_id", 5, 32 },        { "pk", 37, 2592 },
    { "seq", 2629, 8 },          { "issued_at", 2637, 8 },
    { "expires_at", 2645, 8 },   { "flags", 2653, 2 },
    { "chan_version", 2655, 1 }, { "max_message", 2656, 4 },
    { "addr_count", 2660, 1 },   { "addr0", a, 7 },
    { "addr1", a + 7, 19 },      { "sig", a + 26, NN_MLDSA_SIG_LEN },
  };
  assert_int_equal(fields[13].off + fields[13].len, len);
  size_t forged = 0, refused_decode = 0, total = 0;

  for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
    /* short fields: every bit; the key and the signature: sampled bytes, rotating bits, and both
     * ends */
    size_t step = fields[f].len > 64 ? 17 : 1;
    for (size_t i = 0; i < fields[f].len; i += step) {
      size_t pos = fields[f].off + i;
      unsigned b0 = step == 1 ? 0 : (unsigned)(i % 8), b1 = step == 1 ? 8 : b0 + 1;
      if (fields[f].len > 64 && i + step >= fields[f].len)
        pos = fields[f].off + fields[f].len - 1; /* the last byte too */
      for (unsigned bit = b0; bit < b1; bit++) {
        buf[pos] ^= (uint8_t)(1u << bit);
        nn_peer_record_status_t why = NN_PEER_RECORD_OK;
        total++;
        if (nn_peer_record_decode(buf, len, &back) != NN_OK) {
          refused_decode++;
        } else {
          nn_err_t err = nn_peer_record_verify(&back, NN_NET_REGTEST, T0 + 1, &why);
          if (err == NN_OK) {
            fprintf(stderr, "flip of bit %u at %zu (%s) verified\n", bit, pos, fields[f].name);
            fail();
          }
          assert_int_not_equal(why, NN_PEER_RECORD_OK);
          forged += why == NN_PEER_RECORD_FORGED;
        }
        buf[pos] ^= (uint8_t)(1u << bit);
      }
    }
  }
  /* the unflipped record still verifies, and both kinds of refusal were exercised */
  assert_int_equal(nn_peer_record_decode(buf, len, &back), NN_OK);
  assert_int_equal(verify_at(&back, T0 + 1, NN_OK), NN_PEER_RECORD_OK);
  assert_true(refused_decode > 0 && forged > 100);
  assert_true(total > 1000);
}

/* ---- caps and reserved values ---- */

/* Re-read buf as a record after an edit; returns decode's verdict. */
static nn_err_t
decode_edit(const uint8_t *buf, size_t len)
{
  nn_peer_record_t back;
  nn_err_t err = nn_peer_record_decode(buf, len, &back);
  if (err)
    assert_zeroed(&back);
  return err;
}

static void
test_address_count(void **state)
{
  fixture_t *fx = *state;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64], ed[NN_PEER_RECORD_MAX_LEN + 64];
  nn_peer_record_t rec;
  const size_t c = NN_PEER_RECORD_OFF_ADDRS - 1; /* the count byte */

  /* count 0: no addresses at all */
  make(&rec, fx->a, 1, 1, NN_ADDR_IPV4, 1);
  size_t len = encode(&rec, buf);
  memcpy(ed, buf, c);
  ed[c] = 0;
  memcpy(ed + c + 1, buf + c + 1 + 7, NN_MLDSA_SIG_LEN);
  assert_int_equal(decode_edit(ed, c + 1 + NN_MLDSA_SIG_LEN), NN_ERR_FORMAT);
  ed[c] = 1; /* the same bytes with count 1 read the signature as an address: still refused */
  assert_int_not_equal(decode_edit(ed, c + 1 + NN_MLDSA_SIG_LEN), NN_OK);
  /* count 0 in an otherwise untouched record */
  memcpy(ed, buf, len);
  ed[c] = 0;
  assert_int_equal(decode_edit(ed, len), NN_ERR_FORMAT);

  /* count 9: eight addresses plus a ninth, distinct one */
  make(&rec, fx->a, 1, 8, NN_ADDR_IPV4, 1);
  len = encode(&rec, buf);
  size_t body = len - NN_MLDSA_SIG_LEN;
  memcpy(ed, buf, body);
  ed[c] = 9;
  nn_wire_writer_t w;
  nn_addr_t ninth = addr_of(NN_ADDR_IPV4, 8);
  nn_wire_writer_init_fixed(&w, ed + body, 7);
  assert_int_equal(nn_addr_put(&w, &ninth), NN_OK);
  memcpy(ed + body + 7, buf + body, NN_MLDSA_SIG_LEN);
  assert_int_equal(decode_edit(ed, len + 7), NN_ERR_FORMAT);
  for (unsigned n = 9; n < 256; n += 41) {
    ed[c] = (uint8_t)n;
    assert_int_equal(decode_edit(ed, len + 7), NN_ERR_FORMAT);
  }

  /* neither can be signed or encoded */
  nn_peer_record_t bad = rec;
  uint8_t out[NN_PEER_RECORD_MAX_LEN];
  nn_wire_writer_init_fixed(&w, out, sizeof(out));
  bad.n_addrs = 0;
  assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), NN_ERR_FORMAT);
  assert_int_equal(nn_peer_record_encode(&bad, &w), NN_ERR_FORMAT);
  bad.n_addrs = 9;
  assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), NN_ERR_FORMAT);
  assert_int_equal(nn_peer_record_encode(&bad, &w), NN_ERR_FORMAT);
  assert_int_equal(w.len, 0);
}

static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void
test_reserved_values(void **state)
{
  fixture_t *fx = *state;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64], ed[NN_PEER_RECORD_MAX_LEN + 64];
  nn_peer_record_t rec, bad;
  make(&rec, fx->a, 1, 2, 0, 1);
  size_t len = encode(&rec, buf);
  const size_t a = NN_PEER_RECORD_OFF_ADDRS;

  /* flags: bits 0 and 1 are defined, every other bit is refused */
  for (unsigned bit = 0; bit < 16; bit++) {
    memcpy(ed, buf, len);
    put_be(ed + 2653, 1u << bit, 2);
    assert_int_equal(decode_edit(ed, len), bit < 2 ? NN_OK : NN_ERR_FORMAT);
    bad = rec;
    bad.flags = (uint16_t)(1u << bit);
    assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), bit < 2 ? NN_OK : NN_ERR_FORMAT);
  }

  /* lifetime: 1 s .. 48 h after issued_at */
  static const struct {
    int64_t life;
    nn_err_t want;
  } lives[] = {
    { 172800, NN_OK },    { 172801, NN_ERR_FORMAT }, { 1, NN_OK },
    { 0, NN_ERR_FORMAT }, { -1, NN_ERR_FORMAT },     { (int64_t)1 << 40, NN_ERR_FORMAT },
  };
  for (size_t i = 0; i < sizeof(lives) / sizeof(lives[0]); i++) {
    memcpy(ed, buf, len);
    put_be(ed + 2645, T0 + (uint64_t)lives[i].life, 8);
    assert_int_equal(decode_edit(ed, len), lives[i].want);
    bad = rec;
    bad.expires_at = T0 + (uint64_t)lives[i].life;
    assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), lives[i].want);
    if (!lives[i].want)
      assert_int_equal(verify_at(&bad, T0, NN_OK), NN_PEER_RECORD_OK);
  }
  memcpy(ed, buf, len); /* issued_at near the top of the range cannot wrap the check */
  put_be(ed + 2637, UINT64_MAX, 8);
  put_be(ed + 2645, 5, 8);
  assert_int_equal(decode_edit(ed, len), NN_ERR_FORMAT);

  /* versions */
  memcpy(ed, buf, len);
  ed[0] = 2;
  assert_int_equal(decode_edit(ed, len), NN_ERR_VERSION);
  assert_int_equal(decode_edit(ed, 1), NN_ERR_VERSION); /* judged before the length */
  ed[0] = 0;
  assert_int_equal(decode_edit(ed, len), NN_ERR_VERSION);
  memcpy(ed, buf, len);
  ed[2655] = 2;
  assert_int_equal(decode_edit(ed, len), NN_ERR_VERSION);

  /* max_message below 64 KiB */
  memcpy(ed, buf, len);
  put_be(ed + 2656, 65535, 4);
  assert_int_equal(decode_edit(ed, len), NN_ERR_FORMAT);
  put_be(ed + 2656, 65536, 4);
  assert_int_equal(decode_edit(ed, len), NN_OK);

  /* addresses: unknown type, port 0, duplicates */
  for (unsigned t = 0; t < 256; t++) {
    memcpy(ed, buf, len);
    ed[a] = (uint8_t)t;
    nn_err_t err = decode_edit(ed, len);
    if (t == NN_ADDR_IPV4)
      assert_int_equal(err, NN_OK);
    else if (!nn_addr_host_len((uint8_t)t))
      assert_int_equal(err, NN_ERR_FORMAT);
    else
      assert_int_not_equal(err, NN_OK); /* a known type misframes what follows */
  }
  memcpy(ed, buf, len);
  put_be(ed + a + 5, 0, 2);
  assert_int_equal(decode_edit(ed, len), NN_ERR_FORMAT);
  bad = rec;
  bad.addrs[1] = bad.addrs[0];
  assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), NN_ERR_FORMAT);
  bad.addrs[1].port++; /* same host, another port: allowed */
  assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), NN_OK);
  size_t blen = encode(&bad, ed);
  assert_int_equal(decode_edit(ed, blen), NN_OK);
  ed[a + 13]--; /* the second port back to the first's: a duplicate on the wire */
  assert_int_equal(decode_edit(ed, blen), NN_ERR_FORMAT);
  bad = rec;
  bad.addrs[0].host[4] = 1; /* junk past an IPv4 host in a hand-built record */
  assert_int_equal(nn_peer_record_check(&bad), NN_ERR_FORMAT);
  bad = rec;
  bad.version = 2;
  assert_int_equal(nn_peer_record_sign(&bad, fx->a, NULL), NN_ERR_VERSION);
}

static void
test_encode_writers(void **state)
{
  fixture_t *fx = *state;
  nn_peer_record_t rec;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64], small[NN_PEER_RECORD_MIN_LEN];
  nn_wire_writer_t w;
  make(&rec, fx->a, 1, 2, 0, 1);
  size_t len = encode(&rec, buf);

  /* a fixed writer one byte short: nothing written, sticky NOSPACE */
  nn_wire_writer_init_fixed(&w, small, len - 1 < sizeof(small) ? len - 1 : sizeof(small));
  assert_int_equal(nn_peer_record_encode(&rec, &w), NN_ERR_NOSPACE);
  assert_int_equal(w.len, 0);
  assert_int_equal(w.err, NN_ERR_NOSPACE);
  /* a growable writer capped at the maximum, after other bytes */
  nn_wire_writer_init_dynamic(&w, 3 + nn_peer_record_max_len());
  assert_int_equal(nn_wire_put_u24(&w, 0xabcdef), NN_OK);
  assert_int_equal(nn_peer_record_encode(&rec, &w), NN_OK);
  assert_int_equal(w.len, 3 + len);
  assert_memory_equal(w.buf + 3, buf, len);
  nn_wire_writer_free(&w);
  assert_int_equal(nn_peer_record_encode(NULL, &w), NN_ERR_ARG);
  assert_int_equal(nn_peer_record_encode(&rec, NULL), NN_ERR_ARG);
  assert_int_equal(nn_peer_record_decode(buf, len, NULL), NN_ERR_ARG);
  assert_int_equal(nn_peer_record_sign(NULL, fx->a, NULL), NN_ERR_ARG);
  assert_int_equal(nn_peer_record_sign(&rec, NULL, NULL), NN_ERR_ARG);
}

/* ---- the test vector (PROTOCOL.md 6.4) ---- */

static void
expect(const fixture_t *fx, const vec_block_t *b, const char *name, const uint8_t *got, size_t n)
{
  char *hex = malloc(2 * n + 1);
  assert_non_null(hex);
  nn_hex_encode(hex, got, n);
  if (getenv("NEPNET_PRINT_VECTORS")) {
    printf("%s = %s\n", name, hex);
    free(hex);
    return;
  }
  const vec_field_t *f = vec_get(b, name);
  assert_int_equal(f->len, n);
  assert_memory_equal(f->data, got, n);
  /* Short values are quoted in the document; the whole record lives in the vector file. */
  if (n <= 64 && fx->doc_has_section && !strstr(fx->doc, hex)) {
    fprintf(stderr, "docs/PROTOCOL.md does not quote %s = %s\n", name, hex);
    fail();
  }
  free(hex);
}

static void
test_vector(void **state)
{
  fixture_t *fx = *state;
  int print = getenv("NEPNET_PRINT_VECTORS") != NULL;
  vec_file_t *v = print ? NULL : vec_load("nepnet_peer_record.txt");
  const vec_block_t *b = v ? &v->blocks[0] : NULL;
  uint8_t buf[NN_PEER_RECORD_MAX_LEN + 64], rnd[32];
  nn_peer_record_t rec, back;
  nn_hash_t h;

  /* identity 5e^32; rnd = the first 32-byte draw of DRBG(7); network regtest; seq 1; issued
   * 2026-01-01T00:00:00Z for 24 h; flags "accepts inbound"; channel v1, max_message 8 MiB;
   * 203.0.113.7:9800 and [2001:db8::7]:9800 */
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 7);
  nn_rng_t rng = nn_drbg_rng(&d);
  nn_peer_record_init(&rec);
  rec.network = NN_NET_REGTEST;
  rec.seq = 1;
  rec.issued_at = 1767225600;
  rec.expires_at = 1767225600 + 86400;
  rec.flags = NN_PEER_RECORD_F_INBOUND;
  rec.n_addrs = 2;
  assert_int_equal(nn_addr_parse(&rec.addrs[0], "203.0.113.7:9800"), NN_OK);
  assert_int_equal(nn_addr_parse(&rec.addrs[1], "[2001:db8::7]:9800"), NN_OK);
  assert_int_equal(nn_peer_record_sign(&rec, fx->a, &rng), NN_OK);
  size_t len = encode(&rec, buf);
  assert_int_equal(len, 7314);

  nn_drbg_init_u64(&d, 7);
  assert_int_equal(nn_rng_fill(&rng, rnd, 32), NN_OK);
  expect(fx, b, "signing_rnd", rnd, 32);
  expect(fx, b, "node_id", nn_identity_node_id(fx->a)->b, 32);
  assert_int_equal(nn_sha3_256(&h, rec.pk.b, NN_MLDSA_PK_LEN), NN_OK); /* = the node id */
  assert_memory_equal(h.b, nn_identity_node_id(fx->a)->b, 32);
  expect(fx, b, "head", buf, NN_PEER_RECORD_OFF_PK);
  expect(fx, b, "fields", buf + NN_PEER_RECORD_OFF_SEQ, len - NN_MLDSA_SIG_LEN - NN_PEER_RECORD_OFF_SEQ);
  assert_int_equal(nn_sha3_256(&h, buf + len - NN_MLDSA_SIG_LEN, NN_MLDSA_SIG_LEN), NN_OK);
  expect(fx, b, "sig_sha3", h.b, 32);
  assert_int_equal(nn_sha3_256(&h, buf, len), NN_OK);
  expect(fx, b, "record_sha3", h.b, 32);
  expect(fx, b, "record", buf, len);
  if (print)
    return;

  /* The stored bytes, read by the document's offsets rather than by the decoder. */
  const vec_field_t *f = vec_get(b, "record");
  const uint8_t *p = f->data;
  assert_int_equal(f->len, 7314);
  assert_int_equal(p[0], 1);
  assert_int_equal(nn_be32_get(p + 1), NN_NET_REGTEST);
  assert_int_equal(nn_sha3_256(&h, p + 37, 2592), NN_OK);
  assert_memory_equal(h.b, p + 5, 32);
  assert_true(nn_be64_get(p + 2629) == 1 && nn_be64_get(p + 2637) == 1767225600 &&
              nn_be64_get(p + 2645) == 1767225600 + 86400);
  assert_int_equal(nn_be16_get(p + 2653), 2);
  assert_int_equal(p[2655], 1);
  assert_int_equal(nn_be32_get(p + 2656), 8u << 20);
  assert_int_equal(p[2660], 2);
  static const uint8_t addrs[26] = { 4, 203, 0, 113, 7, 0x26, 0x48, 6, 0x20, 0x01, 0x0d, 0xb8, 0,
                                     0, 0,   0, 0,   0, 0,    0,    0, 0,    0,    7,    0x26, 0x48 };
  assert_memory_equal(p + 2661, addrs, sizeof(addrs));
  const char *ctx = NN_PEER_RECORD_CONTEXT;
  assert_string_equal(ctx, "nepnet/v1 peer record");
  assert_int_equal(nn_mldsa_verify((const nn_mldsa_pk_t *)(p + 37), (const uint8_t *)ctx, strlen(ctx), p, 2687,
                                   (const nn_mldsa_sig_t *)(p + 2687)),
                   NN_OK);
  /* and by the decoder: valid on regtest during its day */
  assert_int_equal(nn_peer_record_decode(p, f->len, &back), NN_OK);
  assert_int_equal(verify_at(&back, 1767225600 + 3600, NN_OK), NN_PEER_RECORD_OK);
  vec_free(v);
}

/* ---- fixture ---- */

static int
setup(void **state)
{
  fixture_t *fx = calloc(1, sizeof(*fx));
  if (!fx)
    return -1;
  fx->a = identity(0x5e);
  fx->b = identity(0x6f);
  FILE *f = fopen(NEPNET_DOC_DIR "/PROTOCOL.md", "rb");
  long n;
  if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
      !(fx->doc = calloc(1, (size_t)n + 1)) || fread(fx->doc, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read docs/PROTOCOL.md\n");
    if (f)
      fclose(f);
    return -1;
  }
  fclose(f);
  fx->doc_has_section = strstr(fx->doc, "## 6. Peer records") != NULL;
  if (!fx->doc_has_section) {
    fprintf(stderr, "docs/PROTOCOL.md has no section \"## 6. Peer records\"\n");
    return -1;
  }
  *state = fx;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *fx = *state;
  nn_identity_free(fx->a);
  nn_identity_free(fx->b);
  free(fx->doc);
  free(fx);
  return 0;
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_roundtrip_all_types_and_counts),
    cmocka_unit_test(test_forged),
    cmocka_unit_test(test_newer),
    cmocka_unit_test(test_time_and_network),
    cmocka_unit_test(test_truncation_and_trailing),
    cmocka_unit_test(test_bit_flips_never_verify),
    cmocka_unit_test(test_address_count),
    cmocka_unit_test(test_reserved_values),
    cmocka_unit_test(test_encode_writers),
    cmocka_unit_test(test_vector),
  };
  if (getenv("NEPNET_PRINT_VECTORS")) {
    const struct CMUnitTest only[] = { cmocka_unit_test(test_vector) };
    return cmocka_run_group_tests_name("dht_record_vector", only, setup, teardown);
  }
  return cmocka_run_group_tests_name("dht_record", tests, setup, teardown);
}
