/* The STUN server (stunsrv.h): Binding requests answered within per-host and total budgets. */
#include "nat/stunsrv.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/keyhash.h"
#include "lib/wire.h"
#include "nat/stun.h"

#define PROBES 8 /* table slots looked at per host: the least recently seen of them is reused */

typedef struct host_t {
  uint8_t key[NN_ADDR_HOST_KEY_MAX];
  uint8_t key_len;
  double tokens;
  uint64_t seen_ms;
} host_t;

struct nn_stunsrv_t {
  nn_stunsrv_cfg_t cfg;
  nn_keyhash_t kh;
  host_t *hosts;
  double total_tokens;
  uint64_t total_at;
  nn_stunsrv_stats_t st;
};

void
nn_stunsrv_cfg_default(nn_stunsrv_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->per_source_per_s = 5;
  cfg->per_source_burst = 20;
  cfg->total_per_s = 1000;
  cfg->max_sources = 4096;
}

nn_err_t
nn_stunsrv_new(nn_stunsrv_t **out, const nn_stunsrv_cfg_t *cfg)
{
  nn_stunsrv_t *s;
  nn_err_t err;
  *out = NULL;
  if ((cfg->addr[0].type != NN_ADDR_IPV4 && cfg->addr[0].type != NN_ADDR_IPV6) || !cfg->per_source_per_s ||
      !cfg->per_source_burst || !cfg->total_per_s || cfg->max_sources < PROBES || cfg->max_sources > (1u << 22))
    return NN_ERR_ARG;
  for (unsigned i = 1; i < NN_STUNSRV_SOCKETS; i++)
    if (cfg->addr[i].type && cfg->addr[i].type != cfg->addr[0].type)
      return NN_ERR_ARG;
  if (!(s = calloc(1, sizeof(*s))) || !(s->hosts = calloc(cfg->max_sources, sizeof(host_t)))) {
    free(s);
    return NN_ERR_NOMEM;
  }
  s->cfg = *cfg;
  s->total_tokens = cfg->total_per_s;
  if ((err = nn_keyhash_init(&s->kh, cfg->rng))) {
    nn_stunsrv_free(s);
    return err;
  }
  *out = s;
  return NN_OK;
}

void
nn_stunsrv_free(nn_stunsrv_t *s)
{
  if (!s)
    return;
  nn_keyhash_free(&s->kh);
  free(s->hosts);
  free(s);
}

static double
refill(double tokens, double rate, double cap, uint64_t from, uint64_t now)
{
  tokens += now > from ? rate * (double)(now - from) / 1000.0 : 0;
  return tokens > cap ? cap : tokens;
}

/* A token from \a from's host bucket: 1, or 0 if it has none. */
static int
host_token(nn_stunsrv_t *s, const nn_addr_t *from, uint64_t now)
{
  uint8_t key[NN_ADDR_HOST_KEY_MAX];
  size_t kl = nn_addr_host_key(from, key);
  uint32_t n = s->cfg.max_sources, i0 = (uint32_t)(nn_keyhash(&s->kh, key, kl) % n);
  host_t *h = NULL, *oldest = NULL;
  for (uint32_t p = 0; p < PROBES; p++) {
    host_t *c = &s->hosts[(i0 + p) % n];
    if (c->key_len == kl && !memcmp(c->key, key, kl)) {
      h = c;
      break;
    }
    /* an empty slot, else the least recently seen host */
    if (!oldest || (oldest->key_len && (!c->key_len || c->seen_ms < oldest->seen_ms)))
      oldest = c;
  }
  if (h) {
    h->tokens = refill(h->tokens, s->cfg.per_source_per_s, s->cfg.per_source_burst, h->seen_ms, now);
  } else {
    h = oldest;
    memcpy(h->key, key, kl);
    h->key_len = (uint8_t)kl;
    h->tokens = s->cfg.per_source_burst;
  }
  h->seen_ms = now;
  if (h->tokens < 1)
    return 0;
  h->tokens -= 1;
  return 1;
}

/* Comprehension-required attributes (below 0x8000) a Binding request may carry. */
static int
understood(uint16_t type)
{
  return type >= 0x8000 || type == NN_STUN_A_CHANGE_REQUEST || type == NN_STUN_A_USERNAME ||
         type == NN_STUN_A_MESSAGE_INTEGRITY || type == NN_STUN_A_MESSAGE_INTEGRITY_SHA256 ||
         type == NN_STUN_A_PRIORITY || type == NN_STUN_A_USE_CANDIDATE || type == NN_STUN_A_PADDING;
}

int
nn_stunsrv_input(nn_stunsrv_t *s, unsigned sock, const nn_addr_t *from, const uint8_t *msg, size_t len, uint64_t now_ms,
                 uint8_t out[NN_STUNSRV_MAX_ANSWER], size_t *out_len, unsigned *out_sock)
{
  nn_stun_msg_t m;
  nn_stun_builder_t b;
  uint32_t change = 0;
  uint8_t unknown[8];
  size_t nunknown = 0;

  if (sock >= NN_STUNSRV_SOCKETS || !s->cfg.addr[sock].type || !nn_stun_is(msg, len)) {
    s->st.not_stun++;
    return 0;
  }
  if (nn_stun_parse(&m, msg, len) || (m.fp >= 0 && nn_stun_check_fingerprint(&m)) ||
      (from->type != NN_ADDR_IPV4 && from->type != NN_ADDR_IPV6)) {
    s->st.malformed++;
    return 0;
  }
  if (m.method != NN_STUN_BINDING || m.cls != NN_STUN_REQUEST) {
    s->st.not_binding_request++;
    return 0;
  }
  /* the server's budget first, so that a flood of distinct sources costs no table work */
  s->total_tokens = refill(s->total_tokens, s->cfg.total_per_s, s->cfg.total_per_s, s->total_at, now_ms);
  s->total_at = now_ms;
  if (s->total_tokens < 1) {
    s->st.overloaded++;
    return 0;
  }
  if (!host_token(s, from, now_ms)) {
    s->st.rate_limited++;
    return 0;
  }
  s->total_tokens -= 1;

  for (uint16_t i = 0; i < m.nattrs; i++)
    if (!understood(m.attrs[i].type) && nunknown < sizeof(unknown) / 2) {
      nn_be16_put(unknown + 2 * nunknown, m.attrs[i].type);
      nunknown++;
    }
  unsigned reply = sock;
  int bad_change = 0;
  if (!nunknown && nn_stun_find(&m, NN_STUN_A_CHANGE_REQUEST)) {
    if (nn_stun_get_u32(&m, NN_STUN_A_CHANGE_REQUEST, &change) ||
        (change & ~(uint32_t)(NN_STUN_CHANGE_IP | NN_STUN_CHANGE_PORT)))
      bad_change = 1;
    reply = sock ^ ((change & NN_STUN_CHANGE_IP) ? 2u : 0u) ^ ((change & NN_STUN_CHANGE_PORT) ? 1u : 0u);
    if (!s->cfg.addr[reply].type)
      bad_change = 1;
  }
  nn_stun_build_init(&b, out, NN_STUNSRV_MAX_ANSWER, NN_STUN_BINDING,
                     nunknown || bad_change ? NN_STUN_ERROR : NN_STUN_SUCCESS, m.tid);
  if (nunknown) {
    nn_stun_add_error(&b, 420, "Unknown Attribute");
    nn_stun_add(&b, NN_STUN_A_UNKNOWN_ATTRIBUTES, unknown, 2 * nunknown);
    reply = sock;
  } else if (bad_change) {
    nn_stun_add_error(&b, 420, "Cannot change as asked");
    reply = sock;
  } else {
    nn_stun_add_addr(&b, NN_STUN_A_XOR_MAPPED_ADDRESS, from);
    nn_stun_add_addr(&b, NN_STUN_A_RESPONSE_ORIGIN, &s->cfg.addr[reply]);
    if (s->cfg.addr[3 - sock].type)
      nn_stun_add_addr(&b, NN_STUN_A_OTHER_ADDRESS, &s->cfg.addr[3 - sock]);
  }
  nn_stun_add_fingerprint(&b);
  if (nn_stun_build_finish(&b, out_len))
    return 0;
  *out_sock = reply;
  if (nunknown || bad_change)
    s->st.errors_sent++;
  else
    s->st.answered++;
  return 1;
}

void
nn_stunsrv_stats(const nn_stunsrv_t *s, nn_stunsrv_stats_t *out)
{
  *out = s->st;
}
