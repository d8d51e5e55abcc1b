/**
 * \file msg.h
 * \brief The mixnet's messages on a secure channel (docs/PROTOCOL.md 9.9). One message per
 * channel message; the first byte is the kind, in the mixnet's range 0x30..0x3f.
 *
 *   0x30 HELLO    version u8 (1) | flags u8 | hops u8 | packet_len u32 | epoch_s u32
 *                 "I speak the mixnet with this geometry and key epoch (seconds)"
 *   0x31 PACKET   bytes[packet_len]                       one Sphinx packet (9.3)
 *   0x32 RKEY     epoch u32 | key_e bytes[1600] | key_e+1 bytes[1600]
 *                 the sender's recipient keys (hybrid, 2.1), authenticated by the channel
 *   0x33 DESC     a mix descriptor (9.7), 10,437 .. 10,717 bytes
 *   0x34 DIGEST   epoch u32 | count u16 | digest bytes[32]     the sender's view of an epoch
 *   0x35 INV      epoch u32 | count u16 (1..1024) | count x 32-byte descriptor hash
 *   0x36 GETDESC  epoch u32 | count u16 (1..1024) | count x 32-byte descriptor hash
 *
 * Parsing goes through the bounded wire reader: every error is a value, nothing is allocated
 * (packets, descriptors and hash lists are views into the message). A PACKET is refused unless
 * it is exactly the geometry's size, before anything looks inside it.
 */
#ifndef NN_MIXNET_MSG_H
#define NN_MIXNET_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/hybrid.h"
#include "crypto/types.h"

enum {
  NN_MXMSG_HELLO = 0x30,
  NN_MXMSG_PACKET = 0x31,
  NN_MXMSG_RKEY = 0x32,
  NN_MXMSG_DESC = 0x33,
  NN_MXMSG_DIGEST = 0x34,
  NN_MXMSG_INV = 0x35,
  NN_MXMSG_GETDESC = 0x36,
};

#define NN_MXMSG_VERSION 1
#define NN_MXMSG_HELLO_LEN 12
#define NN_MXMSG_RKEY_LEN (1 + 4 + 2 * 1600)
#define NN_MXMSG_DIGEST_LEN (1 + 4 + 2 + 32)
#define NN_MXMSG_MAX_HASHES 1024
#define NN_MXMSG_HELLO_MIX 0x01u   /* flags: this node is a mix (it has a descriptor) */
#define NN_MXMSG_HELLO_EXIT 0x02u  /* flags: it takes messages as an exit */
#define NN_MXMSG_HELLO_KNOWN 0x03u /* all flags this version defines */

typedef struct nn_mxmsg_t {
  uint8_t kind;
  /* HELLO */
  uint8_t version, flags, hops;
  uint32_t packet_len, epoch_s;
  /* RKEY, DIGEST, INV, GETDESC */
  uint32_t epoch;
  nn_hybrid_pk_t keys[2]; /* RKEY */
  uint16_t count;         /* DIGEST: the view's size; INV, GETDESC: hashes */
  nn_hash_t digest;       /* DIGEST */
  /* PACKET, DESC: a view into the message; INV, GETDESC: count x 32 bytes */
  const uint8_t *data;
  size_t data_len;
} nn_mxmsg_t;

/**
 * Parse one message. \a packet_len is the geometry's packet size (a PACKET of another size is
 * NN_ERR_FORMAT). NN_ERR_FORMAT also for an unknown kind, unknown HELLO flags, a zero count or
 * one above the cap; NN_ERR_VERSION for a HELLO version this build does not speak;
 * NN_ERR_TOO_LONG for a descriptor above its largest size; NN_ERR_TRUNCATED / NN_ERR_TRAILING
 * for a length mismatch.
 */
nn_err_t nn_mxmsg_parse(nn_mxmsg_t *m, const uint8_t *msg, size_t len, size_t packet_len);

/** One hash of a parsed INV/GETDESC. */
void nn_mxmsg_hash(const nn_mxmsg_t *m, size_t i, nn_hash_t *h);

void nn_mxmsg_hello(uint8_t out[NN_MXMSG_HELLO_LEN], uint8_t flags, uint8_t hops, uint32_t packet_len,
                    uint32_t epoch_s);
void nn_mxmsg_rkey(uint8_t out[NN_MXMSG_RKEY_LEN], uint32_t epoch, const nn_hybrid_pk_t *key_e,
                   const nn_hybrid_pk_t *key_next);
void nn_mxmsg_digest(uint8_t out[NN_MXMSG_DIGEST_LEN], uint32_t epoch, uint16_t count, const nn_hash_t *digest);
/** INV or GETDESC of \a count hashes (1..1024) into \a out (7 + 32 * count bytes). */
nn_err_t nn_mxmsg_hashes(uint8_t *out, size_t cap, size_t *len, uint8_t kind, uint32_t epoch, const nn_hash_t *h,
                         size_t count);
/** The kind byte, then \a len bytes of \a data (a PACKET or a DESC) into \a out (1 + len bytes). */
nn_err_t nn_mxmsg_wrap(uint8_t *out, size_t cap, size_t *olen, uint8_t kind, const uint8_t *data, size_t len);

#endif
