/* Fuzz the identity key file parser: any bytes are an error or a valid identity, never a crash,
 * and a decoded identity always re-encodes to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  nn_identity_t *id = NULL;
  uint8_t *buf = malloc(size ? size : 1), again[NN_KEYFILE_LEN];
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  if (nn_keyfile_decode(buf, size, &id) == NN_OK) {
    if (!id || size != NN_KEYFILE_LEN || nn_keyfile_encode(again, id) != NN_OK ||
        memcmp(again, buf, NN_KEYFILE_LEN) != 0)
      abort();
  } else if (id) {
    abort();
  }
  nn_identity_free(id);
  free(buf);
  return 0;
}
