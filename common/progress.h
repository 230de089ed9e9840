/* qlora-tools: ISC license. */
/*
 * A one-line progress display on stderr, redrawn at most a few times a second. Shown when
 * qt_verbosity >= 3; tools set that level when stderr is a terminal or with --progress.
 */
#ifndef QT_PROGRESS_H
#define QT_PROGRESS_H

#include <stdint.h>

struct qt_progress {
	const char *what;     /* e.g. "records" */
	uint64_t    total;    /* 0 when unknown */
	double      t_start;  /* seconds, monotonic */
	double      t_last;
	int         shown;
};

/* Monotonic clock in seconds. */
double qt_now(void);
/* Sets qt_verbosity to 3 when stderr is a terminal and the level is the default (2). */
void qt_progress_auto(void);
void qt_progress_begin(struct qt_progress *p, const char *what, uint64_t total);
void qt_progress_update(struct qt_progress *p, uint64_t done);
/* Clears the line if one was drawn. */
void qt_progress_end(struct qt_progress *p);

#endif
