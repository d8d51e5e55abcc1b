/*
 * Inside relaynode.c and punch.c: the relay transport's streams and the tenant's state, shared
 * by the two files (relaynode.h is the node's view).
 */
#ifndef NN_NODE_RELAYNODE_INT_H
#define NN_NODE_RELAYNODE_INT_H

#include <stdint.h>

#include <event2/event.h>

#include "node/relaynode.h"

enum { S_WAIT = 1, S_CONNECTING, S_ACCEPTING, S_OPEN, S_DONE };

typedef struct rstream_t {
  nn_stream_t base; /* first: the manager sees this */
  struct nn_relaynode_t *t;
  struct rstream_t *next;
  struct event *ev;
  int state;
  nn_node_id_t relay, target;
  uint64_t outer; /* our channel to the relay (0: none yet, or gone) */
  int held;       /* we hold outer */
  uint32_t cid;   /* the circuit's id on outer, without NN_RELAY_CID_FROM_RELAY */
  int resolving;
  uint64_t send_credit;
  uint8_t *rx; /* received, not yet delivered: at most NN_RELAY_WINDOW */
  size_t rx_len;
  int want_read, want_write, write_blocked;
  int pending_accept, pending_open, pending_end, end_reported;
  nn_stream_end_t end_how;
  int end_errno;
  int kicked, in_cb, closed;
  nn_addr_t observed; /* our address as the relay sees our channel to it (OBSERVED) */
  /* the hole punch (punch.c) */
  uint64_t inner; /* the channel that runs over this stream (0 until it is up) */
  int punch;      /* P_* */
  int rounds;     /* attempts started (the accepting side starts them) */
  uint64_t t0_ms, rtt_ms;
  uint8_t token_mine[NN_PUNCH_TOKEN_LEN], token_peer[NN_PUNCH_TOKEN_LEN];
  nn_addr_t peer_addrs[NN_PUNCH_MAX_ADDRS];
  size_t n_peer_addrs;
  int claimed;     /* our listener hands the peer's connection to us */
  int pdialled;    /* this attempt's connect was made */
  int pconnects;   /* connects made in this attempt (capped: the peer names the address) */
  int pfd;         /* the punched socket (-1: none) */
  int pconnecting; /* pfd's connect is in progress */
  struct event *pev_rd, *pev_wr, *ptimer, *pretry;
  uint8_t probe_in[NN_PUNCH_TOKEN_LEN];
  size_t probe_in_len, probe_out;
  int tx_switched; /* our bytes go to pfd (we sent SHUT on the circuit) */
  int rx_shut;     /* the peer sent SHUT: after the circuit's bytes, read pfd */
  int prd_on, pwr_on;
} rstream_t;

/* punch states */
enum { P_NONE = 0, P_OFFERED, P_WAIT_SYNC, P_DIALING, P_DONE, P_FAILED };

typedef struct hold_t {
  uint64_t conn;
  unsigned count;
} hold_t;

enum { R_NONE = 0, R_ASKED, R_HELD };

typedef struct resv_t {
  int state;
  uint64_t conn;
  nn_node_id_t relay;
  nn_addr_t addr;
  uint64_t expires_ms, renew_ms;
  uint32_t max_circuits, circuit_s, rate;
  uint64_t circuit_bytes;
  nn_addr_t observed; /* our address as this relay sees us */
} resv_t;

typedef struct cfgrelay_t {
  nn_addr_t addr;
  nn_node_id_t id;
  uint64_t next_dial_ms;
} cfgrelay_t;

#define TRIED_MAX 64

/* Reachability by dial-back (autonat.c). */
#define AN_DIALS 4   /* dial-backs we make for others at once */
#define AN_RECENT 64 /* requesters remembered for the per-requester rate */
#define AN_ASK 8     /* peers asked in one round */

typedef struct an_dial_t {
  int used;
  uint64_t req_conn, dial_conn, nonce;
} an_dial_t;

typedef struct an_recent_t {
  nn_node_id_t id;
  uint64_t at_ms;
} an_recent_t;

typedef struct an_ask_t {
  uint64_t conn, nonce;
  int answered;
} an_ask_t;

typedef struct an_t {
  /* the responder */
  an_dial_t dials[AN_DIALS];
  an_recent_t recent[AN_RECENT];
  /* the requester */
  int state; /* NN_REACH_* */
  nn_addr_t candidate, public_addr;
  int have_candidate;
  an_ask_t ask[AN_ASK];
  int nask, ok, failed, busy; /* busy: answers BUSY (the responder had no dial slot or rate) */
  int round_asks_addr;        /* this round's requests name an address (else they only ask where we are seen) */
  uint64_t next_round_ms, round_end_ms;
  char why[200];
  uint64_t dialbacks_done, dialbacks_refused; /* as the responder */
} an_t;

struct nn_relaynode_t {
  nn_transport_t base; /* first: the manager owns and frees it as a transport */
  nn_net_t *net;
  nn_disco_t *disco;
  struct event_base *evb;
  int proto, registered, detached;
  nn_relaynode_cfg_t cfg;
  const nn_log_t *log;
  nn_relay_t *relay;
  struct event *ev_tick;
  uint64_t tick_at; /* when ev_tick fires, while it is pending */
  rstream_t *streams;
  unsigned nstreams;
  uint32_t next_cid;
  hold_t *holds;
  size_t nholds, capholds;
  resv_t resv[NN_RELAYNODE_MAX_RESV];
  uint64_t tried[TRIED_MAX]; /* channels asked for a reservation that said no (or are asked) */
  size_t ntried;
  cfgrelay_t *cfgrelays;
  size_t ncfgrelays;
  nn_relaynode_stats_t st;
  an_t an;
};

/* relaynode.c, for punch.c */
void nn_rn_stream_end(rstream_t *s, nn_stream_end_t how, int err);
void nn_rn_stream_kick(rstream_t *s);
/** Free a stream the manager closed while we were calling it back. */
void nn_rn_stream_release(rstream_t *s);
void nn_rn_hold(nn_relaynode_t *t, uint64_t conn, int on);
void nn_rn_log(nn_relaynode_t *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* punch.c */
/** The relayed channel over \a s is up as \a inner: the accepting side offers a punch. */
void nn_punch_up(rstream_t *s, uint64_t inner);
/** PUNCH or SYNC on channel \a inner (already parsed). */
void nn_punch_msg(nn_relaynode_t *t, uint64_t inner, const nn_rlmsg_t *m);
/** The peer sent SHUT on the circuit. */
void nn_punch_rx_shut(rstream_t *s);
/** After the switch: write to the punched socket (tr_write's contract). */
ssize_t nn_punch_write(rstream_t *s, const uint8_t *d, size_t n);
/** The manager's wants changed, or the circuit's bytes were all delivered: arm pfd's events. */
void nn_punch_arm(rstream_t *s);
/** Close the punch's socket, events and claim. */
void nn_punch_close(rstream_t *s, int reset);
/** Half-close the punched socket (tr_shutdown after the switch). */
void nn_punch_shutdown(rstream_t *s);

/* relaynode.c, for autonat.c: dial-back found us reachable at \a a, or no longer */
void nn_rn_became_public(nn_relaynode_t *t, const nn_addr_t *a);
void nn_rn_became_private(nn_relaynode_t *t);

/* autonat.c */
void nn_autonat_msg(nn_relaynode_t *t, uint64_t conn, const nn_rlmsg_t *m);
void nn_autonat_up(nn_relaynode_t *t, uint64_t conn);
void nn_autonat_down(nn_relaynode_t *t, uint64_t conn);
void nn_autonat_tick(nn_relaynode_t *t, uint64_t now);
/** Our address as a relay or peer sees it: a candidate to have dialled back. */
void nn_autonat_observed(nn_relaynode_t *t, const nn_addr_t *a);

#endif
