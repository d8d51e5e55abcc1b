/* NAT behaviour discovery (natdisc.h): one test at a time, each a STUN transaction with
 * retransmissions; the answers (or their absence) decide the next test. */
#include "nat/natdisc.h"

#include <stdlib.h>
#include <string.h>

#include "nat/stun.h"

typedef enum step_t { S_T1, S_F2, S_F3, S_M2, S_M3, S_END } step_t;

struct nn_natdisc_t {
  nn_natdisc_cfg_t cfg;
  nn_natdisc_io_t io;
  step_t step;
  uint8_t tid[NN_STUN_TID_LEN];
  uint8_t change;       /* CHANGE-REQUEST flags of the current test */
  nn_addr_t dest, from; /* where the current test goes, and where its answer must come from */
  unsigned sent, max;   /* sends of the current test */
  uint32_t rto;         /* the next wait */
  uint64_t next_at, start_ms;
  nn_addr_t last_mapped; /* of the last mapping test answered */
  nn_natdisc_result_t res;
};

void
nn_natdisc_cfg_default(nn_natdisc_cfg_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->rto_ms = 500;
  cfg->tries = 7;
  cfg->filter_tries = 3;
}

static void
send_request(nn_natdisc_t *d, uint64_t now)
{
  uint8_t buf[64];
  size_t len;
  nn_stun_builder_t b;
  nn_stun_build_init(&b, buf, sizeof(buf), NN_STUN_BINDING, NN_STUN_REQUEST, d->tid);
  if (d->change)
    nn_stun_add_u32(&b, NN_STUN_A_CHANGE_REQUEST, d->change);
  nn_stun_add_fingerprint(&b);
  if (nn_stun_build_finish(&b, &len) == NN_OK)
    d->io.send(d->io.ctx, &d->dest, buf, len);
  d->sent++;
  d->res.requests++;
  /* RFC 8489 6.2.1: waits of rto, 2 rto, 4 rto ...; after the last send, 16 times the first */
  d->next_at = now + (d->sent == d->max ? 16ull * d->cfg.rto_ms : d->rto);
  d->rto *= 2;
}

static void
finish(nn_natdisc_t *d, nn_natdisc_state_t st, uint64_t now)
{
  d->step = S_END;
  d->res.state = st;
  d->res.elapsed_ms = now - d->start_ms;
  d->next_at = UINT64_MAX;
}

/* The server's address with the other's host and/or port. */
static nn_addr_t
mix_addr(const nn_addr_t *host_of, const nn_addr_t *port_of)
{
  nn_addr_t a = *host_of;
  a.port = port_of->port;
  return a;
}

static void
start(nn_natdisc_t *d, step_t s, uint64_t now)
{
  const nn_addr_t *srv = &d->cfg.server, *oth = &d->res.other;
  d->step = s;
  d->sent = 0;
  d->rto = d->cfg.rto_ms;
  d->change = 0;
  d->max = d->cfg.tries;
  switch (s) {
  case S_T1: d->dest = d->from = *srv; break;
  case S_F2:
    d->dest = *srv;
    d->from = *oth;
    d->change = NN_STUN_CHANGE_IP | NN_STUN_CHANGE_PORT;
    d->max = d->cfg.filter_tries;
    break;
  case S_F3:
    d->dest = *srv;
    d->from = mix_addr(srv, oth);
    d->change = NN_STUN_CHANGE_PORT;
    d->max = d->cfg.filter_tries;
    break;
  case S_M2: d->dest = d->from = mix_addr(oth, srv); break;
  case S_M3: d->dest = d->from = *oth; break;
  case S_END: return;
  }
  if (nn_rng_fill(d->cfg.rng, d->tid, sizeof(d->tid))) {
    finish(d, NN_NATDISC_FAILED, now);
    return;
  }
  send_request(d, now);
}

/* After the filtering tests: the mapping tests, unless there is no NAT to map. */
static void
filtering_done(nn_natdisc_t *d, nn_nat_filtering_t f, uint64_t now)
{
  d->res.filtering = f;
  if (d->res.mapping == NN_NAT_MAP_NONE)
    finish(d, NN_NATDISC_DONE, now);
  else
    start(d, S_M2, now);
}

static void
timed_out(nn_natdisc_t *d, uint64_t now)
{
  switch (d->step) {
  case S_T1: finish(d, NN_NATDISC_FAILED, now); break;
  case S_F2: start(d, S_F3, now); break;
  case S_F3: filtering_done(d, NN_NAT_FILTER_APDF, now); break;
  case S_M2:
  case S_M3: finish(d, NN_NATDISC_DONE, now); break; /* the server's other address is silent */
  case S_END: break;
  }
}

static void
answered(nn_natdisc_t *d, const nn_stun_msg_t *m, const nn_addr_t *mapped, uint64_t now)
{
  switch (d->step) {
  case S_T1:
    d->res.mapped = *mapped;
    if (!nn_addr_is_any(&d->cfg.local) && nn_addr_equal(mapped, &d->cfg.local))
      d->res.mapping = NN_NAT_MAP_NONE;
    if (nn_stun_get_addr(m, NN_STUN_A_OTHER_ADDRESS, &d->res.other) || d->res.other.type != d->cfg.server.type ||
        nn_addr_same_host(&d->res.other, &d->cfg.server) || d->res.other.port == d->cfg.server.port) {
      memset(&d->res.other, 0, sizeof(d->res.other));
      finish(d, NN_NATDISC_PARTIAL, now); /* RFC 5780 needs two addresses and two ports */
      return;
    }
    start(d, S_F2, now);
    break;
  case S_F2: filtering_done(d, NN_NAT_FILTER_EIF, now); break;
  case S_F3: filtering_done(d, NN_NAT_FILTER_ADF, now); break;
  case S_M2:
    if (nn_addr_equal(mapped, &d->res.mapped)) {
      d->res.mapping = NN_NAT_MAP_EIM;
      finish(d, NN_NATDISC_DONE, now);
    } else {
      d->last_mapped = *mapped;
      start(d, S_M3, now);
    }
    break;
  case S_M3:
    d->res.mapping = nn_addr_equal(mapped, &d->last_mapped) ? NN_NAT_MAP_ADM : NN_NAT_MAP_APDM;
    finish(d, NN_NATDISC_DONE, now);
    break;
  case S_END: break;
  }
}

nn_err_t
nn_natdisc_new(nn_natdisc_t **out, const nn_natdisc_cfg_t *cfg, const nn_natdisc_io_t *io, uint64_t now_ms)
{
  nn_natdisc_t *d;
  *out = NULL;
  if (!io || !io->send || (cfg->server.type != NN_ADDR_IPV4 && cfg->server.type != NN_ADDR_IPV6) || !cfg->rto_ms ||
      cfg->rto_ms > 60000 || !cfg->tries || cfg->tries > 16 || !cfg->filter_tries || cfg->filter_tries > 16)
    return NN_ERR_ARG;
  if (!(d = calloc(1, sizeof(*d))))
    return NN_ERR_NOMEM;
  d->cfg = *cfg;
  d->io = *io;
  d->start_ms = now_ms;
  *out = d;
  start(d, S_T1, now_ms);
  return NN_OK;
}

void
nn_natdisc_free(nn_natdisc_t *d)
{
  free(d);
}

int
nn_natdisc_input(nn_natdisc_t *d, const nn_addr_t *from, const uint8_t *msg, size_t len, uint64_t now_ms)
{
  nn_stun_msg_t m;
  nn_addr_t mapped;
  if (d->step == S_END || nn_stun_parse(&m, msg, len) || m.method != NN_STUN_BINDING ||
      (m.cls != NN_STUN_SUCCESS && m.cls != NN_STUN_ERROR) || memcmp(m.tid, d->tid, sizeof(d->tid)) ||
      !nn_addr_equal(from, &d->from) || (m.fp >= 0 && nn_stun_check_fingerprint(&m)))
    return 0;
  if (m.cls == NN_STUN_ERROR) {
    /* the server cannot do what a test asks (420 for CHANGE-REQUEST without a second address):
     * as good as no answer for that test, decided now rather than after the timeouts */
    timed_out(d, now_ms);
    return 1;
  }
  if (nn_stun_get_addr(&m, NN_STUN_A_XOR_MAPPED_ADDRESS, &mapped) &&
      nn_stun_get_addr(&m, NN_STUN_A_MAPPED_ADDRESS, &mapped))
    return 1; /* ours, but useless: the retransmissions go on */
  answered(d, &m, &mapped, now_ms);
  return 1;
}

void
nn_natdisc_tick(nn_natdisc_t *d, uint64_t now_ms)
{
  while (d->step != S_END && now_ms >= d->next_at) {
    if (d->sent < d->max)
      send_request(d, now_ms);
    else
      timed_out(d, now_ms);
  }
}

uint64_t
nn_natdisc_deadline(const nn_natdisc_t *d)
{
  return d->step == S_END ? UINT64_MAX : d->next_at;
}

void
nn_natdisc_result(const nn_natdisc_t *d, nn_natdisc_result_t *out)
{
  *out = d->res;
  if (d->step != S_END)
    out->state = NN_NATDISC_RUNNING;
}

const char *
nn_nat_mapping_name(nn_nat_mapping_t m)
{
  static const char *const n[] = { "unknown", "none", "endpoint-independent", "address-dependent",
                                   "address-and-port-dependent" };
  return (unsigned)m < sizeof(n) / sizeof(n[0]) ? n[m] : "unknown";
}

const char *
nn_nat_filtering_name(nn_nat_filtering_t f)
{
  static const char *const n[] = { "unknown", "endpoint-independent", "address-dependent",
                                   "address-and-port-dependent" };
  return (unsigned)f < sizeof(n) / sizeof(n[0]) ? n[f] : "unknown";
}
