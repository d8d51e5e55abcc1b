/**
 * \file peerstore.h
 * \brief The peer store: addresses of peers remembered across restarts, their reputation and
 * bans, and the choice of whom to connect to. Separate from the DHT routing table.
 *
 * One SQLite database file (say DATADIR/peers.sqlite, mode 0600, WAL, a schema version in
 * PRAGMA user_version); every write is one transaction, so a kill -9 at any moment leaves the
 * file consistent with every transaction that committed before it.
 *
 * Eclipse resistance follows Bitcoin Core's addrman, scaled down:
 * - addresses learnt from others go to the "new" table, NN_PEERSTORE_NEW_BUCKETS buckets of
 *   NN_PEERSTORE_BUCKET_SIZE slots; the bucket is
 *     i = H("nepnet-ps-new1" || key || group(addr) || group(source)) mod NEW_BUCKETS_PER_SOURCE_GROUP
 *     bucket = H("nepnet-ps-new2" || key || group(source) || i) mod NEW_BUCKETS
 *   so one source group reaches at most NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP buckets and one
 *   (address group, source group) pair exactly one bucket;
 * - addresses we connected to go to the "tried" table (NN_PEERSTORE_TRIED_BUCKETS buckets):
 *     i = H("nepnet-ps-tried1" || key || addr) mod TRIED_BUCKETS_PER_GROUP
 *     bucket = H("nepnet-ps-tried2" || key || group(addr) || i) mod TRIED_BUCKETS
 *   so one address group reaches at most NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP tried buckets;
 * - the slot is H("nepnet-ps-slot" || key || table || bucket || addr) mod BUCKET_SIZE;
 * H is SHA3-256 (first 8 bytes, big-endian), key is a secret 32-byte value drawn from the
 * injected generator when the file is created and kept in it, so an attacker cannot aim at
 * buckets. Network group: /16 for IPv4 (IPv4-mapped IPv6 included), /32 for IPv6, the whole key
 * for onion and I2P addresses (nn_addr_group(addr, 16, 32)). Groups are length-prefixed in the
 * hash inputs. An occupied slot keeps its entry unless that entry is "terrible" (see
 * nn_peerstore_add); there is no test-before-evict connection.
 *
 * Reputation and bans have three kinds of subject. A host, not an address, since a port costs
 * nothing: the IPv4 address (/32), the IPv6 /64, or the onion/I2P key; a banned host is never
 * selected and (in a node) refused before any handshake byte. An identified node, by its node id,
 * whoever its neighbours behind the same address are: its addresses are not selected while it is
 * banned. The anonymous peers of a host (keyed like the host): what a node can hold against a
 * peer that proved no identity without banning the identified nodes at that address. For each,
 * standing starts at 0, penalties lower it, rewards and successful sessions raise it (at most
 * NN_PEERSTORE_STANDING_MAX); when it drops below the threshold the subject is banned for
 * ban_seconds, doubled for each earlier ban (up to ban_max_seconds), and its standing starts
 * again from 0.
 *
 * Times are Unix seconds supplied by the caller (the store never reads a clock), randomness is
 * injected, and there is no global state: each nn_peerstore_t is its own SQLite connection.
 * A store is used by one thread at a time.
 */
#ifndef NN_DHT_PEERSTORE_H
#define NN_DHT_PEERSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "nepnet/types.h"
#include "crypto/rand.h"
#include "lib/addr.h"

#define NN_PEERSTORE_SCHEMA_VERSION 1 /**< PRAGMA user_version of the files this build writes */

#define NN_PEERSTORE_BUCKET_SIZE 64
#define NN_PEERSTORE_NEW_BUCKETS 256
#define NN_PEERSTORE_TRIED_BUCKETS 64
/** New buckets one source group can reach (Core: 64 of 1024). */
#define NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP 16
/** Tried buckets one address group can reach (Core: 8 of 256). */
#define NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP 4
#define NN_PEERSTORE_NEW_MAX (NN_PEERSTORE_NEW_BUCKETS * NN_PEERSTORE_BUCKET_SIZE)     /* 16384 */
#define NN_PEERSTORE_TRIED_MAX (NN_PEERSTORE_TRIED_BUCKETS * NN_PEERSTORE_BUCKET_SIZE) /* 4096 */
#define NN_PEERSTORE_GROUP_V4_BITS 16
#define NN_PEERSTORE_GROUP_V6_BITS 32
#define NN_PEERSTORE_BAN_V6_BITS 64 /**< IPv6 hosts are banned by /64 */
#define NN_PEERSTORE_ANCHORS_MAX 4
#define NN_PEERSTORE_STANDING_MAX 100
#define NN_PEERSTORE_STANDING_MIN (-1000)
/** Hosts with a reputation record kept at most; the oldest unbanned ones go first. */
#define NN_PEERSTORE_REPUTATION_MAX 65536

/* "Terrible" entries, which a newcomer may replace (Core's IsTerrible). */
#define NN_PEERSTORE_HORIZON_S (30u * 86400u) /**< not seen for this long */
#define NN_PEERSTORE_RETRIES 3                /**< failures in a row, never succeeded */
#define NN_PEERSTORE_MAX_FAILURES 10          /**< failures in a row ... */
#define NN_PEERSTORE_MIN_FAIL_S (7u * 86400u) /**< ... and no success for this long */

typedef struct nn_peerstore_t nn_peerstore_t;

typedef struct nn_peerstore_config_t {
  int32_t ban_threshold;       /**< standing below this bans the host (default -100) */
  uint64_t ban_seconds;        /**< first ban (default 86400, 24 h) */
  uint64_t ban_max_seconds;    /**< longest escalated ban (default 30 days) */
  uint64_t ban_forget_seconds; /**< a ban that ended this long ago no longer escalates (30 days) */
  uint64_t retry_seconds;      /**< backoff after an attempt: retry_seconds << failures ... (60) */
  uint64_t retry_max_seconds;  /**< ... up to this (default 6 h) */
  int synchronous_full;        /**< PRAGMA synchronous=FULL instead of NORMAL (survives power loss
                                  with the last commits; NORMAL survives process crashes) */
  int allow_nonpublic;         /**< accept loopback/private addresses (devnets, tests); each such
                                  address and port is then a network group of its own */
  int busy_timeout_ms;         /**< SQLite busy timeout (default 5000) */
} nn_peerstore_config_t;

/** Defaults as documented above. */
void nn_peerstore_config_default(nn_peerstore_config_t *cfg);

/**
 * Open the peer store at \a path, creating it (mode 0600, new secret key from \a rng; NULL
 * means the system CSPRNG) if it does not exist. Refused, never recreated:
 * - a file (or its -wal/-shm companion) that group or others can access: NN_ERR_PERM;
 * - a file that is not an SQLite database, is damaged (PRAGMA quick_check) or is an SQLite
 *   database that is not a peer store: NN_ERR_FORMAT;
 * - a schema version this build does not know: NN_ERR_VERSION;
 * - a directory that does not exist: NN_ERR_NOTFOUND; other failures: NN_ERR_IO.
 * On failure, \a why (if not NULL) receives one line naming the file, the problem and the fix.
 * \a cfg NULL means the defaults.
 */
nn_err_t nn_peerstore_open(nn_peerstore_t **out, const char *path, const nn_peerstore_config_t *cfg,
                           const nn_rng_t *rng, char *why, size_t why_len);
/** Close the store (NULL is fine). */
void nn_peerstore_close(nn_peerstore_t *ps);
/** The fix for an error of nn_peerstore_open, as nn_identity_file_hint does for key files. */
const char *nn_peerstore_file_hint(nn_err_t err);
/** One line naming the file and the problem of the last failed call on \a ps ("" if none). */
const char *nn_peerstore_last_error(const nn_peerstore_t *ps);
/** PRAGMA integrity_check: NN_OK if "ok", NN_ERR_FORMAT (details in last_error) otherwise. */
nn_err_t nn_peerstore_check(nn_peerstore_t *ps);

typedef enum nn_peerstore_table_t {
  NN_PEERSTORE_NEW = 0,
  NN_PEERSTORE_TRIED = 1,
} nn_peerstore_table_t;

typedef enum nn_peerstore_add_result_t {
  NN_PEERSTORE_ADDED = 0,  /**< stored as a new entry */
  NN_PEERSTORE_UPDATED,    /**< already known: last seen refreshed */
  NN_PEERSTORE_COLLISION,  /**< its slot holds an entry that is not terrible: not stored */
  NN_PEERSTORE_BANNED,     /**< its host is banned: not stored */
  NN_PEERSTORE_UNROUTABLE, /**< loopback/private/port 0 and allow_nonpublic off: not stored */
} nn_peerstore_add_result_t;

/** One stored address. */
typedef struct nn_peerstore_entry_t {
  nn_addr_t addr;
  int has_node_id;
  nn_node_id_t node_id; /**< valid if has_node_id (set by nn_peerstore_success) */
  uint8_t source_group[1 + NN_ADDR_HOST_MAX + 2];
  size_t source_group_len;                                    /**< the group of whoever told us about addr */
  uint64_t first_seen, last_seen, last_attempt, last_success; /**< 0 = never */
  uint32_t attempts;                                          /**< connection attempts, in all */
  uint32_t failures;                                          /**< failed attempts since the last success */
  int32_t standing;                                           /**< of the host (see the file comment) */
  nn_peerstore_table_t table;
  uint32_t bucket, slot;
} nn_peerstore_entry_t;

/**
 * Learn \a addr from \a source (the peer that told us; NULL for ourselves, configuration or a
 * DNS seed, which counts as the address telling us about itself). \a result (may be NULL) says
 * what happened. An occupied slot keeps its entry unless that entry is terrible: last seen
 * NN_PEERSTORE_HORIZON_S ago or more than 10 minutes in the future, NN_PEERSTORE_RETRIES
 * failures without ever a success, NN_PEERSTORE_MAX_FAILURES failures and no success for
 * NN_PEERSTORE_MIN_FAIL_S, or its host banned; an entry attempted within the last minute is
 * never terrible. An unknown address type is NN_ERR_ARG.
 */
nn_err_t nn_peerstore_add(nn_peerstore_t *ps, const nn_addr_t *addr, const nn_addr_t *source, uint64_t now_s,
                          nn_peerstore_add_result_t *result);
/** The entry for \a addr, or NN_ERR_NOTFOUND. */
nn_err_t nn_peerstore_get(nn_peerstore_t *ps, const nn_addr_t *addr, nn_peerstore_entry_t *out);

/** We are dialling \a addr now (attempts + 1, last attempt). NN_ERR_NOTFOUND if unknown. */
nn_err_t nn_peerstore_attempt(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s);
/**
 * An outbound session with \a addr succeeded (its handshake proved \a node_id, which may be
 * NULL): last seen and last success, failures reset, standing + 1, and the entry moves from new
 * to tried unless its tried slot holds an entry that is not terrible (a terrible one is moved
 * back to new, or dropped if its new slot is held). \a in_tried (may be NULL) says where the
 * entry is afterwards. NN_ERR_NOTFOUND if \a addr is unknown (add it first).
 */
nn_err_t nn_peerstore_success(nn_peerstore_t *ps, const nn_addr_t *addr, const nn_node_id_t *node_id, uint64_t now_s,
                              int *in_tried);
/** A connection attempt to \a addr failed (failures + 1). NN_ERR_NOTFOUND if unknown. */
nn_err_t nn_peerstore_failure(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s);

/**
 * Lower the standing of \a addr's host by \a points (> 0), for \a reason (kept with a ban).
 * The host need not be in the address tables (inbound peers). If the standing falls below the
 * threshold and the host is not banned already, it is banned (see the file comment), its
 * addresses leave the anchors, and \a banned (may be NULL) is set to 1.
 */
nn_err_t nn_peerstore_penalize(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t points, const char *reason,
                               uint64_t now_s, int *banned);
/** nn_peerstore_penalize for the node \a id (its anchors stay, but it is not selected). */
nn_err_t nn_peerstore_penalize_node(nn_peerstore_t *ps, const nn_node_id_t *id, int32_t points, const char *reason,
                                    uint64_t now_s, int *banned);
/** nn_peerstore_penalize for the anonymous peers of \a addr's host (the host itself is untouched). */
nn_err_t nn_peerstore_penalize_anon(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t points, const char *reason,
                                    uint64_t now_s, int *banned);
/** Raise the standing of \a addr's host by \a points (> 0), up to NN_PEERSTORE_STANDING_MAX. */
nn_err_t nn_peerstore_reward(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t points, uint64_t now_s);
/** The standing of \a addr's host (0 if it has no record). */
nn_err_t nn_peerstore_standing(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t *standing);
/** The standing of the node \a id, and of the anonymous peers of \a addr's host (0: no record). */
nn_err_t nn_peerstore_node_standing(nn_peerstore_t *ps, const nn_node_id_t *id, int32_t *standing);
nn_err_t nn_peerstore_anon_standing(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t *standing);
/**
 * Ban \a addr's host until \a until_s (Unix seconds) regardless of standing, or lift its ban
 * with \a until_s = 0. Does not count towards escalation. Banned addresses leave the anchors.
 */
nn_err_t nn_peerstore_ban(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t until_s, const char *reason,
                          uint64_t now_s);
/**
 * Is \a addr's host banned at \a now_s? \a until_s and \a ban_count (may be NULL) receive the
 * end of its current (or last) ban and how many escalating bans it has had.
 */
nn_err_t nn_peerstore_is_banned(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s, int *banned,
                                uint64_t *until_s, uint32_t *ban_count);
/** nn_peerstore_is_banned for the node \a id, and for the anonymous peers of \a addr's host. */
nn_err_t nn_peerstore_node_banned(nn_peerstore_t *ps, const nn_node_id_t *id, uint64_t now_s, int *banned,
                                  uint64_t *until_s, uint32_t *ban_count);
nn_err_t nn_peerstore_anon_banned(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s, int *banned);

/**
 * Up to \a n candidates for outbound connections in \a out, \a got of them: each one drawn from
 * tried or from new with probability 1/2 (the other table when one is empty), uniformly within
 * the table, skipping banned hosts and banned nodes, addresses attempted less than
 * min(retry_seconds << failures, retry_max_seconds) ago, and any network group already chosen
 * in this call (so at most one per /16). Deterministic for a given \a rng state.
 */
nn_err_t nn_peerstore_select(nn_peerstore_t *ps, size_t n, uint64_t now_s, const nn_rng_t *rng, nn_addr_t *out,
                             size_t *got);

/**
 * Remember the current outbound peers to dial first after a restart (at most
 * NN_PEERSTORE_ANCHORS_MAX, NN_ERR_ARG otherwise); replaces the previous anchors.
 */
nn_err_t nn_peerstore_set_anchors(nn_peerstore_t *ps, const nn_addr_t *addrs, size_t n);
/** The anchors, in the order they were set (banned hosts are removed when banned). */
nn_err_t nn_peerstore_get_anchors(nn_peerstore_t *ps, nn_addr_t *out, size_t max, size_t *got);

/** Entries in the new and tried tables (either pointer may be NULL). */
nn_err_t nn_peerstore_count(nn_peerstore_t *ps, size_t *n_new, size_t *n_tried);
/** Entries whose network group is that of \a addr, per table (for tests and diagnostics). */
nn_err_t nn_peerstore_count_group(nn_peerstore_t *ps, const nn_addr_t *addr, size_t *n_new, size_t *n_tried);

#endif
