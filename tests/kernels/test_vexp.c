/* qlora-tools: ISC license. */
/*
 * kernels/cpu/vexp.h: every exp path this CPU can execute (AVX-512, AVX2, scalar) against exp
 * in double of the same float argument: each element within 2.5e-7 relative (2 ulp), under
 * -87.3 no more than 1.2e-38;
 * the sum, the max and the division (exact) and the softmax backward row; row lengths 0..40 so that every
 * vector tail is taken, and nothing past the row written.
 */
#include <math.h>
#include <string.h>

#include "kcheck.h"
#include "kernels/cpu/vexp.h"
#include "test.h"

enum { N = 41, PAD = 3 };

static void one_isa(const char *tag)
{
	float x[N + PAD], y[N + PAD], s[N + PAD], dp[N + PAD];
	for (int n = 0; n < N; n++) {
		kc_rand(x, N + PAD, (uint64_t)n + 1, 1.0f);
		/* spread over [-100, 4]: kc_rand gives [-1, 1) scaled */
		for (int i = 0; i < N + PAD; i++)
			x[i] = -48.0f + 52.0f * x[i];
		if (n > 2)
			x[1] = -90.0f, x[2] = 0.0f;
		memcpy(y, x, sizeof y);
		float m = n > 0 ? vx_max(x, n) : 0;
		float want = n > 0 ? x[0] : 0;
		for (int i = 1; i < n; i++)
			want = x[i] > want ? x[i] : want;
		CHECK(m == want, "%s: max of %d: %g, want %g", tag, n, m, want);
		float sum = vx_exp_sum(y, n, m);
		double ref = 0, worst = 0;
		for (int i = 0; i < n; i++) {
			float d = x[i] - m; /* the argument as the kernel rounds it */
			double e = exp((double)d);
			ref += e;
			double err = x[i] - m < -87.3f ? (y[i] >= 0 && y[i] <= 1.2e-38 ? 0 : 1)
			                               : fabs(y[i] - e) / e;
			worst = err > worst ? err : worst;
		}
		CHECK(worst <= 2.5e-7, "%s: exp, n %d: relative error %g", tag, n, worst);
		CHECK(fabs(sum - ref) <= 1e-6 * (ref > 1 ? ref : 1), "%s: sum, n %d: %g, want %g", tag,
		      n, sum, ref);
		CHECK(memcmp(y + n, x + n, sizeof(float) * (N + PAD - n)) == 0,
		      "%s: exp of %d wrote past the row", tag, n);
		float q[N + PAD];
		memcpy(q, x, sizeof q);
		vx_div(q, n, 3.0f);
		int same = 1;
		for (int i = 0; i < N + PAD; i++)
			same &= q[i] == (i < n ? x[i] / 3.0f : x[i]);
		CHECK(same, "%s: division of %d differs from x / 3 or wrote past the row", tag, n);

		/* backward: p = exp(s - lse), dp = p * (dp - D) * scale */
		float lse = m + 0.7f, D = 0.3f, scale = 0.125f;
		memcpy(s, x, sizeof s);
		kc_rand(dp, N + PAD, (uint64_t)n + 100, 1.0f);
		float dp0[N + PAD];
		memcpy(dp0, dp, sizeof dp);
		vx_softmax_grad(s, dp, n, lse, D, scale);
		worst = 0;
		for (int i = 0; i < n; i++) {
			float d = x[i] - lse, dd = dp0[i] - D;
			double p = exp((double)d), g = p * dd * scale;
			double ep = x[i] - lse < -87.3f ? (s[i] <= 1.2e-38 ? 0 : 1) : fabs(s[i] - p) / p;
			double eg = fabs(dp[i] - g) / (fabs(g) + 1e-30);
			eg = x[i] - lse < -87.3f ? (fabs(dp[i]) <= 1e-37 ? 0 : 1) : eg;
			worst = ep > worst ? ep : worst;
			worst = eg > worst ? eg : worst;
		}
		CHECK(worst <= 5e-7, "%s: softmax grad, n %d: relative error %g", tag, n, worst);
		CHECK(memcmp(s + n, x + n, sizeof(float) * (N + PAD - n)) == 0 &&
		      memcmp(dp + n, dp0 + n, sizeof(float) * (N + PAD - n)) == 0,
		      "%s: softmax grad of %d wrote past the row", tag, n);
	}
}

int main(void)
{
	const char *names[] = { "scalar", "AVX2", "AVX-512" };
	int ran = 0;
	for (int isa = VX_AVX512; isa >= VX_SCALAR; isa--) {
		vx_set_isa((enum vx_isa)isa);
		if (vx_get_isa() != (enum vx_isa)isa)
			continue;
		one_isa(names[isa]);
		ran++;
	}
	CHECK(ran >= 1, "no exp path ran");
	vx_set_isa(VX_AVX512);
	return test_main_end();
}
