/* qlora-tools: ISC license. */
/*
 * CPU reference for ggml block quantization; see kernels/ggml_quant.h. Each function is
 * ggml-quants.c's quantize_row_*_ref (llama.cpp, MIT license) statement for statement, with
 * the block structs replaced by byte offsets (layouts in reference.md 3.3): the rounding
 * (nearest_int's 1.5*2^23 trick, roundf, truncating casts), the search loops of
 * make_qx_quants / make_qkx2_quants and the order of float operations are theirs, so the
 * bytes are identical. The project compiles C11 without FMA contraction, as ggml-base is.
 * Type ids as in formats/gguf.h (include/ggml.h).
 */
#include "kernels/ggml_quant.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "common/half.h"
#include "common/le.h"

#define QK    32     /* block size of the legacy quants */
#define QK_K  256    /* super-block size of the k-quants */
#define GROUP_MAX_EPS 1e-15f /* ggml-quants.c: a group below this is all zero */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static void h16(uint8_t *p, float f)
{
	le16_store(p, qt_f32_to_f16(f));
}

static float f16(const uint8_t *p)
{
	return qt_f16_to_f32(le16_load(p));
}

/* ---- legacy 32-element blocks ---- */

/* Q4_0 (18 B: d, qs[16]); d = max / -8 where max is the value of largest magnitude. */
static void q4_0(const float *x, uint8_t *y)
{
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < QK; j++) {
		const float v = x[j];
		if (amax < fabsf(v)) {
			amax = fabsf(v);
			max = v;
		}
	}
	const float d = max / -8;
	const float id = d ? 1.0f / d : 0.0f;
	h16(y, d);
	for (int j = 0; j < QK / 2; ++j) {
		const float x0 = x[0 + j] * id;
		const float x1 = x[QK / 2 + j] * id;
		const uint8_t xi0 = MIN(15, (int8_t)(x0 + 8.5f));
		const uint8_t xi1 = MIN(15, (int8_t)(x1 + 8.5f));
		y[2 + j] = (uint8_t)(xi0 | xi1 << 4);
	}
}

/* Q5_0 (22 B: d, qh[4], qs[16]); d = max / -16. */
static void q5_0(const float *x, uint8_t *y)
{
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < QK; j++) {
		const float v = x[j];
		if (amax < fabsf(v)) {
			amax = fabsf(v);
			max = v;
		}
	}
	const float d = max / -16;
	const float id = d ? 1.0f / d : 0.0f;
	h16(y, d);
	uint32_t qh = 0;
	for (int j = 0; j < QK / 2; ++j) {
		const float x0 = x[0 + j] * id;
		const float x1 = x[QK / 2 + j] * id;
		const uint8_t xi0 = MIN(31, (int8_t)(x0 + 16.5f));
		const uint8_t xi1 = MIN(31, (int8_t)(x1 + 16.5f));
		y[6 + j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
		qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
		qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
	}
	le32_store(y + 2, qh);
}

/* Q5_1 (24 B: d, m, qh[4], qs[16]); d = (max - min) / 31, m = min. */
static void q5_1(const float *x, uint8_t *y)
{
	float min = 3.402823466e+38f, max = -3.402823466e+38f; /* FLT_MAX */
	for (int j = 0; j < QK; j++) {
		const float v = x[j];
		if (v < min) min = v;
		if (v > max) max = v;
	}
	const float d = (max - min) / ((1 << 5) - 1);
	const float id = d ? 1.0f / d : 0.0f;
	h16(y, d);
	h16(y + 2, min);
	uint32_t qh = 0;
	for (int j = 0; j < QK / 2; ++j) {
		const float x0 = (x[0 + j] - min) * id;
		const float x1 = (x[QK / 2 + j] - min) * id;
		const uint8_t xi0 = (uint8_t)(x0 + 0.5f);
		const uint8_t xi1 = (uint8_t)(x1 + 0.5f);
		y[8 + j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
		qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
		qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
	}
	le32_store(y + 4, qh);
}

/* Q8_0 (34 B: d, qs[32] int8); d = amax / 127, q = roundf(x / d). */
static void q8_0(const float *x, uint8_t *y)
{
	float amax = 0.0f;
	for (int j = 0; j < QK; j++)
		amax = MAX(amax, fabsf(x[j]));
	const float d = amax / ((1 << 7) - 1);
	const float id = d ? 1.0f / d : 0.0f;
	h16(y, d);
	for (int j = 0; j < QK; ++j)
		y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

/* ---- k-quant helpers (ggml-quants.c) ---- */

static inline int nearest_int(float fval)
{
	float val = fval + 12582912.f;
	int i;
	memcpy(&i, &val, sizeof(int));
	return (i & 0x007fffff) - 0x00400000;
}

/* Signed levels L[i] in [0, 2*nmax) with the scale minimising the x^2-weighted error
 * (rmse_type 1, no quant weights: the only mode the reference quantizer uses). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; ++i) {
		float ax = fabsf(x[i]);
		if (ax > amax) { amax = ax; max = x[i]; }
	}
	if (amax < GROUP_MAX_EPS) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		return 0.f;
	}
	float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * x[i]);
		l = MAX(-nmax, MIN(nmax - 1, l));
		L[i] = (int8_t)(l + nmax);
		float w = x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	float scale = suml2 ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; ++is) {
		if (is == 0)
			continue;
		iscale = -(nmax + 0.1f * is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; ++i) {
			int l = nearest_int(iscale * x[i]);
			l = MAX(-nmax, MIN(nmax - 1, l));
			float w = x[i] * x[i];
			sumlx += w * x[i] * l;
			suml2 += w * l * l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; ++i) {
				int l = nearest_int(iscale * x[i]);
				L[i] = (int8_t)(nmax + MAX(-nmax, MIN(nmax - 1, l)));
			}
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* Unsigned levels L[i] in [0, nmax] with scale and min (returned in *the_min as -min) from a
 * weighted least-squares search over nstep candidate scales. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
	float min = x[0], max = x[0];
	float sum_w = weights[0];
	float sum_x = sum_w * x[0];
	for (int i = 1; i < n; ++i) {
		if (x[i] < min) min = x[i];
		if (x[i] > max) max = x[i];
		float w = weights[i];
		sum_w += w;
		sum_x += w * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		*the_min = -min;
		return 0.f;
	}
	float iscale = nmax / (max - min);
	float scale = 1 / iscale;
	float best_error = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)MAX(0, MIN(nmax, l));
		float diff = scale * L[i] + min - x[i];
		diff = diff * diff;
		best_error += weights[i] * diff;
	}
	for (int is = 0; is <= nstep; ++is) {
		iscale = (rmin + rdelta * is + nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; ++i) {
			int l = nearest_int(iscale * (x[i] - min));
			l = MAX(0, MIN(nmax, l));
			Laux[i] = (uint8_t)l;
			float w = weights[i];
			sum_l += w * l;
			sum_l2 += w * l * l;
			sum_xl += w * l * x[i];
		}
		float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float cur_error = 0;
			for (int i = 0; i < n; ++i) {
				float diff = this_scale * Laux[i] + this_min - x[i];
				diff = diff * diff;
				cur_error += weights[i] * diff;
			}
			if (cur_error < best_error) {
				for (int i = 0; i < n; ++i)
					L[i] = Laux[i];
				best_error = cur_error;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
	}
}

/*
 * The part Q4_K and Q5_K share: 8 sub-blocks of 32 with a 6-bit scale and min each, the
 * super-block d and dmin (f16) at y[0..3], the 12 packed scale bytes at y[4..15], and the final
 * levels L[256] in [0, nmax]. rmin, nstep: make_qkx2_quants' search (-1, 20 for Q4_K;
 * -0.5, 15 for Q5_K).
 */
static void k_scales(const float *x, uint8_t *y, uint8_t *L, int nmax, float rmin, int nstep)
{
	uint8_t Laux[32];
	float weights[32], mins[QK_K / 32], scales[QK_K / 32];
	float max_scale = 0, max_min = 0;
	uint8_t *sc12 = y + 4;
	for (int j = 0; j < QK_K / 32; ++j) {
		float sum_x2 = 0;
		for (int l = 0; l < 32; ++l)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; ++l)
			weights[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
		                             rmin, 0.1f, nstep);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
	float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
	for (int j = 0; j < QK_K / 32; ++j) {
		uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
		ls = MIN(63, ls);
		lm = MIN(63, lm);
		if (j < 4) {
			sc12[j] = ls;
			sc12[j + 4] = lm;
		} else {
			sc12[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
			sc12[j - 4] |= (uint8_t)((ls >> 4) << 6);
			sc12[j - 0] |= (uint8_t)((lm >> 4) << 6);
		}
	}
	h16(y, max_scale / 63.f);
	h16(y + 2, max_min / 63.f);
	for (int j = 0; j < QK_K / 32; ++j) {
		uint8_t sc, m;
		get_scale_min_k4(j, sc12, &sc, &m);
		const float d = f16(y) * sc;
		if (!d)
			continue;
		const float dm = f16(y + 2) * m;
		for (int ii = 0; ii < 32; ++ii) {
			int l = nearest_int((x[32 * j + ii] + dm) / d);
			L[32 * j + ii] = (uint8_t)MAX(0, MIN(nmax, l));
		}
	}
}

/* Q4_K (144 B: d, dmin, scales[12], qs[128]). */
static void q4_K(const float *x, uint8_t *y)
{
	uint8_t L[QK_K];
	k_scales(x, y, L, 15, -1.f, 20);
	uint8_t *q = y + 16;
	for (int j = 0; j < QK_K; j += 64) {
		for (int l = 0; l < 32; ++l)
			q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
		q += 32;
	}
}

/* Q5_K (176 B: d, dmin, scales[12], qh[32], qs[128]). */
static void q5_K(const float *x, uint8_t *y)
{
	uint8_t L[QK_K];
	k_scales(x, y, L, 31, -0.5f, 15);
	uint8_t *qh = y + 16, *ql = y + 48;
	memset(qh, 0, QK_K / 8);
	uint8_t m1 = 1, m2 = 2;
	for (int n = 0; n < QK_K; n += 64) {
		for (int j = 0; j < 32; ++j) {
			int l1 = L[n + j];
			if (l1 > 15) {
				l1 -= 16;
				qh[j] |= m1;
			}
			int l2 = L[n + j + 32];
			if (l2 > 15) {
				l2 -= 16;
				qh[j] |= m2;
			}
			ql[j] = (uint8_t)(l1 | (l2 << 4));
		}
		m1 = (uint8_t)(m1 << 2);
		m2 = (uint8_t)(m2 << 2);
		ql += 32;
	}
}

/* Q6_K (210 B: ql[128], qh[64], scales[16] int8, d). */
static void q6_K(const float *x, uint8_t *y)
{
	int8_t L[QK_K];
	float scales[QK_K / 16];
	float max_scale = 0, max_abs_scale = 0;
	for (int ib = 0; ib < QK_K / 16; ++ib) {
		const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
		scales[ib] = scale;
		const float abs_scale = fabsf(scale);
		if (abs_scale > max_abs_scale) {
			max_abs_scale = abs_scale;
			max_scale = scale;
		}
	}
	if (max_abs_scale < GROUP_MAX_EPS) {
		memset(y, 0, 210);
		h16(y + 208, 0.f);
		return;
	}
	int8_t *sc = (int8_t *)(y + 192);
	float iscale = -128.f / max_scale;
	h16(y + 208, 1 / iscale);
	for (int ib = 0; ib < QK_K / 16; ++ib)
		sc[ib] = (int8_t)MIN(127, nearest_int(iscale * scales[ib]));
	for (int j = 0; j < QK_K / 16; ++j) {
		float d = f16(y + 208) * sc[j];
		if (!d)
			continue;
		for (int ii = 0; ii < 16; ++ii) {
			int l = nearest_int(x[16 * j + ii] / d);
			l = MAX(-32, MIN(31, l));
			L[16 * j + ii] = (int8_t)(l + 32);
		}
	}
	uint8_t *ql = y, *qh = y + 128;
	for (int j = 0; j < QK_K; j += 128) {
		for (int l = 0; l < 32; ++l) {
			const uint8_t q1 = L[j + l + 0] & 0xF;
			const uint8_t q2 = L[j + l + 32] & 0xF;
			const uint8_t q3 = L[j + l + 64] & 0xF;
			const uint8_t q4 = L[j + l + 96] & 0xF;
			ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
			ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
			qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
			                  ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
		}
		ql += 64;
		qh += 32;
	}
}

/* ---- entry points ---- */

/* ggml type ids (include/ggml.h; formats/gguf.h names them). */
enum { F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q4_K = 12, Q5_K = 13,
       Q6_K = 14, BF16 = 30 };

static const struct {
	uint32_t type, blck, size;
	void (*fn)(const float *, uint8_t *);
} blocks[] = {
	{ Q4_0, QK, 18, q4_0 },    { Q5_0, QK, 22, q5_0 },     { Q5_1, QK, 24, q5_1 },
	{ Q8_0, QK, 34, q8_0 },    { Q4_K, QK_K, 144, q4_K },  { Q5_K, QK_K, 176, q5_K },
	{ Q6_K, QK_K, 210, q6_K },
};

int ggml_quant_supported(uint32_t type)
{
	if (type == F32 || type == F16 || type == BF16)
		return 1;
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
		if (blocks[i].type == type)
			return 1;
	return 0;
}

size_t ggml_quant_row(uint32_t type, const float *src, void *dst, int64_t n)
{
	uint8_t *y = dst;
	if (type == F32) {
		for (int64_t i = 0; i < n; i++)
			lef32_store(y + 4 * i, src[i]);
		return (size_t)n * 4;
	}
	if (type == F16 || type == BF16) {
		for (int64_t i = 0; i < n; i++)
			le16_store(y + 2 * i, type == F16 ? qt_f32_to_f16(src[i]) : qt_f32_to_bf16(src[i]));
		return (size_t)n * 2;
	}
	for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
		if (blocks[k].type != type)
			continue;
		int64_t nb = n / blocks[k].blck;
		for (int64_t i = 0; i < nb; i++)
			blocks[k].fn(src + i * blocks[k].blck, y + i * blocks[k].size);
		return (size_t)nb * blocks[k].size;
	}
	return 0;
}
