/* qlora-tools: ISC license. */
/* Buffers kept between calls; see kernels/cpu/kept_buffer.h. */
#include "kernels/cpu/kept_buffer.h"

#include <stdlib.h>

void *kept_take(struct kept_buffer *k, size_t bytes, size_t *cap)
{
	void *p = NULL, *small = NULL;
	pthread_mutex_lock(&k->mu);
	if (k->p && k->bytes >= bytes)
		p = k->p, *cap = k->bytes;
	else
		small = k->p; /* too small: released before the larger one is made */
	k->p = NULL;
	pthread_mutex_unlock(&k->mu);
	free(small);
	if (!p)
		p = malloc(bytes), *cap = bytes;
	return p;
}

void kept_give(struct kept_buffer *k, void *p, size_t cap)
{
	pthread_mutex_lock(&k->mu);
	if (!k->p || cap > k->bytes) {
		void *old = k->p;
		k->p = p, k->bytes = cap;
		p = old;
	}
	pthread_mutex_unlock(&k->mu);
	free(p);
}
