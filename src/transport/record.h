/**
 * \file record.h
 * \brief The record layer of the secure channel, one direction at a time (docs/PROTOCOL.md 5.4).
 *
 * A record on the wire is
 *
 *   enc_len (3) || AES-256-GCM(key, iv XOR seq, aad = enc_len, type || u24 content_len || content || padding)
 *
 * where enc_len = u24(ciphertext length) XOR the first 3 bytes of AES-256(len_key, u64(seq) || 0^8):
 * a passive observer sees no message boundaries. The length is checked against the hard maximum
 * before anything is allocated or decrypted. The counter is implicit; each direction moves to a
 * new traffic secret (forward-secure ratchet) every rekey_interval records.
 */
#ifndef NN_TRANSPORT_RECORD_H
#define NN_TRANSPORT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/aead.h"
#include "crypto/aesblock.h"
#include "crypto/types.h"

#define NN_REC_HDR_LEN 3
#define NN_REC_INNER_LEN 4 /* type (1) + content length (3) */
#define NN_REC_MAX_CONTENT 65536
#define NN_REC_MAX_PAD 1024
#define NN_REC_MAX_PT (NN_REC_INNER_LEN + NN_REC_MAX_CONTENT + NN_REC_MAX_PAD)
#define NN_REC_MIN_CT (NN_REC_INNER_LEN + NN_AEAD_TAG_LEN)
#define NN_REC_MAX_CT (NN_REC_MAX_PT + NN_AEAD_TAG_LEN)
#define NN_REC_DEFAULT_REKEY 1024 /* records per traffic secret */

typedef enum nn_rec_type_t {
  NN_REC_PAD = 0,       /* decoy: dropped silently by the receiver */
  NN_REC_DATA_MORE = 1, /* a message fragment; more follow */
  NN_REC_DATA_END = 2,  /* the last (or only) fragment of a message */
  NN_REC_CLOSE = 3,     /* u8 reason, then a short UTF-8 text */
} nn_rec_type_t;

typedef struct nn_rec_dir_t {
  nn_secret_t secret; /* current traffic secret */
  nn_aead_t aead;
  nn_aesblock_t lenc;
  nn_aead_nonce_t iv;
  uint64_t seq;   /* records under the current secret */
  uint64_t epoch; /* ratchet steps taken */
  uint64_t rekey_interval;
} nn_rec_dir_t;

/** Start a direction from its initial traffic secret. */
nn_err_t nn_rec_dir_init(nn_rec_dir_t *d, const nn_secret_t *traffic_secret, uint64_t rekey_interval);
/** Wipe keys and free contexts; safe on a zeroed struct. */
void nn_rec_dir_clear(nn_rec_dir_t *d);

/** Bytes on the wire for a record carrying \a content bytes and \a pad bytes of padding. */
static inline size_t
nn_rec_wire_len(size_t content, size_t pad)
{
  return NN_REC_HDR_LEN + NN_REC_INNER_LEN + content + pad + NN_AEAD_TAG_LEN;
}

/**
 * Seal one record into \a out (nn_rec_wire_len(len, pad) bytes). The content is encrypted from
 * where it lies, without an intermediate copy.
 */
nn_err_t nn_rec_seal(nn_rec_dir_t *d, nn_rec_type_t type, const uint8_t *content, size_t len, size_t pad, uint8_t *out);

/**
 * Decode the length of the next record from its 3 header bytes: \a *ct_len is the number of
 * bytes that follow. NN_ERR_TOO_LONG / NN_ERR_FORMAT for a length outside the legal range, found
 * before anything is allocated.
 */
nn_err_t nn_rec_open_header(nn_rec_dir_t *d, const uint8_t hdr[NN_REC_HDR_LEN], size_t *ct_len);

/**
 * Authenticate and decrypt a record in place. On success \a *type, \a *content and \a *len
 * describe it (content points into \a ct). NN_ERR_VERIFY on any tampering, replay, reordering
 * or loss (the implicit counter no longer matches); NN_ERR_FORMAT on a bad inner header.
 */
nn_err_t nn_rec_open(nn_rec_dir_t *d, const uint8_t hdr[NN_REC_HDR_LEN], uint8_t *ct, size_t ct_len, uint8_t *type,
                     const uint8_t **content, size_t *len);
/**
 * The same, decrypting from \a ct (left untouched) into \a out (ct_len - 16 bytes; may equal
 * \a ct): lets the channel open a record straight from the caller's receive buffer.
 */
nn_err_t nn_rec_open_to(nn_rec_dir_t *d, const uint8_t hdr[NN_REC_HDR_LEN], const uint8_t *ct, size_t ct_len,
                        uint8_t *out, uint8_t *type, const uint8_t **content, size_t *len);

#endif
