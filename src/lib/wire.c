#include "lib/wire.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void
nn_wire_reader_init(nn_wire_reader_t *r, const uint8_t *buf, size_t len)
{
  r->buf = buf;
  r->len = buf ? len : 0;
  r->off = 0;
  r->err = NN_OK;
}

size_t
nn_wire_remaining(const nn_wire_reader_t *r)
{
  return r->err ? 0 : r->len - r->off;
}

static nn_err_t
fail(nn_wire_reader_t *r, nn_err_t err)
{
  if (!r->err)
    r->err = err;
  return r->err;
}

/* The single place that moves the cursor: every read goes through here. */
static nn_err_t
take(nn_wire_reader_t *r, size_t n, const uint8_t **p)
{
  *p = NULL;
  if (r->err)
    return r->err;
  if (n > r->len - r->off)
    return fail(r, NN_ERR_TRUNCATED);
  *p = r->buf + r->off;
  r->off += n;
  return NN_OK;
}

static uint64_t
load_be(const uint8_t *p, size_t n)
{
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

static nn_err_t
get_uint(nn_wire_reader_t *r, size_t n, uint64_t *v)
{
  const uint8_t *p;
  nn_err_t err = take(r, n, &p);
  *v = err ? 0 : load_be(p, n);
  return err;
}

nn_err_t
nn_wire_get_u8(nn_wire_reader_t *r, uint8_t *v)
{
  uint64_t x;
  nn_err_t err = get_uint(r, 1, &x);
  *v = (uint8_t)x;
  return err;
}

nn_err_t
nn_wire_get_u16(nn_wire_reader_t *r, uint16_t *v)
{
  uint64_t x;
  nn_err_t err = get_uint(r, 2, &x);
  *v = (uint16_t)x;
  return err;
}

nn_err_t
nn_wire_get_u24(nn_wire_reader_t *r, uint32_t *v)
{
  uint64_t x;
  nn_err_t err = get_uint(r, 3, &x);
  *v = (uint32_t)x;
  return err;
}

nn_err_t
nn_wire_get_u32(nn_wire_reader_t *r, uint32_t *v)
{
  uint64_t x;
  nn_err_t err = get_uint(r, 4, &x);
  *v = (uint32_t)x;
  return err;
}

nn_err_t
nn_wire_get_u64(nn_wire_reader_t *r, uint64_t *v)
{
  return get_uint(r, 8, v);
}

nn_err_t
nn_wire_get_bytes(nn_wire_reader_t *r, uint8_t *out, size_t n)
{
  const uint8_t *p;
  nn_err_t err = take(r, n, &p);
  if (err) {
    if (out && n)
      memset(out, 0, n);
    return err;
  }
  if (n)
    memcpy(out, p, n);
  return NN_OK;
}

nn_err_t
nn_wire_get_view(nn_wire_reader_t *r, size_t n, const uint8_t **view)
{
  return take(r, n, view);
}

nn_err_t
nn_wire_skip(nn_wire_reader_t *r, size_t n)
{
  const uint8_t *p;
  return take(r, n, &p);
}

nn_err_t
nn_wire_get_var(nn_wire_reader_t *r, unsigned prefix_bytes, size_t cap, const uint8_t **view, size_t *len)
{
  uint64_t n;
  nn_err_t err;

  *view = NULL;
  *len = 0;
  if (prefix_bytes != 1 && prefix_bytes != 2 && prefix_bytes != 4)
    return fail(r, NN_ERR_ARG);
  if ((err = get_uint(r, prefix_bytes, &n)))
    return err;
  if (n > cap)
    return fail(r, NN_ERR_TOO_LONG);
  if ((err = take(r, (size_t)n, view)))
    return err;
  *len = (size_t)n;
  return NN_OK;
}

nn_err_t
nn_wire_finish(const nn_wire_reader_t *r)
{
  if (r->err)
    return r->err;
  return r->off == r->len ? NN_OK : NN_ERR_TRAILING;
}

/* ---- writer ---- */

void
nn_wire_writer_init_fixed(nn_wire_writer_t *w, uint8_t *buf, size_t cap)
{
  memset(w, 0, sizeof(*w));
  w->buf = buf;
  w->cap = buf ? cap : 0;
  w->max = w->cap;
}

void
nn_wire_writer_init_dynamic(nn_wire_writer_t *w, size_t max)
{
  memset(w, 0, sizeof(*w));
  w->max = max;
  w->owned = true;
}

void
nn_wire_writer_free(nn_wire_writer_t *w)
{
  if (!w)
    return;
  if (w->owned && w->buf) {
    OPENSSL_cleanse(w->buf, w->cap);
    free(w->buf);
  }
  w->buf = NULL;
  w->len = w->cap = 0;
}

uint8_t *
nn_wire_writer_steal(nn_wire_writer_t *w, size_t *len)
{
  uint8_t *p = w->buf;
  *len = w->len;
  w->buf = NULL;
  w->len = w->cap = 0;
  return p;
}

static nn_err_t
wfail(nn_wire_writer_t *w, nn_err_t err)
{
  if (!w->err)
    w->err = err;
  return w->err;
}

/* Make room for n more bytes: grow an owned buffer (doubling, capped at max), or fail. */
static nn_err_t
room(nn_wire_writer_t *w, size_t n)
{
  if (w->err)
    return w->err;
  if (n > w->max - w->len)
    return wfail(w, NN_ERR_NOSPACE);
  if (n <= w->cap - w->len)
    return NN_OK;
  if (!w->owned)
    return wfail(w, NN_ERR_NOSPACE);
  size_t want = w->cap ? w->cap : 256;
  while (want < w->len + n)
    want = want > w->max / 2 ? w->max : want * 2;
  if (want > w->max)
    want = w->max;
  /* Not realloc: the old buffer may hold secrets and must be wiped, not abandoned. */
  uint8_t *nb = malloc(want);
  if (!nb)
    return wfail(w, NN_ERR_NOMEM);
  if (w->buf) {
    memcpy(nb, w->buf, w->len);
    OPENSSL_cleanse(w->buf, w->cap);
    free(w->buf);
  }
  w->buf = nb;
  w->cap = want;
  return NN_OK;
}

static nn_err_t
put_uint(nn_wire_writer_t *w, uint64_t v, size_t n)
{
  nn_err_t err = room(w, n);
  if (err)
    return err;
  for (size_t i = 0; i < n; i++)
    w->buf[w->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  w->len += n;
  return NN_OK;
}

nn_err_t
nn_wire_put_u8(nn_wire_writer_t *w, uint8_t v)
{
  return put_uint(w, v, 1);
}
nn_err_t
nn_wire_put_u16(nn_wire_writer_t *w, uint16_t v)
{
  return put_uint(w, v, 2);
}
nn_err_t
nn_wire_put_u32(nn_wire_writer_t *w, uint32_t v)
{
  return put_uint(w, v, 4);
}
nn_err_t
nn_wire_put_u64(nn_wire_writer_t *w, uint64_t v)
{
  return put_uint(w, v, 8);
}

nn_err_t
nn_wire_put_u24(nn_wire_writer_t *w, uint32_t v)
{
  if (v > 0xffffffu)
    return wfail(w, NN_ERR_ARG);
  return put_uint(w, v, 3);
}

nn_err_t
nn_wire_put_bytes(nn_wire_writer_t *w, const uint8_t *p, size_t n)
{
  nn_err_t err = room(w, n);
  if (err)
    return err;
  if (n)
    memcpy(w->buf + w->len, p, n);
  w->len += n;
  return NN_OK;
}

nn_err_t
nn_wire_put_var(nn_wire_writer_t *w, unsigned prefix_bytes, size_t cap, const uint8_t *p, size_t n)
{
  if (prefix_bytes != 1 && prefix_bytes != 2 && prefix_bytes != 4)
    return wfail(w, NN_ERR_ARG);
  uint64_t limit = prefix_bytes == 4 ? 0xffffffffu : (1u << (8 * prefix_bytes)) - 1;
  if (n > cap || n > limit)
    return wfail(w, NN_ERR_TOO_LONG);
  nn_err_t err = put_uint(w, n, prefix_bytes);
  return err ? err : nn_wire_put_bytes(w, p, n);
}

nn_err_t
nn_wire_reserve(nn_wire_writer_t *w, size_t n, uint8_t **out)
{
  nn_err_t err = room(w, n);
  *out = err ? NULL : w->buf + w->len;
  if (!err)
    w->len += n;
  return err;
}
