/* qlora-tools: ISC license. */
/*
 * common/outdir: output directories built beside their target and swapped in; what is refused
 * (a file, a directory that is not a previous output of the kind, a link to such a directory)
 * and left untouched; a link to a directory written through; temporaries removed on SIGTERM and
 * by the next run after a kill -9; the run-directory lock and its holder's pid; qt_out_commit_all.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/io.h"
#include "test.h"

static int exists(const char *p)
{
	struct stat sb;
	return lstat(p, &sb) == 0;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Entries in dir (with grep_re: those matching it). */
static int count_matching(const char *dir, const char *grep_re)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '%s'", dir, grep_re);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static int count_entries(const char *dir)
{
	return count_matching(dir, ".");
}

/* Temporaries or old copies left in dir. */
static int count_debris(const char *dir)
{
	return count_matching(dir, "[.]tmp[.]\\|[.]old[.]");
}

/* Builds dir with one file (name) holding text; returns the status. */
static int build(const char *dir, const char *marker, const char *name, const char *text,
                 struct qt_err *err)
{
	char *tmp = qt_dir_begin(dir, marker, err);
	if (!tmp)
		return err->status;
	char *p = qt_path_join(tmp, name);
	put(p, text);
	free(p);
	int st = qt_dir_commit(tmp, dir, err);
	if (st)
		qt_dir_abort(tmp);
	free(tmp);
	return st;
}

/* A pid that certainly does not run: a child that has exited and been reaped. */
static long dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return (long)p;
}

int main(void)
{
	char base[] = "/tmp/qt_test_outdir.XXXXXX";
	if (!mkdtemp(base))
		return 1;
	if (chdir(base) != 0)
		return 1;
	struct qt_err err;

	/* new, then replaced: nothing left beside it */
	CHECK(build("a/b/out", "m", "m", "1", &err) == QT_OK, "%s", err.msg);
	CHECK(build("a/b/out", "m", "m", "2", &err) == QT_OK, "%s", err.msg);
	CHECK(count_entries("a/b") == 1 && count_entries("a/b/out") == 1, "debris beside out");

	/* a regular file and a foreign directory are refused and untouched */
	put("file", "keep");
	CHECK(build("file", "m", "m", "x", &err) == QT_ECANTCREAT, "file replaced");
	mkdir("foreign", 0755);
	put("foreign/user", "keep");
	CHECK(build("foreign", "m", "m", "x", &err) == QT_ECANTCREAT, "foreign replaced");
	CHECK(exists("foreign/user") && !exists("foreign/m"), "foreign touched");
	/* a previous output with a subdirectory is refused too */
	mkdir("prev", 0755);
	put("prev/m", "");
	mkdir("prev/sub", 0755);
	CHECK(build("prev", "m", "m", "x", &err) == QT_ECANTCREAT, "directory with a subdirectory");
	CHECK(exists("prev/sub"), "subdirectory removed");

	/* a link to a foreign directory: refused, link and directory untouched (the data loss) */
	CHECK(symlink("foreign", "link") == 0, "symlink");
	CHECK(build("link", "m", "m", "x", &err) == QT_ECANTCREAT, "link to foreign replaced");
	CHECK(exists("foreign/user") && exists("link"), "link or its target touched");
	/* a link to an empty directory: written behind it, twice, the link kept */
	mkdir("empty", 0755);
	CHECK(symlink("empty", "elink") == 0, "symlink");
	CHECK(build("elink", "m", "m", "1", &err) == QT_OK, "%s", err.msg);
	CHECK(build("elink", "m", "m", "2", &err) == QT_OK, "%s", err.msg);
	struct stat sb;
	CHECK(lstat("elink", &sb) == 0 && S_ISLNK(sb.st_mode) && exists("empty/m"), "link replaced");
	CHECK(count_entries(".") == 7 && count_debris(".") == 0, "debris: %d entries",
	      count_entries("."));
	/* a link inside a previous output is never followed: refused */
	mkdir("withlink", 0755);
	put("withlink/m", "");
	CHECK(symlink("../foreign/user", "withlink/u") == 0, "symlink");
	CHECK(build("withlink", "m", "m", "x", &err) == QT_ECANTCREAT, "link inside replaced");
	CHECK(exists("foreign/user"), "followed a link");

	/* stale temporaries of a dead pid go on the next run, a live pid's stay */
	char stale[64], live[64], oldd[64];
	long dp = dead_pid();
	snprintf(stale, sizeof stale, "s.tmp.%ld", dp);
	snprintf(live, sizeof live, "s.tmp.%ld", (long)getppid());
	mkdir(stale, 0755);
	mkdir(live, 0755);
	put("x", "");
	char *sub = qt_path_join(stale, "f");
	put(sub, "");
	free(sub);
	CHECK(build("s", "m", "m", "1", &err) == QT_OK, "%s", err.msg);
	CHECK(!exists(stale) && exists(live), "stale %d live %d", exists(stale), exists(live));
	rmdir(live);
	/* an interrupted swap's old copy comes back when its place is empty */
	snprintf(oldd, sizeof oldd, "r.old.%ld", dp);
	mkdir(oldd, 0755);
	qt_sweep_stale(".", NULL);
	CHECK(exists("r") && !exists(oldd), "old copy not put back");

	/* SIGTERM while a temporary directory is open: the handler removes it */
	pid_t c = fork();
	if (c == 0) {
		qt_out_cleanup_on_signal();
		struct qt_err e2;
		char *tmp = qt_dir_begin("sig", "m", &e2);
		char *p = tmp ? qt_path_join(tmp, "f") : NULL;
		if (p)
			put(p, "data");
		raise(SIGTERM);
		_exit(0);
	}
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM, "child not killed by SIGTERM");
	CHECK(count_debris(".") == 0 && !exists("sig"), "temporary left after SIGTERM");

	/* the lock: refused with the holder's pid while held; taken after the holder's kill -9 */
	mkdir("run", 0755);
	int pfd[2];
	CHECK(pipe(pfd) == 0, "pipe");
	c = fork();
	if (c == 0) {
		struct qt_err e2;
		int fd = qt_dir_lock("run", &e2);
		if (write(pfd[1], fd >= 0 ? "1" : "0", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char ch = 0;
	CHECK(read(pfd[0], &ch, 1) == 1 && ch == '1', "child could not lock");
	CHECK(qt_dir_lock("run", &err) < 0 && err.status == QT_ECANTCREAT, "second lock taken");
	char want[64];
	snprintf(want, sizeof want, "pid %ld", (long)c);
	CHECK(strstr(err.msg, want) != NULL, "holder not named: %s", err.msg);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	int fd = qt_dir_lock("run", &err);
	CHECK(fd >= 0, "stale lock not taken over: %s", err.msg);
	if (fd >= 0)
		close(fd);

	/* two outputs committed together */
	struct qt_out o[2];
	CHECK(qt_out_open(&o[0], "t.bin", &err) == QT_OK && qt_out_open(&o[1], "v.bin", &err) == QT_OK,
	      "%s", err.msg);
	fputs("t", o[0].fp);
	fputs("v", o[1].fp);
	CHECK(qt_out_commit_all(o, 2, &err) == QT_OK && exists("t.bin") && exists("v.bin"), "%s",
	      err.msg);
	/* all or nothing: the second rename fails (a directory took v.bin's place after the open),
	 * so t.bin is put back as it was, and no temporary or backup is left */
	CHECK(qt_out_open(&o[0], "t.bin", &err) == QT_OK && qt_out_open(&o[1], "v.bin", &err) == QT_OK,
	      "%s", err.msg);
	fputs("T2", o[0].fp);
	fputs("V2", o[1].fp);
	CHECK(unlink("v.bin") == 0 && mkdir("v.bin", 0755) == 0 && mkdir("v.bin/x", 0755) == 0,
	      "setup");
	CHECK(qt_out_commit_all(o, 2, &err) == QT_EIO && strstr(err.msg, "v.bin: rename"), "%s",
	      err.msg);
	char got[64] = "";
	FILE *tf = fopen("t.bin", "r");
	CHECK(tf && fgets(got, sizeof got, tf) && !strcmp(got, "t"), "t.bin not put back: %s", got);
	if (tf)
		fclose(tf);
	snprintf(got, sizeof got, "t.bin.old.%ld", (long)getpid());
	CHECK(!exists(got), "backup left");
	DIR *dd = opendir(".");
	struct dirent *de;
	while (dd && (de = readdir(dd)))
		CHECK(!strstr(de->d_name, ".tmp.") && !strstr(de->d_name, ".old."), "left %s", de->d_name);
	if (dd)
		closedir(dd);
	/* a directory as a file output: 73 at open */
	CHECK(qt_out_open(&o[0], "run", &err) == QT_ECANTCREAT, "directory opened as a file");

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (chdir("/") == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return test_main_end();
}
