/* qlora-tools: ISC license. */
/* The adapter a lora-train run starts from; see lora_train_state.h. */
#include "jobs/lora_train_state.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"
#include "jobs/lora_train_prefix.h"

/* PEFT's default init: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
static void init_lora(struct adapter *a, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a->lora[i];
		if (!l->A)
			continue;
		double bound = 1.0 / sqrt((double)l->in);
		for (size_t k = 0; k < (size_t)l->r * l->in; k++)
			l->A[k] = (float)((2.0 * qt_rng_double(&r) - 1.0) * bound);
	}
}

int train_new_adapter(const struct train_opts *o, struct train_state *s,
                      const struct adapter_dims *dims, struct qt_err *err)
{
	if (o->init_adapter)
		return adapter_load(&s->lora, o->init_adapter, dims, err);
	if (o->prefix)
		return prefix_new_adapter(o, &s->lora, dims, s->m.cfg.NKV, err);
	char cfg_json[1024];
	const char *all = "\"all-linear\"";
	char list[512] = "[";
	if (strcmp(o->targets, "all-linear") != 0) {
		const char *p = o->targets;
		while (*p) {
			size_t n = strcspn(p, ",");
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%.*s\"",
			         list[1] ? "," : "", (int)n, p);
			p += n + (p[n] == ',');
		}
		strcat(list, "]");
	}
	snprintf(cfg_json, sizeof cfg_json,
	         "{\"peft_type\":\"LORA\",\"task_type\":\"CAUSAL_LM\",\"r\":%d,\"lora_alpha\":%.17g,"
	         "\"lora_dropout\":%.17g,\"use_rslora\":%s,\"bias\":\"none\",\"fan_in_fan_out\":false,"
	         "\"target_modules\":%s,\"base_model_name_or_path\":null}",
	         o->rank, o->alpha, o->dropout, o->rslora ? "true" : "false",
	         strcmp(o->targets, "all-linear") ? list : all);
	struct adapter_config cfg;
	int rc = adapter_config_parse(&cfg, cfg_json, strlen(cfg_json), "options", err);
	if (rc)
		return rc;
	rc = adapter_init(&s->lora, &cfg, dims, err);
	adapter_config_free(&cfg);
	if (rc)
		return rc;
	/* A rank above a layer's smaller side adds parameters and no capacity: a mistake. */
	for (int m = 0; m < ADAPTER_N_MODULES; m++) {
		int in, out;
		adapter_module_shape(dims, m, &in, &out);
		if (adapter_at(&s->lora, 0, m)->A && (o->rank > in || o->rank > out))
			return qt_err_set(err, QT_EDATA, "--rank %d: larger than %s (%d -> %d) of %s",
			                  o->rank, adapter_module_name_of(dims, m), in, out, o->model_dir);
	}
	init_lora(&s->lora, o->seed);
	return rc;
}
