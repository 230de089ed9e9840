/* qlora-tools: ISC license. */
/*
 * The CUDA backend table (kernels/backend.h): kernels/cuda/cuda.h's ops, adapted to the CPU's
 * argument lists where they differ (no thread counts). Every entry of the CPU's table is
 * filled, every cap the CPU has is set, and attention takes head dims up to 256, so no family
 * or method is refused on CUDA (llama_backend_missing names what a backend lacks); only an
 * NF4 lm_head (QT_CAP_NF4_LM_HEAD) is missing, as on the CPU. Host code, built with the CUDA
 * objects (status: kernels/cuda/README).
 */
#include "kernels/backend.h"

#include "kernels/cuda/cuda.h"
#include "kernels/matvec.h"

static int zero_ok(void *dst, size_t bytes) { return cuda_memset(dst, 0, bytes); }
static void zero(void *dst, size_t bytes) { (void)zero_ok(dst, bytes); }

static void rmsnorm_forward_c(float *out, float *rstd, const float *x, const float *w, int T,
                              int C, float eps, int n_threads)
{
	(void)n_threads;
	rmsnorm_forward_cuda(out, rstd, x, w, T, C, eps);
}

static void attention_forward_c(float *out, float *lse, const float *q, const float *k,
                                const float *v, const int32_t *seg, const struct attn_opts *o,
                                int B, int T, int NH, int NKV, int HD, int n_threads)
{
	(void)n_threads;
	attention_forward_cuda(out, lse, q, k, v, seg, o, B, T, NH, NKV, HD);
}

static void attention_backward_c(float *dq, float *dk, float *dv, const float *dout,
                                 const float *q, const float *k, const float *v, const float *out,
                                 const float *lse, const int32_t *seg, const struct attn_opts *o,
                                 int B, int T, int NH, int NKV, int HD, int n_threads)
{
	(void)n_threads;
	attention_backward_cuda(dq, dk, dv, dout, q, k, v, out, lse, seg, o, B, T, NH, NKV, HD);
}

static void attention_decode_c(float *out, const float *q, const float *kc, const float *vc,
                               const int32_t *past, const struct attn_opts *o, int B, int TN,
                               int L, int NH, int NKV, int HD, int n_threads)
{
	(void)n_threads;
	attention_decode_cuda(out, q, kc, vc, past, o, B, TN, L, NH, NKV, HD);
}

/* ---- frozen weights: NF4 through bf16 tensor-core GEMMs (kernels/cuda/nf4.cu) ---- */

static size_t frozen_scratch_c(const struct frozen_linear *w, int T)
{
	if (w->w)
		return 0;
	size_t a = nf4_linear_scratch_cuda(T, w->C, w->OC), b = (size_t)w->OC * w->C * sizeof(float);
	return a > b ? a : b; /* the training GEMM's, or the inference path's f32 weight */
}

static void frozen_infer_c(float *out, const float *x, const struct frozen_linear *w, int T,
                           float beta, void *scratch, int n_threads)
{
	(void)n_threads;
	if (T <= MATVEC_MAX_T) {
		if (w->w)
			matvec_forward_cuda(out, x, w->w, T, w->C, w->OC, beta, 0);
		else
			matvec_nf4_forward_cuda(out, x, w->nf4, w->absmax, w->code, w->blocksize,
			                        frozen_round_to(w), T, w->C, w->OC, beta, NULL, 0);
	} else {
		const float *W = w->w;
		if (!W) {
			matvec_nf4_dequant_cuda(scratch, w->nf4, w->absmax, w->code, w->blocksize,
			                        frozen_round_to(w), w->C, w->OC, 0);
			W = scratch;
		}
		linear_forward_cuda(out, x, W, NULL, T, w->C, w->OC, 1.0f, beta);
	}
	if (w->bias)
		bias_forward_cuda(out, w->bias, T, w->OC);
}

static void frozen_train_c(float *out, const float *x, const struct frozen_linear *w, int T,
                           float beta, void *scratch)
{
	if (w->w) {
		linear_forward_cuda(out, x, w->w, w->bias, T, w->C, w->OC, 1.0f, beta);
		return;
	}
	nf4_linear_forward_cuda(out, x, w->nf4, w->absmax, w->code, w->blocksize, T, w->C, w->OC,
	                        1.0f, beta, scratch);
	if (w->bias)
		bias_forward_cuda(out, w->bias, T, w->OC);
}

static void frozen_train_backward_x_c(float *dx, const float *dout,
                                      const struct frozen_linear *w, int T, void *scratch)
{
	if (w->w)
		linear_backward_x_cuda(dx, dout, w->w, T, w->C, w->OC, 1.0f);
	else
		nf4_linear_backward_x_cuda(dx, dout, w->nf4, w->absmax, w->code, w->blocksize, T, w->C,
		                           w->OC, 1.0f, scratch);
}

const struct qt_backend qt_backend_cuda = {
	.name = "cuda",
	.host = 0,
	.caps = QT_CAP_ATTN_SCALE_CAP | QT_CAP_ROPE_PARTIAL,
	.attn_max_hd = 256,
	.alloc = cuda_malloc,
	.free = cuda_free,
	.upload = cuda_upload,
	.download = cuda_download,
	.copy = cuda_copy,
	.zero = zero,
	.sync = cuda_sync,
	.error = cuda_error,
	.error_clear = cuda_error_clear,
	.embedding_forward = embedding_forward_cuda,
	.embedding_scale = embedding_scale_cuda,
	.neftune_forward = neftune_forward_cuda,
	.rmsnorm_forward = rmsnorm_forward_c,
	.rmsnorm_backward = rmsnorm_backward_cuda,
	.linear_forward = linear_forward_cuda,
	.linear_backward_x = linear_backward_x_cuda,
	.linear_backward_w = linear_backward_w_cuda,
	.bias_forward = bias_forward_cuda,
	.frozen_scratch = frozen_scratch_c,
	.frozen_infer = frozen_infer_c,
	.frozen_train = frozen_train_c,
	.frozen_train_backward_x = frozen_train_backward_x_c,
	.columns_split = columns_split_cuda,
	.columns_join = columns_join_cuda,
	.softcap_forward = softcap_forward_cuda,
	.softcap_backward = softcap_backward_cuda,
	.rope_forward_part = rope_forward_part_cuda,
	.rope_backward_part = rope_backward_part_cuda,
	.attention_forward = attention_forward_c,
	.attention_backward = attention_backward_c,
	.attention_decode = attention_decode_c,
	.attention_prefix_forward = attention_prefix_forward_cuda,
	.attention_prefix_backward = attention_prefix_backward_cuda,
	.residual_add = residual_add_cuda,
	.swiglu_forward = swiglu_forward_cuda,
	.swiglu_backward = swiglu_backward_cuda,
	.geglu_forward = geglu_forward_cuda,
	.geglu_backward = geglu_backward_cuda,
	.dropout_forward = dropout_forward_cuda,
	.dropout_backward = dropout_backward_cuda,
	.lm_head_ce = lm_head_ce_cuda,
	.lm_head_correct = lm_head_correct_cuda,
	.adamw_step = adamw_step_cuda,
	.grad_sumsq = grad_sumsq_cuda,
	.grad_scale = grad_scale_cuda,
};
