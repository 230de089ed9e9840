/* qlora-tools: ISC license. */
/* Prompts JSONL -> predictions JSONL through the engine; see gen.h. */
#include "jobs/gen.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "common/rng.h"
#include "formats/adapter.h"
#include "formats/model_dir.h"
#include "formats/tokenizer.h"
#include "jobs/llama_load.h"
#include "kernels/device.h"
#include "kernels/gemm.h"
#include "kernels/matvec.h"
#include "kernels/model/llama.h"

struct prompt {
	struct tok_ids ids;
	char          *prompt;   /* the user text shown in the output */
	char          *labels;   /* NULL when the record has none */
};

struct job {
	const struct gen_opts   *o;
	struct model_dir         md;
	struct llama_model       m;
	struct adapter           lora;
	int                      has_lora;
	struct llama_model       dm;      /* the model on the device's backend (not the CPU's) */
	struct lora_table        dlora;   /* the adapter there */
	const struct llama_model *run_m;  /* &m on the CPU, &dm on a device */
	const struct lora_table  *run_lora; /* the adapter the model reads, or NULL */
	struct lora_table        view;    /* the CPU's view of lora */
	struct tokenizer        *tk;
	struct chat_template     tpl;
	uint32_t                 stop[64];
	int                      n_stop;
	struct prompt           *p;
	size_t                   n, cap;
};

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* One record -> prompt ids (+ shown prompt, labels). A record from a .txt input (is_text) is
 * a JSON string: the prompt, as one user turn. */
static int parse_record(struct job *j, const char *line, size_t len, int is_text,
                        const char *where, struct prompt *out, struct qt_err *err)
{
	const struct gen_opts *o = j->o;
	struct chat_conv conv = { 0 };
	int st = QT_OK;
	memset(out, 0, sizeof *out);
	if (is_text) {
		json_t *s = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (json_is_string(s))
			out->prompt = dup_n(json_string_value(s), json_string_length(s));
		json_decref(s);
		if (!out->prompt)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		chat_conv_add(&conv, CHAT_USER, out->prompt, strlen(out->prompt));
	} else if (o->prompt_key) {
		json_error_t je;
		json_t *rec = json_loadb(line, len, 0, &je);
		if (!rec || !json_is_object(rec)) {
			json_decref(rec);
			return qt_err_set(err, QT_EDATA, "%s: %s", where, rec ? "not a JSON object" : je.text);
		}
		json_t *pv = json_object_get(rec, o->prompt_key);
		json_t *lv = o->label_key ? json_object_get(rec, o->label_key) : NULL;
		if (!json_is_string(pv) || (lv && !json_is_string(lv))) {
			st = qt_err_set(err, QT_EDATA, "%s: key \"%s\" %s", where,
			                !json_is_string(pv) ? o->prompt_key : o->label_key,
			                (!json_is_string(pv) ? pv : lv) ? "is not a string" : "is missing");
			json_decref(rec);
			return st;
		}
		out->prompt = dup_n(json_string_value(pv), json_string_length(pv));
		if (lv)
			out->labels = dup_n(json_string_value(lv), json_string_length(lv));
		json_decref(rec);
		chat_conv_add(&conv, CHAT_USER, out->prompt, strlen(out->prompt));
	} else {
		struct chat_record_opts ro = { .format = CHAT_FORMAT_CHAT,
		                               .response_flag = "--label-key" };
		int empty = 0;
		struct qt_err e2;
		if (chat_record_parse(line, len, &ro, &conv, &empty, &e2) != QT_OK) {
			chat_conv_free(&conv);
			return qt_err_set(err, QT_EDATA, "%s: %s", where, e2.msg);
		}
		/* A trailing assistant turn is the reference answer, not part of the prompt. */
		if (conv.n && conv.msg[conv.n - 1].role == CHAT_ASSISTANT) {
			out->labels = dup_n(conv.msg[conv.n - 1].text, conv.msg[conv.n - 1].len);
			conv.n--;
		}
		for (size_t i = conv.n; i-- > 0;)
			if (conv.msg[i].role == CHAT_USER) {
				out->prompt = dup_n(conv.msg[i].text, conv.msg[i].len);
				break;
			}
		if (!out->prompt)
			out->prompt = dup_n("", 0);
	}
	if (conv.n == 0)
		st = qt_err_set(err, QT_EDATA, "%s: the record has no prompt", where);
	else if (chat_encode_prompt(j->tk, &j->tpl, &conv, &o->system, &out->ids, err) != QT_OK)
		st = err->status;
	int64_t ctx = j->md.config.max_position_embeddings;
	if (st == QT_OK && ctx > 0 && (int64_t)out->ids.n >= ctx)
		st = qt_err_set(err, QT_EDATA, "%s: the prompt has %zu tokens, the model's context is "
		                "%lld (max_position_embeddings): no room for a new token", where,
		                out->ids.n, (long long)ctx);
	for (size_t i = 0; st == QT_OK && i < out->ids.n; i++)
		if (out->ids.v[i] >= (uint32_t)j->m.cfg.V)
			st = qt_err_set(err, QT_EDATA, "%s: token id %u is outside the model's vocabulary "
			                "(%d): tokenizer and model do not match", where, out->ids.v[i],
			                j->m.cfg.V);
	chat_conv_free(&conv);
	return st;
}

static int read_prompts(struct job *j, struct qt_err *err)
{
	for (int i = 0; i < j->o->n_inputs; i++) {
		struct qt_jsonl *r = qt_jsonl_open(j->o->inputs[i], 0, err);
		if (!r)
			return err->status;
		const char *line;
		size_t len;
		int rc;
		qt_jsonl_records(r, QT_JSONL_ARRAYS | QT_JSONL_TXT);
		while ((rc = qt_jsonl_next(r, &line, &len, err)) == 1) {
			if (j->n == j->cap) {
				size_t cap = j->cap ? 2 * j->cap : 64;
				struct prompt *np = realloc(j->p, cap * sizeof *np);
				if (!np) {
					qt_jsonl_close(r);
					return qt_err_set(err, QT_ESOFTWARE, "out of memory");
				}
				j->p = np;
				j->cap = cap;
			}
			char where[512];
			snprintf(where, sizeof where, "%s:%llu", qt_jsonl_name(r), qt_jsonl_lineno(r));
			if (parse_record(j, line, len, qt_jsonl_is_text(r), where, &j->p[j->n], err) !=
			    QT_OK) {
				free(j->p[j->n].ids.v);
				free(j->p[j->n].prompt);
				free(j->p[j->n].labels);
				qt_jsonl_close(r);
				return err->status;
			}
			j->n++;
		}
		qt_jsonl_close(r);
		if (rc < 0)
			return err->status;
	}
	if (j->n == 0)
		return qt_err_set(err, QT_EDATA, "%s: no prompts", j->o->inputs[0]);
	return QT_OK;
}

static int is_stop(const struct job *j, uint32_t id)
{
	for (int i = 0; i < j->n_stop; i++)
		if (j->stop[i] == id)
			return 1;
	return 0;
}

/* Writes text decoded so far beyond *shown bytes, holding back an incomplete UTF-8 tail. */
static void stream_text(const struct job *j, const uint32_t *ids, size_t n, size_t *shown)
{
	char *s;
	size_t len;
	if (tokenizer_decode(j->tk, ids, n, 1, &s, &len, NULL) != QT_OK)
		return;
	if (!(len >= 3 && !memcmp(s + len - 3, "\xEF\xBF\xBD", 3)) && len > *shown) {
		fwrite(s + *shown, 1, len - *shown, stdout);
		fflush(stdout);
		*shown = len;
	}
	free(s);
}

/* Prefills prompt pr alone, then moves its keys and values into row b of the batch cache;
 * logits (V) of its last token. */
static int prefill(struct job *j, struct llama_cache *c, int b, const struct prompt *pr,
                   float *logits, struct qt_err *err)
{
	int T = (int)pr->ids.n, st;
	struct llama_cache one = { 0 };
	/* a prefix takes the cache's first slots */
	int S = lora_prefix_len(j->run_lora) + T;
	if ((st = llama_cache_init(&one, j->run_m, 1, S, err)) == QT_OK &&
	    (st = llama_cache_prefix(&one, j->run_lora, err)) == QT_OK &&
	    (st = llama_decode(j->run_m, j->run_lora, &one, (const int32_t *)pr->ids.v, 1, T, logits,
	                       err)) == QT_OK)
		st = llama_cache_put_row(c, b, &one, err);
	llama_cache_free(&one);
	return st;
}

/* Decodes prompts [p0, p0 + B) together and writes their records. */
static int run_batch(struct job *j, size_t p0, int B, struct qt_out *out, struct gen_stats *gs,
                     struct qt_err *err)
{
	const struct gen_opts *o = j->o;
	const struct llama_config *cf = &j->m.cfg;
	const struct lora_table *lora = j->run_lora;
	int maxp = 0;
	for (int b = 0; b < B; b++)
		maxp = (int)j->p[p0 + b].ids.n > maxp ? (int)j->p[p0 + b].ids.n : maxp;
	/* A row also stops when it fills the model's context (read_prompts left room for at least
	 * one new token); finished rows are still fed filler tokens, hence the cache length. */
	int64_t ctx = j->md.config.max_position_embeddings;
	int L = lora_prefix_len(lora) + maxp + o->max_new_tokens;
	struct llama_cache c = { 0 };
	float *logits = malloc((size_t)B * cf->V * sizeof(float));
	int32_t *next = malloc((size_t)B * sizeof(int32_t));
	uint32_t **gen = calloc((size_t)B, sizeof *gen);
	int *n_gen = calloc((size_t)B, sizeof(int)), *done = calloc((size_t)B, sizeof(int));
	struct qt_rng *rng = malloc((size_t)B * sizeof *rng);
	int st = QT_OK;
	if (!logits || !next || !gen || !n_gen || !done || !rng) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	if ((st = llama_cache_init(&c, j->run_m, B, L, err)) != QT_OK)
		goto out;
	for (int b = 0; b < B; b++) {
		const struct prompt *pr = &j->p[p0 + b];
		gen[b] = malloc((size_t)o->max_new_tokens * sizeof **gen + 1);
		qt_rng_seed(&rng[b], o->seed + p0 + (size_t)b);
		if (!gen[b]) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			goto out;
		}
		if ((st = prefill(j, &c, b, pr, logits + (size_t)b * cf->V, err)) != QT_OK)
			goto out;
		gs->n_prompt_tokens += (uint64_t)pr->ids.n;
	}
	size_t shown = 0;
	for (int step = 0; step < o->max_new_tokens; step++) {
		int active = 0;
		for (int b = 0; b < B; b++) {
			next[b] = (int32_t)j->stop[0];
			if (done[b])
				continue;
			const struct prompt *pr = &j->p[p0 + b];
			/* The repetition penalty sees the prompt and what was generated. */
			size_t nh = pr->ids.n + (size_t)n_gen[b];
			uint32_t *hist = malloc(nh * sizeof *hist);
			if (!hist) {
				st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
				goto out;
			}
			memcpy(hist, pr->ids.v, pr->ids.n * sizeof *hist);
			memcpy(hist + pr->ids.n, gen[b], (size_t)n_gen[b] * sizeof *hist);
			int id = sample_next(logits + (size_t)b * cf->V, cf->V, hist, nh, &o->sample,
			                     &rng[b]);
			free(hist);
			next[b] = id;
			if (is_stop(j, (uint32_t)id)) {
				done[b] = 1;
				continue;
			}
			gen[b][n_gen[b]++] = (uint32_t)id;
			if (o->stream && B == 1)
				stream_text(j, gen[b], (size_t)n_gen[b], &shown);
			if (ctx > 0 && (int64_t)pr->ids.n + n_gen[b] >= ctx)
				done[b] = 1;
			else
				active++;
		}
		if (!active || step + 1 == o->max_new_tokens)
			break;
		st = llama_decode(j->run_m, lora, &c, next, B, 1, logits, err);
		if (st != QT_OK)
			goto out;
	}
	if (o->stream && B == 1)
		fputc('\n', stdout);
	for (int b = 0; b < B; b++) {
		const struct prompt *pr = &j->p[p0 + b];
		char *text;
		size_t len;
		if ((st = tokenizer_decode(j->tk, gen[b], (size_t)n_gen[b], 1, &text, &len, err)))
			goto out;
		json_t *rec = json_object();
		json_object_set_new(rec, "prompt", json_string(pr->prompt));
		json_object_set_new(rec, "predict", json_stringn(text, len));
		json_object_set_new(rec, "labels", pr->labels ? json_string(pr->labels) : json_null());
		json_object_set_new(rec, "prompt_tokens", json_integer((json_int_t)pr->ids.n));
		json_object_set_new(rec, "new_tokens", json_integer(n_gen[b]));
		if (o->ids) {
			json_t *a = json_array();
			for (int i = 0; i < n_gen[b]; i++)
				json_array_append_new(a, json_integer(gen[b][i]));
			json_object_set_new(rec, "predict_ids", a);
		}
		char *s = json_dumps(rec, JSON_COMPACT);
		json_decref(rec);
		free(text);
		if (!o->stream && s && (fputs(s, out->fp) < 0 || fputc('\n', out->fp) < 0))
			st = qt_err_set(err, QT_EIO, "%s: write error:", o->output);
		free(s);
		gs->n_new_tokens += (uint64_t)n_gen[b];
		if (st)
			goto out;
	}
out:
	llama_cache_free(&c);
	if (gen)
		for (int b = 0; b < B; b++)
			free(gen[b]);
	free(gen);
	free(n_gen);
	free(done);
	free(rng);
	free(next);
	free(logits);
	return st;
}

static int setup(struct job *j, struct qt_err *err)
{
	const struct gen_opts *o = j->o;
	int st;
	if ((st = model_dir_open(&j->md, o->model_dir, MODEL_DIR_COMPUTE, err)) != QT_OK)
		return st;
	/* a BF16 file's vocabulary stays bf16 (half the memory, the same logits: decoding reads the
	 * head's bf16 rows either way) */
	if ((st = llama_load_opts(&j->m, &j->md, LLAMA_LOAD_BF16_VOCAB, err)) != QT_OK)
		return st;
	j->m.n_threads = o->threads;
	sgemm_set_threads(o->threads);
	if ((st = tokenizer_load(j->md.tokenizer_path, &j->tk, err)) != QT_OK)
		return st;
	if ((st = chat_template_load(j->md.tokenizer_config_path, o->template_, j->tk, &j->tpl,
	                             err)) != QT_OK)
		return st;
	if (o->adapter_dir) {
		struct adapter_dims dims = llama_adapter_dims(&j->m.cfg);
		if ((st = adapter_load(&j->lora, o->adapter_dir, &dims, err)) != QT_OK)
			return st;
		j->has_lora = 1;
	}
	/* Stop on the model's eos ids, the template's turn end, and what the user adds. */
	const struct hf_token_ids *eos = &j->md.config.eos;
	for (int i = 0; i < eos->n; i++)
		j->stop[j->n_stop++] = (uint32_t)eos->id[i];
	if (j->tpl.turn_end != CHAT_ID_NONE)
		j->stop[j->n_stop++] = j->tpl.turn_end;
	if (j->tpl.eos_id != CHAT_ID_NONE)
		j->stop[j->n_stop++] = j->tpl.eos_id;
	for (int i = 0; i < o->n_stop && j->n_stop < 64; i++)
		j->stop[j->n_stop++] = o->stop[i];
	if (j->n_stop == 0)
		return qt_err_set(err, QT_EDATA, "%s: no eos token: give --stop", o->model_dir);
	return QT_OK;
}

/* The device, once the inputs are accepted (device_select's notice when it falls back): on
 * the CPU the model reads the loaded weights; another backend gets copies of them and of the
 * adapter. */
/* --int8-activations: every NF4 linear that can take it decodes with int8 activations
 * (kernels/matvec.h's matvec_nf4_q8_forward); a model with none refuses the option. */
static int use_int8_act(struct job *j, struct qt_err *err)
{
	int n = 0;
	for (int l = 0; l < j->m.cfg.n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			struct frozen_linear *w = &j->m.layers[l].lin[k];
			if (w->nf4 && !w->w && matvec_nf4_q8_applies(w->C, w->blocksize))
				w->int8_act = 1, n++;
		}
	if (n == 0)
		return qt_err_set(err, QT_EUSAGE, "--int8-activations: %s has no NF4 weight it "
		                  "applies to (blocksize 64, columns a multiple of 64)",
		                  j->o->model_dir);
	qt_info(4, "int8 activations for %d NF4 linears", n);
	return QT_OK;
}

static int use_device(struct job *j, struct qt_err *err)
{
	int dev = device_select(j->o->device), st;
	if (dev < 0)
		return qt_err_set(err, QT_EUSAGE, "unknown device '%s'", j->o->device);
	const struct lora_table *lora = adapter_table(j->has_lora ? &j->lora : NULL, &j->view);
	const struct qt_backend *be = qt_backend_of(dev);
	j->run_m = &j->m;
	j->run_lora = lora;
	if (j->o->int8_act && be && !be->host)
		return qt_err_set(err, QT_EUSAGE, "--int8-activations: CPU only (the device is %s)",
		                  be->name);
	if (j->o->int8_act && (st = use_int8_act(j, err)) != QT_OK)
		return st;
	if (!be || be->host)
		return llama_bf16_rows(&j->m, err);
	if ((st = llama_backend_check(&j->m, lora, be, err)) != QT_OK)
		return st;
	qt_info(3, "generating on the GPU (%s)", be->name);
	if ((st = llama_model_upload(&j->dm, &j->m, be, err)) != QT_OK)
		return st;
	j->run_m = &j->dm;
	j->run_lora = NULL;
	if (lora) {
		if ((st = lora_table_upload(&j->dlora, lora, be, 0, err)) != QT_OK)
			return st;
		j->run_lora = &j->dlora;
	}
	return QT_OK;
}

int gen_run(const struct gen_opts *o, struct gen_stats *gs, struct qt_err *err)
{
	struct job j;
	memset(&j, 0, sizeof j);
	memset(gs, 0, sizeof *gs);
	j.o = o;
	double t0 = qt_now();
	struct qt_out out = { 0 };
	int st = setup(&j, err);
	if (st == QT_OK)
		st = read_prompts(&j, err);
	if (st == QT_OK) {
		/* the longest sequence a row can reach: its prompt and the new tokens, within the
		 * model's context */
		int64_t ctx = j.md.config.max_position_embeddings, longest = 0;
		for (size_t i = 0; i < j.n; i++) {
			int64_t L = (int64_t)j.p[i].ids.n + o->max_new_tokens;
			longest = L > longest ? L : longest;
		}
		if (ctx > 0 && longest > ctx)
			longest = ctx;
		st = hf_config_check_compute(&j.md.config, j.md.config_path, longest,
		                             "the longest prompt and --max-new-tokens", 0, err);
	}
	if (st == QT_OK && o->stream && j.n != 1)
		st = qt_err_set(err, QT_EUSAGE, "--stream needs exactly one prompt (got %zu)", j.n);
	if (st == QT_OK)
		st = use_device(&j, err);
	if (st == QT_OK)
		st = qt_out_open(&out, o->output, err);
	struct qt_progress pg;
	qt_progress_begin(&pg, "prompts", j.n);
	for (size_t p0 = 0; st == QT_OK && p0 < j.n; p0 += (size_t)o->batch) {
		int B = (int)(j.n - p0 < (size_t)o->batch ? j.n - p0 : (size_t)o->batch);
		st = run_batch(&j, p0, B, &out, gs, err);
		qt_progress_update(&pg, p0 + (size_t)B);
	}
	qt_progress_end(&pg);
	if (st == QT_OK)
		st = qt_out_commit(&out, err);
	else
		qt_out_abort(&out);
	gs->n_prompts = j.n;
	gs->seconds = qt_now() - t0;
	for (size_t i = 0; i < j.n; i++) {
		free(j.p[i].ids.v);
		free(j.p[i].prompt);
		free(j.p[i].labels);
	}
	free(j.p);
	if (j.dm.be) {
		lora_table_release(&j.dlora, j.dm.be);
		llama_free(&j.dm);
	}
	if (j.has_lora)
		adapter_free(&j.lora);
	chat_template_free(&j.tpl);
	if (j.tk)
		tokenizer_free(j.tk);
	llama_free(&j.m);
	model_dir_close(&j.md);
	return st;
}

int gen_check(const struct gen_opts *o, size_t *n_prompts, size_t *n_labels,
              struct qt_err *err)
{
	struct job j;
	memset(&j, 0, sizeof j);
	j.o = o;
	int st = model_dir_open(&j.md, o->model_dir, MODEL_DIR_NO_TENSOR_CHECK, err);
	if (st == QT_OK)
		st = tokenizer_load(j.md.tokenizer_path, &j.tk, err);
	if (st == QT_OK)
		st = chat_template_load(j.md.tokenizer_config_path, o->template_, j.tk, &j.tpl, err);
	j.m.cfg.V = (int)j.md.config.vocab_size; /* what parse_record checks ids against */
	if (st == QT_OK)
		st = read_prompts(&j, err);
	*n_prompts = j.n;
	*n_labels = 0;
	for (size_t i = 0; i < j.n; i++) {
		*n_labels += j.p[i].labels != NULL;
		free(j.p[i].ids.v);
		free(j.p[i].prompt);
		free(j.p[i].labels);
	}
	free(j.p);
	chat_template_free(&j.tpl);
	if (j.tk)
		tokenizer_free(j.tk);
	model_dir_close(&j.md);
	return st;
}
