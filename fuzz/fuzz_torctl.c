/* Fuzz the Tor control-port core (overlay/torctl.h) as a hostile control port: the input's
 * first byte picks the configuration (a password or none) and how the rest is cut into reads;
 * the core is driven as a node drives it (the cookie given on NEED_COOKIE, ADD_ONION and GETINFO
 * once READY). Every event is well formed (NUL-terminated text, a service id of 56 base32
 * characters, a key that starts "ED25519-V3:"), nothing is sent after FAILED, and the password
 * never appears in the output but inside the one AUTHENTICATE. */

#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/torctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain(nn_torctl_t *t, int *failed)
{
  size_t n;
  const uint8_t *o = nn_torctl_output(t, &n);
  if (*failed && n)
    abort();
  if (n && memmem(o, n, "hunter2", 7) && !memmem(o, n, "AUTHENTICATE \"hunter2\"", 22))
    abort();
  nn_torctl_consume(t, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t cookie[32] = { 7 };
  nn_drbg_t d;
  nn_torctl_t *t;
  if (size < 1)
    return 0;
  uint8_t how = data[0];
  data++;
  size--;
  nn_drbg_init_u64(&d, 1);
  nn_rng_t rng = nn_drbg_rng(&d);
  nn_torctl_cfg_t cfg = { (how & 1) ? "hunter2" : NULL, &rng };
  if (nn_torctl_new(&t, &cfg))
    abort();
  int failed = 0;
  size_t k = 0, chunk = (how >> 1) ? (size_t)(how >> 1) : size;
  while (k < size && !failed) {
    drain(t, &failed);
    size_t n = chunk < size - k ? chunk : size - k;
    nn_err_t e = nn_torctl_input(t, data + k, n);
    k += n;
    nn_torctl_event_t ev;
    while (nn_torctl_event(t, &ev)) {
      if (memchr(ev.text, 0, sizeof(ev.text)) == NULL || memchr(ev.key, 0, sizeof(ev.key)) == NULL)
        abort();
      switch (ev.kind) {
      case NN_TORCTL_EV_NEED_COOKIE: (void)nn_torctl_cookie(t, cookie, (how & 2) ? 31 : 32); break;
      case NN_TORCTL_EV_READY:
        (void)nn_torctl_add_onion(t, (how & 4) ? "ED25519-V3:abc" : NULL, 9800, "127.0.0.1:19800");
        (void)nn_torctl_get_socks(t);
        break;
      case NN_TORCTL_EV_ONION:
        if (strlen(ev.text) != 56 || (ev.key[0] && strncmp(ev.key, "ED25519-V3:", 11)))
          abort();
        break;
      case NN_TORCTL_EV_FAILED: failed = 1; break;
      default: break;
      }
    }
    if (e && !failed)
      abort(); /* an error always says why */
  }
  drain(t, &failed);
  nn_torctl_free(t);
  return 0;
}
