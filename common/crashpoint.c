/* qlora-tools: ISC license. */
/* Named crash points; see crashpoint.h. */
#include "common/crashpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void qt_crashpoint(const char *name)
{
	static const char *spec;
	static int read;
	static long hits;
	if (!read) {
		spec = getenv("QT_CRASHPOINT");
		read = 1;
	}
	size_t n = strlen(name);
	if (!spec || strncmp(spec, name, n) != 0 || spec[n] != ':')
		return;
	if (++hits == strtol(spec + n + 1, NULL, 10))
		raise(SIGKILL);
}
