#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hex.h"

static void
die(const char *what, const char *name)
{
  fprintf(stderr, "vector file %s: %s\n", name, what);
  exit(2);
}

static char *
trim(char *s)
{
  char *e;
  while (*s == ' ' || *s == '\t')
    s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

static void
finish_block(vec_file_t *v, vec_block_t *cur, const char *name)
{
  if (!cur->n)
    return;
  if (getenv("NEPNET_KAT_CORRUPT") && cur->f[cur->n - 1].len)
    cur->f[cur->n - 1].data[0] ^= 1;
  v->blocks = realloc(v->blocks, (v->n + 1) * sizeof(*v->blocks));
  if (!v->blocks)
    die("out of memory", name);
  v->blocks[v->n++] = *cur;
  memset(cur, 0, sizeof(*cur));
}

vec_file_t *
vec_load(const char *name)
{
  char path[1024], *line = NULL;
  size_t cap = 0;
  vec_file_t *v = calloc(1, sizeof(*v));
  vec_block_t cur;
  FILE *f = NULL;

  snprintf(path, sizeof(path), "%s/%s", NEPNET_VECTOR_DIR, name);
  if (!v || !(f = fopen(path, "r")))
    die("cannot open", path);
  memset(&cur, 0, sizeof(cur));
  while (getline(&line, &cap, f) > 0) {
    char *s = trim(line), *eq, *key, *val;
    if (*s == '#')
      continue;
    if (!*s) {
      finish_block(v, &cur, path);
      continue;
    }
    if (!(eq = strchr(s, '=')) || cur.n == VEC_MAX_FIELDS)
      die("malformed line", path);
    *eq = '\0';
    key = trim(s);
    val = trim(eq + 1);
    vec_field_t *fld = &cur.f[cur.n++];
    snprintf(fld->name, sizeof(fld->name), "%s", key);
    fld->len = strlen(val) / 2;
    fld->data = malloc(fld->len + 1);
    if (!fld->data || nn_hex_decode(fld->data, fld->len, val))
      die("bad hex", path);
  }
  finish_block(v, &cur, path);
  free(line);
  fclose(f);
  if (!v->n)
    die("no vectors", path);
  return v;
}

void
vec_free(vec_file_t *v)
{
  if (!v)
    return;
  for (size_t i = 0; i < v->n; i++)
    for (size_t j = 0; j < v->blocks[i].n; j++)
      free(v->blocks[i].f[j].data);
  free(v->blocks);
  free(v);
}

const vec_field_t *
vec_get(const vec_block_t *b, const char *name)
{
  for (size_t i = 0; i < b->n; i++)
    if (!strcmp(b->f[i].name, name))
      return &b->f[i];
  fprintf(stderr, "vector block has no field '%s'\n", name);
  exit(2);
}
