/* qlora-tools: ISC license. */
/*
 * Output paths: directories built atomically beside their target, the temporaries removed on
 * SIGINT/SIGTERM/SIGHUP and, after a kill -9, by the next run; missing parents created; a lock
 * for a run directory. See io.h for the contracts. Nothing here follows a symbolic link when it
 * deletes, and nothing deletes a file that a tool of ours would not have written: an existing
 * output directory is replaced only when it is empty or of the same kind (its marker file present
 * and nothing in it but regular files).
 */
#include "common/crashpoint.h"
#include "common/io.h"
#include "common/io_live.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- temporaries removed on a signal ---- */

/* Temp paths to remove if a signal arrives before commit (small fixed table: tools hold few). */
#define QT_MAX_LIVE_TMP 64
static char *volatile live_tmp[QT_MAX_LIVE_TMP];

void qt_live_add(char *p)
{
	for (int i = 0; i < QT_MAX_LIVE_TMP; i++)
		if (!live_tmp[i]) { live_tmp[i] = p; return; }
}

void qt_live_del(char *p)
{
	for (int i = 0; i < QT_MAX_LIVE_TMP; i++)
		if (live_tmp[i] == p) { live_tmp[i] = NULL; return; }
}

/* linux_dirent64 as getdents64(2) fills it (glibc before 2.30 has no wrapper). */
struct qt_dirent64 {
	unsigned long long d_ino;
	long long          d_off;
	unsigned short     d_reclen;
	unsigned char      d_type;
	char               d_name[];
};

/*
 * Removes name (relative to dirfd) and, when it is a directory, everything under it, depth levels
 * deep at most. Never follows a symbolic link (a link is removed, not its target). Only system
 * calls: safe inside a signal handler. Used on our own temporaries only.
 */
static void rm_tree_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM) || depth <= 0)
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[2048] __attribute__((aligned(8)));
	for (int pass = 0; pass < 64; pass++) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf), others = 0;
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct qt_dirent64 *d = (struct qt_dirent64 *)(buf + off);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			rm_tree_at(fd, d->d_name, depth - 1);
			others++;
		}
		if (!others)
			break;
		lseek(fd, 0, SEEK_SET); /* entries were removed: read the directory again */
	}
	close(fd);
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* The thread that installed the handler: the one that creates and commits outputs. */
static pthread_t main_thread;

static void on_signal(int sig)
{
	int saved = errno;
	/* Another thread (a pool worker, an OpenBLAS thread) took the signal while the main thread
	 * may be writing into the temporary: hand it to the main thread, which then stops writing
	 * to run this handler (or takes it after a swap it blocks signals for). */
	if (!pthread_equal(pthread_self(), main_thread)) {
		pthread_kill(main_thread, sig);
		errno = saved;
		return;
	}
	for (int i = 0; i < QT_MAX_LIVE_TMP; i++)
		if (live_tmp[i])
			rm_tree_at(AT_FDCWD, live_tmp[i], 4);
	errno = saved;
	signal(sig, SIG_DFL);
	raise(sig);
}

void qt_out_cleanup_on_signal(void)
{
	main_thread = pthread_self();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
}

/* Blocks the three signals around a step that must not be cut in two (a directory swap). */
static void block_signals(sigset_t *old)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

static void restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- parents and stale temporaries ---- */

int qt_mkdir_parents(const char *path, struct qt_err *err)
{
	char *p = strdup(path);
	if (!p)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	char *slash = strrchr(p, '/');
	if (!slash || slash == p) {
		free(p);
		return QT_OK;
	}
	*slash = '\0';
	for (char *q = p + 1; ; q++) {
		int end = *q == '\0';
		if (*q == '/' || end) {
			*q = '\0';
			struct stat sb;
			if (stat(p, &sb) != 0) {
				if (mkdir(p, 0777) != 0 && errno != EEXIST) {
					int st = qt_err_set(err, qt_create_status(), "%s:", p);
					free(p);
					return st;
				}
			} else if (!S_ISDIR(sb.st_mode)) {
				errno = ENOTDIR;
				int st = qt_err_set(err, QT_ECANTCREAT, "%s:", p);
				free(p);
				return st;
			}
			if (end)
				break;
			*q = '/';
		}
	}
	free(p);
	return QT_OK;
}

/* The last ".tmp." or ".old." in name, or NULL. */
static const char *last_marker(const char *name)
{
	const char *last = NULL;
	for (const char *s = name; (s = strchr(s, '.')); s++)
		if (!strncmp(s, ".tmp.", 5) || !strncmp(s, ".old.", 5))
			last = s;
	return last;
}

/* The pid in "<base>.tmp.<pid>" / "<base>.old.<pid>" (any base when base is NULL) when name
 * has that shape, else 0; *m points at the ".tmp."/".old." part. */
static long tmp_pid(const char *name, const char *base, const char **m)
{
	const char *s = last_marker(name);
	if (!s || s == name || (base && ((size_t)(s - name) != strlen(base) ||
	                                 strncmp(name, base, strlen(base)))))
		return 0;
	*m = s;
	s += 5;
	char *end;
	errno = 0;
	long pid = strtol(s, &end, 10);
	if (s[0] < '1' || s[0] > '9' || *end || errno || pid <= 0 || pid > INT_MAX)
		return 0;
	return pid;
}

static int pid_dead(long pid)
{
	return pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes the regular files of directory name (under dirfd) and then the directory, if it is
 * left empty. Never follows links, never recurses: returns non-zero if anything was left. */
static int rm_flat_dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat sb;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
			unlinkat(fd, e->d_name, 0);
	}
	closedir(d);
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

void qt_sweep_stale(const char *dir, const char *base)
{
	DIR *d = opendir(dir && *dir ? dir : ".");
	if (!d)
		return;
	int fd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *m = NULL;
		long pid = tmp_pid(e->d_name, base, &m);
		struct stat sb;
		if (!pid || !pid_dead(pid) || fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (m[1] == 't' && (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
			rm_tree_at(fd, e->d_name, 4);
		} else if (m[1] == 'o' && (S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode))) {
			/* a swap cut by kill -9 between its two renames (a directory), or a set of files
			 * cut in its commit (qt_out_commit_all's hard link to the previous file): put the
			 * old output back when its place is empty, else drop the old copy */
			char *orig = strndup(e->d_name, (size_t)(m - e->d_name));
			struct stat ob;
			if (orig && fstatat(fd, orig, &ob, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
				renameat(fd, e->d_name, fd, orig);
			else if (orig && S_ISDIR(sb.st_mode))
				rm_flat_dir_at(fd, e->d_name);
			else if (orig)
				unlinkat(fd, e->d_name, 0);
			free(orig);
		}
	}
	closedir(d);
}

/* dir's parent ("." when it has none), malloc'd; *base points into dir at the last component. */
static char *split_parent(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!slash)
		return strdup(".");
	return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* ---- directories built atomically ---- */

/*
 * Checks that the existing directory target may be replaced: empty, or holding marker and
 * nothing but regular files. QT_ECANTCREAT naming what is in the way otherwise.
 */
static int check_replaceable(const char *shown, const char *target, const char *marker,
                             struct qt_err *err)
{
	DIR *d = opendir(target);
	if (!d)
		return qt_err_set(err, QT_ECANTCREAT, "%s:", shown);
	struct dirent *e;
	int has_marker = 0, n = 0;
	char other[256] = "";
	int other_kind = 0; /* 1 not a regular file */
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
			if (other_kind == 0)
				snprintf(other, sizeof other, "%s", e->d_name);
			other_kind = 1;
		} else if (marker && !strcmp(e->d_name, marker)) {
			has_marker = 1;
		} else if (!other[0]) {
			snprintf(other, sizeof other, "%s", e->d_name);
		}
	}
	closedir(d);
	if (n == 0 || (has_marker && !other_kind))
		return QT_OK;
	if (other_kind)
		return qt_err_set(err, QT_ECANTCREAT, "%s: exists and holds %s, which is not a regular "
		                  "file: not replacing it (choose another output or remove it)",
		                  shown, other);
	return qt_err_set(err, QT_ECANTCREAT, "%s: exists and is not %s output (no %s in it): not "
	                  "replacing it (choose another output or remove it)", shown,
	                  marker ? "a previous" : "an empty directory or", marker ? marker : "files");
}

char *qt_dir_begin(const char *dir, const char *marker, struct qt_err *err)
{
	struct stat lsb, sb;
	char *target = NULL, *tmp = NULL, *parent = NULL;
	const char *base;
	int st = qt_mkdir_parents(dir, err);
	if (st)
		return NULL;
	if (lstat(dir, &lsb) == 0) {
		if (stat(dir, &sb) != 0) {
			qt_err_set(err, QT_ECANTCREAT, "%s: a symbolic link to nothing:", dir);
			return NULL;
		}
		if (!S_ISDIR(sb.st_mode)) {
			qt_err_set(err, QT_ECANTCREAT, "%s: exists and is not a directory", dir);
			return NULL;
		}
		/* a link to a directory: the directory behind it is the output; the link stays */
		target = S_ISLNK(lsb.st_mode) ? realpath(dir, NULL) : strdup(dir);
		if (!target) {
			qt_err_set(err, QT_ECANTCREAT, "%s:", dir);
			return NULL;
		}
		if (check_replaceable(dir, target, marker, err)) {
			free(target);
			return NULL;
		}
	} else if (errno != ENOENT) {
		qt_err_set(err, QT_ECANTCREAT, "%s:", dir);
		return NULL;
	} else if (!(target = strdup(dir))) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	size_t n = strlen(target);
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	if ((parent = split_parent(target, &base)))
		qt_sweep_stale(parent, base);
	free(parent);
	n += 32;
	if (!(tmp = malloc(n))) {
		free(target);
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	snprintf(tmp, n, "%s.tmp.%ld", target, (long)getpid());
	free(target);
	sigset_t old;
	block_signals(&old);
	rm_tree_at(AT_FDCWD, tmp, 4); /* our own, from an earlier call of this process */
	if (mkdir(tmp, 0755) != 0) {
		restore_signals(&old);
		qt_err_set(err, qt_create_status(), "%s:", QT_SHOWN(dir));
		free(tmp);
		return NULL;
	}
	qt_live_add(tmp);
	restore_signals(&old);
	return tmp;
}

int qt_dir_commit(const char *tmpdir, const char *dir, struct qt_err *err)
{
	/* the target is the temporary's name without ".tmp.PID" (a link already resolved) */
	char *target = strdup(tmpdir);
	char *dot = target ? strrchr(target, '.') : NULL;
	if (dot && dot > target + 4 && !strncmp(dot - 4, ".tmp", 4))
		dot[-4] = '\0';
	else
		return free(target), qt_err_set(err, QT_ESOFTWARE, "%s: not a temporary name", tmpdir);
	int st = QT_OK;
	sigset_t old;
	block_signals(&old);
	struct stat sb;
	qt_crashpoint("dir-commit");
	if (lstat(target, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			st = qt_err_set(err, QT_ECANTCREAT, "%s: exists and is not a directory", dir);
		} else if (renameat2(AT_FDCWD, tmpdir, AT_FDCWD, target, RENAME_EXCHANGE) == 0) {
			/* the temporary's name now holds the previous output: its files go */
			qt_crashpoint("dir-exchanged");
			if (rm_flat_dir_at(AT_FDCWD, tmpdir) != 0 && errno != ENOENT)
				qt_info(2, "%s: kept the previous output as %s (not only files)", dir, tmpdir);
			qt_live_del((char *)tmpdir);
		} else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
			/* no atomic exchange on this file system: move the old one aside first */
			size_t n = strlen(target) + 32;
			char *oldp = malloc(n);
			if (!oldp) {
				st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			} else {
				snprintf(oldp, n, "%s.old.%ld", target, (long)getpid());
				if (rename(target, oldp) != 0)
					st = qt_err_set(err, QT_EIO, "%s: rename:", QT_SHOWN(dir));
				else if (rename(tmpdir, target) != 0) {
					st = qt_err_set(err, QT_EIO, "%s: rename:", QT_SHOWN(dir));
					rename(oldp, target);
				} else {
					qt_live_del((char *)tmpdir);
					if (rm_flat_dir_at(AT_FDCWD, oldp) != 0)
						qt_info(2, "%s: kept the previous output as %s", dir, oldp);
				}
				free(oldp);
			}
		} else {
			st = qt_err_set(err, QT_EIO, "%s: rename:", QT_SHOWN(dir));
		}
	} else if (rename(tmpdir, target) != 0) {
		st = qt_err_set(err, errno == ENOENT || errno == ENOTDIR ? QT_ECANTCREAT : QT_EIO,
		                "%s: rename:", QT_SHOWN(dir));
	} else {
		qt_live_del((char *)tmpdir);
	}
	restore_signals(&old);
	free(target);
	return st;
}

void qt_dir_abort(const char *tmpdir)
{
	if (tmpdir) {
		sigset_t old;
		block_signals(&old);
		rm_tree_at(AT_FDCWD, tmpdir, 4);
		qt_live_del((char *)tmpdir);
		restore_signals(&old);
	}
}

/* ---- a run directory's lock ---- */

int qt_dir_lock(const char *dir, struct qt_err *err)
{
	char *path = qt_path_join(dir, QT_LOCK_NAME);
	if (!path)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory"), -1;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		qt_err_set(err, qt_create_status(), "%s:", QT_SHOWN(path));
		free(path);
		return -1;
	}
	char buf[32] = "";
	ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
	long holder = got > 0 ? strtol(buf, NULL, 10) : 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			qt_err_set(err, QT_ECANTCREAT, "%s: in use by another run (pid %ld holds %s)",
			           dir, holder, path);
		else
			qt_err_set(err, QT_ECANTCREAT, "%s: lock:", path);
		close(fd);
		free(path);
		return -1;
	}
	if (holder > 0 && holder != (long)getpid())
		qt_info(3, "%s: stale lock of pid %ld (no longer running) taken over", dir, holder);
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		qt_err_set(err, QT_EIO, "%s: write error:", QT_SHOWN(path));
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}
