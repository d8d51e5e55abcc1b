/* Fuzz the control API's parsers of client bytes (src/node/api_parse.h): the POST /v1/tx body
 * (JSON and raw, with any Content-Type), the query string, the bearer header and the token file.
 *
 * Input: one selector byte, then the data. Selector % 4 picks the parser; the other bits pick a
 * cap or the allowed query parameters. Checked for every input: no crash or leak, a status the
 * server knows how to send, outputs consistent with the status, and a refusal message that is
 * printable ASCII without quote or backslash (it goes into JSON and logs as it is). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hex.h"
#include "node/api_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_why(const char *why)
{
  for (const char *p = why; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      abort();
}

static char *
cstr(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s) {
    memcpy(s, data, size);
    s[size] = 0;
  }
  return s;
}

static void
fuzz_submit(uint8_t sel, const uint8_t *data, size_t size)
{
  static const char *ctypes[] = { "application/json", "application/octet-stream", "Application/JSON; charset=utf-8",
                                  NULL };
  char why[512];
  nn_api_body_t b;
  size_t max_tx = (sel >> 4) ? (size_t)(sel >> 4) * 3 : (size_t)1 << 30;
  const char *ct = ctypes[(sel >> 2) & 3];
  char *own_ct = NULL;
  const uint8_t *body = data;
  size_t len = size;
  int st;

  if (!ct) { /* the content type comes from the input, up to the first NUL */
    const uint8_t *nul = memchr(data, 0, size);
    size_t cl = nul ? (size_t)(nul - data) : size;
    if (!(own_ct = cstr(data, cl)))
      return;
    ct = own_ct;
    body = nul ? nul + 1 : data + size;
    len = nul ? size - cl - 1 : 0;
  }
  why[0] = 0;
  st = nn_api_parse_submit(ct, body, len, max_tx, &b, why, sizeof(why));
  check_why(why);
  if (st == 200) {
    if (!b.tx || b.len == 0 || b.len > max_tx)
      abort();
    if (nn_api_parse_ctype(ct) == NN_API_CT_RAW && (b.tx != body || b.len != len || b.owned))
      abort();
    if (nn_api_parse_ctype(ct) == NN_API_CT_JSON && b.tx != b.owned)
      abort();
  } else {
    if ((st != 400 && st != 413 && st != 415 && st != 503) || b.owned || b.tx || !why[0])
      abort();
  }
  nn_api_body_free(&b);
  free(own_ct);
}

static void
fuzz_query(uint8_t sel, const uint8_t *data, size_t size)
{
  char *q = cstr(data, size), why[512];
  nn_api_query_t out;
  unsigned allowed = (sel >> 2) & 0xf;
  uint32_t max_wait = (uint32_t)(sel >> 6) * 30;
  int st;
  if (!q)
    return;
  why[0] = 0;
  st = nn_api_parse_query(q, allowed, max_wait, "/v1/txs", &out, why, sizeof(why));
  check_why(why);
  if (st == 200) {
    if (out.since > (uint64_t)INT64_MAX || out.limit < 1 || out.limit > NN_API_MAX_LIMIT || out.wait_s > max_wait ||
        (out.data != 0 && out.data != 1))
      abort();
    if (*q == 0 && out.limit != NN_API_DEFAULT_LIMIT)
      abort();
  } else if (st != 400 || !why[0]) {
    abort();
  }
  free(q);
}

static void
fuzz_token(const uint8_t *data, size_t size)
{
  uint8_t tok[NN_API_TOKEN_LEN];
  char hex[NN_API_TOKEN_HEX + 1], *s;
  if (nn_api_parse_token(data, size, tok) == NN_OK) {
    /* what was accepted is exactly the hex of what came out (case aside) */
    nn_hex_encode(hex, tok, sizeof(tok));
    if (size < NN_API_TOKEN_HEX || size > NN_API_TOKEN_HEX + 2)
      abort();
    for (size_t i = 0; i < NN_API_TOKEN_HEX; i++)
      if ((data[i] | 0x20) != (uint8_t)hex[i])
        abort();
  }
  if (!(s = cstr(data, size)))
    return;
  if (nn_api_parse_bearer(s, tok) == NN_OK) {
    nn_hex_encode(hex, tok, sizeof(tok));
    if (size < 7 + NN_API_TOKEN_HEX)
      abort();
    for (size_t i = 0; i < NN_API_TOKEN_HEX; i++)
      if ((s[strlen(s) - NN_API_TOKEN_HEX + i] | 0x20) != hex[i])
        abort();
  }
  free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t sel;
  if (size < 1)
    return 0;
  sel = data[0];
  data++;
  size--;
  switch (sel & 3) {
  case 0:
  case 1: fuzz_submit(sel, data, size); break;
  case 2: fuzz_query(sel, data, size); break;
  default: fuzz_token(data, size); break;
  }
  nn_api_parse_ctype(NULL); /* keeps the harness honest about NULL */
  return 0;
}
