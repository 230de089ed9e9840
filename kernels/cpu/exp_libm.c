/* qlora-tools: ISC license. */
/* libm's exp in double, four lanes at a time; see kernels/cpu/exp_libm.h. */
#include "kernels/cpu/exp_libm.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/exp_libm_table.h"

static int use_vector;
static pthread_once_t pick_once = PTHREAD_ONCE_INIT;

static void pick(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	const char *e = getenv("QT_EXP_LIBM");
	__builtin_cpu_init();
	use_vector = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	             !(e && strcmp(e, "scalar") == 0);
#endif
}

int exp_libm_vector(void)
{
	pthread_once(&pick_once, pick);
	return use_vector;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define T256 __attribute__((target("avx2,fma")))

/* glibc's constants (struct exp_data): 128 / ln 2; -ln 2 / 128 in a high part with 11 zero
 * low bits and a low part; the polynomial's coefficients C2..C5 (a minimax fit, glibc's); the
 * shift 1.5 * 2^52 that rounds to an integer in the low bits. */
#define INVLN2N   0x1.71547652b82fep7
#define NEGLN2HIN -0x1.62e42fefa0000p-8
#define NEGLN2LON -0x1.cf79abc9e3b3ap-47
#define C2        0x1.ffffffffffdbdp-2
#define C3        0x1.555555555543cp-3
#define C4        0x1.55555cf172b91p-5
#define C5        0x1.1111167a4d017p-7
#define SHIFT     0x1.8p52

/* exp of 4 lanes; *odd: a mask of the lanes outside the fast path (to be redone by exp()). The
 * operations and their fused pairs are those of glibc's __exp_fma: kd = fma(x, 128/ln2,
 * shift); r = fma(kd, lo, fma(kd, hi, x)); tmp = fma(r2^2, fma(r, C5, C4), fma(fma(r, C3, C2),
 * r2, tail + r)); result fma(scale, tmp, scale). */
static inline T256 __m256d exp4(__m256d x, int *odd)
{
	__m256i top = _mm256_and_si256(_mm256_srli_epi64(_mm256_castpd_si256(x), 52),
	                               _mm256_set1_epi64x(0x7ff));
	/* fast path: 0x3c9 <= top <= 0x407 (2^-54 <= |x| < 512) */
	__m256i off = _mm256_sub_epi64(top, _mm256_set1_epi64x(0x3c9));
	__m256i bad = _mm256_or_si256(_mm256_cmpgt_epi64(off, _mm256_set1_epi64x(0x3e)),
	                              _mm256_cmpgt_epi64(_mm256_setzero_si256(), off));
	*odd = _mm256_movemask_pd(_mm256_castsi256_pd(bad));
	__m256d kd = _mm256_fmadd_pd(x, _mm256_set1_pd(INVLN2N), _mm256_set1_pd(SHIFT));
	__m256i ki = _mm256_castpd_si256(kd);
	kd = _mm256_sub_pd(kd, _mm256_set1_pd(SHIFT));
	__m256d r = _mm256_fmadd_pd(kd, _mm256_set1_pd(NEGLN2HIN), x);
	r = _mm256_fmadd_pd(kd, _mm256_set1_pd(NEGLN2LON), r);
	__m256i idx = _mm256_slli_epi64(_mm256_and_si256(ki, _mm256_set1_epi64x(127)), 1);
	__m256d tail = _mm256_i64gather_pd((const double *)exp_tab, idx, 8);
	__m256i sbits = _mm256_add_epi64(_mm256_i64gather_epi64((const long long *)exp_tab + 1,
	                                                        idx, 8),
	                                 _mm256_slli_epi64(ki, 45));
	__m256d r2 = _mm256_mul_pd(r, r);
	__m256d p23 = _mm256_fmadd_pd(r, _mm256_set1_pd(C3), _mm256_set1_pd(C2));
	__m256d p45 = _mm256_fmadd_pd(r, _mm256_set1_pd(C5), _mm256_set1_pd(C4));
	__m256d tmp = _mm256_fmadd_pd(p23, r2, _mm256_add_pd(r, tail));
	tmp = _mm256_fmadd_pd(_mm256_mul_pd(r2, r2), p45, tmp);
	__m256d scale = _mm256_castsi256_pd(sbits);
	return _mm256_fmadd_pd(scale, tmp, scale);
}

/* exp4 of x - m for 4 floats, odd lanes redone by exp() */
static inline T256 void exp4_of(const float *x, __m256d m, double *e)
{
	int odd;
	__m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x)), m);
	_mm256_storeu_pd(e, exp4(d, &odd));
	if (__builtin_expect(odd != 0, 0)) {
		double a[4];
		_mm256_storeu_pd(a, d);
		for (int k = 0; k < 4; k++)
			if (odd >> k & 1)
				e[k] = exp(a[k]);
	}
}

static T256 double sum256(const float *x, int n, double m)
{
	__m256d mv = _mm256_set1_pd(m);
	double s = 0;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		double e[4];
		exp4_of(x + i, mv, e);
		s += e[0]; /* in order: the sum's bits are the loop's */
		s += e[1];
		s += e[2];
		s += e[3];
	}
	for (; i < n; i++)
		s += exp((double)x[i] - m);
	return s;
}

static T256 void scale256(float *out, const float *x, int n, double m, float scale)
{
	__m256d mv = _mm256_set1_pd(m);
	__m128 sv = _mm_set1_ps(scale);
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		double e[4];
		exp4_of(x + i, mv, e);
		_mm_storeu_ps(out + i, _mm_mul_ps(_mm256_cvtpd_ps(_mm256_loadu_pd(e)), sv));
	}
	for (; i < n; i++)
		out[i] = (float)exp((double)x[i] - m) * scale;
}

static T256 void many256(double *out, const double *x, int n)
{
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		int odd;
		__m256d xv = _mm256_loadu_pd(x + i);
		_mm256_storeu_pd(out + i, exp4(xv, &odd));
		for (int k = 0; k < 4; k++)
			if (odd >> k & 1)
				out[i + k] = exp(x[i + k]);
	}
	for (; i < n; i++)
		out[i] = exp(x[i]);
}
#endif

double exp_libm_sum(const float *x, int n, double m)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (exp_libm_vector())
		return sum256(x, n, m);
#endif
	double s = 0;
	for (int i = 0; i < n; i++)
		s += exp((double)x[i] - m);
	return s;
}

void exp_libm_scale(float *out, const float *x, int n, double m, float scale)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (exp_libm_vector()) {
		scale256(out, x, n, m, scale);
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		out[i] = (float)exp((double)x[i] - m) * scale;
}

void exp_libm_many(double *out, const double *x, int n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (exp_libm_vector()) {
		many256(out, x, n);
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		out[i] = exp(x[i]);
}
