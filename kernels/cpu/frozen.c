/* qlora-tools: ISC license. */
/* Frozen linear weights on the CPU; see kernels/frozen.h. */
#include "kernels/frozen.h"

#include "kernels/matmul.h"
#include "kernels/matvec.h"

size_t frozen_scratch(const struct frozen_linear *w, int T)
{
	(void)T;
	return w->w ? 0 : (size_t)w->OC * w->C * sizeof(float);
}

void frozen_dequant(const struct frozen_linear *w, float *out, int n_threads)
{
	matvec_nf4_dequant(out, w->nf4, w->absmax, w->code, w->blocksize, frozen_round_to(w), w->C,
	                   w->OC, n_threads);
}

void frozen_infer(float *out, const float *x, const struct frozen_linear *w, int T, float beta,
                  void *scratch, int n_threads)
{
	/* GEMMs use OpenBLAS's own threads; n_threads is for matvec and NF4 dequantization */
	const float *W = w->w;
	if (T <= MATVEC_MAX_T && W) {
		/* decoding: no SGEMM packing of the weight */
		if (w->wb)
			matvec_bf16_forward(out, x, w->wb, T, w->C, w->OC, beta, n_threads);
		else
			matvec_forward(out, x, W, T, w->C, w->OC, beta, n_threads);
	} else if (T <= MATVEC_MAX_T) {
		/* NF4 rows dequantized one at a time, as frozen_dequant */
		matvec_nf4_forward(out, x, w->nf4, w->absmax, w->code, w->blocksize, frozen_round_to(w),
		                   T, w->C, w->OC, beta, scratch, n_threads);
	} else {
		if (!W) {
			frozen_dequant(w, scratch, n_threads);
			W = scratch;
		}
		linear_forward_fast(out, x, W, NULL, T, w->C, w->OC, 1.0f, beta);
	}
	if (w->bias)
		bias_forward(out, w->bias, T, w->OC);
}

/* W as f32: as loaded, or dequantized into scratch as the inference path does. */
static const float *weight_of(const struct frozen_linear *w, void *scratch)
{
	if (w->w)
		return w->w;
	frozen_dequant(w, scratch, 1);
	return scratch;
}

void frozen_train(float *out, const float *x, const struct frozen_linear *w, int T, float beta,
                  void *scratch)
{
	linear_forward_fast(out, x, weight_of(w, scratch), w->bias, T, w->C, w->OC, 1.0f, beta);
}

void frozen_train_backward_x(float *dx, const float *dout, const struct frozen_linear *w, int T,
                             void *scratch)
{
	linear_backward_x_fast(dx, dout, weight_of(w, scratch), T, w->C, w->OC, 1.0f);
}
