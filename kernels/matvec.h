/* qlora-tools: ISC license. */
/*
 * The linear layer of kernels/matmul.h for a few rows of input (decoding: one new token per
 * sequence), out (T, OC) = beta * out + x (T, C) @ W^T, without SGEMM's packing of W: each row
 * of W is read once, from memory, and dotted with the T rows of x held in cache. For T up to
 * MATVEC_MAX_T this is several times faster than cblas_sgemm, whose copy of the whole weight
 * dominates at small T. The NF4 form reads the packed codes once and dequantizes them in
 * registers (AVX-512 or AVX2, kernels/cpu/matvec_nf4.c) with results bit-identical to its
 * reference, which dequantizes one row of W at a time (exactly as llama_linear_dequant:
 * f32(code * absmax), then the cast to deq_dtype) and never holds more.
 * Work is split over output rows on up to n_threads threads (common/pool.h); every output is
 * one dot product computed the same way on any thread, so results do not depend on n_threads.
 * Dot products use 16 partial sums (AVX2+FMA when the CPU has them, else plain C): they differ
 * from SGEMM's summation order by rounding only.
 */
#ifndef QT_KERNELS_MATVEC_H
#define QT_KERNELS_MATVEC_H

#include <stddef.h>
#include <stdint.h>

#define MATVEC_MAX_T 32

/* out: (T, OC); x: (T, C); W: (OC, C); T <= MATVEC_MAX_T; beta 0 (out ignored) or 1. */
void matvec_forward(float *out, const float *x, const float *W, int T, int C, int OC,
                    float beta, int n_threads);

/* The same with W as bf16 bits (OC, C): half the bytes read per token, and results identical
 * to matvec_forward on W widened to f32 (the same products, summed the same way). */
void matvec_bf16_forward(float *out, const float *x, const uint16_t *Wb, int T, int C, int OC,
                         float beta, int n_threads);

/* The same with W as NF4 (kernels/nf4.h layout: packed codes, absmax per block of blocksize
 * elements of the flattened (OC, C) weight, 16-entry code table); round_to: 0 keeps the f32
 * product, 1 rounds each weight to bf16, 2 to f16 (bitsandbytes' cast to the quant_state
 * dtype). work: matvec_nf4_work(C, OC, n_threads) floats (one dequantized row per thread). */
void matvec_nf4_forward(float *out, const float *x, const uint8_t *packed, const float *absmax,
                        const float *code, size_t blocksize, int round_to, int T, int C, int OC,
                        float beta, float *work, int n_threads);
size_t matvec_nf4_work(int C, int OC, int n_threads);

/* The code paths of matvec_nf4_forward. REF dequantizes each row into work and dots it (the
 * reference, any CPU, any shape); AVX2 and AVX512 read the packed codes once and dequantize in
 * registers (kernels/cpu/matvec_nf4.c), for C a multiple of 16, with results bit-identical to
 * REF on any CPU that has them. */
enum matvec_nf4_path { MATVEC_NF4_REF, MATVEC_NF4_AVX2, MATVEC_NF4_AVX512 };
/* The best path this CPU runs. */
enum matvec_nf4_path matvec_nf4_path_best(void);
/* Caps the path matvec_nf4_forward uses from now on (default: no cap): for tests and
 * benchmarks; not to be called while a matvec runs. */
void matvec_nf4_path_limit(enum matvec_nf4_path p);

/*
 * NF4 with int8 activations: an opt-in that CHANGES THE MATH (gen --int8-activations), as
 * llama.cpp's CPU decode multiplies Q4_0 weights by q8_0 activations. Each row of x is quantized
 * per block of 64: m = max|x|, q = lrintf(x * (127 / m)) (int8, |q| <= 127), dx = m / 16129; each
 * NF4 code to kq = lrintf(127 * code) (the cast to bf16/f16 of the f32 path does not happen).
 * For a block of 64 at element 64b of row o, in 8 lanes l = 0..7,
 *   s[l] = sum over h = 0,1 and i = 0..3 of kq * q at element 64b + 32h + 2(4(l & 3) + i) + (l >> 2)
 * (exact in int32), acc[l] = fmaf((float)s[l], absmax[block] * dx[b], acc[l]) for b in order,
 * and the output is ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7)), then
 * added to out when beta is 1. The plain-C reference and the AVX2 rows compute exactly this,
 * so results are bit-identical across paths and thread counts. Relative RMS error against
 * matvec_nf4_forward: about 0.006 on 7B-shaped data (tests/kernels/test_matvec_nf4_q8.c bounds
 * it). Applies when blocksize == 64 and C % 64 == 0 (matvec_nf4_q8_applies); returns 0, or -1
 * when out of memory for the quantized x (out untouched).
 */
int matvec_nf4_q8_applies(int C, size_t blocksize);
int matvec_nf4_q8_forward(float *out, const float *x, const uint8_t *packed, const float *absmax,
                          const float *code, size_t blocksize, int T, int C, int OC, float beta,
                          int n_threads);

/* The whole NF4 weight that matvec_nf4_forward multiplies by, into out (OC * C floats), in row
 * bands on up to n_threads threads: for the SGEMM path (prefill, training). */
void matvec_nf4_dequant(float *out, const uint8_t *packed, const float *absmax,
                        const float *code, size_t blocksize, int round_to, int C, int OC,
                        int n_threads);

/* Rows [r0, r1) and columns [c0, c1) of the same weight (the same values) into out
 * ((r1 - r0) x (c1 - c0) floats, row stride c1 - c0), on the calling thread: a tile of the
 * SGEMM path (kernels/gemm.h's sgemm_rm_fill). */
void matvec_nf4_dequant_block(float *out, const uint8_t *packed, const float *absmax,
                              const float *code, size_t blocksize, int round_to, int C, int r0,
                              int r1, int c0, int c1);

#endif
