/* qlora-tools: ISC license. */
/*
 * Next-token selection over one row of logits, as transformers' generate() does it
 * (reference.md 8.2-8.3): repetition penalty on the raw logits, then, when sampling,
 * temperature -> top-k -> top-p -> min-p, then multinomial; greedy takes the first argmax.
 * Filtered entries become -INFINITY. s: (V) float32, modified in place.
 */
#ifndef QT_KERNELS_SAMPLE_H
#define QT_KERNELS_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

struct sample_params {
	int   do_sample;          /* 0: greedy */
	float temperature;        /* > 0; 1 = off */
	int   top_k;              /* 0 = off (transformers default 50) */
	float top_p;              /* 1 = off */
	float min_p;              /* 0 = off */
	float repetition_penalty; /* 1 = off */
};

/* For every distinct id in hist[0..n): s < 0 ? s * penalty : s / penalty. */
void sample_repetition_penalty(float *s, int V, const uint32_t *hist, size_t n, float penalty);
void sample_temperature(float *s, int V, float t);
/* Removes s < (k-th largest); ties with the k-th value survive. */
void sample_top_k(float *s, int V, int k, int min_keep);
/* Sort ascending, cumulative softmax, remove positions with cum <= 1 - p, keep the top min_keep. */
void sample_top_p(float *s, int V, float p, int min_keep);
/* Removes probs < m * max(probs), keeping the top min_keep by probability. */
void sample_min_p(float *s, int V, float m, int min_keep);
/* First index of the maximum. */
int sample_argmax(const float *s, int V);
/* Draws from softmax(s) with u uniform in [0, 1). */
int sample_multinomial(const float *s, int V, double u);
/* The whole step: processors, warpers and the draw (rng used only when sampling). */
int sample_next(float *s, int V, const uint32_t *hist, size_t n, const struct sample_params *p,
                struct qt_rng *rng);

#endif
