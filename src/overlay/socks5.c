/* A SOCKS5 client as a sans-I/O core (socks5.h). */
#include "overlay/socks5.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/wire.h"

enum { S_IDLE = 0, S_METHOD, S_AUTH, S_REPLY, S_OPEN, S_FAILED };

#define SOCKS_VERSION 5
#define AUTH_VERSION 1
#define M_NONE 0x00
#define M_USERPASS 0x02
#define M_REFUSED 0xff
#define CMD_CONNECT 1
#define ATYP_IPV4 1
#define ATYP_NAME 3
#define ATYP_IPV6 4

const char *
nn_socks5_reply_str(int rep)
{
  switch (rep) {
  case NN_SOCKS5_OK: return "succeeded";
  case NN_SOCKS5_GENERAL: return "general failure";
  case NN_SOCKS5_NOT_ALLOWED: return "not allowed by the proxy's rules";
  case NN_SOCKS5_NET_UNREACHABLE: return "network unreachable";
  case NN_SOCKS5_HOST_UNREACHABLE: return "host unreachable (Tor: no circuit to it, or the onion service is down)";
  case NN_SOCKS5_REFUSED: return "connection refused by the peer";
  case NN_SOCKS5_TTL_EXPIRED: return "timed out (Tor: the circuit or the peer did not answer)";
  case NN_SOCKS5_CMD_UNSUPPORTED: return "command not supported";
  case NN_SOCKS5_ATYP_UNSUPPORTED: return "address type not supported";
  case NN_SOCKS5_TOR_HS_DESC_NOT_FOUND:
    return "onion service descriptor not found (the service is offline or has not published yet; retry later)";
  case NN_SOCKS5_TOR_HS_DESC_INVALID: return "onion service descriptor invalid";
  case NN_SOCKS5_TOR_HS_INTRO_FAILED: return "onion service introduction failed (its introduction points are gone)";
  case NN_SOCKS5_TOR_HS_REND_FAILED: return "onion service rendezvous failed";
  case NN_SOCKS5_TOR_HS_MISSING_AUTH: return "onion service needs client authorization";
  case NN_SOCKS5_TOR_HS_WRONG_AUTH: return "onion service refused our client authorization";
  case NN_SOCKS5_TOR_HS_BAD_ADDRESS: return "invalid onion address (bad checksum or version)";
  case NN_SOCKS5_TOR_HS_INTRO_TIMEOUT: return "onion service introduction timed out";
  default: return "unknown reply code";
  }
}

static nn_socks5_status_t fail(nn_socks5_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static nn_socks5_status_t
fail(nn_socks5_t *s, const char *fmt, ...)
{
  va_list ap;
  s->state = S_FAILED;
  OPENSSL_cleanse(s->out, sizeof(s->out));
  OPENSSL_cleanse(s->auth, sizeof(s->auth));
  s->out_len = s->auth_len = 0;
  va_start(ap, fmt);
  vsnprintf(s->why, sizeof(s->why), fmt, ap);
  va_end(ap);
  return NN_SOCKS5_FAILED;
}

static void
queue(nn_socks5_t *s, const uint8_t *b, size_t n)
{
  memcpy(s->out + s->out_len, b, n);
  s->out_len += n;
}

/* The CONNECT request for \a to; 0 if it cannot be named. */
static size_t
connect_req(uint8_t *out, const nn_addr_t *to)
{
  size_t k = 0;
  out[k++] = SOCKS_VERSION;
  out[k++] = CMD_CONNECT;
  out[k++] = 0;
  switch (to->type) {
  case NN_ADDR_IPV4:
    out[k++] = ATYP_IPV4;
    memcpy(out + k, to->host, 4);
    k += 4;
    break;
  case NN_ADDR_IPV6:
    out[k++] = ATYP_IPV6;
    memcpy(out + k, to->host, 16);
    k += 16;
    break;
  case NN_ADDR_ONION: {
    /* the name, so that Tor resolves it: "<56 chars>.onion" */
    char text[NN_ADDR_STR_MAX];
    nn_addr_format(to, text);
    char *colon = strrchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : 0;
    if (!len || len > 255)
      return 0;
    out[k++] = ATYP_NAME;
    out[k++] = (uint8_t)len;
    memcpy(out + k, text, len);
    k += len;
    break;
  }
  default: return 0;
  }
  nn_be16_put(out + k, to->port);
  return k + 2;
}

nn_err_t
nn_socks5_start(nn_socks5_t *s, const nn_addr_t *to, const char *user, const char *pass)
{
  uint8_t greet[3] = { SOCKS_VERSION, 1, M_NONE };
  memset(s, 0, sizeof(*s));
  s->reply = -1;
  if (!to || (!user) != (!pass))
    return NN_ERR_ARG;
  if (!(s->connect_len = connect_req(s->connect, to)))
    return NN_ERR_ARG;
  if (user) {
    size_t ul = strlen(user), pl = strlen(pass);
    if (!ul || ul > NN_SOCKS5_MAX_CRED || !pl || pl > NN_SOCKS5_MAX_CRED)
      return NN_ERR_ARG;
    s->auth[0] = AUTH_VERSION;
    s->auth[1] = (uint8_t)ul;
    memcpy(s->auth + 2, user, ul);
    s->auth[2 + ul] = (uint8_t)pl;
    memcpy(s->auth + 3 + ul, pass, pl);
    s->auth_len = 3 + ul + pl;
    greet[2] = M_USERPASS;
  }
  queue(s, greet, sizeof(greet));
  s->state = S_METHOD;
  s->in_need = 2;
  return NN_OK;
}

const uint8_t *
nn_socks5_output(const nn_socks5_t *s, size_t *len)
{
  *len = s->out_len;
  return s->out;
}

void
nn_socks5_consume(nn_socks5_t *s, size_t n)
{
  if (n > s->out_len)
    n = s->out_len;
  memmove(s->out, s->out + n, s->out_len - n);
  s->out_len -= n;
  if (!s->out_len)
    OPENSSL_cleanse(s->out, sizeof(s->out)); /* it may have held the credentials */
}

static void
send_connect(nn_socks5_t *s)
{
  queue(s, s->connect, s->connect_len);
  s->state = S_REPLY;
  s->in_need = 5; /* VER REP RSV ATYP and the first address byte (a name's length) */
}

/* A whole answer of the current step is in s->in. */
static nn_socks5_status_t
step(nn_socks5_t *s)
{
  const uint8_t *b = s->in;
  switch (s->state) {
  case S_METHOD:
    if (b[0] != SOCKS_VERSION)
      return fail(s, "the proxy is not SOCKS5 (version byte %d, want 5): is this Tor's SocksPort?", b[0]);
    if (b[1] == M_REFUSED)
      return fail(s, "the proxy accepts none of our authentication methods (we offered %d)",
                  s->auth_len ? M_USERPASS : M_NONE);
    if (b[1] != (s->auth_len ? M_USERPASS : M_NONE))
      return fail(s, "the proxy chose authentication method %d, which we did not offer (%d)", b[1],
                  s->auth_len ? M_USERPASS : M_NONE);
    s->in_len = 0;
    if (s->auth_len) {
      queue(s, s->auth, s->auth_len);
      OPENSSL_cleanse(s->auth, sizeof(s->auth));
      s->auth_len = 0;
      s->state = S_AUTH;
      s->in_need = 2;
    } else {
      send_connect(s);
    }
    return NN_SOCKS5_MORE;
  case S_AUTH:
    if (b[0] != AUTH_VERSION)
      return fail(s, "the proxy's username/password answer has version %d (want 1)", b[0]);
    if (b[1] != 0)
      return fail(s, "the proxy refused our stream credentials (status %d)", b[1]);
    s->in_len = 0;
    send_connect(s);
    return NN_SOCKS5_MORE;
  case S_REPLY:
    if (s->in_need == 5) {
      if (b[0] != SOCKS_VERSION || b[2] != 0)
        return fail(s, "malformed SOCKS5 reply (version %d, reserved byte %d)", b[0], b[2]);
      s->reply = b[1];
      if (b[1] != NN_SOCKS5_OK) /* the rest does not matter: the stream is not open */
        return fail(s, "the proxy could not open the stream: %s (SOCKS5 reply 0x%02x)", nn_socks5_reply_str(b[1]),
                    (unsigned)b[1]);
      switch (b[3]) {
      case ATYP_IPV4: s->in_need = 4 + 4 + 2; break;
      case ATYP_IPV6: s->in_need = 4 + 16 + 2; break;
      case ATYP_NAME: s->in_need = 4 + 1 + (size_t)b[4] + 2; break;
      default: return fail(s, "malformed SOCKS5 reply: address type %d", b[3]);
      }
      return NN_SOCKS5_MORE;
    }
    if (b[3] == ATYP_IPV4)
      s->bound = nn_addr_ipv4(b + 4, nn_be16_get(b + 8));
    else if (b[3] == ATYP_IPV6)
      s->bound = nn_addr_ipv6(b + 4, nn_be16_get(b + 20));
    s->state = S_OPEN;
    return NN_SOCKS5_OPEN;
  default: return NN_SOCKS5_FAILED;
  }
}

nn_socks5_status_t
nn_socks5_input(nn_socks5_t *s, const uint8_t *d, size_t n, size_t *used)
{
  size_t k = 0;
  nn_socks5_status_t st = NN_SOCKS5_MORE;
  if (s->state == S_OPEN || s->state == S_FAILED || s->state == S_IDLE) {
    *used = 0;
    return s->state == S_OPEN ? NN_SOCKS5_OPEN : NN_SOCKS5_FAILED;
  }
  while (k < n && st == NN_SOCKS5_MORE) {
    if (s->out_len) {
      /* an honest proxy answers a request it has received: bytes while ours is still unsent
       * are a confused or hostile proxy's */
      st = fail(s, "the proxy answered ahead of our request (%zu bytes early)", n - k);
      break;
    }
    size_t take = s->in_need - s->in_len;
    if (take > n - k)
      take = n - k;
    memcpy(s->in + s->in_len, d + k, take);
    s->in_len += take;
    k += take;
    if (s->in_len < s->in_need)
      break;
    st = step(s);
  }
  *used = k;
  return st;
}

const char *
nn_socks5_why(const nn_socks5_t *s)
{
  return s->why[0] ? s->why : "no failure";
}

void
nn_socks5_clear(nn_socks5_t *s)
{
  OPENSSL_cleanse(s, sizeof(*s));
}
