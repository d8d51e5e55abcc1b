/**
 * \file chan_int.h
 * \brief Internals shared by the channel (framing, records, API) and the handshake steps.
 */
#ifndef NN_TRANSPORT_CHAN_INT_H
#define NN_TRANSPORT_CHAN_INT_H

#include "nepnet/channel.h"
#include "crypto/hybrid.h"
#include "crypto/sha3.h"
#include "lib/wire.h"
#include "transport/record.h"

#define NN_HS_VERSION 1
#define NN_HS_FRAME_HDR 2
#define NN_HS_MAX_FRAME 16384 /* largest handshake body accepted (msg2 is 8843 bytes) */
#define NN_HS_MAX_PAD 7424    /* an anonymous P3 pads 7219 bytes; msg2 + this stays within NN_HS_MAX_FRAME */

enum {
  NN_HS_MSG1 = 0x01,
  NN_HS_COOKIE = 0x02,
  NN_HS_MSG2 = 0x03,
  NN_HS_MSG3 = 0x04,
};

typedef enum nn_chan_state_t {
  NN_ST_I_WAIT_MSG2,
  NN_ST_R_WAIT_MSG1,
  NN_ST_R_WAIT_MSG3,
  NN_ST_OPEN,
  NN_ST_CLOSED,
} nn_chan_state_t;

/* Handshake-only state: allocated at start, wiped and freed once the channel is open. */
typedef struct nn_hs_t {
  nn_hybrid_key_t eph; /* initiator's ephemeral hybrid key pair */
  uint8_t *msg1;       /* the msg1 frame this side sent or accepted (transcript input) */
  size_t msg1_len;
  nn_sha3_t th; /* running transcript hash */
  nn_secret_t prk_hs;
  nn_aead_key_t k_r2i, k_i2r;
  nn_aead_nonce_t iv_r2i, iv_i2r;
  nn_hash_t th2; /* AEAD associated data of msg3 */
  int cookie_sent;
} nn_hs_t;

struct nn_chan_t {
  nn_chan_config_t cfg;
  nn_chan_state_t st;
  int was_open; /* reached NN_ST_OPEN at some point: info stays valid after close */
  nn_close_reason_t reason;
  uint64_t deadline;
  uint64_t msg1_deadline; /* responder: the first message must be whole by then */
  nn_hs_t *hs;
  nn_rec_dir_t tx, rx;
  nn_chan_info_t info;
  /* input assembly: one frame or record at a time */
  uint8_t *in;
  size_t in_len, in_cap;
  /* output queue */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  /* message reassembly */
  nn_wire_writer_t msg;
  int msg_active;
  /* shaped output (cfg.shape_interval_ms): messages waiting for their records */
  struct nn_chan_smsg_t *sq, **sq_tail;
  size_t sq_bytes, sq_max;
  uint64_t next_slot_ms; /* 0: the first record goes at the first tick */
};

typedef struct nn_chan_smsg_t {
  struct nn_chan_smsg_t *next;
  size_t len, off;
  uint8_t b[];
} nn_chan_smsg_t;

/* channel.c */
nn_err_t nn_chan_out_reserve(nn_chan_t *c, size_t n, uint8_t **p);
void nn_chan_fail(nn_chan_t *c, nn_close_reason_t reason);
void nn_chan_established(nn_chan_t *c);

/* handshake.c */
nn_err_t nn_hs_start_initiator(nn_chan_t *c);
/** Handle one handshake frame body; on failure the channel is closed with a reason. */
void nn_hs_on_frame(nn_chan_t *c, const uint8_t *body, size_t len);
void nn_hs_free(nn_hs_t *hs);

#endif
