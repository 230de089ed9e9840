/* qlora-tools: ISC license. */
/*
 * One buffer kept between the calls of an op (the SGEMM fills' tiles, the bf16 products'
 * packed operands), so that the hundreds of products of a training step do not fault in fresh
 * pages each time. Taken and given back under a lock: a call from another thread meanwhile
 * allocates its own, and of two buffers given back the larger is kept. It is kept by its
 * capacity, not by what a call used: a small product that borrowed the LM head's 113 MB buffer
 * once handed it back as small, and the head's next product freed it and faulted 113 MB of
 * fresh pages in (140k page faults a step, 5% of a training step on SmolLM2).
 */
#ifndef QT_KERNELS_CPU_KEPT_BUFFER_H
#define QT_KERNELS_CPU_KEPT_BUFFER_H

#include <pthread.h>
#include <stddef.h>

struct kept_buffer {
	pthread_mutex_t mu;
	void           *p;
	size_t          bytes;
};
#define KEPT_BUFFER_INIT { PTHREAD_MUTEX_INITIALIZER, NULL, 0 }

/* A buffer of at least bytes (the kept one if it is large enough), or NULL; *cap: its size. */
void *kept_take(struct kept_buffer *k, size_t bytes, size_t *cap);
/* Gives back a buffer of cap bytes from kept_take. */
void kept_give(struct kept_buffer *k, void *p, size_t cap);

#endif
