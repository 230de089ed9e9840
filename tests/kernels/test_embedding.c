/* qlora-tools: ISC license. */
/* embedding gather; NEFTune noise: range, moments, determinism, magnitude formula. */
#include "kernels/embedding.h"

#include "kcheck.h"

int main(void)
{
	enum { V = 11, C = 7, T = 5 };
	float table[V * C], out[T * C];
	int32_t ids[T] = { 3, 0, 10, -1, 3 };
	kc_rand(table, V * C, 1, 1);
	embedding_forward(out, ids, table, T, C, V);
	CHECK(memcmp(out, table + 3 * C, C * 4) == 0 && memcmp(out + 4 * C, table + 3 * C, C * 4) == 0,
	      "row 3");
	CHECK(memcmp(out + 2 * C, table + 10 * C, C * 4) == 0, "row 10");
	int zero = 1;
	for (int c = 0; c < C; c++)
		zero &= out[3 * C + c] == 0;
	CHECK(zero, "bad id gives a zero row");

	/* NEFTune: alpha 5, L 512, C 576 as HF: mag = 5 / sqrt(512 * 576) */
	float mag = neftune_magnitude(5.0, 512, 576);
	CHECK(fabsf(mag - (float)(5.0 / sqrt(512.0 * 576.0))) == 0, "magnitude %g", mag);
	size_t n = 1 << 20;
	float *x = calloc(n, 4), *y = calloc(n, 4);
	neftune_forward(x, n, mag, 42);
	neftune_forward(y, n, mag, 42);
	CHECK(memcmp(x, y, n * 4) == 0, "same seed, same noise");
	double s = 0, s2 = 0, mn = 1, mx = -1;
	for (size_t i = 0; i < n; i++) {
		double u = x[i] / mag;
		s += u, s2 += u * u;
		mn = u < mn ? u : mn, mx = u > mx ? u : mx;
	}
	double mean = s / n, var = s2 / n - mean * mean;
	printf("neftune n=%zu mean=%.5f var=%.5f (1/3) min=%.6f max=%.6f\n", n, mean, var, mn, mx);
	CHECK(fabs(mean) < 3e-3 && fabs(var - 1.0 / 3) < 3e-3, "moments %g %g", mean, var);
	CHECK(mn >= -1 && mx < 1 && mn < -0.999 && mx > 0.999, "range %g %g", mn, mx);
	neftune_forward(y, 16, mag, 43);
	CHECK(memcmp(x, y, 16 * 4) != 0, "another seed, other noise");
	/* element i depends only on (seed, i): a tail call equals the tail of the full call */
	CHECK(neftune_uniform(42, 1000) * mag == x[1000], "counter based");
	free(x), free(y);
	return test_main_end();
}
