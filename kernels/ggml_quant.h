/* qlora-tools: ISC license. */
/*
 * Quantization of float32 rows into ggml block formats (GGUF tensor data), byte-identical to
 * llama.cpp's own quantizer without an importance matrix (llama_model_quantize ->
 * ggml_quantize_chunk -> quantize_row_*_ref in ggml/src/ggml-quants.c, which ggml builds in
 * ggml-base without FMA): the same float32 operations in the same order. Block layouts in
 * reference.md 3.3 and gguf(5); the inverse is kernels/ggml_dequant.h. CPU only; no
 * allocation, no I/O, no threads.
 */
#ifndef QT_KERNELS_GGML_QUANT_H
#define QT_KERNELS_GGML_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* 1 if ggml_quant_row writes ggml type id `type`: F32 F16 BF16 Q4_0 Q5_0 Q5_1 Q8_0 Q4_K Q5_K
 * Q6_K. */
int ggml_quant_supported(uint32_t type);

/* src: (n) float32; dst: n / block_size blocks of `type`, little-endian, any alignment. n must
 * be a multiple of the type's block size (32 for Q4_0/Q5_0/Q5_1/Q8_0, 256 for the k-quants).
 * F16 and BF16 round to nearest even (ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row_ref).
 * Returns the bytes written, or 0 for an unsupported type (dst untouched). */
size_t ggml_quant_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
