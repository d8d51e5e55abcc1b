/* The bounded wire reader/writer: every read past the end, every over-cap length and every
 * overflow of a writer must be an error value, sticky, with zeroed outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/hex.h"
#include "lib/wire.h"

static void
test_ints_roundtrip(void **state)
{
  (void)state;
  uint8_t buf[18];
  nn_wire_writer_t w;
  nn_wire_reader_t r;
  uint8_t a;
  uint16_t b;
  uint32_t c, d;
  uint64_t e;

  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_wire_put_u8(&w, 0xab), NN_OK);
  assert_int_equal(nn_wire_put_u16(&w, 0x1234), NN_OK);
  assert_int_equal(nn_wire_put_u24(&w, 0x56789a), NN_OK);
  assert_int_equal(nn_wire_put_u32(&w, 0xdeadbeef), NN_OK);
  assert_int_equal(nn_wire_put_u64(&w, 0x0102030405060708ull), NN_OK);
  assert_int_equal(w.len, 18);
  /* big-endian on the wire */
  static const uint8_t want[18] = {
    0xab, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8
  };
  assert_memory_equal(buf, want, 18);

  nn_wire_reader_init(&r, buf, sizeof(buf));
  assert_int_equal(nn_wire_get_u8(&r, &a), NN_OK);
  assert_int_equal(nn_wire_get_u16(&r, &b), NN_OK);
  assert_int_equal(nn_wire_get_u24(&r, &c), NN_OK);
  assert_int_equal(nn_wire_get_u32(&r, &d), NN_OK);
  assert_int_equal(nn_wire_get_u64(&r, &e), NN_OK);
  assert_int_equal(a, 0xab);
  assert_int_equal(b, 0x1234);
  assert_int_equal(c, 0x56789a);
  assert_int_equal(d, 0xdeadbeef);
  assert_true(e == 0x0102030405060708ull);
  assert_int_equal(nn_wire_finish(&r), NN_OK);
}

static void
test_read_past_end_is_sticky(void **state)
{
  (void)state;
  uint8_t buf[3] = { 1, 2, 3 }, out[4] = { 9, 9, 9, 9 };
  nn_wire_reader_t r;
  uint32_t v = 77;
  uint8_t x = 5;

  nn_wire_reader_init(&r, buf, sizeof(buf));
  assert_int_equal(nn_wire_get_u32(&r, &v), NN_ERR_TRUNCATED);
  assert_int_equal(v, 0);
  /* sticky: even a read that would fit now fails, and outputs are zeroed */
  assert_int_equal(nn_wire_get_u8(&r, &x), NN_ERR_TRUNCATED);
  assert_int_equal(x, 0);
  assert_int_equal(nn_wire_get_bytes(&r, out, 2), NN_ERR_TRUNCATED);
  assert_int_equal(out[0], 0);
  assert_int_equal(out[1], 0);
  assert_int_equal(nn_wire_remaining(&r), 0);
  assert_int_equal(nn_wire_finish(&r), NN_ERR_TRUNCATED);
}

static void
test_every_prefix_of_a_message_fails(void **state)
{
  (void)state;
  uint8_t buf[64];
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  nn_wire_put_u16(&w, 7);
  nn_wire_put_var(&w, 2, 100, (const uint8_t *)"payload", 7);
  nn_wire_put_u32(&w, 42);
  assert_int_equal(w.err, NN_OK);
  for (size_t cut = 0; cut <= w.len; cut++) {
    nn_wire_reader_t r;
    uint16_t a;
    const uint8_t *p;
    size_t n;
    uint32_t z;
    nn_wire_reader_init(&r, buf, cut);
    nn_wire_get_u16(&r, &a);
    nn_wire_get_var(&r, 2, 100, &p, &n);
    nn_wire_get_u32(&r, &z);
    if (cut == w.len) {
      assert_int_equal(nn_wire_finish(&r), NN_OK);
      assert_int_equal(n, 7);
      assert_memory_equal(p, "payload", 7);
    } else {
      assert_int_equal(nn_wire_finish(&r), NN_ERR_TRUNCATED);
    }
  }
}

static void
test_var_cap_checked_before_length(void **state)
{
  (void)state;
  /* A 4-byte length of 0xffffffff with 2 bytes of body: the cap must reject it as too long,
   * never as truncated, and never hand the caller the huge length. */
  uint8_t buf[] = { 0xff, 0xff, 0xff, 0xff, 'h', 'i' };
  nn_wire_reader_t r;
  const uint8_t *p = (const uint8_t *)"x";
  size_t n = 99;
  nn_wire_reader_init(&r, buf, sizeof(buf));
  assert_int_equal(nn_wire_get_var(&r, 4, 1 << 20, &p, &n), NN_ERR_TOO_LONG);
  assert_null(p);
  assert_int_equal(n, 0);
  /* within cap but beyond the buffer */
  uint8_t buf2[] = { 0x00, 0x05, 'h', 'i' };
  nn_wire_reader_init(&r, buf2, sizeof(buf2));
  assert_int_equal(nn_wire_get_var(&r, 2, 100, &p, &n), NN_ERR_TRUNCATED);
  /* bad prefix width */
  nn_wire_reader_init(&r, buf2, sizeof(buf2));
  assert_int_equal(nn_wire_get_var(&r, 3, 100, &p, &n), NN_ERR_ARG);
}

static void
test_trailing_bytes(void **state)
{
  (void)state;
  uint8_t buf[3] = { 0, 1, 2 };
  nn_wire_reader_t r;
  uint16_t v;
  nn_wire_reader_init(&r, buf, sizeof(buf));
  nn_wire_get_u16(&r, &v);
  assert_int_equal(nn_wire_finish(&r), NN_ERR_TRAILING);
  assert_int_equal(nn_wire_remaining(&r), 1);
  assert_int_equal(nn_wire_skip(&r, 2), NN_ERR_TRUNCATED);
}

static void
test_null_and_empty(void **state)
{
  (void)state;
  nn_wire_reader_t r;
  uint8_t v;
  const uint8_t *p;
  nn_wire_reader_init(&r, NULL, 100); /* a NULL buffer has no bytes, whatever len says */
  assert_int_equal(nn_wire_get_u8(&r, &v), NN_ERR_TRUNCATED);
  nn_wire_reader_init(&r, (const uint8_t *)"", 0);
  assert_int_equal(nn_wire_get_view(&r, 0, &p), NN_OK);
  assert_int_equal(nn_wire_finish(&r), NN_OK);
}

static void
test_fixed_writer_overflow(void **state)
{
  (void)state;
  uint8_t buf[5];
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_wire_put_u32(&w, 1), NN_OK);
  assert_int_equal(nn_wire_put_u16(&w, 1), NN_ERR_NOSPACE);
  assert_int_equal(w.len, 4);
  assert_int_equal(nn_wire_put_u8(&w, 1), NN_ERR_NOSPACE); /* sticky */
  assert_int_equal(nn_wire_put_u24(&w, 0x1000000), NN_ERR_NOSPACE);
}

static void
test_writer_var_limits(void **state)
{
  (void)state;
  uint8_t buf[400], data[300] = { 0 };
  nn_wire_writer_t w;
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_wire_put_var(&w, 1, 1000, data, 256), NN_ERR_TOO_LONG); /* 256 > u8 */
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_wire_put_var(&w, 2, 10, data, 11), NN_ERR_TOO_LONG);
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_wire_put_var(&w, 1, 255, data, 255), NN_OK);
  assert_int_equal(w.len, 256);
  nn_wire_writer_init_fixed(&w, buf, sizeof(buf));
  assert_int_equal(nn_wire_put_u24(&w, 0x1000000), NN_ERR_ARG);
}

static void
test_dynamic_writer_grows_to_max(void **state)
{
  (void)state;
  nn_wire_writer_t w;
  uint8_t chunk[1000];
  uint8_t *out, *p;
  size_t len;
  memset(chunk, 0x5a, sizeof(chunk));
  nn_wire_writer_init_dynamic(&w, 10000);
  for (int i = 0; i < 10; i++)
    assert_int_equal(nn_wire_put_bytes(&w, chunk, sizeof(chunk)), NN_OK);
  assert_int_equal(w.len, 10000);
  assert_int_equal(nn_wire_put_u8(&w, 1), NN_ERR_NOSPACE);
  out = nn_wire_writer_steal(&w, &len);
  assert_int_equal(len, 10000);
  assert_int_equal(out[9999], 0x5a);
  free(out);
  nn_wire_writer_free(&w);

  nn_wire_writer_init_dynamic(&w, 64);
  assert_int_equal(nn_wire_reserve(&w, 60, &p), NN_OK);
  assert_non_null(p);
  assert_int_equal(nn_wire_reserve(&w, 5, &p), NN_ERR_NOSPACE);
  assert_null(p);
  nn_wire_writer_free(&w);
  nn_wire_writer_free(NULL);
}

static void
test_hex(void **state)
{
  (void)state;
  uint8_t b[3];
  char s[7];
  assert_int_equal(nn_hex_decode(b, 3, "00fFa5"), NN_OK);
  nn_hex_encode(s, b, 3);
  assert_string_equal(s, "00ffa5");
  assert_int_equal(nn_hex_decode(b, 3, "00ffa"), NN_ERR_FORMAT);
  assert_int_equal(nn_hex_decode(b, 3, "00ffag"), NN_ERR_FORMAT);
  assert_int_equal(nn_hex_decode(b, 2, "00ffa5"), NN_ERR_FORMAT);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ints_roundtrip),
    cmocka_unit_test(test_read_past_end_is_sticky),
    cmocka_unit_test(test_every_prefix_of_a_message_fails),
    cmocka_unit_test(test_var_cap_checked_before_length),
    cmocka_unit_test(test_trailing_bytes),
    cmocka_unit_test(test_null_and_empty),
    cmocka_unit_test(test_fixed_writer_overflow),
    cmocka_unit_test(test_writer_var_limits),
    cmocka_unit_test(test_dynamic_writer_grows_to_max),
    cmocka_unit_test(test_hex),
  };
  return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
