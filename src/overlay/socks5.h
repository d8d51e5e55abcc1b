/**
 * \file socks5.h
 * \brief A SOCKS5 client (RFC 1928, with RFC 1929 username/password) as a sans-I/O core: how a
 * node reaches an onion service, or any address, through Tor's SocksPort (docs/PROTOCOL.md 11.1).
 *
 * One exchange per stream, in the order RFC 1928 sets (each step waits for the answer to the
 * last, since a proxy may close on bytes it did not ask for):
 *
 *   greeting  05 01 M                          M = 02 with credentials, else 00
 *   auth      01 ulen user plen pass           (M = 02 only) -> 01 00
 *   connect   05 01 00 ATYP addr port          ATYP 03 for an onion name, 01 IPv4, 04 IPv6
 *   reply     05 REP 00 ATYP bound port        REP 00: the stream is open
 *
 * Credentials are how Tor isolates streams (IsolateSOCKSAuth, on by default): a node gives each
 * stream its own random username and password, so that no two peers share a circuit.
 *
 * Tor answers an onion service it cannot reach with its extended codes (0xF0..0xF7, with
 * ExtendedErrors on the SocksPort); nn_socks5_reply_str says what each means and what to do.
 *
 * Hostile input (the proxy is local, but a wrong port or a confused daemon must not hurt): each
 * answer is checked byte by byte as it arrives (version, method offered, reserved byte, address
 * type and length), bytes that arrive while our request is still unsent fail the exchange (an
 * honest proxy answers only what it received), nothing is buffered beyond the longest answer
 * (262 bytes), and the bytes after the reply belong to the stream and are left to the caller.
 *
 * Threads: none. No globals. The credentials are wiped by nn_socks5_clear.
 */
#ifndef NN_OVERLAY_SOCKS5_H
#define NN_OVERLAY_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"

#define NN_SOCKS5_MAX_CRED 255 /**< username or password, bytes (RFC 1929) */
#define NN_SOCKS5_MAX_OUT (3 + 3 + 2 * NN_SOCKS5_MAX_CRED + 4 + 1 + 255 + 2)
#define NN_SOCKS5_MAX_REPLY (4 + 1 + 255 + 2) /**< the longest answer: a domain-name reply */

/** REP codes (RFC 1928 6), and Tor's extended ones (tor's socks-extensions, section 3). */
enum {
  NN_SOCKS5_OK = 0x00,
  NN_SOCKS5_GENERAL = 0x01,
  NN_SOCKS5_NOT_ALLOWED = 0x02,
  NN_SOCKS5_NET_UNREACHABLE = 0x03,
  NN_SOCKS5_HOST_UNREACHABLE = 0x04,
  NN_SOCKS5_REFUSED = 0x05,
  NN_SOCKS5_TTL_EXPIRED = 0x06,
  NN_SOCKS5_CMD_UNSUPPORTED = 0x07,
  NN_SOCKS5_ATYP_UNSUPPORTED = 0x08,
  NN_SOCKS5_TOR_HS_DESC_NOT_FOUND = 0xf0,
  NN_SOCKS5_TOR_HS_DESC_INVALID = 0xf1,
  NN_SOCKS5_TOR_HS_INTRO_FAILED = 0xf2,
  NN_SOCKS5_TOR_HS_REND_FAILED = 0xf3,
  NN_SOCKS5_TOR_HS_MISSING_AUTH = 0xf4,
  NN_SOCKS5_TOR_HS_WRONG_AUTH = 0xf5,
  NN_SOCKS5_TOR_HS_BAD_ADDRESS = 0xf6,
  NN_SOCKS5_TOR_HS_INTRO_TIMEOUT = 0xf7,
};

typedef enum nn_socks5_status_t {
  NN_SOCKS5_MORE = 0,   /**< waiting: send nn_socks5_output, feed the proxy's next bytes */
  NN_SOCKS5_OPEN = 1,   /**< the stream is open; bytes after \a used are the peer's */
  NN_SOCKS5_FAILED = 2, /**< the proxy refused or broke the protocol: nn_socks5_why() */
} nn_socks5_status_t;

typedef struct nn_socks5_t {
  int state;
  uint8_t out[NN_SOCKS5_MAX_OUT]; /* what is yet to be sent */
  size_t out_len;
  uint8_t in[NN_SOCKS5_MAX_REPLY]; /* the answer so far */
  size_t in_len, in_need;
  uint8_t connect[4 + 1 + 255 + 2]; /* the CONNECT, sent once the method (and auth) is done */
  size_t connect_len;
  uint8_t auth[3 + 2 * NN_SOCKS5_MAX_CRED]; /* the RFC 1929 request, if credentials were given */
  size_t auth_len;
  int reply;       /* REP of the CONNECT answer (-1: none yet) */
  nn_addr_t bound; /* BND.ADDR/PORT of the answer (type 0 for a domain name) */
  char why[160];
} nn_socks5_t;

/**
 * Start an exchange for a stream to \a to: an onion address (sent as its name, so that Tor
 * resolves it), IPv4 or IPv6. \a user and \a pass (NULL: no authentication) are the stream's
 * isolation credentials, 1..255 bytes each. NN_ERR_ARG for another address type or bad
 * credentials. The greeting is then waiting in nn_socks5_output.
 */
nn_err_t nn_socks5_start(nn_socks5_t *s, const nn_addr_t *to, const char *user, const char *pass);
/** Bytes to send now (\a len 0: none). */
const uint8_t *nn_socks5_output(const nn_socks5_t *s, size_t *len);
/** \a n of them were sent. */
void nn_socks5_consume(nn_socks5_t *s, size_t n);
/**
 * Bytes from the proxy; send what nn_socks5_output holds first (bytes while it holds some
 * fail the exchange). \a used gets how many were taken: at OPEN the rest of \a d (from \a used)
 * is the peer's first stream bytes. Bytes after FAILED are ignored. New output may be waiting
 * after each call.
 */
nn_socks5_status_t nn_socks5_input(nn_socks5_t *s, const uint8_t *d, size_t n, size_t *used);
/** Why it failed (one line, for a log: what the proxy said and what to do). */
const char *nn_socks5_why(const nn_socks5_t *s);
/** The meaning of a REP code, standard or Tor's. */
const char *nn_socks5_reply_str(int rep);
/** Wipe the credentials and state. */
void nn_socks5_clear(nn_socks5_t *s);

#endif
