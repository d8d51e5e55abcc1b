/**
 * \file torctl.h
 * \brief A Tor control-port client (tor's control-spec) as a sans-I/O core: authenticate, create
 * the node's onion service with a key kept across restarts, and find Tor's SOCKS listener
 * (docs/PROTOCOL.md 11.2).
 *
 * The exchange, in order (Tor answers commands strictly in order, so a FIFO matches replies):
 *   PROTOCOLINFO 1                     -> AUTH METHODS=... [COOKIEFILE="..."], VERSION Tor="..."
 *   authentication, the first that applies:
 *     a password is configured and HASHEDPASSWORD offered: AUTHENTICATE "<password>"
 *     NULL offered:                                          AUTHENTICATE
 *     SAFECOOKIE offered: the caller reads COOKIEFILE (event NEED_COOKIE, nn_torctl_cookie);
 *       AUTHCHALLENGE SAFECOOKIE <client nonce> -> SERVERHASH, SERVERNONCE, checked (constant
 *       time) before AUTHENTICATE <HMAC-SHA256 of cookie | client nonce | server nonce>
 *     COOKIE only: AUTHENTICATE <cookie as hex>
 *   then, on request: ADD_ONION NEW:ED25519-V3 (or the saved ED25519-V3:<key>) Port=V,TARGET
 *     -> ServiceID (and PrivateKey for a new one: the caller saves it, 0600)
 *   and GETINFO net/listeners/socks -> Tor's SOCKS listeners.
 *
 * Hostile input (a wrong port, a confused daemon): lines are capped (NN_TORCTL_MAX_LINE) and so
 * are a reply's lines and bytes; a line that is not "NNN[ -+]..." with CRLF, a reply whose code
 * changes between its lines, an answer with no command waiting, or a server hash that does not
 * verify fail the connection with a message; asynchronous events (6xx) are skipped. Quoted
 * strings are unescaped as control-spec 2.1.1 says (C escapes and octal).
 *
 * Secrets: the password, the cookie and a private key returned by Tor are wiped when done and in
 * nn_torctl_free; none is ever in a message.
 *
 * Threads: none. No globals; randomness (the client nonce) is injected.
 */
#ifndef NN_OVERLAY_TORCTL_H
#define NN_OVERLAY_TORCTL_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/rand.h"

#define NN_TORCTL_MAX_LINE 4096      /**< bytes of one line, CRLF included */
#define NN_TORCTL_MAX_REPLY_LINES 64 /**< lines of one reply (data lines included) */
#define NN_TORCTL_MAX_PENDING 8      /**< commands waiting for their replies */
#define NN_TORCTL_COOKIE_LEN 32
#define NN_TORCTL_MAX_PASSWORD 256
#define NN_TORCTL_MAX_KEY 128 /**< "ED25519-V3:" and the base64 of a 64-byte key: 99 */
#define NN_TORCTL_MAX_TEXT 512

typedef enum nn_torctl_ev_kind_t {
  NN_TORCTL_EV_NEED_COOKIE = 1, /**< read the 32-byte file \a text, give it to nn_torctl_cookie */
  NN_TORCTL_EV_READY = 2,       /**< authenticated (\a text: Tor's version) */
  NN_TORCTL_EV_ONION = 3,       /**< the onion service is up: \a text its 56-char id; \a key a new key */
  NN_TORCTL_EV_SOCKS = 4,       /**< Tor's first SOCKS listener, "HOST:PORT" (empty: none) */
  NN_TORCTL_EV_FAILED = 5,      /**< \a text says what failed; \a code Tor's status (0: ours) */
  NN_TORCTL_EV_ONION_FAILED = 6 /**< ADD_ONION refused (\a code, \a text); the connection stays */
} nn_torctl_ev_kind_t;

typedef struct nn_torctl_event_t {
  nn_torctl_ev_kind_t kind;
  int code;
  char text[NN_TORCTL_MAX_TEXT];
  char key[NN_TORCTL_MAX_KEY + 1]; /**< ONION: "ED25519-V3:..." for a new key ("" otherwise); wipe it */
} nn_torctl_event_t;

typedef struct nn_torctl_cfg_t {
  const char *password; /**< HASHEDPASSWORD authentication (NULL: none) */
  const nn_rng_t *rng;  /**< the SAFECOOKIE client nonce; NULL: the CSPRNG */
} nn_torctl_cfg_t;

typedef struct nn_torctl_t nn_torctl_t;

nn_err_t nn_torctl_new(nn_torctl_t **out, const nn_torctl_cfg_t *cfg);
void nn_torctl_free(nn_torctl_t *t);
/** Bytes to send to the control port now (\a len 0: none). */
const uint8_t *nn_torctl_output(const nn_torctl_t *t, size_t *len);
void nn_torctl_consume(nn_torctl_t *t, size_t n);
/** Bytes from the control port. NN_ERR_FORMAT (and a FAILED event) when the connection must
 *  close; events may be waiting after any call. */
nn_err_t nn_torctl_input(nn_torctl_t *t, const uint8_t *d, size_t n);
/** The next event, 1 if there was one. */
int nn_torctl_event(nn_torctl_t *t, nn_torctl_event_t *ev);
/* The calls below return NN_ERR_ARG out of turn (before NEED_COOKIE or READY, after FAILED). */
/** The cookie file's contents, after NEED_COOKIE (any other length fails). */
nn_err_t nn_torctl_cookie(nn_torctl_t *t, const uint8_t *cookie, size_t len);
/** After READY: create the onion service, virtual port \a vport forwarded to \a target
 *  ("127.0.0.1:PORT"), with the saved \a key ("ED25519-V3:...") or a new one (NULL). */
nn_err_t nn_torctl_add_onion(nn_torctl_t *t, const char *key, uint16_t vport, const char *target);
/** After READY: ask for Tor's SOCKS listeners (event SOCKS). */
nn_err_t nn_torctl_get_socks(nn_torctl_t *t);
/** Unescape a control-spec QuotedString that starts at \a in[0] == '"': the contents into
 *  \a out (at most \a cap - 1 bytes, NUL-terminated); returns the bytes of \a in it spans,
 *  quotes included, or 0 if it is malformed or too long. */
size_t nn_torctl_unquote(const char *in, size_t len, char *out, size_t cap);

#endif
