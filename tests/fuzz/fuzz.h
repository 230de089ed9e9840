/* qlora-tools: ISC license. */
/*
 * Shared by the fuzz harnesses (tests/fuzz/fuzz_<name>.c, one per parser). Each harness defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is built two ways:
 *   make fuzz T=name S=seconds   clang -fsanitize=fuzzer,address,undefined (libFuzzer)
 *   make test                    the normal compiler with tests/fuzz/replay.c as main: every
 *                                seed (tests/fuzz/corpus/<name>/) and every kept reproducer
 *                                (tests/fuzz/regress/<name>/) is run once
 * A harness returns 0 whatever the parser says: only a crash, a sanitizer report, a leak or a
 * hang is a finding. Parsers that take a path get one through fuzz_path (a memfd).
 */
#ifndef QT_FUZZ_H
#define QT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes as a file: *fd is an anonymous memory file, path names it (/proc/self/fd/N).
 * Close *fd when done. Returns 0, or -1 when it could not be made (the input is skipped). */
static inline int fuzz_path(const uint8_t *data, size_t size, char path[64], int *fd)
{
	*fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (*fd < 0)
		return -1;
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(*fd, data + off, size - off);
		if (w <= 0) {
			close(*fd);
			return -1;
		}
		off += (size_t)w;
	}
	snprintf(path, 64, "/proc/self/fd/%d", *fd);
	return 0;
}

/* Writes data to dir/name (a fixed scratch directory of the harness). 0 or -1. */
static inline int fuzz_put(const char *dir, const char *name, const void *data, size_t size)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f)
		return -1;
	int bad = size && fwrite(data, 1, size, f) != size;
	return (fclose(f) != 0 || bad) ? -1 : 0;
}

static char fuzz_scratch_dir[256];

static inline void fuzz_scratch_remove(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_scratch_dir);
	if (fuzz_scratch_dir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fuzz_scratch_dir);
}

/* A scratch directory for this process (made once, under TMPDIR, removed at exit), or NULL. */
static inline const char *fuzz_scratch(void)
{
	char *dir = fuzz_scratch_dir;
	if (!dir[0]) {
		snprintf(dir, sizeof fuzz_scratch_dir, "%s/qt-fuzz.XXXXXX",
		         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dir)) {
			dir[0] = '\0';
			return NULL;
		}
		atexit(fuzz_scratch_remove);
	}
	return dir;
}

/* The first cut of data at a byte sep (for harnesses that take two inputs): a, then b. */
static inline void fuzz_split(const uint8_t *data, size_t size, uint8_t sep, const uint8_t **a,
                              size_t *na, const uint8_t **b, size_t *nb)
{
	const uint8_t *s = memchr(data, sep, size);
	*a = data;
	*na = s ? (size_t)(s - data) : size;
	*b = s ? s + 1 : data + size;
	*nb = s ? size - *na - 1 : 0;
}

#endif
