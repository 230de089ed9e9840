/* qlora-tools: ISC license. */
/* Host helpers of the dropout kernels; see dropout.h. */
#include "kernels/dropout.h"

static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t dropout_seed(uint64_t run_seed, uint64_t step, uint64_t block, int layer, int module)
{
	uint64_t z = mix64(run_seed ^ 0x4C6F526144726F70ull); /* "LoRaDrop" */
	z = mix64(z ^ step);
	z = mix64(z ^ block);
	z = mix64(z ^ ((uint64_t)(uint32_t)layer << 8 | (uint64_t)(uint32_t)module));
	return z;
}

float dropout_scale(double p)
{
	return (float)(1.0 / (1.0 - p));
}
