/** \file hex.h \brief Lower-case hex encoding for ids, logs and test vectors. */
#ifndef NN_LIB_HEX_H
#define NN_LIB_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

/** Write 2*n hex digits and a NUL into \a out, which must hold 2*n+1 bytes. */
void nn_hex_encode(char *out, const uint8_t *in, size_t n);
/**
 * Decode exactly \a n bytes from the NUL-terminated \a hex (upper or lower case). Whitespace is
 * not allowed; a wrong length is NN_ERR_FORMAT.
 */
nn_err_t nn_hex_decode(uint8_t *out, size_t n, const char *hex);

#endif
