/* qlora-tools: ISC license. */
/* Vectorised softmax row pieces with run-time ISA dispatch; see kernels/cpu/vexp.h. */
#include "kernels/cpu/vexp.h"

#include <math.h>
#include <pthread.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VX_X86 1
#endif

/* Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, exp(r) = 1 + r + r^2 P(r) */
#define EXP_HI   88.3762626647949f
#define EXP_LO   -87.3365447504019f
#define LOG2E    1.44269504088896341f
#define LN2_HI   0.693359375f
#define LN2_LO   -2.12194440e-4f
#define P0       1.9875691500E-4f
#define P1       1.3981999507E-3f
#define P2       8.3334519073E-3f
#define P3       4.1665795894E-2f
#define P4       1.6666665459E-1f
#define P5       5.0000001201E-1f

static enum vx_isa isa_best = VX_SCALAR, isa_now = VX_SCALAR;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void isa_detect(void)
{
#ifdef VX_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		isa_best = VX_AVX512;
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		isa_best = VX_AVX2;
#endif
	isa_now = isa_best;
}

enum vx_isa vx_get_isa(void)
{
	pthread_once(&isa_once, isa_detect);
	return isa_now;
}

void vx_set_isa(enum vx_isa isa)
{
	pthread_once(&isa_once, isa_detect);
	isa_now = isa < isa_best ? isa : isa_best;
}

#ifdef VX_X86
#define T512 __attribute__((target("avx512f")))
#define T256 __attribute__((target("avx2,fma")))

static inline T512 __m512 exp16(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)), _mm512_set1_ps(EXP_HI));
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
	                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
	__m512 p = _mm512_set1_ps(P0);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
	__m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	return _mm512_scalef_ps(y, n);
}

static inline T256 __m256 exp8(__m256 x)
{
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
	__m256 p = _mm256_set1_ps(P0);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
	__m256 y = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	/* 2^n through the exponent field: n is in [-126, 127] after the clamp */
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* lanes i < n of 8 set */
static inline T256 __m256i mask8(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static T512 float max_512(const float *x, int n)
{
	__m512 m = _mm512_set1_ps(-INFINITY);
	int i = 0;
	for (; i + 16 <= n; i += 16)
		m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
	if (i < n)
		m = _mm512_mask_max_ps(m, (__mmask16)((1u << (n - i)) - 1), m,
		                       _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i));
	return _mm512_reduce_max_ps(m);
}

static T256 float max_256(const float *x, int n)
{
	__m256 m = _mm256_set1_ps(-INFINITY);
	int i = 0;
	for (; i + 8 <= n; i += 8)
		m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
	float r[8];
	_mm256_storeu_ps(r, m);
	float best = r[0];
	for (int j = 1; j < 8; j++)
		best = r[j] > best ? r[j] : best;
	for (; i < n; i++)
		best = x[i] > best ? x[i] : best;
	return best;
}

static T512 float exp_sum_512(float *x, int n, float m)
{
	__m512 mv = _mm512_set1_ps(m), acc = _mm512_setzero_ps();
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
		_mm512_storeu_ps(x + i, e);
		acc = _mm512_add_ps(acc, e);
	}
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		__m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv));
		_mm512_mask_storeu_ps(x + i, k, e);
		acc = _mm512_mask_add_ps(acc, k, acc, e);
	}
	return _mm512_reduce_add_ps(acc);
}

static T256 float exp_sum_256(float *x, int n, float m)
{
	__m256 mv = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
		_mm256_storeu_ps(x + i, e);
		acc = _mm256_add_ps(acc, e);
	}
	if (i < n) {
		__m256i k = mask8(n - i);
		__m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), mv));
		e = _mm256_and_ps(e, _mm256_castsi256_ps(k));
		_mm256_maskstore_ps(x + i, k, e);
		acc = _mm256_add_ps(acc, e);
	}
	float r[8], s = 0;
	_mm256_storeu_ps(r, acc);
	for (int j = 0; j < 8; j++)
		s += r[j];
	return s;
}

static T512 void div_512(float *x, int n, float d)
{
	__m512 dv = _mm512_set1_ps(d);
	for (int i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		_mm512_mask_storeu_ps(x + i, k, _mm512_div_ps(_mm512_maskz_loadu_ps(k, x + i), dv));
	}
}

static T256 void div_256(float *x, int n, float d)
{
	__m256 dv = _mm256_set1_ps(d);
	int i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), dv));
	for (; i < n; i++)
		x[i] /= d;
}

static T512 void grad_512(float *s, float *dp, int n, float lse, float D, float scale)
{
	__m512 lv = _mm512_set1_ps(lse), dv = _mm512_set1_ps(D), sc = _mm512_set1_ps(scale);
	for (int i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 p = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + i), lv));
		__m512 g = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, dp + i), dv);
		_mm512_mask_storeu_ps(s + i, k, p);
		_mm512_mask_storeu_ps(dp + i, k, _mm512_mul_ps(_mm512_mul_ps(p, g), sc));
	}
}

static T256 void grad_256(float *s, float *dp, int n, float lse, float D, float scale)
{
	__m256 lv = _mm256_set1_ps(lse), dv = _mm256_set1_ps(D), sc = _mm256_set1_ps(scale);
	for (int i = 0; i < n; i += 8) {
		__m256i k = mask8(n - i);
		__m256 p = exp8(_mm256_sub_ps(_mm256_maskload_ps(s + i, k), lv));
		__m256 g = _mm256_sub_ps(_mm256_maskload_ps(dp + i, k), dv);
		_mm256_maskstore_ps(s + i, k, p);
		_mm256_maskstore_ps(dp + i, k, _mm256_mul_ps(_mm256_mul_ps(p, g), sc));
	}
}

static T512 void sigmoid_512(float *s, const float *x, int n)
{
	__m512 one = _mm512_set1_ps(1.0f);
	for (int i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(k, x + i)));
		_mm512_mask_storeu_ps(s + i, k, _mm512_div_ps(one, _mm512_add_ps(one, e)));
	}
}

static T256 void sigmoid_256(float *s, const float *x, int n)
{
	__m256 one = _mm256_set1_ps(1.0f);
	for (int i = 0; i < n; i += 8) {
		__m256i k = mask8(n - i);
		__m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_maskload_ps(x + i, k)));
		_mm256_maskstore_ps(s + i, k, _mm256_div_ps(one, _mm256_add_ps(one, e)));
	}
}
#endif

void vx_sigmoid(float *s, const float *x, int n)
{
#ifdef VX_X86
	switch (vx_get_isa()) {
	case VX_AVX512: sigmoid_512(s, x, n); return;
	case VX_AVX2: sigmoid_256(s, x, n); return;
	default: break;
	}
#endif
	for (int i = 0; i < n; i++)
		s[i] = 1.0f / (1.0f + expf(-x[i]));
}

float vx_max(const float *x, int n)
{
#ifdef VX_X86
	switch (vx_get_isa()) {
	case VX_AVX512: return max_512(x, n);
	case VX_AVX2: return max_256(x, n);
	default: break;
	}
#endif
	float m = x[0];
	for (int i = 1; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

float vx_exp_sum(float *x, int n, float m)
{
#ifdef VX_X86
	switch (vx_get_isa()) {
	case VX_AVX512: return exp_sum_512(x, n, m);
	case VX_AVX2: return exp_sum_256(x, n, m);
	default: break;
	}
#endif
	float s = 0;
	for (int i = 0; i < n; i++)
		s += x[i] = expf(x[i] - m);
	return s;
}

void vx_div(float *x, int n, float d)
{
#ifdef VX_X86
	switch (vx_get_isa()) {
	case VX_AVX512: div_512(x, n, d); return;
	case VX_AVX2: div_256(x, n, d); return;
	default: break;
	}
#endif
	for (int i = 0; i < n; i++)
		x[i] /= d;
}

void vx_softmax_grad(float *s, float *dp, int n, float lse, float D, float scale)
{
#ifdef VX_X86
	switch (vx_get_isa()) {
	case VX_AVX512: grad_512(s, dp, n, lse, D, scale); return;
	case VX_AVX2: grad_256(s, dp, n, lse, D, scale); return;
	default: break;
	}
#endif
	for (int i = 0; i < n; i++) {
		float p = expf(s[i] - lse);
		s[i] = p;
		dp[i] = p * (dp[i] - D) * scale;
	}
}
