/* qlora-tools: ISC license. */
/*
 * NEVER RUN: written on a machine without a GPU (issue 10); no figure from it exists yet.
 * Helper of tests/bench/cuda-train-bench.sh, not part of `make test`. Modes:
 *   gemm                     the card's bf16 GEMM rate (cublasGemmEx, bf16 in, fp32 accumulate,
 *                            M = N = K = 8192, median of 20) and device-to-device copy
 *                            bandwidth (1 GiB, read + write bytes): "gemm_tflops X" / "bw_gbs X"
 *   decode SHAPE N           batch-1 decode of N tokens with llama_decode over the CUDA backend table on the same
 *                            random NF4 model (matvec path): "tokens_s X" and "weight_gbs X"
 *                            (NF4 codes + absmax + the f32 LM head read per token, times tokens/s)
 *   train SHAPE T STEPS      QLoRA training steps of llama_train_block over the CUDA table on a random model
 *                            (NF4 base, blocksize 64; LoRA r16 alpha 32 all-linear; checkpointing;
 *                            AdamW + clipping on the device), one block of T tokens per step:
 *                            "tokens_s X", "model_tflops_per_token X", "peak_mib X"
 * SHAPE: smollm2-135m (C 576, H 1536, 30 layers, NH 9, NKV 3, V 49152, tied) or llama-1b
 * (Llama-3.2-1B: C 2048, H 8192, 16 layers, NH 32, NKV 8, V 128256, tied).
 * Model FLOPs per trained token (frozen base, so no weight gradients; recomputation not
 * counted): 4 * N_linear (forward + backward to the input) + 6 * N_lora + 6 * n_layer * T * NH
 * * HD (causal attention: QK^T and PV forward 2 * T/2 * 2 each, backward twice the forward)
 * + 4 * V * C (LM head forward + backward to the input). The same formula is used for the peer.
 */
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "kernels/adamw.h"
#include "kernels/cuda/cuda.h"
#include "kernels/backend.h"
#include "kernels/model/llama_train.h"
#include "kernels/nf4.h"
#include "kernels/rope.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpf(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static int gemm(void)
{
	int n = 8192, reps = 20;
	size_t e = (size_t)n * n;
	void *A, *B, *Cm, *big, *big2;
	cublasHandle_t h;
	if (cudaMalloc(&A, e * 2) || cudaMalloc(&B, e * 2) || cudaMalloc(&Cm, e * 4) ||
	    cublasCreate(&h)) {
		fprintf(stderr, "cuda_train_bench: allocation failed\n");
		return 1;
	}
	/* random bf16 bits in a sane range (never zeros: they run faster than real data) */
	uint16_t *hb = malloc(e * 2);
	struct qt_rng r;
	qt_rng_seed(&r, 1);
	for (size_t i = 0; i < e; i++)
		hb[i] = (uint16_t)(0x3C00 + qt_rng_below(&r, 0x0400)) | (qt_rng_below(&r, 2) << 15);
	cudaMemcpy(A, hb, e * 2, cudaMemcpyHostToDevice);
	cudaMemcpy(B, hb, e * 2, cudaMemcpyHostToDevice);
	free(hb);
	float one = 1, zero = 0, ms[64];
	cudaEvent_t t0, t1;
	cudaEventCreate(&t0);
	cudaEventCreate(&t1);
	for (int i = 0; i < reps + 3; i++) {
		cudaEventRecord(t0, 0);
		cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_16BF, n, B,
		             CUDA_R_16BF, n, &zero, Cm, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
		             CUBLAS_GEMM_DEFAULT);
		cudaEventRecord(t1, 0);
		cudaEventSynchronize(t1);
		if (i >= 3)
			cudaEventElapsedTime(&ms[i - 3], t0, t1);
	}
	qsort(ms, reps, sizeof *ms, cmpf);
	printf("gemm_tflops %.1f\n", 2.0 * n * n * (double)n / (ms[reps / 2] * 1e-3) / 1e12);
	size_t bytes = (size_t)1 << 30;
	if (cudaMalloc(&big, bytes) || cudaMalloc(&big2, bytes))
		return 1;
	cudaMemset(big, 1, bytes);
	for (int i = 0; i < reps + 3; i++) {
		cudaEventRecord(t0, 0);
		cudaMemcpy(big2, big, bytes, cudaMemcpyDeviceToDevice);
		cudaEventRecord(t1, 0);
		cudaEventSynchronize(t1);
		if (i >= 3)
			cudaEventElapsedTime(&ms[i - 3], t0, t1);
	}
	qsort(ms, reps, sizeof *ms, cmpf);
	printf("bw_gbs %.0f\n", 2.0 * bytes / (ms[reps / 2] * 1e-3) / 1e9);
	cudaError_t err = cudaGetLastError();
	if (err != cudaSuccess)
		fprintf(stderr, "cuda_train_bench: %s\n", cudaGetErrorString(err));
	return err != cudaSuccess;
}

/* ---- a random NF4 model in host memory ---- */

static float *rnd(size_t n, float scale, struct qt_rng *r)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(qt_rng_double(r) * 2 - 1) * scale;
	return x;
}

static void nf4_linear(struct frozen_linear *l, int OC, int C, struct qt_rng *r)
{
	size_t n = (size_t)OC * C;
	float *w = rnd(n, 0.02f, r);
	l->OC = OC, l->C = C, l->w = NULL, l->blocksize = 64, l->code = nf4_code;
	l->deq_dtype = QT_DTYPE_BF16;
	uint8_t *pk = malloc(nf4_packed_bytes(n));
	float *ab = malloc(nf4_n_blocks(n, 64) * sizeof *ab);
	nf4_quantize(w, n, 64, pk, ab, 16);
	l->nf4 = pk, l->absmax = ab;
	free(w);
}

/* A random NF4 model of the named shape; returns 0, or 64 for an unknown shape. n_lin: base
 * linear weights; bytes: what one decoded token reads of them (codes + absmax) and of the
 * f32 LM head. */
static int build(struct llama_model *mp, const char *shape, double *n_lin_out, double *bytes)
{
	struct llama_config c;
	if (strcmp(shape, "smollm2-135m") == 0)
		c = (struct llama_config){ .n_layer = 30, .C = 576, .H = 1536, .NH = 9, .NKV = 3,
		                           .HD = 64, .V = 49152, .eps = 1e-5f };
	else if (strcmp(shape, "llama-1b") == 0)
		c = (struct llama_config){ .n_layer = 16, .C = 2048, .H = 8192, .NH = 32, .NKV = 8,
		                           .HD = 64, .V = 128256, .eps = 1e-5f };
	else {
		fprintf(stderr, "cuda_train_bench: unknown shape %s\n", shape);
		return 64;
	}
	struct qt_rng r;
	qt_rng_seed(&r, 7);
	struct llama_model m;
	memset(&m, 0, sizeof m);
	*bytes = 4.0 * c.V * c.C;
	m.cfg = c;
	m.embed = rnd((size_t)c.V * c.C, 0.02f, &r);
	m.final_norm = rnd((size_t)c.C, 1.0f, &r);
	m.lm_head.w = m.embed, m.lm_head.OC = c.V, m.lm_head.C = c.C;
	m.layers = calloc((size_t)c.n_layer, sizeof *m.layers);
	int QD = c.NH * c.HD, KD = c.NKV * c.HD;
	int oc[7] = { QD, KD, KD, c.C, c.H, c.H, c.C }, in[7] = { c.C, c.C, c.C, QD, c.C, c.C, c.H };
	double n_lin = 0;
	for (int l = 0; l < c.n_layer; l++) {
		m.layers[l].attn_norm = rnd((size_t)c.C, 1.0f, &r);
		m.layers[l].mlp_norm = rnd((size_t)c.C, 1.0f, &r);
		for (int k = 0; k < 7; k++) {
			nf4_linear(&m.layers[l].lin[k], oc[k], in[k], &r);
			n_lin += (double)oc[k] * in[k];
			*bytes += (double)oc[k] * in[k] / 2 + (double)oc[k] * in[k] / 64 * 4;
		}
	}
	m.inv_freq = malloc(sizeof(float) * (size_t)c.HD / 2);
	rope_inv_freq(m.inv_freq, c.HD, 500000.0, NULL);
	*mp = m;
	*n_lin_out = n_lin;
	return 0;
}

static int train(const char *shape, int T, int steps)
{
	struct llama_model m;
	double n_lin, wbytes;
	if (build(&m, shape, &n_lin, &wbytes))
		return 64;
	struct llama_config c = m.cfg;
	struct qt_rng r;
	qt_rng_seed(&r, 8);
	struct qt_err err = { 0 };
	const char *js = "{\"peft_type\":\"LORA\",\"r\":16,\"lora_alpha\":32,\"target_modules\":"
	                 "\"all-linear\"}";
	struct adapter_config cfg;
	struct adapter a;
	struct adapter_dims dims = llama_adapter_dims(&c);
	if (adapter_config_parse(&cfg, js, strlen(js), "bench", &err) ||
	    adapter_init(&a, &cfg, &dims, &err)) {
		fprintf(stderr, "cuda_train_bench: %s\n", err.msg);
		return 70;
	}
	double n_lora = 0;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *lo = &a.lora[i];
		for (int k = 0; k < lo->r * lo->in; k++)
			lo->A[k] = (float)(qt_rng_double(&r) - 0.5) * 0.02f;
		n_lora += (double)lo->r * (lo->in + lo->out);
	}
	const struct qt_backend *be = &qt_backend_cuda;
	struct llama_model dm;
	struct lora_table dl, dg, d1, d2;
	struct llama_train_ws *ws = NULL;
	if (llama_model_upload(&dm, &m, be, &err) == QT_OK &&
	    lora_table_upload(&dl, ADAPTER_TABLE(&a), be, 0, &err) == QT_OK &&
	    lora_table_upload(&dg, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK &&
	    lora_table_upload(&d1, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK &&
	    lora_table_upload(&d2, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK)
		ws = llama_train_ws_new(&dm, T, 16, 1);
	int nt = ws ? lora_table_tensors(&dl, NULL, NULL, 0) : 0;
	float **tp = calloc((size_t)nt * 4 + 1, sizeof *tp), **tgr = tp + nt, **t1 = tgr + nt,
	      **t2 = t1 + nt;
	size_t *len = calloc((size_t)nt + 1, sizeof *len);
	double *dsum = ws ? be->alloc(sizeof(double)) : NULL;
	if (!ws || !tp || !len || !dsum) {
		fprintf(stderr, "cuda_train_bench: %s\n", err.msg);
		return 70;
	}
	lora_table_tensors(&dl, tp, len, nt);
	lora_table_tensors(&dg, tgr, len, nt);
	lora_table_tensors(&d1, t1, len, nt);
	lora_table_tensors(&d2, t2, len, nt);
	int32_t *ids = malloc(sizeof(int32_t) * 4 * (size_t)T), *pos = ids + T, *seg = pos + T,
	        *tg = seg + T;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)qt_rng_below(&r, (uint64_t)c.V);
		pos[t] = t, seg[t] = 1;
	}
	for (int t = 0; t < T; t++)
		tg[t] = t + 1 < T ? ids[t + 1] : -1;
	double t0 = 0, loss = 0;
	size_t peak = 0, fr, tot;
	for (int s = 0; s <= steps; s++) {
		if (s == 1) /* step 0 is warm-up */
			t0 = now();
		for (int k = 0; k < nt; k++)
			be->zero(tgr[k], len[k] * sizeof(float));
		if (llama_train_block(&dm, &dl, &dg, ws, ids, pos, seg, tg, T, 1.0f / (T - 1), 0, 0,
		                      NULL, &loss, &err)) {
			fprintf(stderr, "cuda_train_bench: %s\n", err.msg);
			return 70;
		}
		double ss = 0;
		be->zero(dsum, sizeof(double));
		for (int k = 0; k < nt; k++)
			be->grad_sumsq(dsum, tgr[k], len[k]);
		be->download(&ss, dsum, sizeof ss);
		float coef = grad_clip_coef(ss, 1.0, NULL);
		struct adamw_hparams h;
		adamw_hparams_init(&h, 2e-4, 0.9, 0.999, 1e-8, 0.0, s + 1);
		for (int k = 0; k < nt; k++) {
			if (coef < 1.0f)
				be->grad_scale(tgr[k], len[k], coef);
			be->adamw_step(tp[k], tgr[k], t1[k], t2[k], len[k], &h);
		}
		if (cuda_sync()) {
			fprintf(stderr, "cuda_train_bench: %s\n", cuda_error());
			return 70;
		}
		cudaMemGetInfo(&fr, &tot);
		peak = tot - fr > peak ? tot - fr : peak;
	}
	double el = now() - t0, tps = (double)T * steps / el;
	double flops = 4 * n_lin + 6 * n_lora + 6.0 * c.n_layer * T * c.NH * c.HD +
	               4.0 * c.V * c.C;
	printf("tokens_s %.1f\nmodel_tflops_per_token %.6g\npeak_mib %.0f\n", tps, flops / 1e12,
	       peak / 1048576.0);
	printf("mfu_tflops %.2f\n", tps * flops / 1e12);
	return 0;
}

/* Batch-1 greedy-shaped decode: a 4-token prompt, then n steps of one token (the argmax is
 * not needed for speed: the same token is fed back). */
static int decode(const char *shape, int n)
{
	struct llama_model m;
	double n_lin, wbytes;
	if (build(&m, shape, &n_lin, &wbytes))
		return 64;
	struct qt_err err = { 0 };
	struct llama_model dm;
	struct llama_cache kc;
	float *logits = malloc(sizeof(float) * (size_t)m.cfg.V);
	int32_t ids[4] = { 1, 2, 3, 4 };
	if (llama_model_upload(&dm, &m, &qt_backend_cuda, &err) ||
	    llama_cache_init(&kc, &dm, 1, n + 8, &err) ||
	    llama_decode(&dm, NULL, &kc, ids, 1, 4, logits, &err)) {
		fprintf(stderr, "cuda_train_bench: %s\n", err.msg);
		return 70;
	}
	double t0 = now();
	for (int i = 0; i < n; i++)
		if (llama_decode(&dm, NULL, &kc, ids, 1, 1, logits, &err)) {
			fprintf(stderr, "cuda_train_bench: %s\n", err.msg);
			return 70;
		}
	double tps = n / (now() - t0);
	printf("tokens_s %.1f\nweight_gbs %.0f\n", tps, tps * wbytes / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "gemm") == 0)
		return gemm();
	if (argc >= 4 && strcmp(argv[1], "decode") == 0)
		return decode(argv[2], atoi(argv[3]));
	if (argc >= 5 && strcmp(argv[1], "train") == 0)
		return train(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: cuda_train_bench gemm | train SHAPE T STEPS | decode SHAPE N\n");
	return 64;
}
