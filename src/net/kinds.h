/**
 * \file kinds.h
 * \brief Who owns which message kind. The first byte of every channel message is its kind;
 * the connection manager (net.h) hands a message to the one protocol that registered its range
 * and closes the channel with NN_CLOSE_UNSUPPORTED for a kind nobody registered.
 *
 * The same table is docs/PROTOCOL.md 5.7; a new protocol takes a free range in both.
 */
#ifndef NN_NET_KINDS_H
#define NN_NET_KINDS_H

#define NN_KIND_NET_FIRST 0x00 /**< reserved for the manager itself (none defined yet) */
#define NN_KIND_NET_LAST 0x0f
#define NN_KIND_DHT_FIRST 0x10 /**< discovery: Kademlia RPCs (docs/PROTOCOL.md 7) */
#define NN_KIND_DHT_LAST 0x1f
#define NN_KIND_GOSSIP_FIRST 0x20 /**< transaction gossip, Dandelion++ (docs/PROTOCOL.md 8) */
#define NN_KIND_GOSSIP_LAST 0x2f
#define NN_KIND_MIXNET_FIRST 0x30 /**< the Sphinx mixnet: packets, recipient keys, directory (src/mixnet/msg.h) */
#define NN_KIND_MIXNET_LAST 0x3f
#define NN_KIND_NAT_FIRST 0x40 /**< NAT traversal and relay signalling (reserved) */
#define NN_KIND_NAT_LAST 0x4f
/* 0x50..0xef: unassigned, for later protocols */
#define NN_KIND_LOCAL_FIRST                                                                                            \
  0xf0 /**< local tools and experiments (the CLI's echo); never sent to
                                       peers one does not run oneself */
#define NN_KIND_LOCAL_LAST 0xff

#endif
