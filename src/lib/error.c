#include "nepnet/error.h"

const char *
nn_err_str(nn_err_t err)
{
  switch (err) {
  case NN_OK: return "ok";
  case NN_ERR_TRUNCATED: return "input truncated";
  case NN_ERR_TOO_LONG: return "length above cap";
  case NN_ERR_TRAILING: return "trailing bytes after message";
  case NN_ERR_NOSPACE: return "output buffer too small";
  case NN_ERR_NOMEM: return "out of memory";
  case NN_ERR_ARG: return "invalid argument";
  case NN_ERR_FORMAT: return "malformed content";
  case NN_ERR_VERSION: return "unsupported version";
  case NN_ERR_CRYPTO: return "cryptographic operation failed";
  case NN_ERR_VERIFY: return "authentication failed";
  case NN_ERR_IO: return "I/O error";
  case NN_ERR_PERM: return "unsafe file permissions";
  case NN_ERR_NOTFOUND: return "not found";
  case NN_ERR_EXISTS: return "exists already";
  }
  return "unknown error";
}
