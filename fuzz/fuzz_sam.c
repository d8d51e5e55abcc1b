/* Fuzz the I2P SAM v3.1 core (overlay/sam.h) as a hostile SAM bridge: the input's first byte
 * picks the socket's role (session with a new, saved or transient key; connect; accept) and
 * how the rest is cut into reads. The core never takes more than it is given, sends nothing
 * after FAILED, reports a .b32.i2p address at a session's READY, and a stream's bytes after READY
 * are left to the caller. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/sam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_sam_t *s;
  if (size < 1)
    return 0;
  uint8_t how = data[0];
  data++;
  size--;
  nn_sam_role_t role = how % 5 < 3 ? NN_SAM_SESSION : how % 5 == 3 ? NN_SAM_CONNECT : NN_SAM_ACCEPT;
  nn_sam_cfg_t cfg = { role,         "nepnet0", how % 5 == 1 ? "AAAA" : NULL,
                       how % 5 == 2, 0,         role == NN_SAM_CONNECT ? "AAAA" : NULL };
  if (nn_sam_new(&s, &cfg))
    abort();
  size_t k = 0, chunk = (how >> 3) ? (size_t)(how >> 3) * 3 : size;
  nn_sam_status_t st = NN_SAM_MORE;
  while (k < size) {
    size_t n, used;
    (void)nn_sam_output(s, &n);
    if (st == NN_SAM_FAILED && n)
      abort();
    nn_sam_consume(s, n);
    size_t c = chunk < size - k ? chunk : size - k;
    nn_sam_status_t was = st;
    st = nn_sam_input(s, data + k, c, &used);
    if (used > c)
      abort();
    if (st == NN_SAM_READY && role == NN_SAM_SESSION && nn_sam_addr(s)->type != NN_ADDR_I2P)
      abort();
    if (st == NN_SAM_READY && was == NN_SAM_READY && role != NN_SAM_SESSION && used)
      abort();
    if (st == NN_SAM_READY && role == NN_SAM_SESSION && !(how & 0x40))
      (void)nn_sam_lookup(s, "abc.b32.i2p");
    if (st == NN_SAM_FAILED && (used > c || !nn_sam_why(s)[0]))
      abort();
    k += used ? used : c;
    if (st != NN_SAM_MORE && st != NN_SAM_LOOKED_UP && !(st == NN_SAM_READY && role == NN_SAM_SESSION))
      break;
  }
  nn_sam_free(s);
  return 0;
}
