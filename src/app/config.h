/**
 * \file config.h
 * \brief nepnetd's settings: one table of options that serves the command line (`--name VALUE`)
 * and the config file (`name = VALUE`, one per line, `#` comments; list options repeat the
 * key), filling the embedding API's nn_node_settings_t (nepnet/node.h). Each option is named
 * once, with the settings field it writes (offsetof); --help and --print-config come from the
 * same table.
 *
 * Precedence: the preset (a flag's, else the file's, else balanced), then the file, then the
 * flags: a flag wins. A list given by flags replaces the file's list. Every refusal names the
 * option, where it came from (flag or FILE:LINE), the value and what is allowed.
 */
#ifndef NN_APP_CONFIG_H
#define NN_APP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "nepnet/node.h"

#define NN_CONF_LIST_MAX 64

typedef struct nn_conf_str_t nn_conf_str_t;

typedef struct nn_conf_t {
  nn_node_settings_t s; /**< what nn_node_start gets; its strings and lists live in this struct */
  char *datadir, *config_file;
  int have_config_flag;      /**< --config was given (then a missing file is an error) */
  uint64_t lists_from_flags; /**< per option: its list was given by flags (replaces the file's) */
  nn_conf_str_t *owned;      /**< every string and list array the settings point to */
  const char *log_spec;      /**< log-level as given ("info,dht=debug"), NULL: the default */
  const char *log_file;      /**< log-file, NULL: stderr */
} nn_conf_t;

/** Defaults: the balanced preset, listening on 0.0.0.0:9800, the API on 127.0.0.1:9801. */
void nn_conf_init(nn_conf_t *c);
void nn_conf_free(nn_conf_t *c);

/**
 * Parse nepnetd's command line (argv[0] is the program): --datadir, --config, --preset, and
 * every option of the table. Loads DATADIR/nepnetd.conf (or --config FILE) in between as
 * described above. Returns 0 to run, 1 for --help, 2 for --print-config, 3 for --version, 4 for
 * --help-config, 5 for --print-default-config (the caller prints them), -1 on an error (one line in \a why).
 */
int nn_conf_parse_args(nn_conf_t *c, int argc, char **argv, char *why, size_t why_len);
/** Every setting as a commented-out line with its value in \a c and its help (the packaged
 *  /etc/nepnet/nepnetd.conf; nepnetd --print-default-config). */
void nn_conf_print_commented(const nn_conf_t *c, FILE *f);
/** The settings file's reference (nepnetd --help-config; man nepnetd.conf(5) is made from it). */
void nn_conf_help_file(FILE *f);

/** Set one option by name; \a origin ("--name" or "FILE:LINE") goes into the error message. */
int nn_conf_set(nn_conf_t *c, const char *name, const char *value, const char *origin, int from_flags, char *why,
                size_t why_len);
/** Read a config file. */
int nn_conf_load_file(nn_conf_t *c, const char *path, char *why, size_t why_len);

/** $NEPNET_DATADIR, else ~/.nepnet (malloc'd; NULL when out of memory). */
char *nn_conf_default_datadir(void);

/** The option reference (nepnetd --help) and the effective settings (--print-config). */
void nn_conf_help(FILE *f);
void nn_conf_print(const nn_conf_t *c, FILE *f);

#endif
