/**
 * \file nepnet/channel.h
 * \brief The post-quantum secure channel, as a sans-I/O state machine.
 *
 * A channel is one side of one connection. It never touches a socket, a clock or a random
 * source by itself: the caller feeds it received bytes (nn_chan_recv) and the current time,
 * takes the bytes it wants to send (nn_chan_output / nn_chan_output_consume), asks when it next
 * needs a tick (nn_chan_deadline), and hears about results through two callbacks (which must not
 * free the channel: free it after nn_chan_recv/nn_chan_tick returns). The same core
 * runs over TCP (src/transport/tcp.c), in the simulator, and over Tor/I2P streams.
 *
 * Handshake: fresh X25519 + ML-KEM-1024 per connection (forward secrecy), every byte bound into
 * the key schedule, ML-DSA-87 signatures over the transcript authenticate the responder against
 * the node id the initiator expects, and the initiator too unless it chose to stay anonymous.
 * Identities travel only inside encryption. docs/PROTOCOL.md section 5 has the bytes.
 */
#ifndef NEPNET_CHANNEL_H
#define NEPNET_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "nepnet/types.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The shared library exports these and nothing else (it is built with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/** Network magics: nodes of different networks cannot complete a handshake. */
#define NN_NET_MAINNET 0x4e455031u /* "NEP1" */
#define NN_NET_TESTNET 0x4e455054u /* "NEPT" */
#define NN_NET_REGTEST 0x4e455052u /* "NEPR" */

#define NN_CHAN_DEFAULT_MAX_MESSAGE (8u << 20) /* 8 MiB: STARK-proof transactions are 0.3-2 MB */
/** The smallest max_message a channel may announce (one record's content): a peer that announces
 *  less is refused in the handshake, so every message of up to 64 KiB can be sent to any peer. */
#define NN_CHAN_MIN_MAX_MESSAGE 65536u
#define NN_CHAN_DEFAULT_HS_TIMEOUT_MS 10000

typedef struct nn_chan_t nn_chan_t;
typedef struct nn_cookie_jar_t nn_cookie_jar_t;
struct nn_rng_t;

typedef enum nn_chan_role_t { NN_CHAN_INITIATOR = 0, NN_CHAN_RESPONDER = 1 } nn_chan_role_t;

/** Why a channel closed; sent to the peer in a CLOSE record once keys exist. */
typedef enum nn_close_reason_t {
  NN_CLOSE_NONE = 0,
  NN_CLOSE_LOCAL = 1,        /**< this side closed normally */
  NN_CLOSE_PEER = 2,         /**< the peer closed normally */
  NN_CLOSE_PROTOCOL = 3,     /**< malformed or unexpected message */
  NN_CLOSE_AUTH = 4,         /**< decryption or signature failure: tampering, or another network */
  NN_CLOSE_WRONG_ID = 5,     /**< the responder is not the node the initiator asked for */
  NN_CLOSE_TIMEOUT = 6,      /**< the handshake did not finish in time */
  NN_CLOSE_TOO_LARGE = 7,    /**< a record or message above the configured maximum */
  NN_CLOSE_ID_REQUIRED = 8,  /**< the responder requires an identified initiator */
  NN_CLOSE_VERSION = 9,      /**< unsupported protocol version */
  NN_CLOSE_INTERNAL = 10,    /**< out of memory or a crypto library failure */
  NN_CLOSE_COOKIE = 11,      /**< the responder is under load and the retry carried a bad cookie */
  NN_CLOSE_UNSUPPORTED = 12, /**< a message of a kind the receiver does not speak */
  NN_CLOSE_SLOW = 13,        /**< a budget for this peer ran out: it left our replies unread, or a
                                  message it started did not finish in time */
} nn_close_reason_t;

const char *nn_close_reason_str(nn_close_reason_t r);

/** What the channel reports besides messages. */
typedef enum nn_chan_event_t {
  NN_CHAN_EV_ESTABLISHED = 1, /**< handshake complete; nn_chan_info() is valid */
  NN_CHAN_EV_CLOSED = 2,      /**< closed; nn_chan_close_reason() says why; flush output, then drop */
} nn_chan_event_t;

/** Content bytes of every record of a shaped channel (shape_interval_ms): a decoy's padding can
 *  be no larger, so neither can a data record's content plus padding. */
#define NN_CHAN_SHAPE_CONTENT 1024

typedef struct nn_chan_config_t {
  nn_chan_role_t role;
  uint32_t network; /**< NN_NET_* */
  /** Our identity. NULL for an anonymous initiator; a responder must have one. */
  const nn_identity_t *identity;
  /** Initiator: the node id the responder must prove. NULL accepts any node id (bootstrap from a
   *  bare address only; the id learned is reported in nn_chan_info). */
  const nn_node_id_t *expected_peer;
  /** Responder: refuse anonymous initiators. */
  int require_peer_identity;
  uint32_t max_message; /**< reassembly cap, at least NN_CHAN_MIN_MAX_MESSAGE; 0 = NN_CHAN_DEFAULT_MAX_MESSAGE */
  /** Records per traffic secret in our sending direction (0 = 1024, at most 2^24). Announced in
   *  the handshake: the peer ratchets its receiving keys at the same points. */
  uint64_t rekey_interval;
  uint32_t handshake_timeout_ms; /**< 0 = NN_CHAN_DEFAULT_HS_TIMEOUT_MS */
  /** Responder: the initiator's first message (and its retry after a cookie) must be whole
   *  within this many ms of the start, or the channel closes (timeout); a connection that sends
   *  a few bytes and waits holds a half-open slot no longer. 0 = only handshake_timeout_ms. */
  uint32_t msg1_timeout_ms;
  /** Pad every data record's content up to a multiple of this many bytes (0 = no padding). */
  uint16_t pad_to;
  /** Link padding (shaped output), 0 = off: once open, the channel sends one record every
   *  this many ms, each carrying exactly NN_CHAN_SHAPE_CONTENT bytes: the next piece of the
   *  oldest queued message (padded up when it is the last piece), or a decoy when none waits.
   *  nn_chan_send queues messages for it; nn_chan_deadline says when the next record is due and
   *  nn_chan_tick makes it. A link observer sees records of one size at one rate whether or not
   *  anything is sent (Monero's noise mode, per record). */
  uint32_t shape_interval_ms;
  /** With shape_interval_ms: message bytes queued at most (0 = twice max_message); beyond,
   *  nn_chan_send answers NN_ERR_NOSPACE. */
  size_t shape_queue_max;
  /** Responder under load: the cookie jar and the peer's address (bound into the cookie). */
  nn_cookie_jar_t *cookies;
  const uint8_t *peer_addr;
  size_t peer_addr_len;
  int require_cookie;         /**< answer a first message without a valid cookie with a cookie */
  const struct nn_rng_t *rng; /**< NULL: OpenSSL's CSPRNG */
  /** A complete message arrived; \a msg is valid only during the call. */
  void (*on_message)(void *ctx, const uint8_t *msg, size_t len);
  void (*on_event)(void *ctx, nn_chan_event_t ev);
  void *ctx;
} nn_chan_config_t;

/** What was negotiated, valid from NN_CHAN_EV_ESTABLISHED on. */
typedef struct nn_chan_info_t {
  nn_node_id_t peer_id;
  int peer_identified;    /**< 0 if the peer is an anonymous initiator */
  uint8_t session_id[32]; /**< the same on both sides: bind higher protocols to it */
  uint32_t peer_max_message;
  uint32_t rekey_interval;      /**< records per key, our sending direction */
  uint32_t peer_rekey_interval; /**< records per key, the peer's sending direction */
  uint64_t handshake_bytes_sent, handshake_bytes_received;
} nn_chan_info_t;

/** Create a channel; an initiator's first message is queued for output at once. */
nn_err_t nn_chan_new(nn_chan_t **out, const nn_chan_config_t *cfg, uint64_t now_ms);
/** Wipe every key and free; accepts NULL. */
void nn_chan_free(nn_chan_t *c);

/**
 * Feed received bytes. Consumes all of them unless the channel closes (then the rest is
 * ignored). Callbacks run from inside this call. Returns NN_OK, or the error that closed it.
 */
nn_err_t nn_chan_recv(nn_chan_t *c, const uint8_t *data, size_t len, uint64_t now_ms);
/** Queue a message (split into records as needed). Only once established. */
nn_err_t nn_chan_send(nn_chan_t *c, const uint8_t *msg, size_t len);
/** Message bytes waiting for their records (shaped channels; 0 otherwise). */
size_t nn_chan_queued(const nn_chan_t *c);
/** Queue a decoy record carrying \a len bytes of padding; the peer drops it silently. */
nn_err_t nn_chan_send_decoy(nn_chan_t *c, size_t len);
/** Close with \a reason: queues a CLOSE record if keys exist, reports NN_CHAN_EV_CLOSED. */
void nn_chan_close(nn_chan_t *c, nn_close_reason_t reason);
/** Time-driven work (handshake timeout). */
void nn_chan_tick(nn_chan_t *c, uint64_t now_ms);
/** When nn_chan_tick should next run (UINT64_MAX: never). */
uint64_t nn_chan_deadline(const nn_chan_t *c);

/** Bytes waiting to be sent. */
void nn_chan_output(const nn_chan_t *c, const uint8_t **data, size_t *len);
/** Bytes held for input not yet whole: a message in reassembly, a record or handshake frame
 *  partly received (0 when nothing is): for a driver's node-wide budget on partial input. */
size_t nn_chan_partial(const nn_chan_t *c);
void nn_chan_output_consume(nn_chan_t *c, size_t n);

int nn_chan_is_established(const nn_chan_t *c);
/** 1 once this responder has answered a first message with a DoS cookie (a cookie round). */
int nn_chan_cookie_sent(const nn_chan_t *c);
int nn_chan_is_closed(const nn_chan_t *c);
nn_close_reason_t nn_chan_close_reason(const nn_chan_t *c);
/** NULL until established (and still valid after a close that followed establishment). */
const nn_chan_info_t *nn_chan_info(const nn_chan_t *c);

/* ---- DoS cookies (responder side; one jar per listener) ---- */

/** A jar of two rotating secrets; cookies made under the current or previous secret verify. */
nn_err_t nn_cookie_jar_new(nn_cookie_jar_t **out, const struct nn_rng_t *rng, uint64_t now_ms);
/** Rotate when the current secret is older than 120 s. */
nn_err_t nn_cookie_jar_tick(nn_cookie_jar_t *j, uint64_t now_ms);
void nn_cookie_jar_free(nn_cookie_jar_t *j);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
