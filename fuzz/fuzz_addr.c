/*
 * Fuzz network addresses (src/lib/addr.h): the text parser (settings files, command lines,
 * --peer lists) and the wire reader (peer records, DHT messages).
 *
 * Input: byte 0 chooses the form (even: text, odd: wire), the rest is the address. Checked,
 * abort() on a departure: a refused text leaves no half-parsed address; an accepted one formats
 * to a text that parses back to the same address, and so does its wire form; a wire address
 * read back is written to the same bytes; nothing reads past the input (ASan).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
  if (!ok)
    abort();
}

/* A valid address survives the text form and the wire form unchanged. */
static void
round_trip(const nn_addr_t *a)
{
  char text[NN_ADDR_STR_MAX];
  uint8_t w[NN_ADDR_WIRE_MAX];
  nn_addr_t b;
  nn_wire_writer_t wr;
  nn_wire_reader_t rd;
  nn_addr_format(a, text);
  check(nn_addr_parse(&b, text) == NN_OK && nn_addr_equal(a, &b));
  nn_wire_writer_init_fixed(&wr, w, sizeof(w));
  check(nn_addr_put(&wr, a) == NN_OK && wr.len == 3 + nn_addr_host_len(a->type));
  nn_wire_reader_init(&rd, w, wr.len);
  check(nn_addr_get(&rd, &b) == NN_OK && nn_addr_equal(a, &b) && nn_wire_finish(&rd) == NN_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_addr_t a;
  if (!size)
    return 0;
  if (!(data[0] & 1)) {
    /* text: NUL-terminated copy of its own, so ASan sees a read past it */
    char *s = malloc(size);
    if (!s)
      return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    if (nn_addr_parse(&a, s) == NN_OK) {
      check(nn_addr_host_len(a.type) > 0);
      round_trip(&a);
    } else {
      static const nn_addr_t zero;
      check(!memcmp(&a, &zero, sizeof(a)));
    }
    free(s);
    return 0;
  }
  uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
  nn_wire_reader_t rd;
  if (!buf)
    return 0;
  memcpy(buf, data + 1, size - 1);
  nn_wire_reader_init(&rd, buf, size - 1);
  if (nn_addr_get(&rd, &a) == NN_OK) {
    uint8_t w[NN_ADDR_WIRE_MAX];
    nn_wire_writer_t wr;
    nn_wire_writer_init_fixed(&wr, w, sizeof(w));
    check(nn_addr_put(&wr, &a) == NN_OK && wr.len <= size - 1 && !memcmp(w, buf, wr.len));
    round_trip(&a);
  }
  free(buf);
  return 0;
}
