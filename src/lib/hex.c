#include "lib/hex.h"

#include <string.h>

void
nn_hex_encode(char *out, const uint8_t *in, size_t n)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static int
nibble(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

nn_err_t
nn_hex_decode(uint8_t *out, size_t n, const char *hex)
{
  if (strlen(hex) != 2 * n)
    return NN_ERR_FORMAT;
  for (size_t i = 0; i < n; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return NN_ERR_FORMAT;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return NN_OK;
}
