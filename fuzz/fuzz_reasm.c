/*
 * Fuzz the exit's reassembly (src/mixnet/frag.c): any sequence of bodies, genuine fragments of
 * two small messages edited anywhere, or raw bytes.
 *
 * Input: a sequence of 4-byte operations:
 *   op[0] bit 7 clear: a genuine fragment, message op[0] >> 6 & 1, index (op[0] & 63) mod n,
 *                      with the byte at op[1] (mod the body) XORed with op[2] (0: unedited);
 *         bit 7 set:   a raw body: the next op[1] bytes of the input after this operation
 *                      (zero-padded to the body size), then the operations go on after them;
 *   op[3]: milliseconds added to the clock (x 1000 when op[3] & 1), then nn_reasm_tick.
 *
 * Invariants: the caps hold after every step (messages, bytes); while only genuine fragments
 * were stored, every message rebuilt is one of the two; each result is a defined one; once the clock has
 * passed every deadline nothing is held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mixnet/frag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY 200 /* fragments of 175 bytes */
#define LEN 1000 /* k = 6 */
#define PARITY 3

typedef struct fixture_t {
  uint8_t msg[2][LEN];
  uint8_t frag[2][(LEN / (BODY - NN_FRAG_HDR_LEN) + 1 + PARITY) * BODY];
  size_t n[2];
} fixture_t;

static fixture_t *
fixture(void)
{
  static fixture_t *fx;
  if (fx)
    return fx;
  if (!(fx = calloc(1, sizeof(*fx))))
    abort();
  for (int m = 0; m < 2; m++) {
    uint8_t id[NN_FRAG_ID_LEN];
    memset(id, 0x10 + m, sizeof(id));
    for (size_t i = 0; i < LEN; i++)
      fx->msg[m][i] = (uint8_t)(i * 7 + m);
    if (nn_frag_split(BODY, id, (uint8_t)(m + 1), fx->msg[m], LEN, PARITY, fx->frag[m], &fx->n[m]))
      abort();
  }
  return fx;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fixture_t *fx = fixture();
  nn_reasm_cfg_t cfg;
  nn_reasm_t *r;
  nn_reasm_cfg_default(&cfg, BODY);
  cfg.max_msg_len = 4000;
  cfg.max_messages = 3;
  cfg.max_bytes = 12 * (BODY - NN_FRAG_HDR_LEN);
  cfg.timeout_ms = 5000;
  cfg.recent = 4;
  if (nn_reasm_new(&r, &cfg))
    abort();
  uint64_t now = 0;
  int edited = 0; /* an edited fragment was stored: rebuilt messages may differ from both */
  uint8_t body[BODY];
  for (size_t at = 0; at + 4 <= size;) {
    const uint8_t *op = data + at;
    at += 4;
    int which = -1;
    if (op[0] & 0x80) {
      size_t take = op[1] < size - at ? op[1] : size - at;
      memset(body, 0, sizeof(body));
      memcpy(body, data + at, take < BODY ? take : BODY);
      at += take;
    } else {
      which = op[0] >> 6 & 1;
      memcpy(body, fx->frag[which] + (size_t)(op[0] & 63) % fx->n[which] * BODY, BODY);
      body[op[1] % BODY] ^= op[2];
    }
    uint8_t *out = NULL, deliver = 0;
    size_t len = 0;
    nn_reasm_result_t res = nn_reasm_add(r, body, now, &out, &len, &deliver);
    if ((unsigned)res >= NN_REASM_RESULTS || (res == NN_REASM_COMPLETE) != (out != NULL))
      abort();
    if (op[0] & 0x80 || op[2])
      edited |= res == NN_REASM_STORED || res == NN_REASM_COMPLETE;
    if (res == NN_REASM_COMPLETE) {
      for (size_t i = 0; i < len; i++) /* every byte readable: ASan checks the length */
        deliver ^= out[i];
      if (!edited && (len != LEN || (memcmp(out, fx->msg[0], LEN) && memcmp(out, fx->msg[1], LEN))))
        abort(); /* rebuilt from genuine fragments only, and not one of the two messages */
      free(out);
    }
    nn_reasm_stats_t st;
    nn_reasm_stats(r, &st);
    if (st.messages > cfg.max_messages || st.bytes > cfg.max_bytes)
      abort();
    now += op[3] & 1 ? (uint64_t)op[3] * 1000 : op[3];
    nn_reasm_tick(r, now);
  }
  nn_reasm_tick(r, now + cfg.timeout_ms);
  nn_reasm_stats_t st;
  nn_reasm_stats(r, &st);
  if (st.messages || st.bytes || nn_reasm_deadline(r) != UINT64_MAX)
    abort();
  nn_reasm_free(r);
  return 0;
}
