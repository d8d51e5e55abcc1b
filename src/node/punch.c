/*
 * Hole punching over a relayed channel (docs/PROTOCOL.md 10.5), DCUtR's timing over TCP
 * simultaneous open, and the move of the stream under the secure channel onto the punched
 * connection.
 *
 * The accepting side (the relay's target) offers: PUNCH with a fresh token and the addresses
 * its relay sees it at; the dialling side answers with its own; the offerer measures the round
 * trip, sends SYNC and connects after half of it, while the other connects on SYNC. Both connect
 * from their listener's port, towards the address the other's relay saw, and both claim a
 * connection from there at their listener (the peer's SYN may arrive before ours leaves). On
 * the connection each sends its token and reads the other's, which it learnt over the channel:
 * only the node at the other end of the channel knows it, so nothing on the path can stand in.
 * Then each end sends SHUT on the circuit and writes on the punched connection; the reader
 * takes the circuit's bytes up to the peer's SHUT, then the connection's. The channel above
 * never notices: its records carry on, keys and counters unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/rand.h"
#include "lib/clock.h"
#include "lib/hex.h"
#include "net/tcp.h"
#include "node/relaynode_int.h"

#define READ_CHUNK (64u << 10)

static void on_prd(evutil_socket_t fd, short what, void *arg);
static void on_pwr(evutil_socket_t fd, short what, void *arg);
static void on_ptimer(evutil_socket_t fd, short what, void *arg);
static void on_pretry(evutil_socket_t fd, short what, void *arg);

/* A connect refused (a NAT that answers a SYN it has no mapping for with a RST, before the
 * peer's own SYN opened it) is made again after this long, until the attempt's time is up. */
#define REDIAL_MS 50
/* A connect still not through after two round trips is made again (a fresh SYN) rather than
 * left to the kernel's first retransmission a second later: our first SYN may have reached the
 * peer's NAT before the peer's own SYN opened it, and been dropped there. */
#define RESEND_MIN_MS 10
/* Connects in one attempt, at most: the address is the peer's word, so a peer must not be able
 * to turn us into a stream of SYNs at a third party (12 x 3 attempts per relayed channel). */
#define MAX_CONNECTS 12

static uint64_t
resend_ms(const rstream_t *s)
{
  return 2 * s->rtt_ms > RESEND_MIN_MS ? 2 * s->rtt_ms : RESEND_MIN_MS;
}

static int
can_punch(const nn_relaynode_t *t)
{
  return t->cfg.punch && t->cfg.tcp && t->cfg.punch_from.port &&
         (t->cfg.punch_from.type == NN_ADDR_IPV4 || t->cfg.punch_from.type == NN_ADDR_IPV6);
}

/* The addresses we offer: where our relay sees us, and our advertised address. */
static size_t
our_addrs(rstream_t *s, nn_addr_t out[NN_PUNCH_MAX_ADDRS])
{
  size_t n = 0;
  nn_addr_t adv;
  if (!can_punch(s->t))
    return 0;
  if (s->observed.type && s->observed.port)
    out[n++] = s->observed;
  if (nn_disco_addr(s->t->disco, &adv) && (adv.type == NN_ADDR_IPV4 || adv.type == NN_ADDR_IPV6) &&
      !(n && nn_addr_equal(&adv, &out[0])))
    out[n++] = adv;
  return n;
}

/* The peer's node id, 16 hex digits, for logs ("anonymous" if it proved none). */
static void
peer_hex(rstream_t *s, char out[17])
{
  nn_net_conn_info_t ci;
  if (s->inner && nn_net_conn_info(s->t->net, s->inner, &ci) && ci.has_id)
    nn_hex_encode(out, ci.id.b, 8);
  else
    snprintf(out, 17, "anonymous");
}

static void
send_inner(rstream_t *s, const uint8_t *m, size_t len)
{
  if (s->inner)
    (void)nn_net_send(s->t->net, s->inner, m, len);
}

static void
arm_ev(struct event *ev, int *on, int want)
{
  if (!ev || want == *on)
    return;
  if (want)
    event_add(ev, NULL);
  else
    event_del(ev);
  *on = want;
}

static void
unclaim(rstream_t *s)
{
  if (!s->claimed)
    return;
  for (size_t i = 0; i < s->n_peer_addrs; i++)
    nn_tcp_unclaim(s->t->cfg.tcp, &s->peer_addrs[i], s);
  s->claimed = 0;
}

/* Drop the socket of an attempt (not a switched one). */
static void
drop_socket(rstream_t *s, int reset)
{
  if (s->pev_rd)
    event_free(s->pev_rd);
  if (s->pev_wr)
    event_free(s->pev_wr);
  s->pev_rd = s->pev_wr = NULL;
  s->prd_on = s->pwr_on = 0;
  if (s->pfd >= 0) {
    if (reset) {
      struct linger lg = { 1, 0 };
      (void)setsockopt(s->pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(s->pfd);
  }
  s->pfd = -1;
  s->pconnecting = 0;
  s->probe_in_len = s->probe_out = 0;
}

void
nn_punch_close(rstream_t *s, int reset)
{
  unclaim(s);
  drop_socket(s, reset);
  if (s->ptimer)
    event_free(s->ptimer);
  if (s->pretry)
    event_free(s->pretry);
  s->ptimer = s->pretry = NULL;
  OPENSSL_cleanse(s->token_mine, sizeof(s->token_mine));
  OPENSSL_cleanse(s->token_peer, sizeof(s->token_peer));
}

static void
set_timer(rstream_t *s, uint64_t ms)
{
  struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
  if (!s->ptimer && !(s->ptimer = evtimer_new(s->t->evb, on_ptimer, s)))
    return;
  evtimer_add(s->ptimer, &tv);
}

/* An attempt is over without a connection. */
static void
attempt_failed(rstream_t *s, const char *why)
{
  nn_relaynode_t *t = s->t;
  unclaim(s);
  drop_socket(s, 1);
  if (s->pretry)
    evtimer_del(s->pretry);
  s->pdialled = 0;
  if (!s->base.inbound) {
    nn_rn_log(t, NN_LOG_DEBUG, "hole punch attempt %d failed (%s)", s->rounds, why);
    s->punch = P_NONE; /* the dialler waits for the offerer's next round */
    return;
  }
  if (s->rounds < (int)t->cfg.punch_rounds && s->state == S_OPEN) {
    nn_rn_log(t, NN_LOG_DEBUG, "hole punch attempt %d failed (%s): trying again", s->rounds, why);
    nn_punch_up(s, s->inner); /* the offerer starts the next round */
    return;
  }
  t->st.punch_failed++;
  char peer[17];
  peer_hex(s, peer);
  nn_rn_log(t, NN_LOG_INFO, "hole punch with %s failed after %d attempts (%s): the channel stays relayed", peer,
            s->rounds, why);
  s->punch = P_FAILED;
}

/* The punched connection carries the stream from now on, in our direction. */
static void
switch_over(rstream_t *s)
{
  nn_relaynode_t *t = s->t;
  uint8_t m[NN_RELAY_SHUT_LEN];
  uint64_t ms = s->t0_ms ? nn_mono_ms() - s->t0_ms : 0;
  unclaim(s);
  if (s->ptimer)
    evtimer_del(s->ptimer);
  s->punch = P_DONE;
  s->tx_switched = 1;
  nn_tcp_keepalive(s->pfd);
  nn_rlmsg_shut(m, s->cid);
  if (s->outer)
    (void)nn_net_send(t->net, s->outer, m, sizeof(m));
  if (s->rx_shut && s->outer && s->held) {
    nn_rn_hold(t, s->outer, 0); /* both directions left the circuit */
    s->held = 0;
  }
  t->st.punched++;
  if (s->t0_ms) {
    t->st.punch_ms_last = (uint32_t)ms;
    if (ms > t->st.punch_ms_max)
      t->st.punch_ms_max = (uint32_t)ms;
  }
  char peer[17];
  peer_hex(s, peer);
  if (s->t0_ms)
    nn_rn_log(t, NN_LOG_INFO,
              "hole punched with %s: the channel left the relay for a direct connection after %u ms (round trip "
              "through the relay %u ms, attempt %d)",
              peer, (unsigned)ms, (unsigned)s->rtt_ms, s->rounds);
  else
    nn_rn_log(t, NN_LOG_INFO, "hole punched with %s: the channel left the relay for a direct connection", peer);
  nn_punch_arm(s);
  /* the channel's peer is now the host at the other end of the socket: the manager shows,
   * penalizes and bans by that address, no longer the relay's */
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  nn_addr_t direct;
  if (!getpeername(s->pfd, (struct sockaddr *)&ss, &sl) && nn_addr_from_sockaddr((struct sockaddr *)&ss, &direct) &&
      s->base.t->host.moved) {
    s->base.peer = direct;
    s->base.t->host.moved(s->base.t->host.ctx, &s->base);
  }
  if (s->write_blocked)
    nn_rn_stream_kick(s); /* the channel may write again, now to the socket */
}

/* Probe: send our token, read the peer's; both done and equal: switch. */
static void
probe_step(rstream_t *s)
{
  while (s->probe_out < NN_PUNCH_TOKEN_LEN) {
    ssize_t w = send(s->pfd, s->token_mine + s->probe_out, NN_PUNCH_TOKEN_LEN - s->probe_out, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR))
      break;
    if (w <= 0) {
      attempt_failed(s, "the punched connection broke");
      return;
    }
    s->probe_out += (size_t)w;
  }
  while (s->probe_in_len < NN_PUNCH_TOKEN_LEN) {
    ssize_t r = recv(s->pfd, s->probe_in + s->probe_in_len, NN_PUNCH_TOKEN_LEN - s->probe_in_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      break;
    if (r <= 0) {
      nn_rn_log(s->t, NN_LOG_DEBUG, "probe read: %zd %s (sent %zu)", r, r < 0 ? strerror(errno) : "eof", s->probe_out);
      attempt_failed(s, "the punched connection closed before its probe");
      return;
    }
    s->probe_in_len += (size_t)r;
  }
  arm_ev(s->pev_wr, &s->pwr_on, s->probe_out < NN_PUNCH_TOKEN_LEN);
  arm_ev(s->pev_rd, &s->prd_on, s->probe_in_len < NN_PUNCH_TOKEN_LEN);
  if (s->probe_out < NN_PUNCH_TOKEN_LEN || s->probe_in_len < NN_PUNCH_TOKEN_LEN)
    return;
  if (CRYPTO_memcmp(s->probe_in, s->token_peer, NN_PUNCH_TOKEN_LEN)) {
    s->t->st.punch_bad_probe++;
    OPENSSL_cleanse(s->probe_in, sizeof(s->probe_in));
    attempt_failed(s, "the connection's probe was not our peer's token");
    return;
  }
  OPENSSL_cleanse(s->probe_in, sizeof(s->probe_in));
  switch_over(s);
}

static int
make_events(rstream_t *s)
{
  if (!(s->pev_rd = event_new(s->t->evb, s->pfd, EV_READ | EV_PERSIST, on_prd, s)) ||
      !(s->pev_wr = event_new(s->t->evb, s->pfd, EV_WRITE | EV_PERSIST, on_pwr, s)))
    return 0;
  return 1;
}

static void on_claimed(void *ctx, int fd);

/* From now on a connection from the peer's addresses that reaches our listener is the punch's. */
static void
claim_peer(rstream_t *s)
{
  unclaim(s);
  for (size_t i = 0; i < s->n_peer_addrs; i++) {
    if (nn_tcp_claim(s->t->cfg.tcp, &s->peer_addrs[i], on_claimed, s) == NN_OK)
      s->claimed = 1;
  }
}

/* A connection from the peer reached our listener before our own SYN left. */
static void
on_claimed(void *ctx, int fd)
{
  rstream_t *s = ctx;
  nn_rn_log(s->t, NN_LOG_DEBUG, "hole punch: the peer's connection came in through our listener");
  unclaim(s); /* the transport dropped the claim it used; the others go */
  if ((s->punch != P_DIALING && s->punch != P_WAIT_SYNC) || (s->pfd >= 0 && !s->pconnecting)) {
    close(fd); /* not punching now, or our own connect got there first */
    return;
  }
  if (s->punch == P_WAIT_SYNC) {
    s->punch = P_DIALING; /* the offerer was faster than its SYNC: nothing left to dial */
    s->pdialled = 1;
  }
  drop_socket(s, 1);
  s->pfd = fd;
  if (!make_events(s)) {
    attempt_failed(s, "out of memory");
    return;
  }
  probe_step(s);
}

/* Connect from our listener's port to the peer's first address. */
static void
dial(rstream_t *s)
{
  nn_relaynode_t *t = s->t;
  struct sockaddr_storage ss, from;
  socklen_t sl, fl;
  int one = 1, fd;
  if (!s->n_peer_addrs || !nn_addr_to_sockaddr(&s->peer_addrs[0], &ss, &sl) ||
      !nn_addr_to_sockaddr(&t->cfg.punch_from, &from, &fl) || ss.ss_family != from.ss_family) {
    attempt_failed(s, "no address of the peer's family");
    return;
  }
  if (s->pconnects >= MAX_CONNECTS)
    return; /* the attempt's timer ends it, unless the peer's connection comes in */
  s->pconnects++;
  if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 || bind(fd, (struct sockaddr *)&from, fl) < 0 ||
      (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    /* a taken 4-tuple means the peer's connection got in first, through our listener: the claim
     * takes it; anything else ends the attempt when the timer fires */
    nn_rn_log(t, NN_LOG_DEBUG, "hole punch connect: %s", strerror(e));
    return;
  }
  if (nn_log_enabled(t->log, NN_LOG_DEBUG)) {
    char to[NN_ADDR_STR_MAX], fr[NN_ADDR_STR_MAX];
    nn_addr_format(&s->peer_addrs[0], to);
    nn_addr_format(&t->cfg.punch_from, fr);
    nn_rn_log(t, NN_LOG_DEBUG, "hole punch: connecting from %s to %s", fr, to);
  }
  s->pfd = fd;
  s->pconnecting = 1;
  if (!make_events(s)) {
    attempt_failed(s, "out of memory");
    return;
  }
  arm_ev(s->pev_wr, &s->pwr_on, 1);
  uint64_t ms = resend_ms(s);
  struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
  if (s->pretry || (s->pretry = evtimer_new(t->evb, on_pretry, s)))
    evtimer_add(s->pretry, &tv);
}

static void
start_dialling(rstream_t *s)
{
  s->punch = P_DIALING;
  s->pdialled = 1;
  s->pconnects = 0;
  if (!s->claimed)
    claim_peer(s);
  set_timer(s, s->t->cfg.punch_timeout_ms);
  if (s->pfd < 0)
    dial(s); /* unless the peer's connection already came in */
}

void
nn_punch_up(rstream_t *s, uint64_t inner)
{
  nn_relaynode_t *t = s->t;
  uint8_t m[NN_PUNCH_MAX_LEN];
  nn_addr_t a[NN_PUNCH_MAX_ADDRS];
  size_t n, len;
  s->inner = inner;
  if (!s->base.inbound || s->punch == P_DONE || !(n = our_addrs(s, a)))
    return; /* the dialler answers; a node without a listener stays relayed */
  if (nn_rng_fill(NULL, s->token_mine, sizeof(s->token_mine)) != NN_OK ||
      !(len = nn_rlmsg_punch(m, s->token_mine, a, n)))
    return;
  s->rounds++;
  t->st.punch_rounds++;
  s->punch = P_OFFERED;
  s->t0_ms = nn_mono_ms();
  set_timer(s, t->cfg.punch_timeout_ms);
  send_inner(s, m, len);
}

static rstream_t *
by_inner(nn_relaynode_t *t, uint64_t inner)
{
  for (rstream_t *s = t->streams; s; s = s->next)
    if (s->inner == inner && !s->closed)
      return s;
  return NULL;
}

void
nn_punch_msg(nn_relaynode_t *t, uint64_t inner, const nn_rlmsg_t *m)
{
  rstream_t *s = by_inner(t, inner);
  uint8_t out[NN_PUNCH_MAX_LEN];
  nn_addr_t a[NN_PUNCH_MAX_ADDRS];
  size_t n, len;
  if (!s) {
    nn_net_penalize(t->net, inner, 5, "punch: PUNCH or SYNC on a channel that is not relayed");
    return;
  }
  if (s->state != S_OPEN || s->tx_switched || s->punch == P_DONE || (m->kind == NN_RLMSG_SYNC && s->punch == P_DIALING))
    return; /* late: the punch is done, or the offerer's connection came in before its SYNC */
  if (m->kind == NN_RLMSG_PUNCH && !s->base.inbound) {
    /* the dialler: answer with our token and addresses, wait for SYNC */
    drop_socket(s, 1);
    unclaim(s);
    s->n_peer_addrs = m->n_addrs;
    memcpy(s->peer_addrs, m->addrs, m->n_addrs * sizeof(m->addrs[0]));
    memcpy(s->token_peer, m->token, NN_PUNCH_TOKEN_LEN);
    n = our_addrs(s, a);
    if (!m->n_addrs || !n || nn_rng_fill(NULL, s->token_mine, sizeof(s->token_mine)) != NN_OK ||
        !(len = nn_rlmsg_punch(out, s->token_mine, a, n))) {
      len = nn_rlmsg_punch(out, s->token_mine, NULL, 0); /* "I cannot": the offerer stops */
      send_inner(s, out, len);
      s->punch = P_FAILED;
      return;
    }
    s->rounds++;
    t->st.punch_rounds++;
    s->punch = P_WAIT_SYNC;
    s->t0_ms = nn_mono_ms();
    claim_peer(s); /* the offerer may connect before SYNC reaches us */
    set_timer(s, t->cfg.punch_timeout_ms);
    send_inner(s, out, len);
    return;
  }
  if (m->kind == NN_RLMSG_PUNCH && s->punch == P_OFFERED) {
    /* the offerer: the answer measures the round trip; SYNC, then connect after half of it */
    s->rtt_ms = nn_mono_ms() - s->t0_ms;
    if (!m->n_addrs) {
      s->rounds = (int)t->cfg.punch_rounds; /* the peer cannot punch: no more rounds */
      attempt_failed(s, "the peer has no address to punch to");
      return;
    }
    s->n_peer_addrs = m->n_addrs;
    memcpy(s->peer_addrs, m->addrs, m->n_addrs * sizeof(m->addrs[0]));
    memcpy(s->token_peer, m->token, NN_PUNCH_TOKEN_LEN);
    claim_peer(s); /* the peer connects as soon as SYNC reaches it */
    out[0] = NN_RLMSG_SYNC;
    send_inner(s, out, 1);
    s->punch = P_DIALING;
    set_timer(s, s->rtt_ms / 2);
    return;
  }
  if (m->kind == NN_RLMSG_SYNC && !s->base.inbound && s->punch == P_WAIT_SYNC) {
    s->rtt_ms = nn_mono_ms() - s->t0_ms; /* our answer to the offer, then its SYNC: a round trip */
    s->t0_ms = 0;
    start_dialling(s);
    return;
  }
  nn_net_penalize(t->net, inner, 5, "punch: PUNCH or SYNC out of order");
}

static void
on_ptimer(evutil_socket_t fd, short what, void *arg)
{
  rstream_t *s = arg;
  (void)fd;
  (void)what;
  if (s->punch == P_DIALING && s->base.inbound && !s->pdialled) {
    start_dialling(s); /* the offerer's half round trip is over: connect now */
    return;
  }
  if (s->punch == P_OFFERED || s->punch == P_WAIT_SYNC || s->punch == P_DIALING)
    attempt_failed(s, "no connection in time");
}

static void
on_pretry(evutil_socket_t fd, short what, void *arg)
{
  rstream_t *s = arg;
  (void)fd;
  (void)what;
  if (s->punch != P_DIALING)
    return;
  if (s->pfd >= 0 && s->pconnecting)
    drop_socket(s, 1); /* not through yet: a fresh SYN */
  if (s->pfd < 0)
    dial(s);
}

void
nn_punch_rx_shut(rstream_t *s)
{
  s->rx_shut = 1;
  if (s->tx_switched && s->held) {
    nn_rn_hold(s->t, s->outer, 0);
    s->held = 0;
  }
  nn_rn_stream_kick(s); /* deliver what the circuit still holds; then the socket is read */
}

void
nn_punch_arm(rstream_t *s)
{
  if (s->pfd < 0 || s->punch != P_DONE)
    return;
  arm_ev(s->pev_rd, &s->prd_on, s->rx_shut && !s->rx_len && s->want_read && !s->pending_end);
  arm_ev(s->pev_wr, &s->pwr_on, s->want_write && s->write_blocked);
}

ssize_t
nn_punch_write(rstream_t *s, const uint8_t *d, size_t n)
{
  ssize_t w = send(s->pfd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    w = 0;
  if (w >= 0 && (size_t)w < n) {
    s->write_blocked = 1;
    nn_punch_arm(s);
  }
  if (w > 0)
    s->t->st.bytes_out += (uint64_t)w;
  return w;
}

void
nn_punch_shutdown(rstream_t *s)
{
  if (s->pfd >= 0)
    (void)shutdown(s->pfd, SHUT_WR);
}

static void
on_pwr(evutil_socket_t fd, short what, void *arg)
{
  rstream_t *s = arg;
  (void)fd;
  (void)what;
  if (s->pconnecting) {
    int err = 0;
    socklen_t el = sizeof(err);
    s->pconnecting = 0;
    if (getsockopt(s->pfd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
      /* refused or unreachable: the peer's SYN may still come in through our listener, or a
       * retransmitted one of ours get through; the timer ends the attempt */
      nn_rn_log(s->t, NN_LOG_DEBUG, "hole punch connect failed: %s", strerror(err ? err : errno));
      drop_socket(s, 1);
      struct timeval tv = { 0, REDIAL_MS * 1000 };
      if (s->pretry || (s->pretry = evtimer_new(s->t->evb, on_pretry, s)))
        evtimer_add(s->pretry, &tv);
      return;
    }
    probe_step(s);
    return;
  }
  if (s->punch != P_DONE) {
    probe_step(s);
    return;
  }
  arm_ev(s->pev_wr, &s->pwr_on, 0);
  if (s->write_blocked && s->want_write && s->base.ev) {
    s->write_blocked = 0;
    s->in_cb = 1;
    s->base.ev->on_writable(s->base.ctx);
    s->in_cb = 0;
    if (s->closed)
      nn_rn_stream_release(s);
  }
}

static void
on_prd(evutil_socket_t fd, short what, void *arg)
{
  rstream_t *s = arg;
  uint8_t buf[READ_CHUNK];
  (void)fd;
  (void)what;
  if (s->punch != P_DONE) {
    probe_step(s);
    return;
  }
  if (!s->rx_shut || s->rx_len || !s->want_read || !s->base.ev) {
    nn_punch_arm(s);
    return;
  }
  ssize_t r = recv(s->pfd, buf, sizeof(buf), 0);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r <= 0) {
    arm_ev(s->pev_rd, &s->prd_on, 0);
    nn_rn_stream_end(s, r == 0 ? NN_STREAM_EOF : NN_STREAM_ERROR, r == 0 ? 0 : errno);
    return;
  }
  s->t->st.bytes_in += (uint64_t)r;
  s->in_cb = 1;
  s->base.ev->on_data(s->base.ctx, buf, (size_t)r);
  s->in_cb = 0;
  if (s->closed)
    nn_rn_stream_release(s);
}
