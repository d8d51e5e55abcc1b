/**
 * \file stunsrv.h
 * \brief The STUN server every public nepnet node runs (RFC 8489 Binding, with RFC 5780's
 * CHANGE-REQUEST, RESPONSE-ORIGIN and OTHER-ADDRESS when it has a second address), sans-I/O:
 * a datagram in, at most one answer out and the socket to send it from.
 *
 * Up to four sockets: [0] A1:P1 (the primary), [1] A1:P2, [2] A2:P1, [3] A2:P2. A request that
 * arrived on socket s is answered from s, or from s with the other address (CHANGE-REQUEST ip:
 * s ^ 2) and/or the other port (port: s ^ 1); OTHER-ADDRESS names socket 3 - s, present when that
 * socket exists. A change the server cannot make is answered 420 (RFC 5780 7.2).
 *
 * Budgets (a STUN server answers strangers; an answer must not be an amplifier or a free
 * scanner): answers per source host (a token bucket, per_source_per_s with a burst), answers in
 * all, a table of at most max_sources hosts (a full table forgets its least recently seen host),
 * and an answer no larger than 200 bytes. Everything not answered is counted by reason.
 */
#ifndef NN_NAT_STUNSRV_H
#define NN_NAT_STUNSRV_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/rand.h"
#include "lib/addr.h"

#define NN_STUNSRV_SOCKETS 4
#define NN_STUNSRV_MAX_ANSWER 200

typedef struct nn_stunsrv_cfg_t {
  nn_addr_t addr[NN_STUNSRV_SOCKETS]; /**< type 0: no such socket; [0] is required */
  uint32_t per_source_per_s;          /**< answers per second to one host (5) */
  uint32_t per_source_burst;          /**< (20) */
  uint32_t total_per_s;               /**< answers per second in all (1000), burst of one second's */
  uint32_t max_sources;               /**< hosts tracked (4096) */
  const nn_rng_t *rng;                /**< the table's hash key; NULL = CSPRNG */
} nn_stunsrv_cfg_t;

typedef struct nn_stunsrv_stats_t {
  uint64_t answered, errors_sent;    /**< success answers; error answers (420, 400) */
  uint64_t not_stun, malformed;      /**< not STUN at all; STUN with bad framing or fingerprint */
  uint64_t not_binding_request;      /**< indications, responses, other methods: ignored */
  uint64_t rate_limited, overloaded; /**< over a host's budget; over the server's */
} nn_stunsrv_stats_t;

typedef struct nn_stunsrv_t nn_stunsrv_t;

void nn_stunsrv_cfg_default(nn_stunsrv_cfg_t *cfg);
nn_err_t nn_stunsrv_new(nn_stunsrv_t **out, const nn_stunsrv_cfg_t *cfg);
void nn_stunsrv_free(nn_stunsrv_t *s);
/** A datagram that reached socket \a sock from \a from. 1 with an answer in out (*out_len bytes,
 *  to be sent to \a from from socket *out_sock), 0 if nothing is to be sent. */
int nn_stunsrv_input(nn_stunsrv_t *s, unsigned sock, const nn_addr_t *from, const uint8_t *msg, size_t len,
                     uint64_t now_ms, uint8_t out[NN_STUNSRV_MAX_ANSWER], size_t *out_len, unsigned *out_sock);
void nn_stunsrv_stats(const nn_stunsrv_t *s, nn_stunsrv_stats_t *out);

#endif
