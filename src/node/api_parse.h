/**
 * \file api_parse.h
 * \brief The control API's parsers of outside bytes, kept pure (no I/O, no libevent) so that they
 * are fuzzed (fuzz/fuzz_api.c) and unit-tested on their own: the POST /v1/tx body, the query
 * string, the Authorization header and the token file.
 *
 * Every function is bounds-checked, allocates only after checking a length against its cap, and
 * reports a refusal as an HTTP status plus one line for the client that names what was wrong
 * and how to fix it. Bytes taken from the input are quoted in that line only as printable ASCII,
 * truncated, so the line is always valid JSON string content and never echoes a secret.
 */
#ifndef NN_NODE_API_PARSE_H
#define NN_NODE_API_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

#define NN_API_TOKEN_LEN 32                     /**< token bytes */
#define NN_API_TOKEN_HEX (2 * NN_API_TOKEN_LEN) /**< its hex form, as in the file and the header */

/** The kinds of request body POST /v1/tx accepts. */
typedef enum nn_api_ctype_t {
  NN_API_CT_MISSING = 0, /**< no Content-Type header */
  NN_API_CT_RAW,         /**< application/octet-stream: the transaction's bytes */
  NN_API_CT_JSON,        /**< application/json: {"tx": "HEX"} */
  NN_API_CT_OTHER,       /**< anything else (415) */
} nn_api_ctype_t;

/** Classify a Content-Type header value (media type case-insensitive, parameters ignored). */
nn_api_ctype_t nn_api_parse_ctype(const char *value);

/** A parsed transaction: \a tx points into the request body (raw) or into \a owned (JSON). */
typedef struct nn_api_body_t {
  const uint8_t *tx;
  size_t len;
  uint8_t *owned;
} nn_api_body_t;

/**
 * Parse a POST /v1/tx body sent with Content-Type \a content_type (NULL when absent). Returns
 * 200 with \a out filled (release it with nn_api_body_free), or the status to answer with and
 * \a why: 400 malformed JSON, a missing/non-string/non-hex/odd-length "tx", an unknown field, an
 * empty transaction; 413 a transaction over \a max_tx bytes (checked before anything is
 * allocated); 415 a missing or unsupported content type. \a out is zeroed on failure.
 */
int nn_api_parse_submit(const char *content_type, const uint8_t *body, size_t len, size_t max_tx, nn_api_body_t *out,
                        char *why, size_t why_len);
void nn_api_body_free(nn_api_body_t *b);

/** Query parameters, as bits for nn_api_parse_query's \a allowed. */
#define NN_API_Q_SINCE 0x1u /**< since=SEQ, 0..2^63-1 (default 0) */
#define NN_API_Q_LIMIT 0x2u /**< limit=N, 1..NN_API_MAX_LIMIT (default NN_API_DEFAULT_LIMIT) */
#define NN_API_Q_WAIT 0x4u  /**< wait=SECONDS, 0..max_wait_s (default 0) */
#define NN_API_Q_DATA 0x8u  /**< data=0|1 (default 0) */

#define NN_API_MAX_LIMIT 1000
#define NN_API_DEFAULT_LIMIT 100

typedef struct nn_api_query_t {
  uint64_t since;
  uint32_t limit;
  uint32_t wait_s;
  int data;
} nn_api_query_t;

/**
 * Parse the query string \a query (the part after '?', NULL or "" when there is none) strictly:
 * only the parameters in \a allowed, each at most once, values plain decimal digits (at most
 * 20; no sign, spaces or percent-encoding) within range. Returns 200 with
 * \a out filled (defaults for absent parameters), or 400 and \a why naming the parameter, the
 * accepted range and \a route (for the message).
 */
int nn_api_parse_query(const char *query, unsigned allowed, uint32_t max_wait_s, const char *route, nn_api_query_t *out,
                       char *why, size_t why_len);

/**
 * Parse a token file image: exactly NN_API_TOKEN_HEX hex digits, optionally followed by one
 * "\n" (or "\r\n"). NN_ERR_FORMAT otherwise. \a token is wiped on failure.
 */
nn_err_t nn_api_parse_token(const uint8_t *buf, size_t len, uint8_t token[NN_API_TOKEN_LEN]);

/**
 * Parse an Authorization header value "Bearer TOKEN" (scheme case-insensitive, one or more
 * spaces, TOKEN NN_API_TOKEN_HEX hex digits, nothing after). NN_ERR_FORMAT otherwise. The
 * caller compares the result with CRYPTO_memcmp.
 */
nn_err_t nn_api_parse_bearer(const char *value, uint8_t token[NN_API_TOKEN_LEN]);

#endif
