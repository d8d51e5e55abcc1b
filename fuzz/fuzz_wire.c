/*
 * Fuzz the bounded wire reader: the input is both a program (which reads to do) and the data it
 * reads, so every combination of widths, caps and truncation gets exercised. The invariants
 * (cursor within bounds, views inside the buffer, sticky errors) are checked with abort(), which
 * is what a fuzzer reports.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t nops = size ? data[0] % 32 : 0, start = size ? 1 + nops : 0;
  nn_wire_reader_t r;
  uint8_t tmp[64];

  if (start > size) { /* fewer op bytes than announced: run the ones present */
    nops = size - 1;
    start = size;
  }
  /* The data half is copied to its own allocation so ASan sees any read past it. */
  size_t dlen = size - start;
  uint8_t *buf = calloc(1, dlen ? dlen : 1);
  if (!buf)
    return 0;
  memcpy(buf, data + start, dlen);
  nn_wire_reader_init(&r, buf, dlen);
  for (size_t i = 0; i < nops; i++) {
    uint8_t op = data[1 + i];
    nn_err_t before = r.err, err = NN_OK;
    const uint8_t *view = NULL;
    size_t n = 0;
    uint64_t v64;
    uint32_t v32;
    uint16_t v16;
    uint8_t v8;
    switch (op & 7) {
    case 0: err = nn_wire_get_u8(&r, &v8); break;
    case 1: err = nn_wire_get_u16(&r, &v16); break;
    case 2: err = nn_wire_get_u24(&r, &v32); break;
    case 3: err = nn_wire_get_u32(&r, &v32); break;
    case 4: err = nn_wire_get_u64(&r, &v64); break;
    case 5: err = nn_wire_get_bytes(&r, tmp, op >> 3 > 64 ? 64 : op >> 3); break;
    case 6: err = nn_wire_get_var(&r, (op >> 3) % 5, (size_t)(op >> 3) * 7, &view, &n); break;
    case 7:
      err = nn_wire_get_view(&r, op >> 3, &view);
      n = op >> 3;
      break;
    }
    if (r.off > r.len)
      abort();
    if (before && err != before)
      abort(); /* errors are sticky */
    if (!err && view && (view < buf || view + n > buf + dlen))
      abort();
    if (err && view)
      abort();
  }
  (void)nn_wire_finish(&r);

  /* Writer: write back whatever is left through a small fixed writer and a capped dynamic one. */
  nn_wire_writer_t w;
  uint8_t out[32];
  nn_wire_writer_init_fixed(&w, out, sizeof(out));
  nn_wire_put_var(&w, 1, 255, buf, dlen);
  if (w.len > sizeof(out))
    abort();
  nn_wire_writer_init_dynamic(&w, 300);
  nn_wire_put_var(&w, 2, 1000, buf, dlen);
  if (w.len > 300 || (dlen + 2 <= 300 && w.err))
    abort();
  nn_wire_writer_free(&w);
  free(buf);
  return 0;
}
