/* An I2P SAM v3.1 client as a sans-I/O core (sam.h). */
#include "overlay/sam.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/legacy.h"
#include "lib/wire.h"

enum { S_HELLO = 1, S_DEST, S_SESSION, S_STREAM, S_PEERDEST, S_READY, S_LOOKUP, S_FAILED };

struct nn_sam_t {
  nn_sam_cfg_t cfg;
  char id[33];
  char priv[NN_SAM_MAX_KEY + 1];
  char dest[NN_SAM_MAX_DEST + 1];
  char lookup[NN_SAM_MAX_DEST + 1];
  int state, generated;
  nn_addr_t addr;
  char *out; /* a SESSION CREATE carries the key: up to NN_SAM_MAX_KEY and the rest */
  size_t out_len, out_cap;
  char *line;
  size_t line_len;
  char result[32];
  char why[256];
};

static nn_sam_status_t fail(nn_sam_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static nn_sam_status_t
fail(nn_sam_t *s, const char *fmt, ...)
{
  va_list ap;
  s->state = S_FAILED;
  OPENSSL_cleanse(s->out, s->out_cap);
  s->out_len = 0;
  va_start(ap, fmt);
  vsnprintf(s->why, sizeof(s->why), fmt, ap);
  va_end(ap);
  return NN_SAM_FAILED;
}

static void command(nn_sam_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
command(nn_sam_t *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(s->out + s->out_len, s->out_cap - s->out_len, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < s->out_cap - s->out_len)
    s->out_len += (size_t)n;
}

static int
valid_id(const char *id)
{
  size_t n = id ? strlen(id) : 0;
  if (!n || n > 32)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ||
          id[i] == '_' || id[i] == '-'))
      return 0;
  return 1;
}

static int
b64_char(int c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '~')
    return 63;
  return -1;
}

size_t
nn_i2p_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
  size_t k = 0;
  uint32_t acc = 0;
  int bits = 0;
  while (len && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_char((unsigned char)in[i]);
    if (v < 0)
      return 0;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (k == cap)
        return 0;
      out[k++] = (uint8_t)(acc >> bits);
    }
  }
  return k;
}

nn_err_t
nn_sam_dest_addr(nn_addr_t *out, const char *b64, int is_priv)
{
  uint8_t *bin = malloc(NN_SAM_MAX_KEY);
  uint8_t h[NN_SHA256_LEN];
  nn_err_t e = NN_ERR_FORMAT;
  size_t n = bin ? nn_i2p_b64_decode(bin, NN_SAM_MAX_KEY, b64, strlen(b64)) : 0;
  if (!bin)
    return NN_ERR_NOMEM;
  if (n >= NN_SAM_DEST_MIN_BIN) {
    size_t dlen = NN_SAM_DEST_MIN_BIN + nn_be16_get(bin + 385);
    if (dlen <= n && (is_priv || dlen == n) && !nn_sha256(h, bin, dlen)) {
      *out = nn_addr_overlay(NN_ADDR_I2P, h, 0);
      e = NN_OK;
    }
  }
  OPENSSL_cleanse(bin, NN_SAM_MAX_KEY); /* a private key blob */
  free(bin);
  return e;
}

nn_err_t
nn_sam_new(nn_sam_t **out, const nn_sam_cfg_t *cfg)
{
  nn_sam_t *s;
  *out = NULL;
  if (!cfg || !valid_id(cfg->session_id) || cfg->tunnels > 16 ||
      (cfg->priv && (strlen(cfg->priv) > NN_SAM_MAX_KEY || strpbrk(cfg->priv, " \r\n"))) ||
      (cfg->role == NN_SAM_CONNECT &&
       (!cfg->dest || strlen(cfg->dest) > NN_SAM_MAX_DEST || !cfg->dest[0] || strpbrk(cfg->dest, " \r\n"))) ||
      (cfg->role != NN_SAM_SESSION && cfg->role != NN_SAM_CONNECT && cfg->role != NN_SAM_ACCEPT))
    return NN_ERR_ARG;
  if (!(s = calloc(1, sizeof(*s))))
    return NN_ERR_NOMEM;
  s->out_cap = NN_SAM_MAX_KEY + 512;
  if (!(s->out = calloc(1, s->out_cap)) || !(s->line = malloc(NN_SAM_MAX_LINE))) {
    nn_sam_free(s);
    return NN_ERR_NOMEM;
  }
  s->cfg = *cfg;
  snprintf(s->id, sizeof(s->id), "%s", cfg->session_id);
  if (cfg->priv)
    snprintf(s->priv, sizeof(s->priv), "%s", cfg->priv);
  if (cfg->dest)
    snprintf(s->dest, sizeof(s->dest), "%s", cfg->dest);
  s->cfg.priv = s->cfg.dest = s->cfg.session_id = NULL; /* our copies only */
  command(s, "HELLO VERSION MIN=3.1 MAX=3.1\n");
  s->state = S_HELLO;
  *out = s;
  return NN_OK;
}

void
nn_sam_free(nn_sam_t *s)
{
  if (!s)
    return;
  if (s->out)
    OPENSSL_cleanse(s->out, s->out_cap);
  if (s->line)
    OPENSSL_cleanse(s->line, NN_SAM_MAX_LINE);
  free(s->out);
  free(s->line);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
}

const uint8_t *
nn_sam_output(const nn_sam_t *s, size_t *len)
{
  *len = s->out_len;
  return (const uint8_t *)s->out;
}

void
nn_sam_consume(nn_sam_t *s, size_t n)
{
  if (n > s->out_len)
    n = s->out_len;
  OPENSSL_cleanse(s->out, n);
  memmove(s->out, s->out + n, s->out_len - n);
  s->out_len -= n;
}

/* The value of KEY= among the words of \a l (quoted values unquoted, no escapes in SAM 3.1). */
static int
value(const char *l, const char *key, char *out, size_t cap)
{
  size_t kl = strlen(key);
  for (const char *p = l; *p;) {
    while (*p == ' ')
      p++;
    const char *w = p;
    int q = 0;
    while (*p && (q || *p != ' ')) {
      if (*p == '"')
        q = !q;
      p++;
    }
    if ((size_t)(p - w) > kl && !strncmp(w, key, kl) && w[kl] == '=') {
      const char *v = w + kl + 1;
      size_t n = (size_t)(p - v);
      if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
      if (n + 1 > cap)
        return 0;
      memcpy(out, v, n);
      out[n] = 0;
      return 1;
    }
  }
  return 0;
}

/* Is \a l the reply \a topic ("HELLO REPLY") with RESULT=OK? Else fail with the router's words. */
static int
ok_reply(nn_sam_t *s, const char *l, const char *topic, const char *step)
{
  char msg[160] = "";
  size_t tl = strlen(topic);
  if (strncmp(l, topic, tl) || (l[tl] != ' ' && l[tl] != 0)) {
    fail(s, "the SAM bridge answered %s with '%.40s': is this I2P's SAM port (7656)?", step, l);
    return 0;
  }
  if (!value(l + tl, "RESULT", s->result, sizeof(s->result)))
    snprintf(s->result, sizeof(s->result), "%s", "");
  if (strcmp(s->result, "OK")) {
    (void)value(l + tl, "MESSAGE", msg, sizeof(msg));
    fail(s, "the SAM bridge refused %s: %s%s%s", step, s->result[0] ? s->result : "no RESULT", msg[0] ? ": " : "", msg);
    return 0;
  }
  return 1;
}

static void
session_create(nn_sam_t *s)
{
  unsigned q = s->cfg.tunnels ? s->cfg.tunnels : 3;
  command(s,
          "SESSION CREATE STYLE=STREAM ID=%s DESTINATION=%s SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0 "
          "inbound.quantity=%u outbound.quantity=%u\n",
          s->id, s->priv[0] ? s->priv : "TRANSIENT", q, q);
  s->state = S_SESSION;
}

static nn_sam_status_t
on_line(nn_sam_t *s, char *l)
{
  switch (s->state) {
  case S_HELLO:
    if (!ok_reply(s, l, "HELLO REPLY", "HELLO"))
      return NN_SAM_FAILED;
    if (s->cfg.role == NN_SAM_SESSION) {
      if (!s->priv[0] && !s->cfg.transient) {
        command(s, "DEST GENERATE SIGNATURE_TYPE=7\n");
        s->state = S_DEST;
      } else {
        session_create(s);
      }
    } else if (s->cfg.role == NN_SAM_CONNECT) {
      command(s, "STREAM CONNECT ID=%s DESTINATION=%s SILENT=false\n", s->id, s->dest);
      s->state = S_STREAM;
    } else {
      command(s, "STREAM ACCEPT ID=%s SILENT=false\n", s->id);
      s->state = S_STREAM;
    }
    return NN_SAM_MORE;
  case S_DEST:
    if (strncmp(l, "DEST REPLY ", 11) || !value(l + 11, "PRIV", s->priv, sizeof(s->priv)) ||
        nn_sam_dest_addr(&s->addr, s->priv, 1))
      return fail(s, "the SAM bridge's DEST REPLY has no usable PRIV");
    s->generated = 1;
    session_create(s);
    return NN_SAM_MORE;
  case S_SESSION: {
    if (!ok_reply(s, l, "SESSION STATUS", "SESSION CREATE"))
      return NN_SAM_FAILED;
    char *d = malloc(NN_SAM_MAX_KEY + 1);
    int have = d && value(l + 14, "DESTINATION", d, NN_SAM_MAX_KEY + 1);
    if (have && !s->priv[0])
      snprintf(s->priv, sizeof(s->priv), "%s", d); /* a transient key: the router made it */
    if (d)
      OPENSSL_cleanse(d, NN_SAM_MAX_KEY + 1);
    free(d);
    if (!s->priv[0] || nn_sam_dest_addr(&s->addr, s->priv, 1))
      return fail(s, "the SAM bridge's SESSION STATUS gives no usable destination");
    s->state = S_READY;
    return NN_SAM_READY;
  }
  case S_STREAM:
    if (!ok_reply(s, l, "STREAM STATUS", s->cfg.role == NN_SAM_CONNECT ? "STREAM CONNECT" : "STREAM ACCEPT"))
      return NN_SAM_FAILED;
    if (s->cfg.role == NN_SAM_CONNECT) {
      if (nn_sam_dest_addr(&s->addr, s->dest, 0))
        s->addr.type = 0;
      s->state = S_READY;
      return NN_SAM_READY;
    }
    s->state = S_PEERDEST;
    return NN_SAM_MORE;
  case S_PEERDEST: {
    /* the peer's destination, alone (SAM 3.1) or followed by FROM_PORT/TO_PORT (3.2) */
    l[strcspn(l, " ")] = 0;
    if (strlen(l) > NN_SAM_MAX_DEST || nn_sam_dest_addr(&s->addr, l, 0))
      return fail(s, "the SAM bridge's accepted stream does not start with a valid destination");
    snprintf(s->dest, sizeof(s->dest), "%s", l);
    s->state = S_READY;
    return NN_SAM_READY;
  }
  case S_LOOKUP:
    if (strncmp(l, "NAMING REPLY", 12) || (l[12] != ' ' && l[12])) {
      return fail(s, "the SAM bridge answered NAMING LOOKUP with '%.40s'", l);
    }
    s->lookup[0] = 0;
    if (!value(l + 12, "RESULT", s->result, sizeof(s->result)))
      s->result[0] = 0;
    if (!strcmp(s->result, "OK") && !value(l + 12, "VALUE", s->lookup, sizeof(s->lookup)))
      return fail(s, "the SAM bridge's NAMING REPLY has RESULT=OK but no VALUE");
    s->state = S_READY;
    return NN_SAM_LOOKED_UP;
  default: return fail(s, "the SAM bridge sent a line we did not ask for");
  }
}

nn_sam_status_t
nn_sam_input(nn_sam_t *s, const uint8_t *d, size_t n, size_t *used)
{
  size_t k = 0;
  *used = 0;
  if (s->state == S_FAILED)
    return NN_SAM_FAILED;
  if (s->state == S_READY && s->cfg.role != NN_SAM_SESSION)
    return NN_SAM_READY; /* the stream's bytes are the caller's */
  while (k < n) {
    if (s->out_len)
      return fail(s, "the SAM bridge answered ahead of our request");
    uint8_t c = d[k++];
    if (s->line_len == NN_SAM_MAX_LINE - 1) {
      *used = k;
      return fail(s, "a SAM reply line longer than %d bytes", NN_SAM_MAX_LINE);
    }
    if (c == 0) {
      *used = k;
      return fail(s, "a NUL byte in a SAM reply");
    }
    if (c != '\n') {
      s->line[s->line_len++] = (char)c;
      continue;
    }
    if (s->line_len && s->line[s->line_len - 1] == '\r')
      s->line_len--;
    s->line[s->line_len] = 0;
    nn_sam_status_t st = on_line(s, s->line);
    OPENSSL_cleanse(s->line, s->line_len);
    s->line_len = 0;
    if (st != NN_SAM_MORE) {
      *used = k;
      return st;
    }
  }
  *used = k;
  return NN_SAM_MORE;
}

nn_err_t
nn_sam_lookup(nn_sam_t *s, const char *name)
{
  if (s->cfg.role != NN_SAM_SESSION || s->state != S_READY)
    return NN_ERR_ARG;
  if (!name || !name[0] || strlen(name) > 255 || strpbrk(name, " \r\n\""))
    return NN_ERR_ARG;
  command(s, "NAMING LOOKUP NAME=%s\n", name);
  s->state = S_LOOKUP;
  return NN_OK;
}

const char *
nn_sam_why(const nn_sam_t *s)
{
  return s->why[0] ? s->why : "no failure";
}

const char *
nn_sam_result(const nn_sam_t *s)
{
  return s->result;
}

const char *
nn_sam_priv(const nn_sam_t *s)
{
  return s->priv;
}

int
nn_sam_generated(const nn_sam_t *s)
{
  return s->generated;
}

const nn_addr_t *
nn_sam_addr(const nn_sam_t *s)
{
  return &s->addr;
}

const char *
nn_sam_lookup_dest(const nn_sam_t *s)
{
  return s->lookup;
}
