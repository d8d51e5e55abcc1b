/**
 * \file config.h
 * \brief nepnetd's settings: one table of options that serves the command line (`--name VALUE`)
 * and the config file (`name = VALUE`, one per line, `#` comments; list options repeat the
 * key), and the presets `fast`, `balanced` (default) and `private`.
 *
 * Precedence: the preset (a flag's, else the file's, else balanced), then the file, then the
 * flags: a flag wins. A list given by flags replaces the file's list. Every refusal names the
 * option, where it came from (flag or FILE:LINE), the value and what is allowed.
 */
#ifndef NN_NODE_CONFIG_H
#define NN_NODE_CONFIG_H

#include <stdio.h>

#include "node/node.h"

#define NN_CONF_LIST_MAX 64

typedef struct nn_conf_list_t {
  char *v[NN_CONF_LIST_MAX];
  size_t n;
  int from_flags;
} nn_conf_list_t;

typedef struct nn_conf_t {
  nn_node_cfg_t node;           /**< what nn_node_new gets (pointers into this struct) */
  nn_tcp_limits_t limits;       /**< the listener's, pointed to by node.disco.limits */
  uint32_t network;             /**< NN_NET_* */
  char *datadir, *config_file, *preset;
  char *listen, *advertise, *dns_nameserver, *api_listen, *api_token_file;
  nn_conf_list_t peers, connect, dns_seeds;
  int allow_private;            /**< devnets: loopback/private addresses in the DHT and peer store */
  int have_config_flag;         /**< --config was given (then a missing file is an error) */
} nn_conf_t;

/** Defaults: the balanced preset. */
void nn_conf_init(nn_conf_t *c);
void nn_conf_free(nn_conf_t *c);

/**
 * Parse nepnetd's command line (argv[0] is the program): --datadir, --config, --preset, and
 * every option of the table. Loads DATADIR/nepnetd.conf (or --config FILE) in between as
 * described above. Returns 0 to run, 1 for --help (printed to stdout), 2 for --print-config
 * (printed), -1 on an error (one line in \a why).
 */
int nn_conf_parse_args(nn_conf_t *c, int argc, char **argv, char *why, size_t why_len);

/** Set one option by name; \a origin ("--name" or "FILE:LINE") goes into the error message. */
int nn_conf_set(nn_conf_t *c, const char *name, const char *value, const char *origin, int from_flags,
                char *why, size_t why_len);
/** Apply a preset by name (fast, balanced, private). */
int nn_conf_preset(nn_conf_t *c, const char *name, char *why, size_t why_len);
/** Read a config file. */
int nn_conf_load_file(nn_conf_t *c, const char *path, char *why, size_t why_len);
/** Fill the pointers of c->node from the strings (call after parsing, before nn_node_new). */
void nn_conf_finish(nn_conf_t *c);

/** The option reference (nepnetd --help) and the effective settings (--print-config). */
void nn_conf_help(FILE *f);
void nn_conf_print(const nn_conf_t *c, FILE *f);

#endif
