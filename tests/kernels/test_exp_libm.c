/* qlora-tools: ISC license. */
/*
 * kernels/cpu/exp_libm.h against libm's exp, bit for bit: random doubles over the fast path's
 * range and either side of it, random bit patterns (NaN, infinities, subnormal results), the
 * edges of the range, and differences of two floats as the cross-entropy forms them; then
 * the row sum and the scaled row against the loops of exp() they replace, row lengths 0..41
 * (every tail) and a vocabulary-sized row with -inf and NaN logits. On a CPU without AVX2 and
 * FMA the scalar path runs (the loops themselves) and the comparison still holds.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/rng.h"
#include "kcheck.h"
#include "kernels/cpu/exp_libm.h"
#include "test.h"

enum { N = 1 << 22 }; /* a wrong constant or a lost fused pair shows in about one result in a million */

static uint64_t bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	return u;
}

/* exp_libm_many over x against exp(); returns the mismatches, printing the first */
static long against_libm(const char *what, const double *x, double *got, int n)
{
	long bad = 0;
	exp_libm_many(got, x, n);
	for (int i = 0; i < n; i++) {
		double want = exp(x[i]);
		if (bits(got[i]) != bits(want) && !(isnan(got[i]) && isnan(want))) {
			if (bad++ == 0)
				fprintf(stderr, "%s: exp(%a) = %a, libm %a\n", what, x[i], got[i], want);
		}
	}
	return bad;
}

static void many(void)
{
	static double x[N], got[N];
	struct qt_rng r;
	qt_rng_seed(&r, 7);
	for (int i = 0; i < N; i++) /* the fast path and past both ends */
		x[i] = (qt_rng_double(&r) * 2 - 1) * 760;
	long bad = against_libm("uniform [-760, 760]", x, got, N);
	CHECK(bad == 0, "uniform: %ld of %d differ", bad, N);
	for (int i = 0; i < N; i++) { /* every exponent, both signs */
		uint64_t u = qt_rng_u64(&r);
		memcpy(&x[i], &u, 8);
	}
	bad = against_libm("bit patterns", x, got, N);
	CHECK(bad == 0, "bit patterns: %ld of %d differ", bad, N);
	for (int i = 0; i < N; i++) { /* |x| near the fast path's ends: 2^-54 and 512 */
		double e = ldexp(1.0, -60 + (int)qt_rng_below(&r, 72));
		x[i] = (qt_rng_u64(&r) & 1 ? -e : e) * (0.5 + qt_rng_double(&r));
	}
	bad = against_libm("small and large", x, got, N);
	CHECK(bad == 0, "small and large: %ld of %d differ", bad, N);
	for (int i = 0; i < N; i++) { /* (double)logit - (double)max, as cross_entropy.c forms it */
		float a = (float)((qt_rng_double(&r) * 2 - 1) * 40), m = (float)(qt_rng_double(&r) * 40);
		x[i] = (double)a - m;
	}
	bad = against_libm("float differences", x, got, N);
	CHECK(bad == 0, "float differences: %ld of %d differ", bad, N);
	const double edge[] = { 0.0, -0.0, 0x1p-54, -0x1p-54, 0x1.fffffffffffffp-55, 511.99999999,
	                        -511.99999999, 512.0, -512.0, 709.78, 709.79, -708.39, -708.4,
	                        -745.13, -745.14, -746, 1e-300, DBL_MIN, DBL_TRUE_MIN, HUGE_VAL,
	                        -HUGE_VAL, NAN, -NAN, 1.0, -1.0, 0x1.62e42fefa39efp-8 };
	int ne = (int)(sizeof edge / sizeof edge[0]);
	bad = against_libm("edges", edge, got, ne);
	CHECK(bad == 0, "edges: %ld of %d differ", bad, ne);
}

static void rows(void)
{
	enum { V = 49152, PAD = 4 };
	static float x[V + PAD], out[V + PAD], want[V + PAD];
	for (int n = 0; n <= 41 + 1; n++) {
		int len = n <= 41 ? n : V;
		kc_rand(x, (size_t)len + PAD, (uint64_t)n + 3, 1.0f);
		for (int i = 0; i < len + PAD; i++)
			x[i] *= 30.0f;
		if (len > 6)
			x[2] = -INFINITY, x[5] = 0.0f;
		if (len == V)
			x[V / 2] = NAN;
		float m = -INFINITY;
		for (int i = 0; i < len; i++)
			m = x[i] > m ? x[i] : m;
		double s = 0;
		for (int i = 0; i < len; i++)
			s += exp((double)x[i] - m);
		double got = exp_libm_sum(x, len, m);
		CHECK(bits(got) == bits(s) || (isnan(got) && isnan(s)), "sum of %d: %a, loop %a", len,
		      got, s);
		double lse = m + log(s);
		for (int i = 0; i < len + PAD; i++)
			out[i] = want[i] = -7.0f;
		for (int i = 0; i < len; i++)
			want[i] = (float)exp((double)x[i] - lse) * 0.25f;
		exp_libm_scale(out, x, len, lse, 0.25f);
		CHECK(memcmp(out, want, sizeof(float) * ((size_t)len + PAD)) == 0,
		      "scaled row of %d differs from the loop (or wrote past it)", len);
		memcpy(out, x, sizeof(float) * (size_t)len); /* in place */
		exp_libm_scale(out, out, len, lse, 0.25f);
		CHECK(memcmp(out, want, sizeof(float) * (size_t)len) == 0,
		      "scaled row of %d in place differs", len);
	}
}

int main(void)
{
	if (!exp_libm_vector())
		fprintf(stderr, "note: no AVX2+FMA (or QT_EXP_LIBM=scalar): the scalar path is tested\n");
	many();
	rows();
	return test_main_end();
}
