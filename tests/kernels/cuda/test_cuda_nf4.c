/* qlora-tools: ISC license. */
/* CUDA vs CPU: NF4 dequantization to f32 and bf16 (bit-identical), double-quant absmax
 * (bit-identical), and the bf16 NF4 linear (cuBLAS GemmEx, fp32 accumulation) against the CPU
 * loops on the same bf16-rounded operands (tight) and on f32 operands (bf16 error level). */
#include "kernels/matmul.h"
#include "kernels/nf4.h"

#include "common/half.h"
#include "cuda_check.h"

static void bf16_round(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = qt_bf16_to_f32(qt_f32_to_bf16(x[i]));
}

int main(void)
{
	/* OC, C, blocksize, T: odd element counts, partial last block, LoRA-sized T */
	int shapes[][4] = { { 1, 3, 64, 1 }, { 17, 33, 64, 5 }, { 576, 576, 64, 129 },
	                    { 1536, 576, 128, 64 } };
	for (int s = 0; s < 4; s++) {
		int OC = shapes[s][0], C = shapes[s][1], bs = shapes[s][2], T = shapes[s][3];
		size_t n = (size_t)OC * C, nb = nf4_n_blocks(n, bs), nbytes = nf4_packed_bytes(n);
		float *w = malloc(n * 4), *ab = malloc(nb * 4), *deq = malloc(n * 4), *g = malloc(n * 4);
		uint8_t *pk = malloc(nbytes);
		uint16_t *bref = malloc(n * 2), *bgot = malloc(n * 2);
		kc_rand(w, n, 1 + s, 0.05f);
		nf4_quantize(w, n, bs, pk, ab, 1);
		nf4_dequantize(pk, ab, nf4_code, bs, n, deq);
		for (size_t i = 0; i < n; i++)
			bref[i] = qt_f32_to_bf16(deq[i]);
		/* double quantization of absmax */
		size_t ng = nf4_n_blocks(nb, NF4_NESTED_BLOCKSIZE);
		uint8_t *qa = malloc(nb);
		float *na = malloc(ng * 4), *ab2 = malloc(nb * 4), off = nf4_absmax_mean(ab, nb);
		nf4_double_quant(ab, nb, off, nf4_dynamic_map, NF4_NESTED_BLOCKSIZE, qa, na);
		nf4_double_dequant(qa, nb, na, nf4_dynamic_map, NF4_NESTED_BLOCKSIZE, off, ab2);
		/* linear references */
		size_t nx = (size_t)T * C, no = (size_t)T * OC;
		float *x = malloc(nx * 4), *xb = malloc(nx * 4), *wb = malloc(n * 4);
		float *y = malloc(no * 4), *yf = malloc(no * 4), *dy = malloc(no * 4), *dyb = malloc(no * 4);
		float *dx = calloc(nx, 4), *gy = malloc((no > nx ? no : nx) * 4);
		kc_rand(x, nx, 10 + s, 1.0f);
		kc_rand(dy, no, 11 + s, 1.0f);
		memcpy(xb, x, nx * 4), bf16_round(xb, nx);
		memcpy(wb, deq, n * 4), bf16_round(wb, n);
		memcpy(dyb, dy, no * 4), bf16_round(dyb, no);
		linear_forward(y, xb, wb, NULL, T, C, OC, 0.5f, 0.0f);
		linear_forward(yf, x, deq, NULL, T, C, OC, 0.5f, 0.0f);
		linear_backward_x(dx, dyb, wb, T, C, OC, 2.0f);
		char what[64];
		snprintf(what, sizeof what, "nf4 OC=%d C=%d bs=%d", OC, C, bs);
		if (cc_have_gpu(what)) {
			uint8_t *dpk = cc_dev(pk, nbytes), *dqa = cc_dev(qa, nb);
			float *dab = cc_devf(ab, nb), *dcode = cc_devf(nf4_code, 16), *dout = cc_devf(NULL, n);
			float *dmap = cc_devf(nf4_dynamic_map, 256), *dna = cc_devf(na, ng);
			float *dab2 = cc_devf(NULL, nb);
			uint16_t *dbf = cc_dev(NULL, n * 2);
			nf4_dequantize_cuda(dpk, dab, dcode, bs, n, dout);
			nf4_dequantize_bf16_cuda(dpk, dab, dcode, bs, n, dbf);
			nf4_double_dequant_cuda(dqa, nb, dna, dmap, NF4_NESTED_BLOCKSIZE, off, dab2);
			cc_ok(what);
			cc_get(what, g, dout, n * 4);
			cc_exact(what, g, deq, n * 4);
			cc_get("nf4 bf16", bgot, dbf, n * 2);
			cc_exact("nf4 dequant bf16", bgot, bref, n * 2);
			cc_get("nf4 double dequant", g, dab2, nb * 4);
			cc_exact("nf4 double dequant", g, ab2, nb * 4);
			/* the bf16 linear */
			size_t sb = nf4_linear_scratch_cuda(T, C, OC);
			void *scr = cuda_malloc(sb);
			float *dx_ = cc_devf(x, nx), *dy_ = cc_devf(NULL, no), *ddy = cc_devf(dy, no);
			float *ddx = cc_devf(NULL, nx);
			cuda_memset(ddx, 0, nx * 4);
			nf4_linear_forward_cuda(dy_, dx_, dpk, dab, dcode, bs, T, C, OC, 0.5f, 0.0f, scr);
			nf4_linear_backward_x_cuda(ddx, ddy, dpk, dab, dcode, bs, T, C, OC, 2.0f, scr);
			cc_ok("nf4 linear");
			double tk = 2e-5 * sqrt((double)C);
			cc_get("nf4 linear", gy, dy_, no * 4);
			cc_close("nf4 linear fwd vs bf16 ref", gy, y, no, 1e-3, tk, 1e-9);
			cc_close("nf4 linear fwd vs f32 ref", gy, yf, no, 5e-2, 2e-2, 1e-4);
			cc_get("nf4 linear bwd", gy, ddx, nx * 4);
			cc_close("nf4 linear bwd_x vs bf16 ref", gy, dx, nx, 1e-3, 2e-5 * sqrt((double)OC),
			         1e-9);
			cuda_free(scr), cuda_free(dx_), cuda_free(dy_), cuda_free(ddy), cuda_free(ddx);
			cuda_free(dpk), cuda_free(dqa), cuda_free(dab), cuda_free(dcode), cuda_free(dout);
			cuda_free(dmap), cuda_free(dna), cuda_free(dab2), cuda_free(dbf);
		}
		free(w), free(ab), free(deq), free(g), free(pk), free(bref), free(bgot), free(qa);
		free(na), free(ab2), free(x), free(xb), free(wb), free(y), free(yf), free(dy);
		free(dyb), free(dx), free(gy);
	}
	return test_main_end();
}
