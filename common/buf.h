/* qlora-tools: ISC license. */
/*
 * A growable byte buffer, kept NUL-terminated: the one the JSON writers and the tokenizer's
 * string building share. Out of memory is sticky (oom set, later appends dropped), so a
 * writer appends freely and checks once at the end.
 */
#ifndef QT_COMMON_BUF_H
#define QT_COMMON_BUF_H

#include <stddef.h>

struct qt_buf {
	char  *p;    /* NULL until the first append; then p[n] == '\0' */
	size_t n, cap;
	int    oom;
};

/* Appends n bytes of s (s may be NULL when n is 0). */
void qt_buf_add(struct qt_buf *b, const void *s, size_t n);
/* Appends the string s. */
void qt_buf_str(struct qt_buf *b, const char *s);
/* Releases the storage; b is then empty. */
void qt_buf_free(struct qt_buf *b);

#endif
