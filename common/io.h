/* qlora-tools: ISC license. */
/*
 * File I/O helpers: atomic output (temp beside the target, fsync, rename), whole-file reads,
 * read-only mmap, and checked writes. No tool ever leaves a partial output file.
 */
#ifndef QT_IO_H
#define QT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

/*
 * An output being written. path "-" means stdout (no temp file, no rename).
 * Write through fp; then qt_out_commit or qt_out_abort exactly once.
 */
struct qt_out {
	FILE *fp;
	char *path;  /* final name (owned) */
	char *tmp;   /* temporary name beside it, NULL for stdout (owned) */
	int   is_stdout;
	int   device;  /* a device/FIFO path written in place (no temp file) */
};

/* Opens path for atomic writing. Returns QT_OK, or QT_ECANTCREAT with err set. */
int qt_out_open(struct qt_out *o, const char *path, struct qt_err *err);
/* Flushes, fsyncs and renames into place (stdout: flush only). QT_EIO on any failure (the
 * temp file is removed). Frees o's fields either way. */
int qt_out_commit(struct qt_out *o, struct qt_err *err);
/* Removes the temporary file and frees o's fields. Safe on a zeroed struct. */
void qt_out_abort(struct qt_out *o);
/* Temp files still open are removed on SIGINT/SIGTERM/SIGHUP when this has been called once. */
void qt_out_cleanup_on_signal(void);

/* Creates directory dir's temporary sibling "dir.tmp.PID" for building a directory atomically;
 * qt_dir_commit renames it onto dir (replacing an existing dir). Returned string is owned. */
char *qt_dir_begin(const char *dir, struct qt_err *err);
int qt_dir_commit(const char *tmpdir, const char *dir, struct qt_err *err);
void qt_dir_abort(const char *tmpdir);

/* Reads a whole file ("-" = stdin) into a malloc'd buffer with a NUL after the data.
 * QT_ENOINPUT if it cannot be opened, QT_EIO on a read error. */
int qt_read_file(const char *path, char **buf, size_t *len, struct qt_err *err);

/* Read-only mapping of a whole regular file. */
struct qt_map {
	const uint8_t *data;
	size_t         size;
};
int qt_map_file(const char *path, struct qt_map *m, struct qt_err *err);
void qt_unmap(struct qt_map *m);

/* fwrite that sets err (naming what) and returns QT_EIO on a short write. */
int qt_write(FILE *fp, const void *p, size_t n, const char *what, struct qt_err *err);

/* Checks that stdout was written completely (fflush + ferror); QT_EIO on failure. */
int qt_stdout_close(struct qt_err *err);

/* Joins a directory and a file name into a malloc'd path. */
char *qt_path_join(const char *dir, const char *name);

#endif
