/**
 * \file addr.h
 * \brief Network addresses as nepnet stores, sends and prints them: IPv4, IPv6, Tor v3 onion
 * services and I2P destinations (docs/PROTOCOL.md 6.1). Every layer uses this one type: the
 * transports dial it, discovery stores it, the node groups peers by it.
 *
 * Wire form: type u8 || host (4, 16, 32 or 32 bytes by type) || port u16.
 *
 * Text form (nn_addr_parse / nn_addr_format), numeric only, never a DNS lookup:
 *   "1.2.3.4:9800", "[2001:db8::1]:9800", "*:9800" (IPv4 any, for binding),
 *   "<56 base32 chars>.onion:9800"   Tor v3: base32(key || checksum || 0x03), the checksum being
 *                                     the first two bytes of SHA3-256(".onion checksum" || key || 0x03)
 *   "<52 base32 chars>.b32.i2p:9800" I2P: base32 of the SHA-256 of the destination
 *   "<64 hex chars>.relay:0"          through the relay with that node id (which the dialler
 *                                     finds by its own peer record); the port is 0 where
 *                                     it is used (records check it); parsing keeps any
 */
#ifndef NN_LIB_ADDR_H
#define NN_LIB_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nepnet/error.h"
#include "lib/wire.h"

typedef enum nn_addr_type_t {
  NN_ADDR_IPV4 = 4,
  NN_ADDR_IPV6 = 6,
  NN_ADDR_ONION = 0x0d, /* Tor v3: the 32-byte ed25519 service key */
  NN_ADDR_I2P = 0x0e,   /* I2P: the 32-byte SHA-256 of the destination (the .b32 name) */
  NN_ADDR_RELAY = 0x52, /* through a relay: the relay's 32-byte node id; port 0 (PROTOCOL.md 10.4) */
} nn_addr_type_t;

#define NN_ADDR_HOST_MAX 32
#define NN_ADDR_WIRE_MAX (1 + NN_ADDR_HOST_MAX + 2)
#define NN_ADDR_STR_MAX 80 /* "[v6]:port", "<56 base32>.onion:port", "<64 hex>.relay:0" and a NUL */

typedef struct nn_addr_t {
  uint8_t type;                   /* nn_addr_type_t; 0 = no address */
  uint8_t host[NN_ADDR_HOST_MAX]; /* the first nn_addr_host_len() bytes are used, the rest zero */
  uint16_t port;
} nn_addr_t;

/** The networks an address belongs to, as bits (onlynet-style settings). */
#define NN_ADDR_NET_CLEARNET 1u /* IPv4, IPv6, and relays (reached over TCP) */
#define NN_ADDR_NET_TOR 2u
#define NN_ADDR_NET_I2P 4u
#define NN_ADDR_NET_ALL 7u
/** The network of \a a (one NN_ADDR_NET_* bit; 0 for no address). */
unsigned nn_addr_net(const nn_addr_t *a);
/** Parse "clearnet,tor,i2p" (any non-empty subset, any order) into NN_ADDR_NET_* bits. */
nn_err_t nn_addr_parse_nets(const char *s, unsigned *out);

/** The address of a stream in through our onion service, whose origin Tor hides: an onion
 *  address of 32 zero bytes, port 0 (PROTOCOL.md 11.4). Never dialled or published. */
int nn_addr_is_hidden_origin(const nn_addr_t *a);

/** Host length of an address type (0 for an unknown type). */
size_t nn_addr_host_len(uint8_t type);
/** Build an IPv4 address from 4 network-order bytes. */
nn_addr_t nn_addr_ipv4(const uint8_t ip[4], uint16_t port);
nn_addr_t nn_addr_ipv6(const uint8_t ip[16], uint16_t port);
/** Build an onion or I2P address from its 32-byte key or hash. */
nn_addr_t nn_addr_overlay(nn_addr_type_t type, const uint8_t key[32], uint16_t port);
/** Parse the text form above. NN_ERR_FORMAT for anything else (a bad onion checksum too). */
nn_err_t nn_addr_parse(nn_addr_t *out, const char *s);
/** The text form above; "(unknown address type N)" for a bad type. */
void nn_addr_format(const nn_addr_t *a, char out[NN_ADDR_STR_MAX]);
int nn_addr_equal(const nn_addr_t *a, const nn_addr_t *b);
/** Same host, any port. */
int nn_addr_same_host(const nn_addr_t *a, const nn_addr_t *b);
/** The all-zero IPv4/IPv6 address (a wildcard bind). */
int nn_addr_is_any(const nn_addr_t *a);

/**
 * The network group of \a a for diversity limits: the first \a v4_bits of an IPv4 address or
 * \a v6_bits of an IPv6 address (an IPv4-mapped IPv6 address counts as IPv4), or the whole key
 * of an onion/I2P address (which costs nothing to make, so each is its own group and onion/I2P
 * peers are limited by other means). Writes a type byte and the masked prefix into \a out
 * (at most 1 + 32 bytes) and returns its length.
 */
size_t nn_addr_group(const nn_addr_t *a, unsigned v4_bits, unsigned v6_bits, uint8_t out[1 + NN_ADDR_HOST_MAX]);

#define NN_ADDR_HOST_KEY_MAX (1 + NN_ADDR_HOST_MAX + 2)
/** The key of "one host" for per-host rate limits: a public address by its IPv4 address or IPv6
 *  /64 (a port costs nothing); a loopback or private one with its port (a devnet's nodes share
 *  127.0.0.1); onion and I2P ones by their key. */
size_t nn_addr_host_key(const nn_addr_t *a, uint8_t out[NN_ADDR_HOST_KEY_MAX]);

/** Is this a routable public address (not loopback, private, link-local, multicast...)? */
int nn_addr_is_public(const nn_addr_t *a);

/** An IPv4 or IPv6 socket address (IPv4-mapped IPv6 becomes IPv4); 0 for other families. */
int nn_addr_from_sockaddr(const struct sockaddr *sa, nn_addr_t *out);
/** The socket address of an IPv4/IPv6 address; 0 for onion/I2P (they have none). */
int nn_addr_to_sockaddr(const nn_addr_t *a, struct sockaddr_storage *ss, socklen_t *len);

nn_err_t nn_addr_put(nn_wire_writer_t *w, const nn_addr_t *a);
/** Read one address; an unknown type is NN_ERR_FORMAT and, like any reader error, sticky. */
nn_err_t nn_addr_get(nn_wire_reader_t *r, nn_addr_t *a);

#endif
