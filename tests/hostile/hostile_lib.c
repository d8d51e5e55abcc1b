/* The hostile suite's tools (hostile.h). */
#define _GNU_SOURCE
#include "hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/api_client.h"
#include "dht/rpc.h"
#include "lib/hex.h"
#include "lib/wire.h"
#include "net/kinds.h"

uint64_t
hmono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
read_small(const char *path, char *out, size_t cap)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(out, 1, cap - 1, f);
  fclose(f);
  out[n] = 0;
  while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
    out[--n] = 0;
  return n ? 0 : -1;
}

int
hnode_api(const hnode_t *n, const char *method, const char *path, int with_token, char **body)
{
  int status = 0;
  uint8_t *resp = NULL;
  size_t rlen = 0;
  char why[256];
  if (body)
    *body = NULL;
  if (nn_api_client_request(n->api, with_token ? n->token : NULL, method, path, NULL, 0, NULL, &status, &resp, &rlen,
                            why, sizeof(why)) != NN_OK) {
    fprintf(stderr, "hostile: API %s %s: %s\n", method, path, why);
    return 0;
  }
  if (body)
    *body = (char *)resp;
  else
    free(resp);
  return status;
}

static int
read_identity(hnode_t *n)
{
  char *body = NULL;
  if (hnode_api(n, "GET", "/v1/status", 1, &body) != 200)
    return -1;
  json_error_t je;
  json_t *j = json_loads(body, 0, &je);
  free(body);
  const char *peer = j ? json_string_value(json_object_get(j, "peer")) : NULL;
  const char *at = peer ? strchr(peer, '@') : NULL;
  const char *colon = at ? strrchr(at, ':') : NULL;
  int rc = -1;
  if (at && colon && at - peer == 2 * NN_NODE_ID_LEN) {
    char hex[2 * NN_NODE_ID_LEN + 1];
    memcpy(hex, peer, 2 * NN_NODE_ID_LEN);
    hex[2 * NN_NODE_ID_LEN] = 0;
    n->port = (uint16_t)atoi(colon + 1);
    rc = nn_hex_decode(n->id.b, NN_NODE_ID_LEN, hex) == NN_OK && n->port ? 0 : -1;
  }
  json_decref(j);
  return rc;
}

int
hnode_start(hnode_t *n, const char *nepnetd, const char *const *extra)
{
  char path[512];
  memset(n, 0, sizeof(*n));
  snprintf(n->dir, sizeof(n->dir), "%s/nepnet-hostile-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(n->dir))
    return -1;
  const char *argv[64] = { nepnetd,       "--datadir", n->dir,        "--network",   "regtest", "--listen",
                           "127.0.0.1:0", "--api",     "127.0.0.1:0", "--log-level", "warn" };
  size_t argc = 11;
  for (size_t i = 0; extra && extra[i] && argc < 62; i++)
    argv[argc++] = extra[i];
  argv[argc] = NULL;
  snprintf(path, sizeof(path), "%s/log", n->dir);
  n->pid = fork();
  if (n->pid < 0)
    return -1;
  if (n->pid == 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(nepnetd, (char *const *)argv);
    _exit(127);
  }
  snprintf(path, sizeof(path), "%s/api.address", n->dir);
  for (int i = 0; i < 200 && read_small(path, n->api, sizeof(n->api)); i++)
    usleep(50000);
  snprintf(path, sizeof(path), "%s/api.token", n->dir);
  if (!n->api[0] || read_small(path, n->token, sizeof(n->token)) || read_identity(n)) {
    fprintf(stderr, "hostile: nepnetd did not come up (log: %s/log)\n", n->dir);
    hnode_stop(n);
    return -1;
  }
  return 0;
}

int
hnode_stop(hnode_t *n)
{
  int rc = -1;
  if (n->pid > 0) {
    int st = 0;
    kill(n->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
      if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
        n->pid = 0;
        rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        break;
      }
      usleep(50000);
    }
    if (n->pid > 0) {
      kill(n->pid, SIGKILL);
      waitpid(n->pid, &st, 0);
    }
    n->pid = 0;
  }
  if (rc != 0 && n->dir[0]) { /* keep what it said */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "tail -n 30 '%s/log' >&2", n->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "hostile: no log in %s\n", n->dir);
  }
  if (n->dir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", n->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "hostile: could not remove %s\n", n->dir);
    n->dir[0] = 0;
  }
  return rc;
}

size_t
hnode_mem_kib(const hnode_t *n, const char *field)
{
  char path[64], line[256];
  size_t v = 0, fl = strlen(field);
  snprintf(path, sizeof(path), "/proc/%d/status", (int)n->pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, field, fl)) {
      v = strtoul(line + fl, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

double
hnode_metric(const hnode_t *n, const char *name)
{
  char *body = NULL;
  double v = -1;
  size_t nl = strlen(name);
  if (hnode_api(n, "GET", "/metrics", 1, &body) != 200)
    return -1;
  for (char *l = body; l && *l;) {
    char *e = strchr(l, '\n');
    if (!strncmp(l, name, nl) && l[nl] == ' ') {
      v = strtod(l + nl + 1, NULL);
      break;
    }
    l = e ? e + 1 : NULL;
  }
  free(body);
  return v;
}

int
hconnect(const hnode_t *n, const char *src)
{
  struct sockaddr_in a, b;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  inet_pton(AF_INET, src, &a.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&b, 0, sizeof(b));
  b.sin_family = AF_INET;
  b.sin_port = htons(n->port);
  inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
  struct timeval tv = { 5, 0 };
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || connect(fd, (struct sockaddr *)&b, sizeof(b))) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void
on_msg(void *ctx, const uint8_t *msg, size_t len)
{
  hchan_t *h = ctx;
  h->received++;
  if (h->on_msg)
    h->on_msg(h, msg, len);
  if (h->keep && len <= sizeof(h->last)) {
    memcpy(h->last, msg, len);
    h->last_len = len;
  }
}

static void
on_ev(void *ctx, nn_chan_event_t ev)
{
  hchan_t *h = ctx;
  if (ev == NN_CHAN_EV_ESTABLISHED)
    h->established = 1;
  else if (ev == NN_CHAN_EV_CLOSED)
    h->closed = 1;
}

size_t
hchan_pending(const hchan_t *h)
{
  const uint8_t *p;
  size_t len = 0;
  if (h->c)
    nn_chan_output(h->c, &p, &len);
  return len;
}

/* Write what the socket takes now. */
static void
flush(hchan_t *h)
{
  const uint8_t *p;
  size_t len;
  while (h->c && !h->io_error) {
    nn_chan_output(h->c, &p, &len);
    if (!len)
      return;
    ssize_t w = send(h->fd, p, len, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        h->io_error = 1;
      return;
    }
    nn_chan_output_consume(h->c, (size_t)w);
  }
}

void
hchan_pump(hchan_t *h, int read, int ms, int (*until)(const hchan_t *h))
{
  uint64_t end = hmono_ms() + (uint64_t)ms;
  uint8_t buf[65536];
  for (;;) {
    flush(h);
    if ((until && until(h)) || h->io_error || hmono_ms() >= end)
      return;
    struct pollfd p = { h->fd, (short)((read ? POLLIN : 0) | (hchan_pending(h) ? POLLOUT : 0)), 0 };
    if (!p.events) {
      usleep(10000);
      continue;
    }
    if (poll(&p, 1, 20) <= 0)
      continue;
    if (read && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = recv(h->fd, buf, sizeof(buf), 0);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        h->io_error = 1;
        h->closed = 1;
        return;
      }
      if (r > 0 && nn_chan_recv(h->c, buf, (size_t)r, hmono_ms()) != NN_OK)
        h->closed = 1;
    }
  }
}

static int
est_or_closed(const hchan_t *h)
{
  return h->established || h->closed;
}

int
hchan_open(hchan_t *h, const hnode_t *n, const char *src, const nn_identity_t *id, int timeout_ms)
{
  nn_chan_config_t cfg;
  memset(h, 0, sizeof(*h));
  if ((h->fd = hconnect(n, src)) < 0)
    return -1;
  memset(&cfg, 0, sizeof(cfg));
  cfg.role = NN_CHAN_INITIATOR;
  cfg.network = NN_NET_REGTEST;
  cfg.identity = id;
  cfg.expected_peer = &n->id;
  cfg.on_message = on_msg;
  cfg.on_event = on_ev;
  cfg.ctx = h;
  if (nn_chan_new(&h->c, &cfg, hmono_ms()) != NN_OK) {
    close(h->fd);
    h->fd = -1;
    return -1;
  }
  hchan_pump(h, 1, timeout_ms, est_or_closed);
  return h->established && !h->closed ? 0 : -1;
}

int
hchan_send(hchan_t *h, const uint8_t *msg, size_t len)
{
  if (!h->c || nn_chan_send(h->c, msg, len) != NN_OK)
    return -1;
  flush(h);
  return 0;
}

void
hchan_close(hchan_t *h)
{
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
  nn_chan_free(h->c);
  h->c = NULL;
}

static int
got_pong(const hchan_t *h)
{
  nn_rpc_t m;
  return h->closed || (h->last_len && nn_rpc_decode(&m, h->last, h->last_len) == NN_OK && m.kind == NN_RPC_PONG);
}

int
hlegit_ping(const hnode_t *n, const char *src, const nn_identity_t *id)
{
  hchan_t h;
  nn_rpc_t m;
  uint8_t buf[256];
  nn_wire_writer_t w;
  int ok = 0, opened;
  uint64_t t0 = hmono_ms();
  if ((opened = hchan_open(&h, n, src, id, 10000) == 0)) {
    h.keep = 1;
    memset(&m, 0, sizeof(m));
    m.kind = NN_RPC_PING;
    m.id = 0x1234;
    nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
    if (nn_rpc_encode(&m, &w) == NN_OK && hchan_send(&h, buf, w.len) == 0) {
      hchan_pump(&h, 1, 10000, got_pong);
      ok = !h.closed && got_pong(&h);
    }
  }
  if (!ok)
    fprintf(stderr, "hostile: legitimate peer from %s failed %s after %llu ms (%s)\n", src,
            opened ? "waiting for its PONG" : "in the handshake", (unsigned long long)(hmono_ms() - t0),
            h.c && nn_chan_is_closed(h.c) ? nn_close_reason_str(nn_chan_close_reason(h.c))
            : h.io_error                  ? "connection closed without a close record"
                                          : "timeout");
  hchan_close(&h);
  return ok;
}
