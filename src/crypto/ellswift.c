#include "crypto/ellswift.h"

#include <string.h>

#include <openssl/crypto.h>
#include <secp256k1.h>
#include <secp256k1_ellswift.h>

#define MAX_KEYGEN_TRIES 16 /* a uniform 32-byte string is a valid secret with p = 1 - 2^-128 */

/* An API misuse makes the call return 0 (an error value) instead of aborting the process, which
 * is what the library's default callback does. */
static void
no_abort(const char *msg, void *data)
{
  (void)msg;
  (void)data;
}

/* A context per call: libsecp256k1's read-only static context cannot compute public keys, and a
 * shared mutable one would be state the callers must carry. Since 0.3 a context holds no tables
 * (they are compiled in), so making one is a small allocation. */
static secp256k1_context *
ctx_new(void)
{
  secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  if (c)
    secp256k1_context_set_illegal_callback(c, no_abort, NULL);
  return c;
}

/* libsecp256k1 hashes the shared x with both encodings itself; ours does that in the
 * handshake's SHA3 combiner, so this "hash" only hands the x coordinate out. */
static int
x_only(unsigned char *output, const unsigned char *x32, const unsigned char *ell_a64, const unsigned char *ell_b64,
       void *data)
{
  (void)ell_a64;
  (void)ell_b64;
  (void)data;
  memcpy(output, x32, 32);
  return 1;
}

nn_err_t
nn_ellswift_keygen(nn_secp_sk_t *sk, nn_ellswift_pk_t *pk, const nn_rng_t *rng)
{
  uint8_t aux[32];
  nn_err_t e = NN_ERR_NOMEM;
  secp256k1_context *c = ctx_new();
  for (int i = 0; c && i < MAX_KEYGEN_TRIES; i++) {
    if ((e = nn_rng_fill(rng, sk->b, sizeof(sk->b))) || (e = nn_rng_fill(rng, aux, sizeof(aux))))
      break;
    e = NN_ERR_CRYPTO;
    if (secp256k1_ellswift_create(c, pk->b, sk->b, aux)) {
      e = NN_OK;
      break;
    }
  }
  secp256k1_context_destroy(c);
  OPENSSL_cleanse(aux, sizeof(aux));
  if (e)
    OPENSSL_cleanse(sk->b, sizeof(sk->b));
  return e;
}

nn_err_t
nn_ellswift_shared(nn_secret_t *ss, const nn_secp_sk_t *sk, const nn_ellswift_pk_t *ours,
                   const nn_ellswift_pk_t *theirs, int initiator)
{
  const uint8_t *a = initiator ? ours->b : theirs->b, *b = initiator ? theirs->b : ours->b;
  secp256k1_context *c = ctx_new();
  int ok = c && secp256k1_ellswift_xdh(c, ss->b, a, b, sk->b, initiator ? 0 : 1, x_only, NULL);
  secp256k1_context_destroy(c);
  if (!ok) {
    OPENSSL_cleanse(ss->b, sizeof(ss->b));
    return c ? NN_ERR_CRYPTO : NN_ERR_NOMEM;
  }
  return NN_OK;
}

/* decode(pk) with \a pk, or sk * G with \a sk, as 33 bytes */
static nn_err_t
point_of(uint8_t point[33], const nn_ellswift_pk_t *pk, const nn_secp_sk_t *sk)
{
  secp256k1_pubkey p;
  size_t len = 33;
  secp256k1_context *c = ctx_new();
  int ok = c && (pk ? secp256k1_ellswift_decode(c, &p, pk->b) : secp256k1_ec_pubkey_create(c, &p, sk->b)) &&
           secp256k1_ec_pubkey_serialize(c, point, &len, &p, SECP256K1_EC_COMPRESSED) && len == 33;
  secp256k1_context_destroy(c);
  return ok ? NN_OK : c ? NN_ERR_CRYPTO : NN_ERR_NOMEM;
}

nn_err_t
nn_ellswift_decode(uint8_t point[33], const nn_ellswift_pk_t *pk)
{
  return point_of(point, pk, NULL);
}

nn_err_t
nn_secp_public(uint8_t point[33], const nn_secp_sk_t *sk)
{
  return point_of(point, NULL, sk);
}

nn_err_t
nn_secp_selftest(void)
{
  secp256k1_selftest(); /* aborts on a miscompiled library: nothing from the network reaches it */
  return NN_OK;
}
