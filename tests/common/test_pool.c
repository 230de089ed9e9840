/* qlora-tools: ISC license. */
/*
 * common/pool: every index runs exactly once, worker ids stay below the thread count, across
 * thousands of back-to-back calls with changing thread counts (the persistent workers), calls
 * nested inside a task, and calls from two threads at once (one gets the pool, the other its
 * own threads).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/pool.h"
#include "test.h"

struct count {
	atomic_int *hits;
	int         threads;
	atomic_int  bad_worker;
	atomic_int  nested_bad;
};

static void hit(void *ctx, size_t i, int worker)
{
	struct count *c = ctx;
	atomic_fetch_add(&c->hits[i], 1);
	if (worker < 0 || worker >= c->threads)
		atomic_fetch_add(&c->bad_worker, 1);
}

static int run_round(int threads, size_t n)
{
	struct count c = { calloc(n, sizeof(atomic_int)), threads, 0, 0 };
	qt_pool_for(threads, n, hit, &c);
	int ok = c.bad_worker == 0;
	for (size_t i = 0; i < n; i++)
		ok &= c.hits[i] == 1;
	free(c.hits);
	return ok;
}

static void nested(void *ctx, size_t i, int worker)
{
	(void)i, (void)worker;
	struct count *c = ctx;
	if (!qt_pool_nested() || !run_round(3, 50))
		atomic_fetch_add(&c->nested_bad, 1);
}

static void *other_thread(void *p)
{
	int *ok = p;
	for (int r = 0; r < 300; r++)
		*ok &= run_round(1 + r % 4, 1 + (size_t)r % 37);
	return NULL;
}

int main(void)
{
	int ok = 1;
	for (int r = 0; r < 3000; r++)
		ok &= run_round(1 + r % 5, (size_t)(r * 7919) % 101);
	CHECK(ok, "3000 back-to-back calls: every index once, worker ids in range");
	CHECK(!qt_pool_nested(), "not nested outside a call");

	struct count c = { NULL, 4, 0, 0 };
	qt_pool_for(4, 16, nested, &c);
	CHECK(c.nested_bad == 0, "calls from inside a task run and see qt_pool_nested()");

	pthread_t th;
	int ok_other = 1, ok_main = 1;
	CHECK(pthread_create(&th, NULL, other_thread, &ok_other) == 0, "second caller starts");
	for (int r = 0; r < 300; r++)
		ok_main &= run_round(2 + r % 3, 1 + (size_t)r % 53);
	pthread_join(th, NULL);
	CHECK(ok_main && ok_other, "two callers at once");
	return test_main_end();
}
