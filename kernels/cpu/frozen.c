/* qlora-tools: ISC license. */
/* Frozen linear weights on the CPU; see kernels/frozen.h. */
#include "kernels/frozen.h"

#include <limits.h>
#include <string.h>

#include "common/half.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/matmul.h"
#include "kernels/matvec.h"

/* An f32 weight needs none; an NF4 one the matrix-vector path's dequantized rows, one per
 * thread at most (the SGEMM path dequantizes tiles into kernels/gemm.h's own buffers). */
size_t frozen_scratch(const struct frozen_linear *w, int T)
{
	(void)T;
	return w->w || !w->nf4 ? 0 : matvec_nf4_work(w->C, w->OC, INT_MAX) * sizeof(float);
}

static const char *volatile frozen_err;
static int frozen_bf16;

void frozen_set_bf16(int on) { frozen_bf16 = on; }

const char *frozen_error(void) { return frozen_err; }
void frozen_error_clear(void) { frozen_err = NULL; }

/* sgemm_rm_fill's fills from an NF4 or bf16 weight W (OC, C): rows [j0, j0 + n) of W (op(B) =
 * W^T, the forward) or its columns [j0, j0 + n) (op(B) = W, the input gradient). The values
 * are those frozen_dequant writes, or the bf16 values as f32 (exact). */
static void fill_rows(void *ctx, int j0, int n, float *buf)
{
	const struct frozen_linear *w = ctx;
	if (w->nf4) {
		matvec_nf4_dequant_block(buf, w->nf4, w->absmax, w->code, w->blocksize,
		                         frozen_round_to(w), w->C, j0, j0 + n, 0, w->C);
		return;
	}
	const uint16_t *b = w->wb + (size_t)j0 * w->C;
	for (size_t i = 0; i < (size_t)n * w->C; i++)
		buf[i] = qt_bf16_to_f32(b[i]);
}

static void fill_cols(void *ctx, int j0, int n, float *buf)
{
	const struct frozen_linear *w = ctx;
	if (w->nf4) {
		matvec_nf4_dequant_block(buf, w->nf4, w->absmax, w->code, w->blocksize,
		                         frozen_round_to(w), w->C, 0, w->OC, j0, j0 + n);
		return;
	}
	for (int o = 0; o < w->OC; o++, buf += n) {
		const uint16_t *b = w->wb + (size_t)o * w->C + j0;
		for (int c = 0; c < n; c++)
			buf[c] = qt_bf16_to_f32(b[c]);
	}
}

/* out = beta * out + x W^T (+ bias): linear_forward_fast's product, W made tile by tile. */
static void forward_tiled(float *out, const float *x, const struct frozen_linear *w, int T,
                          float beta)
{
	/* beta 0: written without being read, as linear_forward_fast's SGEMM (an empty product
	 * excepted) */
	if (beta == 0 && w->C <= 0)
		memset(out, 0, (size_t)T * w->OC * sizeof *out);
	if (sgemm_rm_fill(0, 1, T, w->OC, w->C, 1.0f, x, w->C, fill_rows, (void *)w, beta, out,
	                  w->OC) != 0)
		frozen_err = "out of memory for a weight tile";
	if (w->bias)
		bias_forward(out, w->bias, T, w->OC);
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
	if (T <= MATVEC_MAX_T && (W || w->wb)) {
		/* decoding: no SGEMM packing of the weight */
		if (w->wb)
			matvec_bf16_forward(out, x, w->wb, T, w->C, w->OC, beta, n_threads);
		else
			matvec_forward(out, x, W, T, w->C, w->OC, beta, n_threads);
	} else if (T <= MATVEC_MAX_T && w->int8_act && matvec_nf4_q8_applies(w->C, w->blocksize) &&
	           matvec_nf4_q8_forward(out, x, w->nf4, w->absmax, w->code, w->blocksize, T, w->C,
	                                 w->OC, beta, n_threads) == 0) {
		/* done: int8 activations, asked for (out of memory: the exact path below) */
	} else if (T <= MATVEC_MAX_T) {
		/* NF4 rows dequantized one at a time, as frozen_dequant */
		matvec_nf4_forward(out, x, w->nf4, w->absmax, w->code, w->blocksize, frozen_round_to(w),
		                   T, w->C, w->OC, beta, scratch, n_threads);
	} else if (!W) {
		forward_tiled(out, x, w, T, beta);
		return;
	} else {
		linear_forward_fast(out, x, W, NULL, T, w->C, w->OC, 1.0f, beta);
	}
	if (w->bias)
		bias_forward(out, w->bias, T, w->OC);
}

void frozen_train(float *out, const float *x, const struct frozen_linear *w, int T, float beta,
                  void *scratch)
{
	(void)scratch;
	if (frozen_bf16) {
		if ((w->bf16_packed[0] ? bgemm_rm_packed(T, x, w->C, w->bf16_packed[0], beta, out,
		                                         w->OC) :
		     w->w ? bgemm_rm(1, T, w->OC, w->C, x, w->C, w->w, w->C, beta, out, w->OC)
		          : bgemm_rm_fill(1, T, w->OC, w->C, x, w->C, fill_rows, (void *)w, beta, out,
		                          w->OC)) != 0)
			frozen_err = "out of memory for a weight tile";
		if (w->bias)
			bias_forward(out, w->bias, T, w->OC);
	} else if (w->w)
		linear_forward_fast(out, x, w->w, w->bias, T, w->C, w->OC, 1.0f, beta);
	else
		forward_tiled(out, x, w, T, beta);
}

void frozen_train_backward_x(float *dx, const float *dout, const struct frozen_linear *w, int T,
                             void *scratch)
{
	(void)scratch;
	if (frozen_bf16) {
		if ((w->bf16_packed[1] ? bgemm_rm_packed(T, dout, w->OC, w->bf16_packed[1], 1.0f, dx,
		                                         w->C) :
		     w->w ? bgemm_rm(0, T, w->C, w->OC, dout, w->OC, w->w, w->C, 1.0f, dx, w->C)
		          : bgemm_rm_fill(0, T, w->C, w->OC, dout, w->OC, fill_cols, (void *)w, 1.0f,
		                          dx, w->C)) != 0)
			frozen_err = "out of memory for a weight tile";
	} else if (w->w)
		linear_backward_x_fast(dx, dout, w->w, T, w->C, w->OC, 1.0f);
	else if (sgemm_rm_fill(0, 0, T, w->C, w->OC, 1.0f, dout, w->OC, fill_cols, (void *)w, 1.0f,
	                       dx, w->C) != 0)
		frozen_err = "out of memory for a weight tile";
}

void frozen_pack(struct frozen_linear *w, int backward)
{
	if (!frozen_bf16)
		return;
	w->bf16_packed[0] = bgemm_pack_b(1, w->OC, w->C, w->w, w->C, fill_rows, w);
	if (backward)
		w->bf16_packed[1] = bgemm_pack_b(0, w->C, w->OC, w->w, w->C, fill_cols, w);
}

void frozen_unpack(struct frozen_linear *w)
{
	bgemm_b_free(w->bf16_packed[0]);
	bgemm_b_free(w->bf16_packed[1]);
	w->bf16_packed[0] = w->bf16_packed[1] = NULL;
}
