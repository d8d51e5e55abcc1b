/* Tor in a node (tornode.h): the control connection, the onion service and the "tor" transport. */
#include "node/tornode.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>

#include "crypto/rand.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "net/transport.h"
#include "node/bevstream.h"
#include "node/redial.h"
#include "overlay/socks5.h"

#define CTL_OUT_CAP (64u * 1024)
#define KEY_PREFIX "ED25519-V3:"

typedef struct tstream_t {
  nn_bevstream_t bs; /* first: the manager's view and the bufferevent */
  struct nn_tornode_t *t;
  struct tstream_t *next;
  nn_socks5_t *socks; /* during the SOCKS exchange only */
} tstream_t;

struct nn_tornode_t {
  nn_transport_t base; /* first: the manager's view */
  nn_net_t *net;
  struct event_base *evb;
  const nn_log_t *log;
  nn_tornode_cfg_t cfg;
  char *key_file;
  char key[NN_TORCTL_MAX_KEY + 1]; /* the service's key, once known ("" : none yet) */
  nn_torctl_t *tc;
  struct bufferevent *ctl;
  nn_redial_t redial;
  struct evconnlistener *lis;
  uint16_t target_port;
  uint64_t start_ms;
  tstream_t *streams;
  unsigned nstreams;
  int detached, ctl_up, last_rep;
  nn_addr_t onion;
  nn_bevstream_stats_t st;
  nn_tornode_status_t s; /* the counters and texts the status reports */
};

static void tlog(nn_tornode_t *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
tlog(nn_tornode_t *t, int level, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  if (!nn_log_enabled(t->log, level))
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  nn_log(t->log, level, "tor", "%s", line);
}

nn_addr_t
nn_tornode_inbound_addr(void)
{
  static const uint8_t zero[32];
  return nn_addr_overlay(NN_ADDR_ONION, zero, 0);
}

/* ---- streams ---- */

static void
stream_release(nn_bevstream_t *bs)
{
  tstream_t *s = (tstream_t *)bs;
  nn_tornode_t *t = s->t;
  for (tstream_t **p = &t->streams; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  t->nstreams--;
  if (s->socks) {
    nn_socks5_clear(s->socks);
    free(s->socks);
  }
  free(s);
}

static void
socks_flush(tstream_t *s)
{
  size_t n;
  const uint8_t *o = nn_socks5_output(s->socks, &n);
  if (n && bufferevent_write(s->bs.bev, o, n) == 0)
    nn_socks5_consume(s->socks, n);
}

static void
stream_connected(nn_bevstream_t *bs)
{
  tstream_t *s = (tstream_t *)bs;
  if (s->socks)
    socks_flush(s);
}

static int
socks_errno(int rep)
{
  switch (rep) {
  case NN_SOCKS5_REFUSED: return ECONNREFUSED;
  case NN_SOCKS5_NET_UNREACHABLE: return ENETUNREACH;
  case NN_SOCKS5_TTL_EXPIRED:
  case NN_SOCKS5_TOR_HS_INTRO_TIMEOUT: return ETIMEDOUT;
  case NN_SOCKS5_HOST_UNREACHABLE:
  case NN_SOCKS5_TOR_HS_DESC_NOT_FOUND:
  case NN_SOCKS5_TOR_HS_DESC_INVALID:
  case NN_SOCKS5_TOR_HS_INTRO_FAILED:
  case NN_SOCKS5_TOR_HS_REND_FAILED:
  case NN_SOCKS5_TOR_HS_BAD_ADDRESS: return EHOSTUNREACH;
  default: return ECONNABORTED; /* the proxy, not the peer */
  }
}

/* tor's answers to our SOCKS requests; once it says OPEN the rest are the peer's bytes */
static void
stream_exchange(nn_bevstream_t *bs, struct evbuffer *in)
{
  tstream_t *s = (tstream_t *)bs;
  nn_tornode_t *t = s->t;
  size_t len = evbuffer_get_length(in), used = 0;
  const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
  if (!s->socks || !p)
    return;
  nn_socks5_status_t st = nn_socks5_input(s->socks, p, len, &used);
  evbuffer_drain(in, used);
  if (st == NN_SOCKS5_MORE) {
    socks_flush(s);
    return;
  }
  if (st == NN_SOCKS5_OPEN) {
    nn_socks5_clear(s->socks);
    free(s->socks);
    s->socks = NULL;
    nn_bevstream_opened(bs);
    return;
  }
  char a[NN_ADDR_STR_MAX];
  int rep = s->socks->reply;
  nn_addr_format(&bs->base.peer, a);
  snprintf(t->s.last_socks, sizeof(t->s.last_socks), "%s: %s", a, nn_socks5_why(s->socks));
  if (rep >= NN_SOCKS5_TOR_HS_DESC_NOT_FOUND)
    t->s.socks_fail_onion++;
  else
    t->s.socks_fail_other++;
  /* the first failure of a kind is worth a line; repeats are routine on an overlay */
  tlog(t, rep != t->last_rep ? NN_LOG_INFO : NN_LOG_DEBUG, "no stream to %s through tor: %s", a,
       nn_socks5_why(s->socks));
  t->last_rep = rep;
  nn_bevstream_end(bs, NN_STREAM_REFUSED, socks_errno(rep));
}

static const nn_bevstream_ops_t stream_ops = { stream_connected, stream_exchange, stream_release };

static tstream_t *
stream_new(nn_tornode_t *t, const nn_addr_t *peer, int inbound)
{
  tstream_t *s;
  if (t->nstreams >= NN_TORNODE_MAX_STREAMS || !(s = calloc(1, sizeof(*s))))
    return NULL;
  if (nn_bevstream_init(&s->bs, &t->base, t->evb, &stream_ops, &t->st, peer, inbound, NN_TORNODE_IN_CAP,
                        NN_TORNODE_OUT_CAP)) {
    free(s);
    return NULL;
  }
  s->t = t;
  s->next = t->streams;
  t->streams = s;
  t->nstreams++;
  return s;
}

/* A stream in through our onion service: tor connected to our target listener. */
static void
on_target_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
  nn_tornode_t *t = arg;
  nn_addr_t peer = nn_tornode_inbound_addr();
  tstream_t *s;
  (void)l;
  (void)sa;
  (void)salen;
  if (t->detached || !(s = stream_new(t, &peer, 1))) {
    struct linger lg = { 1, 0 };
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    evutil_closesocket(fd);
    t->s.refused_full++;
    return;
  }
  if (!nn_bevstream_adopt(&s->bs, fd)) {
    s->bs.closed = 1;
    nn_bevstream_release(&s->bs);
    return;
  }
  nn_bevstream_opened(&s->bs); /* host.accept from the loop */
}

/* ---- the onion service's key ---- */

static int
key_valid(const char *k, size_t len)
{
  size_t pl = strlen(KEY_PREFIX);
  if (len <= pl || len > NN_TORCTL_MAX_KEY || memcmp(k, KEY_PREFIX, pl))
    return 0;
  for (size_t i = pl; i < len; i++)
    if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '+' ||
          k[i] == '/' || k[i] == '='))
      return 0;
  return 1;
}

/* The saved key: NN_OK with t->key set, NN_ERR_NOTFOUND (none yet), or an error in \a why. */
static nn_err_t
key_load(nn_tornode_t *t, char *why, size_t why_len)
{
  uint8_t buf[NN_TORCTL_MAX_KEY + 2];
  size_t len = 0;
  nn_err_t e = nn_file_read_private(t->key_file, buf, sizeof(buf), &len);
  if (e == NN_ERR_NOTFOUND)
    return e;
  if (e == NN_ERR_PERM)
    snprintf(why, why_len, "onion key file %s is readable by others: chmod 600 %s (or delete it for a new address)",
             t->key_file, t->key_file);
  else if (e)
    snprintf(why, why_len, "cannot read onion key file %s: %s", t->key_file, nn_err_str(e));
  else {
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
      len--;
    if (!key_valid((const char *)buf, len)) {
      snprintf(why, why_len, "onion key file %s does not hold an ED25519-V3 key: delete it for a new address",
               t->key_file);
      e = NN_ERR_FORMAT;
    } else {
      memcpy(t->key, buf, len);
      t->key[len] = 0;
    }
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return e;
}

/* ---- the control connection ---- */

static void ctl_close(nn_tornode_t *t, const char *why);

static void
ctl_flush(nn_tornode_t *t)
{
  size_t n;
  const uint8_t *o = nn_torctl_output(t->tc, &n);
  if (!n || !t->ctl)
    return;
  if (evbuffer_get_length(bufferevent_get_output(t->ctl)) + n > CTL_OUT_CAP || bufferevent_write(t->ctl, o, n) < 0) {
    ctl_close(t, "cannot queue a command for the control port");
    return;
  }
  nn_torctl_consume(t->tc, n);
}

static void
read_cookie(nn_tornode_t *t, const char *path)
{
  uint8_t c[NN_TORCTL_COOKIE_LEN + 1];
  size_t n = 0;
  FILE *f = fopen(path, "rb");
  if (f) {
    n = fread(c, 1, sizeof(c), f);
    fclose(f);
  }
  if (!f || nn_torctl_cookie(t->tc, c, n) != NN_OK) {
    char why[300];
    snprintf(why, sizeof(why),
             "cannot use tor's cookie file %s (%s): run nepnetd as a user that may read it "
             "(the debian-tor group), or set tor-password-file",
             path, f ? "not 32 bytes" : strerror(errno));
    OPENSSL_cleanse(c, sizeof(c));
    ctl_close(t, why);
    return;
  }
  OPENSSL_cleanse(c, sizeof(c));
}

static void
start_service(nn_tornode_t *t)
{
  char target[32];
  snprintf(target, sizeof(target), "127.0.0.1:%u", t->target_port);
  if (nn_torctl_add_onion(t->tc, t->key[0] ? t->key : NULL, t->cfg.vport, target) != NN_OK)
    ctl_close(t, "cannot ask for the onion service");
}

static void
got_onion(nn_tornode_t *t, nn_torctl_event_t *ev)
{
  char as[NN_ADDR_STR_MAX + 8];
  nn_addr_t a;
  snprintf(as, sizeof(as), "%.56s.onion:%u", ev->text, t->cfg.vport);
  if (strlen(ev->text) != 56 || nn_addr_parse(&a, as) != NN_OK) {
    ctl_close(t, "tor named an onion service that is not a v3 address");
    return;
  }
  if (ev->key[0]) {
    size_t kl = strlen(ev->key);
    if (!key_valid(ev->key, kl) || nn_file_write_private(t->key_file, (const uint8_t *)ev->key, kl) != NN_OK) {
      tlog(t, NN_LOG_WARN, "cannot save the onion service's key in %s (%s): the address will change on restart",
           t->key_file, strerror(errno));
    } else {
      memcpy(t->key, ev->key, kl + 1);
    }
  }
  t->onion = a;
  nn_redial_reset(&t->redial);
  if (!t->s.onion_ms)
    t->s.onion_ms = nn_mono_ms() - t->start_ms;
  tlog(t, NN_LOG_INFO, "onion service %s is up (%s key, kept in %s), forwarding to 127.0.0.1:%u", as,
       ev->key[0] ? "a new" : "the saved", t->key_file, t->target_port);
  if (t->cfg.on_onion)
    t->cfg.on_onion(t->cfg.ctx, &t->onion);
}

static void
ctl_events(nn_tornode_t *t)
{
  nn_torctl_event_t ev;
  while (t->tc && nn_torctl_event(t->tc, &ev)) {
    switch (ev.kind) {
    case NN_TORCTL_EV_NEED_COOKIE: read_cookie(t, ev.text); break;
    case NN_TORCTL_EV_READY:
      t->ctl_up = 1;
      if (!t->cfg.onion)
        nn_redial_reset(&t->redial); /* else once the service is up: a refusal backs off */
      t->s.why[0] = 0;
      snprintf(t->s.version, sizeof(t->s.version), "%s", ev.text);
      tlog(t, NN_LOG_INFO, "tor %s: control port authenticated", ev.text);
      if (!t->cfg.socks.type && nn_torctl_get_socks(t->tc) != NN_OK)
        ctl_close(t, "cannot ask for tor's SOCKS port");
      else if (t->cfg.onion)
        start_service(t);
      break;
    case NN_TORCTL_EV_ONION: got_onion(t, &ev); break;
    case NN_TORCTL_EV_SOCKS:
      if (!ev.text[0] || nn_addr_parse(&t->cfg.socks, ev.text) != NN_OK) {
        t->cfg.socks.type = 0;
        snprintf(t->s.why, sizeof(t->s.why),
                 "tor has no SOCKS listener on a numeric address (got '%.60s'): "
                 "set SocksPort in torrc or tor-socks",
                 ev.text);
        tlog(t, NN_LOG_WARN, "%s", t->s.why);
      } else {
        tlog(t, NN_LOG_INFO, "using tor's SOCKS port %s", ev.text);
      }
      break;
    case NN_TORCTL_EV_ONION_FAILED: {
      /* asked again on a new connection, with backoff (a service a dead connection still
       * holds is gone by then) */
      char why[200];
      snprintf(why, sizeof(why), "tor refused the onion service (%d %.120s)", ev.code, ev.text);
      ctl_close(t, why);
      break;
    }
    case NN_TORCTL_EV_FAILED: ctl_close(t, ev.text); break;
    }
    OPENSSL_cleanse(&ev, sizeof(ev));
  }
  if (t->tc)
    ctl_flush(t);
}

static void
ctl_close(nn_tornode_t *t, const char *why)
{
  char a[NN_ADDR_STR_MAX];
  if (t->ctl)
    bufferevent_free(t->ctl);
  t->ctl = NULL;
  nn_torctl_free(t->tc);
  t->tc = NULL;
  t->ctl_up = 0;
  if (why) {
    nn_addr_format(&t->cfg.control, a);
    snprintf(t->s.why, sizeof(t->s.why), "control port %s: %s", a, why);
  }
  if (t->onion.type) {
    t->onion.type = 0;
    if (t->cfg.on_onion)
      t->cfg.on_onion(t->cfg.ctx, NULL);
  }
  if (t->detached)
    return;
  tlog(t, NN_LOG_WARN, "%s; trying again in %.1f s", t->s.why, (double)nn_redial_schedule(&t->redial) / 1000);
}

static void
on_ctl_read(struct bufferevent *bev, void *arg)
{
  nn_tornode_t *t = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
  if (!p || !t->tc)
    return;
  nn_err_t e = nn_torctl_input(t->tc, p, len);
  evbuffer_drain(in, len);
  ctl_events(t); /* a FAILED event among them closes the connection */
  if (e != NN_OK && t->tc)
    ctl_close(t, "the control port broke the protocol");
}

static void
on_ctl_event(struct bufferevent *bev, short what, void *arg)
{
  nn_tornode_t *t = arg;
  (void)bev;
  if (what & BEV_EVENT_CONNECTED) {
    t->s.ctl_connects++;
    ctl_flush(t);
    return;
  }
  ctl_close(t, what & BEV_EVENT_EOF ? "tor closed the connection"
                                    : "cannot connect (is tor running, with ControlPort set to this address?)");
}

static void
ctl_open(nn_tornode_t *t)
{
  nn_torctl_cfg_t tc = { t->cfg.password[0] ? t->cfg.password : NULL, NULL };
  if (t->detached || t->ctl)
    return;
  if (nn_torctl_new(&t->tc, &tc) != NN_OK ||
      !(t->ctl = nn_redial_connect(t->evb, &t->cfg.control, on_ctl_read, on_ctl_event, t)))
    ctl_close(t, "cannot connect");
}

static void
on_redial(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  ctl_open(arg);
}

/* ---- the transport ---- */

static int
tr_can_dial(nn_transport_t *bt, const nn_addr_t *a)
{
  nn_tornode_t *t = (nn_tornode_t *)bt;
  if (t->detached || !t->cfg.socks.type)
    return 0;
  if (a->type == NN_ADDR_ONION)
    return a->port != 0 && (!t->onion.type || !nn_addr_same_host(a, &t->onion));
  return t->cfg.all && (a->type == NN_ADDR_IPV4 || a->type == NN_ADDR_IPV6) && !nn_addr_equal(a, &t->cfg.socks) &&
         !nn_addr_equal(a, &t->cfg.control);
}

static nn_err_t
tr_dial(nn_transport_t *bt, const nn_addr_t *to, const nn_node_id_t *id, nn_stream_t **out)
{
  nn_tornode_t *t = (nn_tornode_t *)bt;
  struct sockaddr_storage ss;
  socklen_t sl;
  uint8_t cred[16];
  char user[17], pass[17];
  unsigned exchanging = 0;
  tstream_t *s;
  (void)id;
  *out = NULL;
  if (!tr_can_dial(bt, to))
    return NN_ERR_ARG;
  for (tstream_t *o = t->streams; o; o = o->next)
    exchanging += o->socks != NULL;
  if (exchanging >= NN_TORNODE_MAX_SOCKS || !nn_addr_to_sockaddr(&t->cfg.socks, &ss, &sl) ||
      !(s = stream_new(t, to, 0))) {
    errno = EMFILE;
    return NN_ERR_IO;
  }
  /* fresh credentials: tor's IsolateSOCKSAuth puts this stream on a circuit of its own */
  if (nn_rng_fill(NULL, cred, sizeof(cred)) != NN_OK || !(s->socks = calloc(1, sizeof(*s->socks)))) {
    s->bs.closed = 1;
    nn_bevstream_release(&s->bs);
    errno = ENOMEM;
    return NN_ERR_IO;
  }
  nn_hex_encode(user, cred, 8);
  nn_hex_encode(pass, cred + 8, 8);
  nn_err_t e = nn_socks5_start(s->socks, to, user, pass);
  OPENSSL_cleanse(cred, sizeof(cred));
  if (e != NN_OK || !nn_bevstream_connect(&s->bs, (struct sockaddr *)&ss, sl)) {
    s->bs.closed = 1;
    nn_bevstream_release(&s->bs);
    errno = e ? EINVAL : ECONNREFUSED;
    return NN_ERR_IO;
  }
  *out = &s->bs.base;
  return NN_OK;
}

static nn_err_t
tr_listen(nn_transport_t *bt, const char *bind, nn_addr_t *bound, char *why, size_t why_len)
{
  (void)bt;
  (void)bind;
  (void)bound;
  if (why)
    snprintf(why, why_len, "the tor transport is reached through our onion service (onion = 1), not a listen address");
  return NN_ERR_ARG;
}

static void
detach(nn_tornode_t *t)
{
  if (t->detached)
    return;
  t->detached = 1;
  if (t->ctl)
    bufferevent_free(t->ctl);
  t->ctl = NULL;
  nn_torctl_free(t->tc);
  t->tc = NULL;
  nn_redial_free(&t->redial);
  if (t->lis)
    evconnlistener_free(t->lis);
  t->lis = NULL;
}

static void
tr_free(nn_transport_t *bt)
{
  nn_tornode_t *t = (nn_tornode_t *)bt;
  detach(t);
  while (t->streams)
    nn_bevstream_release(&t->streams->bs);
  free(t->key_file);
  OPENSSL_cleanse(t->key, sizeof(t->key));
  OPENSSL_cleanse(&t->cfg, sizeof(t->cfg));
  free(t);
}

/* ---- life ---- */

static nn_err_t
target_listen(nn_tornode_t *t, char *why, size_t why_len)
{
  struct sockaddr_in sin;
  socklen_t sl = sizeof(sin);
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  t->lis = evconnlistener_new_bind(t->evb, on_target_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
                                   (struct sockaddr *)&sin, sizeof(sin));
  if (!t->lis || getsockname(evconnlistener_get_fd(t->lis), (struct sockaddr *)&sin, &sl) < 0) {
    snprintf(why, why_len, "cannot listen on 127.0.0.1 for our onion service: %s", strerror(errno));
    return NN_ERR_IO;
  }
  t->target_port = ntohs(sin.sin_port);
  return NN_OK;
}

static nn_err_t
check_cfg(const nn_tornode_cfg_t *cfg, char *why, size_t why_len)
{
  if (cfg->control.type && cfg->control.type != NN_ADDR_IPV4 && cfg->control.type != NN_ADDR_IPV6) {
    snprintf(why, why_len, "tor-control must be a numeric HOST:PORT");
    return NN_ERR_ARG;
  }
  if (cfg->socks.type && cfg->socks.type != NN_ADDR_IPV4 && cfg->socks.type != NN_ADDR_IPV6) {
    snprintf(why, why_len, "tor-socks must be a numeric HOST:PORT");
    return NN_ERR_ARG;
  }
  if (!cfg->control.type && !cfg->socks.type) {
    snprintf(why, why_len, "tor needs tor-socks or tor-control (which tells the SOCKS port)");
    return NN_ERR_ARG;
  }
  if (cfg->onion && (!cfg->control.type || !cfg->key_file || !cfg->vport)) {
    snprintf(why, why_len, "an onion service needs tor-control (ADD_ONION), a key file and a port");
    return NN_ERR_ARG;
  }
  return NN_OK;
}

nn_err_t
nn_tornode_new(nn_tornode_t **out, nn_net_t *net, const nn_tornode_cfg_t *cfg, char *why, size_t why_len)
{
  nn_tornode_t *t;
  nn_err_t e;
  char dummy[8];
  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  *out = NULL;
  if ((e = check_cfg(cfg, why, why_len)))
    return e;
  if (!(t = calloc(1, sizeof(*t))))
    return NN_ERR_NOMEM;
  t->net = net;
  t->evb = nn_net_base(net);
  t->cfg = *cfg;
  t->log = cfg->log ? cfg->log : nn_net_log(net);
  t->start_ms = nn_mono_ms();
  t->last_rep = -1;
  e = NN_ERR_NOMEM;
  if ((cfg->key_file && !(t->key_file = strdup(cfg->key_file))) ||
      nn_redial_init(&t->redial, t->evb, on_redial, t, 1000, 150, NN_TORNODE_BACKOFF_MAX_MS))
    goto fail;
  if (cfg->onion) {
    e = key_load(t, why, why_len);
    if (e == NN_ERR_NOTFOUND)
      e = NN_OK;
    if (e || (e = target_listen(t, why, why_len)))
      goto fail;
  }
  t->base.name = "tor";
  t->base.peer_addrs = 0; /* every onion stream comes from the local tor */
  t->base.overlay = 1;
  t->base.handshake_timeout_ms = 60000; /* SOCKS, the rendezvous and the handshake over six hops */
  t->base.can_dial = tr_can_dial;
  t->base.dial = tr_dial;
  t->base.listen = tr_listen;
  t->base.write = nn_bevstream_write;
  t->base.want = nn_bevstream_want;
  t->base.shutdown = nn_bevstream_shutdown;
  t->base.close = nn_bevstream_close;
  t->base.free = tr_free;
  e = cfg->all ? nn_net_add_transport_first(net, &t->base) : nn_net_add_transport(net, &t->base);
  if (e)
    return e; /* the manager freed it */
  if (cfg->control.type)
    ctl_open(t);
  *out = t;
  return NN_OK;
fail:
  if (!why[0])
    snprintf(why, why_len, "cannot start tor: %s", nn_err_str(e));
  tr_free(&t->base);
  return e;
}

void
nn_tornode_free(nn_tornode_t *t)
{
  if (t)
    detach(t);
}

void
nn_tornode_status(const nn_tornode_t *t, nn_tornode_status_t *out)
{
  *out = t->s;
  out->control = t->cfg.control;
  out->socks = t->cfg.socks;
  out->ctl_up = t->ctl_up;
  out->onion = t->onion;
  out->streams = t->nstreams;
  out->dialled = t->st.dialled;
  out->dial_failed = t->st.dial_failed;
  out->accepted = t->st.accepted;
  out->bytes_in = t->st.bytes_in;
  out->bytes_out = t->st.bytes_out;
}
