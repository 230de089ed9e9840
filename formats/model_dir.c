/* qlora-tools: ISC license. */
/* HF model directories; see model_dir.h and model-dir(5). */
#include "formats/model_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/half.h"
#include "common/io.h"
#include "formats/nf4.h"

static int is_file(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Joined path if the file exists, else NULL. */
static char *optional_file(const char *dir, const char *name)
{
	char *p = qt_path_join(dir, name);
	if (p && !is_file(p)) {
		free(p);
		p = NULL;
	}
	return p;
}

int model_dir_open(struct model_dir *m, const char *dir, int flags, struct qt_err *err)
{
	memset(m, 0, sizeof *m);
	struct stat sb;
	if (stat(dir, &sb) != 0)
		return qt_err_set(err, QT_ENOINPUT, "%s:", dir);
	if (!S_ISDIR(sb.st_mode)) {
		size_t n = strlen(dir);
		if (n > 5 && !strcmp(dir + n - 5, ".gguf"))
			return qt_err_set(err, QT_ENOINPUT, "%s: a GGUF file, not a model directory: "
			                  "convert it first with import-gguf -o DIR %s", dir, dir);
		return qt_err_set(err, QT_ENOINPUT, "%s: not a directory", dir);
	}
	int st;
	m->path = strdup(dir);
	m->config_path = qt_path_join(dir, HF_CONFIG_NAME);
	if (!m->path || !m->config_path) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	if ((st = hf_config_load(m->config_path, &m->config, err)) != QT_OK)
		goto fail;
	if ((flags & MODEL_DIR_COMPUTE) &&
	    (st = hf_config_check_compute(&m->config, m->config_path, 0, NULL, 0, err)) != QT_OK)
		goto fail;
	if (!(flags & MODEL_DIR_NO_TOKENIZER)) {
		m->tokenizer_path = optional_file(dir, MODEL_DIR_TOKENIZER);
		if (!m->tokenizer_path) /* a SentencePiece model alone, as older repositories ship */
			m->tokenizer_path = optional_file(dir, "tokenizer.model");
		if (!m->tokenizer_path) {
			st = qt_err_set(err, QT_ENOINPUT, "%s: no %s (nor tokenizer.model)", dir,
			                MODEL_DIR_TOKENIZER);
			goto fail;
		}
	}
	m->tokenizer_config_path = optional_file(dir, MODEL_DIR_TOKENIZER_CONFIG);
	m->generation_config_path = optional_file(dir, HF_GENCONFIG_NAME);
	if ((st = st_set_open(&m->weights, dir, err)) != QT_OK)
		goto fail;
	if (!(flags & MODEL_DIR_NO_TENSOR_CHECK) && (st = model_dir_check_llama(m, err)) != QT_OK)
		goto fail;
	return QT_OK;
fail:
	model_dir_close(m);
	return st;
}

void model_dir_close(struct model_dir *m)
{
	st_set_close(&m->weights);
	free(m->path);
	free(m->config_path);
	free(m->tokenizer_path);
	free(m->tokenizer_config_path);
	free(m->generation_config_path);
	memset(m, 0, sizeof *m);
}

const struct st_tensor *model_dir_tensor(const struct model_dir *m, const char *name)
{
	const struct st_tensor *t = st_set_find(&m->weights, name);
	if (!t && m->config.tie_word_embeddings && strcmp(name, "lm_head.weight") == 0)
		t = st_set_find(&m->weights, "model.embed_tokens.weight");
	return t;
}

int model_dir_tensor_f32(const struct model_dir *m, const char *name, float *dst, size_t n,
                         struct qt_err *err)
{
	const struct st_tensor *t = model_dir_tensor(m, name);
	if (!t)
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: missing", m->path, name);
	if (t->n_elem != n)
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: %llu elements, caller expects %zu",
		                  m->path, name, (unsigned long long)t->n_elem, n);
	int st = st_tensor_to_f32(t, dst, err);
	size_t bad = st ? n : qt_first_nonfinite(dst, QT_DTYPE_F32, n);
	if (bad < n)
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: element %zu is not finite (%g)",
		                  m->path, name, bad, (double)dst[bad]);
	return st;
}

/* Checks that name exists, is a float tensor, and has shape {d0[, d1]}. */
static int want(const struct model_dir *m, const char *name, int nd, int64_t d0, int64_t d1,
                struct qt_err *err)
{
	const struct st_tensor *t = model_dir_tensor(m, name);
	if (!t)
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: missing", m->path, name);
	size_t nl = strlen(name);
	if (t->dtype == QT_DTYPE_U8 && nd == 2 && nl > 7 && !strcmp(name + nl - 7, ".weight")) {
		/* An NF4 weight (nf4(5)): its shape is the one its quant_state gives. */
		char bname[512], what[600];
		snprintf(bname, sizeof bname, "%.*s%s", (int)(nl - 7), name, NF4_STATE_SUFFIX);
		const struct st_tensor *blob = st_set_find(&m->weights, bname);
		struct nf4_state s;
		if (blob && blob->dtype == QT_DTYPE_U8 && blob->size <= NF4_MAX_BLOB) {
			snprintf(what, sizeof what, "%s: tensor %s", m->path, bname);
			int st = nf4_state_parse(blob->data, blob->size, what, &s, err);
			if (st != QT_OK)
				return st;
			if (s.rows != d0 || s.cols != d1)
				return qt_err_set(err, QT_EDATA, "%s: tensor %s: NF4 shape [%lld, %lld], "
				                  "config.json implies [%lld, %lld]", m->path, name,
				                  (long long)s.rows, (long long)s.cols, (long long)d0,
				                  (long long)d1);
			return QT_OK;
		}
	}
	if (!qt_dtype_is_float(t->dtype))
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: dtype %s (F32, F16, BF16 or F64 "
		                  "expected)", m->path, name, qt_dtype_name(t->dtype));
	if (t->n_dims != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1)) {
		char got[128] = "";
		size_t k = 0;
		for (int i = 0; i < t->n_dims && k < sizeof got - 24; i++)
			k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? ", " : "",
			                      (long long)t->shape[i]);
		if (nd == 2)
			return qt_err_set(err, QT_EDATA, "%s: tensor %s: shape [%s], config.json implies "
			                  "[%lld, %lld]", m->path, name, got, (long long)d0, (long long)d1);
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: shape [%s], config.json implies "
		                  "[%lld]", m->path, name, got, (long long)d0);
	}
	return QT_OK;
}

int model_dir_check_llama(const struct model_dir *m, struct qt_err *err)
{
	const struct hf_config *c = &m->config;
	int64_t H = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
	int64_t q = c->num_attention_heads * c->head_dim, kv = c->num_key_value_heads * c->head_dim;
	char n[160];
	int st;
	if ((st = want(m, "model.embed_tokens.weight", 2, V, H, err)) ||
	    (st = want(m, "model.norm.weight", 1, H, 0, err)))
		return st;
	if (!c->tie_word_embeddings && (st = want(m, "lm_head.weight", 2, V, H, err)))
		return st;
	struct linear_shape { const char *name; int rows, cols; };
	static const struct linear_shape lin[] = {
		/* rows/cols: 0 = H, 1 = q, 2 = kv, 3 = I, 4 = q + 2 kv, 5 = 2 I */
		{ "self_attn.q_proj", 1, 0 }, { "self_attn.k_proj", 2, 0 }, { "self_attn.v_proj", 2, 0 },
		{ "self_attn.o_proj", 0, 1 }, { "mlp.gate_proj", 3, 0 },    { "mlp.up_proj", 3, 0 },
		{ "mlp.down_proj", 0, 3 },
	};
	static const struct linear_shape fused[] = {
		{ "self_attn.qkv_proj", 4, 0 }, { NULL, 0, 0 }, { NULL, 0, 0 },
		{ "self_attn.o_proj", 0, 1 }, { "mlp.gate_up_proj", 5, 0 }, { NULL, 0, 0 },
		{ "mlp.down_proj", 0, 3 },
	};
	int64_t dim[6] = { H, q, kv, I, q + 2 * kv, 2 * I };
	for (int64_t l = 0; l < c->num_hidden_layers; l++) {
		for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++) {
			int bit = k < 3 ? LORA_FUSED_QKV : k == 4 || k == 5 ? LORA_FUSED_GATE_UP : 0;
			const struct linear_shape *e = hf_config_fused(c) & bit ? &fused[k] : &lin[k];
			if (!e->name)
				continue;
			snprintf(n, sizeof n, "model.layers.%lld.%s.weight", (long long)l, e->name);
			if ((st = want(m, n, 2, dim[e->rows], dim[e->cols], err)))
				return st;
			int bias = hf_config_has_bias(c, (int)k);
			snprintf(n, sizeof n, "model.layers.%lld.%s.bias", (long long)l, e->name);
			if (bias && (st = want(m, n, 1, dim[e->rows], 0, err)))
				return st;
		}
		for (int k = 0; hf_config_has_qk_norm(c) && k < 2; k++) {
			snprintf(n, sizeof n, "model.layers.%lld.self_attn.%s_norm.weight", (long long)l,
			         k ? "k" : "q");
			if ((st = want(m, n, 1, c->head_dim, 0, err)))
				return st;
		}
		struct hf_norm_names nn = hf_config_norm_names(c);
		const char *norms[4] = { nn.attn_in, nn.attn_out, nn.mlp_in, nn.mlp_out };
		for (int k = 0; k < 4; k++) {
			if (!norms[k])
				continue;
			snprintf(n, sizeof n, "model.layers.%lld.%s.weight", (long long)l, norms[k]);
			if ((st = want(m, n, 1, H, 0, err)))
				return st;
		}
	}
	return QT_OK;
}

int model_dir_copy_aux(const struct model_dir *m, const char *dst_dir, struct qt_err *err)
{
	static const char *const names[] = { MODEL_DIR_TOKENIZER, MODEL_DIR_TOKENIZER_CONFIG,
	                                     HF_GENCONFIG_NAME, "special_tokens_map.json" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *src = optional_file(m->path, names[i]);
		if (!src)
			continue;
		char *buf = NULL, *dst = qt_path_join(dst_dir, names[i]);
		size_t len;
		struct qt_out o;
		int st = dst ? qt_read_file(src, &buf, &len, err)
		             : qt_err_set(err, QT_ESOFTWARE, "out of memory");
		if (st == QT_OK && (st = qt_out_open(&o, dst, err)) == QT_OK) {
			st = qt_write(o.fp, buf, len, dst, err);
			if (st == QT_OK)
				st = qt_out_commit(&o, err);
			else
				qt_out_abort(&o);
		}
		free(buf);
		free(src);
		free(dst);
		if (st != QT_OK)
			return st;
	}
	return QT_OK;
}
