/* qlora-tools: ISC license. */
/* File I/O helpers; see io.h. */
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

/* Temp paths to unlink if a signal arrives before commit (small fixed table: tools hold few). */
#define QT_MAX_LIVE_TMP 64
static char *volatile live_tmp[QT_MAX_LIVE_TMP];

static void live_add(char *p)
{
	for (int i = 0; i < QT_MAX_LIVE_TMP; i++)
		if (!live_tmp[i]) { live_tmp[i] = p; return; }
}

static void live_del(char *p)
{
	for (int i = 0; i < QT_MAX_LIVE_TMP; i++)
		if (live_tmp[i] == p) { live_tmp[i] = NULL; return; }
}

static void on_signal(int sig)
{
	for (int i = 0; i < QT_MAX_LIVE_TMP; i++)
		if (live_tmp[i])
			unlink(live_tmp[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void qt_out_cleanup_on_signal(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
}

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
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
		o->fp = fopen(path, "wb");
		if (!o->fp)
			return qt_err_set(err, QT_ECANTCREAT, "%s:", path);
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
	size_t n = strlen(path) + 32;
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		qt_out_abort(o);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int st = qt_err_set(err, QT_ECANTCREAT, "%s:", path);
		free(o->tmp); o->tmp = NULL;
		qt_out_abort(o);
		return st;
	}
	o->fp = fdopen(fd, "wb");
	if (!o->fp) {
		close(fd);
		unlink(o->tmp);
		qt_out_abort(o);
		return qt_err_set(err, QT_ECANTCREAT, "%s:", path);
	}
	live_add(o->tmp);
	return QT_OK;
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
	if (fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0)
		st = qt_err_set(err, QT_EIO, "%s: write error:", o->path);
	if (fclose(o->fp) != 0 && st == QT_OK)
		st = qt_err_set(err, QT_EIO, "%s: write error:", o->path);
	o->fp = NULL;
	if (st == QT_OK && rename(o->tmp, o->path) != 0)
		st = qt_err_set(err, QT_EIO, "%s: rename:", o->path);
	if (st != QT_OK)
		unlink(o->tmp);
	live_del(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
	return st;
}

void qt_out_abort(struct qt_out *o)
{
	if (o->fp && (!o->is_stdout || o->device))
		fclose(o->fp);
	if (o->tmp) {
		unlink(o->tmp);
		live_del(o->tmp);
	}
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = qt_path_join(dir, e->d_name);
			struct stat sb;
			if (p && lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
				remove_tree(p);
			else if (p)
				unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

char *qt_dir_begin(const char *dir, struct qt_err *err)
{
	size_t n = strlen(dir) + 32;
	char *tmp = malloc(n);
	if (!tmp) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	snprintf(tmp, n, "%s.tmp.%ld", dir, (long)getpid());
	remove_tree(tmp);
	if (mkdir(tmp, 0755) != 0) {
		qt_err_set(err, QT_ECANTCREAT, "%s:", dir);
		free(tmp);
		return NULL;
	}
	live_add(tmp);
	return tmp;
}

int qt_dir_commit(const char *tmpdir, const char *dir, struct qt_err *err)
{
	struct stat sb;
	if (stat(dir, &sb) == 0) {
		/* Move the old directory aside first so the swap is never half done. */
		size_t n = strlen(dir) + 32;
		char *old = malloc(n);
		if (!old)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		snprintf(old, n, "%s.old.%ld", dir, (long)getpid());
		if (rename(dir, old) != 0) {
			free(old);
			return qt_err_set(err, QT_EIO, "%s: rename:", dir);
		}
		if (rename(tmpdir, dir) != 0) {
			int st = qt_err_set(err, QT_EIO, "%s: rename:", dir);
			rename(old, dir);
			free(old);
			return st;
		}
		remove_tree(old);
		free(old);
	} else if (rename(tmpdir, dir) != 0) {
		return qt_err_set(err, QT_EIO, "%s: rename:", dir);
	}
	live_del((char *)tmpdir);
	return QT_OK;
}

void qt_dir_abort(const char *tmpdir)
{
	if (tmpdir) {
		remove_tree(tmpdir);
		live_del((char *)tmpdir);
	}
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

int qt_write(FILE *fp, const void *p, size_t n, const char *what, struct qt_err *err)
{
	if (n && fwrite(p, 1, n, fp) != n)
		return qt_err_set(err, QT_EIO, "%s: write error:", what);
	return QT_OK;
}

int qt_stdout_close(struct qt_err *err)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return qt_err_set(err, QT_EIO, "stdout: write error:");
	return QT_OK;
}

char *qt_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", dir, (*dir && dir[strlen(dir) - 1] != '/') ? "/" : "", name);
	return p;
}
