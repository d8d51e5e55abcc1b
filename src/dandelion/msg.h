/**
 * \file msg.h
 * \brief The transaction-gossip messages that share a secure channel with the DHT
 * (docs/PROTOCOL.md section 8). One message per channel message; the first byte is the kind.
 *
 *   0x20 HELLO    version u8 (1) | flags u8 | max_tx u32     "I relay transactions on this channel"
 *   0x21 STEM     tx bytes (1..max_tx)                        a Dandelion++ stem transaction
 *   0x22 INV      count u16 (1..NN_DLMSG_MAX_IDS) | count x 32-byte id
 *   0x23 GETDATA  count u16 (1..NN_DLMSG_MAX_IDS) | count x 32-byte id
 *   0x24 TX       tx bytes (1..max_tx)                        a fluffed transaction
 *
 * Parsing is through the bounded wire reader: every error is a value, nothing is allocated
 * (ids and tx bytes are views into the message).
 */
#ifndef NN_DANDELION_MSG_H
#define NN_DANDELION_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/types.h"

enum {
  NN_DLMSG_HELLO = 0x20,
  NN_DLMSG_STEM = 0x21,
  NN_DLMSG_INV = 0x22,
  NN_DLMSG_GETDATA = 0x23,
  NN_DLMSG_TX = 0x24,
};

#define NN_DLMSG_VERSION 1
#define NN_DLMSG_MAX_IDS 1024 /* ids per INV/GETDATA: 32 KiB */
#define NN_DLMSG_HELLO_LEN 7
#define NN_DLMSG_HELLO_FULL 0x01u   /* flags: refused, no slot (the channel carries no gossip) */
#define NN_DLMSG_HELLO_MIXNET 0x02u /* flags: the sender speaks the mixnet (kinds 0x30..0x3f) here */
#define NN_DLMSG_HELLO_KNOWN 0x03u  /* all flags this version defines */

typedef struct nn_dlmsg_t {
  uint8_t kind;
  /* HELLO */
  uint8_t version, flags;
  uint32_t max_tx;
  /* STEM, TX: a view into the message */
  const uint8_t *tx;
  size_t tx_len;
  /* INV, GETDATA: a view into the message, count ids of NN_HASH_LEN bytes each */
  const uint8_t *ids;
  size_t count;
} nn_dlmsg_t;

/**
 * Parse one message. NN_ERR_FORMAT for an unknown kind, a zero count, a count above the cap,
 * unknown HELLO flags or a HELLO version this build does not speak (NN_ERR_VERSION); NN_ERR_TOO_LONG
 * for a transaction above \a max_tx; NN_ERR_TRUNCATED / NN_ERR_TRAILING for a length mismatch.
 */
nn_err_t nn_dlmsg_parse(nn_dlmsg_t *m, const uint8_t *msg, size_t len, size_t max_tx);

/** One id of a parsed INV/GETDATA. */
void nn_dlmsg_id(const nn_dlmsg_t *m, size_t i, nn_hash_t *id);

/** HELLO into \a out (NN_DLMSG_HELLO_LEN bytes). */
void nn_dlmsg_hello(uint8_t out[NN_DLMSG_HELLO_LEN], uint8_t flags, uint32_t max_tx);
/** INV or GETDATA of \a count ids (1..NN_DLMSG_MAX_IDS) into \a out (3 + 32 * count bytes). */
nn_err_t nn_dlmsg_ids(uint8_t *out, size_t cap, size_t *len, uint8_t kind, const nn_hash_t *ids, size_t count);

#endif
