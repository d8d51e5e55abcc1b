/**
 * \file turn.h
 * \brief A TURN client (RFC 8656) with TCP relaying (RFC 6062), as a sans-I/O core: the fallback
 * of a node on a network that lets it reach nothing but a TURN server (docs/PROTOCOL.md 10.7).
 *
 * Why TCP allocations: nepnet's secure channel runs over a byte stream, and so does every other
 * path of a node (TCP, relayed circuits, TCP hole punches). A TCP allocation gives a stream to a
 * peer without a reliable-stream layer of our own over UDP, and works where only TCP to the
 * server gets out. So the client holds one allocation with REQUESTED-TRANSPORT TCP over a TCP
 * control connection, and each peer stream is a data connection of its own:
 *
 *   control: Allocate (long-term credentials: 401 with REALM and NONCE, then the request again
 *            with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY; 438 gives a new nonce), Refresh
 *            before the lifetime ends, CreatePermission for a peer's IP, Connect to the peer
 *            (answer: CONNECTION-ID), and ConnectionAttempt indications for peers that connect
 *            to our relayed address;
 *   data:    a new TCP connection to the server, ConnectionBind with the CONNECTION-ID; after its
 *            success response the connection carries the peer's bytes, raw.
 *
 * The caller owns the sockets. It feeds the control connection's bytes to nn_turn_ctl_input and
 * a data connection's to nn_turn_bind_input until that says the bind is done; everything the
 * core sends goes through io.send, with conn 0 for the control connection and the caller's own
 * id for a data connection.
 *
 * Hostile input: every message is parsed through nn_stun_parse; a response must match a
 * transaction in flight (transaction id and method), and a success response to an
 * authenticated request must carry MESSAGE-INTEGRITY under our key (CRYPTO_memcmp), or it is
 * dropped and counted. The control stream's framing is checked before buffering (at most one
 * message, NN_STUN_MAX_MSG bytes); a frame that cannot be STUN ends the control connection.
 * Realm and nonce are capped; the key is wiped in nn_turn_free.
 *
 * Threads: none. No globals.
 */
#ifndef NN_NAT_TURN_H
#define NN_NAT_TURN_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"

/* RFC 6062 methods and attribute. */
#define NN_STUN_CONNECT 0x00a
#define NN_STUN_CONNECTION_BIND 0x00b
#define NN_STUN_CONNECTION_ATTEMPT 0x00c
#define NN_STUN_A_CONNECTION_ID 0x002A

#define NN_TURN_MAX_CRED 128     /* username or password, bytes */
#define NN_TURN_MAX_REALM 128    /* what we keep of the server's REALM */
#define NN_TURN_MAX_NONCE 128    /* ... and of its NONCE */
#define NN_TURN_MAX_TX 32        /* requests in flight */
#define NN_TURN_MAX_PERMS 64     /* peer IPs with a permission */
#define NN_TURN_TIMEOUT_MS 10000 /* a request unanswered this long fails (TCP: no retransmission) */
#define NN_TURN_PERM_S 300       /* a permission's lifetime (RFC 8656 9) */

typedef enum nn_turn_state_t {
  NN_TURN_IDLE = 0,
  NN_TURN_ALLOCATING = 1,
  NN_TURN_READY = 2,
  NN_TURN_FAILED = 3, /**< the server refused, or the control connection broke: start again */
} nn_turn_state_t;

const char *nn_turn_state_str(nn_turn_state_t s);

typedef struct nn_turn_cfg_t {
  char username[NN_TURN_MAX_CRED + 1];
  char password[NN_TURN_MAX_CRED + 1];
  uint32_t lifetime_s; /**< asked for in Allocate and Refresh (the server may shorten it); 0: 600 */
} nn_turn_cfg_t;

typedef enum nn_turn_event_kind_t {
  NN_TURN_EV_READY = 1,          /**< allocated: nn_turn_relayed() is our address at the server */
  NN_TURN_EV_FAILED = 2,         /**< the allocation is gone (code, why) */
  NN_TURN_EV_CONNECTED = 3,      /**< Connect for \a tag succeeded: bind \a connid on a new connection */
  NN_TURN_EV_CONNECT_FAILED = 4, /**< Connect for \a tag failed (code: 403, 446, 447, 0 = timeout...) */
  NN_TURN_EV_ATTEMPT = 5,        /**< a peer connected to our relayed address: bind \a connid, or let it lapse */
  NN_TURN_EV_BOUND = 6,          /**< the data connection \a tag is the peer's stream now */
  NN_TURN_EV_BIND_FAILED = 7,    /**< ... it is not (code) */
} nn_turn_event_kind_t;

typedef struct nn_turn_event_t {
  nn_turn_event_kind_t kind;
  uint64_t tag;    /**< the caller's: the Connect's tag, or the data connection's id */
  uint32_t connid; /**< CONNECTED, ATTEMPT */
  nn_addr_t peer;  /**< CONNECTED, ATTEMPT: the peer's address */
  unsigned code;   /**< the STUN error code, 0 if none (timeout, malformed answer) */
  const char *why; /**< one line for a log */
} nn_turn_event_t;

typedef struct nn_turn_io_t {
  /** Bytes for the control connection (conn 0) or data connection \a conn. An error is taken as
   *  that connection broken. */
  nn_err_t (*send)(void *ctx, uint64_t conn, const uint8_t *b, size_t n);
  void (*event)(void *ctx, const nn_turn_event_t *e);
  /** Unpredictable bytes (transaction ids). */
  void (*random)(void *ctx, uint8_t *b, size_t n);
  void *ctx;
} nn_turn_io_t;

typedef struct nn_turn_stats_t {
  uint64_t allocations, refreshes;   /**< allocations made, refreshes answered */
  uint64_t connects, connect_failed; /**< Connect succeeded / failed */
  uint64_t attempts;                 /**< ConnectionAttempt indications */
  uint64_t binds, bind_failed;       /**< data connections bound / not */
  uint64_t permissions;              /**< CreatePermission answered */
  uint64_t errors;                   /**< error responses other than 401 and 438 */
  uint64_t malformed;                /**< messages dropped: not STUN, no matching request, bad integrity */
  uint64_t timeouts;                 /**< requests unanswered */
  unsigned last_code;                /**< the last error code the server gave */
} nn_turn_stats_t;

typedef struct nn_turn_t nn_turn_t;

/** A client; nothing is sent until nn_turn_start. */
nn_err_t nn_turn_new(nn_turn_t **out, const nn_turn_cfg_t *cfg, const nn_turn_io_t *io);
void nn_turn_free(nn_turn_t *t);
/** The control connection is up: ask for an allocation (again, after FAILED). */
void nn_turn_start(nn_turn_t *t, uint64_t now_ms);
/** The control connection closed: the allocation is gone (FAILED follows, once). */
void nn_turn_ctl_down(nn_turn_t *t, const char *why);
/** Bytes of the control connection. NN_ERR_FORMAT if they cannot be STUN framing: close it. */
nn_err_t nn_turn_ctl_input(nn_turn_t *t, const uint8_t *b, size_t n, uint64_t now_ms);
/** Release the allocation (Refresh with LIFETIME 0), before closing the control connection. */
void nn_turn_release(nn_turn_t *t);

/** Ask for a TCP connection from the relayed address to \a peer (CreatePermission for its IP
 *  if it has none, and Connect, pipelined): CONNECTED or CONNECT_FAILED with \a tag follows. */
nn_err_t nn_turn_connect(nn_turn_t *t, const nn_addr_t *peer, uint64_t tag, uint64_t now_ms);
/** Data connection \a conn (the caller's id, not 0) just connected to the server: send its
 *  ConnectionBind for \a connid. */
nn_err_t nn_turn_bind(nn_turn_t *t, uint64_t conn, uint32_t connid, uint64_t now_ms);
/**
 * Bytes of data connection \a conn while its bind is pending. \a used: how many were the
 * server's answer; on NN_OK with BOUND reported, the rest (n - used) are the peer's first bytes.
 * NN_ERR_FORMAT: not a STUN answer (BIND_FAILED follows): close the connection.
 */
nn_err_t nn_turn_bind_input(nn_turn_t *t, uint64_t conn, const uint8_t *b, size_t n, size_t *used, uint64_t now_ms);
/** The data connection closed or was bound elsewhere: forget its bind. */
void nn_turn_bind_gone(nn_turn_t *t, uint64_t conn);
/** The permission for \a peer's IP is used by a live stream (+1) or no longer (-1): permissions
 *  in use are refreshed, the others lapse. */
void nn_turn_perm_hold(nn_turn_t *t, const nn_addr_t *peer, int delta);

/** Refreshes and timeouts; returns the next time it wants a tick (0: none). */
uint64_t nn_turn_tick(nn_turn_t *t, uint64_t now_ms);

nn_turn_state_t nn_turn_state(const nn_turn_t *t);
/** Our address at the server (valid in READY). */
const nn_addr_t *nn_turn_relayed(const nn_turn_t *t);
/** Our control connection's address as the server saw it (XOR-MAPPED-ADDRESS; type 0 if none). */
const nn_addr_t *nn_turn_mapped(const nn_turn_t *t);
/** Seconds the allocation was granted for. */
uint32_t nn_turn_lifetime(const nn_turn_t *t);
void nn_turn_stats(const nn_turn_t *t, nn_turn_stats_t *out);

#endif
