/**
 * \file net_int.h
 * \brief Internals shared by the manager (net.c) and its channel driver (conn.c).
 */
#ifndef NN_NET_NET_INT_H
#define NN_NET_NET_INT_H

#include "net/admit.h"
#include "net/net.h"
#include "net/workers.h"

struct event;

#define NN_NET_QUEUE_MAX_BYTES (1u << 20) /* per channel, queued before its handshake ends */
#define NN_NET_PENALTY_CLOSE 10           /* a channel that closed for a protocol or auth failure */
#define NN_NET_KIND_NONE 0xff             /* no tenant owns this kind */

typedef enum conn_state_t {
  C_DIALING,   /* outbound: the stream is not open yet */
  C_HANDSHAKE, /* the secure channel's handshake runs */
  C_OPEN,      /* established */
  C_DRAIN_OUT, /* closed after keys existed: flushing the CLOSE record */
  C_DRAIN_IN,  /* ... then waiting (linger_ms at most) for the peer's end */
  C_DEAD,      /* to be freed when the current entry point unwinds */
} conn_state_t;

typedef struct qmsg_t {
  struct qmsg_t *next;
  size_t len;
  uint8_t b[];
} qmsg_t;

typedef struct nn_conn_t nn_conn_t;
typedef struct hs_job_t hs_job_t;

struct nn_conn_t {
  nn_net_t *net;
  nn_conn_t *prev, *next; /* every channel */
  nn_conn_t *hnext;       /* serial hash chain */
  uint64_t serial;
  nn_stream_t *s;
  nn_chan_t *chan;
  struct event *ev_tm;
  conn_state_t state;
  int priv, owner; /* NN_NET_DIAL_PRIVATE: only tenant \a owner hears of it */
  int busy;        /* inside one of this channel's entry points: nothing frees it */
  /* The channel is out on a worker (its handshake step): the loop touches neither it nor what
   * it reports until the job is back (conn.c, hs_done); busy is held meanwhile. */
  hs_job_t *job;
  int sys_errno;
  nn_close_reason_t reason, close_with;
  uint8_t inbound, established_ever, reported, close_requested, chan_closed, cookie_round;
  uint8_t refused;  /* established, then closed by the policy's admit */
  uint8_t evicting; /* a half-open connection given up for a newcomer, not yet gone */
  uint8_t counted_half_open, counted_open, io_failed, dirty;
  uint64_t tm_armed, linger_deadline, since_ms, last_used_ms;
  size_t discarded;
  nn_admit_ticket_t ticket;
  nn_addr_t addr;
  nn_addr_t via;               /* the address before the stream moved (transport.h, moved) */
  uint8_t moved, moved_untold; /* ... and the tenants are yet to hear of it */
  int has_id;
  nn_node_id_t id, expected;
  uint32_t told, holds; /* tenant bit masks: told of it (on_up), holding it */
  qmsg_t *q, **qtail;   /* sent before the handshake ended */
  size_t qn, qbytes;
  qmsg_t *bq, **bqtail; /* received while the channel owed too much output */
  size_t bbytes;
  size_t out_acct, part_acct;      /* what this channel adds to the node's output and reassembly totals */
  uint64_t part_since_ms;          /* first fragment of the partial message */
  uint64_t wire_out;               /* stream bytes written */
  uint64_t mark_ms, mark_wire_out; /* stall check: when output was last seen pending, and how much */
  size_t mark_pending;
  uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
};

typedef struct tenant_t {
  nn_net_proto_t p;
  int active;
} tenant_t;

struct nn_net_t {
  struct event_base *base;
  nn_net_cfg_t cfg;
  nn_transport_t *transports[8];
  size_t ntransports;
  nn_cookie_jar_t *jar;
  nn_admit_t admit;
  nn_net_policy_t policy;
  tenant_t tenants[NN_NET_MAX_PROTOCOLS];
  uint8_t owner[256]; /* message kind -> tenant index, or NN_NET_KIND_NONE */
  nn_conn_t *conns;
  nn_conn_t **ht; /* by serial */
  size_t ht_mask, nconns;
  uint64_t next_serial;
  struct event *ev_kick, *ev_maint;
  int kicked, freeing;
  nn_net_stats_t st;
  uint32_t evicting;     /* half-open connections given up for newcomers, not yet gone */
  nn_workers_t *workers; /* NULL: every handshake step on the loop's thread */
};

/* conn.c: the secure channel over one stream */
extern const nn_stream_events_t nn_conn_stream_events;
nn_conn_t *nn_conn_new(nn_net_t *n, nn_stream_t *s, int inbound);
nn_err_t nn_conn_start(nn_conn_t *c, const nn_chan_config_t *cc);
void nn_conn_free(nn_conn_t *c);
/** The state machine's step: deferred close, report, output, events; may free \a c. Only
 *  from event context (a stream event, a timer, the kick), never from a tenant's call. */
void nn_conn_settle(nn_conn_t *c);
/** From a tenant's call: write what can be written and re-arm, without calling anyone back;
 *  anything that needs reporting is left to the kick. */
void nn_conn_poke(nn_conn_t *c);
size_t nn_conn_pending(const nn_conn_t *c);
/** What is sealed and waiting for the stream (nn_conn_pending without a shaped link's queue). */
size_t nn_conn_wire_pending(const nn_conn_t *c);
/** Bring the node's output and reassembly totals up to date with \a c (no callbacks). */
void nn_conn_account(nn_conn_t *c);
/** Does \a c owe so much output that its peer's messages wait? */
int nn_conn_paused(const nn_conn_t *c);
/** Drop the messages waiting on \a c (it is closing). */
void nn_conn_backlog_drop(nn_conn_t *c);
void nn_conn_info(const nn_conn_t *c, nn_net_conn_info_t *out);

/* net.c: what the driver calls back into */
void nn_net_kick(nn_net_t *n);
void nn_net_on_established(nn_net_t *n, nn_conn_t *c);
void nn_net_on_message(nn_net_t *n, nn_conn_t *c, const uint8_t *msg, size_t len);
void nn_net_on_closed(nn_net_t *n, nn_conn_t *c);
void nn_net_unlink(nn_net_t *n, nn_conn_t *c);
/** Close \a c from inside the manager with \a reason (no callbacks; settled by the kick). */
void nn_net_mark_close(nn_net_t *n, nn_conn_t *c, nn_close_reason_t reason);
void nn_net_uncount_half_open(nn_net_t *n, nn_conn_t *c);
/** The node's output total fell below output_budget: re-examine paused channels. */
void nn_net_resume(nn_net_t *n);
/** The reassembly or backlog total is above its budget: close the channel that costs most. */
void nn_net_enforce_budgets(nn_net_t *n);

#endif
