/* Fuzz STUN messages (nat/stun.h): any bytes parse to a message or an error, every view stays
 * inside the input, the accessors and checks never read past it, and a parsed message's
 * attributes rebuild into a message that parses to the same list. The server core answers any
 * of them with at most one well-formed answer of at most NN_STUNSRV_MAX_ANSWER bytes. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/stun.h"
#include "nat/stunsrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
serve(const uint8_t *data, size_t size)
{
  static nn_stunsrv_t *srv;
  static uint64_t now;
  uint8_t ans[NN_STUNSRV_MAX_ANSWER];
  size_t alen = 0;
  unsigned sock = 0;
  nn_stun_msg_t m;
  nn_addr_t from;
  if (!srv) {
    nn_stunsrv_cfg_t cfg;
    nn_stunsrv_cfg_default(&cfg);
    if (nn_addr_parse(&cfg.addr[0], "198.51.100.1:3478") || nn_addr_parse(&cfg.addr[3], "198.51.100.2:3479") ||
        nn_stunsrv_new(&srv, &cfg))
      abort();
  }
  if (nn_addr_parse(&from, size && (data[0] & 1) ? "[2001:db8::1]:4000" : "203.0.113.1:40000"))
    abort();
  now += 1000; /* a second apart: the budgets refill */
  if (nn_stunsrv_input(srv, size ? data[size - 1] & 3 : 0, &from, data, size, now, ans, &alen, &sock)) {
    if (alen > NN_STUNSRV_MAX_ANSWER || sock >= NN_STUNSRV_SOCKETS || nn_stun_parse(&m, ans, alen) ||
        nn_stun_check_fingerprint(&m))
      abort();
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_stun_msg_t m, m2;
  nn_addr_t a;
  uint32_t v;
  unsigned code;
  const uint8_t *reason;
  size_t rl, n;
  uint8_t out[NN_STUN_MAX_MSG];
  static const uint16_t addr_types[] = { NN_STUN_A_XOR_MAPPED_ADDRESS, NN_STUN_A_MAPPED_ADDRESS,
                                         NN_STUN_A_OTHER_ADDRESS,      NN_STUN_A_RESPONSE_ORIGIN,
                                         NN_STUN_A_XOR_PEER_ADDRESS,   NN_STUN_A_XOR_RELAYED_ADDRESS };

  (void)nn_stun_is(data, size);
  serve(data, size);
  if (nn_stun_parse(&m, data, size) != NN_OK)
    return 0;
  if (!nn_stun_is(data, size))
    abort(); /* a message the parser takes is one the demultiplexer recognises */
  for (uint16_t i = 0; i < m.nattrs; i++)
    if ((size_t)m.attrs[i].off + m.attrs[i].len > size || m.attrs[i].off < NN_STUN_HDR_LEN + 4)
      abort();
  for (size_t i = 0; i < sizeof(addr_types) / sizeof(addr_types[0]); i++)
    (void)nn_stun_get_addr(&m, addr_types[i], &a);
  (void)nn_stun_get_u32(&m, NN_STUN_A_LIFETIME, &v);
  if (nn_stun_get_error(&m, &code, &reason, &rl) == NN_OK && (code < 300 || code > 699 || reason + rl > data + size))
    abort();
  (void)nn_stun_check_fingerprint(&m);
  (void)nn_stun_check_integrity(&m, (const uint8_t *)"key", 3);
  (void)nn_stun_check_integrity_sha256(&m, (const uint8_t *)"key", 3);

  /* rebuild the attributes the parser listed (integrity and fingerprint as plain attributes) */
  nn_stun_builder_t w;
  nn_stun_build_init(&w, out, sizeof(out), m.method, m.cls, m.tid);
  for (uint16_t i = 0; i < m.nattrs; i++)
    nn_stun_add(&w, m.attrs[i].type, nn_stun_value(&m, &m.attrs[i]), m.attrs[i].len);
  if (nn_stun_build_finish(&w, &n) != NN_OK)
    return 0;
  if (nn_stun_parse(&m2, out, n) != NN_OK || m2.nattrs != m.nattrs || m2.method != m.method || m2.cls != m.cls)
    abort();
  for (uint16_t i = 0; i < m.nattrs; i++)
    if (m2.attrs[i].type != m.attrs[i].type || m2.attrs[i].len != m.attrs[i].len ||
        memcmp(nn_stun_value(&m2, &m2.attrs[i]), nn_stun_value(&m, &m.attrs[i]), m.attrs[i].len))
      abort();
  return 0;
}
