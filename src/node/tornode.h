/**
 * \file tornode.h
 * \brief Tor in a node (docs/PROTOCOL.md 11): the "tor" transport and the node's onion service,
 * driven through a local tor's SOCKS and control ports (overlay/socks5.h, overlay/torctl.h).
 *
 * Outbound: every stream is a SOCKS5 CONNECT at tor's SOCKS port with fresh random credentials,
 * so that tor's IsolateSOCKSAuth (on by default) gives each peer a circuit of its own: two peers
 * of ours never share a circuit, and an exit or rendezvous point cannot link them. Onion
 * addresses go to tor by name (no DNS anywhere); with `all` (tor-only nodes that still dial
 * clearnet peers) IPv4 and IPv6 addresses go through tor's exits too. Tor's extended errors
 * (F0-F7: descriptor not found, introduction failed...) become the messages of socks5.h.
 *
 * The onion service: the control connection authenticates (SAFECOOKIE, cookie or password)
 * and asks for ADD_ONION with the key kept in \a key_file (mode 0600, refused otherwise; created
 * on the first run), so the .onion address is the same across restarts. Its virtual port is
 * \a vport; its target is a listener of ours on 127.0.0.1 at a port of the kernel's choice,
 * whose streams are inbound streams of this transport: their origin is hidden by Tor, so they
 * all carry the peer address nn_tornode_inbound_addr() (an onion address of all zero bytes,
 * port 0) and only the manager's global caps limit them (peer_addrs = 0). Without Flags=Detach
 * the service lives as long as the control connection: when it drops, the address is withdrawn
 * (on_onion(NULL)) and the connection is retried with backoff (1 s, x1.5, at most 10 min, as
 * Bitcoin Core), which brings the same address back.
 *
 * Budgets: NN_TORNODE_MAX_STREAMS streams in all (each one TCP connection to tor), at most
 * NN_TORNODE_MAX_SOCKS of them in their SOCKS exchange, NN_TORNODE_OUT_CAP bytes queued and
 * NN_TORNODE_IN_CAP read ahead per stream; the control connection's lines and replies are capped
 * by torctl.h.
 *
 * Threads: none (the node's loop). No globals.
 */
#ifndef NN_NODE_TORNODE_H
#define NN_NODE_TORNODE_H

#include <stdint.h>

#include "nepnet/error.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "net/net.h"
#include "overlay/torctl.h"

#define NN_TORNODE_MAX_STREAMS 128
#define NN_TORNODE_MAX_SOCKS 32
#define NN_TORNODE_OUT_CAP (256u * 1024)
#define NN_TORNODE_IN_CAP (256u * 1024)
#define NN_TORNODE_BACKOFF_MAX_MS 600000

typedef struct nn_tornode_cfg_t {
  nn_addr_t control;                         /**< tor's control port (type 0: none; then socks is required) */
  nn_addr_t socks;                           /**< tor's SOCKS port (type 0: asked of the control port) */
  char password[NN_TORCTL_MAX_PASSWORD + 1]; /**< HASHEDPASSWORD ("" : cookie or none); copied */
  int onion;                                 /**< create our onion service (needs control) */
  uint16_t vport;                            /**< its virtual port */
  const char *key_file;                      /**< its key, kept across restarts (copied) */
  int all;                                   /**< dial IPv4/IPv6 through tor too */
  /** Our onion address is up (\a a) or gone (NULL). */
  void (*on_onion)(void *ctx, const nn_addr_t *a);
  void *ctx;
  const nn_log_t *log;
} nn_tornode_cfg_t;

typedef struct nn_tornode_status_t {
  nn_addr_t control, socks;
  int ctl_up;           /**< the control connection is authenticated */
  char version[64];     /**< tor's version, from PROTOCOLINFO */
  nn_addr_t onion;      /**< our onion address (type 0: none now) */
  uint64_t onion_ms;    /**< ms from start to the first onion service (0: none yet) */
  char why[200];        /**< the last control-port problem, or "" */
  char last_socks[160]; /**< the last SOCKS failure, or "" */
  uint32_t streams;
  uint64_t dialled, dial_failed, accepted, refused_full, ctl_connects;
  uint64_t bytes_in, bytes_out;
  uint64_t socks_fail_onion; /**< SOCKS failures with Tor's onion-service codes (F0-F7) */
  uint64_t socks_fail_other; /**< other SOCKS failures (refused, unreachable, TTL, protocol) */
} nn_tornode_status_t;

typedef struct nn_tornode_t nn_tornode_t;

/** Add the "tor" transport to \a net (first in line with \a cfg->all, so that it takes the
 *  clearnet dials too; else after TCP) and connect to the control port. The manager owns the
 *  transport; nn_tornode_free only detaches it. \a why gets one line that names the flag or
 *  file on failure (a key file others can read, no way to find the SOCKS port...). */
nn_err_t nn_tornode_new(nn_tornode_t **out, nn_net_t *net, const nn_tornode_cfg_t *cfg, char *why, size_t why_len);
void nn_tornode_free(nn_tornode_t *t);
void nn_tornode_status(const nn_tornode_t *t, nn_tornode_status_t *out);
/** The peer address of every stream that came in through our onion service. */
nn_addr_t nn_tornode_inbound_addr(void);

#endif
