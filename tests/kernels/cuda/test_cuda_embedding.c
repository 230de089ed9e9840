/* qlora-tools: ISC license. */
/* CUDA vs CPU: embedding gather (ids out of range give zero rows), Gemma's embedding scale and
 * NEFTune noise, all bit-identical; awkward shapes; guard regions. */
#include "kernels/embedding.h"

#include "cuda_check.h"

int main(void)
{
	int shapes[][3] = { { 1, 1, 1 }, { 7, 33, 50 }, { 129, 576, 1000 }, { 1000, 96, 49152 } };
	for (int s = 0; s < 4; s++) {
		int T = shapes[s][0], C = shapes[s][1], V = shapes[s][2];
		size_t n = (size_t)T * C;
		float *table = malloc((size_t)V * C * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
		int32_t *ids = malloc(T * 4);
		struct qt_rng r;
		qt_rng_seed(&r, 100 + s);
		kc_rand(table, (size_t)V * C, 200 + s, 1.0f);
		for (int t = 0; t < T; t++)
			ids[t] = t % 11 == 5 ? (t % 2 ? -1 : V) : (int32_t)qt_rng_below(&r, V);
		embedding_forward(ref, ids, table, T, C, V);
		float mag = neftune_magnitude(5.0, T, C);
		float *noisy = malloc(n * 4);
		memcpy(noisy, ref, n * 4);
		neftune_forward(noisy, n, mag, 0xC0FFEEull + s);
		float *scaled = malloc(n * 4);
		memcpy(scaled, noisy, n * 4);
		embedding_scale(scaled, n, 24.0f);
		char what[64];
		snprintf(what, sizeof what, "embedding T=%d C=%d V=%d", T, C, V);
		if (cc_have_gpu(what)) {
			float *dt = cc_devf(table, (size_t)V * C), *dout = cc_devf(NULL, n);
			int32_t *di = cc_dev(ids, T * 4);
			embedding_forward_cuda(dout, di, dt, T, C, V);
			cc_ok(what);
			cc_get(what, got, dout, n * 4);
			cc_exact(what, got, ref, n * 4);
			neftune_forward_cuda(dout, n, mag, 0xC0FFEEull + s);
			snprintf(what, sizeof what, "neftune n=%zu", n);
			cc_ok(what);
			cc_get(what, got, dout, n * 4);
			cc_exact(what, got, noisy, n * 4);
			embedding_scale_cuda(dout, n, 24.0f);
			snprintf(what, sizeof what, "embedding_scale n=%zu", n);
			cc_ok(what);
			cc_get(what, got, dout, n * 4);
			cc_exact(what, got, scaled, n * 4);
			cuda_free(dt), cuda_free(dout), cuda_free(di);
		}
		free(table), free(ref), free(got), free(ids), free(noisy), free(scaled);
	}
	return test_main_end();
}
