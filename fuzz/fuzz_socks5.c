/* Fuzz the SOCKS5 client core (overlay/socks5.h) as a hostile proxy: the input's first byte
 * picks the target (onion, IPv4, IPv6) and whether credentials are offered, its second how the
 * rest is cut into reads; the rest is the proxy's bytes. The core never takes more than it is
 * given, never sends after FAILED, reaches OPEN only after a CONNECT went out and a reply with
 * REP 0 came back, and a stream's first bytes (after OPEN) are left untouched. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const targets[] = { "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion:9800",
                                         "198.51.100.2:9800", "[2001:db8::7]:9800" };
  nn_socks5_t s;
  nn_addr_t to;
  if (size < 2)
    return 0;
  uint8_t how = data[0], cut = data[1];
  data += 2;
  size -= 2;
  if (nn_addr_parse(&to, targets[how % 3]))
    abort();
  if (nn_socks5_start(&s, &to, (how & 4) ? "isolation-user" : NULL, (how & 4) ? "isolation-pass" : NULL))
    abort();
  size_t sent = 0, k = 0;
  nn_socks5_status_t st = NN_SOCKS5_MORE;
  while (k < size) {
    size_t n, used;
    (void)nn_socks5_output(&s, &n);
    if (st != NN_SOCKS5_MORE && n)
      abort(); /* nothing is sent once it is over */
    nn_socks5_consume(&s, n);
    sent += n;
    size_t chunk = cut ? (size_t)cut % 17 + 1 : size - k;
    if (chunk > size - k)
      chunk = size - k;
    nn_socks5_status_t was = st;
    st = nn_socks5_input(&s, data + k, chunk, &used);
    if (used > chunk || (was != NN_SOCKS5_MORE && (used || st != was)))
      abort();
    if (st == NN_SOCKS5_OPEN && (s.reply != NN_SOCKS5_OK || sent < 3 + s.connect_len))
      abort();
    if (st == NN_SOCKS5_FAILED && !nn_socks5_why(&s)[0])
      abort();
    k += used ? used : chunk; /* after OPEN/FAILED the rest is the stream's, or ignored */
  }
  nn_socks5_clear(&s);
  return 0;
}
