/* qlora-tools: ISC license. */
/*
 * Write-failure injector for the full-disk and I/O-error cases (issue 23), loaded with
 * LD_PRELOAD=build/tests/faultinj.so. QT_FAULT=op:N[:errno] fails the N-th operation of kind op
 * that the process does on an output: a regular file, or stdout (fd 1) whatever it is. stderr
 * (fd 2), pipes, sockets and devices other than stdout (MPI's and OpenBLAS's plumbing) are never
 * touched nor counted. N counts from 1.
 *   write   fwrite/fputc/fputs/putc/puts/fprintf/printf/vfprintf (and their _chk forms) and
 *           fflush with data buffered on a stream, write/pwrite on a descriptor. A stream is failed as a full disk fails
 *           it: its descriptor is replaced by /dev/full, so this call's data (or, when it only
 *           fills the buffer, the next flush, fclose or fsync) gets ENOSPC from the kernel, and
 *           every later write does too. A descriptor's write returns -1. Default errno ENOSPC.
 *   fsync   fsync/fdatasync: nothing synced, -1. Default EIO.
 *   rename  rename/renameat/renameat2 (any path): nothing renamed, -1. Default EIO.
 *   close   close/fclose of a descriptor or stream open for writing: closed, but -1/EOF, as
 *           NFS reports a deferred write error. Default EIO.
 *   create  open/openat/creat with O_CREAT, fopen for writing or appending, mkdir/mkdirat (any
 *           path): nothing created, -1/NULL, as a directory that cannot grow on a full disk.
 *           Default ENOSPC.
 * errno is a name: ENOSPC, EIO, EDQUOT or EFBIG. When the fault fires, a line "fired op:N" is
 * appended to the file QT_FAULT_LOG names (if set), so a test can tell a run the fault missed.
 * QT_FAULT_COUNT=file appends, at exit, how many operations of each kind the process did
 * ("write W fsync F rename R close C create K"), so a test knows how far to sweep N.
 * The injector's own files (those two) go through the real functions and are never counted.
 * Only for tests: not part of the tools.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_NONE, OP_WRITE, OP_FSYNC, OP_RENAME, OP_CLOSE, OP_CREATE, N_OPS };
static const char *const op_names[N_OPS] = { "", "write", "fsync", "rename", "close",
                                              "create" };
static int want_op = -1, want_errno;
static long want_n, count[N_OPS];

#define REAL(name) \
	static __typeof__(name) *real_##name; \
	if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static void init(void)
{
	if (__atomic_load_n(&want_op, __ATOMIC_ACQUIRE) >= 0)
		return;
	int op = OP_NONE;
	const char *s = getenv("QT_FAULT");
	const char *c = s ? strchr(s, ':') : NULL;
	if (c) {
		for (int i = 1; i < N_OPS; i++)
			if ((size_t)(c - s) == strlen(op_names[i]) &&
			    !strncmp(s, op_names[i], (size_t)(c - s)))
				op = i;
		static const int deflt[N_OPS] = { 0, ENOSPC, EIO, EIO, EIO, ENOSPC };
		char *end;
		want_n = strtol(c + 1, &end, 10);
		want_errno = deflt[op];
		if (*end == ':') {
			const char *e = end + 1;
			want_errno = !strcmp(e, "EIO") ? EIO : !strcmp(e, "EDQUOT") ? EDQUOT :
			             !strcmp(e, "EFBIG") ? EFBIG : ENOSPC;
		}
	}
	__atomic_store_n(&want_op, op, __ATOMIC_RELEASE);
}

/* Whether this operation of kind op is the one to fail (every one is counted). */
static int hit(int op)
{
	init();
	long n = __atomic_add_fetch(&count[op], 1, __ATOMIC_RELAXED);
	if (n != want_n || op != want_op)
		return 0;
	const char *log = getenv("QT_FAULT_LOG");
	if (log) {
		REAL(open);
		REAL(write);
		REAL(close);
		int saved = errno;
		int fd = real_open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			char line[64];
			int k = snprintf(line, sizeof line, "fired %s:%ld\n", op_names[op], want_n);
			if (real_write(fd, line, (size_t)k) < 0) { /* nothing to do */ }
			real_close(fd);
		}
		errno = saved;
	}
	return 1;
}

/* A descriptor the injector counts: stdout, or a regular file (not stderr). */
static int is_out_fd(int fd)
{
	struct stat sb;
	if (fd < 0 || fd == 2)
		return 0;
	return fd == 1 || (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode));
}

/* A descriptor open for writing that the injector counts. */
static int is_out_wfd(int fd)
{
	int fl = is_out_fd(fd) ? fcntl(fd, F_GETFL) : -1;
	return fl >= 0 && (fl & O_ACCMODE) != O_RDONLY;
}

/* A stream on such a descriptor (not a memory stream, which has none). */
static int is_out(FILE *fp)
{
	return fp && is_out_fd(fileno(fp));
}

/* A stream hit by a write fault: its descriptor now writes to /dev/full. */
static void fill_stream(FILE *fp)
{
	REAL(open);
	REAL(close);
	int fd = fileno(fp);
	int full = real_open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (full >= 0) {
		dup2(full, fd);
		real_close(full);
	}
}

/* Before a stream write: the fault, when this is the one. */
static void stream_op(FILE *fp)
{
	if (is_out(fp) && hit(OP_WRITE))
		fill_stream(fp);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *fp)
{
	REAL(fwrite);
	stream_op(fp);
	return real_fwrite(p, size, n, fp);
}

int fputc(int c, FILE *fp)
{
	REAL(fputc);
	stream_op(fp);
	return real_fputc(c, fp);
}

int putc(int c, FILE *fp)
{
	REAL(putc);
	stream_op(fp);
	return real_putc(c, fp);
}

int putchar(int c)
{
	return putc(c, stdout);
}

int fputs(const char *s, FILE *fp)
{
	REAL(fputs);
	stream_op(fp);
	return real_fputs(s, fp);
}

int puts(const char *s)
{
	REAL(puts);
	stream_op(stdout);
	return real_puts(s);
}

int vfprintf(FILE *fp, const char *fmt, va_list ap)
{
	REAL(vfprintf);
	stream_op(fp);
	return real_vfprintf(fp, fmt, ap);
}

int fprintf(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfprintf(fp, fmt, ap);
	va_end(ap);
	return r;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
}

int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

/* The _FORTIFY_SOURCE forms, which a distribution's compiler may pick (the flag is dropped). */
int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	return vfprintf(fp, fmt, ap);
}

int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = __vfprintf_chk(fp, flag, fmt, ap);
	va_end(ap);
	return r;
}

int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = __vfprintf_chk(stdout, flag, fmt, ap);
	va_end(ap);
	return r;
}

/* A flush counts only when it has data to write: one with nothing buffered succeeds on a full
 * disk too. */
int fflush(FILE *fp)
{
	REAL(fflush);
	if (fp && __fpending(fp) > 0)
		stream_op(fp);
	return real_fflush(fp);
}

ssize_t write(int fd, const void *p, size_t n)
{
	REAL(write);
	if (is_out_fd(fd) && hit(OP_WRITE)) {
		errno = want_errno;
		return -1;
	}
	return real_write(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	REAL(pwrite);
	if (is_out_fd(fd) && hit(OP_WRITE)) {
		errno = want_errno;
		return -1;
	}
	return real_pwrite(fd, p, n, off);
}

int fsync(int fd)
{
	REAL(fsync);
	if (is_out_fd(fd) && hit(OP_FSYNC)) {
		errno = want_errno;
		return -1;
	}
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync);
	if (is_out_fd(fd) && hit(OP_FSYNC)) {
		errno = want_errno;
		return -1;
	}
	return real_fdatasync(fd);
}

int rename(const char *a, const char *b)
{
	REAL(rename);
	if (hit(OP_RENAME)) {
		errno = want_errno;
		return -1;
	}
	return real_rename(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	REAL(renameat);
	if (hit(OP_RENAME)) {
		errno = want_errno;
		return -1;
	}
	return real_renameat(da, a, db, b);
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	REAL(renameat2);
	if (hit(OP_RENAME)) {
		errno = want_errno;
		return -1;
	}
	return real_renameat2(da, a, db, b, flags);
}

int close(int fd)
{
	REAL(close);
	if (is_out_wfd(fd) && hit(OP_CLOSE)) {
		real_close(fd);
		errno = want_errno;
		return -1;
	}
	return real_close(fd);
}

int fclose(FILE *fp)
{
	REAL(fclose);
	if (fp && is_out_wfd(fileno(fp)) && hit(OP_CLOSE)) {
		real_fclose(fp);
		errno = want_errno;
		return EOF;
	}
	return real_fclose(fp);
}

/* ---- create ---- */

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_LIKE(name, ...) \
	va_list ap; \
	va_start(ap, flags); \
	mode_t m = mode_arg(flags, ap); \
	va_end(ap); \
	REAL(name); \
	if ((flags & O_CREAT) && hit(OP_CREATE)) { \
		errno = want_errno; \
		return -1; \
	} \
	return real_##name(__VA_ARGS__, m)

int open(const char *path, int flags, ...) { OPEN_LIKE(open, path, flags); }
int open64(const char *path, int flags, ...) { OPEN_LIKE(open64, path, flags); }
int openat(int dfd, const char *path, int flags, ...) { OPEN_LIKE(openat, dfd, path, flags); }
int openat64(int dfd, const char *path, int flags, ...) { OPEN_LIKE(openat64, dfd, path, flags); }

int creat(const char *path, mode_t m)
{
	REAL(creat);
	if (hit(OP_CREATE)) {
		errno = want_errno;
		return -1;
	}
	return real_creat(path, m);
}

int mkdir(const char *path, mode_t m)
{
	REAL(mkdir);
	if (hit(OP_CREATE)) {
		errno = want_errno;
		return -1;
	}
	return real_mkdir(path, m);
}

int mkdirat(int dfd, const char *path, mode_t m)
{
	REAL(mkdirat);
	if (hit(OP_CREATE)) {
		errno = want_errno;
		return -1;
	}
	return real_mkdirat(dfd, path, m);
}

/* fopen for writing or appending creates */
static int creates(const char *mode)
{
	return mode && (mode[0] == 'w' || mode[0] == 'a');
}

FILE *fopen(const char *path, const char *mode)
{
	REAL(fopen);
	if (creates(mode) && hit(OP_CREATE)) {
		errno = want_errno;
		return NULL;
	}
	return real_fopen(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	REAL(fopen64);
	if (creates(mode) && hit(OP_CREATE)) {
		errno = want_errno;
		return NULL;
	}
	return real_fopen64(path, mode);
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("QT_FAULT_COUNT");
	if (!path)
		return;
	REAL(open);
	REAL(write);
	REAL(close);
	int fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[160];
	int k = snprintf(line, sizeof line, "write %ld fsync %ld rename %ld close %ld create %ld\n",
	                 count[OP_WRITE], count[OP_FSYNC], count[OP_RENAME], count[OP_CLOSE],
	                 count[OP_CREATE]);
	if (real_write(fd, line, (size_t)k) < 0) { /* nothing to do */ }
	real_close(fd);
}
