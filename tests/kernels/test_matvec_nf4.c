/* qlora-tools: ISC license. */
/*
 * matvec_nf4_forward's SIMD paths (kernels/cpu/matvec_nf4.c: NF4 dequantized in registers)
 * against its reference path (each row dequantized, cast, then dotted), bit for bit: every
 * path the CPU has, rows of x 1..9 (the groups of 4 and their remainders), casts none/bf16/f16,
 * blocks shorter than, equal to and longer than a row, blocks with a non-finite, subnormal,
 * zero or negative maximum, beta
 * 0 and 1, 1 and 3 threads; and matvec_nf4_dequant (the whole weight as f32) on each path
 * against its reference. Paths the CPU lacks are reported as skipped. Also that the CPU
 * extensions the VBMI and VNNI rows are chosen by are those CPUID reports.
 * (test_llama_matvec checks the reference against the plain matmul loops.)
 */
#include "kernels/matvec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/matvec_nf4.h"
#include "kernels/nf4.h"
#include "test.h"

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static const char *const path_name[] = { "ref", "avx2", "avx512" };

static void one(int T, int C, int OC, size_t bs, int round_to, float beta, int bad_block,
                unsigned seed)
{
	size_t n = (size_t)OC * C, nb = nf4_n_blocks(n, bs), no = (size_t)T * OC;
	float *W = malloc(n * 4), *x = malloc((size_t)T * C * 4), *init = malloc(no * 4),
	      *want = malloc(no * 4), *got = malloc(no * 4), *absmax = malloc(nb * 4),
	      *work = malloc(matvec_nf4_work(C, OC, 3) * 4);
	uint8_t *packed = malloc(nf4_packed_bytes(n));
	for (size_t i = 0; i < n; i++)
		W[i] = frand(&seed) * (1.0f + (float)(i % 7)); /* varied block maxima */
	for (int i = 0; i < T * C; i++)
		x[i] = frand(&seed);
	for (size_t i = 0; i < no; i++)
		init[i] = frand(&seed);
	nf4_quantize(W, n, bs, packed, absmax, 1);
	if (bad_block) { /* a file may hold anything: the non-finite maxima go the scalar way */
		absmax[nb / 2] = NAN;
		absmax[nb - 1] = INFINITY;
		/* maxima whose products are subnormal, zero or negative: the VBMI rows round those
		 * in integer arithmetic, VCVTNE2PS2BF16 only the rest */
		for (size_t b = 0; b < (size_t)C / bs && b < nb; b++) /* row 0 on its own scale */
			absmax[b] = b % 2 ? 1e-39f * (float)(b + 1) : 0x1p-101f;
		if (nb > 3)
			absmax[nb - 2] = 0.0f, absmax[nb - 3] = -3.0f;
	}
	matvec_nf4_path_limit(MATVEC_NF4_REF);
	memcpy(want, init, no * 4);
	matvec_nf4_forward(want, x, packed, absmax, nf4_code, bs, round_to, T, C, OC, beta, work, 1);
	for (int p = MATVEC_NF4_AVX2; p <= MATVEC_NF4_AVX512; p++) {
		if ((int)matvec_nf4_path_best() < p) {
			SKIP("%s: not on this CPU", path_name[p]);
			continue;
		}
		matvec_nf4_path_limit((enum matvec_nf4_path)p);
		for (int th = 1; th <= 3; th += 2) {
			memcpy(got, init, no * 4);
			matvec_nf4_forward(got, x, packed, absmax, nf4_code, bs, round_to, T, C, OC, beta,
			                   work, th);
			size_t bad = no;
			for (size_t i = 0; i < no && bad == no; i++)
				if (memcmp(&got[i], &want[i], 4))
					bad = i;
			CHECK(bad == no,
			      "%s T=%d C=%d OC=%d bs=%zu round=%d beta=%g bad=%d threads=%d: out[%zu] %a, "
			      "ref %a", path_name[p], T, C, OC, bs, round_to, beta, bad_block, th, bad,
			      bad < no ? got[bad] : 0.0f, bad < no ? want[bad] : 0.0f);
		}
	}
	/* the whole-weight dequantization (prefill and training) the same way */
	float *dref = malloc(n * 4), *dgot = malloc(n * 4);
	matvec_nf4_path_limit(MATVEC_NF4_REF);
	matvec_nf4_dequant(dref, packed, absmax, nf4_code, bs, round_to, C, OC, 1);
	for (int p = MATVEC_NF4_AVX2; p <= (int)matvec_nf4_path_best(); p++) {
		matvec_nf4_path_limit((enum matvec_nf4_path)p);
		for (int th = 1; th <= 3; th += 2) {
			memset(dgot, 0xFF, n * 4);
			matvec_nf4_dequant(dgot, packed, absmax, nf4_code, bs, round_to, C, OC, th);
			CHECK(!memcmp(dgot, dref, n * 4), "%s dequant C=%d OC=%d bs=%zu round=%d threads=%d "
			      "differs", path_name[p], C, OC, bs, round_to, th);
		}
	}
	free(dref), free(dgot);
	matvec_nf4_path_limit(MATVEC_NF4_AVX512);
	free(W), free(x), free(init), free(want), free(got), free(absmax), free(work), free(packed);
}

/* The extensions the VBMI and VNNI rows need, as CPUID reports them (a slip here would only
 * make them never run, which the comparisons above cannot see). */
static void cpu_caps(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	int f = __builtin_cpu_supports("avx512f"), vl = __builtin_cpu_supports("avx512vl");
	int vbmi = f && vl && __builtin_cpu_supports("avx512bw") &&
	           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vbmi") &&
	           __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("gfni");
	int vnni = f && vl && __builtin_cpu_supports("avx512vnni");
	CHECK(matvec_nf4_cpu_has(MATVEC_NF4_CAP_VBMI) == vbmi, "VBMI rows: has %d, CPUID %d",
	      matvec_nf4_cpu_has(MATVEC_NF4_CAP_VBMI), vbmi);
	CHECK(matvec_nf4_cpu_has(MATVEC_NF4_CAP_VNNI) == vnni, "VNNI rows: has %d, CPUID %d",
	      matvec_nf4_cpu_has(MATVEC_NF4_CAP_VNNI), vnni);
#endif
}

int main(void)
{
	cpu_caps();
	static const int Ts[] = { 1, 2, 3, 4, 5, 9 }, Cs[] = { 16, 48, 64, 320 };
	static const size_t bss[] = { 32, 64, 256 };
	unsigned seed = 7;
	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 4; b++)
			for (int s = 0; s < 3; s++)
				for (int r = 0; r < 3; r++)
					one(Ts[a], Cs[b], 37, bss[s], r, (a + b + s + r) & 1 ? 1.0f : 0.0f,
					    (a + s) % 3 == 0, seed++);
	one(2, 4096, 64, 64, 1, 0.0f, 0, seed++); /* 7B rows */
	one(1, 4096, 67, 64, 1, 1.0f, 0, seed++);
	one(1, 320, 37, 64, 1, 0.0f, 1, seed++); /* the AVX2 bf16 rows of blocks of 64, bad maxima */
	/* the VBMI rows (T == 1, bf16): quads, a pair and a single row in a band of 32, blocks of
	 * 32, 64 and 128, bad maxima */
	one(1, 4096, 39, 64, 1, 0.0f, 1, seed++);
	one(1, 256, 39, 32, 1, 1.0f, 1, seed++);
	one(1, 512, 39, 128, 1, 0.0f, 1, seed++);
	return test_main_end();
}
