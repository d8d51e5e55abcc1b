/**
 * \file log.h
 * \brief One logging facility for every module: a line, its level and the module that wrote
 * it ("net", "tcp", "disco", "gossip", "api"...), handed to a sink the owner of the node chooses.
 *
 * A component keeps a pointer to its owner's nn_log_t (NULL = stderr, INFO and above); lines
 * below the sink's level are dropped before they are formatted. Secrets are never logged.
 */
#ifndef NN_LIB_LOG_H
#define NN_LIB_LOG_H

#include <stddef.h>

typedef enum nn_log_level_t {
  NN_LOG_DEBUG = 0,
  NN_LOG_INFO = 1,
  NN_LOG_WARN = 2,
  NN_LOG_ERROR = 3,
} nn_log_level_t;

#define NN_LOG_LINE_MAX 768 /**< longer lines are cut */

/** A sink: one line without a newline. */
typedef void (*nn_log_fn)(void *ctx, int level, const char *module, const char *line);

typedef struct nn_log_t {
  nn_log_fn fn; /**< NULL: stderr as "nepnet TAG MODULE: LINE" */
  void *ctx;
  int level;    /**< the lowest level passed on (nn_log_level_t) */
  char tag[24]; /**< names the node on stderr (the first 16 hex digits of its id); may be "" */
} nn_log_t;

/** Log one line. \a lg may be NULL (stderr, INFO and above). */
void nn_log(const nn_log_t *lg, int level, const char *module, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
/** Would a line of \a level reach the sink? */
int nn_log_enabled(const nn_log_t *lg, int level);
/** "debug", "info", "warn", "error". */
const char *nn_log_level_str(int level);
/** The inverse; -1 for anything else. */
int nn_log_level_parse(const char *s);

#endif
