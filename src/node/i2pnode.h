/**
 * \file i2pnode.h
 * \brief I2P in a node (docs/PROTOCOL.md 11.5): the "i2p" transport over a local router's SAM
 * v3.1 bridge (overlay/sam.h), as Bitcoin Core's i2p.cpp uses it.
 *
 * One SAM socket holds the node's session; each stream is a SAM socket of its own (STREAM
 * CONNECT out, STREAM ACCEPT in) that becomes the stream's bytes once the bridge says OK, and the
 * secure channel runs inside it unchanged.
 *
 * The session: with \a inbound, a persistent destination whose private key is kept in
 * \a key_file (mode 0600, refused otherwise; created by DEST GENERATE on the first run), so the
 * .b32.i2p address is the same across restarts; NN_I2PNODE_ACCEPTS accept sockets wait for
 * peers, and each accepted stream comes from the peer's own .b32.i2p address (port 0: SAM 3.1
 * has no ports). Without it, one transient destination, made anew each run and never published:
 * our outbound streams cannot be linked to a destination of ours across runs. Our address is
 * given to on_i2p with \a vport as its port (peer records need one; SAM 3.1 ignores it). The
 * session lives as long as its socket; when it drops, the address is withdrawn and the session
 * made again with backoff (1 s, x2, at most 5 min).
 *
 * Dials: a .b32.i2p address is looked up on the session socket (NAMING LOOKUP, one at a time,
 * the answer checked: the destination must hash to the name asked), cached
 * (NN_I2PNODE_LOOKUP_CACHE names), then connected. A session that is not up yet makes dials wait,
 * up to the manager's handshake timeout, which this transport raises to NN_I2PNODE_HS_TIMEOUT_MS
 * (lookups take 5-10 s, a new session's LeaseSet up to a minute).
 *
 * Budgets: NN_I2PNODE_MAX_STREAMS streams (each one TCP connection to the bridge), at most
 * NN_I2PNODE_MAX_PENDING of them waiting for a lookup or in their SAM exchange, NN_I2PNODE_OUT_CAP
 * bytes queued and NN_I2PNODE_IN_CAP read ahead per stream; SAM lines are capped by sam.h.
 *
 * Threads: none (the node's loop). No globals.
 */
#ifndef NN_NODE_I2PNODE_H
#define NN_NODE_I2PNODE_H

#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "net/net.h"

#define NN_I2PNODE_MAX_STREAMS 128
#define NN_I2PNODE_MAX_PENDING 32
#define NN_I2PNODE_ACCEPTS 2
#define NN_I2PNODE_LOOKUP_CACHE 64
#define NN_I2PNODE_OUT_CAP (256u * 1024)
#define NN_I2PNODE_IN_CAP (256u * 1024)
#define NN_I2PNODE_HS_TIMEOUT_MS 90000
#define NN_I2PNODE_BACKOFF_MAX_MS 300000

typedef struct nn_i2pnode_cfg_t {
  nn_addr_t sam;        /**< the router's SAM bridge (IPv4/IPv6) */
  int inbound;          /**< a persistent destination that accepts peers (else transient) */
  const char *key_file; /**< its key (with inbound; copied) */
  uint16_t vport;       /**< the port our address is published with */
  /** Our .b32.i2p address is up (\a a) or gone (NULL); only with inbound. */
  void (*on_i2p)(void *ctx, const nn_addr_t *a);
  void *ctx;
  const nn_log_t *log;
} nn_i2pnode_cfg_t;

typedef struct nn_i2pnode_status_t {
  nn_addr_t sam;
  int inbound;
  int session_up;
  nn_addr_t addr;         /**< our address (type 0: no session, or transient) */
  uint64_t session_ms;    /**< ms from start to the first session (0: none yet) */
  char why[200];          /**< the last session problem, or "" */
  char last_failure[200]; /**< the last stream or lookup that failed, and the router's reason */
  uint32_t streams;
  uint64_t dialled, dial_failed, accepted, lookups, lookup_failed, sessions;
  uint64_t bytes_in, bytes_out;
} nn_i2pnode_status_t;

typedef struct nn_i2pnode_t nn_i2pnode_t;

/** Add the "i2p" transport to \a net and open the session. \a why gets one line that names the
 *  flag or file on failure. The manager owns the transport; nn_i2pnode_free only detaches it. */
nn_err_t nn_i2pnode_new(nn_i2pnode_t **out, nn_net_t *net, const nn_i2pnode_cfg_t *cfg, char *why, size_t why_len);
void nn_i2pnode_free(nn_i2pnode_t *t);
void nn_i2pnode_status(const nn_i2pnode_t *t, nn_i2pnode_status_t *out);

#endif
