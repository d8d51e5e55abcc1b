/**
 * \file frag.h
 * \brief A message (a Neptune transaction, 0.3-2 MB) as the bodies of many mixnet packets, with
 * forward error correction, and its reassembly at the exit mix.
 *
 * A message of len bytes becomes k data fragments of S = body_len - 25 bytes (the last one
 * zero-padded) and p parity fragments, n = k + p <= 255, where any k of the n rebuild it: a
 * systematic Reed-Solomon code over GF(2^8) with a Cauchy matrix (Intel ISA-L's
 * gf_gen_cauchy1_matrix; docs/PROTOCOL.md 9.6 gives the code byte by byte). So a message survives
 * the loss of any p of its packets, whichever hops dropped them.
 *
 *     body = u8 0x01 || bytes[16] id || u8 deliver || u32 len || u8 k || u8 n || u8 index
 *            || bytes[S] fragment
 *
 * Sans-I/O: bytes and time in, whole messages out. The reassembler is hostile-input code (its
 * senders are anonymous by design, so no per-sender budget can exist): everything it holds is
 * capped (messages, bytes, age) and what does not fit is refused, so a flood cannot push out
 * messages already under way; only a message that stopped getting fragments (stall_ms) makes
 * room when every slot is taken. docs/PROTOCOL.md 9.6 writes the worst case down.
 */
#ifndef NN_MIXNET_FRAG_H
#define NN_MIXNET_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

#define NN_FRAG_TYPE 0x01 /* first byte of a body that is a fragment */
#define NN_FRAG_HDR_LEN 25
#define NN_FRAG_ID_LEN 16
#define NN_FRAG_MAX_DATA 200  /* k: with 30,158-byte fragments, messages up to 6.03 MB */
#define NN_FRAG_MAX_TOTAL 255 /* n */

/** What the exit does with a message. */
#define NN_FRAG_TO_DANDELION 1 /* the seed's dandelion+mixnet: into Dandelion++'s fluff */
#define NN_FRAG_TO_BROADCAST 2 /* the seed's mixnet: announced to every peer at once */

/** Fragment bytes per body. */
size_t nn_frag_shard_len(size_t body_len);
/** k for a message of \a len bytes (0 if it does not fit NN_FRAG_MAX_DATA fragments). */
size_t nn_frag_data_count(size_t body_len, size_t len);

/**
 * Split \a msg (\a len bytes) into k + \a parity bodies of \a body_len bytes each, written
 * back to back into \a out, which must hold (k + parity) * body_len bytes; \a *n gets k + parity.
 * NN_ERR_ARG if the message is empty, needs more than NN_FRAG_MAX_DATA fragments, or n > 255.
 */
nn_err_t nn_frag_split(size_t body_len, const uint8_t id[NN_FRAG_ID_LEN], uint8_t deliver, const uint8_t *msg,
                       size_t len, unsigned parity, uint8_t *out, size_t *n);

typedef struct nn_frag_hdr_t {
  uint8_t id[NN_FRAG_ID_LEN];
  uint8_t deliver;
  uint32_t len;
  uint8_t k, n, index;
  const uint8_t *fragment; /**< nn_frag_shard_len(body_len) bytes inside the body */
} nn_frag_hdr_t;

/** Parse and check a body's header (NN_ERR_FORMAT for any inconsistency, NN_ERR_TOO_LONG for a
 *  message above \a max_len). */
nn_err_t nn_frag_parse(const uint8_t *body, size_t body_len, size_t max_len, nn_frag_hdr_t *h);

/* ---- reassembly ---- */

typedef struct nn_reasm_t nn_reasm_t;

typedef struct nn_reasm_cfg_t {
  size_t body_len;     /**< the network's (30,183 at the default geometry) */
  size_t max_msg_len;  /**< largest message taken (4 MiB) */
  size_t max_messages; /**< messages under way at once (256) */
  size_t max_bytes;    /**< fragment bytes held, all messages (64 MiB) */
  uint32_t timeout_ms; /**< a message not complete this long after its first fragment is dropped (120,000) */
  uint32_t stall_ms;   /**< when every slot is taken, a message without a new fragment for this long
                            makes room for a new one (10,000) */
  size_t recent;       /**< ids of completed messages remembered, so late fragments are not a new message (1,024) */
} nn_reasm_cfg_t;

void nn_reasm_cfg_default(nn_reasm_cfg_t *cfg, size_t body_len);

typedef enum nn_reasm_result_t {
  NN_REASM_STORED = 0, /**< kept; the message is not complete yet */
  NN_REASM_COMPLETE,   /**< this fragment completed the message: *msg is it */
  NN_REASM_DUPLICATE,  /**< this index of this message is here already */
  NN_REASM_LATE,       /**< the message was completed (or expired) already */
  NN_REASM_BAD,        /**< not a valid fragment */
  NN_REASM_MISMATCH,   /**< valid, but its len, k, n or deliver differ from the message's first fragment */
  NN_REASM_FULL,       /**< max_messages or max_bytes reached: refused */
  NN_REASM_RESULTS
} nn_reasm_result_t;

const char *nn_reasm_result_name(nn_reasm_result_t r);

nn_err_t nn_reasm_new(nn_reasm_t **out, const nn_reasm_cfg_t *cfg);
void nn_reasm_free(nn_reasm_t *r);

/** Take one body. On NN_REASM_COMPLETE, \a *msg (malloc'd, the caller frees it), \a *len and
 *  \a *deliver are the message. */
nn_reasm_result_t nn_reasm_add(nn_reasm_t *r, const uint8_t *body, uint64_t now_ms, uint8_t **msg, size_t *len,
                               uint8_t *deliver);
/** Drop messages older than timeout_ms. */
void nn_reasm_tick(nn_reasm_t *r, uint64_t now_ms);
/** When nn_reasm_tick must next run (UINT64_MAX: nothing under way). */
uint64_t nn_reasm_deadline(const nn_reasm_t *r);

typedef struct nn_reasm_stats_t {
  size_t messages, bytes; /**< under way now */
  uint64_t completed, expired;
  uint64_t evicted; /**< stalled messages that made room for new ones */
  uint64_t results[NN_REASM_RESULTS];
} nn_reasm_stats_t;
void nn_reasm_stats(const nn_reasm_t *r, nn_reasm_stats_t *st);

#endif
