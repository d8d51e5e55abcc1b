/*
 * The control API's pure parsers (api_parse.h): request bodies, query strings, the bearer
 * header and the token file. No I/O here, so the fuzzer drives exactly what the server runs.
 */
#include "node/api_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "lib/hex.h"

#define QUOTE_MAX 32 /* input bytes quoted back in a message */

static void say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t why_len, const char *fmt, ...)
{
  va_list ap;
  if (!why || !why_len)
    return;
  va_start(ap, fmt);
  vsnprintf(why, why_len, fmt, ap);
  va_end(ap);
}

/* Quote client bytes for a message: printable ASCII only (no quote or backslash, so the result
 * needs no JSON escaping and cannot break a log line), at most QUOTE_MAX of them. */
static void
quote(char *dst, size_t n, const char *src, size_t len)
{
  size_t o = 0, i;
  if (!n)
    return;
  for (i = 0; i < len && i < QUOTE_MAX && o + 1 < n; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
  }
  if (i < len && o + 4 < n) {
    memcpy(dst + o, "...", 3);
    o += 3;
  }
  dst[o] = 0;
}

static int
lower(int c)
{
  return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Case-insensitive equality of src[0..len) with the lower-case literal lit. */
static int
ieq(const char *src, size_t len, const char *lit)
{
  if (strlen(lit) != len)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (lower((unsigned char)src[i]) != lit[i])
      return 0;
  return 1;
}

nn_api_ctype_t
nn_api_parse_ctype(const char *value)
{
  const char *p, *e;
  if (!value)
    return NN_API_CT_MISSING;
  p = value;
  while (*p == ' ' || *p == '\t')
    p++;
  if (!*p)
    return NN_API_CT_MISSING;
  e = p;
  while (*e && *e != ';' && *e != ' ' && *e != '\t')
    e++;
  /* only whitespace may sit between the media type and its parameters */
  for (const char *q = e; *q && *q != ';'; q++)
    if (*q != ' ' && *q != '\t')
      return NN_API_CT_OTHER;
  if (ieq(p, (size_t)(e - p), "application/octet-stream"))
    return NN_API_CT_RAW;
  if (ieq(p, (size_t)(e - p), "application/json"))
    return NN_API_CT_JSON;
  return NN_API_CT_OTHER;
}

void
nn_api_body_free(nn_api_body_t *b)
{
  if (!b)
    return;
  free(b->owned);
  memset(b, 0, sizeof(*b));
}

static int
is_hex(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
parse_json_body(const uint8_t *body, size_t len, size_t max_tx, nn_api_body_t *out, char *why, size_t why_len)
{
  json_error_t jerr;
  json_t *root, *tx;
  const char *key, *hex;
  size_t hexlen;
  char q[QUOTE_MAX + 8];
  int status = 400;

  if (len == 0) {
    say(why, why_len, "empty body: send {\"tx\": \"HEX\"} with Content-Type: application/json");
    return 400;
  }
  /* Duplicate keys would make "which tx?" ambiguous; NUL in strings is refused by default. */
  root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    quote(q, sizeof(q), jerr.text, strlen(jerr.text));
    say(why, why_len,
        "malformed JSON at line %d column %d (%s): send {\"tx\": \"HEX\"} with Content-Type: "
        "application/json, or the raw bytes with Content-Type: application/octet-stream",
        jerr.line, jerr.column, q);
    return 400;
  }
  if (!json_is_object(root)) {
    say(why, why_len, "the JSON body must be an object {\"tx\": \"HEX\"}");
    goto out;
  }
  json_object_foreach(root, key, tx)
  {
    if (strcmp(key, "tx") != 0) {
      quote(q, sizeof(q), key, strlen(key));
      say(why, why_len,
          "unknown field \"%s\" in the body: the only field is \"tx\" (the "
          "transaction in hex)",
          q);
      goto out;
    }
  }
  tx = json_object_get(root, "tx");
  if (!tx) {
    say(why, why_len, "missing field \"tx\": send {\"tx\": \"HEX\"} (the transaction in hex)");
    goto out;
  }
  if (!json_is_string(tx)) {
    say(why, why_len, "field \"tx\" must be a string of hex digits");
    goto out;
  }
  hex = json_string_value(tx);
  hexlen = json_string_length(tx);
  if (hexlen == 0) {
    say(why, why_len, "empty transaction: \"tx\" holds no hex digits");
    goto out;
  }
  if (hexlen / 2 > max_tx) {
    say(why, why_len, "transaction of %zu bytes is over the limit of %zu bytes", hexlen / 2, max_tx);
    status = 413;
    goto out;
  }
  if (hexlen % 2) {
    say(why, why_len, "field \"tx\" has an odd number of hex digits (%zu): two digits per byte", hexlen);
    goto out;
  }
  for (size_t i = 0; i < hexlen; i++) {
    if (!is_hex(hex[i])) {
      say(why, why_len, "field \"tx\" is not hex: character %zu is not 0-9, a-f or A-F", i);
      goto out;
    }
  }
  if (!(out->owned = malloc(hexlen / 2))) {
    say(why, why_len, "out of memory for a %zu-byte transaction", hexlen / 2);
    status = 503;
    goto out;
  }
  if (nn_hex_decode(out->owned, hexlen / 2, hex) != NN_OK) {
    /* cannot happen after the checks above (jansson refuses NUL inside strings) */
    say(why, why_len, "field \"tx\" is not hex");
    nn_api_body_free(out);
    goto out;
  }
  out->tx = out->owned;
  out->len = hexlen / 2;
  status = 200;
out:
  json_decref(root);
  return status;
}

int
nn_api_parse_submit(const char *content_type, const uint8_t *body, size_t len, size_t max_tx, nn_api_body_t *out,
                    char *why, size_t why_len)
{
  char q[QUOTE_MAX + 8];
  memset(out, 0, sizeof(*out));
  if (why && why_len)
    why[0] = 0;
  switch (nn_api_parse_ctype(content_type)) {
  case NN_API_CT_RAW:
    if (len == 0) {
      say(why, why_len, "empty transaction: the body holds no bytes");
      return 400;
    }
    if (len > max_tx) {
      say(why, why_len, "transaction of %zu bytes is over the limit of %zu bytes", len, max_tx);
      return 413;
    }
    out->tx = body;
    out->len = len;
    return 200;
  case NN_API_CT_JSON: return parse_json_body(body, len, max_tx, out, why, why_len);
  case NN_API_CT_MISSING:
    say(why, why_len,
        "missing Content-Type: use application/octet-stream for the raw "
        "transaction bytes or application/json for {\"tx\": \"HEX\"}");
    return 415;
  case NN_API_CT_OTHER:
  default:
    quote(q, sizeof(q), content_type, strlen(content_type));
    say(why, why_len,
        "unsupported Content-Type \"%s\": use application/octet-stream for the raw "
        "transaction bytes or application/json for {\"tx\": \"HEX\"}",
        q);
    return 415;
  }
}

/* ---- query strings ---- */

typedef struct qparam_t {
  const char *name;
  unsigned bit;
} qparam_t;

static const qparam_t qparams[] = {
  { "since", NN_API_Q_SINCE },
  { "limit", NN_API_Q_LIMIT },
  { "wait", NN_API_Q_WAIT },
  { "data", NN_API_Q_DATA },
};

static void
allowed_list(char *dst, size_t n, unsigned allowed)
{
  size_t o = 0;
  dst[0] = 0;
  for (size_t i = 0; i < sizeof(qparams) / sizeof(qparams[0]); i++) {
    if (!(allowed & qparams[i].bit))
      continue;
    int w = snprintf(dst + o, n - o, "%s%s", o ? ", " : "", qparams[i].name);
    if (w < 0 || (size_t)w >= n - o)
      return;
    o += (size_t)w;
  }
  if (!o)
    snprintf(dst, n, "none");
}

/* Plain decimal digits, at most 20 of them, value <= max. */
static int
parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;
  if (len == 0 || len > 20)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

int
nn_api_parse_query(const char *query, unsigned allowed, uint32_t max_wait_s, const char *route, nn_api_query_t *out,
                   char *why, size_t why_len)
{
  const char *p = query;
  unsigned seen = 0;
  char q[QUOTE_MAX + 8], list[64];

  if (why && why_len)
    why[0] = 0;
  if (!route)
    route = "this route";
  out->since = 0;
  out->limit = NN_API_DEFAULT_LIMIT;
  out->wait_s = 0;
  out->data = 0;
  if (!p || !*p)
    return 200;
  allowed_list(list, sizeof(list), allowed);
  for (;;) {
    const char *end = strchr(p, '&'), *eq;
    size_t plen = end ? (size_t)(end - p) : strlen(p), nlen, vlen;
    const qparam_t *qp = NULL;
    uint64_t v;

    if (plen == 0) {
      say(why, why_len, "empty parameter in the query string of %s (a stray '&')", route);
      return 400;
    }
    eq = memchr(p, '=', plen);
    nlen = eq ? (size_t)(eq - p) : plen;
    for (size_t i = 0; i < sizeof(qparams) / sizeof(qparams[0]); i++)
      if (strlen(qparams[i].name) == nlen && !memcmp(qparams[i].name, p, nlen))
        qp = &qparams[i];
    if (!qp || !(allowed & qp->bit)) {
      quote(q, sizeof(q), p, nlen);
      say(why, why_len, "unknown query parameter \"%s\" for %s: allowed are %s", q, route, list);
      return 400;
    }
    if (seen & qp->bit) {
      say(why, why_len, "query parameter \"%s\" given twice", qp->name);
      return 400;
    }
    seen |= qp->bit;
    if (!eq) {
      say(why, why_len, "query parameter \"%s\" needs a value (%s=N)", qp->name, qp->name);
      return 400;
    }
    vlen = plen - nlen - 1;
    quote(q, sizeof(q), eq + 1, vlen);
    switch (qp->bit) {
    case NN_API_Q_SINCE:
      if (parse_dec(eq + 1, vlen, (uint64_t)INT64_MAX, &v)) {
        say(why, why_len,
            "since=\"%s\" is not a sequence number: use a decimal integer from 0 "
            "to %lld (the \"next\" of the previous answer)",
            q, (long long)INT64_MAX);
        return 400;
      }
      out->since = v;
      break;
    case NN_API_Q_LIMIT:
      if (parse_dec(eq + 1, vlen, NN_API_MAX_LIMIT, &v) || v == 0) {
        say(why, why_len, "limit=\"%s\" is out of range: use an integer from 1 to %d", q, NN_API_MAX_LIMIT);
        return 400;
      }
      out->limit = (uint32_t)v;
      break;
    case NN_API_Q_WAIT:
      if (parse_dec(eq + 1, vlen, max_wait_s, &v)) {
        say(why, why_len, "wait=\"%s\" is out of range: use whole seconds from 0 to %u", q, (unsigned)max_wait_s);
        return 400;
      }
      out->wait_s = (uint32_t)v;
      break;
    case NN_API_Q_DATA:
    default:
      if (parse_dec(eq + 1, vlen, 1, &v)) {
        say(why, why_len, "data=\"%s\" is not 0 or 1 (1 includes the transaction bytes in hex)", q);
        return 400;
      }
      out->data = (int)v;
      break;
    }
    if (!end)
      break;
    p = end + 1;
  }
  return 200;
}

/* ---- token ---- */

static nn_err_t
decode_token(const char *hex, size_t len, uint8_t token[NN_API_TOKEN_LEN])
{
  char buf[NN_API_TOKEN_HEX + 1];
  nn_err_t err;
  if (len != NN_API_TOKEN_HEX)
    return NN_ERR_FORMAT;
  memcpy(buf, hex, NN_API_TOKEN_HEX);
  buf[NN_API_TOKEN_HEX] = 0;
  err = nn_hex_decode(token, NN_API_TOKEN_LEN, buf);
  OPENSSL_cleanse(buf, sizeof(buf));
  if (err)
    OPENSSL_cleanse(token, NN_API_TOKEN_LEN);
  return err ? NN_ERR_FORMAT : NN_OK;
}

nn_err_t
nn_api_parse_token(const uint8_t *buf, size_t len, uint8_t token[NN_API_TOKEN_LEN])
{
  if (len == NN_API_TOKEN_HEX + 1 && buf[NN_API_TOKEN_HEX] == '\n')
    len = NN_API_TOKEN_HEX;
  else if (len == NN_API_TOKEN_HEX + 2 && buf[NN_API_TOKEN_HEX] == '\r' && buf[NN_API_TOKEN_HEX + 1] == '\n')
    len = NN_API_TOKEN_HEX;
  return decode_token((const char *)buf, len, token);
}

nn_err_t
nn_api_parse_bearer(const char *value, uint8_t token[NN_API_TOKEN_LEN])
{
  const char *p;
  if (!value || strlen(value) < 7 || !ieq(value, 6, "bearer") || value[6] != ' ')
    return NN_ERR_FORMAT;
  p = value + 6;
  while (*p == ' ')
    p++;
  return decode_token(p, strlen(p), token);
}
