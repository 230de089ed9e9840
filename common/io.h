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

/*
 * Opens path for atomic writing. Stale temporaries "path.tmp.PID" of runs that no longer exist
 * (kill -9) are removed. Returns QT_OK, or QT_ECANTCREAT with err set when the output cannot be
 * created (its directory is missing or not writable, path is a directory). Unlike an output
 * directory (qt_dir_begin), a file's missing parents are not created.
 */
int qt_out_open(struct qt_out *o, const char *path, struct qt_err *err);
/* Flushes, fsyncs and closes the temporary without renaming it yet (stdout: nothing), for
 * qt_out_commit or qt_out_commit_all later. QT_EIO on failure, with o aborted. */
int qt_out_finish(struct qt_out *o, struct qt_err *err);
/* Flushes, fsyncs and renames into place (stdout: flush only). QT_EIO on any failure (the
 * temp file is removed). Frees o's fields either way. */
int qt_out_commit(struct qt_out *o, struct qt_err *err);
/* Commits n outputs as one: while it renames them, it holds an exclusive lock on each parent
 * directory, so two runs committing the same set never leave a mix of the two. All or nothing:
 * on a failure (a write, fsync or rename error: QT_EIO) the outputs already renamed are undone,
 * each previous file put back (kept as a hard link "path.old.PID" until the end) or the new one
 * removed, and the others' temporaries are removed. Frees o's fields either way. */
int qt_out_commit_all(struct qt_out *o, int n, struct qt_err *err);
/* Removes the temporary file and frees o's fields. Safe on a zeroed struct. */
void qt_out_abort(struct qt_out *o);
/* Temporaries still open (files and directories) are removed on SIGINT/SIGTERM/SIGHUP when
 * this has been called once. */
void qt_out_cleanup_on_signal(void);

/*
 * Output directories, built as a temporary sibling "dir.tmp.PID" and swapped into place.
 * qt_dir_begin creates missing parents and refuses (QT_ECANTCREAT, NULL returned) a dir that
 * exists and is not a directory, or a directory that is neither empty nor a previous output of
 * the same kind: marker (a file name such as "config.json") present and nothing in it but
 * regular files; marker NULL accepts only an empty directory. A symbolic link to a directory
 * names the directory behind it (the link stays). Stale temporaries of dead runs beside it are
 * removed. Returns the temporary's path (owned by the caller).
 * qt_dir_commit swaps the temporary into place (an atomic exchange where the file system has
 * one) and removes the previous output's regular files; it never deletes through a link.
 * qt_dir_abort removes the temporary.
 */
char *qt_dir_begin(const char *dir, const char *marker, struct qt_err *err);
int qt_dir_commit(const char *tmpdir, const char *dir, struct qt_err *err);
void qt_dir_abort(const char *tmpdir);

/* The status of a failed create (open with O_CREAT, mkdir), from errno: QT_EIO for a full disk,
 * a quota or an I/O error (ENOSPC, EDQUOT, EIO: a full disk is 74 whether it strikes at the
 * create or at a write), QT_ECANTCREAT otherwise (a missing or unwritable directory...). */
int qt_create_status(void);

/* Creates the missing parent directories of path (not path itself). QT_ECANTCREAT on failure
 * (QT_EIO on a full disk, as qt_create_status). */
int qt_mkdir_parents(const char *path, struct qt_err *err);
/* Removes in directory dir the temporaries "<base>.tmp.PID" (any base when base is NULL) of
 * processes that no longer exist, files or directory trees, never following a link; a
 * "<base>.old.PID" directory or file left by a cut swap or commit is put back when <base> is
 * missing, else removed. */
void qt_sweep_stale(const char *dir, const char *base);

/* The lock file of a run directory. */
#define QT_LOCK_NAME ".lock"
/* Takes an exclusive lock (flock) on dir/.lock, writing our pid into it, and returns its file
 * descriptor (keep it open for the run; the kernel releases it when the process ends, also on
 * kill -9, so a stale lock never blocks). -1 with QT_ECANTCREAT in err naming the holder's pid
 * when another process holds it. */
int qt_dir_lock(const char *dir, struct qt_err *err);

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
/* Drops the pages wholly inside [p, p + n) of such a mapping from this process once they are
 * read: the kernel keeps them in the page cache, a later access faults them back in, and the
 * process's RSS stops counting a streamed model's whole input. */
void qt_map_drop(const void *p, uint64_t n);

/* fwrite that sets err (naming what) and returns QT_EIO on a short write. */
int qt_write(FILE *fp, const void *p, size_t n, const char *what, struct qt_err *err);

/* Checks that stdout was written completely (fflush + ferror); QT_EIO on failure. */
int qt_stdout_close(struct qt_err *err);

/* Joins a directory and a file name into a malloc'd path. */
char *qt_path_join(const char *dir, const char *name);

/* path itself, or dir/name when path is a directory (a model directory given where its
 * tokenizer.json is meant); malloc'd, NULL when out of memory. */
char *qt_path_in_dir(const char *path, const char *name);

#endif
