/**
 * \file sphinx.h
 * \brief The mixnet packet: Sphinx (Danezis and Goldberg, 2009) with a key encapsulation per hop
 * instead of a blinded Diffie-Hellman element (as Katzenpost's KEMSphinx), the KEM being the
 * hybrid X25519 + ML-KEM-1024 of the secure channel, so that a packet recorded today stays
 * unlinkable when a quantum computer arrives.
 *
 *     packet  = header || payload                                (every packet: geom.packet_len)
 *     header  = version (1) || epoch (4) || ct (1600) || beta (L) || gamma (32)
 *     beta    = the routing information of every hop still to come, encrypted in layers,
 *               L = (hops - 1) * 1669 + 5 bytes for a geometry of up to `hops` hops
 *     gamma   = HMAC-SHA-256 of everything before it, under this hop's key
 *     payload = LIONESS in layers over (32 zero bytes || body)
 *
 * A hop decapsulates ct with its key for the packet's epoch, derives its keys from the shared
 * secret, checks gamma, hands back a replay tag, decrypts beta (one slot shifts out at the front,
 * pseudorandom bytes come in at the back, so the header keeps its size), decrypts the payload one
 * LIONESS layer, and learns one command: pass the packet to node N after D ms, or deliver it
 * here. The last hop finds the 32 zero bytes at the front of the payload, or drops the packet:
 * a payload changed anywhere on the way decrypts to noise there. docs/PROTOCOL.md section 9 has
 * the byte layout, the argument for the sizes and the test vectors.
 *
 * Sans-I/O and stateless: no replay cache, no epochs, no delays here (src/mixnet/mix.c holds
 * them). The functions are thread-safe given one nn_sym_t per thread; the hybrid key is only
 * read.
 */
#ifndef NN_MIXNET_SPHINX_H
#define NN_MIXNET_SPHINX_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/hybrid.h"
#include "crypto/rand.h"
#include "crypto/sym.h"
#include "crypto/types.h"

#define NN_SPHINX_VERSION 1
/* A route is its mix layers and then the recipient: an exit node for a message, the sender
 * itself for a loop, so that the last mix forwards every packet alike (docs/PROTOCOL.md 9.1). */
#define NN_SPHINX_MAX_HOPS 6     /* 5 mix layers and the recipient */
#define NN_SPHINX_DEFAULT_HOPS 4 /* 3 mix layers and the recipient */
#define NN_SPHINX_DEFAULT_LAYERS (NN_SPHINX_DEFAULT_HOPS - 1)
#define NN_SPHINX_DEFAULT_LEN 36864                        /* docs/PROTOCOL.md 9.1 argues the size */
#define NN_SPHINX_MAX_LEN (1u << 20)                       /* a geometry larger than this is refused */
#define NN_SPHINX_PREFIX_LEN 5                             /* version, epoch */
#define NN_SPHINX_CT_LEN (NN_X25519_LEN + NN_MLKEM_CT_LEN) /* 1600 */
#define NN_SPHINX_MAC_LEN 32
#define NN_SPHINX_ZERO_LEN 32 /* zero bytes at the front of the payload, checked by the last hop */
#define NN_SPHINX_REPLAY_LEN 32
/* A forward slot: command, delay, next node, next gamma, next ct. */
#define NN_SPHINX_SLOT_LEN (1 + 4 + NN_HASH_LEN + NN_SPHINX_MAC_LEN + NN_SPHINX_CT_LEN) /* 1669 */
/* The last hop's slot: command, delay. */
#define NN_SPHINX_FINAL_LEN 5

#define NN_SPHINX_CMD_FORWARD 0x01
#define NN_SPHINX_CMD_DELIVER 0x02

/** The sizes every packet of a mixnet shares; the network fixes hops and packet_len. */
typedef struct nn_sphinx_geom_t {
  unsigned hops;      /**< the most hops a route may have (1..6): mix layers + 1 */
  size_t packet_len;  /**< every packet, on every link, at every position */
  size_t beta_len;    /**< L */
  size_t header_len;  /**< prefix + ct + beta + gamma */
  size_t payload_len; /**< packet_len - header_len */
  size_t body_len;    /**< payload_len - 32: what a packet carries */
} nn_sphinx_geom_t;

/** Fill \a g for \a hops and \a packet_len; NN_ERR_ARG if hops is outside 1..6 or the packet is
 *  too small for the header and 64 bytes of payload, or above NN_SPHINX_MAX_LEN. */
nn_err_t nn_sphinx_geom_init(nn_sphinx_geom_t *g, unsigned hops, size_t packet_len);

/** One hop of a route, as the sender sees it. */
typedef struct nn_sphinx_hop_t {
  nn_hash_t node;           /**< its node id: where the previous hop passes the packet */
  const nn_hybrid_pk_t *pk; /**< its KEM key for the packet's epoch */
  uint32_t delay_ms;        /**< how long it holds the packet before passing it on */
} nn_sphinx_hop_t;

/**
 * Build the packet for the route \a route[0..n-1] (1 <= n <= g->hops) carrying \a body
 * (exactly g->body_len bytes) into \a packet (g->packet_len bytes); the sender hands it to
 * route[0].node. Randomness from \a rng (NULL: OpenSSL's CSPRNG), drawn in the order
 * docs/PROTOCOL.md 9.4 gives: each hop's encapsulation in route order, then the last hop's
 * padding.
 */
nn_err_t nn_sphinx_build(nn_sym_t *s, const nn_sphinx_geom_t *g, uint32_t epoch, const nn_sphinx_hop_t *route, size_t n,
                         const uint8_t *body, const nn_rng_t *rng, uint8_t *packet);

/** What became of a packet at a hop. */
typedef enum nn_sphinx_verdict_t {
  NN_SPHINX_FORWARD = 0, /**< pass it to out.next after out.delay_ms */
  NN_SPHINX_DELIVER,     /**< it ends here: out.body */
  NN_SPHINX_BAD_LENGTH,  /**< not g->packet_len bytes */
  NN_SPHINX_BAD_VERSION,
  NN_SPHINX_BAD_CT,      /**< the KEM ciphertext was refused (a low-order X25519 point) */
  NN_SPHINX_BAD_MAC,     /**< gamma does not verify: not for this key, or changed */
  NN_SPHINX_BAD_COMMAND, /**< an authenticated slot with an unknown command */
  NN_SPHINX_TAGGED,      /**< last hop: the payload was changed on the way */
  NN_SPHINX_CRYPTO,      /**< OpenSSL failed: not the packet's fault */
  NN_SPHINX_VERDICTS
} nn_sphinx_verdict_t;

typedef struct nn_sphinx_out_t {
  nn_sphinx_verdict_t verdict;
  uint32_t delay_ms;                    /**< FORWARD, DELIVER */
  nn_hash_t next;                       /**< FORWARD */
  int have_replay;                      /**< set once gamma verified */
  uint8_t replay[NN_SPHINX_REPLAY_LEN]; /**< the same for every copy of this packet at this hop */
  const uint8_t *body;                  /**< DELIVER: g->body_len bytes inside the packet */
} nn_sphinx_out_t;

/** The key epoch a packet names (the caller picks the key); NN_ERR_TRUNCATED if too short. */
nn_err_t nn_sphinx_epoch(const uint8_t *packet, size_t len, uint32_t *epoch);

/**
 * Process one hop of \a packet (\a len bytes) in place with \a key. On FORWARD the packet is
 * ready to pass on as it is; on DELIVER out->body points into it. On any other verdict the
 * packet's bytes are meaningless and must be dropped, never passed on.
 */
void nn_sphinx_unwrap(nn_sym_t *s, const nn_sphinx_geom_t *g, const nn_hybrid_key_t *key, uint8_t *packet, size_t len,
                      nn_sphinx_out_t *out);

/** "forward", "bad_mac", ...: names for logs and metrics. */
const char *nn_sphinx_verdict_name(nn_sphinx_verdict_t v);

#endif
