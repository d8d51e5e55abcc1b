/**
 * \file sam.h
 * \brief An I2P SAM v3.1 client as a sans-I/O core, one per SAM socket: the session socket, and
 * one socket per stream (STREAM CONNECT or STREAM ACCEPT), as SAM v3 wants (docs/PROTOCOL.md
 * 11.3). The same exchanges as Bitcoin Core's i2p.cpp, with i2pd or Java I2P:
 *
 *   every socket:  HELLO VERSION MIN=3.1 MAX=3.1        -> HELLO REPLY RESULT=OK VERSION=3.1
 *   session:       DEST GENERATE SIGNATURE_TYPE=7       -> DEST REPLY PUB=... PRIV=...  (no key yet)
 *                  SESSION CREATE STYLE=STREAM ID=<id> DESTINATION=<PRIV|TRANSIENT>
 *                    SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0 inbound.quantity=N outbound.quantity=N
 *                                                       -> SESSION STATUS RESULT=OK DESTINATION=<PRIV>
 *   connect:       STREAM CONNECT ID=<id> DESTINATION=<peer's destination> SILENT=false
 *                                                       -> STREAM STATUS RESULT=OK, then the stream
 *   accept:        STREAM ACCEPT ID=<id> SILENT=false   -> STREAM STATUS RESULT=OK, then a line with
 *                                                          the peer's destination, then the stream
 *   lookup:        NAMING LOOKUP NAME=<x.b32.i2p>       -> NAMING REPLY RESULT=OK NAME=... VALUE=<dest>
 *                  (on the session socket, once the session is up)
 *
 * Destinations travel in I2P's base64 (alphabet A-Z a-z 0-9 - ~). A destination is the first
 * 387 + certificate-length bytes of a private key blob (the certificate length is the big-endian
 * u16 at offset 385); its .b32.i2p name is the base32 of its SHA-256 (nn_sam_dest_addr).
 *
 * Hostile input (a wrong port, a confused router): replies are single lines, capped at
 * NN_SAM_MAX_LINE; a reply must be the one the step waits for (its first two words), with
 * RESULT=OK, or the socket fails with the router's RESULT and MESSAGE; a destination must decode
 * and be long enough; bytes after the reply that opens a stream are the peer's.
 *
 * Secrets: the private key (PRIV, or the one given) is wiped in nn_sam_free; it is never in a
 * message (Bitcoin Core's rule: never log SESSION CREATE).
 *
 * Threads: none. No globals.
 */
#ifndef NN_OVERLAY_SAM_H
#define NN_OVERLAY_SAM_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"

#define NN_SAM_MAX_LINE 65536   /**< one reply line, LF included */
#define NN_SAM_MAX_KEY 4096     /**< a private key in base64 (about 884 bytes for type 7) */
#define NN_SAM_MAX_DEST 1024    /**< a destination in base64 (about 516 bytes) */
#define NN_SAM_DEST_MIN_BIN 387 /**< the shortest destination, binary */

typedef enum nn_sam_role_t {
  NN_SAM_SESSION = 1, /**< HELLO, [DEST GENERATE,] SESSION CREATE; then NAMING LOOKUPs */
  NN_SAM_CONNECT = 2, /**< HELLO, STREAM CONNECT */
  NN_SAM_ACCEPT = 3,  /**< HELLO, STREAM ACCEPT, the peer's destination */
} nn_sam_role_t;

typedef enum nn_sam_status_t {
  NN_SAM_MORE = 0,     /**< waiting: send nn_sam_output, feed the router's next bytes */
  NN_SAM_READY = 1,    /**< the session is up (nn_sam_priv, nn_sam_addr) or the stream is open */
  NN_SAM_FAILED = 2,   /**< nn_sam_why(); nn_sam_result() is the router's RESULT */
  NN_SAM_LOOKED_UP = 3 /**< a NAMING LOOKUP answered: nn_sam_lookup_dest() */
} nn_sam_status_t;

typedef struct nn_sam_cfg_t {
  nn_sam_role_t role;
  const char *session_id; /**< 1..32 characters [A-Za-z0-9_-] */
  /** SESSION: the saved private key (I2P base64), NULL to generate one (persistent) ... */
  const char *priv;
  int transient;    /**< ... or a transient destination (outbound only, not kept) */
  unsigned tunnels; /**< SESSION: inbound and outbound tunnel quantity (0: 3) */
  const char *dest; /**< CONNECT: the peer's destination (I2P base64) */
} nn_sam_cfg_t;

typedef struct nn_sam_t nn_sam_t;

nn_err_t nn_sam_new(nn_sam_t **out, const nn_sam_cfg_t *cfg);
void nn_sam_free(nn_sam_t *s);
const uint8_t *nn_sam_output(const nn_sam_t *s, size_t *len);
void nn_sam_consume(nn_sam_t *s, size_t n);
/** Bytes from the router; \a used how many were taken (at READY of a stream, the rest of \a d
 *  is the peer's). After READY of a session, answers to nn_sam_lookup come back as LOOKED_UP. */
nn_sam_status_t nn_sam_input(nn_sam_t *s, const uint8_t *d, size_t n, size_t *used);
const char *nn_sam_why(const nn_sam_t *s);
/** The router's RESULT of the failed step ("CANT_REACH_PEER", "INVALID_ID", ...; "" if none). */
const char *nn_sam_result(const nn_sam_t *s);
/** SESSION, after READY: our private key (I2P base64; save it 0600 if nn_sam_generated). */
const char *nn_sam_priv(const nn_sam_t *s);
int nn_sam_generated(const nn_sam_t *s);
/** SESSION, after READY: our .b32.i2p address (port 0); ACCEPT, after READY: the peer's. */
const nn_addr_t *nn_sam_addr(const nn_sam_t *s);
/** SESSION, after READY: look \a name ("<52>.b32.i2p") up. One at a time. */
nn_err_t nn_sam_lookup(nn_sam_t *s, const char *name);
/** The destination the last lookup found (I2P base64). */
const char *nn_sam_lookup_dest(const nn_sam_t *s);

/** Decode I2P base64 (A-Z a-z 0-9 - ~, '=' padding); the byte count, or 0 if malformed or over \a cap. */
size_t nn_i2p_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len);
/** The .b32.i2p address of a destination or a private key blob, both I2P base64 (\a is_priv:
 *  the destination is its first part). NN_ERR_FORMAT if malformed. */
nn_err_t nn_sam_dest_addr(nn_addr_t *out, const char *b64, int is_priv);

#endif
