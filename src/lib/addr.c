#define _POSIX_C_SOURCE 200809L
#include "lib/addr.h"
#include "lib/hex.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

size_t
nn_addr_host_len(uint8_t type)
{
  switch (type) {
  case NN_ADDR_IPV4: return 4;
  case NN_ADDR_IPV6: return 16;
  case NN_ADDR_ONION: return 32;
  case NN_ADDR_I2P: return 32;
  case NN_ADDR_RELAY: return 32;
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

nn_addr_t
nn_addr_overlay(nn_addr_type_t type, const uint8_t key[32], uint16_t port)
{
  nn_addr_t a;
  memset(&a, 0, sizeof(a));
  a.type = (uint8_t)type;
  memcpy(a.host, key, 32);
  a.port = port;
  return a;
}

static const char b32_alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

/* RFC 4648 base32, lower case, no padding: \a out gets ceil(8n/5) characters and a NUL. */
static void
base32_encode(char *out, const uint8_t *in, size_t n)
{
  unsigned buf = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    buf = (buf << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = b32_alpha[(buf >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits)
    out[o++] = b32_alpha[(buf << (5 - bits)) & 31];
  out[o] = '\0';
}

/* Decode exactly \a n bytes from \a len characters (either case); the unused low bits of the
 * last character must be zero, so every byte string has one spelling. */
static int
base32_decode(uint8_t *out, size_t n, const char *in, size_t len)
{
  unsigned buf = 0, bits = 0;
  size_t o = 0;
  if (len != (8 * n + 4) / 5)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    unsigned v;
    if (c >= 'a' && c <= 'z')
      v = (unsigned)(c - 'a');
    else if (c >= 'A' && c <= 'Z')
      v = (unsigned)(c - 'A');
    else if (c >= '2' && c <= '7')
      v = (unsigned)(c - '2') + 26;
    else
      return 0;
    buf = ((buf << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      out[o++] = (uint8_t)(buf >> (bits - 8));
      bits -= 8;
    }
  }
  return o == n && (buf & ((1u << bits) - 1)) == 0;
}

/* Tor v3 (rend-spec-v3 6): CHECKSUM = SHA3-256(".onion checksum" || PUBKEY || VERSION)[:2]. */
static int
onion_checksum(const uint8_t key[32], uint8_t sum[2])
{
  uint8_t buf[15 + 32 + 1], md[32];
  unsigned int mdlen = 0;
  memcpy(buf, ".onion checksum", 15);
  memcpy(buf + 15, key, 32);
  buf[47] = 3;
  if (!EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha3_256(), NULL) || mdlen != 32)
    return 0;
  sum[0] = md[0];
  sum[1] = md[1];
  return 1;
}

static int
ends_with(const char *s, size_t n, const char *suffix, size_t *stem)
{
  size_t l = strlen(suffix);
  if (n < l || strncasecmp(s + n - l, suffix, l))
    return 0;
  *stem = n - l;
  return 1;
}

/* An onion or I2P host name: "<56>.onion" or "<52>.b32.i2p". */
static int
parse_overlay(nn_addr_t *out, const char *host, size_t hl)
{
  size_t stem;
  if (ends_with(host, hl, ".onion", &stem)) {
    uint8_t raw[35], sum[2];
    if (!base32_decode(raw, sizeof(raw), host, stem) || raw[34] != 3 || !onion_checksum(raw, sum) ||
        memcmp(sum, raw + 32, 2))
      return 0;
    *out = nn_addr_overlay(NN_ADDR_ONION, raw, out->port);
    return 1;
  }
  if (ends_with(host, hl, ".b32.i2p", &stem)) {
    uint8_t raw[32];
    if (!base32_decode(raw, sizeof(raw), host, stem))
      return 0;
    *out = nn_addr_overlay(NN_ADDR_I2P, raw, out->port);
    return 1;
  }
  if (ends_with(host, hl, ".relay", &stem)) {
    uint8_t raw[32];
    char hex[65];
    if (stem != 64)
      return 0;
    memcpy(hex, host, 64);
    hex[64] = 0;
    if (nn_hex_decode(raw, sizeof(raw), hex) != NN_OK)
      return 0;
    *out = nn_addr_overlay(NN_ADDR_RELAY, raw, out->port);
    return 1;
  }
  return 0;
}

/* Decimal digits only, 0..65535; no sign, no space. */
static int
parse_port(const char *s, uint16_t *port)
{
  unsigned long p = 0;
  size_t n = strlen(s);
  if (!n || n > 5)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    p = p * 10 + (unsigned long)(s[i] - '0');
  }
  if (p > 65535)
    return 0;
  *port = (uint16_t)p;
  return 1;
}

nn_err_t
nn_addr_parse(nn_addr_t *out, const char *s)
{
  char host[NN_ADDR_STR_MAX];
  const char *colon;
  size_t hl;
  uint16_t port;

  memset(out, 0, sizeof(*out));
  if (!s)
    return NN_ERR_FORMAT;
  if (*s == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return NN_ERR_FORMAT;
    s++;
    hl = (size_t)(close - s);
    colon = close + 1;
  } else {
    if (!(colon = strrchr(s, ':')))
      return NN_ERR_FORMAT;
    hl = (size_t)(colon - s);
    if (memchr(s, ':', hl)) /* an IPv6 address must be bracketed */
      return NN_ERR_FORMAT;
  }
  if (!hl || hl >= sizeof(host) || !parse_port(colon + 1, &port))
    return NN_ERR_FORMAT;
  memcpy(host, s, hl);
  host[hl] = '\0';
  out->port = port;
  if (!strcmp(host, "*")) {
    out->type = NN_ADDR_IPV4;
    return NN_OK;
  }
  if (inet_pton(AF_INET, host, out->host) == 1) {
    out->type = NN_ADDR_IPV4;
    return NN_OK;
  }
  if (inet_pton(AF_INET6, host, out->host) == 1) {
    out->type = NN_ADDR_IPV6;
    return NN_OK;
  }
  if (parse_overlay(out, host, hl))
    return NN_OK;
  memset(out, 0, sizeof(*out));
  return NN_ERR_FORMAT;
}

void
nn_addr_format(const nn_addr_t *a, char out[NN_ADDR_STR_MAX])
{
  char host[72]; /* the longest: 64 hex digits of a relay's node id and a NUL */
  uint8_t raw[35];
  switch (a->type) {
  case NN_ADDR_IPV4:
    inet_ntop(AF_INET, a->host, host, sizeof(host));
    snprintf(out, NN_ADDR_STR_MAX, "%.46s:%u", host, a->port);
    return;
  case NN_ADDR_IPV6:
    inet_ntop(AF_INET6, a->host, host, sizeof(host));
    snprintf(out, NN_ADDR_STR_MAX, "[%.46s]:%u", host, a->port);
    return;
  case NN_ADDR_ONION:
    memcpy(raw, a->host, 32);
    raw[34] = 3;
    if (!onion_checksum(a->host, raw + 32))
      break;
    base32_encode(host, raw, 35);
    snprintf(out, NN_ADDR_STR_MAX, "%.56s.onion:%u", host, a->port);
    return;
  case NN_ADDR_I2P:
    base32_encode(host, a->host, 32);
    snprintf(out, NN_ADDR_STR_MAX, "%.52s.b32.i2p:%u", host, a->port);
    return;
  case NN_ADDR_RELAY:
    nn_hex_encode(host, a->host, 32);
    snprintf(out, NN_ADDR_STR_MAX, "%.64s.relay:%u", host, a->port);
    return;
  }
  snprintf(out, NN_ADDR_STR_MAX, "(unknown address type %u)", a->type);
}

int
nn_addr_is_any(const nn_addr_t *a)
{
  static const uint8_t zero[16] = { 0 };
  return (a->type == NN_ADDR_IPV4 || a->type == NN_ADDR_IPV6) && !memcmp(a->host, zero, nn_addr_host_len(a->type));
}

int
nn_addr_from_sockaddr(const struct sockaddr *sa, nn_addr_t *out)
{
  static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  memset(out, 0, sizeof(*out));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    *out = nn_addr_ipv4((const uint8_t *)&in->sin_addr, ntohs(in->sin_port));
    return 1;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (!memcmp(in6->sin6_addr.s6_addr, mapped, 12)) /* a dual-stack socket's IPv4 peer */
      *out = nn_addr_ipv4(in6->sin6_addr.s6_addr + 12, ntohs(in6->sin6_port));
    else
      *out = nn_addr_ipv6(in6->sin6_addr.s6_addr, ntohs(in6->sin6_port));
    return 1;
  }
  return 0;
}

int
nn_addr_to_sockaddr(const nn_addr_t *a, struct sockaddr_storage *ss, socklen_t *len)
{
  memset(ss, 0, sizeof(*ss));
  if (a->type == NN_ADDR_IPV4) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(a->port);
    memcpy(&in->sin_addr, a->host, 4);
    *len = sizeof(*in);
    return 1;
  }
  if (a->type == NN_ADDR_IPV6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    memcpy(&in6->sin6_addr, a->host, 16);
    *len = sizeof(*in6);
    return 1;
  }
  return 0;
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

size_t
nn_addr_host_key(const nn_addr_t *a, uint8_t out[NN_ADDR_HOST_KEY_MAX])
{
  if (nn_addr_is_public(a))
    return nn_addr_group(a, 32, 64, out);
  size_t hl = nn_addr_host_len(a->type);
  out[0] = a->type;
  memcpy(out + 1, a->host, hl);
  out[1 + hl] = (uint8_t)(a->port >> 8);
  out[2 + hl] = (uint8_t)a->port;
  return 3 + hl;
}

int
nn_addr_is_hidden_origin(const nn_addr_t *a)
{
  static const uint8_t zero[NN_ADDR_HOST_MAX];
  return a->type == NN_ADDR_ONION && !a->port && !memcmp(a->host, zero, sizeof(zero));
}

unsigned
nn_addr_net(const nn_addr_t *a)
{
  switch (a->type) {
  case NN_ADDR_IPV4:
  case NN_ADDR_IPV6:
  case NN_ADDR_RELAY: return NN_ADDR_NET_CLEARNET;
  case NN_ADDR_ONION: return NN_ADDR_NET_TOR;
  case NN_ADDR_I2P: return NN_ADDR_NET_I2P;
  }
  return 0;
}

nn_err_t
nn_addr_parse_nets(const char *s, unsigned *out)
{
  static const struct {
    const char *name;
    unsigned bit;
  } nets[] = { { "clearnet", NN_ADDR_NET_CLEARNET }, { "tor", NN_ADDR_NET_TOR }, { "i2p", NN_ADDR_NET_I2P } };
  unsigned m = 0;
  if (!s)
    return NN_ERR_FORMAT;
  for (;;) { /* NAME (',' NAME)*: no empty name, no trailing comma */
    size_t l = strcspn(s, ","), i;
    for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
      if (l == strlen(nets[i].name) && !strncmp(s, nets[i].name, l))
        break;
    if (i == sizeof(nets) / sizeof(nets[0]))
      return NN_ERR_FORMAT;
    m |= nets[i].bit;
    if (!s[l])
      break;
    s += l + 1;
  }
  *out = m;
  return NN_OK;
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
    if (h[0] == 0 || h[0] == 10 || h[0] == 127 || h[0] >= 224)
      return 0;
    if (h[0] == 169 && h[1] == 254)
      return 0;
    if (h[0] == 172 && (h[1] & 0xf0) == 16)
      return 0;
    if (h[0] == 192 && h[1] == 168)
      return 0;
    if (h[0] == 100 && (h[1] & 0xc0) == 64)
      return 0; /* carrier-grade NAT */
    return 1;
  case NN_ADDR_IPV6:
    if ((h[0] & 0xfe) == 0xfc)
      return 0; /* unique local */
    if (h[0] == 0xfe && (h[1] & 0xc0) == 0x80)
      return 0; /* link local */
    if (h[0] == 0xff)
      return 0; /* multicast */
    for (int i = 0; i < 15; i++)
      if (h[i])
        return 1;
    return 0; /* :: and ::1 */
  case NN_ADDR_ONION:
  case NN_ADDR_I2P:
  case NN_ADDR_RELAY: return 1;
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
