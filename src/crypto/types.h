/**
 * \file types.h
 * \brief Fixed-size byte types for every key, ciphertext, signature and digest nepnet handles.
 *
 * Each is a struct around an array so that the compiler refuses to pass an ML-KEM public key
 * where an X25519 one is expected, and so that sizes travel with the type instead of beside it.
 */
#ifndef NN_CRYPTO_TYPES_H
#define NN_CRYPTO_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/types.h"

#define NN_HASH_LEN 32 /* SHA3-256 output, node ids, shared secrets */
#define NN_HASH512_LEN 64
#define NN_X25519_LEN 32
#define NN_MLKEM_PK_LEN 1568 /* FIPS 203, ML-KEM-1024 encapsulation key */
#define NN_MLKEM_SK_LEN 3168 /* decapsulation key (only for known-answer tests) */
#define NN_MLKEM_CT_LEN 1568
#define NN_MLKEM_SEED_LEN 64  /* d || z */
#define NN_MLKEM_M_LEN 32     /* encapsulation randomness */
#define NN_MLDSA_SIG_LEN 4627 /* FIPS 204, ML-DSA-87 */
#define NN_MLDSA_SK_LEN 4896
#define NN_MLDSA_CTX_MAX 255 /* FIPS 204 context string limit */
#define NN_AEAD_KEY_LEN 32   /* AES-256-GCM */
#define NN_AEAD_NONCE_LEN 12
#define NN_AEAD_TAG_LEN 16

typedef struct {
  uint8_t b[NN_HASH_LEN];
} nn_hash_t;
typedef struct {
  uint8_t b[NN_HASH512_LEN];
} nn_hash512_t;
typedef struct {
  uint8_t b[NN_HASH_LEN];
} nn_secret_t; /* any 32-byte shared secret */
typedef struct {
  uint8_t b[NN_X25519_LEN];
} nn_x25519_sk_t;
typedef struct {
  uint8_t b[NN_X25519_LEN];
} nn_x25519_pk_t;
typedef struct {
  uint8_t b[NN_MLKEM_PK_LEN];
} nn_mlkem_pk_t;
typedef struct {
  uint8_t b[NN_MLKEM_CT_LEN];
} nn_mlkem_ct_t;
typedef struct {
  uint8_t b[NN_MLKEM_SEED_LEN];
} nn_mlkem_seed_t;
typedef struct {
  uint8_t b[NN_MLDSA_SIG_LEN];
} nn_mldsa_sig_t;
typedef struct {
  uint8_t b[NN_AEAD_KEY_LEN];
} nn_aead_key_t;
typedef struct {
  uint8_t b[NN_AEAD_NONCE_LEN];
} nn_aead_nonce_t;

#endif
