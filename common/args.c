/* qlora-tools: ISC license. */
/* Checked number parsing; see args.h. */
#include "common/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int qt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int qt_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

int qt_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || isnan(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}
