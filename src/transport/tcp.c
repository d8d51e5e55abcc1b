/*
 * The libevent TCP driver of the secure channel: sockets, timers and listener defences around
 * the sans-I/O core. See tcp.h for the API, the limits and the lifetime rules.
 *
 * Every connection has three libevent events: a persistent EV_READ (armed while we want input),
 * a persistent EV_WRITE (armed only while output is pending, or while a connect is in progress)
 * and a timer (the channel's handshake deadline, then the linger deadline after a close).
 *
 * Re-entrancy: callbacks into the user run from inside nn_chan_recv (messages, established) or
 * from settle() (closed). While a connection is `busy`, nothing frees it and a close requested by
 * the user is only recorded; settle() runs when the outermost entry point unwinds, performs the
 * deferred close, reports it, flushes output, re-arms the events and frees a dead connection.
 */
#define _GNU_SOURCE /* accept4 */
#include "transport/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/rand.h"
#include "transport/chan_int.h"
#include "transport/cookie.h"

#define RBUF_LISTENER (256u << 10) /* one per listener, shared by its connections */
#define RBUF_STACK (64u << 10)     /* outbound connections read into the stack */
#define READS_PER_WAKEUP 8         /* fairness between connections */
#define DISCARD_MAX (1u << 20)     /* bytes read and dropped while lingering */
#define ACCEPT_PAUSE_MS 100

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_DRAIN_OUT, ST_DRAIN_IN, ST_DEAD };

typedef struct ip_entry_t {
  struct ip_entry_t *next;
  uint8_t key[16]; /* IPv4 as ::ffff:a.b.c.d, IPv6 as its /64 prefix */
  uint32_t conns;
  uint64_t tat_us; /* GCRA theoretical arrival time; the bucket is full once it is past */
} ip_entry_t;

typedef union sockaddr_any_t {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} sockaddr_any_t;

struct nn_tcp_conn_t {
  nn_tcp_listener_t *l; /* NULL for outbound connections */
  nn_tcp_conn_t *prev, *next;
  nn_chan_t *chan;
  struct event *ev_rd, *ev_wr, *ev_tm;
  ip_entry_t *ipe;
  nn_tcp_callbacks_t cb;
  void *user;
  int fd;
  int busy;
  int sys_errno;
  nn_close_reason_t reason;
  uint8_t state;
  uint8_t rd_on, wr_on;
  uint8_t established_ever, reported, close_requested, chan_closed, cookie_round;
  uint8_t counted_half_open, counted_open;
  uint8_t ip_len; /* cookie address: the IP without the port */
  uint8_t ip[16];
  uint64_t tm_armed; /* deadline the timer is set for (UINT64_MAX: none) */
  uint64_t linger_deadline;
  size_t discarded, max_output;
  uint32_t linger_ms;
  socklen_t peer_len;
  sockaddr_any_t peer;
  nn_node_id_t expected;
  char peer_str[64]; /* formatted on first use */
};

struct nn_tcp_listener_t {
  struct event_base *base;
  int fd;
  struct event *ev_accept, *ev_pause, *ev_jar;
  nn_tcp_limits_t lim;
  const nn_identity_t *identity;
  int require_peer_identity;
  nn_tcp_chan_params_t chan;
  nn_tcp_callbacks_t cb;
  nn_cookie_jar_t *jar;
  nn_tcp_stats_t st;
  nn_tcp_conn_t *conns;
  /* per-IP table */
  int per_ip;
  ip_entry_t **ipt;
  size_t ipt_mask;
  uint64_t ipk[2];
  uint64_t gcra_t_us, gcra_tau_us;
  uint8_t *rbuf;
  uint16_t port;
  char addr[64];
};

/* ---- small helpers ---- */

static uint64_t
mono_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
mono_ms(void)
{
  return mono_us() / 1000u;
}

const char *
nn_tcp_close_reason_str(nn_close_reason_t r)
{
  switch ((int)r) {
  case 32: return "the peer ended the TCP connection without a CLOSE record";
  case 33: return "socket error";
  case 34: return "TCP connect failed";
  default: return nn_close_reason_str(r);
  }
}

void
nn_tcp_limits_default(nn_tcp_limits_t *l)
{
  memset(l, 0, sizeof(*l));
  l->max_conns = 1024;
  l->max_half_open = 256;
  l->load_half_open = 32;
  l->max_per_ip = 8;
  l->ip_rate = 20.0;
  l->ip_burst = 5;
  l->max_tracked_ips = 4096;
  l->handshake_timeout_ms = NN_CHAN_DEFAULT_HS_TIMEOUT_MS;
  l->linger_ms = 2000;
  l->max_output = 32u << 20;
  l->backlog = 1024;
  l->accept_batch = 64;
}

void
nn_tcp_format_addr(const struct sockaddr *sa, char *out, size_t n)
{
  char host[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    snprintf(out, n, "%s:%u", host, ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, host, sizeof(host));
      snprintf(out, n, "%s:%u", host, ntohs(in6->sin6_port));
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
      snprintf(out, n, "[%s]:%u", host, ntohs(in6->sin6_port));
    }
  } else {
    snprintf(out, n, "(unknown address family %d)", sa->sa_family);
  }
}

nn_err_t
nn_tcp_parse_addr(const char *hostport, struct sockaddr_storage *ss, socklen_t *len)
{
  char host[256];
  const char *port, *end;
  size_t hl;
  struct addrinfo hints, *res = NULL;

  if (!hostport)
    return NN_ERR_FORMAT;
  if (hostport[0] == '[') {
    if (!(end = strchr(hostport, ']')) || end[1] != ':')
      return NN_ERR_FORMAT;
    hl = (size_t)(end - hostport - 1);
    memcpy(host, hostport + 1, hl < sizeof(host) ? hl : 0);
    port = end + 2;
  } else {
    if (!(end = strrchr(hostport, ':')))
      return NN_ERR_FORMAT;
    hl = (size_t)(end - hostport);
    if (memchr(hostport, ':', hl)) /* an IPv6 address must be bracketed */
      return NN_ERR_FORMAT;
    memcpy(host, hostport, hl < sizeof(host) ? hl : 0);
    port = end + 1;
  }
  if (hl == 0 || hl >= sizeof(host))
    return NN_ERR_FORMAT;
  host[hl] = 0;
  if (!strcmp(host, "*"))
    strcpy(host, "0.0.0.0");
  unsigned long p = 0;
  if (!*port || strlen(port) > 5)
    return NN_ERR_FORMAT;
  for (const char *q = port; *q; q++) {
    if (*q < '0' || *q > '9')
      return NN_ERR_FORMAT;
    p = p * 10 + (unsigned long)(*q - '0');
  }
  if (p > 65535)
    return NN_ERR_FORMAT;
  memset(&hints, 0, sizeof(hints));
  hints.ai_flags = AI_NUMERICHOST; /* never blocks on DNS */
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) || !res || res->ai_addrlen > sizeof(*ss)) {
    if (res)
      freeaddrinfo(res);
    return NN_ERR_FORMAT;
  }
  memset(ss, 0, sizeof(*ss));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
  else if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
  else
    return NN_ERR_FORMAT;
  return NN_OK;
}

/* The address bytes a cookie is bound to (the IP, without the port) and the per-IP key. */
static void
addr_ip(const struct sockaddr *sa, uint8_t ip[16], uint8_t *ip_len, uint8_t key[16])
{
  static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const uint8_t *v4 = NULL;
  memset(key, 0, 16);
  if (sa->sa_family == AF_INET) {
    v4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      v4 = in6->sin6_addr.s6_addr + 12;
    } else {
      memcpy(ip, in6->sin6_addr.s6_addr, 16);
      *ip_len = 16;
      memcpy(key, in6->sin6_addr.s6_addr, 8); /* one /64 is one "address" for the limits */
      return;
    }
  }
  if (!v4) {
    *ip_len = 0;
    return;
  }
  memcpy(ip, v4, 4);
  *ip_len = 4;
  memcpy(key, v4mapped, 12);
  memcpy(key + 12, v4, 4);
}

static void
rst_close(int fd)
{
  struct linger lg = { 1, 0 }; /* RST: no TIME_WAIT kept for a refused connection */
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
}

static void
set_nodelay(int fd)
{
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- per-IP table: chained hash with a random key, capped at max_tracked_ips entries ---- */

static uint64_t
mix64(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static size_t
ip_slot(const nn_tcp_listener_t *l, const uint8_t key[16])
{
  uint64_t a, b;
  memcpy(&a, key, 8);
  memcpy(&b, key + 8, 8);
  return (size_t)(mix64(mix64(a ^ l->ipk[0]) ^ b ^ l->ipk[1]) & l->ipt_mask);
}

static ip_entry_t *
ip_lookup(nn_tcp_listener_t *l, const uint8_t key[16])
{
  for (ip_entry_t *e = l->ipt[ip_slot(l, key)]; e; e = e->next)
    if (!memcmp(e->key, key, 16))
      return e;
  return NULL;
}

static void
ip_remove(nn_tcp_listener_t *l, ip_entry_t *e)
{
  ip_entry_t **pp = &l->ipt[ip_slot(l, e->key)];
  while (*pp && *pp != e)
    pp = &(*pp)->next;
  if (*pp) {
    *pp = e->next;
    l->st.tracked_ips--;
    free(e);
  }
}

/* An entry with no connection and a full bucket is the same as no entry. */
static void
ip_maybe_drop(nn_tcp_listener_t *l, ip_entry_t *e, uint64_t now_us)
{
  if (e->conns == 0 && e->tat_us <= now_us)
    ip_remove(l, e);
}

static void
ip_sweep(nn_tcp_listener_t *l, uint64_t now_us)
{
  for (size_t i = 0; i <= l->ipt_mask; i++) {
    ip_entry_t **pp = &l->ipt[i];
    while (*pp) {
      ip_entry_t *e = *pp;
      if (e->conns == 0 && e->tat_us <= now_us) {
        *pp = e->next;
        l->st.tracked_ips--;
        free(e);
      } else {
        pp = &e->next;
      }
    }
  }
}

static ip_entry_t *
ip_insert(nn_tcp_listener_t *l, const uint8_t key[16], uint64_t now_us)
{
  ip_entry_t *e;
  if (l->st.tracked_ips >= l->lim.max_tracked_ips)
    ip_sweep(l, now_us);
  if (l->st.tracked_ips >= l->lim.max_tracked_ips || !(e = calloc(1, sizeof(*e))))
    return NULL;
  memcpy(e->key, key, 16);
  e->tat_us = now_us;
  size_t s = ip_slot(l, key);
  e->next = l->ipt[s];
  l->ipt[s] = e;
  l->st.tracked_ips++;
  return e;
}

/* GCRA: one token per handshake; at most ip_burst in a row, then one per 1/ip_rate s. */
static int
ip_take(const nn_tcp_listener_t *l, ip_entry_t *e, uint64_t now_us)
{
  if (!l->gcra_t_us)
    return 1;
  uint64_t tat = e->tat_us > now_us ? e->tat_us : now_us;
  if (tat - now_us > l->gcra_tau_us)
    return 0;
  e->tat_us = tat + l->gcra_t_us;
  return 1;
}

/* ---- connections ---- */

static void settle(nn_tcp_conn_t *c);

static size_t
pending(const nn_tcp_conn_t *c)
{
  const uint8_t *d;
  size_t n = 0;
  if (c->chan)
    nn_chan_output(c->chan, &d, &n);
  return n;
}

static void
chan_on_message(void *ctx, const uint8_t *msg, size_t len)
{
  nn_tcp_conn_t *c = ctx;
  if (c->close_requested || c->reported || !c->cb.on_message)
    return; /* the user closed: the rest of this read is dropped */
  c->cb.on_message(c->cb.ctx, c, msg, len);
}

static void
chan_on_event(void *ctx, nn_chan_event_t ev)
{
  nn_tcp_conn_t *c = ctx;
  if (ev == NN_CHAN_EV_CLOSED) {
    c->chan_closed = 1; /* reported by settle(), outside the channel */
    return;
  }
  if (ev != NN_CHAN_EV_ESTABLISHED)
    return;
  c->established_ever = 1;
  c->state = ST_OPEN;
  if (c->l) {
    if (c->counted_half_open) {
      c->counted_half_open = 0;
      c->l->st.half_open--;
    }
    c->counted_open = 1;
    c->l->st.open++;
    c->l->st.handshakes++;
  }
  if (!c->close_requested && c->cb.on_established)
    c->cb.on_established(c->cb.ctx, c, nn_chan_info(c->chan));
}

static void
report(nn_tcp_conn_t *c, nn_close_reason_t reason)
{
  if (c->reported)
    return;
  c->reported = 1;
  c->reason = reason;
  if (c->l) {
    nn_tcp_stats_t *st = &c->l->st;
    if (c->counted_half_open)
      st->half_open--;
    if (c->counted_open)
      st->open--;
    c->counted_half_open = c->counted_open = 0;
    st->closed[(int)reason >= 0 && (int)reason < NN_TCP_CLOSE_MAX ? (int)reason : NN_CLOSE_INTERNAL]++;
  }
  if (c->cb.on_closed)
    c->cb.on_closed(c->cb.ctx, c, reason);
}

/* The socket is unusable (EOF, error, failed connect): report if not yet, then drop it. */
static void
fail_tcp(nn_tcp_conn_t *c, nn_close_reason_t why, int err)
{
  if (!c->reported) {
    c->sys_errno = err;
    report(c, c->chan_closed ? nn_chan_close_reason(c->chan) : why);
  }
  c->state = ST_DEAD;
}

static void
flush(nn_tcp_conn_t *c)
{
  for (;;) {
    const uint8_t *d;
    size_t n;
    nn_chan_output(c->chan, &d, &n);
    if (!n)
      return;
    ssize_t w = send(c->fd, d, n, MSG_NOSIGNAL);
    if (w > 0) {
      nn_chan_output_consume(c->chan, (size_t)w);
      if (c->l)
        c->l->st.bytes_out += (uint64_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    fail_tcp(c, NN_TCP_CLOSE_IO, w < 0 ? errno : EIO);
    return;
  }
}

static void
arm(struct event *ev, uint8_t *on, int want)
{
  if (want && !*on)
    event_add(ev, NULL);
  else if (!want && *on)
    event_del(ev);
  *on = (uint8_t)!!want;
}

static void
update_events(nn_tcp_conn_t *c)
{
  size_t out = pending(c);
  int hs_or_open = c->state == ST_HANDSHAKE || c->state == ST_OPEN;
  arm(c->ev_rd, &c->rd_on, (hs_or_open && out <= c->max_output) || c->state == ST_DRAIN_IN);
  arm(c->ev_wr, &c->wr_on,
      c->state == ST_CONNECTING || ((hs_or_open || c->state == ST_DRAIN_OUT) && out > 0));
  uint64_t dl = UINT64_MAX;
  if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE)
    dl = nn_chan_deadline(c->chan);
  else if (c->state == ST_DRAIN_OUT || c->state == ST_DRAIN_IN)
    dl = c->linger_deadline;
  if (dl == c->tm_armed)
    return;
  c->tm_armed = dl;
  if (dl == UINT64_MAX) {
    evtimer_del(c->ev_tm);
    return;
  }
  uint64_t now = mono_ms(), delta = dl > now ? dl - now + 1 : 1; /* +1: libevent's clock is coarser */
  struct timeval tv = { (time_t)(delta / 1000), (suseconds_t)(delta % 1000) * 1000 };
  evtimer_add(c->ev_tm, &tv);
}

static void
conn_free(nn_tcp_conn_t *c)
{
  if (c->ev_rd)
    event_free(c->ev_rd);
  if (c->ev_wr)
    event_free(c->ev_wr);
  if (c->ev_tm)
    event_free(c->ev_tm);
  if (c->fd >= 0)
    close(c->fd);
  nn_chan_free(c->chan);
  if (c->l) {
    nn_tcp_listener_t *l = c->l;
    if (c->prev)
      c->prev->next = c->next;
    else
      l->conns = c->next;
    if (c->next)
      c->next->prev = c->prev;
    l->st.conns--;
    if (c->counted_half_open)
      l->st.half_open--;
    if (c->counted_open)
      l->st.open--;
    if (c->ipe) {
      c->ipe->conns--;
      ip_maybe_drop(l, c->ipe, mono_us());
    }
  }
  free(c);
}

/* Run after every entry point: deferred close, close report, output, events, free. */
static void
settle(nn_tcp_conn_t *c)
{
  if (c->busy)
    return;
  c->busy++;
  if (c->close_requested && !c->chan_closed && c->state < ST_DRAIN_OUT)
    nn_chan_close(c->chan, NN_CLOSE_LOCAL);
  if (c->chan_closed && !c->reported) {
    nn_close_reason_t r = nn_chan_close_reason(c->chan);
    report(c, r);
    if (c->state != ST_DEAD) {
      /* After keys existed, flush the CLOSE record and give the peer time to read it. */
      if (c->established_ever && r != NN_CLOSE_PEER) {
        c->state = ST_DRAIN_OUT;
        c->linger_deadline = mono_ms() + c->linger_ms;
      } else {
        c->state = ST_DEAD;
      }
    }
  }
  if (c->state == ST_HANDSHAKE || c->state == ST_OPEN || c->state == ST_DRAIN_OUT)
    flush(c);
  if (c->state == ST_DRAIN_OUT && pending(c) == 0) {
    (void)shutdown(c->fd, SHUT_WR);
    c->state = ST_DRAIN_IN;
  }
  if (c->state != ST_DEAD)
    update_events(c);
  c->busy--;
  if (c->state == ST_DEAD)
    conn_free(c);
}

static void
note_cookie(nn_tcp_conn_t *c)
{
  if (c->cookie_round || !c->chan->hs || !c->chan->hs->cookie_sent)
    return;
  c->cookie_round = 1;
  if (c->l)
    c->l->st.cookies_sent++;
}

static void
do_read(nn_tcp_conn_t *c, uint8_t *buf, size_t cap)
{
  c->busy++;
  for (int i = 0; i < READS_PER_WAKEUP && c->state != ST_DEAD; i++) {
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n > 0) {
      if (c->l)
        c->l->st.bytes_in += (uint64_t)n;
      if (c->state == ST_DRAIN_IN) {
        c->discarded += (size_t)n;
        if (c->discarded > DISCARD_MAX)
          c->state = ST_DEAD;
        continue;
      }
      if (c->state != ST_HANDSHAKE && c->state != ST_OPEN)
        break;
      nn_chan_recv(c->chan, buf, (size_t)n, mono_ms());
      if (c->state == ST_HANDSHAKE)
        note_cookie(c);
      if (c->chan_closed || c->close_requested || pending(c) > c->max_output || (size_t)n < cap)
        break;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (c->state == ST_DRAIN_IN)
      c->state = ST_DEAD; /* the peer's FIN (or reset) after our CLOSE: done */
    else
      fail_tcp(c, n == 0 ? NN_TCP_CLOSE_EOF : NN_TCP_CLOSE_IO, n == 0 ? 0 : errno);
    break;
  }
  c->busy--;
  settle(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
  nn_tcp_conn_t *c = arg;
  (void)fd;
  (void)what;
  if (c->l) {
    do_read(c, c->l->rbuf, RBUF_LISTENER);
  } else {
    uint8_t buf[RBUF_STACK];
    do_read(c, buf, sizeof(buf));
  }
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
  nn_tcp_conn_t *c = arg;
  (void)what;
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
      err = errno;
    if (err) {
      c->busy++;
      fail_tcp(c, NN_TCP_CLOSE_CONNECT, err);
      c->busy--;
    } else {
      c->state = ST_HANDSHAKE;
    }
  }
  settle(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
  nn_tcp_conn_t *c = arg;
  uint64_t now = mono_ms();
  (void)fd;
  (void)what;
  c->tm_armed = UINT64_MAX;
  if (c->state <= ST_OPEN) {
    c->busy++;
    nn_chan_tick(c->chan, now);
    c->busy--;
  } else if ((c->state == ST_DRAIN_OUT || c->state == ST_DRAIN_IN) && now >= c->linger_deadline) {
    c->state = ST_DEAD;
  }
  settle(c);
}

static nn_tcp_conn_t *
conn_alloc(struct event_base *base, int fd)
{
  nn_tcp_conn_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->fd = fd;
  c->tm_armed = UINT64_MAX;
  if (!(c->ev_rd = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c)) ||
      !(c->ev_wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c)) ||
      !(c->ev_tm = evtimer_new(base, on_timer, c))) {
    c->fd = -1; /* the caller closes it */
    conn_free(c);
    return NULL;
  }
  return c;
}

static void
chan_cfg_from(nn_chan_config_t *cc, const nn_tcp_chan_params_t *p, nn_tcp_conn_t *c)
{
  memset(cc, 0, sizeof(*cc));
  cc->network = p->network;
  cc->max_message = p->max_message;
  cc->rekey_interval = p->rekey_interval;
  cc->pad_to = p->pad_to;
  cc->rng = p->rng;
  cc->on_message = chan_on_message;
  cc->on_event = chan_on_event;
  cc->ctx = c;
}

/* ---- public connection API ---- */

nn_err_t
nn_tcp_conn_send(nn_tcp_conn_t *c, const uint8_t *msg, size_t len)
{
  if (!c || c->reported || c->close_requested || !nn_chan_is_established(c->chan))
    return NN_ERR_ARG;
  nn_err_t err = nn_chan_send(c->chan, msg, len);
  settle(c); /* outside callbacks: write at once (may report a failure and free c) */
  return err;
}

void
nn_tcp_conn_close(nn_tcp_conn_t *c)
{
  if (!c || c->reported || c->close_requested)
    return;
  c->close_requested = 1;
  settle(c);
}

const nn_chan_info_t *
nn_tcp_conn_info(const nn_tcp_conn_t *c)
{
  return c->established_ever ? nn_chan_info(c->chan) : NULL;
}

const char *
nn_tcp_conn_peer_addr(const nn_tcp_conn_t *c)
{
  nn_tcp_conn_t *m = (nn_tcp_conn_t *)c; /* lazily formatted cache */
  if (!m->peer_str[0])
    nn_tcp_format_addr(&m->peer.sa, m->peer_str, sizeof(m->peer_str));
  return m->peer_str;
}

const struct sockaddr *
nn_tcp_conn_sockaddr(const nn_tcp_conn_t *c, socklen_t *len)
{
  if (len)
    *len = c->peer_len;
  return &c->peer.sa;
}

int nn_tcp_conn_is_inbound(const nn_tcp_conn_t *c) { return c->l != NULL; }
int nn_tcp_conn_cookie_round(const nn_tcp_conn_t *c) { return c->cookie_round; }
size_t nn_tcp_conn_pending(const nn_tcp_conn_t *c) { return pending(c); }
int nn_tcp_conn_errno(const nn_tcp_conn_t *c) { return c->sys_errno; }
void nn_tcp_conn_set_user(nn_tcp_conn_t *c, void *user) { c->user = user; }
void *nn_tcp_conn_user(const nn_tcp_conn_t *c) { return c->user; }

nn_err_t
nn_tcp_connect(nn_tcp_conn_t **out, struct event_base *base, const char *hostport,
               const nn_tcp_conn_config_t *cfg)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  nn_chan_config_t cc;
  nn_tcp_conn_t *c;
  nn_err_t err;
  int fd, saved;

  *out = NULL;
  if ((err = nn_tcp_parse_addr(hostport, &ss, &sl)))
    return err;
  if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
    return NN_ERR_IO;
  set_nodelay(fd);
  if (!(c = conn_alloc(base, fd))) {
    close(fd);
    return NN_ERR_NOMEM;
  }
  c->cb = cfg->cb;
  c->max_output = cfg->max_output ? cfg->max_output : (32u << 20);
  c->linger_ms = cfg->linger_ms ? cfg->linger_ms : 2000;
  memcpy(&c->peer, &ss, sl);
  c->peer_len = sl;
  chan_cfg_from(&cc, &cfg->chan, c);
  cc.role = NN_CHAN_INITIATOR;
  cc.identity = cfg->identity;
  if (cfg->expected_peer) {
    c->expected = *cfg->expected_peer;
    cc.expected_peer = &c->expected;
  }
  cc.handshake_timeout_ms = cfg->handshake_timeout_ms;
  if ((err = nn_chan_new(&c->chan, &cc, mono_ms()))) {
    conn_free(c);
    return err;
  }
  if (connect(fd, &c->peer.sa, sl) == 0) {
    c->state = ST_HANDSHAKE;
  } else if (errno == EINPROGRESS || errno == EINTR) {
    c->state = ST_CONNECTING;
  } else {
    saved = errno;
    conn_free(c);
    errno = saved;
    return NN_ERR_IO;
  }
  update_events(c); /* no write yet: callbacks never run before this returns */
  *out = c;
  return NN_OK;
}

/* ---- listener ---- */

static void
admit(nn_tcp_listener_t *l, int fd, const sockaddr_any_t *sa, socklen_t sl)
{
  nn_tcp_stats_t *st = &l->st;
  uint64_t now = mono_us();
  uint8_t key[16], ip[16], ip_len = 0;
  ip_entry_t *e = NULL;
  uint64_t *refused = NULL;
  nn_tcp_conn_t *c = NULL;
  int untracked = 0;

  addr_ip(&sa->sa, ip, &ip_len, key);
  if (l->per_ip) {
    if (!(e = ip_lookup(l, key)) && !(e = ip_insert(l, key, now)))
      untracked = 1;
    if (e && l->lim.max_per_ip && e->conns >= l->lim.max_per_ip)
      refused = &st->refused_ip_conns;
    else if (e && !ip_take(l, e, now))
      refused = &st->refused_ip_rate;
  }
  if (!refused && st->half_open >= l->lim.max_half_open)
    refused = &st->refused_half_open;
  else if (!refused && st->conns >= l->lim.max_conns)
    refused = &st->refused_conns;
  if (!refused) {
    nn_chan_config_t cc;
    if (!(c = conn_alloc(l->base, fd))) {
      refused = &st->refused_internal;
    } else {
      c->l = l;
      c->cb = l->cb;
      c->max_output = l->lim.max_output;
      c->linger_ms = l->lim.linger_ms;
      memcpy(&c->peer, sa, sl);
      c->peer_len = sl;
      memcpy(c->ip, ip, 16);
      c->ip_len = ip_len;
      chan_cfg_from(&cc, &l->chan, c);
      cc.role = NN_CHAN_RESPONDER;
      cc.identity = l->identity;
      cc.require_peer_identity = l->require_peer_identity;
      cc.handshake_timeout_ms = l->lim.handshake_timeout_ms;
      cc.cookies = l->jar;
      cc.peer_addr = c->ip;
      cc.peer_addr_len = c->ip_len;
      cc.require_cookie = untracked || st->half_open >= l->lim.load_half_open;
      if (nn_chan_new(&c->chan, &cc, now / 1000)) {
        c->fd = -1; /* closed below */
        c->l = NULL;
        conn_free(c);
        refused = &st->refused_internal;
      } else {
        st->cookie_required += (uint64_t)cc.require_cookie;
      }
    }
  }
  if (refused) {
    (*refused)++;
    if (e)
      ip_maybe_drop(l, e, now);
    rst_close(fd);
    return;
  }
  set_nodelay(fd);
  c->next = l->conns;
  if (l->conns)
    l->conns->prev = c;
  l->conns = c;
  st->admitted++;
  st->conns++;
  st->half_open++;
  st->untracked += (uint64_t)untracked;
  c->counted_half_open = 1;
  if (e) {
    e->conns++;
    c->ipe = e;
  }
  c->state = ST_HANDSHAKE;
  update_events(c);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
  nn_tcp_listener_t *l = arg;
  (void)what;
  for (uint32_t i = 0; i < l->lim.accept_batch; i++) {
    sockaddr_any_t sa;
    socklen_t sl = sizeof(sa);
    int fd = accept4(lfd, &sa.sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      l->st.accept_errors++;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors: stop accepting for a moment instead of spinning. */
        struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
        event_del(l->ev_accept);
        evtimer_add(l->ev_pause, &tv);
      }
      return;
    }
    l->st.accepted++;
    admit(l, fd, &sa, sl);
  }
}

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
  nn_tcp_listener_t *l = arg;
  (void)fd;
  (void)what;
  event_add(l->ev_accept, NULL);
}

static void
on_jar_tick(evutil_socket_t fd, short what, void *arg)
{
  nn_tcp_listener_t *l = arg;
  (void)fd;
  (void)what;
  (void)nn_cookie_jar_tick(l->jar, mono_ms());
}

nn_err_t
nn_tcp_listener_new(nn_tcp_listener_t **out, struct event_base *base,
                    const nn_tcp_listener_config_t *cfg)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  nn_tcp_listener_t *l;
  nn_err_t err;
  int one = 1, saved;
  size_t nb = 16;

  *out = NULL;
  if (!cfg->identity || !base)
    return NN_ERR_ARG;
  if ((err = nn_tcp_parse_addr(cfg->bind, &ss, &sl)))
    return err;
  if (!(l = calloc(1, sizeof(*l))))
    return NN_ERR_NOMEM;
  l->fd = -1;
  l->base = base;
  l->identity = cfg->identity;
  l->require_peer_identity = cfg->require_peer_identity;
  l->chan = cfg->chan;
  l->cb = cfg->cb;
  if (cfg->limits)
    l->lim = *cfg->limits;
  else
    nn_tcp_limits_default(&l->lim);
  if (!l->lim.accept_batch)
    l->lim.accept_batch = 64;
  if (!l->lim.max_output)
    l->lim.max_output = 32u << 20;
  if (!l->lim.linger_ms)
    l->lim.linger_ms = 2000;
  if (!l->lim.max_tracked_ips)
    l->lim.max_tracked_ips = 1;
  if (!l->lim.ip_burst)
    l->lim.ip_burst = 1;
  l->per_ip = l->lim.max_per_ip || l->lim.ip_rate > 0;
  if (l->lim.ip_rate > 0) {
    double t = 1e6 / l->lim.ip_rate;
    l->gcra_t_us = t < 1 ? 1 : t > 1e15 ? (uint64_t)1e15 : (uint64_t)t;
    l->gcra_tau_us = l->gcra_t_us * (l->lim.ip_burst - 1);
  }
  while (nb < l->lim.max_tracked_ips && nb < (1u << 20))
    nb <<= 1;
  err = NN_ERR_NOMEM;
  if (!(l->ipt = calloc(nb, sizeof(*l->ipt))) || !(l->rbuf = malloc(RBUF_LISTENER)))
    goto fail;
  l->ipt_mask = nb - 1;
  if ((err = nn_rng_fill(cfg->chan.rng, (uint8_t *)l->ipk, sizeof(l->ipk))) ||
      (err = nn_cookie_jar_new(&l->jar, cfg->chan.rng, mono_ms())))
    goto fail;
  err = NN_ERR_IO;
  if ((l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
      setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
      bind(l->fd, (struct sockaddr *)&ss, sl) < 0 ||
      listen(l->fd, l->lim.backlog > 0 ? l->lim.backlog : 1024) < 0)
    goto fail;
  sl = sizeof(ss);
  if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0)
    goto fail;
  nn_tcp_format_addr((struct sockaddr *)&ss, l->addr, sizeof(l->addr));
  l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
  err = NN_ERR_NOMEM;
  struct timeval rot = { NN_COOKIE_ROTATE_MS / 1000, 0 };
  if (!(l->ev_accept = event_new(base, l->fd, EV_READ | EV_PERSIST, on_accept, l)) ||
      !(l->ev_pause = evtimer_new(base, on_accept_resume, l)) ||
      !(l->ev_jar = event_new(base, -1, EV_PERSIST, on_jar_tick, l)) ||
      event_add(l->ev_accept, NULL) || event_add(l->ev_jar, &rot))
    goto fail;
  *out = l;
  return NN_OK;
fail:
  saved = errno;
  nn_tcp_listener_free(l);
  errno = saved;
  return err;
}

void
nn_tcp_listener_free(nn_tcp_listener_t *l)
{
  if (!l)
    return;
  while (l->conns)
    conn_free(l->conns);
  if (l->ev_accept)
    event_free(l->ev_accept);
  if (l->ev_pause)
    event_free(l->ev_pause);
  if (l->ev_jar)
    event_free(l->ev_jar);
  if (l->fd >= 0)
    close(l->fd);
  if (l->ipt) {
    for (size_t i = 0; i <= l->ipt_mask; i++)
      for (ip_entry_t *e = l->ipt[i], *n; e; e = n) {
        n = e->next;
        free(e);
      }
    free(l->ipt);
  }
  nn_cookie_jar_free(l->jar);
  free(l->rbuf);
  free(l);
}

const nn_tcp_stats_t *nn_tcp_listener_stats(const nn_tcp_listener_t *l) { return &l->st; }
const char *nn_tcp_listener_addr(const nn_tcp_listener_t *l) { return l->addr; }
uint16_t nn_tcp_listener_port(const nn_tcp_listener_t *l) { return l->port; }
