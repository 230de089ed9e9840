/* qlora-tools: ISC license. */
/*
 * Dequantization of ggml block formats (GGUF tensor data) to float32, bit-identical to the
 * gguf Python package's gguf.quants.dequantize (and to ggml's dequantize_row_* on a machine
 * without FMA contraction): the same float32 operations in the same order. Block layouts in
 * reference.md 3.3 and gguf(5). CPU only; no allocation, no I/O.
 */
#ifndef QT_KERNELS_GGML_DEQUANT_H
#define QT_KERNELS_GGML_DEQUANT_H

#include <stdint.h>

/* 1 if ggml_dequant_row handles ggml type id `type`: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
 * Q2_K Q3_K Q4_K Q5_K Q6_K. */
int ggml_dequant_supported(uint32_t type);

/* src: n elements of `type` (n / block_size blocks, little-endian, any alignment);
 * dst: (n) float32. n must be a multiple of the type's block size. Returns 0, or -1 for an
 * unsupported type (dst untouched). */
int ggml_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);

#endif
