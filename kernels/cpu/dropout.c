/* qlora-tools: ISC license. */
/* Counter-based dropout kernels; see kernels/dropout.h. */
#include "kernels/dropout.h"

float dropout_uniform(uint64_t seed, uint64_t i)
{
	uint64_t z = seed ^ (i * 0xD1B54A32D192ED03ull);
	z += 0x9E3779B97F4A7C15ull;  /* splitmix64 finaliser */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (float)(z >> 40) * (1.0f / (1u << 24));
}

/* out, x: (n) */
void dropout_forward(float *out, const float *x, size_t n, float p, float scale, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		out[i] = dropout_uniform(seed, i) < p ? 0.0f : x[i] * scale;
}

/* dx, g: (n) */
void dropout_backward(float *dx, const float *g, size_t n, float p, float scale, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (!(dropout_uniform(seed, i) < p))
			dx[i] += g[i] * scale;
}
