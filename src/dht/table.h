/**
 * \file table.h
 * \brief The Kademlia routing table: 256 buckets of up to k contacts, indexed by the length of
 * the prefix a node id shares with our own, each with a small replacement cache.
 *
 * A pure data structure: no I/O, no clock (the caller passes now_ms), randomness only where
 * asked for (refresh targets), no globals. The RPC layer tells it what happened (a contact
 * answered, an RPC failed, a probe came back) and asks it who to talk to.
 *
 * Policy (docs/ARCHITECTURE.md, discovery research A.4):
 * - Long-lived contacts win (Kademlia): a responsive contact is never evicted for a newcomer.
 *   A newcomer for a full bucket waits in the replacement cache while the caller probes the
 *   least-recently-seen contact; only a contact that failed max_fails RPCs in a row, or a
 *   probe, is replaced.
 * - IP diversity against eclipse and Sybil attacks (go-ethereum's limits): at most
 *   per_bucket_group contacts of one network group in a bucket and per_table_group in the
 *   whole table, where a group is an IPv4 /24 or an IPv6 /48 (nn_addr_group); an onion or I2P
 *   key is a group of its own. The limits hold for every way into the table: insertion, change
 *   of address, promotion from the replacement cache.
 * - Non-routable addresses are refused unless allow_private is set (devnet, simulator, tests).
 *
 * Pointers returned by nn_dht_table_find() and nn_dht_table_find_replacement() stay valid only
 * until the next call that modifies the table.
 */
#ifndef NN_DHT_TABLE_H
#define NN_DHT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/types.h"
#include "crypto/rand.h"
#include "lib/addr.h"

#define NN_DHT_K 20
#define NN_DHT_BUCKETS 256 /* one per shared-prefix length 0..255 of a 256-bit id */
#define NN_DHT_K_MAX 1024  /* upper bound for cfg.k and cfg.replacement */

typedef struct nn_dht_table_cfg_t {
  unsigned k;                /* bucket size, default 20 */
  unsigned per_bucket_group; /* max contacts per /24 (IPv4) or /48 (IPv6) in one bucket,
                                default 2; 0 = no limit */
  unsigned per_table_group;  /* max per /24 or /48 in the whole table, default 10; 0 = no limit */
  unsigned per_table_wide;   /* max per /16 (IPv4) or /32 (IPv6) in the whole table, default 0
                                (no limit); 20 is a good value on mainnet. One operator usually
                                holds a /16 or less: this stops it from filling the table one /24
                                at a time. */
  unsigned replacement;      /* replacement cache per bucket, default k; 0 = none */
  unsigned max_fails;        /* consecutive RPC failures before a contact is stale, default 3
                                (>= 1) */
  int allow_private;         /* accept loopback/private/link-local addresses, default 0. A devnet
                                on one host is a single /24 too, so it also wants the group
                                limits at 0. */
  unsigned v4_group_bits;    /* IPv4 prefix that makes a group, default 24 (IPFS uses 16) */
  unsigned v6_group_bits;    /* IPv6 prefix that makes a group, default 48 */
} nn_dht_table_cfg_t;

void nn_dht_table_cfg_default(nn_dht_table_cfg_t *cfg);

typedef struct nn_dht_contact_t {
  nn_node_id_t id;
  nn_addr_t addr;
  uint64_t first_seen_ms, last_seen_ms;
  uint32_t fails;  /* consecutive failures */
  uint32_t rtt_ms; /* smoothed round-trip estimate, 0 = unknown */
} nn_dht_contact_t;

typedef struct nn_dht_table_t nn_dht_table_t;

/** NN_ERR_ARG for a NULL argument or a cfg out of range (k 0 or > NN_DHT_K_MAX, replacement >
 *  NN_DHT_K_MAX, max_fails 0, group bits 0 or above 32/128); NN_ERR_NOMEM. */
nn_err_t nn_dht_table_new(nn_dht_table_t **out, const nn_node_id_t *self,
                          const nn_dht_table_cfg_t *cfg /* NULL = defaults */);
void nn_dht_table_free(nn_dht_table_t *t);
/** Change cfg.per_table_wide at run time (SIGHUP); returns the old value. It governs contacts
 *  that join from now on: a lowered cap evicts no one (they age out as usual). */
unsigned nn_dht_table_set_wide(nn_dht_table_t *t, unsigned per_table_wide);

typedef enum nn_dht_table_result_t {
  NN_TABLE_ADDED,    /* new contact inserted (into free room, or in place of a stale contact) */
  NN_TABLE_UPDATED,  /* already present: last_seen/rtt/addr refreshed, fails reset */
  NN_TABLE_PENDING,  /* bucket full: the new contact waits in the replacement cache; the
                        caller should ping *probe (the least-recently-seen contact of that
                        bucket) and report with nn_dht_table_probe_result() */
  NN_TABLE_REJECTED, /* self, invalid address, or an IP-diversity limit (or out of memory) */
} nn_dht_table_result_t;

/**
 * A contact proved alive (it answered us, or it sent us an authenticated request). rtt_ms 0 =
 * unknown; otherwise it is folded into the smoothed estimate (1/8 weight, as TCP's SRTT).
 * \a probe may be NULL. A known contact whose address changed to one that would break a
 * diversity limit is REJECTED and left as it was (its old address then fails and it is
 * replaced in due course). A contact already waiting in the replacement cache is refreshed
 * there and PENDING again, with a probe.
 */
nn_dht_table_result_t nn_dht_table_seen(nn_dht_table_t *t, const nn_node_id_t *id, const nn_addr_t *addr,
                                        uint64_t now_ms, uint32_t rtt_ms, nn_dht_contact_t *probe);
/**
 * An RPC to this contact failed (timeout, refused): fails++; once fails >= max_fails and the
 * bucket's replacement cache has a candidate that passes the diversity limits, the stale contact
 * is replaced by the most recently seen such candidate. Without one the stale contact stays
 * (ranked last by nn_dht_table_closest) until a newcomer for its bucket takes its place. A
 * candidate in the replacement cache that fails is dropped from the cache.
 */
void nn_dht_table_failed(nn_dht_table_t *t, const nn_node_id_t *id, uint64_t now_ms);
/**
 * Result of the probe that NN_TABLE_PENDING asked for: alive -> keep the long-lived contact (it
 * moves to most-recently-seen; the newcomer stays in the replacement cache); dead -> evict it and
 * promote the newest replacement that passes the diversity limits. With no such replacement a
 * dead contact is kept but marked stale (fails = max_fails), as nn_dht_table_failed() would.
 */
void nn_dht_table_probe_result(nn_dht_table_t *t, const nn_node_id_t *probed, int alive, uint64_t now_ms);
/** Remove a contact (from its bucket, promoting a replacement, or from the replacement cache). */
void nn_dht_table_remove(nn_dht_table_t *t, const nn_node_id_t *id);
/**
 * Up to n contacts closest to target by XOR distance, closest first (never self). Contacts with
 * fails >= max_fails come last, after every live contact, in distance order among themselves
 * (a caller answering FIND_NODE for others can drop them by their fails field). Replacement
 * candidates are never returned. Cost: each bucket covers one range of distances, so the
 * non-empty buckets are visited in distance order (found from a 256-bit occupancy map) and
 * only the contacts of a bucket are sorted; never a sort of the whole table (about 0.5 us for
 * n = 20 on a 250-contact table at -O2). Returns the count.
 */
size_t nn_dht_table_closest(const nn_dht_table_t *t, const nn_node_id_t *target, size_t n, nn_dht_contact_t *out);
/** The contact with this id in a bucket, or NULL (replacement candidates are not found). */
const nn_dht_contact_t *nn_dht_table_find(const nn_dht_table_t *t, const nn_node_id_t *id);
/** The candidate with this id in a replacement cache, or NULL. */
const nn_dht_contact_t *nn_dht_table_find_replacement(const nn_dht_table_t *t, const nn_node_id_t *id);
/** Contacts in buckets (not replacements). */
size_t nn_dht_table_size(const nn_dht_table_t *t);
/** Candidates waiting in replacement caches. */
size_t nn_dht_table_replacements(const nn_dht_table_t *t);
/** Bucket index of id: the number of leading bits id shares with self (0..255); 256 = self. */
unsigned nn_dht_bucket_index(const nn_node_id_t *self, const nn_node_id_t *id);
/**
 * For refresh: the first bucket (lowest index that is non-empty or below the deepest non-empty
 * one) not refreshed since now_ms - interval_ms; writes a random id in that bucket's range (from
 * rng, NULL = OpenSSL) and marks it refreshed. A bucket never refreshed is due at once. Returns 0
 * if none is due (always for an empty table) or if the RNG failed (then nothing is marked).
 */
int nn_dht_table_refresh_due(nn_dht_table_t *t, uint64_t now_ms, uint64_t interval_ms, const nn_rng_t *rng,
                             nn_node_id_t *target);
/** A lookup for \a target ran at now_ms: its bucket counts as refreshed (Kademlia skips the
 *  refresh of buckets that saw a lookup within the interval). */
void nn_dht_table_mark_refreshed(nn_dht_table_t *t, const nn_node_id_t *target, uint64_t now_ms);
/** Iterate all contacts (for persistence, status output): copies up to max contacts in bucket
 *  order and returns how many it copied (nn_dht_table_size() tells how many there are). */
size_t nn_dht_table_all(const nn_dht_table_t *t, nn_dht_contact_t *out, size_t max);
/** Heap bytes the table holds (struct, contact and replacement arrays), for memory budgets. */
size_t nn_dht_table_memory(const nn_dht_table_t *t);

/* XOR-distance helpers */
/** <0 if a is closer to target than b, >0 if b is closer, 0 if a == b. */
int nn_node_id_cmp_distance(const nn_node_id_t *target, const nn_node_id_t *a, const nn_node_id_t *b);
/** out = a XOR b. */
void nn_node_id_distance(nn_node_id_t *out, const nn_node_id_t *a, const nn_node_id_t *b);

#endif
