/* qlora-tools: ISC license. */
/*
 * llama_decode on the device (kernels/llama.c's KV-cache step, call for call): embedding,
 * per layer RMSNorm -> q, k, v (+LoRA) -> RoPE -> append k, v to the cache -> attention_decode
 * -> o (+LoRA) + residual -> RMSNorm -> gate, up (+LoRA) -> SwiGLU -> down (+LoRA) + residual;
 * final RMSNorm of each row's last token; LM head; logits back to the host. Host code only.
 * Status: kernels/cuda/README.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/llama_cuda.cuh"

extern "C" {
#include "common/err.h"
#include "kernels/matvec.h"
#include "kernels/rope.h"
}

struct llama_cuda_cache {
	int      n_layer, B, L, NKV, HD;
	float   *k, *v;       /* (n_layer, B, L, NKV, HD) */
	int32_t *past, *dpast; /* (B) host, device */
};

extern "C" struct llama_cuda_cache *llama_cuda_cache_new(const struct llama_cuda_model *dm,
                                                         int B, int L, struct qt_err *err)
{
	const struct llama_config *c = &dm->cfg;
	struct llama_cuda_cache *kc = (struct llama_cuda_cache *)calloc(1, sizeof *kc);
	size_t n = (size_t)c->n_layer * B * L * c->NKV * c->HD;
	if (!kc || !(kc->past = (int32_t *)calloc((size_t)B + 1, sizeof(int32_t)))) {
		free(kc);
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	kc->n_layer = c->n_layer, kc->B = B, kc->L = L, kc->NKV = c->NKV, kc->HD = c->HD;
	kc->k = (float *)cuda_malloc(n * sizeof(float));
	kc->v = kc->k ? (float *)cuda_malloc(n * sizeof(float)) : NULL;
	kc->dpast = kc->v ? (int32_t *)cuda_malloc((size_t)B * sizeof(int32_t)) : NULL;
	if (!kc->dpast) {
		qt_err_set(err, QT_ESOFTWARE, "cuda: KV cache of %zu floats: %s", 2 * n,
		           cuda_error() ? cuda_error() : "out of memory");
		cuda_error_clear();
		llama_cuda_cache_free(kc);
		return NULL;
	}
	return kc;
}

extern "C" void llama_cuda_cache_free(struct llama_cuda_cache *c)
{
	if (!c)
		return;
	cuda_free(c->k), cuda_free(c->v), cuda_free(c->dpast);
	free(c->past);
	free(c);
}

extern "C" int llama_cuda_cache_past(const struct llama_cuda_cache *c, int b)
{
	return c->past[b];
}

/* Activations of one call, carved from one device allocation. */
struct dacts {
	float *x, *xn, *q, *k, *v, *att, *gate, *up, *cos_t, *sin_t, *mid, *wbuf;
};

/* out = beta * out + x W^T (+ s (x A^T) B^T), as llama_linear_forward. */
static void lin(float *out, const float *x, const struct dlin *L, const struct dpair *lo, int n,
                float beta, struct dacts *a)
{
	if (n <= MATVEC_MAX_T) {
		if (L->w)
			matvec_forward_cuda(out, x, L->w, n, L->C, L->OC, beta, 0);
		else
			matvec_nf4_forward_cuda(out, x, L->nf4, L->absmax, L->code, L->bs, L->round_to, n,
			                        L->C, L->OC, beta, NULL, 0);
	} else {
		const float *W = L->w;
		if (!W) {
			matvec_nf4_dequant_cuda(a->wbuf, L->nf4, L->absmax, L->code, L->bs, L->round_to,
			                        L->C, L->OC, 0);
			W = a->wbuf;
		}
		linear_forward_cuda(out, x, W, NULL, n, L->C, L->OC, 1.0f, beta);
	}
	if (L->bias)
		bias_forward_cuda(out, L->bias, n, L->OC);
	if (lo) {
		linear_forward_cuda(a->mid, x, lo->A, NULL, n, L->C, lo->r, 1.0f, 0.0f);
		linear_forward_cuda(out, a->mid, lo->B, NULL, n, lo->r, L->OC, lo->scaling, 1.0f);
	}
}

static const struct dpair *pair_of(const struct llama_cuda_lora *dl, int l, int k)
{
	if (!dl || (size_t)l * LORA_N_MODULES + k >= (size_t)dl->n_pairs)
		return NULL;
	const struct dpair *d = &dl->p[(size_t)l * LORA_N_MODULES + k];
	return d->A ? d : NULL;
}

static void d2d(void *dst, const void *src, size_t bytes)
{
	CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, qt_cuda_stream()));
}

/* Copies src's row 0 (its past tokens) into row b of dst and sets dst's past there, as gen
 * moves a prompt prefilled alone into its batch cache. 0 or -1 (error recorded). */
extern "C" int llama_cuda_cache_put_row(struct llama_cuda_cache *dst, int b,
                                        const struct llama_cuda_cache *src)
{
	size_t KD = (size_t)dst->NKV * dst->HD;
	int T = src->past[0];
	if (b < 0 || b >= dst->B || T > dst->L || src->n_layer != dst->n_layer ||
	    (size_t)src->NKV * src->HD != KD) {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "llama_cuda_cache_put_row",
		             "caches of different shapes");
		return -1;
	}
	for (int l = 0; l < dst->n_layer; l++) {
		size_t o = ((size_t)l * dst->B + (size_t)b) * dst->L * KD,
		       so = (size_t)l * src->B * src->L * KD;
		d2d(dst->k + o, src->k + so, (size_t)T * KD * sizeof(float));
		d2d(dst->v + o, src->v + so, (size_t)T * KD * sizeof(float));
	}
	if (cuda_sync() != 0)
		return -1;
	dst->past[b] = T;
	return 0;
}

extern "C" int llama_decode_cuda(const struct llama_cuda_model *dm,
                                 const struct llama_cuda_lora *dl, struct llama_cuda_cache *c,
                                 const int32_t *ids, int B, int TN, float *logits,
                                 struct qt_err *err)
{
	const struct llama_config *cf = &dm->cfg;
	int n = B * TN, R = 1;
	if (B > c->B)
		return qt_err_set(err, QT_ESOFTWARE, "%d rows exceed the cache (%d)", B, c->B);
	for (int b = 0; b < B; b++)
		if (c->past[b] + TN > c->L)
			return qt_err_set(err, QT_EDATA, "context of %d tokens exceeds the cache (%d)",
			                  c->past[b] + TN, c->L);
	for (int i = 0; dl && i < dl->n_pairs; i++)
		R = dl->p[i].A && dl->p[i].r > R ? dl->p[i].r : R;
	size_t C = (size_t)cf->C, H = (size_t)cf->H, QD = (size_t)cf->NH * cf->HD,
	       KD = (size_t)cf->NKV * cf->HD, half = (size_t)cf->HD / 2, wmax = 0;
	for (int l = 0; n > MATVEC_MAX_T && l < cf->n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			const struct dlin *L = &dm->layers[l].lin[k];
			size_t w = L->w ? 0 : (size_t)L->OC * L->C;
			wmax = w > wmax ? w : wmax;
		}
	size_t sizes[] = { n * C, n * C, n * QD, n * KD, n * KD, n * QD, n * H, n * H, n * half,
	                   n * half, (size_t)n * R, wmax };
	struct dacts a;
	float **dst[] = { &a.x, &a.xn, &a.q, &a.k, &a.v, &a.att, &a.gate, &a.up, &a.cos_t, &a.sin_t,
	                  &a.mid, &a.wbuf };
	size_t total = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		total += (sizes[i] + 63) / 64 * 64;
	float *block = (float *)cuda_malloc(total * sizeof(float));
	int32_t *hid = (int32_t *)malloc(sizeof(int32_t) * 2 * (size_t)n);
	float *hcs = (float *)malloc(sizeof(float) * 2 * (size_t)n * half);
	int32_t *did = (int32_t *)cuda_malloc(sizeof(int32_t) * (size_t)n);
	int rc = QT_OK;
	if (!block || !hid || !hcs || !did) {
		rc = QT_ESOFTWARE;
		goto out;
	}
	{
		float *p = block;
		for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
			*dst[i] = p;
			p += (sizes[i] + 63) / 64 * 64;
		}
	}
	/* positions past[b] + i and their RoPE table on the host, as the CPU */
	for (int b = 0; b < B; b++)
		for (int i = 0; i < TN; i++)
			hid[n + b * TN + i] = c->past[b] + i;
	rope_table(hcs, hcs + (size_t)n * half, hid + n, dm->inv_freq, n, cf->HD);
	if (cuda_upload(did, ids, sizeof(int32_t) * n) || cuda_upload(a.cos_t, hcs, n * half * 4) ||
	    cuda_upload(a.sin_t, hcs + (size_t)n * half, n * half * 4) ||
	    cuda_upload(c->dpast, c->past, sizeof(int32_t) * B)) {
		rc = QT_ESOFTWARE;
		goto out;
	}
	embedding_forward_cuda(a.x, did, dm->embed, n, cf->C, cf->V);
	for (int l = 0; l < cf->n_layer; l++) {
		const struct dlayer *L = &dm->layers[l];
		rmsnorm_forward_cuda(a.xn, NULL, a.x, L->attn_norm, n, cf->C, cf->eps);
		lin(a.q, a.xn, &L->lin[LLAMA_Q], pair_of(dl, l, LLAMA_Q), n, 0.0f, &a);
		lin(a.k, a.xn, &L->lin[LLAMA_K], pair_of(dl, l, LLAMA_K), n, 0.0f, &a);
		lin(a.v, a.xn, &L->lin[LLAMA_V], pair_of(dl, l, LLAMA_V), n, 0.0f, &a);
		rope_forward_cuda(a.q, a.q, a.cos_t, a.sin_t, n, cf->NH, cf->HD);
		rope_forward_cuda(a.k, a.k, a.cos_t, a.sin_t, n, cf->NKV, cf->HD);
		float *kc = c->k + (size_t)l * c->B * c->L * KD, *vc = c->v + (size_t)l * c->B * c->L * KD;
		for (int b = 0; b < B; b++) {
			size_t o = ((size_t)b * c->L + (size_t)c->past[b]) * KD;
			d2d(kc + o, a.k + (size_t)b * TN * KD, (size_t)TN * KD * sizeof(float));
			d2d(vc + o, a.v + (size_t)b * TN * KD, (size_t)TN * KD * sizeof(float));
		}
		attention_decode_cuda(a.att, a.q, kc, vc, c->dpast, llama_window(cf, l), B, TN, c->L,
		                      cf->NH, cf->NKV, cf->HD);
		lin(a.x, a.att, &L->lin[LLAMA_O], pair_of(dl, l, LLAMA_O), n, 1.0f, &a);
		rmsnorm_forward_cuda(a.xn, NULL, a.x, L->mlp_norm, n, cf->C, cf->eps);
		lin(a.gate, a.xn, &L->lin[LLAMA_GATE], pair_of(dl, l, LLAMA_GATE), n, 0.0f, &a);
		lin(a.up, a.xn, &L->lin[LLAMA_UP], pair_of(dl, l, LLAMA_UP), n, 0.0f, &a);
		swiglu_forward_cuda(a.gate, a.gate, a.up, (size_t)n * H);
		lin(a.x, a.gate, &L->lin[LLAMA_DOWN], pair_of(dl, l, LLAMA_DOWN), n, 1.0f, &a);
	}
	for (int b = 0; b < B; b++) /* each row's last token */
		d2d(a.xn + (size_t)b * C, a.x + ((size_t)b * TN + TN - 1) * C, C * sizeof(float));
	rmsnorm_forward_cuda(a.xn, NULL, a.xn, dm->final_norm, B, cf->C, cf->eps);
	/* the LM head into a (B, V) buffer of its own */
	{
		float *lg = (float *)cuda_malloc((size_t)B * cf->V * sizeof(float));
		if (!lg) {
			rc = QT_ESOFTWARE;
			goto out;
		}
		if (B <= MATVEC_MAX_T)
			matvec_forward_cuda(lg, a.xn, dm->lm_head, B, cf->C, cf->V, 0.0f, 0);
		else
			linear_forward_cuda(lg, a.xn, dm->lm_head, NULL, B, cf->C, cf->V, 1.0f, 0.0f);
		if (cuda_download(logits, lg, (size_t)B * cf->V * sizeof(float)))
			rc = QT_ESOFTWARE;
		cuda_free(lg);
	}
	if (rc == QT_OK && cuda_sync() == 0)
		for (int b = 0; b < B; b++)
			c->past[b] += TN;
	else
		rc = QT_ESOFTWARE;
out:
	if (rc != QT_OK) {
		qt_err_set(err, rc, "cuda: decode: %s", cuda_error() ? cuda_error() : "out of memory");
		cuda_error_clear();
	}
	cuda_free(block), cuda_free(did);
	free(hid), free(hcs);
	return rc;
}
