/* qlora-tools: ISC license. */
/*
 * kernels/matvec.h (the engine's decoding linear layer) against the plain loops of
 * kernels/matmul.h: f32 and NF4 weights (with the bf16/f16 casts of llama_linear_dequant),
 * beta 0 and 1, odd sizes, blocks that span rows; results identical for any thread count.
 */
#include "kernels/matvec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "kernels/matmul.h"
#include "kernels/nf4.h"
#include "test.h"

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static double rel(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num = fmax(num, fabs((double)a[i] - b[i]));
		den = fmax(den, fabs((double)b[i]));
	}
	return den > 0 ? num / den : num;
}

static void one(int T, int C, int OC, int nf4, int round_to, float beta, unsigned seed)
{
	size_t n = (size_t)OC * C;
	float *W = malloc(n * 4), *x = malloc((size_t)T * C * 4), *want = malloc((size_t)T * OC * 4),
	      *got = malloc((size_t)T * OC * 4), *got3 = malloc((size_t)T * OC * 4);
	uint8_t *packed = malloc(nf4_packed_bytes(n));
	size_t bs = 64, nb = nf4_n_blocks(n, bs);
	float *absmax = malloc(nb * 4), *work = malloc(matvec_nf4_work(C, OC, 3) * 4 + 4);
	for (size_t i = 0; i < n; i++)
		W[i] = frand(&seed);
	for (int i = 0; i < T * C; i++)
		x[i] = frand(&seed);
	for (int i = 0; i < T * OC; i++)
		want[i] = got[i] = got3[i] = frand(&seed);
	if (nf4) {
		nf4_quantize(W, n, bs, packed, absmax, 1);
		nf4_dequantize(packed, absmax, nf4_code, bs, n, W);
		for (size_t i = 0; round_to && i < n; i++)
			W[i] = round_to == 1 ? qt_bf16_to_f32(qt_f32_to_bf16(W[i]))
			                     : qt_f16_to_f32(qt_f32_to_f16(W[i]));
	}
	linear_forward(want, x, W, NULL, T, C, OC, 1.0f, beta);
	if (nf4) {
		matvec_nf4_forward(got, x, packed, absmax, nf4_code, bs, round_to, T, C, OC, beta, work,
		                   1);
		matvec_nf4_forward(got3, x, packed, absmax, nf4_code, bs, round_to, T, C, OC, beta, work,
		                   3);
	} else {
		matvec_forward(got, x, W, T, C, OC, beta, 1);
		matvec_forward(got3, x, W, T, C, OC, beta, 3);
		/* bf16 rows: the weight rounded to bf16 through both paths, bit for bit */
		uint16_t *Wb = malloc(n * sizeof *Wb);
		float *Wr = malloc(n * 4), *gb = malloc((size_t)T * OC * 4), *gr = malloc((size_t)T * OC * 4);
		for (size_t i = 0; i < n; i++) {
			Wb[i] = qt_f32_to_bf16(W[i]);
			Wr[i] = qt_bf16_to_f32(Wb[i]);
		}
		memcpy(gb, want, (size_t)T * OC * 4);
		memcpy(gr, want, (size_t)T * OC * 4);
		matvec_forward(gr, x, Wr, T, C, OC, beta, 1);
		matvec_bf16_forward(gb, x, Wb, T, C, OC, beta, 3);
		CHECK(!memcmp(gb, gr, (size_t)T * OC * 4), "T=%d C=%d OC=%d: bf16 rows differ", T, C, OC);
		free(Wb), free(Wr), free(gb), free(gr);
	}
	double e = rel(got, want, (size_t)T * OC);
	CHECK(e <= 1e-5, "T=%d C=%d OC=%d nf4=%d round=%d beta=%g: rel err %.3g", T, C, OC, nf4,
	      round_to, beta, e);
	CHECK(!memcmp(got, got3, (size_t)T * OC * 4), "T=%d C=%d OC=%d nf4=%d: threads differ", T, C,
	      OC, nf4);
	free(W), free(x), free(want), free(got), free(got3), free(packed), free(absmax), free(work);
}

int main(void)
{
	static const int Ts[] = { 1, 3, 17, 32 }, Cs[] = { 5, 64, 100, 577 }, OCs[] = { 1, 33, 130 };
	unsigned seed = 1;
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			for (int c = 0; c < 3; c++)
				for (int k = 0; k < 4; k++)
					one(Ts[a], Cs[b], OCs[c], k > 0, k > 1 ? k - 1 : 0, (a + b + c) & 1 ? 1.0f : 0.0f,
					    seed++);
	return test_main_end();
}
