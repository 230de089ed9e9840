/* qlora-tools: ISC license. */
/* Prefix-tuning extras of lora-train's blocks; see lora_train_prefix.h. The run's extras go
 * through the backend table that trains (the CPU's or CUDA's); prefix_drop_table and
 * prefix_drop_grad are the CPU's same mask on an adapter. */
#include "jobs/lora_train_prefix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/rng.h"
#include "kernels/dropout.h"
#include "kernels/model/llama_train.h"
#include "kernels/model/prefix_encoder.h"

/* x: (n) N(0, 1) by Box-Muller from r. */
static void normal_fill(float *x, size_t n, struct qt_rng *r)
{
	for (size_t k = 0; k < n; k += 2) {
		double u1 = qt_rng_double(r), u2 = qt_rng_double(r);
		double rad = sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-300)), th = 2.0 * M_PI * u2;
		x[k] = (float)(rad * cos(th));
		if (k + 1 < n)
			x[k + 1] = (float)(rad * sin(th));
	}
}

void prefix_init_table(struct adapter *a, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	normal_fill(a->prefix, (size_t)a->prefix_len * adapter_prefix_width(&a->dims), &r);
}

void prefix_init_mlp(struct adapter *a, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < ADAPTER_MLP_N; i++) {
		int64_t sh[2];
		float *t = adapter_mlp_tensor(&a->mlp, i, sh);
		if (i == 0) {
			normal_fill(t, (size_t)sh[0] * (size_t)sh[1], &r);
			continue;
		}
		/* fan_in: the weight's columns (the bias of a Linear shares its weight's) */
		double bound = 1.0 / sqrt((double)(i <= 2 ? a->mlp.D : a->mlp.H));
		size_t n = (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1);
		for (size_t k = 0; k < n; k++)
			t[k] = (float)((2.0 * qt_rng_double(&r) - 1.0) * bound);
	}
}

uint64_t prefix_drop_seed(uint64_t seed, uint64_t step, uint64_t block)
{
	/* layer -1 and module LORA_N_MODULES: never a LoRA branch's */
	return llama_train_dropout_seed(seed, step, block, -1, LORA_N_MODULES);
}

static size_t table_len(const struct adapter *a)
{
	return (size_t)a->prefix_len * adapter_prefix_width(&a->dims);
}

const float *prefix_drop_table(const struct adapter *a, float *buf, float p, uint64_t seed)
{
	if (p <= 0)
		return a->prefix;
	dropout_forward(buf, a->prefix, table_len(a), p, dropout_scale(p), seed);
	return buf;
}

void prefix_drop_grad(struct adapter *grad, float p, uint64_t seed)
{
	/* d table = keep ? d dropped * scale : 0: the forward's mask applied in place */
	if (p > 0)
		dropout_forward(grad->prefix, grad->prefix, table_len(grad), p, dropout_scale(p), seed);
}

static size_t tab_len(const struct lora_table *t)
{
	return (size_t)t->prefix_len * t->prefix_width;
}

int prefix_train_init(struct prefix_train *pt, const struct qt_backend *be,
                      const struct lora_table *t, float p, struct qt_err *err)
{
	memset(pt, 0, sizeof *pt);
	pt->be = be;
	pt->p = p;
	size_t nh = t->mlp.emb ? (size_t)t->mlp.P * t->mlp.H : 0;
	if ((p > 0 && !(pt->drop = be->alloc(tab_len(t) * sizeof(float)))) ||
	    (nh && (!(pt->act = be->alloc(nh * sizeof(float))) ||
	            !(pt->scratch = be->alloc(nh * sizeof(float)))))) {
		prefix_train_free(pt);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for the prefix");
	}
	prefix_train_refresh(pt, t);
	return QT_OK;
}

void prefix_train_free(struct prefix_train *pt)
{
	if (pt->be) {
		pt->be->free(pt->drop);
		pt->be->free(pt->act);
		pt->be->free(pt->scratch);
	}
	memset(pt, 0, sizeof *pt);
}

const float *prefix_train_table(struct prefix_train *pt, const struct lora_table *t,
                                const struct lora_table *grad, uint64_t seed)
{
	if (!grad)
		return t->prefix;
	if (t->mlp.emb) /* not among the zeroed tensors: the block's own */
		pt->be->zero(grad->prefix, tab_len(grad) * sizeof(float));
	if (pt->p <= 0)
		return t->prefix;
	pt->be->dropout_forward(pt->drop, t->prefix, tab_len(t), pt->p, dropout_scale(pt->p), seed);
	return pt->drop;
}

void prefix_train_grad(struct prefix_train *pt, const struct lora_table *t,
                       const struct lora_table *grad, uint64_t seed)
{
	/* d table = keep ? d dropped * scale : 0: the forward's mask applied in place */
	if (pt->p > 0)
		pt->be->dropout_forward(grad->prefix, grad->prefix, tab_len(grad), pt->p,
		                        dropout_scale(pt->p), seed);
	if (t->mlp.emb)
		prefix_mlp_backward(pt->be, &t->mlp, &grad->mlp, pt->act, grad->prefix, pt->scratch);
}

void prefix_train_refresh(struct prefix_train *pt, const struct lora_table *t)
{
	if (t->mlp.emb)
		prefix_mlp_forward(pt->be, &t->mlp, pt->act, t->prefix);
}

/* ---- the adapter a run starts from, and the options a resume must repeat ---- */

int prefix_new_adapter(const struct train_opts *o, struct adapter *a,
                       const struct adapter_dims *dims, int nkv, struct qt_err *err)
{
	int rc = adapter_init_prefix(a, o->prefix, dims, nkv, err);
	if (rc == QT_OK)
		prefix_init_table(a, o->seed);
	if (rc == QT_OK && o->prefix_projection &&
	    (rc = adapter_mlp_init(a, o->prefix_hidden ? o->prefix_hidden : dims->kv_dim,
	                           err)) == QT_OK)
		prefix_init_mlp(a, o->seed);
	a->cfg.prefix_pos0 = o->prefix_pos0 > 0;
	return rc;
}

int prefix_init_projection(const struct train_opts *o, struct adapter *a, struct qt_err *err)
{
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

void prefix_options_json(const struct train_opts *o, const struct adapter *a, int kv_width,
                         int pos0, char *buf, size_t n)
{
	if (!o->prefix) /* only then, so LoRA checkpoints stay as they were */
		return;
	snprintf(buf + strlen(buf) - 1, n - strlen(buf) + 1,
	         ",\"method\":\"prefix\",\"virtual_tokens\":%d}", o->prefix);
	if (pos0) /* ChatGLM's options only when used: older checkpoints stay valid */
		snprintf(buf + strlen(buf) - 1, n - strlen(buf) + 1, ",\"prefix_positions\":0}");
	if (o->prefix_projection)
		snprintf(buf + strlen(buf) - 1, n - strlen(buf) + 1, ",\"prefix_projection\":%d}",
		         a->mlp.emb ? a->mlp.H  /* --init-adapter's */
		         : o->prefix_hidden ? o->prefix_hidden : kv_width);
	if (o->prefix_dropout > 0)
		snprintf(buf + strlen(buf) - 1, n - strlen(buf) + 1, ",\"prefix_dropout\":%.17g}",
		         o->prefix_dropout);
}

int prefix_nonfinite_name(const struct adapter *grad, char *buf, size_t n)
{
	for (int i = 0; grad->mlp.emb && i < ADAPTER_MLP_N; i++) {
		int64_t sh[2];
		const float *t = adapter_mlp_tensor(&grad->mlp, i, sh);
		size_t k = (size_t)sh[0] * (size_t)(sh[1] ? sh[1] : 1);
		if (qt_first_nonfinite(t, QT_DTYPE_F32, k) < k) {
			snprintf(buf, n, "the gradient of the prefix encoder's %s", adapter_mlp_names[i]);
			return 1;
		}
	}
	if (grad->prefix && !grad->mlp.emb) {
		size_t np = (size_t)grad->prefix_len * adapter_prefix_width(&grad->dims);
		if (qt_first_nonfinite(grad->prefix, QT_DTYPE_F32, np) < np) {
			snprintf(buf, n, "the gradient of prompt_embeddings");
			return 1;
		}
	}
	return 0;
}
