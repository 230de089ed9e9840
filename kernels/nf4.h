/* qlora-tools: ISC license. */
/*
 * NF4 4-bit quantization, bit-identical to bitsandbytes' CUDA kernels:
 * quantize_4bit(quant_type="nf4", blocksize, compress_statistics) and dequantize_4bit.
 * Reference: shared/reference.md section 5; bitsandbytes csrc/kernels.cu (kQuantizeBlockwise,
 * kQuantizeBlockwiseSmall, dQuantizeNF4, dQuantize<0>) and bitsandbytes/functional.py.
 *
 * Layout (5.3): a tensor of n elements is flattened row-major and cut into blocks of `blocksize`
 * elements (the last block may be partial). absmax[b] = max |x| over block b (f32).
 * Two codes per byte, element 2j in the HIGH nibble: byte[j] = q[2j] << 4 | q[2j+1]; an odd n
 * pads the last low nibble with the code of the value 0 (7, or 0 when the block is all zero).
 *
 * Double quantization (5.5): absmax is stored as 8-bit codes of (absmax - offset) in groups of
 * NF4_NESTED_BLOCKSIZE, with the signed dynamic map (5.6), a per-group f32 nested_absmax, and
 * one f32 offset (the mean of absmax).
 *
 * kernels/cpu/nf4_codec.c is the plain reference (a CUDA twin keeps the same names and arguments).
 */
#ifndef QT_KERNELS_NF4_H
#define QT_KERNELS_NF4_H

#include <stddef.h>
#include <stdint.h>

#define NF4_BLOCKSIZE_DEFAULT 64   /* quantize_4bit(blocksize=None) and HF Linear4bit */
#define NF4_NESTED_BLOCKSIZE  256  /* quantize_4bit's double quantization, always 256 */

/* The 16 NF4 values, ascending (get_4bit_type("nf4"), functional.py). */
extern const float nf4_code[16];
/* The 15 decision thresholds of dQuantizeNF4 (kernels.cu), the f32 midpoints of nf4_code. */
extern const float nf4_thresholds[15];
/* create_dynamic_map(signed=True) as float32 (5.6): 0..126 negative, [127] = 0, [255] = 1. */
extern const float nf4_dynamic_map[256];

/* Returns 1 when blocksize is one bitsandbytes accepts (32, 64, ..., 4096). */
int nf4_blocksize_ok(long blocksize);
/* Number of blocks covering n elements: ceil(n / blocksize). */
size_t nf4_n_blocks(size_t n, size_t blocksize);
/* Bytes of packed codes for n elements: (n + 1) / 2. */
size_t nf4_packed_bytes(size_t n);

/* The NF4 code of an already scaled value x: #{k : x > nf4_thresholds[k]} (ties go to the lower
 * code; NaN gives 0, as the CUDA comparison tree does). */
static inline uint8_t nf4_quantize_value(float x)
{
	uint8_t q = 0;
	for (int k = 0; k < 15; k++)
		q += x > nf4_thresholds[k];
	return q;
}

/* The 8-bit code of a scaled value x in `map` (256 ascending entries), by the binary search of
 * kernels.cu dQuantize<0> (nearest entry; NaN gives 0). */
uint8_t nf4_dynamic_quantize_value(const float *map, float x);

/*
 * Quantizes x[0..n) (f32, finite) to NF4 with the given blocksize (even, see nf4_blocksize_ok).
 * Writes packed[nf4_packed_bytes(n)] and absmax[nf4_n_blocks(n, blocksize)].
 * n_threads <= 1 runs the plain loop on the calling thread; more splits the work by blocks
 * (results are identical for any thread count).
 */
void nf4_quantize(const float *x, size_t n, size_t blocksize, uint8_t *packed, float *absmax,
                  int n_threads);

/* Quantizes only blocks [b0, b1) of x (the per-thread unit of nf4_quantize). */
void nf4_quantize_blocks(const float *x, size_t n, size_t blocksize, size_t b0, size_t b1,
                         uint8_t *packed, float *absmax);

/*
 * The double-quantization offset: mean(absmax) computed as f32(f32(sum in double) / f32(nb)),
 * which is torch's float32 mean whenever torch's own float32 sum is correctly rounded.
 * Returns 0 when nb == 0.
 */
float nf4_absmax_mean(const float *absmax, size_t nb);

/*
 * Double quantization of absmax[0..nb) with the given offset: v_i = f32(absmax_i - offset);
 * per group g of nested_blocksize: nested_absmax[g] = max |v_i|, q_i = dynamic code of
 * v_i * f32(1 / nested_absmax[g]) in `map`. Writes qabsmax[nb] and
 * nested_absmax[nf4_n_blocks(nb, nested_blocksize)].
 */
void nf4_double_quant(const float *absmax, size_t nb, float offset, const float *map,
                      size_t nested_blocksize, uint8_t *qabsmax, float *nested_absmax);

/* Nested dequantization (5.7): absmax_i = f32(f32(map[q_i] * nested_absmax[i / nbs]) + offset). */
void nf4_double_dequant(const uint8_t *qabsmax, size_t nb, const float *nested_absmax,
                        const float *map, size_t nested_blocksize, float offset, float *absmax);

/*
 * Dequantizes elements [e0, e1) of a tensor whose codes are `packed` and block maxima `absmax`:
 * out[e - e0] = f32(code[q_e] * absmax[e / blocksize]). out holds e1 - e0 floats. `code` is the
 * 16-entry table (nf4_code, or the quant_map read from a file).
 */
void nf4_dequantize_range(const uint8_t *packed, const float *absmax, const float *code,
                          size_t blocksize, size_t e0, size_t e1, float *out);

/* Dequantizes the whole tensor of n elements into out[n]. */
void nf4_dequantize(const uint8_t *packed, const float *absmax, const float *code,
                    size_t blocksize, size_t n, float *out);

/* Dequantizes rows [r0, r1) of a [rows, cols] weight into out[(r1 - r0) * cols]: the tile
 * helper the NF4 linear layer uses. */
void nf4_dequantize_rows(const uint8_t *packed, const float *absmax, const float *code,
                         size_t blocksize, size_t cols, size_t r0, size_t r1, float *out);

#endif
