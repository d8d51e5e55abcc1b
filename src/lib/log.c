#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int
nn_log_enabled(const nn_log_t *lg, int level)
{
  return level >= (lg ? lg->level : NN_LOG_INFO);
}

void
nn_log(const nn_log_t *lg, int level, const char *module, const char *fmt, ...)
{
  char line[NN_LOG_LINE_MAX];
  va_list ap;
  if (!nn_log_enabled(lg, level))
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (lg && lg->fn)
    lg->fn(lg->ctx, level, module, line);
  else
    fprintf(stderr, "nepnet %s%s%s: %s\n", lg && lg->tag[0] ? lg->tag : "", lg && lg->tag[0] ? " " : "", module, line);
}

const char *
nn_log_level_str(int level)
{
  return level >= 0 && level <= NN_LOG_ERROR ? level_names[level] : "?";
}

int
nn_log_level_parse(const char *s)
{
  for (int i = 0; s && i <= NN_LOG_ERROR; i++)
    if (!strcmp(s, level_names[i]))
      return i;
  return -1;
}
