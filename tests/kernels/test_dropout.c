/* qlora-tools: ISC license. */
/* dropout (CPU reference): keep rate, scale, mask shared by forward and backward, p = 0. */
#include "kernels/dropout.h"

#include "kcheck.h"

int main(void)
{
	size_t n = 100003;
	float *x = malloc(n * 4), *y = malloc(n * 4), *dx = calloc(n, 4), *y2 = malloc(n * 4);
	kc_rand(x, n, 1, 2.0f);
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] == 0 ? 1 : x[i];
	float p = 0.1f, s = dropout_scale(0.1);
	CHECK(s == (float)(1 / 0.9), "scale");
	dropout_forward(y, x, n, p, s, 42);
	size_t kept = 0, bad = 0;
	for (size_t i = 0; i < n; i++) {
		kept += y[i] != 0;
		bad += y[i] != 0 && y[i] != x[i] * s;
	}
	double rate = (double)kept / n;
	printf("keep rate %.4f (want 0.9)\n", rate);
	CHECK(fabs(rate - 0.9) < 0.005, "keep rate %g", rate);
	CHECK(bad == 0, "%zu kept values not scaled", bad);
	/* backward with dout = 1: the same mask, times scale */
	float *ones = malloc(n * 4);
	for (size_t i = 0; i < n; i++)
		ones[i] = 1;
	dropout_backward(dx, ones, n, p, s, 42);
	size_t miss = 0;
	for (size_t i = 0; i < n; i++)
		miss += (dx[i] != 0) != (y[i] != 0) || (dx[i] != 0 && dx[i] != s);
	CHECK(miss == 0, "%zu backward values differ from the forward mask", miss);
	/* a different seed gives a different mask; in-place works; p = 0 is the identity */
	dropout_forward(y2, x, n, p, s, 43);
	CHECK(memcmp(y, y2, n * 4) != 0, "seed changes the mask");
	memcpy(y2, x, n * 4);
	dropout_forward(y2, y2, n, p, s, 42);
	CHECK(memcmp(y, y2, n * 4) == 0, "in place");
	dropout_forward(y2, x, n, 0.0f, 1.0f, 42);
	CHECK(memcmp(x, y2, n * 4) == 0, "p = 0");
	free(x), free(y), free(dx), free(y2), free(ones);
	return test_main_end();
}
