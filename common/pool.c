/* qlora-tools: ISC license. */
/* Parallel-for over pthreads; see pool.h. */
#include "common/pool.h"

#include <pthread.h>
#include <stdatomic.h>
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
	pthread_t *th = calloc((size_t)n_threads, sizeof *th);
	struct worker_arg *args = calloc((size_t)n_threads, sizeof *args);
	int started = 0, rc = 0;
	if (th && args) {
		for (int t = 1; t < n_threads; t++) {
			args[t] = (struct worker_arg){ &job, t };
			if (pthread_create(&th[t], NULL, work_parallel, &args[t]) != 0) {
				rc = -1;
				break;
			}
			started = t;
		}
	} else {
		rc = -1;
	}
	struct worker_arg self = { &job, 0 };
	work_parallel(&self);
	for (int t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
	free(th);
	free(args);
	return rc;
}
