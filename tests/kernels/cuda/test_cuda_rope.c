/* qlora-tools: ISC license. */
/* CUDA vs CPU: RoPE table (cosf/sinf: tolerance) and rotation (bit-identical given the same
 * table), forward and in-place backward; packed positions restarting at 0; odd head counts;
 * partial rotation (the first rot dims, the rest copied) with rotate_half or interleaved pairs
 * (GLM). */
#include "kernels/rope.h"

#include "cuda_check.h"

int main(void)
{
	int shapes[][3] = { { 1, 1, 2 }, { 37, 3, 64 }, { 300, 9, 64 }, { 129, 5, 128 } };
	for (int s = 0; s < 4; s++) {
		int T = shapes[s][0], NH = shapes[s][1], HD = shapes[s][2], half = HD / 2;
		size_t n = (size_t)T * NH * HD, nt = (size_t)T * half;
		float *inv = malloc(half * 4), *c = malloc(nt * 4), *sn = malloc(nt * 4);
		float *x = malloc(n * 4), *y = malloc(n * 4), *bx = malloc(n * 4), *g = malloc(n * 4);
		int32_t *pos = malloc(T * 4);
		for (int t = 0; t < T; t++)
			pos[t] = t < T / 2 ? t : t - T / 2; /* two packed samples */
		rope_inv_freq(inv, HD, 100000.0, NULL);
		rope_table(c, sn, pos, inv, T, HD);
		kc_rand(x, n, 5 + s, 2.0f);
		rope_forward(y, x, c, sn, T, NH, HD);
		rope_backward(bx, y, c, sn, T, NH, HD);
		char what[64];
		snprintf(what, sizeof what, "rope T=%d NH=%d HD=%d", T, NH, HD);
		if (cc_have_gpu(what)) {
			int32_t *dp = cc_dev(pos, T * 4);
			float *di = cc_devf(inv, half), *dc = cc_devf(NULL, nt), *ds = cc_devf(NULL, nt);
			float *dx = cc_devf(x, n), *dy = cc_devf(NULL, n);
			rope_table_cuda(dc, ds, dp, di, T, HD);
			cc_ok(what);
			cc_get("rope cos", g, dc, nt * 4);
			cc_close("rope cos", g, c, nt, 1e-5, 1e-6, 1e-12);
			cc_get("rope sin", g, ds, nt * 4);
			cc_close("rope sin", g, sn, nt, 1e-5, 1e-6, 1e-12);
			/* the rotation itself, on the CPU's table */
			cuda_upload(dc, c, nt * 4);
			cuda_upload(ds, sn, nt * 4);
			rope_forward_cuda(dy, dx, dc, ds, T, NH, HD);
			cc_ok(what);
			cc_get(what, g, dy, n * 4);
			cc_exact(what, g, y, n * 4);
			rope_backward_cuda(dy, dy, dc, ds, T, NH, HD); /* in place */
			cc_ok("rope backward");
			cc_get("rope backward", g, dy, n * 4);
			cc_exact("rope backward in place", g, bx, n * 4);
			cuda_free(dp), cuda_free(di), cuda_free(dc), cuda_free(ds), cuda_free(dx),
				cuda_free(dy);
		}
		free(inv), free(c), free(sn), free(x), free(y), free(bx), free(g), free(pos);
	}
	/* partial: rot of HD dims, rotate_half (Phi-4-mini) and interleaved (GLM) pairs */
	int parts[][2] = { { 48, 0 }, { 32, 1 }, { 64, 1 } };
	for (int k = 0; k < 3; k++) {
		int T = 37, NH = 3, HD = 64, rot = parts[k][0], il = parts[k][1], half = rot / 2;
		size_t n = (size_t)T * NH * HD, nt = (size_t)T * half;
		float *inv = malloc(half * 4), *c = malloc(nt * 4), *sn = malloc(nt * 4);
		float *x = malloc(n * 4), *y = malloc(n * 4), *bx = malloc(n * 4), *g = malloc(n * 4);
		int32_t *pos = malloc(T * 4);
		for (int t = 0; t < T; t++)
			pos[t] = t;
		rope_inv_freq(inv, rot, 10000.0, NULL);
		rope_table(c, sn, pos, inv, T, rot);
		kc_rand(x, n, 50 + k, 2.0f);
		rope_forward_part(y, x, c, sn, T, NH, HD, rot, il);
		memcpy(bx, y, n * 4);
		rope_backward_part(bx, bx, c, sn, T, NH, HD, rot, il);
		char what[64];
		snprintf(what, sizeof what, "rope part rot=%d interleaved=%d", rot, il);
		if (cc_have_gpu(what)) {
			float *dc = cc_devf(c, nt), *ds = cc_devf(sn, nt), *dx = cc_devf(x, n);
			float *dy = cc_devf(NULL, n);
			rope_forward_part_cuda(dy, dx, dc, ds, T, NH, HD, rot, il);
			cc_ok(what);
			cc_get(what, g, dy, n * 4);
			cc_exact(what, g, y, n * 4);
			rope_backward_part_cuda(dy, dy, dc, ds, T, NH, HD, rot, il);
			cc_ok(what);
			cc_get(what, g, dy, n * 4);
			cc_exact("rope part backward in place", g, bx, n * 4);
			cuda_free(dc), cuda_free(ds), cuda_free(dx), cuda_free(dy);
		}
		free(inv), free(c), free(sn), free(x), free(y), free(bx), free(g), free(pos);
	}
	return test_main_end();
}
