/* qlora-tools: ISC license. */
/*
 * CPU reference for NF4 quantization and dequantization (kernels/nf4.h). Plain loops; the only
 * parallelism is nf4_quantize's split by blocks, whose results equal the single-thread loop.
 * Every rounding step is spelled out as a separate f32 assignment so the arithmetic is the
 * CUDA kernel's, operation for operation (the build uses ISO C: no FMA contraction).
 */
#include "kernels/nf4.h"

#include <math.h>

#include "common/pool.h"

/* get_4bit_type("nf4") in bitsandbytes/functional.py (the literals of csrc/kernels.cu). */
const float nf4_code[16] = {
	-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
	-0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
	0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
	0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

/* The comparison tree of dQuantizeNF4 in csrc/kernels.cu, in ascending order. */
const float nf4_thresholds[15] = {
	-0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
	-0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
	0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
	0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f,
};

/* create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) as current torch builds it
 * (reference.md 5.6; checked against bitsandbytes 0.50.2 + torch by tests/ref/nf4_golden.py). */
const float nf4_dynamic_map[256] = {
	-0x1.fc6666p-1f, -0x1.f53334p-1f, -0x1.eep-1f, -0x1.e6ccccp-1f,
	-0x1.df999ap-1f, -0x1.d86666p-1f, -0x1.d13334p-1f, -0x1.cap-1f,
	-0x1.c2ccccp-1f, -0x1.bb999ap-1f, -0x1.b46666p-1f, -0x1.ad3334p-1f,
	-0x1.a6p-1f, -0x1.9eccccp-1f, -0x1.97999ap-1f, -0x1.906666p-1f,
	-0x1.893334p-1f, -0x1.82p-1f, -0x1.7accccp-1f, -0x1.73999ap-1f,
	-0x1.6c6668p-1f, -0x1.653334p-1f, -0x1.5ep-1f, -0x1.56ccccp-1f,
	-0x1.4f999ap-1f, -0x1.486668p-1f, -0x1.413334p-1f, -0x1.3ap-1f,
	-0x1.32ccccp-1f, -0x1.2b999ap-1f, -0x1.246668p-1f, -0x1.1d3334p-1f,
	-0x1.16p-1f, -0x1.0eccccp-1f, -0x1.079998p-1f, -0x1.006666p-1f,
	-0x1.f26664p-2f, -0x1.e4p-2f, -0x1.d59998p-2f, -0x1.c73334p-2f,
	-0x1.b8ccccp-2f, -0x1.aa6666p-2f, -0x1.9cp-2f, -0x1.8d9998p-2f,
	-0x1.7f3334p-2f, -0x1.70ccccp-2f, -0x1.626666p-2f, -0x1.54p-2f,
	-0x1.459998p-2f, -0x1.373334p-2f, -0x1.28ccccp-2f, -0x1.1a6668p-2f,
	-0x1.0cp-2f, -0x1.fb3332p-3f, -0x1.de6666p-3f, -0x1.c1999ap-3f,
	-0x1.a4ccccp-3f, -0x1.88p-3f, -0x1.6b3334p-3f, -0x1.4e6666p-3f,
	-0x1.31999ap-3f, -0x1.14ccccp-3f, -0x1.fp-4f, -0x1.b66668p-4f,
	-0x1.93d70ap-4f, -0x1.8851eep-4f, -0x1.7ccccep-4f, -0x1.7147aep-4f,
	-0x1.65c29p-4f, -0x1.5a3d7p-4f, -0x1.4eb854p-4f, -0x1.433334p-4f,
	-0x1.37ae14p-4f, -0x1.2c28f6p-4f, -0x1.20a3d6p-4f, -0x1.151ebap-4f,
	-0x1.09999ap-4f, -0x1.fc28f6p-5f, -0x1.e51ebap-5f, -0x1.ce147ap-5f,
	-0x1.b70a3ep-5f, -0x1.ap-5f, -0x1.88f5c2p-5f, -0x1.71eb86p-5f,
	-0x1.5ae146p-5f, -0x1.43d70ap-5f, -0x1.2ccccep-5f, -0x1.15c29p-5f,
	-0x1.fd70a4p-6f, -0x1.cf5c2ap-6f, -0x1.a147aep-6f, -0x1.733334p-6f,
	-0x1.451ebap-6f, -0x1.170a3ep-6f, -0x1.d1eb86p-7f, -0x1.75c29p-7f,
	-0x1.3e76c8p-7f, -0x1.2c083p-7f, -0x1.19999ap-7f, -0x1.072b02p-7f,
	-0x1.e978d4p-8f, -0x1.c49ba6p-8f, -0x1.9fbe76p-8f, -0x1.7ae148p-8f,
	-0x1.56041ap-8f, -0x1.3126e8p-8f, -0x1.0c49bap-8f, -0x1.ced914p-9f,
	-0x1.851eb8p-9f, -0x1.3b645ap-9f, -0x1.e353f8p-10f, -0x1.4fdf3ap-10f,
	-0x1.eecbfep-11f, -0x1.b3d07cp-11f, -0x1.78d5p-11f, -0x1.3dd982p-11f,
	-0x1.02de02p-11f, -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
	-0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f, -0x1.64840cp-16f,
	-0x1.040bfep-17f, -0x1.b43528p-19f, -0x1.27476ep-21f, 0x0p+0f,
	0x1.27476ep-21f, 0x1.b43528p-19f, 0x1.040bfep-17f, 0x1.64840cp-16f,
	0x1.6f0068p-15f, 0x1.15df66p-14f, 0x1.743e96p-14f, 0x1.47ae16p-13f,
	0x1.19ce0ap-12f, 0x1.8fc506p-12f, 0x1.02de02p-11f, 0x1.3dd982p-11f,
	0x1.78d5p-11f, 0x1.b3d07cp-11f, 0x1.eecbfep-11f, 0x1.4fdf3ap-10f,
	0x1.e353f8p-10f, 0x1.3b645ap-9f, 0x1.851eb8p-9f, 0x1.ced914p-9f,
	0x1.0c49bap-8f, 0x1.3126e8p-8f, 0x1.56041ap-8f, 0x1.7ae148p-8f,
	0x1.9fbe76p-8f, 0x1.c49ba6p-8f, 0x1.e978d4p-8f, 0x1.072b02p-7f,
	0x1.19999ap-7f, 0x1.2c083p-7f, 0x1.3e76c8p-7f, 0x1.75c29p-7f,
	0x1.d1eb86p-7f, 0x1.170a3ep-6f, 0x1.451ebap-6f, 0x1.733334p-6f,
	0x1.a147aep-6f, 0x1.cf5c2ap-6f, 0x1.fd70a4p-6f, 0x1.15c29p-5f,
	0x1.2ccccep-5f, 0x1.43d70ap-5f, 0x1.5ae146p-5f, 0x1.71eb86p-5f,
	0x1.88f5c2p-5f, 0x1.ap-5f, 0x1.b70a3ep-5f, 0x1.ce147ap-5f,
	0x1.e51ebap-5f, 0x1.fc28f6p-5f, 0x1.09999ap-4f, 0x1.151ebap-4f,
	0x1.20a3d6p-4f, 0x1.2c28f6p-4f, 0x1.37ae14p-4f, 0x1.433334p-4f,
	0x1.4eb854p-4f, 0x1.5a3d7p-4f, 0x1.65c29p-4f, 0x1.7147aep-4f,
	0x1.7ccccep-4f, 0x1.8851eep-4f, 0x1.93d70ap-4f, 0x1.b66668p-4f,
	0x1.fp-4f, 0x1.14ccccp-3f, 0x1.31999ap-3f, 0x1.4e6666p-3f,
	0x1.6b3334p-3f, 0x1.88p-3f, 0x1.a4ccccp-3f, 0x1.c1999ap-3f,
	0x1.de6666p-3f, 0x1.fb3332p-3f, 0x1.0cp-2f, 0x1.1a6668p-2f,
	0x1.28ccccp-2f, 0x1.373334p-2f, 0x1.459998p-2f, 0x1.54p-2f,
	0x1.626666p-2f, 0x1.70ccccp-2f, 0x1.7f3334p-2f, 0x1.8d9998p-2f,
	0x1.9cp-2f, 0x1.aa6666p-2f, 0x1.b8ccccp-2f, 0x1.c73334p-2f,
	0x1.d59998p-2f, 0x1.e4p-2f, 0x1.f26664p-2f, 0x1.006666p-1f,
	0x1.079998p-1f, 0x1.0eccccp-1f, 0x1.16p-1f, 0x1.1d3334p-1f,
	0x1.246668p-1f, 0x1.2b999ap-1f, 0x1.32ccccp-1f, 0x1.3ap-1f,
	0x1.413334p-1f, 0x1.486668p-1f, 0x1.4f999ap-1f, 0x1.56ccccp-1f,
	0x1.5ep-1f, 0x1.653334p-1f, 0x1.6c6668p-1f, 0x1.73999ap-1f,
	0x1.7accccp-1f, 0x1.82p-1f, 0x1.893334p-1f, 0x1.906666p-1f,
	0x1.97999ap-1f, 0x1.9eccccp-1f, 0x1.a6p-1f, 0x1.ad3334p-1f,
	0x1.b46666p-1f, 0x1.bb999ap-1f, 0x1.c2ccccp-1f, 0x1.cap-1f,
	0x1.d13334p-1f, 0x1.d86666p-1f, 0x1.df999ap-1f, 0x1.e6ccccp-1f,
	0x1.eep-1f, 0x1.f53334p-1f, 0x1.fc6666p-1f, 0x1p+0f,
};

int nf4_blocksize_ok(long blocksize)
{
	for (long b = 32; b <= 4096; b *= 2)
		if (b == blocksize)
			return 1;
	return 0;
}

size_t nf4_n_blocks(size_t n, size_t blocksize)
{
	return n / blocksize + (n % blocksize != 0);
}

size_t nf4_packed_bytes(size_t n)
{
	return n / 2 + (n & 1);
}

/* ---- 8-bit dynamic code ---- */

uint8_t nf4_dynamic_quantize_value(const float *map, float x)
{
	/* dQuantize<0> of kernels.cu, step by step: the pivots that bracket the final one are the
	 * last pivots passed on each side (0 and 255 initially). */
	int pivot = 127, upper_pivot = 255, lower_pivot = 0;
	float lower = -1.0f, upper = 1.0f;
	float val = map[pivot];
	for (int i = 64; i > 0; i >>= 1) {
		if (x > val) {
			lower_pivot = pivot;
			lower = val;
			pivot += i;
		} else {
			upper_pivot = pivot;
			upper = val;
			pivot -= i;
		}
		val = map[pivot];
	}
	if (upper_pivot == 255)
		upper = map[upper_pivot];
	if (lower_pivot == 0)
		lower = map[lower_pivot];
	if (x > val) {
		float mid = (upper + val) * 0.5f;
		return (uint8_t)(x > mid ? upper_pivot : pivot);
	}
	float mid = (lower + val) * 0.5f;
	return (uint8_t)(x < mid ? lower_pivot : pivot);
}

/* ---- 4-bit quantization ---- */

/* Codes of len scaled values into q[len]. The fixed-length twin lets the compiler vectorize the
 * common full block of 64 (a plain loop: the same comparisons, so the same codes). */
static void codes_n(const float *v, size_t len, float inv, uint8_t *q)
{
	for (size_t i = 0; i < len; i++) {
		float xs = v[i] * inv;
		q[i] = nf4_quantize_value(xs);
	}
}

#define GT(k) (int)(xs > T##k)
static void codes_64(const float *v, float inv, uint8_t *q)
{
	const float T0 = nf4_thresholds[0], T1 = nf4_thresholds[1], T2 = nf4_thresholds[2],
	            T3 = nf4_thresholds[3], T4 = nf4_thresholds[4], T5 = nf4_thresholds[5],
	            T6 = nf4_thresholds[6], T7 = nf4_thresholds[7], T8 = nf4_thresholds[8],
	            T9 = nf4_thresholds[9], T10 = nf4_thresholds[10], T11 = nf4_thresholds[11],
	            T12 = nf4_thresholds[12], T13 = nf4_thresholds[13], T14 = nf4_thresholds[14];
	for (size_t i = 0; i < 64; i++) {
		float xs = v[i] * inv;
		int c = GT(0) + GT(1) + GT(2) + GT(3) + GT(4) + GT(5) + GT(6) + GT(7) + GT(8) + GT(9) +
		        GT(10) + GT(11) + GT(12) + GT(13) + GT(14);
		q[i] = (uint8_t)c;
	}
}
#undef GT

void nf4_quantize_blocks(const float *x, size_t n, size_t blocksize, size_t b0, size_t b1,
                         uint8_t *packed, float *absmax)
{
	uint8_t q[4096 + 2];
	for (size_t b = b0; b < b1; b++) {
		size_t s = b * blocksize;
		size_t len = n - s < blocksize ? n - s : blocksize;
		const float *v = x + s;
		float m = 0.0f;
		for (size_t i = 0; i < len; i++) {
			float a = fabsf(v[i]);
			m = a > m ? a : m;
		}
		absmax[b] = m;
		/* 1/0 = inf and 0*inf = NaN make an all-zero block code 0, as on CUDA. */
		float inv = 1.0f / m;
		if (len == 64)
			codes_64(v, inv, q);
		else
			codes_n(v, len, inv, q);
		if (len & 1) { /* odd n: the padding lane holds 0 */
			float z = 0.0f * inv;
			q[len] = nf4_quantize_value(z);
		}
		uint8_t *p = packed + s / 2;
		for (size_t j = 0; j < (len + 1) / 2; j++)
			p[j] = (uint8_t)(q[2 * j] << 4 | q[2 * j + 1]);
	}
}

/* Blocks per work item of the threaded path: large enough to amortise the shared counter. */
#define NF4_BLOCKS_PER_TASK 1024

struct quant_job {
	const float *x;
	size_t       n, blocksize, nb;
	uint8_t     *packed;
	float       *absmax;
};

static void quant_task(void *ctx, size_t t, int worker)
{
	(void)worker;
	struct quant_job *j = ctx;
	size_t b0 = t * NF4_BLOCKS_PER_TASK;
	size_t b1 = b0 + NF4_BLOCKS_PER_TASK < j->nb ? b0 + NF4_BLOCKS_PER_TASK : j->nb;
	nf4_quantize_blocks(j->x, j->n, j->blocksize, b0, b1, j->packed, j->absmax);
}

void nf4_quantize(const float *x, size_t n, size_t blocksize, uint8_t *packed, float *absmax,
                  int n_threads)
{
	size_t nb = nf4_n_blocks(n, blocksize);
	if (n_threads <= 1 || nb <= NF4_BLOCKS_PER_TASK) {
		nf4_quantize_blocks(x, n, blocksize, 0, nb, packed, absmax);
		return;
	}
	struct quant_job j = { x, n, blocksize, nb, packed, absmax };
	qt_pool_for(n_threads, nf4_n_blocks(nb, NF4_BLOCKS_PER_TASK), quant_task, &j);
}

/* ---- double quantization ---- */

float nf4_absmax_mean(const float *absmax, size_t nb)
{
	if (nb == 0)
		return 0.0f;
	double s = 0.0;
	for (size_t i = 0; i < nb; i++)
		s += absmax[i];
	float sf = (float)s;
	return sf / (float)nb;
}

void nf4_double_quant(const float *absmax, size_t nb, float offset, const float *map,
                      size_t nested_blocksize, uint8_t *qabsmax, float *nested_absmax)
{
	for (size_t s = 0, g = 0; s < nb; s += nested_blocksize, g++) {
		size_t len = nb - s < nested_blocksize ? nb - s : nested_blocksize;
		float m = 0.0f;
		for (size_t i = 0; i < len; i++) {
			float v = absmax[s + i] - offset;
			float a = fabsf(v);
			m = a > m ? a : m;
		}
		nested_absmax[g] = m;
		float inv = 1.0f / m;
		for (size_t i = 0; i < len; i++) {
			float v = absmax[s + i] - offset;
			float xs = v * inv;
			qabsmax[s + i] = nf4_dynamic_quantize_value(map, xs);
		}
	}
}

void nf4_double_dequant(const uint8_t *qabsmax, size_t nb, const float *nested_absmax,
                        const float *map, size_t nested_blocksize, float offset, float *absmax)
{
	for (size_t i = 0; i < nb; i++) {
		float d = map[qabsmax[i]] * nested_absmax[i / nested_blocksize];
		absmax[i] = d + offset;
	}
}

/* ---- dequantization ---- */

void nf4_dequantize_range(const uint8_t *packed, const float *absmax, const float *code,
                          size_t blocksize, size_t e0, size_t e1, float *out)
{
	size_t e = e0;
	while (e < e1) {
		size_t b = e / blocksize;
		size_t end = (b + 1) * blocksize < e1 ? (b + 1) * blocksize : e1;
		float a = absmax[b];
		if (e & 1) { /* start on a low nibble */
			*out++ = code[packed[e / 2] & 0x0F] * a;
			e++;
		}
		for (; e + 1 < end; e += 2) {
			uint8_t byte = packed[e / 2];
			out[0] = code[byte >> 4] * a;
			out[1] = code[byte & 0x0F] * a;
			out += 2;
		}
		if (e < end) { /* end on a high nibble */
			*out++ = code[packed[e / 2] >> 4] * a;
			e++;
		}
	}
}

void nf4_dequantize(const uint8_t *packed, const float *absmax, const float *code,
                    size_t blocksize, size_t n, float *out)
{
	nf4_dequantize_range(packed, absmax, code, blocksize, 0, n, out);
}

void nf4_dequantize_rows(const uint8_t *packed, const float *absmax, const float *code,
                         size_t blocksize, size_t cols, size_t r0, size_t r1, float *out)
{
	nf4_dequantize_range(packed, absmax, code, blocksize, r0 * cols, r1 * cols, out);
}
