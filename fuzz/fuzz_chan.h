/*
 * Shared pieces of the secure-channel fuzz harnesses (fuzz_hs_msg1/2/3, fuzz_record): fixed
 * identities, deterministic generators, channel callbacks, and the input format.
 *
 * Input format: data[0] is an option byte. Bit 0 clear: "structured" input: the harness starts
 * from a genuine message captured from a real pair, applies data[1] & 15 edits of 3 bytes each
 * (u16 big-endian position, taken modulo the length; XOR byte, where 0 means "truncate here"),
 * then appends the rest of the input as a tail. Bit 0 set: the rest of the input is fed raw.
 * Bits 5..7 choose how the bytes are split across nn_chan_recv calls. Bits 1..4 belong to the
 * harness (configuration variants).
 *
 * Every harness keeps its fixture (identities, captured messages, template channels) in one
 * lazily created static object: acceptable in a fuzz harness, where the process is the fixture.
 * All inputs run from the same deterministic state, so a crash reproduces from its input alone.
 */
#ifndef NN_FUZZ_CHAN_H
#define NN_FUZZ_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nepnet/channel.h"
#include "crypto/identity.h"
#include "crypto/rand.h"
#include "transport/chan_int.h"
#include "transport/cookie.h"

#define FZ_T0 1000000u /* clock at channel creation */
#define FZ_ADDR "203.0.113.9:9798"
#define FZ_SEED_I 100 /* the initiator's generator: its ephemeral keys, hence a valid msg2 */
#define FZ_SEED_R 200
#define FZ_SEED_JAR 300

/* What one channel reported. */
typedef struct fz_side_t {
  nn_chan_t *ch;
  int established, closed, events_after_close;
  size_t nmsgs;
  uint64_t bytes;
  uint32_t sum; /* order-dependent checksum of every delivered byte */
} fz_side_t;

static inline void
fz_on_msg(void *ctx, const uint8_t *msg, size_t len)
{
  fz_side_t *s = ctx;
  if (s->closed)
    abort(); /* nothing is delivered after the close event */
  s->nmsgs++;
  s->bytes += len;
  for (size_t k = 0; k < len; k++) /* reads every byte: ASan checks the view */
    s->sum = s->sum * 31u + msg[k];
}

static inline void
fz_on_ev(void *ctx, nn_chan_event_t ev)
{
  fz_side_t *s = ctx;
  if (s->closed)
    s->events_after_close++;
  if (ev == NN_CHAN_EV_ESTABLISHED)
    s->established++;
  else if (ev == NN_CHAN_EV_CLOSED)
    s->closed++;
  else
    abort();
}

/* A deterministic generator that must not move while channels use it. */
typedef struct fz_rng_t {
  nn_drbg_t d;
  nn_rng_t rng;
} fz_rng_t;

static inline void
fz_rng_init(fz_rng_t *r, uint64_t seed)
{
  nn_drbg_init_u64(&r->d, seed);
  r->rng = nn_drbg_rng(&r->d);
}

static inline nn_identity_t *
fz_identity(uint8_t fill)
{
  nn_mldsa_seed_t seed;
  nn_identity_t *id = NULL;
  memset(seed.b, fill, sizeof(seed.b));
  if (nn_identity_from_seed(&id, &seed) != NN_OK)
    abort();
  return id;
}

/* An identity that presents \a victim's public key but signs with its own key (the cached public
 * key in its own key object is overwritten): what an impersonator would send. */
static inline nn_identity_t *
fz_impostor(const nn_identity_t *victim)
{
  nn_identity_t *id = fz_identity(0xd4);
  memcpy((uint8_t *)nn_identity_public_key(id)->b, nn_identity_public_key(victim)->b, NN_MLDSA_PK_LEN);
  return id;
}

static inline nn_chan_config_t
fz_config(nn_chan_role_t role, const nn_identity_t *id, const nn_rng_t *rng, fz_side_t *side)
{
  nn_chan_config_t c;
  memset(&c, 0, sizeof(c));
  c.role = role;
  c.network = NN_NET_REGTEST;
  c.identity = id;
  c.rng = rng;
  c.on_message = fz_on_msg;
  c.on_event = fz_on_ev;
  c.ctx = side;
  return c;
}

static inline nn_chan_t *
fz_new(const nn_chan_config_t *cfg)
{
  nn_chan_t *c = NULL;
  if (nn_chan_new(&c, cfg, FZ_T0) != NN_OK || !c)
    abort();
  return c;
}

/* Everything the channel queued for output, consumed (free() it; NULL when nothing). */
static inline uint8_t *
fz_take(nn_chan_t *c, size_t *n)
{
  const uint8_t *d;
  nn_chan_output(c, &d, n);
  if (!*n)
    return NULL;
  uint8_t *copy = malloc(*n);
  if (!copy)
    abort();
  memcpy(copy, d, *n);
  nn_chan_output_consume(c, *n);
  return copy;
}

/* Append src to a growing buffer. */
static inline void
fz_append(uint8_t **buf, size_t *len, const uint8_t *src, size_t n)
{
  uint8_t *nb = realloc(*buf, *len + n + 1);
  if (!nb)
    abort();
  if (n)
    memcpy(nb + *len, src, n);
  *buf = nb;
  *len += n;
}

/* The bytes to feed: the base message edited (structured) or the raw input. */
static inline uint8_t *
fz_compose(const uint8_t *data, size_t size, const uint8_t *base, size_t base_len, size_t *out_len)
{
  uint8_t *buf;
  *out_len = 0;
  if (!size) {
    buf = malloc(1);
  } else if (data[0] & 1) {
    buf = malloc(size);
    if (buf) {
      memcpy(buf, data + 1, size - 1);
      *out_len = size - 1;
    }
  } else {
    size_t ne = size > 1 ? data[1] & 15u : 0, avail = size > 2 ? (size - 2) / 3 : 0, len = base_len;
    if (ne > avail)
      ne = avail;
    const uint8_t *e = data + 2, *tail = data + 2 + 3 * ne;
    size_t tail_len = size > 2 + 3 * ne ? size - 2 - 3 * ne : 0;
    buf = malloc(base_len + tail_len + 1);
    if (buf) {
      memcpy(buf, base, base_len);
      for (size_t k = 0; k < ne; k++, e += 3) {
        size_t pos = ((size_t)e[0] << 8) | e[1];
        if (!len)
          break;
        if (e[2] == 0) {
          if (pos < len)
            len = pos;
        } else {
          buf[pos % len] ^= e[2];
        }
      }
      memcpy(buf + len, tail, tail_len);
      *out_len = len + tail_len;
    }
  }
  if (!buf)
    abort();
  return buf;
}

/* Feed \a n bytes in pieces whose size the option byte chooses (partial headers, split bodies). */
static inline void
fz_feed(nn_chan_t *c, const uint8_t *d, size_t n, uint8_t opt, uint64_t now)
{
  static const size_t chunks[8] = { 0, 1, 2, 3, 5, 17, 255, 4096 };
  size_t chunk = chunks[(opt >> 5) & 7];
  if (!chunk || chunk >= n) {
    (void)nn_chan_recv(c, d, n, now);
    return;
  }
  /* Byte-at-a-time over 8 KiB frames costs little but is slow under ASan: cap the call count. */
  if (n / chunk > 2048)
    chunk = n / 2048 + 1;
  for (size_t off = 0; off < n; off += chunk)
    (void)nn_chan_recv(c, d + off, n - off < chunk ? n - off : chunk, now);
}

/* Invariants every channel keeps whatever it was fed (\a after_recv: checked right after
 * nn_chan_recv, which drops the receive buffer of a closed channel). */
static inline void
fz_check(const fz_side_t *s, int after_recv)
{
  nn_close_reason_t r = nn_chan_close_reason(s->ch);
  if (s->closed > 1 || s->established > 1 || s->events_after_close)
    abort(); /* each event at most once, nothing after the close */
  if (nn_chan_is_closed(s->ch) != (s->closed == 1))
    abort();
  if (nn_chan_is_closed(s->ch) && (r == NN_CLOSE_NONE || r > NN_CLOSE_COOKIE))
    abort();
  if (!nn_chan_is_closed(s->ch) && r != NN_CLOSE_NONE)
    abort();
  if (nn_chan_is_established(s->ch) &&
      (!s->established || nn_chan_deadline(s->ch) != UINT64_MAX || !nn_chan_info(s->ch)))
    abort();
  if (after_recv && nn_chan_is_closed(s->ch) && s->ch->in)
    abort(); /* a closed channel keeps no receive buffer */
}

/* Run the clock past the handshake deadline: a channel still in the handshake must time out. */
static inline void
fz_expire(fz_side_t *s)
{
  uint64_t d = nn_chan_deadline(s->ch);
  if (d == UINT64_MAX)
    return;
  nn_chan_tick(s->ch, d);
  if (!nn_chan_is_closed(s->ch) || nn_chan_close_reason(s->ch) != NN_CLOSE_TIMEOUT)
    abort();
}

#endif
