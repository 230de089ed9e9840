/* qlora-tools: ISC license. */
/* Small-T linear layer without SGEMM packing; see kernels/matvec.h. */
#include "kernels/matvec.h"

#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/pool.h"
#include "kernels/cpu/matvec_nf4.h"
#include "kernels/nf4.h"

#define ROWS_PER_TASK 32

/* sum_c a[c] * b[c] with 16 partial sums, combined pairwise. */
static float dot_plain(const float *a, const float *b, int n)
{
	float s[16] = { 0 };
	int c = 0;
	for (; c + 16 <= n; c += 16)
		for (int k = 0; k < 16; k++)
			s[k] += a[c + k] * b[c + k];
	for (int k = 0; c < n; c++, k++)
		s[k] += a[c] * b[c];
	for (int w = 8; w > 0; w /= 2)
		for (int k = 0; k < w; k++)
			s[k] += s[k + w];
	return s[0];
}

static inline float bf16_at(const uint16_t *b, int c)
{
	uint32_t u = (uint32_t)b[c] << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* dot_plain with b as bf16 bits: the same sums of the same (exactly widened) products. */
static float dotb_plain(const float *a, const uint16_t *b, int n)
{
	float s[16] = { 0 };
	int c = 0;
	for (; c + 16 <= n; c += 16)
		for (int k = 0; k < 16; k++)
			s[k] += a[c + k] * bf16_at(b, c + k);
	for (int k = 0; c < n; c++, k++)
		s[k] += a[c] * bf16_at(b, c);
	for (int w = 8; w > 0; w /= 2)
		for (int k = 0; k < w; k++)
			s[k] += s[k + w];
	return s[0];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 8 bf16 values widened to f32: the bits shifted into the high half. */
__attribute__((target("avx2,fma"))) static inline __m256 load_bf16(const uint16_t *p)
{
	__m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* dot_avx2 with b as bf16 bits, loading half the bytes: results identical to dot_avx2 on the
 * widened row (same lanes, same FMA order, same tail). */
__attribute__((target("avx2,fma"))) static float dotb_avx2(const float *a, const uint16_t *b,
                                                           int n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	int c = 0;
	for (; c + 16 <= n; c += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + c), load_bf16(b + c), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + c + 8), load_bf16(b + c + 8), s1);
	}
	float t[16];
	_mm256_storeu_ps(t, s0);
	_mm256_storeu_ps(t + 8, s1);
	for (int k = 0; c < n; c++, k++)
		t[k] += a[c] * bf16_at(b, c);
	for (int w = 8; w > 0; w /= 2)
		for (int k = 0; k < w; k++)
			t[k] += t[k + w];
	return t[0];
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, int n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	int c = 0;
	for (; c + 16 <= n; c += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(b + c), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + c + 8), _mm256_loadu_ps(b + c + 8), s1);
	}
	float t[16];
	_mm256_storeu_ps(t, s0);
	_mm256_storeu_ps(t + 8, s1);
	for (int k = 0; c < n; c++, k++)
		t[k] += a[c] * b[c];
	for (int w = 8; w > 0; w /= 2)
		for (int k = 0; k < w; k++)
			t[k] += t[k + w];
	return t[0];
}

static int have_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static float (*pick_dot(void))(const float *, const float *, int)
{
	return have_avx2() ? dot_avx2 : dot_plain;
}

static float (*pick_dotb(void))(const float *, const uint16_t *, int)
{
	return have_avx2() ? dotb_avx2 : dotb_plain;
}
#else
static float (*pick_dot(void))(const float *, const float *, int)
{
	return dot_plain;
}

static float (*pick_dotb(void))(const float *, const uint16_t *, int)
{
	return dotb_plain;
}
#endif

struct job {
	float         *out;
	const float   *x, *W;
	const uint16_t *Wb;      /* bf16 form of W, or NULL */
	const uint8_t *packed;
	const float   *absmax, *code;
	size_t         blocksize;
	int            round_to, T, C, OC;
	float          beta;
	float        (*dot)(const float *, const float *, int);
	float        (*dotb)(const float *, const uint16_t *, int);
	float         *rowbuf;   /* NF4: one row of C floats per worker (the caller's work) */
	matvec_nf4_rows_fn nf4rows;      /* NF4 dequantized in registers, or NULL */
	matvec_nf4_dequant_fn nf4deq;    /* NF4 rows to f32 with SIMD, or NULL */
	struct matvec_nf4_args nf4args;  /* their arguments */
};

/* Rows [r0, r1) of the NF4 weight of j, with the cast, into out. */
static void dequant_rows(const struct job *j, size_t r0, size_t r1, float *out)
{
	size_t n = (r1 - r0) * (size_t)j->C;
	nf4_dequantize_rows(j->packed, j->absmax, j->code, j->blocksize, (size_t)j->C, r0, r1, out);
	if (j->round_to == 1)
		for (size_t i = 0; i < n; i++)
			out[i] = qt_bf16_to_f32(qt_f32_to_bf16(out[i]));
	else if (j->round_to == 2)
		for (size_t i = 0; i < n; i++)
			out[i] = qt_f16_to_f32(qt_f32_to_f16(out[i]));
}

static void rows(void *ctx, size_t task, int worker)
{
	const struct job *j = ctx;
	int o0 = (int)task * ROWS_PER_TASK, o1 = o0 + ROWS_PER_TASK;
	if (o1 > j->OC)
		o1 = j->OC;
	if (j->nf4rows) {
		j->nf4rows(&j->nf4args, o0, o1);
		return;
	}
	float *wrow = j->rowbuf ? j->rowbuf + (size_t)worker * j->C : NULL;
	for (int o = o0; o < o1; o++) {
		if (j->Wb) {
			const uint16_t *wb = j->Wb + (size_t)o * j->C;
			for (int t = 0; t < j->T; t++) {
				float v = j->dotb(j->x + (size_t)t * j->C, wb, j->C);
				float *dst = j->out + (size_t)t * j->OC + o;
				*dst = j->beta != 0.0f ? *dst + v : v;
			}
			continue;
		}
		const float *w = j->W ? j->W + (size_t)o * j->C : wrow;
		if (!j->W)
			dequant_rows(j, (size_t)o, (size_t)o + 1, wrow);
		for (int t = 0; t < j->T; t++) {
			float v = j->dot(j->x + (size_t)t * j->C, w, j->C);
			float *dst = j->out + (size_t)t * j->OC + o;
			*dst = j->beta != 0.0f ? *dst + v : v;
		}
	}
}

/* Threads actually used for OC outputs. */
static int threads_for(int OC, int n_threads)
{
	size_t tasks = ((size_t)OC + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
	if (n_threads <= 0)
		n_threads = qt_pool_default_threads();
	if ((size_t)n_threads > tasks)
		n_threads = (int)tasks;
	return n_threads > 0 ? n_threads : 1;
}

size_t matvec_nf4_work(int C, int OC, int n_threads)
{
	return (size_t)threads_for(OC, n_threads) * (size_t)C;
}

static void run(struct job *j, int n_threads)
{
	j->dot = pick_dot();
	j->dotb = pick_dotb();
	size_t tasks = ((size_t)j->OC + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
	n_threads = threads_for(j->OC, n_threads);
	if (n_threads == 1)
		for (size_t i = 0; i < tasks; i++)
			rows(j, i, 0);
	else
		qt_pool_for(n_threads, tasks, rows, j); /* runs on this thread if threads fail */
}

void matvec_forward(float *out, const float *x, const float *W, int T, int C, int OC,
                    float beta, int n_threads)
{
	struct job j = { .out = out, .x = x, .W = W, .T = T, .C = C, .OC = OC, .beta = beta };
	run(&j, n_threads);
}

void matvec_bf16_forward(float *out, const float *x, const uint16_t *Wb, int T, int C, int OC,
                         float beta, int n_threads)
{
	struct job j = { .out = out, .x = x, .Wb = Wb, .T = T, .C = C, .OC = OC, .beta = beta };
	run(&j, n_threads);
}

void matvec_nf4_forward(float *out, const float *x, const uint8_t *packed, const float *absmax,
                        const float *code, size_t blocksize, int round_to, int T, int C, int OC,
                        float beta, float *work, int n_threads)
{
	struct job j = { .out = out, .x = x, .packed = packed, .absmax = absmax, .code = code,
	                 .blocksize = blocksize, .round_to = round_to, .T = T, .C = C, .OC = OC,
	                 .beta = beta, .rowbuf = work };
	int inter;
	float *xi = NULL;
	j.nf4rows = matvec_nf4_rows_pick(T, C, blocksize, round_to, &inter);
	if (j.nf4rows && inter != MATVEC_NF4_ORDER_NONE) {
		xi = malloc((size_t)T * C * MATVEC_NF4_ORDER_WIDTH(inter) * sizeof *xi);
		if (xi)
			matvec_nf4_interleave(x, T, C, xi, inter);
		else
			j.nf4rows = NULL; /* out of memory: the reference needs none */
	}
	j.nf4args = (struct matvec_nf4_args){ .out = out, .x = xi ? xi : x, .packed = packed,
	                                      .absmax = absmax, .code = code,
	                                      .blocksize = blocksize, .round_to = round_to, .T = T,
	                                      .C = C, .OC = OC, .beta = beta };
	run(&j, n_threads);
	free(xi);
}

/* Rows [r0, r1) into out: the SIMD twin of dequant_rows when there is one. */
static void dequant_any(const struct job *j, size_t r0, size_t r1, float *out)
{
	if (j->nf4deq)
		j->nf4deq(&j->nf4args, r0, r1, out);
	else
		dequant_rows(j, r0, r1, out);
}

static void dequant_task(void *ctx, size_t task, int worker)
{
	const struct job *j = ctx;
	size_t r0 = task * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK;
	(void)worker;
	if (r1 > (size_t)j->OC)
		r1 = (size_t)j->OC;
	dequant_any(j, r0, r1, j->out + r0 * (size_t)j->C);
}

void matvec_nf4_dequant(float *out, const uint8_t *packed, const float *absmax,
                        const float *code, size_t blocksize, int round_to, int C, int OC,
                        int n_threads)
{
	struct job j = { .out = out, .packed = packed, .absmax = absmax, .code = code,
	                 .blocksize = blocksize, .round_to = round_to, .C = C, .OC = OC };
	j.nf4deq = matvec_nf4_dequant_pick(C, blocksize);
	j.nf4args = (struct matvec_nf4_args){ .packed = packed, .absmax = absmax, .code = code,
	                                      .blocksize = blocksize, .round_to = round_to, .C = C,
	                                      .OC = OC };
	size_t tasks = ((size_t)OC + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
	n_threads = threads_for(OC, n_threads);
	if (n_threads == 1)
		dequant_any(&j, 0, (size_t)OC, out);
	else
		qt_pool_for(n_threads, tasks, dequant_task, &j);
}

/* Elements [e0, e1) of the flattened weight with the cast, into out: the SIMD dequantizer f
 * (called with C 1, so that its rows are elements) when the range is in whole groups of 16. */
static void dequant_elems(matvec_nf4_dequant_fn f, const struct matvec_nf4_args *a, size_t e0,
                          size_t e1, float *out)
{
	if (f && e0 % 16 == 0 && e1 % 16 == 0) {
		f(a, e0, e1, out);
		return;
	}
	nf4_dequantize_range(a->packed, a->absmax, a->code, a->blocksize, e0, e1, out);
	if (a->round_to == 1)
		for (size_t i = 0; i < e1 - e0; i++)
			out[i] = qt_bf16_to_f32(qt_f32_to_bf16(out[i]));
	else if (a->round_to == 2)
		for (size_t i = 0; i < e1 - e0; i++)
			out[i] = qt_f16_to_f32(qt_f32_to_f16(out[i]));
}

void matvec_nf4_dequant_block(float *out, const uint8_t *packed, const float *absmax,
                              const float *code, size_t blocksize, int round_to, int C, int r0,
                              int r1, int c0, int c1)
{
	matvec_nf4_dequant_fn f = matvec_nf4_dequant_pick(C, blocksize);
	struct matvec_nf4_args a = { .packed = packed, .absmax = absmax, .code = code,
	                             .blocksize = blocksize, .round_to = round_to, .C = 1 };
	size_t w = (size_t)(c1 - c0);
	if (c0 == 0 && c1 == C) {
		dequant_elems(f, &a, (size_t)r0 * C, (size_t)r1 * C, out);
		return;
	}
	for (int r = r0; r < r1; r++, out += w)
		dequant_elems(f, &a, (size_t)r * C + c0, (size_t)r * C + c1, out);
}
