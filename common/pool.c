/* qlora-tools: ISC license. */
/* Parallel-for over pthreads; see pool.h. */
#include "common/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
	qt_pool_fn    fn;
	void         *ctx;
	size_t        n;
	atomic_size_t next;
};

struct worker_arg {
	struct job *job;
	int         id;
};

/* Set while this thread runs a task of a parallel qt_pool_for (spawned worker or caller). */
static _Thread_local int in_parallel;

int qt_pool_nested(void)
{
	return in_parallel;
}

static void *work(void *p)
{
	struct worker_arg *a = p;
	size_t i;
	while ((i = atomic_fetch_add(&a->job->next, 1)) < a->job->n)
		a->job->fn(a->job->ctx, i, a->id);
	return NULL;
}

static void *work_parallel(void *p)
{
	int outer = in_parallel;
	in_parallel = 1;
	work(p);
	in_parallel = outer;
	return NULL;
}

int qt_pool_default_threads(void)
{
	const char *e = getenv("QT_THREADS");
	if (e && atoi(e) > 0)
		return atoi(e);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/*
 * Persistent workers. A decode step calls qt_pool_for a few hundred times; creating and joining
 * threads each time cost about 40 us a call (a quarter of a SmolLM2 decode step). The workers
 * live for the process, wait on a condition variable between jobs (never spinning, so an idle
 * pool takes no CPU from anyone), and serve one caller at a time: a call made while the pool is
 * busy, from another thread or from inside a task, starts its own threads as before.
 */
#define POOL_MAX 256

static struct {
	pthread_mutex_t busy;          /* held by the caller whose job the workers run */
	pthread_mutex_t mu;
	pthread_cond_t  wake, done;
	struct job     *job;
	unsigned long   generation;    /* bumped per job, under mu */
	int             want;          /* workers 1 .. want-1 take part in this job */
	int             active;        /* of those, still running */
	int             n_workers;     /* started so far (ids 1 .. n_workers) */
	unsigned long   born[POOL_MAX]; /* generation when worker id was started */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
           PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, { 0 } };

static void *pool_worker(void *p)
{
	int id = (int)(intptr_t)p;
	pthread_mutex_lock(&pool.mu);
	/* not pool.generation: the job this worker was started for may already be posted */
	unsigned long seen = pool.born[id];
	for (;;) {
		while (pool.generation == seen)
			pthread_cond_wait(&pool.wake, &pool.mu);
		seen = pool.generation;
		if (id >= pool.want)
			continue;
		struct worker_arg a = { pool.job, id };
		pthread_mutex_unlock(&pool.mu);
		work_parallel(&a);
		pthread_mutex_lock(&pool.mu);
		if (--pool.active == 0)
			pthread_cond_signal(&pool.done);
	}
	return NULL;
}

/* Starts workers up to id want-1; returns how many threads (caller included) can take part. */
static int pool_grow(int want)
{
	while (pool.n_workers < want - 1) {
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pool.born[pool.n_workers + 1] = pool.generation;
		int rc = pthread_create(&th, &at, pool_worker, (void *)(intptr_t)(pool.n_workers + 1));
		pthread_attr_destroy(&at);
		if (rc != 0)
			break;
		pool.n_workers++;
	}
	return pool.n_workers + 1 < want ? pool.n_workers + 1 : want;
}

/* The old way, for calls the persistent pool cannot take: threads of this call's own. */
static int run_own_threads(int n_threads, struct job *job)
{
	pthread_t *th = calloc((size_t)n_threads, sizeof *th);
	struct worker_arg *args = calloc((size_t)n_threads, sizeof *args);
	int started = 0, rc = 0;
	if (th && args) {
		for (int t = 1; t < n_threads; t++) {
			args[t] = (struct worker_arg){ job, t };
			if (pthread_create(&th[t], NULL, work_parallel, &args[t]) != 0) {
				rc = -1;
				break;
			}
			started = t;
		}
	} else {
		rc = -1;
	}
	struct worker_arg self = { job, 0 };
	work_parallel(&self);
	for (int t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
	free(th);
	free(args);
	return rc;
}

int qt_pool_for(int n_threads, size_t n, qt_pool_fn fn, void *ctx)
{
	if (n_threads <= 0)
		n_threads = qt_pool_default_threads();
	if ((size_t)n_threads > n)
		n_threads = (int)n;
	struct job job = { .fn = fn, .ctx = ctx, .n = n };
	atomic_init(&job.next, 0);
	if (n_threads <= 1) {
		struct worker_arg a = { &job, 0 };
		work(&a);
		return 0;
	}
	if (n_threads > POOL_MAX || in_parallel || pthread_mutex_trylock(&pool.busy) != 0)
		return run_own_threads(n_threads, &job);
	pthread_mutex_lock(&pool.mu);
	int want = pool_grow(n_threads);
	pool.job = &job;
	pool.want = want;
	pool.active = want - 1;
	pool.generation++;
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.mu);
	struct worker_arg self = { &job, 0 };
	work_parallel(&self);
	pthread_mutex_lock(&pool.mu);
	while (pool.active > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pool.job = NULL;
	pthread_mutex_unlock(&pool.mu);
	pthread_mutex_unlock(&pool.busy);
	return want < n_threads ? -1 : 0;
}
