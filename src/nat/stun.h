/**
 * \file stun.h
 * \brief STUN messages (RFC 8489), with the attributes of NAT behaviour discovery (RFC 5780) and
 * TURN (RFC 8656): a parser that checks the framing through the wire reader and keeps views into
 * the caller's buffer, a builder, MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256 and
 * FINGERPRINT. Sans-I/O: bytes in, bytes out; the transactions (retransmission, matching) are
 * the callers'.
 *
 * What the parser refuses (NN_ERR_* as noted; the datagram is then not STUN, or not usable):
 *   - fewer than 20 bytes, or more than NN_STUN_MAX_MSG (NN_ERR_TRUNCATED / NN_ERR_TOO_LONG);
 *   - a type with either of its two top bits set, a magic cookie other than 0x2112A442, a length
 *     field that is not a multiple of 4 or not the datagram's length less 20 (NN_ERR_FORMAT);
 *   - an attribute that runs past the message (NN_ERR_TRUNCATED), more than NN_STUN_MAX_ATTRS
 *     attributes (NN_ERR_TOO_LONG);
 *   - MESSAGE-INTEGRITY other than 20 bytes, MESSAGE-INTEGRITY-SHA256 outside 16-32 bytes or not a
 *     multiple of 4, FINGERPRINT other than 4 bytes, anything after FINGERPRINT (NN_ERR_FORMAT).
 * As RFC 8489 section 14.5 asks, attributes after MESSAGE-INTEGRITY other than
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored (not listed), and after
 * MESSAGE-INTEGRITY-SHA256 all but FINGERPRINT. Of an attribute present twice, the first counts.
 */
#ifndef NN_NAT_STUN_H
#define NN_NAT_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"

#define NN_STUN_MAGIC 0x2112A442u
#define NN_STUN_HDR_LEN 20
#define NN_STUN_TID_LEN 12
/* A STUN message travels in one UDP datagram; 1,500 bytes covers every message nepnet sends or
 * answers (TURN data moves in ChannelData frames, not in STUN messages). */
#define NN_STUN_MAX_MSG 1500
#define NN_STUN_MAX_ATTRS 32
#define NN_STUN_MAX_REASON 763 /* ERROR-CODE reason phrase, bytes (RFC 8489 14.8) */

/* Classes. */
#define NN_STUN_REQUEST 0
#define NN_STUN_INDICATION 1
#define NN_STUN_SUCCESS 2
#define NN_STUN_ERROR 3

/* Methods. */
#define NN_STUN_BINDING 0x001
#define NN_STUN_ALLOCATE 0x003
#define NN_STUN_REFRESH 0x004
#define NN_STUN_SEND 0x006
#define NN_STUN_DATA 0x007
#define NN_STUN_CREATE_PERMISSION 0x008
#define NN_STUN_CHANNEL_BIND 0x009

/* Attributes (RFC 8489, 5780, 8656, 8445). */
#define NN_STUN_A_MAPPED_ADDRESS 0x0001
#define NN_STUN_A_CHANGE_REQUEST 0x0003
#define NN_STUN_A_USERNAME 0x0006
#define NN_STUN_A_MESSAGE_INTEGRITY 0x0008
#define NN_STUN_A_ERROR_CODE 0x0009
#define NN_STUN_A_UNKNOWN_ATTRIBUTES 0x000A
#define NN_STUN_A_CHANNEL_NUMBER 0x000C
#define NN_STUN_A_LIFETIME 0x000D
#define NN_STUN_A_XOR_PEER_ADDRESS 0x0012
#define NN_STUN_A_DATA 0x0013
#define NN_STUN_A_REALM 0x0014
#define NN_STUN_A_NONCE 0x0015
#define NN_STUN_A_XOR_RELAYED_ADDRESS 0x0016
#define NN_STUN_A_REQUESTED_TRANSPORT 0x0019
#define NN_STUN_A_MESSAGE_INTEGRITY_SHA256 0x001C
#define NN_STUN_A_XOR_MAPPED_ADDRESS 0x0020
#define NN_STUN_A_PRIORITY 0x0024
#define NN_STUN_A_USE_CANDIDATE 0x0025
#define NN_STUN_A_PADDING 0x0026
#define NN_STUN_A_RESPONSE_PORT 0x0027
#define NN_STUN_A_SOFTWARE 0x8022
#define NN_STUN_A_ALTERNATE_SERVER 0x8023
#define NN_STUN_A_FINGERPRINT 0x8028
#define NN_STUN_A_ICE_CONTROLLED 0x8029
#define NN_STUN_A_ICE_CONTROLLING 0x802A
#define NN_STUN_A_RESPONSE_ORIGIN 0x802B
#define NN_STUN_A_OTHER_ADDRESS 0x802C

/* CHANGE-REQUEST flags (RFC 5780 7.2). */
#define NN_STUN_CHANGE_IP 0x04
#define NN_STUN_CHANGE_PORT 0x02

typedef struct nn_stun_attr_t {
  uint16_t type, len; /* len: the value's, without padding */
  uint16_t off;       /* where the value starts in the message */
} nn_stun_attr_t;

/** A parsed message: views into the buffer given to nn_stun_parse, which must outlive it. */
typedef struct nn_stun_msg_t {
  const uint8_t *buf;
  size_t len;
  uint16_t method;
  uint8_t cls;
  uint8_t tid[NN_STUN_TID_LEN];
  uint16_t nattrs;
  nn_stun_attr_t attrs[NN_STUN_MAX_ATTRS];
  int mi, mi256, fp; /* indices into attrs of MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, -1 */
} nn_stun_msg_t;

/** 1 if \a buf could be STUN (top bits, magic cookie, length): to tell STUN from other bytes on
 *  a shared socket before parsing. */
int nn_stun_is(const uint8_t *buf, size_t len);
nn_err_t nn_stun_parse(nn_stun_msg_t *m, const uint8_t *buf, size_t len);

/** The first attribute of \a type, NULL if none. */
const nn_stun_attr_t *nn_stun_find(const nn_stun_msg_t *m, uint16_t type);
static inline const uint8_t *
nn_stun_value(const nn_stun_msg_t *m, const nn_stun_attr_t *a)
{
  return m->buf + a->off;
}
/** An address attribute: XOR-MAPPED-, XOR-PEER- and XOR-RELAYED-ADDRESS are unmasked with the
 *  magic cookie and transaction id; MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS and
 *  ALTERNATE-SERVER are plain. NN_ERR_NOTFOUND if absent, NN_ERR_FORMAT if malformed. */
nn_err_t nn_stun_get_addr(const nn_stun_msg_t *m, uint16_t type, nn_addr_t *out);
/** A 4-byte attribute (LIFETIME, CHANGE-REQUEST, PRIORITY, REQUESTED-TRANSPORT ...). */
nn_err_t nn_stun_get_u32(const nn_stun_msg_t *m, uint16_t type, uint32_t *out);
/** ERROR-CODE: \a code 300-699; the reason phrase as a view (not NUL-terminated). */
nn_err_t nn_stun_get_error(const nn_stun_msg_t *m, unsigned *code, const uint8_t **reason, size_t *reason_len);

/** NN_OK if FINGERPRINT is present and right, NN_ERR_NOTFOUND if absent, NN_ERR_VERIFY if wrong. */
nn_err_t nn_stun_check_fingerprint(const nn_stun_msg_t *m);
/** MESSAGE-INTEGRITY (HMAC-SHA1) under \a key: NN_OK, NN_ERR_NOTFOUND, NN_ERR_VERIFY. The key
 *  is the password for short-term credentials, nn_stun_longterm_key's for long-term ones. */
nn_err_t nn_stun_check_integrity(const nn_stun_msg_t *m, const uint8_t *key, size_t key_len);
/** MESSAGE-INTEGRITY-SHA256 (HMAC-SHA-256, possibly truncated to 16-32 bytes) under \a key. */
nn_err_t nn_stun_check_integrity_sha256(const nn_stun_msg_t *m, const uint8_t *key, size_t key_len);
/** The long-term credential key, MD5(username ":" realm ":" password) (RFC 8489 9.2.2), for
 *  credentials already in their final form (nepnet does not apply SASLprep/OpaqueString: an
 *  ASCII password without controls is its own). */
nn_err_t nn_stun_longterm_key(uint8_t out[16], const char *username, const char *realm, const char *password);

/** A message being built into a caller's buffer. An error is kept (sticky): check it once in
 *  nn_stun_build_finish. */
typedef struct nn_stun_builder_t {
  uint8_t *buf;
  size_t cap, len;
  nn_err_t err;
} nn_stun_builder_t;

void nn_stun_build_init(nn_stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                        const uint8_t tid[NN_STUN_TID_LEN]);
/** An attribute, padded with zeros to 4 bytes. */
void nn_stun_add(nn_stun_builder_t *b, uint16_t type, const uint8_t *val, size_t len);
void nn_stun_add_u32(nn_stun_builder_t *b, uint16_t type, uint32_t v);
/** An IPv4 or IPv6 address, XOR-masked for the XOR-* types (as nn_stun_get_addr reads them). */
void nn_stun_add_addr(nn_stun_builder_t *b, uint16_t type, const nn_addr_t *a);
void nn_stun_add_error(nn_stun_builder_t *b, unsigned code, const char *reason);
void nn_stun_add_integrity(nn_stun_builder_t *b, const uint8_t *key, size_t key_len);
void nn_stun_add_integrity_sha256(nn_stun_builder_t *b, const uint8_t *key, size_t key_len);
void nn_stun_add_fingerprint(nn_stun_builder_t *b);
/** The message's length in \a len, or the first error. */
nn_err_t nn_stun_build_finish(nn_stun_builder_t *b, size_t *len);

#endif
