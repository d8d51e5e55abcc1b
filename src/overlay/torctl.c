/* A Tor control-port client as a sans-I/O core (torctl.h). */
#include "overlay/torctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/legacy.h"
#include "lib/hex.h"

#define MAX_OUT 2048
#define MAX_EVENTS 8
#define REPLY_BYTES 16384
#define SERVER_KEY "Tor safe cookie authentication server-to-controller hash"
#define CLIENT_KEY "Tor safe cookie authentication controller-to-server hash"

enum { C_PROTOCOLINFO = 1, C_AUTHCHALLENGE, C_AUTHENTICATE, C_ADD_ONION, C_GETINFO_SOCKS };
enum { A_START = 0, A_PROTOCOLINFO, A_COOKIE, A_CHALLENGE, A_AUTHENTICATE, A_READY, A_FAILED };

struct nn_torctl_t {
  nn_torctl_cfg_t cfg;
  char password[NN_TORCTL_MAX_PASSWORD + 1];
  int auth, safecookie;
  uint8_t cookie[NN_TORCTL_COOKIE_LEN], cnonce[32];
  char version[64];
  uint8_t out[MAX_OUT];
  size_t out_len;
  /* input: the line being read, and the reply being gathered */
  char line[NN_TORCTL_MAX_LINE];
  size_t line_len;
  int in_data; /* inside a "NNN+" data block, until "." */
  int code;    /* the reply's code (0: none yet) */
  char reply[REPLY_BYTES];
  size_t reply_len;
  size_t rlines[NN_TORCTL_MAX_REPLY_LINES]; /* offsets of its lines in reply */
  size_t nrlines;
  int pending[NN_TORCTL_MAX_PENDING];
  size_t npending;
  nn_torctl_event_t ev[MAX_EVENTS];
  size_t nev;
};

static void push_event(nn_torctl_t *t, nn_torctl_ev_kind_t kind, int code, const char *key, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));

static void
push_event(nn_torctl_t *t, nn_torctl_ev_kind_t kind, int code, const char *key, const char *fmt, ...)
{
  va_list ap;
  if (t->nev == MAX_EVENTS)
    return; /* a caller that never reads events: the oldest matter most */
  nn_torctl_event_t *e = &t->ev[t->nev++];
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->code = code;
  if (key)
    snprintf(e->key, sizeof(e->key), "%s", key);
  va_start(ap, fmt);
  vsnprintf(e->text, sizeof(e->text), fmt, ap);
  va_end(ap);
}

static nn_err_t
failed(nn_torctl_t *t, int code, const char *what)
{
  if (t->auth != A_FAILED)
    push_event(t, NN_TORCTL_EV_FAILED, code, NULL, "%s", what);
  t->auth = A_FAILED;
  t->out_len = 0;
  OPENSSL_cleanse(t->cookie, sizeof(t->cookie));
  OPENSSL_cleanse(t->password, sizeof(t->password));
  return NN_ERR_FORMAT;
}

/* Queue one command line (CRLF added) whose reply \a kind will handle. */
static nn_err_t
command(nn_torctl_t *t, int kind, const char *line)
{
  size_t n = strlen(line);
  if (t->auth == A_FAILED)
    return NN_ERR_ARG;
  if (t->npending == NN_TORCTL_MAX_PENDING || t->out_len + n + 2 > MAX_OUT)
    return NN_ERR_NOSPACE;
  memcpy(t->out + t->out_len, line, n);
  memcpy(t->out + t->out_len + n, "\r\n", 2);
  t->out_len += n + 2;
  t->pending[t->npending++] = kind;
  return NN_OK;
}

nn_err_t
nn_torctl_new(nn_torctl_t **out, const nn_torctl_cfg_t *cfg)
{
  nn_torctl_t *t = calloc(1, sizeof(*t));
  *out = NULL;
  if (!t)
    return NN_ERR_NOMEM;
  if (cfg) {
    t->cfg = *cfg;
    if (cfg->password) {
      if (strlen(cfg->password) > NN_TORCTL_MAX_PASSWORD) {
        free(t);
        return NN_ERR_ARG;
      }
      snprintf(t->password, sizeof(t->password), "%s", cfg->password);
    }
  }
  t->cfg.password = NULL; /* our copy only: the caller may wipe theirs */
  (void)command(t, C_PROTOCOLINFO, "PROTOCOLINFO 1");
  t->auth = A_PROTOCOLINFO;
  *out = t;
  return NN_OK;
}

void
nn_torctl_free(nn_torctl_t *t)
{
  if (!t)
    return;
  OPENSSL_cleanse(t, sizeof(*t)); /* password, cookie, keys in events and output */
  free(t);
}

const uint8_t *
nn_torctl_output(const nn_torctl_t *t, size_t *len)
{
  *len = t->out_len;
  return t->out;
}

void
nn_torctl_consume(nn_torctl_t *t, size_t n)
{
  if (n > t->out_len)
    n = t->out_len;
  OPENSSL_cleanse(t->out, n); /* AUTHENTICATE carried a secret */
  memmove(t->out, t->out + n, t->out_len - n);
  t->out_len -= n;
}

int
nn_torctl_event(nn_torctl_t *t, nn_torctl_event_t *ev)
{
  if (!t->nev)
    return 0;
  *ev = t->ev[0];
  OPENSSL_cleanse(&t->ev[0], sizeof(t->ev[0]));
  memmove(t->ev, t->ev + 1, (t->nev - 1) * sizeof(t->ev[0]));
  t->nev--;
  return 1;
}

size_t
nn_torctl_unquote(const char *in, size_t len, char *out, size_t cap)
{
  size_t i = 1, k = 0;
  if (!len || in[0] != '"' || !cap)
    return 0;
  while (i < len && in[i] != '"') {
    char c = in[i++];
    if (c == '\\') {
      if (i >= len)
        return 0;
      c = in[i++];
      if (c >= '0' && c <= '7') { /* up to three octal digits, at most \377 */
        unsigned v = (unsigned)(c - '0');
        for (int d = 0; d < 2 && i < len && in[i] >= '0' && in[i] <= '7'; d++)
          v = v * 8 + (unsigned)(in[i++] - '0');
        if (v > 255 || v == 0)
          return 0; /* a NUL would cut a path short */
        c = (char)v;
      } else if (c == 'n') {
        c = '\n';
      } else if (c == 't') {
        c = '\t';
      } else if (c == 'r') {
        c = '\r';
      } /* else: the character itself */
    }
    if (k + 1 >= cap)
      return 0;
    out[k++] = c;
  }
  if (i >= len)
    return 0; /* no closing quote */
  out[k] = 0;
  return i + 1;
}

/* The value of KEY= in a line of space-separated KEY=VALUE pairs (VALUE quoted or not), into
 * \a out; 1 if found and well formed. */
static int
kv(const char *line, const char *key, char *out, size_t cap)
{
  size_t kl = strlen(key), ll = strlen(line);
  for (size_t i = 0; i < ll;) {
    while (i < ll && line[i] == ' ')
      i++;
    size_t start = i;
    if (!strncmp(line + i, key, kl) && line[i + kl] == '=') {
      const char *v = line + i + kl + 1;
      size_t vl = ll - (i + kl + 1);
      if (vl && v[0] == '"')
        return nn_torctl_unquote(v, vl, out, cap) != 0;
      size_t n = 0;
      while (n < vl && v[n] != ' ')
        n++;
      if (n + 1 > cap)
        return 0;
      memcpy(out, v, n);
      out[n] = 0;
      return 1;
    }
    /* skip this token, quoted strings whole */
    int q = 0;
    for (i = start; i < ll && (q || line[i] != ' '); i++) {
      if (line[i] == '\\' && q && i + 1 < ll)
        i++;
      else if (line[i] == '"')
        q = !q;
    }
  }
  return 0;
}

static const char *
rline(const nn_torctl_t *t, size_t i)
{
  return t->reply + t->rlines[i];
}

/* Does the comma-separated \a list name \a m? */
static int
has_method(const char *list, const char *m)
{
  size_t ml = strlen(m);
  for (const char *p = list; *p;) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    if (n == ml && !strncmp(p, m, ml))
      return 1;
    p += n + (c != NULL);
  }
  return 0;
}

static nn_err_t
authenticate_password(nn_torctl_t *t)
{
  char line[16 + 2 * NN_TORCTL_MAX_PASSWORD + 4];
  size_t k = 0;
  memcpy(line, "AUTHENTICATE \"", 14);
  k = 14;
  for (const char *p = t->password; *p; p++) {
    if (*p == '"' || *p == '\\')
      line[k++] = '\\';
    line[k++] = *p;
  }
  line[k++] = '"';
  line[k] = 0;
  nn_err_t e = command(t, C_AUTHENTICATE, line);
  OPENSSL_cleanse(line, sizeof(line));
  OPENSSL_cleanse(t->password, sizeof(t->password));
  t->auth = A_AUTHENTICATE;
  return e;
}

static nn_err_t
on_protocolinfo(nn_torctl_t *t)
{
  char methods[256] = "", cookiefile[NN_TORCTL_MAX_TEXT] = "";
  int have_auth = 0;
  if (t->code != 250)
    return failed(t, t->code, "the control port refused PROTOCOLINFO: is it Tor's ControlPort?");
  for (size_t i = 0; i < t->nrlines; i++) {
    const char *l = rline(t, i);
    if (!strncmp(l, "AUTH ", 5)) {
      have_auth = kv(l + 5, "METHODS", methods, sizeof(methods));
      if (strstr(l, "COOKIEFILE=") && !kv(l + 5, "COOKIEFILE", cookiefile, sizeof(cookiefile)))
        return failed(t, 0, "Tor's PROTOCOLINFO names a cookie file we cannot read as a quoted string");
    } else if (!strncmp(l, "VERSION ", 8)) {
      (void)kv(l + 8, "Tor", t->version, sizeof(t->version));
    }
  }
  if (!have_auth)
    return failed(t, 0, "Tor's PROTOCOLINFO has no AUTH METHODS line");
  if (t->password[0] && has_method(methods, "HASHEDPASSWORD"))
    return authenticate_password(t);
  OPENSSL_cleanse(t->password, sizeof(t->password));
  if (has_method(methods, "NULL")) {
    t->auth = A_AUTHENTICATE;
    return command(t, C_AUTHENTICATE, "AUTHENTICATE");
  }
  if (cookiefile[0] && (has_method(methods, "SAFECOOKIE") || has_method(methods, "COOKIE"))) {
    t->safecookie = has_method(methods, "SAFECOOKIE");
    t->auth = A_COOKIE;
    push_event(t, NN_TORCTL_EV_NEED_COOKIE, 0, NULL, "%s", cookiefile);
    return NN_OK;
  }
  char why[NN_TORCTL_MAX_TEXT];
  snprintf(why, sizeof(why),
           "Tor offers no authentication we can use (methods %s): configure CookieAuthentication 1 with a "
           "cookie file this user can read, or HashedControlPassword and a password file",
           methods[0] ? methods : "none");
  return failed(t, 0, why);
}

nn_err_t
nn_torctl_cookie(nn_torctl_t *t, const uint8_t *cookie, size_t len)
{
  char line[32 + 2 * NN_TORCTL_COOKIE_LEN + 1];
  char hex[2 * NN_TORCTL_COOKIE_LEN + 1];
  nn_err_t e;
  if (t->auth != A_COOKIE)
    return NN_ERR_ARG;
  if (len != NN_TORCTL_COOKIE_LEN) {
    char why[128];
    snprintf(why, sizeof(why), "Tor's cookie file has %zu bytes, not %d: is it the control port's?", len,
             NN_TORCTL_COOKIE_LEN);
    (void)failed(t, 0, why);
    return NN_ERR_FORMAT;
  }
  memcpy(t->cookie, cookie, len);
  if (t->safecookie) {
    if ((e = nn_rng_fill(t->cfg.rng, t->cnonce, sizeof(t->cnonce))))
      return e;
    nn_hex_encode(hex, t->cnonce, sizeof(t->cnonce));
    snprintf(line, sizeof(line), "AUTHCHALLENGE SAFECOOKIE %s", hex);
    t->auth = A_CHALLENGE;
    return command(t, C_AUTHCHALLENGE, line);
  }
  nn_hex_encode(hex, t->cookie, sizeof(t->cookie));
  snprintf(line, sizeof(line), "AUTHENTICATE %s", hex);
  e = command(t, C_AUTHENTICATE, line);
  OPENSSL_cleanse(hex, sizeof(hex));
  OPENSSL_cleanse(line, sizeof(line));
  OPENSSL_cleanse(t->cookie, sizeof(t->cookie));
  t->auth = A_AUTHENTICATE;
  return e;
}

static nn_err_t
on_authchallenge(nn_torctl_t *t)
{
  char sh[80], sn[80], hex[2 * NN_SHA256_LEN + 1], line[16 + sizeof(hex)];
  uint8_t shash[NN_SHA256_LEN], snonce[32], msg[NN_TORCTL_COOKIE_LEN + 64], want[NN_SHA256_LEN];
  nn_err_t e = NN_ERR_FORMAT;
  if (t->code != 250 || !t->nrlines || strncmp(rline(t, 0), "AUTHCHALLENGE ", 14))
    return failed(t, t->code, "Tor refused AUTHCHALLENGE SAFECOOKIE");
  if (!kv(rline(t, 0) + 14, "SERVERHASH", sh, sizeof(sh)) || !kv(rline(t, 0) + 14, "SERVERNONCE", sn, sizeof(sn)) ||
      nn_hex_decode(shash, sizeof(shash), sh) || nn_hex_decode(snonce, sizeof(snonce), sn))
    return failed(t, 0, "Tor's AUTHCHALLENGE answer is malformed (SERVERHASH, SERVERNONCE)");
  memcpy(msg, t->cookie, NN_TORCTL_COOKIE_LEN);
  memcpy(msg + NN_TORCTL_COOKIE_LEN, t->cnonce, 32);
  memcpy(msg + NN_TORCTL_COOKIE_LEN + 32, snonce, 32);
  if (nn_hmac_sha256(want, (const uint8_t *)SERVER_KEY, strlen(SERVER_KEY), msg, sizeof(msg)))
    goto out;
  if (CRYPTO_memcmp(want, shash, sizeof(want))) {
    (void)failed(t, 0,
                 "the control port's SAFECOOKIE server hash does not verify: it does not know our cookie (another "
                 "Tor's cookie file, or not Tor)");
    goto out;
  }
  if (nn_hmac_sha256(want, (const uint8_t *)CLIENT_KEY, strlen(CLIENT_KEY), msg, sizeof(msg)))
    goto out;
  nn_hex_encode(hex, want, sizeof(want));
  snprintf(line, sizeof(line), "AUTHENTICATE %s", hex);
  t->auth = A_AUTHENTICATE;
  e = command(t, C_AUTHENTICATE, line);
out:
  OPENSSL_cleanse(msg, sizeof(msg));
  OPENSSL_cleanse(want, sizeof(want));
  OPENSSL_cleanse(hex, sizeof(hex));
  OPENSSL_cleanse(line, sizeof(line));
  OPENSSL_cleanse(t->cookie, sizeof(t->cookie));
  return e;
}

static nn_err_t
on_authenticate(nn_torctl_t *t)
{
  if (t->code != 250) {
    char why[NN_TORCTL_MAX_TEXT];
    snprintf(why, sizeof(why), "Tor refused our authentication (%d %.300s)", t->code, t->nrlines ? rline(t, 0) : "");
    return failed(t, t->code, why);
  }
  t->auth = A_READY;
  push_event(t, NN_TORCTL_EV_READY, 250, NULL, "%s", t->version[0] ? t->version : "unknown version");
  return NN_OK;
}

static int
is_service_id(const char *s)
{
  size_t n = strlen(s);
  if (n != 56)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
      return 0;
  return 1;
}

static nn_err_t
on_add_onion(nn_torctl_t *t)
{
  const char *id = NULL, *key = NULL;
  if (t->code != 250) {
    push_event(t, NN_TORCTL_EV_ONION_FAILED, t->code, NULL, "Tor refused ADD_ONION: %d %.300s", t->code,
               t->nrlines ? rline(t, 0) : "");
    return NN_OK;
  }
  for (size_t i = 0; i < t->nrlines; i++) {
    const char *l = rline(t, i);
    if (!strncmp(l, "ServiceID=", 10))
      id = l + 10;
    else if (!strncmp(l, "PrivateKey=", 11))
      key = l + 11;
  }
  if (!id || !is_service_id(id) || (key && (strlen(key) > NN_TORCTL_MAX_KEY || strncmp(key, "ED25519-V3:", 11))))
    return failed(t, 0, "Tor's ADD_ONION answer has no valid ServiceID (or a malformed PrivateKey)");
  push_event(t, NN_TORCTL_EV_ONION, 250, key, "%s", id);
  return NN_OK;
}

static nn_err_t
on_getinfo_socks(nn_torctl_t *t)
{
  char first[NN_TORCTL_MAX_TEXT] = "";
  static const char k[] = "net/listeners/socks=";
  if (t->code != 250)
    return failed(t, t->code, "Tor refused GETINFO net/listeners/socks");
  for (size_t i = 0; i < t->nrlines; i++) {
    const char *l = rline(t, i);
    if (strncmp(l, k, sizeof(k) - 1))
      continue;
    const char *v = l + sizeof(k) - 1;
    if (*v == '"' && !nn_torctl_unquote(v, strlen(v), first, sizeof(first)))
      return failed(t, 0, "Tor's SOCKS listener list is malformed");
    if (*v != '"' && *v)
      snprintf(first, sizeof(first), "%.*s", (int)strcspn(v, " "), v);
    break;
  }
  push_event(t, NN_TORCTL_EV_SOCKS, 250, NULL, "%s", first);
  return NN_OK;
}

/* A whole reply: to the oldest command waiting. */
static nn_err_t
dispatch(nn_torctl_t *t)
{
  if (t->code >= 600 && t->code < 700)
    return NN_OK; /* an asynchronous event: we subscribe to none, so this is noise */
  if (!t->npending)
    return failed(t, t->code, "the control port answered a command we did not send");
  int kind = t->pending[0];
  memmove(t->pending, t->pending + 1, (t->npending - 1) * sizeof(t->pending[0]));
  t->npending--;
  switch (kind) {
  case C_PROTOCOLINFO: return on_protocolinfo(t);
  case C_AUTHCHALLENGE: return on_authchallenge(t);
  case C_AUTHENTICATE: return on_authenticate(t);
  case C_ADD_ONION: return on_add_onion(t);
  case C_GETINFO_SOCKS: return on_getinfo_socks(t);
  default: return failed(t, 0, "internal: a reply to an unknown command");
  }
}

static nn_err_t
add_line(nn_torctl_t *t, const char *s, size_t n)
{
  if (t->nrlines == NN_TORCTL_MAX_REPLY_LINES || t->reply_len + n + 1 > REPLY_BYTES)
    return failed(t, 0, "a control-port reply longer than we accept");
  t->rlines[t->nrlines++] = t->reply_len;
  memcpy(t->reply + t->reply_len, s, n);
  t->reply[t->reply_len + n] = 0;
  t->reply_len += n + 1;
  return NN_OK;
}

/* One line, CRLF removed. */
static nn_err_t
on_line(nn_torctl_t *t, char *l, size_t n)
{
  nn_err_t e;
  if (memchr(l, 0, n))
    return failed(t, 0, "a NUL byte in a control-port reply");
  if (t->in_data) {
    if (n == 1 && l[0] == '.') {
      t->in_data = 0;
      return NN_OK;
    }
    if (n && l[0] == '.') /* dot-stuffing */
      l++, n--;
    return add_line(t, l, n);
  }
  if (n < 4 || l[0] < '1' || l[0] > '9' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' ||
      (l[3] != ' ' && l[3] != '-' && l[3] != '+'))
    return failed(t, 0, "a malformed control-port reply line (want NNN followed by ' ', '-' or '+')");
  int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
  if (t->code && code != t->code)
    return failed(t, 0, "a control-port reply whose status code changes between lines");
  t->code = code;
  if ((e = add_line(t, l + 4, n - 4)))
    return e;
  if (l[3] == '+')
    t->in_data = 1;
  if (l[3] != ' ')
    return NN_OK;
  e = dispatch(t);
  t->code = 0;
  t->reply_len = t->nrlines = 0;
  OPENSSL_cleanse(t->reply, sizeof(t->reply)); /* it may hold a private key */
  return e;
}

nn_err_t
nn_torctl_input(nn_torctl_t *t, const uint8_t *d, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (t->auth == A_FAILED)
      return NN_ERR_FORMAT;
    if (t->line_len == sizeof(t->line))
      return failed(t, 0, "a control-port line longer than 4096 bytes");
    t->line[t->line_len++] = (char)d[i];
    if (d[i] != '\n')
      continue;
    if (t->line_len < 2 || t->line[t->line_len - 2] != '\r')
      return failed(t, 0, "a control-port line not ended by CRLF");
    size_t len = t->line_len - 2;
    t->line_len = 0;
    nn_err_t e = on_line(t, t->line, len);
    OPENSSL_cleanse(t->line, len);
    if (e)
      return e;
  }
  return t->auth == A_FAILED ? NN_ERR_FORMAT : NN_OK;
}

nn_err_t
nn_torctl_add_onion(nn_torctl_t *t, const char *key, uint16_t vport, const char *target)
{
  char line[64 + NN_TORCTL_MAX_KEY + 64];
  if (t->auth != A_READY)
    return NN_ERR_ARG;
  if ((key && (strlen(key) > NN_TORCTL_MAX_KEY || strncmp(key, "ED25519-V3:", 11) || strpbrk(key, " \r\n"))) ||
      !target || strlen(target) > 60 || strpbrk(target, " \r\n") || !vport)
    return NN_ERR_ARG;
  /* without Flags=Detach the service lives as long as this connection: when we stop, it goes */
  snprintf(line, sizeof(line), "ADD_ONION %s Port=%u,%s", key ? key : "NEW:ED25519-V3", (unsigned)vport, target);
  nn_err_t e = command(t, C_ADD_ONION, line);
  OPENSSL_cleanse(line, sizeof(line));
  return e;
}

nn_err_t
nn_torctl_get_socks(nn_torctl_t *t)
{
  if (t->auth != A_READY)
    return NN_ERR_ARG;
  return command(t, C_GETINFO_SOCKS, "GETINFO net/listeners/socks");
}
