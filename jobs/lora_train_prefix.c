/* qlora-tools: ISC license. */
/* Prefix-tuning extras of lora-train's blocks; see lora_train_prefix.h. The run's extras go
 * through the backend table that trains (the CPU's or CUDA's); prefix_drop_table and
 * prefix_drop_grad are the CPU's same mask on an adapter. */
#include "jobs/lora_train_prefix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
