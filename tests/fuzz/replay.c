/* qlora-tools: ISC license. */
/*
 * main() for a fuzz harness built without libFuzzer (make test, make test-sanitize): runs the
 * harness once on every file of tests/fuzz/corpus/FUZZ_NAME/ (the seeds) and
 * tests/fuzz/regress/FUZZ_NAME/ (reproducers of fixed findings), or on the files and
 * directories given as arguments. A crash or a sanitizer report fails the test; otherwise it
 * prints the project's "N passed, 0 failed" line.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf)
		return -1;
	/* an exact-size copy, so that a read past the input is a sanitizer report here too */
	uint8_t *exact = malloc(n ? n : 1);
	if (exact)
		memcpy(exact, buf, n);
	free(buf);
	if (!exact)
		return -1;
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static void run_path(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		CHECK(run_file(path) == 0, "%s: unreadable", path);
		return;
	}
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			char p[1024];
			snprintf(p, sizeof p, "%s/%s", path, names[i]->d_name);
			run_path(p);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			run_path(argv[i]);
	} else {
		char p[1024];
		snprintf(p, sizeof p, "%s/fuzz/corpus/%s", test_srcdir(), FUZZ_NAME);
		run_path(p);
		CHECK(test_passed > 0, "%s: no seeds", p);
		snprintf(p, sizeof p, "%s/fuzz/regress/%s", test_srcdir(), FUZZ_NAME);
		run_path(p);
	}
	return test_main_end();
}
