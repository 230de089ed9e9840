/* qlora-tools: ISC license. */
/* The growable byte buffer; see buf.h. */
#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

void qt_buf_add(struct qt_buf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->n + n + 1)
			c *= 2;
		char *p = realloc(b->p, c);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = c;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void qt_buf_str(struct qt_buf *b, const char *s)
{
	qt_buf_add(b, s, strlen(s));
}

void qt_buf_free(struct qt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
