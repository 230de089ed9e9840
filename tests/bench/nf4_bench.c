/* qlora-tools: ISC license. */
/*
 * NF4 quantization throughput of kernels/nf4 on a raw little-endian bf16 file of n elements:
 * bf16 -> f32, quantize_4bit (blocksize 64), double quantization: what quantize-nf4 does per
 * weight, without file I/O. Built and run by tests/bench/nf4-bench.sh.
 *   nf4_bench FILE THREADS
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/half.h"
#include "common/io.h"
#include "common/progress.h"
#include "kernels/nf4.h"

int main(int argc, char **argv)
{
	if (argc != 3)
		return 64;
	struct qt_map m;
	struct qt_err err;
	if (qt_map_file(argv[1], &m, &err) != QT_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 66;
	}
	int th = atoi(argv[2]);
	size_t n = m.size / 2, nb = nf4_n_blocks(n, 64), ng = nf4_n_blocks(nb, 256);
	float *x = malloc(n * sizeof *x), *am = malloc(nb * sizeof *am), *nabs = malloc(ng * 4);
	uint8_t *p = malloc(nf4_packed_bytes(n)), *q8 = malloc(nb);
	double best = 1e30;
	for (int r = 0; r < 3; r++) {
		double t0 = qt_now();
		qt_bf16_to_f32_row((const uint16_t *)m.data, x, n);
		nf4_quantize(x, n, 64, p, am, th);
		float off = nf4_absmax_mean(am, nb);
		nf4_double_quant(am, nb, off, nf4_dynamic_map, 256, q8, nabs);
		double t = qt_now() - t0;
		best = t < best ? t : best;
	}
	printf("%.4f\n", best);
	return 0;
}
