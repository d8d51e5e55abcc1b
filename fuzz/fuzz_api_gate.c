/* Fuzz the control API's gate (src/node/api_gate.h), the first code that reads a client's bytes:
 * header sections of any shape, split at any points.
 *
 * Input: one byte of configuration (bit0 hosts checked, bits 1-3 the small body cap, bits 4-7
 * the big one), then the stream, cut into pieces: each piece is a length byte (0 stands for 256)
 * and that many bytes. Checked for every input: no crash or leak; a status only from the set
 * api_gate.h names; the bytes passed are the stream's own, in order (a prefix of it with blank
 * lines between requests dropped) until a refusal, then exactly one synthetic request, and nothing
 * after it; the gate never holds more than NN_API_GATE_HEAD_MAX bytes. */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/api_gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink_t {
  uint8_t *buf;
  size_t len, cap;
  int after_refusal; /* bytes were passed after the synthetic request */
  int refused;
} sink_t;

static void
out(void *ctx, const uint8_t *p, size_t n)
{
  sink_t *k = ctx;
  if (k->refused)
    k->after_refusal = 1;
  if (k->len + n > k->cap) {
    size_t cap = (k->len + n) * 2;
    uint8_t *b = realloc(k->buf, cap);
    if (!b)
      abort();
    k->buf = b;
    k->cap = cap;
  }
  memcpy(k->buf + k->len, p, n);
  k->len += n;
}

static int
known(int st)
{
  return st == 0 || st == 400 || st == 401 || st == 403 || st == 411 || st == 413 || st == 431 || st == 503;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static nn_api_gate_cfg_t cfg;
  static nn_api_gate_t g;
  sink_t k = { 0 };
  uint8_t *stream = malloc(size + 1);
  size_t slen = 0, passed_before = 0;
  int st = 0;
  if (size < 1 || !stream) {
    free(stream);
    return 0;
  }
  memset(&cfg, 0, sizeof(cfg));
  memset(cfg.token, 0x5c, sizeof(cfg.token)); /* hex 5c5c...: the seeds carry it */
  if (data[0] & 1) {
    memcpy(cfg.hosts[0], "127.0.0.1:9801", 15);
    memcpy(cfg.hosts[1], "localhost:9801", 15);
    cfg.nhosts = 2;
  }
  cfg.small_body = (size_t)((data[0] >> 1) & 7) * 100;
  cfg.big_body = (size_t)(data[0] >> 4) * 10000;
  memset(cfg.nonce, 'n', NN_API_GATE_NONCE_HEX);
  nn_api_gate_init(&g, &cfg);
  data++;
  size--;
  while (size) {
    size_t n = data[0] ? data[0] : 256;
    data++;
    size--;
    if (n > size)
      n = size;
    memcpy(stream + slen, data, n);
    slen += n;
    if (!k.refused)
      passed_before = k.len;
    int s = nn_api_gate_feed(&g, data, n, out, &k);
    if (!known(s) || (st && s != st) || g.head_len > NN_API_GATE_HEAD_MAX)
      abort();
    if (s && !st) {
      /* the synthetic request went out in this call, after what passed before it */
      if (k.len < passed_before || !memmem(k.buf + passed_before, k.len - passed_before, NN_API_GATE_HEADER, 14))
        abort();
      k.refused = 1;
      k.after_refusal = 0;
    }
    st = s;
    data += n;
    size -= n;
  }
  if (k.after_refusal)
    abort();
  /* what passed (up to the refusal) is the stream's bytes in order, CR and LF aside */
  size_t upto = k.refused ? passed_before : k.len, j = 0;
  for (size_t i = 0; i < upto; i++) {
    while (j < slen && stream[j] != k.buf[i] && (stream[j] == '\r' || stream[j] == '\n'))
      j++;
    if (j == slen || stream[j] != k.buf[i])
      abort();
    j++;
  }
  nn_api_gate_clear(&g);
  free(k.buf);
  free(stream);
  return 0;
}
