/* qlora-tools: ISC license. */
/* The lora-train loop; see train.h. */
#include "formats/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/progress.h"
#include "common/rng.h"
#include "formats/adapter.h"
#include "formats/llama_load.h"
#include "formats/modeldir.h"
#include "formats/pack.h"
#include "kernels/adamw.h"
#include "kernels/embedding.h"
#include "kernels/llama_train.h"

double train_lr_multiplier(enum train_schedule s, long k, long W, long T)
{
	long step = k - 1; /* LambdaLR is stepped after the optimizer (reference.md 7.3) */
	if (s == TRAIN_CONSTANT)
		return 1.0;
	if (step < W)
		return (double)step / (double)(W > 1 ? W : 1);
	if (s == TRAIN_CONSTANT_WARMUP)
		return 1.0;
	double rest = (double)(T - W > 1 ? T - W : 1);
	if (s == TRAIN_LINEAR) {
		double v = (double)(T - step) / rest;
		return v > 0 ? v : 0;
	}
	double p = (double)(step - W) / rest;
	double v = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * p));
	return v > 0 ? v : 0;
}

/* ids, positions restarting per segment, and shifted targets of one block. */
static uint64_t block_inputs(const struct pack_block *b, int32_t *ids, int32_t *pos,
                             int32_t *seg, int32_t *tgt)
{
	int T = (int)b->seq_len;
	uint64_t n = 0;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)b->ids[t];
		seg[t] = b->seg[t];
		pos[t] = (t > 0 && b->seg[t] == b->seg[t - 1]) ? pos[t - 1] + 1 : 0;
	}
	for (int t = 0; t < T; t++) {
		/* Position t predicts token t+1 when that token is trained (pack clears the mask on
		 * every segment start, so no target crosses samples). */
		tgt[t] = (t + 1 < T && b->mask[t + 1]) ? (int32_t)b->ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	return n;
}

struct state {
	struct adapter lora, grad, m1, m2;
	int32_t *ids, *pos, *seg, *tgt;
};

static void zero_grads(struct adapter *g)
{
	for (int i = 0; i < g->dims.n_layers * ADAPTER_N_MODULES; i++)
		if (g->lora[i].A) {
			memset(g->lora[i].A, 0, (size_t)g->lora[i].r * g->lora[i].in * sizeof(float));
			memset(g->lora[i].B, 0, (size_t)g->lora[i].out * g->lora[i].r * sizeof(float));
		}
}

/* PEFT's default init: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
static void init_lora(struct adapter *a, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct adapter_lora *l = &a->lora[i];
		if (!l->A)
			continue;
		double bound = 1.0 / sqrt((double)l->in);
		for (size_t k = 0; k < (size_t)l->r * l->in; k++)
			l->A[k] = (float)((2.0 * qt_rng_double(&r) - 1.0) * bound);
	}
}

static double eval_loss(const struct llama_model *m, const struct adapter *lora,
                        struct llama_train_ws *ws, const struct pack_file *pf, struct state *s,
                        struct qt_err *err)
{
	double sum = 0;
	uint64_t n = 0;
	for (uint64_t i = 0; i < pf->h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(pf, i, &b);
		n += block_inputs(&b, s->ids, s->pos, s->seg, s->tgt);
		if (llama_train_block(m, lora, NULL, ws, s->ids, s->pos, s->seg, s->tgt,
		                      (int)b.seq_len, 0, 0, 0, &sum, err) != QT_OK)
			return NAN;
	}
	return n ? sum / (double)n : NAN;
}

int train_run(const struct train_opts *o, struct train_stats *st, struct qt_err *err)
{
	struct model_dir md = { 0 };
	struct llama_model m = { 0 };
	struct pack_file tr = { 0 }, va = { 0 };
	struct state s;
	struct llama_train_ws *ws = NULL;
	FILE *log = NULL;
	char *log_path = NULL;
	int rc, has_val = 0;
	memset(&s, 0, sizeof s);
	memset(st, 0, sizeof *st);
	st->final_eval_loss = NAN;
	if ((rc = model_dir_open(&md, o->model_dir, MODEL_DIR_NO_TOKENIZER, err)) ||
	    (rc = llama_load(&m, &md, err)) || (rc = pack_open(&tr, o->train_pack, err)))
		goto out;
	m.n_threads = o->threads;
	if (o->val_pack) {
		if ((rc = pack_open(&va, o->val_pack, err)))
			goto out;
		has_val = 1;
	}
	if (tr.h.vocab_size > (uint32_t)m.cfg.V) {
		rc = qt_err_set(err, QT_EDATA, "%s: vocab size %u exceeds the model's %d",
		                o->train_pack, tr.h.vocab_size, m.cfg.V);
		goto out;
	}
	if ((rc = pack_verify(&tr, err)) || (has_val && (rc = pack_verify(&va, err))))
		goto out;
	/* The adapter config, as PEFT writes it for these options. */
	char cfg_json[1024];
	const char *all = "[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\",\"gate_proj\",\"up_proj\",\"down_proj\"]";
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
	         "\"lora_dropout\":0.0,\"use_rslora\":%s,\"bias\":\"none\",\"fan_in_fan_out\":false,"
	         "\"target_modules\":%s,\"base_model_name_or_path\":null}",
	         o->rank, o->alpha, o->rslora ? "true" : "false",
	         strcmp(o->targets, "all-linear") ? list : all);
	struct adapter_config cfg;
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	if (o->init_adapter) {
		/* Start from a given adapter: its config decides modules, ranks and scalings. */
		if ((rc = adapter_load(&s.lora, o->init_adapter, &dims, err)))
			goto out;
		rc = adapter_init(&s.grad, &s.lora.cfg, &dims, err);
	} else {
		if ((rc = adapter_config_parse(&cfg, cfg_json, strlen(cfg_json), "options", err)))
			goto out;
		rc = adapter_init(&s.lora, &cfg, &dims, err);
		if (!rc) rc = adapter_init(&s.grad, &cfg, &dims, err);
		adapter_config_free(&cfg);
		if (!rc) init_lora(&s.lora, o->seed);
	}
	if (!rc) rc = adapter_init(&s.m1, &s.lora.cfg, &dims, err);
	if (!rc) rc = adapter_init(&s.m2, &s.lora.cfg, &dims, err);
	if (rc)
		goto out;
	int T = (int)tr.h.seq_len, Tv = has_val ? (int)va.h.seq_len : 0;
	int Tmax = T > Tv ? T : Tv, rmax = 1;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
		rmax = s.lora.lora[i].r > rmax ? s.lora.lora[i].r : rmax;
	ws = llama_train_ws_new(&m, Tmax, rmax);
	s.ids = malloc((size_t)Tmax * 4);
	s.pos = malloc((size_t)Tmax * 4);
	s.seg = malloc((size_t)Tmax * 4);
	s.tgt = malloc((size_t)Tmax * 4);
	if (!ws || !s.ids || !s.pos || !s.seg || !s.tgt) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory for training");
		goto out;
	}
	st->activation_bytes = llama_train_ws_bytes(ws);
	mkdir(o->out_dir, 0755);
	log_path = qt_path_join(o->out_dir, "log.jsonl");
	if (!(log = fopen(log_path, "w"))) {
		rc = qt_err_set(err, QT_ECANTCREAT, "%s:", log_path);
		goto out;
	}
	long per_step = (long)o->micro_batch * o->grad_accum;
	long total = o->max_steps > 0 ? o->max_steps
	           : (long)ceil(o->epochs * (double)((tr.h.n_blocks + per_step - 1) / per_step));
	if (total < 1)
		total = 1;
	long warm = o->warmup_steps >= 0 ? o->warmup_steps : (long)ceil(total * o->warmup_ratio);
	double t0 = qt_now(), loss = NAN;
	uint64_t tokens = 0, next_block = 0;
	struct qt_progress pg;
	qt_progress_begin(&pg, "steps", (uint64_t)total);
	for (long k = 1; k <= total; k++) {
		/* The blocks of this step and their trained-target count N_step (reference 7.6). */
		uint64_t first = next_block, n_step = 0;
		for (long i = 0; i < per_step; i++) {
			struct pack_block b;
			pack_get_block(&tr, (first + (uint64_t)i) % tr.h.n_blocks, &b);
			n_step += block_inputs(&b, s.ids, s.pos, s.seg, s.tgt);
		}
		next_block = (first + (uint64_t)per_step) % tr.h.n_blocks;
		zero_grads(&s.grad);
		double sum = 0;
		for (long i = 0; i < per_step && n_step; i++) {
			struct pack_block b;
			pack_get_block(&tr, (first + (uint64_t)i) % tr.h.n_blocks, &b);
			block_inputs(&b, s.ids, s.pos, s.seg, s.tgt);
			float mag = o->neftune_alpha > 0
			          ? neftune_magnitude(o->neftune_alpha, (long)b.seq_len, m.cfg.C) : 0;
			if ((rc = llama_train_block(&m, &s.lora, &s.grad, ws, s.ids, s.pos, s.seg, s.tgt,
			                            (int)b.seq_len, (float)(1.0 / (double)n_step), mag,
			                            o->seed ^ ((uint64_t)k << 20 | (uint64_t)i), &sum, err)))
				goto out;
		}
		tokens += n_step;
		loss = n_step ? sum / (double)n_step : NAN;
		double sumsq = 0;
		int nt = s.lora.dims.n_layers * ADAPTER_N_MODULES;
		for (int i = 0; i < nt; i++)
			if (s.grad.lora[i].A) {
				grad_sumsq(&sumsq, s.grad.lora[i].A, (size_t)s.grad.lora[i].r * s.grad.lora[i].in);
				grad_sumsq(&sumsq, s.grad.lora[i].B, (size_t)s.grad.lora[i].out * s.grad.lora[i].r);
			}
		float gnorm = 0, coef = o->max_grad_norm > 0 ? grad_clip_coef(sumsq, o->max_grad_norm,
		                                                              &gnorm) : 1.0f;
		if (o->max_grad_norm <= 0)
			gnorm = (float)sqrt(sumsq);
		double lr = o->lr * train_lr_multiplier(o->schedule, k, warm, total);
		struct adamw_hparams hp;
		adamw_hparams_init(&hp, lr, o->beta1, o->beta2, o->eps, o->weight_decay, k);
		for (int i = 0; i < nt; i++) {
			struct adapter_lora *p = &s.lora.lora[i], *g = &s.grad.lora[i];
			if (!p->A)
				continue;
			size_t na = (size_t)p->r * p->in, nb = (size_t)p->out * p->r;
			if (coef < 1.0f) {
				grad_scale(g->A, na, coef);
				grad_scale(g->B, nb, coef);
			}
			adamw_step(p->A, g->A, s.m1.lora[i].A, s.m2.lora[i].A, na, &hp);
			adamw_step(p->B, g->B, s.m1.lora[i].B, s.m2.lora[i].B, nb, &hp);
		}
		double el = qt_now() - t0;
		if (k % o->log_every == 0 || k == total)
			fprintf(log, "{\"step\":%ld,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f,"
			        "\"tokens\":%llu,\"tokens_per_s\":%.1f}\n", k, loss, lr, gnorm,
			        (unsigned long long)tokens, el > 0 ? tokens / el : 0.0);
		if (has_val && (k % o->eval_every == 0 || k == total)) {
			double ev = eval_loss(&m, &s.lora, ws, &va, &s, err);
			st->final_eval_loss = ev;
			fprintf(log, "{\"step\":%ld,\"eval_loss\":%.6f}\n", k, ev);
			qt_info(3, "step %ld: eval loss %.4f", k, ev);
		}
		fflush(log);
		qt_info(3, "step %ld/%ld: loss %.4f lr %.3g grad_norm %.3f", k, total, loss, lr, gnorm);
		if (o->save_every > 0 && k % o->save_every == 0 && k != total) {
			char name[64];
			snprintf(name, sizeof name, "checkpoint-%ld", k);
			char *dir = qt_path_join(o->out_dir, name);
			rc = dir ? adapter_save(&s.lora, dir, QT_DTYPE_F32, err) : QT_ESOFTWARE;
			free(dir);
			if (rc)
				goto out;
		}
		qt_progress_update(&pg, (uint64_t)k);
		st->steps = k;
	}
	qt_progress_end(&pg);
	st->seconds = qt_now() - t0;
	st->tokens_per_s = st->seconds > 0 ? tokens / st->seconds : 0;
	st->final_loss = loss;
	fclose(log);
	log = NULL;
	char *dir = qt_path_join(o->out_dir, "adapter");
	rc = dir ? adapter_save(&s.lora, dir, QT_DTYPE_F32, err) : QT_ESOFTWARE;
	free(dir);
out:
	if (log)
		fclose(log);
	free(log_path);
	llama_train_ws_free(ws);
	free(s.ids); free(s.pos); free(s.seg); free(s.tgt);
	if (s.lora.lora) adapter_free(&s.lora);
	if (s.grad.lora) adapter_free(&s.grad);
	if (s.m1.lora) adapter_free(&s.m1);
	if (s.m2.lora) adapter_free(&s.m2);
	if (has_val) pack_close(&va);
	if (tr.name) pack_close(&tr);
	llama_free(&m);
	model_dir_close(&md);
	return rc;
}
