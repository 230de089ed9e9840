/* qlora-tools: ISC license. */
/*
 * kernels/cpu/threaded.h: every threaded op against its serial op, bit for bit, at 1, 2, 3
 * and 7 threads, on sizes above every op's serial threshold that split into uneven spans (rows not a
 * multiple of the span, element counts not a multiple of the vector chunk), and a small call
 * that stays on one thread. Outputs start from the same non-zero contents (several ops add).
 */
#include <string.h>

#include "kcheck.h"
#include "kernels/adamw.h"
#include "kernels/columns.h"
#include "kernels/cpu/threaded.h"
#include "kernels/dropout.h"
#include "kernels/gemm.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/softcap.h"
#include "kernels/swiglu.h"
#include "test.h"

enum { T = 613, C = 192, NH = 3, HD = 64, N = T * C * 3 + 17 };

static float a[N], b[N], c[N], d[N], e[N], w[C], r[T], cs[T * HD], sn[T * HD];
static float ref1[N], ref2[N], got1[N], got2[N];

static int same(const float *x, const float *y, size_t n)
{
	return memcmp(x, y, n * sizeof(float)) == 0;
}

static void fill(float *x, size_t n, uint64_t seed)
{
	kc_rand(x, n, seed, 2.0f);
}

static void ops(int threads, size_t n, int rows)
{
	sgemm_set_threads(threads);
	/* rmsnorm backward, rows */
	fill(ref1, n, 9), memcpy(got1, ref1, sizeof ref1);
	rmsnorm_backward(ref1, a, b, w, r, rows, C);
	rmsnorm_backward_threaded(got1, a, b, w, r, rows, C);
	CHECK(same(ref1, got1, (size_t)rows * C), "rmsnorm_backward, %d threads, %d rows", threads, rows);
	/* rope, forward and backward, partial rotation, both layouts */
	for (int il = 0; il < 2; il++) {
		rope_forward_part(ref1, a, cs, sn, rows, NH, HD, HD / 2, il);
		rope_forward_threaded(got1, a, cs, sn, rows, NH, HD, HD / 2, il);
		CHECK(same(ref1, got1, (size_t)rows * NH * HD), "rope forward %d, %d threads", il, threads);
		rope_backward_part(ref1, a, cs, sn, rows, NH, HD, HD, il);
		rope_backward_threaded(got1, a, cs, sn, rows, NH, HD, HD, il);
		CHECK(same(ref1, got1, (size_t)rows * NH * HD), "rope backward %d, %d threads", il, threads);
	}
	/* columns: split into 3 of widths 80, 48, 64 and join back */
	int wd[3] = { 80, 48, 64 };
	float *rs[3] = { ref1, ref1 + (size_t)rows * 80, ref1 + (size_t)rows * 128 };
	float *gs[3] = { got1, got1 + (size_t)rows * 80, got1 + (size_t)rows * 128 };
	columns_split(rs, a, rows, wd, 3);
	columns_split_threaded(gs, a, rows, wd, 3);
	CHECK(same(ref1, got1, (size_t)rows * C), "columns_split, %d threads", threads);
	columns_join(ref2, (const float *const *)rs, rows, wd, 3);
	columns_join_threaded(got2, (const float *const *)gs, rows, wd, 3);
	CHECK(same(ref2, got2, (size_t)rows * C), "columns_join, %d threads", threads);
	/* elementwise */
	memcpy(ref1, c, sizeof c), memcpy(got1, c, sizeof c);
	residual_add(ref1, a, n);
	residual_add_threaded(got1, a, n);
	CHECK(same(ref1, got1, n), "residual_add, %d threads, n %zu", threads, n);
	swiglu_forward_fast(ref1, a, b, n);
	swiglu_forward_threaded(got1, a, b, n);
	CHECK(same(ref1, got1, n), "swiglu forward, %d threads, n %zu", threads, n);
	memcpy(ref1, c, sizeof c), memcpy(got1, c, sizeof c);
	memcpy(ref2, d, sizeof d), memcpy(got2, d, sizeof d);
	swiglu_backward_fast(ref1, ref2, e, a, b, n);
	swiglu_backward_threaded(got1, got2, e, a, b, n);
	CHECK(same(ref1, got1, n) && same(ref2, got2, n), "swiglu backward, %d threads", threads);
	dropout_forward(ref1, a, n, 0.1f, dropout_scale(0.1), 77);
	dropout_forward_threaded(got1, a, n, 0.1f, dropout_scale(0.1), 77);
	CHECK(same(ref1, got1, n), "dropout forward, %d threads", threads);
	memcpy(ref1, c, sizeof c), memcpy(got1, c, sizeof c);
	dropout_backward(ref1, a, n, 0.1f, dropout_scale(0.1), 77);
	dropout_backward_threaded(got1, a, n, 0.1f, dropout_scale(0.1), 77);
	CHECK(same(ref1, got1, n), "dropout backward, %d threads", threads);
	struct adamw_hparams h;
	adamw_hparams_init(&h, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
	float *pm[2] = { ref1, got1 }, *mm[2] = { ref2, got2 };
	static float vv[2][N];
	for (int k = 0; k < 2; k++) {
		memcpy(pm[k], a, sizeof a);
		memcpy(mm[k], b, sizeof b);
		for (size_t i = 0; i < N; i++)
			vv[k][i] = c[i] * c[i];
	}
	adamw_step(ref1, d, ref2, vv[0], n, &h);
	adamw_step_threaded(got1, d, got2, vv[1], n, &h);
	CHECK(same(ref1, got1, n) && same(ref2, got2, n) && same(vv[0], vv[1], n),
	      "adamw_step, %d threads, n %zu", threads, n);
}

int main(void)
{
	fill(a, N, 1), fill(b, N, 2), fill(c, N, 3), fill(d, N, 4), fill(e, N, 5);
	fill(w, C, 6), fill(cs, T * HD, 7), fill(sn, T * HD, 8);
	for (int t = 0; t < T; t++)
		r[t] = 0.5f + (float)t / T;
	const int threads[] = { 1, 2, 3, 7 };
	for (int i = 0; i < 4; i++) {
		ops(threads[i], N, T);
		ops(threads[i], 1000, 5); /* below the threshold: the calling thread */
	}
	sgemm_set_threads(0);
	return test_main_end();
}
