/* qlora-tools: ISC license. */
/* PEFT adapter_config.json: module tables, PEFT's target/pattern matching (regular
 * expressions through PCRE2), parsing with refusals by field, and the writer's JSON. See
 * adapter.h and adapter(5); formats/adapter.c loads and saves whole adapter directories. */
#include "formats/adapter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const adapter_module_name[ADAPTER_N_MODULES] = {
	"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
};
const char *const adapter_module_block[ADAPTER_N_MODULES] = {
	"self_attn", "self_attn", "self_attn", "self_attn", "mlp", "mlp", "mlp"
};

const char *adapter_module_name_of(const struct adapter_dims *d, int m)
{
	int qkv = d->fused & LORA_FUSED_QKV, gu = d->fused & LORA_FUSED_GATE_UP;
	if (qkv && (m == ADAPTER_K || m == ADAPTER_V))
		return NULL;
	if (gu && m == ADAPTER_UP)
		return NULL;
	return qkv && m == ADAPTER_Q ? "qkv_proj" : gu && m == ADAPTER_GATE ? "gate_up_proj"
	                                                                    : adapter_module_name[m];
}

void adapter_module_shape(const struct adapter_dims *d, int m, int *in, int *out)
{
	if (!adapter_module_name_of(d, m)) {
		*in = *out = 0;
		return;
	}
	if ((d->fused & LORA_FUSED_QKV) && m == ADAPTER_Q) {
		*in = d->hidden;
		*out = d->q_dim + 2 * d->kv_dim;
		return;
	}
	if ((d->fused & LORA_FUSED_GATE_UP) && m == ADAPTER_GATE) {
		*in = d->hidden;
		*out = 2 * d->intermediate;
		return;
	}
	switch (m) {
	case ADAPTER_Q:    *in = d->hidden;       *out = d->q_dim;        break;
	case ADAPTER_K:
	case ADAPTER_V:    *in = d->hidden;       *out = d->kv_dim;       break;
	case ADAPTER_O:    *in = d->q_dim;        *out = d->hidden;       break;
	case ADAPTER_GATE:
	case ADAPTER_UP:   *in = d->hidden;       *out = d->intermediate; break;
	default:           *in = d->intermediate; *out = d->hidden;       break;
	}
}

void adapter_module_path(char *buf, size_t n, const struct adapter_dims *d, int l, int m)
{
	const char *name = adapter_module_name_of(d, m);
	if (name)
		snprintf(buf, n, "model.layers.%d.%s.%s", l, adapter_module_block[m], name);
	else if (n)
		buf[0] = 0;
}

float adapter_scaling(double alpha, int r, int use_rslora)
{
	return (float)(use_rslora ? alpha / sqrt((double)r) : alpha / (double)r);
}

/* ---- regular expressions (PEFT uses Python's re; PCRE2 reads the same syntax) ---- */

/* 1 if subject matches pattern anchored at its start and end, 0 if not, -1 (err set) if the
 * pattern does not compile. prefix/suffix wrap the pattern (PEFT's get_pattern_key form). */
static int re_full(const char *prefix, const char *pat, const char *suffix, const char *subject,
                   const char *field, struct qt_err *err)
{
	size_t n = strlen(prefix) + strlen(pat) + strlen(suffix) + 1;
	char *full = malloc(n);
	if (!full)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory"), -1;
	snprintf(full, n, "%s%s%s", prefix, pat, suffix);
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)full, PCRE2_ZERO_TERMINATED,
	                               PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec, &eo, NULL);
	free(full);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		qt_err_set(err, QT_EDATA, "%s: bad regular expression \"%s\": %s", field, pat,
		           (const char *)msg);
		return -1;
	}
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = md ? pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL) : -1;
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0;
}

/* PEFT's list matching: the name equals the module path or is a dotted suffix of it. */
static int name_matches(const char *path, const char *name)
{
	size_t lp = strlen(path), ln = strlen(name);
	if (ln > lp || strcmp(path + lp - ln, name) != 0)
		return 0;
	return ln == lp || path[lp - ln - 1] == '.';
}

int adapter_config_targets(const struct adapter_config *c, const struct adapter_dims *d, int l,
                           int m, struct qt_err *err)
{
	char path[128];
	adapter_module_path(path, sizeof path, d, l, m);
	if (!path[0])
		return 0;
	if (c->exclude_regex) {
		int x = re_full("", c->exclude_regex, "", path, "exclude_modules", err);
		if (x != 0)
			return x > 0 ? 0 : -1;
	}
	for (size_t i = 0; i < c->n_exclude_names; i++)
		if (name_matches(path, c->exclude_names[i]))
			return 0;
	if (c->target_regex)  /* a string target skips layers_to_transform, as in PEFT */
		return re_full("", c->target_regex, "", path, "target_modules", err);
	int found = 0;
	for (size_t i = 0; i < c->n_target_names && !found; i++)
		found = name_matches(path, c->target_names[i]);
	if (found && c->layers) {
		found = 0;
		for (size_t i = 0; i < c->n_layers; i++)
			found |= c->layers[i] == l;
	}
	return found;
}

/* Value of the first pattern whose key matches path; 1 found, 0 none, -1 bad regex. */
static int pattern_lookup(const struct adapter_pattern *p, size_t n, const char *path,
                          const char *field, double *v, struct qt_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int x = re_full("(.*\\.)?(", p[i].key, ")$", path, field, err);
		if (x < 0)
			return -1;
		if (x) {
			*v = p[i].value;
			return 1;
		}
	}
	return 0;
}

int adapter_config_rank_alpha(const struct adapter_config *c, const struct adapter_dims *d,
                              int l, int m, int *r, double *alpha, struct qt_err *err)
{
	char path[128];
	adapter_module_path(path, sizeof path, d, l, m);
	double v = c->r;
	if (pattern_lookup(c->rank_pattern, c->n_rank_pattern, path, "rank_pattern", &v, err) < 0)
		return -1;
	*r = (int)v;
	*alpha = c->lora_alpha;
	if (pattern_lookup(c->alpha_pattern, c->n_alpha_pattern, path, "alpha_pattern", alpha,
	                   err) < 0)
		return -1;
	return 0;
}

/* ---- adapter_config.json: reading ---- */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void adapter_config_free(struct adapter_config *c)
{
	free(c->base_model_name_or_path);
	free(c->task_type);
	free(c->target_regex);
	free_strv(c->target_names, c->n_target_names);
	free(c->exclude_regex);
	free_strv(c->exclude_names, c->n_exclude_names);
	free(c->layers);
	for (size_t i = 0; c->rank_pattern && i < c->n_rank_pattern; i++)
		free(c->rank_pattern[i].key);
	free(c->rank_pattern);
	for (size_t i = 0; c->alpha_pattern && i < c->n_alpha_pattern; i++)
		free(c->alpha_pattern[i].key);
	free(c->alpha_pattern);
	memset(c, 0, sizeof *c);
}

/* True for JSON values PEFT treats as "set": non-null, non-false, non-empty container/string. */
static int is_set(json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	return 1;
}

/* Reads a string-or-list field (target_modules, exclude_modules). 0 or QT_EDATA. */
static int get_names(json_t *v, const char *field, const char *name, char **regex,
                     char ***names, size_t *n, struct qt_err *err)
{
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		*regex = strdup(json_string_value(v));
		return *regex ? 0 : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	if (!json_is_array(v))
		return qt_err_set(err, QT_EDATA, "%s: %s is neither a string nor a list", name, field);
	*names = calloc(json_array_size(v) + 1, sizeof **names);
	if (!*names)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_string(e))
			return qt_err_set(err, QT_EDATA, "%s: %s[%zu] is not a string", name, field, i);
		if (!((*names)[(*n)++] = strdup(json_string_value(e))))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	return 0;
}

static int get_patterns(json_t *v, const char *field, const char *name, int integer,
                        struct adapter_pattern **out, size_t *n, struct qt_err *err)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return qt_err_set(err, QT_EDATA, "%s: %s is not an object", name, field);
	*out = calloc(json_object_size(v) + 1, sizeof **out);
	if (!*out)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	const char *k;
	json_t *e;
	json_object_foreach(v, k, e) {
		if (integer ? !json_is_integer(e) || json_integer_value(e) <= 0 || json_integer_value(e) > 1 << 20
		            : !json_is_number(e))
			return qt_err_set(err, QT_EDATA, "%s: %s[\"%s\"] is not a %s", name, field, k,
			                  integer ? "positive integer" : "number");
		if (!((*out)[*n].key = strdup(k)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		(*out)[(*n)++].value = json_number_value(e);
	}
	return 0;
}

/* Fields whose presence (any "set" value) means a feature we do not implement. */
static const struct {
	const char *field, *why;
} refused[] = {
	{ "use_dora",                "DoRA (weight-decomposed LoRA) is not implemented" },
	{ "lora_bias",               "LoRA biases are not implemented" },
	{ "modules_to_save",         "fully trained extra modules are not supported" },
	{ "fan_in_fan_out",          "fan_in_fan_out is for Conv1D models, not Llama" },
	{ "layer_replication",       "layer replication is not supported" },
	{ "target_parameters",       "parameter targets are not supported" },
	{ "trainable_token_indices", "trainable tokens are not supported" },
	{ "use_qalora",              "QA-LoRA is not supported" },
	{ "alora_invocation_tokens", "activated LoRA is not supported" },
	{ "use_bdlora",              "this LoRA variant is not supported" },
};

/* A positive integer field (absent or null: 0). */
static int pos_int(json_t *o, const char *key, int *out, const char *name, struct qt_err *err)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1 << 24)
		return qt_err_set(err, QT_EDATA, "%s: %s is not a positive integer", name, key);
	*out = (int)json_integer_value(v);
	return 0;
}

/* PrefixTuningConfig: the table as PEFT saves it (with prefix_projection: the MLP output). */
static int parse_prefix(struct adapter_config *c, json_t *o, const char *name,
                        struct qt_err *err)
{
	int st, sub;
	if ((st = pos_int(o, "num_virtual_tokens", &c->prefix, name, err)) ||
	    (st = pos_int(o, "token_dim", &c->prefix_token_dim, name, err)) ||
	    (st = pos_int(o, "num_layers", &c->prefix_layers, name, err)) ||
	    (st = pos_int(o, "num_attention_heads", &c->prefix_heads, name, err)) ||
	    (st = pos_int(o, "num_transformer_submodules", &sub, name, err)))
		return st;
	if (!c->prefix || !c->prefix_token_dim || !c->prefix_layers)
		return qt_err_set(err, QT_EDATA, "%s: PREFIX_TUNING needs num_virtual_tokens, "
		                  "token_dim and num_layers", name);
	if (sub > 1)
		return qt_err_set(err, QT_EDATA, "%s: num_transformer_submodules %d: only decoder-only "
		                  "models (1)", name, sub);
	json_t *pp = json_object_get(o, ADAPTER_PREFIX_POSITIONS_KEY);
	if (pp && !json_is_null(pp) && !(json_is_integer(pp) && json_integer_value(pp) == 0))
		return qt_err_set(err, QT_EDATA, "%s: " ADAPTER_PREFIX_POSITIONS_KEY " is not 0 "
		                  "(positions from 0; absent: after the prefix)", name);
	c->prefix_pos0 = pp && json_is_integer(pp);
	/* with the projection, PEFT saves the table the MLP made: read as any table */
	c->prefix_projection = json_is_true(json_object_get(o, "prefix_projection"));
	if ((st = pos_int(o, "encoder_hidden_size", &c->prefix_hidden, name, err)))
		return st;
	json_t *v = json_object_get(o, "task_type");
	if (json_is_string(v) && !(c->task_type = strdup(json_string_value(v))))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	v = json_object_get(o, "base_model_name_or_path");
	if (json_is_string(v) && !(c->base_model_name_or_path = strdup(json_string_value(v))))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	return 0;
}

static int parse_obj(struct adapter_config *c, json_t *o, const char *name, struct qt_err *err)
{
	json_t *v = json_object_get(o, "peft_type");
	if (!json_is_string(v))
		return qt_err_set(err, QT_EDATA, "%s: peft_type missing or not a string", name);
	if (strcmp(json_string_value(v), "PREFIX_TUNING") == 0)
		return parse_prefix(c, o, name, err);
	if (strcmp(json_string_value(v), "LORA") != 0)
		return qt_err_set(err, QT_EDATA, "%s: peft_type \"%s\" is not supported (LORA, "
		                  "PREFIX_TUNING)", name, json_string_value(v));
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (is_set(json_object_get(o, refused[i].field)))
			return qt_err_set(err, QT_EDATA, "%s: %s is set: %s", name, refused[i].field,
			                  refused[i].why);
	v = json_object_get(o, "bias");
	if (v && !json_is_null(v) && (!json_is_string(v) || strcmp(json_string_value(v), "none")))
		return qt_err_set(err, QT_EDATA, "%s: bias is not \"none\": LoRA biases are not "
		                  "implemented", name);
	c->r = 8;  /* LoraConfig defaults */
	c->lora_alpha = 8;
	if ((v = json_object_get(o, "r")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1 << 20)
			return qt_err_set(err, QT_EDATA, "%s: r is not a positive integer", name);
		c->r = (int)json_integer_value(v);
	}
	if ((v = json_object_get(o, "lora_alpha")) && !json_is_null(v)) {
		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return qt_err_set(err, QT_EDATA, "%s: lora_alpha is not a number", name);
		c->lora_alpha = json_number_value(v);
	}
	if ((v = json_object_get(o, "lora_dropout")) && !json_is_null(v)) {
		if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 1))
			return qt_err_set(err, QT_EDATA, "%s: lora_dropout is not a number in [0, 1)", name);
		c->lora_dropout = json_number_value(v);
	}
	if ((v = json_object_get(o, "use_rslora")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return qt_err_set(err, QT_EDATA, "%s: use_rslora is not a boolean", name);
		c->use_rslora = json_is_true(v);
	}
	const char *sf[] = { "base_model_name_or_path", "task_type" };
	char **sd[] = { &c->base_model_name_or_path, &c->task_type };
	for (int i = 0; i < 2; i++) {
		v = json_object_get(o, sf[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return qt_err_set(err, QT_EDATA, "%s: %s is not a string", name, sf[i]);
		if (json_is_string(v) && !(*sd[i] = strdup(json_string_value(v))))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	v = json_object_get(o, "target_modules");
	int st = get_names(v, "target_modules", name, &c->target_regex, &c->target_names,
	                   &c->n_target_names, err);
	if (st)
		return st;
	if (!v || json_is_null(v) || (c->target_regex && !strcmp(c->target_regex, "all-linear"))) {
		/* null: PEFT's default for llama and phi3 (utils/constants.py: q_proj and v_proj,
		 * qkv_proj); "all-linear": every linear module but the output embedding
		 * (reference.md 6.3), fused ones included. A model has either the fused names or
		 * the others, so one list serves both. */
		int all = v && !json_is_null(v);
		free(c->target_regex);
		c->target_regex = NULL;
		c->target_names = calloc(ADAPTER_N_MODULES + 2, sizeof *c->target_names);
		if (!c->target_names)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		for (int m = 0; m < ADAPTER_N_MODULES; m++)
			if (all || m == ADAPTER_Q || m == ADAPTER_V)
				c->target_names[c->n_target_names++] = strdup(adapter_module_name[m]);
		c->target_names[c->n_target_names++] = strdup("qkv_proj");
		if (all)
			c->target_names[c->n_target_names++] = strdup("gate_up_proj");
		for (size_t i = 0; i < c->n_target_names; i++)
			if (!c->target_names[i])
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	if ((st = get_names(json_object_get(o, "exclude_modules"), "exclude_modules", name,
	                    &c->exclude_regex, &c->exclude_names, &c->n_exclude_names, err)))
		return st;
	if ((v = json_object_get(o, "layers_to_transform")) && !json_is_null(v)) {
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		if (!json_is_array(v) || n > 0) {
			c->layers = calloc(n, sizeof *c->layers);
			if (!c->layers)
				return qt_err_set(err, QT_ESOFTWARE, "out of memory");
			for (size_t i = 0; i < n; i++) {
				json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
				if (!json_is_integer(e) || json_integer_value(e) < 0 ||
				    json_integer_value(e) > 1 << 20)
					return qt_err_set(err, QT_EDATA, "%s: layers_to_transform holds a "
					                  "non-integer", name);
				c->layers[c->n_layers++] = (int)json_integer_value(e);
			}
		}
	}
	if ((v = json_object_get(o, "layers_pattern")) && is_set(v)) {
		int ok = json_is_string(v) && !strcmp(json_string_value(v), "layers");
		for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);
			ok |= json_is_string(e) && !strcmp(json_string_value(e), "layers");
		}
		if (!ok)
			return qt_err_set(err, QT_EDATA, "%s: layers_pattern does not name \"layers\" "
			                  "(Llama's layer list)", name);
	}
	if ((st = get_patterns(json_object_get(o, "rank_pattern"), "rank_pattern", name, 1,
	                       &c->rank_pattern, &c->n_rank_pattern, err)))
		return st;
	return get_patterns(json_object_get(o, "alpha_pattern"), "alpha_pattern", name, 0,
	                    &c->alpha_pattern, &c->n_alpha_pattern, err);
}

int adapter_config_parse(struct adapter_config *c, const char *json, size_t len,
                         const char *name, struct qt_err *err)
{
	memset(c, 0, sizeof *c);
	json_error_t je;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return qt_err_set(err, QT_EDATA, "%s:%d:%d: %s", name, je.line, je.column, je.text);
	int st = json_is_object(o) ? parse_obj(c, o, name, err)
	                           : qt_err_set(err, QT_EDATA, "%s: not a JSON object", name);
	json_decref(o);
	if (st)
		adapter_config_free(c);
	return st;
}

/* ---- adapter_config.json: writing ---- */

/* Digits %.*g needs for x to read back exactly (Python's repr gives the same text). */
static int digits_for(double x)
{
	char b[40];
	for (int p = 1; p < 17; p++) {
		snprintf(b, sizeof b, "%.*g", p, x);
		if (strtod(b, NULL) == x)
			return p;
	}
	return 17;
}

/* alpha as an integer when it is one (PEFT keeps the int a user passed), else a real. */
static json_t *number(double x, int *prec)
{
	if (x == floor(x) && fabs(x) < 1e15)
		return json_integer((json_int_t)x);
	int p = digits_for(x);
	if (p > *prec)
		*prec = p;
	return json_real(x);
}

/* 1 when layer l adapts exactly the modules of mask. */
static unsigned layer_mask(const struct adapter *a, int l)
{
	unsigned mask = 0;
	for (int m = 0; m < ADAPTER_N_MODULES; m++)
		if (adapter_at(a, l, m)->r)
			mask |= 1u << m;
	return mask;
}

/* PrefixTuningConfig as PEFT 0.21 writes it (inference_mode true). */
static char *dump_prefix(const struct adapter *a)
{
	const struct adapter_config *c = &a->cfg;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "auto_mapping", json_null());
	json_object_set_new(o, "base_model_name_or_path", c->base_model_name_or_path
	                    ? json_string(c->base_model_name_or_path) : json_null());
	json_object_set_new(o, "encoder_hidden_size", json_integer(c->prefix_hidden
	                                                           ? c->prefix_hidden
	                                                           : a->dims.kv_dim));
	json_object_set_new(o, "inference_mode", json_true());
	json_object_set_new(o, "init_weights", json_null());
	json_object_set_new(o, "modules_to_save", json_null());
	json_object_set_new(o, "num_attention_heads", json_integer(c->prefix_heads));
	json_object_set_new(o, "num_layers", json_integer(a->dims.n_layers));
	json_object_set_new(o, "num_transformer_submodules", json_integer(1));
	json_object_set_new(o, "num_virtual_tokens", json_integer(a->prefix_len));
	json_object_set_new(o, "peft_type", json_string("PREFIX_TUNING"));
	json_object_set_new(o, "prefix_projection", json_boolean(c->prefix_projection));
	if (c->prefix_pos0)
		json_object_set_new(o, ADAPTER_PREFIX_POSITIONS_KEY, json_integer(0));
	json_object_set_new(o, "revision", json_null());
	json_object_set_new(o, "task_type", json_string(c->task_type ? c->task_type : "CAUSAL_LM"));
	json_object_set_new(o, "token_dim", json_integer(a->dims.kv_dim));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

char *adapter_config_dump(const struct adapter *a)
{
	if (a->prefix_len)
		return dump_prefix(a);
	const struct adapter_config *c = &a->cfg;
	int prec = 1;
	json_t *o = json_object(), *tm = json_array(), *rp = json_object(), *ap = json_object();
	if (!o || !tm || !rp || !ap) {
		json_decref(o), json_decref(tm), json_decref(rp), json_decref(ap);
		return NULL;
	}
	unsigned mask0 = a->dims.n_layers ? layer_mask(a, 0) : 0;
	int uniform = 1;
	for (int l = 1; l < a->dims.n_layers; l++)
		uniform &= layer_mask(a, l) == mask0;
	char path[128];
	for (int m = 0; m < ADAPTER_N_MODULES && uniform; m++)
		if (mask0 >> m & 1)
			json_array_append_new(tm, json_string(adapter_module_name_of(&a->dims, m)));
	for (int l = 0; l < a->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p = adapter_at(a, l, m);
			if (!p->r)
				continue;
			adapter_module_path(path, sizeof path, &a->dims, l, m);
			if (!uniform)
				json_array_append_new(tm, json_string(path));
			if (p->r != c->r)
				json_object_set_new(rp, path, json_integer(p->r));
			if (p->alpha != c->lora_alpha)
				json_object_set_new(ap, path, number(p->alpha, &prec));
		}
	if (json_object_size(ap))  /* absent when empty: PEFT < 0.6 does not know the field */
		json_object_set_new(o, "alpha_pattern", ap);
	else
		json_decref(ap);
	json_object_set_new(o, "base_model_name_or_path", c->base_model_name_or_path
	                    ? json_string(c->base_model_name_or_path) : json_null());
	json_object_set_new(o, "bias", json_string("none"));
	json_object_set_new(o, "fan_in_fan_out", json_false());
	json_object_set_new(o, "inference_mode", json_true());
	json_object_set_new(o, "init_lora_weights", json_true());
	json_object_set_new(o, "lora_alpha", number(c->lora_alpha, &prec));
	int pd = digits_for(c->lora_dropout);
	prec = pd > prec ? pd : prec;
	json_object_set_new(o, "lora_dropout", json_real(c->lora_dropout));
	json_object_set_new(o, "modules_to_save", json_null());
	json_object_set_new(o, "peft_type", json_string("LORA"));
	json_object_set_new(o, "r", json_integer(c->r));
	if (json_object_size(rp))
		json_object_set_new(o, "rank_pattern", rp);
	else
		json_decref(rp);
	json_object_set_new(o, "revision", json_null());
	json_object_set_new(o, "target_modules", tm);
	json_object_set_new(o, "task_type", json_string(c->task_type ? c->task_type : "CAUSAL_LM"));
	json_object_set_new(o, "use_rslora", json_boolean(c->use_rslora));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(prec));
	json_decref(o);
	return s;
}
