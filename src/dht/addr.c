#define _POSIX_C_SOURCE 200809L
#include "dht/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t
nn_addr_host_len(uint8_t type)
{
  switch (type) {
  case NN_ADDR_IPV4: return 4;
  case NN_ADDR_IPV6: return 16;
  case NN_ADDR_ONION: return 32;
  case NN_ADDR_I2P: return 32;
  }
  return 0;
}

nn_addr_t
nn_addr_ipv4(const uint8_t ip[4], uint16_t port)
{
  nn_addr_t a;
  memset(&a, 0, sizeof(a));
  a.type = NN_ADDR_IPV4;
  memcpy(a.host, ip, 4);
  a.port = port;
  return a;
}

nn_addr_t
nn_addr_ipv6(const uint8_t ip[16], uint16_t port)
{
  nn_addr_t a;
  memset(&a, 0, sizeof(a));
  a.type = NN_ADDR_IPV6;
  memcpy(a.host, ip, 16);
  a.port = port;
  return a;
}

nn_err_t
nn_addr_parse(nn_addr_t *out, const char *s)
{
  char host[64];
  const char *colon;
  size_t hl;
  char *end;
  unsigned long port;

  memset(out, 0, sizeof(*out));
  if (*s == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return NN_ERR_FORMAT;
    hl = (size_t)(close - s - 1);
    if (hl >= sizeof(host))
      return NN_ERR_FORMAT;
    memcpy(host, s + 1, hl);
    host[hl] = '\0';
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon)
      return NN_ERR_FORMAT;
    hl = (size_t)(colon - s);
    if (hl >= sizeof(host))
      return NN_ERR_FORMAT;
    memcpy(host, s, hl);
    host[hl] = '\0';
  }
  port = strtoul(colon + 1, &end, 10);
  if (!colon[1] || *end || port > 65535)
    return NN_ERR_FORMAT;
  out->port = (uint16_t)port;
  if (inet_pton(AF_INET, host, out->host) == 1) {
    out->type = NN_ADDR_IPV4;
    return NN_OK;
  }
  if (inet_pton(AF_INET6, host, out->host) == 1) {
    out->type = NN_ADDR_IPV6;
    return NN_OK;
  }
  memset(out, 0, sizeof(*out));
  return NN_ERR_FORMAT;
}

static void
base32(char *out, const uint8_t *in, size_t n)
{
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned buf = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    buf = (buf << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = alpha[(buf >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits)
    out[o++] = alpha[(buf << (5 - bits)) & 31];
  out[o] = '\0';
}

void
nn_addr_format(const nn_addr_t *a, char out[NN_ADDR_STR_MAX])
{
  char host[64];
  switch (a->type) {
  case NN_ADDR_IPV4:
    inet_ntop(AF_INET, a->host, host, sizeof(host));
    snprintf(out, NN_ADDR_STR_MAX, "%s:%u", host, a->port);
    return;
  case NN_ADDR_IPV6:
    inet_ntop(AF_INET6, a->host, host, sizeof(host));
    snprintf(out, NN_ADDR_STR_MAX, "[%s]:%u", host, a->port);
    return;
  case NN_ADDR_ONION:
  case NN_ADDR_I2P:
    base32(host, a->host, 32);
    snprintf(out, NN_ADDR_STR_MAX, "%s.%s:%u", host, a->type == NN_ADDR_ONION ? "onion" : "b32.i2p",
             a->port);
    return;
  }
  snprintf(out, NN_ADDR_STR_MAX, "(unknown address type %u)", a->type);
}

int
nn_addr_equal(const nn_addr_t *a, const nn_addr_t *b)
{
  return nn_addr_same_host(a, b) && a->port == b->port;
}

int
nn_addr_same_host(const nn_addr_t *a, const nn_addr_t *b)
{
  return a->type == b->type && memcmp(a->host, b->host, nn_addr_host_len(a->type)) == 0;
}

static int
is_v4_mapped(const nn_addr_t *a)
{
  static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  return a->type == NN_ADDR_IPV6 && memcmp(a->host, prefix, 12) == 0;
}

size_t
nn_addr_group(const nn_addr_t *a, unsigned v4_bits, unsigned v6_bits, uint8_t out[1 + NN_ADDR_HOST_MAX])
{
  const uint8_t *host = a->host;
  unsigned bits;
  uint8_t type = a->type;

  if (is_v4_mapped(a)) {
    host = a->host + 12;
    type = NN_ADDR_IPV4;
  }
  switch (type) {
  case NN_ADDR_IPV4: bits = v4_bits > 32 ? 32 : v4_bits; break;
  case NN_ADDR_IPV6: bits = v6_bits > 128 ? 128 : v6_bits; break;
  default: bits = (unsigned)(8 * nn_addr_host_len(type)); break;
  }
  out[0] = type;
  size_t bytes = (bits + 7) / 8;
  memcpy(out + 1, host, bytes);
  if (bits % 8)
    out[bytes] &= (uint8_t)(0xff << (8 - bits % 8));
  return 1 + bytes;
}

int
nn_addr_is_public(const nn_addr_t *a)
{
  const uint8_t *h = a->host;
  if (is_v4_mapped(a)) {
    nn_addr_t v4 = nn_addr_ipv4(a->host + 12, a->port);
    return nn_addr_is_public(&v4);
  }
  switch (a->type) {
  case NN_ADDR_IPV4:
    if (h[0] == 0 || h[0] == 10 || h[0] == 127 || h[0] >= 224) return 0;
    if (h[0] == 169 && h[1] == 254) return 0;
    if (h[0] == 172 && (h[1] & 0xf0) == 16) return 0;
    if (h[0] == 192 && h[1] == 168) return 0;
    if (h[0] == 100 && (h[1] & 0xc0) == 64) return 0; /* carrier-grade NAT */
    return 1;
  case NN_ADDR_IPV6:
    if ((h[0] & 0xfe) == 0xfc) return 0;                 /* unique local */
    if (h[0] == 0xfe && (h[1] & 0xc0) == 0x80) return 0; /* link local */
    if (h[0] == 0xff) return 0;                          /* multicast */
    for (int i = 0; i < 15; i++)
      if (h[i]) return 1;
    return 0;                                            /* :: and ::1 */
  case NN_ADDR_ONION:
  case NN_ADDR_I2P:
    return 1;
  }
  return 0;
}

nn_err_t
nn_addr_put(nn_wire_writer_t *w, const nn_addr_t *a)
{
  size_t n = nn_addr_host_len(a->type);
  if (!n)
    return NN_ERR_ARG;
  nn_wire_put_u8(w, a->type);
  nn_wire_put_bytes(w, a->host, n);
  return nn_wire_put_u16(w, a->port);
}

nn_err_t
nn_addr_get(nn_wire_reader_t *r, nn_addr_t *a)
{
  uint8_t type = 0;
  memset(a, 0, sizeof(*a));
  nn_wire_get_u8(r, &type);
  size_t n = nn_addr_host_len(type);
  if (!r->err && !n)
    r->err = NN_ERR_FORMAT; /* sticky, like every other reader error */
  if (r->err)
    return r->err;
  a->type = type;
  nn_wire_get_bytes(r, a->host, n);
  nn_wire_get_u16(r, &a->port);
  if (r->err)
    memset(a, 0, sizeof(*a));
  return r->err;
}
