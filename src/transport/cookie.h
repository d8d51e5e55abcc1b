/**
 * \file cookie.h
 * \brief Stateless DoS cookies for responders under load (WireGuard's mac2 idea, over TCP).
 *
 * cookie = SHA3-256(secret || u32 network || peer address || initiator's ephemeral keys)[0..16).
 * A responder that is under load answers a first message without a valid cookie with a cookie and
 * nothing else: no KEM, no signature, no state beyond the connection. The initiator repeats its
 * first message with the cookie, proving it receives at its address and spending a round trip.
 */
#ifndef NN_TRANSPORT_COOKIE_H
#define NN_TRANSPORT_COOKIE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "nepnet/channel.h"
#include "crypto/rand.h"

#define NN_COOKIE_LEN 16
#define NN_COOKIE_ROTATE_MS 120000

/* One jar serves every responder channel of a listener, and those channels may take their
 * handshake steps on worker threads (src/net/workers.h) while the loop rotates the secrets: the
 * secrets are read and rotated under the lock. */
struct nn_cookie_jar_t {
  pthread_mutex_t mu;
  uint8_t secret[2][32]; /* [0] current, [1] previous */
  uint64_t rotated_ms;
  const nn_rng_t *rng;
};

nn_err_t nn_cookie_make(const nn_cookie_jar_t *j, int which, uint32_t network, const uint8_t *addr, size_t addrlen,
                        const uint8_t *keys, size_t keyslen, uint8_t out[NN_COOKIE_LEN]);
/** NN_OK if \a cookie was made by the current or previous secret for these inputs. */
nn_err_t nn_cookie_check(const nn_cookie_jar_t *j, uint32_t network, const uint8_t *addr, size_t addrlen,
                         const uint8_t *keys, size_t keyslen, const uint8_t cookie[NN_COOKIE_LEN]);

#endif
