/* nepnetd's log (daemonlog.h). */
#define _POSIX_C_SOURCE 200809L
#include "app/daemonlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

/* The names the node's modules log under, and the subsystem names operators may use for them. */
static const char *
canonical(const char *name)
{
  if (!strcmp(name, "disco"))
    return "dht";
  if (!strcmp(name, "gossip"))
    return "dandelion";
  return name;
}

static int
mod_level(const nn_dlog_t *l, const char *module)
{
  const char *m = canonical(module);
  for (size_t i = 0; i < l->nmods; i++)
    if (!strcmp(l->mods[i].name, m))
      return l->mods[i].level;
  return l->level;
}

int
nn_dlog_parse(nn_dlog_t *out, const char *spec, char *why, size_t why_len)
{
  char buf[256], *save = NULL, *tok;
  int first = 1;
  out->nmods = 0;
  out->level = NN_LOG_INFO;
  if (strlen(spec) >= sizeof(buf)) {
    snprintf(why, why_len, "log-level '%.40s...' is too long", spec);
    return -1;
  }
  snprintf(buf, sizeof(buf), "%s", spec);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), first = 0) {
    char *eq = strchr(tok, '=');
    int lv = nn_log_level_parse(eq ? eq + 1 : tok);
    if (lv < 0) {
      snprintf(why, why_len, "log-level '%s': '%s' is not a level; give debug, info, warn or error", spec,
               eq ? eq + 1 : tok);
      return -1;
    }
    if (!eq) {
      if (!first) {
        snprintf(why, why_len, "log-level '%s': the level for every subsystem comes first (e.g. info,dht=debug)", spec);
        return -1;
      }
      out->level = lv;
      continue;
    }
    *eq = 0;
    if (!*tok || strlen(tok) >= sizeof(out->mods[0].name) || out->nmods == NN_DLOG_MODS_MAX) {
      snprintf(why, why_len,
               "log-level '%s': '%s' is not a subsystem (net, dht, dandelion, api, node, nat, tor, "
               "i2p, mix...)",
               spec, tok);
      return -1;
    }
    snprintf(out->mods[out->nmods].name, sizeof(out->mods[0].name), "%s", canonical(tok));
    out->mods[out->nmods++].level = lv;
  }
  return 0;
}

int
nn_dlog_min_level(const nn_dlog_t *l)
{
  int m = l->level;
  for (size_t i = 0; i < l->nmods; i++)
    if (l->mods[i].level < m)
      m = l->mods[i].level;
  return m;
}

static FILE *
open_append(const char *path, char *why, size_t why_len)
{
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
  if (!f) {
    snprintf(why, why_len, "log-file %s: %s (is its directory writable by this user?)", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  setvbuf(f, NULL, _IOLBF, 0);
  return f;
}

int
nn_dlog_open(nn_dlog_t *l, const char *path, char *why, size_t why_len)
{
  /* journald sets JOURNAL_STREAM to the device:inode of the stream it gave us: ours only if
   * stderr still is that stream */
  const char *js = getenv("JOURNAL_STREAM");
  struct stat st;
  unsigned long long dev, ino;
  l->journal = !path && js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
               (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
  if (!path)
    return 0;
  if (!(l->path = strdup(path)) || !(l->f = open_append(path, why, why_len))) {
    free(l->path);
    l->path = NULL;
    return -1;
  }
  return 0;
}

int
nn_dlog_reopen(nn_dlog_t *l, char *why, size_t why_len)
{
  FILE *f;
  if (!l->path)
    return 0;
  if (!(f = open_append(l->path, why, why_len)))
    return -1;
  fclose(l->f);
  l->f = f;
  return 0;
}

void
nn_dlog_close(nn_dlog_t *l)
{
  if (l->f)
    fclose(l->f);
  free(l->path);
  l->f = NULL;
  l->path = NULL;
}

static void
emit(nn_dlog_t *l, int level, const char *module, const char *line)
{
  static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
  static const int prio[] = { 7, 6, 4, 3 }; /* syslog: debug, info, warning, err */
  int lv = level < NN_LOG_DEBUG ? NN_LOG_DEBUG : level > NN_LOG_ERROR ? NN_LOG_ERROR : level;
  FILE *f = l->f ? l->f : stderr;
  if (l->journal) {
    fprintf(f, "<%d>%s: %s\n", prio[lv], canonical(module), line);
    return;
  }
  struct timespec ts;
  struct tm tm;
  char t[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(f, "%s.%03ldZ %-5s %s: %s\n", t, ts.tv_nsec / 1000000, names[lv], canonical(module), line);
}

void
nn_dlog_line(void *ctx, int level, const char *module, const char *line)
{
  nn_dlog_t *l = ctx;
  if (level >= mod_level(l, module))
    emit(l, level, module, line);
}

void
nn_dlog_say(nn_dlog_t *l, int level, const char *fmt, ...)
{
  char line[NN_LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  nn_dlog_line(l, level, "nepnetd", line);
}
