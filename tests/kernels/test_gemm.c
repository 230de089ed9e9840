/* qlora-tools: ISC license. */
/*
 * kernels/gemm.h: the tiled SGEMM against a plain double-precision loop, for every transpose
 * combination, beta 0 / 1 / other, strides wider than the matrix and row and column counts
 * that do not divide into the tiles; and bit-identical results at 1, 2, 3 and 7 threads.
 * sgemm_rm_fill (B made a column tile at a time) equal to sgemm_rm bit for bit.
 * The thread check runs again, in child processes, under every OpenBLAS core type this CPU can
 * execute (OPENBLAS_CORETYPE=Haswell on AVX2, SkylakeX on AVX-512): an AVX2 machine's
 * kernels gave 2 and 3 threads different bits when the tiles followed the thread count.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/gemm.h"
#include "kernels/kcheck.h"
#include "test.h"

/* element (i, j) of op(X) for a row-major X with row stride ld */
static float at(const float *X, int trans, int ld, int i, int j)
{
	return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

static char cpu_model[128] = "unknown CPU";

static void read_cpu_model(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "model name", 10) == 0) {
			char *v = strchr(line, ':');
			if (v) {
				snprintf(cpu_model, sizeof cpu_model, "%s", v + 2);
				cpu_model[strcspn(cpu_model, "\n")] = 0;
			}
			break;
		}
	if (f)
		fclose(f);
}

static void one(int ta, int tb, int M, int N, int K, float beta, uint64_t seed)
{
	int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
	size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
	       nc = (size_t)M * ldc;
	float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
	float *C0 = malloc(nc * sizeof *C0), *C = malloc(nc * sizeof *C);
	float *ref = malloc(nc * sizeof *ref);
	kc_rand(A, na, seed, 1.0f);
	kc_rand(B, nb, seed + 1, 1.0f);
	kc_rand(C0, nc, seed + 2, 1.0f);
	if (beta == 0) /* never read (linear_forward_fast does not clear it first) */
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++)
				C0[(size_t)i * ldc + j] = NAN;
	float alpha = 0.75f;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < ldc; j++) {
			size_t o = (size_t)i * ldc + j;
			if (j >= N) {
				ref[o] = C0[o];  /* the stride's padding is never written */
				continue;
			}
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)at(A, ta, lda, i, k) * at(B, tb, ldb, k, j);
			ref[o] = (float)(alpha * s + (beta == 0 ? 0 : (double)beta * C0[o]));
		}
	float *first = malloc(nc * sizeof *first);
	int threads[] = { 1, 2, 3, 7 };
	for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
		memcpy(C, C0, nc * sizeof *C);
		sgemm_set_threads(threads[t]);
		sgemm_rm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		double worst = 0;
		for (size_t o = 0; o < nc; o++) {
			double e = fabs((double)C[o] - ref[o]) / (1 + fabs((double)ref[o]));
			worst = e > worst ? e : worst;
		}
		CHECK(worst < 1e-5, "ta %d tb %d %dx%dx%d beta %g threads %d: error %g", ta, tb, M, N,
		      K, beta, threads[t], worst);
		if (t == 0)
			memcpy(first, C, nc * sizeof *C);
		else
			CHECK(memcmp(first, C, nc * sizeof *C) == 0,
			      "ta %d tb %d %dx%dx%d: %d threads differ from 1 (CPU %s, OpenBLAS core %s)", ta,
			      tb, M, N, K, threads[t], cpu_model, openblas_get_corename());
	}
	sgemm_set_threads(0);
	free(A), free(B), free(C0), free(C), free(ref), free(first);
}

/* sgemm_rm_fill's fill from a plain B (row stride ld). */
struct plain_b {
	const float *B;
	int tb, K, ld;
};

static void fill_plain(void *ctx, int j0, int n, float *buf)
{
	const struct plain_b *p = ctx;
	if (p->tb)
		for (int j = 0; j < n; j++)
			memcpy(buf + (size_t)j * p->K, p->B + (size_t)(j0 + j) * p->ld, p->K * sizeof *buf);
	else
		for (int k = 0; k < p->K; k++)
			memcpy(buf + (size_t)k * n, p->B + (size_t)k * p->ld + j0, n * sizeof *buf);
}

/* sgemm_rm_fill = sgemm_rm bit for bit, at any thread count. */
static void one_fill(int ta, int tb, int M, int N, int K, float beta, uint64_t seed)
{
	int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
	size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
	       nc = (size_t)M * ldc;
	float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
	float *C0 = malloc(nc * sizeof *C0), *C = malloc(nc * sizeof *C), *F = malloc(nc * sizeof *F);
	kc_rand(A, na, seed, 1.0f);
	kc_rand(B, nb, seed + 1, 1.0f);
	kc_rand(C0, nc, seed + 2, 1.0f);
	struct plain_b pb = { B, tb, K, ldb };
	int threads[] = { 1, 2, 3, 7 };
	for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
		sgemm_set_threads(threads[t]);
		memcpy(C, C0, nc * sizeof *C);
		memcpy(F, C0, nc * sizeof *F);
		sgemm_rm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C, ldc);
		int rc = sgemm_rm_fill(ta, tb, M, N, K, 0.75f, A, lda, fill_plain, &pb, beta, F, ldc);
		CHECK(rc == 0 && memcmp(C, F, nc * sizeof *C) == 0,
		      "fill: ta %d tb %d %dx%dx%d beta %g threads %d: differs from sgemm_rm (CPU %s, "
		      "OpenBLAS core %s)", ta, tb, M, N, K, beta, threads[t], cpu_model,
		      openblas_get_corename());
	}
	sgemm_set_threads(0);
	free(A), free(B), free(C0), free(C), free(F);
}

/* Runs this test again with OPENBLAS_CORETYPE=core (read by OpenBLAS when it loads, so only a
 * new process can change it); returns its exit status. */
static int rerun(const char *self, const char *core)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("OPENBLAS_CORETYPE", core, 1);
		setenv("QT_TEST_GEMM_CHILD", "1", 1);
		execl(self, self, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	read_cpu_model();
	if (!getenv("QT_TEST_GEMM_CHILD")) {
		__builtin_cpu_init();
		const char *cores[3];
		int n = 0;
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			cores[n++] = "Haswell";
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
			cores[n++] = "SkylakeX";
		for (int i = 0; i < n; i++) {
			int rc = rerun(argv[0], cores[i]);
			CHECK(rc == 0, "under OPENBLAS_CORETYPE=%s (CPU %s): exit %d", cores[i], cpu_model, rc);
		}
	}
	/* sizes under and over the tiling thresholds; N = 1, 17, 577 leave ragged tiles; 600 x 700
	 * is cut into a 2 x 3 grid whose last row and column of tiles are narrower */
	int shapes[][3] = { { 3, 5, 7 }, { 64, 17, 64 }, { 130, 577, 96 }, { 200, 1, 300 },
	                    { 96, 300, 150 }, { 600, 700, 64 } };
	float betas[] = { 0.0f, 1.0f, 0.5f };
	uint64_t seed = 1;
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++)
				for (int b = 0; b < 3; b++)
					one(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], betas[b], seed++ * 7);
	/* and the tiles filled one at a time, also at a training step's shapes (a 12-tile row) */
	int fshapes[][3] = { { 3, 5, 7 }, { 130, 577, 96 }, { 600, 700, 64 }, { 512, 1200, 256 },
	                     { 70, 2000, 300 } };
	for (size_t s = 0; s < sizeof fshapes / sizeof *fshapes; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++)
				one_fill(ta, tb, fshapes[s][0], fshapes[s][1], fshapes[s][2], s % 2 ? 1.0f : 0.0f,
				         seed++ * 7);
	return test_main_end();
}
