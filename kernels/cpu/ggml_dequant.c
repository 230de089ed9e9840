/* qlora-tools: ISC license. */
/*
 * CPU reference for ggml block dequantization; see kernels/ggml_dequant.h. Each block
 * function mirrors gguf-py quants.py's dequantize_blocks operation for operation (products
 * formed as d*scale first, then *q, then +m or -dmin*min), so results are bit-identical.
 * Type ids as in formats/gguf.h (include/ggml.h).
 */
#include "kernels/ggml_dequant.h"

#include "common/half.h"
#include "common/le.h"

#define QK   32   /* block size of the legacy quants */
#define QK_K 256  /* super-block size of the k-quants */

static float h16(const uint8_t *p)
{
	return qt_f16_to_f32(le16_load(p));
}

/* Q4_0 (18 B: d, qs[16]): low nibble of byte j = element j, high nibble = element j+16. */
static void q4_0(const uint8_t *b, float *y)
{
	float d = h16(b);
	for (int j = 0; j < QK / 2; j++) {
		y[j] = d * (float)((b[2 + j] & 0x0F) - 8);
		y[j + QK / 2] = d * (float)((b[2 + j] >> 4) - 8);
	}
}

/* Q4_1 (20 B: d, m, qs[16]): y = d*q + m. */
static void q4_1(const uint8_t *b, float *y)
{
	float d = h16(b), m = h16(b + 2);
	for (int j = 0; j < QK / 2; j++) {
		y[j] = d * (float)(b[4 + j] & 0x0F) + m;
		y[j + QK / 2] = d * (float)(b[4 + j] >> 4) + m;
	}
}

/* Q5_0 (22 B: d, qh u32, qs[16]): 5th bit of element j is bit j of qh; y = d*(q-16). */
static void q5_0(const uint8_t *b, float *y)
{
	float d = h16(b);
	uint32_t qh = le32_load(b + 2);
	for (int j = 0; j < QK / 2; j++) {
		int lo = (b[6 + j] & 0x0F) | (int)((qh >> j) & 1) << 4;
		int hi = (b[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
		y[j] = d * (float)(lo - 16);
		y[j + QK / 2] = d * (float)(hi - 16);
	}
}

/* Q5_1 (24 B: d, m, qh u32, qs[16]): y = d*q + m. */
static void q5_1(const uint8_t *b, float *y)
{
	float d = h16(b), m = h16(b + 2);
	uint32_t qh = le32_load(b + 4);
	for (int j = 0; j < QK / 2; j++) {
		int lo = (b[8 + j] & 0x0F) | (int)((qh >> j) & 1) << 4;
		int hi = (b[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
		y[j] = d * (float)lo + m;
		y[j + QK / 2] = d * (float)hi + m;
	}
}

/* Q8_0 (34 B: d, qs[32] int8): y = q*d. */
static void q8_0(const uint8_t *b, float *y)
{
	float d = h16(b);
	for (int j = 0; j < QK; j++)
		y[j] = (float)(int8_t)b[2 + j] * d;
}

/* Q2_K (84 B: scales[16], qs[64], d, dmin): group g (16 outputs) of half h = g/8 uses
 * shift 2*((g%8)/2) on qs[32h + 16*(g%2) + l]; y = (d*(sc&15))*q - dmin*(sc>>4). */
static void q2_k(const uint8_t *b, float *y)
{
	const uint8_t *sc = b, *qs = b + 16;
	float d = h16(b + 80), dmin = h16(b + 82);
	for (int g = 0; g < 16; g++) {
		float dl = d * (float)(sc[g] & 0xF), ml = dmin * (float)(sc[g] >> 4);
		int h = g / 8, shift = 2 * ((g % 8) / 2), p = g % 2;
		for (int l = 0; l < 16; l++) {
			int q = (qs[32 * h + 16 * p + l] >> shift) & 3;
			y[16 * g + l] = dl * (float)q - ml;
		}
	}
}

/* Q3_K (110 B: hmask[32], qs[64], scales[12], d): 16 6-bit scales (minus 32), 2-bit q plus
 * a high bit from hmask whose absence subtracts 4; y = (d*s)*q. */
static void q3_k(const uint8_t *b, float *y)
{
	const uint8_t *hm = b, *qs = b + 32, *s = b + 96;
	float d = h16(b + 108);
	for (int g = 0; g < 16; g++) {
		int lo = g < 8 ? (s[g] & 0xF) : (s[g - 8] >> 4);
		int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
		float dl = d * (float)((int8_t)(lo | hi << 4) - 32);
		int h = g / 8, shift = 2 * ((g % 8) / 2), p = g % 2, bit = g / 2;
		for (int l = 0; l < 16; l++) {
			int q = (qs[32 * h + 16 * p + l] >> shift) & 3;
			int m = (hm[16 * p + l] >> bit) & 1;
			y[16 * g + l] = dl * (float)(q - (m ? 0 : 4));
		}
	}
}

/* 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block (get_scale_min_k4). */
static void scale_min_k4(int j, const uint8_t *s, int *sc, int *mn)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*mn = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
		*mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
	}
}

/* Q4_K (144 B: d, dmin, scales[12], qs[128]): sub-block j = nibble j%2 of qs[32*(j/2) + l];
 * y = (d*sc)*q - dmin*mn. */
static void q4_k(const uint8_t *b, float *y)
{
	float d = h16(b), dmin = h16(b + 2);
	const uint8_t *qs = b + 16;
	for (int j = 0; j < 8; j++) {
		int sc, mn;
		scale_min_k4(j, b + 4, &sc, &mn);
		float d1 = d * (float)sc, m1 = dmin * (float)mn;
		for (int l = 0; l < 32; l++) {
			int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF;
			y[32 * j + l] = d1 * (float)q - m1;
		}
	}
}

/* Q5_K (176 B: d, dmin, scales[12], qh[32], qs[128]): as Q4_K plus bit j of qh[l]. */
static void q5_k(const uint8_t *b, float *y)
{
	float d = h16(b), dmin = h16(b + 2);
	const uint8_t *qh = b + 16, *qs = b + 48;
	for (int j = 0; j < 8; j++) {
		int sc, mn;
		scale_min_k4(j, b + 4, &sc, &mn);
		float d1 = d * (float)sc, m1 = dmin * (float)mn;
		for (int l = 0; l < 32; l++) {
			int q = ((qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF) | ((qh[l] >> j) & 1) << 4;
			y[32 * j + l] = d1 * (float)q - m1;
		}
	}
}

/* Q6_K (210 B: ql[128], qh[64], scales[16] int8, d): row k of 32 outputs: half h = k/4,
 * low 4 bits = nibble (k%4)/2 of ql[64h + 32*(k%2) + l], high 2 bits = qh[32h + l] >> 2*(k%4);
 * y = (d*scale[e/16])*(q-32). */
static void q6_k(const uint8_t *b, float *y)
{
	const uint8_t *ql = b, *qh = b + 128;
	const int8_t *sc = (const int8_t *)(b + 192);
	float d = h16(b + 208);
	for (int k = 0; k < 8; k++) {
		int h = k / 4;
		for (int l = 0; l < 32; l++) {
			int lo = (ql[64 * h + 32 * (k % 2) + l] >> (4 * ((k % 4) / 2))) & 0xF;
			int hi = (qh[32 * h + l] >> (2 * (k % 4))) & 3;
			int e = 32 * k + l;
			y[e] = (d * (float)sc[e / 16]) * (float)((lo | hi << 4) - 32);
		}
	}
}

struct blk {
	uint32_t type, elems, bytes;
	void (*fn)(const uint8_t *, float *);
};

static const struct blk blocks[] = {
	{ 2,  QK,   18,  q4_0 }, { 3,  QK,   20,  q4_1 }, { 6,  QK,   22,  q5_0 },
	{ 7,  QK,   24,  q5_1 }, { 8,  QK,   34,  q8_0 }, { 10, QK_K, 84,  q2_k },
	{ 11, QK_K, 110, q3_k }, { 12, QK_K, 144, q4_k }, { 13, QK_K, 176, q5_k },
	{ 14, QK_K, 210, q6_k },
};

int ggml_dequant_supported(uint32_t type)
{
	if (type == 0 || type == 1 || type == 30)
		return 1;
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
		if (blocks[i].type == type)
			return 1;
	return 0;
}

int ggml_dequant_row(uint32_t type, const void *src, float *dst, int64_t n)
{
	const uint8_t *s = src;
	switch (type) {
	case 0: for (int64_t i = 0; i < n; i++) dst[i] = lef32_load(s + 4 * i); return 0;
	case 1: for (int64_t i = 0; i < n; i++) dst[i] = qt_f16_to_f32(le16_load(s + 2 * i)); return 0;
	case 30: for (int64_t i = 0; i < n; i++) dst[i] = qt_bf16_to_f32(le16_load(s + 2 * i)); return 0;
	}
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		const struct blk *k = &blocks[i];
		if (k->type != type)
			continue;
		for (int64_t j = 0; j < n / k->elems; j++)
			k->fn(s + j * k->bytes, dst + j * k->elems);
		return 0;
	}
	return -1;
}
