/**
 * \file admit.h
 * \brief Admission of inbound streams, before a single byte of handshake is processed: the
 * manager's global caps and a table of per-address state (IPv4 address, or IPv6 /64).
 *
 * Per address: concurrent connections (`max_per_ip`) and a token bucket of new handshakes
 * (GCRA: `ip_rate` per second in bursts of `ip_burst`, like wireguard-go's 20/s, 5). Per address
 * group (IPv4 /24, IPv6 /48): at most `max_half_open_per_group` still handshaking. The table
 * is a chained hash under a secret SipHash key (crypto/keyhash.h), capped at `max_tracked_ips`
 * entries (addresses and groups): when it is full of active ones, newcomers are admitted
 * untracked but must pass a DoS cookie round. Globally: `max_conns` inbound connections and
 * `max_half_open` still handshaking; a newcomer over either cap takes the place of an older
 * connection (the oldest half-open one; the least useful inbound one), so a few addresses that
 * hold the caps full cannot lock newcomers out. From `load_half_open` half-open on, every
 * newcomer must return a cookie.
 *
 * Memory: one entry is 56 bytes; the table is at most max_tracked_ips entries plus a bucket
 * array of the next power of two (4096 entries: about 260 KiB).
 */
#ifndef NN_NET_ADMIT_H
#define NN_NET_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"
#include "crypto/keyhash.h"
#include "lib/addr.h"
#include "net/net.h"

typedef struct nn_admit_entry_t nn_admit_entry_t;

typedef struct nn_admit_t {
  nn_net_limits_t lim;
  nn_keyhash_t key;
  nn_admit_entry_t **slots;
  size_t mask;
  uint64_t gcra_t_us, gcra_tau_us; /* emission interval and burst tolerance */
  int per_ip;                      /* any per-address limit set */
  nn_net_stats_t *st;              /* the manager's counters (tracked_ips, refused_*) */
} nn_admit_t;

/** What admission decided for one stream. */
typedef struct nn_admit_ticket_t {
  nn_admit_entry_t *entry; /* per-address accounting to release on close (NULL: untracked) */
  nn_admit_entry_t *group; /* the address group's half-open count, until the handshake ends */
  int require_cookie;
  int evict_half_open; /* admitted over max_half_open: the manager closes the oldest half-open */
  int evict_inbound;   /* admitted over max_conns: the manager closes the least useful inbound */
  uint8_t ip[16];      /* the bytes a cookie is bound to: the IP without the port */
  uint8_t ip_len;
} nn_admit_ticket_t;

nn_err_t nn_admit_init(nn_admit_t *a, const nn_net_limits_t *lim, const nn_rng_t *rng, nn_net_stats_t *st);
void nn_admit_free(nn_admit_t *a);
/** Change max_per_ip and max_half_open_per_group at run time. Connections admitted before count
 *  against the new caps only if they were tracked: raising a cap from 0 (no limit) lets the
 *  connections already open go uncounted until they close. */
void nn_admit_set_caps(nn_admit_t *a, uint32_t max_per_ip, uint32_t max_half_open_per_group);

/**
 * Decide on a stream from \a peer (\a per_addr: the address is real, else only the global caps
 * apply), counting it in the stats. On admission the ticket holds a reference on the
 * address's entry: give it back with nn_admit_release when the connection ends.
 */
int nn_admit_stream(nn_admit_t *a, const nn_addr_t *peer, int per_addr, uint64_t now_us, nn_admit_ticket_t *t);
/** The handshake ended: the stream no longer counts as half-open in its group. */
void nn_admit_handshake_done(nn_admit_t *a, nn_admit_ticket_t *t, uint64_t now_us);
void nn_admit_release(nn_admit_t *a, nn_admit_ticket_t *t, uint64_t now_us);

#endif
