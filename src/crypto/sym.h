/**
 * \file sym.h
 * \brief AES-256-CTR and HMAC-SHA-256 with their OpenSSL algorithms fetched once and their
 * contexts kept, re-keyed on every use: the mixnet keys both afresh for every packet (a new key
 * per Sphinx hop and per LIONESS round), so a fetch or an allocation per call would be most of
 * the cost on small inputs.
 *
 * One nn_sym_t per thread: it is scratch state, not shared. After a call its contexts still hold
 * the last key's schedule; nn_sym_wipe() clears them, and users call it when they are done with a
 * batch of keys (the mixnet: once per packet, on every exit path). nn_sym_free() wipes as well.
 */
#ifndef NN_CRYPTO_SYM_H
#define NN_CRYPTO_SYM_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

#define NN_SYM_KEY_LEN 32
#define NN_SYM_IV_LEN 16
#define NN_SYM_MAC_LEN 32

typedef struct nn_sym_t nn_sym_t;

nn_err_t nn_sym_new(nn_sym_t **out);
/** Wipe and free; NULL is fine. */
void nn_sym_free(nn_sym_t *s);
/** Forget the last keys: the cipher context is reset (OpenSSL cleanses it) and the MAC is
 *  re-keyed with zeros. NULL is fine. */
void nn_sym_wipe(nn_sym_t *s);

/**
 * out = in XOR the AES-256-CTR keystream of \a key from the 128-bit big-endian counter block
 * \a iv (NULL: all zero). \a out may equal \a in. A key must never meet the same counter twice
 * on different inputs; the mixnet derives a fresh key for every use.
 */
nn_err_t nn_sym_ctr_xor(nn_sym_t *s, const uint8_t key[NN_SYM_KEY_LEN], const uint8_t iv[NN_SYM_IV_LEN],
                        const uint8_t *in, uint8_t *out, size_t len);

/** out = HMAC-SHA-256(key, data) (RFC 2104, FIPS 198-1). */
nn_err_t nn_sym_hmac(nn_sym_t *s, uint8_t out[NN_SYM_MAC_LEN], const uint8_t key[NN_SYM_KEY_LEN], const uint8_t *data,
                     size_t len);

#endif
