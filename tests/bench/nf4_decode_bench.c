/* qlora-tools: ISC license. */
/*
 * The weight-reading part of one decoding step of a Llama-2-7B-shaped model: every linear of
 * L decoder layers (q, k, v, o: 4096 x 4096; gate, up: 11008 x 4096; down: 4096 x 11008) times
 * one token, as
 *   ours:  matvec_nf4_forward (NF4, blocksize 64, f32 absmax, bf16 cast: what gen runs on a
 *          bf16 model quantized by quantize-nf4), on each path the CPU has;
 *   ours with int8 activations: frozen_infer on the same weights marked as gen
 *          --int8-activations marks them (matvec_nf4_q8_forward: different math, its relative
 *          error against the exact path printed), on the best path;
 *   ggml:  ggml_mul_mat on Q4_0 weights of the same shapes (llama.cpp's CPU decode matvec:
 *          the activations quantized to Q8_0, integer dot products), one graph per step,
 *          a persistent threadpool (built with -DWITH_GGML only);
 * side by side, alternating, at the same thread count, and the machine's read bandwidth (a
 * streaming sum over a buffer larger than the caches, same threads). Figures are scaled to 32
 * layers (a 7B token) and are medians of the rounds. Built and run by
 * tests/bench/nf4-decode-bench.sh.
 *   nf4_decode_bench LAYERS THREADS ROUNDS
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pool.h"
#include "common/progress.h"
#include "kernels/matvec.h"
#include "kernels/nf4.h"
#include "kernels/frozen.h"

#ifdef WITH_GGML
#include "ggml-cpu.h"
#include "ggml.h"
#endif

#define N_MODULES 7
static const int OC_[N_MODULES] = { 4096, 4096, 4096, 4096, 11008, 11008, 4096 };
static const int C_[N_MODULES] = { 4096, 4096, 4096, 4096, 4096, 4096, 11008 };

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

/* CPU seconds of the whole process (all threads): less sensitive than wall time to other
 * processes' load, but it counts spinning. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- read bandwidth ---- */

struct bw {
	const uint64_t *p;
	size_t n, parts;
	uint64_t sink[64];
};

__attribute__((target("avx2"))) static void bw_task(void *ctx, size_t i, int worker)
{
	struct bw *b = ctx;
	size_t a = b->n / b->parts * i, e = i + 1 == b->parts ? b->n : b->n / b->parts * (i + 1);
	__m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
	for (size_t k = a; k + 16 <= e; k += 16) {
		const __m256i *p = (const __m256i *)(const void *)(b->p + k);
		s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(p));
		s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(p + 1));
		s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(p + 2));
		s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(p + 3));
	}
	s0 = _mm256_xor_si256(_mm256_xor_si256(s0, s1), _mm256_xor_si256(s2, s3));
	b->sink[worker & 63] += (uint64_t)_mm256_extract_epi64(s0, 0);
}

static double bandwidth(int threads, int rounds)
{
	size_t bytes = (size_t)1 << 30, n = bytes / 8;
	uint64_t *p = malloc(bytes);
	for (size_t i = 0; i < n; i++)
		p[i] = i * 2654435761u;
	struct bw b = { .p = p, .n = n, .parts = (size_t)threads * 8 };
	double best = 0;
	for (int r = 0; r < rounds; r++) {
		double t0 = qt_now();
		qt_pool_for(threads, b.parts, bw_task, &b);
		double gbs = bytes / 1e9 / (qt_now() - t0);
		best = gbs > best ? gbs : best;
	}
	free(p);
	return best;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: nf4_decode_bench LAYERS THREADS ROUNDS\n");
		return 64;
	}
	int L = atoi(argv[1]), th = atoi(argv[2]), rounds = atoi(argv[3]);
	int nw = L * N_MODULES;
	double scale = 32.0 / L;

	/* ours: random codes, block maxima as a bf16 model's */
	uint8_t **packed = calloc((size_t)nw, sizeof *packed);
	float **absmax = calloc((size_t)nw, sizeof *absmax);
	double bytes_ours = 0;
	for (int w = 0; w < nw; w++) {
		size_t n = (size_t)OC_[w % N_MODULES] * C_[w % N_MODULES], nb = nf4_n_blocks(n, 64);
		packed[w] = malloc(n / 2);
		absmax[w] = malloc(nb * 4);
		for (size_t i = 0; i < n / 2; i += 8) {
			uint64_t r = next();
			memcpy(packed[w] + i, &r, 8);
		}
		for (size_t i = 0; i < nb; i++)
			absmax[w][i] = 0.01f + (float)(next() % 1000) * 1e-5f;
		bytes_ours += (double)(n / 2 + nb * 4);
	}
	float *x = malloc(11008 * 4), *out = malloc(11008 * 4);
	float *work = malloc(matvec_nf4_work(11008, 11008, th) * 4);
	for (int i = 0; i < 11008; i++)
		x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;

#ifdef WITH_GGML
	ggml_cpu_init();
	size_t q_bytes = 0;
	for (int w = 0; w < nw; w++)
		q_bytes += ggml_row_size(GGML_TYPE_Q4_0, C_[w % N_MODULES]) * OC_[w % N_MODULES];
	struct ggml_init_params ip = { .mem_size = q_bytes + (size_t)nw * 64 * 1024 + (64u << 20),
	                               .mem_buffer = NULL, .no_alloc = false };
	struct ggml_context *ctx = ggml_init(ip);
	struct ggml_tensor *xs = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 4096);
	struct ggml_tensor *xl = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 11008);
	memcpy(xs->data, x, 4096 * 4);
	memcpy(xl->data, x, 11008 * 4);
	struct ggml_cgraph *gf = ggml_new_graph_custom(ctx, (size_t)nw * 2 + 16, false);
	for (int w = 0; w < nw; w++) {
		int C = C_[w % N_MODULES], OC = OC_[w % N_MODULES];
		struct ggml_tensor *W = ggml_new_tensor_2d(ctx, GGML_TYPE_Q4_0, C, OC);
		uint8_t *d = W->data;
		size_t nblk = ggml_nbytes(W) / 18;
		for (size_t i = 0; i < nblk; i++) { /* block_q4_0: f16 scale, 16 bytes of codes */
			uint16_t scale = 0x2000 + (uint16_t)(next() % 512);
			memcpy(d + 18 * i, &scale, 2);
			for (int k = 0; k < 16; k += 8) {
				uint64_t r = next();
				memcpy(d + 18 * i + 2 + k, &r, 8);
			}
		}
		ggml_build_forward_expand(gf, ggml_mul_mat(ctx, W, C == 4096 ? xs : xl));
	}
	struct ggml_threadpool_params tpp = ggml_threadpool_params_default(th);
	struct ggml_threadpool *tp = ggml_threadpool_new(&tpp);
	struct ggml_cplan plan = ggml_graph_plan(gf, th, tp);
	plan.work_data = malloc(plan.work_size + 1);
	double *t_gg = malloc((size_t)rounds * sizeof(double));
	double *c_gg = malloc((size_t)rounds * sizeof(double));
#endif

	int best = (int)matvec_nf4_path_best();
	double *t_ours[3], *c_ours[3];
	for (int p = 0; p <= best; p++) {
		t_ours[p] = malloc((size_t)rounds * sizeof(double));
		c_ours[p] = malloc((size_t)rounds * sizeof(double));
	}
	/* int8 activations through gen's own path (frozen_infer on weights marked int8_act): its
	 * error against our exact path on each shape, then timed */
	struct frozen_linear *q8w = calloc((size_t)nw, sizeof *q8w);
	for (int w = 0; w < nw; w++)
		q8w[w] = (struct frozen_linear){ .OC = OC_[w % N_MODULES], .C = C_[w % N_MODULES],
		                                 .nf4 = packed[w], .absmax = absmax[w],
		                                 .code = nf4_code, .blocksize = 64,
		                                 .deq_dtype = QT_DTYPE_BF16, .int8_act = 1 };
	float *out8 = malloc(11008 * 4);
	double err = 0;
	for (int w = 0; w < N_MODULES; w++) {
		int OC = OC_[w];
		matvec_nf4_forward(out, x, packed[w], absmax[w], nf4_code, 64, 1, 1, C_[w], OC, 0.0f,
		                   work, th);
		frozen_infer(out8, x, &q8w[w], 1, 0.0f, work, th);
		double num = 0, den = 0;
		for (int o = 0; o < OC; o++)
			num += ((double)out8[o] - out[o]) * ((double)out8[o] - out[o]),
			den += (double)out[o] * out[o];
		err = fmax(err, sqrt(num / den));
	}
	double *t_q8 = malloc((size_t)rounds * sizeof(double));
	double bw = bandwidth(th, 3);
	for (int r = -1; r < rounds; r++) { /* round -1 warms up */
		for (int p = best; p >= 0; p--) {
			if (p == 0 && r > 1)
				continue; /* the reference is slow: 2 rounds */
			matvec_nf4_path_limit((enum matvec_nf4_path)p);
			double t0 = qt_now(), c0 = cpu_now();
			for (int w = 0; w < nw; w++)
				matvec_nf4_forward(out, x, packed[w], absmax[w],
				                   nf4_code, 64, 1, 1, C_[w % N_MODULES], OC_[w % N_MODULES],
				                   0.0f, work, th);
			if (r >= 0) {
				t_ours[p][r] = (qt_now() - t0) * scale;
				c_ours[p][r] = (cpu_now() - c0) * scale;
			}
		}
		double tq = qt_now();
		matvec_nf4_path_limit((enum matvec_nf4_path)best);
		for (int w = 0; w < nw; w++)
			frozen_infer(out8, x, &q8w[w], 1, 0.0f, work, th);
		if (r >= 0)
			t_q8[r] = (qt_now() - tq) * scale;
#ifdef WITH_GGML
		ggml_threadpool_resume(tp); /* polling again, as between llama.cpp's tokens */
		double t0 = qt_now(), c0 = cpu_now();
		ggml_graph_compute(gf, &plan);
		if (r >= 0) {
			t_gg[r] = (qt_now() - t0) * scale;
			c_gg[r] = (cpu_now() - c0) * scale;
		}
		/* ggml's workers poll for the next graph after one ends (the default poll 50:
		 * 6.5M pause loops, a tenth of a second or more on Zen 3) on the cores our next
		 * timing needs, and that spinning counted in our process CPU time: to sleep now. */
		ggml_threadpool_pause(tp);
#endif
	}
	static const char *const names[] = { "reference (row dequantized, then dot)",
		"AVX2 (NF4 in registers)", "AVX-512 (NF4 in registers)" };
	printf("7B decode step, weights only (%d layers timed, scaled to 32), %d threads, "
	       "median of %d rounds\n", L, th, rounds);
	printf("  read bandwidth (streaming sum, 1 GiB): %.1f GB/s\n", bw);
	printf("  ours NF4 bytes per token: %.2f GB; bound %.2f tokens/s\n", bytes_ours * scale / 1e9,
	       bw * 1e9 / (bytes_ours * scale));
	double med_best = 0, cpu_best = 0;
	for (int p = best; p >= 0; p--) {
		int nr = p == 0 ? (rounds < 2 ? rounds : 2) : rounds;
		qsort(t_ours[p], (size_t)nr, sizeof(double), cmp_d);
		qsort(c_ours[p], (size_t)nr, sizeof(double), cmp_d);
		double m = t_ours[p][nr / 2];
		if (p == best)
			med_best = m, cpu_best = c_ours[p][nr / 2];
		printf("  ours %-38s %8.3f s/token %7.2f tokens/s %5.1f%% of bandwidth bound, "
		       "CPU %.3f s/token\n", names[p], m, 1 / m, 100 * bytes_ours * scale / 1e9 / m / bw,
		       c_ours[p][nr / 2]);
	}
	qsort(t_q8, (size_t)rounds, sizeof(double), cmp_d);
	printf("  ours int8 activations (gen --int8-activations)  %8.3f s/token "
	       "%7.2f tokens/s %5.1f%% of bandwidth bound; relative RMS error vs exact %.2g\n",
	       t_q8[rounds / 2], 1 / t_q8[rounds / 2],
	       100 * bytes_ours * scale / 1e9 / t_q8[rounds / 2] / bw, err);
#ifdef WITH_GGML
	qsort(t_gg, (size_t)rounds, sizeof(double), cmp_d);
	qsort(c_gg, (size_t)rounds, sizeof(double), cmp_d);
	double g = t_gg[rounds / 2];
	printf("  ggml Q4_0 mul_mat (%.2f GB/token)            %8.3f s/token %7.2f tokens/s %5.1f%% "
	       "of bandwidth bound, CPU %.3f s/token\n", q_bytes * scale / 1e9, g, 1 / g,
	       100 * q_bytes * scale / 1e9 / g / bw, c_gg[rounds / 2]);
	printf("  ratio ours (best path) / ggml: tokens/s %.2fx, CPU time %.2fx\n", g / med_best,
	       c_gg[rounds / 2] / cpu_best);
	printf("  ratio ours int8 activations / ggml: tokens/s %.2fx\n", g / t_q8[rounds / 2]);
#else
	(void)med_best, (void)cpu_best;
	printf("  ggml: not built (set LLAMACPP_SRC for tests/bench/nf4-decode-bench.sh)\n");
#endif
	return 0;
}
