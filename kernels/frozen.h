/* qlora-tools: ISC license. */
/*
 * The frozen weight of a linear layer as the ops see it: f32 rows (optionally also as bf16 bits
 * for decoding), or NF4 codes with per-block absmax (kernels/nf4.h), plus an optional bias. The
 * model (kernels/model/) holds one per linear module; each backend (kernels/backend.h) turns it
 * into x W^T its own way. Pointers are in the memory of the backend that reads them.
 */
#ifndef QT_KERNELS_FROZEN_H
#define QT_KERNELS_FROZEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"

struct bgemm_b;

/* W (OC, C): f32 rows, or NF4 codes + per-block absmax. */
struct frozen_linear {
	int            OC, C;
	const float   *w;          /* (OC, C) f32, or NULL when NF4 */
	const uint16_t *wb;        /* w as bf16 bits when every value is bf16-exact (decoding reads
	                              half the bytes; llama_bf16_rows), or NULL */
	const uint8_t *nf4;        /* packed codes, (OC*C + 1) / 2 bytes */
	const float   *absmax;     /* (ceil(OC*C / blocksize)) dequantized block maxima */
	const float   *code;       /* 16-entry NF4 table */
	size_t         blocksize;
	const float   *bias;       /* (OC) added to x W^T (attention_bias, mlp_bias, Qwen2's q/k/v),
	                              or NULL */
	enum qt_dtype  deq_dtype;  /* NF4 only: the quant_state dtype. bitsandbytes' dequantize_4bit
	                            * returns f32(code * absmax) cast to it, so BF16/F16 round each
	                            * dequantized value to that type; F32 (0) keeps it */
	int            int8_act;   /* NF4 only, the user's opt-in (gen --int8-activations): up to
	                            * MATVEC_MAX_T rows are matvec_nf4_q8_forward's int8-activation
	                            * products (different math) where it applies */
	struct bgemm_b *bf16_packed[2]; /* CPU, with frozen_set_bf16: W^T and W packed for
	                                   frozen_train and frozen_train_backward_x by frozen_pack,
	                                   or NULL (packed per product) */
};

/* kernels/matvec.h's round_to for w's dequantized values: 0 none, 1 bf16, 2 f16. */
static inline int frozen_round_to(const struct frozen_linear *w)
{
	return w->deq_dtype == QT_DTYPE_BF16 ? 1 : w->deq_dtype == QT_DTYPE_F16 ? 2 : 0;
}

/* The CPU's frozen-weight ops (the CUDA twins, _cuda, in kernels/cuda/cuda.h; both reached
 * through kernels/backend.h). scratch: at least frozen_scratch(w, T) bytes. */

/* Bytes of scratch the ops need for T rows (the matrix-vector path's dequantized NF4 rows). */
size_t frozen_scratch(const struct frozen_linear *w, int T);
/* Dequantizes an NF4 weight into out (OC * C floats) exactly as bitsandbytes'
 * dequantize_4bit, including the cast to w->deq_dtype: the values every NF4 path multiplies
 * by (kernels/matvec.h's rows and blocks are the same numbers). */
void frozen_dequant(const struct frozen_linear *w, float *out, int n_threads);
/* Inference: out = beta * out + x W^T + bias. Up to MATVEC_MAX_T rows are matrix-vector
 * products (bf16 rows when w->wb, NF4 one row at a time), more are SGEMM, an NF4 or bf16-only
 * weight (w NULL) made f32 one tile of the product at a time (kernels/gemm.h's sgemm_rm_fill:
 * a few tiles of a weight in memory, never the whole; the same bits as the whole weight
 * dequantized). beta 0 or 1. */
void frozen_infer(float *out, const float *x, const struct frozen_linear *w, int T, float beta,
                  void *scratch, int n_threads);
/* Training: the same product, always SGEMM (tiles as above), and its input gradient
 * dx += dout W. An NF4 weight may span several modules whose codes and block maxima lie one
 * after another (a fused q, k, v): it is one weight of their summed OC. */
void frozen_train(float *out, const float *x, const struct frozen_linear *w, int T, float beta,
                  void *scratch);
void frozen_train_backward_x(float *dx, const float *dout, const struct frozen_linear *w, int T,
                             void *scratch);
/* lora-train --bf16: from now on frozen_train and frozen_train_backward_x (the LM head's
 * products in kernels/cross_entropy.h included) round their activation operand and the weight
 * to bf16 and sum in f32 (kernels/gemm_bf16.h: AVX512_BF16 where the CPU has it, the same sums
 * in f32 code elsewhere); 0 restores the f32 products. frozen_infer is not affected. */
void frozen_set_bf16(int on);
/* With frozen_set_bf16 on: w packed once for many frozen_train calls (and with backward,
 * frozen_train_backward_x calls) on blocks of rows, the LM head's chunks; the same bits as
 * without. Off, or out of memory: nothing. frozen_unpack frees what frozen_pack made. */
void frozen_pack(struct frozen_linear *w, int backward);
void frozen_unpack(struct frozen_linear *w);
/* The first failure of the ops above since frozen_error_clear ("out of memory for a weight
 * tile": the product was not made), or NULL: the CPU backend's sticky error. */
const char *frozen_error(void);
void frozen_error_clear(void);

#endif
