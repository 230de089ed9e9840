/* qlora-tools: ISC license. */
/* Checked number parsing; see args.h. */
#include "common/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* strto* skip leading white space and take a sign: " -1" or "+5" is not the whole string a
 * number, and strtoull would turn " -1" into 2^64 - 1. */
static int starts_number(const char *s, int sign)
{
	return (*s >= '0' && *s <= '9') || (sign && *s == '-' && s[1] >= '0' && s[1] <= '9') ||
	       (sign && *s == '.');
}

int qt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	if (!starts_number(s, 1) || *s == '.')
		return -1;
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
	if (!starts_number(s, 0))
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
	if (!starts_number(s, 1) && !(*s == '-' && s[1] == '.'))
		return -1;
	/* Decimal only: strtod also reads C's hexadecimal floats ("0x1p-8"); an exponent
	 * ("1e-3") is fine. */
	for (const char *c = s; *c; c++)
		if (*c == 'x' || *c == 'X')
			return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || isnan(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int qt_parse_size(const char *s, int64_t *out)
{
	char *end;
	if (!starts_number(s, 0))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;
	switch (*end) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	}
	if (shift)
		end++;
	if (*end || errno || v > (1ULL << 62) >> shift)
		return -1;
	*out = (int64_t)(v << shift);
	return 0;
}
