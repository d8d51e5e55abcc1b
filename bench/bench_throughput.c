/*
 * bench_throughput: bulk transfer through the secure channel over loopback TCP, as ratios
 * against what bounds it, all measured in the same run (the machines we measure on are shared
 * and noisy):
 *
 *   raw AES-256-GCM   seal only, nn_aead_t keyed once, the same message size, one core: the
 *                     cipher's own speed (target: nepnet / raw >= 0.8)
 *   plain TCP         the same bytes unencrypted over loopback: the kernel's ceiling, written
 *                     a message at a time, and 1 MiB at a time (fewer wake-ups of the receiver)
 *   nepnet            messages through nn_chan_send -> socket -> nn_chan_recv, written a
 *                     message at a time (as TLS below), and once 1 MiB of output is queued
 *   TLS 1.3           OpenSSL's own, TLS_AES_256_GCM_SHA384, SSL_write of the same messages,
 *                     with OpenSSL's default read path and with read-ahead into a 1 MiB buffer
 *                     (target: nepnet / TLS >= 1.0)
 *
 *   nepnet in memory  the channel alone, no socket: the send path and the receive path timed
 *                     apart on one thread (what the channel code itself costs over the cipher)
 *   nepnet manager    the node's own path: the connection manager and its TCP transport on a
 *                     libevent loop per side (src/net), a tenant sending with nn_net_send while
 *                     less than 1 MiB is unsent; against "nepnet channel" it is what the manager,
 *                     the transport and the event loop cost
 *
 * Sender and receiver are two threads with blocking sockets (both cores in use, like a pair of
 * nodes on one machine); the receiver reads into a 1 MiB buffer, the nepnet sender writes
 * straight from nn_chan_output. Handshakes are not timed. Time = wall clock from the start
 * barrier until the receiver has every byte. Every transfer is repeated --reps times in
 * rotating order; the medians are compared.
 *
 *   bench_throughput [--bytes N[K|M|G]] [--msg N] [--reps R] [--batch N] [--quick] [--only X]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

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

#define WBIG ((size_t)1 << 20)        /* the "1 MiB writes" variants */
static size_t rbuf = (size_t)1 << 20; /* receive buffer of every receiver (--rbuf) */

static double
mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
cpu_thread(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

static size_t total_bytes = (size_t)1 << 30, msg_len = 65536;
static size_t batch; /* nepnet sender: write once this much output is queued (0: every message) */
static nn_identity_t *id_i, *id_r;
static SSL_CTX *tls_srv, *tls_cli, *tls_srv_ra, *tls_cli_ra;

/* ---- connected loopback socket pairs ---- */

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

/* ---- one transfer: a sender and a receiver thread ---- */

typedef enum kind_t { K_TCP, K_NEPNET, K_TLS, K_TLS_RA, K_TCP_BIG, K_NEPNET_BIG, K_NET, N_KINDS } kind_t;
static const char *kind_name[N_KINDS] = { "plain TCP",
                                          "nepnet channel",
                                          "TLS 1.3 (default read)",
                                          "TLS 1.3 (read-ahead 1 MiB)",
                                          "plain TCP, 1 MiB writes",
                                          "nepnet, 1 MiB writes",
                                          "nepnet manager" };

typedef struct peer_t {
  kind_t kind;
  int fd;
  int sender;
  pthread_barrier_t *start;
  nn_chan_t *ch;
  SSL *ssl;
  /* receiver accounting */
  size_t got, msgs, bad;
  uint64_t expect_seq;
  double t_end, cpu;
} peer_t;

static void
on_msg(void *ctx, const uint8_t *msg, size_t len)
{
  peer_t *p = ctx;
  uint64_t seq = UINT64_MAX;
  if (len >= sizeof(seq))
    memcpy(&seq, msg, sizeof(seq));
  if (len != msg_len || seq != p->expect_seq)
    p->bad++;
  p->expect_seq++;
  p->msgs++;
  p->got += len;
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
  SSL_CTX *ctx = p->kind == K_TLS_RA ? (p->sender ? tls_cli_ra : tls_srv_ra) : (p->sender ? tls_cli : tls_srv);
  if (!(p->ssl = SSL_new(ctx)) || SSL_set_fd(p->ssl, p->fd) != 1)
    fail("SSL_new");
  if (p->sender && SSL_set1_host(p->ssl, "localhost") != 1)
    fail("SSL_set1_host");
  if ((p->sender ? SSL_connect(p->ssl) : SSL_accept(p->ssl)) != 1)
    fail("TLS handshake");
  if (strcmp(SSL_get_cipher_name(p->ssl), "TLS_AES_256_GCM_SHA384") || SSL_version(p->ssl) != TLS1_3_VERSION)
    fail("TLS cipher suite check");
}

static void
do_send(peer_t *p, uint8_t *msg)
{
  size_t n = total_bytes / msg_len, pending = 0;
  for (uint64_t seq = 0; seq < n; seq++) {
    memcpy(msg, &seq, sizeof(seq)); /* the receiver checks order and completeness */
    switch (p->kind) {
    case K_TCP:
      if (send_all(p->fd, msg, msg_len))
        fail("send");
      break;
    case K_TCP_BIG: /* the same bytes, written >= 1 MiB at a time: fewer wake-ups of the receiver */
      pending += msg_len;
      while (pending >= WBIG || (seq + 1 == n && pending)) {
        size_t chunk = pending < WBIG ? pending : WBIG;
        if (send_all(p->fd, msg, chunk))
          fail("send");
        pending -= chunk;
      }
      break;
    case K_NEPNET:
    case K_NEPNET_BIG: /* the same, the output written once >= 1 MiB of it is queued */
      check(nn_chan_send(p->ch, msg, msg_len), "nn_chan_send");
      if (p->kind == K_NEPNET_BIG || batch) {
        const uint8_t *d;
        size_t queued;
        nn_chan_output(p->ch, &d, &queued);
        if (queued < (p->kind == K_NEPNET_BIG ? WBIG : batch) && seq + 1 < n)
          break;
      }
      if (chan_flush(p))
        fail("send");
      break;
    case K_TLS:
    case K_TLS_RA:
      if (SSL_write(p->ssl, msg, (int)msg_len) != (int)msg_len)
        fail("SSL_write");
      break;
    default: break;
    }
  }
}

static void
do_recv(peer_t *p, uint8_t *buf)
{
  while (p->got < total_bytes) {
    ssize_t n;
    switch (p->kind) {
    case K_TCP:
    case K_TCP_BIG:
      n = read(p->fd, buf, rbuf);
      if (n <= 0)
        fail("read");
      p->got += (size_t)n;
      break;
    case K_NEPNET:
    case K_NEPNET_BIG:
      n = read(p->fd, buf, rbuf);
      if (n <= 0)
        fail("read");
      if (nn_chan_recv(p->ch, buf, (size_t)n, now_ms()) != NN_OK)
        fail("nn_chan_recv");
      break;
    default:
      n = SSL_read(p->ssl, buf, (int)rbuf);
      if (n <= 0)
        fail("SSL_read");
      p->got += (size_t)n;
      break;
    }
  }
}

static void *
peer_main(void *arg)
{
  peer_t *p = arg;
  /* the message or 1 MiB of messages (sender), the read buffer (receiver) */
  size_t cap = msg_len > WBIG ? msg_len : WBIG;
  cap = cap > rbuf ? cap : rbuf;
  uint8_t *buf = malloc(cap);
  if (!buf)
    fail("malloc");
  memset(buf, 0x5c, cap);
  if (p->kind == K_NEPNET || p->kind == K_NEPNET_BIG)
    chan_handshake(p, buf);
  else if (p->kind == K_TLS || p->kind == K_TLS_RA)
    tls_handshake(p);
  pthread_barrier_wait(p->start);
  double c0 = cpu_thread();
  if (p->sender)
    do_send(p, buf);
  else
    do_recv(p, buf);
  p->t_end = mono();
  p->cpu = cpu_thread() - c0;
  if (p->sender && p->ssl)
    SSL_shutdown(p->ssl); /* close_notify; the receiver does not wait for it */
  free(buf);
  return NULL;
}

typedef struct result_t {
  double wall, cpu_send, cpu_recv;
} result_t;

/* ---- the node's path: two connection managers, one loop per side ---- */

typedef struct side_t {
  peer_t acct; /* receiver accounting, as the other transfers */
  struct event_base *base;
  nn_net_t *net;
  uint64_t conn;
  int up;
  nn_addr_t *addr;          /* where the receiver listens */
  pthread_barrier_t *ready; /* the address is known */
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
  if (s->acct.got >= total_bytes) {
    s->acct.t_end = mono();
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
  nn_net_proto_t p = { "bench", 0x00, 0xff, net_up, net_msg, net_down, s };
  check(nn_net_register(s->net, &p, NULL), "nn_net_register");
}

static void
side_close(side_t *s)
{
  nn_net_free(s->net);
  event_base_free(s->base);
}

static void *
net_recv_main(void *arg)
{
  side_t *s = arg;
  side_open(s, id_r);
  check(nn_net_listen(s->net, "tcp", "127.0.0.1:0", s->addr, NULL, 0), "nn_net_listen");
  pthread_barrier_wait(s->ready);
  double c0 = cpu_thread(); /* includes the responder's handshake (under a millisecond) */
  event_base_dispatch(s->base);
  s->acct.cpu = cpu_thread() - c0;
  side_close(s);
  return NULL;
}

static void *
net_send_main(void *arg)
{
  side_t *s = arg;
  uint8_t *msg = calloc(1, msg_len);
  size_t n = total_bytes / msg_len;
  if (!msg)
    fail("malloc");
  pthread_barrier_wait(s->ready);
  side_open(s, id_i);
  check(nn_net_dial(s->net, 0, s->addr, nn_identity_node_id(id_r), &s->conn), "nn_net_dial");
  while (!s->up)
    event_base_loop(s->base, EVLOOP_ONCE);
  pthread_barrier_wait(s->acct.start);
  double c0 = cpu_thread();
  for (uint64_t seq = 0; seq < n; seq++) {
    memcpy(msg, &seq, sizeof(seq));
    while (nn_net_pending(s->net, s->conn) >= WBIG) /* the manager writes as the socket drains */
      event_base_loop(s->base, EVLOOP_ONCE);
    check(nn_net_send(s->net, s->conn, msg, msg_len), "nn_net_send");
  }
  while (nn_net_pending(s->net, s->conn))
    event_base_loop(s->base, EVLOOP_ONCE);
  s->acct.cpu = cpu_thread() - c0;
  pthread_barrier_wait(s->ready); /* keep the channel until the receiver has everything */
  side_close(s);
  free(msg);
  return NULL;
}

static result_t
net_transfer(void)
{
  pthread_barrier_t ready, start, done;
  nn_addr_t addr;
  side_t snd = { 0 }, rcv = { 0 };
  pthread_t ts, tr;
  pthread_barrier_init(&ready, NULL, 2);
  pthread_barrier_init(&start, NULL, 2);
  pthread_barrier_init(&done, NULL, 2);
  rcv.addr = snd.addr = &addr;
  rcv.ready = &ready;
  snd.ready = &ready;
  snd.acct.start = &start;
  pthread_create(&tr, NULL, net_recv_main, &rcv);
  pthread_create(&ts, NULL, net_send_main, &snd);
  pthread_barrier_wait(&start);
  double t0 = mono();
  pthread_join(tr, NULL);
  snd.ready = &done;
  pthread_barrier_wait(&ready); /* the sender's last wait: the receiver is done */
  pthread_join(ts, NULL);
  if (rcv.acct.got != total_bytes || rcv.acct.bad || rcv.acct.msgs != total_bytes / msg_len) {
    fprintf(stderr, "bench_throughput: %s delivered %zu bytes, %zu messages, %zu bad\n", kind_name[K_NET], rcv.acct.got,
            rcv.acct.msgs, rcv.acct.bad);
    exit(1);
  }
  pthread_barrier_destroy(&ready);
  pthread_barrier_destroy(&start);
  pthread_barrier_destroy(&done);
  return (result_t){ rcv.acct.t_end - t0, snd.acct.cpu, rcv.acct.cpu };
}

static result_t
transfer(kind_t kind)
{
  if (kind == K_NET)
    return net_transfer();
  int cfd, sfd;
  pthread_barrier_t start;
  peer_t snd = { 0 }, rcv = { 0 };
  pthread_t ts, tr;
  result_t r;

  tcp_pair(&cfd, &sfd);
  pthread_barrier_init(&start, NULL, 3);
  snd = (peer_t){ .kind = kind, .fd = cfd, .sender = 1, .start = &start };
  rcv = (peer_t){ .kind = kind, .fd = sfd, .sender = 0, .start = &start };
  pthread_create(&tr, NULL, peer_main, &rcv);
  pthread_create(&ts, NULL, peer_main, &snd);
  pthread_barrier_wait(&start);
  double t0 = mono();
  pthread_join(tr, NULL);
  pthread_join(ts, NULL);
  r.wall = rcv.t_end - t0;
  r.cpu_send = snd.cpu;
  r.cpu_recv = rcv.cpu;
  if (rcv.got != total_bytes / msg_len * msg_len || rcv.bad ||
      ((kind == K_NEPNET || kind == K_NEPNET_BIG) && rcv.msgs != total_bytes / msg_len)) {
    fprintf(stderr, "bench_throughput: %s delivered %zu bytes, %zu messages, %zu bad\n", kind_name[kind], rcv.got,
            rcv.msgs, rcv.bad);
    exit(1);
  }
  nn_chan_free(snd.ch);
  nn_chan_free(rcv.ch);
  SSL_free(snd.ssl);
  SSL_free(rcv.ssl);
  close(cfd);
  close(sfd);
  pthread_barrier_destroy(&start);
  return r;
}

/* Raw AES-256-GCM: seal total_bytes in msg_len pieces, key set once, fresh nonce per message. */
static result_t
aes_raw(void)
{
  nn_aead_t a = { 0 };
  nn_aead_key_t key;
  nn_aead_nonce_t nonce = { { 0 } };
  uint8_t *in = malloc(msg_len), *out = malloc(msg_len + NN_AEAD_TAG_LEN), aad[3] = { 1, 2, 3 };
  result_t r = { 0 };

  memset(key.b, 0x3c, sizeof(key.b));
  memset(in, 0x5c, msg_len);
  check(nn_aead_init(&a, &key), "aead init");
  size_t n = total_bytes / msg_len;
  double t0 = mono(), c0 = cpu_thread();
  for (uint64_t i = 0; i < n; i++) {
    memcpy(nonce.b + 4, &i, sizeof(i));
    check(nn_aead_seal(&a, &nonce, aad, sizeof(aad), in, msg_len, out), "aead seal");
  }
  r.wall = mono() - t0;
  r.cpu_send = cpu_thread() - c0;
  nn_aead_free(&a);
  free(in);
  free(out);
  return r;
}

/* The channel alone, no sockets: an established pair in memory. The send path (nn_chan_send,
 * nn_chan_output, nn_chan_output_consume) and the receive path (nn_chan_recv of the same stream
 * in --rbuf-sized pieces, as a socket read would hand it over) are timed apart; copying the stream
 * between them is not timed. wall = send path, cpu_send / cpu_recv = each path's time. */
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

static result_t
chan_mem(void)
{
  peer_t rcv = { 0 };
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  nn_chan_t *a, *b;
  result_t r = { 0 };
  size_t group = msg_len >= WBIG ? 1 : WBIG / msg_len;
  size_t cap = group * (msg_len + (msg_len / 65536 + 1) * 64) + 4096, used;
  uint8_t *msg = malloc(msg_len), *stream = malloc(cap);

  if (!msg || !stream)
    fail("malloc");
  memset(msg, 0x5c, msg_len);
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

  size_t n = total_bytes / msg_len;
  for (uint64_t seq = 0; seq < n;) {
    used = 0;
    for (size_t g = 0; g < group && seq < n; g++, seq++) {
      const uint8_t *d;
      size_t len;
      memcpy(msg, &seq, sizeof(seq));
      double t0 = mono();
      check(nn_chan_send(a, msg, msg_len), "nn_chan_send");
      nn_chan_output(a, &d, &len);
      double t1 = mono();
      if (used + len > cap)
        fail("stream buffer");
      memcpy(stream + used, d, len); /* stands in for the socket: not timed */
      used += len;
      double t2 = mono();
      nn_chan_output_consume(a, len);
      r.cpu_send += (t1 - t0) + (mono() - t2);
    }
    for (size_t off = 0; off < used; off += rbuf) {
      size_t piece = used - off < rbuf ? used - off : rbuf;
      double t0 = mono();
      if (nn_chan_recv(b, stream + off, piece, 0) != NN_OK)
        fail("nn_chan_recv");
      r.cpu_recv += mono() - t0;
    }
  }
  if (rcv.got != n * msg_len || rcv.bad || rcv.msgs != n)
    fail("in-memory transfer check");
  r.wall = r.cpu_send;
  nn_chan_free(a);
  nn_chan_free(b);
  free(msg);
  free(stream);
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

  SSL_CTX **ctxs[4] = { &tls_srv, &tls_cli, &tls_srv_ra, &tls_cli_ra };
  for (int k = 0; k < 4; k++) {
    int server = !(k & 1), read_ahead = k >= 2;
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
    if (read_ahead) {
      SSL_CTX_set_read_ahead(c, 1);
      SSL_CTX_set_default_read_buffer_len(c, WBIG);
    }
    *ctxs[k] = c;
  }
  X509_free(x);
  EVP_PKEY_free(pkey);
}

/* ---- report ---- */

static double
median(double *v, size_t n)
{
  double *t = malloc(n * sizeof(*t));
  memcpy(t, v, n * sizeof(*t));
  qsort(t, n, sizeof(*t), cmp);
  double m = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  free(t);
  return m;
}

int
main(int argc, char **argv)
{
  size_t reps = 5;
  int only = -1;
  nn_mldsa_seed_t sa, sb;

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
    } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
      batch = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
      static const char *names[] = { "tcp", "nepnet", "tls", "tls-ra", "tcp-big", "nepnet-big", "net", "aes", "mem" };
      i++;
      for (int k = 0; k < 9; k++) /* = the rows below */
        if (!strcmp(argv[i], names[k]))
          only = k;
      if (only < 0) {
        fprintf(stderr, "bench_throughput: --only tcp|nepnet|tls|tls-ra|tcp-big|nepnet-big|net|aes|mem\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--quick")) {
      total_bytes = (size_t)64 << 20;
      reps = 1;
    } else {
      printf("usage: bench_throughput [--bytes N[K|M|G]] [--msg N] [--reps R] [--quick]\n"
             "  --bytes N  volume of each transfer (default 1G)\n"
             "  --msg N    message size, bytes (default 65536; the channel's record holds 64 KiB)\n"
             "  --reps R   repetitions of every transfer, medians compared (default 5)\n"
             "  --rbuf N   receive buffer of every receiver, bytes (default 1048576)\n"
             "  --batch N  nepnet sender: write once N bytes of output are queued (default: each message)\n"
             "  --quick    --bytes 64M --reps 1\n"
             "  --only X   one transfer only (tcp nepnet tls tls-ra tcp-big nepnet-big net aes mem)\n");
      return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
    }
  }
  if (msg_len < 8 || msg_len > NN_CHAN_DEFAULT_MAX_MESSAGE || total_bytes < msg_len || reps < 1 || rbuf < 1 ||
      rbuf > INT_MAX) {
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
  printf("%zu bytes (%.2f GiB) per transfer in %zu messages of %zu B; %zu repetitions, rotating order\n", total_bytes,
         (double)total_bytes / (1 << 30), n_msgs, msg_len, reps);
  printf("loopback TCP, blocking sockets, sender and receiver threads, receiver reads %zu B at a time\n", rbuf);
  if (batch)
    printf("nepnet sender writes once %zu bytes of output are queued (--batch)\n", batch);
  else
    printf("every sender writes each message as it is produced (nepnet: straight from nn_chan_output)\n");
  printf("\n");

  enum { R_AES = N_KINDS, R_MEM_SEND, R_MEM_RECV, N_ROWS };
  _Static_assert(K_NET == 6, "row names follow kind_t");
  enum { N_JOBS = N_KINDS + 2 }; /* the transfers, raw AES, the in-memory channel (two rows) */
  static const char *row_name[N_ROWS] = { "plain TCP",
                                          "nepnet channel",
                                          "TLS 1.3 (default read)",
                                          "TLS 1.3 (read-ahead 1 MiB)",
                                          "plain TCP, 1 MiB writes",
                                          "nepnet, 1 MiB writes",
                                          "nepnet manager",
                                          "raw AES-256-GCM seal",
                                          "nepnet in memory: send path",
                                          "nepnet in memory: recv path" };
  double *gbs[N_ROWS], *cs[N_ROWS], *cr[N_ROWS];
  for (int k = 0; k < N_ROWS; k++) {
    gbs[k] = calloc(reps, sizeof(double));
    cs[k] = calloc(reps, sizeof(double));
    cr[k] = calloc(reps, sizeof(double));
  }

  if (only >= 0) {
    for (size_t r = 0; r < reps; r++) {
      result_t res = only == R_AES ? aes_raw() : only == R_MEM_SEND ? chan_mem() : transfer((kind_t)only);
      printf("  %-28s %9.3f s %9.2f GB/s  send CPU %.3f s  recv CPU %.3f s\n",
             only == R_MEM_SEND ? "nepnet in memory" : row_name[only], res.wall, (double)total_bytes / res.wall / 1e9,
             res.cpu_send, res.cpu_recv);
    }
    return 0;
  }
  (void)transfer(K_NEPNET); /* warm-up: first-use costs (provider fetches, page faults) */
  printf("  %-4s %-28s %9s %9s %12s %12s\n", "rep", "transfer", "wall s", "GB/s", "send CPU s", "recv CPU s");
  for (size_t r = 0; r < reps; r++) {
    for (int k0 = 0; k0 < N_JOBS; k0++) {
      int k = (int)((k0 + r) % N_JOBS), rows[2] = { k, -1 };
      result_t res[2] = { { 0 } };
      if (k == R_AES) {
        res[0] = aes_raw();
      } else if (k == R_MEM_SEND) { /* one in-memory run, both paths: two rows */
        result_t m = chan_mem();
        res[0] = (result_t){ m.cpu_send, m.cpu_send, 0 };
        res[1] = (result_t){ m.cpu_recv, 0, m.cpu_recv };
        rows[1] = R_MEM_RECV;
      } else {
        res[0] = transfer((kind_t)k);
      }
      for (int j = 0; j < 2 && rows[j] >= 0; j++) {
        int row = rows[j];
        gbs[row][r] = (double)total_bytes / res[j].wall / 1e9;
        cs[row][r] = res[j].cpu_send;
        cr[row][r] = res[j].cpu_recv;
        printf("  %-4zu %-28s %9.3f %9.2f %12.3f %12.3f\n", r + 1, row_name[row], res[j].wall, gbs[row][r],
               res[j].cpu_send, res[j].cpu_recv);
      }
      fflush(stdout);
    }
  }

  double m[N_ROWS];
  printf("\nover %zu repetitions (GB/s: median, min, max; CPU: medians)\n", reps);
  printf("  %-28s %8s %8s %8s %14s %14s\n", "transfer", "median", "min", "max", "send CPU ns/B", "recv CPU ns/B");
  for (int k = 0; k < N_ROWS; k++) {
    double lo = gbs[k][0], hi = gbs[k][0];
    for (size_t r = 1; r < reps; r++) {
      lo = gbs[k][r] < lo ? gbs[k][r] : lo;
      hi = gbs[k][r] > hi ? gbs[k][r] : hi;
    }
    m[k] = median(gbs[k], reps);
    printf("  %-28s %8.2f %8.2f %8.2f %14.3f %14.3f\n", row_name[k], m[k], lo, hi,
           median(cs[k], reps) / (double)total_bytes * 1e9, median(cr[k], reps) / (double)total_bytes * 1e9);
  }
  double tls_best = m[K_TLS] > m[K_TLS_RA] ? m[K_TLS] : m[K_TLS_RA];
  printf("\nratios (medians, same run)\n");
  printf("  nepnet over TCP / raw AES-256-GCM seal      %6.3f   target >= 0.8: %s\n", m[K_NEPNET] / m[R_AES],
         m[K_NEPNET] / m[R_AES] >= 0.8 ? "met" : "MISSED");
  printf("  nepnet over TCP / TLS 1.3 (default read)    %6.3f   target >= 1.0: %s\n", m[K_NEPNET] / m[K_TLS],
         m[K_NEPNET] / m[K_TLS] >= 1.0 ? "met" : "MISSED");
  printf("  nepnet over TCP / TLS 1.3 (read-ahead)      %6.3f   target >= 1.0: %s\n", m[K_NEPNET] / m[K_TLS_RA],
         m[K_NEPNET] / m[K_TLS_RA] >= 1.0 ? "met" : "MISSED");
  printf("  nepnet over TCP / plain TCP                 %6.3f   (the kernel loopback ceiling)\n",
         m[K_NEPNET] / m[K_TCP]);
  printf("  nepnet, 1 MiB writes / plain TCP, 1 MiB    %6.3f\n", m[K_NEPNET_BIG] / m[K_TCP_BIG]);
  printf("  nepnet, 1 MiB writes / raw AES-256-GCM seal %6.3f\n", m[K_NEPNET_BIG] / m[R_AES]);
  printf("  plain TCP / raw AES-256-GCM seal            %6.3f   (< 0.8: the kernel, not the cipher, bounds any\n"
         "                                                       encrypted transfer here)\n",
         m[K_TCP] / m[R_AES]);
  printf("  better TLS 1.3 / plain TCP                  %6.3f\n", tls_best / m[K_TCP]);
  double cpu_b[N_ROWS];
  for (int k = 0; k < N_ROWS; k++)
    cpu_b[k] = (median(cs[k], reps) + median(cr[k], reps)) / (double)total_bytes * 1e9;
  printf("  CPU per byte, both sides: TLS 1.3 (default read) / nepnet  %6.3f   (> 1: nepnet cheaper)\n",
         cpu_b[K_TLS] / cpu_b[K_NEPNET]);
  printf("  CPU per byte, both sides: nepnet / plain TCP               %6.3f\n", cpu_b[K_NEPNET] / cpu_b[K_TCP]);
  printf("  nepnet manager / nepnet channel            %6.3f   (the node's path: manager, transport, event loop)\n",
         m[K_NET] / m[K_NEPNET]);
  printf("  nepnet in memory: send path / raw AES seal  %6.3f   (the channel's own overhead, no socket)\n",
         m[R_MEM_SEND] / m[R_AES]);
  printf("  nepnet in memory: recv path / raw AES seal  %6.3f\n", m[R_MEM_RECV] / m[R_AES]);

  for (int k = 0; k < N_ROWS; k++) {
    free(gbs[k]);
    free(cs[k]);
    free(cr[k]);
  }
  SSL_CTX_free(tls_srv);
  SSL_CTX_free(tls_cli);
  SSL_CTX_free(tls_srv_ra);
  SSL_CTX_free(tls_cli_ra);
  nn_identity_free(id_i);
  nn_identity_free(id_r);
  return 0;
}
