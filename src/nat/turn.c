/* The TURN client core (turn.h): one TCP allocation, its permissions and its peer connections. */
#include "nat/turn.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "nat/stun.h"

#define MAX_BINDS 16     /* data connections waiting for their ConnectionBind answer */
#define AUTH_RETRIES 2   /* 401 / 438 answers a request may get before it fails */
#define TRANSPORT_TCP 6u /* REQUESTED-TRANSPORT: the protocol number in the first byte */
#define PERM_RENEW_S 60  /* refresh a permission in use this long before it lapses */

typedef struct tx_t {
  int used;
  uint16_t method;
  uint8_t tid[NN_STUN_TID_LEN];
  uint64_t deadline;
  uint64_t conn;  /* 0: the control connection; else the data connection (ConnectionBind) */
  uint64_t tag;   /* Connect: the caller's tag */
  nn_addr_t peer; /* CreatePermission, Connect */
  uint32_t connid, lifetime;
  int auth, retries;
} tx_t;

typedef struct perm_t {
  int used, pending;
  nn_addr_t ip; /* port 0 */
  uint64_t expires_ms;
  uint32_t holds;
} perm_t;

typedef struct bind_t {
  int used;
  uint64_t conn;
  size_t len;
  uint8_t buf[NN_STUN_MAX_MSG];
} bind_t;

struct nn_turn_t {
  nn_turn_cfg_t cfg;
  nn_turn_io_t io;
  nn_turn_state_t state;
  char realm[NN_TURN_MAX_REALM + 1], nonce[NN_TURN_MAX_NONCE + 1];
  uint8_t key[16];
  int have_key;
  nn_addr_t relayed, mapped;
  uint32_t lifetime;
  uint64_t expires_ms, refresh_ms;
  int refreshing;
  tx_t tx[NN_TURN_MAX_TX];
  perm_t perm[NN_TURN_MAX_PERMS];
  bind_t bind[MAX_BINDS];
  size_t clen;
  uint8_t cbuf[NN_STUN_MAX_MSG];
  nn_turn_stats_t st;
};

const char *
nn_turn_state_str(nn_turn_state_t s)
{
  switch (s) {
  case NN_TURN_IDLE: return "idle";
  case NN_TURN_ALLOCATING: return "allocating";
  case NN_TURN_READY: return "allocated";
  case NN_TURN_FAILED: return "failed";
  }
  return "?";
}

static void
emit(nn_turn_t *t, nn_turn_event_kind_t kind, uint64_t tag, uint32_t connid, const nn_addr_t *peer, unsigned code,
     const char *why)
{
  nn_turn_event_t e;
  memset(&e, 0, sizeof(e));
  e.kind = kind;
  e.tag = tag;
  e.connid = connid;
  if (peer)
    e.peer = *peer;
  e.code = code;
  e.why = why;
  t->io.event(t->io.ctx, &e);
}

static nn_addr_t
host_of(const nn_addr_t *a)
{
  nn_addr_t h = *a;
  h.port = 0;
  return h;
}

/* ---- requests ---- */

static nn_err_t
send_tx(nn_turn_t *t, tx_t *x, uint64_t now)
{
  uint8_t m[NN_STUN_MAX_MSG];
  nn_stun_builder_t b;
  size_t len;
  t->io.random(t->io.ctx, x->tid, sizeof(x->tid));
  nn_stun_build_init(&b, m, sizeof(m), x->method, NN_STUN_REQUEST, x->tid);
  switch (x->method) {
  case NN_STUN_ALLOCATE:
    nn_stun_add_u32(&b, NN_STUN_A_REQUESTED_TRANSPORT, TRANSPORT_TCP << 24);
    nn_stun_add_u32(&b, NN_STUN_A_LIFETIME, x->lifetime);
    break;
  case NN_STUN_REFRESH: nn_stun_add_u32(&b, NN_STUN_A_LIFETIME, x->lifetime); break;
  case NN_STUN_CREATE_PERMISSION:
  case NN_STUN_CONNECT: nn_stun_add_addr(&b, NN_STUN_A_XOR_PEER_ADDRESS, &x->peer); break;
  case NN_STUN_CONNECTION_BIND: nn_stun_add_u32(&b, NN_STUN_A_CONNECTION_ID, x->connid); break;
  default: break;
  }
  x->auth = t->have_key;
  if (x->auth) {
    nn_stun_add(&b, NN_STUN_A_USERNAME, (const uint8_t *)t->cfg.username, strlen(t->cfg.username));
    nn_stun_add(&b, NN_STUN_A_REALM, (const uint8_t *)t->realm, strlen(t->realm));
    nn_stun_add(&b, NN_STUN_A_NONCE, (const uint8_t *)t->nonce, strlen(t->nonce));
    nn_stun_add_integrity(&b, t->key, sizeof(t->key));
  }
  nn_stun_add_fingerprint(&b);
  if (nn_stun_build_finish(&b, &len) != NN_OK)
    return NN_ERR_FORMAT;
  x->deadline = now + NN_TURN_TIMEOUT_MS;
  return t->io.send(t->io.ctx, x->conn, m, len);
}

static tx_t *
new_tx(nn_turn_t *t, uint16_t method, uint64_t conn)
{
  for (int i = 0; i < NN_TURN_MAX_TX; i++)
    if (!t->tx[i].used) {
      tx_t *x = &t->tx[i];
      memset(x, 0, sizeof(*x));
      x->used = 1;
      x->method = method;
      x->conn = conn;
      x->lifetime = t->cfg.lifetime_s;
      return x;
    }
  return NULL;
}

/* A new request; NULL (nothing sent) if the table is full or the send failed. */
static tx_t *
request(nn_turn_t *t, uint16_t method, uint64_t conn, uint64_t now)
{
  tx_t *x = new_tx(t, method, conn);
  if (x && send_tx(t, x, now) != NN_OK) {
    x->used = 0;
    return NULL;
  }
  return x;
}

static perm_t *
find_perm(nn_turn_t *t, const nn_addr_t *peer)
{
  nn_addr_t h = host_of(peer);
  for (int i = 0; i < NN_TURN_MAX_PERMS; i++)
    if (t->perm[i].used && nn_addr_equal(&t->perm[i].ip, &h))
      return &t->perm[i];
  return NULL;
}

static void
fail_allocation(nn_turn_t *t, unsigned code, const char *why)
{
  if (t->state == NN_TURN_FAILED || t->state == NN_TURN_IDLE)
    return;
  t->state = NN_TURN_FAILED;
  t->refreshing = 0;
  memset(t->perm, 0, sizeof(t->perm));
  for (int i = 0; i < NN_TURN_MAX_TX; i++)
    if (t->tx[i].used && t->tx[i].conn == 0) {
      tx_t x = t->tx[i];
      t->tx[i].used = 0;
      if (x.method == NN_STUN_CONNECT)
        emit(t, NN_TURN_EV_CONNECT_FAILED, x.tag, 0, &x.peer, 0, "the allocation is gone");
    }
  emit(t, NN_TURN_EV_FAILED, 0, 0, NULL, code, why);
}

/* The request failed for good: say so to whoever waits for it. */
static void
tx_failed(nn_turn_t *t, tx_t *x, unsigned code, const char *why)
{
  tx_t c = *x;
  x->used = 0;
  switch (c.method) {
  case NN_STUN_ALLOCATE:
  case NN_STUN_REFRESH:
    if (c.method == NN_STUN_REFRESH && !c.lifetime)
      return; /* a release: nothing waits for it */
    fail_allocation(t, code, why);
    return;
  case NN_STUN_CREATE_PERMISSION: {
    perm_t *p = find_perm(t, &c.peer);
    if (p)
      p->pending = 0; /* the Connect sent after it fails on its own */
    return;
  }
  case NN_STUN_CONNECT:
    t->st.connect_failed++;
    emit(t, NN_TURN_EV_CONNECT_FAILED, c.tag, 0, &c.peer, code, why);
    return;
  case NN_STUN_CONNECTION_BIND:
    for (int i = 0; i < MAX_BINDS; i++)
      if (t->bind[i].used && t->bind[i].conn == c.conn)
        t->bind[i].used = 0;
    t->st.bind_failed++;
    emit(t, NN_TURN_EV_BIND_FAILED, c.conn, 0, NULL, code, why);
    return;
  default: return;
  }
}

static uint64_t
refresh_time(uint64_t now, uint32_t lifetime)
{
  /* a minute early, or at half time for a short lifetime */
  return now + (lifetime > 120 ? (uint64_t)(lifetime - 60) : (uint64_t)lifetime / 2) * 1000;
}

/* ---- answers ---- */

static int
keep_string(char *dst, size_t cap, const nn_stun_msg_t *m, uint16_t type)
{
  const nn_stun_attr_t *a = nn_stun_find(m, type);
  if (!a || !a->len || a->len > cap)
    return 0;
  const uint8_t *v = nn_stun_value(m, a);
  for (size_t i = 0; i < a->len; i++)
    if (v[i] < 0x20 || v[i] > 0x7e)
      return 0; /* printable ASCII only: a realm or nonce is quoted text */
  memcpy(dst, v, a->len);
  dst[a->len] = 0;
  return 1;
}

/* 401 and 438: take the realm and nonce, and send the request again with credentials. */
static void
on_challenge(nn_turn_t *t, tx_t *x, const nn_stun_msg_t *m, unsigned code, uint64_t now)
{
  char realm[NN_TURN_MAX_REALM + 1];
  if (x->retries >= AUTH_RETRIES || !keep_string(t->nonce, NN_TURN_MAX_NONCE, m, NN_STUN_A_NONCE)) {
    tx_failed(t, x, code, code == 401 ? "the TURN server refused our credentials" : "stale nonce, again");
    return;
  }
  if (keep_string(realm, NN_TURN_MAX_REALM, m, NN_STUN_A_REALM) && (!t->have_key || strcmp(realm, t->realm))) {
    memcpy(t->realm, realm, sizeof(realm));
    if (nn_stun_longterm_key(t->key, t->cfg.username, t->realm, t->cfg.password) != NN_OK) {
      tx_failed(t, x, code, "no key");
      return;
    }
    t->have_key = 1;
  } else if (!t->have_key) {
    tx_failed(t, x, code, "a challenge without a realm");
    return;
  }
  x->retries++;
  if (send_tx(t, x, now) != NN_OK)
    tx_failed(t, x, 0, "the connection to the TURN server broke");
}

static void
on_success(nn_turn_t *t, tx_t *x, const nn_stun_msg_t *m, uint64_t now)
{
  uint32_t v;
  tx_t c = *x;
  x->used = 0;
  switch (c.method) {
  case NN_STUN_ALLOCATE:
    if (nn_stun_get_addr(m, NN_STUN_A_XOR_RELAYED_ADDRESS, &t->relayed) != NN_OK) {
      t->st.malformed++;
      fail_allocation(t, 0, "an Allocate answer without XOR-RELAYED-ADDRESS");
      return;
    }
    if (nn_stun_get_addr(m, NN_STUN_A_XOR_MAPPED_ADDRESS, &t->mapped) != NN_OK)
      memset(&t->mapped, 0, sizeof(t->mapped));
    t->lifetime = nn_stun_get_u32(m, NN_STUN_A_LIFETIME, &v) == NN_OK && v ? v : c.lifetime;
    t->expires_ms = now + (uint64_t)t->lifetime * 1000;
    t->refresh_ms = refresh_time(now, t->lifetime);
    t->state = NN_TURN_READY;
    t->st.allocations++;
    emit(t, NN_TURN_EV_READY, 0, 0, &t->relayed, 0, "allocated");
    return;
  case NN_STUN_REFRESH:
    t->refreshing = 0;
    if (!c.lifetime)
      return;
    t->lifetime = nn_stun_get_u32(m, NN_STUN_A_LIFETIME, &v) == NN_OK && v ? v : c.lifetime;
    t->expires_ms = now + (uint64_t)t->lifetime * 1000;
    t->refresh_ms = refresh_time(now, t->lifetime);
    t->st.refreshes++;
    return;
  case NN_STUN_CREATE_PERMISSION: {
    perm_t *p = find_perm(t, &c.peer);
    t->st.permissions++;
    if (p) {
      p->pending = 0;
      p->expires_ms = now + NN_TURN_PERM_S * 1000ull;
    }
    return;
  }
  case NN_STUN_CONNECT:
    if (nn_stun_get_u32(m, NN_STUN_A_CONNECTION_ID, &v) != NN_OK) {
      t->st.malformed++;
      t->st.connect_failed++;
      emit(t, NN_TURN_EV_CONNECT_FAILED, c.tag, 0, &c.peer, 0, "a Connect answer without CONNECTION-ID");
      return;
    }
    t->st.connects++;
    emit(t, NN_TURN_EV_CONNECTED, c.tag, v, &c.peer, 0, "connected");
    return;
  default: return;
  }
}

static tx_t *
match(nn_turn_t *t, uint64_t conn, const nn_stun_msg_t *m)
{
  for (int i = 0; i < NN_TURN_MAX_TX; i++) {
    tx_t *x = &t->tx[i];
    if (x->used && x->conn == conn && x->method == m->method && !memcmp(x->tid, m->tid, NN_STUN_TID_LEN))
      return x;
  }
  return NULL;
}

/* One whole message of connection \a conn. */
static void
on_message(nn_turn_t *t, uint64_t conn, const uint8_t *b, size_t n, uint64_t now)
{
  nn_stun_msg_t m;
  tx_t *x;
  unsigned code;
  const uint8_t *reason;
  size_t rlen;
  if (nn_stun_parse(&m, b, n) != NN_OK || nn_stun_check_fingerprint(&m) == NN_ERR_VERIFY) {
    t->st.malformed++;
    return;
  }
  if (m.cls == NN_STUN_INDICATION) {
    nn_addr_t peer;
    uint32_t id;
    if (conn || m.method != NN_STUN_CONNECTION_ATTEMPT || t->state != NN_TURN_READY ||
        nn_stun_get_u32(&m, NN_STUN_A_CONNECTION_ID, &id) != NN_OK ||
        nn_stun_get_addr(&m, NN_STUN_A_XOR_PEER_ADDRESS, &peer) != NN_OK) {
      t->st.malformed++;
      return;
    }
    t->st.attempts++;
    emit(t, NN_TURN_EV_ATTEMPT, 0, id, &peer, 0, "a peer connected to our relayed address");
    return;
  }
  if (m.cls == NN_STUN_REQUEST || !(x = match(t, conn, &m))) {
    t->st.malformed++;
    return;
  }
  if (m.cls == NN_STUN_ERROR) {
    if (nn_stun_get_error(&m, &code, &reason, &rlen) != NN_OK) {
      t->st.malformed++;
      return;
    }
    if (code == 401 || code == 438) {
      on_challenge(t, x, &m, code, now);
      return;
    }
    /* other errors are believed without integrity: the worst a forger on our own TCP
     * connection to the server can do is what closing it would do */
    t->st.errors++;
    t->st.last_code = code;
    tx_failed(t, x, code, "the TURN server refused");
    return;
  }
  if (x->auth && nn_stun_check_integrity(&m, t->key, sizeof(t->key)) != NN_OK) {
    t->st.malformed++; /* the request waits on: a real answer, or its timeout */
    return;
  }
  on_success(t, x, &m, now);
}

/* Framing on a stream: a STUN header says how long its message is. Returns the bytes of \a b
 * taken into \a buf (at most up to the end of one message); *whole when one is complete. */
/* Is the start of a header (\a len bytes of it) still a STUN header? Checked as the bytes come,
 * so that a peer that is not a TURN server is told apart at its first bytes. */
static int
header_ok(const uint8_t *buf, size_t len)
{
  static const uint8_t magic[4] = { 0x21, 0x12, 0xa4, 0x42 };
  if (len >= 1 && (buf[0] & 0xc0))
    return 0; /* ChannelData (we bind no channels), or not STUN at all */
  if (len >= 4) {
    size_t body = ((size_t)buf[2] << 8) | buf[3];
    if ((body & 3) || NN_STUN_HDR_LEN + body > NN_STUN_MAX_MSG)
      return 0;
  }
  for (size_t i = 4; i < len && i < 8; i++)
    if (buf[i] != magic[i - 4])
      return 0;
  return 1;
}

static nn_err_t
frame(uint8_t *buf, size_t *len, const uint8_t *b, size_t n, size_t *took, int *whole)
{
  size_t need = NN_STUN_HDR_LEN, c;
  *took = 0;
  *whole = 0;
  if (*len < NN_STUN_HDR_LEN) {
    c = NN_STUN_HDR_LEN - *len < n ? NN_STUN_HDR_LEN - *len : n;
    memcpy(buf + *len, b, c);
    *len += c;
    *took = c;
    b += c;
    n -= c;
    if (!header_ok(buf, *len))
      return NN_ERR_FORMAT;
    if (*len < NN_STUN_HDR_LEN)
      return NN_OK;
  }
  need = NN_STUN_HDR_LEN + (((size_t)buf[2] << 8) | buf[3]);
  c = need - *len < n ? need - *len : n;
  memcpy(buf + *len, b, c);
  *len += c;
  *took += c;
  *whole = *len == need;
  return NN_OK;
}

/* ---- the API ---- */

nn_err_t
nn_turn_new(nn_turn_t **out, const nn_turn_cfg_t *cfg, const nn_turn_io_t *io)
{
  nn_turn_t *t;
  *out = NULL;
  if (!cfg || !io || !io->send || !io->event || !io->random || !cfg->username[0] ||
      strnlen(cfg->username, sizeof(cfg->username)) > NN_TURN_MAX_CRED ||
      strnlen(cfg->password, sizeof(cfg->password)) > NN_TURN_MAX_CRED)
    return NN_ERR_ARG;
  if (!(t = calloc(1, sizeof(*t))))
    return NN_ERR_NOMEM;
  t->cfg = *cfg;
  if (!t->cfg.lifetime_s)
    t->cfg.lifetime_s = 600;
  t->io = *io;
  *out = t;
  return NN_OK;
}

void
nn_turn_free(nn_turn_t *t)
{
  if (!t)
    return;
  OPENSSL_cleanse(t, sizeof(*t)); /* the password and the key */
  free(t);
}

void
nn_turn_start(nn_turn_t *t, uint64_t now_ms)
{
  memset(t->tx, 0, sizeof(t->tx));
  memset(t->perm, 0, sizeof(t->perm));
  memset(t->bind, 0, sizeof(t->bind));
  memset(&t->relayed, 0, sizeof(t->relayed));
  t->clen = 0;
  t->refreshing = 0;
  t->have_key = 0; /* a new connection starts with a new challenge */
  t->state = NN_TURN_ALLOCATING;
  if (!request(t, NN_STUN_ALLOCATE, 0, now_ms))
    fail_allocation(t, 0, "the connection to the TURN server broke");
}

void
nn_turn_ctl_down(nn_turn_t *t, const char *why)
{
  fail_allocation(t, 0, why);
}

nn_err_t
nn_turn_ctl_input(nn_turn_t *t, const uint8_t *b, size_t n, uint64_t now_ms)
{
  while (n) {
    size_t took;
    int whole;
    if (frame(t->cbuf, &t->clen, b, n, &took, &whole) != NN_OK) {
      t->st.malformed++;
      return NN_ERR_FORMAT;
    }
    b += took;
    n -= took;
    if (whole) {
      size_t len = t->clen;
      t->clen = 0;
      on_message(t, 0, t->cbuf, len, now_ms);
    }
  }
  return NN_OK;
}

void
nn_turn_release(nn_turn_t *t)
{
  tx_t *x;
  if (t->state != NN_TURN_READY)
    return;
  if ((x = new_tx(t, NN_STUN_REFRESH, 0))) {
    x->lifetime = 0;
    if (send_tx(t, x, 0) != NN_OK)
      x->used = 0;
  }
  t->state = NN_TURN_IDLE;
}

nn_err_t
nn_turn_connect(nn_turn_t *t, const nn_addr_t *peer, uint64_t tag, uint64_t now_ms)
{
  perm_t *p;
  tx_t *x;
  if (t->state != NN_TURN_READY)
    return NN_ERR_ARG;
  if ((peer->type != NN_ADDR_IPV4 && peer->type != NN_ADDR_IPV6) || peer->type != t->relayed.type)
    return NN_ERR_ARG; /* a relayed address reaches its own family only */
  if (!(p = find_perm(t, peer))) {
    for (int i = 0; i < NN_TURN_MAX_PERMS && !p; i++)
      if (!t->perm[i].used || (!t->perm[i].holds && !t->perm[i].pending && t->perm[i].expires_ms <= now_ms))
        p = &t->perm[i];
    if (!p)
      return NN_ERR_NOSPACE;
    memset(p, 0, sizeof(*p));
    p->used = 1;
    p->ip = host_of(peer);
  }
  if (!p->pending && p->expires_ms < now_ms + PERM_RENEW_S * 1000ull) {
    if (!(x = new_tx(t, NN_STUN_CREATE_PERMISSION, 0)))
      return NN_ERR_NOSPACE;
    x->peer = *peer;
    if (send_tx(t, x, now_ms) != NN_OK) {
      x->used = 0;
      return NN_ERR_IO;
    }
    p->pending = 1;
  }
  /* pipelined: the server answers in order, and a Connect it takes after the permission
   * finds the permission in place */
  if (!(x = new_tx(t, NN_STUN_CONNECT, 0)))
    return NN_ERR_NOSPACE;
  x->peer = *peer;
  x->tag = tag;
  if (send_tx(t, x, now_ms) != NN_OK) {
    x->used = 0;
    return NN_ERR_IO;
  }
  return NN_OK;
}

nn_err_t
nn_turn_bind(nn_turn_t *t, uint64_t conn, uint32_t connid, uint64_t now_ms)
{
  bind_t *s = NULL;
  tx_t *x;
  if (!conn || !t->have_key)
    return NN_ERR_ARG;
  for (int i = 0; i < MAX_BINDS && !s; i++)
    if (!t->bind[i].used)
      s = &t->bind[i];
  if (!s || !(x = new_tx(t, NN_STUN_CONNECTION_BIND, conn)))
    return NN_ERR_NOSPACE;
  x->connid = connid;
  if (send_tx(t, x, now_ms) != NN_OK) {
    x->used = 0;
    return NN_ERR_IO;
  }
  s->used = 1;
  s->conn = conn;
  s->len = 0;
  return NN_OK;
}

nn_err_t
nn_turn_bind_input(nn_turn_t *t, uint64_t conn, const uint8_t *b, size_t n, size_t *used, uint64_t now_ms)
{
  bind_t *s = NULL;
  *used = 0;
  for (int i = 0; i < MAX_BINDS && !s; i++)
    if (t->bind[i].used && t->bind[i].conn == conn)
      s = &t->bind[i];
  while (s && s->used && n) {
    size_t took;
    int whole;
    if (frame(s->buf, &s->len, b, n, &took, &whole) != NN_OK) {
      for (int i = 0; i < NN_TURN_MAX_TX; i++)
        if (t->tx[i].used && t->tx[i].conn == conn)
          tx_failed(t, &t->tx[i], 0, "the TURN server's answer to ConnectionBind is not STUN");
      s->used = 0;
      t->st.malformed++;
      return NN_ERR_FORMAT;
    }
    b += took;
    n -= took;
    *used += took;
    if (!whole)
      continue;
    size_t len = s->len;
    s->len = 0;
    uint8_t msg[NN_STUN_MAX_MSG];
    memcpy(msg, s->buf, len); /* the handlers may free the slot */
    on_message(t, conn, msg, len, now_ms);
    tx_t *x = NULL;
    for (int i = 0; i < NN_TURN_MAX_TX && !x; i++)
      if (t->tx[i].used && t->tx[i].conn == conn)
        x = &t->tx[i];
    if (!x && s->used) {
      /* answered: BIND_FAILED went out if it failed; otherwise it is bound */
      s->used = 0;
      t->st.binds++;
      emit(t, NN_TURN_EV_BOUND, conn, 0, NULL, 0, "bound");
      return NN_OK;
    }
  }
  return NN_OK;
}

void
nn_turn_bind_gone(nn_turn_t *t, uint64_t conn)
{
  for (int i = 0; i < MAX_BINDS; i++)
    if (t->bind[i].used && t->bind[i].conn == conn)
      t->bind[i].used = 0;
  for (int i = 0; i < NN_TURN_MAX_TX; i++)
    if (t->tx[i].used && t->tx[i].conn == conn)
      t->tx[i].used = 0;
}

void
nn_turn_perm_hold(nn_turn_t *t, const nn_addr_t *peer, int delta)
{
  perm_t *p = find_perm(t, peer);
  if (!p)
    return;
  if (delta > 0)
    p->holds++;
  else if (p->holds)
    p->holds--;
}

uint64_t
nn_turn_tick(nn_turn_t *t, uint64_t now_ms)
{
  uint64_t next = 0;
#define WANT(w)                                                                                                        \
  do {                                                                                                                 \
    uint64_t w_ = (w);                                                                                                 \
    if (!next || w_ < next)                                                                                            \
      next = w_;                                                                                                       \
  } while (0)
  for (int i = 0; i < NN_TURN_MAX_TX; i++) {
    tx_t *x = &t->tx[i];
    if (!x->used)
      continue;
    if (now_ms >= x->deadline) {
      t->st.timeouts++;
      tx_failed(t, x, 0, "the TURN server did not answer");
      continue;
    }
    WANT(x->deadline);
  }
  if (t->state != NN_TURN_READY)
    return next;
  if (now_ms >= t->expires_ms) {
    fail_allocation(t, 0, "the allocation expired unrefreshed");
    return next;
  }
  if (!t->refreshing && now_ms >= t->refresh_ms) {
    t->refreshing = request(t, NN_STUN_REFRESH, 0, now_ms) != NULL;
    t->refresh_ms = now_ms + 10000; /* again in 10 s if this one fails to go out */
  }
  WANT(t->refresh_ms);
  for (int i = 0; i < NN_TURN_MAX_PERMS; i++) {
    perm_t *p = &t->perm[i];
    if (!p->used || p->pending)
      continue;
    if (!p->holds) {
      if (now_ms >= p->expires_ms)
        p->used = 0;
      continue;
    }
    uint64_t due = p->expires_ms > PERM_RENEW_S * 1000ull ? p->expires_ms - PERM_RENEW_S * 1000ull : 0;
    if (now_ms >= due) {
      tx_t *x = new_tx(t, NN_STUN_CREATE_PERMISSION, 0);
      if (x) {
        x->peer = p->ip;
        if (send_tx(t, x, now_ms) == NN_OK)
          p->pending = 1;
        else
          x->used = 0;
      }
      WANT(now_ms + 10000);
    } else {
      WANT(due);
    }
  }
#undef WANT
  return next;
}

nn_turn_state_t
nn_turn_state(const nn_turn_t *t)
{
  return t->state;
}

const nn_addr_t *
nn_turn_relayed(const nn_turn_t *t)
{
  return &t->relayed;
}

const nn_addr_t *
nn_turn_mapped(const nn_turn_t *t)
{
  return &t->mapped;
}

uint32_t
nn_turn_lifetime(const nn_turn_t *t)
{
  return t->lifetime;
}

void
nn_turn_stats(const nn_turn_t *t, nn_turn_stats_t *out)
{
  *out = t->st;
}
