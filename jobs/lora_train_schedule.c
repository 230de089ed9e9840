/* qlora-tools: ISC license. */
/* Which blocks each lora-train step takes, and at which learning rate; see
 * lora_train.h. */
#include "jobs/lora_train.h"

#include <math.h>

#include "common/rng.h"

double train_lr_multiplier(enum train_schedule s, long k, long W, long T)
{
	long step = k - 1; /* LambdaLR is stepped after the optimizer (reference.md 7.3) */
	if (s == TRAIN_CONSTANT)
		return 1.0;
	if (step < W)
		return (double)step / (double)(W > 1 ? W : 1);
	if (s == TRAIN_CONSTANT_WARMUP)
		return 1.0;
	double rest = (double)(T - W > 1 ? T - W : 1);
	if (s == TRAIN_LINEAR) {
		double v = (double)(T - step) / rest;
		return v > 0 ? v : 0;
	}
	double p = (double)(step - W) / rest;
	double v = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * p));
	return v > 0 ? v : 0;
}

uint64_t train_block_index(uint64_t g, uint64_t n, int shuffle, uint64_t seed, uint64_t *perm,
                           int64_t *perm_epoch)
{
	uint64_t e = g / n, i = g % n;
	if (!shuffle)
		return i;
	if (*perm_epoch != (int64_t)e) {
		struct qt_rng r;
		qt_rng_seed(&r, seed + e);
		for (uint64_t j = 0; j < n; j++)
			perm[j] = j;
		qt_rng_shuffle(&r, perm, n, sizeof *perm);
		*perm_epoch = (int64_t)e;
	}
	return perm[i];
}
