/**
 * \file nepnet/error.h
 * \brief Error values shared by every nepnet module.
 *
 * Every function that can fail returns an nn_err_t; NN_OK is zero so `if (err)` reads naturally.
 * Network input never aborts: a bad byte becomes one of these values.
 */
#ifndef NEPNET_ERROR_H
#define NEPNET_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif
/* The shared library exports these and nothing else (it is built with -fvisibility=hidden). */
#pragma GCC visibility push(default)

typedef enum nn_err_t {
  NN_OK = 0,
  NN_ERR_TRUNCATED, /**< input ended before a field was complete */
  NN_ERR_TOO_LONG,  /**< a length is above the cap set for that field */
  NN_ERR_TRAILING,  /**< bytes left over after a complete message */
  NN_ERR_NOSPACE,   /**< an output buffer is too small */
  NN_ERR_NOMEM,     /**< allocation failed */
  NN_ERR_ARG,       /**< invalid argument from the caller */
  NN_ERR_FORMAT,    /**< well-formed length, invalid content (bad magic, bad enum) */
  NN_ERR_VERSION,   /**< a version this build does not understand */
  NN_ERR_CRYPTO,    /**< an OpenSSL call failed (key rejected, provider missing) */
  NN_ERR_VERIFY,    /**< authentication failed: bad tag, bad signature, mismatching id */
  NN_ERR_IO,        /**< a file or socket operation failed; errno tells more */
  NN_ERR_PERM,      /**< a file has unsafe permissions */
  NN_ERR_NOTFOUND,  /**< a file or an entry does not exist */
  NN_ERR_EXISTS,    /**< a file that must not be replaced exists already */
} nn_err_t;

/** A short, stable English description of \a err (never NULL). */
const char *nn_err_str(nn_err_t err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
