/* qlora-tools: ISC license. */
/* Usage, version and option-argument helpers shared by the tools; see usage.h. */
#include "common/usage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/err.h"

static const char *usage_synopsis = "";
static const char *usage_help;

void qt_usage_init(const char *synopsis, const char *help)
{
	usage_synopsis = synopsis;
	usage_help = help;
}

void qt_usage(int status)
{
	FILE *fp = status == 0 ? stdout : stderr;
	fputs(usage_synopsis, fp);
	if (status == 0 && usage_help) {
		fputc('\n', fp);
		fputs(usage_help, fp);
	}
	exit(status);
}

void qt_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", qt_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	qt_usage(QT_EUSAGE);
}

void qt_version(void)
{
	printf("%s (qlora-tools) %s\n", qt_progname, QT_VERSION);
	exit(0);
}

int64_t qt_arg_i64(const char *opt, const char *s, int64_t lo, int64_t hi)
{
	int64_t v;
	if (qt_parse_i64(s, lo, hi, &v) != 0)
		qt_usage_error("%s: \"%s\" is not a number in %lld..%lld", opt, s, (long long)lo,
		               (long long)hi);
	return v;
}

uint64_t qt_arg_u64(const char *opt, const char *s)
{
	uint64_t v;
	if (qt_parse_u64(s, &v) != 0)
		qt_usage_error("%s: \"%s\" is not a number in 0..%llu", opt, s,
		               (unsigned long long)UINT64_MAX);
	return v;
}

double qt_arg_double(const char *opt, const char *s, double lo, double hi)
{
	double v;
	if (qt_parse_double(s, lo, hi, &v) != 0)
		qt_usage_error("%s: \"%s\" is not a number in %.10g..%.10g", opt, s, lo, hi);
	return v;
}

int qt_arg_word(const char *opt, const char *s, const char *const *words)
{
	char choices[256] = "";
	for (int i = 0; words[i]; i++) {
		if (strcmp(s, words[i]) == 0)
			return i;
		if (strlen(choices) + strlen(words[i]) + 3 < sizeof choices) {
			if (i)
				strcat(choices, ", ");
			strcat(choices, words[i]);
		}
	}
	qt_usage_error("%s: unknown value \"%s\" (%s)", opt, s, choices);
}
