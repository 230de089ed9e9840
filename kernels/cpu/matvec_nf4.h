/* qlora-tools: ISC license. */
/*
 * Internal to kernels/cpu: the SIMD rows of matvec_nf4_forward (kernels/cpu/matvec_nf4.c),
 * called by kernels/cpu/matvec.c for each band of output rows.
 */
#ifndef QT_KERNELS_CPU_MATVEC_NF4_H
#define QT_KERNELS_CPU_MATVEC_NF4_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/matvec.h"

/* matvec_nf4_forward's arguments (shapes as there). */
struct matvec_nf4_args {
	float         *out;
	const float   *x;
	const uint8_t *packed;
	const float   *absmax, *code;
	size_t         blocksize;
	int            round_to, T, C, OC;
	float          beta;
};

/* Computes out rows [o0, o1) (every t), bit-identical to the reference. */
typedef void (*matvec_nf4_rows_fn)(const struct matvec_nf4_args *j, int o0, int o1);

/* The order of x in each group of 16 a rows function wants (matvec_nf4_interleave). */
enum { MATVEC_NF4_ORDER_NONE, MATVEC_NF4_ORDER_512, MATVEC_NF4_ORDER_BF16,
       MATVEC_NF4_ORDER_BF16X2 };
/* Floats of xi per float of x for an order (matvec_nf4_interleave). */
#define MATVEC_NF4_ORDER_WIDTH(order) ((order) == MATVEC_NF4_ORDER_BF16X2 ? 2 : 1)

/* The fastest rows function this CPU runs (within matvec_nf4_path_limit) for T rows of x and
 * a weight of C columns, this blocksize and cast, or NULL: use the reference. *order says how
 * it wants x. */
matvec_nf4_rows_fn matvec_nf4_rows_pick(int T, int C, size_t blocksize, int round_to,
                                        int *order);
/* Writes rows [r0, r1) of the weight, dequantized and cast, into out ((r1 - r0) * C floats),
 * bit-identical to nf4_dequantize_rows followed by the cast. */
typedef void (*matvec_nf4_dequant_fn)(const struct matvec_nf4_args *j, size_t r0, size_t r1,
                                      float *out);
/* The SIMD dequantizer this CPU runs (within matvec_nf4_path_limit), or NULL. */
matvec_nf4_dequant_fn matvec_nf4_dequant_pick(int C, size_t blocksize);
/* x (T, C), C % 16 == 0, into xi (T, C) with each group of 16 in the order a rows function
 * wants: MATVEC_NF4_ORDER_512 x[0], x[8], x[1], x[9], ..., x[7], x[15] (the AVX-512 rows' lanes);
 * MATVEC_NF4_ORDER_BF16 x[0], x[4], x[8], x[12], x[1], x[5], x[9], x[13], x[2], x[6], ...,
 * x[3], x[7], x[11], x[15] (the AVX2 bf16 rows' lanes); MATVEC_NF4_ORDER_BF16X2 that order
 * with each 8 written twice in a row (the VBMI rows' two halves), xi then (T, 2 C). */
void matvec_nf4_interleave(const float *x, int T, int C, float *xi, int order);
/* Stores (beta as in j) the sum of the 16 lanes of the bf16 rows (positions in
 * MATVEC_NF4_ORDER_BF16's order) combined as dot_avx2 combines its lanes, as out[t, o]. */
void matvec_nf4_store_bf16_lanes(const struct matvec_nf4_args *j, int t, int o,
                                 const float *lanes);
/* The decode rows for bf16 tables on AVX-512 (kernels/cpu/matvec_nf4_vbmi.c, two weight rows
 * per register) where the CPU has MATVEC_NF4_CAP_VBMI: for T == 1, C a multiple of blocksize
 * and blocksize of 32 (x in MATVEC_NF4_ORDER_BF16X2); the AVX2 rows take the rest. */
void matvec_nf4_rows_vbmi(const struct matvec_nf4_args *j, int o0, int o1);
/* Extensions some rows need beyond AVX-512F: BW, DQ, VL, VBMI, BF16, GFNI (the VBMI rows); VL
 * and VNNI (the int8 rows of matvec_nf4_q8_forward). */
enum { MATVEC_NF4_CAP_VBMI = 1, MATVEC_NF4_CAP_VNNI = 2 };
/* Whether the CPU has cap (asked once, with matvec_nf4_path_best's path). */
int matvec_nf4_cpu_has(int cap);
/* The best path this CPU runs within matvec_nf4_path_limit (also for matvec_nf4_q8_forward). */
enum matvec_nf4_path matvec_nf4_path_now(void);

#endif
