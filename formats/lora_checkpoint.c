/* qlora-tools: ISC license. */
/* lora-train checkpoint directories; see lora_checkpoint.h and lora-checkpoint(5). */
#include "formats/lora_checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/crashpoint.h"
#include "common/hash.h"
#include "common/io.h"
#include "formats/safetensors.h"

/* the last one only with a projection MLP (prefix tuning) */
static const char *const ckpt_files[] = { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME,
                                          LORA_CKPT_OPTIM_NAME, ADAPTER_PREFIX_MLP_NAME };
enum { N_CKPT_FILES = 3 };

static void tensor_key(char *key, size_t n, const struct adapter_dims *d, int l, int m, int ab,
                       const char *suffix)
{
	snprintf(key, n, ADAPTER_KEY_PREFIX "model.layers.%d.%s.%s.lora_%c.weight%s", l,
	         adapter_module_block[m], adapter_module_name_of(d, m), ab ? 'B' : 'A', suffix);
}

/* optimizer.safetensors: both moments of every adapted tensor, F32, the tensor's shape. */
static int save_moments(const char *path, const struct adapter *m1, const struct adapter *m2,
                        long step, struct qt_err *err)
{
	size_t cap = (size_t)m1->dims.n_layers * ADAPTER_N_MODULES * 4 + 2 * ADAPTER_MLP_N + 2, n = 0;
	struct st_spec *specs = calloc(cap + 1, sizeof *specs);
	char *names = malloc((cap + 1) * 192);
	int st;
	if (!specs || !names) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	for (int l = 0; l < m1->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p1 = adapter_at(m1, l, m), *p2 = adapter_at(m2, l, m);
			if (!p1->r)
				continue;
			for (int k = 0; k < 4; k++, n++) {
				int ab = k & 1;
				const struct lora_pair *p = k < 2 ? p1 : p2;
				char *key = names + n * 192;
				tensor_key(key, 192, &m1->dims, l, m, ab, k < 2 ? ".exp_avg" : ".exp_avg_sq");
				specs[n] = (struct st_spec){ .name = key, .dtype = QT_DTYPE_F32, .n_dims = 2,
				                             .data = ab ? p->B : p->A };
				specs[n].shape[0] = ab ? p->out : p->r;
				specs[n].shape[1] = ab ? p->r : p->in;
			}
		}
	for (int k = 0; k < 2 * ADAPTER_MLP_N && m1->mlp.emb; k++, n++) {
		char *key = names + n * 192;
		int64_t sh[2];
		float *t = adapter_mlp_tensor(k % 2 ? &m2->mlp : &m1->mlp, k / 2, sh);
		snprintf(key, 192, "%s%s", adapter_mlp_names[k / 2], k % 2 ? ".exp_avg_sq" : ".exp_avg");
		specs[n] = (struct st_spec){ .name = key, .dtype = QT_DTYPE_F32, .data = t,
		                             .n_dims = sh[1] ? 2 : 1 };
		specs[n].shape[0] = sh[0];
		specs[n].shape[1] = sh[1];
	}
	for (int k = 0; k < 2 && m1->prefix && !m1->mlp.emb; k++, n++) {
		char *key = names + n * 192;
		snprintf(key, 192, "prompt_embeddings%s", k ? ".exp_avg_sq" : ".exp_avg");
		specs[n] = (struct st_spec){ .name = key, .dtype = QT_DTYPE_F32, .n_dims = 2,
		                             .data = k ? m2->prefix : m1->prefix };
		specs[n].shape[0] = m1->prefix_len;
		specs[n].shape[1] = adapter_prefix_width(&m1->dims);
	}
	char sbuf[32];
	snprintf(sbuf, sizeof sbuf, "%ld", step);
	struct st_kv meta[2] = { { "format", "pt" }, { "step", sbuf } };
	st = st_write_file(path, specs, n, meta, 2, err);
out:
	free(specs);
	free(names);
	return st;
}

static int write_text(const char *path, const char *text, struct qt_err *err)
{
	struct qt_out o = { 0 };
	int st = qt_out_open(&o, path, err);
	if (st)
		return st;
	if ((st = qt_write(o.fp, text, strlen(text), path, err))) {
		qt_out_abort(&o);
		return st;
	}
	return qt_out_commit(&o, err);
}

int lora_ckpt_save(const char *dir, const struct adapter *lora, const struct adapter *m1,
                   const struct adapter *m2, const struct lora_ckpt_state *s,
                   const char *options_json, struct qt_err *err)
{
	json_error_t je;
	json_t *opts = json_loads(options_json, 0, &je);
	if (!opts)
		return qt_err_set(err, QT_ESOFTWARE, "checkpoint options: %s", je.text);
	char *tmp = qt_dir_begin(dir, LORA_CKPT_STATE_NAME, err), *path = NULL, *text = NULL;
	json_t *root = NULL, *files = NULL;
	int st;
	if (!tmp) {
		json_decref(opts);
		return err ? err->status : QT_ECANTCREAT;
	}
	/* The adapter at the top (a PEFT directory of its own), then the moments. */
	if ((st = adapter_save(lora, tmp, QT_DTYPE_F32, err)))
		goto fail;
	qt_crashpoint("checkpoint-moments");
	path = qt_path_join(tmp, LORA_CKPT_OPTIM_NAME);
	if (!path) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	if ((st = save_moments(path, m1, m2, s->step, err)))
		goto fail;
	files = json_object();
	for (int i = 0; i < N_CKPT_FILES + !!lora->mlp.emb; i++) {
		free(path);
		path = qt_path_join(tmp, ckpt_files[i]);
		uint64_t h;
		if (!path) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			goto fail;
		}
		if ((st = qt_xxh3_file(path, &h, err)))
			goto fail;
		char hex[17];
		snprintf(hex, sizeof hex, "%016" PRIx64, h);
		json_object_set_new(files, ckpt_files[i], json_string(hex));
	}
	char seed[24];
	snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
	root = json_pack("{s:s, s:i, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:{s:s}, s:I, s:I, s:f, "
	                 "s:O, s:O}",
	                 "format", LORA_CKPT_FORMAT, "version", LORA_CKPT_VERSION,
	                 "step", (json_int_t)s->step, "total_steps", (json_int_t)s->total_steps,
	                 "data", "blocks_done", (json_int_t)s->blocks_done,
	                 "n_blocks", (json_int_t)s->n_blocks,
	                 "epoch", (json_int_t)(s->n_blocks ? s->blocks_done / s->n_blocks : 0),
	                 "index", (json_int_t)(s->n_blocks ? s->blocks_done % s->n_blocks : 0),
	                 "rng", "seed", seed,
	                 "tokens", (json_int_t)s->tokens, "input_tokens", (json_int_t)s->input_tokens,
	                 "seconds", s->seconds, "options", opts, "files", files);
	text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))
	            : NULL;
	free(path);
	path = qt_path_join(tmp, LORA_CKPT_STATE_NAME);
	if (!text || !path) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	size_t tl = strlen(text);
	char *nl = realloc(text, tl + 2);
	if (!nl) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	text = nl;
	memcpy(text + tl, "\n", 2);
	/* trainer_state.json last: a directory with it is complete. */
	if ((st = write_text(path, text, err)) || (st = qt_dir_commit(tmp, dir, err)))
		goto fail;
	free(tmp), free(path), free(text);
	json_decref(root), json_decref(files), json_decref(opts);
	return QT_OK;
fail:
	qt_dir_abort(tmp);
	free(tmp), free(path), free(text);
	json_decref(root), json_decref(files), json_decref(opts);
	return st;
}

static int has_state(const char *dir)
{
	char *p = qt_path_join(dir, LORA_CKPT_STATE_NAME);
	struct stat sb;
	int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
	free(p);
	return ok;
}

int lora_ckpt_find(const char *path, char **dir, struct qt_err *err)
{
	*dir = NULL;
	if (has_state(path)) {
		*dir = strdup(path);
		return *dir ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	DIR *d = opendir(path);
	if (!d)
		return qt_err_set(err, QT_ENOINPUT, "%s:", path);
	long best = -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		if (strncmp(e->d_name, "checkpoint-", 11) != 0 || !e->d_name[11])
			continue;
		long n = strtol(e->d_name + 11, &end, 10);
		if (*end || n <= best)
			continue;
		char *sub = qt_path_join(path, e->d_name);
		if (sub && has_state(sub)) {
			best = n;
			free(*dir);
			*dir = sub;
		} else {
			free(sub);
		}
	}
	closedir(d);
	if (best < 0)
		return qt_err_set(err, QT_ENOINPUT, "%s: no checkpoint-N directory with %s", path,
		                  LORA_CKPT_STATE_NAME);
	return QT_OK;
}

/* "was X, now Y" for a differing option. */
static int option_differs(const char *sp, const char *key, json_t *was, json_t *now,
                          struct qt_err *err)
{
	char *a = was ? json_dumps(was, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
	char *b = now ? json_dumps(now, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
	int st = qt_err_set(err, QT_EDATA, "%s: cannot resume: option %s differs (checkpoint %s, "
	                    "now %s)", sp, key, a ? a : "absent", b ? b : "absent");
	free(a);
	free(b);
	return st;
}

static int load_moments(const char *path, struct adapter *m1, struct adapter *m2,
                        struct qt_err *err)
{
	struct st_file f;
	int st = st_open(&f, path, err);
	if (st)
		return st == QT_ENOINPUT ? QT_EDATA : st;
	for (int l = 0; l < m1->dims.n_layers && !st; l++)
		for (int m = 0; m < ADAPTER_N_MODULES && !st; m++) {
			if (!adapter_at(m1, l, m)->r)
				continue;
			for (int k = 0; k < 4 && !st; k++) {
				struct lora_pair *p = adapter_at(k < 2 ? m1 : m2, l, m);
				int ab = k & 1;
				char key[192];
				tensor_key(key, sizeof key, &m1->dims, l, m, ab,
				           k < 2 ? ".exp_avg" : ".exp_avg_sq");
				const struct st_tensor *t = st_find(&f, key);
				int64_t r0 = ab ? p->out : p->r, r1 = ab ? p->r : p->in;
				if (!t || t->dtype != QT_DTYPE_F32 || t->n_dims != 2 || t->shape[0] != r0 ||
				    t->shape[1] != r1)
					st = qt_err_set(err, QT_EDATA, "%s: %s: missing or not F32 [%lld, %lld]",
					                path, key, (long long)r0, (long long)r1);
				else
					memcpy(ab ? p->B : p->A, t->data, t->size);
			}
		}
	for (int k = 0; k < 2 * ADAPTER_MLP_N && m1->mlp.emb && !st; k++) {
		char key[64];
		int64_t sh[2];
		float *dst = adapter_mlp_tensor(k % 2 ? &m2->mlp : &m1->mlp, k / 2, sh);
		int nd = sh[1] ? 2 : 1;
		snprintf(key, sizeof key, "%s%s", adapter_mlp_names[k / 2],
		         k % 2 ? ".exp_avg_sq" : ".exp_avg");
		const struct st_tensor *t = st_find(&f, key);
		if (!t || t->dtype != QT_DTYPE_F32 || t->n_dims != nd || t->shape[0] != sh[0] ||
		    (nd == 2 && t->shape[1] != sh[1]))
			st = qt_err_set(err, QT_EDATA, "%s: %s: missing or not F32 of the MLP's shape", path,
			                key);
		else
			memcpy(dst, t->data, t->size);
	}
	for (int k = 0; k < 2 && m1->prefix && !m1->mlp.emb && !st; k++) {
		const char *key = k ? "prompt_embeddings.exp_avg_sq" : "prompt_embeddings.exp_avg";
		const struct st_tensor *t = st_find(&f, key);
		int64_t w = (int64_t)adapter_prefix_width(&m1->dims);
		if (!t || t->dtype != QT_DTYPE_F32 || t->n_dims != 2 ||
		    t->shape[0] != m1->prefix_len || t->shape[1] != w)
			st = qt_err_set(err, QT_EDATA, "%s: %s: missing or not F32 [%d, %lld]", path, key,
			                m1->prefix_len, (long long)w);
		else
			memcpy(k ? m2->prefix : m1->prefix, t->data, t->size);
	}
	size_t pairs = 0;
	for (int i = 0; i < m1->dims.n_layers * ADAPTER_N_MODULES; i++)
		pairs += m1->lora[i].r > 0;
	size_t want = 4 * pairs + (m1->mlp.emb ? 2 * ADAPTER_MLP_N : m1->prefix ? 2 : 0);
	if (!st && f.n_tensors != want)
		st = qt_err_set(err, QT_EDATA, "%s: %zu tensors, expected %zu", path, f.n_tensors,
		                want);
	st_close(&f);
	return st;
}

int lora_ckpt_load(const char *dir, const struct adapter_dims *dims, const char *options_json,
                   struct adapter *lora, struct adapter *m1, struct adapter *m2,
                   struct lora_ckpt_state *s, struct qt_err *err)
{
	char *sp = qt_path_join(dir, LORA_CKPT_STATE_NAME), *path = NULL;
	json_t *root = NULL, *now = NULL;
	json_error_t je;
	int st = QT_OK;
	memset(lora, 0, sizeof *lora);
	memset(m1, 0, sizeof *m1);
	memset(m2, 0, sizeof *m2);
	memset(s, 0, sizeof *s);
	if (!sp)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (!(root = json_load_file(sp, 0, &je))) {
		st = qt_err_set(err, QT_EDATA, "%s:%d: %s", sp, je.line, je.text);
		goto fail;
	}
	const char *fmt = NULL, *seed = NULL;
	json_int_t ver = 0, step = 0, total = 0, done = 0, nb = 0, tok = 0, itok = 0;
	double secs = 0;
	json_t *opts = NULL, *files = NULL;
	if (json_unpack_ex(root, &je, 0, "{s:s, s:I, s:I, s:I, s:{s:I, s:I}, s:{s:s}, s:I, s:I, "
	                   "s:F, s:o, s:o}", "format", &fmt, "version", &ver, "step", &step,
	                   "total_steps", &total, "data", "blocks_done", &done, "n_blocks", &nb,
	                   "rng", "seed", &seed, "tokens", &tok, "input_tokens", &itok,
	                   "seconds", &secs, "options", &opts, "files", &files) ||
	    strcmp(fmt, LORA_CKPT_FORMAT) != 0 || !json_is_object(opts) || !json_is_object(files)) {
		st = qt_err_set(err, QT_EDATA, "%s: not a lora-train checkpoint state (%s)", sp,
		                je.text[0] ? je.text : "format");
		goto fail;
	}
	if (ver != LORA_CKPT_VERSION) {
		st = qt_err_set(err, QT_EDATA, "%s: checkpoint version %lld (this build reads %d)", sp,
		                (long long)ver, LORA_CKPT_VERSION);
		goto fail;
	}
	char *end;
	uint64_t sd = strtoull(seed, &end, 10);
	if (step < 1 || done < 0 || nb < 1 || tok < 0 || itok < 0 || *end || !*seed) {
		st = qt_err_set(err, QT_EDATA, "%s: step, data position or seed out of range", sp);
		goto fail;
	}
	/* the MLP's file: listed when present, present when listed */
	free(path);
	path = qt_path_join(dir, ADAPTER_PREFIX_MLP_NAME);
	struct stat mb;
	int n_files = N_CKPT_FILES + (json_object_get(files, ADAPTER_PREFIX_MLP_NAME) ||
	                              (path && stat(path, &mb) == 0));
	for (int i = 0; i < n_files; i++) {
		const char *want = json_string_value(json_object_get(files, ckpt_files[i]));
		uint64_t h;
		char hex[17];
		free(path);
		path = qt_path_join(dir, ckpt_files[i]);
		if (!path) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			goto fail;
		}
		if ((st = qt_xxh3_file(path, &h, err))) {
			st = qt_err_set(err, QT_EDATA, "%s: missing from the checkpoint", path);
			goto fail;
		}
		snprintf(hex, sizeof hex, "%016" PRIx64, h);
		if (!want || strcmp(want, hex) != 0) {
			st = qt_err_set(err, QT_EDATA, "%s: checksum mismatch (checkpoint is corrupt)",
			                path);
			goto fail;
		}
	}
	if (!(now = json_loads(options_json, 0, &je))) {
		st = qt_err_set(err, QT_ESOFTWARE, "options: %s", je.text);
		goto fail;
	}
	const char *key;
	json_t *v;
	json_object_foreach(now, key, v) {
		json_t *w = json_object_get(opts, key);
		if (!w || !json_equal(w, v)) {
			st = option_differs(sp, key, w, v, err);
			goto fail;
		}
	}
	json_object_foreach(opts, key, v) {
		if (!json_object_get(now, key)) {
			st = option_differs(sp, key, v, NULL, err);
			goto fail;
		}
	}
	if ((st = adapter_load(lora, dir, dims, err))) {
		st = st == QT_ENOINPUT ? QT_EDATA : st;
		goto fail;
	}
	if ((st = adapter_like(m1, lora, err)) || (st = adapter_like(m2, lora, err)))
		goto fail;
	free(path);
	path = qt_path_join(dir, LORA_CKPT_OPTIM_NAME);
	if (!path) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	if ((st = load_moments(path, m1, m2, err)))
		goto fail;
	*s = (struct lora_ckpt_state){ .step = (long)step, .total_steps = (long)total,
	                               .blocks_done = (uint64_t)done, .n_blocks = (uint64_t)nb,
	                               .seed = sd, .tokens = (uint64_t)tok,
	                               .input_tokens = (uint64_t)itok, .seconds = secs };
	free(sp), free(path);
	json_decref(root), json_decref(now);
	return QT_OK;
fail:
	if (lora->lora) adapter_free(lora);
	if (m1->lora) adapter_free(m1);
	if (m2->lora) adapter_free(m2);
	free(sp), free(path);
	json_decref(root), json_decref(now);
	return st;
}
