/* qlora-tools: ISC license. */
/* The lora-train loop; see lora_train.h. */
#include "jobs/lora_train.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crashpoint.h"
#include "common/dist.h"
#include "common/half.h"
#include "common/hash.h"
#include "common/io.h"
#include "common/meminfo.h"
#include "common/progress.h"
#include "common/rng.h"
#include "formats/adapter.h"
#include "formats/lora_checkpoint.h"
#include "formats/model_dir.h"
#include "formats/pack.h"
#include "jobs/llama_load.h"
#include "jobs/lora_train_eval.h"
#include "jobs/lora_train_prefix.h"
#include "kernels/adamw.h"
#include "kernels/device.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/model/llama_train.h"

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

uint64_t train_block_index(uint64_t g, uint64_t n, int shuffle, uint64_t seed, uint64_t *perm,
                           int64_t *perm_epoch)
{
	uint64_t e = g / n, i = g % n;
	if (!shuffle)
		return i;
	if (*perm_epoch != (int64_t)e) {
		struct qt_rng r;
		qt_rng_seed(&r, seed + e);
		for (uint64_t j = 0; j < n; j++)
			perm[j] = j;
		qt_rng_shuffle(&r, perm, n, sizeof *perm);
		*perm_epoch = (int64_t)e;
	}
	return perm[i];
}

/* ids, positions restarting per segment, and shifted targets of one block; returns the
 * trained targets, *input the non-padding tokens. */
static uint64_t block_inputs(const struct pack_block *b, int32_t *ids, int32_t *pos,
                             int32_t *seg, int32_t *tgt, uint64_t *input)
{
	int T = (int)b->seq_len;
	uint64_t n = 0, in = 0;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)b->ids[t];
		seg[t] = b->seg[t];
		pos[t] = (t > 0 && b->seg[t] == b->seg[t - 1]) ? pos[t - 1] + 1 : 0;
		in += b->seg[t] != 0;
	}
	for (int t = 0; t < T; t++) {
		/* Position t predicts token t+1 when that token is trained (pack clears the mask on
		 * every segment start, so no target crosses samples). */
		tgt[t] = (t + 1 < T && b->mask[t + 1]) ? (int32_t)b->ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	if (input)
		*input = in;
	return n;
}

/* The trainable tensors of an adapter (adapter_tensors), listed once: the pairs' A and B, then
 * a prefix table; the gradient and moment adapters list theirs in the same order. */
struct tensors {
	size_t  n;
	float **p;
	size_t *len;
	char   *bias;  /* a bias (the projection MLP's): no weight decay */
};

struct state {
	struct model_dir md;
	struct llama_model m;
	struct pack_file tr, va;
	int has_val;
	struct adapter lora, grad, m1, m2;
	struct adapter gblk;         /* > 1 block per rank and step: one block's gradient */
	/* The model and the tables it trains, in the memory of the backend: on the CPU the
	 * loaded model and views of the adapters above; on a device, copies there (dm and the
	 * tables owned, brought back to the adapters by sync_host). */
	const struct qt_backend *be;
	struct llama_model dm;
	const struct llama_model *run_m;
	struct lora_table pt, gt, bt, m1t, m2t; /* lora, grad, gblk, m1, m2 */
	struct tensors tl, tg, t1, t2, tb; /* their tensors, in the backend's memory */
	double *sumsq;               /* (1) in the backend's memory */
	float *flat;                 /* CPU, > 1 rank: the gradients in one buffer to all-reduce */
	size_t n_flat;
	struct llama_train_ws *ws;
	struct prefix_train pfx;     /* prefix: dropout and projection buffers, in the backend */
	int32_t *ids, *pos, *seg, *tgt;
	uint64_t *perm, *bi;
	int64_t perm_epoch;
	char *out_dir, *options;
	FILE *log;
	int lock_fd;                 /* OUT/.lock held for the run, -1 before */
	int kept;                    /* layers whose activations the workspace keeps */
};


/* The tensors the model trains: those of adapter a on the CPU, of its copy lt on a device (the
 * same list: pairs, then the prefix MLP's or the prefix table). */
static int tensors_of(const struct state *s, const struct adapter *a,
                      const struct lora_table *lt, struct tensors *t, struct qt_err *err)
{
	int host = s->be->host;
	t->n = host ? adapter_tensors(a, NULL, NULL, 0) : (size_t)lora_table_tensors(lt, NULL, NULL, 0);
	t->p = malloc((t->n + 1) * sizeof *t->p);
	t->len = malloc((t->n + 1) * sizeof *t->len);
	t->bias = calloc(t->n + 1, 1);
	if (!t->p || !t->len || !t->bias)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (host)
		adapter_tensors(a, t->p, t->len, t->n);
	else
		lora_table_tensors(lt, t->p, t->len, (int)t->n);
	for (int i = 0; a->mlp.emb && i < ADAPTER_MLP_N; i++) /* listed last */
		t->bias[t->n - ADAPTER_MLP_N + (size_t)i] = (char)adapter_mlp_is_bias(i);
	return QT_OK;
}

static void tensors_free(struct tensors *t)
{
	free(t->p);
	free(t->len);
	free(t->bias);
	memset(t, 0, sizeof *t);
}

static void zero_grads(const struct state *s, const struct tensors *g)
{
	for (size_t i = 0; i < g->n; i++)
		s->be->zero(g->p[i], g->len[i] * sizeof(float));
}

static int backend_fail(const struct state *s, const char *what, struct qt_err *err)
{
	const char *e = s->be->error();
	qt_err_set(err, QT_ESOFTWARE, "%s: %s: %s", s->be->name, what, e ? e : "failed");
	s->be->error_clear();
	return QT_ESOFTWARE;
}

/* How many layers keep their activations for the backward pass: as many as fit in budget
 * bytes (the rest are recomputed). Auto (budget < 0) gives them an eighth of the memory
 * available at the start on the host (all of a small model's layers, part of a 7B's at long
 * blocks), none on a device, whose free memory the backend table does not report. Which layers
 * are kept never changes a value. */
static int kept_layers(const struct llama_model *m, const struct qt_backend *be, int T, int R,
                       long long budget)
{
	if (budget < 0) {
		long long avail = be->host ? qt_mem_available() : -1;
		budget = avail > 0 ? avail / 8 : 0;
	}
	size_t per = llama_train_layer_bytes(m, T, R);
	long long n = per ? budget / (long long)per : m->cfg.n_layer;
	return n > m->cfg.n_layer ? m->cfg.n_layer : (int)n;
}

/* The device's parameters and moments back into the host adapters (a checkpoint, the
 * result, evaluation by generation); nothing to do on the CPU. */
static int sync_host(struct state *s, struct qt_err *err)
{
	if (s->be->host)
		return QT_OK;
	if (lora_table_download(ADAPTER_TABLE(&s->lora), &s->pt, s->be) != 0 ||
	    lora_table_download(ADAPTER_TABLE(&s->m1), &s->m1t, s->be) != 0 ||
	    lora_table_download(ADAPTER_TABLE(&s->m2), &s->m2t, s->be) != 0)
		return backend_fail(s, "downloading the adapter", err);
	return QT_OK;
}

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

/* One block (already in s->ids ...) on the backend; grad (s->gt or s->bt) NULL: loss only.
 * pseed: the block's --prefix-dropout mask. */
static int run_block(struct state *s, struct lora_table *grad, int T, float grad_scale,
                     float mag, uint64_t seed, const struct llama_train_dropout *drop,
                     uint64_t pseed, double *sum, struct qt_err *err)
{
	if (!s->pt.prefix)
		return llama_train_block(s->run_m, &s->pt, grad, s->ws, s->ids, s->pos, s->seg, s->tgt,
		                         T, grad_scale, mag, seed, drop, sum, err);
	/* grad's prefix gradient is this block's alone (gt, or bt added to it after) */
	struct lora_table lt = s->pt;
	lt.prefix = (float *)prefix_train_table(&s->pfx, &s->pt, grad, pseed);
	int rc = llama_train_block(s->run_m, &lt, grad, s->ws, s->ids, s->pos, s->seg, s->tgt, T,
	                           grad_scale, mag, seed, drop, sum, err);
	if (rc == QT_OK && grad)
		prefix_train_grad(&s->pfx, &s->pt, grad, pseed);
	return rc;
}

/* The gradients' sum of squares (a host double). */
static int grad_sumsq_all(struct state *s, double *sumsq, struct qt_err *err)
{
	const struct qt_backend *be = s->be;
	*sumsq = 0;
	be->zero(s->sumsq, sizeof *s->sumsq);
	for (size_t i = 0; i < s->tg.n; i++)
		be->grad_sumsq(s->sumsq, s->tg.p[i], s->tg.len[i]);
	if (be->download(sumsq, s->sumsq, sizeof *sumsq) != 0 || be->sync() != 0)
		return backend_fail(s, "gradient norm", err);
	return QT_OK;
}

/* Names (into buf) the first LoRA gradient tensor holding a NaN or infinity (CPU; on the device
 * the tensors are not read back, and buf says "a LoRA gradient"). */
static void nonfinite_grad_name(const struct state *s, char *buf, size_t n)
{
	snprintf(buf, n, "a LoRA gradient");
	for (int i = 0; s->be->host && s->grad.mlp.emb && i < ADAPTER_MLP_N; i++) {
		int64_t sh[2];
		const float *t = adapter_mlp_tensor(&s->grad.mlp, i, sh);
		size_t k = (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1);
		if (qt_first_nonfinite(t, QT_DTYPE_F32, k) < k) {
			snprintf(buf, n, "the gradient of the prefix encoder's %s", adapter_mlp_names[i]);
			return;
		}
	}
	if (s->be->host && s->grad.prefix && !s->grad.mlp.emb) {
		size_t np = (size_t)s->grad.prefix_len * adapter_prefix_width(&s->grad.dims);
		if (qt_first_nonfinite(s->grad.prefix, QT_DTYPE_F32, np) < np) {
			snprintf(buf, n, "the gradient of prompt_embeddings");
			return;
		}
	}
	for (int i = 0; s->be->host && i < s->grad.dims.n_layers * ADAPTER_N_MODULES; i++) {
		const struct lora_pair *g = &s->grad.lora[i];
		if (!g->A)
			continue;
		size_t na = (size_t)g->r * g->in, nb = (size_t)g->out * g->r;
		int ab = qt_first_nonfinite(g->A, QT_DTYPE_F32, na) < na ? 'A'
		       : qt_first_nonfinite(g->B, QT_DTYPE_F32, nb) < nb ? 'B' : 0;
		if (ab) {
			snprintf(buf, n, "the gradient of layers.%d.%s lora_%c",
			         i / ADAPTER_N_MODULES,
			         adapter_module_name_of(&s->grad.dims, i % ADAPTER_N_MODULES), ab);
			return;
		}
	}
}

/* The error that stops a run at step k on a non-finite loss or gradient (what, e.g. "loss nan"):
 * no update is applied, so the last checkpoint (step last_ckpt, 0: none) stays the last good
 * state to resume from. */
static int nonfinite_stop(long k, const char *what, long last_ckpt, const char *out_dir,
                          struct qt_err *err)
{
	if (last_ckpt > 0)
		return qt_err_set(err, QT_EDATA, "step %ld: %s is not finite: stopped before the "
		                  "update; the last good state is %s/checkpoint-%ld", k, what, out_dir,
		                  last_ckpt);
	return qt_err_set(err, QT_EDATA, "step %ld: %s is not finite: stopped before the update "
	                  "(no checkpoint written yet)", k, what);
}

/* Clipping by coef (when < 1) and one AdamW update of every LoRA tensor. */
static int update(struct state *s, float coef, const struct adamw_hparams *hp,
                  struct qt_err *err)
{
	const struct qt_backend *be = s->be;
	struct adamw_hparams nd = *hp;
	nd.decay = 1.0f; /* the HF Trainer decays no bias (the projection MLP's) */
	for (size_t i = 0; i < s->tl.n; i++) {
		if (coef < 1.0f)
			be->grad_scale(s->tg.p[i], s->tg.len[i], coef);
		be->adamw_step(s->tl.p[i], s->tg.p[i], s->t1.p[i], s->t2.p[i], s->tl.len[i],
		               s->tl.bias[i] ? &nd : hp);
	}
	prefix_train_refresh(&s->pfx, &s->pt); /* the projection's table after the update */
	return be->sync() == 0 ? QT_OK : backend_fail(s, "optimizer step", err);
}

/* Mean CE over the validation blocks; with several ranks each takes a contiguous share and
 * the sums are reduced in rank order (equal to one process's up to double rounding). *acc:
 * TRL's mean_token_accuracy with one block an eval batch: each block's share of label tokens
 * whose logits' argmax is the label (0 for a block without labels, as TRL), averaged over the
 * blocks; NaN where the backend cannot count them (llama_train_correct) or without blocks. */
static int eval_loss(struct state *s, double *loss, double *acc, struct qt_err *err)
{
	double sum[2] = { 0, 0 };
	uint64_t n[2] = { 0, 0 }, nb = s->va.h.n_blocks, P = (uint64_t)dist_size(),
	         r = (uint64_t)dist_rank();
	int counted = 1;
	for (uint64_t i = nb * r / P; i < nb * (r + 1) / P; i++) {
		struct pack_block b;
		pack_get_block(&s->va, i, &b);
		uint64_t nt = block_inputs(&b, s->ids, s->pos, s->seg, s->tgt, NULL);
		n[0] += nt;
		int rc = run_block(s, NULL, (int)b.seq_len, 0, 0, 0, NULL, 0, &sum[0], err);
		if (rc)
			return rc;
		long hit = nt ? llama_train_correct(s->run_m, s->ws, (int)b.seq_len) : 0;
		counted = counted && hit >= 0; /* -1: the backend cannot count them */
		sum[1] += hit > 0 ? (double)hit / (double)nt : 0;
		n[1]++;
	}
	dist_allreduce_f64(sum, 2);
	dist_allreduce_u64(n, 2);
	*loss = n[0] ? sum[0] / (double)n[0] : NAN;
	*acc = n[1] && counted ? sum[1] / (double)n[1] : NAN;
	return QT_OK;
}

/* ---- data parallelism (common/dist.h) ---- */

/* The one place where the step's gradients are complete: every rank's sum over the blocks of
 * its share, reduced over ranks in rank order (CPU) or by NCCL (device); afterwards every rank
 * holds the same gradients and takes the same optimizer step. */
static int reduce_grads(struct state *s, struct qt_err *err)
{
	if (dist_size() < 2)
		return QT_OK;
	if (!s->be->host) { /* NCCL on the device buffers */
		if (s->be->sync() != 0)
			return backend_fail(s, "gradients before the all-reduce", err);
		return dist_nccl_allreduce_f32(s->tg.p, s->tg.len, (int)s->tg.n, err);
	}
	size_t at = 0;
	for (int pass = 0; pass < 2; pass++) {
		at = 0;
		for (size_t i = 0; i < s->tg.n; i++) {
			if (pass == 0)
				memcpy(s->flat + at, s->tg.p[i], s->tg.len[i] * sizeof(float));
			else
				memcpy(s->tg.p[i], s->flat + at, s->tg.len[i] * sizeof(float));
			at += s->tg.len[i];
		}
		if (pass == 0)
			dist_allreduce_f32(s->flat, at);
	}
	return QT_OK;
}

/* grad += one block's gradient in s->gblk (elementwise, in table order). */
static void add_grads(const struct state *s, const struct tensors *g, const struct tensors *b)
{
	for (size_t i = 0; i < g->n; i++)
		s->be->residual_add(g->p[i], b->p[i], g->len[i]);
}

/* Every rank must train the same run: the options and data of rank 0 (a hash of them). */
static int same_as_rank0(const struct state *s, struct qt_err *err)
{
	uint64_t h = qt_xxh3(s->options, strlen(s->options)), h0;
	if (s->has_val)
		h ^= s->va.h.payload_xxh3;
	h0 = h;
	dist_bcast(&h0, sizeof h0);
	if (h != h0)
		return qt_err_set(err, QT_EUSAGE, "options or data differ from rank 0's (every rank "
		                  "must run the same command on the same files)");
	return QT_OK;
}

static const char *const sched_name[] = { "constant", "linear", "cosine",
                                          "constant-with-warmup" };

/* src as a JSON string literal in dst (quotes and backslashes escaped, control bytes dropped,
 * cut to fit). */
static void json_str(char *dst, size_t n, const char *src)
{
	size_t k = 0;
	dst[k++] = '"';
	for (const char *p = src; *p && k < n - 4; p++) {
		if (*p == '"' || *p == '\\')
			dst[k++] = '\\';
		if ((unsigned char)*p >= 0x20)
			dst[k++] = *p;
	}
	dst[k++] = '"';
	dst[k] = 0;
}

/* The options a resume must repeat (lora-checkpoint(5)), as a JSON object. grad_accum is the
 * global accumulation, --grad-accum times the ranks: the blocks one optimizer step consumes
 * are the same for any split of that product into ranks. */
static char *options_json(const struct train_opts *o, const struct state *s, int pos0)
{
	const struct llama_config *c = &s->m.cfg;
	char ia[1024] = "null", tg[1024], *buf = malloc(4096);
	if (!buf)
		return NULL;
	if (o->init_adapter)
		json_str(ia, sizeof ia, o->init_adapter);
	json_str(tg, sizeof tg, o->targets);
	snprintf(buf, 4096, "{\"model\":{\"layers\":%d,\"hidden\":%d,\"intermediate\":%d,\"heads\":%d,"
	         "\"kv_heads\":%d,\"vocab\":%d},"
	         "\"train\":{\"blocks\":%" PRIu64 ",\"seq_len\":%u,\"payload_xxh3\":\"%016" PRIx64
	         "\"},\"init_adapter\":%s,\"target\":%s,\"rank\":%d,\"alpha\":%.17g,\"rslora\":%s,"
	         "\"seed\":\"%" PRIu64 "\",\"lr\":%.17g,\"schedule\":\"%s\",\"warmup_steps\":%ld,"
	         "\"warmup_ratio\":%.17g,\"weight_decay\":%.17g,\"adam_beta1\":%.17g,"
	         "\"adam_beta2\":%.17g,\"adam_eps\":%.17g,\"max_grad_norm\":%.17g,"
	         "\"grad_accum\":%d,\"micro_batch\":%d,\"neftune_alpha\":%.17g,\"dropout\":%.17g,"
	         "\"shuffle\":%s}",
	         c->n_layer, c->C, c->H, c->NH, c->NKV, c->V, s->tr.h.n_blocks, s->tr.h.seq_len,
	         s->tr.h.payload_xxh3, ia, tg, o->rank, o->alpha, o->rslora ? "true" : "false",
	         o->seed, o->lr, sched_name[o->schedule], o->warmup_steps, o->warmup_ratio,
	         o->weight_decay, o->beta1, o->beta2, o->eps, o->max_grad_norm,
	         o->grad_accum * dist_size(),
	         o->micro_batch, o->neftune_alpha, o->dropout, o->shuffle ? "true" : "false");
	if (o->prefix) /* only then, so LoRA checkpoints stay as they were */
		snprintf(buf + strlen(buf) - 1, 4096 - strlen(buf) + 1,
		         ",\"method\":\"prefix\",\"virtual_tokens\":%d}", o->prefix);
	if (o->prefix && pos0) /* ChatGLM's options only when used: older checkpoints stay valid */
		snprintf(buf + strlen(buf) - 1, 4096 - strlen(buf) + 1, ",\"prefix_positions\":0}");
	if (o->prefix && o->prefix_projection)
		snprintf(buf + strlen(buf) - 1, 4096 - strlen(buf) + 1, ",\"prefix_projection\":%d}",
		         s->lora.mlp.emb ? s->lora.mlp.H  /* --init-adapter's */
		         : o->prefix_hidden ? o->prefix_hidden : c->NKV * c->HD);
	if (o->prefix && o->prefix_dropout > 0)
		snprintf(buf + strlen(buf) - 1, 4096 - strlen(buf) + 1, ",\"prefix_dropout\":%.17g}",
		         o->prefix_dropout);
	return buf;
}

/* A fresh adapter: from --init-adapter, or PEFT's seeded init for the options. */
static int new_adapter(const struct train_opts *o, struct state *s,
                       const struct adapter_dims *dims, struct qt_err *err)
{
	if (o->init_adapter)
		return adapter_load(&s->lora, o->init_adapter, dims, err);
	if (o->prefix) {
		int rc = adapter_init_prefix(&s->lora, o->prefix, dims, s->m.cfg.NKV, err);
		if (rc == QT_OK)
			prefix_init_table(&s->lora, o->seed);
		if (rc == QT_OK && o->prefix_projection &&
		    (rc = adapter_mlp_init(&s->lora, o->prefix_hidden ? o->prefix_hidden : dims->kv_dim,
		                           err)) == QT_OK)
			prefix_init_mlp(&s->lora, o->seed);
		s->lora.cfg.prefix_pos0 = o->prefix_pos0 > 0;
		return rc;
	}
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

/* --init-adapter and --prefix-projection: the adapter's MLP is trained with the option (its
 * hidden size given or not), and without it dropped (the table is trained itself). */
static int init_projection(const struct train_opts *o, struct state *s, struct qt_err *err)
{
	struct adapter *a = &s->lora;
	if (!o->init_adapter || !a->prefix || (!o->prefix_projection && !a->mlp.emb))
		return QT_OK;
	if (!o->prefix_projection) {
		free(a->mlp.emb);
		memset(&a->mlp, 0, sizeof a->mlp);
		a->cfg.prefix_projection = a->cfg.prefix_hidden = 0;
		return QT_OK;
	}
	if (!a->mlp.emb)
		return qt_err_set(err, QT_EUSAGE, "%s: no %s: --prefix-projection continues only from "
		                  "an adapter or checkpoint lora-train wrote with it", o->init_adapter,
		                  ADAPTER_PREFIX_MLP_NAME);
	if (o->prefix_hidden && o->prefix_hidden != a->mlp.H)
		return qt_err_set(err, QT_EUSAGE, "%s: --prefix-hidden %d, but its MLP has %d",
		                  o->init_adapter, o->prefix_hidden, a->mlp.H);
	return QT_OK;
}

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

/* Opens the model, the packs and the adapter state: everything that can refuse the inputs
 * before the output directory is touched. */
static int setup(const struct train_opts *o, struct state *s, struct lora_ckpt_state *ck,
                 struct qt_err *err)
{
	int rc;
	if ((rc = model_dir_open(&s->md, o->model_dir, MODEL_DIR_NO_TOKENIZER | MODEL_DIR_COMPUTE,
	                         err)) ||
	    (rc = llama_load(&s->m, &s->md, err)) || (rc = pack_open(&s->tr, o->train_pack, err)))
		return rc;
	/* under mpirun, the host's cores shared among its ranks unless --threads says otherwise */
	int th = o->threads;
	if (th <= 0 && dist_local_size() > 1) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		th = nc > dist_local_size() ? (int)(nc / dist_local_size()) : 1;
	}
	s->m.n_threads = th;
	sgemm_set_threads(th);
	if (o->val_pack) {
		if ((rc = pack_open(&s->va, o->val_pack, err)))
			return rc;
		s->has_val = 1;
	}
	if (o->eval_prompts && (rc = train_eval_check(o, err)))
		return rc;
	if (s->tr.h.vocab_size > (uint32_t)s->m.cfg.V)
		return qt_err_set(err, QT_EDATA, "%s: vocab size %u exceeds the model's %d",
		                  o->train_pack, s->tr.h.vocab_size, s->m.cfg.V);
	if (s->has_val && s->va.h.vocab_size > (uint32_t)s->m.cfg.V)
		return qt_err_set(err, QT_EDATA, "%s: vocab size %u exceeds the model's %d",
		                  o->val_pack, s->va.h.vocab_size, s->m.cfg.V);
	/* A pack tokenized with another tokenizer than the model's (when both are known). */
	char *tj = qt_path_join(o->model_dir, "tokenizer.json");
	uint64_t fp = 0;
	struct qt_err e2;
	int have = tj && qt_xxh3_file(tj, &fp, &e2) == QT_OK;
	free(tj);
	const struct pack_file *pk[2] = { &s->tr, s->has_val ? &s->va : NULL };
	for (int i = 0; i < 2 && have; i++)
		if (pk[i] && pk[i]->h.tokenizer_fingerprint && pk[i]->h.tokenizer_fingerprint != fp)
			return qt_err_set(err, QT_EDATA, "%s: tokenized with another tokenizer than %s/"
			                  "tokenizer.json (fingerprint %016" PRIx64 ", model %016" PRIx64
			                  ")", pk[i]->name, o->model_dir, pk[i]->h.tokenizer_fingerprint,
			                  fp);
	int64_t ctx = s->md.config.max_position_embeddings;
	for (int i = 0; i < 2; i++)
		if (pk[i] && ctx > 0 && pk[i]->h.seq_len > ctx)
			return qt_err_set(err, QT_EDATA, "%s: blocks of %u tokens are longer than the "
			                  "model's context, %lld (max_position_embeddings in %s/config.json)",
			                  pk[i]->name, pk[i]->h.seq_len, (long long)ctx, o->model_dir);
	for (int i = 0; i < 2; i++) {
		char by[64];
		snprintf(by, sizeof by, "the blocks of %s", pk[i] ? pk[i]->name : "");
		if (pk[i] && (rc = hf_config_check_compute(&s->md.config, s->md.config_path,
		                                           pk[i]->h.seq_len, by, 1, err)))
			return rc;
	}
	if (s->tr.h.n_blocks == 0)
		return qt_err_set(err, QT_EDATA, "%s: no blocks", o->train_pack);
	if ((rc = pack_verify(&s->tr, err)) || (s->has_val && (rc = pack_verify(&s->va, err))))
		return rc;
	struct adapter_dims dims = llama_adapter_dims(&s->m.cfg);
	if (o->resume) {
		if (!(s->options = options_json(o, s, o->prefix_pos0 > 0)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		char *dir;
		if ((rc = lora_ckpt_find(o->resume, &dir, err)))
			return rc;
		rc = lora_ckpt_load(dir, &dims, s->options, &s->lora, &s->m1, &s->m2, ck, err);
		if (rc && dist_size() > 1 && strstr(err->msg, "option grad_accum differs"))
			snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
			         "; under mpirun grad_accum is --grad-accum x ranks (now %d x %d)",
			         o->grad_accum, dist_size());
		if (!rc && !o->out_dir) {
			/* the run directory: the checkpoint's parent, or the directory given */
			int is_ckpt = strcmp(dir, o->resume) == 0;
			char *slash = strrchr(dir, '/');
			if (is_ckpt)
				s->out_dir = slash ? strndup(dir, (size_t)(slash - dir)) : strdup(".");
			else
				s->out_dir = strdup(o->resume);
		}
		qt_info(3, "resuming from %s (step %ld)", dir, ck->step);
		free(dir);
		if (rc)
			return rc;
		if (ck->seed != o->seed)
			return qt_err_set(err, QT_EDATA, "%s: cannot resume: seed differs", o->resume);
	} else {
		if ((rc = new_adapter(o, s, &dims, err)) || (rc = init_projection(o, s, err)) ||
		    (rc = adapter_like(&s->m1, &s->lora, err)) ||
		    (rc = adapter_like(&s->m2, &s->lora, err)))
			return rc;
		/* --prefix-positions given wins over --init-adapter's; not given, the adapter's stays */
		if (o->prefix_pos0 >= 0)
			s->lora.cfg.prefix_pos0 = o->prefix_pos0;
		if (!(s->options = options_json(o, s, s->lora.cfg.prefix_pos0)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	if (!s->out_dir && !(s->out_dir = strdup(o->out_dir)))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if ((rc = adapter_like(&s->grad, &s->lora, err)))
		return rc;
	if (!!o->prefix != !!s->lora.prefix)
		return qt_err_set(err, QT_EUSAGE, "%s: a %s adapter, but the options train %s",
		                  o->init_adapter ? o->init_adapter : o->resume,
		                  s->lora.prefix ? "prefix-tuning" : "LoRA",
		                  o->prefix ? "a prefix (--method prefix)" : "LoRA");
	if (o->prefix && !!o->prefix_projection != !!s->lora.mlp.emb)
		return qt_err_set(err, QT_EDATA, "%s: %s the projection MLP (%s), but the options %s",
		                  o->init_adapter ? o->init_adapter : o->resume,
		                  s->lora.mlp.emb ? "holds" : "lacks", ADAPTER_PREFIX_MLP_NAME,
		                  o->prefix_projection ? "train it (--prefix-projection)" : "do not");
	int T = (int)s->tr.h.seq_len, Tv = s->has_val ? (int)s->va.h.seq_len : 0;
	int Tmax = T > Tv ? T : Tv, rmax = 1;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
		rmax = s->lora.lora[i].r > rmax ? s->lora.lora[i].r : rmax;
	if (!o->device || strcmp(o->device, "cpu") != 0)
		dist_gpu_select(); /* the probe below then looks at this rank's GPU */
	int dev = device_select(o->device);
	if (dev < 0)
		return qt_err_set(err, QT_EUSAGE, "unknown device '%s'", o->device);
	s->be = qt_backend_of(dev);
	if (!s->be)
		s->be = &qt_backend_cpu;
	s->run_m = &s->m;
	if ((rc = llama_backend_check(&s->m, ADAPTER_TABLE(&s->lora), s->be, err)))
		return rc;
	if (!s->be->host) {
		qt_info(3, "training on the GPU (%s)", s->be->name);
		/* this rank's GPU (node-local rank) and, with several ranks, the NCCL communicator */
		if ((rc = dist_nccl_init(err)) ||
		    (rc = llama_model_upload(&s->dm, &s->m, s->be, err)))
			return rc;
		s->run_m = &s->dm;
	}
	/* A rank's later blocks go through gblk so that the step's gradient is ((g0 + g1) + g2)...
	 * of separately computed block gradients, summed as the ranks' shares are summed: one
	 * process with grad-accum N equals N ranks with grad-accum 1 bit for bit. */
	int blk = (long)o->micro_batch * o->grad_accum > 1;
	if (blk && (rc = adapter_like(&s->gblk, &s->lora, err)))
		return rc;
	if (s->be->host) {
		adapter_table(&s->lora, &s->pt);
		adapter_table(&s->grad, &s->gt);
		adapter_table(blk ? &s->gblk : NULL, &s->bt);
		adapter_table(&s->m1, &s->m1t);
		adapter_table(&s->m2, &s->m2t);
	} else if ((rc = lora_table_upload(&s->pt, ADAPTER_TABLE(&s->lora), s->be, 0, err)) ||
	           (rc = lora_table_upload(&s->gt, ADAPTER_TABLE(&s->grad), s->be, 1, err)) ||
	           (blk && (rc = lora_table_upload(&s->bt, ADAPTER_TABLE(&s->gblk), s->be, 1, err))) ||
	           /* the moments matter on a resume */
	           (rc = lora_table_upload(&s->m1t, ADAPTER_TABLE(&s->m1), s->be, 0, err)) ||
	           (rc = lora_table_upload(&s->m2t, ADAPTER_TABLE(&s->m2), s->be, 0, err)))
		return rc;
	if ((rc = tensors_of(s, &s->lora, &s->pt, &s->tl, err)) ||
	    (rc = tensors_of(s, &s->grad, &s->gt, &s->tg, err)) ||
	    (blk && (rc = tensors_of(s, &s->gblk, &s->bt, &s->tb, err))) ||
	    (rc = tensors_of(s, &s->m1, &s->m1t, &s->t1, err)) ||
	    (rc = tensors_of(s, &s->m2, &s->m2t, &s->t2, err)))
		return rc;
	s->kept = kept_layers(s->run_m, s->be, Tmax, rmax, o->act_memory);
	s->ws = llama_train_ws_new_kept(s->run_m, Tmax, rmax, s->kept);
	s->sumsq = s->be->alloc(sizeof *s->sumsq);
	if (s->lora.prefix && (rc = prefix_train_init(&s->pfx, s->be, &s->pt,
	                                              (float)o->prefix_dropout, err)))
		return rc;
	s->ids = malloc((size_t)Tmax * 4);
	s->pos = malloc((size_t)Tmax * 4);
	s->seg = malloc((size_t)Tmax * 4);
	s->tgt = malloc((size_t)Tmax * 4);
	s->perm = o->shuffle ? malloc(s->tr.h.n_blocks * sizeof *s->perm) : NULL;
	s->perm_epoch = -1;
	s->bi = malloc((size_t)o->micro_batch * (size_t)o->grad_accum * sizeof *s->bi);
	if (!s->ws || !s->sumsq || !s->ids || !s->pos || !s->seg || !s->tgt ||
	    (o->shuffle && !s->perm) || !s->bi)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for training");
	if (s->be->host && dist_size() > 1) {
		s->n_flat = adapter_n_params(&s->lora);
		if (!(s->flat = malloc(s->n_flat * sizeof *s->flat)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory for training");
	}
	return QT_OK;
}

/* Opens OUT/log.jsonl: truncated for a new run, trimmed to the checkpoint for a resume. */
static int open_log(struct state *s, long resumed, struct qt_err *err)
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

static int save_checkpoint(struct state *s, const struct lora_ckpt_state *ck,
                           struct qt_err *err)
{
	char name[64];
	int rc;
	/* the device's parameters and moments: the same files as a CPU run */
	if ((rc = sync_host(s, err)))
		return rc;
	snprintf(name, sizeof name, "checkpoint-%ld", ck->step);
	char *dir = qt_path_join(s->out_dir, name);
	rc = dir ? lora_ckpt_save(dir, &s->lora, &s->m1, &s->m2, ck, s->options, err)
	             : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	free(dir);
	return rc;
}

/* The one-line progress display (step/total, loss, tokens/s, ETA). */
static void progress(double *t_last, long k, long k0, long total, double loss, double el,
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

static long peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

int train_run(const struct train_opts *o, struct train_stats *st, struct qt_err *err)
{
	struct state s;
	struct lora_ckpt_state ck = { 0 };
	int rc;
	memset(&s, 0, sizeof s);
	s.lock_fd = -1;
	memset(st, 0, sizeof *st);
	st->final_eval_loss = NAN;
	st->final_eval_accuracy = NAN;
	for (int i = 0; i < TRAIN_EVAL_N_SCORES; i++)
		st->final_eval_scores[i] = NAN;
	/* Every rank learns whether all could start; the ones that could stop quietly (an empty
	 * message) when another could not, except rank 0, which names the first one. */
	rc = setup(o, &s, &ck, err);
	int who, all = dist_agree(rc, &who);
	if (!all)
		all = dist_agree(rc = same_as_rank0(&s, err), &who);
	if (all) {
		/* a rank repeating rank 0's message (the same bad option everywhere) stays quiet */
		uint64_t h = rc ? qt_xxh3(err->msg, strlen(err->msg)) : 0, h0 = h;
		dist_bcast(&h0, sizeof h0);
		if (!rc && dist_rank() == 0)
			qt_err_set(err, all, "rank %d could not start (see its message); no "
			           "rank trained", who);
		else if (!rc || (dist_rank() != 0 && h == h0))
			err->status = all, err->msg[0] = 0;
		rc = all;
		goto out;
	}
	struct llama_model *m = &s.m;
	st->activation_bytes = llama_train_ws_bytes(s.ws);
	st->kept_layers = s.kept;
	st->n_layers = s.run_m->cfg.n_layer;
	st->resumed_from = ck.step;
	int lead = dist_rank() == 0; /* rank 0 alone writes the log, checkpoints and adapter */
	rc = lead ? open_log(&s, ck.step, err) : QT_OK;
	if ((all = dist_agree(rc, &who))) {
		if (!rc)
			err->status = all, err->msg[0] = 0; /* rank 0 says why */
		rc = all;
		goto out;
	}
	/* The global step consumes the blocks of one process with grad-accum x ranks: blocks
	 * [share * rank, share * (rank + 1)) of the step's per_step are this rank's. */
	long share = (long)o->micro_batch * o->grad_accum;
	long per_step = share * dist_size(), first = share * dist_rank();
	uint64_t nb = s.tr.h.n_blocks;
	long total = o->max_steps > 0 ? o->max_steps
	           : (long)ceil(o->epochs * (double)((nb + per_step - 1) / per_step));
	if (total < 1)
		total = 1;
	long warm = o->warmup_steps >= 0 ? o->warmup_steps : (long)ceil(total * o->warmup_ratio);
	double t0 = qt_now(), t_last = 0, loss = NAN;
	uint64_t tokens = ck.tokens, in_tokens = ck.input_tokens, g = ck.blocks_done;
	uint64_t tok0 = tokens, in0 = in_tokens;
	long k0 = ck.step;
	double secs0 = ck.seconds;
	int stop_all = 0;
	for (long k = k0 + 1; k <= total; k++) {
		/* This rank's blocks of the step and the step's trained-target count N_step over all
		 * ranks (reference 7.6). */
		uint64_t cnt[2] = { 0, 0 }, *bi = s.bi;
		for (long i = 0; i < share; i++) {
			struct pack_block b;
			uint64_t in;
			bi[i] = train_block_index(g + (uint64_t)(first + i), nb, o->shuffle, o->seed,
			                          s.perm, &s.perm_epoch);
			pack_get_block(&s.tr, bi[i], &b);
			cnt[0] += block_inputs(&b, s.ids, s.pos, s.seg, s.tgt, &in);
			cnt[1] += in;
		}
		dist_allreduce_u64(cnt, 2);
		uint64_t n_step = cnt[0], in_step = cnt[1];
		g += (uint64_t)per_step;
		zero_grads(&s, &s.tg);
		double sum = 0;
		for (long i = 0; i < share && n_step; i++) {
			struct pack_block b;
			pack_get_block(&s.tr, bi[i], &b);
			block_inputs(&b, s.ids, s.pos, s.seg, s.tgt, NULL);
			float mag = o->neftune_alpha > 0
			          ? neftune_magnitude(o->neftune_alpha, (long)b.seq_len, m->cfg.C) : 0;
			uint64_t gi = (uint64_t)(first + i); /* the block's place in the global step */
			struct llama_train_dropout drop = { (float)o->dropout, o->seed, (uint64_t)k, gi };
			struct lora_table *into = &s.gt;
			if (i > 0) {
				zero_grads(&s, &s.tb);
				into = &s.bt;
			}
			if ((rc = run_block(&s, into, (int)b.seq_len, (float)(1.0 / (double)n_step), mag,
			                    o->seed ^ ((uint64_t)k << 20 | gi),
			                    o->dropout > 0 ? &drop : NULL,
			                    prefix_drop_seed(o->seed, (uint64_t)k, gi), &sum, err)))
				goto alone;
			if (into == &s.bt)
				add_grads(&s, &s.tg, &s.tb);
		}
		/* the loss sum and whether any rank was asked to stop, then the gradients */
		double t_red = qt_now(), red[2] = { sum, o->stop && *o->stop };
		dist_allreduce_f64(red, 2);
		sum = red[0];
		stop_all = red[1] > 0;
		if (n_step && (rc = reduce_grads(&s, err)))
			goto alone;
		st->reduce_seconds += qt_now() - t_red;
		tokens += n_step;
		in_tokens += in_step;
		loss = n_step ? sum / (double)n_step : NAN;
		if (n_step && !isfinite(loss)) {
			char what[64];
			snprintf(what, sizeof what, "the loss (%s)", isnan(loss) ? "nan" : "inf");
			rc = nonfinite_stop(k, what, ck.step, s.out_dir, err);
			goto out;
		}
		double sumsq;
		if ((rc = grad_sumsq_all(&s, &sumsq, err)))
			goto alone;
		/* the same reduced gradients on every rank: all stop here together */
		if (!isfinite(sumsq)) {
			char what[160];
			nonfinite_grad_name(&s, what, sizeof what);
			rc = nonfinite_stop(k, what, ck.step, s.out_dir, err);
			goto out;
		}
		float gnorm = 0, coef = o->max_grad_norm > 0 ? grad_clip_coef(sumsq, o->max_grad_norm,
		                                                              &gnorm) : 1.0f;
		if (o->max_grad_norm <= 0)
			gnorm = (float)sqrt(sumsq);
		double lr = o->lr * train_lr_multiplier(o->schedule, k, warm, total);
		struct adamw_hparams hp;
		adamw_hparams_init(&hp, lr, o->beta1, o->beta2, o->eps, o->weight_decay, k);
		if ((rc = update(&s, coef, &hp, err)))
			goto alone;
		qt_crashpoint("step");
		double el = qt_now() - t0;
		/* a step with no trained target has no loss: its line has no "loss" (JSON has no NaN) */
		char loss_field[48] = "";
		if (n_step)
			snprintf(loss_field, sizeof loss_field, "\"loss\":%.6f,", loss);
		if (lead && (k % o->log_every == 0 || k == total))
			fprintf(s.log, "{\"step\":%ld,%s\"lr\":%.6g,\"grad_norm\":%.6f,"
			        "\"tokens\":%" PRIu64 ",\"tokens_per_s\":%.1f,\"input_tokens\":%" PRIu64
			        ",\"input_tokens_per_s\":%.1f}\n", k, loss_field, lr, gnorm, tokens,
			        el > 0 ? (tokens - tok0) / el : 0.0, in_tokens,
			        el > 0 ? (in_tokens - in0) / el : 0.0);
		/* one process reads its flag here, after the update; several agreed on it above */
		int stop = (dist_size() > 1 ? stop_all : o->stop && *o->stop) && k < total;
		if ((s.has_val || o->eval_prompts) && !stop && (k % o->eval_every == 0 || k == total)) {
			double ev = NAN, acc = NAN;
			if (s.has_val && (rc = eval_loss(&s, &ev, &acc, err)))
				goto alone;
			st->final_eval_loss = ev;
			st->final_eval_accuracy = acc;
			char line[320];
			int n = snprintf(line, sizeof line, "{\"step\":%ld", k);
			if (isfinite(ev))  /* NaN: no trained target in the validation blocks */
				n += snprintf(line + n, sizeof line - (size_t)n, ",\"eval_loss\":%.6f", ev);
			if (isfinite(ev) && isfinite(acc))
				n += snprintf(line + n, sizeof line - (size_t)n,
				              ",\"eval_mean_token_accuracy\":%.6f", acc);
			/* rank 0 alone generates; the others wait for it in the next reduction */
			if (lead && o->eval_prompts) {
				if ((rc = sync_host(&s, err)))
					goto alone;
				if ((rc = train_eval_generate(o, &s.lora, s.out_dir, k,
				                              st->final_eval_scores, err)))
					goto alone;
				for (int i = 0; i < TRAIN_EVAL_N_SCORES; i++)
					n += snprintf(line + n, sizeof line - (size_t)n, ",\"eval_%s\":%.4f",
					              train_eval_score_names[i], st->final_eval_scores[i]);
			}
			if (lead && strchr(line, ','))
				fprintf(s.log, "%s}\n", line);
			qt_info(4, "step %ld: eval loss %.4f", k, ev);
		}
		/* a full disk stops the run here, naming the log (the last checkpoint stays) */
		if (lead && (fflush(s.log) != 0 || ferror(s.log))) {
			rc = qt_err_set(err, QT_EIO, "%s/log.jsonl: write error:", s.out_dir);
			goto alone;
		}
		qt_info(4, "step %ld/%ld: loss %.4f lr %.3g grad_norm %.3f", k, total, loss, lr, gnorm);
		progress(&t_last, k, k0, total, loss, el, tokens - tok0, in_tokens - in0);
		st->steps = k;
		if (lead && ((o->save_every > 0 && (k % o->save_every == 0 || k == total)) || stop)) {
			ck = (struct lora_ckpt_state){ .step = k, .total_steps = total, .blocks_done = g,
			                               .n_blocks = nb, .seed = o->seed, .tokens = tokens,
			                               .input_tokens = in_tokens,
			                               .seconds = secs0 + el };
			if ((rc = save_checkpoint(&s, &ck, err)))
				goto alone;
		}
		if (stop) {
			st->interrupted = 1;
			break;
		}
	}
	if (qt_verbosity >= 3)
		fprintf(stderr, "\r\033[K");
	st->seconds = qt_now() - t0;
	st->tokens_per_s = st->seconds > 0 ? (tokens - tok0) / st->seconds : 0;
	st->input_tokens_per_s = st->seconds > 0 ? (in_tokens - in0) / st->seconds : 0;
	st->final_loss = loss;
	if (lead && !st->interrupted && (rc = sync_host(&s, err)))
		goto alone;
	if (lead && !st->interrupted) {
		char *dir = qt_path_join(s.out_dir, "adapter");
		rc = dir ? adapter_save(&s.lora, dir, QT_DTYPE_F32, err) : QT_ESOFTWARE;
		free(dir);
	}
	/* the others learn whether rank 0 could write the adapter, and exit with its status */
	if ((all = dist_agree(rc, &who)) && !rc)
		rc = all, err->status = rc, err->msg[0] = 0;
	goto out;
alone:
	/* failed on this rank alone, the others somewhere in the step: the tool ends the job */
	st->failed_alone = dist_size() > 1;
out:
	st->peak_rss_kib = peak_rss_kib();
	/* the log's last lines, or the lock's pid, lost to a deferred write error: 74 too */
	if (s.log && fclose(s.log) != 0 && rc == QT_OK)
		rc = qt_err_set(err, QT_EIO, "%s/log.jsonl: write error:", s.out_dir);
	if (s.lock_fd >= 0 && close(s.lock_fd) != 0 && rc == QT_OK)
		rc = qt_err_set(err, QT_EIO, "%s/" QT_LOCK_NAME ": write error:", s.out_dir);
	llama_train_ws_free(s.ws);
	if (s.be && s.sumsq)
		s.be->free(s.sumsq);
	if (s.be && !s.be->host) {
		lora_table_release(&s.pt, s.be);
		lora_table_release(&s.gt, s.be);
		lora_table_release(&s.bt, s.be);
		lora_table_release(&s.m1t, s.be);
		lora_table_release(&s.m2t, s.be);
		llama_free(&s.dm);
	}
	dist_nccl_free();
	prefix_train_free(&s.pfx);
	free(s.ids); free(s.pos); free(s.seg); free(s.tgt); free(s.perm); free(s.bi);
	free(s.out_dir); free(s.options);
	tensors_free(&s.tl);
	tensors_free(&s.tg);
	tensors_free(&s.t1);
	tensors_free(&s.t2);
	tensors_free(&s.tb);
	if (s.lora.lora) adapter_free(&s.lora);
	if (s.grad.lora) adapter_free(&s.grad);
	if (s.gblk.lora) adapter_free(&s.gblk);
	free(s.flat);
	if (s.m1.lora) adapter_free(&s.m1);
	if (s.m2.lora) adapter_free(&s.m2);
	if (s.has_val) pack_close(&s.va);
	if (s.tr.name) pack_close(&s.tr);
	llama_free(&s.m);
	model_dir_close(&s.md);
	return rc;
}
