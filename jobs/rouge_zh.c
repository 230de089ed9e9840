/* qlora-tools: ISC license. */
/*
 * rouge-zh driver: input reading and validation, threaded scoring, averaging, output. The
 * arithmetic is in metrics/chatglm.c (per sample) and common/pyfloat.c (averaging, number printing).
 */
#include "jobs/rouge_zh.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/jsonl.h"
#include "common/pool.h"
#include "common/progress.h"

struct sample {
	char              *pred, *label;  /* owned, NUL-terminated (may contain NULs) */
	size_t             np, nl;
	unsigned long long line;
	int                name;          /* index into set.names */
};

struct set {
	struct sample *s;
	size_t         n, cap;
	char         **names;             /* "file" or "archive:member" */
	int            n_names;
};

static void set_free(struct set *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->s[i].pred);
		free(st->s[i].label);
	}
	for (int i = 0; i < st->n_names; i++)
		free(st->names[i]);
	free(st->names);
	free(st->s);
}

static struct sample *set_add(struct set *st, const char *name)
{
	if (st->n_names == 0 || strcmp(st->names[st->n_names - 1], name)) {
		char **nn = realloc(st->names, (size_t)(st->n_names + 1) * sizeof *nn);
		char *d = strdup(name);
		if (!nn || !d) {
			free(d);
			if (nn)
				st->names = nn;
			return NULL;
		}
		st->names = nn;
		st->names[st->n_names++] = d;
	}
	if (st->n == st->cap) {
		size_t nc = st->cap ? st->cap * 2 : 1024;
		struct sample *p = realloc(st->s, nc * sizeof *p);
		if (!p)
			return NULL;
		st->s = p;
		st->cap = nc;
	}
	struct sample *s = &st->s[st->n++];
	memset(s, 0, sizeof *s);
	s->name = st->n_names - 1;
	return s;
}

static char *dup_n(const char *p, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = 0;
	}
	return d;
}

/* ---- input ---- */

static int get_text(json_t *obj, const char *key, const char *where, unsigned long long line,
                    char **out, size_t *n, struct qt_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return qt_err_set(err, QT_EDATA, "%s:%llu: no \"%s\" key", where, line, key);
	if (!json_is_string(v))
		return qt_err_set(err, QT_EDATA, "%s:%llu: \"%s\" is not a string", where, line, key);
	*n = json_string_length(v);
	*out = dup_n(json_string_value(v), *n);
	return *out ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "out of memory");
}

static int read_jsonl(const struct rouge_zh_opts *o, struct set *st, struct qt_err *err)
{
	struct qt_jsonl *r = qt_jsonl_open(o->input, 0, err);
	if (!r)
		return err->status;
	const char *line;
	size_t len;
	int rc = QT_OK, got;
	while ((got = qt_jsonl_next(r, &line, &len, err)) > 0) {
		const char *where = qt_jsonl_name(r);
		unsigned long long ln = qt_jsonl_lineno(r);
		json_error_t je;
		json_t *obj = json_loadb(line, len, JSON_ALLOW_NUL, &je);
		if (!obj || !json_is_object(obj)) {
			rc = obj ? qt_err_set(err, QT_EDATA, "%s:%llu: not a JSON object", where, ln)
			         : qt_err_set(err, QT_EDATA, "%s:%llu: invalid JSON: %s (column %d)",
			                      where, ln, je.text, je.column);
			json_decref(obj);
			break;
		}
		struct sample *s = set_add(st, where);
		if (!s) {
			json_decref(obj);
			rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			break;
		}
		s->line = ln;
		rc = get_text(obj, o->predict_key, where, ln, &s->pred, &s->np, err);
		if (!rc)
			rc = get_text(obj, o->label_key, where, ln, &s->label, &s->nl, err);
		json_decref(obj);
		if (rc)
			break;
	}
	if (got < 0)
		rc = err->status;
	qt_jsonl_close(r);
	return rc;
}

/* Lines of a text file: split at '\n', a '\r' before it dropped, no extra line after a final
 * '\n'. Checks UTF-8. Stores pointers into buf (which stays owned by the caller). */
static int split_lines(const char *path, char *buf, size_t len, char ***lines, size_t **lens,
                       size_t *n, struct qt_err *err)
{
	size_t cap = 0;
	*n = 0;
	*lines = NULL;
	*lens = NULL;
	for (size_t i = 0; i < len;) {
		char *nl = memchr(buf + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - buf) : len, next = nl ? e + 1 : len;
		if (nl && e > i && buf[e - 1] == '\r')
			e--;
		size_t bad;
		if (!qt_utf8_valid(buf + i, e - i, &bad))
			return qt_err_set(err, QT_EDATA, "%s:%zu: invalid UTF-8 at byte %zu", path,
			                  *n + 1, bad);
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			char **l = realloc(*lines, cap * sizeof *l);
			if (l)
				*lines = l;
			size_t *m = realloc(*lens, cap * sizeof *m);
			if (m)
				*lens = m;
			if (!l || !m)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		}
		(*lines)[*n] = buf + i;
		(*lens)[*n] = e - i;
		(*n)++;
		i = next;
	}
	return QT_OK;
}

static int read_two(const struct rouge_zh_opts *o, struct set *st, struct qt_err *err)
{
	char *hb = NULL, *rb = NULL, **hl = NULL, **rl = NULL;
	size_t hn, rn, *hs = NULL, *rs = NULL, nh = 0, nr = 0;
	int rc = qt_read_file(o->hyp, &hb, &hn, err);
	if (!rc)
		rc = qt_read_file(o->ref, &rb, &rn, err);
	if (!rc)
		rc = split_lines(o->hyp, hb, hn, &hl, &hs, &nh, err);
	if (!rc)
		rc = split_lines(o->ref, rb, rn, &rl, &rs, &nr, err);
	if (!rc && nh != nr)
		rc = qt_err_set(err, QT_EDATA, "%s has %zu lines but %s has %zu", o->hyp, nh, o->ref, nr);
	for (size_t i = 0; !rc && i < nh; i++) {
		struct sample *s = set_add(st, o->hyp);
		if (!s || !(s->pred = dup_n(hl[i], hs[i])) || !(s->label = dup_n(rl[i], rs[i]))) {
			rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			break;
		}
		s->np = hs[i];
		s->nl = rs[i];
		s->line = i + 1;
	}
	free(hb);
	free(rb);
	free(hl);
	free(rl);
	free(hs);
	free(rs);
	return rc;
}

/* ---- scoring ---- */

struct job {
	const struct jieba      *j;
	const struct set        *st;
	struct chatglm_sample   *res;
	struct chatglm_scratch  *sc;     /* one per worker */
	enum chatglm_empty       empty;
	atomic_size_t            done;
	struct qt_progress      *pr;
};

static void score_one(void *ctx, size_t i, int worker)
{
	struct job *jb = ctx;
	const struct sample *s = &jb->st->s[i];
	chatglm_score(jb->j, jb->empty, s->pred, s->np, s->label, s->nl, &jb->sc[worker], &jb->res[i]);
	size_t d = atomic_fetch_add(&jb->done, 1) + 1;
	if (worker == 0 && jb->pr)
		qt_progress_update(jb->pr, d);
}

/* ---- output ---- */

static void put_num(FILE *fp, const char *key, double v, const char *sep)
{
	char b[40];
	fprintf(fp, "\"%s\": %s%s", key, py_float_repr(v, b), sep);
}

static void write_per_sample(FILE *fp, const struct set *st, const struct chatglm_sample *res)
{
	for (size_t i = 0; i < st->n; i++) {
		fprintf(fp, "{\"line\": %llu, ", st->s[i].line);
		put_num(fp, "rouge-1", res[i].rouge1, ", ");
		put_num(fp, "rouge-2", res[i].rouge2, ", ");
		put_num(fp, "rouge-l", res[i].rougel, ", ");
		put_num(fp, "bleu-4", res[i].bleu4, "}\n");
	}
}

/*
 * Output that is atomic for regular files (common/io.h) but written in place when the path
 * already exists as something else (a symlink such as /dev/stdout, a device, a FIFO): renaming a temporary file over a
 * device node would replace it.
 */
struct out {
	struct qt_out q;
	FILE         *direct;
	const char   *path;
};

static int out_open(struct out *o, const char *path, struct qt_err *err)
{
	struct stat sb;
	memset(o, 0, sizeof *o);
	o->path = path;
	if (strcmp(path, "-") && lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		o->direct = fopen(path, "w");
		return o->direct ? QT_OK : qt_err_set(err, qt_create_status(), "%s:", path);
	}
	return qt_out_open(&o->q, path, err);
}

static FILE *out_fp(struct out *o) { return o->direct ? o->direct : o->q.fp; }

static int out_commit(struct out *o, struct qt_err *err)
{
	if (!o->direct)
		return qt_out_commit(&o->q, err);
	int bad = ferror(o->direct);
	bad |= fclose(o->direct) != 0;
	o->direct = NULL;
	return bad ? qt_err_set(err, QT_EIO, "%s: write error:", o->path) : QT_OK;
}

static void out_abort(struct out *o)
{
	if (o->direct)
		fclose(o->direct);
	o->direct = NULL;
	qt_out_abort(&o->q);
}

static int fail_message(const struct rouge_zh_opts *o, const struct set *st, size_t i, int fail,
                        struct qt_err *err)
{
	const struct sample *s = &st->s[i];
	const char *where = o->input ? st->names[s->name] : fail == CHATGLM_FAIL_HYP_EMPTY ? o->hyp
	                                                                                   : o->ref;
	if (fail == CHATGLM_FAIL_NOMEM)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	return qt_err_set(err, QT_EDATA,
	                  "%s:%llu: %s is empty (rouge_chinese: \"%s is empty.\"; "
	                  "--empty zero scores it 0)",
	                  where, s->line, fail == CHATGLM_FAIL_HYP_EMPTY ? "prediction" : "label",
	                  fail == CHATGLM_FAIL_HYP_EMPTY ? "Hypothesis" : "Reference");
}

int rouge_zh_run(const struct rouge_zh_opts *o, struct qt_err *err)
{
	struct set st = { 0 };
	struct jieba *j = NULL;
	struct chatglm_sample *res = NULL;
	struct chatglm_scratch *sc = NULL;
	double *col = NULL;
	int nt = o->threads > 0 ? o->threads : qt_pool_default_threads();
	double t0 = qt_now();
	int rc = o->input ? read_jsonl(o, &st, err) : read_two(o, &st, err);
	if (rc)
		goto out;
	if (st.n == 0) {
		rc = qt_err_set(err, QT_EDATA, "%s: no samples", o->input ? o->input : o->hyp);
		goto out;
	}
	double t1 = qt_now();
	if (!o->char_mode) {
		char *hmm = o->jieba_dir ? qt_path_join(o->jieba_dir, "finalseg") : NULL;
		char *dict = !o->dict && o->jieba_dir ? qt_path_join(o->jieba_dir, "dict.txt") : NULL;
		j = jieba_load(o->dict ? o->dict : dict, hmm, err);
		free(hmm);
		free(dict);
		if (!j) {
			rc = err->status;
			goto out;
		}
	}
	double t2 = qt_now();
	res = calloc(st.n, sizeof *res);
	sc = calloc((size_t)nt, sizeof *sc);
	col = malloc(st.n * sizeof *col);
	if (!res || !sc || !col) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	struct qt_progress pr;
	qt_progress_begin(&pr, "samples", st.n);
	struct job jb = { .j = j, .st = &st, .res = res, .sc = sc, .empty = o->empty, .pr = &pr };
	atomic_init(&jb.done, 0);
	qt_pool_for(nt, st.n, score_one, &jb);
	qt_progress_end(&pr);
	for (int t = 0; t < nt; t++)
		chatglm_scratch_free(&sc[t]);
	double t3 = qt_now();
	for (size_t i = 0; i < st.n; i++)
		if (res[i].fail) {
			rc = fail_message(o, &st, i, res[i].fail, err);
			goto out;
		}
	double mean[4];
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < st.n; i++)
			col[i] = k == 0 ? res[i].rouge1 : k == 1 ? res[i].rouge2
			       : k == 2 ? res[i].rougel : res[i].bleu4;
		mean[k] = py_mean(col, st.n, o->mean);
	}
	/* both outputs are complete in their temporary files before either is renamed */
	struct out ps = { 0 }, out = { 0 };
	if (o->per_sample && (rc = out_open(&ps, o->per_sample, err)))
		goto out;
	if ((rc = out_open(&out, o->output, err))) {
		out_abort(&ps);
		goto out;
	}
	if (o->per_sample)
		write_per_sample(out_fp(&ps), &st, res);
	FILE *fp = out_fp(&out);
	fputc('{', fp);
	put_num(fp, "rouge-1", mean[0], ", ");
	put_num(fp, "rouge-2", mean[1], ", ");
	put_num(fp, "rouge-l", mean[2], ", ");
	put_num(fp, "bleu-4", mean[3], ", ");
	fprintf(fp, "\"n\": %zu}\n", st.n);
	if (o->per_sample && !ps.direct && !out.direct) {
		/* both or neither: a failure on the second leaves the first as it was */
		struct qt_out both[2] = { ps.q, out.q };
		if ((rc = qt_out_commit_all(both, 2, err)))
			goto out;
	} else {
		if (o->per_sample && (rc = out_commit(&ps, err))) {
			out_abort(&out);
			goto out;
		}
		if ((rc = out_commit(&out, err)))
			goto out;
	}
	qt_info(3, "%zu samples: read %.3f s, dictionary %.3f s, scoring %.3f s (%d threads)",
	        st.n, t1 - t0, t2 - t1, t3 - t2, nt);
out:
	free(col);
	free(sc);
	free(res);
	jieba_free(j);
	set_free(&st);
	return rc;
}
