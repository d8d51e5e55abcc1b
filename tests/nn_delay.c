/*
 * nn_delay: latency for the NAT tests, where netem is missing. Run inside a router's network
 * namespace with an iptables rule that hands the packets it forwards to NFQUEUE queue Q
 * (`iptables -A FORWARD -j NFQUEUE --queue-num Q --queue-bypass`): every packet is held DELAY_MS
 * and then let through, in arrival order, so each direction through the router gains DELAY_MS.
 * With --queue-bypass the router forwards undelayed once this program is gone.
 *
 *   nn_delay Q DELAY_MS [SECONDS]        (SECONDS: stop after, 0 = until killed; default 0)
 *
 * A test tool, not part of nepnet: it uses libnetfilter_queue (Debian's
 * libnetfilter-queue-dev), built only when that is found. If its ring of held packets is full,
 * a packet goes through at once (counted).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#define RING 65536

typedef struct held_t {
  uint32_t id;
  uint64_t due_us;
} held_t;

typedef struct state_t {
  struct nfq_q_handle *qh;
  held_t ring[RING];
  size_t head, n;
  uint64_t delay_us, passed, overflow;
} state_t;

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
  (void)sig;
  stop = 1;
}

static uint64_t
now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *arg)
{
  state_t *st = arg;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  (void)msg;
  if (!ph)
    return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (st->n == RING) {
    st->overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  held_t *h = &st->ring[(st->head + st->n) % RING];
  h->id = id;
  h->due_us = now_us() + st->delay_us;
  st->n++;
  return 0;
}

/* Let through what is due; returns the milliseconds until the next is (-1: none held). */
static int
release(state_t *st)
{
  uint64_t t = now_us();
  while (st->n && st->ring[st->head].due_us <= t) {
    (void)nfq_set_verdict(st->qh, st->ring[st->head].id, NF_ACCEPT, 0, NULL);
    st->head = (st->head + 1) % RING;
    st->n--;
    st->passed++;
  }
  if (!st->n)
    return -1;
  return (int)((st->ring[st->head].due_us - t + 999) / 1000);
}

int
main(int argc, char **argv)
{
  static state_t st;
  static char buf[65536] __attribute__((aligned));
  struct nfq_handle *h;
  struct sigaction sa;
  if (argc < 3) {
    fprintf(stderr, "usage: nn_delay QUEUE DELAY_MS [SECONDS]\n");
    return 2;
  }
  int q = atoi(argv[1]);
  st.delay_us = (uint64_t)strtoull(argv[2], NULL, 10) * 1000u;
  uint64_t end = argc > 3 && atoi(argv[3]) > 0 ? now_us() + (uint64_t)atoi(argv[3]) * 1000000u : 0;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  if (!(h = nfq_open()) || nfq_bind_pf(h, AF_INET) < 0 || !(st.qh = nfq_create_queue(h, (uint16_t)q, on_packet, &st)) ||
      nfq_set_mode(st.qh, NFQNL_COPY_META, 0) < 0) {
    fprintf(stderr, "nn_delay: cannot open NFQUEUE %d: %s (root, and the nfnetlink_queue module?)\n", q,
            strerror(errno));
    return 1;
  }
  (void)nfq_set_queue_maxlen(st.qh, RING);
  int fd = nfq_fd(h);
  printf("nn_delay: queue %d, %u ms each way\n", q, (unsigned)(st.delay_us / 1000));
  fflush(stdout);
  while (!stop && (!end || now_us() < end)) {
    int wait = release(&st);
    struct pollfd p = { fd, POLLIN, 0 };
    if (wait < 0 || wait > 100)
      wait = 100;
    if (poll(&p, 1, wait) > 0 && (p.revents & POLLIN)) {
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        nfq_handle_packet(h, buf, (int)n);
    }
  }
  while (st.n) { /* what is held goes through rather than be dropped */
    (void)nfq_set_verdict(st.qh, st.ring[st.head].id, NF_ACCEPT, 0, NULL);
    st.head = (st.head + 1) % RING;
    st.n--;
  }
  printf("nn_delay: %llu packets delayed, %llu let through at once (ring full)\n", (unsigned long long)st.passed,
         (unsigned long long)st.overflow);
  nfq_destroy_queue(st.qh);
  nfq_close(h);
  return 0;
}
