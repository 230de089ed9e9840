/* qlora-tools: ISC license. */
/* One step of lora-train over the backend's tensors; see lora_train_state.h. */
#include "jobs/lora_train_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dist.h"
#include "common/half.h"
#include "jobs/lora_train_prefix.h"
#include "kernels/adamw.h"
#include "kernels/model/llama_train.h"

uint64_t train_block_inputs(const struct pack_block *b, int32_t *ids, int32_t *pos,
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

int train_tensors_of(const struct train_state *s, const struct adapter *a,
                     const struct lora_table *lt, struct train_tensors *t, struct qt_err *err)
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

void train_tensors_free(struct train_tensors *t)
{
	free(t->p);
	free(t->len);
	free(t->bias);
	memset(t, 0, sizeof *t);
}

void train_zero_grads(const struct train_state *s, const struct train_tensors *g)
{
	for (size_t i = 0; i < g->n; i++)
		s->be->zero(g->p[i], g->len[i] * sizeof(float));
}

int train_backend_fail(const struct train_state *s, const char *what, struct qt_err *err)
{
	const char *e = s->be->error();
	qt_err_set(err, QT_ESOFTWARE, "%s: %s: %s", s->be->name, what, e ? e : "failed");
	s->be->error_clear();
	return QT_ESOFTWARE;
}

int train_sync_host(struct train_state *s, struct qt_err *err)
{
	if (s->be->host)
		return QT_OK;
	if (lora_table_download(ADAPTER_TABLE(&s->lora), &s->pt, s->be) != 0 ||
	    lora_table_download(ADAPTER_TABLE(&s->m1), &s->m1t, s->be) != 0 ||
	    lora_table_download(ADAPTER_TABLE(&s->m2), &s->m2t, s->be) != 0)
		return train_backend_fail(s, "downloading the adapter", err);
	return QT_OK;
}

int train_run_block(struct train_state *s, struct lora_table *grad, int T, float grad_scale,
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

int train_grad_sumsq(struct train_state *s, double *sumsq, struct qt_err *err)
{
	const struct qt_backend *be = s->be;
	*sumsq = 0;
	be->zero(s->sumsq, sizeof *s->sumsq);
	for (size_t i = 0; i < s->tg.n; i++)
		be->grad_sumsq(s->sumsq, s->tg.p[i], s->tg.len[i]);
	if (be->download(sumsq, s->sumsq, sizeof *sumsq) != 0 || be->sync() != 0)
		return train_backend_fail(s, "gradient norm", err);
	return QT_OK;
}

void train_nonfinite_grad_name(const struct train_state *s, char *buf, size_t n)
{
	snprintf(buf, n, "a LoRA gradient");
	if (s->be->host && prefix_nonfinite_name(&s->grad, buf, n))
		return;
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

int train_nonfinite_stop(long k, const char *what, long last_ckpt, const char *out_dir,
                         struct qt_err *err)
{
	if (last_ckpt > 0)
		return qt_err_set(err, QT_EDATA, "step %ld: %s is not finite: stopped before the "
		                  "update; the last good state is %s/checkpoint-%ld", k, what, out_dir,
		                  last_ckpt);
	return qt_err_set(err, QT_EDATA, "step %ld: %s is not finite: stopped before the update "
	                  "(no checkpoint written yet)", k, what);
}

int train_update(struct train_state *s, float coef, const struct adamw_hparams *hp,
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
	return be->sync() == 0 ? QT_OK : train_backend_fail(s, "optimizer step", err);
}

int train_eval_loss(struct train_state *s, double *loss, double *acc, struct qt_err *err)
{
	double sum[2] = { 0, 0 };
	uint64_t n[2] = { 0, 0 }, nb = s->va.h.n_blocks, P = (uint64_t)dist_size(),
	         r = (uint64_t)dist_rank();
	int counted = 1;
	for (uint64_t i = nb * r / P; i < nb * (r + 1) / P; i++) {
		struct pack_block b;
		pack_get_block(&s->va, i, &b);
		uint64_t nt = train_block_inputs(&b, s->ids, s->pos, s->seg, s->tgt, NULL);
		n[0] += nt;
		int rc = train_run_block(s, NULL, (int)b.seq_len, 0, 0, 0, NULL, 0, &sum[0], err);
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

int train_reduce_grads(struct train_state *s, struct qt_err *err)
{
	if (dist_size() < 2)
		return QT_OK;
	if (!s->be->host) { /* NCCL on the device buffers */
		if (s->be->sync() != 0)
			return train_backend_fail(s, "gradients before the all-reduce", err);
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

void train_add_grads(const struct train_state *s, const struct train_tensors *g,
                     const struct train_tensors *b)
{
	for (size_t i = 0; i < g->n; i++)
		s->be->residual_add(g->p[i], b->p[i], g->len[i]);
}
