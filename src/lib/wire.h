/**
 * \file wire.h
 * \brief Bounded big-endian reader and writer that every nepnet parser and serializer uses.
 *
 * The reader never reads past its buffer: a short read returns an error value, zeroes the
 * output, and makes the reader "sticky" (every later call fails with the first error), so a
 * parser can read a whole message and check once at the end without ever touching memory it
 * should not. Length-prefixed fields carry a caller-chosen cap that is checked before the
 * caller sees (and so before it could allocate for) the length.
 *
 * The writer writes into a fixed buffer or into a growable one with a hard maximum; running out
 * of room is likewise a sticky error, never an overflow.
 */
#ifndef NN_LIB_WIRE_H
#define NN_LIB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "nepnet/error.h"

typedef struct nn_wire_reader_t {
  const uint8_t *buf;
  size_t len;
  size_t off;
  nn_err_t err; /**< first error seen; NN_OK while everything fit */
} nn_wire_reader_t;

void nn_wire_reader_init(nn_wire_reader_t *r, const uint8_t *buf, size_t len);
/** Bytes not yet consumed (0 once the reader has failed). */
size_t nn_wire_remaining(const nn_wire_reader_t *r);

nn_err_t nn_wire_get_u8(nn_wire_reader_t *r, uint8_t *v);
nn_err_t nn_wire_get_u16(nn_wire_reader_t *r, uint16_t *v);
nn_err_t nn_wire_get_u24(nn_wire_reader_t *r, uint32_t *v);
nn_err_t nn_wire_get_u32(nn_wire_reader_t *r, uint32_t *v);
nn_err_t nn_wire_get_u64(nn_wire_reader_t *r, uint64_t *v);
/** Copy exactly \a n bytes into \a out (zero-filled on failure). */
nn_err_t nn_wire_get_bytes(nn_wire_reader_t *r, uint8_t *out, size_t n);
/** Point \a *view at the next \a n bytes without copying (NULL on failure). */
nn_err_t nn_wire_get_view(nn_wire_reader_t *r, size_t n, const uint8_t **view);
nn_err_t nn_wire_skip(nn_wire_reader_t *r, size_t n);
/**
 * Read a length prefix of \a prefix_bytes (1, 2 or 4, big-endian) and then that many bytes as a
 * view. A length above \a cap fails with NN_ERR_TOO_LONG before anything else happens.
 */
nn_err_t nn_wire_get_var(nn_wire_reader_t *r, unsigned prefix_bytes, size_t cap, const uint8_t **view, size_t *len);
/** NN_OK if every byte was consumed without error, NN_ERR_TRAILING if bytes are left over. */
nn_err_t nn_wire_finish(const nn_wire_reader_t *r);

typedef struct nn_wire_writer_t {
  uint8_t *buf;
  size_t len;
  size_t cap;
  size_t max; /**< growable writers never exceed this many bytes */
  bool owned; /**< buf was allocated by the writer (and is wiped and freed by it) */
  nn_err_t err;
} nn_wire_writer_t;

/** Write into caller memory; never allocates. */
void nn_wire_writer_init_fixed(nn_wire_writer_t *w, uint8_t *buf, size_t cap);
/** Write into a buffer that grows up to \a max bytes. */
void nn_wire_writer_init_dynamic(nn_wire_writer_t *w, size_t max);
/** Wipe and free an owned buffer; accepts a zeroed or fixed writer. */
void nn_wire_writer_free(nn_wire_writer_t *w);
/** Take ownership of a dynamic writer's buffer (caller frees it); the writer is reset. */
uint8_t *nn_wire_writer_steal(nn_wire_writer_t *w, size_t *len);

nn_err_t nn_wire_put_u8(nn_wire_writer_t *w, uint8_t v);
nn_err_t nn_wire_put_u16(nn_wire_writer_t *w, uint16_t v);
nn_err_t nn_wire_put_u24(nn_wire_writer_t *w, uint32_t v);
nn_err_t nn_wire_put_u32(nn_wire_writer_t *w, uint32_t v);
nn_err_t nn_wire_put_u64(nn_wire_writer_t *w, uint64_t v);
nn_err_t nn_wire_put_bytes(nn_wire_writer_t *w, const uint8_t *p, size_t n);
/** Write \a n bytes of length prefix (1, 2 or 4) then the bytes; fails if \a n > \a cap. */
nn_err_t nn_wire_put_var(nn_wire_writer_t *w, unsigned prefix_bytes, size_t cap, const uint8_t *p, size_t n);
/** Reserve \a n bytes at the end and return where they start, for in-place encryption. */
nn_err_t nn_wire_reserve(nn_wire_writer_t *w, size_t n, uint8_t **out);

/* Plain big-endian helpers for fixed layouts (no bounds: the caller sized the buffer). */
static inline void
nn_be16_put(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void
nn_be32_put(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void
nn_be64_put(uint8_t *p, uint64_t v)
{
  nn_be32_put(p, (uint32_t)(v >> 32));
  nn_be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t
nn_be16_get(const uint8_t *p)
{
  return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t
nn_be32_get(const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t
nn_be64_get(const uint8_t *p)
{
  return ((uint64_t)nn_be32_get(p) << 32) | nn_be32_get(p + 4);
}

#endif
