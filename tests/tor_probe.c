/*
 * The overlay cores against a real tor (issue 14): on a private Tor network (tor_privnet.sh),
 * client 0's control port authenticates (SAFECOOKIE, the cookie file read from disk) and
 * creates an onion service for a local echo listener; client 1 reaches it through its SOCKS
 * port with isolation credentials; then the control connection is dropped (the service goes),
 * a new one re-creates the service from the saved key, and the address is the same.
 *
 * usage: tor_probe ENV_FILE   (tor_privnet.sh's DIR/env); prints the times, exit 0 on success.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "overlay/socks5.h"
#include "overlay/torctl.h"

static char env_socks[600], env_control[600], env_cookie[600];

static double
now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
tcp_connect(const char *hostport)
{
  nn_addr_t a;
  struct sockaddr_storage ss;
  socklen_t sl;
  if (nn_addr_parse(&a, hostport) || !nn_addr_to_sockaddr(&a, &ss, &sl))
    return -1;
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, sl)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Serve one echo connection at a time from the listener \a lfd, for \a ms. */
static void
echo_for(int lfd, int *cfd, int ms)
{
  struct pollfd p[2] = { { lfd, POLLIN, 0 }, { *cfd, POLLIN, 0 } };
  if (poll(p, *cfd >= 0 ? 2 : 1, ms) <= 0)
    return;
  if (p[0].revents & POLLIN) {
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
      if (*cfd >= 0)
        close(*cfd);
      *cfd = fd;
    }
  }
  if (*cfd >= 0 && (p[1].revents & (POLLIN | POLLHUP))) {
    char b[256];
    ssize_t n = read(*cfd, b, sizeof(b));
    if (n <= 0) {
      close(*cfd);
      *cfd = -1;
    } else {
      (void)write(*cfd, b, (size_t)n);
    }
  }
}

/* Run the control exchange until the onion is up: its id into \a id, a new key into \a key. */
static int
control(int *fd, const char *key_in, int vport, int target, char id[64], char key[NN_TORCTL_MAX_KEY + 1], int lfd,
        int *cfd)
{
  nn_torctl_t *t;
  nn_torctl_event_t ev;
  char tgt[32];
  snprintf(tgt, sizeof(tgt), "127.0.0.1:%d", target);
  if ((*fd = tcp_connect(env_control)) < 0 || nn_torctl_new(&t, NULL))
    return -1;
  for (double t0 = now_s(); now_s() - t0 < 60;) {
    size_t n;
    const uint8_t *o = nn_torctl_output(t, &n);
    if (n) {
      ssize_t w = write(*fd, o, n);
      if (w > 0)
        nn_torctl_consume(t, (size_t)w);
    }
    struct pollfd p = { *fd, POLLIN, 0 };
    if (poll(&p, 1, 50) > 0) {
      uint8_t b[4096];
      ssize_t r = read(*fd, b, sizeof(b));
      if (r <= 0 || nn_torctl_input(t, b, (size_t)r)) {
        while (nn_torctl_event(t, &ev))
          fprintf(stderr, "control: %s\n", ev.text);
        return -1;
      }
    }
    echo_for(lfd, cfd, 0);
    while (nn_torctl_event(t, &ev)) {
      switch (ev.kind) {
      case NN_TORCTL_EV_NEED_COOKIE: {
        uint8_t c[64];
        FILE *f = fopen(ev.text, "rb");
        size_t cl = f ? fread(c, 1, sizeof(c), f) : 0;
        if (f)
          fclose(f);
        if (nn_torctl_cookie(t, c, cl))
          fprintf(stderr, "cookie %s: %zu bytes\n", ev.text, cl);
        break;
      }
      case NN_TORCTL_EV_READY:
        printf("control port: authenticated (Tor %s)\n", ev.text);
        (void)nn_torctl_add_onion(t, key_in, (uint16_t)vport, tgt);
        break;
      case NN_TORCTL_EV_ONION:
        snprintf(id, 64, "%.63s", ev.text);
        snprintf(key, NN_TORCTL_MAX_KEY + 1, "%s", ev.key);
        nn_torctl_free(t); /* the connection stays open: the service lives with it */
        return 0;
      default: fprintf(stderr, "control: event %d: %s\n", ev.kind, ev.text); return -1;
      }
    }
  }
  return -1;
}

/* One SOCKS5 stream to \a onion: "ping" echoed back. 0 on success; \a why on failure. */
static int
try_stream(const char *onion, int lfd, int *cfd, char *why, size_t wl)
{
  nn_socks5_t s;
  nn_addr_t to;
  char user[32], pass[32];
  int fd = tcp_connect(env_socks), rc = -1;
  snprintf(user, sizeof(user), "u%ld", random());
  snprintf(pass, sizeof(pass), "p%ld", random());
  if (fd < 0 || nn_addr_parse(&to, onion) || nn_socks5_start(&s, &to, user, pass)) {
    snprintf(why, wl, "no SOCKS connection");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  nn_socks5_status_t st = NN_SOCKS5_MORE;
  char got[8] = "";
  size_t gl = 0;
  int pinged = 0;
  for (double t0 = now_s(); now_s() - t0 < 30;) {
    size_t n;
    const uint8_t *o = nn_socks5_output(&s, &n);
    if (n && write(fd, o, n) == (ssize_t)n)
      nn_socks5_consume(&s, n);
    if (st == NN_SOCKS5_OPEN && !pinged)
      pinged = write(fd, "ping", 4) == 4;
    struct pollfd p = { fd, POLLIN, 0 };
    echo_for(lfd, cfd, 0);
    if (poll(&p, 1, 20) <= 0)
      continue;
    uint8_t b[512];
    ssize_t r = read(fd, b, sizeof(b));
    if (r <= 0) {
      snprintf(why, wl, "closed");
      break;
    }
    size_t used = 0;
    if (st == NN_SOCKS5_MORE)
      st = nn_socks5_input(&s, b, (size_t)r, &used);
    if (st == NN_SOCKS5_FAILED) {
      snprintf(why, wl, "%s", nn_socks5_why(&s));
      break;
    }
    for (size_t i = used; st == NN_SOCKS5_OPEN && i < (size_t)r && gl < 4; i++)
      got[gl++] = (char)b[i];
    if (gl == 4) {
      rc = memcmp(got, "ping", 4) ? -1 : 0;
      snprintf(why, wl, rc ? "wrong echo" : "ok");
      break;
    }
  }
  nn_socks5_clear(&s);
  close(fd);
  return rc;
}

static int
reach(const char *id, int lfd, int *cfd, double *secs)
{
  char onion[128], why[200] = "";
  snprintf(onion, sizeof(onion), "%s.onion:9800", id);
  double t0 = now_s();
  for (int attempt = 1; now_s() - t0 < 300; attempt++) {
    if (!try_stream(onion, lfd, cfd, why, sizeof(why))) {
      *secs = now_s() - t0;
      printf("  reached after %.1f s (attempt %d)\n", *secs, attempt);
      return 0;
    }
    printf("  attempt %d: %s\n", attempt, why);
    fflush(stdout);
    for (int i = 0; i < 20; i++)
      echo_for(lfd, cfd, 100);
  }
  return -1;
}

int
main(int argc, char **argv)
{
  char line[600];
  FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
  if (!f) {
    fprintf(stderr, "usage: tor_probe ENV_FILE (from tests/tor_privnet.sh)\n");
    return 2;
  }
  while (fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\n")] = 0;
    if (!strncmp(line, "TOR_SOCKS_1=", 12))
      snprintf(env_socks, sizeof(env_socks), "%s", line + 12);
    else if (!strncmp(line, "TOR_CONTROL_0=", 14))
      snprintf(env_control, sizeof(env_control), "%s", line + 14);
    else if (!strncmp(line, "TOR_COOKIE_0=", 13))
      snprintf(env_cookie, sizeof(env_cookie), "%s", line + 13);
  }
  fclose(f);
  srandom((unsigned)time(NULL));
  int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = -1, one = 1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof(a);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 8) || getsockname(lfd, (struct sockaddr *)&a, &al))
    return 1;
  char id[64], key[NN_TORCTL_MAX_KEY + 1], id2[64], key2[NN_TORCTL_MAX_KEY + 1];
  int ctl;
  double t0 = now_s(), secs = 0;
  if (control(&ctl, NULL, 9800, ntohs(a.sin_port), id, key, lfd, &cfd)) {
    fprintf(stderr, "FAIL: no onion service\n");
    return 1;
  }
  printf("onion service %s.onion created in %.2f s (new key: %s)\n", id, now_s() - t0, key[0] ? "yes" : "no");
  if (reach(id, lfd, &cfd, &secs)) {
    fprintf(stderr, "FAIL: %s.onion not reachable in 300 s\n", id);
    return 1;
  }
  printf("first stream through a new onion service: %.1f s after ADD_ONION\n", now_s() - t0);
  /* the service goes with its control connection; the saved key brings the same address back */
  close(ctl);
  t0 = now_s();
  if (control(&ctl, key, 9800, ntohs(a.sin_port), id2, key2, lfd, &cfd)) {
    fprintf(stderr, "FAIL: no onion service from the saved key\n");
    return 1;
  }
  printf("re-created from the saved key: %s.onion (same address: %s; key returned again: %s)\n", id2,
         strcmp(id, id2) ? "NO" : "yes", key2[0] ? "yes" : "no");
  if (strcmp(id, id2) || key2[0] || reach(id2, lfd, &cfd, &secs)) {
    fprintf(stderr, "FAIL: the saved key did not bring the same, reachable address back\n");
    return 1;
  }
  close(ctl);
  printf("PASS\n");
  return 0;
}
