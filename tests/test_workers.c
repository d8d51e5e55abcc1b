/*
 * The worker pool (src/net/workers.h): every job runs once on a worker thread and comes back
 * once on the loop's thread; a burst is handed back whole; freeing the pool finishes what is
 * queued and hands it back as cancelled.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "net/workers.h"

typedef struct job_t {
  nn_work_t w;
  pthread_t loop;
  int ran_on_loop; /* written on the worker, read on the loop after the handoff */
  int runs, dones, cancelled;
  uint64_t x; /* some work: the worker's result */
  int *done_count;
} job_t;

static void
job_run(nn_work_t *w)
{
  job_t *j = (job_t *)w;
  j->runs++;
  j->ran_on_loop = pthread_equal(pthread_self(), j->loop);
  for (int i = 0; i < 1000; i++)
    j->x = j->x * 6364136223846793005u + 1442695040888963407u;
}

static void
job_done(nn_work_t *w, int cancelled)
{
  job_t *j = (job_t *)w;
  assert_true(pthread_equal(pthread_self(), j->loop)); /* back on the loop's thread */
  j->dones++;
  j->cancelled += cancelled;
  (*j->done_count)++;
}

static void
init_jobs(job_t *jobs, int n, int *count)
{
  memset(jobs, 0, sizeof(*jobs) * (size_t)n);
  for (int i = 0; i < n; i++) {
    jobs[i].w.run = job_run;
    jobs[i].w.done = job_done;
    jobs[i].loop = pthread_self();
    jobs[i].x = (uint64_t)i;
    jobs[i].done_count = count;
  }
}

static void
test_every_job_once(void **state)
{
  (void)state;
  enum { N = 2000 };
  static job_t jobs[N];
  int count = 0;
  struct event_base *base = event_base_new();
  nn_workers_t *p;
  assert_int_equal(nn_workers_new(&p, base, 3), NN_OK);
  init_jobs(jobs, N, &count);
  for (int i = 0; i < N; i++)
    nn_workers_submit(p, &jobs[i].w);
  assert_int_equal(nn_workers_outstanding(p), N);
  for (int k = 0; k < 100000 && count < N; k++)
    event_base_loop(base, EVLOOP_ONCE);
  assert_int_equal(count, N);
  assert_int_equal(nn_workers_outstanding(p), 0);
  for (int i = 0; i < N; i++) {
    uint64_t x = (uint64_t)i;
    for (int r = 0; r < 1000; r++)
      x = x * 6364136223846793005u + 1442695040888963407u;
    assert_int_equal(jobs[i].runs, 1);
    assert_int_equal(jobs[i].dones, 1);
    assert_int_equal(jobs[i].cancelled, 0);
    assert_false(jobs[i].ran_on_loop);
    assert_true(jobs[i].x == x);
  }
  nn_workers_stats_t st = nn_workers_stats(p);
  assert_int_equal(st.threads, 3);
  assert_int_equal(st.submitted, N);
  assert_int_equal(st.completed, N);
  assert_int_equal(st.queued, 0);
  assert_true(st.max_queued >= 1 && st.max_queued <= N);
  nn_workers_free(p);
  event_base_free(base);
}

/* Freed with jobs queued and none handed back: each still runs, and comes back cancelled. */
static void
test_free_hands_back_cancelled(void **state)
{
  (void)state;
  enum { N = 500 };
  static job_t jobs[N];
  int count = 0;
  struct event_base *base = event_base_new();
  nn_workers_t *p;
  assert_int_equal(nn_workers_new(&p, base, 2), NN_OK);
  init_jobs(jobs, N, &count);
  for (int i = 0; i < N; i++)
    nn_workers_submit(p, &jobs[i].w);
  nn_workers_free(p); /* the loop never ran: nothing was handed back before */
  assert_int_equal(count, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(jobs[i].runs, 1);
    assert_int_equal(jobs[i].dones, 1);
    assert_int_equal(jobs[i].cancelled, 1);
  }
  nn_workers_free(NULL);
  event_base_free(base);
}

static void
test_bad_sizes(void **state)
{
  (void)state;
  struct event_base *base = event_base_new();
  nn_workers_t *p = (nn_workers_t *)1;
  assert_int_equal(nn_workers_new(&p, base, 0), NN_ERR_ARG);
  assert_null(p);
  assert_int_equal(nn_workers_new(&p, base, NN_WORKERS_MAX + 1), NN_ERR_ARG);
  assert_int_equal(nn_workers_new(&p, NULL, 1), NN_ERR_ARG);
  assert_true(nn_workers_cores() >= 1);
  event_base_free(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_job_once),
    cmocka_unit_test(test_free_hands_back_cancelled),
    cmocka_unit_test(test_bad_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
