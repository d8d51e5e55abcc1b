/*
 * Reader for the known-answer vector files in tests/vectors/: blocks of `name = hex` lines
 * separated by blank lines, `#` comments. By convention the last field of a block is the
 * expected output. With NEPNET_KAT_CORRUPT=1 in the environment the reader flips one bit of
 * that field, which every KAT must then detect (CTest runs the suite that way and expects failure).
 */
#ifndef NN_TESTS_VECTORS_H
#define NN_TESTS_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#define VEC_MAX_FIELDS 24

typedef struct vec_field_t {
  char name[32];
  uint8_t *data;
  size_t len;
} vec_field_t;

typedef struct vec_block_t {
  vec_field_t f[VEC_MAX_FIELDS];
  size_t n;
} vec_block_t;

typedef struct vec_file_t {
  vec_block_t *blocks;
  size_t n;
} vec_file_t;

/** Load tests/vectors/NAME; aborts the test run on a malformed file (test data is trusted). */
vec_file_t *vec_load(const char *name);
void vec_free(vec_file_t *v);
/** The field NAME of block B (fails the test if it is missing). */
const vec_field_t *vec_get(const vec_block_t *b, const char *name);

#endif
