/**
 * \file workers.h
 * \brief A pool of worker threads beside an event loop, for the expensive crypto.
 *
 * The event loop stays the only thread that touches the manager, the transports and the
 * tenants; a worker only runs a job's \c run, on data the job owns while it is out (a channel
 * that is in a job is not touched by the loop until the job is back). Finished jobs come back
 * to the loop through a pipe, in the order they finished, and their \c done runs there.
 *
 * Why threads and not processes: a handshake's state (the channel) lives in the manager's
 * memory, and moving it would cost more than the copy-free handoff of a pointer.
 *
 * Threads: nn_workers_new/submit/free and every \c done from the loop's thread only.
 */
#ifndef NN_NET_WORKERS_H
#define NN_NET_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

struct event_base;

typedef struct nn_workers_t nn_workers_t;

/** A job. Embed it in the job's own struct; the pool keeps only the pointer. */
typedef struct nn_work_t {
  struct nn_work_t *next;
  /** On a worker thread: the expensive part. Touches only what the job owns. */
  void (*run)(struct nn_work_t *w);
  /** On the loop's thread, after \c run. \a cancelled: the pool is being freed (run has still
   *  happened; the owner must release what it holds, and call nobody back). */
  void (*done)(struct nn_work_t *w, int cancelled);
  /** 0: hand back as soon as possible. 1: may wait until the queue is empty or a batch of
   *  finished jobs has gathered (throughput work that is not waited for: mixnet packets). */
  int lazy;
} nn_work_t;

typedef struct nn_workers_stats_t {
  uint64_t submitted, completed;
  uint32_t queued;     /**< waiting for a worker now */
  uint32_t max_queued; /**< the most that ever waited */
  uint32_t threads;
} nn_workers_stats_t;

/** Start \a threads workers (1..NN_WORKERS_MAX) that hand finished jobs back to \a base. */
#define NN_WORKERS_MAX 256
nn_err_t nn_workers_new(nn_workers_t **out, struct event_base *base, unsigned threads);
/** Queue \a w; it runs on the next free worker. Never fails: the job's memory is the caller's,
 *  and how many jobs can be out at once is the caller's cap (one per channel for handshakes). */
void nn_workers_submit(nn_workers_t *p, nn_work_t *w);
/** Jobs submitted and not yet done (queued, running, or finished and not yet handed back). */
size_t nn_workers_outstanding(const nn_workers_t *p);
nn_workers_stats_t nn_workers_stats(const nn_workers_t *p);
/** Run what is queued, join the threads, then call done(w, 1) for every job not yet handed
 *  back. Accepts NULL. */
void nn_workers_free(nn_workers_t *p);

/** The number of cores online (at least 1): the default pool size. */
unsigned nn_workers_cores(void);

#endif
