/*
 * The SAM v3.1 core against real i2pd routers (issue 14): on a private I2P network
 * (i2p_privnet.sh), router 0's SAM bridge holds a persistent session (a new key) and accepts a
 * stream; router 1's holds a transient session, looks the first one's .b32.i2p name up, and
 * connects; "ping" goes across and comes back.
 *
 * usage: sam_probe ENV_FILE   (i2p_privnet.sh's DIR/env); prints the times, exit 0 on success.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "overlay/sam.h"

static char sam0[700], sam1[700];

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

typedef struct sock_t {
  int fd;
  nn_sam_t *s;
  nn_sam_status_t st;
  uint8_t extra[256]; /* stream bytes that came behind the reply */
  size_t extra_len;
} sock_t;

static int
sock_open(sock_t *k, const char *at, const nn_sam_cfg_t *cfg)
{
  memset(k, 0, sizeof(*k));
  k->fd = tcp_connect(at);
  return k->fd < 0 || nn_sam_new(&k->s, cfg) ? -1 : 0;
}

/* Pump one socket for up to \a ms: send what the core holds, feed what the router says. */
static void
pump(sock_t *k, int ms)
{
  size_t n, used;
  const uint8_t *o = nn_sam_output(k->s, &n);
  if (n) {
    ssize_t w = write(k->fd, o, n);
    if (w > 0)
      nn_sam_consume(k->s, (size_t)w);
  }
  struct pollfd p = { k->fd, POLLIN, 0 };
  if (poll(&p, 1, ms) <= 0)
    return;
  uint8_t b[70000];
  ssize_t r = read(k->fd, b, sizeof(b));
  if (r <= 0) {
    k->st = NN_SAM_FAILED;
    return;
  }
  k->st = nn_sam_input(k->s, b, (size_t)r, &used);
  if (k->st == NN_SAM_READY && used < (size_t)r && (size_t)r - used <= sizeof(k->extra)) {
    memcpy(k->extra, b + used, (size_t)r - used);
    k->extra_len = (size_t)r - used;
  }
}

static void
sock_close(sock_t *k)
{
  nn_sam_free(k->s);
  if (k->fd >= 0)
    close(k->fd);
  k->s = NULL;
  k->fd = -1;
}

static int
wait_for(sock_t *k, nn_sam_status_t want, double secs, sock_t *also)
{
  for (double t0 = now_s(); now_s() - t0 < secs;) {
    pump(k, 20);
    if (also)
      pump(also, 0);
    if (k->st == want)
      return 0;
    if (k->st == NN_SAM_FAILED) {
      fprintf(stderr, "SAM: %s\n", nn_sam_why(k->s));
      return -1;
    }
  }
  fprintf(stderr, "SAM: no answer in %.0f s\n", secs);
  return -1;
}

int
main(int argc, char **argv)
{
  char line[700];
  FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
  if (!f) {
    fprintf(stderr, "usage: sam_probe ENV_FILE (from tests/i2p_privnet.sh)\n");
    return 2;
  }
  while (fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\n")] = 0;
    if (!strncmp(line, "SAM_0=", 6))
      snprintf(sam0, sizeof(sam0), "%s", line + 6);
    else if (!strncmp(line, "SAM_1=", 6))
      snprintf(sam1, sizeof(sam1), "%s", line + 6);
  }
  fclose(f);
  sock_t a, acc, b, con;
  nn_sam_cfg_t ca = { NN_SAM_SESSION, "nnA", NULL, 0, 0, NULL };
  nn_sam_cfg_t cb = { NN_SAM_SESSION, "nnB", NULL, 1, 0, NULL };
  double t0 = now_s();
  if (sock_open(&a, sam0, &ca) || sock_open(&b, sam1, &cb)) {
    fprintf(stderr, "FAIL: no SAM bridge\n");
    return 1;
  }
  /* both sessions at once: i2pd answers SESSION CREATE once the tunnels are up (20-60 s) */
  for (double t = now_s(); now_s() - t < 180 && (a.st != NN_SAM_READY || b.st != NN_SAM_READY);) {
    if (a.st != NN_SAM_READY)
      pump(&a, 10);
    if (b.st != NN_SAM_READY)
      pump(&b, 10);
    if (a.st == NN_SAM_FAILED || b.st == NN_SAM_FAILED) {
      fprintf(stderr, "FAIL: %s / %s\n", nn_sam_why(a.s), nn_sam_why(b.s));
      return 1;
    }
  }
  if (a.st != NN_SAM_READY || b.st != NN_SAM_READY) {
    fprintf(stderr, "FAIL: sessions not up in 180 s\n");
    return 1;
  }
  char name[NN_ADDR_STR_MAX];
  nn_addr_format(nn_sam_addr(a.s), name);
  name[strcspn(name, ":")] = 0;
  printf("sessions up in %.1f s: A %s (new key: %s, %zu chars), B transient\n", now_s() - t0, name,
         nn_sam_generated(a.s) ? "yes" : "no", strlen(nn_sam_priv(a.s)));
  /* A accepts */
  nn_sam_cfg_t cacc = { NN_SAM_ACCEPT, "nnA", NULL, 0, 0, NULL };
  if (sock_open(&acc, sam0, &cacc)) {
    fprintf(stderr, "FAIL: no SAM bridge for STREAM ACCEPT\n");
    return 1;
  }
  /* B looks A up (the LeaseSet may lag the session by up to 40 s) */
  double tl = now_s();
  int found = 0;
  while (!found && now_s() - tl < 120) {
    if (nn_sam_lookup(b.s, name) || wait_for(&b, NN_SAM_LOOKED_UP, 30, &acc))
      return 1;
    found = nn_sam_lookup_dest(b.s)[0] != 0;
    b.st = NN_SAM_READY;
    if (!found) {
      printf("  lookup: %s, again\n", nn_sam_result(b.s));
      sleep(2);
    }
  }
  if (!found) {
    fprintf(stderr, "FAIL: %s not found in 120 s\n", name);
    return 1;
  }
  printf("lookup of A from B: %.1f s\n", now_s() - tl);
  char dest[NN_SAM_MAX_DEST + 1];
  snprintf(dest, sizeof(dest), "%s", nn_sam_lookup_dest(b.s));
  nn_sam_cfg_t ccon = { NN_SAM_CONNECT, "nnB", NULL, 0, 0, dest };
  double tc = now_s();
  if (sock_open(&con, sam1, &ccon) || wait_for(&con, NN_SAM_READY, 60, &acc)) {
    fprintf(stderr, "FAIL: STREAM CONNECT\n");
    return 1;
  }
  if (write(con.fd, "ping", 4) != 4 || wait_for(&acc, NN_SAM_READY, 60, NULL)) {
    fprintf(stderr, "FAIL: A accepted nothing\n");
    return 1;
  }
  char peer[NN_ADDR_STR_MAX];
  nn_addr_format(nn_sam_addr(acc.s), peer);
  /* A echoes what it got (bytes behind the destination line first) */
  uint8_t got[8];
  size_t gl = acc.extra_len < 4 ? acc.extra_len : 4;
  memcpy(got, acc.extra, gl);
  while (gl < 4) {
    struct pollfd p = { acc.fd, POLLIN, 0 };
    if (poll(&p, 1, 30000) <= 0)
      break;
    ssize_t r = read(acc.fd, got + gl, 4 - gl);
    if (r <= 0)
      break;
    gl += (size_t)r;
  }
  if (gl != 4 || memcmp(got, "ping", 4) || write(acc.fd, got, 4) != 4) {
    fprintf(stderr, "FAIL: A did not get the ping\n");
    return 1;
  }
  gl = con.extra_len < 4 ? con.extra_len : 4;
  memcpy(got, con.extra, gl);
  while (gl < 4) {
    struct pollfd p = { con.fd, POLLIN, 0 };
    if (poll(&p, 1, 30000) <= 0)
      break;
    ssize_t r = read(con.fd, got + gl, 4 - gl);
    if (r <= 0)
      break;
    gl += (size_t)r;
  }
  if (gl != 4 || memcmp(got, "ping", 4)) {
    fprintf(stderr, "FAIL: B got no echo\n");
    return 1;
  }
  printf("stream B -> A (A sees %s): connect and echo in %.2f s\n", peer, now_s() - tc);
  sock_close(&con);
  sock_close(&acc);
  sock_close(&b);
  sock_close(&a);
  printf("PASS\n");
  return 0;
}
