/* qlora-tools: ISC license. */
/*
 * 16-bit floats: IEEE binary16 (f16) and bfloat16 (bf16) to and from float32, bit-exact with
 * the references. f16 -> f32 is exact (subnormals, inf, NaN payloads kept). f32 -> f16 rounds
 * to nearest even, overflows to inf, and maps every NaN to the quiet NaN 0x7E00 with the sign
 * kept (torch's c10::Half). bf16 -> f32 is `bits << 16`; f32 -> bf16 rounds to nearest even
 * and maps every NaN to 0x7FC0 with the sign dropped (torch's c10::BFloat16
 * round_to_nearest_even). No state, no errors; safe on any thread.
 */
#ifndef QT_HALF_H
#define QT_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float qt_bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline uint32_t qt_f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* bf16 bits -> float32 (exact). */
static inline float qt_bf16_to_f32(uint16_t h)
{
	return qt_bits_f32((uint32_t)h << 16);
}

/* float32 -> bf16 bits, round to nearest even; NaN -> 0x7FC0. */
static inline uint16_t qt_f32_to_bf16(float f)
{
	uint32_t u = qt_f32_bits(f);
	if ((u & 0x7FFFFFFFu) > 0x7F800000u)
		return 0x7FC0;
	return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* IEEE binary16 bits -> float32 (exact). */
float qt_f16_to_f32(uint16_t h);
/* float32 -> IEEE binary16 bits, round to nearest even; NaN -> sign | 0x7E00. */
uint16_t qt_f32_to_f16(float f);

/* Row conversions; src and dst may not overlap. */
void qt_f16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void qt_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void qt_f32_to_f16_row(const float *src, uint16_t *dst, size_t n);
void qt_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n);

/* Index of the first NaN or infinity among the n values at p of dtype dt (enum qt_dtype: F32,
 * F16, BF16 or F64; any other dtype has none), or n when every value is finite. Little-endian
 * host, unaligned p allowed. */
size_t qt_first_nonfinite(const void *p, int dt, size_t n);

#endif
