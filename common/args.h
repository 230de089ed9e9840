/* qlora-tools: ISC license. */
/* Checked number parsing for option arguments: the whole string must be a number in range. */
#ifndef QT_ARGS_H
#define QT_ARGS_H

#include <stdint.h>

/* Each returns 0 on success, -1 if s is not entirely a number within [lo, hi]. */
int qt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
int qt_parse_u64(const char *s, uint64_t *out);
int qt_parse_double(const char *s, double lo, double hi, double *out);
/* A byte count: digits with an optional K, M, G or T suffix (powers of 1024), at most 2^62. */
int qt_parse_size(const char *s, int64_t *out);

#endif
