/* qlora-tools: ISC license. */
/* Embedding gather and counter-based NEFTune noise. */
#include "kernels/embedding.h"

#include <string.h>

#include "common/half.h"

/* out: (T, C); ids: (T); table: (V, C) */
void embedding_forward(float *out, const int32_t *ids, const float *table, int T, int C, int V)
{
	for (int t = 0; t < T; t++) {
		float *o = out + (size_t)t * C;
		if (ids[t] < 0 || ids[t] >= V)
			memset(o, 0, sizeof(float) * C);
		else
			memcpy(o, table + (size_t)ids[t] * C, sizeof(float) * C);
	}
}

/* out: (T, C); ids: (T); table: (V, C) bf16 bits */
void embedding_forward_bf16(float *out, const int32_t *ids, const uint16_t *table, int T, int C,
                            int V)
{
	for (int t = 0; t < T; t++) {
		float *o = out + (size_t)t * C;
		const uint16_t *r = table + (size_t)(ids[t] < 0 || ids[t] >= V ? 0 : ids[t]) * C;
		for (int c = 0; c < C; c++)
			o[c] = ids[t] < 0 || ids[t] >= V ? 0.0f : qt_bf16_to_f32(r[c]);
	}
}

float neftune_uniform(uint64_t seed, uint64_t i)
{
	uint64_t z = seed ^ (i * 0x9E3779B97F4A7C15ull);
	z += 0x9E3779B97F4A7C15ull;  /* splitmix64 finaliser */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	/* 24 random bits -> exact float in [-1, 1) */
	return (float)(int32_t)((z >> 40) - (1u << 23)) * (1.0f / (1u << 23));
}

/* x: (n) */
void embedding_scale(float *x, size_t n, float s)
{
	for (size_t i = 0; i < n; i++)
		x[i] *= s;
}

/* x: (n) */
void neftune_forward(float *x, size_t n, float mag, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		x[i] += mag * neftune_uniform(seed, i);
}
