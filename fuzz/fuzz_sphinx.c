/*
 * Fuzz a mix hop (src/mixnet/sphinx.c, nn_sphinx_unwrap) with what any node may send it.
 *
 * Input: data[0] is an option byte; bits 1-2 pick the hop (0, 1, 2; 3 means 0) of a genuine
 * 3-hop packet of a small geometry (3 hops, 5236 bytes), as that hop receives it.
 *   bit 0 clear (structured): data[1] & 15 edits of 3 bytes each (u16 big-endian position
 *     modulo the packet length, XOR byte; XOR 0 truncates there), applied to that packet;
 *   bit 0 set (raw): the rest of the input is the packet, for that hop's key.
 *
 * Invariants: every verdict is a defined one, a dropped packet has no body, delay or next
 * node; the genuine packet gets its expected verdict, next node and body; a packet whose header
 * was changed is never passed on or delivered; one whose payload was changed passes the hops
 * before the last (they cannot see it) and is dropped as tagged by the last one, never delivered.
 *
 * The fixture (keys, the genuine packets) is one lazily created static object: acceptable in a
 * fuzz harness, where the process is the fixture. Every input runs from the same state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hybrid.h"
#include "crypto/rand.h"
#include "crypto/sym.h"
#include "mixnet/sphinx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HOPS 3
#define PACKET (4980 + 256)

typedef struct fixture_t {
  nn_sym_t *sym;
  nn_sphinx_geom_t g;
  nn_hybrid_key_t key[HOPS];
  nn_sphinx_hop_t route[HOPS];
  uint8_t body[PACKET];
  uint8_t at[HOPS][PACKET]; /* the genuine packet as hop i receives it */
  uint8_t work[PACKET + 1]; /* one more: a raw input one byte too long */
} fixture_t;

static fixture_t *
fixture(void)
{
  static fixture_t *fx;
  if (fx)
    return fx;
  if (!(fx = calloc(1, sizeof(*fx))) || nn_sym_new(&fx->sym) || nn_sphinx_geom_init(&fx->g, HOPS, PACKET))
    abort();
  for (int i = 0; i < HOPS; i++) {
    nn_drbg_t d;
    nn_drbg_init_u64(&d, 100 + (uint64_t)i);
    nn_rng_t r = nn_drbg_rng(&d);
    if (nn_hybrid_keygen(&fx->key[i], &r))
      abort();
    memset(fx->route[i].node.b, 0xa0 + i, NN_HASH_LEN);
    fx->route[i].pk = &fx->key[i].pk;
    fx->route[i].delay_ms = 100u * (uint32_t)(i + 1);
  }
  for (size_t j = 0; j < fx->g.body_len; j++)
    fx->body[j] = (uint8_t)(j * 13 + 1);
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 4);
  nn_rng_t r = nn_drbg_rng(&d);
  if (nn_sphinx_build(fx->sym, &fx->g, 77, fx->route, HOPS, fx->body, &r, fx->at[0]))
    abort();
  for (int i = 0; i + 1 < HOPS; i++) {
    nn_sphinx_out_t out;
    memcpy(fx->at[i + 1], fx->at[i], PACKET);
    nn_sphinx_unwrap(fx->sym, &fx->g, &fx->key[i], fx->at[i + 1], PACKET, &out);
    if (out.verdict != NN_SPHINX_FORWARD)
      abort();
  }
  return fx;
}

/* One hop; checks what holds for every verdict. */
static nn_sphinx_out_t
hop(fixture_t *fx, int i, size_t len)
{
  nn_sphinx_out_t out;
  nn_sphinx_unwrap(fx->sym, &fx->g, &fx->key[i], fx->work, len, &out);
  if ((unsigned)out.verdict >= NN_SPHINX_VERDICTS || out.verdict == NN_SPHINX_CRYPTO)
    abort();
  if (out.verdict == NN_SPHINX_DELIVER) {
    if (out.body != fx->work + fx->g.header_len + 32)
      abort();
  } else if (out.body || (out.verdict != NN_SPHINX_FORWARD && (out.delay_ms || out.next.b[0])))
    abort();
  if ((out.verdict <= NN_SPHINX_DELIVER || out.verdict == NN_SPHINX_BAD_COMMAND || out.verdict == NN_SPHINX_TAGGED) &&
      !out.have_replay)
    abort(); /* these come after the MAC, which gives the replay tag */
  return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fixture_t *fx = fixture();
  if (size < 2)
    return 0;
  int i = (data[0] >> 1) & 3;
  if (i == 3)
    i = 0;

  if (data[0] & 1) { /* raw */
    size_t len = size - 1 > PACKET + 1 ? PACKET + 1 : size - 1;
    memcpy(fx->work, data + 1, len);
    nn_sphinx_out_t out = hop(fx, i, len);
    if ((out.verdict == NN_SPHINX_FORWARD || out.verdict == NN_SPHINX_DELIVER) &&
        (len != PACKET || memcmp(data + 1, fx->at[i], PACKET)))
      abort(); /* only the genuine packet gets through (or the fuzzer found a forgery) */
    return 0;
  }

  size_t len = PACKET, edits = data[1] & 15, header_changed = 0, payload_changed = 0;
  memcpy(fx->work, fx->at[i], PACKET);
  for (size_t e = 0; e < edits && 2 + 3 * e + 2 < size; e++) {
    const uint8_t *ed = data + 2 + 3 * e;
    size_t pos = ((size_t)ed[0] << 8 | ed[1]) % PACKET;
    if (!ed[2]) {
      len = pos < len ? pos : len;
      continue;
    }
    if (pos < len) {
      fx->work[pos] ^= ed[2];
      if (memcmp(fx->work, fx->at[i], fx->g.header_len))
        header_changed = 1;
      else
        header_changed = 0;
      payload_changed = memcmp(fx->work + fx->g.header_len, fx->at[i] + fx->g.header_len, fx->g.payload_len) != 0;
    }
  }
  nn_sphinx_out_t out = hop(fx, i, len);
  if (len != PACKET) {
    if (out.verdict != NN_SPHINX_BAD_LENGTH)
      abort();
    return 0;
  }
  if (header_changed) {
    if (out.verdict == NN_SPHINX_FORWARD || out.verdict == NN_SPHINX_DELIVER)
      abort();
    return 0;
  }
  /* the header is genuine: the hop routes as the sender said, whatever the payload */
  for (;; i++) {
    if (i + 1 < HOPS) {
      if (out.verdict != NN_SPHINX_FORWARD || out.delay_ms != fx->route[i].delay_ms ||
          memcmp(out.next.b, fx->route[i + 1].node.b, NN_HASH_LEN))
        abort();
      out = hop(fx, i + 1, PACKET);
      continue;
    }
    if (payload_changed ? out.verdict != NN_SPHINX_TAGGED
                        : out.verdict != NN_SPHINX_DELIVER || memcmp(out.body, fx->body, fx->g.body_len))
      abort();
    break;
  }
  return 0;
}
