/*
 * The secure channel over one stream: the driver between a transport's stream (transport.h)
 * and the sans-I/O channel (nepnet/channel.h), for every transport alike.
 *
 * Every channel has one timer (the handshake deadline, then the linger deadline after a close)
 * and asks its stream for read and write events. Re-entrancy: the channel calls back from
 * inside nn_chan_recv (messages, established); those go to the manager, which calls tenants.
 * While a channel is `busy` nothing frees it and a close is only recorded; nn_conn_settle runs
 * when the outermost entry point unwinds: deferred close, close report, output, events, free.
 *
 * With a worker pool (nn_net_cfg_t.workers), the bytes of a channel that is still handshaking
 * go to a worker with the channel (hs_job_t): nn_chan_recv runs there, where the signatures and
 * KEMs are, and the loop stops reading the stream and holds the channel busy until the job is
 * back. The channel's callbacks, which would reach the manager, are recorded by the job instead
 * and replayed on the loop in the order they came (hs_done), so the manager, the policy and the
 * tenants run on one thread as before. The sans-I/O channel does not know: it is driven by one
 * thread at a time, only not always the same one.
 */
#include "net/net_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "lib/clock.h"

#define DISCARD_MAX (1u << 20) /* bytes read and dropped while lingering */

size_t
nn_conn_pending(const nn_conn_t *c)
{
  if (c->job)
    return c->out_acct; /* the channel is a worker's: what it owed when it left */
  return nn_conn_wire_pending(c) + nn_chan_queued(c->chan);
}

size_t
nn_conn_wire_pending(const nn_conn_t *c)
{
  const uint8_t *d;
  size_t n = 0;
  if (c->job)
    return c->out_acct;
  if (c->chan)
    nn_chan_output(c->chan, &d, &n);
  return n;
}

static int
closing(const nn_conn_t *c)
{
  return c->close_requested || c->reported || c->state == C_DEAD;
}

void
nn_conn_account(nn_conn_t *c)
{
  nn_net_t *n = c->net;
  nn_net_stats_t *st = &n->st;
  if (c->job)
    return; /* counted as it left (submit_step); brought up to date when it is back */
  /* A closing channel counts nothing: its buffers go when it is settled, this loop turn. */
  size_t out = closing(c) ? 0 : nn_conn_pending(c);
  size_t part = closing(c) ? 0 : nn_chan_partial(c->chan);
  int was_over = st->output > n->cfg.output_budget;
  st->output = st->output - c->out_acct + out;
  c->out_acct = out;
  if (part && !c->part_acct)
    c->part_since_ms = nn_mono_ms();
  st->reassembly = st->reassembly - c->part_acct + part;
  c->part_acct = part;
  if (was_over && st->output <= n->cfg.output_budget)
    nn_net_resume(n);
}

int
nn_conn_paused(const nn_conn_t *c)
{
  const nn_net_t *n = c->net;
  size_t out = nn_conn_pending(c);
  /* the node's total with this channel's output as it is now (it may not be settled yet) */
  uint64_t total = n->st.output - c->out_acct + out;
  return out > n->cfg.max_output || (out > 0 && total > n->cfg.output_budget);
}

void
nn_conn_backlog_drop(nn_conn_t *c)
{
  for (qmsg_t *m = c->bq, *nx; m; m = nx) {
    nx = m->next;
    OPENSSL_cleanse(m->b, m->len);
    free(m);
  }
  c->net->st.backlog -= c->bbytes;
  c->bq = NULL;
  c->bqtail = &c->bq;
  c->bbytes = 0;
}

/* Reading stops once max_output of a peer's messages wait: reading on while its replies wait
 * (up to this) is what keeps two nodes that send each other large messages at once from waiting
 * on each other (each takes in the other's message while its own is unread). */
static int
backlog_full(const nn_conn_t *c)
{
  return c->bbytes >= c->net->cfg.max_output;
}

/* Keep a message of a channel that owes too much output until it has read what it asked for. */
static void
backlog_add(nn_conn_t *c, const uint8_t *msg, size_t len)
{
  nn_net_t *n = c->net;
  qmsg_t *m = malloc(sizeof(*m) + len);
  if (!m) {
    nn_net_mark_close(n, c, NN_CLOSE_INTERNAL);
    return;
  }
  m->next = NULL;
  m->len = len;
  memcpy(m->b, msg, len);
  *c->bqtail = m;
  c->bqtail = &m->next;
  c->bbytes += sizeof(*m) + len; /* what it costs, header included */
  n->st.backlog += sizeof(*m) + len;
  n->st.deferred++;
  if (n->st.backlog > n->cfg.backlog_budget)
    nn_net_enforce_budgets(n);
}

/* Deliver what waited while the channel owed output, as long as it no longer does. */
static void
backlog_deliver(nn_conn_t *c)
{
  while (c->bq && c->state == C_OPEN && !closing(c) && !nn_conn_paused(c)) {
    qmsg_t *m = c->bq;
    if (!(c->bq = m->next))
      c->bqtail = &c->bq;
    c->bbytes -= sizeof(*m) + m->len;
    c->net->st.backlog -= sizeof(*m) + m->len;
    nn_net_on_message(c->net, c, m->b, m->len);
    OPENSSL_cleanse(m->b, m->len);
    free(m);
  }
}

/* ---- handshake steps on a worker ---- */

/* What the channel reported during a step on a worker: an event, or a message (maybe empty). */
typedef struct hs_rec_t {
  struct hs_rec_t *next;
  nn_chan_event_t ev; /* 0: a message */
  size_t len;
  uint8_t b[];
} hs_rec_t;

struct hs_job_t {
  nn_work_t w; /* first: the pool hands back this pointer */
  nn_conn_t *c;
  uint64_t now_ms;
  hs_rec_t *recs, **rtail;
  int nomem; /* a record could not be kept: the channel closes (internal) when it is back */
  size_t len;
  uint8_t in[];
};

/* On the worker: keep what the channel reports for the loop. */
static void
hs_record(hs_job_t *j, nn_chan_event_t ev, const uint8_t *msg, size_t len)
{
  hs_rec_t *r = malloc(sizeof(*r) + len);
  if (!r) {
    j->nomem = 1;
    return;
  }
  r->next = NULL;
  r->ev = ev;
  r->len = len;
  if (len)
    memcpy(r->b, msg, len);
  *j->rtail = r;
  j->rtail = &r->next;
}

static void
hs_run(nn_work_t *w)
{
  hs_job_t *j = (hs_job_t *)w;
  nn_chan_recv(j->c->chan, j->in, j->len, j->now_ms);
}

static void chan_on_message(void *ctx, const uint8_t *msg, size_t len);
static void chan_on_event(void *ctx, nn_chan_event_t ev);
static void note_cookie(nn_conn_t *c);

static void
hs_job_free(hs_job_t *j)
{
  for (hs_rec_t *r = j->recs, *nx; r; r = nx) {
    nx = r->next;
    OPENSSL_cleanse(r->b, r->len);
    free(r);
  }
  OPENSSL_cleanse(j->in, j->len);
  free(j);
}

/* On the loop: the channel is ours again. Replay what it reported, as nn_chan_recv's callbacks
 * would have run it, unless the stream ended meanwhile (then it was reported as a failed
 * handshake, and an ESTABLISHED now would revive it). */
static void
hs_done(nn_work_t *w, int cancelled)
{
  hs_job_t *j = (hs_job_t *)w;
  nn_conn_t *c = j->c;
  c->job = NULL;
  if (!cancelled && c->state == C_HANDSHAKE && !c->reported) {
    note_cookie(c);
    for (hs_rec_t *r = j->recs; r; r = r->next) {
      if (r->ev)
        chan_on_event(c, r->ev);
      else
        chan_on_message(c, r->b, r->len);
    }
    if (j->nomem)
      nn_net_mark_close(c->net, c, NN_CLOSE_INTERNAL);
  }
  hs_job_free(j);
  c->net->st.hs_out--;
  c->busy--;
  if (cancelled)
    return; /* the manager is being freed: it frees the channel next */
  nn_conn_account(c);
  if (c->net->st.reassembly > c->net->cfg.reassembly_budget)
    nn_net_enforce_budgets(c->net);
  nn_conn_settle(c); /* output, the next read, deadlines; may free c */
}

/* Hand a handshake step to the pool. The copy of the bytes counts as partial input until the
 * job is back, so the node's reassembly budget bounds what jobs hold. */
static int
submit_step(nn_conn_t *c, const uint8_t *d, size_t len)
{
  nn_net_t *n = c->net;
  hs_job_t *j = malloc(sizeof(*j) + len);
  if (!j)
    return 0; /* run it here instead */
  memset(j, 0, sizeof(*j));
  j->w.run = hs_run;
  j->w.done = hs_done;
  j->c = c;
  j->now_ms = nn_mono_ms();
  j->rtail = &j->recs;
  j->len = len;
  memcpy(j->in, d, len);
  n->st.reassembly += len;
  c->part_acct += len;
  if (!c->part_since_ms)
    c->part_since_ms = nn_mono_ms();
  c->busy++;
  c->job = j;
  /* Neither input nor output until the step is back: settle would find the channel busy, and a
   * level-triggered write event would spin. */
  c->s->t->want(c->s, 0, 0);
  n->st.hs_offloaded++;
  if (++n->st.hs_out > n->st.hs_max_out)
    n->st.hs_max_out = n->st.hs_out;
  nn_workers_submit(n->workers, &j->w);
  return 1;
}

/* ---- the channel's callbacks ---- */

static void
chan_on_message(void *ctx, const uint8_t *msg, size_t len)
{
  nn_conn_t *c = ctx;
  if (c->job) { /* on a worker: for the loop to replay */
    hs_record(c->job, 0, msg, len);
    return;
  }
  if (closing(c))
    return; /* closed by a tenant: the rest of this read is dropped */
  /* A peer that does not read our replies gets no more of them: its requests wait, in order. */
  if (c->bq || nn_conn_paused(c)) {
    backlog_add(c, msg, len);
    return;
  }
  nn_net_on_message(c->net, c, msg, len);
}

static void
chan_on_event(void *ctx, nn_chan_event_t ev)
{
  nn_conn_t *c = ctx;
  if (c->job) {
    hs_record(c->job, ev, NULL, 0);
    return;
  }
  if (ev == NN_CHAN_EV_CLOSED) {
    c->chan_closed = 1; /* reported by settle, outside the channel */
    nn_net_uncount_half_open(c->net, c);
    return;
  }
  if (ev != NN_CHAN_EV_ESTABLISHED)
    return;
  c->established_ever = 1;
  c->state = C_OPEN;
  nn_net_on_established(c->net, c);
}

/* ---- closing ---- */

/* Count the close, tell the policy and the tenants (nn_net_on_closed). Once. */
static void
report(nn_conn_t *c, nn_close_reason_t reason)
{
  if (c->reported)
    return;
  c->reported = 1;
  c->reason = reason;
  nn_net_on_closed(c->net, c);
}

/* The stream is unusable (EOF, error, failed dial): report if not yet, then drop it. */
static void
fail(nn_conn_t *c, nn_close_reason_t why, int err)
{
  if (!c->reported) {
    c->sys_errno = err;
    report(c, c->chan_closed ? nn_chan_close_reason(c->chan) : why);
  }
  c->state = C_DEAD;
}

void
nn_conn_free(nn_conn_t *c)
{
  nn_net_t *n = c->net;
  if (c->ev_tm)
    event_free(c->ev_tm);
  if (c->s)
    c->s->t->close(c->s, 0);
  nn_chan_free(c->chan);
  for (qmsg_t *m = c->q, *nx; m; m = nx) {
    nx = m->next;
    free(m);
  }
  nn_conn_backlog_drop(c);
  c->state = C_DEAD;
  nn_conn_account(c);
  nn_admit_release(&n->admit, &c->ticket, nn_mono_us());
  nn_net_unlink(n, c);
  free(c);
}

/* ---- output and events ---- */

static void
flush(nn_conn_t *c)
{
  nn_net_stats_t *st = &c->net->st;
  while (!c->io_failed) {
    const uint8_t *d;
    size_t len;
    nn_chan_output(c->chan, &d, &len);
    if (!len)
      return;
    ssize_t w = c->s->t->write(c->s, d, len);
    if (w > 0) {
      nn_chan_output_consume(c->chan, (size_t)w);
      st->bytes_out += (uint64_t)w;
      c->wire_out += (uint64_t)w;
      continue;
    }
    if (w < 0) {
      c->io_failed = 1; /* reported by settle */
      c->sys_errno = errno;
    }
    return;
  }
}

static void
update_events(nn_conn_t *c)
{
  size_t out = nn_conn_wire_pending(c);
  int live = c->state == C_HANDSHAKE || c->state == C_OPEN;
  int rd = (live && !backlog_full(c)) || c->state == C_DRAIN_IN;
  int wr = (live || c->state == C_DRAIN_OUT) && out > 0;
  c->s->t->want(c->s, rd, wr);
  uint64_t dl = UINT64_MAX;
  if (c->state == C_DIALING || c->state == C_HANDSHAKE || c->state == C_OPEN)
    dl = nn_chan_deadline(c->chan); /* open: UINT64_MAX, or a shaped link's next record */
  else if (c->state == C_DRAIN_OUT || c->state == C_DRAIN_IN)
    dl = c->linger_deadline;
  if (dl == c->tm_armed)
    return;
  c->tm_armed = dl;
  if (dl == UINT64_MAX) {
    evtimer_del(c->ev_tm);
    return;
  }
  uint64_t now = nn_mono_ms(), delta = dl > now ? dl - now + 1 : 1; /* +1: libevent's clock is coarser */
  struct timeval tv = { (time_t)(delta / 1000), (suseconds_t)(delta % 1000) * 1000 };
  evtimer_add(c->ev_tm, &tv);
}

void
nn_conn_settle(nn_conn_t *c)
{
  if (c->busy)
    return;
  c->busy++;
  c->dirty = 0;
  if (c->bq && c->state == C_OPEN && !closing(c)) {
    flush(c); /* what the peer read since makes room for the replies to what waited */
    backlog_deliver(c);
  }
  if (c->bq && closing(c))
    nn_conn_backlog_drop(c);
  if (c->close_requested && !c->chan_closed && c->state < C_DRAIN_OUT)
    nn_chan_close(c->chan, c->close_with);
  if (c->io_failed && c->state != C_DEAD)
    fail(c, NN_NET_CLOSE_IO, c->sys_errno);
  if (c->chan_closed && !c->reported) {
    nn_close_reason_t r = nn_chan_close_reason(c->chan);
    report(c, r);
    if (c->state != C_DEAD) {
      /* After keys existed, flush the CLOSE record and give the peer time to read it. */
      if (c->established_ever && r != NN_CLOSE_PEER && c->state != C_DIALING) {
        c->state = C_DRAIN_OUT;
        c->linger_deadline = nn_mono_ms() + c->net->cfg.linger_ms;
      } else {
        c->state = C_DEAD;
      }
    }
  }
  if (c->state == C_HANDSHAKE || c->state == C_OPEN || c->state == C_DRAIN_OUT)
    flush(c);
  if (c->io_failed && c->state != C_DEAD)
    fail(c, NN_NET_CLOSE_IO, c->sys_errno);
  if (c->state == C_DRAIN_OUT && nn_conn_wire_pending(c) == 0) {
    c->s->t->shutdown(c->s);
    c->state = C_DRAIN_IN;
  }
  if (c->state != C_DEAD) {
    nn_conn_account(c);
    update_events(c);
  }
  c->busy--;
  if (c->state == C_DEAD)
    nn_conn_free(c);
}

void
nn_conn_poke(nn_conn_t *c)
{
  if (c->busy)
    return; /* the entry point running now settles on its way out */
  if (c->state == C_HANDSHAKE || c->state == C_OPEN)
    flush(c);
  nn_conn_account(c);
  if (c->state != C_DEAD && !c->io_failed)
    update_events(c);
  if (c->io_failed || c->chan_closed || c->close_requested) {
    c->dirty = 1;
    nn_net_kick(c->net);
  }
}

/* ---- stream events ---- */

static void
on_open(void *ctx)
{
  nn_conn_t *c = ctx;
  if (c->state == C_DIALING)
    c->state = C_HANDSHAKE;
  nn_conn_settle(c);
}

/* Did this handshake go through a cookie round (we sent one, or had to return one)? */
static void
note_cookie(nn_conn_t *c)
{
  if (c->cookie_round || !nn_chan_cookie_sent(c->chan))
    return;
  c->cookie_round = 1;
  if (c->inbound)
    c->net->st.cookies_sent++;
}

static int
on_data(void *ctx, const uint8_t *d, size_t len)
{
  nn_conn_t *c = ctx;
  c->net->st.bytes_in += len;
  if (c->state == C_DRAIN_IN) {
    c->discarded += len;
    if (c->discarded <= DISCARD_MAX)
      return 1;
    c->state = C_DEAD;
    nn_conn_settle(c);
    return 0;
  }
  if (c->state != C_HANDSHAKE && c->state != C_OPEN)
    return 0;
  if (c->job) {
    /* The transport reads no more once asked not to (transport.h): this is a driver bug, and
     * dropping bytes of a handshake would only fail it later, so say so now. */
    nn_net_mark_close(c->net, c, NN_CLOSE_INTERNAL);
    return 0;
  }
  if (c->state == C_HANDSHAKE && c->net->workers && !closing(c) && submit_step(c, d, len))
    return 0;
  c->busy++;
  nn_chan_recv(c->chan, d, len, nn_mono_ms());
  if (c->state == C_HANDSHAKE)
    note_cookie(c);
  nn_conn_account(c);
  if (c->net->st.reassembly > c->net->cfg.reassembly_budget)
    nn_net_enforce_budgets(c->net);
  c->busy--;
  int more = !c->chan_closed && !closing(c) && !backlog_full(c);
  nn_conn_settle(c); /* may free c */
  return more;
}

static void
on_writable(void *ctx)
{
  nn_conn_settle(ctx);
}

static void
on_end(void *ctx, nn_stream_end_t how, int err)
{
  nn_conn_t *c = ctx;
  if (c->state == C_DRAIN_IN) {
    c->state = C_DEAD; /* the peer's end after our CLOSE: done */
  } else {
    c->busy++;
    fail(c,
         how == NN_STREAM_REFUSED ? NN_NET_CLOSE_CONNECT
         : how == NN_STREAM_EOF   ? NN_NET_CLOSE_EOF
                                  : NN_NET_CLOSE_IO,
         err);
    c->busy--;
  }
  nn_conn_settle(c);
}

const nn_stream_events_t nn_conn_stream_events = { on_open, on_data, on_writable, on_end };

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
  nn_conn_t *c = arg;
  uint64_t now = nn_mono_ms();
  (void)fd;
  (void)what;
  c->tm_armed = UINT64_MAX;
  if (c->job)
    return; /* the channel is a worker's; re-armed when it is back */
  if (c->state <= C_OPEN) {
    c->busy++;
    nn_chan_tick(c->chan, now);
    c->busy--;
  } else if ((c->state == C_DRAIN_OUT || c->state == C_DRAIN_IN) && now >= c->linger_deadline) {
    c->state = C_DEAD;
  }
  nn_conn_settle(c);
}

/* ---- creation ---- */

nn_conn_t *
nn_conn_new(nn_net_t *n, nn_stream_t *s, int inbound)
{
  nn_conn_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  if (!(c->ev_tm = evtimer_new(n->base, on_timer, c))) {
    free(c);
    return NULL;
  }
  c->net = n;
  c->s = s;
  c->inbound = (uint8_t) !!inbound;
  c->addr = s->peer;
  c->tm_armed = UINT64_MAX;
  c->since_ms = c->last_used_ms = nn_mono_ms();
  c->qtail = &c->q;
  c->bqtail = &c->bq;
  c->close_with = NN_CLOSE_LOCAL;
  c->state = inbound ? C_HANDSHAKE : C_DIALING;
  return c;
}

/* The channel starts; an initiator's first message is queued at once. */
nn_err_t
nn_conn_start(nn_conn_t *c, const nn_chan_config_t *cc)
{
  nn_chan_config_t k = *cc;
  k.on_message = chan_on_message;
  k.on_event = chan_on_event;
  k.ctx = c;
  nn_err_t e = nn_chan_new(&c->chan, &k, nn_mono_ms());
  if (e)
    return e;
  c->s->ev = &nn_conn_stream_events;
  c->s->ctx = c;
  update_events(c);
  return NN_OK;
}

void
nn_conn_info(const nn_conn_t *c, nn_net_conn_info_t *o)
{
  memset(o, 0, sizeof(*o));
  o->conn = c->serial;
  o->inbound = c->inbound;
  o->established = c->established_ever;
  o->closing = c->reported || c->close_requested || c->chan_closed;
  o->held = c->holds != 0;
  o->addr = c->addr;
  o->has_id = c->has_id;
  o->id = c->id;
  o->transport = c->s ? c->s->t->name : "";
  o->stream = c->s;
  o->chan = c->established_ever ? nn_chan_info(c->chan) : NULL;
  o->cookie_round = c->cookie_round;
  o->since_ms = c->since_ms;
  o->last_used_ms = c->last_used_ms;
  o->bytes_in = c->bytes_in;
  o->bytes_out = c->bytes_out;
  o->msgs_in = c->msgs_in;
  o->msgs_out = c->msgs_out;
  o->pending = nn_conn_pending(c);
  o->reason = c->reason;
  o->sys_errno = c->sys_errno;
  o->moved = c->moved;
  o->via = c->via;
}
