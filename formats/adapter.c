/* qlora-tools: ISC license. */
/* PEFT LoRA adapter directories: loading (adapter_model.safetensors checked against the config
 * and the base's shapes), creating, saving, freeing. See adapter.h and adapter(5); the config
 * file itself is formats/adapter_config.c. No arithmetic beyond dtype conversion lives here. */
#include "formats/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/crashpoint.h"
#include "common/half.h"
#include "common/io.h"
#include "formats/safetensors.h"

/* ---- loading ---- */

/* Parses "base_model.model.model.layers.<l>.<block>.<module>.lora_<A|B>.weight".
 * Returns 0 and sets l, m, ab (0 = A, 1 = B) and fused (LORA_FUSED_QKV for qkv_proj,
 * LORA_FUSED_GATE_UP for gate_up_proj, else 0), or -1. */
static int parse_key(const char *k, int *l, int *m, int *ab, int *fused)
{
	static const char pre[] = ADAPTER_KEY_PREFIX "model.layers.";
	if (strncmp(k, pre, sizeof pre - 1) != 0)
		return -1;
	const char *p = k + sizeof pre - 1;
	if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '.'))
		return -1;
	long v = 0;
	while (*p >= '0' && *p <= '9' && v < 1 << 20)
		v = v * 10 + (*p++ - '0');
	if (*p++ != '.')
		return -1;
	int all = LORA_FUSED_QKV | LORA_FUSED_GATE_UP;
	for (int fu = 0; fu <= all; fu += all)
		for (int i = 0; i < ADAPTER_N_MODULES; i++) {
			const char *name = adapter_module_name_of(&(struct adapter_dims){ .fused = fu }, i);
			if (!name || (fu && i != ADAPTER_Q && i != ADAPTER_GATE))
				continue;
			char tail[96];
			for (int j = 0; j < 2; j++) {
				snprintf(tail, sizeof tail, "%s.%s.lora_%c.weight", adapter_module_block[i], name,
				         j ? 'B' : 'A');
				if (strcmp(p, tail) == 0) {
					*l = (int)v, *m = i, *ab = j;
					*fused = !fu ? 0 : i == ADAPTER_Q ? LORA_FUSED_QKV : LORA_FUSED_GATE_UP;
					return 0;
				}
			}
		}
	return -1;
}

static const char *key_hint(const char *k)
{
	if (strstr(k, "lora_magnitude_vector"))
		return ": a DoRA magnitude vector (DoRA is not implemented)";
	if (strstr(k, "lora_embedding"))
		return ": an embedding LoRA (only linear modules are supported)";
	if (strstr(k, "modules_to_save"))
		return ": a modules_to_save weight (not supported)";
	if (strstr(k, ".bias"))
		return ": a LoRA bias (not implemented)";
	return ": not a LoRA weight of a Llama linear module";
}

static int file_exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0;
}

/* Checks one tensor against what the pair (l, m, ab) must look like and fills in dims when
 * they are being inferred (inf != 0). */
static int check_shape(struct adapter *a, const struct st_tensor *t, int l, int m, int ab,
                       int r, int inf, const char *file, struct qt_err *err)
{
	if (t->dtype != QT_DTYPE_F32 && t->dtype != QT_DTYPE_BF16 && t->dtype != QT_DTYPE_F16)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": dtype %s (F32, BF16 or F16 "
		                  "expected)", file, t->name, qt_dtype_name(t->dtype));
	if (t->n_dims != 2)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": %d dimensions, 2 expected", file,
		                  t->name, t->n_dims);
	int64_t rr = ab ? t->shape[1] : t->shape[0], f = ab ? t->shape[0] : t->shape[1];
	if (rr != r)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": rank %lld, but the config says "
		                  "r = %d for this module", file, t->name, (long long)rr, r);
	int in, out;
	adapter_module_shape(&a->dims, m, &in, &out);
	int want = ab ? out : in;
	int fused_out = ab && ((m == ADAPTER_Q && (a->dims.fused & LORA_FUSED_QKV)) ||
	                       (m == ADAPTER_GATE && (a->dims.fused & LORA_FUSED_GATE_UP)));
	if (inf && fused_out && (m == ADAPTER_Q ? !a->dims.kv_dim : !a->dims.intermediate)) {
		/* a fused output infers its parts: q_dim and I come from o_proj's and down_proj's
		 * inputs when present (load_tensors looks at them first) */
		int part = m == ADAPTER_Q ? a->dims.q_dim : 0;
		if (f <= part || (f - part) % 2 || f > 1 << 24)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": bad size", file, t->name);
		if (m == ADAPTER_GATE)
			a->dims.intermediate = (int)(f / 2);
		else if (part)
			a->dims.kv_dim = (int)((f - part) / 2);
		else
			a->dims.q_dim = (int)f; /* no o_proj: the parts are unknown; listed as one */
		want = (int)f;
	} else if (inf && want == 0) {  /* first sighting: this tensor defines the dimension */
		if (f <= 0 || f > 1 << 24)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": bad size", file, t->name);
		int *d[ADAPTER_N_MODULES][2] = {
			{ &a->dims.hidden, &a->dims.q_dim }, { &a->dims.hidden, &a->dims.kv_dim },
			{ &a->dims.hidden, &a->dims.kv_dim }, { &a->dims.q_dim, &a->dims.hidden },
			{ &a->dims.hidden, &a->dims.intermediate },
			{ &a->dims.hidden, &a->dims.intermediate },
			{ &a->dims.intermediate, &a->dims.hidden },
		};
		*d[m][ab] = (int)f;
		want = (int)f;
	}
	if (f != want)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": shape [%lld, %lld], but %s "
		                  "[%d, %d]", file, t->name, (long long)t->shape[0],
		                  (long long)t->shape[1], inf ? "other layers give" : "the base model wants",
		                  ab ? want : r, ab ? r : want);
	(void)l;
	return QT_OK;
}

static int load_tensors(struct adapter *a, const struct st_file *f,
                        const struct adapter_dims *base, struct qt_err *err)
{
	int max_l = -1, fused = 0, seen = 0;
	for (size_t i = 0; i < f->n_tensors; i++) {
		int l, m, ab, fu;
		if (parse_key(f->tensors[i].name, &l, &m, &ab, &fu) != 0)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\"%s", f->path, f->tensors[i].name,
			                  key_hint(f->tensors[i].name));
		/* o_proj and down_proj are named alike in both layouts; the others tell which layout
		 * their group (attention: q/k/v; MLP: gate/up) has */
		int bit = m == ADAPTER_Q || m == ADAPTER_K || m == ADAPTER_V ? LORA_FUSED_QKV
		        : m == ADAPTER_GATE || m == ADAPTER_UP ? LORA_FUSED_GATE_UP : 0;
		int known = base ? bit : seen & bit, want = (base ? base->fused : fused) & bit;
		if (known && want != fu)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": the %s has %s", f->path,
			                  f->tensors[i].name, base ? "base model" : "adapter's other tensors",
			                  bit == LORA_FUSED_QKV ? (want ? "a fused qkv_proj"
			                                                : "separate q/k/v projections")
			                                        : (want ? "a fused gate_up_proj"
			                                                : "separate gate/up projections"));
		seen |= bit;
		fused |= fu;
		if (base && l >= base->n_layers)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": layer %d, but the base model "
			                  "has %d layers", f->path, f->tensors[i].name, l, base->n_layers);
		max_l = l > max_l ? l : max_l;
	}
	if (max_l < 0)
		return qt_err_set(err, QT_EDATA, "%s: no LoRA tensors", f->path);
	if (base) {
		a->dims = *base;
	} else {
		a->dims.n_layers = max_l + 1;
		a->dims.fused = fused;
		for (size_t i = 0; i < f->n_tensors && a->dims.fused; i++) {
			/* the parts of the fused outputs, known from o_proj's and down_proj's inputs */
			int l, m, ab, fu;
			const struct st_tensor *t = &f->tensors[i];
			if (parse_key(t->name, &l, &m, &ab, &fu) == 0 && !ab && t->n_dims == 2 &&
			    t->shape[1] > 0 && t->shape[1] <= 1 << 24) {
				if (m == ADAPTER_O)
					a->dims.q_dim = (int)t->shape[1];
				else if (m == ADAPTER_DOWN)
					a->dims.intermediate = (int)t->shape[1];
			}
		}
	}
	a->lora = calloc((size_t)a->dims.n_layers * ADAPTER_N_MODULES, sizeof *a->lora);
	if (!a->lora)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	char key[192], path[128];
	for (int l = 0; l < a->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const char *name = adapter_module_name_of(&a->dims, m);
			if (!name)
				continue;
			const struct st_tensor *t[2];
			for (int ab = 0; ab < 2; ab++) {
				snprintf(key, sizeof key, ADAPTER_KEY_PREFIX "model.layers.%d.%s.%s.lora_%c.weight",
				         l, adapter_module_block[m], name, ab ? 'B' : 'A');
				t[ab] = st_find(f, key);
			}
			int tg = adapter_config_targets(&a->cfg, &a->dims, l, m, err);
			if (tg < 0)
				return QT_EDATA;
			adapter_module_path(path, sizeof path, &a->dims, l, m);
			if (!t[0] && !t[1]) {
				if (tg)
					return qt_err_set(err, QT_EDATA, "%s: missing target weights: the config "
					                  "targets %s but the file has no lora_A/lora_B for it",
					                  f->path, path);
				continue;
			}
			if (!tg)
				return qt_err_set(err, QT_EDATA, "%s: tensors for %s, which target_modules "
				                  "does not select", f->path, path);
			if (!t[0] || !t[1])
				return qt_err_set(err, QT_EDATA, "%s: %s has lora_%c but no lora_%c", f->path,
				                  path, t[0] ? 'A' : 'B', t[0] ? 'B' : 'A');
			struct lora_pair *p = adapter_at(a, l, m);
			if (adapter_config_rank_alpha(&a->cfg, &a->dims, l, m, &p->r, &p->alpha, err) < 0)
				return QT_EDATA;
			for (int ab = 0; ab < 2; ab++) {
				int st = check_shape(a, t[ab], l, m, ab, p->r, !base, f->path, err);
				if (st)
					return st;
			}
			adapter_module_shape(&a->dims, m, &p->in, &p->out);
			p->scaling = adapter_scaling(p->alpha, p->r, a->cfg.use_rslora);
			p->A = malloc(t[0]->n_elem * sizeof(float));
			p->B = malloc(t[1]->n_elem * sizeof(float));
			if (!p->A || !p->B)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			int st = st_tensor_to_f32(t[0], p->A, err);
			if (!st)
				st = st_tensor_to_f32(t[1], p->B, err);
			if (st)
				return st;
			for (int k = 0; k < 2; k++) {
				const float *x = k ? p->B : p->A;
				size_t n = (size_t)t[k]->n_elem, bad = qt_first_nonfinite(x, QT_DTYPE_F32, n);
				if (bad < n)
					return qt_err_set(err, QT_EDATA, "%s: tensor %s: element %zu is not "
					                  "finite (%g)", f->path, t[k]->name, bad, (double)x[bad]);
			}
		}
	return QT_OK;
}

/* A PREFIX_TUNING adapter: prompt_embeddings [P, 2 * num_layers * token_dim] for the base. */
static int load_prefix(struct adapter *a, const struct st_file *f,
                       const struct adapter_dims *base, struct qt_err *err)
{
	const struct adapter_config *c = &a->cfg;
	if (base && (c->prefix_layers != base->n_layers || c->prefix_token_dim != base->kv_dim))
		return qt_err_set(err, QT_EDATA, "%s: a prefix for %d layers of %d key/value dims, but "
		                  "the base model has %d layers of %d", f->path, c->prefix_layers,
		                  c->prefix_token_dim, base->n_layers, base->kv_dim);
	if (base)
		a->dims = *base;
	else
		a->dims = (struct adapter_dims){ .n_layers = c->prefix_layers,
		                                 .kv_dim = c->prefix_token_dim };
	size_t w = adapter_prefix_width(&a->dims);
	const struct st_tensor *t = st_find(f, "prompt_embeddings");
	if (!t || t->n_dims != 2 || t->shape[0] != c->prefix || (size_t)t->shape[1] != w)
		return qt_err_set(err, QT_EDATA, "%s: prompt_embeddings: missing or not [%d, %zu]",
		                  f->path, c->prefix, w);
	if (f->n_tensors != 1)
		return qt_err_set(err, QT_EDATA, "%s: tensors other than prompt_embeddings in a prefix "
		                  "adapter", f->path);
	a->lora = calloc((size_t)a->dims.n_layers * ADAPTER_N_MODULES + 1, sizeof *a->lora);
	a->prefix = malloc((size_t)c->prefix * w * sizeof(float));
	if (!a->lora || !a->prefix)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	a->prefix_len = c->prefix;
	return st_tensor_to_f32(t, a->prefix, err);
}

int adapter_load(struct adapter *a, const char *dir, const struct adapter_dims *base,
                 struct qt_err *err)
{
	memset(a, 0, sizeof *a);
	struct stat sb;
	if (stat(dir, &sb) != 0)
		return qt_err_set(err, QT_ENOINPUT, "%s:", dir);
	if (!S_ISDIR(sb.st_mode))
		return qt_err_set(err, QT_ENOINPUT, "%s: not a directory (an adapter is a directory)",
		                  dir);
	char *cp = qt_path_join(dir, ADAPTER_CONFIG_NAME);
	char *wp = qt_path_join(dir, ADAPTER_WEIGHTS_NAME);
	char *pp = qt_path_join(dir, ADAPTER_PICKLE_NAME);
	char *txt = NULL;
	size_t len;
	struct st_file f = { 0 };
	int st, opened = 0;
	if (!cp || !wp || !pp) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	if ((st = qt_read_file(cp, &txt, &len, err)))
		goto out;
	if ((st = adapter_config_parse(&a->cfg, txt, len, cp, err)))
		goto out;
	if (!file_exists(wp)) {
		if (file_exists(pp))
			st = qt_err_set(err, QT_EDATA, "%s: PyTorch pickle adapters are not read (pickle "
			                "can run code); convert it to %s, e.g. with PEFT's save_pretrained",
			                pp, ADAPTER_WEIGHTS_NAME);
		else
			st = qt_err_set(err, QT_ENOINPUT, "%s:", wp);
		goto out;
	}
	if ((st = st_open(&f, wp, err)))
		goto out;
	opened = 1;
	st = a->cfg.prefix ? load_prefix(a, &f, base, err) : load_tensors(a, &f, base, err);
	free(pp);
	pp = a->cfg.prefix ? qt_path_join(dir, ADAPTER_PREFIX_MLP_NAME) : NULL;
	if (!st && pp && file_exists(pp))  /* the MLP that made the table (lora-train's) */
		st = a->cfg.prefix_projection ? adapter_mlp_load(a, pp, err)
		   : qt_err_set(err, QT_EDATA, "%s: a projection MLP, but prefix_projection is not "
		                "true in %s", pp, ADAPTER_CONFIG_NAME);
out:
	if (opened)
		st_close(&f);
	free(txt), free(cp), free(wp), free(pp);
	if (st)
		adapter_free(a);
	return st;
}

/* ---- creating, saving, freeing ---- */

static int copy_strv(char ***dst, char *const *src, size_t n)
{
	if (!n)
		return 0;
	if (!(*dst = calloc(n, sizeof **dst)))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return -1;
	return 0;
}

static int copy_patterns(struct adapter_pattern **dst, const struct adapter_pattern *src, size_t n)
{
	if (!n)
		return 0;
	if (!(*dst = calloc(n, sizeof **dst)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i].value = src[i].value;
		if (!((*dst)[i].key = strdup(src[i].key)))
			return -1;
	}
	return 0;
}

static char *strdup_or_null(const char *s, int *bad)
{
	char *d = s ? strdup(s) : NULL;
	*bad |= s && !d;
	return d;
}

int adapter_init(struct adapter *a, const struct adapter_config *cfg,
                 const struct adapter_dims *dims, struct qt_err *err)
{
	memset(a, 0, sizeof *a);
	struct adapter_config *c = &a->cfg;
	*c = *cfg;
	int bad = 0;
	c->base_model_name_or_path = strdup_or_null(cfg->base_model_name_or_path, &bad);
	c->task_type = strdup_or_null(cfg->task_type, &bad);
	c->target_regex = strdup_or_null(cfg->target_regex, &bad);
	c->exclude_regex = strdup_or_null(cfg->exclude_regex, &bad);
	c->target_names = NULL, c->exclude_names = NULL, c->layers = NULL;
	c->rank_pattern = NULL, c->alpha_pattern = NULL;
	bad |= copy_strv(&c->target_names, cfg->target_names, cfg->n_target_names);
	bad |= copy_strv(&c->exclude_names, cfg->exclude_names, cfg->n_exclude_names);
	bad |= copy_patterns(&c->rank_pattern, cfg->rank_pattern, cfg->n_rank_pattern);
	bad |= copy_patterns(&c->alpha_pattern, cfg->alpha_pattern, cfg->n_alpha_pattern);
	if (cfg->n_layers && (c->layers = malloc(cfg->n_layers * sizeof *c->layers)))
		memcpy(c->layers, cfg->layers, cfg->n_layers * sizeof *c->layers);
	bad |= cfg->n_layers && !c->layers;
	a->dims = *dims;
	a->lora = calloc((size_t)dims->n_layers * ADAPTER_N_MODULES + 1, sizeof *a->lora);
	int st = QT_OK;
	if (bad || !a->lora) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	if (cfg->r <= 0) {
		st = qt_err_set(err, QT_EUSAGE, "rank %d: must be positive", cfg->r);
		goto fail;
	}
	size_t n = 0;
	for (int l = 0; l < dims->n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			int tg = adapter_config_targets(c, dims, l, m, err);
			if (tg < 0) {
				st = QT_EUSAGE;
				goto fail;
			}
			if (!tg)
				continue;
			struct lora_pair *p = adapter_at(a, l, m);
			if (adapter_config_rank_alpha(c, dims, l, m, &p->r, &p->alpha, err) < 0) {
				st = QT_EUSAGE;
				goto fail;
			}
			adapter_module_shape(dims, m, &p->in, &p->out);
			p->scaling = adapter_scaling(p->alpha, p->r, c->use_rslora);
			p->A = calloc((size_t)p->r * p->in, sizeof(float));
			p->B = calloc((size_t)p->out * p->r, sizeof(float));
			if (!p->A || !p->B) {
				st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
				goto fail;
			}
			n++;
		}
	if (n == 0) {
		st = qt_err_set(err, QT_EUSAGE, "target_modules selects no module of the model");
		goto fail;
	}
	return QT_OK;
fail:
	adapter_free(a);
	return st;
}

int adapter_init_prefix(struct adapter *a, int P, const struct adapter_dims *dims, int heads,
                        struct qt_err *err)
{
	memset(a, 0, sizeof *a);
	a->dims = *dims;
	a->cfg.prefix = a->prefix_len = P;
	a->cfg.prefix_token_dim = dims->kv_dim;
	a->cfg.prefix_layers = dims->n_layers;
	a->cfg.prefix_heads = heads;
	a->lora = calloc((size_t)dims->n_layers * ADAPTER_N_MODULES + 1, sizeof *a->lora);
	a->prefix = calloc((size_t)P * adapter_prefix_width(dims), sizeof(float));
	if (!a->lora || !a->prefix) {
		adapter_free(a);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	return QT_OK;
}

int adapter_like(struct adapter *dst, const struct adapter *a, struct qt_err *err)
{
	if (!a->prefix)
		return adapter_init(dst, &a->cfg, &a->dims, err);
	int st = adapter_init_prefix(dst, a->prefix_len, &a->dims, a->cfg.prefix_heads, err);
	if (!st && a->mlp.emb && (st = adapter_mlp_init(dst, a->mlp.H, err)))
		adapter_free(dst);
	return st;
}

size_t adapter_tensors(const struct adapter *a, float **ptr, size_t *n, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < (size_t)a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		const struct lora_pair *p = &a->lora[i];
		if (!p->A)
			continue;
		if (k < max)
			ptr[k] = p->A, n[k] = (size_t)p->r * p->in;
		k++;
		if (k < max)
			ptr[k] = p->B, n[k] = (size_t)p->out * p->r;
		k++;
	}
	for (int i = 0; a->mlp.emb && i < ADAPTER_MLP_N; i++, k++) {
		int64_t sh[2];
		float *t = adapter_mlp_tensor(&a->mlp, i, sh);
		if (k < max)
			ptr[k] = t, n[k] = (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1);
	}
	if (a->prefix && !a->mlp.emb) {
		if (k < max)
			ptr[k] = a->prefix, n[k] = (size_t)a->prefix_len * adapter_prefix_width(&a->dims);
		k++;
	}
	return k;
}

size_t adapter_n_params(const struct adapter *a)
{
	size_t n = a->prefix && !a->mlp.emb ? (size_t)a->prefix_len * adapter_prefix_width(&a->dims)
	         : 0;
	for (int i = 0; a->mlp.emb && i < ADAPTER_MLP_N; i++) {
		int64_t sh[2];
		adapter_mlp_tensor(&a->mlp, i, sh);
		n += (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1);
	}
	for (int l = 0; l < a->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p = adapter_at(a, l, m);
			n += (size_t)p->r * ((size_t)p->in + (size_t)p->out);
		}
	return n;
}

void adapter_free(struct adapter *a)
{
	if (a->lora)
		for (size_t i = 0; i < (size_t)a->dims.n_layers * ADAPTER_N_MODULES; i++) {
			free(a->lora[i].A);
			free(a->lora[i].B);
		}
	free(a->lora);
	free(a->prefix);
	free(a->mlp.emb);
	adapter_config_free(&a->cfg);
	memset(a, 0, sizeof *a);
}

/* Writes the safetensors file of a into path, tensors converted to dtype. */
static int save_weights(const struct adapter *a, const char *path, enum qt_dtype dtype,
                        struct qt_err *err)
{
	size_t n = 0, cap = (size_t)a->dims.n_layers * ADAPTER_N_MODULES * 2 + 1;
	struct st_spec *specs = calloc(cap + 1, sizeof *specs);
	char **names = calloc(cap + 1, sizeof *names);
	void **bufs = calloc(cap + 1, sizeof *bufs);
	int st = QT_OK;
	if (!specs || !names || !bufs) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	for (int l = 0; l < a->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p = adapter_at(a, l, m);
			if (!p->r)
				continue;
			for (int ab = 0; ab < 2; ab++, n++) {
				char key[192];
				snprintf(key, sizeof key, ADAPTER_KEY_PREFIX "model.layers.%d.%s.%s.lora_%c.weight",
				         l, adapter_module_block[m], adapter_module_name_of(&a->dims, m),
				         ab ? 'B' : 'A');
				const float *src = ab ? p->B : p->A;
				size_t ne = (size_t)p->r * (size_t)(ab ? p->out : p->in);
				names[n] = strdup(key);
				bufs[n] = malloc(ne * qt_dtype_size(dtype) + 1);
				if (!names[n] || !bufs[n]) {
					st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
					n++;
					goto out;
				}
				if (dtype == QT_DTYPE_F32)
					memcpy(bufs[n], src, ne * sizeof(float)); /* little-endian host */
				else if (dtype == QT_DTYPE_BF16)
					qt_f32_to_bf16_row(src, bufs[n], ne);
				else
					qt_f32_to_f16_row(src, bufs[n], ne);
				specs[n] = (struct st_spec){ .name = names[n], .dtype = dtype, .n_dims = 2,
				                             .data = bufs[n] };
				specs[n].shape[0] = ab ? p->out : p->r;
				specs[n].shape[1] = ab ? p->r : p->in;
			}
		}
	if (a->prefix) {
		size_t ne = (size_t)a->prefix_len * adapter_prefix_width(&a->dims);
		names[n] = strdup("prompt_embeddings");
		bufs[n] = malloc(ne * qt_dtype_size(dtype) + 1);
		if (!names[n] || !bufs[n]) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			n++;
			goto out;
		}
		if (dtype == QT_DTYPE_F32)
			memcpy(bufs[n], a->prefix, ne * sizeof(float));
		else if (dtype == QT_DTYPE_BF16)
			qt_f32_to_bf16_row(a->prefix, bufs[n], ne);
		else
			qt_f32_to_f16_row(a->prefix, bufs[n], ne);
		specs[n] = (struct st_spec){ .name = names[n], .dtype = dtype, .n_dims = 2,
		                             .data = bufs[n] };
		specs[n].shape[0] = a->prefix_len;
		specs[n].shape[1] = adapter_prefix_width(&a->dims);
		n++;
	}
	struct st_kv meta = { "format", "pt" };
	st = st_write_file(path, specs, n, &meta, 1, err);
out:
	for (size_t i = 0; names && bufs && i < n; i++)
		free(names[i]), free(bufs[i]);
	free(specs), free(names), free(bufs);
	return st;
}

int adapter_save(const struct adapter *a, const char *dir, enum qt_dtype dtype,
                 struct qt_err *err)
{
	if (dtype != QT_DTYPE_F32 && dtype != QT_DTYPE_BF16 && dtype != QT_DTYPE_F16)
		return qt_err_set(err, QT_EUSAGE, "adapter dtype %s: F32, BF16 or F16 only",
		                  qt_dtype_name(dtype));
	char *json = adapter_config_dump(a);
	if (!json)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	char *tmp = qt_dir_begin(dir, ADAPTER_CONFIG_NAME, err), *cp = NULL, *wp = NULL;
	int st;
	if (!tmp) {
		free(json);
		return err ? err->status : QT_ECANTCREAT;
	}
	cp = qt_path_join(tmp, ADAPTER_CONFIG_NAME);
	wp = qt_path_join(tmp, ADAPTER_WEIGHTS_NAME);
	struct qt_out o = { 0 };
	if (!cp || !wp) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	if ((st = qt_out_open(&o, cp, err)))
		goto fail;
	if ((st = qt_write(o.fp, json, strlen(json), cp, err))) {
		qt_out_abort(&o);
		goto fail;
	}
	if ((st = qt_out_commit(&o, err)))
		goto fail;
	qt_crashpoint("adapter-weights");
	if ((st = save_weights(a, wp, dtype, err)))
		goto fail;
	free(cp);
	cp = a->mlp.emb ? qt_path_join(tmp, ADAPTER_PREFIX_MLP_NAME) : NULL;
	if (a->mlp.emb && (st = cp ? adapter_mlp_save(a, cp, err)
	                           : qt_err_set(err, QT_ESOFTWARE, "out of memory")))
		goto fail;
	st = qt_dir_commit(tmp, dir, err);
	if (st)
		goto fail;
	free(tmp), free(cp), free(wp), free(json);
	return QT_OK;
fail:
	qt_dir_abort(tmp);
	free(tmp), free(cp), free(wp), free(json);
	return st;
}
