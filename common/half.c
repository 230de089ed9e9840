/* qlora-tools: ISC license. */
/* f16 / bf16 <-> f32 conversions; see half.h. Integer arithmetic only, so the result does not
 * depend on the FPU rounding mode or compiler flags. */
#include "common/half.h"

#include "common/dtype.h"

float qt_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1Fu;
	uint32_t man = h & 0x3FFu;
	if (exp == 0x1F)                       /* inf / NaN: payload moves up 13 bits */
		return qt_bits_f32(sign | 0x7F800000u | man << 13);
	if (exp != 0)                          /* normal: rebias 15 -> 127 */
		return qt_bits_f32(sign | (exp + 112) << 23 | man << 13);
	if (man == 0)
		return qt_bits_f32(sign);
	/* subnormal: value = man * 2^-24; normalise the mantissa */
	uint32_t e = 113;                      /* float exponent field of 2^-14 */
	while (!(man & 0x400u)) {
		man <<= 1;
		e--;
	}
	return qt_bits_f32(sign | e << 23 | (man & 0x3FFu) << 13);
}

uint16_t qt_f32_to_f16(float f)
{
	uint32_t u = qt_f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t abs = u & 0x7FFFFFFFu;
	if (abs > 0x7F800000u)
		return sign | 0x7E00u;                 /* NaN */
	if (abs >= 0x477FF000u)                    /* >= 65520: rounds to inf */
		return sign | 0x7C00u;
	uint32_t exp = abs >> 23;
	if (exp >= 113) {                          /* normal half (>= 2^-14) */
		uint32_t r = abs - (112u << 23);       /* rebias: half exp field in bits 23.. */
		/* round to nearest even on the 13 dropped bits; a carry moves into the exponent */
		r += 0xFFFu + ((r >> 13) & 1u);
		return sign | (uint16_t)(r >> 13);
	}
	if (exp < 102)                             /* < 2^-25: rounds to zero */
		return sign;
	/* subnormal half: value = m * 2^-24 with m = sig >> shift */
	uint32_t sig = (abs & 0x7FFFFFu) | 0x800000u;
	uint32_t shift = 126 - exp;                /* 14 .. 24 */
	uint32_t m = sig >> shift;
	uint32_t rem = sig & ((1u << shift) - 1);
	uint32_t half = 1u << (shift - 1);
	if (rem > half || (rem == half && (m & 1u)))
		m++;                                   /* may carry into the smallest normal */
	return sign | (uint16_t)m;
}

void qt_f16_to_f32_row(const uint16_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = qt_f16_to_f32(src[i]);
}

void qt_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = qt_bf16_to_f32(src[i]);
}

void qt_f32_to_f16_row(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = qt_f32_to_f16(src[i]);
}

void qt_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = qt_f32_to_bf16(src[i]);
}

size_t qt_first_nonfinite(const void *p, int dt, size_t n)
{
	const uint8_t *b = p;
	switch (dt) {
	case QT_DTYPE_F32:
		for (size_t i = 0; i < n; i++) {
			uint32_t u;
			memcpy(&u, b + 4 * i, 4);
			if ((u & 0x7f800000u) == 0x7f800000u)
				return i;
		}
		break;
	case QT_DTYPE_BF16:
	case QT_DTYPE_F16: {
		uint16_t e = dt == QT_DTYPE_BF16 ? 0x7f80u : 0x7c00u;
		for (size_t i = 0; i < n; i++) {
			uint16_t u;
			memcpy(&u, b + 2 * i, 2);
			if ((u & e) == e)
				return i;
		}
		break;
	}
	case QT_DTYPE_F64:
		for (size_t i = 0; i < n; i++) {
			uint64_t u;
			memcpy(&u, b + 8 * i, 8);
			if ((u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
				return i;
		}
		break;
	default:
		break;
	}
	return n;
}
