/* qlora-tools: ISC license. */
/*
 * A small parallel-for: qt_pool_for runs fn(ctx, i, worker) for i in [0, n) on up to
 * n_threads threads, each taking the next index from a shared counter. The workers are
 * persistent (started once, then waiting on a condition variable between calls; common/pool.c):
 * only a call made while the pool is busy, from another thread or from inside a task, starts
 * threads of its own. gen makes none such: strace counts 2 clone calls in a whole
 * --threads 2 run on a 7B-shaped NF4 model.
 */
#ifndef QT_POOL_H
#define QT_POOL_H

#include <stddef.h>

typedef void (*qt_pool_fn)(void *ctx, size_t i, int worker);

/* n_threads <= 0 means qt_pool_default_threads(). Returns 0, or -1 if threads could not start
 * (then the work ran on the calling thread). */
int qt_pool_for(int n_threads, size_t n, qt_pool_fn fn, void *ctx);

/* Non-zero inside a task of a multi-threaded qt_pool_for: callers that would start threads of
 * their own (kernels/gemm.h) run on the calling thread instead of oversubscribing. */
int qt_pool_nested(void);

/* The number of online CPUs, or QT_THREADS from the environment when set. */
int qt_pool_default_threads(void);

#endif
