/* STUN in a node: the server and the RFC 5780 client on the node's UDP port (stunnode.h). */
#include "node/stunnode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/clock.h"

#define DGRAM_MAX 1500
#define READS_PER_WAKEUP 32

struct nn_stunnode_t {
  struct event_base *base;
  nn_stunnode_cfg_t cfg;
  int fd;
  nn_addr_t bound;
  struct event *ev_rd, *ev_timer;
  nn_stunsrv_t *srv;
  nn_natdisc_t *disc;
  int reported;
};

static void
disc_send(void *ctx, const nn_addr_t *to, const uint8_t *msg, size_t len)
{
  nn_stunnode_t *s = ctx;
  struct sockaddr_storage ss;
  socklen_t sl;
  if (nn_addr_to_sockaddr(to, &ss, &sl))
    (void)sendto(s->fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
}

static void
report(nn_stunnode_t *s)
{
  nn_natdisc_result_t r;
  char m[NN_ADDR_STR_MAX], srv[NN_ADDR_STR_MAX];
  if (!s->disc || s->reported)
    return;
  nn_natdisc_result(s->disc, &r);
  if (r.state == NN_NATDISC_RUNNING)
    return;
  s->reported = 1;
  nn_addr_format(&r.mapped, m);
  nn_addr_format(&s->cfg.server, srv);
  if (r.state == NN_NATDISC_FAILED)
    nn_log(s->cfg.log, NN_LOG_WARN, "nat",
           "the STUN server %s did not answer in %llu ms: NAT type unknown (is it reachable over UDP? --stun-server)",
           srv, (unsigned long long)r.elapsed_ms);
  else
    nn_log(s->cfg.log, NN_LOG_INFO, "nat", "our UDP port maps to %s; mapping %s, filtering %s (STUN server %s)%s", m,
           nn_nat_mapping_name(r.mapping), nn_nat_filtering_name(r.filtering), srv,
           r.state == NN_NATDISC_PARTIAL ? "; the server has one address, so only the mapped address is known" : "");
}

static void
schedule(nn_stunnode_t *s)
{
  uint64_t dl, now = nn_mono_ms(), ms;
  nn_natdisc_result_t r;
  if (!s->disc)
    return;
  nn_natdisc_result(s->disc, &r);
  if (r.state != NN_NATDISC_RUNNING || !(dl = nn_natdisc_deadline(s->disc))) {
    report(s);
    return;
  }
  ms = dl > now ? dl - now : 0;
  struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
  evtimer_add(s->ev_timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
  nn_stunnode_t *s = arg;
  (void)fd;
  (void)what;
  nn_natdisc_tick(s->disc, nn_mono_ms());
  schedule(s);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
  nn_stunnode_t *s = arg;
  uint8_t buf[DGRAM_MAX], out[NN_STUNSRV_MAX_ANSWER];
  (void)what;
  for (int i = 0; i < READS_PER_WAKEUP; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    nn_addr_t from;
    ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
    if (n < 0)
      return;
    if (!nn_addr_from_sockaddr((struct sockaddr *)&ss, &from))
      continue;
    uint64_t now = nn_mono_ms();
    /* a response (class bits 0x0110 of the type) is for the client; the rest for the server */
    if (n >= 2 && (buf[0] & 0x01) && s->disc) {
      if (nn_natdisc_input(s->disc, &from, buf, (size_t)n, now))
        schedule(s);
      continue;
    }
    size_t olen = 0;
    unsigned sock = 0;
    if (s->srv && s->cfg.serve && nn_stunsrv_input(s->srv, 0, &from, buf, (size_t)n, now, out, &olen, &sock) && olen)
      (void)sendto(fd, out, olen, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
  }
}

nn_err_t
nn_stunnode_new(nn_stunnode_t **out, struct event_base *base, const nn_stunnode_cfg_t *cfg, char *why, size_t why_len)
{
  nn_stunnode_t *s;
  struct sockaddr_storage ss;
  socklen_t sl;
  char a[NN_ADDR_STR_MAX];
  nn_err_t e = NN_ERR_NOMEM;
  *out = NULL;
  nn_addr_format(&cfg->bind, a);
  if (!nn_addr_to_sockaddr(&cfg->bind, &ss, &sl)) {
    snprintf(why, why_len, "STUN needs an IP listen address, not %s", a);
    return NN_ERR_ARG;
  }
  if (!(s = calloc(1, sizeof(*s))))
    return NN_ERR_NOMEM;
  s->fd = -1;
  s->base = base;
  s->cfg = *cfg;
  if ((s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
      bind(s->fd, (struct sockaddr *)&ss, sl) < 0 ||
      (sl = sizeof(ss), getsockname(s->fd, (struct sockaddr *)&ss, &sl)) < 0) {
    snprintf(why, why_len, "cannot bind UDP %s for STUN: %s (another program on that UDP port? --stun 0 turns it off)",
             a, strerror(errno));
    nn_stunnode_free(s);
    return NN_ERR_IO;
  }
  nn_addr_from_sockaddr((struct sockaddr *)&ss, &s->bound);
  nn_stunsrv_cfg_t sc;
  nn_stunsrv_cfg_default(&sc);
  sc.addr[0] = s->bound;
  if ((e = nn_stunsrv_new(&s->srv, &sc)))
    goto fail;
  if (!(s->ev_rd = event_new(base, s->fd, EV_READ | EV_PERSIST, on_read, s)) ||
      !(s->ev_timer = evtimer_new(base, on_timer, s)) || event_add(s->ev_rd, NULL)) {
    e = NN_ERR_NOMEM;
    goto fail;
  }
  if (cfg->server.type) {
    nn_natdisc_cfg_t dc;
    nn_natdisc_io_t io = { disc_send, s };
    nn_natdisc_cfg_default(&dc);
    dc.server = cfg->server;
    dc.local = s->bound;
    if ((e = nn_natdisc_new(&s->disc, &dc, &io, nn_mono_ms())))
      goto fail;
    schedule(s);
  }
  *out = s;
  return NN_OK;
fail:
  snprintf(why, why_len, "cannot start STUN on %s: %s", a, nn_err_str(e));
  nn_stunnode_free(s);
  return e;
}

void
nn_stunnode_free(nn_stunnode_t *s)
{
  if (!s)
    return;
  if (s->ev_rd)
    event_free(s->ev_rd);
  if (s->ev_timer)
    event_free(s->ev_timer);
  if (s->fd >= 0)
    close(s->fd);
  nn_stunsrv_free(s->srv);
  nn_natdisc_free(s->disc);
  free(s);
}

void
nn_stunnode_serve(nn_stunnode_t *s, int on)
{
  s->cfg.serve = on;
}

void
nn_stunnode_status(const nn_stunnode_t *s, nn_stunnode_status_t *out)
{
  memset(out, 0, sizeof(*out));
  out->serving = s->cfg.serve;
  out->bound = s->bound;
  nn_stunsrv_stats(s->srv, &out->server);
  out->discovering = s->disc != NULL;
  out->discover_server = s->cfg.server;
  if (s->disc)
    nn_natdisc_result(s->disc, &out->result);
}
