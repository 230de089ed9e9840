/* qlora-tools: ISC license. */
/*
 * tok-chatml's engine: JSONL inputs to one .tok stream. Lines are read on the calling thread
 * into a batch; the batch's records are parsed, rendered, encoded and truncated on a thread
 * pool in chunks (each chunk owns its output arena); then the records are written in input
 * order. A bad record is reported (or skipped) at its place in that order, so the first error
 * message is the same at any thread count.
 */
#include "jobs/tok_chatml.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/jsonl.h"
#include "common/pool.h"
#include "common/progress.h"
#include "formats/tok.h"

#define BATCH_RECORDS 16384          /* records per batch */
#define BATCH_BYTES   ((size_t)32 << 20)
#define CHUNK_RECORDS 64             /* records per pool task */
#define MAX_WARNINGS  10             /* skipped records reported one by one */

enum rec_state { REC_OK, REC_BAD, REC_EMPTY, REC_NOTRAIN };

struct rec {
	size_t             off, len;  /* the line, in batch.text */
	const char        *name;      /* input name (owned by run.names) */
	unsigned long long lineno;
	int                state;     /* enum rec_state */
	int                status;    /* REC_BAD: the status (QT_EDATA, or QT_ESOFTWARE) */
	int                is_text;   /* from a .txt input: a text document whatever --format */
	int                cut;
	size_t             out;       /* first token in its chunk's arena */
	uint32_t           n;
	char              *msg;       /* REC_BAD: "name:line: reason" (malloc'd) */
};

struct chunk {
	uint32_t *ids;
	uint8_t  *mask;
	size_t    n, cap;
};

struct worker {
	struct chat_conv    conv;
	struct chat_render  r;
	struct chat_encoded e;
};

struct run {
	const struct chat_run_opts *o;
	const struct tokenizer     *tk;
	struct chat_template        t;
	char       *text;             /* the batch's lines, back to back */
	size_t      text_n, text_cap;
	struct rec *recs;
	size_t      n, cap;
	struct chunk  chunks[BATCH_RECORDS / CHUNK_RECORDS];
	struct worker *workers;
	int         n_workers;
	char      **names;
	size_t      n_names;
};

static char *fmt_msg(const char *name, unsigned long long line, const char *why)
{
	size_t n = strlen(name) + strlen(why) + 32;
	char *m = malloc(n);
	if (m)
		snprintf(m, n, "%s:%llu: %s", name, line, why);
	return m;
}

/* Parses, renders, encodes and truncates one record into chunk c. */
static void process(struct run *run, struct worker *w, struct rec *rc, struct chunk *c)
{
	const struct chat_run_opts *o = run->o;
	struct qt_err err = { 0 };
	int empty = 0;
	struct chat_record_opts text = { .format = CHAT_FORMAT_TEXT };
	int st = chat_record_parse(run->text + rc->off, rc->len, rc->is_text ? &text : &o->rec,
	                           &w->conv, &empty, &err);
	if (st == QT_OK && empty) {
		rc->state = REC_EMPTY;
		goto out;
	}
	if (st == QT_OK)
		st = chat_render(&run->t, &w->conv, &o->system, o->train, 0, &w->r, &err);
	if (st == QT_OK)
		st = chat_encode(run->tk, &w->r, &w->e, &err);
	if (st != QT_OK) {
		rc->state = REC_BAD;
		rc->status = st;
		rc->msg = fmt_msg(rc->name, rc->lineno, err.msg);
		goto out;
	}
	enum chat_trunc tr = chat_truncate(&w->r, &w->e, &o->limits);
	if (tr == CHAT_DROP) {
		rc->state = REC_NOTRAIN;
		goto out;
	}
	size_t n = w->e.ids.n;
	if (c->n + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		while (cap < c->n + n)
			cap *= 2;
		uint32_t *ni = realloc(c->ids, cap * sizeof *ni);
		if (ni)
			c->ids = ni;
		uint8_t *nm = realloc(c->mask, cap);
		if (nm)
			c->mask = nm;
		if (!ni || !nm) {
			rc->state = REC_BAD;
			rc->status = QT_ESOFTWARE;
			rc->msg = fmt_msg(rc->name, rc->lineno, "out of memory");
			goto out;
		}
		c->cap = cap;
	}
	memcpy(c->ids + c->n, w->e.ids.v, n * sizeof *c->ids);
	memcpy(c->mask + c->n, w->e.mask, n);
	rc->out = c->n;
	rc->n = (uint32_t)n;
	rc->cut = tr == CHAT_CUT;
	rc->state = REC_OK;
	c->n += n;
out:
	chat_conv_reset(&w->conv);
}

static void process_chunk(void *ctx, size_t ci, int worker)
{
	struct run *run = ctx;
	struct chunk *c = &run->chunks[ci];
	c->n = 0;
	size_t end = (ci + 1) * CHUNK_RECORDS < run->n ? (ci + 1) * CHUNK_RECORDS : run->n;
	for (size_t i = ci * CHUNK_RECORDS; i < end; i++)
		if (run->recs[i].state != REC_BAD)
			process(run, &run->workers[worker], &run->recs[i], c);
}

static struct rec *new_rec(struct run *run, const char *name, unsigned long long lineno)
{
	if (run->n == run->cap) {
		size_t cap = run->cap ? 2 * run->cap : 1024;
		struct rec *r = realloc(run->recs, cap * sizeof *r);
		if (!r)
			return NULL;
		run->recs = r;
		run->cap = cap;
	}
	/* Names change only between inputs and archive members: keep one copy of each. */
	if (!run->n_names || strcmp(run->names[run->n_names - 1], name) != 0) {
		char **nn = realloc(run->names, (run->n_names + 1) * sizeof *nn);
		if (!nn)
			return NULL;
		run->names = nn;
		if (!(run->names[run->n_names] = strdup(name)))
			return NULL;
		run->n_names++;
	}
	struct rec *r = &run->recs[run->n++];
	memset(r, 0, sizeof *r);
	r->name = run->names[run->n_names - 1];
	r->lineno = lineno;
	return r;
}

/* Encodes the batch and writes (or reports) its records in order. */
static int flush_batch(struct run *run, struct tok_writer *w, struct chat_run_stats *s,
                       struct qt_err *err)
{
	size_t n_chunks = (run->n + CHUNK_RECORDS - 1) / CHUNK_RECORDS;
	qt_pool_for(run->n_workers, n_chunks, process_chunk, run);
	int st = QT_OK;
	for (size_t i = 0; i < run->n; i++) {
		struct rec *r = &run->recs[i];
		if (st != QT_OK) {
			free(r->msg);
			continue;
		}
		switch (r->state) {
		case REC_BAD:
			if (!run->o->skip_bad || r->status != QT_EDATA) {
				st = qt_err_set(err, r->status, "%s", r->msg ? r->msg : "out of memory");
			} else {
				if (run->o->warn && s->n_bad < MAX_WARNINGS)
					run->o->warn(r->msg ? r->msg : "bad record");
				if (run->o->warn && s->n_bad == MAX_WARNINGS)
					run->o->warn("further bad records are counted, not shown");
				s->n_bad++;
			}
			free(r->msg);
			break;
		case REC_EMPTY:
		case REC_NOTRAIN:
			s->n_dropped++;
			break;
		default: {
			struct chunk *c = &run->chunks[i / CHUNK_RECORDS];
			st = tok_writer_put(w, c->ids + r->out, c->mask + r->out, r->n, err);
			s->n_written++;
			s->n_truncated += (uint64_t)r->cut;
			s->n_tokens += r->n;
			for (uint32_t k = 0; k < r->n; k++)
				s->n_trained += c->mask[r->out + k];
		}
		}
	}
	run->n = 0;
	run->text_n = 0;
	return st;
}

/* Reads one input into batches. */
static int read_input(struct run *run, const char *path, struct tok_writer *w,
                      struct chat_run_stats *s, struct qt_progress *pr, struct qt_err *err)
{
	struct qt_jsonl *j = qt_jsonl_open(path, 0, err);
	if (!j)
		return err->status;
	qt_jsonl_records(j, QT_JSONL_ARRAYS | QT_JSONL_TXT |
	                    (run->o->paragraphs ? QT_JSONL_PARAGRAPHS : 0));
	int st = QT_OK;
	for (;;) {
		const char *line;
		size_t len;
		struct qt_err lerr;
		int rc = qt_jsonl_next(j, &line, &len, &lerr);
		if (rc == 0)
			break;
		if (rc < 0 && lerr.status != QT_EDATA) {
			*err = lerr;
			st = lerr.status;
			break;
		}
		struct rec *r = new_rec(run, qt_jsonl_name(j), qt_jsonl_lineno(j));
		if (!r) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			break;
		}
		s->n_read++;
		r->is_text = qt_jsonl_is_text(j);
		if (rc < 0) {
			r->state = REC_BAD;
			r->status = QT_EDATA;
			r->msg = strdup(lerr.msg);
		} else {
			if (run->text_n + len + 1 > run->text_cap) {
				size_t cap = run->text_cap ? run->text_cap : (size_t)1 << 20;
				while (cap < run->text_n + len + 1)
					cap *= 2;
				char *nt = realloc(run->text, cap);
				if (!nt) {
					st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
					break;
				}
				run->text = nt;
				run->text_cap = cap;
			}
			memcpy(run->text + run->text_n, line, len);
			run->text[run->text_n + len] = '\0';
			r->off = run->text_n;
			r->len = len;
			run->text_n += len + 1;
		}
		if (run->n == BATCH_RECORDS || run->text_n >= BATCH_BYTES) {
			if ((st = flush_batch(run, w, s, err)) != QT_OK)
				break;
			qt_progress_update(pr, s->n_read);
		}
	}
	qt_jsonl_close(j);
	return st;
}

static int run_all(struct run *run, struct chat_run_stats *s, struct qt_err *err)
{
	const struct chat_run_opts *o = run->o;
	for (size_t i = 0; i < o->n_inputs; i++)
		if (strcmp(o->inputs[i], "-") != 0 && access(o->inputs[i], R_OK) != 0)
			return qt_err_set(err, QT_ENOINPUT, "%s:", o->inputs[i]);
	struct tok_header h = {
		.tokenizer_fingerprint = tokenizer_fingerprint(run->tk),
		.vocab_size = tokenizer_vocab_size(run->tk),
		.eos_id = run->t.eos_id,
		.pad_id = run->t.pad_id,
	};
	struct qt_out out;
	int st = qt_out_open(&out, o->output, err);
	if (st != QT_OK)
		return st;
	struct tok_writer w;
	st = tok_writer_open(&w, out.fp, o->output, &h, err);
	struct qt_progress pr;
	qt_progress_begin(&pr, "records", 0);
	for (size_t i = 0; i < o->n_inputs && st == QT_OK; i++)
		st = read_input(run, o->inputs[i], &w, s, &pr, err);
	if (st == QT_OK)
		st = flush_batch(run, &w, s, err);
	else
		for (size_t i = 0; i < run->n; i++)
			free(run->recs[i].msg);
	qt_progress_end(&pr);
	if (st == QT_OK)
		st = tok_writer_finish(&w, err);
	else
		tok_writer_free(&w);
	if (st == QT_OK)
		return qt_out_commit(&out, err);
	qt_out_abort(&out);
	return st;
}

int chat_run(const struct chat_run_opts *o, struct chat_run_stats *s, struct qt_err *err)
{
	memset(s, 0, sizeof *s);
	struct run *run = calloc(1, sizeof *run);
	if (!run)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	run->o = o;
	json_object_seed(0); /* before any thread parses JSON */
	struct tokenizer *tk = NULL;
	/* -t DIR: a model directory means its tokenizer.json */
	char *tk_path = tokenizer_path_in_dir(o->tokenizer);
	if (!tk_path) {
		free(run);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	int st = tokenizer_load(tk_path, &tk, err);
	char *cfg = NULL;
	if (st == QT_OK && !o->config) {
		char *dir = strdup(tk_path), *slash = strrchr(dir, '/');
		if (slash)
			slash[1] = '\0';
		cfg = qt_path_join(slash ? dir : "", "tokenizer_config.json");
		free(dir);
		if (access(cfg, F_OK) != 0) {
			if (o->warn && o->rec.format == CHAT_FORMAT_CHAT)
				o->warn("no tokenizer_config.json beside the tokenizer: plain ChatML, no "
				        "default system prompt");
			free(cfg);
			cfg = NULL;
		}
	}
	run->tk = tk;
	if (st == QT_OK)
		st = chat_template_load(o->config ? o->config : cfg, o->template_, tk, &run->t, err);
	if (st == QT_OK && run->t.builtin && !o->template_ && (o->config || cfg) && o->warn &&
	    o->rec.format == CHAT_FORMAT_CHAT)
		o->warn("the tokenizer configuration has no chat_template: plain ChatML, no default "
		        "system prompt");
	if (st == QT_OK && o->rec.format == CHAT_FORMAT_CHAT && run->t.builtin &&
	    run->t.im_start == CHAT_ID_NONE)
		st = qt_err_set(err, QT_EDATA, "%s: no special tokens <|im_start|> and <|im_end|>, "
		                "which ChatML needs", tk_path);
	if (st == QT_OK && o->rec.format == CHAT_FORMAT_TEXT && run->t.eos_id == CHAT_ID_NONE) {
		if (o->config || cfg)
			st = qt_err_set(err, QT_EDATA, "%s: no eos_token that the tokenizer knows; "
			                "--format text appends one to every document",
			                o->config ? o->config : cfg);
		else
			st = qt_err_set(err, QT_EDATA, "%s: no tokenizer_config.json beside it, so no "
			                "eos token, which --format text appends to every document (use "
			                "--chat-config)", tk_path);
	}
	free(cfg);
	free(tk_path);
	if (st == QT_OK) {
		run->n_workers = o->threads > 0 ? o->threads : qt_pool_default_threads();
		run->workers = calloc((size_t)run->n_workers, sizeof *run->workers);
		st = run->workers ? run_all(run, s, err)
		                  : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	for (int i = 0; run->workers && i < run->n_workers; i++) {
		chat_conv_free(&run->workers[i].conv);
		chat_render_free(&run->workers[i].r);
		chat_encoded_free(&run->workers[i].e);
	}
	for (size_t i = 0; i < sizeof run->chunks / sizeof run->chunks[0]; i++) {
		free(run->chunks[i].ids);
		free(run->chunks[i].mask);
	}
	for (size_t i = 0; i < run->n_names; i++)
		free(run->names[i]);
	free(run->names);
	free(run->workers);
	free(run->recs);
	free(run->text);
	chat_template_free(&run->t);
	if (tk)
		tokenizer_free(tk);
	free(run);
	return st;
}
