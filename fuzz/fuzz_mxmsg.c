/* Fuzz the mixnet's channel messages (mixnet/msg.h): any bytes parse to a value or an error,
 * views stay inside the input, and what parses re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mixnet/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PACKET 64 /* a small geometry: the parser only compares the size */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_mxmsg_t m;
  uint8_t *out = malloc(size + 16);
  size_t len = 0;
  if (!out)
    abort();
  if (nn_mxmsg_parse(&m, data, size, PACKET) != NN_OK) {
    free(out);
    return 0;
  }
  switch (m.kind) {
  case NN_MXMSG_HELLO:
    nn_mxmsg_hello(out, m.flags, m.hops, m.packet_len, m.epoch_s);
    len = NN_MXMSG_HELLO_LEN;
    break;
  case NN_MXMSG_RKEY:
    nn_mxmsg_rkey(out, m.epoch, &m.keys[0], &m.keys[1]);
    len = NN_MXMSG_RKEY_LEN;
    break;
  case NN_MXMSG_DIGEST:
    nn_mxmsg_digest(out, m.epoch, m.count, &m.digest);
    len = NN_MXMSG_DIGEST_LEN;
    break;
  case NN_MXMSG_INV:
  case NN_MXMSG_GETDESC: {
    nn_hash_t *h = malloc(m.count * sizeof(*h));
    if (!h)
      abort();
    for (size_t i = 0; i < m.count; i++)
      nn_mxmsg_hash(&m, i, &h[i]);
    if (nn_mxmsg_hashes(out, size + 16, &len, m.kind, m.epoch, h, m.count) != NN_OK)
      abort();
    free(h);
    break;
  }
  default: /* PACKET, DESC: views inside the input */
    if (m.data != data + 1 || m.data_len != size - 1 ||
        nn_mxmsg_wrap(out, size + 16, &len, m.kind, m.data, m.data_len) != NN_OK)
      abort();
  }
  if (len != size || memcmp(out, data, size))
    abort();
  free(out);
  return 0;
}
