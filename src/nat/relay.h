/**
 * \file relay.h
 * \brief Relayed circuits (docs/PROTOCOL.md 10.4): the messages, and the relay's side as a
 * sans-I/O core. A node behind a NAT that lets nothing in reserves a slot at a public node (the
 * relay); anyone connected to the relay may then open a circuit to it, and the two run their
 * own secure channel end to end through the circuit, as over any other byte stream. The relay
 * sees the two node ids it already sees on its own channels and ciphertext, nothing more.
 *
 * Messages travel on the secure channel between a node and its relay, kinds 0x40..0x47:
 *
 *   0x40 RESERVE   version u8 (1)                        "keep me reachable through you"
 *   0x41 RESERVED  status u8 | ttl_s u32 | max_circuits u16 | circuit_bytes u64 |
 *                  circuit_s u32 | rate u32              the answer, with the relay's limits
 *   0x42 CONNECT   cid u32 | target node_id[32]          "open a circuit to target"
 *   0x43 INCOMING  cid u32 | flags u8 | source node_id[32]   relay -> target: a circuit for you
 *   0x44 ACCEPT    cid u32                               target -> relay: taken; relay -> source: open
 *   0x45 DATA      cid u32 | bytes[1..16384]             stream bytes, in order
 *   0x46 CREDIT    cid u32 | bytes u32 (1..262144)       the receiver consumed this much
 *   0x47 END       cid u32 | reason u8                   the circuit is over (both directions)
 *   0x48 OBSERVED  addr (6.1 wire form, IPv4 or IPv6)     relay -> node: your channel comes from here
 *   0x49 SHUT      cid u32                               no more DATA from me (hole punched: the
 *                                                        stream goes on over the punched socket)
 *
 * Circuit ids name a circuit on one channel. Two nodes may each relay for the other on the same
 * channel, and on one channel a relay may carry circuits both opened by its peer (CONNECT) and to
 * its peer (INCOMING), so two bits of the id keep these apart:
 *   bit 31 (NN_RELAY_CID_FROM_RELAY): the sender of this message is the circuit's relay. A
 *          receiver tells by it alone which of its roles the message is for.
 *   bit 30 (NN_RELAY_CID_RELAY_PICKED): the relay picked the id (INCOMING); clear: the source
 *          picked it (CONNECT).
 * CONNECT carries both bits clear, INCOMING both set; the rest of the id is the picker's choice.
 * A circuit is named on a channel by its id without bit 31.
 *
 * Flow control is a window of NN_RELAY_WINDOW bytes per direction, end to end: a sender may
 * have at most that much DATA that its receiver has not credited. The relay checks both ends
 * (DATA beyond the window, CREDIT beyond what was sent, are violations that end the circuit
 * and lower the sender's standing), so what it buffers for a circuit is bounded by two windows.
 * It enforces its rate limit by holding back credits, never by queueing data.
 *
 * Budgets of the relay (nn_relay_limits_t; the worst case is docs/ARCHITECTURE.md's "Relay"):
 * reservations, circuits in all, circuits per reserving node and per source channel, bytes
 * and seconds per circuit, and a rate per circuit direction.
 *
 * Threads: none. No globals.
 */
#ifndef NN_NAT_RELAY_H
#define NN_NAT_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/types.h"
#include "lib/addr.h"

enum {
  NN_RLMSG_RESERVE = 0x40,
  NN_RLMSG_RESERVED = 0x41,
  NN_RLMSG_CONNECT = 0x42,
  NN_RLMSG_INCOMING = 0x43,
  NN_RLMSG_ACCEPT = 0x44,
  NN_RLMSG_DATA = 0x45,
  NN_RLMSG_CREDIT = 0x46,
  NN_RLMSG_END = 0x47,
  NN_RLMSG_OBSERVED = 0x48,
  NN_RLMSG_SHUT = 0x49,
  /* on the relayed channel itself, end to end (10.5) */
  NN_RLMSG_PUNCH = 0x4a,
  NN_RLMSG_SYNC = 0x4b,
  /* reachability by dial-back, on any channel (10.6) */
  NN_RLMSG_DIALBACK = 0x4c,
  NN_RLMSG_DIALBACK_RESULT = 0x4d,
};
#define NN_RLMSG_LAST NN_RLMSG_DIALBACK_RESULT /**< the tenant's range is 0x40..this */
#define NN_DIALBACK_MAX_LEN (1 + 8 + 1 + 1 + NN_ADDR_WIRE_MAX)

/** DIALBACK_RESULT status. */
typedef enum nn_dialback_status_t {
  NN_DIALBACK_REACHED = 0,     /**< a channel to the address proved the requester's node id */
  NN_DIALBACK_UNREACHABLE = 1, /**< it did not (refused, timed out, another node answered) */
  NN_DIALBACK_REFUSED = 2,     /**< the address is not the host the request came from */
  NN_DIALBACK_BUSY = 3,        /**< too many dial-backs now, or this requester asked too soon */
  NN_DIALBACK_OBSERVED = 4,    /**< no address was asked for: here is the one we see */
  NN_DIALBACK_STATUS_MAX = 5,
} nn_dialback_status_t;
#define NN_PUNCH_TOKEN_LEN 32
#define NN_PUNCH_MAX_ADDRS 4
#define NN_PUNCH_MAX_LEN (2 + NN_PUNCH_TOKEN_LEN + 1 + NN_PUNCH_MAX_ADDRS * NN_ADDR_WIRE_MAX)

#define NN_RELAY_VERSION 1
#define NN_RELAY_MAX_DATA 16384u       /**< payload of one DATA message */
#define NN_RELAY_WINDOW (256u * 1024u) /**< un-credited DATA bytes per direction */
#define NN_RELAY_CID_FROM_RELAY 0x80000000u
#define NN_RELAY_CID_RELAY_PICKED 0x40000000u
#define NN_RELAY_MAX_MSG (5 + NN_RELAY_MAX_DATA) /**< the largest message of this protocol */
#define NN_RELAY_RESERVE_LEN 2
#define NN_RELAY_RESERVED_LEN 24
#define NN_RELAY_CONNECT_LEN 37
#define NN_RELAY_INCOMING_LEN 38
#define NN_RELAY_ACCEPT_LEN 5
#define NN_RELAY_CREDIT_LEN 9
#define NN_RELAY_END_LEN 6
#define NN_RELAY_SHUT_LEN 5
#define NN_RELAY_OBSERVED_MAX (1 + NN_ADDR_WIRE_MAX)
#define NN_RELAY_INCOMING_F_ID 0x01u /**< INCOMING flags: the source proved its node id */

/** RESERVED status. */
typedef enum nn_relay_status_t {
  NN_RELAY_OK = 0,
  NN_RELAY_NO_SERVICE = 1, /**< this node does not relay */
  NN_RELAY_FULL = 2,       /**< no reservation free */
  NN_RELAY_ANONYMOUS = 3,  /**< an anonymous channel cannot be reached, so it cannot reserve */
  NN_RELAY_STATUS_MAX = 4,
} nn_relay_status_t;

/** END reasons. */
typedef enum nn_relay_end_t {
  NN_RELAY_END_NORMAL = 1,    /**< a side closed it */
  NN_RELAY_END_REFUSED = 2,   /**< the target did not take it */
  NN_RELAY_END_NO_TARGET = 3, /**< the target holds no reservation here */
  NN_RELAY_END_FULL = 4,      /**< a circuit cap of the relay */
  NN_RELAY_END_BYTES = 5,     /**< the circuit's byte limit */
  NN_RELAY_END_TIME = 6,      /**< the circuit's time limit (or the target did not answer) */
  NN_RELAY_END_VIOLATION = 7, /**< a side broke the protocol (window, credit, order) */
  NN_RELAY_END_GONE = 8,      /**< the other side's channel closed */
  NN_RELAY_END_MAX = 9,
} nn_relay_end_t;

const char *nn_relay_status_str(nn_relay_status_t s);
const char *nn_relay_end_str(nn_relay_end_t r);
/** A short name for metrics and JSON: "closed", "refused", "no_target", "full", "bytes", "time",
 *  "violation", "gone" ("unknown" otherwise). */
const char *nn_relay_end_name(nn_relay_end_t r);

/** A parsed message; data is a view into the message. */
typedef struct nn_rlmsg_t {
  uint8_t kind;
  uint8_t version; /* RESERVE */
  uint8_t status;  /* RESERVED */
  uint32_t ttl_s;  /* RESERVED */
  uint16_t max_circuits;
  uint64_t circuit_bytes;
  uint32_t circuit_s, rate;
  uint32_t cid;      /* CONNECT .. END */
  nn_node_id_t node; /* CONNECT: target; INCOMING: source (zero unless flags & F_ID) */
  uint8_t flags;     /* INCOMING */
  uint32_t credit;   /* CREDIT */
  uint8_t reason;    /* END */
  const uint8_t *data;
  size_t data_len;                   /* DATA */
  nn_addr_t addr;                    /* OBSERVED */
  uint8_t token[NN_PUNCH_TOKEN_LEN]; /* PUNCH */
  uint8_t n_addrs;                   /* PUNCH: 0 = cannot punch; DIALBACK: 0 or 1 */
  uint64_t nonce;                    /* DIALBACK, DIALBACK_RESULT (status, addr = observed, n_addrs 0|1) */
  nn_addr_t addrs[NN_PUNCH_MAX_ADDRS];
} nn_rlmsg_t;

/**
 * Parse one message (msg[0] is the kind). NN_ERR_FORMAT for an unknown kind, an empty or
 * oversized DATA, a CREDIT of 0 or above the window, unknown INCOMING flags, an INCOMING whose
 * source is not zero without F_ID, a RESERVED status or END reason outside its set;
 * NN_ERR_VERSION for a RESERVE version other than 1; NN_ERR_TRUNCATED / NN_ERR_TRAILING for a
 * length that is not the kind's; an OBSERVED address that is not IPv4 or IPv6 is NN_ERR_FORMAT.
 */
nn_err_t nn_rlmsg_parse(nn_rlmsg_t *m, const uint8_t *msg, size_t len);

void nn_rlmsg_reserve(uint8_t out[NN_RELAY_RESERVE_LEN]);
void nn_rlmsg_reserved(uint8_t out[NN_RELAY_RESERVED_LEN], uint8_t status, uint32_t ttl_s, uint16_t max_circuits,
                       uint64_t circuit_bytes, uint32_t circuit_s, uint32_t rate);
void nn_rlmsg_connect(uint8_t out[NN_RELAY_CONNECT_LEN], uint32_t cid, const nn_node_id_t *target);
/** \a source NULL: an anonymous source (flags 0, zero id). */
void nn_rlmsg_incoming(uint8_t out[NN_RELAY_INCOMING_LEN], uint32_t cid, const nn_node_id_t *source);
void nn_rlmsg_accept(uint8_t out[NN_RELAY_ACCEPT_LEN], uint32_t cid);
/** Header of a DATA message: kind and cid (5 bytes); the payload follows. */
void nn_rlmsg_data_head(uint8_t out[5], uint32_t cid);
void nn_rlmsg_credit(uint8_t out[NN_RELAY_CREDIT_LEN], uint32_t cid, uint32_t bytes);
void nn_rlmsg_end(uint8_t out[NN_RELAY_END_LEN], uint32_t cid, uint8_t reason);
void nn_rlmsg_shut(uint8_t out[NN_RELAY_SHUT_LEN], uint32_t cid);
/** PUNCH: version 1, \a token, up to 4 IPv4/IPv6 addresses; returns its length (0 if an
 *  address is of another type or there are more than 4). */
size_t nn_rlmsg_punch(uint8_t out[NN_PUNCH_MAX_LEN], const uint8_t token[NN_PUNCH_TOKEN_LEN], const nn_addr_t *addrs,
                      size_t n);
/** DIALBACK: "dial \a a (NULL: none, just tell me where you see me) and prove it is me". */
size_t nn_rlmsg_dialback(uint8_t out[NN_DIALBACK_MAX_LEN], uint64_t nonce, const nn_addr_t *a);
/** DIALBACK_RESULT, with the requester's address as we see it (NULL: none we can tell). */
size_t nn_rlmsg_dialback_result(uint8_t out[NN_DIALBACK_MAX_LEN], uint64_t nonce, uint8_t status,
                                const nn_addr_t *observed);
/** OBSERVED for an IPv4 or IPv6 address; returns its length (0 for another type). */
size_t nn_rlmsg_observed(uint8_t out[NN_RELAY_OBSERVED_MAX], const nn_addr_t *a);

/* ---- the relay ---- */

/** The relay's budgets. nn_relay_limits_default() gives the values in brackets. */
typedef struct nn_relay_limits_t {
  uint32_t max_reservations;  /**< nodes reachable through us at once (64) */
  uint32_t reservation_s;     /**< a reservation lasts this long unless renewed (3600) */
  uint32_t max_circuits;      /**< circuits at once (32) */
  uint32_t max_per_target;    /**< ... to one reserving node (8) */
  uint32_t max_per_source;    /**< ... opened by one channel (4) */
  uint64_t circuit_bytes;     /**< DATA bytes per circuit, both directions (64 MiB) */
  uint32_t circuit_s;         /**< seconds a circuit may live (1800) */
  uint32_t rate;              /**< bytes per second per direction of a circuit (512 KiB) */
  uint32_t accept_timeout_ms; /**< the target must ACCEPT within this (10000) */
} nn_relay_limits_t;

void nn_relay_limits_default(nn_relay_limits_t *l);

/** What the relay does to the world; any function may be NULL except send. */
typedef struct nn_relay_io_t {
  /** Send one message on channel \a conn; an error ends the circuit it belongs to. */
  nn_err_t (*send)(void *ctx, uint64_t conn, const uint8_t *msg, size_t len);
  /** Keep \a conn open (1) while a reservation or circuit uses it, or no longer (0). Counted:
   *  each 1 is matched by one 0, except for a channel that went down (nn_relay_down). */
  void (*hold)(void *ctx, uint64_t conn, int hold);
  /** \a conn broke the protocol. */
  void (*penalize)(void *ctx, uint64_t conn, int points, const char *why);
  void *ctx;
} nn_relay_io_t;

typedef struct nn_relay_stats_t {
  uint32_t reservations, circuits;       /**< now */
  uint64_t reserved, refused_reserve;    /**< RESERVEs granted (renewals included) / refused */
  uint64_t opened, refused_connect;      /**< circuits that reached ACCEPT / CONNECTs ended at once */
  uint64_t punched;                      /**< circuits both ends left by SHUT (a hole punch took over) */
  uint64_t bytes;                        /**< DATA payload relayed, both directions */
  uint64_t credits_held;                 /**< times the rate limit held back a credit */
  uint64_t violations;                   /**< protocol violations (each ended its circuit) */
  uint64_t late;                         /**< messages for circuits already gone (races; ignored) */
  uint64_t ended[NN_RELAY_END_MAX];      /**< circuits ended, by reason */
  uint64_t refused[NN_RELAY_STATUS_MAX]; /**< RESERVEs refused, by status */
} nn_relay_stats_t;

typedef struct nn_relay_t nn_relay_t;

/** \a service 0: every RESERVE is answered NO_SERVICE and every CONNECT ended NO_TARGET. */
nn_err_t nn_relay_new(nn_relay_t **out, int service, const nn_relay_limits_t *lim, const nn_relay_io_t *io);
void nn_relay_free(nn_relay_t *r);
/** Start or stop relaying (a node that learnt it is reachable starts). Circuits open stay. */
void nn_relay_set_service(nn_relay_t *r, int service);
/** Is \a msg one for the relay's role (RESERVE, CONNECT, and circuit messages without
 *  NN_RELAY_CID_FROM_RELAY)? The others (RESERVED, INCOMING, circuit messages from a relay)
 *  are for the node's side of its own circuits. */
int nn_relay_owns(const uint8_t *msg, size_t len);
/**
 * A message of channel \a conn, whose peer proved node id \a peer (NULL: anonymous) and whose
 * stream comes from \a from (NULL or not IPv4/IPv6: no OBSERVED is sent to it). Parsing errors
 * penalize \a conn; nothing here allocates per message.
 */
void nn_relay_input(nn_relay_t *r, uint64_t conn, const nn_node_id_t *peer, const nn_addr_t *from, const uint8_t *msg,
                    size_t len, uint64_t now_ms);
/** Channel \a conn is gone: its reservation and every circuit it carried end. */
void nn_relay_down(nn_relay_t *r, uint64_t conn, uint64_t now_ms);
/** Time passes: credits held back by the rate are released, limits end circuits, reservations
 *  expire. Returns the next time (monotonic ms) it wants a tick, or 0 for none. */
uint64_t nn_relay_tick(nn_relay_t *r, uint64_t now_ms);
void nn_relay_stats(const nn_relay_t *r, nn_relay_stats_t *out);
const nn_relay_limits_t *nn_relay_limits(const nn_relay_t *r);

#endif
