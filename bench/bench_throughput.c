/*
 * bench_throughput: bulk transfer through the secure channel over loopback TCP, against the best
 * version of each competitor, all measured in the same run (the machines we measure on are
 * shared and noisy):
 *
 *   plain TCP   the same bytes unencrypted, written one 64 KiB message per send, and 16 messages
 *               (1 MiB) per send, laid out in place in one buffer (no coalescing copy)
 *   TLS 1.3     OpenSSL's own, TLS_AES_256_GCM_SHA384: SSL_write of each message into a buffered
 *               write BIO flushed after each message / each 1 MiB, so its 16 KiB records leave in
 *               one send (unbuffered, each record is its own send); read-ahead into a 128 KiB
 *               buffer (a larger one spends its time moving the unread rest to the front)
 *   nepnet      nn_chan_send of each message, the output written once a message / 1 MiB of
 *               messages is queued, straight from nn_chan_output
 *
 * Sender and receiver are two processes, as two nodes on one machine would be: the parent makes a
 * connected loopback pair and forks one child per side; each side does its handshake, the
 * receiver tells the sender over a pipe that it is ready, and the sender starts the clock. Every
 * receiver reads into a 1 MiB buffer and is woken once 256 KiB are queued (SO_RCVLOWAT, --lowat):
 * woken by every segment, a receiver with nothing to do (plain TCP) costs its sender a wake-up per
 * segment, and that, not the kernel's copies, bounds the transfer (plain TCP with 1 MiB writes:
 * about 4.4 GB/s that way, 6-7 GB/s with 256 KiB, on the 2-core VM this was written on). The receiver's
 * end time and each side's CPU (user + system) come back to the parent through pipes. Time = from
 * the sender's start until the receiver has every byte.
 *
 * Every --reps round runs each transfer once, the compared ones back to back, in an order reversed
 * every other round; a ratio is the median of the ratios paired within each round, with its range
 * (the pairing cancels most of the drift in the load other work puts on the machine; a machine
 * whose cores are taken by other work moves every ratio towards the ratio of CPU per byte).
 * Targets: nepnet / plain TCP (1 MiB writes) >= 0.70, nepnet / TLS 1.3 >= 1.05 (ahead, not level)
 * at both write sizes. Also shown: each side at its faster write size in the round.
 *
 * Each transfer is bound by its sender's CPU. With 1 MiB writes nepnet's sender pays plain TCP's
 * (about 0.16 ns/B), the seal's arithmetic (0.055 ns/B, raw AES-GCM speed) and the writing of 1 MiB
 * of fresh ciphertext that the kernel then reads back from beyond the L2 cache (about 0.06 ns/B):
 * about 0.6 of plain TCP, whose 1 MiB is laid out in place. A plain TCP sender that gathers its
 * messages into its buffer with a copy pays as much as the seal costs (3.9-4.4 GB/s against
 * nepnet's 3.7-4.1 here). Written a message at a time, the ciphertext is sent while in cache.
 *
 * Two more measures, in the same rounds:
 *   nepnet in memory  the channel alone, no socket, one process: the send path and the receive
 *                     path timed apart, against raw AES-256-GCM (seal only, nn_aead_t keyed once,
 *                     a fresh nonce per message): what the record layer costs over the cipher
 *                     (target >= 0.9 each)
 *   nepnet manager    the node's path: the connection manager and its TCP transport on a libevent
 *                     loop per side (src/net), one process per side, a tenant sending with
 *                     nn_net_send while less than 1 MiB is unsent (informational)
 *
 *   bench_throughput [--bytes N[K|M|G]] [--msg N] [--reps R] [--rbuf N] [--lowat N] [--quick] [--only X]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/event.h>

#include "nepnet/channel.h"
#include "nepnet/nepnet.h"
#include "crypto/aead.h"
#include "net/net.h"
#include "net/tcp.h"

#define WBIG ((size_t)1 << 20)               /* the "1 MiB writes" variants */
#define TLS_RBUF ((size_t)128 << 10)         /* TLS read-ahead buffer */
#define TLS_WBUF (WBIG + ((size_t)64 << 10)) /* TLS write buffer: 1 MiB of records and their overhead */
#define CHILD_TIMEOUT_S 600                  /* a wedged side is killed, not waited for */

static size_t total_bytes = (size_t)1 << 30, msg_len = 65536;
static size_t rbuf = (size_t)1 << 20; /* receive buffer of every receiver (--rbuf) */
static int lowat = 256 << 10;         /* SO_RCVLOWAT of every receiver (--lowat) */
static nn_identity_t *id_i, *id_r;
static SSL_CTX *tls_srv, *tls_cli;

static double
mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The process's CPU (every thread, user + system): a side is a whole process. */
static double
cpu_proc(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
now_ms(void)
{
  return (uint64_t)(mono() * 1000.0);
}

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void
fail(const char *what)
{
  fprintf(stderr, "bench_throughput: %s failed", what);
  if (errno)
    fprintf(stderr, ": %s", strerror(errno));
  fprintf(stderr, "\n");
  ERR_print_errors_fp(stderr);
  exit(1);
}

static void
check(nn_err_t err, const char *what)
{
  if (err) {
    fprintf(stderr, "bench_throughput: %s failed: %s\n", what, nn_err_str(err));
    exit(1);
  }
}

/* ---- connected loopback socket pairs, pipes ---- */

static void
tcp_pair(int *client, int *server)
{
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { 0 };
  socklen_t alen = sizeof(a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
      getsockname(lfd, (struct sockaddr *)&a, &alen))
    fail("listen");
  if ((*client = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a)))
    fail("connect");
  if ((*server = accept(lfd, NULL, NULL)) < 0)
    fail("accept");
  close(lfd);
}

static int
send_all(int fd, const uint8_t *p, size_t n)
{
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void
put_all(int fd, const void *p, size_t n)
{
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      fail("pipe write");
    b += w;
    n -= (size_t)w;
  }
}

/* 1 when all n bytes came, 0 at end of file before any, -1 otherwise */
static int
get_all(int fd, void *p, size_t n)
{
  uint8_t *b = p;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, b + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return got || r < 0 ? -1 : 0;
    got += (size_t)r;
  }
  return 1;
}

/* ---- the transfers ---- */

typedef enum kind_t { K_TCP, K_TCP_BIG, K_TLS, K_TLS_BIG, K_NEPNET, K_NEPNET_BIG, K_NET, N_KINDS } kind_t;
enum { R_AES = N_KINDS, R_MEM_SEND, R_MEM_RECV, N_ROWS };
enum { J_MEM = N_KINDS, N_JOBS }; /* a round's jobs: the transfers, then raw AES + the in-memory channel */
static const char *row_name[N_ROWS] = {
  "plain TCP, 64 KiB writes",    "plain TCP, 1 MiB writes",     "TLS 1.3, 64 KiB writes", "TLS 1.3, 1 MiB writes",
  "nepnet, 64 KiB writes",       "nepnet, 1 MiB writes",        "nepnet manager",         "raw AES-256-GCM seal",
  "nepnet in memory: send path", "nepnet in memory: recv path",
};

/* Messages written together: one, or as many as fill 1 MiB. */
static size_t
group_of(kind_t k)
{
  if (k != K_TCP_BIG && k != K_TLS_BIG && k != K_NEPNET_BIG)
    return 1;
  return msg_len >= WBIG ? 1 : WBIG / msg_len;
}

/* What one side sends back to the parent. */
typedef struct side_res_t {
  double t;   /* sender: start; receiver: last byte */
  double cpu; /* from the start (receiver: from its ready) to its end */
  size_t got, msgs, bad;
} side_res_t;

typedef struct peer_t {
  kind_t kind;
  int fd;
  int sender;
  nn_chan_t *ch;
  SSL *ssl;
  uint64_t expect_seq;
  side_res_t res;
} peer_t;

static void
on_msg(void *ctx, const uint8_t *msg, size_t len)
{
  peer_t *p = ctx;
  uint64_t seq = UINT64_MAX;
  if (len >= sizeof(seq))
    memcpy(&seq, msg, sizeof(seq));
  if (len != msg_len || seq != p->expect_seq)
    p->res.bad++;
  p->expect_seq++;
  p->res.msgs++;
  p->res.got += len;
}

static int
chan_flush(peer_t *p)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(p->ch, &d, &n);
  if (n) {
    if (send_all(p->fd, d, n))
      return -1;
    nn_chan_output_consume(p->ch, n);
  }
  return 0;
}

static void
chan_handshake(peer_t *p, uint8_t *buf)
{
  nn_chan_config_t cfg = { 0 };
  cfg.role = p->sender ? NN_CHAN_INITIATOR : NN_CHAN_RESPONDER;
  cfg.network = NN_NET_REGTEST;
  cfg.identity = p->sender ? id_i : id_r;
  cfg.expected_peer = p->sender ? nn_identity_node_id(id_r) : NULL;
  cfg.on_message = on_msg;
  cfg.ctx = p;
  check(nn_chan_new(&p->ch, &cfg, now_ms()), "nn_chan_new");
  if (chan_flush(p))
    fail("handshake send");
  while (!nn_chan_is_established(p->ch)) {
    ssize_t n = read(p->fd, buf, rbuf);
    if (n <= 0 || nn_chan_is_closed(p->ch))
      fail("channel handshake");
    (void)nn_chan_recv(p->ch, buf, (size_t)n, now_ms());
    if (chan_flush(p))
      fail("handshake send");
  }
}

static void
tls_handshake(peer_t *p)
{
  BIO *rb = BIO_new_socket(p->fd, BIO_NOCLOSE), *wb = BIO_new_socket(p->fd, BIO_NOCLOSE), *buf = NULL;
  if (!(p->ssl = SSL_new(p->sender ? tls_cli : tls_srv)) || !rb || !wb)
    fail("SSL_new");
  if (p->sender) {
    /* the sender's records gather here until BIO_flush: one send per SSL_write (or per 1 MiB),
     * not one per 16 KiB record */
    if (!(buf = BIO_new(BIO_f_buffer())) || BIO_set_write_buffer_size(buf, (long)TLS_WBUF) != 1)
      fail("BIO_f_buffer");
    wb = BIO_push(buf, wb);
  }
  SSL_set_bio(p->ssl, rb, wb);
  if (p->sender && SSL_set1_host(p->ssl, "localhost") != 1)
    fail("SSL_set1_host");
  if ((p->sender ? SSL_connect(p->ssl) : SSL_accept(p->ssl)) != 1)
    fail("TLS handshake");
  if (strcmp(SSL_get_cipher_name(p->ssl), "TLS_AES_256_GCM_SHA384") || SSL_version(p->ssl) != TLS1_3_VERSION)
    fail("TLS cipher suite check");
}

/* buf holds group_of(kind) messages back to back, each starting with its sequence number. */
static void
do_send(peer_t *p, uint8_t *buf)
{
  size_t n = total_bytes / msg_len, group = group_of(p->kind);
  for (uint64_t seq = 0; seq < n; seq++) {
    size_t slot = (size_t)(seq % group);
    uint8_t *msg = buf + slot * msg_len;
    int last = slot + 1 == group || seq + 1 == n; /* of its group: time to write */
    memcpy(msg, &seq, sizeof(seq));               /* the nepnet receiver checks order and completeness */
    switch (p->kind) {
    case K_TCP:
    case K_TCP_BIG:
      if (last && send_all(p->fd, buf, (slot + 1) * msg_len))
        fail("send");
      break;
    case K_NEPNET:
    case K_NEPNET_BIG:
      check(nn_chan_send(p->ch, msg, msg_len), "nn_chan_send");
      if (last && chan_flush(p))
        fail("send");
      break;
    case K_TLS:
    case K_TLS_BIG:
      if (SSL_write(p->ssl, msg, (int)msg_len) != (int)msg_len || (last && BIO_flush(SSL_get_wbio(p->ssl)) != 1))
        fail("SSL_write");
      break;
    default: break;
    }
  }
}

static void
do_recv(peer_t *p, uint8_t *buf)
{
  while (p->res.got < total_bytes) { /* nepnet: on_msg counts */
    ssize_t n = p->ssl ? SSL_read(p->ssl, buf, (int)rbuf) : read(p->fd, buf, rbuf);
    if (n <= 0)
      fail(p->ssl ? "SSL_read" : "read");
    if (p->ch) {
      if (nn_chan_recv(p->ch, buf, (size_t)n, now_ms()) != NN_OK)
        fail("nn_chan_recv");
    } else {
      p->res.got += (size_t)n;
    }
  }
}

/* One side of a socket transfer, in its own process. ready: the receiver writes one byte to it
 * once its handshake is done; the sender waits for it. done: the sender holds its socket open
 * until the receiver exits (end of file), so that nothing is cut short. */
static void
side_main(kind_t kind, int sender, int fd, int ready, int done, int res_fd)
{
  peer_t p = { .kind = kind, .fd = fd, .sender = sender };
  size_t cap = group_of(kind) * msg_len;
  cap = cap > rbuf ? cap : rbuf;
  uint8_t *buf = malloc(cap), c = 0;
  if (!buf)
    fail("malloc");
  memset(buf, 0x5c, cap);
  if (kind == K_NEPNET || kind == K_NEPNET_BIG)
    chan_handshake(&p, buf);
  else if (kind == K_TLS || kind == K_TLS_BIG)
    tls_handshake(&p);
  if (sender) {
    if (get_all(ready, &c, 1) != 1)
      fail("start signal");
    p.res.t = mono();
    double c0 = cpu_proc();
    do_send(&p, buf);
    shutdown(fd, SHUT_WR); /* a receiver waiting for --lowat bytes gets the tail */
    p.res.cpu = cpu_proc() - c0;
    put_all(res_fd, &p.res, sizeof(p.res));
    (void)get_all(done, &c, 1);
  } else {
    if (lowat && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
      fail("SO_RCVLOWAT");
    double c0 = cpu_proc();
    put_all(ready, &c, 1);
    do_recv(&p, buf);
    p.res.t = mono();
    p.res.cpu = cpu_proc() - c0;
    put_all(res_fd, &p.res, sizeof(p.res));
  }
}

/* ---- the node's path: a connection manager per side ---- */

typedef struct side_t {
  peer_t acct; /* receiver accounting, as the other transfers */
  struct event_base *base;
  nn_net_t *net;
  uint64_t conn;
  int up;
} side_t;

static void
net_up(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  side_t *s = ctx;
  (void)info;
  s->conn = conn;
  s->up = 1;
}

static void
net_msg(void *ctx, uint64_t conn, const uint8_t *msg, size_t len)
{
  side_t *s = ctx;
  (void)conn;
  on_msg(&s->acct, msg, len);
  if (s->acct.res.got >= total_bytes) {
    s->acct.res.t = mono();
    event_base_loopbreak(s->base);
  }
}

static void
net_down(void *ctx, uint64_t conn, const nn_net_conn_info_t *info)
{
  (void)ctx;
  (void)conn;
  fprintf(stderr, "bench_throughput: manager channel closed: %s\n", nn_net_close_reason_str(info->reason));
  exit(1);
}

static void
side_open(side_t *s, const nn_identity_t *id)
{
  nn_net_cfg_t cfg;
  nn_transport_t *t;
  nn_net_cfg_default(&cfg);
  cfg.identity = id;
  cfg.network = NN_NET_REGTEST;
  if (!(s->base = event_base_new()) || nn_net_new(&s->net, s->base, &cfg) || nn_tcp_transport_new(&t, s->base, NULL) ||
      nn_net_add_transport(s->net, t))
    fail("connection manager");
  nn_net_proto_t p = { "bench", 0x00, 0xff, net_up, net_msg, net_down, s, NULL };
  check(nn_net_register(s->net, &p, NULL), "nn_net_register");
}

/* The receiver listens and hands its address to the sender through ready. */
static void
net_side_main(int sender, int ready, int done, int res_fd)
{
  side_t s = { 0 };
  nn_addr_t addr;
  uint8_t c = 0;
  if (!sender) {
    side_open(&s, id_r);
    check(nn_net_listen(s.net, "tcp", "127.0.0.1:0", &addr, NULL, 0), "nn_net_listen");
    double c0 = cpu_proc(); /* includes the responder's handshake (under a millisecond) */
    put_all(ready, &addr, sizeof(addr));
    event_base_dispatch(s.base);
    s.acct.res.cpu = cpu_proc() - c0;
    put_all(res_fd, &s.acct.res, sizeof(s.acct.res));
    return;
  }
  size_t n = total_bytes / msg_len;
  uint8_t *msg = calloc(1, msg_len);
  if (!msg || get_all(ready, &addr, sizeof(addr)) != 1)
    fail("manager start");
  side_open(&s, id_i);
  check(nn_net_dial(s.net, 0, &addr, nn_identity_node_id(id_r), &s.conn), "nn_net_dial");
  while (!s.up)
    event_base_loop(s.base, EVLOOP_ONCE);
  s.acct.res.t = mono();
  double c0 = cpu_proc();
  for (uint64_t seq = 0; seq < n; seq++) {
    memcpy(msg, &seq, sizeof(seq));
    while (nn_net_pending(s.net, s.conn) >= WBIG) /* the manager writes as the socket drains */
      event_base_loop(s.base, EVLOOP_ONCE);
    check(nn_net_send(s.net, s.conn, msg, msg_len), "nn_net_send");
  }
  while (nn_net_pending(s.net, s.conn))
    event_base_loop(s.base, EVLOOP_ONCE);
  s.acct.res.cpu = cpu_proc() - c0;
  put_all(res_fd, &s.acct.res, sizeof(s.acct.res));
  (void)get_all(done, &c, 1); /* keep the channel until the receiver has everything */
}

typedef struct result_t {
  double wall, cpu_send, cpu_recv;
} result_t;

/* Fork one side. fds: every descriptor of this transfer; the child closes all but its own, so
 * that end of file reaches the other side (and the parent) as soon as one side exits. */
static pid_t
spawn(kind_t kind, int sender, const int *fds, size_t nfds, int sock, int ready, int done, int res)
{
  fflush(NULL); /* nothing buffered in the parent may be written twice */
  pid_t pid = fork();
  if (pid < 0)
    fail("fork");
  if (pid)
    return pid;
  alarm(CHILD_TIMEOUT_S);
  for (size_t i = 0; i < nfds; i++)
    if (fds[i] >= 0 && fds[i] != sock && fds[i] != ready && fds[i] != done && fds[i] != res)
      close(fds[i]);
  if (kind == K_NET)
    net_side_main(sender, ready, done, res);
  else
    side_main(kind, sender, sock, ready, done, res);
  _exit(0);
}

static void
reap(pid_t pid, const char *side, pid_t other)
{
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      fail("waitpid");
  if (!WIFEXITED(st) || WEXITSTATUS(st)) {
    fprintf(stderr, "bench_throughput: the %s process failed (%s %d)\n", side,
            WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    if (other > 0) {
      kill(other, SIGKILL);
      waitpid(other, &st, 0);
    }
    exit(1);
  }
}

static result_t
transfer(kind_t kind)
{
  int cfd = -1, sfd = -1, ready[2], done[2], res_s[2], res_r[2];
  side_res_t s, r;

  if (kind != K_NET)
    tcp_pair(&cfd, &sfd);
  if (pipe(ready) || pipe(done) || pipe(res_s) || pipe(res_r))
    fail("pipe");
  /* ready: receiver -> sender; done: held open by the receiver only; res_*: each side -> parent */
  int fds[] = { cfd, sfd, ready[0], ready[1], done[0], done[1], res_s[0], res_s[1], res_r[0], res_r[1] };
  size_t nfds = sizeof(fds) / sizeof(fds[0]);
  pid_t pr = spawn(kind, 0, fds, nfds, sfd, ready[1], done[1], res_r[1]);
  pid_t ps = spawn(kind, 1, fds, nfds, cfd, ready[0], done[0], res_s[1]);
  for (size_t i = 0; i < nfds; i++)
    if (fds[i] >= 0 && fds[i] != res_s[0] && fds[i] != res_r[0])
      close(fds[i]);
  int okr = get_all(res_r[0], &r, sizeof(r)), oks = get_all(res_s[0], &s, sizeof(s));
  reap(pr, "receiver", ps);
  reap(ps, "sender", -1);
  close(res_r[0]);
  close(res_s[0]);
  if (okr != 1 || oks != 1)
    fail("result pipe");
  size_t n = total_bytes / msg_len;
  if (r.got != n * msg_len || r.bad || ((kind == K_NEPNET || kind == K_NEPNET_BIG || kind == K_NET) && r.msgs != n)) {
    fprintf(stderr, "bench_throughput: %s delivered %zu bytes, %zu messages, %zu bad\n", row_name[kind], r.got, r.msgs,
            r.bad);
    exit(1);
  }
  return (result_t){ r.t - s.t, s.cpu, r.cpu };
}

/* ---- in one process, no socket ---- */

/* The channel alone, an established pair in memory, against raw AES-256-GCM (nn_aead_t keyed
 * once, a fresh nonce per message, seal only), interleaved a group of messages (1 MiB) at a time so
 * that whatever else runs on the machine hits all three alike:
 *   raw     seal each message of the group
 *   send    nn_chan_send, nn_chan_output, nn_chan_output_consume of each message of the group
 *   recv    nn_chan_recv of the group's stream in --rbuf-sized pieces, as a socket read hands it
 *           over (a record straddles the end of each piece, as on a socket)
 * Copying the stream between the two channels is not timed. Each measure's time for the whole
 * transfer is the number of groups times its median group time: robust to being preempted. */
static double median(const double *v, size_t n);

typedef struct mem_res_t {
  double raw, send, recv; /* seconds for total_bytes */
} mem_res_t;

static void
mem_move(nn_chan_t *from, nn_chan_t *to)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(from, &d, &n);
  if (n) {
    (void)nn_chan_recv(to, d, n, 0);
    nn_chan_output_consume(from, n);
  }
}

static mem_res_t
chan_mem(void)
{
  peer_t rcv = { 0 };
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  nn_chan_t *a, *b;
  nn_aead_t raw = { 0 };
  nn_aead_key_t key;
  nn_aead_nonce_t nonce = { { 0 } };
  uint8_t aad[3] = { 1, 2, 3 };
  size_t group = msg_len >= WBIG ? 1 : WBIG / msg_len, n = total_bytes / msg_len, groups = (n + group - 1) / group;
  size_t cap = group * (msg_len + (msg_len / 65536 + 1) * 64) + 4096, used;
  uint8_t *msg = malloc(msg_len), *sealed = malloc(msg_len + NN_AEAD_TAG_LEN), *stream = malloc(cap);
  double *t_raw = calloc(groups, sizeof(double)), *t_send = calloc(groups, sizeof(double));
  double *t_recv = calloc(groups, sizeof(double));

  if (!msg || !sealed || !stream || !t_raw || !t_send || !t_recv)
    fail("malloc");
  memset(msg, 0x5c, msg_len);
  memset(key.b, 0x3c, sizeof(key.b));
  check(nn_aead_init(&raw, &key), "aead init");
  ci.role = NN_CHAN_INITIATOR;
  ci.network = cr.network = NN_NET_REGTEST;
  ci.identity = id_i;
  ci.expected_peer = nn_identity_node_id(id_r);
  cr.role = NN_CHAN_RESPONDER;
  cr.identity = id_r;
  cr.on_message = on_msg;
  cr.ctx = &rcv;
  check(nn_chan_new(&b, &cr, 0), "nn_chan_new");
  check(nn_chan_new(&a, &ci, 0), "nn_chan_new");
  for (int k = 0; k < 3; k++) {
    mem_move(a, b);
    mem_move(b, a);
  }
  if (!nn_chan_is_established(a) || !nn_chan_is_established(b))
    fail("in-memory handshake");

  uint64_t seq = 0;
  for (size_t g = 0; g < groups; g++) {
    size_t in_group = n - seq < group ? (size_t)(n - seq) : group;
    double t0 = mono();
    for (size_t k = 0; k < in_group; k++) {
      uint64_t i = seq + k;
      memcpy(nonce.b + 4, &i, sizeof(i));
      check(nn_aead_seal(&raw, &nonce, aad, sizeof(aad), msg, msg_len, sealed), "aead seal");
    }
    t_raw[g] = mono() - t0;
    used = 0;
    for (size_t k = 0; k < in_group; k++, seq++) {
      const uint8_t *d;
      size_t len;
      memcpy(msg, &seq, sizeof(seq));
      t0 = mono();
      check(nn_chan_send(a, msg, msg_len), "nn_chan_send");
      nn_chan_output(a, &d, &len);
      double t1 = mono();
      if (used + len > cap)
        fail("stream buffer");
      memcpy(stream + used, d, len); /* stands in for the socket: not timed */
      used += len;
      double t2 = mono();
      nn_chan_output_consume(a, len);
      t_send[g] += (t1 - t0) + (mono() - t2);
    }
    for (size_t off = 0; off < used; off += rbuf) {
      size_t piece = used - off < rbuf ? used - off : rbuf;
      t0 = mono();
      if (nn_chan_recv(b, stream + off, piece, 0) != NN_OK)
        fail("nn_chan_recv");
      t_recv[g] += mono() - t0;
    }
  }
  if (rcv.res.got != n * msg_len || rcv.res.bad || rcv.res.msgs != n)
    fail("in-memory transfer check");
  mem_res_t r = { 0 };
  if (groups >= 3) { /* the last group may be short: scale by messages, not groups */
    double per = (double)n / (double)group;
    r = (mem_res_t){ median(t_raw, groups) * per, median(t_send, groups) * per, median(t_recv, groups) * per };
  } else { /* too few groups for a median: plain sums */
    for (size_t g = 0; g < groups; g++) {
      r.raw += t_raw[g];
      r.send += t_send[g];
      r.recv += t_recv[g];
    }
  }
  nn_aead_free(&raw);
  nn_chan_free(a);
  nn_chan_free(b);
  free(msg);
  free(sealed);
  free(stream);
  free(t_raw);
  free(t_send);
  free(t_recv);
  return r;
}

/* ---- TLS contexts with an in-process self-signed P-256 certificate ---- */

static void
tls_setup(void)
{
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *x = X509_new();
  if (!pkey || !x)
    fail("TLS key");
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, pkey);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, name);
  if (!X509_sign(x, pkey, EVP_sha256()))
    fail("X509_sign");

  for (int server = 0; server < 2; server++) {
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c || SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(c, "TLS_AES_256_GCM_SHA384") != 1)
      fail("SSL_CTX");
    if (server) {
      if (SSL_CTX_use_certificate(c, x) != 1 || SSL_CTX_use_PrivateKey(c, pkey) != 1)
        fail("SSL_CTX_use_certificate");
      SSL_CTX_set_num_tickets(c, 0); /* the client never reads: no session tickets */
    } else {
      if (X509_STORE_add_cert(SSL_CTX_get_cert_store(c), x) != 1)
        fail("X509_STORE_add_cert");
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    }
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_read_buffer_len(c, TLS_RBUF);
    *(server ? &tls_srv : &tls_cli) = c;
  }
  X509_free(x);
  EVP_PKEY_free(pkey);
}

/* ---- report ---- */

static double
median(const double *v, size_t n)
{
  double *t = malloc(n * sizeof(*t));
  if (!t)
    fail("malloc");
  memcpy(t, v, n * sizeof(*t));
  qsort(t, n, sizeof(*t), cmp);
  double m = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  free(t);
  return m;
}

static void
range(const double *v, size_t n, double *lo, double *hi)
{
  *lo = *hi = v[0];
  for (size_t i = 1; i < n; i++) {
    *lo = v[i] < *lo ? v[i] : *lo;
    *hi = v[i] > *hi ? v[i] : *hi;
  }
}

static void
print_load(const char *when)
{
  char line[128] = "?";
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (!fgets(line, sizeof(line), f))
      strcpy(line, "?\n");
    fclose(f);
  }
  printf("load average %s: %s", when, line);
}

static double
best_of(double *const *gbs, const int rows[2], size_t r)
{
  return rows[1] >= 0 && gbs[rows[1]][r] > gbs[rows[0]][r] ? gbs[rows[1]][r] : gbs[rows[0]][r];
}

typedef struct ratio_t {
  const char *what;
  int num[2], den[2]; /* rows; of two, the faster in that round (-1: one only) */
  double target;      /* 0: informational */
  const char *note;
} ratio_t;

int
main(int argc, char **argv)
{
  size_t reps = 7;
  int only = -1;
  nn_mldsa_seed_t sa, sb;
  static const char *only_names[] = { "tcp", "tcp-big", "tls", "tls-big", "nepnet", "nepnet-big", "net", "mem" };

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
      char *end;
      total_bytes = strtoull(argv[++i], &end, 10);
      if (*end == 'K' || *end == 'k')
        total_bytes <<= 10;
      else if (*end == 'M' || *end == 'm')
        total_bytes <<= 20;
      else if (*end == 'G' || *end == 'g')
        total_bytes <<= 30;
    } else if (!strcmp(argv[i], "--msg") && i + 1 < argc) {
      msg_len = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--rbuf") && i + 1 < argc) {
      rbuf = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--lowat") && i + 1 < argc) {
      lowat = atoi(argv[++i]);
      if (lowat < 0)
        lowat = 0;
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
      i++;
      for (int k = 0; k < (int)(sizeof(only_names) / sizeof(only_names[0])); k++)
        if (!strcmp(argv[i], only_names[k]))
          only = k;
      if (only < 0) {
        fprintf(stderr, "bench_throughput: --only tcp|tcp-big|tls|tls-big|nepnet|nepnet-big|net|mem\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--quick")) {
      total_bytes = (size_t)64 << 20;
      reps = 3;
    } else {
      printf(
        "usage: bench_throughput [--bytes N[K|M|G]] [--msg N] [--reps R] [--rbuf N] [--lowat N] [--quick] [--only X]\n"
        "  --bytes N  volume of each transfer (default 1G)\n"
        "  --msg N    message size, bytes (default 65536; the channel's record holds 64 KiB)\n"
        "  --reps R   rounds, each running every transfer once (default 7)\n"
        "  --rbuf N   receive buffer of every receiver, bytes (default 1048576)\n"
        "  --lowat N  SO_RCVLOWAT of every receiver, bytes; 0: woken by every segment (default 262144)\n"
        "  --quick    --bytes 64M --reps 3 (a smoke run; its numbers are not a measurement)\n"
        "  --only X   one transfer only, R times (tcp tcp-big tls tls-big nepnet nepnet-big net mem)\n");
      return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
    }
  }
  if (msg_len < 8 || msg_len > NN_CHAN_DEFAULT_MAX_MESSAGE || msg_len > INT_MAX || total_bytes < msg_len || reps < 1 ||
      rbuf < 1 || rbuf > INT_MAX) {
    fprintf(stderr, "bench_throughput: need 8 <= --msg <= 8 MiB, --bytes >= --msg, --reps >= 1, --rbuf >= 1\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(sa.b, 0xa1, 32);
  memset(sb.b, 0xb2, 32);
  check(nn_identity_from_seed(&id_i, &sa), "identity");
  check(nn_identity_from_seed(&id_r, &sb), "identity");
  tls_setup();

  size_t n_msgs = total_bytes / msg_len;
  total_bytes = n_msgs * msg_len;
  printf("bench_throughput: nepnet %s, OpenSSL %s\n", nn_version(), nn_openssl_version());
  printf("%zu bytes (%.2f GiB) per transfer in %zu messages of %zu B; %zu rounds, compared transfers back to back,\n"
         "order reversed every other round\n",
         total_bytes, (double)total_bytes / (1 << 30), n_msgs, msg_len, reps);
  printf("loopback TCP, blocking sockets, one process per side; receivers read %zu B at a time, woken once\n"
         "%d B are queued (SO_RCVLOWAT); TLS: buffered writes, read-ahead %zu KiB\n",
         rbuf, lowat, TLS_RBUF >> 10);
  print_load("at start");
  printf("\n");

  double *gbs[N_ROWS], *cs[N_ROWS], *cr[N_ROWS];
  for (int k = 0; k < N_ROWS; k++) {
    gbs[k] = calloc(reps, sizeof(double));
    cs[k] = calloc(reps, sizeof(double));
    cr[k] = calloc(reps, sizeof(double));
    if (!gbs[k] || !cs[k] || !cr[k])
      fail("malloc");
  }

  if (only >= 0) {
    for (size_t r = 0; r < reps; r++) {
      if (only == J_MEM) {
        mem_res_t m = chan_mem();
        printf("  raw AES-256-GCM seal %.2f GB/s, in memory: send path %.2f GB/s, recv path %.2f GB/s\n",
               (double)total_bytes / m.raw / 1e9, (double)total_bytes / m.send / 1e9,
               (double)total_bytes / m.recv / 1e9);
        continue;
      }
      result_t res = transfer((kind_t)only);
      printf("  %-28s %9.3f s %9.2f GB/s  send CPU %.3f s  recv CPU %.3f s\n", row_name[only], res.wall,
             (double)total_bytes / res.wall / 1e9, res.cpu_send, res.cpu_recv);
    }
    return 0;
  }
  (void)transfer(K_NEPNET); /* warm-up: first-use costs (page cache of the binary, CPU frequency) */
  printf("  %-5s %-28s %9s %9s %12s %12s\n", "round", "transfer", "wall s", "GB/s", "send CPU s", "recv CPU s");
  for (size_t r = 0; r < reps; r++) {
    /* Each compared pair runs back to back, first in one order, then in the other: a drift in
     * the machine's load during a round hits both sides of a ratio alike. */
    static const int order[N_JOBS] = { K_TCP_BIG, K_NEPNET_BIG, K_TLS_BIG, K_NET, J_MEM, K_TCP, K_NEPNET, K_TLS };
    for (int j0 = 0; j0 < N_JOBS; j0++) {
      int j = order[r % 2 ? N_JOBS - 1 - j0 : j0], rows[3] = { j, -1, -1 };
      result_t res[3] = { { 0 } };
      if (j == J_MEM) { /* raw AES and the in-memory channel, interleaved: three rows */
        mem_res_t m = chan_mem();
        res[0] = (result_t){ m.raw, m.raw, 0 };
        res[1] = (result_t){ m.send, m.send, 0 };
        res[2] = (result_t){ m.recv, 0, m.recv };
        rows[0] = R_AES;
        rows[1] = R_MEM_SEND;
        rows[2] = R_MEM_RECV;
      } else {
        res[0] = transfer((kind_t)j);
      }
      for (int i = 0; i < 3 && rows[i] >= 0; i++) {
        int row = rows[i];
        gbs[row][r] = (double)total_bytes / res[i].wall / 1e9;
        cs[row][r] = res[i].cpu_send;
        cr[row][r] = res[i].cpu_recv;
        printf("  %-5zu %-28s %9.3f %9.2f %12.3f %12.3f\n", r + 1, row_name[row], res[i].wall, gbs[row][r],
               res[i].cpu_send, res[i].cpu_recv);
      }
      fflush(stdout);
    }
  }

  double lo, hi;
  printf("\nover %zu rounds (GB/s: median, min, max; CPU per side: medians)\n", reps);
  printf("  %-28s %8s %8s %8s %14s %14s\n", "transfer", "median", "min", "max", "send CPU ns/B", "recv CPU ns/B");
  for (int k = 0; k < N_ROWS; k++) {
    range(gbs[k], reps, &lo, &hi);
    printf("  %-28s %8.2f %8.2f %8.2f %14.3f %14.3f\n", row_name[k], median(gbs[k], reps), lo, hi,
           median(cs[k], reps) / (double)total_bytes * 1e9, median(cr[k], reps) / (double)total_bytes * 1e9);
  }

  static const ratio_t ratios[] = {
    { "nepnet / plain TCP, 64 KiB writes", { K_NEPNET, -1 }, { K_TCP, -1 }, 0, NULL },
    { "nepnet / plain TCP, 1 MiB writes", { K_NEPNET_BIG, -1 }, { K_TCP_BIG, -1 }, 0.70, NULL },
    { "nepnet / TLS 1.3, 64 KiB writes", { K_NEPNET, -1 }, { K_TLS, -1 }, 1.05, NULL },
    { "nepnet / TLS 1.3, 1 MiB writes", { K_NEPNET_BIG, -1 }, { K_TLS_BIG, -1 }, 1.05, NULL },
    { "nepnet / plain TCP, each its best size",
      { K_NEPNET, K_NEPNET_BIG },
      { K_TCP, K_TCP_BIG },
      0,
      "(the faster write size of each, per round)" },
    { "nepnet / TLS 1.3, each its best size", { K_NEPNET, K_NEPNET_BIG }, { K_TLS, K_TLS_BIG }, 0, NULL },
    { "in memory: send path / raw AES seal", { R_MEM_SEND, -1 }, { R_AES, -1 }, 0.9, NULL },
    { "in memory: recv path / raw AES seal", { R_MEM_RECV, -1 }, { R_AES, -1 }, 0.9, NULL },
    { "nepnet manager / nepnet, 1 MiB",
      { K_NET, -1 },
      { K_NEPNET_BIG, -1 },
      0,
      "(the node's path: manager, transport, loop)" },
  };
  double *v = calloc(reps, sizeof(double));
  if (!v)
    fail("malloc");
  printf("\nratios: median of the %zu per-round ratios [min - max]\n", reps);
  for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
    const ratio_t *q = &ratios[i];
    for (size_t r = 0; r < reps; r++)
      v[r] = best_of(gbs, q->num, r) / best_of(gbs, q->den, r);
    double m = median(v, reps);
    range(v, reps, &lo, &hi);
    printf("  %-38s %6.3f  [%5.3f - %5.3f]", q->what, m, lo, hi);
    if (q->target > 0)
      printf("   target >= %.2f: %s\n", q->target, m >= q->target ? "met" : "MISSED");
    else if (q->note)
      printf("   %s\n", q->note);
    else
      printf("\n");
  }
  /* The most any cipher at raw AES-GCM speed can reach against plain TCP with 1 MiB writes: the
   * sender pays plain TCP's send and the seal, one after the other, so the ratio is at most
   * t_tcp / (t_tcp + t_seal) = aes / (tcp + aes) in GB/s, per round. It moves with the machine's
   * load (a loaded kernel makes t_tcp larger and the bound higher): about 0.73 at 3.3 GB/s of plain
   * TCP, 0.64 at 10 GB/s. */
  for (size_t r = 0; r < reps; r++)
    v[r] = gbs[R_AES][r] / (gbs[K_TCP_BIG][r] + gbs[R_AES][r]);
  double bound = median(v, reps);
  range(v, reps, &lo, &hi);
  printf("  %-38s %6.3f  [%5.3f - %5.3f]   aes / (tcp + aes), per round\n", "bound: plain TCP send + raw seal", bound,
         lo, hi);
  for (size_t r = 0; r < reps; r++)
    v[r] = gbs[K_NEPNET_BIG][r] / gbs[K_TCP_BIG][r] / (gbs[R_AES][r] / (gbs[K_TCP_BIG][r] + gbs[R_AES][r]));
  range(v, reps, &lo, &hi);
  printf("  %-38s %6.3f  [%5.3f - %5.3f]\n", "nepnet / plain TCP 1 MiB, of that bound", median(v, reps), lo, hi);
  /* CPU per byte: what each costs the two machines' worth of cores, whatever the wall clock did */
  for (int big = 0; big < 2; big++) {
    int nn = big ? K_NEPNET_BIG : K_NEPNET, tls = big ? K_TLS_BIG : K_TLS, tcp = big ? K_TCP_BIG : K_TCP;
    for (size_t r = 0; r < reps; r++)
      v[r] = (cs[tls][r] + cr[tls][r]) / (cs[nn][r] + cr[nn][r]);
    double m1 = median(v, reps);
    for (size_t r = 0; r < reps; r++)
      v[r] = (cs[nn][r] + cr[nn][r]) / (cs[tcp][r] + cr[tcp][r]);
    printf("  CPU both sides, %s writes: TLS 1.3 / nepnet %6.3f (> 1: nepnet cheaper), nepnet / plain TCP %6.3f\n",
           big ? "1 MiB " : "64 KiB", m1, median(v, reps));
  }
  print_load("at end");

  free(v);
  for (int k = 0; k < N_ROWS; k++) {
    free(gbs[k]);
    free(cs[k]);
    free(cr[k]);
  }
  SSL_CTX_free(tls_srv);
  SSL_CTX_free(tls_cli);
  nn_identity_free(id_i);
  nn_identity_free(id_r);
  return 0;
}
