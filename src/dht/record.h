/**
 * \file record.h
 * \brief Signed peer records: what a node publishes in the DHT so that others can reach it
 * (docs/PROTOCOL.md 6.2).
 *
 * A peer record is public by purpose: it is stored in clear, signed with the node's ML-DSA-87
 * identity key (FIPS 204 context "nepnet/v1 peer record") and verified by every reader. Nodes
 * that want to stay hidden (wallets) publish none.
 *
 * Wire form (big-endian, 7295..7568 bytes):
 *
 *     version u8 (=1) || network u32 || node_id[32] || pk[2592] || seq u64 || issued_at u64 ||
 *     expires_at u64 || flags u16 || chan_version u8 (=1) || max_message u32 ||
 *     addr_count u8 (1..8) || addr * addr_count (nn_addr_put form) || sig[4627]
 *
 * sig = ML-DSA-87.Sign(sk, context "nepnet/v1 peer record", message = every byte before sig).
 *
 * Three steps, kept apart so that a caller pays for what it needs:
 * - nn_peer_record_decode: structure only (bounded, exact length, every field in its set); cheap.
 * - nn_peer_record_verify: network, clock, node id = SHA3-256(pk), signature (~0.3 ms).
 * - nn_peer_record_newer: which of two verified records of one node replaces the other.
 */
#ifndef NN_DHT_RECORD_H
#define NN_DHT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/channel.h"
#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "nepnet/types.h"
#include "crypto/rand.h"
#include "crypto/types.h"
#include "lib/addr.h"
#include "lib/wire.h"

#define NN_PEER_RECORD_VERSION 1
#define NN_PEER_RECORD_CHAN_VERSION 1 /**< the secure channel of PROTOCOL.md section 5 */
#define NN_PEER_RECORD_CONTEXT "nepnet/v1 peer record"
#define NN_PEER_RECORD_MAX_ADDRS 8
#define NN_PEER_RECORD_MAX_LIFETIME (48u * 3600u)              /**< expires_at - issued_at, seconds */
#define NN_PEER_RECORD_MAX_SKEW 600u                           /**< issued_at may lead the reader's clock by this */
#define NN_PEER_RECORD_MIN_MAX_MESSAGE NN_CHAN_MIN_MAX_MESSAGE /**< smallest max_message a record may announce */

/* flags */
#define NN_PEER_RECORD_F_RELAY 0x0001u   /**< relays traffic for peers behind NAT */
#define NN_PEER_RECORD_F_INBOUND 0x0002u /**< accepts inbound connections at its addresses */
#define NN_PEER_RECORD_F_KNOWN (NN_PEER_RECORD_F_RELAY | NN_PEER_RECORD_F_INBOUND)

/* Sizes of the wire form. */
#define NN_PEER_RECORD_OFF_PK (1 + 4 + NN_NODE_ID_LEN)                                   /* 37 */
#define NN_PEER_RECORD_OFF_SEQ (NN_PEER_RECORD_OFF_PK + NN_MLDSA_PK_LEN)                 /* 2629 */
#define NN_PEER_RECORD_OFF_ADDRS (NN_PEER_RECORD_OFF_SEQ + 8 + 8 + 8 + 2 + 1 + 4 + 1)    /* 2661 */
#define NN_PEER_RECORD_MIN_LEN (NN_PEER_RECORD_OFF_ADDRS + 1 + 4 + 2 + NN_MLDSA_SIG_LEN) /* 7295 */
#define NN_PEER_RECORD_MAX_LEN                                                                                         \
  (NN_PEER_RECORD_OFF_ADDRS + NN_PEER_RECORD_MAX_ADDRS * NN_ADDR_WIRE_MAX + NN_MLDSA_SIG_LEN) /* 7568 */

/** A peer record, decoded (about 7.5 KB; no pointers, copy it freely). */
typedef struct nn_peer_record_t {
  uint8_t version;                           /**< NN_PEER_RECORD_VERSION */
  uint32_t network;                          /**< NN_NET_* */
  nn_node_id_t node_id;                      /**< must be SHA3-256(pk) (checked by verify) */
  nn_mldsa_pk_t pk;                          /**< the node's ML-DSA-87 identity key */
  uint64_t seq;                              /**< higher replaces lower */
  uint64_t issued_at;                        /**< unix seconds */
  uint64_t expires_at;                       /**< unix seconds; issued_at < expires_at <= issued_at + 48 h */
  uint16_t flags;                            /**< NN_PEER_RECORD_F_*; other bits must be 0 */
  uint8_t chan_version;                      /**< NN_PEER_RECORD_CHAN_VERSION */
  uint32_t max_message;                      /**< largest channel message the node accepts, >= 64 KiB */
  uint8_t n_addrs;                           /**< 1..NN_PEER_RECORD_MAX_ADDRS */
  nn_addr_t addrs[NN_PEER_RECORD_MAX_ADDRS]; /**< distinct, port != 0, unused entries zero */
  nn_mldsa_sig_t sig;
} nn_peer_record_t;

/** Why nn_peer_record_verify refused a record. */
typedef enum nn_peer_record_status_t {
  NN_PEER_RECORD_OK = 0,
  /** A field outside its defined set (only a record built by hand, not one decode accepted). */
  NN_PEER_RECORD_MALFORMED,
  NN_PEER_RECORD_WRONG_NETWORK, /**< signed for another network */
  NN_PEER_RECORD_EXPIRED,       /**< now >= expires_at: honest but stale, not misbehaviour */
  NN_PEER_RECORD_FUTURE,        /**< issued_at > now + 10 min: the signer's (or our) clock is off */
  /** node_id != SHA3-256(pk), or the signature does not verify: whoever sent it misbehaves. */
  NN_PEER_RECORD_FORGED,
  NN_PEER_RECORD_INTERNAL, /**< a crypto library failure (no verdict on the record) */
} nn_peer_record_status_t;

/** A short English description of \a s (never NULL). */
const char *nn_peer_record_status_str(nn_peer_record_status_t s);

/**
 * Zero \a rec and set what every record of this version carries: version, chan_version,
 * max_message = NN_CHAN_DEFAULT_MAX_MESSAGE. The caller then fills network, seq, the times,
 * flags and the addresses, and calls nn_peer_record_sign.
 */
void nn_peer_record_init(nn_peer_record_t *rec);

/**
 * Check every field against its defined set, as decode does (without the signature or the
 * node id, which only verify can judge). NN_OK, NN_ERR_VERSION or NN_ERR_FORMAT.
 */
nn_err_t nn_peer_record_check(const nn_peer_record_t *rec);

/**
 * Fill pk and node_id from \a identity, check the fields (nn_peer_record_check) and sign.
 * \a rng supplies FIPS 204's 32-byte rnd (NULL: the system CSPRNG). On failure the signature
 * is zeroed.
 */
nn_err_t nn_peer_record_sign(nn_peer_record_t *rec, const nn_identity_t *identity, const nn_rng_t *rng);

/** Length of the wire form of \a rec (0 if an address has an unknown type or n_addrs > 8). */
size_t nn_peer_record_encoded_len(const nn_peer_record_t *rec);
/** Largest encoding (NN_PEER_RECORD_MAX_LEN): the cap for a record inside another message. */
size_t nn_peer_record_max_len(void);

/**
 * Append the wire form of \a rec to \a w. Refuses (NN_ERR_FORMAT/NN_ERR_VERSION) a record that
 * nn_peer_record_check refuses, so nothing un-decodable is ever sent; NN_ERR_NOSPACE (sticky on
 * \a w) if it does not fit.
 */
nn_err_t nn_peer_record_encode(const nn_peer_record_t *rec, nn_wire_writer_t *w);

/**
 * Parse exactly one record from \a buf[0..len): structure only, nothing cryptographic.
 * NN_ERR_VERSION for a record version (or channel version) other than 1, NN_ERR_TRUNCATED,
 * NN_ERR_TRAILING, NN_ERR_FORMAT for a field outside its set (address count not 1..8, an unknown
 * address type, a duplicate address, port 0, reserved flag bits, lifetime not in 1 s .. 48 h,
 * max_message < 64 KiB). On failure \a rec is zeroed. A decoded record re-encodes to the same
 * bytes.
 */
nn_err_t nn_peer_record_decode(const uint8_t *buf, size_t len, nn_peer_record_t *rec);

/**
 * Decide whether \a rec may be used on \a network at \a now_unix. Checks, in this order, and
 * stops at the first failure: fields (MALFORMED), network (WRONG_NETWORK), now < expires_at
 * (EXPIRED), issued_at <= now + 10 min (FUTURE), node_id = SHA3-256(pk) and the signature
 * (FORGED). The cheap checks come first, so an expired or foreign record costs no signature
 * check (and is never reported as forged).
 *
 * Returns NN_OK (\a *why = NN_PEER_RECORD_OK); NN_ERR_FORMAT (MALFORMED); NN_ERR_VERIFY (any
 * other refusal: look at \a *why); NN_ERR_CRYPTO (INTERNAL). \a why may be NULL.
 */
nn_err_t nn_peer_record_verify(const nn_peer_record_t *rec, uint32_t network, uint64_t now_unix,
                               nn_peer_record_status_t *why);

/**
 * 1 if \a a should replace \a b, 0 otherwise (also when they are of different nodes, or equal).
 * For one node id: the higher seq wins; at equal seq the later expires_at; then the signature
 * that is larger as bytes (memcmp); then the larger encoding. A total order, so every node keeps
 * the same record whatever order copies arrive in. Compare only verified records.
 */
int nn_peer_record_newer(const nn_peer_record_t *a, const nn_peer_record_t *b);

#endif
