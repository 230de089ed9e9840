/* qlora-tools: ISC license. */
/*
 * Row-major GEMM in bf16 for the frozen base (lora-train --bf16): C = beta * C + A op(B), where
 * A (M, K) is f32 and op(B) (K, N) comes in f32 from a fill (kernels/gemm.h's sgemm_fill_fn),
 * and both are rounded to bf16 before they are multiplied: the QLoRA recipes' bf16 compute on
 * the CPU instructions made for it (AVX512_BF16's VDPBF16PS).
 *
 * The math, the same on every CPU: each operand is rounded to bf16, to nearest even (NaN stays
 * NaN), and a result below 2^-126 in magnitude becomes a zero of its sign (VDPBF16PS reads such
 * inputs as zero). Element (i, j) is one f32 sum from +0, over k in the order
 * 1, 0, 3, 2, 5, 4, ...: s = s + a(i,k) b(k,j), each product exact (two bf16 significands fit
 * f32's) and each addition rounded to nearest even; an odd K ends with its last k. Then
 * C = s (beta 0: C is not read) or C = beta * C + s.
 *
 * On a CPU with AVX512_BF16 the sums are VDPBF16PS instructions; elsewhere the same sums in f32
 * vector code. The two agree bit for bit while every product and partial sum is zero or of
 * magnitude within f32's normal range [2^-126, 2^128) (measured on AMD Zen 5: 32 million random
 * normal-range pairs, no difference); beyond it the instruction flushes or keeps a wider
 * exponent where f32 code does neither. Each element is one whole sum, so the result does not
 * depend on the tiling or the thread count.
 */
#ifndef QT_KERNELS_GEMM_BF16_H
#define QT_KERNELS_GEMM_BF16_H

#include "kernels/gemm.h"

/* trans_b and fill as sgemm_rm_fill's (A not transposed, lda its row stride). Returns 0, or -1
 * when its buffers cannot be allocated (C untouched). Threads: sgemm_threads(). */
int bgemm_rm_fill(int trans_b, int M, int N, int K, const float *A, int lda, sgemm_fill_fn fill,
                  void *ctx, float beta, float *C, int ldc);

/* The same with op(B) read from the f32 matrix B (row stride ldb; B is (N, K) with trans_b,
 * else (K, N)). */
int bgemm_rm(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);

/* op(B) packed once (from B, or from fill when B is NULL) for products with many A: an LM
 * head's chunks of rows (packing it per chunk read the weight at a stride, slower than the
 * products). NULL when out of memory. The products are bgemm_rm's bit for bit. */
struct bgemm_b;
struct bgemm_b *bgemm_pack_b(int trans_b, int N, int K, const float *B, int ldb,
                             sgemm_fill_fn fill, void *ctx);
int bgemm_rm_packed(int M, const float *A, int lda, const struct bgemm_b *b, float beta, float *C,
                    int ldc);
void bgemm_b_free(struct bgemm_b *b);

/* Which code computes the sums: BGEMM_AUTO (AVX512_BF16 where the CPU has it), BGEMM_PORTABLE
 * (also packing without AVX-512: what a CPU without it runs), or BGEMM_NATIVE (-1 when the CPU
 * lacks it). For tests that compare the two. */
enum { BGEMM_AUTO, BGEMM_PORTABLE, BGEMM_NATIVE };
int bgemm_set_path(int path);
/* 1 when the CPU has AVX512_BF16 (and AVX512F). */
int bgemm_native_supported(void);

#endif
