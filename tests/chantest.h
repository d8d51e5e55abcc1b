/*
 * Fixtures of the adversarial channel suites (test_channel.c, test_record.c, test_cookie.c): a
 * pair set up from a short description, and checks of how a side must end. Everything is
 * deterministic (fixed identities, seeded RNGs). The checks use cmocka's assertions, so this
 * lives apart from chanpair.c, which has none.
 */
#ifndef NN_TESTS_CHANTEST_H
#define NN_TESTS_CHANTEST_H

#include <stddef.h>
#include <stdint.h>

#include "chanpair.h"
#include "crypto/rand.h"
#include "transport/record.h"

/* Sizes of the handshake frames (u16 length + body) as the code builds them. */
#define PARAMS (1 + 4 + 4)                                             /* flags, max_message, rekey_interval */
#define MSG1_LEN (2 + 1 + 1 + 32 + 1568 + 16 + 2)                      /* 1622 */
#define MSG2_LEN (2 + 1 + 32 + 1568 + (PARAMS + 2592 + 4627 + 2) + 16) /* 8849 */
#define MSG3_LEN (2 + 1 + (PARAMS + 2592 + 4627 + 2) + 16)             /* 7249, identified */
/* anonymous: the same 7249 bytes, its payload padded to an identified one's (issue 10, item 13:
 * a wire observer cannot tell a wallet's handshake from a node's by its size) */
#define MSG3A_LEN MSG3_LEN
#define COOKIE_LEN (2 + 1 + 16)                                            /* 19 */
#define REC_OVERHEAD (NN_REC_HDR_LEN + NN_REC_INNER_LEN + NN_AEAD_TAG_LEN) /* 23 */

typedef struct setup_t {
  int anon;                     /* initiator without identity */
  uint32_t net_i, net_r;        /* 0: regtest */
  const nn_node_id_t *expected; /* NULL: the responder's real id */
  int any_peer;                 /* initiator accepts any node id */
  int require_id;               /* responder: require_peer_identity */
  uint32_t max_i, max_r;        /* max_message */
  uint64_t rekey;               /* rekey_interval on both sides ... */
  uint64_t rekey_r;             /* ... or on the responder, if set */
  uint16_t pad_to;              /* on both sides */
  uint32_t hs_timeout;          /* both sides */
  uint32_t msg1_timeout;        /* responder */
  nn_cookie_jar_t *jar;         /* responder requires a cookie */
  const uint8_t *addr;          /* peer address bound into the cookie (default PEER_ADDR) */
  size_t addr_len;
  uint64_t seed_i, seed_r; /* RNG seeds (0: chanpair's defaults) */
  uint64_t t0;             /* clock at creation */
  uint32_t shape_ms;       /* link padding on both sides (shape_interval_ms) */
  size_t shape_max;        /* ... and its queue cap */
} setup_t;

static const setup_t STD = { 0 };

/* A cookie jar on its own deterministic generator (the struct must not move while in use). */
typedef struct jar_t {
  nn_drbg_t d;
  nn_rng_t rng;
  nn_cookie_jar_t *jar;
} jar_t;

/* Both channels of \a p created from \a s, nothing exchanged yet. */
void ct_start(pair_t *p, const setup_t *s);
/* ct_start, then the handshake run to completion on both sides. */
void ct_established(pair_t *p, const setup_t *s);
void ct_jar_open(jar_t *j, uint64_t now);
/* The side's close reason once closed (running its clock to its deadline if it still waits). */
nn_close_reason_t ct_settle(side_t *s);
/* NN_CLOSE_NONE: established and open; otherwise never established and closed with \a want. */
void ct_expect_end(side_t *s, nn_close_reason_t want, const char *who, const char *what);
/* How \a rcv must judge record-layer bytes starting with \a hdr. */
nn_close_reason_t ct_predict_record(nn_chan_t *rcv, const uint8_t hdr[NN_REC_HDR_LEN]);
/* Enough bytes from \a from to \a to to settle a record length the receiver is waiting on. */
void ct_follow_up(pair_t *p, side_t *from, side_t *to);
/* Send \a msg and take the records it became (free() them). */
uint8_t *ct_send_take(side_t *from, const void *msg, size_t len, size_t *n);
/* Feed a record the receiver must refuse with \a want, then check both sides' end states. */
void ct_record_refused(pair_t *p, side_t *from, side_t *to, const uint8_t *rec, size_t n, nn_close_reason_t want,
                       int at_header, size_t delivered, const char *what);
/* \a n pseudo-random bytes from \a seed. */
void ct_fill_pattern(uint8_t *b, size_t n, uint32_t seed);

#endif
