/**
 * \file daemonlog.h
 * \brief nepnetd's log: the node's lines with an RFC 3339 UTC time (milliseconds), a severity and
 * the subsystem, to stderr or a file (--log-file, reopened on SIGHUP for logrotate); under
 * systemd (JOURNAL_STREAM names our stderr) the syslog priority prefix instead of the time, so
 * journald keeps the levels. Per-subsystem levels: "info,dht=debug,net=warn".
 *
 * Lines below a subsystem's level are dropped here; the node is asked for the lowest level any
 * subsystem wants (nn_dlog_min_level), so nothing is formatted that nobody reads.
 */
#ifndef NN_APP_DAEMONLOG_H
#define NN_APP_DAEMONLOG_H

#include <stddef.h>
#include <stdio.h>

#define NN_DLOG_MODS_MAX 16

typedef struct nn_dlog_t {
  FILE *f;     /**< the log file, or NULL for stderr */
  char *path;  /**< --log-file, or NULL */
  int journal; /**< stderr is journald's: priority prefixes, no time */
  int level;   /**< every subsystem not named below */
  size_t nmods;
  struct {
    char name[16];
    int level;
  } mods[NN_DLOG_MODS_MAX];
} nn_dlog_t;

/**
 * Parse a level spec: "LEVEL" or "LEVEL,SUBSYSTEM=LEVEL,..." (LEVEL: debug, info, warn, error;
 * SUBSYSTEM as the lines name it: net, tcp, dht (also disco), dandelion (also gossip), api, node,
 * nat, relay, stun, turn, tor, i2p, mix). Fills \a out's levels only. -1 with \a why on an error.
 */
int nn_dlog_parse(nn_dlog_t *out, const char *spec, char *why, size_t why_len);
/** The lowest level any subsystem passes: what the node should be set to. */
int nn_dlog_min_level(const nn_dlog_t *l);
/** Open \a path for appending (0640), or keep stderr when NULL. -1 with \a why. The journal is
 *  detected from the environment. */
int nn_dlog_open(nn_dlog_t *l, const char *path, char *why, size_t why_len);
/** Close the file and open it again (after logrotate moved it). -1 with \a why; the old file
 *  stays in use then. */
int nn_dlog_reopen(nn_dlog_t *l, char *why, size_t why_len);
void nn_dlog_close(nn_dlog_t *l);
/** The node's sink (nepnet/node.h on_log): \a ctx is the nn_dlog_t. */
void nn_dlog_line(void *ctx, int level, const char *module, const char *line);
/** A line of the daemon's own ("nepnetd" subsystem). */
void nn_dlog_say(nn_dlog_t *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
