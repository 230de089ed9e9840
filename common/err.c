/* qlora-tools: ISC license. */
/* Messages and exit statuses; see err.h. */
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *qt_progname = "qlora-tools";
int qt_verbosity = 2;

static void vformat(char *buf, size_t cap, int errnum, const char *fmt, va_list ap)
{
	vsnprintf(buf, cap, fmt, ap);
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == ':' && n < cap)
		snprintf(buf + n, cap - n, " %s", strerror(errnum));
}

int qt_err_set(struct qt_err *err, int status, const char *fmt, ...)
{
	int saved = errno;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vformat(err->msg, sizeof err->msg, saved, fmt, ap);
		va_end(ap);
		err->status = status;
	}
	errno = saved;
	return status;
}

void qt_set_progname(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	qt_progname = slash ? slash + 1 : argv0;
}

void qt_die(int status, const char *fmt, ...)
{
	char buf[1200];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, sizeof buf, saved, fmt, ap);
	va_end(ap);
	if (qt_verbosity >= 1)
		fprintf(stderr, "%s: %s\n", qt_progname, buf);
	exit(status);
}

void qt_die_err(const struct qt_err *err)
{
	if (qt_verbosity >= 1)
		fprintf(stderr, "%s: %s\n", qt_progname, err->msg);
	exit(err->status ? err->status : QT_ESOFTWARE);
}

void qt_warnx(const char *fmt, ...)
{
	if (qt_verbosity < 2)
		return;
	char buf[1200];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, sizeof buf, saved, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: warning: %s\n", qt_progname, buf);
}

void qt_info(int level, const char *fmt, ...)
{
	if (qt_verbosity < level)
		return;
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", qt_progname, buf);
}
