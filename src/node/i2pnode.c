/* I2P in a node (i2pnode.h): the SAM session, lookups, and the "i2p" transport. */
#include "node/i2pnode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "crypto/rand.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "net/transport.h"
#include "node/bevstream.h"
#include "node/redial.h"
#include "overlay/sam.h"

#define SESS_OUT_CAP (64u * 1024)

typedef enum { I_LOOKUP, I_SAM, I_OPEN } iphase_t;

typedef struct istream_t {
  nn_bevstream_t bs; /* first: the manager's view and the bufferevent */
  struct nn_i2pnode_t *t;
  struct istream_t *next;
  iphase_t phase;
  nn_sam_t *sam; /* during the SAM exchange */
  int accept;    /* one of our ACCEPT sockets */
} istream_t;

typedef struct lookup_t {
  nn_addr_t name; /* port 0 */
  char dest[NN_SAM_MAX_DEST + 1];
  uint64_t used_ms;
} lookup_t;

struct nn_i2pnode_t {
  nn_transport_t base; /* first: the manager's view */
  nn_net_t *net;
  struct event_base *evb;
  const nn_log_t *log;
  nn_i2pnode_cfg_t cfg;
  char *key_file;
  char *key; /* the saved private key, I2P base64 (inbound only; NULL: none yet) */
  char session_id[11];
  nn_sam_t *sess;
  struct bufferevent *sbev;
  int sess_up, looking, detached;
  nn_addr_t looking_for;
  nn_redial_t redial;
  struct event *ev_accept;
  uint64_t start_ms;
  istream_t *streams;
  unsigned nstreams;
  lookup_t cache[NN_I2PNODE_LOOKUP_CACHE];
  nn_addr_t addr;
  nn_bevstream_stats_t st;
  nn_i2pnode_status_t s; /* counters and texts */
};

static void ilog(nn_i2pnode_t *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
ilog(nn_i2pnode_t *t, int level, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  if (!nn_log_enabled(t->log, level))
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  nn_log(t->log, level, "i2p", "%s", line);
}

/* "<52 base32>.b32.i2p", no port */
static void
b32_name(const nn_addr_t *a, char out[NN_ADDR_STR_MAX])
{
  nn_addr_t n = *a;
  n.port = 0;
  nn_addr_format(&n, out);
  out[strcspn(out, ":")] = 0;
}

static void next_lookup(nn_i2pnode_t *t);
static void accept_fill(nn_i2pnode_t *t);

/* ---- streams ---- */

static unsigned
pending(const nn_i2pnode_t *t)
{
  unsigned n = 0;
  for (const istream_t *s = t->streams; s; s = s->next)
    n += s->phase != I_OPEN && !s->accept && !s->bs.done;
  return n;
}

static void
stream_release(nn_bevstream_t *bs)
{
  istream_t *s = (istream_t *)bs;
  nn_i2pnode_t *t = s->t;
  for (istream_t **p = &t->streams; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  t->nstreams--;
  int was_accept = s->accept;
  nn_sam_free(s->sam);
  free(s);
  if (was_accept && !t->detached && t->ev_accept) {
    /* an accept socket that ended unused: another in a second, not at once (a router that
     * refuses ACCEPTs would otherwise keep us busy) */
    struct timeval tv = { 1, 0 };
    evtimer_add(t->ev_accept, &tv);
  }
}

static void
on_accept_timer(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  accept_fill(arg);
}

static void
sam_flush(istream_t *s)
{
  size_t n;
  const uint8_t *o = nn_sam_output(s->sam, &n);
  if (n && s->bs.bev && bufferevent_write(s->bs.bev, o, n) == 0)
    nn_sam_consume(s->sam, n);
}

static void
stream_connected(nn_bevstream_t *bs)
{
  istream_t *s = (istream_t *)bs;
  if (s->sam)
    sam_flush(s);
}

static void
stream_failed(istream_t *s, const char *what, const char *why)
{
  nn_i2pnode_t *t = s->t;
  char a[NN_ADDR_STR_MAX];
  if (!s->accept) {
    b32_name(&s->bs.base.peer, a);
    snprintf(t->s.last_failure, sizeof(t->s.last_failure), "%s %s: %s", what, a, why);
    ilog(t, NN_LOG_DEBUG, "no stream to %s: %s", a, why);
  } else {
    ilog(t, NN_LOG_DEBUG, "an accept socket ended: %s", why);
  }
  nn_bevstream_end(&s->bs, NN_STREAM_REFUSED, EHOSTUNREACH);
}

/* The bridge's answers on a stream's socket; once it says OK the rest are the peer's bytes. */
static void
stream_exchange(nn_bevstream_t *bs, struct evbuffer *in)
{
  istream_t *s = (istream_t *)bs;
  size_t len = evbuffer_get_length(in), used = 0;
  const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
  if (!s->sam || !p)
    return;
  nn_sam_status_t st = nn_sam_input(s->sam, p, len, &used);
  evbuffer_drain(in, used);
  if (st == NN_SAM_MORE) {
    sam_flush(s);
    return;
  }
  if (st != NN_SAM_READY) {
    stream_failed(s, "stream to", nn_sam_why(s->sam));
    return;
  }
  if (s->accept) {
    s->bs.base.peer = *nn_sam_addr(s->sam); /* the peer's own .b32.i2p, port 0 */
    s->accept = 0;                          /* an inbound stream now: another socket waits */
  }
  nn_sam_free(s->sam);
  s->sam = NULL;
  s->phase = I_OPEN;
  nn_bevstream_opened(bs);
  accept_fill(s->t);
}

static const nn_bevstream_ops_t stream_ops = { stream_connected, stream_exchange, stream_release };

static istream_t *
stream_new(nn_i2pnode_t *t, const nn_addr_t *peer, int inbound)
{
  istream_t *s;
  if (t->nstreams >= NN_I2PNODE_MAX_STREAMS || !(s = calloc(1, sizeof(*s))))
    return NULL;
  if (nn_bevstream_init(&s->bs, &t->base, t->evb, &stream_ops, &t->st, peer, inbound, NN_I2PNODE_IN_CAP,
                        NN_I2PNODE_OUT_CAP)) {
    free(s);
    return NULL;
  }
  s->t = t;
  s->next = t->streams;
  t->streams = s;
  t->nstreams++;
  return s;
}

/* Open \a s's own SAM socket: STREAM CONNECT to \a dest, or STREAM ACCEPT. */
static int
stream_sam(nn_i2pnode_t *t, istream_t *s, const char *dest)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  nn_sam_cfg_t c = { dest ? NN_SAM_CONNECT : NN_SAM_ACCEPT, t->session_id, NULL, 0, 0, dest };
  if (!nn_addr_to_sockaddr(&t->cfg.sam, &ss, &sl) || nn_sam_new(&s->sam, &c) != NN_OK)
    return 0;
  s->phase = I_SAM;
  return nn_bevstream_connect(&s->bs, (struct sockaddr *)&ss, sl);
}

static void
accept_fill(nn_i2pnode_t *t)
{
  unsigned waiting = 0;
  if (!t->cfg.inbound || !t->sess_up || t->detached)
    return;
  for (istream_t *s = t->streams; s; s = s->next)
    waiting += s->accept && !s->bs.done;
  while (waiting < NN_I2PNODE_ACCEPTS) {
    nn_addr_t none;
    memset(&none, 0, sizeof(none));
    istream_t *s = stream_new(t, &none, 1);
    if (!s)
      return;
    s->accept = 1;
    if (!stream_sam(t, s, NULL)) {
      s->bs.closed = 1;
      nn_bevstream_release(&s->bs);
      return;
    }
    waiting++;
  }
}

/* ---- lookups ---- */

static lookup_t *
cache_find(nn_i2pnode_t *t, const nn_addr_t *a)
{
  for (size_t i = 0; i < NN_I2PNODE_LOOKUP_CACHE; i++)
    if (t->cache[i].name.type && nn_addr_same_host(&t->cache[i].name, a))
      return &t->cache[i];
  return NULL;
}

static void
cache_put(nn_i2pnode_t *t, const nn_addr_t *a, const char *dest)
{
  lookup_t *l = cache_find(t, a), *old = &t->cache[0];
  for (size_t i = 0; !l && i < NN_I2PNODE_LOOKUP_CACHE; i++) {
    if (!t->cache[i].name.type) {
      l = &t->cache[i];
      break;
    }
    if (t->cache[i].used_ms < old->used_ms)
      old = &t->cache[i];
  }
  if (!l)
    l = old;
  l->name = *a;
  l->name.port = 0;
  snprintf(l->dest, sizeof(l->dest), "%s", dest);
  l->used_ms = nn_mono_ms();
}

static void
sess_flush(nn_i2pnode_t *t)
{
  size_t n;
  const uint8_t *o = t->sess ? nn_sam_output(t->sess, &n) : NULL;
  if (!o || !n || !t->sbev)
    return;
  if (evbuffer_get_length(bufferevent_get_output(t->sbev)) + n > SESS_OUT_CAP || bufferevent_write(t->sbev, o, n) < 0)
    return;
  nn_sam_consume(t->sess, n);
}

/* Streams waiting for a destination: connect those the cache knows, look the next one up. */
static void
next_lookup(nn_i2pnode_t *t)
{
  char name[NN_ADDR_STR_MAX];
  if (!t->sess_up || t->looking)
    return;
  for (istream_t *s = t->streams; s; s = s->next) {
    if (s->phase != I_LOOKUP || s->bs.done || s->bs.closed)
      continue;
    lookup_t *l = cache_find(t, &s->bs.base.peer);
    if (l) {
      l->used_ms = nn_mono_ms();
      if (!stream_sam(t, s, l->dest))
        stream_failed(s, "stream to", "cannot reach the SAM bridge");
      continue;
    }
    b32_name(&s->bs.base.peer, name);
    if (nn_sam_lookup(t->sess, name) != NN_OK)
      return;
    t->looking = 1;
    t->looking_for = s->bs.base.peer;
    t->s.lookups++;
    sess_flush(t);
    return;
  }
}

static void
looked_up(nn_i2pnode_t *t)
{
  const char *dest = nn_sam_lookup_dest(t->sess);
  nn_addr_t got;
  char name[NN_ADDR_STR_MAX];
  t->looking = 0;
  b32_name(&t->looking_for, name);
  /* the router's answer must be the destination the name is the hash of */
  int ok = dest[0] && nn_sam_dest_addr(&got, dest, 0) == NN_OK && nn_addr_same_host(&got, &t->looking_for);
  if (ok)
    cache_put(t, &t->looking_for, dest);
  else {
    t->s.lookup_failed++;
    if (dest[0])
      ilog(t, NN_LOG_WARN, "the I2P router answered the lookup of %s with a destination of another name: ignored",
           name);
  }
  for (istream_t *s = t->streams; s; s = s->next) {
    if (s->phase != I_LOOKUP || s->bs.done || !nn_addr_same_host(&s->bs.base.peer, &t->looking_for))
      continue;
    if (!ok) {
      char why[120];
      snprintf(why, sizeof(why), "not found (%s)", nn_sam_result(t->sess)[0] ? nn_sam_result(t->sess) : "no answer");
      stream_failed(s, "lookup of", why);
    } else if (!stream_sam(t, s, dest)) {
      stream_failed(s, "stream to", "cannot reach the SAM bridge");
    }
  }
  next_lookup(t);
}

/* ---- the session ---- */

static void
sess_close(nn_i2pnode_t *t, const char *why)
{
  char a[NN_ADDR_STR_MAX];
  if (t->sbev)
    bufferevent_free(t->sbev);
  t->sbev = NULL;
  nn_sam_free(t->sess);
  t->sess = NULL;
  t->sess_up = t->looking = 0;
  if (why) {
    nn_addr_format(&t->cfg.sam, a);
    snprintf(t->s.why, sizeof(t->s.why), "SAM bridge %s: %s", a, why);
  }
  if (t->addr.type) {
    t->addr.type = 0;
    if (t->cfg.on_i2p)
      t->cfg.on_i2p(t->cfg.ctx, NULL);
  }
  if (t->detached)
    return;
  ilog(t, NN_LOG_WARN, "%s; trying again in %.1f s", t->s.why, (double)nn_redial_schedule(&t->redial) / 1000);
}

static void
sess_ready(nn_i2pnode_t *t)
{
  char a[NN_ADDR_STR_MAX];
  const char *priv = nn_sam_priv(t->sess);
  t->sess_up = 1;
  t->s.sessions++;
  t->s.why[0] = 0;
  nn_redial_reset(&t->redial);
  if (!t->s.session_ms)
    t->s.session_ms = nn_mono_ms() - t->start_ms;
  if (!t->cfg.inbound) {
    ilog(t, NN_LOG_INFO, "I2P session up (a transient destination: outbound only)");
  } else {
    if (nn_sam_generated(t->sess) && priv) {
      if (nn_file_write_private(t->key_file, (const uint8_t *)priv, strlen(priv)) != NN_OK)
        ilog(t, NN_LOG_WARN, "cannot save our I2P key in %s (%s): the address will change on restart", t->key_file,
             strerror(errno));
      else if (!t->key)
        t->key = strdup(priv);
    }
    t->addr = *nn_sam_addr(t->sess);
    t->addr.port = t->cfg.vport;
    b32_name(&t->addr, a);
    ilog(t, NN_LOG_INFO, "I2P session up: we are %s (%s key, kept in %s)", a,
         nn_sam_generated(t->sess) ? "a new" : "the saved", t->key_file);
    if (t->cfg.on_i2p)
      t->cfg.on_i2p(t->cfg.ctx, &t->addr);
  }
  accept_fill(t);
  next_lookup(t);
}

static void
on_sess_read(struct bufferevent *bev, void *arg)
{
  nn_i2pnode_t *t = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  while (t->sess && t->sbev == bev && evbuffer_get_length(in)) {
    size_t len = evbuffer_get_length(in), used = 0;
    const uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
    if (!p)
      return;
    nn_sam_status_t st = nn_sam_input(t->sess, p, len, &used);
    evbuffer_drain(in, used);
    if (st == NN_SAM_FAILED) {
      char why[200];
      snprintf(why, sizeof(why), "%s", nn_sam_why(t->sess));
      sess_close(t, why);
      return;
    }
    if (st == NN_SAM_READY && !t->sess_up)
      sess_ready(t);
    else if (st == NN_SAM_LOOKED_UP)
      looked_up(t);
    if (st == NN_SAM_MORE)
      break;
  }
  sess_flush(t);
}

static void
on_sess_event(struct bufferevent *bev, short what, void *arg)
{
  nn_i2pnode_t *t = arg;
  (void)bev;
  if (what & BEV_EVENT_CONNECTED) {
    sess_flush(t);
    return;
  }
  sess_close(t, what & BEV_EVENT_EOF ? "the router closed the session"
                                     : "cannot connect (is i2pd running, with its SAM bridge at this address?)");
}

static void
sess_open(nn_i2pnode_t *t)
{
  uint8_t r[5];
  if (t->detached || t->sbev)
    return;
  /* a new session id each time: the router may still hold the old one */
  (void)nn_rng_fill(NULL, r, sizeof(r));
  nn_hex_encode(t->session_id, r, sizeof(r));
  nn_sam_cfg_t c = { NN_SAM_SESSION, t->session_id, t->cfg.inbound ? t->key : NULL, !t->cfg.inbound, 0, NULL };
  if (nn_sam_new(&t->sess, &c) != NN_OK ||
      !(t->sbev = nn_redial_connect(t->evb, &t->cfg.sam, on_sess_read, on_sess_event, t)))
    sess_close(t, "cannot connect");
}

static void
on_redial(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  sess_open(arg);
}

/* ---- the transport ---- */

static int
tr_can_dial(nn_transport_t *bt, const nn_addr_t *a)
{
  nn_i2pnode_t *t = (nn_i2pnode_t *)bt;
  return !t->detached && a->type == NN_ADDR_I2P && (!t->addr.type || !nn_addr_same_host(a, &t->addr));
}

static nn_err_t
tr_dial(nn_transport_t *bt, const nn_addr_t *to, const nn_node_id_t *id, nn_stream_t **out)
{
  nn_i2pnode_t *t = (nn_i2pnode_t *)bt;
  istream_t *s;
  (void)id;
  *out = NULL;
  if (!tr_can_dial(bt, to))
    return NN_ERR_ARG;
  if (pending(t) >= NN_I2PNODE_MAX_PENDING || !(s = stream_new(t, to, 0))) {
    errno = EMFILE;
    return NN_ERR_IO;
  }
  s->phase = I_LOOKUP;
  next_lookup(t); /* nothing calls back from here: a failure ends the stream from the loop */
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
    snprintf(why, why_len, "the i2p transport is reached at our destination (i2p-inbound = 1), not a listen address");
  return NN_ERR_ARG;
}

static void
detach(nn_i2pnode_t *t)
{
  if (t->detached)
    return;
  t->detached = 1;
  if (t->sbev)
    bufferevent_free(t->sbev);
  t->sbev = NULL;
  nn_sam_free(t->sess);
  t->sess = NULL;
  nn_redial_free(&t->redial);
  if (t->ev_accept)
    event_free(t->ev_accept);
  t->ev_accept = NULL;
}

static void
tr_free(nn_transport_t *bt)
{
  nn_i2pnode_t *t = (nn_i2pnode_t *)bt;
  detach(t);
  while (t->streams)
    nn_bevstream_release(&t->streams->bs);
  free(t->key_file);
  if (t->key) {
    OPENSSL_cleanse(t->key, strlen(t->key));
    free(t->key);
  }
  free(t);
}

/* ---- life ---- */

static int
key_valid(const char *k, size_t len)
{
  if (len < 64 || len > NN_SAM_MAX_KEY)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-' ||
          k[i] == '~' || k[i] == '='))
      return 0;
  return 1;
}

static nn_err_t
key_load(nn_i2pnode_t *t, char *why, size_t why_len)
{
  uint8_t *buf = malloc(NN_SAM_MAX_KEY + 2);
  size_t len = 0;
  nn_addr_t a;
  nn_err_t e;
  if (!buf)
    return NN_ERR_NOMEM;
  e = nn_file_read_private(t->key_file, buf, NN_SAM_MAX_KEY + 2, &len);
  if (e == NN_ERR_PERM)
    snprintf(why, why_len, "I2P key file %s is readable by others: chmod 600 %s (or delete it for a new address)",
             t->key_file, t->key_file);
  else if (e && e != NN_ERR_NOTFOUND)
    snprintf(why, why_len, "cannot read I2P key file %s: %s", t->key_file, nn_err_str(e));
  if (!e) {
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
      len--;
    buf[len] = 0;
    if (!key_valid((const char *)buf, len) || nn_sam_dest_addr(&a, (const char *)buf, 1) != NN_OK) {
      snprintf(why, why_len, "I2P key file %s does not hold an I2P private key: delete it for a new address",
               t->key_file);
      e = NN_ERR_FORMAT;
    } else if (!(t->key = strdup((const char *)buf))) {
      e = NN_ERR_NOMEM;
    }
  }
  OPENSSL_cleanse(buf, NN_SAM_MAX_KEY + 2);
  free(buf);
  return e;
}

nn_err_t
nn_i2pnode_new(nn_i2pnode_t **out, nn_net_t *net, const nn_i2pnode_cfg_t *cfg, char *why, size_t why_len)
{
  nn_i2pnode_t *t;
  nn_err_t e;
  char dummy[8];
  if (!why) {
    why = dummy;
    why_len = sizeof(dummy);
  }
  why[0] = 0;
  *out = NULL;
  if (cfg->sam.type != NN_ADDR_IPV4 && cfg->sam.type != NN_ADDR_IPV6) {
    snprintf(why, why_len, "i2p-sam must be a numeric HOST:PORT (i2pd's SAM bridge, e.g. 127.0.0.1:7656)");
    return NN_ERR_ARG;
  }
  if (cfg->inbound && (!cfg->key_file || !cfg->vport)) {
    snprintf(why, why_len, "an I2P destination that takes peers needs a key file and a port");
    return NN_ERR_ARG;
  }
  if (!(t = calloc(1, sizeof(*t))))
    return NN_ERR_NOMEM;
  t->net = net;
  t->evb = nn_net_base(net);
  t->cfg = *cfg;
  t->log = cfg->log ? cfg->log : nn_net_log(net);
  t->start_ms = nn_mono_ms();
  e = NN_ERR_NOMEM;
  if ((cfg->key_file && !(t->key_file = strdup(cfg->key_file))) ||
      nn_redial_init(&t->redial, t->evb, on_redial, t, 1000, 200, NN_I2PNODE_BACKOFF_MAX_MS) ||
      !(t->ev_accept = evtimer_new(t->evb, on_accept_timer, t)))
    goto fail;
  t->cfg.key_file = NULL;
  if (cfg->inbound && (e = key_load(t, why, why_len)) && e != NN_ERR_NOTFOUND)
    goto fail;
  t->base.name = "i2p";
  t->base.peer_addrs = 1; /* each accepted stream names its peer's destination */
  t->base.handshake_timeout_ms = NN_I2PNODE_HS_TIMEOUT_MS;
  t->base.overlay = 1;
  t->base.can_dial = tr_can_dial;
  t->base.dial = tr_dial;
  t->base.listen = tr_listen;
  t->base.write = nn_bevstream_write;
  t->base.want = nn_bevstream_want;
  t->base.shutdown = nn_bevstream_shutdown;
  t->base.close = nn_bevstream_close;
  t->base.free = tr_free;
  if ((e = nn_net_add_transport(net, &t->base)))
    return e; /* the manager freed it */
  sess_open(t);
  *out = t;
  return NN_OK;
fail:
  if (!why[0])
    snprintf(why, why_len, "cannot start i2p: %s", nn_err_str(e));
  tr_free(&t->base);
  return e;
}

void
nn_i2pnode_free(nn_i2pnode_t *t)
{
  if (t)
    detach(t);
}

void
nn_i2pnode_status(const nn_i2pnode_t *t, nn_i2pnode_status_t *out)
{
  *out = t->s;
  out->sam = t->cfg.sam;
  out->inbound = t->cfg.inbound;
  out->session_up = t->sess_up;
  out->addr = t->addr;
  out->streams = t->nstreams;
  out->dialled = t->st.dialled;
  out->dial_failed = t->st.dial_failed;
  out->accepted = t->st.accepted;
  out->bytes_in = t->st.bytes_in;
  out->bytes_out = t->st.bytes_out;
}
