/* qlora-tools: ISC license. */
/* CUDA vs CPU: column split and join of fused projections (Phi-3's q|k|v, gate|up): copies,
 * bit-identical. */
#include "kernels/columns.h"

#include "cuda_check.h"

int main(void)
{
	enum { T = 37, N = 3 };
	int w[N] = { 96, 32, 33 }, W = 96 + 32 + 33;
	float *src = malloc(sizeof(float) * T * W), *part[N], *back = malloc(sizeof(float) * T * W);
	kc_rand(src, (size_t)T * W, 7, 1.0f);
	for (int i = 0; i < N; i++)
		part[i] = malloc(sizeof(float) * T * w[i]);
	columns_split(part, src, T, w, N);
	columns_join(back, (const float *const *)part, T, w, N);
	CHECK(memcmp(back, src, sizeof(float) * T * W) == 0, "cpu split + join is not the identity");
	if (cc_have_gpu("columns")) {
		float *dsrc = cc_devf(src, (size_t)T * W), *dback = cc_devf(NULL, (size_t)T * W);
		float *dpart[N], *got = malloc(sizeof(float) * T * W);
		for (int i = 0; i < N; i++)
			dpart[i] = cc_devf(NULL, (size_t)T * w[i]);
		columns_split_cuda(dpart, dsrc, T, w, N);
		columns_join_cuda(dback, (const float *const *)dpart, T, w, N);
		cc_ok("columns");
		for (int i = 0; i < N; i++) {
			cc_get("columns split", got, dpart[i], sizeof(float) * T * w[i]);
			cc_exact("columns split", got, part[i], sizeof(float) * T * w[i]);
			cuda_free(dpart[i]);
		}
		cc_get("columns join", got, dback, sizeof(float) * T * W);
		cc_exact("columns join", got, src, sizeof(float) * T * W);
		cuda_free(dsrc), cuda_free(dback);
		free(got);
	}
	for (int i = 0; i < N; i++)
		free(part[i]);
	free(src), free(back);
	return test_main_end();
}
