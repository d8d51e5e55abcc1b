/*
 * Fuzz the peer record parser (src/dht/record.c) and its verifier.
 *
 * data[0] odd (raw mode): the rest of the input is decoded as a record.
 * data[0] even (structured mode): one of two genuine records (bit 1: the two-address test vector
 * record, or one with eight addresses of all four types) is edited in place by the rest of the
 * input, read as (position u16, xor u8) triples; then decoded.
 *
 * Invariants (abort() is what the fuzzer reports):
 * - a failed decode leaves the record zeroed;
 * - a decoded record re-encodes to exactly the input bytes, at nn_peer_record_encoded_len;
 * - verify never crashes and never accepts anything but the genuine bytes (a record that verifies
 *   after an edit would be a forgery); the unedited genuine records always verify;
 * - a regtest record never verifies on mainnet; nn_peer_record_newer is antisymmetric.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nepnet/channel.h"
#include "crypto/identity.h"
#include "dht/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T_ISSUED 1767225600ull
#define T_NOW (T_ISSUED + 3600)

typedef struct fixture_t {
  uint8_t base[2][NN_PEER_RECORD_MAX_LEN];
  size_t base_len[2];
  nn_peer_record_t rec[2];
} fixture_t;

static void
make(fixture_t *fx, int k, const nn_identity_t *id)
{
  static const char *const addrs[2][8] = {
    { "203.0.113.7:9800", "[2001:db8::7]:9800" },
    { "198.51.100.1:1", "[2001:db8::1]:65535", "192.0.2.9:9800", "[::ffff:192.0.2.9]:9801" },
  };
  nn_peer_record_t *r = &fx->rec[k];
  nn_drbg_t d;
  nn_drbg_init_u64(&d, 7 + (uint64_t)k);
  nn_rng_t rng = nn_drbg_rng(&d);
  nn_wire_writer_t w;

  nn_peer_record_init(r);
  r->network = NN_NET_REGTEST;
  r->seq = 1 + (uint64_t)k;
  r->issued_at = T_ISSUED;
  r->expires_at = T_ISSUED + 86400;
  r->flags = k ? NN_PEER_RECORD_F_KNOWN : NN_PEER_RECORD_F_INBOUND;
  for (int i = 0; i < 8 && addrs[k][i]; i++)
    if (nn_addr_parse(&r->addrs[r->n_addrs++], addrs[k][i]))
      abort();
  while (k && r->n_addrs < 8) { /* onion and I2P entries */
    nn_addr_t *a = &r->addrs[r->n_addrs];
    a->type = r->n_addrs % 2 ? NN_ADDR_ONION : NN_ADDR_I2P;
    memset(a->host, 0x40 + r->n_addrs, 32);
    a->port = (uint16_t)(9000 + r->n_addrs++);
  }
  nn_wire_writer_init_fixed(&w, fx->base[k], sizeof(fx->base[k]));
  if (nn_peer_record_sign(r, id, &rng) || nn_peer_record_encode(r, &w) ||
      nn_peer_record_verify(r, NN_NET_REGTEST, T_NOW, NULL))
    abort(); /* the fixture itself is broken */
  fx->base_len[k] = w.len;
}

static const fixture_t *
fixture(void)
{
  static fixture_t *fx;
  if (fx)
    return fx;
  nn_mldsa_seed_t seed;
  nn_identity_t *id = NULL;
  memset(seed.b, 0x5e, sizeof(seed.b));
  fx = calloc(1, sizeof(*fx));
  if (!fx || nn_identity_from_seed(&id, &seed))
    abort();
  make(fx, 0, id);
  make(fx, 1, id);
  nn_identity_free(id);
  return fx;
}

static int
is_zero(const void *p, size_t n)
{
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return 0;
  return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const fixture_t *fx = fixture();
  nn_peer_record_t *rec = malloc(sizeof(*rec));
  uint8_t *buf = malloc(NN_PEER_RECORD_MAX_LEN + (size ? size : 1));
  size_t len;
  int structured = size && !(data[0] & 1), k = size ? (data[0] >> 1) & 1 : 0;

  if (!rec || !buf)
    abort();
  if (!size) {
    len = 0;
  } else if (!structured) {
    len = size - 1;
    memcpy(buf, data + 1, len); /* its own allocation: ASan sees any read past the end */
  } else {
    len = fx->base_len[k];
    memcpy(buf, fx->base[k], len);
    for (size_t i = 1; i + 3 <= size; i += 3)
      buf[((size_t)data[i] << 8 | data[i + 1]) % len] ^= data[i + 2];
  }
  int genuine = -1;
  for (int j = 0; j < 2; j++)
    if (len == fx->base_len[j] && memcmp(buf, fx->base[j], len) == 0)
      genuine = j;

  memset(rec, 0xa5, sizeof(*rec));
  nn_err_t err = nn_peer_record_decode(buf, len, rec);
  if (err) {
    if (!is_zero(rec, sizeof(*rec)) || genuine >= 0)
      abort();
  } else {
    uint8_t *again = malloc(NN_PEER_RECORD_MAX_LEN);
    nn_wire_writer_t w;
    if (!again)
      abort();
    nn_wire_writer_init_fixed(&w, again, NN_PEER_RECORD_MAX_LEN);
    if (nn_peer_record_encode(rec, &w) || w.len != len || memcmp(again, buf, len) != 0 ||
        nn_peer_record_encoded_len(rec) != len)
      abort();
    free(again);

    nn_peer_record_status_t why = (nn_peer_record_status_t)-1;
    err = nn_peer_record_verify(rec, NN_NET_REGTEST, T_NOW, &why);
    if ((int)why < (int)NN_PEER_RECORD_OK || (int)why > (int)NN_PEER_RECORD_INTERNAL ||
        (err == NN_OK) != (why == NN_PEER_RECORD_OK))
      abort();
    if (err == NN_OK && genuine < 0)
      abort(); /* an edited or made-up record verified: a forgery */
    if (genuine >= 0 && err != NN_OK)
      abort(); /* a genuine record was refused */
    if (nn_peer_record_verify(rec, NN_NET_MAINNET, T_NOW, &why) == NN_OK)
      abort();
    for (int j = 0; j < 2; j++)
      if (nn_peer_record_newer(rec, &fx->rec[j]) && nn_peer_record_newer(&fx->rec[j], rec))
        abort();
  }
  free(buf);
  free(rec);
  return 0;
}
