/*
 * Fuzz the connection manager (net/net.h) as hostile tenants and a hostile network drive it: two
 * or three managers on one event_base, each with two or four in-memory transports
 * (tests/pipe_transport.c: "pipe-onion" and "pipe-i2p" for onion and I2P addresses, "pipe-ip4"
 * and "pipe-ip6" for IP ones), real secure channels between them,
 * and a sequence of dials, sends, closes, holds, tenant churn, penalties, loop turns, faults on
 * the streams and manager restarts decoded from the input. Tenants can be told to react from
 * inside their callbacks (close, send, hold, unregister, register, dial...). A model of the
 * contract in net.h is checked after every step and in every callback; any departure abort()s
 * (ASan/UBSan/LSan catch the rest: every manager is freed at the end of each input).
 *
 * Input format (all through the bounded wire reader, big-endian; a short read ends the run):
 *
 *   u32 seed      seeds each manager's nn_drbg (with its index and generation), so runs replay
 *                 (as far as real time allows: handshake timeouts and linger are timers)
 *   u8  flags     bit0 three managers (else two)
 *                 bit1 the pipe transports report peer addresses (per-address admission, and
 *                      the policy is asked about inbound streams)
 *                 bit2 coarse loop turns: a turn runs every active callback (else one per turn)
 *                 bit3 small pipes: 4 KiB a direction, max_output 16 KiB (back-pressure)
 *                 bit4 two more pipe transports, for IPv4 and IPv6 addresses
 *   CFG           per manager, two bytes (also the arguments of `restart`):
 *     u8 a        bit0-1 max_message: default (8 MiB), 65536 (the least allowed), 131072, 262144
 *                 bit2 anonymous dials; bit3 require_peer_identity
 *                 bit4 no identity at all (cannot listen or accept; dials anonymously)
 *                 bit5 queue_max 2 (else 64); bit6 max_idle_outbound 1 (else 64)
 *                 bit7 every inbound handshake needs a cookie round (load_half_open 0)
 *     u8 b        bit0 tight admission: max_half_open 1, max_conns 2, max_per_ip 1, 100/s burst 1,
 *                      max_tracked_ips 1 (else the defaults, but 1000 handshakes/s an address)
 *                 bit1 rekey every 2 records, pad to 64; bit2 linger 1 ms (else 2 s)
 *                 bit3 outbound handshake timeout 2 ms; bit4 inbound handshake timeout 2 ms
 *                 bit5 do not listen
 *                 bit6-7 tenants registered at start: A+B, A, none, A+B+C (RANGES 0, 1, 2)
 *   then steps, at most MAX_STEPS, each: u8 op, u8 M, then its arguments (op % 16):
 *     0 dial       M T P   (at most MAX_DIALS per input, MAX_HS_DIALS of them to a listener)
 *     1 send       M C K L
 *     2 close      M C u8 reason (0: NN_CLOSE_LOCAL)
 *     3 hold       M C u8 h: tenant handle (h & 0x1f) % 18 - 1; bit7 hold, else release
 *     4 register   M u8 g: g < 0x20: RANGES[g % 12], else the single kind g
 *     5 unregister M S
 *     6 penalize   M C u8 points (signed)
 *     7 turns      n: n % 16 + 1 turns of event_base_loop(EVLOOP_NONBLOCK) (n in place of M)
 *     8 quiet      x (unused, in place of M): run the loop until no callback is pending, then
 *                  check that every channel settled: established and open with its other end,
 *                  everything sent delivered
 *     9 restart    M u8 a u8 b: free manager (M & 0x7f) % count and create it again with CFG
 *                  a, b (M bit7: only free it: dials to its addresses go nowhere); at most
 *                  MAX_RESTARTS
 *    10 react      M S u8 x u8 arg: the tenant at handle S (if S is free: the next one registered
 *                  there, from its first on_up inside nn_net_register on) reacts from its next
 *                  callbacks of the kinds in x bit0 on_up, bit1 on_message, bit2 on_down with
 *                  action (x >> 3) % 11 (ACTIONS below), once, or (x bit7) up to four times
 *    11 fault      M u8 w u8 k u16 pos: on M's transport (w & 3) % count, its stream w >> 2
 *                  (pipe_transport_fault): k bit0 0: flip bit (k >> 1) & 7 of the unread byte
 *                  at pos / 65536 of the way in; 1: reset the connection; k bit4: instead,
 *                  the stream moves to 198.51.100.(pos & 0xff):(pos >> 8) (a hole punch)
 *    12 wait       ms (in place of M): run the loop for ms % 4 + 1 ms of real time (timers:
 *                  handshake timeouts, linger), at most MAX_WAIT_MS per input
 *    13 policy     M u8 bits: bit0 refuse every dial, bit1 refuse every inbound stream (asked
 *                  with peer addresses only), bit2 no policy at all (nn_net_set_policy NULL)
 *    14 each-close M u8 mask: nn_net_each, its callback closing the i-th channel if bit i % 8
 *    15 burst      M C u8 n: n % 8 + 1 small sends of kinds 0x10..0x2f (tenants A and B)
 *   M = u8 m: manager m % count (steps on a freed manager are skipped, arguments still read)
 *   C = u8 c: < 0x80: channel 1 + c % (highest handle seen on M); 0x80..0xfe: the raw handle
 *       c & 0x7f (0 and handles never given out included); 0xff: UINT64_MAX
 *   T = u8 t: bit0-1 manager t & 3 (3, or a missing manager: an address nobody listens on),
 *       bit2 its I2P address (else onion), bit3 its IPv4 (bit2: IPv6) address instead (without
 *       flags bit4 no transport reaches it), bit4-5 expected id: none, the target's, another
 *       manager's, one nobody has; bit6-7 dial 1, 2, 8 or 70 times (the repeats only where no
 *       handshake follows: at 128 channels a manager's table of handles grows)
 *   P, S = u8 p: tenant handle p % 18 - 1 (-1 and 16 are out of range)
 *   K = u8 k: < 0xa0: kind 0x10 + k % 0x40 (the ranges of tenants A..D); else u8 raw kind
 *   L = u8 l: < 0xe0: l bytes (0: empty); 0xe0..0xef: (l - 0xdf) KiB; 0xf0..0xfd: (l - 0xef) *
 *       4681 bytes; 0xfe u8 d: 65536, 131072 or 262144 (d % 3) + (d / 3) % 5 - 2 (around a peer's
 *       max_message); 0xff: MSG_MAX_LEN (300000) bytes
 *   RANGES: A 10-1f, B 20-2f, C 30-3f, D 40-4f, 00-00, ff-ff, 18-27, 00-ff, 50-7f, 20-10 (lo >
 *       hi: refused), 80-fe, 10-10
 *   ACTIONS (arg a): 0 close this channel (reason a), 1 send on it (kind 0x10 + a % 0x40, or a
 *       itself if a >= 0xc0; a % 40 + 1 bytes), 2 hold (a bit0) or release it, 3 unregister
 *       itself, 4 unregister handle a % 18 - 1, 5 register as `register` with g = a, 6 unregister
 *       handle a % 16 and register a new tenant over the same kinds, 7 close channel 1 + a %
 *       highest, 8 dial T = a for itself, 9 penalize this channel (a points), 10 send 5 bytes on
 *       channel 1 + a % highest
 *
 * Seeds in fuzz/corpus/fuzz_net/ follow this format (fuzz/gen_fuzz_net.py writes them).
 *
 * Checked: no callback from inside a call into a manager (nn_net_register's on_up to the new
 * tenant excepted), none after nn_net_free; on_up once per tenant and channel, established and
 * open; on_message only for a told channel, of the tenant's kinds, while it owns them, each message
 * the next one its sender sent on that channel (both ends paired by session id), byte for byte,
 * in order, once (a message queued during the handshake and too long for the peer is dropped
 * then, and counted in queue_dropped); on_down once, to a tenant told
 * of the channel or for an outbound one never established, and to the dialler unless it closed
 * the channel itself; a LOCAL close nobody asked for is the idle cap's (outbound, unheld) or a
 * newcomer's (inbound, unheld: the connection cap); return
 * codes of send (NOTFOUND for unknown or closing handles, ARG for empty, the queue's NOSPACE,
 * TOO_LONG above the peer's max_message), dial, register (handle, ARG on overlap, NOSPACE);
 * register tells exactly the open channels; close marks closing at once; holds as held; the idle
 * cap trims the least recently used unheld established outbound channels; stats (conns, inbound,
 * open, half_open against the channels that exist and nn_net_each; counters); nn_net_find,
 * nn_net_find_addr, nn_net_pending; policy calls (allowed inside dial or from an accept,
 * penalize inside nn_net_penalize or for a PROTOCOL/AUTH/TOO_LARGE close); when quiet (and no
 * byte was flipped) every channel is settled, so a kind nobody registered has closed both ends
 * (with small pipes, two ends that both stopped reading wait for each other and are let be).
 * -DFUZZ_NET_TRACE prints what each run reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "crypto/rand.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "nepnet/identity.h"
#include "net/net.h"
#include "net/net_int.h" /* NN_NET_QUEUE_MAX_BYTES, NN_NET_PENALTY_CLOSE */
#include "pipe_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NMGR 3
#define MAX_SER 256 /* handles per manager and run: dials and accepts stay below */
#define MAX_STEPS 200
#define MAX_DIALS 200  /* most to nowhere: at 128 channels a manager's table of handles grows */
#define MAX_HS_DIALS 4 /* dials that reach a listener: each costs a real handshake */
#define MAX_RESTARTS 6
#define MAX_WAIT_MS 16
#define MAX_END 1024
#define MAX_MSGS 1024
#define MAX_TENS 160
#define MSG_MAX_LEN 300000
#define SMALL_PIPE 4096          /* flags bit3: bytes a pipe direction holds ... */
#define SMALL_OUTPUT (16u << 10) /* ... and max_output */
#define QUIET_TURNS 200000
#define NRANGES 12
#define NACTIONS 11

#define CHECK(c)                                                                                                       \
  do {                                                                                                                 \
    if (!(c)) {                                                                                                        \
      fprintf(stderr, "fuzz_net: invariant failed at line %d (step %u): %s\n", __LINE__, g.step, #c);                  \
      abort();                                                                                                         \
    }                                                                                                                  \
  } while (0)

/* Every call into a manager runs inside API(): callbacks check that none is running. */
#define API(stmt)                                                                                                      \
  do {                                                                                                                 \
    g.in_api++;                                                                                                        \
    stmt;                                                                                                              \
    g.in_api--;                                                                                                        \
  } while (0)

static const uint8_t RANGES[NRANGES][2] = {
  { 0x10, 0x1f }, { 0x20, 0x2f }, { 0x30, 0x3f }, { 0x40, 0x4f }, { 0x00, 0x00 }, { 0xff, 0xff },
  { 0x18, 0x27 }, { 0x00, 0xff }, { 0x50, 0x7f }, { 0x20, 0x10 }, { 0x80, 0xfe }, { 0x10, 0x10 },
};

/* One message a harness tenant sent: its bytes follow from (tag, len, kind). */
typedef struct msg_t {
  uint64_t tag;
  uint32_t len;
  uint8_t kind, queued; /* queued: sent before the handshake ended */
  int next;
} msg_t;

/* One end of a channel, for the whole run (it outlives its manager, so the other end can still
 * check what it receives). */
typedef struct end_t {
  int mgr, gen;
  uint64_t serial;
  uint8_t has_session, session[32];
  uint8_t inbound, established, closed_by_us, downed, hold_after_close;
  int head, tail; /* messages sent on this end, not yet received: indices into g.msg */
  unsigned qn;    /* messages queued before the handshake */
  size_t qbytes;
  uint32_t holds; /* tenant handles holding it (nn_net_hold) */
  int dialer;     /* the tenant record that dialled it, or -1 */
  uint8_t dialer_down;
} end_t;

typedef struct react_t {
  uint8_t on, action, arg, count;
} react_t;

/* One registration of a harness tenant. */
typedef struct ten_t {
  int idx, mgr, gen, slot;
  uint8_t lo, hi, active;
  uint8_t told[MAX_SER + 1], downed[MAX_SER + 1];
  react_t r;
} ten_t;

typedef struct mgr_t {
  nn_net_t *n;
  int idx, gen;
  nn_net_cfg_t cfg;
  nn_drbg_t drbg;
  nn_rng_t rng;
  nn_transport_t *tr[4]; /* onion, i2p, and with flags bit4 IPv4, IPv6 */
  int ntr, policy_on;
  int listening;
  int slot_ten[NN_NET_MAX_PROTOCOLS]; /* tenant record per handle, or -1 */
  uint8_t owner[256];                 /* handle per kind, or 0xff */
  int ends[MAX_SER + 1];              /* end per handle, or -1 */
  uint64_t max_serial, last_dial;
  uint8_t ban_out, ban_in;
  uint64_t pen_api, pen_loop, ndials, ntrimmed, nestablished;
  uint64_t closed_unsupported;              /* channels we closed with NN_CLOSE_UNSUPPORTED ourselves */
  uint64_t q_ok, q_full, q_long;            /* queued; refused by a full queue; dropped at the handshake */
  react_t pend_react[NN_NET_MAX_PROTOCOLS]; /* for the next tenant at a free handle */
} mgr_t;

typedef struct trace_t {
  uint64_t handshakes, delivered, unknown, cookies, trimmed, qdropped, refused, downs, ups, stalls;
  uint64_t closed[NN_NET_CLOSE_MAX], flips, resets, moves, quiets, reacts;
} trace_t;

typedef struct state_t {
  struct event_base *base;
  pipe_wire_t *wire;
  uint32_t seed;
  uint8_t flags;
  int nmgr, gens;
  mgr_t m[NMGR];
  end_t end[MAX_END];
  int nend;
  msg_t msg[MAX_MSGS];
  int nmsg;
  ten_t ten[MAX_TENS];
  int nten;
  int in_api, dialing, penalizing;
  ten_t *registering;
  unsigned step;
  int dials, hs_dials, restarts, flipped, reset, moved;
  unsigned waited;
  uint64_t next_tag;
  trace_t tr;
  nn_log_t log;
  uint8_t buf[MSG_MAX_LEN], cmp[MSG_MAX_LEN]; /* not cleared between runs */
} state_t;
static state_t g;

static nn_identity_t *ids[NMGR];
static nn_node_id_t bogus_id;

static void op_register(int mi, uint8_t lo, uint8_t hi);
static void op_unregister(int mi, int slot);
static void op_send(int mi, uint64_t s, uint8_t kind, size_t len);
static void op_close(int mi, uint64_t s, uint8_t reason);
static void op_hold(int mi, int slot, uint64_t s, int on);
static void op_dial(int mi, uint8_t tb, int slot);
static void op_penalize(int mi, uint64_t s, int points);

/* --- small helpers ------------------------------------------------------------------------------ */

static void
log_sink(void *ctx, int level, const char *module, const char *line)
{
  (void)ctx;
  (void)level;
  (void)module;
  (void)line;
#ifdef FUZZ_NET_TRACE
  if (getenv("FUZZ_NET_LOG"))
    fprintf(stderr, "  [%s] %s\n", module, line);
#endif
}

static const char *const TR_NAME[4] = { "pipe-onion", "pipe-i2p", "pipe-ip4", "pipe-ip6" };
static const uint8_t TR_TYPE[4] = { NN_ADDR_ONION, NN_ADDR_I2P, NN_ADDR_IPV4, NN_ADDR_IPV6 };

/* Where manager idx listens (idx 3: nobody) through transport kind tk (TR_NAME). */
static nn_addr_t
addr_of(int idx, int tk)
{
  uint8_t key[32];
  memset(key, 0x42, sizeof(key));
  key[0] = (uint8_t)(idx + 1);
  key[1] = (uint8_t)tk;
  if (tk == 2) {
    const uint8_t v4[4] = { 10, 0, 0, (uint8_t)(idx + 1) };
    return nn_addr_ipv4(v4, (uint16_t)(9800 + idx));
  }
  if (tk == 3) {
    key[0] = 0xfd;
    key[15] = (uint8_t)(idx + 1);
    return nn_addr_ipv6(key, (uint16_t)(9800 + idx));
  }
  return nn_addr_overlay(tk ? NN_ADDR_I2P : NN_ADDR_ONION, key, (uint16_t)(9800 + idx));
}

/* How a pipe listener sees the dialler of \a to (pipe_transport.c). */
static nn_addr_t
from_of(nn_addr_t a)
{
  a.port = 1;
  a.host[0] ^= 0x5a;
  return a;
}

/* Handles worth looking at on \a m: the highest seen, and room for what was accepted since. */
static uint64_t
scan_max(const mgr_t *m)
{
  return m->max_serial + 16 < MAX_SER ? m->max_serial + 16 : MAX_SER;
}

/* RANGES for g < 0x20, else the single kind g. */
static void
range_of(uint8_t gb, uint8_t *lo, uint8_t *hi)
{
  if (gb < 0x20) {
    *lo = RANGES[gb % NRANGES][0];
    *hi = RANGES[gb % NRANGES][1];
  } else {
    *lo = *hi = gb;
  }
}

static int
info_of(const mgr_t *m, uint64_t s, nn_net_conn_info_t *i)
{
  int r;
  API(r = nn_net_conn_info(m->n, s, i));
  return r;
}

static uint32_t
eff_max(const mgr_t *m)
{
  return m->cfg.max_message ? m->cfg.max_message : NN_CHAN_DEFAULT_MAX_MESSAGE;
}

static void
msg_fill(uint8_t *b, uint64_t tag, size_t len, uint8_t kind)
{
  uint64_t x = tag * 0x9e3779b97f4a7c15ull + len;
  if (!len)
    return;
  b[0] = kind;
  for (size_t i = 1; i < len; i++) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    b[i] = (uint8_t)(x >> 56);
  }
  if (len >= 9)
    nn_be64_put(b + 1, tag);
}

static end_t *
end_get(int mi, uint64_t s)
{
  mgr_t *m = &g.m[mi];
  CHECK(s >= 1 && s <= MAX_SER);
  if (m->ends[s] < 0) {
    CHECK(g.nend < MAX_END);
    end_t *e = &g.end[g.nend];
    memset(e, 0, sizeof(*e));
    e->mgr = mi;
    e->gen = m->gen;
    e->serial = s;
    e->head = e->tail = -1;
    e->dialer = -1;
    m->ends[s] = g.nend++;
  }
  if (s > m->max_serial)
    m->max_serial = s;
  return &g.end[m->ends[s]];
}

/* The handshake told the peer's max_message: the queued messages longer than that were dropped
 * (and counted in queue_dropped) instead of sent. */
static void
drop_long_queued(mgr_t *m, end_t *e, uint32_t peer_max)
{
  int prev = -1;
  for (int i = e->head; i >= 0;) {
    msg_t *q = &g.msg[i];
    int nx = q->next;
    if (q->queued && q->len > peer_max) {
      if (prev >= 0)
        g.msg[prev].next = nx;
      else
        e->head = nx;
      if (e->tail == i)
        e->tail = prev;
      m->q_long++;
    } else {
      prev = i;
    }
    i = nx;
  }
}

/* What a conn_info says about an end: its direction, and its session id once established. */
static end_t *
learn(int mi, uint64_t s, const nn_net_conn_info_t *in)
{
  end_t *e = end_get(mi, s);
  e->inbound = (uint8_t)in->inbound;
  if (in->established) {
    CHECK(in->chan);
    if (!e->established) {
      e->established = 1;
      g.m[mi].nestablished++;
      drop_long_queued(&g.m[mi], e, in->chan->peer_max_message);
    }
    if (!e->has_session) {
      memcpy(e->session, in->chan->session_id, 32);
      e->has_session = 1;
    } else {
      CHECK(!memcmp(e->session, in->chan->session_id, 32));
    }
  } else {
    CHECK(!in->chan);
  }
  return e;
}

static void
learn_all(void)
{
  nn_net_conn_info_t in;
  for (int i = 0; i < g.nmgr; i++)
    for (uint64_t s = 1; g.m[i].n && s <= scan_max(&g.m[i]); s++)
      if (info_of(&g.m[i], s, &in))
        learn(i, s, &in);
}

/* The other end of \a e's channel (same session id), or NULL if not seen. */
static end_t *
partner(const end_t *e)
{
  end_t *p = NULL;
  if (!e->has_session)
    return NULL;
  for (int i = 0; i < g.nend; i++) {
    end_t *o = &g.end[i];
    if (o != e && o->has_session && !memcmp(o->session, e->session, 32)) {
      CHECK(!p); /* a session id names one channel */
      p = o;
    }
  }
  return p;
}

static int
end_live(const end_t *e)
{
  return g.m[e->mgr].n && g.m[e->mgr].gen == e->gen;
}

static void
fifo_push(end_t *e, uint64_t tag, size_t len, uint8_t kind, int queued)
{
  CHECK(g.nmsg < MAX_MSGS);
  msg_t *m = &g.msg[g.nmsg];
  m->tag = tag;
  m->len = (uint32_t)len;
  m->kind = kind;
  m->queued = (uint8_t)queued;
  m->next = -1;
  if (e->tail >= 0)
    g.msg[e->tail].next = g.nmsg;
  else
    e->head = g.nmsg;
  e->tail = g.nmsg++;
}

static void
fifo_pop(end_t *e)
{
  e->head = g.msg[e->head].next;
  if (e->head < 0)
    e->tail = -1;
}

/* Nothing left to receive is longer than the receiver takes (drop_long_queued ran). */
static void
fifo_check_max(const end_t *e, uint32_t peer_max)
{
  for (int i = e->head; i >= 0; i = g.msg[i].next)
    CHECK(g.msg[i].len <= peer_max);
}

/* May a send on this established, open end fail with NOTFOUND (a write already failed)? Only if
 * its stream may be broken: a fault, or the other end is not open (its stream may be gone). */
static int
maybe_broken(int mi, uint64_t s, const nn_net_conn_info_t *in)
{
  nn_net_conn_info_t pi;
  if (g.reset || !in->established)
    return 1;
  end_t *e = learn(mi, s, in), *p = partner(e);
  if (!p) {
    learn_all();
    p = partner(e);
  }
  if (!p || !end_live(p))
    return 1;
  return !info_of(&g.m[p->mgr], p->serial, &pi) || pi.closing;
}

/* --- the manager's callbacks -------------------------------------------------------------------- */

static void react(ten_t *t, int trig, uint64_t conn);

static ten_t *
cb_tenant(void *ctx, uint64_t conn)
{
  ten_t *t = ctx;
  CHECK(t >= g.ten && t < g.ten + MAX_TENS);
  CHECK(t->active); /* never after unregistering, nor after nn_net_free */
  mgr_t *m = &g.m[t->mgr];
  CHECK(m->n && m->gen == t->gen && m->slot_ten[t->slot] == t->idx);
  CHECK(conn >= 1 && conn <= MAX_SER);
  return t;
}

static void
cb_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  ten_t *t = cb_tenant(ctx, conn);
  /* from the loop only, or from the tenant's own nn_net_register */
  CHECK(!g.in_api || g.registering == t);
  CHECK(info->conn == conn && info->established && info->chan && !info->closing);
  CHECK(!t->told[conn] && !t->downed[conn]); /* once */
  t->told[conn] = 1;
  learn(t->mgr, conn, info);
  g.tr.ups++;
  react(t, 1, conn);
}

static void
cb_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  ten_t *t = cb_tenant(ctx, conn);
  mgr_t *m = &g.m[t->mgr];
  nn_net_conn_info_t in;
  CHECK(!g.in_api);
  CHECK(t->told[conn] && !t->downed[conn]);
  /* only its own kinds, while it owns them */
  CHECK(len >= 1 && msg[0] >= t->lo && msg[0] <= t->hi && m->owner[msg[0]] == t->slot);
  /* exactly the next message the other end sent */
  CHECK(info_of(m, conn, &in));
  end_t *r = learn(t->mgr, conn, &in), *p = partner(r);
  if (!p) {
    learn_all();
    p = partner(r);
  }
  CHECK(p);
  fifo_check_max(p, eff_max(m));
  CHECK(p->head >= 0);
  const msg_t *sent = &g.msg[p->head];
  CHECK(sent->len == len && sent->kind == msg[0]);
  msg_fill(g.cmp, sent->tag, sent->len, sent->kind);
  CHECK(!memcmp(g.cmp, msg, len));
  fifo_pop(p);
  g.tr.delivered++;
  react(t, 2, conn);
}

/* A stream moved (the fault PIPE_FAULT_MOVE): told from the loop, once per move, to tenants
 * told of the channel, with the new address and the old one as via. */
static void
cb_moved(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  ten_t *t = cb_tenant(ctx, conn);
  CHECK(!g.in_api && g.moved);
  CHECK(info->conn == conn && info->moved && !info->closing && info->established);
  CHECK(info->addr.type == NN_ADDR_IPV4 && info->addr.host[0] == 198 && info->addr.host[1] == 51);
  CHECK(info->via.type != 0 &&
        !(info->via.type == NN_ADDR_IPV4 && info->via.host[0] == 198 && info->via.host[1] == 51));
  CHECK(t->told[conn] && !t->downed[conn]);
  g.tr.moves++;
  react(t, 1, conn); /* as on_up: a tenant may call anything from here */
}

static void
cb_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  ten_t *t = cb_tenant(ctx, conn);
  mgr_t *m = &g.m[t->mgr];
  CHECK(!g.in_api);
  CHECK(info->conn == conn && info->closing);
  CHECK(!t->downed[conn]); /* once */
  /* told of it, or an outbound channel that never got established */
  CHECK(t->told[conn] || (!info->inbound && !info->established));
  t->downed[conn] = 1;
  t->told[conn] = 0;
  end_t *e = end_get(t->mgr, conn);
  e->downed = 1;
  if (e->dialer == t->idx)
    e->dialer_down = 1;
  CHECK(info->reason != NN_CLOSE_NONE);
  const nn_net_stats_t *st = nn_net_stats(m->n);
  if (info->reason == NN_CLOSE_LOCAL && !e->closed_by_us && !st->closed_moved) { /* the idle cap's, or a newcomer's */
    CHECK(info->inbound ? st->evicted_inbound + st->closed_idle > 0 : st->trimmed > 0);
    CHECK(!e->holds || e->hold_after_close);
  }
  if (info->reason == NN_CLOSE_UNSUPPORTED && !e->closed_by_us)
    CHECK(st->unknown_kind > 0);
  if (info->reason == NN_NET_CLOSE_CONNECT && !e->closed_by_us) /* a tenant may close with any reason */
    CHECK(!info->inbound && !info->established);
  g.tr.downs++;
  react(t, 4, conn);
}

static int
pol_allowed(void *ctx, const nn_addr_t *a, int inbound)
{
  mgr_t *m = ctx;
  (void)a;
  CHECK(m->policy_on);
  if (!g.in_api && g.moved) /* a stream moved: its new address is asked about from the loop */
    return inbound ? !m->ban_in : !m->ban_out;
  if (inbound) { /* from an accept, in the loop; only transports with peer addresses ask */
    CHECK(!g.in_api && (g.flags & 2));
    return !m->ban_in;
  }
  CHECK(g.in_api && g.dialing == m->idx + 1);
  return !m->ban_out;
}

static void
pol_penalize(void *ctx, const nn_net_conn_info_t *c, int points, const char *why)
{
  mgr_t *m = ctx;
  CHECK(m->policy_on && why && c->conn >= 1 && c->conn <= MAX_SER);
  if (g.in_api) { /* nn_net_penalize */
    CHECK(g.penalizing == m->idx + 1 && points > 0);
    m->pen_api++;
    return;
  }
  CHECK(points == NN_NET_PENALTY_CLOSE);
  CHECK(c->reason == NN_CLOSE_PROTOCOL || c->reason == NN_CLOSE_AUTH || c->reason == NN_CLOSE_TOO_LARGE);
  m->pen_loop++;
}

/* A reaction from inside a callback: the tenant calls the manager back, as tenants may. */
static void
react(ten_t *t, int trig, uint64_t conn)
{
  if (!t->r.count || !(t->r.on & trig))
    return;
  t->r.count--;
  g.tr.reacts++;
  int mi = t->mgr;
  mgr_t *m = &g.m[mi];
  uint8_t a = t->r.arg;
  uint64_t other = 1 + a % (m->max_serial ? m->max_serial : 1);
  switch (t->r.action) {
  case 0: op_close(mi, conn, a); break;
  case 1: op_send(mi, conn, a >= 0xc0 ? a : (uint8_t)(0x10 + a % 0x40), (size_t)(a % 40 + 1)); break;
  case 2: op_hold(mi, t->slot, conn, a & 1); break;
  case 3: op_unregister(mi, t->slot); break;
  case 4: op_unregister(mi, a % 18 - 1); break;
  case 5: {
    uint8_t lo, hi;
    range_of(a, &lo, &hi);
    op_register(mi, lo, hi);
    break;
  }
  case 6: { /* replace a tenant: same kinds, a new registration */
    int slot = a % 16, ti = m->slot_ten[slot];
    if (ti < 0)
      break;
    uint8_t lo = g.ten[ti].lo, hi = g.ten[ti].hi;
    op_unregister(mi, slot);
    op_register(mi, lo, hi);
    break;
  }
  case 7: op_close(mi, other, NN_CLOSE_LOCAL); break;
  case 8: op_dial(mi, a, t->slot); break;
  case 9: op_penalize(mi, conn, (int8_t)a); break;
  case 10: op_send(mi, other, (uint8_t)(0x10 + (a * 7) % 0x40), 5); break;
  }
}

/* --- operations, each with the results the contract promises ------------------------------------- */

static void
clear_hold_bit(mgr_t *m, int slot)
{
  for (int s = 1; s <= MAX_SER; s++)
    if (m->ends[s] >= 0)
      g.end[m->ends[s]].holds &= ~(1u << slot);
}

typedef struct collect_t {
  nn_net_conn_info_t in[MAX_SER + 1];
  uint8_t live[MAX_SER + 1];
  unsigned n;
  uint8_t close_mask;
  nn_net_t *net;
  int mi;
} collect_t;

static void
collect_fn(void *ctx, const nn_net_conn_info_t *c)
{
  collect_t *k = ctx;
  CHECK(c->conn >= 1 && c->conn <= MAX_SER && !k->live[c->conn]);
  k->live[c->conn] = 1;
  k->in[c->conn] = *c;
  if (k->close_mask & (1u << (k->n % 8))) { /* nn_net_each's callback may close channels */
    nn_net_close(k->net, c->conn, NN_CLOSE_LOCAL);
    if (!c->closing)
      end_get(k->mi, c->conn)->closed_by_us = 1;
  }
  k->n++;
}

static void
collect(int mi, collect_t *k, uint8_t close_mask)
{
  memset(k->live, 0, sizeof(k->live));
  k->n = 0;
  k->close_mask = close_mask;
  k->net = g.m[mi].n;
  k->mi = mi;
  API(nn_net_each(g.m[mi].n, collect_fn, k));
}

static void
op_register(int mi, uint8_t lo, uint8_t hi)
{
  mgr_t *m = &g.m[mi];
  nn_err_t want = NN_OK;
  int slot = -1, h = -1;
  if (g.nten >= MAX_TENS)
    return;
  if (lo > hi) {
    want = NN_ERR_ARG;
  } else {
    for (int k = lo; k <= hi; k++)
      if (m->owner[k] != 0xff)
        want = NN_ERR_ARG;
    for (int s = NN_NET_MAX_PROTOCOLS - 1; s >= 0; s--)
      if (m->slot_ten[s] < 0)
        slot = s;
    if (want == NN_OK && slot < 0)
      want = NN_ERR_NOSPACE;
  }
  ten_t *t = &g.ten[g.nten]; /* taken now: its on_up may register another tenant */
  memset(t, 0, sizeof(*t));
  t->idx = g.nten++;
  t->mgr = mi;
  t->gen = m->gen;
  t->slot = slot;
  t->lo = lo;
  t->hi = hi;
  if (want == NN_OK) { /* registered before on_up, which may react already (even unregister it) */
    t->r = m->pend_react[slot];
    memset(&m->pend_react[slot], 0, sizeof(m->pend_react[slot]));
    t->active = 1;
    m->slot_ten[slot] = t->idx;
    for (int k = lo; k <= hi; k++)
      m->owner[k] = (uint8_t)slot;
    clear_hold_bit(m, slot);
  }
  nn_net_proto_t p = { "fuzz", lo, hi, cb_up, cb_msg, cb_down, t, cb_moved };
  ten_t *outer = g.registering;
  uint64_t reacts0 = g.tr.reacts;
  nn_err_t e;
  g.registering = t;
  API(e = nn_net_register(m->n, &p, &h));
  g.registering = outer;
  CHECK(e == want);
  if (e != NN_OK)
    return;
  CHECK(h == slot); /* the lowest free handle */
  /* it heard of exactly the channels open now (unless a reaction changed things meanwhile) */
  static collect_t k;
  if (g.tr.reacts != reacts0 || !t->active)
    return;
  collect(mi, &k, 0);
  for (uint64_t s = 1; s <= MAX_SER; s++)
    CHECK(t->told[s] == (k.live[s] && k.in[s].established && !k.in[s].closing));
}

static void
op_unregister(int mi, int slot)
{
  mgr_t *m = &g.m[mi];
  API(nn_net_unregister(m->n, slot));
  if (slot < 0 || slot >= NN_NET_MAX_PROTOCOLS || m->slot_ten[slot] < 0)
    return;
  g.ten[m->slot_ten[slot]].active = 0;
  m->slot_ten[slot] = -1;
  for (int k = 0; k < 256; k++)
    if (m->owner[k] == slot)
      m->owner[k] = 0xff;
  clear_hold_bit(m, slot);
}

static void
op_send(int mi, uint64_t s, uint8_t kind, size_t len)
{
  mgr_t *m = &g.m[mi];
  nn_net_conn_info_t in;
  nn_err_t e;
  if (g.nmsg >= MAX_MSGS)
    return;
  int ex = info_of(m, s, &in);
  uint64_t tag = ++g.next_tag, qd0 = nn_net_stats(m->n)->queue_dropped;
  msg_fill(g.buf, tag, len, kind);
  API(e = nn_net_send(m->n, s, g.buf, len));
  if (!ex || in.closing) {
    CHECK(e == NN_ERR_NOTFOUND);
    return;
  }
  end_t *en = learn(mi, s, &in);
  if (len && in.inbound && !in.established) {
    CHECK(e == NN_ERR_NOTFOUND); /* nothing is queued on an inbound handshake */
    return;
  }
  if (e == NN_ERR_NOTFOUND && maybe_broken(mi, s, &in))
    return;
  if (!len) {
    CHECK(e == NN_ERR_ARG);
  } else if (!in.established) {
    int full = en->qn >= m->cfg.queue_max || en->qbytes + len > NN_NET_QUEUE_MAX_BYTES;
    CHECK(e == (full ? NN_ERR_NOSPACE : NN_OK));
    CHECK(nn_net_stats(m->n)->queue_dropped == qd0 + (uint64_t)full);
    m->q_full += (uint64_t)full;
    if (!full) {
      m->q_ok++;
      en->qn++;
      en->qbytes += len;
      fifo_push(en, tag, len, kind, 1);
    }
  } else {
    CHECK(e == (len > in.chan->peer_max_message ? NN_ERR_TOO_LONG : NN_OK));
    if (e == NN_OK)
      fifo_push(en, tag, len, kind, 0);
  }
}

static void
op_close(int mi, uint64_t s, uint8_t reason)
{
  mgr_t *m = &g.m[mi];
  nn_net_conn_info_t in, after;
  int ex = info_of(m, s, &in);
  API(nn_net_close(m->n, s, (nn_close_reason_t)reason));
  if (!ex)
    return;
  CHECK(!info_of(m, s, &after) || after.closing); /* marked at once; on_down follows from the loop */
  if (!in.closing) {
    end_get(mi, s)->closed_by_us = 1;
    m->closed_unsupported += reason == NN_CLOSE_UNSUPPORTED;
  }
}

static void
op_hold(int mi, int slot, uint64_t s, int on)
{
  mgr_t *m = &g.m[mi];
  nn_net_conn_info_t in;
  int ex = info_of(m, s, &in);
  API(nn_net_hold(m->n, slot, s, on));
  if (!ex)
    return;
  end_t *e = end_get(mi, s);
  if (slot >= 0 && slot < NN_NET_MAX_PROTOCOLS) {
    if (on) {
      e->holds |= 1u << slot;
      e->hold_after_close |= (uint8_t)in.closing;
    } else {
      e->holds &= ~(1u << slot);
    }
  }
  CHECK(info_of(m, s, &in) && in.held == (e->holds != 0));
}

static void
op_penalize(int mi, uint64_t s, int points)
{
  mgr_t *m = &g.m[mi];
  nn_net_conn_info_t in;
  int ex = info_of(m, s, &in);
  uint64_t p0 = m->pen_api;
  g.penalizing = mi + 1;
  API(nn_net_penalize(m->n, s, points, "fuzz"));
  g.penalizing = 0;
  CHECK(m->pen_api == p0 + (m->policy_on && ex && points > 0));
}

/* One dial; 0 if the budget is spent (nothing was called). */
static int
dial_one(int mi, uint8_t tb, int slot)
{
  mgr_t *m = &g.m[mi];
  int ti = tb & 3, tk = (tb & 8) ? 2 + ((tb >> 2) & 1) : (tb >> 2) & 1, idm = (tb >> 4) & 3;
  int tgt = ti < g.nmgr ? ti : 3, reach = tk < m->ntr;
  int hs = reach && tgt < 3 && g.m[tgt].n && g.m[tgt].listening && tk < g.m[tgt].ntr;
  if (g.dials >= MAX_DIALS || (hs && g.hs_dials >= MAX_HS_DIALS))
    return 0;
  nn_addr_t a = addr_of(tgt, tk);
  const nn_node_id_t *id = NULL;
  if (idm == 1)
    id = tgt < 3 ? nn_identity_node_id(ids[tgt]) : &bogus_id;
  else if (idm == 2)
    id = nn_identity_node_id(ids[(tgt + 1) % 3]);
  else if (idm == 3)
    id = &bogus_id;
  nn_err_t want = NN_OK;
  if (slot < 0 || slot >= NN_NET_MAX_PROTOCOLS || !reach)
    want = NN_ERR_ARG; /* a bad handle, or no transport reaches the address */
  else if (m->policy_on && m->ban_out)
    want = NN_ERR_PERM;

  static collect_t before, after;
  collect(mi, &before, 0);
  const nn_net_stats_t *st = nn_net_stats(m->n);
  uint64_t tr0 = st->trimmed, d0 = st->dials, c = 12345;
  nn_err_t e;
  g.dialing = mi + 1;
  API(e = nn_net_dial(m->n, slot, &a, id, &c));
  g.dialing = 0;
  CHECK(e == want);
  if (e != NN_OK) {
    CHECK(c == 0 && st->dials == d0 && st->trimmed == tr0);
    return 1;
  }
  g.dials++;
  g.hs_dials += hs;
  m->ndials++;
  /* a new handle, never given out before */
  CHECK(c >= 1 && c <= MAX_SER && c > m->last_dial && !before.live[c]);
  m->last_dial = c;
  CHECK(st->dials == d0 + 1);
  nn_net_conn_info_t in;
  CHECK(info_of(m, c, &in));
  CHECK(!in.inbound && !in.established && !in.closing && !in.held && nn_addr_equal(&in.addr, &a));
  CHECK(in.has_id == (id != NULL) && (!id || !memcmp(in.id.b, id->b, NN_NODE_ID_LEN)));
  CHECK(!strcmp(in.transport, TR_NAME[tk]));
  end_t *en = learn(mi, c, &in);
  en->dialer = m->slot_ten[slot];

  /* the idle cap: what the dial trimmed was unheld, established, outbound, and used less
   * recently than every unheld established outbound channel left open */
  collect(mi, &after, 0);
  unsigned trimmed = 0, idle = 0, eligible = 0;
  uint64_t newest_trimmed = 0, oldest_left = UINT64_MAX;
  for (uint64_t s = 1; s <= MAX_SER; s++) {
    if (!after.live[s] || after.in[s].closing || after.in[s].inbound || after.in[s].held)
      continue;
    idle++;
    if (after.in[s].established) {
      eligible++;
      if (after.in[s].last_used_ms < oldest_left)
        oldest_left = after.in[s].last_used_ms;
    }
  }
  for (uint64_t s = 1; s <= MAX_SER; s++) {
    nn_net_conn_info_t now;
    if (!before.live[s] || before.in[s].closing)
      continue;
    CHECK(info_of(m, s, &now));
    if (!now.closing)
      continue;
    trimmed++;
    CHECK(!now.inbound && now.established && !before.in[s].held);
    if (before.in[s].last_used_ms > newest_trimmed)
      newest_trimmed = before.in[s].last_used_ms;
  }
  CHECK(!trimmed || newest_trimmed <= oldest_left);
  CHECK(st->trimmed == tr0 + trimmed);
  m->ntrimmed += trimmed;
  CHECK(idle <= m->cfg.max_idle_outbound || eligible == 0);
  return 1;
}

/* T bits 6-7: 1, 2, 8 or 70 dials (repeats only to where no handshake follows). */
static void
op_dial(int mi, uint8_t tb, int slot)
{
  static const int reps[4] = { 1, 2, 8, 70 };
  for (int i = 0; i < reps[tb >> 6] && g.m[mi].n; i++) {
    int hs0 = g.hs_dials;
    if (!dial_one(mi, tb, slot) || g.hs_dials != hs0)
      break;
  }
}

/* --- checks after every step -------------------------------------------------------------------- */

static int
id_eq(const nn_net_conn_info_t *in, const nn_node_id_t *id)
{
  return in->has_id && !memcmp(in->id.b, id->b, NN_NODE_ID_LEN);
}

static void
check_mgr(int mi)
{
  mgr_t *m = &g.m[mi];
  static collect_t k;
  static nn_net_conn_info_t in[MAX_SER + 1];
  uint8_t ex[MAX_SER + 1] = { 0 };
  unsigned conns = 0, inbound = 0, open = 0, half = 0;
  const nn_net_stats_t *st = nn_net_stats(m->n);

  CHECK(!info_of(m, 0, &in[0]) && !info_of(m, UINT64_MAX, &in[0]));
  CHECK(nn_net_base(m->n) == g.base && nn_net_log(m->n) == &g.log);
  collect(mi, &k, 0);
  for (uint64_t s = 1; s <= MAX_SER; s++)
    if (k.live[s])
      end_get(mi, s); /* raises max_serial */
  /* handles above the scan are never in use (the counts below would not add up) */
  int top = (int)scan_max(m);
  for (uint64_t s = MAX_SER + 1; s <= MAX_SER + 4; s++)
    CHECK(!info_of(m, s, &in[0]));
  for (int s = 1; s <= top; s++) {
    if (!(ex[s] = (uint8_t)info_of(m, (uint64_t)s, &in[s]))) {
      CHECK(!k.live[s]);
      continue;
    }
    conns++;
    inbound += (unsigned)in[s].inbound;
    CHECK(in[s].conn == (uint64_t)s);
    end_t *e = learn(mi, (uint64_t)s, &in[s]);
    CHECK(k.live[s] || in[s].closing); /* lingering after its close */
    CHECK(in[s].held == (e->holds != 0));
    size_t pend;
    API(pend = nn_net_pending(m->n, (uint64_t)s));
    CHECK(pend == in[s].pending);
    if (k.live[s]) {
      open += (unsigned)in[s].established;
      half += (unsigned)(in[s].inbound && !in[s].established && !in[s].closing); /* a closing one: slot free */
    }
  }
  CHECK(st->conns == conns && st->inbound == inbound && st->open == open && st->half_open == half);
  CHECK(st->open <= st->conns && st->half_open <= st->inbound && st->inbound <= st->conns);

  for (int s = 1; s <= top; s++) {
    if (m->ends[s] < 0)
      continue;
    end_t *e = &g.end[m->ends[s]];
    if (e->closed_by_us)
      CHECK(!ex[s] || in[s].closing);
    if (e->downed)
      CHECK(!k.live[s]);
    /* the dialler hears how its dial ended, unless it closed the channel itself */
    if (!k.live[s] && e->dialer >= 0 && g.ten[e->dialer].active && !e->closed_by_us)
      CHECK(e->dialer_down);
  }
  /* a tenant told of a channel hears on_down when it is reported */
  for (int ti = 0; ti < NN_NET_MAX_PROTOCOLS; ti++) {
    if (m->slot_ten[ti] < 0)
      continue;
    ten_t *t = &g.ten[m->slot_ten[ti]];
    for (int s = 1; s <= MAX_SER; s++)
      if (t->told[s])
        CHECK(k.live[s]);
  }

  /* nn_net_find: an established open channel first, else an outbound one still opening */
  for (int i = 0; i <= NMGR; i++) {
    const nn_node_id_t *id = i < NMGR ? nn_identity_node_id(ids[i]) : &bogus_id;
    uint64_t r1, r0;
    int est = 0, opening = 0;
    API(r1 = nn_net_find(m->n, id, 1));
    API(r0 = nn_net_find(m->n, id, 0));
    for (int s = 1; s <= top; s++) {
      if (!ex[s] || in[s].closing || !id_eq(&in[s], id))
        continue;
      est |= in[s].established;
      opening |= !in[s].established && !in[s].inbound;
    }
    if (r1) {
      CHECK(r1 <= MAX_SER && ex[r1] && in[r1].established && !in[r1].closing && id_eq(&in[r1], id));
    } else {
      CHECK(!est);
    }
    if (est) {
      CHECK(r0 <= MAX_SER && ex[r0] && in[r0].established && !in[r0].closing && id_eq(&in[r0], id));
    } else if (opening) {
      CHECK(r0 <= MAX_SER && ex[r0] && !in[r0].inbound && !in[r0].closing && id_eq(&in[r0], id));
    } else {
      CHECK(r0 == 0);
    }
  }
  /* nn_net_find_addr: the listen addresses, and where dialled ends appear to come from */
  for (int i = 0; i < 32; i++) {
    nn_addr_t a = addr_of(i & 3, (i >> 2) & 3);
    if (i >= 16)
      a = from_of(a);
    uint64_t r;
    int any = 0;
    API(r = nn_net_find_addr(m->n, &a));
    for (int s = 1; s <= top; s++)
      any |= ex[s] && !in[s].closing && nn_addr_equal(&in[s].addr, &a);
    if (r)
      CHECK(r <= MAX_SER && ex[r] && !in[r].closing && nn_addr_equal(&in[r].addr, &a));
    else
      CHECK(!any);
  }

  /* counters */
  CHECK(st->dials == m->ndials && st->trimmed >= m->ntrimmed && st->handshakes >= m->nestablished);
  CHECK(st->admitted + st->refused_ip_conns + st->refused_ip_rate + st->refused_half_open + st->refused_conns +
          st->refused_group_half_open + st->refused_policy + st->refused_internal <=
        st->accepted);
  CHECK(st->cookie_required <= st->admitted && st->cookies_sent <= st->admitted);
  CHECK(st->closed[NN_CLOSE_UNSUPPORTED] <= st->unknown_kind + m->closed_unsupported);
  /* dropped: refused by a full queue, or too long for the peer once the handshake told */
  CHECK(st->queue_dropped >= m->q_full + m->q_long && st->queue_dropped <= m->q_full + m->q_ok);
  /* a newcomer over a cap closes an older channel, which goes when the loop settles it: an
   * eighth more (and one) at most in the meantime */
  const nn_net_limits_t *lm = &m->cfg.limits;
  CHECK(st->half_open <= lm->max_half_open + lm->max_half_open / 8 + 1);
  CHECK(st->inbound <= lm->max_conns + lm->max_conns / 8 + 1);
  CHECK(st->tracked_ips <= m->cfg.limits.max_tracked_ips);
  if (!(g.flags & 2))
    CHECK(st->tracked_ips == 0);
}

static void
check_state(void)
{
  for (int i = 0; i < g.nmgr; i++)
    if (g.m[i].n)
      check_mgr(i);
}

/* After the loop went quiet: every channel settled. Handshakes run on stream events alone and a
 * close reaches the other end as a CLOSE record or the end of its stream, so what is left is
 * established and open at both ends, with everything sent received. Not after a flipped byte
 * (a handshake may then wait for bytes that never come, until its timeout). */
static void
check_quiet(void)
{
  nn_net_conn_info_t in, pi;
  if (g.flipped)
    return;
  learn_all();
  for (int i = 0; i < g.nmgr; i++) {
    mgr_t *m = &g.m[i];
    for (uint64_t s = 1; m->n && s <= scan_max(m); s++) {
      if (!info_of(m, s, &in))
        continue;
      end_t *e = learn(i, s, &in), *p = partner(e);
      int pl = p && end_live(p) && info_of(&g.m[p->mgr], p->serial, &pi);
      /* Small pipes: an end whose output is above max_output stops reading; two such ends wait
       * for each other (as two peers over TCP that both stop reading would). No timer ends it. */
      if ((g.flags & 8) && (in.pending || (pl && pi.pending))) {
        g.tr.stalls++;
        continue;
      }
      CHECK(in.established && !in.closing);
      CHECK(pl && pi.established && !pi.closing);
      CHECK(e->head < 0);
    }
  }
}

/* --- the loop ------------------------------------------------------------------------------------ */

static void
turns(int n)
{
  for (int i = 0; i < n; i++)
    event_base_loop(g.base, EVLOOP_NONBLOCK);
}

static void
run_quiet(void)
{
  for (int i = 0; i < QUIET_TURNS; i++) {
    if (event_base_get_num_events(g.base, EVENT_BASE_COUNT_ACTIVE) == 0) {
      g.tr.quiets++;
      check_quiet();
      return;
    }
    event_base_loop(g.base, EVLOOP_NONBLOCK);
  }
  CHECK(!"the loop never goes quiet");
}

/* --- managers ----------------------------------------------------------------------------------- */

static void
mgr_create(int i, uint8_t a, uint8_t b)
{
  static const uint32_t maxmsg[4] = { 0, 65536, 131072, 262144 };
  static const int start[4][4] = { { 0, 1, -1 }, { 0, -1 }, { -1 }, { 0, 1, 2, -1 } };
  mgr_t *m = &g.m[i];
  nn_err_t e;
  memset(m, 0, sizeof(*m));
  m->idx = i;
  m->gen = ++g.gens;
  for (int s = 0; s < NN_NET_MAX_PROTOCOLS; s++)
    m->slot_ten[s] = -1;
  memset(m->owner, 0xff, sizeof(m->owner));
  for (int s = 0; s <= MAX_SER; s++)
    m->ends[s] = -1;
  nn_drbg_init_u64(&m->drbg, ((uint64_t)g.seed << 16) ^ ((uint64_t)i << 8) ^ (uint64_t)m->gen);
  m->rng = nn_drbg_rng(&m->drbg);

  nn_net_cfg_t *c = &m->cfg;
  nn_net_cfg_default(c);
  c->identity = (a & 0x10) ? NULL : ids[i];
  c->anonymous = !!(a & 4);
  c->require_peer_identity = !!(a & 8);
  c->network = NN_NET_REGTEST;
  c->max_message = maxmsg[a & 3];
  c->queue_max = (a & 0x20) ? 2 : 64;
  c->max_idle_outbound = (a & 0x40) ? 1 : 64;
  c->idle_ms = 0;
  if (a & 0x80)
    c->limits.load_half_open = 0;
  if (g.flags & 8)
    c->max_output = SMALL_OUTPUT;
  c->limits.ip_rate = 1000.0; /* an address's entry goes idle 1 ms after its last handshake */
  if (b & 1) {
    c->limits.max_tracked_ips = 1;
    c->limits.max_half_open = 1;
    c->limits.max_conns = 2;
    c->limits.max_per_ip = 1;
    c->limits.ip_rate = 100.0;
    c->limits.ip_burst = 1;
  }
  if (b & 2) {
    c->rekey_interval = 2;
    c->pad_to = 64;
  }
  if (b & 4)
    c->linger_ms = 1;
  if (b & 8)
    c->handshake_timeout_ms = 2;
  if (b & 16)
    c->limits.handshake_timeout_ms = 2;
  c->rng = &m->rng;
  c->log = &g.log;
  API(e = nn_net_new(&m->n, g.base, c));
  CHECK(e == NN_OK && m->n);
  m->ntr = (g.flags & 16) ? 4 : 2;
  for (int t = 0; t < m->ntr; t++) {
    m->tr[t] = pipe_transport_new(g.wire, TR_NAME[t], TR_TYPE[t]);
    CHECK(m->tr[t]);
    m->tr[t]->peer_addrs = !!(g.flags & 2);
    API(e = nn_net_add_transport(m->n, m->tr[t]));
    CHECK(e == NN_OK);
  }
  nn_net_policy_t pol = { .allowed = pol_allowed, .penalize = pol_penalize, .ctx = m };
  m->policy_on = 1;
  API(nn_net_set_policy(m->n, &pol));
  if (!(b & 0x20)) {
    for (int t = 0; t < m->ntr; t++) {
      nn_addr_t at = addr_of(i, t), bound;
      char txt[NN_ADDR_STR_MAX], why[128];
      nn_addr_format(&at, txt);
      API(e = nn_net_listen(m->n, TR_NAME[t], txt, &bound, why, sizeof(why)));
      CHECK(e == (c->identity ? NN_OK : NN_ERR_ARG));
      CHECK(e || nn_addr_equal(&bound, &at));
    }
    m->listening = c->identity != NULL;
  }
  for (int k = 0; start[b >> 6][k] >= 0; k++)
    op_register(i, RANGES[start[b >> 6][k]][0], RANGES[start[b >> 6][k]][1]);
}

static void
mgr_free(int i)
{
  mgr_t *m = &g.m[i];
  const nn_net_stats_t *st = nn_net_stats(m->n);
  learn_all(); /* the other ends may still receive what this one sent */
  g.tr.handshakes += st->handshakes;
  g.tr.unknown += st->unknown_kind;
  g.tr.cookies += st->cookies_sent;
  g.tr.trimmed += st->trimmed;
  g.tr.qdropped += st->queue_dropped;
  g.tr.refused +=
    st->refused_ip_conns + st->refused_ip_rate + st->refused_half_open + st->refused_conns + st->refused_policy;
  for (int r = 0; r < NN_NET_CLOSE_MAX; r++)
    g.tr.closed[r] += st->closed[r];
  API(nn_net_free(m->n)); /* no callbacks: the tenants stay registered until it returns */
  m->n = NULL;
  m->listening = 0;
  for (int s = 0; s < NN_NET_MAX_PROTOCOLS; s++)
    if (m->slot_ten[s] >= 0) {
      g.ten[m->slot_ten[s]].active = 0;
      m->slot_ten[s] = -1;
    }
}

static void
init_once(void)
{
  static int done;
  if (done)
    return;
  done = 1;
  for (int i = 0; i < NMGR; i++) {
    nn_mldsa_seed_t s;
    memset(s.b, 0xa0 + i, sizeof(s.b));
    if (nn_identity_from_seed(&ids[i], &s) != NN_OK)
      abort();
  }
  memset(bogus_id.b, 0x77, sizeof(bogus_id.b));
}

/* --- decoding ------------------------------------------------------------------------------------ */

static uint64_t
pick_conn(const mgr_t *m, uint8_t c)
{
  if (c == 0xff)
    return UINT64_MAX;
  if (c & 0x80)
    return c & 0x7f;
  return 1 + c % (m->max_serial ? m->max_serial : 1);
}

static int
get_len(nn_wire_reader_t *r, size_t *len)
{
  static const size_t around[3] = { 65536, 131072, 262144 };
  uint8_t l, d;
  if (nn_wire_get_u8(r, &l))
    return 0;
  if (l < 0xe0) {
    *len = l;
  } else if (l < 0xf0) {
    *len = (size_t)(l - 0xdf) * 1024;
  } else if (l < 0xfe) {
    *len = (size_t)(l - 0xef) * 4681;
  } else if (l == 0xfe) {
    if (nn_wire_get_u8(r, &d))
      return 0;
    *len = around[d % 3] + (size_t)((d / 3) % 5) - 2;
  } else {
    *len = MSG_MAX_LEN; /* a few of these fill what a lingering end discards (1 MiB) */
  }
  return 1;
}

static int
get_kind(nn_wire_reader_t *r, uint8_t *kind)
{
  uint8_t k;
  if (nn_wire_get_u8(r, &k))
    return 0;
  if (k < 0xa0) {
    *kind = (uint8_t)(0x10 + k % 0x40);
    return 1;
  }
  return nn_wire_get_u8(r, kind) == NN_OK;
}

static void
trace_run(void)
{
#ifdef FUZZ_NET_TRACE
  trace_t *t = &g.tr;
  fprintf(stderr,
          "steps %u managers %d dials %d (%d to listeners) restarts %d handshakes %llu ups %llu "
          "downs %llu delivered %llu unknown %llu cookies %llu trimmed %llu qdropped %llu refused "
          "%llu flips %llu resets %llu moves told %llu quiets %llu reacts %llu stalls %llu\n  closed:",
          g.step, g.nmgr, g.dials, g.hs_dials, g.restarts, (unsigned long long)t->handshakes,
          (unsigned long long)t->ups, (unsigned long long)t->downs, (unsigned long long)t->delivered,
          (unsigned long long)t->unknown, (unsigned long long)t->cookies, (unsigned long long)t->trimmed,
          (unsigned long long)t->qdropped, (unsigned long long)t->refused, (unsigned long long)t->flips,
          (unsigned long long)t->resets, (unsigned long long)t->moves, (unsigned long long)t->quiets,
          (unsigned long long)t->reacts, (unsigned long long)t->stalls);
  for (int r = 0; r < NN_NET_CLOSE_MAX; r++)
    if (t->closed[r])
      fprintf(stderr, " %s=%llu", nn_net_close_reason_str((nn_close_reason_t)r), (unsigned long long)t->closed[r]);
  fprintf(stderr, "\n");
#endif
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_wire_reader_t r;
  uint8_t cfg[NMGR][2];

  init_once();
  nn_wire_reader_init(&r, data, size);
  memset(&g, 0, offsetof(state_t, buf));
  if (nn_wire_get_u32(&r, &g.seed) || nn_wire_get_u8(&r, &g.flags))
    return 0;
  g.nmgr = (g.flags & 1) ? 3 : 2;
  for (int i = 0; i < g.nmgr; i++)
    if (nn_wire_get_u8(&r, &cfg[i][0]) || nn_wire_get_u8(&r, &cfg[i][1]))
      return 0;
  g.log.fn = log_sink;
  g.log.level = NN_LOG_DEBUG; /* every line formatted, none printed */

  struct event_config *ec = event_config_new();
  CHECK(ec);
  if (!(g.flags & 4))
    CHECK(event_config_set_max_dispatch_interval(ec, NULL, 1, 0) == 0); /* one callback a turn */
  g.base = event_base_new_with_config(ec);
  event_config_free(ec);
  CHECK(g.base);
  g.wire = pipe_wire_new(g.base);
  CHECK(g.wire);
  if (g.flags & 8)
    pipe_wire_set_cap(g.wire, SMALL_PIPE);
  for (int i = 0; i < g.nmgr; i++)
    mgr_create(i, cfg[i][0], cfg[i][1]);
  check_state();

  for (g.step = 0; g.step < MAX_STEPS; g.step++) {
    uint8_t op, mb, c, x, y;
    uint16_t pos;
    size_t len;
    if (nn_wire_get_u8(&r, &op) || nn_wire_get_u8(&r, &mb))
      break;
    int mi = mb % g.nmgr;
    mgr_t *m = &g.m[mi];
#ifdef FUZZ_NET_TRACE
    fprintf(stderr, "step %u: op %u m %u (at %zu)\n", g.step, op % 16u, mb, r.off - 2);
#endif
    switch (op % 16) {
    case 0: /* dial M T P */
      if (nn_wire_get_u8(&r, &x) || nn_wire_get_u8(&r, &y))
        goto done;
      if (m->n)
        op_dial(mi, x, y % 18 - 1);
      break;
    case 1: /* send M C K L */
      if (nn_wire_get_u8(&r, &c) || !get_kind(&r, &x) || !get_len(&r, &len))
        goto done;
      if (m->n)
        op_send(mi, pick_conn(m, c), x, len);
      break;
    case 2: /* close M C reason */
      if (nn_wire_get_u8(&r, &c) || nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n)
        op_close(mi, pick_conn(m, c), x);
      break;
    case 3: /* hold M C h */
      if (nn_wire_get_u8(&r, &c) || nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n)
        op_hold(mi, (x & 0x1f) % 18 - 1, pick_conn(m, c), x >> 7);
      break;
    case 4: /* register M g */
      if (nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n) {
        uint8_t lo, hi;
        range_of(x, &lo, &hi);
        op_register(mi, lo, hi);
      }
      break;
    case 5: /* unregister M S */
      if (nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n)
        op_unregister(mi, x % 18 - 1);
      break;
    case 6: /* penalize M C points */
      if (nn_wire_get_u8(&r, &c) || nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n)
        op_penalize(mi, pick_conn(m, c), (int8_t)x);
      break;
    case 7: turns(mb % 16 + 1); break; /* turns: the manager byte is the count */
    case 8: run_quiet(); break;        /* quiet: the manager byte is unused */
    case 9:                            /* restart M a b (M's bit7: free only) */
      if (nn_wire_get_u8(&r, &x) || nn_wire_get_u8(&r, &y))
        goto done;
      if (g.restarts >= MAX_RESTARTS)
        break;
      g.restarts++;
      mi = (mb & 0x7f) % g.nmgr;
      m = &g.m[mi];
      if (m->n)
        mgr_free(mi);
      if (!(mb & 0x80))
        mgr_create(mi, x, y);
      break;
    case 10: { /* react M S x arg */
      uint8_t s, arg;
      if (nn_wire_get_u8(&r, &s) || nn_wire_get_u8(&r, &x) || nn_wire_get_u8(&r, &arg))
        goto done;
      int slot = s % 18 - 1;
      if (m->n && slot >= 0 && slot < NN_NET_MAX_PROTOCOLS) {
        react_t *rt = m->slot_ten[slot] >= 0 ? &g.ten[m->slot_ten[slot]].r : &m->pend_react[slot];
        rt->on = x & 7;
        rt->action = (uint8_t)(((x >> 3) & 15) % NACTIONS);
        rt->count = (x & 0x80) ? 4 : 1;
        rt->arg = arg;
      }
      break;
    }
    case 11: /* fault M w k pos */
      if (nn_wire_get_u8(&r, &x) || nn_wire_get_u8(&r, &y) || nn_wire_get_u16(&r, &pos))
        goto done;
      if (m->n && (y & 0x10)) {
        if (pipe_transport_fault(m->tr[(x & 3) % m->ntr], x >> 2, PIPE_FAULT_MOVE, pos))
          g.moved = 1;
      } else if (m->n &&
                 pipe_transport_fault(m->tr[(x & 3) % m->ntr], x >> 2, y & 1, pos | ((unsigned)(y >> 1) & 7) << 16)) {
        if (y & 1) {
          g.reset = 1;
          g.tr.resets++;
        } else {
          g.flipped = 1;
          g.tr.flips++;
        }
      }
      break;
    case 12: { /* wait (the manager byte is the time) */
      unsigned ms = mb % 4 + 1u;
      if (g.waited + ms > MAX_WAIT_MS)
        break;
      g.waited += ms;
      struct timeval tv = { 0, (suseconds_t)ms * 1000 };
      event_base_loopexit(g.base, &tv);
      event_base_dispatch(g.base);
      break;
    }
    case 13: /* policy M bits */
      if (nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n) {
        nn_net_policy_t pol = { .allowed = pol_allowed, .penalize = pol_penalize, .ctx = m };
        m->ban_out = x & 1;
        m->ban_in = (x >> 1) & 1;
        m->policy_on = !(x & 4);
        API(nn_net_set_policy(m->n, m->policy_on ? &pol : NULL));
      }
      break;
    case 14: { /* each-close M mask (check_state then sees them closing) */
      static collect_t k;
      if (nn_wire_get_u8(&r, &x))
        goto done;
      if (m->n)
        collect(mi, &k, x);
      break;
    }
    case 15: /* burst M C n */
      if (nn_wire_get_u8(&r, &c) || nn_wire_get_u8(&r, &x))
        goto done;
      for (int k = 0; m->n && k <= x % 8; k++)
        op_send(mi, pick_conn(m, c), (uint8_t)(0x10 + (k * 5 + x) % 0x20), (size_t)(9 + k * 3));
      break;
    }
    check_state();
  }
done:
  for (int i = 0; i < g.nmgr; i++)
    if (g.m[i].n)
      mgr_free(i);
  trace_run();
  turns(4); /* nothing may run: every stream went with its manager */
  pipe_wire_free(g.wire);
  event_base_free(g.base);
  g.wire = NULL;
  g.base = NULL;
  return 0;
}
