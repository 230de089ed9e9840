/* qlora-tools: ISC license. */
/*
 * Times the reference and fast CPU kernels at SmolLM2-135M shapes (C 576, NH 9, NKV 3,
 * HD 64, H 1536) for one layer at T tokens. Not part of `make test`. Build and run:
 *   make && cc -O2 -std=c11 -D_GNU_SOURCE -I. -o /tmp/kbench tests/bench/kernels_bench.c \
 *      build/libqlora.a -lopenblas -lpthread -lm && /tmp/kbench 512
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rmsnorm.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *rnd(size_t n)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)rand() / RAND_MAX - 0.5f;
	return x;
}

int main(int argc, char **argv)
{
	int T = argc > 1 ? atoi(argv[1]) : 512, NH = 9, NKV = 3, HD = 64, C = 576, H = 1536;
	float *q = rnd((size_t)T * C), *k = rnd((size_t)T * NKV * HD), *v = rnd((size_t)T * NKV * HD);
	float *o = rnd((size_t)T * C), *lse = rnd((size_t)NH * T), *dq = rnd((size_t)T * C);
	float *dk = rnd((size_t)T * NKV * HD), *dv = rnd((size_t)T * NKV * HD);
	/* warm up OpenBLAS threads and the page cache of the buffers */
	attention_forward_fast(o, lse, q, k, v, NULL, NULL, 1, T, NH, NKV, HD, 0);
	double t0 = now();
	attention_forward(o, lse, q, k, v, NULL, NULL, 1, T, NH, NKV, HD);
	double t1 = now();
	attention_forward_fast(o, lse, q, k, v, NULL, NULL, 1, T, NH, NKV, HD, 0);
	double t2 = now();
	attention_backward(dq, dk, dv, q, q, k, v, o, lse, NULL, NULL, 1, T, NH, NKV, HD);
	double t3 = now();
	attention_backward_fast(dq, dk, dv, q, q, k, v, o, lse, NULL, NULL, 1, T, NH, NKV, HD, 0);
	double t4 = now();
	printf("attention T=%d fwd: ref %.1f ms, fast %.1f ms (x%.1f); bwd: ref %.1f ms, fast %.1f ms (x%.1f)\n",
	       T, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t1 - t0) / (t2 - t1), (t3 - t2) * 1e3,
	       (t4 - t3) * 1e3, (t3 - t2) / (t4 - t3));
	float *W = rnd((size_t)H * C), *y = rnd((size_t)T * H);
	t0 = now();
	linear_forward(y, q, W, NULL, T, C, H, 1, 0);
	t1 = now();
	linear_forward_fast(y, q, W, NULL, T, C, H, 1, 0);
	t2 = now();
	double fl = 2.0 * T * C * H;
	printf("linear T=%d %dx%d: ref %.1f ms (%.1f GFLOP/s), sgemm %.2f ms (%.1f GFLOP/s)\n", T, H, C,
	       (t1 - t0) * 1e3, fl / (t1 - t0) * 1e-9, (t2 - t1) * 1e3, fl / (t2 - t1) * 1e-9);
	t0 = now();
	rmsnorm_forward(o, lse, q, W, T, C, 1e-5f);
	t1 = now();
	rmsnorm_forward_fast(o, lse, q, W, T, C, 1e-5f, 0);
	t2 = now();
	printf("rmsnorm T=%d C=%d: ref %.3f ms, fast %.3f ms\n", T, C, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	return 0;
}
