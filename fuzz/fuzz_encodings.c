/* Fuzz the decoders of the handshake's uniform-looking key material: the first 1,568 bytes as a
 * Kemeleon-encoded ML-KEM-1024 key (short inputs are padded with zeros), the next 64 as an
 * ElligatorSwift key. Every input decodes; the key decoded from Kemeleon has no coefficient at or
 * above q and encodes back to an encoding of itself; the ElligatorSwift key gives a shared
 * secret with a fixed key pair. Anything else aborts. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ellswift.h"
#include "crypto/kemeleon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t in[NN_KEMELEON_EK_LEN + NN_ELLSWIFT_LEN] = { 0 }, enc[NN_KEMELEON_EK_LEN];
  nn_mlkem_pk_t ek, back;
  nn_drbg_t d;
  memcpy(in, data, size < sizeof(in) ? size : sizeof(in));
  nn_drbg_init_u64(&d, size);
  nn_rng_t rng = nn_drbg_rng(&d);
  if (nn_kemeleon_decode_ek(&ek, in))
    abort();
  for (size_t i = 0; i < 1536; i += 3) {
    unsigned a = ek.b[i] | (ek.b[i + 1] & 0x0f) << 8, b = ek.b[i + 1] >> 4 | ek.b[i + 2] << 4;
    if (a >= 3329 || b >= 3329)
      abort();
  }
  if (nn_kemeleon_encode_ek(enc, &ek, &rng) || nn_kemeleon_decode_ek(&back, enc) || memcmp(back.b, ek.b, sizeof(ek.b)))
    abort();
  nn_secp_sk_t sk;
  nn_ellswift_pk_t ours, theirs;
  nn_secret_t ss;
  uint8_t pt[33];
  memcpy(theirs.b, in + NN_KEMELEON_EK_LEN, NN_ELLSWIFT_LEN);
  if (nn_ellswift_keygen(&sk, &ours, &rng) || nn_ellswift_shared(&ss, &sk, &ours, &theirs, 1) ||
      nn_ellswift_decode(pt, &theirs) || (pt[0] != 2 && pt[0] != 3))
    abort();
  return 0;
}
