/*
 * nepnetd: runs a node (discovery, secure channels, Dandelion++, the control API) until SIGTERM
 * or SIGINT, then shuts down cleanly: the API closes, channels send CLOSE records, outbound peers
 * are saved as anchors and the peer store is closed, so a restart rejoins from disk. SIGHUP
 * reloads the settings file (what can change while running: nn_node_reload) and reopens the log
 * file. It is a thin program over the embedding API (nepnet/node.h): options in, nn_node_start,
 * a loop.
 *
 * One daemon per data directory: it holds an flock on DATADIR/nepnetd.lock for its life. The
 * kernel drops the lock when the process dies, however it dies, so a daemon killed with SIGKILL
 * leaves nothing that stops the next start: the pid file and api.address it left are recognised
 * as stale (nobody holds the lock) and taken over with a log line.
 */
#define _GNU_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef NEPNET_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "nepnet/nepnet.h"
#include "nepnet/node.h"
#include "app/config.h"
#include "app/daemonlog.h"
#include "node/api.h"
#include "node/node.h"

static const char usage[] =
  "usage: nepnetd [--datadir DIR] [--config FILE] [--preset fast|balanced|private] [OPTIONS]\n"
  "\n"
  "Runs a nepnet node: Kademlia discovery over post-quantum secure channels, Dandelion++\n"
  "private broadcast of transactions, and a control API on loopback for neptune-core or a\n"
  "wallet (docs/API.md). Stops cleanly on SIGTERM or SIGINT; SIGHUP reloads the settings file\n"
  "(log-level, route, the limits and the seeds take effect at once, the others at the next\n"
  "start, as the log says; man nepnetd.conf lists which) and reopens the log file. Under\n"
  "systemd (Type=notify) it reports READY, STATUS, RELOADING, STOPPING and the watchdog.\n"
  "One daemon per data directory (DATADIR/nepnetd.lock).\n"
  "\n"
  "  --datadir DIR        identity.key, peers.sqlite, api.token, api.address, nepnetd.pid and\n"
  "                       nepnetd.conf live here (default: $NEPNET_DATADIR, else ~/.nepnet)\n"
  "  --config FILE        settings file (default DATADIR/nepnetd.conf, if present): one\n"
  "                       'name = value' per line, names as the options below without '--'\n"
  "  --print-config       print the effective settings (preset < file < flags) and exit\n"
  "  --version            print the version (and the git commit it was built from) and exit\n"
  "  --help-config        the settings file's reference (man nepnetd.conf)\n"
  "  --print-default-config  every setting, commented out, with its default: a settings file\n"
  "                       to start from (the package's /etc/nepnet/nepnetd.conf)\n"
  "  -h, --help           this text\n"
  "\n";

typedef struct daemon_t {
  struct event_base *base;
  nn_node_t *node;
  struct event *ev_int, *ev_term, *ev_hup, *ev_status, *ev_watchdog;
  nn_dlog_t log;
  nn_conf_t conf; /* the settings running now */
  int argc;
  char **argv;
  int lock_fd;
  char *pid_path;
  char *hup_spec; /* the log-level spec a SIGHUP set (d->conf.log_spec points here) */
} daemon_t;

/* ---- systemd (sd_notify; nothing without libsystemd or outside a Type=notify unit) ---- */

static void
notify(const char *state)
{
#ifdef NEPNET_HAVE_SYSTEMD
  (void)sd_notify(0, state);
#else
  (void)state;
#endif
}

static void
on_status(evutil_socket_t fd, short what, void *arg)
{
  daemon_t *d = arg;
  nn_node_status_t st;
  char line[200];
  (void)fd;
  (void)what;
  if (!d->node || nn_node_status(d->node, &st) != NN_OK)
    return;
  snprintf(line, sizeof(line), "STATUS=%s, %u peers (%u out, %u in), %u DHT contacts, %s epoch",
           st.bootstrapped ? "bootstrapped" : "bootstrapping", st.peers_in + st.peers_out, st.peers_out, st.peers_in,
           st.dht_size, st.fluff_epoch ? "fluff" : "stem");
  notify(line);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  (void)arg;
  notify("WATCHDOG=1"); /* the loop turns: a hung loop misses it and systemd restarts us */
}

/* ---- the data directory: one daemon at a time ---- */

static char *
join(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static long
read_pid(const char *path)
{
  char buf[32] = "";
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (f) {
    if (fgets(buf, sizeof(buf), f))
      pid = strtol(buf, NULL, 10);
    fclose(f);
  }
  return pid;
}

/* Lock DATADIR, take over what a dead daemon left, write our pid. 0, or -1 after saying why. */
static int
claim_datadir(daemon_t *d, const char *dir)
{
  char *lock = join(dir, "nepnetd.lock"), *addr = join(dir, "api.address");
  int rc = -1;
  d->pid_path = join(dir, "nepnetd.pid");
  if (!lock || !addr || !d->pid_path)
    goto out;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "nepnetd: cannot create the data directory %s: %s\n", dir, strerror(errno));
    goto out;
  }
  if ((d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
    fprintf(stderr, "nepnetd: cannot open %s: %s (is the data directory writable by this user?)\n", lock,
            strerror(errno));
    goto out;
  }
  if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    long pid = read_pid(d->pid_path);
    if (pid > 0)
      fprintf(stderr,
              "nepnetd: another nepnetd (pid %ld) runs with the data directory %s: stop it first (kill -TERM %ld), "
              "or give this one another --datadir\n",
              pid, dir, pid);
    else
      fprintf(stderr,
              "nepnetd: another nepnetd runs with the data directory %s (it holds %s): stop it first, or "
              "give this one another --datadir\n",
              dir, lock);
    goto out;
  }
  /* we hold the lock: whatever a pid file or api.address says, their daemon is gone */
  long old = read_pid(d->pid_path);
  if (old > 0 && old != (long)getpid())
    nn_dlog_say(&d->log, 1, "taking over %s from nepnetd pid %ld, which is gone without stopping cleanly", dir, old);
  if (unlink(addr) == 0)
    nn_dlog_say(&d->log, 1, "removed the api.address a previous nepnetd left in %s", dir);
  FILE *f = fopen(d->pid_path, "w");
  if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
    fprintf(stderr, "nepnetd: cannot write %s: %s\n", d->pid_path, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  free(lock);
  free(addr);
  return rc;
}

static void
release_datadir(daemon_t *d)
{
  if (d->pid_path && read_pid(d->pid_path) == (long)getpid())
    (void)unlink(d->pid_path);
  free(d->pid_path);
  d->pid_path = NULL;
  if (d->lock_fd >= 0)
    close(d->lock_fd); /* and the lock with it */
  d->lock_fd = -1;
}

/* ---- signals ---- */

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
  daemon_t *d = arg;
  (void)what;
  if (!d->node)
    return; /* already stopping */
  notify("STOPPING=1");
  nn_dlog_say(&d->log, 1, "%s: shutting down (saving anchors, closing channels and the peer store)",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
  nn_node_stop(d->node); /* CLOSE records go out with the sockets' last data */
  d->node = NULL;
  event_base_loopbreak(d->base);
}

/* The settings that differ between the running ones and the file's now, as nepnetd.conf lines. */
static int
conf_lines(const nn_conf_t *c, char ***out, size_t *n)
{
  char *buf = NULL, *p, *save = NULL;
  size_t len = 0, cap = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return -1;
  nn_conf_print(c, f);
  fclose(f);
  *out = NULL;
  *n = 0;
  for (p = strtok_r(buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nv = realloc(*out, cap * sizeof(*nv));
      if (!nv)
        break;
      *out = nv;
    }
    (*out)[(*n)++] = strdup(p);
  }
  free(buf);
  return 0;
}

/* What nn_node_reload and the code below change while running (nepnetd.conf names) */
static const char *const hup_live[] = { "log-level",
                                        "route",
                                        "peer",
                                        "dns-seed",
                                        "max-peers",
                                        "max-outbound",
                                        "max-inbound-per-host",
                                        "mempool-max-count",
                                        "stempool-max-count",
                                        "listen-max-per-ip",
                                        "listen-half-open-per-group",
                                        "max-channels",
                                        "dht-per-table-wide" };

static int
live_line(const char *l)
{
  for (size_t i = 0; i < sizeof(hup_live) / sizeof(hup_live[0]); i++) {
    size_t k = strlen(hup_live[i]);
    if (!strncmp(l, hup_live[i], k) && (l[k] == ' ' || !l[k]))
      return 1;
  }
  return 0;
}

static int
has_line(char **v, size_t n, const char *l)
{
  for (size_t i = 0; i < n; i++)
    if (v[i] && !strcmp(v[i], l))
      return 1;
  return 0;
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
  daemon_t *d = arg;
  nn_conf_t nc;
  char why[512];
  char **a = NULL, **b = NULL;
  size_t na = 0, nb = 0;
  (void)sig;
  (void)what;
  if (!d->node)
    return;
  notify("RELOADING=1");
  if (nn_dlog_reopen(&d->log, why, sizeof(why)))
    nn_dlog_say(&d->log, 2, "SIGHUP: %s; still writing to the old file", why);
  nn_conf_init(&nc);
  if (nn_conf_parse_args(&nc, d->argc, d->argv, why, sizeof(why)) != 0) {
    nn_dlog_say(&d->log, 3, "SIGHUP: the settings have an error, nothing changed: %s", why);
    goto out;
  }
  /* what changes at once: the log levels and the route of our own transactions */
  if (strcmp(nc.log_spec ? nc.log_spec : "info", d->conf.log_spec ? d->conf.log_spec : "info")) {
    nn_dlog_t l = d->log;
    if (!nn_dlog_parse(&l, nc.log_spec ? nc.log_spec : "info", why, sizeof(why))) {
      d->log.level = l.level;
      d->log.nmods = l.nmods;
      memcpy(d->log.mods, l.mods, sizeof(l.mods));
      nn_node_set_log_level(d->node, nn_dlog_min_level(&d->log));
      nn_dlog_say(&d->log, 1, "SIGHUP: log-level is now %s", nc.log_spec ? nc.log_spec : "info");
    }
  }
  if (nc.s.route != d->conf.s.route) {
    if (nn_node_set_route(d->node, nc.s.route, why, sizeof(why))) {
      nn_dlog_say(&d->log, 2, "SIGHUP: route stays %s: %s", nn_route_str(d->conf.s.route), why);
    } else {
      nn_dlog_say(&d->log, 1, "SIGHUP: route is now %s for our next transactions", nn_route_str(nc.s.route));
      d->conf.s.route = nc.s.route;
    }
  }
  /* the limits and seeds: the node logs what changes */
  if (nn_node_reload(d->node, &nc.s, why, sizeof(why)))
    nn_dlog_say(&d->log, 3, "SIGHUP: limits and seeds unchanged: %s", why);
  /* the rest at the next start: each setting that differs, by name */
  if (!conf_lines(&d->conf, &a, &na) && !conf_lines(&nc, &b, &nb)) {
    for (size_t i = 0; i < nb; i++) {
      if (!b[i] || has_line(a, na, b[i]) || live_line(b[i]))
        continue;
      nn_dlog_say(&d->log, 2, "SIGHUP: '%s' differs from the running settings: it takes effect at the next start",
                  b[i]);
    }
  }
  for (size_t i = 0; i < na; i++)
    free(a[i]);
  for (size_t i = 0; i < nb; i++)
    free(b[i]);
  free(a);
  free(b);
  /* the new log-level is the running one from now on */
  free(d->hup_spec);
  d->hup_spec = nc.log_spec ? strdup(nc.log_spec) : NULL;
  d->conf.log_spec = d->hup_spec;
  nn_dlog_say(&d->log, 1, "SIGHUP: settings reloaded from %s, log reopened", nc.config_file);
out:
  nn_conf_free(&nc);
  notify("READY=1");
}

int
main(int argc, char **argv)
{
  daemon_t d;
#ifdef __GLIBC__
  /* Large buffers (messages in reassembly, queued output: up to 8 MiB each) from mmap, always, so
   * that what a closed channel held goes back to the system at once. Left to itself glibc raises
   * its mmap threshold to the size of each freed mmapped block (up to 32 MiB), after which those
   * buffers come from the heap and a burst of them leaves RSS high long after (the hostile
   * suite's partial-message attack: 62 MiB peak for a 32 MiB budget; docs/ARCHITECTURE.md). */
  (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  /* And keep up to 1 MiB free at the top of each heap instead of glibc's 128 KiB: a handshake's
   * ML-DSA signature takes and frees some 100-200 KiB, and trimming it back each time cost every
   * handshake five page faults (and, with worker threads, the TLB shootdowns of giving pages
   * back): 1.7-2.1 ms of CPU per handshake against 1.3 without (bench_listener, --workers 0). At
   * most 1 MiB per heap (one per thread that allocates) stays mapped after a burst. */
  (void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#endif
  nn_error_t err;
  char why[512];
  int rc = 1, r;
  uint64_t wd_usec = 0;

  memset(&d, 0, sizeof(d));
  d.lock_fd = -1;
  d.argc = argc;
  d.argv = argv;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN); /* a closed socket is an error value, never a death */
  nn_conf_init(&d.conf);
  r = nn_conf_parse_args(&d.conf, argc, argv, why, sizeof(why));
  if (r == 1) {
    fputs(usage, stdout);
    nn_conf_help(stdout);
    rc = 0;
    goto out;
  }
  if (r < 0) {
    fprintf(stderr, "nepnetd: %s\n", why[0] ? why : "out of memory");
    rc = 2;
    goto out;
  }
  if (r == 2) {
    nn_conf_print(&d.conf, stdout);
    rc = 0;
    goto out;
  }
  if (r == 5) {
    nn_conf_t def;
    nn_conf_init(&def); /* the defaults, whatever the file and flags say */
    nn_conf_print_commented(&def, stdout);
    nn_conf_free(&def);
    rc = 0;
    goto out;
  }
  if (r == 4) {
    nn_conf_help_file(stdout);
    rc = 0;
    goto out;
  }
  if (r == 3) {
    printf("nepnetd %s%s%s%s\nOpenSSL %s\n", nn_version(), nn_version_commit()[0] ? " (git " : "", nn_version_commit(),
           nn_version_commit()[0] ? ")" : "", nn_openssl_version());
    rc = 0;
    goto out;
  }
  /* the log first: every later line goes through it */
  if (nn_dlog_parse(&d.log, d.conf.log_spec ? d.conf.log_spec : "info", why, sizeof(why)) ||
      nn_dlog_open(&d.log, d.conf.log_file, why, sizeof(why))) {
    fprintf(stderr, "nepnetd: %s\n", why);
    rc = 2;
    goto out;
  }
  d.conf.s.on_log = nn_dlog_line;
  d.conf.s.ctx = &d.log;
  d.conf.s.log_level = nn_dlog_min_level(&d.log);
  if (claim_datadir(&d, d.conf.datadir))
    goto out;
  if (nn_selftest_run(NULL, NULL) != NN_OK) {
    nn_dlog_say(&d.log, 3, "the crypto self-test failed (nepnet selftest shows which part); not starting");
    goto out;
  }
  if (!(d.base = event_base_new())) {
    nn_dlog_say(&d.log, 3, "cannot create the event loop");
    goto out;
  }
  if (nn_node_start(&d.node, &d.conf.s, d.base, &err) != NN_OK) {
    nn_dlog_say(&d.log, 3, "%s", err.message);
    fprintf(stderr, "nepnetd: %s\n", err.message); /* also where a person starting it looks */
    goto out;
  }
  d.ev_int = evsignal_new(d.base, SIGINT, on_stop, &d);
  d.ev_term = evsignal_new(d.base, SIGTERM, on_stop, &d);
  d.ev_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
  d.ev_status = event_new(d.base, -1, EV_PERSIST, on_status, &d);
  struct timeval five = { 5, 0 };
  if (!d.ev_int || !d.ev_term || !d.ev_hup || !d.ev_status || event_add(d.ev_int, NULL) || event_add(d.ev_term, NULL) ||
      event_add(d.ev_hup, NULL) || event_add(d.ev_status, &five)) {
    nn_dlog_say(&d.log, 3, "cannot install signal handlers");
    goto out;
  }
#ifdef NEPNET_HAVE_SYSTEMD
  if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec) {
    struct timeval half = { (time_t)(wd_usec / 2000000), (suseconds_t)(wd_usec / 2 % 1000000) };
    if ((d.ev_watchdog = event_new(d.base, -1, EV_PERSIST, on_watchdog, &d)))
      event_add(d.ev_watchdog, &half);
  }
#endif
  {
    nn_node_status_t st;
    (void)nn_node_status(d.node, &st);
    printf("nepnetd %s: node %s\n", nn_version(), st.peer[0] ? st.peer : "(hidden)");
    printf("  preset %s, route %s, network %s, datadir %s\n", st.preset, st.route, st.network, d.conf.datadir);
    if (nn_node_api(d.node))
      printf("  control API http://%s (token in %s%s)\n", nn_api_address(nn_node_api(d.node)),
             d.conf.s.api_token_file ? d.conf.s.api_token_file : d.conf.datadir,
             d.conf.s.api_token_file ? "" : "/api.token");
  }
  notify("READY=1");
  on_status(-1, 0, &d);
  event_base_dispatch(d.base);
  rc = 0;
out:
  nn_node_stop(d.node);
  if (d.ev_int)
    event_free(d.ev_int);
  if (d.ev_term)
    event_free(d.ev_term);
  if (d.ev_hup)
    event_free(d.ev_hup);
  if (d.ev_status)
    event_free(d.ev_status);
  if (d.ev_watchdog)
    event_free(d.ev_watchdog);
  if (d.base)
    event_base_free(d.base);
  release_datadir(&d);
  nn_dlog_close(&d.log);
  nn_conf_free(&d.conf);
  free(d.hup_spec);
  (void)wd_usec;
  return rc;
}
