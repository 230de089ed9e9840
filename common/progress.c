/* qlora-tools: ISC license. */
/* Progress line on stderr; see progress.h. */
#include "common/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

double qt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void qt_progress_auto(void)
{
	if (qt_verbosity == 2 && isatty(2))
		qt_verbosity = 3;
}

void qt_progress_begin(struct qt_progress *p, const char *what, uint64_t total)
{
	p->what = what;
	p->total = total;
	p->t_start = p->t_last = qt_now();
	p->shown = 0;
}

void qt_progress_update(struct qt_progress *p, uint64_t done)
{
	if (qt_verbosity < 3)
		return;
	double t = qt_now();
	if (t - p->t_last < 0.25)
		return;
	p->t_last = t;
	double rate = done / (t - p->t_start + 1e-9);
	if (p->total)
		fprintf(stderr, "\r%s: %llu/%llu %s (%.0f/s)  ", qt_progname, (unsigned long long)done,
		        (unsigned long long)p->total, p->what, rate);
	else
		fprintf(stderr, "\r%s: %llu %s (%.0f/s)  ", qt_progname, (unsigned long long)done,
		        p->what, rate);
	p->shown = 1;
}

void qt_progress_end(struct qt_progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
	p->shown = 0;
}
