/**
 * \file apicmd.h
 * \brief What the CLI's control-API commands share (cmd_api.c): their options, finding the node
 * (DATADIR/api.address and api.token, or --api and --token-file), one GET as JSON, the node's
 * refusals as one line, and the formats of sizes and durations.
 */
#ifndef NN_APP_APICMD_H
#define NN_APP_APICMD_H

#include <stddef.h>

#include <jansson.h>

/* Options a command takes beyond --api, --token-file, --json and --help. */
#define NN_APICMD_FOLLOW 0x1u  /**< --follow */
#define NN_APICMD_WATCH 0x2u   /**< --watch [--interval S] */
#define NN_APICMD_TIMEOUT 0x4u /**< --timeout S */

typedef struct nn_apicmd_opts_t {
  const char *api, *token_file;
  int json, follow, watch;
  unsigned timeout_s, interval_s;
  int argi; /* first non-option argument in argv */
} nn_apicmd_opts_t;

/** Parse \a argv (argv[0] is the command). Returns -1 after printing \a usage for --help (exit
 *  0), 2 on a usage error (printed), 0 otherwise. \a allow: NN_APICMD_* the command takes. */
int nn_apicmd_parse(const char *cmd, const char *usage, unsigned allow, int argc, char **argv, nn_apicmd_opts_t *o);
/** The node's API address and token (hex) from the options or \a datadir; 1 after printing why. */
int nn_apicmd_locate(const char *cmd, const char *datadir, const nn_apicmd_opts_t *o, char *addr, size_t addr_len,
                     char *token, size_t token_len);
/** A refusal (HTTP >= 400) as one line on stderr, with the node's "error" when it sent one. */
void nn_apicmd_refusal(const char *cmd, const char *addr, int status, const unsigned char *body, size_t len);
/** GET \a path as a JSON object. 0 on 200 with an object in *out; else prints why (the 404 too,
 *  unless \a quiet_404, when *status tells) and returns 1. */
int nn_apicmd_get(const char *cmd, const char *addr, const char *token, const char *path, int quiet_404, int *status,
                  json_t **out);
void nn_apicmd_fmt_bytes(char *out, size_t n, double b);
void nn_apicmd_fmt_duration(char *out, size_t n, double s);
/** Sleep \a ms milliseconds. */
void nn_apicmd_sleep_ms(unsigned ms);

#endif
