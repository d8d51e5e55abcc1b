/* A local network of nepnetd processes (devnet.h). */
#include "app/devnet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "crypto/sha3.h"
#include "lib/hex.h"
#include "app/api_client.h"

static void
sleep_ms(unsigned ms)
{
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

void
nn_devnet_opts_default(nn_devnet_opts_t *o)
{
  memset(o, 0, sizeof(*o));
  o->dir = "devnet";
  o->base_port = 19800;
}

void
nn_devnet_datadir(const nn_devnet_t *dn, unsigned i, char *out, size_t n)
{
  snprintf(out, n, "%s/node-%u", dn->dir, i);
}

static char *
find_nepnetd(const char *argv0)
{
  char buf[PATH_MAX];
  const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
  if (slash) {
    snprintf(buf, sizeof(buf), "%.*s/nepnetd", (int)(slash - argv0), argv0);
    if (access(buf, X_OK) == 0)
      return strdup(buf);
  }
  return strdup("nepnetd");
}

/* The last lines of node i's log, for an error message. */
static void
log_tail(const nn_devnet_t *dn, unsigned i, char *out, size_t n)
{
  char path[PATH_MAX], dd[PATH_MAX - 16];
  nn_devnet_datadir(dn, i, dd, sizeof(dd));
  snprintf(path, sizeof(path), "%s/nepnetd.log", dd);
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  long from = sz > (long)n - 1 ? sz - (long)n + 1 : 0;
  fseek(f, from, SEEK_SET);
  size_t r = fread(out, 1, n - 1, f);
  out[r] = 0;
  fclose(f);
  for (char *p = out; *p; p++)
    if (*p == '\n' && p[1])
      *p = '|';
}

/* A node's nepnetd command line, with the buffers its arguments point into. */
typedef struct node_cmd_t {
  char dd[PATH_MAX - 32], logp[PATH_MAX], listen[32], api[32], peer0[32], peerj[32];
  const char *argv[64 + 2 * 32];
} node_cmd_t;

/* The flags every node gets, up to and including --hidden; returns how many argv holds. The
 * loopback limits are off: every node of a devnet is 127.0.0.1. */
static size_t
node_cmd_base(node_cmd_t *nc, const char *nepnetd, const char *preset)
{
  const char **argv = nc->argv;
  size_t k = 0;
  argv[k++] = nepnetd;
  argv[k++] = "--datadir";
  argv[k++] = nc->dd;
  argv[k++] = "--network";
  argv[k++] = "regtest";
  argv[k++] = "--listen";
  argv[k++] = nc->listen;
  argv[k++] = "--api";
  argv[k++] = nc->api;
  argv[k++] = "--listen-max-per-ip";
  argv[k++] = "0";
  argv[k++] = "--listen-ip-rate";
  argv[k++] = "0";
  argv[k++] = "--listen-half-open-per-group";
  argv[k++] = "0";
  argv[k++] = "--max-inbound-per-host";
  argv[k++] = "0";
  argv[k++] = "--allow-private";
  argv[k++] = "1";
  if (preset) {
    argv[k++] = "--preset";
    argv[k++] = preset;
  }
  argv[k++] = "--hidden"; /* after the preset: private would hide every node of the devnet */
  argv[k++] = "0";
  return k;
}

/* Node i > 0's bootstrap peers, appended at argv[k]; returns the new count. */
static size_t
node_cmd_peers(node_cmd_t *nc, const nn_devnet_t *dn, unsigned i, size_t k)
{
  if (i == 0)
    return k;
  nc->argv[k++] = "--peer";
  nc->argv[k++] = nc->peer0;
  /* and one earlier node, so that node 0 is not everyone's only way in */
  unsigned j = (i * 37u + 11u) % i;
  if (j) {
    snprintf(nc->peerj, sizeof(nc->peerj), "127.0.0.1:%u", (unsigned)(dn->base_port + 2 * j));
    nc->argv[k++] = "--peer";
    nc->argv[k++] = nc->peerj;
  }
  return k;
}

/* Node i's whole command line, NULL-terminated; nc->dd is already its data directory. */
static void
node_cmd(node_cmd_t *nc, const nn_devnet_t *dn, unsigned i, const nn_devnet_opts_t *o)
{
  snprintf(nc->logp, sizeof(nc->logp), "%s/nepnetd.log", nc->dd);
  snprintf(nc->listen, sizeof(nc->listen), "127.0.0.1:%u", (unsigned)(dn->base_port + 2 * i));
  snprintf(nc->api, sizeof(nc->api), "127.0.0.1:%u", (unsigned)(dn->base_port + 2 * i + 1));
  snprintf(nc->peer0, sizeof(nc->peer0), "127.0.0.1:%u", (unsigned)dn->base_port);
  size_t k = node_cmd_peers(nc, dn, i, node_cmd_base(nc, dn->nepnetd, o->preset));
  for (size_t e = 0; e < o->n_extra && k < 64; e++)
    nc->argv[k++] = o->extra[e];
  const char *const *ne = o->node_extra ? o->node_extra(o->node_ctx, i) : NULL;
  for (size_t e = 0; ne && ne[e] && k < 64 + 2 * 32 - 1; e++)
    nc->argv[k++] = ne[e];
  nc->argv[k] = NULL;
}

/* In the forked child: output to the node's log, no terminal (its own session, stdin
 * /dev/null), so that the node outlives the command that started it. */
static _Noreturn void
exec_node(const char *logp, const char *const *argv)
{
  int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
  int nul = open("/dev/null", O_RDONLY);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
      close(fd);
  }
  if (nul >= 0) {
    dup2(nul, 0);
    if (nul > 2)
      close(nul);
  }
  setsid();
  execvp(argv[0], (char *const *)argv);
  fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void
write_pid(const char *dd, pid_t pid)
{
  char pidp[PATH_MAX], s[32];
  snprintf(pidp, sizeof(pidp), "%s/nepnetd.pid", dd);
  FILE *f = fopen(pidp, "w");
  if (f) {
    snprintf(s, sizeof(s), "%d\n", (int)pid);
    fputs(s, f);
    fclose(f);
  }
}

static pid_t
spawn(const nn_devnet_t *dn, unsigned i, const nn_devnet_opts_t *o)
{
  node_cmd_t nc;
  nn_devnet_datadir(dn, i, nc.dd, sizeof(nc.dd));
  if (mkdir(nc.dd, 0700) && errno != EEXIST)
    return -1;
  node_cmd(&nc, dn, i, o);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0)
    exec_node(nc.logp, nc.argv);
  write_pid(nc.dd, pid);
  return pid;
}

int
nn_devnet_alive(nn_devnet_t *dn, unsigned i)
{
  if (i >= dn->n || dn->pid[i] <= 0)
    return 0;
  int st;
  pid_t r = waitpid(dn->pid[i], &st, WNOHANG); /* reap our own children */
  if (r == dn->pid[i] || kill(dn->pid[i], 0) != 0) {
    dn->pid[i] = 0; /* gone: never signal that pid again (it may be reused) */
    return 0;
  }
  return 1;
}

/* Is \a pid (from a pid file) still the nepnetd of \a datadir? After a crash or a reboot the
 * number may belong to another process. The datadir argument is compared by inode, resolved
 * against the process's own working directory, so any spelling of the path matches. */
static int
pid_is_node(pid_t pid, const char *datadir)
{
  char p[64], cmd[4096], path[PATH_MAX];
  struct stat want, got;
  snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
  FILE *f = fopen(p, "r");
  if (!f || stat(datadir, &want) != 0) {
    if (f)
      fclose(f);
    return 0;
  }
  size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
  fclose(f);
  cmd[n] = 0;
  int is_d = 0, next_is_dir = 0, has_dir = 0;
  for (size_t o = 0; o < n; o += strlen(cmd + o) + 1) {
    const char *arg = cmd + o, *slash = strrchr(arg, '/');
    if (o == 0)
      is_d = !strcmp(slash ? slash + 1 : arg, "nepnetd");
    if (next_is_dir) {
      if (arg[0] == '/')
        snprintf(path, sizeof(path), "%s", arg);
      else
        snprintf(path, sizeof(path), "/proc/%d/cwd/%s", (int)pid, arg);
      has_dir |= stat(path, &got) == 0 && got.st_dev == want.st_dev && got.st_ino == want.st_ino;
    }
    next_is_dir = !strcmp(arg, "--datadir");
  }
  return is_d && has_dir;
}

static int
read_api(const nn_devnet_t *dn, unsigned i, char *addr, size_t an, char *token, size_t tn)
{
  char dd[PATH_MAX - 32];
  nn_devnet_datadir(dn, i, dd, sizeof(dd));
  return nn_api_client_read_datadir(dd, addr, an, token, tn);
}

int
nn_devnet_api(const nn_devnet_t *dn, unsigned i, const char *method, const char *path, const uint8_t *body, size_t len,
              const char *content_type, json_t **out)
{
  char addr[300], token[128], why[256];
  int status = 0;
  uint8_t *resp = NULL;
  size_t rlen = 0;
  if (out)
    *out = NULL;
  if (read_api(dn, i, addr, sizeof(addr), token, sizeof(token)))
    return 0;
  if (nn_api_client_request(addr, token, method, path, body, len, content_type, &status, &resp, &rlen, why,
                            sizeof(why)))
    status = 0;
  if (out && resp && rlen)
    *out = json_loadb((const char *)resp, rlen, 0, NULL);
  free(resp);
  return status;
}

void
nn_devnet_node_id(const nn_devnet_t *dn, unsigned i, char out[65])
{
  json_t *j = NULL;
  out[0] = 0;
  if (nn_devnet_api(dn, i, "GET", "/v1/status", NULL, 0, NULL, &j) == 200 && j) {
    const char *s = json_string_value(json_object_get(j, "node_id"));
    if (s)
      snprintf(out, 65, "%s", s);
  }
  json_decref(j);
}

static int
write_meta(const nn_devnet_t *dn)
{
  char p[PATH_MAX];
  snprintf(p, sizeof(p), "%s/devnet.conf", dn->dir);
  FILE *f = fopen(p, "w");
  if (!f)
    return -1;
  fprintf(f, "nodes = %u\nbase-port = %u\nnepnetd = %s\n", dn->n, (unsigned)dn->base_port, dn->nepnetd);
  return fclose(f);
}

/* dn from the options, and the checks that need no process; dn->dir exists afterwards. */
static int
up_prepare(nn_devnet_t *dn, unsigned n, const char *argv0, const nn_devnet_opts_t *o, char *why, size_t why_len)
{
  memset(dn, 0, sizeof(*dn));
  if (n < 2 || n > NN_DEVNET_MAX) {
    snprintf(why, why_len, "devnet size %u: give 2 to %d nodes", n, NN_DEVNET_MAX);
    return -1;
  }
  if ((unsigned)o->base_port + 2 * n > 65535) {
    snprintf(why, why_len, "--base-port %u leaves no room for %u nodes (2 ports each)", o->base_port, n);
    return -1;
  }
  if (!(dn->dir = strdup(o->dir)) || !(dn->nepnetd = o->nepnetd ? strdup(o->nepnetd) : find_nepnetd(argv0)))
    return -1;
  dn->n = n;
  dn->base_port = o->base_port;
  if (mkdir(dn->dir, 0700) && errno != EEXIST) {
    snprintf(why, why_len, "cannot create %s: %s (give --dir DIR)", dn->dir, strerror(errno));
    return -1;
  }
  return 0;
}

/* Refuse a directory whose devnet still has a node running: starting over it would lose track
 * of that node (its pid file is rewritten) and collide on its ports. */
static int
up_not_running(const nn_devnet_t *dn, char *why, size_t why_len)
{
  nn_devnet_t old;
  char w[64];
  if (nn_devnet_open(&old, dn->dir, w, sizeof(w)) != 0)
    return 0;
  unsigned running = 0;
  for (unsigned i = 0; i < old.n; i++)
    running += old.pid[i] > 0 && kill(old.pid[i], 0) == 0;
  nn_devnet_free(&old);
  if (running) {
    snprintf(why, why_len, "a devnet is already running in %s (%u nodes): nepnet devnet down --dir %s", dn->dir,
             running, dn->dir);
    return -1;
  }
  return 0;
}

/* Until node i has written its API address and token, exits, or the deadline passes. */
static void
wait_api(nn_devnet_t *dn, unsigned i, uint64_t deadline)
{
  char addr[PATH_MAX], token[PATH_MAX - 32];
  while (read_api(dn, i, addr, sizeof(addr), token, sizeof(token)) && nn_devnet_alive(dn, i) && nn_unix_ms() < deadline)
    sleep_ms(50);
}

/* Node 0 first, and answering, since everyone bootstraps from it; then the rest. On failure
 * every node started so far is stopped. */
static int
up_spawn_all(nn_devnet_t *dn, const nn_devnet_opts_t *o, uint64_t deadline, char *why, size_t why_len)
{
  for (unsigned i = 0; i < dn->n; i++) {
    char dd[PATH_MAX - 32], stale[PATH_MAX];
    nn_devnet_datadir(dn, i, dd, sizeof(dd));
    snprintf(stale, sizeof(stale), "%s/api.address", dd);
    (void)unlink(stale); /* a previous run's address would pass for this node's API being up */
    if ((dn->pid[i] = spawn(dn, i, o)) < 0) {
      snprintf(why, why_len, "cannot start node %u: %s", i, strerror(errno));
      nn_devnet_down(dn, 0);
      return -1;
    }
    if (i == 0)
      wait_api(dn, 0, deadline);
  }
  return 0;
}

/* Has node i joined, by its status (*out, *in, *dht filled when it answers)? */
static int
node_joined(const nn_devnet_t *dn, unsigned i, json_int_t *out, json_int_t *in, json_int_t *dht)
{
  json_t *j = NULL;
  int joined = 0;
  if (nn_devnet_api(dn, i, "GET", "/v1/status", NULL, 0, NULL, &j) == 200 && j) {
    *out = json_integer_value(json_object_get(j, "peers_out"));
    *in = json_integer_value(json_object_get(j, "peers_in"));
    *dht = json_integer_value(json_object_get(j, "dht_size"));
    /* joined: a gossip peer it dialled, or (small devnets) already peered with everyone */
    joined = *out >= 1 || (unsigned long long)(*in + *out) >= (dn->n - 1 < 8 ? dn->n - 1 : 8);
  }
  json_decref(j);
  return joined;
}

/* One look at every node not yet joined, a progress line for each that now has; -1 with \a why
 * when a node has exited. */
static int
join_pass(nn_devnet_t *dn, const nn_devnet_opts_t *o, int *joined, unsigned *njoined, uint64_t t0, char *why,
          size_t why_len)
{
  for (unsigned i = 0; i < dn->n; i++) {
    json_int_t out = 0, in = 0, dht = 0;
    if (joined[i])
      continue;
    if (!nn_devnet_alive(dn, i)) {
      char tail[300];
      log_tail(dn, i, tail, sizeof(tail));
      snprintf(why, why_len, "node %u (%s/node-%u) exited: %s", i, dn->dir, i, tail);
      return -1;
    }
    if (!node_joined(dn, i, &out, &in, &dht))
      continue;
    joined[i] = 1;
    (*njoined)++;
    if (o->progress)
      fprintf(o->progress, "[%3u/%u joined] node-%-3u 127.0.0.1:%-5u peers %lld out %lld in, dht %lld  (%.1f s)\n",
              *njoined, dn->n, i, (unsigned)(dn->base_port + 2 * i), (long long)out, (long long)in, (long long)dht,
              (double)(nn_unix_ms() - t0) / 1000.0);
  }
  return 0;
}

/* Poll until every node has joined. On failure (a node exited, or the deadline passed, named in
 * \a why with the first node still waiting) every node is stopped. */
static int
up_wait_joined(nn_devnet_t *dn, const nn_devnet_opts_t *o, uint64_t t0, uint64_t deadline, char *why, size_t why_len)
{
  unsigned n = dn->n, njoined = 0;
  int *joined = calloc(n, sizeof(int));
  if (!joined) {
    snprintf(why, why_len, "out of memory");
    nn_devnet_down(dn, 2000);
    return -1;
  }
  while (njoined < n) {
    if (join_pass(dn, o, joined, &njoined, t0, why, why_len)) {
      free(joined);
      nn_devnet_down(dn, 2000);
      return -1;
    }
    if (njoined == n)
      break;
    if (nn_unix_ms() > deadline) {
      unsigned first = 0;
      while (first < n && joined[first])
        first++;
      snprintf(why, why_len,
               "%u of %u nodes joined in %.0f s; node %u has no gossip peer yet (see %s/node-%u/nepnetd.log); "
               "stopped them all",
               njoined, n, (double)(nn_unix_ms() - t0) / 1000.0, first, dn->dir, first);
      free(joined);
      nn_devnet_down(dn, 5000);
      return -1;
    }
    sleep_ms(200);
  }
  free(joined);
  return 0;
}

int
nn_devnet_up(nn_devnet_t *dn, unsigned n, const char *argv0, const nn_devnet_opts_t *o, char *why, size_t why_len)
{
  if (up_prepare(dn, n, argv0, o, why, why_len) || up_not_running(dn, why, why_len))
    return -1;
  if (write_meta(dn)) {
    snprintf(why, why_len, "cannot write %s/devnet.conf: %s", dn->dir, strerror(errno));
    return -1;
  }
  uint64_t t0 = nn_unix_ms(), deadline = t0 + (o->join_timeout_ms ? o->join_timeout_ms : 60000 + 500 * n);
  if (up_spawn_all(dn, o, deadline, why, why_len) || up_wait_joined(dn, o, t0, deadline, why, why_len))
    return -1;
  for (unsigned i = 0; i < n; i++)
    nn_devnet_node_id(dn, i, dn->ids[i]);
  return 0;
}

int
nn_devnet_index(const nn_devnet_t *dn, const char *id)
{
  for (unsigned i = 0; id && id[0] && i < dn->n; i++)
    if (!strcmp(dn->ids[i], id))
      return (int)i;
  return -1;
}

int
nn_devnet_open(nn_devnet_t *dn, const char *dir, char *why, size_t why_len)
{
  char p[PATH_MAX], line[PATH_MAX], key[64], val[PATH_MAX];
  unsigned nodes = 0, port = 19800;
  memset(dn, 0, sizeof(*dn));
  snprintf(p, sizeof(p), "%s/devnet.conf", dir);
  FILE *f = fopen(p, "r");
  if (!f) {
    snprintf(why, why_len, "no devnet in %s (%s): start one with nepnet devnet up N --dir %s", dir, strerror(errno),
             dir);
    return -1;
  }
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "%63s = %4095[^\n]", key, val) != 2)
      continue;
    if (!strcmp(key, "nodes"))
      nodes = (unsigned)strtoul(val, NULL, 10);
    else if (!strcmp(key, "base-port"))
      port = (unsigned)strtoul(val, NULL, 10);
    else if (!strcmp(key, "nepnetd") && !dn->nepnetd)
      dn->nepnetd = strdup(val);
  }
  fclose(f);
  if (nodes < 1 || nodes > NN_DEVNET_MAX || port > 65535) {
    snprintf(why, why_len, "%s is damaged (nodes %u, base-port %u): remove %s and start again", p, nodes, port, dir);
    nn_devnet_free(dn);
    return -1;
  }
  dn->dir = strdup(dir);
  dn->n = nodes;
  dn->base_port = (uint16_t)port;
  for (unsigned i = 0; i < nodes; i++) {
    char dd[PATH_MAX - 32];
    nn_devnet_datadir(dn, i, dd, sizeof(dd));
    snprintf(p, sizeof(p), "%s/nepnetd.pid", dd);
    FILE *pf = fopen(p, "r");
    int pid = 0;
    if (pf) {
      if (fscanf(pf, "%d", &pid) != 1)
        pid = 0;
      fclose(pf);
    }
    dn->pid[i] = pid > 0 && pid_is_node(pid, dd) ? pid : 0;
  }
  return dn->dir ? 0 : -1;
}

unsigned
nn_devnet_down(nn_devnet_t *dn, uint32_t grace_ms)
{
  unsigned running = 0;
  for (unsigned i = 0; i < dn->n; i++)
    if (dn->pid[i] > 0 && kill(dn->pid[i], SIGTERM) == 0)
      running++;
  uint64_t end = nn_unix_ms() + grace_ms;
  for (;;) {
    unsigned left = 0;
    for (unsigned i = 0; i < dn->n; i++) {
      if (dn->pid[i] <= 0)
        continue;
      (void)waitpid(dn->pid[i], NULL, WNOHANG);
      if (kill(dn->pid[i], 0) == 0)
        left++;
      else
        dn->pid[i] = 0;
    }
    if (!left)
      break;
    if (nn_unix_ms() >= end) {
      for (unsigned i = 0; i < dn->n; i++)
        if (dn->pid[i] > 0) {
          kill(dn->pid[i], SIGKILL);
          (void)waitpid(dn->pid[i], NULL, 0);
          dn->pid[i] = 0;
        }
      break;
    }
    sleep_ms(50);
  }
  for (unsigned i = 0; i < dn->n; i++) {
    char dd[PATH_MAX - 32], p[PATH_MAX];
    nn_devnet_datadir(dn, i, dd, sizeof(dd));
    snprintf(p, sizeof(p), "%s/nepnetd.pid", dd);
    (void)unlink(p);
  }
  return running;
}

void
nn_devnet_kill(nn_devnet_t *dn, unsigned i)
{
  if (i < dn->n && dn->pid[i] > 0) {
    kill(dn->pid[i], SIGKILL);
    (void)waitpid(dn->pid[i], NULL, 0);
    dn->pid[i] = 0;
  }
}

void
nn_devnet_free(nn_devnet_t *dn)
{
  free(dn->dir);
  free(dn->nepnetd);
  dn->dir = dn->nepnetd = NULL;
}

int
nn_devnet_submit(const nn_devnet_t *dn, unsigned i, const uint8_t *tx, size_t len, nn_hash_t *id)
{
  json_t *j = NULL;
  int st = nn_devnet_api(dn, i, "POST", "/v1/tx", tx, len, "application/octet-stream", &j);
  int rc = -1;
  const char *s = j ? json_string_value(json_object_get(j, "id")) : NULL;
  if (st == 200 && s && strlen(s) == 2 * NN_HASH_LEN && nn_hex_decode(id->b, NN_HASH_LEN, s) == NN_OK)
    rc = 0;
  json_decref(j);
  return rc;
}

/* Does node i have id? Pages through everything it still holds, 1000 (the API's largest page)
 * at a time. */
static int
node_seen(const nn_devnet_t *dn, unsigned i, const char *idhex, nn_devnet_seen_t *out)
{
  json_t *j = NULL;
  int found = 0;
  char path[80];
  json_int_t since = 0;
next_page:
  snprintf(path, sizeof(path), "/v1/txs?since=%lld&limit=1000", (long long)since);
  json_decref(j);
  j = NULL;
  if (nn_devnet_api(dn, i, "GET", path, NULL, 0, NULL, &j) != 200 || !j)
    goto out;
  json_t *txs = json_object_get(j, "txs"), *t;
  size_t k;
  json_array_foreach(txs, k, t)
  {
    const char *s = json_string_value(json_object_get(t, "id"));
    if (s && !strcmp(s, idhex)) {
      const char *via = json_string_value(json_object_get(t, "via"));
      const char *from = json_string_value(json_object_get(t, "from"));
      out->seen = 1;
      out->unix_ms = (uint64_t)json_integer_value(json_object_get(t, "unix_ms"));
      snprintf(out->via, sizeof(out->via), "%s", via ? via : "");
      snprintf(out->from, sizeof(out->from), "%s", from ? from : "");
      found = 1;
      break;
    }
  }
  if (!found && json_array_size(txs) == 1000) {
    since = json_integer_value(json_object_get(j, "next"));
    goto next_page;
  }
out:
  json_decref(j);
  return found;
}

unsigned
nn_devnet_wait_tx(nn_devnet_t *dn, const nn_hash_t *id, uint64_t t0, uint32_t timeout_ms, nn_devnet_seen_t *seen,
                  FILE *progress)
{
  char idhex[2 * NN_HASH_LEN + 1];
  uint64_t end = nn_unix_ms() + timeout_ms;
  unsigned have = 0;
  nn_hex_encode(idhex, id->b, NN_HASH_LEN);
  for (;;) {
    unsigned live = 0;
    have = 0;
    for (unsigned i = 0; i < dn->n; i++) {
      if (!nn_devnet_alive(dn, i))
        continue;
      live++;
      if (!seen[i].seen && node_seen(dn, i, idhex, &seen[i]) && progress) {
        int from = nn_devnet_index(dn, seen[i].from);
        char src[32] = "";
        if (from >= 0)
          snprintf(src, sizeof(src), " from node-%d", from);
        else if (seen[i].from[0])
          snprintf(src, sizeof(src), " from %.16s", seen[i].from);
        fprintf(progress, "  node-%-3u has it after %6.3f s  via %-10s%s\n", i,
                (double)((int64_t)seen[i].unix_ms - (int64_t)t0) / 1000.0, seen[i].via, src);
      }
      have += seen[i].seen;
    }
    if (have >= live || nn_unix_ms() >= end)
      break;
    sleep_ms(100);
  }
  return have;
}
