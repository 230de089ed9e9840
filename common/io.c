/* qlora-tools: ISC license. */
/* File I/O helpers; see io.h. */
#include "common/io.h"
#include "common/io_live.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/file.h>

int qt_out_open(struct qt_out *o, const char *path, struct qt_err *err)
{
	memset(o, 0, sizeof *o);
	if (strcmp(path, "-") == 0) {
		o->fp = stdout;
		o->is_stdout = 1;
		o->path = strdup("-");
		return QT_OK;
	}
	/* A device or FIFO (also through a symlink such as /dev/stdout) is written in place:
	 * renaming a temporary file over it would replace the device node or the link. A
	 * symlink to a regular file is followed, so the file behind it is replaced, not the link. */
	struct stat sb;
	int st;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return qt_err_set(err, QT_ECANTCREAT, "%s: is a directory", path);
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		o->fp = fopen(path, "wb");
		if (!o->fp)
			return qt_err_set(err, qt_create_status(), "%s:", path);
		o->path = strdup(path);
		o->is_stdout = 1; /* no temp, no rename; commit flushes */
		o->device = 1;
		return QT_OK;
	}
	char *real = NULL;
	struct stat lsb;
	if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode))
		real = realpath(path, NULL);
	o->path = real ? real : strdup(path);
	path = o->path;
	if (path) {
		const char *slash = strrchr(path, '/');
		char *parent = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : NULL;
		qt_sweep_stale(slash ? parent : ".", slash ? slash + 1 : path);
		free(parent);
	}
	size_t n = strlen(path) + 32;
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		qt_out_abort(o);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		st = qt_err_set(err, qt_create_status(), "%s:", QT_SHOWN(path));
		free(o->tmp); o->tmp = NULL;
		qt_out_abort(o);
		return st;
	}
	o->fp = fdopen(fd, "wb");
	if (!o->fp) {
		close(fd);
		unlink(o->tmp);
		qt_out_abort(o);
		return qt_err_set(err, qt_create_status(), "%s:", QT_SHOWN(path));
	}
	qt_live_add(o->tmp);
	return QT_OK;
}

int qt_out_finish(struct qt_out *o, struct qt_err *err)
{
	int st = QT_OK;
	if (o->is_stdout || !o->fp)
		return QT_OK;
	if (fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0)
		st = qt_err_set(err, QT_EIO, "%s: write error:", QT_SHOWN(o->path));
	if (fclose(o->fp) != 0 && st == QT_OK)
		st = qt_err_set(err, QT_EIO, "%s: write error:", QT_SHOWN(o->path));
	o->fp = NULL;
	if (st != QT_OK)
		qt_out_abort(o);
	return st;
}

int qt_out_commit(struct qt_out *o, struct qt_err *err)
{
	int st = QT_OK;
	if (o->is_stdout) {
		if (fflush(o->fp) != 0 || ferror(o->fp))
			st = qt_err_set(err, QT_EIO, "%s: write error:", o->device ? o->path : "stdout");
		if (o->device && fclose(o->fp) != 0 && st == QT_OK)
			st = qt_err_set(err, QT_EIO, "%s: write error:", o->path);
		free(o->path);
		memset(o, 0, sizeof *o);
		return st;
	}
	if ((st = qt_out_finish(o, err)))
		return st;
	if (rename(o->tmp, o->path) != 0) {
		st = qt_err_set(err, QT_EIO, "%s: rename:", QT_SHOWN(o->path));
		unlink(o->tmp);
	}
	qt_live_del(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
	return st;
}

/* Locks the directory holding path (flock on the directory itself); -1 if it cannot. */
static int lock_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
	int fd = parent ? open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	free(parent);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* "path.old.PID", malloc'd. */
static char *old_name(const char *path)
{
	size_t n = strlen(path) + 32;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s.old.%ld", path, (long)getpid());
	return p;
}

int qt_out_commit_all(struct qt_out *o, int n, struct qt_err *err)
{
	int fds[8], nfd = 0, st = QT_OK;
	/* Parents locked in the order of their inode numbers, so two runs never wait on each
	 * other crosswise; the same directory is locked once. */
	struct { dev_t dev; ino_t ino; int i; } key[8];
	int nk = 0;
	for (int i = 0; i < n && nk < 8; i++) {
		if (o[i].is_stdout || !o[i].path)
			continue;
		const char *slash = strrchr(o[i].path, '/');
		char *parent = slash ? strndup(o[i].path, (size_t)(slash - o[i].path + (slash == o[i].path)))
		                     : strdup(".");
		struct stat sb;
		if (parent && stat(parent, &sb) == 0) {
			int dup = 0;
			for (int k = 0; k < nk; k++)
				dup |= key[k].dev == sb.st_dev && key[k].ino == sb.st_ino;
			if (!dup) {
				int at = nk++;
				while (at > 0 && (key[at - 1].dev > sb.st_dev ||
				                  (key[at - 1].dev == sb.st_dev && key[at - 1].ino > sb.st_ino))) {
					key[at] = key[at - 1];
					at--;
				}
				key[at].dev = sb.st_dev, key[at].ino = sb.st_ino, key[at].i = i;
			}
		}
		free(parent);
	}
	for (int k = 0; k < nk; k++) {
		int fd = lock_parent(o[key[k].i].path);
		if (fd >= 0)
			fds[nfd++] = fd;
	}
	/* Every file complete and synced before the first rename; then the renames, a previous
	 * output kept as a hard link "path.old.PID" until all are done, so that a failed rename
	 * puts the earlier ones back (or removes them when there was none): all or nothing. A
	 * signal waits until the set is settled. */
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	char **bak = calloc((size_t)(n > 0 ? n : 1), sizeof *bak);
	if (!bak)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (int i = 0; i < n && st == QT_OK; i++)
		st = qt_out_finish(&o[i], err);
	int done = 0;
	for (int i = 0; i < n && st == QT_OK; i++) {
		if (o[i].is_stdout) {
			st = qt_out_commit(&o[i], err);
			continue;
		}
		struct stat sb;
		if (lstat(o[i].path, &sb) == 0 && S_ISREG(sb.st_mode) && (bak[i] = old_name(o[i].path))) {
			unlink(bak[i]);
			if (link(o[i].path, bak[i]) != 0) {
				free(bak[i]);
				bak[i] = NULL;
			}
		}
		if (rename(o[i].tmp, o[i].path) != 0)
			st = qt_err_set(err, QT_EIO, "%s: rename:", QT_SHOWN(o[i].path));
		else
			done = i + 1;
	}
	for (int i = done - 1; st != QT_OK && i >= 0; i--) {
		if (o[i].is_stdout)
			continue;
		if (!bak[i] || rename(bak[i], o[i].path) != 0)
			unlink(o[i].path);
	}
	for (int i = 0; i < n; i++) {
		if (bak && bak[i]) {
			unlink(bak[i]);
			free(bak[i]);
		}
		if (st == QT_OK && o[i].tmp)
			qt_live_del(o[i].tmp);
		else
			qt_out_abort(&o[i]);
		free(o[i].tmp);
		free(o[i].path);
		memset(&o[i], 0, sizeof o[i]);
	}
	free(bak);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int k = 0; k < nfd; k++)
		close(fds[k]);
	return st;
}

void qt_out_abort(struct qt_out *o)
{
	if (o->fp && (!o->is_stdout || o->device))
		fclose(o->fp);
	if (o->tmp) {
		unlink(o->tmp);
		qt_live_del(o->tmp);
	}
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
}

int qt_read_file(const char *path, char **buf, size_t *len, struct qt_err *err)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!fp)
		return qt_err_set(err, QT_ENOINPUT, "%s:", path);
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	for (;;) {
		if (!b) {
			if (fp != stdin) fclose(fp);
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		}
		size_t got = fread(b + n, 1, cap - n, fp);
		n += got;
		if (n < cap)
			break;
		cap *= 2;
		char *nb = realloc(b, cap + 1);
		if (!nb) free(b);
		b = nb;
	}
	int bad = ferror(fp);
	if (fp != stdin)
		fclose(fp);
	if (bad) {
		free(b);
		return qt_err_set(err, QT_EIO, "%s: read error:", path);
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return QT_OK;
}

int qt_map_file(const char *path, struct qt_map *m, struct qt_err *err)
{
	memset(m, 0, sizeof *m);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return qt_err_set(err, QT_ENOINPUT, "%s:", path);
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return qt_err_set(err, QT_EIO, "%s:", path);
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return qt_err_set(err, QT_ENOINPUT, "%s: not a regular file", path);
	}
	m->size = (size_t)sb.st_size;
	if (m->size == 0) {
		close(fd);
		m->data = (const uint8_t *)"";
		return QT_OK;
	}
	void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		m->size = 0;
		return qt_err_set(err, QT_EIO, "%s: mmap:", path);
	}
	m->data = p;
	return QT_OK;
}

void qt_unmap(struct qt_map *m)
{
	if (m->size)
		munmap((void *)m->data, m->size);
	memset(m, 0, sizeof *m);
}

void qt_map_drop(const void *p, uint64_t n)
{
	uintptr_t a = (uintptr_t)p, e = a + n, pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	a = (a + pg - 1) / pg * pg;
	e = e / pg * pg;
	if (e > a)
		madvise((void *)a, e - a, MADV_DONTNEED);
}

int qt_write(FILE *fp, const void *p, size_t n, const char *what, struct qt_err *err)
{
	if (n && fwrite(p, 1, n, fp) != n)
		return qt_err_set(err, QT_EIO, "%s: write error:", QT_SHOWN(what));
	return QT_OK;
}

int qt_stdout_close(struct qt_err *err)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return qt_err_set(err, QT_EIO, "stdout: write error:");
	return QT_OK;
}

char *qt_path_in_dir(const char *path, const char *name)
{
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return qt_path_join(path, name);
	return strdup(path);
}

int qt_create_status(void)
{
	return errno == ENOSPC || errno == EDQUOT || errno == EIO ? QT_EIO : QT_ECANTCREAT;
}

const char *qt_shown(const char *path, char *buf, size_t n)
{
	int saved = errno;
	char mark[32];
	int m = snprintf(mark, sizeof mark, ".tmp.%ld", (long)getpid());
	size_t k = 0;
	for (const char *p = path; *p && k + 1 < n;) {
		if (!strncmp(p, mark, (size_t)m) && (p[m] == '/' || p[m] == '\0' || p[m] == '.')) {
			p += m;
			continue;
		}
		buf[k++] = *p++;
	}
	buf[k] = '\0';
	errno = saved;
	return buf;
}

char *qt_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", dir, (*dir && dir[strlen(dir) - 1] != '/') ? "/" : "", name);
	return p;
}
