/**
 * \file addr.h
 * \brief Network addresses as nepnet stores and sends them: IPv4, IPv6, and room for Tor v3
 * onion services and I2P destinations (docs/PROTOCOL.md 6.1).
 *
 * Wire form: type u8 || host (4, 16, 32 or 32 bytes by type) || port u16.
 */
#ifndef NN_DHT_ADDR_H
#define NN_DHT_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "lib/wire.h"

typedef enum nn_addr_type_t {
  NN_ADDR_IPV4 = 4,
  NN_ADDR_IPV6 = 6,
  NN_ADDR_ONION = 0x0d, /* Tor v3: the 32-byte ed25519 service key */
  NN_ADDR_I2P = 0x0e,   /* I2P: the 32-byte SHA-256 of the destination (the .b32 name) */
} nn_addr_type_t;

#define NN_ADDR_HOST_MAX 32
#define NN_ADDR_WIRE_MAX (1 + NN_ADDR_HOST_MAX + 2)
#define NN_ADDR_STR_MAX 80 /* "[v6]:port" or "<base32>.onion:port" and a NUL */

typedef struct nn_addr_t {
  uint8_t type;                   /* nn_addr_type_t */
  uint8_t host[NN_ADDR_HOST_MAX]; /* the first nn_addr_host_len() bytes are used, the rest zero */
  uint16_t port;
} nn_addr_t;

/** Host length of an address type (0 for an unknown type). */
size_t nn_addr_host_len(uint8_t type);
/** Build an IPv4 address from 4 network-order bytes. */
nn_addr_t nn_addr_ipv4(const uint8_t ip[4], uint16_t port);
nn_addr_t nn_addr_ipv6(const uint8_t ip[16], uint16_t port);
/** Parse "1.2.3.4:5", "[::1]:5" (numeric only). NN_ERR_FORMAT otherwise. */
nn_err_t nn_addr_parse(nn_addr_t *out, const char *s);
/** "1.2.3.4:5", "[2001:db8::1]:5", "<52 base32 chars>.onion:5", "<52 chars>.b32.i2p:5". */
void nn_addr_format(const nn_addr_t *a, char out[NN_ADDR_STR_MAX]);
int nn_addr_equal(const nn_addr_t *a, const nn_addr_t *b);
/** Same host, any port. */
int nn_addr_same_host(const nn_addr_t *a, const nn_addr_t *b);

/**
 * The network group of \a a for diversity limits: the first \a v4_bits of an IPv4 address or
 * \a v6_bits of an IPv6 address (an IPv4-mapped IPv6 address counts as IPv4), or the whole key
 * of an onion/I2P address (which costs nothing to make, so each is its own group and onion/I2P
 * peers are limited by other means). Writes a type byte and the masked prefix into \a out
 * (at most 1 + 32 bytes) and returns its length.
 */
size_t nn_addr_group(const nn_addr_t *a, unsigned v4_bits, unsigned v6_bits, uint8_t out[1 + NN_ADDR_HOST_MAX]);

/** Is this a routable public address (not loopback, private, link-local, multicast...)? */
int nn_addr_is_public(const nn_addr_t *a);

nn_err_t nn_addr_put(nn_wire_writer_t *w, const nn_addr_t *a);
/** Read one address; an unknown type is NN_ERR_FORMAT and, like any reader error, sticky. */
nn_err_t nn_addr_get(nn_wire_reader_t *r, nn_addr_t *a);

#endif
