/* qlora-tools: ISC license. */
/*
 * Minimal unit-test harness. CHECK records a pass or a failure (with file:line and a message);
 * test_main_end prints "N passed, N failed" (and skips) and returns the exit status: non-zero
 * when anything failed. SKIP marks a check that cannot run on this machine (no GPU).
 */
#ifndef QT_TEST_H
#define QT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_passed, test_failed, test_skipped;

#define CHECK(cond, ...)                                                                  \
	do {                                                                              \
		if (cond) {                                                               \
			test_passed++;                                                    \
		} else {                                                                  \
			test_failed++;                                                    \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
		}                                                                         \
	} while (0)

#define SKIP(...)                                             \
	do {                                                  \
		test_skipped++;                               \
		fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                 \
		fputc('\n', stderr);                          \
	} while (0)

/* Directory holding the source tree's tests/ (so tests find tests/data when run from anywhere). */
static inline const char *test_srcdir(void)
{
	const char *d = getenv("QT_TEST_SRCDIR");
	return d ? d : "tests";
}

/*
 * Moves the test into a fresh directory of its own under /tmp, removed at exit, so that two
 * runs of the suite at once (two worktrees, make test beside make test-sanitize) never share
 * a scratch file; the test then names its scratch files by relative paths. Call it first.
 */
static char test_tmp_dir[64];

static inline void test_tmp_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", test_tmp_dir);
}

static inline void test_in_tmpdir(void)
{
	if (!getenv("QT_TEST_SRCDIR")) {
		char *r = realpath("tests", NULL);
		if (r)
			setenv("QT_TEST_SRCDIR", r, 1);
		free(r);
	}
	snprintf(test_tmp_dir, sizeof test_tmp_dir, "/tmp/qt_test.XXXXXX");
	if (!mkdtemp(test_tmp_dir) || chdir(test_tmp_dir) != 0) {
		fprintf(stderr, "cannot make a scratch directory in /tmp\n");
		exit(1);
	}
	atexit(test_tmp_remove);
}

static inline int test_main_end(void)
{
	if (test_skipped)
		printf("%d skipped\n", test_skipped);
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
