/* qlora-tools: ISC license. */
/* CUDA vs CPU: the decoding linear (kernels/matvec.h), f32 and NF4 weights, each bitsandbytes
 * cast (none, bf16, f16), T = 1, 3 and MATVEC_MAX_T, the aligned fast path (C % 8 == 0) and
 * the general one (odd C), beta 0 on a poisoned output and beta 1; the dequantized weight
 * bit for bit. */
#include "kernels/matvec.h"
#include "kernels/nf4.h"

#include "cuda_check.h"

int main(void)
{
	int shapes[][3] = { { 1, 8, 1 }, { 17, 576, 3 }, { 1536, 576, 1 }, { 5, 33, MATVEC_MAX_T },
	                    { 49, 1536, 4 } };
	for (int s = 0; s < 5; s++) {
		int OC = shapes[s][0], C = shapes[s][1], T = shapes[s][2];
		size_t n = (size_t)OC * C, nx = (size_t)T * C, no = (size_t)T * OC;
		size_t nb = nf4_n_blocks(n, 64);
		float *W = malloc(n * 4), *x = malloc(nx * 4), *o0 = malloc(no * 4), *ref = malloc(no * 4);
		float *ab = malloc(nb * 4), *deq = malloc(n * 4), *g = malloc((n > no ? n : no) * 4);
		float *work = malloc(matvec_nf4_work(C, OC, 1) * 4);
		uint8_t *pk = malloc(nf4_packed_bytes(n));
		kc_rand(W, n, 1 + s, 0.05f);
		kc_rand(x, nx, 2 + s, 1.0f);
		kc_rand(o0, no, 3 + s, 1.0f);
		nf4_quantize(W, n, 64, pk, ab, 1);
		char what[80];
		snprintf(what, sizeof what, "matvec OC=%d C=%d T=%d", OC, C, T);
		int gpu = cc_have_gpu(what);
		float *dW = NULL, *dx = NULL, *dab = NULL, *dcode = NULL;
		uint8_t *dpk = NULL;
		if (gpu)
			dW = cc_devf(W, n), dx = cc_devf(x, nx), dab = cc_devf(ab, nb),
			dcode = cc_devf(nf4_code, 16), dpk = cc_dev(pk, nf4_packed_bytes(n));
		for (int v = 0; v < 8; v++) { /* v: 0/1 beta for f32; 2..7: round_to x beta for NF4 */
			int nf4 = v >= 2, rt = (v - 2) / 2, beta = v & 1;
			memcpy(ref, o0, no * 4);
			if (nf4)
				matvec_nf4_forward(ref, x, pk, ab, nf4_code, 64, rt, T, C, OC, (float)beta, work,
				                   1);
			else
				matvec_forward(ref, x, W, T, C, OC, (float)beta, 1);
			if (!gpu)
				continue;
			float *dout = cc_devf(beta ? o0 : NULL, no);
			if (nf4)
				matvec_nf4_forward_cuda(dout, dx, dpk, dab, dcode, 64, rt, T, C, OC,
				                        (float)beta, NULL, 0);
			else
				matvec_forward_cuda(dout, dx, dW, T, C, OC, (float)beta, 0);
			snprintf(what, sizeof what, "matvec%s rt=%d beta=%d OC=%d C=%d T=%d",
			         nf4 ? " nf4" : "", nf4 ? rt : 0, beta, OC, C, T);
			cc_ok(what);
			cc_get(what, g, dout, no * 4);
			cc_close(what, g, ref, no, 1e-4, 1e-5 * sqrt((double)C), 1e-10);
			cuda_free(dout);
			if (nf4 && beta == 0) {
				float *dd = cc_devf(NULL, n);
				matvec_nf4_dequant(deq, pk, ab, nf4_code, 64, rt, C, OC, 1);
				matvec_nf4_dequant_cuda(dd, dpk, dab, dcode, 64, rt, C, OC, 0);
				cc_ok("matvec_nf4_dequant");
				cc_get("matvec_nf4_dequant", g, dd, n * 4);
				cc_exact("matvec_nf4_dequant", g, deq, n * 4);
				cuda_free(dd);
			}
		}
		if (gpu)
			cuda_free(dW), cuda_free(dx), cuda_free(dab), cuda_free(dcode), cuda_free(dpk);
		free(W), free(x), free(o0), free(ref), free(ab), free(deq), free(g), free(work), free(pk);
	}
	return test_main_end();
}
