/* Fuzz the transaction-gossip codec (dandelion/msg.h): any bytes parse to a value or an error,
 * views stay inside the input, and what parses re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dandelion/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_dlmsg_t m;
  size_t max_tx = size > 2 ? data[size - 1] * 4u : 64; /* vary the cap with the input */
  if (nn_dlmsg_parse(&m, data, size, max_tx) != NN_OK)
    return 0;
  switch (m.kind) {
  case NN_DLMSG_HELLO: {
    uint8_t h[NN_DLMSG_HELLO_LEN];
    nn_dlmsg_hello(h, m.flags, m.max_tx);
    if (size != sizeof(h) || memcmp(h, data, size))
      abort();
    break;
  }
  case NN_DLMSG_INV:
  case NN_DLMSG_GETDATA: {
    nn_hash_t *ids = malloc(m.count * sizeof(*ids));
    uint8_t *out = malloc(3 + m.count * NN_HASH_LEN);
    size_t len = 0;
    if (!ids || !out)
      abort();
    for (size_t i = 0; i < m.count; i++)
      nn_dlmsg_id(&m, i, &ids[i]);
    if (nn_dlmsg_ids(out, 3 + m.count * NN_HASH_LEN, &len, m.kind, ids, m.count) != NN_OK || len != size ||
        memcmp(out, data, size))
      abort();
    free(ids);
    free(out);
    break;
  }
  default:
    if (m.tx < data || m.tx + m.tx_len != data + size || m.tx_len == 0 || m.tx_len > max_tx)
      abort();
  }
  return 0;
}
