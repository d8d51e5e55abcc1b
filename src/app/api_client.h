/**
 * \file api_client.h
 * \brief A small client of the control API (api.h) for the CLI, the devnet and the tests:
 * one request per connection over TCP, with a timeout, blocking or on the caller's event_base.
 *
 * Addresses are "HOST:PORT" as in DATADIR/api.address ("127.0.0.1:PORT", "[::1]:PORT",
 * "localhost:PORT"). "unix:/path" is refused with an explanation: libevent 2.1's HTTP client
 * cannot connect to a Unix socket (2.2 can), so a node whose API listens on a Unix socket is
 * reached with `curl --unix-socket PATH` instead (docs/API.md).
 *
 * Threads: none; a call and its event_base stay on one thread.
 */
#ifndef NN_NODE_API_CLIENT_H
#define NN_NODE_API_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

struct event_base;

#define NN_API_CLIENT_TIMEOUT_S 30              /**< connect, send and each wait for data */
#define NN_API_CLIENT_MAX_RESPONSE (256u << 20) /**< larger answers are an error */

/**
 * Send one request and wait for the answer (own event_base, NN_API_CLIENT_TIMEOUT_S).
 * \a token is the hex token (NULL: no Authorization header); \a body/\a len may be NULL/0;
 * \a content_type NULL sends none. On NN_OK, *status is the HTTP status (any, 4xx included) and
 * *response a malloc'ed copy of the body with a NUL after its *response_len bytes (free it).
 * On failure (address malformed or "unix:", cannot connect, timeout, answer too large) \a why
 * says what and the fix, and *status is 0.
 */
nn_err_t nn_api_client_request(const char *address, const char *token, const char *method, const char *path,
                               const uint8_t *body, size_t len, const char *content_type, int *status,
                               uint8_t **response, size_t *response_len, char *why, size_t why_len);

/** The same with a timeout in seconds (for long polls: wait plus a margin). */
nn_err_t nn_api_client_request_timeout(const char *address, const char *token, const char *method, const char *path,
                                       const uint8_t *body, size_t len, const char *content_type, unsigned timeout_s,
                                       int *status, uint8_t **response, size_t *response_len, char *why,
                                       size_t why_len);

/** An asynchronous request on the caller's event_base. */
typedef struct nn_api_call_t nn_api_call_t;

/** The answer: \a status 0 and \a why on failure; \a body (NUL-terminated) is valid during the
 *  call only. Runs from its own event callback, so nn_api_call_free(call) is fine here. */
typedef void (*nn_api_call_done_fn)(void *arg, int status, const uint8_t *body, size_t len, const char *why);
/** With a chunk callback, a 200 answer's body is handed over as it arrives (streams) instead of
 *  being collected; do not free the call from inside it. Error answers are still collected. */
typedef void (*nn_api_call_chunk_fn)(void *arg, const uint8_t *data, size_t len);

nn_err_t nn_api_call_start(nn_api_call_t **out, struct event_base *base, const char *address, const char *token,
                           const char *method, const char *path, const uint8_t *body, size_t len,
                           const char *content_type, unsigned timeout_s, nn_api_call_done_fn done,
                           nn_api_call_chunk_fn chunk, void *arg, char *why, size_t why_len);
/** Abort (closing the connection) if still running, and free. NULL is fine. */
void nn_api_call_free(nn_api_call_t *call);

/**
 * Read DATADIR/api.address (one line, written by nepnetd) into \a out. NN_ERR_NOTFOUND when
 * missing: \a why then asks whether nepnetd runs with that --datadir.
 */
nn_err_t nn_api_client_read_address(const char *datadir, char *out, size_t out_len, char *why, size_t why_len);
/**
 * Read the token file \a path (refused if group/other can access it, or malformed) into \a out
 * as 64 lower-case hex digits and a NUL (\a out_len >= 65).
 */
nn_err_t nn_api_client_read_token(const char *path, char *out, size_t out_len, char *why, size_t why_len);
/** Both from DATADIR (api.address, api.token), without the explanation. */
nn_err_t nn_api_client_read_datadir(const char *datadir, char *addr, size_t addr_len, char *token, size_t token_len);

#endif
