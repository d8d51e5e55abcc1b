/* The control API's gate (api_gate.h). */
#include "node/api_gate.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "node/api_parse.h"

enum { GATE_HEAD, GATE_BODY, GATE_DROP };

void
nn_api_gate_init(nn_api_gate_t *g, const nn_api_gate_cfg_t *cfg)
{
  memset(g, 0, sizeof(*g));
  g->cfg = cfg;
  g->state = GATE_HEAD;
}

void
nn_api_gate_clear(nn_api_gate_t *g)
{
  if (g->head) {
    OPENSSL_cleanse(g->head, g->head_cap);
    free(g->head);
  }
  g->head = NULL;
  g->head_len = g->head_cap = 0;
}

/* Room for \a need bytes of header section (at most NN_API_GATE_HEAD_MAX): 0 if out of memory. */
static int
head_room(nn_api_gate_t *g, size_t need)
{
  size_t cap = g->head_cap ? g->head_cap : 1024;
  uint8_t *nb;
  if (need <= g->head_cap)
    return 1;
  while (cap < need)
    cap *= 2;
  if (cap > NN_API_GATE_HEAD_MAX)
    cap = NN_API_GATE_HEAD_MAX;
  if (!(nb = malloc(cap)))
    return 0;
  if (g->head) {
    memcpy(nb, g->head, g->head_len);
    OPENSSL_cleanse(g->head, g->head_cap);
    free(g->head);
  }
  g->head = nb;
  g->head_cap = cap;
  return 1;
}

/* What one header section says, as far as the gate cares. */
typedef struct head_t {
  const uint8_t *method, *path, *query, *host, *auth, *origin, *site;
  size_t method_len, path_len, query_len, host_len, auth_len, origin_len, site_len;
  int chunked, has_length, dup;
  uint64_t length;
} head_t;

static int
name_is(const uint8_t *p, size_t n, const char *name)
{
  size_t k = strlen(name);
  if (n != k)
    return 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i] >= 'A' && p[i] <= 'Z' ? (uint8_t)(p[i] + 32) : p[i];
    if (c != (uint8_t)name[i])
      return 0;
  }
  return 1;
}

/* "METHOD SP TARGET SP HTTP/x.y"; the path is the target up to '?'. */
static int
parse_request_line(const uint8_t *p, size_t n, head_t *h)
{
  const uint8_t *sp1 = memchr(p, ' ', n), *sp2;
  if (!sp1 || sp1 == p)
    return 0;
  h->method = p;
  h->method_len = (size_t)(sp1 - p);
  sp2 = memchr(sp1 + 1, ' ', n - h->method_len - 1);
  if (!sp2 || sp2 == sp1 + 1 || (size_t)(p + n - sp2 - 1) < 5 || memcmp(sp2 + 1, "HTTP/", 5))
    return 0;
  h->path = sp1 + 1;
  h->path_len = (size_t)(sp2 - h->path);
  const uint8_t *q = memchr(h->path, '?', h->path_len);
  if (q) {
    h->query = q + 1;
    h->query_len = (size_t)(h->path + h->path_len - h->query);
    h->path_len = (size_t)(q - h->path);
  }
  return 1;
}

static int
parse_length(const uint8_t *v, size_t n, uint64_t *out)
{
  uint64_t x = 0;
  if (!n || n > 18)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return 0;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *out = x;
  return 1;
}

/* One "Name: value" line. 0 if malformed. */
static int
parse_header(const uint8_t *p, size_t n, head_t *h)
{
  const uint8_t *colon = memchr(p, ':', n), *v;
  size_t nl, vl;
  if (!colon || colon == p || p[0] == ' ' || p[0] == '\t')
    return 0; /* no name, or an obsolete folded line */
  nl = (size_t)(colon - p);
  if (memchr(p, ' ', nl) || memchr(p, '\t', nl))
    return 0;
  v = colon + 1;
  vl = n - nl - 1;
  while (vl && (*v == ' ' || *v == '\t'))
    v++, vl--;
  while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
    vl--;
  if (name_is(p, nl, "origin")) {
    h->dup |= h->origin != NULL;
    h->origin = v;
    h->origin_len = vl;
  } else if (name_is(p, nl, "sec-fetch-site")) {
    h->dup |= h->site != NULL;
    h->site = v;
    h->site_len = vl;
  } else if (name_is(p, nl, "transfer-encoding")) {
    h->chunked = 1;
  } else if (name_is(p, nl, "host")) {
    h->dup |= h->host != NULL;
    h->host = v;
    h->host_len = vl;
  } else if (name_is(p, nl, "authorization")) {
    h->dup |= h->auth != NULL;
    h->auth = v;
    h->auth_len = vl;
  } else if (name_is(p, nl, "content-length")) {
    h->dup |= h->has_length;
    h->has_length = 1;
    if (!parse_length(v, vl, &h->length))
      return 0;
  }
  return 1;
}

static int
parse_head(const uint8_t *p, size_t n, head_t *h)
{
  int first = 1;
  memset(h, 0, sizeof(*h));
  while (n) {
    const uint8_t *nl = memchr(p, '\n', n);
    size_t len = nl ? (size_t)(nl - p) : n, adv = nl ? len + 1 : n;
    if (len && p[len - 1] == '\r')
      len--;
    if (!len) /* the empty line that ends the section */
      break;
    if (first ? !parse_request_line(p, len, h) : !parse_header(p, len, h))
      return 0;
    first = 0;
    p += adv;
    n -= adv;
  }
  return !first && !h->dup;
}

static int
token_ok(const nn_api_gate_t *g, const head_t *h)
{
  char v[NN_API_TOKEN_HEX + 64];
  uint8_t tok[NN_API_TOKEN_LEN];
  int ok = 0;
  if (!h->auth || h->auth_len >= sizeof(v))
    return 0;
  memcpy(v, h->auth, h->auth_len);
  v[h->auth_len] = 0;
  if (nn_api_parse_bearer(v, tok) == NN_OK)
    ok = CRYPTO_memcmp(tok, g->cfg->token, NN_API_TOKEN_LEN) == 0;
  OPENSSL_cleanse(tok, sizeof(tok));
  OPENSSL_cleanse(v, sizeof(v));
  return ok;
}

/* Host's name without its port: "[::1]:9801" -> "[::1]", "localhost" -> "localhost". */
static size_t
host_name_len(const uint8_t *p, size_t n)
{
  if (n && p[0] == '[') {
    const uint8_t *e = memchr(p, ']', n);
    return e ? (size_t)(e - p) + 1 : n;
  }
  const uint8_t *c = memchr(p, ':', n);
  return c ? (size_t)(c - p) : n;
}

/* A port after the name, if any: digits only. */
static int
host_port_ok(const uint8_t *p, size_t n)
{
  if (!n)
    return 1;
  if (p[0] != ':' || n == 1 || n > 6)
    return 0;
  for (size_t i = 1; i < n; i++)
    if (p[i] < '0' || p[i] > '9')
      return 0;
  return 1;
}

static int
host_ok(const nn_api_gate_t *g, const head_t *h)
{
  static const char *const loopback[] = { "127.0.0.1", "localhost", "[::1]" };
  if (!g->cfg->nhosts)
    return 1;
  if (!h->host)
    return 0;
  size_t nl = host_name_len(h->host, h->host_len);
  if (!host_port_ok(h->host + nl, h->host_len - nl))
    return 0;
  for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
    if (name_is(h->host, nl, loopback[i]))
      return 1;
  for (size_t i = 0; i < g->cfg->nhosts; i++)
    if (strlen(g->cfg->hosts[i]) == h->host_len && name_is(h->host, h->host_len, g->cfg->hosts[i]))
      return 1;
  return 0;
}

/* No Origin (curl, the CLI, a same-origin GET), or exactly this API's own origin. */
static int
origin_ok(const head_t *h)
{
  if (!h->origin)
    return 1;
  return h->host && h->origin_len == 7 + h->host_len && name_is(h->origin, 7, "http://") &&
         !memcmp(h->origin + 7, h->host, h->host_len);
}

static int
site_ok(const head_t *h)
{
  return !h->site || name_is(h->site, h->site_len, "same-origin") || name_is(h->site, h->site_len, "none");
}

/* A query parameter that carries a credential: token=, access_token=, api_token=... */
static int
query_has_token(const head_t *h)
{
  static const char *const names[] = { "token", "access_token", "api_token", "bearer", "authorization" };
  const uint8_t *p = h->query, *end;
  if (!p)
    return 0;
  end = p + h->query_len;
  while (p && p < end) {
    const uint8_t *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
    const uint8_t *eq = memchr(p, '=', (size_t)(stop - p));
    size_t nl = (size_t)((eq ? eq : stop) - p);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
      if (name_is(p, nl, names[i]))
        return 1;
    p = amp ? amp + 1 : NULL;
  }
  return 0;
}

/* The status page's files: no data in them, so no token (ui.h). */
static int
is_static(const head_t *h)
{
  int get = name_is(h->method, h->method_len, "get") || name_is(h->method, h->method_len, "head");
  return get && !h->length && h->path_len >= 1 && h->path[0] == '/' &&
         (h->path_len == 1 || (h->path_len > 4 && !memcmp(h->path, "/ui/", 4)));
}

/* The status that refuses the request in g->head[0..n), or 0 to let it through; *why says
 * which rule refused a 403 or 400. */
static int
judge(const nn_api_gate_t *g, size_t n, uint64_t *body, int *why)
{
  head_t h;
  *why = NN_API_GATE_WHY_NONE;
  if (!parse_head(g->head, n, &h))
    return 400;
  if (!host_ok(g, &h))
    return *why = NN_API_GATE_WHY_HOST, 403;
  if (!origin_ok(&h))
    return *why = NN_API_GATE_WHY_ORIGIN, 403;
  if (!site_ok(&h))
    return *why = NN_API_GATE_WHY_FETCH_SITE, 403;
  if (h.chunked)
    return 411;
  if (query_has_token(&h))
    return *why = NN_API_GATE_WHY_QUERY_TOKEN, 400;
  if (is_static(&h)) {
    *body = 0;
    return 0;
  }
  if (!token_ok(g, &h))
    return 401;
  int submit = name_is(h.method, h.method_len, "post") && h.path_len == 6 && !memcmp(h.path, "/v1/tx", 6);
  if (h.length > (submit ? g->cfg->big_body : g->cfg->small_body))
    return 413;
  *body = h.length;
  return 0;
}

static int
refuse(nn_api_gate_t *g, int status, nn_api_gate_out_fn out, void *ctx)
{
  char req[256];
  int n = snprintf(req, sizeof(req),
                   "GET " NN_API_GATE_REFUSED_PATH " HTTP/1.1\r\nHost: gate\r\n" NN_API_GATE_HEADER
                   ": %d %d %s\r\nConnection: close\r\n\r\n",
                   status, g->why, g->cfg->nonce);
  nn_api_gate_clear(g);
  g->state = GATE_DROP;
  g->refused = status;
  out(ctx, (const uint8_t *)req, (size_t)n);
  return status;
}

/* The end of the header section in head[0..n) (the index after its empty line), or 0. */
static size_t
head_end(const uint8_t *h, size_t from, size_t n)
{
  for (size_t i = from; i < n; i++) {
    if (h[i] != '\n')
      continue;
    if (i + 1 < n && h[i + 1] == '\n')
      return i + 2;
    if (i + 2 < n && h[i + 1] == '\r' && h[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

int
nn_api_gate_feed(nn_api_gate_t *g, const uint8_t *in, size_t len, nn_api_gate_out_fn out, void *ctx)
{
  while (len && g->state != GATE_DROP) {
    if (g->state == GATE_BODY) {
      size_t n = len < g->body_left ? len : (size_t)g->body_left;
      out(ctx, in, n);
      in += n;
      len -= n;
      if (!(g->body_left -= n))
        g->state = GATE_HEAD;
      continue;
    }
    /* blank lines between requests are dropped, as servers may */
    while (!g->head_len && len && (*in == '\r' || *in == '\n'))
      in++, len--;
    if (!len)
      break;
    size_t old = g->head_len, room = NN_API_GATE_HEAD_MAX - old, take = len < room ? len : room;
    if (!head_room(g, old + take))
      return refuse(g, 503, out, ctx);
    memcpy(g->head + old, in, take);
    size_t end = head_end(g->head, old > 2 ? old - 2 : 0, old + take);
    if (!end) {
      g->head_len = old + take;
      in += take;
      len -= take;
      if (g->head_len == NN_API_GATE_HEAD_MAX)
        return refuse(g, 431, out, ctx);
      continue;
    }
    uint64_t body = 0;
    int status = judge(g, end, &body, &g->why);
    g->head_len = end;
    if (status)
      return refuse(g, status, out, ctx);
    out(ctx, g->head, end);
    nn_api_gate_clear(g);
    in += end - old;
    len -= end - old;
    g->body_left = body;
    g->state = body ? GATE_BODY : GATE_HEAD;
  }
  return g->refused;
}
