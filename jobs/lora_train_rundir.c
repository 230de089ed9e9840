/* qlora-tools: ISC license. */
/* lora-train's run directory: its lock, log.jsonl, checkpoints, and the progress line;
 * see lora_train_state.h. */
#include "jobs/lora_train_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/progress.h"

/* log.jsonl of a resumed run: the lines of steps <= step, rewritten atomically. */
static int trim_log(const char *path, long step, struct qt_err *err)
{
	char *buf;
	size_t len;
	struct qt_err e2;
	if (qt_read_file(path, &buf, &len, &e2) != QT_OK)
		return QT_OK; /* no log yet */
	struct qt_out o = { 0 };
	int rc = qt_out_open(&o, path, err);
	for (char *p = buf; !rc && *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		long k;
		if (sscanf(p, "{\"step\":%ld", &k) == 1 && k <= step && nl)
			rc = qt_write(o.fp, p, n, path, err);
		p += n;
	}
	free(buf);
	if (rc) {
		qt_out_abort(&o);
		return rc;
	}
	return qt_out_commit(&o, err);
}

int train_open_log(struct train_state *s, long resumed, struct qt_err *err)
{
	struct stat sb;
	int rc = qt_mkdir_parents(s->out_dir, err);
	if (rc)
		return rc;
	if (mkdir(s->out_dir, 0777) != 0 && (errno != EEXIST || stat(s->out_dir, &sb) != 0 ||
	                                     !S_ISDIR(sb.st_mode)))
		return qt_err_set(err, errno == EEXIST ? QT_ECANTCREAT : qt_create_status(), "%s:%s",
		                  s->out_dir, errno == EEXIST ? " exists and is not a directory" : "");
	/* one run per directory; what a killed run left half written goes */
	if ((s->lock_fd = qt_dir_lock(s->out_dir, err)) < 0)
		return err->status;
	qt_sweep_stale(s->out_dir, NULL);
	char *path = qt_path_join(s->out_dir, "log.jsonl");
	rc = path ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (!rc && resumed)
		rc = trim_log(path, resumed, err);
	if (!rc && !(s->log = fopen(path, resumed ? "a" : "w")))
		rc = qt_err_set(err, qt_create_status(), "%s:", path);
	free(path);
	return rc;
}

int train_save_checkpoint(struct train_state *s, const struct lora_ckpt_state *ck,
                          struct qt_err *err)
{
	char name[64];
	int rc;
	/* the device's parameters and moments: the same files as a CPU run */
	if ((rc = train_sync_host(s, err)))
		return rc;
	snprintf(name, sizeof name, "checkpoint-%ld", ck->step);
	char *dir = qt_path_join(s->out_dir, name);
	rc = dir ? lora_ckpt_save(dir, &s->lora, &s->m1, &s->m2, ck, s->options, err)
	             : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	free(dir);
	return rc;
}

void train_progress(double *t_last, long k, long k0, long total, double loss, double el,
                    uint64_t tok, uint64_t in_tok)
{
	double now = qt_now();
	if (qt_verbosity < 3 || (now - *t_last < 0.25 && k != total))
		return;
	*t_last = now;
	double eta = k > k0 ? el / (double)(k - k0) * (double)(total - k) : 0;
	fprintf(stderr, "\r%s: step %ld/%ld loss %.4f %.0f tok/s (%.0f trained) ETA %ld:%02ld  ",
	        qt_progname, k, total, loss, el > 0 ? in_tok / el : 0.0, el > 0 ? tok / el : 0.0,
	        (long)eta / 60, (long)eta % 60);
}

long train_peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}
